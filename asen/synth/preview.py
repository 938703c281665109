"""A labelled sample grid of SynthFashion: one row per attribute, one column per value.

Geometry (pixels) for ``cell`` = side of one thumbnail::

    width  = LABEL_WIDTH + MAX_COLUMNS * (cell + PAD) + PAD
    height = HEADER_HEIGHT + 8 * (cell + CAPTION_HEIGHT + PAD) + PAD

Each thumbnail is rendered at ``image_size`` (224x224 by default, as in the dataset) and resized to
``cell``; the value name is written under it, the attribute name left of the row and the value id
above each column. Design-attribute thumbnails carry an inset with the neck crop of the full
render (the detail that the thumbnail, like the global branch's ~96 px input, blurs). A row uses
one generator state for all its values, so it shows the same person, pose and framing and only the
attribute's value changes (Invisible shows one of its hiding modes).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .attributes import ATTRIBUTES, DESIGN_ATTRIBUTES
from .layout import check_seed
from .render import DEFAULT_DESIGN, check_design, check_image_size, render_with_info

MAX_COLUMNS = 10
LABEL_WIDTH = 150
HEADER_HEIGHT = 24
CAPTION_HEIGHT = 28
PAD = 4
_PREVIEW_TAG = 0x9E1E  # spawn-key tag so preview images differ from dataset images


def preview_geometry(cell: int) -> tuple[int, int]:
    """Size of the preview image for a thumbnail side.

    Args:
        cell: thumbnail side in pixels.

    Returns:
        ``(width, height)`` of the grid.
    """
    width = LABEL_WIDTH + MAX_COLUMNS * (cell + PAD) + PAD
    height = HEADER_HEIGHT + len(ATTRIBUTES) * (cell + CAPTION_HEIGHT + PAD) + PAD
    return width, height


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1 (scalable default font)
    except TypeError:  # pragma: no cover - older Pillow
        return ImageFont.load_default()


def _text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    font: ImageFont.ImageFont,
    fill: tuple[int, int, int],
    anchor: str,
) -> None:
    """Draw text anchored horizontally at l(eft)/m(iddle) and vertically at a(top)/m(iddle)
    (computed by hand so that bitmap fonts of old Pillow versions work too)."""
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    x, y = xy
    if anchor[0] == "m":
        x -= (x1 - x0) / 2 + x0
    else:
        x -= x0
    if anchor[1] == "m":
        y -= (y1 - y0) / 2 + y0
    else:
        y -= y0
    draw.text((x, y), text, font=font, fill=fill)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for w in words:
        trial = f"{line} {w}".strip()
        if line and draw.textlength(trial, font=font) > width:
            lines.append(line)
            line = w
        else:
            line = trial
    if line:
        lines.append(line)
    return lines[:2]


def _paste_inset(
    grid: Image.Image, img: Image.Image, neck_xy: tuple[float, float], xy: tuple[int, int], cell: int
) -> None:
    """Bottom-right inset: the half-width crop around the neck from the full-resolution render
    (what ASEN++'s local branch zooms into), framed in white."""
    w, h = img.size
    half = w / 4  # a 112 px crop of a 224 px image
    cx = min(max(neck_xy[0], half), w - half)
    cy = min(max(neck_xy[1], half), h - half)
    crop = img.crop((int(cx - half), int(cy - half), int(cx + half), int(cy + half)))
    side = max(8, int(cell * 0.45))
    crop = crop.resize((side, side), Image.LANCZOS)
    x, y = xy[0] + cell - side - 1, xy[1] + cell - side - 1
    ImageDraw.Draw(grid).rectangle([x - 1, y - 1, x + side, y + side], outline=(255, 255, 255))
    grid.paste(crop, (x, y))


def save_preview(
    out_png: str | os.PathLike,
    seed: int = 0,
    image_size: int | Sequence[int] | None = None,
    cell: int = 128,
    inset: bool = True,
    design: int = DEFAULT_DESIGN,
) -> Path:
    """Write a labelled grid of sample images (rows: 8 attributes, columns: values, max 10).

    Args:
        out_png: output file (PNG); parent folders are created.
        seed: non-negative int selecting the samples.
        image_size: render size before resizing to ``cell`` (``None``: 224x224).
        cell: thumbnail side in pixels (>= 16).
        inset: on design-attribute thumbnails, add a bottom-right inset with the neck crop of the
            full-resolution render (the local branch's view).
        design: how the design attributes' details are drawn (see :func:`~asen.synth.render.render_with_info`).

    Returns:
        The path written.

    Raises:
        ValueError: bad seed, image size, cell or design.
    """
    seed = check_seed(seed)
    design = check_design(design)
    size = check_image_size(image_size)
    if isinstance(cell, bool) or not isinstance(cell, (int, np.integer)) or cell < 16:
        raise ValueError(f"cell must be an int >= 16 (thumbnail side in px), got {cell!r}")
    cell = int(cell)
    width, height = preview_geometry(cell)
    grid = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(grid)
    small, bold = _font(10), _font(14)
    for col in range(MAX_COLUMNS):
        x = LABEL_WIDTH + PAD + col * (cell + PAD)
        _text(draw, (x + cell / 2, HEADER_HEIGHT / 2), f"value {col}", small, (90, 90, 90), "mm")
    for row, (name, values) in enumerate(ATTRIBUTES):
        y = HEADER_HEIGHT + row * (cell + CAPTION_HEIGHT + PAD)
        _text(draw, (PAD, y + cell / 2), name, bold, (0, 0, 0), "lm")
        _text(draw, (PAD, y + cell / 2 + 16), f"attribute {row}", small, (110, 110, 110), "lm")
        for v, vname in enumerate(values[:MAX_COLUMNS]):
            x = LABEL_WIDTH + PAD + v * (cell + PAD)
            # same generator state across a row: same person, pose and framing, only the value changes
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_PREVIEW_TAG, row)))
            img, info = render_with_info(row, v, rng, size, design)
            grid.paste(img.resize((cell, cell), Image.LANCZOS), (x, y))
            if name in DESIGN_ATTRIBUTES and v > 0 and inset:
                _paste_inset(grid, img, info["neck_xy"], (x, y), cell)
            for k, line in enumerate(_wrap(draw, vname, small, cell)):
                _text(draw, (x + cell / 2, y + cell + 2 + 12 * k), line, small, (0, 0, 0), "ma")
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    grid.save(out, format="PNG")
    return out
