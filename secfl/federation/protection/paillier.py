"""Packed Paillier protection: the aggregator adds ciphertexts, a separate decryptor releases sums.

Adapter between the engine's :class:`~secfl.federation.protection.Protection`
interface and :class:`secfl.he.PaillierSecureSum` (spec: ``protocols/paillier.md``).
Each bucket is encrypted, aggregated and decrypted as its own aggregate; the
decryptor releases a bucket's sum only if its counter shows at least
``min_contributors`` clients, so a bucket that is too small is reported as
dropped, never decrypted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from secfl.crypto.random import CSPRNG
from secfl.errors import ThresholdNotMetError
from secfl.federation.protection.base import BucketSum, Contribution, ProtectionOutcome
from secfl.he import PaillierConfig, PaillierSecureSum
from secfl.types import ClientId, RandomSource, RoundId

__all__ = ["PaillierProtection"]


class PaillierProtection:
    """Clients encrypt packed updates; the server multiplies; the decryptor checks and decrypts.

    Args:
        dim: update length.
        num_clients: clients in the federation (sizes the slot headroom).
        max_weight: the largest FedAvg weight a client may declare.
        clip: coordinate bound of the encoded updates.
        value_bits: quantisation bits per coordinate.
        key_bits: Paillier modulus size (>= 2048).
        min_contributors: the decryptor's minimum-contributor policy.
        sign_inputs: clients sign their ciphertexts (duplicate/replay detection).
        prove_inputs: clients also prove knowledge of their plaintexts and the
            decryptor verifies the proofs (``protocols/paillier.md`` §4.1, §7.4);
            the round statistics then split out ``prove_seconds_per_client``
            (part of ``encrypt_seconds_per_client``) and ``verify_seconds``
            (part of ``decrypt_seconds``).
        rng: randomness for keys and encryption (OS CSPRNG by default).
        parallel_workers: encrypt on this many processes (0: in process).
    """

    name = "paillier"
    reveals_individual_updates = False

    def __init__(
        self,
        *,
        dim: int,
        num_clients: int,
        max_weight: float,
        clip: float,
        value_bits: int = 16,
        key_bits: int = 2048,
        min_contributors: int = 2,
        sign_inputs: bool = True,
        prove_inputs: bool = False,
        rng: RandomSource | None = None,
        parallel_workers: int = 0,
    ) -> None:
        self.config = PaillierConfig(
            dimension=dim,
            clip=clip,
            max_clients=num_clients,
            min_contributors=min_contributors,
            value_bits=value_bits,
            max_weight=max_weight,
            key_bits=key_bits,
            prove_inputs=prove_inputs,
        )
        self.session = PaillierSecureSum(
            self.config,
            sign_inputs=sign_inputs,
            rng=rng if rng is not None else CSPRNG(),
            clock=time.perf_counter,
            parallel_workers=parallel_workers,
        )

    def aggregate(
        self,
        *,
        round: RoundId,
        buckets: Sequence[Sequence[Contribution]],
        rng: RandomSource,
    ) -> ProtectionOutcome:
        """Encrypt, aggregate and decrypt each bucket separately."""
        sums: list[BucketSum] = []
        dropped: list[ClientId] = []
        encrypt: list[float] = []
        prove: list[float] = []
        sizes: list[int] = []
        aggregate_s = decrypt_s = verify_s = 0.0
        to_decryptor = 0
        refused = 0
        for bucket in buckets:
            if not bucket:
                continue
            try:
                result = self.session.sums(
                    round,
                    [c.update for c in bucket],
                    [int(c.client) for c in bucket],
                    weights=[c.weight for c in bucket],
                )
            except ThresholdNotMetError:
                # The decryptor refuses buckets below min_contributors: nothing is released.
                dropped.extend(c.client for c in bucket)
                refused += 1
                continue
            (released,) = result.aggregates
            stats = result.stats
            encrypt.extend(stats.encrypt_seconds.values())
            prove.extend(stats.prove_seconds.values())
            sizes.extend(stats.bytes_per_client.values())
            aggregate_s += stats.aggregate_seconds
            decrypt_s += stats.decrypt_seconds
            verify_s += stats.verify_seconds
            to_decryptor += stats.bytes_to_decryptor
            sums.append(
                BucketSum(
                    members=tuple(released.contributors),
                    weighted_sum=np.asarray(released.values, dtype=np.float64),
                    total_weight=float(released.total_weight),
                )
            )
        summary = {
            "encrypt_seconds_per_client": float(np.mean(encrypt)) if encrypt else 0.0,
            "aggregate_seconds": aggregate_s,
            "decrypt_seconds": decrypt_s,
            "bytes_per_client": float(np.mean(sizes)) if sizes else 0.0,
            "bytes_to_decryptor": float(to_decryptor),
            "buckets_refused": float(refused),
        }
        if self.config.prove_inputs:
            # Parts of the encryption and decryption times above, not extra time.
            summary["prove_seconds_per_client"] = float(np.mean(prove)) if prove else 0.0
            summary["verify_seconds"] = verify_s
        return ProtectionOutcome(sums=tuple(sums), dropped=tuple(dropped), stats=summary)

    def close(self) -> None:
        """Stop encryption worker processes, if any."""
        self.session.close()
