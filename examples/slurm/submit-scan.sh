#!/bin/bash
# Submits a sharded scan (examples/slurm/scan-array.sbatch) as a job array of
# SHARDS tasks, and a merge job that starts when every task has succeeded
# (--dependency=afterok): OUT/all.jsonl is the report of the whole scan.
#
#   examples/slurm/submit-scan.sh SHARDS TARGET OUT
set -euo pipefail
SHARDS=$1 TARGET=$2 OUT=$3
HERE=$(cd "$(dirname "$0")" && pwd)
LEAKHOUND=${LEAKHOUND:-leakhound}
array=$(sbatch --parsable --array=0-$((SHARDS - 1)) \
    --export=ALL,SHARDS="$SHARDS",TARGET="$TARGET",OUT="$OUT",LEAKHOUND="$LEAKHOUND" \
    "$HERE/scan-array.sbatch")
merge=$(sbatch --parsable --dependency=afterok:"$array" \
    --export=ALL,SHARDS="$SHARDS",OUT="$OUT",LEAKHOUND="$LEAKHOUND" \
    "$HERE/merge.sbatch")
echo "array job $array, merge job $merge"
