"""SynthFashion: a procedural garment dataset that mimics FashionAI's eight attributes.

Images are people wearing garments, drawn with Pillow (see :mod:`asen.synth.render`); the dataset
is written in the split-file layout the library reads for FashionAI/DARN/DeepFashion (see
:mod:`asen.synth.layout`). Length attributes are coarse shape; design attributes are details in a
region around the neck that a contrasting piece makes findable at the global branch's 64 px input, with
values that differ in shapes ambiguous at that size but legible in a crop of the 224 px original -- the
premise of ASEN++'s local branch.

Example::

    from asen.synth import generate_dataset, save_preview
    root = generate_dataset("data/SynthFashion", size="small", seed=0)
    save_preview("preview.png")
"""

from .attributes import ATTRIBUTE_NAMES, ATTRIBUTES, NUM_VALUES
from .layout import GENERATOR_VERSION, SIZES, SizeSpec, generate_dataset, is_complete, split_plan
from .preview import save_preview
from .render import render_image, render_with_info

__version__: str = GENERATOR_VERSION
"""Generator version, recorded in ``meta.json``; bumped whenever the bytes for a (seed, size) change."""

__all__ = [
    "ATTRIBUTES",
    "ATTRIBUTE_NAMES",
    "NUM_VALUES",
    "SIZES",
    "SizeSpec",
    "__version__",
    "generate_dataset",
    "is_complete",
    "render_image",
    "render_with_info",
    "save_preview",
    "split_plan",
]
