"""asen: attribute-specific fashion similarity (ASEN, AAAI 2020; ASEN++, IEEE TIP 2021).

Modules: :mod:`asen.config` (typed configs), :mod:`asen.layout` (the split-file layout: read, write, check),
:mod:`asen.data` (images, samplers), :mod:`asen.model` (ASEN/ASEN++ and baselines), :mod:`asen.roi` (the local
zoom), :mod:`asen.losses`, :mod:`asen.metrics` (MAP),
:mod:`asen.embed` (images -> features), :mod:`asen.evaluate`, :mod:`asen.search` (FAISS search, reranking),
:mod:`asen.train`, :mod:`asen.checkpoint` (incl. the authors' checkpoints), :mod:`asen.synth` (the SynthFashion
generator) and :mod:`asen.cli` (the ``asen`` command); the README maps every module.
"""
__version__ = "0.1.0"

from .cpu import cap_onednn_isa as _cap_onednn_isa

# Before any convolution runs: oneDNN's AVX-512 kernels crashed on Intel Xeons (see asen.cpu).
_cap_onednn_isa()
