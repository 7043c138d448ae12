# shellcheck shell=bash
# accounts.sh: system accounts for the tests that log in with a password
# against OpenSSH's sshd (sourced). Tests run in parallel (ctest -j) and
# useradd/chpasswd refuse while another holds /etc/passwd's lock, so each
# change is retried; each test uses an account of its own.

locked_retry() {
    local i
    for i in $(seq 1 20); do
        "$@" 2>/dev/null && return 0
        sleep 0.3
    done
    "$@"
}

# ensure_account NAME PASSWORD
ensure_account() {
    id "$1" >/dev/null 2>&1 || locked_retry useradd -m "$1"
    locked_retry set_password "$1" "$2"
}

set_password() { printf '%s:%s\n' "$1" "$2" | chpasswd; }
