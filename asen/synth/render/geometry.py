"""Body-unit geometry for SynthFashion's drawings: points and curve helpers.

SynthFashion stands in for FashionAI in the reproduction of ASEN++ (Sec. IV-A); every garment, detail and
occluder is a polygon in *body units* (``x`` horizontal with 0 on the body's centre line, ``y`` from the top
of the head (0) to the soles (1)), built from the helpers here and mapped to pixels by
:class:`~asen.synth.render.canvas.Canvas`.
"""

from __future__ import annotations

import math
from typing import Sequence

Point = tuple[float, float]


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 10) -> list[Point]:
    """Points on an ellipse from angle ``a0`` to ``a1`` (degrees; 0 = +x, 90 = down)."""
    out = []
    for i in range(n + 1):
        a = math.radians(a0 + (a1 - a0) * i / n)
        out.append((cx + rx * math.cos(a), cy + ry * math.sin(a)))
    return out


def _bezier(p0: Point, p1: Point, p2: Point, n: int = 10) -> list[Point]:
    """Quadratic Bezier curve from ``p0`` to ``p2`` with control point ``p1``."""
    out = []
    for i in range(n + 1):
        t = i / n
        a, b, c = (1 - t) ** 2, 2 * (1 - t) * t, t * t
        out.append((a * p0[0] + b * p1[0] + c * p2[0], a * p0[1] + b * p1[1] + c * p2[1]))
    return out


def _mirror(points: Sequence[Point]) -> list[Point]:
    return [(-x, y) for x, y in points]


def _sym(right: Sequence[Point]) -> list[Point]:
    """A closed left-right symmetric polygon from its right half (listed top to bottom)."""
    return list(right) + _mirror(right)[::-1]


def _flip(points: Sequence[Point], side: int) -> list[Point]:
    return list(points) if side > 0 else _mirror(points)
