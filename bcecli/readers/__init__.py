"""Readers: files in, aligned chunks of labels, predictions and weights out.

The public API: ``open_input`` (files and the columns named -> an ``Input``), the ``Input``
(its ``Layout``, its ``chunks``, its ``dataset`` for an engine that reads the files itself),
``assemble_chunk`` and ``column_from_arrow`` (a batch's columns as the core takes them).

The modules, from the bottom up (each imports only those above it):

- ``display``: text from the data made safe for messages
- ``base``: ``Source``, ``Column``, ``Batch``; ``dataset``: files described for other readers
- ``cells`` (what a text cell means), ``arrow`` (arrow arrays as numpy), ``detect`` (which
  format a file is, from its first bytes)
- the formats: ``text`` (CSV/TSV, with ``csv_dialect`` and ``csv_scan``), ``arrays`` (NPY,
  NPZ), ``parquet``, ``memory`` (arrays already in memory); ``formats``: a path to the source
  of its format
- ``partitions`` (a directory or glob as one source), ``labels`` (text labels as numbers),
  ``columns`` (which columns by name), ``batches`` (chunks from batches)
- ``input`` (an opened input) and ``resolve`` (``open_input``: which columns of which files)
"""

from __future__ import annotations

from bcecli.readers.arrow import column_from_arrow
from bcecli.readers.base import Batch, Column, Source, TextColumn
from bcecli.readers.batches import assemble_chunk
from bcecli.readers.columns import Selection
from bcecli.readers.dataset import CsvDialect, Dataset, Files
from bcecli.readers.input import CHUNK_ROWS, Input, Layout
from bcecli.readers.labels import LabelMapper
from bcecli.readers.resolve import ColumnRequest, open_input

__all__ = [
    "CHUNK_ROWS",
    "Batch",
    "Column",
    "ColumnRequest",
    "CsvDialect",
    "Dataset",
    "Files",
    "Input",
    "LabelMapper",
    "Layout",
    "Selection",
    "Source",
    "TextColumn",
    "assemble_chunk",
    "column_from_arrow",
    "open_input",
]
