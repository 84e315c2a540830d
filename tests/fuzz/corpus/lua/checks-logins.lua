-- interactive-login: someone is logged in. Meant as a blocker for disruptive rules:
--   rule "..." { ..., unless = { "interactive-login" } }
-- Sessions come from logind (sd-login) when it runs, else from the utmp file.
-- Settings: /etc/medic/logins.conf (optional; the directory is settings_dir in medic.conf),
-- Lua assignments read on every run, e.g.
--   ignore_users = { "ansible" }
--   remote_only  = true
local DEFAULTS = {
  every = "1m",         -- interval; read when the file loads (medicctl reload)
  utmp = "",            -- read this utmp file (and not logind); "" = logind, else /var/run/utmp
  ignore_users = {},    -- these users do not count (automation accounts)
  remote_only = false,  -- count only sessions from another host
}

local function settings()
  local good, s = pcall(medic.settings, "logins", DEFAULTS)
  if not good then return nil, s end
  if type(s.utmp) ~= "string" then return nil, "logins.conf: utmp must be a string" end
  if type(s.remote_only) ~= "boolean" then return nil, "logins.conf: remote_only must be true or false" end
  if type(s.ignore_users) ~= "table" then return nil, "logins.conf: ignore_users must be a list of names" end
  return s
end

local function describe(s)
  local where = s.tty ~= "" and s.tty or (s.type or "session")
  if s.host ~= "" then where = where .. " from " .. s.host end
  local since = s.since > 0 and (" since " .. os.date("%Y-%m-%d %H:%M", s.since)) or ""
  return s.user .. " (" .. where .. since .. ")"
end

check "interactive-login" {
  every = (settings() or DEFAULTS).every,
  timeout = "10s",
  run = function()
    local S, serr = settings()
    if not S then return unknown(serr) end
    local ignore = {}
    for _, u in ipairs(S.ignore_users) do ignore[u] = true end
    local list, err = medic.logins(S.utmp ~= "" and S.utmp or nil)
    if not list then
      return unknown("cannot tell who is logged in: " .. err)
    end
    local sessions, users, seen = {}, {}, {}
    for _, s in ipairs(list) do
      if not ignore[s.user] and (s.remote or not S.remote_only) then
        sessions[#sessions + 1] = { user = s.user, tty = s.tty, host = s.host, since = s.since,
                                    remote = s.remote, source = s.source, type = s.type }
        if not seen[s.user] then
          seen[s.user] = true
          users[#users + 1] = s.user
        end
      end
    end
    if #sessions == 0 then
      return ok("nobody is logged in")
    end
    table.sort(sessions, function(a, b)
      if a.since ~= b.since then return a.since < b.since end
      return a.user < b.user
    end)
    table.sort(users)
    local parts = {}
    for i, s in ipairs(sessions) do
      if i > 5 then
        parts[#parts + 1] = "and " .. (#sessions - 5) .. " more"
        break
      end
      parts[#parts + 1] = describe(s)
    end
    return problem("logged in: " .. table.concat(parts, ", "),
                   { users = users, sessions = sessions, source = sessions[1].source })
  end,
}
