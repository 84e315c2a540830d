#!/bin/bash
# SPDX-License-Identifier: MIT
# The staged pack (rules/examples/staged/) on four nodes in two sets (groups) on a real etcd:
# the pack's checks with their settings pointed at test files, its rules with holds shortened
# and the task directories replaced by sed on copies, its tasks with apt-get a stub. At most
# 10% of each set (one of three; etcd polled: never two holders of a set), while the other set
# has its own node out at the same time; a node blocked by an uninterruptible job, or by its
# machine type's automation being off, does not ask (control: unblocked, it goes ahead) and is
# escalated once it waited longer than stuck_after; after its maintenance a node settles (the
# rule's settle: it keeps the permission until node-health has been ok for the settle time)
# and the next node of its set waits for it; a sick node holds its set back (set-unavailable,
# the group view).
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 150
need_etcd
. "$top_srcdir/tests/integration/nodes-lib.sh"
. "$top_srcdir/tests/integration/packs-lib.sh"
start_etcd

S="$PACKS/staged"
RULE=staged-updates
ok "medicctl lint: the pack's rules with its checks and the shipped ones are clean" \
        env MEDICD="$MEDICD" timeout 20 "$MEDICCTL" lint "$S/staged-checks.lua" "$top_srcdir/checks/newer-kernel.lua" \
        "$top_srcdir/checks/logins.lua" "$S/staged.lua"

# copy_sed SRC DEST SED-EXPR...: a copy with each substitution, which must change the file.
copy_sed() {
        local src=$1 dst=$2 e
        shift 2
        cp "$src" "$dst.tmp"
        for e in "$@"; do
                sed "$e" "$dst.tmp" > "$dst.new"
                cmp -s "$dst.tmp" "$dst.new" && bail_out "$(basename "$src"): '$e' changes nothing"
                mv "$dst.new" "$dst.tmp"
        done
        chmod "$(stat -c %a "$src")" "$dst.tmp"
        mv "$dst.tmp" "$dst"
}

# apt-get: logs "NODE ARGS"; dist-upgrade installs the updates (removes $N/updates) unless
# $N/hold exists (the maintenance then lasts until the test removes both).
mkdir -p "$T/bin"
write_file "$T/bin/apt-get" <<EOF
#!/bin/sh
echo "\$MEDIC_NODE \$*" >> $T/apt.log
case "\$*" in *dist-upgrade*) [ -e "$T/nodes/\$MEDIC_NODE/hold" ] || rm -f "$T/nodes/\$MEDIC_NODE/updates" ;; esac
exit 0
EOF
chmod 0755 "$T/bin/apt-get"

add() {        # add NODE SET TYPE
        local n=$1 N
        N=$(node_dir "$1")
        node_add $n $2
        node_conf $n coordinator "max_unavailable = 10%"
        node_conf $n medic "settings_dir = $N/etc"
        node_conf $n medic "labels = type=$3"
        node_conf $n reboot "stuck_after = 4s"
        node_conf $n reboot "notify_command = $T/notify"
        cp "$S/staged-checks.lua" "$top_srcdir/checks/logins.lua" "$N/checks/"
        copy_sed "$top_srcdir/checks/newer-kernel.lua" "$N/checks/newer-kernel.lua" "s|\"/boot/vmlinuz-\*\"|\"$N/boot/vmlinuz-*\"|"
        copy_sed "$S/staged.lua" "$N/rules/60-staged.lua" 's/holds  = "10m"/holds  = "1s"/g' \
                "s|/etc/medic/staged/|$N/|g" 's/settle = "30m"/settle = "8s"/' 's/settle_timeout = "2h"/settle_timeout = "1m"/'
        mkdir -p "$N/drain.d" "$N/undrain.d" "$N/jobs" "$N/disabled"
        copy_sed "$S/apply-updates" "$N/drain.d/50-apply-updates" "/^#/!s|apt-get |$T/bin/apt-get |"
        printf '#!/bin/sh\ntouch %s/maintained\n' "$N" > "$N/undrain.d/90-undrained"
        chmod 0755 "$N/undrain.d/90-undrained"
        printf '#!/bin/sh\n[ ! -e %s/updates ] && exit 1\ncat %s/updates\n' "$N" "$N" > "$N/updates-pending"
        printf '#!/bin/sh\n[ ! -e %s/sick ]\n' "$N" > "$N/health"
        chmod 0755 "$N/updates-pending" "$N/health"
        : > "$N/utmp"
        write_file "$N/etc/logins.conf" <<EOF
utmp = "$N/utmp"
every = "1s"
EOF
        write_file "$N/etc/staged.conf" <<EOF
every = "1s"
updates = { "$N/updates-pending" }
disabled_dir = "$N/disabled"
jobs_dir = "$N/jobs"
health = { "$N/health" }
EOF
}
printf '#!/bin/sh\necho "$1 $MEDIC_NODE $MEDIC_RULE" >> %s/notified\n' "$T" > "$T/notify"
chmod 0755 "$T/notify"
add sa s1 web; add sb s1 web; add sc s1 gpu; add sd s2 db
for n in sa sb sc sd; do node_start $n; done
ok "the four nodes are registered" wait_for 15 "node_registered sa && node_registered sb && node_registered sc && node_registered sd"
holders_poll s1
holders_poll s2
A=$(node_dir sa) B=$(node_dir sb) C=$(node_dir sc) D=$(node_dir sd)
ok "node-health is ok" wait_for 10 '[ "$(node_cond sa node-health)" = ok ]'
is "$(on sa ctl_json conditions | jget '[c["name"] for c in d["conditions"] if c["name"] == "newer-kernel"]')" "[]" \
        "the kernel check does not apply (no images): no condition"
drained() { grep -q "^$1 -q -y .*dist-upgrade" "$T/apt.log" 2>/dev/null; }

# ---- blocked: an uninterruptible job on B, automation off for C's type ------------------------
touch "$B/jobs/backup" "$C/disabled/gpu"
touch "$A/hold" "$A/updates" "$B/updates" "$C/updates" "$D/hold" "$D/updates"
ok "A: maintenance required, granted, drained (apt-get dist-upgrade)" wait_for 20 "node_holds sa && drained sa"
ok "D, in the other set, is out at the same time" wait_for 20 "node_holds sd && drained sd && node_holds sa"
ok "B (a job) and C (gpu automation off) do not ask" never_within 4 "node_holds sb || node_queued sb || node_holds sc || node_queued sc"
is "$(step_ok sb $RULE blockers)" false "B: explain: the blockers step is not ok"
like "$(on sb ctl_json explain $RULE)" 'uninterruptible-job' "B: explain names the job"
like "$(on sc cond_get automation-disabled message)" "disabled by $C/disabled/gpu" "C: automation-disabled names the flag"
ok "C, waiting longer than stuck_after, is escalated (waiting-too-long)" \
        wait_for 10 "grep -q '^waiting-too-long sc $RULE\$' $T/notified"
ok "A stays out while the updates are not installed" node_holds sa

# ---- settle: the next node of the set waits for A ---------------------------------------------
rm -f "$B/jobs/backup"
ok "B, unblocked, still waits while A holds (10% of 3 is 1)" never_within 3 "node_holds sb || drained sb"
rm -f "$A/hold" "$A/updates"
ok "A: the updates installed, undrained; it settles, keeping the permission" \
        wait_for 15 "[ -e $A/maintained ] && [ \"\$(on sa rule_get $RULE maintenance)\" = settling ] && node_holds sa"
like "$(on sa ctl_json explain $RULE | jget 'd["reason"]')" "settling for .*every health condition ok for 8s" \
        "A: explain says what the settle waits for"
like "$(on sa ctl status)" "maintenance: +settling for rule $RULE since " "A: medicctl status shows the settle and since when"
ok "B waits for A to settle" never_within 3 "node_holds sb || drained sb"
ok "A settled: B gets the slot and is drained" wait_for 20 "node_holds sb && drained sb"
ok "A gave the slot back after its settle" test "$(on sa rule_get $RULE maintenance)" = null
ok "B, done and settled, gives the slot back" wait_for 25 "! node_holds sb && [ -e $B/maintained ]"

# ---- a sick node holds its set back ------------------------------------------------------------
is "$(node_cond sb node-health)" ok "B is healthy"
touch "$B/sick"
ok "B is sick: node-health is a problem" wait_for 10 '[ "$(node_cond sb node-health)" = problem ]'
rm -f "$C/disabled/gpu"
ok "C's automation is on again, but B's sickness holds it back" never_within 4 "node_holds sc || drained sc"
like "$(on sc cond_get set-unavailable message)" 'sb \(not healthy\)' "C: set-unavailable names B"
rm -f "$B/sick"
ok "B healthy: C is maintained" wait_for 20 "drained sc"
rm -f "$D/hold" "$D/updates"
ok "D, done, gives its set's slot back" wait_for 15 "! node_holds sd"

is "$(holders_max s1)" 1 "etcd never showed two holders of set s1 ($(count_lines "$T/holders-s1") reads)"
is "$(holders_max s2)" 1 "set s2: one holder at most"
done_testing
