"""The communication graph: who shares keys and masks with whom (secagg.md §Graph).

The complete graph gives the original SecAgg (Bonawitz et al., CCS 2017). For
SecAgg+ (Bell et al., CCS 2020) each client is connected to ``k`` neighbours:
the clients are placed on a cycle in a pseudo-random order and each is joined
to the ``k/2`` nearest positions on either side, a Harary graph H(k, n) that is
k-connected. The order comes from public randomness that every party computes
itself, ``seed = SHA-256(LABEL_GRAPH || session_id || round || roster)``, so the
server cannot hand different clients different graphs or choose neighbourhoods.

A client's *holders* are its neighbours and itself: they receive its Shamir
shares, and the threshold t counts shares among them.
"""

from __future__ import annotations

import hashlib
import struct

import numpy as np

from secfl.crypto.prg import keystream
from secfl.secagg.labels import LABEL_GRAPH
from secfl.secagg.params import GraphKind, RoundContext, SecAggParams
from secfl.types import ClientId

__all__ = ["CommunicationGraph", "graph_seed"]


def graph_seed(context: RoundContext) -> bytes:
    """Return the public 32-byte seed of the graph order for ``context``."""
    h = hashlib.sha256(LABEL_GRAPH)
    h.update(context.session_id)
    h.update(struct.pack("<QQ", int(context.round_id), len(context.roster)))
    h.update(np.asarray(context.roster, dtype="<u8").tobytes())
    return h.digest()


class CommunicationGraph:
    """Neighbourhoods of the complete or Harary graph of one round.

    Args:
        params: the protocol parameters (graph kind and degree).
        context: the round context (roster and session id).
    """

    __slots__ = ("_complete", "_half", "_order", "_position", "_roster", "_roster_set")

    def __init__(self, params: SecAggParams, context: RoundContext) -> None:
        self._roster = context.roster
        self._roster_set = frozenset(context.roster)
        n = len(context.roster)
        self._complete = params.graph_kind is GraphKind.COMPLETE or params.k >= n - 1
        self._half = params.k // 2
        if self._complete:
            self._order: tuple[ClientId, ...] = context.roster
        else:
            # A uniformly random order: sort the roster by 64-bit PRG words
            # (ties, probability < n^2 / 2^65, are broken by roster order).
            words = keystream(graph_seed(context), n, np.uint64)
            perm = np.argsort(words, kind="stable")
            self._order = tuple(context.roster[int(i)] for i in perm)
        self._position = {c: i for i, c in enumerate(self._order)}

    @property
    def is_complete(self) -> bool:
        """Whether every pair of clients is connected."""
        return self._complete

    def neighbours(self, client: ClientId) -> frozenset[ClientId]:
        """Return ``client``'s neighbours (never ``client`` itself)."""
        if self._complete:
            return self._roster_set - {client}
        n = len(self._order)
        pos = self._position[client]
        return frozenset(
            self._order[(pos + off) % n] for off in range(-self._half, self._half + 1) if off
        )

    def distance(self, a: ClientId, b: ClientId) -> int:
        """Return how many steps apart two roster clients are on the cycle.

        In the Harary graph ``b`` is a neighbour of ``a`` exactly when
        ``0 < distance(a, b) <= k/2``; the complete graph uses roster order.
        """
        n = len(self._order)
        gap = abs(self._position[a] - self._position[b])
        return min(gap, n - gap)

    def holders(self, client: ClientId) -> frozenset[ClientId]:
        """Return the clients that hold shares of ``client``'s secrets (with itself)."""
        if self._complete:
            return self._roster_set
        return self.neighbours(client) | {client}
