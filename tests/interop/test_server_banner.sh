#!/usr/bin/env bash
# test_server_banner.sh: ferryd's Banner (sshd_config's keyword: text sent
# as SSH_MSG_USERAUTH_BANNER before authentication) and how clients show
# it: OpenSSH's sftp prints it on stderr (not with -q); so does ferry (not
# with -q or LogLevel QUIET); control characters in it are made visible,
# never sent to the terminal; a Banner file that cannot be read stops
# ferryd at start.
. "$FERRY_SRC/tests/interop/lib.sh"
need sftp ssh-keygen timeout
FERRY="$FERRY_BUILD/ferry"
[ -x "$FERRY" ] || fail "$FERRY not built"

make_user_key ed25519
printf 'Authorized use only.\nAll sessions are audited.\n\033[2Jno escapes\n' >"$T/banner"
printf '%s\n' "Banner $T/banner" >"$T/ferryd.conf"
ferryd_start --config "$T/ferryd.conf"
echo pwd >"$T/batch"

# osftp NAME [options]: OpenSSH's sftp, stderr in $T/NAME.err
osftp() {
    local name=$1
    shift
    ossh_sftp -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i "$T/id_ed25519" "$@" \
        -b "$T/batch" "$TEST_USER@127.0.0.1" >"$T/$name.out" 2>"$T/$name.err" ||
        { cat "$T/$name.err" >&2; fail "$name: sftp failed"; }
    grep -q "Remote working directory: /" "$T/$name.out" || fail "$name: no session"
}
# fsftp NAME [options]: ferry, stderr in $T/NAME.err
fsftp() {
    local name=$1
    shift
    timeout 60 "$FERRY" -F none -P "$FERRYD_PORT" -o UserKnownHostsFile="$T/known_hosts" \
        -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i "$T/id_ed25519" "$@" \
        -b "$T/batch" "$TEST_USER@127.0.0.1" >"$T/$name.out" 2>"$T/$name.err" ||
        { cat "$T/$name.err" >&2; fail "$name: ferry failed"; }
    grep -q "Remote working directory: /" "$T/$name.out" || fail "$name: no session"
}

osftp ossh
grep -qx "Authorized use only." "$T/ossh.err" || fail "OpenSSH's sftp did not show the banner: $(cat "$T/ossh.err")"
grep -qx "All sessions are audited." "$T/ossh.err" || fail "OpenSSH's sftp: the second line missing"
osftp osshq -q
if grep -q "Authorized use only" "$T/osshq.err"; then fail "sftp -q showed the banner"; fi
ok "OpenSSH's sftp shows ferryd's Banner (both lines), not with -q"

fsftp ferry
grep -qx "Authorized use only." "$T/ferry.err" || fail "ferry did not show the banner: $(cat "$T/ferry.err")"
grep -qx "All sessions are audited." "$T/ferry.err" || fail "ferry: the second line missing"
if grep -q $'\033' "$T/ferry.err"; then fail "ferry sent the banner's escape sequence to the terminal"; fi
grep -q "no escapes" "$T/ferry.err" || fail "ferry dropped the banner's last line"
fsftp ferryq -q
if grep -q "Authorized use only" "$T/ferryq.err"; then fail "ferry -q showed the banner"; fi
fsftp ferryquiet -o LogLevel=QUIET
if grep -q "Authorized use only" "$T/ferryquiet.err"; then fail "ferry with LogLevel QUIET showed the banner"; fi
ok "ferry shows the Banner on stderr with control characters made visible; not with -q or LogLevel QUIET"
ferryd_stop

sed "s|^Banner .*|Banner $T/no_such_banner|" "$T/ferryd.conf" >"$T/bad.conf"
# shellcheck disable=SC2046
if timeout 20 "$FERRYD" --config "$T/bad.conf" --listen 127.0.0.1:0 --root "$T/root" \
    --user "$TEST_USER" --authorized-keys "$T/authorized_keys" $(host_key_args) >"$T/bad.out" 2>&1; then
    fail "ferryd started with a missing Banner file"
fi
grep -q "Banner $T/no_such_banner" "$T/bad.out" || fail "missing Banner: $(cat "$T/bad.out")"
ok "a Banner file that cannot be read stops ferryd at start"
