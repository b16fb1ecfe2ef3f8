"""Domain-separation labels and the protocol version of secure aggregation.

Every key derivation, signature and associated-data string of
``protocols/secagg.md`` starts with one of these labels, so that no output of
one purpose can be replayed as the input of another. A protocol change that
alters any derivation bumps ``PROTOCOL_VERSION`` and the ``vN`` in every label
(together with the spec and the test vectors, in one commit).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "LABEL_ADVERTISE_KEYS",
    "LABEL_CONSISTENCY_CHECK",
    "LABEL_CONTEXT",
    "LABEL_GRAPH",
    "LABEL_PAIRWISE_MASK",
    "LABEL_SEED_COMMITMENT",
    "LABEL_SELF_MASK",
    "LABEL_SHARE_CIPHERTEXT",
    "LABEL_SHARE_ENCRYPTION_KEY",
    "PROTOCOL_VERSION",
]

PROTOCOL_VERSION: Final = 2  # the version byte of every message (secagg.md §Messages)

LABEL_SHARE_ENCRYPTION_KEY: Final = b"secfl/v2/secagg/share-encryption-key"
"""HKDF info prefix of the AES-GCM key for the shares one client sends another."""

LABEL_SHARE_CIPHERTEXT: Final = b"secfl/v2/secagg/share-ciphertext"
"""Associated-data prefix of an encrypted share."""

LABEL_PAIRWISE_MASK: Final = b"secfl/v2/secagg/pairwise-mask"
"""HKDF info prefix of the PRG key of a pairwise mask."""

LABEL_SELF_MASK: Final = b"secfl/v2/secagg/self-mask"
"""HKDF info prefix of the PRG key of a self mask."""

LABEL_SEED_COMMITMENT: Final = b"secfl/v2/secagg/seed-commitment"
"""SHA-256 prefix of the commitment to a self-mask seed."""

LABEL_ADVERTISE_KEYS: Final = b"secfl/v2/secagg/advertise-keys"
"""Ed25519 signature prefix over a client's advertised public keys."""

LABEL_CONSISTENCY_CHECK: Final = b"secfl/v2/secagg/consistency-check"
"""Ed25519 signature prefix over a client's view of the survivor set."""

LABEL_CONTEXT: Final = b"secfl/v2/secagg/context"
"""SHA-256 prefix of the context digest bound into every signature and share box."""

LABEL_GRAPH: Final = b"secfl/v2/secagg/graph"
"""SHA-256 prefix of the public seed of the SecAgg+ communication graph."""
