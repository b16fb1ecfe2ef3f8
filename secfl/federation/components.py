"""The engine's components, chosen from the configuration (layer L3).

Each ``build_*`` function maps a validated :class:`RunConfig` to one plug
point of the engine (trainer, protection, robust stage, privacy hook, DP
mechanisms); :func:`partition_clients` splits the data. The engine only wires
what these return.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from numpy.typing import NDArray

from secfl import robust
from secfl.crypto.random import CSPRNG
from secfl.data import Dataset, dirichlet, iid, natural, shards
from secfl.errors import ConfigurationError
from secfl.federation._seeds import DP, ROOT, derive_seed
from secfl.federation.config import RunConfig
from secfl.federation.privacy_hook import NullPrivacyHook, PrivacyHook
from secfl.federation.protection import PlainProtection, Protection
from secfl.federation.trainer import ClientData, SGDTrainer, Trainer
from secfl.robust import Aggregator, BucketingPlan
from secfl.types import ClientId

__all__ = [
    "UserLevelMechanism",
    "bucketing_info",
    "build_aggregator",
    "build_distributed_dp",
    "build_privacy_hook",
    "build_protection",
    "build_trainer",
    "build_user_level",
    "needs_reference",
    "partition_clients",
    "split_root",
]


def partition_clients(
    config: RunConfig, dataset: Dataset
) -> tuple[list[NDArray[np.int64]], list[str]]:
    """Split the training rows among clients as the config says.

    Returns:
        ``(partition, labels)``: row indices per client and a label per client
        (the natural key value, or ``client-<i>``).
    """
    data = config.data
    seed = config.run.seed
    n = dataset.x_train.shape[0]
    if data.partition == "iid":
        parts = iid(n, data.num_clients, seed)
    elif data.partition == "dirichlet":
        if dataset.task != "classification":
            raise ConfigurationError("data.partition = 'dirichlet' needs a classification task")
        parts = dirichlet(
            dataset.y_train, data.num_clients, data.alpha, seed, min_size=data.min_client_size
        )
    elif data.partition == "shards":
        parts = shards(dataset.y_train, data.num_clients, data.shards_per_client, seed)
    else:
        key = data.key or ""
        if key not in dataset.keys:
            known = ", ".join(sorted(dataset.keys)) or "none (not a tabular dataset)"
            raise ConfigurationError(
                f"data.key {key!r} is not a categorical column; known: {known}"
            )
        values, parts = natural(dataset.keys[key], min_size=data.min_client_size)
        if len(parts) != data.num_clients:
            raise ConfigurationError(
                f"data.partition = 'natural' on {key!r} gives {len(parts)} clients"
                f" ({', '.join(values)}); set data.num_clients = {len(parts)}"
            )
        return parts, [f"{key}={v}" for v in values]
    return parts, [f"client-{i}" for i in range(len(parts))]


def bucketing_info(plan: BucketingPlan) -> dict[str, Any]:
    """The bucketing guarantees as plain data (for run.json and reports)."""
    return {
        "rule": plan.rule,
        "min_bucket": plan.min_bucket,
        "num_buckets": plan.num_buckets,
        "privacy_floor": plan.privacy_floor,
        "byzantine": plan.f_byzantine,
        "contaminated_buckets": plan.contaminated_buckets,
        "tolerated": plan.tolerated,
        "robust": plan.robust,
        "forced": plan.forced,
        "problems": list(plan.problems),
        "description": plan.describe(),
    }


def split_root(dataset: Dataset, size: int, seed: int) -> tuple[Dataset, ClientData]:
    """Hold out ``size`` training rows as the server's root dataset (FLTrust)."""
    n = dataset.x_train.shape[0]
    if size >= n:
        raise ConfigurationError(f"aggregator.root_samples = {size} leaves no training data")
    perm = np.random.default_rng(derive_seed(seed, ROOT)).permutation(n)
    root_idx, keep = np.sort(perm[:size]), np.sort(perm[size:])
    root = ClientData(
        client=ClientId(-1),
        x=torch.from_numpy(dataset.x_train[root_idx]),
        y=torch.from_numpy(dataset.y_train[root_idx]),
    )
    kept = dataset.select_train(keep, f"{size} rows held out as the server's root dataset")
    return kept, root


def build_trainer(config: RunConfig, dataset: Dataset) -> Trainer:
    """The local trainer for this config (DP-SGD in ``dp.mode = "local"``)."""
    d = config.dp
    if d.mode != "local":
        return SGDTrainer(config.client, task=dataset.task)
    from secfl import dp

    derived = d.noise_multiplier is None
    settings = dp.DPSGDConfig(
        max_grad_norm=d.max_grad_norm,
        noise_multiplier=d.noise_multiplier,
        target_epsilon=d.epsilon if derived else None,
        delta=d.delta if derived else None,
        rounds=config.run.rounds if derived else None,
        grad_sample_mode=d.grad_sample_mode,  # type: ignore[arg-type]  # validated by DPSGDConfig
        noise=d.noise,
    )
    return dp.DPSGDTrainer(config.client, settings, task=dataset.task)


def build_protection(
    config: RunConfig,
    *,
    dim: int,
    num_clients: int,
    max_weight: float,
    noise: Any = None,
) -> Protection:
    """The protection for this config."""
    p = config.protection
    if p.kind == "none":
        return PlainProtection()
    if p.kind in ("secagg", "secagg+"):
        from secfl.federation.protection.secagg import SecAggProtection

        return SecAggProtection(
            graph="complete" if p.kind == "secagg" else "harary",
            bits=p.bits,
            clip=p.clip,
            max_weight=max_weight,
            dropout=p.dropout,
            malicious=p.malicious,
            corrupt=p.corrupt,
            # Fresh per engine: a resumed or repeated run never reuses a session id.
            session_seed=os.urandom(32),
            noise=noise,
            min_survivors=noise.config.min_clients if noise is not None else 1,
        )
    if p.kind == "paillier":
        from secfl.federation.protection.paillier import PaillierProtection

        return PaillierProtection(
            dim=dim,
            num_clients=num_clients,
            max_weight=max_weight,
            clip=p.clip,
            value_bits=p.value_bits,
            key_bits=p.key_bits,
            min_contributors=p.min_contributors,
            sign_inputs=p.sign_inputs,
            prove_inputs=p.prove_inputs,
            parallel_workers=p.parallel_workers,
        )
    raise ConfigurationError(f"protection.kind {p.kind!r} is not available")


class UserLevelMechanism(Protocol):
    """What the engine needs from user-level DP (central or distributed noise)."""

    def round_event(self) -> Any:
        """The privacy event one round costs."""
        ...


def build_user_level(config: RunConfig, dim: int) -> Any:
    """The user-level DP mechanism (``dp.mode = "user"``), or ``None``."""
    d = config.dp
    if d.mode != "user":
        return None
    from secfl import dp

    population = config.data.num_clients
    q = config.server.fraction
    sigma = d.noise_multiplier
    if sigma is None:
        sigma = dp.noise_multiplier_for(d.epsilon, d.delta, q, config.run.rounds)
    adaptive = (
        dp.AdaptiveClipping(
            target_quantile=d.target_quantile,
            learning_rate=d.clip_learning_rate,
            count_noise_multiplier=max(1.0, q * population / 20),
        )
        if d.adaptive_clipping
        else None
    )
    return dp.UserLevelDP(
        dp.UserLevelConfig(
            clip_norm=d.clip_norm,
            noise_multiplier=sigma,
            expected_clients=q * population,
            population=population,
            adaptive=adaptive,
        ),
        rng=CSPRNG(derive_seed(config.run.seed, DP)) if d.noise == "seeded" else None,
    )


def build_distributed_dp(config: RunConfig, dim: int) -> Any:
    """Distributed DP inside secure aggregation (``dp.mode = "distributed"``), or ``None``.

    The noise is split so that the sum of the clients that survive to the end
    of the protocol still carries the full noise as long as at least a
    threshold of them (half of the expected clients, at least 2) remain.
    """
    d = config.dp
    if d.mode != "distributed":
        return None
    from secfl import dp

    q = config.server.fraction
    expected = max(2, round(q * config.data.num_clients))
    minimum = max(2, expected // 2 + 1)

    def mechanism(sigma: float) -> Any:
        return dp.DistributedDP(
            dp.DistributedDPConfig(
                clip_norm=d.clip_norm,
                noise_multiplier=sigma,
                expected_clients=expected,
                min_clients=minimum,
                dimension=dim,
                bits=config.protection.bits,
                max_clients=max(expected, config.data.num_clients),
            )
        )

    if d.noise_multiplier is not None:
        return mechanism(d.noise_multiplier)
    # The ledger charges every round for the worst case the protocol allows
    # (only `minimum` clients' noise in the sum): find the smallest σ whose
    # run.rounds worst-case rounds stay within the budget.
    rounds = config.run.rounds

    def fits(sigma: float) -> bool:
        return bool(mechanism(sigma).epsilon(rounds, minimum, d.delta) <= d.epsilon)

    low, high = 0.05, 1.0
    while not fits(high):
        low, high = high, high * 2
        if high > 1e4:
            raise ConfigurationError(
                f"no noise multiplier meets dp.epsilon = {d.epsilon} over {rounds} rounds"
            )
    for _ in range(25):
        mid = (low + high) / 2
        if fits(mid):
            high = mid
        else:
            low = mid
    return mechanism(high)


def build_aggregator(config: RunConfig, max_inputs: int | None = None) -> Aggregator:
    """The robust stage for this config (rule, with its pre-aggregators).

    A rule that takes the number of Byzantine inputs ``f`` and is not given
    one is told the configured number (``aggregator.assume_byzantine``, or the
    simulated ``attack.byzantine``): left alone it would assume the most it can
    tolerate (e.g. a trimmed mean would trim down to the median). With
    ``max_inputs`` (e.g. the number of bucket means, or the inputs that
    actually arrived) that default is lowered to the most the rule can run
    with on that many inputs; the engine records when it does so. An ``f``
    given in ``aggregator.params`` is used as is.
    """
    section = config.aggregator
    params = dict(section.params)
    takes_f = "f" in _parameters(section.rule)
    assumed = max(section.assume_byzantine, config.attack.byzantine)
    if assumed and "f" not in params and takes_f:
        params["f"] = assumed
        if max_inputs is not None:  # an f the user pinned is never lowered
            params["f"] = _largest_runnable_f(section.rule, params, assumed, max_inputs)
    if section.pre:
        params["pre"] = section.pre_specs()
    return robust.get(section.rule, **params)


def _largest_runnable_f(rule: str, params: dict[str, Any], f: int, inputs: int) -> int:
    """The largest f' <= f for which the rule accepts ``inputs`` inputs."""
    for candidate in range(f, 0, -1):
        if robust.get(rule, **{**params, "f": candidate}).min_inputs() <= inputs:
            return candidate
    return 0


def _parameters(rule: str) -> frozenset[str]:
    import inspect

    return frozenset(inspect.signature(type(robust.get(rule)).__init__).parameters)


def needs_reference(aggregator: Aggregator) -> bool:
    """Whether the rule (or the rule inside a composition) needs a server reference update."""
    inner = getattr(aggregator, "rule", None)
    return bool(getattr(aggregator, "needs_reference", False)) or bool(
        getattr(inner, "needs_reference", False)
    )


def build_privacy_hook(
    config: RunConfig, run_dir: Path, user_level: UserLevelMechanism | None = None
) -> PrivacyHook:
    """The privacy accountant hook for this config (budgets enforced, ledger in ``run_dir``)."""
    d = config.dp
    if d.mode == "none":
        return NullPrivacyHook()
    from secfl import dp

    budget = dp.PrivacyBudget(epsilon=d.epsilon, delta=d.delta)
    if d.mode == "local":
        overrides = {
            ClientId(int(k)): dp.PrivacyBudget(epsilon=float(v), delta=d.delta)
            for k, v in d.budgets.items()
        }
        return dp.BudgetedAccountant(run_dir, budget, budgets=overrides)
    assert user_level is not None
    return dp.UserLevelAccountant(
        run_dir,
        budget,
        round_event=user_level.round_event(),
        population=config.data.num_clients,
    )
