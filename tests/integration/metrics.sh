#!/bin/bash
# SPDX-License-Identifier: MIT
# Prometheus metrics: medicd writes the textfile, Debian's real prometheus-node-exporter reads
# it with its textfile collector and serves medic's series; promtool validates the format; the
# loopback listener answers GET /metrics; non-loopback listen addresses are refused.
. "$top_srcdir/tests/integration/lib.sh"
setup 90

NODE_EXPORTER=$(command -v prometheus-node-exporter || command -v node_exporter || true)
PROMTOOL=$(command -v promtool || true)

# prom_value TEXT_FILE NAME [LABEL=VALUE ...]: prints the value of the one sample of NAME
# with (at least) these labels, "absent" when there is none, "ambiguous" when several match.
prom_value() {
        python3 - "$@" <<'EOF'
import re, sys
path, name, want = sys.argv[1], sys.argv[2], dict(a.split("=", 1) for a in sys.argv[3:])
line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$')
label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
found = []
for line in open(path, encoding="utf-8"):
    line = line.rstrip("\n")
    if not line or line.startswith("#"):
        continue
    m = line_re.match(line)
    if not m or m.group(1) != name:
        continue
    labels = dict(label_re.findall(m.group(2) or ""))
    if all(labels.get(k) == v for k, v in want.items()):
        found.append(m.group(3))
print(found[0] if len(found) == 1 else "absent" if not found else "ambiguous")
EOF
}

# http_get URL OUT_FILE: prints "STATUS CONTENT-TYPE"; the body goes to OUT_FILE.
http_get() {
        python3 - "$1" "$2" <<'EOF'
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen(sys.argv[1], timeout=5)
    code, ctype, body = r.status, r.headers.get("Content-Type", ""), r.read()
except urllib.error.HTTPError as e:
    code, ctype, body = e.code, e.headers.get("Content-Type", ""), e.read()
except Exception as e:
    code, ctype, body = 0, "", str(e).encode()
open(sys.argv[2], "wb").write(body)
print(code, ctype)
EOF
}

num_ge() { python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)' "$1" "$2" 2>/dev/null; }

# ---- configuration: only loopback listen addresses ----
for addr in 127.0.0.1:9101 '[::1]:9101' 127.0.0.53:1; do
        { cat "$T/medic.conf"; printf '[metrics]\nlisten = %s\n' "$addr"; } > "$T/ok.conf"
        out=$(timeout 20 "$MEDICD" --config "$T/ok.conf" --check-config 2>&1); rc=$?
        is "$rc" 0 "--check-config accepts listen = $addr"
done
for addr in 0.0.0.0:9101 '[::]:9101' 192.0.2.1:9101 '[2001:db8::1]:9101'; do
        { cat "$T/medic.conf"; printf '[metrics]\ntextfile = %s\nlisten = %s\n' "$T/x.prom" "$addr"; } > "$T/bad.conf"
        line=$(( $(wc -l < "$T/medic.conf") + 3 ))
        out=$(timeout 20 "$MEDICD" --config "$T/bad.conf" --check-config 2>&1); rc=$?
        is "$rc" 1 "--check-config refuses listen = $addr (exit 1)"
        like "$out" "^$T/bad.conf:$line: listen address '.*' is not a loopback address" \
                "listen = $addr reported as file:$line"
done
{ cat "$T/medic.conf"; printf '[metrics]\nlisten = localhost:9101\nlisten = 127.0.0.1:0\n'; } > "$T/bad.conf"
out=$(timeout 20 "$MEDICD" --config "$T/bad.conf" --check-config 2>&1)
like "$out" "invalid listen address 'localhost:9101'" "a host name is refused (literal addresses only)"
like "$out" "duplicate key 'listen'" "duplicate listen key reported"

# ---- a daemon with checks in every state and remedies that succeed and fail ----
echo problem > "$T/bad-state"
write_file "$T/checks/10-metrics.lua" <<EOF
check "good" { every = "1s", run = function() return ok("fine") end }
check "bad" {
  every = "1s",
  run = function()
    if (medic.read("$T/bad-state") or ""):match("problem") then return problem("says problem") end
    return ok("fine")
  end,
}
check "broken" { every = "1s", run = function() error("this check is broken") end }
check "skipper" { every = "1s", run = function() return skip("not on this node") end }
EOF
write_file "$T/rules/10-metrics.lua" <<EOF
rule "fix" { when = "bad", remedy = command { "/bin/true" }, limit = "1/1h" }
rule "fails" { when = "bad", remedy = command { "/bin/false" }, limit = "1/1h" }
EOF
PORT=$(free_port)
mkdir -p "$T/prom" "$T/prom2"
cat >> "$T/medic.conf" <<EOF

[metrics]
textfile = $T/prom/medic.prom
listen = 127.0.0.1:$PORT
EOF
start_medicd
PROM="$T/prom/medic.prom"

ok "textfile $PROM appears" wait_for 10 '[ -s "$PROM" ]'
ok "both remedies counted in the textfile" wait_for 10 \
        '[ "$(prom_value "$PROM" medic_remedies_total rule=fix result=done)" = 1 ] &&
         [ "$(prom_value "$PROM" medic_remedies_total rule=fails result=failed)" = 1 ]'
ok "the histogram of check 'good' counts at least 2 runs" wait_for 10 \
        'num_ge "$(prom_value "$PROM" medic_check_duration_seconds_count check=good)" 2'
cp "$PROM" "$T/snap.prom"
snap_time=$(date +%s)
S="$T/snap.prom"
is "$(stat -c %a "$PROM")" 644 "textfile is mode 0644 (readable by node_exporter's user)"
is "$(ls -A "$T/prom")" "medic.prom" "no temporary file left beside the textfile"

is "$(prom_value "$S" medic_condition_state condition=good state=ok)" 1 "good: state ok = 1"
is "$(prom_value "$S" medic_condition_state condition=good state=problem)" 0 "good: state problem = 0"
is "$(prom_value "$S" medic_condition_state condition=bad state=problem)" 1 "bad: state problem = 1"
is "$(prom_value "$S" medic_condition_state condition=broken state=unknown)" 1 "broken: state unknown = 1"
is "$(prom_value "$S" medic_condition_state condition=skipper state=ok)" absent "a skipped check has no condition series"
ok "broken: medic_check_failures_total >= 2" num_ge "$(prom_value "$S" medic_check_failures_total check=broken)" 2
is "$(prom_value "$S" medic_check_failures_total check=good)" 0 "good: no failures"
count=$(prom_value "$S" medic_check_duration_seconds_count check=good)
ok "good: duration histogram counted >= 2 runs ($count)" num_ge "$count" 2
is "$(prom_value "$S" medic_check_duration_seconds_bucket check=good le=+Inf)" "$count" "histogram: +Inf bucket = _count"
ok "histogram: runs of a trivial Lua check are within the 1 s bucket" \
        test "$(prom_value "$S" medic_check_duration_seconds_bucket check=good le=1)" = "$count"
ls_good=$(prom_value "$S" medic_check_last_success_timestamp_seconds check=good)
ok "good: last success at most 5 s before the snapshot ($ls_good, snapshot $snap_time)" \
        num_ge "$ls_good" $((snap_time - 5))
is "$(prom_value "$S" medic_check_last_success_timestamp_seconds check=broken)" 0 "broken: never succeeded (0)"
is "$(prom_value "$S" medic_remedies_total rule=fix result=failed)" 0 "fix: failed = 0 (series exists at zero)"
is "$(prom_value "$S" medic_rule_attempts rule=fix)" 1 "fix: 1 attempt in this episode"
is "$(prom_value "$S" medic_coordinator_holding)" 0 "coordinator: not holding"
is "$(prom_value "$S" medic_coordinator_waiting)" 0 "coordinator: nobody waiting"
is "$(prom_value "$S" medic_coordinator_stop scope=local)" 0 "coordinator: local stop switch off"
is "$(prom_value "$S" medic_coordinator_info backend=local)" 1 "coordinator: backend local"
is "$(prom_value "$S" medic_parked)" 0 "medic_parked 0 (not parked)"
is "$(prom_value "$S" medic_dry_run)" 0 "medic_dry_run 0"
is "$(prom_value "$S" medic_info node="$MEDIC_NODE" group="$MEDIC_GROUP")" 1 "medic_info carries node and group"

if [ -n "$PROMTOOL" ]; then
        out=$("$PROMTOOL" check metrics < "$S" 2>&1); rc=$?
        is "$rc" 0 "promtool check metrics: textfile is valid"
        is "$out" "" "promtool check metrics: no lint complaints"
else
        skip "promtool check metrics: textfile is valid" "promtool not installed (Debian package prometheus)"
        skip "promtool check metrics: no lint complaints" "promtool not installed"
fi

# ---- the textfile follows changes within about a second ----
touch "$T/stop"
ok "stop file: medic_coordinator_stop{scope=local} becomes 1 in the textfile" \
        wait_for 5 '[ "$(prom_value "$PROM" medic_coordinator_stop scope=local)" = 1 ]'
rm -f "$T/stop"
echo ok > "$T/bad-state"
ok "bad turns ok in the textfile" wait_for 5 '[ "$(prom_value "$PROM" medic_condition_state condition=bad state=ok)" = 1 ]'
ok "episode over: fix attempts back to 0" wait_for 5 '[ "$(prom_value "$PROM" medic_rule_attempts rule=fix)" = 0 ]'

# ---- node_exporter's textfile collector ----
if [ -z "$NODE_EXPORTER" ]; then
        for d in "node_exporter serves /metrics" "node_exporter read the textfile without error" \
                 "node_exporter serves medic_condition_state" "node_exporter serves medic_remedies_total" \
                 "node_exporter serves the check duration histogram" "node_exporter serves medic_parked"; do
                skip "$d" "prometheus-node-exporter not installed"
        done
else
        NE_PORT=$(free_port)
        "$NODE_EXPORTER" --web.listen-address="127.0.0.1:$NE_PORT" --collector.disable-defaults \
                --collector.textfile --collector.textfile.directory="$T/prom" > "$T/node_exporter.log" 2>&1 &
        track_pid $!
        wait_for 10 '[ "$(http_get "http://127.0.0.1:$NE_PORT/metrics" "$T/ne.txt" | cut -d" " -f1)" = 200 ]'
        ok "node_exporter serves /metrics" grep -q '^node_textfile_scrape_error' "$T/ne.txt"
        is "$(prom_value "$T/ne.txt" node_textfile_scrape_error)" 0 "node_exporter read the textfile without error"
        is "$(prom_value "$T/ne.txt" medic_condition_state condition=good state=ok)" 1 \
                "node_exporter serves medic_condition_state{condition=good,state=ok} 1"
        is "$(prom_value "$T/ne.txt" medic_remedies_total rule=fix result=done)" 1 \
                "node_exporter serves medic_remedies_total{rule=fix,result=done} 1"
        ok "node_exporter serves the check duration histogram" \
                num_ge "$(prom_value "$T/ne.txt" medic_check_duration_seconds_count check=good)" 2
        is "$(prom_value "$T/ne.txt" medic_parked)" 0 "node_exporter serves medic_parked 0"
        [ "$_tap_fail" -gt 0 ] && diag "node_exporter log:" "$(tail -n 20 "$T/node_exporter.log")"
fi

# ---- the loopback listener ----
res=$(http_get "http://127.0.0.1:$PORT/metrics" "$T/direct.txt")
like "$res" '^200 text/plain; version=0.0.4' "GET /metrics on 127.0.0.1:$PORT: 200, text format 0.0.4"
is "$(prom_value "$T/direct.txt" medic_condition_state condition=broken state=unknown)" 1 \
        "listener serves the same series (broken: unknown)"
if [ -n "$PROMTOOL" ]; then
        ok "promtool check metrics: the listener's answer is valid" "$PROMTOOL" check metrics < "$T/direct.txt"
else
        skip "promtool check metrics: the listener's answer is valid" "promtool not installed"
fi
res=$(http_get "http://127.0.0.1:$PORT/other" "$T/other.txt")
like "$res" '^404 ' "GET /other: 404"

# ---- restart with a local slot that nothing claims (no reboot intent, no maintenance) ----
# What the metrics say comes from the node's permission owner: a leftover slot is given
# back, not shown as held.
ok "medicd stops for a restart" stop_medicd
printf '{"holder": "fix", "since": 1700000000}\n' > "$T/state/coordinator.json"
mark=$(log_mark)
start_medicd
ok "after restart: the leftover slot is given back" \
        wait_for 5 "log_has_since $mark 'for (rule )?fix\)?.*nothing here (holds|claims)'"
ok "after restart: coordinator.json has no holder" \
        wait_for 5 "! grep -q '\"holder\": *\"fix\"' $T/state/coordinator.json"
ok "after restart: medic_coordinator_holding 0" \
        wait_for 5 '[ "$(prom_value "$PROM" medic_coordinator_holding)" = 0 ]'
ok "after restart: no holding-since series" \
        test "$(prom_value "$PROM" medic_coordinator_holding_since_timestamp_seconds)" = absent
ok "after restart: counters start again (fix done = 0)" \
        test "$(prom_value "$PROM" medic_remedies_total rule=fix result=done)" = 0

# ---- reload: a new textfile path, the listener moved to a busy port ----
sed -i -e "s|^textfile = .*|textfile = $T/prom2/medic.prom|" -e "s|^listen = .*|listen = 127.0.0.1:${NE_PORT:-$PORT}|" "$T/medic.conf"
mark=$(log_mark)
ctl reload >/dev/null
ok "after reload the new textfile appears" wait_for 5 '[ -s "$T/prom2/medic.prom" ]'
ok "after reload the old textfile is removed" wait_for 5 '[ ! -e "$PROM" ]'
if [ -n "${NE_PORT:-}" ]; then
        ok "a busy listen port is logged" wait_for 5 "log_has_since $mark 'Cannot serve the metrics on 127.0.0.1:$NE_PORT'"
        ok "medicd keeps running without its listener" daemon_alive
        res=$(http_get "http://127.0.0.1:$PORT/metrics" "$T/gone.txt")
        unlike "$res" '^200 ' "the old listen port is closed after the reload"
else
        skip "a busy listen port is logged" "no node_exporter"
        skip "medicd keeps running without its listener" "no node_exporter"
        skip "the old listen port is closed after the reload" "no node_exporter"
fi

ok "medicd stops cleanly" stop_medicd
done_testing
