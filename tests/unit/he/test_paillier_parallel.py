"""Opt-in parallel encryption across processes."""

from __future__ import annotations

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from secfl.crypto import paillier_pok
from secfl.crypto.paillier import PaillierKeyPair, shared_fixed_base
from secfl.crypto.random import CSPRNG
from secfl.errors import ConfigurationError
from secfl.he import (
    Decryptor,
    PaillierAggregator,
    PaillierClient,
    PaillierConfig,
    ParallelEncryptor,
)
from secfl.types import ClientId


def test_parallel_encryption_is_correct_and_reproducible(paillier_2048: PaillierKeyPair) -> None:
    pk = paillier_2048.public_key
    cfg = PaillierConfig(dimension=1000, clip=1.0, max_clients=4, min_contributors=2)
    cfg_proofs = PaillierConfig(
        dimension=1000, clip=1.0, max_clients=4, min_contributors=2, prove_inputs=True
    )
    rng = CSPRNG(1)
    q = np.stack([rng.integers(2 * cfg.offset + 1, 1000) - cfg.offset for _ in range(2)])
    with ParallelEncryptor(pk, workers=2) as par:
        plaintexts = [0] * 5 + [pk.n - 1]
        first = par.encrypt(plaintexts, CSPRNG(7))
        again = par.encrypt(plaintexts, CSPRNG(7))
        assert first == again  # a seeded caller gives reproducible output
        assert len({int(c) for c in first}) == len(first)  # never a repeated obfuscator
        assert [paillier_2048.private_key.decrypt(int(c)) for c in first] == plaintexts
        inputs = [
            PaillierClient(pk, cfg, i, rng=CSPRNG(i), parallel=par).encrypt_quantized(q[i], round=1)
            for i in range(2)
        ]
        # With proofs of plaintext knowledge: openings and commitments from the workers.
        cts, alphas = par.encrypt_opened(plaintexts, CSPRNG(7))
        assert cts == first  # same seeds, same ciphertexts
        table = shared_fixed_base(pk)
        assert all(
            pk.encrypt_raw(m, table.power(a)) == c
            for m, a, c in zip(plaintexts, alphas, cts, strict=True)
        )
        big = [(1 << paillier_pok.sigma_bits(pk)) - 1 - i for i in range(5)]
        table.extend(paillier_pok.sigma_bits(pk))
        assert par.powers(big) == [table.power(x) for x in big]
        keys = {i: Ed25519PrivateKey.from_private_bytes(bytes([i + 1]) * 32) for i in range(2)}
        proved = [
            PaillierClient(
                pk, cfg_proofs, i, rng=CSPRNG(i), parallel=par, signing_key=keys[i]
            ).encrypt_quantized(q[i], round=1)
            for i in range(2)
        ]
    result = Decryptor(paillier_2048.private_key, cfg).decrypt(
        PaillierAggregator(pk, cfg).aggregate(inputs, round=1)
    )
    np.testing.assert_array_equal(result.integer_sum, q.sum(axis=0))
    public = {ClientId(i): k.public_key() for i, k in keys.items()}
    agg = PaillierAggregator(pk, cfg_proofs, forward_inputs=True).aggregate(proved, round=1)
    result = Decryptor(paillier_2048.private_key, cfg_proofs, client_keys=public).decrypt(agg)
    np.testing.assert_array_equal(result.integer_sum, q.sum(axis=0))


def test_parallel_configuration(
    paillier_2048: PaillierKeyPair, paillier_512: PaillierKeyPair
) -> None:
    with pytest.raises(ConfigurationError):
        ParallelEncryptor(paillier_2048.public_key, workers=0)
    cfg = PaillierConfig(dimension=10, clip=1.0, max_clients=4, min_contributors=2)
    with pytest.raises(ConfigurationError):
        PaillierClient(
            paillier_2048.public_key, cfg, 1, parallel=ParallelEncryptor(paillier_512.public_key)
        )
