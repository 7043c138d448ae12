#!/usr/bin/env bash
# Several users from ferryd.conf "User" blocks, each with its own root,
# key file and Mode, checked with OpenSSH's sftp: each user sees only its
# root; read-only refuses every change; upload-only accepts uploads but
# refuses reading and removing; a key listed for one user does not log in
# as another; from= restricts a key to its addresses. A user's own
# AuthenticationMethods: "publickey,password" needs both (the key alone,
# or the password alone, is refused); "password" lets that user in by
# password although PasswordAuthentication is off for everyone else.
. "$FERRY_SRC/tests/interop/lib.sh"
need sftp ssh-keygen cmp timeout

for u in rw ro up twofa pwonly; do
    ssh-keygen -q -t ed25519 -N '' -C "$u" -f "$T/key_$u"
    mkdir -p "$T/root_$u"
done
cp "$T/key_rw.pub" "$T/keys_rw"
cp "$T/key_ro.pub" "$T/keys_ro"
# the upload-only key only from 127.0.0.1, not from 127.0.0.5
echo "from=\"127.0.0.1\" $(cat "$T/key_up.pub")" >"$T/keys_up"
echo "shared content" >"$T/root_ro/readme.txt"
echo "not for uploaders" >"$T/root_up/existing.txt"
cp "$T/key_twofa.pub" "$T/keys_twofa"
cp "$T/key_pwonly.pub" "$T/keys_pwonly"
PW='Users-Pw-7'
HASH=$(password_hash "$PW")
printf '#!/bin/sh\necho %s\n' "$PW" >"$T/askpass"
chmod 755 "$T/askpass"
cat >"$T/ferryd.conf" <<CONF
PerSourcePenalties no
PasswordAuthentication no
AuditLog $T/audit.log
User writer
    Root $T/root_rw
    AuthorizedKeysFile $T/keys_rw
    Mode read-write
User reader
    Root $T/root_ro
    AuthorizedKeysFile "$T/keys_%u_missing" $T/keys_ro
    Mode read-only
User dropbox
    Root $T/root_up
    AuthorizedKeysFile $T/keys_up
    Mode upload-only
User twofa
    Root $T/root_twofa
    AuthorizedKeysFile $T/keys_twofa
    PasswordHash $HASH
    AuthenticationMethods publickey,password
User pwonly
    Root $T/root_pwonly
    AuthorizedKeysFile $T/keys_pwonly
    PasswordHash $HASH
    AuthenticationMethods password
User writerpw
    Root $T/root_rw
    AuthorizedKeysFile $T/keys_rw
    PasswordHash $HASH
CONF
ferryd_start --config "$T/ferryd.conf"
make_file "$T/data" 123456

as() { # user key batch-text -> runs sftp -b
    printf '%s\n' "$3" >"$T/batch"
    ossh_sftp -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i "$T/key_$2" \
        -b "$T/batch" "$1@127.0.0.1" >"$T/out" 2>&1
}

as writer rw "put $T/data d.bin
get d.bin $T/d.back
rm d.bin
mkdir x
rmdir x" || { cat "$T/out" >&2; fail "read-write user"; }
same "$T/data" "$T/d.back"
ok "read-write user"

as reader ro "get readme.txt $T/readme.back
ls -l" || { cat "$T/out" >&2; fail "read-only user cannot read"; }
same "$T/root_ro/readme.txt" "$T/readme.back"
for cmd in "put $T/data new.bin" "rm readme.txt" "mkdir x" "rename readme.txt r2" \
    "chmod 600 readme.txt" "symlink readme.txt l"; do
    if as reader ro "$cmd"; then
        fail "read-only user could: $cmd"
    fi
done
[ "$(ls "$T/root_ro")" = readme.txt ] || fail "read-only root changed: $(ls "$T/root_ro")"
ok "read-only user reads, and every change is refused"

as dropbox up "put $T/data in.bin
mkdir sub
put $T/data sub/in2.bin
ls -l" || { cat "$T/out" >&2; fail "upload-only user cannot upload"; }
same "$T/data" "$T/root_up/in.bin"
same "$T/data" "$T/root_up/sub/in2.bin"
for cmd in "get in.bin $T/stolen" "get existing.txt $T/stolen" "rm in.bin" \
    "put $T/data existing.txt"; do
    if as dropbox up "$cmd"; then
        fail "upload-only user could: $cmd"
    fi
done
[ ! -s "$T/stolen" ] || fail "upload-only user read data"
[ "$(cat "$T/root_up/existing.txt")" = "not for uploaders" ] || fail "existing file replaced"
ok "upload-only user uploads; reading, removing and replacing are refused"

# Each user sees its own root only.
as writer rw "ls /readme.txt" && fail "writer sees the reader's files"
as writer rw "get /../root_ro/readme.txt $T/escape" && fail "writer escaped its root"
ok "roots are separate"

# Keys belong to their user; from= is honoured.
if as writer ro "ls"; then fail "reader's key logged in as writer"; fi
if as nosuchuser rw "ls"; then fail "unknown user logged in"; fi
printf 'ls\n' >"$T/batch"
if ossh_sftp -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i "$T/key_up" \
    -o BindAddress=127.0.0.5 -b "$T/batch" "dropbox@127.0.0.1" >/dev/null 2>&1; then
    fail "from=\"127.0.0.1\" key accepted from 127.0.0.5"
fi
ok "keys are per user; from= restricts the source"
grep -q "audit: event=session_start user=reader " "$T/ferryd.log" || fail "no audit for reader"
grep -Eq '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z ferryd\[[0-9]+\] event=session_start user=reader ' \
    "$T/audit.log" || fail "AuditLog lacks the reader's session"
grep -q ' event=file user=dropbox .*op=mkdir path=/sub .*result=ok' "$T/audit.log" ||
    fail "AuditLog lacks the dropbox's mkdir"
if grep -q ' event=file user=dropbox .*op=remove .*result=ok' "$T/audit.log"; then
    fail "AuditLog shows a remove by the upload-only user"
fi
# every refusal by the mode is in the audit trail, with its reason
for op in open remove mkdir rename setstat symlink; do
    grep -q " event=file user=reader .*op=$op .*result=permission_denied .*refused=\"read-only session\"" \
        "$T/audit.log" || fail "AuditLog lacks the refused $op of the read-only user"
done
grep -q ' event=file user=dropbox .*op=read path=/in.bin .*result=permission_denied .*refused="upload-only session"' \
    "$T/audit.log" || fail "AuditLog lacks the refused read of the upload-only user"
grep -q ' event=file user=dropbox .*op=remove path=/in.bin .*result=permission_denied .*refused="upload-only session"' \
    "$T/audit.log" || fail "AuditLog lacks the refused remove of the upload-only user"
grep -q ' event=file user=dropbox .*op=open path=/existing.txt .*refused="upload-only session: cannot replace an existing file"' \
    "$T/audit.log" || fail "AuditLog lacks the refused replacement by the upload-only user"
if grep -q ' event=file user=writer .*refused=' "$T/audit.log"; then
    fail "AuditLog shows a refusal for the read-write user"
fi
[ "$(stat -c %a "$T/audit.log")" = 600 ] || fail "AuditLog mode"
ok "AuditLog file with timestamps"

# A user's own AuthenticationMethods. pw USER KEY|none: OpenSSH's sftp with
# the key (none: no key) and the password from SSH_ASKPASS; commands on
# stdin, as -b would switch passwords off (BatchMode)
pw() {
    local keyopt=(-o PubkeyAuthentication=no)
    [ "$2" = none ] || keyopt=(-i "$T/key_$2")
    echo pwd | SSH_ASKPASS="$T/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 setsid -w \
        timeout 60 sftp -F /dev/null -P "$FERRYD_PORT" -o UserKnownHostsFile="$T/known_hosts" \
        -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null -o IdentitiesOnly=yes \
        -o IdentityAgent=none -o NumberOfPasswordPrompts=1 "${keyopt[@]}" \
        "$1@127.0.0.1" >"$T/pw.out" 2>&1 && grep -q "Remote working directory: /" "$T/pw.out"
}
if as twofa twofa "ls"; then fail "twofa: the key alone logged in"; fi
if pw twofa none; then fail "twofa: the password alone logged in"; fi
pw twofa twofa || { cat "$T/pw.out" >&2; fail "twofa: key and password refused"; }
grep -q "event=session_start user=twofa .*method=publickey,password " "$T/audit.log" ||
    fail "twofa: no session_start with method=publickey,password: $(grep 'user=twofa' "$T/audit.log")"
pw pwonly none || { cat "$T/pw.out" >&2; fail "pwonly: the password refused"; }
if as pwonly pwonly "ls"; then fail "pwonly: the key logged in"; fi
if pw writerpw none; then fail "writerpw: a password logged in with PasswordAuthentication no"; fi
ok "a user's AuthenticationMethods: publickey,password needs both; password alone for one user while PasswordAuthentication is off"
ferryd_stop
ok "clean shutdown"
