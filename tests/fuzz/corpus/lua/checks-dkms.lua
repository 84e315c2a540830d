-- dkms: every module registered with dkms must be installed for the kernel the node will
-- boot next (the newest /boot/vmlinuz-*, or the one set in /etc/medic/dkms.conf), so that
-- a reboot never lands in a kernel without its out-of-tree modules (GPU, ZFS, NIC drivers).
-- Use the condition as a blocker of reboot rules: unless = { "dkms" }.
--
-- Settings: /etc/medic/dkms.conf (optional; the directory is settings_dir in medic.conf),
-- Lua assignments, e.g.
--   dkms   = { "/usr/sbin/dkms", "--dkmstree", "/srv/dkms" }  -- command; "status" is appended
--   kernel = "6.1.0-18-amd64"   -- the next-boot kernel; default: newest <boot>/vmlinuz-*
--   boot   = "/boot"            -- where kernel images are
--   arch   = "x86_64"           -- default: uname -m
--   strict = true               -- "Diff between built and installed module" counts as missing
local SETTINGS_FILE = medic.settings_dir .. "/dkms.conf"
local DEFAULTS = { dkms = { "dkms" }, kernel = false, boot = "/boot", arch = false, strict = false }


-- Parses the output of `dkms status` (dkms 2.x "mod, ver, kernel, arch: state" and
-- 3.x "mod/ver, kernel, arch: state"; "added" lines have no kernel). Returns
-- { entries = { {module, version, kernel, arch, state, from, warnings = {...}} ... },
--   unparsed = { lines that are not status lines } }.
-- state is "added", "built", "installed", "installed-weak" (from = the kernel it was built
-- for) or whatever else dkms says ("broken"); warnings are the texts in parentheses.
-- Global (not local) on purpose: tests/integration/dkms-parser.lua loads this file and calls both.
-- luacheck: globals dkms_parse_status dkms_evaluate
function dkms_parse_status(text)
  local entries, unparsed = {}, {}
  for line in (text or ""):gmatch("[^\n]+") do
    line = line:gsub("%s+$", "")
    local m, v, k, a, state, rest
    m, v, k, a, state, rest = line:match("^([^/,%s]+)/([^,%s]+), ([^,%s]+), ([^,:%s]+): ([%w_-]+)(.*)$")
    if not m then
      m, v, k, a, state, rest = line:match("^([^,%s]+), ([^,%s]+), ([^,%s]+), ([^,:%s]+): ([%w_-]+)(.*)$")
    end
    if not m then
      m, v, state, rest = line:match("^([^/,%s]+)/([^,:%s]+): ([%w_-]+)(.*)$")
      if not m then m, v, state, rest = line:match("^([^,%s]+), ([^,:%s]+): ([%w_-]+)(.*)$") end
      k, a = nil, nil
    end
    if m then
      local e = { module = m, version = v, kernel = k, arch = a, state = state, warnings = {} }
      if state == "installed-weak" then e.from = rest:match("^%s*from%s+(%S+)") end
      for w in rest:gmatch("%((.-)%)") do e.warnings[#e.warnings + 1] = w end
      entries[#entries + 1] = e
    elseif line:match("%S") then
      unparsed[#unparsed + 1] = line
    end
  end
  return { entries = entries, unparsed = unparsed }
end

-- A warning that says the module files are not all there: counts as not installed. With
-- strict, so does a difference between the built and the installed file (dkms 3.0 says that
-- too when the installed file was deleted).
local function warns_missing(w, strict)
  w = w:lower()
  return w:find("missing", 1, true) ~= nil or (strict and w:find("diff", 1, true) ~= nil)
end

-- Which registered modules are not installed for kernel/arch (arch false: any arch).
-- strict: a diverging module (see warns_missing) counts as not installed.
-- A module counts as installed when some version of it is "installed" or "installed-weak"
-- for that kernel without a warning that module files are missing.
-- Returns { missing = { {module, version, state} }, installed = { "mod/ver" },
--           warnings = { "mod/ver: text" } }; state is what dkms says for that kernel
-- ("built", "installed (… missing …)"), or for a module without any kernel its bare state
-- ("added", "broken"), or "not built for this kernel".
function dkms_evaluate(parsed, kernel, arch, strict)
  local order, by_module = {}, {}
  for _, e in ipairs(parsed.entries) do
    local mod = by_module[e.module]
    if not mod then
      mod = { versions = {}, seen = {}, has_kernels = false }
      by_module[e.module] = mod
      order[#order + 1] = e.module
    end
    if not mod.seen[e.version] then
      mod.seen[e.version] = true
      mod.versions[#mod.versions + 1] = e.version
    end
    if e.kernel then mod.has_kernels = true else mod.bare = e end
    if e.kernel == kernel and (not arch or e.arch == arch) then
      local missing_files = false
      for _, w in ipairs(e.warnings) do if warns_missing(w, strict) then missing_files = true end end
      if (e.state == "installed" or e.state == "installed-weak") and not missing_files then
        mod.ok = e
      else
        local s = e.state
        if #e.warnings > 0 then s = s .. " (" .. table.concat(e.warnings, ") (") .. ")" end
        mod.state, mod.state_version = s, e.version
      end
    end
  end
  local r = { missing = {}, installed = {}, warnings = {} }
  for _, name in ipairs(order) do
    local mod = by_module[name]
    table.sort(mod.versions, function(x, y) return medic.version_compare(x, y) < 0 end)
    if mod.ok then
      local id = name .. "/" .. mod.ok.version
      r.installed[#r.installed + 1] = id
      if #mod.ok.warnings > 0 then
        r.warnings[#r.warnings + 1] = id .. ": " .. table.concat(mod.ok.warnings, "; ")
      end
    else
      local state = mod.state
      if not state then
        state = (not mod.has_kernels and mod.bare) and mod.bare.state or "not built for this kernel"
      end
      r.missing[#r.missing + 1] = { module = name, state = state,
                                    version = mod.state_version or mod.versions[#mod.versions] }
    end
  end
  return r
end

-- The kernel the node boots next: the configured one, else the newest image in boot.
local function next_kernel(settings)
  if settings.kernel then return settings.kernel end
  local newest
  for _, path in ipairs(medic.glob(settings.boot .. "/vmlinuz-*")) do
    local v = path:match("/vmlinuz%-([^/]+)$")
    if v and not v:find("rescue", 1, true) and (not newest or medic.version_compare(v, newest) > 0) then
      newest = v
    end
  end
  return newest
end

check "dkms" {
  every = "10m",
  timeout = "2m",
  run = function()
    local good, settings = pcall(medic.settings, "dkms", DEFAULTS)
    if not good then return unknown(settings) end
    if type(settings.dkms) ~= "table" or #settings.dkms == 0 then
      return unknown(SETTINGS_FILE .. ": dkms must be a list such as { \"dkms\" }")
    end
    local argv = { timeout = "90s" }
    for i, a in ipairs(settings.dkms) do argv[i] = a end
    argv[#argv + 1] = "status"
    local r = medic.exec(argv)
    if r.error then return skip("dkms is not installed (" .. r.error .. ")") end
    if r.timed_out then return unknown("dkms status timed out after " .. r.duration .. "s") end
    if r.status ~= 0 then
      local first = (r.stderr:match("[^\n]+") or r.stdout:match("[^\n]+") or "")
      return unknown("dkms status failed (" .. (r.status and "status " .. r.status or "signal " .. tostring(r.signal)) ..
                     "): " .. first)
    end
    local parsed = dkms_parse_status(r.stdout)
    if #parsed.entries == 0 then
      if #parsed.unparsed > 0 then
        return unknown("cannot parse dkms status: " .. parsed.unparsed[1])
      end
      return ok("no dkms modules registered")
    end
    local kernel = next_kernel(settings)
    if not kernel then return skip("no kernel images under " .. settings.boot) end
    local arch = settings.arch or medic.uname().machine
    local e = dkms_evaluate(parsed, kernel, arch, settings.strict)
    local details = { kernel = kernel, arch = arch, missing = e.missing, installed = e.installed,
                      warnings = e.warnings, unparsed = parsed.unparsed, entries = #parsed.entries }
    if #e.missing > 0 then
      local parts = {}
      for _, m in ipairs(e.missing) do
        parts[#parts + 1] = m.module .. "/" .. m.version .. " (" .. m.state .. ")"
      end
      return problem("dkms modules not installed for kernel " .. kernel .. ": " .. table.concat(parts, ", "),
                     details)
    end
    local msg = #e.installed .. " dkms modules installed for kernel " .. kernel
    if #e.warnings > 0 then msg = msg .. "; warnings: " .. table.concat(e.warnings, ", ") end
    return ok(msg, details)
  end,
}
