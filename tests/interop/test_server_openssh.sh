#!/usr/bin/env bash
# OpenSSH's sftp against ferryd: every sftp batch command, public key and
# password authentication, a wrong password refused, and one small
# transfer for every cipher, MAC, key exchange and host key algorithm
# ferryd offers that OpenSSH also has. Bytes are compared with cmp.
. "$FERRY_SRC/tests/interop/lib.sh"
need sftp ssh ssh-keygen cmp timeout

make_user_key ed25519
make_host_keys
PW='correct horse battery staple'
HASH=$(password_hash "$PW")
cat >"$T/ferryd.conf" <<CONF
# every algorithm ferryd supports is offered, so each can be forced
KexAlgorithms $("$FERRYD" -Q kex | paste -sd, -)
Ciphers $("$FERRYD" -Q cipher | paste -sd, -)
MACs $("$FERRYD" -Q mac | paste -sd, -)
HostKeyAlgorithms $("$FERRYD" -Q key | paste -sd, -)
PerSourcePenalties no
KbdInteractiveAuthentication yes
# the 3 MiB transfers below re-exchange keys several times, server-initiated
RekeyLimit 1M
LogLevel VERBOSE
CONF
ferryd_start --config "$T/ferryd.conf" --password-hash "$HASH"

KEYOPTS=(-o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i "$T/id_ed25519")
L="$T/local"
R="$T/root"
mkdir -p "$L/tree/sub" "$L/ldir"
make_file "$L/big.bin" $((3 * 1024 * 1024 + 12345))
make_file "$L/small.bin" 1000
make_file "$L/tree/a" 70000
make_file "$L/tree/sub/b" 3
: >"$L/tree/sub/empty"
head -c 1000000 "$L/big.bin" >"$L/big.head"
cp "$L/big.head" "$L/big.reget"

# ---- every command, public key authentication ----
cat >"$T/batch1" <<BATCH
version
pwd
lpwd
lcd $L
lls
lmkdir lnew
lumask 022
progress
mkdir dir1
cd dir1
pwd
put big.bin
put -p small.bin small.bin
put -f small.bin small.fsync
ls
ls -l
ls -la
ls -1
ls -n
ls -S
ls -t
ls -r
ls -lh small.bin
chmod 600 small.bin
chgrp $(id -g) small.bin
chown $(id -u) small.bin
get big.bin big.back
get -p small.bin small.back
get -f small.bin small.back2
rename small.fsync small.renamed
symlink big.bin link.sym
ln -s small.bin link.s
ln big.bin big.hard
copy big.bin big.copy
cp small.bin small.cp
put big.head big.reput
reput big.bin big.reput
reget big.bin big.reget
put big.head big.append
put -a big.bin big.append
get -a big.bin big.reget
df
df -h
df -i
df -hi .
mkdir emptydir
rmdir emptydir
put -R tree
get -R tree tree.back
cd ..
mkdir gone
rmdir gone
rm dir1/small.cp
rm dir1/link.s
!true
help
?
bye
BATCH
ossh_sftp "${KEYOPTS[@]}" -b "$T/batch1" "$TEST_USER@127.0.0.1" >"$T/out1" 2>&1 ||
    { cat "$T/out1" >&2; fail "sftp batch with every command (public key)"; }
same "$L/big.bin" "$R/dir1/big.bin"
same "$L/small.bin" "$R/dir1/small.bin"
same "$L/big.bin" "$L/big.back"
same "$L/small.bin" "$L/small.back"
same "$L/small.bin" "$L/small.back2"
same "$L/small.bin" "$R/dir1/small.renamed"
same "$L/big.bin" "$R/dir1/big.hard"
same "$L/big.bin" "$R/dir1/big.copy"
same "$L/big.bin" "$R/dir1/big.reput"
same "$L/big.bin" "$L/big.reget"
same "$L/big.bin" "$R/dir1/big.append"
same "$L/tree/a" "$R/dir1/tree/a"
same "$L/tree/sub/b" "$R/dir1/tree/sub/b"
same "$L/tree/sub/b" "$L/tree.back/sub/b"
[ -f "$R/dir1/tree/sub/empty" ] || fail "empty file of put -R missing"
[ -d "$L/lnew" ] || fail "lmkdir"
[ "$(readlink "$R/dir1/link.sym")" = big.bin ] || fail "symlink target"
[ ! -e "$R/dir1/link.s" ] && [ ! -e "$R/dir1/small.cp" ] || fail "rm"
[ ! -e "$R/dir1/emptydir" ] && [ ! -e "$R/gone" ] || fail "rmdir"
[ "$(stat -c %a "$R/dir1/small.bin")" = 600 ] || fail "chmod"
[ "$(stat -c %Y "$L/small.bin")" = "$(stat -c %Y "$R/dir1/small.bin")" ] || fail "put -p mtime"
grep -q "big.bin" "$T/out1" || fail "ls output lacks big.bin"
grep -q "^/dir1" "$T/out1" || grep -q "Remote working directory: /dir1" "$T/out1" || fail "pwd"
ok "sftp batch with every command (public key)"

# A path outside the root is not reachable.
printf 'get /../../../../etc/hostname %s/escaped\n' "$L" >"$T/batch_escape"
ossh_sftp "${KEYOPTS[@]}" -b "$T/batch_escape" "$TEST_USER@127.0.0.1" >/dev/null 2>&1 || true
[ ! -e "$L/escaped" ] || [ "$(cat "$L/escaped")" != "$(cat /etc/hostname)" ] ||
    fail "read outside the root"
ok "root jail"

# ---- password authentication (SSH_ASKPASS; sshpass is not available).
# sftp -b turns BatchMode on; an earlier -o BatchMode=no wins. ----
PWOPTS=(-o BatchMode=no -o PubkeyAuthentication=no -o PreferredAuthentications=password
    -o NumberOfPasswordPrompts=1)
printf '#!/bin/sh\nprintf "%%s\\n" "%s"\n' "$PW" >"$T/askpass"
printf '#!/bin/sh\necho wrong-password\n' >"$T/askpass_bad"
chmod +x "$T/askpass" "$T/askpass_bad"
printf 'put %s/small.bin pw.bin\nget pw.bin %s/pw.back\n' "$L" "$L" >"$T/batch_pw"
SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
    ossh_sftp "${PWOPTS[@]}" -b "$T/batch_pw" "$TEST_USER@127.0.0.1" </dev/null >"$T/out_pw" 2>&1 ||
    { cat "$T/out_pw" >&2; fail "password authentication"; }
same "$L/small.bin" "$R/pw.bin"
same "$L/small.bin" "$L/pw.back"
ok "password authentication"

SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
    ossh_sftp -o BatchMode=no -o PubkeyAuthentication=no -o NumberOfPasswordPrompts=1 \
    -o PreferredAuthentications=keyboard-interactive -b "$T/batch_pw" "$TEST_USER@127.0.0.1" \
    </dev/null >"$T/out_kbd" 2>&1 || { cat "$T/out_kbd" >&2; fail "keyboard-interactive"; }
grep -q "method=keyboard-interactive" "$T/ferryd.log" || fail "no keyboard-interactive session"
ok "keyboard-interactive authentication"

if SSH_ASKPASS="$T/askpass_bad" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
    ossh_sftp "${PWOPTS[@]}" -b "$T/batch_pw" "$TEST_USER@127.0.0.1" </dev/null >/dev/null 2>&1; then
    fail "a wrong password was accepted"
fi
if SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 \
    ossh_sftp "${PWOPTS[@]}" -b "$T/batch_pw" "nosuchuser@127.0.0.1" </dev/null >/dev/null 2>&1; then
    fail "an unknown user was accepted"
fi
ok "wrong password and unknown user refused"

# A key that is not authorised is refused.
ssh-keygen -q -t ed25519 -N '' -f "$T/stranger"
if ossh_sftp -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i "$T/stranger" \
    -b "$T/batch_pw" "$TEST_USER@127.0.0.1" >/dev/null 2>&1; then
    fail "an unauthorised key was accepted"
fi
ok "unauthorised key refused"

# ---- every algorithm: one small transfer each ----
printf 'put %s/small.bin algo.bin\nget algo.bin %s/algo.back\n' "$L" "$L" >"$T/batch_algo"
try_algo() { # option value
    rm -f "$L/algo.back" "$R/algo.bin"
    ossh_sftp "${KEYOPTS[@]}" -o "$1=$2" -b "$T/batch_algo" "$TEST_USER@127.0.0.1" \
        >"$T/out_algo" 2>&1 || { cat "$T/out_algo" >&2; fail "$1=$2"; }
    same "$L/small.bin" "$R/algo.bin"
    same "$L/small.bin" "$L/algo.back"
    ok "$1=$2"
}
common() { # our list, OpenSSH's query
    comm -12 <("$FERRYD" -Q "$1" | sort) <(ssh -Q "$2" | sort)
}
n=0
for c in $(common cipher cipher); do try_algo Ciphers "$c"; n=$((n + 1)); done
for m in $(common mac mac); do
    # a MAC is used only with a non-AEAD cipher
    ossh_sftp "${KEYOPTS[@]}" -o Ciphers=aes128-ctr -o MACs="$m" -b "$T/batch_algo" \
        "$TEST_USER@127.0.0.1" >"$T/out_algo" 2>&1 || { cat "$T/out_algo" >&2; fail "MACs=$m"; }
    same "$L/small.bin" "$L/algo.back"
    ok "MACs=$m (with aes128-ctr)"
    n=$((n + 1))
done
for k in $(common kex kex); do try_algo KexAlgorithms "$k"; n=$((n + 1)); done
for h in $(common key HostKeyAlgorithms); do
    try_algo HostKeyAlgorithms "$h"
    n=$((n + 1))
done
[ $n -ge 10 ] || fail "only $n algorithms in common with OpenSSH"

# ---- the audit trail ----
grep -q "audit: event=session_start user=$TEST_USER peer=127.0.0.1" "$T/ferryd.log" ||
    fail "no session_start audit line"
grep -q "audit: event=session_end .*method=publickey key=SHA256:" "$T/ferryd.log" ||
    fail "no session_end audit line with the key fingerprint"
grep -q "audit: event=file .*op=" "$T/ferryd.log" || fail "no file audit line"
grep -Eq "audit: event=session_end .*key_exchanges=([2-9]|[1-9][0-9]+) " "$T/ferryd.log" ||
    fail "RekeyLimit 1M did not re-exchange keys"
grep -q "audit: event=auth_failure" "$T/ferryd.log" || fail "no auth_failure audit line"
ok "audit lines"

ferryd_stop
ok "clean shutdown on SIGTERM"
