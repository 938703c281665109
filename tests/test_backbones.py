"""CNN backbones cut after layer3 (asen/backbones.py): torchvision ResNets, resnet_tiny, and where their weights
come from (ImageNet files, a resnet_tiny state dict) with the errors a user sees."""
import pytest
import torch

from asen.backbones import PretrainedWeightsError, build_backbone


@pytest.mark.parametrize("name,channels", [("resnet18", 256), ("resnet34", 256), ("resnet50", 1024)])
def test_torchvision_backbones_cut_after_layer3(name, channels):
    net = build_backbone(name, "none").eval()
    with torch.no_grad():
        out = net(torch.randn(1, 3, 112, 112))
    assert out.shape == (1, channels, 7, 7) and net.out_channels == channels
    assert not hasattr(net, "layer4") and not hasattr(net, "fc")


def test_imagenet_weights_offline_message(monkeypatch, tmp_path):
    import torchvision

    monkeypatch.setattr("torch.hub.get_dir", lambda: str(tmp_path))

    def offline(self, *a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(torchvision.models.WeightsEnum, "get_state_dict", offline)
    with pytest.raises(PretrainedWeightsError, match=r"(?s)resnet18.*resnet18-.*\.pth.*pretrained=none"):
        build_backbone("resnet18", "imagenet")


def test_imagenet_weights_from_local_file(tmp_path):
    import torchvision

    ref = torchvision.models.resnet18(weights=None)
    path = tmp_path / "r18.pth"
    torch.save(ref.state_dict(), path)
    net = build_backbone("resnet18", str(path))
    torch.testing.assert_close(net.conv1.weight, ref.conv1.weight)
    with pytest.raises(PretrainedWeightsError, match="not found"):
        build_backbone("resnet18", str(tmp_path / "missing.pth"))
    # another ResNet's weights (resnet18's for a resnet50): one line, not load_state_dict's RuntimeError
    with pytest.raises(PretrainedWeightsError,
                       match=rf"^{path}: not a resnet50 state dict \(size mismatch for .*give model\.pretrained"):
        build_backbone("resnet50", str(path))


def test_resnet_tiny_loads_its_own_state_dict_and_names_a_mismatch(tmp_path):
    from asen.backbones import TinyResNet

    torch.manual_seed(0)
    ref = TinyResNet(8, 1)
    path = tmp_path / "tiny.pt"
    torch.save({"state_dict": ref.state_dict()}, path)
    net = build_backbone("resnet_tiny", str(path), tiny_width=8)
    torch.testing.assert_close(net.layer3[0].conv2.weight, ref.layer3[0].conv2.weight)
    with pytest.raises(PretrainedWeightsError, match=r"tiny\.pt: not a resnet_tiny state dict of width 16"):
        build_backbone("resnet_tiny", str(path), tiny_width=16)
    with pytest.raises(PretrainedWeightsError, match="no ImageNet weights"):
        build_backbone("resnet_tiny", "imagenet")
