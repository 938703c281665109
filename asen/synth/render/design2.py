"""Design 2 of the design attributes' details (generator 2.2.0, the default): collars, neck designs, lapels,
neckline bindings and the coat's hem band.

ASEN++'s attention must find the region around the neck and its local branch zoom into it (Sec. III-B/C). In
design 2 each design attribute's region is marked by a piece that contrasts with the garment for every value
(findable at the global input), and the values of one attribute differ inside it in shapes outlined 2 px at 224
(legible in a zoomed crop, ambiguous once the image is shrunk to 64 px). Selected through
:data:`~asen.synth.render.details.DETAIL_DRAWERS`.
"""

from __future__ import annotations

import math

from .body import Body
from .canvas import Canvas
from .geometry import Point, _arc, _bezier, _flip
from .palette import Color, _lum, _mix, _scale
from .scene import Coat, Look, Top


def _contrast(base: Color, other: Color, min_diff: float = 80.0) -> Color:
    """``other`` pushed away from ``base`` (towards white or black) until their luminances differ by ``min_diff``."""
    if abs(_lum(other) - _lum(base)) >= min_diff:
        return other
    target: Color = (250, 250, 250) if _lum(base) < 128 else (18, 18, 18)
    for t in (0.25, 0.5, 0.75):
        c = _mix(other, target, t)
        if abs(_lum(c) - _lum(base)) >= min_diff:
            return c
    return target


def _ink(fill: Color) -> Color:
    """The outline colour drawn on a detail piece: near black on a light piece, near white on a dark one."""
    return (28, 24, 24) if _lum(fill) > 110 else (236, 232, 228)


def _detail_fill(top: Top) -> Color:
    """Collar and neck pieces always stand out from the garment (the region cue shared by every value): the
    outfit's detail colour, pushed away from the fabric's base colour in luminance."""
    return _contrast(top.fabric.base, top.detail_color)


def _draw_collar(cv: Canvas, body: Body, top: Top, look: Look) -> None:
    """Collar designs: one contrasting piece around the neck for every value (findable at the global input);
    the values share its footprint and differ in its shape, outlined 2 px at 224: pointed flaps on a band
    (shirt), rounded flaps (Peter Pan), a flat collar with square corners (puritan), a striped ribbed band (rib)."""
    nb, nw, ws = body.nb, body.nw, body.ws
    fill = _detail_fill(top)
    ink = _ink(fill)
    w2 = 2 * cv.lw
    polys: list[list[Point]] = []
    kind = top.collar
    if kind == "shirt":
        stand = _arc(0.0, nb - 0.008, nw + 0.004, 0.015, 180, 0, 8)
        band = [(-nw - 0.002, nb - 0.017), (0.0, nb - 0.006), (nw + 0.002, nb - 0.017)] + stand[::-1]
        polys.append(band)
        for side in (-1, 1):
            polys.append(
                _flip([(0.002, nb + 0.004), (nw + 0.004, nb - 0.013), (nw + 0.032, nb + 0.006), (0.016, nb + 0.05)],
                      side)
            )
    elif kind == "peter_pan":
        for side in (-1, 1):
            arc = _arc(0.022, nb + 0.014, 0.027, 0.027, -110, 170, 16)
            polys.append(_flip([(0.002, nb + 0.004), (nw * 0.6, nb - 0.001)] + arc[:-1] + [(0.002, nb + 0.032)], side))
    elif kind == "puritan":
        for side in (-1, 1):
            right = [(0.002, nb + 0.004), (nw * 0.7, nb - 0.004), (nw + 0.004, nb - 0.009), (0.05 * ws, nb + 0.002),
                     (0.051 * ws, nb + 0.042), (0.006, nb + 0.045)]
            polys.append(_flip(right, side))
    elif kind == "rib":
        inner = _arc(0.0, nb - 0.008, nw + 0.004, 0.015, 180, 0, 12)
        outer = _arc(0.0, nb - 0.006, nw + 0.027, 0.048, 0, 180, 12)
        polys.append(inner + outer)
    for poly in polys:
        cv.solid(poly, fill)
        cv.line(poly, ink, closed=True, width=w2)
    if kind == "rib":  # ink ribs every ~5 px at 224, 2 px wide: stripes a crop resolves and 64 px blurs
        n = max(6, int(round(0.15 * cv.s / 5.0)))
        for i in range(1, n):
            a = math.radians(180 - 180 * i / n)
            p0 = (math.cos(a) * (nw + 0.004), nb - 0.008 + math.sin(a) * 0.015)
            p1 = (math.cos(a) * (nw + 0.027), nb - 0.006 + math.sin(a) * 0.048)
            cv.line([p0, p1], ink, width=w2)


def _draw_neck_design(cv: Canvas, body: Body, top: Top, look: Look, jit: float) -> None:
    """Neck designs: one contrasting piece over the neck and the top of the chest for every value, with heights
    that overlap between values; the values differ in what is drawn on it, in ink 3 px at 224: a dark fold band
    (turtle), vertical ribs (low turtle), a zigzag edge of dark frills (ruffle), cowl folds across it (draped).

    Generator 2.1.0 draws the piece about twice the area of 2.0.0's tube (wider, and reaching down over the
    chest) with coarser ink: the 2.0.0 tube was smaller than one cell of the 64 px input's 8 x 8 attention map,
    and ASEN++'s boxes around it stayed large (median half the image's side), so its crop barely magnified it."""
    nb, nw = body.nb, body.nw
    fill = _detail_fill(top)
    ink = _ink(fill)
    w3 = 3 * cv.lw
    kind = top.neck
    heights = {"turtle": 0.033, "ruffle": 0.030, "low_turtle": 0.026, "draped": 0.024}
    top_y = nb - heights[kind or "turtle"] + jit
    half = nw + 0.016
    drop = 0.024  # how far the piece's lower edge reaches below the neck base at the centre
    base = _arc(0.0, nb - 0.002, half + 0.008, drop + 0.002, 0, 180, 10)
    if kind == "ruffle":
        n = 6
        edge = [(-half + 2 * half * i / n, top_y - (0.0 if i % 2 else 0.011)) for i in range(n + 1)]
        piece = edge + [(half + 0.008, nb - 0.002)] + base[1:-1] + [(-(half + 0.008), nb - 0.002)]
    else:
        top_edge = [(-half, top_y), (half, top_y)]
        piece = top_edge + [(half + 0.008, nb - 0.002)] + base[1:-1] + [(-(half + 0.008), nb - 0.002)]
    cv.solid(piece, fill)
    if kind == "turtle":  # the folded-over band: a dark stripe across the piece
        fy = top_y + 0.45 * (nb - top_y)
        cv.solid([(-half - 0.002, fy - 0.005), (half + 0.002, fy - 0.005), (half + 0.004, fy + 0.005),
                  (-half - 0.004, fy + 0.005)], _mix(fill, ink, 0.8))
    elif kind == "low_turtle":  # ribs every ~7 px at 224
        n = max(5, int(round(2 * half * cv.s / 7.0)))
        for i in range(1, n):
            x = -half + 2 * half * i / n
            cv.line([(x, top_y + 0.002), (x * 1.15, nb + 0.6 * drop * (1 - (x / half) ** 2))], ink, width=w3)
    elif kind == "ruffle":
        for i in range(0, 6, 2):  # every other frill dark
            x0, x1 = -half + 2 * half * i / 6, -half + 2 * half * (i + 1) / 6
            cv.solid([(x0, top_y), (x1, top_y - 0.011), (x1, top_y + 0.009), (x0, top_y + 0.009)],
                     _mix(fill, ink, 0.7))
    cv.line(piece, ink, closed=True, width=w3)
    if kind == "draped":  # cowl folds: curves sagging across the piece
        for k, sag in enumerate((0.010, 0.022)):
            w = half + 0.002 * k
            y0 = top_y + 0.008 + 0.006 * k
            cv.line(_bezier((-w, y0), (0.0, y0 + sag * 1.8), (w, y0), 12), ink, width=w3)


def _coat_trim(base: Color) -> Color:
    """The coat's contrasting trim (lapel facings and the hem band): its own fabric much lighter or darker."""
    return _contrast(base, _scale(base, 1.6) if _lum(base) < 128 else _scale(base, 0.55), 60.0)


def _draw_neckline_edge(cv: Canvas, top: Top, edge: list[Point], plain: Color) -> None:
    """A neckline's visible edge (an opening's outline, or a bare-shoulder top's upper edge) as a binding 3 px
    at 224 that contrasts with the garment for every value: the region cue shared by all necklines (generator
    2.2.0), findable at the global input, while the cut's shape (the value) needs the zoomed crop. ``plain``
    (design 1's edge colour) is not used."""
    cv.line(edge, _detail_fill(top), width=3 * cv.lw)


def _draw_coat_hem(cv: Canvas, hems: list[tuple[Point, Point]], coat: Coat) -> None:
    """A contrasting band along the coat's hem (generator 2.2.0), in the lapels' facing colour: the coat's lower
    edge stands out from whatever is worn under it, so where it ends (the coat length) can be found and read at
    the global input. ``hems``: the hem segments (outer end, inner end) of the panels in body units."""
    fill = _coat_trim(coat.fabric.base)
    h = 0.016
    for (x0, y0), (x1, y1) in hems:
        cv.solid([(x0, y0 - h), (x1, y1 - h), (x1, y1), (x0, y0)], fill)


def _draw_lapels(cv: Canvas, body: Body, coat: Coat) -> None:
    """Lapel designs: the lapels' facing always contrasts with the coat (the region cue shared by every value,
    a collarless coat has a contrasting piping band along the same V); the values differ in the facing's
    shape, outlined 2 px at 224: a dark notch (notched), a smooth narrow roll (shawl), a wide roll (plus-size
    shawl), a straight band without a roll (collarless)."""
    nb, nw = body.nb, body.nw
    gap_b = 0.0 if coat.closed else coat.gap * 0.5
    b = (gap_b, coat.button_y)
    neck = (nw * 0.5, nb + 0.004)
    c0 = (nw + 0.004, nb - 0.016)
    base = coat.fabric.base
    fill = _coat_trim(base)
    ink = _ink(fill)
    w2 = 2 * cv.lw
    kind = coat.lapel
    for side in (-1, 1):
        if kind == "notched":
            c1 = (nw + 0.034, nb + 0.026)
            n = (nw + 0.022, nb + 0.042)
            lp = (nw + 0.056, nb + 0.046)
            outer = [c0, c1, n, lp] + _bezier(lp, (nw + 0.045, nb + 0.1), b, 8)[1:]
            poly = _flip([neck] + outer, side)
            cv.solid(poly, fill)
            cv.line(poly, ink, closed=True, width=w2)
            cv.solid(_flip([c1, n, lp], side), ink)  # the notch
        elif kind in ("shawl", "plus_shawl"):
            w = 0.034 if kind == "shawl" else 0.05
            outer = [c0] + _bezier((nw + 0.01, nb - 0.01), (nw + w + 0.01, nb + 0.04), b, 12)
            poly = _flip([neck] + outer, side)
            cv.solid(poly, fill)
            cv.line(poly, ink, closed=True, width=w2)
        elif kind == "collarless":
            inner = [(gap_b, coat.button_y), (nw * 0.5, nb + 0.004), (nw + 0.004, nb - 0.016)]
            outer = [(x + 0.024, y) for x, y in inner]
            band = _flip(inner + outer[::-1], side)
            cv.solid(band, fill)
            cv.line(band, ink, closed=True, width=w2)
