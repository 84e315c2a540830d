#!/bin/bash
# SPDX-License-Identifier: MIT
# The journald catalog: every MESSAGE_ID in io/log.h has an entry with a subject, a
# documentation link and a text, and the real journalctl compiles the file into a test root
# (journalctl --update-catalog --root=DIR) and lists and prints every entry from there.
. "$top_srcdir/tests/install/lib.sh"
install_setup 60
need_cmd journalctl systemd

catalog="$top_srcdir/packaging/medic.catalog"
ids=$(sed -n 's/^#define MEDIC_MSG_[A-Z_]* "\([0-9a-f]\{32\}\)"$/\1/p' "$top_srcdir/io/log.h" | sort)
n_ids=$(printf '%s\n' "$ids" | grep -c .)
ok "io/log.h defines MESSAGE_IDs ($n_ids)" test "$n_ids" -ge 10
entries=$(sed -n 's/^-- \([0-9a-f]\{32\}\)$/\1/p' "$catalog" | sort)
is "$(printf '%s\n' "$entries" | uniq -d)" "" "no MESSAGE_ID has two entries"
is "$(comm -23 <(printf '%s\n' "$ids") <(printf '%s\n' "$entries"))" "" \
        "every MESSAGE_ID in io/log.h has a catalog entry"
is "$(comm -13 <(printf '%s\n' "$ids") <(printf '%s\n' "$entries"))" "" \
        "every catalog entry is a MESSAGE_ID of io/log.h"

# Compile it where journalctl looks for catalogs, inside a test root.
mkdir -p "$T/root/usr/lib/systemd/catalog"
cp "$catalog" "$T/root/usr/lib/systemd/catalog/medic.catalog"
out=$(timeout 30 journalctl --root="$T/root" --update-catalog 2>&1); rc=$?
is "$rc" 0 "journalctl --update-catalog exits 0"
is "$out" "" "journalctl --update-catalog prints no warning"
ok "the catalog database was written" test -s "$T/root/var/lib/systemd/catalog/database"

listed=$(journalctl --root="$T/root" --list-catalog 2>&1 | awk '$2 == "medic:" { print $1 }' | sort)
is "$listed" "$ids" "journalctl --list-catalog lists every MESSAGE_ID as defined by medic"

bad=""
for id in $ids; do
        text=$(journalctl --root="$T/root" --dump-catalog "$id" 2>/dev/null)
        subject=$(printf '%s\n' "$text" | sed -n 's/^Subject: //p')
        body=$(printf '%s\n' "$text" | sed '1,/^$/d' | grep -c '[a-z]')
        if [ -z "$subject" ] || ! printf '%s\n' "$text" | grep -q '^Documentation: man:' || [ "$body" -lt 3 ]; then
                bad="$bad $id"
        fi
done
is "${bad# }" "" "every entry has a Subject, a Documentation man: link and at least 3 lines of text"

# Fields used in the texts (@FIELD@) are fields medicd sends (io/log.h, medicd(8)).
fields=$(grep -o '@[A-Z_]*@' "$catalog" | sort -u | tr -d @)
unknown=""
for f in $fields; do
        grep -rqs "\"$f\"" "$top_srcdir/lib" "$top_srcdir/io" "$top_srcdir/lua" "$top_srcdir/detect" "$top_srcdir/act" "$top_srcdir/coord" "$top_srcdir/daemon" || unknown="$unknown $f"
done
is "${unknown# }" "" "every @FIELD@ in the catalog is a field medicd logs"

done_testing
