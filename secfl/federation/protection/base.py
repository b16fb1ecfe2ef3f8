"""The ``Protection`` plug point: how client updates reach the server (layer L3).

A protection takes the round's contributions, grouped into buckets, and
returns one weighted sum per bucket; the server never handles anything but
those sums unless the protection is ``none``. With a robust rule that needs
individual inputs, the engine makes buckets of at least ``min_bucket`` clients
(bucketed secure aggregation); with a plain protection, every client is its
own bucket; with a sum-only rule, all clients form one bucket.

In the embedded engine a protection simulates both sides (each client's
encode/mask/encrypt step and the server's aggregation); the network transports
of a deployment move the same messages between machines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from secfl.encoding import FixedPointEncoder
from secfl.errors import InvalidInputError
from secfl.types import ClientId, EncodedVector, RandomSource, RoundId

__all__ = ["BucketSum", "Contribution", "ForgeWords", "Protection", "ProtectionOutcome"]

ForgeWords = Callable[[FixedPointEncoder, FixedPointEncoder | None], EncodedVector]
"""Words a Byzantine client sends: f(values encoder, weight encoder or None)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Contribution:
    """One client's update as handed to the protection layer.

    Attributes:
        client: the client's id.
        update: the update vector (float32).
        weight: its FedAvg weight (sample count, or 1 for uniform weighting).
        forge_words: for a simulated Byzantine client attacking an integer
            encoding: a function from the protection's encoders (values, and
            weight or ``None``) to the words it sends instead of an honest
            encoding; protections that do not encode ignore it and use ``update``.
    """

    client: ClientId
    update: NDArray[np.float32]
    weight: float
    forge_words: ForgeWords | None = None

    def __post_init__(self) -> None:
        if self.update.ndim != 1:
            raise InvalidInputError(f"client {self.client}: update must be a vector")
        if not (np.isfinite(self.weight) and self.weight >= 0):
            raise InvalidInputError(f"client {self.client}: weight must be finite and >= 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class BucketSum:
    """The (decoded) sum of one bucket.

    Attributes:
        members: clients whose inputs are in the sum.
        dropped: clients of the bucket whose inputs are not (dropouts).
        weighted_sum: ``Σ w_i x_i`` over ``members``.
        total_weight: ``Σ w_i`` over ``members``.
    """

    members: tuple[ClientId, ...]
    dropped: tuple[ClientId, ...] = ()
    weighted_sum: NDArray[np.float64]
    total_weight: float

    @property
    def mean(self) -> NDArray[np.float32]:
        """The bucket's weighted mean (``Σ w_i x_i / Σ w_i``)."""
        out = np.empty(self.weighted_sum.shape, dtype=np.float32)
        self.mean_into(out)
        return out

    def mean_into(self, out: NDArray[np.float32]) -> None:
        """Write :attr:`mean` into ``out`` (divided in float64, rounded once to float32)."""
        if self.total_weight <= 0:
            raise InvalidInputError("bucket has no weight")
        np.divide(self.weighted_sum, self.total_weight, out=out, casting="same_kind")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtectionOutcome:
    """What a protection returns for one round.

    Attributes:
        sums: one entry per non-empty bucket (buckets whose every member
            dropped are omitted and their clients listed in ``dropped``).
        dropped: every client whose input did not reach a sum.
        stats: public numbers for the round summary (seconds, bytes, ...).
    """

    sums: tuple[BucketSum, ...]
    dropped: tuple[ClientId, ...] = ()
    stats: Mapping[str, float] = field(default_factory=dict)


@runtime_checkable
class Protection(Protocol):
    """How updates reach the server."""

    name: str
    reveals_individual_updates: bool

    def aggregate(
        self,
        *,
        round: RoundId,
        buckets: Sequence[Sequence[Contribution]],
        rng: RandomSource,
    ) -> ProtectionOutcome:
        """Return one weighted sum per bucket."""
        ...
