-- Unit tests of rules/50-reboot.lua (medicd --test, medic-lua(7) TESTING RULES).
test "reboot-required reboots once the coordinator grants" {
  files = { "../../checks/reboot-required.lua", "../../rules/50-reboot.lua" },
  node = "n1", group = "workers",
}
coordinator { at = "0s", answer = "denied", reason = "budget used up" }
result { at = "0s", check = "reboot-required", state = "problem", message = "reboot required by linux-image" }
expect { at = "1m", not_fired = "reboot-required", rebooted = false,
         explain = { rule = "reboot-required", decision = "asking-permission", reason = "budget used up" } }
coordinator { at = "2m", answer = "granted" }
expect { at = "2m1s", fired = "reboot-required", rebooted = true }
-- The reboot is in progress: nothing else disrupts the node.
expect { at = "3m", explain = { rule = "kernel-modules-missing", decision = "idle" } }

test "kernel-modules-missing waits 10 minutes" {
  files = { "../../checks/kernel-modules.lua", "../../checks/reboot-required.lua", "../../rules/50-reboot.lua" },
}
result { at = "0s", check = "kernel-modules", state = "problem", message = "modules of 6.1.0-9 missing" }
result { at = "0s", check = "reboot-required", state = "ok" }
expect { at = "9m59s", not_fired = "kernel-modules-missing",
         explain = { rule = "kernel-modules-missing", decision = "debounce" } }
expect { at = "10m", fired = "kernel-modules-missing", rebooted = true }

test "a problem that clears before the debounce does nothing" {
  files = { "../../checks/kernel-modules.lua", "../../rules/50-reboot.lua" },
}
result { at = "0s", check = "kernel-modules", state = "problem", message = "modules missing" }
result { at = "5m", check = "kernel-modules", state = "ok", message = "modules present" }
expect { at = "1h", not_fired = "kernel-modules-missing", rebooted = false,
         explain = { rule = "kernel-modules-missing", decision = "idle" } }

test "the stop file holds the reboot back" {
  files = { "../../checks/reboot-required.lua", "../../rules/50-reboot.lua" },
}
stop { at = "0s", present = true }
result { at = "0s", check = "reboot-required", state = "problem", message = "reboot required" }
expect { at = "5m", rebooted = false, explain = { rule = "reboot-required", decision = "stopped" } }
stop { at = "6m", present = false }
expect { at = "7m", fired = "reboot-required", rebooted = true }
