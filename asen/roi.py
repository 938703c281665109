"""The local branch's zoom-in (ASEN++ Sec. III-C): attention map -> square crop box -> local input.

The steps follow the reference exactly (see :func:`crop_box`):

1. resize the (h, w) attention map bilinearly to ``global_size`` squared (half-pixel centres, clamped edges);
2. min-max normalise to [0, 1], scale by 255 and truncate to 8-bit;
3. keep pixels strictly greater than ``floor(255 * threshold)``;
4. bounding rectangle (x, y, w, h); centre ``x + w // 2``; side ``d = max(w, h)``;
5. place the square inside the frame: ``x = G - d`` if ``xc + d // 2 > G`` else ``max(0, xc - d // 2)``;
6. map to the original image: scale by ``S / G`` (S the short edge, truncating) and add ``(L - S) // 2``
   along the long edge;
7. crop ``(x, y, x + d, y + d)`` from the original (outside the frame is black), resize, normalise.

A perfectly flat map keeps no pixel (the reference crashes there); we fall back to the whole frame.
:func:`crop_boxes` is the same computation batched on any device; :func:`zoom` crops a batch on the device
with ``torchvision.ops.roi_align``; :func:`zoom_per_image` is the reference's per-image PIL path.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.ops import roi_align

from .data import normalize, to_tensor


def _quantised_maps(maps: torch.Tensor, global_size: int) -> torch.Tensor:
    """Steps 1-2: (B, h, w) float maps -> (B, G, G) uint8-valued int32 maps."""
    up = F.interpolate(maps[:, None].float(), size=(global_size, global_size), mode="bilinear", align_corners=False)
    up = up[:, 0]  # (B, G, G)
    lo = up.amin(dim=(1, 2), keepdim=True)
    hi = up.amax(dim=(1, 2), keepdim=True)
    span = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
    return ((up - lo) / span * 255.0).to(torch.int32)  # truncation, as uint8 conversion does


def crop_boxes(
    maps: torch.Tensor, image_sizes: torch.Tensor, threshold: float, global_size: int = 224
) -> torch.Tensor:
    """Batched :func:`crop_box`.

    Args:
        maps: (B, h, w) attention maps.
        image_sizes: (B, 2) original (width, height) per image.
        threshold: fraction in [0, 1); pixels above ``floor(255 * threshold)`` are kept.
        global_size: side of the global input the maps refer to.
    Returns:
        (B, 4) int64 boxes (left, top, right, bottom) in original-image pixels.
    """
    g = global_size
    q = _quantised_maps(maps, g)  # (B, G, G)
    keep = q > math.floor(255 * threshold)
    cols, rows = keep.any(dim=1), keep.any(dim=2)  # (B, G) over x, over y
    empty = ~cols.any(dim=1)  # flat map: nothing kept -> whole frame
    ar = torch.arange(g, device=maps.device)
    big = torch.full_like(ar, g)
    x0 = torch.where(cols, ar, big).amin(dim=1)
    x1 = torch.where(cols, ar, -1).amax(dim=1)
    y0 = torch.where(rows, ar, big).amin(dim=1)
    y1 = torch.where(rows, ar, -1).amax(dim=1)
    x0, y0 = torch.where(empty, 0, x0), torch.where(empty, 0, y0)
    w = torch.where(empty, g, x1 - x0 + 1)
    h = torch.where(empty, g, y1 - y0 + 1)
    xc, yc = x0 + w // 2, y0 + h // 2
    d = torch.maximum(w, h)
    x = torch.where(xc + d // 2 > g, g - d, (xc - d // 2).clamp(min=0))
    y = torch.where(yc + d // 2 > g, g - d, (yc - d // 2).clamp(min=0))
    sizes = image_sizes.to(maps.device).long()
    width, height = sizes[:, 0], sizes[:, 1]
    s = torch.minimum(width, height)
    # int(v / G * S) in double precision, as the reference's Python arithmetic
    scale = lambda v: torch.floor(v.double() / g * s.double()).long()  # noqa: E731
    x, y, d = scale(x), scale(y), scale(d)
    x = x + torch.where(width > height, (width - s) // 2, 0)
    y = y + torch.where(height > width, (height - s) // 2, 0)
    return torch.stack([x, y, x + d, y + d], dim=1)


def crop_box(
    attention_map: np.ndarray, image_size: tuple[int, int], threshold: float, global_size: int = 224
) -> tuple[int, int, int, int]:
    """The crop box for one image (steps 1-6 of the module docstring).

    Args:
        attention_map: (h, w) spatial attention of the global branch.
        image_size: the original image's (width, height).
        threshold: fraction in [0, 1) (paper: 0.1 in stage 2).
        global_size: side of the global input (paper: 224).
    Returns:
        (left, top, right, bottom) in original-image pixels; ``right - left == bottom - top``.
    """
    att = np.asarray(attention_map, dtype=np.float32)
    if att.ndim != 2:
        raise ValueError(f"attention_map must be 2-D (h, w), got shape {att.shape}")
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    box = crop_boxes(torch.from_numpy(att)[None], torch.tensor([list(image_size)]), threshold, global_size)
    return tuple(int(v) for v in box[0].tolist())  # type: ignore[return-value]


def zoom(
    originals: torch.Tensor, boxes: torch.Tensor, out_size: int, sampling_ratio: int = 2
) -> torch.Tensor:
    """Crop boxes from a padded batch of originals and resize them, on the batch's device.

    Args:
        originals: (B, 3, H, W) uint8 (or float in [0, 255]) images, zero-padded beyond each image.
        boxes: (B, 4) (left, top, right, bottom) in pixels.
        out_size: side of the output crops (paper: 112).
        sampling_ratio: bilinear samples per output pixel and axis, averaged (``roi_align``'s
            ``sampling_ratio``): 2 (default) smooths a 2-4x downscale well at a fraction of the cost of -1
            (adaptive: ceil(box side / out_size) samples, i.e. up to 16 per pixel for a 224 px box at 56 px).
    Returns:
        (B, 3, out_size, out_size) normalised float crops (outside the frame is black).
    """
    # roi_align is linear, so the /255 is applied to the small crops rather than to the whole originals
    imgs = originals if originals.is_floating_point() else originals.float()  # (B, 3, H, W) in [0, 255]
    idx = torch.arange(imgs.shape[0], device=imgs.device, dtype=imgs.dtype)[:, None]
    rois = torch.cat([idx, boxes.to(imgs.device, imgs.dtype)], dim=1)  # (B, 5)
    crops = roi_align(imgs, rois, output_size=out_size, spatial_scale=1.0, sampling_ratio=sampling_ratio,
                      aligned=True)
    return normalize(crops.mul_(1.0 / 255.0))


def zoom_per_image(images: Sequence[Image.Image], boxes: Sequence[Sequence[int]], out_size: int) -> torch.Tensor:
    """The reference path: PIL crop (black outside the frame) then bilinear resize, image by image."""
    crops = [
        normalize(to_tensor(img.crop(tuple(int(v) for v in box)).resize((out_size, out_size), Image.BILINEAR)))
        for img, box in zip(images, boxes)
    ]
    return torch.stack(crops)


def local_inputs(
    maps: torch.Tensor,
    originals: torch.Tensor,
    sizes: torch.Tensor,
    threshold: float,
    global_size: int,
    local_size: int,
    mode: str = "batched",
    sampling_ratio: int = 2,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention maps -> boxes -> local-branch inputs. Returns (crops on the maps' device, boxes).

    ``mode="batched"`` crops the whole batch on the device with roi_align; ``"per_image"`` is the
    reference's path (boxes to the CPU, PIL crop and resize image by image, back to the device).
    ``sampling_ratio`` is :func:`zoom`'s (batched mode only).
    """
    if mode == "batched":
        boxes = crop_boxes(maps.detach(), sizes, threshold, global_size)
        return zoom(originals.to(maps.device, non_blocking=True), boxes, local_size, sampling_ratio), boxes
    if mode != "per_image":
        raise ValueError(f"crop mode must be 'batched' or 'per_image', got {mode!r}")
    # the reference: maps to the CPU, then one box and one PIL crop per image
    cpu_maps, cpu_sizes = maps.detach().float().cpu().numpy(), sizes.cpu().tolist()
    cpu_boxes = [crop_box(m, (w, h), threshold, global_size) for m, (w, h) in zip(cpu_maps, cpu_sizes)]
    pics = [Image.fromarray(originals[i, :, :h, :w].permute(1, 2, 0).cpu().numpy())
            for i, (w, h) in enumerate(cpu_sizes)]
    boxes = torch.tensor(cpu_boxes, dtype=torch.long, device=maps.device).reshape(-1, 4)
    return zoom_per_image(pics, cpu_boxes, local_size).to(maps.device), boxes
