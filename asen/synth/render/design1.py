"""Design 1 of the design attributes' details (generator 1.0.0, the default): collars, neck designs and lapels.

ASEN++'s local branch (Sec. III-B/C) must zoom into the region around the neck where these are drawn. In design 1
collar and neck pieces are mostly cut from the garment's own fabric, and within an attribute the values share one
coarse silhouette (same neck opening, same fabric) and differ in thin (1 px at 224) outlines, notches, ribbing,
fold lines and small shapes: they blur away at ~96 px but are legible in a crop of the 224 px original. Selected
through :data:`~asen.synth.render.details.DETAIL_DRAWERS`.
"""

from __future__ import annotations

import math

from .body import Body
from .canvas import Canvas
from .geometry import Point, _arc, _bezier, _flip
from .palette import Color, _line_color, _lum, _scale
from .scene import Coat, Look, Top


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


def _draw_neckline_edge(cv: Canvas, top: Top, edge: list[Point], plain: Color) -> None:
    """A neckline's visible edge: a 1 px line in ``plain`` (the top's trim colour, or its outline colour)."""
    cv.line(edge, plain)


def _draw_coat_hem(cv: Canvas, hems: list[tuple[Point, Point]], coat: Coat) -> None:
    """Design 1 marks no coat hem: the coat's outline is its only edge."""
