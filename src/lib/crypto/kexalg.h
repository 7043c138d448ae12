/* kexalg.h: key-exchange primitives over OpenSSL EVP: ephemeral key pairs,
 * shared secrets, the exchange-hash function and key derivation (RFC 4253
 * s7.2). The kex state machine (which messages, which order) lives in
 * ssh/; this module only computes.
 *
 * Methods: curve25519-sha256 (+ @libssh.org alias, RFC 8731),
 * ecdh-sha2-nistp256/384/521 (RFC 5656), diffie-hellman-group14-sha256,
 * group16-sha512, group18-sha512 (RFC 8268), and
 * diffie-hellman-group-exchange-sha256 (RFC 4419).
 */
#ifndef FERRY_CRYPTO_KEXALG_H
#define FERRY_CRYPTO_KEXALG_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bn.h>

#include "util/buf.h"

enum ferry_kex_type {
    FERRY_KEX_X25519,
    FERRY_KEX_ECDH,  /* NIST curves */
    FERRY_KEX_DH,    /* fixed MODP group */
    FERRY_KEX_DHGEX, /* group exchange */
};

typedef struct ferry_kex_alg {
    const char *name;
    enum ferry_kex_type type;
    const char *hash;  /* OpenSSL digest name: "SHA256", "SHA384", "SHA512" */
    unsigned hash_len; /* bytes */
    const char *group; /* curve name ("X25519", "P-256", ...) or fixed-group id ("modp_2048") */
} ferry_kex_alg;

const ferry_kex_alg *ferry_kexalg_by_name(const char *name);
/* All supported names, OpenSSH's order (static). Includes the pseudo-names
 * handled by the transport ("ext-info-c", "kex-strict-*") only in
 * ferry_kexalg_default_client/server. */
const char *ferry_kexalg_supported(void);
/* Default offers (without the ext-info / strict-kex pseudo-algorithms,
 * which the transport appends): the client offers OpenSSH's client list;
 * the server leaves out the NIST ECDH methods (ssh-audit clean). */
const char *ferry_kexalg_default_client(void);
const char *ferry_kexalg_default_server(void);

/* One side's ephemeral key for one exchange. */
typedef struct ferry_kex_eph ferry_kex_eph;

/* Generates an ephemeral key pair. For FERRY_KEX_DHGEX pass the group
 * (p, g) chosen by the server (borrowed; copied); NULL otherwise. Appends
 * this side's public value to `pub` in the wire form the method uses:
 * X25519/ECDH as a string (the raw 32 bytes / uncompressed point), DH as an
 * mpint. */
int ferry_kex_eph_new(ferry_kex_eph **out, const ferry_kex_alg *alg, const BIGNUM *p,
                      const BIGNUM *g, ferry_buf *pub);
void ferry_kex_eph_free(ferry_kex_eph *e);

/* Computes the shared secret from the peer's public value as found in the
 * message (peer/peer_len: the string's bytes for X25519/ECDH, the mpint's
 * magnitude for DH). Validates it first: DH 1 < f < p-1; ECDH point on the
 * curve; X25519 result not all-zero; wrong lengths. On success appends K
 * as an mpint (RFC 4253 s8, RFC 8731 s3.1, RFC 5656 s4) to `k_mpint`
 * (which should be a secret buffer). FERRY_E_FORMAT / FERRY_E_KEY_WEAK on
 * bad peer values. */
int ferry_kex_eph_derive(ferry_kex_eph *e, const uint8_t *peer, size_t peer_len,
                         ferry_buf *k_mpint);

/* HASH(data) with the method's hash; out must hold alg->hash_len bytes. */
int ferry_kex_hash(const ferry_kex_alg *alg, const uint8_t *data, size_t len, uint8_t *out);

/* RFC 4253 s7.2: derives `need` bytes of key material for `letter` ('A'
 * to 'F') from K (the mpint-encoded bytes as appended by eph_derive),
 * the exchange hash H and the session id. */
int ferry_kex_derive_key(const ferry_kex_alg *alg, const uint8_t *k_mpint, size_t k_len,
                         const uint8_t *h, size_t h_len, const uint8_t *sid, size_t sid_len,
                         char letter, uint8_t *out, size_t need);

/* Group exchange (RFC 4419), server side: picks a safe prime group of at
 * least max(min, 2048) bits, preferring `n`, at most max. Returns new
 * BIGNUMs (caller frees). FERRY_E_NO_ALG_MATCH if nothing fits. Groups
 * are the RFC 3526 / RFC 8268 MODP groups (2048..8192 bits). */
int ferry_kex_gex_choose(uint32_t min, uint32_t n, uint32_t max, BIGNUM **p, BIGNUM **g);
/* Group exchange, client side: checks a server-chosen group: p odd,
 * bits within [max(min,2048), max], 1 < g < p-1. FERRY_E_KEY_WEAK or
 * FERRY_E_FORMAT otherwise. */
int ferry_kex_gex_check(const BIGNUM *p, const BIGNUM *g, uint32_t min, uint32_t max);

/* For tests only: like ferry_kex_eph_new but from a fixed private key
 * (X25519: the 32 raw bytes; ECDH and fixed-group DH: the big-endian
 * scalar / exponent). DHGEX gives FERRY_E_UNSUPPORTED. Appends the public value as eph_new does. */
int ferry__kex_eph_from_private(ferry_kex_eph **out, const ferry_kex_alg *alg, const uint8_t *priv,
                                size_t priv_len, ferry_buf *pub);

#endif
