#!/bin/bash
# The mitigation table on every benchmark caption (README, "Results on deja-mini"): every method on the
# 144 template captions (template.txt) and the 225 held-out captions (nonmemorized.txt), plus the two
# retrained models' un-mitigated generations. Each job is a resumable `deja mitigate` run (rerun this
# script to continue after a stop); WORKERS single-threaded workers take jobs from a queue in order.
# Usage: DEJA=path/to/deja OUT=runs/full FILTER=M1 AUGMENT=M2 WORKERS=2 testdata/mitigation/full-table.sh
# (run from the repository root; FILTER and AUGMENT are the retrained models' folders, see README.md here)
set -euo pipefail
DEJA=${DEJA:-deja}; OUT=${OUT:-runs/full}; WORKERS=${WORKERS:-2}
mkdir -p "$OUT"
cp testdata/mitigation/template.txt "$OUT/template.txt"
cp data/benchmarks/deja-mini/nonmemorized.txt "$OUT/heldout.txt"
jobs=()
for m in none prompt random-tokens filter augment prompt-anisotropy sail; do
  for set in template heldout; do jobs+=("$set $m"); done
done
printf '%s\n' "${jobs[@]}" > "$OUT/queue.txt"
worker() {
  while true; do
    job=$(flock "$OUT/queue.lock" bash -c "head -1 '$OUT/queue.txt'; sed -i 1d '$OUT/queue.txt'")
    [ -z "$job" ] && return
    set -- $job; local set=$1 m=$2 model=data/models/deja-mini method=$2
    case $m in
      filter) [ -n "${FILTER:-}" ] || continue; model=$FILTER; method=none;;
      augment) [ -n "${AUGMENT:-}" ] || continue; model=$AUGMENT; method=none;;
    esac
    echo "$(date -u +%T) start $set $m" >> "$OUT/progress.log"
    DEJA_THREADS=1 "$DEJA" mitigate --model "$model" --prompts "$OUT/$set.txt" --method "$method" --out "$OUT/$set-$m" > "$OUT/$set-$m.log" 2>&1 \
      && echo "$(date -u +%T) done $set $m" >> "$OUT/progress.log" || echo "$(date -u +%T) FAILED $set $m (see $OUT/$set-$m.log)" >> "$OUT/progress.log"
  done
}
for w in $(seq "$WORKERS"); do worker & done
wait
