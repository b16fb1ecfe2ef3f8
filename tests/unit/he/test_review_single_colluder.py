"""Review finding: in signed mode ONE colluding registered client lets the aggregator
isolate a victim's input, whatever ``min_contributors`` is, unless inputs carry
proofs of plaintext knowledge (``prove_inputs``, paillier.md §4.1, §7.4, INV-12).

The attack: the colluder signs, as its own input, the homomorphic *inverse* of the
other honest inputs of the round times encryptions it chose (Paillier is malleable
and the public key is public). The aggregate then decrypts to the victim's input
plus known constants; without proofs every decryptor check (signatures, INV-6
distinct ciphertexts, INV-8 product, INV-9 counter == K >= m_min, INV-10 slot
bounds) passes. With proofs, the colluder would have to prove knowledge of the
plaintext of its crafted input, i.e. of minus the sum of three honest inputs.

Trade-off (paillier.md §7.3-§7.4, measured in §9.3): ``prove_inputs`` roughly doubles
the client's encryption time and about triples the input size (a fixed-base proof adds
1073 bytes to each 512-byte ciphertext at 2048 bits); without it, the attack below works.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import gmpy2
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from secfl.crypto import paillier_pok
from secfl.crypto.paillier import (
    PaillierKeyPair,
    RandomnessForm,
    generate_keypair,
    shared_fixed_base,
)
from secfl.crypto.random import CSPRNG
from secfl.errors import InvariantViolationError, UnexpectedMessageError
from secfl.he import (
    Decryptor,
    EncryptedAggregate,
    EncryptedInput,
    PaillierAggregator,
    PaillierClient,
    PaillierConfig,
    RoundState,
)
from secfl.types import ClientId, RoundId

LABEL = b"secfl/v1/he/paillier/input-signature"
M_MIN = 5
IDS = [1, 2, 3, 4, 9]  # 1 = victim, 2..4 honest, 9 = the single colluder
KEYS = {i: Ed25519PrivateKey.from_private_bytes(bytes([i]) * 32) for i in IDS}
PUBLIC = {ClientId(i): k.public_key() for i, k in KEYS.items()}


@pytest.fixture(scope="module")
def key() -> PaillierKeyPair:
    return generate_keypair(512, rng=CSPRNG(b"review/paillier-512"), allow_insecure=True)


def _config(prove: bool) -> PaillierConfig:
    return PaillierConfig(
        dimension=40,
        clip=1.0,
        max_clients=10,
        min_contributors=M_MIN,
        key_bits=512,
        allow_insecure_key=True,
        prove_inputs=prove,
    )


def _honest(kp: PaillierKeyPair, cfg: PaillierConfig) -> tuple[dict[int, Any], dict[int, Any]]:
    rng = CSPRNG(7)
    m = cfg.offset
    q = {i: rng.integers(2 * m + 1, cfg.dimension) - m for i in IDS[:-1]}
    honest = {
        i: PaillierClient(
            kp.public_key, cfg, i, rng=CSPRNG(100 + i), signing_key=KEYS[i]
        ).encrypt_quantized(q[i], round=1)
        for i in IDS[:-1]
    }
    return q, honest


def _crafted(
    kp: PaillierKeyPair, cfg: PaillierConfig, honest: dict[int, EncryptedInput]
) -> tuple[list[Any], list[int], list[int]]:
    """The colluder's ciphertexts: m_min - 1 encryptions of zero (slots M, counter 1 each)
    that it made itself, times the inverses of the other honest inputs' ciphertexts.

    Returns the ciphertexts and everything the colluder knows about them: the sum of
    its own plaintexts and of its own fixed-base openings, per ciphertext.
    """
    pk = kp.public_key
    nsq = pk.nsquare
    own = PaillierClient(pk, cfg, 9, signing_key=KEYS[9])  # only for the slot layout
    plain = cfg.packer.pack(own.slots(np.zeros(cfg.dimension, dtype=np.int64)))
    table = shared_fixed_base(pk)
    known_m = [0] * cfg.num_ciphertexts
    known_a = [0] * cfg.num_ciphertexts
    forged = [gmpy2.mpz(1)] * cfg.num_ciphertexts
    rng = CSPRNG(9)
    for _ in range(M_MIN - 1):
        rho, alphas = table.draw_opened(cfg.num_ciphertexts, rng)
        for j in range(cfg.num_ciphertexts):
            forged[j] = forged[j] * pk.encrypt_raw(plain[j], rho[j]) % nsq
            known_m[j] += plain[j]
            known_a[j] += alphas[j]
    for i in (2, 3, 4):
        for j, c in enumerate(honest[i].ciphertext_values()):
            forged[j] = forged[j] * gmpy2.invert(gmpy2.mpz(c), nsq) % nsq
    return forged, [m % pk.n for m in known_m], known_a


def _signed_input(
    kp: PaillierKeyPair, cfg: PaillierConfig, ciphertexts: list[Any], **proof: Any
) -> EncryptedInput:
    size = kp.public_key.ciphertext_size
    msg = EncryptedInput(
        key_id=kp.public_key.key_id,
        layout_id=cfg.layout_id,
        round=RoundId(1),
        client=ClientId(9),
        ciphertext_size=size,
        ciphertexts=b"".join(int(c).to_bytes(size, "big") for c in ciphertexts),
        **proof,
    )
    return dataclasses.replace(msg, signature=KEYS[9].sign(LABEL + msg.body()))


def _aggregate_by_hand(
    kp: PaillierKeyPair, cfg: PaillierConfig, inputs: list[EncryptedInput]
) -> bytes:
    """What a malicious aggregator sends: the product, with the inputs forwarded."""
    pk = kp.public_key
    product = [gmpy2.mpz(1)] * cfg.num_ciphertexts
    for inp in inputs:
        values = inp.ciphertext_values()
        product = [a * c % pk.nsquare for a, c in zip(product, values, strict=True)]
    inputs = sorted(inputs, key=lambda m: m.client)
    return EncryptedAggregate(
        key_id=pk.key_id,
        layout_id=cfg.layout_id,
        round=RoundId(1),
        bucket=0,
        contributors=tuple(m.client for m in inputs),
        ciphertext_size=pk.ciphertext_size,
        ciphertexts=b"".join(int(c).to_bytes(pk.ciphertext_size, "big") for c in product),
        inputs=tuple(inputs),
    ).encode()


def test_without_proofs_one_colluder_isolates_the_victim(key: PaillierKeyPair) -> None:
    """The documented limitation (paillier.md §7.3): prove_inputs off, the attack works."""
    cfg = _config(prove=False)
    q, honest = _honest(key, cfg)
    forged, _, _ = _crafted(key, cfg, honest)
    colluder = _signed_input(key, cfg, forged)
    agg = PaillierAggregator(key.public_key, cfg, forward_inputs=True, client_keys=PUBLIC)
    aggregate = agg.aggregate([*honest.values(), colluder], round=1)
    result = Decryptor(key.private_key, cfg, client_keys=PUBLIC).decrypt(aggregate.encode())
    assert result.count == M_MIN
    np.testing.assert_array_equal(result.integer_sum, q[1])  # the victim's input alone


def _attempts(
    kp: PaillierKeyPair, cfg: PaillierConfig, honest: dict[int, EncryptedInput]
) -> dict[str, EncryptedInput]:
    forged, known_m, known_a = _crafted(kp, cfg, honest)
    pk = kp.public_key
    unproved = _signed_input(kp, cfg, forged)
    context = unproved.proof_context()
    size = pk.ciphertext_size
    form = int(RandomnessForm.FIXED_BASE)
    # (b) a valid proof, but for the colluder's own honest encryption of zeros.
    own = PaillierClient(pk, cfg, 9, rng=CSPRNG(99), signing_key=KEYS[9]).encrypt_quantized(
        np.zeros(cfg.dimension, dtype=np.int64), round=1
    )
    # (c) the fixed-base Σ-protocol run on the crafted ciphertexts with everything the
    # colluder knows (its own plaintexts and exponents; the honest ones are unknown).
    table = shared_fixed_base(pk)
    table.extend(paillier_pok.sigma_bits(pk))
    rng = CSPRNG(10)
    rho = [int.from_bytes(rng.random_bytes(64), "big") % pk.n for _ in forged]
    sigma = [int.from_bytes(rng.random_bytes(112), "big") for _ in forged]
    t = [(1 + r * pk.n) * table.power(x) % pk.nsquare for r, x in zip(rho, sigma, strict=True)]
    e = paillier_pok.challenge(pk, RandomnessForm.FIXED_BASE, context, forged, t)
    best_effort = paillier_pok.PlaintextProof(
        form=RandomnessForm.FIXED_BASE,
        commitments=tuple(int(x) for x in t),
        z_m=tuple((r + e * m) % pk.n for r, m in zip(rho, known_m, strict=True)),
        z_r=tuple(x + e * a for x, a in zip(sigma, known_a, strict=True)),
    )
    # (d) a proof of the victim's input, copied.
    victim = honest[1]
    return {
        "no proof": unproved,
        "own proof of other ciphertexts": _signed_input(
            kp, cfg, forged, proof_form=own.proof_form, proof=own.proof
        ),
        "proof from known parts only": _signed_input(
            kp, cfg, forged, proof_form=form, proof=best_effort.to_bytes(size)
        ),
        "victim's proof copied": _signed_input(
            kp, cfg, forged, proof_form=victim.proof_form, proof=victim.proof
        ),
    }


def test_with_proofs_one_colluder_cannot_isolate_a_victim(key: PaillierKeyPair) -> None:
    """prove_inputs on: every way the colluder can attach (or omit) a proof is refused,
    nothing is released, and the round is aborted (fail closed)."""
    cfg = _config(prove=True)
    _, honest = _honest(key, cfg)
    honest_aggregator = PaillierAggregator(
        key.public_key, cfg, forward_inputs=True, client_keys=PUBLIC
    )
    for name, colluder in _attempts(key, cfg, honest).items():
        inputs = [*honest.values(), colluder]
        if name == "no proof":
            with pytest.raises(InvariantViolationError, match="INV-12") as info:
                honest_aggregator.aggregate(inputs, round=1)
            assert info.value.peer == 9
        else:
            honest_aggregator.aggregate(inputs, round=1)  # it only checks presence
        decryptor = Decryptor(key.private_key, cfg, client_keys=PUBLIC)
        with pytest.raises(InvariantViolationError, match="INV-12") as info:
            decryptor.decrypt(_aggregate_by_hand(key, cfg, inputs))
        assert info.value.peer == 9, name
        assert decryptor.round_state(1) is RoundState.ABORTED
        assert decryptor.released_clients(1) == frozenset()
        with pytest.raises(UnexpectedMessageError):  # nothing more for this round
            decryptor.decrypt(_aggregate_by_hand(key, cfg, list(honest.values())[:4]))


def test_with_proofs_an_honest_colluder_input_releases_only_the_honest_sum(
    key: PaillierKeyPair,
) -> None:
    """What remains (paillier.md §7.4): a colluder whose input is a real, proven
    encryption learns the sum of the other m_min - 1 honest inputs, never one of them."""
    cfg = _config(prove=True)
    q, honest = _honest(key, cfg)
    zeros = PaillierClient(key.public_key, cfg, 9, rng=CSPRNG(5), signing_key=KEYS[9])
    colluder = zeros.encrypt_quantized(np.zeros(cfg.dimension, dtype=np.int64), round=1)
    aggregate = PaillierAggregator(
        key.public_key, cfg, forward_inputs=True, client_keys=PUBLIC
    ).aggregate([*honest.values(), colluder], round=1)
    result = Decryptor(key.private_key, cfg, client_keys=PUBLIC).decrypt(aggregate.encode())
    assert result.count == M_MIN
    np.testing.assert_array_equal(result.integer_sum, sum(q[i] for i in (1, 2, 3, 4)))
