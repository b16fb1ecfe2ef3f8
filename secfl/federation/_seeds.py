"""Deterministic seeds of the engine's random streams (layer L3).

Every random choice of a round derives from ``(run.seed, round, stream tag,
...)``, so that resuming from a checkpoint replays the remaining rounds
exactly. Cryptographic randomness (masks, noise, keys) does not come from
here: it comes from the OS CSPRNG unless a test explicitly seeds it.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "AGGREGATOR",
    "ATTACK",
    "BUCKETS",
    "DP",
    "INIT",
    "LAYERS",
    "PROTECTION",
    "ROOT",
    "SAMPLING",
    "TRAINING",
    "derive_seed",
]

# Stream tags keep the randomness of different purposes independent. LAYERS
# seeds torch's global RNG during local training: the coins of stochastic
# layers such as dropout (data order has its own generator, from TRAINING).
SAMPLING, TRAINING, BUCKETS, PROTECTION, AGGREGATOR, INIT, ROOT, ATTACK, DP, LAYERS = range(1, 11)


def derive_seed(*parts: int) -> int:
    """A 63-bit seed derived from integers (stable across platforms and runs)."""
    state = np.random.SeedSequence(list(parts)).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & (2**63 - 1)
