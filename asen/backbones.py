"""CNN backbones cut after ``layer3`` (ASEN++ Sec. III-A: "the output of the last-but-one residual stage").

* ``resnet18`` / ``resnet34`` / ``resnet50``: torchvision ResNets without ``layer4``, pooling and ``fc``;
  ResNet-50 gives 1024 x 14 x 14 at 224 px, ResNet-34 256 x 7 x 7 at 112 px (the paper's two branches).
* ``resnet_tiny``: a small from-scratch ResNet for CPU budgets (not in the paper): a 3x3 stride-2 stem with
  max pooling and three residual stages of ``model.tiny_blocks`` BasicBlocks each (widths w, 2w, 4w; strides
  1, 2, 1), overall
  stride 8 (a 12 x 12 attention map at 96 px).

ImageNet weights come from torchvision (its hub cache, or a download) or from a local file; when they
cannot be had offline the error says where to put the file, and random initialisation happens only when
asked for (``pretrained="none"``).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchvision import models
from torchvision.models.resnet import BasicBlock

from .errors import UserError

_TORCHVISION = {
    "resnet18": (models.resnet18, models.ResNet18_Weights.IMAGENET1K_V1, 256),
    "resnet34": (models.resnet34, models.ResNet34_Weights.IMAGENET1K_V1, 256),
    "resnet50": (models.resnet50, models.ResNet50_Weights.IMAGENET1K_V1, 1024),
}
BACKBONES = (*_TORCHVISION, "resnet_tiny")


class PretrainedWeightsError(UserError, RuntimeError):
    """ImageNet weights were asked for but cannot be loaded."""


class TruncatedResNet(nn.Module):
    """A ResNet up to ``layer3``; attribute names match torchvision (and the authors' checkpoints)."""

    def __init__(self, net: nn.Module, out_channels: int) -> None:
        super().__init__()
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3 = net.layer1, net.layer2, net.layer3
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (B, 64, H/4, W/4)
        return self.layer3(self.layer2(self.layer1(x)))  # (B, C, H/16, W/16)


class TinyResNet(nn.Module):
    """A from-scratch CPU backbone: stem (stride 4) + 3 stages of ``blocks`` BasicBlocks (strides 1, 2, 1)."""

    def __init__(self, width: int = 32, blocks: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        if blocks < 1:
            raise ValueError(f"model.tiny_blocks must be >= 1, got {blocks}")
        self.layer1 = self._stage(width, width, 1, blocks)
        self.layer2 = self._stage(width, 2 * width, 2, blocks)
        self.layer3 = self._stage(2 * width, 4 * width, 1, blocks)
        self.out_channels = 4 * width

    @staticmethod
    def _stage(cin: int, cout: int, stride: int, blocks: int = 1) -> nn.Module:
        down = None
        if stride != 1 or cin != cout:
            down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
        layers = [BasicBlock(cin, cout, stride=stride, downsample=down)]
        layers += [BasicBlock(cout, cout) for _ in range(blocks - 1)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (B, w, H/4, W/4)
        return self.layer3(self.layer2(self.layer1(x)))  # (B, 4w, H/8, W/8)


def _imagenet_state(name: str) -> dict:
    """The torchvision ImageNet state dict, from the hub cache or a download, with a clear offline error."""
    weights = _TORCHVISION[name][1]
    cache = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if cache.exists():
        return torch.load(cache, map_location="cpu", weights_only=True)
    try:
        return weights.get_state_dict(progress=True)
    except Exception as exc:  # network errors come in many types
        raise PretrainedWeightsError(
            f"cannot load ImageNet weights for {name}: {exc}.\n"
            f"Offline? Download {weights.url} elsewhere and put it at {cache}, or pass its path "
            f"(model.pretrained=/path/to/{cache.name}); use model.pretrained=none for random initialisation."
        ) from exc


def imagenet_weights_available(names: tuple[str, ...] | list[str], timeout_s: float = 30.0) -> tuple[bool, str]:
    """Whether torchvision's ImageNet weights of every backbone in ``names`` can be loaded: from the hub cache,
    else by downloading them into it (given up after ``timeout_s`` a file; the download writes a temporary
    file and renames it, so an abandoned one leaves nothing behind).

    Returns:
        ``(True, "")``, or ``(False, reason)`` naming the first file that cannot be had and why.
    """
    import threading

    for name in dict.fromkeys(names):
        if name not in _TORCHVISION:
            return False, f"{name} has no ImageNet weights"
        weights = _TORCHVISION[name][1]
        cache = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
        if cache.exists():
            continue
        failure: list[str] = []

        def fetch() -> None:
            try:
                torch.hub.download_url_to_file(weights.url, str(cache), progress=False)
            except Exception as exc:  # noqa: BLE001 - network errors come in many types
                failure.append(str(exc)[:120])

        cache.parent.mkdir(parents=True, exist_ok=True)
        thread = threading.Thread(target=fetch, daemon=True, name="asen-imagenet-download")
        thread.start()
        thread.join(timeout_s)
        if thread.is_alive() or failure or not cache.exists():
            why = failure[0] if failure else f"no download within {timeout_s:.0f} s"
            return False, f"{name}: {cache} is missing and {weights.url} cannot be downloaded ({why})"
    return True, ""


def _load_state(path: str | Path) -> dict:
    """A state dict from a file (a bare one, or one under a ``state_dict`` key), with an error naming the file.

    Read as ``--checkpoint`` is (:func:`asen.checkpoint.read_checkpoint`: safe loading, one-line errors), so that
    a truncated file or another kind of file (a YAML file given by mistake) says so instead of a torch traceback.

    Raises:
        PretrainedWeightsError: no such file. CheckpointError: a folder, an empty, truncated or non-PyTorch file.
    """
    from .checkpoint import read_checkpoint  # asen.checkpoint builds the model, which builds on this module

    path = Path(path)
    if not path.exists():
        raise PretrainedWeightsError(f"pretrained weights file not found: {path}")
    state = read_checkpoint(path, "a backbone state dict (model.pretrained / model.local_pretrained), e.g. "
                                  "checkpoints/best.pt of a stage-0 run")
    return state.get("state_dict", state)


def build_backbone(name: str, pretrained: str = "imagenet", tiny_width: int = 32, tiny_blocks: int = 1) -> nn.Module:
    """Build a backbone cut after layer3.

    Args:
        name: one of :data:`BACKBONES`.
        pretrained: ``"imagenet"``, ``"none"`` (random init), or a path to a torchvision-style state dict.
        tiny_width: first-stage width of ``resnet_tiny``.
        tiny_blocks: residual blocks per stage of ``resnet_tiny``.
    Returns:
        A module mapping (B, 3, H, W) images to (B, C, h, w) features, with ``out_channels`` = C.
    """
    if name == "resnet_tiny":
        net = TinyResNet(tiny_width, tiny_blocks)
        if pretrained == "imagenet":
            raise PretrainedWeightsError(
                "resnet_tiny has no ImageNet weights; set model.pretrained to none, or to a resnet_tiny state dict "
                "(e.g. checkpoints/best.pt of a stage-0 run: asen train -c synthfashion_cpu -c synthfashion_cpu_pretrain)"
            )
        if pretrained not in ("none", ""):
            state = _load_state(pretrained)
            try:
                net.load_state_dict(state)
            except RuntimeError as exc:
                raise PretrainedWeightsError(
                    f"{pretrained}: not a resnet_tiny state dict of width {tiny_width} with {tiny_blocks} block(s) "
                    f"a stage: {str(exc).splitlines()[0]} ..."
                ) from exc
        return net
    if name not in _TORCHVISION:
        raise ValueError(f"unknown backbone '{name}' (expected one of {', '.join(BACKBONES)})")
    factory, _, channels = _TORCHVISION[name]
    net = factory(weights=None)
    if pretrained == "imagenet":
        net.load_state_dict(_imagenet_state(name))
    elif pretrained not in ("none", ""):
        path = Path(pretrained)
        state = _load_state(path)
        try:
            missing, unexpected = net.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # weights of other shapes, e.g. resnet18's for a resnet50
            detail = [line.strip() for line in str(exc).splitlines() if line.strip()][-1]
            raise PretrainedWeightsError(f"{path}: not a {name} state dict ({detail} ...); give model.pretrained "
                                         f"(model.local_pretrained for the local branch) {name} weights") from exc
        missing = [k for k in missing if not k.startswith(("layer4", "fc"))]
        if missing:
            raise PretrainedWeightsError(f"{path}: not a {name} state dict (missing {missing[:5]} ...)")
    return TruncatedResNet(net, channels)
