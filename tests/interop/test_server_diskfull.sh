#!/usr/bin/env bash
# A full disk: ferryd serves from an 8 MiB tmpfs and OpenSSH's sftp and
# ferry each upload a 16 MiB file, once under a new name and once over an
# existing file. Each time the client gets an error status with a message
# and exits non-zero, no file appears under the new name, the replaced
# file keeps its earlier content, no temporary file is left behind (the
# space is free again) and a small upload afterwards succeeds. Then the
# client's disk is the full one: a download fails with the local error.
#
# The tmpfs is mounted in a private mount namespace: the script re-runs
# itself under `unshare -m` (needs root), so the mount never reaches the
# host and disappears with the test.
if [ "${FERRY_DISKFULL_NS:-}" != 1 ]; then
    [ "$(id -u)" = 0 ] || {
        echo "FAIL: needs root for a private tmpfs mount (unshare -m)" >&2
        exit 1
    }
    FERRY_DISKFULL_NS=1 exec unshare -m --propagation private "$0" "$@"
fi
. "$FERRY_SRC/tests/interop/lib.sh"
need sftp ssh-keygen mount umount timeout /usr/bin/python3
FERRY="$FERRY_BUILD/ferry"
[ -x "$FERRY" ] || fail "$FERRY not built"

# At exit the mounts go first, then lib.sh's cleanup (ferryd, $T) runs
# with the test's status (set +e: a failed status must not end the trap).
MOUNTS=()
on_exit() {
    local rc=$?
    set +e
    [ ${#MOUNTS[@]} -eq 0 ] || umount -l "${MOUNTS[@]}"
    (exit $rc)
    _ferry_cleanup
}
trap on_exit EXIT
tmpfs() { # DIR: an 8 MiB tmpfs
    mkdir -p "$1"
    mount -t tmpfs -o size=8m,mode=0755 ferry-diskfull "$1" || fail "cannot mount a tmpfs on $1"
    MOUNTS+=("$1")
}
DISK="$T/disk"
tmpfs "$DISK"
mkdir "$DISK/root"

make_user_key ed25519
make_file "$T/big.bin" $((16 * 1024 * 1024))
make_file "$T/old.bin" 100000
make_file "$T/small.bin" 200000
make_file "$T/nearly.bin" $((8 * 1024 * 1024 + 200 * 1024))

# ferryd serves $DISK/root (ferryd_start would use $T/root)
ln -s "$DISK/root" "$T/root"
echo "PerSourcePenalties no" >"$T/ferryd.conf"
ferryd_start --config "$T/ferryd.conf"

used_kb() { df -k --output=used "$DISK" | tail -1 | tr -d ' '; }
base=$(used_kb)

OPTS="-F none -P $FERRYD_PORT -o UserKnownHostsFile=$T/known_hosts -o StrictHostKeyChecking=yes \
-o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i $T/id_ed25519"
# shellcheck disable=SC2086
run_client() { # CLIENT BATCH: sets RC, output in $T/out
    RC=0
    case $1 in
    sftp) timeout 120 sftp $OPTS -o GlobalKnownHostsFile=/dev/null -b "$2" \
        "$TEST_USER@127.0.0.1" >"$T/out" 2>&1 || RC=$? ;;
    ferry) timeout 120 "$FERRY" $OPTS -b "$2" "$TEST_USER@127.0.0.1" >"$T/out" 2>&1 || RC=$? ;;
    esac
}

# After a failed upload: the root holds exactly $1 (sorted names, blank
# separated), nothing else, and the space is back to what it was.
expect_root() {
    local got
    got=$(ls -A "$DISK/root" | sort | paste -sd' ')
    [ "$got" = "$1" ] || fail "root holds '$got', expected '$1'"
    local now
    now=$(used_kb)
    [ "$now" -le $((base + 400)) ] || fail "tmpfs still uses $now kB (was $base kB): space not released"
}

# replace_fails CLIENT FILE WHAT: CLIENT's upload of FILE over keep.bin
# fails with a message, and keep.bin, alone in the root, keeps old.bin's
# content (the space is released).
replace_fails() {
    base=$(used_kb)
    echo "put $2 keep.bin" >"$T/batch"
    run_client "$1" "$T/batch"
    [ $RC -ne 0 ] || fail "$1: $3 reported success"
    grep -Eqi "no space left|failure" "$T/out" || { cat "$T/out" >&2; fail "$1: no error message"; }
    expect_root "keep.bin"
    same "$T/old.bin" "$DISK/root/keep.bin"
}

for client in sftp ferry; do
    # 1. a new name
    echo "put $T/big.bin new-$client.bin" >"$T/batch"
    run_client $client "$T/batch"
    [ $RC -ne 0 ] || { cat "$T/out" >&2; fail "$client: 16 MiB upload on 8 MiB reported success"; }
    [ $RC -ne 124 ] || fail "$client: timed out on a full disk"
    grep -Eqi "no space left|failure" "$T/out" || { cat "$T/out" >&2; fail "$client: no error message"; }
    expect_root ""
    ok "$client: upload to a new name on a full disk fails with: $(grep -Ei 'no space|failure' "$T/out" | head -1)"

    # 2. over an existing file
    cp "$T/old.bin" "$DISK/root/keep.bin"
    replace_fails $client "$T/big.bin" "replacing upload on a full disk"
    ok "$client: replacing upload on a full disk fails, the earlier content is intact"

    # 2b. the space runs out in the last few hundred KiB: every WRITE is
    # out before the failure comes back, and ferry's CLOSE (with ferryd
    # sent right behind the last WRITE) follows a failed WRITE: ferryd
    # must not put that upload in place
    replace_fails $client "$T/nearly.bin" "upload just over the free space"
    ok "$client: upload failing in its last WRITEs leaves the earlier content intact"

    # 3. the server keeps working: a small upload and its download
    printf 'put %s small.bin\nget small.bin %s\n' "$T/small.bin" "$T/small-$client.bin" >"$T/batch"
    run_client $client "$T/batch"
    [ $RC -eq 0 ] || { cat "$T/out" >&2; fail "$client: small upload after the failures"; }
    same "$T/small.bin" "$DISK/root/small.bin"
    same "$T/small.bin" "$T/small-$client.bin"
    rm -f "$DISK/root/small.bin" "$DISK/root/keep.bin" "$T/small-$client.bin"
    base=$(used_kb)
    ok "$client: small upload and download afterwards succeed"
done

# The client's disk full: a 16 MiB download into an 8 MiB tmpfs fails
# with the local error (not a remote one) and a non-zero exit.
tmpfs "$T/ldisk"
for client in sftp ferry; do
    rm -f "$DISK/root/"*
    head -c $((6 * 1024 * 1024)) "$T/big.bin" >"$DISK/root/six.bin"
    printf 'get six.bin %s/a.bin\nget six.bin %s/b.bin\n' "$T/ldisk" "$T/ldisk" >"$T/batch"
    run_client $client "$T/batch"
    [ $RC -ne 0 ] || fail "$client: download into a full local disk reported success"
    grep -q "No space left on device" "$T/out" || { cat "$T/out" >&2; fail "$client: message"; }
    same "$DISK/root/six.bin" "$T/ldisk/a.bin"
    rm -f "$T/ldisk/"*
    ok "$client: download into a full local disk fails with: $(grep 'No space' "$T/out")"
done
rm -f "$DISK/root/six.bin"
base=$(used_kb)

# The status itself: SSH_FX_FAILURE with the message "no space left" on
# the WRITE (paramiko shows the server's text); the CLOSE fails as well.
cat >"$T/full.py" <<'PY'
import sys, paramiko
port, key, user = int(sys.argv[1]), sys.argv[2], sys.argv[3]
t = paramiko.Transport(("127.0.0.1", port))
t.connect(username=user, pkey=paramiko.Ed25519Key.from_private_key_file(key))
sftp = paramiko.SFTPClient.from_transport(t)
f = sftp.open("para.bin", "w")
chunk = b"z" * 32768
try:
    for _ in range(16 * 32):
        f.write(chunk)
        f.flush()
    print("write: no error")
except IOError as e:
    print("write:", e)
if len(sys.argv) < 5:
    f.close()  # paramiko ignores the CLOSE status: see the audit line below
t.close()  # with "abandon": the session ends with the handle open
PY
/usr/bin/python3 "$T/full.py" "$FERRYD_PORT" "$T/id_ed25519" "$TEST_USER" >"$T/para.out" 2>&1 ||
    { cat "$T/para.out" >&2; fail "paramiko helper"; }
grep -qi "^write: .*no space left" "$T/para.out" || { cat "$T/para.out" >&2; fail "WRITE status"; }
grep -q "op=close path=para.bin .* result=failure" "$T/ferryd.log" || fail "CLOSE did not fail"
grep -q "op=close path=/new-ferry.bin .* result=failure" "$T/ferryd.log" || fail "CLOSE did not fail"
grep -q "op=close path=/new-sftp.bin .* result=failure" "$T/ferryd.log" || fail "CLOSE did not fail"
expect_root ""
ok "WRITE answers FAILURE \"no space left\", the CLOSEs fail too, nothing left behind"

# The session ends without a CLOSE after the failed WRITE: KeepPartialUploads
# (default yes) must not keep a file that has a hole as a partial upload.
/usr/bin/python3 "$T/full.py" "$FERRYD_PORT" "$T/id_ed25519" "$TEST_USER" abandon \
    >"$T/para.out" 2>&1 || { cat "$T/para.out" >&2; fail "paramiko helper"; }
grep -qi "^write: .*no space left" "$T/para.out" || { cat "$T/para.out" >&2; fail "WRITE status"; }
for _ in $(seq 1 100); do
    [ -z "$(ls -A "$DISK/root")" ] && break
    sleep 0.05
done
expect_root ""
ok "session ended after the failed WRITE without CLOSE: nothing kept, space released"

kill -0 "$FERRYD_PID" || fail "ferryd died"
ferryd_stop
ok "ferryd exits cleanly after the disk-full errors"
