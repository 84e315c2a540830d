# SPDX-License-Identifier: MIT
# Helpers for the coordinator tests: a real etcd on loopback (Debian's etcd-server) in a fresh
# data directory, and simulated nodes (tests/helpers/coord-client) driven through FIFOs.

COORD_CLIENT="$top_builddir/tests/helpers/coord-client"
declare -A CLIENT_PID CLIENT_FD   # how many output lines were consumed: $T/NAME.seen (survives subshells)
ETCD_PIDS=()

need_etcd() {
        command -v etcd >/dev/null || { echo "1..0 # SKIP etcd is not installed (Debian package etcd-server)"; exit 0; }
        [ -x "$COORD_CLIENT" ] || { echo "1..0 # SKIP $COORD_CLIENT not built"; exit 0; }
}

# start_etcd: one member; sets ETCD_URL.
start_etcd() {
        local cp pp mp
        cp=$(free_port); pp=$(free_port); mp=$(free_port)
        ETCD_URL="http://127.0.0.1:$cp"
        etcd --name s1 --data-dir "$T/etcd1" \
                --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
                --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
                --initial-cluster "s1=http://127.0.0.1:$pp" --initial-cluster-state new \
                --listen-metrics-urls "http://127.0.0.1:$mp" > "$T/etcd1.log" 2>&1 &
        ETCD_PIDS+=($!)
        track_pid $!
        wait_for 20 "curl -sf $ETCD_URL/health | grep -q true" || bail_out "etcd did not start: $(tail -5 "$T/etcd1.log")"
}

# medicd_on_etcd: $T/medic.conf (write_config's) uses the etcd backend at $ETCD_URL, lease 3 s.
medicd_on_etcd() {
        sed -i 's/^backend = local/backend = etcd/' "$T/medic.conf"
        printf 'endpoints = %s\nlease_ttl = 3s\n' "$ETCD_URL" >> "$T/medic.conf"
}

etcdget() { ETCDCTL_API=3 etcdctl --endpoints="${ETCD_ENDPOINTS:-$ETCD_URL}" get "$@" 2>/dev/null; }

# client_conf NAME GROUP: a medic.conf for a simulated node ($CLIENT_EXTRA: more [coordinator] lines).
client_conf() {
        client_conf_for "$1" "$2" <<CONF
[coordinator]
backend = etcd
endpoints = ${ETCD_ENDPOINTS:-$ETCD_URL}
lease_ttl = ${LEASE_TTL:-3s}
request_timeout = ${REQUEST_TIMEOUT:-3s}
${CLIENT_EXTRA:-}
CONF
}

# client_conf_for NAME GROUP: $T/NAME.conf for a simulated node: its [medic] section (own
# state directory, socket and stop file), then stdin (its [coordinator] section).
client_conf_for() {
        mkdir -p "$T/state-$1"
        {
                printf '[medic]\nnode = %s\ngroup = %s\nstate_dir = %s\nsocket = %s\nstop_file = %s\n' \
                        "$1" "$2" "$T/state-$1" "$T/$1.sock" "$T/stop-$1"
                cat
        } > "$T/$1.conf"
}

# client_start NAME [GROUP]: starts a simulated node and waits until it is registered.
client_start() {
        local name=$1 group=${2:-g1} fd
        client_conf "$name" "$group"
        rm -f "$T/$name.in"
        mkfifo "$T/$name.in"
        "$COORD_CLIENT" "$T/$name.conf" < "$T/$name.in" > "$T/$name.out" 2> "$T/$name.err" &
        CLIENT_PID[$name]=$!
        track_pid $!
        exec {fd}> "$T/$name.in"
        CLIENT_FD[$name]=$fd
        echo 0 > "$T/$name.seen"
        client_wait "$name" '^ready' 15 >/dev/null || { diag "client $name did not register: $(tail -3 "$T/$name.err")"; return 1; }
}

client_send() { printf '%s\n' "$2" >&"${CLIENT_FD[$1]}"; }

# client_wait NAME ERE SECONDS: waits for the next unseen output line matching ERE; prints it.
client_wait() {
        local name=$1 re=$2 end n line seen
        end=$(( $(date +%s%N) / 1000000 + $(python3 -c "print(int(float('$3') * 1000))") ))
        while [ "$(( $(date +%s%N) / 1000000 ))" -lt "$end" ]; do
                n=$(wc -l < "$T/$name.out")
                seen=$(cat "$T/$name.seen")
                while [ "$seen" -lt "$n" ]; do
                        seen=$((seen + 1))
                        echo "$seen" > "$T/$name.seen"
                        line=$(sed -n "${seen}p" "$T/$name.out")
                        if printf '%s' "$line" | grep -Eq -- "$re"; then
                                printf '%s\n' "$line"
                                return 0
                        fi
                done
                sleep 0.02
        done
        return 1
}

# client_quiet NAME ERE SECONDS: true when no line matching ERE comes within SECONDS.
client_quiet() { ! client_wait "$@" >/dev/null; }

client_kill() { kill -9 "${CLIENT_PID[$1]}" 2>/dev/null; wait "${CLIENT_PID[$1]}" 2>/dev/null; }

# status_json NAME [GROUP]: the coordinator's view as seen by client NAME.
status_json() {
        client_send "$1" "status ${2:-}"
        client_wait "$1" '^\{"ok":true,"backend"|^\{"ok":false' 10
}

admin() { client_send "$1" "admin $2"; client_wait "$1" '^\{' 10; }

# local_json NAME: client NAME's own coordinator status (what medicctl shows as "local").
local_json() {
        client_send "$1" local
        client_wait "$1" '^\{.*"local":true' 10
}

# use_etcd_backend: switches $T/medic.conf's [coordinator] to the etcd of start_etcd.
use_etcd_backend() {
        sed -i "s|^backend = local\$|backend = etcd\nendpoints = ${ETCD_ENDPOINTS:-$ETCD_URL}\nlease_ttl = ${LEASE_TTL:-3s}|" "$T/medic.conf"
}

# etcd_holders [GROUP]: the nodes that hold the group's permission in etcd, one a line.
etcd_holders() {
        etcdget --prefix --keys-only "/medic/groups/${1:-$MEDIC_GROUP}/holders/" | sed -n 's|.*/holders/||p'
}

# reboot_node NAME BACKEND: a fresh node for a reboot test, with the local or the etcd
# coordinator: MEDIC_NODE and MEDIC_GROUP are NAME, the state directory is empty, medic.conf
# is new with sysrq as the only method (a deadline long enough that the reboot stays pending),
# the reboot test files (lib.sh) and a pre-reboot task that appends the time (ns) to $T/pre-ran.
reboot_node() {
        MEDIC_NODE=$1
        MEDIC_GROUP=$1
        BACKEND=$2
        rm -rf "$T/state" "$T/pre-ran"
        mkdir -p "$T/state"
        write_config
        reboot_test_files 1
        reboot_settings "methods = sysrq" "sysrq_deadline = 30s"
        [ "$BACKEND" = etcd ] && use_etcd_backend
        printf '#!/bin/sh\ndate +%%s%%N >> %s/pre-ran\n' "$T" > "$T/pre-reboot.d/10-mark"
        chmod 0755 "$T/pre-reboot.d/10-mark"
}

# reboot_started: any sign of a reboot: a pre-reboot task ran, a sysrq key, a reboot intent.
reboot_started() {
        [ -s "$T/pre-ran" ] || [ -s "$T/sysrq-trigger" ] || [ -e "$T/state/reboot-intent.json" ]
}

# permission_holder: who holds the permission: the nodes with a holder key in etcd (backend
# etcd), or the local slot's holder (a rule) as medicctl status shows it.
permission_holder() {
        if [ "${BACKEND:-local}" = etcd ]; then
                etcd_holders
        else
                ctl_json status | jget 'd["coordinator"].get("holder") or ""'
        fi
}
