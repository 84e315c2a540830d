#!/bin/bash
# SPDX-License-Identifier: MIT
# The etcd coordinator with etcd's authentication on: a node with the right user and password
# (from a root-only file) registers and is granted; a wrong password gets nothing; a password
# file readable by others is refused.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/etcd-lib.sh"
setup 60
need_etcd
start_etcd
export ETCDCTL_API=3
etcdctl --endpoints="$ETCD_URL" user add root --new-user-password=s3cret --interactive=false >/dev/null 2>&1
etcdctl --endpoints="$ETCD_URL" user grant-role root root >/dev/null 2>&1
etcdctl --endpoints="$ETCD_URL" auth enable >/dev/null 2>&1 || bail_out "cannot enable etcd auth"
ok "etcd refuses anonymous requests now" bash -c "! etcdctl --endpoints=$ETCD_URL put /x y >/dev/null 2>&1"

# start_auth NAME PASSWORD [MODE]
start_auth() {
        client_conf "$1" g1
        printf '%s\n' "$2" > "$T/$1.pw"
        chmod "${3:-0600}" "$T/$1.pw"
        printf 'user = root\npassword_file = %s\n' "$T/$1.pw" >> "$T/$1.conf"
        mkfifo "$T/$1.in"; "$COORD_CLIENT" "$T/$1.conf" < "$T/$1.in" > "$T/$1.out" 2> "$T/$1.err" & track_pid $!
        exec {fd}> "$T/$1.in"; CLIENT_FD[$1]=$fd; echo 0 > "$T/$1.seen"
}
start_auth A s3cret
ok "A registers with user and password" client_wait A '^ready' 15
client_send A "acquire reboot"
ok "A is granted" client_wait A '^granted' 5
is "$(ETCDCTL_API=3 etcdctl --endpoints="$ETCD_URL" --user root:s3cret get --keys-only --prefix /medic/groups/g1/holders/ 2>/dev/null | grep -c holders/A)" 1 \
        "the holder key is written as that user"
start_auth B wrong
ok "B with a wrong password never registers" client_quiet B '^ready' 4
client_send B "try reboot"
like "$(client_wait B '^(granted|denied|unknown)' 10)" '^unknown' "B's request is not granted"
like "$(cat "$T/B.err")" 'cannot authenticate as root' "B's log says authentication failed"
start_auth C s3cret 0644
ok "a password file readable by others is refused" wait_for 5 "grep -q 'readable by group or others' $T/C.err"
done_testing
