"""The design attributes' details: neckline openings, and the per-design drawing of collars, neck designs and lapels.

These are the regions ASEN++'s attention must find and its local branch zoom into (Sec. III-B/C): each design
attribute is drawn in a small region around the neck, and the values of one attribute differ inside it. Necklines
are the same in every design; collars, neck designs and lapels are drawn by one of the designs in
:data:`DETAIL_DRAWERS` (:mod:`.design1`, the default, or :mod:`.design2`), the only place a design is chosen.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from types import MappingProxyType
from typing import Callable, Mapping

from . import design1, design2
from .body import Body
from .canvas import Canvas
from .geometry import Point, _arc, _bezier, _mirror
from .palette import Color
from .scene import Coat, Look, Top

@dataclass(frozen=True)
class DetailDrawers:
    """How one design draws the region cues and pieces of the design attributes, and the coat's hem (the neckline
    shapes themselves are shared by every design).

    Attributes:
        collar: draws ``top.collar`` (``cv, body, top, look``).
        neck: draws ``top.neck`` (``cv, body, top, look, jitter``).
        lapels: draws ``coat.lapel`` (``cv, body, coat``).
        neckline_edge: draws a neckline's visible edge (``cv, top, edge, plain``; ``plain`` is the 1 px edge
            colour design 1 uses).
        coat_hem: marks the coat's hem (``cv, hems, coat``; ``hems`` the panels' hem segments).
    """

    collar: Callable[[Canvas, Body, Top, Look], None]
    neck: Callable[[Canvas, Body, Top, Look, float], None]
    lapels: Callable[[Canvas, Body, Coat], None]
    neckline_edge: Callable[[Canvas, Top, list[Point], Color], None]
    coat_hem: Callable[[Canvas, list[tuple[Point, Point]], Coat], None]


def _drawers(module) -> DetailDrawers:  # noqa: ANN001 - design1 or design2
    return DetailDrawers(module._draw_collar, module._draw_neck_design, module._draw_lapels,
                         module._draw_neckline_edge, module._draw_coat_hem)


DETAIL_DRAWERS: Mapping[int, DetailDrawers] = MappingProxyType({1: _drawers(design1), 2: _drawers(design2)})
"""Per design: its drawing functions (the one place a design is chosen)."""

DESIGNS: tuple[int, ...] = tuple(DETAIL_DRAWERS)
"""The designs of the design attributes' details: 2 is the default (generator 2.2.0); 1 (1.0.0), the first design, stays available."""

DEFAULT_DESIGN = 2


def check_design(design: object) -> int:
    """Validate a design number.

    Args:
        design: candidate design (an int of :data:`DESIGNS`).

    Returns:
        The design as ``int``.

    Raises:
        ValueError: not one of :data:`DESIGNS` (bools rejected).
    """
    if isinstance(design, bool) or not isinstance(design, Integral) or int(design) not in DETAIL_DRAWERS:
        raise ValueError(f"design must be one of {', '.join(map(str, DESIGNS))}, got {design!r}")
    return int(design)


def _neckline_opening(body: Body, kind: str) -> tuple[list[Point], list[Point]] | None:
    """Skin region revealed below the crew edge for a neckline shape, and its visible edge."""
    nb, nw = body.nb, body.nw
    top = [(nw + 0.005, nb - 0.008), (-(nw + 0.005), nb - 0.008)]  # closes along the crew edge
    if kind == "round":
        edge = _arc(0.0, nb - 0.006, nw + 0.013, 0.046, 180, 0, 12)
        return edge, edge
    if kind == "v":
        edge = [(-(nw + 0.008), nb - 0.007), (0.0, nb + 0.062), (nw + 0.008, nb - 0.007)]
        return edge, edge
    if kind == "deep_v":
        edge = [(-(nw + 0.014), nb - 0.006), (-0.003, nb + 0.13), (0.003, nb + 0.13), (nw + 0.014, nb - 0.006)]
        return edge, edge
    if kind == "square":
        edge = [(-0.036, nb - 0.004), (-0.036, nb + 0.043), (0.036, nb + 0.043), (0.036, nb - 0.004)]
        return edge + top, edge
    if kind == "boat":
        edge = [(-0.074, nb + 0.01), (-0.07, nb + 0.017), (0.07, nb + 0.017), (0.074, nb + 0.01)]
        return edge + top, edge
    if kind == "sweetheart":
        right = [(0.04, nb - 0.003), (0.045, nb + 0.03)] + _bezier(
            (0.044, nb + 0.038), (0.03, nb + 0.066), (0.0, nb + 0.046), 6
        )
        left = _mirror(right)  # top -> centre on the left
        edge = left + right[::-1][1:]
        return edge + top, edge
    return None


