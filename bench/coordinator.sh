#!/bin/bash
# SPDX-License-Identifier: MIT
# The etcd coordinator at scale: NODES simulated nodes (medicd's own coordinator code, many
# per process) against a 3-member etcd on loopback with fresh data directories. Prints:
#   - grant latency p50/p99 when a slot is free (nodes spread over 10 groups);
#   - requests per idle node per minute (lease keep-alives only: watches, not polling);
#   - grant latency in one group of 500 members (more than one etcd transaction can compare
#     member by member: the grant is checked against the group read back at its revision);
#   - a 100-node group with a 10% budget, each node "rebooting" for HOLD ms: how close the
#     rollout comes to the ideal 10 waves, and how many of the waiters' decisions needed a
#     read of the group (the rest were made on the copy each node's watch keeps).
# Each phase uses its own node and group names (the phases share the etcd cluster).
# Usage (from a built tree, as any user): bash bench/coordinator.sh [NODES] [IDLE_SECONDS] [HOLD_MS]
# PHASES="latency idle group rollout" (the default: all four) runs a subset, in that order;
# ROUNDS=N runs the rollout N times (fresh names each round); ETCD_DIR=DIR holds etcd's data
# (default /tmp; /dev/shm: no fsync cost); MAXRSS_MB=M (default 4096) stops a coord-bench that
# grows past M MiB (and says so), and the next phase runs; WRAP="heaptrack -o F" runs it under a tool.
set -eu
phases=${PHASES:-latency idle group rollout}
rounds=${ROUNDS:-1}
top=$(cd "$(dirname "$0")/.." && pwd)
nodes=${1:-1000}; idle=${2:-60}; hold=${3:-1000}
make -C "$top" -s bench/coord-bench >/dev/null
# ETCD_DIR=/dev/shm puts etcd's data on tmpfs (no fsync cost: what is left is the coordinator's).
T=$(mktemp -d "${ETCD_DIR:-/tmp}/medic-bench.XXXXXX")
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
cluster="" eps=""
declare -a cp pp
for i in 1 2 3; do cp[$i]=$(port); pp[$i]=$(port); cluster+="${cluster:+,}m$i=http://127.0.0.1:${pp[$i]}"; done
for i in 1 2 3; do
        etcd --name "m$i" --data-dir "$T/m$i" --initial-cluster-token bench --initial-cluster "$cluster" \
                --initial-cluster-state new --listen-peer-urls "http://127.0.0.1:${pp[$i]}" \
                --initial-advertise-peer-urls "http://127.0.0.1:${pp[$i]}" \
                --listen-client-urls "http://127.0.0.1:${cp[$i]}" --advertise-client-urls "http://127.0.0.1:${cp[$i]}" \
                --listen-metrics-urls "http://127.0.0.1:$(port)" > "$T/m$i.log" 2>&1 &
        pids+=($!)
        eps+="${eps:+,}http://127.0.0.1:${cp[$i]}"
done
for _ in $(seq 100); do curl -sf "http://127.0.0.1:${cp[1]}/health" | grep -q true && break; sleep 0.2; done
echo "etcd: 3 members on loopback; $nodes simulated nodes"
maxrss=${MAXRSS_MB:-4096}
# One run of coord-bench, watched: its peak RSS is printed, and it is killed past MAXRSS_MB.
run() {
        ${WRAP:-} "$top/bench/coord-bench" "$@" &
        local pid=$! peak=0 rss
        while kill -0 "$pid" 2>/dev/null; do
                rss=$(awk '/^VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status" 2>/dev/null || echo 0)
                [ "${rss:-0}" -gt "$peak" ] && peak=$rss
                if [ "${rss:-0}" -gt "$maxrss" ]; then
                        echo "coord-bench $*: RSS $rss MiB > $maxrss MiB: stopped" >&2
                        kill "$pid"
                fi
                sleep 0.5
        done
        wait "$pid" || true
        echo "  (coord-bench $3 $4: peak RSS $peak MiB)"
}
for ph in $phases; do
        case $ph in
        latency) run "$eps" "$nodes" 10 latency 200 ;;
        idle) run "$eps" "$nodes" 10 idle "$idle" ;;
        group) BENCH_TAG=group run "$eps" 500 1 latency 50 ;;
        rollout) for r in $(seq "$rounds"); do BENCH_TAG=r$r run "$eps" 100 1 rollout "$hold"; done ;;
        *) echo "unknown phase $ph" >&2; exit 2 ;;
        esac
done
