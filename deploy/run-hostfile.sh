#!/usr/bin/env bash
# Starts the Neptune cluster that HOSTFILE describes, over ssh: entry i of the file runs
# `neptune hostfile --file HOSTFILE --index i --certs CERTS` on its host; the driver
# (entry 0) runs the unified application with OPTIONS and its report is printed here.
#
#   deploy/run-hostfile.sh HOSTFILE CERTS [application OPTIONS]
#
# Every host needs, at the same paths: the same `neptune` binary (every process of a
# cluster must run the same executable; $NEPTUNE names it, default `neptune` on the
# PATH), the hostfile ($REMOTE_HOSTFILE, default HOSTFILE), and CERTS holding ca.pem and
# its node's NAME.pem and NAME.key (`neptune cert init`, `neptune cert issue`; see
# deploy/README.md). ssh must log in without a password.
#
# Under Slurm no ssh is needed: srun starts one task per node and each task's
# $SLURM_PROCID is its index (deploy/README.md has a batch script):
#
#   srun bash -c 'exec neptune hostfile --file hosts --index "$SLURM_PROCID" --certs certs'
set -euo pipefail

if [[ $# -lt 2 ]]; then
    echo "usage: $0 HOSTFILE CERTS [application OPTIONS]" >&2
    exit 2
fi
hostfile=$1
certs=$2
shift 2
neptune=${NEPTUNE:-neptune}
remote_hostfile=${REMOTE_HOSTFILE:-$hostfile}

# The host of each entry, in index order: the second word of every line that is not
# blank or a comment, without its port or IPv6 brackets. `neptune hostfile` checks the
# file itself, on every host.
mapfile -t hosts < <(
    sed -e 's/#.*//' "$hostfile" |
        awk 'NF { print $2 }' |
        sed -E -e 's/^\[([^]]*)\].*$/\1/' -e 't' -e 's/:[0-9]*$//'
)
if [[ ${#hosts[@]} -lt 2 ]]; then
    echo "$0: $hostfile needs a driver and at least one executor" >&2
    exit 2
fi

# One remote command line, quoted for the remote shell.
remote() {
    local index=$1
    shift
    printf '%q ' "$neptune" hostfile --file "$remote_hostfile" --index "$index" \
        --certs "$certs" "$@"
}

pids=()
# On exit or interruption, stop the local ssh clients. The remote executors exit on
# their own once their driver is gone.
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM

# All at once: an executor keeps trying to reach the driver until QUIC's idle timeout
# (seconds: runtime/src/quic/tls.rs), so the driver need not be listening before the
# executors start.
ssh -n "${hosts[0]}" "$(remote 0 "$@")" &
driver=$!
pids+=("$driver")
for i in "${!hosts[@]}"; do
    if [[ $i -gt 0 ]]; then
        ssh -n "${hosts[$i]}" "$(remote "$i")" &
        pids+=("$!")
    fi
done
# The driver's exit status is the cluster's.
wait "$driver"
