"""Packed Paillier aggregation against naive phe and TenSEAL CKKS (issue 6).

One run measures, side by side on the same machine and key size:

* **naive phe**: one ``phe`` ``EncryptedNumber`` per float (phe's own float
  encoding, ``r^n`` obfuscation). Encrypting 100 000 floats this way takes
  about 20 minutes, so it is timed on a sample of ``--naive-sample`` values
  (300 by default) per operation and **extrapolated linearly** to ``d``
  values; the table marks these rows as extrapolated.
* **secfl packed** at 8-, 16- and 32-bit values: a full round of ``N``
  clients (every client encrypts all ``d`` values; aggregation; decryption
  with the minimum-contributor check), with the default fixed-base
  obfuscator.
* **speed-ups** at 16-bit values: textbook ``r^n`` obfuscators (timed on a
  sample of ciphertexts and extrapolated), a pre-filled obfuscator pool (the
  online cost once obfuscators were computed off the critical path), parallel
  encryption over worker processes, and signed inputs (Ed25519 plus the
  decryptor's verification and re-multiplication).
* **proofs of plaintext knowledge** (``prove_inputs``, paillier.md §4.1) at
  16-bit values: a full signed round with proofs right after the same round
  without, so the client's and the decryptor's slow-downs are ratios from one
  run; proof generation and batch verification are also timed on their own.
* **TenSEAL CKKS** (approximate arithmetic, 8192 slots) if it is installed.

Usage: ``python -m benchmarks paillier [--quick] [--d D] [--n N] [--note TEXT]``. Writes
``benchmarks/results/paillier.json`` and ``paillier.md``. Wall-clock times
on a shared machine are noisy: compare the ratios, which are measured in the
same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from secfl.crypto import paillier_pok
from secfl.crypto.paillier import (
    ObfuscatorPool,
    PaillierKeyPair,
    StandardObfuscator,
    shared_fixed_base,
)
from secfl.crypto.random import CSPRNG
from secfl.he import (
    Decryptor,
    EncryptedAggregate,
    EncryptedInput,
    PaillierAggregator,
    PaillierClient,
    PaillierConfig,
    ParallelEncryptor,
    keygen,
)

RESULTS = Path(__file__).resolve().parent / "results"
SPEEDUP_TARGET = 100.0  # x naive throughput at 16-bit values
ROUND_CPU_TARGET = 30.0  # seconds of CPU for a full d = 1e5, N = 10 round


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``fn``; return (result, wall seconds, CPU seconds of this process)."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def updates(d: int, n: int, seed: int = 1) -> list[np.ndarray]:
    rng = CSPRNG(seed)
    return [((rng.uniform(d) * 2 - 1) * 0.9).astype(np.float32) for _ in range(n)]


def bench_naive(kp: PaillierKeyPair, d: int, n: int, sample: int) -> dict[str, Any]:
    """phe EncryptedNumber per float, timed on ``sample`` values and extrapolated to ``d``."""
    pub, priv = kp.public_key.to_phe(), kp.private_key.to_phe()
    xs = updates(sample, n, seed=2)
    enc_times = []
    enc_cpu = []
    encrypted = []
    for x in xs[: min(n, 2)]:  # two clients' samples are enough for a per-value rate
        values = [float(v) for v in x]
        out, wall, cpu = timed(lambda v=values: [pub.encrypt(f) for f in v])
        enc_times.append(wall)
        enc_cpu.append(cpu)
        encrypted.append(out)
    per_value_enc = min(enc_times) / sample
    per_value_cpu = min(enc_cpu) / sample
    # Aggregation: N - 1 additions per coordinate (phe aligns exponents when they differ).
    while len(encrypted) < n:
        encrypted.append(encrypted[len(encrypted) % 2])
    _, agg_wall, _ = timed(lambda: [sum(col[1:], col[0]) for col in zip(*encrypted, strict=True)])
    summed = [sum(col[1:], col[0]) for col in zip(*encrypted, strict=True)]
    _, dec_wall, _ = timed(lambda: [priv.decrypt(c) for c in summed])
    ct_bytes = 2 * kp.public_key.bits // 8 + 4  # ciphertext + a 32-bit exponent per value
    scale = d / sample
    return {
        "method": "naive phe (EncryptedNumber per float)",
        "slot_bits": None,
        "extrapolated_from": sample,
        "values_per_s": 1.0 / per_value_enc,
        "encrypt_s_per_client": per_value_enc * d,
        "encrypt_cpu_s_per_client": per_value_cpu * d,
        "values_per_cpu_s": 1.0 / per_value_cpu,
        "aggregate_s": agg_wall * scale,
        "decrypt_s": dec_wall * scale,
        "bytes_per_client": ct_bytes * d,
        "round_cpu_s": per_value_enc * d * n + (agg_wall + dec_wall) * scale,
    }


def run_round(
    kp: PaillierKeyPair,
    cfg: PaillierConfig,
    xs: list[np.ndarray],
    *,
    signed: bool = False,
    label: str,
) -> dict[str, Any]:
    """A full round: every client encrypts, the aggregator adds, the decryptor decrypts.

    With ``cfg.prove_inputs`` (needs ``signed``) the clients also prove plaintext
    knowledge and the decryptor verifies; both meter that part with ``perf_counter``.
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pk = kp.public_key
    n = len(xs)
    identities = {i: Ed25519PrivateKey.generate() for i in range(n)} if signed else {}
    table = shared_fixed_base(pk)  # build the public table outside the timed region
    if cfg.prove_inputs:
        table.extend(paillier_pok.sigma_bits(pk))  # rows for the commitments, also public
    clock = time.perf_counter if cfg.prove_inputs else None
    cpu0 = time.process_time()
    enc_wall: list[float] = []
    enc_cpu: list[float] = []
    prove_wall: list[float] = []
    blobs: list[bytes] = []
    for i, x in enumerate(xs):
        client = PaillierClient(
            pk, cfg, i, rng=CSPRNG(100 + i), signing_key=identities.get(i), clock=clock
        )
        msg, wall, cpu = timed(lambda c=client, x=x: c.encrypt(x, round=1).encode())
        enc_wall.append(wall)
        enc_cpu.append(cpu)
        prove_wall.append(client.proof_seconds)
        blobs.append(msg)
    aggregator = PaillierAggregator(pk, cfg, forward_inputs=signed)
    agg, agg_wall, agg_cpu = timed(
        lambda: aggregator.aggregate([EncryptedInput.decode(b) for b in blobs], round=1).encode()
    )
    keys = {i: k.public_key() for i, k in identities.items()} if signed else None
    decryptor = Decryptor(
        kp.private_key,
        cfg,
        client_keys=keys,  # type: ignore[arg-type]
        clock=clock,
    )
    result, dec_wall, dec_cpu = timed(lambda: decryptor.decrypt(EncryptedAggregate.decode(agg)))
    round_cpu = time.process_time() - cpu0
    truth = np.sum([np.clip(x.astype(np.float64), -cfg.clip, cfg.clip) for x in xs], axis=0)
    error = float(np.max(np.abs(result.values - truth)))
    if error > n * cfg.values.step:
        raise AssertionError(f"{label}: decrypted sum off by {error}")
    per_client = statistics.median(enc_wall)
    proofs: dict[str, Any] = {}
    if cfg.prove_inputs:
        proofs = {
            "prove_s_per_client": statistics.median(prove_wall),
            "verify_s": decryptor.proof_seconds,
            "verify_s_per_input": decryptor.proof_seconds / n,
        }
    return {
        **proofs,
        "method": label,
        "slot_bits": cfg.slot_bits,
        "value_bits": cfg.value_bits,
        "slots_per_ciphertext": cfg.slots_per_plaintext,
        "ciphertexts_per_client": cfg.num_ciphertexts,
        "values_per_s": cfg.dimension / per_client,
        "encrypt_s_per_client": per_client,
        "encrypt_s_per_client_min": min(enc_wall),
        "encrypt_cpu_s_per_client": statistics.median(enc_cpu),
        "values_per_cpu_s": cfg.dimension / statistics.median(enc_cpu),
        "aggregate_s": agg_wall,
        "aggregate_cpu_s": agg_cpu,
        "decrypt_s": dec_wall,
        "decrypt_cpu_s": dec_cpu,
        "bytes_per_client": len(blobs[0]),
        "bytes_to_decryptor": len(agg),
        "round_cpu_s": round_cpu,
        "max_abs_error": error,
        "quantisation_step": cfg.values.step,
    }


def bench_obfuscator_variants(
    kp: PaillierKeyPair, cfg: PaillierConfig, x: np.ndarray, sample: int, workers: int
) -> list[dict[str, Any]]:
    """Per-client encryption at 16-bit values with each obfuscator strategy."""
    pk = kp.public_key
    rows: list[dict[str, Any]] = []
    ct = cfg.num_ciphertexts

    # Textbook r^n: timed on `sample` obfuscators and extrapolated to a full client.
    _, wall, _ = timed(lambda: StandardObfuscator(pk).draw(sample, CSPRNG(1)))
    per_ct = wall / sample
    rows.append(
        {
            "method": "packed, textbook r^n obfuscators",
            "extrapolated_from": sample,
            "encrypt_s_per_client": per_ct * ct,
            "values_per_s": cfg.dimension / (per_ct * ct),
        }
    )
    table, table_wall, _ = timed(lambda: shared_fixed_base.__wrapped__(pk))
    client = PaillierClient(pk, cfg, 1, obfuscator=table, rng=CSPRNG(2))
    _, wall, _ = timed(lambda: client.encrypt(x, round=1))
    rows.append(
        {
            "method": "packed, fixed-base obfuscators (default)",
            "encrypt_s_per_client": wall,
            "values_per_s": cfg.dimension / wall,
            "table_build_s": table_wall,
        }
    )
    pool = ObfuscatorPool(table, rng=CSPRNG(3))
    _, fill_wall, _ = timed(lambda: pool.refill(ct))
    client = PaillierClient(pk, cfg, 1, obfuscator=pool, rng=CSPRNG(4))
    _, wall, _ = timed(lambda: client.encrypt(x, round=1))
    rows.append(
        {
            "method": "packed, pre-filled obfuscator pool (online part)",
            "encrypt_s_per_client": wall,
            "values_per_s": cfg.dimension / wall,
            "precompute_s_off_critical_path": fill_wall,
        }
    )
    if workers > 1:
        with ParallelEncryptor(pk, workers=workers) as par:
            client = PaillierClient(pk, cfg, 1, parallel=par, rng=CSPRNG(5))
            client.encrypt(x, round=1)  # warm-up
            best = min(timed(lambda: client.encrypt(x, round=1))[1] for _ in range(2))
        rows.append(
            {
                "method": f"packed, parallel encryption ({workers} processes)",
                "encrypt_s_per_client": best,
                "values_per_s": cfg.dimension / best,
            }
        )
    return rows


def bench_tenseal(d: int, n: int) -> dict[str, Any]:
    try:
        import tenseal as ts
    except ImportError as exc:  # optional (bench extra)
        return {"method": "TenSEAL CKKS", "skipped": f"tenseal not importable: {exc}"}
    xs = updates(d, n, seed=3)
    ctx = ts.context(
        ts.SCHEME_TYPE.CKKS, poly_modulus_degree=8192, coeff_mod_bit_sizes=[60, 40, 40, 60]
    )
    ctx.global_scale = 2**40
    slots = 8192 // 2  # CKKS packs N/2 values per ciphertext
    enc_wall = []
    enc_cpu = []
    clients = []
    for x in xs:
        chunks = [x[i : i + slots].astype(np.float64) for i in range(0, d, slots)]
        v, wall, cpu = timed(lambda c=chunks: [ts.ckks_vector(ctx, chunk) for chunk in c])
        enc_wall.append(wall)
        enc_cpu.append(cpu)
        clients.append(v)
    size = sum(len(v.serialize()) for v in clients[0])

    def add_all() -> Any:
        acc = [v.copy() for v in clients[0]]
        for other in clients[1:]:
            for a, b in zip(acc, other, strict=True):
                a += b
        return acc

    total, agg_wall, _ = timed(add_all)
    out, dec_wall, _ = timed(lambda: np.concatenate([np.array(v.decrypt()) for v in total]))
    error = float(np.max(np.abs(out - np.sum([x.astype(np.float64) for x in xs], axis=0))))
    per_client = statistics.median(enc_wall)
    return {
        "method": "TenSEAL CKKS (N=8192, approximate)",
        "slot_bits": None,
        "values_per_s": d / per_client,
        "encrypt_s_per_client": per_client,
        "encrypt_cpu_s_per_client": statistics.median(enc_cpu),
        "values_per_cpu_s": d / statistics.median(enc_cpu),
        "aggregate_s": agg_wall,
        "decrypt_s": dec_wall,
        "bytes_per_client": size,
        "max_abs_error": error,
        "version": getattr(ts, "__version__", "unknown"),
    }


def fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:.{digits}g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def proof_ratios(without: dict[str, Any], proved: dict[str, Any]) -> dict[str, Any]:
    """Costs of ``prove_inputs``: the two signed 16-bit rows of one run, as ratios."""
    return {
        "without": without["method"],
        "with": proved["method"],
        "client_wall_ratio": proved["encrypt_s_per_client"] / without["encrypt_s_per_client"],
        "client_cpu_ratio": proved["encrypt_cpu_s_per_client"]
        / without["encrypt_cpu_s_per_client"],
        "prove_share_of_client": proved["prove_s_per_client"] / proved["encrypt_s_per_client"],
        "decryptor_ratio": proved["decrypt_s"] / without["decrypt_s"],
        "verify_share_of_decryptor": proved["verify_s"] / proved["decrypt_s"],
        "aggregator_ratio": proved["aggregate_s"] / without["aggregate_s"],
        "bytes_ratio": proved["bytes_per_client"] / without["bytes_per_client"],
        "round_cpu_ratio": proved["round_cpu_s"] / without["round_cpu_s"],
    }


def render_proofs(proofs: dict[str, Any], n: int) -> list[str]:
    w, p, r = proofs["rows"]["without"], proofs["rows"]["with"], proofs["ratios"]
    return [
        "",
        "## Proofs of plaintext knowledge (16-bit values, signed inputs)",
        "",
        "`prove_inputs` (protocols/paillier.md §4.1, §7.4): both rounds measured one after the"
        " other in this run; the ratios are the result, the seconds depend on the machine.",
        "",
        "| cost | without proofs | with proofs | ratio |",
        "|---|---|---|---|",
        f"| client encrypt + sign, s (median wall) | {fmt(w['encrypt_s_per_client'])} |"
        f" {fmt(p['encrypt_s_per_client'])} | {r['client_wall_ratio']:.2f}x |",
        f"| client encrypt + sign, CPU s (median) | {fmt(w['encrypt_cpu_s_per_client'])} |"
        f" {fmt(p['encrypt_cpu_s_per_client'])} | {r['client_cpu_ratio']:.2f}x |",
        f"| of which proving, s (median wall) | – | {fmt(p['prove_s_per_client'])} |"
        f" {r['prove_share_of_client']:.0%} of the client |",
        f"| bytes per client | {fmt(w['bytes_per_client'])} | {fmt(p['bytes_per_client'])} |"
        f" {r['bytes_ratio']:.2f}x |",
        f"| aggregator s (N = {n} inputs) | {fmt(w['aggregate_s'])} | {fmt(p['aggregate_s'])} |"
        f" {r['aggregator_ratio']:.2f}x |",
        f"| decryptor s (N = {n} inputs) | {fmt(w['decrypt_s'])} | {fmt(p['decrypt_s'])} |"
        f" {r['decryptor_ratio']:.2f}x |",
        f"| of which proof verification, s | – | {fmt(p['verify_s'])}"
        f" ({fmt(p['verify_s_per_input'])} per input) |"
        f" {r['verify_share_of_decryptor']:.0%} of the decryptor |",
        f"| full round CPU s | {fmt(w['round_cpu_s'])} | {fmt(p['round_cpu_s'])} |"
        f" {r['round_cpu_ratio']:.2f}x |",
    ]


def render_markdown(report: dict[str, Any]) -> str:
    p = report["parameters"]
    lines = [
        "# Packed Paillier benchmark",
        "",
        f"d = {p['d']:,} values per client, N = {p['n']} clients, {p['key_bits']}-bit key,"
        f" {p['cpus']} CPUs, Python {p['python']}, gmpy2 {p['gmpy2']}."
        + (" **Quick mode.**" if p["quick"] else ""),
        *(["", f"Machine: {p['note']}"] if p.get("note") else []),
        "",
        "Rows marked *extrapolated* were timed on a sample and scaled linearly to d values.",
        "Times are wall-clock seconds on a shared machine; the ratios come from the same run.",
        "",
        "| method | value bits | values/s per client | s/client encrypt (wall / CPU) |"
        " aggregator s | decryptor s | bytes/client | x naive (CPU) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    naive = report["naive"]["values_per_s"]
    naive_cpu = report["naive"]["values_per_cpu_s"]
    for row in [report["naive"], *report["packed"], *report.get("extra", [])]:
        if row.get("skipped"):
            lines.append(f"| {row['method']} | skipped: {row['skipped']} |||||||")
            continue
        name = row["method"] + (" *(extrapolated)*" if row.get("extrapolated_from") else "")
        lines.append(
            f"| {name} | {fmt(row.get('value_bits'))} | {fmt(row['values_per_s'])} |"
            f" {fmt(row['encrypt_s_per_client'])} / {fmt(row.get('encrypt_cpu_s_per_client'))} |"
            f" {fmt(row.get('aggregate_s'))} | {fmt(row.get('decrypt_s'))} |"
            f" {fmt(row.get('bytes_per_client'))} |"
            f" {fmt(row['values_per_cpu_s'] / naive_cpu)} |"
        )
    lines += ["", "## Encryption speed-ups at 16-bit values (one client)", ""]
    lines += ["| variant | s/client encrypt | values/s | x naive | note |", "|---|---|---|---|---|"]
    for row in report["variants"]:
        note = []
        if row.get("extrapolated_from"):
            note.append(f"extrapolated from {row['extrapolated_from']} ciphertexts")
        if "table_build_s" in row:
            note.append(f"table built once per key in {fmt(row['table_build_s'])} s")
        if "precompute_s_off_critical_path" in row:
            off_path = fmt(row["precompute_s_off_critical_path"])
            note.append(f"precomputation off the critical path: {off_path} s")
        lines.append(
            f"| {row['method']} | {fmt(row['encrypt_s_per_client'])} | {fmt(row['values_per_s'])} |"
            f" {fmt(row['values_per_s'] / naive)} | {'; '.join(note)} |"
        )
    if report.get("proofs"):
        lines += render_proofs(report["proofs"], p["n"])
    t = report["targets"]
    lines += [
        "",
        "## Targets",
        "",
        f"- 16-bit packed throughput vs naive phe: **{t['speedup_16']:.0f}x** CPU"
        f" ({t['speedup_16_wall']:.0f}x wall)"
        f" (target >= {SPEEDUP_TARGET:.0f}x): {'PASS' if t['speedup_pass'] else 'FAIL'}",
        "- full round CPU (N clients encrypt + aggregate + decrypt, 16-bit):"
        f" **{t['round_cpu_16']:.1f} s**"
        f" (target < {ROUND_CPU_TARGET:.0f} s at d = 1e5, N = 10): "
        + ("PASS" if t["round_pass"] else "FAIL")
        + ("" if t["full_size"] else " (quick mode: not the target size)"),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks paillier", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="d = 10 000, N = 3, small samples")
    parser.add_argument("--d", type=int, default=None, help="values per client (default 100 000)")
    parser.add_argument("--n", type=int, default=None, help="clients (default 10)")
    parser.add_argument(
        "--naive-sample", type=int, default=None, help="values timed with naive phe"
    )
    parser.add_argument("--workers", type=int, default=2, help="processes for parallel encryption")
    parser.add_argument("--no-tenseal", action="store_true", help="skip TenSEAL CKKS")
    parser.add_argument(
        "--note", default="", help="recorded with the results, e.g. what else loaded the machine"
    )
    args = parser.parse_args(argv)
    d = args.d or (10_000 if args.quick else 100_000)
    n = args.n or (3 if args.quick else 10)
    sample = args.naive_sample or (60 if args.quick else 300)
    import gmpy2

    print(f"paillier benchmark: d={d}, N={n}, naive sample={sample}", flush=True)
    kp, keygen_s, _ = timed(lambda: keygen(2048))
    xs = updates(d, n)
    naive = bench_naive(kp, d, n, sample)
    print(f"  naive phe: {naive['values_per_s']:.1f} values/s (sampled)", flush=True)
    packed = []
    for bits in (8, 16, 32):
        cfg = PaillierConfig(
            dimension=d, clip=1.0, max_clients=n, min_contributors=min(n, 3), value_bits=bits
        )
        row = run_round(kp, cfg, xs, label=f"secfl packed {bits}-bit")
        packed.append(row)
        rate, cpu = row["values_per_s"], row["round_cpu_s"]
        print(f"  packed {bits}-bit: {rate:.0f} values/s, round CPU {cpu:.1f} s", flush=True)
    cfg16 = PaillierConfig(
        dimension=d, clip=1.0, max_clients=n, min_contributors=min(n, 3), value_bits=16
    )
    signed = run_round(kp, cfg16, xs, signed=True, label="secfl packed 16-bit, signed inputs")
    packed.append(signed)
    cfg16_proofs = PaillierConfig(
        dimension=d,
        clip=1.0,
        max_clients=n,
        min_contributors=min(n, 3),
        value_bits=16,
        prove_inputs=True,
    )
    proved = run_round(
        kp, cfg16_proofs, xs, signed=True, label="secfl packed 16-bit, signed inputs + proofs"
    )
    packed.append(proved)
    proofs = {
        "rows": {"without": signed, "with": proved},
        "ratios": proof_ratios(signed, proved),
    }
    ratios = proofs["ratios"]
    print(
        f"  proofs: client {ratios['client_wall_ratio']:.2f}x,"
        f" decryptor {ratios['decryptor_ratio']:.2f}x, bytes {ratios['bytes_ratio']:.2f}x",
        flush=True,
    )
    extra = [] if args.no_tenseal else [bench_tenseal(d, n)]
    variants = bench_obfuscator_variants(kp, cfg16, xs[0], 30 if args.quick else 100, args.workers)
    row16 = packed[1]
    report = {
        "parameters": {
            "d": d,
            "n": n,
            "key_bits": 2048,
            "naive_sample": sample,
            "quick": bool(args.quick),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "gmpy2": gmpy2.version(),
            "keygen_s": keygen_s,
            "note": args.note,
        },
        "naive": naive,
        "packed": packed,
        "extra": extra,
        "variants": variants,
        "proofs": proofs,
        "targets": {
            "speedup_16": row16["values_per_cpu_s"] / naive["values_per_cpu_s"],
            "speedup_16_wall": row16["values_per_s"] / naive["values_per_s"],
            "speedup_pass": row16["values_per_cpu_s"] / naive["values_per_cpu_s"] >= SPEEDUP_TARGET,
            "round_cpu_16": row16["round_cpu_s"],
            "round_pass": row16["round_cpu_s"] < ROUND_CPU_TARGET,
            "full_size": d >= 100_000 and n >= 10,
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "paillier.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    markdown = render_markdown(report)
    (RESULTS / "paillier.md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
