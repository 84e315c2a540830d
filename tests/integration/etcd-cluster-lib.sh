# SPDX-License-Identifier: MIT
# A 3-member etcd cluster on loopback for the coordinator tests (source after etcd-lib.sh).
#
#   start_etcd_cluster        members 1..3 in fresh data dirs; sets ETCD_ENDPOINTS (all three,
#                             comma-separated: etcdctl and medic.conf both read that)
#   etcd_member_kill I        SIGKILL member I;  etcd_member_start I: start it again (same data dir)
#   etcd_leader               prints the index (1..3) of the current leader, from etcdctl endpoint status
#
# Each member is started by $T/etcd-sI.sh (exec etcd ...), its pid is kept in $T/etcd-sI.pid,
# which lib.sh's cleanup reads at exit: members restarted by a helper program (the safety
# test's swarm) are cleaned up too, as long as it writes the new pid there.

ETCD_MEMBERS=3
ETCD_CURL=()                    # client URL of member I

start_etcd_cluster() {
        local i cluster="" token="medic-test-$$"
        local -a pp mp
        for i in $(seq "$ETCD_MEMBERS"); do
                ETCD_CURL[$i]="http://127.0.0.1:$(free_port)"
                pp[$i]=$(free_port)
                mp[$i]=$(free_port)
                cluster+="${cluster:+,}s$i=http://127.0.0.1:${pp[$i]}"
        done
        for i in $(seq "$ETCD_MEMBERS"); do
                cat > "$T/etcd-s$i.sh" <<SH
#!/bin/sh
exec etcd --name s$i --data-dir "$T/etcd-s$i" \\
        --listen-client-urls ${ETCD_CURL[$i]} --advertise-client-urls ${ETCD_CURL[$i]} \\
        --listen-peer-urls http://127.0.0.1:${pp[$i]} --initial-advertise-peer-urls http://127.0.0.1:${pp[$i]} \\
        --initial-cluster $cluster --initial-cluster-state new --initial-cluster-token $token \\
        --listen-metrics-urls http://127.0.0.1:${mp[$i]} >> "$T/etcd-s$i.log" 2>&1
SH
                chmod 0755 "$T/etcd-s$i.sh"
                track_pidfile "$T/etcd-s$i.pid"
                etcd_member_start "$i"
        done
        ETCD_ENDPOINTS=$(IFS=,; echo "${ETCD_CURL[*]:1}")
        ETCD_URL=${ETCD_CURL[1]}
        for i in $(seq "$ETCD_MEMBERS"); do
                wait_for 30 "curl -sf -m 2 ${ETCD_CURL[$i]}/health | grep -q true" ||
                        bail_out "etcd member $i did not start: $(tail -5 "$T/etcd-s$i.log")"
        done
}

# (Started from a subshell: not a job of the test's shell, which would report its death.)
etcd_member_start() {
        ( "$T/etcd-s$1.sh" </dev/null & echo $! > "$T/etcd-s$1.pid" )
}

etcd_member_kill() {
        local p
        p=$(cat "$T/etcd-s$1.pid" 2>/dev/null)
        [ -n "$p" ] || return 0
        kill -KILL "$p" 2>/dev/null
        wait_for 5 "! kill -0 $p 2>/dev/null"
        : > "$T/etcd-s$1.pid"
}

etcd_member_healthy() { curl -sf -m 2 "${ETCD_CURL[$1]}/health" | grep -q '"health":"true"'; }

etcd_leader() {
        ETCDCTL_API=3 etcdctl --endpoints="$ETCD_ENDPOINTS" --command-timeout=3s endpoint status -w json 2>/dev/null |
                python3 -c '
import json, sys
urls = sys.argv[1].split(",")
for s in json.load(sys.stdin):
    st = s["Status"]
    if st["leader"] == st["header"]["member_id"]:
        print(urls.index(s["Endpoint"]) + 1)
' "$ETCD_ENDPOINTS"
}
