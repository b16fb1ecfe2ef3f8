"""ALIE, "A little is enough" (Baruch, Baruch, Goldberg, NeurIPS 2019)."""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import NDArray

from secfl.attacks import _params
from secfl.attacks._linalg import mean_std
from secfl.attacks.base import AttackContext, Knowledge, ModelPoisoningAttack
from secfl.errors import ConfigurationError

__all__ = ["ALIE", "paper_z"]


def paper_z(num_clients: int, num_byzantine: int) -> float:
    """ALIE's z for n clients of which f are Byzantine (Baruch et al. 2019, Algorithm 3).

    The attackers need ``s = floor(n/2 + 1) - f`` honest clients to be farther
    from the mean than the forged value, so that the forged value looks like
    the majority; with normally distributed coordinates this holds up to
    ``z = Φ⁻¹((n - s) / n)``.

    (The code of Karimireddy, He, Jaggi (ICLR 2022) uses ``Φ⁻¹((n - f - s) / (n - f))``
    instead, a smaller z; pass it explicitly to reproduce their runs.)

    Raises:
        ConfigurationError: if ``f >= floor(n/2) + 1`` (then ``s <= 0`` and z
            is unbounded: pass z explicitly).
    """
    n = _params.integer("num_clients", num_clients, low=1)
    f = _params.integer("num_byzantine", num_byzantine, low=1)
    s = n // 2 + 1 - f  # floor(n/2 + 1) - f for integer n
    if s <= 0:
        raise ConfigurationError(
            f"ALIE's z is unbounded for f = {f} >= floor(n/2) + 1 with n = {n}; pass z explicitly"
        )
    return NormalDist().inv_cdf((n - s) / n)


class ALIE(ModelPoisoningAttack):
    """Every Byzantine client sends ``mean - z * std`` of the known updates, per coordinate.

    The forged value stays within the spread of the honest updates, so
    distance- and rank-based rules keep it, yet all Byzantine clients push
    every coordinate the same way. ``std`` is the sample standard deviation
    (ddof = 1), as in the reference implementations.

    The rows are updates (in FedSGD the negative gradient). Implementations
    that compute ``mean - z * std`` of *gradients* (Karimireddy et al.'s code)
    send the mirror image, ``mean + z * std`` of the updates: pass ``-z`` to
    reproduce them.

    Args:
        z: the deviation in standard deviations (any real; negative shifts
            every coordinate up); ``None`` (default) computes the paper's z
            from n and f each round (:func:`paper_z`).
        knowledge: ``"omniscient"`` (default: statistics of the honest
            updates) or ``"non_omniscient"`` (of the Byzantine clients' own
            updates, the paper's estimate).
    """

    default_name = "alie"

    default_knowledge = Knowledge.OMNISCIENT
    allowed_knowledge = frozenset({Knowledge.OMNISCIENT, Knowledge.NON_OMNISCIENT})
    paper = (
        "Baruch, Baruch, Goldberg: A little is enough: circumventing defenses for"
        " distributed learning, NeurIPS 2019"
    )
    summary = "all Byzantine clients send mean - z*std per coordinate, z from n and f"

    def __init__(self, *, z: float | None = None, knowledge: Knowledge | str | None = None) -> None:
        super().__init__(knowledge=knowledge)
        self.z = None if z is None else _params.real("z", z)
        self._record(z=self.z)

    def z_for(self, context: AttackContext) -> float:
        """The z used with ``context`` (the fixed one, or the paper's z for its n and f)."""
        if self.z is not None:
            return self.z
        return paper_z(context.num_clients, context.num_byzantine)

    def _forge(self, context: AttackContext) -> NDArray[np.floating[Any]]:
        mu, sd = mean_std(context.honest)
        return np.tile(mu - self.z_for(context) * sd, (context.num_byzantine, 1))
