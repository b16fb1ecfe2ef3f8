"""The robust stage in the engine: rejections, bucketed protected sums, momentum, FLTrust."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import secfl.federation.engine as engine_module
from secfl.errors import ConfigurationError
from secfl.federation import ClientData, SGDTrainer, TrainingPlan, TrainResult, run
from secfl.federation.rundir import RunDirectory

POISON = 1e6


class PoisoningTrainer(SGDTrainer):
    """Clients in ``bad`` send a huge update instead of their honest one."""

    bad = frozenset({0, 1})

    def fill(self, data: ClientData, plan: TrainingPlan) -> float | None:
        """The value that replaces every coordinate of this update (``None``: honest)."""
        return POISON if data.client in self.bad else None

    def train(
        self,
        *,
        model: torch.nn.Module,
        data: ClientData,
        plan: TrainingPlan,
        generator: torch.Generator,
    ) -> TrainResult:
        result = super().train(model=model, data=data, plan=plan, generator=generator)
        value = self.fill(data, plan)
        if value is None:
            return result
        return replace(result, delta=np.full_like(result.delta, value))


def base(tmp_path: Path, **sections: dict[str, Any]) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "run": {"rounds": 2, "threads": 1, "out_dir": str(tmp_path)},
        "data": {"dataset": "digits", "num_clients": 12, "partition": "iid"},
        "model": {"kind": "logreg"},
        "client": {"lr": 0.1},
        "audit": {"enabled": False},
    }
    for key, value in sections.items():
        raw.setdefault(key, {}).update(value)
    return raw


@pytest.fixture
def poisoned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        engine_module,
        "build_trainer",
        lambda config, dataset: PoisoningTrainer(config.client, task=dataset.task),
    )


@pytest.mark.usefixtures("poisoned")
def test_mean_is_poisoned_and_krum_rejects_the_attackers_in_plain(tmp_path: Path) -> None:
    mean = run(base(tmp_path))
    assert np.max(np.abs(mean.weights)) > 1e4
    krum = run(base(tmp_path, aggregator={"rule": "multikrum", "params": {"f": 2}}))
    assert np.max(np.abs(krum.weights)) < 10
    assert {0, 1} <= set(krum.final.rejected)
    assert krum.final.test_accuracy is not None
    assert krum.final.test_accuracy > 0.2  # chance is 0.1; the poisoned mean is at chance


@pytest.mark.usefixtures("poisoned")
def test_krum_on_bucket_means_under_paillier_keeps_the_poison_out(tmp_path: Path) -> None:
    raw = base(
        tmp_path,
        data={"num_clients": 16},  # 8 buckets of 2: Krum tolerates 2 contaminated ones
        protection={"kind": "paillier", "clip": 1e7, "value_bits": 40, "min_contributors": 2},
        aggregator={"rule": "krum", "min_bucket": 2, "assume_byzantine": 2},
    )
    result = run(raw)
    assert np.max(np.abs(result.weights)) < 10
    # the server only saw bucket means: every rejection names a bucket of >= 2 clients
    rejected = result.final.rejected
    assert rejected
    assert all("bucket" in reason for reason in rejected.values())
    assert len(rejected) >= 2
    info = json.loads((result.run_dir / "run.json").read_text())["bucketing"]
    assert info["privacy_floor"] == 2
    assert info["num_buckets"] == 8
    assert info["robust"] is True


def test_bucketing_that_cannot_meet_the_guarantees_is_refused(tmp_path: Path) -> None:
    raw = base(
        tmp_path,
        protection={"kind": "paillier"},
        # Krum told to tolerate 1 of the 6 bucket means, but 2 Byzantine clients
        # can contaminate 2 buckets: refused unless forced.
        aggregator={"rule": "krum", "params": {"f": 1}, "min_bucket": 2, "assume_byzantine": 2},
    )
    with pytest.raises(ConfigurationError, match="krum"):
        run(raw)
    raw["aggregator"]["force"] = True
    assert run(raw).final.round == 2
    # A configuration that cannot run at all is refused even when forced.
    raw["aggregator"].update({"min_bucket": 4, "params": {"f": 2}})
    with pytest.raises(ConfigurationError, match="at least"):
        run(raw)


def test_worker_momentum_and_stateful_rule_resume_exactly(tmp_path: Path) -> None:
    raw = base(
        tmp_path,
        run={"rounds": 4},
        client={"worker_momentum": 0.9},
        aggregator={"rule": "cclip", "params": {"tau": 0.5}},
    )
    full = run(raw, run_dir=tmp_path / "full")

    class Stop:
        def on_start(self, **_: Any) -> None:
            pass

        def on_round(self, metrics: Any) -> None:
            if metrics.round == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(raw, run_dir=tmp_path / "cut", observer=Stop())
    resumed = run(resume=tmp_path / "cut")
    assert np.array_equal(resumed.weights, full.weights)


def test_fltrust_needs_and_uses_a_root_dataset(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="root_samples"):
        run(base(tmp_path, aggregator={"rule": "fltrust"}))
    result = run(base(tmp_path, aggregator={"rule": "fltrust", "root_samples": 100}))
    assert result.final.test_accuracy is not None
    assert result.final.test_accuracy > 0.2


@pytest.mark.parametrize("attack", ["wrap_around_max", "wrap_around"])
def test_krum_under_secagg_with_bucketing_resists_wraparound_words(
    tmp_path: Path, attack: str
) -> None:
    """Malicious clients send arbitrary Z_(2^k) words into masked bucket sums."""
    raw = base(
        tmp_path,
        data={"num_clients": 16},
        protection={"kind": "secagg", "clip": 1.0},
        attack={"kind": attack, "byzantine": 2},
    )
    clean = run({**base(tmp_path, data={"num_clients": 16}), "protection": {"kind": "secagg"}})
    mean = run({**raw, "aggregator": {"rule": "mean"}})
    krum = run({**raw, "aggregator": {"rule": "krum", "min_bucket": 2, "assume_byzantine": 2}})
    # The wrapped words move the decoded mean by up to the whole encoding range (max) or
    # flip the sum's sign (flip): accuracy collapses; Krum on bucket means keeps it.
    if attack == "wrap_around_max":
        assert mean.final.update_norm > 50 * clean.final.update_norm
    assert krum.final.update_norm < 3 * clean.final.update_norm
    assert mean.final.test_accuracy is not None
    assert krum.final.test_accuracy is not None
    assert krum.final.test_accuracy > mean.final.test_accuracy + 0.1
    byzantine = json.loads((krum.run_dir / "run.json").read_text())["byzantine"]
    for m in krum.metrics:
        assert set(byzantine) <= set(m.rejected)  # their buckets were rejected
        assert all("bucket" in m.rejected[b] for b in byzantine)


def test_a_round_with_too_few_inputs_lowers_f_or_aggregates_nothing(tmp_path: Path) -> None:
    """NaN attackers under a protection never reach a bucket; the rule adapts its f."""
    raw = base(
        tmp_path,
        data={"num_clients": 16},
        protection={"kind": "secagg"},
        attack={"kind": "nan", "byzantine": 4},
        aggregator={"rule": "trimmed_mean", "min_bucket": 2, "force": True},
    )
    result = run(raw)
    for m in result.metrics:
        # 12 honest clients -> 6 bucket means: trimmed mean with f = 4 needs 9, runs with 2.
        assert m.extra["robust_f_lowered_to"] == 2
        assert len(m.participants) >= 8
    assert np.all(np.isfinite(result.weights))


def test_a_diverged_round_aggregates_nothing_instead_of_failing(tmp_path: Path) -> None:
    raw = base(tmp_path, attack={"kind": "ipm", "byzantine": 3, "params": {"epsilon": 1e30}})
    result = run(raw)  # the huge forged updates make the model non-finite
    assert result.final.round == 2
    last = result.metrics[-1]
    if not np.all(np.isfinite(result.weights)):
        assert last.participants == ()
        assert all(
            "aggregated nothing" in why or "non-finite" in why for why in last.rejected.values()
        )


class DivergingTrainer(PoisoningTrainer):
    """Client 3's training diverges (a NaN update) in round 2 only."""

    def fill(self, data: ClientData, plan: TrainingPlan) -> float | None:
        return float("nan") if data.client == 3 and int(plan.round) == 2 else None


def test_a_diverged_client_with_worker_momentum_keeps_its_momentum(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A NaN update is refused downstream; it never enters (or ends) the client's momentum."""
    monkeypatch.setattr(
        engine_module,
        "build_trainer",
        lambda config, dataset: DivergingTrainer(config.client, task=dataset.task),
    )
    raw = base(
        tmp_path,
        run={"rounds": 3},
        client={"worker_momentum": 0.9},
        aggregator={"rule": "krum", "params": {"f": 1}},
    )
    result = run(raw, run_dir=tmp_path / "run")
    assert [m.round for m in result.metrics] == [1, 2, 3]
    assert "non-finite" in result.metrics[1].rejected[3]
    assert 3 not in result.metrics[2].rejected or "non-finite" not in result.metrics[2].rejected[3]
    assert np.all(np.isfinite(result.weights))
    checkpoint = RunDirectory(tmp_path / "run").latest_checkpoint()
    assert checkpoint is not None
    steps = {
        int(k.split("/")[0]): int(v)
        for k, v in checkpoint.section("momentum").items()
        if k.endswith("/steps")
    }
    # Every client folded in rounds 1 and 3; client 3 skipped its NaN round 2.
    assert steps[3] == 2
    assert all(s == 3 for c, s in steps.items() if c != 3)
    assert np.all(np.isfinite(checkpoint.section("momentum/3")["momentum"]))
