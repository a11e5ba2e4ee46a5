#!/usr/bin/env bash
# Lopper against ONNX Runtime one convolution shape at a time: where a model's gap to ONNX Runtime comes from.
# Each shape (bench/conv_stacks.py: two 3x3 convolutions C -> C on C x HW x HW) is imported with `lopper import` and
# timed by `lopper bench --from DIR --ort` (pass for pass in alternation with ONNX Runtime, same threads), ROUNDS
# times; prints the median lopper/ORT ratio per shape. Needs python3-onnx.
# Usage: [ROUNDS=3] bench/conv_stacks.sh [THREADS] [C@HW ...]
set -euo pipefail
cd "$(dirname "$0")/.."
T=${1:-2}; shift || true
dotnet build -c Release src/Lopper.Cli -v q -nologo >/dev/null
L=src/Lopper.Cli/bin/Release/net10.0/lopper
tmp=$(mktemp -d)
/usr/bin/python3 bench/conv_stacks.py "$tmp" "$@" > "$tmp/files"
ROUNDS=${ROUNDS:-3}
echo "| shape | GMAC per image | lopper img/s | ORT img/s | lopper / ORT (median of $ROUNDS) |"
echo "|---|---|---|---|---|"
while read -r f; do
  d=${f%.onnx}
  $L import "$f" --out "$d" > /dev/null
  for r in $(seq "$ROUNDS"); do
    $L bench --from "$d" --batch 128 --steps 20 --threads "$T" --ort --json > "$d-$r.json"
  done
  /usr/bin/python3 - "$d" "$ROUNDS" <<'PY'
import json, os, sys, statistics
d, rounds = sys.argv[1], int(sys.argv[2])
runs = [json.load(open(f"{d}-{r}.json")) for r in range(1, rounds + 1)]
name = os.path.basename(d)[4:].replace("-", "@")
c, hw = (int(v) for v in name.split("@"))
gmac = 2 * c * c * 9 * hw * hw / 1e9
med = lambda k: statistics.median(x[k] for x in runs)
print(f"| {c} -> {c}, {hw}x{hw} | {gmac:.3f} | {med('infer_img_s'):.0f} | {med('ort_infer_img_s'):.0f} | {med('lopper_vs_ort_infer'):.2f} |")
PY
done < "$tmp/files"
rm -rf "$tmp"
