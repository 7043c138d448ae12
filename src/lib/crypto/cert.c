/* cert.c: OpenSSH certificates (PROTOCOL.certkeys). The certified key's
 * fields are those of the plain key blob with a nonce in front; they are
 * copied behind the plain type name and handed to ferry_key_from_blob, so
 * one parser checks every key (curves, RSA sizes). */
#include "crypto/cert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/names.h"

static const char suffix[] = "-cert-v01@openssh.com";
#define SUFFIX_LEN (sizeof(suffix) - 1)

size_t ferry_cert_suffix(const char *name, size_t n)
{
    return n > SUFFIX_LEN && memcmp(name + n - SUFFIX_LEN, suffix, SUFFIX_LEN) == 0 ? SUFFIX_LEN
                                                                                    : 0;
}

int ferry_cert_plain_alg(const char *alg, char *out, size_t outsz)
{
    size_t n = strlen(alg), s = ferry_cert_suffix(alg, n);
    if (s == 0 || n - s >= outsz) {
        return FERRY_E_FORMAT;
    }
    memcpy(out, alg, n - s);
    out[n - s] = '\0';
    return FERRY_OK;
}

int ferry_cert_alg(const char *plain, char *out, size_t outsz)
{
    int n = snprintf(out, outsz, "%s%s", plain, suffix);
    return n > 0 && (size_t)n < outsz ? FERRY_OK : FERRY_E_TOO_LARGE;
}

int ferry_cert_algs_first(const char *algs, char **out)
{
    size_t cap = 2 * strlen(algs) + 64 * 32, len = 0;
    char *v = malloc(cap);
    if (v == NULL) {
        return FERRY_E_ALLOC;
    }
    for (const char *cur = algs; *cur != '\0';) {
        char name[64], cert[96];
        if (ferry_names_next_copy(&cur, name, sizeof(name)) &&
            ferry_cert_suffix(name, strlen(name)) == 0 &&
            ferry_cert_alg(name, cert, sizeof(cert)) == FERRY_OK && len + strlen(cert) + 2 < cap) {
            len += (size_t)snprintf(v + len, cap - len, "%s,", cert);
        }
    }
    snprintf(v + len, cap - len, "%s", algs);
    *out = v;
    return FERRY_OK;
}

void ferry_cert_free(ferry_cert *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->n_principals; i++) {
        free(c->principals[i]);
    }
    free(c->principals);
    free(c->key_id);
    ferry_key_free(c->key);
    ferry_key_free(c->ca);
    free(c->blob);
    free(c);
}

/* The certified key: `fields` strings after the nonce, behind the plain
 * type name. */
static int certified_key(ferry_rd *r, const char *plain, ferry_key **out)
{
    enum ferry_key_type t = ferry_key_type_from_name(plain);
    size_t fields = t == FERRY_KEY_ED25519 ? 1 : t == FERRY_KEY_UNKNOWN ? 0 : 2;
    if (fields == 0) {
        return FERRY_E_KEY_TYPE;
    }
    ferry_buf *b = ferry_buf_new(FERRY_CERT_MAX_LEN);
    const uint8_t *start = ferry_rd_ptr(r), *p;
    size_t n;
    int rc = b ? ferry_buf_put_cstring(b, plain) : FERRY_E_ALLOC;
    for (size_t i = 0; i < fields && rc == FERRY_OK; i++) {
        rc = ferry_rd_string(r, &p, &n);
    }
    rc = rc == FERRY_OK ? ferry_buf_put(b, start, (size_t)(ferry_rd_ptr(r) - start)) : rc;
    rc = rc == FERRY_OK ? ferry_key_from_blob(ferry_buf_data(b), ferry_buf_len(b), out) : rc;
    ferry_buf_free(b);
    return rc;
}

static int read_principals(ferry_rd *r, ferry_cert *c)
{
    ferry_rd list;
    int rc = ferry_rd_sub(r, &list);
    while (rc == FERRY_OK && ferry_rd_left(&list) > 0) {
        char *name = NULL;
        if (c->n_principals == FERRY_CERT_MAX_PRINCIPALS) {
            return FERRY_E_TOO_LARGE;
        }
        char **v = realloc(c->principals, (c->n_principals + 1) * sizeof(*v));
        if (v == NULL) {
            return FERRY_E_ALLOC;
        }
        c->principals = v;
        rc = ferry_rd_cstring(&list, 1024, &name, NULL);
        if (rc == FERRY_OK) {
            c->principals[c->n_principals++] = name;
        }
    }
    return rc;
}

/* Name/data pairs in order, each name once (PROTOCOL.certkeys). */
static int options_each(const uint8_t *p, size_t len,
                        int (*fn)(void *ctx, const char *name, const uint8_t *value, size_t len),
                        void *ctx)
{
    ferry_rd r;
    char prev[256] = "", name[256];
    ferry_rd_init(&r, p, len);
    for (int first = 1; ferry_rd_left(&r) > 0; first = 0) {
        const uint8_t *v;
        size_t vn;
        int rc = ferry_rd_name(&r, name, sizeof(name));
        rc = rc == FERRY_OK ? ferry_rd_string(&r, &v, &vn) : rc;
        if (rc != FERRY_OK || (!first && strcmp(prev, name) >= 0)) {
            return FERRY_E_FORMAT; /* "" twice too */
        }
        memcpy(prev, name, sizeof(prev));
        if (fn != NULL && (rc = fn(ctx, name, v, vn)) != 0) {
            return rc;
        }
    }
    return FERRY_OK;
}

static int parse(ferry_cert *c)
{
    ferry_rd r;
    const uint8_t *p, *sig;
    size_t n, siglen;
    char name[sizeof(c->type_name)], plain[sizeof(c->type_name)];
    ferry_rd_init(&r, c->blob, c->len);
    int rc = ferry_rd_name(&r, name, sizeof(name));
    if (rc != FERRY_OK || ferry_cert_plain_alg(name, plain, sizeof(plain)) != FERRY_OK) {
        return rc == FERRY_OK || rc == FERRY_E_TOO_LARGE ? FERRY_E_KEY_TYPE : rc;
    }
    /* rsa-sha2-*-cert names sign with SHA-2 but are no key types */
    if (strcmp(plain, "ssh-rsa") != 0 && ferry_key_type_from_name(plain) == FERRY_KEY_RSA) {
        return FERRY_E_KEY_TYPE;
    }
    memcpy(c->type_name, name, sizeof(name));
    rc = ferry_rd_string(&r, &p, &n); /* nonce */
    rc = rc == FERRY_OK ? certified_key(&r, plain, &c->key) : rc;
    rc = rc == FERRY_OK ? ferry_rd_u64(&r, &c->serial) : rc;
    rc = rc == FERRY_OK ? ferry_rd_u32(&r, &c->type) : rc;
    rc = rc == FERRY_OK ? ferry_rd_cstring(&r, 1024, &c->key_id, NULL) : rc;
    rc = rc == FERRY_OK ? read_principals(&r, c) : rc;
    rc = rc == FERRY_OK ? ferry_rd_u64(&r, &c->valid_after) : rc;
    rc = rc == FERRY_OK ? ferry_rd_u64(&r, &c->valid_before) : rc;
    rc = rc == FERRY_OK ? ferry_rd_string(&r, &c->critical, &c->critical_len) : rc;
    rc = rc == FERRY_OK ? options_each(c->critical, c->critical_len, NULL, NULL) : rc;
    rc = rc == FERRY_OK ? ferry_rd_string(&r, &p, &n) : rc; /* extensions */
    rc = rc == FERRY_OK ? options_each(p, n, NULL, NULL) : rc;
    rc = rc == FERRY_OK ? ferry_rd_string(&r, &p, &n) : rc; /* reserved */
    rc = rc == FERRY_OK ? ferry_rd_string(&r, &p, &n) : rc; /* signature key */
    /* a certificate as CA key ("chained") does not parse as a plain key */
    rc = rc == FERRY_OK ? ferry_key_from_blob(p, n, &c->ca) : rc;
    size_t signed_len = (size_t)(ferry_rd_ptr(&r) - c->blob);
    rc = rc == FERRY_OK ? ferry_rd_string(&r, &sig, &siglen) : rc;
    rc = rc == FERRY_OK ? ferry_rd_end(&r) : rc;
    if (rc == FERRY_OK) { /* the signature's algorithm, for CASignatureAlgorithms */
        ferry_rd sr;
        ferry_rd_init(&sr, sig, siglen);
        rc = ferry_rd_name(&sr, c->sig_alg, sizeof(c->sig_alg)) == FERRY_OK ? FERRY_OK
                                                                            : FERRY_E_FORMAT;
    }
    if (rc == FERRY_OK && c->type != FERRY_CERT_USER && c->type != FERRY_CERT_HOST) {
        rc = FERRY_E_FORMAT;
    }
    return rc == FERRY_OK ? ferry_key_verify(c->ca, NULL, sig, siglen, c->blob, signed_len) : rc;
}

int ferry_cert_from_blob(const uint8_t *blob, size_t len, ferry_cert **out)
{
    if (len > FERRY_CERT_MAX_LEN) {
        return FERRY_E_TOO_LARGE;
    }
    ferry_cert *c = calloc(1, sizeof(*c));
    if (c == NULL || (c->blob = malloc(len ? len : 1)) == NULL) {
        free(c);
        return FERRY_E_ALLOC;
    }
    memcpy(c->blob, blob, len);
    c->len = len;
    int rc = parse(c);
    if (rc != FERRY_OK) {
        ferry_cert_free(c);
        return rc;
    }
    *out = c;
    return FERRY_OK;
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t';
}

int ferry_cert_parse_line(const char *line, ferry_cert **out)
{
    const char *p = line + strspn(line, " \t"), *t = p;
    while (*p != '\0' && !is_space(*p) && *p != '\r' && *p != '\n') {
        p++;
    }
    size_t tlen = (size_t)(p - t);
    p += strspn(p, " \t");
    const char *b = p;
    while (*p != '\0' && !is_space(*p) && *p != '\r' && *p != '\n') {
        p++;
    }
    if (ferry_cert_suffix(t, tlen) == 0) {
        return tlen == 0 ? FERRY_E_FORMAT : FERRY_E_KEY_TYPE;
    }
    ferry_buf *blob = ferry_buf_new(2 * FERRY_CERT_MAX_LEN);
    ferry_cert *c = NULL;
    int rc = blob ? ferry_base64_decode(b, (size_t)(p - b), blob) : FERRY_E_ALLOC;
    rc = rc == FERRY_OK ? ferry_cert_from_blob(ferry_buf_data(blob), ferry_buf_len(blob), &c) : rc;
    ferry_buf_free(blob);
    if (rc == FERRY_OK && (strlen(c->type_name) != tlen || memcmp(c->type_name, t, tlen) != 0)) {
        ferry_cert_free(c);
        rc = FERRY_E_KEY_TYPE;
    }
    if (rc == FERRY_OK) {
        *out = c;
    }
    return rc;
}

int ferry_cert_load(const char *path, ferry_cert **out)
{
    char line[4 * FERRY_CERT_MAX_LEN];
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return errno == ENOENT ? FERRY_E_NOT_FOUND : ferry_err_sys();
    }
    int rc = FERRY_E_FORMAT;
    while (fgets(line, sizeof(line), f) != NULL) {
        const char *p = line + strspn(line, " \t");
        if (*p != '#' && *p != '\n' && *p != '\r' && *p != '\0') {
            rc = ferry_cert_parse_line(p, out);
            break;
        }
    }
    fclose(f);
    return rc;
}

static int why(char *out, size_t outsz, const char *msg)
{
    if (out != NULL && outsz > 0) {
        snprintf(out, outsz, "%s", msg);
    }
    return FERRY_E_AUTH_DENIED;
}

int ferry_cert_check(const ferry_cert *c, uint32_t type, const char *principal, uint64_t now,
                     char *reason, size_t reasonsz)
{
    if (c->type != type) {
        return why(reason, reasonsz,
                   type == FERRY_CERT_USER ? "certificate is not a user certificate"
                                           : "certificate is not a host certificate");
    }
    if (now < c->valid_after) {
        return why(reason, reasonsz, "certificate not yet valid");
    }
    if (now >= c->valid_before) {
        return why(reason, reasonsz, "certificate expired");
    }
    if (c->n_principals == 0 && type == FERRY_CERT_USER) {
        return why(reason, reasonsz, "certificate lacks principal list");
    }
    if (principal == NULL || c->n_principals == 0) {
        return FERRY_OK;
    }
    for (size_t i = 0; i < c->n_principals; i++) {
        if (strcmp(c->principals[i], principal) == 0) {
            return FERRY_OK;
        }
    }
    return why(reason, reasonsz, "principal not in certificate");
}

int ferry_cert_critical_each(const ferry_cert *c,
                             int (*fn)(void *ctx, const char *name, const uint8_t *value,
                                       size_t len),
                             void *ctx)
{
    return options_each(c->critical, c->critical_len, fn, ctx);
}
