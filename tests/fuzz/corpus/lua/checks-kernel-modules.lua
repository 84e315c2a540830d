-- kernel-modules: the running kernel's modules were removed (an upgrade replaced the
-- kernel package), so loading any module fails until the node reboots.
check "kernel-modules" {
  every = "5m",
  timeout = "10s",
  run = function()
    local release = medic.uname().release
    local dir = "/lib/modules/" .. release
    local st = medic.stat(dir)
    if st and st.type == "dir" then
      return ok("modules of the running kernel " .. release .. " are present")
    end
    return problem("modules of the running kernel " .. release .. " are missing (" .. dir .. ")",
                   { running = release, directory = dir })
  end,
}
