"""The label-carrying part of a SynthFashion image, one setter per attribute (ASEN++ Sec. IV-A stand-in).

:func:`apply_value` draws four uniforms from the image's ``value`` stream (the hiding mode, a small jitter, which
real value Invisible hides, a spare uniform) and dispatches on the attribute's name to one setter in
:data:`VALUE_SETTERS`. A setter writes the value into the scene (a hem height, a sleeve end, a collar, lapel,
neckline or neck design) or, for Invisible (value 0), draws a real value and hides it (cropped out, behind a
counter/board/bag/cape, under a scarf or hair, seen from behind).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .body import Body
from .scene import Coat, Extras, Frame, Outfit
from .tables import COAT_HEMS, COLLARS, LAPELS, NECKLINES, NECKS, PANT_HEMS, SKIRT_HEMS, SLEEVE_ENDS


@dataclass(frozen=True)
class ValueDraws:
    """The four uniforms every setter receives, drawn in this order from the ``value`` stream."""

    mode: float  # [0, 1): how Invisible hides the region
    jit: float  # [-1, 1): small jitter of the hem / sleeve end / neck design height
    hidden: float  # [0, 1): which real value an Invisible image is drawn with
    lo: float  # [0, 1): spare uniform (occluder position, crop height)


def _below_hem(frame: Frame, ex: Extras, hem: float, u: float) -> None:
    """Resolve placeholders: frame bottom just below ``hem``, counter/board below ``hem``."""
    if frame.bottom < 0:
        frame.bottom = min(1.07, hem + 0.06 + 0.25 * u)
    if ex.counter is not None and ex.counter < 0:
        y0 = hem + 0.05 + 0.2 * (-ex.counter - 1.0)
        ex.counter = y0 if y0 < frame.bottom - 0.05 else None
    if ex.board is not None and ex.board[0] < 0:
        y0 = hem + 0.05 + 0.1 * (-ex.board[0] - 1.0)
        ex.board = (y0, y0 + 0.2 + 0.2 * ex.board[1], ex.board[2]) if y0 < frame.bottom - 0.08 else None
    if frame.bottom - frame.top < 0.4:
        frame.top = max(-0.04, frame.bottom - 0.55)


def _drop_placeholders(ex: Extras) -> None:
    """Forget a counter/board still waiting to be placed below a hem (Invisible images have none)."""
    ex.counter = ex.counter if ex.counter is None or ex.counter > 0 else None
    ex.board = ex.board if ex.board is None or ex.board[0] > 0 else None


# ------------------------------------------------------------------------------------------ lengths
def _hem_value(hems: dict[int, float], v: int, d: ValueDraws, first: int) -> float:
    """The hem height drawn, jittered: the value's own, or for Invisible a real one from ``first`` to the last
    picked by ``d.hidden``."""
    return hems[v if v > 0 else first + int(d.hidden * (len(hems) + 1 - first))] + 0.012 * d.jit


def _skirt_length(
    v: int, d: ValueDraws, body: Body, out: Outfit, frame: Frame, ex: Extras, u: tuple[float, float]
) -> None:
    sk = out.bottom
    assert sk is not None
    sk.hem = _hem_value(SKIRT_HEMS, v, d, first=2)
    if v > 0:
        if v == 5:
            sk.flare = max(sk.flare, 0.25)
        _below_hem(frame, ex, sk.hem, u[0])
        return
    if d.mode < 0.4:  # cropped above the hem
        frame.bottom = 0.44 + 0.12 * d.lo
        frame.top = min(frame.top, 0.02)
    elif d.mode < 0.75:  # standing behind a counter
        frame.bottom = max(frame.bottom, 1.02)
        ex.counter = 0.45 + 0.11 * d.lo
    else:  # a closed long coat hides the skirt
        frame.bottom = max(frame.bottom, 1.02)
        out.coat = Coat(
            ex.fabrics[0], hem=0.95 + 0.04 * d.lo, sleeve=0.95, lapel="notched", closed=True, button_y=0.3, gap=0.0
        )
    _below_hem(frame, ex, 1.2, u[0])
    _drop_placeholders(ex)


def _pant_length(
    v: int, d: ValueDraws, body: Body, out: Outfit, frame: Frame, ex: Extras, u: tuple[float, float]
) -> None:
    pt = out.bottom
    assert pt is not None
    pt.hem = _hem_value(PANT_HEMS, v, d, first=1)
    if v > 0:
        _below_hem(frame, ex, pt.hem, u[0])
        return
    frame.bottom = max(frame.bottom, 1.02)
    if d.mode < 0.4:
        frame.bottom = 0.45 + 0.1 * d.lo
        frame.top = min(frame.top, 0.02)
    elif d.mode < 0.75:
        ex.counter = 0.46 + 0.09 * d.lo
    else:  # a big shopping bag in front of the legs
        ex.board = (0.47 + 0.05 * d.lo, 1.1, 0.19)
    _drop_placeholders(ex)


def _coat_length(
    v: int, d: ValueDraws, body: Body, out: Outfit, frame: Frame, ex: Extras, u: tuple[float, float]
) -> None:
    ct = out.coat
    assert ct is not None
    ct.hem = _hem_value(COAT_HEMS, v, d, first=1)
    if v > 0:
        _below_hem(frame, ex, ct.hem, u[0])
        return
    frame.top = min(frame.top, 0.0)
    if d.mode < 0.55:
        frame.bottom = 0.29 + 0.06 * d.lo
    else:
        frame.bottom = max(frame.bottom, 1.02)
        ex.counter = 0.29 + 0.05 * d.lo
    ex.board = None
    ex.counter = ex.counter if ex.counter is None or ex.counter > 0 else None


def _sleeve_length(
    v: int, d: ValueDraws, body: Body, out: Outfit, frame: Frame, ex: Extras, u: tuple[float, float]
) -> None:
    holder = out.coat if out.coat is not None else out.top
    if out.coat is not None:
        out.top.sleeve = None  # the coat carries the sleeve; the top under it is sleeveless
    if v > 0:
        t = SLEEVE_ENDS[v]
        holder.sleeve = None if t is None else t + (0.025 * d.jit if t > 0.1 else 0.01 * d.jit)
        if ex.cape is not None and (t is None or t < 0.3):
            ex.cape = None
        _below_hem(frame, ex, max(0.64, body.hand_y() + 0.02), u[0])
        return
    holder.sleeve = SLEEVE_ENDS[2 + int(d.hidden * 7)]
    if d.mode < 0.55:  # cape / poncho over the arms
        ex.cape = 0.62 + 0.05 * d.lo
    else:  # holding a board in front of torso and arms
        ex.board = (0.2 + 0.02 * d.lo, 0.68 + 0.05 * d.lo, max(0.24, body.arm_extent(0.75) + 0.02) + 0.02 * d.lo)
        ex.cape = None
    _below_hem(frame, ex, 0.72, u[0])
    ex.counter = None


# ------------------------------------------------------------------------------------------ designs
def _design_value(table: dict[int, str], v: int, d: ValueDraws) -> str:
    """The design drawn: the value's own, or for Invisible a real one picked by ``d.hidden``."""
    return table[v] if v > 0 else table[1 + int(d.hidden * len(table))]


def _neck_region(v: int, d: ValueDraws, frame: Frame, ex: Extras, u: tuple[float, float], scarf: float) -> None:
    """Shared by the design attributes: the neck design's height jitter, and Invisible's hiding of the neck
    region (seen from behind, a scarf of half width ``scarf``, hair in front, or framed below the neck)."""
    ex.neck_jit = 0.004 * d.jit
    if v != 0:
        return
    if d.mode < 0.27:
        ex.back_view = True
    elif d.mode < 0.52:
        ex.scarf = scarf
        ex.scarf_hang = 0.3 + 0.1 * d.lo
        ex.necklace = None
    elif d.mode < 0.74:
        ex.hair_front = True
        ex.hair = "long"
        ex.necklace = None
    else:  # framed below the neck region
        frame.top = 0.3 + 0.05 * d.lo
        frame.bottom = frame.top + 0.38 + 0.15 * u[0]
        ex.counter, ex.board = None, None


def _collar_design(
    v: int, d: ValueDraws, body: Body, out: Outfit, frame: Frame, ex: Extras, u: tuple[float, float]
) -> None:
    out.top.collar = _design_value(COLLARS, v, d)
    _neck_region(v, d, frame, ex, u, scarf=0.085)


def _lapel_design(
    v: int, d: ValueDraws, body: Body, out: Outfit, frame: Frame, ex: Extras, u: tuple[float, float]
) -> None:
    assert out.coat is not None
    out.coat.lapel = _design_value(LAPELS, v, d)
    _neck_region(v, d, frame, ex, u, scarf=0.085)


def _neckline_design(
    v: int, d: ValueDraws, body: Body, out: Outfit, frame: Frame, ex: Extras, u: tuple[float, float]
) -> None:
    value = _design_value(NECKLINES, v, d)
    if v == 0 and 0.27 <= d.mode < 0.74:
        # scarf / hair hide only a neckline that stays close to the neck
        value = ("v", "square", "round", "sweetheart")[int(d.hidden * 4)]
    out.top.neckline = value
    if value == "strapless":
        out.top.sleeve = None
    _neck_region(v, d, frame, ex, u, scarf=0.085)


def _neck_design(
    v: int, d: ValueDraws, body: Body, out: Outfit, frame: Frame, ex: Extras, u: tuple[float, float]
) -> None:
    out.top.neck = _design_value(NECKS, v, d)
    _neck_region(v, d, frame, ex, u, scarf=0.06)


ValueSetter = Callable[[int, ValueDraws, Body, Outfit, Frame, Extras, tuple[float, float]], None]

VALUE_SETTERS: dict[str, ValueSetter] = {
    "skirt_length": _skirt_length,
    "sleeve_length": _sleeve_length,
    "coat_length": _coat_length,
    "pant_length": _pant_length,
    "collar_design": _collar_design,
    "lapel_design": _lapel_design,
    "neckline_design": _neckline_design,
    "neck_design": _neck_design,
}
"""One setter per attribute name (FashionAI's eight attributes)."""


def apply_value(
    name: str,
    v: int,
    body: Body,
    out: Outfit,
    frame: Frame,
    ex: Extras,
    u: tuple[float, float],
    rng: np.random.Generator,
) -> None:
    """Set the label-carrying part of the scene (and Invisible's hiding mode) from the value stream.

    Args:
        name: attribute name (a key of :data:`VALUE_SETTERS`).
        v: value id (0 = Invisible).
        body: the figure (for hand height and arm reach).
        out: the outfit, changed in place.
        frame: the framing, changed in place.
        ex: accessories and occluders, changed in place.
        u: two spare uniforms of the frame stream (where the frame ends below a hem).
        rng: the image's ``value`` stream.

    Returns:
        None; ``out``, ``frame`` and ``ex`` are updated.
    """
    draws = ValueDraws(mode=rng.random(), jit=rng.uniform(-1.0, 1.0), hidden=rng.random(), lo=rng.random())
    VALUE_SETTERS[name](v, draws, body, out, frame, ex, u)
