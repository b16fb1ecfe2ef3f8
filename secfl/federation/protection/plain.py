"""No protection: the server receives every update in the clear and sums floats."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from secfl.federation.protection.base import BucketSum, Contribution, ProtectionOutcome
from secfl.types import RandomSource, RoundId

__all__ = ["PlainProtection"]


class PlainProtection:
    """Plain float sums (float64 accumulation); the server sees each update."""

    name = "none"
    reveals_individual_updates = True

    def aggregate(
        self,
        *,
        round: RoundId,
        buckets: Sequence[Sequence[Contribution]],
        rng: RandomSource,
    ) -> ProtectionOutcome:
        """Sum each bucket's weighted updates."""
        start = time.perf_counter()
        sums: list[BucketSum] = []
        upload = 0
        for bucket in buckets:
            if not bucket:
                continue
            # Σ w_i x_i in float64, one pass per member: the first product is the
            # initial sum (the value of 0 + w·x), the others are added in order.
            first, *rest = bucket
            total = np.multiply(first.update, first.weight, dtype=np.float64)
            for c in rest:
                total += np.multiply(c.update, c.weight, dtype=np.float64)
            upload += sum(c.update.nbytes for c in bucket)
            sums.append(
                BucketSum(
                    members=tuple(c.client for c in bucket),
                    weighted_sum=total,
                    total_weight=float(sum(c.weight for c in bucket)),
                )
            )
        stats = {"server_seconds": time.perf_counter() - start, "bytes_uploaded": float(upload)}
        return ProtectionOutcome(sums=tuple(sums), stats=stats)
