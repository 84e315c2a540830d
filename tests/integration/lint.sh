#!/bin/bash
# SPDX-License-Identifier: MIT
# medicctl lint (medicd --lint): the shipped checks and rules are clean; each mistake the
# loader accepts is a finding at the rule's or check's file:line (exit 1); what does not load
# is an error at its file:line (exit 2). And luacheck with packaging/luacheckrc (medic's
# globals) on the shipped Lua files.
. "$top_srcdir/tests/integration/lib.sh"
setup 60

# lint ARGS...: medicctl lint, sets $out (stdout) and $rc.
lint() {
        out=$(MEDICD="$MEDICD" timeout 20 "$MEDICCTL" lint "$@" 2>"$T/lint.err")
        rc=$?
}
# count ERE: lines of $out that match.
count() { printf '%s\n' "$out" | grep -Ec -- "$1"; }

SHIPPED=("$top_srcdir/checks" "$top_srcdir/rules" "$top_srcdir/rules/examples" "$top_srcdir/rules/examples/kured"
         "$top_srcdir/rules/examples/kubernetes" "$top_srcdir/rules/examples/staged"
         "$top_srcdir/rules/examples/openstack")

# ---- luacheck knows medic's globals ----
if command -v luacheck >/dev/null; then
        lc=$(cd "$T" && luacheck --no-color -q --config "$top_srcdir/packaging/luacheckrc" "${SHIPPED[@]}" 2>&1)
        rc=$?
        is "$rc" 0 "luacheck: the shipped checks, rules and examples are clean"
        [ "$rc" -ne 0 ] && diag "$lc"
        write_file "$T/lc/bad.lua" <<'EOF2'
check "x" {
  every = "1m",
  run = function()
    os.execute("reboot")
    return ok(medic.bogus())
  end,
}
rule "y" { remedy = reboots {} }
EOF2
        lc=$(cd "$T" && luacheck --no-color -q --config "$top_srcdir/packaging/luacheckrc" "$T/lc/bad.lua" 2>&1)
        rc=$?
        ok "luacheck: a file with unknown globals fails (exit $rc)" test "$rc" -ne 0
        like "$lc" "bad.lua:4:[0-9]+: accessing undefined field 'execute' of global 'os'" "luacheck: os.execute (not in medic's os) at file:line"
        like "$lc" "bad.lua:5:[0-9]+: accessing undefined field 'bogus' of global 'medic'" "luacheck: an unknown medic field at file:line"
        like "$lc" "bad.lua:8:[0-9]+: accessing undefined variable 'reboots'" "luacheck: an unknown remedy at file:line"
        unlike "$lc" "variable '(check|ok|rule|medic)'" "luacheck: check, ok, rule and medic are known"
else
        for d in "shipped files clean" "unknown globals fail" os.execute medic.bogus reboots known; do
                skip "luacheck: $d" "luacheck not installed (Debian: lua-check)"
        done
fi

# ---- the shipped files: clean ----
lint "${SHIPPED[@]}"
is "$rc" 0 "lint: the shipped checks, rules and examples: exit 0"
is "$out" "" "lint: the shipped files: no findings"
like "$(cat "$T/lint.err")" "0 findings in [1-9][0-9]* checks and [1-9][0-9]* rules" "lint: says what it loaded"

# ---- the configured set (medic.conf's checks and rules), good files ----
write_file "$T/checks/10-state.lua" <<'EOF2'
check "state" {
  every = "1m",
  run = function() return ok("fine") end,
}
command_check "cmd-default-timeout" { "/bin/true", every = "1m" }
check "exec-with-timeout" {
  every = "1m",
  timeout = "20s",
  run = function()
    local r = medic.exec { "/bin/true", timeout = "10s" }
    return r.status == 0 and ok() or problem("failed")
  end,
}
EOF2
write_file "$T/rules/10-fix.lua" <<'EOF2'
rule "fix" {
  when = "state",
  unless = "cmd-default-timeout",
  remedy = reboot {},
  limit = "1/24h",
  window = "daily 00:00-24:00",
}
EOF2
lint --config "$T/medic.conf"
is "$rc" 0 "lint --config: the configured set, no mistakes: exit 0"
is "$out" "" "lint --config: no findings (command_check and a check with a timeout run commands)"

# ---- one finding of each kind, at the declaration's line ----
write_file "$T/bad/checks.lua" <<'EOF2'
check "fine" {
  every = "1m",
  run = function() return ok() end,
}

check "runs-commands" {
  every = "1m",
  run = function()
    local r = medic.exec { "/bin/true" }
    return ok(r.stdout)
  end,
}
EOF2
write_file "$T/bad/rules.lua" <<'EOF2'
rule "ghost" {
  when = "nothing",
  remedy = command { "/bin/true" },
}

rule "self-blocked" {
  when = "fine",
  unless = { "fine", "nobody" },
  remedy = restart "x.service",
}

rule "reboot-unlimited" {
  when = "fine",
  remedy = reboot {},
}
rule "drain-unlimited" {
  when = "fine",
  remedy = maintenance {},
}
rule "good" {
  when = "fine",
  remedy = reboot {},
  limit = "1/24h",
}
EOF2
lint "$T/bad"
is "$rc" 1 "lint: findings: exit 1"
B="$T/bad"
like "$out" "^$B/rules.lua:1: rule 'ghost' waits for condition 'nothing', which no check declares$" \
        "a rule naming a condition no check yields, at its line"
like "$out" "^$B/rules.lua:6: rule 'self-blocked': condition 'fine' is both its trigger \(when\) and a blocker" \
        "a blocker that is also the trigger, at the rule's line"
like "$out" "^$B/rules.lua:6: rule 'self-blocked' is blocked by condition 'nobody', which no check declares$" \
        "a blocker no check yields, at the rule's line"
like "$out" "^$B/rules.lua:12: rule 'reboot-unlimited': disruptive remedy reboot without a limit" \
        "a reboot without a limit, at its line"
like "$out" "^$B/rules.lua:16: rule 'drain-unlimited': disruptive remedy maintenance without a limit" \
        "a maintenance without a limit, at its line"
like "$out" "^$B/checks.lua:6: check 'runs-commands' runs commands \(medic.exec\) but sets no timeout" \
        "a check without a timeout that runs commands, at its line"
is "$(count "rule 'good'|check 'fine'")" 0 "no finding about the rule and the check that are right"
is "$(count '^[^:]+:[0-9]+: ')" 6 "six findings, each as file:line: message"
like "$(cat "$T/lint.err")" "6 findings in 2 checks and 5 rules" "the summary counts them"

# A rule file given by name replaces the directory's file of the same base name.
write_file "$T/fixed/rules.lua" <<'EOF2'
rule "good" { when = "fine", remedy = reboot {}, limit = "1/24h" }
EOF2
lint "$T/bad" "$T/fixed/rules.lua"
is "$rc:$(count '^')" "1:1" "lint DIR FILE: the file replaces the directory's rules.lua (only the check's finding left)"

# --json: the same findings as objects.
lint --json "$T/bad"
is "$rc" 1 "lint --json: exit 1"
is "$(printf '%s' "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["ok"], d["checks"], d["rules"], len(d["errors"]), len(d["findings"]),
      sorted(set((f["file"].rsplit("/", 1)[1], f["line"]) for f in d["findings"])))')" \
        "False 2 5 0 6 [('checks.lua', 6), ('rules.lua', 1), ('rules.lua', 6), ('rules.lua', 12), ('rules.lua', 16)]" \
        "lint --json: findings with file, line and message"

# The configured set is linted the same way.
cp "$T/bad/rules.lua" "$T/rules/20-bad.lua"
lint --config "$T/medic.conf"
is "$rc" 1 "lint --config with a bad rule file in the rule directory: exit 1"
like "$out" "^$T/rules/20-bad.lua:1: rule 'ghost' waits for condition 'nothing'" "lint --config: the finding at file:line"
rm -f "$T/rules/20-bad.lua"

# ---- a window that never opens ----
# A zone (compiled with zic into $T/zoneinfo) whose clocks skip 02:00-03:00 every day from two
# days ago to twelve days ahead: a window inside that hour never opens, one after it does.
if command -v zic >/dev/null; then
        python3 - "$T/skip.zi" <<'EOF2'
import datetime, sys
d = datetime.date.today() - datetime.timedelta(days=2)
lines = []
for i in range(14):
    day = d + datetime.timedelta(days=i)
    lines.append("%s %d:00 - SKP %d %s %d 2:00" % ("Zone Test/Skip" if i == 0 else "              ",
                                                 i - 6, day.year, day.strftime("%b"), day.day))
lines.append("               8:00 - SKP")
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
EOF2
        zic -d "$T/zoneinfo" "$T/skip.zi"
        write_file "$T/win/rules.lua" <<'EOF2'
rule "night" {
  when = "fine",
  remedy = restart "x.service",
  window = { "daily 02:00-02:30 Test/Skip", "daily 03:00-04:00 Test/Skip" },
}
EOF2
        out=$(TZDIR="$T/zoneinfo" MEDICD="$MEDICD" timeout 20 "$MEDICCTL" lint "$T/bad/checks.lua" "$T/win/rules.lua" 2>&1)
        like "$out" "^$T/win/rules.lua:1: rule 'night': window 'daily 02:00-02:30 Test/Skip' never opens$" \
                "a window that never opens (its hour is skipped every day), at the rule's line"
        unlike "$out" "03:00-04:00" "the window after the skipped hour opens: no finding"
else
        skip "a window that never opens" "zic not installed"
        skip "a window that opens" "zic not installed"
fi

# ---- load errors: exit 2, each at its file:line ----
write_file "$T/err/a-remedy.lua" <<'EOF2'
rule "r1" {
  when = "fine",
  remedy = reboots {},
}
EOF2
write_file "$T/err/b-field.lua" <<'EOF2'
check "c1" {
  every = "1m",
  bogus = true,
  run = function() return ok() end,
}
EOF2
write_file "$T/err/c-duration.lua" <<'EOF2'

rule "r2" {
  when = "fine",
  holds = "5 minutes",
  remedy = restart "x.service",
}
EOF2
write_file "$T/err/d-rate.lua" <<'EOF2'
rule "r3" {
  when = "fine",
  remedy = restart "x.service",
  limit = "often",
}
EOF2
lint "$T/err" "$T/bad/checks.lua"
is "$rc" 2 "lint: files that do not load: exit 2"
like "$out" "^$T/err/a-remedy.lua:3: .*'reboots'" "an unknown remedy: a load error at file:line"
like "$out" "^$T/err/b-field.lua:1: unknown field 'bogus' in check 'c1'" "an unknown field: at file:line"
like "$out" "^$T/err/c-duration.lua:2: rule 'r2': invalid duration for holds: '5 minutes'" "a duration that does not parse: at file:line"
like "$out" "^$T/err/d-rate.lua:1: rule 'r3': invalid limit 'often'" "a rate that does not parse: at file:line"
lint "$T/nonexistent.lua"
is "$rc" 2 "lint: a file that does not exist: exit 2"
like "$out" "nonexistent.lua: No such file or directory" "lint: ... and says so"

# ---- medicctl without medicd ----
out=$(MEDICD="$T/no-medicd" "$MEDICCTL" lint "$T/bad" 2>&1)
rc=$?
is "$rc" 3 "lint: medicd cannot be run: exit 3"
like "$out" "cannot run $T/no-medicd" "lint: says which medicd it tried"

done_testing
