"""Non-interactive proofs of plaintext knowledge for Paillier ciphertexts (layer L1).

Spec: protocols/paillier.md §4.1 (the Σ-protocols, Fiat–Shamir, batch
verification and their security argument) and §7.4 (what they buy the
minimum-contributor policy).

A client that sends ciphertexts ``c_1 .. c_C`` proves, in zero knowledge,
that it knows every plaintext ``m_j`` (and the randomness). Each ciphertext
``c = (1+n)^m * rho mod n^2`` has one of two forms (:class:`RandomnessForm`):

* fixed base (Damgård–Jurik–Nielsen): ``rho = H^a`` with the public base
  ``H = h_s`` and the integer opening ``a < 2^(bits+128)``;
* textbook: ``rho = r^n`` with the opening ``r`` in ``Z*_n``.

One Σ-protocol run per ciphertext, all sharing one challenge (parallel
composition with a common challenge):

============  ===============================================  ===========================
step          fixed base                                       textbook
============  ===============================================  ===========================
commit        ``t = (1+n)^rho * H^sigma``,                     ``t = (1+n)^rho * s^n``,
              ``rho`` in ``Z_n``, ``sigma < 2^(bits+384)``     ``rho`` in ``Z_n``, ``s`` in ``Z*_n``
challenge     ``e = SHA-256(label, form, n, context, c, t)``   (same, 128 bits)
respond       ``z_m = rho + e*m mod n``,                       ``z_m = rho + e*m mod n``,
              ``z_r = sigma + e*a`` (integers)                 ``z_r = s * r^e mod n``
check         ``(1+n)^z_m * H^z_r = t * c^e``                  ``(1+n)^z_m * z_r^n = t * c^e``
============  ===============================================  ===========================

(Cramer–Damgård–Nielsen, EUROCRYPT 2001, and Damgård–Jurik, PKC 2001, give
the textbook protocol; the fixed-base one is its analogue for the DJN
randomness of Damgård–Jurik–Nielsen, IJIS 2010, with integer responses and
``128`` bits of statistical slack.) The verifier checks all ``C`` equations
at once with the small-exponents batch test of Bellare, Garay and Rabin
(EUROCRYPT 1998): random 128-bit ``delta_j`` of its own, and one equation
``prod_j (lhs_j / rhs_j)^delta_j = 1``, evaluated with Pippenger's
multi-exponentiation. Why the batch test is sound for what matters here (the
plaintexts) although ``Z*_{n^2}`` has elements of small order: paillier.md §4.1.

Verification raises :class:`~secfl.errors.CryptoError`; callers that know
the peer translate it (:mod:`secfl.he` raises ``InvariantViolationError``).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gmpy2

from secfl.crypto.paillier import (
    STATISTICAL_SECURITY,
    PaillierPublicKey,
    RandomnessForm,
    djn_base,
    shared_fixed_base,
    uniform_below,
    unit_below,
)
from secfl.errors import CryptoError
from secfl.types import RandomSource

__all__ = [
    "BATCH_BITS",
    "CHALLENGE_BITS",
    "LABEL_POK_CHALLENGE",
    "MIN_FACTOR_BITS",
    "PlaintextProof",
    "PowerFn",
    "ProofCommitment",
    "challenge",
    "check_key",
    "commit",
    "field_sizes",
    "opening_bits",
    "proof_size",
    "prove",
    "respond",
    "response_bits",
    "sigma_bits",
    "verify",
]

CHALLENGE_BITS = 128  # bits of the Fiat–Shamir challenge e (knowledge error 2^-128)
BATCH_BITS = 128  # bits of each verifier coefficient delta_j (batch error 2^-128)
MIN_FACTOR_BITS = max(CHALLENGE_BITS, BATCH_BITS) + 1  # both primes must exceed 2^128
LABEL_POK_CHALLENGE = b"secfl/v1/he/paillier/pok/challenge"

PowerFn = Callable[[Sequence[int]], Sequence[Any]]
"""Computes ``[H^x for x in exponents] mod n^2`` (in process or on worker processes)."""


def _sigma_bits(modulus_bits: int) -> int:
    # |sigma| = |a| + |e| + 128 with |a| = bits + 128 (the obfuscator exponent).
    return modulus_bits + STATISTICAL_SECURITY + CHALLENGE_BITS + STATISTICAL_SECURITY


def opening_bits(key: PaillierPublicKey) -> int:
    """Bits of a fixed-base opening ``a`` (the obfuscator exponent): ``bits + 128``."""
    return key.bits + STATISTICAL_SECURITY


def sigma_bits(key: PaillierPublicKey) -> int:
    """Bits of the commitment exponent ``sigma``: ``|a| + |e| + 128 = bits + 384``."""
    return _sigma_bits(key.bits)


def response_bits(key: PaillierPublicKey) -> int:
    """Exclusive bound on a fixed-base response: ``z_r < 2^(bits + 385)``.

    ``sigma < 2^S`` and ``e * a < 2^(S - 128)``, so ``z_r = sigma + e*a < 2^(S+1)``.
    """
    return _sigma_bits(key.bits) + 1


def field_sizes(form: RandomnessForm | int, ciphertext_size: int) -> tuple[int, int, int]:
    """Byte widths ``(t, z_m, z_r)`` of one ciphertext's proof (paillier.md §5.1).

    Everything follows from the ciphertext size ``L = bits / 4``: ``t`` is
    ``L`` bytes, ``z_m`` is ``L/2`` (an element of ``Z_n``), ``z_r`` is
    ``L/2`` for the textbook form and ``ceil((bits + 385) / 8)`` for the fixed base.

    Raises:
        CryptoError: for an unknown form or a ciphertext size that is not a multiple of 4.
    """
    if ciphertext_size < 4 or ciphertext_size % 4:
        raise CryptoError("proofs need a ciphertext size that is a positive multiple of 4 bytes")
    bits = 4 * ciphertext_size
    half = ciphertext_size // 2
    if form == RandomnessForm.FIXED_BASE:
        return ciphertext_size, half, (_sigma_bits(bits) + 1 + 7) // 8
    if form == RandomnessForm.TEXTBOOK:
        return ciphertext_size, half, half
    raise CryptoError(f"unknown proof form {form!r}")


def proof_size(form: RandomnessForm | int, ciphertext_size: int, count: int) -> int:
    """Bytes of a serialised proof for ``count`` ciphertexts of ``ciphertext_size`` bytes."""
    return count * sum(field_sizes(form, ciphertext_size))


@functools.lru_cache(maxsize=4)
def _base(key: PaillierPublicKey) -> Any:
    return gmpy2.mpz(djn_base(key))


def _key_bytes(key: PaillierPublicKey) -> bytes:
    return key.n.to_bytes(key.bits // 8, "big")


def challenge(
    key: PaillierPublicKey,
    form: RandomnessForm,
    context: bytes,
    ciphertexts: Sequence[Any],
    commitments: Sequence[Any],
) -> int:
    """The Fiat–Shamir challenge (paillier.md §4.1).

    ``e = OS2IP(SHA-256(LABEL || I2OSP(form, 1) || I2OSP(n, bits/8) ||
    I2OSP(len(context), 4) || context || I2OSP(C, 4) || c_1 .. c_C ||
    t_1 .. t_C)[:16])``, every ``c_j`` and ``t_j`` as ``I2OSP(., 2*bits/8)``.
    The whole statement (key, form, every ciphertext in order) and the
    caller's ``context`` (in :mod:`secfl.he`: layout, round and signer) are
    hashed, so a proof holds only for these ciphertexts, this signer and this round.
    """
    size = key.ciphertext_size
    h = hashlib.sha256(LABEL_POK_CHALLENGE)
    h.update(bytes([int(form)]))
    h.update(_key_bytes(key))
    h.update(len(context).to_bytes(4, "big"))
    h.update(context)
    h.update(len(ciphertexts).to_bytes(4, "big"))
    for c in ciphertexts:
        h.update(int(c).to_bytes(size, "big"))
    for t in commitments:
        h.update(int(t).to_bytes(size, "big"))
    return int.from_bytes(h.digest()[: CHALLENGE_BITS // 8], "big")


@dataclass(frozen=True, slots=True)
class PlaintextProof:
    """A non-interactive proof of plaintext knowledge for a vector of ciphertexts.

    The values are public (they are what the client sends).

    Attributes:
        form: the randomness form of the ciphertexts (selects the protocol).
        commitments: ``t_j`` in ``Z*_{n^2}``.
        z_m: ``z_m,j`` in ``Z_n``.
        z_r: ``z_a,j`` (fixed base, integers ``< 2^(bits+385)``) or ``w_j`` in
            ``Z*_n`` (textbook).
    """

    form: RandomnessForm
    commitments: tuple[int, ...]
    z_m: tuple[int, ...]
    z_r: tuple[int, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.form, RandomnessForm):
            raise CryptoError("proof form must be a RandomnessForm")
        n = len(self.commitments)
        if n < 1 or len(self.z_m) != n or len(self.z_r) != n:
            raise CryptoError("a proof holds one commitment and two responses per ciphertext")

    def __repr__(self) -> str:
        return f"PlaintextProof(form={self.form.name}, count={self.count})"

    @property
    def count(self) -> int:
        """Number of ciphertexts covered."""
        return len(self.commitments)

    def to_bytes(self, ciphertext_size: int) -> bytes:
        """Serialise: all ``t_j``, all ``z_m,j``, then all ``z_r,j`` (fixed widths, big-endian).

        Raises:
            CryptoError: if a value does not fit its field.
        """
        widths = field_sizes(self.form, ciphertext_size)
        out = bytearray()
        for width, values in zip(widths, (self.commitments, self.z_m, self.z_r), strict=True):
            for v in values:
                v = int(v)
                if v < 0 or v.bit_length() > 8 * width:
                    raise CryptoError("a proof value does not fit its field")
                out += v.to_bytes(width, "big")
        return bytes(out)

    @classmethod
    def from_bytes(
        cls, form: RandomnessForm | int, data: bytes, ciphertext_size: int, count: int
    ) -> PlaintextProof:
        """Parse :meth:`to_bytes` output (sizes only; :func:`verify` checks the values).

        Raises:
            CryptoError: for an unknown form or a wrong length.
        """
        try:
            form = RandomnessForm(form)
        except ValueError as exc:
            raise CryptoError(f"unknown proof form {form!r}") from exc
        widths = field_sizes(form, ciphertext_size)
        if count < 1 or len(data) != count * sum(widths):
            raise CryptoError("proof has the wrong length")
        fields: list[tuple[int, ...]] = []
        pos = 0
        for width in widths:
            fields.append(
                tuple(
                    int.from_bytes(data[pos + i * width : pos + (i + 1) * width], "big")
                    for i in range(count)
                )
            )
            pos += count * width
        return cls(form=form, commitments=fields[0], z_m=fields[1], z_r=fields[2])


class ProofCommitment:
    """The prover's first message and its secret randomness, usable exactly once.

    Answering two different challenges with the same commitment would reveal
    every plaintext and opening (that is what special soundness means), so
    :func:`respond` consumes it.
    """

    __slots__ = ("_rho", "_secret", "_used", "commitments", "form", "public_key")

    def __init__(
        self,
        public_key: PaillierPublicKey,
        form: RandomnessForm,
        commitments: list[Any],
        rho: list[Any],
        secret: list[Any],
    ) -> None:
        self.public_key = public_key
        self.form = form
        self.commitments = commitments
        self._rho = rho
        self._secret = secret
        self._used = False

    def __repr__(self) -> str:
        return f"ProofCommitment(form={self.form.name}, count={len(self.commitments)})"

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError("ProofCommitment must not be pickled: it must be used exactly once")

    def _consume(self) -> tuple[list[Any], list[Any]]:
        if self._used:
            raise CryptoError("a proof commitment must never be used twice")
        self._used = True
        rho, secret = self._rho, self._secret
        self._rho, self._secret = [], []
        return rho, secret


def _default_powers(key: PaillierPublicKey) -> PowerFn:
    table = shared_fixed_base(key)
    table.extend(sigma_bits(key))
    return lambda exponents: [table.power(x) for x in exponents]


def check_key(key: PaillierPublicKey) -> None:
    """Raise :class:`CryptoError` if ``key`` is too small for the proofs' challenge space.

    Soundness needs ``2^128 < min(p, q)``; a modulus from
    :func:`~secfl.crypto.paillier.generate_keypair` has two factors of exactly
    ``bits/2`` bits, so ``bits >= 258`` (272 among the allowed test sizes) suffices.
    The decryptor, which knows the factors, checks them exactly.
    """
    if key.bits // 2 < MIN_FACTOR_BITS:
        raise CryptoError(f"proofs need prime factors above 2^{MIN_FACTOR_BITS - 1}")


def commit(
    key: PaillierPublicKey,
    form: RandomnessForm,
    count: int,
    rng: RandomSource,
    *,
    powers: PowerFn | None = None,
) -> ProofCommitment:
    """Draw the prover's randomness and compute the commitments ``t_j``.

    The commitments do not depend on the plaintexts, so they can be computed
    ahead of time (one fixed-base power per ciphertext for the DJN form, one
    ``s^n`` for the textbook form).

    Args:
        key: the public key.
        form: the randomness form of the ciphertexts to be proven.
        count: number of ciphertexts.
        rng: the prover's randomness (the injected CSPRNG).
        powers: computes fixed-base powers ``H^x`` (default: the process-wide table).
    """
    check_key(key)
    if count < 1:
        raise CryptoError("a proof covers at least one ciphertext")
    n, nsq = key._n, key._nsquare
    rho = [uniform_below(key, rng) for _ in range(count)]
    if form == RandomnessForm.FIXED_BASE:
        nbytes = (sigma_bits(key) + 7) // 8
        raw = rng.random_bytes(nbytes * count)
        top = (1 << sigma_bits(key)) - 1
        secret: list[Any] = [
            int.from_bytes(raw[i * nbytes : (i + 1) * nbytes], "little") & top for i in range(count)
        ]
        masks = list((powers or _default_powers(key))(secret))
    elif form == RandomnessForm.TEXTBOOK:
        secret = [unit_below(key, rng) for _ in range(count)]
        masks = [gmpy2.powmod(s, n, nsq) for s in secret]
    else:
        raise CryptoError(f"unknown proof form {form!r}")
    # (1+n)^rho = 1 + rho*n (mod n^2) for 0 <= rho < n.
    commitments = [(1 + r * n) * h % nsq for r, h in zip(rho, masks, strict=True)]
    return ProofCommitment(key, RandomnessForm(form), commitments, rho, secret)


def respond(
    commitment: ProofCommitment,
    plaintexts: Sequence[int],
    openings: Sequence[Any],
    ciphertexts: Sequence[Any],
    context: bytes,
) -> PlaintextProof:
    """Answer the Fiat–Shamir challenge; consumes ``commitment``.

    Args:
        commitment: from :func:`commit`, for as many ciphertexts.
        plaintexts: ``m_j`` in ``[0, n)``.
        openings: ``a_j`` (fixed base) or ``r_j`` (textbook) of each ciphertext.
        ciphertexts: ``c_j = (1+n)^m_j * rho_j mod n^2``.
        context: binding data hashed into the challenge (see :func:`challenge`).

    Raises:
        CryptoError: on mismatched lengths, a reused commitment, or an opening out of range.
    """
    key, form = commitment.public_key, commitment.form
    count = len(commitment.commitments)
    if not (len(plaintexts) == len(openings) == len(ciphertexts) == count):
        raise CryptoError("one plaintext, opening and ciphertext per commitment")
    rho, secret = commitment._consume()
    n = key._n
    e = challenge(key, form, context, ciphertexts, commitment.commitments)
    z_m = tuple(int((r + e * int(m)) % n) for r, m in zip(rho, plaintexts, strict=True))
    if form == RandomnessForm.FIXED_BASE:
        limit = 1 << opening_bits(key)
        if any(not 0 <= int(a) < limit for a in openings):
            raise CryptoError("fixed-base opening out of range")
        z_r = tuple(int(s + e * int(a)) for s, a in zip(secret, openings, strict=True))
    else:
        z_r = tuple(
            int(s * gmpy2.powmod(r, e, n) % n) for s, r in zip(secret, openings, strict=True)
        )
    return PlaintextProof(
        form=form, commitments=tuple(int(t) for t in commitment.commitments), z_m=z_m, z_r=z_r
    )


def prove(
    key: PaillierPublicKey,
    form: RandomnessForm,
    plaintexts: Sequence[int],
    openings: Sequence[Any],
    ciphertexts: Sequence[Any],
    context: bytes,
    rng: RandomSource,
    *,
    powers: PowerFn | None = None,
) -> PlaintextProof:
    """Prove knowledge of every plaintext (and opening) of ``ciphertexts``: commit, then respond.

    Raises:
        CryptoError: see :func:`commit` and :func:`respond`.
    """
    commitment = commit(key, form, len(ciphertexts), rng, powers=powers)
    return respond(commitment, plaintexts, openings, ciphertexts, context)


def _multi_exp(bases: Sequence[Any], exponents: Sequence[int], bits: int, modulus: Any) -> Any:
    """``prod_j bases[j]^exponents[j] mod modulus`` for exponents below ``2^bits``.

    Pippenger's bucket method (SIAM J. Comput. 1980): per window of ``c`` bits,
    every base is multiplied into the bucket of its digit, and the buckets are
    combined with two running products, about ``bits/c * (C + 2^(c+1))``
    multiplications instead of ``C * 1.2 * bits`` for separate powers.
    """
    count = len(bases)
    if count <= 4:
        acc = gmpy2.mpz(1)
        for b, x in zip(bases, exponents, strict=True):
            acc = acc * gmpy2.powmod(b, x, modulus) % modulus
        return acc
    c = max(2, min(10, count.bit_length() - 2))
    mask = (1 << c) - 1
    windows = -(-bits // c)
    acc = gmpy2.mpz(1)
    for w in range(windows - 1, -1, -1):
        for _ in range(c if w < windows - 1 else 0):
            acc = acc * acc % modulus
        buckets: list[Any] = [None] * (mask + 1)
        shift = w * c
        for b, x in zip(bases, exponents, strict=True):
            d = (x >> shift) & mask
            if d:
                cur = buckets[d]
                buckets[d] = b if cur is None else cur * b % modulus
        running: Any = None
        total: Any = None
        # sum_d d * bucket_d, as prod_d (prod_{d' >= d} bucket_d').
        for d in range(mask, 0, -1):
            bucket = buckets[d]
            if bucket is not None:
                running = bucket if running is None else running * bucket % modulus
            if running is not None:
                total = running if total is None else total * running % modulus
        if total is not None:
            acc = acc * total % modulus
    return acc


def verify(
    key: PaillierPublicKey,
    proof: PlaintextProof,
    ciphertexts: Sequence[Any],
    context: bytes,
    rng: RandomSource,
) -> None:
    """Verify a proof of plaintext knowledge; return only if it holds.

    Checks, in order (paillier.md §4.1): the counts agree; every ``t_j`` lies
    in ``[1, n^2)`` and is coprime to ``n``; every ``z_m,j < n``; every
    fixed-base ``z_r,j < 2^(bits+385)`` or textbook ``z_r,j`` in ``Z*_n``;
    then the batched verification equation with fresh 128-bit ``delta_j``
    from ``rng`` (the verifier's own randomness, never the prover's).

    Args:
        key: the public key.
        proof: the proof.
        ciphertexts: the ciphertexts it claims to cover, in order (already
            checked to be in ``Z*_{n^2}``).
        context: the binding data the prover must have used.
        rng: the verifier's randomness for the batch coefficients.

    Raises:
        CryptoError: if any check fails.
    """
    check_key(key)
    count = len(ciphertexts)
    if proof.count != count:
        raise CryptoError("the proof covers a different number of ciphertexts")
    n, nsq = key._n, key._nsquare
    cs = [gmpy2.mpz(c) for c in ciphertexts]
    ts = [gmpy2.mpz(t) for t in proof.commitments]
    product = gmpy2.mpz(1)
    for c in cs:
        if not 0 < c < nsq:
            raise CryptoError("ciphertext out of range [1, n^2)")
        product = product * c % nsq
    for t in ts:
        if not 0 < t < nsq:
            raise CryptoError("proof commitment out of range [1, n^2)")
        product = product * t % nsq
    if gmpy2.gcd(product, n) != 1:  # a factor of n divides the product iff it divides a factor
        raise CryptoError("ciphertext or proof commitment not coprime to n")
    if any(not 0 <= z < n for z in proof.z_m):
        raise CryptoError("proof response z_m out of range [0, n)")
    if proof.form == RandomnessForm.FIXED_BASE:
        limit = 1 << response_bits(key)
        if any(not 0 <= z < limit for z in proof.z_r):
            raise CryptoError("proof response z_r out of range [0, 2^(bits+385))")
    else:
        ws = [gmpy2.mpz(w) for w in proof.z_r]
        product = gmpy2.mpz(1)
        for w in ws:
            if not 0 < w < n:
                raise CryptoError("proof response z_r out of range [1, n)")
            product = product * w % n
        if gmpy2.gcd(product, n) != 1:
            raise CryptoError("proof response z_r not coprime to n")
    e = challenge(key, proof.form, context, cs, ts)
    # Bellare–Garay–Rabin small-exponents batch test with the verifier's own coefficients.
    width = BATCH_BITS // 8
    raw = rng.random_bytes(width * count)
    deltas = [int.from_bytes(raw[j * width : (j + 1) * width], "big") for j in range(count)]
    zm = sum(d * z for d, z in zip(deltas, proof.z_m, strict=True)) % n
    lhs = (1 + zm * n) % nsq
    if proof.form == RandomnessForm.FIXED_BASE:
        za = sum(d * z for d, z in zip(deltas, proof.z_r, strict=True))
        lhs = lhs * gmpy2.powmod(_base(key), za, nsq) % nsq
    else:
        # (w mod n)^n mod n^2 depends only on w mod n, so the w_j combine mod n first.
        w = _multi_exp(ws, deltas, BATCH_BITS, n)
        lhs = lhs * gmpy2.powmod(w, n, nsq) % nsq
    rhs = _multi_exp(ts, deltas, BATCH_BITS, nsq)
    rhs = rhs * gmpy2.powmod(_multi_exp(cs, deltas, BATCH_BITS, nsq), e, nsq) % nsq
    if lhs != rhs:
        raise CryptoError("the batched verification equation does not hold")
