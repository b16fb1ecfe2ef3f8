"""The ``Trainer`` plug point: how a client trains locally (layer L3).

The engine hands a trainer the global model (already loaded with the global
weights), the client's data and a :class:`TrainingPlan`, and gets back a
:class:`TrainResult` whose ``delta`` is ``w_local - w_global``. A trainer is
asked for its plan *before* it trains, so that a privacy accountant can refuse
a client whose budget the round would exceed (``PrivacyHook.admit``) and can
charge the cost durably before the update is released (``PrivacyHook.charge``).

:class:`SGDTrainer` is the plain (non-private) implementation; the DP trainer
in :mod:`secfl.dp` implements the same protocol with Opacus.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from secfl.errors import ConfigurationError
from secfl.types import ClientId, RoundId

__all__ = [
    "ClientData",
    "LocalTraining",
    "PrivacyCost",
    "SGDTrainer",
    "TrainResult",
    "Trainer",
    "TrainingPlan",
    "flat_parameters",
    "set_flat_parameters",
]

Task = Literal["classification", "regression"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientData:
    """One client's local dataset as tensors.

    Attributes:
        client: the client's id.
        x: features, float32; ``(n, features)`` or ``(n, channels, height, width)``.
        y: targets; int64 class labels for classification, float32 for regression.
    """

    client: ClientId
    x: torch.Tensor
    y: torch.Tensor

    def __post_init__(self) -> None:
        if self.x.shape[0] != self.y.shape[0]:
            raise ConfigurationError(
                f"client {self.client}: {self.x.shape[0]} inputs but {self.y.shape[0]} targets"
            )

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalTraining:
    """Hyper-parameters of local training (the ``[client]`` config section).

    Attributes:
        mode: ``"fedavg"`` (local epochs of minibatch SGD, the update is
            ``w_local - w_global``) or ``"fedsgd"`` (one gradient ``g``; the
            update is ``-g`` and the server optimizer's learning rate applies).
        local_epochs: passes over the local data per round (``fedavg``).
        batch_size: minibatch size (expected batch size under Poisson sampling).
        lr: client learning rate.
        momentum: client SGD momentum.
        weight_decay: L2 penalty.
        max_steps: optional cap on optimizer steps per round.
        worker_momentum: client-side momentum β (Karimireddy, He, Jaggi 2021):
            each client sends ``m_t = β m_{t-1} + (1-β) Δ_t`` instead of ``Δ_t``,
            which averages out honest noise before the robust stage; 0 disables it.
        momentum_dampening: ``False`` sends ``m_t = β m_{t-1} + Δ_t`` instead
            (PyTorch's momentum buffer, the convention of Karimireddy et al.'s code).
        gradient_batch: in ``fedsgd`` mode, the number of local examples the
            gradient is computed on (a fresh random minibatch each round);
            ``None`` uses all local examples (full-batch gradient).
        shared_dropout_every: ``0`` (default): each client's dropout masks
            (and any other coin of a stochastic layer) derive from
            ``(run.seed, round, client)``. ``k > 0``: every client draws the
            same masks, redrawn every ``k`` rounds. This emulates the simulator
            of Karimireddy, He and Jaggi's code, which restores torch's RNG
            state around each worker call, so that all its workers share one
            dropout mask per 30-iteration epoch (``k = 30``).
    """

    mode: Literal["fedavg", "fedsgd"] = "fedavg"
    local_epochs: int = 1
    batch_size: int = 32
    lr: float = 0.05
    momentum: float = 0.0
    weight_decay: float = 0.0
    max_steps: int | None = None
    gradient_batch: int | None = None
    worker_momentum: float = 0.0
    momentum_dampening: bool = True
    shared_dropout_every: int = 0

    def __post_init__(self) -> None:
        if self.mode not in ("fedavg", "fedsgd"):
            raise ConfigurationError(f"client.mode must be 'fedavg' or 'fedsgd', got {self.mode!r}")
        if self.local_epochs < 1:
            raise ConfigurationError("client.local_epochs must be >= 1")
        if self.batch_size < 1:
            raise ConfigurationError("client.batch_size must be >= 1")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigurationError("client.lr must be positive")
        if not 0 <= self.momentum < 1:
            raise ConfigurationError("client.momentum must be in [0, 1)")
        if self.weight_decay < 0:
            raise ConfigurationError("client.weight_decay must be >= 0")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigurationError("client.max_steps must be >= 1 when set")
        if not 0 <= self.worker_momentum < 1:
            raise ConfigurationError("client.worker_momentum must be in [0, 1)")
        if self.gradient_batch is not None and self.gradient_batch < 1:
            raise ConfigurationError("client.gradient_batch must be >= 1 when set")
        if self.shared_dropout_every < 0:
            raise ConfigurationError("client.shared_dropout_every must be >= 0")

    def steps_for(self, num_samples: int) -> int:
        """Number of optimizer steps a client with ``num_samples`` examples takes."""
        if self.mode == "fedsgd":
            return 1
        steps = self.local_epochs * max(1, math.ceil(num_samples / self.batch_size))
        return min(steps, self.max_steps) if self.max_steps is not None else steps


@dataclass(frozen=True, slots=True, kw_only=True)
class PrivacyCost:
    """The public description of a private mechanism a client will run.

    This is what an accountant needs to compute ε: mechanism name, noise
    multiplier (σ / clipping norm), sampling rate and number of compositions.
    It carries no data and no secret.
    """

    mechanism: str
    noise_multiplier: float
    sample_rate: float
    steps: int
    extra: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingPlan:
    """What a client's local training will do this round (decided before training)."""

    client: ClientId
    round: RoundId
    num_samples: int
    steps: int
    privacy: PrivacyCost | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainResult:
    """The outcome of local training.

    Attributes:
        delta: ``w_local - w_global`` (float32, flattened parameters).
        num_samples: examples the client holds (its FedAvg weight).
        loss: mean training loss over the steps taken.
        steps: optimizer steps actually taken.
    """

    delta: NDArray[np.float32]
    num_samples: int
    loss: float
    steps: int


@runtime_checkable
class Trainer(Protocol):
    """Local training of one client."""

    def plan(self, *, client: ClientId, round: RoundId, num_samples: int) -> TrainingPlan:
        """Describe the training this client would do this round."""
        ...

    def train(
        self,
        *,
        model: nn.Module,
        data: ClientData,
        plan: TrainingPlan,
        generator: torch.Generator,
    ) -> TrainResult:
        """Train ``model`` in place on ``data`` and return the update."""
        ...


def flat_parameters(model: nn.Module) -> NDArray[np.float32]:
    """Return the model's trainable parameters as one float32 vector (a copy)."""
    with torch.no_grad():
        vec = torch.cat([p.detach().reshape(-1) for p in model.parameters() if p.requires_grad])
    return vec.to(torch.float32).cpu().numpy().copy()


def set_flat_parameters(model: nn.Module, vector: NDArray[np.float32]) -> None:
    """Load a flat float32 vector into the model's trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    total = sum(p.numel() for p in params)
    if vector.shape != (total,):
        raise ConfigurationError(f"parameter vector has shape {vector.shape}, model needs {total}")
    src = torch.from_numpy(np.ascontiguousarray(vector, dtype=np.float32))
    offset = 0
    with torch.no_grad():
        for p in params:
            n = p.numel()
            p.copy_(src[offset : offset + n].view_as(p))
            offset += n


def loss_function(task: Task) -> nn.Module:
    """Return the training loss for a task."""
    return nn.CrossEntropyLoss() if task == "classification" else nn.MSELoss()


class SGDTrainer:
    """Plain (non-private) local training with minibatch SGD.

    Shuffling uses the engine-supplied ``generator`` so that a run is
    reproducible from its seed (and a resumed run equals an uninterrupted one).
    """

    def __init__(self, config: LocalTraining, *, task: Task = "classification") -> None:
        self.config = config
        self.task: Task = task

    def plan(self, *, client: ClientId, round: RoundId, num_samples: int) -> TrainingPlan:
        """Plan ``steps_for(num_samples)`` steps; no privacy cost."""
        return TrainingPlan(
            client=client,
            round=round,
            num_samples=num_samples,
            steps=self.config.steps_for(num_samples),
        )

    def train(
        self,
        *,
        model: nn.Module,
        data: ClientData,
        plan: TrainingPlan,
        generator: torch.Generator,
    ) -> TrainResult:
        """Run local SGD (or one full-batch gradient in FedSGD mode)."""
        start = flat_parameters(model)
        criterion = loss_function(self.task)
        model.train()
        cfg = self.config
        n = len(data)
        if cfg.mode == "fedsgd":
            x, y = data.x, data.y
            if cfg.gradient_batch is not None and cfg.gradient_batch < n:
                idx = torch.randperm(n, generator=generator)[: cfg.gradient_batch]
                x, y = x[idx], y[idx]
            model.zero_grad(set_to_none=True)
            loss = criterion(_squeeze(model(x), self.task), y)
            loss.backward()
            grads = torch.cat(
                [
                    (p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                    for p in model.parameters()
                    if p.requires_grad
                ]
            )
            delta = (-grads).detach().to(torch.float32).numpy().copy()
            return TrainResult(delta=delta, num_samples=n, loss=float(loss.item()), steps=1)
        optimizer = torch.optim.SGD(
            model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
        losses: list[float] = []
        steps = 0
        while steps < plan.steps:
            order = torch.randperm(n, generator=generator)
            for begin in range(0, n, cfg.batch_size):
                idx = order[begin : begin + cfg.batch_size]
                optimizer.zero_grad(set_to_none=True)
                loss = criterion(_squeeze(model(data.x[idx]), self.task), data.y[idx])
                loss.backward()
                optimizer.step()
                losses.append(float(loss.item()))
                steps += 1
                if steps >= plan.steps:
                    break
        delta = flat_parameters(model) - start
        return TrainResult(
            delta=delta, num_samples=n, loss=float(np.mean(losses)) if losses else 0.0, steps=steps
        )


def _squeeze(output: torch.Tensor, task: Task) -> torch.Tensor:
    return output.squeeze(-1) if task == "regression" else output
