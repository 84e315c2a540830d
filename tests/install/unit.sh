#!/bin/bash
# SPDX-License-Identifier: MIT
# The systemd unit: it loads cleanly (systemd-analyze verify), keeps what medicd's job needs
# (reboot, sysrq, watchdog, D-Bus, tasks), and its exposure score from
# `systemd-analyze security --offline=true` does not get worse than the recorded 7.1.
. "$top_srcdir/tests/install/lib.sh"
install_setup 60
need_cmd systemd-analyze systemd
MAX_EXPOSURE=7.1

# The unit as `make install` writes it, pointing at the built medicd (verify checks ExecStart).
unit="$T/medicd.service"
sed -e "s|@sbindir[@]|$top_builddir|g" -e "s|@sysconfdir[@]|$T|g" \
        "$top_srcdir/packaging/medicd.service.in" > "$unit"

out=$(systemd-analyze verify --man=no "$unit" 2>&1); rc=$?
is "$rc" 0 "systemd-analyze verify exits 0"
is "$out" "" "systemd-analyze verify prints no warning"

prop() { sed -n "s/^$1=//p" "$unit" | tail -n 1; }
is "$(prop Type)" notify "Type=notify"
is "$(prop Restart)" on-failure "Restart=on-failure"
like "$(prop WatchdogSec)" '^[0-9]+s$' "WatchdogSec= is set"
is "$(prop StateDirectoryMode)" 0700 "the state directory is private (0700)"
unlike "$(cat "$unit")" '^RuntimeDirectory=' "no RuntimeDirectory= (systemd would chown /run/medic to root:root)"

sec=$(systemd-analyze security --offline=true "$unit" 2>&1); rc=$?
is "$rc" 0 "systemd-analyze security --offline=true exits 0"
score=$(printf '%s\n' "$sec" | sed -n 's/.*Overall exposure level for medicd.service: \([0-9.]*\).*/\1/p')
diag "exposure score: ${score:-none}"
ok "exposure score ${score:-?} is at most $MAX_EXPOSURE" \
        awk -v s="${score:-99}" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s + 0 <= m + 0) }'

# Each line of the report is "+ SETTING  description" (restricted) or "- SETTING ..." (exposed);
# ✓ and ✗ in a UTF-8 locale.
mark() { printf '%s\n' "$sec" | sed 's/^✓/+/; s/^✗/-/' | awk -v s="$1" '$2 == s { print $1; exit }'; }
# Taken away: fails if one of these goes missing.
for s in PrivateTmp= ProtectControlGroups= ProtectHostname= RestrictRealtime= \
        LockPersonality= RestrictNamespaces=~user SystemCallArchitectures= \
        'RestrictAddressFamilies=~AF_PACKET' 'RestrictAddressFamilies=~…' SystemCallFilter=~@debug \
        SystemCallFilter=~@obsolete SystemCallFilter=~@clock SystemCallFilter=~@reboot SystemCallFilter=~@swap CapabilityBoundingSet=~CAP_SYS_TIME \
        CapabilityBoundingSet=~CAP_WAKE_ALARM CapabilityBoundingSet=~CAP_MKNOD; do
        is "$(mark "$s")" + "restricted: $s"
done
# ProtectClock=yes implies DeviceAllow=char-rtc, which before systemd v253 denies every other
# device (the watchdog, /dev/kmsg, /dev/ipmi*); the clock is protected by the two lines above.
is "$(prop ProtectClock)$(prop DeviceAllow)$(prop PrivateDevices)" "" \
        "no ProtectClock=, DeviceAllow= or PrivateDevices=: every device stays reachable"
like "$(prop ProtectHome)" '^(read-only|yes|tmpfs)$' "ProtectHome= restricts /home and /root"
# Kept for the job: fails if a hardening change would break rebooting (D-Bus, sysrq,
# watchdog), the detectors or remedies.
for s in CapabilityBoundingSet=~CAP_SYS_BOOT ProtectKernelTunables= PrivateDevices= \
        RestrictAddressFamilies=~AF_UNIX RestrictAddressFamilies=~AF_NETLINK \
        'RestrictAddressFamilies=~AF_(INET|INET6)' SystemCallFilter=~@mount \
        CapabilityBoundingSet=~CAP_SYS_ADMIN ProtectKernelModules= CapabilityBoundingSet=~CAP_SYS_MODULE \
        PrivateNetwork= CapabilityBoundingSet=~CAP_SYS_PTRACE ProtectKernelLogs= ProtectSystem= \
        PrivateMounts= CapabilityBoundingSet=~CAP_SYS_RAWIO; do
        is "$(mark "$s")" - "kept for medic's job: $s"
done

done_testing
