-- failed-units: units that systemd reports as failed (ListUnitsFiltered over D-Bus through
-- medic.systemd.failed_units). No condition on a node that systemd does not run
-- (no /run/systemd/system). A bus or manager that does not answer makes it unknown.
--
-- Settings: /etc/medic/systemd-units.conf (the directory is settings_dir in medic.conf):
--   ignore = { "^user@%d+%.service$", "%.scope$" }   -- Lua patterns of unit names to leave out
--   max_listed = 10
local DEFAULTS = { ignore = {}, max_listed = 10 }

check "failed-units" {
  every = "1m",
  timeout = "30s",
  run = function()
    if not medic.systemd.booted() then return skip("systemd is not running (no /run/systemd/system)") end
    local good, settings = pcall(medic.settings, "systemd-units", DEFAULTS)
    if not good then return unknown(settings) end
    local units, err = medic.systemd.failed_units()
    if not units then return unknown(err) end
    local found, names = {}, {}
    for _, u in ipairs(units) do
      local ignored = false
      for _, pat in ipairs(settings.ignore) do
        if u.name:find(pat) then ignored = true end
      end
      if not ignored then
        found[#found + 1] = u
        if #names < settings.max_listed then names[#names + 1] = u.name end
      end
    end
    if #found > 0 then
      local more = #found > #names and (" and " .. (#found - #names) .. " more") or ""
      return problem(#found .. " failed unit" .. (#found > 1 and "s" or "") .. ": "
                     .. table.concat(names, ", ") .. more, { units = found })
    end
    return ok("no failed units")
  end,
}
