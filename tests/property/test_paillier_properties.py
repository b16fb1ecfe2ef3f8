"""Hypothesis properties of packed Paillier: packing, messages, exact sums, proofs."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from secfl.crypto.packing import SlotPacker
from secfl.crypto.paillier import PaillierKeyPair, RandomnessForm, generate_keypair
from secfl.crypto.paillier_pok import proof_size
from secfl.crypto.random import CSPRNG
from secfl.errors import InvariantViolationError
from secfl.he import (
    Decryptor,
    EncryptedAggregate,
    EncryptedInput,
    PaillierAggregator,
    PaillierClient,
    PaillierConfig,
)
from secfl.types import ClientId, RoundId


@functools.cache
def _key() -> PaillierKeyPair:
    """A TEST-ONLY 768-bit key: the properties do not depend on the key size."""
    return generate_keypair(768, rng=CSPRNG(b"tests/property/paillier"), allow_insecure=True)


@st.composite
def packings(draw: st.DrawFn) -> tuple[SlotPacker, np.ndarray]:
    k = draw(st.integers(1, 64))
    s = draw(st.integers(1, 40))
    n = draw(st.integers(0, 120))
    values = draw(st.lists(st.integers(0, (1 << k) - 1), min_size=n, max_size=n))
    return SlotPacker(slot_bits=k, slots=s), np.array(values, dtype=np.uint64)


@settings(max_examples=150, deadline=None)
@given(packings())
def test_pack_unpack_round_trip(case: tuple[SlotPacker, np.ndarray]) -> None:
    packer, values = case
    packed = packer.pack(values)
    for i, m in enumerate(packed):
        chunk = values[i * packer.slots : (i + 1) * packer.slots]
        assert m == sum(int(v) << (j * packer.slot_bits) for j, v in enumerate(chunk))
    np.testing.assert_array_equal(packer.unpack(packed, values.size), values)


ids16 = st.binary(min_size=16, max_size=16)


@st.composite
def inputs(draw: st.DrawFn) -> EncryptedInput:
    size = draw(st.integers(1, 40))
    count = draw(st.integers(1, 5))
    form = 0
    proof = b""
    if size % 4 == 0 and draw(st.booleans()):  # proofs need sizes that are multiples of 4
        form = int(draw(st.sampled_from(list(RandomnessForm))))
        length = proof_size(form, size, count)
        proof = draw(st.binary(min_size=length, max_size=length))
    return EncryptedInput(
        key_id=draw(ids16),
        layout_id=draw(ids16),
        round=RoundId(draw(st.integers(0, 2**64 - 1))),
        client=ClientId(draw(st.integers(0, 2**64 - 1))),
        ciphertext_size=size,
        ciphertexts=draw(st.binary(min_size=size * count, max_size=size * count)),
        proof_form=form,
        proof=proof,
        signature=draw(st.none() | st.binary(min_size=64, max_size=64)),
    )


@settings(max_examples=100, deadline=None)
@given(inputs())
def test_input_encoding_round_trip(msg: EncryptedInput) -> None:
    enc = msg.encode()
    assert len(enc) == msg.encoded_size
    assert EncryptedInput.decode(enc) == msg


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=6, unique=True),
    st.integers(0, 2**32 - 1),
    st.booleans(),
    inputs(),
)
def test_aggregate_encoding_round_trip(
    ids: list[int], bucket: int, forward: bool, template: EncryptedInput
) -> None:
    ids.sort()
    forwarded = tuple(
        EncryptedInput(
            key_id=template.key_id,
            layout_id=template.layout_id,
            round=template.round,
            client=ClientId(i),
            ciphertext_size=template.ciphertext_size,
            ciphertexts=template.ciphertexts,
            proof_form=template.proof_form,
            proof=template.proof,
            signature=template.signature,
        )
        for i in ids
    )
    msg = EncryptedAggregate(
        key_id=template.key_id,
        layout_id=template.layout_id,
        round=template.round,
        bucket=bucket,
        contributors=tuple(ClientId(i) for i in ids),
        ciphertext_size=template.ciphertext_size,
        ciphertexts=template.ciphertexts,
        inputs=forwarded if forward else (),
    )
    enc = msg.encode()
    assert len(enc) == msg.encoded_size
    assert EncryptedAggregate.decode(enc) == msg


@st.composite
def sum_cases(draw: st.DrawFn) -> tuple[PaillierConfig, np.ndarray, float | None]:
    n_max = draw(st.integers(1, 12))
    cfg = PaillierConfig(
        dimension=draw(st.integers(1, 80)),
        clip=draw(st.floats(1e-3, 1e3)),
        max_clients=n_max,
        min_contributors=draw(st.integers(1, n_max)),
        value_bits=draw(st.integers(2, 40)),
        max_weight=draw(st.none() | st.floats(0.1, 100.0)),
        key_bits=768,
        allow_insecure_key=True,
    )
    n = draw(st.integers(cfg.min_contributors, n_max))
    m = cfg.offset
    edge = st.sampled_from([-m, -m + 1, -1, 0, 1, m - 1, m])
    rows = [
        draw(st.lists(edge | st.integers(-m, m), min_size=cfg.dimension, max_size=cfg.dimension))
        for _ in range(n)
    ]
    return cfg, np.array(rows, dtype=np.int64), cfg.max_weight


@settings(max_examples=40, deadline=None)
@given(sum_cases(), st.integers(0, 2**32))
def test_sums_are_bit_exact(
    case: tuple[PaillierConfig, np.ndarray, float | None], seed: int
) -> None:
    cfg, q, max_weight = case
    kp = _key()
    rng = CSPRNG(seed)
    weights = None
    if max_weight is not None:
        assert cfg.weights is not None
        weights = [int(w) for w in rng.integers(cfg.weights.max_magnitude + 1, len(q))]
    inputs = [
        PaillierClient(kp.public_key, cfg, i, rng=rng.spawn(b"client")).encrypt_quantized(
            row, round=3, weight=None if weights is None else weights[i]
        )
        for i, row in enumerate(q)
    ]
    agg = PaillierAggregator(kp.public_key, cfg).aggregate(inputs, round=3)
    result = Decryptor(kp.private_key, cfg).decrypt(agg.encode())
    np.testing.assert_array_equal(result.integer_sum, q.sum(axis=0))
    assert result.count == len(q)
    if weights is not None:
        assert result.weight_integer_sum == sum(weights)


_IDENTITIES = {i: Ed25519PrivateKey.from_private_bytes(bytes([i + 1]) * 32) for i in range(4)}


def _proof_config(dimension: int) -> PaillierConfig:
    return PaillierConfig(
        dimension=dimension,
        clip=1.0,
        max_clients=4,
        min_contributors=2,
        key_bits=768,
        allow_insecure_key=True,
        prove_inputs=True,
    )


@settings(max_examples=12, deadline=None)
@given(st.integers(1, 90), st.integers(2, 4), st.booleans(), st.integers(0, 2**32))
def test_sums_with_proofs_are_bit_exact(dim: int, n: int, textbook: bool, seed: int) -> None:
    from secfl.crypto.paillier import StandardObfuscator

    cfg = _proof_config(dim)
    kp = _key()
    rng = CSPRNG(seed)
    q = np.stack([rng.integers(2 * cfg.offset + 1, dim) - cfg.offset for _ in range(n)])
    inputs = [
        PaillierClient(
            kp.public_key,
            cfg,
            i,
            rng=rng.spawn(b"client"),
            signing_key=_IDENTITIES[i],
            obfuscator=StandardObfuscator(kp.public_key) if textbook and i == 0 else None,
        ).encrypt_quantized(row, round=2)
        for i, row in enumerate(q)
    ]
    keys = {ClientId(i): k.public_key() for i, k in _IDENTITIES.items()}
    agg = PaillierAggregator(kp.public_key, cfg, forward_inputs=True).aggregate(inputs, round=2)
    result = Decryptor(kp.private_key, cfg, client_keys=keys, rng=rng).decrypt(agg.encode())
    np.testing.assert_array_equal(result.integer_sum, q.sum(axis=0))


@functools.cache
def _proved_pair() -> tuple[EncryptedInput, EncryptedInput]:
    cfg = _proof_config(30)
    kp = _key()
    a, b = (
        PaillierClient(
            kp.public_key, cfg, i, rng=CSPRNG(i), signing_key=_IDENTITIES[i]
        ).encrypt_quantized(np.full(30, i, dtype=np.int64), round=1)
        for i in range(2)
    )
    return a, b


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_any_bit_flip_in_a_proof_is_refused(data: st.DataObject) -> None:
    """Even re-signed by its own client, an input whose proof has one bit flipped is refused."""
    from secfl.he._signatures import sign

    cfg = _proof_config(30)
    kp = _key()
    good, victim = _proved_pair()
    bit = data.draw(st.integers(0, 8 * len(victim.proof) - 1))
    flipped = bytearray(victim.proof)
    flipped[bit // 8] ^= 1 << (bit % 8)
    bad = dataclasses.replace(victim, proof=bytes(flipped), signature=None)
    bad = dataclasses.replace(bad, signature=sign(_IDENTITIES[1], bad.body()))
    keys = {ClientId(i): k.public_key() for i, k in _IDENTITIES.items()}
    agg = PaillierAggregator(kp.public_key, cfg, forward_inputs=True).aggregate(
        [good, bad], round=1
    )
    with pytest.raises(InvariantViolationError, match="INV-12") as info:
        Decryptor(kp.private_key, cfg, client_keys=keys).decrypt(agg)
    assert info.value.peer == 1
