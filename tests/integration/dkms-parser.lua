-- SPDX-License-Identifier: MIT
-- Unit test of the dkms check's parser (dkms_parse_status) and evaluation (dkms_evaluate)
-- on recorded `dkms status` outputs of dkms 2.x, 3.0 and 3.1. Run by dkms.sh:
--   lua5.4 dkms-parser.lua CHECKS/dkms.lua DATADIR
-- Prints one line per assertion: "PASS description" or "FAIL description :: detail".
local check_file, data = arg[1], arg[2]

-- The globals a check file sees in medicd, reduced to what loading and parsing need.
local function vercmp(a, b)      -- strverscmp-like: digit runs compare as numbers
  local i, j = 1, 1
  while i <= #a and j <= #b do
    local da, db = a:match("^%d+", i), b:match("^%d+", j)
    if da and db then
      local na, nb = tonumber(da), tonumber(db)
      if na ~= nb then return na < nb and -1 or 1 end
      i, j = i + #da, j + #db
    else
      local ca, cb = a:sub(i, i), b:sub(j, j)
      if ca ~= cb then return ca < cb and -1 or 1 end
      i, j = i + 1, j + 1
    end
  end
  if #a - i == #b - j then return 0 end
  return (#a - i) < (#b - j) and -1 or 1
end
medic = { version_compare = vercmp, settings_dir = "/nonexistent" }
local declared = {}
check = function(name) return function(t) declared[name] = t end end
assert(loadfile(check_file))()

local function read(name)
  local f = assert(io.open(data .. "/" .. name, "r"))
  local s = f:read("a")
  f:close()
  return s
end

local function show(v)
  if type(v) ~= "table" then return string.format("%q", tostring(v)) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(x, y) return tostring(x) < tostring(y) end)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = tostring(k) .. "=" .. show(v[k]) end
  return "{" .. table.concat(parts, ",") .. "}"
end

local function is(got, want, desc)
  if show(got) == show(want) then print("PASS " .. desc)
  else print("FAIL " .. desc .. " :: got " .. show(got) .. " want " .. show(want)) end
end

is(declared.dkms ~= nil and declared.dkms.every, "10m", "checks/dkms.lua declares check 'dkms' every 10m")

local function names(missing)
  local t = {}
  for _, m in ipairs(missing) do t[#t + 1] = m.module .. "/" .. m.version .. " " .. m.state end
  return t
end

-- dkms 3.x: several kernels and architectures, added, built, installed, warnings, two versions.
local p = dkms_parse_status(read("dkms3-mixed.txt"))
is(#p.entries, 10, "3.x: ten status lines parsed")
is(#p.unparsed, 0, "3.x: nothing left unparsed")
is(p.entries[1], { module = "nvidia", version = "535.183.01", kernel = "6.1.0-25-amd64", arch = "x86_64",
                   state = "installed", warnings = {} }, "3.x: an installed line")
is(p.entries[3].warnings, { "WARNING! Diff between built and installed module!" }, "3.x: the diverging-module warning")
is(p.entries[6], { module = "v4l2loopback", version = "0.12.7", state = "added", warnings = {} },
   "3.x: an added line has no kernel")
is(p.entries[5].arch, "i686", "3.x: the architecture field")
local e = dkms_evaluate(p, "6.1.0-26-amd64", "x86_64")
is(names(e.missing), { "nvidia/535.183.01 built", "v4l2loopback/0.12.7 added",
                       "acpi_call/1.2.2 installed (WARNING! Missing some built modules!)" },
   "3.x: missing for the next kernel: built only, added only, installed with missing files")
is(e.installed, { "zfs/2.1.11", "r8168/8.052.01" }, "3.x: installed for the next kernel (one of two versions suffices)")
is(e.warnings, { "zfs/2.1.11: original_module exists" }, "3.x: warnings of installed modules are reported")
e = dkms_evaluate(p, "6.1.0-26-amd64", "i686")
is(names(e.missing), { "nvidia/535.183.01 not built for this kernel", "zfs/2.1.11 built",
                       "v4l2loopback/0.12.7 added", "r8168/8.052.01 not built for this kernel" },
   "3.x: another architecture is judged on its own lines")
e = dkms_evaluate(p, "6.1.0-25-amd64", "x86_64")
is(e.installed, { "nvidia/535.183.01", "zfs/2.1.11" }, "3.x: the older kernel has nvidia and zfs")
is(e.warnings, { "zfs/2.1.11: WARNING! Diff between built and installed module!" }, "3.x: a diverging module is a warning")

p = dkms_parse_status(read("dkms3-ok.txt"))
e = dkms_evaluate(p, "6.1.0-26-amd64", "x86_64")
is(#e.missing, 0, "3.x: all installed for the next kernel, with a warning: nothing missing")

-- dkms 3.1 words its warnings differently and knows 'broken'.
p = dkms_parse_status(read("dkms31-warnings.txt"))
is(#p.entries, 3, "3.1: three lines parsed")
is(p.entries[1].warnings, { "Original modules exist", "Differences between built and installed modules" },
   "3.1: two warnings on one line")
e = dkms_evaluate(p, "6.12.12-amd64", "x86_64")
is(names(e.missing), { "nvidia-current/535.216.03 installed (Built modules are missing in the kernel modules folder)",
                       "realtek-r8152/2.21.4 broken" }, "3.1: missing files and a broken module are missing")
is(e.installed, { "zfs/2.2.7" }, "3.1: a diverging module still counts as installed")

-- dkms 2.x: "module, version, kernel, arch: state".
p = dkms_parse_status(read("dkms2-ubuntu.txt"))
is(#p.entries, 5, "2.x: five lines parsed")
is(p.entries[5], { module = "wireguard", version = "1.0.20200520", state = "added", warnings = {} },
   "2.x: an added line")
is(p.entries[3].warnings, { "original_module exists" }, "2.x: a warning")
e = dkms_evaluate(p, "5.4.0-81-generic", "x86_64")
is(names(e.missing), { "virtualbox/6.1.16 built", "wireguard/1.0.20200520 added" }, "2.x: missing for the newer kernel")
is(e.installed, { "nvidia/470.57.02" }, "2.x: installed for the newer kernel")
e = dkms_evaluate(p, "5.4.0-80-generic", false)
is(e.installed, { "nvidia/470.57.02", "virtualbox/6.1.16" }, "2.x: without an architecture any arch counts")

p = dkms_parse_status(read("dkms2-weak.txt"))
is(p.entries[2].state, "installed-weak", "2.x: installed-weak")
is(p.entries[2].from, "3.10.0-123.el7.x86_64", "2.x: installed-weak names the kernel it was built for")
e = dkms_evaluate(p, "3.10.0-123.20.1.el7.x86_64", "x86_64")
is(#e.missing, 0, "2.x: a weak-installed module counts as installed")

p = dkms_parse_status(read("dkms3-noise.txt"))
is(#p.entries, 1, "error lines around a status line: the status line parsed")
is(p.unparsed, { "Error! Could not locate dkms.conf file.",
                 "File: /var/lib/dkms/ghost/1.0/source/dkms.conf does not exist." }, "error lines kept as unparsed")

p = dkms_parse_status(read("empty.txt"))
is(#p.entries + #p.unparsed, 0, "empty output: no entries")

p = dkms_parse_status(read("dkms3-ok.txt"))
e = dkms_evaluate(p, "6.1.0-26-amd64", "x86_64", true)
is(names(e.missing), { "zfs/2.1.11 installed (WARNING! Diff between built and installed module!)" },
   "strict: a diverging module counts as missing")
