#!/usr/bin/env bash
# Memory per idle SFTP session: ferryd versus OpenSSH's sshd + internal-sftp.
# Opens N idle sessions (default 20) with OpenSSH's sftp client against
# each server and sums the PSS (/proc/PID/smaps_rollup) of the server
# processes that belong to the sessions (every descendant of the
# listener, not the listener itself). Prints the number of sessions that
# were actually open, their total PSS and PSS per idle session, the
# listener's own PSS, and the ratio. A script that prints figures, not a
# test.
#
# Both servers get limits that admit N connections at once from one
# address (ferryd: MaxStartups, PerSourceMaxStartups none, no
# PerSourcePenalties; sshd: MaxStartups), so no session is refused.
#
# Usage: bench/memory.sh [N]. FERRY_BUILD names a build directory with
# ferryd to measure (default: build/release, configured and built here).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-20}
"$src/scripts/deps" test >/dev/null
bld=${FERRY_BUILD:-}
if [ -z "$bld" ]; then
    bld="$src/build/release"
    cmake -S "$src" -B "$bld" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$bld" --target ferryd -j"$(nproc)" >/dev/null
fi
work=$(mktemp -d /dev/shm/ferry-mem.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mkdir -p "$work"/{root,keys}
ssh-keygen -q -t ed25519 -N '' -f "$work/keys/user"
ssh-keygen -q -t ed25519 -N '' -f "$work/keys/host"
fport=$(free_port)
sport=$(free_port)
limit=$((n > 100 ? n : 100))
printf 'MaxStartups %s\nPerSourceMaxStartups none\nPerSourcePenalties no\n' "$limit" >"$work/ferryd.conf"
"$bld/ferryd" --config "$work/ferryd.conf" --listen "127.0.0.1:$fport" --root "$work/root" \
    --host-key "$work/keys/host" --authorized-keys "$work/keys/user.pub" 2>"$work/ferryd.log" &
fpid=$!
pids+=("$fpid")
mkdir -p /run/sshd
printf 'Port %s\nListenAddress 127.0.0.1\nHostKey %s\nAuthorizedKeysFile %s\nUsePAM no\nStrictModes no\nPidFile none\nMaxStartups %s\nPerSourcePenalties no\nSubsystem sftp internal-sftp\n' \
    "$sport" "$work/keys/host" "$work/keys/user.pub" "$limit" >"$work/sshd_config"
# PerSourcePenalties exists from OpenSSH 9.8 on only
/usr/sbin/sshd -t -f "$work/sshd_config" 2>/dev/null || sed -i '/^PerSourcePenalties/d' "$work/sshd_config"
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
spid=$!
pids+=("$spid")
sleep 1
descendants() {
    local p
    for p in $(pgrep -P "$1"); do
        echo "$p"
        descendants "$p"
    done
}
pss_of() { awk '/^Pss:/{print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
pss_sum() {
    local t=0 p v
    for p in $(descendants "$1"); do
        v=$(pss_of "$p")
        t=$((t + ${v:-0}))
    done
    echo $t
}
# Sessions open: the idle sftp clients still running.
open_sessions() { # PORT
    local started=()
    for _ in $(seq "$n"); do
        (sleep 60 | sftp -q -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
            -o BatchMode=yes -i "$work/keys/user" -P "$1" 127.0.0.1 >/dev/null 2>&1) &
        started+=($!)
        pids+=($!)
    done
    sleep $((4 + n / 10))
    alive=0
    for p in "${started[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
}
report() { # NAME LISTENER_PID: prints a line, sets total and alive
    local listener
    total=$(pss_sum "$2")
    listener=$(pss_of "$2")
    printf "%-14s %3d of %d sessions open  %8d kB total  %6d kB per idle session  (listener %d kB)\n" \
        "$1" "$alive" "$n" "$total" $((alive > 0 ? total / alive : 0)) "$listener"
    [ "$alive" -eq "$n" ] || echo "warning: only $alive of $n $1 sessions were open" >&2
}
open_sessions "$fport"
report ferryd "$fpid"
f=$total fa=$alive
open_sessions "$sport"
report sshd+internal "$spid"
s=$total sa=$alive
awk -v a="$f" -v b="$s" -v x="$fa" -v y="$sa" \
    'BEGIN{ if (b > 0 && x > 0 && y > 0) printf "ratio ferryd/sshd per session: %.2f\n", (a/x)/(b/y) }'
