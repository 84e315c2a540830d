#!/bin/bash
# SPDX-License-Identifier: MIT
# medic.exec from checks: output and status captured, clean environment, stdin, env, timeout,
# output cap, and a clear error for a missing program.
. "$top_srcdir/tests/integration/lib.sh"
setup 60

write_file "$T/checks/10-capture.lua" <<'EOF'
check "capture" {
  every = "1h",
  run = function()
    local r = medic.exec { "/bin/sh", "-c", "echo out; echo err >&2; exit 3" }
    local d = { status = r.status, signal = r.signal, stdout = r.stdout, stderr = r.stderr,
                timed_out = r.timed_out, duration = r.duration }
    if r.status == 3 and r.stdout == "out\n" and r.stderr == "err\n" and r.timed_out == false then
      return ok("captured", d)
    end
    return problem("unexpected result", d)
  end,
}
EOF

write_file "$T/checks/20-env.lua" <<'EOF'
check "env" {
  every = "1h",
  run = function()
    local r = medic.exec { "env" }
    if r.status ~= 0 then return problem("env failed", { stderr = r.stderr }) end
    local d = { env = r.stdout }
    if r.stdout:find("MEDIC_TEST_SECRET", 1, true) then
      return problem("daemon environment leaked", d)
    end
    if not r.stdout:find("PATH=", 1, true) then
      return problem("no PATH", d)
    end
    return ok("clean", d)
  end,
}
EOF

write_file "$T/checks/30-io.lua" <<'EOF'
check "io" {
  every = "1h",
  run = function()
    local a = medic.exec { "cat", stdin = "hello from stdin" }
    local b = medic.exec { "/bin/sh", "-c", "printf %s \"$MY_VAR\"", env = { MY_VAR = "my value" } }
    local c = medic.exec { "/bin/sh", "-c", "head -c 200000 /dev/zero | tr '\\0' x", max_output = 1000 }
    local s = medic.exec { "/bin/sh", "-c", "kill -KILL $$" }
    local d = { stdin = a.stdout, env = b.stdout, cap = #c.stdout, cap_status = c.status,
                sig_status = s.status, sig = s.signal }
    if a.stdout == "hello from stdin" and b.stdout == "my value" and #c.stdout == 1000
       and s.signal == 9 and s.status == nil then
      return ok("stdin, env, max_output, signal work", d)
    end
    return problem("unexpected", d)
  end,
}
EOF

write_file "$T/checks/40-timeout.lua" <<'EOF'
check "exectimeout" {
  every = "1h",
  timeout = "20s",
  run = function()
    local r = medic.exec { "sleep", "30", timeout = "1s" }
    local d = { timed_out = r.timed_out, duration = r.duration, status = r.status, signal = r.signal }
    if r.timed_out == true and r.duration < 5 then
      return ok("timed out as asked", d)
    end
    return problem("unexpected", d)
  end,
}
EOF

write_file "$T/checks/50-missing.lua" <<'EOF'
check "missing" {
  every = "1h",
  run = function()
    local okk, r = pcall(medic.exec, { "/nonexistent/medic-no-such-program", "x" })
    if not okk then
      return ok("raised", { how = "error", error = tostring(r) })
    end
    return ok("returned", { how = "result", status = r.status, signal = r.signal,
                            stdout = r.stdout, stderr = r.stderr, error = r.error })
  end,
}
EOF

write_file "$T/checks/60-empty.lua" <<'EOF'
check "empty" {
  every = "1h",
  run = function()
    local okk, err = pcall(medic.exec, {})
    if okk then return problem("empty argv accepted") end
    return ok("refused", { error = tostring(err) })
  end,
}
EOF

write_file "$T/checks/70-outside.lua" <<'EOF2'
-- medic.exec at load time (outside a running check or call remedy) must raise.
local outside_ok, outside_err = pcall(medic.exec, { "/bin/true" })
check "outside" {
  every = "1h",
  run = function()
    if outside_ok then return problem("medic.exec worked at load time") end
    return ok("raised at load time", { error = tostring(outside_err) })
  end,
}
EOF2

write_file "$T/checks/80-command.lua" <<'EOF'
command_check "cmd-true" { "/bin/true", every = "1h" }
command_check "cmd-fail" { "/bin/sh", "-c", "echo out; echo broken >&2; exit 3", every = "1h" }
command_check "cmd-status" { "/bin/sh", "-c", "exit 2", every = "1h", ok_status = 2 }
command_check "cmd-missing" { "/nonexistent/program", every = "1h" }
EOF

MEDICD_ENV="MEDIC_TEST_SECRET=leak-me" start_medicd

ok "capture check ran" wait_for 5 '[ "$(cond_get capture state)" != null ]'
is "$(cond_get capture state)" ok "exec: status, stdout and stderr captured"
is "$(cond_get capture 'c["details"]["status"]')" 3 "details.status = 3"
is "$(cond_get capture 'c["details"]["stdout"]')" out "details.stdout = out"
is "$(cond_get capture 'c["details"]["stderr"]')" err "details.stderr = err"
is "$(cond_get capture 'c["details"]["timed_out"]')" false "details.timed_out = false"
like "$(cond_get capture 'c["details"]["duration"]')" '^[0-9.e-]+$' "details.duration is a number"

ok "env check ran" wait_for 5 '[ "$(cond_get env state)" != null ]'
is "$(cond_get env state)" ok "exec: the daemon's environment is not passed on"
env_out=$(cond_get env 'c["details"]["env"]')
unlike "$env_out" 'MEDIC_TEST_SECRET' "MEDIC_TEST_SECRET not in the command's environment"
like "$env_out" '^PATH=' "the command gets a PATH"
unlike "$env_out" '^(HOME|USER|LD_PRELOAD|JOURNAL_STREAM)=' "no HOME, USER, LD_PRELOAD from the daemon"
diag "command environment: $(printf '%s' "$env_out" | tr '\n' ' ')"

ok "io check ran" wait_for 5 '[ "$(cond_get io state)" != null ]'
is "$(cond_get io state)" ok "exec: stdin, env, max_output, signal"
diag "io details: $(cond_get io details)"

ok "exectimeout check ran" wait_for 8 '[ "$(cond_get exectimeout state)" != null ]'
is "$(cond_get exectimeout state)" ok "exec: timeout = 1s gives timed_out = true quickly"
diag "exectimeout details: $(cond_get exectimeout details)"

ok "missing check ran" wait_for 5 '[ "$(cond_get missing state)" != null ]'
missing=$(cond_get missing details)
diag "missing program: $missing"
like "$missing" '[Nn]o such file|not found|could not start|cannot execute|No such' \
        "exec of a missing program gives a clear error"
if [ "$(cond_get missing 'c["details"]["how"]')" = result ]; then
        ok "missing program: not reported as success" test "$(cond_get missing 'c["details"]["status"]')" != 0
else
        pass "missing program: raised an error"
fi

ok "empty check ran" wait_for 5 '[ "$(cond_get empty state)" != null ]'
is "$(cond_get empty state)" ok "exec with an empty argv raises an error"

ok "outside check ran" wait_for 5 '[ "$(cond_get outside state)" != null ]'
is "$(cond_get outside state)" ok "medic.exec outside a running check raises an error"
diag "outside: $(cond_get outside details)"
ok "daemon alive" daemon_alive

# command_check: the generic command check.
ok "command checks ran" wait_for 5 '[ "$(cond_get cmd-missing state)" != null ]'
is "$(cond_get cmd-true state)" ok "command_check: exit 0 is ok"
is "$(cond_get cmd-fail state)" problem "command_check: exit 3 is problem"
like "$(cond_get cmd-fail message)" 'status 3: broken' "command_check: the message has the status and stderr"
is "$(cond_get cmd-fail 'c["details"]["stdout"]')" "out" "command_check: details keep stdout"
is "$(cond_get cmd-status state)" ok "command_check: ok_status = 2 accepts exit 2"
is "$(cond_get cmd-missing state)" unknown "command_check: a missing program is unknown"

stop_medicd
ok "medicd stops on SIGTERM within 5 s" test $? -eq 0

done_testing
