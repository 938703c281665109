"""The eight FashionAI attributes that SynthFashion imitates, and their value statistics.

Everything that is "about the labels" lives here so that the renderer (:mod:`asen.synth.render`)
and the split writer (:mod:`asen.synth.layout`) agree on one table:

* :data:`ATTRIBUTES` -- ``(name, value_names)`` in FashionAI order; value 0 is always ``Invisible``.
* :data:`QUERY_COUNTS` / :data:`CANDIDATE_COUNTS` -- FashionAI's per-attribute query/candidate counts
  of its test split (3600 / 14400); their ratios are the per-attribute shares used at every size.
* :data:`VALUE_WEIGHTS` -- mildly non-uniform value frequencies within each attribute
  (max/min <= 2.2), chosen so that random embeddings score roughly 17 % MAP as on FashionAI.
"""

from __future__ import annotations

from ..layout import resolve_attribute

ATTRIBUTES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("skirt_length", ("Invisible", "Short Length", "Knee Length", "Midi Length", "Ankle Length", "Floor Length")),
    (
        "sleeve_length",
        (
            "Invisible",
            "Sleeveless",
            "Cup Sleeves",
            "Short Sleeves",
            "Elbow Sleeves",
            "3/4 Sleeves",
            "Wrist Length",
            "Long Sleeves",
            "Extra Long Sleeves",
        ),
    ),
    (
        "coat_length",
        (
            "Invisible",
            "High Waist Length",
            "Regular Length",
            "Long Length",
            "Micro Length",
            "Knee Length",
            "Midi Length",
            "Ankle&Floor Length",
        ),
    ),
    ("pant_length", ("Invisible", "Short Pant", "Mid Length", "3/4 Length", "Cropped Pant", "Full Length")),
    ("collar_design", ("Invisible", "Shirt Collar", "Peter Pan", "Puritan Collar", "Rib Collar")),
    ("lapel_design", ("Invisible", "Notched", "Collarless", "Shawl Collar", "Plus Size Shawl")),
    (
        "neckline_design",
        (
            "Invisible",
            "Strapless Neck",
            "Deep V Neckline",
            "Straight Neck",
            "V Neckline",
            "Square Neckline",
            "Off Shoulder",
            "Round Neckline",
            "Sweat Heart Neck",
            "One Shoulder Neckline",
        ),
    ),
    ("neck_design", ("Invisible", "Turtle Neck", "Ruffle Semi-High Collar", "Low Turtle Neck", "Draped Collar")),
)
"""``(attribute name, value names)`` for the 8 FashionAI attributes, in FashionAI order."""

ATTRIBUTE_NAMES: tuple[str, ...] = tuple(name for name, _ in ATTRIBUTES)
"""Attribute names, index = attribute id."""

NUM_VALUES: tuple[int, ...] = tuple(len(values) for _, values in ATTRIBUTES)
"""Number of values per attribute (6, 9, 8, 6, 5, 5, 10, 5)."""

QUERY_COUNTS: tuple[int, ...] = (422, 623, 535, 422, 341, 289, 703, 265)
"""FashionAI test-split queries per attribute (sum 3600)."""

CANDIDATE_COUNTS: tuple[int, ...] = (1703, 2383, 2088, 1722, 1401, 1269, 2734, 1100)
"""FashionAI test-split candidates per attribute (sum 14400)."""

DESIGN_ATTRIBUTES: frozenset[str] = frozenset({"collar_design", "lapel_design", "neckline_design", "neck_design"})
"""Attributes whose evidence is a small region around the neck (the local branch's job)."""

LENGTH_ATTRIBUTES: frozenset[str] = frozenset({"skirt_length", "sleeve_length", "coat_length", "pant_length"})
"""Attributes whose evidence is global shape (where a hem ends relative to the body)."""

VALUE_WEIGHTS: tuple[tuple[float, ...], ...] = (
    (0.70, 1.45, 1.30, 1.00, 0.80, 0.75),
    (0.60, 1.25, 0.75, 1.35, 0.90, 1.10, 0.85, 1.30, 0.65),
    (0.60, 0.85, 1.40, 1.25, 0.80, 1.10, 0.95, 0.70),
    (0.65, 1.40, 0.95, 1.10, 0.80, 1.35),
    (0.65, 1.45, 1.00, 0.75, 1.15),
    (0.65, 1.45, 1.00, 1.15, 0.75),
    (0.55, 0.85, 1.10, 0.90, 1.40, 0.85, 1.20, 1.35, 0.75, 0.70),
    (0.65, 1.45, 0.80, 1.20, 0.95),
)
"""Relative frequency of each value within its attribute (same order as :data:`ATTRIBUTES`)."""


def attribute_index(attribute: int | str) -> int:
    """Resolve an attribute given by id or name (:func:`asen.layout.resolve_attribute` over :data:`ATTRIBUTE_NAMES`).

    Args:
        attribute: attribute id ``0..7`` or its name (e.g. ``"collar_design"``).

    Returns:
        The attribute id.

    Raises:
        ValueError: unknown name, id out of range (:class:`asen.layout.DataError`, a ``ValueError``), or neither an
            int nor a name.
    """
    if isinstance(attribute, bool) or not isinstance(attribute, str) and not hasattr(attribute, "__index__"):
        raise ValueError(f"attribute must be an int id 0..{len(ATTRIBUTES) - 1} or a name, got {attribute!r}")
    return resolve_attribute(attribute if isinstance(attribute, str) else attribute.__index__(), ATTRIBUTE_NAMES)


def check_value(attribute: int, value: int) -> int:
    """Validate a value id for an attribute.

    Args:
        attribute: attribute id (already validated).
        value: value id.

    Returns:
        The value as a plain ``int``.

    Raises:
        ValueError: value is not an int or out of range for the attribute.
    """
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise ValueError(f"value must be an int, got {value!r}")
    v = int(value.__index__())
    n = NUM_VALUES[attribute]
    if not 0 <= v < n:
        raise ValueError(
            f"value {value!r} out of range for attribute '{ATTRIBUTE_NAMES[attribute]}'; expected 0..{n - 1}"
        )
    return v


def random_map_estimate(queries: tuple[int, ...] = QUERY_COUNTS) -> float:
    """Expected MAP of random embeddings, ``sum_a share_a * sum_v p_v**2`` (large-candidate-set limit).

    Args:
        queries: per-attribute query counts used to weight the attributes.

    Returns:
        The estimate (about 0.17 with the default weights).
    """
    total = float(sum(queries))
    result = 0.0
    for count, weights in zip(queries, VALUE_WEIGHTS):
        z = sum(weights)
        result += count / total * sum((w / z) ** 2 for w in weights)
    return result
