"""Review finding: a malicious server recovers a live client's input in SecAgg+ (Harary).

No client is corrupted; malicious variant, default threshold (t = k/2 + 1).

The server (1) forwards to the target v only the share boxes of M, t - 1 of its
neighbours including the two at cycle distance k/2, so v masks with M only
(v's INV-5 check, |HELD(v)| >= t, passes); (2) shows two survivor views:
S_v = U minus v's non-M neighbours to {v} u M, and S = U minus M to everyone
else. Under the protocol-v1 rule (INV-7 asked for t signatures from the
*receiver's* holders only) every client's checks passed, because in a sparse
graph the two views have disjoint local majorities: v revealed its own b-share
under S_v, its t - 1 non-M neighbours revealed b_v-shares under S (v is a
survivor there) and the s^SK-shares of M (dropped there), and y_v was unmasked.

Protocol v2 (secagg.md INV-7) asks, for every owner whose shares a client
reveals, t signatures on the identical set from *that owner's* holders. The
test runs the attack against the real client (it must fail: every holder of v
refuses, nothing about v is revealed) and, as a positive control, against the
same client with the v1 rule patched back in (it must succeed), so the test
demonstrably exercises the attack rather than some unrelated refusal.
"""

from __future__ import annotations

import numpy as np
import pytest
from secagg_harness import Run

from secfl.crypto import shamir
from secfl.crypto.x25519 import X25519KeyPair
from secfl.errors import InvariantViolationError, SecflError
from secfl.secagg import ClientState, SecAggClient, _keys
from secfl.secagg._masking import apply_masks, reduce_bits
from secfl.secagg.graph import CommunicationGraph
from secfl.secagg.messages import (
    ConsistencyCheck,
    ConsistencyCheckRequest,
    MaskedInput,
    MaskedInputRequest,
    ShareKeys,
    ShareKeysRequest,
    SignedSurvivors,
    Unmask,
    UnmaskRequest,
)
from secfl.types import ClientId, Secret


def _reconstruct(run: Run, shares: dict[ClientId, bytes]) -> bytes | None:
    t = run.params.t
    holders = sorted(shares)[:t]
    if len(holders) < t:
        return None
    words = np.stack([shamir.shares_from_bytes(shares[w], 1) for w in holders])
    return shamir.reconstruct([run.context.point(w) for w in holders], words)[0]


def _v1_rule(self: SecAggClient, msg: UnmaskRequest, survivors: set[ClientId]) -> None:
    """The protocol-v1 INV-7 check: t valid signatures on the set from *our* holders."""
    assert self._pki is not None
    assert msg.survivors == self._signed_survivors
    encoded = _keys.encode_survivors(msg.survivors)
    for entry in msg.signatures:
        assert entry.signer in survivors
        assert entry.signer in self.holders
        self._pki.verify_key(entry.signer).verify(
            entry.signature, _keys.consistency_payload(self._digest, entry.signer, encoded)
        )
    if len(msg.signatures) < self.params.t:
        raise InvariantViolationError("secagg.md INV-7 (v1): too few signatures")


@pytest.fixture
def v1_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SecAggClient, "_check_confirmations", _v1_rule)


class Outcome:
    def __init__(self) -> None:
        self.recovered = False
        self.refusals: dict[ClientId, SecflError] = {}
        self.b_v: dict[ClientId, bytes] = {}
        self.sk: dict[ClientId, dict[ClientId, bytes]] = {}
        self.m_set: set[ClientId] = set()


def _attack(n: int, degree: int | None, *, own_holders_only: bool) -> tuple[Run, ClientId, Outcome]:
    """Run the attack; the server hands each receiver every signature on its view
    it may carry (its own holders' under the v1 rule; any client whose signature
    could count for one of its held owners under v2)."""
    run = Run(n, graph="harary", degree=degree, malicious=True)
    k = run.params.k
    assert run.params.t == k // 2 + 1  # the default threshold
    session, rnd = run.context.session_id, int(run.context.round_id)
    graph = CommunicationGraph(run.params, run.context)
    order = graph._order
    n = len(order)
    pos = 5
    v = order[pos]
    # M: the two neighbours at distance k/2 plus k/2 - 2 more on one side.
    offsets = {-(k // 2), k // 2, *range(1, k // 2 - 1)}
    m_set = {order[(pos + off) % n] for off in offsets}
    assert len(m_set) == run.params.t - 1
    holders_v = graph.holders(v)
    others_v = holders_v - m_set - {v}  # v's non-M neighbours (t - 1 of them)

    # AdvertiseKeys and ShareKeys run honestly.
    adv = {u: run.clients[u].start() for u in run.ids}
    share_keys: dict[ClientId, ShareKeys] = {}
    for u in run.ids:
        req = ShareKeysRequest(
            session_id=session,
            round_id=rnd,
            receiver=u,
            keys=tuple(adv[w].keys() for w in sorted(graph.holders(u))),
        )
        reply = run.clients[u].receive(req.encode())
        assert isinstance(reply, ShareKeys)
        share_keys[u] = reply

    # MaskedInputCollection: v only gets the boxes of M.
    masked: dict[ClientId, MaskedInput] = {}
    held_by: dict[ClientId, set[ClientId]] = {}
    for u in run.ids:
        senders = sorted(w for w in graph.holders(u) - {u} if u != v or w in m_set)
        held_by[u] = {u, *senders}
        boxes = []
        for w in senders:
            (box,) = [b for b in share_keys[w].shares if b.peer == u]
            boxes.append(type(box)(peer=w, ciphertext=box.ciphertext))
        req2 = MaskedInputRequest(session_id=session, round_id=rnd, receiver=u, shares=tuple(boxes))
        reply2 = run.clients[u].receive(req2.encode())
        assert isinstance(reply2, MaskedInput)
        masked[u] = reply2

    view_s = tuple(sorted(set(run.ids) - m_set))
    view_v = tuple(sorted(set(run.ids) - others_v))
    views = {u: (view_v if u in m_set | {v} else view_s) for u in run.ids}

    signatures: dict[ClientId, bytes] = {}
    for u in run.ids:
        req3 = ConsistencyCheckRequest(
            session_id=session, round_id=rnd, receiver=u, survivors=views[u]
        )
        reply3 = run.clients[u].receive(req3.encode())  # every client signs its view
        assert isinstance(reply3, ConsistencyCheck)
        signatures[u] = reply3.signature

    out = Outcome()
    out.sk = {w: {} for w in m_set}
    out.m_set = m_set
    for u in sorted(set(run.ids) - m_set):  # M members are not asked to unmask
        view = views[u]
        if own_holders_only:
            allowed = graph.holders(u)
        else:
            allowed = frozenset().union(*(graph.holders(o) for o in held_by[u]))
        signers = [w for w in sorted(allowed) if views[w] == view]
        req4 = UnmaskRequest(
            session_id=session,
            round_id=rnd,
            receiver=u,
            survivors=view,
            dropped=tuple(sorted(held_by[u] - set(view))),
            signatures=tuple(SignedSurvivors(signer=w, signature=signatures[w]) for w in signers),
        )
        try:
            reply4 = run.clients[u].receive(req4.encode())
        except SecflError as exc:
            out.refusals[u] = exc
            assert run.clients[u].state is ClientState.ABORTED
            continue
        assert isinstance(reply4, Unmask)
        for s in reply4.b_shares:
            if s.owner == v:
                out.b_v[u] = s.share
        for s in reply4.sk_shares:
            if s.owner in out.sk:
                out.sk[s.owner][u] = s.share

    seed = _reconstruct(run, out.b_v)
    keys = {w: _reconstruct(run, out.sk[w]) for w in sorted(m_set)}
    if seed is None or any(key is None for key in keys.values()):
        return run, v, out
    x = np.array(masked[v].masked, copy=True)
    add: list[bytes] = []
    sub = [_keys.self_mask_key(seed, session_id=session, round_id=rnd, owner=v)]
    for w, secret in keys.items():
        assert secret is not None
        pair = X25519KeyPair(Secret(secret))
        assert pair.public == adv[w].s_pk
        key = _keys.pairwise_mask_key(
            pair,
            adv[v].s_pk,
            session_id=session,
            round_id=rnd,
            client=w,
            peer=v,
            client_s_pk=adv[w].s_pk,
        )
        (sub if v < w else add).append(key)
    apply_masks(x, add=add, subtract=sub)
    reduce_bits(x, run.params.bits)
    out.recovered = bool(np.array_equal(x, run.inputs[v]))
    return run, v, out


CASES = [(12, 4), (40, None)]


@pytest.mark.parametrize(("n", "degree"), CASES)
def test_harary_split_view_cannot_recover_a_live_clients_input(n: int, degree: int | None) -> None:
    run, v, out = _attack(n, degree, own_holders_only=False)
    assert not out.recovered
    # Not merely "the arithmetic failed": every holder of v that was asked refused
    # on INV-7 (its held owner v, or an owner in M, lacks t confirmations), so
    # not a single share of v's self-mask seed reached the server.
    asked_holders = run.clients[v].holders - out.m_set  # v and its t - 1 other neighbours
    assert len(asked_holders) == run.params.t
    assert out.b_v == {}
    assert all(
        isinstance(out.refusals[u], InvariantViolationError) and "INV-7" in str(out.refusals[u])
        for u in asked_holders
    )


@pytest.mark.usefixtures("v1_rule")
@pytest.mark.parametrize(("n", "degree"), CASES)
def test_positive_control_the_attack_recovers_the_input_under_the_v1_rule(
    n: int, degree: int | None
) -> None:
    # The identical attack against the same client with only the INV-7 check
    # swapped back to its v1 form: nobody refuses and the server unmasks y_v.
    _, _, out = _attack(n, degree, own_holders_only=True)
    assert out.refusals == {}
    assert out.recovered
