"""The SecAgg / SecAgg+ server state machine (secagg.md §State machine, §Algorithms).

Theory of operation. The server is a sans-I/O collector: in each state it
accepts one message type from the clients it sent a request to
(:meth:`SecAggServer.receive`), and :meth:`SecAggServer.advance` closes the
stage (the caller decides when: all replies in, or a deadline passed) and
returns the next stage's request for every live client. The accepted type and
the next state per state are the data tables ``_ACCEPTS`` and ``_NEXT``.

A client message that is malformed, unexpected, duplicated or fails
validation raises a typed error naming the client and *excludes* that client:
it counts as dropped at that stage and nothing it sent has any effect
(secagg.md INV-12). That keeps one bad client from aborting everyone while
still failing closed for that client. Misuse of the server itself
(:class:`~secfl.errors.LocalProtocolError`) and too few live clients
(:class:`~secfl.errors.ThresholdNotMetError`) move the server to ``ABORTED``.
Before any client is asked to reveal a share, the server checks that every
secret it will need has at least t live holders (secagg.md INV-11), so a
threshold failure reveals nothing.

Masked inputs are summed into one accumulator as they arrive, so the server
holds O(d) words whatever the number of clients.

In the malicious variant, each Unmask request carries, for every owner whose
shares the receiver holds, enough consistency signatures from that owner's
holders to reach t (secagg.md INV-7); the server picks them greedily, nearest
signers on the cycle first. With the default threshold and all of a client's
holders confirmed, that is exactly its own holders (k signatures).
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from secfl.crypto import shamir
from secfl.crypto.x25519 import X25519KeyPair
from secfl.errors import (
    ConfigurationError,
    CryptoError,
    InvariantViolationError,
    LocalProtocolError,
    MalformedMessageError,
    RemoteProtocolError,
    SecflError,
    ThresholdNotMetError,
    UnexpectedMessageError,
)
from secfl.secagg import _keys
from secfl.secagg._masking import apply_masks, reduce_bits
from secfl.secagg.graph import CommunicationGraph
from secfl.secagg.messages import (
    AdvertisedKeys,
    AdvertiseKeys,
    ClientMessage,
    ConsistencyCheck,
    ConsistencyCheckRequest,
    EncryptedShare,
    MaskedInput,
    MaskedInputRequest,
    ServerMessage,
    ShareKeys,
    ShareKeysRequest,
    SignedSurvivors,
    Unmask,
    UnmaskRequest,
    decode_message,
)
from secfl.secagg.params import IdentityPKI, RoundContext, SecAggParams, Stage
from secfl.types import ClientId, Secret

__all__ = ["SecAggServer", "ServerResult", "ServerState"]


class ServerState(enum.Enum):
    """The stage whose replies the server is collecting, or a terminal state."""

    ADVERTISE_KEYS = "AdvertiseKeys"
    SHARE_KEYS = "ShareKeys"
    MASKED_INPUT_COLLECTION = "MaskedInputCollection"
    CONSISTENCY_CHECK = "ConsistencyCheck"
    UNMASKING = "Unmasking"
    DONE = "done"
    ABORTED = "aborted"

    @property
    def stage(self) -> Stage:
        """The protocol stage of a collecting state."""
        return Stage(self.value)


_V = ServerState
_ACCEPTS: Final[Mapping[ServerState, type]] = {
    _V.ADVERTISE_KEYS: AdvertiseKeys,
    _V.SHARE_KEYS: ShareKeys,
    _V.MASKED_INPUT_COLLECTION: MaskedInput,
    _V.CONSISTENCY_CHECK: ConsistencyCheck,
    _V.UNMASKING: Unmask,
}
_NEXT: Final[Mapping[bool, Mapping[ServerState, ServerState]]] = {
    True: {  # malicious-server variant
        _V.ADVERTISE_KEYS: _V.SHARE_KEYS,
        _V.SHARE_KEYS: _V.MASKED_INPUT_COLLECTION,
        _V.MASKED_INPUT_COLLECTION: _V.CONSISTENCY_CHECK,
        _V.CONSISTENCY_CHECK: _V.UNMASKING,
        _V.UNMASKING: _V.DONE,
    },
    False: {  # honest-but-curious server
        _V.ADVERTISE_KEYS: _V.SHARE_KEYS,
        _V.SHARE_KEYS: _V.MASKED_INPUT_COLLECTION,
        _V.MASKED_INPUT_COLLECTION: _V.UNMASKING,
        _V.UNMASKING: _V.DONE,
    },
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerResult:
    """The output of a finished run.

    Attributes:
        total: sum of the contributors' inputs mod 2^k.
        contributors: U3, the clients whose inputs are in ``total``.
        dropped: for each stage, the clients that sent no valid reply to it.
        excluded: clients whose message failed validation, with the error type.
    """

    total: NDArray[np.unsignedinteger[Any]]
    contributors: frozenset[ClientId]
    dropped: Mapping[Stage, frozenset[ClientId]]
    excluded: Mapping[ClientId, str]


class SecAggServer:
    """The server of one secure-aggregation run.

    Args:
        params: protocol parameters, identical at every party.
        context: public round context, identical at every party.
        pki: the certified identity keys (malicious variant; used to discard
            badly signed advertisements and consistency signatures early).

    Raises:
        ConfigurationError: on inconsistent parameters or context.
    """

    def __init__(
        self,
        *,
        params: SecAggParams,
        context: RoundContext,
        pki: IdentityPKI | None = None,
    ) -> None:
        if len(context.roster) != params.num_clients:
            raise ConfigurationError("the roster size differs from params.num_clients")
        if params.malicious and (pki is None or not pki.covers(context.roster)):
            raise ConfigurationError("the malicious-server variant needs a PKI covering the roster")
        self.params = params
        self.context = context
        self._pki = pki
        self._graph = CommunicationGraph(params, context)
        self._digest = _keys.context_digest(params, context)
        self._next = _NEXT[params.malicious]
        self._state = ServerState.ADVERTISE_KEYS
        self._asked: frozenset[ClientId] = frozenset(context.roster)
        self._expected: set[ClientId] = set(context.roster)
        self._replied: set[ClientId] = set()
        self._excluded: dict[ClientId, str] = {}
        self._dropped: dict[Stage, frozenset[ClientId]] = {}
        self._keys: dict[ClientId, AdvertiseKeys] = {}
        self._records: dict[ClientId, AdvertisedKeys] = {}
        self._holders: dict[ClientId, frozenset[ClientId]] = {}
        self._shares: dict[ClientId, ShareKeys] = {}
        self._inbox: dict[ClientId, list[EncryptedShare]] = {}
        self._survivors: tuple[ClientId, ...] = ()
        self._survivor_set: frozenset[ClientId] = frozenset()
        self._encoded_survivors = b""
        self._signatures: dict[ClientId, bytes] = {}
        self._requested_unmask: dict[ClientId, UnmaskRequest] = {}
        self._unmask: dict[ClientId, Unmask] = {}
        self._acc = np.zeros(context.vector_length, dtype=params.dtype)
        self._result: ServerResult | None = None

    # ------------------------------------------------------------------ public API

    @property
    def state(self) -> ServerState:
        """The current state."""
        return self._state

    @property
    def expected(self) -> frozenset[ClientId]:
        """Clients from which a reply to the current stage is still accepted."""
        return frozenset(self._expected - self._replied)

    @property
    def excluded(self) -> Mapping[ClientId, str]:
        """Clients excluded for sending an invalid message, with the error type."""
        return dict(self._excluded)

    def receive(self, message: ClientMessage | bytes, *, sender: int | None = None) -> None:
        """Accept one client's reply to the current stage.

        Args:
            message: a client message, typed or as its byte encoding.
            sender: the client the transport authenticated as the sender, if the
                transport authenticates; it must equal the message's sender
                field, so a client cannot get another one excluded by sending
                garbage in its name.

        Raises:
            MalformedMessageError, UnexpectedMessageError, InvariantViolationError,
            CryptoError: the message is invalid; its sender (when known) is
                excluded from the rest of the run and the message has no effect.
            LocalProtocolError: the server is in a terminal state.
        """
        if self._state in (ServerState.DONE, ServerState.ABORTED):
            raise LocalProtocolError(f"the server is {self._state.value}")
        authenticated = None if sender is None else ClientId(int(sender))
        sender = authenticated
        try:
            if isinstance(message, bytes | bytearray | memoryview):
                decoded = decode_message(bytes(message))
            else:
                decoded = message
            if not isinstance(
                decoded, AdvertiseKeys | ShareKeys | MaskedInput | ConsistencyCheck | Unmask
            ):
                raise UnexpectedMessageError("the server accepts only client messages")
            if authenticated is not None and decoded.sender != authenticated:
                raise UnexpectedMessageError("sender field differs from the transport identity")
            sender = decoded.sender
            # secagg.md INV-10: session, round, stage and sender must all match.
            if not hmac.compare_digest(decoded.session_id, self.context.session_id):
                raise UnexpectedMessageError("message from another session", peer=sender)
            if decoded.round_id != int(self.context.round_id):
                raise UnexpectedMessageError("message from another round", peer=sender)
            if type(decoded) is not _ACCEPTS[self._state]:
                raise UnexpectedMessageError(
                    f"{type(decoded).__name__} is not accepted in stage {self._state.value}",
                    peer=sender,
                )
            if sender not in self._expected:
                raise UnexpectedMessageError("no request was sent to this client", peer=sender)
            if sender in self._replied:
                raise UnexpectedMessageError("duplicate reply", peer=sender)
            self._accept(decoded)
        except RemoteProtocolError as exc:
            if authenticated is not None:
                exc.peer = authenticated
            elif exc.peer is None and sender is not None:
                exc.peer = sender
            self._exclude(exc.peer, exc)
            raise
        except CryptoError as exc:
            self._exclude(sender, exc)
            raise
        assert sender is not None
        self._replied.add(sender)

    def advance(self) -> dict[ClientId, ServerMessage]:
        """Close the current stage and return the next stage's requests.

        Clients that did not reply count as dropped at this stage.

        Returns:
            The request for each live client (empty once the run is DONE; the
            sum is then available from :meth:`result`).

        Raises:
            ThresholdNotMetError: too few live clients to continue; nothing more
                is revealed and the server is ABORTED.
            LocalProtocolError: the server is in a terminal state.
        """
        if self._state in (ServerState.DONE, ServerState.ABORTED):
            raise LocalProtocolError(f"the server is {self._state.value}")
        stage = self._state.stage
        live = frozenset(self._replied)
        self._dropped[stage] = self._asked - live
        try:
            requests = self._build_next(live)
        except SecflError:
            self._state = ServerState.ABORTED
            self._acc = np.zeros(0, dtype=self.params.dtype)
            raise
        self._state = self._next[self._state]
        self._asked = frozenset(requests)
        self._expected = set(requests)
        self._replied = set()
        return requests

    def result(self) -> ServerResult:
        """Return the sum and its contributors.

        Raises:
            LocalProtocolError: if the run is not DONE.
        """
        if self._result is None:
            raise LocalProtocolError("the run has not finished")
        return self._result

    # ------------------------------------------------------------------ receiving

    def _exclude(self, client: object, exc: Exception) -> None:
        if isinstance(client, int) and client in self._expected and client not in self._replied:
            self._excluded[ClientId(client)] = type(exc).__name__
            self._expected.discard(ClientId(client))

    def _accept(self, msg: ClientMessage) -> None:
        if isinstance(msg, AdvertiseKeys):
            if self.params.malicious:
                assert self._pki is not None
                self._pki.verify_key(msg.sender).verify(
                    msg.signature,
                    _keys.advertise_payload(self._digest, msg.sender, msg.c_pk, msg.s_pk),
                )
            self._keys[msg.sender] = msg
            self._records[msg.sender] = msg.keys()
        elif isinstance(msg, ShareKeys):
            # The boxes must go to exactly the holders whose keys we relayed to the sender.
            wanted = self._holders_seen(msg.sender) - {msg.sender}
            if {box.peer for box in msg.shares} != wanted:
                raise InvariantViolationError(
                    "ShareKeys boxes do not match the sender's holders", peer=msg.sender
                )
            self._shares[msg.sender] = msg
        elif isinstance(msg, MaskedInput):
            if msg.bits != self.params.bits or msg.masked.size != self.context.vector_length:
                raise MalformedMessageError("masked input has the wrong shape", peer=msg.sender)
            np.add(self._acc, msg.masked, out=self._acc)
        elif isinstance(msg, ConsistencyCheck):
            assert self._pki is not None
            self._pki.verify_key(msg.sender).verify(
                msg.signature,
                _keys.consistency_payload(self._digest, msg.sender, self._encoded_survivors),
            )
            self._signatures[msg.sender] = msg.signature
        else:
            request = self._requested_unmask[msg.sender]
            b_owners = tuple(s.owner for s in msg.b_shares)
            sk_owners = tuple(s.owner for s in msg.sk_shares)
            wanted_b = tuple(sorted(self._survivor_set & self._held_by(msg.sender)))
            if b_owners != wanted_b or sk_owners != request.dropped:
                raise InvariantViolationError(
                    "Unmask shares do not match the request", peer=msg.sender
                )
            self._unmask[msg.sender] = msg

    # ------------------------------------------------------------------ advancing

    def _holders_of(self, client: ClientId) -> frozenset[ClientId]:
        holders = self._holders.get(client)
        if holders is None:
            holders = self._holders[client] = self._graph.holders(client)
        return holders

    def _holders_seen(self, client: ClientId) -> frozenset[ClientId]:
        """Holders of ``client`` that advertised keys (those it was told about)."""
        return self._holders_of(client) & self._keys.keys()

    def _held_by(self, client: ClientId) -> frozenset[ClientId]:
        """Owners whose shares ``client`` holds: itself and the senders forwarded to it."""
        return frozenset(box.peer for box in self._inbox.get(client, ())) | {client}

    def _need(self, count: int, what: str) -> None:
        if count < self.params.t:
            raise ThresholdNotMetError(
                f"secagg.md INV-11: only {count} live clients {what}; threshold t={self.params.t}"
            )

    def _build_next(self, live: frozenset[ClientId]) -> dict[ClientId, ServerMessage]:
        session, rnd = self.context.session_id, int(self.context.round_id)
        state = self._state
        if state is ServerState.ADVERTISE_KEYS:
            self._need(len(live), "advertised keys")
            return {
                u: ShareKeysRequest(
                    session_id=session,
                    round_id=rnd,
                    receiver=u,
                    keys=tuple(self._records[v] for v in sorted(self._holders_seen(u))),
                )
                for u in sorted(live)
            }
        if state is ServerState.SHARE_KEYS:
            self._need(len(live), "shared keys")
            inbox: dict[ClientId, list[EncryptedShare]] = {u: [] for u in live}
            for sender in sorted(live):
                for box in self._shares[sender].shares:
                    if box.peer in inbox:
                        inbox[box.peer].append(
                            EncryptedShare(peer=sender, ciphertext=box.ciphertext)
                        )
            self._inbox = inbox
            return {
                u: MaskedInputRequest(
                    session_id=session, round_id=rnd, receiver=u, shares=tuple(inbox[u])
                )
                for u in sorted(live)
            }
        if state is ServerState.MASKED_INPUT_COLLECTION:
            self._survivors = tuple(sorted(live))
            self._survivor_set = live
            self._encoded_survivors = _keys.encode_survivors(self._survivors)
            self._check_survivors(live)
            if self.params.malicious:
                return {
                    u: ConsistencyCheckRequest(
                        session_id=session, round_id=rnd, receiver=u, survivors=self._survivors
                    )
                    for u in self._survivors
                }
            self._check_reconstructible(live)
            return self._unmask_requests(live, {})
        if state is ServerState.CONSISTENCY_CHECK:
            self._need(len(live), "confirmed the survivor set")
            # Every owner a responder holds shares of is a needed secret, so this also
            # guarantees the t confirmations per held owner that INV-7 asks for.
            self._check_reconstructible(live)
            return self._unmask_requests(live, self._signatures)
        # UNMASKING: reconstruct and remove the masks.
        self._finish(live)
        return {}

    def _check_survivors(self, survivors: frozenset[ClientId]) -> None:
        """secagg.md INV-5 from the server's side: mirror the clients' refusal rule."""
        self._need(len(survivors), "sent masked inputs")
        for v in () if self._graph.is_complete else survivors:
            if len(self._holders_of(v) & survivors) < self.params.t:
                raise ThresholdNotMetError(
                    "secagg.md INV-11: fewer than t holders of a survivor sent masked inputs"
                )

    def _needed(self) -> tuple[list[ClientId], list[ClientId]]:
        """Owners whose b (survivors) and s^SK (dropped mask peers of survivors) are needed."""
        survivors = self._survivor_set
        dropped = [
            v
            for v in sorted(self._shares.keys() - survivors)
            if v in self._inbox and any(w in survivors for w in self._mask_peers(v))
        ]
        return sorted(survivors), dropped

    def _mask_peers(self, v: ClientId) -> list[ClientId]:
        """Clients u that masked with v: v's box was forwarded to u."""
        return [box.peer for box in self._shares[v].shares if box.peer in self._inbox]

    def _check_reconstructible(self, responders: frozenset[ClientId]) -> None:
        """secagg.md INV-11: every needed secret has >= t live holders before any reveal."""
        b_owners, sk_owners = self._needed()
        for v in b_owners:
            holders = {box.peer for box in self._shares[v].shares} | {v}
            if len(holders & responders) < self.params.t:
                raise ThresholdNotMetError(
                    "secagg.md INV-11: a survivor's seed has fewer than t live holders"
                )
        for v in sk_owners:
            holders = {box.peer for box in self._shares[v].shares} & self._inbox.keys()
            if len(holders & responders) < self.params.t:
                raise ThresholdNotMetError(
                    "secagg.md INV-11: a dropped client's mask key has fewer than t live holders"
                )

    def _unmask_requests(
        self, responders: frozenset[ClientId], signatures: Mapping[ClientId, bytes]
    ) -> dict[ClientId, ServerMessage]:
        session, rnd = self.context.session_id, int(self.context.round_id)
        survivors = self._survivor_set
        signers = frozenset(signatures)
        ordered_signers = sorted(signers)
        requests: dict[ClientId, ServerMessage] = {}
        for u in sorted(responders):
            held = self._held_by(u)
            chosen: list[ClientId] = []
            if signatures:
                chosen = self._confirmations(u, held, signers, ordered_signers)
            request = UnmaskRequest(
                session_id=session,
                round_id=rnd,
                receiver=u,
                survivors=self._survivors,
                dropped=tuple(sorted(held - survivors)),
                signatures=tuple(
                    SignedSurvivors(signer=w, signature=signatures[w]) for w in chosen
                ),
            )
            self._requested_unmask[u] = request
            requests[u] = request
        return requests

    def _confirmations(
        self,
        u: ClientId,
        held: frozenset[ClientId],
        signers: frozenset[ClientId],
        ordered_signers: list[ClientId],
    ) -> list[ClientId]:
        """Signers whose signatures give ``u`` t confirmations per held owner (INV-7).

        ``u`` counts itself. Complete graph: any t - 1 other signers. Harary graph:
        for each held owner, nearest first, add the signers of its holder set nearest
        to ``u`` on the cycle until it has t; a small set, since nearby signers count
        for many owners (exactly ``H(u)`` when all of ``u``'s holders signed).
        """
        t = self.params.t
        if self._graph.is_complete:
            chosen = [w for w in ordered_signers[:t] if w != u][: t - 1]
            if len(chosen) < t - 1:  # pragma: no cover - ensured by _check_reconstructible
                raise ThresholdNotMetError("secagg.md INV-11: too few clients confirmed")
            return chosen
        graph = self._graph
        counted = {u}
        chosen = []
        for v in sorted(held, key=lambda v: (graph.distance(u, v), v)):
            holders = self._holders_of(v)
            missing = t - len(holders & counted)
            if missing <= 0:
                continue
            candidates = sorted(
                (holders & signers) - counted, key=lambda w: (graph.distance(u, w), w)
            )
            if len(candidates) < missing:  # pragma: no cover - ensured by _check_reconstructible
                raise ThresholdNotMetError(
                    "secagg.md INV-11: fewer than t holders of an owner confirmed the survivors"
                )
            counted.update(candidates[:missing])
            chosen.extend(candidates[:missing])
        chosen.sort()
        return chosen

    def _finish(self, responders: frozenset[ClientId]) -> None:
        session, rnd = self.context.session_id, int(self.context.round_id)
        t = self.params.t
        b_owners, sk_owners = self._needed()
        # Collect (holder, share) per owner from the responders, holders in roster order.
        b_shares: dict[ClientId, list[tuple[ClientId, bytes]]] = {v: [] for v in b_owners}
        sk_shares: dict[ClientId, list[tuple[ClientId, bytes]]] = {v: [] for v in sk_owners}
        for w in sorted(responders):
            reply = self._unmask[w]
            for s in reply.b_shares:
                if s.owner in b_shares:
                    b_shares[s.owner].append((w, s.share))
            for s in reply.sk_shares:
                if s.owner in sk_shares:
                    sk_shares[s.owner].append((w, s.share))
        seeds = self._reconstruct(b_shares, t)
        secret_keys = self._reconstruct(sk_shares, t)
        add: list[bytes] = []
        subtract: list[bytes] = []
        for v in b_owners:
            # secagg.md INV-11: the reconstructed seed must match the sender's commitment.
            commitment = _keys.seed_commitment(seeds[v], session_id=session, round_id=rnd, owner=v)
            if not hmac.compare_digest(commitment, self._shares[v].commitment):
                raise CryptoError(
                    "secagg.md INV-11: a reconstructed seed does not match its commitment"
                )
            subtract.append(
                _keys.self_mask_key(seeds[v], session_id=session, round_id=rnd, owner=v)
            )
        survivors = self._survivor_set
        for v in sk_owners:
            secret = X25519KeyPair(Secret(secret_keys[v]))
            # secagg.md INV-11: the reconstructed s^SK must match the advertised s^PK.
            if not hmac.compare_digest(secret.public, self._keys[v].s_pk):
                raise CryptoError(
                    "secagg.md INV-11: a reconstructed mask key does not match its public key"
                )
            for u in self._mask_peers(v):
                if u not in survivors:
                    continue
                key = _keys.pairwise_mask_key(
                    secret,
                    self._keys[u].s_pk,
                    session_id=session,
                    round_id=rnd,
                    client=v,
                    peer=u,
                    client_s_pk=self._keys[v].s_pk,
                )
                # u added Delta_{u,v} PRG(s_uv); remove it: subtract if u < v, add otherwise.
                (subtract if u < v else add).append(key)
        apply_masks(self._acc, add=add, subtract=subtract)
        reduce_bits(self._acc, self.params.bits)
        total = self._acc
        total.flags.writeable = False
        self._result = ServerResult(
            total=total,
            contributors=frozenset(self._survivors),
            dropped=dict(self._dropped),
            excluded=dict(self._excluded),
        )

    def _reconstruct(
        self, shares: Mapping[ClientId, list[tuple[ClientId, bytes]]], t: int
    ) -> dict[ClientId, bytes]:
        """Reconstruct every owner's secret from its first t shares, in one batch."""
        owners = sorted(shares)
        if not owners:
            return {}
        points = np.empty((len(owners), t), dtype=np.int64)
        raw = []
        for row, owner in enumerate(owners):
            entries = shares[owner]
            if len(entries) < t:
                raise ThresholdNotMetError(
                    f"secagg.md INV-11: only {len(entries)} shares of a secret arrived; t={t}"
                )
            for col, (holder, share) in enumerate(entries[:t]):
                points[row, col] = self.context.point(holder)
                raw.append(share)
        words = shamir.shares_from_bytes(b"".join(raw), len(owners) * t)
        secrets = shamir.reconstruct_many(points, words.reshape(len(owners), t, shamir.LIMBS))
        return dict(zip(owners, secrets, strict=True))
