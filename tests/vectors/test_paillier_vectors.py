"""Replay protocols/vectors/paillier/vectors.json and fail on any drift."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

import secfl.errors
from secfl.crypto.paillier import (
    PaillierPrivateKey,
    PaillierPublicKey,
    StandardObfuscator,
    djn_base,
)
from secfl.crypto.random import CSPRNG
from secfl.errors import SecflError
from secfl.he import (
    Decryptor,
    EncryptedInput,
    PaillierAggregator,
    PaillierClient,
    PaillierConfig,
)
from secfl.types import ClientId

ROOT = Path(__file__).resolve().parents[2]
VECTOR_DIR = ROOT / "protocols" / "vectors" / "paillier"
DOC: dict[str, Any] = json.loads((VECTOR_DIR / "vectors.json").read_text())
KEY = PaillierPrivateKey.from_json(
    json.dumps(DOC["test_only_key"]["private_key"]), allow_insecure=True
)
PK = KEY.public_key


def error_class(name: str) -> type[SecflError]:
    cls = getattr(secfl.errors, name)
    assert issubclass(cls, SecflError)
    return cls  # type: ignore[no-any-return]


def test_vector_file_does_not_drift() -> None:
    spec = importlib.util.spec_from_file_location(
        "paillier_vector_generator", VECTOR_DIR / "generate.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render() == (VECTOR_DIR / "vectors.json").read_text()


def test_test_only_key_is_labelled_and_consistent() -> None:
    meta = DOC["test_only_key"]
    assert "TEST-ONLY" in meta["WARNING"]
    assert meta["public_key"]["test_only"] is True
    assert PK.bits == 1024
    loaded = PaillierPublicKey.from_json(json.dumps(meta["public_key"]), allow_insecure=True)
    assert loaded == PK
    assert format(djn_base(PK), "x") == meta["djn_base"]
    with pytest.raises(secfl.errors.CryptoError):  # never accepted by default
        PaillierPublicKey.from_json(json.dumps(meta["public_key"]))


@pytest.mark.parametrize("entry", DOC["key_loading"], ids=lambda e: e["name"])
def test_key_loading_vectors(entry: dict[str, Any]) -> None:
    if entry["success"]:
        key = PaillierPublicKey.from_json(
            entry["json"], bits=entry["bits"], allow_insecure=entry["allow_insecure"]
        )
        assert key.key_id.hex() == entry["key_id"]
    else:
        with pytest.raises(error_class(entry["error"])):
            PaillierPublicKey.from_json(
                entry["json"], bits=entry["bits"], allow_insecure=entry["allow_insecure"]
            )


def test_every_invariant_has_a_failing_vector() -> None:
    """INV-1 .. INV-10 and INV-12 of paillier.md have a success: false case (INV-11 is local)."""
    failing = {c["invariant"] for c in DOC["cases"] if not c["success"]}
    assert {f"INV-{i}" for i in (*range(1, 11), 12)} <= failing


def test_proof_vectors_carry_proofs() -> None:
    """The proof cases really send proofs, in both randomness forms (format version 2)."""
    case = next(c for c in DOC["cases"] if c["name"] == "proved_sum")
    assert case["success"]
    assert case["config"]["prove_inputs"] is True
    encs = [op for op in case["operations"] if op["op"] == "encrypt"]
    assert {op["obfuscator"] for op in encs} == {"fixed_base", "textbook"}
    for op in encs:
        msg = EncryptedInput.decode(bytes.fromhex(op["output"]))
        assert msg.has_proof
        assert msg.encode()[0] == 2


def run_op(op: dict[str, Any], cfg: PaillierConfig, state: dict[str, Any]) -> None:
    kind = op["op"]
    if kind == "encrypt":
        signing = None
        if op["identity_seed"] is not None:
            signing = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(op["identity_seed"]))
        obfuscator = StandardObfuscator(PK) if op["obfuscator"] == "textbook" else None
        client = PaillierClient(
            PK,
            cfg,
            op["client"],
            rng=CSPRNG(bytes.fromhex(op["rng_seed"])),
            signing_key=signing,
            obfuscator=obfuscator,
        )
        if "update" in op:
            weight = None if op["weight"] is None else float.fromhex(op["weight"])
            update = np.array([float.fromhex(x) for x in op["update"]])
            msg = client.encrypt(update, round=op["round"], weight=weight)
        else:
            msg = client.encrypt_quantized(
                np.array(op["quantized"], dtype=np.int64), round=op["round"], weight=op["weight"]
            )
        assert msg.encode().hex() == op["output"]
    elif kind == "aggregate":
        aggregator = PaillierAggregator(PK, cfg, forward_inputs=op["forward_inputs"])
        agg = aggregator.aggregate(
            [bytes.fromhex(h) for h in op["inputs"]], round=op["round"], bucket=op["bucket"]
        )
        assert agg.encode().hex() == op["output"]
    elif kind == "decrypt":
        if "decryptor" not in state:
            keys = None
            if op["client_keys"] is not None:
                keys = {
                    ClientId(int(c)): Ed25519PublicKey.from_public_bytes(bytes.fromhex(h))
                    for c, h in op["client_keys"].items()
                }
            state["decryptor"] = Decryptor(KEY, cfg, client_keys=keys)
        result = state["decryptor"].decrypt(bytes.fromhex(op["aggregate"]))
        out = op["output"]
        assert result.round == out["round"]
        assert result.bucket == out["bucket"]
        assert result.count == out["count"]
        assert list(result.contributors) == out["contributors"]
        assert result.integer_sum.tolist() == out["integer_sum"]
        assert result.weight_integer_sum == out["weight_integer_sum"]
        assert [float(v).hex() for v in result.values] == out["values"]
    else:  # pragma: no cover - a vector with an unknown operation is itself a bug
        raise AssertionError(f"unknown operation {kind!r}")


@pytest.mark.parametrize("case", DOC["cases"], ids=lambda c: c["name"])
def test_case(case: dict[str, Any]) -> None:
    ops = case["operations"]
    assert case["success"] == all("error" not in op for op in ops)
    if ops and ops[0]["op"] == "configure":
        with pytest.raises(error_class(ops[0]["error"])) as info:
            PaillierConfig(**case["config"])
        assert type(info.value).__name__ == ops[0]["error"]
        return
    cfg = PaillierConfig(**case["config"])
    state: dict[str, Any] = {}
    for op in ops:
        if "error" in op:
            with pytest.raises(error_class(op["error"])) as info:
                run_op(op, cfg, state)
            assert type(info.value).__name__ == op["error"]
        else:
            run_op(op, cfg, state)
