"""Any list of consistency signatures: the client answers exactly when INV-7 holds.

A SecAgg+ client (n = 12, k = 4, t = 3; one client dropped before masking, one
silent at ConsistencyCheck) is brought to its Unmask request; Hypothesis
then replaces the request's signature list with an arbitrary one: signers from
the roster, outside it, dropped, far away on the cycle, with genuine
signatures, signatures on another survivor set, under another context, or
random bytes; sometimes duplicated or out of order (only possible as raw
bytes). A naive reference model of secagg.md INV-7 (written from the spec)
predicts the outcome: the exact error type, or the reply. The client must
match it, and must be ABORTED after any error — never an unexpected exception.
"""

from __future__ import annotations

import dataclasses
import struct
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from secfl.errors import CryptoError, InvariantViolationError, MalformedMessageError, SecflError
from secfl.secagg import ClientState, CommunicationGraph, SecAggClient, ServerState, _keys
from secfl.secagg.messages import SignedSurvivors, Unmask, UnmaskRequest
from secfl.types import ClientId

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "secagg"))
from secagg_harness import Run

OUTSIDER = ClientId(10**6)
KINDS = ["genuine", "genuine", "genuine", "other_set", "other_context", "random"]


def _reference() -> tuple[Run, ClientId, UnmaskRequest, dict[tuple[ClientId, str], bytes]]:
    run = Run(12, graph="harary", degree=4, seed=5)
    requests = run.advertise()
    requests = run.step(requests)
    requests = run.step(requests, skip=[run.ids[7]])  # never masks: not a survivor
    graph = CommunicationGraph(run.params, run.context)
    u = run.ids[0]
    # A holder of u stays silent at ConsistencyCheck: the server needs a signer
    # from beyond u's own neighbourhood for some owner.
    order = graph._order
    silent = order[(order.index(u) + 1) % len(order)]
    requests = run.step(requests, skip=[silent])
    request = requests[u]
    assert isinstance(request, UnmaskRequest)
    digest = _keys.context_digest(run.params, run.context)
    other_digest = _keys.context_digest(dataclasses.replace(run.params, threshold=4), run.context)
    same = _keys.encode_survivors(request.survivors)
    other = _keys.encode_survivors(request.survivors[1:])
    pool: dict[tuple[ClientId, str], bytes] = {}
    for w in run.ids:
        key = run.identities[w]
        pool[w, "genuine"] = key.sign(_keys.consistency_payload(digest, w, same))
        pool[w, "other_set"] = key.sign(_keys.consistency_payload(digest, w, other))
        pool[w, "other_context"] = key.sign(_keys.consistency_payload(other_digest, w, same))
    return run, u, request, pool


RUN, U, REQUEST, POOL = _reference()
GRAPH = CommunicationGraph(RUN.params, RUN.context)


def _fresh_client() -> SecAggClient:
    """A client identical to RUN.clients[U], in state CONSISTENCY_SIGNED."""
    client = Run(12, graph="harary", degree=4, seed=5).clients[U]
    client.start()
    for state in (
        ServerState.SHARE_KEYS,
        ServerState.MASKED_INPUT_COLLECTION,
        ServerState.CONSISTENCY_CHECK,
    ):
        client.receive(RUN.requests[state][U].encode())
    assert client.state is ClientState.CONSISTENCY_SIGNED
    return client


def _predict(entries: list[tuple[ClientId, bytes]]) -> type[SecflError] | None:
    """secagg.md INV-7, naively: the first bad entry decides; then the per-owner counts."""
    survivors = set(REQUEST.survivors)
    held = set(REQUEST.survivors) & GRAPH.holders(U) | set(REQUEST.dropped)
    region = set().union(*(GRAPH.holders(o) for o in held))
    confirmed = {U}
    for signer, signature in entries:
        if signer not in RUN.context or signer not in survivors or signer not in region:
            return InvariantViolationError
        if signature != POOL.get((signer, "genuine")):
            return CryptoError
        confirmed.add(signer)
    for owner in held:
        if len(GRAPH.holders(owner) & confirmed) < RUN.params.t:
            return InvariantViolationError
    return None


@st.composite
def signature_lists(draw: st.DrawFn) -> tuple[list[tuple[ClientId, bytes]], bool]:
    """Half: the honest list with a few edits (near misses and successes); half: random."""
    candidates = [*RUN.ids, OUTSIDER]

    def entry(signer: ClientId) -> tuple[ClientId, bytes]:
        kind = draw(st.sampled_from(KINDS))
        if signer == OUTSIDER or kind == "random":
            return signer, draw(st.binary(min_size=64, max_size=64))
        return signer, POOL[signer, kind]

    if draw(st.booleans()):
        entries = [(s.signer, s.signature) for s in REQUEST.signatures]
        for _ in range(draw(st.integers(0, 2))):
            edit = draw(st.sampled_from(["drop", "add", "replace"]))
            if edit == "add" or not entries:
                entries.append(entry(draw(st.sampled_from(candidates))))
            else:
                i = draw(st.integers(0, len(entries) - 1))
                signer = entries.pop(i)[0]
                if edit == "replace":
                    entries.insert(i, entry(signer))
    else:
        signers = draw(st.lists(st.sampled_from(candidates), max_size=12))
        entries = [entry(signer) for signer in signers]
    canonical = draw(st.booleans())
    if canonical:  # what a typed message can carry: distinct signers, increasing
        entries = sorted(dict(entries).items())
    return entries, canonical


def _raw_request(entries: list[tuple[ClientId, bytes]]) -> bytes:
    head = dataclasses.replace(REQUEST, signatures=()).encode()[:-4]
    body = b"".join(struct.pack("<Q", s) + sig for s, sig in entries)
    return head + struct.pack("<I", len(entries)) + body


@settings(
    max_examples=250, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(signature_lists())
def test_any_signature_list_is_answered_exactly_when_inv7_holds(
    case: tuple[list[tuple[ClientId, bytes]], bool],
) -> None:
    entries, canonical = case
    client = _fresh_client()
    signers = [s for s, _ in entries]
    if not canonical and signers != sorted(set(signers)):
        expected: type[SecflError] | None = MalformedMessageError
    else:
        expected = _predict(entries)
    event("answered" if expected is None else expected.__name__)
    if expected is not None:
        with pytest.raises(SecflError) as info:
            client.receive(_raw_request(entries))
        assert info.type is expected, info.value
        assert client.state is ClientState.ABORTED
        return
    reply = client.receive(_raw_request(entries))
    assert isinstance(reply, Unmask)
    assert client.state is ClientState.DONE


def test_the_honest_request_is_answered_and_needs_a_signer_beyond_the_neighbourhood() -> None:
    signers = {s.signer for s in REQUEST.signatures}
    assert not signers <= GRAPH.holders(U)  # the silent holder forced a farther signer
    client = _fresh_client()
    assert isinstance(client.receive(REQUEST.encode()), Unmask)
    assert _predict([(s.signer, s.signature) for s in REQUEST.signatures]) is None
    bare = [SignedSurvivors(signer=s.signer, signature=s.signature) for s in REQUEST.signatures]
    assert bare == list(REQUEST.signatures)
