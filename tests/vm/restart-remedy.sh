#!/bin/bash
# SPDX-License-Identifier: MIT
# The restart remedy against a real systemd (the integration test unit-remedy.sh can only
# show the D-Bus call failing on a bus without systemd). In a Debian guest, vmt-flaky.service
# runs; the test marks it stuck (/run/vmt-flaky.stuck, which the unit's ExecStartPre
# removes); medicd's check sees the flag, the rule `remedy = restart "vmt-flaky.service"`
# fires, and systemd restarts the unit: a new InvocationID and main process, the flag gone,
# the condition ok again, the remedy "done" in medicd's history and journal, and no second
# restart.
. "$top_srcdir/tests/vm/vm-lib.sh"
vm_setup 600

vm_local_conf
vm_file /etc/medic/checks.d/10-flaky.lua <<'EOF'
check "flaky-stuck" {
  every = "2s",
  run = function()
    if medic.stat("/run/vmt-flaky.stuck") then return problem("vmt-flaky is stuck") end
    return ok("vmt-flaky is fine")
  end,
}
EOF
vm_file /etc/medic/rules.d/10-flaky.lua <<'EOF'
rule "restart-flaky" { when = "flaky-stuck", remedy = restart "vmt-flaky.service", limit = "1/1h" }
EOF
vm_file /etc/systemd/system/vmt-flaky.service <<'EOF'
[Unit]
Description=VM test: a service medic restarts
[Service]
ExecStartPre=/bin/rm -f /run/vmt-flaky.stuck
ExecStart=/bin/sleep infinity
[Install]
WantedBy=multi-user.target
EOF
mkdir -p "$T/guest/etc/systemd/system/multi-user.target.wants"
ln -s /etc/systemd/system/vmt-flaky.service "$T/guest/etc/systemd/system/multi-user.target.wants/"
vm_guest_script <<'EOF'
#!/bin/bash
. /usr/local/lib/vmt/lib.sh
inv() { systemctl show vmt-flaky -p InvocationID --value; }
wait_until 120 systemctl is-active medicd vmt-flaky
mark ACTIVE "$(systemctl is-active medicd vmt-flaky | tr '\n' ' ')"
old=$(inv); oldpid=$(systemctl show vmt-flaky -p MainPID --value)
medicctl --json run-check flaky-stuck | mark_data BEFORE
mark OLD "$old $oldpid"
touch /run/vmt-flaky.stuck
mark STUCK "$(date +%s.%N)"
if wait_until 60 sh -c "[ \"\$(systemctl show vmt-flaky -p InvocationID --value)\" != '$old' ]"; then
        mark RESTARTED "$(date +%s.%N)"
else
        mark RESTARTED none
fi
wait_until 20 systemctl is-active vmt-flaky
mark NEW "$(inv) $(systemctl show vmt-flaky -p MainPID --value) $(systemctl is-active vmt-flaky)"
mark FLAG "$([ -e /run/vmt-flaky.stuck ] && echo present || echo gone)"
sleep 6                     # three more check runs: the condition clears, nothing fires again
medicctl --json conditions | mark_data CONDITIONS
medicctl --json history | mark_data HISTORY
mark LATER "$(inv)"
journalctl -o json -u medicd --no-pager | grep '"MEDIC_RULE":"restart-flaky"' |
        sed -n 's/.*"MESSAGE":"\([^"]*\)".*/\1/p' | mark_data JOURNAL-RULE
journalctl -u vmt-flaky --no-pager -o cat | mark_data UNIT-JOURNAL
EOF

ok "the guest image builds" vm_image t2 || bail_out "no image"
ok "the guest boots and powers itself off" vm_boot t2 --timeout 300
diag "boot: wall $(vm_get t2 "d['wall']") s"
vm_shutdown_ok t2 || { fail "the guest powered off by itself"; vm_show_log t2; }

like "$(vm_marker t2 ACTIVE)" '^active active' "medicd and vmt-flaky run"
like "$(vm_marker t2 BEFORE)" '"state": "ok"' "the condition is ok before the unit is marked stuck"
read -r old oldpid <<< "$(vm_marker t2 OLD)"
read -r new newpid newstate <<< "$(vm_marker t2 NEW)"
diag "InvocationID $old (pid $oldpid) -> $new (pid $newpid)"
restarted=$(vm_marker t2 RESTARTED)
stuck=$(vm_marker t2 STUCK)
if [ "$restarted" != none ] && [ -n "$restarted" ]; then
        pass "systemd restarted vmt-flaky: its InvocationID changed"
        diag "stuck -> restarted: $(python3 -c "print(round($restarted - $stuck, 2))") s (guest clock)"
else
        fail "systemd restarted vmt-flaky: its InvocationID changed"
fi
isnt_same() { [ -n "$1" ] && [ "$1" != "$2" ]; }
ok "a new main process" isnt_same "$newpid" "$oldpid"
is "$newstate" active "the restarted unit is active"
is "$(vm_marker t2 FLAG)" gone "ExecStartPre ran again (the stuck flag is gone)"
is "$(vm_marker t2 LATER)" "$new" "no second restart after the condition cleared"

cond=$(vm_marker t2 CONDITIONS | jget 'find(d["conditions"], "flaky-stuck")["state"]')
is "$cond" ok "the condition is ok again"
hist=$(vm_marker t2 HISTORY)
remedies=$(printf '%s\n' "$hist" | jget '[h for h in d["history"] if h.get("kind") == "remedy"]')
diag "remedy history: $remedies"
is "$(printf '%s\n' "$remedies" | jget 'len(d)')" 1 "one remedy ran"
is "$(printf '%s\n' "$remedies" | jget 'd[0]["decision"]')" done "systemd accepted it: decision done"
is "$(printf '%s\n' "$remedies" | jget 'd[0]["rule"]')" restart-flaky "by rule restart-flaky"
j=$(vm_marker t2 JOURNAL-RULE)
diag "journal (MEDIC_RULE=restart-flaky):" "$j"
like "$j" . "the journal holds the rule's entries with MEDIC_RULE"
u=$(vm_marker t2 UNIT-JOURNAL)
diag "vmt-flaky journal:" "$u"
is "$(printf '%s\n' "$u" | grep -c '^Started vmt-flaky.service')" 2 "the unit's journal shows two starts (boot, restart)"
done_testing
