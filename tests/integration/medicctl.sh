#!/bin/bash
# SPDX-License-Identifier: MIT
# medicctl against a stopped and a running daemon: every command, human and --json,
# explain naming a blocker, run-check, and refusal of changes from non-root users.
. "$top_srcdir/tests/integration/lib.sh"
setup 60

# ---- the default socket: medicctl's is medicd's (one define, configure --with-socket) ----
want=$(sed -n 's/^#define DEFAULT_SOCKET "\(.*\)"$/\1/p' "$top_builddir/medic-build.h")
ok "medic-build.h defines DEFAULT_SOCKET" test -n "$want"
like "$("$MEDICCTL" --help 2>&1)" "  $want)" "medicctl's default socket is DEFAULT_SOCKET ($want)"
conf_socket=$(sed -n 's/^#* *socket *= *//p' "$top_srcdir/packaging/medic.conf" | head -1)
[ -z "$conf_socket" ] || is "$conf_socket" "$want" "the shipped medic.conf names the same socket"
case "$want" in */var/run/*) fail "the default socket is not under PREFIX/var/run: $want" ;; *) pass "the default socket is not under PREFIX/var/run ($want)" ;; esac

# ---- no daemon ----
out=$(ctl status 2>&1); rc=$?
is "$rc" 3 "no socket: medicctl status exits 3"
like "$out" '[Cc]annot connect' "no socket: says cannot connect"
out=$(ctl --json conditions 2>&1); rc=$?
is "$rc" 3 "no socket: medicctl --json conditions exits 3"

# A stale socket nobody listens on.
python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$T/medicd.sock"
out=$(ctl status 2>&1); rc=$?
is "$rc" 3 "stale socket: medicctl status exits 3"
like "$out" '[Cc]annot connect' "stale socket: says cannot connect"
rm -f "$T/medicd.sock"

# ---- a running daemon ----
echo problem > "$T/target-state"
write_file "$T/checks/10-alpha.lua" <<EOF
check "alpha" {
  every = "1h",
  run = function()
    local r = medic.exec { "/bin/sh", "-c", "echo x >> $T/alpha-runs; wc -l < $T/alpha-runs" }
    local n = tonumber(r.stdout:match("%d+"))
    return ok("run " .. tostring(n), { runs = n })
  end,
}
EOF
write_file "$T/checks/20-target.lua" <<EOF
check "target" {
  every = "1s",
  run = function()
    local s = medic.read("$T/target-state") or ""
    if s:match("problem") then return problem("target is broken") end
    return ok("target fine")
  end,
}
EOF
write_file "$T/checks/30-blocker.lua" <<'EOF'
check "blocker" {
  every = "1s",
  run = function() return problem("someone is logged in") end,
}
EOF
write_file "$T/rules/10-blocked.lua" <<EOF
-- blocked by 'blocker'
rule "blocked-rule" {
  when = "target",
  remedy = command { "/bin/sh", "-c", "echo fired >> $T/fired" },
  unless = { "blocker" },
  limit = "2/1h",
  retry = "10m",
}
EOF

start_medicd
ok "conditions settle (target and blocker problem)" \
        wait_for 5 '[ "$(cond_get target state)" = problem ] && [ "$(cond_get blocker state)" = problem ] && [ "$(cond_get alpha state)" = ok ]'

# status
out=$(ctl status 2>&1); rc=$?
is "$rc" 0 "status exits 0"
like "$out" "$MEDIC_NODE" "status (human) shows the node name"
js=$(ctl_json status)
is "$(printf '%s' "$js" | jget 'd["ok"]')" true "status --json: ok = true"
is "$(printf '%s' "$js" | jget 'd["node"]')" "$MEDIC_NODE" "status --json: node"
is "$(printf '%s' "$js" | jget 'd["group"]')" "$MEDIC_GROUP" "status --json: group"
is "$(printf '%s' "$js" | jget 'd["dry_run"]')" false "status --json: dry_run = false"
is "$(printf '%s' "$js" | jget 'd["pid"]')" "$MEDICD_PID" "status --json: pid"
is "$(printf '%s' "$js" | jget 'd["checks"]')" 3 "status --json: checks = 3"
is "$(printf '%s' "$js" | jget 'd["rules"]')" 1 "status --json: rules = 1"
is "$(printf '%s' "$js" | jget '[d["conditions"][k] for k in ("ok", "problem", "unknown", "flapping")]')" \
        "[1, 2, 0, 0]" "status --json: conditions ok=1 problem=2 unknown=0 flapping=0"
is "$(printf '%s' "$js" | jget 'd["coordinator"]["backend"]')" local "status --json: coordinator.backend = local"
# The node's own stop file, in status and coordinator status.
is "$(ctl_json status | jget 'd["stop_file"]["path"]')" "$T/stop" "status --json: stop_file.path"
is "$(ctl_json status | jget 'd["stop_file"]["present"]')" false "status --json: stop_file absent"
touch "$T/stop"
is "$(ctl_json status | jget 'd["stop_file"]["present"]')" true "status --json: stop_file present"
like "$(ctl status)" "stop file: *$T/stop \(present" "status (human): stop file present"
like "$(ctl coordinator status)" "stop file: $T/stop \(present" "coordinator status (human): stop file present"
is "$(ctl_json coordinator status | jget 'd["stop_file"]["present"]')" true "coordinator status --json: stop_file present"
rm -f "$T/stop"
like "$(ctl coordinator status)" "stop file: $T/stop \(absent\)" "coordinator status: stop file absent"
is "$(printf '%s' "$js" | jget 'sorted(k for k in ("version", "started", "parked", "last_reload") if k in d)')" \
        '["last_reload", "parked", "started", "version"]' "status --json: version, started, parked, last_reload present"
is "$(printf '%s' "$js" | jget 'abs(d["started"] - __import__("time").time()) < 60')" true "status --json: started is a recent epoch time"

# conditions
out=$(ctl conditions 2>&1); rc=$?
is "$rc" 0 "conditions exits 0"
like "$out" 'alpha' "conditions (human) lists alpha"
like "$out" 'target.*problem|problem.*target' "conditions (human) shows target in problem"
js=$(ctl_json conditions)
is "$(printf '%s' "$js" | jget '" ".join(sorted(c["name"] for c in d["conditions"]))')" "alpha blocker target" \
        "conditions --json: alpha, blocker, target"
is "$(printf '%s' "$js" | jget 'sorted(find(d["conditions"], "target").keys() & {"name", "state", "since", "message", "details", "flapping", "last_run", "duration_ms", "check_file"})')" \
        '["check_file", "details", "duration_ms", "flapping", "last_run", "message", "name", "since", "state"]' \
        "conditions --json: all documented fields present"
is "$(printf '%s' "$js" | jget 'find(d["conditions"], "target")["message"]')" "target is broken" "conditions --json: message"
like "$(printf '%s' "$js" | jget 'find(d["conditions"], "target")["check_file"]')" '20-target\.lua$' "conditions --json: check_file"
is "$(printf '%s' "$js" | jget 'find(d["conditions"], "alpha")["details"]["runs"]')" 1 "conditions --json: details as JSON (runs = 1)"

# rules
out=$(ctl rules 2>&1); rc=$?
is "$rc" 0 "rules exits 0"
like "$out" 'blocked-rule' "rules (human) lists blocked-rule"
js=$(ctl_json rules)
r='find(d["rules"], "blocked-rule")'
is "$(printf '%s' "$js" | jget "sorted($r.keys() & {'name', 'file', 'line', 'when', 'holds', 'remedy', 'disruptive', 'limit', 'used', 'escalate', 'unless', 'windows', 'last_fired', 'status'})")" \
        '["disruptive", "escalate", "file", "holds", "last_fired", "limit", "line", "name", "remedy", "status", "unless", "used", "when", "windows"]' \
        "rules --json: all documented fields present"
like "$(printf '%s' "$js" | jget "${r}['file']")" '10-blocked\.lua$' "rules --json: file"
is "$(printf '%s' "$js" | jget "${r}['line']")" 2 "rules --json: line of the declaration"
is "$(printf '%s' "$js" | jget "${r}['when']")" target "rules --json: when"
is "$(printf '%s' "$js" | jget "${r}['unless']")" '["blocker"]' "rules --json: unless"
is "$(printf '%s' "$js" | jget "${r}['disruptive']")" false "rules --json: disruptive = false"
is "$(printf '%s' "$js" | jget "${r}['used']")" 0 "rules --json: used = 0"

# explain: blocked by 'blocker'
out=$(ctl explain blocked-rule 2>&1); rc=$?
is "$rc" 0 "explain exits 0"
like "$out" 'blocker' "explain (human) names the blocker"
js=$(ctl_json explain blocked-rule)
is "$(printf '%s' "$js" | jget 'd["rule"]')" blocked-rule "explain --json: rule"
is "$(printf '%s' "$js" | jget 'd["would_fire"]')" false "explain --json: would_fire = false"
is "$(printf '%s' "$js" | jget 'find(d["steps"], "blockers", "step")["ok"]')" false "explain --json: blockers step not ok"
like "$(printf '%s' "$js" | jget 'find(d["steps"], "blockers", "step")["detail"]')" 'blocker' \
        "explain --json: blockers step names 'blocker'"
is "$(printf '%s' "$js" | jget 'find(d["steps"], "condition", "step")["ok"]')" true "explain --json: condition step ok"
is "$(printf '%s' "$js" | jget 'sorted(s["step"] for s in d["steps"])')" \
        '["blockers", "condition", "coordinator", "debounce", "dry_run", "flapping", "fresh", "limit", "retry", "running", "window"]' \
        "explain --json: all documented steps"
ok "the blocked rule did not fire" test ! -e "$T/fired"
out=$(ctl explain no-such-rule 2>&1); rc=$?
ok "explain of an unknown rule fails ($rc)" test "$rc" -ne 0 -a "$rc" -ne 3
like "$out" 'no-such-rule' "explain of an unknown rule names it"

# history
out=$(ctl history 2>&1); rc=$?
is "$rc" 0 "history exits 0"
like "$out" 'target' "history (human) mentions target"
js=$(ctl_json history)
is "$(printf '%s' "$js" | jget 'all({"time", "kind", "message"} <= h.keys() for h in d["history"]) and len(d["history"]) > 0')" \
        true "history --json: entries with time, kind, message"
is "$(printf '%s' "$js" | jget '[h["time"] for h in d["history"]] == sorted(h["time"] for h in d["history"])')" \
        true "history --json: newest last"

# run-check: a fresh run
before=$(date +%s)
js=$(ctl_json run-check alpha); rc=$?
is "$rc" 0 "run-check alpha exits 0"
is "$(printf '%s' "$js" | jget 'd["condition"]["name"]')" alpha "run-check --json: condition.name"
is "$(printf '%s' "$js" | jget 'd["condition"]["details"]["runs"]')" 2 "run-check --json: the condition of a fresh run (runs = 2)"
ok "run-check --json: last_run is fresh" test "$(printf '%s' "$js" | jget 'd["condition"]["last_run"]')" -ge "$before"
is "$(count_lines "$T/alpha-runs")" 2 "run-check ran the check exactly once more"
out=$(ctl run-check alpha 2>&1); rc=$?
is "$rc" 0 "run-check (human) exits 0"
like "$out" 'run 3' "run-check (human) shows the new message"
out=$(ctl run-check no-such-check 2>&1); rc=$?
ok "run-check of an unknown check fails ($rc)" test "$rc" -ne 0 -a "$rc" -ne 3

# unblocked: explain flips
# (blocker stays problem; make the target ok instead and check explain's condition step)
echo ok > "$T/target-state"
ok "target becomes ok" wait_cond target ok 5
js=$(ctl_json explain blocked-rule)
is "$(printf '%s' "$js" | jget 'find(d["steps"], "condition", "step")["ok"]')" false "explain: condition step not ok when target is ok"

# reload
mark=$(log_mark)
out=$(ctl reload 2>&1); rc=$?
is "$rc" 0 "reload exits 0"
ok "reload is logged (Reloaded)" log_has_since "$mark" '[Rr]eloaded'
is "$(ctl_json reload | jget 'd["ok"]')" true "reload --json: ok = true"

# ---- an unprivileged user ----
if command -v setpriv >/dev/null; then
        asuser() { timeout 10 setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
elif command -v runuser >/dev/null; then
        asuser() { timeout 10 runuser -u nobody -- "$@"; }
else
        asuser=""
fi
why=""
if ! type asuser >/dev/null 2>&1; then
        why="neither setpriv nor runuser"
elif ! id nobody >/dev/null 2>&1; then
        why="no user nobody"
elif ! asuser test -x "$MEDICCTL"; then
        why="user nobody cannot execute $MEDICCTL (build directory not readable)"
fi
if [ -n "$why" ]; then
        skip "unprivileged status works" "$why"
        skip "unprivileged reload refused" "$why"
        skip "unprivileged run-check refused" "$why"
else
        is "$(stat -c %a "$T/medicd.sock")" 666 "socket mode is 0666"
        out=$(asuser "$MEDICCTL" --socket "$T/medicd.sock" status 2>&1); rc=$?
        is "$rc" 0 "unprivileged: status works"
        js=$(asuser "$MEDICCTL" --socket "$T/medicd.sock" --json conditions 2>&1)
        like "$(printf '%s' "$js" | jget 'len(d["conditions"])')" '^3$' "unprivileged: conditions --json works"
        mark=$(log_mark)
        out=$(asuser "$MEDICCTL" --socket "$T/medicd.sock" reload 2>&1); rc=$?
        ok "unprivileged: reload refused (exit $rc)" test "$rc" -ne 0
        like "$out" '[Pp]ermission|[Dd]enied|root|[Nn]ot allowed|[Rr]efused' "unprivileged: reload says why ($out)"
        unlike "$(log_since "$mark")" '[Rr]eloaded' "unprivileged: no reload happened (nothing logged)"
        sleep 2.2   # a reload above reschedules every check within 1 s and one grid step (at most 1 s): let that run pass
        n=$(count_lines "$T/alpha-runs")
        out=$(asuser "$MEDICCTL" --socket "$T/medicd.sock" run-check alpha 2>&1); rc=$?
        ok "unprivileged: run-check refused (exit $rc)" test "$rc" -ne 0
        sleep 0.5
        is "$(count_lines "$T/alpha-runs")" "$n" "unprivileged: the check did not run"
        out=$(asuser "$MEDICCTL" --socket "$T/medicd.sock" --json run-check alpha 2>/dev/null)
        is "$(printf '%s' "$out" | jget 'd["ok"]')" false "unprivileged: --json run-check says ok = false"
fi

# ---- a malformed request straight on the socket ----
reply=$(timeout 5 python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"this is not json\n")
print(s.makefile().readline().strip())' "$T/medicd.sock" 2>&1)
is "$(printf '%s' "$reply" | jget 'd["ok"]')" false "malformed request: {\"ok\": false, ...}"
reply=$(timeout 5 python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"{\"command\": \"no-such-command\"}\n")
print(s.makefile().readline().strip())' "$T/medicd.sock" 2>&1)
is "$(printf '%s' "$reply" | jget 'd["ok"]')" false "unknown command: {\"ok\": false, ...}"
ok "daemon alive after bad requests" daemon_alive

stop_medicd
ok "medicd stops on SIGTERM within 5 s" test $? -eq 0
out=$(ctl status 2>&1); rc=$?
is "$rc" 3 "after stop: medicctl status exits 3"
like "$out" '[Cc]annot connect' "after stop: says cannot connect"

done_testing
