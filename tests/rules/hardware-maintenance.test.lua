-- Unit tests of rules/examples/hardware-maintenance.lua: a Critical sensor takes the node out
-- of service with the coordinator's permission until the hardware is repaired.
test "a critical sensor drains the node and holds it out until it is ok" {
  files = { "../../checks/ipmi.lua", "../../rules/examples/hardware-maintenance.lua" },
}
result { at = "0s", check = "ipmi-critical", state = "problem", message = "PSU2 Critical" }
expect { at = "1m", not_fired = "hardware-failure",
         explain = { rule = "hardware-failure", decision = "debounce" } }
expect { at = "2m", fired = "hardware-failure", rebooted = false }
expect { at = "1h", not_fired = "hardware-failure",
         explain = { rule = "hardware-failure", reason = "in maintenance (holding)", permission = "held" } }
result { at = "2h", check = "ipmi-critical", state = "ok", message = "all sensors nominal" }
expect { at = "2h1m", not_fired = "hardware-failure",
         explain = { rule = "hardware-failure", decision = "idle", permission = "none" } }

test "the coordinator's denial keeps the node in service" {
  files = { "../../checks/ipmi.lua", "../../rules/examples/hardware-maintenance.lua" },
}
coordinator { at = "0s", answer = "denied", reason = "2 nodes of the group are out" }
result { at = "0s", check = "ipmi-critical", state = "problem", message = "PSU2 Critical" }
expect { at = "30m", not_fired = "hardware-failure",
         explain = { rule = "hardware-failure", decision = "asking-permission", would_fire = false,
                     permission = "asking" } }
