#!/usr/bin/env bash
# curl (libssh2) against ferryd: sftp:// upload, download, listing, quote
# commands; an ed25519 user key (libssh2 signs RSA with SHA-1 ssh-rsa,
# which ferryd does not accept by default) and the host key pinned with
# --hostpubsha256.
. "$FERRY_SRC/tests/interop/lib.sh"
need curl ssh-keygen cmp timeout

make_user_key ed25519
make_user_key ecdsa
echo "PerSourcePenalties no" >"$T/ferryd.conf"
ferryd_start --config "$T/ferryd.conf"
# base64 SHA-256 of the host key blob, as ssh-keygen -l shows it
HOSTSHA=$(ssh-keygen -l -E sha256 -f "$T/host_ed25519.pub" | awk '{print $2}' | sed 's/^SHA256://')
URL="sftp://127.0.0.1:$FERRYD_PORT"
CURLOPTS=(-sS --fail --max-time 120 -u "$TEST_USER:" --key "$T/id_ed25519"
    --pubkey "$T/id_ed25519.pub" --hostpubsha256 "$HOSTSHA")

L="$T/local"
mkdir -p "$L"
make_file "$L/up.bin" $((2 * 1024 * 1024 + 4321))
make_file "$L/tiny.bin" 17

curl "${CURLOPTS[@]}" -T "$L/up.bin" "$URL/up.bin" || fail "upload"
same "$L/up.bin" "$T/root/up.bin"
ok "upload"
curl "${CURLOPTS[@]}" -o "$L/down.bin" "$URL/up.bin" || fail "download"
same "$L/up.bin" "$L/down.bin"
ok "download"
curl "${CURLOPTS[@]}" --ftp-create-dirs -T "$L/tiny.bin" "$URL/a/b/tiny.bin" || fail "create dirs"
same "$L/tiny.bin" "$T/root/a/b/tiny.bin"
ok "upload with --ftp-create-dirs"
curl "${CURLOPTS[@]}" -r 100-199 -o "$L/range.bin" "$URL/up.bin" || fail "range"
cmp -s <(tail -c +101 "$L/up.bin" | head -c 100) "$L/range.bin" || fail "range bytes"
ok "ranged download"
head -c 1000 "$L/up.bin" >"$T/root/resume.bin"
curl "${CURLOPTS[@]}" -C - -T "$L/up.bin" "$URL/resume.bin" || fail "resumed upload"
same "$L/up.bin" "$T/root/resume.bin"
ok "resumed upload (-C -)"
curl "${CURLOPTS[@]}" "$URL/" >"$L/list" || fail "list"
grep -q "up.bin" "$L/list" || fail "listing lacks up.bin"
curl "${CURLOPTS[@]}" -l "$URL/a/" >"$L/names" || fail "list names"
grep -qx "b" "$L/names" || fail "name listing"
ok "directory listings"
curl "${CURLOPTS[@]}" -Q "rename /up.bin /moved.bin" -Q "mkdir /q" -Q "rmdir /q" \
    -Q "chmod 600 /moved.bin" -Q "symlink /moved.bin /ln" -Q "rm /ln" "$URL/" >/dev/null ||
    fail "quote commands"
[ -f "$T/root/moved.bin" ] && [ ! -e "$T/root/up.bin" ] || fail "rename"
[ "$(stat -c %a "$T/root/moved.bin")" = 600 ] || fail "chmod"
ok "quote commands (rename, mkdir, rmdir, chmod, symlink, rm)"

# An ECDSA user key works too.
curl -sS --fail --max-time 120 -u "$TEST_USER:" --key "$T/id_ecdsa" --pubkey "$T/id_ecdsa.pub" \
    --hostpubsha256 "$HOSTSHA" -o "$L/ecdsa.bin" "$URL/moved.bin" || fail "ECDSA user key"
same "$L/up.bin" "$L/ecdsa.bin"
ok "ECDSA user key"

# A wrong host key pin is refused by curl.
if curl "${CURLOPTS[@]/$HOSTSHA/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA}" -o /dev/null \
    "$URL/moved.bin" 2>/dev/null; then
    fail "curl accepted a wrong host key pin"
fi
ok "host key pin checked"
ferryd_stop
ok "clean shutdown"
