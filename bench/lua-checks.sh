#!/bin/bash
# SPDX-License-Identifier: MIT
# The cost of in-process Lua checks as their number grows: medicd alone (dry-run, local
# coordinator, temp dirs) with N checks (default 10 100 1000 10000) that each read
# /proc/loadavg and match a string every second, and N/10 rules, each triggered by one of
# them and blocked by another (all idle: the checks stay ok). For each N, over a WINDOW
# (default 20 s) after the checks settled: daemon CPU per run (utime+stime from
# /proc/PID/stat), runs per second achieved, schedule jitter p50/p99 (each check's start
# against its previous start + 1 s, measured in Lua with medic.now()), RSS, and the
# state.json writes, and the loop's wake-ups per second (voluntary context switches of its
# threads: each is a sleep in epoll_wait, or a blocking call). Then once more with 1000 checks of which 10% report a new message on
# every run (something durable changes all the time: the state writes must stay batched).
# Prints a table and writes JSON (default bench/lua-checks.json).
# Run from a built tree: bash bench/lua-checks.sh [WINDOW] [N...]
# MEDICD=path picks another medicd; OUT=path the JSON file; CHANGING="N PERCENT" the
# changing run (default "1000 10", "" for none); NICE=-10 runs medicd at that niceness (root),
# so that other load on a shared machine shows less as the daemon's jitter; WORK=none: the
# checks read nothing (the same string as a constant instead of /proc/loadavg, the rest alike):
# what a run costs medicd itself, without the check's own system calls.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
medicd=${MEDICD:-$top/medicd}
window=${1:-20}
[ $# -gt 0 ] && shift
sizes=${*:-10 100 1000 10000}
changing=${CHANGING-1000 10}
read_expr='medic.read("/proc/loadavg")'
[ "${WORK:-}" = none ] && read_expr='"0.42 0.37 0.30 1/123 4567\n"'
out=${OUT:-$top/bench/lua-checks.json}
[ -x "$medicd" ] || { echo "medicd not built: $medicd" >&2; exit 1; }
[ "$(id -u)" = 0 ] || echo "note: not root; verify_owner = no" >&2
unset JOURNAL_STREAM
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent/medic-bench-no-bus
T=$(mktemp -d /tmp/medic-bench.XXXXXX)
pid= wpid=
trap '[ -n "$wpid" ] && kill "$wpid" 2>/dev/null; [ -n "$pid" ] && kill "$pid" 2>/dev/null; [ -n "$pid" ] && wait "$pid" 2>/dev/null; rm -rf "$T"' EXIT
umask 022

# gen N DIR [PERCENT]: the checks (PERCENT of them with a message that changes every run), 100 to a file (each file is a Lua state with its own histogram and a
# reporter that logs it every 2 s), and the rules.
gen() {
        local n=$1 d=$2 pct=${3:-0} per=100 f=0 base
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
      local ms = math.abs(t - p - 1.0) * 1000
      local b -- bucket in 0.1 ms: 0.1 ms wide below 10 ms, 1 ms below 100 ms, 10 ms below 1 s
      if ms < 10 then b = math.floor(ms * 10)
      elseif ms < 100 then b = math.floor(ms) * 10
      elseif ms < 1000 then b = math.floor(ms / 10) * 100
      else b = 10000 end
      H[b] = (H[b] or 0) + 1
    end
    prev[i] = t
    runs = runs + 1
    local s = $read_expr
    if idx % 100 < $pct then return ok("run " .. runs) end
    if s:match("^%d+%.%d+ ") then return ok("load " .. "fine") end
    return problem("cannot parse /proc/loadavg")
  end }
end
check("report-$f") { every = "2s", run = function()
  local parts, now = {}, medic.now()
  for b, c in pairs(H) do parts[#parts + 1] = b .. ":" .. c end
  -- log lines are cut at 4 KiB: 100 buckets a line, every line with the same time
  for i = 1, math.max(1, #parts), 100 do
    medic.log("notice", string.format("BENCH $f %.6f %d %s", now, runs, table.concat(parts, ",", i, math.min(#parts, i + 99))))
  end
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

# SIGTERM, and SIGKILL when it is not gone 10 s later (a saturated loop may not get to it)
stop_medicd() {
        kill "$pid" 2>/dev/null || true
        for ((k = 0; k < 100; k++)); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        pid=
}

# sample PID: utime+stime (clock ticks, /proc/PID/stat) and on-CPU time (ns, schedstat of
# every thread: the ticks are too coarse for the small N)
sample() {
        echo "$(awk '{ print $14 + $15 }' "/proc/$1/stat"):$(cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f\n", s }'):$(cat /proc/"$1"/task/*/status | awk '/^voluntary_ctxt_switches/ { s += $2 } END { print s }')"
}

results=()
runs=()
for n in $sizes; do
        runs+=("$n:0")
done
[ -n "$changing" ] && runs+=("${changing% *}:${changing#* }")
for run in "${runs[@]}"; do
        n=${run%:*} pct=${run#*:}
        d="$T/n$n-$pct"
        gen "$n" "$d" "$pct"
        ${NICE:+nice -n "$NICE"} "$medicd" --config "$d/medic.conf" 2>"$d/log" &
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
        # state.json writes: each one is a rename onto it (write_file_atomic), counted with inotify
        python3 - "$d/state" > "$d/writes" <<'PY' &
import ctypes, os, signal, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(0)
libc.inotify_add_watch(fd, sys.argv[1].encode(), 0x80)  # IN_MOVED_TO
n = 0
signal.signal(signal.SIGTERM, lambda *a: (print(n), sys.stdout.flush(), os._exit(0)))
while True:
    buf, off = os.read(fd, 65536), 0
    while off < len(buf):
        _, _, _, ln = struct.unpack_from("iIII", buf, off)
        name = buf[off + 16:off + 16 + ln].rstrip(b"\0")
        n += name == b"state.json"
        off += 16 + ln
PY
        wpid=$!
        sleep "$window"
        s1=$(sample "$pid"); t1=$(date +%s.%N)
        kill "$wpid"; wait "$wpid" 2>/dev/null || true
        writes=$(cat "$d/writes")
        rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
        load=$(cut -d' ' -f1 /proc/loadavg)
        sleep 2.5 # one more report from every file
        cp "$d/log" "$d/log.end"
        stop_medicd
        results+=("$(python3 - "$n" "$pct" "$d/log.start" "$d/log.end" "$s0" "$s1" "$t0" "$t1" "$rss" "$writes" "$(getconf CLK_TCK)" "$load" <<'PY'
import json, re, sys
n, pct = int(sys.argv[1]), int(sys.argv[2])
del sys.argv[2]
t0, t1 = float(sys.argv[6]), float(sys.argv[7])
(tick0, ns0, sw0), (tick1, ns1, sw1) = [map(int, x.split(":")) for x in sys.argv[4:6]]
rss_kib, writes, hz = int(sys.argv[8]), int(sys.argv[9]), int(sys.argv[10])
def last(path):
    out = {}
    for line in open(path, errors="replace"):
        m = re.search(r"BENCH (\d+) ([\d.]+) (\d+) ?(\S*)", line)
        if m:
            t = float(m.group(2))
            if m.group(1) not in out or out[m.group(1)][0] != t:
                out[m.group(1)] = (t, int(m.group(3)), {})
            h = out[m.group(1)][2]
            for kv in filter(None, m.group(4).split(",")):
                b, c = kv.split(":")
                h[int(b)] = int(c)
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
        if acc >= want:  # the bucket's upper edge
            return (k + (1 if k < 100 else 10 if k < 1000 else 100 if k < 10000 else 0)) / 10.0
print(json.dumps({
    "checks": n, "changing_pct": pct, "window_s": round(secs, 2), "runs_per_s": round(rate, 1), "runs_expected_per_s": n,
    "cpu_pct_core": round(100 * cpu / secs, 2),
    "cpu_pct_core_stat_ticks": round(100 * (tick1 - tick0) / hz / secs, 2),
    "cpu_us_per_run": round(1e6 * cpu / (rate * secs), 1) if rate else None,
    "jitter_p50_ms": q(0.5), "jitter_p90_ms": q(0.9), "jitter_p99_ms": q(0.99), "jitter_max_ms": q(1.0),
    "loadavg_1m": float(sys.argv[11]), "rss_mib": round(rss_kib / 1024, 1),
    "state_writes_per_s": round(writes / secs, 2),
    "wakeups_per_s": round((sw1 - sw0) / secs, 1),
}))
PY
)")
        echo "${results[-1]}" >&2
        rm -rf "$d"
done

python3 - "$out" "${results[@]}" <<'PY'
import json, os, sys
rows = [json.loads(x) for x in sys.argv[2:]]
hdr = ["checks", "changing %", "runs/s", "CPU % core", "CPU us/run", "jitter p50 ms", "jitter p99 ms", "jitter max ms", "RSS MiB", "wake-ups/s", "state writes/s", "loadavg"]
keys = ["checks", "changing_pct", "runs_per_s", "cpu_pct_core", "cpu_us_per_run", "jitter_p50_ms", "jitter_p99_ms", "jitter_max_ms", "rss_mib", "wakeups_per_s", "state_writes_per_s", "loadavg_1m"]
print(" ".join(f"{h:>13}" for h in hdr))
for r in rows:
    print(" ".join(f"{str(r[k]):>13}" for k in keys))
per = [r["cpu_us_per_run"] for r in rows if r["cpu_us_per_run"] and not r["changing_pct"]]
flat = round(max(per) / min(per), 2) if per else None
print(f"cost per run, largest / smallest: {flat}x")
json.dump({"bench": "lua-checks", "work": os.environ.get("WORK") or "read", "rows": rows, "cost_per_run_spread": flat}, open(sys.argv[1], "w"), indent=1)
print(f"wrote {sys.argv[1]}")
PY
