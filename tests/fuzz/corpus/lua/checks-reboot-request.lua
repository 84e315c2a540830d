-- reboot-request: an operator (or a tool) asked for a reboot by creating a flag file,
-- /etc/medic/reboot-request (kept across reboots: remove it once done) or
-- /run/medic/reboot-request (gone after the reboot; `medicctl request reboot` writes it), or
-- through the coordinator (`medicctl coordinator request-reboot NODE`: the etcd backend
-- mirrors the node's request into /run/medic/coordinator-reboot-request). Its first line,
-- if any, is the reason.
--
-- Settings: /etc/medic/reboot-request.conf (the directory is settings_dir in medic.conf):
--   files = { "/etc/medic/reboot-request", "/run/medic/reboot-request",
--             "/run/medic/coordinator-reboot-request" }
local DEFAULTS = { files = { "/etc/medic/reboot-request", "/run/medic/reboot-request",
                             "/run/medic/coordinator-reboot-request" } }

check "reboot-request" {
  every = "1m",
  events = { "reboot-request" },   -- medicctl request runs it at once
  timeout = "10s",
  run = function()
    local good, settings = pcall(medic.settings, "reboot-request", DEFAULTS)
    if not good then return unknown(settings) end
    local requests = {}
    for _, path in ipairs(settings.files) do
      local st = medic.stat(path)
      if st then
        local reason = (medic.read(path, 4096) or ""):match("[^\n]+") or ""
        requests[#requests + 1] = { file = path, since = st.mtime, reason = reason }
      end
    end
    if #requests == 0 then return ok("no reboot requested") end
    local parts = {}
    for _, q in ipairs(requests) do
      parts[#parts + 1] = q.file .. (q.reason ~= "" and " (" .. q.reason .. ")" or "")
    end
    return problem("reboot requested by " .. table.concat(parts, ", "), { requests = requests })
  end,
}
