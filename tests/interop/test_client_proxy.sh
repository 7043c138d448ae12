#!/usr/bin/env bash
# test_client_proxy.sh: ferry through a jump host and a ProxyCommand, and
# ferry -W as OpenSSH's ProxyCommand.
#
# OpenSSH's sshd (loopback port, own config, forwarding allowed) is the
# jump host; ferryd is the target. Each path moves a 3 MiB file up and
# back and compares the bytes; sshd's log must show the direct-tcpip
# channels (the hops really went through it).
#  1. -J user@host:port; two hops (-J a,b); ProxyJump from the config file
#     in ssh:// form; -o ProxyJump=none overrides the file (first wins);
#     Match blocks (originalhost, exec, host after HostName) choosing it.
#  2. ProxyCommand running OpenSSH's `ssh -W %h:%p`; its %h %p %r %n %%;
#     host keys: HostKeyAlias (as OpenSSH's sftp records it), a
#     GlobalKnownHostsFile, an unknown key refused.
#  3. OpenSSH's sftp with ProxyCommand "ferry -W %h:%p jump" (our -W
#     relaying for a real peer).
#  4. a connection cut twice during a get through the jump host
#     (cutproxy.py between the jump host and ferryd): ferry reconnects
#     through the jump host again and the file is whole.
#  5. errors: a dead jump host, a target the jump host cannot reach, a
#     bad -J: non-zero exit and a message, promptly.
# Only processes started here are signalled, by PID.
set -euo pipefail
. "$FERRY_SRC/tests/interop/lib.sh"
. "$FERRY_SRC/tests/interop/resume_lib.sh"
need sftp ssh ssh-keygen /usr/sbin/sshd
FERRY="$FERRY_BUILD/ferry"

make_user_key
ferryd_start
ssh-keygen -q -t ed25519 -N '' -f "$T/jump_host"
sshd_start "$T/jump_host" "AllowTcpForwarding yes"
JUMP="root@127.0.0.1:$SSHD_PORT"
echo "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$T/jump_host.pub")" >>"$T/known_hosts"
CFG="$T/ssh_config"
cat >"$CFG" <<EOF
Host viajump
  HostName 127.0.0.1
  Port $FERRYD_PORT
  User $TEST_USER
  ProxyJump ssh://$JUMP
Host pcalias
  HostName 127.0.0.1
  Port $FERRYD_PORT
Match originalhost viamatch exec "test %n = viamatch"
  HostName 127.0.0.1
Match host 127.0.0.1 originalhost viamatch
  Port $FERRYD_PORT
  User $TEST_USER
  ProxyJump $JUMP
Host *
  UserKnownHostsFile $T/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  IdentitiesOnly yes
  IdentityFile $T/id_ed25519
EOF
make_file "$T/src.bin" 3000000

hops() { grep -c "server_request_direct_tcpip: originator" "$T/sshd.log" || true; }

# round_trip NAME DEST CLIENT...: CLIENT... -b batch DEST puts src.bin
# as NAME and gets it back; both copies compared.
round_trip() {
    local name=$1 dest=$2
    shift 2
    rm -f "$T/$name.back"
    printf 'put %s %s\nget %s %s\n' "$T/src.bin" "$name" "$name" "$T/$name.back" >"$T/$name.batch"
    timeout 120 "$@" -b "$T/$name.batch" "$dest" >"$T/$name.out" 2>"$T/$name.err" ||
        fail "$name: exit $? ($(cat "$T/$name.err"))"
    same "$T/src.bin" "$T/$name.back"
    same "$T/src.bin" "$T/root/$name"
    ! grep -q "AddressSanitizer\|LeakSanitizer\|runtime error" "$T/$name.err" ||
        fail "$name: sanitizer report"
}

# ---- 1. ProxyJump ----
h0=$(hops)
round_trip jump1 "$TEST_USER@127.0.0.1" "$FERRY" -F "$CFG" -J "$JUMP" -P "$FERRYD_PORT"
[ "$(hops)" = $((h0 + 1)) ] || fail "-J: no direct-tcpip channel on the jump host"
grep -q "target 127.0.0.1 port $FERRYD_PORT" "$T/sshd.log" || fail "-J: wrong target"
ok "-J user@host:port: bytes equal, one hop through sshd"

h0=$(hops)
round_trip jump2 "$TEST_USER@127.0.0.1" "$FERRY" -F "$CFG" -J "$JUMP,$JUMP" -P "$FERRYD_PORT"
[ "$(hops)" = $((h0 + 2)) ] || fail "-J a,b: not two hops"
grep -q "target 127.0.0.1 port $SSHD_PORT" "$T/sshd.log" || fail "-J a,b: first hop not to b"
ok "-J a,b: two hops"

h0=$(hops)
round_trip jumpcfg viajump "$FERRY" -F "$CFG"
[ "$(hops)" = $((h0 + 1)) ] || fail "ProxyJump from the config file not used"
timeout 60 "$FERRY" -F "$CFG" -o ProxyJump=none -b /dev/null viajump >/dev/null 2>&1 ||
    fail "ProxyJump=none: direct connection failed"
[ "$(hops)" = $((h0 + 1)) ] || fail "-o ProxyJump=none did not override the file"
ok "ProxyJump ssh://... from ssh_config; -o ProxyJump=none wins over it"

h0=$(hops)
round_trip jumpmatch viamatch "$FERRY" -F "$CFG"
[ "$(hops)" = $((h0 + 1)) ] || fail "ProxyJump from a Match block not used"
ok "Match originalhost/exec/host blocks set HostName, Port, User and ProxyJump"

# ---- 2. ProxyCommand ----
cat >"$T/pc.sh" <<EOF
#!/bin/sh
printf '%s|' "\$@" >"$T/pc.args"
exec ssh -F "$CFG" -p $SSHD_PORT -W "\$1:\$2" root@127.0.0.1
EOF
chmod +x "$T/pc.sh"
h0=$(hops)
round_trip pcmd "$TEST_USER@pcalias" "$FERRY" -F "$CFG" -o "ProxyCommand=$T/pc.sh %h %p %r %n %%"
[ "$(hops)" = $((h0 + 1)) ] || fail "ProxyCommand: ssh -W did not go through sshd"
[ "$(cat "$T/pc.args")" = "127.0.0.1|$FERRYD_PORT|$TEST_USER|pcalias|%|" ] ||
    fail "ProxyCommand tokens: $(cat "$T/pc.args")"
ok "ProxyCommand with OpenSSH's ssh -W; %h %p %r %n %% expanded"

# an unknown host key through a proxy: OpenSSH's wording, refused in BatchMode
: >"$T/empty_kh"
if timeout 60 "$FERRY" -F "$CFG" -o UserKnownHostsFile="$T/empty_kh" -J "$JUMP" \
    -P "$FERRYD_PORT" -b /dev/null "$TEST_USER@127.0.0.1" >/dev/null 2>"$T/unknown.err"; then
    fail "unknown target host key accepted through the jump host"
fi
grep -q "Host key verification failed" "$T/unknown.err" || fail "no verification message"
ok "an unknown target key is refused through the jump host too"

# HostKeyAlias as OpenSSH writes it (its sftp records the key with
# accept-new), then read by ferry through the jump host; a known_hosts
# given only as GlobalKnownHostsFile
: >"$T/alias_kh"
timeout 60 sftp -F none -P "$FERRYD_PORT" -o UserKnownHostsFile="$T/alias_kh" \
    -o GlobalKnownHostsFile=/dev/null -o HostKeyAlias=ferry-alias \
    -o StrictHostKeyChecking=accept-new -o BatchMode=yes -o IdentitiesOnly=yes \
    -i "$T/id_ed25519" -b /dev/null "$TEST_USER@127.0.0.1" >/dev/null 2>&1 ||
    fail "OpenSSH sftp with HostKeyAlias failed"
grep -q "^ferry-alias " "$T/alias_kh" || fail "OpenSSH stored no alias: $(cat "$T/alias_kh")"
timeout 60 "$FERRY" -F "$CFG" -o UserKnownHostsFile="$T/alias_kh" -o HostKeyAlias=ferry-alias \
    -J "$JUMP" -P "$FERRYD_PORT" -b /dev/null "$TEST_USER@127.0.0.1" >/dev/null 2>"$T/alias.err" ||
    fail "ferry did not accept OpenSSH's HostKeyAlias entry: $(cat "$T/alias.err")"
timeout 60 "$FERRY" -F "$CFG" -o UserKnownHostsFile=/dev/null \
    -o GlobalKnownHostsFile="$T/known_hosts" -J "$JUMP" -P "$FERRYD_PORT" -b /dev/null \
    "$TEST_USER@127.0.0.1" >/dev/null 2>"$T/global.err" ||
    fail "GlobalKnownHostsFile not read: $(cat "$T/global.err")"
ok "HostKeyAlias entries written by OpenSSH and GlobalKnownHostsFile are honoured"

# ---- 3. OpenSSH's sftp over ferry -W ----
h0=$(hops)
round_trip ossh "$TEST_USER@127.0.0.1" sftp -F "$CFG" -P "$FERRYD_PORT" \
    -o "ProxyCommand=$FERRY -F $CFG -P $SSHD_PORT -W %h:%p root@127.0.0.1"
[ "$(hops)" = $((h0 + 1)) ] || fail "sftp over ferry -W: no hop"
ok "OpenSSH sftp with ProxyCommand ferry -W: bytes equal"

# ---- 4. resume through the jump host ----
proxy_start cut "$FERRYD_PORT" --cut 1@900000:down --cut 2@700000:down
proxy_known_hosts "$T/cut_kh" "$T"/host_*.pub
make_file "$T/root/big.bin" 6000000
timeout 120 "$FERRY" -F "$CFG" -o UserKnownHostsFile="$T/cut_kh" -o ReconnectDelay=0.2 \
    -J "$JUMP" -P "$PROXY_PORT" "$TEST_USER@127.0.0.1:big.bin" "$T/big.back" \
    >"$T/cut.out" 2>"$T/cut.err" || fail "resume through the jump host: $(cat "$T/cut.err")"
same "$T/root/big.bin" "$T/big.back"
[ "$(proxy_cuts cut)" = 2 ] || fail "the proxy did not cut twice"
[ "$(grep -c "^Reconnected" "$T/cut.err")" -ge 2 ] || fail "no reconnects: $(cat "$T/cut.err")"
proxy_stop
ok "a get cut twice resumes through the jump host, bytes equal"

# ---- 5. errors ----
DEAD=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
if timeout 30 "$FERRY" -F "$CFG" -J "root@127.0.0.1:$DEAD" -P "$FERRYD_PORT" -b /dev/null \
    "$TEST_USER@127.0.0.1" >/dev/null 2>"$T/dead.err"; then
    fail "a dead jump host succeeded"
fi
grep -q "connect to host 127.0.0.1 port $DEAD" "$T/dead.err" || fail "dead jump: $(cat "$T/dead.err")"
if timeout 30 "$FERRY" -F "$CFG" -J "$JUMP" -P "$DEAD" -b /dev/null "$TEST_USER@127.0.0.1" \
    >/dev/null 2>"$T/unreach.err"; then
    fail "an unreachable target succeeded"
fi
grep -q "stdio forwarding to 127.0.0.1 port $DEAD through 127.0.0.1 failed" "$T/unreach.err" ||
    fail "unreachable target: $(cat "$T/unreach.err")"
if timeout 30 "$FERRY" -F "$CFG" -J "root@" -b /dev/null "$TEST_USER@127.0.0.1" \
    >/dev/null 2>"$T/badj.err"; then
    fail "a bad -J succeeded"
fi
grep -q "bad ProxyJump host" "$T/badj.err" || fail "bad -J: $(cat "$T/badj.err")"
ok "dead jump host, unreachable target, bad -J: clear errors"

ferryd_stop
