# shellcheck shell=bash
# lib.sh: shared helpers for the server interop tests (sourced).
#
#   . "$FERRY_SRC/tests/interop/lib.sh"
#   need sftp ssh-keygen              # fail (never skip) when a peer is missing
#   make_user_key                     # $T/id_ed25519{,.pub}, $T/authorized_keys
#   ferryd_start [ferryd args...]     # sets FERRYD_PID, FERRYD_PORT
#   ...
#   ferryd_stop                       # SIGTERM, expects exit status 0
#   proxy_to PORT; turns_of CMD...    # round trips of a session (delay proxy)
#   cert_users_conf CA_PUB USER...    # $T/ferryd.conf: TrustedUserCAKeys, keyless users
#
# Every test gets its own temporary directory $T (removed at exit unless
# FERRY_KEEP_TMP=1), ferryd listens on 127.0.0.1 port 0 (the kernel picks a
# free port; ferryd prints the one it got), and only the ferryd started
# here is ever signalled, by PID.
set -euo pipefail

: "${FERRY_BUILD:?FERRY_BUILD must name the build directory}"
: "${FERRY_SRC:?FERRY_SRC must name the source directory}"
FERRYD="$FERRY_BUILD/ferryd"
T=$(mktemp -d "${TMPDIR:-/tmp}/ferry-interop.XXXXXX")
FERRYD_PID=""
FERRYD_PORT=""
SSHD_PID=""
SSHD_PORT=""
TEST_USER=tester
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"

_ferry_cleanup() {
    local rc=$?
    # a test that starts other processes defines test_cleanup to end them
    if declare -F test_cleanup >/dev/null; then
        test_cleanup || true
    fi
    if [ -n "$FERRYD_PID" ]; then
        kill -TERM "$FERRYD_PID" 2>/dev/null || true
        wait "$FERRYD_PID" 2>/dev/null || true
    fi
    sshd_stop
    if [ "${FERRY_KEEP_TMP:-0}" = 1 ] || [ $rc -ne 0 ]; then
        echo "(temporary files kept in $T)" >&2
    else
        rm -rf "$T"
    fi
}
trap _ferry_cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    if [ -f "$T/ferryd.log" ]; then
        echo "--- last lines of the ferryd log:" >&2
        tail -n 40 "$T/ferryd.log" >&2
    fi
    exit 1
}

ok() {
    echo "ok - $*"
}

# Fails when a tool is missing: interop tests never skip.
need() {
    local t
    [ -x "$FERRYD" ] || fail "$FERRYD not built"
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || fail "$t is not installed (run scripts/deps test)"
    done
}

# Random file of $2 bytes at $1.
make_file() {
    head -c "$2" /dev/urandom >"$1"
}

same() {
    cmp -s "$1" "$2" || fail "$1 and $2 differ"
}

make_user_key() {
    ssh-keygen -q -t "${1:-ed25519}" -N '' -C interop-user -f "$T/id_${1:-ed25519}"
    cat "$T/id_${1:-ed25519}.pub" >>"$T/authorized_keys"
}

# Host keys of every type in $T: ed25519 is created by ferryd itself (a
# missing --host-key file is generated); the others with ssh-keygen.
make_host_keys() {
    ssh-keygen -q -t ecdsa -b 256 -N '' -f "$T/host_ecdsa256"
    ssh-keygen -q -t ecdsa -b 384 -N '' -f "$T/host_ecdsa384"
    ssh-keygen -q -t ecdsa -b 521 -N '' -f "$T/host_ecdsa521"
    ssh-keygen -q -t rsa -b 3072 -N '' -f "$T/host_rsa"
}

host_key_args() {
    echo --host-key "$T/host_ed25519"
    local k
    for k in host_ecdsa256 host_ecdsa384 host_ecdsa521 host_rsa; do
        [ -f "$T/$k" ] && echo --host-key "$T/$k"
    done
    return 0
}

# A yescrypt hash of $1 (through ferryd itself).
password_hash() {
    printf '%s\n' "$1" | "$FERRYD" --hash-password
}

# Starts ferryd in the background on a free loopback port with a root in
# $T/root, a host key $T/host_ed25519 (created if missing), the keys in
# $T/authorized_keys; extra arguments are passed on.
ferryd_start() {
    mkdir -p "$T/root"
    touch "$T/authorized_keys"
    : >"$T/ferryd.log" # truncate now: the started process may open it only later
    # shellcheck disable=SC2046
    "$FERRYD" --listen "${FERRYD_LISTEN:-127.0.0.1:0}" --root "$T/root" --user "$TEST_USER" \
        --authorized-keys "$T/authorized_keys" $(host_key_args) "$@" \
        >"$T/ferryd.out" 2>"$T/ferryd.log" &
    FERRYD_PID=$!
    local i line
    for i in $(seq 1 600); do
        if grep -q "listening on" "$T/ferryd.log" 2>/dev/null; then
            break
        fi
        kill -0 "$FERRYD_PID" 2>/dev/null || { FERRYD_PID=""; fail "ferryd exited at start"; }
        sleep 0.05
    done
    line=$(grep -m1 "listening on" "$T/ferryd.log") || fail "ferryd did not report listening"
    FERRYD_PORT=${line##*:}
    case "$FERRYD_PORT" in
    '' | *[!0-9]*) fail "cannot read the port from: $line" ;;
    esac
    # known_hosts for OpenSSH-based peers
    : >"$T/known_hosts"
    for k in "$T"/host_*.pub; do
        [ -f "$k" ] && echo "[127.0.0.1]:$FERRYD_PORT $(cut -d' ' -f1,2 "$k")" >>"$T/known_hosts"
    done
    return 0
}

ferryd_stop() {
    [ -n "$FERRYD_PID" ] || return 0
    kill -TERM "$FERRYD_PID"
    local rc=0
    wait "$FERRYD_PID" || rc=$?
    FERRYD_PID=""
    [ $rc -eq 0 ] || fail "ferryd exited with status $rc after SIGTERM"
    if grep -q "ERROR: AddressSanitizer\|runtime error:\|LeakSanitizer" "$T/ferryd.log"; then
        fail "sanitizer report in the ferryd log"
    fi
}

# OpenSSH sftp with only the options we pass (no user configuration).
ossh_sftp() {
    timeout 120 sftp -F /dev/null -P "$FERRYD_PORT" -o UserKnownHostsFile="$T/known_hosts" \
        -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null "$@"
}

# sshd_start HOSTKEY [CONFIG LINE...]: OpenSSH's sshd with internal-sftp on
# a free loopback port (SSHD_PORT, SSHD_PID), public keys from
# $T/authorized_keys, no passwords, root allowed, LogLevel DEBUG1 (tests
# read its log, $T/sshd.log); extra sshd_config lines may follow. Ended
# at exit by PID.
sshd_start() {
    local hostkey=$1
    shift
    mkdir -p /run/sshd
    touch "$T/authorized_keys"
    chmod 600 "$T/authorized_keys"
    SSHD_PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
    {
        printf '%s\n' "ListenAddress 127.0.0.1" "Port $SSHD_PORT" "HostKey $hostkey" \
            "AuthorizedKeysFile $T/authorized_keys" "PasswordAuthentication no" \
            "KbdInteractiveAuthentication no" "UsePAM no" "StrictModes no" "PidFile none" \
            "PermitRootLogin yes" "Subsystem sftp internal-sftp" "LogLevel DEBUG1"
        [ $# -eq 0 ] || printf '%s\n' "$@"
    } >"$T/sshd_config"
    /usr/sbin/sshd -D -e -f "$T/sshd_config" 2>"$T/sshd.log" &
    SSHD_PID=$!
    local i
    for i in $(seq 1 100); do
        grep -q "Server listening" "$T/sshd.log" 2>/dev/null && return 0
        kill -0 "$SSHD_PID" 2>/dev/null || { SSHD_PID=""; fail "sshd died: $(cat "$T/sshd.log")"; }
        sleep 0.1
    done
    fail "sshd did not start"
}

sshd_stop() {
    [ -n "$SSHD_PID" ] || return 0
    kill -TERM "$SSHD_PID" 2>/dev/null || true
    wait "$SSHD_PID" 2>/dev/null || true
    SSHD_PID=""
}

# cert_users_conf CA_PUB USER...: $T/ferryd.conf for certificate tests:
# an AuditLog ($T/audit.log), TrustedUserCAKeys (the CA public key file)
# and a User block per USER, rooted at $T/root_USER (made here), with no
# authorized key (AuthorizedKeysFile names a missing file).
cert_users_conf() {
    local u
    cp "$1" "$T/trusted_cas"
    shift
    printf '%s\n' "PerSourcePenalties no" "AuditLog $T/audit.log" "TrustedUserCAKeys $T/trusted_cas" \
        >"$T/ferryd.conf"
    for u in "$@"; do
        mkdir -p "$T/root_$u"
        printf '%s\n' "User $u" "    Root $T/root_$u" "    AuthorizedKeysFile $T/no_such_keys" \
            >>"$T/ferryd.conf"
    done
}

# proxy_to PORT: a delay proxy (bench/delay_proxy.py, 100 ms each way:
# far above either side's processing, so each flight the client sends
# after hearing from the server is one round trip) to 127.0.0.1:PORT,
# counting a session's round trips into $T/turns. Its port in PROXY_PORT;
# its pid is added to PROXY_PIDS, for the test's test_cleanup to end.
PROXY_PIDS=""
proxy_to() {
    python3 "$FERRY_SRC/bench/delay_proxy.py" 0 "$1" 100 "$T/turns" >"$T/proxy.out" 2>&1 &
    PROXY_PIDS="$PROXY_PIDS $!"
    for _ in $(seq 100); do grep -q '^ready ' "$T/proxy.out" && break; sleep 0.1; done
    PROXY_PORT=$(awk '/^ready /{print $2}' "$T/proxy.out")
    [ -n "$PROXY_PORT" ] || fail "delay proxy did not start"
}

# turns_of CMD...: runs CMD... (one session through the proxy) and prints
# the round trips the proxy counted for it.
turns_of() {
    : >"$T/turns"
    "$@"
    for _ in $(seq 50); do [ -s "$T/turns" ] && break; sleep 0.1; done
    awk '/^turns /{print $2}' "$T/turns"
}
