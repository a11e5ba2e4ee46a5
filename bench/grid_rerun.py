#!/usr/bin/env python3
"""Runs a grid's training-time cells again (SPP, gRDA) to bring back their models for timing, from the snapshot's
records: each cell's own command with --out OUT_DIR/<cell id>, from the same baseline and seed. Same build, seed and
thread count give the same model, so the MACs and parameters must equal the record's (checked here, and again by
bench/grid_latency.py --models OUT_DIR before it times them).

An SPP cell fixes its structure when its probabilistic phase ends ("pruned: ..."), before its fine-tune; with
--structure-only its run is stopped once the first fine-tune epoch's checkpoint has written the model, which is all
timing needs (the fine-tune changes weight values, not which ones are zero). gRDA decides its structure while it
trains and always runs to the end.

usage: bench/grid_rerun.py SNAPSHOT_DIR LOPPER_DLL OUT_DIR CELL_ID [CELL_ID ...] [--structure-only]
  run from the repository root (the records' paths are relative to it); a log per cell in OUT_DIR/<cell id>.log.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

from grid_latency import cell_command, model_mismatch, rerun_dir


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("snapshot")
    ap.add_argument("dll")
    ap.add_argument("out")
    ap.add_argument("cells", nargs="+")
    ap.add_argument("--structure-only", action="store_true")
    a = ap.parse_args()
    with open(os.path.join(a.snapshot, "results.json")) as f:
        results = json.load(f)
    records = {c["id"]: c for c in results["cells"]}
    missing = [c for c in a.cells if c not in records]
    if missing:
        sys.exit(f"{a.snapshot}/results.json: no cell {', '.join(missing)}")
    os.makedirs(a.out, exist_ok=True)
    failed = 0
    for cid in a.cells:
        rec = records[cid]
        out = os.path.join(a.out, cid)
        if os.path.exists(out):
            shutil.rmtree(out)
        log_path = out + ".log"
        started = time.time()
        with open(log_path, "w") as log:
            p = subprocess.Popen(["dotnet", a.dll, *cell_command(rec, out, results["threads"])], stdout=log, stderr=subprocess.STDOUT)
            if a.structure_only and rec["method"] == "spp":
                # The SPP phase prints its own "epoch k/n" progress: wait for its end and the first checkpoint.
                while p.poll() is None:
                    time.sleep(5)
                    with open(log_path) as f:
                        pruned = "pruned:" in f.read()
                    if pruned and os.path.isdir(os.path.join(out, "checkpoints", "000001")):
                        time.sleep(10)
                        p.kill()
                        break
            p.wait()
        problem = model_mismatch(a.dll, rec, rerun_dir(a.out, rec))
        failed += problem is not None
        print(f"{cid}: {time.time() - started:.0f} s, {'MACs and parameters equal the record' if problem is None else problem}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
