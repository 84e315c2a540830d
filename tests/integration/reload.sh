#!/bin/bash
# SPDX-License-Identifier: MIT
# Reload (SIGHUP and medicctl reload) is atomic: a broken rule file or config keeps the
# complete old set and logs file:line; a fixed one is picked up.
. "$top_srcdir/tests/integration/lib.sh"
setup 90

write_file "$T/checks/10-state.lua" <<'EOF'
check "state" {
  every = "1m",
  run = function() return ok("fine") end,
}
EOF

write_file "$T/rules/10-a.lua" <<'EOF'
rule "old-rule" {
  when = "state",
  remedy = command { "/bin/true" },
}
EOF

rule_names() { ctl_json rules | jget '" ".join(sorted(r["name"] for r in d["rules"]))'; }
check_names() { ctl_json conditions | jget '" ".join(sorted(c["name"] for c in d["conditions"]))'; }

start_medicd
is "$(rule_names)" "old-rule" "rules shows the first rule"
ok "condition 'state' is ok" wait_cond state ok 5
pid=$MEDICD_PID

# ---- a broken rule file, SIGHUP ----
write_file "$T/rules/10-a.lua" <<'EOF'
-- broken on line 3
rule "new-rule" { when = "state", remedy = command { "/bin/true" } }
local x = = 1
EOF
mark=$(log_mark)
kill -HUP "$MEDICD_PID"
ok "failed reload: log names 10-a.lua:3" wait_for 5 'log_has_since "$mark" "10-a\.lua:3:"'
ok "daemon still running after a failed reload" daemon_alive
is "$MEDICD_PID" "$pid" "same process"
is "$(rule_names)" "old-rule" "failed reload: rules still shows the old rule only"
is "$(check_names)" "state" "failed reload: checks unchanged"
is "$(ctl_json status | jget 'd["last_reload"]["ok"]')" false "status: last_reload.ok is false"
like "$(ctl_json status | jget 'd["last_reload"]["errors"]')" '10-a\.lua:3:' "status: last_reload.errors names 10-a.lua:3"

# A broken file added next to a good one, plus a second error elsewhere: every error logged,
# nothing from the good new file is taken.
write_file "$T/rules/20-b.lua" <<'EOF'
rule "b-rule" {
  when = "state",
  remedy = command { "/bin/true" },
  limit = "3 per hour",
}
EOF
write_file "$T/checks/20-new.lua" <<'EOF'
check "newcheck" { every = "1m", run = function() return ok() end }
EOF
mark=$(log_mark)
kill -HUP "$MEDICD_PID"
ok "failed reload with two errors: 10-a.lua:3 logged" wait_for 5 'log_has_since "$mark" "10-a\.lua:3:"'
ok "failed reload with two errors: 20-b.lua:LINE logged" wait_for 3 'log_has_since "$mark" "20-b\.lua:[0-9]+:"'
is "$(rule_names)" "old-rule" "failed reload: still only the old rule"
is "$(check_names)" "state" "failed reload: the new good check was not taken either"

# medicctl reload reports the errors and fails.
out=$(ctl reload 2>&1); rc=$?
ok "medicctl reload with broken files exits non-zero" test "$rc" -ne 0
like "$out" '10-a\.lua:3:' "medicctl reload prints the errors with file:line"
rm -f "$T/rules/20-b.lua"

# ---- fixed, SIGHUP ----
write_file "$T/rules/10-a.lua" <<'EOF'
rule "new-rule" {
  when = "state",
  remedy = command { "/bin/true" },
}
EOF
mark=$(log_mark)
kill -HUP "$MEDICD_PID"
ok "fixed rule file: reload picks up the new rule" wait_for 5 '[ "$(rule_names)" = "new-rule" ]'
ok "fixed: the new check is loaded and runs" wait_cond newcheck ok 5
is "$(check_names)" "newcheck state" "fixed: conditions are newcheck and state"
is "$(ctl_json status | jget 'd["last_reload"]["ok"]')" true "status: last_reload.ok is true"

# ---- medicctl reload ----
write_file "$T/rules/10-a.lua" <<'EOF'
rule "third-rule" {
  when = "state",
  remedy = command { "/bin/true" },
}
EOF
out=$(ctl reload 2>&1); rc=$?
is "$rc" 0 "medicctl reload exits 0"
is "$(rule_names)" "third-rule" "medicctl reload: new rule shown"

# ---- a broken config file on SIGHUP ----
cp "$T/medic.conf" "$T/medic.conf.good"
write_config "bogus_key = 1"
line=$(grep -n '^bogus_key' "$T/medic.conf" | cut -d: -f1)
write_file "$T/rules/10-a.lua" <<'EOF'
rule "fourth-rule" {
  when = "state",
  remedy = command { "/bin/true" },
}
EOF
mark=$(log_mark)
kill -HUP "$MEDICD_PID"
ok "broken config: log names medic.conf:$line" wait_for 5 "log_has_since \"\$mark\" 'medic\\.conf:$line:'"
ok "broken config: daemon still running" daemon_alive
is "$(rule_names)" "third-rule" "broken config: rules unchanged (old set kept)"
is "$(ctl_json status | jget 'd["node"]')" "$MEDIC_NODE" "broken config: node unchanged"

# A config that is valid but changes things, on the same reload with the broken one fixed.
cp "$T/medic.conf.good" "$T/medic.conf"
sed -i "s/^node = .*/node = renamed-node/" "$T/medic.conf"
kill -HUP "$MEDICD_PID"
ok "fixed config: reload takes the new rule" wait_for 5 '[ "$(rule_names)" = "fourth-rule" ]'
is "$(ctl_json status | jget 'd["node"]')" "renamed-node" "fixed config: new node name in status"
ok "daemon still the same process" test "$MEDICD_PID" = "$pid"

stop_medicd
ok "medicd stops on SIGTERM within 5 s" test $? -eq 0

done_testing
