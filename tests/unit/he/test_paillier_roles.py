"""Client, aggregator and decryptor: exact sums, the policy, and every refusal."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import gmpy2
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import secfl.he as he
from secfl.crypto.packing import SlotPacker
from secfl.crypto.paillier import PaillierKeyPair, StandardObfuscator
from secfl.crypto.random import CSPRNG
from secfl.errors import (
    ConfigurationError,
    InvalidInputError,
    InvariantViolationError,
    LocalProtocolError,
    MalformedMessageError,
    ThresholdNotMetError,
    UnexpectedMessageError,
)
from secfl.he import (
    Decryptor,
    EncryptedAggregate,
    EncryptedInput,
    PaillierAggregator,
    PaillierClient,
    PaillierConfig,
    RoundState,
)
from secfl.types import ClientId

D = 250  # three ciphertexts per input at 16-bit slots with a 2048-bit key


def config(**kw: Any) -> PaillierConfig:
    base: dict[str, Any] = {"dimension": D, "clip": 1.0, "max_clients": 10, "min_contributors": 3}
    base.update(kw)
    return PaillierConfig(**base)


def random_quantized(cfg: PaillierConfig, n: int, seed: int) -> np.ndarray:
    m = cfg.offset
    rng = CSPRNG(seed)
    q = np.stack([rng.integers(2 * m + 1, cfg.dimension) - m for _ in range(n)])
    # Extremes: one client at +M everywhere, one at -M, one alternating.
    q[0, :] = m
    if n > 1:
        q[1, :] = -m
    if n > 2:
        q[2, ::2], q[2, 1::2] = m, -m
    return q


def encrypt_all(
    kp: PaillierKeyPair,
    cfg: PaillierConfig,
    q: np.ndarray,
    *,
    round: int = 1,
    ids: Sequence[int] | None = None,
    signing: dict[int, Ed25519PrivateKey] | None = None,
) -> list[EncryptedInput]:
    ids = list(range(1, len(q) + 1)) if ids is None else list(ids)
    out = []
    for cid, row in zip(ids, q, strict=True):
        client = PaillierClient(
            kp.public_key,
            cfg,
            cid,
            rng=CSPRNG(1000 + cid),
            signing_key=None if signing is None else signing[cid],
        )
        out.append(client.encrypt_quantized(row, round=round))
    return out


def identities(ids: Sequence[int]) -> dict[int, Ed25519PrivateKey]:
    return {i: Ed25519PrivateKey.from_private_bytes(bytes([i % 256]) * 32) for i in ids}


def public(keys: dict[int, Ed25519PrivateKey]) -> dict[ClientId, Any]:
    return {ClientId(i): k.public_key() for i, k in keys.items()}


@pytest.mark.parametrize("value_bits", [8, 16, 32])
def test_exact_integer_sum_with_extremes(paillier_2048: PaillierKeyPair, value_bits: int) -> None:
    cfg = config(value_bits=value_bits)
    q = random_quantized(cfg, cfg.max_clients, seed=value_bits)
    inputs = encrypt_all(paillier_2048, cfg, q)
    agg = PaillierAggregator(paillier_2048.public_key, cfg).aggregate(inputs, round=1)
    result = Decryptor(paillier_2048.private_key, cfg).decrypt(agg.encode())
    np.testing.assert_array_equal(result.integer_sum, q.sum(axis=0))  # bit-exact
    np.testing.assert_array_equal(result.values, q.sum(axis=0) / cfg.values.scale)
    assert result.count == cfg.max_clients
    assert result.contributors == tuple(range(1, 11))
    assert result.total_weight == cfg.max_clients


def test_all_clients_at_the_maximum_fill_slots_without_carry(
    paillier_2048: PaillierKeyPair,
) -> None:
    cfg = config(value_bits=8, max_clients=16, min_contributors=16)
    for sign in (1, -1):
        q = np.full((16, D), sign * cfg.offset, dtype=np.int64)
        agg = PaillierAggregator(paillier_2048.public_key, cfg).aggregate(
            encrypt_all(paillier_2048, cfg, q), round=1
        )
        result = Decryptor(paillier_2048.private_key, cfg).decrypt(agg)
        np.testing.assert_array_equal(result.integer_sum, np.full(D, 16 * sign * cfg.offset))


def test_phe_decrypts_the_same_aggregate(paillier_2048: PaillierKeyPair) -> None:
    """Independent oracle: phe's CRT decryption plus a naive bit-level unpack."""
    cfg = config()
    q = random_quantized(cfg, 4, seed=3)
    agg = PaillierAggregator(paillier_2048.public_key, cfg).aggregate(
        encrypt_all(paillier_2048, cfg, q), round=1
    )
    phe_priv = paillier_2048.private_key.to_phe()
    k, s = cfg.slot_bits, cfg.slots_per_plaintext
    slots = []
    for c in agg.ciphertext_values():
        m = phe_priv.raw_decrypt(c)
        slots.extend((m >> (j * k)) & ((1 << k) - 1) for j in range(s))
    slots = slots[: cfg.num_slots]
    assert slots[-1] == 4  # the counter
    expected = [int(v) + 4 * cfg.offset for v in q.sum(axis=0)]
    assert slots[:D] == expected


def test_float_sum_is_within_rounding_error(paillier_2048: PaillierKeyPair) -> None:
    cfg = config(clip=0.5)
    rng = CSPRNG(11)
    xs = [(rng.uniform(D) * 2 - 1).astype(np.float32) for _ in range(5)]  # some beyond clip
    inputs = [
        PaillierClient(paillier_2048.public_key, cfg, i, rng=CSPRNG(i)).encrypt(x, round=7)
        for i, x in enumerate(xs)
    ]
    result = Decryptor(paillier_2048.private_key, cfg).decrypt(
        PaillierAggregator(paillier_2048.public_key, cfg).aggregate(inputs, round=7)
    )
    truth = np.sum([np.clip(x.astype(np.float64), -0.5, 0.5) for x in xs], axis=0)
    assert np.max(np.abs(result.values - truth)) <= 5 * cfg.values.step
    assert np.max(np.abs(result.mean() - truth / 5)) <= cfg.values.step


def test_weighted_sum(paillier_2048: PaillierKeyPair) -> None:
    cfg = config(max_weight=4.0)
    assert cfg.weighted
    assert cfg.num_slots == D + 2
    rng = CSPRNG(12)
    xs = [(rng.uniform(D) * 2 - 1).astype(np.float32) for _ in range(4)]
    ws = [0.5, 1.0, 2.0, 4.0]
    inputs = [
        PaillierClient(paillier_2048.public_key, cfg, i, rng=CSPRNG(i)).encrypt(
            x, round=1, weight=w
        )
        for i, (x, w) in enumerate(zip(xs, ws, strict=True))
    ]
    result = Decryptor(paillier_2048.private_key, cfg).decrypt(
        PaillierAggregator(paillier_2048.public_key, cfg).aggregate(inputs, round=1)
    )
    truth = np.sum([w * x.astype(np.float64) for x, w in zip(xs, ws, strict=True)], axis=0)
    assert abs(result.total_weight - sum(ws)) <= 4 * cfg.weights.step  # type: ignore[union-attr]
    assert np.max(np.abs(result.values - truth)) <= 4 * cfg.values.step
    np.testing.assert_allclose(result.mean(), truth / sum(ws), atol=1e-3)


def test_obfuscator_choices_all_decrypt(paillier_2048: PaillierKeyPair) -> None:
    cfg = config(min_contributors=1)
    pk = paillier_2048.public_key
    pool = he.ObfuscatorPool(he.FixedBaseObfuscator(pk), rng=CSPRNG(5))
    pool.refill(cfg.num_ciphertexts)
    q = random_quantized(cfg, 3, seed=5)
    clients = [
        PaillierClient(pk, cfg, 1, obfuscator=pool, rng=CSPRNG(1)),
        PaillierClient(pk, cfg, 2, obfuscator=StandardObfuscator(pk), rng=CSPRNG(2)),
        PaillierClient(pk, cfg, 3, rng=CSPRNG(3)),
    ]
    inputs = [c.encrypt_quantized(row, round=1) for c, row in zip(clients, q, strict=True)]
    assert pool.available == 0
    result = Decryptor(paillier_2048.private_key, cfg).decrypt(
        PaillierAggregator(pk, cfg).aggregate(inputs, round=1)
    )
    np.testing.assert_array_equal(result.integer_sum, q.sum(axis=0))


def test_identical_plaintexts_give_unrelated_ciphertexts(paillier_2048: PaillierKeyPair) -> None:
    cfg = config()
    row = np.zeros(D, dtype=np.int64)
    client = PaillierClient(paillier_2048.public_key, cfg, 1)
    a = client.encrypt_quantized(row, round=1).ciphertext_values()
    b = client.encrypt_quantized(row, round=1).ciphertext_values()
    assert not set(a) & set(b)


# --- minimum-contributor policy -------------------------------------------------------


class CountingKey:
    """Wraps a private key and counts decryptions (to prove nothing else is decrypted)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.public_key = inner.public_key
        self.calls = 0

    def decrypt_raw(self, c: Any) -> int:
        self.calls += 1
        return int(self.inner.decrypt_raw(c))


def forge_aggregate(
    kp: PaillierKeyPair,
    cfg: PaillierConfig,
    ciphertexts: list[Any],
    contributors: Sequence[int],
    *,
    round: int = 1,
    bucket: int = 0,
    inputs: tuple[EncryptedInput, ...] = (),
) -> EncryptedAggregate:
    size = kp.public_key.ciphertext_size
    return EncryptedAggregate(
        key_id=kp.public_key.key_id,
        layout_id=cfg.layout_id,
        round=round,  # type: ignore[arg-type]
        bucket=bucket,
        contributors=tuple(ClientId(c) for c in contributors),
        ciphertext_size=size,
        ciphertexts=b"".join(int(c).to_bytes(size, "big") for c in ciphertexts),
        inputs=inputs,
    )


def test_aggregator_refuses_below_min_contributors(paillier_2048: PaillierKeyPair) -> None:
    cfg = config(min_contributors=3)
    inputs = encrypt_all(paillier_2048, cfg, random_quantized(cfg, 2, seed=1))
    with pytest.raises(ThresholdNotMetError):
        PaillierAggregator(paillier_2048.public_key, cfg).aggregate(inputs, round=1)
    with pytest.raises(ThresholdNotMetError):
        PaillierAggregator(paillier_2048.public_key, cfg).aggregate([], round=1)


def test_decryptor_refuses_a_small_honest_aggregate_without_decrypting(
    paillier_2048: PaillierKeyPair,
) -> None:
    cfg = config(min_contributors=3)
    q = random_quantized(cfg, 5, seed=2)
    inputs = encrypt_all(paillier_2048, cfg, q)
    small = forge_aggregate(
        paillier_2048, cfg, inputs[0].ciphertext_values(), [1]
    )  # a single client's input, honestly labelled
    dec = Decryptor(paillier_2048.private_key, cfg)
    counting = CountingKey(paillier_2048.private_key)
    dec._key = counting  # type: ignore[assignment]
    with pytest.raises(ThresholdNotMetError):
        dec.decrypt(small)
    assert counting.calls == 0
    assert dec.round_state(1) is RoundState.OPEN  # a refusal, not an attack: round stays open
    full = PaillierAggregator(paillier_2048.public_key, cfg).aggregate(inputs[1:], round=1)
    result = dec.decrypt(full)
    np.testing.assert_array_equal(result.integer_sum, q[1:].sum(axis=0))


def test_counter_exposes_a_lying_contributor_list(paillier_2048: PaillierKeyPair) -> None:
    """One client's ciphertext relabelled as three clients: only the counter is decrypted."""
    cfg = config(min_contributors=3)
    inputs = encrypt_all(paillier_2048, cfg, random_quantized(cfg, 1, seed=3))
    forged = forge_aggregate(paillier_2048, cfg, inputs[0].ciphertext_values(), [1, 2, 3])
    dec = Decryptor(paillier_2048.private_key, cfg)
    counting = CountingKey(paillier_2048.private_key)
    dec._key = counting  # type: ignore[assignment]
    with pytest.raises(ThresholdNotMetError, match="counter"):
        dec.decrypt(forged)
    assert counting.calls == 1  # only the ciphertext holding the counter slot
    assert dec.round_state(1) is RoundState.ABORTED
    with pytest.raises(UnexpectedMessageError):
        dec.decrypt(forged)


def test_counter_must_match_the_contributors(paillier_2048: PaillierKeyPair) -> None:
    """A Byzantine client that puts 2 in its counter slot is caught."""
    cfg = config(min_contributors=2)
    q = random_quantized(cfg, 3, seed=4)
    inputs = encrypt_all(paillier_2048, cfg, q[:2], ids=[1, 2])
    client = PaillierClient(paillier_2048.public_key, cfg, 3, rng=CSPRNG(3))
    slots = client.slots(q[2])
    slots[cfg.counter_index] = 2
    inputs.append(raw_input(paillier_2048, cfg, 3, cfg.packer.pack(slots)))
    agg = PaillierAggregator(paillier_2048.public_key, cfg).aggregate(inputs, round=1)
    with pytest.raises(InvariantViolationError, match="counter"):
        Decryptor(paillier_2048.private_key, cfg).decrypt(agg)


def raw_input(
    kp: PaillierKeyPair, cfg: PaillierConfig, cid: int, plaintexts: list[int], round: int = 1
) -> EncryptedInput:
    pk = kp.public_key
    rho = StandardObfuscator(pk).draw(len(plaintexts), CSPRNG(cid))
    size = pk.ciphertext_size
    return EncryptedInput(
        key_id=pk.key_id,
        layout_id=cfg.layout_id,
        round=round,  # type: ignore[arg-type]
        client=ClientId(cid),
        ciphertext_size=size,
        ciphertexts=b"".join(
            int(pk.encrypt_raw(m, r)).to_bytes(size, "big")
            for m, r in zip(plaintexts, rho, strict=True)
        ),
    )


def test_out_of_bound_slot_values_are_refused(paillier_2048: PaillierKeyPair) -> None:
    """INV-10: a client whose slot exceeds 2M (e.g. to bias the sum) is detected."""
    cfg = config(min_contributors=3)
    q = random_quantized(cfg, 3, seed=6)
    q[:, 5] = cfg.offset
    inputs = encrypt_all(paillier_2048, cfg, q[:2], ids=[1, 2])
    slots = PaillierClient(paillier_2048.public_key, cfg, 3).slots(q[2])
    slots[5] = 2 * cfg.offset + 1
    inputs.append(raw_input(paillier_2048, cfg, 3, cfg.packer.pack(slots)))
    agg = PaillierAggregator(paillier_2048.public_key, cfg).aggregate(inputs, round=1)
    with pytest.raises(InvariantViolationError, match="INV-10"):
        Decryptor(paillier_2048.private_key, cfg).decrypt(agg)


def test_bits_above_the_slots_are_refused(paillier_2048: PaillierKeyPair) -> None:
    cfg = config(min_contributors=3)
    q = random_quantized(cfg, 3, seed=7)
    inputs = encrypt_all(paillier_2048, cfg, q[:2], ids=[1, 2])
    plaintexts = cfg.packer.pack(PaillierClient(paillier_2048.public_key, cfg, 3).slots(q[2]))
    plaintexts[0] += 1 << (cfg.slot_bits * cfg.slots_per_plaintext)
    inputs.append(raw_input(paillier_2048, cfg, 3, plaintexts))
    agg = PaillierAggregator(paillier_2048.public_key, cfg).aggregate(inputs, round=1)
    with pytest.raises(InvariantViolationError, match="INV-10"):
        Decryptor(paillier_2048.private_key, cfg).decrypt(agg)


def test_unsigned_mode_cannot_stop_dummy_inputs_signed_mode_does(
    paillier_2048: PaillierKeyPair,
) -> None:
    """Documented limit (paillier.md §8): the aggregator holds the public key, so
    in unsigned mode it can pad one client's input with its own encryptions of
    zero-with-counter-1. Signatures close this."""
    cfg = config(min_contributors=3)
    pk = paillier_2048.public_key
    victim = random_quantized(cfg, 1, seed=8)
    inputs = encrypt_all(paillier_2048, cfg, victim, ids=[1])
    dummies = [
        PaillierClient(pk, cfg, cid).encrypt_quantized(np.zeros(D, dtype=np.int64), round=1)
        for cid in (2, 3)
    ]
    agg = PaillierAggregator(pk, cfg).aggregate(inputs + dummies, round=1)
    leaked = Decryptor(paillier_2048.private_key, cfg).decrypt(agg)
    np.testing.assert_array_equal(leaked.integer_sum, victim[0])  # the limitation is real

    keys = identities([1, 2, 3])
    signed_victim = encrypt_all(paillier_2048, cfg, victim, ids=[1], signing=keys)
    forged = PaillierAggregator(pk, cfg).aggregate(signed_victim + dummies, round=1)
    forwarded = forge_aggregate(
        paillier_2048,
        cfg,
        forged.ciphertext_values(),
        [1, 2, 3],
        inputs=(signed_victim[0], dummies[0], dummies[1]),
    )
    dec = Decryptor(paillier_2048.private_key, cfg, client_keys=public(keys))
    with pytest.raises(InvariantViolationError, match="not signed"):
        dec.decrypt(forwarded)


# --- signatures and duplicates ---------------------------------------------------------


def test_signed_round_trip(paillier_2048: PaillierKeyPair) -> None:
    cfg = config()
    keys = identities(range(1, 6))
    q = random_quantized(cfg, 5, seed=9)
    inputs = encrypt_all(paillier_2048, cfg, q, signing=keys)
    assert all(inp.signature is not None for inp in inputs)
    agg = PaillierAggregator(
        paillier_2048.public_key, cfg, forward_inputs=True, client_keys=public(keys)
    ).aggregate(reversed(inputs), round=1)
    assert len(agg.inputs) == 5
    dec = Decryptor(paillier_2048.private_key, cfg, client_keys=public(keys))
    result = dec.decrypt(EncryptedAggregate.decode(agg.encode()))
    np.testing.assert_array_equal(result.integer_sum, q.sum(axis=0))
    assert dec.released_clients(1) == frozenset(range(1, 6))


def test_signed_decryptor_needs_forwarded_inputs(paillier_2048: PaillierKeyPair) -> None:
    cfg = config()
    keys = identities(range(1, 4))
    inputs = encrypt_all(paillier_2048, cfg, random_quantized(cfg, 3, seed=10), signing=keys)
    agg = PaillierAggregator(paillier_2048.public_key, cfg).aggregate(inputs, round=1)
    with pytest.raises(InvariantViolationError, match="forwarded"):
        Decryptor(paillier_2048.private_key, cfg, client_keys=public(keys)).decrypt(agg)


def test_signature_failures(paillier_2048: PaillierKeyPair) -> None:
    cfg = config()
    keys = identities(range(1, 4))
    pk = paillier_2048.public_key
    inputs = encrypt_all(paillier_2048, cfg, random_quantized(cfg, 3, seed=11), signing=keys)
    bad_sig = dataclasses.replace(inputs[0], signature=bytes(64))
    unsigned = dataclasses.replace(inputs[0], signature=None)
    for bad in (bad_sig, unsigned):
        with pytest.raises(InvariantViolationError) as info:
            PaillierAggregator(pk, cfg, client_keys=public(keys)).aggregate(
                [bad, *inputs[1:]], round=1
            )
        assert info.value.peer == 1
    with pytest.raises(InvariantViolationError, match="not signed"):
        PaillierAggregator(pk, cfg, forward_inputs=True).aggregate([unsigned, *inputs[1:]], round=1)
    only_two = {ClientId(1): keys[1].public_key(), ClientId(2): keys[2].public_key()}
    with pytest.raises(InvariantViolationError, match="unregistered"):
        PaillierAggregator(pk, cfg, client_keys=only_two).aggregate(inputs, round=1)
    # The decryptor re-checks what a (malicious) aggregator forwards.
    agg = PaillierAggregator(pk, cfg, forward_inputs=True).aggregate(inputs, round=1)
    tampered = dataclasses.replace(agg, inputs=(bad_sig, *agg.inputs[1:]))
    dec = Decryptor(paillier_2048.private_key, cfg, client_keys=public(keys))
    with pytest.raises(InvariantViolationError, match="signature"):
        dec.decrypt(tampered)
    dec2 = Decryptor(paillier_2048.private_key, cfg, client_keys=only_two)
    with pytest.raises(InvariantViolationError, match="unregistered"):
        dec2.decrypt(agg)


def test_aggregate_must_be_the_product_of_the_signed_inputs(paillier_2048: PaillierKeyPair) -> None:
    cfg = config()
    keys = identities(range(1, 5))
    pk = paillier_2048.public_key
    inputs = encrypt_all(paillier_2048, cfg, random_quantized(cfg, 4, seed=12), signing=keys)
    honest = PaillierAggregator(pk, cfg, forward_inputs=True).aggregate(inputs[:3], round=1)
    other = PaillierAggregator(pk, cfg).aggregate(inputs[1:], round=1)
    swapped = dataclasses.replace(honest, ciphertexts=other.ciphertexts)
    with pytest.raises(InvariantViolationError, match="product"):
        Decryptor(paillier_2048.private_key, cfg, client_keys=public(keys)).decrypt(swapped)


def test_duplicate_inputs_are_refused(paillier_2048: PaillierKeyPair) -> None:
    cfg = config()
    pk = paillier_2048.public_key
    inputs = encrypt_all(paillier_2048, cfg, random_quantized(cfg, 3, seed=13))
    agg = PaillierAggregator(pk, cfg)
    with pytest.raises(InvariantViolationError, match="twice"):
        agg.aggregate([inputs[0], inputs[1], inputs[0]], round=1)
    copy = dataclasses.replace(inputs[0], client=ClientId(99))  # same ciphertexts, new id
    with pytest.raises(InvariantViolationError, match="identical"):
        agg.aggregate([inputs[0], inputs[1], copy], round=1)


def test_colluding_client_resigning_a_victims_ciphertexts(paillier_2048: PaillierKeyPair) -> None:
    """Client 2 signs client 1's ciphertexts as its own: the duplicate check catches it."""
    cfg = config(min_contributors=2)
    keys = identities([1, 2])
    pk = paillier_2048.public_key
    (victim,) = encrypt_all(paillier_2048, cfg, random_quantized(cfg, 1, seed=14), signing=keys)
    copy = dataclasses.replace(victim, client=ClientId(2), signature=None)
    copy = dataclasses.replace(
        copy, signature=keys[2].sign(b"secfl/v1/he/paillier/input-signature" + copy.body())
    )
    with pytest.raises(InvariantViolationError, match="identical"):
        PaillierAggregator(pk, cfg, client_keys=public(keys)).aggregate([victim, copy], round=1)
    nsq = pk.nsquare
    product = [
        a * b % nsq
        for a, b in zip(victim.ciphertext_values(), copy.ciphertext_values(), strict=True)
    ]
    forged = forge_aggregate(paillier_2048, cfg, product, [1, 2], inputs=(victim, copy))
    with pytest.raises(InvariantViolationError, match="identical"):
        Decryptor(paillier_2048.private_key, cfg, client_keys=public(keys)).decrypt(forged)


def test_replay_from_another_round(paillier_2048: PaillierKeyPair) -> None:
    cfg = config()
    keys = identities(range(1, 4))
    pk = paillier_2048.public_key
    old = encrypt_all(paillier_2048, cfg, random_quantized(cfg, 3, seed=15), round=1, signing=keys)
    with pytest.raises(UnexpectedMessageError):
        PaillierAggregator(pk, cfg).aggregate(old, round=2)
    relabelled = [dataclasses.replace(m, round=2) for m in old]  # signature covers the round
    with pytest.raises(InvariantViolationError, match="signature"):
        PaillierAggregator(pk, cfg, client_keys=public(keys)).aggregate(relabelled, round=2)
    agg = PaillierAggregator(pk, cfg, forward_inputs=True).aggregate(old, round=1)
    moved = dataclasses.replace(agg, round=2)
    with pytest.raises(UnexpectedMessageError):
        Decryptor(paillier_2048.private_key, cfg, client_keys=public(keys)).decrypt(moved)


# --- buckets and per-round accounting (INV-7) --------------------------------------------


def test_disjoint_buckets_are_released_overlaps_abort_the_round(
    paillier_2048: PaillierKeyPair,
) -> None:
    cfg = config(min_contributors=3)
    pk = paillier_2048.public_key
    q = random_quantized(cfg, 9, seed=16)
    inputs = encrypt_all(paillier_2048, cfg, q)
    aggregator = PaillierAggregator(pk, cfg)
    dec = Decryptor(paillier_2048.private_key, cfg)
    b0 = dec.decrypt(aggregator.aggregate(inputs[0:3], round=1, bucket=0))
    b1 = dec.decrypt(aggregator.aggregate(inputs[3:6], round=1, bucket=1))
    np.testing.assert_array_equal(b0.integer_sum + b1.integer_sum, q[:6].sum(axis=0))
    assert (b0.bucket, b1.bucket) == (0, 1)
    overlapping = aggregator.aggregate(inputs[5:8], round=1, bucket=2)  # client 6 again
    with pytest.raises(InvariantViolationError, match="INV-7"):
        dec.decrypt(overlapping)
    assert dec.round_state(1) is RoundState.ABORTED
    with pytest.raises(UnexpectedMessageError):
        dec.decrypt(aggregator.aggregate(inputs[6:9], round=1, bucket=3))
    # Another round is unaffected.
    fresh = encrypt_all(paillier_2048, cfg, q[:3], round=2)
    assert dec.decrypt(aggregator.aggregate(fresh, round=2)).count == 3


def test_round_total_is_capped_at_max_clients(paillier_2048: PaillierKeyPair) -> None:
    cfg = config(max_clients=4, min_contributors=2)
    pk = paillier_2048.public_key
    inputs = encrypt_all(paillier_2048, cfg, random_quantized(cfg, 6, seed=17), ids=range(1, 7))
    dec = Decryptor(paillier_2048.private_key, cfg)
    aggregator = PaillierAggregator(pk, cfg)
    dec.decrypt(aggregator.aggregate(inputs[:3], round=1))
    with pytest.raises(InvariantViolationError, match="max_clients"):
        dec.decrypt(aggregator.aggregate(inputs[3:5], round=1, bucket=1))
    with pytest.raises(LocalProtocolError):
        aggregator.aggregate(inputs[:5], round=1)
    for bad_round, bad_bucket in [(-1, 0), (True, 0), (1, -1), (1, 2**32)]:
        with pytest.raises(InvalidInputError):
            aggregator.aggregate(inputs[:3], round=bad_round, bucket=bad_bucket)


# --- malformed inputs ---------------------------------------------------------------


def tweak_ciphertext(msg: EncryptedInput, value: int) -> EncryptedInput:
    size = msg.ciphertext_size
    blob = value.to_bytes(size, "big") + msg.ciphertexts[size:]
    return dataclasses.replace(msg, ciphertexts=blob)


def test_malformed_ciphertexts(paillier_2048: PaillierKeyPair) -> None:
    cfg = config()
    pk = paillier_2048.public_key
    p = int(paillier_2048.private_key._p)
    inputs = encrypt_all(paillier_2048, cfg, random_quantized(cfg, 3, seed=18))
    aggregator = PaillierAggregator(pk, cfg)
    cases = {
        "zero": 0,
        "n^2": pk.nsquare,
        "n^2 + 5": pk.nsquare + 5,
        "multiple of p": p * 3,
        "multiple of n": pk.n * 7,
    }
    for name, value in cases.items():
        if value.bit_length() > 8 * pk.ciphertext_size:
            continue
        bad = tweak_ciphertext(inputs[1], value)
        with pytest.raises(MalformedMessageError) as info:
            aggregator.aggregate([inputs[0], bad, inputs[2]], round=1)
        assert info.value.peer == 2, name
    # The decryptor validates the aggregate the same way and aborts the round.
    agg = aggregator.aggregate(inputs, round=1)
    size = pk.ciphertext_size
    bad_agg = dataclasses.replace(
        agg, ciphertexts=(p * 5).to_bytes(size, "big") + agg.ciphertexts[size:]
    )
    dec = Decryptor(paillier_2048.private_key, cfg)
    with pytest.raises(MalformedMessageError, match="coprime"):
        dec.decrypt(bad_agg)
    assert dec.round_state(1) is RoundState.ABORTED


def test_wrong_key_layout_and_count(
    paillier_2048: PaillierKeyPair, paillier_512: PaillierKeyPair
) -> None:
    cfg = config()
    pk = paillier_2048.public_key
    other = he.keygen(2048, rng=CSPRNG(b"another key"))
    inputs = encrypt_all(paillier_2048, cfg, random_quantized(cfg, 3, seed=19))
    (foreign,) = encrypt_all(other, cfg, random_quantized(cfg, 1, seed=20), ids=[3])
    with pytest.raises(MalformedMessageError, match="different Paillier key"):
        PaillierAggregator(pk, cfg).aggregate([*inputs[:2], foreign], round=1)
    other_cfg = config(value_bits=12)
    (mismatch,) = encrypt_all(
        paillier_2048, other_cfg, random_quantized(other_cfg, 1, seed=21), ids=[3]
    )
    with pytest.raises(MalformedMessageError, match="layout"):
        PaillierAggregator(pk, cfg).aggregate([*inputs[:2], mismatch], round=1)
    short = dataclasses.replace(
        inputs[2], ciphertexts=inputs[2].ciphertexts[: 2 * pk.ciphertext_size]
    )
    with pytest.raises(MalformedMessageError, match="expected 3 ciphertexts"):
        PaillierAggregator(pk, cfg).aggregate([*inputs[:2], short], round=1)
    agg = PaillierAggregator(pk, cfg).aggregate(inputs, round=1)
    with pytest.raises(MalformedMessageError):
        Decryptor(other.private_key, cfg).decrypt(agg)
    with pytest.raises(ConfigurationError):
        PaillierAggregator(paillier_512.public_key, cfg)
    with pytest.raises(ConfigurationError):
        Decryptor(paillier_512.private_key, cfg)


def test_undecodable_messages(paillier_2048: PaillierKeyPair) -> None:
    cfg = config()
    pk = paillier_2048.public_key
    inputs = encrypt_all(paillier_2048, cfg, random_quantized(cfg, 3, seed=22))
    good = inputs[0].encode()
    assert EncryptedInput.decode(good) == inputs[0]
    bad_encodings = [
        good[:-1] + b"\x02",  # invalid signature flag
        good + b"\x00",  # trailing byte
        good[:40],  # truncated header
        good[:-100] + b"\x00",  # truncated ciphertexts
        b"\x01" + good[1:],  # format version 1 (before proofs) is refused
        b"\x03" + good[1:],  # unknown version
        good[:1] + b"\x02" + good[2:],  # wrong message type
        b"",
    ]
    for enc in bad_encodings:
        with pytest.raises(MalformedMessageError):
            EncryptedInput.decode(enc)
        with pytest.raises(MalformedMessageError):
            PaillierAggregator(pk, cfg).aggregate([enc, *inputs[1:]], round=1)
    agg = PaillierAggregator(pk, cfg, forward_inputs=True).aggregate(
        encrypt_all(
            paillier_2048, cfg, random_quantized(cfg, 3, seed=23), signing=identities([1, 2, 3])
        ),
        round=1,
    )
    enc = agg.encode()
    assert EncryptedAggregate.decode(enc) == agg
    assert len(enc) == agg.encoded_size
    for bad in (enc[:-1], enc + b"\x00", enc[:50], b"\x01\x01" + enc[2:]):
        with pytest.raises(MalformedMessageError) as info:
            Decryptor(paillier_2048.private_key, cfg).decrypt(bad)
        assert info.value.peer == "aggregator"


def test_message_field_validation() -> None:
    ok: dict[str, Any] = {
        "key_id": bytes(16),
        "layout_id": bytes(16),
        "round": 1,
        "client": 1,
        "ciphertext_size": 4,
        "ciphertexts": bytes(8),
    }
    EncryptedInput(**ok)
    for field_, value in [
        ("key_id", bytes(15)),
        ("layout_id", "x" * 16),
        ("round", -1),
        ("round", 1 << 64),
        ("client", True),
        ("ciphertext_size", 0),
        ("ciphertexts", bytes(7)),
        ("ciphertexts", b""),
        ("signature", bytes(63)),
    ]:
        with pytest.raises(MalformedMessageError):
            EncryptedInput(**{**ok, field_: value})
    agg: dict[str, Any] = {**ok, "bucket": 0, "contributors": (1, 2)}
    del agg["client"]
    EncryptedAggregate(**agg)
    for contributors in [(), (2, 1), (1, 1), [1, 2]]:
        with pytest.raises(MalformedMessageError):
            EncryptedAggregate(**{**agg, "contributors": contributors})
    with pytest.raises(MalformedMessageError):
        EncryptedAggregate(**{**agg, "inputs": (EncryptedInput(**ok),)})  # 1 input, 2 contributors


# --- client-side validation and configuration ------------------------------------------


def test_client_input_validation(paillier_2048: PaillierKeyPair) -> None:
    cfg = config()
    client = PaillierClient(paillier_2048.public_key, cfg, 1)
    bad_updates = [np.zeros(D - 1), np.full(D, np.nan), np.zeros((D, 1)), np.array([np.inf] * D)]
    for x in bad_updates:
        with pytest.raises(InvalidInputError):
            client.encrypt(x, round=1)
    with pytest.raises(InvalidInputError):
        client.encrypt(np.zeros(D), round=1, weight=1.0)  # unweighted config
    with pytest.raises(InvalidInputError):
        client.encrypt_quantized(np.full(D, cfg.offset + 1), round=1)
    with pytest.raises(InvalidInputError):
        client.encrypt_quantized(np.zeros(D, dtype=np.int64), round=-1)
    weighted = PaillierClient(paillier_2048.public_key, config(max_weight=2.0), 1)
    for w in (None, -0.1, 2.5, float("nan")):
        with pytest.raises(InvalidInputError):
            weighted.encrypt(np.zeros(D), round=1, weight=w)


def test_slot_layout_and_overflow_refusal() -> None:
    cfg = config(value_bits=16, max_clients=10)
    assert cfg.slot_bits == 20
    assert cfg.slots_per_plaintext == 2047 // 20
    assert cfg.num_ciphertexts == -(-(D + 1) // 102)
    # Worst case fits exactly: max_clients * 2M <= 2^k - 1.
    assert cfg.max_clients * 2 * cfg.offset <= (1 << cfg.slot_bits) - 1
    for bits, n in [(8, 1), (8, 2), (16, 1000), (32, 3), (47, 2**17)]:
        c = config(value_bits=bits, max_clients=n, min_contributors=1)
        assert n * 2 * c.offset <= (1 << c.slot_bits) - 1
    with pytest.raises(ConfigurationError):
        config(value_bits=48, max_clients=2**17)  # 48 + 17 > 64-bit slots
    with pytest.raises(ConfigurationError):
        config(noise_bound=1 << 20)  # reserved noise leaves no room: a slot could overflow
    with pytest.raises(ConfigurationError):
        config(min_contributors=11)
    with pytest.raises(ConfigurationError):
        config(key_bits=1024)
    with pytest.raises(ConfigurationError):
        config(dimension=0)
    for clip in (float("inf"), 0.0, -1.0, "1", True):
        with pytest.raises(ConfigurationError):
            config(clip=clip)
    with pytest.raises(ConfigurationError):
        config(noise_bound=1.5)
    with pytest.raises(ConfigurationError):
        config(max_weight=0.0)


def test_layout_id_binds_every_parameter() -> None:
    base = config()
    variants = [
        config(dimension=D + 1),
        config(clip=0.5),
        config(max_clients=11),
        config(min_contributors=4),
        config(value_bits=15),
        config(max_weight=1.0),
        config(noise_bound=5),
        config(key_bits=3072),
    ]
    ids = {base.layout_id, *(v.layout_id for v in variants)}
    assert len(ids) == len(variants) + 1
    assert config().layout_id == base.layout_id


def test_config_rejects_mismatched_keys(paillier_512: PaillierKeyPair) -> None:
    small = config(key_bits=512, allow_insecure_key=True)
    PaillierClient(paillier_512.public_key, small, 1)
    with pytest.raises(ConfigurationError):
        PaillierClient(paillier_512.public_key, config(), 1)
    with pytest.raises(ConfigurationError):
        PaillierClient(paillier_512.public_key, small, -1)


def test_packer_of_config_matches_layout() -> None:
    cfg = config()
    assert isinstance(cfg.packer, SlotPacker)
    assert cfg.packer.slot_bits == cfg.slot_bits
    assert cfg.slot_bounds[cfg.counter_index] == 1
    assert cfg.slot_offsets[0] == cfg.offset
    with pytest.raises(ValueError, match="read-only"):
        cfg.slot_bounds[0] = 0


def test_gmpy2_values_survive_message_round_trip(paillier_2048: PaillierKeyPair) -> None:
    cfg = config()
    (inp,) = encrypt_all(paillier_2048, cfg, random_quantized(cfg, 1, seed=24), ids=[1])
    values = inp.ciphertext_values()
    assert all(0 < v < paillier_2048.public_key.nsquare for v in values)
    assert all(gmpy2.gcd(v, paillier_2048.public_key.n) == 1 for v in values)


@pytest.mark.parametrize("forged_counter", [2, 777])
def test_refusals_do_not_reveal_the_decrypted_counter(
    paillier_2048: PaillierKeyPair, forged_counter: int
) -> None:
    """An aggregator that crafts ciphertexts must not read the counter slot through errors.

    Shifting a victim's slot into the counter position is a plaintext multiplication,
    so an error that printed the counter would be a decryption oracle for any slot.
    """
    cfg = config(min_contributors=5)
    client = PaillierClient(paillier_2048.public_key, cfg, 1, rng=CSPRNG(5))
    slots = client.slots(random_quantized(cfg, 1, seed=6)[0])
    slots[cfg.counter_index] = forged_counter
    crafted = raw_input(paillier_2048, cfg, 1, cfg.packer.pack(slots))
    agg = forge_aggregate(paillier_2048, cfg, crafted.ciphertext_values(), [1, 2, 3, 4, 5])
    error = InvariantViolationError if forged_counter >= 5 else ThresholdNotMetError
    with pytest.raises(error) as info:
        Decryptor(paillier_2048.private_key, cfg).decrypt(agg)
    assert str(forged_counter) not in str(info.value)
