#!/usr/bin/env bash
# ferryd started as root with ServiceUser: each session runs as that
# account (files it creates belong to it; files it may not read stay
# unreadable), while the listener keeps reading host keys as root.
. "$FERRY_SRC/tests/interop/lib.sh"
need sftp ssh-keygen cmp timeout

if [ "$(id -u)" -ne 0 ]; then
    ok "# not root: nothing to drop (ServiceUser applies to a root ferryd only)"
    exit 0
fi
id nobody >/dev/null 2>&1 || fail "no 'nobody' account"
make_user_key ed25519
chmod 755 "$T"
chmod 644 "$T/authorized_keys"
mkdir -p "$T/root"
chmod 777 "$T/root"
echo secret >"$T/root/private"
chmod 600 "$T/root/private"
echo "ServiceUser nobody" >"$T/ferryd.conf"
ferryd_start --config "$T/ferryd.conf"
stat -c %U "$T/host_ed25519" | grep -qx root || fail "host key not created by root"

make_file "$T/payload" 10000
printf 'put %s/payload up.bin\n' "$T" >"$T/batch"
ossh_sftp -o BatchMode=yes -o IdentitiesOnly=yes -i "$T/id_ed25519" -b "$T/batch" \
    "$TEST_USER@127.0.0.1" >"$T/out" 2>&1 || { cat "$T/out" >&2; fail "upload as nobody"; }
same "$T/payload" "$T/root/up.bin"
[ "$(stat -c %U "$T/root/up.bin")" = nobody ] || fail "uploaded file owned by $(stat -c %U "$T/root/up.bin")"
ok "session runs as the ServiceUser"

printf 'get private %s/got\n' "$T" >"$T/batch2"
if ossh_sftp -o BatchMode=yes -o IdentitiesOnly=yes -i "$T/id_ed25519" -b "$T/batch2" \
    "$TEST_USER@127.0.0.1" >/dev/null 2>&1; then
    fail "a root-only file was readable after the privilege drop"
fi
[ ! -s "$T/got" ] || fail "root-only content leaked"
ok "root-only files stay unreadable"
ferryd_stop
ok "clean shutdown"
