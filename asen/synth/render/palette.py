"""Colours and fabrics of SynthFashion's drawings (nuisance appearance, ASEN++ Sec. IV-A's dataset stand-in).

Colour helpers (clip, scale, mix, luminance, HSV, jitter, the thin-line colour of a fabric), the skin and hair
palettes, and :class:`Fabric`: a base colour with an optional periodic pattern (stripes, checks, dots).
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image

Color = tuple[int, int, int]

_SKIN = [
    (250, 222, 196),
    (238, 196, 162),
    (224, 172, 132),
    (198, 140, 100),
    (164, 108, 72),
    (122, 80, 54),
    (88, 58, 40),
]
_HAIR = [(28, 24, 22), (62, 42, 30), (104, 70, 44), (196, 164, 108), (146, 72, 42), (150, 150, 150), (48, 36, 30)]


def _clip(c: Sequence[float]) -> Color:
    return (int(min(255, max(0, c[0]))), int(min(255, max(0, c[1]))), int(min(255, max(0, c[2]))))


def _scale(c: Color, f: float) -> Color:
    return _clip((c[0] * f, c[1] * f, c[2] * f))


def _mix(a: Color, b: Color, t: float) -> Color:
    return _clip((a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t))


def _lum(c: Color) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def _hsv(h: float, s: float, v: float) -> Color:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return _clip((r * 255, g * 255, b * 255))


def _jitter(rng: np.random.Generator, c: Color, amount: float) -> Color:
    d = rng.uniform(-amount, amount, size=3)
    return _clip((c[0] + d[0], c[1] + d[1], c[2] + d[2]))


def _line_color(base: Color, strength: float = 1.0) -> Color:
    """A thin-line colour of moderate contrast: darker on light fabric, lighter on dark fabric."""
    if _lum(base) > 70:
        return _scale(base, 1.0 - 0.42 * strength)
    return _mix(base, (255, 255, 255), 0.30 * strength)


@dataclass
class Fabric:
    """A garment fabric: base colour plus an optional periodic pattern (in body units)."""

    base: Color
    kind: str = "plain"  # plain | stripes | checks | dots
    color2: Color = (255, 255, 255)
    period: float = 0.02
    angle: float = 0.0
    duty: float = 0.4

    @staticmethod
    def sample(rng: np.random.Generator, plain_p: float = 0.45) -> "Fabric":
        """Draw a random fabric.

        Args:
            rng: random stream.
            plain_p: probability of a plain fabric.

        Returns:
            The fabric.
        """
        h, s, v = rng.random(), rng.uniform(0.05, 0.85), rng.uniform(0.22, 0.95)
        if rng.random() < 0.15:  # neutrals: black, white, grey, beige
            s *= 0.15
        base = _hsv(h, s, v)
        r = rng.random()
        kinds = ["stripes", "checks", "dots"]
        kind = "plain" if r < plain_p else kinds[int(rng.integers(0, 3))]
        if rng.random() < 0.5:
            color2 = _hsv(h + rng.uniform(-0.5, 0.5), rng.uniform(0, 0.8), rng.uniform(0.2, 1.0))
        else:
            color2 = _mix(base, (255, 255, 255) if v < 0.6 else (0, 0, 0), rng.uniform(0.25, 0.6))
        period = rng.uniform(0.012, 0.04)
        angle = float(rng.choice([0.0, 90.0, 45.0, -45.0, rng.uniform(0, 180)]))
        return Fabric(base, kind, color2, period, angle, rng.uniform(0.25, 0.5))

    def image(self, size: tuple[int, int], s: float, grid: tuple[np.ndarray, np.ndarray]) -> Image.Image:
        """Render the fabric over a whole canvas.

        Args:
            size: canvas ``(W, H)``.
            s: pixels per body unit (pattern scale follows the body).
            grid: cached ``(xx, yy)`` pixel coordinate arrays.

        Returns:
            An RGB image of the canvas size.
        """
        if self.kind == "plain":
            return Image.new("RGB", size, self.base)
        xx, yy = grid
        p = max(2.5, self.period * s)
        a = math.radians(self.angle)
        u = xx * math.cos(a) + yy * math.sin(a)
        if self.kind == "stripes":
            m = (u % p) < self.duty * p
        elif self.kind == "checks":
            w = -xx * math.sin(a) + yy * math.cos(a)
            m1 = (u % p) < self.duty * p
            m2 = (w % p) < self.duty * p
            m = m1 ^ m2 if self.duty > 0.38 else m1 | m2
        else:  # dots
            w = -xx * math.sin(a) + yy * math.cos(a)
            du = (u % p) - p / 2
            dw = (w % p) - p / 2
            m = du * du + dw * dw < (self.duty * 0.7 * p) ** 2
        out = np.empty(m.shape + (3,), dtype=np.uint8)
        out[...] = self.base
        out[m] = self.color2
        return Image.fromarray(out, "RGB")
