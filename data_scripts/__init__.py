"""Scripts that turn the public fashion datasets into the split-file layout of :mod:`asen.layout`.

Run them as modules from the repository root (``python -m data_scripts.prepare_fashionai --help``); see
``data_scripts/README.md``.
"""
