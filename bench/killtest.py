#!/usr/bin/env python3
"""kill -9 campaign against `lopper train` checkpointing (issue 22).

Trains a tiny LeNet-5 run uninterrupted once, then repeatedly starts the same run, SIGKILLs it (at random times,
and targeted: the moment a checkpoint's temporary folder, a replaced folder or a temporary file appears, i.e. inside
a checkpoint switch), resumes it with `lopper train --resume`, and kills again, until it completes. Every completed
run's final weights (and its newest checkpoint's weights) must equal the uninterrupted run's byte for byte, and
every killed folder must be resumable (a resume may only refuse when no epoch had finished yet, in which case the run
restarts from scratch).

usage: bench/killtest.py [--kills 100] [--epochs 4] [--seed 1] [--lopper src/Lopper.Cli/bin/Release/net10.0/lopper.dll]
"""
import argparse, gzip, json, os, random, shutil, signal, struct, subprocess, sys, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument("--kills", type=int, default=100)
ap.add_argument("--epochs", type=int, default=4)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--lopper", default="src/Lopper.Cli/bin/Release/net10.0/lopper.dll")
args = ap.parse_args()
rng = random.Random(args.seed)
work = tempfile.mkdtemp(prefix="lopper-killtest-")
lopper = ["dotnet", os.path.abspath(args.lopper)]


def write_data(d, train, test):
    os.makedirs(d)
    for prefix, n in (("train", train), ("t10k", test)):
        pixels = bytearray(n * 784)
        for i in range(n):
            for p in range(784):
                pixels[i * 784 + p] = 200 if (p // 28) // 3 == i % 10 else (p * 7 + i) % 50
        labels = bytes(i % 10 for i in range(n))
        with gzip.open(os.path.join(d, f"{prefix}-images-idx3-ubyte.gz"), "wb") as f:
            f.write(struct.pack(">iiii", 0x803, n, 28, 28) + bytes(pixels))
        with gzip.open(os.path.join(d, f"{prefix}-labels-idx1-ubyte.gz"), "wb") as f:
            f.write(struct.pack(">ii", 0x801, n) + labels)


data = os.path.join(work, "data")
write_data(data, 160, 40)


def train_cmd(out):
    return lopper + ["train", "--model", "lenet5", "--epochs", str(args.epochs), "--batch-size", "20", "--data", data,
                     "--out", out, "--threads", "1", "--seed", "3", "--json"]


def resume_cmd(out):
    return lopper + ["train", "--resume", out, "--threads", "1", "--json"]


def final_weights(out):
    with open(os.path.join(out, "weights.safetensors"), "rb") as f:
        top = f.read()
    with open(os.path.join(out, "checkpoints", f"{args.epochs:06d}", "weights.safetensors"), "rb") as f:
        cp = f.read()
    return top, cp


ref = os.path.join(work, "ref")
t0 = time.time()
r = subprocess.run(train_cmd(ref), capture_output=True, text=True)
if r.returncode != 0:
    sys.exit(f"reference run failed: {r.stderr}")
ref_seconds = time.time() - t0
ref_top, ref_cp = final_weights(ref)
assert ref_top == ref_cp


def in_switch(out):
    """True while a checkpoint switch or an atomic file write is under way."""
    for d in (out, os.path.join(out, "checkpoints")):
        try:
            for e in os.scandir(d):
                if e.name.startswith((".tmp-", ".old-")) or (e.name.startswith(".") and e.name.endswith(".tmp")):
                    return True
        except FileNotFoundError:
            pass
    return False


stats = {"kills": 0, "random_kills": 0, "targeted_kills": 0, "targeted_hits_in_switch": 0, "resumes": 0,
         "restarts_before_first_checkpoint": 0, "unresumable": 0, "completed_runs": 0, "mismatches": 0,
         "reference_seconds": round(ref_seconds, 2), "epochs": args.epochs}
failures = []
trial = 0
while stats["kills"] < args.kills:
    trial += 1
    out = os.path.join(work, f"t{trial}")
    cmd = train_cmd(out)
    kills_this = rng.randint(1, 3)
    while True:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        killed = False
        if kills_this > 0:
            targeted = rng.random() < 0.5
            start = time.time()
            if targeted:
                # Wait for the k-th switch to begin (best/ folder, checkpoint folder, top-level files: several per
                # epoch), then kill within a few milliseconds.
                edge, k, was = 0, rng.randint(1, 4 * args.epochs), False
                while p.poll() is None:
                    now = in_switch(out)
                    if now and not was:
                        edge += 1
                        if edge >= k:
                            break
                    was = now
                    time.sleep(0.0002)
                if p.poll() is None:
                    time.sleep(rng.random() * 0.003)
                    hit = in_switch(out)
                    if p.poll() is None:
                        os.kill(p.pid, signal.SIGKILL)
                        killed = True
                        stats["targeted_kills"] += 1
                        stats["targeted_hits_in_switch"] += int(hit)
            else:
                delay = rng.random() * ref_seconds * 1.1
                while p.poll() is None and time.time() - start < delay:
                    time.sleep(0.001)
                if p.poll() is None:
                    os.kill(p.pid, signal.SIGKILL)
                    killed = True
                    stats["random_kills"] += 1
        o, e = p.communicate()
        if killed:
            stats["kills"] += 1
            kills_this -= 1
            has_cp = os.path.isdir(os.path.join(out, "checkpoints")) and any(
                n.isdigit() for n in os.listdir(os.path.join(out, "checkpoints")))
            if has_cp:
                cmd = resume_cmd(out)
                stats["resumes"] += 1
            else:
                cmd = train_cmd(out)
                stats["restarts_before_first_checkpoint"] += 1
            continue
        if p.returncode != 0:
            stats["unresumable"] += 1
            failures.append(f"trial {trial}: exit {p.returncode}: {e.strip()[-300:]}")
            break
        top, cp = final_weights(out)
        stats["completed_runs"] += 1
        if top != ref_top or cp != ref_cp:
            stats["mismatches"] += 1
            failures.append(f"trial {trial}: final weights differ from the uninterrupted run")
        break
    shutil.rmtree(out, ignore_errors=True)

stats["failures"] = failures
print(json.dumps(stats, indent=2))
shutil.rmtree(work, ignore_errors=True)
sys.exit(1 if failures else 0)
