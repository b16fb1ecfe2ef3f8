"""Generate the packed Paillier test vectors (protocols/paillier.md §13).

Run from the repository root::

    python protocols/vectors/paillier/generate.py          # rewrite vectors.json
    python protocols/vectors/paillier/generate.py --check  # exit 1 if the file drifted

Everything is deterministic: the TEST-ONLY key comes from a seeded CSPRNG,
each client's rounding and obfuscator randomness from its own recorded seed,
and Ed25519 signatures are deterministic (RFC 8032). tests/vectors/
test_paillier_vectors.py replays every operation through the library and
also re-runs :func:`build` to fail on any drift.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from secfl.crypto.paillier import (  # noqa: E402
    PaillierKeyPair,
    PaillierPublicKey,
    StandardObfuscator,
    djn_base,
    generate_keypair,
)
from secfl.crypto.random import CSPRNG  # noqa: E402
from secfl.errors import SecflError  # noqa: E402
from secfl.he import (  # noqa: E402
    Decryptor,
    EncryptedAggregate,
    EncryptedInput,
    PaillierAggregator,
    PaillierClient,
    PaillierConfig,
)
from secfl.types import ClientId  # noqa: E402

T = TypeVar("T")
OUTPUT = Path(__file__).with_name("vectors.json")
KEY_SEED = b"secfl/v1/vectors/paillier/test-only-key"
KEY_BITS = 1024  # TEST-ONLY size: small enough to keep the vectors readable


def check(condition: bool, message: object) -> None:
    """Stop the generator if the library does not behave as the vector claims."""
    if not condition:
        raise RuntimeError(f"vector generation failed: {message}")


def some(value: T | None) -> T:
    check(value is not None, "expected a result")
    assert value is not None
    return value


def seed_for(label: str) -> bytes:
    return hashlib.sha256(b"secfl/v1/vectors/paillier/" + label.encode()).digest()


def identity(cid: int) -> tuple[bytes, Ed25519PrivateKey]:
    seed = seed_for(f"identity/{cid}")
    return seed, Ed25519PrivateKey.from_private_bytes(seed)


class Case:
    """Builds one vector case while executing it, recording inputs and outputs."""

    def __init__(
        self,
        kp: PaillierKeyPair,
        name: str,
        description: str,
        invariant: str | None,
        params: dict[str, Any],
    ) -> None:
        self.kp = kp
        self.name = name
        self.doc: dict[str, Any] = {
            "name": name,
            "description": description,
            "invariant": invariant,
            "config": params,
            "operations": [],
        }
        self.cfg: PaillierConfig | None = None
        self.decryptor: Decryptor | None = None
        try:
            self.cfg = PaillierConfig(**params)
        except SecflError as exc:
            self.doc["operations"].append({"op": "configure", "error": type(exc).__name__})

    def finish(self) -> dict[str, Any]:
        ops = self.doc["operations"]
        errors = [op for op in ops if op.get("error")]
        check(len(errors) <= 1, self.name)
        check(not errors or ops[-1] is errors[0], self.name)
        self.doc["success"] = not errors
        return self.doc

    def encrypt(
        self,
        cid: int,
        quantized: list[int] | None = None,
        *,
        update: list[float] | None = None,
        weight: float | int | None = None,
        round: int = 1,
        signed: bool = False,
        textbook: bool = False,
        cfg: PaillierConfig | None = None,
        key: PaillierKeyPair | None = None,
    ) -> EncryptedInput:
        cfg = cfg or self.cfg
        kp = key or self.kp
        assert cfg is not None
        rng_seed = seed_for(f"{self.name}/client/{cid}/round/{round}")
        id_seed, id_key = identity(cid)
        client = PaillierClient(
            kp.public_key,
            cfg,
            cid,
            rng=CSPRNG(rng_seed),
            signing_key=id_key if signed else None,
            obfuscator=StandardObfuscator(kp.public_key) if textbook else None,
        )
        op: dict[str, Any] = {
            "op": "encrypt",
            "client": cid,
            "round": round,
            "rng_seed": rng_seed.hex(),
            "identity_seed": id_seed.hex() if signed else None,
            "obfuscator": "textbook" if textbook else "fixed_base",
        }
        if update is not None:
            msg = client.encrypt(np.array(update), round=round, weight=weight)
            op["update"] = [float(x).hex() for x in update]
            op["weight"] = None if weight is None else float(weight).hex()
        else:
            assert quantized is not None
            qw = None if weight is None else int(weight)
            msg = client.encrypt_quantized(
                np.array(quantized, dtype=np.int64), round=round, weight=qw
            )
            op["quantized"] = list(quantized)
            op["weight"] = weight
        if cfg is self.cfg and kp is self.kp:
            op["output"] = msg.encode().hex()
            self.doc["operations"].append(op)
        return msg

    def aggregate(
        self,
        inputs: list[EncryptedInput | bytes],
        *,
        round: int = 1,
        bucket: int = 0,
        forward: bool = False,
        expect_error: type[SecflError] | None = None,
    ) -> EncryptedAggregate | None:
        assert self.cfg is not None
        encoded = [m if isinstance(m, bytes) else m.encode() for m in inputs]
        op: dict[str, Any] = {
            "op": "aggregate",
            "round": round,
            "bucket": bucket,
            "forward_inputs": forward,
            "inputs": [e.hex() for e in encoded],
        }
        self.doc["operations"].append(op)
        aggregator = PaillierAggregator(self.kp.public_key, self.cfg, forward_inputs=forward)
        try:
            agg = aggregator.aggregate(encoded, round=round, bucket=bucket)
        except SecflError as exc:
            check(expect_error is not None and isinstance(exc, expect_error), (self.name, exc))
            op["error"] = type(exc).__name__
            return None
        check(expect_error is None, self.name)
        op["output"] = agg.encode().hex()
        return agg

    def decrypt(
        self,
        aggregate: EncryptedAggregate | bytes,
        *,
        signed_clients: list[int] | None = None,
        expect_error: type[SecflError] | None = None,
    ) -> None:
        assert self.cfg is not None
        if self.decryptor is None:
            keys = None
            if signed_clients is not None:
                keys = {ClientId(c): identity(c)[1].public_key() for c in signed_clients}
            # The batch coefficients of proof verification come from this seed; they
            # never change an output, only (with probability 2^-128) a rejection.
            self.decryptor = Decryptor(
                self.kp.private_key,
                self.cfg,
                client_keys=keys,
                rng=CSPRNG(seed_for(f"{self.name}/decryptor")),
            )
        blob = aggregate if isinstance(aggregate, bytes) else aggregate.encode()
        op: dict[str, Any] = {
            "op": "decrypt",
            "client_keys": None
            if signed_clients is None
            else {
                str(c): identity(c)[1].public_key().public_bytes_raw().hex() for c in signed_clients
            },
            "aggregate": blob.hex(),
        }
        self.doc["operations"].append(op)
        try:
            result = self.decryptor.decrypt(blob)
        except SecflError as exc:
            check(expect_error is not None and isinstance(exc, expect_error), (self.name, exc))
            op["error"] = type(exc).__name__
            return
        check(expect_error is None, self.name)
        op["output"] = {
            "round": int(result.round),
            "bucket": result.bucket,
            "count": result.count,
            "contributors": [int(c) for c in result.contributors],
            "integer_sum": [int(v) for v in result.integer_sum],
            "weight_integer_sum": result.weight_integer_sum,
            "values": [float(v).hex() for v in result.values],
        }


def forge_aggregate(
    case: Case,
    ciphertexts: list[int],
    contributors: list[int],
    *,
    round: int = 1,
    inputs: tuple[EncryptedInput, ...] = (),
) -> bytes:
    assert case.cfg is not None
    size = case.kp.public_key.ciphertext_size
    return EncryptedAggregate(
        key_id=case.kp.public_key.key_id,
        layout_id=case.cfg.layout_id,
        round=round,  # type: ignore[arg-type]
        bucket=0,
        contributors=tuple(ClientId(c) for c in contributors),
        ciphertext_size=size,
        ciphertexts=b"".join(int(c).to_bytes(size, "big") for c in ciphertexts),
        inputs=inputs,
    ).encode()


def raw_input(case: Case, cid: int, slots: np.ndarray) -> EncryptedInput:
    """An input built below the client API (to model a Byzantine client)."""
    assert case.cfg is not None
    pk = case.kp.public_key
    plaintexts = case.cfg.packer.pack(slots)
    rng = CSPRNG(seed_for(f"{case.name}/raw/{cid}"))
    from secfl.crypto.paillier import FixedBaseObfuscator

    rho = FixedBaseObfuscator(pk).draw(len(plaintexts), rng)
    size = pk.ciphertext_size
    return EncryptedInput(
        key_id=pk.key_id,
        layout_id=case.cfg.layout_id,
        round=1,  # type: ignore[arg-type]
        client=ClientId(cid),
        ciphertext_size=size,
        ciphertexts=b"".join(
            int(pk.encrypt_raw(m, r)).to_bytes(size, "big")
            for m, r in zip(plaintexts, rho, strict=True)
        ),
    )


def resign(msg: EncryptedInput, cid: int, **changes: Any) -> EncryptedInput:
    """Apply ``changes`` and sign the result with client ``cid``'s identity (a colluder's act)."""
    from secfl.he._signatures import sign

    changed = dataclasses.replace(msg, signature=None, **changes)
    return dataclasses.replace(changed, signature=sign(identity(cid)[1], changed.body()))


def base_params(**kw: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "dimension": 12,
        "clip": 1.0,
        "max_clients": 4,
        "min_contributors": 2,
        "value_bits": 8,
        "max_weight": None,
        "noise_bound": 0,
        "key_bits": KEY_BITS,
        "allow_insecure_key": True,
        "prove_inputs": False,
    }
    params.update(kw)
    return params


def quantized_rows(cfg: PaillierConfig, n: int, label: str) -> list[list[int]]:
    m = cfg.offset
    rng = CSPRNG(seed_for(label))
    rows = [[int(v) - m for v in rng.integers(2 * m + 1, cfg.dimension)] for _ in range(n)]
    rows[0] = [m] * cfg.dimension  # extremes
    if n > 1:
        rows[1] = [-m] * cfg.dimension
    return rows


def build() -> dict[str, Any]:
    kp = generate_keypair(KEY_BITS, rng=CSPRNG(KEY_SEED), allow_insecure=True)
    pk = kp.public_key
    cases: list[dict[str, Any]] = []

    # 1. A plain sum with extreme values, at the full client count.
    c = Case(
        kp,
        "sum_extremes",
        "4 clients at +M, -M and random values; bit-exact sum",
        None,
        base_params(),
    )
    assert c.cfg is not None
    rows = quantized_rows(c.cfg, 4, "sum_extremes")
    agg = c.aggregate([c.encrypt(i + 1, r) for i, r in enumerate(rows)])
    assert agg is not None
    c.decrypt(agg)
    cases.append(c.finish())

    # 2. Several ciphertexts per input, 16-bit values.
    c = Case(
        kp,
        "sum_multi_ciphertext",
        "d = 150 at 16-bit values: 3 ciphertexts per input",
        None,
        base_params(dimension=150, value_bits=16, max_clients=3),
    )
    assert c.cfg is not None
    rows = quantized_rows(c.cfg, 3, "sum_multi_ciphertext")
    agg = c.aggregate([c.encrypt(i + 1, r) for i, r in enumerate(rows)])
    assert agg is not None
    c.decrypt(agg)
    cases.append(c.finish())

    # 3. Float updates with stochastic rounding and weights.
    c = Case(
        kp,
        "weighted_floats",
        "float updates, weights, seeded stochastic rounding",
        None,
        base_params(dimension=6, value_bits=16, max_weight=8.0, clip=0.5),
    )
    updates = [
        [0.5, -0.5, 0.25, -0.125, 0.75, -2.0],
        [0.1, 0.2, -0.3, 0.4, -0.05, 0.0],
        [-0.45, 0.33, 0.0, 0.01, 0.49, -0.49],
    ]
    weights = [1.0, 2.5, 8.0]
    agg = c.aggregate(
        [
            c.encrypt(i + 1, update=u, weight=w)
            for i, (u, w) in enumerate(zip(updates, weights, strict=True))
        ]
    )
    assert agg is not None
    c.decrypt(agg)
    cases.append(c.finish())

    # 4. Signed inputs, forwarded to a decryptor in signed mode.
    c = Case(
        kp,
        "signed_sum",
        "signed inputs forwarded and verified by the decryptor",
        "INV-8",
        base_params(),
    )
    assert c.cfg is not None
    rows = quantized_rows(c.cfg, 3, "signed_sum")
    agg = c.aggregate([c.encrypt(i + 1, r, signed=True) for i, r in enumerate(rows)], forward=True)
    assert agg is not None
    c.decrypt(agg, signed_clients=[1, 2, 3])
    cases.append(c.finish())

    # 5. Two disjoint buckets in one round.
    c = Case(
        kp,
        "buckets_disjoint",
        "two disjoint buckets of one round are both released",
        "INV-7",
        base_params(),
    )
    assert c.cfg is not None
    rows = quantized_rows(c.cfg, 4, "buckets_disjoint")
    msgs = [c.encrypt(i + 1, r) for i, r in enumerate(rows)]
    a0 = c.aggregate(msgs[:2], bucket=0)
    a1 = c.aggregate(msgs[2:], bucket=1)
    a0, a1 = some(a0), some(a1)
    c.decrypt(a0)
    c.decrypt(a1)
    cases.append(c.finish())

    # 6. Proofs of plaintext knowledge: one fixed-base and one textbook client.
    c = Case(
        kp,
        "proved_sum",
        "signed inputs with proofs of plaintext knowledge (fixed-base and textbook forms)",
        "INV-12",
        base_params(prove_inputs=True),
    )
    assert c.cfg is not None
    rows = quantized_rows(c.cfg, 3, "proved_sum")
    agg = c.aggregate(
        [c.encrypt(i + 1, r, signed=True, textbook=i == 1) for i, r in enumerate(rows)],
        forward=True,
    )
    assert agg is not None
    c.decrypt(agg, signed_clients=[1, 2, 3])
    cases.append(c.finish())

    # ---- failing cases: one per invariant -------------------------------------------------
    from secfl.errors import (
        CryptoError,
        InvariantViolationError,
        MalformedMessageError,
        ThresholdNotMetError,
        UnexpectedMessageError,
    )

    c = Case(
        kp,
        "config_slot_overflow",
        "48-bit values with 2^17 clients need 65-bit slots",
        "INV-4",
        base_params(value_bits=48, max_clients=2**17),
    )
    cases.append(c.finish())

    c = Case(
        kp,
        "config_noise_overflow",
        "a noise bound that leaves no room in the slot",
        "INV-4",
        base_params(noise_bound=1 << 12),
    )
    cases.append(c.finish())

    c = Case(
        kp,
        "below_min_contributors_aggregator",
        "an honest aggregator refuses 1 input when 2 are required",
        "INV-9",
        base_params(),
    )
    assert c.cfg is not None
    c.aggregate(
        [c.encrypt(1, quantized_rows(c.cfg, 1, "below")[0])], expect_error=ThresholdNotMetError
    )
    cases.append(c.finish())

    c = Case(
        kp,
        "below_min_contributors_decryptor",
        "one client's input relabelled as two contributors: the counter says 1",
        "INV-9",
        base_params(),
    )
    assert c.cfg is not None
    single = c.encrypt(1, quantized_rows(c.cfg, 1, "lie")[0])
    c.decrypt(
        forge_aggregate(c, single.ciphertext_values(), [1, 2]), expect_error=ThresholdNotMetError
    )
    cases.append(c.finish())

    c = Case(
        kp,
        "counter_mismatch",
        "a Byzantine client puts 2 in its counter slot",
        "INV-9",
        base_params(),
    )
    assert c.cfg is not None
    rows = quantized_rows(c.cfg, 2, "counter")
    good = c.encrypt(1, rows[0])
    client = PaillierClient(pk, c.cfg, 2)
    slots = client.slots(np.array(rows[1]))
    slots[c.cfg.counter_index] = 2
    bad = raw_input(c, 2, slots)
    agg = c.aggregate([good, bad])
    assert agg is not None
    c.decrypt(agg, expect_error=InvariantViolationError)
    cases.append(c.finish())

    c = Case(
        kp, "slot_out_of_bound", "a Byzantine client puts 2M + 1 in a slot", "INV-10", base_params()
    )
    assert c.cfg is not None
    rows = quantized_rows(c.cfg, 2, "bound")
    good = c.encrypt(1, rows[0])
    slots = PaillierClient(pk, c.cfg, 2).slots(np.array(rows[1]))
    slots[3] = 2 * c.cfg.offset + 1
    agg = c.aggregate([good, raw_input(c, 2, slots)])
    assert agg is not None
    c.decrypt(agg, expect_error=InvariantViolationError)
    cases.append(c.finish())

    c = Case(kp, "duplicate_client", "the same input twice", "INV-6", base_params())
    assert c.cfg is not None
    m1 = c.encrypt(1, quantized_rows(c.cfg, 1, "dup")[0])
    c.aggregate([m1, m1], expect_error=InvariantViolationError)
    cases.append(c.finish())

    c = Case(
        kp,
        "duplicate_ciphertexts",
        "one input's ciphertexts under a second client id",
        "INV-6",
        base_params(),
    )
    assert c.cfg is not None
    m1 = c.encrypt(1, quantized_rows(c.cfg, 1, "dupct")[0])
    c.aggregate(
        [m1, dataclasses.replace(m1, client=ClientId(2))], expect_error=InvariantViolationError
    )
    cases.append(c.finish())

    c = Case(kp, "wrong_key_id", "an input encrypted under another key", "INV-1", base_params())
    assert c.cfg is not None
    other = generate_keypair(KEY_BITS, rng=CSPRNG(KEY_SEED + b"/other"), allow_insecure=True)
    rows = quantized_rows(c.cfg, 2, "wrongkey")
    foreign = c.encrypt(2, rows[1], key=other)
    c.aggregate([c.encrypt(1, rows[0]), foreign], expect_error=MalformedMessageError)
    cases.append(c.finish())

    c = Case(
        kp, "wrong_layout", "an input packed for another configuration", "INV-2", base_params()
    )
    assert c.cfg is not None
    other_cfg = PaillierConfig(**base_params(value_bits=9))
    rows = quantized_rows(c.cfg, 2, "layout")
    c.aggregate(
        [c.encrypt(1, rows[0]), c.encrypt(2, rows[1], cfg=other_cfg)],
        expect_error=MalformedMessageError,
    )
    cases.append(c.finish())

    c = Case(kp, "wrong_round", "an input of round 1 offered in round 2", "INV-3", base_params())
    assert c.cfg is not None
    rows = quantized_rows(c.cfg, 2, "round")
    c.aggregate(
        [c.encrypt(1, rows[0]), c.encrypt(2, rows[1])], round=2, expect_error=UnexpectedMessageError
    )
    cases.append(c.finish())

    size = pk.ciphertext_size
    p_factor = int(kp.private_key._p)
    for name, value, text in [
        ("ciphertext_out_of_range", pk.nsquare + 1, "a ciphertext >= n^2"),
        ("ciphertext_zero", 0, "a zero ciphertext"),
        ("ciphertext_not_coprime", p_factor * 3, "a ciphertext sharing the factor p with n"),
    ]:
        c = Case(kp, name, text, "INV-5", base_params())
        assert c.cfg is not None
        rows = quantized_rows(c.cfg, 2, name)
        m2 = c.encrypt(2, rows[1])
        bad = dataclasses.replace(
            m2, ciphertexts=value.to_bytes(size, "big") + m2.ciphertexts[size:]
        )
        c.aggregate([c.encrypt(1, rows[0]), bad], expect_error=MalformedMessageError)
        cases.append(c.finish())

    c = Case(kp, "truncated_input", "an input encoding one byte short", None, base_params())
    assert c.cfg is not None
    rows = quantized_rows(c.cfg, 2, "trunc")
    c.aggregate(
        [c.encrypt(1, rows[0]), c.encrypt(2, rows[1]).encode()[:-1]],
        expect_error=MalformedMessageError,
    )
    cases.append(c.finish())

    c = Case(
        kp, "overlapping_buckets", "a client in two buckets of one round", "INV-7", base_params()
    )
    assert c.cfg is not None
    rows = quantized_rows(c.cfg, 3, "overlap")
    msgs = [c.encrypt(i + 1, r) for i, r in enumerate(rows)]
    a0 = c.aggregate(msgs[:2], bucket=0)
    a1 = c.aggregate(msgs[1:], bucket=1)
    a0, a1 = some(a0), some(a1)
    c.decrypt(a0)
    c.decrypt(a1, expect_error=InvariantViolationError)
    cases.append(c.finish())

    c = Case(
        kp,
        "bad_signature",
        "a forwarded input whose signature does not verify",
        "INV-8",
        base_params(),
    )
    assert c.cfg is not None
    rows = quantized_rows(c.cfg, 2, "badsig")
    msgs = [c.encrypt(i + 1, r, signed=True) for i, r in enumerate(rows)]
    agg = c.aggregate(msgs, forward=True)
    assert agg is not None
    forged_sig = dataclasses.replace(agg.inputs[1], signature=bytes(64))
    c.decrypt(
        dataclasses.replace(agg, inputs=(agg.inputs[0], forged_sig)).encode(),
        signed_clients=[1, 2],
        expect_error=InvariantViolationError,
    )
    cases.append(c.finish())

    c = Case(
        kp,
        "aggregate_not_product",
        "the aggregate is not the product of the forwarded inputs",
        "INV-8",
        base_params(),
    )
    assert c.cfg is not None
    rows = quantized_rows(c.cfg, 3, "product")
    msgs = [c.encrypt(i + 1, r, signed=True) for i, r in enumerate(rows)]
    agg = c.aggregate(msgs[:2], forward=True)
    other_agg = c.aggregate(msgs[1:], forward=True)
    agg, other_agg = some(agg), some(other_agg)
    c.decrypt(
        dataclasses.replace(agg, ciphertexts=other_agg.ciphertexts).encode(),
        signed_clients=[1, 2, 3],
        expect_error=InvariantViolationError,
    )
    cases.append(c.finish())

    c = Case(
        kp,
        "unsigned_in_signed_mode",
        "a signed-mode decryptor receives an aggregate without inputs",
        "INV-8",
        base_params(),
    )
    assert c.cfg is not None
    rows = quantized_rows(c.cfg, 2, "unsigned")
    agg = c.aggregate([c.encrypt(i + 1, r) for i, r in enumerate(rows)])
    assert agg is not None
    c.decrypt(agg, signed_clients=[1, 2], expect_error=InvariantViolationError)
    cases.append(c.finish())

    c = Case(
        kp,
        "bad_proof",
        "a client alters its proof's first z_m response and re-signs: the decryptor refuses",
        "INV-12",
        base_params(prove_inputs=True),
    )
    assert c.cfg is not None
    rows = quantized_rows(c.cfg, 2, "badproof")
    msgs = [c.encrypt(i + 1, r, signed=True) for i, r in enumerate(rows)]
    half = pk.ciphertext_size // 2
    zm_at = msgs[1].count * pk.ciphertext_size  # z_m fields follow the commitments
    zm = int.from_bytes(msgs[1].proof[zm_at : zm_at + half], "big")
    bad_proof = (
        msgs[1].proof[:zm_at]
        + ((zm + 1) % pk.n).to_bytes(half, "big")
        + msgs[1].proof[zm_at + half :]
    )
    agg = c.aggregate([msgs[0], resign(msgs[1], 2, proof=bad_proof)], forward=True)
    assert agg is not None
    c.decrypt(agg, signed_clients=[1, 2], expect_error=InvariantViolationError)
    cases.append(c.finish())

    c = Case(
        kp,
        "proof_copied_to_other_signer",
        "client 3 re-signs client 1's ciphertexts and proof as its own: the proof is bound to 1",
        "INV-12",
        base_params(prove_inputs=True),
    )
    assert c.cfg is not None
    rows = quantized_rows(c.cfg, 2, "copied")
    msgs = [c.encrypt(i + 1, r, signed=True) for i, r in enumerate(rows)]
    copy = resign(msgs[0], 3, client=ClientId(3))
    agg = c.aggregate([msgs[1], copy], forward=True)
    assert agg is not None
    c.decrypt(agg, signed_clients=[1, 2, 3], expect_error=InvariantViolationError)
    cases.append(c.finish())

    c = Case(
        kp,
        "missing_proof",
        "an input without a proof where prove_inputs is on: the aggregator refuses it",
        "INV-12",
        base_params(prove_inputs=True),
    )
    assert c.cfg is not None
    rows = quantized_rows(c.cfg, 2, "noproof")
    msgs = [c.encrypt(i + 1, r, signed=True) for i, r in enumerate(rows)]
    c.aggregate(
        [msgs[0], resign(msgs[1], 2, proof_form=0, proof=b"")],
        forward=True,
        expect_error=InvariantViolationError,
    )
    cases.append(c.finish())

    # Key loading: a 1024-bit key is refused unless test-only keys are allowed.
    key_cases = []
    for name, text, bits, allow, err in [
        ("load_test_key", pk.to_json(), None, True, None),
        ("load_test_key_refused", pk.to_json(), None, False, CryptoError),
        ("load_wrong_size", pk.to_json(), 2048, True, CryptoError),
        (
            "load_bad_key_id",
            pk.to_json().replace(pk.key_id.hex(), "00" * 16),
            None,
            True,
            CryptoError,
        ),
    ]:
        entry: dict[str, Any] = {
            "name": name,
            "json": text,
            "bits": bits,
            "allow_insecure": allow,
            "success": err is None,
        }
        try:
            loaded = PaillierPublicKey.from_json(text, bits=bits, allow_insecure=allow)
            assert err is None
            entry["key_id"] = loaded.key_id.hex()
        except CryptoError as exc:
            assert err is not None
            entry["error"] = type(exc).__name__
        key_cases.append(entry)

    return {
        "description": "Packed Paillier aggregation (protocols/paillier.md), version 2",
        "generator": "protocols/vectors/paillier/generate.py",
        "version": 2,
        "test_only_key": {
            "WARNING": "TEST-ONLY 1024-BIT KEY WITH ITS FACTORS PUBLISHED."
            " NEVER USE IT OUTSIDE TESTS.",
            "seed": KEY_SEED.hex(),
            "public_key": json.loads(pk.to_json()),
            "private_key": json.loads(kp.private_key.to_json()),
            "djn_base": format(djn_base(pk), "x"),
        },
        "key_loading": key_cases,
        "cases": cases,
    }


def render() -> str:
    return json.dumps(build(), indent=1, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if argv[:1] == ["--check"]:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print(f"{OUTPUT} is out of date; run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
