#!/bin/bash
# SPDX-License-Identifier: MIT
# The control socket under a flood of connections: an unprivileged user who opens hundreds of
# connections and holds them gets a few (the rest are closed at once), and root is still
# answered at once; a flood that exhausts medicd's file descriptors does not make it spin
# on accept(), and it answers again as soon as descriptors are free.
. "$top_srcdir/tests/integration/lib.sh"
setup 90
FLOOD="$top_srcdir/tests/helpers/conn-flood.py"
PY=/usr/bin/python3  # the system one: nobody may not reach a python3 in root's PATH
[ -x "$PY" ] || { echo "1..0 # SKIP /usr/bin/python3 is not installed"; exit 0; }
command -v setpriv >/dev/null || { echo "1..0 # SKIP setpriv is not installed"; exit 0; }
id nobody >/dev/null 2>&1 || { echo "1..0 # SKIP no user nobody"; exit 0; }
write_config
start_medicd
chmod 0755 "$T"
sock=$T/medicd.sock
cpu() { awk '{ print $14 + $15 }' "/proc/$MEDICD_PID/stat"; }   # utime + stime, in ticks
nfds() { find "/proc/$MEDICD_PID/fd" -mindepth 1 2>/dev/null | wc -l; }

# An unprivileged user holds 300 connections.
fds0=$(nfds)
setpriv --reuid=nobody --regid=nogroup --clear-groups "$PY" "$FLOOD" "$sock" 300 4 > "$T/flood1" 2>&1 &
track_pid $!
wait_for 10 "grep -q '^open' $T/flood1" || bail_out "the flood did not start: $(cat "$T/flood1")"
sleep 1
t0=$(now_ms); out=$(ctl status 2>&1); rc=$?; t1=$(now_ms)
is "$rc" 0 "root is answered during an unprivileged user's flood"
ok "within 2 s ($(( t1 - t0 )) ms)" test $(( t1 - t0 )) -lt 2000
n=$(nfds)
ok "medicd holds few of the flood's connections ($(( n - fds0 )) more descriptors than before)" test $(( n - fds0 )) -le 20
wait_for 10 "grep -q '^kept' $T/flood1"
kept=$(sed -n 's/^kept \([0-9]*\) .*/\1/p' "$T/flood1")
ok "at most 8 connections of one user are kept open (kept ${kept:-?})" test "${kept:-999}" -le 8
ok "the refusal is logged" log_has 'too many control connections from uid'

# Root floods past medicd's descriptor limit: no busy loop, answers once descriptors free up.
prlimit --pid "$MEDICD_PID" --nofile=64:64 || bail_out "prlimit failed"
python3 "$FLOOD" "$sock" 200 5 > "$T/flood2" 2>&1 &
fpid=$!
track_pid $fpid
wait_for 10 "grep -q '^open' $T/flood2" || bail_out "the flood did not start: $(cat "$T/flood2")"
sleep 1
c0=$(cpu); sleep 2; c1=$(cpu)
ticks=$(getconf CLK_TCK)
ok "medicd does not spin while out of descriptors ($(( c1 - c0 )) ticks in 2 s, of $(( 2 * ticks )))" \
        test $(( c1 - c0 )) -lt $(( ticks / 2 ))
ok "medicd says it is out of descriptors" log_has 'Cannot accept a control connection'
wait "$fpid" 2>/dev/null
ok "after the flood root is answered again" wait_for 10 "ctl status >/dev/null 2>&1"
ok "medicd is alive" daemon_alive
done_testing
