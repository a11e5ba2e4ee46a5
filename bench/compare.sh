#!/usr/bin/env bash
# Runs lopper's benchmarks, the PyTorch peer (../shared/bench/peer_torch.py) and ONNX Runtime (the same models
# exported by Lopper, via `lopper bench --ort`) in one go, on the same machine and thread count, and prints
# lopper/peer and lopper/ORT ratios. Needs python3-torch and libopenblas0-pthread.
# Usage: [ROUNDS=3] [FROM="DIR ..."] bench/compare.sh [THREADS]   (results also written to bench/results/compare-<date>.json)
# FROM adds saved model folders (pruned cells of an experiment grid, say): lopper against ONNX Runtime only.
set -euo pipefail
cd "$(dirname "$0")/.."
T=${1:-2}
PEER=${PEER:-../shared/bench/peer_torch.py}
dotnet build -c Release src/Lopper.Cli -v q -nologo >/dev/null
L=src/Lopper.Cli/bin/Release/net10.0/lopper
OUT=bench/results/compare-$(date -u +%Y%m%dT%H%M%SZ).json
tmp=$(mktemp -d)
# The peer's models, by the same names (as in its __main__).
declare -A peerModel=(
  [lenet5-fmnist]="p.lenet5(), (1, 28, 28)" [vgg-small-fmnist]="p.vgg(), (1, 28, 28)" [resnet20-fmnist]="p.resnet(3), (1, 28, 28)"
  [resnet20-cifar]="p.resnet(3, cin=3), (3, 32, 32)" [resnet56-cifar]="p.resnet(9, cin=3), (3, 32, 32), steps=5"
  [mobilenetv2-cifar]="pm.mobilenet_v2_cifar(), (3, 32, 32), steps=2")
models=("lenet5-fmnist lenet5 1x28x28 20" "vgg-small-fmnist vgg-small 1x28x28 20" "resnet20-fmnist resnet20 1x28x28 20"
        "resnet20-cifar resnet20 3x32x32 20" "resnet56-cifar resnet56 3x32x32 5" "mobilenetv2-cifar mobilenetv2 3x32x32 2")
# Shared VMs drift by 10-30% within minutes, for both programs alike: each model runs ROUNDS times, lopper and
# the peer back to back, and the summary takes each side's median.
ROUNDS=${ROUNDS:-3}
for r in $(seq "$ROUNDS"); do
  for m in "${models[@]}"; do
    set -- $m
    $L bench --model "$2" --input "$3" --batch 128 --steps "$4" --threads "$T" --ort --json > "$tmp/lopper-$1-$r.json"
    # Batch 1: latency, what an application serving one image at a time sees.
    $L bench --model "$2" --input "$3" --batch 1 --steps 100 --threads "$T" --ort --json > "$tmp/lopper-b1-$1-$r.json"
    OPENBLAS_NUM_THREADS=$T /usr/bin/python3 -c "
import sys, torch; sys.path.insert(0, '$(dirname "$PEER")'); sys.path.insert(0, 'bench'); import peer_torch as p, peer_mobilenet as pm
torch.set_num_threads($T); torch.manual_seed(0); p.bench('$1', ${peerModel[$1]})" > "$tmp/peer-$1-$r.json"
  done
  i=0
  for d in ${FROM:-}; do
    i=$((i + 1))
    $L bench --from "$d" --batch 128 --steps 20 --threads "$T" --ort --json > "$tmp/lopper-from$i-$r.json"
  done
done
for n in 1 2; do
  $L bench gemm --size 1024 --threads $n --json > "$tmp/lopper-gemm-$n.json"
  # torch.set_num_threads does not reach the OpenBLAS that Debian's torch.mm calls (BLAS_INFO=generic): without
  # OPENBLAS_NUM_THREADS its "1 thread" run used both cores.
  OPENBLAS_NUM_THREADS=$n /usr/bin/python3 - "$n" > "$tmp/peer-gemm-$n.json" <<'PY'
import json, sys, time, torch
torch.set_num_threads(int(sys.argv[1])); n = 1024
a = torch.randn(n, n); b = torch.randn(n, n)
for _ in range(3): torch.mm(a, b)
ts = []
for _ in range(10):
    t = time.perf_counter(); torch.mm(a, b); ts.append(time.perf_counter() - t)
ts.sort(); print(json.dumps({"gflops": round(2 * n**3 / ts[len(ts) // 2] / 1e9, 2)}))
PY
done
# Peak resident memory while training resnet56 at batch 128, each in its own process.
/usr/bin/time -f "%M" -o "$tmp/lopper-rss" $L bench --model resnet56 --input 3x32x32 --batch 128 --steps 3 --threads "$T" --json > /dev/null
/usr/bin/time -f "%M" -o "$tmp/peer-rss" /usr/bin/python3 -c "
import sys, torch; sys.path.insert(0, '$(dirname "$PEER")'); import peer_torch as p
torch.set_num_threads($T); p.bench('resnet56-cifar', p.resnet(9, cin=3), (3, 32, 32), steps=3)" > /dev/null
/usr/bin/python3 - "$tmp" "$T" "$OUT" "$ROUNDS" <<'PY'
import json, sys, os, platform, subprocess
tmp, threads, out, rounds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
def median(xs):
    xs = sorted(xs); n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
rows = []
torch_version = "?"
for name in ["lenet5-fmnist", "vgg-small-fmnist", "resnet20-fmnist", "resnet20-cifar", "resnet56-cifar", "mobilenetv2-cifar"]:
    l = [json.load(open(os.path.join(tmp, f"lopper-{name}-{r}.json"))) for r in range(1, rounds + 1)]
    p = [json.load(open(os.path.join(tmp, f"peer-{name}-{r}.json"))) for r in range(1, rounds + 1)]
    torch_version = p[0]["torch"]
    row = {"model": name, "rounds": rounds}
    for kind in ("train", "infer"):
        lo, pe = [x[f"{kind}_img_s"] for x in l], [x[f"{kind}_img_s"] for x in p]
        row.update({f"lopper_{kind}_img_s": median(lo), f"peer_{kind}_img_s": median(pe),
                    f"{kind}_ratio": round(median(lo) / median(pe), 2),
                    f"{kind}_ratio_by_round": [round(a / b, 2) for a, b in zip(lo, pe)]})
    ort = [x["ort_infer_img_s"] for x in l]
    row.update({"ort_infer_img_s": median(ort), "infer_ratio_vs_ort": round(row["lopper_infer_img_s"] / median(ort), 2),
                "infer_ratio_vs_ort_by_round": [x["lopper_vs_ort_infer"] for x in l]})
    row["lopper_gc_gen0_train"] = max(x["gc_gen0_during_train"] for x in l)
    b1 = [json.load(open(os.path.join(tmp, f"lopper-b1-{name}-{r}.json"))) for r in range(1, rounds + 1)]
    row.update({"lopper_b1_ms": round(1000 / median([x["infer_img_s"] for x in b1]), 3),
                "ort_b1_ms": round(1000 / median([x["ort_infer_img_s"] for x in b1]), 3)})
    row["b1_ratio_vs_ort"] = round(row["ort_b1_ms"] / row["lopper_b1_ms"], 2)
    rows.append(row)
pruned = []
for i, d in enumerate(os.environ.get("FROM", "").split(), 1):
    l = [json.load(open(os.path.join(tmp, f"lopper-from{i}-{r}.json"))) for r in range(1, rounds + 1)]
    pruned.append({"from": d, "lopper_train_img_s": median([x["train_img_s"] for x in l]),
                   "lopper_infer_img_s": median([x["infer_img_s"] for x in l]), "ort_infer_img_s": median([x["ort_infer_img_s"] for x in l]),
                   "infer_ratio_vs_ort": round(median([x["infer_img_s"] for x in l]) / median([x["ort_infer_img_s"] for x in l]), 2)})
gemm = []
for n in (1, 2):
    l = json.load(open(os.path.join(tmp, f"lopper-gemm-{n}.json"))); p = json.load(open(os.path.join(tmp, f"peer-gemm-{n}.json")))
    gemm.append({"threads": n, "lopper_gflops": l["gflops"], "peer_gflops": p["gflops"], "ratio": round(l["gflops"] / p["gflops"], 2)})
rss = {"lopper_mb": int(open(os.path.join(tmp, "lopper-rss")).read().split()[-1]) / 1024,
       "peer_mb": int(open(os.path.join(tmp, "peer-rss")).read().split()[-1]) / 1024}
rss["ratio"] = round(rss["lopper_mb"] / rss["peer_mb"], 2)
info = open("/proc/cpuinfo").read().splitlines()
def field(name):
    return next((l.split(":", 1)[1].strip() for l in info if l.split(":", 1)[0].strip() == name), "?")
cpu = field("model name")
# "AMD EPYC" names no generation: family and model do (AMD family 25 model 1 is Zen 3, 17 Zen 4; 26 is Zen 5), and the
# vector extensions decide which of Lopper's kernels run (AVX-512, or the AVX2 family).
flags = set(field("flags").split())
cpu_detail = {"family": field("cpu family"), "model": field("model"),
              "avx512f": "avx512f" in flags, "avx2": "avx2" in flags, "fma": "fma" in flags}
result = {"threads": threads, "batch": 128, "cpu": cpu, "cpu_detail": cpu_detail, "cores": os.cpu_count(), "torch": torch_version,
          "dotnet": subprocess.run(["dotnet", "--version"], capture_output=True, text=True).stdout.strip(),
          "models": rows, "saved_models": pruned, "gemm_1024": gemm, "resnet56_train_peak_rss": rss}
json.dump(result, open(out, "w"), indent=2)
print(f"{cpu}, family {cpu_detail['family']} model {cpu_detail['model']}, AVX-512 {'yes' if cpu_detail['avx512f'] else 'no'}, {os.cpu_count()} cores")
print(f"medians of {rounds} interleaved rounds")
print(f"{'model':18} {'train lopper/peer':>24} {'ratio':>6} {'infer lopper/peer':>24} {'ratio':>6} {'infer ORT':>10} {'lopper/ORT':>10}")
for r in rows:
    print(f"{r['model']:18} {r['lopper_train_img_s']:>11.0f}/{r['peer_train_img_s']:<12.0f} {r['train_ratio']:>6} {r['lopper_infer_img_s']:>11.0f}/{r['peer_infer_img_s']:<12.0f} {r['infer_ratio']:>6} {r['ort_infer_img_s']:>10.0f} {r['infer_ratio_vs_ort']:>10}")
print(f"{'batch 1':18} {'lopper ms':>10} {'ORT ms':>8} {'lopper/ORT':>10}")
for r in rows:
    print(f"{r['model']:18} {r['lopper_b1_ms']:>10} {r['ort_b1_ms']:>8} {r['b1_ratio_vs_ort']:>10}")
for r in pruned:
    print(f"{r['from']}: lopper {r['lopper_infer_img_s']:.0f} img/s, ORT {r['ort_infer_img_s']:.0f}, ratio {r['infer_ratio_vs_ort']}")
for g in gemm:
    print(f"gemm 1024 x{g['threads']} threads: {g['lopper_gflops']} / {g['peer_gflops']} GFLOP/s = {g['ratio']}")
print(f"resnet56 training peak RSS: lopper {rss['lopper_mb']:.0f} MB, peer {rss['peer_mb']:.0f} MB, ratio {rss['ratio']}")
print(f"written to {out}")
PY
rm -rf "$tmp"
