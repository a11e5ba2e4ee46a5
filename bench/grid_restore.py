#!/usr/bin/env python3
"""Puts a committed grid snapshot (bench/grid_snapshot.py's output) back into an experiment's out folder, so that
`lopper experiment` skips the cells the snapshot records as finished and runs only the rest. For a machine whose
run folders are gone: the records survive in git, the models do not.

usage: bench/grid_restore.py SNAPSHOT_DIR RUN_DIR

The prune cells need the dense baseline's model. Where the snapshot has it (SNAPSHOT_DIR/baseline-model, a run
folder) and RUN_DIR/baseline has none, it is copied there. Otherwise train it again into RUN_DIR/baseline with the
command in the snapshot's baseline.run.json, using the build that trained it (training is seeded and deterministic
per build and thread count). Either way the baseline's run.json epoch history is compared with the snapshot's, value
for value, and only when they are identical is the baseline's cell.json written, so cells are never fine-tuned from
a different dense model than the one the records came from. A restored cell has its cell.json, and its model where the snapshot
kept one (grid_snapshot.py --models); `lopper experiment --remeasure-latency` skips a cell without a model and says so.
"""
import json
import os
import shutil
import sys

HISTORY_FIELDS = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")


def load(path):
    with open(path) as f:
        return json.load(f)


def history_mismatch(old_run, new_run):
    """The first difference between two training records' epoch histories, or None when they are identical."""
    if new_run.get("epochs_completed") != old_run["epochs_completed"]:
        return f"field 'epochs_completed' is {new_run.get('epochs_completed')}, the snapshot's baseline ran {old_run['epochs_completed']}"
    for old, new in zip(old_run["history"], new_run["history"]):
        for field in HISTORY_FIELDS:
            if old[field] != new[field]:
                return f"epoch {old['epoch']} field '{field}' is {new[field]!r}, the snapshot's is {old[field]!r}"
    return None


def copy_folder(src, dst):
    os.makedirs(dst, exist_ok=True)
    for name in sorted(os.listdir(src)):
        shutil.copyfile(os.path.join(src, name), os.path.join(dst, name))


def write_atomic(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip())
    snap, run = sys.argv[1], sys.argv[2]
    results = load(os.path.join(snap, "results.json"))
    if not results["baseline"].get("trained", True):
        # A side grid (`baseline: from:` another grid's folder) has no baseline of its own: restore that grid first.
        print(f"{restore_cells(snap, run, results)} cell records restored into {run}/cells "
              f"(the baseline is {results['baseline']['dir']}, relative to {run})")
        return
    old_run = load(os.path.join(snap, "baseline.run.json"))
    new_run_path = os.path.join(run, "baseline", "run.json")
    committed = os.path.join(snap, "baseline-model")
    if not os.path.isfile(new_run_path) and os.path.isdir(committed):
        copy_folder(committed, os.path.join(run, "baseline"))
    if not os.path.isfile(new_run_path):
        sys.exit(f"{new_run_path}: not found; train the baseline first: {old_run['command']}")
    new_run = load(new_run_path)
    if (problem := history_mismatch(old_run, new_run)) is not None:
        sys.exit(f"{new_run_path}: {problem}: not the same dense model, nothing restored")
    base = results["baseline"]
    args = old_run["command"].split()[1:]  # the runner's own baseline arguments, as it recorded them
    baseline_cell = {
        "id": "baseline", "label": "baseline", "method": "sgd", "kind": "train", "budget_flag": None, "budget": None,
        "seed": old_run["seed"], "epochs": base["epochs"], "status": "ok", "error": None, "dir": base["dir"],
        "source": base["dir"], "model": base["dir"], "accuracy_before": None,
        "accuracy_pruned": new_run["test_accuracy"], "accuracy_finetuned": new_run["test_accuracy"],
        "params_before": new_run["params"], "params_after": new_run["params"],
        "macs_before": new_run["macs"], "macs_after": new_run["macs"],
        "latency_batch": None, "latency_ms_before": None, "latency_ms_after": None,
        "seconds": {"total": base["seconds"]}, "args": args,
    }
    write_atomic(os.path.join(run, "baseline", "cell.json"), baseline_cell)
    restored = restore_cells(snap, run, results)
    print(f"baseline verified ({len(old_run['history'])} epochs identical, test accuracy {new_run['test_accuracy']}); "
          f"{restored} cell records restored into {run}/cells")


def restore_cells(snap, run, results):
    restored = 0
    for cell in results["cells"]:
        src = os.path.join(snap, "cells", cell["id"] + ".cell.json")
        row = load(src) if os.path.isfile(src) else cell
        if row != cell:
            sys.exit(f"{src}: differs from its row in {snap}/results.json; take a fresh snapshot")
        dst = os.path.join(run, "cells", cell["id"], "cell.json")
        if os.path.exists(dst):
            continue
        write_atomic(dst, row)
        restored += 1
        # A model the snapshot kept (grid_snapshot.py --models) goes back where the record says it was.
        saved = os.path.join(snap, "models", cell["id"])
        if os.path.isdir(saved):
            copy_folder(saved, os.path.join(run, row["model"]))
    return restored


if __name__ == "__main__":
    main()
