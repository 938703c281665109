"""What a SynthFashion image shows, as plain records: garments, framing, accessories and colours.

The records (:class:`Top`, :class:`Bottom`, :class:`Coat`, :class:`Outfit`, :class:`Frame`, :class:`Extras`,
:class:`Look`) are filled by :mod:`~asen.synth.render.sampling` (attribute-irrelevant choices) and
:mod:`~asen.synth.render.values` (the label-carrying part) and drawn by :mod:`~asen.synth.render.garments`
and :mod:`~asen.synth.render.drawing`. They stand in for FashionAI's photos (ASEN++ Sec. IV-A).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .palette import Color, Fabric


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
