"""Datasets and partitioners (layer L3). Nothing is downloaded at run time."""

from __future__ import annotations

from secfl.data.dataset import PIXEL_STATS, Dataset, Task
from secfl.data.partition import dirichlet, iid, natural, shards
from secfl.data.registry import DATASETS, DatasetStatus, dataset_status, load_dataset
from secfl.data.sources import DATA_DIR_ENV

__all__ = [
    "DATASETS",
    "DATA_DIR_ENV",
    "PIXEL_STATS",
    "Dataset",
    "DatasetStatus",
    "Task",
    "dataset_status",
    "dirichlet",
    "iid",
    "load_dataset",
    "natural",
    "shards",
]
