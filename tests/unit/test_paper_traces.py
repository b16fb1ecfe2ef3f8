"""The paper-trace tool's spec parsing and its one-section-per-trace results file."""

from __future__ import annotations

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
