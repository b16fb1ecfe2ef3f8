"""Parameters and public round context of secure aggregation (secagg.md §Parameters).

:class:`SecAggParams` is the deployment's choice (number of clients, threshold,
word size, graph, threat model); :class:`RoundContext` is the public data every
party of one run must agree on (session id, round, roster, vector length);
:class:`IdentityPKI` maps clients to the Ed25519 keys a deployment certifies.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from secfl.crypto.shamir import PRIME
from secfl.crypto.signature import VerifyKey
from secfl.encoding import word_dtype
from secfl.errors import ConfigurationError, CryptoError, UnexpectedMessageError
from secfl.types import ClientId, RoundId

__all__ = [
    "MAX_CLIENT_ID",
    "SESSION_ID_SIZE",
    "GraphKind",
    "IdentityPKI",
    "RoundContext",
    "SecAggParams",
    "Stage",
    "default_degree",
]

SESSION_ID_SIZE = 32  # bytes
MAX_CLIENT_ID = 2**64 - 1  # client ids travel as uint64


class Stage(enum.Enum):
    """The protocol stages, named as in Bonawitz et al. (CCS 2017, Fig. 4)."""

    ADVERTISE_KEYS = "AdvertiseKeys"
    SHARE_KEYS = "ShareKeys"
    MASKED_INPUT_COLLECTION = "MaskedInputCollection"
    CONSISTENCY_CHECK = "ConsistencyCheck"
    UNMASKING = "Unmasking"

    @property
    def code(self) -> int:
        """The stage's byte in associated data and signatures (0..4)."""
        return _STAGE_CODES[self]

    @classmethod
    def parse(cls, value: Stage | str) -> Stage:
        """Return the stage named ``value`` (its spec name, e.g. ``"ShareKeys"``).

        Raises:
            ConfigurationError: if no stage has that name.
        """
        if isinstance(value, Stage):
            return value
        for stage in cls:
            if value in (stage.value, stage.name):
                return stage
        raise ConfigurationError(
            f"unknown SecAgg stage {value!r}; expected one of {[s.value for s in cls]}"
        )


_STAGE_CODES = {stage: code for code, stage in enumerate(Stage)}


class GraphKind(enum.Enum):
    """Who shares keys and masks with whom."""

    COMPLETE = "complete"
    """Every pair of clients: the original SecAgg (Bonawitz et al., CCS 2017)."""

    HARARY = "harary"
    """A Harary graph H(k, n) on a publicly random order: SecAgg+ (Bell et al., CCS 2020)."""


def default_degree(num_clients: int) -> int:
    """The SecAgg+ degree ``k``: the even number ``2 * ceil(log2 n)``, below ``n``.

    Bell et al. (CCS 2020, §3-4) show that a random graph of degree O(log n)
    keeps every client's input hidden among its neighbours' masks and survives
    a constant fraction of dropouts with overwhelming probability; their
    concrete parameters grow like a small multiple of log2 n, which is the
    default here (n = 100 -> 14, n = 1000 -> 20). Deployments with a different
    dropout or corruption budget pass ``degree`` explicitly.
    """
    if num_clients < 2:
        raise ConfigurationError("SecAgg needs at least 2 clients")
    degree = 2 * math.ceil(math.log2(num_clients))
    largest_even = (num_clients - 1) - ((num_clients - 1) % 2)
    return max(2, min(degree, largest_even))


@dataclass(frozen=True, slots=True, kw_only=True)
class SecAggParams:
    """Secure-aggregation parameters (secagg.md §Parameters).

    Args:
        num_clients: n, the number of clients in the roster (>= 2).
        threshold: t, the number of shares needed to reconstruct a client's
            secret, counted among its holders (all n clients for the complete
            graph, its ``degree`` neighbours and itself for SecAgg+). ``None``
            (default) picks ``floor(holders / 2) + 1``.
        bits: k, the word size of Z_(2^k), 2..64 (uint32 words up to 32 bits,
            uint64 above).
        graph: ``"complete"`` (SecAgg) or ``"harary"`` (SecAgg+).
        degree: number of neighbours of each client in the Harary graph (even,
            2..n-1); ``None`` picks :func:`default_degree`. Ignored (and set to
            n - 1) for the complete graph.
        malicious: the malicious-server variant (default): Ed25519 signatures
            on advertised keys, the ConsistencyCheck round and t > holders/2.
        corrupt: c, how many clients of any holder set may collude with the
            server (secagg.md §9.2, A4). The default threshold becomes
            ``floor((holders + c) / 2) + 1``; the malicious variant requires
            ``2t > holders + c`` and every variant ``t > c`` (c corrupted holders
            alone never reach a secret). 0 (default) assumes no collusion.

    Raises:
        ConfigurationError: if a value is out of range or unsafe.
    """

    num_clients: int
    threshold: int | None = None
    bits: int = 32
    graph: GraphKind | str = GraphKind.COMPLETE
    degree: int | None = None
    malicious: bool = True
    corrupt: int = 0

    def __post_init__(self) -> None:
        n = self.num_clients
        if isinstance(n, bool) or not isinstance(n, int) or n < 2:
            raise ConfigurationError("num_clients must be an integer >= 2")
        if n >= PRIME:
            raise ConfigurationError("num_clients must be below the Shamir field size")
        try:
            graph = GraphKind(self.graph)
        except ValueError as exc:
            raise ConfigurationError(f"unknown graph kind {self.graph!r}") from exc
        object.__setattr__(self, "graph", graph)
        word_dtype(self.bits)  # validates 2 <= bits <= 64
        if graph is GraphKind.COMPLETE:
            if self.degree not in (None, n - 1):
                raise ConfigurationError("the complete graph has degree num_clients - 1")
            degree = n - 1
        else:
            degree = default_degree(n) if self.degree is None else self.degree
            if isinstance(degree, bool) or not isinstance(degree, int):
                raise ConfigurationError("degree must be an integer")
            if degree < 2 or degree > n - 1 or degree % 2:
                raise ConfigurationError(
                    "the Harary degree must be even and in [2, num_clients - 1]"
                )
        object.__setattr__(self, "degree", degree)
        holders = degree + 1
        c = self.corrupt
        if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < holders:
            raise ConfigurationError(
                f"corrupt must be an integer in [0, {holders - 1}] (fewer than the holders)"
            )
        threshold = (holders + c) // 2 + 1 if self.threshold is None else self.threshold
        if isinstance(threshold, bool) or not isinstance(threshold, int):
            raise ConfigurationError("threshold must be an integer")
        if not 1 <= threshold <= holders:
            raise ConfigurationError(f"threshold must be in [1, {holders}] (the holders)")
        if threshold <= c:
            # secagg.md §9.1: c colluding holders must not reach a secret on their own.
            raise ConfigurationError(f"threshold must exceed corrupt = {c}")
        if self.malicious and 2 * threshold <= holders + c:
            # secagg.md INV-6 and (A4): t > (holders + c) / 2 against a malicious server.
            raise ConfigurationError(
                "the malicious-server variant needs threshold > (holders + corrupt) / 2"
                f" = {(holders + c) / 2}"
            )
        object.__setattr__(self, "threshold", threshold)
        if not isinstance(self.malicious, bool):
            raise ConfigurationError("malicious must be a bool")

    @property
    def t(self) -> int:
        """The resolved threshold t."""
        assert self.threshold is not None  # resolved in __post_init__
        return self.threshold

    @property
    def k(self) -> int:
        """The resolved graph degree (n - 1 for the complete graph)."""
        assert self.degree is not None  # resolved in __post_init__
        return self.degree

    @property
    def holders(self) -> int:
        """How many clients hold shares of each client's secrets (degree + 1)."""
        return self.k + 1

    @property
    def graph_kind(self) -> GraphKind:
        """The resolved graph kind."""
        return GraphKind(self.graph)

    @property
    def dtype(self) -> np.dtype[Any]:
        """The numpy word type of inputs and masked vectors."""
        return word_dtype(self.bits)


@dataclass(frozen=True, slots=True, kw_only=True)
class RoundContext:
    """The public context of one protocol run; identical at every party.

    Args:
        session_id: 32 bytes, unique per run (e.g. a hash of the federation id
            and the round number); salts every key derivation.
        round_id: the training round.
        roster: the sampled clients (distinct ids). Stored sorted; a client's
            Shamir evaluation point is its index in the sorted roster plus one.
        vector_length: d, the number of words in every input.

    Raises:
        ConfigurationError: on a malformed value.
    """

    session_id: bytes
    round_id: RoundId
    roster: tuple[ClientId, ...]
    vector_length: int
    _index: Mapping[ClientId, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.session_id, bytes) or len(self.session_id) != SESSION_ID_SIZE:
            raise ConfigurationError(f"session_id must be {SESSION_ID_SIZE} bytes")
        if not 0 <= int(self.round_id) <= MAX_CLIENT_ID:
            raise ConfigurationError("round_id must be a uint64")
        roster = tuple(sorted(ClientId(int(c)) for c in self.roster))
        if len(set(roster)) != len(roster):
            raise ConfigurationError("roster ids must be distinct")
        if roster and not 0 <= roster[0] <= roster[-1] <= MAX_CLIENT_ID:
            raise ConfigurationError("client ids must be uint64")
        if self.vector_length < 1:
            raise ConfigurationError("vector_length must be >= 1")
        object.__setattr__(self, "roster", roster)
        object.__setattr__(self, "_index", {c: i for i, c in enumerate(roster)})

    def point(self, client: ClientId) -> int:
        """Return the client's Shamir x-coordinate (1-based roster index).

        Raises:
            UnexpectedMessageError: if the client is not in the roster.
        """
        try:
            return self._index[client] + 1
        except KeyError:
            raise UnexpectedMessageError("client is not in the roster", peer=client) from None

    def __contains__(self, client: object) -> bool:
        return client in self._index


class IdentityPKI:
    """The deployment's certified Ed25519 identity keys, one per client.

    Args:
        keys: client id -> 32-byte public key (or :class:`VerifyKey`).

    Raises:
        ConfigurationError: if a key is malformed.
    """

    __slots__ = ("_keys",)

    def __init__(self, keys: Mapping[int, bytes | VerifyKey]) -> None:
        parsed: dict[ClientId, VerifyKey] = {}
        for client, key in keys.items():
            try:
                parsed[ClientId(int(client))] = (
                    key if isinstance(key, VerifyKey) else VerifyKey(key)
                )
            except CryptoError as exc:
                raise ConfigurationError(f"identity key of client {client} is invalid") from exc
        self._keys = parsed

    def verify_key(self, client: ClientId) -> VerifyKey:
        """Return ``client``'s identity key.

        Raises:
            UnexpectedMessageError: if the PKI has no key for ``client``.
        """
        try:
            return self._keys[client]
        except KeyError:
            raise UnexpectedMessageError("no identity key for client", peer=client) from None

    def covers(self, clients: Iterable[ClientId]) -> bool:
        """Return whether every client in ``clients`` has a key."""
        return all(c in self._keys for c in clients)

    def __repr__(self) -> str:
        return f"IdentityPKI({len(self._keys)} clients)"
