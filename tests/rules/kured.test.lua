-- Unit tests of rules/examples/kured/kured.lua: a reboot when the sentinel says so, only in the
-- weekly window (Sun 02:00-06:00, the node's time zone), never while a chosen alert fires.
local FILES = { "../../checks/reboot-sentinel.lua", "../../checks/prometheus-alerts.lua",
                "../../rules/examples/kured/kured.lua" }

test "the sentinel on a Wednesday: the reboot waits for Sunday 02:00" {
  files = FILES, start = "2026-03-04 12:00", timezone = "Europe/Berlin", tick = "30s",
}
result { at = "0s", check = "prometheus-alerts", state = "ok", message = "no alert fires" }
result { at = "0s", check = "reboot-sentinel", state = "problem", message = "need-reboot: /var/run/reboot-required" }
expect { at = "1h", rebooted = false, explain = { rule = "kured-reboot", decision = "outside-window" } }
-- Wednesday 12:00 to Sunday 02:00 is 3 days 14 hours.
expect { at = "3d13h59m", rebooted = false }
expect { at = "3d14h1m", fired = "kured-reboot", rebooted = true }

test "a firing alert holds the reboot back inside the window; Prometheus down too" {
  files = FILES, start = "2026-03-08 02:00", timezone = "UTC",
}
result { at = "0s", check = "prometheus-alerts", state = "problem", message = "KubeNodeNotReady fires" }
result { at = "0s", check = "reboot-sentinel", state = "problem", message = "need-reboot" }
expect { at = "30m", rebooted = false, explain = { rule = "kured-reboot", decision = "blocked", reason = "prometheus-alerts" } }
result { at = "31m", check = "prometheus-alerts", state = "unknown", message = "connection refused" }
expect { at = "1h", rebooted = false, explain = { rule = "kured-reboot", decision = "blocked" } }
result { at = "1h1m", check = "prometheus-alerts", state = "ok", message = "no alert fires" }
expect { at = "1h2m", fired = "kured-reboot", rebooted = true }

test "one node at a time: denied, it waits; the window closes meanwhile" {
  files = FILES, start = "2026-03-08 05:00", timezone = "UTC",
}
coordinator { at = "0s", answer = "denied", reason = "another node holds the slot" }
result { at = "0s", check = "prometheus-alerts", state = "ok" }
result { at = "0s", check = "reboot-sentinel", state = "problem", message = "need-reboot" }
expect { at = "30m", explain = { rule = "kured-reboot", decision = "asking-permission", permission = "asking" } }
coordinator { at = "1h30m", answer = "granted" }
expect { at = "2h", rebooted = false, explain = { rule = "kured-reboot", decision = "outside-window" } }
