"""Attribute-irrelevant choices of a SynthFashion image: look, outfit, framing and accessories.

These are the nuisances the embedding must learn to ignore (ASEN++ Sec. III: an attribute-specific embedding
should not depend on the other attributes). Each sampler reads one named random stream; the label-carrying
part is set afterwards by :mod:`~asen.synth.render.values`.
"""

from __future__ import annotations

import numpy as np

from .palette import _HAIR, _SKIN, Fabric, _hsv, _jitter
from .scene import Bottom, Coat, Extras, Frame, Look, Outfit, Top
from .tables import COLLARS, PANT_HEMS, SKIRT_HEMS, SLEEVE_ENDS

_SIMPLE_NECKLINES = ("crew", "crew", "round", "v", "square", "boat", "deep_v", "sweetheart")


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
