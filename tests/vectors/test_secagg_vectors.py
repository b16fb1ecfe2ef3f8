"""Replay the SecAgg test vectors byte for byte, and fail if they drift.

The replay rebuilds every party from the seeds recorded in each vector (not
from the generator), feeds each recorded input and compares each output
exactly; failing cases must raise the recorded error type and cite the
recorded invariant. Results are also checked against an independent sum of
the recorded inputs.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import secfl.errors
from secfl.crypto.random import CSPRNG
from secfl.crypto.signature import SigningKey
from secfl.secagg import IdentityPKI, RoundContext, SecAggClient, SecAggParams, SecAggServer
from secfl.types import ClientId, RoundId, Secret

ROOT = Path(__file__).resolve().parents[2]
VECTOR_DIR = ROOT / "protocols" / "vectors" / "secagg"
FILES = sorted(VECTOR_DIR.glob("*.json"))


def _load_generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "generate_secagg", ROOT / "protocols" / "vectors" / "generate_secagg.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _error(name: str) -> type[Exception]:
    cls = getattr(secfl.errors, name)
    assert issubclass(cls, secfl.errors.SecflError)
    return cls  # type: ignore[no-any-return]


def test_there_are_positive_and_failing_vectors_for_every_invariant() -> None:
    vectors = [json.loads(p.read_text()) for p in FILES]
    assert sum(v["success"] for v in vectors) >= 5
    covered = {inv for v in vectors if not v["success"] for inv in v["invariants"]}
    assert covered == {f"INV-{i}" for i in range(1, 14)}


def _spec_context_digest(v: dict[str, Any]) -> str:
    """secagg.md §4.1, written out from the spec (an oracle independent of _keys.py)."""
    p, ctx = v["params"], v["context"]
    session = bytes.fromhex(ctx["session_id"])
    roster = sorted(ctx["roster"])
    ids = b"".join(struct.pack("<Q", u) for u in roster)
    seed = hashlib.sha256(
        b"secfl/v2/secagg/graph" + session + struct.pack("<QQ", ctx["round_id"], len(roster)) + ids
    ).digest()
    fields = struct.pack(
        "<BQQBQQBBQ",
        2,
        ctx["round_id"],
        len(roster),
        {"complete": 0, "harary": 1}[p["graph"]],
        p["degree"],
        p["threshold"],
        p["bits"],
        int(p["malicious"]),
        ctx["vector_length"],
    )
    return hashlib.sha256(b"secfl/v2/secagg/context" + session + fields + seed + ids).hexdigest()


def test_vectors_do_not_drift() -> None:
    generator = _load_generator()
    generated = generator.build_all()
    assert sorted(generated) == [p.name for p in FILES]
    render = generator.render
    for name, vector in generated.items():
        assert (VECTOR_DIR / name).read_text() == render(vector), f"{name} drifted: regenerate"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_replay(path: Path) -> None:
    v = json.loads(path.read_text())
    assert v["format"] == "secfl/secagg-vectors/v2"
    p = v["params"]
    ops = v["operations"]
    if ops[0]["op"] == "params":
        with pytest.raises(_error(ops[0]["error"])):
            SecAggParams(**p)
        return
    params = SecAggParams(**p)
    ctx = v["context"]
    assert ctx["context_digest"] == _spec_context_digest(v)
    context = RoundContext(
        session_id=bytes.fromhex(ctx["session_id"]),
        round_id=RoundId(ctx["round_id"]),
        roster=tuple(ClientId(u) for u in ctx["roster"]),
        vector_length=ctx["vector_length"],
    )
    identities = {
        ClientId(int(u)): SigningKey(Secret(bytes.fromhex(s)))
        for u, s in v["identity_seeds"].items()
    }
    pki = IdentityPKI({u: k.verify_key for u, k in identities.items()}) if identities else None
    inputs = {ClientId(int(u)): np.array(x, dtype=params.dtype) for u, x in v["inputs"].items()}
    clients = {
        u: SecAggClient(
            client_id=u,
            params=params,
            context=context,
            identity_key=identities.get(u),
            pki=pki,
            rng=CSPRNG(bytes.fromhex(v["client_seeds"][str(u)])),
            input=inputs[u],
        )
        for u in context.roster
    }
    server = SecAggServer(params=params, context=context, pki=pki)
    failures = 0
    for op in ops:
        kind = op["op"]
        data = bytes.fromhex(op.get("input", ""))
        if "error" in op:
            failures += 1
            call: Callable[[], object]
            if kind == "client.receive":
                call = functools.partial(clients[ClientId(op["client"])].receive, data)
            elif kind == "server.receive":
                call = functools.partial(server.receive, data, sender=op["client"])
            else:
                assert kind == "server.advance"
                call = server.advance
            with pytest.raises(_error(op["error"])) as info:
                call()
            if "invariant" in op:
                assert op["invariant"] in str(info.value)
        elif kind == "client.start":
            assert clients[ClientId(op["client"])].start().encode().hex() == op["output"]
        elif kind == "client.receive":
            reply = clients[ClientId(op["client"])].receive(data)
            assert reply.encode().hex() == op["output"]
        elif kind == "server.receive":
            server.receive(data, sender=op["client"])
        elif kind == "server.advance":
            requests = server.advance()
            assert {str(u): r.encode().hex() for u, r in requests.items()} == op["output"]
            assert server.state.value == op["state"]
        else:
            assert kind == "server.result"
            result = server.result()
            assert [int(x) for x in result.total] == op["total"]
            assert sorted(result.contributors) == op["contributors"]
            # Independent check: the plain sum of the recorded inputs of the contributors.
            total = np.zeros(context.vector_length, dtype=object)
            for u in op["contributors"]:
                total = total + inputs[ClientId(u)].astype(object)
            assert [int(x) % (1 << params.bits) for x in total] == op["total"]
    assert failures == (0 if v["success"] else 1)
