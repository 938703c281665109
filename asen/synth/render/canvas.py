"""The drawing surface of a SynthFashion image: body units -> pixels, filled and outlined pieces.

A :class:`Canvas` wraps a ``PIL.ImageDraw`` and a framing (pixels per body unit, centre, vertical offset);
its ``lw`` is the "1 px at 224 px" line width the details are drawn with (ASEN++ Sec. IV-A stand-in).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from .geometry import Point
from .palette import Color, Fabric

_GRID_CACHE: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _grid(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    if size not in _GRID_CACHE:
        w, h = size
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        _GRID_CACHE[size] = (xx, yy)
    return _GRID_CACHE[size]


class Canvas:
    """Maps body units to pixels and draws filled/outlined pieces."""

    def __init__(self, img: Image.Image, s: float, cx: float, oy: float) -> None:
        self.img = img
        self.draw = ImageDraw.Draw(img)
        self.s, self.cx, self.oy = s, cx, oy
        self.size = img.size
        self.lw = max(1, round(img.size[1] / 224))  # "1 px at 224"
        self._fabric_cache: dict[int, Image.Image] = {}

    def px(self, pts: Sequence[Point]) -> list[Point]:
        """Body units -> pixel coordinates."""
        return [(self.cx + self.s * x, self.oy + self.s * y) for x, y in pts]

    def fabric(self, polys: Sequence[Sequence[Point]], fab: Fabric) -> None:
        """Fill polygons with a (patterned) fabric."""
        if fab.kind == "plain":
            for poly in polys:
                if len(poly) >= 3:
                    self.draw.polygon(self.px(poly), fill=fab.base)
            return
        mask = Image.new("L", self.size, 0)
        md = ImageDraw.Draw(mask)
        for poly in polys:
            if len(poly) >= 3:
                md.polygon(self.px(poly), fill=255)
        key = id(fab)
        if key not in self._fabric_cache:
            self._fabric_cache[key] = fab.image(self.size, self.s, _grid(self.size))
        self.img.paste(self._fabric_cache[key], (0, 0), mask)

    def solid(self, poly: Sequence[Point], color: Color) -> None:
        """Fill a polygon with one colour."""
        if len(poly) >= 3:
            self.draw.polygon(self.px(poly), fill=color)

    def line(self, pts: Sequence[Point], color: Color, closed: bool = False, width: int | None = None) -> None:
        """Polyline, 1 px at 224 px image height unless ``width`` is given."""
        if len(pts) < 2:
            return
        p = self.px(pts)
        if closed:
            p = p + [p[0]]
        self.draw.line(p, fill=color, width=width or self.lw)

    def ellipse(self, c: Point, rx: float, ry: float, color: Color, outline: Color | None = None) -> None:
        """Filled ellipse with radii in body units."""
        x, y = self.px([c])[0]
        self.draw.ellipse(
            [x - rx * self.s, y - ry * self.s, x + rx * self.s, y + ry * self.s],
            fill=color,
            outline=outline,
            width=self.lw,
        )

    def dot(self, c: Point, r_px: float, color: Color) -> None:
        """Small disc with a radius in pixels (buttons, eyes)."""
        x, y = self.px([c])[0]
        self.draw.ellipse([x - r_px, y - r_px, x + r_px, y + r_px], fill=color)
