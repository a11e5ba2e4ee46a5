#!/bin/bash
# Usage: pruned_latency.sh CLI_DIR ROUNDS MODEL... : lopper latency (batch 128, 2 threads) of each pruned model against
# its dense source, ROUNDS rounds; prints speed-up and speed-up / MAC reduction per model and round.
cli=$1; rounds=$2; shift 2
for r in $(seq 1 $rounds); do
  for m in "$@"; do
    $cli/lopper latency --from $m --batch 128 --threads 2 --repeats 20 --json 2>/dev/null | python3 -c "
import json, sys
d = json.load(sys.stdin); run = json.load(open('$m/run.json'))
red = run['macs_before'] / run['macs_after']; s = d['results'][0]['speedup']
print(f'round $r  {\"$m\":24s} MACs kept {1/red:.3f}  speed-up {s:.2f}  / MAC reduction {s/red:.2f}')"
  done
done
