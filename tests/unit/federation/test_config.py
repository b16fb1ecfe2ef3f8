"""Config validation: every bad key or value is named in a ConfigurationError."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from secfl.errors import ConfigurationError
from secfl.federation.config import ProtectionSection, RunConfig, apply_overrides, load_config

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_defaults_and_round_trip_through_toml(tmp_path: Path) -> None:
    config = load_config(None)
    assert config.data.dataset == "digits"
    path = tmp_path / "c.toml"
    path.write_text(config.to_toml())
    assert load_config(path) == config
    assert load_config(path).digest() == config.digest()


@pytest.mark.parametrize(
    "name", ["digits", "sales", "risk", "cross_industry", "private_digits", "secure_digits"]
)
def test_examples_parse_and_survive_a_toml_round_trip(name: str, tmp_path: Path) -> None:
    config = load_config(EXAMPLES / f"{name}.toml")
    path = tmp_path / "again.toml"
    path.write_text(config.to_toml())
    assert load_config(path) == config


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"serverr": {}}, "unknown key 'serverr' (did you mean 'server'?)"),
        ({"server": {"lrr": 1.0}}, "unknown key 'server.lrr' (did you mean 'server.lr'?)"),
        ({"server": {"lr": "fast"}}, "server.lr must be a number"),
        ({"server": {"lr": -1.0}}, "server.lr must be positive"),
        ({"server": {"optimizer": "sgd"}}, "server.optimizer must be one of"),
        ({"run": {"rounds": 2.5}}, "run.rounds must be an integer"),
        ({"run": {"rounds": 0}}, "run.rounds must be >= 1"),
        ({"run": {"name": "a/b"}}, "run.name"),
        ({"client": {"lr": 0.0}}, "client.lr must be positive"),
        ({"client": {"mode": "fedprox"}}, "client.mode must be one of"),
        ({"client": {"shared_dropout_every": -1}}, "client.shared_dropout_every must be >= 0"),
        (
            {"client": {"shared_dropout_every": 1.5}},
            "client.shared_dropout_every must be an integer",
        ),
        ({"data": {"dataset": "cifar"}}, "data.dataset 'cifar' is unknown"),
        ({"data": {"partition": "natural"}}, "data.key must name a column"),
        ({"data": {"num_clients": True}}, "data.num_clients must be an integer"),
        ({"model": {"hidden": [64, "x"]}}, "model.hidden[1] must be an integer"),
        ({"model": {"kind": "linear"}}, "regression"),
        ({"aggregator": {"rule": "krumm"}}, "aggregator.rule 'krumm' is unknown"),
        ({"protection": {"bits": 4}}, "protection.bits"),
        (
            {"protection": {"kind": "paillier", "prove_inputs": "yes"}},
            "protection.prove_inputs must be true or false",
        ),
        (
            {"protection": {"kind": "paillier", "prove_inputs": 1}},
            "protection.prove_inputs must be true or false",
        ),
        (
            {"protection": {"kind": "secagg", "prove_inputs": True}},
            "protection.prove_inputs applies only to kind = 'paillier'",
        ),
        (
            {"protection": {"kind": "paillier", "prove_inputs": True, "sign_inputs": False}},
            "protection.prove_inputs needs protection.sign_inputs = true",
        ),
        (
            {"protection": {"kind": "secagg", "corrupt": -1}},
            "protection.corrupt must be a non-negative integer",
        ),
        (
            {"protection": {"kind": "secagg+", "corrupt": True}},
            "protection.corrupt must be an integer",
        ),
        (
            {"protection": {"kind": "paillier", "corrupt": 1}},
            "protection.corrupt applies only to secure aggregation",
        ),
        (
            {"protection": {"kind": "secagg", "corrupt": 10}, "data": {"num_clients": 10}},
            "protection.corrupt must be below data.num_clients",
        ),
        (
            {"data": {"dataset": "digits", "normalize": "standard"}},
            "data.normalize = 'standard' needs published pixel statistics",
        ),
        ({"data": {"normalize": "minmax"}}, "data.normalize"),
        (
            {
                "data": {"dataset": "mnist", "normalize": "standard"},
                "model": {"kind": "cnn"},
                "attack": {"kind": "backdoor", "byzantine": 1},
            },
            "use data.normalize = 'none'",
        ),
        ({"server": 3}, "server must be a table"),
    ],
)
def test_bad_configs_name_the_key(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        RunConfig.from_dict(raw)


def test_prove_inputs_defaults_off_and_is_typed() -> None:
    """``protection.prove_inputs``: off by default (cost), a bool, passed to the protection."""
    assert RunConfig.from_dict({}).protection.prove_inputs is False
    config = RunConfig.from_dict({"protection": {"kind": "paillier", "prove_inputs": True}})
    assert config.protection.prove_inputs is True
    assert "prove_inputs = true" in config.to_toml()
    with pytest.raises(ConfigurationError, match=r"protection\.prove_inputs must be true or false"):
        ProtectionSection(kind="paillier", prove_inputs=1)  # type: ignore[arg-type]


def test_unreadable_and_invalid_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read config"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[run\nrounds = 3")
    with pytest.raises(ConfigurationError, match="invalid TOML"):
        load_config(bad)


def test_overrides_parse_toml_values_and_bare_words() -> None:
    raw = apply_overrides(
        {"server": {"lr": 1.0}},
        ["server.lr=0.5", "data.dataset=mnist", "model.hidden=[8, 4]", "run.rounds=3"],
    )
    assert raw == {
        "server": {"lr": 0.5},
        "data": {"dataset": "mnist"},
        "model": {"hidden": [8, 4]},
        "run": {"rounds": 3},
    }
    config = load_config(None, ["server.lr=0.25", "client.mode=fedsgd"])
    assert config.server.lr == 0.25
    assert config.client.mode == "fedsgd"
    with pytest.raises(ConfigurationError, match="key=value"):
        apply_overrides({}, ["server.lr"])
    with pytest.raises(ConfigurationError, match="not a table"):
        apply_overrides({"server": {"lr": 1.0}}, ["server.lr.x=1"])
