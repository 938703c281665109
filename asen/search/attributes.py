"""Attribute names <-> indices for the search commands: by name (any case) or index, ``all`` or a list, and a
model's names from a ``meta.json``, its config's dataset folder, or ``"0".."n-1"``."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from ..config import Config
from ..layout import DataError, load_meta, resolve_attribute  # resolve_attribute: one resolver, also Meta's


def resolve_attributes(attributes: str | int | Sequence[str | int] | None, names: Sequence[str]) -> list[int]:
    """Attribute indices from ``"all"`` / ``None``, a comma-separated string, or a list of names or indices."""
    if attributes is None or (isinstance(attributes, str) and attributes.strip().lower() == "all"):
        return list(range(len(names)))
    if isinstance(attributes, (int, np.integer)):
        attributes = [int(attributes)]
    elif isinstance(attributes, str):
        attributes = [a for a in attributes.split(",") if a.strip()]
    out: list[int] = []
    for a in attributes:
        idx = resolve_attribute(a, names)
        if idx not in out:
            out.append(idx)
    if not out:
        raise DataError(f"no attribute given (known: {', '.join(names)})")
    return out


def load_attribute_names(num_attributes: int, cfg: Config | None = None, meta: str | Path | None = None) -> list[str]:
    """Attribute names for a model: from ``meta`` (a ``meta.json`` or its folder), else from the config's
    dataset folder (``cfg.data.root``), else ``"0" .. "n-1"`` (with a warning naming where it looked).

    Raises:
        DataError: an explicit ``meta`` that cannot be read, or one (or the config's dataset folder's) whose
            attribute count differs from the model's.
    """
    if meta is not None:
        path = Path(meta)
        m = load_meta(path.parent if path.suffix == ".json" else path)
        if m.num_attributes != num_attributes:
            raise DataError(f"{meta}: {m.num_attributes} attributes, but the model has {num_attributes}")
        return list(m.attributes)
    if cfg is not None:
        try:
            m = load_meta(cfg.data.root)
        except DataError:
            m = None
        if m is not None:
            if m.num_attributes == num_attributes:
                return list(m.attributes)
            raise DataError(f"{cfg.data.root}/meta.json has {m.num_attributes} attributes but the model has "
                            f"{num_attributes}: the data folder in the checkpoint's config is not the one it was "
                            f"trained on (give --meta of its dataset)")
        else:
            warnings.warn(f"no meta.json in the checkpoint's dataset folder {cfg.data.root}; attributes are named "
                          f"by index 0..{num_attributes - 1} (give --meta for names)")
    return [str(i) for i in range(num_attributes)]
