"""All three Paillier roles in one process, for the embedded engine (paillier.md §10).

:class:`PaillierSecureSum` is the seam between the federated engine and this
package: per round the engine hands over the clients' (already clipped)
float updates with their weights and, optionally, a partition of the clients
into buckets; it gets back one :class:`~secfl.he.decryptor.DecryptedAggregate`
per bucket plus timings and byte counts for the round summary. Every message
really is encoded to bytes and decoded again on the receiving side, so the
byte counts are the wire sizes and the decoders are exercised.

The clock is injected (``clock=time.perf_counter`` or ``time.process_time``),
so this L2 module reads no clock of its own; without one, timings are 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from numpy.typing import ArrayLike

from secfl.crypto.paillier import (
    ObfuscatorPool,
    PaillierKeyPair,
    generate_keypair,
    shared_fixed_base,
)
from secfl.crypto.random import CSPRNG
from secfl.errors import ConfigurationError, InvalidInputError
from secfl.he.aggregator import PaillierAggregator
from secfl.he.client import PaillierClient
from secfl.he.config import PaillierConfig
from secfl.he.decryptor import DecryptedAggregate, Decryptor
from secfl.he.messages import EncryptedAggregate, EncryptedInput
from secfl.he.parallel import ParallelEncryptor
from secfl.types import ClientId, RandomSource, RoundId

__all__ = ["PaillierRoundResult", "PaillierRoundStats", "PaillierSecureSum"]

_IDENTITY_LABEL = b"secfl/v1/he/paillier/simulated-identity"


@dataclass(frozen=True, slots=True, kw_only=True)
class PaillierRoundStats:
    """Costs of one round, for the round summary.

    Attributes:
        encrypt_seconds: per client: quantise, pack, encrypt, prove (with
            ``prove_inputs``) and sign.
        aggregate_seconds: aggregator time over all buckets (decode, check, multiply).
        decrypt_seconds: decryptor time over all buckets (checks, proof
            verification with ``prove_inputs``, policy, CRT decryption).
        bytes_per_client: encoded size of each client's input.
        bytes_to_decryptor: encoded size of all aggregates sent to the decryptor.
        ciphertexts_per_client: ciphertexts in one input.
        prove_seconds: per client, the part of ``encrypt_seconds`` spent
            proving plaintext knowledge (empty without ``prove_inputs``).
        verify_seconds: the part of ``decrypt_seconds`` spent verifying the
            proofs (0 without ``prove_inputs``).
    """

    encrypt_seconds: Mapping[ClientId, float]
    aggregate_seconds: float
    decrypt_seconds: float
    bytes_per_client: Mapping[ClientId, int]
    bytes_to_decryptor: int
    ciphertexts_per_client: int
    prove_seconds: Mapping[ClientId, float] = field(default_factory=dict)
    verify_seconds: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PaillierRoundResult:
    """Released aggregates (one per bucket, in bucket order) and the round's costs."""

    aggregates: tuple[DecryptedAggregate, ...]
    stats: PaillierRoundStats = field(repr=False)


class PaillierSecureSum:
    """Runs client, aggregator and decryptor in one process.

    Args:
        config: the shared parameters.
        keypair: the decryptor's keys; generated from ``rng`` when ``None``.
        sign_inputs: give every simulated client an Ed25519 identity key and
            run the decryptor in signed mode (paillier.md §7.2). Recommended;
            required by ``config.prove_inputs``, with which every client also
            proves knowledge of its plaintexts and the decryptor verifies the
            proofs (paillier.md §4.1, §7.4).
        rng: randomness for keys, identities, rounding and obfuscators (OS
            CSPRNG by default; seeded for reproducible simulations).
        clock: a monotonic clock for the timings (e.g. ``time.perf_counter``).
        parallel_workers: > 0 encrypts on that many worker processes.

    Raises:
        ConfigurationError: if the keys do not match the configuration, or
            ``config.prove_inputs`` is set with ``sign_inputs=False``.
    """

    __slots__ = (
        "_aggregator",
        "_clock",
        "_decryptor",
        "_identities",
        "_parallel",
        "_pool",
        "_rng",
        "config",
        "keypair",
        "sign_inputs",
    )

    def __init__(
        self,
        config: PaillierConfig,
        *,
        keypair: PaillierKeyPair | None = None,
        sign_inputs: bool = True,
        rng: RandomSource | None = None,
        clock: Callable[[], float] | None = None,
        parallel_workers: int = 0,
    ) -> None:
        self._rng: RandomSource = CSPRNG() if rng is None else rng
        if keypair is None:
            keypair = generate_keypair(
                config.key_bits, rng=self._rng, allow_insecure=config.allow_insecure_key
            )
        config.check_key(keypair.public_key)
        if not isinstance(parallel_workers, int) or parallel_workers < 0:
            raise ConfigurationError("parallel_workers must be a non-negative integer")
        if config.prove_inputs and not sign_inputs:
            raise ConfigurationError("prove_inputs needs sign_inputs=True (proofs bind signers)")
        self.config = config
        self.keypair = keypair
        self.sign_inputs = bool(sign_inputs)
        self._clock = clock
        self._identities: dict[ClientId, Ed25519PrivateKey] = {}
        self._aggregator = PaillierAggregator(
            keypair.public_key, config, forward_inputs=self.sign_inputs
        )
        self._decryptor = Decryptor(
            keypair.private_key,
            config,
            client_keys={} if self.sign_inputs else None,
            # The verifier's batch coefficients come from its own OS CSPRNG, never from
            # the (possibly seeded) randomness of the simulated clients.
            rng=CSPRNG(),
            clock=clock,
        )
        self._pool = ObfuscatorPool(shared_fixed_base(keypair.public_key), rng=self._rng)
        self._parallel = (
            ParallelEncryptor(keypair.public_key, workers=parallel_workers)
            if parallel_workers
            else None
        )

    def __repr__(self) -> str:
        return (
            f"PaillierSecureSum({self.config!r}, sign_inputs={self.sign_inputs},"
            f" prove_inputs={self.config.prove_inputs})"
        )

    def close(self) -> None:
        """Stop worker processes, if any."""
        if self._parallel is not None:
            self._parallel.close()

    def __enter__(self) -> PaillierSecureSum:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def decryptor(self) -> Decryptor:
        """The decryptor (e.g. to inspect per-round state)."""
        return self._decryptor

    def precompute(self, clients: int) -> None:
        """Precompute obfuscators for ``clients`` inputs (call between rounds)."""
        self._pool.refill(clients * self.config.num_ciphertexts)

    def _now(self) -> float:
        return self._clock() if self._clock is not None else 0.0

    def _identity(self, cid: ClientId) -> Ed25519PrivateKey:
        key = self._identities.get(cid)
        if key is None:
            key = Ed25519PrivateKey.from_private_bytes(self._rng.random_bytes(32))
            self._identities[cid] = key
            self._decryptor.register_client(cid, key.public_key())
        return key

    def sums(
        self,
        round: RoundId | int,
        updates: Sequence[ArrayLike],
        ids: Sequence[int],
        *,
        weights: Sequence[float] | None = None,
        buckets: Sequence[Sequence[int]] | None = None,
    ) -> PaillierRoundResult:
        """Securely sum the updates of one round, per bucket.

        Args:
            round: the round number.
            updates: one clipped float vector per client.
            ids: the clients' ids (unique, same order as ``updates``).
            weights: per-client weights (weighted configurations only).
            buckets: a partition of ``ids`` into disjoint groups, each summed
                separately; ``None`` sums everybody together.

        Returns:
            The decrypted aggregates and the round's costs.

        Raises:
            InvalidInputError: if ids repeat, buckets are not a partition of
                ``ids``, or an update is invalid.
            ThresholdNotMetError: a bucket has fewer than ``min_contributors`` clients.
        """
        cids = [ClientId(int(i)) for i in ids]
        if len(cids) != len(updates) or len(set(cids)) != len(cids):
            raise InvalidInputError("ids must be unique and match the updates")
        if weights is not None and len(weights) != len(cids):
            raise InvalidInputError("weights must match the updates")
        groups = [cids] if buckets is None else [[ClientId(int(i)) for i in b] for b in buckets]
        flat = [c for g in groups for c in g]
        if sorted(flat) != sorted(cids):
            raise InvalidInputError("buckets must partition the client ids")
        pk = self.keypair.public_key
        encoded: dict[ClientId, bytes] = {}
        enc_time: dict[ClientId, float] = {}
        prove_time: dict[ClientId, float] = {}
        for idx, cid in enumerate(cids):
            start = self._now()
            client = PaillierClient(
                pk,
                self.config,
                cid,
                signing_key=self._identity(cid) if self.sign_inputs else None,
                obfuscator=self._pool,
                rng=self._rng,
                parallel=self._parallel,
                clock=self._clock,
            )
            weight = None if weights is None else float(weights[idx])
            encoded[cid] = client.encrypt(updates[idx], round=round, weight=weight).encode()
            enc_time[cid] = self._now() - start
            if self.config.prove_inputs:
                prove_time[cid] = client.proof_seconds
        agg_time = dec_time = 0.0
        to_decryptor = 0
        verified_before = self._decryptor.proof_seconds
        results = []
        for bucket, group in enumerate(groups):
            start = self._now()
            agg_bytes = self._aggregator.aggregate(
                (EncryptedInput.decode(encoded[c], peer=c) for c in group),
                round=round,
                bucket=bucket,
            ).encode()
            mid = self._now()
            results.append(self._decryptor.decrypt(EncryptedAggregate.decode(agg_bytes)))
            end = self._now()
            agg_time += mid - start
            dec_time += end - mid
            to_decryptor += len(agg_bytes)
        return PaillierRoundResult(
            aggregates=tuple(results),
            stats=PaillierRoundStats(
                encrypt_seconds=enc_time,
                aggregate_seconds=agg_time,
                decrypt_seconds=dec_time,
                bytes_per_client={c: len(b) for c, b in encoded.items()},
                bytes_to_decryptor=to_decryptor,
                ciphertexts_per_client=self.config.num_ciphertexts,
                prove_seconds=prove_time,
                verify_seconds=self._decryptor.proof_seconds - verified_before,
            ),
        )
