#!/bin/bash
# SPDX-License-Identifier: MIT
# The kured pack (rules/examples/kured/) on three nodes of one group on a real etcd: the
# shipped checks reboot-sentinel (running the pack's need-reboot) and prometheus-alerts (the
# pack's settings, against a static Prometheus alerts answer), the pack's rule with its window
# replaced by one open (closed) now, the kubernetes pack's kubectl tasks with kubectl a stub.
# A firing alert blocks (control: the always-firing Watchdog, excluded, does not); one node at
# a time (etcd polled: never two holders), cordon/drain before and uncordon after each reboot;
# each of the sentinel's reasons (its file, a deleted library mapped, the kernel's modules
# gone); a closed window holds a node back (control: open, it reboots).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 120
need_etcd
. "$top_srcdir/tests/integration/nodes-lib.sh"
. "$top_srcdir/tests/integration/packs-lib.sh"
start_etcd

G=gk
KURED="$PACKS/kured"
RULE=kured-reboot

ok "medicctl lint: the pack's rule with the shipped checks is clean" \
        env MEDICD="$MEDICD" timeout 20 "$MEDICCTL" lint "$top_srcdir/checks/reboot-sentinel.lua" \
        "$top_srcdir/checks/prometheus-alerts.lua" "$KURED/kured.lua"

# ---- Prometheus: a static /api/v1/alerts -------------------------------------------------------
PORT=$(free_port)
mkdir -p "$T/prom/api/v1"
# alerts NAME...: the answer lists these alerts as firing (Watchdog with severity none).
alerts() {
        python3 - "$@" > "$T/prom/api/v1/alerts.tmp" <<'PY'
import json, sys
a = [{"labels": {"alertname": n, "severity": "none" if n == "Watchdog" else "warning"},
      "annotations": {"summary": n}, "state": "firing", "activeAt": "2026-01-01T00:00:00Z", "value": "1"}
     for n in sys.argv[1:]]
print(json.dumps({"status": "success", "data": {"alerts": a}}))
PY
        mv "$T/prom/api/v1/alerts.tmp" "$T/prom/api/v1/alerts"
}
alerts KubeNodeNotReady Watchdog
python3 -m http.server --bind 127.0.0.1 --directory "$T/prom" "$PORT" > "$T/prom.log" 2>&1 &
track_pid $!
wait_for 10 "curl -sf http://127.0.0.1:$PORT/api/v1/alerts >/dev/null" || bail_out "the alerts server did not start"

# ---- three nodes ----------------------------------------------------------------------------------
pack_kubectl
grep -q '^  window = "Sun 02:00-06:00",$' "$KURED/kured.lua" || bail_out "kured.lua: its window line changed"
# pack_rule NODE WINDOW: the pack's rule on the node, its window replaced.
pack_rule() {
        sed "s|^  window = \"Sun 02:00-06:00\",\$|  window = \"$2\",|" "$KURED/kured.lua" |
                write_file "$(node_dir "$1")/rules/50-reboot.lua"
}
for n in ka kb kc; do
        N=$(node_dir "$n")
        node_add $n $G
        node_conf $n coordinator "max_unavailable = 1"
        node_conf $n medic "settings_dir = $N/etc"
        cp "$top_srcdir/checks/reboot-sentinel.lua" "$top_srcdir/checks/prometheus-alerts.lua" "$N/checks/"
        mkdir -p "$N/proc" "$N/modules/test"
        write_file "$N/etc/reboot-sentinel.conf" <<EOF
command = { "$KURED/need-reboot", "--sentinel", "$N/trigger", "--proc", "$N/proc", "--modules", "$N/modules", "--release", "test" }
timeout = "10s"
every = "1s"
EOF
        sed -e "s|^url = .*|url = \"http://127.0.0.1:$PORT\"|" -e 's|^every = .*|every = "1s"|' \
                "$KURED/prometheus-alerts.conf" | write_file "$N/etc/prometheus-alerts.conf"
        pack_task $n 10-cordon-drain pre-reboot.d
        pack_task $n 90-uncordon post-reboot.d
        pack_task $n 90-uncordon abort.d
done
pack_rule ka "$(window_now open)"
pack_rule kb "$(window_now open)"
pack_rule kc "$(window_now closed)"
diag "open: $(window_now open); closed: $(window_now closed)"
for n in ka kb kc; do node_start $n; done
ok "the three nodes are registered" wait_for 15 "node_registered ka && node_registered kb && node_registered kc"
holders_poll $G
A=$(node_dir ka) B=$(node_dir kb) C=$(node_dir kc)

# ---- blocked while an alert fires ----------------------------------------------------------------
touch "$A/trigger"
ok "A: the sentinel says reboot (its file)" wait_for 10 '[ "$(node_cond ka reboot-sentinel)" = problem ]'
ok "A: a firing alert: prometheus-alerts is a problem" wait_for 10 '[ "$(node_cond ka prometheus-alerts)" = problem ]'
like "$(on ka cond_get prometheus-alerts message)" 'KubeNodeNotReady.*\(1 excluded\)' "the Watchdog alert is excluded, KubeNodeNotReady is not"
ok "A does not ask while the alert fires" never_within 4 "node_holds ka || node_queued ka || node_rebooted ka"
is "$(step_ok ka $RULE blockers)" false "explain: the blockers step is not ok"
alerts Watchdog
ok "only the excluded Watchdog fires: prometheus-alerts is ok" wait_for 10 '[ "$(node_cond ka prometheus-alerts)" = ok ]'
ok "A gets the permission and reboots" wait_for 20 "node_rebooted ka"
ok "A holds the group's slot" node_holds ka
ok "A was cordoned and drained before" test -n "$(kubectl_line '^drain ka ')" -a -n "$(kubectl_line '^cordon ka$')"

# ---- one at a time: B (a deleted library) waits while A is away ---------------------------------
mkdir -p "$B/proc/4242"
echo "7f0000000000-7f0000001000 r-xp 00000000 08:01 123 /usr/lib/x86_64-linux-gnu/libssl.so.3 (deleted)" > "$B/proc/4242/maps"
echo nginx > "$B/proc/4242/comm"
ok "B: the sentinel says reboot (a deleted library is mapped)" wait_for 10 '[ "$(node_cond kb reboot-sentinel)" = problem ]'
like "$(on kb cond_get reboot-sentinel message)" 'nginx\[4242\] maps the deleted library .*libssl.so.3' "the message names the process and the library"
ok "B queues behind A" wait_for 10 "node_queued kb"
rmdir "$C/modules/test"
ok "C: the sentinel says reboot (the kernel's modules are gone)" wait_for 10 '[ "$(node_cond kc reboot-sentinel)" = problem ]'
ok "B does not get the slot while A holds it" never_within 3 "node_holds kb || node_rebooted kb"
node_boot ka
ok "A, back, is uncordoned" wait_for 10 "[ -n \"\$(kubectl_line '^uncordon ka$')\" ]"
ok "A gives the slot back after its settle time" wait_for 20 "! node_holds ka"
ok "B gets it and reboots" wait_for 20 "node_rebooted kb"
ok "B was cordoned after A's uncordon" test "$(kubectl_line '^cordon kb$')" -gt "$(kubectl_line '^uncordon ka$')"

# ---- the window: C, outside it, does not ask ---------------------------------------------------
rm -rf "$B/proc/4242"
node_boot kb
ok "B gives the slot back" wait_for 20 "! node_holds kb"
ok "C, outside its window, does not ask" never_within 4 "node_holds kc || node_queued kc || node_rebooted kc"
is "$(step_ok kc $RULE window)" false "explain: the window step is not ok"
pack_rule kc "$(window_now open)"
on kc ctl reload >/dev/null
ok "C, inside its window (reloaded), reboots" wait_for 20 "node_rebooted kc"

max=$(holders_max $G)
diag "holders of $G: $(sort -n "$T/holders-$G" | uniq -c | tr -s ' \n' ' ')"
is "$max" 1 "etcd never showed two holders at once (polled every 0.2 s, $(count_lines "$T/holders-$G") reads)"
done_testing
