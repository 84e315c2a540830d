-- Example check (copy to /etc/medic/checks.d/): a command's exit status is the condition.
-- Replace the argument vector with your own probe; no shell is involved.
check "command-check" {
  every = "1m",
  timeout = "30s",
  run = function()
    local r = medic.exec { "/usr/bin/systemctl", "is-system-running", timeout = "20s" }
    if r.error then return unknown(r.error) end
    if r.status == 0 then return ok(r.stdout:gsub("%s+$", "")) end
    return problem("exit status " .. tostring(r.status) .. ": " .. r.stdout:gsub("%s+$", ""),
                   { status = r.status, stdout = r.stdout, stderr = r.stderr })
  end,
}
