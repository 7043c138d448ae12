/* keyscmd.h: AuthorizedKeysCommand, as sshd runs it: a program that prints
 * authorized_keys lines for a user and the key being offered, for keys
 * kept elsewhere (a directory service, an API). Run without a shell: the
 * command line is split into words (double quotes group), each word's
 * %-tokens expanded, the first word an absolute path; no environment but
 * PATH, stdin from /dev/null, at most FERRYD_KEYSCMD_MAX bytes read, at
 * most FERRYD_KEYSCMD_TIMEOUT_MS waited (then killed). */
#ifndef FERRYD_KEYSCMD_H
#define FERRYD_KEYSCMD_H

#include <stddef.h>

#include "crypto/key.h"
#include "ssh/authfile.h"

#define FERRYD_KEYSCMD_MAX        (1024u * 1024)
#define FERRYD_KEYSCMD_TIMEOUT_MS 10000

/* FERRY_OK if `cmd` can be run: words with only the tokens %% %u %h %f %t
 * %k, the first an absolute path without tokens. The reason in `why`. */
int ferryd_keyscmd_check(const char *cmd, char *why, size_t whysz);

/* Runs the command for `user` (whose Root is `home`, for %h) and `key` (%f
 * its SHA256 fingerprint, %t its type, %k its base64 blob) and parses what
 * it prints as authorized_keys (*out; caller frees). A command that cannot
 * run, exits non-zero, is killed or prints too much: an error, logged. */
int ferryd_keyscmd_run(const char *cmd, const char *user, const char *home, const ferry_key *key,
                       ferry_authkeys **out);

#endif
