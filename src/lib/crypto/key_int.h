/* key_int.h: what key.c shares with keyfile.c (not exported). */
#ifndef FERRY_CRYPTO_KEY_INT_H
#define FERRY_CRYPTO_KEY_INT_H

#include <openssl/bn.h>
#include <openssl/evp.h>

#include "crypto/key.h"

/* Smallest RSA modulus accepted anywhere, and the largest. */
#define FERRY_RSA_MIN_BITS 2048
#define FERRY_RSA_MAX_BITS 16384

/* Wraps `pk` (ownership taken, also on failure) in a new key of `type`.
 * `priv` says whether it holds private material. */
int ferry__key_wrap(EVP_PKEY *pk, enum ferry_key_type type, int priv, ferry_key **out);
/* Wraps an EVP_PKEY of unknown kind (from PEM): detects the type, refuses
 * unsupported curves and weak RSA. Ownership of pk taken. */
int ferry__key_from_pkey(EVP_PKEY *pk, ferry_key **out);
/* The key's EVP_PKEY, borrowed for the key's lifetime. */
EVP_PKEY *ferry__key_pkey(const ferry_key *k);
/* Appends the key's BIGNUM parameter `param` (OSSL_PKEY_PARAM_*) as an
 * mpint. */
int ferry__key_put_bn(const ferry_key *k, const char *param, ferry_buf *out);
/* SSH curve id ("nistp256") for an ECDSA type, NULL otherwise. */
const char *ferry__key_curve(enum ferry_key_type type);

/* Builds an EC key on the curve of `type` from an uncompressed point
 * (and private scalar d when non-NULL); checks the point is on the curve
 * and, with d, that d matches it. */
int ferry__ec_pkey(enum ferry_key_type type, const uint8_t *q, size_t qlen, const BIGNUM *d,
                   EVP_PKEY **out);
/* Appends the uncompressed public point of an ECDSA key as a string. */
int ferry__ec_put_point(const ferry_key *k, ferry_buf *out);
/* Builds an RSA key from n, e (public) and optionally d, p, q, iqmp
 * (all four or none). Checks size limits and consistency. */
int ferry__rsa_pkey(const BIGNUM *n, const BIGNUM *e, const BIGNUM *d, const BIGNUM *p,
                    const BIGNUM *q, const BIGNUM *iqmp, EVP_PKEY **out);
/* Builds an Ed25519 key from the 32-byte public key (and 32-byte seed
 * when non-NULL, checked against the public key). */
int ferry__ed25519_pkey(const uint8_t *pub, const uint8_t *seed, EVP_PKEY **out);

#endif
