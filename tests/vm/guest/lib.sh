#!/bin/sh
# SPDX-License-Identifier: MIT
# Helpers for the test scripts that run in the guest (/etc/vmt/guest.sh sources this).
#   mark KEY [TEXT]      prints "VMT[uptime]: KEY TEXT" on the serial console (the host harness
#                        collects these as markers)
#   mark_data KEY        the same with stdin as the value, base64-encoded on one line
#                        (the harness decodes it)
#   vmt_boot             this boot's number (the counter disk the initramfs increments)
#   wait_until SECONDS COMMAND...   polls every 0.5 s until COMMAND succeeds; 1 on timeout
#   save NAME            stdin to /var/lib/vmt/out/NAME (the host reads it from the image)
#   vmt_stay             the agent does not power the guest off after this boot's script
#                        (the script rebooted, or left a watchdog to fire, or medicd will act)
uptime_s() { cut -d' ' -f1 /proc/uptime; }
mark() { k=$1; shift; printf 'VMT[%s]: %s %s\n' "$(uptime_s)" "$k" "$*" > /dev/console; }
mark_data() { printf 'VMT[%s]: %s =b64:%s\n' "$(uptime_s)" "$1" "$(base64 -w0)" > /dev/console; }
vmt_boot() { dd if=/dev/vdb bs=512 count=1 2>/dev/null | tr -dc 0-9; }
wait_until() {
        _end=$(( $(date +%s) + $1 )); shift
        while ! "$@" >/dev/null 2>&1; do
                [ "$(date +%s)" -ge "$_end" ] && return 1
                sleep 0.5
        done
}
save() { mkdir -p /var/lib/vmt/out; cat > "/var/lib/vmt/out/$1"; }
vmt_stay() { : > /run/vmt-stay; }
