-- Kernel log patterns: one condition per class, kernel-<class> (kernel-hung-task,
-- kernel-oom, kernel-io-error, kernel-fs-error, kernel-mce). A class is problem when at least
-- `threshold` kernel messages matching one of its patterns (POSIX extended regular
-- expressions) arrived within `window`. The records come from medicd's kmsg source
-- (/dev/kmsg, or kmsg = in medic.conf); a new record runs these checks at once.
-- Settings (see medic-checks(7)), e.g. in /etc/medic/kernel-log.conf:
--   io_error = { threshold = 5, window = "10m" }
--   mce = { enabled = false }
--   extra = { nfs = { patterns = { "nfs: server .* not responding" } } }

-- Built-in classes; the settings file may change any field of each.
local BUILTIN = {
  hung_task = {
    label = "hung tasks",
    patterns = {
      "task .+ blocked for more than [0-9]+ seconds",
      "soft lockup - CPU#[0-9]+ stuck",
      "hard LOCKUP",
      "rcu_(sched|preempt) (self-)?detected (stall|stalls)",
    },
    window = "1h", threshold = 1,
  },
  oom = {
    label = "OOM kills",
    patterns = { "[Oo]ut of memory: Kill(ed)? process" },
    window = "1h", threshold = 1,
  },
  io_error = {
    label = "I/O errors",
    patterns = {
      "I/O error, dev [^ ,]+, sector",
      "Buffer I/O error on dev",
      "critical medium error",
      "Sense Key : Medium Error",
      "nvme[0-9]+: (I/O|IO) [0-9]+ .*(timeout|error)",
    },
    window = "10m", threshold = 1,
  },
  fs_error = {
    label = "file system errors",
    patterns = {
      "EXT[234]-fs error",
      "XFS \\([^)]+\\): (Corruption|metadata I/O error|.*Filesystem has been shut down)",
      "BTRFS (error|critical)",
      "Remounting filesystem read-only",
    },
    window = "1h", threshold = 1,
  },
  mce = {
    label = "machine check errors",
    patterns = {
      "\\[Hardware Error\\]",
      "Machine check events logged",
      "EDAC MC[0-9]+: [0-9]+ UE ",
    },
    window = "1h", threshold = 1,
  },
}

-- Settings: /etc/medic/kernel-log.conf (optional; the directory is settings_dir in
-- medic.conf), Lua assignments read on every run; every and extra only when the file loads.
local DEFAULTS = {
  every = "1m",          -- re-evaluate (windows slide) even without new messages
  kernel_only = true,    -- ignore what user space wrote to /dev/kmsg (facility != 0)
  hung_task = {}, oom = {}, io_error = {}, fs_error = {}, mce = {},  -- fields override BUILTIN
  extra = {},            -- more classes: name = { patterns = {...}, window =, threshold =, label = }
}

-- The settings of every class, or nil, err.
local function settings()
  local good, s = pcall(medic.settings, "kernel-log", DEFAULTS)
  if not good then return nil, s end
  local classes = {}
  for key, base in pairs(BUILTIN) do
    local over = s[key]
    if type(over) ~= "table" then return nil, "kernel-log.conf: " .. key .. " must be a table" end
    local c = {}
    for k, v in pairs(base) do c[k] = v end
    for k, v in pairs(over) do c[k] = v end
    classes[(key:gsub("_", "-"))] = c
  end
  if type(s.extra) ~= "table" then return nil, "kernel-log.conf: extra must be a table" end
  for name, c in pairs(s.extra) do
    if type(name) ~= "string" or not name:match("^[%w._-]+$") or type(c) ~= "table" then
      return nil, "kernel-log.conf: extra: each class is name = { patterns = {...}, ... }"
    end
    classes[name] = c
  end
  for name, c in pairs(classes) do
    if type(c.patterns) ~= "table" or #c.patterns == 0 then
      return nil, "kernel-log.conf: " .. name .. ": patterns must be a non-empty list"
    end
    local good_w, w = pcall(medic.duration, c.window or "1h")
    if not good_w then return nil, "kernel-log.conf: " .. name .. ": " .. tostring(w) end
    c.window_s, c.window_text = w, tostring(c.window or "1h")
    c.threshold = math.tointeger(c.threshold or 1)
    if not c.threshold or c.threshold < 1 then
      return nil, "kernel-log.conf: " .. name .. ": threshold must be a positive integer"
    end
    c.max_priority = c.max_priority or 7
    c.label = c.label or name
  end
  return { every = s.every, kernel_only = s.kernel_only, classes = classes, extra = s.extra }
end

local AT_LOAD = settings() or { every = DEFAULTS.every, extra = {} }
local NAMES = { "hung-task", "oom", "io-error", "fs-error", "mce" }
for name in pairs(AT_LOAD.extra) do
  if not ({ ["hung-task"] = 1, oom = 1, ["io-error"] = 1, ["fs-error"] = 1, mce = 1 })[name] then
    NAMES[#NAMES + 1] = name
  end
end
table.sort(NAMES)
local HITS = {}   -- class -> seq -> { time, message, seq }: keyed by seq, so that two runs
                  -- reading the same record count it once
for _, n in ipairs(NAMES) do HITS[n] = {} end

local function matches(class, msg)
  for _, p in ipairs(class.patterns) do
    if medic.match(msg, p) then return true end
  end
  return false
end

local last_seq        -- newest record looked at by this file's checks
local busy_until = 0  -- another run of this file is reading (its checks share this state)

-- Reads the records that arrived since the last call and notes what matches, for all the
-- classes. Their checks run as coroutines of one Lua state and may be triggered together:
-- one reads, the others wait for it.
local function ingest(S)
  local patterns, owner = {}, {}
  for _, n in ipairs(NAMES) do
    local c = S.classes[n]
    for _, p in ipairs(c and c.patterns or {}) do
      patterns[#patterns + 1] = p
      owner[#patterns] = n
    end
  end
  for _ = 1, 250 do
    if medic.now() >= busy_until then break end
    medic.sleep(0.02)
  end
  busy_until = medic.now() + 10
  local good, recs, newest = pcall(medic.kmsg, last_seq, patterns)
  busy_until = 0
  if not good then return nil, recs end
  if not recs then return nil, "cannot read the kernel log: " .. newest end
  for _, r in ipairs(recs) do
    if not S.kernel_only or r.facility == 0 then
      -- the first pattern that matched names one class; others may match too
      for _, n in ipairs(NAMES) do
        local c = S.classes[n]
        if c and r.priority <= c.max_priority and (owner[r.pattern] == n or matches(c, r.message)) then
          HITS[n][r.seq] = { time = r.time, message = r.message, seq = r.seq }
        end
      end
    end
  end
  if newest and (not last_seq or newest > last_seq) then last_seq = newest end
  return true
end

local function evaluate(name)
  local S, serr = settings()
  if not S then return unknown(serr) end
  local c = S.classes[name]
  if not c then return skip("class " .. name .. " is no longer in kernel-log.conf") end
  if c.enabled == false then return skip("disabled in kernel-log.conf") end
  local good, err = ingest(S)
  if not good then return unknown(err) end
  local now, recent, hits = medic.now(), {}, HITS[name]
  for seq, h in pairs(hits) do
    if now - h.time > c.window_s then hits[seq] = nil else recent[#recent + 1] = h end
  end
  table.sort(recent, function(a, b) return a.seq < b.seq end)
  local details = { count = #recent, window = c.window_text, threshold = c.threshold, messages = {} }
  for i = math.max(1, #recent - 9), #recent do
    details.messages[#details.messages + 1] = { time = math.floor(recent[i].time), message = recent[i].message }
  end
  if #recent >= c.threshold then
    return problem(string.format("%d %s in the last %s: %s", #recent, c.label, c.window_text,
                                 recent[#recent].message), details)
  end
  return ok(string.format("%d %s in the last %s (threshold %d)", #recent, c.label, c.window_text,
                          c.threshold), details)
end

for _, name in ipairs(NAMES) do
  check ("kernel-" .. name) {
    every = AT_LOAD.every,
    timeout = "30s",
    events = { "kmsg" },
    run = function() return evaluate(name) end,
  }
end
