#!/bin/bash
# SPDX-License-Identifier: MIT
# The source layers (HACKING.md): calls go down only. A file includes headers of its own
# folder and of the folders below it, never above; nothing below the daemon's root names the
# manager; only the permission owner talks to the coordinator about the slot.
. "$top_srcdir/tests/integration/lib.sh"
setup 30
cd "$top_srcdir" || exit 1

layers="lib io lua detect coord act daemon ctl"
rank() { local i=0 l; for l in $layers; do [ "$l" = "$1" ] && { echo $i; return; }; i=$((i + 1)); done; echo 99; }
# upward ROOT: "file->layer/header" for every include of a header above the file's layer.
upward() {
        local root=$1 d f inc t up=""
        declare -A where
        for d in $layers; do
                for f in "$root/$d"/*.[ch]; do where[$(basename "$f")]=$d; done
        done
        for d in $layers; do
                for f in "$root/$d"/*.[ch]; do
                        for inc in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
                                t=${where[$inc]:-}
                                [ -n "$t" ] && [ "$(rank "$t")" -gt "$(rank "$d")" ] && up="$up ${f#"$root"/}->$t/$inc"
                        done
                done
        done
        echo "${up# }"
}
is "$(upward .)" "" "no file includes a header of a layer above its own"
ok "there are sources in every layer" test "$(ls lib/*.c io/*.c lua/*.c detect/*.c coord/*.c act/*.c daemon/*.c ctl/*.c | wc -l)" -ge 40
# Control: the same scan over a copy where a remedy includes the manager's header.
for d in $layers; do mkdir -p "$T/src/$d" && cp "$d"/*.[ch] "$T/src/$d/"; done
sed -i '0,/^#include "/s//#include "manager.h"\n#include "/' "$T/src/act/remedy.c"
is "$(upward "$T/src")" "act/remedy.c->daemon/manager.h" "control: the scan finds a remedy that includes manager.h"

names=$(grep -lE '\bManager\b|"manager\.h"' lib/*.[ch] io/*.[ch] lua/*.[ch] detect/*.[ch] coord/*.[ch] act/*.[ch] ctl/*.[ch] |
        xargs -r grep -LE 'org\.freedesktop\.(systemd1|login1)\.Manager' | tr '\n' ' ')
is "${names% }" "" "nothing below daemon/ names the Manager (D-Bus interface names aside)"

callers=$(grep -lE 'coordinator_(request|release|withdraw)\(' lib io lua detect act daemon ctl coord -r --include='*.c' |
          grep -v -e '^coord/permission.c$' -e '^coord/coordinator.c$' | tr '\n' ' ')
is "${callers% }" "" "only the permission owner (coord/permission.c) asks, releases or withdraws"

done_testing
