"""Garments of a SynthFashion image: tops (with their neckline and design details), coats and bottoms.

The length attributes (ASEN++ Sec. IV-A: skirt, sleeve, coat, pant length) are where these garments' hems end;
the design details are drawn by :mod:`~asen.synth.render.details`.
"""

from __future__ import annotations

from .body import Body
from .canvas import Canvas
from .details import DetailDrawers, _neckline_opening
from .geometry import Point, _arc, _flip, _mirror, _sym
from .palette import Color, Fabric, _line_color, _mix
from .scene import Bottom, Coat, Extras, Look, Top


def _neck_edge(body: Body) -> list[Point]:
    """The crew-neck edge across the neck base, left to right."""
    nb, nw = body.nb, body.nw
    return _arc(0.0, nb - 0.008, nw + 0.005, 0.015, 180, 0, 8)


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


def _draw_top_body(
    cv: Canvas, body: Body, top: Top, look: Look, ex: Extras, hem: float, details: DetailDrawers
) -> None:
    """Torso part of a top with its neckline, placket, and collar or neck design (drawn by ``details``)."""
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
        details.neckline_edge(cv, top, edge, trim)
    elif top.neckline in _BARE_SHOULDER_EDGES:
        nb, sh, ws = body.nb, body.sh_y, body.ws
        if top.neckline == "strapless":
            edge = [(-0.081 * ws, sh + 0.066), (0.0, sh + 0.07), (0.081 * ws, sh + 0.066)]
        elif top.neckline == "off_shoulder":
            edge = [(-0.09 * ws, sh + 0.03), (0.0, sh + 0.036), (0.09 * ws, sh + 0.03)]
        else:
            edge = [(-(body.nw + 0.012), nb - 0.008), (-0.02, nb), (0.04, sh + 0.025), (0.079 * ws, sh + 0.068)]
        details.neckline_edge(cv, top, edge, trim)
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
        details.collar(cv, body, top, look)
    if top.neck is not None:
        details.neck(cv, body, top, look, ex.neck_jit)


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


def _draw_coat(cv: Canvas, body: Body, coat: Coat, look: Look, ex: Extras, details: DetailDrawers) -> None:
    """Coat panels, buttons and lapels (drawn by ``details``; sleeves: :func:`_draw_coat_sleeves`)."""
    panels = [_coat_panel(body, coat, s) for s in (-1, 1)]
    if ex.back_view:  # from behind: one closed back panel
        right = _coat_panel(body, coat, 1)[:-3]
        panels = [_sym([(0.0, body.nb - 0.014)] + right + [(0.0, coat.hem)])]
    cv.fabric(panels, coat.fabric)
    if ex.back_view:  # the back panel's hem runs from side to side
        details.coat_hem(cv, [(_mirror(right[-1:])[0], right[-1])], coat)
    else:  # each front panel's hem runs from its side to the opening (the 4th and 3rd points from the end)
        details.coat_hem(cv, [(p[-4], p[-3]) for p in panels], coat)
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
    details.lapels(cv, body, coat)


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
