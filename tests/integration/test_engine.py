"""The federated engine end to end: FedAvg vs a centralised reference, resume, plug points."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import secfl.federation.engine as engine_module
from secfl.data import Dataset
from secfl.errors import ConfigurationError, PrivacyBudgetExceededError
from secfl.federation import RoundMetrics, SGDTrainer, TrainingPlan, TrainResult, run
from secfl.federation.protection import Contribution, PlainProtection, ProtectionOutcome
from secfl.federation.rundir import RunDirectory
from secfl.types import ClientId, RandomSource, RoundId


def linear_dataset(n: int = 1200, d: int = 5, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    beta = rng.normal(size=d)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x @ beta + 0.5 + 0.1 * rng.normal(size=n)).astype(np.float32)
    cut = int(0.8 * n)
    return Dataset(
        name="synthetic-linear",
        task="regression",
        x_train=x[:cut],
        y_train=y[:cut],
        x_test=x[cut:],
        y_test=y[cut:],
        input_shape=(d,),
        num_classes=1,
        source="synthetic",
    )


def config(tmp_path: Path, **sections: Mapping[str, Any]) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "run": {"name": "t", "rounds": 3, "out_dir": str(tmp_path / "runs"), "threads": 1},
        "data": {"dataset": "adult", "num_clients": 4, "partition": "iid"},
        "model": {"kind": "linear"},
    }
    for key, value in sections.items():
        raw.setdefault(key, {}).update(value)
    return raw


def test_fedsgd_equals_centralised_gradient_descent(tmp_path: Path) -> None:
    ds = linear_dataset()
    lr, rounds = 0.1, 25
    raw = config(
        tmp_path,
        run={"rounds": rounds},
        client={"mode": "fedsgd"},
        server={"optimizer": "fedavg", "lr": lr, "weighting": "samples"},
    )
    result = run(raw, dataset=ds)

    # Centralised reference: full-batch gradient descent from the same initial weights.
    torch.manual_seed(engine_module.derive_seed(0, 6))
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(5, 1))
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    x, y = torch.from_numpy(ds.x_train), torch.from_numpy(ds.y_train)
    for _ in range(rounds):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x).squeeze(-1), y).backward()
        opt.step()
    reference = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).numpy()
    assert np.allclose(result.weights, reference, atol=1e-5)


def test_fedavg_on_iid_data_reaches_the_centralised_least_squares_fit(tmp_path: Path) -> None:
    ds = linear_dataset(seed=1)
    raw = config(
        tmp_path,
        run={"rounds": 15},
        client={"local_epochs": 2, "batch_size": 32, "lr": 0.05},
    )
    result = run(raw, dataset=ds)
    design = np.hstack([ds.x_train, np.ones((ds.x_train.shape[0], 1), dtype=np.float32)])
    ols, *_ = np.linalg.lstsq(design.astype(np.float64), ds.y_train.astype(np.float64), rcond=None)
    assert np.allclose(result.weights, ols, atol=0.02)
    residual = ds.y_test - (ds.x_test @ ols[:-1] + ols[-1])
    r2_central = 1 - residual.var() / ds.y_test.var()
    assert result.final.test_r2 == pytest.approx(r2_central, abs=0.01)


class Interrupt:
    """An observer that stops the run after a given round (like Ctrl-C)."""

    def __init__(self, after: int) -> None:
        self.after = after

    def on_start(self, **_: Any) -> None:
        pass

    def on_round(self, metrics: RoundMetrics) -> None:
        if metrics.round == self.after:
            raise KeyboardInterrupt


def test_resume_ends_with_the_same_weights_as_an_uninterrupted_run(tmp_path: Path) -> None:
    raw = {
        "run": {"name": "resume", "rounds": 5, "out_dir": str(tmp_path / "runs"), "threads": 1},
        "data": {"dataset": "digits", "num_clients": 6, "partition": "dirichlet", "alpha": 0.5},
        "model": {"kind": "mlp", "hidden": [16]},
        "server": {"optimizer": "fedadam", "lr": 0.01, "fraction": 0.5},
        "client": {"batch_size": 16, "lr": 0.1, "momentum": 0.5},
    }
    full = run(raw, run_dir=tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        run(raw, run_dir=tmp_path / "broken", observer=Interrupt(after=2))
    # A crash can also leave a metrics line with no checkpoint behind it.
    with (tmp_path / "broken" / "metrics.jsonl").open("a") as fh:
        fh.write('{"round": 3, "sampled": [0], "partic')
    resumed = run(resume=tmp_path / "broken")
    assert np.array_equal(resumed.weights, full.weights)
    assert [m.round for m in resumed.metrics] == [1, 2, 3, 4, 5]
    assert [m.sampled for m in resumed.metrics] == [m.sampled for m in full.metrics]
    assert resumed.final.test_accuracy == full.final.test_accuracy
    assert len(RunDirectory(tmp_path / "broken").read_metrics()) == 5
    saved = np.load(tmp_path / "broken" / "model.npz")["weights"]
    assert np.array_equal(saved, full.weights)


def test_resume_replays_the_dropout_masks(tmp_path: Path) -> None:
    """Dropout draws from torch's global RNG; the engine seeds it per client and round."""
    raw = {
        "run": {"name": "drop", "rounds": 4, "out_dir": str(tmp_path / "runs"), "threads": 1},
        "data": {"dataset": "digits", "num_clients": 4, "partition": "iid"},
        "model": {"kind": "cnn_mnist_khj"},
        "client": {"mode": "fedsgd", "gradient_batch": 8},
        "server": {"optimizer": "fedavg", "lr": 0.1},
        "audit": {"enabled": False},
    }
    full = run(raw, run_dir=tmp_path / "full")
    with pytest.raises(KeyboardInterrupt):
        run(raw, run_dir=tmp_path / "broken", observer=Interrupt(after=2))
    torch.rand(1000)  # whatever else the process draws must not matter
    resumed = run(resume=tmp_path / "broken")
    assert np.array_equal(resumed.weights, full.weights)


class CoinRecorder(SGDTrainer):
    """Records what torch's global RNG gives during each client's training."""

    coins: dict[tuple[int, int], list[float]]

    def train(self, **kwargs: Any) -> TrainResult:
        plan = kwargs["plan"]
        self.coins[(int(plan.round), int(plan.client))] = torch.rand(3).tolist()
        return super().train(**kwargs)


@pytest.mark.parametrize("every", [0, 2])
def test_dropout_coins_are_per_client_or_shared_in_blocks_of_rounds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, every: int
) -> None:
    coins: dict[tuple[int, int], list[float]] = {}

    def build(config: Any, dataset: Dataset) -> CoinRecorder:
        trainer = CoinRecorder(config.client, task=dataset.task)
        trainer.coins = coins
        return trainer

    monkeypatch.setattr(engine_module, "build_trainer", build)
    raw = {
        "run": {"rounds": 4, "out_dir": str(tmp_path), "threads": 1},
        "data": {"dataset": "digits", "num_clients": 3, "partition": "iid"},
        "model": {"kind": "logreg"},
        "client": {"shared_dropout_every": every},
        "audit": {"enabled": False},
    }
    run(raw)
    assert sorted(coins) == [(r, c) for r in range(1, 5) for c in range(3)]
    distinct = {tuple(v) for v in coins.values()}
    if every == 0:
        assert len(distinct) == 12
    else:
        # Rounds 1-2 share one draw for every client, rounds 3-4 another.
        assert {tuple(coins[(r, c)]) for r in (1, 2) for c in range(3)} == {tuple(coins[(1, 0)])}
        assert {tuple(coins[(r, c)]) for r in (3, 4) for c in range(3)} == {tuple(coins[(3, 0)])}
        assert len(distinct) == 2


def test_run_directory_contents(tmp_path: Path) -> None:
    result = run({"run": {"rounds": 2, "out_dir": str(tmp_path), "name": "layout", "threads": 1}})
    d = result.run_dir
    assert d.parent == tmp_path
    assert d.name.startswith("layout-")
    for name in ("config.toml", "run.json", "metrics.jsonl", "model.pt", "model.npz"):
        assert (d / name).is_file(), name
    assert sorted(p.name for p in (d / "checkpoints").iterdir()) == [
        "round_0001.npz",
        "round_0002.npz",
    ]
    state = torch.load(d / "model.pt")
    assert set(state) == {k for k, _ in result.model.state_dict().items()}
    with pytest.raises(ConfigurationError, match="already holds a run"):
        run({"run": {"rounds": 1, "threads": 1}}, run_dir=d)
    with pytest.raises(ConfigurationError, match="not a run directory"):
        run(resume=tmp_path / "nothing-here")


class RefusingHook:
    """Refuses client 0; records the order of charges."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    def admit(self, plan: TrainingPlan) -> None:
        if plan.client == 0:
            raise PrivacyBudgetExceededError("client 0: budget exhausted", client=0)

    def charge(self, plan: TrainingPlan) -> None:
        self.events.append(f"charge {plan.client}")

    def end_round(self, round: RoundId, participants: tuple[ClientId, ...]) -> None:
        self.events.append(f"end {round}")

    def epsilons(self) -> Mapping[ClientId, float]:
        return {ClientId(1): 0.5}


class RecordingProtection(PlainProtection):
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def aggregate(
        self, *, round: RoundId, buckets: Sequence[Sequence[Contribution]], rng: RandomSource
    ) -> ProtectionOutcome:
        self.events.append("release " + ",".join(str(c.client) for b in buckets for c in b))
        return super().aggregate(round=round, buckets=buckets, rng=rng)


def test_refusals_are_recorded_and_costs_are_charged_before_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[str] = []
    monkeypatch.setattr(
        engine_module, "build_privacy_hook", lambda c, d, u=None: RefusingHook(events)
    )
    monkeypatch.setattr(
        engine_module, "build_protection", lambda c, **_: RecordingProtection(events)
    )
    result = run(
        {"run": {"rounds": 1, "out_dir": str(tmp_path), "threads": 1}, "data": {"num_clients": 3}}
    )
    m = result.final
    assert m.refused == {0: "client 0: budget exhausted"}
    assert m.participants == (1, 2)
    assert m.epsilon == {1: 0.5}
    assert events == ["charge 1", "charge 2", "release 1,2", "end 1"]


def test_config_validation_against_the_data(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="needs a regression target"):
        run(config(tmp_path, data={"dataset": "german_credit"}), dataset=linear_dataset().__class__(
            name="cls", task="classification", x_train=np.zeros((10, 2), np.float32),
            y_train=np.zeros(10, np.int64), x_test=np.zeros((2, 2), np.float32),
            y_test=np.zeros(2, np.int64), input_shape=(2,), num_classes=2, source="t",
        ))  # fmt: skip
    with pytest.raises(ConfigurationError, match=r"data\.key 'job' is not a categorical column"):
        run(
            {
                "run": {"out_dir": str(tmp_path), "threads": 1},
                "data": {"partition": "natural", "key": "job"},
            }
        )


def test_digits_demo_reaches_90_percent(tmp_path: Path) -> None:
    from secfl.federation import load_config

    demo = load_config(Path(__file__).resolve().parents[2] / "examples" / "digits.toml")
    result = run(demo, run_dir=tmp_path / "demo")
    assert result.final.test_accuracy is not None
    assert result.final.test_accuracy >= 0.90
