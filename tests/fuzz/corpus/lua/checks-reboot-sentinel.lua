-- reboot-sentinel: a command of the operator's that says whether the node needs a reboot,
-- like kured's --reboot-sentinel-command: exit status 0 means a reboot is needed, any other
-- status means it is not. No condition until a command is configured.
--
-- Settings: /etc/medic/reboot-sentinel.conf (the directory is settings_dir in medic.conf):
--   command = { "/usr/local/sbin/need-reboot", "--quiet" }
--   timeout = "1m"
--   every = "5m"        -- read when the file loads (a change needs medicctl reload)
local SETTINGS_FILE = medic.settings_dir .. "/reboot-sentinel.conf"
local DEFAULTS = { command = false, timeout = "1m", every = "5m" }

-- The interval, read once at load. A bad one keeps the default, and every run says so.
local function interval()
  local good, s = pcall(medic.settings, "reboot-sentinel", DEFAULTS)
  if not good then return DEFAULTS.every end
  local valid, secs = pcall(medic.duration, s.every)
  if not valid or secs < 0.1 then
    return DEFAULTS.every, SETTINGS_FILE .. ": every: not a duration of at least 100ms: " .. tostring(s.every)
  end
  return s.every
end
local EVERY, EVERY_ERROR = interval()

check "reboot-sentinel" {
  every = EVERY,
  timeout = "2m",
  run = function()
    local good, settings = pcall(medic.settings, "reboot-sentinel", DEFAULTS)
    if not good then return unknown(settings) end
    if not settings.command then return skip("no sentinel command configured") end
    if EVERY_ERROR then return unknown(EVERY_ERROR .. " (fix it and run medicctl reload)") end
    if type(settings.command) ~= "table" or #settings.command == 0 then
      return unknown(SETTINGS_FILE .. ": command must be a list such as { \"/usr/local/sbin/need-reboot\" }")
    end
    local argv = { timeout = settings.timeout }
    for i, a in ipairs(settings.command) do argv[i] = a end
    local r = medic.exec(argv)
    local shown = table.concat(settings.command, " ")
    if r.error then return unknown(shown .. ": " .. r.error) end
    if r.timed_out then return unknown(shown .. " timed out after " .. settings.timeout) end
    local first = r.stdout:match("[^\n]+") or ""
    if r.status == 0 then
      return problem("reboot needed: " .. shown .. " exited 0" .. (first ~= "" and ": " .. first or ""),
                     { command = settings.command, stdout = r.stdout })
    end
    if r.status == nil then return unknown(shown .. " killed by signal " .. tostring(r.signal)) end
    return ok("no reboot needed (" .. shown .. " exited " .. r.status .. ")")
  end,
}
