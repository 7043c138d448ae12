#!/usr/bin/env bash
# test_client_roundtrips.sh: the round trips ferry waits for per command,
# counted by the delay proxy (bench/delay_proxy.py) between ferry and
# ferryd: 200 ms of round trip is far above either side's processing (even
# under a loaded CI with sanitizers), so
# each flight of requests the client sends after hearing from the server
# is one round trip. A session that only says `pwd` is the baseline
# (connection set-up and quit); a command costs what it adds to it.
#   get:  STAT+OPEN (the STAT tells a file from a directory); all READs
#         with the one that confirms the end, and behind them (ferryd)
#         check-file-handle and CLOSE = 2
#   put:  STAT+OPEN of the target (the STAT tells whether it is a
#         directory); WRITEs and behind them (ferryd) CLOSE and
#         check-file-name = 2
#   get -r of large files: 1 per file after the first (its STAT+OPEN
#         went out with the previous file's READs, its verification and
#         CLOSE behind its own)
#   ls:   OPENDIR; READDIRs two at a time (a small directory's names and
#         its EOF in one flight), the CLOSE not awaited = 2; ls DIR the
#         same (its OPENDIR goes with the STAT that tells a directory);
#         cd = 1 (REALPATH and STAT together)
#   with OpenSSH's sshd (no hashing): get, put and ls DIR = 2 as well
#         (the CLOSE alone right behind the last READ or WRITE)
# Without the pipelining (a STAT or FSTAT after the OPEN, a short last
# READ re-requested, a READ to find the end, CLOSE then verification)
# each would cost two or three more.
. "$FERRY_SRC/tests/interop/lib.sh"
need python3
FERRY="$FERRY_BUILD/ferry"
[ -x "$FERRY" ] || fail "$FERRY not built"

make_user_key ed25519
make_host_keys
ferryd_start
make_file "$T/root/one" 1000000
make_file "$T/up" 1000000

GROW_PID=""
test_cleanup() {
    kill $PROXY_PIDS $GROW_PID 2>/dev/null || true
    wait $PROXY_PIDS $GROW_PID 2>/dev/null || true
}
proxy_to "$FERRYD_PORT"
WHO=tester@127.0.0.1

# session COMMANDS: one session through the proxy running them
session() {
    printf '%s\n' "$@" >"$T/batch"
    timeout 120 "$FERRY" -F none -P "$PROXY_PORT" -o UserKnownHostsFile="$T/known_hosts" \
        -o StrictHostKeyChecking=no -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none \
        -i "$T/id_ed25519" -b "$T/batch" "$WHO" >"$T/out" 2>"$T/err" ||
        { cat "$T/err" >&2; fail "session failed: $*"; }
}
# turns COMMANDS: the round trips of one session running them
turns() { turns_of session "$@"; }

# within MAX WHAT SRC DST COMMANDS...: the round trips beyond set-up of a
# session running COMMANDS, which must leave DST equal to SRC and take at
# most MAX; prints them
within() {
    local max=$1 what=$2 src=$3 dst=$4 n
    shift 4
    n=$(($(turns "$@") - base))
    diff -r "$src" "$dst" >/dev/null || fail "$what: trees differ"
    [ "$n" -le "$max" ] || fail "$what took $n round trips (want at most $max)"
    echo "$n"
}

base=$(turns pwd)
[ -n "$base" ] && [ "$base" -gt 0 ] || fail "no round trips counted for pwd"
g=$(($(turns "get one $T/got") - base))
cmp -s "$T/root/one" "$T/got" || fail "get: file differs"
[ "$g" -le 2 ] || fail "get of 1 MB took $g round trips (want at most 2)"
[ "$g" -ge 1 ] || fail "get of 1 MB took only $g round trips: the count is off"
ok "get of 1 MB: $g round trips beyond set-up (set-up and quit: $base)"

p=$(($(turns "put $T/up up") - base))
cmp -s "$T/up" "$T/root/up" || fail "put: file differs"
[ "$p" -le 2 ] || fail "put of 1 MB took $p round trips (want at most 2)"
[ "$p" -ge 1 ] || fail "put of 1 MB took only $p round trips: the count is off"
ok "put of 1 MB: $p round trips beyond set-up"

# get -r of a directory of large files: each file's STAT+OPEN travels
# with the READs of the one before, its check-file and CLOSE behind its
# own READs, so a file adds 1 round trip, not 3
mkdir -p "$T/root/one_large" "$T/root/four_large"
make_file "$T/root/one_large/a" 3000000
for f in a b c d; do make_file "$T/root/four_large/$f" 3000000; done
r1=$(turns "get -r one_large $T/got1")
r4=$(turns "get -r four_large $T/got4")
diff -r "$T/root/four_large" "$T/got4" >/dev/null || fail "get -r: trees differ"
[ $((r4 - r1)) -le 3 ] || fail "get -r: 3 more large files cost $((r4 - r1)) round trips (want at most 3)"
[ $((r4 - r1)) -ge 2 ] || fail "get -r: 3 more large files cost only $((r4 - r1)) round trips: the count is off"
ok "get -r: $((r4 - r1)) round trips for 3 more files of 3 MB"
# get of several files (a pattern): each next file's STAT+OPEN goes out
# with the current one's READs, as in get -r: the listing 2, the first
# file 2, then 1 each (was 2 + 4 * 2)
mkdir -p "$T/gm"
gm=$(within 7 "get of 4 files of 3 MB by a pattern" "$T/root/four_large" "$T/gm" \
    "get four_large/* $T/gm")
ok "get of 4 files by a pattern: $gm round trips"

# Listings. One READDIR at a time and a CLOSE awaited cost 4 for ls, 5
# for ls DIR, 2 for cd; a directory of 1000 entries (ferryd answers 100
# per READDIR) 13 instead of 4 (2, 4 then 8 READDIRs in flight).
mkdir -p "$T/root/lsdir" "$T/root/lsbig"
for i in 1 2 3 4 5; do make_file "$T/root/lsdir/e$i" 10; done
for i in $(seq 1000); do : >"$T/root/lsbig/f$i"; done
l=$(($(turns "ls") - base))
[ "$l" -le 2 ] || fail "ls took $l round trips (want at most 2)"
ld=$(($(turns "ls -1 lsdir") - base))
[ "$(grep -c '^lsdir/e[1-5]' "$T/out")" = 5 ] || fail "ls lsdir: entries missing"
[ "$ld" -le 2 ] || fail "ls lsdir took $ld round trips (want at most 2)"
lb=$(($(turns "ls -1 lsbig") - base))
[ "$(grep -c '^lsbig/f' "$T/out")" = 1000 ] || fail "ls lsbig: not 1000 entries"
[ "$lb" -le 4 ] || fail "ls of 1000 entries took $lb round trips (want at most 4)"
c=$(($(turns "cd lsdir" "pwd") - base))
grep -q "Remote working directory: /lsdir" "$T/out" || fail "cd lsdir did not change directory"
[ "$c" -le 1 ] || fail "cd took $c round trips (want 1)"
ok "ls: $l, ls DIR: $ld, ls of 1000 entries: $lb, cd: $c round trips"

# rm and chmod of a glob: the listing (2), then every REMOVE or SETSTAT
# in one flight (1), not one round trip per file (was 4 + 10)
mkdir -p "$T/root/rmdir10"
for i in 0 1 2 3 4 5 6 7 8 9; do make_file "$T/root/rmdir10/r$i" 10; done
ch=$(($(turns "chmod 600 rmdir10/r*") - base))
[ "$(find "$T/root/rmdir10" -type f -perm 600 | wc -l)" = 10 ] || fail "chmod of a glob: not every file"
rm10=$(($(turns "rm rmdir10/r*") - base))
[ -z "$(ls "$T/root/rmdir10")" ] || fail "rm of a glob left files"
[ "$ch" -le 3 ] || fail "chmod of 10 files took $ch round trips (want at most 3)"
[ "$rm10" -le 3 ] || fail "rm of 10 files took $rm10 round trips (want at most 3)"
ok "chmod / rm of a glob of 10 files: $ch / $rm10 round trips"

# A directory of small files is one batch: its OPENs, its READs (or
# WRITEs) with the CLOSEs right behind, and with ferryd the verification
# right behind the last CLOSE instead of a round trip of its own — get -r
# 4 in all (the STAT with the OPENDIR, the READDIRs, the batch's two),
# put -r 4; 10 files cost no more than 1.
mkdir -p "$T/root/small1" "$T/root/small10" "$T/up1" "$T/up10"
make_file "$T/root/small1/f0" 20000
make_file "$T/up1/f0" 20000
for i in 0 1 2 3 4 5 6 7 8 9; do
    make_file "$T/root/small10/f$i" 20000
    make_file "$T/up10/f$i" 20000
done
s1=$(turns "get -r small1 $T/gs1")
s10=$(turns "get -r small10 $T/gs10")
diff -r "$T/root/small10" "$T/gs10" >/dev/null || fail "get -r of small files: trees differ"
[ "$s10" -le "$s1" ] || fail "get -r: 10 small files cost $((s10 - s1)) round trips more than 1"
p1=$(turns "put -r $T/up1 pu1")
p10=$(turns "put -r $T/up10 pu10")
diff -r "$T/up10" "$T/root/pu10" >/dev/null || fail "put -r of small files: trees differ"
[ "$p10" -le "$p1" ] || fail "put -r: 10 small files cost $((p10 - p1)) round trips more than 1"
[ $((s1 - base)) -le 4 ] || fail "get -r of a small file took $((s1 - base)) round trips (want at most 4)"
[ $((p1 - base)) -le 4 ] || fail "put -r of a small file took $((p1 - base)) round trips (want at most 4)"
ok "get -r / put -r of small files: $((s10 - base)) / $((p10 - base)) round trips for 10 files (1 file: $((s1 - base)) / $((p1 - base)))"
# put of several small files by a pattern: one batch, as in put -r —
# the destination's STAT, the OPENs, the WRITEs with the CLOSEs (and
# ferryd's verification) behind them: 3, not 1 + 10 * 2
mkdir -p "$T/root/pm"
pm=$(within 3 "put of 10 small files by a pattern" "$T/up10" "$T/root/pm" "put $T/up10/f* pm")
ok "put of 10 small files by a pattern: $pm round trips"

# Subdirectories: each one's OPENDIR went out when the one before was
# entered, so a directory of one small file costs 3 (READDIRs, the
# batch's two), not 4 — but the first of a listing, whose OPENDIR can
# only follow the listing: a tree of three, 2 + 4 + 3 + 3 (was 14).
for d in s1 s2 s3; do mkdir -p "$T/root/tree3/$d"; make_file "$T/root/tree3/$d/f" 5000; done
t3=$(within 12 "get -r of 3 subdirectories" "$T/root/tree3" "$T/gt3" "get -r tree3 $T/gt3")
ok "get -r of 3 subdirectories of one small file: $t3 round trips"
# put -r: the subdirectories' MKDIRs (each with a STAT: an existing one
# is fine) go out with the listing, so each costs the batch's two, not 3:
# 1 (the MKDIRs) + 3 * 2 (was 10); again into the existing tree (every
# MKDIR fails, every STAT says it is there) the same (was 14)
mkdir -p "$T/up3"; cp -r "$T/root/tree3/." "$T/up3/"
u3=$(within 7 "put -r of 3 subdirectories" "$T/up3" "$T/root/up3" "put -r $T/up3")
u3b=$(within 7 "put -r into the existing tree" "$T/up3" "$T/root/up3" "put -r $T/up3")
ok "put -r of 3 subdirectories of one small file: $u3 round trips ($u3b into the existing tree)"

# A file that grows all the time: the READ at the size its STAT gave
# brings data after the early check-file and CLOSE went out, so ferry
# goes on with a new handle (ferryd's audit shows the second OPEN) and
# verifies what it got by name: a prefix of the file, whole.
# grown FILE REMOTE_NAME LOCAL: gets REMOTE_NAME (FILE on disk) while it
# grows from 2 MB; checks that more arrived, a prefix; prints its size
grown() {
    make_file "$1" 2000000
    (while :; do head -c 4096 /dev/urandom >>"$1"; sleep 0.005; done) &
    GROW_PID=$!
    turns "get $2 $3" >/dev/null
    kill "$GROW_PID"
    wait "$GROW_PID" 2>/dev/null || true
    GROW_PID=""
    local got
    got=$(stat -c %s "$3")
    [ "$got" -gt 2000000 ] || fail "growing file: got only $got bytes"
    cmp -s -n "$got" "$3" "$1" || fail "growing file: what arrived is not its prefix"
    echo "$got"
}
got=$(grown "$T/root/growing" growing "$T/grown")
grep -q "Verification of .* failed" "$T/err" && fail "growing file: verification failed"
opens=$(grep -c 'op=open path=/growing ' "$T/ferryd.log") || true
[ "$opens" = 2 ] || fail "growing file: $opens OPENs, not 2 (no second handle for the rest?)"
ok "a growing file: continued on a second handle, a verified prefix of $got bytes"
ferryd_stop

# OpenSSH's sshd offers no hashing: nothing is verified by hash, and the
# CLOSE alone goes right behind the last READ or WRITE (it serves one
# handle's requests in order), so get and put cost 2 there too, not 3.
sshd_start "$T/host_ecdsa256"
proxy_to "$SSHD_PORT"
WHO=root@127.0.0.1
base=$(turns pwd)
g=$(($(turns "get $T/root/one $T/got_s") - base))
cmp -s "$T/root/one" "$T/got_s" || fail "sshd get: file differs"
grep -q "Verification" "$T/err" && fail "sshd get: a verification without hashing?"
[ "$g" -le 2 ] || fail "sshd: get of 1 MB took $g round trips (want at most 2)"
p=$(($(turns "put $T/up $T/put_s") - base))
cmp -s "$T/up" "$T/put_s" || fail "sshd put: file differs"
[ "$p" -le 2 ] || fail "sshd: put of 1 MB took $p round trips (want at most 2)"
l=$(($(turns "ls -1 $T/root/lsdir") - base))
[ "$(grep -c '/lsdir/e[1-5]$' "$T/out")" = 5 ] || fail "sshd ls: entries missing"
[ "$l" -le 2 ] || fail "sshd: ls DIR took $l round trips (want at most 2)"
# a file longer than its STAT said: the READ at that size brings data
# after the CLOSE went out; the rest comes on a new handle
got=$(grown "$T/grow_s" "$T/grow_s" "$T/grown_s")
ok "sshd: get $g, put $p, ls DIR $l round trips beyond set-up ($base); a growing file, $got bytes"
sshd_stop
