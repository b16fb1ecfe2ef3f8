"""The attack-resistance benchmark: attacks x defenses x settings (layer L4).

A *profile* (TOML; ``quick`` and ``paper`` ship with secfl) names the attacks,
the defenses, whether each runs in plaintext and/or through bucketed secure
aggregation (``protected``), heterogeneity levels, Byzantine counts and seeds,
plus a ``[base]`` run configuration shared by every cell. Each cell is one
federated run of :func:`secfl.federation.run`.

Cells are cached: a finished cell is written to ``<out>/cells/<key>.json``
(atomically) and skipped on the next invocation if its full configuration is
unchanged, so an interrupted benchmark resumes where it stopped. Cells run in
parallel worker processes (``jobs``), each with one torch thread.

Outputs in ``<out>``: ``<name>.json`` (every cell), ``<name>.md`` (the
headline: worst-case accuracy of each defense over all attacks, then the full
matrices) and ``<name>.png`` (heatmaps).
"""

from __future__ import annotations

import concurrent.futures as futures
import hashlib
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from secfl.errors import ConfigurationError, DataNotFoundError, SecflError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "BenchProfile",
    "Cell",
    "CellResult",
    "load_profile",
    "run_benchmark",
    "write_outputs",
]

PROFILES = ("quick", "paper")


@dataclass(frozen=True, slots=True)
class Cell:
    """One point of the matrix."""

    attack: str
    defense: str
    protected: bool
    heterogeneity: str
    byzantine: int
    seed: int

    def label(self) -> str:
        """A short human-readable name."""
        where = "protected" if self.protected else "plain"
        return (
            f"{self.attack} vs {self.defense}"
            f" ({where}, {self.heterogeneity}, f={self.byzantine}, seed {self.seed})"
        )


@dataclass(frozen=True, slots=True)
class CellResult:
    """What one cell measured (the JSON's ``cells`` entries)."""

    attack: str
    defense: str
    protected: bool
    heterogeneity: str
    byzantine: int
    seed: int
    status: str  # "ok", "refused" (configuration refused), "error"
    final_accuracy: float | None = None
    best_accuracy: float | None = None
    mean_last_accuracy: float | None = None
    backdoor_success: float | None = None
    rejections_per_round: list[int] = field(default_factory=list)
    byzantine_rejected_per_round: list[int] = field(default_factory=list)
    accuracy_per_round: list[float | None] = field(default_factory=list)
    wall_time: float = 0.0
    robust_config: bool | None = None
    note: str = ""
    config_sha256: str = ""


@dataclass(frozen=True, slots=True)
class BenchProfile:
    """A benchmark matrix and the run configuration shared by its cells."""

    name: str
    attacks: tuple[str, ...]
    defenses: tuple[str, ...]
    protected: tuple[bool, ...]
    byzantine: tuple[int, ...]
    seeds: tuple[int, ...]
    heterogeneity: tuple[Mapping[str, Any], ...]
    protection: str
    base: Mapping[str, Any]
    attack_params: Mapping[str, Mapping[str, Any]]
    defense_config: Mapping[str, Mapping[str, Any]]
    last_k: int = 1
    paper: Mapping[str, Any] = field(default_factory=dict)

    def cells(self) -> list[Cell]:
        """Every cell of the matrix, in a stable order."""
        return [
            Cell(attack, defense, protected, str(h["label"]), f, seed)
            for h in self.heterogeneity
            for f in self.byzantine
            for protected in self.protected
            for defense in self.defenses
            for attack in self.attacks
            for seed in self.seeds
        ]

    def heterogeneity_of(self, label: str) -> Mapping[str, Any]:
        """The data overrides of a heterogeneity label."""
        for h in self.heterogeneity:
            if h["label"] == label:
                return {k: v for k, v in h.items() if k != "label"}
        raise ConfigurationError(f"unknown heterogeneity {label!r}")

    def cell_config(self, cell: Cell) -> dict[str, Any]:
        """The full run configuration of one cell (a plain mapping)."""
        raw: dict[str, Any] = json.loads(json.dumps(self.base))
        raw.setdefault("run", {})
        raw["run"].update({"seed": cell.seed, "name": "bench"})
        raw["run"].setdefault("checkpoint_every", 10**6)
        raw.setdefault("audit", {})["enabled"] = False
        raw.setdefault("data", {}).update(self.heterogeneity_of(cell.heterogeneity))
        aggregator = raw.setdefault("aggregator", {})
        aggregator["rule"] = cell.defense
        for key, value in self.defense_config.get(cell.defense, {}).items():
            aggregator[key] = value  # may set "rule" for labelled variants (krum+bucketing)
        attack = raw.setdefault("attack", {})
        if cell.attack == "none":
            attack.clear()
            attack["kind"] = "none"
            attack["byzantine"] = 0
            aggregator.setdefault("assume_byzantine", cell.byzantine)
        else:
            attack["kind"] = cell.attack
            attack["byzantine"] = cell.byzantine
            attack["params"] = dict(self.attack_params.get(cell.attack, {}))
        if cell.protected:
            raw.setdefault("protection", {})["kind"] = self.protection
            # Run configurations whose bucketing guarantees fall short too, and report it.
            aggregator["force"] = True
        else:
            raw.setdefault("protection", {})["kind"] = "none"
        return raw


def _profile_text(name_or_path: str | os.PathLike[str]) -> tuple[str, str]:
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        try:
            return path.read_text(), str(path)
        except OSError as exc:
            raise ConfigurationError(f"cannot read profile {path}: {exc.strerror}") from exc
    name = str(name_or_path)
    if name not in PROFILES:
        raise ConfigurationError(
            f"unknown profile {name!r}; known: {', '.join(PROFILES)} or a .toml file"
        )
    resource = resources.files("secfl.bench").joinpath("profiles", f"attacks_{name}.toml")
    return resource.read_text(), f"built-in profile {name}"


def load_profile(name_or_path: str | os.PathLike[str]) -> BenchProfile:
    """Load a built-in profile (``quick``, ``paper``) or a TOML file.

    Raises:
        ConfigurationError: for unknown names, unknown attacks or defenses, or
            a base configuration that does not validate.
    """
    from secfl import attacks, robust
    from secfl.federation.config import RunConfig

    text, where = _profile_text(name_or_path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{where}: invalid TOML: {exc}") from exc
    bench = data.get("bench")
    if not isinstance(bench, dict):
        raise ConfigurationError(f"{where}: missing [bench] table")
    known_bench = {
        "name", "attacks", "defenses", "protected", "byzantine", "seeds", "heterogeneity",
        "protection", "attack_params", "defense_config", "last_k", "paper",
    }  # fmt: skip
    unknown = set(bench) - known_bench
    if unknown:
        raise ConfigurationError(f"{where}: unknown [bench] keys {sorted(unknown)}")
    profile = BenchProfile(
        name=str(bench.get("name", Path(where).stem)),
        attacks=tuple(bench.get("attacks", ["none"])),
        defenses=tuple(bench.get("defenses", ["mean"])),
        protected=tuple(bool(p) for p in bench.get("protected", [False])),
        byzantine=tuple(int(f) for f in bench.get("byzantine", [0])),
        seeds=tuple(int(s) for s in bench.get("seeds", [0])),
        heterogeneity=tuple(bench.get("heterogeneity", [{"label": "base"}])),
        protection=str(bench.get("protection", "secagg")),
        base=data.get("base", {}),
        attack_params=bench.get("attack_params", {}),
        defense_config=bench.get("defense_config", {}),
        last_k=int(bench.get("last_k", 1)),
        paper=bench.get("paper", {}),
    )
    for a in profile.attacks:
        if a != "none" and a not in attacks.names():
            raise ConfigurationError(f"{where}: unknown attack {a!r}")
    for d in profile.defenses:
        rule = profile.defense_config.get(d, {}).get("rule", d)
        if rule not in robust.names() and rule not in robust.pre_names():
            raise ConfigurationError(f"{where}: unknown defense {d!r} (rule {rule!r})")
    notes = profile.paper.get("notes", []) if isinstance(profile.paper, dict) else None
    if not (isinstance(notes, list) and all(isinstance(n, str) for n in notes)):
        raise ConfigurationError(f"{where}: [bench.paper] notes must be a list of strings")
    _check_paper_cells(profile.paper.get("cells", {}), where)
    for h in profile.heterogeneity:
        if "label" not in h:
            raise ConfigurationError(f"{where}: every heterogeneity entry needs a label")
    # Validate one cell's configuration now rather than after an hour of running.
    cells = profile.cells()
    if not cells:
        raise ConfigurationError(f"{where}: the matrix is empty")
    RunConfig.from_dict(profile.cell_config(cells[0]))
    return profile


def _check_paper_cells(cells: object, where: str) -> None:
    """``[bench.paper.cells]``: defense -> attack -> [mean, min, max] (%), min <= mean <= max."""
    bad = ConfigurationError(
        f"{where}: [bench.paper.cells] must map defense -> attack -> [mean, min, max] (%)"
    )
    if not isinstance(cells, dict):
        raise bad
    for per_attack in cells.values():
        if not isinstance(per_attack, dict):
            raise bad
        for ref in per_attack.values():
            if not (
                isinstance(ref, list)
                and len(ref) == 3
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in ref)
                and ref[1] <= ref[0] <= ref[2]
            ):
                raise bad


def cell_key(profile: BenchProfile, cell: Cell) -> tuple[str, str]:
    """(file key, config digest) of a cell: the digest covers its full configuration."""
    config = profile.cell_config(cell)
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
    where = "prot" if cell.protected else "plain"
    safe = "_".join(
        [
            cell.heterogeneity,
            f"f{cell.byzantine}",
            f"s{cell.seed}",
            where,
            cell.defense,
            cell.attack,
        ]
    )
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in safe), digest


def run_cell(profile: BenchProfile, cell: Cell, out: Path, data_dir: str | None) -> CellResult:
    """Run one cell (in the current process) and return what it measured."""
    import torch

    from secfl.federation import run

    torch.set_num_threads(1)
    key, digest = cell_key(profile, cell)
    run_dir = out / "runs" / key
    if run_dir.exists():
        shutil.rmtree(run_dir)
    base: dict[str, Any] = {
        "attack": cell.attack,
        "defense": cell.defense,
        "protected": cell.protected,
        "heterogeneity": cell.heterogeneity,
        "byzantine": cell.byzantine,
        "seed": cell.seed,
        "config_sha256": digest,
    }
    start = time.perf_counter()
    try:
        result = run(profile.cell_config(cell), run_dir=run_dir, data_dir=data_dir)
    except DataNotFoundError:
        # Where the data lives is the machine's business, not the cell's: never cache it.
        raise
    except ConfigurationError as exc:
        return CellResult(
            **base, status="refused", note=str(exc), wall_time=time.perf_counter() - start
        )
    except SecflError as exc:  # pragma: no cover - reported, not raised, so the matrix completes
        return CellResult(
            **base,
            status="error",
            note=f"{type(exc).__name__}: {exc}",
            wall_time=time.perf_counter() - start,
        )
    wall = time.perf_counter() - start
    info = json.loads((run_dir / "run.json").read_text())
    byzantine = set(info.get("byzantine", []))
    bucketing = info.get("bucketing")
    accuracies = [m.test_accuracy for m in result.metrics]
    known = [a for a in accuracies if a is not None]
    last = known[-profile.last_k :] if known else []
    backdoor = [m.extra.get("backdoor_success") for m in result.metrics]
    shutil.rmtree(run_dir, ignore_errors=True)
    return CellResult(
        **base,
        status="ok",
        final_accuracy=known[-1] if known else None,
        best_accuracy=max(known) if known else None,
        mean_last_accuracy=sum(last) / len(last) if last else None,
        backdoor_success=backdoor[-1] if backdoor and backdoor[-1] is not None else None,
        rejections_per_round=[len(m.rejected) for m in result.metrics],
        byzantine_rejected_per_round=[len(byzantine & set(m.rejected)) for m in result.metrics],
        accuracy_per_round=accuracies,
        wall_time=wall,
        robust_config=None if bucketing is None else bool(bucketing.get("robust")),
        note=""
        if bucketing is None or bucketing.get("robust")
        else "; ".join(bucketing.get("problems", [])),
    )


def _worker(args: tuple[BenchProfile, Cell, str, str | None]) -> dict[str, Any]:
    profile, cell, out, data_dir = args
    return asdict(run_cell(profile, cell, Path(out), data_dir))


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _cached(profile: BenchProfile, cell: Cell, out: Path) -> CellResult | None:
    """The cached result of a cell, if one exists for its exact configuration."""
    key, digest = cell_key(profile, cell)
    path = out / "cells" / f"{key}.json"
    if not path.exists():
        return None
    try:
        cached = CellResult(**json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError):
        return None
    if cached.config_sha256 != digest or cached.status == "error":
        return None
    return cached


def cached_results(profile: BenchProfile, out: str | os.PathLike[str]) -> list[CellResult]:
    """The finished cells of a results folder (matrix order), without running anything."""
    found = (_cached(profile, cell, Path(out)) for cell in profile.cells())
    return [r for r in found if r is not None]


def run_benchmark(
    profile: BenchProfile,
    out: str | os.PathLike[str],
    *,
    data_dir: str | None = None,
    jobs: int = 1,
    on_cell: Callable[[Cell, CellResult, bool], None] | None = None,
    cells: Sequence[Cell] | None = None,
) -> list[CellResult]:
    """Run every cell not already cached and return all results (in matrix order).

    Args:
        profile: the matrix.
        out: results folder (``cells/`` cache inside).
        data_dir: where the datasets are.
        jobs: cells run at the same time (worker processes); 1 runs in-process.
        on_cell: progress callback ``(cell, result, from_cache)``.
        cells: a subset of the matrix (default: all cells).
    """
    out_path = Path(out)
    (out_path / "cells").mkdir(parents=True, exist_ok=True)
    todo = list(cells) if cells is not None else profile.cells()
    results: dict[Cell, CellResult] = {}
    pending: list[Cell] = []
    for cell in todo:
        cached = _cached(profile, cell, out_path)
        if cached is not None:
            results[cell] = cached
            if on_cell is not None:
                on_cell(cell, cached, True)
            continue
        pending.append(cell)

    def finish(cell: Cell, result: CellResult) -> None:
        key, _ = cell_key(profile, cell)
        _write_atomic(out_path / "cells" / f"{key}.json", json.dumps(asdict(result), indent=1))
        results[cell] = result
        if on_cell is not None:
            on_cell(cell, result, False)

    if jobs <= 1:
        for cell in pending:
            finish(cell, run_cell(profile, cell, out_path, data_dir))
    else:
        with futures.ProcessPoolExecutor(max_workers=jobs) as pool:
            submitted = {
                pool.submit(_worker, (profile, cell, str(out_path), data_dir)): cell
                for cell in pending
            }
            try:
                for future in futures.as_completed(submitted):
                    finish(submitted[future], CellResult(**future.result()))
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    return [results[c] for c in todo if c in results]


# -- outputs --------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _score(r: CellResult) -> float | None:
    return r.mean_last_accuracy if r.mean_last_accuracy is not None else r.final_accuracy


def worst_cases(results: Iterable[CellResult]) -> dict[tuple[str, bool], tuple[float | None, str]]:
    """Worst accuracy of each (defense, protected) over the attacks, and which attack."""
    worst: dict[tuple[str, bool], tuple[float | None, str]] = {}
    for r in results:
        if r.attack == "none" or r.status != "ok":
            continue
        score = _score(r)
        key = (r.defense, r.protected)
        current = worst.get(key)
        if score is not None and (current is None or current[0] is None or score < current[0]):
            worst[key] = (score, r.attack)
    return worst


def markdown(profile: BenchProfile, results: Sequence[CellResult]) -> str:
    """The Markdown report: headline worst cases, then one matrix per setting."""
    lines = [f"# Attack-resistance benchmark: `{profile.name}`", ""]
    base_data = profile.base.get("data", {})
    lines.append(
        f"Dataset {base_data.get('dataset', '?')}, {base_data.get('num_clients', '?')} clients,"
        f" Byzantine {', '.join(map(str, profile.byzantine))}, heterogeneity"
        f" {', '.join(str(h['label']) for h in profile.heterogeneity)},"
        f" {profile.base.get('run', {}).get('rounds', '?')} rounds, seeds {list(profile.seeds)}."
        " Accuracy in % on the test set"
        + (
            f" (mean of the last {profile.last_k} evaluations)."
            if profile.last_k > 1
            else " (final)."
        )
    )
    expected = len(profile.cells())
    finished = sum(1 for r in results if r.status != "error")
    if finished < expected:
        lines += [
            "",
            f"**Partial results: {finished} of {expected} cells have finished.** Finished cells"
            " are cached, so rerunning the same command resumes the matrix; until then a worst"
            " case is taken over the finished cells only and missing cells read 'pending' or –.",
        ]
    lines += [
        "",
        "## Headline: worst-case accuracy per defense (a defense is as good as its worst case)",
        "",
    ]
    worst = worst_cases(results)
    clean = {
        (r.defense, r.protected): _score(r)
        for r in results
        if r.attack == "none" and r.status == "ok"
    }
    settings = list(profile.protected)
    baseline = "none" in profile.attacks  # a profile without it gets no such column
    header = ["defense"]
    for p in settings:
        tag = "protected (bucketed secure sums)" if p else "plaintext"
        header += [f"no attack, {tag}"] if baseline else []
        header += [f"worst case, {tag}", "worst attack"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for d in profile.defenses:
        row = [d]
        for p in settings:
            w = worst.get((d, p))
            row += [_fmt(clean.get((d, p)))] if baseline else []
            row += [_fmt(w[0] if w else None), w[1] if w else "–"]
        lines.append("| " + " | ".join(row) + " |")
    if profile.paper:
        lines += _paper_table(profile, results)
    refused = [r for r in results if r.status == "refused"]
    forced = [r for r in results if r.robust_config is False]
    forced_names: list[str] = sorted({r.defense for r in forced})
    if refused or forced:
        lines += [""]
    if refused:
        names = sorted({(r.defense, r.protected) for r in refused})
        lines.append(
            "Refused configurations (no accuracy): "
            + ", ".join(f"{d} ({'protected' if p else 'plain'})" for d, p in names)
            + f". Reason, e.g.: {refused[0].note}"
        )
    if forced:
        lines.append(
            "Run although the bucketing check says the contaminated buckets exceed the rule's"
            " breakdown point (forced): " + ", ".join(forced_names) + "."
        )
    for p in settings:
        for h in profile.heterogeneity:
            for f in profile.byzantine:
                subset = [
                    r
                    for r in results
                    if r.protected == p and r.heterogeneity == h["label"] and r.byzantine == f
                ]
                if not subset:
                    continue
                tag = "protected (bucketed secure sums)" if p else "plaintext"
                lines += ["", f"## {tag}, {h['label']}, f = {f}", ""]
                lines.append("| attack | " + " | ".join(profile.defenses) + " |")
                lines.append("|---|" + "---|" * len(profile.defenses))
                for a in profile.attacks:
                    row = [a]
                    for d in profile.defenses:
                        cell = [r for r in subset if r.attack == a and r.defense == d]
                        scores = [_score(r) for r in cell if r.status == "ok"]
                        known = [s for s in scores if s is not None]
                        text = (
                            _fmt(sum(known) / len(known))
                            if known
                            else ("refused" if any(r.status == "refused" for r in cell) else "–")
                        )
                        bd = [r.backdoor_success for r in cell if r.backdoor_success is not None]
                        if bd:
                            text += f" (ASR {_fmt(sum(bd) / len(bd))})"
                        row.append(text)
                    lines.append("| " + " | ".join(row) + " |")
    total = sum(r.wall_time for r in results)
    lines += ["", f"{len(results)} cells, {total / 60:.1f} CPU-minutes of cell wall time in total."]
    return "\n".join(lines) + "\n"


PAPER_TOLERANCE = 3.0  # points outside the reference range before a cell needs explaining


def _paper_table(profile: BenchProfile, results: Sequence[CellResult]) -> list[str]:
    """Our accuracies next to the paper's reported ones (one row per defense)."""
    attacks = [a for a in profile.attacks if a != "none"]
    columns = ["none", *attacks] if "none" in profile.attacks else attacks
    source = profile.paper.get("source", "the paper")
    lines = ["", f"## Side by side with {source}", ""]
    header = ["defense", *("no attack" if a == "none" else a for a in columns), "paper (reported)"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for d in profile.defenses:
        row = [d]
        for a in columns:
            cell = [r for r in results if r.attack == a and r.defense == d and r.status == "ok"]
            scores = [s for s in (_score(r) for r in cell) if s is not None]
            row.append(_fmt(sum(scores) / len(scores)) if scores else "pending")
        row.append(str(profile.paper.get(d, "–")))
        lines.append("| " + " | ".join(row) + " |")
    lines += _paper_cells(profile, results)
    notes = profile.paper.get("notes", [])
    if notes:
        lines += ["", "### Where these numbers differ from the paper's, and why", ""]
        lines += [f"- {note}" for note in notes]
    return lines


def _paper_cells(profile: BenchProfile, results: Sequence[CellResult]) -> list[str]:
    """Per cell: ours next to the reference runs' (mean, min-max over their seeds).

    ``[bench.paper.cells]`` maps defense -> attack -> ``[mean, min, max]`` in %.
    A cell is flagged when ours lies more than ``PAPER_TOLERANCE`` points outside
    the reference range; the profile's ``notes`` explain the flagged cells.
    """
    cells: Mapping[str, Mapping[str, Sequence[float]]] = profile.paper.get("cells", {})
    if not cells:
        return []
    source = profile.paper.get("cells_source", "the reference runs")
    lines = [
        "",
        f"### Per cell: ours vs {source}",
        "",
        f"Reference: mean (min–max) over its seeds. Flagged: ours more than {PAPER_TOLERANCE:g}"
        " points outside the reference range.",
        "",
        "| defense | attack | ours | reference | gap (points) | flagged |",
        "|---|---|---|---|---|---|",
    ]
    flagged = 0
    for d in profile.defenses:
        for a in profile.attacks:
            ref = cells.get(d, {}).get(a)
            if ref is None:
                continue
            mean, low, high = (float(v) for v in ref)
            ours = [
                s
                for s in (_score(r) for r in results if r.defense == d and r.attack == a)
                if s is not None
            ]
            reference = f"{mean:.1f} ({low:.1f}–{high:.1f})"
            if not ours:
                lines.append(f"| {d} | {a} | pending | {reference} | – | – |")
                continue
            value = 100 * sum(ours) / len(ours)
            gap = value - high if value > high else value - low if value < low else 0.0
            flag = abs(gap) > PAPER_TOLERANCE
            flagged += flag
            lines.append(
                f"| {d} | {a} | {value:.1f} | {reference} | {gap:+.1f} | {'yes' if flag else ''} |"
            )
    lines += ["", f"{flagged} finished cell(s) flagged."]
    return lines


def heatmap(profile: BenchProfile, results: Sequence[CellResult], path: Path) -> None:
    """Accuracy heatmaps (attacks x defenses), one panel per protection setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    settings = list(profile.protected)
    height = 0.9 + 0.36 * len(profile.attacks)
    fig, axes = plt.subplots(
        1,
        len(settings),
        figsize=(1.0 + 0.62 * len(profile.defenses) * len(settings), height),
        squeeze=False,
    )
    for ax, p in zip(axes[0], settings, strict=True):
        grid = np.full((len(profile.attacks), len(profile.defenses)), np.nan)
        for i, a in enumerate(profile.attacks):
            for j, d in enumerate(profile.defenses):
                scores = [
                    _score(r)
                    for r in results
                    if r.attack == a and r.defense == d and r.protected == p and r.status == "ok"
                ]
                known = [s for s in scores if s is not None]
                if known:
                    grid[i, j] = 100 * sum(known) / len(known)
        image = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=100, aspect="auto")
        ax.set_xticks(
            range(len(profile.defenses)), profile.defenses, rotation=60, ha="right", fontsize=8
        )
        ax.set_yticks(range(len(profile.attacks)), profile.attacks, fontsize=8)
        ax.set_title("protected (bucketed secure sums)" if p else "plaintext", fontsize=10)
        for i in range(grid.shape[0]):
            for j in range(grid.shape[1]):
                text = "n/a" if math.isnan(grid[i, j]) else f"{grid[i, j]:.0f}"
                ax.text(j, i, text, ha="center", va="center", fontsize=6.5, color="black")
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.6, label="test accuracy (%)")
    # Above the axes titles whatever the figure's height (a fixed 0.98 overlaps short ones).
    fig.suptitle(
        f"secfl attack-resistance benchmark: {profile.name}", fontsize=11, y=1.0 + 0.3 / height
    )
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def write_outputs(
    profile: BenchProfile, results: Sequence[CellResult], out: str | os.PathLike[str]
) -> dict[str, Path]:
    """Write ``<name>.json``, ``<name>.md`` and ``<name>.png`` into ``out``."""
    out_path = Path(out)
    out_path.mkdir(parents=True, exist_ok=True)
    payload = {
        "profile": profile.name,
        "base": profile.base,
        "matrix": {
            "attacks": list(profile.attacks),
            "defenses": list(profile.defenses),
            "protected": list(profile.protected),
            "byzantine": list(profile.byzantine),
            "seeds": list(profile.seeds),
            "heterogeneity": [dict(h) for h in profile.heterogeneity],
            "protection": profile.protection,
        },
        "cells": [asdict(r) for r in results],
    }
    paths = {
        "json": out_path / f"{profile.name}.json",
        "md": out_path / f"{profile.name}.md",
        "png": out_path / f"{profile.name}.png",
    }
    _write_atomic(paths["json"], json.dumps(payload, indent=1) + "\n")
    _write_atomic(paths["md"], markdown(profile, results))
    heatmap(profile, results, paths["png"])
    return paths
