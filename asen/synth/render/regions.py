"""Where each attribute's values are drawn: one value-independent region per attribute, in pixels.

ASEN++'s local branch (Sec. III-C) zooms into the region its attention finds; SynthFashion knows the region
each attribute's details are drawn in, so a probe (``tools/readability_probe.py``) can cut the crop an ideal
attention map would give. A region depends on the person and the framing only, never on the value (a
value-dependent box would itself give the label away) nor on the design (1 or 2, :mod:`.details`): the neck
region for the design attributes, the span of all hem heights for the length attributes.
"""

from __future__ import annotations

from .body import Body
from .scene import Frame

# (x half width, y top, y bottom) in body units; y relative to the neck base ("nb") or absolute ("abs").
REGIONS: dict[str, tuple[float, float, float, str]] = {
    "skirt_length": (0.30, 0.55, 1.04, "abs"),  # hems 0.600 .. 1.005
    "sleeve_length": (0.34, 0.17, 0.70, "abs"),  # shoulder .. fingertips
    "coat_length": (0.30, 0.32, 1.00, "abs"),  # hems 0.360 .. 0.960
    "pant_length": (0.30, 0.54, 1.00, "abs"),  # hems 0.585 .. 0.965
    "collar_design": (0.09, -0.05, 0.08, "nb"),
    "lapel_design": (0.12, -0.03, 0.25, "nb"),  # lapels run down to the top button (y 0.30 .. 0.40), both designs
    "neckline_design": (0.12, -0.04, 0.14, "nb"),  # deep V reaches nb + 0.13, boat / off-shoulder +-0.09
    "neck_design": (0.07, -0.05, 0.03, "nb"),
}
"""Per attribute name: the region its values are drawn in, in body units around the body's centre line."""


def framing(frame: Frame, size: tuple[int, int]) -> tuple[float, float, float]:
    """Pixels per body unit, the centre line's ``x`` and the pixel ``y`` of body height 0.

    Args:
        frame: the image's framing (``bottom`` already resolved).
        size: image ``(width, height)``.

    Returns:
        ``(s, cx, oy)``: a body point ``(x, y)`` is drawn at pixel ``(cx + s * x, oy + s * y)``.
    """
    w, h = size
    s = h / (frame.bottom - frame.top)
    return s, w / 2 + frame.dx * w, -frame.top * s


def region_box(name: str, body: Body, frame: Frame, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """The attribute's region in pixels, clipped to the image.

    Args:
        name: attribute name (a key of :data:`REGIONS`).
        body: the figure (its neck base height).
        frame: the framing.
        size: image ``(width, height)``.

    Returns:
        ``(left, top, right, bottom)`` in pixels; empty (``right <= left`` or ``bottom <= top``) when the region
        lies outside the picture (an Invisible image framed below the neck).
    """
    hw, y0, y1, ref = REGIONS[name]
    if ref == "nb":
        y0, y1 = body.nb + y0, body.nb + y1
    s, cx, oy = framing(frame, size)
    w, h = size
    left, right = max(0.0, cx - s * hw), min(float(w), cx + s * hw)
    top, bottom = max(0.0, oy + s * y0), min(float(h), oy + s * y1)
    return left, top, right, bottom
