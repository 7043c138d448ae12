#!/usr/bin/env bash
# SIGTERM with a session in the middle of an atomic upload: ferryd stops
# accepting at once, gives the session its grace period, then ends it
# cleanly (DISCONNECT, the incomplete upload's temporary file removed, no
# partial file under the real name) and exits 0.
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
coproc HOLD { exec /usr/bin/python3 "$T/hold.py" "$FERRYD_PORT" "$T/id_ed25519" "$TEST_USER" 2>&1; }
read -r -t 30 line <&"${HOLD[0]}" || fail "upload did not start"
[ "$line" = writing ] || fail "helper: $line"
ls -a "$T/root" | grep -q "\.part$" || fail "no temporary file during the atomic upload"

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
read -r -t 10 line <&"${HOLD[0]}" || true
case "$line" in ended:*) ;; *) fail "client did not see the session end: $line" ;; esac
[ -z "$(ls -A "$T/root")" ] || fail "left behind: $(ls -A "$T/root")"
grep -q 'event=session_end .*reason="server shutting down"' "$T/ferryd.log" ||
    fail "no session_end with the shutdown reason"
ok "SIGTERM: grace period, clean session end, incomplete upload discarded, exit 0"
