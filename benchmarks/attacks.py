"""Attack-resistance benchmark (``make bench`` runs the quick profile).

    python -m benchmarks attacks [--profile quick|paper] [--jobs N]

Runs ``secfl bench attacks`` and copies the headline outputs (Markdown table,
JSON with every cell, heatmap) to ``benchmarks/results/attacks_<profile>.*``.
Finished cells are cached in ``benchmarks/results/<profile>/cells/`` and
committed, so an interrupted run (even the hours-long ``paper`` profile, run
in pieces) resumes where it stopped, on this machine or another.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from secfl.bench import BenchProfile

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks attacks")
    parser.add_argument("--profile", default="quick", choices=("quick", "paper"))
    parser.add_argument("--jobs", type=int, default=max(1, min(2, os.cpu_count() or 1)))
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="write the outputs from the finished (cached) cells without running any",
    )
    args = parser.parse_args(argv)

    from secfl.bench import cached_results, load_profile, run_benchmark, write_outputs

    profile = load_profile(args.profile)
    cache = RESULTS / profile.name
    if args.report_only:
        finished = cached_results(profile, cache)
        print(f"  {len(finished)}/{len(profile.cells())} cells finished", flush=True)
        _publish(profile, write_outputs(profile, finished, cache))
        return 0
    done = 0

    def progress(cell: object, result: object, cached: bool) -> None:
        nonlocal done
        done += 1
        if done % 25 == 0 or done == len(profile.cells()):
            print(f"  {done}/{len(profile.cells())} cells", flush=True)

    results = run_benchmark(profile, cache, jobs=args.jobs, on_cell=progress)
    _publish(profile, write_outputs(profile, results, cache))
    return 0


def _publish(profile: BenchProfile, paths: dict[str, Path]) -> None:
    """Copy the outputs next to the other benchmarks' results."""
    for kind, path in paths.items():
        target = RESULTS / f"{profile.name}.{kind}"
        shutil.copyfile(path, target)
        print(f"{kind}: {target}")
