"""Malicious-server attacks, run end to end against secfl clients.

Each attack is written as the server would run it and is first shown to be
*real*: given the shares it is after, the attack code recovers one live
client's private input exactly. secfl's clients then refuse to hand those
shares over.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from secagg_harness import Run

from secfl.crypto import shamir
from secfl.crypto.x25519 import X25519KeyPair
from secfl.errors import InvariantViolationError, SecflError
from secfl.secagg import ClientState, ServerState, _keys
from secfl.secagg._masking import apply_masks, reduce_bits
from secfl.secagg.messages import (
    ConsistencyCheckRequest,
    MaskedInput,
    ServerMessage,
    SignedSurvivors,
    Unmask,
    UnmaskRequest,
)
from secfl.types import ClientId, Secret


def recover_input(run: Run, v: ClientId, seed: bytes, mask_key: bytes) -> np.ndarray:
    """What a server holding b_v and s_v^SK computes: x_v = y_v - masks."""
    session, rnd = run.context.session_id, int(run.context.round_id)
    masked = run.replies["MaskedInputCollection"][v]
    assert isinstance(masked, MaskedInput)
    x = np.array(masked.masked, copy=True)
    keys = {u: m for u, m in run.replies["AdvertiseKeys"].items()}
    pair = X25519KeyPair(Secret(mask_key))
    add, subtract = [], [_keys.self_mask_key(seed, session_id=session, round_id=rnd, owner=v)]
    for u in sorted(run.clients[v].holders - {v}):
        key = _keys.pairwise_mask_key(
            pair,
            keys[u].s_pk,  # type: ignore[union-attr]
            session_id=session,
            round_id=rnd,
            client=v,
            peer=u,
            client_s_pk=keys[v].s_pk,  # type: ignore[union-attr]
        )
        (subtract if v < u else add).append(key)
    apply_masks(x, add=add, subtract=subtract)
    reduce_bits(x, run.params.bits)
    return x


def reconstruct(shares: dict[ClientId, bytes], run: Run) -> bytes:
    t = run.params.t
    holders = sorted(shares)[:t]
    words = np.stack([shamir.shares_from_bytes(shares[w], 1) for w in holders])
    return shamir.reconstruct([run.context.point(w) for w in holders], words)[0]


def _collect(
    u: ClientId, reply: Unmask, v: ClientId, b: dict[ClientId, bytes], sk: dict[ClientId, bytes]
) -> None:
    """Record what holder u revealed about v."""
    for share in reply.b_shares:
        if share.owner == v:
            b[u] = share.share
    for share in reply.sk_shares:
        if share.owner == v:
            sk[u] = share.share


def _masked_stage_done(run: Run) -> dict[ClientId, ServerMessage]:
    requests = run.advertise()
    requests = run.step(requests)  # ShareKeys
    return run.step(requests)  # MaskedInputCollection -> next requests


def test_the_attack_is_real_given_both_secrets() -> None:
    # White-box sanity check of the attack code: with v's own b_v and s_v^SK, the
    # recovered vector is exactly v's private input.
    run = Run(5, malicious=False)
    v = run.ids[1]
    client = run.clients[v]
    _masked_stage_done(run)
    seed, mask_key = client._seed, client._s
    assert seed is not None
    assert mask_key is not None
    recovered = recover_input(run, v, seed.reveal(), mask_key.private.reveal())
    assert np.array_equal(recovered, run.inputs[v])


@pytest.mark.parametrize("malicious", [True, False])
def test_flower_attack_both_shares_of_a_live_client_is_refused(malicious: bool) -> None:
    # Flower's secaggplus_mod returns b-shares for every id in the "active" list and
    # s^SK-shares for every id in the "dead" list without checking that the lists
    # are disjoint, so a server that puts a live client v in both gets b_v and s_v^SK
    # and unmasks y_v. secfl: secagg.md INV-2 / INV-1.
    run = Run(7, malicious=malicious)
    requests = _masked_stage_done(run)
    if malicious:
        requests = run.step(requests)  # ConsistencyCheck, honestly
    v = run.ids[0]
    for u, request in requests.items():
        assert isinstance(request, UnmaskRequest)
        forged = dataclasses.replace(request, dropped=tuple(sorted({*request.dropped, v})))
        with pytest.raises(InvariantViolationError, match="INV-2"):
            run.clients[u].receive(forged.encode())
        assert run.clients[u].state is ClientState.ABORTED  # every holder refused


@pytest.mark.parametrize("split", ["complete", "harary"])
def test_split_view_attack_is_stopped_by_the_consistency_check(split: str) -> None:
    # The server tells group A that v survived and group B that v dropped, hoping to
    # collect t b-shares of v from A and t s^SK-shares from B. Each client signs its
    # view; at Unmasking it demands, for every owner it holds shares of (v among
    # them), t signatures on *its* view from that owner's holders. With
    # t > holders/2 (INV-6) both groups cannot reach t within v's holders.
    kwargs = {"degree": 4} if split == "harary" else {}
    run = Run(9, graph=split, **kwargs)  # type: ignore[arg-type]
    requests = _masked_stage_done(run)
    v = run.ids[4]
    holders = sorted(run.clients[v].holders - {v})
    group_b = set(holders[: len(holders) // 2])
    signatures: dict[ClientId, tuple[tuple[ClientId, ...], bytes]] = {}
    for u, request in requests.items():
        assert isinstance(request, ConsistencyCheckRequest)
        view = request.survivors
        if u in group_b:
            view = tuple(w for w in view if w != v)
        try:
            reply = run.clients[u].receive(dataclasses.replace(request, survivors=view).encode())
        except SecflError:
            continue
        signatures[u] = (view, reply.signature)  # type: ignore[union-attr]
    b_shares: dict[ClientId, bytes] = {}
    sk_shares: dict[ClientId, bytes] = {}
    for u in signatures:
        view = signatures[u][0]
        same_view = {w: s for w, (vw, s) in signatures.items() if vw == view}
        held = run.clients[u]._held.keys()
        # Every signature on the same view that could count for one of u's held owners.
        graph = run.clients[u]._graph
        region = frozenset().union(*(graph.holders(o) for o in held))
        request = UnmaskRequest(
            session_id=run.context.session_id,
            round_id=int(run.context.round_id),
            receiver=u,
            survivors=view,
            dropped=tuple(sorted(set(held) - set(view))),
            signatures=tuple(
                SignedSurvivors(signer=w, signature=s)
                for w, s in sorted(same_view.items())
                if w in region
            ),
        )
        try:
            reply = run.clients[u].receive(request.encode())
        except SecflError:
            continue
        assert isinstance(reply, Unmask)
        _collect(u, reply, v, b_shares, sk_shares)
    t = run.params.t
    # The majority view completes (v's b-shares: v counts as a survivor, fine);
    # the minority that was told "v dropped" never gathers t confirmations.
    assert len(b_shares) >= t
    assert len(sk_shares) < t


def test_without_consistency_and_with_low_threshold_the_split_view_works() -> None:
    # Why the malicious variant insists on ConsistencyCheck and t > holders/2: with
    # an honest-but-curious configuration and t <= n/2, a lying server succeeds.
    run = Run(8, malicious=False, threshold=3)
    requests = _masked_stage_done(run)
    v = run.ids[0]
    group_a = set(run.ids[1:4])  # told: v survived
    b_shares: dict[ClientId, bytes] = {}
    sk_shares: dict[ClientId, bytes] = {}
    for u, request in requests.items():
        assert isinstance(request, UnmaskRequest)
        if u == v:
            continue
        if u in group_a:
            forged = request
        else:
            forged = dataclasses.replace(
                request,
                survivors=tuple(w for w in request.survivors if w != v),
                dropped=tuple(sorted({*request.dropped, v})),
            )
        reply = run.clients[u].receive(forged.encode())
        assert isinstance(reply, Unmask)
        _collect(u, reply, v, b_shares, sk_shares)
    seed = reconstruct(b_shares, run)
    mask_key = reconstruct(sk_shares, run)
    assert np.array_equal(recover_input(run, v, seed, mask_key), run.inputs[v])


def test_with_default_threshold_the_same_split_view_fails() -> None:
    run = Run(8, malicious=False)  # t = 5 > 8/2
    requests = _masked_stage_done(run)
    v = run.ids[0]
    group_a = set(run.ids[1:5])
    b_shares: dict[ClientId, bytes] = {}
    sk_shares: dict[ClientId, bytes] = {}
    for u, request in requests.items():
        assert isinstance(request, UnmaskRequest)
        if u == v:
            continue
        forged = request
        if u not in group_a:
            forged = dataclasses.replace(
                request,
                survivors=tuple(w for w in request.survivors if w != v),
                dropped=tuple(sorted({*request.dropped, v})),
            )
        try:
            reply = run.clients[u].receive(forged.encode())
        except SecflError:
            continue
        assert isinstance(reply, Unmask)
        _collect(u, reply, v, b_shares, sk_shares)
    t = run.params.t
    assert not (len(b_shares) >= t and len(sk_shares) >= t)


def test_declaring_a_live_client_dropped_reveals_only_a_still_masked_vector() -> None:
    # Consistently claiming "v dropped" to everyone gets s_v^SK but never b_v: the
    # self mask PRG(b_v) keeps y_v hidden, and the sum excludes v.
    run = Run(6, malicious=True)
    requests = _masked_stage_done(run)
    v = run.ids[2]
    forged_requests = {}
    for u, request in requests.items():
        assert isinstance(request, ConsistencyCheckRequest)
        forged_requests[u] = dataclasses.replace(
            request, survivors=tuple(w for w in request.survivors if w != v)
        )
    sk_shares: dict[ClientId, bytes] = {}
    for u in forged_requests:
        if u == v:
            continue
        run.clients[u].receive(forged_requests[u].encode())
    assert run.server.state is ServerState.CONSISTENCY_CHECK
    # Even granting the server s_v^SK, without b_v it recovers noise, not x_v.
    wrong_seed = bytes(32)
    mask_key = run.clients[v]._s
    assert mask_key is not None
    guess = recover_input(run, v, wrong_seed, mask_key.private.reveal())
    assert not np.array_equal(guess, run.inputs[v])
    del sk_shares
