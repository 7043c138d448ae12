/* keyscmd.h: AuthorizedKeysCommand and AuthorizedPrincipalsCommand, as
 * sshd runs them: programs that print authorized_keys lines for a user and
 * the key being offered, or the principals a user certificate may name,
 * for what is kept elsewhere (a directory service, an API). Run without a
 * shell: the
 * command line is split into words (double quotes group), each word's
 * %-tokens expanded, the first word an absolute path; no environment but
 * PATH, stdin from /dev/null, at most FERRYD_KEYSCMD_MAX bytes read, at
 * most FERRYD_KEYSCMD_TIMEOUT_MS waited (then killed). */
#ifndef FERRYD_KEYSCMD_H
#define FERRYD_KEYSCMD_H

#include <stddef.h>

#include "crypto/cert.h"
#include "crypto/key.h"
#include "ssh/authfile.h"

#define FERRYD_KEYSCMD_MAX        (1024u * 1024)
#define FERRYD_KEYSCMD_TIMEOUT_MS 10000

/* A %-token: its letter and value. */
typedef struct ferryd_cmd_token {
    char key;
    const char *value;
} ferryd_cmd_token;

/* The tokens each command takes (and %%): user, home (Root), key
 * fingerprint, type, base64; for principals also the certificate's key ID
 * and serial, and the CA's fingerprint, type and base64 (F, T, K). */
#define FERRYD_KEYSCMD_TOKENS       "uhftk"
#define FERRYD_PRINCIPALSCMD_TOKENS "uhisftkFTK"

/* FERRY_OK if `cmd` can be run: words with only the tokens listed in
 * `tokens` (and %%), the first an absolute path without tokens. The
 * reason in `why`. */
int ferryd_cmd_check(const char *cmd, const char *tokens, char *why, size_t whysz);

/* Runs the command for `user` (whose Root is `home`, for %h) and `key` (%f
 * its SHA256 fingerprint, %t its type, %k its base64 blob) and parses what
 * it prints as authorized_keys (*out; caller frees). A command that cannot
 * run, exits non-zero, is killed or prints too much: an error, logged. */
int ferryd_keyscmd_run(const char *cmd, const char *user, const char *home, const ferry_key *key,
                       ferry_authkeys **out);

/* Runs AuthorizedPrincipalsCommand for `user` and the user certificate
 * `cert` and reads its output as principals (one per line, as
 * AuthorizedPrincipalsFile: ferryd_principals_parse) into *out, a
 * comma-separated list (caller frees). Errors as ferryd_keyscmd_run. */
int ferryd_principalscmd_run(const char *cmd, const char *user, const char *home,
                             const ferry_cert *cert, char **out);

/* Principals from text, one per line: '#' comments and blank lines
 * ignored; a line of more than one word (sshd's key options) or with a
 * comma is skipped and logged (prefixed with `who`). *out: the
 * comma-separated list, "" for none (caller frees). */
int ferryd_principals_parse(const char *text, size_t len, const char *who, char **out);

#endif
