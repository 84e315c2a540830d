#!/bin/bash
# SPDX-License-Identifier: MIT
# The storm breaker on a real etcd, with many simulated nodes (tests/helpers/coord-client, one
# process each), entries written straight into etcd, and a real medicd: a burst of requests in
# a group trips breaker_group at exactly its threshold (30% of 10 = 3 granted, the 4th records
# the trip in its own key under PREFIX/breaker/tripped/ with the reason, the nodes and the time;
# no stop switch is written), nothing more is granted, `resume` needs a reason, records it and
# deletes the trip, then the rollout goes on (3 more, then it trips again); a slow
# steady rollout never trips it; breaker_cluster counts grants and nodes that became unhealthy
# in every group, inside its window only; medicctl and the metrics show it.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 200
need_etcd
command -v etcdctl >/dev/null || { echo "1..0 # SKIP etcdctl is not installed (Debian package etcd-client)"; exit 0; }
start_etcd
etcdput() { ETCDCTL_API=3 etcdctl --endpoints="$ETCD_URL" put "$@" >/dev/null 2>&1; }
# tripget PREFIX: the value of the first trip key under PREFIX (empty: not tripped);
# tripkeys PREFIX: the trip keys.
tripget() { etcdget --prefix --print-value-only "$1" | head -1; }
tripkeys() { etcdget --prefix --keys-only "$1" | grep .; }

# answered NAME: the last answer of an "acquire": granted or stopped (empty while waiting).
# Only the lines after the node's mark (mark NAME: from now on).
answered() { tail -n +"$(( $(cat "$T/$1.mark" 2>/dev/null || echo 0) + 1 ))" "$T/$1.out" | grep -aE '^(granted|stopped)' | tail -1 | cut -d' ' -f1; }
mark() { wc -l < "$T/$1.out" > "$T/$1.mark"; }
count_answers() { # count_answers WORD NODES...
        local w=$1 n=0; shift
        for x in "$@"; do [ "$(answered "$x")" = "$w" ] && n=$((n + 1)); done
        echo "$n"
}

# ---- a burst in group g1: 10 nodes, budget 100%, breaker_group 30%/10m (3 nodes) ----
CLIENT_EXTRA=$'max_unavailable = 100%\nbreaker_group = 30%/10m'
G1=()
for i in 01 02 03 04 05 06 07 08 09 10; do client_start "n$i" g1 || bail_out "client n$i"; G1+=("n$i"); done
for n in "${G1[@]}"; do client_send "$n" "acquire reboot"; done
ok "every node of the burst got an answer" wait_for 20 '[ "$(( $(count_answers granted "${G1[@]}") + $(count_answers stopped "${G1[@]}") ))" = 10 ]'
is "$(count_answers granted "${G1[@]}")" 3 "exactly 3 of 10 granted (30%)"
is "$(count_answers stopped "${G1[@]}")" 7 "the 7 others are refused"
is "$(etcd_holders g1 | grep -c .)" 3 "3 holder keys in etcd"
trip=$(tripget /medic/breaker/tripped/groups/g1/)
is "$(printf '%s' "$trip" | jget 'd["breaker"]')" group "the trip is the group breaker's"
is "$(tripkeys /medic/breaker/tripped/groups/g1/)" "/medic/breaker/tripped/groups/g1/$(printf '%s' "$trip" | jget 'd["by"]')" \
        "one trip key, the tripping node's own"
is "$(etcdget --print-value-only /medic/groups/g1/stop)" "" "no stop switch is written (they are the operators')"
is "$(printf '%s' "$trip" | jget 'len(d["nodes"])')" 4 "it names the 4 nodes involved (3 granted and the one that tripped it)"
like "$(printf '%s' "$trip" | jget 'd["reason"]')" "^storm breaker: 4 nodes of group g1 .*within 10m \(breaker_group 30%/10m allows 3\)" "its reason"
ok "it has the time" test "$(printf '%s' "$trip" | jget 'd["since"]')" -ge "$(( $(date +%s) - 60 ))"
for n in $(etcd_holders g1); do
        ok "holder $n is one of the nodes named" test "$(printf '%s' "$trip" | jget "'$n' in d['nodes']")" = true
done
grep -ahE "^stopped" "$T"/n*.out | grep -q "storm breaker"; is "$?" 0 "the refusals name the storm breaker"
is "$(local_json n01 | jget 'd["breaker_tripped_group"]')" true "the node's status: breaker_tripped_group"

# Nothing more is granted: a new node, and a holder's release does not open it.
client_start n11 g1 || bail_out "client n11"
client_send n11 "try reboot"
like "$(client_wait n11 '^(denied|granted|unknown)' 5)" "^denied the storm breaker is tripped \(group g1\)" "a new node is refused while it is tripped"
# A node with no breaker configured honours the trip too.
CLIENT_EXTRA=$'max_unavailable = 100%' client_start n12 g1 || bail_out "client n12"
client_send n12 "try reboot"
like "$(client_wait n12 '^(denied|granted|unknown)' 5)" "^denied the storm breaker is tripped" "a node without breaker_group honours the trip"
first=$(etcd_holders g1 | head -1)
client_send "$first" "release reboot"; client_wait "$first" '^released' 5 >/dev/null
client_send n11 "try reboot"
like "$(client_wait n11 '^(denied|granted|unknown)' 5)" "^denied" "a release does not reset the breaker"

# ---- resume: a reason is required and recorded ----
like "$(admin n01 '{"action":"resume","group":"g1"}')" '"ok":false.*storm breaker is tripped.*--reason' "resume without a reason is refused"
ok "the trip is still there" test -n "$(tripget /medic/breaker/tripped/groups/g1/)"
like "$(admin n01 '{"action":"resume","group":"g1","reason":"bad check fixed"}')" '"ok":true' "resume with a reason"
ok "the trip is gone" test -z "$(tripget /medic/breaker/tripped/groups/g1/)"
reset=$(etcdget --print-value-only /medic/breaker/reset/groups/g1)
is "$(printf '%s' "$reset" | jget 'd["reason"]')" "bad check fixed" "the reset is recorded with its reason"
is "$(printf '%s' "$reset" | jget 'd["tripped"]["breaker"]')" group "and what was tripped"
ok "the node's status follows the watch" wait_for 5 '[ "$(local_json n01 | jget "d[\"breaker_tripped_group\"]")" = false ]'

# The rollout goes on: counted from the reset, 3 more are granted, the next trips it again.
REST=()
for n in "${G1[@]}"; do [ "$(answered "$n")" = stopped ] && REST+=("$n"); done
for n in "${REST[@]}"; do mark "$n"; client_send "$n" "acquire reboot"; done
ok "every waiting node got an answer" wait_for 20 '[ "$(( $(count_answers granted "${REST[@]}") + $(count_answers stopped "${REST[@]}") ))" = ${#REST[@]} ]'
is "$(count_answers granted "${REST[@]}")" 3 "after the reset: exactly 3 more granted"
is "$(tripget /medic/breaker/tripped/groups/g1/ | jget 'd["breaker"]')" group "then it trips again"

# ---- a larger group: 50 members registered straight in etcd, 5 real ones, breaker 10% ----
# 10% of 55 = 5: 3 simulated members were granted a minute ago, so 2 of the burst pass.
now=$(date +%s)
for i in $(seq -w 1 50); do
        etcdput "/medic/groups/g3/registered/sim$i" "{\"node\":\"sim$i\",\"since\":$now,\"labels\":{}}"
done
for i in 01 02 03; do
        etcdput "/medic/breaker/events/g3/sim$i" "{\"node\":\"sim$i\",\"group\":\"g3\",\"time\":$((now - 60)),\"what\":\"granted\"}"
done
CLIENT_EXTRA=$'max_unavailable = 100%\nbreaker_group = 10%/10m'
G3=()
for i in 1 2 3 4 5; do client_start "b$i" g3 || bail_out "client b$i"; G3+=("b$i"); done
for n in "${G3[@]}"; do client_send "$n" "acquire reboot"; done
ok "every node of the second burst got an answer" wait_for 20 '[ "$(( $(count_answers granted "${G3[@]}") + $(count_answers stopped "${G3[@]}") ))" = 5 ]'
is "$(count_answers granted "${G3[@]}")" 2 "55 members, 10%: 5 in the window, 3 of them earlier: 2 granted"
is "$(tripget /medic/breaker/tripped/groups/g3/ | jget 'len(d["nodes"])')" 6 "the trip names 6 nodes (3 earlier, 2 granted, the 3rd asker)"

# ---- a slow steady rollout never trips it: breaker_group 1/5s, one node every 6.2 s (the
# history has whole seconds; the window is wide enough that a loaded machine does not matter) ----
CLIENT_EXTRA=$'max_unavailable = 1\nbreaker_group = 1/5s'
for i in 1 2 3 4; do client_start "s$i" g2 || bail_out "client s$i"; done
steady=0
for i in 1 2 3 4; do
        client_send "s$i" "acquire reboot"
        client_wait "s$i" '^(granted|stopped)' 10 | grep -q '^granted' && steady=$((steady + 1))
        client_send "s$i" "release reboot"; client_wait "s$i" '^released' 5 >/dev/null
        [ "$i" -lt 4 ] && sleep 6.2
done
is "$steady" 4 "a steady rollout: all 4 granted, one at a time"
is "$(tripget /medic/breaker/tripped/groups/g2/)" "" "the breaker of g2 never tripped"
# The same pace twice as fast trips it (the test can fail).
client_send s1 "acquire reboot"; client_wait s1 '^granted' 10 >/dev/null
client_send s1 "release reboot"; client_wait s1 '^released' 5 >/dev/null
client_send s2 "acquire reboot"
like "$(client_wait s2 '^(granted|stopped)' 10)" "^stopped .*storm breaker" "two within 5 s trip breaker_group 1/5s"

# ---- cluster-wide, prefix /c: breaker_cluster 4/1h, every group counts ----
now=$(date +%s)
etcdput /c/breaker/events/x1/sim1 "{\"node\":\"sim1\",\"group\":\"x1\",\"time\":$now,\"what\":\"granted\"}"
etcdput /c/breaker/events/x2/sim2 "{\"node\":\"sim2\",\"group\":\"x2\",\"time\":$now,\"what\":\"granted\"}"
etcdput /c/breaker/events/x3/old "{\"node\":\"old\",\"group\":\"x3\",\"time\":$((now - 7200)),\"what\":\"granted\"}"
CLIENT_EXTRA=$'prefix = /c\nbreaker_cluster = 4/1h'
for g in k1 k2 k3 k4; do client_start "$g" "$g" || bail_out "client $g"; done
client_send k1 "health sick"; client_wait k1 '^health' 5 >/dev/null
ok "becoming unhealthy is in the history" wait_for 5 '[ "$(etcdget --print-value-only /c/breaker/events/k1/k1 | jget "d[\"what\"]")" = unhealthy ]'
client_send k2 "try reboot"
is "$(client_wait k2 '^(denied|granted|unknown)' 5)" granted "4 nodes in the hour (sim1, sim2, unhealthy k1, k2): granted; an entry 2 h old does not count"
client_send k3 "try reboot"
like "$(client_wait k3 '^(denied|granted|unknown)' 5)" "^denied the storm breaker tripped.*5 nodes of the cluster.*breaker_cluster 4/1h allows 4" "a 5th node trips the cluster's breaker"
is "$(tripget /c/breaker/tripped/cluster/ | jget 'd["breaker"]')" cluster "the cluster breaker's trip"
is "$(tripkeys /c/breaker/tripped/cluster/)" /c/breaker/tripped/cluster/k3 "in the tripping node's own key"
is "$(tripget /c/breaker/tripped/cluster/ | jget '",".join(sorted(d["nodes"]))')" "k1,k2,k3,sim1,sim2" "the nodes involved, across groups"
client_send k4 "try reboot"
like "$(client_wait k4 '^(denied|granted|unknown)' 5)" "^denied the storm breaker is tripped \(cluster\)" "another group is refused too"

# ---- a cluster-wide burst, prefix /d: 8 groups of one node each, breaker_cluster 3/1h ----
# Different groups do not share holder keys: only the history compare in the grant keeps two
# of them from passing the breaker's last place together.
CLIENT_EXTRA=$'prefix = /d\nbreaker_cluster = 3/1h'
CB=()
for i in 1 2 3 4 5 6 7 8; do client_start "c$i" "cg$i" || bail_out "client c$i"; CB+=("c$i"); done
for n in "${CB[@]}"; do client_send "$n" "acquire reboot"; done
ok "every node of the cluster burst got an answer" wait_for 20 '[ "$(( $(count_answers granted "${CB[@]}") + $(count_answers stopped "${CB[@]}") ))" = 8 ]'
is "$(count_answers granted "${CB[@]}")" 3 "exactly 3 of 8 groups' nodes granted"
is "$(etcdget --prefix --keys-only /d/groups/ | grep -c /holders/)" 3 "3 holder keys across the groups"

# ---- a real medicd in the cluster: medicctl and the metrics ----
medicd_on_etcd
printf 'prefix = /c\nbreaker_cluster = 4/1h\n' >> "$T/medic.conf"
metrics_listen
start_medicd
ok "medicd registered" wait_for 10 'ctl_json status | jget "d[\"coordinator\"].get(\"registered\")" | grep -q true'
ok "medicctl status shows the trip" wait_for 10 'ctl status | grep -Eq "^storm breaker: +tripped \(cluster\): storm breaker: 5 nodes"'
ok "metric medic_breaker_tripped{scope=\"cluster\"} 1" wait_for 10 'curl -sf "$METRICS_URL" | grep -qx "medic_breaker_tripped{scope=\"cluster\"} 1"'
ok "metric medic_breaker_tripped{scope=\"group\"} 0" curl -sf "$METRICS_URL" -o "$T/m.txt" -w '' && grep -qx 'medic_breaker_tripped{scope="group"} 0' "$T/m.txt"
st=$(ctl coordinator status)
like "$st" "storm breaker \(cluster\): 4/1h, tripped: storm breaker: 5 nodes" "coordinator status shows the breaker and why"
like "$(ctl coordinator resume 2>&1)" "--reason" "medicctl coordinator resume without --reason is refused"
ctl coordinator resume --reason "rollout checked" >/dev/null
ok "medicctl coordinator resume --reason lifts it" wait_for 5 '[ -z "$(tripget /c/breaker/tripped/cluster/)" ]'
ok "and the metric follows" wait_for 10 'curl -sf "$METRICS_URL" | grep -qx "medic_breaker_tripped{scope=\"cluster\"} 0"'
ok "the resume is logged" log_has 'Operator: coordinator resume cluster-wide: rollout checked'
ok "and in the history" wait_for 5 'ctl history | grep -q "coordinator-resume"'
client_send k4 "try reboot"
is "$(client_wait k4 '^(denied|granted|unknown)' 5)" granted "after the reset the rollout continues"
done_testing
