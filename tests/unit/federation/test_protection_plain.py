"""Plain protection sums and bucket means equal the textbook float64 formulas exactly."""

from __future__ import annotations

import numpy as np
import pytest

from secfl.errors import InvalidInputError
from secfl.federation.protection.base import BucketSum, Contribution
from secfl.federation.protection.plain import PlainProtection
from secfl.types import ClientId, RoundId


def _contributions(rng: np.random.Generator, sizes: list[int], d: int) -> list[list[Contribution]]:
    buckets, cid = [], 0
    for size in sizes:
        bucket = []
        for _ in range(size):
            scale = 10.0 ** rng.integers(-6, 6)
            update = (rng.standard_normal(d) * scale).astype(np.float32)
            update[rng.integers(0, d, 3)] = 0.0
            weight = float(rng.choice([1.0, 3000.0, 0.37, 1e-3]))
            bucket.append(Contribution(client=ClientId(cid), update=update, weight=weight))
            cid += 1
        buckets.append(bucket)
    return buckets


@pytest.mark.parametrize("seed", range(4))
def test_sums_and_means_match_the_reference_formula(seed: int) -> None:
    rng = np.random.default_rng(seed)
    buckets = _contributions(rng, [1, 2, 3, 1, 5], d=257)
    outcome = PlainProtection().aggregate(round=RoundId(1), buckets=buckets, rng=None)  # type: ignore[arg-type]
    assert len(outcome.sums) == len(buckets)
    for bucket, got in zip(buckets, outcome.sums, strict=True):
        expected = np.zeros(257, dtype=np.float64)
        for c in bucket:
            expected += c.weight * c.update.astype(np.float64)
        np.testing.assert_array_equal(got.weighted_sum, expected)
        assert got.total_weight == sum(c.weight for c in bucket)
        mean = (expected / got.total_weight).astype(np.float32)
        np.testing.assert_array_equal(got.mean, mean)
        out = np.full(257, np.nan, dtype=np.float32)
        got.mean_into(out)
        np.testing.assert_array_equal(out, mean)
    assert outcome.stats["bytes_uploaded"] == sum(c.update.nbytes for b in buckets for c in b)


def test_a_bucket_without_weight_has_no_mean() -> None:
    empty = BucketSum(members=(ClientId(0),), weighted_sum=np.zeros(3), total_weight=0.0)
    with pytest.raises(InvalidInputError, match="no weight"):
        _ = empty.mean
    with pytest.raises(InvalidInputError, match="no weight"):
        empty.mean_into(np.empty(3, dtype=np.float32))
