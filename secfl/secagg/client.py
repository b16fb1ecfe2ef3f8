"""The SecAgg / SecAgg+ client state machine (secagg.md §State machine, §Algorithms).

Theory of operation. A client is a sans-I/O object: :meth:`SecAggClient.start`
returns its AdvertiseKeys message and :meth:`SecAggClient.receive` takes each
server request (typed or as bytes) and returns the reply. Which request is
legal in which state is the data table ``_TRANSITIONS`` (one per threat
model); any other (state, message) pair, any malformed message and any
violated invariant raise a typed :class:`~secfl.errors.SecflError` and move the
client to ``ABORTED`` for good (fail closed). Each invariant of the spec is an
explicit check that cites it (``# secagg.md INV-n``).

The stages follow Bonawitz et al. (CCS 2017, Fig. 4 and §6 for the malicious
variant) on the communication graph of Bell et al. (CCS 2020):

1. AdvertiseKeys: draw X25519 pairs (c for share encryption, s for masks),
   sign both public keys with the identity key (malicious variant).
2. ShareKeys: check the holders' keys, draw the self-mask seed b_u, Shamir-share
   b_u and s_u^SK t-of-|holders|, encrypt each holder's pair of shares.
3. MaskedInputCollection: open the boxes addressed to us and send
   y_u = x_u + PRG(b_u) + sum_v Delta_uv PRG(s_uv) mod 2^k.
4. ConsistencyCheck (malicious variant): sign the announced survivor set U3.
5. Unmasking: check the request - in the malicious variant that, for every
   owner whose shares we hold, at least t of that owner's holders signed
   exactly the survivor set we signed (INV-7) - then reveal b-shares of
   survivors and s^SK-shares of dropped clients, never both for one client.

Every signature and share box is bound to the context digest of the run
(secagg.md §4.1, INV-13), computed once here from the public parameters.
"""

from __future__ import annotations

import enum
import hmac
from collections.abc import Callable, Mapping
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from secfl.crypto import aead, shamir
from secfl.crypto.random import default_rng
from secfl.crypto.signature import SigningKey
from secfl.crypto.x25519 import X25519KeyPair
from secfl.errors import (
    ConfigurationError,
    InvalidInputError,
    InvariantViolationError,
    LocalProtocolError,
    MalformedMessageError,
    UnexpectedMessageError,
)
from secfl.secagg import _keys
from secfl.secagg._masking import apply_masks, reduce_bits
from secfl.secagg.graph import CommunicationGraph
from secfl.secagg.messages import (
    SHARE_PLAINTEXT_SIZE,
    AdvertisedKeys,
    AdvertiseKeys,
    ClientMessage,
    ConsistencyCheck,
    ConsistencyCheckRequest,
    EncryptedShare,
    MaskedInput,
    MaskedInputRequest,
    RevealedShare,
    ServerMessage,
    ShareKeys,
    ShareKeysRequest,
    Unmask,
    UnmaskRequest,
    decode_message,
)
from secfl.secagg.params import IdentityPKI, RoundContext, SecAggParams
from secfl.types import ClientId, RandomSource, Secret

__all__ = ["ClientState", "SecAggClient"]


class ClientState(enum.Enum):
    """Where a client is in the protocol."""

    INIT = "init"
    ADVERTISED = "advertised"  # AdvertiseKeys sent
    KEYS_SHARED = "keys_shared"  # ShareKeys sent
    INPUT_MASKED = "input_masked"  # MaskedInput sent
    CONSISTENCY_SIGNED = "consistency_signed"  # ConsistencyCheck sent (malicious variant)
    DONE = "done"  # Unmask sent; terminal
    ABORTED = "aborted"  # terminal


_S = ClientState
# (state, request type) -> next state: the whole legal behaviour of a client.
_TRANSITIONS_MALICIOUS: Final[Mapping[tuple[ClientState, type], ClientState]] = {
    (_S.ADVERTISED, ShareKeysRequest): _S.KEYS_SHARED,
    (_S.KEYS_SHARED, MaskedInputRequest): _S.INPUT_MASKED,
    (_S.INPUT_MASKED, ConsistencyCheckRequest): _S.CONSISTENCY_SIGNED,
    (_S.CONSISTENCY_SIGNED, UnmaskRequest): _S.DONE,
}
_TRANSITIONS_HONEST: Final[Mapping[tuple[ClientState, type], ClientState]] = {
    (_S.ADVERTISED, ShareKeysRequest): _S.KEYS_SHARED,
    (_S.KEYS_SHARED, MaskedInputRequest): _S.INPUT_MASKED,
    (_S.INPUT_MASKED, UnmaskRequest): _S.DONE,
}


def _violation(invariant: str, what: str) -> InvariantViolationError:
    return InvariantViolationError(f"secagg.md {invariant}: {what}", peer="server")


class SecAggClient:
    """One client of a secure-aggregation run.

    Args:
        client_id: this client's id (must be in ``context.roster``).
        params: protocol parameters, identical at every party.
        context: public round context, identical at every party.
        identity_key: this client's Ed25519 identity key (malicious variant).
        pki: the certified identity keys of the roster (malicious variant).
        rng: randomness for keys, seeds, shares and nonces (OS CSPRNG by default).
        input: the encoded input x_u (may instead be given later with
            :meth:`provide_input`, before the MaskedInputCollection request).

    Raises:
        ConfigurationError: on inconsistent parameters, context or keys.
        InvalidInputError: if ``input`` is malformed.
    """

    def __init__(
        self,
        *,
        client_id: int,
        params: SecAggParams,
        context: RoundContext,
        identity_key: SigningKey | None = None,
        pki: IdentityPKI | None = None,
        rng: RandomSource | None = None,
        input: NDArray[np.unsignedinteger[Any]] | None = None,
    ) -> None:
        self.client_id = ClientId(int(client_id))
        if self.client_id not in context:
            raise ConfigurationError("client_id is not in the roster")
        if len(context.roster) != params.num_clients:
            raise ConfigurationError("the roster size differs from params.num_clients")
        if params.malicious:
            if identity_key is None or pki is None:
                raise ConfigurationError(
                    "the malicious-server variant needs an identity key and a PKI"
                )
            if not pki.covers(context.roster):
                raise ConfigurationError("the PKI lacks a roster client's identity key")
            if pki.verify_key(self.client_id) != identity_key.verify_key:
                raise ConfigurationError("identity_key does not match the PKI")
        self.params = params
        self.context = context
        self._identity = identity_key
        self._pki = pki
        self._rng: RandomSource = default_rng(rng) if rng is None else rng
        self._graph = CommunicationGraph(params, context)
        self._holders = self._graph.holders(self.client_id)
        self._digest = _keys.context_digest(params, context)
        self._transitions = _TRANSITIONS_MALICIOUS if params.malicious else _TRANSITIONS_HONEST
        self._state = ClientState.INIT
        self._input: NDArray[np.unsignedinteger[Any]] | None = None
        if input is not None:
            self.provide_input(input)
        # Protocol state, filled stage by stage.
        self._c: X25519KeyPair | None = None
        self._s: X25519KeyPair | None = None
        self._seed: Secret | None = None
        self._keys: dict[ClientId, AdvertisedKeys] = {}
        self._own_shares: tuple[NDArray[np.uint32], NDArray[np.uint32]] | None = None
        self._held: dict[ClientId, tuple[NDArray[np.uint32], NDArray[np.uint32]]] = {}
        self._mask_peers: tuple[ClientId, ...] = ()
        self._signed_survivors: tuple[ClientId, ...] | None = None
        self._revealed_b: set[ClientId] = set()
        self._revealed_sk: set[ClientId] = set()
        self._handlers: Mapping[type, Callable[[Any], ClientMessage]] = {
            ShareKeysRequest: self._share_keys,
            MaskedInputRequest: self._masked_input,
            ConsistencyCheckRequest: self._consistency_check,
            UnmaskRequest: self._unmask,
        }

    # ------------------------------------------------------------------ public API

    @property
    def state(self) -> ClientState:
        """The current state."""
        return self._state

    @property
    def holders(self) -> frozenset[ClientId]:
        """The clients that hold shares of this client's secrets (itself included)."""
        return self._holders

    def provide_input(self, x: NDArray[np.unsignedinteger[Any]]) -> None:
        """Set the encoded input x_u (words of Z_(2^k), length d).

        Raises:
            InvalidInputError: on a wrong dtype, shape or an out-of-range word.
            LocalProtocolError: if the masked input was already sent.
        """
        if self._state in (
            ClientState.INPUT_MASKED,
            ClientState.CONSISTENCY_SIGNED,
            ClientState.DONE,
        ):
            raise LocalProtocolError("the masked input was already sent")
        arr = np.asarray(x)
        dtype = self.params.dtype
        if arr.ndim != 1 or arr.size != self.context.vector_length:
            raise InvalidInputError(
                f"input must be a 1-D vector of {self.context.vector_length} words"
            )
        if arr.dtype != dtype:
            raise InvalidInputError(f"input words must be {dtype} for bits={self.params.bits}")
        bits = self.params.bits
        if bits < dtype.itemsize * 8 and bool((arr >> np.asarray(bits, dtype)).any()):
            raise InvalidInputError(f"input words must be below 2^{bits}")
        self._input = arr

    def start(self) -> AdvertiseKeys:
        """Stage AdvertiseKeys: draw the key pairs and return the advertisement.

        Raises:
            LocalProtocolError: if called twice (the client then aborts).
        """
        if self._state is not ClientState.INIT:
            self._state = ClientState.ABORTED
            raise LocalProtocolError("start() may be called once, in state INIT")
        try:
            self._c = X25519KeyPair.generate(self._rng)
            self._s = X25519KeyPair.generate(self._rng)
            signature = b""
            if self._identity is not None and self.params.malicious:
                signature = self._identity.sign(
                    _keys.advertise_payload(
                        self._digest, self.client_id, self._c.public, self._s.public
                    )
                )
            message = AdvertiseKeys(
                session_id=self.context.session_id,
                round_id=int(self.context.round_id),
                sender=self.client_id,
                c_pk=self._c.public,
                s_pk=self._s.public,
                signature=signature,
            )
        except BaseException:
            self._state = ClientState.ABORTED
            raise
        self._state = ClientState.ADVERTISED
        return message

    def receive(self, message: ServerMessage | bytes) -> ClientMessage:
        """Process one server request and return the reply.

        Args:
            message: a server message, typed or as its byte encoding.

        Returns:
            The client's reply for the request's stage.

        Raises:
            MalformedMessageError: the request is not a valid encoding.
            UnexpectedMessageError: the request is not legal in this state, or is
                for another client, session or round.
            InvariantViolationError: the request would break a spec invariant.
            CryptoError: a signature or ciphertext does not verify.
            ThresholdNotMetError: never raised here (refusals are invariants).
            LocalProtocolError: the input was not provided in time.
            In every case the client moves to ``ABORTED``.
        """
        try:
            if isinstance(message, bytes | bytearray | memoryview):
                decoded = decode_message(bytes(message))
            else:
                decoded = message
            key = (self._state, type(decoded))
            # secagg.md INV-10: only the transitions of the table are legal.
            if key not in self._transitions:
                raise UnexpectedMessageError(
                    f"{type(decoded).__name__} is not accepted in state {self._state.value}",
                    peer="server",
                )
            self._check_envelope(decoded)  # type: ignore[arg-type]
            reply = self._handlers[type(decoded)](decoded)
        except BaseException:
            self._state = ClientState.ABORTED
            self._wipe()
            raise
        self._state = self._transitions[key]
        if self._state is ClientState.DONE:
            self._wipe()
        return reply

    # ------------------------------------------------------------------ stages

    def _check_envelope(self, msg: ServerMessage) -> None:
        # secagg.md INV-10: a request from another session, round or for another client
        # is a replay or a misroute.
        if not hmac.compare_digest(msg.session_id, self.context.session_id):
            raise UnexpectedMessageError("request is from another session", peer="server")
        if msg.round_id != int(self.context.round_id):
            raise UnexpectedMessageError("request is from another round", peer="server")
        if msg.receiver != self.client_id:
            raise UnexpectedMessageError("request is addressed to another client", peer="server")

    def _share_keys(self, msg: ShareKeysRequest) -> ShareKeys:
        assert self._c is not None
        assert self._s is not None
        u = self.client_id
        t = self.params.t
        entries = {e.client: e for e in msg.keys}
        # secagg.md INV-8: keys only of this client's holders, including its own, unchanged.
        if not entries.keys() <= self._holders:
            raise _violation("INV-8", "keys of a client outside this client's holders")
        own = entries.get(u)
        if own is None or own.c_pk != self._c.public or own.s_pk != self._s.public:
            raise _violation("INV-8", "this client's own advertised keys were altered or omitted")
        publics = [pk for e in msg.keys for pk in (e.c_pk, e.s_pk)]
        if len(set(publics)) != len(publics):
            raise _violation("INV-8", "advertised public keys are not pairwise distinct")
        if self.params.malicious:
            assert self._pki is not None
            for e in msg.keys:
                # secagg.md INV-8: every advertisement is signed by its owner's identity key.
                # secagg.md INV-13: the signed payload carries this run's context digest.
                self._pki.verify_key(e.client).verify(
                    e.signature, _keys.advertise_payload(self._digest, e.client, e.c_pk, e.s_pk)
                )
        # secagg.md INV-5: at least t holders are alive to receive shares.
        if len(entries) < t:
            raise _violation("INV-5", f"only {len(entries)} holders advertised keys, need t={t}")
        self._keys = entries
        self._seed = Secret(self._rng.random_bytes(shamir.SECRET_SIZE))
        holders = sorted(entries)
        points = [self.context.point(v) for v in holders]
        shares = shamir.split(
            [self._seed.reveal(), self._s.private.reveal()],
            threshold=t,
            points=points,
            rng=self._rng,
        )
        session, rnd = self.context.session_id, int(self.context.round_id)
        boxes = []
        for i, v in enumerate(holders):
            if v == u:
                self._own_shares = (shares[i, 0], shares[i, 1])
                continue
            key = _keys.share_encryption_key(
                self._c,
                entries[v].c_pk,
                session_id=session,
                round_id=rnd,
                sender=u,
                receiver=v,
                sender_c_pk=self._c.public,
                receiver_c_pk=entries[v].c_pk,
            )
            box = aead.seal(
                key,
                shamir.shares_to_bytes(shares[i]),
                _keys.share_associated_data(self._digest, u, v),
                rng=self._rng,
            )
            boxes.append(EncryptedShare(peer=v, ciphertext=box))
        return ShareKeys(
            session_id=session,
            round_id=rnd,
            sender=u,
            commitment=_keys.seed_commitment(self._seed, session_id=session, round_id=rnd, owner=u),
            shares=tuple(boxes),
        )

    def _masked_input(self, msg: MaskedInputRequest) -> MaskedInput:
        assert self._c is not None
        assert self._s is not None
        assert self._seed is not None
        assert self._own_shares is not None
        if self._input is None:
            raise LocalProtocolError("provide_input() must be called before MaskedInputCollection")
        u = self.client_id
        t = self.params.t
        session, rnd = self.context.session_id, int(self.context.round_id)
        held: dict[ClientId, tuple[NDArray[np.uint32], NDArray[np.uint32]]] = {u: self._own_shares}
        for box in msg.shares:
            v = box.peer
            # secagg.md INV-9: boxes only from holders whose keys this client accepted.
            if v == u or v not in self._keys:
                raise _violation("INV-9", "a share box from a client outside the accepted holders")
            key = _keys.share_encryption_key(
                self._c,
                self._keys[v].c_pk,
                session_id=session,
                round_id=rnd,
                sender=v,
                receiver=u,
                sender_c_pk=self._keys[v].c_pk,
                receiver_c_pk=self._c.public,
            )
            # secagg.md INV-9, INV-13: the AD names the direction and this run's context.
            plain = aead.open_box(
                key, box.ciphertext, _keys.share_associated_data(self._digest, v, u)
            )
            if len(plain) != SHARE_PLAINTEXT_SIZE:
                raise MalformedMessageError("share plaintext has the wrong size", peer=v)
            words = shamir.shares_from_bytes(plain, 2)
            held[v] = (words[0], words[1])
        # secagg.md INV-5: at least t holders (this client included) completed ShareKeys.
        if len(held) < t:
            raise _violation("INV-5", f"only {len(held)} holders shared keys, need t={t}")
        self._held = held
        # secagg.md §Algorithms (masking): mask with exactly the neighbours whose shares we hold.
        self._mask_peers = tuple(sorted(v for v in held if v != u))
        y = np.array(self._input, dtype=self.params.dtype, copy=True)
        add = [_keys.self_mask_key(self._seed, session_id=session, round_id=rnd, owner=u)]
        subtract: list[bytes] = []
        for v in self._mask_peers:
            key = _keys.pairwise_mask_key(
                self._s,
                self._keys[v].s_pk,
                session_id=session,
                round_id=rnd,
                client=u,
                peer=v,
                client_s_pk=self._s.public,
            )
            # Delta_{u,v} = +1 if u < v else -1 (Bonawitz et al., Fig. 4, round 2).
            (add if u < v else subtract).append(key)
        apply_masks(y, add=add, subtract=subtract)
        reduce_bits(y, self.params.bits)
        self._input = None  # the plaintext input is not kept past this stage
        return MaskedInput(
            session_id=session, round_id=rnd, sender=u, bits=self.params.bits, masked=y
        )

    def _check_survivors(self, survivors: tuple[ClientId, ...]) -> None:
        u = self.client_id
        t = self.params.t
        surv = set(survivors)
        # secagg.md INV-4: a client that is asked to continue must itself be a survivor.
        if u not in surv:
            raise _violation("INV-4", "this client is missing from the survivor set")
        # secagg.md INV-3: a survivor among our holders is a client whose shares we hold.
        if not (surv & self._holders) <= self._held.keys():
            raise _violation("INV-3", "a survivor among the holders never shared keys")
        if not surv <= set(self.context.roster):
            raise _violation("INV-3", "a survivor is not in the roster")
        # secagg.md INV-5: never unmask a sum of fewer than t inputs, and never reveal a
        # survivor's b-share unless at least t of that survivor's holders survived too.
        if len(surv) < t:
            raise _violation("INV-5", f"only {len(surv)} survivors, need t={t}")
        # (In the complete graph every holder set is the roster: the global count suffices.)
        for v in () if self._graph.is_complete else surv & self._held.keys():
            if len(self._graph.holders(v) & surv) < t:
                raise _violation("INV-5", "fewer than t holders of a survivor survived")

    def _consistency_check(self, msg: ConsistencyCheckRequest) -> ConsistencyCheck:
        assert self._identity is not None
        self._check_survivors(msg.survivors)
        self._signed_survivors = msg.survivors
        session, rnd = self.context.session_id, int(self.context.round_id)
        signature = self._identity.sign(
            _keys.consistency_payload(
                self._digest, self.client_id, _keys.encode_survivors(msg.survivors)
            )
        )
        return ConsistencyCheck(
            session_id=session, round_id=rnd, sender=self.client_id, signature=signature
        )

    def _check_confirmations(self, msg: UnmaskRequest, survivors: set[ClientId]) -> None:
        """secagg.md INV-7: every held owner's holders confirmed exactly our survivor set.

        An honest client signs one survivor set per run. If, for an owner v, two
        honest holders each saw t signatures from H(v) on two different sets, the
        two signer groups would share a client (2t > |H(v)|, INV-6), who signed
        both - so all honest holders that reveal a share of v agree on whether v
        survived, and the server gets one kind of share of v only (secagg.md
        §9.2). Checking only our *own* holders is not enough in a sparse graph:
        two disjoint neighbourhoods can each hold a local majority for two
        different sets (the split-view attack of the security review).
        """
        assert self._pki is not None
        u = self.client_id
        t = self.params.t
        if self._signed_survivors is None or msg.survivors != self._signed_survivors:
            raise _violation("INV-7", "the survivor set differs from the one signed")
        owners = self._held.keys()
        holder_sets: dict[ClientId, frozenset[ClientId]] = {}
        region: frozenset[ClientId] | None = None  # None: every roster client counts
        if not self._graph.is_complete:
            holder_sets = {v: self._graph.holders(v) for v in owners}
            region = frozenset().union(*holder_sets.values())
        encoded = _keys.encode_survivors(msg.survivors)
        confirmed = {u}  # this client signed exactly this set itself
        for entry in msg.signatures:
            w = entry.signer
            if w not in self.context:
                raise _violation("INV-7", "a consistency signature from outside the roster")
            if w not in survivors:
                raise _violation("INV-7", "a consistency signature from a non-survivor")
            if region is not None and w not in region:
                raise _violation(
                    "INV-7", "a consistency signature from outside the held owners' holders"
                )
            # Every signature carried must verify (a bad one proves a lying server);
            # each distinct signer is verified once and counts for every owner it holds.
            # secagg.md INV-13: the payload carries this run's context digest.
            self._pki.verify_key(w).verify(
                entry.signature, _keys.consistency_payload(self._digest, w, encoded)
            )
            confirmed.add(w)
        if region is None:
            if len(confirmed) < t:
                raise _violation(
                    "INV-7", f"only {len(confirmed)} clients confirmed the survivor set, need t={t}"
                )
            return
        for v in sorted(owners):
            if len(holder_sets[v] & confirmed) < t:
                raise _violation(
                    "INV-7", f"fewer than t={t} holders of a held owner confirmed the survivor set"
                )

    def _unmask(self, msg: UnmaskRequest) -> Unmask:
        u = self.client_id
        session, rnd = self.context.session_id, int(self.context.round_id)
        survivors, dropped = set(msg.survivors), set(msg.dropped)
        # secagg.md INV-2: SURVIVORS ∩ DROPPED = ∅.
        if survivors & dropped:
            raise _violation("INV-2", "a client is listed as both survivor and dropped")
        self._check_survivors(msg.survivors)
        # secagg.md INV-3: DROPPED names only held owners, and every held owner is named
        # exactly once across SURVIVORS and DROPPED.
        if not dropped <= self._held.keys():
            raise _violation("INV-3", "a dropped client is not one whose shares we hold")
        if (survivors & self._held.keys()) | dropped != self._held.keys():
            raise _violation("INV-3", "a held owner is neither survivor nor dropped")
        if self.params.malicious:
            self._check_confirmations(msg, survivors)
        b_owners = sorted(survivors & self._held.keys())
        sk_owners = sorted(dropped)
        # secagg.md INV-1: never reveal both the b-share and the s^SK-share of one client,
        # in this request or across requests.
        if (set(b_owners) | self._revealed_b) & (set(sk_owners) | self._revealed_sk):
            raise _violation("INV-1", "revealing both shares of one client")
        self._revealed_b.update(b_owners)
        self._revealed_sk.update(sk_owners)
        b_shares = tuple(
            RevealedShare(owner=v, share=shamir.shares_to_bytes(self._held[v][0])) for v in b_owners
        )
        sk_shares = tuple(
            RevealedShare(owner=v, share=shamir.shares_to_bytes(self._held[v][1]))
            for v in sk_owners
        )
        return Unmask(
            session_id=session, round_id=rnd, sender=u, b_shares=b_shares, sk_shares=sk_shares
        )

    def _wipe(self) -> None:
        """Drop secrets that are no longer needed (best effort in Python)."""
        self._input = None
        self._seed = None
        self._own_shares = None
        self._held = {}
