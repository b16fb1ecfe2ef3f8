"""The paper-trace tool's spec parsing and its one-section-per-trace results file."""

from __future__ import annotations

import fcntl
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from benchmarks import paper_traces


def test_a_spec_names_a_cell_its_iterations_and_overrides() -> None:
    spec = paper_traces._parse("cclip/alie:60@data.normalize=none,run.seed=3")
    assert spec == ("cclip", "alie", 60, {"data.normalize": "none", "run.seed": 3})
    assert paper_traces._label(spec) == "cclip/alie:60@data.normalize=none,run.seed=3"
    assert paper_traces._parse("median/bit_flip") == ("median", "bit_flip", 150, {})
    for bad in ("median", "median/bit_flip:60@normalize"):
        with pytest.raises(SystemExit):
            paper_traces._parse(bad)


def test_a_rerun_replaces_only_its_own_sections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[str] = []

    def fake_trace(defense: str, attack: str, rounds: int, overrides: dict[str, Any]) -> list[str]:
        label = paper_traces._label((defense, attack, rounds, overrides))
        runs.append(label)
        return [f"### `{label}`", "", f"run {len(runs)}", ""]

    monkeypatch.setattr(paper_traces, "RESULTS", tmp_path)
    monkeypatch.setattr(paper_traces, "trace", fake_trace)
    monkeypatch.setattr(paper_traces, "DEFAULT", ("a/x:30", "b/y:60"))
    assert paper_traces.main([]) == 0
    assert paper_traces.main(["b/y:60", "c/z:90"]) == 0
    text = (tmp_path / "paper_traces.md").read_text()
    sections = paper_traces._sections(text)
    # The default's order first, then the others; b/y re-measured, a/x kept.
    assert list(sections) == ["a/x:30", "b/y:60", "c/z:90"]
    assert "run 1" in sections["a/x:30"]
    assert "run 3" in sections["b/y:60"]
    assert "run 2" not in text
    assert "run 4" in sections["c/z:90"]
    assert text.startswith("# Paper profile: early training traces\n\n")


def test_the_summary_is_the_mean_of_the_last_five_evaluations() -> None:
    ours = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
    authors = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert paper_traces._summary(ours, authors) == (
        "Mean of the last 5 evaluations: 40.0 % (authors' seed 0 at the same iterations: 4.0 %)."
    )
    assert paper_traces._summary(ours, authors[:5]) == "Mean of the last 5 evaluations: 40.0 %."
    assert paper_traces._summary(ours[:4], authors) is None


def test_traces_written_side_by_side_keep_each_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trace finishing while another process rewrites the file waits for it, then merges."""
    monkeypatch.setattr(paper_traces, "RESULTS", tmp_path)
    out = tmp_path / "paper_traces.md"
    out.write_text(paper_traces._document({}))
    with out.open("r+", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # the other process, in the middle of its write
        writer = threading.Thread(target=paper_traces._write, args=({"b/y:60": "### `b/y:60`\n"},))
        writer.start()
        time.sleep(0.3)
        fh.seek(0)
        fh.truncate()
        fh.write(paper_traces._document({"a/x:30": "### `a/x:30`\n"}))
        fh.flush()
        fcntl.flock(fh, fcntl.LOCK_UN)
    writer.join(timeout=10)
    assert list(paper_traces._sections(out.read_text())) == ["a/x:30", "b/y:60"]
