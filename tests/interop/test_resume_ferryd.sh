#!/usr/bin/env bash
# test_resume_ferryd.sh: ferry's automatic resume against ferryd, with
# cutproxy.py between them cutting the connection mid-transfer (RST, and a
# plain FIN for some cuts). ferry runs in batch mode with key authentication
# and -o ReconnectDelay=0.2; nobody types anything.
#
#  1. get of a 64 MiB file cut 3 times: equal, "reconnecting" and
#     "Resuming ... (prefix verified by poly1305@ferry.dev)" on stderr, fewer bytes
#     than starting over;
#  2. put of the same, cut 3 times: equal, no .ferry-partial / .part left;
#  3. put -r of a tree (48 MiB + 200 small files in subdirectories) cut
#     twice, 4. get -r of it cut twice: trees equal, nothing left over;
#  5. a corrupted kept prefix (the proxy holds the reconnect while a byte
#     of the local file, or of the server's .NAME.ferry-partial, is
#     flipped): "does not match", the file is sent again and is equal;
#  6. Reconnect=no: the cut transfer fails with a non-zero exit;
#  7. ReconnectAttempts: failed reconnects (cut after 0 bytes, or during
#     the reconnect's handshake) with the waits doubling from
#     ReconnectDelay, then success; or giving up;
#  8. a reconnect reaching a server with another host key is refused;
#  9. reget / reput check the kept part as well;
# 10. VerifyTransfers: a source changed under a slowed transfer fails it;
# 11. upload-only ferryd (no hashes): a cut put continues by size;
# 12. password authentication: after two cuts the file is equal and the
#     SSH_ASKPASS program ran exactly once;
# 13. an ls cut midway is run again after the reconnect, and the batch
#     goes on;
# 14. -S ssh (OpenSSH's ssh as the transport): a get cut once reconnects
#     by running ssh again;
# 15. the ferryd session process SIGKILLed mid-put (it can keep nothing):
#     the next session recovers the temporary file it left as the partial
#     (partial_recovered in the audit log), and the put resumes from it.
. "$FERRY_SRC/tests/interop/lib.sh"
. "$FERRY_SRC/tests/interop/resume_lib.sh"
need ssh-keygen cmp diff setsid
FERRY="$FERRY_BUILD/ferry"
[ -x "$FERRY" ] || fail "$FERRY not built"

MIB=$((1024 * 1024))
BIG=$((64 * MIB))
make_user_key ed25519
mkdir -p "$T/src" "$T/root/g" "$T/root/p"
make_file "$T/src/big.bin" $BIG
cp "$T/src/big.bin" "$T/root/g/big.bin"
# the tree: one 48 MiB file and 200 small ones (0..40 KiB) in 10 subdirectories
mkdir -p "$T/src/tree"
make_file "$T/src/tree/large.bin" $((48 * MIB))
for i in $(seq 0 199); do
    d="$T/src/tree/d$((i % 10))"
    [ $((i % 20)) -lt 10 ] || d="$d/sub"
    mkdir -p "$d"
    make_file "$d/f$i.bin" $(((i * 211) % 40960))
done
TREE=$(find "$T/src/tree" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%d\n", s }')
cp -a "$T/src/tree" "$T/root/g/tree"

ferryd_start
KEYS=("$T"/host_*.pub)

# run_ferry NAME [ferry options...]: the batch $T/NAME.batch through the
# proxy; output in $T/NAME.{out,err}; returns ferry's status.
run_ferry() {
    local name=$1 rc=0
    shift
    proxy_known_hosts "$T/$name.kh" "${KEYS[@]}"
    timeout 100 "$FERRY" -F none -P "$PROXY_PORT" -o UserKnownHostsFile="$T/$name.kh" \
        -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes \
        -o IdentityAgent=none -i "$T/id_ed25519" -o ReconnectDelay=0.2 "$@" \
        -b "$T/$name.batch" tester@127.0.0.1 >"$T/$name.out" 2>"$T/$name.err" || rc=$?
    no_sanitizer "$T/$name.err"
    return $rc
}

# ferry_ok NAME [ferry options...]: run_ferry that must exit 0.
ferry_ok() {
    run_ferry "$@" || { cat "$T/$1.err" >&2; fail "$1: ferry exited non-zero"; }
}

# resumed NAME REMOTE N: N lines "Resuming "REMOTE" at byte n (prefix
# verified by poly1305@ferry.dev)" with n > 0.
resumed() {
    local n
    n=$(grep -c "Resuming \"$2\" at byte [1-9][0-9]* (prefix verified by poly1305@ferry.dev)" "$T/$1.err") ||
        true
    [ "$n" = "$3" ] ||
        { cat "$T/$1.err" >&2; fail "$1: $n 'Resuming ... (prefix verified)' lines, not $3"; }
}

# small_files_once PREFIX: ferryd's audit log shows each of the 200 small
# files below PREFIX opened exactly once (the cuts fall into large.bin:
# whatever was finished before them is not transferred again).
small_files_once() {
    local opened dups
    opened=$(grep -o "op=open path=$1/d[^ ]*" "$T/ferryd.log" | sort) || true
    dups=$(uniq -d <<<"$opened")
    [ -z "$dups" ] || fail "$1: small files transferred more than once: $dups"
    [ "$(grep -c . <<<"$opened")" = 200 ] ||
        fail "$1: $(grep -c . <<<"$opened") small files opened, not 200"
}

# ---- 1. get, cut 3 times ----
C=$((12 * 1000 * 1000))
echo "get /g/big.bin $T/got.bin" >"$T/get.batch"
proxy_start get "$FERRYD_PORT" --cut $C:down --cut $C:down --cut $C:down
ferry_ok get
proxy_stop
cmp -s "$T/src/big.bin" "$T/got.bin" || fail "get: the downloaded file differs"
expect_losses get 3
resumed get /g/big.bin 3
resumed_not_restarted get down $BIG 3 $C
ok "get of 64 MiB cut 3 times: equal, resumed 3 times with verified prefixes"

# ---- 2. put, cut 3 times ----
echo "put $T/src/big.bin /p/big.bin" >"$T/put.batch"
proxy_start put "$FERRYD_PORT" --cut $C:up --cut $C:up --cut $C:up
ferry_ok put
proxy_stop
cmp -s "$T/src/big.bin" "$T/root/p/big.bin" || fail "put: the uploaded file differs"
expect_losses put 3
resumed put /p/big.bin 3
resumed_not_restarted put up $BIG 3 $C
no_leftovers "$T/root"
ok "put of 64 MiB cut 3 times: equal, resumed, no partial file left"

# ---- 3. put -r, cut twice (the second cut a plain FIN) ----
C2=$((10 * 1000 * 1000))
printf 'mkdir /pr\nput -r %s /pr/tree\n' "$T/src/tree" >"$T/putr.batch"
proxy_start putr "$FERRYD_PORT" --cut $C2:up --cut $C2:up:fin
ferry_ok putr
proxy_stop
diff -r "$T/src/tree" "$T/root/pr/tree" >/dev/null || fail "put -r: the trees differ"
expect_losses putr 2
resumed_not_restarted putr up "$TREE" 2 $C2
small_files_once /pr/tree
no_leftovers "$T/root"
ok "put -r of a tree (48 MiB + 200 files) cut twice (RST, FIN): equal, nothing left over"

# ---- 4. get -r, cut twice (the first cut a plain FIN) ----
echo "get -r /g/tree $T/gottree" >"$T/getr.batch"
proxy_start getr "$FERRYD_PORT" --cut $C2:down:fin --cut $C2:down
ferry_ok getr
proxy_stop
diff -r "$T/src/tree" "$T/gottree" >/dev/null || fail "get -r: the trees differ"
expect_losses getr 2
resumed_not_restarted getr down "$TREE" 2 $C2
small_files_once /g/tree
no_leftovers "$T/gottree"
ok "get -r of a tree cut twice (FIN, RST): equal"

# ---- 4b. get -r of several large files, cut twice ----
# each file's OPEN goes out during the previous file's READs: the cuts
# fall while such a prefetch is pending, which the new session must not
# wait for (its ids belong to the old one)
mkdir -p "$T/root/g/four"
for i in 1 2 3 4; do make_file "$T/root/g/four/l$i.bin" $((6 * MIB)); done
echo "get -r /g/four $T/gotfour" >"$T/getfour.batch"
proxy_start getfour "$FERRYD_PORT" --cut $((9 * 1000 * 1000)):down --cut $((9 * 1000 * 1000)):down
ferry_ok getfour
proxy_stop
diff -r "$T/root/g/four" "$T/gotfour" >/dev/null || fail "get -r of large files: the trees differ"
expect_losses getfour 2
no_leftovers "$T/gotfour"
ok "get -r of four 6 MiB files (each opened during the one before) cut twice: equal"

# ---- 5. a corrupted kept prefix ----
# corrupt NAME WHAT: runs the batch in the background through a holding
# proxy; after the cut, WHAT (a shell function) damages the kept part;
# then the proxy lets the reconnect through.
corrupt() {
    local name=$1 what=$2 pid rc=0
    proxy_start "$name" "$FERRYD_PORT" --cut $C --hold --marker "$T/$name.marker" \
        --go "$T/$name.go" --hold-timeout 60
    run_ferry "$name" &
    pid=$!
    wait_for "$T/$name.marker" 60
    $what
    touch "$T/$name.go"
    wait $pid || rc=$?
    proxy_stop
    [ $rc -eq 0 ] || { cat "$T/$name.err" >&2; fail "$name: ferry exited with status $rc"; }
    expect_losses "$name" 1
    grep -q "Kept part of \".*\" does not match; transferring it again" "$T/$name.err" ||
        { cat "$T/$name.err" >&2; fail "$name: no 'does not match' message"; }
    if grep -q "Resuming " "$T/$name.err"; then
        cat "$T/$name.err" >&2
        fail "$name: resumed although the kept part was damaged"
    fi
}

# the local file stops growing once ferry has noticed the loss
settled() {
    local s1 s2=-1 i
    for i in $(seq 1 100); do
        s1=$(stat -c %s "$1" 2>/dev/null || echo 0)
        [ "$s1" = "$s2" ] && [ "$s1" -gt 2000000 ] && return 0
        s2=$s1
        sleep 0.1
    done
    fail "$1 did not settle above 2000000 bytes"
}
damage_local() {
    settled "$T/corrupt.bin"
    flip_byte "$T/corrupt.bin" 1000000
}
damage_partial() {
    wait_for "$T/root/p/.big2.bin.ferry-partial" 20
    settled "$T/root/p/.big2.bin.ferry-partial"
    flip_byte "$T/root/p/.big2.bin.ferry-partial" 1000000
}
echo "get /g/big.bin $T/corrupt.bin" >"$T/corrupt-get.batch"
C=$((12 * 1000 * 1000))
corrupt corrupt-get damage_local
cmp -s "$T/src/big.bin" "$T/corrupt.bin" || fail "corrupt-get: the downloaded file differs"
ok "get: a damaged local prefix is detected and the file is fetched again, equal"
echo "put $T/src/big.bin /p/big2.bin" >"$T/corrupt-put.batch"
corrupt corrupt-put damage_partial
cmp -s "$T/src/big.bin" "$T/root/p/big2.bin" || fail "corrupt-put: the uploaded file differs"
no_leftovers "$T/root"
ok "put: a damaged .ferry-partial on the server is detected and the file sent again, equal"

# ---- 6. Reconnect=no ----
echo "get /g/big.bin $T/noreconnect.bin" >"$T/norec.batch"
proxy_start norec "$FERRYD_PORT" --cut $C:down
if run_ferry norec -o Reconnect=no; then
    fail "Reconnect=no: the cut transfer exited 0"
fi
proxy_stop
[ "$(proxy_conns norec)" = 1 ] || fail "Reconnect=no: ferry connected again"
if grep -q "reconnecting" "$T/norec.err"; then
    fail "Reconnect=no: ferry said it was reconnecting"
fi
if cmp -s "$T/src/big.bin" "$T/noreconnect.bin"; then
    fail "Reconnect=no: the file is complete although the connection was cut"
fi
ok "Reconnect=no: a cut transfer fails with a non-zero exit, no reconnect"

# ---- 7. ReconnectAttempts and the backoff (cuts after 0 bytes: failed reconnects) ----
echo "get /g/big.bin $T/backoff.bin" >"$T/backoff.batch"
proxy_start backoff "$FERRYD_PORT" --cut $C:down --cut 0 --cut 0
ferry_ok backoff -o ReconnectAttempts=3
proxy_stop
cmp -s "$T/src/big.bin" "$T/backoff.bin" || fail "backoff: the downloaded file differs"
[ "$(proxy_conns backoff)" = 4 ] || fail "backoff: $(proxy_conns backoff) connections, not 4"
for k in 1 2 3; do
    grep -q "reconnecting (attempt $k of 3)" "$T/backoff.err" ||
        { cat "$T/backoff.err" >&2; fail "backoff: no 'reconnecting (attempt $k of 3)'"; }
done
gaps="$(proxy_gap backoff 2) $(proxy_gap backoff 3) $(proxy_gap backoff 4)"
# ReconnectDelay=0.2, doubled after each failed try: 0.2, 0.4, 0.8 s (10% slack)
awk -v g="$gaps" 'BEGIN { split(g, v, " ");
    exit !(v[1] >= 0.18 && v[2] >= 0.36 && v[3] >= 0.72) }' ||
    fail "backoff: waits of $gaps s before the reconnects, not at least 0.2 0.4 0.8"
ok "ReconnectAttempts=3: two reconnects fail, the third resumes; waits $gaps s (doubling)"

echo "get /g/big.bin $T/giveup.bin" >"$T/giveup.batch"
proxy_start giveup "$FERRYD_PORT" --cut $C:down --cut 0 --cut 0 --cut 0
if run_ferry giveup -o ReconnectAttempts=2; then
    fail "ReconnectAttempts=2: exit 0 although every reconnect failed"
fi
proxy_stop
[ "$(proxy_conns giveup)" = 3 ] || fail "giveup: $(proxy_conns giveup) connections, not 3"
grep -q "reconnecting (attempt 2 of 2)" "$T/giveup.err" ||
    { cat "$T/giveup.err" >&2; fail "giveup: no 'reconnecting (attempt 2 of 2)'"; }
ok "ReconnectAttempts=2: gives up after two failed reconnects, non-zero exit"

# reconnects cut at every stage (key exchange, authentication, SFTP start,
# the prefix check): a handshake takes about 6000 bytes both ways
echo "get /g/big.bin $T/stages.bin" >"$T/stages.batch"
proxy_start stages "$FERRYD_PORT" --cut $C:down --cut 1500 --cut 3500 --cut 5000 --cut 7000:fin
ferry_ok stages
proxy_stop
cmp -s "$T/src/big.bin" "$T/stages.bin" || fail "stages: the downloaded file differs"
[ "$(proxy_conns stages)" = 6 ] || fail "stages: $(proxy_conns stages) connections, not 6"
ok "reconnects cut during the handshake, authentication and SFTP start: the get still completes"

# ---- 8. a reconnect reaching another host key is refused ----
# a second ferryd with its own host key; the proxy sends the reconnect there,
# and known_hosts lists both keys: only the first connection's key counts
ssh-keygen -q -t ed25519 -N '' -f "$T/other_host"
mkdir -p "$T/root2"
"$FERRYD" --listen 127.0.0.1:0 --root "$T/root2" --user "$TEST_USER" \
    --authorized-keys "$T/authorized_keys" --host-key "$T/other_host" \
    >"$T/ferryd2.out" 2>"$T/ferryd2.log" &
FERRYD2_PID=$!
resume_test_cleanup() {
    local p
    for p in "$FERRYD2_PID" "${FERRY_JOB:-}"; do
        if [ -n "$p" ]; then
            kill -TERM "$p" 2>/dev/null || true
            wait "$p" 2>/dev/null || true
        fi
    done
}
for _ in $(seq 1 200); do
    grep -q "listening on" "$T/ferryd2.log" 2>/dev/null && break
    sleep 0.05
done
PORT2=$(grep -m1 "listening on" "$T/ferryd2.log") || fail "the second ferryd did not start"
PORT2=${PORT2##*:}
echo "get /g/big.bin $T/switched.bin" >"$T/switch.batch"
proxy_start switch "$FERRYD_PORT" --cut $C:down --switch "2:$PORT2"
KEYS=("$T"/host_*.pub "$T/other_host.pub")
if run_ferry switch; then
    fail "switch: exit 0 although the reconnect met another host key"
fi
KEYS=("$T"/host_*.pub)
proxy_stop
kill -TERM "$FERRYD2_PID"
wait "$FERRYD2_PID" || fail "the second ferryd exited with an error after SIGTERM"
FERRYD2_PID=""
if grep -q "ERROR: AddressSanitizer\|runtime error:\|LeakSanitizer" "$T/ferryd2.log"; then
    fail "sanitizer report in the second ferryd's log"
fi
grep -q "differs from the first connection's; not reconnecting" "$T/switch.err" ||
    { cat "$T/switch.err" >&2; fail "switch: no 'differs from the first connection's' message"; }
[ "$(proxy_conns switch)" = 2 ] || fail "switch: $(proxy_conns switch) connections, not 2"
if grep -q "event=session_start" "$T/ferryd2.log"; then
    fail "switch: ferry authenticated to the server with the other host key"
fi
ok "a reconnect that meets another host key (even a known one) is refused"

# ---- 9. reget / reput verify the kept prefix too ----
P=$((10 * MIB))
head -c $P "$T/src/big.bin" >"$T/reget-bad.bin"
flip_byte "$T/reget-bad.bin" 5000000
head -c $P "$T/src/big.bin" >"$T/reget-good.bin"
head -c $P "$T/src/big.bin" >"$T/root/p/reput-bad.bin"
flip_byte "$T/root/p/reput-bad.bin" 5000000
{
    echo "reget /g/big.bin $T/reget-bad.bin"
    echo "reget /g/big.bin $T/reget-good.bin"
    echo "reput $T/src/big.bin /p/reput-bad.bin"
} >"$T/re.batch"
proxy_start re "$FERRYD_PORT"
ferry_ok re
proxy_stop
for f in "$T/reget-bad.bin" "$T/reget-good.bin" "$T/root/p/reput-bad.bin"; do
    cmp -s "$T/src/big.bin" "$f" || fail "reget/reput: $f differs"
done
[ "$(count "does not match; transferring it again" "$T/re.err")" = 2 ] ||
    { cat "$T/re.err" >&2; fail "reget/reput: not 2 'does not match' messages"; }
grep -q "Resuming \"/g/big.bin\" at byte $P (prefix verified by poly1305@ferry.dev)" "$T/re.err" ||
    { cat "$T/re.err" >&2; fail "reget: the good kept part was not verified and continued"; }
ok "reget and reput: a damaged kept part is sent again, a good one completed"

# ---- 10. VerifyTransfers: the whole file is compared after the last byte ----
# The proxy slows the transfer to 8 MB/s; once 6 MB have arrived, a byte
# already sent is changed at the source, so the two copies differ at the end.
head -c $((24 * MIB)) "$T/src/big.bin" >"$T/root/g/verify.bin"
head -c $((24 * MIB)) "$T/src/big.bin" >"$T/verify-src.bin"
# grown GLOB: waits until a file matching GLOB holds more than 6 MB
grown() {
    for _ in $(seq 1 600); do
        # shellcheck disable=SC2086 # the glob is meant to expand
        find $1 -size +6000000c 2>/dev/null | grep -q . && return 0
        sleep 0.05
    done
    fail "$1 did not grow past 6 MB"
}
# verify NAME BATCH WATCH SOURCE [options]: runs BATCH while the source changes
verify() {
    local name=$1 batch=$2 watch=$3 source=$4 pid
    shift 4
    echo "$batch" >"$T/$name.batch"
    proxy_start "$name" "$FERRYD_PORT" --rate 8000000
    proxy_known_hosts "$T/$name.kh" "${KEYS[@]}"
    run_ferry "$name" "$@" &
    pid=$!
    grown "$watch"
    flip_byte "$source" 1000
    VRC=0
    wait $pid || VRC=$?
    proxy_stop
}
verify vget "get /g/verify.bin $T/verify-got.bin" "$T/verify-got.bin" "$T/root/g/verify.bin"
[ $VRC -ne 0 ] || fail "VerifyTransfers: a get whose source changed meanwhile exited 0"
grep -q "hash mismatch" "$T/vget.err" || { cat "$T/vget.err" >&2; fail "vget: no 'hash mismatch'"; }
verify vput "put $T/verify-src.bin /p/verify.bin" "$T/root/p/.verify.bin.ferry-*.part" \
    "$T/verify-src.bin"
[ $VRC -ne 0 ] || fail "VerifyTransfers: a put whose source changed meanwhile exited 0"
grep -q "hash mismatch" "$T/vput.err" || { cat "$T/vput.err" >&2; fail "vput: no 'hash mismatch'"; }
verify vno "get /g/verify.bin $T/verify-no.bin" "$T/verify-no.bin" "$T/root/g/verify.bin" \
    -o VerifyTransfers=no
[ $VRC -eq 0 ] || { cat "$T/vno.err" >&2; fail "VerifyTransfers=no: exit status $VRC"; }
if grep -q "hash mismatch" "$T/vno.err"; then
    fail "VerifyTransfers=no: the file was compared"
fi
ok "VerifyTransfers: a source changed meanwhile is a hash mismatch (exit non-zero); =no skips it"
ferryd_stop

# ---- 11. upload-only: the partial file is continued without a hash ----
ferryd_start --mode upload-only
KEYS=("$T"/host_*.pub)
echo "put $T/src/big.bin /uo.bin" >"$T/uo.batch"
proxy_start uo "$FERRYD_PORT" --cut $C:up --cut $C:up:fin
ferry_ok uo
proxy_stop
cmp -s "$T/src/big.bin" "$T/root/uo.bin" || fail "upload-only: the uploaded file differs"
expect_losses uo 2
grep -q "Warning: server offers no file hash; \".*\" resumed by size only" "$T/uo.err" ||
    { cat "$T/uo.err" >&2; fail "upload-only: no 'resumed by size only' warning"; }
resumed_not_restarted uo up $BIG 2 $C
no_leftovers "$T/root"
ok "upload-only ferryd: put cut twice continues the partial file by size, equal"
ferryd_stop

# ---- 12. password authentication: asked once, kept for the reconnects ----
PW='Resume-Pw-7'
HASH=$(password_hash "$PW")
cat >"$T/askpass" <<EOF
#!/bin/sh
echo run >>"$T/askpass.count"
echo '$PW'
EOF
chmod 755 "$T/askpass"
echo "AuthenticationMethods password" >"$T/pw.conf"
ferryd_start --config "$T/pw.conf" --password-hash "$HASH"
KEYS=("$T"/host_*.pub)
proxy_start pw "$FERRYD_PORT" --cut $C:down --cut $C:down
proxy_known_hosts "$T/pw.kh" "${KEYS[@]}"
: >"$T/askpass.count"
rc=0
# commands on a pipe, not -b: -b means BatchMode=yes, which never asks
echo "get /g/big.bin $T/pw.bin" | SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force \
    setsid -w timeout 100 "$FERRY" -F none -P "$PROXY_PORT" -o UserKnownHostsFile="$T/pw.kh" \
    -o StrictHostKeyChecking=yes -o IdentityAgent=none -o PubkeyAuthentication=no \
    -o ReconnectDelay=0.2 tester@127.0.0.1 >"$T/pw.out" 2>"$T/pw.err" || rc=$?
proxy_stop
no_sanitizer "$T/pw.err"
[ $rc -eq 0 ] || { cat "$T/pw.err" >&2; fail "password: ferry exited with status $rc"; }
cmp -s "$T/src/big.bin" "$T/pw.bin" || fail "password: the downloaded file differs"
expect_losses pw 2
runs=$(grep -c . "$T/askpass.count" || true)
[ "$runs" = 1 ] || fail "password: SSH_ASKPASS ran $runs times, not once"
ok "password authentication: cut twice, equal, the password asked once"
ferryd_stop

# ---- 13. not only transfers: an ls cut midway is run again ----
ferryd_start
KEYS=("$T"/host_*.pub)
mkdir -p "$T/root/many"
for i in $(seq 1 1500); do : >"$T/root/many/entry-with-a-long-name-$i"; done
printf 'ls -l /many\n' >"$T/lsonce.batch"
proxy_start lsonce "$FERRYD_PORT"
ferry_ok lsonce
proxy_stop
DOWN=$(proxy_bytes lsonce down)
# a second session: the same listing, then a mkdir, then the listing
# again; cut in the middle of the first listing's replies (the listing
# is ~150 KB of the first session's $DOWN bytes, the end of the session
# a few hundred)
printf 'ls -l /many\nmkdir /made\nls -l /many\n' >"$T/lscut.batch"
proxy_start lscut "$FERRYD_PORT" --cut "1@$((DOWN - 60000)):down"
ferry_ok lscut
proxy_stop
expect_losses lscut 1
[ "$(grep -c "entry-with-a-long-name-" "$T/lscut.out")" -ge 3000 ] ||
    fail "lscut: the listing did not come twice in full after the reconnect"
grep -q "^sftp> ls -l /many" "$T/lscut.out" || fail "lscut: no listing echoed"
[ -d "$T/root/made" ] || fail "lscut: the mkdir after the reconnect did not run"
ok "an ls cut midway: reconnected, run again in full, the batch went on"
ferryd_stop

# ---- 14. -S ssh: a reconnect runs the program again ----
ferryd_start
KEYS=("$T"/host_*.pub)
proxy_start sprog "$FERRYD_PORT" --cut 1@$((8 * 1000 * 1000)):down
proxy_known_hosts "$T/sprog.kh" "${KEYS[@]}"
rm -f "$T/sprog.bin"
timeout 100 "$FERRY" -S ssh -F none -P "$PROXY_PORT" -o UserKnownHostsFile="$T/sprog.kh" \
    -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes \
    -o IdentityAgent=none -i "$T/id_ed25519" "tester@127.0.0.1:/g/big.bin" "$T/sprog.bin" \
    >"$T/sprog.out" 2>"$T/sprog.err" || { cat "$T/sprog.err" >&2; fail "-S ssh: get cut once failed"; }
proxy_stop
no_sanitizer "$T/sprog.err"
cmp -s "$T/src/big.bin" "$T/sprog.bin" || fail "-S ssh: the file differs after the reconnect"
expect_losses sprog 1
grep -q "^Reconnected" "$T/sprog.err" || fail "-S ssh: no reconnect: $(cat "$T/sprog.err")"
ok "-S ssh: a get cut once goes on over a new ssh, equal"
ferryd_stop

# ---- 15. the session process killed mid-put: the next session recovers its upload ----
ferryd_start
KEYS=("$T"/host_*.pub)
proxy_start killed "$FERRYD_PORT"
echo "put $T/src/big.bin /p/killed.bin" >"$T/killed.batch"
run_ferry killed -l 200000 &
FERRY_JOB=$!
part=""
for _ in $(seq 1 400); do
    part=$(find "$T/root/p" -maxdepth 1 -name '.killed.bin.ferry-*.part' -size +8M | head -1)
    [ -n "$part" ] && break
    sleep 0.05
done
[ -n "$part" ] || fail "killed: no upload under way"
kid=$(pgrep -P "$FERRYD_PID" | head -1)
[ -n "$kid" ] || fail "killed: no session process"
kill -KILL "$kid"
wait "$FERRY_JOB" || { cat "$T/killed.err" >&2; fail "killed: ferry exited non-zero"; }
FERRY_JOB=""
proxy_stop
cmp -s "$T/src/big.bin" "$T/root/p/killed.bin" || fail "killed: the uploaded file differs"
resumed killed /p/killed.bin 1
grep -q "op=partial_recovered path=/*p/killed.bin path2=/*p/.killed.bin.ferry-partial" "$T/ferryd.log" ||
    fail "killed: no partial_recovered event: $(grep 'op=partial' "$T/ferryd.log")"
no_leftovers "$T/root"
ok "the session process SIGKILLed mid-put: the next session recovers the upload it left, ferry resumes it, equal"
ferryd_stop
