"""A malicious server with random split views never isolates honest inputs (secagg.md §9.2).

Each example runs the real clients against a scripted adversarial server that
withholds random share boxes, shows random groups of clients different
survivor sets, signs anything with the identity keys of corrupted clients,
and hands every client every valid signature it can carry. Corrupted clients
reveal all their shares. The oracle is the theorem of secagg.md §9.2,
computed independently of the client code from what the server collected:

- (a) no honest client has both its self-mask seed and its mask key
  reconstructible (t shares of each);
- (b) every group of honest masked inputs whose unknown pads cancel (an
  "open" component, §9.2 part (b)) has at least t - c members.

A positive control replays the security review's attack on the same harness:
with the protocol-v1 INV-7 rule patched into the client, the oracle flags it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from secfl.errors import InvariantViolationError, SecflError
from secfl.secagg import CommunicationGraph, RoundContext, SecAggClient, SecAggParams, _keys
from secfl.secagg.messages import (
    ConsistencyCheck,
    ConsistencyCheckRequest,
    EncryptedShare,
    MaskedInput,
    MaskedInputRequest,
    ShareKeys,
    ShareKeysRequest,
    SignedSurvivors,
    Unmask,
    UnmaskRequest,
)
from secfl.types import ClientId, RoundId

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "secagg"))
from secagg_harness import SESSION, Run


@dataclass
class Scenario:
    n: int
    graph: str
    degree: int | None
    threshold: int
    corrupted: frozenset[int]  # roster indices
    withheld: dict[int, frozenset[int]]  # receiver index -> sender indices not forwarded
    views: list[frozenset[int]]  # survivor sets, as roster indices
    assignment: dict[int, int | None]  # honest index -> view shown (None: not asked)
    seed: int = 0


@dataclass
class Knowledge:
    t: int
    c: int
    honest: set[ClientId]
    masked: set[ClientId] = field(default_factory=set)
    partners: dict[ClientId, set[ClientId]] = field(default_factory=dict)
    b_shares: dict[ClientId, set[ClientId]] = field(default_factory=dict)
    sk_shares: dict[ClientId, set[ClientId]] = field(default_factory=dict)

    def known_b(self) -> set[ClientId]:
        return {v for v, s in self.b_shares.items() if len(s) >= self.t}

    def known_sk(self) -> set[ClientId]:
        return {v for v, s in self.sk_shares.items() if len(s) >= self.t}

    def violations(self) -> list[str]:
        """The theorem's two claims, checked on the collected shares."""
        out = []
        known_b, known_sk = self.known_b(), self.known_sk()
        both = (known_b & known_sk) & self.honest
        if both:
            out.append(f"(a) both secrets of honest {sorted(both)}")
        # (b): components of honest masked inputs linked by shared unknown pads.
        nodes = self.masked & self.honest
        parent = {v: v for v in nodes}

        def find(v: ClientId) -> ClientId:
            while parent[v] != v:
                parent[v] = parent[parent[v]]
                v = parent[v]
            return v

        blocked = {v for v in nodes if v not in known_b}
        for v in nodes:
            for w in self.partners[v]:
                if v in known_sk or w in known_sk or w not in self.honest:
                    continue  # the server knows this pad (a dead or corrupted endpoint)
                if w in nodes and v in self.partners[w]:
                    parent[find(v)] = find(w)  # the pad cancels only together with y_w
                else:
                    blocked.add(v)  # a pad nobody else carries: y_v is useless
        groups: dict[ClientId, set[ClientId]] = {}
        for v in nodes:
            groups.setdefault(find(v), set()).add(v)
        for group in groups.values():
            if not group & blocked and len(group) < self.t - self.c:
                out.append(f"(b) open group {sorted(group)} smaller than t - c")
        return out


def _v1_rule(self: SecAggClient, msg: UnmaskRequest, survivors: set[ClientId]) -> None:
    """Protocol-v1 INV-7: t valid signatures on the set from the receiver's own holders."""
    assert self._pki is not None
    if msg.survivors != self._signed_survivors:
        raise InvariantViolationError("secagg.md INV-7 (v1): another set")
    encoded = _keys.encode_survivors(msg.survivors)
    for entry in msg.signatures:
        if entry.signer not in survivors or entry.signer not in self.holders:
            raise InvariantViolationError("secagg.md INV-7 (v1): outside the holders")
        self._pki.verify_key(entry.signer).verify(
            entry.signature, _keys.consistency_payload(self._digest, entry.signer, encoded)
        )
    if len(msg.signatures) < self.params.t:
        raise InvariantViolationError("secagg.md INV-7 (v1): too few signatures")


def attack(scn: Scenario, *, v1: bool = False) -> Knowledge:
    run = Run(
        scn.n,
        graph=scn.graph,
        degree=scn.degree,
        threshold=scn.threshold,
        d=2,
        seed=scn.seed,
    )
    ids = run.ids
    graph = CommunicationGraph(run.params, run.context)
    session, rnd = run.context.session_id, int(run.context.round_id)
    corrupted = {ids[i] for i in scn.corrupted}
    honest = set(ids) - corrupted
    c = max((len(graph.neighbours(v) & corrupted) for v in honest), default=0)
    know = Knowledge(t=run.params.t, c=c, honest=honest)

    adv = {u: run.clients[u].start() for u in ids}
    boxes: dict[ClientId, ShareKeys] = {}
    for u in ids:
        keys = tuple(adv[w].keys() for w in sorted(graph.holders(u)))
        reply = run.clients[u].receive(
            ShareKeysRequest(session_id=session, round_id=rnd, receiver=u, keys=keys).encode()
        )
        assert isinstance(reply, ShareKeys)
        boxes[u] = reply

    held: dict[ClientId, set[ClientId]] = {}
    for i, u in enumerate(ids):
        withheld = {ids[j] for j in scn.withheld.get(i, frozenset())} if u in honest else set()
        senders = sorted(graph.holders(u) - {u} - withheld)
        shares = tuple(
            EncryptedShare(peer=w, ciphertext=b.ciphertext)
            for w in senders
            for b in boxes[w].shares
            if b.peer == u
        )
        try:
            reply = run.clients[u].receive(
                MaskedInputRequest(
                    session_id=session, round_id=rnd, receiver=u, shares=shares
                ).encode()
            )
        except SecflError:
            continue  # INV-5: too few boxes; this client never masks
        assert isinstance(reply, MaskedInput)
        held[u] = {u, *senders}
        know.masked.add(u)
        know.partners[u] = set(senders)
    for u in corrupted & held.keys():  # corrupted holders hand over both shares
        for owner in held[u]:
            know.b_shares.setdefault(owner, set()).add(u)
            know.sk_shares.setdefault(owner, set()).add(u)

    views = [tuple(ids[i] for i in sorted(view)) for view in scn.views]
    shown: dict[ClientId, tuple[ClientId, ...]] = {}
    signatures: dict[tuple[ClientId, ...], dict[ClientId, bytes]] = {v: {} for v in views}
    digest = _keys.context_digest(run.params, run.context)
    for view in views:  # corrupted clients sign every set they appear in
        for w in corrupted & set(view):
            payload = _keys.consistency_payload(digest, w, _keys.encode_survivors(view))
            signatures[view][w] = run.identities[w].sign(payload)
    for i, u in enumerate(ids):
        index = scn.assignment.get(i)
        if u not in honest or u not in held or index is None:
            continue
        view = views[index]
        try:
            reply = run.clients[u].receive(
                ConsistencyCheckRequest(
                    session_id=session, round_id=rnd, receiver=u, survivors=view
                ).encode()
            )
        except SecflError:
            continue
        assert isinstance(reply, ConsistencyCheck)
        shown[u] = view
        signatures[view][u] = reply.signature

    for u, view in shown.items():
        if v1:
            allowed = graph.holders(u)
        else:
            allowed = frozenset().union(*(graph.holders(o) for o in held[u]))
        carried = tuple(
            SignedSurvivors(signer=w, signature=sig)
            for w, sig in sorted(signatures[view].items())
            if w in allowed
        )
        request = UnmaskRequest(
            session_id=session,
            round_id=rnd,
            receiver=u,
            survivors=view,
            dropped=tuple(sorted(held[u] - set(view))),
            signatures=carried,
        )
        try:
            reply = run.clients[u].receive(request.encode())
        except SecflError:
            continue
        assert isinstance(reply, Unmask)
        for s in reply.b_shares:
            know.b_shares.setdefault(s.owner, set()).add(u)
        for s in reply.sk_shares:
            know.sk_shares.setdefault(s.owner, set()).add(u)
    return know


def _graph(n: int, graph: str, degree: int | None) -> tuple[CommunicationGraph, list[ClientId]]:
    """The graph a harness Run(n, ...) uses, without building its clients."""
    params = SecAggParams(num_clients=n, graph=graph, degree=degree)
    ids = [ClientId(i) for i in range(10, 10 + n)]
    context = RoundContext(
        session_id=SESSION, round_id=RoundId(7), roster=tuple(ids), vector_length=1
    )
    return CommunicationGraph(params, context), ids


@st.composite
def scenarios(draw: st.DrawFn, graph: str) -> Scenario:
    """Random adversaries, half of them shaped like the review's attack.

    Targeted: a victim v keeps only the boxes of a random set M of at least
    t - 1 neighbours; v, M and a random arc around them are shown one set
    (roughly U minus v's other neighbours), everyone else another (roughly U
    minus M), with random extra drops and random deviations. Random: 1-3
    survivor sets missing a few clients each, shown to random arcs of the
    cycle, and a few withheld boxes.
    """
    if graph == "harary":
        n = draw(st.integers(8, 12))
        degree: int | None = draw(st.sampled_from([4, 4, 6]))
        assert degree is not None
        k = degree
    else:
        n = draw(st.integers(5, 8))
        degree = None
        k = n - 1
    corrupted = frozenset()
    if not draw(st.integers(0, 2)):  # a third of the runs corrupt one or two clients
        corrupted = frozenset(draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=2)))
    # The largest number of corrupted neighbours of an honest client (secagg.md A4).
    g, ids = _graph(n, graph, degree)
    index = {u: i for i, u in enumerate(ids)}
    bad = {ids[i] for i in corrupted}
    c = max((len(g.neighbours(v) & bad) for v in set(ids) - bad), default=0)
    t_min = (k + 1 + c) // 2 + 1
    if t_min > k + 1:
        corrupted, t_min = frozenset(), (k + 1) // 2 + 1
    # Mostly the smallest threshold (A4) allows: the adversary's best case.
    t = t_min if draw(st.integers(0, 3)) else min(k + 1, t_min + 1)
    order = [index[u] for u in g._order]  # roster indices in cycle order
    everyone = frozenset(range(n))

    def few() -> frozenset[int]:
        if draw(st.integers(0, 2)):
            return frozenset()
        return frozenset(draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=2)))

    def arc() -> frozenset[int]:
        start, length = draw(st.integers(0, n - 1)), draw(st.integers(0, n // 2))
        return frozenset(order[(start + j) % n] for j in range(length))

    withheld: dict[int, frozenset[int]] = {}
    if draw(st.integers(0, 2)):  # two thirds shaped like the review's attack
        p = draw(st.integers(0, n - 1))
        v = order[p]
        neighbours = sorted(index[u] for u in g.neighbours(ids[v]))
        # The review's choice: |M| = t - 1 (v's own share completes t b-shares of v),
        # with the neighbours at -k/2 and +k/2 (their other holders lie beyond v's
        # neighbourhood, where their s^SK can be collected).
        size = t - 1 if draw(st.integers(0, 3)) else draw(st.integers(t - 1, k))
        ends = [order[(p - k // 2) % n], order[(p + k // 2) % n]] if graph == "harary" else []
        rest = [i for i in draw(st.permutations(neighbours)) if i not in ends]
        m_set = frozenset([*ends, *rest][:size])
        withheld[v] = frozenset(neighbours) - m_set
        view_v = everyone - withheld[v] - few()
        view_s = everyone - m_set - few()
        group_v = m_set | {v} | (arc() if not draw(st.integers(0, 3)) else frozenset())
        views = [view_v, view_s]
        assignment: dict[int, int | None] = {i: 0 if i in group_v else 1 for i in range(n)}
        if not draw(st.integers(0, 2)):
            i = draw(st.integers(0, n - 1))
            assignment[i] = draw(st.sampled_from([None, 0, 1]))
    else:
        m = draw(st.integers(1, 3))
        views = [everyone - few() for _ in range(m)]
        assignment = {i: 0 for i in range(n)}
        for view in range(1, m):
            for i in arc():
                assignment[i] = view
        for i in draw(st.sets(st.integers(0, n - 1), max_size=3)):
            withheld[i] = few()
    return Scenario(
        n=n,
        graph=graph,
        degree=degree,
        threshold=t,
        corrupted=corrupted,
        withheld=withheld,
        views=views,
        assignment=assignment,
        seed=draw(st.integers(0, 2**16)),
    )


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@_settings(200)
@given(scenarios("harary"))
def test_harary_split_views_never_isolate_honest_inputs(scn: Scenario) -> None:
    assert attack(scn).violations() == []


@_settings(60)
@given(scenarios("complete"))
def test_complete_graph_split_views_never_isolate_honest_inputs(scn: Scenario) -> None:
    assert attack(scn).violations() == []


def _review_scenario() -> Scenario:
    """The review's attack in this harness's terms (n = 12, k = 4, t = 3, no corruption)."""
    n = 12
    g, ids = _graph(n, "harary", 4)
    order, index = g._order, {u: i for i, u in enumerate(ids)}
    pos = 5
    v = order[pos]
    m_set = {order[(pos - 2) % n], order[(pos + 2) % n]}
    others = g.holders(v) - m_set - {v}
    view_v = frozenset(index[u] for u in ids if u not in others)
    view_s = frozenset(index[u] for u in ids if u not in m_set)
    return Scenario(
        n=n,
        graph="harary",
        degree=4,
        threshold=3,
        corrupted=frozenset(),
        withheld={index[v]: frozenset(index[u] for u in others)},
        views=[view_v, view_s],
        assignment={index[u]: 0 if u in m_set | {v} else 1 for u in ids},
    )


def test_the_oracle_passes_the_review_attack_under_v2() -> None:
    assert attack(_review_scenario()).violations() == []


def test_positive_control_the_oracle_flags_the_review_attack_under_the_v1_rule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(SecAggClient, "_check_confirmations", _v1_rule)
    problems = attack(_review_scenario(), v1=True).violations()
    assert any(p.startswith("(b)") for p in problems), problems


def test_positive_control_the_random_adversary_breaks_the_v1_rule(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The same random search, against the client with the v1 INV-7 rule, finds a
    # violation: the property tests above have the power to see this break.
    monkeypatch.setattr(SecAggClient, "_check_confirmations", _v1_rule)
    found = find(
        scenarios("harary"),
        lambda scn: bool(attack(scn, v1=True).violations()),
        settings=settings(
            max_examples=200,
            derandomize=True,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
    monkeypatch.undo()
    assert attack(found).violations() == []  # and the v2 rule stops that very attack
