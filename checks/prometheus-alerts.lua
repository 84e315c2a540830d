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
--   every = "1m"                       -- read when the file loads (a change needs a reload)
local DEFAULTS = {
  url = false,
  name = false,
  labels = {},
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

local function selected(alert, settings)
  local labels = alert.labels or {}
  if alert.state ~= "firing" and not (settings.pending and alert.state == "pending") then return false end
  if settings.name and not whole(labels.alertname or "", settings.name) then return false end
  for k, re in pairs(settings.labels) do
    if labels[k] == nil or not whole(tostring(labels[k]), tostring(re)) then return false end
  end
  return true
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
    if type(settings.labels) ~= "table" then return unknown("prometheus-alerts: labels must be a table") end
    if settings.name then
      local ok_re, err = pcall(medic.match, "", settings.name)
      if not ok_re then return unknown("prometheus-alerts: name: " .. tostring(err)) end
    end
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
    local found, names = {}, {}
    for _, a in ipairs(doc.data.alerts) do
      if type(a) == "table" and selected(a, settings) then
        found[#found + 1] = { name = a.labels and a.labels.alertname, labels = a.labels, state = a.state,
                              active_at = a.activeAt, value = a.value, annotations = a.annotations }
        if #names < settings.max_listed then names[#names + 1] = describe(a) end
      end
    end
    if #found > 0 then
      local more = #found > #names and (" and " .. (#found - #names) .. " more") or ""
      return problem(#found .. " firing alert" .. (#found > 1 and "s" or "") .. ": "
                     .. table.concat(names, ", ") .. more, { alerts = found, url = settings.url })
    end
    return ok("no matching alert firing (" .. #doc.data.alerts .. " alerts in total)", { url = settings.url })
  end,
}
