/* config.h: ferryd's configuration (ferryd.conf(5), sshd_config style) and
 * the command-line overrides.
 *
 * The parser is table-driven: one row per keyword with its scope (global
 * or inside a "User NAME" block), a value parser and the field it fills.
 * Errors name "file:line". It only reads text; nothing here opens keys or
 * directories, so the parser can be unit-tested and fuzzed on its own. */
#ifndef FERRYD_CONFIG_H
#define FERRYD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "sftp/server.h"

#define FERRYD_MAX_LISTEN    16
#define FERRYD_MAX_HOST_KEYS 8
#define FERRYD_MAX_USERS     1024
#define FERRYD_MAX_KEYFILES  8

/* One "User NAME" block. Strings are heap-owned by the config. */
typedef struct ferryd_user_conf {
    char *name;
    char *root;
    /* AuthorizedKeysFile: up to FERRYD_MAX_KEYFILES paths, each may hold
     * glob(3) patterns (the quick mode uses ~/.ssh/ + "*.pub"); "~/" is expanded at load time. */
    char *keyfiles[FERRYD_MAX_KEYFILES];
    size_t n_keyfiles;
    char *password_hash; /* crypt(3) string, NULL = no password */
    char *principals_file; /* AuthorizedPrincipalsFile, NULL = the user's name */
    char *from;            /* From: source-address pattern-list, NULL = any */
    char *auth_methods;    /* AuthenticationMethods of this user, NULL = the global */
    enum ferry_sftp_mode mode;
    unsigned line; /* where the block starts (0 = from the command line) */
} ferryd_user_conf;

typedef struct ferryd_config {
    /* "ADDR:PORT" / "[v6]:PORT" / "ADDR" (then Port applies). */
    char *listen[FERRYD_MAX_LISTEN];
    size_t n_listen;
    unsigned port; /* default port, 22 unless Port is given */
    char *host_keys[FERRYD_MAX_HOST_KEYS];
    size_t n_host_keys;
    char *host_certs[FERRYD_MAX_HOST_KEYS]; /* HostCertificate: OpenSSH host certificates */
    size_t n_host_certs;
    /* Algorithm specs as written (OpenSSH +/-/^ syntax), NULL = default;
     * resolved by ferryd_config_algs. */
    char *kex_algs, *ciphers, *macs, *hostkey_algs, *pubkey_algs;
    char *ca_sig_algs;         /* CASignatureAlgorithms */
    unsigned max_auth_tries;   /* 0 = library default (6) */
    unsigned login_grace_time; /* seconds, 0 = none; default 120 */
    unsigned channel_timeout;  /* ChannelTimeout session=: seconds, 0 = none */
    unsigned unused_timeout;   /* UnusedConnectionTimeout: seconds, 0 = none */
    unsigned startups_begin;   /* MaxStartups start:rate:full */
    unsigned startups_rate;
    unsigned startups_full;
    unsigned per_source_max_startups; /* 0 = none */
    unsigned penalty_authfail;        /* PerSourcePenalties authfail:SECS, 0 = off */
    unsigned penalty_grace;           /* grace-exceeded:SECS, 0 = off */
    unsigned penalty_max;             /* max:SECS */
    unsigned max_sessions;            /* channels per connection; 0 = default */
    char *auth_methods;               /* NULL = any */
    int password_auth, pubkey_auth;   /* yes/no */
    int kbdint_auth;                  /* KbdInteractiveAuthentication, default no */
    unsigned client_alive_interval;   /* seconds, 0 = off */
    unsigned client_alive_count_max;  /* default 3 */
    int compression;                  /* Compression yes|delayed (zlib@openssh.com), default no */
    int log_level;                    /* FERRY_LOG_* */
    uint64_t rekey_bytes;             /* 0 = library default */
    uint64_t rekey_seconds;
    int atomic_uploads; /* default yes */
    int keep_partial;   /* KeepPartialUploads, default yes */
    char *service_user; /* ServiceUser: drop to it when root */
    char *audit_log;    /* AuditLog FILE, NULL = stderr only */
    /* TrustedUserCAKeys FILE: CA keys (authorized_keys format) whose user
     * certificates authenticate a user among their principals; NULL =
     * certificates refused */
    char *trusted_user_ca_keys;
    /* RevokedKeys FILE: keys (authorized_keys format) refused everywhere:
     * as user keys, certified keys and CAs; read at each connection */
    char *revoked_keys;
    /* AuthorizedKeysCommand (keyscmd.h), NULL = none; the User keyword is
     * taken and ignored (the command runs as the session's account) */
    char *keys_command;
    char *keys_command_user;
    char *principals_command; /* AuthorizedPrincipalsCommand, NULL = none */
    char *banner;             /* Banner: a file, NULL = none */
    ferryd_user_conf *users;
    size_t n_users;
} ferryd_config;

/* Resolved algorithm lists (heap strings, NULL = library default). */
typedef struct ferryd_algs {
    char *kex, *ciphers, *macs, *hostkey, *pubkey;
    char *ca_sig; /* CASignatureAlgorithms: the CA signatures user certificates may carry */
} ferryd_algs;

/* Fills *cfg with the defaults (OpenSSH's where they exist). */
void ferryd_config_init(ferryd_config *cfg);
/* Frees every string and user; the struct may be re-initialised. */
void ferryd_config_free(ferryd_config *cfg);

/* Parses configuration text (not NUL-terminated necessarily) into cfg,
 * adding to what is there. `fname` is used in messages. On error returns
 * FERRY_E_FORMAT (or ALLOC/TOO_LARGE) and writes "fname:line: why" to
 * err[errsz]. Values are checked for syntax only; algorithm names are
 * checked by ferryd_config_algs. */
int ferryd_config_parse(ferryd_config *cfg, const char *text, size_t len, const char *fname,
                        char *err, size_t errsz);
/* Reads the file and parses it (FERRY_E_NOT_FOUND if it cannot be read). */
int ferryd_config_load(ferryd_config *cfg, const char *path, char *err, size_t errsz);

/* The user block for `name`, or NULL. Borrowed from cfg. */
ferryd_user_conf *ferryd_config_user(ferryd_config *cfg, const char *name);
/* Finds or appends the user block for `name`. */
int ferryd_config_user_add(ferryd_config *cfg, const char *name, ferryd_user_conf **out);
/* Replaces *dst with a heap copy of src (NULL allowed). */
int ferryd_config_set_str(char **dst, const char *src);

/* Applies the OpenSSH +/-/^ list syntax of every algorithm keyword to the
 * library's defaults and supported lists. FERRY_E_NO_ALG_MATCH (with the
 * keyword in err) if a name is not supported. Free with ferryd_algs_free. */
int ferryd_config_algs(const ferryd_config *cfg, ferryd_algs *out, char *err, size_t errsz);
void ferryd_algs_free(ferryd_algs *a);

/* Splits "ADDR:PORT", "[v6]:PORT", "[v6]", "v6" or "ADDR" into host and
 * port (default_port when absent). FERRY_E_FORMAT on bad syntax. */
int ferryd_config_split_addr(const char *spec, unsigned default_port, char *host, size_t hostsz,
                             unsigned *port);

/* Mode names: "read-write", "read-only", "upload-only". */
int ferryd_config_mode_from_name(const char *name, enum ferry_sftp_mode *out);
const char *ferryd_config_mode_name(enum ferry_sftp_mode m);

#endif
