"""Typed, versioned messages of secure aggregation (secagg.md §Messages).

Every message is a frozen, slotted, keyword-only dataclass that validates its
fields when it is built (so a decoded message is always well formed) and has
a canonical byte encoding: ``encode()`` and the class method ``decode(data)``
are exact inverses, and every message has exactly one encoding (lists are
strictly increasing by client id, lengths are fixed or prefixed, no trailing
bytes). All integers are little-endian.

Common header (50 bytes)::

    version   u8    PROTOCOL_VERSION (2)
    type      u8    MessageType
    session   32B   RoundContext.session_id
    round     u64   RoundContext.round_id
    party     u64   the sender (client -> server) or receiver (server -> client)

Client -> server: :class:`AdvertiseKeys`, :class:`ShareKeys`,
:class:`MaskedInput`, :class:`ConsistencyCheck`, :class:`Unmask`.
Server -> client: :class:`ShareKeysRequest`, :class:`MaskedInputRequest`,
:class:`ConsistencyCheckRequest`, :class:`UnmaskRequest`.

Any malformed input raises :class:`~secfl.errors.MalformedMessageError`
(carrying the party id when the header could be read), never another
exception type.
"""

from __future__ import annotations

import enum
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias, TypeVar

import numpy as np
from numpy.typing import NDArray

from secfl.crypto.aead import OVERHEAD
from secfl.crypto.shamir import LIMBS, PRIME, SHARE_SIZE
from secfl.crypto.signature import SIGNATURE_SIZE
from secfl.crypto.x25519 import KEY_SIZE
from secfl.errors import MalformedMessageError
from secfl.secagg.labels import PROTOCOL_VERSION
from secfl.secagg.params import MAX_CLIENT_ID, SESSION_ID_SIZE
from secfl.types import ClientId

__all__ = [
    "CIPHERTEXT_SIZE",
    "COMMITMENT_SIZE",
    "HEADER_SIZE",
    "AdvertiseKeys",
    "AdvertisedKeys",
    "ClientMessage",
    "ConsistencyCheck",
    "ConsistencyCheckRequest",
    "EncryptedShare",
    "MaskedInput",
    "MaskedInputRequest",
    "Message",
    "MessageType",
    "RevealedShare",
    "ServerMessage",
    "ShareKeys",
    "ShareKeysRequest",
    "SignedSurvivors",
    "Unmask",
    "UnmaskRequest",
    "decode_message",
]

SHARE_PLAINTEXT_SIZE = 2 * SHARE_SIZE  # bytes: b-share || s^SK-share
CIPHERTEXT_SIZE = SHARE_PLAINTEXT_SIZE + OVERHEAD  # bytes: nonce || ct || tag = 100
COMMITMENT_SIZE = 32  # bytes: SHA-256
_HEADER = struct.Struct("<BB32sQQ")
HEADER_SIZE = _HEADER.size  # 50 bytes
_U8 = struct.Struct("<B")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_MAX_WORDS = 2**40  # sanity bound on a vector length field


class MessageType(enum.IntEnum):
    """The type byte of each message."""

    ADVERTISE_KEYS = 1
    SHARE_KEYS_REQUEST = 2
    SHARE_KEYS = 3
    MASKED_INPUT_REQUEST = 4
    MASKED_INPUT = 5
    CONSISTENCY_CHECK_REQUEST = 6
    CONSISTENCY_CHECK = 7
    UNMASK_REQUEST = 8
    UNMASK = 9


# --------------------------------------------------------------------------- helpers


def _fail(what: str, party: int | None = None) -> MalformedMessageError:
    return MalformedMessageError(f"malformed SecAgg message: {what}", peer=party)


def _check_bytes(name: str, value: object, size: int | None, party: int | None) -> None:
    if not isinstance(value, bytes):
        raise _fail(f"{name} must be bytes", party)
    if size is not None and len(value) != size:
        raise _fail(f"{name} must be {size} bytes", party)


def _check_id(name: str, value: object, party: int | None = None) -> None:
    # type() rather than isinstance(): bool and other int subclasses are not ids.
    if type(value) is not int or not 0 <= value <= MAX_CLIENT_ID:
        raise _fail(f"{name} must be a uint64", party)


def _check_header(msg: Any, party_field: str) -> int:
    party = getattr(msg, party_field)
    _check_id(party_field, party)
    _check_bytes("session_id", msg.session_id, SESSION_ID_SIZE, party)
    _check_id("round_id", msg.round_id, party)
    return int(party)


# The server builds one request per client around the same survivor tuple; the
# tuple is immutable, so validating it once per object (identity, not equality)
# is enough. Entries hold a reference, so an id is never reused while cached.
# A lock keeps the cache consistent when messages are built from several threads.
_VALIDATED_IDS: dict[int, tuple[int, ...]] = {}
_VALIDATED_LOCK = threading.Lock()


def _check_increasing(name: str, ids: Sequence[int], party: int | None) -> None:
    if not isinstance(ids, tuple):
        raise _fail(f"{name} must be a tuple", party)
    if len(ids) > 64:
        with _VALIDATED_LOCK:
            if _VALIDATED_IDS.get(id(ids)) is ids:
                return
    previous = -1
    for value in ids:
        if type(value) is not int or value <= previous or value > MAX_CLIENT_ID:
            raise _fail(f"{name} must be strictly increasing uint64 client ids", party)
        previous = value
    if len(ids) > 64:
        with _VALIDATED_LOCK:
            while len(_VALIDATED_IDS) >= 8:
                _VALIDATED_IDS.pop(next(iter(_VALIDATED_IDS)))
            _VALIDATED_IDS[id(ids)] = ids


def _header(msg: Any, party: int) -> bytes:
    return _HEADER.pack(PROTOCOL_VERSION, msg.TYPE, msg.session_id, msg.round_id, party)


def _ids(ids: Sequence[int]) -> bytes:
    return _U32.pack(len(ids)) + np.asarray(ids, dtype="<u8").tobytes()


class _Reader:
    """Bounds-checked cursor over a message's bytes."""

    __slots__ = ("data", "party", "pos")

    def __init__(self, data: bytes, party: int | None) -> None:
        self.data = data
        self.pos = HEADER_SIZE
        self.party = party

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise _fail("truncated", self.party)
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return int(_U8.unpack(self.take(1))[0])

    def u32(self) -> int:
        return int(_U32.unpack(self.take(4))[0])

    def u64(self) -> int:
        return int(_U64.unpack(self.take(8))[0])

    def count(self, item_size: int) -> int:
        n = self.u32()
        if n * item_size > len(self.data) - self.pos:
            raise _fail("list length exceeds the message", self.party)
        return n

    def ids(self) -> tuple[ClientId, ...]:
        n = self.count(8)
        raw = np.frombuffer(self.take(8 * n), dtype="<u8")
        return tuple(raw.tolist())

    def finish(self) -> None:
        if self.pos != len(self.data):
            raise _fail("trailing bytes", self.party)


def _parse_header(data: bytes, expected: MessageType | None) -> tuple[MessageType, bytes, int, int]:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise _fail("expected bytes")
    if len(data) < HEADER_SIZE:
        raise _fail("shorter than the header")
    version, kind, session, round_id, party = _HEADER.unpack_from(data, 0)
    if version != PROTOCOL_VERSION:
        raise _fail(f"unsupported version {version}", party)
    try:
        mtype = MessageType(kind)
    except ValueError:
        raise _fail(f"unknown message type {kind}", party) from None
    if expected is not None and mtype is not expected:
        raise _fail(f"expected {expected.name}, got {mtype.name}", party)
    return mtype, bytes(session), int(round_id), int(party)


def _wrap(cls: type[_M], party: int, **fields: Any) -> _M:
    """Build a decoded message, turning field-validation errors into MalformedMessageError."""
    try:
        return cls(**fields)
    except MalformedMessageError:
        raise
    except (TypeError, ValueError) as exc:  # pragma: no cover - validators raise the above
        raise _fail(str(exc), party) from exc


_M = TypeVar("_M")


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True, kw_only=True)
class AdvertisedKeys:
    """One client's advertised public keys as relayed by the server.

    Attributes:
        client: the advertising client.
        c_pk: X25519 public key for share encryption (c_u^PK).
        s_pk: X25519 public key for pairwise masks (s_u^PK).
        signature: Ed25519 signature (malicious mode) or empty.
    """

    SIZE: ClassVar[int] = 8 + 2 * KEY_SIZE + 1  # without the signature

    client: ClientId
    c_pk: bytes
    s_pk: bytes
    signature: bytes = b""

    def __post_init__(self) -> None:
        _check_id("client", self.client)
        _check_bytes("c_pk", self.c_pk, KEY_SIZE, self.client)
        _check_bytes("s_pk", self.s_pk, KEY_SIZE, self.client)
        _check_bytes("signature", self.signature, None, self.client)
        if len(self.signature) not in (0, SIGNATURE_SIZE):
            raise _fail("signature must be empty or 64 bytes", self.client)

    def encode(self) -> bytes:
        """Encode as ``client u64 | c_pk | s_pk | sig_len u8 | signature``."""
        return (
            _U64.pack(self.client)
            + self.c_pk
            + self.s_pk
            + _U8.pack(len(self.signature))
            + self.signature
        )

    @classmethod
    def read(cls, reader: _Reader) -> AdvertisedKeys:
        client = reader.u64()
        c_pk = reader.take(KEY_SIZE)
        s_pk = reader.take(KEY_SIZE)
        signature = reader.take(reader.u8())
        return _wrap(
            cls, client, client=ClientId(client), c_pk=c_pk, s_pk=s_pk, signature=signature
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class EncryptedShare:
    """An AES-GCM box with one client's two Shamir shares for another client.

    Attributes:
        peer: the receiver (in :class:`ShareKeys`) or the sender (in
            :class:`MaskedInputRequest`).
        ciphertext: ``CIPHERTEXT_SIZE`` bytes.
    """

    SIZE: ClassVar[int] = 8 + CIPHERTEXT_SIZE

    peer: ClientId
    ciphertext: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_id("peer", self.peer)
        _check_bytes("ciphertext", self.ciphertext, CIPHERTEXT_SIZE, self.peer)

    def encode(self) -> bytes:
        """Encode as ``peer u64 | ciphertext``."""
        return _U64.pack(self.peer) + self.ciphertext

    @classmethod
    def read(cls, reader: _Reader) -> EncryptedShare:
        peer = reader.u64()
        return _wrap(cls, peer, peer=ClientId(peer), ciphertext=reader.take(CIPHERTEXT_SIZE))


@dataclass(frozen=True, slots=True, kw_only=True)
class RevealedShare:
    """A share of one owner's secret revealed to the server at Unmasking.

    Attributes:
        owner: whose secret this is a share of.
        share: ``SHARE_SIZE`` bytes (``LIMBS`` little-endian field elements).
    """

    SIZE: ClassVar[int] = 8 + SHARE_SIZE

    owner: ClientId
    share: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_id("owner", self.owner)
        _check_bytes("share", self.share, SHARE_SIZE, self.owner)
        words = np.frombuffer(self.share, dtype="<u4")
        if int(words.max()) >= PRIME:
            raise _fail("share word is not a field element", self.owner)

    def words(self) -> NDArray[np.uint32]:
        """Return the share's ``LIMBS`` field elements."""
        return np.frombuffer(self.share, dtype="<u4").astype(np.uint32).reshape(LIMBS)

    def encode(self) -> bytes:
        """Encode as ``owner u64 | share``."""
        return _U64.pack(self.owner) + self.share

    @classmethod
    def read(cls, reader: _Reader) -> RevealedShare:
        owner = reader.u64()
        return _wrap(cls, owner, owner=ClientId(owner), share=reader.take(SHARE_SIZE))


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedSurvivors:
    """A client's Ed25519 signature over the survivor set (ConsistencyCheck)."""

    SIZE: ClassVar[int] = 8 + SIGNATURE_SIZE

    signer: ClientId
    signature: bytes

    def __post_init__(self) -> None:
        _check_id("signer", self.signer)
        _check_bytes("signature", self.signature, SIGNATURE_SIZE, self.signer)

    def encode(self) -> bytes:
        """Encode as ``signer u64 | signature``."""
        return _U64.pack(self.signer) + self.signature

    @classmethod
    def read(cls, reader: _Reader) -> SignedSurvivors:
        signer = reader.u64()
        return _wrap(cls, signer, signer=ClientId(signer), signature=reader.take(SIGNATURE_SIZE))


def _check_records(name: str, records: object, key: str, cls: type, party: int) -> None:
    if not isinstance(records, tuple):
        raise _fail(f"{name} must be a tuple", party)
    previous = -1
    for record in records:
        if not isinstance(record, cls):
            raise _fail(f"{name} entries must be {cls.__name__}", party)
        value = getattr(record, key)
        if value <= previous:
            raise _fail(f"{name} must be strictly increasing by {key}", party)
        previous = value


def _read_records(reader: _Reader, cls: Any) -> tuple[Any, ...]:
    n = reader.count(cls.SIZE)
    return tuple(cls.read(reader) for _ in range(n))


def _records(records: Sequence[Any]) -> bytes:
    return _U32.pack(len(records)) + b"".join(r.encode() for r in records)


# --------------------------------------------------------------------------- client -> server


@dataclass(frozen=True, slots=True, kw_only=True)
class AdvertiseKeys:
    """Stage AdvertiseKeys, client -> server: the client's two public keys.

    Layout: header | c_pk 32B | s_pk 32B | sig_len u8 (0 or 64) | signature.
    """

    TYPE: ClassVar[MessageType] = MessageType.ADVERTISE_KEYS

    session_id: bytes
    round_id: int
    sender: ClientId
    c_pk: bytes
    s_pk: bytes
    signature: bytes = b""

    def __post_init__(self) -> None:
        party = _check_header(self, "sender")
        AdvertisedKeys(client=self.sender, c_pk=self.c_pk, s_pk=self.s_pk, signature=self.signature)
        del party

    def keys(self) -> AdvertisedKeys:
        """Return the relayable record of these keys."""
        return AdvertisedKeys(
            client=self.sender, c_pk=self.c_pk, s_pk=self.s_pk, signature=self.signature
        )

    def encode(self) -> bytes:
        """Return the canonical encoding."""
        return _header(self, self.sender) + self.keys().encode()[8:]

    @classmethod
    def decode(cls, data: bytes) -> AdvertiseKeys:
        """Parse an encoding. Raises MalformedMessageError."""
        _, session, round_id, party = _parse_header(data, cls.TYPE)
        r = _Reader(bytes(data), party)
        c_pk, s_pk = r.take(KEY_SIZE), r.take(KEY_SIZE)
        signature = r.take(r.u8())
        r.finish()
        return _wrap(
            cls,
            party,
            session_id=session,
            round_id=round_id,
            sender=ClientId(party),
            c_pk=c_pk,
            s_pk=s_pk,
            signature=signature,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ShareKeys:
    """Stage ShareKeys, client -> server: encrypted shares for each holder.

    Layout: header | commitment 32B | count u32 | count x (receiver u64 | box 100B).
    """

    TYPE: ClassVar[MessageType] = MessageType.SHARE_KEYS

    session_id: bytes
    round_id: int
    sender: ClientId
    commitment: bytes
    shares: tuple[EncryptedShare, ...]

    def __post_init__(self) -> None:
        party = _check_header(self, "sender")
        _check_bytes("commitment", self.commitment, COMMITMENT_SIZE, party)
        _check_records("shares", self.shares, "peer", EncryptedShare, party)

    def encode(self) -> bytes:
        """Return the canonical encoding."""
        return _header(self, self.sender) + self.commitment + _records(self.shares)

    @classmethod
    def decode(cls, data: bytes) -> ShareKeys:
        """Parse an encoding. Raises MalformedMessageError."""
        _, session, round_id, party = _parse_header(data, cls.TYPE)
        r = _Reader(bytes(data), party)
        commitment = r.take(COMMITMENT_SIZE)
        shares = _read_records(r, EncryptedShare)
        r.finish()
        return _wrap(
            cls,
            party,
            session_id=session,
            round_id=round_id,
            sender=ClientId(party),
            commitment=commitment,
            shares=shares,
        )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class MaskedInput:
    """Stage MaskedInputCollection, client -> server: the masked vector y_u.

    Layout: header | bits u8 | length u64 | length words (u32 if bits <= 32,
    else u64), each below 2^bits.
    """

    TYPE: ClassVar[MessageType] = MessageType.MASKED_INPUT

    session_id: bytes
    round_id: int
    sender: ClientId
    bits: int
    masked: NDArray[np.unsignedinteger[Any]] = field(repr=False)

    def __post_init__(self) -> None:
        party = _check_header(self, "sender")
        if (
            isinstance(self.bits, bool)
            or not isinstance(self.bits, int)
            or not 2 <= self.bits <= 64
        ):
            raise _fail("bits must be in [2, 64]", party)
        dtype = np.dtype("<u4") if self.bits <= 32 else np.dtype("<u8")
        arr = self.masked
        if not isinstance(arr, np.ndarray) or arr.ndim != 1 or arr.size == 0:
            raise _fail("masked must be a non-empty 1-D array", party)
        if arr.dtype != dtype:
            raise _fail(f"masked words must be {dtype}", party)
        if self.bits not in (32, 64) and bool((arr >> np.asarray(self.bits, arr.dtype)).any()):
            raise _fail("a masked word exceeds 2^bits", party)
        if arr.flags.writeable:
            arr = arr.view()
            arr.flags.writeable = False
            object.__setattr__(self, "masked", arr)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MaskedInput):
            return NotImplemented
        return (
            self.session_id == other.session_id
            and self.round_id == other.round_id
            and self.sender == other.sender
            and self.bits == other.bits
            and self.masked.dtype == other.masked.dtype
            and np.array_equal(self.masked, other.masked)
        )

    __hash__ = None  # type: ignore[assignment]

    def encode(self) -> bytes:
        """Return the canonical encoding."""
        # One copy of the (possibly large) vector: join reads it through the buffer protocol.
        return b"".join(
            (
                _header(self, self.sender),
                _U8.pack(self.bits),
                _U64.pack(self.masked.size),
                np.ascontiguousarray(self.masked, dtype=self.masked.dtype.newbyteorder("<")).data,
            )
        )

    @classmethod
    def decode(cls, data: bytes) -> MaskedInput:
        """Parse an encoding (the vector is a zero-copy view). Raises MalformedMessageError."""
        _, session, round_id, party = _parse_header(data, cls.TYPE)
        buf = bytes(data) if not isinstance(data, bytes) else data
        r = _Reader(buf, party)
        bits = r.u8()
        length = r.u64()
        if not 2 <= bits <= 64:
            raise _fail("bits must be in [2, 64]", party)
        word = 4 if bits <= 32 else 8
        if length == 0 or length > _MAX_WORDS or r.pos + length * word != len(buf):
            raise _fail("vector length disagrees with the message size", party)
        masked = np.frombuffer(buf, dtype="<u4" if word == 4 else "<u8", count=length, offset=r.pos)
        return _wrap(
            cls,
            party,
            session_id=session,
            round_id=round_id,
            sender=ClientId(party),
            bits=bits,
            masked=masked,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsistencyCheck:
    """Stage ConsistencyCheck, client -> server: signature over the survivor set.

    Layout: header | signature 64B.
    """

    TYPE: ClassVar[MessageType] = MessageType.CONSISTENCY_CHECK

    session_id: bytes
    round_id: int
    sender: ClientId
    signature: bytes

    def __post_init__(self) -> None:
        party = _check_header(self, "sender")
        _check_bytes("signature", self.signature, SIGNATURE_SIZE, party)

    def encode(self) -> bytes:
        """Return the canonical encoding."""
        return _header(self, self.sender) + self.signature

    @classmethod
    def decode(cls, data: bytes) -> ConsistencyCheck:
        """Parse an encoding. Raises MalformedMessageError."""
        _, session, round_id, party = _parse_header(data, cls.TYPE)
        r = _Reader(bytes(data), party)
        signature = r.take(SIGNATURE_SIZE)
        r.finish()
        return _wrap(
            cls,
            party,
            session_id=session,
            round_id=round_id,
            sender=ClientId(party),
            signature=signature,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Unmask:
    """Stage Unmasking, client -> server: b-shares of survivors, s^SK-shares of dropped.

    Layout: header | count u32 | count x (owner u64 | share 36B) [b-shares]
    | count u32 | count x (owner u64 | share 36B) [s^SK-shares].
    """

    TYPE: ClassVar[MessageType] = MessageType.UNMASK

    session_id: bytes
    round_id: int
    sender: ClientId
    b_shares: tuple[RevealedShare, ...]
    sk_shares: tuple[RevealedShare, ...]

    def __post_init__(self) -> None:
        party = _check_header(self, "sender")
        _check_records("b_shares", self.b_shares, "owner", RevealedShare, party)
        _check_records("sk_shares", self.sk_shares, "owner", RevealedShare, party)
        # secagg.md INV-1: never both shares of one owner (also checked by the server).
        if {s.owner for s in self.b_shares} & {s.owner for s in self.sk_shares}:
            raise _fail("both shares of one owner revealed", party)

    def encode(self) -> bytes:
        """Return the canonical encoding."""
        return _header(self, self.sender) + _records(self.b_shares) + _records(self.sk_shares)

    @classmethod
    def decode(cls, data: bytes) -> Unmask:
        """Parse an encoding. Raises MalformedMessageError."""
        _, session, round_id, party = _parse_header(data, cls.TYPE)
        r = _Reader(bytes(data), party)
        b_shares = _read_records(r, RevealedShare)
        sk_shares = _read_records(r, RevealedShare)
        r.finish()
        return _wrap(
            cls,
            party,
            session_id=session,
            round_id=round_id,
            sender=ClientId(party),
            b_shares=b_shares,
            sk_shares=sk_shares,
        )


# --------------------------------------------------------------------------- server -> client


@dataclass(frozen=True, slots=True, kw_only=True)
class ShareKeysRequest:
    """Stage ShareKeys, server -> client: the advertised keys of its holders.

    Layout: header | count u32 | count x AdvertisedKeys
    (client u64 | c_pk 32B | s_pk 32B | sig_len u8 | signature), increasing by client.
    """

    TYPE: ClassVar[MessageType] = MessageType.SHARE_KEYS_REQUEST

    session_id: bytes
    round_id: int
    receiver: ClientId
    keys: tuple[AdvertisedKeys, ...]

    def __post_init__(self) -> None:
        party = _check_header(self, "receiver")
        _check_records("keys", self.keys, "client", AdvertisedKeys, party)

    def encode(self) -> bytes:
        """Return the canonical encoding."""
        return _header(self, self.receiver) + _records(self.keys)

    @classmethod
    def decode(cls, data: bytes) -> ShareKeysRequest:
        """Parse an encoding. Raises MalformedMessageError."""
        _, session, round_id, party = _parse_header(data, cls.TYPE)
        r = _Reader(bytes(data), party)
        keys = _read_records(r, AdvertisedKeys)
        r.finish()
        return _wrap(
            cls,
            party,
            session_id=session,
            round_id=round_id,
            receiver=ClientId(party),
            keys=keys,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MaskedInputRequest:
    """Stage MaskedInputCollection, server -> client: the boxes addressed to it.

    Layout: header | count u32 | count x (sender u64 | box 100B), increasing by sender.
    """

    TYPE: ClassVar[MessageType] = MessageType.MASKED_INPUT_REQUEST

    session_id: bytes
    round_id: int
    receiver: ClientId
    shares: tuple[EncryptedShare, ...]

    def __post_init__(self) -> None:
        party = _check_header(self, "receiver")
        _check_records("shares", self.shares, "peer", EncryptedShare, party)

    def encode(self) -> bytes:
        """Return the canonical encoding."""
        return _header(self, self.receiver) + _records(self.shares)

    @classmethod
    def decode(cls, data: bytes) -> MaskedInputRequest:
        """Parse an encoding. Raises MalformedMessageError."""
        _, session, round_id, party = _parse_header(data, cls.TYPE)
        r = _Reader(bytes(data), party)
        shares = _read_records(r, EncryptedShare)
        r.finish()
        return _wrap(
            cls,
            party,
            session_id=session,
            round_id=round_id,
            receiver=ClientId(party),
            shares=shares,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsistencyCheckRequest:
    """Stage ConsistencyCheck, server -> client: the survivor set U3.

    Layout: header | count u32 | count x client u64 (strictly increasing).
    """

    TYPE: ClassVar[MessageType] = MessageType.CONSISTENCY_CHECK_REQUEST

    session_id: bytes
    round_id: int
    receiver: ClientId
    survivors: tuple[ClientId, ...]

    def __post_init__(self) -> None:
        party = _check_header(self, "receiver")
        _check_increasing("survivors", self.survivors, party)

    def encode(self) -> bytes:
        """Return the canonical encoding."""
        return _header(self, self.receiver) + _ids(self.survivors)

    @classmethod
    def decode(cls, data: bytes) -> ConsistencyCheckRequest:
        """Parse an encoding. Raises MalformedMessageError."""
        _, session, round_id, party = _parse_header(data, cls.TYPE)
        r = _Reader(bytes(data), party)
        survivors = r.ids()
        r.finish()
        return _wrap(
            cls,
            party,
            session_id=session,
            round_id=round_id,
            receiver=ClientId(party),
            survivors=survivors,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class UnmaskRequest:
    """Stage Unmasking, server -> client: who survived, who dropped, and proofs.

    Layout: header | survivors (count u32 | ids u64...) | dropped (count u32 |
    ids u64...) | signatures (count u32 | (signer u64 | sig 64B)...); every
    list strictly increasing. ``dropped`` lists only owners whose shares the
    receiver holds; ``signatures`` is empty outside the malicious variant.
    """

    TYPE: ClassVar[MessageType] = MessageType.UNMASK_REQUEST

    session_id: bytes
    round_id: int
    receiver: ClientId
    survivors: tuple[ClientId, ...]
    dropped: tuple[ClientId, ...]
    signatures: tuple[SignedSurvivors, ...] = ()

    def __post_init__(self) -> None:
        party = _check_header(self, "receiver")
        _check_increasing("survivors", self.survivors, party)
        _check_increasing("dropped", self.dropped, party)
        _check_records("signatures", self.signatures, "signer", SignedSurvivors, party)

    def encode(self) -> bytes:
        """Return the canonical encoding."""
        return (
            _header(self, self.receiver)
            + _ids(self.survivors)
            + _ids(self.dropped)
            + _records(self.signatures)
        )

    @classmethod
    def decode(cls, data: bytes) -> UnmaskRequest:
        """Parse an encoding. Raises MalformedMessageError."""
        _, session, round_id, party = _parse_header(data, cls.TYPE)
        r = _Reader(bytes(data), party)
        survivors = r.ids()
        dropped = r.ids()
        signatures = _read_records(r, SignedSurvivors)
        r.finish()
        return _wrap(
            cls,
            party,
            session_id=session,
            round_id=round_id,
            receiver=ClientId(party),
            survivors=survivors,
            dropped=dropped,
            signatures=signatures,
        )


ClientMessage: TypeAlias = AdvertiseKeys | ShareKeys | MaskedInput | ConsistencyCheck | Unmask
ServerMessage: TypeAlias = (
    ShareKeysRequest | MaskedInputRequest | ConsistencyCheckRequest | UnmaskRequest
)
Message: TypeAlias = ClientMessage | ServerMessage

_BY_TYPE: dict[MessageType, Any] = {
    MessageType.ADVERTISE_KEYS: AdvertiseKeys,
    MessageType.SHARE_KEYS_REQUEST: ShareKeysRequest,
    MessageType.SHARE_KEYS: ShareKeys,
    MessageType.MASKED_INPUT_REQUEST: MaskedInputRequest,
    MessageType.MASKED_INPUT: MaskedInput,
    MessageType.CONSISTENCY_CHECK_REQUEST: ConsistencyCheckRequest,
    MessageType.CONSISTENCY_CHECK: ConsistencyCheck,
    MessageType.UNMASK_REQUEST: UnmaskRequest,
    MessageType.UNMASK: Unmask,
}


def decode_message(data: bytes) -> Message:
    """Decode any SecAgg message by its type byte.

    Raises:
        MalformedMessageError: if ``data`` is not the canonical encoding of a message.
    """
    mtype, _, _, _ = _parse_header(data, None)
    result: Message = _BY_TYPE[mtype].decode(data)
    return result
