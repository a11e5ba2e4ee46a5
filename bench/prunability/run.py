#!/usr/bin/python3
"""The prunability benchmark: every torchvision 0.14 classification model through Lopper and ONNX Runtime.

For each model: export it from PyTorch (export_model.py), `lopper import`, `lopper inspect`,
`lopper prune l1 --target-macs 0.5 --finetune-epochs 0 --latency-batch 1` (data-free), `lopper export`, `lopper onnx-check`
(Lopper vs ONNX Runtime on a seeded random batch: the imported model against PyTorch's own file, the pruned
model against its export), and `lopper latency --runtime ort` (dense and pruned exports timed in ONNX Runtime,
batch 1, three times, median speed-up). One markdown row per model, time-boxed (--budget seconds per model, export included); a model that
runs over is recorded as a time-out at the step it reached.

Usage: /usr/bin/python3 bench/prunability/run.py [--budget 150] [--stop-at HH:MM (UTC)] [--only a,b] [--round-to 16] [--out FILE]
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# LOPPER overrides the CLI (a copy, so rebuilding the tree during a run does not swap it out mid-run).
LOPPER = os.environ.get("LOPPER") or os.path.join(ROOT, "src", "Lopper.Cli", "bin", "Release", "net10.0", "lopper")

# Cheapest first, so a time-limited run covers as many families as it can; the huge ones last.
ORDER = """squeezenet1_1 squeezenet1_0 shufflenet_v2_x0_5 mnasnet0_5 mobilenet_v3_small mobilenet_v2 shufflenet_v2_x1_0
mnasnet0_75 mobilenet_v3_large mnasnet1_0 regnet_x_400mf regnet_y_400mf efficientnet_b0 resnet18 alexnet googlenet
shufflenet_v2_x1_5 mnasnet1_3 regnet_x_800mf regnet_y_800mf shufflenet_v2_x2_0 efficientnet_b1 densenet121 resnet34
efficientnet_b2 resnet50 regnet_x_1_6gf regnet_y_1_6gf inception_v3 convnext_tiny vit_b_32 swin_t maxvit_t
efficientnet_b3 efficientnet_v2_s densenet169 densenet201 resnext50_32x4d regnet_x_3_2gf regnet_y_3_2gf vgg11 vgg11_bn
resnet101 densenet161 efficientnet_b4 wide_resnet50_2 convnext_small vgg13 vgg13_bn resnet152 regnet_x_8gf regnet_y_8gf
vgg16 vgg16_bn efficientnet_v2_m vgg19 vgg19_bn efficientnet_b5 convnext_base swin_s swin_v2_t vit_b_16 swin_b swin_v2_s
regnet_x_16gf regnet_y_16gf efficientnet_b6 resnext101_32x8d resnext101_64x4d wide_resnet101_2 efficientnet_v2_l
efficientnet_b7 convnext_large swin_v2_b regnet_x_32gf regnet_y_32gf vit_l_32 vit_l_16 vit_h_14 regnet_y_128gf""".split()


class Stop(Exception):
    def __init__(self, step, reason):
        super().__init__(reason)
        self.step, self.reason = step, reason


def one_line(text):
    lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
    line = lines[-1] if lines else "no output"
    return line.replace("|", "/")[:220]


def run(step, cmd, deadline, log):
    left = deadline - time.time()
    if left <= 1:
        raise Stop(step, f"time-out before {step}")
    t = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=left)
    except subprocess.TimeoutExpired:
        raise Stop(step, f"time-out in {step} (budget spent)")
    log.write(f"$ {' '.join(cmd)}  [{time.time() - t:.1f}s, rc {p.returncode}]\n{p.stdout}{p.stderr}\n")
    log.flush()
    return p


def model_row(name, work, budget, round_to=None):
    os.makedirs(work, exist_ok=True)
    deadline = time.time() + budget
    onnx = os.path.join(work, "torch.onnx")
    dense, pruned = os.path.join(work, "dense"), os.path.join(work, "pruned")
    r = {"model": name, "imported": "", "pruned": "", "match": "", "macs": "", "speedup": "", "note": ""}
    with open(os.path.join(work, "log.txt"), "w") as log:
        try:
            p = run("export", [sys.executable, os.path.join(HERE, "export_model.py"), name, onnx], deadline, log)
            if p.returncode != 0:
                raise Stop("export", "PyTorch export failed: " + one_line(p.stderr))
            if "re-initialised" in p.stdout:
                r["reinit"] = True
            p = run("import", [LOPPER, "import", onnx, "--out", dense], deadline, log)
            r["imported"] = "yes" if p.returncode == 0 else "no"
            if p.returncode != 0:
                raise Stop("import", one_line(p.stderr or p.stdout))
            p = run("inspect", [LOPPER, "inspect", "--from", dense, "--json"], deadline, log)
            if p.returncode != 0:
                raise Stop("inspect", one_line(p.stderr or p.stdout))
            p = run("check dense", [LOPPER, "onnx-check", "--from", dense, "--onnx", onnx, "--json"], deadline, log)
            dense_ok = p.returncode == 0
            dense_err = json.loads(p.stdout)["max_relative_error"] if p.stdout.strip().startswith("{") else None
            if dense_err is None:
                raise Stop("check dense", one_line(p.stderr or p.stdout))
            if json.loads(p.stdout).get("degenerate"):
                raise Stop("check dense", "the randomly initialised model's outputs do not depend on the input, so no comparison is possible")
            p = run("prune", [LOPPER, "prune", "l1", "--from", dense, "--target-macs", "0.5", "--finetune-epochs", "0", "--latency-batch", "1", "--out", pruned, "--json"]
                    + (["--round-to", str(round_to)] if round_to else []), deadline, log)
            r["pruned"] = "yes" if p.returncode == 0 else "no"
            if p.returncode == 0:
                rec = json.loads(p.stdout)
                r["macs"] = f"{100 * rec['macs_after'] / rec['macs_before']:.0f}%"
            if p.returncode != 0:
                r["match"] = f"dense {dense_err:.0e}" + ("" if dense_ok else " MISMATCH")
                raise Stop("prune", one_line(p.stderr or p.stdout))
            out = os.path.join(work, "pruned.onnx")
            p = run("export", [LOPPER, "export", pruned, "--onnx", out], deadline, log)
            if p.returncode != 0:
                raise Stop("lopper export", one_line(p.stderr or p.stdout))
            p = run("check pruned", [LOPPER, "onnx-check", "--from", pruned, "--onnx", out, "--json"], deadline, log)
            pruned_ok = p.returncode == 0
            pruned_err = json.loads(p.stdout)["max_relative_error"] if p.stdout.strip().startswith("{") else float("nan")
            r["match"] = ("yes" if dense_ok and pruned_ok else "NO") + f" ({dense_err:.0e} / {pruned_err:.0e})"
            # The CPU is shared: three pruned-then-dense measurements, and the one with the median speed-up is reported.
            runs = []
            for _ in range(3):
                p = run("latency", [LOPPER, "latency", "--from", pruned, "--runtime", "ort", "--batch", "1", "--repeats", "10", "--threads", "2", "--json"], deadline, log)
                if p.returncode != 0:
                    raise Stop("latency", one_line(p.stderr or p.stdout))
                runs.append(json.loads(p.stdout)["results"][0])
            runs.sort(key=lambda res: res["speedup"])
            res = runs[1]
            r["speedup"] = f"{res['speedup']:.2f}x ({res['dense']['median_ms']:.1f} -> {res['compacted']['median_ms']:.1f} ms)"
            r["ok"] = dense_ok and pruned_ok
        except Stop as s:
            r["note"] = f"{s.step}: {s.reason}"
            r["ok"] = False
            if s.reason.startswith("time-out"):
                r["timeout"] = True
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=150)
    ap.add_argument("--stop-at", default=None, help="UTC HH:MM after which no new model starts")
    ap.add_argument("--only", default=None)
    ap.add_argument("--round-to", type=int, default=None, help="pass --round-to N to prune (channel counts in multiples of N)")
    ap.add_argument("--work", default="/tmp/lopper-prunability")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", f"prunability-{datetime.date.today().isoformat()}.md"))
    a = ap.parse_args()
    names = a.only.split(",") if a.only else ORDER
    stop = None
    if a.stop_at:
        h, m = map(int, a.stop_at.split(":"))
        now = datetime.datetime.now(datetime.timezone.utc)
        stop = now.replace(hour=h, minute=m, second=0, microsecond=0).timestamp()
    head = ["| model | imported | pruned | ORT matches Lopper (dense vs PyTorch's file / pruned vs its export) | MACs kept | ORT speed-up, batch 1 | stopped at |",
            "|---|---|---|---|---|---|---|"]
    rows, results = [], []
    started = time.time()
    for name in names:
        if stop and time.time() > stop:
            rows.append(f"| {name} | | | | | | not run: the benchmark's time ran out |")
            results.append({"model": name, "ok": False, "not_run": True})
            continue
        t = time.time()
        r = model_row(name, os.path.join(a.work, name), a.budget, a.round_to)
        r["seconds"] = time.time() - t
        results.append(r)
        note = r["note"] + (" (Kaiming re-init: with the default init the logits do not depend on the input)" if r.get("reinit") else "")
        rows.append(f"| {name} | {r['imported']} | {r['pruned']} | {r['match']} | {r['macs']} | {r['speedup']} | {note} |")
        print(rows[-1], flush=True)
        write(a.out, head, rows, results, a.budget, started)
    write(a.out, head, rows, results, a.budget, started)


def write(path, head, rows, results, budget, started):
    run_ = [r for r in results if not r.get("not_run")]
    ok = sum(1 for r in run_ if r.get("ok"))
    imported = sum(1 for r in run_ if r.get("imported") == "yes")
    pruned = sum(1 for r in run_ if r.get("pruned") == "yes")
    cnn = [r for r in run_ if not r["model"].startswith(("vit_", "swin_", "maxvit"))]
    cnn_ok = sum(1 for r in cnn if r.get("ok"))
    timeouts = sum(1 for r in run_ if r.get("timeout"))
    summary = (f"**Summary**: {ok} of {len(run_)} models run ({len(results)} listed) import, prune to 50% MACs, export and match ONNX Runtime "
               f"(imported {imported}, pruned {pruned}, time-outs {timeouts}); convolutional models: {cnn_ok} of {len(cnn)}.")
    with open(path, "w") as f:
        f.write(f"# Prunability of torchvision 0.14 classification models ({datetime.date.today().isoformat()})\n\n")
        f.write("Random weights (seed 0), 224x224 (299 for inception_v3), ONNX opset 13 with a dynamic batch, exported by "
                "torch 1.13 (Debian). L1 channel pruning to 50% of MACs without data or fine-tuning. Matching: largest "
                "|difference| over the largest output <= 1e-4 on a seeded random batch of 2. Speed-up: ONNX Runtime 1.32, "
                f"batch 1, 2 threads, dense export vs pruned export, median over >= 10 runs (>= 1 s) each, the median of three such speed-ups, on a 2-core CPU shared with other jobs (expect +-30% noise). Budget {budget:.0f} s per model "
                f"(export included); wall time {(time.time() - started) / 60:.0f} min. Reproduce: `/usr/bin/python3 bench/prunability/run.py`.\n\n")
        f.write("\n".join(head + rows) + "\n\n" + summary + "\n")


if __name__ == "__main__":
    main()
