#!/usr/bin/env bash
# Uploads cut short never leave a partial file under the final name:
#  - the client is SIGKILLed mid-upload: the data received is kept as the
#    hidden partial file .<name>.ferry-partial (KeepPartialUploads yes, the
#    default), nothing else is left; with KeepPartialUploads no nothing;
#  - the session process is SIGKILLed (at most the hidden .part remains);
#  - ferryd gets SIGTERM: it stops accepting at once, gives the session its
#    grace period, then ends it cleanly (DISCONNECT, the upload kept as the
#    partial file) and exits 0.
. "$FERRY_SRC/tests/interop/lib.sh"
need /usr/bin/python3 ssh-keygen timeout

make_user_key ed25519
ferryd_start
cat >"$T/hold.py" <<'PY'
import sys, time, paramiko
port, key, user = int(sys.argv[1]), sys.argv[2], sys.argv[3]
t = paramiko.Transport(("127.0.0.1", port))
t.connect(username=user, pkey=paramiko.Ed25519Key.from_private_key_file(key))
sftp = paramiko.SFTPClient.from_transport(t)
f = sftp.open("upload.bin", "w")
f.write(b"x" * 100000)
f.flush()
print("writing", flush=True)
try:
    while True:  # keep the handle open until the server ends the session
        time.sleep(0.2)
        f.write(b"y" * 1000)
        f.flush()
except Exception as e:
    print("ended:", type(e).__name__, flush=True)
PY
# bash unsets HOLD and HOLD_PID as soon as it reaps the coprocess (which
# may be before the next line runs once the helper is killed or its
# session ends), so the test keeps its own copies: HOLD_PROC, HOLD_IN.
HOLD_IN=""
start_upload() {
    [ -z "$HOLD_IN" ] || exec {HOLD_IN}<&-
    coproc HOLD { exec /usr/bin/python3 "$T/hold.py" "$FERRYD_PORT" "$T/id_ed25519" "$TEST_USER" 2>&1; }
    HOLD_PROC=$HOLD_PID
    exec {HOLD_IN}<&"${HOLD[0]}"
    read -r -t 30 line <&"$HOLD_IN" || fail "upload did not start"
    [ "$line" = writing ] || fail "helper: $line"
    ls -a "$T/root" | grep -q "\.part$" || fail "no temporary file during the atomic upload"
}

PARTIAL="$T/root/.upload.bin.ferry-partial"
KEPT=0
# Only the partial file is left: at least the 100000 bytes acknowledged,
# mode 0600, reported by an audit event.
expect_partial() {
    for i in $(seq 1 100); do
        [ "$(ls -A "$T/root")" = .upload.bin.ferry-partial ] && break
        sleep 0.05
    done
    [ "$(ls -A "$T/root")" = .upload.bin.ferry-partial ] || fail "$1 left: $(ls -A "$T/root")"
    [ "$(stat -c %s "$PARTIAL")" -ge 100000 ] || fail "$1: partial file of $(stat -c %s "$PARTIAL") bytes"
    [ "$(stat -c %a "$PARTIAL")" = 600 ] || fail "$1: partial file mode $(stat -c %a "$PARTIAL")"
    KEPT=$((KEPT + 1))
    [ "$(grep -c 'event=file .*op=partial_kept path=upload.bin path2=.upload.bin.ferry-partial' \
        "$T/ferryd.log")" = "$KEPT" ] || fail "$1: no partial_kept audit event"
    head -c 100000 "$PARTIAL" | cmp -s - <(head -c 100000 /dev/zero | tr '\0' x) ||
        fail "$1: partial file content"
    rm -f "$PARTIAL"
}

# The client is killed mid-upload: the session ends, the upload is kept as
# the partial file.
start_upload
kill -KILL "$HOLD_PROC"
wait "$HOLD_PROC" 2>/dev/null || true
expect_partial "client SIGKILL"
ok "client killed mid-upload: only the partial file left behind"

# The session process is killed mid-upload: at most a hidden .part file,
# never a partial file under the final name; the listener serves on.
start_upload
kid=$(pgrep -P "$FERRYD_PID" | head -1)
[ -n "$kid" ] || fail "no session process"
kill -KILL "$kid"
read -r -t 10 line <&"$HOLD_IN" || true
wait "$HOLD_PROC" 2>/dev/null || true
[ ! -e "$T/root/upload.bin" ] || fail "partial file under the final name after a session crash"
ls -A "$T/root" | grep -qv '^\.upload\.bin\..*\.part$' && fail "unexpected files: $(ls -A "$T/root")"
rm -f "$T/root"/.upload.bin.*.part
ok "session process killed mid-upload: no file under the final name"

start_upload

t0=$(date +%s)
kill -TERM "$FERRYD_PID"
sleep 0.5
if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$FERRYD_PORT" 2>/dev/null; then
    fail "still accepting after SIGTERM"
fi
rc=0
wait "$FERRYD_PID" || rc=$?
FERRYD_PID=""
t1=$(date +%s)
[ $rc -eq 0 ] || fail "exit status $rc"
[ $((t1 - t0)) -ge 4 ] || fail "the session got no grace period ($((t1 - t0)) s)"
[ $((t1 - t0)) -le 10 ] || fail "shutdown took $((t1 - t0)) s"
read -r -t 10 line <&"$HOLD_IN" || true
case "$line" in ended:*) ;; *) fail "client did not see the session end: $line" ;; esac
grep -q 'event=session_end .*reason="server shutting down"' "$T/ferryd.log" ||
    fail "no session_end with the shutdown reason"
expect_partial "SIGTERM"
ok "SIGTERM: grace period, clean session end, incomplete upload kept as the partial file, exit 0"

# KeepPartialUploads no: a client killed mid-upload leaves nothing.
printf 'KeepPartialUploads no\n' >"$T/nokeep.conf"
ferryd_start --config "$T/nokeep.conf"
start_upload
kill -KILL "$HOLD_PROC"
wait "$HOLD_PROC" 2>/dev/null || true
for i in $(seq 1 100); do
    [ -z "$(ls -A "$T/root")" ] && break
    sleep 0.05
done
[ -z "$(ls -A "$T/root")" ] || fail "KeepPartialUploads no: client SIGKILL left: $(ls -A "$T/root")"
ferryd_stop
ok "KeepPartialUploads no: client killed mid-upload, nothing left behind"
