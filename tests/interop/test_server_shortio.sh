#!/usr/bin/env bash
# Short reads and writes and EINTR on every socket: tests/shim/shortio.c
# (built as $FERRY_BUILD/tests/libshortio.so) is preloaded into ferryd
# and ferry. On stream sockets it lets read/recv return 1..7 bytes and
# write/send write 1..7 bytes at random, and fails every 5th such call
# with EINTR. Files go both ways, and must arrive byte for byte:
#  - ferry (shimmed) against ferryd (shimmed), with three ciphers;
#  - OpenSSH's sftp against ferryd (shimmed);
#  - ferry (shimmed) against OpenSSH's sshd.
# ferryd's and sshd's RekeyLimit 256K re-exchange keys in the middle of
# these transfers.
# The shim's counters (SHORTIO_STATS) prove it was in effect in each
# shimmed process.
#
# With an ASan build (as in CI) the sanitizer runtime must come first in
# the initial library list, so it is preloaded before the shim:
# LD_PRELOAD=<libasan the binary links>:libshortio.so. ASan's read/recv
# interceptors then call the shim's, which calls libc's. The shim itself
# is built without sanitizers (tests/CMakeLists.txt), so the same .so works
# with a release build, where only the shim is preloaded.
. "$FERRY_SRC/tests/interop/lib.sh"
need sftp ssh-keygen timeout /usr/sbin/sshd /usr/bin/python3
FERRY="$FERRY_BUILD/ferry"
SHIM="$FERRY_BUILD/tests/libshortio.so"
[ -x "$FERRY" ] || fail "$FERRY not built"
[ -f "$SHIM" ] || fail "$SHIM not built (target shortio)"

preload=$SHIM
asan=$(ldd "$FERRYD" | awk '/libasan/ {print $3}')
if [ -n "$asan" ]; then
    preload="$asan:$SHIM"
fi
STATS="$T/shim-stats"
mkdir -p "$STATS"
# wrappers: only ferryd and ferry see the shim, never the tools around them
for prog in ferryd ferry; do
    cat >"$T/$prog-shim" <<EOF
#!/bin/sh
SHORTIO_STATS="\$SHORTIO_DIR" LD_PRELOAD="$preload" exec "$FERRY_BUILD/$prog" "\$@"
EOF
    chmod 755 "$T/$prog-shim"
done
FERRYD="$T/ferryd-shim"

make_user_key ed25519
mkdir -p "$T/local"
make_file "$T/local/big.bin" 1000000
make_file "$T/local/odd.bin" 70001
make_file "$T/local/tiny.bin" 1
: >"$T/local/empty.bin"
FILES="big.bin odd.bin tiny.bin empty.bin"

# Every shimmed process with socket traffic left counters in $1: at least
# one had shortened calls and EINTRs (the listener alone has none).
check_stats() {
    local f calls=0 short=0 eintr=0 c s e
    for f in "$1"/*; do
        [ -f "$f" ] || continue
        read -r _ c _ s _ e <"$f"
        calls=$((calls + c)) short=$((short + s)) eintr=$((eintr + e))
    done
    [ $short -gt 100 ] && [ $eintr -gt 10 ] ||
        fail "$2: the shim was not in effect (calls $calls, short $short, EINTR $eintr)"
    echo "$2: $calls socket calls, $short shortened, $eintr EINTR"
}

# round_trip NAME CLIENT_CMD DEST REMOTE_DIR DISK_DIR: uploads $FILES to
# REMOTE_DIR, downloads them again, compares both copies.
round_trip() {
    local name=$1 cmd=$2 dest=$3 rdir=$4 ddir=$5 f
    mkdir -p "$ddir" "$T/got-$name"
    {
        echo "cd $rdir"
        for f in $FILES; do echo "put $T/local/$f"; done
        for f in $FILES; do echo "get $f $T/got-$name/$f"; done
        echo "ls -l"
    } >"$T/batch-$name"
    eval "timeout 300 $cmd -b '$T/batch-$name' $dest" >"$T/$name.out" 2>"$T/$name.err" ||
        { cat "$T/$name.err" >&2; fail "$name: batch failed"; }
    for f in $FILES; do
        same "$T/local/$f" "$ddir/$f"
        same "$T/local/$f" "$T/got-$name/$f"
    done
}

OPTS="-F none -o UserKnownHostsFile=$T/known_hosts -o StrictHostKeyChecking=yes \
-o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i $T/id_ed25519"

mkdir -p "$STATS/ferryd"
export SHORTIO_DIR="$STATS/ferryd"
# key re-exchanges in the middle of the transfers, split like the rest
echo "RekeyLimit 256K" >"$T/ferryd.conf"
ferryd_start --config "$T/ferryd.conf"

# 1. ferry (shimmed) against ferryd (shimmed), three ciphers
for cipher in chacha20-poly1305@openssh.com aes128-gcm@openssh.com aes256-ctr; do
    SHORTIO_DIR="$STATS/ferry-$cipher"
    mkdir -p "$SHORTIO_DIR"
    round_trip "ferry-$cipher" "'$T/ferry-shim' $OPTS -P $FERRYD_PORT -o Ciphers=$cipher" \
        tester@127.0.0.1 "/$cipher" "$T/root/$cipher"
    check_stats "$SHORTIO_DIR" "ferry $cipher"
    ok "ferry <-> ferryd, both shimmed, $cipher: every byte arrives both ways"
done

# 2. OpenSSH sftp against ferryd (shimmed)
round_trip sftp "sftp $OPTS -o GlobalKnownHostsFile=/dev/null -P $FERRYD_PORT" \
    tester@127.0.0.1 /sftp "$T/root/sftp"
ok "OpenSSH sftp <-> ferryd (shimmed): every byte arrives both ways"
check_stats "$STATS/ferryd" "ferryd sessions"
rekeyed=$(grep -c "event=session_end .* key_exchanges=\([3-9]\|[1-9][0-9]\)" "$T/ferryd.log" || true)
[ "$rekeyed" -eq 4 ] || fail "$rekeyed of 4 sessions re-exchanged keys at least twice"
ok "every session re-exchanged keys under the shim"
ferryd_stop
ok "ferryd (shimmed) stops cleanly"

# 3. ferry (shimmed) against OpenSSH's sshd
sshd_start "$T/host_ed25519" "RekeyLimit 256K"
SPORT=$SSHD_PORT
echo "[127.0.0.1]:$SPORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" >>"$T/known_hosts"
SHORTIO_DIR="$STATS/ferry-sshd"
mkdir -p "$SHORTIO_DIR" "$T/sshd-files"
round_trip sshd "'$T/ferry-shim' $OPTS -P $SPORT" root@127.0.0.1 "$T/sshd-files" "$T/sshd-files"
check_stats "$SHORTIO_DIR" "ferry against sshd"
kexes=$(grep -c "SSH2_MSG_KEXINIT sent" "$T/sshd.log" || true)
[ "$kexes" -ge 3 ] || fail "sshd re-exchanged keys $((kexes - 1)) times, expected at least 2"
ok "ferry (shimmed) <-> OpenSSH sshd: every byte arrives both ways"
sshd_stop
