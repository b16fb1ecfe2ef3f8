"""Generate the SecAgg test vectors in ``protocols/vectors/secagg/`` (secagg.md §Test vectors).

Usage (from the repository root; ``PYTHONPATH=.`` makes the script import the
``secfl`` of this tree rather than any installed copy)::

    PYTHONPATH=. python protocols/vectors/generate_secagg.py          # rewrite
    PYTHONPATH=. python protocols/vectors/generate_secagg.py --check  # exit 1 on drift

Every vector is a deterministic function of the seeds written into it: the
identity keys come from ``identity_seeds`` (Ed25519 seeds), each client's
randomness from ``client_seeds`` (a seeded :class:`secfl.crypto.random.CSPRNG`),
so a replay reproduces every message byte for byte. A vector is a list of
``operations`` in the order they were executed, each with its exact input
and output bytes; failing cases end with an operation that must raise the
named error (and, for invariant checks, cite the named invariant).
``tests/vectors/test_secagg_vectors.py`` replays the files and fails if the
generator's output differs from them.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from secfl.crypto import aead
from secfl.crypto.random import CSPRNG
from secfl.crypto.signature import SigningKey
from secfl.errors import SecflError
from secfl.secagg import (
    IdentityPKI,
    RoundContext,
    SecAggClient,
    SecAggParams,
    SecAggServer,
    ServerState,
    _keys,
)
from secfl.secagg.graph import CommunicationGraph
from secfl.secagg.messages import (
    ConsistencyCheck,
    ConsistencyCheckRequest,
    EncryptedShare,
    MaskedInput,
    MaskedInputRequest,
    RevealedShare,
    ServerMessage,
    ShareKeys,
    ShareKeysRequest,
    SignedSurvivors,
    Unmask,
    UnmaskRequest,
)
from secfl.types import ClientId, RoundId, Secret

OUT_DIR = Path(__file__).resolve().parent / "secagg"
FORMAT = "secfl/secagg-vectors/v2"


def _seed(label: str, *parts: object) -> bytes:
    """Deterministic 32-byte seeds from a name (recorded in the vector)."""
    text = "/".join([label, *map(str, parts)]).encode()
    return hashlib.sha256(b"secfl/v1/secagg/test-vector-seed/" + text).digest()


class Recorder:
    """Runs the parties of one vector and records every operation."""

    def __init__(
        self,
        name: str,
        description: str,
        *,
        n: int,
        d: int,
        malicious: bool = True,
        graph: str = "complete",
        degree: int | None = None,
        threshold: int | None = None,
        bits: int = 32,
        ids: Iterable[int] | None = None,
    ) -> None:
        self.name = name
        self.params = SecAggParams(
            num_clients=n,
            threshold=threshold,
            bits=bits,
            graph=graph,
            degree=degree,
            malicious=malicious,
        )
        ids = list(ids) if ids is not None else [3 * i + 2 for i in range(n)]
        self.context = RoundContext(
            session_id=_seed(name, "session"),
            round_id=RoundId(7),
            roster=tuple(ClientId(i) for i in ids),
            vector_length=d,
        )
        self.identity_seeds = {u: _seed(name, "identity", u) for u in self.context.roster}
        self.client_seeds = {u: _seed(name, "client", u) for u in self.context.roster}
        data = np.random.default_rng(int.from_bytes(_seed(name, "inputs")[:8], "little"))
        self.inputs = {
            u: data.integers(0, 1 << bits, size=d, dtype=np.uint64).astype(self.params.dtype)
            for u in self.context.roster
        }
        self.pki: IdentityPKI | None = None
        identities: dict[ClientId, SigningKey] = {}
        self.identities = identities
        if malicious:
            identities.update({u: SigningKey(Secret(s)) for u, s in self.identity_seeds.items()})
            self.pki = IdentityPKI({u: k.verify_key for u, k in identities.items()})
        self.clients = {
            u: SecAggClient(
                client_id=u,
                params=self.params,
                context=self.context,
                identity_key=identities.get(u),
                pki=self.pki,
                rng=CSPRNG(self.client_seeds[u]),
                input=self.inputs[u],
            )
            for u in self.context.roster
        }
        self.server = SecAggServer(params=self.params, context=self.context, pki=self.pki)
        self.operations: list[dict[str, Any]] = []
        self.description = description
        self.dropouts: dict[str, list[int]] = {}
        self.done = False

    # -------------------------------------------------------------- recording

    def start(self, skip: Iterable[int] = ()) -> dict[ClientId, ServerMessage]:
        skip = set(skip)
        if skip:
            self.dropouts["AdvertiseKeys"] = sorted(skip)
        for u in self.context.roster:
            if u in skip:
                continue
            data = self.clients[u].start().encode()
            self.operations.append({"op": "client.start", "client": u, "output": data.hex()})
            self.server.receive(data, sender=u)
            self.operations.append({"op": "server.receive", "client": u, "input": data.hex()})
        return self.advance()

    def client_receive(self, u: ClientId, message: ServerMessage) -> Any:
        """Deliver a (possibly forged) request straight to a client and record it."""
        data = message.encode()
        reply = self.clients[u].receive(data)
        self.operations.append(
            {
                "op": "client.receive",
                "client": u,
                "input": data.hex(),
                "output": reply.encode().hex(),
            }
        )
        return reply

    def advance(self) -> dict[ClientId, ServerMessage]:
        requests = self.server.advance()
        self.operations.append(
            {
                "op": "server.advance",
                "state": self.server.state.value,
                "output": {str(u): r.encode().hex() for u, r in sorted(requests.items())},
            }
        )
        return requests

    def step(
        self, requests: dict[ClientId, ServerMessage], skip: Iterable[int] = ()
    ) -> dict[ClientId, ServerMessage]:
        skip = set(skip)
        if skip:
            self.dropouts[self.server.state.value] = sorted(skip)
        for u, request in sorted(requests.items()):
            if u in skip:
                continue
            data = request.encode()
            reply = self.clients[u].receive(data).encode()
            self.operations.append(
                {"op": "client.receive", "client": u, "input": data.hex(), "output": reply.hex()}
            )
            self.server.receive(reply, sender=u)
            self.operations.append({"op": "server.receive", "client": u, "input": reply.hex()})
        return self.advance()

    def run_to(
        self, state: ServerState, drops: dict[str, set[int]] | None = None
    ) -> dict[ClientId, ServerMessage]:
        drops = drops or {}
        requests = self.start(drops.get("AdvertiseKeys", ()))
        while self.server.state is not state and requests:
            requests = self.step(requests, drops.get(self.server.state.value, ()))
        return requests

    def finish(self, drops: dict[str, set[int]] | None = None) -> None:
        requests = self.run_to(ServerState.DONE, drops)
        assert not requests
        result = self.server.result()
        self.operations.append(
            {
                "op": "server.result",
                "total": [int(x) for x in result.total],
                "contributors": sorted(int(u) for u in result.contributors),
            }
        )
        self.done = True

    def expect_client_failure(
        self,
        u: ClientId,
        message: ServerMessage | bytes,
        error: type[SecflError],
        invariant: str | None,
    ) -> None:
        data = message if isinstance(message, bytes) else message.encode()
        try:
            self.clients[u].receive(data)
        except error as exc:
            if invariant is not None and invariant not in str(exc):
                raise AssertionError(f"{self.name}: {exc} does not cite {invariant}") from exc
        else:
            raise AssertionError(f"{self.name}: {error.__name__} expected")
        op: dict[str, Any] = {
            "op": "client.receive",
            "client": u,
            "input": data.hex(),
            "error": error.__name__,
        }
        if invariant is not None:
            op["invariant"] = invariant
        self.operations.append(op)
        self.done = True

    def expect_server_failure(
        self,
        action: str,
        error: type[SecflError],
        invariant: str | None = None,
        *,
        client: int | None = None,
        data: bytes = b"",
    ) -> None:
        try:
            if action == "advance":
                self.server.advance()
            else:
                self.server.receive(data, sender=client)
        except error as exc:
            if invariant is not None and invariant not in str(exc):
                raise AssertionError(f"{self.name}: {exc} does not cite {invariant}") from exc
        else:
            raise AssertionError(f"{self.name}: {error.__name__} expected")
        op: dict[str, Any] = {"op": f"server.{action}", "error": error.__name__}
        if action == "receive":
            op.update({"client": client, "input": data.hex()})
        if invariant is not None:
            op["invariant"] = invariant
        self.operations.append(op)
        self.done = True

    def vector(self, invariants: list[str] | None = None) -> dict[str, Any]:
        assert self.done, self.name
        failing = "error" in self.operations[-1]
        return {
            "format": FORMAT,
            "name": self.name,
            "description": self.description,
            "success": not failing,
            "invariants": invariants or [],
            "params": {
                "num_clients": self.params.num_clients,
                "threshold": self.params.t,
                "bits": self.params.bits,
                "graph": self.params.graph_kind.value,
                "degree": self.params.k,
                "malicious": self.params.malicious,
            },
            "context": {
                "session_id": self.context.session_id.hex(),
                "round_id": int(self.context.round_id),
                "roster": [int(u) for u in self.context.roster],
                "vector_length": self.context.vector_length,
                "context_digest": _keys.context_digest(self.params, self.context).hex(),
            },
            "identity_seeds": (
                {str(u): s.hex() for u, s in self.identity_seeds.items()}
                if self.params.malicious
                else {}
            ),
            "client_seeds": {str(u): s.hex() for u, s in self.client_seeds.items()},
            "inputs": {str(u): [int(x) for x in v] for u, v in self.inputs.items()},
            "dropouts": self.dropouts,
            "operations": self.operations,
        }


# ------------------------------------------------------------------ the vectors


def _replace(message: ServerMessage, **changes: Any) -> ServerMessage:
    return dataclasses.replace(message, **changes)  # type: ignore[type-var]


def positive_vectors() -> list[dict[str, Any]]:
    out = []
    r = Recorder(
        "complete_honest",
        "SecAgg, honest-but-curious server, no dropout.",
        n=4,
        d=3,
        malicious=False,
    )
    r.finish()
    out.append(r.vector())

    r = Recorder(
        "complete_malicious_dropouts",
        "SecAgg with the malicious-server variant; one client drops at each of ShareKeys, "
        "MaskedInputCollection and ConsistencyCheck.",
        n=7,
        d=4,
    )
    r.finish({"ShareKeys": {2}, "MaskedInputCollection": {5}, "ConsistencyCheck": {8}})
    out.append(r.vector())

    r = Recorder(
        "harary_malicious_dropouts",
        "SecAgg+ on a Harary graph of degree 4 (9 clients); dropouts at MaskedInputCollection "
        "and Unmasking.",
        n=9,
        d=4,
        graph="harary",
        degree=4,
        threshold=3,
    )
    r.finish({"MaskedInputCollection": {14}, "Unmasking": {20}})
    out.append(r.vector())

    r = Recorder(
        "honest_bits20_dropouts",
        "20-bit words, honest-but-curious server, dropouts at AdvertiseKeys and Unmasking.",
        n=5,
        d=5,
        malicious=False,
        bits=20,
        threshold=3,
    )
    r.finish({"AdvertiseKeys": {2}, "Unmasking": {14}})
    out.append(r.vector())

    r = Recorder("malicious_bits64", "64-bit words (uint64), malicious variant.", n=3, d=3, bits=64)
    r.finish()
    out.append(r.vector())
    return out


def failing_vectors() -> list[dict[str, Any]]:
    from secfl.errors import (
        CryptoError,
        InvariantViolationError,
        MalformedMessageError,
        ThresholdNotMetError,
        UnexpectedMessageError,
    )

    out = []

    def client_case(
        name: str,
        description: str,
        invariants: list[str],
        state: ServerState,
        forge: Callable[[Recorder, ServerMessage, ClientId], ServerMessage | bytes],
        error: type[SecflError],
        cite: str | None,
        *,
        malicious: bool = True,
        n: int = 5,
        drops: dict[str, set[int]] | None = None,
    ) -> None:
        r = Recorder(name, description, n=n, d=2, malicious=malicious)
        requests = r.run_to(state, drops)
        u = r.context.roster[-1]
        r.expect_client_failure(u, forge(r, requests[u], u), error, cite)
        out.append(r.vector(invariants))

    def unmask_drop(r: Recorder, req: ServerMessage, u: ClientId) -> ServerMessage:
        assert isinstance(req, UnmaskRequest)
        v = r.context.roster[0]
        return _replace(req, dropped=tuple(sorted({*req.dropped, v})))

    client_case(
        "fail_inv1_inv2_both_shares_of_a_live_client",
        "The Flower attack: the server lists a live client as survivor and dropped to get "
        "both its b-share and its s^SK-share.",
        ["INV-1", "INV-2"],
        ServerState.UNMASKING,
        unmask_drop,
        InvariantViolationError,
        "INV-2",
    )
    client_case(
        "fail_inv1_inv2_honest_mode",
        "The same attack against the honest-but-curious configuration: still refused.",
        ["INV-1", "INV-2"],
        ServerState.UNMASKING,
        unmask_drop,
        InvariantViolationError,
        "INV-2",
        malicious=False,
    )

    # INV-1 across requests: a second Unmask request (for the other share) after DONE.
    r = Recorder(
        "fail_inv1_inv10_second_unmask_request",
        "After answering one Unmask request the client is DONE and refuses a second one "
        "that would ask for the other share of the same client.",
        n=5,
        d=2,
        malicious=False,
    )
    requests = r.run_to(ServerState.UNMASKING)
    u = r.context.roster[-1]
    first = requests[u]
    data = first.encode()
    reply = r.clients[u].receive(data).encode()
    r.operations.append(
        {"op": "client.receive", "client": u, "input": data.hex(), "output": reply.hex()}
    )
    v = r.context.roster[0]
    assert isinstance(first, UnmaskRequest)
    second = _replace(
        first,
        survivors=tuple(w for w in first.survivors if w != v),
        dropped=tuple(sorted({*first.dropped, v})),
    )
    r.expect_client_failure(u, second, UnexpectedMessageError, None)
    out.append(r.vector(["INV-1", "INV-10"]))

    client_case(
        "fail_inv3_dropped_client_not_held",
        "The Unmask request names a dropped client whose shares the receiver does not hold.",
        ["INV-3"],
        ServerState.UNMASKING,
        lambda r, req, u: _replace(req, dropped=(*req.dropped, ClientId(10**6))),  # type: ignore[attr-defined]
        InvariantViolationError,
        "INV-3",
        malicious=False,
    )
    client_case(
        "fail_inv3_held_owner_unaccounted",
        "The Unmask request omits a dropped client whose shares the receiver holds.",
        ["INV-3"],
        ServerState.UNMASKING,
        lambda r, req, u: _replace(req, dropped=()),
        InvariantViolationError,
        "INV-3",
        malicious=False,
        n=6,
        drops={"MaskedInputCollection": {2}},
    )
    client_case(
        "fail_inv4_receiver_not_a_survivor",
        "The ConsistencyCheck request omits its own receiver from the survivors.",
        ["INV-4"],
        ServerState.CONSISTENCY_CHECK,
        lambda r, req, u: _replace(req, survivors=tuple(w for w in req.survivors if w != u)),  # type: ignore[attr-defined]
        InvariantViolationError,
        "INV-4",
    )

    def too_few(r: Recorder, req: ServerMessage, u: ClientId) -> ServerMessage:
        assert isinstance(req, UnmaskRequest)
        survivors = (r.context.roster[0], u)
        held = set(req.survivors) | set(req.dropped)
        return _replace(req, survivors=survivors, dropped=tuple(sorted(held - set(survivors))))

    client_case(
        "fail_inv5_too_few_survivors",
        "The Unmask request claims only 2 survivors while t = 3.",
        ["INV-5"],
        ServerState.UNMASKING,
        too_few,
        InvariantViolationError,
        "INV-5",
        malicious=False,
    )

    def few_keys(r: Recorder, req: ServerMessage, u: ClientId) -> ServerMessage:
        assert isinstance(req, ShareKeysRequest)
        return _replace(
            req, keys=tuple(k for k in req.keys if k.client in (u, r.context.roster[0]))
        )

    client_case(
        "fail_inv5_too_few_holders_at_share_keys",
        "The ShareKeys request carries the keys of only 2 holders while t = 3.",
        ["INV-5"],
        ServerState.SHARE_KEYS,
        few_keys,
        InvariantViolationError,
        "INV-5",
    )

    def other_view(r: Recorder, req: ServerMessage, u: ClientId) -> ServerMessage:
        assert isinstance(req, UnmaskRequest)
        v = r.context.roster[0]
        return _replace(req, survivors=tuple(w for w in req.survivors if w != v), dropped=(v,))

    client_case(
        "fail_inv7_survivors_differ_from_signed",
        "The Unmask request's survivor set differs from the one the client signed.",
        ["INV-7"],
        ServerState.UNMASKING,
        other_view,
        InvariantViolationError,
        "INV-7",
    )
    client_case(
        "fail_inv7_too_few_signatures",
        "The Unmask request carries 1 consistency signature: with the receiver's own, 2 "
        "confirmations while t = 3.",
        ["INV-7"],
        ServerState.UNMASKING,
        lambda r, req, u: _replace(req, signatures=req.signatures[:1]),  # type: ignore[attr-defined]
        InvariantViolationError,
        "INV-7",
    )

    def bad_sig(r: Recorder, req: ServerMessage, u: ClientId) -> ServerMessage:
        assert isinstance(req, UnmaskRequest)
        first = req.signatures[0]
        return _replace(
            req,
            signatures=(
                SignedSurvivors(signer=first.signer, signature=bytes(64)),
                *req.signatures[1:],
            ),
        )

    client_case(
        "fail_inv7_forged_signature",
        "One consistency signature in the Unmask request does not verify.",
        ["INV-7"],
        ServerState.UNMASKING,
        bad_sig,
        CryptoError,
        None,
    )

    def forged_keys(r: Recorder, req: ServerMessage, u: ClientId) -> ServerMessage:
        assert isinstance(req, ShareKeysRequest)
        k = req.keys[0]
        return _replace(req, keys=(dataclasses.replace(k, s_pk=bytes([9]) * 32), *req.keys[1:]))

    client_case(
        "fail_inv8_forged_advertisement",
        "The server substitutes a client's mask public key; the identity signature fails.",
        ["INV-8"],
        ServerState.SHARE_KEYS,
        forged_keys,
        CryptoError,
        None,
    )

    def altered_own(r: Recorder, req: ServerMessage, u: ClientId) -> ServerMessage:
        assert isinstance(req, ShareKeysRequest)
        return _replace(
            req,
            keys=tuple(
                dataclasses.replace(k, c_pk=bytes([4]) * 32) if k.client == u else k
                for k in req.keys
            ),
        )

    client_case(
        "fail_inv8_own_keys_altered",
        "The ShareKeys request shows the receiver's own encryption key altered.",
        ["INV-8"],
        ServerState.SHARE_KEYS,
        altered_own,
        InvariantViolationError,
        "INV-8",
    )

    def tampered_box(r: Recorder, req: ServerMessage, u: ClientId) -> ServerMessage:
        assert isinstance(req, MaskedInputRequest)
        box = req.shares[0]
        bad = bytearray(box.ciphertext)
        bad[-1] ^= 0x80
        return _replace(
            req, shares=(EncryptedShare(peer=box.peer, ciphertext=bytes(bad)), *req.shares[1:])
        )

    client_case(
        "fail_inv9_tampered_share_box",
        "One encrypted share box was modified by the server.",
        ["INV-9"],
        ServerState.MASKED_INPUT_COLLECTION,
        tampered_box,
        CryptoError,
        None,
    )

    def swapped_box(r: Recorder, req: ServerMessage, u: ClientId) -> ServerMessage:
        assert isinstance(req, MaskedInputRequest)
        a, b = req.shares[0], req.shares[1]
        return _replace(
            req,
            shares=(
                EncryptedShare(peer=a.peer, ciphertext=b.ciphertext),
                EncryptedShare(peer=b.peer, ciphertext=a.ciphertext),
                *req.shares[2:],
            ),
        )

    client_case(
        "fail_inv9_relabelled_share_box",
        "The server relabels two boxes' senders; the associated data no longer matches.",
        ["INV-9"],
        ServerState.MASKED_INPUT_COLLECTION,
        swapped_box,
        CryptoError,
        None,
    )
    client_case(
        "fail_inv10_replay_from_another_session",
        "A request from another session is replayed to the client.",
        ["INV-10"],
        ServerState.SHARE_KEYS,
        lambda r, req, u: _replace(req, session_id=bytes(32)),
        UnexpectedMessageError,
        None,
    )
    client_case(
        "fail_inv10_out_of_order",
        "An Unmask request arrives while the client waits for the ShareKeys request.",
        ["INV-10"],
        ServerState.SHARE_KEYS,
        lambda r, req, u: UnmaskRequest(
            session_id=r.context.session_id,
            round_id=7,
            receiver=u,
            survivors=tuple(r.context.roster),
            dropped=(),
        ),
        UnexpectedMessageError,
        None,
    )
    client_case(
        "fail_inv10_truncated",
        "A truncated request.",
        ["INV-10"],
        ServerState.MASKED_INPUT_COLLECTION,
        lambda r, req, u: req.encode()[:-5],
        MalformedMessageError,
        None,
    )

    client_case(
        "fail_inv7_signer_outside_roster",
        "The Unmask request carries a consistency signature of a client outside the roster.",
        ["INV-7"],
        ServerState.UNMASKING,
        lambda r, req, u: _replace(
            req,
            signatures=(
                *req.signatures,
                SignedSurvivors(signer=ClientId(10**9), signature=bytes(64)),
            ),  # type: ignore[attr-defined]
        ),
        InvariantViolationError,
        "INV-7",
    )
    out.extend(_harary_inv7_vectors(InvariantViolationError))
    out.extend(_inv13_vectors(CryptoError))

    # INV-6: a configuration, not a run.
    out.append(
        {
            "format": FORMAT,
            "name": "fail_inv6_low_threshold_in_malicious_mode",
            "description": "The malicious-server variant refuses t <= holders / 2.",
            "success": False,
            "invariants": ["INV-6"],
            "params": {
                "num_clients": 10,
                "threshold": 5,
                "bits": 32,
                "graph": "complete",
                "degree": 9,
                "malicious": True,
            },
            "operations": [{"op": "params", "error": "ConfigurationError"}],
        }
    )

    # INV-11: not enough live holders -> stop before any reveal.
    r = Recorder(
        "fail_inv11_threshold_not_met_before_reveal",
        "Only 2 of 5 clients send masked inputs (t = 3): the server stops before asking "
        "anyone for a share.",
        n=5,
        d=2,
    )
    requests = r.start()
    requests = r.step(requests)
    roster = r.context.roster
    for u in roster[:2]:
        data = requests[u].encode()
        reply = r.clients[u].receive(data).encode()
        r.operations.append(
            {"op": "client.receive", "client": u, "input": data.hex(), "output": reply.hex()}
        )
        r.server.receive(reply, sender=u)
        r.operations.append({"op": "server.receive", "client": u, "input": reply.hex()})
    r.dropouts["MaskedInputCollection"] = [int(u) for u in roster[2:]]
    r.expect_server_failure("advance", ThresholdNotMetError, "INV-11")
    out.append(r.vector(["INV-11"]))

    r = Recorder(
        "fail_inv11_tampered_share_detected",
        "A holder returns a corrupted b-share; the reconstructed seed fails its commitment.",
        n=5,
        d=2,
        malicious=False,
        threshold=5,
    )
    requests = r.run_to(ServerState.UNMASKING)
    for u in r.context.roster:
        data = requests[u].encode()
        reply_msg = r.clients[u].receive(data)
        assert isinstance(reply_msg, Unmask)
        genuine = reply_msg.encode()
        if u == r.context.roster[1]:
            s0 = reply_msg.b_shares[0]
            raw = bytearray(s0.share)
            raw[0] ^= 1
            reply_msg = dataclasses.replace(
                reply_msg,
                b_shares=(RevealedShare(owner=s0.owner, share=bytes(raw)), *reply_msg.b_shares[1:]),
            )
        reply = reply_msg.encode()  # what the (lying) holder actually sends
        r.operations.append(
            {"op": "client.receive", "client": u, "input": data.hex(), "output": genuine.hex()}
        )
        r.server.receive(reply, sender=u)
        r.operations.append({"op": "server.receive", "client": u, "input": reply.hex()})
    r.expect_server_failure("advance", CryptoError, "INV-11")
    out.append(r.vector(["INV-11"]))

    r = Recorder(
        "fail_inv12_malformed_client_message_excluded",
        "A client's AdvertiseKeys is garbage: the server rejects it and excludes that client.",
        n=4,
        d=2,
        malicious=False,
    )
    r.expect_server_failure(
        "receive", MalformedMessageError, None, client=r.context.roster[0], data=b"\x01\x01garbage"
    )
    out.append(r.vector(["INV-12"]))
    return out


def _harary_inv7_vectors(violation: type[SecflError]) -> list[dict[str, Any]]:
    """INV-7 in a sparse graph: per-owner quorums, the confirmation region, the review attack."""
    out = []

    def harary(name: str, description: str) -> tuple[Recorder, CommunicationGraph]:
        r = Recorder(name, description, n=12, d=2, graph="harary", degree=4)  # t = 3
        return r, CommunicationGraph(r.params, r.context)

    def at(graph: CommunicationGraph, u: ClientId, offset: int) -> ClientId:
        order = graph._order
        return order[(order.index(u) + offset) % len(order)]

    r, graph = harary(
        "fail_inv7_owner_quorum_not_met",
        "SecAgg+ (n = 12, k = 4, t = 3): the Unmask request carries the signatures of 3 of the "
        "receiver's 4 neighbours, t confirmations among its own holders, but the owner at "
        "cycle distance +2 then has only 2 confirming holders.",
    )
    requests = r.run_to(ServerState.UNMASKING)
    u = r.context.roster[-1]
    req = requests[u]
    assert isinstance(req, UnmaskRequest)
    far = at(graph, u, 2)
    r.expect_client_failure(
        u,
        _replace(req, signatures=tuple(s for s in req.signatures if s.signer != far)),
        violation,
        "INV-7",
    )
    out.append(r.vector(["INV-7"]))

    r, graph = harary(
        "fail_inv7_signer_outside_region",
        "SecAgg+: the Unmask request adds a genuine signature on the same set from a client "
        "at cycle distance 6 > k, whose signature counts for no owner the receiver holds.",
    )
    requests = r.run_to(ServerState.UNMASKING)
    u = r.context.roster[-1]
    req = requests[u]
    assert isinstance(req, UnmaskRequest)
    far = at(graph, u, 6)
    survivors = _keys.encode_survivors(req.survivors)
    digest = _keys.context_digest(r.params, r.context)
    extra = SignedSurvivors(
        signer=far,
        signature=r.identities[far].sign(_keys.consistency_payload(digest, far, survivors)),
    )
    signatures = tuple(sorted((*req.signatures, extra), key=lambda s: s.signer))
    r.expect_client_failure(u, _replace(req, signatures=signatures), violation, "INV-7")
    out.append(r.vector(["INV-7"]))

    # The split-view attack of the security review, recorded message by message.
    r, graph = harary(
        "fail_inv7_harary_split_view",
        "The security review's split-view attack on SecAgg+ (n = 12, k = 4, t = 3), no "
        "server operations: target v gets the share boxes of M = {its neighbour at +2, "
        "its neighbour at -2} only; v and M are shown S_v = U minus v's other neighbours, "
        "everyone else S = U minus M. Every client signs its view. v is asked to unmask "
        "under S_v with every S_v signature it may carry: the owner at -2 has only 2 "
        "confirming holders, so v refuses (under protocol v1, which counted only v's own "
        "holders, v would have revealed its b-share and the server would have unmasked y_v).",
    )
    roster = r.context.roster
    order = graph._order
    v = order[5]
    m_set = {at(graph, v, -2), at(graph, v, 2)}
    others = graph.holders(v) - m_set - {v}
    adv = {}
    for w in roster:
        message = r.clients[w].start()
        r.operations.append({"op": "client.start", "client": w, "output": message.encode().hex()})
        adv[w] = message
    session, rnd = r.context.session_id, int(r.context.round_id)
    share_keys: dict[ClientId, ShareKeys] = {}
    for w in roster:
        share_keys[w] = r.client_receive(
            w,
            ShareKeysRequest(
                session_id=session,
                round_id=rnd,
                receiver=w,
                keys=tuple(adv[x].keys() for x in sorted(graph.holders(w))),
            ),
        )
    held: dict[ClientId, set[ClientId]] = {}
    for w in roster:
        senders = sorted(x for x in graph.holders(w) - {w} if w != v or x in m_set)
        held[w] = {w, *senders}
        boxes = tuple(
            EncryptedShare(peer=x, ciphertext=b.ciphertext)
            for x in senders
            for b in share_keys[x].shares
            if b.peer == w
        )
        reply = r.client_receive(
            w, MaskedInputRequest(session_id=session, round_id=rnd, receiver=w, shares=boxes)
        )
        assert isinstance(reply, MaskedInput)
    view_v = tuple(x for x in roster if x not in others)
    view_s = tuple(x for x in roster if x not in m_set)
    views = {w: view_v if w in m_set | {v} else view_s for w in roster}
    sigs = {}
    for w in roster:
        reply = r.client_receive(
            w,
            ConsistencyCheckRequest(
                session_id=session, round_id=rnd, receiver=w, survivors=views[w]
            ),
        )
        assert isinstance(reply, ConsistencyCheck)
        sigs[w] = reply.signature
    region = frozenset().union(*(graph.holders(o) for o in held[v]))
    r.expect_client_failure(
        v,
        UnmaskRequest(
            session_id=session,
            round_id=rnd,
            receiver=v,
            survivors=view_v,
            dropped=tuple(sorted(held[v] - set(view_v))),
            signatures=tuple(
                SignedSurvivors(signer=x, signature=sigs[x])
                for x in sorted(region)
                if views[x] == view_v and x != v
            ),
        ),
        violation,
        "INV-7",
    )
    out.append(r.vector(["INV-7"]))
    return out


def _inv13_vectors(crypto_error: type[SecflError]) -> list[dict[str, Any]]:
    """INV-13: signatures and boxes made for a context that differs in one parameter."""
    out = []

    def other_digest(r: Recorder) -> bytes:
        # The same run except for the threshold: session, round, roster and keys agree.
        params = dataclasses.replace(r.params, threshold=r.params.t + 1)
        return _keys.context_digest(params, r.context)

    r = Recorder(
        "fail_inv13_consistency_signature_from_another_context",
        "Every consistency signature in the Unmask request is genuine, by the right signer "
        "on the right survivor set, session and round, but was made for a run with "
        "threshold t + 1: the context digest differs and verification fails.",
        n=5,
        d=2,
    )
    requests = r.run_to(ServerState.UNMASKING)
    u = r.context.roster[-1]
    req = requests[u]
    assert isinstance(req, UnmaskRequest)
    survivors = _keys.encode_survivors(req.survivors)
    digest = other_digest(r)
    replayed = tuple(
        SignedSurvivors(
            signer=s.signer,
            signature=r.identities[s.signer].sign(
                _keys.consistency_payload(digest, s.signer, survivors)
            ),
        )
        for s in req.signatures
    )
    r.expect_client_failure(u, _replace(req, signatures=replayed), crypto_error, None)
    out.append(r.vector(["INV-7", "INV-13"]))

    r = Recorder(
        "fail_inv13_advertisement_from_another_context",
        "A holder's advertised keys are genuine but signed for a run with threshold t + 1.",
        n=5,
        d=2,
    )
    requests = r.run_to(ServerState.SHARE_KEYS)
    u = r.context.roster[-1]
    req = requests[u]
    assert isinstance(req, ShareKeysRequest)
    k = req.keys[0]
    resigned = dataclasses.replace(
        k,
        signature=r.identities[k.client].sign(
            _keys.advertise_payload(other_digest(r), k.client, k.c_pk, k.s_pk)
        ),
    )
    r.expect_client_failure(u, _replace(req, keys=(resigned, *req.keys[1:])), crypto_error, None)
    out.append(r.vector(["INV-8", "INV-13"]))

    r = Recorder(
        "fail_inv13_share_box_from_another_context",
        "A share box under the right key (same session, round, sender, receiver and keys) "
        "but sealed with the associated data of a run with threshold t + 1.",
        n=5,
        d=2,
    )
    requests = r.run_to(ServerState.MASKED_INPUT_COLLECTION)
    u = r.context.roster[-1]
    req = requests[u]
    assert isinstance(req, MaskedInputRequest)
    sender = req.shares[0].peer
    c_sender = r.clients[sender]._c
    c_receiver = r.clients[u]._c
    assert c_sender is not None
    assert c_receiver is not None
    key = _keys.share_encryption_key(
        c_sender,
        c_receiver.public,
        session_id=r.context.session_id,
        round_id=int(r.context.round_id),
        sender=sender,
        receiver=u,
        sender_c_pk=c_sender.public,
        receiver_c_pk=c_receiver.public,
    )
    box = aead.seal(
        key,
        bytes(72),
        _keys.share_associated_data(other_digest(r), sender, u),
        rng=CSPRNG(_seed(r.name, "nonce")),
    )
    shares = (EncryptedShare(peer=sender, ciphertext=box), *req.shares[1:])
    r.expect_client_failure(u, _replace(req, shares=shares), crypto_error, None)
    out.append(r.vector(["INV-9", "INV-13"]))
    return out


def build_all() -> dict[str, dict[str, Any]]:
    """Return every vector by file name (deterministic)."""
    vectors = positive_vectors() + failing_vectors()
    return {f"{v['name']}.json": v for v in vectors}


def render(vector: dict[str, Any]) -> str:
    return json.dumps(vector, indent=1, sort_keys=False) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the files differ")
    args = parser.parse_args(argv)
    vectors = build_all()
    drift = []
    for name, vector in vectors.items():
        path = OUT_DIR / name
        text = render(vector)
        if args.check:
            if not path.exists() or path.read_text() != text:
                drift.append(name)
        else:
            OUT_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if args.check:
        stale = {p.name for p in OUT_DIR.glob("*.json")} - set(vectors)
        drift.extend(sorted(stale))
        if drift:
            print("drifted vectors:", ", ".join(drift), file=sys.stderr)
            return 1
    print(f"{len(vectors)} vectors {'checked' if args.check else 'written'} in {OUT_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
