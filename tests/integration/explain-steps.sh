#!/bin/bash
# SPDX-License-Identifier: MIT
# `medicctl explain RULE --json` on a node of a group on etcd: every step is shown once (the
# failing one, not a failing and a passing copy): debounce while in debounce, window outside
# the window, coordinator with the local stop file present. While the node waits in the
# queue it would not fire, and explain shows the coordinator's last answer, the place in the
# queue and since when it waits; the metric medic_coordinator_waiting is 1 meanwhile.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 90
need_etcd
. "$top_srcdir/tests/integration/nodes-lib.sh"
start_etcd

G=ge
node_add ea $G
node_reboot_rule ea
E=$(node_dir ea)
closed=$(( ($(date -u +%H | sed 's/^0//') + 12) % 24 ))
on ea write_file "$E/rules/20-more.lua" <<EOF
rule "slow-reboot" { when = "wants-reboot", holds = "1h", remedy = reboot {} }
rule "night-reboot" { when = "wants-reboot", window = "daily $(printf %02d $closed):00-$(printf %02d $(( (closed + 1) % 24 ))):00 UTC", remedy = reboot {} }
EOF

explain() { on ea ctl_json explain "$1"; }
# twice RULE-JSON: the step names that are not shown exactly once ([] when all are).
twice() { printf '%s' "$1" | jget 'sorted(set(s["step"] for s in d["steps"] if [x["step"] for x in d["steps"]].count(s["step"]) != 1))'; }
step_ok() { printf '%s' "$1" | jget "(lambda s: None if s is None else s['ok'])(find(d['steps'], '$2', 'step'))"; }
# leaves JSON: every scalar of a JSON document as "path<TAB>value", one per line.
leaves() {
        python3 -c '
import json, sys
def walk(p, v):
    if isinstance(v, dict):
        for k, x in v.items():
            walk(p + [str(k)], x)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            walk(p + [str(i)], x)
    else:
        print("%s\t%s" % ("/".join(p), json.dumps(v) if not isinstance(v, str) else v))
walk([], json.load(sys.stdin))
'
}

# Y waits behind X's slot, so that the node will be at place 2.
ok "X holds the group's only slot" client_hold X $G
client_start Y $G || bail_out "coord-client Y did not start"
client_send Y "acquire reboot"
ok "Y waits at place 1" wait_for 10 "group_keys $G queue | grep -qx Y"

touch "$E/stop" "$E/trigger"
node_start ea
ok "the node is registered" wait_for 10 "node_registered ea"
ok "its trigger is problem" wait_for 10 '[ "$(node_cond ea wants-reboot)" = problem ]'
t_trigger=$(date +%s)

js=$(explain slow-reboot)
is "$(twice "$js")" "[]" "debounce: each step once"
is "$(step_ok "$js" debounce)" false "debounce: the debounce step is the failing one"
js=$(explain night-reboot)
is "$(twice "$js")" "[]" "outside the window: each step once"
is "$(step_ok "$js" window)" false "outside the window: the window step is the failing one"
js=$(explain reboot-for-updates)
is "$(twice "$js")" "[]" "stop file: each step once"
is "$(step_ok "$js" coordinator)" false "stop file: the coordinator step is the failing one"
is "$(printf '%s' "$js" | jget 'd["would_fire"]')" false "stop file: would not fire"
ok "stop file: the node does not queue" never_within 2 "node_queued ea"

# Older than the wait by more than 5 s: no "since" of the trigger passes for the wait's.
wait_for 10 "[ \$(date +%s) -ge $((t_trigger + 6)) ]"
t_wait=$(date +%s)
rm -f "$E/stop"
ok "without the stop file the node queues" wait_for 15 "node_queued ea"
is "$(queue_order $G | tr '\n' ' ')" "Y ea " "it waits at place 2, behind Y"
sleep 2

js=$(explain reboot-for-updates)
all=$(printf '%s' "$js" | leaves)
is "$(twice "$js")" "[]" "queued: each step once"
is "$(printf '%s' "$js" | jget 'd["would_fire"]')" false "queued: would not fire"
is "$(step_ok "$js" coordinator)" false "queued: the coordinator step is the failing one"
like "$all" $'\t''(.*[^a-z])?denied([^a-z]|$)' "queued: the coordinator's last answer (denied) is shown"
like "$all" $'(place|position|queue)[^\t]*\t2$|\t.*(place|position) #?2([^0-9]|$)|\t.*#2([^0-9]|$)' \
        "queued: the place in the queue (2) is shown"
now=$(date +%s)
since=$(printf '%s\n' "$all" | awk -F'\t' -v lo=$((t_wait - 5)) -v hi=$((now + 1)) \
        '$1 ~ /since/ && $2 ~ /^[0-9]+$/ && $2 >= lo && $2 <= hi { print $1 "=" $2; exit }')
ok "queued: since when it waits is shown (${since:-none}; started at $t_wait)" test -n "$since"
[ -n "$since" ] || diag "explain: $(printf '%s' "$js" | head -c 1500)"
human=$(on ea ctl explain reboot-for-updates)
like "$human" 'not firing: .*denied' "queued: medicctl explain says why it does not fire"
like "$human" 'permission: asking since .*last answer denied: .*place 2' \
        "queued: medicctl explain shows the permission: asking, the last answer and the place"

ok "metrics: medic_coordinator_waiting is 1 while queued" wait_for 5 '[ "$(node_metric ea medic_coordinator_waiting)" = 1 ]'
samples=""
for _ in 1 2 3; do
        sleep 1
        samples="$samples$(node_metric ea medic_coordinator_waiting) "
done
is "$samples" "1 1 1 " "metrics: ... and stays 1 while it waits"
ok "nothing rebooted" sh -c "! [ -s $E/sysrq-trigger ]"
done_testing
