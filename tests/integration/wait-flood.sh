#!/bin/bash
# SPDX-License-Identifier: MIT
# A node that waits for its permission (denied: another node holds the group's only slot) for
# about 40 s, asking again all along, does not flood what it keeps: the same denial repeated
# is one history entry with a count and the time of the first (fields count and since); the
# state file is not rewritten on every retry; warnings are a few, not one per retry.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 120
need_etcd
. "$top_srcdir/tests/integration/nodes-lib.sh"
start_etcd

G=gf
node_add fa $G
node_reboot_rule fa
F=$(node_dir fa)
ok "X holds the group's only slot" client_hold X $G
node_start fa
ok "A is registered" wait_for 10 "node_registered fa"
touch "$F/trigger"
ok "A asks and waits in the queue" wait_for 15 "node_queued fa"
t0=$(date +%s)
mark=$(on fa log_mark)

# State file writes over 20 s of waiting: every write is a rename of a new file (a new inode).
writes=$(python3 - "$F/state/state.json" 20 <<'EOF'
import os, sys, time
path, end = sys.argv[1], time.monotonic() + float(sys.argv[2])
last, n = None, 0
while time.monotonic() < end:
    try:
        st = os.stat(path)
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
    except OSError:
        key = None
    if last is not None and key != last:
        n += 1
    last = key
    time.sleep(0.02)
print(n)
EOF
)
ok "the state file is not rewritten on every retry ($writes writes in 20 s, at most 5)" test "${writes:-99}" -le 5

warnings=$(on fa log_since "$mark" | grep -cE '^medicd\[[0-9]+\]: (warning|error|crit|alert|emerg): ')
ok "warnings while waiting are bounded ($warnings in 20 s, at most 3)" test "$warnings" -le 3
if [ "$warnings" -gt 3 ]; then
        diag "$(on fa log_since "$mark" | grep -E ': (warning|error|crit): ' | sort | uniq -c | sort -rn | head -3)"
fi

ok "A still waits, nothing rebooted" sh -c "! [ -s $F/sysrq-trigger ]"
wait_for 20 "[ \$(date +%s) -ge $((t0 + 35)) ]"
hist=$(on fa ctl_json history --limit 1000)
denials=$(printf '%s' "$hist" | jget '[h for h in d["history"] if h.get("kind") == "permission" and h.get("decision") == "denied"]')
n_denials=$(printf '%s' "$denials" | jget 'len(d)')
n_hist=$(printf '%s' "$hist" | jget 'len(d["history"])')
ok "the repeated denial is kept once, not once per retry ($n_denials entries, at most 2)" test "${n_denials:-99}" -le 2
ok "the history is mostly free of it ($n_hist entries in all, at most 15)" test "${n_hist:-99}" -le 15
last=$(printf '%s' "$denials" | jget 'd[-1] if d else None')
if [ "$last" = null ] || [ -z "$last" ]; then
        fail "the denial is in the history" "history: $(printf '%s' "$hist" | head -c 600)"
        last='{}'
else
        pass "the denial is in the history"
fi
count=$(printf '%s' "$last" | jget 'd.get("count")')
since=$(printf '%s' "$last" | jget 'd.get("since")')
ok "it counts the repetitions (count: $count, at least 2)" \
        test "$(printf '%s' "$last" | jget 'isinstance(d.get("count"), int) and d["count"] >= 2')" = true
ok "it says since when (since: $since, when A started waiting at $t0)" \
        test "$(printf '%s' "$last" | jget "isinstance(d.get('since'), int) and $t0 - 15 <= d['since'] <= $t0 + 2")" = true
done_testing
