# SPDX-License-Identifier: MIT
# Helpers for medic's integration tests. Source it from a test script:
#
#   . "$top_srcdir/tests/integration/lib.sh"
#   setup                      # fresh $T with medic.conf, checks/, rules/, state/
#   write_file "$T/checks/x.lua" <<EOF ... EOF
#   start_medicd
#   ok "condition x is ok" test "$(cond_get x state)" = ok
#   done_testing
#
# Output is TAP (read by automake's tap-driver). The plan is printed at the end by
# done_testing unless plan N was called first. Everything the test started (medicd, helper
# processes, processes whose pids were recorded with track_pidfile) is killed on exit and $T
# is removed (set MEDIC_TEST_KEEP=1 to keep it).

set -u
umask 022

: "${top_srcdir:?top_srcdir must be set}"
: "${top_builddir:?top_builddir must be set}"
MEDICD="${MEDICD_UNDER_TEST:-$top_builddir/medicd}"
MEDICCTL="$top_builddir/medicctl"
EXEC_PROBE="$top_builddir/tests/helpers/exec-probe"
unset JOURNAL_STREAM             # medicd must log to stderr, not to the journal
# Never the host's system bus: a reboot remedy's "systemd" method must not reach a real logind.
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/medic-test-no-bus
export LC_ALL=C

T=""
MEDICD_PID=""
# MEDICD_WRAPPER="valgrind --error-exitcode=99 ..." starts medicd under that command (.ci/run's
# valgrind pass): each run's report goes to $T/wrapper.PID.log and done_testing adds one test
# point saying it is clean. Such a medicd starts and stops slower: waits are 6 times longer.
_slow=1
[ -n "${MEDICD_WRAPPER:-}" ] && _slow=6
MEDIC_NODE="testnode-$$"
MEDIC_GROUP="testgroup"
TEST_PIDS=()                     # extra processes the test started (killed on exit)
TRACKED_PIDFILES=()              # files holding pids of processes started indirectly
_tap_n=0
_tap_fail=0
_tap_skip=0
_tap_planned=""
_watchdog_pid=""

# ---- TAP ------------------------------------------------------------------------------------

plan() {
        _tap_planned=$1
        echo "1..$1"
}

diag() {
        local line
        printf '%s\n' "$@" | while IFS= read -r line; do printf '# %s\n' "$line"; done
}

pass() {
        _tap_n=$((_tap_n + 1))
        echo "ok $_tap_n - $1"
}

fail() {
        _tap_n=$((_tap_n + 1))
        _tap_fail=$((_tap_fail + 1))
        echo "not ok $_tap_n - $1"
        shift
        [ $# -gt 0 ] && diag "$@"
        return 0
}

skip() {
        _tap_n=$((_tap_n + 1))
        _tap_skip=$((_tap_skip + 1))
        echo "ok $_tap_n - $1 # SKIP ${2:-}"
}

# ok DESC COMMAND... : passes when the command succeeds.
ok() {
        local desc=$1
        shift
        if "$@"; then pass "$desc"; else fail "$desc" "command failed: $*"; fi
}

# is GOT EXPECTED DESC
is() {
        if [ "$1" = "$2" ]; then pass "$3"; else fail "$3" "got:      '$1'" "expected: '$2'"; fi
}

# like TEXT ERE DESC : passes when TEXT matches the extended regex.
like() {
        if printf '%s\n' "$1" | grep -Eq -- "$2"; then
                pass "$3"
        else
                fail "$3" "pattern: $2" "text:" "$(printf '%s\n' "$1" | head -n 30)"
        fi
}

# unlike TEXT ERE DESC
unlike() {
        if printf '%s\n' "$1" | grep -Eq -- "$2"; then
                fail "$3" "pattern (unexpected): $2" "text:" "$(printf '%s\n' "$1" | head -n 30)"
        else
                pass "$3"
        fi
}

bail_out() {
        echo "Bail out! $*"
        exit 1
}

# The wrapper's reports (valgrind: an "ERROR SUMMARY" line of each medicd that exited; definite
# leaks count as errors with --errors-for-leak-kinds=definite).
_wrapper_verdict() {
        local f bad="" n=0
        [ -n "${MEDICD_WRAPPER:-}" ] && [ -n "$T" ] || return 0
        stop_medicd
        for f in "$T"/wrapper.*.log; do
                [ -f "$f" ] || continue
                grep -q 'ERROR SUMMARY:' "$f" || continue   # killed on purpose: no verdict
                n=$((n + 1))
                grep -q 'ERROR SUMMARY: 0 errors' "$f" || bad="$bad $f"
        done
        if [ -n "$bad" ]; then
                fail "medicd under '$MEDICD_WRAPPER': no errors, no definite leaks ($n runs)" \
                        "$(grep -hE "ERROR SUMMARY|Invalid|uninitialised|definitely|  (at|by) 0x" $bad | head -n 60)"
        elif [ "$n" -eq 0 ]; then
                skip "medicd under '$MEDICD_WRAPPER': no errors, no definite leaks" "no run of medicd ended normally"
        else
                pass "medicd under '$MEDICD_WRAPPER': no errors, no definite leaks ($n runs)"
        fi
}

done_testing() {
        _wrapper_verdict
        [ -z "$_tap_planned" ] && echo "1..$_tap_n"
        diag "$((_tap_n - _tap_fail - _tap_skip)) passed, $_tap_fail failed, $_tap_skip skipped"
        if [ "$_tap_fail" -gt 0 ] && [ -n "$T" ] && [ -f "$T/medicd.log" ]; then
                diag "--- last lines of medicd.log ---"
                tail -n 40 "$T/medicd.log" | sed 's/^/# /'
        fi
        [ "$_tap_fail" -eq 0 ]
        exit $?
}

# ---- environment ----------------------------------------------------------------------------

_cleanup() {
        local rc=$? p f
        trap - EXIT INT TERM
        if [ -n "$MEDICD_PID" ]; then
                kill -TERM "$MEDICD_PID" 2>/dev/null
                for _ in $(seq $((50 * _slow))); do kill -0 "$MEDICD_PID" 2>/dev/null || break; sleep 0.1; done
                kill -KILL "$MEDICD_PID" 2>/dev/null
                wait "$MEDICD_PID" 2>/dev/null
        fi
        for p in "${TEST_PIDS[@]}"; do
                kill -KILL "$p" 2>/dev/null
                wait "$p" 2>/dev/null
        done
        for f in "${TRACKED_PIDFILES[@]}"; do
                [ -s "$f" ] || continue
                for p in $(cat "$f"); do
                        case $p in ''|*[!0-9]*) continue ;; esac
                        kill -KILL "$p" 2>/dev/null
                done
        done
        if [ -n "$_watchdog_pid" ]; then
                kill "$_watchdog_pid" 2>/dev/null
                wait "$_watchdog_pid" 2>/dev/null
        fi
        if [ -n "$T" ] && [ -d "$T" ]; then
                if [ "${MEDIC_TEST_KEEP:-0}" = 1 ]; then
                        echo "# kept $T" >&2
                else
                        rm -rf "$T"
                fi
        fi
        exit $rc
}

# setup [MAX_SECONDS]: a fresh temp dir $T with medic.conf, checks/, rules/ and state/, and a
# watchdog that ends the test after MAX_SECONDS (default 120).
setup() {
        local max=${1:-120}
        [ -x "$MEDICD" ] || { echo "1..0 # SKIP $MEDICD not built"; exit 0; }
        [ -x "$MEDICCTL" ] || { echo "1..0 # SKIP $MEDICCTL not built"; exit 0; }
        command -v python3 >/dev/null || { echo "1..0 # SKIP python3 not available"; exit 0; }
        if [ "$(id -u)" != 0 ]; then
                echo "1..0 # SKIP must run as root (Lua files must be owned by root)"
                exit 0
        fi
        T=$(mktemp -d /tmp/medic-test.XXXXXX) || bail_out "mktemp failed"
        chmod 0755 "$T"             # lets an unprivileged user reach the socket
        trap _cleanup EXIT
        trap 'echo "Bail out! interrupted"; exit 1' INT
        trap 'echo "Bail out! test took longer than its limit"; exit 1' TERM
        mkdir -p "$T/checks" "$T/rules" "$T/state"
        write_config
        (
                trap 'kill "$sp" 2>/dev/null; exit 0' TERM
                sleep "$max" &
                sp=$!
                wait "$sp" && kill -TERM $$
        ) &
        _watchdog_pid=$!
}

# write_config [EXTRA_LINES_FOR_[medic]]: (re)writes $T/medic.conf.
write_config() {
        {
                echo "[medic]"
                echo "node = $MEDIC_NODE"
                echo "group = $MEDIC_GROUP"
                echo "checks = $T/checks"
                echo "rules = $T/rules"
                echo "state_dir = $T/state"
                echo "socket = $T/medicd.sock"
                echo "stop_file = $T/stop"
                echo "dry_run = no"
                echo "log_level = debug"
                [ $# -gt 0 ] && printf '%s\n' "$@"
                echo ""
                echo "[reboot]"
                echo "# Test files, never the host's reboot devices."
                echo "sysrq_trigger = $T/sysrq-trigger"
                echo "sysrq_enable = $T/sysrq-enable"
                echo "watchdog_device = $T/watchdog"
                echo "boot_id_file = $T/boot_id"
                echo "pre_reboot_dir = $T/pre-reboot.d"
                echo "post_reboot_dir = $T/post-reboot.d"
                echo "abort_dir = $T/abort.d"
                echo ""
                echo "[coordinator]"
                echo "backend = local"
        } > "$T/medic.conf"
}

# reboot_test_files [SYSRQ_SWITCH]: the files write_config's [reboot] section points at, for
# the host-side reboot tests: boot id 1111…, the sysrq switch (default 0), an empty sysrq
# trigger and watchdog, empty pre- and post-reboot task directories.
reboot_test_files() {
        echo 11111111-1111-1111-1111-111111111111 > "$T/boot_id"
        echo "${1:-0}" > "$T/sysrq-enable"
        : > "$T/sysrq-trigger"
        : > "$T/watchdog"
        mkdir -p "$T/pre-reboot.d" "$T/post-reboot.d" "$T/abort.d"
}

# reboot_rule_files [--health] [RETRY]: the check wants-reboot (a problem while $T/trigger
# exists), with --health also the health check disk-ok (a problem while $T/sick exists), and
# the rule reboot-for-updates (reboot {}, limit 5/1h, retry RETRY when given).
reboot_rule_files() {
        local retry="" health=no
        [ "${1:-}" = --health ] && { health=yes; shift; }
        {
                if [ $health = yes ]; then
                        cat <<EOF
check "disk-ok" { every = "1s", health = true, run = function()
  if medic.exists("$T/sick") then return problem("disk broken") end
  return ok("disk fine")
end }
EOF
                fi
                cat <<EOF
check "wants-reboot" { every = "1s", run = function()
  if medic.exists("$T/trigger") then return problem("updates installed") end
  return ok("nothing to do")
end }
EOF
        } | write_file "$T/checks/10-node.lua"
        [ -n "${1:-}" ] && retry=", retry = \"$1\""
        echo "rule \"reboot-for-updates\" { when = \"wants-reboot\", remedy = reboot {}, limit = \"5/1h\"$retry }" |
                write_file "$T/rules/10-reboot.lua"
}

# reboot_request_check [EVERY] FILE...: the shipped reboot-request check in $T/checks (run
# every EVERY when given, e.g. 1s; the shipped interval is 1m), reading the flag files FILE...
# (its settings in $T/etc, settings_dir in medic.conf).
reboot_request_check() {
        local every="" f list=""
        case ${1:-} in [0-9]*) every=$1; shift ;; esac
        for f in "$@"; do list="$list${list:+, }\"$f\""; done
        echo "files = { $list }" | write_file "$T/etc/reboot-request.conf"
        sed -i "/^\[medic\]/a settings_dir = $T/etc" "$T/medic.conf"
        if [ -n "$every" ]; then
                sed "s/every = \"1m\"/every = \"$every\"/" "$top_srcdir/checks/reboot-request.lua"
        else
                cat "$top_srcdir/checks/reboot-request.lua"
        fi | write_file "$T/checks/reboot-request.lua"
}

# write_file PATH: writes stdin to PATH (mode 0644, owned by root since we run as root).
write_file() {
        mkdir -p "$(dirname "$1")"
        cat > "$1.tmp.$$" && chmod 0644 "$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"
}

track_pid() { TEST_PIDS+=("$@"); }
track_pidfile() { TRACKED_PIDFILES+=("$@"); }

# ---- the daemon -----------------------------------------------------------------------------

daemon_alive() {
        [ -n "$MEDICD_PID" ] && kill -0 "$MEDICD_PID" 2>/dev/null
}

# try_start_medicd [ARGS...]: starts medicd in the background; waits up to 10 s for the socket
# to answer. Returns 1 (with the log tail as TAP comments) when it died or did not come up.
# Extra environment for the daemon: MEDICD_ENV="K=V ...".
try_start_medicd() {
        local i
        echo "=== test: starting medicd $* ($(date +%T.%N)) ===" >> "$T/medicd.log"
        if [ -n "${MEDICD_WRAPPER:-}" ]; then
                # shellcheck disable=SC2086
                env ${MEDICD_ENV:-} $MEDICD_WRAPPER --log-file="$T/wrapper.%p.log" "$MEDICD" --config "$T/medic.conf" "$@" \
                        >> "$T/medicd.log" 2>&1 &
        else
                # shellcheck disable=SC2086
                env ${MEDICD_ENV:-} "$MEDICD" --config "$T/medic.conf" "$@" >> "$T/medicd.log" 2>&1 &
        fi
        MEDICD_PID=$!
        for i in $(seq $((100 * _slow))); do
                if ! daemon_alive; then
                        wait "$MEDICD_PID" 2>/dev/null
                        diag "medicd exited (status $?) while starting; log tail:"
                        tail -n 30 "$T/medicd.log" | sed 's/^/# /'
                        MEDICD_PID=""
                        return 1
                fi
                if [ -S "$T/medicd.sock" ] && ctl status >/dev/null 2>&1; then
                        return 0
                fi
                sleep 0.1
        done
        diag "medicd did not answer on $T/medicd.sock within 10 s; log tail:"
        tail -n 30 "$T/medicd.log" | sed 's/^/# /'
        return 1
}

# start_medicd [ARGS...]: like try_start_medicd, but the test bails out when it fails.
start_medicd() {
        try_start_medicd "$@" || bail_out "medicd did not start"
}

# stop_medicd [SIGNAL]: sends SIGTERM (or SIGNAL) and waits up to 5 s; then SIGKILL.
# Returns 0 when it exited within 5 s, 1 when it had to be killed.
stop_medicd() {
        local sig=${1:-TERM} i rc=1
        [ -n "$MEDICD_PID" ] || return 0
        kill -"$sig" "$MEDICD_PID" 2>/dev/null
        for i in $(seq $((50 * _slow))); do
                if ! daemon_alive; then rc=0; break; fi
                sleep 0.1
        done
        if [ $rc -ne 0 ]; then
                kill -KILL "$MEDICD_PID" 2>/dev/null
        fi
        wait "$MEDICD_PID" 2>/dev/null
        MEDICD_PID=""
        return $rc
}

# kill_medicd: SIGKILL, no grace (a crash).
kill_medicd() {
        [ -n "$MEDICD_PID" ] || return 0
        kill -KILL "$MEDICD_PID" 2>/dev/null
        wait "$MEDICD_PID" 2>/dev/null
        MEDICD_PID=""
}

# medicd's log: log_mark prints the current size; log_since MARK prints what came after.
log_mark() { stat -c %s "$T/medicd.log" 2>/dev/null || echo 0; }
log_since() { tail -c +"$(( $1 + 1 ))" "$T/medicd.log" 2>/dev/null; }
log_has() { grep -Eq -- "$1" "$T/medicd.log"; }             # log_has ERE
log_has_since() { log_since "$1" | grep -Eq -- "$2"; }     # log_has_since MARK ERE

# notify_to_file: $T/notify, a notify_command that appends "EVENT RULE" to $T/notified, set
# in the [reboot] section of $T/medic.conf.
notify_to_file() {
        cat > "$T/notify" <<EOF
#!/bin/sh
echo "\$1 \$MEDIC_RULE" >> $T/notified
EOF
        chmod 0755 "$T/notify"
        reboot_settings "notify_command = $T/notify"
}

# ---- medicctl -------------------------------------------------------------------------------

ctl() {
        timeout 10 "$MEDICCTL" --socket "$T/medicd.sock" "$@"
}

ctl_json() {
        timeout 10 "$MEDICCTL" --socket "$T/medicd.sock" --json "$@"
}

# jget EXPR: reads JSON on stdin, evaluates the Python expression EXPR with the document
# bound to d, prints the value (strings raw, null/true/false, containers as JSON).
# find(list, value, key="name") returns the first element whose key equals value (or None).
# Prints nothing and returns 1 when the input is not JSON or EXPR fails.
jget() {
        python3 -c '
import json, sys
def find(lst, value, key="name"):
    for x in lst or []:
        if isinstance(x, dict) and x.get(key) == value:
            return x
    return None
try:
    d = json.load(sys.stdin)
    v = eval(sys.argv[1])
except Exception as e:
    sys.stderr.write("jget: %s: %r\n" % (sys.argv[1], e))
    sys.exit(1)
if v is None:
    print("null")
elif isinstance(v, bool):
    print("true" if v else "false")
elif isinstance(v, (dict, list)):
    print(json.dumps(v, sort_keys=True))
else:
    print(v)
' "$1"
}

# cond_get NAME EXPR: field(s) of condition NAME, EXPR evaluated with c bound to it,
# e.g. cond_get foo 'c["state"]'. A single word is taken as a key: cond_get foo state.
cond_get() {
        local e=$2
        case $e in *[!A-Za-z0-9_]*) ;; *) e="c[\"$e\"]" ;; esac
        ctl_json conditions 2>/dev/null | jget "(lambda c: None if c is None else $e)(find(d['conditions'], '$1'))"
}

# rule_get NAME EXPR: same for rules (r bound to the rule).
rule_get() {
        local e=$2
        case $e in *[!A-Za-z0-9_]*) ;; *) e="r[\"$e\"]" ;; esac
        ctl_json rules 2>/dev/null | jget "(lambda r: None if r is None else $e)(find(d['rules'], '$1'))"
}

# local_holder: the rule that holds the local coordinator's slot (coordinator.json), or null.
local_holder() { jget 'd.get("holder")' < "$T/state/coordinator.json" 2>/dev/null; }

# status_holder: medicctl status's coordinator holder (this node's rule that holds), or null.
status_holder() { ctl_json status | jget 'd["coordinator"]["holder"]'; }

# history_reasons RULE DECISION: the reasons of the history entries of RULE with DECISION,
# oldest first, one a line.
history_reasons() {
        ctl_json history --limit 500 | jget '"\n".join(e.get("reason") or e.get("message") or "" for e in d["history"]
                if e.get("rule") == "'"$1"'" and e.get("decision") == "'"$2"'")'
}

# ---- waiting --------------------------------------------------------------------------------

# wait_for TIMEOUT_SECONDS SHELL_CONDITION: polls every 0.1 s; returns 0 as soon as the
# condition holds, 1 after the timeout.
wait_for() {
        local timeout=$1 cond=$2 end
        end=$(( $(date +%s%N) + ${timeout%.*} * 1000000000 ))
        while :; do
                if eval "$cond"; then return 0; fi
                [ "$(date +%s%N)" -ge "$end" ] && return 1
                sleep 0.1
        done
}

# never_within SECONDS SHELL_CONDITION: true when the condition does not hold once within SECONDS.
never_within() { ! wait_for "$@"; }

# wait_cond NAME STATE [TIMEOUT]: waits until condition NAME is in STATE.
wait_cond() {
        wait_for "${3:-10}" "[ \"\$(cond_get '$1' state)\" = '$2' ]"
}

# count_lines FILE: number of lines (0 when missing).
count_lines() {
        if [ -f "$1" ]; then wc -l < "$1" | tr -d ' '; else echo 0; fi
}

# now_ms: milliseconds since the epoch.
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# free_port: a TCP port on 127.0.0.1 that nothing listens on, for a server a test starts. Taken
# below the kernel's ephemeral range: a port from that range may become the source port of
# some outgoing connection (etcd clients make many) before the server binds it.
free_port() {
        python3 -c '
import random, socket
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(500):
    p = random.randint(20000, lo - 1) if lo > 21000 else 0
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        print(s.getsockname()[1])
        break
    except OSError:
        pass
    finally:
        s.close()
'
}

# test_pki DIR [SERVER_EKU]: test certificates made by openssl in DIR: a CA (ca.pem, ca.key),
# a server certificate for 127.0.0.1 signed by it (server.pem, server.key; extendedKeyUsage
# SERVER_EKU, default serverAuth), a client certificate (client.pem, client.key; CN
# medic-client) and an unrelated CA (other.pem). Bails out when openssl fails.
test_pki() {
        mkdir -p "$1"
        (
                cd "$1" || exit 1
                openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=medic-test-ca -keyout ca.key -out ca.pem &&
                openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca -keyout other.key -out other.pem &&
                openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr &&
                printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=%s\n' "${2:-serverAuth}" > server.ext &&
                openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.pem &&
                openssl req -newkey rsa:2048 -nodes -subj /CN=medic-client -keyout client.key -out client.csr &&
                printf 'extendedKeyUsage=clientAuth\n' > client.ext &&
                openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile client.ext -out client.pem
        ) > "$1/openssl.log" 2>&1 || bail_out "openssl could not make the test certificates: $(tail -n 3 "$1/openssl.log")"
}

# ---- reboot and metrics settings --------------------------------------------------------------

# reboot_settings LINE...: adds each LINE (key = value) to the [reboot] section of $T/medic.conf.
reboot_settings() {
        local l
        for l in "$@"; do sed -i "/^\[reboot\]/a $l" "$T/medic.conf"; done
}

# metrics_listen: appends a [metrics] section with a loopback listener on a free port to
# $T/medic.conf (call it after the other sections are complete); sets METRICS_URL.
metrics_listen() {
        local port
        port=$(free_port)
        METRICS_URL="http://127.0.0.1:$port/metrics"
        printf '\n[metrics]\nlisten = 127.0.0.1:%s\n' "$port" >> "$T/medic.conf"
}

# metric NAME: the value of the series NAME (without labels) from GET $METRICS_URL; prints
# nothing when the listener does not answer or the series is missing.
metric() {
        curl -sf --max-time 5 "$METRICS_URL" 2>/dev/null | awk -v n="$1" '$1 == n { print $2; exit }'
}
