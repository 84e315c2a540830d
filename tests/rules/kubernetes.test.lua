-- Unit tests of rules/examples/kubernetes/auto-healing.lua (with ../containerd-check.lua): the
-- runtime command after 5 minutes, the reboot only if it did not help.
local FILES = { "../../rules/examples/containerd-check.lua", "../../rules/examples/kubernetes/auto-healing.lua" }

test "the runtime command after 5 minutes; it helps: no reboot" {
  files = FILES,
}
result { at = "0s", check = "containerd-unresponsive", state = "problem", message = "ctr version timed out" }
expect { at = "4m59s", not_fired = "runtime-restart", explain = { rule = "runtime-restart", decision = "debounce" } }
expect { at = "5m1s", fired = "runtime-restart", rebooted = false }
result { at = "7m", check = "containerd-unresponsive", state = "ok", message = "containerd answers" }
expect { at = "2h", not_fired = { "runtime-restart", "runtime-reboot" }, rebooted = false }

test "the command does not help within 10 minutes: escalated to a reboot" {
  files = FILES,
}
result { at = "0s", check = "containerd-unresponsive", state = "problem", message = "ctr version timed out" }
expect { at = "5m1s", fired = "runtime-restart", rebooted = false }
expect { at = "14m59s", not_fired = "runtime-reboot", rebooted = false }
expect { at = "15m1s", fired = "runtime-reboot", rebooted = true }

test "the reboot waits for the coordinator (at most 2, 90% healthy)" {
  files = FILES,
}
coordinator { at = "0s", answer = "denied", reason = "min_healthy 90%" }
result { at = "0s", check = "containerd-unresponsive", state = "problem", message = "ctr version timed out" }
expect { at = "1h", fired = "runtime-restart", rebooted = false,
         explain = { rule = "runtime-reboot", decision = "asking-permission", reason = "min_healthy" } }
