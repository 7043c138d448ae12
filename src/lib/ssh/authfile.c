/* authfile.c: authorized_keys and known_hosts (sshd(8) AUTHORIZED_KEYS
 * FILE FORMAT and SSH_KNOWN_HOSTS FILE FORMAT).
 *
 * Both are line formats read from text in memory; a bad line is skipped,
 * never fatal. Lines longer than AUTHFILE_LINE_MAX are skipped.
 */
#include "ssh/authfile.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/names.h"

#define AUTHFILE_LINE_MAX 8192
#define AUTHFILE_FILE_MAX (16u * 1024 * 1024)
#define AUTHKEYS_MAX_KEYS 100000
#define KH_SALT_LEN       20 /* SHA-1 block of HMAC output; OpenSSH's salt size */

/* ---- shared helpers ---- */

/* Calls fn on each line of text (without its newline) with its 1-based
 * number; over-long lines are counted in *skipped and not passed. */
typedef int (*line_fn)(void *ctx, const char *line, size_t lineno);

static int for_each_line(const char *text, size_t len, line_fn fn, void *ctx, size_t *skipped)
{
    char *line = malloc(AUTHFILE_LINE_MAX + 1);
    if (line == NULL) {
        return FERRY_E_ALLOC;
    }
    size_t off = 0, lineno = 0;
    int r = FERRY_OK;
    while (off < len && r == FERRY_OK) {
        const char *nl = memchr(text + off, '\n', len - off);
        size_t n = nl ? (size_t)(nl - (text + off)) : len - off;
        lineno++;
        if (n > 0 && text[off + n - 1] == '\r') {
            n--;
        }
        if (n > AUTHFILE_LINE_MAX || memchr(text + off, '\0', n) != NULL) {
            (*skipped)++;
        } else {
            memcpy(line, text + off, n);
            line[n] = '\0';
            r = fn(ctx, line, lineno);
        }
        off = nl ? (size_t)(nl - text) + 1 : len;
    }
    free(line);
    return r;
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    return p;
}

static int errno_err(int e)
{
    if (e == ENOENT) {
        return FERRY_E_NOT_FOUND;
    }
    if (e == EACCES || e == EPERM) {
        return FERRY_E_PERMISSION;
    }
    return ferry_err_sys();
}

int ferry_authfile_slurp(const char *path, size_t max, char **out, size_t *outlen)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        return errno_err(errno);
    }
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    int r = b ? FERRY_OK : FERRY_E_ALLOC;
    while (r == FERRY_OK) {
        if (n == cap) {
            char *nb = cap >= max ? NULL : realloc(b, cap * 2);
            if (nb == NULL) {
                r = cap >= max ? FERRY_E_TOO_LARGE : FERRY_E_ALLOC;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            r = ferror(f) ? ferry_err_sys() : FERRY_OK;
            break;
        }
    }
    fclose(f);
    if (r != FERRY_OK) {
        free(b);
        return r;
    }
    *out = b;
    *outlen = n;
    return FERRY_OK;
}

/* ---- addresses and from= ---- */

struct addr {
    int family;
    uint8_t a[16];
};

/* Parses a textual address; an IPv4-mapped IPv6 address becomes IPv4. */
static int addr_parse(const char *s, struct addr *out)
{
    if (inet_pton(AF_INET, s, out->a) == 1) {
        out->family = AF_INET;
        return 1;
    }
    if (inet_pton(AF_INET6, s, out->a) != 1) {
        return 0;
    }
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(out->a, mapped, 12) == 0) {
        memmove(out->a, out->a + 12, 4);
        out->family = AF_INET;
    } else {
        out->family = AF_INET6;
    }
    return 1;
}

/* 1 if addr is in "net/bits", 0 if not, -1 if the pattern is malformed. */
static int cidr_match(const struct addr *addr, const char *pat, size_t plen)
{
    char buf[64];
    if (plen >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, pat, plen);
    buf[plen] = '\0';
    char *slash = strchr(buf, '/');
    *slash = '\0';
    char *end = NULL;
    errno = 0;
    long bits = strtol(slash + 1, &end, 10);
    struct addr net;
    if (slash[1] == '\0' || *end != '\0' || errno != 0 || !addr_parse(buf, &net)) {
        return -1;
    }
    int maxbits = net.family == AF_INET ? 32 : 128;
    if (bits < 0 || bits > maxbits) {
        return -1;
    }
    if (addr->family != net.family) {
        return 0;
    }
    size_t full = (size_t)bits / 8, rest = (size_t)bits % 8;
    if (memcmp(addr->a, net.a, full) != 0) {
        return 0;
    }
    if (rest == 0) {
        return 1;
    }
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (addr->a[full] & mask) == (net.a[full] & mask);
}

/* OpenSSH pattern-list semantics: a matching negated element denies at
 * once; otherwise any matching positive element admits. Returns 1 (admit)
 * or 0 (deny). */
int ferry_addr_list_admits(const char *list, const char *addrtext)
{
    struct addr addr;
    if (addrtext == NULL || !addr_parse(addrtext, &addr)) {
        return 0;
    }
    char canon[INET6_ADDRSTRLEN];
    if (inet_ntop(addr.family, addr.a, canon, sizeof(canon)) == NULL) {
        return 0;
    }
    int admit = 0;
    for (const char *p = list; *p != '\0';) {
        size_t n = strcspn(p, ",");
        int neg = p[0] == '!';
        const char *pat = p + neg;
        size_t plen = n - (size_t)neg;
        int m;
        if (memchr(pat, '/', plen) != NULL) {
            m = cidr_match(&addr, pat, plen);
            if (m < 0) {
                return 0; /* malformed CIDR: refuse, as OpenSSH does */
            }
        } else {
            m = ferry_names_wildcard_n(pat, plen, canon, 1) ||
                ferry_names_wildcard_n(pat, plen, addrtext, 1);
        }
        if (m && neg) {
            return 0;
        }
        admit |= m;
        p += n + (p[n] == ',');
    }
    return admit;
}

/* ---- authorized_keys ---- */

struct authkey {
    ferry_key *key;
    ferry_authkey_opts opts;
    char *from;    /* from= pattern-list, NULL if none */
    time_t expiry; /* 0 = none */
    int cert_authority; /* cert-authority: a CA for user certificates */
    char *principals;   /* principals= of a cert-authority line, NULL if none */
};

static void authkey_clear(struct authkey *e)
{
    ferry_key_free(e->key);
    free(e->from);
    free(e->principals);
}

struct ferry_authkeys {
    struct authkey *v;
    size_t n, cap;
};

static int parse_expiry(const char *v, time_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    size_t n = strlen(v);
    int utc = n > 0 && (v[n - 1] == 'Z' || v[n - 1] == 'z');
    n -= (size_t)utc;
    if (n != 8 && n != 12 && n != 14) {
        return FERRY_E_FORMAT;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)v[i])) {
            return FERRY_E_FORMAT;
        }
    }
    int f[6] = {0};
    static const size_t w[6] = {4, 2, 2, 2, 2, 2};
    for (size_t i = 0, off = 0; i < 6 && off < n; off += w[i], i++) {
        for (size_t j = 0; j < w[i]; j++) {
            f[i] = f[i] * 10 + (v[off + j] - '0');
        }
    }
    tm.tm_year = f[0] - 1900;
    tm.tm_mon = f[1] - 1;
    tm.tm_mday = f[2];
    tm.tm_hour = f[3];
    tm.tm_min = f[4];
    tm.tm_sec = f[5];
    tm.tm_isdst = -1;
    if (f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 || f[5] > 60) {
        return FERRY_E_FORMAT;
    }
    *out = utc ? timegm(&tm) : mktime(&tm);
    return *out == (time_t)-1 ? FERRY_E_FORMAT : FERRY_OK;
}

enum opt_kind { OPT_FLAG, OPT_VALUE };

struct opt_def {
    const char *name;
    enum opt_kind kind;
    /* Applies the option; returns FERRY_OK, or an error to skip the line. */
    int (*apply)(struct authkey *ak, const char *value, int on);
    int on;
};

static int opt_restrict(struct authkey *ak, const char *v, int on)
{
    ferry_authkey_opts *o = &ak->opts;
    o->restrict_ = 1;
    o->no_pty = o->no_port_forwarding = o->no_agent_forwarding = o->no_x11_forwarding = 1;
    return FERRY_OK;
}

static int opt_pty(struct authkey *ak, const char *v, int on)
{
    ak->opts.no_pty = on;
    return FERRY_OK;
}

static int opt_portfwd(struct authkey *ak, const char *v, int on)
{
    ak->opts.no_port_forwarding = on;
    return FERRY_OK;
}

static int opt_agentfwd(struct authkey *ak, const char *v, int on)
{
    ak->opts.no_agent_forwarding = on;
    return FERRY_OK;
}

static int opt_x11(struct authkey *ak, const char *v, int on)
{
    ak->opts.no_x11_forwarding = on;
    return FERRY_OK;
}

static int opt_ignore(struct authkey *ak, const char *v, int on)
{
    return FERRY_OK;
}

static int opt_ca(struct authkey *ak, const char *v, int on)
{
    ak->cert_authority = 1;
    return FERRY_OK;
}

/* A list-valued option (from=, principals=): given once, not empty. */
static int set_once(char **field, const char *v)
{
    if (*field != NULL || v[0] == '\0') {
        return FERRY_E_FORMAT;
    }
    *field = strdup(v);
    return *field ? FERRY_OK : FERRY_E_ALLOC;
}

static int opt_principals(struct authkey *ak, const char *v, int on)
{
    return set_once(&ak->principals, v);
}

static int opt_command(struct authkey *ak, const char *v, int on)
{
    size_t n = strlen(v);
    if (n >= sizeof(ak->opts.command)) {
        return FERRY_E_TOO_LARGE;
    }
    memcpy(ak->opts.command, v, n + 1);
    return FERRY_OK;
}

static int opt_from(struct authkey *ak, const char *v, int on)
{
    return set_once(&ak->from, v);
}

static int opt_expiry(struct authkey *ak, const char *v, int on)
{
    time_t t;
    int r = parse_expiry(v, &t);
    if (r == FERRY_OK && (ak->expiry == 0 || t < ak->expiry)) {
        ak->expiry = t;
    }
    return r;
}

/* sshd(8) AUTHORIZED_KEYS FILE FORMAT. Forwarding/pty/environment options
 * mean nothing to an SFTP-only server: recorded or accepted and ignored. */
static const struct opt_def opt_defs[] = {
    {"restrict", OPT_FLAG, opt_restrict, 1},
    {"no-pty", OPT_FLAG, opt_pty, 1},
    {"pty", OPT_FLAG, opt_pty, 0},
    {"no-port-forwarding", OPT_FLAG, opt_portfwd, 1},
    {"port-forwarding", OPT_FLAG, opt_portfwd, 0},
    {"no-agent-forwarding", OPT_FLAG, opt_agentfwd, 1},
    {"agent-forwarding", OPT_FLAG, opt_agentfwd, 0},
    {"no-x11-forwarding", OPT_FLAG, opt_x11, 1},
    {"x11-forwarding", OPT_FLAG, opt_x11, 0},
    {"no-user-rc", OPT_FLAG, opt_ignore, 1},
    {"user-rc", OPT_FLAG, opt_ignore, 0},
    {"no-touch-required", OPT_FLAG, opt_ignore, 0},
    {"verify-required", OPT_FLAG, opt_ignore, 0},
    {"cert-authority", OPT_FLAG, opt_ca, 0},
    {"command", OPT_VALUE, opt_command, 0},
    {"from", OPT_VALUE, opt_from, 0},
    {"expiry-time", OPT_VALUE, opt_expiry, 0},
    {"environment", OPT_VALUE, opt_ignore, 0},
    {"permitopen", OPT_VALUE, opt_ignore, 0},
    {"permitlisten", OPT_VALUE, opt_ignore, 0},
    {"principals", OPT_VALUE, opt_principals, 0},
    {"tunnel", OPT_VALUE, opt_ignore, 0},
};

static const struct opt_def *opt_find(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof(opt_defs) / sizeof(opt_defs[0]); i++) {
        if (strlen(opt_defs[i].name) == n && strncasecmp(opt_defs[i].name, name, n) == 0) {
            return &opt_defs[i];
        }
    }
    return NULL;
}

/* Reads a quoted value at *pp (just after '"') into val (unescaping \"),
 * leaving *pp after the closing quote. */
static int read_quoted(const char **pp, char *val, size_t valsz)
{
    const char *p = *pp;
    size_t n = 0;
    for (; *p != '"'; p++) {
        if (*p == '\0' || n + 1 >= valsz) {
            return FERRY_E_FORMAT;
        }
        if (p[0] == '\\' && p[1] == '"') {
            p++;
        }
        val[n++] = *p;
    }
    val[n] = '\0';
    *pp = p + 1;
    return FERRY_OK;
}

/* Parses the options field at *pp, leaving *pp at the key type. */
static int parse_options(const char **pp, struct authkey *ak, char *val, size_t valsz)
{
    const char *p = *pp;
    for (;;) {
        size_t n = strcspn(p, "=, \t");
        const struct opt_def *od = opt_find(p, n);
        if (od == NULL) {
            return FERRY_E_FORMAT; /* unknown option: line unusable */
        }
        p += n;
        val[0] = '\0';
        if (od->kind == OPT_VALUE) {
            if (p[0] != '=' || p[1] != '"') {
                return FERRY_E_FORMAT;
            }
            p += 2;
            if (read_quoted(&p, val, valsz) != FERRY_OK) {
                return FERRY_E_FORMAT;
            }
        } else if (*p == '=') {
            return FERRY_E_FORMAT;
        }
        int r = od->apply(ak, val, od->on);
        if (r != FERRY_OK) {
            return r;
        }
        if (*p != ',') {
            break;
        }
        p++;
    }
    if (*p != ' ' && *p != '\t') {
        return FERRY_E_FORMAT;
    }
    *pp = skip_ws(p);
    return FERRY_OK;
}

static int authkeys_push(ferry_authkeys *ak, struct authkey *e)
{
    if (ak->n == ak->cap) {
        size_t ncap = ak->cap ? ak->cap * 2 : 16;
        if (ncap > AUTHKEYS_MAX_KEYS) {
            return FERRY_E_LIMIT;
        }
        struct authkey *nv = realloc(ak->v, ncap * sizeof(*nv));
        if (nv == NULL) {
            return FERRY_E_ALLOC;
        }
        ak->v = nv;
        ak->cap = ncap;
    }
    ak->v[ak->n++] = *e;
    return FERRY_OK;
}

struct parse_ctx {
    ferry_authkeys *ak;
    size_t skipped;
    char *val; /* scratch for option values */
};

/* 1 if the first word of p is a key type name we know. */
static int starts_with_keytype(const char *p)
{
    char word[32];
    size_t n = strcspn(p, " \t");
    if (n == 0 || n >= sizeof(word)) {
        return 0;
    }
    memcpy(word, p, n);
    word[n] = '\0';
    return ferry_key_type_from_name(word) != FERRY_KEY_UNKNOWN && strncmp(word, "rsa-sha2", 8);
}

static int authkeys_line(void *vctx, const char *line, size_t lineno)
{
    struct parse_ctx *ctx = vctx;
    const char *p = skip_ws(line);
    if (*p == '\0' || *p == '#') {
        return FERRY_OK;
    }
    struct authkey e;
    memset(&e, 0, sizeof(e));
    int r = FERRY_OK;
    if (!starts_with_keytype(p)) {
        r = parse_options(&p, &e, ctx->val, AUTHFILE_LINE_MAX + 1);
    }
    if (r == FERRY_OK) {
        r = ferry_key_parse_public_line(p, &e.key, NULL);
    }
    if (r == FERRY_OK) {
        r = authkeys_push(ctx->ak, &e);
        if (r == FERRY_E_ALLOC) {
            authkey_clear(&e);
            return r;
        }
    }
    if (r != FERRY_OK) {
        authkey_clear(&e);
        ctx->skipped++;
    }
    return FERRY_OK;
}

int ferry_authkeys_parse(const char *text, size_t len, ferry_authkeys **out, size_t *skipped)
{
    struct parse_ctx ctx = {.ak = calloc(1, sizeof(ferry_authkeys)),
                            .val = malloc(AUTHFILE_LINE_MAX + 1)};
    int r = FERRY_E_ALLOC;
    if (ctx.ak != NULL && ctx.val != NULL) {
        r = for_each_line(text, len, authkeys_line, &ctx, &ctx.skipped);
    }
    free(ctx.val);
    if (r != FERRY_OK) {
        ferry_authkeys_free(ctx.ak);
        return r;
    }
    if (skipped != NULL) {
        *skipped = ctx.skipped;
    }
    *out = ctx.ak;
    return FERRY_OK;
}

int ferry_authkeys_load(const char *path, ferry_authkeys **out, size_t *skipped)
{
    char *text = NULL;
    size_t len = 0;
    int r = ferry_authfile_slurp(path, AUTHFILE_FILE_MAX, &text, &len);
    if (r != FERRY_OK) {
        return r;
    }
    r = ferry_authkeys_parse(text, len, out, skipped);
    free(text);
    return r;
}

void ferry_authkeys_free(ferry_authkeys *ak)
{
    if (ak == NULL) {
        return;
    }
    for (size_t i = 0; i < ak->n; i++) {
        authkey_clear(&ak->v[i]);
    }
    free(ak->v);
    free(ak);
}

size_t ferry_authkeys_count(const ferry_authkeys *ak)
{
    return ak ? ak->n : 0;
}

/* The first line listing `key` as a plain key (ca 0) or as a
 * cert-authority (ca 1) whose expiry-time and from= admit the client. */
static const struct authkey *match_line(const ferry_authkeys *ak, const ferry_key *key,
                                        const char *addr, int ca)
{
    time_t now = time(NULL);
    for (size_t i = 0; ak != NULL && i < ak->n; i++) {
        const struct authkey *e = &ak->v[i];
        if (e->cert_authority != ca || !ferry_key_equal_public(e->key, key)) {
            continue;
        }
        /* A line whose options refuse this client does not end the search:
         * another line may list the same key (sshd does the same). */
        if (e->expiry != 0 && e->expiry <= now) {
            continue;
        }
        if (e->from != NULL && !ferry_addr_list_admits(e->from, addr)) {
            continue;
        }
        return e;
    }
    return NULL;
}

int ferry_authkeys_match(const ferry_authkeys *ak, const ferry_key *key, const char *addr,
                         ferry_authkey_opts *opts)
{
    const struct authkey *e = match_line(ak, key, addr, 0);
    if (e != NULL && opts != NULL) {
        *opts = e->opts;
    }
    return e != NULL ? FERRY_OK : FERRY_E_AUTH_DENIED;
}

int ferry_authkeys_lists(const ferry_authkeys *ak, const ferry_key *key)
{
    for (size_t i = 0; ak != NULL && i < ak->n; i++) {
        if (ferry_key_equal_public(ak->v[i].key, key)) {
            return 1;
        }
    }
    return 0;
}

int ferry_authkeys_match_ca(const ferry_authkeys *ak, const ferry_key *ca, const char *addr,
                            const char **principals)
{
    const struct authkey *e = match_line(ak, ca, addr, 1);
    if (e != NULL && principals != NULL) {
        *principals = e->principals;
    }
    return e != NULL ? FERRY_OK : FERRY_E_AUTH_DENIED;
}

/* ---- known_hosts ---- */

int ferry_known_hosts_hostname(const char *host, uint16_t port, char *out, size_t outsz)
{
    int n = (port == 0 || port == 22) ? snprintf(out, outsz, "%s", host)
                                      : snprintf(out, outsz, "[%s]:%u", host, (unsigned)port);
    if (n < 0 || (size_t)n >= outsz) {
        return FERRY_E_TOO_LARGE;
    }
    for (char *p = out; *p; p++) {
        *p = (char)tolower((unsigned char)*p);
    }
    return FERRY_OK;
}

static int hmac_sha1(const uint8_t *salt, size_t saltlen, const char *name, uint8_t out[20])
{
    size_t outlen = 0;
    /* Only a privacy hash of the host name (HashKnownHosts), not a MAC of
     * transport data: SHA-1 is what the format defines. */
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, salt, saltlen, (const uint8_t *)name,
                  strlen(name), out, 20, &outlen) == NULL ||
        outlen != 20) {
        return ferry_err_crypto();
    }
    return FERRY_OK;
}

/* "|1|base64(salt)|base64(hash)": 1 on match, 0 otherwise. */
static int hashed_match(const char *field, size_t flen, const char *name)
{
    const char *salt = field + 3;
    const char *bar = memchr(salt, '|', flen - 3);
    if (bar == NULL) {
        return 0;
    }
    ferry_buf *s = ferry_buf_new(256), *h = ferry_buf_new(256);
    uint8_t mac[20];
    int m = s && h && ferry_base64_decode(salt, (size_t)(bar - salt), s) == FERRY_OK &&
            ferry_base64_decode(bar + 1, flen - (size_t)(bar + 1 - field), h) == FERRY_OK &&
            ferry_buf_len(s) == KH_SALT_LEN && ferry_buf_len(h) == 20 &&
            hmac_sha1(ferry_buf_data(s), ferry_buf_len(s), name, mac) == FERRY_OK &&
            CRYPTO_memcmp(mac, ferry_buf_data(h), 20) == 0;
    ferry_buf_free(s);
    ferry_buf_free(h);
    return m;
}

/* Host field vs. the host name: hashed entry or a pattern-list with
 * negation (a matching negated pattern excludes the line). */
static int host_field_matches(const char *field, size_t flen, const char *name)
{
    if (flen > 3 && memcmp(field, "|1|", 3) == 0) {
        return hashed_match(field, flen, name);
    }
    int hit = 0;
    for (size_t off = 0; off < flen;) {
        const char *p = field + off;
        size_t n = 0;
        while (off + n < flen && p[n] != ',') {
            n++;
        }
        int neg = n > 0 && p[0] == '!';
        if (ferry_names_wildcard_n(p + neg, n - (size_t)neg, name, 1)) {
            if (neg) {
                return 0;
            }
            hit = 1;
        }
        off += n + 1;
    }
    return hit;
}

struct kh_ctx {
    const char *name;
    const ferry_key *key; /* NULL: only collect the types listed */
    size_t ok_line, changed_line, other_line, revoked_line;
    unsigned types; /* 1u << ferry_key_type of each plain entry for the host */
    int ca_mode;    /* look at @cert-authority lines (key: the CA) instead */
    int any_ca;     /* a @cert-authority line names the host */
};

static int kh_line(void *vctx, const char *line, size_t lineno)
{
    struct kh_ctx *c = vctx;
    const char *p = skip_ws(line);
    int revoked = 0, ca = 0;
    if (*p == '\0' || *p == '#') {
        return FERRY_OK;
    }
    if (*p == '@') {
        size_t n = strcspn(p, " \t");
        if (n == 8 && strncmp(p, "@revoked", 8) == 0) {
            revoked = 1;
        } else if (n == 15 && strncmp(p, "@cert-authority", 15) == 0) {
            ca = 1;
        } else {
            return FERRY_OK; /* unknown marker */
        }
        p = skip_ws(p + n);
    }
    if (c->ca_mode && !ca && !revoked) {
        return FERRY_OK; /* plain lines are for keys */
    }
    size_t flen = strcspn(p, " \t");
    if (flen == 0 || !host_field_matches(p, flen, c->name)) {
        return FERRY_OK;
    }
    ferry_key *k = NULL;
    if (ferry_key_parse_public_line(p + flen, &k, NULL) != FERRY_OK) {
        return FERRY_OK; /* unsupported or malformed key: ignore the line */
    }
    c->any_ca |= ca;
    if (c->ca_mode || ca) { /* CA lines are for certificates */
        int same = c->ca_mode && c->key != NULL && ferry_key_equal_public(k, c->key);
        if (same && revoked && c->revoked_line == 0) {
            c->revoked_line = lineno;
        } else if (same && ca && c->ok_line == 0) {
            c->ok_line = lineno;
        }
        ferry_key_free(k);
        return FERRY_OK;
    }
    if (c->key == NULL) {
        if (!revoked) {
            c->types |= 1u << ferry_key_type(k);
        }
        ferry_key_free(k);
        return FERRY_OK;
    }
    int same = ferry_key_equal_public(k, c->key);
    if (revoked) {
        if (same && c->revoked_line == 0) {
            c->revoked_line = lineno;
        }
    } else if (same) {
        c->ok_line = c->ok_line ? c->ok_line : lineno;
    } else if (ferry_key_type(k) == ferry_key_type(c->key)) {
        c->changed_line = c->changed_line ? c->changed_line : lineno;
    } else {
        c->other_line = c->other_line ? c->other_line : lineno;
    }
    ferry_key_free(k);
    return FERRY_OK;
}

/* Runs kh_line for host/port over `text`, or over the file at `path`
 * when it is non-NULL (a missing file lists nothing). */
static int kh_scan(const char *path, const char *text, size_t len, const char *host, uint16_t port,
                   struct kh_ctx *c)
{
    char name[1100], *owned = NULL;
    size_t skipped = 0;
    int r = ferry_known_hosts_hostname(host, port, name, sizeof(name));
    if (r == FERRY_OK && path != NULL) {
        r = ferry_authfile_slurp(path, AUTHFILE_FILE_MAX, &owned, &len);
        text = owned;
        if (r == FERRY_E_NOT_FOUND) {
            return FERRY_OK;
        }
    }
    c->name = name;
    if (r == FERRY_OK) {
        r = for_each_line(text, len, kh_line, c, &skipped);
    }
    c->name = NULL;
    free(owned);
    return r;
}

static int kh_check(const char *path, const char *text, size_t len, const char *host, uint16_t port,
                    const ferry_key *key, enum ferry_hostkey_status *status, size_t *line)
{
    struct kh_ctx c = {.key = key};
    int r = kh_scan(path, text, len, host, port, &c);
    *status = c.revoked_line                   ? FERRY_HOSTKEY_REVOKED
              : c.ok_line                      ? FERRY_HOSTKEY_OK
              : c.changed_line || c.other_line ? FERRY_HOSTKEY_CHANGED
                                               : FERRY_HOSTKEY_NEW;
    if (line != NULL) {
        *line = c.revoked_line   ? c.revoked_line
                : c.ok_line      ? c.ok_line
                : c.changed_line ? c.changed_line
                                 : c.other_line;
    }
    return r;
}

int ferry_known_hosts_check_text(const char *text, size_t len, const char *host, uint16_t port,
                                 const ferry_key *key, enum ferry_hostkey_status *status,
                                 size_t *line)
{
    return kh_check(NULL, text, len, host, port, key, status, line);
}

int ferry_known_hosts_check(const char *path, const char *host, uint16_t port, const ferry_key *key,
                            enum ferry_hostkey_status *status, size_t *line)
{
    return kh_check(path, NULL, 0, host, port, key, status, line);
}

static int kh_ca(const char *path, const char *text, size_t len, const char *host, uint16_t port,
                 const ferry_key *ca, int *any, enum ferry_hostkey_status *status, size_t *line)
{
    struct kh_ctx c = {.key = ca, .ca_mode = 1};
    int r = kh_scan(path, text, len, host, port, &c);
    *any = r == FERRY_OK && c.any_ca;
    *status = c.revoked_line ? FERRY_HOSTKEY_REVOKED
              : c.ok_line    ? FERRY_HOSTKEY_OK
                             : FERRY_HOSTKEY_NEW;
    if (line != NULL) {
        *line = c.revoked_line ? c.revoked_line : c.ok_line;
    }
    return r;
}

int ferry_known_hosts_ca_text(const char *text, size_t len, const char *host, uint16_t port,
                              const ferry_key *ca, int *any, enum ferry_hostkey_status *status,
                              size_t *line)
{
    return kh_ca(NULL, text, len, host, port, ca, any, status, line);
}

int ferry_known_hosts_ca(const char *path, const char *host, uint16_t port, const ferry_key *ca,
                         int *any, enum ferry_hostkey_status *status, size_t *line)
{
    return kh_ca(path, NULL, 0, host, port, ca, any, status, line);
}

static int kh_types(const char *path, const char *text, size_t len, const char *host, uint16_t port,
                    unsigned *types, int *any_ca)
{
    struct kh_ctx c = {0};
    int r = kh_scan(path, text, len, host, port, &c);
    *types = r == FERRY_OK ? c.types : 0;
    if (any_ca != NULL) {
        *any_ca = r == FERRY_OK && c.any_ca;
    }
    return r;
}

int ferry_known_hosts_types_text(const char *text, size_t len, const char *host, uint16_t port,
                                 unsigned *types, int *any_ca)
{
    return kh_types(NULL, text, len, host, port, types, any_ca);
}

int ferry_known_hosts_types(const char *path, const char *host, uint16_t port, unsigned *types,
                            int *any_ca)
{
    return kh_types(path, NULL, 0, host, port, types, any_ca);
}

/* Appends the names of `algs` whose key type is (want=1) or is not (want=0)
 * in `types` to b, comma-separated. */
static int put_algs_by_type(ferry_buf *b, const char *algs, unsigned types, int want)
{
    char name[64];
    int r = FERRY_OK;
    for (const char *cur = algs; *cur != '\0' && r == FERRY_OK;) {
        size_t n = ferry_names_next_copy(&cur, name, sizeof(name));
        if (n > 0 && (int)((types >> ferry_key_type_from_name(name)) & 1u) == want) {
            r = ferry_buf_len(b) > 0 ? ferry_buf_put(b, ",", 1) : FERRY_OK;
            r = r == FERRY_OK ? ferry_buf_put(b, name, n) : r;
        }
    }
    return r;
}

int ferry_known_hosts_order_algs(unsigned types, const char *algs, char **out)
{
    ferry_buf *b = NULL;
    int r = FERRY_E_ALLOC;
    *out = NULL;
    types &= ~(1u << FERRY_KEY_UNKNOWN);
    if (types == 0) {
        return FERRY_OK;
    }
    if ((b = ferry_buf_new(0)) == NULL) {
        return FERRY_E_ALLOC;
    }
    r = put_algs_by_type(b, algs, types, 1);
    r = r == FERRY_OK ? put_algs_by_type(b, algs, types, 0) : r;
    r = r == FERRY_OK ? ferry_buf_put_u8(b, 0) : r;
    if (r == FERRY_OK && (*out = strdup((const char *)ferry_buf_data(b))) == NULL) {
        r = FERRY_E_ALLOC;
    }
    ferry_buf_free(b);
    return r;
}

/* The host field for a new line: the name, or |1|salt|hash. */
static int kh_host_field(const char *name, int hash, char **out)
{
    if (!hash) {
        *out = strdup(name);
        return *out ? FERRY_OK : FERRY_E_ALLOC;
    }
    uint8_t salt[KH_SALT_LEN], mac[20];
    char *s64 = NULL, *h64 = NULL;
    int r = RAND_bytes(salt, sizeof(salt)) == 1 ? FERRY_OK : ferry_err_crypto();
    if (r == FERRY_OK) {
        r = hmac_sha1(salt, sizeof(salt), name, mac);
    }
    if (r == FERRY_OK) {
        r = ferry_base64_encode(salt, sizeof(salt), &s64);
    }
    if (r == FERRY_OK) {
        r = ferry_base64_encode(mac, sizeof(mac), &h64);
    }
    if (r == FERRY_OK && asprintf(out, "|1|%s|%s", s64, h64) < 0) {
        r = FERRY_E_ALLOC;
    }
    free(s64);
    free(h64);
    return r;
}

/* Creates the parent directory (0700) if it is missing. */
static int ensure_parent_dir(const char *path)
{
    char *copy = strdup(path);
    if (copy == NULL) {
        return FERRY_E_ALLOC;
    }
    const char *dir = dirname(copy);
    int r = FERRY_OK;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        r = errno_err(errno);
    }
    free(copy);
    return r;
}

/* Appends `text` with one write(2) on an O_APPEND descriptor, first adding
 * a newline if the file does not end with one. */
static int append_line(const char *path, const char *text)
{
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return errno_err(errno);
    }
    struct stat st;
    char last = '\n';
    int r = FERRY_OK;
    if (fstat(fd, &st) != 0) {
        r = ferry_err_sys();
    } else if (st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1) {
        r = ferry_err_sys();
    }
    const char *w = last == '\n' ? text + 1 : text; /* text starts with '\n' */
    size_t n = strlen(w);
    if (r == FERRY_OK) {
        ssize_t got = write(fd, w, n);
        r = got == (ssize_t)n ? FERRY_OK : (got < 0 ? ferry_err_sys() : FERRY_E_NO_SPACE);
    }
    if (close(fd) != 0 && r == FERRY_OK) {
        r = ferry_err_sys();
    }
    return r;
}

int ferry_known_hosts_add(const char *path, const char *host, uint16_t port, const ferry_key *key,
                          int hash)
{
    char name[1100];
    char *field = NULL, *pub = NULL, *text = NULL;
    int r = ferry_known_hosts_hostname(host, port, name, sizeof(name));
    if (r != FERRY_OK) {
        return r;
    }
    if (strpbrk(name, " \t\r\n,*?!#|") != NULL || name[0] == '@' || name[0] == '\0') {
        return FERRY_E_INVALID_ARG;
    }
    r = kh_host_field(name, hash, &field);
    if (r == FERRY_OK) {
        r = ferry_key_format_public_line(key, NULL, &pub);
    }
    if (r == FERRY_OK && asprintf(&text, "\n%s %s\n", field, pub) < 0) {
        text = NULL;
        r = FERRY_E_ALLOC;
    }
    if (r == FERRY_OK) {
        r = ensure_parent_dir(path);
    }
    if (r == FERRY_OK) {
        r = append_line(path, text);
    }
    free(field);
    free(pub);
    free(text);
    return r;
}
