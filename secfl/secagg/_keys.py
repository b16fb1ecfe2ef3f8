"""Key derivations, associated data and signed payloads (secagg.md §Algorithms).

Each function builds its byte string from a label of :mod:`secfl.secagg.labels`
followed by fixed-width little-endian fields, so that two different contexts
can never produce the same input to HKDF, AES-GCM or Ed25519. Every signed
payload and every share box's associated data starts with the *context
digest* (secagg.md §4.1), a hash of everything public about the run
(protocol version, parameters, roster, graph seed, session, round, vector
length), so a signature or box made for any other run, or for the same run
under other parameters or another roster, never verifies.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

import numpy as np

from secfl.crypto.kdf import hkdf_sha256
from secfl.crypto.x25519 import X25519KeyPair, x25519
from secfl.secagg.graph import graph_seed
from secfl.secagg.labels import (
    LABEL_ADVERTISE_KEYS,
    LABEL_CONSISTENCY_CHECK,
    LABEL_CONTEXT,
    LABEL_PAIRWISE_MASK,
    LABEL_SEED_COMMITMENT,
    LABEL_SELF_MASK,
    LABEL_SHARE_CIPHERTEXT,
    LABEL_SHARE_ENCRYPTION_KEY,
    PROTOCOL_VERSION,
)
from secfl.secagg.params import GraphKind, RoundContext, SecAggParams, Stage
from secfl.types import Secret

__all__ = [
    "CONTEXT_DIGEST_SIZE",
    "advertise_payload",
    "consistency_payload",
    "context_digest",
    "encode_survivors",
    "pairwise_mask_key",
    "seed_commitment",
    "self_mask_key",
    "share_associated_data",
    "share_encryption_key",
]

CONTEXT_DIGEST_SIZE = 32  # bytes: SHA-256
_Q = struct.Struct("<Q")
_QQ = struct.Struct("<QQ")
_QQQ = struct.Struct("<QQQ")
# version u8 | round u64 | n u64 | graph u8 | k u64 | t u64 | bits u8 | malicious u8 | d u64
_CONTEXT_FIELDS = struct.Struct("<BQQBQQBBQ")
_GRAPH_CODES = {GraphKind.COMPLETE: 0, GraphKind.HARARY: 1}


def context_digest(params: SecAggParams, context: RoundContext) -> bytes:
    """The 32-byte digest of the public context of one run (secagg.md §4.1).

    ``SHA-256(LABEL_CONTEXT || session_id || u8(version) || u64(round) || u64(n)
    || u8(graph) || u64(k) || u64(t) || u8(bits) || u8(malicious) || u64(d) ||
    graph_seed || u64(U[0]) || ... || u64(U[n-1]))``. The graph seed, kind and
    degree fix every edge of the communication graph.

    Args:
        params: the run's parameters.
        context: the run's public context.

    Returns:
        The digest every signature and share box of the run is bound to.
    """
    h = hashlib.sha256(LABEL_CONTEXT)
    h.update(context.session_id)
    h.update(
        _CONTEXT_FIELDS.pack(
            PROTOCOL_VERSION,
            int(context.round_id),
            len(context.roster),
            _GRAPH_CODES[params.graph_kind],
            params.k,
            params.t,
            params.bits,
            int(params.malicious),
            context.vector_length,
        )
    )
    h.update(graph_seed(context))
    h.update(np.asarray(context.roster, dtype="<u8").tobytes())
    return h.digest()


def share_encryption_key(
    c_sk: X25519KeyPair,
    peer_c_pk: bytes,
    *,
    session_id: bytes,
    round_id: int,
    sender: int,
    receiver: int,
    sender_c_pk: bytes,
    receiver_c_pk: bytes,
) -> bytes:
    """AES-GCM key for the single box ``sender`` -> ``receiver`` (directional).

    ``HKDF(X25519(c_sk, peer_c_pk), salt=session_id, info=LABEL || round ||
    sender || receiver || sender_c_pk || receiver_c_pk)``.
    """
    info = (
        LABEL_SHARE_ENCRYPTION_KEY
        + _QQQ.pack(round_id, sender, receiver)
        + sender_c_pk
        + receiver_c_pk
    )
    return hkdf_sha256(x25519(c_sk, peer_c_pk), salt=session_id, info=info)


def share_associated_data(context_digest: bytes, sender: int, receiver: int) -> bytes:
    """Associated data of a share box: label, context digest, stage, sender, receiver."""
    return (
        LABEL_SHARE_CIPHERTEXT
        + context_digest
        + struct.pack("<BQQ", Stage.SHARE_KEYS.code, sender, receiver)
    )


def pairwise_mask_key(
    s_sk: X25519KeyPair,
    peer_s_pk: bytes,
    *,
    session_id: bytes,
    round_id: int,
    client: int,
    peer: int,
    client_s_pk: bytes,
) -> bytes:
    """PRG key of the pairwise mask between ``client`` and ``peer`` (symmetric).

    ``HKDF(X25519(s_sk, peer_s_pk), salt=session_id, info=LABEL || round ||
    min(u, v) || max(u, v) || s_pk[min] || s_pk[max])``; both endpoints (and the
    server, after reconstructing a dropped client's s_sk) derive the same key.
    """
    lo, hi = (client, peer) if client < peer else (peer, client)
    pk_lo, pk_hi = (client_s_pk, peer_s_pk) if client < peer else (peer_s_pk, client_s_pk)
    info = LABEL_PAIRWISE_MASK + _QQQ.pack(round_id, lo, hi) + pk_lo + pk_hi
    return hkdf_sha256(x25519(s_sk, peer_s_pk), salt=session_id, info=info)


def self_mask_key(seed: Secret | bytes, *, session_id: bytes, round_id: int, owner: int) -> bytes:
    """PRG key of ``owner``'s self mask.

    ``HKDF(b_u, salt=session_id, info=LABEL || round || u)``.
    """
    raw = seed.reveal() if isinstance(seed, Secret) else seed
    return hkdf_sha256(raw, salt=session_id, info=LABEL_SELF_MASK + _QQ.pack(round_id, owner))


def seed_commitment(seed: Secret | bytes, *, session_id: bytes, round_id: int, owner: int) -> bytes:
    """SHA-256 commitment to ``owner``'s self-mask seed (checked after reconstruction)."""
    raw = seed.reveal() if isinstance(seed, Secret) else seed
    return hashlib.sha256(
        LABEL_SEED_COMMITMENT + session_id + _QQ.pack(round_id, owner) + raw
    ).digest()


def advertise_payload(context_digest: bytes, client: int, c_pk: bytes, s_pk: bytes) -> bytes:
    """Bytes a client signs with its identity key at AdvertiseKeys."""
    return LABEL_ADVERTISE_KEYS + context_digest + _Q.pack(client) + c_pk + s_pk


def encode_survivors(survivors: Sequence[int]) -> bytes:
    """The signed encoding of a survivor set: ``u64(m) || u64(S[0]) || ... || u64(S[m-1])``."""
    return _Q.pack(len(survivors)) + np.asarray(survivors, dtype="<u8").tobytes()


def consistency_payload(context_digest: bytes, client: int, encoded_survivors: bytes) -> bytes:
    """Bytes a client signs with its identity key at ConsistencyCheck (its view of U3).

    Args:
        context_digest: the run's :func:`context_digest`.
        client: the signer.
        encoded_survivors: :func:`encode_survivors` of the survivor set (computed
            once per set, since a verifier checks many signatures on one set).
    """
    return LABEL_CONSISTENCY_CHECK + context_digest + _Q.pack(client) + encoded_survivors
