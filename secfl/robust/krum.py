"""Krum and Multi-Krum (Blanchard, El Mhamdi, Guerraoui, Stainer, NeurIPS 2017).

Both score every input by the sum of squared distances to its closest
neighbours and keep the best-scored input(s). All pairwise distances come from
one float64 Gram matrix (:func:`secfl.robust._linalg.sq_distances`): ``n^2 d``
multiply-adds in BLAS and ``n^2`` memory, never an ``n x n x d`` array.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray

from secfl.errors import ConfigurationError
from secfl.robust._faults import FaultTolerantRule
from secfl.robust._linalg import combine, sq_distances
from secfl.robust.base import AggregationContext, Batch, Outcome, RuleBase
from secfl.types import ClientId

__all__ = ["Krum", "MultiKrum", "krum_scores", "rank_by_score"]

Neighbours = Literal["n-f-2", "n-f-1"]


def krum_scores(
    sq_dist: NDArray[np.float64], f: int, neighbours: Neighbours, distance_power: int = 2
) -> NDArray[np.float64]:
    """Return every row's Krum score: the sum of its ``k`` smallest squared distances to others.

    ``k = n - f - 2`` in Blanchard et al. (2017, §4); ``k = n - f - 1`` in ByzFL
    (which averages instead of summing; the ranking is the same). ``k`` is
    clamped to ``[0, n - 1]``. With ``distance_power = 4`` the score sums the
    fourth powers of those distances instead (the nearest neighbours are the
    same ones).

    Args:
        sq_dist: ``n x n`` squared distances (zero diagonal).
        f: number of Byzantine inputs assumed.
        neighbours: ``"n-f-2"`` (paper) or ``"n-f-1"`` (ByzFL).
        distance_power: 2 (paper) or 4.
    """
    n = sq_dist.shape[0]
    k = n - f - (2 if neighbours == "n-f-2" else 1)
    k = min(max(k, 0), n - 1)
    if k == 0:
        return np.zeros(n, dtype=np.float64)
    d = sq_dist.copy()
    np.fill_diagonal(d, np.inf)  # a row is not its own neighbour
    nearest = np.partition(d, k - 1, axis=1)[:, :k]
    if distance_power == 4:
        nearest = nearest * nearest
    scores: NDArray[np.float64] = nearest.sum(axis=1)
    return scores


def rank_by_score(scores: NDArray[np.float64], ids: tuple[ClientId, ...]) -> NDArray[np.intp]:
    """Return row indices by increasing score, ties broken by increasing id.

    Breaking ties by id (not by row position) keeps the rules invariant under a
    permutation of their inputs.
    """
    order: NDArray[np.intp] = np.lexsort((np.asarray(ids, dtype=np.int64), scores))
    return order


def _check_neighbours(neighbours: str, rule: str) -> Neighbours:
    if neighbours == "n-f-2":
        return "n-f-2"
    if neighbours == "n-f-1":
        return "n-f-1"
    raise ConfigurationError(f"{rule}: neighbours must be 'n-f-2' or 'n-f-1', got {neighbours!r}")


def _check_power(distance_power: object, rule: str) -> int:
    valid = isinstance(distance_power, int) and not isinstance(distance_power, bool)
    if valid and distance_power in (2, 4):
        return int(distance_power)
    raise ConfigurationError(f"{rule}: distance_power must be 2 or 4, got {distance_power!r}")


class Krum(FaultTolerantRule, RuleBase):
    """Krum: output the input with the smallest sum of squared distances to its neighbours.

    Blanchard et al. (2017, §4): ``score(i) = sum_{j in N_i} ||x_i - x_j||^2``
    over the ``n - f - 2`` nearest neighbours ``N_i`` of ``x_i``; output
    ``x_{argmin score}``. Requires ``n >= 2f + 3``; tolerates ``f`` Byzantine
    inputs. Every other input is rejected with its score.

    Difference from ByzFL's ``Krum(f)``: ByzFL scores with ``n - f - 1``
    neighbours. ``Krum(f, neighbours="n-f-1")`` reproduces it. Ties in the score
    go to the smallest id (ByzFL: the first row).

    Difference from the code of Karimireddy, He, Jaggi (ICLR 2022): their
    pairwise "distances" are already squared norms, which their score squares
    again, so it sums fourth powers of the distances
    (github.com/epfml/byzantine-robust-noniid-optimizer, codes/aggregator/krum.py).
    ``distance_power=4`` reproduces it; the neighbours are the same, the sum
    weighs the farther ones much more.

    Args:
        f: Byzantine inputs tolerated; ``None`` means ``(n - 3) // 2``.
        neighbours: ``"n-f-2"`` (paper, default) or ``"n-f-1"`` (ByzFL).
        distance_power: 2 (the paper's squared distances, default) or 4.
    """

    name = "krum"

    def __init__(
        self, f: int | None = None, neighbours: Neighbours = "n-f-2", distance_power: int = 2
    ) -> None:
        # n >= 2f + 3: Blanchard et al. 2017, Proposition 1 needs n > 2f + 2.
        self._set_f(f, per_fault=2, base=3)
        self.neighbours = _check_neighbours(neighbours, self.name)
        self.distance_power = _check_power(distance_power, self.name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(f={self.f}, neighbours={self.neighbours!r}{self._power()})"

    def _power(self) -> str:
        """The repr's ``distance_power`` argument, shown only when it is not the default."""
        return "" if self.distance_power == 2 else f", distance_power={self.distance_power}"

    def _ranked(self, batch: Batch) -> tuple[int, NDArray[np.float64], NDArray[np.intp]]:
        f = self._faults.effective(batch.n)
        scores = krum_scores(sq_distances(batch.x), f, self.neighbours, self.distance_power)
        return f, scores, rank_by_score(scores, batch.ids)

    def _run(self, batch: Batch, context: AggregationContext) -> Outcome:
        _, scores, order = self._ranked(batch)
        best = int(order[0])
        accepted = np.zeros(batch.n, dtype=np.bool_)
        accepted[best] = True
        reasons = {
            int(i): f"Krum score {scores[i]:.6g} is not the smallest ({scores[best]:.6g})"
            for i in order[1:]
        }
        return Outcome(
            vector=batch.x[best].copy(), accepted=accepted, reasons=reasons, scores=scores
        )


class MultiKrum(Krum):
    """Multi-Krum: average the ``m`` inputs with the smallest Krum scores.

    Blanchard et al. (2017, §5, "Multi-Krum"; El Mhamdi et al. 2018 use the same
    rule): rank the inputs by Krum score and average the ``m`` best. With
    ``m = None`` it averages ``n - f`` inputs, as ByzFL's ``MultiKrum``.
    Requires ``n >= 2f + 3``; tolerates ``f`` Byzantine inputs. The ``n - m``
    inputs left out are rejected with their score.

    Args:
        f: Byzantine inputs tolerated; ``None`` means ``(n - 3) // 2``.
        m: number of inputs averaged; ``None`` means ``n - f``.
        neighbours: ``"n-f-2"`` (paper, default) or ``"n-f-1"`` (ByzFL).
        distance_power: 2 (default) or 4, as for :class:`Krum`.
    """

    name = "multikrum"

    def __init__(
        self,
        f: int | None = None,
        m: int | None = None,
        neighbours: Neighbours = "n-f-2",
        distance_power: int = 2,
    ) -> None:
        super().__init__(f, neighbours, distance_power)
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 1):
            raise ConfigurationError(f"multikrum: m must be None or an integer >= 1, got {m!r}")
        self.m = m

    def __repr__(self) -> str:
        return f"MultiKrum(f={self.f}, m={self.m}, neighbours={self.neighbours!r}{self._power()})"

    def min_inputs(self) -> int:
        """Return ``max(2f + 3, m)``."""
        return max(self._faults.min_inputs(), self.m or 0)

    def _run(self, batch: Batch, context: AggregationContext) -> Outcome:
        f, scores, order = self._ranked(batch)
        m = min(self.m if self.m is not None else batch.n - f, batch.n)
        chosen = order[:m]
        accepted = np.zeros(batch.n, dtype=np.bool_)
        accepted[chosen] = True
        cutoff = scores[order[m - 1]]
        reasons = {
            int(i): f"Krum score {scores[i]:.6g} is not among the {m} smallest (<= {cutoff:.6g})"
            for i in order[m:]
        }
        weights = np.zeros(batch.n, dtype=np.float64)
        weights[chosen] = 1.0 / m
        return Outcome(
            vector=combine(weights, batch.x), accepted=accepted, reasons=reasons, scores=scores
        )
