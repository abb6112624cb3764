"""Multitrack data: dataset layouts, silence-aware segments, batching, splits, synthetic sessions.

Every loader turns a dataset's own layout into :class:`Song` records;
:class:`MultitrackDataset` cuts segments from any list of them and
:func:`collate_examples` batches songs with different numbers of stems.
"""

from console.data.collate import Batch, Example, collate_examples
from console.data.dataset import MultitrackDataset, make_loader
from console.data.enst import scan_enst
from console.data.folder import scan_folder
from console.data.medleydb import scan_medleydb
from console.data.problems import DataWarning
from console.data.song import Song
from console.data.splits import Splits, split_songs

__all__ = [
    "Batch",
    "DataWarning",
    "Example",
    "MultitrackDataset",
    "Song",
    "Splits",
    "collate_examples",
    "make_loader",
    "scan_enst",
    "scan_folder",
    "scan_medleydb",
    "split_songs",
]
