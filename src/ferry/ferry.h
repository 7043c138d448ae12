/* ferry.h: the client program's modules (a drop-in for OpenSSH's sftp).
 *
 *   args.c     command line and destination parsing
 *   sshconf.c  ssh_config(5) subset, table-driven
 *   prompt.c   passwords and questions on /dev/tty or SSH_ASKPASS
 *   conn.c     the blocking driver around the sans-I/O SSH session
 *   proxy.c    ProxyCommand, ProxyJump (-J) and -W (stdio forwarding)
 *   hostkey.c  known_hosts verification and OpenSSH's prompts
 *   pipe.c     -D: a local sftp-server on pipes (tests, debugging)
 *   shell.c    command-line splitting, batch and interactive loops
 *   cmds.c     the sftp commands; xfer.c get/put; glob.c globbing
 *   fmt.c      ls formatting, escaping of names; progress.c the meter
 */
#ifndef FERRY_CLIENT_FERRY_H
#define FERRY_CLIENT_FERRY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "crypto/key.h"
#include "sftp/client.h"

/* ---- ssh_config options (sshconf.c) ---- */

#define FERRY_MAX_IDENTITY_FILES 32

enum ferry_strict {
    FERRY_STRICT_UNSET = -1,
    FERRY_STRICT_NO = 0,
    FERRY_STRICT_YES,
    FERRY_STRICT_ACCEPT_NEW,
    FERRY_STRICT_ASK
};

/* Every option starts unset (NULL / -1): the first value obtained wins, as
 * in OpenSSH (command line -o first, then the config files in order). */
typedef struct ferry_opts {
    char *hostname;
    int port;
    char *user;
    char *identity_files[FERRY_MAX_IDENTITY_FILES];
    size_t n_identity_files;
    char *cert_files[FERRY_MAX_IDENTITY_FILES]; /* CertificateFile, accumulates */
    size_t n_cert_files;
    int identities_only;
    char *identity_agent;
    char *known_hosts;        /* UserKnownHostsFile: a list, new keys to the first */
    char *global_known_hosts; /* GlobalKnownHostsFile: read only */
    char *host_key_alias;     /* HostKeyAlias: the name known_hosts uses */
    char *revoked_host_keys;  /* RevokedHostKeys: a KRL or key list */
    int strict;
    int batch_mode;
    int connect_timeout;
    int address_family; /* AddressFamily (-4, -6): AF_UNSPEC, AF_INET, AF_INET6 */
    char *bind_address; /* BindAddress: the connection's source address */
    char *ciphers, *macs, *kex, *hostkey_algs;
    char *pubkey_algs; /* PubkeyAcceptedAlgorithms (PubkeyAcceptedKeyTypes) */
    char *ca_sig_algs; /* CASignatureAlgorithms */
    char *tag;         /* Tag, for Match tagged */
    int pubkey_auth, password_auth, kbdint_auth;
    char *auth_order; /* PreferredAuthentications */
    int password_prompts;    /* NumberOfPasswordPrompts */
    int connection_attempts; /* ConnectionAttempts: TCP connects, a second apart */
    int log_level;           /* LogLevel, as a FERRY_LOG_* (-1 unset) */
    int rekey_set;           /* RekeyLimit seen: rekey_bytes/seconds */
    uint64_t rekey_bytes, rekey_seconds;
    int alive_interval, alive_count;
    int hash_known_hosts;
    int compression; /* Compression (-C): offer zlib@openssh.com */
    /* resume (ferry's own keywords; ssh users can hide them behind
     * IgnoreUnknown): Reconnect, ReconnectAttempts, ReconnectDelay (in
     * milliseconds here, seconds with decimals in the file),
     * VerifyTransfers */
    int reconnect, reconnect_attempts, reconnect_delay_ms, verify_transfers;
    /* ProxyCommand / ProxyJump (-J): whichever comes first wins, as in
     * OpenSSH; "none" stands for unset */
    char *proxy_command, *proxy_jump;
    /* not ssh_config: -F and -v, handed on to a ProxyJump hop; -s */
    char *config_file;
    char *subsystem;
    int verbose;
    int quiet; /* -q: no banner either */
    /* Match final: set once such a block was seen (the files are then
     * read again, final_pass set, as OpenSSH's second pass) */
    int saw_final, final_pass;
} ferry_opts;

void ferry_opts_init(ferry_opts *o);
void ferry_opts_free(ferry_opts *o);
/* Applies one "Keyword value" / "Keyword=value" line for `host`.
 * *in_match tracks whether the current Host block applies (start at 1).
 * Returns 0, or -1 on a bad value (message on stderr, prefixed with
 * `where`). Unknown keywords warn and return 0. */
int ferry_opts_line(ferry_opts *o, const char *line, const char *host, int *in_match,
                    const char *where);
/* Reads a config file; a missing file is fine (returns 0) unless
 * `must_exist`. */
int ferry_opts_file(ferry_opts *o, const char *path, const char *host, int must_exist);
/* Host pattern-list match (OpenSSH: *, ?, !negation, comma lists). */
int ferry_opts_host_match(const char *patterns, const char *host);
/* Fills remaining defaults (port 22, user from the login, ...). */
void ferry_opts_defaults(ferry_opts *o, const char *host);
/* "~/" expansion and %d/%u/%h tokens for file names: new heap string. */
char *ferry_opts_expand_path(const char *path, const char *host, const char *user);
/* OpenSSH's %-tokens: s with each %x of `t` (a table ended by key 0; a
 * NULL value counts as "") replaced, %% as a percent sign, any other %x
 * left as it is. New heap string, NULL if out of memory. */
typedef struct ferry_token {
    char key;
    const char *value;
} ferry_token;
char *ferry_opts_expand_tokens(const char *s, const ferry_token *t);

/* ---- command line (args.c) ---- */

typedef struct ferry_dest {
    char *user; /* NULL if absent */
    char *host;
    int port;   /* -1 if absent */
    char *path; /* NULL if absent */
} ferry_dest;

/* Parses [user@]host[:path], [user@][v6addr]:path and
 * sftp://[user[;params]@]host[:port][/path] (percent-decoded).
 * Returns 0 or -1 (malformed). */
int ferry_dest_parse(const char *s, ferry_dest *d);
void ferry_dest_free(ferry_dest *d);

typedef struct ferry_args {
    int quiet, preserve, recursive, fsync_, resume, verbose, compress;
    uint32_t buffer_size;
    uint32_t num_requests;
    char *batchfile;
    char *config_file;
    char *sftp_server; /* -D */
    char *query;       /* -Q cipher|mac|kex|key: list and exit */
    uint64_t limit_kbps;
    char **cli_options; /* -o values, in order */
    size_t n_cli_options;
    char **identities; /* -i values */
    size_t n_identities;
    int port; /* -P, -1 if absent */
    char *forward;   /* -W host:port: stdio forwarding through the destination */
    char *subsystem; /* -s: the SSH subsystem to open (default "sftp") */
    char *ssh_program; /* -S: an ssh(1)-compatible program as the transport */
    ferry_dest dest;
    char *local; /* second operand for host:path downloads */
} ferry_args;

/* Parses argv. Returns 0, or -1 after printing usage. */
int ferry_args_parse(ferry_args *a, int argc, char **argv);
void ferry_args_free(ferry_args *a);
void ferry_usage(void);

/* ---- prompts (prompt.c) ---- */

/* Reads a line from /dev/tty (echo off unless `echo`), or through
 * SSH_ASKPASS per SSH_ASKPASS_REQUIRE. Returns 0 or -1 (no way to ask, or
 * cancelled). out is NUL-terminated, newline stripped. */
int ferry_prompt(const char *prompt, int echo, char *out, size_t outsz);
/* Non-zero if a terminal is available for questions. */
int ferry_prompt_have_tty(void);

/* ---- connection (conn.c / hostkey.c / pipe.c) ---- */

typedef struct ferry_conn ferry_conn;

/* Connects, verifies the host, authenticates and opens the sftp
 * subsystem. The engine c gets its pump from the connection. */
int ferry_conn_open(ferry_conn **out, const ferry_opts *o, const char *host, ferry_sftpc **sftp,
                    const ferry_sftpc_config *scfg);
/* -W host:port: connects and authenticates as ferry_conn_open, then
 * relays stdin and stdout to host:port from the server (a direct-tcpip
 * channel, as ssh -W; what ProxyJump runs). Returns the exit status. */
int ferry_conn_forward(const ferry_opts *o, const char *host, const char *target);
/* Starts `cmd` (via /bin/sh -c) as a local sftp server on pipes. */
int ferry_conn_open_pipe(ferry_conn **out, const char *cmd, ferry_sftpc **sftp,
                         const ferry_sftpc_config *scfg);
/* -S program: runs `program` as OpenSSH's sftp runs ssh (its -F, -o, -i,
 * -P, -J, -C, -v, the user, then "-s -- host subsystem") and speaks SFTP
 * on its standard input and output; the SSH is the program's. */
int ferry_conn_open_program(ferry_conn **out, const ferry_args *a, ferry_sftpc **sftp,
                            const ferry_sftpc_config *scfg);
void ferry_conn_close(ferry_conn *c);
/* Waits for fd (the terminal) to be readable (0) or a signal (-1)
 * while keeping the SSH connection served: keepalives
 * (ServerAliveInterval), rekeying and the server's own requests go on at
 * an idle prompt. A connection lost meanwhile leaves the engine dead
 * (message printed) for the next command to see. */
int ferry_conn_wait_input(ferry_conn *c, int fd);
/* Tears the SSH connection down and builds it again to the same host:
 * TCP, key exchange (the host key must equal the first connection's),
 * authentication with the identities and the answers of this run (never
 * a new prompt), the sftp channel and INIT on the same engine (reset).
 * FERRY_OK or an error (message printed). Not for -D pipes. */
int ferry_conn_redial(ferry_conn *c);

typedef struct ferry_hostcheck {
    const char *host; /* as given by the user (host alias) */
    const char *hostname;
    const char *ip; /* numeric address connected to */
    int port;
    const ferry_opts *opts;
    const char *ca_sig_algs; /* CASignatureAlgorithms resolved; NULL = the defaults */
} ferry_hostcheck;

/* verify_hostkey callback for the SSH session; ctx is a ferry_hostcheck. */
int ferry_hostkey_verify(void *ctx, const ferry_key *key);
/* OpenSSH's HostKeyAlgorithms for a host on record: `algs` with the
 * algorithms of the key types in known_hosts first (a host known with an
 * RSA key is asked for it, not for a new ed25519 key that would count as
 * changed); with a @cert-authority line for the host, the certificate
 * algorithms before all. *out is a new heap string, NULL when nothing is
 * on record. */
int ferry_hostkey_order_algs(const ferry_hostcheck *hc, const char *algs, char **out);
/* verify_hostcert callback: a host certificate is accepted when a
 * @cert-authority line for the host lists its CA (none @revoked, nor its
 * key), it is a host certificate naming the host (HostKeyAlias, or
 * HostName, without the port) among its principals, and valid now;
 * nothing is written to known_hosts. A revoked CA or key is refused;
 * otherwise a certificate that fails falls back to ferry_hostkey_verify
 * of its key, as OpenSSH's ssh does. */
struct ferry_cert;
int ferry_hostkey_verify_cert(void *ctx, const struct ferry_cert *cert);

/* ---- client state and shell (shell.c / cmds.c / xfer.c) ---- */

/* Automatic resume (resume.c): what to do when the connection is lost
 * during a transfer. */
typedef struct ferry_resume {
    int reconnect; /* Reconnect=yes */
    int attempts;  /* ReconnectAttempts: consecutive failures allowed */
    int delay_ms;  /* ReconnectDelay: first wait, doubled each failure */
    int verify;    /* VerifyTransfers: whole-file hash after the end */
    /* One reconnect try (ferry_conn_redial): FERRY_OK or an error. NULL
     * when the connection cannot be rebuilt (-D). */
    int (*redial)(void *ctx);
    void *redial_ctx;
    unsigned fails; /* reconnects without progress in between */
    int progressed; /* set by transfers that moved data */
    int gave_up;    /* the last ferry_resume_again ran out of attempts */
} ferry_resume;

typedef struct ferry_client {
    ferry_sftpc *sftp;
    char *pwd;  /* remote working directory (absolute) */
    char *home; /* remote start directory */
    FILE *out;
    int interactive;
    int batch;
    int quiet;
    int progress;        /* progress meter switched on (command) */
    int preserve;        /* -p */
    int recursive;       /* -r */
    int fsync_;          /* -f */
    int resume;          /* -a */
    uint64_t limit_kbps; /* -l: bandwidth limit in Kbit/s (0 = none) */
    mode_t umask_;
    ferry_resume rs;
    ferry_conn *conn; /* NULL: nothing to serve while the prompt waits */
} ferry_client;

/* ---- resume (resume.c) ---- */

/* Wait before reconnect attempt `attempt` (1-based): delay_ms doubled
 * per earlier failed attempt, at most 30 s. */
uint64_t ferry_resume_backoff_ms(int delay_ms, unsigned attempt);
/* After a failed operation: 1 if the connection had been lost and is
 * back (the caller repeats the operation, which must not reuse old
 * handles), 0 otherwise (not lost, Reconnect=no, -D, interrupted, or
 * given up after ReconnectAttempts: message printed). Prints
 * "Connection lost; reconnecting (attempt K of N)" per attempt. */
int ferry_resume_again(ferry_client *cl);
/* 1 when the session cannot go on: its connection is lost and will not
 * be rebuilt (Reconnect=no, -D, or ReconnectAttempts ran out). A
 * connection lost while the prompt waited, or found lost by a local
 * command, is not the end: the next remote command rebuilds it. */
int ferry_resume_over(const ferry_client *cl);
/* Outcome of checking a kept prefix before continuing a file. */
enum { FERRY_PREFIX_MISMATCH = 0, FERRY_PREFIX_OK = 1 };
/* Compares [0, n) of the remote file (handle opened with READ) with the
 * local fd. FERRY_PREFIX_OK (equal, or nothing to compare, or resumed by
 * size when the server offers no hash: warning printed),
 * FERRY_PREFIX_MISMATCH (different, or the server failed to hash it:
 * message printed, start over), or -1 (the session failed). The local
 * data is read from fd (never taken from a stream hash: the kept part
 * may have changed since it was written).
 * `name` is the name shown, `remote` the remote path. */
int ferry_resume_prefix(ferry_client *cl, const ferry_buf *h, int fd, uint64_t n, const char *name,
                        const char *remote);
/* Prints the "does not match" message; returns FERRY_PREFIX_MISMATCH. */
int ferry_resume_mismatch(const char *name);
/* Whole-file verification after the last byte (VerifyTransfers): each
 * job of v compared (by hash when offered); names[i] is shown for a
 * mismatch ("hash mismatch"). 0 if all equal or not verifiable (a server
 * error is a warning), -1 on a mismatch or when the session failed. */
int ferry_resume_verify(ferry_client *cl, ferry_sftpc_cmp *v, size_t n, const char *const *names);
/* What ferry_resume_verify says of comparisons already made
 * (r: what ferry_sftpc_compare or _compare_end returned). */
int ferry_resume_report(ferry_client *cl, ferry_sftpc_cmp *v, size_t n, const char *const *names,
                        int r);

/* Runs one command line; returns 0 on success, -1 on failure, 1 for
 * quit/bye/exit. */
int ferry_shell_run_line(ferry_client *cl, const char *line);
/* system(3) for !command and lls: `sh -c cmd`, SIGINT and SIGQUIT ignored
 * by ferry meanwhile; the connection is served while the command runs
 * (ServerAlive probes, keepalive replies, rekeying). The wait status, or
 * -1. */
int ferry_shell_system(ferry_client *cl, const char *cmd);
/* Batch mode: lines from fp ("-" prefix ignores failure, "@" suppresses
 * echo). Returns 0 if all commands succeeded. */
int ferry_shell_batch(ferry_client *cl, FILE *fp);
/* Interactive loop (libedit when available). */
int ferry_shell_interactive(ferry_client *cl);

/* Set by the SIGINT handler while a command runs; the pumps turn it into
 * ferry_sftpc_interrupt (checked and cleared by ferry_shell_check_interrupt). */
void ferry_shell_check_interrupt(ferry_sftpc *c);
/* Returns and clears a pending SIGINT (the reconnect backoff checks it). */
int ferry_shell_take_interrupt(void);

/* Splits a command line into words (quotes, backslash escapes), as
 * OpenSSH's sftp. Returns the number of words or -1 on bad quoting;
 * *argv is NULL-terminated, free with ferry_shell_free_argv. *quoted (may
 * be NULL) gets a parallel flags array: 1 when the word had quoting (so
 * it is not globbed). */
int ferry_shell_split(const char *line, char ***argv, int **quoted);
void ferry_shell_free_argv(char **argv, int *quoted);
/* Strips the batch prefixes: *ignore_err for '-', *no_echo for '@'.
 * Returns a pointer into line past prefixes and leading blanks. */
const char *ferry_shell_prefixes(const char *line, int *ignore_err, int *no_echo);

/* Command dispatch (cmds.c). argv[0] is the command name. */
int ferry_cmd_dispatch(ferry_client *cl, int argc, char **argv, const int *quoted);
/* Command names for completion: NULL-terminated static array. */
const char *const *ferry_cmd_names(void);

/* Remote path helpers. */
char *ferry_path_join(const char *dir, const char *name);
char *ferry_path_abs(const ferry_client *cl, const char *path);
const char *ferry_path_base(const char *path);

/* ---- globbing (glob.c) ---- */

/* Expands a remote pattern relative to cl->pwd. Results are absolute
 * unless the pattern was relative (then relative as written). With no
 * wildcard, the path itself is returned (existence not checked).
 * Returns the count (>= 0) or -1; free with ferry_glob_free. */
int ferry_glob_remote(ferry_client *cl, const char *pattern, char ***out);
/* Local glob(3); same conventions. */
int ferry_glob_local(const char *pattern, char ***out);
void ferry_glob_free(char **v, int n);
/* s without its backslash escapes: new heap string. */
char *ferry_glob_unescape(const char *s);
/* Non-zero if s has unescaped glob metacharacters. */
int ferry_glob_has_magic(const char *s);

/* ---- formatting (fmt.c) ---- */

/* Writes s with control characters and non-printables escaped (\ooo). */
void ferry_fmt_name(FILE *f, const char *s);
/* Returns a new string with the same escaping. */
char *ferry_fmt_escape(const char *s);
/* "ls -l"/"ls -n" style line for a remote entry without longname (or
 * always for -n: numeric ids) into out. si = sizes in human units. */
void ferry_fmt_long(char *out, size_t outsz, const char *name, const ferry_sftp_attrs *a,
                    int numeric, int si, const char *user, const char *group);
/* Mode string "drwxr-xr-x" (11 bytes incl. NUL). */
void ferry_fmt_mode(uint32_t mode, char out[11]);
/* Human size ("1.5K", "200M") as ls -h / df -h. */
void ferry_fmt_human(uint64_t v, char *out, size_t outsz);

/* ---- progress meter (progress.c) ---- */

typedef struct ferry_progress {
    int on;
    const char *name;
    uint64_t total, done, start_off;
    uint64_t limit_kbps; /* sleeps to stay under this rate (0 = none) */
    double t0, last;
} ferry_progress;

void ferry_progress_start(ferry_progress *p, int on, const char *name, uint64_t total,
                          uint64_t start);
/* ferry_sftpc_progress_fn. */
void ferry_progress_update(void *ctx, uint64_t bytes);
void ferry_progress_end(ferry_progress *p);

#endif
