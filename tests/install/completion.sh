#!/bin/bash
# SPDX-License-Identifier: MIT
# Bash completion for medicctl (packaging/medicctl.bash-completion), driven the way bash's
# programmable completion calls it (COMP_WORDS, COMP_CWORD, COMP_LINE), with and without the
# bash-completion package's helpers loaded: commands, options, and rule and check names from
# a running medicd (and nothing, quickly, when none answers).
. "$top_srcdir/tests/install/lib.sh"
setup 60
completion="$top_srcdir/packaging/medicctl.bash-completion"
BASH_COMPLETION_LIB=/usr/share/bash-completion/bash_completion

write_file "$T/checks/10-disk.lua" <<'EOF2'
check "disk-full" { every = "1h", run = function() return problem("full", { name = "nested" }) end }
check "net-down" { every = "1h", run = function() return ok("fine") end }
check "dns-slow" { every = "1h", run = function() return ok("fast") end }
EOF2
write_file "$T/rules/10-fix.lua" <<'EOF2'
rule "clean-disk" { when = "disk-full", remedy = command { "/bin/true" } }
rule "restart-net" { when = "net-down", remedy = command { "/bin/true" } }
rule "restart-resolver" { when = "dns-slow", remedy = command { "/bin/true" } }
EOF2

# complete_line [lib] LINE: the completions bash would offer for LINE (cursor at its end),
# one per line, sorted. With "lib", bash-completion's helpers (_init_completion) are loaded.
complete_line() {
        local lib=""
        if [ "$1" = lib ]; then lib=$BASH_COMPLETION_LIB; shift; fi
        PATH="$top_builddir:$PATH" LIB="$lib" COMPLETION="$completion" LINE="$1" \
                timeout 20 bash -c '
                        [ -n "$LIB" ] && . "$LIB"
                        . "$COMPLETION"
                        COMP_LINE=$LINE
                        COMP_POINT=${#LINE}
                        # Split like bash does: at blanks, and around "=" (in COMP_WORDBREAKS).
                        read -ra COMP_WORDS <<< "${LINE//=/ = }"
                        [[ $LINE == *" " ]] && COMP_WORDS+=("")
                        COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
                        spec=$(complete -p medicctl) || exit 3
                        fn=${spec#*-F }; fn=${fn%% *}
                        "$fn" medicctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
                        printf "%s\n" "${COMPREPLY[@]}" | sort' 2>&1
}
words() { printf '%s\n' "$@" | sort; }

spec=$(bash -c '. "$1"; complete -p medicctl' _ "$completion" 2>&1)
is "$spec" "complete -F _medicctl medicctl" "complete -p medicctl: completed by _medicctl"

modes="plain"
if [ -r "$BASH_COMPLETION_LIB" ]; then modes="plain lib"; else
        skip "with bash-completion's helpers" "$BASH_COMPLETION_LIB not installed (Debian package bash-completion)"
fi

sock="--socket $T/medicd.sock"
for mode in $modes; do
        m=""; [ "$mode" = lib ] && m=lib
        is "$(complete_line $m 'medicctl ')" \
                "$(words conditions coordinator explain fleet history lint reload rules run-check status test)" "$mode: all commands"
        is "$(complete_line $m 'medicctl r')" "$(words reload rules run-check)" "$mode: commands starting with r"
        is "$(complete_line $m 'medicctl --json st')" "status" "$mode: a command after an option"
        is "$(complete_line $m 'medicctl --')" \
                "$(words --config --help --json --label --limit --socket --timeout --version)" "$mode: long options"
        is "$(complete_line $m 'medicctl history --li')" "--limit" "$mode: an option after the command"
        is "$(complete_line $m 'medicctl --timeout ')" "" "$mode: nothing for --timeout's value"
        is "$(complete_line $m 'medicctl status ')" "" "$mode: status takes no argument"
        is "$(complete_line $m 'medicctl coordinator re')" "$(words release resume)" "$mode: coordinator actions"
        mkdir -p "$T/lintdir" && : > "$T/lintdir/50-x.lua"
        is "$(complete_line $m "medicctl lint $T/lintdir/")" "$T/lintdir/50-x.lua" "$mode: lint completes files"
        is "$(complete_line $m "medicctl test $T/lintdir/")" "$T/lintdir/50-x.lua" "$mode: test completes files"

        # No daemon on the socket: no names, and no long wait.
        start=$(now_ms)
        is "$(complete_line $m "medicctl $sock explain ")" "" "$mode: no daemon: no rule names"
        took=$(( $(now_ms) - start ))
        ok "$mode: no daemon: answered in ${took} ms (< 3000)" test "$took" -lt 3000
done

start_medicd
# Condition names come from results: wait until every check has delivered one.
for c in disk-full:problem net-down:ok dns-slow:ok; do
        wait_cond "${c%%:*}" "${c#*:}" 10 || diag "${c%%:*} did not become ${c#*:}"
done
for mode in $modes; do
        m=""; [ "$mode" = lib ] && m=lib
        is "$(complete_line $m "medicctl $sock explain ")" "$(words clean-disk restart-net restart-resolver)" \
                "$mode: explain completes rule names from medicd"
        is "$(complete_line $m "medicctl $sock explain restart-")" "$(words restart-net restart-resolver)" \
                "$mode: explain completes a rule name prefix"
        is "$(complete_line $m "medicctl $sock --json run-check ")" "$(words disk-full dns-slow net-down)" \
                "$mode: run-check completes check names (not names inside details)"
        is "$(MEDIC_SOCKET=$T/medicd.sock complete_line $m "medicctl run-check n")" "net-down" \
                "$mode: names from the daemon at \$MEDIC_SOCKET"
        is "$(complete_line $m "medicctl --socket=$T/medicd.sock explain cl")" "clean-disk" \
                "$mode: --socket=PATH is honoured"
        is "$(complete_line $m "medicctl $sock explain clean-disk ")" "" "$mode: explain takes one rule"
        is "$(complete_line $m "medicctl --socket $T/medicd.so")" "$T/medicd.sock" "$mode: --socket completes a path"
        is "$(complete_line $m "medicctl --socket=$T/medicd.so")" "$T/medicd.sock" "$mode: --socket=PATH completes a path"
done

done_testing
