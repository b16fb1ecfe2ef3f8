"""The attack benchmark runner: a 2x2 matrix with 2 rounds, caching and resume, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from secfl.bench import cached_results, load_profile, run_benchmark, write_outputs
from secfl.bench.attacks import cell_key, markdown
from secfl.cli import app
from secfl.errors import ConfigurationError, DataNotFoundError

PROFILE = """
[bench]
name = "tiny"
attacks = ["none", "sign_flip"]
defenses = ["mean", "median"]
protected = [false]
byzantine = [2]
seeds = [0]
heterogeneity = [{ label = "iid", partition = "iid" }]
protection = "paillier"

[bench.attack_params.sign_flip]
scale = 10.0

[base.run]
rounds = 2
threads = 1

[base.data]
dataset = "digits"
num_clients = 8

[base.model]
kind = "logreg"

[base.client]
lr = 0.2
"""


@pytest.fixture
def profile_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(PROFILE)
    return path


def test_matrix_runs_caches_and_resumes(profile_file: Path, tmp_path: Path) -> None:
    profile = load_profile(profile_file)
    out = tmp_path / "out"
    seen: list[tuple[str, str, bool]] = []
    results = run_benchmark(
        profile, out, on_cell=lambda c, r, cached: seen.append((c.attack, c.defense, cached))
    )
    assert len(results) == 4
    assert all(r.status == "ok" for r in results)
    assert not any(cached for *_, cached in seen)
    by = {(r.attack, r.defense): r for r in results}
    # The sign-flip attack wrecks the mean but not the median.
    assert by["sign_flip", "mean"].final_accuracy < by["none", "mean"].final_accuracy - 0.2
    assert by["sign_flip", "median"].final_accuracy > by["sign_flip", "mean"].final_accuracy
    assert len(by["sign_flip", "median"].rejections_per_round) == 2

    # Second invocation: everything comes from the cache.
    seen.clear()
    again = run_benchmark(
        profile, out, on_cell=lambda c, r, cached: seen.append((c.attack, c.defense, cached))
    )
    assert all(cached for *_, cached in seen)
    assert [r.final_accuracy for r in again] == [r.final_accuracy for r in results]

    # Resume after losing one cell (e.g. killed mid-run): only that cell runs again.
    lost = profile.cells()[1]
    key, _ = cell_key(profile, lost)
    (out / "cells" / f"{key}.json").unlink()
    seen.clear()
    run_benchmark(
        profile, out, on_cell=lambda c, r, cached: seen.append((c.attack, c.defense, cached))
    )
    assert [s for s in seen if not s[2]] == [(lost.attack, lost.defense, False)]

    paths = write_outputs(profile, again, out)
    data = json.loads(paths["json"].read_text())
    assert {c["attack"] for c in data["cells"]} == {"none", "sign_flip"}
    for cell in data["cells"]:
        assert {"attack", "defense", "protected", "final_accuracy", "wall_time"} <= set(cell)
    md = paths["md"].read_text()
    assert "worst-case accuracy per defense" in md
    assert "| median |" in md
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_changed_configuration_invalidates_the_cache(profile_file: Path, tmp_path: Path) -> None:
    profile = load_profile(profile_file)
    cell = profile.cells()[0]
    run_benchmark(profile, tmp_path / "o", cells=[cell])
    profile_file.write_text(PROFILE.replace("rounds = 2", "rounds = 1"))
    changed = load_profile(profile_file)
    seen: list[bool] = []
    run_benchmark(
        changed,
        tmp_path / "o",
        cells=[changed.cells()[0]],
        on_cell=lambda c, r, cached: seen.append(cached),
    )
    assert seen == [False]


def test_cli_runs_a_profile_file_in_parallel(profile_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    result = CliRunner().invoke(
        app, ["bench", "attacks", "--config", str(profile_file), "--out", str(out), "--jobs", "2"]
    )
    assert result.exit_code == 0, result.output
    assert (out / "tiny.md").exists()
    assert len(json.loads((out / "tiny.json").read_text())["cells"]) == 4


def test_bad_profiles_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown profile"):
        load_profile("slow")
    bad = tmp_path / "bad.toml"
    bad.write_text(PROFILE.replace('"sign_flip"]', '"sign_flipp"]'))
    with pytest.raises(ConfigurationError, match="unknown attack"):
        load_profile(bad)
    bad.write_text(PROFILE.replace("rounds = 2", "rounds = 0"))
    with pytest.raises(ConfigurationError, match=r"run\.rounds"):
        load_profile(bad)
    assert load_profile("quick").name == "attacks_quick"


@pytest.mark.parametrize("jobs", [1, 2])
def test_missing_dataset_stops_the_run_and_caches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    # A missing dataset is the machine's problem, not the cell's: the run stops with
    # the loader's error instead of caching every cell as "refused".
    monkeypatch.delenv("SECFL_DATA_DIR", raising=False)
    path = tmp_path / "mnist.toml"
    path.write_text(PROFILE.replace('dataset = "digits"', 'dataset = "mnist"'))
    profile = load_profile(path)
    out = tmp_path / "out"
    with pytest.raises(DataNotFoundError, match="mnist"):
        run_benchmark(profile, out, data_dir=str(tmp_path / "empty"), jobs=jobs)
    assert list((out / "cells").iterdir()) == []


def test_partial_results_are_labelled_and_paper_notes_rendered(tmp_path: Path) -> None:
    path = tmp_path / "paper.toml"
    path.write_text(
        PROFILE
        + """
[bench.paper]
source = "A paper"
median = "90-95"
notes = ["median: our 2 rounds are far fewer than the paper's 600."]
[bench.paper.cells.mean]
none = [50.0, 0.0, 100.0]
[bench.paper.cells.median]
none = [10.0, 5.0, 15.0]
"""
    )
    profile = load_profile(path)
    done = run_benchmark(profile, tmp_path / "o", cells=profile.cells()[:1])
    assert cached_results(profile, tmp_path / "o") == done  # read back, nothing run
    md = markdown(profile, done)
    assert "Partial results: 1 of 4 cells have finished." in md
    assert "| median | pending | pending | 90-95 |" in md
    assert "- median: our 2 rounds are far fewer than the paper's 600." in md
    assert "| median | none | pending | 10.0 (5.0–15.0) | – | – |" in md
    assert "0 finished cell(s) flagged." in md
    full = run_benchmark(profile, tmp_path / "o")
    md = markdown(profile, full)
    assert "Partial results" not in md
    by = {(r.defense, r.attack): r for r in full}
    ours = 100 * by["median", "none"].final_accuracy  # last_k = 1
    assert f"| median | none | {ours:.1f} | 10.0 (5.0–15.0) | {ours - 15:+.1f} | yes |" in md
    mean_ours = 100 * by["mean", "none"].final_accuracy
    assert f"| mean | none | {mean_ours:.1f} | 50.0 (0.0–100.0) | +0.0 |  |" in md
    assert "1 finished cell(s) flagged." in md
    path.write_text(PROFILE + '\n[bench.paper]\nnotes = "one string"\n')
    with pytest.raises(ConfigurationError, match="notes must be a list of strings"):
        load_profile(path)
    path.write_text(PROFILE + "\n[bench.paper.cells.mean]\nnone = [1.0, 2.0, 3.0]\n")
    with pytest.raises(ConfigurationError, match="mean, min, max"):
        load_profile(path)


def test_paper_profile_alie_is_the_authors_gradient_space_attack() -> None:
    """The authors' ALIE sends mean - z*std of the honest *gradients* (z = Phi^-1(12/20));
    secfl's attacks see updates (= -gradient in FedSGD), so the profile must produce the
    negation of that vector."""
    import numpy as np
    from scipy import stats

    from secfl import attacks
    from secfl.attacks import AttackContext

    profile = load_profile("paper")
    n, f = 25, 5
    s = np.floor(n / 2 + 1) - f
    z_authors = stats.norm.ppf((n - f - s) / (n - f))
    gradients = np.random.default_rng(3).normal(size=(n - f, 40)).astype(np.float32)
    attack = attacks.get("alie", **profile.attack_params["alie"])
    rows = attack.forge(AttackContext(honest=-gradients, num_byzantine=f, num_clients=n, seed=0))
    g = gradients.astype(np.float64)
    sent_gradient = g.mean(axis=0) - z_authors * g.std(axis=0, ddof=1)
    for row in rows:
        np.testing.assert_allclose(-row, sent_gradient, rtol=1e-5, atol=1e-6)


def test_a_profile_without_the_no_attack_baseline_has_no_such_column(tmp_path: Path) -> None:
    path = tmp_path / "nobaseline.toml"
    text = PROFILE.replace('attacks = ["none", "sign_flip"]', 'attacks = ["sign_flip"]')
    assert text != PROFILE
    path.write_text(text + '\n[bench.paper]\nsource = "A paper"\nmedian = "90-95"\n')
    md = markdown(load_profile(path), [])
    assert "no attack" not in md
    assert "| defense | worst case, plaintext | worst attack |" in md
    assert "| defense | sign_flip | paper (reported) |" in md
    assert "| median | pending | 90-95 |" in md
