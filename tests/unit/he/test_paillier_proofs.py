"""Proofs of plaintext knowledge (paillier.md §4.1, §7.4, INV-12): primitive and roles.

Most tests use the session's TEST-ONLY 512-bit key (factors of 256 bits, above the
2^128 challenge space); the protocol does not depend on the key size.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import gmpy2
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from secfl.crypto import paillier_pok as pok
from secfl.crypto.paillier import (
    FixedBaseObfuscator,
    ObfuscatorPool,
    PaillierKeyPair,
    RandomnessForm,
    StandardObfuscator,
    djn_base,
    generate_keypair,
    shared_fixed_base,
)
from secfl.crypto.random import CSPRNG
from secfl.errors import (
    ConfigurationError,
    CryptoError,
    InvariantViolationError,
    MalformedMessageError,
)
from secfl.he import (
    Decryptor,
    EncryptedAggregate,
    EncryptedInput,
    PaillierAggregator,
    PaillierClient,
    PaillierConfig,
    PaillierSecureSum,
    RoundState,
)
from secfl.he._signatures import sign
from secfl.types import ClientId, RoundId

D = 60  # three ciphertexts per input at 16-bit slots with a 512-bit key
IDS = [1, 2, 3, 4]
KEYS = {i: Ed25519PrivateKey.from_private_bytes(bytes([i]) * 32) for i in (*IDS, 7)}
PUBLIC = {ClientId(i): k.public_key() for i, k in KEYS.items()}


def config(**kw: Any) -> PaillierConfig:
    base: dict[str, Any] = {
        "dimension": D,
        "clip": 1.0,
        "max_clients": 8,
        "min_contributors": 2,
        "key_bits": 512,
        "allow_insecure_key": True,
        "prove_inputs": True,
    }
    base.update(kw)
    return PaillierConfig(**base)


def quantized(cfg: PaillierConfig, n: int, seed: int) -> np.ndarray:
    m = cfg.offset
    rng = CSPRNG(seed)
    q = np.stack([rng.integers(2 * m + 1, cfg.dimension) - m for _ in range(n)])
    q[0, :] = m  # an extreme client
    return q


def encrypt(
    kp: PaillierKeyPair, cfg: PaillierConfig, q: np.ndarray, *, round: int = 1, **kw: Any
) -> list[EncryptedInput]:
    return [
        PaillierClient(
            kp.public_key, cfg, cid, rng=CSPRNG(500 + cid), signing_key=KEYS[cid], **kw
        ).encrypt_quantized(row, round=round)
        for cid, row in zip(IDS, q, strict=False)
    ]


def resign(msg: EncryptedInput, cid: int, **changes: Any) -> EncryptedInput:
    """What a (colluding) registered client can do: change its message and sign it."""
    changed = dataclasses.replace(msg, signature=None, **changes)
    return dataclasses.replace(changed, signature=sign(KEYS[cid], changed.body()))


def decrypt(kp: PaillierKeyPair, cfg: PaillierConfig, inputs: list[EncryptedInput]) -> Any:
    agg = PaillierAggregator(kp.public_key, cfg, forward_inputs=True, client_keys=PUBLIC)
    decryptor = Decryptor(kp.private_key, cfg, client_keys=PUBLIC, rng=CSPRNG(3))
    return decryptor, agg.aggregate(inputs, round=inputs[0].round).encode()


def proof_of(msg: EncryptedInput) -> pok.PlaintextProof:
    return pok.PlaintextProof.from_bytes(msg.proof_form, msg.proof, msg.ciphertext_size, msg.count)


# --- the primitive -------------------------------------------------------------------------


def opened(kp: PaillierKeyPair, source: Any, count: int, seed: int) -> tuple[list[int], ...]:
    pk = kp.public_key
    rng = CSPRNG(seed)
    plaintexts = [int.from_bytes(rng.random_bytes(64), "big") % pk.n for _ in range(count)]
    plaintexts[0] = pk.n - 1
    rho, openings = source.draw_opened(count, rng)
    ciphertexts = [pk.encrypt_raw(m, r) for m, r in zip(plaintexts, rho, strict=True)]
    return plaintexts, openings, ciphertexts


@pytest.mark.parametrize("form", list(RandomnessForm), ids=lambda f: f.name.lower())
def test_valid_proofs_verify_and_round_trip(paillier_512: PaillierKeyPair, form: Any) -> None:
    pk = paillier_512.public_key
    source = shared_fixed_base(pk) if form is RandomnessForm.FIXED_BASE else StandardObfuscator(pk)
    for count in (1, 7):  # 7 > 4 exercises the Pippenger multi-exponentiation
        m, a, c = opened(paillier_512, source, count, seed=count)
        proof = pok.prove(pk, form, m, a, c, b"context", CSPRNG(11))
        data = proof.to_bytes(pk.ciphertext_size)
        assert len(data) == pok.proof_size(form, pk.ciphertext_size, count)
        assert pok.PlaintextProof.from_bytes(form, data, pk.ciphertext_size, count) == proof
        for seed in range(3):  # any verifier randomness accepts a valid proof
            pok.verify(pk, proof, c, b"context", CSPRNG(seed))
        assert all(0 <= z < pk.n for z in proof.z_m)
        if form is RandomnessForm.FIXED_BASE:
            assert all(z < 1 << pok.response_bits(pk) for z in proof.z_r)


@pytest.mark.parametrize("form", list(RandomnessForm), ids=lambda f: f.name.lower())
def test_special_soundness_extracts_every_plaintext(
    paillier_512: PaillierKeyPair, form: Any
) -> None:
    """Two answers to one commitment reveal every plaintext: m = (z - z') / (e - e') mod n.

    This is the knowledge extractor of paillier.md §4.1, checked against the private
    key, and the reason a commitment must never be reused.
    """
    pk = paillier_512.public_key
    source = shared_fixed_base(pk) if form is RandomnessForm.FIXED_BASE else StandardObfuscator(pk)
    m, a, c = opened(paillier_512, source, 3, seed=5)
    first = pok.commit(pk, form, 3, CSPRNG(8))
    twin = pok.ProofCommitment(pk, form, first.commitments, list(first._rho), list(first._secret))
    p1 = pok.respond(first, m, a, c, b"context one")
    p2 = pok.respond(twin, m, a, c, b"context two")
    with pytest.raises(CryptoError, match="never be used twice"):
        pok.respond(first, m, a, c, b"context three")
    e1 = pok.challenge(pk, form, b"context one", c, first.commitments)
    e2 = pok.challenge(pk, form, b"context two", c, first.commitments)
    assert e1 != e2
    inv = gmpy2.invert(e1 - e2, pk.n)
    extracted = [int((z1 - z2) * inv % pk.n) for z1, z2 in zip(p1.z_m, p2.z_m, strict=True)]
    assert extracted == [paillier_512.private_key.decrypt(int(x)) for x in c] == m
    if form is RandomnessForm.FIXED_BASE:  # here e1 - e2 divides z_a - z_a' exactly
        assert [(z1 - z2) // (e1 - e2) for z1, z2 in zip(p1.z_r, p2.z_r, strict=True)] == a


def tampered(proof: pok.PlaintextProof, name: str, j: int, value: int) -> pok.PlaintextProof:
    values = list(getattr(proof, name))
    values[j] = value
    return dataclasses.replace(proof, **{name: tuple(values)})


@pytest.mark.parametrize("form", list(RandomnessForm), ids=lambda f: f.name.lower())
def test_every_alteration_is_refused(paillier_512: PaillierKeyPair, form: Any) -> None:
    pk = paillier_512.public_key
    n = pk.n
    source = shared_fixed_base(pk) if form is RandomnessForm.FIXED_BASE else StandardObfuscator(pk)
    m, a, c = opened(paillier_512, source, 6, seed=9)
    proof = pok.prove(pk, form, m, a, c, b"ctx", CSPRNG(12))
    t, zm, zr = proof.commitments, proof.z_m, proof.z_r
    bad: dict[str, tuple[pok.PlaintextProof, list[Any], bytes, str]] = {
        "context": (proof, c, b"ctx2", "equation"),
        "ciphertext": (proof, [c[1], c[0], *c[2:]], b"ctx", "equation"),
        "fewer": (proof, c[:5], b"ctx", "number"),
        "z_m + 1": (tampered(proof, "z_m", 4, (zm[4] + 1) % n), c, b"ctx", "equation"),
        "z_r + 1": (tampered(proof, "z_r", 2, zr[2] + 1), c, b"ctx", "equation"),
        "t * (1+n)": (
            tampered(proof, "commitments", 5, t[5] * (1 + n) % pk.nsquare),
            c,
            b"ctx",
            "equation",
        ),
        "z_m = n": (tampered(proof, "z_m", 0, n), c, b"ctx", "out of range"),
        "t = 0": (tampered(proof, "commitments", 1, 0), c, b"ctx", "out of range"),
        "t shares p": (
            tampered(proof, "commitments", 1, 3 * int(paillier_512.private_key._p)),
            c,
            b"ctx",
            "not coprime",
        ),
    }
    if form is RandomnessForm.FIXED_BASE:
        bad["z_r too long"] = (
            tampered(proof, "z_r", 3, 1 << pok.response_bits(pk)),
            c,
            b"ctx",
            "out of range",
        )
    else:
        bad["w = 0"] = (tampered(proof, "z_r", 3, 0), c, b"ctx", "out of range")
        bad["w = n"] = (tampered(proof, "z_r", 3, n), c, b"ctx", "out of range")
    for p, cts, ctx, message in bad.values():
        for seed in range(4):  # the refusal does not depend on the verifier's coefficients
            with pytest.raises(CryptoError, match=message):
                pok.verify(pk, p, cts, ctx, CSPRNG(seed))


def test_multi_exponentiation_matches_naive_powers(paillier_512: PaillierKeyPair) -> None:
    rng = CSPRNG(21)
    modulus = gmpy2.mpz(paillier_512.public_key.nsquare)
    for count in (1, 3, 5, 40, 300):
        bases = [
            gmpy2.mpz(int.from_bytes(rng.random_bytes(128), "big")) % modulus for _ in range(count)
        ]
        exps = [int.from_bytes(rng.random_bytes(16), "big") for _ in range(count)]
        exps[0] = 0
        naive = gmpy2.mpz(1)
        for b, x in zip(bases, exps, strict=True):
            naive = naive * pow(int(b), x, int(modulus)) % modulus
        assert pok._multi_exp(bases, exps, 128, modulus) == naive


def test_key_size_requirements(paillier_512: PaillierKeyPair) -> None:
    small = generate_keypair(256, rng=CSPRNG(b"tests/he/pok-256"), allow_insecure=True)
    with pytest.raises(CryptoError, match="2\\^128"):
        pok.check_key(small.public_key)
    with pytest.raises(ConfigurationError, match="key_bits"):
        config(key_bits=256)
    pok.check_key(paillier_512.public_key)
    assert paillier_512.private_key.min_factor_bits == 256


# --- openings of the obfuscator sources -----------------------------------------------------


def test_obfuscator_openings(paillier_512: PaillierKeyPair) -> None:
    pk = paillier_512.public_key
    table = FixedBaseObfuscator(pk)
    base = gmpy2.mpz(djn_base(pk))
    rho, alphas = table.draw_opened(4, CSPRNG(1))
    assert rho == table.draw(4, CSPRNG(1))  # same randomness, same obfuscators
    assert all(r == gmpy2.powmod(base, x, pk.nsquare) for r, x in zip(rho, alphas, strict=True))
    assert all(0 <= x < 1 << table.exponent_bits for x in alphas)
    table.extend(pok.sigma_bits(pk))
    assert table.capacity_bits >= pok.sigma_bits(pk)
    assert table.draw(4, CSPRNG(1)) == rho  # extending never changes draws
    big = (1 << pok.sigma_bits(pk)) - 12345
    assert table.power(big) == gmpy2.powmod(base, big, pk.nsquare)
    with pytest.raises(ValueError, match="extend"):
        table.power(1 << table.capacity_bits)
    six = FixedBaseObfuscator(pk, window=6)
    six.extend(pok.sigma_bits(pk))
    assert six.power(big) == table.power(big)
    r, roots = StandardObfuscator(pk).draw_opened(3, CSPRNG(2))
    assert all(x == gmpy2.powmod(y, pk.n, pk.nsquare) for x, y in zip(r, roots, strict=True))
    pool = ObfuscatorPool(table, rng=CSPRNG(3))
    pool.refill(2)
    values, openings = pool.take_opened(3)  # two ready, one on demand
    assert pool.available == 0
    assert all(
        v == gmpy2.powmod(base, x, pk.nsquare) for v, x in zip(values, openings, strict=True)
    )

    class Opaque:
        public_key = pk

        def draw(self, count: int, rng: Any) -> list[Any]:
            return StandardObfuscator(pk).draw(count, rng)

    with pytest.raises(ConfigurationError):
        ObfuscatorPool(Opaque(), rng=CSPRNG(4)).take_opened(1)
    with pytest.raises(ConfigurationError, match="opened"):
        PaillierClient(pk, config(), 1, signing_key=KEYS[1], obfuscator=Opaque())


# --- the roles ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "obfuscator", ["fixed_base", "textbook", "pool"], ids=["fixed_base", "textbook", "pool"]
)
def test_exact_sums_unchanged_with_proofs(paillier_512: PaillierKeyPair, obfuscator: str) -> None:
    pk = paillier_512.public_key
    cfg = config()
    q = quantized(cfg, 4, seed=1)
    source: Any = {
        "fixed_base": None,
        "textbook": StandardObfuscator(pk),
        "pool": ObfuscatorPool(shared_fixed_base(pk), rng=CSPRNG(9)),
    }[obfuscator]
    inputs = encrypt(paillier_512, cfg, q, obfuscator=source)
    form = RandomnessForm.TEXTBOOK if obfuscator == "textbook" else RandomnessForm.FIXED_BASE
    assert all(inp.proof_form == form for inp in inputs)
    decryptor, agg = decrypt(paillier_512, cfg, inputs)
    result = decryptor.decrypt(agg)
    np.testing.assert_array_equal(result.integer_sum, q.sum(axis=0))
    # The same updates without proofs give the same sums (and the same ciphertexts).
    plain = config(prove_inputs=False)
    assert plain.layout_id != cfg.layout_id  # prove_inputs is part of the layout (INV-2)
    without = encrypt(paillier_512, plain, q)
    d2, agg2 = decrypt(paillier_512, plain, without)
    np.testing.assert_array_equal(d2.decrypt(agg2).integer_sum, result.integer_sum)
    if obfuscator == "fixed_base":
        assert [i.ciphertexts for i in without] == [i.ciphertexts for i in inputs]


def refused(
    kp: PaillierKeyPair,
    cfg: PaillierConfig,
    inputs: list[EncryptedInput],
    *,
    match: str,
    peer: int,
) -> None:
    decryptor, agg = decrypt(kp, cfg, inputs)
    with pytest.raises(InvariantViolationError, match=match) as info:
        decryptor.decrypt(agg)
    assert info.value.peer == peer
    assert decryptor.round_state(inputs[0].round) is RoundState.ABORTED
    assert decryptor.released_clients(inputs[0].round) == frozenset()


def test_tampered_proof_is_refused(paillier_512: PaillierKeyPair) -> None:
    cfg = config()
    inputs = encrypt(paillier_512, cfg, quantized(cfg, 3, seed=2))
    proof = proof_of(inputs[1])
    changed = tampered(proof, "z_r", 0, proof.z_r[0] ^ 1)
    size = paillier_512.public_key.ciphertext_size
    bad = resign(inputs[1], 2, proof=changed.to_bytes(size))
    refused(paillier_512, cfg, [inputs[0], bad, inputs[2]], match="INV-12", peer=2)
    # Tampering without re-signing is caught by the signature first (INV-8).
    unsigned = dataclasses.replace(inputs[1], proof=changed.to_bytes(size))
    decryptor = Decryptor(paillier_512.private_key, cfg, client_keys=PUBLIC)
    agg = PaillierAggregator(paillier_512.public_key, cfg, forward_inputs=True).aggregate(
        [inputs[0], unsigned], round=1
    )
    with pytest.raises(InvariantViolationError, match="INV-8"):
        decryptor.decrypt(agg)


def test_proof_of_another_signer_is_refused(paillier_512: PaillierKeyPair) -> None:
    """A colluder (7) re-signs client 1's ciphertexts and proof under its own id."""
    cfg = config()
    inputs = encrypt(paillier_512, cfg, quantized(cfg, 3, seed=3))
    copy = resign(inputs[0], 7, client=ClientId(7))
    refused(paillier_512, cfg, [copy, inputs[1], inputs[2]], match="INV-12", peer=7)


def test_proof_copied_onto_other_ciphertexts_is_refused(paillier_512: PaillierKeyPair) -> None:
    """A colluder keeps the victim's proof but re-randomises the ciphertexts (§7.3)."""
    cfg = config()
    pk = paillier_512.public_key
    inputs = encrypt(paillier_512, cfg, quantized(cfg, 3, seed=4))
    victim = inputs[0]
    noise = shared_fixed_base(pk).draw(victim.count, CSPRNG(44))
    rerandomised = b"".join(
        int(c * r % pk.nsquare).to_bytes(pk.ciphertext_size, "big")
        for c, r in zip(victim.ciphertext_values(), noise, strict=True)
    )
    copy = resign(victim, 7, client=ClientId(7), ciphertexts=rerandomised)
    refused(paillier_512, cfg, [copy, inputs[1], inputs[2]], match="INV-12", peer=7)


def test_proof_for_another_round_is_refused(paillier_512: PaillierKeyPair) -> None:
    cfg = config()
    q = quantized(cfg, 3, seed=5)
    old = encrypt(paillier_512, cfg, q, round=1)
    current = encrypt(paillier_512, cfg, q, round=2)
    # Client 2 replays its round-1 ciphertexts and proof, signing them for round 2.
    replay = resign(old[1], 2, round=RoundId(2))
    refused(paillier_512, cfg, [current[0], replay, current[2]], match="INV-12", peer=2)


def test_out_of_range_responses_are_refused(paillier_512: PaillierKeyPair) -> None:
    cfg = config()
    pk = paillier_512.public_key
    size = pk.ciphertext_size
    inputs = encrypt(paillier_512, cfg, quantized(cfg, 2, seed=6))
    proof = proof_of(inputs[1])
    for name, value in (("z_m", pk.n), ("z_r", 1 << pok.response_bits(pk))):
        bad = resign(inputs[1], 2, proof=tampered(proof, name, 1, value).to_bytes(size))
        refused(paillier_512, cfg, [inputs[0], bad], match=r"out of range.*INV-12", peer=2)


def test_missing_unexpected_and_malformed_proofs(paillier_512: PaillierKeyPair) -> None:
    cfg = config()
    pk = paillier_512.public_key
    inputs = encrypt(paillier_512, cfg, quantized(cfg, 2, seed=7))
    bare = resign(inputs[1], 2, proof_form=0, proof=b"")
    aggregator = PaillierAggregator(pk, cfg, forward_inputs=True)
    with pytest.raises(InvariantViolationError, match="INV-12") as info:
        aggregator.aggregate([inputs[0], bare], round=1)
    assert info.value.peer == 2
    # A malicious aggregator forwards it anyway: the decryptor refuses too.
    product = [
        a * b % pk.nsquare
        for a, b in zip(inputs[0].ciphertext_values(), bare.ciphertext_values(), strict=True)
    ]
    forged = EncryptedAggregate(
        key_id=pk.key_id,
        layout_id=cfg.layout_id,
        round=RoundId(1),
        bucket=0,
        contributors=(ClientId(1), ClientId(2)),
        ciphertext_size=pk.ciphertext_size,
        ciphertexts=b"".join(int(c).to_bytes(pk.ciphertext_size, "big") for c in product),
        inputs=(inputs[0], bare),
    )
    decryptor = Decryptor(paillier_512.private_key, cfg, client_keys=PUBLIC)
    with pytest.raises(InvariantViolationError, match=r"no proof.*INV-12"):
        decryptor.decrypt(forged.encode())
    # A proof where the configuration has none is refused as malformed.
    plain = config(prove_inputs=False)
    unproved = encrypt(paillier_512, plain, quantized(plain, 2, seed=7))
    extra = resign(unproved[1], 2, proof_form=inputs[1].proof_form, proof=inputs[1].proof)
    with pytest.raises(MalformedMessageError, match="prove_inputs"):
        PaillierAggregator(pk, plain).aggregate([unproved[0], extra], round=1)
    # Encodings: wrong proof length, unknown form, proof bytes without a form.
    enc = inputs[1].encode()
    ct_end = 56 + inputs[1].count * pk.ciphertext_size
    for broken in (
        enc[: ct_end + 1] + inputs[1].proof[:-1] + enc[-65:],  # proof one byte short
        enc[:ct_end] + b"\x03" + enc[ct_end + 1 :],  # unknown form
    ):
        with pytest.raises(MalformedMessageError):
            EncryptedInput.decode(broken)
    with pytest.raises(MalformedMessageError):
        dataclasses.replace(inputs[1], proof_form=0)
    with pytest.raises(MalformedMessageError):
        dataclasses.replace(inputs[1], proof=inputs[1].proof[:-1])
    assert EncryptedInput.decode(enc) == inputs[1]
    assert len(enc) == inputs[1].encoded_size


def test_proof_configuration_errors(paillier_512: PaillierKeyPair) -> None:
    cfg = config()
    pk = paillier_512.public_key
    with pytest.raises(ConfigurationError, match="bool"):
        config(prove_inputs=1)
    with pytest.raises(ConfigurationError, match="signing key"):
        PaillierClient(pk, cfg, 1)
    with pytest.raises(ConfigurationError, match="client_keys"):
        Decryptor(paillier_512.private_key, cfg)
    with pytest.raises(ConfigurationError, match="sign_inputs"):
        PaillierSecureSum(cfg, keypair=paillier_512, sign_inputs=False, rng=CSPRNG(1))
    client = PaillierClient(pk, cfg, 1, signing_key=KEYS[1])
    assert client.prove_inputs
    assert Decryptor(paillier_512.private_key, cfg, client_keys=PUBLIC).prove_inputs


def test_session_with_proofs(paillier_512: PaillierKeyPair) -> None:
    cfg = config(max_weight=4.0, min_contributors=3)
    rng = CSPRNG(8)
    xs = [(rng.uniform(D) * 2 - 1).astype(np.float32) for _ in range(6)]
    ws = [1.0, 2.0, 3.0, 1.5, 0.5, 4.0]
    ticks = itertools.count()
    with PaillierSecureSum(
        cfg, keypair=paillier_512, rng=CSPRNG(9), clock=lambda: float(next(ticks))
    ) as session:
        session.precompute(6)
        result = session.sums(1, xs, list(range(6)), weights=ws, buckets=[[0, 2, 4], [1, 3, 5]])
    # The clock advances one tick per reading: a client reads it at its start, around its
    # proof and at its end (3 ticks, 1 of them proving); the decryptor around each proof.
    assert result.stats.prove_seconds == dict.fromkeys(range(6), 1.0)
    assert all(t == 3.0 for t in result.stats.encrypt_seconds.values())
    assert result.stats.verify_seconds == 6.0
    assert result.stats.decrypt_seconds == 2 * (3 * 2 + 1)
    assert session.decryptor.proof_seconds == 6.0
    for agg, members in zip(result.aggregates, [[0, 2, 4], [1, 3, 5]], strict=True):
        truth = sum(ws[i] * xs[i].astype(np.float64) for i in members)
        assert np.max(np.abs(agg.values - truth)) <= len(members) * cfg.values.step
    size = paillier_512.public_key.ciphertext_size
    proof = pok.proof_size(RandomnessForm.FIXED_BASE, size, cfg.num_ciphertexts)
    expected = 56 + cfg.num_ciphertexts * size + 1 + proof + 1 + 64
    assert set(result.stats.bytes_per_client.values()) == {expected}
