#!/usr/bin/env bash
# Memory per idle SFTP session: ferryd versus OpenSSH's sshd + internal-sftp.
# Opens N idle sessions with OpenSSH's sftp client against each server and
# sums the PSS (/proc/PID/smaps_rollup) of all server processes that belong
# to the sessions (everything but the listener). Prints kB per session and
# the ratio. A script that prints figures, not a test.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-20}
"$src/scripts/deps" test >/dev/null
cmake -S "$src" -B "$src/build/release" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$src/build/release" -j"$(nproc)" >/dev/null
work=$(mktemp -d /dev/shm/ferry-mem.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mkdir -p "$work"/{root,keys}
ssh-keygen -q -t ed25519 -N '' -f "$work/keys/user"
ssh-keygen -q -t ed25519 -N '' -f "$work/keys/host"
fport=$(free_port); sport=$(free_port)
"$src/build/release/ferryd" --listen "127.0.0.1:$fport" --root "$work/root" \
  --host-key "$work/keys/host" --authorized-keys "$work/keys/user.pub" 2>"$work/ferryd.log" &
fpid=$!; pids+=($fpid)
mkdir -p /run/sshd
printf 'Port %s\nListenAddress 127.0.0.1\nHostKey %s\nAuthorizedKeysFile %s\nUsePAM no\nStrictModes no\nPidFile none\nMaxStartups 100\nSubsystem sftp internal-sftp\n' \
  "$sport" "$work/keys/host" "$work/keys/user.pub" >"$work/sshd_config"
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
spid=$!; pids+=($spid)
sleep 1
descendants() { local p; for p in $(pgrep -P "$1"); do echo "$p"; descendants "$p"; done; }
pss_sum() { local t=0 p v; for p in $(descendants "$1"); do
    v=$(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0); t=$((t + ${v:-0})); done; echo $t; }
open_sessions() { # PORT
  for _ in $(seq "$n"); do
    (sleep 30 | sftp -q -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
       -i "$work/keys/user" -P "$1" 127.0.0.1 >/dev/null 2>&1) & pids+=($!)
  done
  sleep 4
}
open_sessions "$fport"; f=$(pss_sum "$fpid")
open_sessions "$sport"; s=$(pss_sum "$spid")
printf "idle sessions: %d\n" "$n"
printf "ferryd          %8d kB total  %6d kB/session\n" "$f" $((f / n))
printf "sshd+internal   %8d kB total  %6d kB/session\n" "$s" $((s / n))
awk -v a="$f" -v b="$s" 'BEGIN{ if (b>0) printf "ratio ferryd/sshd: %.2f\n", a/b }'
