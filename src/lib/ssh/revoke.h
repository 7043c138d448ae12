/* revoke.h: revoked keys and certificates, as sshd's RevokedKeys and
 * ssh's RevokedHostKeys read them: either OpenSSH's binary key revocation
 * list (PROTOCOL.krl: "SSHKRL\n\0" ..., as `ssh-keygen -k` writes it) or
 * public keys one per line (authorized_keys format; options ignored).
 *
 * A KRL is checked whole when it is read (every section walked, unknown
 * critical extensions and signature sections refused, as OpenSSH 9.4+
 * does) and kept as its bytes; each question walks it again. */
#ifndef FERRY_SSH_REVOKE_H
#define FERRY_SSH_REVOKE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/cert.h"
#include "crypto/key.h"

typedef struct ferry_revoke ferry_revoke;

/* Most bytes of a revocation file. */
#define FERRY_REVOKE_MAX (16u * 1024 * 1024)

/* Parses a revocation list: a KRL when it starts with the KRL magic,
 * otherwise public key lines. A malformed KRL: FERRY_E_FORMAT; a KRL
 * with a signature section, another format version, an unknown section
 * type or an unknown critical extension: FERRY_E_UNSUPPORTED. */
int ferry_revoke_parse(const uint8_t *data, size_t len, ferry_revoke **out);
/* Reads and parses a file (FERRY_E_TOO_LARGE above FERRY_REVOKE_MAX). */
int ferry_revoke_load(const char *path, ferry_revoke **out);
void ferry_revoke_free(ferry_revoke *rl);

/* 1 if the plain key is revoked (listed, or its SHA-1/SHA-256 hash listed
 * in a KRL), else 0. */
int ferry_revoke_key(const ferry_revoke *rl, const ferry_key *key);
/* 1 if the certificate is revoked: by serial (a non-zero one) or key ID
 * under its CA or under "any CA" in a KRL, or because its certified key
 * or its CA key is revoked; `why` (may be NULL) then says which
 * ("serial revoked", "key ID revoked", "certified key revoked", "CA key
 * revoked"; no text of the certificate's). */
int ferry_revoke_cert(const ferry_revoke *rl, const ferry_cert *cert, char *why, size_t whysz);

#endif
