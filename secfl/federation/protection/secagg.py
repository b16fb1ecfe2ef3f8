"""Secure aggregation protection: SecAgg (complete graph) or SecAgg+ (sparse graph).

Adapter between the engine's :class:`~secfl.federation.protection.Protection`
interface and :func:`secfl.secagg.run_secure_aggregation` (spec:
``protocols/secagg.md``). Each bucket of clients runs its own protocol
instance; the server learns only each bucket's sum. Clients encode
``(w * x, w)`` with a :class:`~secfl.encoding.WeightedEncoder` sized for the
bucket (so the sum can never wrap around), or, with distributed DP, clip,
quantise and add discrete Gaussian noise through
:class:`secfl.dp.DistributedDP` before masking.

Dropouts can be simulated per protocol stage; a client that drops after
sending its masked input is still in the sum (its masks are reconstructed),
one that drops before is not. If too few clients remain, the bucket's sum is
not revealed and its clients are reported as dropped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from secfl.crypto.random import CSPRNG
from secfl.encoding import FixedPointEncoder, WeightedEncoder
from secfl.errors import ConfigurationError, ThresholdNotMetError
from secfl.federation.protection.base import BucketSum, Contribution, ProtectionOutcome
from secfl.secagg import SecAggParams, run_secure_aggregation, simulate_dropouts
from secfl.types import ClientId, EncodedVector, RandomSource, RoundId

__all__ = ["DistributedNoise", "SecAggProtection"]

_SESSION_LABEL = b"secfl/v1/federation/secagg-session"


class DistributedNoise(Protocol):
    """What the protection needs from distributed DP (:class:`secfl.dp.DistributedDP`)."""

    encoder: FixedPointEncoder

    def encode(self, update: Any, rng: RandomSource | None = None) -> EncodedVector:
        """Clip, quantise, add discrete Gaussian noise and wrap."""
        ...

    def decode_sum(self, words: Any, count: int) -> NDArray[np.float64]:
        """Decode an unmasked sum of ``count`` encodings."""
        ...


class SecAggProtection:
    """Pairwise-masked secure aggregation per bucket.

    Args:
        graph: ``"complete"`` (SecAgg) or ``"harary"`` (SecAgg+).
        bits: word size k of Z_(2^k).
        clip: coordinate bound of the encoded updates.
        max_weight: the largest FedAvg weight a client may declare.
        dropout: per-stage dropout probabilities for simulation (stage name -> p).
        malicious: run the malicious-server variant (signatures, consistency check).
        corrupt: clients per holder set assumed to collude with the server
            (:class:`secfl.secagg.SecAggParams`); raises the threshold. A bucket
            whose holder sets are too small for it is not aggregated.
        session_seed: bytes binding each protocol instance to this run (public).
        noise: distributed DP mechanism (encodes with noise; uniform weights).
        min_survivors: the fewest clients whose input (and noise) may make up a
            used sum; a bucket smaller than it is not aggregated. With the
            complete graph the protocol threshold is raised to it (clients refuse
            to unmask fewer); with SecAgg+'s per-neighbourhood thresholds the
            honest server discards a smaller sum (a malicious server could use
            it: prefer ``secagg`` with distributed DP against a malicious server).
            Distributed DP sets it to the number of clients whose noise its
            accounting assumes.
    """

    reveals_individual_updates = False

    def __init__(
        self,
        *,
        graph: str = "complete",
        bits: int = 32,
        clip: float = 1.0,
        max_weight: float = 1.0,
        dropout: Mapping[str, float] | None = None,
        malicious: bool = True,
        session_seed: bytes = b"",
        noise: DistributedNoise | None = None,
        min_survivors: int = 1,
        corrupt: int = 0,
    ) -> None:
        if graph not in ("complete", "harary"):
            raise ConfigurationError(
                f"secure aggregation graph must be complete or harary, got {graph!r}"
            )
        self.name = "secagg" if graph == "complete" else "secagg+"
        self.graph = graph
        self.bits = bits
        self.clip = clip
        self.max_weight = max_weight
        self.dropout = dict(dropout or {})
        self.malicious = malicious
        self.session_seed = session_seed
        self.noise = noise
        self.min_survivors = min_survivors
        self.corrupt = corrupt
        if self.dropout:
            simulate_dropouts([], self.dropout, CSPRNG(0))  # validates stage names and rates

    def encoder_for(self, size: int) -> WeightedEncoder:
        """The weighted encoder for a bucket of ``size`` clients."""
        return WeightedEncoder(
            clip=self.clip, max_weight=self.max_weight, num_clients=size, bits=self.bits
        )

    def _session(self, round: RoundId, bucket: int) -> bytes:
        data = _SESSION_LABEL + self.session_seed + int(round).to_bytes(8, "big")
        return hashlib.sha256(data + bucket.to_bytes(4, "big")).digest()

    def aggregate(
        self,
        *,
        round: RoundId,
        buckets: Sequence[Sequence[Contribution]],
        rng: RandomSource,
    ) -> ProtectionOutcome:
        """Run one secure sum per bucket and decode it."""
        sums: list[BucketSum] = []
        dropped: list[ClientId] = []
        server_cpu = client_cpu = wall = 0.0
        client_bytes: list[float] = []
        server_bytes = 0.0
        failed = 0
        stage_drops: dict[str, float] = {}
        for index, bucket in enumerate(buckets):
            if not bucket:
                continue
            ids = [c.client for c in bucket]
            if len(bucket) < self.min_survivors:
                dropped.extend(ids)
                failed += 1
                continue
            encoder = None if self.noise is not None else self.encoder_for(len(bucket))
            inputs: dict[int, NDArray[Any]] = {}
            for c in bucket:
                if c.forge_words is not None:
                    values = self.noise.encoder if self.noise is not None else encoder.values  # type: ignore[union-attr]
                    weights = None if self.noise is not None else encoder.weights  # type: ignore[union-attr]
                    inputs[int(c.client)] = c.forge_words(values, weights)
                elif self.noise is not None:
                    inputs[int(c.client)] = self.noise.encode(c.update, rng)
                else:
                    assert encoder is not None
                    inputs[int(c.client)] = encoder.encode(c.update, c.weight, rng)
            try:
                params = SecAggParams(
                    num_clients=len(bucket),
                    bits=self.bits,
                    graph=self.graph,
                    malicious=self.malicious,
                    corrupt=self.corrupt,
                )
                if self.graph == "complete" and params.t < self.min_survivors:
                    params = SecAggParams(
                        num_clients=len(bucket),
                        threshold=self.min_survivors,
                        bits=self.bits,
                        graph=self.graph,
                        malicious=self.malicious,
                        corrupt=self.corrupt,
                    )
                dropouts = simulate_dropouts(ids, self.dropout, rng) if self.dropout else None
                result = run_secure_aggregation(
                    inputs,
                    params,
                    dropouts=dropouts,
                    rng=rng,
                    session_id=self._session(round, index),
                    round_id=int(round),
                )
            except (ThresholdNotMetError, ConfigurationError):
                # Too few clients left (or too few to run the protocol): nothing is revealed.
                dropped.extend(ids)
                failed += 1
                continue
            if len(result.contributors) < self.min_survivors:
                # SecAgg+ clients enforce thresholds per neighbourhood only, so the floor on
                # survivors (distributed DP's noise) is kept by the honest server here: the
                # sum is discarded, never used. With the complete graph the clients enforce
                # it themselves (threshold raised above).
                dropped.extend(ids)
                failed += 1
                continue
            members = tuple(sorted(ClientId(int(c)) for c in result.contributors))
            gone = tuple(sorted(c for c in ids if c not in result.contributors))
            dropped.extend(gone)
            count = len(members)
            if self.noise is not None:
                weighted_sum = self.noise.decode_sum(result.total, count)
                total_weight = float(count)
            else:
                assert encoder is not None
                weighted_sum, total_weight = encoder.decode_sum(result.total, count)
            sums.append(
                BucketSum(
                    members=members,
                    dropped=gone,
                    weighted_sum=np.asarray(weighted_sum, dtype=np.float64),
                    total_weight=total_weight,
                )
            )
            server_cpu += result.server.cpu_seconds
            client_cpu += result.mean_client_cpu_seconds()
            wall += result.wall_seconds
            server_bytes += result.server.bytes_received + result.server.bytes_sent
            client_bytes.extend(float(c.bytes_sent) for c in result.clients.values())
            for stage, who in result.dropouts.items():
                stage_drops[stage] = stage_drops.get(stage, 0.0) + len(who)
        stats: dict[str, float] = {
            "server_cpu_seconds": server_cpu,
            "client_cpu_seconds_mean": client_cpu / max(1, len(sums)),
            "protocol_wall_seconds": wall,
            "bytes_per_client": float(np.mean(client_bytes)) if client_bytes else 0.0,
            "server_bytes": server_bytes,
            "buckets_failed": float(failed),
        }
        stats.update({f"dropped_at_{k}": v for k, v in stage_drops.items()})
        return ProtectionOutcome(sums=tuple(sums), dropped=tuple(dropped), stats=stats)
