"""Per-value geometry of SynthFashion's attributes: hem heights, sleeve ends and design-value names.

The keys are FashionAI's value ids (value 0, Invisible, has no entry); the names follow FashionAI's value names
(:data:`asen.synth.attributes.ATTRIBUTES`) of the attributes ASEN++ evaluates on (Sec. IV-A).
"""

from __future__ import annotations

# Hem heights (body units) per value; Invisible has none.
SKIRT_HEMS = {1: 0.600, 2: 0.715, 3: 0.830, 4: 0.935, 5: 1.005}
COAT_HEMS = {1: 0.360, 2: 0.480, 3: 0.555, 4: 0.630, 5: 0.720, 6: 0.830, 7: 0.960}
PANT_HEMS = {1: 0.585, 2: 0.690, 3: 0.790, 4: 0.870, 5: 0.965}
# Sleeve end as a fraction of shoulder->wrist (>1 covers the hand); None = sleeveless.
SLEEVE_ENDS: dict[int, float | None] = {1: None, 2: 0.07, 3: 0.30, 4: 0.52, 5: 0.72, 6: 0.90, 7: 1.00, 8: 1.17}

COLLARS = {1: "shirt", 2: "peter_pan", 3: "puritan", 4: "rib"}
LAPELS = {1: "notched", 2: "collarless", 3: "shawl", 4: "plus_shawl"}
NECKLINES = {
    1: "strapless",
    2: "deep_v",
    3: "boat",
    4: "v",
    5: "square",
    6: "off_shoulder",
    7: "round",
    8: "sweetheart",
    9: "one_shoulder",
}
NECKS = {1: "turtle", 2: "ruffle", 3: "low_turtle", 4: "draped"}
