#!/usr/bin/env bash
# Start a real single-node Slurm on this machine (CI, a laptop, a container):
# Debian's slurmctld + slurmd + munge, configured with this machine's
# hostname, cores and memory, one partition `debug`.  Run as root.
#
# Idempotent: if `sinfo` already shows this node up (idle, mixed or
# allocated) with the slurm.conf this script writes, it does nothing; up
# with another slurm.conf (e.g. stock_start_slurm.sh's), it refuses.  Exits
# non-zero with one clear line on stderr if Slurm does not come up; the
# daemons' logs are in /var/log/slurm.
#
# Container-friendly choices: no cgroups (proctrack/linuxproc, task/none),
# no accounting daemon (sacct is unavailable; use squeue/scontrol), daemons
# run as root (SlurmUser=root), node and controller on 127.0.0.1.
#
# GPUSIM_SLURM_FLAVOUR=stock (what stock_start_slurm.sh sets) writes
# Debian's own example slurm.conf instead, with only the lines naming this
# cluster, controller, node and partition changed.
set -uo pipefail

FLAVOUR=${GPUSIM_SLURM_FLAVOUR:-ci}
ME=${FLAVOUR}_start_slurm
die() { echo "$ME: error: $*" >&2; exit 1; }
note() { echo "$ME: $*" >&2; }

HOST=$(hostname -s)
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
LOG_DIR=/var/log/slurm
WAIT_S=${SLURM_START_TIMEOUT_S:-90}

node_state() { sinfo -h -n "$HOST" -o %T 2>/dev/null | head -n 1; }

[ "$FLAVOUR" = ci ] || [ "$FLAVOUR" = stock ] || die "GPUSIM_SLURM_FLAVOUR=$FLAVOUR: expected ci or stock"

# -------------------------------------------------------------- slurm.conf
CPUS=$(nproc)
if command -v free >/dev/null 2>&1; then
  MEM_TOTAL=$(free -m | awk '/^Mem:/ {print $2}')
else  # minimal images may lack procps
  MEM_TOTAL=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
fi
# Leave the OS a margin: 10 % or 512 MiB, whichever is larger.
MARGIN=$(( MEM_TOTAL / 10 > 512 ? MEM_TOTAL / 10 : 512 ))
REAL_MEM=$(( MEM_TOTAL - MARGIN ))
[ "$REAL_MEM" -gt 0 ] || REAL_MEM=$MEM_TOTAL

ci_conf() {
cat <<CONF
# Written by scripts/slurm/ci_start_slurm.sh: single-node Slurm for CI.
ClusterName=gpusim-ci
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# cred_expire also delays a requeued job's restart (default 120 s).
AuthInfo=cred_expire=15
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# Keep finished jobs visible to scontrol show job and squeue -t all for 10 min.
MinJobAge=600
KillWait=10
InactiveLimit=0
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$REAL_MEM State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
}

STOCK_EXAMPLE=/usr/share/doc/slurm-client/examples/slurm.conf.simple.gz
# Debian's example slurm.conf:
# every setting it leaves out takes Slurm's default (AuthInfo cred_expire
# 120 s, sched_interval 60 s, no DefMemPerCPU under CR_Core_Memory, ...).
stock_conf() {
  echo "# Written by scripts/slurm/stock_start_slurm.sh: Debian's example slurm.conf, only this node's lines changed."
  zcat "$STOCK_EXAMPLE" | sed -e "s/^ClusterName=.*/ClusterName=gpusim-stock/" \
    -e "s/^SlurmctldHost=.*/SlurmctldHost=$HOST(127.0.0.1)/" \
    -e "s/^NodeName=.*/NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$REAL_MEM State=UNKNOWN/" \
    -e "s/^PartitionName=.*/PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP/"
}

wanted_conf() {
  if [ "$FLAVOUR" = stock ]; then
    [ -s "$STOCK_EXAMPLE" ] || die "$STOCK_EXAMPLE not found (Debian's slurm-client package ships it)"
    stock_conf
  else
    ci_conf
  fi
}

if command -v sinfo >/dev/null 2>&1; then
  WANT=$(wanted_conf) || exit 1
  case "$(node_state)" in
    idle*|mixed*|allocated*|completing*)
      [ "$WANT" = "$(cat "$CONF" 2>/dev/null)" ] || die "Slurm is already up on $HOST with another $CONF \
($(head -n 1 "$CONF" 2>/dev/null)); stop its slurmctld and slurmd first"
      note "Slurm already up on $HOST ($(node_state))"; exit 0 ;;
  esac
fi

[ "$(id -u)" = 0 ] || die "must run as root to install and start Slurm"

# ---------------------------------------------------------------- packages
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1 \
   || ! command -v sbatch >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  note "installing slurmctld slurmd slurm-client munge (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null || die "apt-get update failed"
  apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null \
    || die "apt-get install slurmctld slurmd slurm-client munge failed"
fi

# ------------------------------------------------------------------- munge
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  note "generating /etc/munge/munge.key"
  if command -v mungekey >/dev/null 2>&1; then
    mungekey --create --keyfile=/etc/munge/munge.key --force || die "mungekey failed"
  else
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none || die "cannot write munge key"
  fi
fi
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
  note "starting munged"
  runuser -u munge -- /usr/sbin/munged || die "munged did not start (see /var/log/munge/munged.log)"
  for _ in $(seq 1 20); do
    munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break
    sleep 0.5
  done
  munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 || die "munge does not answer (see /var/log/munge/munged.log)"
fi

# -------------------------------------------------------------- slurm.conf
WANT=$(wanted_conf) || exit 1
install -d -m 0755 "$CONF_DIR" "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd
if [ "$FLAVOUR" = stock ]; then  # its spool directories and log, owned by its SlurmUser
  user=$(sed -n 's/^SlurmUser=//p' <<<"$WANT")
  for key in SlurmdSpoolDir StateSaveLocation; do
    dir=$(sed -n "s/^$key=//p" <<<"$WANT")
    [ -n "$dir" ] && install -d -m 0755 -o "${user:-root}" "$dir"
  done
  chown "${user:-root}" "$LOG_DIR"
fi
printf '%s\n' "$WANT" > "$CONF"
note "wrote $CONF ($FLAVOUR): node $HOST, $CPUS CPUs, RealMemory $REAL_MEM MiB"

# ----------------------------------------------------------------- daemons
if ! scontrol ping 2>/dev/null | grep -q "is UP"; then
  if [ -s /run/slurmctld.pid ] && kill -0 "$(cat /run/slurmctld.pid)" 2>/dev/null; then
    note "slurmctld (pid $(cat /run/slurmctld.pid)) is running but not answering; asking it to reread the config"
    scontrol reconfigure 2>/dev/null || true
  else
    note "starting slurmctld"
    # -c: start from a clean state (no jobs or nodes from an earlier config).
    slurmctld -c || die "slurmctld did not start (see $LOG_DIR/slurmctld.log)"
  fi
fi
for _ in $(seq 1 $(( WAIT_S * 2 ))); do
  scontrol ping 2>/dev/null | grep -q "is UP" && break
  sleep 0.5
done
scontrol ping 2>/dev/null | grep -q "is UP" \
  || die "slurmctld does not answer after ${WAIT_S}s: $(tail -n 3 "$LOG_DIR/slurmctld.log" 2>/dev/null | tr '\n' ' ')"

if ! { [ -s /run/slurmd.pid ] && kill -0 "$(cat /run/slurmd.pid)" 2>/dev/null; }; then
  note "starting slurmd"
  slurmd || die "slurmd did not start (see $LOG_DIR/slurmd.log)"
fi

deadline=$(( $(date +%s) + WAIT_S ))
while :; do
  state=$(node_state)
  case "$state" in
    idle*|mixed*|allocated*) break ;;
    down*|drain*|drained*)
      # A node that was down in the saved state comes back once slurmd registers.
      scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true ;;
  esac
  [ "$(date +%s)" -lt "$deadline" ] \
    || die "node $HOST is '${state:-unknown}' after ${WAIT_S}s, not idle: $(tail -n 3 "$LOG_DIR/slurmd.log" 2>/dev/null | tr '\n' ' ')"
  sleep 1
done
note "Slurm is up: $(sinfo -h -o '%P %D %T %C' | head -n 1) (partition nodes state cpus A/I/O/T)"
