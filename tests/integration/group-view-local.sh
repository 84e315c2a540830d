#!/bin/bash
# SPDX-License-Identifier: MIT
# medic.group_view() and medic.labels without etcd: with the local coordinator the group is
# this node alone (its labels, its health as published, whether it holds the local slot);
# the FleetLock coordinator keeps no view of the group, so the view is nil with why. A
# malformed on_labels is refused with file:line.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/fleetlock-lib.sh"
setup 60

write_config "labels = role=gateway, rack=r1"
write_file "$T/checks/10-view.lua" <<EOF
check "sick" { every = "1s", health = true, run = function()
  if medic.exists("$T/sick") then return problem("sick") end
  return ok("fine")
end }
check "view" { every = "1s", run = function()
  local g, why = medic.group_view()
  if not g then return unknown("no view: " .. why) end
  local m = g.members[1]
  return ok(string.format("%s n=%d %s self=%s role=%s rack=%s healthy=%s holding=%s queued=%s seen=%s own=%s",
    g.backend, #g.members, m.node, tostring(m.self), tostring(m.labels.role), tostring(m.labels.rack),
    tostring(m.healthy), tostring(m.holding), tostring(m.queued), tostring(m.last_seen ~= nil),
    tostring(medic.labels.role)))
end }
EOF
start_medicd
ok "the local view is this node alone, with its labels" wait_for 10 \
        "cond_get view message | grep -q '^local n=1 $MEDIC_NODE self=true role=gateway rack=r1 healthy=true holding=false queued=false seen=true own=gateway$'"
touch "$T/sick"
ok "its health as published" wait_for 10 "cond_get view message | grep -q 'healthy=false'"
rm -f "$T/sick"
ok "healthy again" wait_for 10 "cond_get view message | grep -q 'healthy=true'"

# A malformed on_labels is an error with file:line.
write_file "$T/rules/20-bad.lua" <<'EOF'
rule "bad" { when = "sick", remedy = command { "/bin/true" },
  on_labels = { role = 5 } }
EOF
out=$(timeout 20 "$MEDICD" --config "$T/medic.conf" --check-config 2>&1)
like "$out" "$T/rules/20-bad.lua:1: rule 'bad': on_labels.role must be a string or a list of strings" \
        "--check-config: a malformed on_labels names file:line"
rm -f "$T/rules/20-bad.lua"
stop_medicd

fl_start
fl_medicd_conf
start_medicd
ok "FleetLock: no view of the group" wait_for 10 \
        "[ \"\$(cond_get view state)\" = unknown ] && cond_get view message | grep -q 'no view: the fleetlock coordinator keeps no view of the group'"

done_testing
