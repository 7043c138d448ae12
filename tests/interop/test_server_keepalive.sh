#!/usr/bin/env bash
# ferryd's ClientAliveInterval / ClientAliveCountMax against OpenSSH:
#  - an idle OpenSSH sftp session gets keepalive@openssh.com requests
#    (want-reply), answers them and is still served after several times
#    Interval x CountMax of idleness;
#  - an ssh client that stops answering (SIGSTOP) is disconnected after
#    CountMax unanswered requests, with the reason in the session_end line;
#  - ChannelTimeout session=3s: an sftp session idle 5 s (its keepalive
#    answers are no traffic) is closed, one busy every second for 7 s is
#    not; UnusedConnectionTimeout 2s: ssh -N (no channel) is closed.
. "$FERRY_SRC/tests/interop/lib.sh"
need sftp ssh ssh-keygen timeout

make_user_key ed25519
cat >"$T/ferryd.conf" <<CONF
ClientAliveInterval 1
ClientAliveCountMax 2
CONF
ferryd_start --config "$T/ferryd.conf"
KEYOPTS=(-o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i "$T/id_ed25519")

# 1. idle for 5 s (the limit without answers is 1 s x (2 + 1) = 3 s), then used
{
    sleep 5
    printf 'pwd\n'
} | ossh_sftp -vvv "${KEYOPTS[@]}" -b - "$TEST_USER@127.0.0.1" >"$T/idle.out" 2>"$T/idle.err" ||
    fail "idle sftp session failed: $(tail -n 5 "$T/idle.err")"
grep -q "Remote working directory: /" "$T/idle.out" || fail "no pwd answer after the idle time"
probes=$(grep -c "client_input_global_request: rtype keepalive@openssh.com want_reply 1" \
    "$T/idle.err" || true)
[ "$probes" -ge 3 ] || fail "expected >= 3 keepalive requests in 5 s idle, saw $probes"
ok "idle OpenSSH session answered $probes keepalives and was still served"

# 2. a client that stops answering: ssh frozen after authentication
ssh -F /dev/null -v -N -p "$FERRYD_PORT" -o UserKnownHostsFile="$T/known_hosts" \
    -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null "${KEYOPTS[@]}" \
    "$TEST_USER@127.0.0.1" </dev/null >/dev/null 2>"$T/frozen.err" &
SSH_PID=$!
for _ in $(seq 1 200); do
    grep -q "Authenticated to" "$T/frozen.err" 2>/dev/null && break
    sleep 0.05
done
grep -q "Authenticated to" "$T/frozen.err" || {
    kill "$SSH_PID" 2>/dev/null || true
    fail "ssh did not authenticate: $(tail -n 5 "$T/frozen.err")"
}
kill -STOP "$SSH_PID"
# the server gives up after 3 s of silence; allow generous slack under load
for _ in $(seq 1 200); do
    grep -q "not responding" "$T/ferryd.log" && break
    sleep 0.05
done
kill -CONT "$SSH_PID" 2>/dev/null || true
kill "$SSH_PID" 2>/dev/null || true
wait "$SSH_PID" 2>/dev/null || true
grep "session_end" "$T/ferryd.log" | grep -q "Timeout, peer not responding (2 keepalives)" ||
    fail "the frozen client was not disconnected for not answering keepalives"
ok "a client that stopped answering was disconnected after 2 unanswered keepalives"

ferryd_stop

# 3. ChannelTimeout: idle channels are closed, busy ones are not
cat >"$T/ferryd.conf" <<CONF
ClientAliveInterval 1
ClientAliveCountMax 3
ChannelTimeout agent-connection=1s session=3s
UnusedConnectionTimeout 2s
CONF
ferryd_start --config "$T/ferryd.conf"
# (sftp's pwd is answered locally; ls asks the server)
{
    for _ in 1 2 3 4 5 6 7; do
        printf 'ls /\n'
        sleep 1
    done
} | ossh_sftp "${KEYOPTS[@]}" -b - "$TEST_USER@127.0.0.1" >"$T/busy.out" 2>"$T/busy.err" ||
    fail "a busy sftp session was closed: $(tail -n 5 "$T/busy.err")"
[ "$(grep -c '^sftp> ls /' "$T/busy.out")" = 7 ] || fail "busy: $(cat "$T/busy.out")"
if grep "session_end" "$T/ferryd.log" | grep -q 'reason="channel idle'; then
    fail "the busy session ended as idle: $(grep session_end "$T/ferryd.log")"
fi
{
    printf 'ls /\n'
    sleep 5
    printf 'ls /\n'
} | ossh_sftp "${KEYOPTS[@]}" -b - "$TEST_USER@127.0.0.1" >"$T/idle2.out" 2>"$T/idle2.err" &&
    fail "an sftp session idle for 5 s was not closed"
grep "session_end" "$T/ferryd.log" | grep -q 'reason="channel idle for 3 s"' ||
    fail "no session_end for the idle channel: $(grep session_end "$T/ferryd.log")"
ok "ChannelTimeout session=3s: an sftp session busy every second for 7 s is served, one idle for 5 s is closed"

# 4. UnusedConnectionTimeout: a connection without any channel is closed
t0=$(date +%s)
timeout 30 ssh -F /dev/null -N -p "$FERRYD_PORT" -o UserKnownHostsFile="$T/known_hosts" \
    -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null "${KEYOPTS[@]}" \
    "$TEST_USER@127.0.0.1" </dev/null >/dev/null 2>"$T/unused.err" || true
t1=$(date +%s)
[ $((t1 - t0)) -lt 20 ] || fail "ssh -N was not closed by UnusedConnectionTimeout ($((t1 - t0)) s)"
grep "session_end" "$T/ferryd.log" | grep -q 'reason="no channel for 2 s"' ||
    fail "no session_end for the unused connection: $(grep session_end "$T/ferryd.log")"
ok "UnusedConnectionTimeout 2s: ssh -N without a channel is closed after $((t1 - t0)) s"
ferryd_stop
