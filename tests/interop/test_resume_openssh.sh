#!/usr/bin/env bash
# test_resume_openssh.sh: ferry's automatic resume against OpenSSH's sshd
# (internal-sftp: no file hashes, no partial uploads) behind cutproxy.py.
# A get and a put of 64 MiB, each cut twice: the files are equal, ferry says
# it resumed "by size only" (never that a prefix was verified), and fewer
# bytes pass than starting over would take.
# ServerAliveInterval through a stalled path (the proxy stops forwarding):
# ferry's keepalive@openssh.com probes reach sshd once the stall ends and
# the get goes on; a path stalled for good is given up after CountMax
# probes ("Timeout, server ... not responding."), ending ferry with
# Reconnect=no and resumed over a new connection otherwise.
. "$FERRY_SRC/tests/interop/lib.sh"
. "$FERRY_SRC/tests/interop/resume_lib.sh"
FERRY="$FERRY_BUILD/ferry"
[ -x "$FERRY" ] || fail "$FERRY not built"
for t in ssh-keygen cmp /usr/sbin/sshd; do
    command -v "$t" >/dev/null 2>&1 || fail "$t is not installed (run scripts/deps test)"
done

MIB=$((1024 * 1024))
BIG=$((64 * MIB))
mkdir -p "$T/src" "$T/remote"
make_file "$T/src/big.bin" $BIG
cp "$T/src/big.bin" "$T/remote/big.bin"
ssh-keygen -q -t ed25519 -N '' -f "$T/host_ed25519"
make_user_key ed25519

sshd_start "$T/host_ed25519"
PORT=$SSHD_PORT
ME=$(id -un)

# run_ferry NAME: the batch $T/NAME.batch through the proxy; must exit 0.
run_ferry() {
    local name=$1
    proxy_known_hosts "$T/$name.kh" "$T/host_ed25519.pub"
    timeout 100 "$FERRY" -F none -P "$PROXY_PORT" -o UserKnownHostsFile="$T/$name.kh" \
        -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes \
        -o IdentityAgent=none -i "$T/id_ed25519" -o ReconnectDelay=0.2 \
        -b "$T/$name.batch" "$ME@127.0.0.1" >"$T/$name.out" 2>"$T/$name.err" ||
        { cat "$T/$name.err" >&2; fail "$name: ferry exited non-zero"; }
    no_sanitizer "$T/$name.err"
}

# check NAME DIRECTION: two cuts, two reconnects, resumed by size.
check() {
    local name=$1 dir=$2
    expect_losses "$name" 2
    grep -q "Warning: server offers no file hash; \".*\" resumed by size only" "$T/$name.err" ||
        { cat "$T/$name.err" >&2; fail "$name: no 'resumed by size only' warning"; }
    if grep -q "prefix verified" "$T/$name.err"; then
        cat "$T/$name.err" >&2
        fail "$name: claims a verified prefix although OpenSSH offers no file hash"
    fi
    resumed_not_restarted "$name" "$dir" $BIG 2 $C
}

C=$((12 * 1000 * 1000))
echo "get $T/remote/big.bin $T/got.bin" >"$T/get.batch"
proxy_start get "$PORT" --cut $C:down --cut $C:down:fin
run_ferry get
proxy_stop
cmp -s "$T/src/big.bin" "$T/got.bin" || fail "get: the downloaded file differs"
check get down
ok "get of 64 MiB from OpenSSH cut twice (RST, FIN): equal, resumed by size"

echo "put $T/src/big.bin $T/remote/up.bin" >"$T/put.batch"
proxy_start put "$PORT" --cut $C:up:fin --cut $C:up
run_ferry put
proxy_stop
cmp -s "$T/src/big.bin" "$T/remote/up.bin" || fail "put: the uploaded file differs"
check put up
no_leftovers "$T/remote"
ok "put of 64 MiB to OpenSSH cut twice (FIN, RST): equal, resumed by size"

# ---- ServerAliveInterval / ServerAliveCountMax ----
make_file "$T/remote/alive.bin" $((8 * MIB))
echo "get $T/remote/alive.bin $T/alive.bin" >"$T/alive.batch"
# run_alive NAME INTERVAL COUNT RECONNECT: ferry's exit status in $T/NAME.rc
run_alive() {
    local name=$1
    proxy_known_hosts "$T/$name.kh" "$T/host_ed25519.pub"
    rm -f "$T/alive.bin"
    local rc=0
    timeout 60 "$FERRY" -F none -P "$PROXY_PORT" -o UserKnownHostsFile="$T/$name.kh" \
        -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes \
        -o IdentityAgent=none -i "$T/id_ed25519" -o ReconnectDelay=0.2 \
        -o ServerAliveInterval="$2" -o ServerAliveCountMax="$3" -o Reconnect="$4" \
        -b "$T/alive.batch" "$ME@127.0.0.1" >"$T/$name.out" 2>"$T/$name.err" || rc=$?
    echo $rc >"$T/$name.rc"
    no_sanitizer "$T/$name.err"
}
probes() { count "rtype keepalive@openssh.com want_reply 1" "$T/sshd.log"; }

before=$(probes)
proxy_start stall "$PORT" --cut 1@1000000:down:stall=3.5
run_alive stall 1 10 no
proxy_stop
[ "$(cat "$T/stall.rc")" = 0 ] || { cat "$T/stall.err" >&2; fail "stall: ferry failed"; }
cmp -s "$T/remote/alive.bin" "$T/alive.bin" || fail "stall: the downloaded file differs"
sent=$(($(probes) - before))
[ "$sent" -ge 2 ] || fail "stall: sshd saw $sent keepalive requests after a 3.5 s stall, not >= 2"
grep -q "STALL" "$T/stall.proxy.log" || fail "stall: the proxy did not stall"
[ "$(proxy_conns stall)" = 1 ] || fail "stall: ferry connected again although the path came back"
ok "a 3.5 s stall with ServerAliveInterval=1: $sent keepalives reached sshd, the get went on"

proxy_start dead "$PORT" --cut 1@1000000:down:stall
start=$(date +%s)
run_alive dead 1 2 no
took=$(($(date +%s) - start))
proxy_stop
[ "$(cat "$T/dead.rc")" != 0 ] || fail "dead: ferry succeeded over a dead path"
grep -q "Timeout, server 127.0.0.1 not responding." "$T/dead.err" ||
    { cat "$T/dead.err" >&2; fail "dead: no 'Timeout, server 127.0.0.1 not responding.'"; }
[ "$took" -le 20 ] || fail "dead: ferry took $took s to give up (interval 1 s, 2 probes)"
ok "a path dead for good: ServerAliveCountMax=2 gives up after ${took} s, non-zero exit"

proxy_start deadre "$PORT" --cut 1@1000000:down:stall
run_alive deadre 1 2 yes
proxy_stop
[ "$(cat "$T/deadre.rc")" = 0 ] || { cat "$T/deadre.err" >&2; fail "deadre: ferry failed"; }
cmp -s "$T/remote/alive.bin" "$T/alive.bin" || fail "deadre: the downloaded file differs"
grep -q "Timeout, server 127.0.0.1 not responding." "$T/deadre.err" ||
    { cat "$T/deadre.err" >&2; fail "deadre: no keepalive timeout reported"; }
[ "$(proxy_conns deadre)" -ge 2 ] || fail "deadre: ferry did not connect again"
ok "a path dead for good during a get: the keepalive timeout leads to a resumed, equal file"
