"""Protections in the engine: results equal the plain run up to quantisation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from secfl.federation import run

BASE: dict[str, Any] = {
    "run": {"rounds": 2, "threads": 1, "name": "prot"},
    "data": {"dataset": "digits", "num_clients": 4, "partition": "iid", "max_train_samples": 400},
    "model": {"kind": "logreg"},
    "client": {"batch_size": 32, "lr": 0.1},
    "audit": {"enabled": False},
}


def with_protection(**protection: Any) -> dict[str, Any]:
    raw = {k: dict(v) for k, v in BASE.items()}
    raw["protection"] = protection
    return raw


def test_paillier_equals_plain_up_to_quantisation(tmp_path: Path) -> None:
    plain = run(BASE, run_dir=tmp_path / "plain")
    protected = run(
        with_protection(kind="paillier", clip=1.0, value_bits=24, min_contributors=2),
        run_dir=tmp_path / "paillier",
    )
    # per-coordinate quantisation error of a weighted mean of 4 clients, over 2 rounds
    assert np.max(np.abs(protected.weights - plain.weights)) < 1e-4
    stats = protected.final.protection
    assert stats["bytes_per_client"] > 0
    assert stats["decrypt_seconds"] > 0
    assert protected.final.participants == (0, 1, 2, 3)


def test_paillier_with_proofs_equals_without_and_reports_proof_times(tmp_path: Path) -> None:
    """``protection.prove_inputs``: the same training (same seed), plus proof timings.

    The engine refuses keys below 2048 bits (there is no insecure-key switch in a run
    config), so this runs at 2048 bits like the test above. Stochastic rounding draws
    from the OS CSPRNG, so two runs agree up to quantisation, not bit for bit.
    """
    raw = with_protection(kind="paillier", clip=1.0, value_bits=24, min_contributors=2)
    raw["run"] = {**raw["run"], "seed": 11}
    without = run(raw, run_dir=tmp_path / "without")
    raw["protection"] = {**raw["protection"], "prove_inputs": True}
    proved = run(raw, run_dir=tmp_path / "proved")
    assert proved.config.protection.prove_inputs
    assert np.max(np.abs(proved.weights - without.weights)) < 1e-4
    assert len(proved.metrics) == 2
    for with_proofs, plain in zip(proved.metrics, without.metrics, strict=True):
        assert with_proofs.participants == plain.participants == (0, 1, 2, 3)
        stats = with_proofs.protection
        # Proof generation and verification are parts of the encryption and decryption times.
        assert 0 < stats["prove_seconds_per_client"] < stats["encrypt_seconds_per_client"]
        assert 0 < stats["verify_seconds"] < stats["decrypt_seconds"]
        # Each ciphertext gains a commitment, z_m and z_r: the input is about 3x larger.
        assert 2.5 < stats["bytes_per_client"] / plain.protection["bytes_per_client"] < 3.5
        assert "prove_seconds_per_client" not in plain.protection
        assert "verify_seconds" not in plain.protection


def test_paillier_refuses_sums_below_min_contributors(tmp_path: Path) -> None:
    raw = with_protection(kind="paillier", min_contributors=3)
    raw["server"] = {"fraction": 0.5}  # 2 of the 4 clients per round
    result = run(raw, run_dir=tmp_path / "refused")
    m = result.final
    assert m.participants == ()
    assert len(m.dropped) == 2
    assert m.dropped == m.sampled
    assert m.protection["buckets_refused"] == 1
    assert m.update_norm == 0.0
    assert np.array_equal(result.weights, run(raw, run_dir=tmp_path / "again").weights)


def test_paillier_policy_larger_than_the_federation_is_a_config_error(tmp_path: Path) -> None:
    from secfl.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="min_contributors"):
        run(with_protection(kind="paillier", min_contributors=5), run_dir=tmp_path / "x")


@pytest.mark.parametrize("bad", [{"key_bits": 1024}, {"min_contributors": 0}, {"kind": "rsa"}])
def test_bad_protection_configs(bad: dict[str, Any], tmp_path: Path) -> None:
    from secfl.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="protection"):
        run(with_protection(**bad), run_dir=tmp_path / "x")


@pytest.mark.parametrize("kind", ["secagg", "secagg+"])
def test_secure_aggregation_equals_plain_up_to_quantisation(tmp_path: Path, kind: str) -> None:
    plain = run(BASE, run_dir=tmp_path / "plain")
    protected = run(with_protection(kind=kind, clip=1.0), run_dir=tmp_path / kind)
    assert np.max(np.abs(protected.weights - plain.weights)) < 1e-4
    stats = protected.final.protection
    assert stats["server_cpu_seconds"] > 0
    assert stats["bytes_per_client"] > 0
    assert protected.final.participants == (0, 1, 2, 3)


def test_secure_aggregation_survives_dropouts_and_reports_them(tmp_path: Path) -> None:
    raw = with_protection(kind="secagg", dropout={"MaskedInputCollection": 0.3, "Unmasking": 0.2})
    raw["data"] = {**raw["data"], "num_clients": 10}
    raw["run"] = {**raw["run"], "rounds": 3, "seed": 1}
    result = run(raw, run_dir=tmp_path / "drops")
    total_dropped = 0
    for m in result.metrics:
        assert set(m.participants) | set(m.dropped) == set(m.sampled)
        assert not set(m.participants) & set(m.dropped)
        total_dropped += len(m.dropped)
    assert total_dropped > 0  # clients dropping before sending their masked input are left out
    assert np.all(np.isfinite(result.weights))


def test_too_many_dropouts_reveal_nothing(tmp_path: Path) -> None:
    raw = with_protection(kind="secagg", dropout={"ShareKeys": 0.9})
    result = run(raw, run_dir=tmp_path / "lost")
    for m in result.metrics:
        assert m.participants == ()
        assert m.protection["buckets_failed"] == 1
    assert result.final.update_norm == 0.0


def test_declared_corruption_raises_the_threshold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 6 clients, complete graph: t = 4 by default; with corrupt = 2, t = floor(8/2) + 1 = 5.
    # Two clients silent at Unmasking leave 4 live holders: enough for t = 4, not for t = 5.
    from secfl.federation.protection import secagg as protection_module
    from secfl.secagg import SecAggParams

    assert SecAggParams(num_clients=6).t == 4
    assert SecAggParams(num_clients=6, corrupt=2).t == 5

    def two_silent_at_unmasking(clients: Any, rates: Any, rng: Any) -> dict[str, set[int]]:
        return {"Unmasking": set(sorted(int(c) for c in clients)[:2])}

    monkeypatch.setattr(protection_module, "simulate_dropouts", two_silent_at_unmasking)
    raw = with_protection(kind="secagg", dropout={"Unmasking": 0.5})
    raw["data"] = {**raw["data"], "num_clients": 6}
    raw["run"] = {**raw["run"], "rounds": 1}
    default = run(raw, run_dir=tmp_path / "c0")
    raw["protection"] = {**raw["protection"], "corrupt": 2}
    strict = run(raw, run_dir=tmp_path / "c2")
    # Silent after sending their masked input: still in the sum when t shares arrive.
    assert default.final.participants == (0, 1, 2, 3, 4, 5)
    assert strict.final.participants == ()  # 4 live holders < t = 5: nothing revealed
    assert strict.final.protection["buckets_failed"] == 1
