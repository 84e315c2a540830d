-- Example check (copy to /etc/medic/checks.d/): containerd answers `ctr version`.
check "containerd-unresponsive" {
  every = "30s",
  timeout = "20s",
  run = function()
    local r = medic.exec { "ctr", "version", timeout = "10s" }
    if r.error then return skip("ctr is not installed: " .. r.error) end
    if r.timed_out then return problem("ctr version did not answer within 10s") end
    if r.status ~= 0 then
      return problem("ctr version failed with status " .. tostring(r.status), { stderr = r.stderr })
    end
    return ok("containerd answers")
  end,
}
