/* config.c: ferryd.conf(5) parser. Table-driven: each keyword row names
 * its scope, a value parser and the field it fills (by offset). The unit
 * test and the fuzzer #include this file (and keyscmd.c, which checks
 * AuthorizedKeysCommand), so it depends only on libferry. */
#include "config.h"
#include "keyscmd.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/conf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/names.h"

#define CONF_MAX_FILE (1024 * 1024)
#define CONF_MAX_LINE 8192

enum kw_scope { SCOPE_GLOBAL, SCOPE_USER, SCOPE_BLOCK };

struct kw;
typedef int (*kw_set_fn)(ferryd_config *cfg, void *field, const char *val, char *why, size_t whysz);

struct kw {
    const char *name;
    enum kw_scope scope;
    kw_set_fn set;
    size_t off; /* in ferryd_config (GLOBAL) or ferryd_user_conf (USER) */
};

void ferryd_config_init(ferryd_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->port = 22;
    cfg->login_grace_time = 120;
    cfg->startups_begin = 10;
    cfg->startups_rate = 30;
    cfg->startups_full = 100;
    cfg->per_source_max_startups = 10;
    cfg->penalty_authfail = 5;
    cfg->penalty_grace = 10;
    cfg->penalty_max = 600;
    cfg->password_auth = 1;
    cfg->pubkey_auth = 1;
    cfg->client_alive_count_max = 3;
    cfg->log_level = FERRY_LOG_INFO;
    cfg->atomic_uploads = 1;
    cfg->keep_partial = 1;
}

static void user_free(ferryd_user_conf *u)
{
    free(u->name);
    free(u->root);
    for (size_t i = 0; i < u->n_keyfiles; i++) {
        free(u->keyfiles[i]);
    }
    free(u->password_hash);
    free(u->principals_file);
    free(u->from);
    free(u->auth_methods);
}

void ferryd_config_free(ferryd_config *cfg)
{
    for (size_t i = 0; i < cfg->n_listen; i++) {
        free(cfg->listen[i]);
    }
    for (size_t i = 0; i < cfg->n_host_keys; i++) {
        free(cfg->host_keys[i]);
    }
    for (size_t i = 0; i < cfg->n_host_certs; i++) {
        free(cfg->host_certs[i]);
    }
    free(cfg->kex_algs);
    free(cfg->ciphers);
    free(cfg->macs);
    free(cfg->hostkey_algs);
    free(cfg->pubkey_algs);
    free(cfg->keys_command);
    free(cfg->keys_command_user);
    free(cfg->principals_command);
    free(cfg->banner);
    free(cfg->ca_sig_algs);
    free(cfg->auth_methods);
    free(cfg->service_user);
    free(cfg->audit_log);
    free(cfg->trusted_user_ca_keys);
    free(cfg->revoked_keys);
    for (size_t i = 0; i < cfg->n_users; i++) {
        user_free(&cfg->users[i]);
    }
    free(cfg->users);
    memset(cfg, 0, sizeof(*cfg));
}

int ferryd_config_set_str(char **dst, const char *src)
{
    char *copy = NULL;
    if (src != NULL) {
        copy = strdup(src);
        if (copy == NULL) {
            return FERRY_E_ALLOC;
        }
    }
    free(*dst);
    *dst = copy;
    return FERRY_OK;
}

ferryd_user_conf *ferryd_config_user(ferryd_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_users; i++) {
        if (strcmp(cfg->users[i].name, name) == 0) {
            return &cfg->users[i];
        }
    }
    return NULL;
}

int ferryd_config_user_add(ferryd_config *cfg, const char *name, ferryd_user_conf **out)
{
    ferryd_user_conf *u = ferryd_config_user(cfg, name);
    if (u != NULL) {
        *out = u;
        return FERRY_OK;
    }
    if (cfg->n_users >= FERRYD_MAX_USERS) {
        return FERRY_E_TOO_LARGE;
    }
    ferryd_user_conf *nu = realloc(cfg->users, (cfg->n_users + 1) * sizeof(*nu));
    if (nu == NULL) {
        return FERRY_E_ALLOC;
    }
    cfg->users = nu;
    u = &nu[cfg->n_users];
    memset(u, 0, sizeof(*u));
    u->name = strdup(name);
    if (u->name == NULL) {
        return FERRY_E_ALLOC;
    }
    cfg->n_users++;
    *out = u;
    return FERRY_OK;
}

/* ---- value parsers ---- */

static int why_set(char *why, size_t whysz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int why_set(char *why, size_t whysz, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whysz, fmt, ap);
    va_end(ap);
    return FERRY_E_FORMAT;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!isdigit((unsigned char)*s)) {
        return FERRY_E_FORMAT;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max) {
        return FERRY_E_FORMAT;
    }
    *out = v;
    return FERRY_OK;
}

static int set_str(ferryd_config *cfg, void *field, const char *val, char *why, size_t whysz)
{
    return ferryd_config_set_str((char **)field, val);
}

/* From: an address pattern-list as authorized_keys from= takes it
 * (comma-separated; *, ?, !negation, CIDR): no blanks, no empty entry. */
static int set_from(ferryd_config *cfg, void *field, const char *val, char *why, size_t whysz)
{
    size_t n = strlen(val);
    if (n == 0 || strpbrk(val, " \t\"") != NULL || val[0] == ',' || val[n - 1] == ',' ||
        strstr(val, ",,") != NULL) {
        snprintf(why, whysz, "not an address pattern-list");
        return FERRY_E_FORMAT;
    }
    return ferryd_config_set_str((char **)field, val);
}

/* AuthorizedKeysCommand / AuthorizedPrincipalsCommand: checked now
 * (words, tokens, an absolute path); "none" for none. */
static int set_cmd(char **field, const char *val, const char *what, const char *tokens, char *why,
                   size_t whysz)
{
    if (strcasecmp(val, "none") == 0) {
        return ferryd_config_set_str(field, NULL);
    }
    char reason[160];
    if (ferryd_cmd_check(val, tokens, reason, sizeof(reason)) != FERRY_OK) {
        return why_set(why, whysz, "%s: %s", what, reason);
    }
    return ferryd_config_set_str(field, val);
}

static int set_keyscmd(ferryd_config *cfg, void *field, const char *val, char *why, size_t whysz)
{
    return set_cmd((char **)field, val, "AuthorizedKeysCommand", FERRYD_KEYSCMD_TOKENS, why, whysz);
}

static int set_principalscmd(ferryd_config *cfg, void *field, const char *val, char *why,
                             size_t whysz)
{
    return set_cmd((char **)field, val, "AuthorizedPrincipalsCommand", FERRYD_PRINCIPALSCMD_TOKENS,
                   why, whysz);
}

/* A file, or "none" (sshd_config's word) for none: NULL. */
static int set_file(ferryd_config *cfg, void *field, const char *val, char *why, size_t whysz)
{
    return ferryd_config_set_str((char **)field, strcasecmp(val, "none") == 0 ? NULL : val);
}

static int set_uint(ferryd_config *cfg, void *field, const char *val, char *why, size_t whysz)
{
    uint64_t v;
    if (parse_u64(val, 1000000, &v) != FERRY_OK) {
        return why_set(why, whysz, "bad number \"%s\"", val);
    }
    *(unsigned *)field = (unsigned)v;
    return FERRY_OK;
}

static int set_port(ferryd_config *cfg, void *field, const char *val, char *why, size_t whysz)
{
    uint64_t v;
    if (parse_u64(val, 65535, &v) != FERRY_OK || v == 0) {
        return why_set(why, whysz, "bad port \"%s\"", val);
    }
    *(unsigned *)field = (unsigned)v;
    return FERRY_OK;
}

static int set_bool(ferryd_config *cfg, void *field, const char *val, char *why, size_t whysz)
{
    if (strcasecmp(val, "yes") == 0) {
        *(int *)field = 1;
    } else if (strcasecmp(val, "no") == 0) {
        *(int *)field = 0;
    } else {
        return why_set(why, whysz, "expected yes or no, not \"%s\"", val);
    }
    return FERRY_OK;
}

/* Compression: yes and delayed both mean zlib@openssh.com after
 * authentication (the only kind OpenSSH still has). */
static int set_compression(ferryd_config *cfg, void *field, const char *val, char *why,
                           size_t whysz)
{
    if (strcasecmp(val, "delayed") == 0) {
        val = "yes";
    }
    return set_bool(cfg, field, val, why, whysz);
}

/* A time (seconds, or with s/m/h/d/w units; "none" = 0), at most 30 days
 * (so that it fits a uint32 of milliseconds). */
static int set_time(ferryd_config *cfg, void *field, const char *val, char *why, size_t whysz)
{
    uint64_t v = 0;
    if (strcasecmp(val, "none") != 0 && (ferry_conf_time(val, &v) != FERRY_OK || v > 86400 * 30)) {
        return why_set(why, whysz, "bad time \"%s\"", val);
    }
    *(unsigned *)field = (unsigned)v;
    return FERRY_OK;
}

/* ChannelTimeout: "type=interval" pairs (sshd_config); the types are
 * patterns, and the first one matching "session" or
 * "session:subsystem:sftp" (what SFTP runs on) gives the interval; the
 * others (forwardings, agents: nothing ferryd has) are checked and
 * ignored. */
static int set_channel_timeout(ferryd_config *cfg, void *field, const char *val, char *why,
                               size_t whysz)
{
    char tmp[1024];
    int set = 0;
    if (strlen(val) >= sizeof(tmp)) {
        return why_set(why, whysz, "ChannelTimeout too long");
    }
    snprintf(tmp, sizeof(tmp), "%s", val);
    char *save = NULL;
    for (char *w = strtok_r(tmp, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(w, '=');
        unsigned secs = 0;
        if (eq == NULL || eq == w || set_time(cfg, &secs, eq + 1, why, whysz) != FERRY_OK) {
            return why_set(why, whysz, "ChannelTimeout: expected type=interval, not \"%s\"", w);
        }
        *eq = '\0';
        if (!set && (ferry_names_wildcard(w, "session") ||
                     ferry_names_wildcard(w, "session:subsystem:sftp"))) {
            *(unsigned *)field = secs;
            set = 1;
        }
    }
    return FERRY_OK;
}

/* Appends to a fixed array of strings; the field is the array, the count
 * follows it in the struct (checked by the table rows that use it). */
static int append_str(char **arr, size_t *n, size_t max, const char *val, char *why, size_t whysz)
{
    if (*n >= max) {
        return why_set(why, whysz, "too many values (at most %zu)", max);
    }
    arr[*n] = strdup(val);
    if (arr[*n] == NULL) {
        return FERRY_E_ALLOC;
    }
    (*n)++;
    return FERRY_OK;
}

static int set_listen(ferryd_config *cfg, void *field, const char *val, char *why, size_t whysz)
{
    char host[256];
    unsigned port;
    if (ferryd_config_split_addr(val, 22, host, sizeof(host), &port) != FERRY_OK) {
        return why_set(why, whysz, "bad address \"%s\"", val);
    }
    return append_str(cfg->listen, &cfg->n_listen, FERRYD_MAX_LISTEN, val, why, whysz);
}

static int set_hostkey(ferryd_config *cfg, void *field, const char *val, char *why, size_t whysz)
{
    return append_str(cfg->host_keys, &cfg->n_host_keys, FERRYD_MAX_HOST_KEYS, val, why, whysz);
}

static int set_hostcert(ferryd_config *cfg, void *field, const char *val, char *why, size_t whysz)
{
    return append_str(cfg->host_certs, &cfg->n_host_certs, FERRYD_MAX_HOST_KEYS, val, why, whysz);
}

static int set_startups(ferryd_config *cfg, void *field, const char *val, char *why, size_t whysz)
{
    unsigned a = 0, b = 100, c = 0;
    char tail;
    int n = sscanf(val, "%u:%u:%u%c", &a, &b, &c, &tail);
    if (n == 1 && strspn(val, "0123456789") == strlen(val)) {
        c = a; /* "10" alone: hard limit */
        b = 100;
    } else if (n != 3 || strspn(val, "0123456789:") != strlen(val)) {
        return why_set(why, whysz, "expected start:rate:full, not \"%s\"", val);
    }
    if (a == 0 || a > c || b > 100 || c > 100000) {
        return why_set(why, whysz, "need 0 < start <= full and rate <= 100");
    }
    cfg->startups_begin = a;
    cfg->startups_rate = b;
    cfg->startups_full = c;
    return FERRY_OK;
}

static int set_per_source(ferryd_config *cfg, void *field, const char *val, char *why, size_t whysz)
{
    if (strcasecmp(val, "none") == 0) {
        cfg->per_source_max_startups = 0;
        return FERRY_OK;
    }
    return set_uint(cfg, field, val, why, whysz);
}

/* PerSourcePenalties: "no" | "yes" | words "authfail:TIME"
 * "grace-exceeded:TIME" "max:TIME". */
static int set_penalties(ferryd_config *cfg, void *field, const char *val, char *why, size_t whysz)
{
    if (strcasecmp(val, "no") == 0) {
        cfg->penalty_authfail = 0;
        cfg->penalty_grace = 0;
        return FERRY_OK;
    }
    if (strcasecmp(val, "yes") == 0) {
        return FERRY_OK;
    }
    char tmp[256];
    if (strlen(val) >= sizeof(tmp)) {
        return why_set(why, whysz, "value too long");
    }
    strcpy(tmp, val);
    char *save = NULL;
    for (char *w = strtok_r(tmp, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
        char *colon = strchr(w, ':');
        uint64_t t;
        if (colon == NULL || ferry_conf_time(colon + 1, &t) != FERRY_OK) {
            return why_set(why, whysz,
                           "expected authfail:, grace-exceeded: or max:TIME, not \"%s\"", w);
        }
        *colon = '\0';
        if (strcasecmp(w, "authfail") == 0) {
            cfg->penalty_authfail = (unsigned)t;
        } else if (strcasecmp(w, "grace-exceeded") == 0) {
            cfg->penalty_grace = (unsigned)t;
        } else if (strcasecmp(w, "max") == 0) {
            cfg->penalty_max = (unsigned)t;
        } else {
            return why_set(why, whysz, "unknown penalty \"%s\"", w);
        }
    }
    return FERRY_OK;
}

/* AuthenticationMethods, global or a user's ("any": no list of its own). */
static int set_auth_methods(ferryd_config *cfg, void *field, const char *val, char *why,
                            size_t whysz)
{
    if (strcasecmp(val, "any") == 0) {
        return ferryd_config_set_str((char **)field, NULL);
    }
    if (ferry_auth_methods_valid(val) != FERRY_OK) {
        return why_set(why, whysz, "bad AuthenticationMethods \"%s\"", val);
    }
    return ferryd_config_set_str((char **)field, val);
}

static const struct {
    const char *name;
    int level;
} log_levels[] = {
    {"QUIET", FERRY_LOG_ERROR},  {"FATAL", FERRY_LOG_ERROR},  {"ERROR", FERRY_LOG_ERROR},
    {"INFO", FERRY_LOG_INFO},    {"VERBOSE", FERRY_LOG_INFO}, {"DEBUG", FERRY_LOG_DEBUG},
    {"DEBUG1", FERRY_LOG_DEBUG}, {"DEBUG2", FERRY_LOG_TRACE}, {"DEBUG3", FERRY_LOG_TRACE},
};

static int set_loglevel(ferryd_config *cfg, void *field, const char *val, char *why, size_t whysz)
{
    for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++) {
        if (strcasecmp(val, log_levels[i].name) == 0) {
            cfg->log_level = log_levels[i].level;
            return FERRY_OK;
        }
    }
    return why_set(why, whysz, "unknown LogLevel \"%s\"", val);
}

/* RekeyLimit SIZE|default|none [TIME|none]. */
static int set_rekey(ferryd_config *cfg, void *field, const char *val, char *why, size_t whysz)
{
    (void)field;
    if (ferry_conf_rekey_limit(val, &cfg->rekey_bytes, &cfg->rekey_seconds) != FERRY_OK) {
        return why_set(why, whysz, "bad RekeyLimit \"%s\" (expected SIZE [TIME])", val);
    }
    return FERRY_OK;
}

static int set_mode(ferryd_config *cfg, void *field, const char *val, char *why, size_t whysz)
{
    if (ferryd_config_mode_from_name(val, (enum ferry_sftp_mode *)field) != FERRY_OK) {
        return why_set(why, whysz, "Mode must be read-write, read-only or upload-only");
    }
    return FERRY_OK;
}

/* Space-separated words with "double quotes" for paths with spaces. */
static int set_keyfiles(ferryd_config *cfg, void *field, const char *val, char *why, size_t whysz)
{
    ferryd_user_conf *u = field;
    const char *p = val;
    char word[CONF_MAX_LINE];
    while (*p != '\0') {
        size_t n = 0;
        if (*p == '"') {
            const char *q = strchr(p + 1, '"');
            if (q == NULL) {
                return why_set(why, whysz, "unterminated quote");
            }
            n = (size_t)(q - p - 1);
            memcpy(word, p + 1, n);
            p = q + 1;
        } else {
            n = strcspn(p, " \t");
            memcpy(word, p, n);
            p += n;
        }
        word[n] = '\0';
        int r = append_str(u->keyfiles, &u->n_keyfiles, FERRYD_MAX_KEYFILES, word, why, whysz);
        if (r != FERRY_OK) {
            return r;
        }
        p += strspn(p, " \t");
    }
    return FERRY_OK;
}

#define G(name, fn, field)                                                                         \
    {                                                                                              \
        name, SCOPE_GLOBAL, fn, offsetof(ferryd_config, field)                                     \
    }
#define U(name, fn, field)                                                                         \
    {                                                                                              \
        name, SCOPE_USER, fn, offsetof(ferryd_user_conf, field)                                    \
    }

static const struct kw keywords[] = {
    G("ListenAddress", set_listen, listen),
    G("Port", set_port, port),
    G("HostKey", set_hostkey, host_keys),
    G("HostCertificate", set_hostcert, host_certs),
    G("KexAlgorithms", set_str, kex_algs),
    G("Ciphers", set_str, ciphers),
    G("MACs", set_str, macs),
    G("HostKeyAlgorithms", set_str, hostkey_algs),
    G("PubkeyAcceptedAlgorithms", set_str, pubkey_algs),
    G("PubkeyAcceptedKeyTypes", set_str, pubkey_algs),
    G("CASignatureAlgorithms", set_str, ca_sig_algs),
    G("MaxAuthTries", set_uint, max_auth_tries),
    G("LoginGraceTime", set_time, login_grace_time),
    G("ChannelTimeout", set_channel_timeout, channel_timeout),
    G("UnusedConnectionTimeout", set_time, unused_timeout),
    G("MaxStartups", set_startups, startups_begin),
    G("PerSourceMaxStartups", set_per_source, per_source_max_startups),
    G("PerSourcePenalties", set_penalties, penalty_authfail),
    G("MaxSessions", set_uint, max_sessions),
    G("AuthenticationMethods", set_auth_methods, auth_methods),
    G("PasswordAuthentication", set_bool, password_auth),
    G("PubkeyAuthentication", set_bool, pubkey_auth),
    G("KbdInteractiveAuthentication", set_bool, kbdint_auth),
    G("ClientAliveInterval", set_time, client_alive_interval),
    G("ClientAliveCountMax", set_uint, client_alive_count_max),
    G("Compression", set_compression, compression),
    G("LogLevel", set_loglevel, log_level),
    G("RekeyLimit", set_rekey, rekey_bytes),
    G("AtomicUploads", set_bool, atomic_uploads),
    G("KeepPartialUploads", set_bool, keep_partial),
    G("ServiceUser", set_str, service_user),
    G("AuditLog", set_str, audit_log),
    G("TrustedUserCAKeys", set_file, trusted_user_ca_keys),
    G("RevokedKeys", set_file, revoked_keys),
    G("Banner", set_file, banner),
    G("AuthorizedKeysCommand", set_keyscmd, keys_command),
    G("AuthorizedKeysCommandUser", set_str, keys_command_user),
    G("AuthorizedPrincipalsCommand", set_principalscmd, principals_command),
    G("AuthorizedPrincipalsCommandUser", set_str, keys_command_user),
    {"User", SCOPE_BLOCK, NULL, 0},
    U("Root", set_str, root),
    U("AuthorizedKeysFile", set_keyfiles, name),
    U("PasswordHash", set_str, password_hash),
    U("AuthorizedPrincipalsFile", set_str, principals_file),
    U("Mode", set_mode, mode),
    U("From", set_from, from),
    U("AuthenticationMethods", set_auth_methods, auth_methods),
};

#undef G
#undef U

/* The keyword `name`; one that is both global and a user's
 * (AuthenticationMethods) is taken in the scope the line is in. */
static const struct kw *kw_find(const char *name, int in_user)
{
    const struct kw *found = NULL;
    for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
        if (strcasecmp(keywords[i].name, name) != 0) {
            continue;
        }
        if (found == NULL || (keywords[i].scope == SCOPE_USER) == in_user) {
            found = &keywords[i];
        }
    }
    return found;
}

/* Strips one pair of surrounding double quotes, in place. */
static char *unquote(char *v)
{
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v[n - 1] = '\0';
        return v + 1;
    }
    return v;
}

static int valid_user_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[0] == '-') {
        return 0;
    }
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@") == n;
}

struct parse_state {
    ferryd_config *cfg;
    ferryd_user_conf *user; /* current User block or NULL */
    size_t user_idx;
};

/* Handles one keyword/value pair. */
static int parse_pair(struct parse_state *st, const char *key, char *val, char *why, size_t whysz)
{
    const struct kw *k = kw_find(key, st->user != NULL);
    if (k == NULL && strcasecmp(key, "Match") == 0) {
        return why_set(why, whysz, "Match blocks are not supported: use \"User NAME\" blocks");
    }
    if (k == NULL) {
        return why_set(why, whysz, "unknown keyword \"%s\"", key);
    }
    if (*val == '\0') {
        return why_set(why, whysz, "%s needs a value", k->name);
    }
    if (k->scope == SCOPE_BLOCK) {
        val = unquote(val);
        if (!valid_user_name(val)) {
            return why_set(why, whysz, "bad user name \"%s\"", val);
        }
        ferryd_user_conf *u = NULL;
        int r = ferryd_config_user_add(st->cfg, val, &u);
        if (r != FERRY_OK) {
            return r == FERRY_E_TOO_LARGE ? why_set(why, whysz, "too many users") : r;
        }
        st->user = u;
        st->user_idx = (size_t)(u - st->cfg->users);
        return FERRY_OK;
    }
    if (k->scope == SCOPE_GLOBAL && st->user != NULL) {
        return why_set(why, whysz, "%s is not allowed inside a User block", k->name);
    }
    if (k->scope == SCOPE_USER && st->user == NULL) {
        return why_set(why, whysz, "%s is only allowed inside a User block", k->name);
    }
    if (k->set == set_keyfiles) {
        return set_keyfiles(st->cfg, st->user, val, why, whysz);
    }
    char *base = k->scope == SCOPE_USER ? (char *)st->user : (char *)st->cfg;
    return k->set(st->cfg, base + k->off, unquote(val), why, whysz);
}

/* Splits a line into keyword and value ("Key value", "Key=value",
 * "Key = value"); strips comments and trailing blanks. Returns 0 for an
 * empty line. */
static int split_line(char *line, char **key, char **val)
{
    char *p = line + strspn(line, " \t");
    if (*p == '\0' || *p == '#') {
        return 0;
    }
    *key = p;
    p += strcspn(p, " \t=");
    char sep = *p;
    if (*p != '\0') {
        *p++ = '\0';
    }
    p += strspn(p, " \t");
    if (sep != '=' && *p == '=') {
        p++;
        p += strspn(p, " \t");
    }
    /* A '#' starting a word begins a comment (sshd_config allows # in values otherwise). */
    for (char *c = p; *c != '\0'; c++) {
        if (*c == '#' && (c == p || c[-1] == ' ' || c[-1] == '\t')) {
            *c = '\0';
            break;
        }
    }
    size_t n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r')) {
        p[--n] = '\0';
    }
    *val = p;
    return 1;
}

int ferryd_config_parse(ferryd_config *cfg, const char *text, size_t len, const char *fname,
                        char *err, size_t errsz)
{
    struct parse_state st = {.cfg = cfg};
    char line[CONF_MAX_LINE + 1];
    char why[256];
    unsigned lineno = 0;
    size_t pos = 0;
    if (len > CONF_MAX_FILE) {
        snprintf(err, errsz, "%s: file too large", fname);
        return FERRY_E_TOO_LARGE;
    }
    while (pos < len) {
        lineno++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
        if (n > CONF_MAX_LINE || memchr(text + pos, '\0', n) != NULL) {
            snprintf(err, errsz, "%s:%u: line too long or contains NUL", fname, lineno);
            return FERRY_E_FORMAT;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += n + (nl != NULL ? 1 : 0);
        char *key = NULL, *val = NULL;
        if (!split_line(line, &key, &val)) {
            continue;
        }
        /* st.user may move when users[] grows: re-derive it by index. */
        st.user = st.user != NULL ? &cfg->users[st.user_idx] : NULL;
        why[0] = '\0';
        int r = parse_pair(&st, key, val, why, sizeof(why));
        if (r != FERRY_OK) {
            snprintf(err, errsz, "%s:%u: %s", fname, lineno, why[0] ? why : ferry_strerror(r));
            return r;
        }
        if (st.user != NULL && st.user->line == 0) {
            st.user->line = lineno;
        }
    }
    return FERRY_OK;
}

int ferryd_config_load(ferryd_config *cfg, const char *path, char *err, size_t errsz)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        return FERRY_E_NOT_FOUND;
    }
    char *text = malloc(CONF_MAX_FILE + 1);
    if (text == NULL) {
        fclose(f);
        return FERRY_E_ALLOC;
    }
    size_t n = fread(text, 1, CONF_MAX_FILE + 1, f);
    int bad = ferror(f);
    fclose(f);
    int r;
    if (bad) {
        snprintf(err, errsz, "%s: read error", path);
        r = FERRY_E_SYSTEM;
    } else {
        r = ferryd_config_parse(cfg, text, n, path, err, errsz);
    }
    free(text);
    return r;
}

/* ---- helpers ---- */

static int copy_host(const char *p, size_t n, char *host, size_t hostsz)
{
    if (n == 0 || n >= hostsz) {
        return FERRY_E_FORMAT;
    }
    memcpy(host, p, n);
    host[n] = '\0';
    return FERRY_OK;
}

static int parse_port(const char *s, unsigned *port)
{
    uint64_t v;
    if (parse_u64(s, 65535, &v) != FERRY_OK) {
        return FERRY_E_FORMAT;
    }
    *port = (unsigned)v;
    return FERRY_OK;
}

int ferryd_config_split_addr(const char *spec, unsigned default_port, char *host, size_t hostsz,
                             unsigned *port)
{
    *port = default_port;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (close == NULL || copy_host(spec + 1, (size_t)(close - spec - 1), host, hostsz)) {
            return FERRY_E_FORMAT;
        }
        if (close[1] == '\0') {
            return FERRY_OK;
        }
        return close[1] == ':' ? parse_port(close + 2, port) : FERRY_E_FORMAT;
    }
    const char *colon = strchr(spec, ':');
    if (colon != NULL && strchr(colon + 1, ':') != NULL) {
        return copy_host(spec, strlen(spec), host, hostsz); /* bare IPv6 */
    }
    if (colon == NULL) {
        return copy_host(spec, strlen(spec), host, hostsz);
    }
    if (copy_host(spec, (size_t)(colon - spec), host, hostsz) != FERRY_OK) {
        return FERRY_E_FORMAT;
    }
    return parse_port(colon + 1, port);
}

static const char *const mode_names[] = {
    [FERRY_SFTP_READ_WRITE] = "read-write",
    [FERRY_SFTP_READ_ONLY] = "read-only",
    [FERRY_SFTP_UPLOAD_ONLY] = "upload-only",
};

int ferryd_config_mode_from_name(const char *name, enum ferry_sftp_mode *out)
{
    for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
        if (strcasecmp(name, mode_names[i]) == 0) {
            *out = (enum ferry_sftp_mode)i;
            return FERRY_OK;
        }
    }
    return FERRY_E_FORMAT;
}

const char *ferryd_config_mode_name(enum ferry_sftp_mode m)
{
    if ((size_t)m < sizeof(mode_names) / sizeof(mode_names[0])) {
        return mode_names[m];
    }
    return "?";
}
