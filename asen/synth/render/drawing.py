"""Everything drawn around the garments: background, the figure's skin and hair, accessories, occluders, finish.

Background clutter, occluders (counter, board, cape, scarf, hair) and the final brightness/noise jitter are the
nuisances and the Invisible modes of the dataset that stands in for FashionAI (ASEN++ Sec. IV-A).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .body import Body
from .canvas import Canvas
from .geometry import _arc, _bezier, _flip, _mirror, _sym
from .palette import Fabric, _hsv, _line_color, _lum, _mix, _scale
from .scene import Extras, Look, Outfit


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
