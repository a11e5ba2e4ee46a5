#!/usr/bin/env bash
# Issue #17's evidence: modern CNNs trained on Fashion-MNIST, L1-pruned to 50% of MACs (batch-norm statistics
# re-estimated), fine-tuned, and timed. Resumable: a finished step is skipped, an interrupted training resumes.
# usage: bench/anycnn_fmnist.sh OUTDIR [THREADS]   (LOPPER: command to run the CLI)
set -euo pipefail
OUT=${1:?usage: anycnn_fmnist.sh OUTDIR [THREADS]}
T=${2:-2}
LOPPER=${LOPPER:-"dotnet src/Lopper.Cli/bin/Release/net10.0/lopper.dll"}
mkdir -p "$OUT"
run() { # model epochs finetune-epochs train-limit (0 = all 60,000)
  local m=$1 e=$2 f=$3 limit=$4 d="$OUT/$1"
  mkdir -p "$d"
  if [ ! -f "$d/dense/run.json" ] || [ -d "$d/dense/checkpoints" ] && ! grep -q "\"epochs_completed\": $e" "$d/dense/run.json" 2>/dev/null; then
    if [ -d "$d/dense/checkpoints" ]; then $LOPPER train --resume "$d/dense" --threads "$T" --json > "$d/train.json"
    else $LOPPER train --model "$m" --epochs "$e" --seed 1 --train-limit "$limit" --threads "$T" --out "$d/dense" --json > "$d/train.json"; fi
  fi
  if [ ! -f "$d/l1-macs50/run.json" ]; then
    rm -rf "$d/l1-macs50"
    $LOPPER prune l1 --from "$d/dense" --target-macs 0.5 --finetune-epochs "$f" --bn-recalibrate 50 \
      --threads "$T" --out "$d/l1-macs50" --json > "$d/prune.json"
  fi
}
run shufflenetv2-0.5 10 2 0
run densenet40 3 2 20000
run mobilenetv2 3 2 20000
