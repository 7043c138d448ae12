/* chk.h: the digests of check-file (a hash of a range of a file), all
 * through OpenSSL EVP:
 *  - md5, sha1, sha224, sha256, sha384, sha512 (EVP_MD);
 *  - "poly1305@ferry.dev": Poly1305 (RFC 8439 s2.5, EVP_MAC POLY1305)
 *    under the fixed, public 32-byte key FERRY_CHK_POLY_KEY (r = its
 *    first 16 bytes, clamped as Poly1305 does; s = the last 16); the
 *    16-byte tag is the digest. With a public key it is a checksum, not a
 *    cryptographic hash: the chance that an accidental change (a storage
 *    error, a bug, a file changed between two attempts) keeps the tag is
 *    below 2^-100 for any file size we move, but anyone can build two
 *    inputs with the same tag. That is the job of transfer verification:
 *    the SSH MAC already protects the wire, and the server is trusted
 *    with the file's content anyway. It costs about a seventh of sha256
 *    (~12 GB/s against 1.8 GB/s with SHA-NI here), which is why ferry
 *    prefers it when a server offers it.
 */
#ifndef FERRY_CRYPTO_CHK_H
#define FERRY_CRYPTO_CHK_H

#include <stddef.h>
#include <stdint.h>

#define FERRY_CHK_POLY_NAME "poly1305@ferry.dev"
#define FERRY_CHK_POLY_KEY  "ferry.dev check-file poly1305 k1" /* 32 bytes, no NUL */
#define FERRY_CHK_MAX       64u /* longest digest (sha512) */

typedef struct ferry_chk_alg ferry_chk_alg;
typedef struct ferry_chk ferry_chk;

/* Every algorithm, comma-separated (the check-file extension's data). */
const char *ferry_chk_names(void);
/* The first algorithm of a comma-separated name list that we know. */
const ferry_chk_alg *ferry_chk_pick(const uint8_t *list, size_t n);
const ferry_chk_alg *ferry_chk_by_name(const char *name); /* NULL if unknown */
const char *ferry_chk_name(const ferry_chk_alg *a);
size_t ferry_chk_size(const ferry_chk_alg *a);

/* A digest in progress, started. NULL on allocation/EVP failure. */
ferry_chk *ferry_chk_new(const ferry_chk_alg *a);
const ferry_chk_alg *ferry_chk_alg_of(const ferry_chk *c);
int ferry_chk_update(ferry_chk *c, const void *p, size_t n);
/* Writes the digest (ferry_chk_size bytes) and starts over. */
int ferry_chk_final(ferry_chk *c, uint8_t *out);
/* The digest of what was fed so far, leaving c as it is. */
int ferry_chk_peek(const ferry_chk *c, uint8_t *out);
/* A copy of the state (NULL on failure). */
ferry_chk *ferry_chk_dup(const ferry_chk *c);
void ferry_chk_free(ferry_chk *c); /* NULL is a no-op */

#endif
