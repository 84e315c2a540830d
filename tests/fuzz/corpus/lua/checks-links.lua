-- links: network links that are down, have lost their carrier, or flap.
-- Runs at once on every link change (medicd follows the kernel's link events), and every
-- minute so that flapping ends once the changes have aged out of the window.
--
-- Settings: /etc/medic/links.conf (optional; the directory is settings_dir in medic.conf):
--   interfaces = { "eno1", "bond*", "!bond9" }  -- globs to watch; "!glob" excludes. A name
--       without glob characters must exist. Empty (the default): every admin-up link that
--       looks physical (Ethernet, no link kind such as veth or bridge), except IGNORE below.
--   flapping = "6/10m"  -- N changes within a window make a watched link flapping (a change:
--       the link stopped or started working; one bounce is 2 changes); "off" turns it off.
local DEFAULTS = { interfaces = {}, flapping = "6/10m" }
local IGNORE = { "lo", "veth*", "docker*", "br-*", "virbr*", "vnet*", "tap*", "tun*", "cali*",
                 "flannel*", "cni*", "kube-*", "vxlan*", "wg*", "dummy*", "lxc*", "podman*" }

-- Returns the settings, or nil and an error naming the file.
local function settings()
  local good, conf = pcall(medic.settings, "links", DEFAULTS)
  if not good then return nil, conf end
  local s = { flapping = conf.flapping }
  local list = conf.interfaces
  if type(list) == "string" then
    local t = {}
    for w in list:gmatch("%S+") do t[#t + 1] = w end
    list = t
  end
  if type(list) ~= "table" then
    return nil, medic.settings_dir .. "/links.conf: interfaces: expected a list of globs"
  end
  if #list > 0 then
    s.include, s.exclude = {}, {}
    for _, g in ipairs(list) do
      if type(g) ~= "string" then
        return nil, medic.settings_dir .. "/links.conf: interfaces: expected a list of globs"
      end
      if g:sub(1, 1) == "!" then s.exclude[#s.exclude + 1] = g:sub(2)
      else s.include[#s.include + 1] = g end
    end
    if #s.include == 0 then s.include = { "*" } end
  end
  if s.flapping ~= "off" then
    local count, window = tostring(s.flapping):match("^(%d+)%s*/%s*(%S+)$")
    local ok_, secs = pcall(medic.duration, window or "")
    if not count or tonumber(count) < 1 or not ok_ then
      return nil, medic.settings_dir .. "/links.conf: flapping: expected \"N/DURATION\" (e.g. \"6/10m\") or \"off\", got '"
                  .. tostring(s.flapping) .. "'"
    end
    s.flap_count, s.flap_window = tonumber(count), secs
  end
  return s
end

local function physical(l)
  return l.up and l.type == "ether" and l.kind == nil
end

local function names(list, key)
  local t = {}
  for _, x in ipairs(list) do t[#t + 1] = key and x[key] or x end
  return table.concat(t, ", ")
end

check "links" {
  every = "1m",
  events = { "link" },
  timeout = "10s",
  run = function()
    local s, err = settings()
    if not s then return unknown(err) end
    local links, lerr = medic.links(s.include, s.flap_window)
    if not links then return unknown(lerr) end
    local skip_names = {}
    for _, l in ipairs(medic.links(s.include and s.exclude or IGNORE) or {}) do skip_names[l.name] = true end

    local watched, seen = {}, {}
    for _, l in ipairs(links) do
      if not skip_names[l.name] and (s.include or physical(l)) then
        watched[#watched + 1] = l
        seen[l.name] = true
      end
    end
    local missing = {}
    for _, g in ipairs(s.include or {}) do
      if not g:find("[%*%?%[]") and not seen[g] then missing[#missing + 1] = g end
    end
    if #watched == 0 and #missing == 0 then
      return skip("no network links to watch")
    end

    local down, nocarrier, flapping, state = {}, {}, {}, {}
    for _, l in ipairs(watched) do
      state[#state + 1] = { name = l.name, up = l.up, carrier = l.carrier, operstate = l.operstate,
                            changes = l.changes }
      if not l.up then
        down[#down + 1] = l.name
      elseif not l.carrier then
        nocarrier[#nocarrier + 1] = l.name
      elseif l.operstate ~= "up" and l.operstate ~= "unknown" then
        down[#down + 1] = l.name .. " (operstate " .. l.operstate .. ")"
      end
      if s.flap_count and l.changes >= s.flap_count then
        flapping[#flapping + 1] = { name = l.name, changes = l.changes }
      end
    end

    local parts = {}
    if #missing > 0 then parts[#parts + 1] = "missing: " .. names(missing) end
    if #down > 0 then parts[#parts + 1] = "down: " .. names(down) end
    if #nocarrier > 0 then parts[#parts + 1] = "no carrier: " .. names(nocarrier) end
    if #flapping > 0 then
      local f = {}
      for _, x in ipairs(flapping) do f[#f + 1] = x.name .. " (" .. x.changes .. " changes)" end
      parts[#parts + 1] = "flapping: " .. table.concat(f, ", ") .. " within " .. s.flapping:match("/%s*(%S+)$")
    end
    local details = { links = state }
    if #missing > 0 then details.missing = missing end
    if #down > 0 then details.down = down end
    if #nocarrier > 0 then details.no_carrier = nocarrier end
    if #flapping > 0 then details.flapping = flapping end
    if #parts > 0 then return problem(table.concat(parts, "; "), details) end
    return ok(#watched .. " link" .. (#watched == 1 and "" or "s") .. " up: " .. names(watched, "name"), details)
  end,
}
