-- reboot-required: Debian/Ubuntu packages asked for a reboot (/run/reboot-required).
check "reboot-required" {
  every = "5m",
  timeout = "10s",
  run = function()
    if not medic.exists("/run/reboot-required") then
      return ok("no reboot required")
    end
    local pkgs = {}
    for _, p in ipairs(medic.lines("/run/reboot-required.pkgs") or {}) do
      if p ~= "" then pkgs[#pkgs + 1] = p end
    end
    return problem("reboot required by " .. (#pkgs > 0 and table.concat(pkgs, ", ") or "a package"),
                   { packages = pkgs })
  end,
}
