"""Mixed precision and torch.compile settings of training (``train.amp``, ``train.compile``): what each value
resolves to on each device, and the refusals a user sees. CUDA is simulated where only the decision is tested."""
from __future__ import annotations

import pytest
import torch

from asen.config import ConfigError, load_config
from asen.model import build_model
from asen.train import CompileUnavailable, compile_backbones, resolve_amp


def _capability(major: int, minor: int):
    return lambda device=None: (major, minor)


@pytest.mark.parametrize("amp", ["none", "bf16", "fp16", "auto"])
def test_amp_is_off_on_a_cpu(amp: str) -> None:
    assert resolve_amp(amp, "cpu") == "none"


@pytest.mark.parametrize("capability, expected", [((7, 5), "fp16"), ((8, 0), "bf16"), ((9, 0), "bf16")])
def test_auto_amp_picks_bf16_only_where_the_gpu_has_it(monkeypatch, capability, expected) -> None:
    # a T4 (7.5) has no bf16 tensor cores: fp16 with loss scaling; A100 (8.0) and H100/H200 (9.0): bf16
    monkeypatch.setattr(torch.cuda, "get_device_capability", _capability(*capability))
    assert resolve_amp("auto", "cuda") == expected


@pytest.mark.parametrize("amp", ["none", "bf16", "fp16"])
def test_explicit_amp_is_kept_on_cuda(monkeypatch, amp: str) -> None:
    monkeypatch.setattr(torch.cuda, "get_device_capability", _capability(7, 5))
    assert resolve_amp(amp, torch.device("cuda", 0)) == amp


def test_unknown_amp_names_the_value() -> None:
    with pytest.raises(ConfigError, match=r"train\.amp must be none, bf16, fp16 or auto, got 'fp8'"):
        resolve_amp("fp8", "cpu")


def _tiny_model(compile_: bool):
    cfg = load_config(["synthfashion_cpu", "synthfashion_cpu_s2"],
                      {"model.tiny_width": 8, "train.compile": compile_})
    return cfg, build_model(cfg.model, 2)


def test_compile_off_leaves_the_model_alone() -> None:
    cfg, model = _tiny_model(False)
    compile_backbones(model, cfg, torch.device("cpu"))
    assert model.global_branch.backbone._compiled_call_impl is None
    assert model.local_branch.backbone._compiled_call_impl is None


def test_compile_is_refused_on_a_cpu_with_the_setting_to_change() -> None:
    cfg, model = _tiny_model(True)
    with pytest.raises(CompileUnavailable, match=r"train\.compile=true is for CUDA only.*set train\.compile=false"):
        compile_backbones(model, cfg, torch.device("cpu"))
    assert model.global_branch.backbone._compiled_call_impl is None  # nothing half-done


def test_compile_on_cuda_compiles_both_backbones_in_place(monkeypatch) -> None:
    # nn.Module.compile is lazy (nothing compiles before the first forward), so the decision and the in-place
    # wrapping are testable without a GPU; the state dict keeps its keys, so checkpoints do not change
    cfg, model = _tiny_model(True)
    keys = list(model.state_dict())
    calls = []
    real = torch.nn.Module.compile
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, *a, **k: (calls.append(self), real(self))[1])
    compile_backbones(model, cfg, torch.device("cuda"))
    assert calls == [model.global_branch.backbone, model.local_branch.backbone]  # each once
    assert model.global_branch.backbone._compiled_call_impl is not None
    assert model.local_branch.backbone._compiled_call_impl is not None
    assert list(model.state_dict()) == keys
