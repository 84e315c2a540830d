-- ipmi: the BMC's view of the hardware (FreeIPMI libipmimonitoring through medic.ipmi).
-- In-band through /dev/ipmi0 by default, over LAN (IPMI 2.0) when medic.conf has an [ipmi]
-- host. Each check skips itself on a node without a BMC. A BMC that does not answer makes
-- the checks unknown (never ok) within their timeout.
local SEL_HOLD = "1h"   -- how long ipmi-sel-critical stays a problem after a new critical event

local function describe(s)
  local text = s.name
  if type(s.reading) == "number" then
    text = text .. string.format(" %g", s.reading) .. (s.units and (" " .. s.units) or "")
  end
  if s.events and #s.events > 0 then
    text = text .. " (" .. table.concat(s.events, ", ") .. ")"
  end
  return text
end

-- The sensors in STATE, as a message and details; ok when there is none.
local function sensors_in(state)
  local have, mode = medic.ipmi.available()
  if not have then return skip(mode) end
  local sensors, err = medic.ipmi.sensors()
  if not sensors then return unknown(err) end
  local found, texts = {}, {}
  for _, s in ipairs(sensors) do
    if s.state == state then
      found[#found + 1] = { name = s.name, type = s.type, reading = s.reading, units = s.units,
                            events = s.events }
      texts[#texts + 1] = describe(s)
    end
  end
  if #found > 0 then
    return problem(#found .. " " .. state:lower() .. " sensor" .. (#found > 1 and "s" or "") .. ": "
                   .. table.concat(texts, "; "), { sensors = found, via = mode })
  end
  return ok(#sensors .. " sensors read (" .. mode .. "), none " .. state:lower(), { via = mode })
end

check "ipmi-critical" {
  every = "1m",
  timeout = "30s",
  run = function() return sensors_in("Critical") end,
}

check "ipmi-warning" {
  every = "5m",
  timeout = "30s",
  run = function() return sensors_in("Warning") end,
}

-- New critical SEL events since the last run. They stay a problem for SEL_HOLD (kept in
-- this file's memory), or until the SEL is cleared (clearing acknowledges them).
local held = {}

check "ipmi-sel-critical" {
  every = "1m",
  timeout = "30s",
  run = function()
    local have, mode = medic.ipmi.available()
    if not have then return skip(mode) end
    local sel, err = medic.ipmi.sel()
    if not sel then return unknown(err) end
    local now = medic.now()
    if sel.cleared then held = {} end
    for _, e in ipairs(sel.events) do
      if e.state == "Critical" then
        held[#held + 1] = { id = e.id, timestamp = e.timestamp, sensor = e.sensor, event = e.event,
                            direction = e.direction, seen = now }
      end
    end
    local keep, texts = {}, {}
    local hold = medic.duration(SEL_HOLD)
    for _, h in ipairs(held) do
      if now - h.seen < hold then
        keep[#keep + 1] = h
        texts[#texts + 1] = (h.sensor and h.sensor ~= "" and (h.sensor .. ": ") or "") .. (h.event or "OEM record")
      end
    end
    held = keep
    if #held > 0 then
      return problem(#held .. " critical SEL event" .. (#held > 1 and "s" or "") .. ": "
                     .. table.concat(texts, "; "), { events = held, via = mode })
    end
    local note = sel.first and ", position recorded" or ""
    return ok(sel.records .. " SEL records, no new critical event" .. note, { via = mode })
  end,
}
