#!/usr/bin/env bash
# ferryd's admission control with real connections:
#  - a flood of idle connections from 127.0.0.2 is capped by
#    PerSourceMaxStartups and does not lock out 127.0.0.1;
#  - LoginGraceTime closes the idle ones;
#  - a source that fails authentication (127.0.0.3) is refused for a while
#    (PerSourcePenalties) while 127.0.0.1 still gets in.
. "$FERRY_SRC/tests/interop/lib.sh"
need sftp ssh-keygen python3 timeout

make_user_key ed25519
cat >"$T/ferryd.conf" <<CONF
MaxStartups 6
PerSourceMaxStartups 3
LoginGraceTime 3
PerSourcePenalties authfail:30s max:60s
CONF
ferryd_start --config "$T/ferryd.conf"
KEYOPTS=(-o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i "$T/id_ed25519")
printf 'pwd\n' >"$T/batch"

# 10 idle connections from 127.0.0.2, held open by a helper; it prints how
# many were closed by the server within 8 s (LoginGraceTime 3 s).
cat >"$T/flood.py" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
socks = []
for _ in range(10):
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.connect(("127.0.0.1", port))
    socks.append(s)
    time.sleep(0.05)
print("open", flush=True)
deadline = time.time() + 8
closed = set()
while time.time() < deadline and len(closed) < len(socks):
    for i, s in enumerate(socks):
        if i in closed:
            continue
        s.settimeout(0.05)
        try:
            while True:
                d = s.recv(4096)
                if not d:
                    closed.add(i)
                    break
        except socket.timeout:
            pass
        except OSError:
            closed.add(i)
print("closed", len(closed), flush=True)
PY
coproc FLOOD { exec /usr/bin/python3 "$T/flood.py" "$FERRYD_PORT"; }
read -r -t 20 line <&"${FLOOD[0]}" || fail "flood helper did not start"
[ "$line" = open ] || fail "flood helper: $line"

ossh_sftp "${KEYOPTS[@]}" -b "$T/batch" "$TEST_USER@127.0.0.1" >/dev/null 2>&1 ||
    fail "127.0.0.1 locked out by a flood from 127.0.0.2"
ok "a flood from 127.0.0.2 does not lock out 127.0.0.1"
grep -q "refused connection from 127.0.0.2.*PerSourceMaxStartups" "$T/ferryd.log" ||
    fail "PerSourceMaxStartups did not refuse 127.0.0.2"
ok "PerSourceMaxStartups refused the excess from 127.0.0.2"

read -r -t 30 line <&"${FLOOD[0]}" || fail "flood helper did not finish"
[ "$line" = "closed 10" ] || fail "LoginGraceTime: $line of 10 connections closed"
ok "LoginGraceTime closed idle connections (and refused ones were closed)"
grep -q "login grace time exceeded" "$T/ferryd.log" || fail "no login grace message"

# Running out of LoginGraceTime earns 127.0.0.2 a grace-exceeded penalty.
sleep 0.5
/usr/bin/python3 - "$FERRYD_PORT" <<'PY' || fail "127.0.0.2 not penalised after LoginGraceTime"
import socket, sys
s = socket.socket()
s.bind(("127.0.0.2", 0))
s.connect(("127.0.0.1", int(sys.argv[1])))
s.settimeout(5)
sys.exit(0 if s.recv(100) == b"" else 1)
PY
grep -q "refused connection from 127.0.0.2.*PerSourcePenalties" "$T/ferryd.log" ||
    fail "no grace-exceeded penalty line"
ok "PerSourcePenalties grace-exceeded for 127.0.0.2"

# Failing authentication from 127.0.0.3 earns a penalty.
ssh-keygen -q -t ed25519 -N '' -f "$T/stranger"
if ossh_sftp -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i "$T/stranger" \
    -o BindAddress=127.0.0.3 -b "$T/batch" "$TEST_USER@127.0.0.1" >/dev/null 2>&1; then
    fail "unauthorised key accepted"
fi
sleep 0.5
if ossh_sftp "${KEYOPTS[@]}" -o BindAddress=127.0.0.3 -b "$T/batch" \
    "$TEST_USER@127.0.0.1" >/dev/null 2>&1; then
    fail "127.0.0.3 was not penalised after failing authentication"
fi
grep -q "refused connection from 127.0.0.3.*PerSourcePenalties" "$T/ferryd.log" ||
    fail "no penalty log line"
ossh_sftp "${KEYOPTS[@]}" -b "$T/batch" "$TEST_USER@127.0.0.1" >/dev/null 2>&1 ||
    fail "127.0.0.1 refused while 127.0.0.3 is penalised"
ok "PerSourcePenalties refuse 127.0.0.3 only"

sleep 0.5
zombies=$(ps --ppid "$FERRYD_PID" -o stat= | grep -c '^Z' || true)
[ "$zombies" -eq 0 ] || fail "$zombies zombie children"
ok "no zombie children"
ferryd_stop
ok "clean shutdown"
