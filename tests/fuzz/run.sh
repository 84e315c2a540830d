#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make fuzz` (tests/fuzz/README.md): builds every libFuzzer target with clang
# (-fsanitize=fuzzer,address,undefined) and runs each for FUZZ_TIME seconds (default 60) on its
# committed seed corpus tests/fuzz/corpus/TARGET/ (replayed first: the regression inputs) and a
# scratch corpus in the build tree. Prints TAP: one test point per target.
# Make passes FUZZ_CC, FUZZ_CFLAGS (includes, defines), FUZZ_LIBS, srcdir, builddir.
# FUZZ_TARGETS="lua state" runs some only.
set -u
: "${FUZZ_CC:?}" "${srcdir:?}" "${builddir:?}"
FUZZ_TIME=${FUZZ_TIME:-60}
src=$(cd "$srcdir" && pwd)
out=$builddir/tests/fuzz
mkdir -p "$out/obj"

# What each target links besides its own file: pure lib/ code, or the daemon's objects (all of
# medicd but its main()): the .c files of Makefile.am's libmedic_core_a_SOURCES and
# libmedicd_a_SOURCES, so that a file added there is linked here too.
am_sources() { # VARIABLE: the .c files Makefile.am lists in it
        sed -n "/^$1 *=/,/^[^\t]*\$/p" "$src/Makefile.am" | sed "s/^$1 *=//" | tr ' \\\t' '\n\n\n' | grep '\.c$'
}
LIB_SOURCES=$(am_sources libmedic_core_a_SOURCES)
DAEMON_SOURCES="$LIB_SOURCES $(am_sources libmedicd_a_SOURCES)"
[ -n "$LIB_SOURCES" ] && [ "$(echo $DAEMON_SOURCES | wc -w)" -gt "$(echo $LIB_SOURCES | wc -w)" ] ||
        { echo "Bail out! cannot read the sources from $src/Makefile.am"; exit 1; }
ALL_TARGETS="config duration ratespec window budget lua state control etcd etcd-watch fleetlock dkms ipmi ipmi-sel"
declare -A uses=([config]=lib [duration]=lib [ratespec]=lib [window]=lib [budget]=lib [dkms]=none
        [lua]=daemon [state]=daemon [control]=daemon [etcd]=daemon [etcd-watch]=daemon [fleetlock]=daemon [ipmi]=daemon
        [ipmi-sel]=lib)
CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
        -DFUZZ_SRCDIR=\"$src\" -I$src/tests/fuzz ${FUZZ_CFLAGS:-}"

n=0 failed=0
tap() { n=$((n + 1)); echo "$1 $n - $2"; }

compile() { # SOURCE -> object path (rebuilt when the source or any header is newer)
        local o=$out/obj/$(echo "$1" | tr / _).o
        if [ ! -e "$o" ] || [ "$src/$1" -nt "$o" ] || [ -n "$(find "$src" -name '*.h' -newer "$o" -print -quit)" ]; then
                # shellcheck disable=SC2086
                $FUZZ_CC $CFLAGS -c "$src/$1" -o "$o" || return 1
        fi
        echo "$o"
}

objects() { # lib|daemon|none -> object list
        local s objs=""
        case $1 in lib) set -- $LIB_SOURCES ;; daemon) set -- $DAEMON_SOURCES ;; *) set -- ;; esac
        for s in "$@"; do objs="$objs $(compile "$s")" || return 1; done
        echo "$objs"
}

# The objects first, in parallel (compile() then finds them current).
export -f compile
export FUZZ_CC CFLAGS src out
printf '%s\n' $DAEMON_SOURCES | xargs -P "$(nproc)" -I{} bash -c 'compile {} >/dev/null' 2>/dev/null

targets=${FUZZ_TARGETS:-$ALL_TARGETS}
echo "1..$(echo $targets | wc -w)"
for t in $targets; do
        bin=$out/fuzz-$t log=$out/fuzz-$t.log
        if ! objs=$(objects "${uses[$t]}") ||
           ! $FUZZ_CC $CFLAGS -fsanitize=fuzzer "$src/tests/fuzz/fuzz-$t.c" $objs ${FUZZ_LIBS:-} -lm -o "$bin" 2>"$log"; then
                tap "not ok" "fuzz-$t: does not build"; [ -f "$log" ] && sed "s/^/# /" "$log" | head -n 20; failed=1; continue
        fi
        mkdir -p "$out/scratch/$t"
        seeds=""
        if [ "$t" = lua ]; then
                # The shipped checks, rules and packs are the Lua target's seeds, as they are now
                # (not copies in the corpus that go stale).
                seeds=$out/seeds/lua
                rm -rf "$seeds" && mkdir -p "$seeds"
                find "$src/checks" "$src/rules" -name '*.lua' | while read -r f; do
                        cp "$f" "$seeds/$(echo "${f#"$src"/}" | tr / -)"
                done
        fi
        extra=""
        [ -f "$src/tests/fuzz/fuzz-$t.dict" ] && extra="-dict=$src/tests/fuzz/fuzz-$t.dict"
        # shellcheck disable=SC2086
        ( cd "$out" && ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$FUZZ_TIME" -timeout=25 -rss_limit_mb=2048 \
                -max_len=65536 -print_final_stats=1 -artifact_prefix="$out/crash-$t-" $extra \
                "$out/scratch/$t" "$src/tests/fuzz/corpus/$t" $seeds ) > "$log" 2>&1
        rc=$?
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        if [ $rc -eq 0 ]; then
                tap "ok" "fuzz-$t: ${execs:-?} executions in ${FUZZ_TIME}s, no finding"
        else
                tap "not ok" "fuzz-$t: finding after ${execs:-?} executions (log $log, input $out/crash-$t-*)"
                grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -n 10 | sed 's/^/# /'
                failed=1
        fi
done
exit $failed
