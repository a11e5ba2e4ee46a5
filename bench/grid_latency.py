#!/usr/bin/env python3
"""Latency speed-up against MAC reduction for a grid's prune cells whose models are gone (bench/grid_restore.py
brings back records, not models). For a method that fixes the pruned structure when it prunes (the fine-tune
then only changes weight values, which a dense kernel's time does not depend on), the cell's own command is run
again from the same baseline with `--finetune-epochs 0`; the regenerated model's MACs and parameters must equal the
record's, value for value, or the cell is reported as differing and not timed. Methods that decide their structure
while training (SPP, complexity-aware, gRDA) cannot be regenerated this way and are refused.

Timing: background `lopper experiment`/`lopper train` processes are paused (SIGSTOP) while it measures and
resumed after; each cell runs `lopper latency` ROUNDS times (the pruned model and its dense source one after the
other in one process, median of timed repeats at batch 128), and keeps the smallest median of each side.

usage: bench/grid_latency.py SNAPSHOT_DIR LOPPER_DLL OUT_DIR [--methods l1,random,...] [--rounds 3] [--threads 2]
       bench/grid_latency.py --table LATENCY.json
writes OUT_DIR/latency.json and OUT_DIR/latency.md (per method and budget: MACs kept, each seed's speed-up and its
ratio to the MAC reduction, speed-up x MACs kept); --table prints that Markdown table again from a latency.json.
"""
import argparse
import json
import os
import platform
import signal
import subprocess
import sys
from datetime import datetime, timezone

AT_PRUNE_TIME = {"l1", "random", "snacs", "srinit", "magnitude", "bn-slimming"}


def lopper(dll, args, **kw):
    return subprocess.run(["dotnet", dll, *args], capture_output=True, text=True, **kw)


def regenerate(dll, cell, out):
    run_json = os.path.join(out, "run.json")
    if not os.path.isfile(run_json):
        args = list(cell["args"])
        args[args.index("--out") + 1] = out
        args[args.index("--finetune-epochs") + 1] = "0"
        r = lopper(dll, args)
        if r.returncode != 0:
            return f"prune failed (rc {r.returncode}): {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ''}"
    with open(run_json) as f:
        run = json.load(f)
    for field in ("macs_after", "params_after"):
        if run.get(field) != cell[field]:
            return f"{field} {run.get(field)} differs from the record's {cell[field]}"
    return None


def paused_background():
    pids = subprocess.run(["pgrep", "-f", r"lopper.dll (experiment|train)"], capture_output=True, text=True).stdout.split()
    return [int(p) for p in pids]


def table(record):
    groups = {}
    for r in record["cells"]:
        if "speedup" in r:
            groups.setdefault((r["label"], r["budget"]), []).append(r)
    lines = [f"Re-measured {record['utc']} ({record['lopper']}; {record['cpu']}, {record['cores']} cores, "
             f"{record['threads']} threads, batch {record['batch']}, best of {record['rounds']} rounds; background runs paused)",
             "",
             "| method | budget | MACs kept (%) | speed-up per seed | speed-up / MAC reduction per seed | mean |",
             "|---|---|---|---|---|---|"]
    for (label, budget), rows in groups.items():
        rows.sort(key=lambda r: r["seed"])
        lines.append(f"| {label} | {budget} | {100 * sum(r['macs_kept'] for r in rows) / len(rows):.1f} | "
                     + " / ".join(f"{r['speedup']:.2f}x (s{r['seed']})" for r in rows) + " | "
                     + " / ".join(f"{r['ratio']:.2f}" for r in rows) + f" | {sum(r['ratio'] for r in rows) / len(rows):.2f} |")
    return "\n".join(lines) + "\n"


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--table":
        with open(sys.argv[2]) as f:
            sys.stdout.write(table(json.load(f)))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("snapshot")
    ap.add_argument("dll")
    ap.add_argument("out")
    ap.add_argument("--methods", default="l1,random,snacs,srinit,bn-slimming")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    methods = a.methods.split(",")
    refused = [m for m in methods if m not in AT_PRUNE_TIME]
    if refused:
        sys.exit(f"--methods: {', '.join(refused)} decide their structure while training; only {', '.join(sorted(AT_PRUNE_TIME))} can be regenerated")
    with open(os.path.join(a.snapshot, "results.json")) as f:
        results = json.load(f)
    cells = [c for c in results["cells"] if c["status"] == "ok" and c["kind"] == "prune" and c["method"] in methods]
    os.makedirs(a.out, exist_ok=True)
    rows = []
    for c in cells:
        d = os.path.join(a.out, c["id"])
        problem = regenerate(a.dll, c, d)
        print(f"{c['id']}: {'regenerated, MACs and parameters equal the record' if problem is None else problem}", flush=True)
        rows.append({"id": c["id"], "label": c["label"], "budget": c["budget"], "seed": c["seed"], "dir": d,
                     "macs_kept": c["macs_after"] / c["macs_before"], "problem": problem})
    pids = paused_background()
    for p in pids:
        os.kill(p, signal.SIGSTOP)
    try:
        lopper(a.dll, ["latency", "--from", rows[0]["dir"], "--batch", "128", "--threads", str(a.threads)])  # warm-up
        for r in rows:
            if r["problem"] is not None:
                continue
            best_model = best_dense = float("inf")
            for _ in range(a.rounds):
                p = lopper(a.dll, ["latency", "--from", r["dir"], "--batch", "128", "--threads", str(a.threads), "--json"])
                res = json.loads(p.stdout)["results"][0]
                best_model = min(best_model, res["compacted"]["median_ms"])
                best_dense = min(best_dense, res["dense"]["median_ms"])
            r.update(ms=best_model, dense_ms=best_dense, speedup=best_dense / best_model)
            r["ratio"] = r["speedup"] * r["macs_kept"]
            print(f"{r['id']:45s} MACs {100 * r['macs_kept']:5.1f} %  {best_dense:6.2f} -> {best_model:6.2f} ms  "
                  f"speed-up {r['speedup']:5.2f}x  ratio {r['ratio']:.3f}", flush=True)
    finally:
        for p in pids:
            os.kill(p, signal.SIGCONT)
    version = lopper(a.dll, ["--version"]).stdout.strip()
    record = {"utc": datetime.now(timezone.utc).isoformat(timespec="seconds"), "lopper": version,
              "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), ""),
              "cores": os.cpu_count(), "threads": a.threads, "batch": 128, "rounds": a.rounds,
              "machine": platform.platform(), "paused_background_pids": pids, "cells": rows}
    with open(os.path.join(a.out, "latency.json"), "w") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
    with open(os.path.join(a.out, "latency.md"), "w") as f:
        f.write(table(record))


if __name__ == "__main__":
    main()
