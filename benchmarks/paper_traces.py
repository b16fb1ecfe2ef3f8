"""Early training traces of paper-profile cells next to the authors' logs.

``python -m benchmarks paper_traces [DEFENSE/ATTACK[:ROUNDS][@KEY=VALUE,...] ...]``

The paper attack profile reports the mean of the last five evaluations; where a
cell differs from the authors' logged runs, the explanation is usually in *how*
training went. This runs a cell of the profile (seed 0, the profile's exact
configuration) for its first iterations, evaluating every 30 as the authors
did, and puts its test accuracy, test loss and training loss next to the
authors' seed-0 run (Karimireddy, He, Jaggi, ICLR 2022;
github.com/epfml/byzantine-robust-noniid-optimizer,
outputs/exp3/all/{cm_BF,rfa_ALIE,rfa_IPM,cp_ALIE,krum_mimic}_0.9_s0_seed0/stats and
{rfa_ALIE,cm_IPM}_0.9_s2_seed0/stats, validation entries).
``@model.kind=cnn_mnist`` (comma-separated dotted keys, nested as in
``aggregator.params.distance_power=4``) changes the profile's configuration for
one trace. Default: coordinate-wise median under bit flipping
for 60 iterations with the authors' CNN and with PyTorch's MNIST example CNN,
RFA under ALIE for 180 iterations and under IPM for 300, RFA with bucketing under
ALIE for 480, and centered clipping under ALIE for 60 with standardised pixels and
with pixels in [0, 1] (about 25 minutes on one core). Needs MNIST ($SECFL_DATA_DIR).

A trace of 150 iterations or more ends with the mean of its last five
evaluations, the value a cell of that length reports (``:600`` is a whole cell;
``@run.seed=1`` runs another seed of it).

The results file keeps one section per trace: a run with named traces replaces
those sections and keeps the others, so one trace can be re-measured alone.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows has no fcntl: run one trace at a time there
    fcntl = None  # type: ignore[assignment]

RESULTS = Path(__file__).resolve().parent / "results"
EVERY = 30  # the authors evaluate once per "epoch" of 30 iterations
LAST_K = 5  # a cell's value is the mean of its last five evaluations
DEFAULT = (
    "median/bit_flip:60",
    "median/bit_flip:60@model.kind=cnn_mnist",
    "geomed/alie:180",
    "geomed/ipm:300",
    "geomed+bucketing/alie:480",
    "cclip/alie:60",
    "cclip/alie:60@data.normalize=none",
)

# The authors' seed-0 validation entries, one per 30 iterations: (top-1 %, loss).
AUTHORS_SEED0: dict[tuple[str, str], list[tuple[float, float]]] = {
    ("median", "bit_flip"): [
        (19.18, 2.232),
        (60.68, 1.968),
        (53.79, 1.808),
        (46.63, 1.788),
        (57.80, 1.608),
        (51.53, 1.624),
        (44.70, 1.771),
        (48.96, 1.716),
        (43.14, 1.743),
        (50.72, 1.685),
    ],
    ("geomed", "alie"): [
        (86.56, 0.479),
        (91.67, 0.294),
        (92.51, 0.278),
        (10.34, 2.302),
        (11.37, 2.302),
        (11.37, 2.301),
        (11.37, 2.301),
        (11.37, 2.301),
        (11.37, 2.301),
        (11.37, 2.301),
    ],
    ("geomed", "ipm"): [
        (2.36, 2.556),
        (9.31, 2.681),
        (10.12, 2.669),
        (21.68, 2.643),
        (38.77, 2.704),
        (40.34, 2.882),
        (49.19, 3.734),
        (53.84, 7.012),
        (53.68, 30.004),
        (40.36, 2.069),
        (60.76, 2.133),
        (64.24, 3.145),
        (70.57, 5.285),
        (76.73, 11.913),
        (78.42, 43.301),
        (39.79, 12.911),
        (10.30, 2.304),
        (10.30, 2.305),
        (10.30, 2.305),
        (10.30, 2.305),
    ],
    ("geomed+bucketing", "alie"): [
        (75.35, 0.785),
        (91.75, 0.297),
        (93.75, 0.217),
        (93.91, 0.222),
        (94.75, 0.180),
        (96.18, 0.133),
        (96.17, 0.127),
        (96.68, 0.109),
        (96.70, 0.112),
        (96.84, 0.104),
        (97.22, 0.093),
        (97.36, 0.085),
        (96.21, 0.140),
        (97.19, 0.099),
        (98.04, 0.069),
        (97.34, 0.080),
    ],
    ("krum", "mimic"): [
        (10.13, 3.031),
        (9.22, 2.332),
        (14.89, 5.050),
        (17.40, 3.785),
        (26.09, 2.281),
        (16.95, 2.595),
        (11.11, 2.605),
        (11.83, 2.830),
        (9.79, 3.186),
        (21.29, 3.396),
        (20.79, 2.291),
        (22.10, 2.461),
        (13.00, 2.495),
        (15.45, 2.525),
        (9.97, 2.460),
        (13.61, 2.717),
        (9.76, 2.673),
        (16.63, 2.851),
        (18.25, 2.624),
        (41.78, 3.295),
    ],
    ("median+bucketing", "ipm"): [
        (68.37, 1.361),
        (65.09, 1.460),
        (50.46, 1.388),
        (66.35, 1.087),
        (64.69, 1.211),
        (62.98, 1.347),
        (67.84, 1.141),
        (66.24, 1.208),
        (57.05, 1.407),
        (60.51, 1.297),
        (64.30, 1.231),
        (61.49, 1.274),
        (61.49, 1.364),
        (58.23, 1.487),
        (65.96, 1.313),
        (62.32, 1.413),
        (59.26, 1.409),
        (50.69, 1.474),
        (63.99, 1.297),
        (61.86, 1.401),
    ],
    ("cclip", "alie"): [
        (87.25, 0.443),
        (91.64, 0.298),
    ],
}


Spec = tuple[str, str, int, dict[str, Any]]


def _parse(spec: str) -> Spec:
    head, _, sets = spec.partition("@")
    cell, _, rounds = head.partition(":")
    defense, _, attack = cell.partition("/")
    if not defense or not attack:
        raise SystemExit(f"expected DEFENSE/ATTACK[:ROUNDS][@KEY=VALUE,...], got {spec!r}")
    overrides: dict[str, Any] = {}
    for item in filter(None, sets.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise SystemExit(f"expected KEY=VALUE in {spec!r}, got {item!r}")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return defense, attack, int(rounds) if rounds else 150, overrides


def _label(spec: Spec) -> str:
    defense, attack, rounds, overrides = spec
    sets = ",".join(f"{k}={v}" for k, v in overrides.items())
    return f"{defense}/{attack}:{rounds}" + (f"@{sets}" if sets else "")


def trace(defense: str, attack: str, rounds: int, overrides: dict[str, Any]) -> list[str]:
    """Run one cell's first ``rounds`` iterations; the Markdown lines of its table."""
    import torch

    from secfl.bench import load_profile
    from secfl.federation import run

    torch.set_num_threads(1)
    profile = load_profile("paper")
    matches = [c for c in profile.cells() if (c.defense, c.attack) == (defense, attack)]
    if not matches:
        raise SystemExit(f"no cell {defense}/{attack} in the paper profile")
    config = profile.cell_config(matches[0])
    config["run"].update(rounds=rounds, eval_from=EVERY, eval_every=EVERY)
    for key, value in overrides.items():
        *path, name = key.split(".")
        if not path:
            raise SystemExit(f"override {key!r} needs a section (e.g. model.kind)")
        node = config
        for part in path:  # e.g. aggregator.params.distance_power
            node = node.setdefault(part, {})
        node[name] = value
    with tempfile.TemporaryDirectory() as tmp:
        result = run(config, run_dir=Path(tmp) / "run", data_dir=os.environ.get("SECFL_DATA_DIR"))
    authors = AUTHORS_SEED0.get((defense, attack), [])
    changed = ", ".join(f"{k} = {v}" for k, v in overrides.items())
    lines = [
        f"### `{_label((defense, attack, rounds, overrides))}`",
        "",
        f"{defense} / {attack}, first {rounds} iterations"
        + (f", with {changed}" if changed else ", the profile's configuration")
        + ".",
        "",
        "| iteration | test accuracy (%) | test loss | training loss (honest) | update norm"
        " | authors' seed 0: accuracy (%) | authors' seed 0: test loss |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in result.metrics:
        if m.test_accuracy is None:
            continue
        k = m.round // EVERY - 1
        theirs = authors[k] if 0 <= k < len(authors) else None
        lines.append(
            f"| {m.round} | {100 * m.test_accuracy:.1f} | {m.test_loss:.3f} | {m.train_loss:.3f}"
            f" | {m.update_norm:.2f} | {'-' if theirs is None else f'{theirs[0]:.1f}'}"
            f" | {'-' if theirs is None else f'{theirs[1]:.3f}'} |"
        )
        print(lines[-1], flush=True)
    summary = _summary(
        [100 * m.test_accuracy for m in result.metrics if m.test_accuracy is not None],
        [accuracy for accuracy, _ in authors],
    )
    if summary:
        lines += ["", summary]
        print(summary, flush=True)
    return [*lines, ""]


def _summary(ours: list[float], authors: list[float]) -> str | None:
    """The mean of the last five evaluations (a cell's value), next to the authors' seed 0."""
    if len(ours) < LAST_K:
        return None
    text = f"Mean of the last {LAST_K} evaluations: {sum(ours[-LAST_K:]) / LAST_K:.1f} %"
    if len(authors) >= len(ours):
        theirs = authors[len(ours) - LAST_K : len(ours)]
        text += f" (authors' seed 0 at the same iterations: {sum(theirs) / LAST_K:.1f} %)"
    return text + "."


_SECTION = re.compile(r"^### `(?P<label>[^`]+)`$", re.MULTILINE)


def _sections(text: str) -> dict[str, str]:
    """The sections of an existing results file, by trace label."""
    marks = list(_SECTION.finditer(text))
    return {
        m["label"]: text[m.start() : marks[i + 1].start() if i + 1 < len(marks) else len(text)]
        for i, m in enumerate(marks)
    }


def main(argv: list[str]) -> int:
    specs = [_parse(s) for s in (argv or DEFAULT)]
    for spec in specs:
        print(_label(spec), flush=True)
        _write({_label(spec): "\n".join(trace(*spec)) + "\n"})
    return 0


def _write(new: dict[str, str]) -> None:
    """Merge sections into the results file, read afresh (another run may have written)."""
    out = RESULTS / "paper_traces.md"
    out.touch()
    with out.open("r+", encoding="utf-8") as fh:
        if fcntl is not None:  # two traces running side by side must not drop each other's
            fcntl.flock(fh, fcntl.LOCK_EX)
        sections = _sections(fh.read())
        sections.update(new)
        fh.seek(0)
        fh.truncate()
        fh.write(_document(sections))
    print(f"wrote {out}", flush=True)


def _document(sections: dict[str, str]) -> str:
    """The results file: its header, then the sections (the default traces first)."""
    order = [*DEFAULT, *sorted(k for k in sections if k not in DEFAULT)]
    lines = [
        "# Paper profile: early training traces",
        "",
        "Generated by `python -m benchmarks paper_traces [TRACE ...]` (each section by"
        " `python -m benchmarks paper_traces LABEL`, its heading): the paper profile's cells"
        " (seed 0 unless the label sets `run.seed`), evaluated every 30 iterations, next to the"
        " authors' seed-0 logs"
        " (github.com/epfml/byzantine-robust-noniid-optimizer,"
        " outputs/exp3/all/{cm,rfa,cp,krum}_*_0.9_s{0,2}_seed0/stats). The training loss is the"
        " mean over the workers that trained (the authors' also averages the Byzantine workers')."
        " The update norm is the L2 norm of the aggregate the server applied. Sections measured"
        " before commit 7ee9c85 drew dropout masks from one process-wide stream, later ones"
        " seed them per client and round: re-measuring an older section gives another draw"
        " from the same distribution, not the same numbers.",
        "",
    ]
    return "\n".join(lines) + "\n" + "".join(sections[k] for k in order if k in sections)
