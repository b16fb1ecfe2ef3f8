"""View consistency (secagg.md INV-7) and context binding (INV-13), client and server side.

INV-7: before revealing anything, a client checks that for *every* owner whose
shares it holds, at least t of that owner's holders (itself counting once)
signed exactly the survivor set it signed; every carried signature must be
from a roster survivor whose signature can count for one of those owners, and
must verify. INV-13: every signature and share box is bound to the context
digest, so material from a run with any other public parameter fails.
"""

from __future__ import annotations

import dataclasses
import struct

import pytest
from secagg_harness import Run

from secfl.errors import (
    CryptoError,
    InvariantViolationError,
    MalformedMessageError,
    SecflError,
    ThresholdNotMetError,
)
from secfl.secagg import ClientState, CommunicationGraph, SecAggClient, ServerState, _keys
from secfl.secagg.messages import (
    ConsistencyCheck,
    ConsistencyCheckRequest,
    EncryptedShare,
    MaskedInputRequest,
    ServerMessage,
    ShareKeysRequest,
    SignedSurvivors,
    UnmaskRequest,
)
from secfl.types import ClientId


def _expect_abort(
    client: SecAggClient, message: ServerMessage | bytes, error: type[SecflError], cite: str = ""
) -> None:
    data = message if isinstance(message, bytes) else message.encode()
    with pytest.raises(error) as info:
        client.receive(data)
    assert cite in str(info.value)
    assert client.state is ClientState.ABORTED


def _harary_at_unmask(n: int = 12, degree: int = 4) -> tuple[Run, dict[ClientId, ServerMessage]]:
    run = Run(n, graph="harary", degree=degree)  # t = degree / 2 + 1
    requests = run.run_to(ServerState.UNMASKING)
    return run, requests


def _at(graph: CommunicationGraph, u: ClientId, offset: int) -> ClientId:
    order = graph._order
    return order[(order.index(u) + offset) % len(order)]


# ------------------------------------------------------------------ honest server


def test_without_dropouts_a_harary_request_carries_exactly_the_receivers_holders() -> None:
    # 2t - 1 = k + 1 confirmations are necessary (the owners at -k/2 and +k/2 share
    # only the receiver), and H(u) suffices: the server sends no more than that.
    run, requests = _harary_at_unmask(14, 6)
    for u, request in requests.items():
        assert isinstance(request, UnmaskRequest)
        assert {s.signer for s in request.signatures} == run.clients[u].holders - {u}
    for u, request in requests.items():
        run.clients[u].receive(request.encode())
        assert run.clients[u].state is ClientState.DONE


def test_with_dropouts_every_request_meets_every_held_owners_quorum() -> None:
    # Independent recount of INV-7 for each request the honest server builds.
    run = Run(20, graph="harary", degree=6, seed=3)  # t = 4
    graph = CommunicationGraph(run.params, run.context)
    requests = run.advertise()
    requests = run.step(requests, skip=[run.ids[2]])  # ShareKeys
    requests = run.step(requests, skip=[run.ids[9]])  # MaskedInputCollection
    requests = run.step(requests, skip=[run.ids[4], run.ids[15]])  # ConsistencyCheck
    t = run.params.t
    for u, request in requests.items():
        assert isinstance(request, UnmaskRequest)
        confirmed = {u} | {s.signer for s in request.signatures}
        for owner in run.clients[u]._held:
            assert len(graph.holders(owner) & confirmed) >= t
    result_requests = run.step(requests)
    assert result_requests == {}
    result = run.server.result()
    assert result.total.tolist() == run.expected_sum(result.contributors).tolist()


def test_complete_graph_request_carries_t_minus_one_other_signatures() -> None:
    run = Run(7)  # t = 4
    requests = run.run_to(ServerState.UNMASKING)
    for u, request in requests.items():
        assert isinstance(request, UnmaskRequest)
        signers = [s.signer for s in request.signatures]
        assert len(signers) == run.params.t - 1
        assert u not in signers


# ------------------------------------------------------------------ INV-7 at the client


def test_inv7_t_confirmations_from_the_receivers_own_holders_are_not_enough() -> None:
    # The v1 rule would accept this request (u and 3 of its holders signed, t = 3);
    # but the owner at +k/2 then has only 2 confirming holders.
    run, requests = _harary_at_unmask()
    graph = CommunicationGraph(run.params, run.context)
    u = run.ids[3]
    req = requests[u]
    assert isinstance(req, UnmaskRequest)
    far = _at(graph, u, +2)
    forged = dataclasses.replace(
        req, signatures=tuple(s for s in req.signatures if s.signer != far)
    )
    assert len(forged.signatures) + 1 >= run.params.t
    _expect_abort(run.clients[u], forged, InvariantViolationError, "INV-7")


def test_inv7_signer_outside_the_roster() -> None:
    run, requests = _harary_at_unmask()
    u = run.ids[0]
    req = requests[u]
    assert isinstance(req, UnmaskRequest)
    extra = SignedSurvivors(signer=ClientId(2**63), signature=bytes(64))
    forged = dataclasses.replace(req, signatures=(*req.signatures, extra))
    _expect_abort(run.clients[u], forged, InvariantViolationError, "outside the roster")


def test_inv7_genuine_signature_of_a_survivor_outside_the_region() -> None:
    # A valid signature on the same set, but from a client that holds no share of
    # any owner the receiver holds: it could only serve to inflate a count.
    run, requests = _harary_at_unmask()
    graph = CommunicationGraph(run.params, run.context)
    u = run.ids[0]
    req = requests[u]
    assert isinstance(req, UnmaskRequest)
    far = _at(graph, u, 6)  # distance 6 > k = 4
    reply = run.replies["ConsistencyCheck"][far]
    assert isinstance(reply, ConsistencyCheck)
    extra = SignedSurvivors(signer=far, signature=reply.signature)
    forged = dataclasses.replace(
        req, signatures=tuple(sorted((*req.signatures, extra), key=lambda s: s.signer))
    )
    _expect_abort(run.clients[u], forged, InvariantViolationError, "outside the held owners")


def test_inv7_signature_of_a_non_survivor() -> None:
    run = Run(7)
    requests = run.advertise()
    requests = run.step(requests)
    requests = run.step(requests, skip=[run.ids[0]])  # ids[0] drops before masking
    requests = run.step(requests)
    u = run.ids[-1]
    req = requests[u]
    assert isinstance(req, UnmaskRequest)
    extra = SignedSurvivors(signer=run.ids[0], signature=bytes(64))
    forged = dataclasses.replace(req, signatures=(extra, *req.signatures))
    _expect_abort(run.clients[u], forged, InvariantViolationError, "non-survivor")


def test_inv7_signatures_swapped_between_signers() -> None:
    run, requests = _harary_at_unmask()
    u = run.ids[1]
    req = requests[u]
    assert isinstance(req, UnmaskRequest)
    a, b, *rest = req.signatures
    swapped = (
        SignedSurvivors(signer=a.signer, signature=b.signature),
        SignedSurvivors(signer=b.signer, signature=a.signature),
        *rest,
    )
    _expect_abort(run.clients[u], dataclasses.replace(req, signatures=swapped), CryptoError)


def test_inv7_duplicate_signer_is_malformed() -> None:
    run = Run(7)
    requests = run.run_to(ServerState.UNMASKING)
    u = run.ids[-1]
    req = requests[u]
    assert isinstance(req, UnmaskRequest)
    data = bytearray(req.encode())
    count_at = len(data) - 4 - 72 * len(req.signatures)
    (count,) = struct.unpack_from("<I", data, count_at)
    assert count == len(req.signatures)
    struct.pack_into("<I", data, count_at, count + 1)
    data += data[-72:]  # the last signer again: counted twice if accepted
    _expect_abort(run.clients[u], bytes(data), MalformedMessageError)


@pytest.mark.parametrize("graph", ["complete", "harary"])
def test_a_server_presenting_two_survivor_sets(graph: str) -> None:
    # Half of the clients are shown S_a (everyone), the other half S_b (everyone but
    # a client z of the first half). Each half signs its own set. A receiver of S_b
    # gets (1) the S_b signatures it may carry: too few for some held owner -> INV-7;
    # (2) those plus S_a signatures relabelled as S_b confirmations -> CryptoError.
    kwargs = {"degree": 4} if graph == "harary" else {}
    run = Run(10, graph=graph, **kwargs)  # type: ignore[arg-type]
    requests = run.run_to(ServerState.CONSISTENCY_CHECK)
    ids = run.ids
    order = CommunicationGraph(run.params, run.context)._order  # roster order if complete
    # Alternate positions on the cycle: every holder set of 5 (Harary, k = 4) has
    # only 2 members of some group; the complete graph splits 5 / 5 with t = 6.
    group_a, group_b = set(order[::2]), set(order[1::2])
    z = order[0]
    u = order[3]
    s_a = tuple(ids)
    s_b = tuple(w for w in ids if w != z)
    sigs: dict[ClientId, bytes] = {}
    for w, request in requests.items():
        assert isinstance(request, ConsistencyCheckRequest)
        view = s_a if w in group_a else s_b
        reply = run.clients[w].receive(dataclasses.replace(request, survivors=view).encode())
        assert isinstance(reply, ConsistencyCheck)
        sigs[w] = reply.signature
    assert u in group_b
    held = run.clients[u]._held
    base = UnmaskRequest(
        session_id=run.context.session_id,
        round_id=int(run.context.round_id),
        receiver=u,
        survivors=s_b,
        dropped=(z,) if z in held else (),
        signatures=tuple(
            SignedSurvivors(signer=w, signature=sigs[w]) for w in sorted(group_b - {u})
        ),
    )
    clone = Run(10, graph=graph, **kwargs).clients[u]  # type: ignore[arg-type]
    if graph == "harary":
        # Only carry signers that can count for u's owners (else INV-7 on the region).
        region = frozenset().union(*(run.clients[u]._graph.holders(o) for o in held))
        base = dataclasses.replace(
            base, signatures=tuple(s for s in base.signatures if s.signer in region)
        )
    _expect_abort(run.clients[u], base, InvariantViolationError, "INV-7")
    # Same client state again (identical seeds), now with S_a signatures mixed in.
    for step in (ServerState.SHARE_KEYS, ServerState.MASKED_INPUT_COLLECTION):
        if step is ServerState.SHARE_KEYS:
            clone.start()
        clone.receive(run.requests[step][u].encode())
    ccr = run.requests[ServerState.CONSISTENCY_CHECK][u]
    clone.receive(dataclasses.replace(ccr, survivors=s_b).encode())
    mixed = tuple(
        sorted(
            (*base.signatures, SignedSurvivors(signer=order[2], signature=sigs[order[2]])),
            key=lambda s: s.signer,
        )
    )
    _expect_abort(clone, dataclasses.replace(base, signatures=mixed), CryptoError)


# ------------------------------------------------------------------ INV-13: context binding

VARIANTS = {
    "round": {"round_id": 8},
    "session": {"session": bytes(32)},
    "threshold": {"threshold": 5},
    "vector_length": {"d": 7},
    "bits": {"bits": 20},
    "graph": {"graph": "harary", "degree": 6},
}


def _twins(variant: dict[str, object]) -> tuple[Run, Run]:
    """Two runs with identical seeds (so identical identity keys, key pairs and
    survivor sets) whose public contexts differ in one field only."""
    return Run(7), Run(7, **variant)  # type: ignore[arg-type]


@pytest.mark.parametrize("variant", VARIANTS.values(), ids=VARIANTS.keys())
def test_inv13_consistency_signatures_from_another_context_fail(variant: dict[str, object]) -> None:
    run, other = _twins(variant)
    requests = run.run_to(ServerState.UNMASKING)
    other_requests = other.run_to(ServerState.UNMASKING)
    u = run.ids[-1]
    req, replayed = requests[u], other_requests[u]
    assert isinstance(req, UnmaskRequest)
    assert isinstance(replayed, UnmaskRequest)
    assert req.survivors == replayed.survivors
    assert replayed.signatures != req.signatures  # same signers, keys and set
    forged = dataclasses.replace(req, signatures=replayed.signatures)
    _expect_abort(run.clients[u], forged, CryptoError)


@pytest.mark.parametrize("variant", VARIANTS.values(), ids=VARIANTS.keys())
def test_inv13_advertisement_signatures_from_another_context_fail(
    variant: dict[str, object],
) -> None:
    run, other = _twins(variant)
    requests = run.advertise()
    other_requests = other.advertise()
    u = run.ids[0]
    req, replayed = requests[u], other_requests[u]
    assert isinstance(req, ShareKeysRequest)
    assert isinstance(replayed, ShareKeysRequest)
    # Same key pairs in both runs; only the signatures' context differs.
    assert [(k.c_pk, k.s_pk) for k in req.keys] == [(k.c_pk, k.s_pk) for k in replayed.keys]
    keys = (req.keys[0], replayed.keys[1], *req.keys[2:])
    _expect_abort(run.clients[u], dataclasses.replace(req, keys=keys), CryptoError)


def test_inv13_share_box_from_a_run_with_another_threshold_fails() -> None:
    # Same session, round, ids and key pairs, so the same box key: only the
    # associated data (the context digest) tells the two boxes apart.
    run, other = _twins({"threshold": 5})
    requests = run.run_to(ServerState.MASKED_INPUT_COLLECTION)
    other_requests = other.run_to(ServerState.MASKED_INPUT_COLLECTION)
    u = run.ids[0]
    req, replayed = requests[u], other_requests[u]
    assert isinstance(req, MaskedInputRequest)
    assert isinstance(replayed, MaskedInputRequest)
    box = replayed.shares[0]
    assert box.peer == req.shares[0].peer
    shares = (EncryptedShare(peer=box.peer, ciphertext=box.ciphertext), *req.shares[1:])
    _expect_abort(run.clients[u], dataclasses.replace(req, shares=shares), CryptoError)


def test_context_digest_covers_every_public_field() -> None:
    digests = {
        _keys.context_digest(r.params, r.context)
        for r in (
            Run(7),
            *(
                Run(7, **v)
                for v in VARIANTS.values()  # type: ignore[arg-type]
            ),
            Run(7, ids=range(20, 27)),
        )
    }
    assert len(digests) == len(VARIANTS) + 2


# ------------------------------------------------------------------ server side


def test_server_excludes_a_consistency_signature_from_another_context() -> None:
    run, other = _twins({"threshold": 5})
    requests = run.run_to(ServerState.CONSISTENCY_CHECK)
    other_requests = other.run_to(ServerState.CONSISTENCY_CHECK)
    u = run.ids[0]
    foreign = other.clients[u].receive(other_requests[u].encode())
    with pytest.raises(CryptoError):
        run.server.receive(foreign.encode(), sender=u)
    assert u in run.server.excluded
    del requests


def test_server_stops_before_any_reveal_when_an_owner_lacks_t_confirmations() -> None:
    # Harary n=12, k=4, t=3: three consecutive clients on the cycle stay silent at
    # ConsistencyCheck, so the middle one's holder set has only 2 confirmations
    # left and its secret can no longer be reconstructed or confirmed.
    run = Run(12, graph="harary", degree=4)
    graph = CommunicationGraph(run.params, run.context)
    requests = run.run_to(ServerState.CONSISTENCY_CHECK)
    middle = run.ids[5]
    silent = {_at(graph, middle, off) for off in (-1, 0, 1)}
    for u, request in requests.items():
        if u in silent:
            continue
        reply = run.clients[u].receive(request.encode())
        run.server.receive(reply.encode(), sender=u)
    with pytest.raises(ThresholdNotMetError):
        run.server.advance()
    assert run.server.state is ServerState.ABORTED
