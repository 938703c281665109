"""The profiles of `asen reproduce` (YAML files in asen/configs/profiles): loading, validation, and the run configs
they resolve to, which must stay those of the Python profiles they replaced (run folders are keyed by the hash)."""
import json
from pathlib import Path

import pytest
import torch

from asen.cli import main
from asen.config import CONFIG_DIR, ConfigError
from asen.reproduce import (PROFILE_DIR, PROFILES, Protocol, default_data_root, load_profile, load_profiles,
                            plan_configs)

BASELINE = json.loads((Path(__file__).parent / "data" / "reproduce_plan_hashes.json").read_text())
VARIANTS = {"smoke": {}, "smoke+no_pretrain": {"pretrain_configs": ()}, "cpu": {},
            "cpu+no_pretrain": {"pretrain_configs": ()}, "gpu+imagenet": {"imagenet": True},
            "gpu+no_imagenet": {"imagenet": False},
            "gpu+no_pretrain": {"imagenet": False, "pretrain_configs": ()}}


def _protocol(variant: str) -> Protocol:
    profile = variant.split("+")[0]
    return Protocol(data_root=default_data_root(profile), runs_root=Path("runs/synthfashion"),
                    device=torch.device("cpu"), profile=profile, **VARIANTS[variant])


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_planned_run_keeps_its_config_hash(variant):
    """The runs `asen reproduce --plan --ablations` lists for each profile, with the command's defaults: the same
    names and config hashes as before the profiles became YAML files (tests/data/reproduce_plan_hashes.json)."""
    p = _protocol(variant)
    runs = [[c.name, c.hash()] for c in plan_configs(p, PROFILES[p.profile]["seeds"], main=True, ablations=True)]
    assert runs == BASELINE[variant]


@pytest.mark.slow  # the plan counts every run's FLOPs: 25-30 s a profile
@pytest.mark.parametrize("profile", ["smoke", "cpu", "gpu"])
def test_the_plan_command_lists_the_same_runs(profile, tmp_path, monkeypatch, capsys):
    import asen.backbones
    import asen.reproduce as reproduce

    monkeypatch.chdir(tmp_path)  # the default data and runs folders, empty
    monkeypatch.setattr(asen.backbones, "imagenet_weights_available", lambda names: (True, ""))
    monkeypatch.setattr(reproduce, "device_rate", lambda protocol, seeds: 1e12)  # no timed training step
    assert main(["reproduce", "--profile", profile, "--plan", "--ablations", "--device", "cpu"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()
             if line.endswith("to train") and not line.startswith(("run ", "-"))]
    expected = BASELINE[profile + ("+imagenet" if profile == "gpu" else "")]
    assert names == [name for name, _ in expected]
    assert not (tmp_path / "runs").exists() and not (tmp_path / "data").exists()


def test_the_shipped_profiles():
    assert list(PROFILES) == ["cpu", "gpu", "smoke"]
    assert sorted(p.stem for p in PROFILE_DIR.glob("*.yaml")) == list(PROFILES)
    assert PROFILES["smoke"]["size"] == "tiny" and PROFILES["smoke"]["seeds"] == (0,)
    assert PROFILES["cpu"]["seeds"] == PROFILES["gpu"]["seeds"] == (0, 1, 2)
    assert PROFILES["gpu"]["imagenet"] and not PROFILES["cpu"]["imagenet"]
    assert PROFILES["gpu"]["configs"] == ("synthfashion_gpu",)
    assert PROFILES["smoke"]["s2_overrides"] == ("train.epochs=1",)
    assert all(p["summary"] for p in PROFILES.values())  # `asen reproduce --help` shows it


def _write(tmp_path, text: str) -> Path:
    path = tmp_path / "custom.yaml"
    path.write_text(text)
    return path


GOOD = ("size: tiny\nseeds: [0]\nconfigs: [synthfashion_cpu]\ns2_configs: [synthfashion_cpu_s2]\n"
        "pretrain_configs: [synthfashion_cpu_pretrain]\n")


def test_a_profile_file_fills_defaults_and_reads_lists_as_tuples(tmp_path):
    prof = load_profile(_write(tmp_path, GOOD))
    assert prof == {"summary": "", "size": "tiny", "seeds": (0,), "configs": ("synthfashion_cpu",),
                    "s2_configs": ("synthfashion_cpu_s2",), "pretrain_configs": ("synthfashion_cpu_pretrain",),
                    "imagenet": False, "overrides": (), "s2_overrides": ()}
    assert load_profiles(tmp_path) == {"custom": prof}


@pytest.mark.parametrize("text, message", [
    (GOOD + "epochs: 3\n", r"custom\.yaml: unknown key 'epochs' \(known keys: summary, size, seeds"),
    (GOOD.replace("seeds: [0]\n", ""), r"custom\.yaml: missing key 'seeds'"),
    (GOOD.replace("seeds: [0]", "seeds: 0"), r"custom\.yaml: 'seeds' must be a list of int values, got 0"),
    (GOOD.replace("seeds: [0]", "seeds: []"), r"custom\.yaml: 'seeds' must not be empty"),
    (GOOD + "imagenet: yes please\n", r"custom\.yaml: 'imagenet' must be a bool, got 'yes please'"),
    (GOOD + "overrides: [train.learning_rate=1]\n",
     r"custom\.yaml: overrides: 'train\.learning_rate=1': unknown key 'train\.learning_rate'"),
    (GOOD + "s2_overrides: [epochs]\n", r"custom\.yaml: s2_overrides: --set 'epochs': expected section\.key=value"),
    (GOOD.replace("[synthfashion_cpu_s2]", "[synthfashion_cpu_s3]"),
     r"custom\.yaml: s2_configs: config file 'synthfashion_cpu_s3' not found"),
    ("- a list\n", r"custom\.yaml: expected a mapping of profile keys, got list"),
])
def test_a_bad_profile_file_is_an_error_naming_the_file_and_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_profile(_write(tmp_path, text))


def test_profile_files_are_installed_with_the_package():
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["asen"]
    package = CONFIG_DIR.parent
    shipped = {p for pattern in patterns for p in package.glob(pattern)}
    assert set(CONFIG_DIR.rglob("*.yaml")) <= shipped and PROFILE_DIR.is_dir()


def test_every_public_name_of_asen_reproduce_resolves():
    import asen.reproduce as reproduce

    for name in reproduce.__all__:
        assert getattr(reproduce, name) is getattr(getattr(reproduce, reproduce._WHERE[name]), name)
    assert {"cache", "plan", "PROFILES", "run_main_table"} <= set(dir(reproduce))
    with pytest.raises(AttributeError, match="no attribute '_finished'"):
        reproduce._finished
