# SPDX-License-Identifier: MIT
# Several medicd nodes in one group on a real etcd. Source it after lib.sh, etcd-lib.sh and
# setup (it wraps setup's cleanup):
#
#   setup 60; need_etcd; . nodes-lib.sh; start_etcd
#   node_add A                 # $T/nodes/A: medic.conf (etcd backend), checks/, rules/, state/,
#                              # the reboot test files of lib.sh (the ladder is "sysrq" into a file)
#   node_reboot_rule A         # checks wants-reboot ($N/trigger), blocker ($N/blocked) and the
#                              # rule reboot-for-updates { reboot {}, unless = { "blocker" } }
#   node_start A
#   touch "$(node_dir A)/trigger"
#   wait_for 10 "node_rebooted A"
#   on A ctl_json explain reboot-for-updates
#
# A node's directory has the layout setup gives $T, so every helper of lib.sh works on a node
# through `on NAME COMMAND...`, which runs COMMAND with T, MEDIC_NODE, MEDIC_GROUP and
# MEDICD_PID bound to the node's (bash's dynamic scope: the variables are restored after).

[ -n "$T" ] || bail_out "nodes-lib.sh is sourced before setup"
declare -A NODE_GROUP NODE_PID
NODES_T=$T
NODE_SYSRQ_DEADLINE=${NODE_SYSRQ_DEADLINE:-10m}   # the ladder's only method, "sysrq", stays pending
SLOW_PROXY="$top_srcdir/tests/helpers/slow-proxy.py"

# lib.sh's cleanup, from whichever node `on` was running for (it must see the test's own $T).
_nodes_cleanup() {
        local rc=$?
        T=$NODES_T
        MEDICD_PID=""
        (exit $rc)
        _cleanup
}
trap _nodes_cleanup EXIT

node_dir() { echo "$NODES_T/nodes/$1"; }

on() {
        local T MEDIC_NODE=$1 MEDIC_GROUP=${NODE_GROUP[$1]:-$MEDIC_GROUP} MEDICD_PID=${NODE_PID[$1]:-}
        T=$(node_dir "$1")
        shift
        "$@"
}

# node_add NAME [GROUP] [ENDPOINTS]: a node's directory and medic.conf: the etcd coordinator
# (lease_ttl LEASE_TTL, default 3s; request_timeout REQUEST_TIMEOUT, default 3s), metrics in
# the textfile $N/medic.prom, the reboot test files, methods = sysrq (deadline
# NODE_SYSRQ_DEADLINE), settle 3s.
node_add() {
        local name=$1 group=${2:-$MEDIC_GROUP} endpoints=${3:-${ETCD_ENDPOINTS:-$ETCD_URL}}
        NODE_GROUP[$name]=$group
        on "$name" _node_files "$endpoints"
}

_node_files() {
        mkdir -p "$T/checks" "$T/rules" "$T/state"
        write_config
        sed -i 's/^backend = local/backend = etcd/' "$T/medic.conf"
        sed -i "/^\[reboot\]/a methods = sysrq\nsysrq_deadline = $NODE_SYSRQ_DEADLINE\nsettle = 3s\nsettle_timeout = 1m" "$T/medic.conf"
        cat >> "$T/medic.conf" <<EOF
endpoints = $1
lease_ttl = ${LEASE_TTL:-3s}
request_timeout = ${REQUEST_TIMEOUT:-3s}

[metrics]
textfile = $T/medic.prom
EOF
        reboot_test_files
}

# node_conf NAME SECTION LINE: adds LINE at the top of [SECTION] of the node's medic.conf.
node_conf() {
        sed -i "/^\[$2\]/a $3" "$(node_dir "$1")/medic.conf"
}

# node_reboot_rule NAME: lib.sh's wants-reboot check and reboot-for-updates rule (retry 1s),
# with the check blocker (a problem while $N/blocked exists) in the rule's unless.
node_reboot_rule() {
        on "$1" reboot_rule_files 1s
        on "$1" _node_blocker
}

_node_blocker() {
        write_file "$T/checks/20-blocker.lua" <<EOF
check "blocker" { every = "1s", run = function()
  if medic.exists("$T/blocked") then return problem("a long job is running") end
  return ok("no job")
end }
EOF
        sed -i 's/remedy = reboot {}/remedy = reboot {}, unless = { "blocker" }/' "$T/rules/10-reboot.lua"
        grep -q 'unless = { "blocker" }' "$T/rules/10-reboot.lua" || bail_out "could not add the blocker to the rule"
}

# node_start NAME [ARGS...]: starts the node's medicd (try_start_medicd); bails out when it
# does not come up. node_try_start returns 1 instead.
node_try_start() {
        local name=$1 pid rc
        shift
        on "$name" _node_start "$@"
        rc=$?
        pid=$(cat "$(node_dir "$name")/pid" 2>/dev/null)
        NODE_PID[$name]=$pid
        [ -n "$pid" ] && track_pid "$pid"
        return $rc
}

_node_start() {
        local rc
        try_start_medicd "$@"
        rc=$?
        echo "$MEDICD_PID" > "$T/pid"
        return $rc
}

node_start() {
        node_try_start "$@" || bail_out "medicd of node $1 did not start"
}

node_stop() {
        on "$1" stop_medicd
        NODE_PID[$1]=""
        rm -f "$(node_dir "$1")/pid"
}

# node_registered NAME: its member key (on its lease) is in etcd.
node_registered() {
        etcdget --keys-only "/medic/groups/${NODE_GROUP[$1]:-$MEDIC_GROUP}/members/$1" | grep -q .
}

# group_keys GROUP KIND: the node names under /medic/groups/GROUP/KIND/ (holders, queue, ...),
# in the order etcd lists them.
group_keys() {
        etcdget --prefix --keys-only "/medic/groups/$1/$2/" | sed -n "s|^/medic/groups/$1/$2/||p"
}

# node_holds NAME, node_queued NAME: NAME has a holder key, a queue key in its group.
node_holds() { group_keys "${NODE_GROUP[$1]:-$MEDIC_GROUP}" holders | grep -qx -- "$1"; }
node_queued() { group_keys "${NODE_GROUP[$1]:-$MEDIC_GROUP}" queue | grep -qx -- "$1"; }

# queue_order GROUP: the waiting nodes, first in line first (etcd's create revision).
queue_order() {
        ETCDCTL_API=3 etcdctl --endpoints="${ETCD_ENDPOINTS:-$ETCD_URL}" get --prefix -w json "/medic/groups/$1/queue/" 2>/dev/null |
                python3 -c '
import base64, json, sys
d = json.load(sys.stdin)
for kv in sorted(d.get("kvs", []), key=lambda kv: int(kv["create_revision"])):
    print(base64.b64decode(kv["key"]).decode().rsplit("/", 1)[1])
'
}

# node_rebooted NAME: the reboot ladder ran (its only method, sysrq, wrote to the test file).
node_rebooted() { [ -s "$(node_dir "$1")/sysrq-trigger" ]; }

# client_sees NAME ERE SECONDS: client_wait without printing the line (for ok).
client_sees() { client_wait "$@" >/dev/null; }

# client_hold NAME GROUP: a coord-client NAME in GROUP that asks for the slot and gets it.
client_hold() {
        client_start "$1" "$2" || return 1
        client_send "$1" "acquire reboot"
        client_sees "$1" '^granted' 10
}

# node_cond NAME CONDITION: the condition's state on the node.
node_cond() { on "$1" cond_get "$2" state; }

# node_metric NAME SERIES: the value of a series in the node's metrics textfile (empty if none).
node_metric() { awk -v s="$2" '$1 == s { print $2 }' "$(node_dir "$1")/medic.prom" 2>/dev/null; }

# node_boot NAME: the node "reboots": medicd stopped, a new boot id, the trigger removed,
# medicd started again (it finds its intent, runs the post-reboot tasks, settles, releases).
node_boot() {
        local d
        d=$(node_dir "$1")
        node_stop "$1"
        cat /proc/sys/kernel/random/uuid > "$d/boot_id"
        rm -f "$d/trigger"
        : > "$d/sysrq-trigger"
        node_start "$1"
}

# start_slow_proxy NAME [UPSTREAM_URL]: slow-proxy.py in front of etcd (default ETCD_URL); the
# delay of its answers is in $T/NAME.delay (seconds, 0 at first). Sets PROXY_URL.
start_slow_proxy() {
        local port up=${2:-$ETCD_URL}
        port=$(free_port)
        echo 0 > "$NODES_T/$1.delay"
        python3 "$SLOW_PROXY" --upstream "${up#http://}" --port "$port" --delay-file "$NODES_T/$1.delay" \
                > "$NODES_T/$1.proxy.log" 2>&1 &
        track_pid $!
        PROXY_URL="http://127.0.0.1:$port"
        wait_for 10 "grep -q ready $NODES_T/$1.proxy.log" || bail_out "slow-proxy.py did not start: $(tail -3 "$NODES_T/$1.proxy.log")"
}
