#!/bin/bash
# SPDX-License-Identifier: MIT
# Safety of the etcd coordinator under failure. 30 simulated nodes (coord-client processes,
# the daemon's own coordinator code) in one group with max_unavailable=2 loop for
# SAFETY_SECONDS (default 120): acquire, hold 0.1-0.8 s, release, idle up to 1 s, now and
# then unhealthy for a moment. Meanwhile, against a 3-member etcd cluster:
#   - every 3-6 s a node is SIGKILLed (a node holding permission half of the time). A dead
#     holder keeps blocking, by design; the test plays the operator: after 1-5 s it releases
#     the dead node's permission (medicctl's "release") and only then starts the node again;
#   - every 8-14 s an etcd member is SIGKILLed (the leader half of the time) and started
#     again 2-5 s later.
# The run ends with the group's stop switch. Then tests/helpers/budget-checker.py reads the
# complete revision history from etcd and replays it; what it proves at which revisions, and
# why, is in its header: (i) holders <= max_unavailable at every revision; at every grant
# (ii) |holders ∪ registered-not-alive ∪ alive-unhealthy| <= max_unavailable, (iii)
# min_healthy kept, (iv) no stop switch set; (v) no holder key overwritten.
# The clients' own output is checked too (never more than 2 "granted ... release" intervals
# open at once). Last, the checker must catch deliberately broken histories: grants written
# into etcd by a rogue writer that skips the compare (one group per kind of violation), and
# a history with a revision missing.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
. "$top_srcdir/tests/integration/etcd-cluster-lib.sh"
SAFETY_SECONDS=${SAFETY_SECONDS:-120}
setup $(( SAFETY_SECONDS + 120 ))
need_etcd
command -v etcdctl >/dev/null || { echo "1..0 # SKIP etcdctl is not installed (Debian package etcd-client)"; exit 0; }
start_etcd_cluster
CHECKER="$top_srcdir/tests/helpers/budget-checker.py"
SWARM="$top_srcdir/tests/helpers/coord-swarm.py"
summary() { jget "$1" < "$T/swarm.json"; }

track_pidfile "$T/swarm.pids"
diag "30 nodes, budget 2, ${SAFETY_SECONDS} s, nodes and etcd members killed at random"
timeout $(( SAFETY_SECONDS + 90 )) python3 "$SWARM" --coord-client "$COORD_CLIENT" --dir "$T" \
        --endpoints "$ETCD_ENDPOINTS" --group g1 --clients 30 --budget 2 --duration "$SAFETY_SECONDS" \
        --hold 0.1:0.8 --idle 0:1 --sick-prob 0.03 --sick 0.3:1.5 \
        --kill-clients 3:6 --dead 1:5 --kill-etcd 8:14 --etcd-down 2:5 \
        ${SAFETY_SEED:+--seed "$SAFETY_SEED"} --summary "$T/swarm.json" > "$T/swarm.log" 2>&1
rc=$?
grep '^# swarm seed' "$T/swarm.log" | sed 's/^# //' | while read -r l; do diag "$l"; done
is "$rc" 0 "the swarm ran to its end"
[ -s "$T/swarm.json" ] || bail_out "no summary from the swarm: $(tail -5 "$T/swarm.log")"
figures=$(summary '", ".join("%s %s" % (k, d[k]) for k in ("grants_printed", "client_kills", "operator_releases", "restarts", "etcd_kills", "leader_kills", "sick_flips"))')
diag "$figures"
kills=$(summary 'd["client_kills"]'); ekills=$(summary 'd["etcd_kills"]'); printed=$(summary 'd["grants_printed"]')
killed_holders=$(summary 'len([w for t, w in d["events"] if "holding permission" in w])')
ok "nodes were killed and restarted ($kills)" test "$kills" -ge $(( SAFETY_SECONDS / 12 ))
ok "etcd members were killed and restarted ($ekills)" test "$ekills" -ge $(( SAFETY_SECONDS / 30 ))
diag "$killed_holders of the killed nodes held permission when they died"
ok "the group kept making progress ($printed grants printed)" test "$printed" -ge $(( SAFETY_SECONDS / 2 ))
is "$(summary 'd["max_printed_overlap"]')" 2 "the clients never reported more than 2 holders at once"
is "$(summary 'd["holders_left_at_end"]')" "[]" "no holder left once the stop switch ended the run"
ok "every node was granted at least once" test "$(summary 'min(d["grants_by_node"].values())')" -ge 1

out=$(timeout 90 python3 "$CHECKER" --endpoints "$ETCD_ENDPOINTS" --group g1 --max-unavailable 2 \
        --dump "$T/history.jsonl" --json "$T/check.json")
rc=$?
diag "$out"
is "$rc" 0 "etcd's history: the budget held at every revision"
grants=$(jget 'd["grants"]' < "$T/check.json")
diag "grants checked: $grants (holder keys created), over $(jget 'd["revisions"]' < "$T/check.json") revisions"
ok "the checker saw the grants the clients reported ($grants created, $printed printed)" \
        test "$grants" -ge $(( printed * 9 / 10 ))
ok "no grant lost: every holder key created was answered 'granted' to its node, or its node was killed" \
        python3 - "$T/swarm.json" "$T/check.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
printed = s["grants_by_node"]
killed = {w.split()[2] for t, w in s["events"] if w.startswith("killed client")}
created = json.load(open(sys.argv[2]))["grants_by_node"]
bad = {n: (c, printed.get(n, 0)) for n, c in created.items() if c > printed.get(n, 0) + (n in killed) * 10}
if bad:
    print("# created/printed: %s" % bad)
sys.exit(bool(bad))
PY

# ---- the checker must be able to fail -------------------------------------------------------
# A rogue writer grants without the compare: plain puts with etcdctl (one revision each).
E() { ETCDCTL_API=3 etcdctl --endpoints="$ETCD_ENDPOINTS" --command-timeout=5s "$@" >/dev/null; }
members() {   # members GROUP NODE... : registered and alive (no lease: alive for the checker)
        local g=$1 n
        shift
        E put "/medic/groups/$g/budget" '{"max_unavailable":"2","min_healthy":"0"}'
        for n in "$@"; do
                E put "/medic/groups/$g/registered/$n" "{\"node\":\"$n\"}"
                E put "/medic/groups/$g/members/$n" "{\"node\":\"$n\",\"healthy\":true}"
        done
}
H='{"rule":"reboot","since":1}'
members bad1 a b c d
E put /medic/groups/bad1/holders/a "$H"; E put /medic/groups/bad1/holders/b "$H"; E put /medic/groups/bad1/holders/c "$H"
members bad2 a b c d
E put /medic/groups/bad2/members/b '{"node":"b","healthy":false}'
E put /medic/groups/bad2/holders/a "$H"; E put /medic/groups/bad2/holders/c "$H"
members bad3 a b c
E put /medic/groups/bad3/registered/d '{"node":"d"}'      # registered, never alive: dead
E put /medic/groups/bad3/holders/a "$H"; E put /medic/groups/bad3/holders/b "$H"
members bad4 a b c d
E put /medic/groups/bad4/budget '{"max_unavailable":"2","min_healthy":"3"}'
E put /medic/groups/bad4/holders/a "$H"; E put /medic/groups/bad4/holders/b "$H"
members bad5 a b c d
E put /medic/groups/bad5/stop '{"since":1}'
E put /medic/groups/bad5/holders/a "$H"
members bad6 a b c d
E put /medic/groups/bad6/holders/a "$H"; E put /medic/groups/bad6/holders/a "$H"
members bad7 a b c d
E put /medic/groups/bad7/members/d '{"node":"d","healthy":false}'
E put /medic/groups/bad7/holders/a "$H"; E del /medic/groups/bad7/holders/a
E put /medic/groups/bad7/holders/b "$H"; E put /medic/groups/bad7/holders/c "$H"    # b + c + sick d: 3
members fine a b c d
E put /medic/groups/fine/holders/a "$H"; E put /medic/groups/fine/holders/b "$H"; E del /medic/groups/fine/holders/a
E put /medic/groups/fine/members/a '{"node":"a","healthy":false}'                  # b + sick a: 2
E put /medic/groups/fine/members/a '{"node":"a","healthy":true}'; E put /medic/groups/fine/holders/c "$H"
check() { timeout 60 python3 "$CHECKER" --endpoints "$ETCD_ENDPOINTS" --group "$1" --max-unavailable 2; }
out=$(check bad1); rc=$?
is "$rc" 1 "broken: 3 holders in a budget of 2 fails the check"
like "$out" 'VIOLATION at revision [0-9]+: \(i\) 3 holders > max_unavailable 2' "... as (i), with the revision"
like "$out" '\(ii\) grant to c: 3 unavailable' "... and as (ii)"
diag "$(printf '%s\n' "$out" | head -20)"
out=$(check bad2); rc=$?
is "$rc" 1 "broken: a grant while another member is unhealthy fails the check"
like "$out" "\\(ii\\) grant to c: 3 unavailable \\['a', 'b', 'c'\\]" "... as (ii), naming the unavailable members"
unlike "$out" '\(i\)' "... and not as (i): 2 holders are within the budget"
out=$(check bad3); rc=$?
is "$rc" 1 "broken: a grant while a registered member is dead fails the check"
like "$out" "\\(ii\\) grant to b: 3 unavailable \\['a', 'b', 'd'\\]" "... as (ii)"
out=$(check bad4); rc=$?
is "$rc" 1 "broken: a grant below min_healthy fails the check"
like "$out" '\(iii\) grant to b leaves 2 healthy < min_healthy 3' "... as (iii)"
out=$(check bad5); rc=$?
is "$rc" 1 "broken: a grant while the group's stop switch is set fails the check"
like "$out" '\(iv\) grant to a while a stop switch is set' "... as (iv)"
out=$(check bad6); rc=$?
is "$rc" 1 "broken: a holder granted twice fails the check"
like "$out" '\(v\) holder key of a overwritten' "... as (v)"
out=$(check bad7); rc=$?
is "$rc" 1 "broken: grants to b and c with d unhealthy (3 of 2) fail the check"
like "$out" "\\(ii\\) grant to c: 3 unavailable \\['b', 'c', 'd'\\]" "... as (ii) at c's grant only"
unlike "$out" 'grant to b' "... the earlier grants (a, then b after a's release) pass"
out=$(check fine); rc=$?
is "$rc" 0 "a rogue history that happens to respect the budget passes"
like "$out" 'group fine: 3 grants' "... with its 3 grants counted"

# A history with one revision missing is refused, not passed.
python3 - "$T/history.jsonl" "$T/gap.jsonl" <<'PY'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
revs = sorted({int(e["kv"]["mod_revision"]) for e in evs})
drop = revs[len(revs) // 2]
with open(sys.argv[2], "w") as f:
    for e in evs:
        if int(e["kv"]["mod_revision"]) != drop:
            f.write(json.dumps(e) + "\n")
PY
out=$(timeout 60 python3 "$CHECKER" --history "$T/gap.jsonl" --group g1 --max-unavailable 2); rc=$?
is "$rc" 2 "a history with a revision missing is refused (exit 2)"
like "$out" 'gap' "... saying so"
out=$(timeout 60 python3 "$CHECKER" --history "$T/history.jsonl" --group g1 --max-unavailable 2); rc=$?
is "$rc" 0 "the complete dump passes again when read from the file"
out=$(timeout 60 python3 "$CHECKER" --history "$T/history.jsonl" --group g1 --override-max-unavailable 1); rc=$?
is "$rc" 1 "the same run checked against a budget of 1 fails (the checker is not blind to 2 holders)"
done_testing
