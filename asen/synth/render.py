"""Procedural garment images for SynthFashion (numpy + Pillow only).

One image = one person wearing an outfit, framed like a shop photo, drawn with ``PIL.ImageDraw``.
Geometry lives in *body units*: ``x`` is horizontal with 0 on the body's centre line, ``y`` runs
down from the top of the head (0) to the soles (1). A framing (visible ``y`` range, horizontal
offset) maps body units to pixels, so every garment, detail and occluder is resolution independent.

How the labels show up:

* **Length attributes** (skirt/sleeve/coat/pant length) set where a hem ends relative to the body
  (mid-thigh, knee, calf, ...). They are coarse shape and survive a downsample to ~96 px.
* **Design attributes** (collar/lapel/neckline/neck design) live in a small region around the neck.
  Within an attribute the values share one coarse silhouette (same neck opening, same fabric) and
  differ in thin (1 px at 224) outlines, notches, ribbing, fold lines and small shapes, so they
  blur away at 96 px but are legible in a ~112 px crop of the 224 px original.
* **Invisible** (value 0) hides the region in several ways (cropped out, counter/board/bag in front,
  cape over the arms, scarf or hair over the neck, seen from behind), always over an outfit drawn
  with a random real value so that garment statistics do not give it away.
* **Nuisance**: colours, fabric patterns, skin/hair, pose, framing, background clutter, noise, and
  attribute-irrelevant garment choices (random sleeves and bottoms on design images, random
  necklines and collars on length images).

Public API: :func:`render_image`, :func:`render_with_info`, :func:`check_image_size` and the value
tables (``SKIRT_HEMS`` ...). The scene classes (``Body``, ``Fabric``, ``Top``, ``Canvas`` ...) are
implementation details of the drawing and may change with the generator version.

Randomness comes in named streams (background, body, look, outfit, frame, extras, value, finish)
split off the caller's generator, and only the ``value`` stream depends on the label. Two renders
with the same seed and different values of an attribute therefore show the same person, pose,
framing and background; only the value-specific garment part differs (the tests use this).
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from .attributes import ATTRIBUTE_NAMES, attribute_index, check_value

__all__ = [
    "COAT_HEMS",
    "COLLARS",
    "DEFAULT_IMAGE_SIZE",
    "LAPELS",
    "NECKLINES",
    "NECKS",
    "PANT_HEMS",
    "SKIRT_HEMS",
    "SLEEVE_ENDS",
    "check_image_size",
    "render_image",
    "render_with_info",
]

Point = tuple[float, float]
Color = tuple[int, int, int]

DEFAULT_IMAGE_SIZE: tuple[int, int] = (224, 224)
MIN_IMAGE_SIDE = 32

# Hem heights (body units) per value; Invisible has none.
SKIRT_HEMS = {1: 0.600, 2: 0.715, 3: 0.830, 4: 0.935, 5: 1.005}
COAT_HEMS = {1: 0.360, 2: 0.480, 3: 0.555, 4: 0.630, 5: 0.720, 6: 0.830, 7: 0.960}
PANT_HEMS = {1: 0.585, 2: 0.690, 3: 0.790, 4: 0.870, 5: 0.965}
# Sleeve end as a fraction of shoulder->wrist (>1 covers the hand); None = sleeveless.
SLEEVE_ENDS: dict[int, float | None] = {1: None, 2: 0.07, 3: 0.30, 4: 0.52, 5: 0.72, 6: 0.90, 7: 1.00, 8: 1.17}

COLLARS = {1: "shirt", 2: "peter_pan", 3: "puritan", 4: "rib"}
LAPELS = {1: "notched", 2: "collarless", 3: "shawl", 4: "plus_shawl"}
NECKLINES = {
    1: "strapless",
    2: "deep_v",
    3: "boat",
    4: "v",
    5: "square",
    6: "off_shoulder",
    7: "round",
    8: "sweetheart",
    9: "one_shoulder",
}
NECKS = {1: "turtle", 2: "ruffle", 3: "low_turtle", 4: "draped"}

_STREAMS = ("background", "body", "look", "outfit", "frame", "extras", "value", "finish")

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
_SIMPLE_NECKLINES = ("crew", "crew", "round", "v", "square", "boat", "deep_v", "sweetheart")


# ------------------------------------------------------------------------------------------ helpers
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


# ------------------------------------------------------------------------------------------ fabric
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


# ------------------------------------------------------------------------------------------ body
@dataclass
class Body:
    """A front-facing figure's proportions and pose (body units)."""

    ws: float  # horizontal width scale (slim .. plus size)
    nw: float  # neck half width
    nb: float  # y of the neck base
    chin: float  # y of the chin
    arm_a: tuple[float, float]  # upper-arm angle from vertical (rad), sides -1, +1
    arm_f: tuple[float, float]  # forearm angle from vertical (rad)
    leg_a: tuple[float, float]  # leg angle from vertical (rad)

    @staticmethod
    def sample(rng: np.random.Generator) -> "Body":
        """Draw proportions and a pose.

        Args:
            rng: random stream.

        Returns:
            The body.
        """
        ws = rng.uniform(0.9, 1.12)
        nw = 0.021 * rng.uniform(0.92, 1.1)
        nb = 0.158 + rng.uniform(-0.005, 0.005)
        chin = 0.124 + rng.uniform(-0.004, 0.003)
        a = rng.uniform(math.radians(5), math.radians(30), size=2)
        f = a + rng.uniform(math.radians(-18), math.radians(22), size=2)
        f = np.clip(f, math.radians(-6), math.radians(48))
        legs = rng.uniform(math.radians(1), math.radians(7), size=2)
        return Body(ws, nw, nb, chin, (a[0], a[1]), (f[0], f[1]), (legs[0], legs[1]))

    # --- landmarks
    @property
    def sh_y(self) -> float:
        """Height of the shoulder points."""
        return self.nb + 0.02

    def shoulder(self, side: int) -> Point:
        """Shoulder point on ``side`` (-1 image left, +1 image right)."""
        return (side * 0.1 * self.ws, self.sh_y)

    def armpit(self, side: int) -> Point:
        """Armpit point on ``side``."""
        return (side * 0.079 * self.ws, self.sh_y + 0.062)

    def torso_right(self, ease: float = 0.0, to: float = 0.5) -> list[Point]:
        """Right side silhouette of the torso below the armpit down to ``y=to`` (exclusive of hem)."""
        w = self.ws
        pts = [(0.083 * w + ease, 0.27), (0.066 * w + ease, 0.39), (0.094 * w + ease, 0.49), (0.093 * w + ease, 0.53)]
        out = []
        for x, y in pts:
            if y < to:
                out.append((x, y))
        out.append((self.torso_hw(to) + ease, to))
        return out

    def torso_hw(self, y: float) -> float:
        """Half width of the torso at height ``y`` (hips and below: the legs' outer extent)."""
        w = self.ws
        table = [
            (self.sh_y + 0.062, 0.079 * w),
            (0.27, 0.083 * w),
            (0.39, 0.066 * w),
            (0.49, 0.094 * w),
            (0.53, 0.093 * w),
        ]
        if y <= table[0][0]:
            return table[0][1]
        for (y0, x0), (y1, x1) in zip(table, table[1:]):
            if y <= y1:
                return x0 + (x1 - x0) * (y - y0) / (y1 - y0)
        return max(self.leg_outer(1, y), self.leg_outer(-1, y))

    # --- arms
    def _arm_dirs(self, side: int) -> tuple[Point, Point]:
        i = 0 if side < 0 else 1
        a, f = self.arm_a[i], self.arm_f[i]
        return (side * math.sin(a), math.cos(a)), (side * math.sin(f), math.cos(f))

    def arm_joint(self, side: int) -> Point:
        """Shoulder joint (start of the arm's centre line)."""
        return (side * 0.086 * self.ws, self.sh_y + 0.016)

    def arm_point(self, side: int, t: float) -> tuple[Point, Point, float]:
        """Centre, outward normal and half width at fraction ``t`` of shoulder->wrist (t > 1: hand)."""
        d1, d2 = self._arm_dirs(side)
        j = self.arm_joint(side)
        up, fore = 0.165, 0.145
        length = t * (up + fore)
        if length <= up:
            c = (j[0] + d1[0] * length, j[1] + d1[1] * length)
            d = d1
            hw = 0.026 + (0.019 - 0.026) * length / up
        else:
            e = (j[0] + d1[0] * up, j[1] + d1[1] * up)
            r = length - up
            c = (e[0] + d2[0] * r, e[1] + d2[1] * r)
            d = d2
            hw = 0.019 + (0.0135 - 0.019) * min(1.0, r / fore)
        n = (d[1] * side, -d[0] * side)
        return c, n, hw * (0.85 + 0.15 * self.ws)

    def arm_edges(
        self, side: int, t0: float, t1: float, extra: float = 0.0, flare: float = 0.0
    ) -> tuple[list[Point], list[Point]]:
        """Outer and inner edge polylines of the arm between ``t0`` and ``t1`` widened by ``extra``."""
        ts = [t0]
        for k in (0.25, 0.532, 0.8):
            if t0 < k < t1:
                ts.append(k)
        ts.append(t1)
        outer, inner = [], []
        for t in ts:
            c, n, hw = self.arm_point(side, t)
            w = hw + extra + flare * max(0.0, (t - t0) / max(1e-6, t1 - t0)) ** 2
            outer.append((c[0] + n[0] * w, c[1] + n[1] * w))
            inner.append((c[0] - n[0] * w, c[1] - n[1] * w))
        return outer, inner

    def arm_extent(self, y_max: float) -> float:
        """Largest ``|x|`` reached by either arm (edge included) at heights up to ``y_max``."""
        best = 0.0
        for side in (-1, 1):
            for k in range(26):
                c, _, hw = self.arm_point(side, k * 1.25 / 25)
                if c[1] - hw <= y_max:
                    best = max(best, abs(c[0]) + hw + 0.012)
        return best

    def limb(
        self,
        side: int,
        t1: float,
        extra: float,
        flare: float = 0.0,
        shoulder: Point | None = None,
        armpit: Point | None = None,
    ) -> list[Point]:
        """Closed polygon of an arm (or sleeve) from the shoulder to ``t1``.

        The inner edge is only followed below ``t = 0.25``; above that it lies inside the torso and
        the polygon closes through the armpit instead (no self-intersection)."""
        outer, _ = self.arm_edges(side, 0.0, t1, extra, flare)
        if t1 > 0.25:
            _, inner = self.arm_edges(side, 0.25, t1, extra, flare)
        else:
            _, inner = self.arm_edges(side, t1 - 1e-4, t1, extra, flare)
        sh = shoulder or self.shoulder(side)
        ap = armpit or self.armpit(side)
        return [sh] + outer + inner[::-1] + [ap]

    def hand_y(self) -> float:
        """Lowest fingertip height of both hands."""
        return max(self.arm_point(s, 1.22)[0][1] for s in (-1, 1))

    # --- legs
    def hip_joint(self, side: int) -> Point:
        """Top of the leg's centre line."""
        return (side * 0.047 * self.ws, 0.52)

    def leg_center(self, side: int, y: float) -> float:
        """``x`` of the leg's centre line at height ``y``."""
        a = self.leg_a[0 if side < 0 else 1]
        return self.hip_joint(side)[0] + side * math.tan(a) * (y - 0.52)

    def leg_hw(self, y: float) -> float:
        """Half width of a leg at height ``y``."""
        table = [(0.52, 0.047 * self.ws), (0.73, 0.028), (0.80, 0.030), (0.945, 0.015), (1.0, 0.016)]
        if y <= table[0][0]:
            return table[0][1]
        for (y0, x0), (y1, x1) in zip(table, table[1:]):
            if y <= y1:
                return x0 + (x1 - x0) * (y - y0) / (y1 - y0)
        return table[-1][1]

    def leg_outer(self, side: int, y: float) -> float:
        """``|x|`` of the leg's outer edge at height ``y``."""
        return abs(self.leg_center(side, y)) + self.leg_hw(y)

    def leg_polygon(self, side: int, y0: float, y1: float, ease: float = 0.0, flare: float = 0.0) -> list[Point]:
        """Closed polygon of a leg (or trouser leg widened by ``ease``/``flare``) from ``y0`` to ``y1``."""
        ys = [y0] + [y for y in (0.6, 0.73, 0.8, 0.88) if y0 < y < y1] + [y1]
        outer, inner = [], []
        for y in ys:
            c = self.leg_center(side, y)
            w = self.leg_hw(y) + ease + flare * max(0.0, (y - y0) / max(1e-6, y1 - y0))
            outer.append((c + side * w, y))
            inner.append((c - side * w, y))
        return outer + inner[::-1]


# ------------------------------------------------------------------------------------------ scene
@dataclass
class Top:
    """Upper-body garment (shirt, top, sweater, dress bodice)."""

    fabric: Fabric
    hem: float = 0.47
    sleeve: float | None = 0.3
    neckline: str = "crew"
    collar: str | None = None
    neck: str | None = None
    placket: bool = False
    placket_open: float = 0.0
    detail: str = "same"  # collar fill: same fabric | shade | contrast
    detail_color: Color = (240, 240, 240)
    trim: bool = False
    cuff: bool = False


@dataclass
class Bottom:
    """Skirt or trousers."""

    fabric: Fabric
    kind: str = "skirt"  # skirt | pants
    hem: float = 0.72
    flare: float = 0.2
    folds: int = 2


@dataclass
class Coat:
    """Outer garment worn over the top, open or closed."""

    fabric: Fabric
    hem: float = 0.55
    sleeve: float | None = 1.0
    lapel: str | None = "notched"
    closed: bool = False
    button_y: float = 0.34
    gap: float = 0.03
    shade_lapel: bool = False
    buttons: bool = True


@dataclass
class Outfit:
    """Everything the person wears."""

    top: Top
    bottom: Bottom | None
    coat: Coat | None = None
    dress: bool = False
    tucked: bool = True
    shoes: Color = (40, 30, 30)
    tights: Color | None = None


@dataclass
class Frame:
    """Visible range in body units and horizontal placement."""

    top: float = -0.03
    bottom: float = 1.04
    dx: float = 0.0  # horizontal offset as a fraction of the width


@dataclass
class Extras:
    """Accessories, occluders and view."""

    hair: str = "long"  # short | bob | long | bun
    back_view: bool = False
    scarf: float | None = None  # scarf width (half, body units) or None
    scarf_hang: float = 0.3
    hair_front: bool = False
    counter: float | None = None  # y of the counter's top edge
    board: tuple[float, float, float] | None = None  # (y0, y1, half width)
    cape: float | None = None  # cape hem y
    necklace: float | None = None  # necklace drop below the neck base
    strap: bool = False
    neck_jit: float = 0.0  # small height jitter of neck designs (value stream)
    fabrics: list[Fabric] = field(default_factory=list)


@dataclass
class Look:
    """Colours of skin, hair, background and occluders."""

    skin: Color
    hair: Color
    bg: tuple[Color, Color]
    occluder: Color


# ------------------------------------------------------------------------------------------ canvas
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


# ------------------------------------------------------------------------------------------ sampling
def _sleeve_sample(rng: np.random.Generator) -> float | None:
    v = int(rng.integers(1, 9))
    t = SLEEVE_ENDS[v]
    return None if t is None else t + rng.uniform(-0.03, 0.03) * (t > 0.1)


def _sample_look(rng: np.random.Generator) -> Look:
    skin = _jitter(rng, _SKIN[int(rng.integers(0, len(_SKIN)))], 10)
    hair = _jitter(rng, _HAIR[int(rng.integers(0, len(_HAIR)))], 12)
    h = rng.random()
    bg1 = _hsv(h, rng.uniform(0.0, 0.35), rng.uniform(0.45, 0.97))
    bg2 = _hsv(h + rng.uniform(-0.2, 0.2), rng.uniform(0.0, 0.4), rng.uniform(0.35, 0.97))
    occ = _hsv(rng.random(), rng.uniform(0.1, 0.7), rng.uniform(0.3, 0.9))
    return Look(skin, hair, (bg1, bg2), occ)


def _sample_outfit(name: str, rng: np.random.Generator) -> Outfit:
    """Attribute-irrelevant outfit choices (the value stream overrides the relevant part later)."""
    top = Top(
        fabric=Fabric.sample(rng),
        hem=rng.uniform(0.42, 0.53),
        sleeve=_sleeve_sample(rng),
        neckline=str(rng.choice(_SIMPLE_NECKLINES)),
        placket=bool(rng.random() < 0.3),
        placket_open=float(rng.uniform(0.0, 0.03)),
        detail=str(rng.choice(["same"] * 6 + ["shade"] * 3 + ["contrast"])),
        detail_color=_hsv(rng.random(), rng.uniform(0, 0.5), rng.uniform(0.5, 1.0)),
        trim=bool(rng.random() < 0.35),
        cuff=bool(rng.random() < 0.5),
    )
    # random collar on length images (attribute-irrelevant detail)
    collar_r = rng.random()
    collar_pick = COLLARS[int(rng.integers(1, 5))]
    if name not in ("collar_design", "lapel_design", "neckline_design", "neck_design") and collar_r < 0.15:
        top.collar, top.neckline = collar_pick, "crew"
    bkind = "skirt" if rng.random() < 0.5 else "pants"
    bhem = float(rng.choice(list(SKIRT_HEMS.values()) if bkind == "skirt" else list(PANT_HEMS.values())))
    bottom = Bottom(
        fabric=Fabric.sample(rng, plain_p=0.6),
        kind=bkind,
        hem=bhem + rng.uniform(-0.012, 0.012),
        flare=rng.uniform(0.05, 0.45) if bkind == "skirt" else rng.uniform(0.0, 0.03),
        folds=int(rng.integers(0, 4)),
    )
    dress = bool(rng.random() < 0.35) and bkind == "skirt"
    coat = None
    coat_r = rng.random()
    coat_fab = Fabric.sample(rng, plain_p=0.7)
    coat_hem = rng.uniform(0.36, 0.5)
    coat_lapel = str(rng.choice(["notched", "collarless", "shawl", "plus_shawl", "notched"]))
    coat_sleeve = rng.uniform(0.85, 1.05)
    coat_closed = bool(rng.random() < 0.3)
    button_y = rng.uniform(0.3, 0.4)
    gap = rng.uniform(0.015, 0.05)
    if coat_r < 0.12 and name in ("skirt_length", "pant_length", "sleeve_length"):
        coat = Coat(
            coat_fab, hem=coat_hem, sleeve=coat_sleeve, lapel=coat_lapel, closed=False, button_y=button_y, gap=gap
        )
    shoes = _hsv(rng.random(), rng.uniform(0, 0.6), rng.uniform(0.1, 0.7))
    tights = _hsv(rng.random(), rng.uniform(0, 0.3), rng.uniform(0.05, 0.3)) if rng.random() < 0.15 else None
    tucked = bool(rng.random() < 0.5)
    out = Outfit(top=top, bottom=bottom, coat=coat, dress=dress, tucked=tucked, shoes=shoes, tights=tights)
    if name == "skirt_length":
        out.bottom.kind = "skirt"
        out.bottom.flare = rng.uniform(0.05, 0.45)
        out.dress = bool(rng.random() < 0.5)
    elif name == "pant_length":
        out.bottom.kind = "pants"
        out.bottom.flare = rng.uniform(0.0, 0.035)
        out.dress = False
    elif name == "coat_length":
        out.coat = Coat(
            coat_fab, hem=0.6, sleeve=coat_sleeve, lapel=coat_lapel, closed=coat_closed, button_y=button_y, gap=gap
        )
    elif name == "sleeve_length":
        if coat_r > 0.72:  # the sleeve belongs to a coat/jacket
            out.coat = Coat(
                coat_fab,
                hem=coat_hem + 0.12,
                sleeve=coat_sleeve,
                lapel=coat_lapel,
                closed=coat_closed,
                button_y=button_y,
                gap=gap,
            )
    elif name == "collar_design":
        top.placket = bool(rng.random() < 0.6)
        top.neckline = "crew"
    elif name == "lapel_design":
        out.coat = Coat(
            coat_fab,
            hem=rng.uniform(0.5, 0.72),
            sleeve=coat_sleeve,
            lapel="notched",
            closed=coat_closed,
            button_y=button_y,
            gap=gap,
        )
        out.coat.shade_lapel = bool(rng.random() < 0.3)
        top.neckline = str(rng.choice(["crew", "round", "v", "crew"]))
    elif name == "neck_design":
        top.neckline = "crew"
        top.placket = False
    return out


def _sample_frame(name: str, rng: np.random.Generator) -> tuple[Frame, float, float]:
    """Default framing for the attribute plus two spare uniforms used by value-dependent framing."""
    dx = rng.uniform(-0.08, 0.08)
    head_cut = rng.random()
    full = rng.random()
    u1, u2 = rng.random(), rng.random()
    if name in ("collar_design", "lapel_design", "neckline_design", "neck_design"):
        top = rng.uniform(-0.035, 0.05) if head_cut > 0.2 else rng.uniform(0.07, 0.11)
        bottom = rng.uniform(0.42, 0.64)
        return Frame(top, bottom, dx * 0.6), u1, u2
    top = rng.uniform(-0.045, 0.04) if head_cut > 0.22 else rng.uniform(0.1, 0.22)
    bottom = rng.uniform(1.02, 1.07) if full > 0.35 else -1.0  # -1: "just below the hem", set later
    return Frame(top, bottom, dx), u1, u2


def _sample_extras(name: str, rng: np.random.Generator) -> Extras:
    hair = str(rng.choice(["short", "bob", "long", "long", "bun"]))
    r = rng.random(8)
    fabrics = [Fabric.sample(rng, plain_p=0.5) for _ in range(2)]
    ex = Extras(hair=hair, fabrics=fabrics)
    ex.scarf_hang = rng.uniform(0.26, 0.4)
    cy0, board_y0, board_len, board_w, cape_len, neck_drop = (
        rng.uniform(0, 1),
        rng.uniform(0, 1),
        rng.uniform(0, 1),
        rng.uniform(0.17, 0.26),
        rng.uniform(0, 1),
        rng.uniform(0.03, 0.09),
    )
    ex.board = None
    if name in ("collar_design", "lapel_design", "neckline_design", "neck_design"):
        ex.necklace = neck_drop if r[0] < 0.3 else None
        ex.strap = bool(r[1] < 0.2)
        if r[2] < 0.15:
            ex.board = (0.3 + 0.1 * board_y0, 1.1, board_w)
        if r[3] < 0.12:
            ex.counter = 0.36 + 0.1 * cy0
    else:
        ex.back_view = bool(r[0] < 0.12)
        ex.scarf = 0.05 if r[1] < 0.12 and name != "sleeve_length" else None
        ex.hair_front = bool(r[2] < 0.06)
        ex.necklace = neck_drop if r[5] < 0.15 else None
        # occluders placed relative to the hem later; store the uniforms
        ex.counter = -cy0 - 1.0 if r[3] < 0.18 else None  # negative: "place below the hem"
        if r[4] < 0.14:
            ex.board = (-1.0 - board_y0, board_len, board_w)
        if name == "sleeve_length" and r[6] < 0.12:
            ex.cape = 0.24 + 0.03 * cape_len  # capelet over the shoulders only
    return ex


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


def _apply_value(
    name: str,
    v: int,
    body: Body,
    out: Outfit,
    frame: Frame,
    ex: Extras,
    u: tuple[float, float],
    rng: np.random.Generator,
) -> None:
    """Set the label-carrying part of the scene (and Invisible's hiding mode) from the value stream."""
    mode = rng.random()
    jit = rng.uniform(-1.0, 1.0)
    hidden = rng.random()
    lo = rng.random()
    if name == "skirt_length":
        sk = out.bottom
        assert sk is not None
        if v > 0:
            sk.hem = SKIRT_HEMS[v] + 0.012 * jit
            if v == 5:
                sk.flare = max(sk.flare, 0.25)
            _below_hem(frame, ex, sk.hem, u[0])
        else:
            sk.hem = SKIRT_HEMS[2 + int(hidden * 4)] + 0.012 * jit
            if mode < 0.4:  # cropped above the hem
                frame.bottom = 0.44 + 0.12 * lo
                frame.top = min(frame.top, 0.02)
            elif mode < 0.75:  # standing behind a counter
                frame.bottom = max(frame.bottom, 1.02)
                ex.counter = 0.45 + 0.11 * lo
            else:  # a closed long coat hides the skirt
                frame.bottom = max(frame.bottom, 1.02)
                out.coat = Coat(
                    ex.fabrics[0],
                    hem=0.95 + 0.04 * lo,
                    sleeve=0.95,
                    lapel="notched",
                    closed=True,
                    button_y=0.3,
                    gap=0.0,
                )
            _below_hem(frame, ex, 1.2, u[0])
            ex.counter = ex.counter if ex.counter is None or ex.counter > 0 else None
            ex.board = ex.board if ex.board is None or ex.board[0] > 0 else None
    elif name == "pant_length":
        pt = out.bottom
        assert pt is not None
        if v > 0:
            pt.hem = PANT_HEMS[v] + 0.012 * jit
            _below_hem(frame, ex, pt.hem, u[0])
        else:
            pt.hem = PANT_HEMS[1 + int(hidden * 5)] + 0.012 * jit
            frame.bottom = max(frame.bottom, 1.02)
            if mode < 0.4:
                frame.bottom = 0.45 + 0.1 * lo
                frame.top = min(frame.top, 0.02)
            elif mode < 0.75:
                ex.counter = 0.46 + 0.09 * lo
            else:  # a big shopping bag in front of the legs
                ex.board = (0.47 + 0.05 * lo, 1.1, 0.19)
            ex.counter = ex.counter if ex.counter is None or ex.counter > 0 else None
            ex.board = ex.board if ex.board is None or ex.board[0] > 0 else None
    elif name == "coat_length":
        ct = out.coat
        assert ct is not None
        if v > 0:
            ct.hem = COAT_HEMS[v] + 0.012 * jit
            _below_hem(frame, ex, ct.hem, u[0])
        else:
            ct.hem = COAT_HEMS[1 + int(hidden * 7)] + 0.012 * jit
            frame.top = min(frame.top, 0.0)
            if mode < 0.55:
                frame.bottom = 0.29 + 0.06 * lo
            else:
                frame.bottom = max(frame.bottom, 1.02)
                ex.counter = 0.29 + 0.05 * lo
            ex.board = None
            ex.counter = ex.counter if ex.counter is None or ex.counter > 0 else None
    elif name == "sleeve_length":
        holder = out.coat if out.coat is not None else out.top
        if out.coat is not None:
            out.top.sleeve = None  # the coat carries the sleeve; the top under it is sleeveless
        if v > 0:
            t = SLEEVE_ENDS[v]
            holder.sleeve = None if t is None else t + (0.025 * jit if t > 0.1 else 0.01 * jit)
            if ex.cape is not None and (t is None or t < 0.3):
                ex.cape = None
            _below_hem(frame, ex, max(0.64, body.hand_y() + 0.02), u[0])
        else:
            holder.sleeve = SLEEVE_ENDS[2 + int(hidden * 7)]
            if mode < 0.55:  # cape / poncho over the arms
                ex.cape = 0.62 + 0.05 * lo
            else:  # holding a board in front of torso and arms
                ex.board = (0.2 + 0.02 * lo, 0.68 + 0.05 * lo, max(0.24, body.arm_extent(0.75) + 0.02) + 0.02 * lo)
                ex.cape = None
            _below_hem(frame, ex, 0.72, u[0])
            ex.counter = None
    else:  # design attributes
        table = {"collar_design": COLLARS, "lapel_design": LAPELS, "neckline_design": NECKLINES, "neck_design": NECKS}[
            name
        ]
        value = table[v] if v > 0 else table[1 + int(hidden * len(table))]
        if v == 0 and name == "neckline_design" and 0.27 <= mode < 0.74:
            # scarf / hair hide only a neckline that stays close to the neck
            value = ("v", "square", "round", "sweetheart")[int(hidden * 4)]
        if name == "collar_design":
            out.top.collar = value
        elif name == "lapel_design":
            assert out.coat is not None
            out.coat.lapel = value
        elif name == "neckline_design":
            out.top.neckline = value
            if value == "strapless":
                out.top.sleeve = None
        else:
            out.top.neck = value
        ex.neck_jit = 0.004 * jit
        if v == 0:
            if mode < 0.27:
                ex.back_view = True
            elif mode < 0.52:
                ex.scarf = 0.085 if name in ("collar_design", "neckline_design", "lapel_design") else 0.06
                ex.scarf_hang = 0.3 + 0.1 * lo
                ex.necklace = None
            elif mode < 0.74:
                ex.hair_front = True
                ex.hair = "long"
                ex.necklace = None
            else:  # framed below the neck region
                frame.top = 0.3 + 0.05 * lo
                frame.bottom = frame.top + 0.38 + 0.15 * u[0]
                ex.counter, ex.board = None, None


# ------------------------------------------------------------------------------------------ drawing
def _background(size: tuple[int, int], look: Look, rng: np.random.Generator) -> Image.Image:
    """Gradient + blurred clutter, drawn at 1/4 resolution and upscaled (cheap depth of field)."""
    w, h = size
    sw, sh = max(8, w // 4), max(8, h // 4)
    t = np.linspace(0.0, 1.0, sh, dtype=np.float32)[:, None]
    ang = rng.uniform(-0.6, 0.6)
    t = np.clip(t + ang * (np.linspace(-0.5, 0.5, sw, dtype=np.float32)[None, :]), 0, 1)
    c1 = np.array(look.bg[0], np.float32)
    c2 = np.array(look.bg[1], np.float32)
    arr = c1[None, None, :] * (1 - t[..., None]) + c2[None, None, :] * t[..., None]
    small = Image.fromarray(arr.astype(np.uint8), "RGB")
    d = ImageDraw.Draw(small)
    n = int(rng.integers(2, 9))
    for _ in range(n):
        kind = int(rng.integers(0, 4))
        col = _hsv(rng.random(), rng.uniform(0, 0.5), rng.uniform(0.3, 0.95))
        x0, y0 = rng.uniform(-0.2, 1.0) * sw, rng.uniform(-0.2, 1.0) * sh
        x1, y1 = x0 + rng.uniform(0.05, 0.6) * sw, y0 + rng.uniform(0.05, 0.8) * sh
        if kind == 0:
            d.rectangle([x0, y0, x1, y1], fill=col)
        elif kind == 1:
            d.ellipse([x0, y0, x1, y1], fill=col)
        elif kind == 2:
            d.line([x0, y0, x1, y1], fill=col, width=int(rng.integers(1, 3)))
        else:
            d.polygon([(x0, y1), ((x0 + x1) / 2, y0), (x1, y1)], fill=col)
    if rng.random() < 0.4:  # floor line
        fy = rng.uniform(0.6, 0.95) * sh
        d.rectangle([0, fy, sw, sh], fill=_scale(look.bg[1], rng.uniform(0.7, 0.95)))
    return small.resize(size, Image.BILINEAR)


def _draw_legs(cv: Canvas, body: Body, out: Outfit, look: Look) -> None:
    legc = out.tights or look.skin
    for side in (-1, 1):
        cv.solid(body.leg_polygon(side, 0.48, 0.955), legc)
        c = body.leg_center(side, 0.955)
        foot = [(c - 0.017, 0.94), (c + 0.017, 0.94), (c + side * 0.012 + 0.02, 1.0), (c + side * 0.012 - 0.02, 1.0)]
        cv.solid(foot, out.shoes)


def _draw_arm_skin(cv: Canvas, body: Body, look: Look, side: int, t0: float = 0.0) -> None:
    """Arm from ``t0`` (0 = shoulder) to the fingertips."""
    if t0 <= 0.0:
        cv.solid(body.limb(side, 1.0, 0.0), look.skin)
    else:
        outer, inner = body.arm_edges(side, t0, 1.0)
        cv.solid(outer + inner[::-1], look.skin)
    c, n, hw = body.arm_point(side, 1.0)
    tip, _, _ = body.arm_point(side, 1.2)
    hand = [
        (c[0] + n[0] * hw, c[1] + n[1] * hw),
        (tip[0] + n[0] * hw * 0.9, tip[1] + n[1] * hw * 0.9),
        (tip[0] * 1.0 + (tip[0] - c[0]) * 0.25, tip[1] + (tip[1] - c[1]) * 0.25),
        (tip[0] - n[0] * hw * 0.9, tip[1] - n[1] * hw * 0.9),
        (c[0] - n[0] * hw, c[1] - n[1] * hw),
    ]
    cv.solid(hand, _scale(look.skin, 0.97))


def _draw_torso_skin(cv: Canvas, body: Body, look: Look) -> None:
    nb, nw = body.nb, body.nw
    right = [
        (nw, body.chin - 0.004),
        (nw, nb - 0.006),
        body.shoulder(1),
        (0.094 * body.ws, body.sh_y + 0.025),
        body.armpit(1),
    ]
    right += body.torso_right(0.0, 0.53)
    cv.solid(_sym(right), look.skin)


def _draw_head(cv: Canvas, body: Body, look: Look, ex: Extras) -> None:
    hc = (0.0, 0.064)
    rx, ry = 0.043, 0.061
    if ex.back_view:
        cv.ellipse(hc, rx * 1.08, ry * 1.05, look.hair)
        if ex.hair in ("long", "bob"):
            drop = 0.3 if ex.hair == "long" else 0.17
            cv.solid([(-0.05, 0.06), (0.05, 0.06), (0.062, drop), (-0.062, drop)], look.hair)
        elif ex.hair == "bun":
            cv.ellipse((0.0, 0.0), 0.022, 0.02, _scale(look.hair, 0.9))
        return
    cv.ellipse(hc, rx, ry, look.skin)
    eye = (40, 30, 30)
    for side in (-1, 1):
        cv.dot((side * 0.016, 0.06), max(0.8, 0.0035 * cv.s), eye)
    cv.line([(-0.009, 0.097), (0.009, 0.097)], _mix(look.skin, (150, 40, 50), 0.6))
    # hair on top
    cap = _arc(hc[0], hc[1] - 0.004, rx * 1.1, ry * 1.04, 180, 360, 12)
    fringe = [(rx * 1.08, 0.045), (0.02, 0.028), (-0.015, 0.035), (-rx * 1.08, 0.05)]
    cv.solid(cap + fringe, look.hair)
    if ex.hair == "bob":
        for side in (-1, 1):
            cv.solid(_flip([(0.036, 0.04), (0.052, 0.05), (0.056, 0.115), (0.04, 0.118)], side), look.hair)
    elif ex.hair == "bun":
        cv.ellipse((0.0, -0.006), 0.022, 0.02, _scale(look.hair, 0.9))
    elif ex.hair == "long":
        for side in (-1, 1):
            cv.solid(_flip([(0.036, 0.04), (0.052, 0.05), (0.06, 0.12), (0.048, 0.125)], side), look.hair)


def _draw_back_hair(cv: Canvas, body: Body, look: Look, ex: Extras) -> None:
    if ex.hair == "long" and not ex.back_view:
        cv.solid([(-0.05, 0.05), (0.05, 0.05), (0.075, 0.29), (-0.075, 0.29)], _scale(look.hair, 0.85))


def _neck_edge(body: Body) -> list[Point]:
    """The crew-neck edge across the neck base, left to right."""
    nb, nw = body.nb, body.nw
    return _arc(0.0, nb - 0.008, nw + 0.005, 0.015, 180, 0, 8)


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


def _top_polygons(body: Body, top: Top, hem: float, ease: float) -> tuple[list[list[Point]], list[list[Point]]]:
    """Torso polygon(s) and sleeve polygons of a top."""
    nb, nw, ws = body.nb, body.nw, body.ws
    kind = top.neckline
    sides = body.torso_right(ease, hem)
    sleeves: list[list[Point]] = []
    if kind == "strapless":
        y = body.sh_y + 0.066
        right = [(0.0, y + 0.004), (0.081 * ws + ease, y)] + sides
        return [_sym(right)], sleeves
    if kind == "off_shoulder":
        y = body.sh_y + 0.03
        right = [(0.0, y + 0.006), (0.09 * ws, y)] + [body.armpit(1)] + sides
        torso = _sym(right)
        for side in (-1, 1):
            t1 = max(0.16, top.sleeve or 0.16)
            outer, inner = body.arm_edges(side, 0.1, t1, 0.006, 0.006 if t1 > 0.9 else 0.0)
            sleeves.append(outer + inner[::-1])
        return [torso], sleeves
    if kind == "one_shoulder":
        right = [(-0.02, nb + 0.0), (0.04, body.sh_y + 0.025), (0.079 * ws + ease, body.sh_y + 0.068)] + sides
        left = _mirror(sides)[::-1] + [body.armpit(-1), (-0.1 * ws, body.sh_y), (-nw - 0.012, nb - 0.008)]
        torso = right + left
        if top.sleeve is not None:
            sleeves.append(body.limb(-1, top.sleeve, 0.006))
        return [torso], sleeves
    edge = _neck_edge(body)
    right_edge = [p for p in edge if p[0] >= 0]
    right_edge.sort(key=lambda p: p[0])
    if top.sleeve is None:
        shoulder = [(0.074 * ws, body.sh_y - 0.004), (0.07 * ws, body.sh_y + 0.03)]
        right = right_edge + shoulder + [(0.08 * ws + ease, body.sh_y + 0.066)] + sides
    else:
        right = (
            right_edge
            + [(0.101 * ws + ease, body.sh_y), (0.105 * ws + ease, body.sh_y + 0.014), body.armpit(1)]
            + sides
        )
        for side in (-1, 1):
            flare = 0.008 if top.sleeve > 1.1 else 0.0
            sh = (side * (0.101 * ws + ease), body.sh_y - 0.002)
            sleeves.append(body.limb(side, top.sleeve, 0.0055, flare, shoulder=sh))
    torso = right + _mirror(right)[::-1]
    return [torso], sleeves


def _sleeve_outline(
    cv: Canvas, body: Body, side: int, t0: float, t1: float, extra: float, flare: float, color: Color
) -> None:
    """Outline a sleeve along its outer edge, its cuff and the lower part of its inner edge
    (the upper inner edge lies over the torso and is not drawn)."""
    outer, inner = body.arm_edges(side, t0, t1, extra, flare)
    cv.line(outer + [inner[-1]], color)
    if t1 > 0.3:
        _, inner_low = body.arm_edges(side, 0.3, t1, extra, flare)
        cv.line(inner_low, color)


def _draw_top_sleeves(cv: Canvas, body: Body, top: Top, hem: float) -> None:
    """Sleeves of a top (drawn after the arms so they sit on them)."""
    _, sleeves = _top_polygons(body, top, hem, 0.006)
    if not sleeves:
        return
    cv.fabric(sleeves, top.fabric)
    oc = _line_color(top.fabric.base, 0.8)
    for side in (-1, 1) if top.neckline != "one_shoulder" else (-1,):
        if top.neckline == "off_shoulder":
            t1 = max(0.16, top.sleeve or 0.16)
            _sleeve_outline(cv, body, side, 0.1, t1, 0.006, 0.006 if t1 > 0.9 else 0.0, oc)
        elif top.sleeve is not None:
            _sleeve_outline(cv, body, side, 0.0, top.sleeve, 0.0055, 0.008 if top.sleeve > 1.1 else 0.0, oc)
    if top.sleeve is not None and top.cuff:
        for side in (-1, 1) if top.neckline != "one_shoulder" else (-1,):
            t = top.sleeve - 0.04
            if t > 0.12:
                o, i = body.arm_edges(side, t, t + 0.001, 0.0055)
                cv.line([o[0], i[0]], oc)


_BARE_SHOULDER_EDGES = ("strapless", "off_shoulder", "one_shoulder")


def _draw_top_body(cv: Canvas, body: Body, top: Top, look: Look, ex: Extras, hem: float) -> None:
    """Torso part of a top with its neckline, placket, collar or neck design."""
    torsos, _ = _top_polygons(body, top, hem, 0.006)
    cv.fabric(torsos, top.fabric)
    oc = _line_color(top.fabric.base, 0.8)
    for poly in torsos:
        cv.line(poly, oc, closed=True)
    trim = top.detail_color if top.trim else oc
    if ex.back_view:  # back of the garment: plain high neckline, no front details
        if top.neckline not in _BARE_SHOULDER_EDGES:
            cv.line(_neck_edge(body), oc)
        return
    opening = _neckline_opening(body, top.neckline) if top.collar is None and top.neck is None else None
    if opening is not None:
        poly, edge = opening
        cv.solid(poly, look.skin)
        cv.line(edge, trim)
    elif top.neckline in _BARE_SHOULDER_EDGES:
        nb, sh, ws = body.nb, body.sh_y, body.ws
        if top.neckline == "strapless":
            edge = [(-0.081 * ws, sh + 0.066), (0.0, sh + 0.07), (0.081 * ws, sh + 0.066)]
        elif top.neckline == "off_shoulder":
            edge = [(-0.09 * ws, sh + 0.03), (0.0, sh + 0.036), (0.09 * ws, sh + 0.03)]
        else:
            edge = [(-(body.nw + 0.012), nb - 0.008), (-0.02, nb), (0.04, sh + 0.025), (0.079 * ws, sh + 0.068)]
        cv.line(edge, trim)
    elif top.collar is None and top.neck is None:
        cv.line(_neck_edge(body), oc)
    if (opening is not None or top.neckline in _BARE_SHOULDER_EDGES) and top.neckline not in ("v", "deep_v"):
        cb = _mix(look.skin, (90, 60, 50), 0.25)  # collar bones: faint thin lines
        for side in (-1, 1):
            cv.line(_flip([(0.012, body.nb + 0.012), (0.03, body.nb + 0.009)], side), cb)
    if top.placket and top.neck is None and top.neckline == "crew":
        y0 = body.nb + 0.004 + top.placket_open
        y1 = min(hem - 0.02, 0.4)
        cv.line([(0.0, y0), (0.0, y1)], oc)
        k = y0 + 0.02
        while k < y1:
            cv.dot((0.004, k), max(0.7, 0.0028 * cv.s), _line_color(top.fabric.base, 1.0))
            k += 0.035
        if top.placket_open > 0.012:
            cv.solid([(-0.006, body.nb - 0.002), (0.006, body.nb - 0.002), (0.0, y0)], look.skin)
    if top.collar is not None:
        _draw_collar(cv, body, top, look)
    if top.neck is not None:
        _draw_neck_design(cv, body, top, look, ex.neck_jit)


def _detail_same(top: Top) -> bool:
    """Collar/neck pieces are cut from the garment's own fabric (a shade of a patterned fabric
    would be a coarse cue, so patterned fabrics only get 'same' or 'contrast')."""
    return top.detail == "same" or (top.detail == "shade" and top.fabric.kind != "plain")


def _detail_fill(top: Top) -> Color:
    if top.detail == "contrast":
        return top.detail_color
    if top.detail == "shade":
        return _scale(top.fabric.base, 1.08 if _lum(top.fabric.base) < 160 else 0.93)
    return top.fabric.base


def _draw_collar(cv: Canvas, body: Body, top: Top, look: Look) -> None:
    """Collar designs: same coarse footprint, distinguished by thin outlines and small shapes."""
    nb, nw, ws = body.nb, body.nw, body.ws
    fill = _detail_fill(top)
    same = _detail_same(top)
    oc = _line_color(fill, 0.75)
    polys: list[list[Point]] = []
    lines: list[tuple[list[Point], bool]] = []
    kind = top.collar
    if kind == "shirt":
        # a low stand: covers only a sliver more of the neck than the plain crew edge
        stand = _arc(0.0, nb - 0.008, nw + 0.004, 0.015, 180, 0, 8)
        band = [(-nw - 0.002, nb - 0.015), (0.0, nb - 0.004), (nw + 0.002, nb - 0.015)] + stand[::-1]
        polys.append(band)
        lines.append((band, True))
        for side in (-1, 1):
            flap = _flip(
                [(0.002, nb + 0.004), (nw + 0.003, nb - 0.013), (nw + 0.03, nb + 0.004), (0.018, nb + 0.048)], side
            )
            polys.append(flap)
            lines.append((flap, True))
            lines.append((_flip([(nw + 0.022, nb + 0.004), (0.018, nb + 0.038)], side), False))  # stitch line
    elif kind == "peter_pan":
        for side in (-1, 1):
            arc = _arc(0.022, nb + 0.012, 0.026, 0.026, -110, 170, 14)
            flap = _flip([(0.002, nb + 0.004), (nw * 0.6, nb - 0.001)] + arc[:-1] + [(0.002, nb + 0.03)], side)
            polys.append(flap)
            lines.append((flap, True))
    elif kind == "puritan":
        for side in (-1, 1):
            right = [
                (0.002, nb + 0.004),
                (nw * 0.7, nb - 0.004),
                (nw + 0.004, nb - 0.009),
                (0.07 * ws, body.sh_y + 0.004),
            ]
            right += _bezier((0.072 * ws, body.sh_y + 0.01), (0.074 * ws, nb + 0.066), (0.04, nb + 0.064), 6)
            right += [(0.006, nb + 0.062), (0.002, nb + 0.02)]
            flap = _flip(right, side)
            polys.append(flap)
            lines.append((flap, True))
    elif kind == "rib":
        inner = _arc(0.0, nb - 0.008, nw + 0.005, 0.015, 180, 0, 10)
        outer = _arc(0.0, nb - 0.008, nw + 0.017, 0.028, 0, 180, 10)
        ring = inner + outer
        polys.append(ring)
        lines.append((inner, False))
        lines.append((outer, False))
    if not same:
        for p in polys:
            cv.solid(p, fill)
    else:
        cv.fabric(polys, top.fabric)
    for pts, closed in lines:
        cv.line(pts, oc, closed=closed)
    if kind == "rib":  # radial rib lines every ~3 px at 224
        rc = _line_color(fill, 0.7)
        n = max(6, int(round(0.11 * cv.s / 3.2)))
        for i in range(n + 1):
            a = math.radians(180 - 180 * i / n)
            p0 = (math.cos(a) * (nw + 0.005), nb - 0.008 + math.sin(a) * 0.015)
            p1 = (math.cos(a) * (nw + 0.017), nb - 0.008 + math.sin(a) * 0.028)
            if p0[1] > nb - 0.012:
                cv.line([p0, p1], rc)


def _draw_neck_design(cv: Canvas, body: Body, top: Top, look: Look, jit: float) -> None:
    """Neck designs: a tube/band over the neck whose height overlaps between values; the
    distinguishing cues are a fold line (turtle), ribbing (turtle / low turtle), a scalloped
    edge with frills (ruffle) and drape folds (draped)."""
    nb, nw = body.nb, body.nw
    fill = _detail_fill(top)
    oc = _line_color(fill, 0.9)
    kind = top.neck
    heights = {"turtle": 0.031, "ruffle": 0.027, "low_turtle": 0.023, "draped": 0.02}
    top_y = nb - heights[kind or "turtle"] + jit
    wide = 0.01 if kind == "draped" else 0.006
    base = _arc(0.0, nb - 0.004, nw + wide + 0.005, 0.016, 0, 180, 8)
    if kind == "ruffle":
        n = 10
        edge = []
        for i in range(n + 1):
            x = -(nw + 0.008) + 2 * (nw + 0.008) * i / n
            edge.append((x, top_y + (0.0035 if i % 2 else 0.0)))
        tube = edge + [(nw + 0.008, nb - 0.004)] + base[1:-1] + [(-(nw + 0.008), nb - 0.004)]
    else:
        tube = (
            [(-(nw + wide), top_y), (nw + wide, top_y), (nw + wide + 0.005, nb - 0.004)]
            + base[1:-1]
            + [(-(nw + wide + 0.005), nb - 0.004)]
        )
    if _detail_same(top):
        cv.fabric([tube], top.fabric)
    else:
        cv.solid(tube, fill)
    cv.line(tube, oc, closed=True)
    rc = _line_color(fill, 0.65)
    if kind in ("turtle", "low_turtle"):
        n = max(5, int(round(2 * (nw + wide) * cv.s / 3.0)))
        for i in range(1, n):
            x = -(nw + wide) + 2 * (nw + wide) * i / n
            cv.line([(x, top_y + 0.002), (x * 1.12, nb - 0.006)], rc)
        if kind == "turtle":
            fy = top_y + 0.4 * (nb - top_y)
            cv.line([(-(nw + wide + 0.002), fy), (0.0, fy + 0.003), (nw + wide + 0.002, fy)], oc)
    elif kind == "ruffle":
        for i in range(1, 10, 2):
            x = -(nw + 0.008) + 2 * (nw + 0.008) * i / 10
            cv.line([(x, top_y + 0.002), (x, top_y + 0.008)], rc)
        gy = top_y + 0.55 * (nb - top_y)
        cv.line([(-(nw + 0.008), gy), (nw + 0.008, gy)], rc)
    elif kind == "draped":
        for k, drop in enumerate((0.016, 0.028, 0.04)):
            w = nw + 0.014 + 0.006 * k
            cv.line(_bezier((-w, nb - 0.002), (0.0, nb + drop * 1.6), (w, nb - 0.002), 10), oc if k == 0 else rc)


def _coat_panel(body: Body, coat: Coat, side: int) -> list[Point]:
    nb, nw, ws = body.nb, body.nw, body.ws
    hem = coat.hem
    hw_hem = max(body.torso_hw(hem) + 0.014, 0.1 * ws) + 0.1 * max(0.0, hem - 0.5)
    ease = 0.012
    sides = [(x + ease * 0.5, y) for x, y in body.torso_right(ease, min(hem, 0.53))]
    if hem > 0.53:
        sides.append((hw_hem, hem))
    gap_b = 0.0 if coat.closed else coat.gap * 0.5
    gap_h = 0.0 if coat.closed else coat.gap
    right = (
        [
            (nw + 0.004, nb - 0.012),
            (0.106 * ws, body.sh_y - 0.002),
            (0.11 * ws, body.sh_y + 0.014),
            (0.084 * ws, body.sh_y + 0.07),
        ]
        + sides
        + [(gap_h, hem), (gap_b, coat.button_y), (nw * 0.5, nb + 0.004)]
    )
    return _flip(right, side)


def _draw_coat(cv: Canvas, body: Body, coat: Coat, look: Look, ex: Extras) -> None:
    """Coat panels, buttons and lapels (sleeves: :func:`_draw_coat_sleeves`)."""
    panels = [_coat_panel(body, coat, s) for s in (-1, 1)]
    if ex.back_view:  # from behind: one closed back panel
        right = _coat_panel(body, coat, 1)[:-3]
        panels = [_sym([(0.0, body.nb - 0.014)] + right + [(0.0, coat.hem)])]
    cv.fabric(panels, coat.fabric)
    oc = _line_color(coat.fabric.base, 0.85)
    if ex.back_view:
        cv.line(panels[0], oc, closed=True)
        return
    for p in panels:
        cv.line(p[:2], oc)  # shoulder seam
        cv.line(p[3:] + p[:1], oc)  # side, hem, front edge, V
    if coat.closed and coat.buttons:
        y = coat.button_y
        while y < coat.hem - 0.03 and y < 0.7:
            cv.dot((0.006, y), max(0.8, 0.003 * cv.s), _line_color(coat.fabric.base, 1.0))
            y += 0.05
    _draw_lapels(cv, body, coat)


def _draw_coat_sleeves(cv: Canvas, body: Body, coat: Coat) -> None:
    if coat.sleeve is None:
        return
    sleeves = []
    for side in (-1, 1):
        sh = (side * 0.108 * body.ws, body.sh_y - 0.002)
        ap = (side * 0.084 * body.ws, body.sh_y + 0.07)
        sleeves.append(body.limb(side, coat.sleeve, 0.009, 0.006 if coat.sleeve > 1.1 else 0.0, shoulder=sh, armpit=ap))
    cv.fabric(sleeves, coat.fabric)
    oc = _line_color(coat.fabric.base, 0.85)
    for side in (-1, 1):
        _sleeve_outline(cv, body, side, 0.0, coat.sleeve, 0.009, 0.006 if coat.sleeve > 1.1 else 0.0, oc)


def _draw_lapels(cv: Canvas, body: Body, coat: Coat) -> None:
    """Lapel designs: lapels share the coat fabric and the same V opening; notched / shawl /
    plus-size shawl / collarless differ in outlines (a small notch, a smooth roll, a wider roll,
    only a topstitch)."""
    nb, nw = body.nb, body.nw
    gap_b = 0.0 if coat.closed else coat.gap * 0.5
    b = (gap_b, coat.button_y)
    neck = (nw * 0.5, nb + 0.004)
    c0 = (nw + 0.004, nb - 0.016)
    fill = _scale(coat.fabric.base, 1.07 if _lum(coat.fabric.base) < 150 else 0.94) if coat.shade_lapel else None
    oc = _line_color(coat.fabric.base, 0.9)
    polys: list[list[Point]] = []
    lines: list[list[Point]] = []
    kind = coat.lapel
    for side in (-1, 1):
        if kind == "notched":
            c1 = (nw + 0.034, nb + 0.026)
            n = (nw + 0.025, nb + 0.04)
            lp = (nw + 0.056, nb + 0.044)
            outer = [c0, c1, n, lp] + _bezier(lp, (nw + 0.045, nb + 0.1), b, 8)[1:]
            poly = [neck] + outer
            polys.append(_flip(poly, side))
            lines.append(_flip(outer, side))
            lines.append(_flip([(nw + 0.012, nb - 0.006), n], side))  # gorge seam
        elif kind in ("shawl", "plus_shawl"):
            w = 0.034 if kind == "shawl" else 0.06
            outer = [c0] + _bezier((nw + 0.01, nb - 0.01), (nw + w + 0.01, nb + 0.04), b, 12)
            poly = [neck] + outer
            polys.append(_flip(poly, side))
            lines.append(_flip(outer, side))
        elif kind == "collarless":
            edge = [(gap_b + 0.006, coat.button_y), (nw * 0.5 + 0.008, nb + 0.006), (nw + 0.01, nb - 0.01)]
            lines.append(_flip(edge, side))  # topstitch parallel to the opening
    if polys:
        if fill is None:
            cv.fabric(polys, coat.fabric)
        else:
            for p in polys:
                cv.solid(p, fill)
    for ln in lines:
        cv.line(ln, oc)


def _draw_bottom(cv: Canvas, body: Body, bottom: Bottom, fab: Fabric) -> None:
    oc = _line_color(fab.base, 0.8)
    if bottom.kind == "skirt":
        hem = bottom.hem
        hw_hip = body.torso_hw(0.49) + 0.006
        needed = max(body.leg_outer(-1, min(hem, 0.95)), body.leg_outer(1, min(hem, 0.95))) + 0.008
        hw = max(needed, hw_hip + bottom.flare * max(0.0, hem - 0.49))
        right = [(body.torso_hw(0.39) + 0.006, 0.39), (hw_hip, 0.49), (hw, hem)]
        poly = [(0.0, 0.385)] + right + [(0.0, hem + 0.008)] + _mirror(right)[::-1]
        poly = (
            [(0.0, 0.385)]
            + right
            + [(hw * 0.5, hem + 0.006), (0.0, hem + 0.008), (-hw * 0.5, hem + 0.006)]
            + _mirror(right)[::-1]
        )
        cv.fabric([poly], fab)
        cv.line(poly, oc, closed=True)
        fc = _line_color(fab.base, 0.5)
        for k in range(bottom.folds):
            x = (k + 1) / (bottom.folds + 1) * 2 - 1
            cv.line([(x * hw_hip * 0.8, 0.5), (x * hw * 0.85, hem - 0.01)], fc)
    else:
        polys = []
        for side in (-1, 1):
            leg = body.leg_polygon(side, 0.5, bottom.hem, 0.007, bottom.flare)
            polys.append(leg)
        waist = [
            (-body.torso_hw(0.39) - 0.006, 0.385),
            (body.torso_hw(0.39) + 0.006, 0.385),
            (body.torso_hw(0.5) + 0.007, 0.5),
            (0.0, 0.545),
            (-body.torso_hw(0.5) - 0.007, 0.5),
        ]
        cv.fabric(polys + [waist], fab)
        for p in polys:
            cv.line(p, oc, closed=True)
        cv.line([(0.0, 0.4), (0.0, 0.53)], oc)


def _draw_cape(cv: Canvas, body: Body, hem: float, fab: Fabric) -> None:
    """A cape/poncho from the shoulders to ``hem``, wide enough to hide the arms above it."""
    nb, nw = body.nb, body.nw
    reach = body.arm_extent(hem) + 0.02
    mid = body.sh_y + 0.4 * (hem - body.sh_y)
    right = [(nw + 0.006, nb - 0.01), (0.1 * body.ws + 0.012, body.sh_y - 0.004)]
    right += [(max(reach, 0.12), mid), (max(reach, 0.12) + 0.01, hem)]
    poly = [(0.0, nb + 0.01)] + right + [(0.0, hem + 0.012)] + _mirror(right)[::-1]
    cv.fabric([poly], fab)
    cv.line(poly, _line_color(fab.base, 0.8), closed=True)


def _draw_scarf(cv: Canvas, body: Body, ex: Extras, fab: Fabric) -> None:
    nb, nw = body.nb, body.nw
    w = ex.scarf or 0.05
    wrap = [
        (-nw - 0.008, body.chin + 0.004),
        (nw + 0.008, body.chin + 0.004),
        (w, nb + 0.004),
        (w * 0.8, nb + 0.05),
        (0.0, nb + 0.07),
        (-w * 0.8, nb + 0.05),
        (-w, nb + 0.004),
    ]
    hang = [(0.005, nb + 0.03), (0.035, nb + 0.03), (0.04, ex.scarf_hang), (0.01, ex.scarf_hang + 0.01)]
    cv.fabric([wrap, hang], fab)
    oc = _line_color(fab.base, 0.8)
    cv.line(wrap, oc, closed=True)
    cv.line(hang, oc, closed=True)


def _draw_hair_front(cv: Canvas, body: Body, look: Look) -> None:
    nb = body.nb
    for side in (-1, 1):
        lock = _flip(
            [
                (0.045, 0.06),
                (0.058, 0.1),
                (0.062, nb + 0.05),
                (0.05, nb + 0.14),
                (0.0, nb + 0.13),
                (-0.004, nb + 0.06),
                (0.02, 0.12),
            ],
            side,
        )
        cv.solid(lock, look.hair)
        sc = _scale(look.hair, 1.3) if _lum(look.hair) < 120 else _scale(look.hair, 0.8)
        for k in range(3):
            x = 0.012 + 0.014 * k
            cv.line(_flip([(x + 0.01, 0.13), (x, nb + 0.12)], side), sc)


def _draw_counter(cv: Canvas, y0: float, look: Look, bottom: float) -> None:
    poly = [(-2.0, y0), (2.0, y0), (2.0, bottom + 0.2), (-2.0, bottom + 0.2)]
    cv.solid(poly, look.occluder)
    cv.line([(-2.0, y0), (2.0, y0)], _scale(look.occluder, 1.25), width=max(1, round(cv.s * 0.006)))
    cv.line([(-2.0, y0 + 0.03), (2.0, y0 + 0.03)], _scale(look.occluder, 0.8))


def _draw_board(cv: Canvas, board: tuple[float, float, float], look: Look, fab: Fabric) -> None:
    y0, y1, w = board
    poly = [(-w, y0), (w, y0), (w, y1), (-w, y1)]
    cv.fabric([poly], fab)
    cv.line(poly, _line_color(fab.base, 0.9), closed=True)
    cv.line(_arc(0.0, y0, w * 0.45, 0.06, 180, 360, 10), _scale(look.occluder, 0.6), width=max(1, round(cv.s * 0.005)))


def _draw_strap(cv: Canvas, body: Body) -> None:
    col = (60, 40, 30)
    cv.line([(-0.07, body.sh_y - 0.004), (0.09, 0.48)], col, width=max(1, round(cv.s * 0.008)))


def _draw_necklace(cv: Canvas, body: Body, drop: float) -> None:
    col = (212, 180, 90)
    pts = _bezier(
        (-body.nw - 0.004, body.nb - 0.008), (0.0, body.nb + 2 * drop), (body.nw + 0.004, body.nb - 0.008), 12
    )
    cv.line(pts, col)
    cv.dot((0.0, body.nb + drop), max(0.8, 0.004 * cv.s), col)


def _finish(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Global brightness/contrast jitter and mild Gaussian noise."""
    gain = rng.uniform(0.9, 1.08)
    bias = rng.uniform(-8, 8)
    sigma = rng.uniform(1.0, 4.0)
    arr = np.asarray(img, dtype=np.float32)
    noise = rng.standard_normal(arr.shape[:2], dtype=np.float32)[..., None] * sigma
    arr = arr * gain + bias + noise
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def _check_size(image_size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(image_size, bool):
        raise ValueError(f"image_size must be a positive int or (width, height), got {image_size!r}")
    if isinstance(image_size, (int, np.integer)):
        size = (int(image_size), int(image_size))
    else:
        try:
            w, h = image_size  # type: ignore[misc]
            if isinstance(w, bool) or isinstance(h, bool) or int(w) != w or int(h) != h:
                raise TypeError
            size = (int(w), int(h))
        except (TypeError, ValueError):
            raise ValueError(
                f"image_size must be a positive int or (width, height) of ints, got {image_size!r}"
            ) from None
    if min(size) < MIN_IMAGE_SIDE:
        raise ValueError(f"image_size {image_size!r} too small or non-positive; expected sides >= {MIN_IMAGE_SIDE} px")
    return size


def check_image_size(
    image_size: int | Sequence[int] | None, default: tuple[int, int] = DEFAULT_IMAGE_SIZE
) -> tuple[int, int]:
    """Normalise an image size argument.

    Args:
        image_size: ``None`` (use ``default``), one int (square) or ``(width, height)``.
        default: size used for ``None``.

    Returns:
        ``(width, height)``.

    Raises:
        ValueError: not an int / pair of ints, or a side below 32 px.
    """
    return tuple(default) if image_size is None else _check_size(image_size)  # type: ignore[return-value]


def split_streams(rng: np.random.Generator) -> dict[str, np.random.Generator]:
    """The named random streams (``_STREAMS``) one image is drawn from, split off its generator; the first thing
    :func:`render_with_info` does, so a probe can replay e.g. the ``outfit`` stream without rendering."""
    seeds = rng.integers(0, 2**63 - 1, size=len(_STREAMS), dtype=np.int64)
    return {k: np.random.default_rng(int(s)) for k, s in zip(_STREAMS, seeds)}


def render_with_info(
    attribute: int | str, value: int, rng: np.random.Generator, image_size: int | Sequence[int] = DEFAULT_IMAGE_SIZE
) -> tuple[Image.Image, dict]:
    """Render one garment image and report where things are.

    Args:
        attribute: attribute id ``0..7`` or name.
        value: value id of that attribute (0 = Invisible).
        rng: random generator; the image is a pure function of its state.
        image_size: ``(width, height)`` or one int.

    Returns:
        ``(image, info)`` with ``info["neck_xy"]`` (pixel position of the neck base centre),
        ``info["scale"]`` (pixels per body height) and ``info["attribute"]``/``["value"]``.

    Raises:
        ValueError: bad attribute, value, size or generator.
    """
    a = attribute_index(attribute)
    v = check_value(a, value)
    size = _check_size(image_size)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    name = ATTRIBUTE_NAMES[a]
    st = split_streams(rng)

    body = Body.sample(st["body"])
    look = _sample_look(st["look"])
    outfit = _sample_outfit(name, st["outfit"])
    frame, u1, u2 = _sample_frame(name, st["frame"])
    ex = _sample_extras(name, st["extras"])
    _apply_value(name, v, body, outfit, frame, ex, (u1, u2), st["value"])
    if frame.bottom < 0:
        frame.bottom = 1.04

    w, h = size
    s = h / (frame.bottom - frame.top)
    cx = w / 2 + frame.dx * w
    oy = -frame.top * s
    img = _background(size, look, st["background"])
    cv = Canvas(img, s, cx, oy)

    # back to front; the arms go behind the torso garments, forearms and hands again in front
    _draw_back_hair(cv, body, look, ex)
    _draw_legs(cv, body, outfit, look)
    _draw_torso_skin(cv, body, look)
    for side in (-1, 1):
        _draw_arm_skin(cv, body, look, side)
    bottom, top, coat = outfit.bottom, outfit.top, outfit.coat
    top_hem = top.hem
    if outfit.dress and bottom is not None and bottom.kind == "skirt":
        top_hem = 0.41
        _draw_bottom(cv, body, bottom, top.fabric)
        _draw_top_body(cv, body, top, look, ex, top_hem)
    else:
        if bottom is not None and not outfit.tucked:
            _draw_bottom(cv, body, bottom, bottom.fabric)
        _draw_top_body(cv, body, top, look, ex, top_hem)
        if bottom is not None and outfit.tucked:
            _draw_bottom(cv, body, bottom, bottom.fabric)
    sleeved_coat = coat is not None and coat.sleeve is not None
    if sleeved_coat:  # the top's sleeves go under the coat
        _draw_top_sleeves(cv, body, top, top_hem)
    if coat is not None:
        _draw_coat(cv, body, coat, look, ex)
    for side in (-1, 1):
        _draw_arm_skin(cv, body, look, side, 0.45)
    if coat is not None and sleeved_coat:
        _draw_coat_sleeves(cv, body, coat)
    else:
        _draw_top_sleeves(cv, body, top, top_hem)
    _draw_head(cv, body, look, ex)
    if ex.necklace is not None and not ex.back_view:
        _draw_necklace(cv, body, ex.necklace)
    if ex.strap:
        _draw_strap(cv, body)
    if ex.scarf is not None:
        _draw_scarf(cv, body, ex, ex.fabrics[0])
    if ex.hair_front and not ex.back_view:
        _draw_hair_front(cv, body, look)
    if ex.cape is not None:
        _draw_cape(cv, body, ex.cape, ex.fabrics[1])
    if ex.board is not None:
        _draw_board(cv, ex.board, look, ex.fabrics[1])
    if ex.counter is not None:
        _draw_counter(cv, ex.counter, look, frame.bottom)
    img = _finish(cv.img, st["finish"])
    info = {
        "neck_xy": (cx, oy + s * body.nb),
        "scale": s,
        "attribute": a,
        "value": v,
        "frame": (frame.top, frame.bottom),
    }
    return img, info


def render_image(
    attribute: int | str, value: int, rng: np.random.Generator, image_size: int | Sequence[int] = DEFAULT_IMAGE_SIZE
) -> Image.Image:
    """Render one SynthFashion garment image.

    Args:
        attribute: attribute id ``0..7`` (or name, e.g. ``"collar_design"``).
        value: value id of that attribute (0 = Invisible).
        rng: ``numpy.random.Generator``; the image is a pure function of its state, the label and the size.
        image_size: ``(width, height)`` or one int; default 224x224.

    Returns:
        An RGB ``PIL.Image.Image`` of the requested size.

    Raises:
        ValueError: bad attribute, value, image size or generator.
    """
    return render_with_info(attribute, value, rng, image_size)[0]
