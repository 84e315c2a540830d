-- The checks of the staged pack (staged.lua): the three indicator kinds of a staged
-- maintenance of sets, each set a medic group.
--
--   maintenance-required  (trigger)  package updates are pending: the updates command says so
--   automation-disabled   (blocker)  automation is off for this machine type (the node's label
--                                    "type", listed in disabled_types, or a flag file)
--   uninterruptible-job   (blocker)  a job that must not be interrupted runs (a file in jobs_dir)
--   set-unavailable       (blocker)  another member of the set is unavailable (the group view)
--   node-health           (health)   the node works (the health command): while it is not ok
--                                    the node is unavailable (and, after a maintenance, keeps
--                                    the permission: the rule's settle)
--
-- A new kernel is the shipped newer-kernel check; an interactive login the shipped logins.lua
-- (interactive-login).
--
-- Settings: /etc/medic/staged.conf (optional; the directory is settings_dir in medic.conf),
-- Lua assignments, e.g.
--   updates = { "/usr/share/medic/examples/staged/updates-pending" }  -- exit 0: updates pending
--   disabled_types = { "gpu", "storage" }
--   health = { "/usr/lib/nagios/plugins/check_load", "-w", "20", "-c", "40" }
-- every is read when the file loads (medicctl reload), the rest on every run.
local DEFAULTS = {
  every = "5m",
  updates = { "/usr/share/medic/examples/staged/updates-pending" },  -- exit 0: pending, 1: none
  disabled_types = {},        -- machine types (label "type") whose automation is off
  disabled_dir = "/etc/medic/staged-disabled",   -- a file named TYPE (or "all") turns it off too
  jobs_dir = "/run/medic/jobs",                  -- a job creates a file here while it runs
  health = { "systemctl", "is-system-running" }, -- exit 0: the node works
}

local function settings()
  local good, s = pcall(medic.settings, "staged", DEFAULTS)
  if not good then return nil, s end
  for _, k in ipairs({ "updates", "health", "disabled_types" }) do
    if type(s[k]) ~= "table" then return nil, "staged.conf: " .. k .. " must be a list" end
  end
  return s
end

local EVERY = (settings() or DEFAULTS).every

-- run(argv): the command's result, or nil, why.
local function run(argv)
  local cmd = { timeout = "60s" }
  for i, a in ipairs(argv) do cmd[i] = a end
  local r = medic.exec(cmd)
  if r.error then return nil, argv[1] .. ": " .. r.error end
  if r.timed_out then return nil, argv[1] .. " timed out" end
  return r
end

check "maintenance-required" {
  every = EVERY,
  timeout = "2m",
  run = function()
    local s, err = settings()
    if not s then return unknown(err) end
    local r, why = run(s.updates)
    if not r then return unknown(why) end
    if r.status == 0 then
      return problem("package updates are pending", { updates = r.stdout:sub(1, 2048) })
    end
    if r.status == 1 then return ok("no package updates pending") end
    return unknown(s.updates[1] .. " exited with status " .. tostring(r.status) .. ": " ..
                   (r.stderr:match("[^\n]+") or ""))
  end,
}

check "automation-disabled" {
  every = EVERY,
  timeout = "10s",
  run = function()
    local s, err = settings()
    if not s then return unknown(err) end
    local t = medic.labels.type
    for _, name in ipairs({ "all", t }) do
      if medic.exists(s.disabled_dir .. "/" .. name) then
        return problem("automation is disabled by " .. s.disabled_dir .. "/" .. name, { type = t })
      end
    end
    for _, d in ipairs(s.disabled_types) do
      if d == t then
        return problem("automation is disabled for machine type " .. t, { type = t })
      end
    end
    return ok("automation is enabled for machine type " .. tostring(t or "(no type label)"))
  end,
}

check "uninterruptible-job" {
  every = EVERY,
  timeout = "10s",
  run = function()
    local s, err = settings()
    if not s then return unknown(err) end
    local jobs = {}
    for _, path in ipairs(medic.glob(s.jobs_dir .. "/*")) do
      jobs[#jobs + 1] = path:match("[^/]+$")
    end
    if #jobs > 0 then
      return problem("uninterruptible job(s) running: " .. table.concat(jobs, ", "), { jobs = jobs })
    end
    return ok("no uninterruptible job")
  end,
}

-- Another member of the set (the group) that is not available holds the rest back: one that
-- is dead or not healthy and does not hold the permission (a holder is in maintenance and
-- already counted by the coordinator's budget).
check "set-unavailable" {
  every = EVERY,
  timeout = "10s",
  run = function()
    local g, why = medic.group_view()
    if not g then return unknown("no view of the set: " .. tostring(why)) end
    local out = {}
    for _, m in ipairs(g.members) do
      if not m.self and not m.holding and not (m.alive and m.healthy) then
        out[#out + 1] = m.node .. (m.alive and " (not healthy)" or " (down)")
      end
    end
    if #out > 0 then
      return problem("unavailable in set " .. g.group .. ": " .. table.concat(out, ", "), { members = out })
    end
    return ok("every other member of set " .. g.group .. " is available (" .. #g.members .. " members)")
  end,
}

check "node-health" {
  every = EVERY,
  timeout = "2m",
  health = true,
  run = function()
    local s, err = settings()
    if not s then return unknown(err) end
    local r, why = run(s.health)
    if not r then return unknown(why) end
    if r.status ~= 0 then
      return problem(s.health[1] .. " exited with status " .. tostring(r.status) .. ": " ..
                     (r.stdout:match("[^\n]+") or r.stderr:match("[^\n]+") or ""))
    end
    return ok("the node works")
  end,
}
