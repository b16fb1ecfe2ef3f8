"""Benchmarks users run from the CLI (layer L4): ``secfl bench attacks``."""

from __future__ import annotations

from secfl.bench.attacks import (
    BenchProfile,
    Cell,
    CellResult,
    cached_results,
    load_profile,
    run_benchmark,
    write_outputs,
)

__all__ = [
    "BenchProfile",
    "Cell",
    "CellResult",
    "cached_results",
    "load_profile",
    "run_benchmark",
    "write_outputs",
]
