-- prometheus-alerts: alerts that Prometheus reports as firing, as a condition that rules use
-- as a trigger (when = "prometheus-alerts") or as a blocker (unless = { "prometheus-alerts" }).
-- Reads GET URL/api/v1/alerts through medic.http. A query that fails (Prometheus down, an
-- error status, an answer that is not Prometheus's) makes the condition unknown, which blocks
-- disruptive remedies. No condition until a URL is configured.
--
-- Settings: /etc/medic/prometheus-alerts.conf (the directory is settings_dir in medic.conf):
--   url = "http://prometheus.example:9090"
--   name = "Node.*|DiskFull"          -- alert names, a POSIX regex matched against the whole name
--   labels = { instance = "web1:9100", severity = "critical|page" }   -- regexes, whole value
--   annotations = { summary = ".*disk.*" }                           -- the same, on annotations
--   exclude = { "Watchdog|InfoInhibitor", { labels = { severity = "none|info" } } }
--             -- an alert that matches an entry does not count: a string is a name regex, a
--             -- table { name = RE, labels = {...}, annotations = {...} } must match in full
--   every = "1m"                       -- read when the file loads (a change needs a reload)
local DEFAULTS = {
  url = false,
  name = false,
  labels = {},
  annotations = {},
  exclude = {},         -- alerts that never count (see above)
  pending = false,      -- count pending alerts too
  every = "1m",
  timeout = "10s",
  headers = {},         -- e.g. { Authorization = "Bearer …" }
  ca_file = false,
  insecure = false,
  max_listed = 10,
}

-- The interval is read once, at load; everything else on every run.
local loaded_ok, loaded = pcall(medic.settings, "prometheus-alerts", DEFAULTS)
local every = loaded_ok and loaded.every or DEFAULTS.every

local function whole(s, re)
  return medic.match(s, "^(" .. re .. ")$") ~= nil
end

-- Every regex of a table of field name to regex (labels, annotations) matches the whole value;
-- a missing field does not match.
local function fields_match(have, want)
  for k, re in pairs(want) do
    if have[k] == nil or not whole(tostring(have[k]), re) then return false end
  end
  return true
end

-- A matcher { name = RE or false, labels = {...}, annotations = {...} } against an alert.
local function matches(alert, m)
  local labels = alert.labels or {}
  if m.name and not whole(tostring(labels.alertname or ""), m.name) then return false end
  return fields_match(labels, m.labels) and fields_match(alert.annotations or {}, m.annotations)
end

-- A regex that compiles, or nil and the error naming where it is.
local function check_re(re, where)
  if type(re) ~= "string" then return nil, where .. " must be a string (a regex)" end
  local good, err = pcall(medic.match, "", re)
  if not good then return nil, where .. ": " .. tostring(err) end
  return re
end

local function check_fields(t, where)
  if type(t) ~= "table" then return nil, where .. " must be a table of name = regex" end
  local out = {}
  for k, re in pairs(t) do
    local good, err = check_re(type(re) == "number" and tostring(re) or re, where .. "." .. tostring(k))
    if not good then return nil, err end
    out[k] = good
  end
  return out
end

-- A matcher from settings fields name, labels and annotations, or nil and an error.
local function matcher(t, where)
  local m, err = { name = false }
  if t.name then
    m.name, err = check_re(t.name, where .. "name")
    if not m.name then return nil, err end
  end
  m.labels, err = check_fields(t.labels or {}, where .. "labels")
  if not m.labels then return nil, err end
  m.annotations, err = check_fields(t.annotations or {}, where .. "annotations")
  if not m.annotations then return nil, err end
  return m
end

local EXCLUDE_KEYS = { name = true, labels = true, annotations = true }

-- The selection and the exclusions of the settings, or nil and an error.
local function filters(settings)
  local select, err = matcher(settings, "prometheus-alerts: ")
  if not select then return nil, nil, err end
  if type(settings.exclude) ~= "table" then
    return nil, nil, "prometheus-alerts: exclude must be a list of name regexes or { name, labels, annotations } tables"
  end
  for k in pairs(settings.exclude) do
    if math.type(k) ~= "integer" then
      return nil, nil, "prometheus-alerts: exclude must be a list, not a table with key '" .. tostring(k) .. "'"
    end
  end
  local exclude = {}
  for i, e in ipairs(settings.exclude) do
    local where = "prometheus-alerts: exclude[" .. i .. "]"
    local m
    if type(e) == "string" then
      local re
      re, err = check_re(e, where)
      m = re and { name = re, labels = {}, annotations = {} }
    elseif type(e) == "table" then
      for k in pairs(e) do
        if not EXCLUDE_KEYS[k] then return nil, nil, where .. ": unknown field '" .. tostring(k) .. "' (name, labels, annotations)" end
      end
      if e.name == nil and e.labels == nil and e.annotations == nil then
        return nil, nil, where .. ": empty (it would exclude every alert)"
      end
      m, err = matcher(e, where .. ".")
    else
      err = where .. " must be a name regex or a { name, labels, annotations } table"
    end
    if not m then return nil, nil, err end
    exclude[#exclude + 1] = m
  end
  return select, exclude
end

local function counted_state(alert, settings)
  return alert.state == "firing" or (settings.pending and alert.state == "pending")
end

local function excluded(alert, exclude)
  for _, m in ipairs(exclude) do
    if matches(alert, m) then return true end
  end
  return false
end

local function describe(alert)
  local labels, parts = alert.labels or {}, {}
  for k, v in pairs(labels) do
    if k ~= "alertname" then parts[#parts + 1] = k .. "=" .. tostring(v) end
  end
  table.sort(parts)
  local s = tostring(labels.alertname or "?")
  if #parts > 0 then s = s .. "{" .. table.concat(parts, ",") .. "}" end
  return s
end

check "prometheus-alerts" {
  every = every,
  timeout = "30s",
  run = function()
    local good, settings = pcall(medic.settings, "prometheus-alerts", DEFAULTS)
    if not good then return unknown(settings) end
    if not settings.url then return skip("no Prometheus url configured") end
    local select, exclude, ferr = filters(settings)
    if not select then return unknown(ferr) end
    local url = settings.url:gsub("/+$", "") .. "/api/v1/alerts"
    local r, err = medic.http {
      url = url, timeout = settings.timeout, headers = settings.headers,
      ca_file = settings.ca_file or nil, insecure = settings.insecure,
    }
    if not r then return unknown("Prometheus query failed: " .. err) end
    if r.status ~= 200 then
      return unknown(string.format("Prometheus query failed: %s answered status %d", url, r.status))
    end
    local doc, jerr = medic.json_decode(r.body)
    if type(doc) ~= "table" or doc.status ~= "success" or type(doc.data) ~= "table"
       or type(doc.data.alerts) ~= "table" then
      return unknown("Prometheus query failed: " .. url .. ": not an alerts answer" .. (jerr and (": " .. jerr) or ""))
    end
    local found, names, n_excluded = {}, {}, 0
    for _, a in ipairs(doc.data.alerts) do
      if type(a) == "table" and counted_state(a, settings) and matches(a, select) then
        if excluded(a, exclude) then
          n_excluded = n_excluded + 1
        else
          found[#found + 1] = { name = a.labels and a.labels.alertname, labels = a.labels, state = a.state,
                                active_at = a.activeAt, value = a.value, annotations = a.annotations }
          if #names < settings.max_listed then names[#names + 1] = describe(a) end
        end
      end
    end
    local ex = n_excluded > 0 and (n_excluded .. " excluded") or nil
    if #found > 0 then
      local more = #found > #names and (" and " .. (#found - #names) .. " more") or ""
      return problem(#found .. " firing alert" .. (#found > 1 and "s" or "") .. ": "
                     .. table.concat(names, ", ") .. more .. (ex and " (" .. ex .. ")" or ""),
                     { alerts = found, url = settings.url, excluded = n_excluded })
    end
    return ok("no matching alert firing (" .. #doc.data.alerts .. " alerts in total" .. (ex and ", " .. ex or "") .. ")",
              { url = settings.url, excluded = n_excluded })
  end,
}
