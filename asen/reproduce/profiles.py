"""The profiles of ``asen reproduce``: which configs, how much data, how many seeds.

One YAML file a profile in ``asen/configs/profiles/``, named after it: ``smoke`` (tests and the book's smoke
build, minutes on a laptop), ``cpu`` (the CPU protocol: small backbones at 64 px, the README's table) and ``gpu``
(the paper's networks at 224 px on the same data, sized for a Colab T4). Their keys (:data:`PROFILE_KEYS`):

* ``size``: the SynthFashion size (``asen synth --size``); ``seeds``: the training seeds;
* ``configs``, ``s2_configs``, ``pretrain_configs``: the stage-1, stage-2 and stage-0 config files;
* ``imagenet``: the backbones start from ImageNet weights when they can be loaded (else from the stage-0 run);
* ``overrides``: ``section.key=value`` strings (as ``--set`` takes them) applied to every run, and
  ``s2_overrides`` to the stage-2 runs after them;
* ``summary``: one line for ``asen reproduce --help``.

A file is validated when loaded: an unknown or missing key, a value of the wrong type, an unknown config key in
an override or a config file that does not exist is a :class:`~asen.config.ConfigError` naming the file and key.
Loading needs neither torch nor the trainer (``asen reproduce --help`` lists the profiles).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..config import CONFIG_DIR, ConfigError, _set_dotted, parse_override, resolve_config_path

PROFILE_DIR = CONFIG_DIR / "profiles"
"""Where the profile files are (installed with the package)."""

PROFILE_KEYS: dict[str, tuple[type, Any]] = {
    "summary": (str, ""),
    "size": (str, None),
    "seeds": (int, None),
    "configs": (str, None),
    "s2_configs": (str, None),
    "pretrain_configs": (str, None),
    "imagenet": (bool, False),
    "overrides": (str, ()),
    "s2_overrides": (str, ()),
}
"""Each key's type (of the items, for the lists) and default (None: required)."""
_LISTS = ("seeds", "configs", "s2_configs", "pretrain_configs", "overrides", "s2_overrides")


def _check_type(path: Path, key: str, value: Any) -> Any:
    typ = PROFILE_KEYS[key][0]
    if key in _LISTS:
        if not isinstance(value, list) or not all(isinstance(v, typ) and not isinstance(v, bool) for v in value):
            raise ConfigError(f"{path}: '{key}' must be a list of {typ.__name__} values, got {value!r}")
        if key in ("seeds", "configs", "s2_configs") and not value:
            raise ConfigError(f"{path}: '{key}' must not be empty")
        return tuple(value)
    if not isinstance(value, typ):
        raise ConfigError(f"{path}: '{key}' must be a {typ.__name__}, got {value!r}")
    return value


def load_profile(path: str | Path) -> dict[str, Any]:
    """Read and validate one profile file.

    Returns:
        Every key of :data:`PROFILE_KEYS` (defaults filled in); the lists as tuples.
    Raises:
        ConfigError: not a mapping, an unknown or missing key, a wrong type, an override of an unknown config key
            or a config file that does not exist; the message names the file and the key.
    """
    path = Path(path)
    try:
        tree = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from exc
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: expected a mapping of profile keys, got {type(tree).__name__}")
    unknown = [k for k in tree if k not in PROFILE_KEYS]
    if unknown:
        raise ConfigError(f"{path}: unknown key '{unknown[0]}' (known keys: {', '.join(PROFILE_KEYS)})")
    profile: dict[str, Any] = {}
    for key, (_, default) in PROFILE_KEYS.items():
        if key not in tree:
            if default is None:
                raise ConfigError(f"{path}: missing key '{key}'")
            profile[key] = default
            continue
        profile[key] = _check_type(path, key, tree[key])
    for key in ("configs", "s2_configs", "pretrain_configs"):
        for name in profile[key]:
            try:
                resolve_config_path(name)
            except ConfigError as exc:
                raise ConfigError(f"{path}: {key}: {exc}") from None
    for key in ("overrides", "s2_overrides"):
        for text in profile[key]:
            try:
                dotted, _ = parse_override(text)
            except ConfigError as exc:
                raise ConfigError(f"{path}: {key}: {exc}") from None
            _set_dotted({}, dotted, None, source=f"{path}: {key}: '{text}'")  # an unknown config key
    return profile


def load_profiles(folder: str | Path = PROFILE_DIR) -> dict[str, dict[str, Any]]:
    """Every ``<name>.yaml`` of ``folder`` (:func:`load_profile`), by name, in name order."""
    paths = sorted(Path(folder).glob("*.yaml"))
    if not paths:
        raise ConfigError(f"no profile files (*.yaml) in {folder}")
    return {p.stem: load_profile(p) for p in paths}


PROFILES: dict[str, dict[str, Any]] = load_profiles()
"""The shipped profiles, by name: ``PROFILES["cpu"]["seeds"] == (0, 1, 2)``."""


def profile_configs(profile: str, key: str) -> tuple[str, ...]:
    """A profile's ``configs``, ``s2_configs`` or ``pretrain_configs``."""
    return tuple(PROFILES[profile][key])


def default_data_root(profile: str) -> Path:
    """``data/SynthFashion`` for the cpu profile (the README's dataset), ``data/SynthFashion-<size>`` otherwise."""
    size = PROFILES[profile]["size"]
    return Path("data/SynthFashion" if size == "small" else f"data/SynthFashion-{size}")
