#!/usr/bin/env bash
# A real one-node SLURM cluster on localhost, for the tests and for trying cluster mode on a laptop.
#
#   workflow/scripts/slurm-local.sh up        # install (if missing) + configure + start; idempotent
#   workflow/scripts/slurm-local.sh install   # apt-get install slurmctld slurmd slurm-client munge
#   workflow/scripts/slurm-local.sh configure # write /etc/slurm/slurm.conf for this machine
#   workflow/scripts/slurm-local.sh start     # munged, slurmctld, slurmd; wait until the node is idle
#   workflow/scripts/slurm-local.sh stop      # stop the three daemons by their PID files
#   workflow/scripts/slurm-local.sh status    # daemons and `sinfo`
#
# Needs root (or sudo): the daemons run as root, the packages come from Debian/Ubuntu apt.
# No systemd is assumed (containers, CI): /run/munge is created by hand and every daemon is
# started and stopped directly, by PID. The cluster has no accounting (accounting_storage/none),
# so Snakemake's SLURM executor must poll with `squeue` (see workflow/profiles/slurm/); jobs stay
# visible to squeue for MinJobAge seconds after they end, which is why MinJobAge is large here.
#
# Environment: WELFARE_SLURM_DIR (state, spool, logs, PID files; default /var/tmp/welfare-slurm),
# WELFARE_SLURM_WAIT (seconds to wait for the node; default 30).
set -euo pipefail

STATE_DIR="${WELFARE_SLURM_DIR:-/var/tmp/welfare-slurm}"
WAIT_S="${WELFARE_SLURM_WAIT:-30}"
CONF="${SLURM_CONF:-/etc/slurm/slurm.conf}"
MUNGE_RUN=/run/munge
PACKAGES=(slurmctld slurmd slurm-client munge)

log() { echo "slurm-local: $*" >&2; }
die() { log "error: $*"; exit 1; }

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

installed() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v sbatch >/dev/null && command -v munged >/dev/null
}

cmd_install() {
    if installed; then
        log "already installed ($(slurmctld -V))"
        return
    fi
    command -v apt-get >/dev/null || die "no apt-get: install ${PACKAGES[*]} with your package manager"
    log "installing ${PACKAGES[*]} (about 30 s)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${PACKAGES[@]}" >/dev/null
}

cmd_configure() {
    installed || die "SLURM is not installed: run '$0 install' first"
    as_root mkdir -p "$(dirname "$CONF")" "$STATE_DIR"/{ctld,spool,log}
    # `slurmd -C` prints this machine's NodeName/CPUs/RealMemory as slurmd itself will see them,
    # so the node never drains for "Low RealMemory" or a CPU mismatch.
    local node_line node
    node_line=$(slurmd -C | head -n 1)
    node=$(sed -n 's/^NodeName=\([^ ]*\).*/\1/p' <<<"$node_line")
    [[ -n $node ]] || die "could not read 'slurmd -C': $node_line"
    as_root tee "$CONF" >/dev/null <<EOF
# Written by workflow/scripts/slurm-local.sh: a one-node test cluster on localhost.
ClusterName=welfare-local
SlurmctldHost=${node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
ReturnToService=2
MinJobAge=3600
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=${STATE_DIR}/ctld
SlurmdSpoolDir=${STATE_DIR}/spool
SlurmctldPidFile=${STATE_DIR}/slurmctld.pid
SlurmdPidFile=${STATE_DIR}/slurmd.pid
SlurmctldLogFile=${STATE_DIR}/log/slurmctld.log
SlurmdLogFile=${STATE_DIR}/log/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
${node_line} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=local Nodes=${node} Default=YES MaxTime=INFINITE State=UP
EOF
    log "wrote $CONF (node ${node})"
}

pid_alive() {  # pid_alive FILE -> true if the PID in FILE is a running process
    [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
    local limit=$1 what=$2
    shift 2
    local deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
    log "$what"
}

node_idle() { sinfo -h -o %T | grep -qE '^(idle|mixed|allocated)'; }

cmd_start() {
    [[ -f $CONF ]] || cmd_configure
    as_root mkdir -p "$MUNGE_RUN" "$STATE_DIR"/{ctld,spool,log}
    as_root chown munge:munge "$MUNGE_RUN"
    as_root chmod 0755 "$MUNGE_RUN"
    if [[ ! -s /etc/munge/munge.key ]]; then
        as_root mungekey --create --keyfile /etc/munge/munge.key 2>/dev/null \
            || as_root sh -c 'dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null'
        as_root chown munge:munge /etc/munge/munge.key
        as_root chmod 0400 /etc/munge/munge.key
    fi
    if pid_alive "$MUNGE_RUN/munged.pid"; then
        log "munged already running"
    else
        as_root runuser -u munge -- /usr/sbin/munged
        wait_for 10 "munged up" munge -n || die "munged did not start"
    fi
    if pid_alive "$STATE_DIR/slurmctld.pid"; then
        log "slurmctld already running"
    else
        as_root slurmctld -f "$CONF"
    fi
    wait_for "$WAIT_S" "slurmctld up" scontrol ping \
        || die "slurmctld did not answer; see $STATE_DIR/log/slurmctld.log"
    if pid_alive "$STATE_DIR/slurmd.pid"; then
        log "slurmd already running"
    else
        as_root slurmd -f "$CONF"
    fi
    if ! wait_for "$WAIT_S" "node ready: $(sinfo -h -o '%N %c CPUs %m MB')" node_idle; then
        # A node left DOWN/DRAIN by an earlier run comes back with an explicit resume.
        as_root scontrol update nodename="$(sinfo -h -o %N)" state=resume 2>/dev/null || true
        wait_for 10 "node resumed" node_idle \
            || die "node not idle: $(sinfo -h -o '%T %E'); see $STATE_DIR/log/slurmd.log"
    fi
}

stop_pidfile() {  # stop_pidfile NAME FILE
    local name=$1 file=$2
    if pid_alive "$file"; then
        local pid
        pid=$(cat "$file")
        as_root kill "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then as_root kill -9 "$pid"; fi
        log "stopped $name ($pid)"
    fi
    as_root rm -f "$file"
}

cmd_stop() {
    stop_pidfile slurmd "$STATE_DIR/slurmd.pid"
    stop_pidfile slurmctld "$STATE_DIR/slurmctld.pid"
    stop_pidfile munged "$MUNGE_RUN/munged.pid"
}

cmd_status() {
    local rc=0
    for pair in "munged:$MUNGE_RUN/munged.pid" "slurmctld:$STATE_DIR/slurmctld.pid" \
        "slurmd:$STATE_DIR/slurmd.pid"; do
        if pid_alive "${pair#*:}"; then
            echo "${pair%%:*}: running ($(cat "${pair#*:}"))"
        else
            echo "${pair%%:*}: stopped"; rc=1
        fi
    done
    if ((rc == 0)); then sinfo; fi
    return "$rc"
}

case "${1:-}" in
    install) cmd_install ;;
    configure) cmd_configure ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    up) cmd_install; cmd_configure; cmd_start ;;
    *) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
