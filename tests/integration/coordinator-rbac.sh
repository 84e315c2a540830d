#!/bin/bash
# SPDX-License-Identifier: MIT
# etcd RBAC as shipped (packaging/medic-etcd-roles): with etcd's authentication on, two real
# medicd nodes, each with its own etcd user and role, register, publish health, queue, are
# granted in turn, reboot, release and consume a reboot request; and with a node's
# credentials nothing but that node's own keys can be written: not another node's holder or
# queue key, not the budget, not a stop switch, not another group. The operators' role
# (medic-admin) can write them. The storm breaker (breaker_group on the nodes) works under the
# node roles: a trip is recorded in the tripping node's own key, holds after its window has
# passed, and `medicctl coordinator resume --reason` through a medicd with the operators'
# credentials lifts it; a node cannot write a stop switch, a reset or another node's trip.
# No node's medicd ever meets "permission denied". No password appears in a command line or a log.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 200
need_etcd
. "$top_srcdir/tests/integration/nodes-lib.sh"
ROLES="$top_srcdir/packaging/medic-etcd-roles"
start_etcd
export ETCDCTL_API=3
E=(etcdctl --endpoints="$ETCD_URL")

# Before auth is enabled the script works without credentials; root is made by hand.
"${E[@]}" user add root --new-user-password=rootpw --interactive=false >/dev/null 2>&1 || bail_out "cannot add root"
"${E[@]}" user grant-role root root >/dev/null 2>&1
"${E[@]}" auth enable >/dev/null 2>&1 || bail_out "cannot enable etcd auth"
printf 'rootpw\n' > "$T/root.pw"; chmod 600 "$T/root.pw"

out=$("$ROLES" --endpoints "$ETCD_URL" --password-file "$T/root.pw" --password-dir "$T/pw" g1 A B --admin ops 2>&1)
is "$?" 0 "medic-etcd-roles creates the roles and users: $out"
is "$(stat -c %a "$T/pw/A.password")" 600 "a node's password file is mode 0600"
pwA=$(cat "$T/pw/A.password"); pwB=$(cat "$T/pw/B.password"); pwO=$(cat "$T/pw/ops.password")
[ -n "$pwA" ] && [ "$pwA" != "$pwB" ] && pass "each node has its own password" || fail "each node has its own password"
out2=$("$ROLES" --endpoints "$ETCD_URL" --password-file "$T/root.pw" --password-dir "$T/pw" g1 A B --admin ops 2>&1)
is "$?" 0 "running it again changes nothing and succeeds"
is "$(cat "$T/pw/A.password")" "$pwA" "and keeps the existing password"
perms=$("${E[@]}" --user root:rootpw role get medic-node-A 2>&1)
like "$perms" 'Read:' "role medic-node-A has read permissions"
unlike "$(sed -n '/KV Write:/,$p' <<<"$perms")" 'groups/g1/[a-z_]*/B' "role medic-node-A may not write any key of B"
like "$("$ROLES" --print g1 A)" 'READWRITE key +/medic/groups/g1/holders/A' "--print shows the layout"
like "$("$ROLES" --print g1 A)" 'READWRITE key +/medic/breaker/tripped/cluster/A' "--print shows the breaker's keys"
for k in /medic/breaker/events/g1/A /medic/breaker/tripped/groups/g1/A /medic/breaker/tripped/cluster/A; do
        like "$perms" "$k" "role medic-node-A may write its breaker key $k"
done
unlike "$(sed -n '/KV Write:/,$p' <<<"$perms")" '/stop|breaker/reset|prefix' "and no stop switch, no reset, no range"

# Two real medicd nodes, each with its own user.
for n in A B; do
        node_add "$n" g1
        node_reboot_rule "$n"
        node_conf "$n" coordinator "password_file = $T/pw/$n.password"
        node_conf "$n" coordinator "user = $n"
        # 2 distinct nodes (A, B) are granted below: the breaker trips only at a 4th.
        node_conf "$n" coordinator "breaker_group = 3/10s"
done
# An operators' medicd (for medicctl coordinator resume), with the admin role, in its own group.
node_add O ops
node_conf O coordinator "password_file = $T/pw/ops.password"
node_conf O coordinator "user = ops"
# A also serves an operator's reboot request (the coordinator key mirrored into its flag file).
on A reboot_request_check 1s "$(node_dir A)/coordinator-reboot-request"
echo 'rule "operator-reboot" { when = "reboot-request", remedy = reboot {}, retry = "1s" }' |
        on A write_file "$(node_dir A)/rules/20-operator.lua"
for n in A B O; do node_start "$n"; done
ok "A registers with its own user" wait_for 15 "ETCDCTL_API=3 etcdctl --endpoints=$ETCD_URL --user root:rootpw get --keys-only /medic/groups/g1/members/A | grep -q ."
ok "B registers with its own user" wait_for 15 "ETCDCTL_API=3 etcdctl --endpoints=$ETCD_URL --user root:rootpw get --keys-only /medic/groups/g1/members/B | grep -q ."
rootget() { "${E[@]}" --user root:rootpw get "$@" 2>/dev/null; }
touch "$(node_dir A)/trigger"
ok "A is granted and reboots" wait_for 20 "node_rebooted A"
is "$(rootget --keys-only --prefix /medic/groups/g1/holders/)" "/medic/groups/g1/holders/A" "A's holder key is written under A's role"
touch "$(node_dir B)/trigger"
ok "B queues under B's role" wait_for 15 "rootget --keys-only /medic/groups/g1/queue/B | grep -q ."
node_boot A
ok "A comes back and releases under A's role" wait_for 30 "! rootget --keys-only /medic/groups/g1/holders/A | grep -q ."
ok "then B is granted and reboots" wait_for 30 "node_rebooted B"
node_boot B
ok "B releases" wait_for 30 "! rootget --keys-only /medic/groups/g1/holders/B | grep -q ."

# An operator's reboot request for A, written with the admin role, is consumed by A itself.
"${E[@]}" --user "ops:$pwO" put /medic/groups/g1/reboot_required/A "kernel update" >/dev/null 2>&1
is "$?" 0 "the admin role may write a reboot request"
node_stop B  # B's trigger is gone, but keep the group simple
ok "A reboots for the request" wait_for 30 "node_rebooted A"
node_boot A
ok "A deletes the request key under its own role" wait_for 15 "! rootget --keys-only /medic/groups/g1/reboot_required/A | grep -q ."
ok "A releases after the request" wait_for 30 "! rootget --keys-only /medic/groups/g1/holders/A | grep -q ."

# ---- the storm breaker under the node roles ----
node_start B  # alive again (its trigger is gone): the budget leaves room for A
ok "B is back" wait_for 15 "rootget /medic/groups/g1/members/B | grep -q '\"healthy\":true'"
# Three more nodes' grants in the window, written with the admin role: A's next request is a
# 4th node within 10 s, over breaker_group 3/10s.
now=$(date +%s)
for x in X1 X2 X3; do
        "${E[@]}" --user "ops:$pwO" put "/medic/breaker/events/g1/$x" \
                "{\"node\":\"$x\",\"group\":\"g1\",\"time\":$now,\"what\":\"granted\"}" >/dev/null 2>&1 ||
                bail_out "cannot write the breaker's history with the admin role"
done
touch "$(node_dir A)/trigger"
ok "A trips the breaker: the trip is recorded in A's own key" wait_for 15 "rootget --keys-only /medic/breaker/tripped/groups/g1/A | grep -q ."
trip=$(rootget --print-value-only /medic/breaker/tripped/groups/g1/A)
like "$trip" '"reason":"storm breaker: [45] nodes of group g1' "the trip has its reason"
like "$trip" '"nodes":\[[^]]*"X1"' "and the nodes involved"
is "$(rootget --keys-only /medic/groups/g1/stop)" "" "no stop switch is written"
ok "A's status: the breaker is tripped" wait_for 5 'on A ctl status | grep -Eq "^storm breaker: +tripped \(group\)"'
ok "the metric medic_breaker_tripped{scope=\"group\"} is 1" wait_for 10 '[ "$(node_metric A "medic_breaker_tripped{scope=\"group\"}")" = 1 ]'
like "$(on O ctl coordinator status --group g1)" "storm breaker \(group\): .*tripped: storm breaker: [45] nodes" "coordinator status (operators' medicd) shows the trip"
like "$(timeout 20 "$MEDICCTL" fleet --config "$(node_dir O)/medic.conf" 2>&1)" "switch: storm breaker of group g1 is tripped by A: storm breaker: [45] nodes" "medicctl fleet shows the trip as the breaker"
# The window passes: the history no longer counts, the trip holds. A's medicd starts again, so
# that its request is decided afresh (not an answer kept since nothing changed).
sleep 11
node_stop A
node_start A
ok "after the window a fresh A asks again" wait_for 15 'on A ctl_json status | jget "d[\"coordinator\"].get(\"last_reason\") or \"\"" | grep -q .'
like "$(on A ctl_json status | jget 'd["coordinator"].get("last_reason")')" "storm breaker is tripped \(group g1\)" "and is refused: the trip holds after the window"
ok "A is not granted" test -z "$(rootget --keys-only /medic/groups/g1/holders/A)"
is "$(node_rebooted A && echo rebooted)" "" "A has not rebooted"
# An operator resumes, through the medicd with the admin role.
like "$(on O ctl coordinator resume --group g1 2>&1)" "--reason" "resume without --reason is refused"
out=$(on O ctl coordinator resume --group g1 --reason "rbac test: checks fixed" 2>&1)
is "$?" 0 "medicctl coordinator resume --reason with the operators' credentials: $out"
ok "the trip key is gone" test -z "$(rootget --keys-only --prefix /medic/breaker/tripped/)"
like "$(rootget --print-value-only /medic/breaker/reset/groups/g1)" '"reason":"rbac test: checks fixed"' "the reset is recorded"
ok "A is granted and reboots after the resume" wait_for 20 "node_rebooted A"
node_boot A
ok "A releases" wait_for 30 "! rootget --keys-only /medic/groups/g1/holders/A | grep -q ."

for n in A B O; do
        if grep -qi 'permission denied' "$(node_dir "$n")/medicd.log"; then
                fail "$n's medicd never hit etcd's permission denied: $(grep -i 'permission denied' "$(node_dir "$n")/medicd.log" | head -2)"
        else
                pass "$n's medicd did everything it does within its role (no permission denied)"
        fi
done

# With A's credentials: read everything, write only A's own keys.
asA() { "${E[@]}" --user "A:$pwA" "$@" 2>&1; }
like "$(asA get --prefix --keys-only /medic/)" 'members/A' "A may read the prefix"
refused() { # WHAT COMMAND...
        local what=$1 out; shift
        out=$(asA "$@")
        like "$out" 'permission denied' "A may not $what"
}
refused "write B's holder key" put /medic/groups/g1/holders/B x
refused "delete B's member key" del /medic/groups/g1/members/B
refused "write B's queue key" put /medic/groups/g1/queue/B x
refused "register a node B" put /medic/groups/g1/registered/B x
refused "ask B to reboot" put /medic/groups/g1/reboot_required/B x
refused "change the group's budget" put /medic/groups/g1/budget '{"max_unavailable":"100%"}'
refused "set the group's stop switch" put /medic/groups/g1/stop x
refused "delete the group's stop switch" del /medic/groups/g1/stop
refused "set the cluster stop switch" put /medic/stop x
refused "take a slot in another group" put /medic/groups/g2/holders/A x
refused "write outside the prefix" put /other x
refused "delete the whole prefix" del --prefix /medic/
refused "write B's trip key" put /medic/breaker/tripped/groups/g1/B x
refused "write a trip key of another group" put /medic/breaker/tripped/groups/g2/A x
refused "write B's cluster trip key" put /medic/breaker/tripped/cluster/B x
refused "delete the trips" del --prefix /medic/breaker/tripped/
refused "record a reset of the breaker" put /medic/breaker/reset/groups/g1 x
refused "write B's breaker history" put /medic/breaker/events/g1/B x
out=$(asA put /medic/groups/g1/reboot_required/A self)
like "$out" '^OK' "A may write its own keys"
asA del /medic/groups/g1/reboot_required/A >/dev/null
# Admin writes through A's medicd are refused by etcd, and say so.
mark=$(on A log_mark)
out=$(on A ctl coordinator stop --group g1 2>&1)
like "$out" 'permission denied' "medicctl coordinator stop through a node's medicd: etcd's refusal is shown"
ok "the stop switch was not written" test -z "$(rootget --keys-only /medic/groups/g1/stop)"
like "$(on A ctl coordinator resume --group g1 --reason x 2>&1)" 'permission denied' "medicctl coordinator resume through a node's medicd is refused too"
"${E[@]}" --user "ops:$pwO" put /medic/groups/g1/stop "by ops" >/dev/null 2>&1
is "$(rootget --print-value-only /medic/groups/g1/stop)" "by ops" "the admin role may set the stop switch"

# No password in a log or on a command line.
for n in A B; do
        p=$(cat "$T/pw/$n.password")
        if grep -qF -- "$p" "$(node_dir "$n")/medicd.log"; then fail "$n's password is not in its log"; else pass "$n's password is not in its log"; fi
        pid=${NODE_PID[$n]:-}
        if [ -n "$pid" ] && tr '\0' '\n' < "/proc/$pid/environ" | grep -qF -- "$p"; then
                fail "$n's password is not in medicd's environment"
        else
                pass "$n's password is not in medicd's environment"
        fi
done
done_testing
