#!/bin/bash
# SPDX-License-Identifier: MIT
# medicctl test (medicd --test): the unit tests of the shipped rules (tests/rules/*.test.lua)
# pass; a wrong expectation fails with expected, got, the step and the virtual time (exit 1);
# a wrong test file is an error at its file:line (exit 2); remedies and tasks are recorded,
# never run; the private directory goes away.
. "$top_srcdir/tests/integration/lib.sh"
setup 60

# rtest FILE...: medicctl test, sets $out (stdout), $err (stderr) and $rc.
rtest() {
        out=$(MEDICD="$MEDICD" TMPDIR="$T/tmp" timeout 30 "$MEDICCTL" test "$@" 2>"$T/test.err")
        rc=$?
        err=$(cat "$T/test.err")
}
mkdir -p "$T/tmp"

# ---- the shipped rules' tests pass ----
rtest "$top_srcdir"/tests/rules/*.test.lua
is "$rc" 0 "the tests of rules/50-reboot.lua and rules/examples pass: exit 0"
[ "$rc" -ne 0 ] && diag "$out" && diag "$err"
unlike "$out" "^not ok" "no expectation fails"
like "$out" "^ok [0-9]+ - .*/50-reboot.test.lua:[0-9]+: kernel-modules-missing waits 10 minutes: at 10m: fired kernel-modules-missing, rebooted" "TAP line: file:line, test, virtual time, what was expected"
like "$out" "^1\.\.[1-9][0-9]*$" "a TAP plan"
like "$out" "^# [1-9][0-9]* expectations: [1-9][0-9]* passed, 0 failed$" "a summary line"
is "$(ls -A "$T/tmp")" "" "the private state directories are removed"

# ---- a wrong expectation fails, with expected against got ----
write_file "$T/wrong.test.lua" <<EOF2
test "kernel-modules-missing does not wait" {
  files = { "$top_srcdir/checks/kernel-modules.lua", "$top_srcdir/rules/50-reboot.lua" },
}
result { at = "0s", check = "kernel-modules", state = "problem", message = "modules missing" }
expect { at = "5m", fired = "kernel-modules-missing" }
expect { at = "11m", explain = { rule = "kernel-modules-missing", decision = "fire" } }
expect { at = "12m", not_fired = "kernel-modules-missing" }
EOF2
rtest "$T/wrong.test.lua"
is "$rc" 1 "a wrong expectation: exit 1"
like "$out" "^not ok 1 - $T/wrong.test.lua:5: kernel-modules-missing does not wait: at 5m: fired kernel-modules-missing" "not ok at the expectation's file:line and time"
like "$out" "^#   expected: rule kernel-modules-missing fired$" "expected"
like "$out" "^#   got:      nothing was recorded$" "got: nothing fired before the debounce ended"
like "$out" "^#   step:     $T/wrong.test.lua:5, virtual time 5m \(2026-01-01 00:05:00 UTC\)" "the step and the virtual time"
like "$out" "^#   got:      decision running \(reason: a reboot of this node is in progress\)$" "explain: got the decision and reason"
like "$out" "^ok 3 - " "the expectation after them holds (the reboot fired at 10m, before 11m)"
like "$out" "^# 3 expectations: 1 passed, 2 failed$" "summary counts the failures"

# ---- a bad test file: file:line, exit 2 ----
write_file "$T/bad-field.test.lua" <<EOF2
test "x" { files = { "$top_srcdir/rules/50-reboot.lua" } }

expect { at = "1m", fird = "reboot-required" }
EOF2
rtest "$T/bad-field.test.lua"
is "$rc" 2 "an unknown field: exit 2"
like "$err" "^$T/bad-field.test.lua:3: expect: unknown field 'fird'" "the field at file:line"
write_file "$T/bad-check.test.lua" <<EOF2
test "x" { files = { "$top_srcdir/rules/50-reboot.lua" } }
result { at = "0s", check = "reboot-required", state = "problem" }
EOF2
rtest "$T/bad-check.test.lua"
is "$rc" 2 "a result of a check not under test: exit 2"
like "$err" "^$T/bad-check.test.lua:2: result: no check named 'reboot-required' in the files under test" "the step at file:line"
write_file "$T/bad-name.test.lua" <<EOF2
test "x" { files = { "$top_srcdir/checks/reboot-required.lua", "$top_srcdir/rules/50-reboot.lua" } }
result { at = "0s", check = "reboot-required", state = "ok" }
expect { at = "1m", not_fired = "reboot-requird" }
EOF2
rtest "$T/bad-name.test.lua"
is "$rc" 2 "a misspelt rule name in not_fired: exit 2 (it would hold for ever)"
like "$err" "^$T/bad-name.test.lua:3: expect: not_fired: no rule named 'reboot-requird' in the files under test" "the name at file:line"
write_file "$T/bad-rule.test.lua" <<EOF2
test "x" { files = { "$T/broken.lua" } }
expect { at = "1m", not_fired = "y" }
EOF2
write_file "$T/broken.lua" <<'EOF2'
rule "y" { remedy = reboot {}, limt = "1/1h" }
EOF2
rtest "$T/bad-rule.test.lua"
is "$rc" 2 "a rule file that does not load: exit 2"
like "$err" "$T/broken.lua:1:" "the loader's error at the rule's file:line"
rtest "$T/no-such.test.lua"
is "$rc" 2 "a missing test file: exit 2"

# ---- nothing runs: remedies and tasks are recorded ----
mkdir -p "$T/drain.d"
write_file "$T/drain.d/10-mark" <<EOF2
#!/bin/sh
touch "$T/task-ran"
EOF2
chmod 0755 "$T/drain.d/10-mark"
write_file "$T/x-check.lua" <<EOF2
check "x" { every = "1m", run = function() return ok("fine") end }
EOF2
write_file "$T/touch.lua" <<EOF2
rule "touch" { when = "x", remedy = command { "/usr/bin/touch", "$T/remedy-ran" } }
rule "drain" { when = "x", holds = "1m", remedy = maintenance { drain = "$T/drain.d", undrain = "$T/drain.d" },
               limit = "1/1h" }
EOF2
write_file "$T/touch.test.lua" <<EOF2
test "recorded, not run" { files = { "$T/x-check.lua", "$T/touch.lua" } }
result { at = "0s", check = "x", state = "problem", message = "broken" }
expect { at = "0s", fired = "touch" }
expect { at = "2m", fired = "drain", tasks = "10-mark" }
result { at = "3m", check = "x", state = "ok", message = "fine" }
expect { at = "4m", tasks = "$T/drain.d/10-mark", explain = { rule = "drain", decision = "idle", permission = "none" } }
EOF2
rtest "$T/touch.test.lua"
is "$rc" 0 "a command remedy and a maintenance with tasks: exit 0"
[ "$rc" -ne 0 ] && diag "$out" && diag "$err"
ok "the command remedy was not run" test ! -e "$T/remedy-ran"
ok "the drain and undrain tasks were not run" test ! -e "$T/task-ran"
# Negative control: the same expectations on a remedy that does not fire.
sed -i 's/state = "problem"/state = "ok"/' "$T/touch.test.lua"
rtest "$T/touch.test.lua"
is "$rc" 1 "control: the same test with the check ok fails"
like "$out" "^#   expected: task 10-mark ran$" "control: the task expectation is checked"

# ---- failing remedies (outcome) still count ----
write_file "$T/outcome.test.lua" <<EOF2
test "a failing remedy is retried" { files = { "$top_srcdir/rules/examples/containerd-check.lua", "$top_srcdir/rules/examples/containerd-rules.lua" } }
outcome { at = "0s", rule = "restart-containerd", ok = false }
result { at = "0s", check = "containerd-unresponsive", state = "problem", message = "timeout" }
expect { at = "2m", fired = "restart-containerd" }
expect { at = "7m", fired = "restart-containerd" }
EOF2
rtest "$T/outcome.test.lua"
is "$rc" 0 "outcome { ok = false }: the remedy fails and is retried"

done_testing
