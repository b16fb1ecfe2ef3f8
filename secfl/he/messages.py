"""Wire messages of packed Paillier aggregation (spec: protocols/paillier.md §5).

Two messages travel between the roles:

* :class:`EncryptedInput`, client -> aggregator (and forwarded to the
  decryptor when signatures are on);
* :class:`EncryptedAggregate`, aggregator -> decryptor.

Both are frozen dataclasses that validate their own shape in
``__post_init__`` and have a versioned byte encoding (``encode`` / ``decode``).
Integers are big-endian; ciphertexts are fixed-length big-endian integers of
``2 * key_bits / 8`` bytes. Checks that need the key (range, coprimality,
proof verification) are done by the receiving role, which holds the key.

Format version 2 (paillier.md §5) adds, inside the signed body of an
:class:`EncryptedInput`, an optional proof of plaintext knowledge
(:mod:`secfl.crypto.paillier_pok`); version 1 encodings are refused.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field

from secfl.crypto.paillier import RandomnessForm
from secfl.crypto.paillier_pok import proof_size
from secfl.errors import CryptoError, MalformedMessageError
from secfl.types import ClientId, RoundId

__all__ = [
    "MESSAGE_VERSION",
    "PROOF_NONE",
    "SIGNATURE_SIZE",
    "EncryptedAggregate",
    "EncryptedInput",
    "MessageType",
]

MESSAGE_VERSION = 2  # 2: proof-of-plaintext-knowledge field in EncryptedInput
PROOF_NONE = 0  # proof form byte of an input without a proof
SIGNATURE_SIZE = 64  # bytes: Ed25519
_ID_SIZE = 16  # bytes: key id and layout id
_U64_MAX = (1 << 64) - 1
_U32_MAX = (1 << 32) - 1


class MessageType:
    """Message type bytes (second byte of every encoding)."""

    ENCRYPTED_INPUT = 0x01
    ENCRYPTED_AGGREGATE = 0x02


_HEADER = struct.Struct(">BB16s16sQ")  # version, type, key_id, layout_id, round
_INPUT_FIXED = struct.Struct(">QHI")  # client, ciphertext_size, count
_AGG_FIXED = struct.Struct(">II")  # bucket, number of contributors


def _check_id(name: str, value: object) -> None:
    if not isinstance(value, bytes) or len(value) != _ID_SIZE:
        raise MalformedMessageError(f"{name} must be {_ID_SIZE} bytes")


def _check_uint(name: str, value: object, limit: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
        raise MalformedMessageError(f"{name} must be an integer in [0, {limit}]")


def _check_ciphertexts(size: object, blob: object) -> None:
    _check_uint("ciphertext_size", size, 0xFFFF)
    assert isinstance(size, int)
    if size < 1:
        raise MalformedMessageError("ciphertext_size must be positive")
    if not isinstance(blob, bytes) or len(blob) == 0 or len(blob) % size:
        raise MalformedMessageError("ciphertexts must be a non-empty multiple of ciphertext_size")
    if len(blob) // size > _U32_MAX:
        raise MalformedMessageError("too many ciphertexts")


class _Reader:
    """Strict big-endian reader: every read is bounds-checked, trailing bytes are refused."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise MalformedMessageError("message is truncated")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def header(self, expected_type: int) -> tuple[bytes, bytes, int]:
        """Read the common header; return ``(key_id, layout_id, round)``."""
        version, mtype = self.uint(1), self.uint(1)
        if version != MESSAGE_VERSION:
            raise MalformedMessageError(f"unsupported message version {version}")
        if mtype != expected_type:
            raise MalformedMessageError(f"expected message type {expected_type}, got {mtype}")
        return self.take(_ID_SIZE), self.take(_ID_SIZE), self.uint(8)

    def done(self) -> None:
        if self.pos != len(self.data):
            raise MalformedMessageError("message has trailing bytes")


def _check_proof(form: object, proof: object, ciphertext_size: int, count: int) -> None:
    if not isinstance(form, int) or isinstance(form, bool):
        raise MalformedMessageError("proof_form must be an integer")
    if form == PROOF_NONE:
        if proof != b"":
            raise MalformedMessageError("an input without a proof form must carry no proof bytes")
        return
    if form not in tuple(RandomnessForm):
        raise MalformedMessageError(f"unknown proof form {form}")
    if not isinstance(proof, bytes):
        raise MalformedMessageError("proof must be bytes")
    try:
        expected = proof_size(form, ciphertext_size, count)
    except CryptoError as exc:
        raise MalformedMessageError(
            f"no proof layout for {ciphertext_size}-byte ciphertexts"
        ) from exc
    if len(proof) != expected:
        raise MalformedMessageError(f"proof must be {expected} bytes, got {len(proof)}")


def _as_bytes(data: object) -> bytes:
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    raise MalformedMessageError("message must be bytes")


@dataclass(frozen=True, slots=True, kw_only=True)
class EncryptedInput:
    """A client's packed, encrypted update for one round.

    Attributes:
        key_id: id of the Paillier key the ciphertexts are under.
        layout_id: id of the :class:`~secfl.he.config.PaillierConfig` layout.
        round: the round this input belongs to.
        client: the sending client.
        ciphertext_size: bytes per ciphertext (``2 * key_bits / 8``).
        ciphertexts: the concatenated fixed-length ciphertexts.
        proof_form: ``PROOF_NONE`` (0), or the
            :class:`~secfl.crypto.paillier.RandomnessForm` of the ciphertexts
            whose proof of plaintext knowledge follows (paillier.md §4.1).
        proof: the serialised :class:`~secfl.crypto.paillier_pok.PlaintextProof`
            (empty without a proof); its length follows from the form, the
            ciphertext size and the count.
        signature: Ed25519 signature by the client's identity key over
            ``LABEL_INPUT_SIGNATURE || body()``, or ``None`` when unsigned.
    """

    key_id: bytes
    layout_id: bytes
    round: RoundId
    client: ClientId
    ciphertext_size: int
    ciphertexts: bytes = field(repr=False)
    proof_form: int = PROOF_NONE
    proof: bytes = field(default=b"", repr=False)
    signature: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        _check_id("key_id", self.key_id)
        _check_id("layout_id", self.layout_id)
        _check_uint("round", self.round, _U64_MAX)
        _check_uint("client", self.client, _U64_MAX)
        _check_ciphertexts(self.ciphertext_size, self.ciphertexts)
        _check_proof(self.proof_form, self.proof, self.ciphertext_size, self.count)
        if self.signature is not None and (
            not isinstance(self.signature, bytes) or len(self.signature) != SIGNATURE_SIZE
        ):
            raise MalformedMessageError(f"signature must be {SIGNATURE_SIZE} bytes")

    @property
    def count(self) -> int:
        """Number of ciphertexts."""
        return len(self.ciphertexts) // self.ciphertext_size

    def ciphertext_bytes(self, i: int) -> bytes:
        """The ``i``-th serialised ciphertext."""
        s = self.ciphertext_size
        return self.ciphertexts[i * s : (i + 1) * s]

    def ciphertext_values(self) -> list[int]:
        """The ciphertexts as integers (unvalidated)."""
        s = self.ciphertext_size
        blob = self.ciphertexts
        return [int.from_bytes(blob[i : i + s], "big") for i in range(0, len(blob), s)]

    def digest(self) -> bytes:
        """SHA-256 of the ciphertexts (detects the same ciphertexts submitted twice)."""
        return hashlib.sha256(self.ciphertexts).digest()

    @property
    def has_proof(self) -> bool:
        """Whether the input carries a proof of plaintext knowledge."""
        return self.proof_form != PROOF_NONE

    def proof_context(self) -> bytes:
        """The binding data of the proof's challenge (paillier.md §4.1).

        ``layout_id || I2OSP(round, 8) || I2OSP(client, 8)``; the proof also
        hashes the key and every ciphertext, so it holds only for this signer,
        this round and these ciphertexts.
        """
        return self.layout_id + struct.pack(">QQ", self.round, self.client)

    def body(self) -> bytes:
        """The encoding without the signature trailer (what the signature covers)."""
        return b"".join(
            [
                _HEADER.pack(
                    MESSAGE_VERSION,
                    MessageType.ENCRYPTED_INPUT,
                    self.key_id,
                    self.layout_id,
                    self.round,
                ),
                _INPUT_FIXED.pack(self.client, self.ciphertext_size, self.count),
                self.ciphertexts,
                bytes([self.proof_form]),
                self.proof,
            ]
        )

    def encode(self) -> bytes:
        """Serialise (paillier.md §5.1)."""
        tail = b"\x00" if self.signature is None else b"\x01" + self.signature
        return self.body() + tail

    @property
    def encoded_size(self) -> int:
        """Length of :meth:`encode` in bytes, without encoding."""
        base = _HEADER.size + _INPUT_FIXED.size + len(self.ciphertexts) + 1 + len(self.proof) + 1
        return base + (0 if self.signature is None else SIGNATURE_SIZE)

    @classmethod
    def decode(cls, data: bytes, *, peer: object | None = None) -> EncryptedInput:
        """Parse an encoding produced by :meth:`encode`.

        Raises:
            MalformedMessageError: on a wrong version or type, a truncated or
                over-long encoding, or fields that fail validation.
        """
        reader = _Reader(_as_bytes(data))
        try:
            msg = cls._read(reader)
            reader.done()
        except MalformedMessageError as exc:
            exc.peer = peer
            raise
        return msg

    @classmethod
    def _read(cls, reader: _Reader) -> EncryptedInput:
        key_id, layout_id, round_ = reader.header(MessageType.ENCRYPTED_INPUT)
        client, size, count = reader.uint(8), reader.uint(2), reader.uint(4)
        if size < 1 or count < 1:
            raise MalformedMessageError("empty ciphertext list")
        blob = reader.take(size * count)
        form = reader.uint(1)
        proof = b""
        if form != PROOF_NONE:
            if form not in tuple(RandomnessForm):
                raise MalformedMessageError(f"unknown proof form {form}")
            try:
                proof = reader.take(proof_size(form, size, count))
            except CryptoError as exc:
                raise MalformedMessageError(f"no proof layout for {size}-byte ciphertexts") from exc
        flag = reader.take(1)
        if flag == b"\x00":
            signature = None
        elif flag == b"\x01":
            signature = reader.take(SIGNATURE_SIZE)
        else:
            raise MalformedMessageError("invalid signature flag")
        return cls(
            key_id=key_id,
            layout_id=layout_id,
            round=RoundId(round_),
            client=ClientId(client),
            ciphertext_size=size,
            ciphertexts=blob,
            proof_form=form,
            proof=proof,
            signature=signature,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class EncryptedAggregate:
    """The product of several clients' inputs, sent to the decryptor.

    Attributes:
        key_id: id of the Paillier key.
        layout_id: id of the packing layout.
        round: the round.
        bucket: which of the round's sums this is (0 without bucketing).
        contributors: the clients whose inputs were multiplied in, strictly increasing.
        ciphertext_size: bytes per ciphertext.
        ciphertexts: the aggregate ciphertexts, concatenated.
        inputs: the signed inputs themselves, in ``contributors`` order, when
            the decryptor checks signatures (paillier.md §6.2); empty otherwise.
    """

    key_id: bytes
    layout_id: bytes
    round: RoundId
    bucket: int
    contributors: tuple[ClientId, ...]
    ciphertext_size: int
    ciphertexts: bytes = field(repr=False)
    inputs: tuple[EncryptedInput, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        _check_id("key_id", self.key_id)
        _check_id("layout_id", self.layout_id)
        _check_uint("round", self.round, _U64_MAX)
        _check_uint("bucket", self.bucket, _U32_MAX)
        if not isinstance(self.contributors, tuple) or not self.contributors:
            raise MalformedMessageError("contributors must be a non-empty tuple")
        if len(self.contributors) > _U32_MAX:
            raise MalformedMessageError("too many contributors")
        for c in self.contributors:
            _check_uint("contributor", c, _U64_MAX)
        if any(a >= b for a, b in zip(self.contributors, self.contributors[1:], strict=False)):
            raise MalformedMessageError("contributors must be strictly increasing (no repeats)")
        _check_ciphertexts(self.ciphertext_size, self.ciphertexts)
        if not isinstance(self.inputs, tuple):
            raise MalformedMessageError("inputs must be a tuple")
        if self.inputs:
            if len(self.inputs) != len(self.contributors):
                raise MalformedMessageError("forwarded inputs must match the contributors")
            for inp, cid in zip(self.inputs, self.contributors, strict=True):
                if not isinstance(inp, EncryptedInput) or inp.client != cid:
                    raise MalformedMessageError("forwarded inputs must be in contributor order")

    @property
    def count(self) -> int:
        """Number of aggregate ciphertexts."""
        return len(self.ciphertexts) // self.ciphertext_size

    def ciphertext_values(self) -> list[int]:
        """The aggregate ciphertexts as integers (unvalidated)."""
        s = self.ciphertext_size
        blob = self.ciphertexts
        return [int.from_bytes(blob[i : i + s], "big") for i in range(0, len(blob), s)]

    def encode(self) -> bytes:
        """Serialise (paillier.md §5.2)."""
        parts = [
            _HEADER.pack(
                MESSAGE_VERSION,
                MessageType.ENCRYPTED_AGGREGATE,
                self.key_id,
                self.layout_id,
                self.round,
            ),
            _AGG_FIXED.pack(self.bucket, len(self.contributors)),
            struct.pack(f">{len(self.contributors)}Q", *self.contributors),
            struct.pack(">HI", self.ciphertext_size, self.count),
            self.ciphertexts,
            struct.pack(">I", len(self.inputs)),
        ]
        for inp in self.inputs:
            enc = inp.encode()
            parts.append(struct.pack(">I", len(enc)))
            parts.append(enc)
        return b"".join(parts)

    @property
    def encoded_size(self) -> int:
        """Length of :meth:`encode` in bytes, without encoding."""
        size = _HEADER.size + _AGG_FIXED.size + 8 * len(self.contributors) + 6
        size += len(self.ciphertexts) + 4
        return size + sum(4 + inp.encoded_size for inp in self.inputs)

    @classmethod
    def decode(cls, data: bytes, *, peer: object | None = None) -> EncryptedAggregate:
        """Parse an encoding produced by :meth:`encode`.

        Raises:
            MalformedMessageError: on any malformed, truncated or over-long encoding.
        """
        reader = _Reader(_as_bytes(data))
        try:
            key_id, layout_id, round_ = reader.header(MessageType.ENCRYPTED_AGGREGATE)
            bucket, k = reader.uint(4), reader.uint(4)
            ids = struct.unpack(f">{k}Q", reader.take(8 * k))  # take() checks the length first
            size, count = reader.uint(2), reader.uint(4)
            if size < 1 or count < 1:
                raise MalformedMessageError("empty ciphertext list")
            blob = reader.take(size * count)
            forwarded = reader.uint(4)
            if forwarded not in (0, k):
                raise MalformedMessageError("forwarded inputs must be none or one per contributor")
            inputs = []
            for _ in range(forwarded):
                length = reader.uint(4)
                inputs.append(EncryptedInput.decode(reader.take(length)))
            reader.done()
            return cls(
                key_id=key_id,
                layout_id=layout_id,
                round=RoundId(round_),
                bucket=bucket,
                contributors=tuple(ClientId(i) for i in ids),
                ciphertext_size=size,
                ciphertexts=blob,
                inputs=tuple(inputs),
            )
        except MalformedMessageError as exc:
            exc.peer = peer
            raise
