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
        args = list(rec["args"])
        out = os.path.join(a.out, cid)
        args[args.index("--out") + 1] = out
        # The grid's thread count: another one sums in another order and trains another model.
        args += ["--threads", str(results["threads"])]
        if os.path.exists(out):
            shutil.rmtree(out)
        log_path = out + ".log"
        started = time.time()
        with open(log_path, "w") as log:
            p = subprocess.Popen(["dotnet", a.dll, *args], stdout=log, stderr=subprocess.STDOUT)
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
        model = os.path.join(out, *rec["model"].split("/")[2:])
        info = subprocess.run(["dotnet", a.dll, "inspect", "--from", model, "--json"], capture_output=True, text=True)
        got = json.loads(info.stdout) if info.returncode == 0 else {}
        # A train cell's record counts the nonzero parameters left (gRDA zeros values inside the channels it keeps).
        params = got.get("nonzero_params" if rec["kind"] == "train" else "params")
        same = got.get("macs") == rec["macs_after"] and params == rec["params_after"]
        failed += not same
        print(f"{cid}: {time.time() - started:.0f} s, MACs {got.get('macs')} / record {rec['macs_after']}, "
              f"parameters {params} / record {rec['params_after']}: {'equal' if same else 'DIFFERENT'}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
