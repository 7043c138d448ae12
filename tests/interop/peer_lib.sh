# shellcheck shell=bash
# peer_lib.sh: the line protocol between an interop test and the small
# client program it writes for a peer library (JSch, Ruby net-sftp,
# phpseclib), sourced after lib.sh. The test feeds the program lines
# "TAG<TAB>COMMAND<TAB>ARG..." (cmd); the program answers each command with
# a final line "TAG OK [text]" or "TAG ERR code [text]" in $T/NAME.out.

# cmd TAG CMD ARGS...: one command line for the client program.
cmd() {
    local IFS=$'\t'
    printf '%s\n' "$*"
}

# reply NAME TAG: the final line of that command's answer (empty if none).
reply() {
    { grep -aE "^$2 (OK|ERR)( |$)" "$T/$1.out" || true; } | tail -n 1
}

# want_ok NAME TAG: the command succeeded.
want_ok() {
    local r
    r=$(reply "$1" "$2")
    [[ $r == "$2 OK"* ]] || fail "$1: command $2 failed: ${r:-no answer}"
}

# want_err NAME TAG CODE: the command failed with the error CODE (a whole
# word: a status number, an exception id or a status name, followed by
# nothing, a blank or a colon).
want_err() {
    local r
    r=$(reply "$1" "$2")
    [[ $r == "$2 ERR $3" || $r == "$2 ERR $3 "* || $r == "$2 ERR $3:"* ]] ||
        fail "$1: command $2: expected error $3, got: ${r:-no answer}"
}

# want_reply NAME TAG TEXT: the command succeeded with exactly TEXT.
want_reply() {
    local r
    r=$(reply "$1" "$2")
    [ "$r" = "$2 OK $3" ] || fail "$1: command $2: expected \"$3\", got: ${r:-no answer}"
}

# known_hosts_of PUBKEY FILE: a known_hosts line for ferryd's port.
known_hosts_of() {
    echo "[127.0.0.1]:$FERRYD_PORT $(cut -d' ' -f1,2 "$1")" >"$2"
}
