"""The aggregator role: multiply ciphertexts, never decrypt (paillier.md §6.2).

Theory of operation: the aggregator holds only the public key. It checks each
:class:`~secfl.he.messages.EncryptedInput` against the key, layout and round
(INV-1, INV-2, INV-3), rejects repeated clients or repeated ciphertexts
(INV-6), checks every ciphertext is in range and coprime to ``n`` (INV-5),
checks that an input carries a proof of plaintext knowledge exactly when the
configuration asks for one (INV-12; the decryptor verifies it), and
multiplies the inputs slot-wise mod ``n^2``. It never re-randomises: each
summand costs one modular multiplication per ciphertext.

Coprimality is checked once per input on the product of its ciphertexts: a
prime factor of ``n`` divides the product (mod ``n^2``) if and only if it
divides one of the factors, so one ``gcd`` replaces one per ciphertext.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import gmpy2

from secfl.crypto.paillier import PaillierPublicKey
from secfl.errors import (
    ConfigurationError,
    InvalidInputError,
    InvariantViolationError,
    LocalProtocolError,
    MalformedMessageError,
    ThresholdNotMetError,
    UnexpectedMessageError,
)
from secfl.he import _signatures
from secfl.he.config import PaillierConfig
from secfl.he.messages import EncryptedAggregate, EncryptedInput
from secfl.types import ClientId, RoundId

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = ["PaillierAggregator", "check_proof_presence", "parse_ciphertexts"]


def parse_ciphertexts(
    msg: EncryptedInput | EncryptedAggregate,
    key: PaillierPublicKey,
    config: PaillierConfig,
    *,
    peer: object,
) -> list[Any]:
    """Validate a message's binding and ciphertexts; return them as mpz values.

    Checks, in order: key id (INV-1), layout id (INV-2), ciphertext size and
    count, every ciphertext in ``[1, n^2)`` and coprime to ``n`` (INV-5).

    Raises:
        MalformedMessageError: on any failed check (``peer`` is attributed).
    """
    if msg.key_id != key.key_id:
        raise MalformedMessageError("message is for a different Paillier key (INV-1)", peer=peer)
    if msg.layout_id != config.layout_id:
        raise MalformedMessageError("message uses a different packing layout (INV-2)", peer=peer)
    if msg.ciphertext_size != key.ciphertext_size:
        raise MalformedMessageError(
            f"ciphertexts must be {key.ciphertext_size} bytes (INV-5)", peer=peer
        )
    if msg.count != config.num_ciphertexts:
        raise MalformedMessageError(
            f"expected {config.num_ciphertexts} ciphertexts, got {msg.count}", peer=peer
        )
    nsq = key._nsquare
    values = [gmpy2.mpz(v) for v in msg.ciphertext_values()]
    product = gmpy2.mpz(1)
    for c in values:
        # paillier.md INV-5: 0 < c < n^2 ...
        if not 0 < c < nsq:
            raise MalformedMessageError("ciphertext out of range [1, n^2) (INV-5)", peer=peer)
        product = product * c % nsq
    # ... and gcd(c, n) = 1 for every c, checked at once on the product.
    if gmpy2.gcd(product, key._n) != 1:
        raise MalformedMessageError("ciphertext not coprime to n (INV-5)", peer=peer)
    return values


def check_proof_presence(msg: EncryptedInput, config: PaillierConfig, *, peer: object) -> None:
    """An input carries a proof of plaintext knowledge iff ``config.prove_inputs`` (INV-12).

    Only presence is checked here (the decoder already checked the proof's
    length); :class:`~secfl.he.decryptor.Decryptor` verifies it.

    Raises:
        InvariantViolationError: a proof is required and missing (INV-12).
        MalformedMessageError: a proof is attached although the configuration has none.
    """
    if config.prove_inputs and not msg.has_proof:
        raise InvariantViolationError(
            "input carries no proof of plaintext knowledge (INV-12)", peer=peer
        )
    if not config.prove_inputs and msg.has_proof:
        raise MalformedMessageError(
            "input carries a proof but the configuration has prove_inputs off", peer=peer
        )


class PaillierAggregator:
    """Adds encrypted inputs; holds only the public key.

    Args:
        public_key: the decryptor's public key.
        config: the shared parameters.
        forward_inputs: attach the inputs to the aggregate so the decryptor
            can verify signatures and recompute the product (required when the
            decryptor has client keys). Forwarded inputs must be signed.
        client_keys: optional Ed25519 public keys of the clients; when given,
            the aggregator verifies signatures itself and rejects bad inputs
            early, attributing them to the client.

    Raises:
        ConfigurationError: if the key does not match the configuration.
    """

    __slots__ = ("_client_keys", "config", "forward_inputs", "public_key")

    def __init__(
        self,
        public_key: PaillierPublicKey,
        config: PaillierConfig,
        *,
        forward_inputs: bool = False,
        client_keys: Mapping[ClientId, Ed25519PublicKey] | None = None,
    ) -> None:
        if not isinstance(public_key, PaillierPublicKey):
            raise ConfigurationError("public_key must be a PaillierPublicKey")
        config.check_key(public_key)
        self.public_key = public_key
        self.config = config
        self.forward_inputs = bool(forward_inputs)
        self._client_keys = _signatures.check_verify_keys(client_keys)

    def __repr__(self) -> str:
        return (
            f"PaillierAggregator(key={self.public_key.key_id.hex()},"
            f" forward_inputs={self.forward_inputs})"
        )

    def aggregate(
        self,
        inputs: Iterable[EncryptedInput | bytes],
        *,
        round: RoundId | int,
        bucket: int = 0,
    ) -> EncryptedAggregate:
        """Multiply the inputs of one bucket of ``round`` into an aggregate.

        Args:
            inputs: :class:`EncryptedInput` objects or their encodings.
            round: the round the inputs must belong to (INV-3).
            bucket: which sum of the round this is (0 without bucketing).

        Returns:
            The :class:`EncryptedAggregate` for the decryptor.

        Raises:
            MalformedMessageError: an input cannot be decoded or fails INV-1/2/5.
            UnexpectedMessageError: an input belongs to another round (INV-3).
            InvariantViolationError: a client or a ciphertext appears twice
                (INV-6), a signature is missing or invalid (INV-8), or a
                required proof of plaintext knowledge is missing (INV-12).
            ThresholdNotMetError: fewer than ``min_contributors`` inputs.
            LocalProtocolError: more than ``max_clients`` inputs.
        """
        if not isinstance(round, int) or isinstance(round, bool) or not 0 <= round < 1 << 64:
            raise InvalidInputError("round must be an integer in [0, 2^64)")
        if not isinstance(bucket, int) or isinstance(bucket, bool) or not 0 <= bucket < 1 << 32:
            raise InvalidInputError("bucket must be an integer in [0, 2^32)")
        key, cfg = self.public_key, self.config
        seen_clients: set[int] = set()
        seen_digests: set[bytes] = set()
        accepted: list[EncryptedInput] = []
        acc: list[Any] | None = None
        nsq = key._nsquare
        for raw in inputs:
            msg = raw if isinstance(raw, EncryptedInput) else EncryptedInput.decode(raw)
            peer = msg.client
            if msg.round != round:
                raise UnexpectedMessageError(
                    f"input for round {msg.round} in round {round} (INV-3)", peer=peer
                )
            if msg.client in seen_clients:
                raise InvariantViolationError("client submitted twice (INV-6)", peer=peer)
            digest = msg.digest()
            if digest in seen_digests:
                raise InvariantViolationError(
                    "ciphertexts identical to another input's (INV-6)", peer=peer
                )
            if self._client_keys is not None:
                verify_key = self._client_keys.get(msg.client)
                if verify_key is None:
                    raise InvariantViolationError("input from an unregistered client", peer=peer)
                _signatures.verify(verify_key, msg.body(), msg.signature, peer=peer)
            elif self.forward_inputs and msg.signature is None:
                raise InvariantViolationError("input is not signed (INV-8)", peer=peer)
            if len(accepted) >= cfg.max_clients:
                raise LocalProtocolError(
                    f"more than max_clients = {cfg.max_clients} inputs in one aggregate"
                )
            values = parse_ciphertexts(msg, key, cfg, peer=peer)
            check_proof_presence(msg, cfg, peer=peer)
            seen_clients.add(msg.client)
            seen_digests.add(digest)
            accepted.append(msg)
            acc = values if acc is None else [a * c % nsq for a, c in zip(acc, values, strict=True)]
        if acc is None or len(accepted) < cfg.min_contributors:
            raise ThresholdNotMetError(
                f"{len(accepted)} inputs, fewer than min_contributors = {cfg.min_contributors}"
            )
        accepted.sort(key=lambda m: m.client)
        size = key.ciphertext_size
        return EncryptedAggregate(
            key_id=key.key_id,
            layout_id=cfg.layout_id,
            round=RoundId(int(round)),
            bucket=bucket,
            contributors=tuple(m.client for m in accepted),
            ciphertext_size=size,
            ciphertexts=b"".join(int(c).to_bytes(size, "big") for c in acc),
            inputs=tuple(accepted) if self.forward_inputs else (),
        )
