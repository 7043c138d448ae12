#!/usr/bin/env bash
# test_client_tty.sh: ferry's interactive side, driven through tmux:
#  - tab completion of remote paths and command names, !command, history
#    (over -D sftp-server, no SSH needed);
#  - against OpenSSH's sshd started here: the unknown-host prompt
#    (answered "yes", the key lands in known_hosts), the password prompt,
#    the refusal of a changed host key, and keepalive probes
#    (ServerAliveInterval) sent while the prompt sits idle or a !command
#    runs, and a
#    connection lost while it idles (cutproxy.py stalls the path) rebuilt
#    by the next remote command, not ended by a local one;
#  - -J through that sshd: the jump host's prompts (from ferry -W) and the
#    target's on the same terminal.
# Only the tmux server, sshd and cutproxy.py started here are signalled,
# by PID/socket.
set -euo pipefail

: "${FERRY_BUILD:?}" "${FERRY_SRC:?}"
FERRY="$FERRY_BUILD/ferry"
SFTP_SERVER=/usr/lib/openssh/sftp-server
SSHD=/usr/sbin/sshd
T=$(mktemp -d "${TMPDIR:-/tmp}/ferry-client-tty.XXXXXX")
SOCK="$T/tmux.sock"
SSHD_PID=""
PROXY_PID=""
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"

cleanup() {
    local rc=$?
    tmux -S "$SOCK" kill-server 2>/dev/null || true
    if [ -n "$PROXY_PID" ]; then
        kill "$PROXY_PID" 2>/dev/null || true
        wait "$PROXY_PID" 2>/dev/null || true
    fi
    if [ -n "$SSHD_PID" ]; then
        kill -TERM "$SSHD_PID" 2>/dev/null || true
        wait "$SSHD_PID" 2>/dev/null || true
    fi
    if [ $rc -ne 0 ] || [ "${FERRY_KEEP_TMP:-0}" = 1 ]; then
        echo "(temporary files kept in $T)" >&2
    else
        rm -rf "$T"
    fi
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    echo "--- screen:" >&2
    screen >&2 || true
    if [ -f "$T/sshd.log" ]; then
        echo "--- sshd.log:" >&2
        cat "$T/sshd.log" >&2
    fi
    exit 1
}
ok() { echo "ok - $*"; }

[ -x "$FERRY" ] || fail "$FERRY not built"
for t in tmux ssh-keygen "$SFTP_SERVER" "$SSHD"; do
    command -v "$t" >/dev/null 2>&1 || fail "$t is not installed (run scripts/deps test)"
done

screen() { tmux -S "$SOCK" capture-pane -p -t ferry; }
keys() { tmux -S "$SOCK" send-keys -t ferry "$@"; }
# wait_for TEXT [SECONDS]: until the screen shows TEXT.
wait_for() {
    local i
    for i in $(seq 1 $((${2:-10} * 10))); do
        screen | grep -qF -- "$1" && return 0
        sleep 0.1
    done
    fail "timed out waiting for: $1"
}
# wait_count TEXT N: until TEXT is on N lines of the screen.
wait_count() {
    local i
    for i in $(seq 1 100); do
        [ "$(screen | grep -cF -- "$1")" -ge "$2" ] && return 0
        sleep 0.1
    done
    fail "timed out waiting for $2 x: $1"
}
# start CMD: runs CMD in a new session "ferry" (the last one killed first).
# A second session that only sleeps keeps the tmux server up meanwhile:
# killing the only session ends the server, and a new-session racing its
# exit fails ("lost server").
start() {
    tmux -S "$SOCK" has-session -t keep 2>/dev/null ||
        tmux -S "$SOCK" new-session -d -s keep "sleep 600"
    tmux -S "$SOCK" kill-session -t ferry 2>/dev/null || true
    tmux -S "$SOCK" new-session -d -s ferry -x 150 -y 40 "$* ; echo EXIT=\$?; sleep 30"
}

# ---- completion, !command, history over -D ----

mkdir -p "$T/remote/subdir_one" "$T/local"
echo data >"$T/remote/unique_file.txt"
start "cd '$T/local' && HOME='$T' '$FERRY' -l 4000 -D 'cd $T/remote && exec $SFTP_SERVER'"
wait_for "sftp>"
keys "cd sub" Tab
wait_for "cd subdir_one/"
keys Enter "pwd" Enter
wait_for "Remote working directory: $T/remote/subdir_one"
keys "get ../uniq" Tab
wait_for "get ../unique_file.txt"
keys Enter
sleep 0.5
[ -f "$T/local/unique_file.txt" ] || fail "completed get did not download"
ok "tab completion of remote paths"
keys "vers" Tab
wait_for "sftp> version"
keys Enter
wait_for "SFTP protocol version 3"
ok "tab completion of commands"
keys "!echo bang-\$((40+2))" Enter
wait_for "bang-42"
ok "!command runs in the local shell"
keys Up Up Enter
wait_for "SFTP protocol version 3"
head -c 4000000 /dev/urandom >"$T/remote/slow.bin"
keys "get ../slow.bin" Enter
wait_for "Fetching $T/remote/subdir_one/../slow.bin"
sleep 0.5
keys C-c
wait_for "Interrupted"
keys "pwd" Enter
wait_for "Remote working directory: $T/remote/subdir_one"
ok "Ctrl-C interrupts a transfer and the session goes on"
keys "lpwd-typed-then-dropped"
wait_for "lpwd-typed-then-dropped"
keys C-c
sleep 0.3
keys "lpwd" Enter
wait_for "Local working directory:"
screen | grep -q "Invalid command\|Unknown command" && fail "the dropped line was run"
ok "Ctrl-C at the prompt drops the line and the session goes on (as OpenSSH's sftp)"
keys "bye" Enter
wait_for "EXIT=0"
ok "history and bye"

# ---- prompts against OpenSSH sshd ----

mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$T/host_ed25519"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$T/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $PORT
HostKey $T/host_ed25519
AuthorizedKeysFile none
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
Subsystem sftp internal-sftp
LogLevel DEBUG1
EOF
"$SSHD" -D -e -f "$T/sshd_config" 2>"$T/sshd.log" &
SSHD_PID=$!
for _ in $(seq 1 100); do
    grep -q "Server listening" "$T/sshd.log" 2>/dev/null && break
    sleep 0.1
done
grep -q "Server listening" "$T/sshd.log" || fail "sshd did not start"
# its own account: test_client_openssh sets ferrytest's password while
# this test may be running (ctest -j)
. "$FERRY_SRC/tests/interop/accounts.sh"
ensure_account ferrytty Tty-Pass-2

KH="$T/known_hosts"
FP=$(ssh-keygen -l -E sha256 -f "$T/host_ed25519.pub" | awk '{print $2}')
RUN="HOME='$T' '$FERRY' -F none -P $PORT -o UserKnownHostsFile=$KH ferrytty@127.0.0.1"
start "$RUN"
wait_for "The authenticity of host '[127.0.0.1]:$PORT ([127.0.0.1]:$PORT)' can't be established."
wait_for "ED25519 key fingerprint is $FP."
wait_for "Are you sure you want to continue connecting (yes/no/[fingerprint])?"
keys "maybe" Enter
wait_for "Please type 'yes', 'no' or the fingerprint:"
keys "yes" Enter
wait_for "password:"
ssh-keygen -F "[127.0.0.1]:$PORT" -f "$KH" >/dev/null || fail "key not stored after yes"
ok "unknown-host prompt, answer yes stores the key"
keys "Tty-Pass-2" Enter
wait_for "sftp>"
screen | grep -q "Tty-Pass-2" && fail "password echoed"
keys "pwd" Enter
wait_for "Remote working directory: /home/ferrytty"
keys "quit" Enter
wait_for "EXIT=0"
ok "password prompt (not echoed) and session"

# known host now: no question; the fingerprint typed instead of yes also works
rm -f "$KH"
start "$RUN"
wait_for "Are you sure you want to continue connecting"
keys "$FP" Enter
wait_for "password:"
keys "wrong" Enter
wait_count "password:" 2
sleep 1
keys "Tty-Pass-2" Enter
wait_for "sftp>"
keys "bye" Enter
wait_for "EXIT=0"
ok "typing the fingerprint accepts the host; a wrong password asks again"

# changed key: refused, with the offending line
ssh-keygen -q -t ed25519 -N '' -f "$T/other"
{ echo "# first line"; echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/other.pub")"; } >"$KH"
start "$RUN"
wait_for "REMOTE HOST IDENTIFICATION HAS CHANGED"
wait_for "Offending ED25519 key in $KH:2"
wait_for "EXIT=1"
ok "changed host key refused, offending line named"

# an idle prompt is still served: ServerAliveInterval probes go out
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" >"$KH"
start "HOME='$T' '$FERRY' -F none -P $PORT -o UserKnownHostsFile=$KH -o ServerAliveInterval=1 ferrytty@127.0.0.1"
wait_for "password:"
keys "Tty-Pass-2" Enter
wait_for "sftp>"
probes() { grep -c "rtype keepalive@openssh.com want_reply 1" "$T/sshd.log" || true; }
before=$(probes)
sleep 3.5
sent=$(($(probes) - before))
[ "$sent" -ge 2 ] || fail "idle prompt: sshd saw $sent keepalive requests in 3.5 s, not >= 2"
keys "pwd" Enter
wait_for "Remote working directory: /home/ferrytty"
# ... and so is a !command's time
before=$(probes)
keys "!sleep 3.5; echo bang-\$((1+1))-done" Enter
wait_for "bang-2-done" # the output, not the typed line
bang=$(($(probes) - before))
[ "$bang" -ge 2 ] || fail "!sleep 3.5: sshd saw $bang keepalive requests, not >= 2"
keys "bye" Enter
wait_for "EXIT=0"
ok "an idle prompt sends ServerAliveInterval probes ($sent in 3.5 s), a !command's time too ($bang), and the session goes on"

# a connection lost while the prompt idles (its path stalls for good, the
# probes go unanswered) is no end of the session: a local command runs,
# and the next remote command reconnects (the typed password kept).
# cutproxy.py stalls the path once as many bytes went up as a session
# that logs in and quits sends (measured through a first proxy): the
# idle session's probes make that up within a few seconds.
cutproxy() {
    rm -f "$T/cut.port"
    python3 "$FERRY_SRC/tests/interop/cutproxy.py" --target "$PORT" --port-file "$T/cut.port" \
        --log "$T/cut.log" --lifetime 120 "$@" &
    PROXY_PID=$!
    for _ in $(seq 1 100); do [ -s "$T/cut.port" ] && break; sleep 0.1; done
    [ -s "$T/cut.port" ] || fail "cutproxy did not start"
}
cutproxy_stop() { kill "$PROXY_PID" 2>/dev/null || true; wait "$PROXY_PID" 2>/dev/null || true; PROXY_PID=""; }
echo "tty-alias $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" >"$T/alias_kh"
via_proxy() {
    start "HOME='$T' '$FERRY' -F none -P $(cat "$T/cut.port") -o UserKnownHostsFile=$T/alias_kh \
-o HostKeyAlias=tty-alias -o ServerAliveInterval=1 -o ServerAliveCountMax=2 -o ReconnectDelay=0.2 ferrytty@127.0.0.1"
    wait_for "password:"
    keys "Tty-Pass-2" Enter
    wait_for "sftp>"
}
: >"$T/cut.log"
cutproxy
via_proxy
keys "bye" Enter
wait_for "EXIT=0"
cutproxy_stop
up=$(sed -n 's/^.*conn 1 closed ([a-z]*): up=\([0-9]*\) .*$/\1/p' "$T/cut.log")
[ -n "$up" ] || fail "no byte count in cutproxy's log: $(cat "$T/cut.log")"
: >"$T/cut.log"
cutproxy --cut "1@$up:up:stall"
via_proxy
for _ in $(seq 1 150); do grep -q "STALL" "$T/cut.log" && break; sleep 0.1; done
grep -q "STALL" "$T/cut.log" || fail "idle loss: the path was not stalled: $(cat "$T/cut.log")"
sleep 4 # two unanswered probes a second apart, and a second more
keys "lpwd" Enter
wait_for "Local working directory:"
sleep 0.5
screen | grep -q "EXIT=" && fail "idle loss: a local command ended the session"
keys "ls -a" Enter
wait_for "Reconnected"
wait_for "..  "
keys "bye" Enter
wait_for "EXIT=0"
grep -q "conn 2 " "$T/cut.log" || fail "idle loss: no second connection: $(cat "$T/cut.log")"
cutproxy_stop
ok "a connection lost while the prompt idles: a local command runs, the next remote one reconnects"

# a jump host (-J) on the same terminal: the jump's unknown-host prompt and
# its password come from the `ferry -W` that ProxyJump runs, the target's
# password from ferry itself; both read the one terminal
: >"$KH"
printf 'Host *\n  UserKnownHostsFile %s\n' "$KH" >"$T/jump_config"
start "HOME='$T' '$FERRY' -F '$T/jump_config' -J ferrytty@127.0.0.1:$PORT -P $PORT ferrytty@127.0.0.1"
wait_for "Are you sure you want to continue connecting (yes/no/[fingerprint])?"
keys "yes" Enter
wait_for "password:"
keys "Tty-Pass-2" Enter
wait_count "password:" 2
keys "Tty-Pass-2" Enter
wait_for "sftp>"
keys "pwd" Enter
wait_for "Remote working directory: /home/ferrytty"
keys "bye" Enter
wait_for "EXIT=0"
grep -q "server_request_direct_tcpip: originator" "$T/sshd.log" || fail "-J: no direct-tcpip in sshd's log"
[ "$(grep -c "127.0.0.1" "$KH")" = 1 ] || fail "-J: known_hosts: $(cat "$KH")"
ok "-J on a terminal: the jump host's prompts (from ferry -W) and the target's, one after the other"
