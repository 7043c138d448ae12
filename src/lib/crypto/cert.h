/* cert.h: OpenSSH certificates (PROTOCOL.certkeys): a public key with an
 * identity, principals, a validity window and options, signed by a CA
 * key. The client presents one in "publickey" authentication (the
 * signature is made by the certified key); the server accepts one whose
 * CA it trusts.
 *
 * A ferry_cert exists only for a well-formed certificate whose CA
 * signature verifies: ferry_cert_from_blob checks it before returning.
 * Whether the certificate is good for a given use (type, principal, time,
 * critical options) is the caller's question: ferry_cert_check. */
#ifndef FERRY_CRYPTO_CERT_H
#define FERRY_CRYPTO_CERT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"

enum { FERRY_CERT_USER = 1, FERRY_CERT_HOST = 2 };

/* Most principals, and longest certificate, accepted. */
#define FERRY_CERT_MAX_PRINCIPALS 256
#define FERRY_CERT_MAX_LEN        (16u * 1024)

typedef struct ferry_cert {
    uint8_t *blob; /* the certificate as on the wire (and on disk) */
    size_t len;
    char type_name[48]; /* e.g. "ssh-ed25519-cert-v01@openssh.com" */
    ferry_key *key;     /* the certified public key */
    uint64_t serial;
    uint32_t type; /* FERRY_CERT_USER or FERRY_CERT_HOST */
    char *key_id;
    char **principals; /* empty: any principal (refused for users) */
    size_t n_principals;
    uint64_t valid_after, valid_before;
    const uint8_t *critical; /* into blob: the options' encoding */
    size_t critical_len;
    ferry_key *ca;    /* the key that signed it */
    char sig_alg[40]; /* the CA's signature algorithm, e.g. "rsa-sha2-512" */
} ferry_cert;

/* Length of the certificate suffix, if `name` (n bytes) names a
 * certificate key type or signature algorithm ("...-cert-v01@openssh.com");
 * 0 otherwise. */
size_t ferry_cert_suffix(const char *name, size_t n);
/* The plain algorithm of a certificate algorithm into out
 * ("rsa-sha2-512-cert-v01@openssh.com" -> "rsa-sha2-512"); FERRY_E_FORMAT
 * if `alg` is no certificate algorithm or does not fit. */
int ferry_cert_plain_alg(const char *alg, char *out, size_t outsz);
/* The certificate algorithm for a plain signature algorithm
 * ("rsa-sha2-512" -> "rsa-sha2-512-cert-v01@openssh.com"). */
int ferry_cert_alg(const char *plain, char *out, size_t outsz);
/* "A-cert-v01@openssh.com,B-cert-v01@openssh.com,...,A,B,..." for the
 * list A,B,... (names already in certificate form get no second suffix);
 * *out is a new heap string. */
int ferry_cert_algs_first(const char *algs, char **out);

/* Parses a certificate blob and verifies its CA signature. Refused: a CA
 * key that is itself a certificate and unknown key types
 * (FERRY_E_KEY_TYPE), trailing bytes (FERRY_E_TRAILING_DATA), more than
 * FERRY_CERT_MAX_PRINCIPALS principals, a key id or principal over 1024
 * bytes (FERRY_E_TOO_LARGE), options out of order or repeated, option
 * names over 255 bytes (FERRY_E_FORMAT); a bad signature:
 * FERRY_E_SIGNATURE_INVALID. */
int ferry_cert_from_blob(const uint8_t *blob, size_t len, ferry_cert **out);
/* Parses "type base64 [comment]" (a -cert.pub file's line). */
int ferry_cert_parse_line(const char *line, ferry_cert **out);
/* Reads the first certificate line of a file. FERRY_E_NOT_FOUND if the
 * file does not exist. */
int ferry_cert_load(const char *path, ferry_cert **out);
void ferry_cert_free(ferry_cert *c);

/* Whether the certificate is good now (`now`, seconds since the epoch)
 * for `type` and `principal` (NULL: any, for a CA trusted without a
 * principal check; a user certificate with no principals is refused, as
 * OpenSSH's sshd does). FERRY_OK or FERRY_E_AUTH_DENIED with the reason
 * in `why` (may be NULL). */
int ferry_cert_check(const ferry_cert *c, uint32_t type, const char *principal, uint64_t now,
                     char *why, size_t whysz);
/* Walks the critical options: calls fn(ctx, name, data, len) for each
 * (data: the option's data field, e.g. for source-address a string
 * holding the address list); stops at the first non-zero return, which it
 * returns. FERRY_E_FORMAT if the encoding is bad. */
int ferry_cert_critical_each(const ferry_cert *c,
                             int (*fn)(void *ctx, const char *name, const uint8_t *value,
                                       size_t len),
                             void *ctx);

#endif
