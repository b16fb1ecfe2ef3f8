"""The decryptor role and the minimum-contributor policy (paillier.md §6.3, §7).

Theory of operation: the decryptor (e.g. a compliance officer's service, never
the aggregator) holds the private key. It decrypts only aggregates, and only
after the checks of paillier.md §7, in this order:

1. binding: key id, layout id, ciphertexts in range and coprime (INV-1/2/5);
2. per-round accounting: the claimed contributors are disjoint from every
   aggregate already released for this round, and the round's total stays
   within ``max_clients`` (INV-7);
3. with client identity keys: every contributor's signed input is attached,
   each signature verifies, no client or ciphertext repeats, with
   ``prove_inputs`` each input's proof of plaintext knowledge verifies
   (INV-12), and the aggregate equals the product of those inputs (INV-6,
   INV-8);
4. the policy: the ciphertext holding the counter slot is decrypted first;
   the aggregate is released only if the counter equals the number of
   contributors and is at least ``min_contributors`` (INV-9); otherwise
   nothing else is decrypted and nothing is returned;
5. every slot sum lies within ``count`` times its per-client bound and no
   plaintext has bits above its slots (INV-10), so a carry or a malformed
   input cannot masquerade as a valid sum.

A failed check of steps 1-3 or 5 aborts the round (fail closed: nothing more
is released for it); a policy refusal (step 4, too few contributors) releases
nothing but leaves the round open for a larger aggregate.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gmpy2
import numpy as np
from numpy.typing import NDArray

from secfl.crypto import paillier_pok
from secfl.crypto.paillier import PaillierPrivateKey, PaillierPublicKey, RandomnessForm
from secfl.crypto.random import default_rng
from secfl.errors import (
    ConfigurationError,
    CryptoError,
    InvalidInputError,
    InvariantViolationError,
    RemoteProtocolError,
    ThresholdNotMetError,
    UnexpectedMessageError,
)
from secfl.he import _signatures
from secfl.he.aggregator import check_proof_presence, parse_ciphertexts
from secfl.he.config import PaillierConfig
from secfl.he.messages import EncryptedAggregate, EncryptedInput
from secfl.types import ClientId, RandomSource, RoundId

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["AGGREGATOR", "DecryptedAggregate", "Decryptor", "RoundState"]

AGGREGATOR = "aggregator"
"""Peer name used in errors caused by the aggregate itself."""


class RoundState(enum.Enum):
    """The decryptor's state for one round."""

    OPEN = "open"
    ABORTED = "aborted"


@dataclass
class _RoundRecord:
    state: RoundState = RoundState.OPEN
    released: set[ClientId] = field(default_factory=set)
    total: int = 0
    releases: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class DecryptedAggregate:
    """A released aggregate.

    Attributes:
        round: the round.
        bucket: the bucket within the round.
        count: number of contributors (the decrypted counter slot).
        contributors: their ids.
        integer_sum: the exact sum of the clients' quantised coordinates (int64, length d).
        values: ``integer_sum / scale``: the sum of ``x`` (or of ``w * x`` when weighted).
        weight_integer_sum: exact sum of quantised weights (weighted configs), else ``None``.
        total_weight: sum of weights (``count`` when unweighted).
    """

    round: RoundId
    bucket: int
    count: int
    contributors: tuple[ClientId, ...]
    integer_sum: NDArray[np.int64] = field(repr=False)
    values: NDArray[np.float64] = field(repr=False)
    weight_integer_sum: int | None
    total_weight: float

    def mean(self) -> NDArray[np.float64]:
        """The (weighted) mean: ``values / total_weight``.

        Raises:
            InvalidInputError: if the total weight is not positive.
        """
        if self.total_weight <= 0:
            raise InvalidInputError("total weight of the aggregate is not positive")
        return self.values / self.total_weight


class Decryptor:
    """Holds the private key; decrypts aggregates that pass the policy.

    Args:
        private_key: the Paillier private key.
        config: the shared parameters (``min_contributors`` is the policy).
        client_keys: Ed25519 public keys of the registered clients. When given,
            the decryptor requires signed inputs to be forwarded with each
            aggregate and verifies them (paillier.md §7.2); when ``None`` it
            trusts the aggregator's contributor list (honest-but-curious
            aggregator only, §8).
        rng: the decryptor's own randomness for batch-verifying proofs of
            plaintext knowledge (``config.prove_inputs``; OS CSPRNG by default).
            It must be unpredictable to the clients.
        clock: an injected monotonic clock (e.g. ``time.perf_counter``) that
            meters proof verification (:attr:`proof_seconds`); this module
            reads no clock of its own.

    Raises:
        ConfigurationError: if the key does not match the configuration, or
            ``config.prove_inputs`` is set without client keys or with a key
            whose smaller prime factor is not above ``2^128``.
    """

    __slots__ = ("_client_keys", "_clock", "_key", "_proof_seconds", "_rng", "_rounds", "config")

    def __init__(
        self,
        private_key: PaillierPrivateKey,
        config: PaillierConfig,
        *,
        client_keys: Mapping[ClientId, Ed25519PublicKey] | None = None,
        rng: RandomSource | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not isinstance(private_key, PaillierPrivateKey):
            raise ConfigurationError("private_key must be a PaillierPrivateKey")
        config.check_key(private_key.public_key)
        self._key = private_key
        self.config = config
        self._client_keys = _signatures.check_verify_keys(client_keys)
        if config.prove_inputs:
            # paillier.md §7.4: proofs are bound to signers; without client keys the
            # aggregator could prove knowledge of inputs it made up itself.
            if self._client_keys is None:
                raise ConfigurationError("prove_inputs needs client_keys (signed mode)")
            # paillier.md §4.1: challenges and batch coefficients must stay below p and q.
            if private_key.min_factor_bits < paillier_pok.MIN_FACTOR_BITS:
                raise ConfigurationError("prove_inputs needs both prime factors above 2^128")
        self._rng = default_rng(rng) if rng is None else rng
        self._clock = clock
        self._proof_seconds = 0.0
        self._rounds: dict[int, _RoundRecord] = {}

    def __repr__(self) -> str:
        return (
            f"Decryptor(key={self._key.public_key.key_id.hex()},"
            f" min_contributors={self.config.min_contributors},"
            f" signed={self._client_keys is not None})"
        )

    @property
    def public_key(self) -> PaillierPublicKey:
        """The public key matching the decryptor's private key."""
        return self._key.public_key

    @property
    def signed(self) -> bool:
        """Whether the decryptor requires signed, forwarded inputs."""
        return self._client_keys is not None

    @property
    def prove_inputs(self) -> bool:
        """Whether every input must carry a valid proof of plaintext knowledge (INV-12)."""
        return self.config.prove_inputs

    @property
    def proof_seconds(self) -> float:
        """Seconds spent verifying proofs of plaintext knowledge so far (parse and verify).

        Measured with the injected ``clock``; ``0.0`` without one or without
        ``config.prove_inputs``. Part of the time of :meth:`decrypt`.
        """
        return self._proof_seconds

    def register_client(self, client: ClientId | int, key: Ed25519PublicKey) -> None:
        """Register a client's Ed25519 identity key (signed mode only).

        Raises:
            ConfigurationError: in unsigned mode, for a key of the wrong type,
                or if the client already has a different key.
        """
        if self._client_keys is None:
            raise ConfigurationError("this decryptor was created without client keys")
        cid = ClientId(int(client))
        checked = _signatures.check_verify_key(key)
        known = self._client_keys.get(cid)
        if known is not None and known.public_bytes_raw() != checked.public_bytes_raw():
            raise ConfigurationError(f"client {cid} already has a different identity key")
        self._client_keys[cid] = checked

    def round_state(self, round: RoundId | int) -> RoundState:
        """The state of ``round`` (``OPEN`` if nothing happened yet)."""
        rec = self._rounds.get(int(round))
        return RoundState.OPEN if rec is None else rec.state

    def released_clients(self, round: RoundId | int) -> frozenset[ClientId]:
        """Clients whose inputs are already inside a released aggregate of ``round``."""
        rec = self._rounds.get(int(round))
        return frozenset() if rec is None else frozenset(rec.released)

    def decrypt(self, aggregate: EncryptedAggregate | bytes) -> DecryptedAggregate:
        """Check an aggregate against the policy and, if it passes, decrypt it.

        Args:
            aggregate: the :class:`EncryptedAggregate` or its encoding.

        Returns:
            The released :class:`DecryptedAggregate`.

        Raises:
            ThresholdNotMetError: fewer than ``min_contributors`` contributors;
                nothing is released (the round stays open).
            MalformedMessageError: undecodable aggregate or input, wrong key or
                layout, invalid ciphertext (the round is aborted).
            UnexpectedMessageError: the round was aborted earlier, or an input
                belongs to another round (the round is aborted).
            InvariantViolationError: any other invariant of paillier.md §7
                fails, including a missing or invalid proof of plaintext
                knowledge (INV-12) (the round is aborted).
        """
        msg = (
            aggregate
            if isinstance(aggregate, EncryptedAggregate)
            else EncryptedAggregate.decode(aggregate, peer=AGGREGATOR)
        )
        rec = self._rounds.setdefault(int(msg.round), _RoundRecord())
        if rec.state is RoundState.ABORTED:
            raise UnexpectedMessageError(
                f"round {msg.round} was aborted; nothing more is released for it", peer=AGGREGATOR
            )
        try:
            return self._decrypt(msg, rec)
        except RemoteProtocolError:
            rec.state = RoundState.ABORTED  # fail closed
            raise

    def _decrypt(self, msg: EncryptedAggregate, rec: _RoundRecord) -> DecryptedAggregate:
        key = self._key.public_key
        cfg = self.config
        aggregate = parse_ciphertexts(msg, key, cfg, peer=AGGREGATOR)
        contributors = msg.contributors
        k = len(contributors)
        if k > cfg.max_clients:
            raise InvariantViolationError(
                f"{k} contributors exceed max_clients = {cfg.max_clients}", peer=AGGREGATOR
            )
        # paillier.md INV-7: a client counts in at most one released aggregate per round,
        # and a round releases at most max_clients contributions in total.
        if rec.released.intersection(contributors):
            raise InvariantViolationError(
                "a contributor is already inside a released aggregate of this round (INV-7)",
                peer=AGGREGATOR,
            )
        if rec.total + k > cfg.max_clients:
            raise InvariantViolationError(
                f"round would release more than max_clients = {cfg.max_clients} inputs (INV-7)",
                peer=AGGREGATOR,
            )
        if k < cfg.min_contributors:
            raise ThresholdNotMetError(
                f"aggregate of {k} contributors; at least {cfg.min_contributors} are required"
            )
        if self._client_keys is not None:
            self._check_signed_inputs(msg, aggregate)
        # paillier.md INV-9: decrypt the counter first; release nothing below the policy.
        s = cfg.slots_per_plaintext
        counter_ct, counter_pos = divmod(cfg.counter_index, s)
        k_bits = cfg.slot_bits
        last = self._key.decrypt_raw(aggregate[counter_ct])
        counter = (last >> (counter_pos * k_bits)) & ((1 << k_bits) - 1)
        if counter < cfg.min_contributors:
            if counter != k:  # the contributor list was a lie: fail closed as well
                rec.state = RoundState.ABORTED
            # The decrypted counter stays out of the message: an aggregator that can
            # craft ciphertexts would otherwise read a slot of its choice through it.
            raise ThresholdNotMetError(
                f"the counter slot is below the policy: at least {cfg.min_contributors}"
                " contributors are required"
            )
        if counter != k:
            raise InvariantViolationError(
                f"the counter slot disagrees with the {k} listed contributors (INV-9)",
                peer=AGGREGATOR,
            )
        plaintexts = [
            last if i == counter_ct else self._key.decrypt_raw(c) for i, c in enumerate(aggregate)
        ]
        try:
            sums = cfg.packer.unpack(plaintexts, cfg.num_slots)
        except InvalidInputError as exc:
            raise InvariantViolationError(
                "a plaintext has bits outside its slots (INV-10)", peer=AGGREGATOR
            ) from exc
        # paillier.md INV-10: every slot sum is within count * its per-client bound.
        bounds = cfg.slot_bounds
        if np.any(sums > bounds * np.uint64(counter)):
            raise InvariantViolationError(
                "a slot sum exceeds count times its per-client bound (INV-10)", peer=AGGREGATOR
            )
        d = cfg.dimension
        integer_sum = sums[:d].astype(np.int64) - np.int64(counter * cfg.offset)
        values = integer_sum.astype(np.float64) / cfg.values.scale
        weight_int: int | None = None
        total_weight = float(counter)
        if cfg.weights is not None:
            weight_int = int(sums[d])
            total_weight = weight_int / cfg.weights.scale
        rec.released.update(contributors)
        rec.total += k
        rec.releases += 1
        integer_sum.flags.writeable = False
        values.flags.writeable = False
        return DecryptedAggregate(
            round=msg.round,
            bucket=msg.bucket,
            count=int(counter),
            contributors=contributors,
            integer_sum=integer_sum,
            values=values,
            weight_integer_sum=weight_int,
            total_weight=total_weight,
        )

    def _check_signed_inputs(self, msg: EncryptedAggregate, aggregate: list[Any]) -> None:
        """paillier.md §7.2: verify forwarded signed inputs and recompute the product."""
        assert self._client_keys is not None
        key = self._key.public_key
        if not msg.inputs:
            raise InvariantViolationError(
                "signed inputs were not forwarded with the aggregate (INV-8)", peer=AGGREGATOR
            )
        nsq = key._nsquare
        product: list[Any] | None = None
        digests: set[bytes] = set()
        for inp in msg.inputs:
            peer = inp.client
            if inp.round != msg.round:
                raise UnexpectedMessageError(
                    f"forwarded input for round {inp.round} in round {msg.round} (INV-3)",
                    peer=peer,
                )
            verify_key = self._client_keys.get(inp.client)
            if verify_key is None:
                raise InvariantViolationError(
                    "forwarded input from an unregistered client (INV-8)", peer=peer
                )
            _signatures.verify(verify_key, inp.body(), inp.signature, peer=peer)
            digest = inp.digest()
            if digest in digests:
                raise InvariantViolationError(
                    "two inputs carry identical ciphertexts (INV-6)", peer=peer
                )
            digests.add(digest)
            values = parse_ciphertexts(inp, key, self.config, peer=peer)
            check_proof_presence(inp, self.config, peer=peer)
            if self.config.prove_inputs:
                self._verify_proof(inp, values)
            if product is None:
                product = values
            else:
                product = [a * c % nsq for a, c in zip(product, values, strict=True)]
        assert product is not None
        if any(gmpy2.mpz(a) != b for a, b in zip(aggregate, product, strict=True)):
            raise InvariantViolationError(
                "aggregate is not the product of the forwarded inputs (INV-8)", peer=AGGREGATOR
            )

    def _verify_proof(self, inp: EncryptedInput, values: list[Any]) -> None:
        """paillier.md INV-12: the signer proved knowledge of every plaintext of ``inp``."""
        key = self._key.public_key
        start = self._clock() if self._clock is not None else 0.0
        try:
            proof = paillier_pok.PlaintextProof.from_bytes(
                RandomnessForm(inp.proof_form), inp.proof, inp.ciphertext_size, inp.count
            )
            paillier_pok.verify(key, proof, values, inp.proof_context(), self._rng)
        except (CryptoError, ValueError) as exc:
            raise InvariantViolationError(
                f"invalid proof of plaintext knowledge: {exc} (INV-12)", peer=inp.client
            ) from exc
        finally:
            if self._clock is not None:
                self._proof_seconds += self._clock() - start
