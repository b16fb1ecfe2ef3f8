"""The in-process facade the engine uses: buckets, weights, timings and bytes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from secfl.crypto.paillier import PaillierKeyPair
from secfl.crypto.random import CSPRNG
from secfl.errors import InvalidInputError, ThresholdNotMetError
from secfl.he import PaillierConfig, PaillierSecureSum


def test_bucketed_weighted_round(paillier_2048: PaillierKeyPair) -> None:
    cfg = PaillierConfig(
        dimension=300, clip=1.0, max_clients=8, min_contributors=3, max_weight=10.0
    )
    rng = CSPRNG(1)
    xs = [(rng.uniform(300) * 2 - 1).astype(np.float32) for _ in range(7)]
    ws = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    ids = [10, 11, 12, 13, 14, 15, 16]
    ticks = itertools.count()
    with PaillierSecureSum(
        cfg, keypair=paillier_2048, rng=CSPRNG(2), clock=lambda: float(next(ticks))
    ) as session:
        session.precompute(7)
        result = session.sums(1, xs, ids, weights=ws, buckets=[[10, 12, 14], [11, 13, 15, 16]])
    assert [a.contributors for a in result.aggregates] == [(10, 12, 14), (11, 13, 15, 16)]
    for agg, members in zip(result.aggregates, [[0, 2, 4], [1, 3, 5, 6]], strict=True):
        truth = sum(ws[i] * xs[i].astype(np.float64) for i in members)
        assert np.max(np.abs(agg.values - truth)) <= len(members) * cfg.values.step
        assert agg.total_weight == pytest.approx(sum(ws[i] for i in members), abs=1e-3)
    stats = result.stats
    assert set(stats.bytes_per_client) == set(ids)
    # Header, ciphertexts, the proof form byte (no proof) and a signature: fixed by the layout.
    expected = 56 + cfg.num_ciphertexts * paillier_2048.public_key.ciphertext_size + 1 + 1 + 64
    assert set(stats.bytes_per_client.values()) == {expected}
    assert stats.bytes_to_decryptor > 7 * expected  # signed inputs are forwarded
    assert all(t == 1.0 for t in stats.encrypt_seconds.values())  # one tick per client
    assert stats.aggregate_seconds == 2.0
    assert stats.decrypt_seconds == 2.0
    assert session.decryptor.released_clients(1) == frozenset(ids)


def test_session_validation(paillier_2048: PaillierKeyPair) -> None:
    cfg = PaillierConfig(dimension=5, clip=1.0, max_clients=4, min_contributors=2)
    session = PaillierSecureSum(cfg, keypair=paillier_2048, sign_inputs=False, rng=CSPRNG(3))
    xs = [np.zeros(5, dtype=np.float32)] * 3
    with pytest.raises(InvalidInputError):
        session.sums(1, xs, [1, 1, 2])
    with pytest.raises(InvalidInputError):
        session.sums(1, xs, [1, 2, 3], buckets=[[1, 2]])
    with pytest.raises(ThresholdNotMetError):
        session.sums(1, xs, [1, 2, 3], buckets=[[1, 2], [3]])
    result = session.sums(2, xs, [1, 2, 3])
    assert result.aggregates[0].count == 3
    assert result.stats.encrypt_seconds[1] == 0.0  # no clock injected
