#!/bin/bash
# SPDX-License-Identifier: MIT
# The etcd coordinator against a real etcd: budgets by count and percentage, unhealthy and
# dead members counting, min_healthy, FIFO order, idempotent requests, release, holders that
# survive their own death, stop switches honoured within a second.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 170
need_etcd
start_etcd

for n in A B C; do client_start "$n" || bail_out "client $n"; done
ok "three nodes registered" test "$(etcdget --prefix --keys-only /medic/groups/g1/members/ | grep -c .)" = 3

# ---- budget 1 (the default), FIFO, idempotence, release ----
client_send A "acquire reboot"
ok "A is granted (0 of 1 used)" client_wait A '^granted' 5
is "$(etcdget --print-value-only /medic/groups/g1/holders/A | jget 'd["rule"]')" reboot "the holder key names A's rule"
client_send B "acquire reboot"
wait_for 5 '[ "$(status_json A | jget "d[\"queue\"]")" = "[\"B\"]" ]'
client_send C "acquire reboot"
ok "queue is B then C" wait_for 5 '[ "$(status_json A | jget "d[\"queue\"]")" = "[\"B\", \"C\"]" ]'
ok "B is not granted while A holds" client_quiet B '^granted' 1
client_send B "try reboot"
like "$(client_wait B '^(denied|granted|unknown)' 5)" 'denied waiting at place 1' "B asking again keeps its place (1)"
client_send A "try reboot"
is "$(client_wait A '^(denied|granted|unknown)' 5)" granted "A asking again gets the same grant"
client_send A "release reboot"
ok "A released: B (first in line) is granted" client_wait B '^granted' 5
ok "C is still waiting" client_quiet C '^granted' 1
client_send B "release reboot"
ok "B released: C is granted" client_wait C '^granted' 5
client_send C "release reboot"
client_wait C '^released' 5 >/dev/null

# ---- percentage: 50% of 4 members = 2 ----
client_start D || bail_out "client D"
admin A '{"action":"set-budget","group":"g1","max_unavailable":"50%"}' >/dev/null
is "$(status_json A | jget 'd["budget"]["allowed"]')" 2 "50% of 4 members allows 2"
client_send A "acquire reboot"
client_send B "acquire reboot"
ok "A granted under 50%" client_wait A '^granted' 5
ok "B granted under 50% (2 of 2)" client_wait B '^granted' 5
client_send C "acquire reboot"
ok "C waits: 2 of 2 used" client_quiet C '^granted' 1.5
client_send A "release reboot"; client_send B "release reboot"
ok "C granted after the releases" client_wait C '^granted' 5
client_send C "release reboot"
admin A '{"action":"set-budget","group":"g1","max_unavailable":"10%"}' >/dev/null
is "$(status_json A | jget 'd["budget"]["allowed"]')" 1 "10% of 4 members rounds to 1, never 0"
admin A '{"action":"set-budget","group":"g1","max_unavailable":"1"}' >/dev/null

# ---- an unhealthy member counts against the budget ----
client_send D "health sick"
client_wait D '^health' 5 >/dev/null
ok "D shows as unhealthy" wait_for 5 '[ "$(status_json A | jget "[m[\"healthy\"] for m in d[\"members\"] if m[\"node\"] == \"D\"][0]")" = false ]'
client_send A "acquire reboot"
ok "A waits while unhealthy D uses the budget of 1" client_quiet A '^granted' 1.5
client_send D "health ok"
ok "D healthy again: A is granted" client_wait A '^granted' 5
client_send A "release reboot"

# ---- a dead member counts; forget removes it ----
client_kill D
ok "D's lease expires: D is registered but not alive" \
        wait_for 10 '[ "$(status_json A | jget "[m[\"alive\"] for m in d[\"members\"] if m[\"node\"] == \"D\"][0]")" = false ]'
client_send B "acquire reboot"
ok "B waits while dead D uses the budget" client_quiet B '^granted' 1.5
admin A '{"action":"forget","node":"D"}' >/dev/null
ok "D forgotten: B is granted" client_wait B '^granted' 5
client_send B "release reboot"

# ---- min_healthy: 3 members, min 3 healthy: nothing can be granted ----
admin A '{"action":"set-budget","group":"g1","max_unavailable":"1","min_healthy":"3"}' >/dev/null
client_send C "acquire reboot"
ok "min_healthy 3 of 3: nothing is granted" client_quiet C '^granted' 1.5
like "$(status_json A | jget 'd["budget"]')" '"min_healthy_count": 3' "status shows the minimum"
admin A '{"action":"set-budget","group":"g1","max_unavailable":"1","min_healthy":"2"}' >/dev/null
ok "min_healthy 2: C is granted" client_wait C '^granted' 5

# ---- a holder that dies keeps blocking until an operator releases it ----
client_kill C
ok "dead holder C shows as holder, not alive" \
        wait_for 10 '[ "$(status_json A | jget "[(h[\"node\"], h[\"alive\"]) for h in d[\"holders\"]]")" = "[[\"C\", false]]" ]'
admin A '{"action":"set-budget","group":"g1","max_unavailable":"1","min_healthy":"0"}' >/dev/null
client_send A "acquire reboot"
ok "A waits behind dead holder C" client_quiet A '^granted' 1.5
admin B '{"action":"release","node":"C"}' >/dev/null
admin B '{"action":"forget","node":"C"}' >/dev/null
ok "operator released C: A is granted" client_wait A '^granted' 5

# ---- stop switches: honoured within a second ----
client_send B "acquire reboot"
client_quiet B '^(granted|stopped)' 0.5
# Measured from the moment the switch is in etcd (the operator's write has returned) to the
# waiting node refusing: that is the node's reaction, not the operator's round trip.
admin A '{"action":"stop","group":"g1"}' >/dev/null
t0=$(now_ms)
ok "group stop: the waiting request is refused" client_wait B '^stopped' 3
dt=$(( $(now_ms) - t0 ))
diag "group stop switch honoured after ${dt} ms"
ok "group stop honoured within 1 s (${dt} ms)" test "$dt" -lt 1000
is "$(status_json A | jget 'd["queue"]')" "[]" "the refused request left the queue"
client_send A "release reboot"
client_send B "try reboot"
like "$(client_wait B '^(denied|granted|unknown)' 5)" 'stop switch' "while stopped a fresh request is refused"
admin A '{"action":"resume","group":"g1"}' >/dev/null
admin A '{"action":"stop"}' >/dev/null
client_send B "acquire reboot"
ok "cluster-wide stop refuses too" client_wait B '^stopped' 3
admin A '{"action":"resume"}' >/dev/null
client_send B "acquire reboot"
ok "after resume B is granted" client_wait B '^granted' 5

# ---- waiters decide on the group as their watch keeps it: no read per change ----
client_start E || bail_out "client E"
client_send A "acquire reboot"
ok "A waits behind B" client_quiet A '^granted' 0.5
client_send E "acquire reboot"
ok "E is queued behind A" wait_for 5 '[ "$(status_json B | jget "d[\"queue\"]")" = "[\"A\", \"E\"]" ]'
client_quiet E '^granted' 0.5
reads0=$(local_json E | jget 'd["group_reads"]')
watch0=$(local_json E | jget 'd["decisions_from_watch"]')
for i in 1 2 3 4 5; do
        client_send B "health sick"; client_wait B '^health' 5 >/dev/null
        client_send B "health ok"; client_wait B '^health' 5 >/dev/null
done
ok "E decided again on the changes B made" wait_for 5 '[ "$(local_json E | jget "d[\"decisions_from_watch\"]")" -gt "$watch0" ]'
is "$(local_json E | jget 'd["group_reads"]')" "$reads0" "without reading the group again (10 changes, $reads0 reads before)"
client_send B "release reboot"
ok "B released: A (first in line) is granted" client_wait A '^granted' 5
ok "E still waits" client_quiet E '^granted' 1
client_send A "release reboot"
ok "A released: E is granted" client_wait E '^granted' 5
diag "E: $(local_json E | jget '"%s reads, %s decisions on the watch-kept copy" % (d["group_reads"], d["decisions_from_watch"])')"
done_testing
