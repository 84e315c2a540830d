#!/bin/bash
# SPDX-License-Identifier: MIT
# The etcd coordinator against a 3-member etcd cluster on loopback, every client configured
# with all three endpoints:
#  (a) the leader is killed (twice) while 8 simulated nodes acquire and release in a budget of
#      2: no grant is lost (every holder key created in etcd was answered "granted" to its
#      node, none is left over) or doubled (etcd's revision history, replayed by
#      budget-checker.py, and the clients' own output), and grants resume within a bound after
#      each re-election;
#  (b) two members are killed (no quorum): no grant is given meanwhile (a request answers
#      unknown or denied, waiting nodes print nothing), a release sent meanwhile frees no slot,
#      and after the members are back nothing is granted twice: holders in etcd (sampled
#      throughout) and what the clients printed never exceed the budget, and the history
#      shows exactly the grants the clients reported;
#  (c) a node that releases and asks again at once is not answered from a read that etcd
#      served before its delete (that would be a second holder in a budget of 1).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
. "$top_srcdir/tests/integration/etcd-cluster-lib.sh"
setup 300
need_etcd
command -v etcdctl >/dev/null || { echo "1..0 # SKIP etcdctl is not installed (Debian package etcd-client)"; exit 0; }
start_etcd_cluster
CHECKER="$top_srcdir/tests/helpers/budget-checker.py"
SWARM="$top_srcdir/tests/helpers/coord-swarm.py"
RESUME_BOUND=${RESUME_BOUND:-10}   # seconds from a leader's death to the next grant

summary() { jget "$1" < "$T/$2"; }
waitq() { client_wait "$@" >/dev/null; }

# ---- (a) the leader dies during acquisitions ------------------------------------------------
track_pidfile "$T/swarm.pids"
diag "(a) 8 nodes, budget 2, the leader is killed at 8 s and 20 s and restarted after 3-4 s"
timeout 120 python3 "$SWARM" --coord-client "$COORD_CLIENT" --dir "$T" --endpoints "$ETCD_ENDPOINTS" \
        --group ga --clients 8 --budget 2 --duration 34 --hold 0.1:0.5 --idle 0:0.3 --sick-prob 0 \
        --kill-leader-at 8,20 --etcd-down 3:4 --summary "$T/a.json" > "$T/a.log" 2>&1
rc=$?
diag "$(grep '^#' "$T/a.log" | sed 's/^# //')"
is "$rc" 0 "(a) the swarm ran to its end"
is "$(summary 'd["leader_kills"]' a.json)" 2 "(a) the leader was killed twice"
diag "(a) grants printed: $(summary 'd["grants_printed"]' a.json)"
# Grants resume after each kill: the first grant after the kill, and the longest pause.
resume=$(python3 - "$T/a.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
g = d["grant_times"]
out = []
for t, what in d["events"]:
    if what.startswith("killed etcd member"):
        after = [x for x in g if x > t]
        out.append("%.2f" % (after[0] - t) if after else "never")
print(" ".join(out))
PY
)
diag "(a) first grant after each leader kill came after: $resume s"
ok "(a) grants resumed within ${RESUME_BOUND} s after each leader kill ($resume)" \
        python3 -c "import sys; v = sys.argv[1].split(); sys.exit(not (len(v) == 2 and all(x != 'never' and float(x) <= $RESUME_BOUND for x in v)))" "$resume"
back=$(summary '[t for t, w in d["events"] if w.startswith("started etcd")][-1]' a.json)
after=$(summary "len([t for t in d['grant_times'] if t > $back])" a.json)
ok "(a) grants continue once the second killed leader is back ($after later grants)" test "$after" -ge 5
is "$(summary 'd["max_printed_overlap"]' a.json)" 2 "(a) the clients never reported more than 2 holders at once"
is "$(summary 'd["holders_left_at_end"]' a.json)" "[]" "(a) no holder is left once everyone stopped"
out=$(timeout 90 python3 "$CHECKER" --endpoints "$ETCD_ENDPOINTS" --group ga --max-unavailable 2 \
        --dump "$T/history.jsonl" --json "$T/a-check.json")
rc=$?
diag "(a) $out"
is "$rc" 0 "(a) etcd's history: the budget held at every revision"
ok "(a) no grant lost: every holder key created was answered 'granted' to its node" python3 - "$T/a.json" "$T/a-check.json" <<'PY'
import json, sys
printed = json.load(open(sys.argv[1]))["grants_by_node"]
created = json.load(open(sys.argv[2]))["grants_by_node"]
bad = {n: (c, printed.get(n, 0)) for n, c in created.items() if c > printed.get(n, 0)}
if bad:
    print("# created/printed: %s" % bad)
sys.exit(bool(bad) or sum(created.values()) == 0)
PY
diag "(a) holder keys created $(summary 'd["grants"]' a-check.json), 'granted' printed $(summary 'd["grants_printed"]' a.json) (a node that asks again while holding is answered 'granted' again)"

# ---- (b) no quorum ----------------------------------------------------------------------------
diag "(b) group gb, budget 2: A and B hold, C D E F wait, G asks once"
# A longer lease than the default 3 s: a lease that expires right after the outage (a loaded
# machine) would cost a waiter its place in the queue, which is not what (b) is about.
LEASE_TTL=6s
for n in A B C D E F G; do client_start "$n" gb || bail_out "client $n"; done
admin A '{"action":"set-budget","group":"gb","max_unavailable":"2"}' >/dev/null
client_send A "acquire reboot"; ok "(b) A granted" waitq A '^granted' 10
client_send B "acquire reboot"; ok "(b) B granted" waitq B '^granted' 10
for n in C D E F; do
        client_send "$n" "acquire reboot"
        client_quiet "$n" '^granted' 0.3
done
ok "(b) C D E F wait in order" wait_for 10 '[ "$(status_json A gb | jget "d[\"queue\"]")" = "[\"C\", \"D\", \"E\", \"F\"]" ]'

# Sample the holders in etcd throughout (a failed read during the outage is "err").
(
        while :; do
                n=$(ETCDCTL_API=3 timeout 3 etcdctl --endpoints="$ETCD_ENDPOINTS" --command-timeout=2s \
                        get --prefix --keys-only /medic/groups/gb/holders/ 2>/dev/null | grep -c . ) || n=err
                echo "$(now_ms) $n" >> "$T/holders.samples"
                sleep 0.2
        done
) &
sampler=$!
track_pid $sampler

lead=$(etcd_leader)
[ -n "$lead" ] || bail_out "no etcd leader"
other=$(( lead % 3 + 1 )); survivor=$(( 6 - lead - other ))
for n in C D E F; do wc -l < "$T/$n.out" > "$T/$n.before"; done
etcd_member_kill "$lead"; etcd_member_kill "$other"
t_kill=$(now_ms)
diag "(b) killed the leader (member $lead) and member $other; member $survivor is alone"
ok "(b) the survivor reports no quorum (/health false)" \
        wait_for 5 "curl -s -m 2 ${ETCD_CURL[$survivor]}/health | grep -q '\"health\":\"false\"'"
client_send G "try reboot"
like "$(client_wait G '^(denied|granted|unknown)' 12)" '^(unknown|denied)' "(b) without quorum a fresh request answers unknown or denied"
client_send A "release reboot"   # sent while there is no quorum: must not free a slot
client_wait A '^released' 5 >/dev/null
st=$(status_json A gb)
like "$st" '"ok":false' "(b) without quorum the status cannot be read (no stale answer)"
while [ $(( $(now_ms) - t_kill )) -lt 9000 ]; do sleep 0.2; done
granted_meanwhile=""
for n in C D E F; do
        tail -n +"$(( $(cat "$T/$n.before") + 1 ))" "$T/$n.out" | grep -q '^granted' && granted_meanwhile+=" $n"
done
is "$granted_meanwhile" "" "(b) nobody was granted during 9 s without quorum"
etcd_member_start "$lead"; etcd_member_start "$other"
ok "(b) both members are back" wait_for 30 "etcd_member_healthy $lead && etcd_member_healthy $other && etcd_member_healthy $survivor"
t_back=$(now_ms)
diag "(b) quorum lost for $(( t_back - t_kill )) ms"

# A's release was sent without quorum: it failed. Whether it is retried is the daemon's job.
if wait_for 8 '! etcdget /medic/groups/gb/holders/A | grep -q .'; then
        pass "(b) A's release sent without quorum took effect once quorum was back"
else
        echo "not ok $((_tap_n += 1)) - (b) A's release sent without quorum took effect once quorum was back # TODO etcd_release does not retry a failed delete (spec/cluster.diff)"
        client_send A "release reboot"   # A releases again, as a retrying daemon would
        client_wait A '^released' 5 >/dev/null
fi
ok "(b) with A's slot free, C (first in line) is granted" waitq C '^granted' 15
ok "(b) D E F still wait (B and C hold)" client_quiet D '^granted' 1.5
ok "(b) E did not jump the queue" client_quiet E '^granted' 0.2
is "$(etcdget --prefix --keys-only /medic/groups/gb/holders/ | grep . | sort | tr '\n' ' ')" \
        "/medic/groups/gb/holders/B /medic/groups/gb/holders/C " "(b) etcd: the holders are B and C"
client_send B "release reboot"
ok "(b) B released: D is granted" waitq D '^granted' 10
ok "(b) E and F still wait" client_quiet E '^granted' 1
is "$(etcdget --prefix --keys-only /medic/groups/gb/holders/ | grep . | sort | tr '\n' ' ')" \
        "/medic/groups/gb/holders/C /medic/groups/gb/holders/D " "(b) etcd: the holders are C and D"
kill "$sampler" 2>/dev/null
printed=""
for n in A B C D E F G; do printed+="$n:$(grep -c '^granted' "$T/$n.out") "; done
is "$printed" "A:1 B:1 C:1 D:1 E:0 F:0 G:0 " "(b) each node printed 'granted' at most once, only A B C D"
max=$(awk '$2 != "err" && $2 > m { m = $2 } END { print m + 0 }' "$T/holders.samples")
errs=$(grep -c ' err$' "$T/holders.samples")
diag "(b) $(wc -l < "$T/holders.samples") samples of the holders in etcd ($errs failed reads during the outage), at most $max"
ok "(b) etcd never showed more than 2 holders" test "$max" -le 2
out=$(timeout 90 python3 "$CHECKER" --endpoints "$ETCD_ENDPOINTS" --group gb --max-unavailable 2 --json "$T/b-check.json" --dump "$T/history-b.jsonl")
rc=$?
diag "(b) $out"
is "$rc" 0 "(b) etcd's history: the budget held at every revision"
grep -h 'expired' "$T"/[A-G].err | while read -r l; do diag "(b) $l"; done
is "$(jget 'sorted(d["grants_by_node"].items())' < "$T/b-check.json")" '[["A", 1], ["B", 1], ["C", 1], ["D", 1]]' \
        "(b) etcd's history: exactly one grant each to A B C D, nothing granted twice"

# ---- (c) a release and a new request right after it -----------------------------------------
# The request must not be decided on a read that etcd served before the release's delete:
# that read still shows the node as holder and would answer "already holds permission".
diag "(c) group gc, budget 1: A releases and asks again at once while B waits, 15 times"
for n in P Q; do client_start "$n" gc || bail_out "client $n"; done
stale=0
for i in $(seq 15); do
        client_send P "acquire reboot"
        client_wait P '^granted' 10 >/dev/null || { diag "(c) round $i: P not granted"; stale=99; break; }
        client_send Q "acquire reboot"
        client_quiet Q '^granted' 0.2
        printf 'release reboot\nacquire reboot\n' >&"${CLIENT_FD[P]}"
        client_wait Q '^granted' 10 >/dev/null || { diag "(c) round $i: Q not granted after P's release"; stale=99; break; }
        if client_wait P '^granted' 0.5 >/dev/null; then
                stale=$((stale + 1))
                diag "(c) round $i: P printed 'granted' again while Q holds; holders in etcd:" \
                        "$(etcdget --prefix --keys-only /medic/groups/gc/holders/ | grep .)"
                client_send P "release reboot"
        fi
        client_send P "withdraw reboot"; client_wait P '^withdrawn' 5 >/dev/null
        client_send Q "release reboot"; client_wait Q '^released' 5 >/dev/null
done
is "$stale" 0 "(c) a request right after a release never gets a stale grant (15 rounds)"
out=$(timeout 90 python3 "$CHECKER" --endpoints "$ETCD_ENDPOINTS" --group gc --max-unavailable 1)
rc=$?
diag "(c) $out"
is "$rc" 0 "(c) etcd's history: the budget held at every revision"
done_testing
