#!/usr/bin/env bash
# Ruby's net-sftp over net-ssh (the SFTP stack of Capistrano, Chef,
# Vagrant and many Ruby tools) as an SFTP client of ferryd: Debian's
# ruby-net-ssh 1:7.0.1-1 (Net::SSH 7.0.1, "SSH-2.0-Ruby/Net::SSH_7.0.1
# x86_64-linux-gnu") and ruby-net-sftp 1:4.0.0-1 (Net::SFTP 4.0.0) on
# Ruby 3.1, with ruby-ed25519 and ruby-bcrypt-pbkdf (without both gems
# net-ssh knows neither ssh-ed25519 host keys nor Ed25519 user keys). A
# small Ruby program written here runs commands, read on its standard
# input, through the Net::SFTP::Session API. The versions it prints are
# checked first: the expectations below are those of these versions.
#
# What net-ssh 7.0.1 negotiates with ferryd's default offers (checked,
# from session.transport.algorithms and ferryd's audit log):
#   kex        diffie-hellman-group-exchange-sha256: net-ssh's curve25519
#              needs the x25519 gem, which Debian does not package, and
#              the ecdh-sha2-nistp* it prefers next are not in ferryd's
#              default offer
#   host key   ssh-ed25519 (ferryd's generated key)
#   cipher     aes256-ctr both ways (net-ssh 7.0 has neither
#              chacha20-poly1305 nor AES-GCM, and prefers aes256-ctr)
#   MAC        hmac-sha2-512-etm@openssh.com both ways
#   compression none; SFTP protocol version 3 (net-sftp asks for 6)
#
# Covered, each an "ok" line below:
#   1. host keys checked with verify_host_key: :always (net-ssh's strict
#      mode) against only $T/known_hosts ("[127.0.0.1]:PORT" entries):
#      a known_hosts naming another key is refused with
#      Net::SSH::HostKeyMismatch, an empty one with HostKeyUnknown
#   2. publickey login with an Ed25519 key (keys_only), password login,
#      a wrong password refused (Net::SSH::AuthenticationFailed)
#   3. upload!/download! of a 5 MB and of an empty file (cmp with the
#      original and with the copy on disk), download! into memory and
#      upload! from a StringIO; recursive upload! (mkdir: true) and
#      download! (recursive: true) of a small tree (diff -r)
#   4. mkdir!, dir.entries (names, sizes, types against find(1)),
#      stat!/lstat!, setstat!(permissions:) and (atime:, mtime:) seen on
#      disk, file.open("r+") with a write at an offset (in place),
#      file.open("a") (net-sftp writes at offset 0 with the APPEND flag:
#      the bytes must land at the end), rename! (and one onto an
#      existing name refused: v3 RENAME never replaces), symlink! (sent in
#      OpenSSH's order, target first) and readlink!, remove!, rmdir!
#   5. many requests in flight on a 20 MB file: download! with read_size
#      1 MiB (ferryd answers at most 256 KiB: net-sftp continues after
#      each short answer; it keeps one READ in flight per file), 64 READs
#      pipelined through the asynchronous API, upload! with 16 WRITEs in
#      flight, a recursive download! of 50 files (16 open at once); the
#      ferryd log holds no error or warning and no failed file operation
#   6. paths out of the root: ferryd takes ".." at its root as "/" (as a
#      chroot does), so ../NAME, /../../etc/passwd and symbolic links to
#      absolute or ../ paths name files inside the root: reads, stat!,
#      remove!, rename!, setstat! and r+ writes of things outside fail
#      with NO_SUCH_FILE, upload!/mkdir! of ../NAME land in the root, and
#      nothing outside $T/root changes (a snapshot of $T, checksums).
# PerSourcePenalties is off: the test fails logins on purpose.
#
# net-ssh sets no TCP_NODELAY: a lone READ waits for the ACK of the
# client's previous small packet (Nagle against delayed ACKs, ~40 ms a
# READ on Linux loopback; the same with OpenSSH's sshd). That is why the
# 1 MiB download! takes seconds while the pipelined read does not.

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$FERRY_SRC/tests/interop/lib.sh"
. "$FERRY_SRC/tests/interop/peer_lib.sh"
need ruby ssh-keygen cmp diff find timeout stat sha256sum

ruby -e 'require "net/ssh"; require "net/sftp"
exit(Net::SSH::Authentication::ED25519Loader::LOADED ? 0 : 1)' ||
    fail "net-ssh/net-sftp with Ed25519 support missing (ruby-net-ssh ruby-net-sftp ruby-ed25519 ruby-bcrypt-pbkdf: scripts/deps test)"

# ---------------------------------------------------------------- client
cat >"$T/ferry_sftp.rb" <<'RUBY'
# ferry_sftp.rb PORT USER KNOWN_HOSTS AUTH < commands
#
# AUTH: key:PATH or password:SECRET. Host keys are always verified
# (verify_host_key: :always, only KNOWN_HOSTS). Commands, one a line,
# tab-separated: TAG CMD ARGS...; each prints "TAG OK [result]" or
# "TAG ERR <SFTP status code> <description>" (ls first prints
# "TAG ENTRY <name>\t<size>\t<type>" lines). A failed connection prints
# "CONNECT-FAIL <exception class> <message>" and exits with status 2.
# net-ssh's log (level from FERRY_RUBY_LOG, default warn) goes to stderr.
require 'logger'
require 'net/ssh'
require 'net/sftp'
require 'net/sftp/version'
require 'digest'
require 'stringio'

$stdout.sync = true
$stdout.binmode
port, user, known_hosts, auth = ARGV
opts = {
  port: Integer(port), config: false, use_agent: false, non_interactive: true,
  verify_host_key: :always, user_known_hosts_file: [known_hosts],
  global_known_hosts_file: ['/dev/null'], timeout: 20,
  logger: Logger.new($stderr), verbose: (ENV['FERRY_RUBY_LOG'] || 'warn').to_sym
}
if auth.start_with?('key:')
  opts.update(keys: [auth.delete_prefix('key:')], keys_only: true, auth_methods: ['publickey'])
elsif auth.start_with?('password:')
  opts.update(password: auth.delete_prefix('password:'), auth_methods: ['password'])
else
  abort "auth #{auth}"
end

puts "VERSIONS ruby=#{RUBY_VERSION} net-ssh=#{Net::SSH::Version::STRING} " \
     "net-sftp=#{Net::SFTP::Version::STRING}"
begin
  ssh = Net::SSH.start('127.0.0.1', user, opts)
  a = ssh.transport.algorithms
  puts "ALGS kex=#{a.kex} host_key=#{a.host_key} cipher=#{a.encryption_client},#{a.encryption_server} " \
       "mac=#{a.hmac_client},#{a.hmac_server} compression=#{a.compression_client},#{a.compression_server}"
  puts "SERVER #{ssh.transport.server_version.version}"
  sftp = ssh.sftp.connect!
rescue Net::SSH::Exception, SystemCallError => e
  puts "CONNECT-FAIL #{e.class} #{e.message.lines.first&.chomp}"
  exit 2
end
puts "SFTP version=#{sftp.protocol.version}"

def type_of(attrs)
  return 'dir' if attrs.directory?
  return 'link' if attrs.symlink?
  return 'file' if attrs.file?
  'other'
end

def attrs_str(a)
  format('size=%d perm=%o type=%s', a.size, a.permissions & 0o7777, type_of(a))
end

# Reads REMOTE into LOCAL with up to DEPTH READs of CHUNK bytes in flight
# (the asynchronous API: each callback queues the next READ); a short
# answer re-queues the rest of its range. Returns the statistics.
def pipelined_get(sftp, remote, local, chunk, depth)
  handle = sftp.open!(remote, 'r')
  size = sftp.fstat!(handle).size
  ranges = []
  (0...size).step(chunk) { |off| ranges << [off, [chunk, size - off].min] }
  inflight = max_inflight = reads = short = 0
  File.open(local, 'wb') do |out|
    issue = lambda do
      while inflight < depth && !ranges.empty?
        inflight += 1
        max_inflight = inflight if inflight > max_inflight
        # (a block per range: a while loop's variables are shared)
        ranges.shift.then do |off, len|
          sftp.read(handle, off, len) do |resp|
            inflight -= 1
            raise Net::SFTP::StatusException.new(resp, "read #{remote}@#{off}") unless resp.ok?
            data = resp[:data]
            out.pos = off
            out.write(data)
            reads += 1
            if data.bytesize < len
              short += 1
              ranges.unshift([off + data.bytesize, len - data.bytesize])
            end
            issue.call
          end
        end
      end
    end
    issue.call
    sftp.loop { inflight.positive? }
  end
  sftp.close!(handle)
  "size=#{size} reads=#{reads} short=#{short} max_in_flight=#{max_inflight}"
end

# A progress handler for upload!/download! that counts the chunks
# (:put/:get events) and the most SFTP requests seen pending at once.
def progress(sftp, stats)
  lambda do |event, *_|
    stats[event] += 1
    n = sftp.pending_requests.size
    stats[:max_pending] = n if n > stats[:max_pending]
  end
end

def run(sftp, tag, f)
  stats = Hash.new(0)
  case f[0]
  when 'put' # LOCAL REMOTE [READ_SIZE REQUESTS]
    if f[3].nil?
      sftp.upload!(f[1], f[2])
      return ''
    end
    sftp.upload!(f[1], f[2], read_size: Integer(f[3]), requests: Integer(f[4]), &progress(sftp, stats))
    "chunks=#{stats[:put]} max_pending=#{stats[:max_pending]}"
  when 'get' # REMOTE LOCAL [READ_SIZE]
    if f[3].nil?
      sftp.download!(f[1], f[2])
      return "bytes=#{File.size(f[2])}"
    end
    sftp.download!(f[1], f[2], read_size: Integer(f[3]), &progress(sftp, stats))
    "bytes=#{File.size(f[2])} chunks=#{stats[:get]}"
  when 'cat' # REMOTE: download! into memory (no local name)
    data = sftp.download!(f[1])
    "len=#{data.bytesize} sha256=#{Digest::SHA256.hexdigest(data)}"
  when 'putio' # LOCAL REMOTE: upload! from an IO (a StringIO)
    sftp.upload!(StringIO.new(File.binread(f[1])), f[2])
    ''
  when 'putr' then sftp.upload!(f[1], f[2], mkdir: true); ''
  when 'getr' # REMOTE LOCAL: 16 files at once (net-sftp's default)
    sftp.download!(f[1], f[2], recursive: true, &progress(sftp, stats))
    "files=#{stats[:open]} max_pending=#{stats[:max_pending]}"
  when 'mkdir' then sftp.mkdir!(f[1]); ''
  when 'rmdir' then sftp.rmdir!(f[1]); ''
  when 'rm' then sftp.remove!(f[1]); ''
  when 'rename' then sftp.rename!(f[1], f[2]); ''
  when 'ls'
    es = sftp.dir.entries(f[1])
    es.each { |e| puts "#{tag} ENTRY #{e.name}\t#{e.attributes.size}\t#{type_of(e.attributes)}" }
    "n=#{es.size}"
  when 'stat' then attrs_str(sftp.stat!(f[1]))
  when 'lstat' then attrs_str(sftp.lstat!(f[1]))
  when 'chmod' then sftp.setstat!(f[2], permissions: Integer(f[1], 8)); ''
  when 'utime' then sftp.setstat!(f[2], atime: Integer(f[1]), mtime: Integer(f[1])); ''
  when 'pwrite' # REMOTE OFFSET LOCAL: LOCAL's bytes written at OFFSET, "r+"
    data = File.binread(f[3])
    sftp.file.open(f[1], 'r+') do |io|
      io.pos = Integer(f[2])
      io.write(data)
    end
    "wrote=#{data.bytesize}"
  when 'append' # REMOTE LOCAL: file.open("a") (its pos starts at 0: the
    # APPEND flag alone must put the bytes at the end, as O_APPEND does)
    data = File.binread(f[2])
    sftp.file.open(f[1], 'a') { |io| io.write(data) }
    "wrote=#{data.bytesize}"
  when 'pread' # REMOTE OFFSET LENGTH: sha256 of what file.read returns
    data = sftp.file.open(f[1], 'r') do |io|
      io.pos = Integer(f[2])
      io.read(Integer(f[3]))
    end
    "len=#{data.bytesize} sha256=#{Digest::SHA256.hexdigest(data)}"
  when 'symlink' then sftp.symlink!(f[1], f[2]); ''
  when 'readlink' then sftp.readlink!(f[1]).name
  when 'realpath' then sftp.realpath!(f[1]).name
  when 'pipeget' then pipelined_get(sftp, f[1], f[2], Integer(f[3]), Integer(f[4]))
  else raise ArgumentError, "command #{f[0]}"
  end
end

$stdin.each_line do |line|
  f = line.chomp.split("\t", -1)
  next if f.empty?
  tag = f.shift
  begin
    res = run(sftp, tag, f)
    puts "#{tag} OK#{res.empty? ? '' : " #{res}"}"
  rescue Net::SFTP::StatusException => e
    puts "#{tag} ERR #{e.code} #{e.description}"
  end
end
ssh.close
puts 'DONE'
RUBY
ruby -c "$T/ferry_sftp.rb" >/dev/null || fail "ferry_sftp.rb does not parse"

# rb NAME KNOWN_HOSTS AUTH <commands: one net-ssh connection to ferryd;
# its output in $T/NAME.out, net-ssh's log in $T/NAME.log. Returns the
# client's status; a hang fails the test.
rb() {
    local name=$1 kh=$2 auth=$3 rc=0
    timeout 60 ruby "$T/ferry_sftp.rb" "$FERRYD_PORT" "$TEST_USER" "$kh" "$auth" \
        >"$T/$name.out" 2>"$T/$name.log" || rc=$?
    [ $rc -ne 124 ] || fail "$name: ruby did not finish in 60 s"
    return $rc
}

# rb_ok: as rb, and the session must have run to its end.
rb_ok() {
    local name=$1
    if ! rb "$@" || ! grep -qx DONE "$T/$name.out"; then
        cat "$T/$name.out" "$T/$name.log" >&2
        fail "$name: net-sftp session failed"
    fi
}

# rb_refused NAME EXCEPTION KNOWN_HOSTS AUTH: the connection must fail
# with net-ssh's EXCEPTION (class name), quickly.
rb_refused() {
    local name=$1 exc=$2 rc=0 t0=$SECONDS
    shift 2
    rb "$name" "$@" </dev/null || rc=$?
    [ $rc -eq 2 ] || { cat "$T/$name.out" "$T/$name.log" >&2; fail "$name: status $rc, expected a refused connection"; }
    grep -q "^CONNECT-FAIL $exc " "$T/$name.out" ||
        { cat "$T/$name.out" >&2; fail "$name: expected $exc"; }
    grep -q "^SFTP " "$T/$name.out" && fail "$name: an SFTP session was opened"
    [ $((SECONDS - t0)) -le 15 ] || fail "$name: refusal took $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------- server
make_user_key ed25519
ssh-keygen -q -t ed25519 -N '' -C other-host -f "$T/other_host"
PW='net-ssh pass wörd'
echo "PerSourcePenalties no" >"$T/ferryd.conf"
ferryd_start --config "$T/ferryd.conf" --password-hash "$(password_hash "$PW")"
KEY="key:$T/id_ed25519"
R="$T/root"
L="$T/local"
mkdir -p "$L"

# ------------------------------------- 1. host key verification
grep -qx "\[127.0.0.1\]:$FERRYD_PORT ssh-ed25519 [A-Za-z0-9+/=]*" "$T/known_hosts" ||
    fail "unexpected known_hosts: $(cat "$T/known_hosts")"
rb_ok hello "$T/known_hosts" "$KEY" </dev/null
VERSIONS=$(sed -n 's/^VERSIONS //p' "$T/hello.out")
[[ $VERSIONS =~ ^ruby=[0-9.]+\ net-ssh=7\.0\.1\ net-sftp=4\.0\.0$ ]] ||
    fail "expected net-ssh 7.0.1 and net-sftp 4.0.0, found: ${VERSIONS:-none} (update this test's expectations)"
known_hosts_of "$T/other_host.pub" "$T/kh_wrong"
rb_refused wrong_key Net::SSH::HostKeyMismatch "$T/kh_wrong" "$KEY"
: >"$T/kh_empty"
rb_refused unknown_key Net::SSH::HostKeyUnknown "$T/kh_empty" "$KEY"
[ "$(grep -c "event=session_start" "$T/ferryd.log")" -eq 1 ] ||
    fail "a session started without a verified host key"
ok "host key verified (verify_host_key: :always, [127.0.0.1]:PORT); a wrong key raises HostKeyMismatch, an unknown one HostKeyUnknown ($VERSIONS)"

want_algs="ALGS kex=diffie-hellman-group-exchange-sha256 host_key=ssh-ed25519 cipher=aes256-ctr,aes256-ctr mac=hmac-sha2-512-etm@openssh.com,hmac-sha2-512-etm@openssh.com compression=none,none"
grep -qxF "$want_algs" "$T/hello.out" || fail "negotiated: $(grep '^ALGS' "$T/hello.out")"
grep -qx "SERVER SSH-2.0-Ferry_.*" "$T/hello.out" || fail "server version: $(grep '^SERVER' "$T/hello.out")"
grep -qx "SFTP version=3" "$T/hello.out" || fail "SFTP version: $(grep '^SFTP' "$T/hello.out")"
grep -q "event=session_start user=$TEST_USER .*method=publickey .*key_type=ssh-ed25519 .*cipher=aes256-ctr client=\"SSH-2.0-Ruby/Net::SSH_7\.0\.1 " \
    "$T/ferryd.log" || fail "no session_start audit for the net-ssh session"
ok "${want_algs#ALGS }, SFTP v3"

# ------------------------------------- 2. authentication
grep -q "event=session_start user=$TEST_USER .*method=publickey .*key_type=ssh-ed25519" "$T/ferryd.log" ||
    fail "no publickey session"
{ cmd w realpath .; } >"$T/c_pw"
rb_ok pw "$T/known_hosts" "password:$PW" <"$T/c_pw"
want_reply pw w "/"
grep -q "event=session_start user=$TEST_USER .*method=password " "$T/ferryd.log" ||
    fail "no password session in the ferryd log"
rb_refused bad_pw Net::SSH::AuthenticationFailed "$T/known_hosts" "password:wrong $PW"
grep -q "event=auth_failure user=$TEST_USER .*method=password" "$T/ferryd.log" ||
    fail "no auth_failure audit for the wrong password"
[ "$(grep -c "event=session_start" "$T/ferryd.log")" -eq 2 ] || fail "the wrong password opened a session"
ok "publickey login with an Ed25519 key (keys_only), password login; a wrong password raises AuthenticationFailed"

# ------------------------------------- files for the sessions below
make_file "$L/five.bin" 5000000
: >"$L/empty.bin"
mkdir -p "$L/tree/a/b" "$L/tree/c" "$L/tree/empty dir"
for i in 1 2 3 4 5; do make_file "$L/tree/f$i" $((i * 7919)); done
make_file "$L/tree/a/b/deep.bin" 300001
make_file "$L/tree/c/with space" 4242
: >"$L/tree/a/zero"
make_file "$L/twenty.bin" 20000000
cp "$L/twenty.bin" "$R/twenty.bin"
# a tree of many files for a recursive download (16 at once)
mkdir -p "$R/many/sub"
for i in $(seq 1 40); do make_file "$R/many/m$i" $((i * 3001)); done
for i in $(seq 1 10); do make_file "$R/many/sub/s$i" $((i * 50021)); done
# files for the operations
mkdir -p "$R/ops/list/dir one" "$R/ops/list/d2"
for i in $(seq 1 25); do make_file "$R/ops/list/f$i" $((i * 111)); done
printf 'x' >"$R/ops/list/with space"
printf 'yy' >"$R/ops/list/ünïcödé"
printf 'zzz' >"$R/ops/list/.hidden"
ln -s f1 "$R/ops/list/link"
make_file "$R/ops/st.bin" 12345
cp "$R/ops/st.bin" "$L/st.orig"
chmod 0644 "$R/ops/st.bin"
make_file "$R/ops/mode.bin" 777
chmod 0600 "$R/ops/mode.bin"
ln -s st.bin "$R/ops/st.lnk"
make_file "$R/ops/inplace.bin" 100000
cp "$R/ops/inplace.bin" "$L/inplace.orig"
make_file "$L/patch.bin" 3000
printf 'first line of a log\n' >"$R/ops/log.txt"
# outside the root: things that must stay untouched
mkdir -p "$T/outside"
echo "outside the root" >"$T/outside/secret"
echo "victim" >"$T/victim.txt"
chmod 0644 "$T/victim.txt"
ln -s "$T/outside/secret" "$R/abs_out"
ln -s ../outside/secret "$R/rel_out"
mkdir -p "$R/etc"
echo "decoy inside the root" >"$R/etc/passwd"
# a fingerprint of $T outside the root and the client's files
snapshot() {
    find "$T" -mindepth 1 \( -path "$R" -o -path "$L" -o -name '*.out' -o -name '*.log' -o -name '*.snap' -o -name '*.sha' -o -name 'c_*' \) -prune -o \
        -printf '%p %y %s %m %T@\n' | LC_ALL=C sort
}
snapshot >"$T/before.snap"
sha256sum "$T/outside/secret" "$T/victim.txt" >"$T/before.sha"

# ------------------------------------- 3. transfers
{
    cmd p1 put "$L/five.bin" /five.bin
    cmd g1 get /five.bin "$L/five.back"
    cmd p2 put "$L/empty.bin" /empty.bin
    cmd g2 get /empty.bin "$L/empty.back"
    cmd g4 cat /five.bin
    cmd p4 putio "$L/five.bin" /five.io
    cmd p3 putr "$L/tree" /tree
    cmd g3 getr /tree "$L/tree.back"
} >"$T/c_xfer"
rb_ok xfer "$T/known_hosts" "$KEY" <"$T/c_xfer"
grep -qxF "$want_algs" "$T/xfer.out" || fail "xfer: negotiated $(grep '^ALGS' "$T/xfer.out")"
want_ok xfer p1
want_reply xfer g1 "bytes=5000000"
same "$L/five.bin" "$R/five.bin"
same "$L/five.bin" "$L/five.back"
want_ok xfer p2
want_reply xfer g2 "bytes=0"
[[ -f $R/empty.bin && ! -s $R/empty.bin ]] || fail "empty upload: not an empty file on disk"
[[ -f $L/empty.back && ! -s $L/empty.back ]] || fail "empty download: not an empty file"
want_reply xfer g4 "len=5000000 sha256=$(sha256sum <"$L/five.bin" | cut -d' ' -f1)"
want_ok xfer p4
same "$L/five.bin" "$R/five.io"
ok "upload!/download! of a 5 MB file and of an empty file (cmp with the original and the copy on disk); download! into memory, upload! from a StringIO"

want_ok xfer p3
want_ok xfer g3
diff -r "$L/tree" "$R/tree" >&2 || fail "uploaded tree differs"
diff -r "$L/tree" "$L/tree.back" >&2 || fail "downloaded tree differs"
[[ -d "$R/tree/empty dir" && -d "$L/tree.back/empty dir" ]] || fail "empty directory not copied"
ok "recursive upload! (mkdir: true) and download! (recursive: true) of a tree (diff -r)"

# ------------------------------------- 4. operations
{
    cmd m1 mkdir /ops/newdir
    cmd l1 ls /ops/list
    cmd s1 stat /ops/st.bin
    cmd s2 lstat /ops/st.lnk
    cmd s3 stat /ops/st.lnk
    cmd s4 stat /ops/list
    cmd c1 chmod 640 /ops/mode.bin
    cmd s5 stat /ops/mode.bin
    cmd t1 utime 1234567890 /ops/mode.bin
    cmd w1 pwrite /ops/inplace.bin 54321 "$L/patch.bin"
    cmd w2 pread /ops/inplace.bin 54000 1000
    cmd a1 append /ops/log.txt "$L/patch.bin"
    cmd a2 append /ops/newlog.txt "$L/patch.bin"
    cmd n1 rename /ops/st.bin /ops/newdir/moved.bin
    cmd n2 rename /ops/inplace.bin /ops/newdir/moved.bin
    cmd n3 get /ops/newdir/moved.bin "$L/moved.back"
    cmd y1 symlink moved.bin /ops/newdir/sym
    cmd y2 readlink /ops/newdir/sym
    cmd y3 lstat /ops/newdir/sym
    cmd y4 get /ops/newdir/sym "$L/via_sym.bin"
} >"$T/c_ops"
rb_ok ops "$T/known_hosts" "$KEY" <"$T/c_ops"
want_ok ops m1
# (ferryd lists . and .. too; compared apart)
find "$R/ops/list" -mindepth 1 -maxdepth 1 -printf '%f\t%s\t%y\n' |
    sed 's/\td$/\tdir/; s/\tf$/\tfile/; s/\tl$/\tlink/' | LC_ALL=C sort >"$L/ls_disk"
[ "$(wc -l <"$L/ls_disk")" -eq 31 ] || fail "expected 31 entries on disk"
sed -n 's/^l1 ENTRY //p' "$T/ops.out" | grep -avE '^\.\.?'$'\t' | LC_ALL=C sort >"$L/ls_ruby"
cmp -s "$L/ls_disk" "$L/ls_ruby" || { diff "$L/ls_disk" "$L/ls_ruby" >&2 || true; fail "dir.entries differ from the disk"; }
grep -aq $'^l1 ENTRY \.\t' "$T/ops.out" || fail "no . entry"
grep -aq $'^l1 ENTRY \.\.\t' "$T/ops.out" || fail "no .. entry"
want_reply ops l1 "n=33"
ok "mkdir!, dir.entries: 31 names, sizes and types as on disk (blanks, UTF-8, hidden, a link)"

want_reply ops s1 "size=12345 perm=644 type=file"
want_reply ops s2 "size=6 perm=777 type=link"
want_reply ops s3 "size=12345 perm=644 type=file"
want_reply ops s4 "size=$(stat -c %s "$R/ops/list") perm=$(stat -c %a "$R/ops/list") type=dir"
want_ok ops c1
want_reply ops s5 "size=777 perm=640 type=file"
[ "$(stat -c %a "$R/ops/mode.bin")" = 640 ] || fail "setstat! permissions on disk: $(stat -c %a "$R/ops/mode.bin")"
want_ok ops t1
[ "$(stat -c '%X %Y' "$R/ops/mode.bin")" = "1234567890 1234567890" ] ||
    fail "setstat! atime/mtime on disk: $(stat -c '%X %Y' "$R/ops/mode.bin")"
ok "stat!/lstat! sizes, modes and types; setstat!(permissions: 0640) and setstat!(atime:, mtime:) on disk"

want_reply ops w1 "wrote=3000"
{ head -c 54321 "$L/inplace.orig"; cat "$L/patch.bin"; tail -c +$((54321 + 3000 + 1)) "$L/inplace.orig"; } >"$L/inplace.want"
[ "$(stat -c %s "$L/inplace.want")" -eq 100000 ] || fail "expected file of 100000 bytes"
same "$L/inplace.want" "$R/ops/inplace.bin"
want_reply ops w2 "len=1000 sha256=$(tail -c +54001 "$L/inplace.want" | head -c 1000 | sha256sum | cut -d' ' -f1)"
want_reply ops a1 "wrote=3000"
cat - "$L/patch.bin" <<<"first line of a log" >"$L/log.want"
same "$L/log.want" "$R/ops/log.txt"
want_reply ops a2 "wrote=3000"
same "$L/patch.bin" "$R/ops/newlog.txt"
ok "file.open(\"r+\"): a write at offset 54321 in place (size kept, bytes around it unchanged), read back at an offset; file.open(\"a\") appends"

want_ok ops n1
want_err ops n2 4
[ ! -e "$R/ops/st.bin" ] || fail "rename! left the old name"
[ -f "$R/ops/inplace.bin" ] || fail "the refused rename! removed its source"
# (moved.bin is removed further on: n3 downloaded it right after n2)
want_reply ops n3 "bytes=12345"
same "$L/st.orig" "$L/moved.back"
ok "rename!, and a rename! onto an existing name refused (SFTP v3: SSH_FX_FAILURE)"

want_ok ops y1
[ -L "$R/ops/newdir/sym" ] || fail "symlink!: no link on disk"
[ "$(readlink "$R/ops/newdir/sym")" = moved.bin ] || fail "symlink! target on disk: $(readlink "$R/ops/newdir/sym")"
want_reply ops y2 "moved.bin"
want_reply ops y3 "size=9 perm=777 type=link"
want_reply ops y4 "bytes=12345"
same "$L/st.orig" "$L/via_sym.bin"
ok "symlink!(target, link) (OpenSSH's order, as net-sftp sends it): link on disk, readlink!, lstat!, a download! through it"

{
    cmd d1 rmdir /ops/newdir
    cmd d2 rm /ops/newdir/sym
    cmd d3 rm /ops/newdir/moved.bin
    cmd d4 rmdir /ops/newdir
    cmd d5 stat /ops/newdir
    cmd d6 rm /ops/newdir/moved.bin
} >"$T/c_del"
rb_ok del "$T/known_hosts" "$KEY" <"$T/c_del"
want_err del d1 4
for t in d2 d3 d4; do want_ok del $t; done
want_err del d5 2
want_err del d6 2
[ ! -e "$R/ops/newdir" ] || fail "rmdir!: /ops/newdir still on disk"
ok "remove!, rmdir! (a non-empty rmdir! refused with SSH_FX_FAILURE; missing names: SSH_FX_NO_SUCH_FILE)"

# ------------------------------------- 5. many requests in flight
{
    cmd b1 get /twenty.bin "$L/twenty.get" 1048576
    cmd b2 pipeget /twenty.bin "$L/twenty.pipe" 65536 64
    cmd b3 put "$L/twenty.bin" /twenty.up 65536 16
    cmd b4 getr /many "$L/many.back"
} >"$T/c_big"
rb_ok big "$T/known_hosts" "$KEY" <"$T/c_big"
# ferryd answers a READ with at most 256 KiB (its max_read): net-sftp
# asks for 1 MiB, takes the short answers and goes on from where each ended
want_reply big b1 "bytes=20000000 chunks=$(((20000000 + 262143) / 262144))"
same "$L/twenty.bin" "$L/twenty.get"
r=$(reply big b2)
[[ $r =~ ^b2\ OK\ size=20000000\ reads=([0-9]+)\ short=([0-9]+)\ max_in_flight=([0-9]+)$ ]] ||
    fail "pipelined read: ${r:-no answer}"
[ "${BASH_REMATCH[3]}" -eq 64 ] || fail "pipelined read: at most ${BASH_REMATCH[3]} READs in flight"
[ "${BASH_REMATCH[2]}" -eq 0 ] || fail "pipelined read: ${BASH_REMATCH[2]} short answers to 64 KiB READs"
same "$L/twenty.bin" "$L/twenty.pipe"
want_reply big b3 "chunks=$(((20000000 + 65535) / 65536)) max_pending=16"
same "$L/twenty.bin" "$R/twenty.up"
r=$(reply big b4)
[[ $r =~ ^b4\ OK\ files=50\ max_pending=([0-9]+)$ ]] || fail "recursive download: ${r:-no answer}"
pending=${BASH_REMATCH[1]}
[ "$pending" -ge 8 ] || fail "recursive download: at most $pending requests pending"
diff -r "$R/many" "$L/many.back" >&2 || fail "recursive download of 50 files differs"
grep -q "op=close path=/twenty.bin .*bytes_read=20000000 .*result=ok" "$T/ferryd.log" ||
    fail "no audit event for the 20 MB download"
grep -E "ferryd\[[0-9]+\]: (error|warning):" "$T/ferryd.log" >&2 && fail "errors in the ferryd log"
[ "$(grep -c "event=file .* path=/\(twenty\|many/\)" "$T/ferryd.log")" -ge 100 ] || fail "too few file events"
grep "event=file .* path=/\(twenty\|many/\)" "$T/ferryd.log" | grep -v " result=ok " >&2 &&
    fail "a failed file operation in the transfers above"
ok "20 MB: download! (read_size 1 MiB: 77 short reads of 256 KiB), 64 pipelined READs, upload! with 16 WRITEs in flight; recursive download! of 50 files ($pending requests pending); no error in the ferryd log"

# ------------------------------------- 6. out of the root
{
    cmd j1 get ../outside/secret "$L/j1"
    cmd j2 get /../../etc/passwd "$L/j2"
    cmd j3 stat ../victim.txt
    cmd j4 rm ../victim.txt
    cmd j5 rename ../victim.txt /stolen.txt
    cmd j6 chmod 777 ../victim.txt
    cmd j7 put "$L/patch.bin" ../outside/secret
    cmd j8 get /abs_out "$L/j8"
    cmd j9 get /rel_out "$L/j9"
    cmd j10 realpath ../..
    cmd j11 put "$L/patch.bin" ../escaped.bin
    cmd j12 mkdir ../../escdir
    cmd j13 ls ..
    cmd j14 pwrite ../victim.txt 0 "$L/patch.bin"
} >"$T/c_jail"
rb_ok jail "$T/known_hosts" "$KEY" <"$T/c_jail"
for t in j1 j3 j4 j5 j6 j7 j8 j9 j14; do want_err jail $t 2; done
for t in j1 j8 j9; do [ ! -e "$L/$t" ] || fail "$t: a failed download! left $L/$t"; done
[ ! -e "$R/outside" ] || fail "upload! to ../outside/secret created $R/outside"
# /../../etc/passwd is the root's /etc/passwd: the decoy
want_reply jail j2 "bytes=$(stat -c %s "$R/etc/passwd")"
same "$R/etc/passwd" "$L/j2"
want_reply jail j10 "/"
want_ok jail j11
same "$L/patch.bin" "$R/escaped.bin"
[ ! -e "$T/escaped.bin" ] || fail "upload! of ../escaped.bin left the root"
want_ok jail j12
[ -d "$R/escdir" ] || fail "mkdir! ../../escdir: not in the root"
[[ ! -e $T/escdir && ! -e ${T%/*}/escdir ]] || fail "mkdir! ../../escdir left the root"
grep -aq $'^j13 ENTRY twenty.bin\t' "$T/jail.out" || fail "ls .. did not list the root"
grep -aq $'^j13 ENTRY victim.txt\t' "$T/jail.out" && fail "ls .. listed the root's parent"
snapshot >"$T/after.snap"
diff "$T/before.snap" "$T/after.snap" >&2 || fail "files outside the root changed"
sha256sum -c --quiet "$T/before.sha" || fail "files outside the root were modified"
[ ! -e "$R/stolen.txt" ] || fail "rename! of ../victim.txt succeeded"
ok "../ and absolute/relative links out of the root: reads, stat!, remove!, rename!, setstat!, r+ writes fail with NO_SUCH_FILE; upload!/mkdir! land in the root; nothing outside it changed"

ferryd_stop
ok "clean shutdown of ferryd, no sanitizer report"
