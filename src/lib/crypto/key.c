/* key.c: SSH public/private keys and signatures over OpenSSL EVP_PKEY.
 *
 * Blob encodings (RFC 4253 s6.6, RFC 5656 s3.1, RFC 8709 s4):
 *   ssh-ed25519:          string "ssh-ed25519", string pub[32]
 *   ecdsa-sha2-<curve>:   string type, string curve id, string Q (uncompressed)
 *   ssh-rsa:              string "ssh-rsa", mpint e, mpint n
 * Signature blobs: string alg, string sig, where sig is the raw 64-byte
 * Ed25519 signature, the RSA PKCS#1 v1.5 signature (RFC 8332), or for ECDSA
 * the string (mpint r, mpint s) of RFC 5656 s3.1.2 (OpenSSL gives DER).
 */
#include "crypto/key.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

#include "crypto/key_int.h"
#include "util/err.h"

struct ferry_key {
    int refs; /* atomic: a host key may be shared between threads */
    enum ferry_key_type type;
    int priv;
    EVP_PKEY *pkey;
};

struct key_info {
    enum ferry_key_type type;
    const char *name;  /* wire key type name */
    const char *curve; /* SSH curve id (ECDSA) */
    const char *group; /* OpenSSL group name (ECDSA) */
    unsigned bits;
    size_t field; /* bytes per coordinate (ECDSA), key bytes (Ed25519) */
};

static const struct key_info key_infos[] = {
    {.type = FERRY_KEY_ED25519, .name = "ssh-ed25519", .bits = 255, .field = 32},
    {.type = FERRY_KEY_ECDSA_P256,
     .name = "ecdsa-sha2-nistp256",
     .curve = "nistp256",
     .group = "P-256",
     .bits = 256,
     .field = 32},
    {.type = FERRY_KEY_ECDSA_P384,
     .name = "ecdsa-sha2-nistp384",
     .curve = "nistp384",
     .group = "P-384",
     .bits = 384,
     .field = 48},
    {.type = FERRY_KEY_ECDSA_P521,
     .name = "ecdsa-sha2-nistp521",
     .curve = "nistp521",
     .group = "P-521",
     .bits = 521,
     .field = 66},
    {.type = FERRY_KEY_RSA, .name = "ssh-rsa"},
};

struct sigalg_info {
    const char *name;
    enum ferry_key_type type;
    const char *md; /* NULL for Ed25519 (pure EdDSA) */
};

/* OpenSSH's order (ssh_config(5) HostKeyAlgorithms, plain keys). */
static const struct sigalg_info sigalgs[] = {
    {"ssh-ed25519", FERRY_KEY_ED25519, NULL},
    {"ecdsa-sha2-nistp256", FERRY_KEY_ECDSA_P256, "SHA256"},
    {"ecdsa-sha2-nistp384", FERRY_KEY_ECDSA_P384, "SHA384"},
    {"ecdsa-sha2-nistp521", FERRY_KEY_ECDSA_P521, "SHA512"},
    {"rsa-sha2-512", FERRY_KEY_RSA, "SHA512"},
    {"rsa-sha2-256", FERRY_KEY_RSA, "SHA256"},
    {"ssh-rsa", FERRY_KEY_RSA, "SHA1"},
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

const char *ferry_sigalg_supported(void)
{
    return "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,"
           "rsa-sha2-512,rsa-sha2-256,ssh-rsa";
}

const char *ferry_sigalg_default(void)
{
    return "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,"
           "rsa-sha2-512,rsa-sha2-256";
}

static const struct key_info *info_for_type(enum ferry_key_type t)
{
    for (size_t i = 0; i < ARRAY_LEN(key_infos); i++) {
        if (key_infos[i].type == t) {
            return &key_infos[i];
        }
    }
    return NULL;
}

static const struct key_info *info_for_name(const char *name, size_t n)
{
    for (size_t i = 0; i < ARRAY_LEN(key_infos); i++) {
        if (strlen(key_infos[i].name) == n && memcmp(key_infos[i].name, name, n) == 0) {
            return &key_infos[i];
        }
    }
    return NULL;
}

static const struct sigalg_info *sigalg_for_name(const char *name, size_t n)
{
    for (size_t i = 0; i < ARRAY_LEN(sigalgs); i++) {
        if (strlen(sigalgs[i].name) == n && memcmp(sigalgs[i].name, name, n) == 0) {
            return &sigalgs[i];
        }
    }
    return NULL;
}

enum ferry_key_type ferry_key_type_from_name(const char *name)
{
    if (name == NULL) {
        return FERRY_KEY_UNKNOWN;
    }
    const struct key_info *ki = info_for_name(name, strlen(name));
    if (ki != NULL) {
        return ki->type;
    }
    const struct sigalg_info *sa = sigalg_for_name(name, strlen(name));
    return sa != NULL ? sa->type : FERRY_KEY_UNKNOWN;
}

const char *ferry_key_type_name(const ferry_key *k)
{
    const struct key_info *ki = k ? info_for_type(k->type) : NULL;
    return ki ? ki->name : "unknown";
}

enum ferry_key_type ferry_key_type(const ferry_key *k)
{
    return k ? k->type : FERRY_KEY_UNKNOWN;
}

const char *ferry__key_curve(enum ferry_key_type type)
{
    const struct key_info *ki = info_for_type(type);
    return ki ? ki->curve : NULL;
}

unsigned ferry_key_bits(const ferry_key *k)
{
    if (k->type == FERRY_KEY_RSA) {
        int b = EVP_PKEY_get_bits(k->pkey);
        return b > 0 ? (unsigned)b : 0;
    }
    const struct key_info *ki = info_for_type(k->type);
    return ki ? ki->bits : 0;
}

int ferry_key_sigalg_ok(const ferry_key *k, const char *sigalg)
{
    if (k == NULL || sigalg == NULL) {
        return 0;
    }
    const struct sigalg_info *sa = sigalg_for_name(sigalg, strlen(sigalg));
    return sa != NULL && sa->type == k->type;
}

int ferry_key_is_private(const ferry_key *k)
{
    return k != NULL && k->priv;
}

EVP_PKEY *ferry__key_pkey(const ferry_key *k)
{
    return k->pkey;
}

/* ---- object lifetime ---- */

int ferry__key_wrap(EVP_PKEY *pk, enum ferry_key_type type, int priv, ferry_key **out)
{
    ferry_key *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        EVP_PKEY_free(pk);
        return FERRY_E_ALLOC;
    }
    k->refs = 1;
    k->type = type;
    k->priv = priv;
    k->pkey = pk;
    *out = k;
    return FERRY_OK;
}

ferry_key *ferry_key_ref(ferry_key *k)
{
    if (k != NULL) {
        __atomic_fetch_add(&k->refs, 1, __ATOMIC_RELAXED);
    }
    return k;
}

void ferry_key_free(ferry_key *k)
{
    if (k == NULL || __atomic_sub_fetch(&k->refs, 1, __ATOMIC_ACQ_REL) > 0) {
        return;
    }
    /* EVP_PKEY_free clears private components (BN_clear_free etc.). */
    EVP_PKEY_free(k->pkey);
    OPENSSL_cleanse(k, sizeof(*k));
    free(k);
}

/* ---- building EVP_PKEYs ---- */

static int pkey_fromdata(const char *alg, int selection, OSSL_PARAM_BLD *bld, EVP_PKEY **out)
{
    int r = FERRY_E_LIBCRYPTO;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL);
    EVP_PKEY *pk = NULL;
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1) {
        r = ferry_err_crypto();
        goto out;
    }
    if (EVP_PKEY_fromdata(ctx, &pk, selection, params) != 1) {
        ERR_clear_error();
        r = FERRY_E_FORMAT;
        goto out;
    }
    *out = pk;
    r = FERRY_OK;
out:
    OSSL_PARAM_free(params);
    EVP_PKEY_CTX_free(ctx);
    return r;
}

/* public_check (and pairwise_check for a private key); FORMAT on failure. */
static int pkey_check(EVP_PKEY *pk, int priv)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    if (ctx == NULL) {
        return ferry_err_crypto();
    }
    int ok = EVP_PKEY_public_check(ctx) == 1 && (!priv || EVP_PKEY_pairwise_check(ctx) == 1);
    EVP_PKEY_CTX_free(ctx);
    if (!ok) {
        ERR_clear_error();
        return FERRY_E_FORMAT;
    }
    return FERRY_OK;
}

int ferry__ec_pkey(enum ferry_key_type type, const uint8_t *q, size_t qlen, const BIGNUM *d,
                   EVP_PKEY **out)
{
    const struct key_info *ki = info_for_type(type);
    if (ki == NULL || ki->group == NULL) {
        return FERRY_E_KEY_TYPE;
    }
    /* RFC 5656 s3.1: Q as SEC1 uncompressed point 04 || X || Y. */
    if (qlen != 1 + 2 * ki->field || q[0] != 0x04) {
        return FERRY_E_FORMAT;
    }
    int r = FERRY_E_LIBCRYPTO;
    EVP_PKEY *pk = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (bld == NULL ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, ki->group, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, q, qlen) ||
        (d != NULL && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d))) {
        r = ferry_err_crypto();
        goto out;
    }
    r = pkey_fromdata("EC", d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, bld, &pk);
    if (r != FERRY_OK) {
        goto out;
    }
    r = pkey_check(pk, d != NULL);
    if (r != FERRY_OK) {
        goto out;
    }
    *out = pk;
    pk = NULL;
out:
    EVP_PKEY_free(pk);
    OSSL_PARAM_BLD_free(bld);
    return r;
}

static int rsa_sizes_ok(const BIGNUM *n, const BIGNUM *e)
{
    int nbits = BN_num_bits(n);
    if (nbits > FERRY_RSA_MAX_BITS || !BN_is_odd(n)) {
        return FERRY_E_FORMAT;
    }
    /* e odd, 3 <= e < 2^64 (larger exponents only slow verification). */
    if (!BN_is_odd(e) || BN_num_bits(e) < 2 || BN_num_bits(e) > 64) {
        return FERRY_E_FORMAT;
    }
    if (nbits < FERRY_RSA_MIN_BITS) {
        return FERRY_E_KEY_WEAK;
    }
    return FERRY_OK;
}

/* d mod (p-1) and d mod (q-1), which OpenSSL wants and OpenSSH omits. */
static int rsa_crt_exponents(const BIGNUM *d, const BIGNUM *p, const BIGNUM *q, BIGNUM **dp,
                             BIGNUM **dq)
{
    BN_CTX *bctx = BN_CTX_secure_new();
    BIGNUM *t = BN_secure_new();
    *dp = BN_secure_new();
    *dq = BN_secure_new();
    int ok = bctx && t && *dp && *dq && BN_sub(t, p, BN_value_one()) && BN_mod(*dp, d, t, bctx) &&
             BN_sub(t, q, BN_value_one()) && BN_mod(*dq, d, t, bctx);
    BN_clear_free(t);
    BN_CTX_free(bctx);
    return ok ? FERRY_OK : ferry_err_crypto();
}

static int rsa_push_private(OSSL_PARAM_BLD *bld, const BIGNUM *d, const BIGNUM *p, const BIGNUM *q,
                            const BIGNUM *iqmp, BIGNUM **dp, BIGNUM **dq)
{
    int r = rsa_crt_exponents(d, p, q, dp, dq);
    if (r != FERRY_OK) {
        return r;
    }
    if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, p) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, q) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, *dp) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, *dq) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, iqmp)) {
        return ferry_err_crypto();
    }
    return FERRY_OK;
}

int ferry__rsa_pkey(const BIGNUM *n, const BIGNUM *e, const BIGNUM *d, const BIGNUM *p,
                    const BIGNUM *q, const BIGNUM *iqmp, EVP_PKEY **out)
{
    int r = rsa_sizes_ok(n, e);
    if (r != FERRY_OK) {
        return r;
    }
    int priv = d != NULL;
    BIGNUM *dp = NULL, *dq = NULL;
    EVP_PKEY *pk = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (bld == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e)) {
        r = ferry_err_crypto();
        goto out;
    }
    if (priv) {
        r = rsa_push_private(bld, d, p, q, iqmp, &dp, &dq);
        if (r != FERRY_OK) {
            goto out;
        }
    }
    r = pkey_fromdata("RSA", priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, bld, &pk);
    if (r == FERRY_OK) {
        r = pkey_check(pk, priv);
    }
    if (r == FERRY_OK) {
        *out = pk;
        pk = NULL;
    }
out:
    EVP_PKEY_free(pk);
    BN_clear_free(dp);
    BN_clear_free(dq);
    OSSL_PARAM_BLD_free(bld);
    return r;
}

int ferry__ed25519_pkey(const uint8_t *pub, const uint8_t *seed, EVP_PKEY **out)
{
    EVP_PKEY *pk = seed ? EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32)
                        : EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
    if (pk == NULL) {
        ERR_clear_error();
        return FERRY_E_FORMAT;
    }
    if (seed != NULL) {
        uint8_t derived[32];
        size_t dl = sizeof(derived);
        if (EVP_PKEY_get_raw_public_key(pk, derived, &dl) != 1 || dl != 32 ||
            CRYPTO_memcmp(derived, pub, 32) != 0) {
            ERR_clear_error();
            EVP_PKEY_free(pk);
            return FERRY_E_FORMAT;
        }
    }
    *out = pk;
    return FERRY_OK;
}

/* The ECDSA type for an EC key's curve (OpenSSL names it "prime256v1",
 * "secp384r1", ...; compared by NID). */
static enum ferry_key_type ec_type_of(const EVP_PKEY *pk)
{
    char group[64];
    size_t gl = 0;
    if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &gl) !=
        1) {
        return FERRY_KEY_UNKNOWN;
    }
    int nid = OBJ_txt2nid(group);
    for (size_t i = 0; i < ARRAY_LEN(key_infos); i++) {
        if (key_infos[i].group != NULL && nid != NID_undef &&
            EC_curve_nist2nid(key_infos[i].group) == nid) {
            return key_infos[i].type;
        }
    }
    return FERRY_KEY_UNKNOWN;
}

int ferry__key_from_pkey(EVP_PKEY *pk, ferry_key **out)
{
    enum ferry_key_type type = FERRY_KEY_UNKNOWN;
    int priv = 1;
    if (EVP_PKEY_is_a(pk, "ED25519")) {
        type = FERRY_KEY_ED25519;
    } else if (EVP_PKEY_is_a(pk, "RSA")) {
        type = FERRY_KEY_RSA;
        if (EVP_PKEY_get_bits(pk) < FERRY_RSA_MIN_BITS) {
            EVP_PKEY_free(pk);
            return FERRY_E_KEY_WEAK;
        }
    } else if (EVP_PKEY_is_a(pk, "EC")) {
        type = ec_type_of(pk);
    }
    ERR_clear_error();
    if (type == FERRY_KEY_UNKNOWN) {
        EVP_PKEY_free(pk);
        return FERRY_E_KEY_TYPE;
    }
    /* OpenSSL's decoders do not check that a stored public key matches
     * the private one, nor that an RSA key's factors are consistent. */
    int r = pkey_check(pk, priv);
    if (r != FERRY_OK) {
        EVP_PKEY_free(pk);
        return r;
    }
    return ferry__key_wrap(pk, type, priv, out);
}

/* ---- blobs ---- */

static int blob_ed25519(ferry_rd *r, EVP_PKEY **pk)
{
    const uint8_t *p;
    size_t n;
    int e = ferry_rd_string(r, &p, &n);
    if (e != FERRY_OK) {
        return e;
    }
    if (n != 32) {
        return FERRY_E_FORMAT;
    }
    return ferry__ed25519_pkey(p, NULL, pk);
}

static int blob_ecdsa(ferry_rd *r, const struct key_info *ki, EVP_PKEY **pk)
{
    const uint8_t *curve, *q;
    size_t cn, qn;
    int e = ferry_rd_string(r, &curve, &cn);
    if (e == FERRY_OK) {
        e = ferry_rd_string(r, &q, &qn);
    }
    if (e != FERRY_OK) {
        return e;
    }
    if (cn != strlen(ki->curve) || memcmp(curve, ki->curve, cn) != 0) {
        return FERRY_E_FORMAT;
    }
    return ferry__ec_pkey(ki->type, q, qn, NULL, pk);
}

static int blob_rsa(ferry_rd *r, EVP_PKEY **pk)
{
    BIGNUM *e = NULL, *n = NULL;
    int rc = ferry_rd_bignum(r, &e);
    if (rc == FERRY_OK) {
        rc = ferry_rd_bignum(r, &n);
    }
    if (rc == FERRY_OK) {
        rc = ferry__rsa_pkey(n, e, NULL, NULL, NULL, NULL, pk);
    }
    BN_free(e);
    BN_free(n);
    return rc;
}

int ferry_key_from_blob(const uint8_t *blob, size_t len, ferry_key **out)
{
    ferry_rd r;
    const uint8_t *name;
    size_t nlen;
    EVP_PKEY *pk = NULL;
    ferry_rd_init(&r, blob, len);
    int rc = ferry_rd_string(&r, &name, &nlen);
    if (rc != FERRY_OK) {
        return rc;
    }
    const struct key_info *ki = info_for_name((const char *)name, nlen);
    if (ki == NULL) {
        return FERRY_E_KEY_TYPE;
    }
    if (ki->type == FERRY_KEY_ED25519) {
        rc = blob_ed25519(&r, &pk);
    } else if (ki->type == FERRY_KEY_RSA) {
        rc = blob_rsa(&r, &pk);
    } else {
        rc = blob_ecdsa(&r, ki, &pk);
    }
    if (rc == FERRY_OK) {
        rc = ferry_rd_end(&r);
    }
    if (rc != FERRY_OK) {
        EVP_PKEY_free(pk);
        return rc;
    }
    return ferry__key_wrap(pk, ki->type, 0, out);
}

int ferry__key_put_bn(const ferry_key *k, const char *param, ferry_buf *out)
{
    BIGNUM *bn = NULL;
    if (EVP_PKEY_get_bn_param(k->pkey, param, &bn) != 1) {
        return ferry_err_crypto();
    }
    int r = ferry_buf_put_bignum(out, bn);
    BN_clear_free(bn);
    return r;
}

int ferry__ec_put_point(const ferry_key *k, ferry_buf *out)
{
    const struct key_info *ki = info_for_type(k->type);
    BIGNUM *x = NULL, *y = NULL;
    uint8_t pt[1 + 2 * 66];
    int r = FERRY_E_KEY_TYPE;
    if (ki == NULL || ki->group == NULL) {
        goto out;
    }
    /* From the affine coordinates, so the encoding is uncompressed whatever
     * point format the EVP_PKEY was loaded with. */
    if (EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
        EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1) {
        r = ferry_err_crypto();
        goto out;
    }
    pt[0] = 0x04;
    if (BN_bn2binpad(x, pt + 1, (int)ki->field) < 0 ||
        BN_bn2binpad(y, pt + 1 + ki->field, (int)ki->field) < 0) {
        r = ferry_err_crypto();
        goto out;
    }
    r = ferry_buf_put_string(out, pt, 1 + 2 * ki->field);
out:
    BN_free(x);
    BN_free(y);
    return r;
}

static int to_blob_inner(const ferry_key *k, ferry_buf *out)
{
    const struct key_info *ki = info_for_type(k->type);
    if (ki == NULL) {
        return FERRY_E_KEY_TYPE;
    }
    int r = ferry_buf_put_cstring(out, ki->name);
    if (r != FERRY_OK) {
        return r;
    }
    if (k->type == FERRY_KEY_ED25519) {
        uint8_t pub[32];
        size_t pl = sizeof(pub);
        if (EVP_PKEY_get_raw_public_key(k->pkey, pub, &pl) != 1 || pl != 32) {
            return ferry_err_crypto();
        }
        return ferry_buf_put_string(out, pub, pl);
    }
    if (k->type == FERRY_KEY_RSA) {
        r = ferry__key_put_bn(k, OSSL_PKEY_PARAM_RSA_E, out);
        return r == FERRY_OK ? ferry__key_put_bn(k, OSSL_PKEY_PARAM_RSA_N, out) : r;
    }
    r = ferry_buf_put_cstring(out, ki->curve);
    return r == FERRY_OK ? ferry__ec_put_point(k, out) : r;
}

int ferry_key_to_blob(const ferry_key *k, ferry_buf *out)
{
    size_t start = ferry_buf_len(out);
    int r = to_blob_inner(k, out);
    if (r != FERRY_OK) {
        ferry_buf_truncate(out, start);
    }
    return r;
}

int ferry_key_equal_public(const ferry_key *a, const ferry_key *b)
{
    if (a == NULL || b == NULL || a->type != b->type) {
        return 0;
    }
    ferry_buf *ba = ferry_buf_new(0), *bb = ferry_buf_new(0);
    int eq = ba && bb && ferry_key_to_blob(a, ba) == FERRY_OK &&
             ferry_key_to_blob(b, bb) == FERRY_OK && ferry_buf_len(ba) == ferry_buf_len(bb) &&
             memcmp(ferry_buf_data(ba), ferry_buf_data(bb), ferry_buf_len(ba)) == 0;
    ferry_buf_free(ba);
    ferry_buf_free(bb);
    return eq;
}

int ferry_key_public_copy(const ferry_key *k, ferry_key **out)
{
    ferry_buf *b = ferry_buf_new(0);
    if (b == NULL) {
        return FERRY_E_ALLOC;
    }
    int r = ferry_key_to_blob(k, b);
    if (r == FERRY_OK) {
        r = ferry_key_from_blob(ferry_buf_data(b), ferry_buf_len(b), out);
    }
    ferry_buf_free(b);
    return r;
}

/* ---- generation ---- */

int ferry_key_generate(enum ferry_key_type type, unsigned bits, ferry_key **out)
{
    const struct key_info *ki = info_for_type(type);
    EVP_PKEY *pk = NULL;
    if (ki == NULL) {
        return FERRY_E_KEY_TYPE;
    }
    if (type == FERRY_KEY_ED25519) {
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    } else if (type == FERRY_KEY_RSA) {
        if (bits == 0) {
            bits = 3072;
        }
        if (bits < FERRY_RSA_MIN_BITS) {
            return FERRY_E_KEY_WEAK;
        }
        if (bits > FERRY_RSA_MAX_BITS) {
            return FERRY_E_INVALID_ARG;
        }
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
    } else {
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", ki->group);
    }
    if (pk == NULL) {
        return ferry_err_crypto();
    }
    return ferry__key_wrap(pk, type, 1, out);
}

/* ---- signatures ---- */

static int evp_sign(EVP_PKEY *pk, const char *md, const uint8_t *data, size_t len, uint8_t **sig,
                    size_t *siglen)
{
    int r = FERRY_E_LIBCRYPTO;
    uint8_t *s = NULL;
    size_t sl = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestSignInit_ex(ctx, NULL, md, NULL, NULL, pk, NULL) != 1 ||
        EVP_DigestSign(ctx, NULL, &sl, data, len) != 1) {
        r = ferry_err_crypto();
        goto out;
    }
    s = malloc(sl ? sl : 1);
    if (s == NULL) {
        r = FERRY_E_ALLOC;
        goto out;
    }
    if (EVP_DigestSign(ctx, s, &sl, data, len) != 1) {
        r = ferry_err_crypto();
        goto out;
    }
    *sig = s;
    *siglen = sl;
    s = NULL;
    r = FERRY_OK;
out:
    free(s);
    EVP_MD_CTX_free(ctx);
    return r;
}

static int evp_verify(EVP_PKEY *pk, const char *md, const uint8_t *sig, size_t siglen,
                      const uint8_t *data, size_t len)
{
    int r = FERRY_E_SIGNATURE_INVALID;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestVerifyInit_ex(ctx, NULL, md, NULL, NULL, pk, NULL) != 1) {
        r = ferry_err_crypto();
        goto out;
    }
    if (EVP_DigestVerify(ctx, sig, siglen, data, len) == 1) {
        r = FERRY_OK;
    }
out:
    ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    return r;
}

/* DER ECDSA-Sig-Value -> string(mpint r, mpint s). */
static int ecdsa_der_to_ssh(const uint8_t *der, size_t len, ferry_buf *out)
{
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
    ferry_buf *inner = ferry_buf_new(0);
    int r = FERRY_E_ALLOC;
    if (es == NULL) {
        r = ferry_err_crypto();
        goto out;
    }
    if (inner == NULL) {
        goto out;
    }
    r = ferry_buf_put_bignum(inner, ECDSA_SIG_get0_r(es));
    if (r == FERRY_OK) {
        r = ferry_buf_put_bignum(inner, ECDSA_SIG_get0_s(es));
    }
    if (r == FERRY_OK) {
        r = ferry_buf_put_stringb(out, inner);
    }
out:
    ECDSA_SIG_free(es);
    ferry_buf_free(inner);
    return r;
}

/* string(mpint r, mpint s) contents -> DER (new heap buffer). */
static int ecdsa_ssh_to_der(const uint8_t *sig, size_t len, uint8_t **der, size_t *derlen)
{
    ferry_rd rd;
    const uint8_t *rp, *sp;
    size_t rn, sn;
    ferry_rd_init(&rd, sig, len);
    int r = ferry_rd_mpint(&rd, &rp, &rn);
    if (r == FERRY_OK) {
        r = ferry_rd_mpint(&rd, &sp, &sn);
    }
    if (r == FERRY_OK) {
        r = ferry_rd_end(&rd);
    }
    if (r != FERRY_OK) {
        return FERRY_E_FORMAT;
    }
    /* r and s are below the group order: at most 66 bytes (P-521). */
    if (rn == 0 || sn == 0 || rn > 66 || sn > 66) {
        return FERRY_E_SIGNATURE_INVALID;
    }
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *br = BN_bin2bn(rp, (int)rn, NULL), *bs = BN_bin2bn(sp, (int)sn, NULL);
    if (es == NULL || br == NULL || bs == NULL || ECDSA_SIG_set0(es, br, bs) != 1) {
        BN_free(br);
        BN_free(bs);
        ECDSA_SIG_free(es);
        return ferry_err_crypto();
    }
    unsigned char *d = NULL;
    int dl = i2d_ECDSA_SIG(es, &d);
    ECDSA_SIG_free(es);
    if (dl <= 0) {
        return ferry_err_crypto();
    }
    *der = d;
    *derlen = (size_t)dl;
    return FERRY_OK;
}

static const struct sigalg_info *default_sigalg(enum ferry_key_type t)
{
    for (size_t i = 0; i < ARRAY_LEN(sigalgs); i++) {
        if (sigalgs[i].type == t) {
            return &sigalgs[i];
        }
    }
    return NULL;
}

int ferry_key_sign(const ferry_key *k, const char *sigalg, const uint8_t *data, size_t len,
                   ferry_buf *out)
{
    const struct sigalg_info *sa =
        sigalg ? sigalg_for_name(sigalg, strlen(sigalg)) : default_sigalg(k->type);
    if (sa == NULL || sa->type != k->type) {
        return FERRY_E_KEY_TYPE;
    }
    if (!k->priv) {
        return FERRY_E_INVALID_ARG;
    }
    uint8_t *raw = NULL;
    size_t rawlen = 0;
    size_t start = ferry_buf_len(out);
    int r = evp_sign(k->pkey, sa->md, data, len, &raw, &rawlen);
    if (r == FERRY_OK) {
        r = ferry_buf_put_cstring(out, sa->name);
    }
    if (r == FERRY_OK) {
        int ec = k->type != FERRY_KEY_ED25519 && k->type != FERRY_KEY_RSA;
        r = ec ? ecdsa_der_to_ssh(raw, rawlen, out) : ferry_buf_put_string(out, raw, rawlen);
    }
    if (r != FERRY_OK) {
        ferry_buf_truncate(out, start);
    }
    free(raw);
    return r;
}

/* RFC 8332 s3: an RSA signature shorter than the modulus is left-padded
 * with zeros (as OpenSSH accepts); longer is invalid. */
static int verify_rsa(const ferry_key *k, const char *md, const uint8_t *s, size_t sl,
                      const uint8_t *data, size_t len)
{
    int mod = EVP_PKEY_get_size(k->pkey);
    if (mod <= 0 || sl == 0 || sl > (size_t)mod) {
        return FERRY_E_SIGNATURE_INVALID;
    }
    if (sl == (size_t)mod) {
        return evp_verify(k->pkey, md, s, sl, data, len);
    }
    uint8_t *pad = calloc(1, (size_t)mod);
    if (pad == NULL) {
        return FERRY_E_ALLOC;
    }
    memcpy(pad + (size_t)mod - sl, s, sl);
    int r = evp_verify(k->pkey, md, pad, (size_t)mod, data, len);
    free(pad);
    return r;
}

static int verify_raw(const ferry_key *k, const struct sigalg_info *sa, const uint8_t *s, size_t sl,
                      const uint8_t *data, size_t len)
{
    if (k->type == FERRY_KEY_ED25519) {
        if (sl != 64) {
            return FERRY_E_SIGNATURE_INVALID;
        }
        return evp_verify(k->pkey, NULL, s, sl, data, len);
    }
    if (k->type == FERRY_KEY_RSA) {
        return verify_rsa(k, sa->md, s, sl, data, len);
    }
    uint8_t *der = NULL;
    size_t derlen = 0;
    int r = ecdsa_ssh_to_der(s, sl, &der, &derlen);
    if (r == FERRY_OK) {
        r = evp_verify(k->pkey, sa->md, der, derlen, data, len);
    }
    OPENSSL_free(der);
    return r;
}

int ferry_key_verify(const ferry_key *k, const char *sigalg, const uint8_t *sig, size_t siglen,
                     const uint8_t *data, size_t len)
{
    ferry_rd rd;
    const uint8_t *name, *s;
    size_t nlen, sl;
    ferry_rd_init(&rd, sig, siglen);
    if (ferry_rd_string(&rd, &name, &nlen) != FERRY_OK ||
        ferry_rd_string(&rd, &s, &sl) != FERRY_OK || ferry_rd_end(&rd) != FERRY_OK) {
        return FERRY_E_FORMAT;
    }
    const struct sigalg_info *sa = sigalg_for_name((const char *)name, nlen);
    if (sa == NULL || sa->type != k->type) {
        return FERRY_E_SIGNATURE_INVALID;
    }
    if (sigalg != NULL ? strcmp(sigalg, sa->name) != 0 : strcmp(sa->name, "ssh-rsa") == 0) {
        /* Wrong algorithm, or SHA-1 "ssh-rsa" without being asked for. */
        return FERRY_E_SIGNATURE_INVALID;
    }
    return verify_raw(k, sa, s, sl, data, len);
}

/* ---- fingerprints, base64, public lines ---- */

int ferry_base64_encode(const uint8_t *data, size_t len, char **out)
{
    if (len > (size_t)INT32_MAX / 2) {
        return FERRY_E_TOO_LARGE;
    }
    size_t olen = 4 * ((len + 2) / 3) + 1;
    char *s = malloc(olen);
    if (s == NULL) {
        return FERRY_E_ALLOC;
    }
    int n = EVP_EncodeBlock((unsigned char *)s, data, (int)len);
    if (n < 0) {
        free(s);
        return ferry_err_crypto();
    }
    s[n] = '\0';
    *out = s;
    return FERRY_OK;
}

static int b64_char_ok(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

int ferry_base64_decode(const char *s, size_t slen, ferry_buf *out)
{
    if (slen % 4 != 0 || slen > (size_t)INT32_MAX / 2) {
        return FERRY_E_FORMAT;
    }
    if (slen == 0) {
        return FERRY_OK;
    }
    size_t pad = 0;
    while (pad < 2 && pad < slen && s[slen - 1 - pad] == '=') {
        pad++;
    }
    for (size_t i = 0; i < slen - pad; i++) {
        if (!b64_char_ok(s[i])) {
            return FERRY_E_FORMAT;
        }
    }
    size_t dlen = slen / 4 * 3;
    size_t start = ferry_buf_len(out);
    uint8_t *dst;
    int r = ferry_buf_reserve(out, dlen, &dst);
    if (r != FERRY_OK) {
        return r;
    }
    if (dlen > 0 && EVP_DecodeBlock(dst, (const unsigned char *)s, (int)slen) != (int)dlen) {
        ERR_clear_error();
        ferry_buf_truncate(out, start);
        return FERRY_E_FORMAT;
    }
    return ferry_buf_truncate(out, start + dlen - pad);
}

int ferry_key_fingerprint(const ferry_key *k, char *out, size_t outsz)
{
    uint8_t md[32];
    unsigned mdlen = 0;
    char *b64 = NULL;
    ferry_buf *b = ferry_buf_new(0);
    int r = b ? ferry_key_to_blob(k, b) : FERRY_E_ALLOC;
    if (r == FERRY_OK &&
        EVP_Digest(ferry_buf_data(b), ferry_buf_len(b), md, &mdlen, EVP_sha256(), NULL) != 1) {
        r = ferry_err_crypto();
    }
    if (r == FERRY_OK) {
        r = ferry_base64_encode(md, mdlen, &b64);
    }
    if (r == FERRY_OK) {
        size_t n = strlen(b64);
        while (n > 0 && b64[n - 1] == '=') {
            n--;
        }
        int w = snprintf(out, outsz, "SHA256:%.*s", (int)n, b64);
        r = (w < 0 || (size_t)w >= outsz) ? FERRY_E_TOO_LARGE : FERRY_OK;
    }
    free(b64);
    ferry_buf_free(b);
    return r;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Parses "type base64" at `line` and leaves *rest after the base64. */
static int parse_type_b64(const char *line, ferry_key **out, const char **rest)
{
    const char *p = line;
    while (is_space(*p)) {
        p++;
    }
    const char *t = p;
    while (*p && !is_space(*p) && *p != '\n' && *p != '\r') {
        p++;
    }
    size_t tlen = (size_t)(p - t);
    while (is_space(*p)) {
        p++;
    }
    const char *b = p;
    while (*p && !is_space(*p) && *p != '\n' && *p != '\r') {
        p++;
    }
    const struct key_info *ki = info_for_name(t, tlen);
    if (ki == NULL) {
        return tlen == 0 ? FERRY_E_FORMAT : FERRY_E_KEY_TYPE;
    }
    ferry_buf *blob = ferry_buf_new(64 * 1024);
    ferry_key *k = NULL;
    int r = blob ? ferry_base64_decode(b, (size_t)(p - b), blob) : FERRY_E_ALLOC;
    if (r == FERRY_OK) {
        r = ferry_key_from_blob(ferry_buf_data(blob), ferry_buf_len(blob), &k);
    }
    ferry_buf_free(blob);
    if (r == FERRY_OK && k->type != ki->type) {
        ferry_key_free(k);
        r = FERRY_E_KEY_TYPE;
    }
    if (r == FERRY_OK) {
        *out = k;
        *rest = p;
    }
    return r;
}

int ferry_key_parse_public_line(const char *line, ferry_key **out, char **comment)
{
    ferry_key *k = NULL;
    const char *p = NULL;
    int r = parse_type_b64(line, &k, &p);
    if (r != FERRY_OK) {
        return r;
    }
    if (*p != '\0' && !is_space(*p) && *p != '\n' && *p != '\r') {
        ferry_key_free(k);
        return FERRY_E_FORMAT;
    }
    if (comment != NULL) {
        while (is_space(*p)) {
            p++;
        }
        size_t n = strcspn(p, "\r\n");
        while (n > 0 && is_space(p[n - 1])) {
            n--;
        }
        *comment = strndup(p, n);
        if (*comment == NULL) {
            ferry_key_free(k);
            return FERRY_E_ALLOC;
        }
    }
    *out = k;
    return FERRY_OK;
}

int ferry_key_format_public_line(const ferry_key *k, const char *comment, char **out)
{
    char *b64 = NULL;
    ferry_buf *blob = ferry_buf_new(0);
    int r = blob ? ferry_key_to_blob(k, blob) : FERRY_E_ALLOC;
    if (r == FERRY_OK) {
        r = ferry_base64_encode(ferry_buf_data(blob), ferry_buf_len(blob), &b64);
    }
    if (r == FERRY_OK) {
        int has = comment != NULL && comment[0] != '\0';
        if (asprintf(out, "%s %s%s%s", ferry_key_type_name(k), b64, has ? " " : "",
                     has ? comment : "") < 0) {
            r = FERRY_E_ALLOC;
        }
    }
    free(b64);
    ferry_buf_free(blob);
    return r;
}
