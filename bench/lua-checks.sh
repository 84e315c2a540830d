#!/bin/bash
# SPDX-License-Identifier: MIT
# The cost of in-process Lua checks as their number grows: medicd alone (dry-run, local
# coordinator, temp dirs) with N checks (default 10 100 1000 10000) that each read
# /proc/loadavg and match a string every second, and N/10 rules, each triggered by one of
# them and blocked by another (all idle: the checks stay ok). For each N, over a WINDOW
# (default 20 s) after the checks settled: daemon CPU per run (utime+stime from
# /proc/PID/stat), runs per second achieved, schedule jitter p50/p99 (each check's start
# against its previous start + 1 s, measured in Lua with medic.now()), RSS, and the
# state.json writes. Prints a table and writes JSON (default bench/lua-checks.json).
# Run from a built tree: bash bench/lua-checks.sh [WINDOW] [N...]
# MEDICD=path picks another medicd; OUT=path the JSON file.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
medicd=${MEDICD:-$top/medicd}
window=${1:-20}
[ $# -gt 0 ] && shift
sizes=${*:-10 100 1000 10000}
out=${OUT:-$top/bench/lua-checks.json}
[ -x "$medicd" ] || { echo "medicd not built: $medicd" >&2; exit 1; }
[ "$(id -u)" = 0 ] || echo "note: not root; verify_owner = no" >&2
unset JOURNAL_STREAM
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/medic-bench-no-bus
T=$(mktemp -d /tmp/medic-bench.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; [ -n "$pid" ] && wait "$pid" 2>/dev/null; rm -rf "$T"' EXIT
umask 022

# gen N DIR: the checks, 100 to a file (each file is a Lua state with its own histogram and a
# reporter that logs it every 2 s), and the rules.
gen() {
        local n=$1 d=$2 per=100 f=0 base
        rm -rf "$d" && mkdir -p "$d/checks" "$d/rules" "$d/state"
        for ((base = 0; base < n; base += per)); do
                local k=$(( n - base < per ? n - base : per ))
                cat > "$d/checks/c$f.lua" <<LUA
local H, runs, prev = {}, 0, {}
for i = 1, $k do
  local idx = $base + i
  check("lc-" .. idx) { every = "1s", run = function()
    local t = medic.now()
    local p = prev[i]
    if p then
      local b = math.floor(math.abs(t - p - 1.0) * 10000) -- 0.1 ms buckets
      if b > 9999 then b = 9999 end
      H[b] = (H[b] or 0) + 1
    end
    prev[i] = t
    runs = runs + 1
    local s = medic.read("/proc/loadavg")
    if s:match("^%d+%.%d+ ") then return ok("load " .. "fine") end
    return problem("cannot parse /proc/loadavg")
  end }
end
check("report-$f") { every = "2s", run = function()
  local parts = {}
  for b, c in pairs(H) do parts[#parts + 1] = b .. ":" .. c end
  medic.log("notice", string.format("BENCH $f %.6f %d %s", medic.now(), runs, table.concat(parts, ",")))
  return ok()
end }
LUA
                f=$((f + 1))
        done
        {
                for ((i = 1; i <= n / 10; i++)); do
                        echo "rule \"r-$i\" { when = \"lc-$i\", unless = { \"lc-$((i + 1))\" }, remedy = command { \"/bin/true\" }, limit = \"3/1h\" }"
                done
        } > "$d/rules/rules.lua"
        cat > "$d/medic.conf" <<CONF
[medic]
node = bench
group = bench
checks = $d/checks
rules = $d/rules
state_dir = $d/state
socket = $d/medicd.sock
stop_file = $d/stop
dry_run = yes
log_level = notice
kmsg = $d/kmsg
verify_owner = $( [ "$(id -u)" = 0 ] && echo yes || echo no )

[reboot]
sysrq_trigger = $d/sysrq-trigger
sysrq_enable = $d/sysrq-enable
watchdog_device = $d/watchdog
boot_id_file = $d/boot_id
pre_reboot_dir = $d/pre-reboot.d
post_reboot_dir = $d/post-reboot.d
abort_dir = $d/abort.d

[coordinator]
backend = local
CONF
        : > "$d/kmsg"
}

# sample PID: utime+stime (clock ticks, /proc/PID/stat) and on-CPU time (ns, schedstat of
# every thread: the ticks are too coarse for the small N)
sample() {
        echo "$(awk '{ print $14 + $15 }' "/proc/$1/stat"):$(cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f\n", s }')"
}

results=()
for n in $sizes; do
        d="$T/n$n"
        gen "$n" "$d"
        "$medicd" --config "$d/medic.conf" 2>"$d/log" &
        pid=$!
        # Settled: every file's reporter has logged twice (load, first spread-out round done).
        files=$(ls "$d/checks" | wc -l)
        for ((w = 0; w < 90; w++)); do
                sleep 1
                kill -0 "$pid" 2>/dev/null || { echo "medicd exited; log:" >&2; tail "$d/log" >&2; exit 1; }
                got=$(grep -o 'BENCH [0-9]* ' "$d/log" | sort | uniq -c | awk '$1 >= 2' | wc -l)
                [ "$got" -ge "$files" ] && break
        done
        sleep 3
        cp "$d/log" "$d/log.start"
        s0=$(sample "$pid"); t0=$(date +%s.%N)
        # state.json writes: its inode changes on every atomic write (rename)
        writes=0; last=$(stat -c %i "$d/state/state.json" 2>/dev/null || echo 0)
        end=$(( $(date +%s) + window ))
        while [ "$(date +%s)" -lt "$end" ]; do
                sleep 0.2
                cur=$(stat -c %i "$d/state/state.json" 2>/dev/null || echo 0)
                [ "$cur" != "$last" ] && writes=$((writes + 1)) && last=$cur
        done
        s1=$(sample "$pid"); t1=$(date +%s.%N)
        rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
        sleep 2.5 # one more report from every file
        cp "$d/log" "$d/log.end"
        kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
        results+=("$(python3 - "$n" "$d/log.start" "$d/log.end" "$s0" "$s1" "$t0" "$t1" "$rss" "$writes" "$(getconf CLK_TCK)" <<'PY'
import json, re, sys
n = int(sys.argv[1]); t0, t1 = float(sys.argv[6]), float(sys.argv[7])
(tick0, ns0), (tick1, ns1) = [map(int, x.split(":")) for x in sys.argv[4:6]]
rss_kib, writes, hz = int(sys.argv[8]), int(sys.argv[9]), int(sys.argv[10])
def last(path):
    out = {}
    for line in open(path, errors="replace"):
        m = re.search(r"BENCH (\d+) ([\d.]+) (\d+) ?(\S*)", line)
        if m:
            h = {}
            for kv in filter(None, m.group(4).split(",")):
                b, c = kv.split(":")
                h[int(b)] = int(c)
            out[m.group(1)] = (float(m.group(2)), int(m.group(3)), h)
    return out
a, b = last(sys.argv[2]), last(sys.argv[3])
rate, hist = 0.0, {}
for f, (w1, r1, h1) in b.items():
    if f not in a or w1 <= a[f][0]:
        continue
    w0, r0, h0 = a[f]
    rate += (r1 - r0) / (w1 - w0)  # each file's runs/s between its two reports
    for k, c in h1.items():
        d = c - h0.get(k, 0)
        if d:
            hist[k] = hist.get(k, 0) + d
secs = t1 - t0
cpu = (ns1 - ns0) / 1e9
total = sum(hist.values())
def q(p):
    if not total:
        return None
    want, acc = p * total, 0
    for k in sorted(hist):
        acc += hist[k]
        if acc >= want:
            return (k + 1) / 10.0
print(json.dumps({
    "checks": n, "window_s": round(secs, 2), "runs_per_s": round(rate, 1), "runs_expected_per_s": n,
    "cpu_pct_core": round(100 * cpu / secs, 2),
    "cpu_pct_core_stat_ticks": round(100 * (tick1 - tick0) / hz / secs, 2),
    "cpu_us_per_run": round(1e6 * cpu / (rate * secs), 1) if rate else None,
    "jitter_p50_ms": q(0.5), "jitter_p99_ms": q(0.99), "rss_mib": round(rss_kib / 1024, 1),
    "state_writes_per_s": round(writes / secs, 2),
}))
PY
)")
        echo "${results[-1]}" >&2
        rm -rf "$d"
done

python3 - "$out" "${results[@]}" <<'PY'
import json, sys
rows = [json.loads(x) for x in sys.argv[2:]]
hdr = ["checks", "runs/s", "CPU % core", "CPU us/run", "jitter p50 ms", "jitter p99 ms", "RSS MiB", "state writes/s"]
keys = ["checks", "runs_per_s", "cpu_pct_core", "cpu_us_per_run", "jitter_p50_ms", "jitter_p99_ms", "rss_mib", "state_writes_per_s"]
print("  ".join(f"{h:>14}" for h in hdr))
for r in rows:
    print("  ".join(f"{str(r[k]):>14}" for k in keys))
per = [r["cpu_us_per_run"] for r in rows if r["cpu_us_per_run"]]
flat = round(max(per) / min(per), 2) if per else None
print(f"cost per run, largest / smallest: {flat}x")
json.dump({"bench": "lua-checks", "rows": rows, "cost_per_run_spread": flat}, open(sys.argv[1], "w"), indent=1)
print(f"wrote {sys.argv[1]}")
PY
