#!/usr/bin/env python3
"""Latency speed-up against MAC reduction for a grid's prune cells whose models are gone (bench/grid_restore.py
brings back records, not models). For a method that fixes the pruned structure before its fine-tune (the fine-tune
then only changes weight values, which a dense kernel's time does not depend on), the cell's own command is run
again from the same baseline with `--finetune-epochs 0` (complexity-aware still runs its gate epochs and fold); the
regenerated model's MACs and parameters must equal the record's, value for value, or the cell is reported as
differing and not timed. SPP prunes during its fine-tune and gRDA while it trains: those cells cannot be
regenerated without running them again, and are refused unless --models DIR holds their models, made by running the
cell's own command again with --out DIR/<cell id> (an SPP cell's structure is fixed before its fine-tune starts, so
its folder after the first fine-tune epoch will do); such a model is timed only if `lopper inspect` gives the
record's MACs and parameters, value for value. Every cell is timed against the model its command started from
(`lopper latency --dense`), the grid's dense baseline: a train cell's compacted model (gRDA) names none itself.

Timing: background `lopper experiment`/`lopper train` processes are paused (SIGSTOP) while it measures and
resumed after; every round runs `lopper latency` once per cell (the pruned model and its dense source one after the
other in one process, median of timed repeats at batch 128), the rounds one after the other over all cells, so a
cell's rounds are minutes apart and a slow spell of the host lands on one of them, not all; each side keeps its
smallest median.

usage: bench/grid_latency.py SNAPSHOT_DIR LOPPER_DLL OUT_DIR [--methods l1,random,...] [--rounds 3] [--threads 2]
                             [--write-records RUN_DIR] [--models DIR]
       bench/grid_latency.py --table LATENCY.json
       bench/grid_latency.py --write-records RUN_DIR LATENCY.json

--write-records puts the re-measured latencies into RUN_DIR/cells/<id>/cell.json (latency_ms_before/after and the
threads they were timed with, latency_threads; nothing else) for the cells it timed; the runner's next results.json
(after a cell, or --remeasure-latency) carries them.
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

AT_PRUNE_TIME = {"l1", "random", "snacs", "srinit", "magnitude", "bn-slimming", "complexity-aware"}


def lopper(dll, args, **kw):
    return subprocess.run(["dotnet", dll, *args], capture_output=True, text=True, **kw)


def cell_command(cell, out, threads, finetune_epochs=None):
    """The cell's recorded command with its output in `out`, on the grid's thread count (another one sums in another
    order, and a method that trains, complexity-aware's gates or gRDA, can then end on another structure)."""
    args = list(cell["args"])
    args[args.index("--out") + 1] = out
    if finetune_epochs is not None:
        args[args.index("--finetune-epochs") + 1] = str(finetune_epochs)
    return [*args, "--threads", str(threads)]


def model_mismatch(dll, cell, d):
    """Why the model folder d is not the cell's recorded model (MACs and parameters, as `lopper inspect` counts
    them), or None when it is."""
    if not os.path.isfile(os.path.join(d, "model.json")):
        return f"no model in {d}"
    p = lopper(dll, ["inspect", "--from", d, "--json"])
    if p.returncode != 0:
        return f"inspect failed (rc {p.returncode})"
    info = json.loads(p.stdout)
    # A train cell's record counts the nonzero parameters left (gRDA zeros values inside the channels it keeps).
    for field, key in (("macs_after", "macs"), ("params_after", "nonzero_params" if cell["kind"] == "train" else "params")):
        if info[key] != cell[field]:
            return f"{field} {info[key]} differs from the record's {cell[field]}"
    return None


def rerun_dir(models, cell):
    """Where a training-time cell run again into models/<id> keeps its model (the record's model path below the
    cell's folder, e.g. compacted/)."""
    return os.path.join(models, cell["id"], *cell["model"].split("/")[2:])


def regenerate(dll, cell, out, threads):
    run_json = os.path.join(out, "run.json")
    if not os.path.isfile(run_json):
        r = lopper(dll, cell_command(cell, out, threads, finetune_epochs=0))
        if r.returncode != 0:
            return f"prune failed (rc {r.returncode}): {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ''}"
    with open(run_json) as f:
        run = json.load(f)
    for field in ("macs_after", "params_after"):
        if run.get(field) != cell[field]:
            return f"{field} {run.get(field)} differs from the record's {cell[field]}"
    return None


def paused_background():
    pids = subprocess.run(["pgrep", "-f", r"lopper.dll (experiment|train|prune|finetune)"], capture_output=True, text=True).stdout.split()
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


def write_records(run_dir, record):
    written = 0
    for r in record["cells"]:
        if "speedup" not in r:
            continue
        path = os.path.join(run_dir, "cells", r["id"], "cell.json")
        with open(path) as f:
            cell = json.load(f)
        if cell["latency_batch"] != record["batch"]:
            sys.exit(f"{path}: field 'latency_batch' is {cell['latency_batch']}, the re-measure used {record['batch']}")
        cell["latency_ms_before"], cell["latency_ms_after"] = r["dense_ms"], r["ms"]
        cell["latency_threads"] = record["threads"]
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(cell, f, indent=2)
        os.replace(tmp, path)
        written += 1
    print(f"{written} cell records in {run_dir}/cells carry the re-measured latencies")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--table":
        with open(sys.argv[2]) as f:
            sys.stdout.write(table(json.load(f)))
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--write-records":
        with open(sys.argv[3]) as f:
            write_records(sys.argv[2], json.load(f))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("snapshot")
    ap.add_argument("dll")
    ap.add_argument("out")
    ap.add_argument("--methods", default="l1,random,snacs,srinit,bn-slimming,complexity-aware")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--write-records", metavar="RUN_DIR")
    ap.add_argument("--models", metavar="DIR", help="models of training-time cells run again (see above)")
    a = ap.parse_args()
    methods = a.methods.split(",")
    refused = [m for m in methods if m not in AT_PRUNE_TIME and a.models is None]
    if refused:
        sys.exit(f"--methods: {', '.join(refused)} decide their structure while training; only {', '.join(sorted(AT_PRUNE_TIME))} can be regenerated")
    with open(os.path.join(a.snapshot, "results.json")) as f:
        results = json.load(f)
    cells = [c for c in results["cells"] if c["status"] == "ok" and c["method"] in methods
             and (c["kind"] == "prune" or c["method"] not in AT_PRUNE_TIME)]
    os.makedirs(a.out, exist_ok=True)
    rows = []
    for c in cells:
        if c["method"] in AT_PRUNE_TIME and c["kind"] == "prune":
            d = os.path.join(a.out, c["id"])
            problem, done = regenerate(a.dll, c, d, results["threads"]), "regenerated"
        else:
            d = rerun_dir(a.models, c)
            problem, done = model_mismatch(a.dll, c, d), "run again"
        print(f"{c['id']}: {done + ', MACs and parameters equal the record' if problem is None else problem}", flush=True)
        # Every cell is timed against the model its command started from (the grid's dense baseline); a train cell's
        # compacted model has no run record naming it.
        dense = c["args"][c["args"].index("--from") + 1]
        rows.append({"id": c["id"], "label": c["label"], "budget": c["budget"], "seed": c["seed"], "dir": d, "dense": dense,
                     "macs_kept": c["macs_after"] / c["macs_before"], "problem": problem})
    pids = paused_background()
    for p in pids:
        os.kill(p, signal.SIGSTOP)
    try:
        timed = [r for r in rows if r["problem"] is None]
        for r in timed:
            r.update(ms=float("inf"), dense_ms=float("inf"))
        for k in range(a.rounds):
            for r in timed:
                p = lopper(a.dll, ["latency", "--from", r["dir"], "--dense", r["dense"], "--batch", "128", "--threads", str(a.threads), "--json"])
                if p.returncode != 0:
                    sys.exit(f"{r['dir']}: lopper latency failed (rc {p.returncode}): {p.stderr.strip()}")
                res = json.loads(p.stdout)["results"][0]
                r["ms"] = min(r["ms"], res["compacted"]["median_ms"])
                r["dense_ms"] = min(r["dense_ms"], res["dense"]["median_ms"])
            print(f"round {k + 1} of {a.rounds} done", flush=True)
        for r in timed:
            r["speedup"] = r["dense_ms"] / r["ms"]
            r["ratio"] = r["speedup"] * r["macs_kept"]
            print(f"{r['id']:45s} MACs {100 * r['macs_kept']:5.1f} %  {r['dense_ms']:6.2f} -> {r['ms']:6.2f} ms  "
                  f"speed-up {r['speedup']:5.2f}x  ratio {r['ratio']:.3f}", flush=True)
    finally:
        for p in pids:
            os.kill(p, signal.SIGCONT)
    version = lopper(a.dll, ["--version"]).stdout.strip()
    record = {"utc": datetime.now(timezone.utc).isoformat(timespec="seconds"), "lopper": version,
              "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), ""),
              "cores": os.cpu_count(), "threads": a.threads, "batch": 128, "rounds": a.rounds,
              "machine": platform.platform(), "paused_background_pids": pids, "models": a.models, "cells": rows}
    with open(os.path.join(a.out, "latency.json"), "w") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
    with open(os.path.join(a.out, "latency.md"), "w") as f:
        f.write(table(record))
    if a.write_records:
        write_records(a.write_records, record)


if __name__ == "__main__":
    main()
