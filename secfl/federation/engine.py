"""The embedded federated engine: rounds, sampling, training, aggregation (layer L3).

Theory of operation. One round ``r``:

1. the server samples clients (fraction of the federation, at least
   ``server.min_clients``) with a generator derived from ``(seed, r)``;
2. each sampled client's trainer is asked for its plan; the privacy hook may
   refuse it (budget), which is recorded;
3. admitted clients train locally from the global weights; the privacy cost is
   charged durably *before* an update is released;
4. updates are grouped into buckets and handed to the protection, which
   returns one weighted sum per bucket (plain: one bucket per client);
5. the robust stage aggregates the bucket means (FedAvg's weighted mean by
   default) and says what it rejected;
6. the server optimizer applies the aggregate; the global model is evaluated;
   metrics and a checkpoint are written.

All randomness of a round derives from ``(run.seed, round)``, so resuming from
the checkpoint of round ``k`` reproduces rounds ``k+1..R`` exactly.

The engine only wires parts: trainers, protections, aggregators and privacy
hooks are chosen from the config by the ``build_*`` functions below and meet
through the interfaces in :mod:`secfl.federation.trainer`,
:mod:`secfl.federation.protection` and :mod:`secfl.federation.privacy_hook`.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib.metadata
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

import secfl
from secfl.attacks import EncodedAttack, EncodingInfo, Knowledge
from secfl.audit import AuditLog, last_ledger_head, load_or_create_key
from secfl.crypto.random import CSPRNG
from secfl.data import Dataset, load_dataset
from secfl.encoding import FixedPointEncoder
from secfl.errors import (
    ConfigurationError,
    InvalidInputError,
    LedgerError,
    PrivacyBudgetExceededError,
)
from secfl.federation import _seeds as seeds
from secfl.federation._seeds import derive_seed
from secfl.federation.byzantine import ByzantineClients
from secfl.federation.components import (
    bucketing_info,
    build_aggregator,
    build_distributed_dp,
    build_privacy_hook,
    build_protection,
    build_trainer,
    build_user_level,
    needs_reference,
    partition_clients,
    split_root,
)
from secfl.federation.config import RunConfig, load_config
from secfl.federation.evaluation import Evaluation, evaluate
from secfl.federation.metrics import RoundMetrics
from secfl.federation.protection import (
    BucketSum,
    Contribution,
    ForgeWords,
    ProtectionOutcome,
)
from secfl.federation.rundir import Checkpoint, RunDirectory, atomic_write_bytes, new_run_id
from secfl.federation.server_opt import ServerOptimizer, build_server_optimizer
from secfl.federation.trainer import (
    ClientData,
    SGDTrainer,
    Trainer,
    TrainingPlan,
    TrainResult,
    flat_parameters,
    set_flat_parameters,
)
from secfl.models import build_model
from secfl.robust import (
    AggregationContext,
    BucketingPlan,
    Visibility,
    WorkerMomentum,
    assign_buckets,
    check_bucketing,
)
from secfl.types import ClientId, RoundId

__all__ = ["Engine", "Evaluation", "RunObserver", "RunResult", "run"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """What :func:`run` returns.

    Attributes:
        run_dir: the run directory.
        config: the resolved configuration.
        metrics: one entry per round (including rounds done before a resume).
        weights: the final global weights (flat float32).
        model: the final global model.
    """

    run_dir: Path
    config: RunConfig
    metrics: list[RoundMetrics]
    weights: NDArray[np.float32]
    model: nn.Module

    @property
    def final(self) -> RoundMetrics:
        """Metrics of the last round."""
        return self.metrics[-1]


class RunObserver(Protocol):
    """Receives progress events (the CLI draws a progress bar from them)."""

    def on_start(
        self, *, config: RunConfig, run_dir: Path, start_round: int, notes: Sequence[str] = ()
    ) -> None:
        """Called once before the first round to run (``notes``: guarantees worth showing)."""
        ...

    def on_round(self, metrics: RoundMetrics) -> None:
        """Called after each round."""
        ...


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def weights_digest(weights: NDArray[np.float32]) -> str:
    """SHA-256 of the little-endian float32 bytes of a weight vector."""
    return hashlib.sha256(np.ascontiguousarray(weights, dtype="<f4").tobytes()).hexdigest()


class Engine:
    """One federated run (use :func:`run` unless you need the pieces).

    Args:
        config: the validated configuration.
        run_dir: directory of this run; a new ``<out_dir>/<id>`` by default.
        resume: continue the run in ``run_dir`` from its latest checkpoint.
        data_dir: overrides ``data.data_dir`` (e.g. the CLI's ``--data-dir``).
        observer: progress callbacks.
        dataset: use this dataset instead of loading ``data.dataset`` (for
            embedding secfl with your own data; ``data.dataset`` is then only
            a label).
        prepare_clients: a function applied to the clients' data after
            partitioning (e.g. to insert audit canaries into one client).
    """

    def __init__(
        self,
        config: RunConfig,
        *,
        run_dir: str | os.PathLike[str] | None = None,
        resume: bool = False,
        data_dir: str | os.PathLike[str] | None = None,
        observer: RunObserver | None = None,
        dataset: Dataset | None = None,
        prepare_clients: Callable[[list[ClientData]], list[ClientData]] | None = None,
    ) -> None:
        self.config = config
        self.observer = observer
        self.resume = resume
        if run_dir is None:
            if resume:
                raise ConfigurationError("resume needs the run directory to continue")
            run_dir = Path(config.run.out_dir) / new_run_id(config.run.name)
        self.dir = RunDirectory(run_dir)
        self.data_dir = data_dir if data_dir is not None else config.data.data_dir

        if config.run.threads:
            torch.set_num_threads(config.run.threads)
        if dataset is None:
            dataset = load_dataset(
                config.data.dataset,
                data_dir=self.data_dir,
                seed=config.run.seed,
                test_fraction=config.data.test_fraction,
                target=config.data.target,
            )
        if config.data.normalize == "standard":
            dataset = dataset.standardized()
        if config.data.max_train_samples is not None:
            dataset = dataset.subsample_train(config.data.max_train_samples, config.run.seed)
        if config.model.kind == "linear" and dataset.task != "regression":
            raise ConfigurationError(
                "model.kind = 'linear' needs a regression target (data.target)"
            )
        if dataset.task == "regression" and config.model.kind == "logreg":
            raise ConfigurationError("model.kind = 'logreg' needs a classification task")
        self.root: ClientData | None = None
        if config.aggregator.root_samples:
            dataset, self.root = split_root(
                dataset, config.aggregator.root_samples, config.run.seed
            )
        self.dataset = dataset
        byzantine_ids: list[ClientId] = []
        if config.attack.kind != "none":
            chosen = np.random.default_rng(derive_seed(config.run.seed, seeds.ATTACK)).choice(
                config.data.num_clients, size=config.attack.byzantine, replace=False
            )
            byzantine_ids = [ClientId(int(c)) for c in np.sort(chosen)]
        if config.attack.byzantine_data == "iid" and byzantine_ids:
            parts, self.client_labels = self._partition_with_iid_byzantine(
                config, dataset, byzantine_ids
            )
        else:
            parts, self.client_labels = partition_clients(config, dataset)
        x_all = torch.from_numpy(dataset.x_train)
        y_all = torch.from_numpy(dataset.y_train)
        self.clients: list[ClientData] = [
            ClientData(client=ClientId(i), x=x_all[idx], y=y_all[idx])
            for i, idx in enumerate(parts)
        ]
        self.byzantine: ByzantineClients | None = None
        if byzantine_ids:
            self.byzantine = ByzantineClients(
                config.attack.kind,
                config.attack.params,
                byzantine_ids,
                clip_norm=config.attack.clip_norm,
                seed=derive_seed(config.run.seed, seeds.ATTACK, 1),
            )
            self.clients = self.byzantine.poison_data(self.clients)
        if prepare_clients is not None:
            self.clients = prepare_clients(self.clients)
        self.x_test = torch.from_numpy(dataset.x_test)
        self.y_test = torch.from_numpy(dataset.y_test)

        torch.manual_seed(derive_seed(config.run.seed, seeds.INIT))
        self.model = build_model(
            config.model.kind,
            input_shape=dataset.input_shape,
            num_outputs=dataset.num_classes,
            hidden=config.model.hidden,
            channels=config.model.channels,
            groups=config.model.groups,
        )
        self.weights = flat_parameters(self.model)
        sizes = [len(c) for c in self.clients]
        self.max_weight = float(max(sizes)) if config.server.weighting == "samples" else 1.0
        self.trainer = build_trainer(config, dataset)
        self.distributed_dp = build_distributed_dp(config, self.weights.size)
        self.protection = build_protection(
            config,
            dim=self.weights.size,
            num_clients=len(self.clients),
            max_weight=self.max_weight,
            noise=self.distributed_dp,
        )
        self.aggregator = build_aggregator(config)
        if (
            not self.protection.reveals_individual_updates
            and self.aggregator.visibility is Visibility.INDIVIDUAL
        ):
            # The rule will see bucket means: it can only be told to tolerate as many
            # contaminated inputs as it can run with on that many means.
            buckets = max(1, self.clients_per_round() // config.aggregator.min_bucket)
            self.aggregator = build_aggregator(config, max_inputs=buckets)
        if needs_reference(self.aggregator) and self.root is None:
            raise ConfigurationError(
                f"aggregator.rule {config.aggregator.rule!r} needs a server root dataset:"
                " set aggregator.root_samples (e.g. 100)"
            )
        self.bucketing: BucketingPlan | None = None
        if (
            not self.protection.reveals_individual_updates
            and self.aggregator.visibility is Visibility.INDIVIDUAL
        ):
            self.bucketing = check_bucketing(
                self.clients_per_round(),
                config.aggregator.min_bucket,
                max(config.aggregator.assume_byzantine, config.attack.byzantine),
                self.aggregator,
                force=config.aggregator.force,
            )
        self.momenta: dict[ClientId, WorkerMomentum] = {}
        self._forgers: dict[ClientId, ForgeWords] = {}
        self.server_opt: ServerOptimizer = build_server_optimizer(
            config.server.optimizer,
            lr=config.server.lr,
            momentum=config.server.momentum,
            beta1=config.server.beta1,
            beta2=config.server.beta2,
            tau=config.server.tau,
        )
        self.metrics: list[RoundMetrics] = []
        self.start_round = 1
        self._prepare_directory()
        self.user_dp = build_user_level(config, self.weights.size)
        self.privacy = build_privacy_hook(
            config, self.dir.path, self.user_dp or self.distributed_dp
        )
        self._check_delta()
        self.audit = self._open_audit()

    # -- run directory -------------------------------------------------------------

    def _info(self, status: str, rounds_done: int) -> dict[str, Any]:
        return {
            "format": 1,
            "status": status,
            "secfl_version": secfl.__version__,
            "torch_version": torch.__version__,
            "numpy_version": np.__version__,
            "python_version": sys.version.split()[0],
            "opacus_version": _version("opacus"),
            "cryptography_version": _version("cryptography"),
            "config_sha256": self.config.digest(),
            "rounds_done": rounds_done,
            "rounds": self.config.run.rounds,
            "clients": self.client_labels,
            "client_sizes": [len(c) for c in self.clients],
            "num_parameters": int(self.weights.size),
            "dataset_source": self.dataset.source,
            "dataset_verified": self.dataset.verified,
            "bucketing": None if self.bucketing is None else bucketing_info(self.bucketing),
            "byzantine": []
            if self.byzantine is None
            else sorted(int(c) for c in self.byzantine.ids),
        }

    def _prepare_directory(self) -> None:
        if not self.resume:
            self.dir.create(self.config.to_toml(), self._info("running", 0))
            return
        if not self.dir.config_path.exists():
            raise ConfigurationError(f"{self.dir.path} is not a run directory (no config.toml)")
        checkpoint = self.dir.latest_checkpoint()
        if checkpoint is None:
            self.dir.truncate_metrics(0)
            return
        self._restore(checkpoint)
        self.metrics = self.dir.truncate_metrics(checkpoint.round)
        self.start_round = checkpoint.round + 1

    @staticmethod
    def _partition_with_iid_byzantine(
        config: RunConfig, dataset: Dataset, byzantine: list[ClientId]
    ) -> tuple[list[NDArray[np.int64]], list[str]]:
        """Honest clients split the data; each Byzantine client gets an IID sample of it."""
        honest_count = config.data.num_clients - len(byzantine)
        if honest_count < 1:
            raise ConfigurationError(
                "attack.byzantine_data = 'iid' needs at least one honest client"
            )
        honest_config = replace(config, data=replace(config.data, num_clients=honest_count))
        honest_parts, _ = partition_clients(honest_config, dataset)
        n = dataset.x_train.shape[0]
        size = n // honest_count
        rng = np.random.default_rng(derive_seed(config.run.seed, seeds.ATTACK, 2))
        parts: list[NDArray[np.int64]] = []
        labels: list[str] = []
        honest_iter = iter(honest_parts)
        for cid in range(config.data.num_clients):
            if ClientId(cid) in byzantine:
                parts.append(np.sort(rng.choice(n, size=size, replace=False)).astype(np.int64))
                labels.append(f"byzantine-{cid} (iid sample)")
            else:
                parts.append(next(honest_iter))
                labels.append(f"client-{cid}")
        return parts, labels

    def _check_delta(self) -> None:
        """Warn (PrivacyWarning) when δ is not well below 1/n for the protected unit."""
        d = self.config.dp
        if d.mode == "none":
            return
        from secfl import dp

        if d.mode == "local":
            smallest = min(len(c) for c in self.clients)
            dp.check_delta(d.delta, smallest, who="the smallest client's dataset")
        else:
            dp.check_delta(d.delta, len(self.clients), who="the client population")

    def _new_momentum(self) -> WorkerMomentum:
        client = self.config.client
        return WorkerMomentum(client.worker_momentum, damped=client.momentum_dampening)

    def _open_audit(self) -> AuditLog | None:
        cfg = self.config.audit
        if not cfg.enabled:
            return None
        key_path = (
            Path(cfg.key_file) if cfg.key_file else self.dir.path / "keys" / "server_ed25519.pem"
        )
        genesis = {
            "config_sha256": self.config.digest(),
            "run": self.dir.path.name,
            "secfl_version": secfl.__version__,
            "clients": len(self.clients),
            "model_sha256": weights_digest(self.weights),
        }
        log = AuditLog.open(self.dir.path, load_or_create_key(key_path), genesis=genesis)
        self._check_ledger_against_audit()
        return log

    def _ledger_head(self) -> dict[str, Any] | None:
        """The privacy ledger's length and head hash, if differential privacy is on."""
        ledger = getattr(self.privacy, "ledger", None)
        if ledger is None:
            return None
        return {"records": len(ledger.records), "head": ledger.head}

    def _check_ledger_against_audit(self) -> None:
        """On resume, refuse a ledger shorter than the signed audit log acknowledged.

        Every round record signs the ledger's length and head; a ledger with fewer
        records (charges removed, whole files rewritten) would under-count ε.
        """
        current = self._ledger_head()
        if current is None:
            return
        acknowledged = last_ledger_head(self.dir.path)
        if acknowledged is not None and current["records"] < acknowledged["records"]:
            raise LedgerError(
                f"the privacy ledger has {current['records']} records but the signed audit log"
                f" acknowledged {acknowledged['records']}: refusing to continue"
            )

    def _audit_round(self, m: RoundMetrics) -> None:
        if self.audit is None:
            return
        self.audit.append(
            "round",
            {
                "round": m.round,
                "config_sha256": self.config.digest(),
                "sampled": list(m.sampled),
                "participants": list(m.participants),
                "dropped": list(m.dropped),
                "refused": {str(k): v for k, v in m.refused.items()},
                "rejected": {str(k): v for k, v in m.rejected.items()},
                "protection": {"kind": self.protection.name, **dict(m.protection)},
                "robust": {"rule": self.aggregator.name, "rejected": len(m.rejected)},
                "epsilon": {str(k): v for k, v in m.epsilon.items()},
                "ledger": self._ledger_head(),
                "model_sha256": weights_digest(self.weights),
            },
        )

    def _checkpoint(self, round_: int) -> Checkpoint:
        arrays: dict[str, NDArray[Any]] = {"weights": self.weights}
        arrays.update({f"server/{k}": v for k, v in self.server_opt.state_dict().items()})
        state_dict = getattr(self.aggregator, "state_dict", None)
        if callable(state_dict):
            arrays.update({f"aggregator/{k}": np.asarray(v) for k, v in state_dict().items()})
        if self.byzantine is not None:
            arrays.update(
                {f"attack/{k}": np.asarray(v) for k, v in self.byzantine.state_dict().items()}
            )
        for cid, momentum in self.momenta.items():
            arrays.update(
                {
                    f"momentum/{int(cid)}/{k}": np.asarray(v)
                    for k, v in momentum.state_dict().items()
                }
            )
        return Checkpoint(round_, arrays)

    def _restore(self, checkpoint: Checkpoint) -> None:
        weights = checkpoint.arrays.get("weights")
        if weights is None or weights.shape != self.weights.shape:
            raise ConfigurationError(
                f"checkpoint of round {checkpoint.round} does not fit the model"
            )
        self.weights = weights.astype(np.float32)
        self.server_opt.load_state_dict(
            {k: v.astype(np.float32) for k, v in checkpoint.section("server").items()}
        )
        load_state = getattr(self.aggregator, "load_state_dict", None)
        if callable(load_state):
            load_state(checkpoint.section("aggregator"))
        if self.byzantine is not None:
            self.byzantine.load_state_dict(checkpoint.section("attack"))
        momenta = checkpoint.section("momentum")
        for cid in sorted({int(k.split("/")[0]) for k in momenta}):
            momentum = self._new_momentum()
            momentum.load_state_dict(checkpoint.section(f"momentum/{cid}"))
            self.momenta[ClientId(cid)] = momentum

    # -- rounds ----------------------------------------------------------------------

    def clients_per_round(self) -> int:
        """How many clients are sampled each round."""
        n = len(self.clients)
        return min(
            n, max(self.config.server.min_clients, math.ceil(self.config.server.fraction * n))
        )

    def _sample(self, round_: int) -> list[ClientId]:
        n = len(self.clients)
        if self.config.server.sampling == "poisson":
            # Every client independently with probability `fraction`. With DP the
            # sampling is part of the mechanism, so its coins come from the CSPRNG
            # unless noise is explicitly seeded for reproducibility.
            if self.config.dp.mode != "none" and self.config.dp.noise == "secure":
                coins = CSPRNG().uniform(n)
            else:
                coins = np.random.default_rng(
                    derive_seed(self.config.run.seed, round_, seeds.SAMPLING)
                ).random(n)
            return [ClientId(int(c)) for c in np.flatnonzero(coins < self.config.server.fraction)]
        m = self.clients_per_round()
        rng = np.random.default_rng(derive_seed(self.config.run.seed, round_, seeds.SAMPLING))
        return [ClientId(int(c)) for c in np.sort(rng.choice(n, size=m, replace=False))]

    def _weight(self, result: TrainResult) -> float:
        return float(result.num_samples) if self.config.server.weighting == "samples" else 1.0

    def _buckets(self, contributions: list[Contribution], round_: int) -> list[list[Contribution]]:
        """Group the round's contributions for the protection.

        Plain protection: one bucket per client (the rule sees every update).
        A protection that reveals only sums with a ``SUM`` rule: one bucket.
        With an ``INDIVIDUAL`` rule: random buckets of at least ``min_bucket``
        (bucketed secure aggregation); too few clients gives no bucket at all.
        """
        if self.protection.reveals_individual_updates:
            return [[c] for c in contributions]
        if self.aggregator.visibility is Visibility.SUM:
            return [contributions] if contributions else []
        min_bucket = self.config.aggregator.min_bucket
        if len(contributions) < min_bucket:
            return []
        by_id = {c.client: c for c in contributions}
        groups = assign_buckets(
            list(by_id), min_bucket, seed=derive_seed(self.config.run.seed, round_, seeds.BUCKETS)
        )
        return [[by_id[ClientId(int(i))] for i in group] for group in groups]

    def _attack(
        self,
        round_: int,
        attackers: list[ClientId],
        honest: dict[ClientId, TrainResult],
        reference: NDArray[np.float32] | None,
    ) -> dict[ClientId, TrainResult]:
        """What the round's Byzantine participants send (see :mod:`secfl.federation.byzantine`)."""
        assert self.byzantine is not None
        byz = self.byzantine
        seed = self.config.run.seed
        own: dict[ClientId, TrainResult] = {}
        if byz.must_train:
            for cid in attackers:
                plan = self.trainer.plan(
                    client=cid, round=RoundId(round_), num_samples=len(self.clients[cid])
                )
                own[cid] = self._local_train(self.trainer, round_, self.clients[cid], plan)
        dim = self.weights.size
        if byz.omniscient:
            # Only finite honest updates are informative (a diverged model gives NaN).
            seen = {c: r for c, r in honest.items() if np.all(np.isfinite(r.delta))}
            knowledge_rows = [r.delta for r in seen.values()]
            honest_ids: list[ClientId] | None = list(seen)
        else:
            knowledge_rows = [
                own[c].delta for c in attackers if c in own and np.all(np.isfinite(own[c].delta))
            ]
            honest_ids = None
        if not knowledge_rows and byz.attack.knowledge is not Knowledge.AGNOSTIC:
            return {}  # nothing to build an attack from: the attackers stay silent this round
        context = byz.context(
            round_=round_,
            seed=derive_seed(seed, round_, seeds.ATTACK),
            honest=np.stack(knowledge_rows) if knowledge_rows else np.empty((0, dim), np.float32),
            honest_ids=honest_ids,
            num_byzantine=len(attackers),
            num_clients=len(honest) + len(attackers),
            dim=dim,
            defense=self._defense(round_, reference),
            encoding=self._attack_encoding(len(honest) + len(attackers)) if byz.encoded else None,
        )
        forged: dict[ClientId, TrainResult] = {}
        if byz.poisons_data:
            for cid in attackers:
                r = own[cid]
                forged[cid] = replace(r, delta=byz.scale(r.delta, context))
            return forged
        rows = byz.forge(context)
        if byz.encoded and not self.protection.reveals_individual_updates:
            self._forgers = self._word_forgers(round_, attackers, honest, context)
        for cid, row in zip(attackers, rows, strict=True):
            forged[cid] = TrainResult(
                delta=np.asarray(row, dtype=np.float32),
                num_samples=len(self.clients[cid]),
                loss=float("nan"),
                steps=0,
            )
        return forged

    def _word_forgers(
        self,
        round_: int,
        attackers: list[ClientId],
        honest: dict[ClientId, TrainResult],
        context: Any,
    ) -> dict[ClientId, ForgeWords]:
        """Per Byzantine client: the Z_(2^k) words it sends instead of an honest encoding.

        The attack sees the encoder the protection actually uses for the
        client's bucket; honest rows are weighted as the honest encodings are.
        """
        assert self.byzantine is not None
        attack = self.byzantine.attack
        assert isinstance(attack, EncodedAttack)
        honest_rows = np.stack([r.delta for r in honest.values()]) if honest else None
        honest_weights = np.array([self._weight(r) for r in honest.values()])
        cache: dict[tuple[float, ...], NDArray[Any]] = {}

        def forger(row: int, weight: float) -> ForgeWords:
            def forge(values: FixedPointEncoder, weights: FixedPointEncoder | None) -> Any:
                key = (values.bits, values.scale, values.clip, values.num_clients)
                if key not in cache:
                    rows = context.honest
                    if (
                        honest_rows is not None
                        and self.byzantine is not None
                        and self.byzantine.omniscient
                    ):
                        rows = honest_rows * (
                            honest_weights[:, None] if weights is not None else 1.0
                        )
                    ctx = replace(
                        context,
                        honest=np.asarray(rows, dtype=np.float32),
                        encoding=EncodingInfo.from_encoder(values),
                    )
                    cache[key] = attack.forge_words(ctx)
                words = np.asarray(cache[key][row], dtype=values.dtype)
                if weights is None:
                    return words
                return np.concatenate([words, weights.encode(np.array([weight]))])

            return forge

        return {
            cid: forger(
                i,
                float(len(self.clients[cid])) if self.config.server.weighting == "samples" else 1.0,
            )
            for i, cid in enumerate(attackers)
        }

    def _attack_encoding(self, num_clients: int) -> EncodingInfo:
        """The fixed-point encoding a masking protection would use this round."""
        encoder = FixedPointEncoder(
            clip=self.config.protection.clip * self.max_weight,
            num_clients=max(num_clients, 1),
            bits=self.config.protection.bits,
        )
        return EncodingInfo.from_encoder(encoder)

    def _defense(
        self, round_: int, reference: NDArray[np.float32] | None
    ) -> Callable[[NDArray[np.float32]], NDArray[np.float32]]:
        """The server's rule as a pure function of the rows (for adaptive attacks)."""
        frozen = copy.deepcopy(self.aggregator)
        seed = derive_seed(self.config.run.seed, round_, seeds.AGGREGATOR)

        def defense(rows: NDArray[np.float32]) -> NDArray[np.float32]:
            rule = copy.deepcopy(frozen)
            context = AggregationContext(round=round_, seed=seed, reference=reference)
            return rule.aggregate(rows, list(range(rows.shape[0])), context=context).vector

        return defense

    def _reference(self, round_: int) -> NDArray[np.float32] | None:
        """The server's update on its root dataset (FLTrust), or ``None``."""
        if self.root is None:
            return None
        trainer = SGDTrainer(self.config.client, task=self.dataset.task)
        plan = trainer.plan(
            client=self.root.client, round=RoundId(round_), num_samples=len(self.root)
        )
        return self._local_train(trainer, round_, self.root, plan, root=True).delta

    def _local_train(
        self,
        trainer: Trainer,
        round_: int,
        data: ClientData,
        plan: TrainingPlan,
        *,
        root: bool = False,
    ) -> TrainResult:
        """Train from the global weights, every coin derived from the run seed.

        Data order comes from the trainer's generator. Stochastic layers
        (dropout) draw from torch's global RNG, which is seeded here (per
        client and round, or shared by all clients for blocks of
        ``client.shared_dropout_every`` rounds) and restored afterwards, so
        that a resumed run replays the same masks.
        """
        seed = self.config.run.seed
        client = int(data.client)
        set_flat_parameters(self.model, self.weights)
        generator = torch.Generator().manual_seed(
            derive_seed(seed, round_, seeds.ROOT)
            if root
            else derive_seed(seed, round_, seeds.TRAINING, client)
        )
        every = self.config.client.shared_dropout_every
        if every:
            layer_seed = derive_seed(seed, (round_ - 1) // every, seeds.LAYERS)
        elif root:
            layer_seed = derive_seed(seed, round_, seeds.LAYERS, 1)
        else:
            layer_seed = derive_seed(seed, round_, seeds.LAYERS, 0, client)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(layer_seed)
            return trainer.train(model=self.model, data=data, plan=plan, generator=generator)

    def _protection_rng(self, round_: int) -> CSPRNG:
        return CSPRNG()

    def run_round(self, round_: int) -> RoundMetrics:
        """Run one round and return its metrics (weights are updated in place)."""
        started = time.perf_counter()
        rid = RoundId(round_)
        sampled = self._sample(round_)
        reference = self._reference(round_)
        self._forgers = {}
        byzantine_ids = self.byzantine.ids if self.byzantine is not None else frozenset()
        attackers = [c for c in sampled if c in byzantine_ids]
        honest = [c for c in sampled if c not in byzantine_ids]

        plans, refused = self._admit(rid, honest)
        train_start = time.perf_counter()
        results, indicators = self._train(round_, plans)
        extra: dict[str, float] = {}
        if self.byzantine is not None and attackers:
            results.update(self._attack(round_, attackers, results, reference))
            extra["byzantine_participants"] = float(len(attackers))
        train_seconds = time.perf_counter() - train_start

        contributions, rejected = self._contributions(results)
        outcome, update, participants = self._aggregate(
            round_, contributions, rejected, reference, indicators, extra
        )
        self.privacy.end_round(rid, tuple(ClientId(p) for p in participants))
        evaluation = self._evaluate(round_, extra)
        honest_results = [
            results[ClientId(p)]
            for p in participants
            if ClientId(p) in results and ClientId(p) not in byzantine_ids
        ]
        train_loss = (
            float(
                np.average(
                    [r.loss for r in honest_results],
                    weights=[r.num_samples for r in honest_results],
                )
            )
            if honest_results
            else None
        )
        return RoundMetrics(
            round=round_,
            sampled=tuple(int(c) for c in sampled),
            participants=tuple(sorted(participants)),
            refused=refused,
            dropped=tuple(sorted(int(c) for c in outcome.dropped)),
            rejected=rejected,
            train_loss=train_loss,
            test_loss=evaluation.loss if evaluation else None,
            test_accuracy=evaluation.accuracy if evaluation else None,
            test_auc=evaluation.auc if evaluation else None,
            test_r2=evaluation.r2 if evaluation else None,
            update_norm=float(np.linalg.norm(update.astype(np.float64))),
            seconds=time.perf_counter() - started,
            train_seconds=train_seconds,
            protection=dict(outcome.stats),
            epsilon={int(k): float(v) for k, v in self.privacy.epsilons().items()},
            extra=extra,
        )

    def _admit(
        self, rid: RoundId, clients: list[ClientId]
    ) -> tuple[dict[ClientId, TrainingPlan], dict[int, str]]:
        """Plan each honest client's training; the privacy hook may refuse it."""
        plans: dict[ClientId, TrainingPlan] = {}
        refused: dict[int, str] = {}
        for cid in clients:
            plan = self.trainer.plan(client=cid, round=rid, num_samples=len(self.clients[cid]))
            try:
                self.privacy.admit(plan)
            except PrivacyBudgetExceededError as exc:
                refused[int(cid)] = str(exc)
                continue
            plans[cid] = plan
        return plans, refused

    def _train(
        self, round_: int, plans: Mapping[ClientId, TrainingPlan]
    ) -> tuple[dict[ClientId, TrainResult], list[float]]:
        """Local training, client-side transforms, and the durable privacy charge."""
        results: dict[ClientId, TrainResult] = {}
        indicators: list[float] = []
        for cid, plan in plans.items():
            result = self._local_train(self.trainer, round_, self.clients[cid], plan)
            if self.config.client.worker_momentum > 0 and np.all(np.isfinite(result.delta)):
                momentum = self.momenta.setdefault(cid, self._new_momentum())
                result = replace(result, delta=momentum.update(result.delta))
            # A non-finite update (a diverged model) cannot be folded into the
            # momentum: the client keeps its momentum and sends the update as it
            # is, which the encoder or the robust stage refuses (with a reason).
            if self.user_dp is not None:
                clipped, unclipped = self.user_dp.clip_with_indicator(result.delta)
                result = replace(result, delta=clipped)
                indicators.append(unclipped)
            self.privacy.charge(plan)  # durable before the update is released
            results[cid] = result
        return results, indicators

    def _contributions(
        self, results: Mapping[ClientId, TrainResult]
    ) -> tuple[list[Contribution], dict[int, str]]:
        """What each client hands to the protection layer (non-finite updates refused)."""
        contributions: list[Contribution] = []
        rejected: dict[int, str] = {}
        for cid, r in results.items():
            if not self.protection.reveals_individual_updates and not np.all(np.isfinite(r.delta)):
                # Integer encodings cannot carry NaN/Inf: the client-side encoder refuses it.
                rejected[int(cid)] = "non-finite update (NaN or Inf) refused by the encoder"
                continue
            contributions.append(
                Contribution(
                    client=cid,
                    update=r.delta,
                    weight=self._weight(r),
                    forge_words=self._forgers.get(cid),
                )
            )
        return contributions, rejected

    def _aggregate(
        self,
        round_: int,
        contributions: list[Contribution],
        rejected: dict[int, str],
        reference: NDArray[np.float32] | None,
        indicators: list[float],
        extra: dict[str, float],
    ) -> tuple[ProtectionOutcome, NDArray[np.float32], tuple[int, ...]]:
        """Protected sums, then the user-level DP noise or the robust rule, then the step.

        Returns:
            ``(outcome, update, participants)``; ``rejected`` and ``extra`` are filled in.
        """
        outcome = ProtectionOutcome(sums=())
        update = np.zeros_like(self.weights)
        if not contributions:
            return outcome, update, ()
        buckets = self._buckets(contributions, round_)
        if not buckets:
            reason = (
                f"only {len(contributions)} clients this round, fewer than aggregator."
                f"min_bucket = {self.config.aggregator.min_bucket}: nothing aggregated"
            )
            rejected.update({int(c.client): reason for c in contributions})
        outcome = self.protection.aggregate(
            round=RoundId(round_), buckets=buckets, rng=self._protection_rng(round_)
        )
        usable = [s for s in outcome.sums if s.total_weight > 0]
        if not usable:
            return outcome, update, ()
        participants = tuple(int(m) for s in usable for m in s.members)
        if self.distributed_dp is not None or self.user_dp is not None:
            total = np.sum([s.weighted_sum for s in usable], axis=0)
            if self.distributed_dp is not None:
                # The unmasked sum already carries the clients' discrete Gaussian noise.
                expected = self.distributed_dp.config.expected_clients
                update = (total / expected).astype(np.float32)
                # More survivors than expected means more noise: report conservatively.
                present = min(len(participants), expected)
                extra["dp_round_epsilon_noise_present"] = float(
                    self.distributed_dp.epsilon_for_round(present, self.config.dp.delta)
                )
            else:
                # DP-FedAvg: noise on the sum of clipped updates, fixed denominator qN.
                update = self.user_dp.noised_mean(total)
                extra["dp_clip_norm"] = float(self.user_dp.clip_norm)
                if self.config.dp.adaptive_clipping:
                    self.user_dp.update_clip(float(sum(indicators)), len(indicators))
        else:
            update, participants = self._robust(round_, usable, rejected, reference, extra)
        self.weights = self.server_opt.step(self.weights, update)
        return outcome, update, participants

    def _robust(
        self,
        round_: int,
        usable: list[BucketSum],
        rejected: dict[int, str],
        reference: NDArray[np.float32] | None,
        extra: dict[str, float],
    ) -> tuple[NDArray[np.float32], tuple[int, ...]]:
        """Run the robust rule over the bucket means; record what it rejected."""
        individual = all(len(s.members) == 1 for s in usable)
        ids = [int(s.members[0]) if individual else i for i, s in enumerate(usable)]
        rule = self.aggregator
        if len(usable) < rule.min_inputs():
            # Fewer inputs arrived than the rule needs with its configured f (dropouts,
            # refusals, inputs the encoder refused): tolerate what it can on this many.
            rule = build_aggregator(self.config, max_inputs=len(usable))
            if len(usable) < rule.min_inputs():
                reason = (
                    f"only {len(usable)} input(s) reached the robust stage;"
                    f" rule {rule.name!r} needs {rule.min_inputs()}: nothing aggregated"
                )
                for s in usable:
                    rejected.update({int(m): reason for m in s.members})
                return np.zeros_like(self.weights), ()
            extra["robust_f_lowered_to"] = float(getattr(rule, "f", 0) or 0)
        try:
            rows = np.empty((len(usable), self.weights.shape[0]), dtype=np.float32)
            for i, s in enumerate(usable):
                s.mean_into(rows[i])  # no per-bucket temporaries: one pass per row
            aggregated = rule.aggregate(
                rows,
                ids,
                np.array([s.total_weight for s in usable]),
                context=AggregationContext(
                    round=round_,
                    seed=derive_seed(self.config.run.seed, round_, seeds.AGGREGATOR),
                    reference=reference,
                ),
            )
        except InvalidInputError as exc:
            # e.g. every input non-finite (a diverged model): nothing is aggregated.
            reason = f"robust stage aggregated nothing this round: {exc}"
            for s in usable:
                rejected.update({int(m): reason for m in s.members})
            return np.zeros_like(self.weights), ()
        by_id = dict(zip(ids, usable, strict=True))
        for rid_, reason in aggregated.rejected.items():
            members = by_id[int(rid_)].members
            if not individual:
                names = ", ".join(str(int(m)) for m in members)
                reason = f"bucket {int(rid_)} (clients {names}) rejected: {reason}"
            for member in members:
                rejected[int(member)] = reason
        participants = tuple(int(m) for a in aggregated.accepted for m in by_id[int(a)].members)
        return aggregated.vector.astype(np.float32), participants

    def _evaluate(self, round_: int, extra: dict[str, float]) -> Evaluation | None:
        """Test-set evaluation on the configured cadence (and backdoor success if attacked)."""
        cadence = self.config.run
        due = round_ % cadence.eval_every == 0 and round_ >= cadence.eval_from
        if not due and round_ != cadence.rounds:
            return None
        set_flat_parameters(self.model, self.weights)
        evaluation = evaluate(self.model, self.x_test, self.y_test, self.dataset.task)
        if self.byzantine is not None:
            success = self.byzantine.backdoor_success(
                self.model, self.dataset.x_test, self.dataset.y_test
            )
            if success is not None:
                extra["backdoor_success"] = success
        return evaluation

    def notes(self) -> list[str]:
        """What this run guarantees, in a line each (shown by the CLI before round 1)."""
        out: list[str] = []
        if self.bucketing is not None:
            out.append("bucketed secure aggregation: " + self.bucketing.describe())
        if self.byzantine is not None:
            ids = ", ".join(str(int(c)) for c in sorted(self.byzantine.ids))
            out.append(f"simulated attack {self.config.attack.kind!r} by clients {ids}")
        d = self.config.dp
        if d.mode == "local":
            out.append(f"DP-SGD on every client; budget ε = {d.epsilon:g}, δ = {d.delta:g} each")
        elif self.user_dp is not None:
            sigma = self.user_dp.config.noise_multiplier
            out.append(f"user-level DP-FedAvg, σ = {sigma:.4g}, clip {d.clip_norm:g}")
        elif self.distributed_dp is not None:
            sigma = self.distributed_dp.config.noise_multiplier
            out.append(
                f"distributed DP inside secure aggregation, σ = {sigma:.4g}; sums need at least"
                f" {self.distributed_dp.config.min_clients} clients"
            )
        return out

    def run(self) -> RunResult:
        """Run the remaining rounds and write the final model."""
        cfg = self.config
        if self.observer is not None:
            self.observer.on_start(
                config=cfg, run_dir=self.dir.path, start_round=self.start_round, notes=self.notes()
            )
        limits: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if cfg.run.threads:
            # BLAS pools as well as torch: oversubscribed OpenBLAS threads can make
            # a 25 x 1e6 Gram matrix 100x slower on a busy 2-core machine.
            from threadpoolctl import threadpool_limits

            limits = threadpool_limits(limits=cfg.run.threads)
        try:
            with limits:
                self._run_rounds()
        finally:
            close = getattr(self.privacy, "close", None)
            if callable(close):
                close()
        set_flat_parameters(self.model, self.weights)
        self._save_model()
        if self.audit is not None:
            self.audit.append(
                "complete",
                {"rounds": cfg.run.rounds, "model_sha256": weights_digest(self.weights)},
            )
        self.dir.write_info(self._info("complete", cfg.run.rounds))
        return RunResult(
            run_dir=self.dir.path,
            config=cfg,
            metrics=list(self.metrics),
            weights=self.weights.copy(),
            model=self.model,
        )

    def _run_rounds(self) -> None:
        cfg = self.config
        for round_ in range(self.start_round, cfg.run.rounds + 1):
            metrics = self.run_round(round_)
            self.metrics.append(metrics)
            self.dir.append_metrics(metrics)
            self._audit_round(metrics)
            if round_ % cfg.run.checkpoint_every == 0 or round_ == cfg.run.rounds:
                self.dir.save_checkpoint(self._checkpoint(round_))
            self.dir.write_info(self._info("running", round_))
            if self.observer is not None:
                self.observer.on_round(metrics)

    def _save_model(self) -> None:
        import io

        buffer = io.BytesIO()
        torch.save(self.model.state_dict(), buffer)
        atomic_write_bytes(self.dir.path / "model.pt", buffer.getvalue())
        flat = io.BytesIO()
        np.savez(flat, weights=self.weights)
        atomic_write_bytes(self.dir.path / "model.npz", flat.getvalue())
        summary = {"final": self.metrics[-1].as_dict() if self.metrics else None}
        atomic_write_bytes(
            self.dir.path / "summary.json", (json.dumps(summary, indent=2) + "\n").encode()
        )


def run(
    config: RunConfig | Mapping[str, Any] | str | os.PathLike[str] | None = None,
    *,
    overrides: Sequence[str] = (),
    run_dir: str | os.PathLike[str] | None = None,
    resume: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    observer: RunObserver | None = None,
    dataset: Dataset | None = None,
) -> RunResult:
    """Run a federated training job.

    Args:
        config: a :class:`RunConfig`, a mapping, a TOML path, or ``None`` for defaults.
        overrides: ``key.path=value`` overrides.
        run_dir: where to write the run (default ``<run.out_dir>/<id>``).
        resume: an existing run directory to continue from its last checkpoint
            (its ``config.toml`` is used; ``config`` must then be ``None``).
        data_dir: where to look for dataset files (overrides ``data.data_dir``).
        observer: progress callbacks.
        dataset: your own :class:`~secfl.data.Dataset` instead of a named one.

    Returns:
        The :class:`RunResult` with ``.metrics`` and ``.run_dir``.

    Raises:
        ConfigurationError: for invalid configurations, missing data or a bad run directory.
    """
    if resume is not None:
        if config is not None:
            raise ConfigurationError("give either a config or a run directory to resume, not both")
        if not (Path(resume) / "config.toml").is_file():
            raise ConfigurationError(f"{resume} is not a run directory (no config.toml)")
        resolved = load_config(Path(resume) / "config.toml", overrides)
        engine = Engine(
            resolved,
            run_dir=resume,
            resume=True,
            data_dir=data_dir,
            observer=observer,
            dataset=dataset,
        )
    else:
        resolved = load_config(config, overrides)
        engine = Engine(
            resolved, run_dir=run_dir, data_dir=data_dir, observer=observer, dataset=dataset
        )
    return engine.run()
