#!/bin/sh
# Reproduces the figures of bench/results/2026-12-06-user-data.md (issue 20). About 5 minutes on 2 cores.
set -e
L=${LOPPER:-src/Lopper.Cli/bin/Release/net10.0/lopper}
W=${1:-/tmp/lopper-user-data}
rm -rf "$W"; mkdir -p "$W/runs"
# 1. Fashion-MNIST as PNG class folders trains exactly as the IDX files (same seed and settings).
$L export-images --out "$W/fm" --threads 2
$L train --model lenet5 --epochs 1 --threads 2 --seed 7 --json | grep -E '"test_accuracy"|"train_loss"'
$L train --model lenet5 --dataset imagefolder --data "$W/fm" --epochs 1 --threads 2 --seed 7 --json | grep -E '"test_accuracy"|"train_loss"'
# 2. Loader vs training speed (3x32x32, 2 threads).
python3 bench/make_shapes_folder.py "$W/shapes" 300 60
$L bench --model resnet20 --input 3x32x32 --batch 128 --threads 2 --json
$L bench loader --dataset imagefolder --data "$W/shapes" --resize 32 --crop 32 --augment --threads 2 --json
$L bench loader --dataset imagefolder --data "$W/shapes" --resize 32 --crop 32 --random-resized-crop --threads 2 --json
$L bench loader --dataset imagefolder --data "$W/fm" --threads 2 --no-cache --json
$L bench loader --dataset imagefolder --data "$W/fm" --threads 2 --json
# 3. A 3-class RGB folder: train, prune, predict, inspect.
$L train --model lenet5 --dataset imagefolder --data "$W/shapes" --resize 32 --crop 32 --epochs 20 --threads 2 --seed 1 --out "$W/runs/shapes" --json | grep test_accuracy
$L prune l1 --from "$W/runs/shapes" --out "$W/runs/shapes-l1" --target-macs 0.5 --finetune-epochs 5 --threads 2
$L predict --from "$W/runs/shapes-l1" "$W/shapes/val/disc/000901.png" "$W/shapes/val/cross/000900.png" "$W/shapes/val/square/000902.png" --top 2
$L inspect --from "$W/runs/shapes-l1" | tail -2
# 4. Transfer: 10 classes -> a 5-class subset, against the same net from scratch, 2 epochs each.
$L export-images --out "$W/fm5" --classes 0,1,2,3,4 --limit 10000 --val-limit 2000 --threads 2
$L train --model lenet5 --epochs 3 --train-limit 10000 --threads 2 --seed 1 --out "$W/runs/fm10" --json | grep '"test_accuracy"'
$L train --from "$W/runs/fm10" --reset-head 5 --dataset imagefolder --data "$W/fm5" --epochs 2 --threads 2 --seed 1 --out "$W/runs/fm5-transfer" --json | grep '"test_accuracy"'
$L train --from "$W/runs/fm10" --reset-head data --freeze-until pool2 --dataset imagefolder --data "$W/fm5" --epochs 2 --threads 2 --seed 1 --out "$W/runs/fm5-frozen" --json | grep '"test_accuracy"'
$L train --model lenet5 --dataset imagefolder --data "$W/fm5" --epochs 2 --threads 2 --seed 1 --out "$W/runs/fm5-scratch" --json | grep '"test_accuracy"'
$L prune l1 --from "$W/runs/fm5-transfer" --out "$W/runs/fm5-transfer-l1" --target-macs 0.5 --finetune-epochs 1 --threads 2
