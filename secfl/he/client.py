"""The client role: quantise, pack and encrypt an update (paillier.md §6.1).

Theory of operation: a client holds only the public key. For each round it
quantises its (clipped) update with the configuration's fixed-point encoder,
shifts every coordinate by the offset ``M`` so that all slots are
non-negative, appends the quantised weight (weighted mode) and a counter slot
holding 1, packs the slots into plaintexts, and encrypts each plaintext with
a fresh obfuscator. With ``config.prove_inputs`` it also proves, in zero
knowledge, that it knows the plaintext (and the obfuscator's opening) of
every ciphertext, bound to its client id, the layout and the round
(paillier.md §4.1, INV-12). With an identity key it signs the whole message,
proof included, so the decryptor can count it as one distinct client
(paillier.md INV-8).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from secfl.crypto import paillier_pok
from secfl.crypto.paillier import (
    Obfuscator,
    OpenableObfuscator,
    PaillierPublicKey,
    RandomnessForm,
    shared_fixed_base,
)
from secfl.crypto.random import default_rng
from secfl.errors import ConfigurationError, CryptoError, InvalidInputError
from secfl.he import _signatures
from secfl.he.config import PaillierConfig
from secfl.he.messages import EncryptedInput
from secfl.types import ClientId, RandomSource, RoundId

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from secfl.he.parallel import ParallelEncryptor

__all__ = ["PaillierClient"]


class PaillierClient:
    """Encrypts one client's updates under the decryptor's public key.

    Args:
        public_key: the decryptor's Paillier public key.
        config: the shared parameters.
        client_id: this client's identifier.
        signing_key: the client's Ed25519 identity key (from the deployment);
            ``None`` sends unsigned inputs.
        obfuscator: source of obfuscators: an
            :class:`~secfl.crypto.paillier.ObfuscatorPool` to use precomputed
            ones, a :class:`~secfl.crypto.paillier.StandardObfuscator` for
            textbook ``r^n``, or ``None`` for the process-wide fixed-base table.
            With ``config.prove_inputs`` it must be able to open its
            obfuscators (all three can).
        rng: randomness for stochastic rounding, obfuscators and proofs (OS
            CSPRNG by default).
        parallel: an opt-in :class:`~secfl.he.parallel.ParallelEncryptor` that
            spreads the encryptions (and proof commitments) over worker processes.
        clock: an injected monotonic clock (e.g. ``time.perf_counter``) that
            meters proof generation (:attr:`proof_seconds`); this module reads
            no clock of its own.

    Raises:
        ConfigurationError: if the key does not match the configuration, a
            key object has the wrong type, or ``config.prove_inputs`` is set
            without a signing key or with an obfuscator that cannot be opened.
    """

    __slots__ = (
        "_clock",
        "_obfuscator",
        "_parallel",
        "_proof_seconds",
        "_rng",
        "_signing_key",
        "client_id",
        "config",
        "public_key",
    )

    def __init__(
        self,
        public_key: PaillierPublicKey,
        config: PaillierConfig,
        client_id: ClientId | int,
        *,
        signing_key: Ed25519PrivateKey | None = None,
        obfuscator: Obfuscator | None = None,
        rng: RandomSource | None = None,
        parallel: ParallelEncryptor | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not isinstance(public_key, PaillierPublicKey):
            raise ConfigurationError("public_key must be a PaillierPublicKey")
        config.check_key(public_key)
        if not isinstance(client_id, int) or isinstance(client_id, bool) or client_id < 0:
            raise ConfigurationError(f"client_id must be a non-negative integer, got {client_id!r}")
        if client_id >= 1 << 64:
            raise ConfigurationError("client_id must fit in 64 bits")
        if obfuscator is not None and obfuscator.public_key != public_key:
            raise ConfigurationError("the obfuscator belongs to a different key")
        if parallel is not None and parallel.public_key != public_key:
            raise ConfigurationError("the parallel encryptor belongs to a different key")
        self.public_key = public_key
        self.config = config
        self.client_id = ClientId(client_id)
        self._signing_key = (
            None if signing_key is None else _signatures.check_signing_key(signing_key)
        )
        if config.prove_inputs:
            # paillier.md §7.4: a proof is bound to the signer; unsigned, it binds nothing.
            if signing_key is None:
                raise ConfigurationError("prove_inputs needs a signing key (signed inputs)")
            if (
                obfuscator is not None
                and parallel is None
                and not (
                    isinstance(obfuscator, OpenableObfuscator)
                    and isinstance(obfuscator.form, RandomnessForm)
                )
            ):
                raise ConfigurationError("prove_inputs needs an obfuscator that can be opened")
            try:
                paillier_pok.check_key(public_key)
            except CryptoError as exc:
                raise ConfigurationError(str(exc)) from exc
        self._obfuscator = obfuscator
        self._parallel = parallel
        self._rng = default_rng(rng) if rng is None else rng
        self._clock = clock
        self._proof_seconds = 0.0

    def __repr__(self) -> str:
        return (
            f"PaillierClient(client_id={self.client_id}, key={self.public_key.key_id.hex()},"
            f" signed={self._signing_key is not None})"
        )

    @property
    def signed(self) -> bool:
        """Whether this client signs its inputs."""
        return self._signing_key is not None

    @property
    def prove_inputs(self) -> bool:
        """Whether this client attaches proofs of plaintext knowledge (``config.prove_inputs``)."""
        return self.config.prove_inputs

    @property
    def proof_seconds(self) -> float:
        """Seconds spent proving plaintext knowledge so far (commit and respond).

        Measured with the injected ``clock``; ``0.0`` without one or without
        ``config.prove_inputs``. Part of the time of :meth:`encrypt`.
        """
        return self._proof_seconds

    def quantize(
        self, update: ArrayLike, weight: float | None = None
    ) -> tuple[NDArray[np.int64], int | None]:
        """Clip, weight and stochastically round an update.

        Args:
            update: the update ``x`` (length ``config.dimension``, finite).
            weight: ``w`` in ``[0, max_weight]`` (weighted configs only).

        Returns:
            The quantised coordinates (``w * x`` when weighted) in ``[-M, M]``
            and the quantised weight (``None`` when unweighted).

        Raises:
            InvalidInputError: on a wrong shape, NaN/Inf, or an invalid weight.
        """
        cfg = self.config
        x = np.asarray(update, dtype=np.float64)
        if x.shape != (cfg.dimension,):
            raise InvalidInputError(f"update must have shape ({cfg.dimension},), got {x.shape}")
        if not np.all(np.isfinite(x)):
            raise InvalidInputError("update holds NaN or infinite values")
        if cfg.weights is None:
            if weight is not None:
                raise InvalidInputError("this configuration is unweighted; pass weight=None")
            return cfg.values.quantize(x, self._rng), None
        if weight is None:
            raise InvalidInputError("this configuration is weighted; pass a weight")
        assert cfg.max_weight is not None
        w = float(weight)
        if not (math.isfinite(w) and 0.0 <= w <= cfg.max_weight):
            raise InvalidInputError(f"weight must lie in [0, {cfg.max_weight}], got {weight!r}")
        weighted = np.clip(x, -cfg.clip, cfg.clip) * w
        q = cfg.values.quantize(weighted, self._rng)
        qw = int(cfg.weights.quantize(np.array([w]), self._rng)[0])
        return q, qw

    def slots(self, quantized: ArrayLike, weight: int | None = None) -> NDArray[np.uint64]:
        """Lay quantised values out in slots: ``q + M``, then the weight, then the counter 1.

        Raises:
            InvalidInputError: if a value lies outside ``[-M, M]`` or the weight
                outside ``[0, M_w]`` (it could overflow a slot of the sum).
        """
        cfg = self.config
        q = np.asarray(quantized)
        if q.shape != (cfg.dimension,) or q.dtype.kind not in "iu":
            raise InvalidInputError(f"quantised update must be {cfg.dimension} integers")
        q = q.astype(np.int64)
        m = cfg.offset
        # paillier.md INV-4 (client side): each slot stays within its per-client bound.
        if q.size and (int(q.min()) < -m or int(q.max()) > m):
            raise InvalidInputError(f"quantised values must lie in [-{m}, {m}]")
        out = np.empty(cfg.num_slots, dtype=np.uint64)
        out[: cfg.dimension] = (q + m).astype(np.uint64)
        if cfg.weights is not None:
            if weight is None or not isinstance(weight, int | np.integer):
                raise InvalidInputError("a weighted configuration needs an integer weight")
            if not 0 <= int(weight) <= cfg.weights.max_magnitude:
                raise InvalidInputError(
                    f"quantised weight must lie in [0, {cfg.weights.max_magnitude}]"
                )
            out[cfg.dimension] = int(weight)
        elif weight is not None:
            raise InvalidInputError("this configuration is unweighted; pass weight=None")
        out[cfg.counter_index] = 1  # paillier.md §3: the counter slot
        return out

    def encrypt(
        self, update: ArrayLike, *, round: RoundId | int, weight: float | None = None
    ) -> EncryptedInput:
        """Quantise, pack, encrypt (and sign) an update for ``round``.

        Args:
            update: the clipped update (float vector of length ``dimension``).
            round: the round number (bound into the message and the signature).
            weight: the client's weight (weighted configurations only).

        Returns:
            The :class:`EncryptedInput` to send to the aggregator.

        Raises:
            InvalidInputError: on an invalid update or weight.
        """
        q, qw = self.quantize(update, weight)
        return self.encrypt_quantized(q, round=round, weight=qw)

    def encrypt_quantized(
        self, quantized: ArrayLike, *, round: RoundId | int, weight: int | None = None
    ) -> EncryptedInput:
        """Encrypt already quantised integers (e.g. after adding integer DP noise).

        Args:
            quantized: ``dimension`` integers in ``[-M, M]`` (``M = config.offset``).
            round: the round number.
            weight: the quantised weight in ``[0, M_w]`` (weighted configurations only).

        Raises:
            InvalidInputError: if a value is out of range.
        """
        if not isinstance(round, int) or isinstance(round, bool) or not 0 <= round < 1 << 64:
            raise InvalidInputError("round must be an integer in [0, 2^64)")
        plaintexts = self.config.packer.pack(self.slots(quantized, weight))
        size = self.public_key.ciphertext_size
        if not self.config.prove_inputs:
            ciphertexts = self._encrypt_plaintexts(plaintexts)
            msg = EncryptedInput(
                key_id=self.public_key.key_id,
                layout_id=self.config.layout_id,
                round=RoundId(round),
                client=self.client_id,
                ciphertext_size=size,
                ciphertexts=b"".join(int(c).to_bytes(size, "big") for c in ciphertexts),
            )
        else:
            msg = self._encrypt_and_prove(plaintexts, RoundId(round))
        if self._signing_key is not None:
            signature = _signatures.sign(self._signing_key, msg.body())
            msg = dataclasses.replace(msg, signature=signature)
        return msg

    def _encrypt_plaintexts(self, plaintexts: list[int]) -> list[Any]:
        key = self.public_key
        if self._parallel is not None:
            return self._parallel.encrypt(plaintexts, self._rng)
        source = self._obfuscator if self._obfuscator is not None else shared_fixed_base(key)
        obfuscators = source.draw(len(plaintexts), self._rng)
        return [key.encrypt_raw(m, r) for m, r in zip(plaintexts, obfuscators, strict=True)]

    def _encrypt_and_prove(self, plaintexts: list[int], round: RoundId) -> EncryptedInput:
        """Encrypt keeping the openings, then prove plaintext knowledge (paillier.md §4.1)."""
        key = self.public_key
        size = key.ciphertext_size
        form: RandomnessForm
        if self._parallel is not None:
            ciphertexts, openings = self._parallel.encrypt_opened(plaintexts, self._rng)
            form = RandomnessForm.FIXED_BASE
            powers: paillier_pok.PowerFn | None = self._parallel.powers
        else:
            source = self._obfuscator if self._obfuscator is not None else shared_fixed_base(key)
            assert isinstance(source, OpenableObfuscator)  # checked in __init__
            assert source.form is not None
            form = source.form
            obfuscators, openings = source.draw_opened(len(plaintexts), self._rng)
            ciphertexts = [
                key.encrypt_raw(m, r) for m, r in zip(plaintexts, obfuscators, strict=True)
            ]
            powers = None
        start = self._clock() if self._clock is not None else 0.0
        unproved = EncryptedInput(
            key_id=key.key_id,
            layout_id=self.config.layout_id,
            round=round,
            client=self.client_id,
            ciphertext_size=size,
            ciphertexts=b"".join(int(c).to_bytes(size, "big") for c in ciphertexts),
        )
        proof = paillier_pok.prove(
            key,
            form,
            plaintexts,
            openings,
            ciphertexts,
            unproved.proof_context(),
            self._rng,
            powers=powers,
        )
        proved = dataclasses.replace(unproved, proof_form=int(form), proof=proof.to_bytes(size))
        if self._clock is not None:
            self._proof_seconds += self._clock() - start
        return proved
