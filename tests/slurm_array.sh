#!/usr/bin/env bash
# Runs a sharded scan on a real Slurm: starts munged, slurmctld and slurmd
# on this machine (a one-node cluster in a scratch directory, on ports
# 16817/16818), submits examples/slurm/submit-scan.sh (a job array of
# SHARDS `scan --shard K/N` tasks over TARGET, then a dependent merge job),
# waits for the merge, and leaves OUT/all.jsonl. The caller compares it with
# a single run. Everything it started is stopped on exit.
#   tests/slurm_array.sh LEAKHOUND SHARDS TARGET OUT
# Needs root (slurmd runs jobs as their user) and Debian's slurm-wlm.
set -euo pipefail
LH=$(realpath "$1") SHARDS=$2 TARGET=$(realpath "$3") OUT=$4
mkdir -p "$OUT"
OUT=$(realpath "$OUT")
HERE=$(cd "$(dirname "$0")/.." && pwd)
D=$(mktemp -d /tmp/leakhound-slurm.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [[ ${KEEP:-} != 1 ]]; then rm -rf "$D"; fi
}
trap cleanup EXIT
for tool in munged slurmctld slurmd sbatch squeue; do
    command -v "$tool" >/dev/null || { echo "slurm_array.sh: $tool not found (apt-get install slurm-wlm)" >&2; exit 3; }
done
HOST=$(hostname -s)
mkdir -p "$D/munge" "$D/state" "$D/spool" "$D/run"
# munge: its own key, socket and pid file in the scratch directory.
dd if=/dev/urandom bs=1 count=1024 of="$D/munge/munge.key" 2>/dev/null
chmod 0400 "$D/munge/munge.key"
chmod 0700 "$D/munge"
munged --force --key-file="$D/munge/munge.key" --socket="$D/munge/munge.socket" \
    --pid-file="$D/munge/munged.pid" --log-file="$D/munge/munged.log" --seed-file="$D/munge/seed"
PIDS+=("$(cat "$D/munge/munged.pid")")
NCPU=$(nproc)
cat >"$D/slurm.conf" <<CONF
ClusterName=leakhound-test
SlurmctldHost=$HOST
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
AuthInfo=socket=$D/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
NodeName=$HOST CPUs=$NCPU State=UNKNOWN
PartitionName=test Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$D/slurm.conf
slurmctld -D -i -f "$SLURM_CONF" >"$D/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" >"$D/slurmd.out" 2>&1 &
PIDS+=($!)
# Up when the node is idle.
for ((i = 0; i < 120; i++)); do
    state=$(sinfo -h -n "$HOST" -o %t 2>/dev/null || true)
    [[ $state == idle* ]] && break
    sleep 0.5
done
[[ $state == idle* ]] || {
    echo "slurm_array.sh: the node did not come up (state '$state')" >&2
    tail -20 "$D/slurmctld.log" "$D/slurmd.log" "$D/slurmctld.out" "$D/slurmd.out" >&2 || true
    exit 2
}
cd "$OUT"
LEAKHOUND=$LH "$HERE/examples/slurm/submit-scan.sh" "$SHARDS" "$TARGET" "$OUT" | tee "$D/submit.out"
merge=$(awk '{print $NF}' "$D/submit.out")
# Done when the merge job has left the queue.
for ((i = 0; i < 600; i++)); do
    [[ -z $(squeue -h -j "$merge" 2>/dev/null) ]] && break
    sleep 0.5
done
if [[ ! -s $OUT/all.jsonl ]]; then
    echo "slurm_array.sh: no merged report" >&2
    cat "$OUT"/*.log >&2 2>/dev/null || true
    tail -20 "$D/slurmctld.log" >&2 || true
    exit 2
fi
echo "slurm_array.sh: merged report $OUT/all.jsonl"
