#!/usr/bin/env bash
# lftp against ferryd. lftp's SFTP client is its own implementation; it
# runs OpenSSH's `ssh -s sftp` only as the transport. Covered: put and
# get of a 4 MiB file, `pget -n 4` (segmented download over several
# sessions) of a 12 MiB file, ls / cls -l / cls -1 / find of a directory
# of 300 entries (names and sizes), mkdir -p, mv (and mv onto an existing
# name refused), rm, rm -r, rmdir (a non-empty one refused), chmod (mode
# on disk), ln -s (link on disk, a get through it), mirror -R with 4
# parallel transfers and mirror back (trees compared with diff -r, modes
# and an incremental mirror -R --delete), get -c / reget and put -c /
# reput continuing at the right offset, and a get of a missing file
# failing with its name in the error. Bytes are compared with cmp.
. "$FERRY_SRC/tests/interop/lib.sh"
need lftp ssh ssh-keygen cmp diff find timeout

make_user_key ed25519
echo "PerSourcePenalties no" >"$T/ferryd.conf"
ferryd_start --config "$T/ferryd.conf"

# lftp reads no rc file (--norc) and keeps its history, cwd cache and
# bookmarks under $T, not in the user's home
export HOME="$T/home" LFTP_HOME="$T/home/.lftp" XDG_CONFIG_HOME="$T/home/.config" \
    XDG_DATA_HOME="$T/home/.local/share"
mkdir -p "$HOME"

L="$T/local"
R="$T/root"
mkdir -p "$L"

# The transport is ssh with only the options given here (no user or
# system configuration, no agent, the host key from ferryd_start's
# known_hosts and nothing else); a failure ends lftp with a non-zero
# status, and it retries at most once, a second later.
cat >"$T/lftp.rc" <<RC
set cmd:fail-exit yes
set cmd:interactive no
set net:max-retries 2
set net:persist-retries 0
set net:timeout 10
set net:reconnect-interval-base 1
set net:reconnect-interval-max 2
set xfer:clobber yes
set sftp:auto-confirm no
set sftp:connect-program "ssh -a -x -F /dev/null -o UserKnownHostsFile=$T/known_hosts -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i $T/id_ed25519"
open -u $TEST_USER, -p $FERRYD_PORT sftp://127.0.0.1
lcd $L
RC

# lftp_run CMD...: one lftp process (its own sessions) running the
# commands, one a line, after the settings above; stdout and stderr as
# lftp gives them.
LFTP_N=0
lftp_run() {
    LFTP_N=$((LFTP_N + 1))
    { cat "$T/lftp.rc"; printf '%s\n' "$@"; } >"$T/lftp.$LFTP_N"
    timeout 30 lftp --norc -f "$T/lftp.$LFTP_N"
}

sessions() {
    grep -c 'event=session_start' "$T/ferryd.log" || true
}

# ---- put and get ----
make_file "$L/big" $((4 * 1024 * 1024 + 777))
lftp_run "put big -o big.bin" "get big.bin -o big.back" || fail "put/get"
same "$L/big" "$R/big.bin"
same "$L/big" "$L/big.back"
ok "put and get of 4 MiB"

# ---- pget -n 4: segments in parallel, over more than one session ----
make_file "$R/huge.bin" $((12 * 1024 * 1024 + 4099))
before=$(sessions)
# on loopback one session would read the whole file before the others
# are up (lftp then drops them): a per-connection rate limit (3 MB/s,
# ~4 s alone, ~1 s for four) makes the segments run side by side
lftp_run "set net:limit-rate 3M" "pget -n 4 huge.bin -o huge.pget" || fail "pget -n 4"
same "$R/huge.bin" "$L/huge.pget"
after=$(sessions)
[ $((after - before)) -ge 2 ] || fail "pget -n 4 used $((after - before)) session(s), expected several"
# every segment read by its own handle: more than one handle read part of it
parts=$(grep 'op=close path=/huge.bin ' "$T/ferryd.log" | grep -c 'bytes_read=[1-9]' || true)
[ "$parts" -ge 2 ] || fail "pget -n 4 read huge.bin through $parts handle(s)"
ok "pget -n 4 of 12 MiB ($((after - before)) sessions, $parts handles)"

# ---- listings of a directory of 300 entries ----
mkdir -p "$R/many/sub1" "$R/many/sub2"
for i in $(seq -w 1 297); do
    head -c $((10#$i)) /dev/zero >"$R/many/e-$i"
done
echo x >"$R/many/sub1/inner"
echo yy >"$R/many/name with spaces"
(cd "$R/many" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | sort) >"$T/many.expect"
[ "$(wc -l <"$T/many.expect")" -eq 300 ] || fail "setup: 300 entries expected"
lftp_run "cd many" "cls -1 >$T/many.cls1" "cls -l >$T/many.clsl" "ls >$T/many.ls" \
    "cd .." "find many >$T/many.find" || fail "listing"
# cls -1 and cls -l mark directories with a trailing / (cmd:cls-default -F)
sed 's:/$::' "$T/many.cls1" | sort | diff "$T/many.expect" - >/dev/null ||
    fail "cls -1 names differ: $(sed 's:/$::' "$T/many.cls1" | sort | diff "$T/many.expect" - | head -5)"
names_of_long() { sed -E 's/^([^ ]+ +){8}//; s:/$::' "$1" | grep -vx '\.\|\.\.' | sort; }
names_of_long "$T/many.clsl" | diff "$T/many.expect" - >/dev/null ||
    fail "cls -l names differ: $(names_of_long "$T/many.clsl" | diff "$T/many.expect" - | head -5)"
names_of_long "$T/many.ls" | diff "$T/many.expect" - >/dev/null ||
    fail "ls names differ: $(names_of_long "$T/many.ls" | diff "$T/many.expect" - | head -5)"
# sizes in cls -l: e-NNN holds NNN bytes
bad=$(awk '{ n = $9; if (n ~ /^e-[0-9]+$/ && $5 != substr(n, 3) + 0) print n, $5 }' "$T/many.clsl")
[ -z "$bad" ] || fail "cls -l sizes wrong: $(echo "$bad" | head -3)"
[ "$(grep -c ' e-[0-9]*$' "$T/many.clsl")" -eq 297 ] || fail "cls -l: not 297 e- entries"
(cd "$R" && find many) | sort >"$T/find.expect"
sed 's:/$::' "$T/many.find" | sort | diff "$T/find.expect" - >/dev/null ||
    fail "find differs: $(sed 's:/$::' "$T/many.find" | sort | diff "$T/find.expect" - | head -5)"
ok "ls, cls -1, cls -l (names, sizes), find of 300 entries"

# ---- mkdir, mv, rm, rmdir, chmod, ln -s ----
make_file "$L/small" 54321
make_file "$L/other" 999
lftp_run "mkdir -p ops/sub/deeper ops/empty" "put small -o ops/a" "mv ops/a ops/b" \
    "chmod 640 ops/b" "chmod 711 ops/sub" "put other -o ops/gone" "rm ops/gone" \
    "rmdir ops/empty" "ln -s b ops/link" "ln -s sub/deeper ops/dlink" \
    "get ops/link -o via.link" || fail "file operations"
[ -d "$R/ops/sub/deeper" ] || fail "mkdir -p did not make ops/sub/deeper"
[ ! -e "$R/ops/a" ] || fail "mv left ops/a"
same "$L/small" "$R/ops/b"
[ "$(stat -c %a "$R/ops/b")" = 640 ] || fail "chmod 640: mode $(stat -c %a "$R/ops/b")"
[ "$(stat -c %a "$R/ops/sub")" = 711 ] || fail "chmod 711: mode $(stat -c %a "$R/ops/sub")"
[ ! -e "$R/ops/gone" ] || fail "rm left ops/gone"
[ ! -e "$R/ops/empty" ] || fail "rmdir left ops/empty"
[ -L "$R/ops/link" ] || fail "ln -s: ops/link is not a symlink"
[ "$(readlink "$R/ops/link")" = b ] || fail "ln -s: ops/link -> $(readlink "$R/ops/link"), expected b"
[ "$(readlink "$R/ops/dlink")" = sub/deeper ] || fail "ln -s: ops/dlink -> $(readlink "$R/ops/dlink")"
same "$L/small" "$L/via.link"
ok "mkdir -p, mv, chmod (modes on disk), rm, rmdir, ln -s, get through a link"

# refusals: rmdir of a non-empty directory, mv onto an existing name
# (SFTP v3 RENAME: an existing newpath is an error), rm of nothing
if lftp_run "rmdir ops/sub" >"$T/rmdir.out" 2>&1; then fail "rmdir of a non-empty directory succeeded"; fi
[ -d "$R/ops/sub/deeper" ] || fail "failed rmdir removed something"
put_other="put other -o ops/c"
lftp_run "$put_other" || fail "put ops/c"
if lftp_run "mv ops/c ops/b" >"$T/mv.out" 2>&1; then fail "mv onto an existing file succeeded"; fi
same "$L/small" "$R/ops/b"
same "$L/other" "$R/ops/c"
if lftp_run "rm ops/nothing" >"$T/rm.out" 2>&1; then fail "rm of a missing file succeeded"; fi
grep -q nothing "$T/rm.out" || fail "rm error does not name the file: $(cat "$T/rm.out")"
lftp_run "rm -r ops" || fail "rm -r"
if [ -e "$R/ops" ] || [ -L "$R/ops" ]; then fail "rm -r left ops"; fi
ok "refused: rmdir non-empty, mv onto existing, rm missing; rm -r"

# ---- mirror -R and mirror ----
for d in a a/b a/b/c d e/f; do mkdir -p "$L/tree/$d"; done
mkdir -p "$L/tree/empty"
n=0
for d in . a a/b a/b/c d e/f; do
    for i in $(seq 1 17); do
        n=$((n + 1))
        [ $n -le 100 ] || break
        make_file "$L/tree/$d/f$i" $(((n * 7919) % 20000))
    done
done
: >"$L/tree/zero"
make_file "$L/tree/d/five" $((5 * 1024 * 1024 + 3))
chmod 600 "$L/tree/a/f1"
chmod 750 "$L/tree/d"
[ "$(find "$L/tree" -type f | wc -l)" -ge 100 ] || fail "setup: tree too small"
before=$(sessions)
lftp_run "mirror -R --parallel=4 tree tree.up" || fail "mirror -R"
after=$(sessions)
[ $((after - before)) -ge 2 ] || fail "mirror -R --parallel=4 used $((after - before)) session(s)"
diff -r "$L/tree" "$R/tree.up" >"$T/diff.up" || fail "mirror -R: trees differ: $(head -5 "$T/diff.up")"
[ "$(stat -c %a "$R/tree.up/a/f1")" = 600 ] || fail "mirror -R: mode of a/f1 $(stat -c %a "$R/tree.up/a/f1")"
[ "$(stat -c %a "$R/tree.up/d")" = 750 ] || fail "mirror -R: mode of d $(stat -c %a "$R/tree.up/d")"
lftp_run "mirror --parallel=4 tree.up tree.down" || fail "mirror"
diff -r "$L/tree" "$L/tree.down" >"$T/diff.down" || fail "mirror: trees differ: $(head -5 "$T/diff.down")"
ok "mirror -R ($((after - before)) sessions, modes kept) and mirror back, trees equal"

# incremental: a changed file (same size, newer), a new one, a deleted one
make_file "$L/tree/a/b/f3" "$(stat -c %s "$L/tree/a/b/f3")"
touch -d '+1 minute' "$L/tree/a/b/f3"
make_file "$L/tree/e/new" 4444
rm "$L/tree/d/f2"
lftp_run "mirror -R --delete tree tree.up" || fail "mirror -R --delete"
diff -r "$L/tree" "$R/tree.up" >"$T/diff.inc" || fail "incremental mirror -R: $(head -5 "$T/diff.inc")"
ok "incremental mirror -R --delete"

# ---- resume: get -c / reget, put -c / reput ----
make_file "$R/res.bin" $((3 * 1024 * 1024 + 11))
head -c 1234567 "$R/res.bin" >"$L/res.got"
# a prefix that is not the file's: the continued download must keep it
# and fetch only from its end
head -c 1000000 /dev/zero >"$L/res.mark"
lftp_run "get -c res.bin -o res.got" "reget res.bin -o res.mark" || fail "get -c / reget"
same "$R/res.bin" "$L/res.got"
cmp -s <(head -c 1000000 "$L/res.mark") <(head -c 1000000 /dev/zero) || fail "reget rewrote the prefix"
cmp -s <(tail -c +1000001 "$L/res.mark") <(tail -c +1000001 "$R/res.bin") || fail "reget: tail differs"
[ "$(stat -c %s "$L/res.mark")" -eq "$(stat -c %s "$R/res.bin")" ] || fail "reget: wrong size"
ok "get -c and reget continue at the local size"

make_file "$L/up.src" $((3 * 1024 * 1024 + 5))
head -c 1500000 "$L/up.src" >"$R/up.part"
head -c 700000 /dev/zero >"$R/up.mark"
lftp_run "put -c up.src -o up.part" "reput up.src -o up.mark" || fail "put -c / reput"
same "$L/up.src" "$R/up.part"
cmp -s <(head -c 700000 "$R/up.mark") <(head -c 700000 /dev/zero) || fail "reput rewrote the prefix"
cmp -s <(tail -c +700001 "$R/up.mark") <(tail -c +700001 "$L/up.src") || fail "reput: tail differs"
[ "$(stat -c %s "$R/up.mark")" -eq "$(stat -c %s "$L/up.src")" ] || fail "reput: wrong size"
ok "put -c and reput continue at the remote size"

# ---- errors ----
rc=0
lftp_run "get no-such-file.bin -o missing.out" >"$T/missing.out" 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "get of a missing file exited 0"
[ $rc -ne 124 ] || fail "get of a missing file timed out"
grep -q 'no-such-file.bin' "$T/missing.out" || fail "error does not name the file: $(cat "$T/missing.out")"
grep -qi 'no such file' "$T/missing.out" || fail "error is not 'no such file': $(cat "$T/missing.out")"
rc=0
lftp_run "cd no-such-dir" >"$T/cd.out" 2>&1 || rc=$?
[ $rc -ne 0 ] || fail "cd to a missing directory exited 0"
[ $rc -ne 124 ] || fail "cd to a missing directory timed out"
ok "get of a missing file and cd to a missing directory fail ($(head -n1 "$T/missing.out"))"

ferryd_stop
ok "clean shutdown"
