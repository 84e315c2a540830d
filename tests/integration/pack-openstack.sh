#!/bin/bash
# SPDX-License-Identifier: MIT
# The openstack pack (rules/examples/openstack/) on four nodes of one cloud (group) on a real
# etcd: two gateways, a controller, a compute (their role a label); the pack's checks with
# their settings pointed at test files and stubs (virsh, the cluster services, dkms), the
# shipped reboot-request check on a flag file, the pack's tasks with openstack a stub. One node
# of the cloud at a time (etcd polled: never two holders); the last healthy gateway is not
# rebooted (control: with the other one back, it is); a controller without 3 healthy
# controllers is not, nor one whose cluster services are unhealthy; packages updating and a
# broken dkms hold a compute back; its reboot disables it and live-migrates its VMs before, and
# enables it after.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 150
need_etcd
. "$top_srcdir/tests/integration/nodes-lib.sh"
. "$top_srcdir/tests/integration/packs-lib.sh"
start_etcd

O="$PACKS/openstack"
G=cloud
RULE=cloud-reboot
ok "medicctl lint: the pack's rule with its checks and the shipped ones is clean" \
        env MEDICD="$MEDICD" timeout 20 "$MEDICCTL" lint "$O/openstack-checks.lua" "$top_srcdir/checks/reboot-request.lua" \
        "$top_srcdir/checks/dkms.lua" "$O/openstack.lua"

# openstack: logs "NODE ARGS"; a node named cmp* has a nova-compute; server list prints
# $N/servers, server migrate ID moves ID away (from $N/servers and $N/vms, virsh's list).
mkdir -p "$T/bin"
write_file "$T/bin/openstack" <<EOF
#!/bin/sh
N=$T/nodes/\$MEDIC_NODE
echo "\$MEDIC_NODE \$*" >> $T/openstack.log
case "\$*" in
"compute service list"*) case "\$MEDIC_NODE" in cmp*) echo 17 ;; esac ;;
"server list"*) cat "\$N/servers" 2>/dev/null ;;
"server migrate"*) for a; do id=\$a; done; sed -i "/^\$id\\\$/d" "\$N/servers" "\$N/vms" ;;
esac
exit 0
EOF
chmod 0755 "$T/bin/openstack"
oslog() { grep -nE -- "$1" "$T/openstack.log" 2>/dev/null | head -n 1 | cut -d: -f1; }

add() {        # add NODE ROLE
        local n=$1 N t
        N=$(node_dir "$1")
        node_add $n $G
        node_conf $n coordinator "max_unavailable = 1"
        node_conf $n medic "settings_dir = $N/etc"
        node_conf $n medic "labels = role=$2"
        cp "$O/openstack-checks.lua" "$N/checks/"
        sed 's/every = "10m",/every = "1s",/' "$top_srcdir/checks/dkms.lua" > "$N/checks/dkms.lua"
        sed 's/every = "1m",/every = "1s",/' "$top_srcdir/checks/reboot-request.lua" > "$N/checks/reboot-request.lua"
        cp "$O/openstack.lua" "$N/rules/50-reboot.lua"
        mkdir -p "$N/pre-reboot.d" "$N/post-reboot.d" "$N/abort.d"
        for t in 10-disable-compute 20-evacuate; do
                sed -e "/^#/!s|openstack |$T/bin/openstack |" -e "s|/run/medic|$N|g" "$O/$t" > "$N/pre-reboot.d/$t"
        done
        sed -e "/^#/!s|openstack |$T/bin/openstack |" -e "s|/run/medic|$N|g" "$O/enable-compute" > "$N/post-reboot.d/90-enable-compute"
        cp "$N/post-reboot.d/90-enable-compute" "$N/abort.d/"
        chmod 0755 "$N"/pre-reboot.d/* "$N"/post-reboot.d/* "$N"/abort.d/*
        printf '#!/bin/sh\ncat %s/vms 2>/dev/null; exit 0\n' "$N" > "$N/virsh"
        printf '#!/bin/sh\n[ ! -e %s/services-down ]\n' "$N" > "$N/services"
        printf '#!/bin/sh\n[ -e %s/dkms-broken ] && echo "nvidia/535, 6.1.0-99-amd64, x86_64: added" && exit 0\necho "nvidia/535, 6.1.0-99-amd64, x86_64: installed"\n' "$N" > "$N/dkms"
        chmod 0755 "$N/virsh" "$N/services" "$N/dkms"
        write_file "$N/etc/reboot-request.conf" <<EOF
files = { "$N/reboot-request" }
EOF
        write_file "$N/etc/dkms.conf" <<EOF
dkms = { "$N/dkms" }
kernel = "6.1.0-99-amd64"
EOF
        write_file "$N/etc/openstack.conf" <<EOF
every = "1s"
service_commands = { { "$N/services" } }
vms = { "$N/virsh" }
disabled_marker = "$N/compute-disabled"
lock_command = false
updating_flags = { "$N/updating" }
EOF
}
add gw1 gateway; add gw2 gateway; add ctl1 controller; add cmp1 compute
for n in gw1 gw2 ctl1 cmp1; do node_start $n; done
ok "the four nodes are registered" wait_for 15 "node_registered gw1 && node_registered gw2 && node_registered ctl1 && node_registered cmp1"
holders_poll $G
GW1=$(node_dir gw1) GW2=$(node_dir gw2) CTL=$(node_dir ctl1) CMP=$(node_dir cmp1)
ok "the checks ran: last-gateway ok on gw1, dkms ok on cmp1" \
        wait_for 10 '[ "$(node_cond gw1 last-gateway)" = ok ] && [ "$(node_cond cmp1 dkms)" = ok ]'
is "$(on gw1 ctl_json conditions | jget '[c["name"] for c in d["conditions"] if c["name"] in ("running-vms", "controller-quorum")]')" "[]" \
        "checks that are not about a node's role skip: no running-vms nor controller-quorum on a gateway"

# ---- the last healthy gateway ---------------------------------------------------------------------
node_stop gw2
ok "gw1: the last gateway (gw2 is down)" wait_for 15 '[ "$(node_cond gw1 last-gateway)" = problem ]'
touch "$GW1/reboot-request"
ok "gw1: reboot requested (the flag file)" wait_for 10 '[ "$(node_cond gw1 reboot-request)" = problem ]'
ok "gw1 is not rebooted" never_within 4 "node_holds gw1 || node_rebooted gw1"
is "$(step_ok gw1 $RULE blockers)" false "explain: the blockers step is not ok"
node_start gw2
ok "gw2 back: gw1 reboots" wait_for 20 "node_rebooted gw1"
rm -f "$GW1/reboot-request"
node_boot gw1
ok "gw1 gives the slot back" wait_for 20 "! node_holds gw1"

# ---- a controller: quorum, cluster services ---------------------------------------------------
touch "$CTL/services-down" "$CTL/reboot-request"
ok "ctl1: its cluster services are unhealthy" wait_for 10 '[ "$(node_cond ctl1 cluster-services)" = problem ]'
ok "ctl1: 1 healthy controller, fewer than 3" wait_for 10 '[ "$(node_cond ctl1 controller-quorum)" = problem ]'
like "$(on ctl1 cond_get controller-quorum message)" '1 healthy controller\(s\), fewer than 3' "controller-quorum says how many"
ok "ctl1 is not rebooted" never_within 3 "node_holds ctl1 || node_rebooted ctl1"
echo 'min_controllers = 1' >> "$CTL/etc/openstack.conf"
ok "min_controllers 1: the quorum is ok" wait_for 10 '[ "$(node_cond ctl1 controller-quorum)" = ok ]'
ok "the services still hold it back" never_within 3 "node_holds ctl1 || node_rebooted ctl1"
rm -f "$CTL/services-down"
ok "services healthy: ctl1 reboots" wait_for 20 "node_rebooted ctl1"
rm -f "$CTL/reboot-request"

# ---- a compute: packages, dkms, evacuation; one at a time ---------------------------------------
printf 'vm1\nvm2\n' > "$CMP/servers"; cp "$CMP/servers" "$CMP/vms"
touch "$CMP/updating" "$CMP/dkms-broken" "$CMP/reboot-request"
ok "cmp1: packages updating, dkms broken" wait_for 10 '[ "$(node_cond cmp1 packages-updating)" = problem ] && [ "$(node_cond cmp1 dkms)" = problem ]'
like "$(on cmp1 cond_get running-vms message)" '2 VM\(s\) run; the pre-reboot tasks evacuate them' "running-vms: VMs on an enabled compute are to be evacuated"
node_boot ctl1
rm -f "$CMP/updating"
ok "cmp1 does not reboot while dkms is broken" never_within 3 "node_holds cmp1 || node_rebooted cmp1"
rm -f "$CMP/dkms-broken"
ok "cmp1: disabled, evacuated, rebooted" wait_for 25 "node_rebooted cmp1"
ok "disabled before the migrations" test "$(oslog '^cmp1 compute service set --disable')" -lt "$(oslog '^cmp1 server migrate --live-migration --wait vm1$')"
is "$(cat "$CMP/vms")" "" "no VM left on cmp1 when it reboots"
rm -f "$CMP/reboot-request"
node_boot cmp1
ok "cmp1, back, is enabled" wait_for 15 "[ -n \"\$(oslog '^cmp1 compute service set --enable')\" ]"
ok "cmp1 gives the slot back" wait_for 20 "! node_holds cmp1"
is "$(oslog '^(gw|ctl)[0-9]* compute service set')" "" "the tasks did nothing to the computes of other nodes"

is "$(holders_max $G)" 1 "etcd never showed two holders of the cloud ($(count_lines "$T/holders-$G") reads)"
done_testing
