#!/bin/bash
# SPDX-License-Identifier: MIT
# The Lua sandbox: dangerous libraries are absent, bytecode cannot be loaded, files have
# their own globals, and untrusted files (not root's, or group/world-writable) are refused.
. "$top_srcdir/tests/integration/lib.sh"
setup 60

write_file "$T/checks/10-sandbox.lua" <<'EOF'
-- Lists everything that must not be reachable from a check.
local function has(name)
  local okk, v = pcall(function() return _ENV[name] end)
  return okk and v ~= nil
end
local function field(tname, fname)
  local okk, v = pcall(function() local t = _ENV[tname]; return t and t[fname] end)
  return okk and v ~= nil
end

check "sandbox" {
  every = "1h",
  run = function()
    local found = {}
    local function add(s) found[#found + 1] = s end
    for _, g in ipairs { "io", "require", "debug", "package", "dofile", "loadfile",
                         "coroutine", "loadstring", "module" } do
      if has(g) then add(g) end
    end
    for _, f in ipairs { "execute", "remove", "rename", "exit", "tmpname", "setlocale" } do
      if field("os", f) then add("os." .. f) end
    end
    if field("io", "popen") then add("io.popen") end
    if field("string", "dump") then
      local okd, bc = pcall(string.dump, function() return 1 end)
      if okd and bc then
        -- load may return nil, err or raise an error; either way no function may come back
        local function loads(...)
          local okl, f = pcall(load, ...)
          return okl and type(f) == "function"
        end
        if loads(bc, "bc", "b") then add("load of bytecode (mode b)") end
        if loads(bc) then add("load of bytecode (default mode)") end
        if loads(bc, "bc", "bt") then add("load of bytecode (mode bt)") end
        local pieces = { bc }
        if loads(function() return table.remove(pieces, 1) end) then
          add("load of bytecode (reader function)")
        end
      end
    end
    -- a hand-made bytecode header must not load either
    local okh, f4 = pcall(load, "\27Lua\84\0\25\147\13\10\26\10", "hdr", "b")
    if okh and f4 then add("load of handmade bytecode") end
    -- a library reachable through the string metatable
    local mt = getmetatable("")
    if mt and type(mt.__index) == "table" and mt.__index ~= string then add("string metatable") end
    if #found > 0 then
      return problem("available: " .. table.concat(found, ", "), { found = found })
    end
    return ok("sandbox closed")
  end,
}
EOF

write_file "$T/checks/20-allowed.lua" <<'EOF'
-- What the design says is available must be there.
check "allowed" {
  every = "1h",
  run = function()
    local missing = {}
    local function need(cond, what) if not cond then missing[#missing + 1] = what end end
    need(type(string) == "table" and string.format("%d", 3) == "3", "string")
    need(type(table) == "table" and table.concat({ "a", "b" }) == "ab", "table")
    need(type(math) == "table" and math.floor(2.5) == 2, "math")
    need(type(utf8) == "table" and utf8.char(72) == "H", "utf8")
    need(type(os) == "table" and type(os.time) == "function", "os.time")
    need(type(os.date) == "function" and type(os.date("%Y")) == "string", "os.date")
    need(type(os.clock) == "function", "os.clock")
    need(type(os.difftime) == "function", "os.difftime")
    need(type(os.getenv) == "function", "os.getenv")
    need(type(pcall) == "function" and type(pairs) == "function", "base")
    local f = load("return 40 + 2")
    need(f and f() == 42, "load of text")
    need(type(medic) == "table" and type(medic.exec) == "function", "medic.exec")
    need(medic.node ~= nil, "medic.node")
    -- globals of this file
    leaked_global = "from-allowed"
    if #missing > 0 then
      return problem("missing: " .. table.concat(missing, ", "))
    end
    return ok("all present")
  end,
}
EOF

write_file "$T/checks/30-globals.lua" <<'EOF'
-- Another file's globals must not be visible here.
file_marker = "globals"
check "globals" {
  every = "1h",
  run = function()
    medic.sleep("2s")   -- let 20-allowed run first
    if leaked_global ~= nil then
      return problem("saw another file's global: " .. tostring(leaked_global))
    end
    return ok("own globals")
  end,
}
EOF

start_medicd

ok "sandbox check ran" wait_for 5 '[ "$(cond_get sandbox state)" != null ]'
msg=$(cond_get sandbox message)
diag "sandbox: $(cond_get sandbox state): $msg"
is "$(cond_get sandbox state)" ok "sandbox: nothing dangerous is reachable"
ok "allowed check ran" wait_for 5 '[ "$(cond_get allowed state)" != null ]'
diag "allowed: $(cond_get allowed state): $(cond_get allowed message)"
is "$(cond_get allowed state)" ok "allowed: the documented libraries are present"
ok "globals check ran" wait_for 6 '[ "$(cond_get globals state)" != null ]'
diag "globals: $(cond_get globals state): $(cond_get globals message)"
is "$(cond_get globals state)" ok "globals: files do not share globals"
stop_medicd

# ---- untrusted files next to the trusted ones ----
write_file "$T/checks/40-nobody.lua" <<'EOF'
check "owned-by-nobody" { every = "1h", run = function() return ok() end }
EOF
chown nobody "$T/checks/40-nobody.lua"
write_file "$T/checks/50-writable.lua" <<'EOF'
check "group-writable" { every = "1h", run = function() return ok() end }
EOF
chmod 0664 "$T/checks/50-writable.lua"
write_file "$T/checks/55-world.lua" <<'EOF'
check "world-writable" { every = "1h", run = function() return ok() end }
EOF
chmod 0646 "$T/checks/55-world.lua"

# All or nothing: a refused file makes the whole set invalid, because a rule whose blocker
# check was refused would otherwise run without its blocker.
mark=$(log_mark)
if try_start_medicd 2>/dev/null; then
        fail "medicd refuses to start with untrusted files present"
        stop_medicd
else
        pass "medicd refuses to start with untrusted files present"
fi
log=$(log_since "$mark")
like "$log" "40-nobody\.lua.*(owned by uid 65534|uid 65534).*root" \
        "file owned by nobody refused with a clear log message"
like "$log" "50-writable\.lua.*writable by group or others.*0?664" \
        "group-writable file refused with a clear log message"
like "$log" "55-world\.lua.*writable by group or others.*0?646" \
        "world-writable file refused with a clear log message"

# A running daemon that is asked to reload a set with an untrusted file keeps its old set.
mv "$T/checks/40-nobody.lua" "$T/40-nobody.lua.off"
mv "$T/checks/50-writable.lua" "$T/50-writable.lua.off"
mv "$T/checks/55-world.lua" "$T/55-world.lua.off"
start_medicd
ok "the trusted checks load and run" wait_cond sandbox ok 5
mv "$T/50-writable.lua.off" "$T/checks/50-writable.lua"
mark=$(log_mark)
kill -HUP "$MEDICD_PID"
ok "reload with a group-writable file is refused" wait_for 5 'log_has_since "$mark" "50-writable\.lua.*writable by group or others"'
ok "medicd keeps running after the refused reload" daemon_alive
is "$(cond_get group-writable state)" null "no condition from the group-writable file"
is "$(ctl_json status | jget 'd["checks"]')" 3 "status: still the 3 trusted checks"
stop_medicd
rm -f "$T/checks/50-writable.lua" "$T/"*.off

# ---- a group-writable directory (its files could be swapped) ----
mkdir -p "$T/checks2"
write_file "$T/checks2/10-dir.lua" <<'EOF'
check "in-writable-dir" { every = "1h", run = function() return ok() end }
EOF
chmod 0775 "$T/checks2"
sed -i "s|^checks = .*|checks = $T/checks $T/checks2|" "$T/medic.conf"
out=$(timeout 20 "$MEDICD" --config "$T/medic.conf" --check-config 2>&1)
like "$out" "(10-dir\.lua|checks2).*writable by group or others.*0?775" \
        "--check-config: file in a group-writable directory refused with a clear message"
mark=$(log_mark)
if try_start_medicd 2>/dev/null; then
        fail "medicd refuses to start with a file in a group-writable directory"
        stop_medicd
else
        pass "medicd refuses to start with a file in a group-writable directory"
fi
ok "the log says why the file in the writable directory was refused" \
        log_has_since "$mark" "(10-dir\.lua|checks2).*writable by group or others.*0?775"

done_testing
