/* kexalg.c: key-exchange primitives over OpenSSL 3 EVP (see kexalg.h).
 *
 * Every curve and group operation is OpenSSL's; this file only chooses
 * parameters, validates peer values before they reach libcrypto, and
 * encodes results in SSH wire form. */
#include "crypto/kexalg.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/dh.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "util/err.h"

/* Lower bound on every DH group we use or accept (RFC 8270). */
#define KEX_DH_MIN_BITS 2048
/* Largest field element we handle: the mpint reader's limit. */
#define KEX_MAX_BYTES FERRY_MPINT_MAX_BYTES
#define X25519_LEN    32

/* clang-format off */
static const ferry_kex_alg kex_algs[] = {
    {.name = "curve25519-sha256", .type = FERRY_KEX_X25519,
     .hash = "SHA256", .hash_len = 32, .group = "X25519"},
    {.name = "curve25519-sha256@libssh.org", .type = FERRY_KEX_X25519,
     .hash = "SHA256", .hash_len = 32, .group = "X25519"},
    {.name = "ecdh-sha2-nistp256", .type = FERRY_KEX_ECDH,
     .hash = "SHA256", .hash_len = 32, .group = "P-256"},
    {.name = "ecdh-sha2-nistp384", .type = FERRY_KEX_ECDH,
     .hash = "SHA384", .hash_len = 48, .group = "P-384"},
    {.name = "ecdh-sha2-nistp521", .type = FERRY_KEX_ECDH,
     .hash = "SHA512", .hash_len = 64, .group = "P-521"},
    {.name = "diffie-hellman-group-exchange-sha256", .type = FERRY_KEX_DHGEX,
     .hash = "SHA256", .hash_len = 32, .group = NULL},
    {.name = "diffie-hellman-group16-sha512", .type = FERRY_KEX_DH,
     .hash = "SHA512", .hash_len = 64, .group = "modp_4096"},
    {.name = "diffie-hellman-group18-sha512", .type = FERRY_KEX_DH,
     .hash = "SHA512", .hash_len = 64, .group = "modp_8192"},
    {.name = "diffie-hellman-group14-sha256", .type = FERRY_KEX_DH,
     .hash = "SHA256", .hash_len = 32, .group = "modp_2048"},
};
/* clang-format on */

#define KEX_COMMON_HEAD "curve25519-sha256,curve25519-sha256@libssh.org,"
#define KEX_NIST        "ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
#define KEX_DH_TAIL                                                                                \
    "diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,"                          \
    "diffie-hellman-group18-sha512,diffie-hellman-group14-sha256"

struct ferry_kex_eph {
    const ferry_kex_alg *alg;
    EVP_PKEY *key;
    BIGNUM *p;       /* DH/GEX: the modulus, for the peer range check */
    size_t elem_len; /* ECDH: bytes per coordinate; DH: bytes of p */
};

const ferry_kex_alg *ferry_kexalg_by_name(const char *name)
{
    if (name == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof(kex_algs) / sizeof(kex_algs[0]); i++) {
        if (strcmp(kex_algs[i].name, name) == 0) {
            return &kex_algs[i];
        }
    }
    return NULL;
}

const char *ferry_kexalg_supported(void)
{
    return KEX_COMMON_HEAD KEX_NIST KEX_DH_TAIL;
}

const char *ferry_kexalg_default_client(void)
{
    return KEX_COMMON_HEAD KEX_NIST KEX_DH_TAIL;
}

const char *ferry_kexalg_default_server(void)
{
    return KEX_COMMON_HEAD KEX_DH_TAIL;
}

void ferry_kex_eph_free(ferry_kex_eph *e)
{
    if (e == NULL) {
        return;
    }
    EVP_PKEY_free(e->key);
    BN_clear_free(e->p);
    OPENSSL_clear_free(e, sizeof(*e));
}

/* ---- DH parameters ---- */

/* Symmetric strength of a MODP group (NIST SP 800-57 / RFC 8268 s2). */
static unsigned dh_strength_bits(int pbits)
{
    if (pbits <= 2048) {
        return 112;
    } else if (pbits <= 3072) {
        return 128;
    } else if (pbits <= 4096) {
        return 152;
    } else if (pbits <= 6144) {
        return 176;
    } else if (pbits <= 8192) {
        return 200;
    }
    return 256;
}

/* Private exponent length: at least twice the group's strength and no
 * less than the hash size (RFC 8268 s4). */
static int dh_priv_bits(const ferry_kex_alg *alg, int pbits)
{
    unsigned n = 2 * dh_strength_bits(pbits);
    if (alg->hash_len * 8 > n) {
        n = alg->hash_len * 8;
    }
    return (int)n;
}

/* FERRY_OK if 1 < x < p-1, FERRY_E_KEY_WEAK otherwise. */
static int in_open_range(const BIGNUM *x, const BIGNUM *p)
{
    int r = FERRY_E_KEY_WEAK;
    BIGNUM *pm1 = BN_dup(p);
    if (pm1 == NULL || !BN_sub_word(pm1, 1)) {
        r = ferry_err_crypto();
    } else if (BN_cmp(x, BN_value_one()) > 0 && BN_cmp(x, pm1) < 0) {
        r = FERRY_OK;
    }
    BN_free(pm1);
    return r;
}

/* p odd and not absurdly large, 1 < g < p-1. */
static int gex_group_sane(const BIGNUM *p, const BIGNUM *g)
{
    if (p == NULL || g == NULL || BN_is_negative(p) || BN_is_negative(g)) {
        return FERRY_E_INVALID_ARG;
    }
    if (BN_num_bytes(p) > KEX_MAX_BYTES) {
        return FERRY_E_TOO_LARGE;
    }
    if (!BN_is_odd(p) || BN_num_bits(p) < 3) {
        return FERRY_E_FORMAT;
    }
    return in_open_range(g, p);
}

/* Size of a named MODP group ("modp_2048" -> 2048); 0 if not one. */
static int modp_bits(const char *group)
{
    if (strncmp(group, "modp_", 5) != 0) {
        return 0;
    }
    return (int)strtol(group + 5, NULL, 10);
}

/* EVP_PKEY_fromdata of key type `type` with the parameters in `bld`
 * (borrowed). */
static int pkey_from_bld(const char *type, int selection, OSSL_PARAM_BLD *bld, EVP_PKEY **out)
{
    int r = FERRY_OK;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, out, selection, params) <= 0) {
        r = ferry_err_crypto();
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return r;
}

/* Domain parameters (p, g) as an EVP_PKEY "DH" (for GEX). */
static int dh_domain_from_pg(const BIGNUM *p, const BIGNUM *g, EVP_PKEY **out)
{
    int r;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (bld == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_P, p) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_G, g)) {
        r = ferry_err_crypto();
    } else {
        r = pkey_from_bld("DH", EVP_PKEY_KEY_PARAMETERS, bld, out);
    }
    OSSL_PARAM_BLD_free(bld);
    return r;
}

/* Generates a DH key: from the named group `group`, or (group NULL) from
 * explicit (p, g). */
static int dh_keygen(const ferry_kex_alg *alg, const BIGNUM *p, const BIGNUM *g, EVP_PKEY **out)
{
    int r = FERRY_E_INTERNAL;
    EVP_PKEY *dom = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    int pbits = alg->group != NULL ? 0 : BN_num_bits(p);
    if (alg->group == NULL) {
        if ((r = dh_domain_from_pg(p, g, &dom)) != FERRY_OK) {
            goto out;
        }
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, dom, NULL);
    } else {
        pbits = modp_bits(alg->group);
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
    }
    int priv = dh_priv_bits(alg, pbits);
    OSSL_PARAM params[3];
    size_t i = 0;
    if (alg->group != NULL) {
        params[i++] =
            OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)alg->group, 0);
    }
    params[i++] = OSSL_PARAM_construct_int(OSSL_PKEY_PARAM_DH_PRIV_LEN, &priv);
    params[i] = OSSL_PARAM_construct_end();
    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_params(ctx, params) <= 0 || EVP_PKEY_generate(ctx, out) <= 0) {
        r = ferry_err_crypto();
        goto out;
    }
    r = FERRY_OK;
out:
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(dom);
    return r;
}

/* ---- public values ---- */

/* Appends this side's public value in the method's wire form. */
static int put_public(const ferry_kex_eph *e, ferry_buf *pub)
{
    uint8_t tmp[1 + 2 * 66];
    size_t n = 0;
    BIGNUM *y = NULL;
    int r;
    switch (e->alg->type) {
    case FERRY_KEX_X25519:
        n = sizeof(tmp);
        if (EVP_PKEY_get_raw_public_key(e->key, tmp, &n) != 1 || n != X25519_LEN) {
            return ferry_err_crypto();
        }
        return ferry_buf_put_string(pub, tmp, n);
    case FERRY_KEX_ECDH:
        if (EVP_PKEY_get_octet_string_param(e->key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, tmp,
                                            sizeof(tmp), &n) != 1 ||
            n != 1 + 2 * e->elem_len || tmp[0] != 0x04) {
            return ferry_err_crypto();
        }
        return ferry_buf_put_string(pub, tmp, n);
    case FERRY_KEX_DH:
    case FERRY_KEX_DHGEX:
        if (EVP_PKEY_get_bn_param(e->key, OSSL_PKEY_PARAM_PUB_KEY, &y) != 1) {
            return ferry_err_crypto();
        }
        r = ferry_buf_put_bignum(pub, y);
        BN_free(y);
        return r;
    }
    return FERRY_E_INTERNAL;
}

/* Fills the per-type fields (p, elem_len) of a fresh eph from its key. */
static int eph_finish(ferry_kex_eph *e)
{
    switch (e->alg->type) {
    case FERRY_KEX_X25519:
        e->elem_len = X25519_LEN;
        return FERRY_OK;
    case FERRY_KEX_ECDH:
        e->elem_len = ((size_t)EVP_PKEY_get_bits(e->key) + 7) / 8;
        return e->elem_len > 0 && e->elem_len <= 66 ? FERRY_OK : FERRY_E_INTERNAL;
    case FERRY_KEX_DH:
    case FERRY_KEX_DHGEX:
        if (EVP_PKEY_get_bn_param(e->key, OSSL_PKEY_PARAM_FFC_P, &e->p) != 1) {
            return ferry_err_crypto();
        }
        e->elem_len = (size_t)BN_num_bytes(e->p);
        return FERRY_OK;
    }
    return FERRY_E_INTERNAL;
}

static int eph_keygen(const ferry_kex_alg *alg, const BIGNUM *p, const BIGNUM *g, EVP_PKEY **key)
{
    int r;
    switch (alg->type) {
    case FERRY_KEX_X25519:
        *key = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
        break;
    case FERRY_KEX_ECDH:
        *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", alg->group);
        break;
    case FERRY_KEX_DH:
        return dh_keygen(alg, NULL, NULL, key);
    case FERRY_KEX_DHGEX:
        if ((r = gex_group_sane(p, g)) != FERRY_OK) {
            return r;
        }
        return dh_keygen(alg, p, g, key);
    }
    return *key != NULL ? FERRY_OK : ferry_err_crypto();
}

/* Wraps a generated key into an eph and appends its public value. Takes
 * ownership of `key` in every case. */
static int eph_wrap(ferry_kex_eph **out, const ferry_kex_alg *alg, EVP_PKEY *key, ferry_buf *pub)
{
    int r = FERRY_E_INTERNAL;
    ferry_kex_eph *e = OPENSSL_zalloc(sizeof(*e));
    if (e == NULL) {
        EVP_PKEY_free(key);
        return FERRY_E_ALLOC;
    }
    e->alg = alg;
    e->key = key;
    size_t mark = ferry_buf_len(pub);
    if ((r = eph_finish(e)) != FERRY_OK || (r = put_public(e, pub)) != FERRY_OK) {
        (void)ferry_buf_truncate(pub, mark);
        ferry_kex_eph_free(e);
        return r;
    }
    *out = e;
    return FERRY_OK;
}

int ferry_kex_eph_new(ferry_kex_eph **out, const ferry_kex_alg *alg, const BIGNUM *p,
                      const BIGNUM *g, ferry_buf *pub)
{
    EVP_PKEY *key = NULL;
    if (out == NULL || alg == NULL || pub == NULL) {
        return FERRY_E_INVALID_ARG;
    }
    *out = NULL;
    int r = eph_keygen(alg, p, g, &key);
    if (r != FERRY_OK) {
        EVP_PKEY_free(key);
        return r;
    }
    return eph_wrap(out, alg, key, pub);
}

/* ---- shared secrets ---- */

/* Runs EVP_PKEY_derive(own, peer) into out[cap]; *outlen gets the size.
 * For DH (is_dh) the result is padded to the size of p. Failures here are
 * caused by the peer's value (OpenSSL refuses low-order X25519 points and
 * EC points not in the group): KEY_WEAK. */
static int evp_derive(EVP_PKEY *own, EVP_PKEY *peer, int is_dh, uint8_t *out, size_t cap,
                      size_t *outlen)
{
    int r = FERRY_E_KEY_WEAK;
    size_t n = 0;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, own, NULL);
    if (ctx == NULL || EVP_PKEY_derive_init(ctx) <= 0 ||
        (is_dh && EVP_PKEY_CTX_set_dh_pad(ctx, 1) <= 0)) {
        r = ferry_err_crypto();
        goto out;
    }
    /* DH: our range check already excludes the only small subgroups of a
     * safe-prime group ({1}, {1, p-1}); OpenSSL's full y^q check costs
     * ~90 ms for 8192 bits and is skipped. EC and X25519 keep it. */
    if (EVP_PKEY_derive_set_peer_ex(ctx, peer, !is_dh) <= 0 ||
        EVP_PKEY_derive(ctx, NULL, &n) <= 0 || n > cap || EVP_PKEY_derive(ctx, out, &n) <= 0) {
        (void)ferry_err_crypto();
        r = FERRY_E_KEY_WEAK;
        goto out;
    }
    *outlen = n;
    r = FERRY_OK;
out:
    EVP_PKEY_CTX_free(ctx);
    return r;
}

/* Builds the peer's public key for X25519 / ECDH / DH from its bytes. */
static int peer_key(const ferry_kex_eph *e, const uint8_t *peer, size_t peer_len, EVP_PKEY **out)
{
    EVP_PKEY *k = NULL;
    if (e->alg->type == FERRY_KEX_X25519) {
        k = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, peer_len);
        if (k == NULL) {
            (void)ferry_err_crypto();
            return FERRY_E_FORMAT;
        }
        *out = k;
        return FERRY_OK;
    }
    /* EC: oct2point refuses points off the curve; DH: the range was checked
     * by the caller and OpenSSL repeats a partial check. */
    if ((k = EVP_PKEY_new()) == NULL || EVP_PKEY_copy_parameters(k, e->key) != 1) {
        EVP_PKEY_free(k);
        return ferry_err_crypto();
    }
    if (EVP_PKEY_set1_encoded_public_key(k, peer, peer_len) != 1) {
        (void)ferry_err_crypto();
        EVP_PKEY_free(k);
        return FERRY_E_KEY_WEAK;
    }
    *out = k;
    return FERRY_OK;
}

/* Peer-value checks before anything reaches libcrypto. */
static int check_peer(const ferry_kex_eph *e, const uint8_t *peer, size_t peer_len)
{
    int r;
    BIGNUM *f = NULL;
    switch (e->alg->type) {
    case FERRY_KEX_X25519:
        return peer_len == X25519_LEN ? FERRY_OK : FERRY_E_FORMAT;
    case FERRY_KEX_ECDH:
        /* RFC 5656 s4: uncompressed point only (0x04 || X || Y). */
        if (peer_len != 1 + 2 * e->elem_len || peer[0] != 0x04) {
            return FERRY_E_FORMAT;
        }
        return FERRY_OK;
    case FERRY_KEX_DH:
    case FERRY_KEX_DHGEX:
        break;
    }
    /* RFC 4253 s8: values not in [1, p-1] must not be accepted; we also
     * refuse 1 and p-1 (order 1 and 2). */
    if (peer_len > KEX_MAX_BYTES) {
        return FERRY_E_KEY_WEAK;
    }
    if ((f = BN_bin2bn(peer, (int)peer_len, NULL)) == NULL) {
        return ferry_err_crypto();
    }
    r = in_open_range(f, e->p);
    BN_clear_free(f);
    return r;
}

/* Non-zero if all n bytes are zero, in time independent of the values. */
static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= p[i];
    }
    return acc == 0;
}

int ferry_kex_eph_derive(ferry_kex_eph *e, const uint8_t *peer, size_t peer_len, ferry_buf *k_mpint)
{
    int r = FERRY_E_INTERNAL;
    EVP_PKEY *pk = NULL;
    uint8_t secret[KEX_MAX_BYTES];
    size_t n = 0;
    if (e == NULL || k_mpint == NULL || (peer == NULL && peer_len > 0)) {
        return FERRY_E_INVALID_ARG;
    }
    if (peer_len == 0) {
        return e->alg->type == FERRY_KEX_DH || e->alg->type == FERRY_KEX_DHGEX ? FERRY_E_KEY_WEAK
                                                                               : FERRY_E_FORMAT;
    }
    if ((r = check_peer(e, peer, peer_len)) != FERRY_OK ||
        (r = peer_key(e, peer, peer_len, &pk)) != FERRY_OK) {
        goto out;
    }
    int is_dh = e->alg->type == FERRY_KEX_DH || e->alg->type == FERRY_KEX_DHGEX;
    if ((r = evp_derive(e->key, pk, is_dh, secret, sizeof(secret), &n)) != FERRY_OK) {
        goto out;
    }
    /* RFC 8731 s3: an all-zero X25519 result must be refused; for the
     * other types a zero secret cannot come from a valid peer value. */
    if (all_zero(secret, n)) {
        r = FERRY_E_KEY_WEAK;
        goto out;
    }
    /* K as an mpint of the unsigned big-endian value: the X25519 output
     * bytes (RFC 8731 s3.1), the x coordinate (RFC 5656 s4), or g^xy mod p. */
    r = ferry_buf_put_mpint(k_mpint, secret, n);
out:
    OPENSSL_cleanse(secret, sizeof(secret));
    EVP_PKEY_free(pk);
    return r;
}

/* ---- hashing and key derivation ---- */

int ferry_kex_hash(const ferry_kex_alg *alg, const uint8_t *data, size_t len, uint8_t *out)
{
    int r = FERRY_E_INTERNAL;
    unsigned int olen = 0;
    if (alg == NULL || out == NULL || (data == NULL && len > 0)) {
        return FERRY_E_INVALID_ARG;
    }
    EVP_MD *md = EVP_MD_fetch(NULL, alg->hash, NULL);
    if (md == NULL ||
        EVP_Digest(data != NULL ? data : (const uint8_t *)"", len, out, &olen, md, NULL) != 1) {
        r = ferry_err_crypto();
        goto out;
    }
    r = olen == alg->hash_len ? FERRY_OK : FERRY_E_INTERNAL;
out:
    EVP_MD_free(md);
    return r;
}

/* RFC 4253 s7.2:
 *   K1 = HASH(K || H || X || session_id)
 *   Kn = HASH(K || H || K1 || ... || Kn-1)
 * with K the mpint encoding of the shared secret. out[0..have) always
 * holds K1 || ... || Kn (only the last block may be cut). */
int ferry_kex_derive_key(const ferry_kex_alg *alg, const uint8_t *k_mpint, size_t k_len,
                         const uint8_t *h, size_t h_len, const uint8_t *sid, size_t sid_len,
                         char letter, uint8_t *out, size_t need)
{
    int r = FERRY_E_INTERNAL;
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    size_t have = 0;
    if (alg == NULL || k_mpint == NULL || h == NULL || sid == NULL || out == NULL || letter < 'A' ||
        letter > 'F') {
        return FERRY_E_INVALID_ARG;
    }
    EVP_MD *md = EVP_MD_fetch(NULL, alg->hash, NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (md == NULL || ctx == NULL) {
        r = ferry_err_crypto();
        goto out;
    }
    while (have < need) {
        int ok = EVP_DigestInit_ex2(ctx, md, NULL) == 1 &&
                 EVP_DigestUpdate(ctx, k_mpint, k_len) == 1 && EVP_DigestUpdate(ctx, h, h_len) == 1;
        if (have == 0) {
            ok = ok && EVP_DigestUpdate(ctx, &letter, 1) == 1 &&
                 EVP_DigestUpdate(ctx, sid, sid_len) == 1;
        } else {
            ok = ok && EVP_DigestUpdate(ctx, out, have) == 1;
        }
        if (!ok || EVP_DigestFinal_ex(ctx, d, &dl) != 1 || dl != alg->hash_len) {
            r = ok ? FERRY_E_INTERNAL : ferry_err_crypto();
            goto out;
        }
        size_t take = need - have < dl ? need - have : dl;
        memcpy(out + have, d, take);
        have += take;
    }
    r = FERRY_OK;
out:
    OPENSSL_cleanse(d, sizeof(d));
    if (r != FERRY_OK && out != NULL) {
        OPENSSL_cleanse(out, need);
    }
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    return r;
}

/* ---- group exchange ---- */

static const struct {
    int bits;
    BIGNUM *(*prime)(BIGNUM *);
} gex_groups[] = {
    {2048, BN_get_rfc3526_prime_2048}, {3072, BN_get_rfc3526_prime_3072},
    {4096, BN_get_rfc3526_prime_4096}, {6144, BN_get_rfc3526_prime_6144},
    {8192, BN_get_rfc3526_prime_8192},
};
#define GEX_NGROUPS (sizeof(gex_groups) / sizeof(gex_groups[0]))

/* RFC 4419 s3: the server picks the group. We prefer the smallest of the
 * RFC 3526 groups with at least n bits inside [max(min, 2048), max], else
 * the largest that fits. An n outside [min, max] is clamped. */
int ferry_kex_gex_choose(uint32_t min, uint32_t n, uint32_t max, BIGNUM **p, BIGNUM **g)
{
    BIGNUM *bp = NULL, *bg = NULL;
    if (p == NULL || g == NULL) {
        return FERRY_E_INVALID_ARG;
    }
    uint32_t lo = min > KEX_DH_MIN_BITS ? min : KEX_DH_MIN_BITS;
    int pick = -1;
    for (size_t i = 0; i < GEX_NGROUPS; i++) {
        uint32_t bits = (uint32_t)gex_groups[i].bits;
        if (bits < lo || bits > max) {
            continue;
        }
        pick = (int)i;
        if (bits >= n) {
            break;
        }
    }
    if (pick < 0) {
        return FERRY_E_NO_ALG_MATCH;
    }
    if ((bp = gex_groups[pick].prime(NULL)) == NULL || (bg = BN_new()) == NULL ||
        !BN_set_word(bg, 2)) {
        BN_free(bp);
        BN_free(bg);
        return ferry_err_crypto();
    }
    *p = bp;
    *g = bg;
    return FERRY_OK;
}

int ferry_kex_gex_check(const BIGNUM *p, const BIGNUM *g, uint32_t min, uint32_t max)
{
    uint32_t lo = min > KEX_DH_MIN_BITS ? min : KEX_DH_MIN_BITS;
    int r = gex_group_sane(p, g);
    if (r != FERRY_OK) {
        return r == FERRY_E_TOO_LARGE ? FERRY_E_FORMAT : r;
    }
    uint32_t bits = (uint32_t)BN_num_bits(p);
    if (bits < lo) {
        return FERRY_E_KEY_WEAK;
    }
    if (bits > max) {
        return FERRY_E_FORMAT;
    }
    return FERRY_OK;
}

/* ---- test hook ---- */

/* Public point (uncompressed) for scalar d on the named curve. */
static int ec_pub_from_priv(const char *curve, const BIGNUM *d, uint8_t *pub, size_t cap, size_t *n)
{
    int r = FERRY_E_INTERNAL;
    EC_GROUP *grp = EC_GROUP_new_by_curve_name(EC_curve_nist2nid(curve));
    EC_POINT *pt = grp != NULL ? EC_POINT_new(grp) : NULL;
    if (pt == NULL || !EC_POINT_mul(grp, pt, d, NULL, NULL, NULL) ||
        (*n = EC_POINT_point2oct(grp, pt, POINT_CONVERSION_UNCOMPRESSED, pub, cap, NULL)) == 0) {
        r = ferry_err_crypto();
        goto out;
    }
    r = FERRY_OK;
out:
    EC_POINT_free(pt);
    EC_GROUP_free(grp);
    return r;
}

static int ec_key_from_priv(const char *curve, const uint8_t *priv, size_t len, EVP_PKEY **out)
{
    int r = FERRY_E_INTERNAL;
    uint8_t pub[1 + 2 * 66];
    size_t n = 0;
    BIGNUM *d = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    if (len > 66 || (d = BN_bin2bn(priv, (int)len, NULL)) == NULL) {
        r = FERRY_E_INVALID_ARG;
        goto out;
    }
    if ((r = ec_pub_from_priv(curve, d, pub, sizeof(pub), &n)) != FERRY_OK) {
        goto out;
    }
    if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curve, 0) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, n)) {
        r = ferry_err_crypto();
        goto out;
    }
    r = pkey_from_bld("EC", EVP_PKEY_KEYPAIR, bld, out);
out:
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(d);
    return r;
}

/* A key pair of the named MODP group from exponent x; y = 2^x mod p is
 * computed here so the result does not depend on OpenSSL's DH code. */
static int dh_key_from_priv(const ferry_kex_alg *alg, const uint8_t *priv, size_t len,
                            EVP_PKEY **out)
{
    int r = FERRY_E_INTERNAL;
    BIGNUM *x = NULL, *y = NULL, *p = NULL, *g = NULL;
    BN_CTX *bnctx = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    for (size_t i = 0; i < GEX_NGROUPS; i++) {
        if (gex_groups[i].bits == modp_bits(alg->group)) {
            p = gex_groups[i].prime(NULL);
        }
    }
    if (p == NULL || len > KEX_MAX_BYTES || (x = BN_bin2bn(priv, (int)len, NULL)) == NULL ||
        (y = BN_new()) == NULL || (g = BN_new()) == NULL || !BN_set_word(g, 2) ||
        (bnctx = BN_CTX_new()) == NULL || !BN_mod_exp(y, g, x, p, bnctx)) {
        r = ferry_err_crypto();
        goto out;
    }
    if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, alg->group, 0) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, x) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, y)) {
        r = ferry_err_crypto();
        goto out;
    }
    r = pkey_from_bld("DH", EVP_PKEY_KEYPAIR, bld, out);
out:
    OSSL_PARAM_BLD_free(bld);
    BN_CTX_free(bnctx);
    BN_clear_free(x);
    BN_free(y);
    BN_free(p);
    BN_free(g);
    return r;
}

int ferry__kex_eph_from_private(ferry_kex_eph **out, const ferry_kex_alg *alg, const uint8_t *priv,
                                size_t priv_len, ferry_buf *pub)
{
    EVP_PKEY *key = NULL;
    int r = FERRY_E_UNSUPPORTED;
    if (out == NULL || alg == NULL || priv == NULL || pub == NULL) {
        return FERRY_E_INVALID_ARG;
    }
    *out = NULL;
    if (alg->type == FERRY_KEX_X25519) {
        key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, priv_len);
        r = key != NULL ? FERRY_OK : ferry_err_crypto();
    } else if (alg->type == FERRY_KEX_ECDH) {
        r = ec_key_from_priv(alg->group, priv, priv_len, &key);
    } else if (alg->type == FERRY_KEX_DH) {
        r = dh_key_from_priv(alg, priv, priv_len, &key);
    }
    if (r != FERRY_OK) {
        EVP_PKEY_free(key);
        return r;
    }
    return eph_wrap(out, alg, key, pub);
}
