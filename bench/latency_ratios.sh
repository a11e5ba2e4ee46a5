#!/bin/bash
# Latency speed-up over MAC reduction of every finished cell of an experiment grid: `lopper latency --from CELL`
# times the cell's model and its dense source one after the other in one process (median of timed repeats, batch
# 128, 2 threads); ratio = speed-up x MACs kept. Background `lopper experiment`/`lopper train` runs are paused
# (SIGSTOP) while it measures and resumed after.
#   bench/latency_ratios.sh LOPPER_DLL [GRID_DIR] [CELL_GLOB]
#   bench/latency_ratios.sh /tmp/cli/lopper.dll runs/experiments/resnet20-fmnist-full 'spp-*'
DLL=${1:?the lopper.dll to time with}; GRID=${2:-runs/experiments/resnet20-fmnist-full}; GLOB=${3:-*}
P=$(pgrep -f "lopper.dll (experiment|train)"); [ -n "$P" ] && kill -STOP $P
trap '[ -n "$P" ] && kill -CONT $P' EXIT
echo "# $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $DLL"
for d in "$GRID"/cells/$GLOB; do
  [ -f "$d/model.json" ] && [ -f "$d/cell.json" ] || continue
  out=$(dotnet "$DLL" latency --from "$d" --batch 128 --threads 2 2>&1 | grep -oE 'batch 128: [0-9.]+ ms.*speedup [0-9.]+x' | head -1)
  python3 - "$d" "$out" <<'PY'
import json, re, sys
d, out = sys.argv[1], sys.argv[2]
c = json.load(open(d + '/cell.json'))
kept = c['macs_after'] / c['macs_before']
m = re.search(r'speedup ([0-9.]+)x', out)
sp = float(m.group(1)) if m else float('nan')
print(f"{d.rstrip('/').split('/')[-1]:45s} MACs {100 * kept:5.1f} %  speed-up {sp:5.2f}x  ratio {sp * kept:.3f}  [{out}]")
PY
done
