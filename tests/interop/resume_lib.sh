# shellcheck shell=bash
# resume_lib.sh: helpers of the automatic-resume interop tests (sourced
# after lib.sh; needs $T, fail, ok).
#
#   proxy_start NAME TARGET_PORT [cutproxy args...]  # sets PROXY_PID, PROXY_PORT
#   proxy_known_hosts FILE HOSTKEY.pub...             # known_hosts for the proxy's port
#   proxy_stop                                        # SIGTERM, expects status 0
#   proxy_cuts NAME / proxy_conns NAME                # from the proxy's log
#   proxy_bytes NAME up|down / proxy_gap NAME K
#   flip_byte FILE OFFSET                             # inverts one byte in place
#   no_leftovers DIR                                  # no .ferry-partial / .part below DIR
#   expect_losses NAME N                              # N cuts, N reconnects in $T/NAME.err
#
# The proxy (cutproxy.py) runs as a child of the test and is ended by PID
# in test_cleanup, which lib.sh calls at exit.

PROXY="$FERRY_SRC/tests/interop/cutproxy.py"
PROXY_PID=""
PROXY_PORT=""

test_cleanup() {
    if [ -n "$PROXY_PID" ]; then
        kill -TERM "$PROXY_PID" 2>/dev/null || true
        wait "$PROXY_PID" 2>/dev/null || true
        PROXY_PID=""
    fi
    if declare -F resume_test_cleanup >/dev/null; then
        resume_test_cleanup || true
    fi
}

# proxy_start NAME TARGET_PORT [args]: log in $T/NAME.proxy.log.
proxy_start() {
    local name=$1 target=$2
    shift 2
    rm -f "$T/$name.port"
    /usr/bin/python3 "$PROXY" --target "$target" --port-file "$T/$name.port" \
        --log "$T/$name.proxy.log" --lifetime 300 "$@" &
    PROXY_PID=$!
    for _ in $(seq 1 100); do
        [ -s "$T/$name.port" ] && break
        kill -0 "$PROXY_PID" 2>/dev/null || { PROXY_PID=""; fail "cutproxy $name exited at start"; }
        sleep 0.05
    done
    PROXY_PORT=$(cat "$T/$name.port" 2>/dev/null) || fail "cutproxy $name wrote no port"
}

proxy_known_hosts() {
    local out=$1 k
    shift
    : >"$out"
    for k in "$@"; do
        echo "[127.0.0.1]:$PROXY_PORT $(cut -d' ' -f1,2 "$k")" >>"$out"
    done
}

proxy_stop() {
    [ -n "$PROXY_PID" ] || return 0
    kill -TERM "$PROXY_PID"
    local rc=0
    wait "$PROXY_PID" || rc=$?
    PROXY_PID=""
    [ $rc -eq 0 ] || fail "cutproxy exited with status $rc"
}

# Number of cuts the proxy made.
proxy_cuts() {
    grep -c ': CUT (' "$T/$1.proxy.log" || true
}

# Connections the proxy accepted.
proxy_conns() {
    grep -c ' accepted from ' "$T/$1.proxy.log" || true
}

# proxy_gap NAME K: seconds from the close of connection K-1 to the accept
# of connection K (how long ferry waited before that reconnect).
proxy_gap() {
    awk -v k="$2" '
        { t = $2; sub(/\]/, "", t) }
        $3 == "conn" && $4 == (k - 1) && $5 == "closed" { c = t }
        $3 == "conn" && $4 == k && $5 == "accepted" { a = t }
        END { if (c == "" || a == "") { print "missing"; exit } printf "%.3f\n", a - c }
    ' "$T/$1.proxy.log"
}

# Bytes passed in one direction over all connections (after proxy_stop).
proxy_bytes() {
    sed -n "s/.* closed ([a-z]*): up=\([0-9]*\) down=\([0-9]*\)\$/\1 \2/p" "$T/$1.proxy.log" |
        awk -v d="$2" '{ s += (d == "up" ? $1 : $2) } END { printf "%d\n", s }'
}

# resumed_not_restarted NAME DIR PAYLOAD CUTS CUT_BYTES: the bytes passed in
# DIR stay below PAYLOAD + three quarters of what CUTS restarts from zero
# would have cost (CUT_BYTES each), so the transfers continued instead of
# starting over. Not a half: a cut by RST throws away what the receiver's
# kernel still held unread (up to tcp_rmem's 6 MiB when the receiver is
# slow, as on a loaded machine), so a resumed transfer can waste half of
# a 12 MB cut and a little more; a restart wastes all of it.
resumed_not_restarted() {
    local name=$1 dir=$2 payload=$3 cuts=$4 each=$5 total limit
    total=$(proxy_bytes "$name" "$dir")
    limit=$((payload + cuts * each * 3 / 4))
    [ "$total" -ge "$payload" ] || fail "$name: only $total bytes $dir for a payload of $payload"
    [ "$total" -lt "$limit" ] ||
        fail "$name: $total bytes $dir for a payload of $payload: transfers started over"
}

flip_byte() {
    /usr/bin/python3 - "$1" "$2" <<'EOF'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    if len(b) != 1:
        sys.exit("%s is shorter than %d bytes" % (path, off + 1))
    f.seek(off)
    f.write(bytes([b[0] ^ 0xFF]))
EOF
}

no_leftovers() {
    local left
    left=$(find "$1" \( -name '*.ferry-partial' -o -name '*.part' \) -print)
    [ -z "$left" ] || fail "leftovers below $1: $left"
}

# wait_for FILE SECONDS: until FILE exists (fails after SECONDS).
wait_for() {
    for _ in $(seq 1 $(($2 * 20))); do
        [ -e "$1" ] && return 0
        sleep 0.05
    done
    fail "$1 did not appear within $2 s"
}

# no_sanitizer FILE: ferry's stderr holds no sanitizer report.
no_sanitizer() {
    if grep -q "ERROR: AddressSanitizer\|runtime error:\|LeakSanitizer" "$1"; then
        cat "$1" >&2
        fail "sanitizer report in $1"
    fi
}

# expect_losses NAME N: the proxy cut N times, ferry said "Connection lost"
# N times and "reconnecting (attempt K of 5)" at least N times, and it
# connected again after the last cut.
expect_losses() {
    local name=$1 n=$2 cuts
    cuts=$(proxy_cuts "$name")
    [ "$cuts" = "$n" ] || fail "$name: the proxy cut $cuts times, not $n"
    [ "$(count "Connection lost" "$T/$name.err")" = "$n" ] ||
        { cat "$T/$name.err" >&2; fail "$name: not $n 'Connection lost' lines"; }
    [ "$(grep -c 'reconnecting (attempt [0-9]* of 5)' "$T/$name.err")" -ge "$n" ] ||
        { cat "$T/$name.err" >&2; fail "$name: fewer than $n 'reconnecting (attempt K of 5)'"; }
    [ "$(proxy_conns "$name")" -gt "$n" ] || fail "$name: no connection after the last cut"
}

# count PATTERN FILE: lines matching the fixed string PATTERN.
count() {
    grep -cF -- "$1" "$2" || true
}
