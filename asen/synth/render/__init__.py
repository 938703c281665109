"""Procedural garment images for SynthFashion (numpy + Pillow only), the stand-in for FashionAI (ASEN++ Sec. IV-A).

One image = one person wearing an outfit, framed like a shop photo, drawn with ``PIL.ImageDraw``.
Geometry lives in *body units*: ``x`` is horizontal with 0 on the body's centre line, ``y`` runs
down from the top of the head (0) to the soles (1). A framing (visible ``y`` range, horizontal
offset) maps body units to pixels, so every garment, detail and occluder is resolution independent.

How the labels show up:

* **Length attributes** (skirt/sleeve/coat/pant length) set where a hem ends relative to the body
  (mid-thigh, knee, calf, ...). They are coarse shape and survive a downsample to ~96 px.
* **Design attributes** (collar/lapel/neckline/neck design) live in a small region around the neck,
  drawn in one of two designs (``design=2``, the default, or ``design=1``; the neckline shapes are the same
  in both, their edges are not):

  - *design 1* (generator 1.0.0): within an attribute the values share one coarse silhouette (same neck
    opening, mostly the garment's own fabric) and differ in thin (1 px at 224) outlines, notches, ribbing,
    fold lines and small shapes, so they blur away at 96 px but are legible in a ~112 px crop of the 224 px
    original; there is little at 64 px to show where the region is;
  - *design 2* (generator 2.2.0): collar and neck pieces and lapel facings contrast with the garment for
    every value (a region findable at the 64 px global input), and within an attribute the values share
    that piece's footprint and differ in its shape, outlined 2 px at 224 (pointed / rounded / square flaps,
    ribs, a notch, rolls of two widths, a fold band, frills, cowl folds): ambiguous at 64 px, legible in a
    crop of the region. Since 2.2.0 a neckline's edge is a contrasting binding 3 px at 224 (the cue every
    neckline shares; its shape is the value) and a coat's hem carries a contrasting band in the lapels'
    facing colour, so where a coat ends stands out from what is worn under it (design 1 draws both as
    before).

  ``tools/readability_probe.py`` measures both designs.
* **Invisible** (value 0) hides the region in several ways (cropped out, counter/board/bag in front,
  cape over the arms, scarf or hair over the neck, seen from behind), always over an outfit drawn
  with a random real value so that garment statistics do not give it away.
* **Nuisance**: colours, fabric patterns, skin/hair, pose, framing, background clutter, noise, and
  attribute-irrelevant garment choices (random sleeves and bottoms on design images, random
  necklines and collars on length images).

Public API: :func:`render_image`, :func:`render_with_info`, :func:`check_image_size`, :func:`check_design`,
:func:`split_streams`, :data:`DESIGNS` and the value tables (``SKIRT_HEMS`` ...). The package is split by
concern: :mod:`.geometry` (points, curves), :mod:`.palette` (colours, :class:`~.palette.Fabric`), :mod:`.body`
(the figure), :mod:`.scene` (garment and framing records), :mod:`.canvas` (body units -> pixels), :mod:`.tables`
(per-value hems and design names), :mod:`.sampling` (attribute-irrelevant choices), :mod:`.values` (the
label-carrying part, one setter per attribute), :mod:`.details` (necklines, and the table of each design's
drawing of collars, lapels and neck designs: :mod:`.design1`, :mod:`.design2`), :mod:`.garments` (tops, coats,
bottoms) and :mod:`.drawing` (background, skin, hair, accessories, occluders, finish). Those modules are
implementation details of the drawing and may change with the generator version.

Randomness comes in named streams (background, body, look, outfit, frame, extras, value, finish)
split off the caller's generator, and only the ``value`` stream depends on the label. Two renders
with the same seed and different values of an attribute therefore show the same person, pose,
framing and background; only the value-specific garment part differs (the tests use this).
"""


from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image

from ..attributes import ATTRIBUTE_NAMES, attribute_index, check_value
from .body import Body
from .canvas import Canvas
from .drawing import (
    _background,
    _draw_arm_skin,
    _draw_back_hair,
    _draw_board,
    _draw_cape,
    _draw_counter,
    _draw_hair_front,
    _draw_head,
    _draw_legs,
    _draw_necklace,
    _draw_scarf,
    _draw_strap,
    _draw_torso_skin,
    _finish,
)
from .details import DEFAULT_DESIGN, DESIGNS, DETAIL_DRAWERS, check_design
from .garments import _draw_bottom, _draw_coat, _draw_coat_sleeves, _draw_top_body, _draw_top_sleeves
from .sampling import _sample_extras, _sample_frame, _sample_look, _sample_outfit
from .tables import COAT_HEMS, COLLARS, LAPELS, NECKLINES, NECKS, PANT_HEMS, SKIRT_HEMS, SLEEVE_ENDS
from .regions import REGIONS, framing, region_box
from .scene import Extras, Frame, Look, Outfit
from .values import apply_value

__all__ = [
    "COAT_HEMS",
    "COLLARS",
    "DEFAULT_DESIGN",
    "DEFAULT_IMAGE_SIZE",
    "DESIGNS",
    "LAPELS",
    "NECKLINES",
    "NECKS",
    "PANT_HEMS",
    "SKIRT_HEMS",
    "REGIONS",
    "SLEEVE_ENDS",
    "attribute_region",
    "check_design",
    "check_image_size",
    "render_image",
    "render_with_info",
    "split_streams",
]

DEFAULT_IMAGE_SIZE: tuple[int, int] = (224, 224)
MIN_IMAGE_SIDE = 32

_STREAMS = ("background", "body", "look", "outfit", "frame", "extras", "value", "finish")


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


def _scene(
    name: str, v: int, st: dict[str, np.random.Generator]
) -> tuple[Body, Look, Outfit, Frame, Extras]:
    """Everything an image shows, drawn from its streams (all but ``background`` and ``finish``)."""
    body = Body.sample(st["body"])
    look = _sample_look(st["look"])
    outfit = _sample_outfit(name, st["outfit"])
    frame, u1, u2 = _sample_frame(name, st["frame"])
    ex = _sample_extras(name, st["extras"])
    apply_value(name, v, body, outfit, frame, ex, (u1, u2), st["value"])
    if frame.bottom < 0:
        frame.bottom = 1.04
    return body, look, outfit, frame, ex


def attribute_region(
    attribute: int | str, value: int, rng: np.random.Generator, image_size: int | Sequence[int] = DEFAULT_IMAGE_SIZE
) -> tuple[float, float, float, float]:
    """The region :func:`render_with_info` would report as ``info["region"]``, without drawing the image.

    Args:
        attribute: attribute id ``0..7`` or name.
        value: value id of that attribute (0 = Invisible).
        rng: the generator the image is (or would be) rendered from; consumed as by :func:`render_with_info`.
        image_size: ``(width, height)`` or one int.

    Returns:
        ``(left, top, right, bottom)`` in pixels (see :func:`~asen.synth.render.regions.region_box`).

    Raises:
        ValueError: bad attribute, value, size or generator.
    """
    a = attribute_index(attribute)
    v = check_value(a, value)
    size = _check_size(image_size)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    name = ATTRIBUTE_NAMES[a]
    body, _, _, frame, _ = _scene(name, v, split_streams(rng))
    return region_box(name, body, frame, size)


def render_with_info(
    attribute: int | str,
    value: int,
    rng: np.random.Generator,
    image_size: int | Sequence[int] = DEFAULT_IMAGE_SIZE,
    design: int = DEFAULT_DESIGN,
) -> tuple[Image.Image, dict]:
    """Render one garment image and report where things are.

    Args:
        attribute: attribute id ``0..7`` or name.
        value: value id of that attribute (0 = Invisible).
        rng: random generator; the image is a pure function of its state.
        image_size: ``(width, height)`` or one int.
        design: how collars, neck designs and lapels are drawn, one of :data:`DESIGNS` (the same random draws
            in every design: only those pieces' pixels differ).

    Returns:
        ``(image, info)`` with ``info["neck_xy"]`` (pixel position of the neck base centre),
        ``info["scale"]`` (pixels per body height), ``info["attribute"]``/``["value"]``/``["design"]``,
        ``info["frame"]`` (visible body heights) and ``info["region"]`` (the attribute's value-independent region
        in pixels, :func:`~asen.synth.render.regions.region_box`, the same in every design).

    Raises:
        ValueError: bad attribute, value, size, design or generator.
    """
    a = attribute_index(attribute)
    v = check_value(a, value)
    size = _check_size(image_size)
    design = check_design(design)
    details = DETAIL_DRAWERS[design]
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    name = ATTRIBUTE_NAMES[a]
    st = split_streams(rng)
    body, look, outfit, frame, ex = _scene(name, v, st)
    s, cx, oy = framing(frame, size)
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
        _draw_top_body(cv, body, top, look, ex, top_hem, details)
    else:
        if bottom is not None and not outfit.tucked:
            _draw_bottom(cv, body, bottom, bottom.fabric)
        _draw_top_body(cv, body, top, look, ex, top_hem, details)
        if bottom is not None and outfit.tucked:
            _draw_bottom(cv, body, bottom, bottom.fabric)
    sleeved_coat = coat is not None and coat.sleeve is not None
    if sleeved_coat:  # the top's sleeves go under the coat
        _draw_top_sleeves(cv, body, top, top_hem)
    if coat is not None:
        _draw_coat(cv, body, coat, look, ex, details)
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
        "design": design,
        "frame": (frame.top, frame.bottom),
        "region": region_box(name, body, frame, size),
    }
    return img, info


def render_image(
    attribute: int | str,
    value: int,
    rng: np.random.Generator,
    image_size: int | Sequence[int] = DEFAULT_IMAGE_SIZE,
    design: int = DEFAULT_DESIGN,
) -> Image.Image:
    """Render one SynthFashion garment image.

    Args:
        attribute: attribute id ``0..7`` (or name, e.g. ``"collar_design"``).
        value: value id of that attribute (0 = Invisible).
        rng: ``numpy.random.Generator``; the image is a pure function of its state, the label and the size.
        image_size: ``(width, height)`` or one int; default 224x224.
        design: how collars, neck designs and lapels are drawn, one of :data:`DESIGNS` (default 1).

    Returns:
        An RGB ``PIL.Image.Image`` of the requested size.

    Raises:
        ValueError: bad attribute, value, image size, design or generator.
    """
    return render_with_info(attribute, value, rng, image_size, design)[0]
