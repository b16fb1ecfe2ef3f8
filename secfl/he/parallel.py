"""Opt-in parallel encryption across worker processes (paillier.md §9.2).

Encrypting a packed update is a sequence of independent modular
exponentiations, so it splits cleanly across processes (gmpy2 holds the GIL,
threads would not help). :class:`ParallelEncryptor` keeps a
:class:`concurrent.futures.ProcessPoolExecutor` (``spawn`` start method, so
no locks or CSPRNG state are inherited through ``fork``) whose workers each
build the public fixed-base table once at start-up.

Randomness: for every call, each chunk of plaintexts gets a fresh 32-byte seed
drawn from the caller's :class:`~secfl.types.RandomSource`, and the worker
expands it with its own :class:`~secfl.crypto.random.CSPRNG`. Chunks never
share a seed, so no obfuscator is ever used twice; with a seeded caller the
result is reproducible regardless of scheduling.

With proofs of plaintext knowledge (paillier.md §4.1) the client also needs
each obfuscator's exponent: :meth:`ParallelEncryptor.encrypt_opened` returns
them, and :meth:`ParallelEncryptor.powers` computes the proof commitments'
fixed-base powers on the workers.

This module starts processes but does no file or network I/O.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

import gmpy2

from secfl.crypto.paillier import FixedBaseObfuscator, PaillierPublicKey
from secfl.crypto.random import CSPRNG
from secfl.errors import ConfigurationError, LocalProtocolError
from secfl.types import RandomSource

__all__ = ["ParallelEncryptor"]

_SEED_SIZE = 32  # bytes per chunk seed

_worker_state: tuple[PaillierPublicKey, FixedBaseObfuscator] | None = None


def _init_worker(n: int, allow_insecure: bool, window: int | None) -> None:
    global _worker_state
    key = PaillierPublicKey.from_n(n, allow_insecure=allow_insecure)
    _worker_state = (key, FixedBaseObfuscator(key, window=window))


def _ready() -> bool:
    return _worker_state is not None


def _state(n: int) -> tuple[PaillierPublicKey, FixedBaseObfuscator]:
    if _worker_state is None or _worker_state[0].n != n:
        raise LocalProtocolError("worker was initialised for a different key")
    return _worker_state


def _encrypt_chunk(n: int, plaintexts: list[int], seed: bytes) -> list[int]:
    key, obfuscator = _state(n)
    rho = obfuscator.draw(len(plaintexts), CSPRNG(seed))
    return [int(key.encrypt_raw(m, r)) for m, r in zip(plaintexts, rho, strict=True)]


def _encrypt_chunk_opened(n: int, plaintexts: list[int], seed: bytes) -> list[tuple[int, int]]:
    key, obfuscator = _state(n)
    rho, alphas = obfuscator.draw_opened(len(plaintexts), CSPRNG(seed))
    return [
        (int(key.encrypt_raw(m, r)), int(a))
        for m, r, a in zip(plaintexts, rho, alphas, strict=True)
    ]


def _powers_chunk(n: int, exponents: list[int]) -> list[int]:
    _, obfuscator = _state(n)
    obfuscator.extend(max(x.bit_length() for x in exponents))
    return [int(obfuscator.power(x)) for x in exponents]


class ParallelEncryptor:
    """Encrypts plaintexts for one key on a pool of worker processes.

    Args:
        public_key: the key every worker encrypts under.
        workers: number of worker processes (``>= 1``).
        window: fixed-base window width for the workers' tables (default as
            :class:`~secfl.crypto.paillier.FixedBaseObfuscator`).

    Use as a context manager, or call :meth:`close`. :meth:`start` spawns the
    workers and builds their tables; call it off the critical path (it is
    called on first use otherwise).

    Raises:
        ConfigurationError: if ``workers < 1``.
    """

    __slots__ = ("_executor", "public_key", "window", "workers")

    def __init__(
        self, public_key: PaillierPublicKey, *, workers: int = 2, window: int | None = None
    ) -> None:
        if not isinstance(workers, int) or workers < 1:
            raise ConfigurationError(f"workers must be an integer >= 1, got {workers!r}")
        self.public_key = public_key
        self.workers = workers
        self.window = window
        self._executor: Executor | None = None

    def __repr__(self) -> str:
        return f"ParallelEncryptor(workers={self.workers}, key={self.public_key.key_id.hex()})"

    def __enter__(self) -> ParallelEncryptor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError("ParallelEncryptor cannot be pickled")

    def start(self) -> None:
        """Spawn the workers and wait until each has built its table."""
        if self._executor is not None:
            return
        key = self.public_key
        executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(key.n, key.test_only, self.window),
        )
        self._executor = executor
        # One task per worker makes the pool spawn every worker now.
        for fut in [executor.submit(_ready) for _ in range(self.workers)]:
            fut.result()

    def close(self) -> None:
        """Shut the workers down."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _chunks(self, count: int) -> list[tuple[int, int]]:
        chunks = min(count, 2 * self.workers)  # two chunks per worker balances load
        step = -(-count // chunks)
        return [(i, min(i + step, count)) for i in range(0, count, step)]

    def encrypt_opened(
        self, plaintexts: Sequence[int], rng: RandomSource
    ) -> tuple[list[Any], list[int]]:
        """Like :meth:`encrypt`, also returning each obfuscator's opening ``alpha``.

        For a client that proves plaintext knowledge (paillier.md §4.1); the
        openings come back from the workers, which drew them from the chunk seeds.
        """
        self.start()
        assert self._executor is not None
        items = [int(m) for m in plaintexts]
        if not items:
            return [], []
        futures = [
            self._executor.submit(
                _encrypt_chunk_opened,
                self.public_key.n,
                items[a:b],
                rng.random_bytes(_SEED_SIZE),
            )
            for a, b in self._chunks(len(items))
        ]
        ciphertexts: list[Any] = []
        openings: list[int] = []
        for fut in futures:
            for c, a in fut.result():
                ciphertexts.append(gmpy2.mpz(c))
                openings.append(a)
        return ciphertexts, openings

    def powers(self, exponents: Sequence[int]) -> list[Any]:
        """Fixed-base powers ``h_s^x mod n^2`` computed on the workers, in order.

        Used for the commitments of a proof of plaintext knowledge; each
        worker extends its table to the longest exponent it is given.
        """
        self.start()
        assert self._executor is not None
        items = [int(x) for x in exponents]
        if not items:
            return []
        if any(x < 0 for x in items):
            raise ValueError("exponents must be non-negative")
        futures = [
            self._executor.submit(_powers_chunk, self.public_key.n, items[a:b])
            for a, b in self._chunks(len(items))
        ]
        return [gmpy2.mpz(v) for fut in futures for v in fut.result()]

    def encrypt(self, plaintexts: Sequence[int], rng: RandomSource) -> list[Any]:
        """Encrypt ``plaintexts`` in parallel; return the ciphertexts in order.

        Args:
            plaintexts: integers in ``[0, n)``.
            rng: source of the per-chunk seeds.

        Raises:
            CryptoError: if a plaintext is out of range (raised in a worker).
        """
        self.start()
        assert self._executor is not None
        items = [int(m) for m in plaintexts]
        if not items:
            return []
        futures = [
            self._executor.submit(
                _encrypt_chunk, self.public_key.n, items[a:b], rng.random_bytes(_SEED_SIZE)
            )
            for a, b in self._chunks(len(items))
        ]
        out: list[Any] = []
        for fut in futures:
            out.extend(gmpy2.mpz(c) for c in fut.result())
        return out
