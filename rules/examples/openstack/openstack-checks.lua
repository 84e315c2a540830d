-- The checks of the openstack pack (openstack.lua): the constraints of a reboot in an
-- OpenStack-like cloud, each a blocker. The node's role is its label "role" (medic.conf(5)
-- labels: gateway, controller or compute); a check that is not about the node's role skips.
--
--   last-gateway       (gateways)    no other gateway of the cloud is healthy (the group view)
--   controller-quorum  (controllers) fewer than min_controllers controllers are healthy
--   cluster-services   (controllers) a cluster service reports unhealthy (its HTTP endpoint
--                                    or command: galera, rabbitmq, the APIs)
--   running-vms        (computes)    VMs still run on a compute the pre-reboot tasks disabled
--                                    (the evacuation left them): the reboot is called off
--   packages-updating  (every node)  dpkg's lock is held, or a flag file says so
--
-- dkms (the shipped dkms check) and the triggers (the shipped reboot-request: a flag file, the
-- coordinator's reboot request, medicctl request reboot) are the shipped checks.
--
-- Settings: /etc/medic/openstack.conf (optional; the directory is settings_dir in medic.conf),
-- Lua assignments, e.g.
--   min_controllers = 3
--   services = { "http://127.0.0.1:9200/", "http://127.0.0.1:15672/api/health/checks/alarms" }
--   service_commands = { { "/usr/local/sbin/galera-synced" } }
-- every is read when the file loads (medicctl reload), the rest on every run.
local DEFAULTS = {
  every = "30s",
  min_controllers = 3,      -- healthy controllers (this one counted) a controller reboot needs
  services = {},            -- URLs that answer 200 while the service is healthy
  service_commands = {},    -- commands (argument vectors) that exit 0 while it is healthy
  vms = { "virsh", "list", "--name", "--state-running" },   -- one running VM a line
  disabled_marker = "/run/medic/compute-disabled",          -- written by 10-disable-compute
  lock_command = { "fuser", "-s", "/var/lib/dpkg/lock-frontend", "/var/lib/dpkg/lock" },
                            -- exit 0: someone holds dpkg's lock; false: do not ask
  updating_flags = { "/run/medic/packages-updating" },      -- a file here: packages updating
}

local function settings()
  local good, s = pcall(medic.settings, "openstack", DEFAULTS)
  if not good then return nil, s end
  if type(s.min_controllers) ~= "number" then return nil, "openstack.conf: min_controllers must be a number" end
  return s
end

local EVERY = (settings() or DEFAULTS).every
local ROLE = medic.labels.role

local function run(argv)
  local cmd = { timeout = "20s" }
  for i, a in ipairs(argv) do cmd[i] = a end
  local r = medic.exec(cmd)
  if r.error then return nil, argv[1] .. ": " .. r.error end
  if r.timed_out then return nil, argv[1] .. " timed out" end
  return r
end

-- healthy(role): the healthy members with that role, and the view (nil, why without one).
local function healthy(role)
  local g, why = medic.group_view()
  if not g then return nil, "no view of the cloud: " .. tostring(why) end
  local n, others = 0, 0
  for _, m in ipairs(g.members) do
    if m.labels.role == role and m.alive and m.healthy then
      n = n + 1
      if not m.self then others = others + 1 end
    end
  end
  return n, others
end

check "last-gateway" {
  every = EVERY,
  timeout = "10s",
  run = function()
    if ROLE ~= "gateway" then return skip("not a gateway") end
    local n, others = healthy("gateway")
    if not n then return unknown(others) end
    if others < 1 then return problem("this is the last healthy gateway") end
    return ok(others .. " other healthy gateway(s)")
  end,
}

check "controller-quorum" {
  every = EVERY,
  timeout = "10s",
  run = function()
    if ROLE ~= "controller" then return skip("not a controller") end
    local s, err = settings()
    if not s then return unknown(err) end
    local n, why = healthy("controller")
    if not n then return unknown(why) end
    if n < s.min_controllers then
      return problem(string.format("%d healthy controller(s), fewer than %d", n, s.min_controllers),
                     { healthy = n })
    end
    return ok(string.format("%d healthy controllers", n), { healthy = n })
  end,
}

check "cluster-services" {
  every = EVERY,
  timeout = "25s",
  run = function()
    if ROLE ~= "controller" then return skip("not a controller") end
    local s, err = settings()
    if not s then return unknown(err) end
    local bad = {}
    for _, url in ipairs(s.services) do
      local r, why = medic.http { url = url, timeout = "5s" }
      if not r then return unknown(why) end
      if r.status ~= 200 then bad[#bad + 1] = url .. ": status " .. r.status end
    end
    for _, argv in ipairs(s.service_commands) do
      local r, why = run(argv)
      if not r then return unknown(why) end
      if r.status ~= 0 then bad[#bad + 1] = argv[1] .. ": exit status " .. tostring(r.status) end
    end
    if #bad > 0 then return problem("unhealthy: " .. table.concat(bad, "; "), { unhealthy = bad }) end
    return ok((#s.services + #s.service_commands) .. " cluster service check(s) healthy")
  end,
}

-- Before the permission a compute's VMs are the pre-reboot tasks' to evacuate: ok. Once
-- 10-disable-compute disabled it (its marker), a VM that still runs is a problem, and the
-- re-decision after the pre-reboot tasks calls the reboot off (the abort tasks re-enable it).
check "running-vms" {
  every = EVERY,
  timeout = "25s",
  run = function()
    if ROLE ~= "compute" then return skip("not a compute") end
    local s, err = settings()
    if not s then return unknown(err) end
    local r, why = run(s.vms)
    if not r then return unknown(why) end
    if r.status ~= 0 then return unknown(s.vms[1] .. " exited with status " .. tostring(r.status)) end
    local vms = {}
    for line in r.stdout:gmatch("[^\n]+") do
      if line:match("%S") then vms[#vms + 1] = line end
    end
    if #vms > 0 and medic.exists(s.disabled_marker) then
      return problem(#vms .. " VM(s) still run on the disabled compute: " .. table.concat(vms, ", "),
                     { vms = vms })
    end
    if #vms > 0 then return ok(#vms .. " VM(s) run; the pre-reboot tasks evacuate them", { vms = vms }) end
    return ok("no VM runs")
  end,
}

check "packages-updating" {
  every = EVERY,
  timeout = "25s",
  run = function()
    local s, err = settings()
    if not s then return unknown(err) end
    for _, f in ipairs(s.updating_flags) do
      if medic.exists(f) then return problem("packages are updating (" .. f .. ")") end
    end
    if s.lock_command then
      local r, why = run(s.lock_command)
      if not r then return unknown(why) end
      if r.status == 0 then return problem("dpkg's lock is held") end
    end
    return ok("no package update running")
  end,
}
