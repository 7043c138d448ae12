#!/usr/bin/env bash
# zlib@openssh.com compression, both ways, against OpenSSH:
#  1. OpenSSH sftp -C against ferryd with "Compression yes": negotiated
#     (ssh's own debug lines say so) and switched on after authentication;
#     a compressible and a random file put and got back byte-equal.
#  2. ferryd's default (Compression no): sftp -C gets "none".
#  3. ferry -C (and "Compression yes" in an ssh_config) against OpenSSH's
#     sshd: sshd logs zlib@openssh.com for both directions; files equal.
#     Without -C, ferry asks for none.
#  4. ferry -C against ferryd with "Compression yes": files equal.
. "$FERRY_SRC/tests/interop/lib.sh"
need sftp ssh-keygen timeout cmp
FERRY="$FERRY_BUILD/ferry"

make_user_key ed25519
mkdir -p "$T/local"
# compressible text and random bytes, 3 MiB each
/usr/bin/python3 -c 'import sys
sys.stdout.write(("ferry moves files; zlib squeezes repeated lines like this one\n" * 60000)[:3145728])' \
    >"$T/local/text"
make_file "$T/local/rand" 3145728
KEYOPTS=(-o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -i "$T/id_ed25519")
printf 'put %s/local/text text\nput %s/local/rand rand\nget text %s/local/text.back\nget rand %s/local/rand.back\n' \
    "$T" "$T" "$T" "$T" >"$T/batch"

check_files() {
    same "$T/local/text" "$1/text"
    same "$T/local/rand" "$1/rand"
    same "$T/local/text" "$T/local/text.back"
    same "$T/local/rand" "$T/local/rand.back"
    rm -f "$T/local/text.back" "$T/local/rand.back"
}

# 1. OpenSSH sftp -C -> ferryd Compression yes
printf 'Compression yes\n' >"$T/ferryd.conf"
ferryd_start --config "$T/ferryd.conf"
ossh_sftp -C -v "${KEYOPTS[@]}" -b "$T/batch" "$TEST_USER@127.0.0.1" >"$T/1.out" 2>"$T/1.err" ||
    { tail -n 20 "$T/1.err" >&2; fail "sftp -C against ferryd failed"; }
grep -q "kex: server->client cipher: .* compression: zlib@openssh.com" "$T/1.err" ||
    fail "server->client compression not negotiated: $(grep 'kex: ' "$T/1.err")"
grep -q "kex: client->server cipher: .* compression: zlib@openssh.com" "$T/1.err" ||
    fail "client->server compression not negotiated"
grep -q "Enabling compression" "$T/1.err" || fail "ssh did not switch compression on"
check_files "$T/root"
ferryd_stop
ok "OpenSSH sftp -C with ferryd Compression yes: zlib@openssh.com both ways, files equal"

# 2. ferryd's default: no compression offered
ferryd_start
rm -f "$T/root/text" "$T/root/rand"
ossh_sftp -C -v "${KEYOPTS[@]}" -b "$T/batch" "$TEST_USER@127.0.0.1" >"$T/2.out" 2>"$T/2.err" ||
    { tail -n 20 "$T/2.err" >&2; fail "sftp -C against a default ferryd failed"; }
grep -q "kex: server->client cipher: .* compression: none" "$T/2.err" ||
    fail "a default ferryd negotiated compression"
check_files "$T/root"
ferryd_stop
ok "ferryd's default (Compression no): sftp -C gets none"

# 3. ferry -C -> OpenSSH sshd (Compression yes is its default)
mkdir -p "$T/sshroot"
ssh-keygen -q -t ed25519 -N '' -f "$T/sshd_host"
sshd_start "$T/sshd_host"
PORT=$SSHD_PORT
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$T/sshd_host.pub")" >"$T/sshd_kh"
printf 'put %s/local/text %s/sshroot/text\nput %s/local/rand %s/sshroot/rand\nget %s/sshroot/text %s/local/text.back\nget %s/sshroot/rand %s/local/rand.back\n' \
    "$T" "$T" "$T" "$T" "$T" "$T" "$T" "$T" >"$T/sbatch"
run_ferry() { # name, extra options...
    local name=$1
    shift
    local from
    from=$(wc -l <"$T/sshd.log")
    timeout 120 "$FERRY" -F "$T/ssh_config" -P "$PORT" -o UserKnownHostsFile="$T/sshd_kh" \
        "${KEYOPTS[@]}" "$@" -b "$T/sbatch" "$(id -un)@127.0.0.1" >"$T/$name.out" \
        2>"$T/$name.err" || { cat "$T/$name.err" >&2; fail "$name: ferry failed"; }
    sleep 0.3
    tail -n +"$((from + 1))" "$T/sshd.log" >"$T/$name.sshd"
    check_files "$T/sshroot"
}
: >"$T/ssh_config"
run_ferry c -C
grep -q "kex: client->server cipher: .* compression: zlib@openssh.com" "$T/c.sshd" ||
    fail "ferry -C: sshd did not log zlib@openssh.com client->server: $(grep 'kex: ' "$T/c.sshd")"
grep -q "kex: server->client cipher: .* compression: zlib@openssh.com" "$T/c.sshd" ||
    fail "ferry -C: sshd did not log zlib@openssh.com server->client"
ok "ferry -C against sshd: zlib@openssh.com both ways (sshd's log), files equal"

printf 'Host *\n    Compression yes\n' >"$T/ssh_config"
run_ferry conf
grep -q "compression: zlib@openssh.com" "$T/conf.sshd" || fail "Compression yes in ssh_config ignored"
: >"$T/ssh_config"
run_ferry none
grep -q "kex: client->server cipher: .* compression: none" "$T/none.sshd" ||
    fail "without -C ferry should ask for none: $(grep 'kex: ' "$T/none.sshd")"
ok "ssh_config Compression yes does the same; without it, none"

# 4. ferry -C -> ferryd Compression yes: both ends ours; a download of
# several MiB goes through ferryd's in-place READ replies compressed
ferryd_start --config "$T/ferryd.conf"
rm -f "$T/root/text" "$T/root/rand"
make_file "$T/local/big" 9437184
printf 'put %s/local/big big\nget big %s/local/big.back\n' "$T" "$T" >"$T/batch4"
cat "$T/batch" >>"$T/batch4"
timeout 120 "$FERRY" -C -vvv -F /dev/null -P "$FERRYD_PORT" -o UserKnownHostsFile="$T/known_hosts" \
    "${KEYOPTS[@]}" -b "$T/batch4" "$TEST_USER@127.0.0.1" >"$T/4.out" 2>"$T/4.err" ||
    { tail -n 20 "$T/4.err" >&2; fail "ferry -C against ferryd failed"; }
grep -q "ssh: compression out/in on" "$T/4.err" || fail "ferry -C with ferryd: compression not on"
same "$T/local/big" "$T/root/big"
same "$T/local/big" "$T/local/big.back"
check_files "$T/root"
ferryd_stop
ok "ferry -C with ferryd Compression yes: compressed both ways, files equal"
