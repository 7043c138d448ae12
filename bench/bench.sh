#!/usr/bin/env bash
# Ferry vs OpenSSH on this machine, in one run, same data, same tmpfs.
# Prints each figure and the ratio Ferry/OpenSSH (higher is better for
# rates, lower for times). A script that prints figures, not a test.
#
#   [ROUNDS=n] bench/bench.sh [quick]   quick = 256 MiB instead of 1 GiB, fewer files
#
# Each throughput figure is the median of ROUNDS (default 5, odd) runs per
# tool, the tools taking turns and alternating who goes first, and every
# run's figure is printed under it: on this VM one run of either tool
# varies by 2x (new tmpfs pages are backed by the host at their first
# touch, see docs/DESIGN.md "Where the cycles go"), and a single pair of
# runs mostly measures which tool drew the slow moment.
#
# Starts ferryd and OpenSSH's sshd (internal-sftp) on loopback ports with
# their own throw-away configs, and a delay proxy for the 50 ms RTT case.
# Also prints, for aes128-gcm and chacha20-poly1305, the floor under any
# SFTP on this machine (bench/floor.c: the same file as bare AEAD records
# over loopback TCP, no protocol) run in the same rounds as the tools, and
# both tools' figures as a share of it.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
"$src/scripts/deps" test >/dev/null
# its own build directory: scripts/test's build/release is RelWithDebInfo
cmake -S "$src" -B "$src/build/bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$src/build/bench" -j"$(nproc)" >/dev/null
FERRY="$src/build/bench/ferry"
FERRYD="$src/build/bench/ferryd"
FLOOR="$src/build/bench/floor"
cc -O2 -std=c17 -Wall -Wextra -Werror -o "$FLOOR" "$src/bench/floor.c" -lcrypto

size_mb=1024; nfiles=5000; rtt_mb=256
if [ "${1:-}" = quick ]; then size_mb=256; nfiles=1000; rtt_mb=64; fi
ROUNDS=${ROUNDS:-5}
if [ $((ROUNDS % 2)) = 0 ] || [ "$ROUNDS" -lt 1 ]; then echo "ROUNDS must be odd" >&2; exit 2; fi

work=$(mktemp -d /dev/shm/ferry-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

mkdir -p "$work"/{keys,ferry-root,ssh-root,local}
ssh-keygen -q -t ed25519 -N '' -f "$work/keys/user" 
ssh-keygen -q -t ed25519 -N '' -f "$work/keys/host"
cp "$work/keys/user.pub" "$work/keys/authorized_keys"

# ferryd
fport=$(free_port)
"$FERRYD" --listen "127.0.0.1:$fport" --root "$work/ferry-root" --host-key "$work/keys/host" \
  --authorized-keys "$work/keys/authorized_keys" 2>"$work/ferryd.log" &
pids+=($!); fpid=$!
# sshd with internal-sftp
mkdir -p /run/sshd
sport=$(free_port)
cat >"$work/sshd_config" <<CONF
Port $sport
ListenAddress 127.0.0.1
HostKey $work/keys/host
AuthorizedKeysFile $work/keys/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
Subsystem sftp internal-sftp
CONF
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
pids+=($!); spid=$!
for _ in $(seq 50); do grep -q "listening on" "$work/ferryd.log" 2>/dev/null && break; sleep 0.1; done
sleep 0.5

common=(-q -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -i "$work/keys/user")
# cpu_of PID: user+system seconds of the process's reaped children (the
# per-connection server processes).
cpu_of() { awk '{printf "%.2f", ($16+$17)/100}' "/proc/$1/stat"; }

# run_one TOOL PORT EXTRA_OPTS BATCH -> prints "seconds client_cpu server_cpu"
run_one() {
  local tool=$1 port=$2 opts=$3 batch=$4 spid_=$5
  local before after t0 t1 out
  before=$(cpu_of "$spid_")
  t0=$(date +%s.%N)
  out=$( { /usr/bin/time -f "%U %S" "$tool" "${common[@]}" $opts -P "$port" -b "$batch" 127.0.0.1 >/dev/null; } 2>&1 | tail -1)
  t1=$(date +%s.%N)
  sleep 0.3
  after=$(cpu_of "$spid_")
  echo "$t0 $t1 $out $before $after" | awk '{printf "%.3f %.2f %.2f\n", $2-$1, $3+$4, $6-$5}'
}

# pair TOOLOPTS_F TOOLOPTS_S BATCH_F BATCH_S PORT_F PORT_S CLEANUP...:
# $ROUNDS rounds (odd), ferry and sftp alternating who goes first; prints
# "ferry_s ferry_cpu_client ferry_cpu_server sftp_s sftp_cpu_client
# sftp_cpu_server", each tool's median run (by time) with its CPU. Every
# run's seconds go to $work/runs ("ferry: ..." and "openssh: ...").
# CLEANUP... is a command run after every run ("nothing" for none).
# With FLOOR_ARGS set ("EVP_CIPHER SRC DEST"), each round also runs the floor
# (bench/floor.c) right after the two tools, so it meets the same moments
# of this VM, and a 7th value, its median MB/s, follows.
FLOOR_ARGS=""
pair() {
  local of=$1 os=$2 bf=$3 bs=$4 pf_=$5 ps_=$6; shift 6
  local fr=() sr=() fl=() i mid=$(( (ROUNDS + 1) / 2 ))
  for i in $(seq "$ROUNDS"); do
    if [ $((i % 2)) = 1 ]; then
      fr+=("$(run_one "$FERRY" "$pf_" "$of" "$bf" "$fpid")"); "$@"
      sr+=("$(run_one sftp "$ps_" "$os" "$bs" "$spid")"); "$@"
    else
      sr+=("$(run_one sftp "$ps_" "$os" "$bs" "$spid")"); "$@"
      fr+=("$(run_one "$FERRY" "$pf_" "$of" "$bf" "$fpid")"); "$@"
    fi
    if [ -n "$FLOOR_ARGS" ]; then
      # shellcheck disable=SC2086
      fl+=("$("$FLOOR" $FLOOR_ARGS | awk '{print $2}')"); "$@"
    fi
  done
  { echo "ferry: $(printf '%s\n' "${fr[@]}" | awk '{printf "%s ", $1}')"
    echo "openssh: $(printf '%s\n' "${sr[@]}" | awk '{printf "%s ", $1}')"; } >"$work/runs"
  echo "$(printf '%s\n' "${fr[@]}" | sort -n | sed -n "${mid}p") $(printf '%s\n' "${sr[@]}" | sort -n | sed -n "${mid}p")" \
    "$( [ ${#fl[@]} -gt 0 ] && printf '%s\n' "${fl[@]}" | sort -n | sed -n "${mid}p")"
}
# MB/s of every run of the last pair, per tool: "  runs  ferry a b c  openssh d e f"
runs_line() { # SIZE_MB
  awk -v m="$1" '{printf "%s", $1; for (i = 2; i <= NF; i++) printf " %.0f", m * 1.048576 / $i; printf "  "}' \
    "$work/runs" | sed 's/^/  runs (MB\/s): /'
  echo
}
nothing() { :; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "n/a" }'; }

echo "ferry bench: $(date -u +%F) commit $(git -C "$src" rev-parse --short HEAD) size=${size_mb}MiB"
head -c $((size_mb * 1024 * 1024)) /dev/urandom >"$work/local/big"
printf "%-44s %12s %12s %8s\n" case ferry openssh ratio

bulk() { # bulk LABEL CIPHER MAC [FLOOR_EVP_CIPHER]
  local label=$1 cipher=$2 mac=$3 evp=${4:-}
  local opts="-o Ciphers=$cipher"
  [ -n "$mac" ] && opts="$opts -o MACs=$mac"
  for dir in put get devnull; do
    local fb sb
    case $dir in
      put) printf 'put %s/local/big /big.put\n' "$work" >"$work/b.f"
           printf 'put %s/local/big %s/ssh-root/big.put\n' "$work" "$work" >"$work/b.s" ;;
      get) printf 'get /big %s/local/big.f\n' "$work" >"$work/b.f"
           printf 'get %s/ssh-root/big %s/local/big.s\n' "$work" "$work" >"$work/b.s" ;;
      devnull) printf 'get /big /dev/null\n' >"$work/b.f"
           printf 'get %s/ssh-root/big /dev/null\n' "$work" >"$work/b.s" ;;
    esac
    FLOOR_ARGS=""
    if [ -n "$evp" ]; then
      case $dir in
        put) FLOOR_ARGS="$evp $work/local/big $work/local/big.s" ;;
        get) FLOOR_ARGS="$evp $work/ferry-root/big $work/local/big.s" ;;
        devnull) FLOOR_ARGS="$evp $work/ferry-root/big /dev/null" ;;
      esac
    fi
    read -r ft fc fsv st sc ssv flr < <(pair "$opts" "$opts" "$work/b.f" "$work/b.s" "$fport" "$sport" \
      rm -f "$work/local/big.f" "$work/local/big.s" "$work/ferry-root/big.put" "$work/ssh-root/big.put")
    FLOOR_ARGS=""
    local fr sr
    fr=$(awk -v m="$size_mb" -v t="$ft" 'BEGIN{printf "%.0f", m*1.048576/t}')
    sr=$(awk -v m="$size_mb" -v t="$st" 'BEGIN{printf "%.0f", m*1.048576/t}')
    printf "%-44s %9s MB/s %9s MB/s %8s\n" "$label $dir" "$fr" "$sr" "$(ratio "$fr" "$sr")"
    printf "%-44s %8s s/GiB %8s s/GiB\n" "  cpu client+server" \
      "$(awk -v c="$fc" -v s="$fsv" -v m="$size_mb" 'BEGIN{printf "%.2f", (c+s)*1024/m}')" \
      "$(awk -v c="$sc" -v s="$ssv" -v m="$size_mb" 'BEGIN{printf "%.2f", (c+s)*1024/m}')"
    runs_line "$size_mb"
    if [ -n "${flr:-}" ]; then
      printf "%-44s %9s MB/s   ferry %s%%, openssh %s%%\n" "  floor (bare $evp records)" "$flr" \
        "$(awk -v f="$fr" -v m="$flr" 'BEGIN{printf "%.0f", 100*f/m}')" \
        "$(awk -v f="$sr" -v m="$flr" 'BEGIN{printf "%.0f", 100*f/m}')"
    fi
    rm -f "$work/local/big.f" "$work/local/big.s"
  done
}
# Each put goes to a new path (removed after every run), as each get
# does: over an existing file, ferryd's atomic upload writes beside it
# until the rename (so it needs new pages while the old file's are still
# held) where OpenSSH truncates it first and reuses the pages just freed —
# on this VM a difference of up to a second per GiB that says nothing
# about the protocol. The gets read copies made here.
cp "$work/local/big" "$work/ferry-root/big"
cp "$work/local/big" "$work/ssh-root/big"
# warm-up, not measured: the first 1 GiB written to a fresh tmpfs costs
# more (page allocation) whichever tool comes first
printf 'put %s/local/big /warm\n' "$work" >"$work/w.f"
run_one "$FERRY" "$fport" "" "$work/w.f" "$fpid" >/dev/null
rm -f "$work/ferry-root/warm"
bulk "aes128-gcm" aes128-gcm@openssh.com "" aes-128-gcm
bulk "chacha20-poly1305" chacha20-poly1305@openssh.com "" chacha20-poly1305
bulk "aes128-ctr+hmac-sha2-256-etm" aes128-ctr hmac-sha2-256-etm@openssh.com
# the cost of ferry's whole-file verification (on by default; OpenSSH has none)
printf 'get /big /dev/null\n' >"$work/b.f"
printf 'get %s/ssh-root/big /dev/null\n' "$work" >"$work/b.s"
read -r ft _ _ st _ _ < <(pair "-o Ciphers=aes128-gcm@openssh.com -o VerifyTransfers=no" \
  "-o Ciphers=aes128-gcm@openssh.com" "$work/b.f" "$work/b.s" "$fport" "$sport" nothing)
fr=$(awk -v m="$size_mb" -v t="$ft" 'BEGIN{printf "%.0f", m*1.048576/t}')
sr=$(awk -v m="$size_mb" -v t="$st" 'BEGIN{printf "%.0f", m*1.048576/t}')
printf "%-44s %9s MB/s %9s MB/s %8s\n" "aes128-gcm devnull, VerifyTransfers=no" "$fr" "$sr" "$(ratio "$fr" "$sr")"

# many small files
mkdir -p "$work/local/small"
for i in $(seq "$nfiles"); do head -c 4096 /dev/urandom >"$work/local/small/f$i"; done
# (medians of ROUNDS runs, as the bulk cases: one run of either tool
# varies by half on this VM; each run into a tree that is not there)
files_line() { # LABEL: files/s of the medians of the last pair, and every run's
  read -r ft st < <(awk '{print $1, $4}' <<<"$1") # pair: ferry's t cpu cpu, then sftp's
  fr=$(awk -v n="$nfiles" -v t="$ft" 'BEGIN{printf "%.0f", n/t}'); sr=$(awk -v n="$nfiles" -v t="$st" 'BEGIN{printf "%.0f", n/t}')
  printf "%-44s %8s f/s %9s f/s %8s\n" "$2" "$fr" "$sr" "$(ratio "$fr" "$sr")"
  awk -v n="$nfiles" '{printf "%s", $1; for (i = 2; i <= NF; i++) printf " %.0f", n / $i; printf "  "}' \
    "$work/runs" | sed 's/^/  runs (files\/s): /'
  echo
}
clean_put() { rm -rf "$work/ferry-root/small" "$work/ssh-root/small"; }
clean_get() { rm -rf "$work/local/small2" "$work/local/small3"; }
clean_put
printf 'put -r %s/local/small /small\n' "$work" >"$work/s.f"
printf 'put -r %s/local/small %s/ssh-root/small\n' "$work" "$work" >"$work/s.s"
files_line "$(pair "" "" "$work/s.f" "$work/s.s" "$fport" "$sport" clean_put)" "put -r ${nfiles} x 4 KiB"
cp -r "$work/local/small" "$work/ferry-root/small"
cp -r "$work/local/small" "$work/ssh-root/small"
clean_get
printf 'get -r /small %s/local/small2\n' "$work" >"$work/s.f"
printf 'get -r %s/ssh-root/small %s/local/small3\n' "$work" "$work" >"$work/s.s"
files_line "$(pair "" "" "$work/s.f" "$work/s.s" "$fport" "$sport" clean_get)" "get -r ${nfiles} x 4 KiB"

# connection set-up: connect, authenticate, ls, quit (median of 10)
printf 'ls /\n' >"$work/c.f"; printf 'ls %s/ssh-root\n' "$work" >"$work/c.s"
conn() { for _ in $(seq 10); do run_one "$1" "$2" "" "$3" "$4" | awk '{print $1*1000}'; done | sort -n | sed -n 5p; }
fc=$(conn "$FERRY" "$fport" "$work/c.f" "$fpid"); sc=$(conn sftp "$sport" "$work/c.s" "$spid")
printf "%-44s %10s ms %10s ms %8s\n" "connect+auth+ls+quit (median)" "$fc" "$sc" "$(ratio "$sc" "$fc")x faster"

# 50 ms RTT through the delay proxy
pf=$(free_port); ps=$(free_port)
/usr/bin/python3 "$src/bench/delay_proxy.py" "$pf" "$fport" 25 >"$work/pf.log" & pids+=($!)
/usr/bin/python3 "$src/bench/delay_proxy.py" "$ps" "$sport" 25 >"$work/ps.log" & pids+=($!)
sleep 1
head -c $((rtt_mb * 1024 * 1024)) "$work/local/big" >"$work/local/rtt"
cp "$work/local/rtt" "$work/ferry-root/rtt"; cp "$work/local/rtt" "$work/ssh-root/rtt"
for dir in put get; do
  if [ $dir = put ]; then # to new paths, as above
    printf 'put %s/local/rtt /rtt.put\n' "$work" >"$work/r.f"; printf 'put %s/local/rtt %s/ssh-root/rtt.put\n' "$work" "$work" >"$work/r.s"
  else
    printf 'get /rtt /dev/null\n' >"$work/r.f"; printf 'get %s/ssh-root/rtt /dev/null\n' "$work" >"$work/r.s"
  fi
  read -r ft _ _ st _ _ < <(pair "" "" "$work/r.f" "$work/r.s" "$pf" "$ps" \
    rm -f "$work/ferry-root/rtt.put" "$work/ssh-root/rtt.put")
  fr=$(awk -v m="$rtt_mb" -v t="$ft" 'BEGIN{printf "%.1f", m*1.048576/t}'); sr=$(awk -v m="$rtt_mb" -v t="$st" 'BEGIN{printf "%.1f", m*1.048576/t}')
  printf "%-44s %9s MB/s %9s MB/s %8s\n" "50 ms RTT $dir ${rtt_mb} MiB" "$fr" "$sr" "$(ratio "$fr" "$sr")"
done
