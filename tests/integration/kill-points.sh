#!/bin/bash
# SPDX-License-Identifier: MIT
# SIGKILL at every kill point of a disruptive remedy's life (lib/killpoint.h), on a real etcd:
# a reboot (ask, grant, firing recorded, pre-reboot tasks, intent, the ladder: watchdog, then
# sysrq s/u/b; the "reboot" with a new boot id, post-reboot tasks, settle, release) and then a
# maintenance (ask, grant, drain, holding, undrain, settle, release), every state file write
# (temp file, before and after the rename) included. The hooked build
# tests/helpers/medicd-hooks dies at the point named by MEDIC_KILL_POINT/MEDIC_KILL_NTH; a first
# run lists the points (MEDIC_KILL_LIST). For each point: the scenario runs, medicd dies there,
# it is started again (after a "reboot" when the sysrq 'b' key was written already) and the
# scenario finishes. Then: the reboot happened exactly once, no pre-reboot task ran twice for
# one disruption (nor a drain twice without an undrain), no permission is held in etcd nor in
# medicd, the conditions are all there, and every file in the state directory parses.
# Devices are test files (tests/integration/lib.sh); nothing can reboot this machine.
# KILL_POINTS_MAX (default 110) bounds the number of points run; KILL_LANES (default 4) how many
# scenarios run at once.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
HOOKED="$top_builddir/tests/helpers/medicd-hooks"
[ -x "$HOOKED" ] || { echo "1..0 # SKIP $HOOKED not built (make check builds it)"; exit 0; }
MEDICD=$HOOKED
setup 280
need_etcd
start_etcd

LANES=${KILL_LANES:-4}
MAX=${KILL_POINTS_MAX:-110}
ROOT=$T
STATE_FILES_BAD="$ROOT/bad-state-files"

# node_files N GROUP: a node's directory: medic.conf on etcd, the ladder watchdog then sysrq
# (short deadlines), settle 500ms, the checks and the two rules, the tasks (each appends its
# name to $N/tasks).
node_files() {
        local n=$1
        rm -rf "$n"
        mkdir -p "$n"
        T=$n MEDIC_NODE=$(basename "$n") MEDIC_GROUP=$2
        mkdir -p "$T/checks" "$T/rules" "$T/state" "$T/drain.d" "$T/undrain.d"
        write_config
        reboot_test_files
        use_etcd_backend
        reboot_settings "max_disruptions = 50/1h" "methods = watchdog sysrq" "watchdog_deadline = 200ms" "sysrq_deadline = 1m" \
                "settle = 500ms" "settle_timeout = 1m"
        write_file "$T/checks/10-node.lua" <<EOF
check "wants-reboot" { every = "300ms", run = function()
  if medic.exists("$T/trigger") then return problem("updates installed") end
  return ok("nothing to do")
end }
check "disk-ok" { every = "300ms", health = true, run = function()
  return ok("disk fine")
end }
check "hw" { every = "300ms", run = function()
  if medic.exists("$T/broken") then return problem("PSU 2 Critical") end
  return ok("all sensors nominal")
end }
EOF
        write_file "$T/rules/10-rules.lua" <<EOF
rule "reboot-for-updates" { when = "wants-reboot", remedy = reboot {}, limit = "20/1h", retry = "1s" }
rule "hardware-failure" {
  when = "hw",
  remedy = maintenance { drain = "$T/drain.d", undrain = "$T/undrain.d", settle = "500ms", settle_timeout = "1m" },
  limit = "20/1h", retry = "1s",
}
EOF
        local d t
        for t in pre-reboot.d/10-pre-a pre-reboot.d/20-pre-b post-reboot.d/10-post abort.d/10-abort \
                 drain.d/10-drain undrain.d/10-undrain; do
                d=$(basename "$t")
                printf '#!/bin/sh\necho %s >> %s/tasks\n' "${d#*-}" "$T" | write_file "$T/$t"
                chmod 0755 "$T/$t"
        done
}

# state_files_parse DIR WHEN [all]: every file in the state directory (not the empty lock; with
# "all" the temporary files of the atomic writes too: none may be left after a restart) is JSON;
# the bad ones are appended to $STATE_FILES_BAD.
state_files_parse() {
        python3 -c '
import json, os, sys
d, when, hidden = sys.argv[1], sys.argv[2], sys.argv[3] == "all"
bad = []
for f in sorted(os.listdir(d)):
    p = os.path.join(d, f)
    if f == "lock" or (f.startswith(".") and not hidden) or not os.path.isfile(p):
        continue
    try:
        json.load(open(p))
    except Exception:
        bad.append("%s: %s (%r)" % (when, f, open(p, "rb").read(80)))
if bad:
    open(sys.argv[4], "a").write("".join(b + "\n" for b in bad))
sys.exit(1 if bad else 0)
' "$1" "$2" "${3:-}" "$STATE_FILES_BAD"
}

# the boot: the sysrq keys written so far are kept in sysrq-all, a new boot id, the trigger gone.
new_boot() {
        cat "$T/sysrq-trigger" >> "$T/sysrq-all"
        : > "$T/sysrq-trigger"
        cat /proc/sys/kernel/random/uuid > "$T/boot_id"
        rm -f "$T/trigger"
        BOOTED=1
}

# start ENV: the hooked medicd with ENV (kill or list settings, or none); its pid tracked. A
# medicd that dies at its kill point while starting has started as far as the scenario goes.
start() {
        MEDICD_ENV="MEDIC_TEST_SYSRQ_PAUSE_MS=100 MEDIC_TEST_TICK_MS=250 $1"
        if try_start_medicd 2>/dev/null; then
                echo "$MEDICD_PID" >> "$ROOT/pids"
                return 0
        fi
        [ "$killed" = no ] && [ -s "$T/killed" ]
}

# reap: medicd died at its kill point (SIGKILL, already gone): collected.
reap() {
        [ -n "$MEDICD_PID" ] && wait "$MEDICD_PID" 2>/dev/null
        MEDICD_PID=""
}

# problems_on_disk: "NAME SINCE" of the problem conditions state.json holds whose cause is still
# there (the trigger, the broken part): a restarted medicd must show them with the same since.
problems_on_disk() {
        python3 -c '
import json, os, sys
t = sys.argv[1]
try:
    d = json.load(open(t + "/state/state.json"))
except Exception:
    sys.exit(0)
cause = {"wants-reboot": "trigger", "hw": "broken"}
for n, c in (d.get("conditions") or {}).items():
    if c.get("state") == "problem" and n in cause and os.path.exists(t + "/" + cause[n]):
        since = int(c.get("since") or 0)
        print(n, since // 1000000 if since > 10**11 else since)
' "$T"
}

# problems_kept: each problem of problems_on_disk, as the restarted medicd shows it.
problems_kept() {
        local name since got
        while read -r name since; do
                got=$(cond_get "$name" '"%s %s" % (c["state"], c["since"])')
                [ "$got" = "problem $since" ] || echo "fail condition $name lost in the restart: problem since $since before, $got after"
        done < "$T/problems"
}

maint_phase() { grep -Eo '"maintenance": ?"[a-z]+"' "$T/state/state.json" 2>/dev/null | sed 's/.*"\([a-z]*\)"$/\1/'; }

# scenario DIR GROUP SEGMENT ENV: one life of the two remedies; ENV applies to medicd before the
# reboot (SEGMENT 0) or after it (SEGMENT 1). Prints "hit POINT" when medicd died at its point,
# then the check results. With ENV = list, lists the points in $DIR/list, a "boot" line between
# the two processes.
scenario() {
        local dir=$1 group=$2 seg=$3 env=$4 stage=reboot end now list=no killed=no
        node_files "$dir" "$group"
        BOOTED=0
        [ "$env" = list ] && { list=yes; env="MEDIC_KILL_LIST=$T/list"; }
        [ "$list" = no ] && env="$env MEDIC_KILL_LOG=$T/killed"
        start "$([ "$seg" = 0 ] && echo "$env")" || { echo "error medicd did not start"; return; }
        touch "$T/trigger"
        end=$(( $(date +%s) + 45 ))
        while [ "$stage" != done ]; do
                now=$(date +%s)
                [ "$now" -ge "$end" ] && { echo "error scenario stuck in stage $stage"; break; }
                if [ $killed = no ] && [ -s "$T/killed" ]; then
                        killed=yes
                        reap
                        echo "hit $(cat "$T/killed") ($(date +%T.%N))"
                        state_files_parse "$T/state" "at $(cut -d' ' -f1 "$T/killed")" || true
                        problems_on_disk > "$T/problems"
                        grep -q b "$T/sysrq-trigger" && [ $BOOTED = 0 ] && new_boot
                        echo "restart ($(date +%T.%N))"
                        start "" || { echo "error medicd did not start again"; return; }
                        problems_kept
                elif [ $BOOTED = 0 ] && grep -q b "$T/sysrq-trigger"; then
                        # The machine goes down: no shutdown, then a new boot.
                        kill_medicd
                        new_boot
                        [ $list = yes ] && echo boot >> "$T/list"
                        start "$({ [ $list = yes ] || { [ "$seg" = 1 ] && [ $killed = no ]; }; } && echo "$env")" ||
                                { echo "error medicd did not start after the reboot"; return; }
                elif [ -n "$MEDICD_PID" ] && ! kill -0 "$MEDICD_PID" 2>/dev/null && [ ! -s "$T/killed" ]; then
                        echo "error medicd died without a kill point: $(tail -n 3 "$T/medicd.log" | tr '\n' ' ')"
                        return
                fi
                case $stage in
                reboot)
                        if [ $BOOTED = 1 ] && grep -qx post "$T/tasks" 2>/dev/null && [ ! -e "$T/state/reboot-intent.json" ] &&
                           [ ! -e "$T/state/permission.json" ]; then
                                touch "$T/broken"
                                stage=drain
                        fi ;;
                drain)
                        [ "$(maint_phase)" = holding ] && { rm -f "$T/broken"; stage=undrain; } ;;
                undrain)
                        # (a kill at the very end is restarted first: the restart must clean up)
                        if [ "$(tail -n 1 "$T/tasks")" = undrain ] && [ -z "$(maint_phase)" ] &&
                           [ ! -e "$T/state/permission.json" ] && { [ $killed = yes ] || [ ! -s "$T/killed" ]; }; then
                                stage=done
                        fi ;;
                esac
                sleep 0.1
        done
        [ $list = yes ] && { stop_medicd; return; }
        # Settled: nothing may be held any more.
        wait_for 6 '[ -z "$(etcd_holders "$group")" ]'
        check_after "$group"
        stop_medicd
}

# check_after GROUP: the invariants after the scenario, one "fail WHAT" line for each broken one.
check_after() {
        local b holders
        cat "$T/sysrq-trigger" >> "$T/sysrq-all"
        b=$(grep -o b "$T/sysrq-all" | wc -l)
        [ "$b" = 1 ] || echo "fail the reboot ('b') was written $b times"
        # A pre-reboot run (pre-a) again only after the abort tasks undid the last one, never after
        # the reboot; a drain again only after an undrain.
        awk '$1 == "pre-a" { if (pre && !abort) bad = bad " pre-a twice without an abort;"; if (post) bad = bad " pre-a after the reboot;"; pre = 1; abort = 0 }
             $1 == "abort" { abort = 1 } $1 == "post" { post = 1 }
             $1 == "drain" { if (drain && !undrain) bad = bad " drain twice without an undrain;"; drain = 1; undrain = 0 }
             $1 == "undrain" { undrain = 1 }
             END { if (bad) print "fail tasks:" bad }' "$T/tasks"
        grep -qx post "$T/tasks" || echo "fail the post-reboot tasks did not run"
        holders=$(etcd_holders "$1" | tr '\n' ' ')
        [ -z "$holders" ] || echo "fail permission leaked: etcd holders $holders"
        [ ! -e "$T/state/permission.json" ] || echo "fail permission.json left: $(cat "$T/state/permission.json")"
        ctl_json status > "$T/status.json"
        ctl_json conditions > "$T/conditions.json"
        python3 -c '
import json, sys
try:
    st, cs = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
except Exception as e:
    sys.exit("fail medicd does not answer: %r" % e)
for k in ("holder", "asking"):
    if st["coordinator"][k]:
        print("fail medicd still %s: %s" % (k, st["coordinator"][k]))
names = sorted(c["name"] for c in cs["conditions"])
if names != ["disk-ok", "hw", "wants-reboot"]:
    print("fail conditions lost: %s" % names)
' "$T/status.json" "$T/conditions.json" 2>&1
        state_files_parse "$T/state" "at the end" all || echo "fail a state file does not parse"
}

# ---- the listing run ------------------------------------------------------------------------
( scenario "$ROOT/list" kp-list 0 list ) > "$ROOT/list.out"
LIST="$ROOT/list/list"
ok "the listing run went through the whole life" test ! -s "$ROOT/list.out"
[ -s "$ROOT/list.out" ] && diag "$(cat "$ROOT/list.out")"
# SEGMENT NAME NTH for every point hit: SEGMENT 0 before the reboot, 1 after.
awk '$1 == "boot" { seg = 1; delete n; next } { k = $2; n[k]++; print seg + 0, k, n[k] }' "$LIST" > "$ROOT/points"
total=$(wc -l < "$ROOT/points")
distinct=$(cut -d' ' -f2 "$ROOT/points" | sort -u | wc -l)
diag "the listing: $total points hit ($distinct distinct names) in the life of the reboot and the maintenance"
ok "at least 100 points hit" test "$total" -ge 100
for p in rule-ask ask-recorded ask-sent grant-received grant-recorded grant-decided fire-before-record fire-recorded \
         intent-pre-reboot task-start:pre-reboot.d/10-pre-a task-exited:pre-reboot.d/20-pre-b pre-tasks-done \
         intent-rebooting ladder-step:watchdog watchdog-after ladder-deadline:watchdog sysrq-before:s sysrq-after:u \
         sysrq-before:b sysrq-after:b reboot-came-back task-exited:post-reboot.d/10-post post-tasks-done settle-healthy \
         settle-done reboot-settled reboot-intent-removed release-sent release-recorded maint-phase:draining \
         task-started:drain.d/10-drain maint-phase:holding maint-phase:undraining maint-phase:settling maint-phase:none \
         write-before-rename:state/state.json write-after-rename:state/permission.json; do
        grep -q " $p " "$ROOT/points" || fail "the listing has point $p" "$(cut -d' ' -f2 "$ROOT/points" | sort -u | tr '\n' ' ')"
done

# KILL_POINTS_ONLY=ERE: only the points whose names match (to look into one).
if [ -n "${KILL_POINTS_ONLY:-}" ]; then
        grep -E " (${KILL_POINTS_ONLY}) " "$ROOT/points" > "$ROOT/only"
        cp "$ROOT/only" "$ROOT/points"
        total=$(wc -l < "$ROOT/points")
fi
# Every point when there are at most MAX, else every distinct one first, then the others spread evenly.
if [ "$total" -le "$MAX" ]; then
        cp "$ROOT/points" "$ROOT/chosen"
else
        awk '!seen[$2]++' "$ROOT/points" > "$ROOT/chosen"
        grep -vxF -f "$ROOT/chosen" "$ROOT/points" > "$ROOT/rest"
        awk -v want=$(( MAX - $(wc -l < "$ROOT/chosen") )) -v n="$(wc -l < "$ROOT/rest")" \
                'want > 0 && int((NR - 1) * want / n) != int(NR * want / n)' "$ROOT/rest" >> "$ROOT/chosen"
fi

# ---- one run per point, LANES at a time -------------------------------------------------------
lane() {
        local i=0 seg name nth
        while read -r seg name nth; do
                i=$((i + 1))
                [ $(( i % LANES )) = "$1" ] || continue
                {
                        echo "point $i $seg $name $nth"
                        scenario "$ROOT/lane$1" "kp-$i" "$seg" "MEDIC_KILL_POINT=$name MEDIC_KILL_NTH=$nth"
                } > "$ROOT/run-$i.out" 2>&1
                [ "${MEDIC_TEST_KEEP:-0}" = 1 ] && cp -a "$ROOT/lane$1" "$ROOT/run-$i.dir"
        done < "$ROOT/chosen"
}
track_pidfile "$ROOT/pids"
started=$(date +%s)
lanes=()
for l in $(seq 0 $((LANES - 1))); do
        lane "$l" &
        lanes+=($!)
done
wait "${lanes[@]}"
elapsed=$(( $(date +%s) - started ))

ran=0 hit=0 bad=0
for f in "$ROOT"/run-*.out; do
        ran=$((ran + 1))
        grep -q '^hit ' "$f" && hit=$((hit + 1))
        if grep -qE '^(fail|error) ' "$f"; then
                bad=$((bad + 1))
                [ $bad -le 10 ] && diag "$(cat "$f")"
        fi
done
diag "$ran points run in ${elapsed}s ($LANES at a time): medicd killed at $hit of them"
is "$ran" "$(wc -l < "$ROOT/chosen")" "every chosen point ran"
ok "at least 100 points run" test "$ran" -ge 100
ok "medicd was killed at nearly every point ($hit of $ran; a timing-dependent occurrence may not come)" \
        test "$hit" -ge $(( ran * 9 / 10 ))
is "$bad" 0 "after every kill: no reboot twice, no task twice, no permission leaked, no condition lost"
ok "every state file parsed, after each kill and at the end" test ! -s "$STATE_FILES_BAD"
[ -s "$STATE_FILES_BAD" ] && diag "$(sort "$STATE_FILES_BAD" | uniq -c | head -n 20)"
done_testing
