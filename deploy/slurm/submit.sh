#!/usr/bin/env bash
# Submits a sharded scan to Slurm: SHARDS array tasks of scan.sbatch, then merge.sbatch once all have
# succeeded. Settings are environment variables, passed on to both jobs (sbatch exports the environment):
#   DEJA_PROMPTS=/shared/prompts.txt DEJA_SCAN_DIR=/shared/scan deploy/slurm/submit.sh 8
# Optional: DEJA (the executable), DEJA_MODEL, DEJA_METHOD, DEJA_BATCH (see scan.sbatch).
set -euo pipefail
shards=${1:-4}
here=$(cd "$(dirname "$0")" && pwd)
: "${DEJA_PROMPTS:?set DEJA_PROMPTS to the prompt file, on the shared file system}"
: "${DEJA_SCAN_DIR:?set DEJA_SCAN_DIR to the scan folder, on the shared file system}"
export DEJA_PROMPTS DEJA_SCAN_DIR
[[ $shards =~ ^[1-9][0-9]*$ ]] || { echo "submit.sh: SHARDS must be a positive integer, got '$shards'" >&2; exit 2; }

array=$(sbatch --parsable --array="0-$((shards - 1))" "$here/scan.sbatch")
array=${array%%;*}   # --parsable prints "id" or "id;cluster"
merge=$(sbatch --parsable --dependency="afterok:$array" "$here/merge.sbatch")
echo "submitted scan array $array ($shards shards) and merge job ${merge%%;*}: scores in $DEJA_SCAN_DIR/scores.jsonl"
