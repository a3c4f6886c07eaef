#!/usr/bin/env bash
# A one-node Slurm cluster on loopback for the tests, without systemd: munged, slurmctld and slurmd started
# directly, everything (config, keys, sockets, spool, logs, pid files) under one state directory.
#
#   .ci/slurm-up.sh [up]     bring it up (idempotent: a running cluster is left alone); prints the
#                            `export SLURM_CONF=...` line the Slurm commands need
#   .ci/slurm-up.sh down     stop the daemons it started, by the PIDs in their pid files
#   .ci/slurm-up.sh env      print the export line only
#
# JELLYBEAN_SLURM_DIR (default /tmp/jellybean-slurm) is the state directory; JELLYBEAN_SLURM_CPUS (default 16)
# the CPUs the node declares (more than the machine has is allowed: config_overrides). The node is named after
# this machine (hostname -s) and listens on 127.0.0.1 only. Needs root (slurmd runs tasks as any user) and the
# Debian packages slurmctld slurmd slurm-client munge (installed with --no-install-recommends when missing).
set -euo pipefail

dir=${JELLYBEAN_SLURM_DIR:-/tmp/jellybean-slurm}
cpus=${JELLYBEAN_SLURM_CPUS:-16}
node=$(hostname -s)
conf=$dir/slurm.conf
say() { echo "slurm-up: $*" >&2; }

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop() {
  local f pid
  for f in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    if alive "$f"; then
      pid=$(cat "$f")
      kill "$pid"
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
      if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
    fi
    rm -f "$f"
  done
}

case "${1:-up}" in
  down) stop; say "stopped"; exit 0 ;;
  env) echo "export SLURM_CONF=$conf"; exit 0 ;;
  up) ;;
  *) echo "usage: $0 [up|down|env]" >&2; exit 2 ;;
esac

[ "$(id -u)" -eq 0 ] || { say "needs root (slurmd starts tasks as the submitting user)"; exit 1; }

missing=()
for p in slurmctld slurmd slurm-client munge; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

export SLURM_CONF=$conf
if alive "$dir/munge/munged.pid" && alive "$dir/slurmctld.pid" && alive "$dir/slurmd.pid" &&
   timeout 10 sinfo -h -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; then
  say "already up (node $node, $conf)"
  echo "export SLURM_CONF=$conf"
  exit 0
fi
stop # whatever part of an earlier cluster is left

# munged wants its key private and its socket's directory searchable by everyone (clients connect to it).
mkdir -p "$dir/state" "$dir/spool" "$dir/munge" "$dir/munge-socket"
chown munge:munge "$dir/munge" "$dir/munge-socket"
chmod 0700 "$dir/munge"
chmod 0755 "$dir/munge-socket" "$dir"
if [ ! -s "$dir/munge/munge.key" ]; then
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
fi
chown munge:munge "$dir/munge/munge.key"
chmod 0400 "$dir/munge/munge.key"
socket=$dir/munge-socket/munge.socket
runuser -u munge -- munged --key-file="$dir/munge/munge.key" --socket="$socket" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"

# Job ids restart at FirstJobId on a new cluster: start from the clock, so that a re-created cluster never
# reuses an id (run directories are named after it).
first_id=$(( $(date +%s) % 50000000 + 1000 ))
if [ -s "$dir/state/job_state" ]; then first_id=1000; fi # an existing state keeps counting where it was

cat > "$conf" <<EOF
ClusterName=jellybean
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
ReturnToService=2
FirstJobId=$first_id
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
KillWait=5
NodeName=$node NodeAddr=127.0.0.1 NodeHostname=$node CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF

slurmctld -f "$conf"
slurmd -f "$conf" -N "$node"
for _ in $(seq 100); do
  if timeout 5 sinfo -h -o %T 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'; then
    say "up: node $node with $cpus CPUs, state in $dir"
    echo "export SLURM_CONF=$conf"
    exit 0
  fi
  sleep 0.1
done
say "the node did not become idle; sinfo says: $(sinfo -h -N -o '%N %T %E' 2>&1 || true)"
tail -5 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
exit 1
