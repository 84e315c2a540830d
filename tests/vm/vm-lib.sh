# SPDX-License-Identifier: MIT
# Helpers for the VM tests (tests/vm/*.sh), on top of tests/integration/lib.sh (TAP, $T,
# cleanup). A test:
#
#   . "$top_srcdir/tests/vm/vm-lib.sh"
#   vm_setup 600                           # skips when QEMU/debootstrap/the archive are missing
#   vm_medic_conf <<EOF ... EOF            # /etc/medic/medic.conf of the guest
#   vm_file /etc/medic/checks.d/x.lua <<EOF ... EOF
#   vm_guest_script <<'EOF' ... EOF        # /etc/vmt/guest.sh: runs once the guest is up
#   vm_image t1 && vm_boot t1 --timeout 240
#   is "$(vm_marker t1 MEDICD-ACTIVE)" active "medicd is active"
#
# The guest overlay is $T/guest (copied over the guest's /). Results: $T/NAME.json (markers,
# QMP events, serial lines; see vmharness.py) and $T/NAME.log (the timed serial log, also
# shown as TAP comments when the boot failed). MEDIC_TEST_KEEP=1 keeps $T.
. "$top_srcdir/tests/integration/lib.sh"
VMH="$top_srcdir/tests/vm/vmharness.py"

# vm_setup [MAX_SECONDS]: setup (root, $T, the test's time limit) and the test bed's inputs.
vm_setup() {
        local out rc
        setup "${1:-600}"
        out=$(python3 "$VMH" inputs "$top_srcdir" 2> "$T/inputs.log")
        rc=$?
        if [ $rc = 77 ]; then
                echo "1..0 # SKIP ${out:-the VM test bed cannot run here}"
                exit 0
        fi
        if [ $rc != 0 ]; then
                sed 's/^/# /' "$T/inputs.log"
                bail_out "building the VM test bed's inputs failed"
        fi
        grep -q '^inputs: building' "$T/inputs.log" && sed 's/^/# /' "$T/inputs.log"
        diag "$(printf '%s\n' "$out" | grep -E '^(KVER|ACCEL)=' | tr '\n' ' ')"
        mkdir -p "$T/guest/etc/vmt" "$T/guest/etc/medic/checks.d" "$T/guest/etc/medic/rules.d"
}

# vm_file GUESTPATH [MODE]: stdin becomes GUESTPATH in the next image.
vm_file() {
        mkdir -p "$(dirname "$T/guest$1")"
        cat > "$T/guest$1"
        chmod "${2:-0644}" "$T/guest$1"
}

vm_medic_conf() { vm_file /etc/medic/medic.conf 0644; }

# vm_local_conf [LINE...]: the guest's medic.conf for acting on its own: dry_run = no, checks
# from /etc/medic/checks.d, rules from /etc/medic/rules.d, the local coordinator; then LINE...
vm_local_conf() {
        {
                printf '[medic]\ndry_run = no\nchecks = /etc/medic/checks.d\nrules = /etc/medic/rules.d\n\n'
                printf '[coordinator]\nbackend = local\n'
                [ $# -gt 0 ] && printf '%s\n' "$@"
        } | vm_medic_conf
}

# vm_guest_script: stdin becomes /etc/vmt/guest.sh (sh; mark/mark_data/wait_until/save from
# /usr/local/lib/vmt/lib.sh are available after `. /usr/local/lib/vmt/lib.sh`).
vm_guest_script() { vm_file /etc/vmt/guest.sh 0755; }

# vm_image NAME [--no-medic]: builds $T/NAME.img from the cached root file system, medic's
# build (not with --no-medic: a guest to install a package into) and $T/guest.
vm_image() {
        python3 "$VMH" image "$top_srcdir" "$T/$1.img" --overlay "$T/guest" ${2:+"$2"} > "$T/$1.image.log" 2>&1 || {
                sed 's/^/# /' "$T/$1.image.log"
                return 1
        }
}

# vm_boot NAME [vmharness boot options]: boots $T/NAME.img until QEMU exits (or the
# options' --until/--max-boots/--timeout). Returns 1 when the harness failed.
vm_boot() {
        local name=$1 pid rc
        shift
        python3 "$VMH" boot "$top_srcdir" "$T/$name.img" --json "$T/$name.json" --log "$T/$name.log" "$@" \
                > "$T/$name.boot.out" 2>&1 &
        pid=$!
        track_pid "$pid"      # killed (and QEMU with it: PDEATHSIG) if the test is stopped
        wait "$pid"
        rc=$?
        [ $rc = 0 ] || { sed 's/^/# /' "$T/$name.boot.out"; return 1; }
}

# vm_get NAME EXPR: evaluates EXPR on the boot result (d; see Result.as_dict in vmharness.py).
vm_get() { jget "$2" < "$T/$1.json"; }

# vm_marker NAME KEY: the value of the last marker KEY printed by the guest (null if none).
vm_marker() {
        vm_get "$1" "([v for t, k, v in d['markers'] if k == '$2'] or [None])[-1]"
}

# vm_shutdown_ok NAME: QEMU ended because the guest powered itself off.
vm_shutdown_ok() {
        [ "$(vm_get "$1" "any(e == 'SHUTDOWN' and x.get('reason') == 'guest-shutdown' for t, e, x in d['events'])")" = true ] &&
        [ "$(vm_get "$1" "d['timed_out']")" = false ]
}

# vm_show_log NAME: the last lines of the serial log as TAP comments.
vm_show_log() { tail -n "${2:-60}" "$T/$1.log" | sed 's/^/# /'; }

# vm_read NAME GUESTPATH: a file of the guest's file system (after QEMU exited).
vm_read() { python3 "$VMH" read "$T/$1.img" "$2"; }

# vm_reboot_bed [KEY=VALUE...]: the guest of the reboot tests. medic.conf with the local
# coordinator and a [reboot] section (KEY=VALUE overrides its defaults: methods, the deadlines,
# watchdog_timeout, settle, settle_timeout); the check wants-reboot, a problem while
# /run/vmt-reboot.flag exists (a tmpfs: gone after the reboot); the health check root-fs; the
# rule reboot-flag (reboot {}, limit 3/1h; retry=DURATION gives it a retry).
vm_reboot_bed() {
        local -A k=([methods]="systemd sysrq watchdog" [systemd_deadline]=60s [sysrq_deadline]=20s
                    [watchdog_deadline]=30s [watchdog_timeout]=5s [settle]=5s [settle_timeout]=2m)
        local a key retry=""
        for a; do
                case $a in
                retry=*) retry=", retry = \"${a#retry=}\"" ;;
                *=*) [ -n "${k[${a%%=*}]+set}" ] || bail_out "vm_reboot_bed: unknown key ${a%%=*}"
                     k[${a%%=*}]=${a#*=} ;;
                esac
        done
        local lines=("" "[reboot]")
        for key in methods systemd_deadline sysrq_deadline watchdog_deadline watchdog_timeout settle settle_timeout; do
                lines+=("$key = ${k[$key]}")
        done
        vm_local_conf "${lines[@]}"
        vm_file /etc/medic/checks.d/10-reboot.lua <<'LUA'
check "wants-reboot" {
  every = "1s",
  run = function()
    if medic.stat("/run/vmt-reboot.flag") then return problem("the test asks for a reboot") end
    return ok("nothing to do")
  end,
}
check "root-fs" {
  every = "2s",
  health = true,
  run = function()
    if medic.stat("/etc/os-release") then return ok("the root file system is there") end
    return problem("no /etc/os-release")
  end,
}
LUA
        echo "rule \"reboot-flag\" { when = \"wants-reboot\", remedy = reboot {}, limit = \"3/1h\"$retry }" |
                vm_file /etc/medic/rules.d/10-reboot.lua
}
