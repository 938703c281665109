"""Tests for the modules of asen.synth.render: geometry helpers, colours, the per-attribute value setters
and the dispatch that replaced one long chain (one setter per FashionAI attribute, four draws each)."""

from __future__ import annotations

import numpy as np
import pytest

from asen.synth import render as R
from asen.synth.attributes import ATTRIBUTE_NAMES, ATTRIBUTES
from asen.synth.render import geometry, palette, sampling, values
from asen.synth.render.body import Body
from asen.synth.render.scene import Frame


# ------------------------------------------------------------------------------------------ geometry
def test_arc_and_bezier_endpoints() -> None:
    pts = geometry._arc(1.0, 2.0, 3.0, 0.5, 0, 90, 4)
    assert len(pts) == 5
    np.testing.assert_allclose(pts[0], (4.0, 2.0), atol=1e-12)
    np.testing.assert_allclose(pts[-1], (1.0, 2.5), atol=1e-12)
    curve = geometry._bezier((0.0, 0.0), (1.0, 2.0), (2.0, 0.0), 4)
    np.testing.assert_allclose(curve[0], (0.0, 0.0))
    np.testing.assert_allclose(curve[-1], (2.0, 0.0))
    np.testing.assert_allclose(curve[2], (1.0, 1.0))  # t = 1/2: (p0 + 2 p1 + p2) / 4


def test_sym_is_mirror_symmetric_and_flip() -> None:
    right = [(0.0, 0.1), (0.2, 0.3), (0.1, 0.5)]
    poly = geometry._sym(right)
    assert len(poly) == 6 and poly[:3] == right
    assert poly[3:] == [(-0.1, 0.5), (-0.2, 0.3), (-0.0, 0.1)]
    assert geometry._flip(right, 1) == right and geometry._flip(right, -1) == geometry._mirror(right)


# ------------------------------------------------------------------------------------------ palette
def test_colour_helpers_clip_and_contrast() -> None:
    assert palette._clip((-5, 300, 12.7)) == (0, 255, 12)
    assert palette._mix((0, 0, 0), (200, 100, 50), 0.5) == (100, 50, 25)
    light, dark = (220, 220, 220), (20, 20, 20)
    assert palette._lum(palette._line_color(light)) < palette._lum(light)  # darker on light fabric
    assert palette._lum(palette._line_color(dark)) > palette._lum(dark)  # lighter on dark fabric


# ------------------------------------------------------------------------------------------ values
def test_one_setter_per_attribute() -> None:
    assert set(values.VALUE_SETTERS) == set(ATTRIBUTE_NAMES)


def _scene(name: str, seed: int):
    st = R.split_streams(np.random.default_rng(seed))
    body = Body.sample(st["body"])
    outfit = sampling._sample_outfit(name, st["outfit"])
    frame, u1, u2 = sampling._sample_frame(name, st["frame"])
    ex = sampling._sample_extras(name, st["extras"])
    return body, outfit, frame, ex, (u1, u2)


@pytest.mark.parametrize("name", ATTRIBUTE_NAMES)
def test_apply_value_draws_four_uniforms_whatever_the_value(name: str) -> None:
    """Every setter reads the same four draws, so the stream is left in the same state for every value."""
    states = set()
    for v in range(len(ATTRIBUTES[ATTRIBUTE_NAMES.index(name)][1])):
        body, outfit, frame, ex, u = _scene(name, 3)
        rng = np.random.default_rng(11)
        values.apply_value(name, v, body, outfit, frame, ex, u, rng)
        states.add(float(rng.random()))
    ref = np.random.default_rng(11)
    ref.random(4)
    assert states == {float(ref.random())}


def test_length_setters_place_the_hem_at_the_value() -> None:
    for v, hem in R.SKIRT_HEMS.items():
        body, outfit, frame, ex, u = _scene("skirt_length", v)
        values.apply_value("skirt_length", v, body, outfit, frame, ex, u, np.random.default_rng(v))
        assert abs(outfit.bottom.hem - hem) <= 0.012
        assert frame.bottom > outfit.bottom.hem  # the hem is in the picture
    for v, hem in R.COAT_HEMS.items():
        body, outfit, frame, ex, u = _scene("coat_length", v)
        values.apply_value("coat_length", v, body, outfit, frame, ex, u, np.random.default_rng(v))
        assert abs(outfit.coat.hem - hem) <= 0.012


def test_design_setters_write_the_value_name() -> None:
    cases = {
        "collar_design": (R.COLLARS, lambda o: o.top.collar),
        "lapel_design": (R.LAPELS, lambda o: o.coat.lapel),
        "neckline_design": (R.NECKLINES, lambda o: o.top.neckline),
        "neck_design": (R.NECKS, lambda o: o.top.neck),
    }
    for name, (table, get) in cases.items():
        for v, value in table.items():
            body, outfit, frame, ex, u = _scene(name, v)
            values.apply_value(name, v, body, outfit, frame, ex, u, np.random.default_rng(v))
            assert get(outfit) == value, (name, v)
            assert not ex.back_view and not ex.hair_front  # a visible value is not hidden


def test_invisible_design_hides_the_neck_region() -> None:
    """Value 0 of a design attribute always uses one of the four hiding modes, and all four occur."""
    modes = set()
    for seed in range(40):
        body, outfit, frame, ex, u = _scene("collar_design", seed)
        values.apply_value("collar_design", 0, body, outfit, frame, ex, u, np.random.default_rng(seed))
        assert outfit.top.collar in R.COLLARS.values()  # drawn with a real collar underneath
        if ex.back_view:
            modes.add("back")
        elif ex.scarf is not None:
            modes.add("scarf")
        elif ex.hair_front:
            modes.add("hair")
        else:
            assert frame.top > body.nb + 0.1  # framed below the neck
            modes.add("below")
    assert modes == {"back", "scarf", "hair", "below"}


def test_below_hem_resolves_placeholders() -> None:
    frame = Frame(top=0.0, bottom=-1.0)
    _, _, _, ex, _ = _scene("skirt_length", 0)
    ex.counter, ex.board = -1.5, None
    values._below_hem(frame, ex, 0.6, 0.2)
    assert frame.bottom == pytest.approx(0.6 + 0.06 + 0.05)
    assert ex.counter is None or ex.counter > 0.6  # placed below the hem, or dropped when out of frame


# ------------------------------------------------------------------------------------------ regions
def test_attribute_region_replays_render_and_ignores_the_value() -> None:
    for a, (name, names) in enumerate(ATTRIBUTES):
        boxes = set()
        for v in range(1, len(names)):
            img, info = R.render_with_info(a, v, np.random.default_rng(5 + a))
            assert R.attribute_region(name, v, np.random.default_rng(5 + a)) == info["region"]
            boxes.add(info["region"])
            left, top, right, bottom = info["region"]
            assert 0 <= left < right <= img.size[0] and 0 <= top < bottom <= img.size[1]
        if name.endswith("_design"):  # same body and framing: the region never gives the value away
            assert len(boxes) == 1, name
        # (a length image is framed just below its hem, so there the framing, not the region, follows the value)


@pytest.mark.parametrize("design", R.DESIGNS)
@pytest.mark.parametrize("name", ["collar_design", "lapel_design", "neck_design"])
def test_design_values_differ_inside_their_region(name: str, design: int) -> None:
    """Where two values of a design attribute differ (same person, same seed), the pixels lie in the region, in
    every design (the region is the same in all of them)."""
    a = ATTRIBUTE_NAMES.index(name)
    inside = []
    for seed in range(4):
        r = {v: R.render_with_info(a, v, np.random.default_rng(seed), design=design) for v in (1, 2, 3)}
        x0, y0, x1, y1 = r[1][1]["region"]
        for v1, v2 in ((1, 2), (1, 3), (2, 3)):
            d = np.abs(np.asarray(r[v1][0], np.float32) - np.asarray(r[v2][0], np.float32)).max(-1) > 30
            ys, xs = np.nonzero(d)
            assert len(xs) > 0
            inside.append(np.mean((xs >= x0 - 2) & (xs < x1 + 2) & (ys >= y0 - 2) & (ys < y1 + 2)))
    assert np.median(inside) >= 0.95 and min(inside) >= 0.9, inside
