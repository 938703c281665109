"""SynthFashion: a procedural garment dataset that mimics FashionAI's eight attributes.

Images are people wearing garments, drawn with Pillow (see :mod:`asen.synth.render`); the dataset
is written in the split-file layout the library reads for FashionAI/DARN/DeepFashion (see
:mod:`asen.synth.layout`). Length attributes are coarse shape; design attributes are details in a
small region around the neck, legible in a crop of the 224 px original but not at the global branch's input --
the premise of ASEN++'s local branch. They come in two designs (:data:`DESIGNS`): design 2 (the default,
generator 2.2.0) marks the region with a piece (or, for necklines, a binding) contrasting with the garment,
findable at 64 px, whose values differ in shapes ambiguous at that size, and bands the coat's hem; design 1 (generator 1.0.0, the first design) draws fine details that
blur away at ~96 px, mostly in the garment's own fabric, with little at 64 px to show where to look. The design is recorded as the generator version in ``meta.json``.

Example::

    from asen.synth import generate_dataset, save_preview
    root = generate_dataset("data/SynthFashion", size="small", seed=0)  # design 2, the default
    root1 = generate_dataset("data/SynthFashion1", size="small", seed=0, design=1)
    save_preview("preview.png")
"""

from .attributes import ATTRIBUTE_NAMES, ATTRIBUTES, NUM_VALUES
from .layout import (
    GENERATOR_VERSION,
    GENERATOR_VERSIONS,
    SIZES,
    SizeSpec,
    dataset_design,
    generate_dataset,
    is_complete,
    split_plan,
)
from .preview import save_preview
from .render import DEFAULT_DESIGN, DESIGNS, render_image, render_with_info

__version__: str = GENERATOR_VERSION
"""The default design's generator version, recorded in ``meta.json`` (each design's: :data:`GENERATOR_VERSIONS`);
bumped whenever the bytes for a (seed, size, design) change."""

__all__ = [
    "ATTRIBUTES",
    "ATTRIBUTE_NAMES",
    "DEFAULT_DESIGN",
    "DESIGNS",
    "GENERATOR_VERSIONS",
    "NUM_VALUES",
    "SIZES",
    "SizeSpec",
    "__version__",
    "dataset_design",
    "generate_dataset",
    "is_complete",
    "render_image",
    "render_with_info",
    "save_preview",
    "split_plan",
]
