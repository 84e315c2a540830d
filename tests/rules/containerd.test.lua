-- Unit tests of rules/examples/containerd-rules.lua: restarts, retry, escalation to a reboot
-- that waits for the night window (daily 01:00-05:00).
test "containerd is restarted after 2 minutes, then retried every 5 minutes" {
  files = { "../../rules/examples/containerd-check.lua", "../../rules/examples/containerd-rules.lua" },
  start = "2026-03-02 12:00",
}
result { at = "0s", check = "containerd-unresponsive", state = "problem", message = "ctr version timed out" }
expect { at = "1m59s", not_fired = "restart-containerd",
         explain = { rule = "restart-containerd", decision = "debounce" } }
expect { at = "2m", fired = "restart-containerd" }
expect { at = "6m", not_fired = "restart-containerd",
         explain = { rule = "restart-containerd", decision = "waiting-for-effect" } }
expect { at = "7m", fired = "restart-containerd" }
result { at = "8m", check = "containerd-unresponsive", state = "ok", message = "ctr version answered" }
expect { at = "1h", not_fired = { "restart-containerd", "reboot-for-containerd" }, rebooted = false }

test "three failed restarts escalate to a reboot in the night window" {
  files = { "../../rules/examples/containerd-check.lua", "../../rules/examples/containerd-rules.lua" },
  start = "2026-03-02 12:00 UTC", timezone = "Europe/Berlin", tick = "10s",
}
outcome { at = "0s", rule = "restart-containerd", ok = false }
result { at = "0s", check = "containerd-unresponsive", state = "problem", message = "ctr version timed out" }
expect { at = "13m", fired = "restart-containerd", not_fired = "reboot-for-containerd" }
expect { at = "30m", rebooted = false,
         explain = { rule = "reboot-for-containerd", decision = "outside-window" } }
-- Noon UTC is 13:00 in Berlin: the window opens 12 hours later (13 hours in UTC).
expect { at = "11h59m", rebooted = false }
expect { at = "12h1m", fired = "reboot-for-containerd", rebooted = true }
