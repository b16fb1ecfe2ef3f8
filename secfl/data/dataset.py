"""The in-memory dataset container shared by all loaders (layer L3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from secfl.errors import ConfigurationError

__all__ = ["PIXEL_STATS", "Dataset", "Task"]

Task = Literal["classification", "regression"]

# Published per-dataset pixel mean and standard deviation (of the training
# images scaled to [0, 1]) used to standardise inputs, as PyTorch's MNIST
# example and many papers do (e.g. Karimireddy, He, Jaggi, ICLR 2022). Public
# constants, so no client needs a statistic of the others' data.
PIXEL_STATS: Mapping[str, tuple[float, float]] = {
    "mnist": (0.1307, 0.3081),
    "fashion_mnist": (0.2860, 0.3530),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Dataset:
    """A train/test dataset ready for partitioning and training.

    Attributes:
        name: dataset name as used in configs (e.g. ``"digits"``).
        task: ``"classification"`` or ``"regression"``.
        x_train: float32 features, ``(n, *input_shape)``.
        y_train: int64 labels (classification) or float32 targets (regression).
        x_test: float32 test features.
        y_test: test labels/targets.
        input_shape: shape of one example, e.g. ``(1, 28, 28)`` or ``(features,)``.
        num_classes: number of classes (1 for regression: one output).
        source: where the data was read from (a path or "built-in").
        verified: whether the source files matched a known SHA-256 checksum.
        keys: raw categorical columns of the training rows, usable as natural
            partition keys (e.g. Bank Marketing's ``job``).
        feature_names: names of the feature columns (tabular data).
        notes: preprocessing notes shown by ``secfl datasets``.
    """

    name: str
    task: Task
    x_train: NDArray[np.float32]
    y_train: NDArray[Any]
    x_test: NDArray[np.float32]
    y_test: NDArray[Any]
    input_shape: tuple[int, ...]
    num_classes: int
    source: str
    verified: bool = False
    keys: Mapping[str, NDArray[np.str_]] = field(default_factory=dict)
    feature_names: tuple[str, ...] = ()
    notes: str = ""

    def __post_init__(self) -> None:
        for split, x, y in (
            ("train", self.x_train, self.y_train),
            ("test", self.x_test, self.y_test),
        ):
            if x.shape[0] != y.shape[0]:
                raise ConfigurationError(
                    f"{self.name}: {split} has {x.shape[0]} rows, {y.shape[0]} labels"
                )
            if tuple(x.shape[1:]) != self.input_shape:
                raise ConfigurationError(
                    f"{self.name}: {split} examples have shape {x.shape[1:]},"
                    f" expected {self.input_shape}"
                )
        for key, values in self.keys.items():
            if values.shape[0] != self.x_train.shape[0]:
                raise ConfigurationError(f"{self.name}: key column {key!r} has the wrong length")

    @property
    def num_features(self) -> int:
        """Number of scalar inputs per example."""
        return int(np.prod(self.input_shape))

    def select_train(self, rows: NDArray[np.integer[Any]], note: str = "") -> Dataset:
        """Return a copy keeping only the training ``rows`` (test split unchanged)."""
        return Dataset(
            name=self.name,
            task=self.task,
            x_train=self.x_train[rows],
            y_train=self.y_train[rows],
            x_test=self.x_test,
            y_test=self.y_test,
            input_shape=self.input_shape,
            num_classes=self.num_classes,
            source=self.source,
            verified=self.verified,
            keys={k: v[rows] for k, v in self.keys.items()},
            feature_names=self.feature_names,
            notes=self.notes + (f"; {note}" if note else ""),
        )

    def standardized(self) -> Dataset:
        """Inputs standardised with the dataset's published pixel mean and std.

        Raises:
            ConfigurationError: for a dataset without published constants.
        """
        if self.name not in PIXEL_STATS:
            raise ConfigurationError(
                f"no published pixel statistics for {self.name!r} (standardisation is"
                f" available for {', '.join(sorted(PIXEL_STATS))})"
            )
        mean, std = PIXEL_STATS[self.name]

        def scale(x: NDArray[np.float32]) -> NDArray[np.float32]:
            return ((x - np.float32(mean)) / np.float32(std)).astype(np.float32)

        return replace(
            self,
            x_train=scale(self.x_train),
            x_test=scale(self.x_test),
            notes=self.notes + f"; standardised with mean {mean}, std {std}",
        )

    def subsample_train(self, max_samples: int, seed: int) -> Dataset:
        """Return a copy with at most ``max_samples`` training rows, chosen by ``seed``."""
        n = self.x_train.shape[0]
        if max_samples >= n:
            return self
        idx = np.sort(np.random.default_rng(seed).permutation(n)[:max_samples])
        return self.select_train(idx)
