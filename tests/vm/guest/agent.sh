#!/bin/sh
# SPDX-License-Identifier: MIT
# vmt-agent.service: runs the test's script, then powers the guest off (unless the script
# called vmt_stay, or /etc/vmt/end says "stay").
. /usr/local/lib/vmt/lib.sh
mark AGENT "boot $(vmt_boot): $(systemctl is-system-running 2>&1)"
if [ -x /etc/vmt/guest.sh ]; then
        /etc/vmt/guest.sh
        mark GUEST-EXIT "$?"
fi
sync
if [ -e /run/vmt-stay ] || [ "$(cat /etc/vmt/end 2>/dev/null)" = stay ]; then
        mark STAYING
else
        mark DONE "powering off"
        systemctl poweroff --no-block
fi
