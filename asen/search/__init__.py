"""Attribute-specific search over large galleries with FAISS, and attribute-specific reranking.

Two uses of a trained ASEN / ASEN++ model beyond the MAP protocol of ASEN++ Sec. IV-A:

* **Search.** :func:`build_index` embeds a gallery once per attribute and writes one FAISS index per
  attribute; :func:`search` embeds a query image under one attribute and returns its nearest gallery
  images. Features are L2-normalised; for a model with a local branch (ASEN++) they are the fused
  ``[sqrt(beta) g ; sqrt(1 - beta) l]`` of :func:`asen.evaluate.fuse`, so the inner product that FAISS
  maximises is ``beta cos_global + (1 - beta) cos_local``, the similarity of the paper's evaluation.
  ``flat`` (``IndexFlatIP``) is exact; ``hnsw`` (``IndexHNSWFlat``) and ``ivf`` (``IndexIVFFlat``) are
  approximate. :func:`search_vectors` is the pure-array search, :func:`exact_search` its NumPy reference.
* **Reranking** (ASEN++ Sec. V, "Application: fashion reranking"). :func:`rerank` reorders a given
  result list (e.g. from a general, attribute-agnostic similarity search) by attribute-specific
  similarity to the query, optionally blended with the original scores:
  ``score = alpha * s_attr + (1 - alpha) * s_original``.

The global backbone does not depend on the attribute (the attribute enters at the attention modules), so
:func:`embed_images` runs it once per image and only the attention heads (and, for ASEN++, the local
branch on the attribute-dependent crop) once per attribute.

An index folder holds::

    index.json      attribute names, indexed attributes, dims, index type and parameters,
                    embedding settings (sizes, beta, crop threshold), checkpoint path, config hash,
                    the SHA-256 of the model's weights and of every file below
    gallery.txt     one image path per line; line i is id i in every per-attribute index
    attr_<a>.faiss  one FAISS index per indexed attribute a
    features_<a>.npy  the gallery features (only with ``keep_features``)

An index answers only for the weights it was built with: a query embedded by a model whose weights differ
(another checkpoint, even of the same config) or a changed ``gallery.txt`` / ``attr_<a>.faiss`` is refused
(:class:`IndexMismatchError`) instead of returning scores that mean nothing.

FAISS is imported lazily (``pip install faiss-cpu``); GPU indexes are used when asked for and
``faiss.get_num_gpus() > 0``.

One module a job: :mod:`~asen.search.vectors` (FAISS indexes over vectors), :mod:`~asen.search.attributes`
(attribute names), :mod:`~asen.search.index` (index folders: build, load, search), :mod:`~asen.search.rerank`,
:mod:`~asen.search.lists` (gallery image lists and ``path<TAB>score`` result lists); the embedding itself is
:mod:`asen.embed`'s, the ``asen index build``, ``asen search`` and ``asen rerank`` commands are
:mod:`asen.cli.search`'s. Everything is importable from ``asen.search``.
"""
from __future__ import annotations

from ..embed import EmbedSettings, ImageLike, ImageList, embed_images
from .attributes import load_attribute_names, resolve_attribute, resolve_attributes
from .lists import IMAGE_EXTENSIONS, format_results, gallery_paths, read_results, write_results
from .index import (INDEX_FORMAT, INDEX_VERSION, IndexMismatchError, SearchIndex, build_index, file_sha256,
                    load_index, search)
from .rerank import rerank, rerank_order
from .vectors import INDEX_TYPES, exact_search, faiss_gpu_available, make_index, require_faiss, search_vectors

__all__ = [
    "EmbedSettings", "ImageLike", "ImageList", "embed_images",
    "load_attribute_names", "resolve_attribute", "resolve_attributes",
    "IMAGE_EXTENSIONS", "format_results", "gallery_paths", "read_results", "write_results",
    "INDEX_FORMAT", "INDEX_VERSION", "IndexMismatchError", "SearchIndex", "build_index", "file_sha256", "load_index",
    "search",
    "rerank", "rerank_order",
    "INDEX_TYPES", "exact_search", "faiss_gpu_available", "make_index", "require_faiss", "search_vectors",
]
