#!/bin/bash
# SPDX-License-Identifier: MIT
# medicd --check-config: "configuration OK", or every error as file:line with exit 1.
. "$top_srcdir/tests/integration/lib.sh"
setup 60

# run_check CONFIG: runs medicd --check-config, sets $out and $rc.
run_check() {
        out=$(timeout 20 "$MEDICD" --config "$1" --check-config 2>&1)
        rc=$?
}

good_lua() {
        write_file "$T/checks/10-state.lua" <<EOF
check "state" {
  every = "1m",
  run = function()
    return ok("fine")
  end,
}
EOF
        write_file "$T/rules/10-fix.lua" <<EOF
rule "fix" {
  when = "state",
  remedy = command { "/bin/true" },
  limit = "3/1h",
  retry = "5m",
}
EOF
}

# ---- --version / --help ----
out=$(timeout 10 "$MEDICD" --version 2>&1); rc=$?
is "$rc" 0 "--version exits 0"
like "$out" '[0-9]+\.[0-9]+' "--version prints a version number"
out=$(timeout 10 "$MEDICD" --help 2>&1); rc=$?
is "$rc" 0 "--help exits 0"
like "$out" '--check-config' "--help mentions --check-config"

# ---- a valid configuration ----
good_lua
run_check "$T/medic.conf"
is "$rc" 0 "valid config: exit 0"
like "$out" '^configuration OK' "valid config: prints 'configuration OK'"
ok "--check-config does not create the socket" test ! -e "$T/medicd.sock"

# ---- missing file ----
run_check "$T/nonexistent.conf"
is "$rc" 1 "missing config file: exit 1"
like "$out" "$T/nonexistent.conf: .*No such file or directory" "missing config file: file: No such file or directory"

# ---- unknown key, unknown section, bad values: all reported with their lines ----
cat > "$T/bad.conf" <<EOF
[medic]
node = n1
checks = $T/checks
bogus_key = 1
rules = $T/rules
dry_run = maybe
lua_memory_limit = lots
state_dir = $T/state

[nosuchsection]
foo = bar

[coordinator]
backend = local
EOF
run_check "$T/bad.conf"
is "$rc" 1 "bad config: exit 1"
like "$out" "^$T/bad.conf:4: .*bogus_key" "unknown key reported as file:4 with the key"
like "$out" "^$T/bad.conf:6: .*(dry_run|maybe)" "bad boolean reported as file:6"
like "$out" "^$T/bad.conf:7: .*(lua_memory_limit|lots)" "bad size reported as file:7"
like "$out" "^$T/bad.conf:1[01]: .*nosuchsection" "unknown section reported as file:10 (or :11)"
unlike "$out" 'configuration OK' "bad config: no 'configuration OK'"

cat > "$T/dup.conf" <<EOF
[medic]
checks = $T/checks
rules = $T/rules
checks = $T/checks
EOF
run_check "$T/dup.conf"
is "$rc" 1 "duplicate key: exit 1"
like "$out" "^$T/dup.conf:4: " "duplicate key reported at its second line"

cat > "$T/badcoord.conf" <<EOF
[medic]
checks = $T/checks
rules = $T/rules
[coordinator]
backend = etcd
EOF
run_check "$T/badcoord.conf"
is "$rc" 1 "unsupported coordinator backend: exit 1"
like "$out" "^$T/badcoord.conf:5: " "unsupported backend reported at line 5"

# ---- Lua files ----
# A syntax error on line 3.
write_file "$T/rules/20-syntax.lua" <<'EOF'
-- a rule file with a syntax error on line 3
rule "syntax" { when = "state", remedy = command { "/bin/true" } }
local x = = 1
EOF
run_check "$T/medic.conf"
is "$rc" 1 "rule file with a syntax error: exit 1"
like "$out" "20-syntax\.lua:3:" "syntax error reported as 20-syntax.lua:3"
rm -f "$T/rules/20-syntax.lua"

# A bad limit.
write_file "$T/rules/30-limit.lua" <<'EOF'
-- a bad limit
rule "badlimit" {
  when = "state",
  remedy = command { "/bin/true" },
  limit = "3 per hour",
}
EOF
run_check "$T/medic.conf"
is "$rc" 1 "rule with limit = \"3 per hour\": exit 1"
like "$out" "30-limit\.lua:[2-6]: .*(limit|3 per hour)" "bad limit reported as 30-limit.lua:LINE with what is wrong"
rm -f "$T/rules/30-limit.lua"

# A rule without a remedy.
write_file "$T/rules/40-noremedy.lua" <<'EOF'
-- no remedy

rule "noremedy" {
  when = "state",
  limit = "3/1h",
}
EOF
run_check "$T/medic.conf"
is "$rc" 1 "rule without remedy: exit 1"
like "$out" "40-noremedy\.lua:[3-6]: .*remedy" "missing remedy reported as 40-noremedy.lua:LINE mentioning remedy"
rm -f "$T/rules/40-noremedy.lua"

# A check without 'every'.
write_file "$T/checks/50-noevery.lua" <<'EOF'
check "noevery" {
  run = function() return ok() end,
}
EOF
run_check "$T/medic.conf"
is "$rc" 1 "check without every: exit 1"
like "$out" "50-noevery\.lua:[1-3]: .*every" "missing every reported as 50-noevery.lua:LINE mentioning every"
rm -f "$T/checks/50-noevery.lua"

# Several broken files at once: all are reported.
write_file "$T/rules/20-syntax.lua" <<'EOF'
-- syntax error on line 3
rule "syntax" { when = "state", remedy = command { "/bin/true" } }
local x = = 1
EOF
write_file "$T/rules/40-noremedy.lua" <<'EOF'
rule "noremedy" { when = "state" }
EOF
run_check "$T/medic.conf"
like "$out" "20-syntax\.lua:3:" "two broken files: the first is reported"
like "$out" "40-noremedy\.lua:1:" "two broken files: the second is reported too"
# Starting the daemon (not --check-config) with the same broken files: it refuses to start,
# cleanly (exit 1, no crash), naming file:line.
out=$(timeout 10 "$MEDICD" --config "$T/medic.conf" 2>&1); rc=$?
is "$rc" 1 "medicd with broken rule files exits 1 (not a crash or a hang)"
like "$out" "20-syntax\.lua:3:" "medicd with broken rule files logs file:line"
ok "medicd with broken rule files did not leave a socket" test ! -S "$T/medicd.sock"
rm -f "$T/rules/20-syntax.lua" "$T/rules/40-noremedy.lua"

out=$(timeout 10 "$MEDICD" --config "$T/bad.conf" 2>&1); rc=$?
is "$rc" 1 "medicd with a broken config exits 1"
like "$out" "$T/bad.conf:4: " "medicd with a broken config logs file:line"

run_check "$T/medic.conf"
is "$rc" 0 "config is OK again after removing the broken files"

# ---- command_check: the fields of check{} and its own, nothing else ----
# A misspelt field is refused at the line of the declaration, like check{} does.
write_file "$T/checks/70-cmd.lua" <<'EOF'
-- a command check with a typo
command_check "cmd-typo" {
  "/bin/true",
  evry = "5m",
}
EOF
run_check "$T/medic.conf"
is "$rc" 1 "command_check with evry = \"5m\": exit 1"
like "$out" "70-cmd\.lua:2: .*unknown field 'evry'.*cmd-typo" "unknown command_check field reported as 70-cmd.lua:2 naming the field"
unlike "$out" 'configuration OK' "command_check with an unknown field: no 'configuration OK'"

# The check{} fields are checked like check{} checks them.
write_file "$T/checks/70-cmd.lua" <<'EOF'

command_check "cmd-health" { "/bin/true", health = "yes" }
EOF
run_check "$T/medic.conf"
is "$rc" 1 "command_check with health = \"yes\": exit 1"
like "$out" "70-cmd\.lua:2: .*health.*true or false" "a bad health value reported as 70-cmd.lua:2"

write_file "$T/checks/70-cmd.lua" <<'EOF'
command_check "cmd-every" { "/bin/true", every = "often" }
EOF
run_check "$T/medic.conf"
like "$out" "70-cmd\.lua:1: .*invalid duration for every" "a bad every reported as 70-cmd.lua:1"

# run belongs to command_check: the command is the check.
write_file "$T/checks/70-cmd.lua" <<'EOF'
command_check "cmd-run" {
  "/bin/true",
  run = function() return ok() end,
}
EOF
run_check "$T/medic.conf"
is "$rc" 1 "command_check with run: exit 1"
like "$out" "70-cmd\.lua:1: .*'run'.*cmd-run" "run in command_check refused as 70-cmd.lua:1"

write_file "$T/checks/70-cmd.lua" <<'EOF'
command_check "cmd-status" { "/bin/true", ok_status = "2" }
EOF
run_check "$T/medic.conf"
like "$out" "70-cmd\.lua:1: .*ok_status" "ok_status that is not a number refused as 70-cmd.lua:1"

write_file "$T/checks/70-cmd.lua" <<'EOF'
-- a bad name
command_check "bad name" { "/bin/true" }
EOF
run_check "$T/medic.conf"
like "$out" "70-cmd\.lua:2: .*invalid check name" "a bad command_check name reported as 70-cmd.lua:2, not inside the helper"

# Every field at once: accepted.
write_file "$T/checks/70-cmd.lua" <<'EOF'
command_check "cmd-all" {
  "/bin/sh", "-c", "exit 2",
  every = "1h", timeout = "10s", flapping = "5/1h", events = { "kmsg" }, health = true,
  ok_status = 2,
}
EOF
run_check "$T/medic.conf"
is "$rc" 0 "command_check with every check{} field and ok_status: exit 0"
like "$out" '^configuration OK' "command_check with every field: configuration OK"
rm -f "$T/checks/70-cmd.lua"

# ---- trust: a group-writable check file ----
write_file "$T/checks/60-writable.lua" <<'EOF'
check "writable" { every = "1m", run = function() return ok() end }
EOF
chmod 0664 "$T/checks/60-writable.lua"
run_check "$T/medic.conf"
like "$out" "60-writable\.lua.*writable by group or others.*0?664" \
        "group-writable check file refused with a clear message"
is "$rc" 1 "group-writable check file: exit 1"
rm -f "$T/checks/60-writable.lua"

done_testing
