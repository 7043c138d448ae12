/* revoke.c: revocation lists (see revoke.h), OpenSSH's KRL format from
 * PROTOCOL.krl. One walker both checks a KRL when it is read (no query)
 * and answers a query; its sections are few and short-lived, so the KRL
 * is kept as bytes rather than as trees. */
#include "ssh/revoke.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssh/authfile.h"
#include "util/buf.h"
#include "util/err.h"

static const uint8_t krl_magic[8] = {'S', 'S', 'H', 'K', 'R', 'L', '\n', '\0'};

enum {
    KRL_CERTIFICATES = 1,
    KRL_EXPLICIT_KEY = 2,
    KRL_FINGERPRINT_SHA1 = 3,
    KRL_SIGNATURE = 4,
    KRL_FINGERPRINT_SHA256 = 5,
    KRL_EXTENSION = 255,
    KRL_CERT_SERIAL_LIST = 0x20,
    KRL_CERT_SERIAL_RANGE = 0x21,
    KRL_CERT_SERIAL_BITMAP = 0x22,
    KRL_CERT_KEY_ID = 0x23,
    KRL_CERT_EXTENSION = 0x39,
};

/* What a walk found. */
enum { HIT_NONE, HIT_SERIAL, HIT_KEY_ID, HIT_KEY, HIT_SHA1, HIT_SHA256 };

struct ferry_revoke {
    uint8_t *krl; /* a checked KRL, or NULL */
    size_t krl_len;
    ferry_authkeys *keys; /* key lines, when not a KRL */
};

/* A question to a KRL: a plain key (blob and hashes), or a certificate's
 * serial and key ID under its CA. */
struct query {
    const uint8_t *blob;
    size_t blob_len;
    uint8_t sha1[20], sha256[32];
    const ferry_cert *cert;
    const uint8_t *ca_blob;
    size_t ca_len;
};

static int same(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    return an == bn && memcmp(a, b, an) == 0;
}

/* An extension (section or certificate subsection): unknown, so only a
 * non-critical one may be ignored. */
static int extension(ferry_rd *r)
{
    const uint8_t *p;
    size_t n;
    int critical = 0;
    int e = ferry_rd_string(r, &p, &n);
    if (e == FERRY_OK) {
        e = ferry_rd_bool(r, &critical);
    }
    if (e == FERRY_OK) {
        e = ferry_rd_string(r, &p, &n);
    }
    if (e == FERRY_OK && ferry_rd_end(r) != FERRY_OK) {
        e = FERRY_E_FORMAT;
    }
    return e != FERRY_OK ? FERRY_E_FORMAT : critical ? FERRY_E_UNSUPPORTED : FERRY_OK;
}

/* Whether bit `bit` of a big-endian magnitude of n bytes is set. */
static int bitmap_has(const uint8_t *p, size_t n, uint64_t bit)
{
    if (bit / 8 >= n) {
        return 0;
    }
    return (p[n - 1 - bit / 8] >> (bit % 8)) & 1;
}

/* One certificate subsection; *hit set when the query's certificate is
 * revoked by it (`applies`: the section's CA is the certificate's). */
static int cert_subsection(uint8_t type, ferry_rd *d, const struct query *q, int applies, int *hit)
{
    const ferry_cert *c = applies ? q->cert : NULL;
    uint64_t a, b;
    switch (type) {
    case KRL_CERT_SERIAL_LIST:
        while (ferry_rd_left(d) > 0) {
            if (ferry_rd_u64(d, &a) != FERRY_OK) {
                return FERRY_E_FORMAT;
            }
            if (c != NULL && c->serial != 0 && c->serial == a) {
                *hit = HIT_SERIAL;
            }
        }
        return FERRY_OK;
    case KRL_CERT_SERIAL_RANGE:
        if (ferry_rd_u64(d, &a) != FERRY_OK || ferry_rd_u64(d, &b) != FERRY_OK || a > b ||
            ferry_rd_end(d) != FERRY_OK) {
            return FERRY_E_FORMAT;
        }
        if (c != NULL && c->serial != 0 && c->serial >= a && c->serial <= b) {
            *hit = HIT_SERIAL;
        }
        return FERRY_OK;
    case KRL_CERT_SERIAL_BITMAP: {
        const uint8_t *p;
        size_t n;
        if (ferry_rd_u64(d, &a) != FERRY_OK || ferry_rd_string(d, &p, &n) != FERRY_OK ||
            ferry_rd_end(d) != FERRY_OK || (n > 0 && (p[0] & 0x80))) {
            return FERRY_E_FORMAT; /* a negative mpint is no bitmap */
        }
        if (c != NULL && c->serial != 0 && c->serial >= a && bitmap_has(p, n, c->serial - a)) {
            *hit = HIT_SERIAL;
        }
        return FERRY_OK;
    }
    case KRL_CERT_KEY_ID:
        while (ferry_rd_left(d) > 0) {
            const uint8_t *p;
            size_t n;
            if (ferry_rd_string(d, &p, &n) != FERRY_OK) {
                return FERRY_E_FORMAT;
            }
            if (c != NULL && same(p, n, (const uint8_t *)c->key_id, strlen(c->key_id))) {
                *hit = HIT_KEY_ID;
            }
        }
        return FERRY_OK;
    case KRL_CERT_EXTENSION:
        return extension(d);
    default:
        return FERRY_E_UNSUPPORTED;
    }
}

static int cert_section(ferry_rd *d, const struct query *q, int *hit)
{
    const uint8_t *ca, *p;
    size_t ca_len, n;
    if (ferry_rd_string(d, &ca, &ca_len) != FERRY_OK || ferry_rd_string(d, &p, &n) != FERRY_OK) {
        return FERRY_E_FORMAT;
    }
    if (q == NULL && ca_len > 0) {
        /* checking: the CA must be a well-formed key; one of a type we do
         * not take (DSA, RSA under 2048 bits) can match no certificate of
         * ours but is no reason to refuse the list */
        ferry_key *k = NULL;
        int r = ferry_key_from_blob(ca, ca_len, &k);
        ferry_key_free(k);
        if (r == FERRY_E_ALLOC) {
            return r;
        }
        if (r == FERRY_E_FORMAT || r == FERRY_E_TRAILING_DATA || r == FERRY_E_INCOMPLETE ||
            r == FERRY_E_TOO_LARGE) {
            return FERRY_E_FORMAT;
        }
    }
    int applies =
        q != NULL && q->cert != NULL && (ca_len == 0 || same(ca, ca_len, q->ca_blob, q->ca_len));
    while (ferry_rd_left(d) > 0) {
        uint8_t type;
        ferry_rd sub;
        if (ferry_rd_u8(d, &type) != FERRY_OK || ferry_rd_sub(d, &sub) != FERRY_OK) {
            return FERRY_E_FORMAT;
        }
        int r = cert_subsection(type, &sub, q, applies, hit);
        if (r != FERRY_OK) {
            return r;
        }
    }
    return FERRY_OK;
}

/* A section of strings (keys or hashes; hashes of `hash_len` bytes, 0 for
 * keys); *hit = `kind` when one equals `want`. */
static int string_section(ferry_rd *d, size_t hash_len, const uint8_t *want, size_t want_len,
                          int kind, int *hit)
{
    while (ferry_rd_left(d) > 0) {
        const uint8_t *p;
        size_t n;
        if (ferry_rd_string(d, &p, &n) != FERRY_OK || (hash_len != 0 && n != hash_len) || n == 0) {
            return FERRY_E_FORMAT;
        }
        if (want != NULL && same(p, n, want, want_len)) {
            *hit = kind;
        }
    }
    return FERRY_OK;
}

/* Walks a whole KRL. Without a query it only checks the format; with one
 * it returns the first HIT_* found (HIT_NONE if none) or an error. */
static int krl_walk(const uint8_t *data, size_t len, const struct query *q)
{
    ferry_rd r;
    ferry_rd_init(&r, data, len);
    const uint8_t *p;
    size_t n;
    uint32_t version;
    uint64_t u;
    if (ferry_rd_bytes(&r, sizeof(krl_magic), &p) != FERRY_OK ||
        memcmp(p, krl_magic, sizeof(krl_magic)) != 0 || ferry_rd_u32(&r, &version) != FERRY_OK) {
        return FERRY_E_FORMAT;
    }
    if (version != 1) {
        return FERRY_E_UNSUPPORTED;
    }
    if (ferry_rd_u64(&r, &u) != FERRY_OK || ferry_rd_u64(&r, &u) != FERRY_OK ||
        ferry_rd_u64(&r, &u) != FERRY_OK || ferry_rd_string(&r, &p, &n) != FERRY_OK ||
        ferry_rd_string(&r, &p, &n) != FERRY_OK) {
        return FERRY_E_FORMAT; /* krl_version, generated_date, flags, reserved, comment */
    }
    int hit = HIT_NONE;
    while (ferry_rd_left(&r) > 0) {
        uint8_t type;
        ferry_rd d;
        if (ferry_rd_u8(&r, &type) != FERRY_OK) {
            return FERRY_E_FORMAT;
        }
        if (type == KRL_SIGNATURE) {
            return FERRY_E_UNSUPPORTED; /* refused by OpenSSH since 9.4 too */
        }
        if (ferry_rd_sub(&r, &d) != FERRY_OK) {
            return FERRY_E_FORMAT;
        }
        int e;
        switch (type) {
        case KRL_CERTIFICATES:
            e = cert_section(&d, q, &hit);
            break;
        case KRL_EXPLICIT_KEY:
            e = string_section(&d, 0, q ? q->blob : NULL, q ? q->blob_len : 0, HIT_KEY, &hit);
            break;
        case KRL_FINGERPRINT_SHA1:
            e = string_section(&d, 20, q && q->blob ? q->sha1 : NULL, 20, HIT_SHA1, &hit);
            break;
        case KRL_FINGERPRINT_SHA256:
            e = string_section(&d, 32, q && q->blob ? q->sha256 : NULL, 32, HIT_SHA256, &hit);
            break;
        case KRL_EXTENSION:
            e = extension(&d);
            break;
        default:
            e = FERRY_E_UNSUPPORTED;
        }
        if (e != FERRY_OK) {
            return e;
        }
        if (hit != HIT_NONE) {
            return hit;
        }
    }
    return HIT_NONE;
}

int ferry_revoke_parse(const uint8_t *data, size_t len, ferry_revoke **out)
{
    ferry_revoke *rl = calloc(1, sizeof(*rl));
    if (rl == NULL) {
        return FERRY_E_ALLOC;
    }
    int r;
    if (len >= sizeof(krl_magic) && memcmp(data, krl_magic, sizeof(krl_magic)) == 0) {
        r = krl_walk(data, len, NULL);
        if (r == FERRY_OK) {
            rl->krl = malloc(len);
            r = rl->krl != NULL ? FERRY_OK : FERRY_E_ALLOC;
        }
        if (r == FERRY_OK) {
            memcpy(rl->krl, data, len);
            rl->krl_len = len;
        }
    } else {
        r = ferry_authkeys_parse((const char *)data, len, &rl->keys, NULL);
    }
    if (r != FERRY_OK) {
        ferry_revoke_free(rl);
        return r;
    }
    *out = rl;
    return FERRY_OK;
}

int ferry_revoke_load(const char *path, ferry_revoke **out)
{
    char *data = NULL;
    size_t len = 0;
    int r = ferry_authfile_slurp(path, FERRY_REVOKE_MAX, &data, &len);
    if (r == FERRY_OK) {
        r = ferry_revoke_parse((const uint8_t *)data, len, out);
        free(data);
    }
    return r;
}

void ferry_revoke_free(ferry_revoke *rl)
{
    if (rl == NULL) {
        return;
    }
    free(rl->krl);
    ferry_authkeys_free(rl->keys);
    free(rl);
}

/* The KRL's answer for a plain key (HIT_*). */
static int krl_key(const ferry_revoke *rl, const ferry_key *key)
{
    ferry_buf *b = ferry_buf_new(64 * 1024);
    struct query q = {0};
    int r = b != NULL ? ferry_key_to_blob(key, b) : FERRY_E_ALLOC;
    if (r == FERRY_OK) {
        q.blob = ferry_buf_data(b);
        q.blob_len = ferry_buf_len(b);
        if (EVP_Digest(q.blob, q.blob_len, q.sha1, NULL, EVP_sha1(), NULL) != 1 ||
            EVP_Digest(q.blob, q.blob_len, q.sha256, NULL, EVP_sha256(), NULL) != 1) {
            r = FERRY_E_LIBCRYPTO;
        }
    }
    /* A key that cannot be asked about counts as revoked. */
    int hit = r == FERRY_OK ? krl_walk(rl->krl, rl->krl_len, &q) : HIT_KEY;
    ferry_buf_free(b);
    return hit < 0 ? HIT_KEY : hit;
}

int ferry_revoke_key(const ferry_revoke *rl, const ferry_key *key)
{
    if (rl->krl != NULL) {
        return krl_key(rl, key) != HIT_NONE;
    }
    return ferry_authkeys_lists(rl->keys, key);
}

int ferry_revoke_cert(const ferry_revoke *rl, const ferry_cert *cert, char *why, size_t whysz)
{
    char dummy[8];
    if (why == NULL) {
        why = dummy;
        whysz = sizeof(dummy);
    }
    if (rl->krl != NULL) {
        ferry_buf *b = ferry_buf_new(64 * 1024);
        struct query q = {.cert = cert};
        int r = b != NULL ? ferry_key_to_blob(cert->ca, b) : FERRY_E_ALLOC;
        int hit = HIT_SERIAL;
        if (r == FERRY_OK) {
            q.ca_blob = ferry_buf_data(b);
            q.ca_len = ferry_buf_len(b);
            hit = krl_walk(rl->krl, rl->krl_len, &q);
        }
        ferry_buf_free(b);
        if (hit == HIT_SERIAL || hit < 0) {
            snprintf(why, whysz, "serial revoked");
            return 1;
        }
        if (hit == HIT_KEY_ID) {
            snprintf(why, whysz, "key ID revoked");
            return 1;
        }
    }
    if (ferry_revoke_key(rl, cert->key)) {
        snprintf(why, whysz, "certified key revoked");
        return 1;
    }
    if (ferry_revoke_key(rl, cert->ca)) {
        snprintf(why, whysz, "CA key revoked");
        return 1;
    }
    return 0;
}
