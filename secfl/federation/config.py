"""Run configuration: TOML files validated into frozen dataclasses (layer L3).

A run config has one table per concern::

    [run]         name, seed, rounds, output directory, evaluation cadence
    [data]        dataset, number of clients, partitioner
    [model]       architecture
    [client]      local training (see :class:`~secfl.federation.trainer.LocalTraining`)
    [server]      client sampling, weighting, server optimizer
    [protection]  how updates reach the server (``none`` = plain sums)
    [aggregator]  the robust stage (``mean`` = FedAvg)
    [audit]       the signed, hash-chained round log
    [attack]      simulated Byzantine clients (robustness experiments)
    [dp]          differential privacy: local DP-SGD, user-level or distributed

Every key is validated; errors name the key (``server.lr must be positive``).
``--set key=value`` overrides use dotted keys and TOML values.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from secfl.errors import ConfigurationError
from secfl.federation._configio import dumps_toml, from_mapping, to_mapping
from secfl.federation.trainer import LocalTraining

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "AggregatorSection",
    "AttackSection",
    "AuditSection",
    "DPSection",
    "DataSection",
    "ModelSection",
    "ProtectionSection",
    "RunConfig",
    "RunSection",
    "ServerSection",
    "apply_overrides",
    "load_config",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSection:
    """``[run]``: identity and cadence of a run.

    The global model is evaluated on the test set every ``eval_every`` rounds
    from round ``eval_from`` on, and always after the last round.
    """

    name: str = "run"
    seed: int = 0
    rounds: int = 10
    out_dir: str = "runs"
    eval_every: int = 1
    eval_from: int = 1
    checkpoint_every: int = 1
    threads: int = 0  # torch intra-op threads; 0 keeps torch's default

    def __post_init__(self) -> None:
        if not self.name or any(c in self.name for c in "/\\\0"):
            raise ConfigurationError("run.name must be a non-empty name without slashes")
        if self.seed < 0:
            raise ConfigurationError("run.seed must be >= 0")
        if self.rounds < 1:
            raise ConfigurationError("run.rounds must be >= 1")
        if self.eval_every < 1:
            raise ConfigurationError("run.eval_every must be >= 1")
        if self.eval_from < 1:
            raise ConfigurationError("run.eval_from must be >= 1")
        if self.checkpoint_every < 1:
            raise ConfigurationError("run.checkpoint_every must be >= 1")
        if self.threads < 0:
            raise ConfigurationError("run.threads must be >= 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class DataSection:
    """``[data]``: dataset and how it is split among clients.

    ``normalize = "standard"`` standardises image pixels with the dataset's
    published mean and standard deviation (MNIST: 0.1307, 0.3081); the default
    ``"none"`` keeps pixels in [0, 1].
    """

    dataset: str = "digits"
    data_dir: str | None = None
    num_clients: int = 10
    partition: Literal["iid", "dirichlet", "shards", "natural"] = "iid"
    alpha: float = 0.5
    shards_per_client: int = 2
    key: str | None = None
    target: str | None = None
    test_fraction: float = 0.2
    max_train_samples: int | None = None
    min_client_size: int = 2
    normalize: Literal["none", "standard"] = "none"

    def __post_init__(self) -> None:
        from secfl.data import DATASETS, PIXEL_STATS

        if self.normalize == "standard" and self.dataset not in PIXEL_STATS:
            raise ConfigurationError(
                f"data.normalize = 'standard' needs published pixel statistics;"
                f" available for {', '.join(sorted(PIXEL_STATS))}, not {self.dataset!r}"
            )

        if self.dataset not in DATASETS:
            raise ConfigurationError(
                f"data.dataset {self.dataset!r} is unknown; known: {', '.join(DATASETS)}"
            )
        if self.num_clients < 1:
            raise ConfigurationError("data.num_clients must be >= 1")
        if not self.alpha > 0:
            raise ConfigurationError("data.alpha must be > 0")
        if self.shards_per_client < 1:
            raise ConfigurationError("data.shards_per_client must be >= 1")
        if self.partition == "natural" and not self.key:
            raise ConfigurationError("data.key must name a column when data.partition = 'natural'")
        if self.partition != "natural" and self.key:
            raise ConfigurationError("data.key is only used with data.partition = 'natural'")
        if not 0 < self.test_fraction < 1:
            raise ConfigurationError("data.test_fraction must be in (0, 1)")
        if self.max_train_samples is not None and self.max_train_samples < self.num_clients:
            raise ConfigurationError("data.max_train_samples must be >= data.num_clients")
        if self.min_client_size < 1:
            raise ConfigurationError("data.min_client_size must be >= 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSection:
    """``[model]``: the architecture (see :func:`secfl.models.build_model`)."""

    kind: Literal["logreg", "linear", "mlp", "cnn", "cnn_mnist", "cnn_mnist_khj"] = "mlp"
    hidden: tuple[int, ...] = (64,)
    channels: tuple[int, ...] = (16, 32)
    groups: int = 4

    def __post_init__(self) -> None:
        if any(h < 1 for h in self.hidden):
            raise ConfigurationError("model.hidden widths must be >= 1")
        if len(self.channels) != 2 or any(c < 1 for c in self.channels):
            raise ConfigurationError("model.channels must be two positive widths")
        if self.groups < 1 or any(c % self.groups for c in self.channels):
            raise ConfigurationError("model.groups must divide both model.channels")


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerSection:
    """``[server]``: client sampling, FedAvg weighting and the server optimizer.

    Client sampling: ``fixed`` samples ``ceil(fraction * N)`` clients (at
    least ``min_clients``) each round; ``poisson`` includes every client
    independently with probability ``fraction`` (needed for user-level DP
    accounting; a round may then have fewer clients, even none).

    The server optimizer treats the aggregated update Δ as a negative
    pseudo-gradient (Reddi et al., ICLR 2021): FedAvg applies ``w + lr·Δ``,
    FedAvgM adds server momentum (Hsu et al. 2019), FedAdam adapts per
    coordinate.
    """

    optimizer: Literal["fedavg", "fedavgm", "fedadam"] = "fedavg"
    lr: float = 1.0
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.99
    tau: float = 1e-3
    fraction: float = 1.0
    min_clients: int = 1
    weighting: Literal["samples", "uniform"] = "samples"
    sampling: Literal["fixed", "poisson"] = "fixed"

    def __post_init__(self) -> None:
        if not self.lr > 0:
            raise ConfigurationError("server.lr must be positive")
        if not 0 <= self.momentum < 1:
            raise ConfigurationError("server.momentum must be in [0, 1)")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ConfigurationError("server.beta1 and server.beta2 must be in [0, 1)")
        if not self.tau > 0:
            raise ConfigurationError("server.tau must be positive")
        if not 0 < self.fraction <= 1:
            raise ConfigurationError("server.fraction must be in (0, 1]")
        if self.min_clients < 1:
            raise ConfigurationError("server.min_clients must be >= 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtectionSection:
    """``[protection]``: how client updates reach the server.

    * ``none``: plain updates; the server sums floats and sees every update.
    * ``secagg`` / ``secagg+``: secure aggregation by pairwise masking
      (``protocols/secagg.md``; Bonawitz et al. 2017, complete graph; Bell et
      al. 2020, sparse graph): the server learns only sums. ``dropout``
      simulates clients going silent at each protocol stage, e.g.
      ``dropout = { MaskedInputCollection = 0.1 }``; ``malicious`` runs the
      malicious-server variant (signed keys, consistency check); ``corrupt``
      declares how many clients of any holder set may collude with the server,
      which raises the protocol threshold accordingly (``protocols/secagg.md``
      §9.2, A4) and makes the run need that many more live holders.
    * ``paillier``: packed Paillier encryption (``protocols/paillier.md``); the
      aggregator only multiplies ciphertexts and a separate decryptor releases
      sums of at least ``min_contributors`` clients. ``prove_inputs = true``
      adds a zero-knowledge proof of plaintext knowledge to every signed input
      (``protocols/paillier.md`` §4.1, §7.4), which stops an aggregator that
      colludes with one registered client from isolating another client's
      input; it is off by default because of its cost: about 2.25x the
      client's time, 1.85x the decryptor's and 3.1x the bytes per input
      (``benchmarks/results/paillier.md``).

    Every protection that sums integers clips each coordinate to
    ``[-clip, clip]`` before encoding.

    Attributes:
        kind: the protection.
        clip: coordinate bound of encoded updates.
        bits: word size k of Z_(2^k) for masking protections.
        value_bits: Paillier: quantisation bits per coordinate.
        key_bits: Paillier: modulus size (2048 or more).
        min_contributors: Paillier: the decryptor's minimum number of clients per sum.
        sign_inputs: Paillier: clients sign ciphertexts (duplicate and replay detection).
        prove_inputs: Paillier: clients prove knowledge of their plaintexts and
            the decryptor verifies the proofs (needs ``sign_inputs``; default off: cost).
        parallel_workers: Paillier: encryption processes (0 = in process).
        dropout: secure aggregation: stage name -> probability a client goes silent there.
        malicious: secure aggregation: the malicious-server variant (default on).
        corrupt: secure aggregation: clients per holder set assumed to collude
            with the server (default 0); the threshold becomes
            ``floor((holders + corrupt) / 2) + 1``.
    """

    kind: Literal["none", "secagg", "secagg+", "paillier"] = "none"
    clip: float = 1.0
    bits: int = 32
    value_bits: int = 16
    key_bits: int = 2048
    min_contributors: int = 2
    sign_inputs: bool = True
    prove_inputs: bool = False
    parallel_workers: int = 0
    dropout: dict[str, float] = field(default_factory=dict)
    malicious: bool = True
    corrupt: int = 0

    def __post_init__(self) -> None:
        stages = (
            "AdvertiseKeys",
            "ShareKeys",
            "MaskedInputCollection",
            "ConsistencyCheck",
            "Unmasking",
        )
        for stage, rate in self.dropout.items():
            if stage not in stages:
                raise ConfigurationError(
                    f"protection.dropout: unknown stage {stage!r}; stages: {', '.join(stages)}"
                )
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise ConfigurationError(f"protection.dropout.{stage} must be a probability")
        if not 8 <= self.bits <= 64:
            raise ConfigurationError("protection.bits must be in [8, 64]")
        if not (math.isfinite(self.clip) and self.clip > 0):
            raise ConfigurationError("protection.clip must be positive")
        if not 2 <= self.value_bits <= 62:
            raise ConfigurationError("protection.value_bits must be in [2, 62]")
        if self.key_bits < 2048:
            raise ConfigurationError("protection.key_bits must be at least 2048")
        if self.min_contributors < 1:
            raise ConfigurationError("protection.min_contributors must be >= 1")
        if self.parallel_workers < 0:
            raise ConfigurationError("protection.parallel_workers must be >= 0")
        for name in ("sign_inputs", "prove_inputs", "malicious"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigurationError(
                    f"protection.{name} must be true or false, got {getattr(self, name)!r}"
                )
        if isinstance(self.corrupt, bool) or not isinstance(self.corrupt, int) or self.corrupt < 0:
            raise ConfigurationError(
                f"protection.corrupt must be a non-negative integer, got {self.corrupt!r}"
            )
        if self.corrupt and self.kind not in ("secagg", "secagg+"):
            raise ConfigurationError(
                f"protection.corrupt applies only to secure aggregation, not {self.kind!r}"
            )
        if self.prove_inputs and self.kind != "paillier":
            raise ConfigurationError(
                f"protection.prove_inputs applies only to kind = 'paillier', not {self.kind!r}"
            )
        if self.prove_inputs and not self.sign_inputs:
            # paillier.md §7.4: a proof binds a plaintext to its signer; unsigned, to nobody.
            raise ConfigurationError("protection.prove_inputs needs protection.sign_inputs = true")


@dataclass(frozen=True, slots=True, kw_only=True)
class AggregatorSection:
    """``[aggregator]``: the robust stage (``mean`` is plain FedAvg).

    Attributes:
        rule: a rule of :func:`secfl.robust.names` (``mean``, ``krum``, ``median``, ...).
        params: the rule's parameters, e.g. ``{ f = 2 }``.
        pre: pre-aggregators applied first, each a name or a table with a
            ``name`` key and parameters: ``pre = [{ name = "nnm", f = 2 }, "arc"]``.
        min_bucket: with a protection that reveals only sums and a rule that
            needs individual inputs, clients are shuffled into buckets of at
            least this many and the rule runs on bucket means (the server
            never sees fewer than ``min_bucket`` clients combined).
        assume_byzantine: Byzantine clients the configuration must tolerate
            (checked against the rule's breakdown point on bucket means).
        force: run even if the bucketing check finds the guarantees fall short.
        root_samples: training rows held out as the server's clean root
            dataset (FLTrust's reference update); 0 for none.
    """

    rule: str = "mean"
    params: dict[str, Any] = field(default_factory=dict)
    pre: list[Any] = field(default_factory=list)
    min_bucket: int = 2
    assume_byzantine: int = 0
    force: bool = False
    root_samples: int = 0

    def __post_init__(self) -> None:
        from secfl import robust

        if self.rule not in robust.names() and self.rule not in robust.pre_names():
            raise ConfigurationError(
                f"aggregator.rule {self.rule!r} is unknown; known: {', '.join(robust.names())}"
            )
        for i, item in enumerate(self.pre):
            name = item.get("name") if isinstance(item, dict) else item
            if name not in robust.pre_names():
                raise ConfigurationError(
                    f"aggregator.pre[{i}]: {name!r} is not a pre-aggregator;"
                    f" known: {', '.join(robust.pre_names())}"
                )
        if self.min_bucket < 1:
            raise ConfigurationError("aggregator.min_bucket must be >= 1")
        if self.assume_byzantine < 0:
            raise ConfigurationError("aggregator.assume_byzantine must be >= 0")
        if self.root_samples < 0:
            raise ConfigurationError("aggregator.root_samples must be >= 0")

    def pre_specs(self) -> list[str | tuple[str, dict[str, Any]]]:
        """The pre-aggregators in the form :func:`secfl.robust.get` takes."""
        specs: list[str | tuple[str, dict[str, Any]]] = []
        for item in self.pre:
            if isinstance(item, dict):
                params = {k: v for k, v in item.items() if k != "name"}
                specs.append((str(item["name"]), params))
            else:
                specs.append(str(item))
        return specs


@dataclass(frozen=True, slots=True, kw_only=True)
class DPSection:
    """``[dp]``: differential privacy (see ``docs/dp.md``).

    Modes:

    * ``local``: example-level DP-SGD on every client (Opacus, Poisson
      sampling, per-sample clipping to ``max_grad_norm``, CSPRNG noise);
      ``epsilon``/``delta`` is each client's budget, enforced before every round.
    * ``user``: DP-FedAvg (McMahan et al. 2018): each update clipped to L2 norm
      ``clip_norm``, Gaussian noise added centrally to the sum by a trusted
      server; needs Poisson client sampling (``server.sampling = "poisson"``)
      and the plain mean as the aggregator; ``epsilon``/``delta`` is the
      population's user-level budget.
    * ``distributed``: like ``user``, but every client adds discrete Gaussian
      noise to its integer-encoded update inside secure aggregation, so the
      server never sees an un-noised sum (Kairouz, Liu, Steinke 2021); needs a
      masking protection.

    Attributes:
        mode: ``none``, ``local``, ``user`` or ``distributed``.
        epsilon: the privacy budget ε (per client for ``local``, population otherwise).
        delta: δ of the budget; must be well below 1/dataset size.
        noise_multiplier: σ; if unset, the smallest σ that meets ``epsilon``
            over ``run.rounds`` rounds is derived.
        max_grad_norm: ``local``: per-sample gradient clipping norm.
        clip_norm: ``user``/``distributed``: L2 clipping norm of client updates.
        grad_sample_mode: ``local``: Opacus per-sample gradient mode, or ``auto``.
        noise: ``secure`` (CSPRNG, default), ``seeded`` (reproducible; NOT
            secure, for tests) or ``opacus`` (Opacus' default generator).
        adaptive_clipping: ``user``: adapt ``clip_norm`` to a quantile of the
            update norms (Andrew et al. 2021).
        target_quantile: the quantile adaptive clipping tracks.
        clip_learning_rate: step size of the geometric clip update.
        budgets: per-client ε overrides for ``local`` (client id -> ε).
    """

    mode: Literal["none", "local", "user", "distributed"] = "none"
    epsilon: float = 8.0
    delta: float = 1e-5
    noise_multiplier: float | None = None
    max_grad_norm: float = 1.0
    clip_norm: float = 1.0
    grad_sample_mode: str = "auto"
    noise: Literal["secure", "seeded", "opacus"] = "secure"
    adaptive_clipping: bool = False
    target_quantile: float = 0.5
    clip_learning_rate: float = 0.2
    budgets: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.epsilon) and self.epsilon > 0):
            raise ConfigurationError("dp.epsilon must be positive")
        if not 0 < self.delta < 1:
            raise ConfigurationError("dp.delta must be in (0, 1)")
        if self.noise_multiplier is not None and not self.noise_multiplier > 0:
            raise ConfigurationError("dp.noise_multiplier must be positive")
        if not self.max_grad_norm > 0 or not self.clip_norm > 0:
            raise ConfigurationError("dp.max_grad_norm and dp.clip_norm must be positive")
        if not 0 < self.target_quantile < 1:
            raise ConfigurationError("dp.target_quantile must be in (0, 1)")
        if not self.clip_learning_rate > 0:
            raise ConfigurationError("dp.clip_learning_rate must be positive")
        for key, value in self.budgets.items():
            if not key.isdigit():
                raise ConfigurationError(f"dp.budgets keys are client ids, got {key!r}")
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigurationError(f"dp.budgets.{key} must be a positive ε")


@dataclass(frozen=True, slots=True, kw_only=True)
class AttackSection:
    """``[attack]``: simulate Byzantine clients (for robustness experiments).

    Attributes:
        kind: an attack of :func:`secfl.attacks.names`, or ``"none"``.
        byzantine: how many clients are malicious (chosen by ``run.seed``).
        params: the attack's parameters.
        clip_norm: the L2 norm bound the attack may use (``norm_max``, backdoor
            with ``respect_clip``).
        byzantine_data: ``"partition"`` (Byzantine clients hold their share of
            the partition) or ``"iid"`` (the honest clients split the training
            data among themselves and each Byzantine client holds an IID sample
            of it, as in Karimireddy, He, Jaggi, ICLR 2022).
    """

    kind: str = "none"
    byzantine: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    clip_norm: float | None = None
    byzantine_data: Literal["partition", "iid"] = "partition"

    def __post_init__(self) -> None:
        from secfl import attacks

        if self.kind != "none" and self.kind not in attacks.names():
            raise ConfigurationError(
                f"attack.kind {self.kind!r} is unknown; known: none, {', '.join(attacks.names())}"
            )
        if self.byzantine < 0:
            raise ConfigurationError("attack.byzantine must be >= 0")
        if self.kind != "none" and self.byzantine == 0:
            raise ConfigurationError("attack.byzantine must be >= 1 when attack.kind is set")
        if self.clip_norm is not None and not (
            math.isfinite(self.clip_norm) and self.clip_norm > 0
        ):
            raise ConfigurationError("attack.clip_norm must be positive")


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditSection:
    """``[audit]``: the signed, hash-chained round log (``audit.jsonl``).

    ``key_file`` is the server's Ed25519 signing key (PEM). By default a key is
    created in ``<run_dir>/keys/``; for real tamper evidence keep the key
    outside the run directory and give verifiers the public key separately.
    """

    enabled: bool = True
    key_file: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    """A complete, validated run configuration."""

    run: RunSection = field(default_factory=RunSection)
    data: DataSection = field(default_factory=DataSection)
    model: ModelSection = field(default_factory=ModelSection)
    client: LocalTraining = field(default_factory=LocalTraining)
    server: ServerSection = field(default_factory=ServerSection)
    protection: ProtectionSection = field(default_factory=ProtectionSection)
    aggregator: AggregatorSection = field(default_factory=AggregatorSection)
    audit: AuditSection = field(default_factory=AuditSection)
    attack: AttackSection = field(default_factory=AttackSection)
    dp: DPSection = field(default_factory=DPSection)

    def __post_init__(self) -> None:
        if self.dp.mode in ("user", "distributed"):
            if self.server.sampling != "poisson":
                raise ConfigurationError(
                    f"dp.mode = {self.dp.mode!r} is accounted with Poisson client sampling:"
                    ' set server.sampling = "poisson"'
                )
            if self.aggregator.rule != "mean" or self.aggregator.pre:
                raise ConfigurationError(
                    f"dp.mode = {self.dp.mode!r} bounds the sensitivity of the plain sum:"
                    " use aggregator.rule = 'mean' without pre-aggregators"
                )
            if self.server.weighting != "uniform":
                raise ConfigurationError(
                    f"dp.mode = {self.dp.mode!r} needs server.weighting = 'uniform'"
                    " (a client's weight would scale its sensitivity)"
                )
        if self.dp.mode == "distributed" and self.protection.kind not in ("secagg", "secagg+"):
            raise ConfigurationError(
                "dp.mode = 'distributed' adds the noise inside secure aggregation:"
                " set protection.kind = 'secagg' or 'secagg+'"
            )
        if self.protection.corrupt >= self.data.num_clients:
            raise ConfigurationError(
                "protection.corrupt must be below data.num_clients (every holder set would"
                " be corrupted)"
            )
        if self.attack.kind == "backdoor" and self.data.normalize != "none":
            raise ConfigurationError(
                "attack.kind = 'backdoor' stamps its pixel trigger on [0, 1] pixels:"
                " use data.normalize = 'none'"
            )
        if self.attack.byzantine > self.data.num_clients:
            raise ConfigurationError("attack.byzantine exceeds data.num_clients")
        if self.model.kind == "linear" and self.data.dataset in (
            "digits",
            "mnist",
            "fashion_mnist",
        ):
            raise ConfigurationError("model.kind = 'linear' is for regression targets")
        if self.model.kind == "cnn" and self.data.dataset not in (
            "digits",
            "mnist",
            "fashion_mnist",
        ):
            raise ConfigurationError("model.kind = 'cnn' needs an image dataset")

    def to_dict(self) -> dict[str, Any]:
        """The resolved configuration as plain data (what ``config.toml`` holds)."""
        return to_mapping(self)

    def to_toml(self) -> str:
        """The resolved configuration as TOML."""
        return dumps_toml(self.to_dict())

    def digest(self) -> str:
        """SHA-256 over the canonical JSON of the resolved configuration."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """Validate a mapping (e.g. parsed TOML) into a config."""
        return from_mapping(cls, data)


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word is taken as a string: --set data.dataset=mnist


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides (TOML values) to a raw config mapping.

    Raises:
        ConfigurationError: for an override without ``=`` or a path through a non-table.
    """
    result: dict[str, Any] = json.loads(json.dumps(data))  # deep copy of plain data
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigurationError(f"--set expects key=value, got {item!r}")
        parts = key.split(".")
        node = result
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigurationError(f"--set {key}: '{part}' is not a table")
            node = child
        node[parts[-1]] = _parse_value(raw.strip())
    return result


def load_config(
    source: str | os.PathLike[str] | Mapping[str, Any] | RunConfig | None = None,
    overrides: Sequence[str] = (),
) -> RunConfig:
    """Load and validate a run configuration.

    Args:
        source: a TOML file path, a mapping, a :class:`RunConfig`, or ``None``
            for the defaults.
        overrides: ``key.path=value`` strings applied on top.

    Raises:
        ConfigurationError: for unreadable files, TOML syntax errors, unknown
            keys or invalid values (the message names the key).
    """
    if isinstance(source, RunConfig):
        raw: Mapping[str, Any] = source.to_dict()
    elif source is None:
        raw = {}
    elif isinstance(source, Mapping):
        raw = source
    else:
        path = Path(source)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigurationError(f"cannot read config {path}: {exc.strerror}") from exc
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{path}: invalid TOML: {exc}") from exc
    if overrides:
        raw = apply_overrides(raw, overrides)
    return RunConfig.from_dict(raw)
