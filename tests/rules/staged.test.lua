-- Unit tests of rules/examples/staged/ (staged.lua with staged-checks.lua and the shipped
-- newer-kernel and logins checks): maintenance when updates are pending, a reboot for a new
-- kernel, each blocker, the coordinator's budget (10% of the set), the settle after a
-- maintenance.
local FILES = { "../../rules/examples/staged/staged-checks.lua", "../../checks/newer-kernel.lua",
                "../../checks/logins.lua", "../../rules/examples/staged/staged.lua" }
-- clear(at): every blocker reports ok at that time.
local function clear(at)
  for _, c in ipairs({ "automation-disabled", "interactive-login", "uninterruptible-job", "set-unavailable" }) do
    result { at = at, check = c, state = "ok" }
  end
end

test "pending updates: drained after 10 minutes, held until they are installed, undrained, settled" {
  files = FILES, group = "web", labels = { type = "web" },
}
clear("0s")
result { at = "0s", check = "node-health", state = "ok", message = "the node works" }
result { at = "0s", check = "maintenance-required", state = "problem", message = "package updates are pending" }
expect { at = "9m", not_fired = "staged-updates", explain = { rule = "staged-updates", decision = "debounce" } }
expect { at = "10m1s", fired = "staged-updates", rebooted = false }
expect { at = "20m", explain = { rule = "staged-updates", reason = "in maintenance (holding)", permission = "held" } }
result { at = "30m", check = "maintenance-required", state = "ok", message = "no package updates pending" }
-- Undrained: the node settles, keeping the permission; node-health's result from before the
-- maintenance does not count.
expect { at = "31m", not_fired = "staged-updates",
         explain = { rule = "staged-updates", permission = "held",
                     reason = "in maintenance (settling for 1m: every health condition ok for 30m; " ..
                              "node-health has not been checked since the settle began)" } }
result { at = "32m", check = "node-health", state = "ok", message = "the node works" }
expect { at = "1h1m", explain = { rule = "staged-updates", permission = "held",
                                  reason = "healthy for 29m" } }
expect { at = "1h2m30s", not_fired = "staged-updates",
         explain = { rule = "staged-updates", decision = "idle", permission = "none" } }

test "a node sick after its maintenance keeps the permission until it has been healthy for the settle time" {
  files = FILES, group = "web", labels = { type = "web" },
}
clear("0s")
result { at = "0s", check = "maintenance-required", state = "problem", message = "package updates are pending" }
expect { at = "10m1s", fired = "staged-updates" }
result { at = "20m", check = "maintenance-required", state = "ok", message = "no package updates pending" }
result { at = "21m", check = "node-health", state = "problem", message = "systemctl exited with status 1: degraded" }
expect { at = "1h", explain = { rule = "staged-updates", permission = "held",
                                reason = "node-health is problem: systemctl exited with status 1: degraded" } }
-- Past settle_timeout (2h): came back sick, escalated; the permission is still held.
expect { at = "3h", explain = { rule = "staged-updates", permission = "held", reason = "settling for 2h40m" } }
result { at = "3h", check = "node-health", state = "ok", message = "the node works" }
result { at = "3h20m", check = "node-health", state = "problem", message = "systemctl exited with status 1: degraded" }
result { at = "3h21m", check = "node-health", state = "ok", message = "the node works" }
-- Healthy again at 3h21m: the 30 minutes count from there, not from 3h.
expect { at = "3h45m", explain = { rule = "staged-updates", permission = "held", reason = "healthy for 24m" } }
expect { at = "3h52m", not_fired = "staged-updates",
         explain = { rule = "staged-updates", decision = "idle", permission = "none" } }

test "a new kernel: a reboot, not a maintenance" {
  files = FILES, group = "web",
}
clear("0s")
result { at = "0s", check = "maintenance-required", state = "ok" }
result { at = "0s", check = "newer-kernel", state = "problem", message = "kernel 6.1.0-20 is installed" }
expect { at = "10m1s", fired = "staged-kernel", not_fired = "staged-updates", rebooted = true }

-- Each blocker holds the maintenance back while it is a problem; once clear it goes ahead.
for _, b in ipairs({ "automation-disabled", "interactive-login", "uninterruptible-job", "set-unavailable" }) do
  test("blocked by " .. b) { files = FILES, group = "web", labels = { type = "gpu" } }
  clear("0s")
  result { at = "0s", check = b, state = "problem", message = b .. " (test)" }
  result { at = "0s", check = "maintenance-required", state = "problem", message = "package updates are pending" }
  expect { at = "1h", not_fired = "staged-updates",
           explain = { rule = "staged-updates", decision = "blocked", reason = b } }
  result { at = "2h", check = b, state = "ok" }
  expect { at = "2h1m", fired = "staged-updates" }
end

test "a blocker that cannot tell (unknown) blocks too" {
  files = FILES, group = "web",
}
clear("0s")
result { at = "0s", check = "set-unavailable", state = "unknown", message = "no view of the set" }
result { at = "0s", check = "maintenance-required", state = "problem", message = "package updates are pending" }
expect { at = "1h", not_fired = "staged-updates", explain = { rule = "staged-updates", decision = "blocked" } }

test "the set's budget is used up (10%): the node waits for the coordinator" {
  files = FILES, group = "web",
}
coordinator { at = "0s", answer = "denied", reason = "1 of 10 members unavailable, 10% allows 1" }
clear("0s")
result { at = "0s", check = "maintenance-required", state = "problem", message = "package updates are pending" }
expect { at = "1h", not_fired = "staged-updates",
         explain = { rule = "staged-updates", decision = "asking-permission", permission = "asking",
                     reason = "10% allows 1" } }
coordinator { at = "2h", answer = "granted" }
expect { at = "2h1m", fired = "staged-updates" }
