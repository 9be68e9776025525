#!/usr/bin/env bash
# Runs a command next to a throwaway single-node Slurm cluster: munged with its own key and socket, slurmctld and
# slurmd on free ports of 127.0.0.1, all configured, logging and keeping state in one temporary folder (nothing under
# /etc). Runs the command with SLURM_CONF=<that folder>/slurm.conf and BUTLER_TEST_SLURM=1 once the node is idle, then
# cancels what is left of its jobs, stops the daemons (by their pid files) and removes the folder, whether the command
# succeeded or not. Exits with the command's exit code; exits non-zero without running it when the cluster does not
# come up. Needs Debian's slurmctld, slurmd, slurm-client and munge (make deps); meant to run as root.
#   scripts/with-slurm.sh swift test --skip-build
#   scripts/with-slurm.sh bash -c 'sbatch --wait --array=1-10 --wrap "echo \$SLURM_ARRAY_TASK_ID"'
set -euo pipefail
for b in munged slurmctld slurmd sbatch sinfo scontrol squeue scancel; do
  command -v "$b" >/dev/null || { echo "with-slurm: $b not found (install Debian's slurmctld slurmd slurm-client munge)" >&2; exit 1; }
done
D=$(mktemp -d /tmp/butler-slurm.XXXXXX)
chmod 755 "$D"  # munged wants its socket folder searchable by all

# Sends TERM to the processes in the given pid files, waits up to 5 s for them to go, then KILLs what is left.
stop_pidfiles() {
  local f pid pids="" left
  for f in "$@"; do
    pid=$(cat "$f" 2>/dev/null) || continue
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && pids="$pids $pid"
  done
  [ -n "$pids" ] || return 0
  for _ in $(seq 50); do
    left=""
    for pid in $pids; do kill -0 "$pid" 2>/dev/null && left="$left $pid"; done
    [ -n "$left" ] || return 0
    pids=$left
    sleep 0.1
  done
  kill -9 $pids 2>/dev/null || true
}
stop() {
  set +e
  # Cancel whatever the command left queued or running, so no job step (slurmstepd, which does not die with slurmd)
  # outlives the cluster; give them a moment to end.
  if [ -f "$D/slurmctld.pid" ] && kill -0 "$(cat "$D/slurmctld.pid" 2>/dev/null)" 2>/dev/null; then
    if [ -n "$(squeue -h -o %i 2>/dev/null)" ]; then
      scancel --quiet --user="$(id -un)" >/dev/null 2>&1
      for _ in $(seq 50); do [ -z "$(squeue -h -t R,CG,PD -o %i 2>/dev/null)" ] && break; sleep 0.1; done
    fi
  fi
  stop_pidfiles "$D/slurmd.pid" "$D/slurmctld.pid"
  # A step that is still there listens on a socket under $D/spool: kill it too.
  local strays
  strays=$(ss -xlpH 2>/dev/null | grep -F "$D/" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u)
  if [ -n "$strays" ]; then kill $strays 2>/dev/null; sleep 1; kill -9 $strays 2>/dev/null; fi
  stop_pidfiles "$D/munged.pid"
  rm -rf "$D"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Prints a one-line error plus the tails of the daemon logs to stderr, and exits 1 (the EXIT trap cleans up).
fail() {
  echo "with-slurm: $1" >&2
  for log in munged slurmctld slurmd; do
    [ -s "$D/$log.log" ] && { echo "--- tail of $log.log:" >&2; tail -n 15 "$D/$log.log" >&2; }
  done
  exit 1
}
alive() { kill -0 "$(cat "$D/$1.pid" 2>/dev/null)" 2>/dev/null; }

NODE=$(hostname -s)
CPUS=$(nproc)
MEM_MB=$(awk '/^MemTotal:/ { m = int($2 / 1024) - 512; print (m < 100 ? 100 : m) }' /proc/meminfo)
read -r CTLD_PORT SLURMD_PORT < <(python3 -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
ME=$(id -un)
mkdir -p "$D/state" "$D/spool"

# munge, with its own key and socket.
dd if=/dev/urandom of="$D/munge.key" bs=1024 count=1 status=none
chmod 400 "$D/munge.key"
munged --key-file="$D/munge.key" --socket="$D/munge.socket" --pid-file="$D/munged.pid" --log-file="$D/munged.log" \
  --seed-file="$D/munge.seed" >>"$D/munged.log" 2>&1 || fail "munged did not start"

cat >"$D/slurm.conf" <<EOF
ClusterName=butler
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=$ME
SlurmdUser=$ME
AuthType=auth/munge
CryptoType=crypto/munge
AuthInfo=socket=$D/munge.socket
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups here: track processes through /proc, no task binding, no accounting (sacct does not work; the end state
# of a job stays in \`scontrol show job\` for MinJobAge seconds).
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MaxArraySize=10001
MaxJobCount=20000
MinJobAge=600
# Speed for many short array tasks: the builtin (FIFO) scheduler starts every task that fits each time it runs, with
# no backfill pass to wait for; sched_min_interval=0 lets it run on every submission and completion, and
# batch_sched_delay=0 / KillWait=1 / CompleteWait=0 cut the pauses around task launch and end.
SchedulerType=sched/builtin
SchedulerParameters=sched_min_interval=0,batch_sched_delay=0,default_queue_depth=10000
KillWait=1
CompleteWait=0
SlurmdTimeout=30
MessageTimeout=10
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
# FORCE:8 puts up to 8 tasks on each CPU, so more tasks than cores run at once.
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:8
EOF
export SLURM_CONF="$D/slurm.conf"

# Absolute -f paths: the daemons change directory.
slurmctld -f "$SLURM_CONF" -i >>"$D/slurmctld.log" 2>&1 || fail "slurmctld did not start"
slurmd -f "$SLURM_CONF" >>"$D/slurmd.log" 2>&1 || fail "slurmd did not start"

# Wait up to 30 s for the node to be idle; a daemon whose pid file is there but whose process is not (or whose pid
# file is still missing after 5 s) has died.
state=""
for i in $(seq 300); do
  for d in munged slurmctld slurmd; do
    if [ -f "$D/$d.pid" ]; then alive "$d" || fail "$d died while the cluster came up"
    elif [ "$i" -gt 50 ]; then fail "$d wrote no pid file"; fi
  done
  state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 0.1
done
[ "$state" = idle ] || fail "node $NODE not idle after 30 s (state: ${state:-no answer from slurmctld})"

export BUTLER_TEST_SLURM=1
echo "with-slurm: Slurm $(sinfo --version | awk '{print $2}') up: node $NODE idle, partition debug (SLURM_CONF=$SLURM_CONF)" >&2
set +e
"$@"
code=$?
set -e
exit $code
