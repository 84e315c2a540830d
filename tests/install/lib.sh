# SPDX-License-Identifier: MIT
# Helpers for the packaging and install tests (tests/install/*.sh). They use the TAP helpers
# of tests/integration/lib.sh (plan, ok, is, like, skip, diag, done_testing, ...):
#
#   . "$top_srcdir/tests/install/lib.sh"
#   install_setup 300 [root]       # $T, a watchdog; "root": SKIP unless run as root
#   deb=$(build_deb) || ...        # `make deb` once per source state, shared between tests
#
# Packages are built by the real `make deb` / `make rpm` into $top_builddir/packages and
# reused by the other tests of the same run while no source file is newer than the build.

. "$top_srcdir/tests/integration/lib.sh"

PKG_DIR="$top_builddir/packages"
PKG_LOCK="$top_builddir/.medic-packages.lock"
# Debian roots built by mmdebstrap are kept here between runs (a tarball per package list).
MEDIC_TEST_CACHE=${MEDIC_TEST_CACHE:-/var/cache/medic-test}

# install_setup MAX_SECONDS [root]: a temp dir $T removed on exit, and a watchdog that ends
# the test after MAX_SECONDS. Long steps must also be bounded with timeout(1): the watchdog's
# TERM is handled only after the running command returns.
install_setup() {
        local max=$1
        if [ "${2:-}" = root ] && [ "$(id -u)" != 0 ]; then
                echo "1..0 # SKIP must run as root"
                exit 0
        fi
        T=$(mktemp -d /tmp/medic-install.XXXXXX) || bail_out "mktemp failed"
        chmod 0755 "$T"
        trap _cleanup EXIT
        trap 'echo "Bail out! interrupted"; exit 1' INT
        trap 'echo "Bail out! test took longer than its limit"; exit 1' TERM
        (
                trap 'kill "$sp" 2>/dev/null; exit 0' TERM
                sleep "$max" &
                sp=$!
                wait "$sp" && kill -TERM $$
        ) &
        _watchdog_pid=$!
}

# need_cmd CMD PACKAGE: SKIPs the whole test when CMD is missing.
need_cmd() {
        command -v "$1" >/dev/null 2>&1 && return 0
        echo "1..0 # SKIP $1 not found (Debian package $2)"
        exit 0
}

# _sources_newer_than FILE: prints a source file newer than FILE, if any.
_sources_newer_than() {
        find "$top_srcdir/lib" "$top_srcdir/io" "$top_srcdir/lua" "$top_srcdir/detect" "$top_srcdir/act" "$top_srcdir/coord" \
                "$top_srcdir/daemon" "$top_srcdir/ctl" "$top_srcdir/checks" "$top_srcdir/rules" "$top_srcdir/man" \
                "$top_srcdir/packaging" "$top_srcdir/configure.ac" "$top_srcdir/Makefile.am" \
                "$top_srcdir/README.md" "$top_srcdir/HACKING.md" \
                -newer "$1" -type f -print -quit 2>/dev/null
}

# _make_package TARGET STAMP LOG [VAR=VALUE...]: runs `make TARGET VAR=VALUE...` unless STAMP
# is newer than every source file; serialized between tests by a lock. Returns make's status.
_make_package() {
        local target=$1 stamp=$2 log=$3 rc=0
        shift 3
        (
                flock -w 900 9 || { echo "cannot lock $PKG_LOCK" >> "$log"; exit 1; }
                if [ -f "$stamp" ] && [ -z "$(_sources_newer_than "$stamp")" ]; then
                        echo "reusing the build of $(cat "$stamp")" >> "$log"
                        exit 0
                fi
                rm -f "$stamp"
                # A make of its own, not a part of the `make check` that runs this test; at the
                # lowest priority, so that the timing of the tests running beside it holds.
                env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
                        timeout 900 nice -n 19 make -C "$top_builddir" "$target" "$@" >> "$log" 2>&1 || exit 1
                date '+%F %T' > "$stamp"
        ) 9> "$PKG_LOCK" || rc=1
        return $rc
}

# build_deb [DEB_VERSION]: builds the .deb (as DEB_VERSION when given, without running the
# unit tests again) and prints its path. make's output goes to $T/make-deb*.log.
build_deb() {
        local v=${1:-} stamp log
        if [ -n "$v" ]; then
                stamp="$PKG_DIR/.stamp-deb-$v"
                log="$T/make-deb-$v.log"
                _make_package deb "$stamp" "$log" DEB_VERSION="$v" \
                        DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" || return 1
                ls -1 "$PKG_DIR"/medic_"${v#*:}"_*.deb 2>/dev/null | head -n 1
        else
                stamp="$PKG_DIR/.stamp-deb"
                log="$T/make-deb.log"
                _make_package deb "$stamp" "$log" DEB_BUILD_OPTIONS="parallel=$(nproc)" || return 1
                ls -1 "$PKG_DIR"/medic_"$(_pkg_version)"-1_*.deb 2>/dev/null | head -n 1
        fi
}

# build_rpm: builds the .rpm and prints its path.
build_rpm() {
        _make_package rpm "$PKG_DIR/.stamp-rpm" "$T/make-rpm.log" || return 1
        ls -1 "$PKG_DIR"/medic-"$(_pkg_version)"-1.*.rpm 2>/dev/null | head -n 1
}

_pkg_version() {
        sed -n 's/^PACKAGE_VERSION = //p' "$top_builddir/Makefile"
}

# show_log FILE: the last lines of FILE as TAP comments.
show_log() {
        [ -f "$1" ] && tail -n "${2:-40}" "$1" | sed 's/^/# /'
        return 0
}
