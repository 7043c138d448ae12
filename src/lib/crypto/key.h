/* key.h: public and private keys and SSH signatures over OpenSSL EVP_PKEY.
 *
 * Key types: ssh-ed25519 (RFC 8709), ecdsa-sha2-nistp256/384/521
 * (RFC 5656), ssh-rsa keys (RFC 4253 s6.6) signing with rsa-sha2-256/512
 * (RFC 8332; SHA-1 "ssh-rsa" signatures only when explicitly allowed).
 * RSA keys under 2048 bits are refused everywhere (FERRY_E_KEY_WEAK).
 */
#ifndef FERRY_CRYPTO_KEY_H
#define FERRY_CRYPTO_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

enum ferry_key_type {
    FERRY_KEY_UNKNOWN = 0,
    FERRY_KEY_ED25519,
    FERRY_KEY_ECDSA_P256,
    FERRY_KEY_ECDSA_P384,
    FERRY_KEY_ECDSA_P521,
    FERRY_KEY_RSA,
};

typedef struct ferry_key ferry_key;

/* Signature algorithm names, OpenSSH's order. The host-key algorithm names
 * are the same set. ferry_sigalg_supported includes "ssh-rsa" (SHA-1);
 * the defaults do not. Static strings. */
const char *ferry_sigalg_supported(void);
const char *ferry_sigalg_default(void);

/* Key type for a key-type or signature-algorithm name ("rsa-sha2-256" ->
 * FERRY_KEY_RSA); FERRY_KEY_UNKNOWN if none. */
enum ferry_key_type ferry_key_type_from_name(const char *name);
/* The key's wire type name ("ssh-ed25519", "ssh-rsa", ...); static. */
const char *ferry_key_type_name(const ferry_key *k);
enum ferry_key_type ferry_key_type(const ferry_key *k);
/* Size in bits (255 for ed25519, curve size, RSA modulus). */
unsigned ferry_key_bits(const ferry_key *k);
/* Non-zero if `sigalg` can be made/checked with this key
 * (e.g. rsa-sha2-512 with an RSA key). */
int ferry_key_sigalg_ok(const ferry_key *k, const char *sigalg);
/* Non-zero when the key holds private material. */
int ferry_key_is_private(const ferry_key *k);

/* Parses a public key blob (RFC 4253 s6.6 encodings). Rejects trailing
 * bytes, off-curve points, RSA < 2048 bits. New key in *out. */
int ferry_key_from_blob(const uint8_t *blob, size_t len, ferry_key **out);
/* Appends the public key blob (not wrapped in a string) to `out`. */
int ferry_key_to_blob(const ferry_key *k, ferry_buf *out);
/* Non-zero if both keys have the same public part. */
int ferry_key_equal_public(const ferry_key *a, const ferry_key *b);
/* A new key holding only the public part of k. */
int ferry_key_public_copy(const ferry_key *k, ferry_key **out);
/* Adds a reference (keys are refcounted); returns k. */
ferry_key *ferry_key_ref(ferry_key *k);
/* Drops a reference, wiping private material on the last; NULL no-op. */
void ferry_key_free(ferry_key *k);

/* New random key. bits: 0 for the type's default (RSA 3072); ignored for
 * ed25519 and ECDSA. */
int ferry_key_generate(enum ferry_key_type type, unsigned bits, ferry_key **out);

/* Signs `data` with algorithm `sigalg` and appends the SSH signature blob
 * (string alg-name || string sig, RFC 4253 s6.6 / RFC 8332 / RFC 5656
 * s3.1.2, not wrapped in an outer string) to `out`. Nonces come from
 * OpenSSL. */
int ferry_key_sign(const ferry_key *k, const char *sigalg, const uint8_t *data, size_t len,
                   ferry_buf *out);
/* Verifies an SSH signature blob over `data`. The blob's algorithm name
 * must equal `sigalg` (when non-NULL) and suit the key.
 * FERRY_E_SIGNATURE_INVALID if it does not verify, FERRY_E_FORMAT if the
 * blob is malformed. */
int ferry_key_verify(const ferry_key *k, const char *sigalg, const uint8_t *sig, size_t siglen,
                     const uint8_t *data, size_t len);

/* "SHA256:<unpadded base64>" as ssh-keygen -l prints it. */
int ferry_key_fingerprint(const ferry_key *k, char *out, size_t outsz);

/* Base64 (RFC 4648, padded) of data, NUL-terminated, into a new heap
 * string; and decoding (whitespace not allowed; padding required). */
int ferry_base64_encode(const uint8_t *data, size_t len, char **out);
int ferry_base64_decode(const char *s, size_t slen, ferry_buf *out);

/* Parses "type base64 [comment]" (one authorized_keys / .pub style key,
 * without options). *comment may be NULL if not wanted; it receives a new
 * heap string ("" when absent). */
int ferry_key_parse_public_line(const char *line, ferry_key **out, char **comment);
/* Formats "type base64 comment" (comment may be NULL) into a new heap
 * string without a newline. */
int ferry_key_format_public_line(const ferry_key *k, const char *comment, char **out);

/* ---- private key files ---- */

/* Loads a private key from file contents: OpenSSH's openssh-key-v1 format
 * (PROTOCOL.key; unencrypted, or encrypted with aes256-ctr/bcrypt when
 * supported), and PEM/PKCS#8 formats through OpenSSL (optionally
 * encrypted). passphrase may be NULL. FERRY_E_BAD_PASSPHRASE when a
 * passphrase is needed or wrong. comment may be NULL. */
int ferry_key_load_private(const uint8_t *data, size_t len, const char *passphrase,
                           ferry_key **out, char **comment);
/* Reads a file and calls ferry_key_load_private. */
int ferry_key_load_private_file(const char *path, const char *passphrase, ferry_key **out,
                                char **comment);
/* Serialises in openssh-key-v1 format (unencrypted, PEM-armoured text as
 * ssh-keygen writes). Appends to out. */
int ferry_key_save_private(const ferry_key *k, const char *comment, ferry_buf *out);
/* Writes the private key file (mode 0600, created exclusively through a
 * temporary name and renamed) and, if pub_path is non-NULL, the ".pub"
 * line (mode 0644). */
int ferry_key_save_private_file(const ferry_key *k, const char *comment, const char *path,
                                const char *pub_path);

/* For the client: the EVP key needed to talk to ssh-agent is not needed;
 * agent signing goes through ssh/agent.h. */

#endif
