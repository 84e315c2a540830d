-- newer-kernel: a kernel newer than the running one is installed under /boot.
check "newer-kernel" {
  every = "15m",
  timeout = "10s",
  run = function()
    local running = medic.uname().release
    local images = medic.glob("/boot/vmlinuz-*")
    if #images == 0 then
      return skip("no kernel images under /boot")
    end
    local newest
    for _, path in ipairs(images) do
      local v = path:match("^/boot/vmlinuz%-(.+)$")
      if v and (not newest or medic.version_compare(v, newest) > 0) then newest = v end
    end
    if newest and medic.version_compare(newest, running) > 0 then
      return problem("kernel " .. newest .. " is installed, " .. running .. " is running",
                     { running = running, newest = newest })
    end
    return ok("running the newest installed kernel " .. running, { running = running })
  end,
}
