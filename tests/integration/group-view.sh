#!/bin/bash
# SPDX-License-Identifier: MIT
# Node labels and the group view: three medicd nodes on a real etcd with labels in medic.conf.
# The labels are published with the registration and shown by medicctl; a rule with on_labels
# is inert on a node whose labels do not match; a check in Lua counts the healthy gateways
# with medic.group_view() and, as a blocker, keeps a reboot from running while fewer than two
# are healthy (negative control) and lets it run when they are (positive control); with etcd
# stopped the view is unknown and the blocker blocks, and clears once etcd answers again.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 90
need_etcd
. "$top_srcdir/tests/integration/nodes-lib.sh"
start_etcd

# The check: a problem while fewer than 2 healthy nodes have role=gateway; unknown without a view.
gateway_check() {
        write_file "$T/checks/30-gateways.lua" <<'EOF'
check "gateways" { every = "1s", run = function()
  local g, why = medic.group_view()
  if not g then return unknown("no view of the group: " .. why) end
  local n = 0
  for _, m in ipairs(g.members) do
    if m.labels.role == "gateway" and m.healthy then n = n + 1 end
  end
  if n < 2 then return problem(n .. " healthy gateway(s), fewer than 2") end
  return ok(n .. " healthy gateways")
end }
EOF
        write_file "$T/checks/31-sick.lua" <<EOF
check "sick" { every = "1s", health = true, run = function()
  if medic.exists("$T/sick") then return problem("sick") end
  return ok("fine")
end }
check "wants-note" { every = "1s", run = function()
  if medic.exists("$T/note") then return problem("a note is wanted") end
  return ok("no note")
end }
check "wants-labels" { every = "1s", run = function()
  if medic.exists("$T/labels-go") then return problem("the label rules are wanted") end
  return ok("not wanted")
end }
EOF
        # Inert on every node but the controller; a list of values; a label no node has.
        write_file "$T/rules/30-labels.lua" <<EOF
rule "controller-only" { when = "wants-labels", on_labels = { role = "controller" },
  remedy = command { "/bin/true" } }
rule "gateway-or-controller" { when = "wants-labels", on_labels = { role = { "gateway", "controller" } },
  remedy = command { "/bin/true" }, limit = "100/1h", retry = "1s" }
rule "zoned" { when = "wants-labels", on_labels = { zone = "z1" }, remedy = command { "/bin/true" } }
rule "note" { when = "wants-note", remedy = command { "/bin/touch", "$T/noted" }, unless = { "gateways" } }
EOF
}

for n in A B C; do
        node_add $n
        on $n gateway_check
done
node_conf A medic "labels = role=gateway, rack=r1"
# B's list goes on on an indented line.
printf 'labels = role=gateway\n  rack=r2\n' > "$T/b-labels"
sed -i "/^\[medic\]/r $T/b-labels" "$(node_dir B)/medic.conf"
node_conf C medic "labels = role=controller rack=r1"
# C reboots for updates unless fewer than 2 gateways are healthy.
on C reboot_rule_files 1s
sed -i 's/remedy = reboot {}/remedy = reboot {}, unless = { "gateways" }/' "$(node_dir C)/rules/10-reboot.lua"
for n in A B C; do node_start $n; done

# ---- labels: published, shown, matched by on_labels ----------------------------------------
reg_labels() { etcdget --print-value-only "/medic/groups/$MEDIC_GROUP/registered/$1" | jget 'd["labels"]'; }
ok "A's labels are published with its registration" wait_for 10 \
        "[ \"\$(reg_labels A)\" = '{\"rack\": \"r1\", \"role\": \"gateway\"}' ]"
is "$(reg_labels B)" '{"rack": "r2", "role": "gateway"}' "B's labels (a continuation line) are published"
like "$(on A ctl status)" "labels: +role=gateway, rack=r1" "medicctl status shows the node's labels"
ok "every node sees the three members" wait_for 10 "on C ctl coordinator status | grep -q '^B .*role=gateway, rack=r2'"
like "$(on C ctl coordinator status)" "C .*role=controller, rack=r1" "medicctl coordinator status shows each member's labels"

is "$(on A rule_get controller-only status)" inert "a rule whose on_labels do not match is inert"
like "$(on A ctl explain controller-only)" "not firing: on_labels wants role=controller, this node has role=gateway" \
        "explain says why it is inert"
like "$(on A rule_get zoned inert)" "this node has no label 'zone'" "a label the node lacks does not match"
is "$(on C rule_get controller-only status)" idle "on the controller the same rule is loaded"
is "$(on A rule_get gateway-or-controller status)" idle "a list of values matches any of them"
touch "$(node_dir A)/labels-go" "$(node_dir C)/labels-go"
ok "the matching rule runs" wait_for 10 "on C log_has 'Rule controller-only fires'"
if on A log_has 'Rule controller-only fires'; then fail "the inert rule never runs"; else pass "the inert rule never runs"; fi
rm -f "$(node_dir A)/labels-go" "$(node_dir C)/labels-go"

# ---- the group view as a blocker -----------------------------------------------------------
ok "with all gateways healthy the view counts 2" wait_for 10 "on C cond_get gateways message | grep -q '^2 healthy gateways'"
ok "A (a gateway) counts itself and B" wait_for 10 "on A cond_get gateways message | grep -q '^2 healthy gateways'"
touch "$(node_dir B)/sick"
ok "B unhealthy: C's blocker reports 1 healthy gateway" wait_for 10 \
        "on C cond_get gateways message | grep -q '^1 healthy gateway(s), fewer than 2'"
touch "$(node_dir C)/trigger"
ok "the reboot is blocked by the group view" wait_for 10 \
        "on C ctl explain reboot-for-updates | grep -q 'blocked by gateways (problem: 1 healthy gateway'"
ok "negative control: no reboot while fewer than 2 gateways are healthy" never_within 3 "node_rebooted C"
rm -f "$(node_dir B)/sick"
ok "positive control: B healthy again, the reboot runs" wait_for 20 "node_rebooted C"

# ---- etcd stopped: no current view, the blocker blocks ---------------------------------------
kill -STOP "${ETCD_PIDS[0]}"
ok "etcd stopped: the group view is unknown" wait_for 15 \
        "on A cond_get gateways message | grep -q 'no view of the group: no answer from etcd'"
touch "$(node_dir A)/note"
ok "an unknown view blocks the rule" wait_for 10 \
        "on A ctl explain note | grep -q 'blocked by gateways (unknown: no view of the group'"
ok "nothing ran while the view was unknown" never_within 3 "[ -e $(node_dir A)/noted ]"
kill -CONT "${ETCD_PIDS[0]}"
ok "etcd back: the view is current again" wait_for 20 "[ \"\$(node_cond A gateways)\" = ok ]"
ok "and the rule the view blocked runs" wait_for 10 "[ -e $(node_dir A)/noted ]"

done_testing
