"""The privacy report's content, computed from a run directory alone (layer L4).

Everything here is recomputed from what the run persisted: the resolved
configuration (``config.toml``), the run record (``run.json``), the per-round
metrics, the privacy ledger (``ledger.jsonl``: the events are the source of
truth, every ε is recomputed from them) and the audit log. Nothing is
re-trained, and the same directory always gives the same report.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from secfl.audit import last_ledger_head, verify_log
from secfl.audit.privacy import PRIVACY_AUDIT_FILE
from secfl.errors import CryptoError, LedgerError, SecflError
from secfl.federation.config import RunConfig, load_config
from secfl.federation.metrics import RoundMetrics
from secfl.federation.rundir import RunDirectory

__all__ = [
    "PRIVACY_AUDIT_FILE",
    "Check",
    "PrivacyReport",
    "Section",
    "Table",
    "build_report",
]

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Table:
    """A table of strings."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Section:
    """One section of the report (rendered as a heading, paragraphs, tables, figures)."""

    key: str
    title: str
    paragraphs: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    figures: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Check:
    """One compliance assumption and whether the run met it."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class PrivacyReport:
    """The report: JSON-ready data, ordered sections, and the data behind the figures."""

    data: Mapping[str, Any]
    sections: tuple[Section, ...]
    series: Mapping[str, Any] = field(default_factory=dict)


def _sha256_file(path: Path) -> str | None:
    if not path.exists():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fmt(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "–"
    if math.isinf(value):
        return "∞"
    return f"{value:.{digits}g}"


def replace_one_epsilon(events: Sequence[Any], delta: float) -> float:
    """ε under replace-one neighbours, by group privacy over add/remove-one.

    Replacing one record is removing one and adding one. If a mechanism is
    (ε, δ')-DP for add/remove, it is (2ε, (1 + e^ε) δ')-DP for replace-one
    (group privacy with k = 2; Dwork & Roth 2014, Thm. 2.2 generalised). We
    look for δ' with (1 + e^ε(δ')) δ' = δ by a fixed-point iteration from
    δ' = δ/2 (conservative: it only ever lowers δ').
    """
    from secfl import dp

    target = delta / 2
    eps = dp.report(events, target).epsilon
    for _ in range(20):
        if not math.isfinite(eps):
            return math.inf
        needed = delta / (1.0 + math.exp(min(eps, 700.0)))
        if needed >= target:
            break
        target = needed
        eps = dp.report(events, target).epsilon
    return 2.0 * eps


@dataclass(slots=True)
class _Unit:
    """The events charged to one privacy unit (a client, or the population)."""

    label: str
    events: list[Any] = field(default_factory=list)
    rounds: list[int] = field(default_factory=list)
    stored_eps: list[float | None] = field(default_factory=list)
    stored_rdp: list[float | None] = field(default_factory=list)


def build_report(run_dir: str | Path) -> PrivacyReport:
    """Compute the privacy report of a run directory.

    Raises:
        SecflError: if the directory is not a run (no ``config.toml``).
    """
    from secfl import dp

    directory = RunDirectory(run_dir)
    root = directory.path
    if not directory.config_path.exists():
        raise CryptoError(f"{root} is not a run directory (no config.toml)")
    config = load_config(directory.config_path)
    info = directory.read_info()
    metrics = directory.read_metrics()
    d = config.dp
    delta = d.delta

    # -- ledger ----------------------------------------------------------------
    ledger_problem = ""
    torn = False
    records: tuple[Any, ...] = ()
    ledger_path = root / dp.LEDGER_FILENAME
    if d.mode != "none":
        try:
            records, torn = dp.read_ledger(root)
        except LedgerError as exc:
            ledger_problem = str(exc)
    units: dict[str, _Unit] = {}
    for rec in records:
        key = "population" if rec.client is None else str(rec.client)
        unit = units.setdefault(key, _Unit(label=key))
        unit.events.append(rec.event)
        unit.rounds.append(rec.round)
        unit.stored_eps.append(rec.epsilon)
        unit.stored_rdp.append(rec.epsilon_rdp)

    budgets = {str(k): float(v) for k, v in d.budgets.items()}
    clients: dict[str, dict[str, Any]] = {}
    mismatches: list[str] = []
    for key, unit in sorted(units.items(), key=lambda kv: (kv[0] == "population", _int(kv[0]))):
        rep = dp.report(unit.events, delta)
        budget = budgets.get(key, d.epsilon)
        stored = unit.stored_eps[-1]
        if stored is not None and not math.isclose(stored, rep.epsilon, rel_tol=1e-6, abs_tol=1e-9):
            mismatches.append(f"{key}: ledger says ε = {stored:.6g}, recomputed {rep.epsilon:.6g}")
        clients[key] = {
            "epsilon": rep.epsilon,
            "epsilon_rdp": rep.rdp,
            "epsilon_replace_one": replace_one_epsilon(unit.events, delta),
            "delta": delta,
            "budget": budget,
            "remaining": budget - rep.epsilon,
            "charges": len(unit.events),
            "rounds": sorted(set(unit.rounds)),
            "refusals": [],
        }
    refusals: list[tuple[int, int, str]] = []
    for m in metrics:
        for cid, reason in sorted(m.refused.items()):
            refusals.append((m.round, cid, reason))
            entry = clients.setdefault(
                "population" if d.mode in ("user", "distributed") else str(cid),
                {
                    "epsilon": 0.0,
                    "epsilon_rdp": 0.0,
                    "epsilon_replace_one": 0.0,
                    "delta": delta,
                    "budget": budgets.get(str(cid), d.epsilon),
                    "remaining": budgets.get(str(cid), d.epsilon),
                    "charges": 0,
                    "rounds": [],
                    "refusals": [],
                },
            )
            entry["refusals"].append({"round": m.round, "client": cid, "reason": reason})

    if d.mode == "local":
        headline = max((c["epsilon"] for c in clients.values()), default=0.0)
        headline_rdp = max((c["epsilon_rdp"] for c in clients.values()), default=0.0)
        headline_replace = max((c["epsilon_replace_one"] for c in clients.values()), default=0.0)
    elif d.mode in ("user", "distributed"):
        pop = clients.get("population", {})
        headline = float(pop.get("epsilon", 0.0))
        headline_rdp = float(pop.get("epsilon_rdp", 0.0))
        headline_replace = float(pop.get("epsilon_replace_one", 0.0))
    else:
        headline = headline_rdp = headline_replace = math.inf

    # -- audit log and empirical audit ------------------------------------------------
    audit_status = "absent"
    audit_detail = "no audit.jsonl (audit disabled)"
    audit_head = None
    if (root / "audit.jsonl").exists():
        try:
            verification = verify_log(root)
            audit_status = verification.status.value
            audit_detail = verification.message
            audit_head = verification.head
        except SecflError as exc:
            audit_status, audit_detail = "tampered", str(exc)
    empirical: dict[str, Any] | None = None
    if (root / PRIVACY_AUDIT_FILE).exists():
        empirical = json.loads((root / PRIVACY_AUDIT_FILE).read_text())

    # -- facts for the sections --------------------------------------------------------
    sizes = info.get("client_sizes") or []
    smallest = min(sizes) if sizes else None
    population = config.data.num_clients
    n_protected = smallest if d.mode == "local" else population
    checks = _checks(
        config,
        d.mode,
        delta,
        n_protected,
        torn,
        ledger_problem,
        mismatches,
        clients,
        audit_status,
        empirical,
        headline,
        last_ledger_head(root) if d.mode != "none" else None,
        len(records),
    )
    compliant = all(c.passed for c in checks)

    unit_of_privacy = {
        "none": "none: no differential privacy was configured",
        "local": "example (one training record) within each client",
        "user": "user (all of one client's data) across clients",
        "distributed": "user (all of one client's data) across clients",
    }[d.mode]
    neighbouring = {
        "relation": "add/remove-one" if d.mode != "none" else "n/a",
        "epsilon": headline,
        "replace_one_epsilon": headline_replace,
        "replace_one_method": "group privacy (k = 2) over add/remove-one: (2ε, (1+e^ε)δ')",
    }
    accountant = {
        "name": "prv" if d.mode != "none" else None,
        "library": "opacus (PRV accountant primitives), secfl.dp.accounting",
        "opacus_version": info.get("opacus_version"),
        "parameters": {"delta": delta, "eps_error_bound": "≤ 0.2 % of ε (floor 1e-3)"},
        "cross_check": {"name": "rdp", "epsilon": headline_rdp},
    }
    hashes = {
        "config_sha256": config.digest(),
        "config_sha256_recorded": info.get("config_sha256"),
        "ledger_sha256": _sha256_file(ledger_path),
        "metrics_sha256": _sha256_file(directory.metrics_path),
        "audit_head": audit_head,
    }
    data: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "run": root.name,
        "compliant": compliant,
        "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in checks],
        "epsilon": headline,
        "epsilon_rdp": headline_rdp,
        "delta": delta,
        "dp_mode": d.mode,
        "accountant": accountant,
        "unit_of_privacy": unit_of_privacy,
        "neighbouring_relation": neighbouring,
        "clients": clients,
        "refusals": [{"round": r, "client": c, "reason": why} for r, c, why in refusals],
        "rounds": len(metrics),
        "protection": config.protection.kind,
        "audit_log": {"status": audit_status, "detail": audit_detail},
        "empirical_audit": empirical,
        "reproducibility": {
            "versions": {
                k: info.get(k)
                for k in (
                    "secfl_version",
                    "torch_version",
                    "numpy_version",
                    "python_version",
                    "opacus_version",
                    "cryptography_version",
                )
            },
            **hashes,
        },
    }
    series = _series(units, delta, d.epsilon, budgets)
    sections = _sections(config, info, metrics, data, checks, units, series)
    return PrivacyReport(data=_jsonable(data), sections=sections, series=series)


def _int(key: str) -> int:
    return int(key) if key.isdigit() else 1 << 60


def _jsonable(value: Any) -> Any:
    """Replace infinities by the string "inf" (JSON has no infinity)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _checks(
    config: RunConfig,
    mode: str,
    delta: float,
    n_protected: int | None,
    torn: bool,
    ledger_problem: str,
    mismatches: list[str],
    clients: Mapping[str, Mapping[str, Any]],
    audit_status: str,
    empirical: Mapping[str, Any] | None,
    headline: float,
    signed_head: Mapping[str, Any] | None = None,
    ledger_records: int = 0,
) -> list[Check]:
    d = config.dp
    checks = [
        Check(
            "differential privacy configured",
            mode != "none",
            "dp.mode = "
            + repr(mode)
            + ("" if mode != "none" else ": the run makes no differential-privacy claim"),
        ),
    ]
    if mode == "none":
        return checks
    checks.append(
        Check(
            "noise from a cryptographically secure generator",
            d.noise == "secure",
            f"dp.noise = {d.noise!r}"
            + (
                ""
                if d.noise == "secure"
                else " (a seeded or Mersenne-Twister source is predictable: the Gaussian"
                " noise can be reconstructed and removed)"
            ),
        )
    )
    if mode == "local":
        sampling_ok, sampling = True, "Poisson sampling of examples (secfl's CSPRNG sampler)"
    else:
        sampling_ok = config.server.sampling == "poisson"
        sampling = f"client sampling: server.sampling = {config.server.sampling!r}"
    checks.append(Check("Poisson sampling, as the accountant assumes", sampling_ok, sampling))
    if n_protected:
        ok = delta < 1.0 / n_protected
        detail = f"δ = {delta:g}, 1/n = {1 / n_protected:.3g} (n = {n_protected})"
        if ok and delta * n_protected > 0.1:
            detail += "; below 1/n but not well below it (δ·n > 0.1)"
        checks.append(Check("δ below 1/n", ok, detail))
    checks.append(
        Check(
            "privacy ledger intact",
            not ledger_problem and not mismatches,
            ledger_problem or "; ".join(mismatches) or "hash chain verified; every ε recomputed",
        )
    )
    if signed_head is not None:
        checks.append(
            Check(
                "ledger as long as the signed audit log says",
                ledger_records >= signed_head["records"],
                f"ledger holds {ledger_records} charges; the signed audit log acknowledged"
                f" {signed_head['records']}",
            )
        )
    if torn:
        checks.append(
            Check(
                "no torn ledger write",
                True,
                "the last ledger line is incomplete (a crash during a charge); it was never"
                " acknowledged, so no update was released on it",
            )
        )
    over = [k for k, c in clients.items() if c["epsilon"] > c["budget"] * (1 + 1e-9)]
    checks.append(
        Check(
            "budgets respected",
            not over,
            "every unit within its budget" if not over else f"over budget: {', '.join(over)}",
        )
    )
    checks.append(
        Check(
            "audit log verifies",
            audit_status in ("ok", "absent"),
            f"audit.jsonl: {audit_status}",
        )
    )
    if empirical is not None:
        lower = float(empirical.get("epsilon_lower_bound", 0.0))
        checks.append(
            Check(
                "empirical lower bound below the claimed ε",
                lower <= headline,
                f"one-run audit lower bound ε ≥ {lower:.3g} vs claimed {headline:.3g}",
            )
        )
    return checks


def _series(
    units: Mapping[str, _Unit], delta: float, default_budget: float, budgets: Mapping[str, float]
) -> dict[str, Any]:
    """Per-unit ε after each charge (stored values, verified against the recomputation)."""
    out: dict[str, Any] = {"delta": delta, "units": {}}
    for key, unit in units.items():
        out["units"][key] = {
            "rounds": list(unit.rounds),
            "epsilon": [e if e is not None else math.nan for e in unit.stored_eps],
            "epsilon_rdp": [e if e is not None else math.nan for e in unit.stored_rdp],
            "budget": budgets.get(key, default_budget),
        }
    return out


def _sections(
    config: RunConfig,
    info: Mapping[str, Any],
    metrics: Sequence[RoundMetrics],
    data: Mapping[str, Any],
    checks: Sequence[Check],
    units: Mapping[str, _Unit],
    series: Mapping[str, Any],
) -> tuple[Section, ...]:
    d = config.dp
    mode = d.mode
    prot = config.protection.kind
    verdict = (
        "COMPLIANT: every assumption behind the stated guarantee was met."
        if data["compliant"]
        else "NOT COMPLIANT: at least one assumption behind a differential-privacy claim was"
        " not met (see the checks below); the numbers must not be presented as a guarantee."
    )
    summary = Section(
        "summary",
        "Summary",
        (
            verdict,
            f"Run {data['run']}: {data['rounds']} rounds, {config.data.num_clients} clients,"
            f" dataset {config.data.dataset}, differential privacy mode {mode!r},"
            f" protection {prot!r}.",
            (
                f"Headline: ε = {_fmt(data['epsilon'])} at δ = {d.delta:g}"
                f" ({data['unit_of_privacy']}), PRV accountant; RDP cross-check"
                f" ε = {_fmt(data['epsilon_rdp'])}."
                if mode != "none"
                else "No ε can be stated: no differential-privacy mechanism ran."
            ),
        ),
        (
            Table(
                ("assumption", "met", "detail"),
                tuple((c.name, "yes" if c.passed else "NO", c.detail) for c in checks),
            ),
        ),
    )
    scope = Section(
        "scope",
        "Scope: which outputs are covered",
        (
            "Covered: every output derived from the protected updates: the per-round aggregates,"
            " every checkpoint (checkpoints/round_NNNN.npz), and the final model (model.pt,"
            " model.npz). By post-processing, anything computed from them is covered by the"
            " same ε."
            if mode != "none"
            else "No output is covered by a differential-privacy guarantee.",
            "Not covered: the test-set evaluation metrics (computed by the server on its own"
            " test data), the training loss each client computes locally (never released"
            " beyond the client), and the run's configuration.",
        ),
    )
    server_sees = {
        "none": "every client's update in the clear",
        "paillier": "only ciphertexts; a separate decryptor releases sums of at least"
        f" {config.protection.min_contributors} clients",
        "secagg": "only masked vectors and their sum (pairwise masking, SecAgg)",
        "secagg+": "only masked vectors and their sum (SecAgg+, sparse graph)",
    }.get(prot, prot)
    noise_where = {
        "local": "each client adds Gaussian noise to its clipped per-example gradients, so"
        " every released update is already private at the example level",
        "user": "the server adds Gaussian noise to the sum of clipped updates (trusted server:"
        " it sees the un-noised sum)",
        "distributed": "each client adds discrete Gaussian noise inside secure aggregation:"
        " the server only ever sees an already-noised sum",
        "none": "no noise is added",
    }[mode]
    bucketing = info.get("bucketing")
    threat = Section(
        "threat_model",
        "Trust and threat model",
        (
            f"Server: honest-but-curious by default; sees {server_sees}. Noise: {noise_where}.",
            "Other clients: see only the global models the server broadcasts (covered by ε).",
            "Model consumers: see the final model and checkpoints (covered by ε).",
            (
                f"Robust stage: {bucketing['description']}"
                if bucketing
                else f"Robust stage: rule {config.aggregator.rule!r} on"
                + (" individual updates." if prot == "none" else " one secure sum.")
            ),
            "Collusion and dropouts: secure aggregation tolerates dropouts down to its threshold"
            " and hides individual updates unless the server colludes with enough clients; the"
            " DP guarantee for user-level modes holds for any coalition that does not include the"
            " protected user.",
            _protection_guarantee(config),
        ),
    )
    contributions = {
        "local": f"each example's gradient clipped to L2 norm {d.max_grad_norm:g} per step",
        "user": f"each client's update clipped to L2 norm {d.clip_norm:g} per round",
        "distributed": f"each client's update clipped to L2 norm {d.clip_norm:g} per round,"
        " then quantised with bounded rounding error",
        "none": "contributions are not bounded for privacy",
    }[mode]
    unit = Section(
        "unit_of_privacy",
        "Unit of privacy",
        (f"Protected unit: {data['unit_of_privacy']}.", f"Bounding: {contributions}."),
    )
    nb = data["neighbouring_relation"]
    neighbouring = Section(
        "neighbouring_relation",
        "Neighbouring relation",
        (
            "Datasets are neighbours if one has one more unit (record, or user) than the other"
            " (add/remove-one); this is the relation the accountant uses.",
            f"Add/remove-one: ε = {_fmt(nb['epsilon'])}. Replace-one: ε ≤"
            f" {_fmt(nb['replace_one_epsilon'])} ({nb['replace_one_method']}).",
        ),
    )
    mech_rows: list[tuple[str, ...]] = []
    for key, u in sorted(units.items(), key=lambda kv: _int(kv[0])):
        if not u.events:
            continue
        first = u.events[-1]
        desc = ", ".join(f"{k} = {v}" for k, v in _event_fields(first).items())
        mech_rows.append((key, str(len(u.events)), desc))
    sampling = (
        "Poisson sampling of examples with rate q = batch_size / n_client (secfl CSPRNG sampler)"
        if mode == "local"
        else f"client sampling {config.server.sampling!r} with rate {config.server.fraction:g}"
    )
    non_private = [
        "model architecture and initialisation (public)",
        "hyper-parameters in config.toml (assumed chosen without looking at private data)",
        "the server's test set used for evaluation",
    ]
    if config.data.dataset in ("bank_marketing", "adult", "german_credit"):
        non_private.append(
            "tabular preprocessing statistics (one-hot vocabulary, means and standard deviations)"
            " computed on the pooled training data and treated as a public schema"
        )
    if config.aggregator.root_samples:
        non_private.append(f"{config.aggregator.root_samples} root samples held by the server")
    sigma_text = _fmt(d.noise_multiplier) if d.noise_multiplier else "derived from the budget"
    mechanism = Section(
        "mechanism",
        "Mechanism",
        (
            {
                "local": f"DP-SGD (Abadi et al. 2016) through Opacus: per-example clipping to"
                f" {d.max_grad_norm:g}, Gaussian noise σ·C with σ = {sigma_text}.",
                "user": f"DP-FedAvg (McMahan et al. 2018): update clipping to {d.clip_norm:g},"
                " central Gaussian noise on the sum, fixed denominator qN.",
                "distributed": "Distributed discrete Gaussian (Kairouz, Liu, Steinke 2021) inside"
                " secure aggregation.",
                "none": "No privacy mechanism.",
            }[mode],
            f"Sampling actually run: {sampling}.",
            f"Rounds: {len(metrics)}; local training: {config.client.mode},"
            f" {config.client.local_epochs} epoch(s), batch {config.client.batch_size}.",
            "Non-private inputs: " + "; ".join(non_private) + ".",
        ),
        ((Table(("unit", "charges", "latest event"), tuple(mech_rows)),) if mech_rows else ()),
    )
    acc = data["accountant"]
    accountant = Section(
        "accountant",
        "Accountant",
        (
            f"Headline: PRV accountant (Gopi, Lee, Wutschitz 2021) as implemented with Opacus"
            f" {acc.get('opacus_version') or '?'} primitives in secfl.dp.accounting; the upper"
            " end of its error bound is reported.",
            f"Cross-check: RDP (Mironov 2017; Poisson-subsampled Gaussian) ε ="
            f" {_fmt(acc['cross_check']['epsilon'])} for the headline unit.",
            "Every ε in this report was recomputed from the ledger's events at δ ="
            f" {d.delta:g}; the values stored in the ledger at charge time were checked"
            " against the recomputation.",
        ),
        figures=("accountants",) if units else (),
    )
    rows = []
    for key, c in sorted(data["clients"].items(), key=lambda kv: _int(kv[0])):
        rows.append(
            (
                key,
                _fmt(c["epsilon"]),
                _fmt(c["epsilon_rdp"]),
                _fmt(c["epsilon_replace_one"]),
                _fmt(c["budget"]),
                _fmt(c["remaining"]),
                str(c["charges"]),
                str(len(c["refusals"])),
            )
        )
    refusal_rows = tuple((str(r["round"]), str(r["client"]), r["reason"]) for r in data["refusals"])
    epsilons = Section(
        "epsilon",
        "ε(δ) per client and at user level",
        (
            f"δ = {d.delta:g}. 'Remaining' is the budget minus ε spent; clients whose next round"
            " would exceed their budget were refused before training (listed below)."
            if mode != "none"
            else "No ε: differential privacy was not configured.",
        ),
        tuple(
            t
            for t in (
                Table(
                    (
                        "unit",
                        "ε (PRV)",
                        "ε (RDP)",
                        "ε replace-one",
                        "budget",
                        "remaining",
                        "charges",
                        "refusals",
                    ),
                    tuple(rows),
                )
                if rows
                else None,
                Table(("round", "client", "reason"), refusal_rows) if refusal_rows else None,
            )
            if t is not None
        ),
        figures=("epsilon",) if units else (),
    )
    implementation = Section(
        "implementation_security",
        "Implementation security",
        (
            f"Noise source: {d.noise!r}: "
            + {
                "secure": "AES-256-CTR keystream keyed from the OS CSPRNG (secfl.crypto.random);"
                " Gaussian samples by the polar method in float64, added in float64 and rounded"
                " once; tails cut at about 12σ (accounted in δ). Discrete Gaussian noise is"
                " sampled exactly with integer arithmetic (Canonne, Kamath, Steinke 2020).",
                "seeded": "a seeded generator: reproducible, NOT secure (testing only).",
                "opacus": "Opacus' default torch generator: not cryptographically secure.",
            }[d.noise],
            "Floating-point mitigations: see Mironov (CCS 2012) and Jin et al. (2022) on"
            " floating-point attacks on DP noise; secfl adds noise in float64 and rounds once, a"
            " mitigation, not a proof.",
            "Known library issues: Opacus' own secure_mode needs torchcsprng, which does not"
            " build for current torch; secfl replaces the noise and the Poisson sampler instead.",
        ),
    )
    emp = data.get("empirical_audit")
    empirical = Section(
        "empirical_audit",
        "Empirical privacy audit",
        (
            (
                f"One-run audit (Steinke, Nasr, Jagielski 2023) with {emp.get('canaries')}"
                f" canaries: empirical lower bound ε ≥ {_fmt(emp.get('epsilon_lower_bound'))}"
                f" at {emp.get('confidence', 0.95):.0%} confidence, against the claimed ε ="
                f" {_fmt(emp.get('claimed_epsilon'))}. Membership inference TPR at 1% FPR:"
                f" {_fmt(emp.get('tpr_at_1pct_fpr'))}."
            )
            if emp
            else "No empirical audit was run for this directory (run `secfl audit privacy"
            " --config RUN_DIR/config.toml --out RUN_DIR`).",
        ),
    )
    factor = _fmt(math.exp(min(_num(data["epsilon"]), 50.0)), 3)
    plain = Section(
        "interpretation",
        "What this means, in plain language",
        (
            (
                f"Whatever anyone learns from the released models, their belief about whether"
                f" any one {'record' if mode == 'local' else 'participant'} was used can change"
                f" by a factor of at most e^ε ≈ {factor},"
                f" except with probability about δ = {d.delta:g}."
                if mode != "none" and math.isfinite(_num(data["epsilon"]))
                else "This run gives no formal privacy guarantee."
            ),
            "What is NOT protected: aggregate properties of the data (e.g. that most clients"
            " hold a certain label) are learnable by design; several records of the same person"
            " inside one client are protected only as a group (ε grows with their number) under"
            " example-level DP; the test-set metrics and the configuration are public; a server"
            " that sees individual updates (no protection) learns them, though they are"
            " DP-noised under local DP.",
        ),
    )
    repro = data["reproducibility"]
    reproducibility = Section(
        "reproducibility",
        "Reproducibility",
        (
            "This report is computed from the run directory alone; regenerating it gives the"
            " same content.",
        ),
        (
            Table(
                ("item", "value"),
                tuple((k, str(v)) for k, v in repro["versions"].items())
                + tuple(
                    (k, str(repro[k]))
                    for k in (
                        "config_sha256",
                        "config_sha256_recorded",
                        "ledger_sha256",
                        "metrics_sha256",
                        "audit_head",
                    )
                ),
            ),
        ),
    )
    return (
        summary,
        scope,
        threat,
        unit,
        neighbouring,
        mechanism,
        accountant,
        epsilons,
        implementation,
        empirical,
        plain,
        reproducibility,
    )


def _num(value: Any) -> float:
    """A float from a JSON-ready number (``"inf"`` becomes infinity)."""
    return math.inf if value == "inf" else float(value)


def _event_fields(event: Any) -> dict[str, Any]:
    from secfl.dp.events import event_to_dict

    return {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in event_to_dict(event).items()}


def _protection_guarantee(config: RunConfig) -> str:
    """What the protection that ran guarantees against a server that deviates, and under what."""
    p = config.protection
    if p.kind in ("secagg", "secagg+"):
        if not p.malicious:
            return (
                "Protection variant: honest-but-curious secure aggregation: a server that"
                " deviates from the protocol (e.g. lies about who dropped out) is not defended"
                " against (protocols/secagg.md §9.1)."
            )
        return (
            "Protection variant: malicious-server secure aggregation (signed keys, per-owner"
            " consistency check, protocol v2): the server never learns both secrets of a live"
            " client, assuming at most"
            f" {p.corrupt} client(s) per holder set collude with it (protection.corrupt;"
            " protocols/secagg.md §9.2, A4)."
        )
    if p.kind == "paillier":
        if not p.sign_inputs:
            return (
                "Protection variant: unsigned Paillier inputs: the decryptor trusts the"
                " aggregator's contributor list, so the minimum-contributor policy holds only"
                " against an honest-but-curious aggregator (protocols/paillier.md §8)."
            )
        if p.prove_inputs:
            return (
                "Protection variant: signed Paillier inputs with proofs of plaintext knowledge:"
                " an aggregator colluding with registered clients cannot isolate another"
                " client's input below the minimum-contributor policy (protocols/paillier.md"
                " §7.4)."
            )
        return (
            "Protection variant: signed Paillier inputs without proofs of plaintext knowledge:"
            " an aggregator that colludes with one registered client can isolate another"
            " client's input whatever min_contributors is (protocols/paillier.md §7.3);"
            " protection.prove_inputs = true closes this."
        )
    return "Protection variant: none: the server sees every update."
