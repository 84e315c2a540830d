-- deleted-libraries: running processes still map a shared library whose file was deleted,
-- typically replaced by a package upgrade (libc, libssl): they run the old code until they
-- restart, and a reboot restarts them all.
--
-- Settings: /etc/medic/deleted-libraries.conf (the directory is settings_dir in medic.conf):
--   include = { "^/usr/", "^/lib" }   -- Lua patterns: count only libraries matching one; default all
--   ignore  = { "^java$" }           -- Lua patterns on the process name (comm) to leave out
--   max_listed = 20                   -- processes named in the message and details
--   method = "c"                      -- "c" (medic.deleted_libraries) or "lua" (the same scan in Lua)
--   proc = "/proc"
local DEFAULTS = { include = {}, ignore = {}, max_listed = 20, method = "c", proc = "/proc" }

-- The same scan as medic.deleted_libraries, in Lua (kept for comparison: bench/deleted-libraries.sh).
local function deleted_libraries_lua(proc)
  local out, scanned = {}, 0
  for _, maps in ipairs(medic.glob(proc .. "/[0-9]*/maps")) do
    local text = medic.read(maps, 64 * 1024 * 1024)
    if text then
      scanned = scanned + 1
      if text:find(" (deleted)", 1, true) then
        local libs, seen = {}, {}
        for line in text:gmatch("[^\n]+") do
          local path = line:match("^%S+%s+%S+%s+%S+%s+%S+%s+%S+%s+(/.*) %(deleted%)$")
          if path and not seen[path] then
            local base = path:match("[^/]*$")
            if base:find("%.so$") or base:find("%.so%.") then
              seen[path] = true
              libs[#libs + 1] = path
            end
          end
        end
        if #libs > 0 then
          local pid = tonumber(maps:match("/(%d+)/maps$"))
          local comm = (medic.read(proc .. "/" .. pid .. "/comm") or ""):gsub("\n", "")
          out[#out + 1] = { pid = pid, comm = comm, libraries = libs }
        end
      end
    end
  end
  return out, scanned
end

-- The scan in C, in slices of at most 5 ms so that the daemon can run other work between them.
local function deleted_libraries_c(proc)
  local all, total, after = {}, 0, 0
  repeat
    local found, scanned, next_after = medic.deleted_libraries { proc = proc, after = after, max_ms = 5 }
    if not found then return nil, scanned end
    for _, p in ipairs(found) do all[#all + 1] = p end
    total, after = total + scanned, next_after
  until not after
  return all, total
end

local function matches_any(s, patterns)
  for _, p in ipairs(patterns) do if s:find(p) then return true end end
  return false
end

check "deleted-libraries" {
  every = "15m",
  timeout = "1m",
  run = function()
    local good, settings = pcall(medic.settings, "deleted-libraries", DEFAULTS)
    if not good then return unknown(settings) end
    local procs, scanned
    if settings.method == "lua" or not medic.deleted_libraries then
      procs, scanned = deleted_libraries_lua(settings.proc)
    else
      procs, scanned = deleted_libraries_c(settings.proc)
    end
    if not procs then return unknown(scanned) end
    if scanned == 0 then return unknown("cannot read any " .. settings.proc .. "/PID/maps") end
    local hits = {}
    for _, p in ipairs(procs) do
      if not matches_any(p.comm, settings.ignore) then
        local libs = {}
        for _, l in ipairs(p.libraries) do
          if #settings.include == 0 or matches_any(l, settings.include) then libs[#libs + 1] = l end
        end
        if #libs > 0 then hits[#hits + 1] = { pid = p.pid, comm = p.comm, libraries = libs } end
      end
    end
    if #hits == 0 then return ok("no process maps a deleted library (" .. scanned .. " processes)") end
    table.sort(hits, function(a, b) return a.pid < b.pid end)
    local listed, names = {}, {}
    for i = 1, math.min(#hits, settings.max_listed) do
      local h = hits[i]
      listed[i] = h
      local short = {}
      for _, l in ipairs(h.libraries) do short[#short + 1] = l:match("[^/]*$") end
      names[i] = h.comm .. "[" .. h.pid .. "] (" .. table.concat(short, ", ") .. ")"
    end
    local more = #hits > #listed and (" and " .. (#hits - #listed) .. " more") or ""
    return problem(#hits .. (#hits == 1 and " process maps" or " processes map") .. " deleted libraries: " .. table.concat(names, ", ") .. more,
                   { processes = listed, count = #hits, scanned = scanned })
  end,
}
