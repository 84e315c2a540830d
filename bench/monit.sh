#!/bin/bash
# SPDX-License-Identifier: MIT
# medicd against monit (Debian's monit), same run, same workload: N checks (default
# 10 50 200) that each run /bin/true every second. medicd: one Lua check per command calling
# medic.exec { "/bin/true" }, dry run, local coordinator, temporary directories, foreground.
# monit: `set daemon 1` and one `check program ... with path /bin/true` per command, in the
# foreground (-I). Each daemon runs as PID 1 of its own PID namespace (unshare --pid --fork), so
# the processes it started are counted exactly: ns_last_pid at the end minus at the start.
# Per run: CPU of the daemon (its threads' /proc/PID/task/*/schedstat, in ns: utime+stime
# count 10 ms ticks) and of its reaped children (cutime+cstime from /proc/PID/stat) over the measured seconds, divided by the commands actually run; runs/s;
# RSS/PSS/anonymous memory from /proc/PID/smaps_rollup at the end. Every figure ROUNDS times
# (default 3): min/median/max, and the ratio medic/monit of the medians. Then both daemons idle:
# medicd with the default checks (checks/, no rules) and monit with no checks: RSS, anonymous,
# wake-ups per minute (voluntary + involuntary context switches).
# Needs root (PID namespaces). Installs monit with apt-get if missing.
# Run from a built tree: bash bench/monit.sh [SECONDS] [ROUNDS] [N...]
# Environment: JSON=FILE (default bench-monit.json in the current directory); MEDICD=PATH and
# CHECKS=DIR (default: this tree's medicd and checks/) to measure another build, e.g. the
# baseline's.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-15}
rounds=${2:-3}
shift 2 2>/dev/null || shift $#
ns=${*:-10 50 200}
json=${JSON:-$PWD/bench-monit.json}
[ "$(id -u)" = 0 ] || { echo "monit: needs root (PID namespaces)" >&2; exit 1; }
command -v monit >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q monit >/dev/null
command -v monit >/dev/null || { echo "monit: cannot install monit" >&2; exit 1; }
medicd=${MEDICD:-$top/medicd}
checks=${CHECKS:-$top/checks}
[ -x "$medicd" ] || { echo "monit: build medicd first ($medicd)" >&2; exit 1; }
T=$(mktemp -d /tmp/medic-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
umask 022
mkdir "$T/shipped"
install -m 0644 "$checks"/*.lua "$T/shipped/"
python3 - "$medicd" "$T" "$secs" "$rounds" "$json" $ns <<'PY'
import json, os, signal, statistics, subprocess, sys, time

medicd, T, secs, rounds, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
ns = [int(x) for x in sys.argv[6:]]
HZ = os.sysconf("SC_CLK_TCK")
WARMUP = 3.0

def medic_setup(d, n, checks=None):
    os.makedirs(f"{d}/checks", exist_ok=True)
    os.makedirs(f"{d}/rules", exist_ok=True)
    with open(f"{d}/medic.conf", "w") as f:
        f.write(f"[medic]\nchecks = {checks or d + '/checks'}\nrules = {d}/rules\nstate_dir = {d}/state\n"
                f"socket = {d}/medicd.sock\nstop_file = {d}/stop\nsettings_dir = {d}\n"
                f"dry_run = yes\nlog_level = warning\n")
    if checks is None:
        with open(f"{d}/checks/exec.lua", "w") as f:
            f.write(f"for i = 1, {n} do\n  check(\"exec\" .. i) {{ every = \"1s\", timeout = \"5s\", run = function()\n"
                    "    local r = medic.exec { \"/bin/true\" }\n"
                    "    if r.status == 0 then return ok() end\n    return problem(\"status \" .. tostring(r.status))\n"
                    "  end }\nend\n")
    return [medicd, "--config", f"{d}/medic.conf"]

def monit_setup(d, n):
    os.makedirs(d, exist_ok=True)
    rc = f"{d}/monitrc"
    with open(rc, "w") as f:
        f.write(f"set daemon 1\nset log {d}/monit.log\nset pidfile {d}/monit.pid\n"
                f"set idfile {d}/monit.id\nset statefile {d}/monit.state\n")
        for i in range(1, n + 1):
            f.write(f"check program true{i} with path /bin/true every 1 cycles\n  if status != 0 then alert\n")
    os.chmod(rc, 0o600)
    return ["monit", "-I", "-c", rc]

def start(argv, d):
    log = open(f"{d}/daemon.log", "w")
    p = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child"] + argv, stdout=log, stderr=log,
                         env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    for _ in range(200):   # the daemon is unshare's only child
        try:
            kids = open(f"/proc/{p.pid}/task/{p.pid}/children").read().split()
            if kids:
                return p, int(kids[0])
        except OSError:
            pass
        time.sleep(0.01)
    raise SystemExit(f"{argv[0]} did not start")

def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()

def last_pid(pid):
    # Read by a process inside the namespace: it is itself the last PID allocated there.
    return int(subprocess.run(["nsenter", "-t", str(pid), "--pid", "--", "cat", "/proc/sys/kernel/ns_last_pid"],
                              capture_output=True, check=True, text=True).stdout)

def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    # fields after the name: state=0 ... utime=11 stime=12 cutime=13 cstime=14. The daemon's own
    # time from schedstat (nanoseconds, every thread) rather than utime+stime (clock ticks).
    own = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            own += int(open(f"/proc/{pid}/task/{t}/schedstat").read().split()[0])
        except OSError:
            pass
    return own / 1e9, (int(f[13]) + int(f[14])) / HZ

def switches(pid):
    v = {}
    for line in open(f"/proc/{pid}/status"):
        k, _, val = line.partition(":")
        if k in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
            v[k] = int(val)
    return sum(v.values())

def memory(pid):
    m = {}
    for line in open(f"/proc/{pid}/smaps_rollup"):
        k, _, val = line.partition(":")
        if k in ("Rss", "Pss", "Anonymous"):
            m[k.lower()] = int(val.split()[0]) / 1024.0
    return m

def measure(kind, n, d):
    argv = medic_setup(d, n) if kind == "medic" else monit_setup(d, n)
    p, pid = start(argv, d)
    try:
        time.sleep(WARMUP)
        if p.poll() is not None:
            raise SystemExit(f"{kind} exited: {open(d + '/daemon.log').read()[-2000:]}")
        c0, l0, t0 = cpu(pid), last_pid(pid), time.monotonic()
        time.sleep(secs)
        c1, l1, t1 = cpu(pid), last_pid(pid), time.monotonic()
        mem = memory(pid)
    finally:
        stop(p)
    runs = l1 - l0 - 1    # the second probe itself
    runs = max(runs, 1)
    return {"runs_per_s": runs / (t1 - t0),
            "daemon_ms_per_run": (c1[0] - c0[0]) * 1000 / runs,
            "children_ms_per_run": (c1[1] - c0[1]) * 1000 / runs,
            "total_ms_per_run": (c1[0] - c0[0] + c1[1] - c0[1]) * 1000 / runs,
            "daemon_cpu_pct": (c1[0] - c0[0]) * 100 / (t1 - t0),
            "rss_mib": mem["rss"], "pss_mib": mem["pss"], "anon_mib": mem["anonymous"]}

def idle(kind, d):
    if kind == "medic":
        argv = medic_setup(d, 0, checks=f"{T}/shipped")
    else:
        argv = monit_setup(d, 0)
    p, pid = start(argv, d)
    try:
        time.sleep(WARMUP + 2)
        if p.poll() is not None:
            raise RuntimeError(open(d + '/daemon.log').read()[-2000:])
        s0, t0 = switches(pid), time.monotonic()
        time.sleep(max(secs, 20))
        s1, t1 = switches(pid), time.monotonic()
        mem = memory(pid)
    finally:
        stop(p)
    return {"rss_mib": mem["rss"], "pss_mib": mem["pss"], "anon_mib": mem["anonymous"],
            "wakeups_per_min": (s1 - s0) * 60 / (t1 - t0)}

KEYS = ["runs_per_s", "daemon_ms_per_run", "children_ms_per_run", "total_ms_per_run", "daemon_cpu_pct",
        "rss_mib", "pss_mib", "anon_mib"]
results = {"seconds": secs, "rounds": rounds, "exec": {}, "idle": {}}
k = 0
for n in ns:
    got = {"medic": [], "monit": []}
    for r in range(rounds):
        for kind in ("medic", "monit"):    # interleaved: the same machine state for both
            k += 1
            got[kind].append(measure(kind, n, f"{T}/{kind}-{n}-{r}-{k}"))
    stat = {}
    for kind in got:
        stat[kind] = {key: {"min": min(x[key] for x in got[kind]),
                            "median": statistics.median(x[key] for x in got[kind]),
                            "max": max(x[key] for x in got[kind])} for key in KEYS}
    stat["ratio"] = {key: (stat["medic"][key]["median"] / stat["monit"][key]["median"]
                           if stat["monit"][key]["median"] else None) for key in KEYS}
    stat["runs"] = got
    results["exec"][str(n)] = stat

def fmt(v):
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"
print(f"exec checks running /bin/true every second; {rounds} rounds of {secs:g} s each; min/median/max")
print(f"{'N':>4} {'figure':<22} {'medicd':>24} {'monit':>24} {'medic/monit':>12}")
for n in ns:
    s = results["exec"][str(n)]
    for key in KEYS:
        row = [" / ".join(fmt(s[kind][key][q]) for q in ("min", "median", "max")) for kind in ("medic", "monit")]
        ratio = s["ratio"][key]
        print(f"{n:>4} {key:<22} {row[0]:>24} {row[1]:>24} {(f'{ratio:.2f}' if ratio is not None else '-'):>12}")
with open(out, "w") as f:
    json.dump(results, f, indent=1)
print("idle: medicd with the default checks (no rules), monit with no checks")
for kind in ("medic", "monit"):
    try:
        results["idle"][kind] = idle(kind, f"{T}/idle-{kind}")
    except (OSError, RuntimeError) as e:
        print(f"  {kind:<6} failed: {e}")
        continue
    i = results["idle"][kind]
    print(f"  {kind:<6} RSS {i['rss_mib']:.1f} MiB, PSS {i['pss_mib']:.1f} MiB, anonymous {i['anon_mib']:.2f} MiB, "
          f"{i['wakeups_per_min']:.0f} wake-ups/min")
with open(out, "w") as f:
    json.dump(results, f, indent=1)
print(f"JSON: {out}")
PY
