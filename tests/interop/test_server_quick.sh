#!/usr/bin/env bash
# Quick mode (what scripts/serve runs), with HOME pointing at a fresh
# directory: ferryd --quick must create the share, the host key, a user
# key pair and a known_hosts file, print working connection commands, and
# serve the user with no other set-up. Also: IPv6 listening ([::1]:0),
# configuration check (-t) with file:line errors, -Q lists.
. "$FERRY_SRC/tests/interop/lib.sh"
need sftp ssh-keygen cmp timeout

H="$T/home"
mkdir -p "$H"
HOME="$H" "$FERRYD" --quick --listen 127.0.0.1:0 >"$T/quick.out" 2>"$T/ferryd.log" &
FERRYD_PID=$!
for i in $(seq 1 600); do
    grep -q "listening on" "$T/ferryd.log" 2>/dev/null && break
    kill -0 "$FERRYD_PID" 2>/dev/null || { FERRYD_PID=""; fail "ferryd --quick exited"; }
    sleep 0.05
done
line=$(grep -m1 "listening on" "$T/ferryd.log") || fail "no listening line"
FERRYD_PORT=${line##*:}
[ -d "$H/ferry-share" ] || fail "~/ferry-share not created"
[ -f "$H/.config/ferry/ssh_host_ed25519_key" ] || fail "host key not created"
[ -f "$H/.ssh/id_ed25519" ] && [ -f "$H/.ssh/id_ed25519.pub" ] || fail "user key not created"
ssh-keygen -y -f "$H/.ssh/id_ed25519" >/dev/null || fail "user key not in OpenSSH format"
grep -q "^\[127.0.0.1\]:$FERRYD_PORT ssh-ed25519 " "$H/.config/ferry/known_hosts" ||
    fail "known_hosts entry missing"
FP=$(ssh-keygen -l -E sha256 -f "$H/.config/ferry/ssh_host_ed25519_key.pub" | awk '{print $2}')
grep -qF "$FP" "$T/quick.out" || fail "host key fingerprint not printed"
cmdline=$(grep -m1 "^ *sftp " "$T/quick.out") || fail "no sftp command printed"
grep -q "ferry -P $FERRYD_PORT " "$T/quick.out" || fail "no ferry command printed"
ok "quick mode set-up and printed commands"

# Run the printed sftp command (OpenSSH finds keys through the passwd
# home, not $HOME, so the key is named explicitly).
make_file "$T/payload" 300000
printf 'put %s/payload p.bin\nget p.bin %s/p.back\nls -l\n' "$T" "$T" >"$T/batch"
read -r -a words <<<"$cmdline"
timeout 60 "${words[@]:0:${#words[@]}-1}" -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes \
    -o IdentityAgent=none -o StrictHostKeyChecking=yes -i "$H/.ssh/id_ed25519" \
    -b "$T/batch" "${words[-1]}" >"$T/out" 2>&1 || { cat "$T/out" >&2; fail "printed sftp command"; }
same "$T/payload" "$H/ferry-share/p.bin"
same "$T/payload" "$T/p.back"
ok "the printed sftp command works"

# And the printed ferry command (the client finds ~/.ssh/id_ed25519 through $HOME).
if [ -x "$FERRY_BUILD/ferry" ]; then
    fcmd=$(grep -m1 "ferry -P" "$T/quick.out")
    printf 'get p.bin %s/p.ferry\n' "$T" >"$T/batch_ferry"
    # shellcheck disable=SC2086
    HOME="$H" timeout 60 $fcmd -b "$T/batch_ferry" >"$T/out_ferry" 2>&1 ||
        { cat "$T/out_ferry" >&2; fail "printed ferry command"; }
    same "$T/payload" "$T/p.ferry"
    ok "the printed ferry command works"
fi
ferryd_stop

# A second start keeps the keys.
before=$(cat "$H/.config/ferry/ssh_host_ed25519_key.pub" "$H/.ssh/id_ed25519.pub")
HOME="$H" "$FERRYD" --quick --listen 127.0.0.1:0 -t >/dev/null || fail "-t in quick mode"
: >"$T/ferryd.log"
HOME="$H" "$FERRYD" --quick --listen 127.0.0.1:0 >/dev/null 2>"$T/ferryd.log" &
FERRYD_PID=$!
for i in $(seq 1 600); do
    grep -q "listening on" "$T/ferryd.log" 2>/dev/null && break
    sleep 0.05
done
ferryd_stop
[ "$before" = "$(cat "$H/.config/ferry/ssh_host_ed25519_key.pub" "$H/.ssh/id_ed25519.pub")" ] ||
    fail "keys changed on restart"
ok "keys kept across restarts"

# IPv6 loopback
make_user_key ed25519
FERRYD_LISTEN='[::1]:0' ferryd_start
grep -q "listening on \[::1\]:$FERRYD_PORT" "$T/ferryd.log" || fail "IPv6 listening line"
: >"$T/known_hosts6"
echo "[::1]:$FERRYD_PORT $(cut -d' ' -f1,2 "$T/host_ed25519.pub")" >"$T/known_hosts6"
printf 'put %s/payload v6.bin\n' "$T" >"$T/batch6"
timeout 60 sftp -F /dev/null -P "$FERRYD_PORT" -o UserKnownHostsFile="$T/known_hosts6" \
    -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes -i "$T/id_ed25519" \
    -b "$T/batch6" "$TEST_USER@[::1]" >"$T/out6" 2>&1 || { cat "$T/out6" >&2; fail "IPv6"; }
same "$T/payload" "$T/root/v6.bin"
ok "IPv6 [::1]"
ferryd_stop

# Configuration errors name file:line; -Q lists algorithms.
printf 'Port 22\nUser a\nRoot /tmp\nBogusKeyword 1\n' >"$T/bad.conf"
if "$FERRYD" --config "$T/bad.conf" -t 2>"$T/err"; then
    fail "bad configuration accepted"
fi
grep -q "bad.conf:4: unknown keyword" "$T/err" || fail "error lacks file:line: $(cat "$T/err")"
printf 'Ciphers +no-such-cipher\nUser a\nRoot /tmp\n' >"$T/bad2.conf"
if "$FERRYD" --config "$T/bad2.conf" -t 2>"$T/err"; then
    fail "unknown cipher accepted"
fi
grep -q "Ciphers" "$T/err" || fail "cipher error message: $(cat "$T/err")"
printf 'User a\nRoot %s\nMode read-only\n' "$T" >"$T/good.conf"
"$FERRYD" --config "$T/good.conf" -t >/dev/null || fail "good configuration refused"
"$FERRYD" -Q cipher | grep -qx "aes256-gcm@openssh.com" || fail "-Q cipher"
"$FERRYD" -Q kex-default | grep -q "curve25519-sha256" || fail "-Q kex-default"
ok "configuration check and algorithm lists"
