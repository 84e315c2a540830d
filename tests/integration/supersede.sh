#!/bin/bash
# SPDX-License-Identifier: MIT
# A disruptive remedy supersedes lesser ones (medicctl test, on the virtual clock): while a
# reboot waits for the coordinator, a restart for the condition it will clear does not run
# and explain says why ("superseded"); a restart for another condition still runs; while a
# maintenance holds the node a lesser remedy of its condition is superseded and a reboot for
# another condition waits until the maintenance is over, then reboots.
. "$top_srcdir/tests/integration/lib.sh"
setup 60
mkdir -p "$T/tmp"

write_file "$T/sup-checks.lua" <<'EOF'
check "app-broken" { every = "30s", run = function() return ok("fine") end }
check "other-broken" { every = "30s", run = function() return ok("fine") end }
check "hw-critical" { every = "30s", run = function() return ok("fine") end }
check "kernel" { every = "30s", run = function() return ok("fine") end }
EOF
write_file "$T/sup.lua" <<'EOF'
rule "restart-app" { when = "app-broken", holds = "5m", remedy = restart "app.service", limit = "3/1h" }
rule "reboot-app" { when = "app-broken", holds = "1m", remedy = reboot {}, limit = "1/24h" }
rule "restart-other" { when = "other-broken", holds = "1m", remedy = restart "other.service", limit = "3/1h" }
rule "hw" { when = "hw-critical", holds = "1m", limit = "1/24h",
            remedy = maintenance { drain = "/nonexistent/drain.d", undrain = "/nonexistent/undrain.d" } }
rule "restart-hw" { when = "hw-critical", holds = "5m", remedy = command { "/bin/true" }, limit = "3/1h" }
rule "reboot-kernel" { when = "kernel", holds = "1m", remedy = reboot {}, limit = "1/24h" }
EOF
write_file "$T/sup.test.lua" <<EOF
test "a pending reboot supersedes a restart for the same condition" {
  files = { "$T/sup-checks.lua", "$T/sup.lua" },
}
coordinator { at = "0s", answer = "denied", reason = "budget used" }
result { at = "0s", check = "app-broken", state = "problem", message = "app down" }
result { at = "0s", check = "other-broken", state = "problem", message = "other down" }
expect { at = "3m", fired = "restart-other" }
expect { at = "10m", not_fired = "restart-app",
         explain = { rule = "restart-app", decision = "superseded",
                     reason = "superseded by the reboot of rule reboot-app (asking for permission)" } }
coordinator { at = "11m", answer = "granted" }
expect { at = "15m", fired = "reboot-app", not_fired = "restart-app", rebooted = true }

test "a reboot waits for the maintenance that holds the node" {
  files = { "$T/sup-checks.lua", "$T/sup.lua" },
}
result { at = "0s", check = "hw-critical", state = "problem", message = "PSU2 Critical" }
expect { at = "3m", fired = "hw" }
result { at = "5m", check = "kernel", state = "problem", message = "new kernel" }
expect { at = "20m", not_fired = { "reboot-kernel", "restart-hw" }, rebooted = false,
         explain = { rule = "reboot-kernel", decision = "running", reason = "in maintenance for rule hw" } }
expect { at = "21m", explain = { rule = "restart-hw", decision = "superseded",
                                 reason = "maintenance of rule hw (holding)" } }
result { at = "30m", check = "hw-critical", state = "ok", message = "fine" }
expect { at = "45m", fired = "reboot-kernel", rebooted = true }
EOF
out=$(MEDICD="$MEDICD" TMPDIR="$T/tmp" timeout 30 "$MEDICCTL" test "$T/sup.test.lua" 2>"$T/err")
rc=$?
is "$rc" 0 "the supersede timelines pass"
[ "$rc" -ne 0 ] && diag "$out" && diag "$(cat "$T/err")"
like "$out" "^ok 2 - .*at 10m: not fired restart-app, explain restart-app" "the restart is superseded while the reboot asks"
like "$out" "^ok 5 - .*at 20m: not fired reboot-kernel" "the reboot waits for the maintenance"
like "$out" "^# 7 expectations: 7 passed, 0 failed$" "every expectation holds"

# Without a pending reboot the same restart fires: the supersede is what held it back.
write_file "$T/plain.test.lua" <<EOF
test "without a reboot rule the restart fires" {
  files = { "$T/sup-checks.lua", "$T/plain.lua" },
}
result { at = "0s", check = "app-broken", state = "problem", message = "app down" }
expect { at = "10m", fired = "restart-app" }
EOF
grep -v '"reboot-app"' "$T/sup.lua" > "$T/plain.lua"
out=$(MEDICD="$MEDICD" TMPDIR="$T/tmp" timeout 30 "$MEDICCTL" test "$T/plain.test.lua" 2>"$T/err")
is "$?" 0 "without the reboot rule the restart fires"
done_testing
