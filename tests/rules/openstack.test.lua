-- Unit tests of rules/examples/openstack/ (openstack.lua with openstack-checks.lua and the
-- shipped reboot-request and dkms checks): a requested reboot goes ahead only when none of
-- the cloud's constraints holds it back, and only with the coordinator's permission.
local FILES = { "../../rules/examples/openstack/openstack-checks.lua", "../../checks/reboot-request.lua",
                "../../checks/dkms.lua", "../../rules/examples/openstack/openstack.lua" }
local BLOCKERS = { "last-gateway", "controller-quorum", "cluster-services", "running-vms", "dkms",
                   "packages-updating" }
local function clear(at)
  for _, c in ipairs(BLOCKERS) do result { at = at, check = c, state = "ok" } end
end

test "a requested reboot of a compute goes ahead when nothing holds it back" {
  files = FILES, group = "cloud", labels = { role = "compute" },
}
clear("0s")
result { at = "0s", check = "reboot-request", state = "problem", message = "reboot requested by /etc/medic/reboot-request" }
expect { at = "2s", fired = "cloud-reboot", rebooted = true }

-- Each constraint holds the reboot back while it is a problem (or unknown).
for _, b in ipairs(BLOCKERS) do
  test("never while " .. b .. " is a problem") { files = FILES, group = "cloud", labels = { role = "controller" } }
  clear("0s")
  result { at = "0s", check = b, state = "problem", message = b .. " (test)" }
  result { at = "0s", check = "reboot-request", state = "problem", message = "reboot requested by the coordinator" }
  expect { at = "1h", not_fired = "cloud-reboot", rebooted = false,
           explain = { rule = "cloud-reboot", decision = "blocked", reason = b } }
  result { at = "2h", check = b, state = "ok" }
  expect { at = "2h1m", fired = "cloud-reboot", rebooted = true }

  test("never while " .. b .. " cannot tell") { files = FILES, group = "cloud", labels = { role = "gateway" } }
  clear("0s")
  result { at = "0s", check = b, state = "unknown", message = "no view of the cloud" }
  result { at = "0s", check = "reboot-request", state = "problem", message = "reboot requested" }
  expect { at = "1h", not_fired = "cloud-reboot", explain = { rule = "cloud-reboot", decision = "blocked" } }
end

test "a constraint that does not apply to the node (skip) does not hold it back" {
  files = FILES, group = "cloud", labels = { role = "gateway" },
}
clear("0s")
result { at = "0s", check = "controller-quorum", state = "skip", message = "not a controller" }
result { at = "0s", check = "running-vms", state = "skip", message = "not a compute" }
result { at = "0s", check = "reboot-request", state = "problem", message = "reboot requested" }
expect { at = "2s", fired = "cloud-reboot", rebooted = true }

test "one node of the cloud at a time: the coordinator's denial keeps it waiting" {
  files = FILES, group = "cloud", labels = { role = "compute" },
}
coordinator { at = "0s", answer = "denied", reason = "1 of 1 allowed is taken" }
clear("0s")
result { at = "0s", check = "reboot-request", state = "problem", message = "reboot requested" }
expect { at = "1h", rebooted = false,
         explain = { rule = "cloud-reboot", decision = "asking-permission", permission = "asking" } }
coordinator { at = "2h", answer = "granted" }
expect { at = "2h1m", fired = "cloud-reboot", rebooted = true }

test "a request withdrawn before the permission arrives: no reboot" {
  files = FILES, group = "cloud", labels = { role = "compute" },
}
coordinator { at = "0s", answer = "denied", reason = "taken" }
clear("0s")
result { at = "0s", check = "reboot-request", state = "problem", message = "reboot requested" }
result { at = "10m", check = "reboot-request", state = "ok", message = "no reboot requested" }
coordinator { at = "11m", answer = "granted" }
expect { at = "1h", not_fired = "cloud-reboot", rebooted = false,
         explain = { rule = "cloud-reboot", decision = "idle", permission = "none" } }
