# SPDX-License-Identifier: MIT
# Helpers of the rule-pack tests (pack-*.sh: rules/examples/*/ on several nodes on a real etcd).
# Source it after nodes-lib.sh.
#
#   pack_kubectl                       # $T/bin/kubectl: a stub that logs "ARGS" to $T/kubectl.log
#   pack_task A 10-cordon-drain pre-reboot.d   # the kubernetes pack's task, kubectl → the stub
#   kubectl_line ERE                   # the line of $T/kubectl.log that first matches
#   holders_poll G                     # polls etcd: the number of holders of G, in $T/holders-G
#   holders_max G                      # the most holders seen at once
#   step_ok A RULE STEP                # medicctl explain RULE on A: that step's ok (true/false)
#   file_check A NAME                  # a check NAME on A: problem while $N/NAME exists
#   window_now open|closed             # a window open (closed) now and for the next 24 h, UTC

[ -n "${NODES_T:-}" ] || bail_out "packs-lib.sh is sourced before nodes-lib.sh"
PACKS="$top_srcdir/rules/examples"

pack_kubectl() {
        mkdir -p "$NODES_T/bin"
        : > "$NODES_T/kubectl.log"
        printf '#!/bin/sh\necho "$*" >> %s/kubectl.log\n' "$NODES_T" > "$NODES_T/bin/kubectl"
        chmod 0755 "$NODES_T/bin/kubectl"
}

# pack_task NODE TASK DIR: the kubernetes pack's TASK copied into the node's DIR, its kubectl
# calls (the lines that are not comments) sent to the stub: the tasks' PATH is medicd's fixed one.
pack_task() {
        local d
        d="$(node_dir "$1")/$3"
        mkdir -p "$d"
        sed "/^#/!s|kubectl |$NODES_T/bin/kubectl |" "$PACKS/kubernetes/$2" > "$d/$2"
        chmod 0755 "$d/$2"
        grep -q "$NODES_T/bin/kubectl" "$d/$2" || bail_out "$2 does not call kubectl any more"
}

kubectl_line() { grep -nE -- "$1" "$NODES_T/kubectl.log" | head -n 1 | cut -d: -f1; }

holders_poll() {
        (
                while :; do
                        group_keys "$1" holders | grep -c . >> "$NODES_T/holders-$1"
                        sleep 0.2
                done
        ) &
        track_pid $!
}

holders_max() { sort -n "$NODES_T/holders-$1" 2>/dev/null | tail -n 1; }

step_ok() {
        on "$1" ctl_json explain "$2" | jget "[s['ok'] for s in d['steps'] if s['step'] == '$3'][0]"
}

file_check() {
        local n
        n=$(node_dir "$1")
        write_file "$n/checks/20-$2.lua" <<EOF
check "$2" { every = "1s", run = function()
  if medic.exists("$n/$2") then return problem("$2: test file") end
  return ok("no test file")
end }
EOF
}

window_now() {
        local today tomorrow days="" d
        today=$(LC_ALL=C date -u +%a)
        tomorrow=$(LC_ALL=C date -u -d tomorrow +%a)
        if [ "$1" = open ]; then
                echo "$today,$tomorrow 00:00-24:00 UTC"
                return
        fi
        for d in Mon Tue Wed Thu Fri Sat Sun; do
                [ "$d" = "$today" ] || [ "$d" = "$tomorrow" ] || days="$days${days:+,}$d"
        done
        echo "$days 00:00-24:00 UTC"
}
