"""tools/nuisance_probe.py recovers the nuisance sleeve of a length image exactly as the generator drew it."""
import importlib.util
from pathlib import Path

import numpy as np

from asen.synth import render as R
from asen.synth.layout import image_rng

spec = importlib.util.spec_from_file_location("nuisance_probe", Path(__file__).parent.parent / "tools" / "nuisance_probe.py")
probe = importlib.util.module_from_spec(spec)
spec.loader.exec_module(probe)


def test_sleeve_class_replays_the_generator(monkeypatch):
    drawn = []
    real = R._sample_outfit

    def spy(name, rng):
        out = real(name, rng)
        drawn.append(out.top.sleeve)
        return out

    monkeypatch.setattr(R, "_sample_outfit", spy)
    classes = []
    for index in range(12):
        for attr in ("skirt_length", "pant_length"):
            R.render_image(attr, 2, image_rng(0, "valid", index), 48)
            t = drawn[-1]
            k = probe.sleeve_class(0, "valid", index, attr)
            assert k == 1 if t is None else abs(R.SLEEVE_ENDS[k] - t) <= 0.03 + 1e-9
            classes.append(k)
    assert len(set(classes)) >= 4  # the nuisance really varies across images
    assert all(1 <= k <= 8 for k in classes)
    assert np.unique([probe.sleeve_class(0, "valid", 3, "skirt_length") for _ in range(3)]).size == 1
