-- needs-restarting: on RHEL-family nodes, `needs-restarting -r` (dnf-utils / yum-utils)
-- exits 1 when core packages (kernel, glibc, systemd, ...) were updated since boot.
-- No condition where the program is not installed.
--
-- Settings: /etc/medic/needs-restarting.conf (optional; the directory is settings_dir in medic.conf):
--   command = { "needs-restarting", "-r" }
local DEFAULTS = { command = { "needs-restarting", "-r" } }

check "needs-restarting" {
  every = "15m",
  timeout = "2m",
  run = function()
    local good, settings = pcall(medic.settings, "needs-restarting", DEFAULTS)
    if not good then return unknown(settings) end
    local argv = { timeout = "90s" }
    for i, a in ipairs(settings.command) do argv[i] = a end
    local r = medic.exec(argv)
    if r.error then return skip("needs-restarting is not installed") end
    if r.timed_out then return unknown(argv[1] .. " timed out") end
    local lines = {}
    for l in r.stdout:gmatch("[^\n]+") do lines[#lines + 1] = l end
    if r.status == 0 then return ok("no reboot needed (" .. argv[1] .. " exited 0)") end
    if r.status == 1 and #lines == 0 then
      -- dnf also exits 1 for its own errors ("No such command"), saying so on stderr only
      return unknown(argv[1] .. " exited 1 without a report: " .. (r.stderr:match("[^\n]+") or ""))
    end
    if r.status == 1 then
      local what = {}
      for _, l in ipairs(lines) do
        local item = l:match("^%s*%*%s*(%S+)")
        if item then what[#what + 1] = item end
      end
      return problem("reboot needed" .. (#what > 0 and " (updated: " .. table.concat(what, ", ") .. ")" or ""),
                     { updated = what, output = lines })
    end
    return unknown(argv[1] .. " failed (" .. (r.status and "status " .. r.status or "signal " .. tostring(r.signal))
                   .. "): " .. (r.stderr:match("[^\n]+") or ""))
  end,
}
