#!/usr/bin/env bash
# ferry against a server nobody here wrote besides OpenSSH's: rclone's
# `serve sftp` (Go x/crypto/ssh + pkg/sftp, which serves requests on
# several workers). What ferry sends without waiting must hold there too:
# the start directory and limits behind INIT, READDIRs several at a time
# (a directory of 250 entries: three NAME replies), the CLOSE right behind
# a file's last READ or WRITE (no hash offered), a batch's CLOSEs behind
# its READs, get -r's OPENDIR of the next subdirectory and put -r's MKDIRs
# of all of a directory's subdirectories ahead of their turn. The trees
# must come out equal, and a get and a put must cost 2 round trips after
# set-up through the delay proxy, as against sshd.
. "$FERRY_SRC/tests/interop/lib.sh"
need rclone ssh-keygen python3 timeout
FERRY="$FERRY_BUILD/ferry"
[ -x "$FERRY" ] || fail "$FERRY not built"

make_user_key ed25519
ssh-keygen -q -t ed25519 -N '' -f "$T/rclone_host"
mkdir -p "$T/srv"
export RCLONE_CONFIG="$T/rclone.conf"
: >"$RCLONE_CONFIG"
PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
rclone serve sftp "$T/srv" --addr "127.0.0.1:$PORT" --authorized-keys "$T/authorized_keys" \
    --key "$T/rclone_host" >"$T/rclone.log" 2>&1 &
RCLONE_PID=$!
test_cleanup() {
    kill "$RCLONE_PID" $PROXY_PIDS 2>/dev/null || true
    wait "$RCLONE_PID" $PROXY_PIDS 2>/dev/null || true
}
for _ in $(seq 100); do grep -q "SFTP server listening" "$T/rclone.log" && break; sleep 0.1; done
grep -q "SFTP server listening" "$T/rclone.log" || fail "rclone serve sftp did not start: $(cat "$T/rclone.log")"

# session PORT COMMANDS...: one ferry session running the commands
session() {
    local port=$1
    shift
    printf '%s\n' "$@" >"$T/batch"
    timeout 300 "$FERRY" -F none -P "$port" -o UserKnownHostsFile="$T/known_hosts" \
        -o StrictHostKeyChecking=no -o BatchMode=yes -o IdentitiesOnly=yes \
        -o IdentityAgent=none -i "$T/id_ed25519" -b "$T/batch" me@127.0.0.1 >"$T/out" 2>"$T/err" ||
        { cat "$T/err" >&2; fail "session failed: $*"; }
}

U="$T/up"
mkdir -p "$U/a/b" "$U/c" "$U/empty"
for i in 1 2 3; do
    make_file "$U/f$i" 5000
    make_file "$U/a/g$i" 300000
    make_file "$U/a/b/h$i" 10
done
make_file "$U/c/big" 3000000
for i in $(seq 250); do : >"$U/c/e$i"; done

session "$PORT" "put -r $U" "ls -1 up/c" "cd up/a" "pwd" "ls -1" "cd /" \
    "get -r up $T/down" "get up/c/big $T/big1" "put $U/c/big big2" "-get up/nonexistent"
diff -r "$U" "$T/srv/up" >/dev/null || fail "put -r: the server's tree differs"
diff -r "$U" "$T/down" >/dev/null || fail "get -r: the tree that came back differs"
same "$U/c/big" "$T/big1"
same "$U/c/big" "$T/srv/big2"
[ "$(grep -c '^up/c/e' "$T/out")" = 250 ] || fail "ls of 250 entries: $(grep -c '^up/c/e' "$T/out") listed"
grep -q "^Remote working directory: /up/a$" "$T/out" || fail "cd up/a did not arrive there"
[ "$(grep -c '^g[1-3]$' "$T/out")" = 3 ] || fail "ls in up/a: entries missing"
grep -q "nonexistent" "$T/err" || fail "get of a missing file not reported"
ok "put -r, ls, cd, get -r, get, put against rclone serve sftp: equal trees and files"

# again into the existing tree: every MKDIR sent ahead fails, its STAT
# says the directory is there
make_file "$U/a/b/h1" 20
session "$PORT" "put -r $U"
diff -r "$U" "$T/srv/up" >/dev/null || fail "put -r into the existing tree differs"
ok "put -r into the existing tree"

proxy_to "$PORT"
turns() { turns_of session "$PROXY_PORT" "$@"; }
base=$(turns pwd)
g=$(($(turns "get up/a/g1 $T/g1") - base))
same "$U/a/g1" "$T/g1"
p=$(($(turns "put $U/a/g2 g2") - base))
same "$U/a/g2" "$T/srv/g2"
[ "$g" -le 2 ] || fail "get from rclone took $g round trips (want at most 2)"
[ "$p" -le 2 ] || fail "put to rclone took $p round trips (want at most 2)"
ok "rclone: get $g, put $p round trips beyond set-up ($base)"
