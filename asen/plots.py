"""Plotting helpers for the book's chapters: images, attention maps overlaid on images, crop boxes.

Not part of the paper; the figures follow ASEN++ Fig. 1 and Fig. 5 (attention maps overlaid on the image).
Every drawing function takes a matplotlib ``Axes`` and returns what it drew, so a chapter keeps control of its
layout. matplotlib is imported lazily (``pip install 'asen[notebooks]'``).

Usage::

    fig, ax = plt.subplots()
    show_attention(ax, pil_image, attention_map, title="collar_design")
    draw_box(ax, (left, top, right, bottom))
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .data import IMAGENET_MEAN, IMAGENET_STD


def to_display(image: Any) -> np.ndarray:
    """An image as an (H, W, 3) float array in [0, 1] for ``imshow``.

    Args:
        image: a PIL image, an (H, W, 3) uint8/float array, a (3, H, W) uint8 tensor, or a (3, H, W) float tensor
            normalised with the ImageNet mean/std (the model's input), which is de-normalised.
    Returns:
        (H, W, 3) float32 array clipped to [0, 1].
    """
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    if isinstance(image, torch.Tensor):
        x = image.detach().cpu()
        if x.dim() != 3 or x.shape[0] != 3:
            raise ValueError(f"expected a (3, H, W) tensor, got shape {tuple(x.shape)}")
        if x.dtype == torch.uint8:
            return x.permute(1, 2, 0).numpy().astype(np.float32) / 255.0
        mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
        return (x.float() * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) array, got shape {arr.shape}")
    return arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else np.clip(arr.astype(np.float32), 0, 1)


def upsample_map(attention_map: Any, size: tuple[int, int]) -> np.ndarray:
    """Bilinearly resize an (h, w) attention map to ``size = (width, height)`` (half-pixel centres, as the crop).

    Returns:
        (height, width) float32 array.
    """
    m = torch.as_tensor(np.asarray(attention_map, dtype=np.float32))
    if m.dim() != 2:
        raise ValueError(f"expected an (h, w) map, got shape {tuple(m.shape)}")
    width, height = size
    up = F.interpolate(m[None, None], size=(height, width), mode="bilinear", align_corners=False)
    return up[0, 0].numpy()


def show_image(ax, image: Any, title: str | None = None):
    """Draw an image without axis ticks. Returns the ``AxesImage``."""
    shown = ax.imshow(to_display(image))
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return shown


def show_attention(ax, image: Any, attention_map: Any, title: str | None = None, alpha: float = 0.5,
                   cmap: str = "jet", vmax: float | None = None):
    """Draw an image with an attention map overlaid (bilinearly resized to the image).

    Args:
        vmax: ``None`` min-max scales each map to [0, 1] (shows the shape of even a nearly flat map); a number
            shows ``map * h * w`` (1 = uniform attention) on the fixed scale [0, vmax], so maps are comparable.
    Returns:
        The overlay's ``AxesImage`` (pass it to ``fig.colorbar``).
    """
    img = to_display(image)
    m = np.asarray(attention_map, dtype=np.float32)
    up = upsample_map(m, (img.shape[1], img.shape[0]))
    if vmax is None:
        span = float(up.max() - up.min())
        flat = span <= 1e-6 * float(np.abs(up).max())  # rounding noise of a flat map is not structure
        up, lo, hi = (np.zeros_like(up) if flat else (up - up.min()) / span), 0.0, 1.0
    else:
        up, lo, hi = up * m.size, 0.0, float(vmax)
    show_image(ax, img, title)
    return ax.imshow(up, cmap=cmap, alpha=alpha, vmin=lo, vmax=hi)


def draw_box(ax, box: Sequence[float], color: str = "lime", label: str | None = None, linewidth: float = 2.0):
    """Outline a (left, top, right, bottom) box in pixel coordinates. Returns the ``Rectangle`` patch."""
    from matplotlib.patches import Rectangle

    left, top, right, bottom = (float(v) for v in box)
    rect = Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False, edgecolor=color,
                     linewidth=linewidth, label=label)
    ax.add_patch(rect)
    return rect


def image_grid(nrows: int, ncols: int, size: float = 2.0, **kwargs):
    """A figure of ``nrows x ncols`` image panels (no ticks). Returns ``(fig, axes)`` with axes always 2-D."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.4), squeeze=False, **kwargs)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig, axes
