#!/usr/bin/env bash
# A real single-node Slurm on this machine, and a gpusim sweep through it:
#   1. installs slurm-wlm and munge (apt-get, non-interactive) when missing;
#   2. writes a localhost slurm.conf (this machine's CPUs, `hostname -s` as the node) in a
#      temporary directory, creates a munge key if there is none, starts munged, slurmctld, slurmd;
#   3. writes the job-array script with `gpusim slurm`, submits it, waits (bounded) for it;
#   4. merges the shard databases and checks the result: every run present, integrity ok,
#      the same metrics as a local sweep, and the experiment's baseline (gpusim regress);
#   5. stops the daemons it started (also on failure) and cancels its job.
# Usage: scripts/slurm-ci.sh [CONFIG] (default Experiments/replay-fidelity.yaml). Needs root (or
# sudo). Environment: GPUSIM (a built gpusim; default .build/debug/gpusim, built if missing),
# ARRAY (array tasks, default 3), TIMEOUT (seconds to wait for the job, default 900).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CONFIG=${1:-Experiments/replay-fidelity.yaml}
ARRAY=${ARRAY:-3}
TIMEOUT=${TIMEOUT:-900}
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
log() { echo "slurm-ci: $*" >&2; }

# --- gpusim --------------------------------------------------------------------------------
GPUSIM=${GPUSIM:-$ROOT/.build/debug/gpusim}
if [ ! -x "$GPUSIM" ]; then
    log "building gpusim"
    swift build --product gpusim >&2
fi
GPUSIM=$(cd "$(dirname "$GPUSIM")" && pwd)/$(basename "$GPUSIM")
BASELINE="$ROOT/Experiments/baselines/$(basename "$CONFIG" .yaml).json"

# --- packages ------------------------------------------------------------------------------
need=()
for pkg in slurm-wlm munge; do dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg"); done
if [ ${#need[@]} -gt 0 ]; then
    log "installing ${need[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

# --- configuration ---------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/gpusim-slurm.XXXXXX)
chmod 755 "$WORK"
NODE=$(hostname -s)
CPUS=$(nproc)
mkdir -p "$WORK/state" "$WORK/spool" "$WORK/out"
export SLURM_CONF="$WORK/slurm.conf"
cat > "$SLURM_CONF" <<CONF
# Single-node Slurm for gpusim's CI (written by scripts/slurm-ci.sh).
ClusterName=gpusimci
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
MinJobAge=300
NodeName=$NODE CPUs=$CPUS State=UNKNOWN
PartitionName=ci Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF

# --- daemons ---------------------------------------------------------------------------------
STARTED_MUNGED=0
JOB=""
cleanup() {
    status=$?
    set +e
    [ -n "$JOB" ] && scancel "$JOB" 2>/dev/null
    for d in slurmd slurmctld; do
        if [ -s "$WORK/$d.pid" ]; then
            pid=$(cat "$WORK/$d.pid")
            $SUDO kill "$pid" 2>/dev/null
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        fi
    done
    if [ "$STARTED_MUNGED" = 1 ] && [ -s /run/munge/munged.pid ]; then
        $SUDO kill "$(cat /run/munge/munged.pid)" 2>/dev/null
    fi
    if [ $status -ne 0 ]; then
        log "FAILED (exit $status); logs:"
        for f in "$WORK"/slurmctld.log "$WORK"/slurmd.log "$WORK"/out/*.out; do
            [ -f "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }
        done
    else
        rm -rf "$WORK"
    fi
    log "daemons stopped"
    exit $status
}
trap cleanup EXIT

if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    if [ ! -s /etc/munge/munge.key ]; then
        log "creating a munge key"
        if command -v mungekey >/dev/null; then $SUDO mungekey --create --force; else $SUDO create-munge-key -f; fi
    fi
    $SUDO mkdir -p /run/munge /var/log/munge /var/lib/munge
    $SUDO chown munge:munge /etc/munge/munge.key /run/munge /var/log/munge /var/lib/munge
    $SUDO chmod 400 /etc/munge/munge.key
    $SUDO runuser -u munge -- /usr/sbin/munged
    STARTED_MUNGED=1
fi
munge -n | unmunge >/dev/null || { log "munge does not work"; exit 1; }
if pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null; then
    log "a slurmctld or slurmd is already running on this machine; stop it first"
    exit 1
fi
$SUDO slurmctld -f "$SLURM_CONF"
$SUDO slurmd -f "$SLURM_CONF"
log "waiting for node $NODE"
for i in $(seq 60); do
    state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null | head -1 || true)
    [ "$state" = "idle" ] && break
    sleep 1
    [ "$i" = 60 ] && { log "node $NODE did not become idle (state: ${state:-none})"; exit 1; }
done
log "node $NODE idle ($CPUS CPUs)"

# --- the sweep -------------------------------------------------------------------------------
"$GPUSIM" slurm "$CONFIG" --array "$ARRAY" --cpus-per-task 1 --time 00:20:00 \
    -o "$WORK/sweep.sbatch" --out-dir "$WORK/out"
JOB=$(sbatch --parsable "$WORK/sweep.sbatch")
log "submitted job array $JOB ($ARRAY tasks)"
deadline=$((SECONDS + TIMEOUT))
while squeue -h -j "$JOB" 2>/dev/null | grep -q .; do
    if [ $SECONDS -ge $deadline ]; then log "job $JOB still running after ${TIMEOUT}s"; exit 1; fi
    sleep 2
done
JOB=""
"$GPUSIM" sweep "$CONFIG" --dry-run > "$WORK/plan.txt"
NAME=$(sed -n '1s/^experiment \([^ ]*\) .*/\1/p' "$WORK/plan.txt")
RUNS=$(( $(wc -l < "$WORK/plan.txt") - 1 ))
for i in $(seq 1 "$ARRAY"); do
    db="$WORK/out/$NAME.shard-$i-of-$ARRAY.sqlite"
    [ -f "$db" ] || { log "task $i wrote no database ($db)"; exit 1; }
done
"$GPUSIM" merge "$WORK"/out/"$NAME".shard-*-of-"$ARRAY".sqlite -o "$WORK/merged.sqlite"

# --- checks ----------------------------------------------------------------------------------
got=$("$GPUSIM" export "$WORK/merged.sqlite" --table runs --csv | tail -n +2 | wc -l)
[ "$got" = "$RUNS" ] || { log "merged database holds $got runs, expected $RUNS"; exit 1; }
python3 - "$WORK/merged.sqlite" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
ok = con.execute("PRAGMA integrity_check").fetchone()[0]
failed = con.execute("SELECT count(*) FROM runs WHERE status != 'ok'").fetchone()[0]
if ok != "ok" or failed:
    sys.exit(f"integrity_check: {ok}; failed runs: {failed}")
PY
"$GPUSIM" sweep "$CONFIG" -o "$WORK/local.sqlite" --progress none
for t in runs metrics requests; do
    cmp <("$GPUSIM" export "$WORK/merged.sqlite" --table $t --no-wall) <("$GPUSIM" export "$WORK/local.sqlite" --table $t --no-wall) \
        || { log "the Slurm sweep's $t differ from a local sweep's"; exit 1; }
done
if [ -f "$BASELINE" ]; then
    "$GPUSIM" regress "$WORK/merged.sqlite" --baseline "$BASELINE"
fi
log "OK: $RUNS runs of $NAME through a $ARRAY-task Slurm job array, merged, equal to a local sweep"
