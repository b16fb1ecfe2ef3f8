"""The client state machine: every (state, request) pair, envelopes, invariants."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from secagg_harness import SESSION, Run

from secfl.crypto.random import CSPRNG
from secfl.crypto.signature import SigningKey
from secfl.errors import (
    ConfigurationError,
    CryptoError,
    InvalidInputError,
    InvariantViolationError,
    LocalProtocolError,
    MalformedMessageError,
    SecflError,
    UnexpectedMessageError,
)
from secfl.secagg import ClientState, SecAggClient, ServerState
from secfl.secagg.messages import (
    AdvertisedKeys,
    ConsistencyCheckRequest,
    EncryptedShare,
    MaskedInputRequest,
    ServerMessage,
    ShareKeysRequest,
    SignedSurvivors,
    UnmaskRequest,
)
from secfl.types import ClientId

REQUEST_TYPES = [ShareKeysRequest, MaskedInputRequest, ConsistencyCheckRequest, UnmaskRequest]


def _requests_for(run: Run, u: ClientId) -> dict[type, ServerMessage]:
    """A genuine request of every type for client ``u`` (from an honest run)."""
    return {type(reqs[u]): reqs[u] for reqs in run.requests.values() if u in reqs}


@pytest.mark.parametrize("malicious", [True, False])
def test_every_state_times_request_moves_legally_or_fails_closed(malicious: bool) -> None:
    reference = Run(4, malicious=malicious)
    reference.finish()
    u = reference.ids[0]
    genuine = _requests_for(reference, u)
    order = [ShareKeysRequest, MaskedInputRequest, UnmaskRequest]
    if malicious:
        order.insert(2, ConsistencyCheckRequest)
    # Reach each live state by replaying the genuine requests to an identical client.
    for reached in range(len(order) + 2):  # INIT, ADVERTISED, ..., DONE
        for kind in REQUEST_TYPES:
            run = Run(4, malicious=malicious)
            run.finish()  # same seed -> identical keys and requests
            # A fresh client identical to the one the genuine requests were made for.
            client = _clone_first_client(run)
            if reached >= 1:
                client.start()
            for step in order[: max(0, reached - 1)]:
                client.receive(_requests_for(run, u)[step].encode())
            state = client.state
            legal = reached >= 1 and reached - 1 < len(order) and order[reached - 1] is kind
            request = _requests_for(run, u).get(kind)
            if request is None:
                # The honest-but-curious run has no ConsistencyCheck request; forge one.
                request = ConsistencyCheckRequest(
                    session_id=SESSION, round_id=7, receiver=u, survivors=tuple(run.ids)
                )
            if legal:
                client.receive(request.encode())
                assert client.state is not ClientState.ABORTED
            else:
                with pytest.raises(UnexpectedMessageError):
                    client.receive(request.encode())
                assert client.state is ClientState.ABORTED, (state, kind)
                # Fail closed: nothing is accepted any more.
                for other in REQUEST_TYPES:
                    if other in genuine:
                        with pytest.raises(UnexpectedMessageError):
                            client.receive(genuine[other].encode())
    del genuine


def _clone_first_client(run: Run) -> SecAggClient:
    """A fresh client identical to run.clients[ids[0]] (same rng seed derivation)."""
    fresh = Run(
        len(run.ids),
        malicious=run.params.malicious,
        graph=run.params.graph_kind.value,
        d=run.context.vector_length,
    )
    return fresh.clients[run.ids[0]]


def test_start_twice_and_input_checks() -> None:
    run = Run(3, malicious=False)
    client = run.clients[run.ids[0]]
    client.start()
    with pytest.raises(LocalProtocolError):
        client.start()
    assert client.state is ClientState.ABORTED
    c2 = run.clients[run.ids[1]]
    for bad in (
        np.zeros(5, np.uint32),
        np.zeros(6, np.uint64),
        np.zeros((2, 3), np.uint32),
        np.zeros(6, np.int32),
    ):
        with pytest.raises(InvalidInputError):
            c2.provide_input(bad)
    small = Run(3, malicious=False, bits=8)
    with pytest.raises(InvalidInputError):
        small.clients[small.ids[0]].provide_input(np.full(6, 256, np.uint32))


def test_configuration_errors() -> None:
    run = Run(3)
    u = run.ids[0]
    with pytest.raises(ConfigurationError):
        SecAggClient(
            client_id=999,
            params=run.params,
            context=run.context,
            identity_key=run.identities[u],
            pki=run.pki,
        )
    with pytest.raises(ConfigurationError):
        SecAggClient(client_id=u, params=run.params, context=run.context)
    with pytest.raises(ConfigurationError):
        SecAggClient(
            client_id=u,
            params=run.params,
            context=run.context,
            identity_key=SigningKey.generate(CSPRNG(99)),
            pki=run.pki,
        )


def test_missing_input_is_a_local_error() -> None:
    run = Run(3, malicious=False)
    u = run.ids[0]
    client = SecAggClient(client_id=u, params=run.params, context=run.context, rng=CSPRNG(1))
    run.clients[u] = client
    requests = run.advertise()
    requests = run.step(requests)
    with pytest.raises(LocalProtocolError):
        client.receive(requests[u])
    assert client.state is ClientState.ABORTED


def _expect_abort(client: SecAggClient, message: ServerMessage, error: type[SecflError]) -> None:
    with pytest.raises(error):
        client.receive(message.encode())
    assert client.state is ClientState.ABORTED


@pytest.mark.parametrize(
    ("field", "value"),
    [("session_id", b"\x01" * 32), ("round_id", 8), ("receiver", 11)],
)
def test_envelope_replays_and_misroutes_are_rejected(field: str, value: Any) -> None:
    run = Run(4)
    requests = run.advertise()
    u = run.ids[0]
    _expect_abort(
        run.clients[u], dataclasses.replace(requests[u], **{field: value}), UnexpectedMessageError
    )


def test_replayed_request_is_rejected() -> None:
    run = Run(4)
    requests = run.advertise()
    u = run.ids[0]
    run.clients[u].receive(requests[u].encode())
    _expect_abort(run.clients[u], requests[u], UnexpectedMessageError)


# ----------------------------------------------------------------- ShareKeys (INV-5, INV-8)


def _tamper_keys(
    fn: Callable[[list[AdvertisedKeys], ClientId], list[AdvertisedKeys]],
    error: type[SecflError],
    *,
    malicious: bool = True,
) -> None:
    run = Run(5, malicious=malicious)
    requests = run.advertise()
    u = run.ids[0]
    req = requests[u]
    assert isinstance(req, ShareKeysRequest)
    keys = fn(list(req.keys), u)
    _expect_abort(run.clients[u], dataclasses.replace(req, keys=tuple(keys)), error)


def test_inv8_own_keys_altered() -> None:
    def alter(keys: list[AdvertisedKeys], u: ClientId) -> list[AdvertisedKeys]:
        return [dataclasses.replace(k, c_pk=bytes(32)) if k.client == u else k for k in keys]

    _tamper_keys(alter, InvariantViolationError)


def test_inv8_own_keys_omitted() -> None:
    _tamper_keys(lambda keys, u: [k for k in keys if k.client != u], InvariantViolationError)


def test_inv8_duplicated_public_keys() -> None:
    def dup(keys: list[AdvertisedKeys], u: ClientId) -> list[AdvertisedKeys]:
        return [keys[0], dataclasses.replace(keys[1], c_pk=keys[0].c_pk), *keys[2:]]

    _tamper_keys(dup, InvariantViolationError, malicious=False)


def test_inv8_forged_advertisement_signature() -> None:
    def forge(keys: list[AdvertisedKeys], u: ClientId) -> list[AdvertisedKeys]:
        return [keys[0], dataclasses.replace(keys[1], s_pk=bytes([9]) * 32), *keys[2:]]

    _tamper_keys(forge, CryptoError)


def test_inv8_keys_of_a_non_holder() -> None:
    run = Run(9, graph="harary", degree=2, threshold=2, malicious=False)
    requests = run.advertise()
    u = run.ids[0]
    req = requests[u]
    assert isinstance(req, ShareKeysRequest)
    outsider = next(v for v in run.ids if v not in run.clients[u].holders)
    extra = run.replies["AdvertiseKeys"][outsider].keys()  # type: ignore[attr-defined]
    keys = tuple(sorted([*req.keys, extra], key=lambda k: k.client))
    _expect_abort(run.clients[u], dataclasses.replace(req, keys=keys), InvariantViolationError)


def test_inv5_too_few_holders_at_share_keys() -> None:
    run = Run(5)  # t = 3
    requests = run.advertise()
    u = run.ids[0]
    req = requests[u]
    assert isinstance(req, ShareKeysRequest)
    keys = tuple(k for k in req.keys if k.client in run.ids[:2])
    _expect_abort(run.clients[u], dataclasses.replace(req, keys=keys), InvariantViolationError)


# ----------------------------------------------------------------- MaskedInput (INV-5, INV-9)


def _at_masked_input(malicious: bool = True) -> tuple[Run, ClientId, MaskedInputRequest]:
    run = Run(5, malicious=malicious)
    requests = run.run_to(ServerState.MASKED_INPUT_COLLECTION)
    u = run.ids[0]
    req = requests[u]
    assert isinstance(req, MaskedInputRequest)
    return run, u, req


def test_inv9_tampered_ciphertext() -> None:
    run, u, req = _at_masked_input()
    box = req.shares[0]
    bad = bytearray(box.ciphertext)
    bad[30] ^= 1
    shares = (EncryptedShare(peer=box.peer, ciphertext=bytes(bad)), *req.shares[1:])
    _expect_abort(run.clients[u], dataclasses.replace(req, shares=shares), CryptoError)


def test_inv9_box_redirected_from_another_sender() -> None:
    # The server relabels v's box as coming from w: the AD and key no longer match.
    run, u, req = _at_masked_input()
    a, b = req.shares[0], req.shares[1]
    shares = (
        EncryptedShare(peer=a.peer, ciphertext=b.ciphertext),
        EncryptedShare(peer=b.peer, ciphertext=a.ciphertext),
        *req.shares[2:],
    )
    _expect_abort(run.clients[u], dataclasses.replace(req, shares=shares), CryptoError)


def test_inv9_box_meant_for_another_receiver() -> None:
    run = Run(5)
    requests = run.run_to(ServerState.MASKED_INPUT_COLLECTION)
    u, w = run.ids[0], run.ids[1]
    req_u, req_w = requests[u], requests[w]
    assert isinstance(req_u, MaskedInputRequest)
    assert isinstance(req_w, MaskedInputRequest)
    # The box from v to w, delivered to u as if v had sent it to u.
    v = run.ids[2]
    box_to_w = next(b for b in req_w.shares if b.peer == v)
    shares = tuple(box_to_w if b.peer == v else b for b in req_u.shares)
    _expect_abort(run.clients[u], dataclasses.replace(req_u, shares=shares), CryptoError)


def test_inv9_box_from_unknown_sender_and_self() -> None:
    for peer_of in ("self", "stranger"):
        run, u, req = _at_masked_input()
        peer = u if peer_of == "self" else ClientId(999)
        box = EncryptedShare(peer=peer, ciphertext=req.shares[0].ciphertext)
        shares = tuple(sorted([*req.shares[1:], box], key=lambda b: b.peer))
        _expect_abort(
            run.clients[u], dataclasses.replace(req, shares=shares), InvariantViolationError
        )


def test_inv5_too_few_boxes() -> None:
    run, u, req = _at_masked_input()
    _expect_abort(
        run.clients[u], dataclasses.replace(req, shares=req.shares[:1]), InvariantViolationError
    )


# ----------------------------------------------------------------- Unmasking (INV-1..5, INV-7)


def _at_unmask(malicious: bool, drop: tuple[int, ...] = ()) -> tuple[Run, ClientId, UnmaskRequest]:
    run = Run(7, malicious=malicious)  # t = 4
    requests = run.advertise()
    requests = run.step(requests)  # ShareKeys
    requests = run.step(requests, skip=drop)  # MaskedInputCollection
    if malicious:
        requests = run.step(requests)  # ConsistencyCheck
    u = run.ids[-1]
    req = requests[u]
    assert isinstance(req, UnmaskRequest)
    return run, u, req


@pytest.mark.parametrize("malicious", [True, False])
def test_honest_unmask_request_is_answered(malicious: bool) -> None:
    run, u, req = _at_unmask(malicious, drop=(10,))
    reply = run.clients[u].receive(req.encode())
    assert [s.owner for s in reply.sk_shares] == [10]  # type: ignore[union-attr]
    assert 10 not in [s.owner for s in reply.b_shares]  # type: ignore[union-attr]
    assert run.clients[u].state is ClientState.DONE


@pytest.mark.parametrize("malicious", [True, False])
def test_inv2_flower_attack_both_shares_of_a_live_client(malicious: bool) -> None:
    # The attack that works against Flower's client: list a live client v as both
    # survivor and dropped to get its b-share *and* its s^SK-share.
    run, u, req = _at_unmask(malicious)
    v = run.ids[0]
    forged = dataclasses.replace(req, dropped=tuple(sorted({*req.dropped, v})))
    _expect_abort(run.clients[u], forged, InvariantViolationError)


@pytest.mark.parametrize("malicious", [True, False])
def test_inv3_dropped_client_whose_shares_are_not_held(malicious: bool) -> None:
    run, u, req = _at_unmask(malicious, drop=(10,))
    forged = dataclasses.replace(req, dropped=(*req.dropped, ClientId(999)))
    _expect_abort(run.clients[u], forged, InvariantViolationError)


@pytest.mark.parametrize("malicious", [True, False])
def test_inv3_held_owner_missing_from_both_lists(malicious: bool) -> None:
    run, u, req = _at_unmask(malicious, drop=(10,))
    forged = dataclasses.replace(req, dropped=())
    _expect_abort(run.clients[u], forged, InvariantViolationError)


def test_inv4_receiver_not_a_survivor() -> None:
    run, u, req = _at_unmask(False)
    survivors = tuple(v for v in req.survivors if v != u)
    forged = dataclasses.replace(req, survivors=survivors, dropped=tuple(sorted({*req.dropped, u})))
    with pytest.raises(InvariantViolationError):
        run.clients[u].receive(forged.encode())


def test_inv5_too_few_survivors() -> None:
    run, u, req = _at_unmask(False)
    survivors = (run.ids[0], u)  # 2 < t = 4
    held = set(req.survivors) | set(req.dropped)
    dropped = tuple(sorted(held - set(survivors)))
    forged = dataclasses.replace(req, survivors=survivors, dropped=dropped)
    _expect_abort(run.clients[u], forged, InvariantViolationError)


def test_inv7_survivor_set_differs_from_the_signed_one() -> None:
    run, u, req = _at_unmask(True)
    v = run.ids[0]
    forged = dataclasses.replace(
        req, survivors=tuple(w for w in req.survivors if w != v), dropped=(v,)
    )
    _expect_abort(run.clients[u], forged, InvariantViolationError)


def test_inv7_too_few_consistency_signatures() -> None:
    run, u, req = _at_unmask(True)
    _expect_abort(
        run.clients[u],
        dataclasses.replace(req, signatures=req.signatures[:2]),  # + itself: 3 < t = 4
        InvariantViolationError,
    )


def test_inv7_bad_consistency_signature() -> None:
    run, u, req = _at_unmask(True)
    first = req.signatures[0]
    bad = SignedSurvivors(signer=first.signer, signature=bytes(64))
    forged = dataclasses.replace(req, signatures=(bad, *req.signatures[1:]))
    _expect_abort(run.clients[u], forged, CryptoError)


def test_inv7_signature_of_a_non_survivor() -> None:
    run, u, req = _at_unmask(True, drop=(10,))
    extra = SignedSurvivors(signer=ClientId(10), signature=bytes(64))
    forged = dataclasses.replace(req, signatures=(extra, *req.signatures))
    _expect_abort(run.clients[u], forged, InvariantViolationError)


def test_inv4_consistency_request_without_the_receiver() -> None:
    run = Run(5)
    requests = run.run_to(ServerState.CONSISTENCY_CHECK)
    u = run.ids[0]
    req = requests[u]
    assert isinstance(req, ConsistencyCheckRequest)
    forged = dataclasses.replace(req, survivors=req.survivors[1:])
    _expect_abort(run.clients[u], forged, InvariantViolationError)


def test_bit_flips_in_authenticated_requests_are_always_detected() -> None:
    # In the malicious variant every byte of ShareKeys, MaskedInput and Unmask
    # requests is covered by a check: any single bit flip aborts the client.
    run = Run(4)
    run.finish()
    u = run.ids[1]
    genuine = _requests_for(run, u)
    order = [ShareKeysRequest, MaskedInputRequest, ConsistencyCheckRequest, UnmaskRequest]
    for kind in (ShareKeysRequest, MaskedInputRequest, UnmaskRequest):
        data = genuine[kind].encode()
        for position in range(0, len(data), max(1, len(data) // 50)):
            for bit in (0, 7):
                # Same seeds -> a client identical to the one the requests were made for.
                client = _clone_first_client_for(run, u)
                client.start()
                for step in order[: order.index(kind)]:
                    client.receive(genuine[step].encode())
                flipped = bytearray(data)
                flipped[position] ^= 1 << bit
                with pytest.raises(SecflError):
                    client.receive(bytes(flipped))
                assert client.state is ClientState.ABORTED


def _clone_first_client_for(run: Run, u: ClientId) -> SecAggClient:
    return Run(len(run.ids)).clients[u]


def test_malformed_bytes_abort_with_malformed_error() -> None:
    run = Run(3)
    run.advertise()
    client = run.clients[run.ids[0]]
    with pytest.raises(MalformedMessageError):
        client.receive(b"\x01\x02garbage")
    assert client.state is ClientState.ABORTED
