/* names.h: SSH name-lists (RFC 4251 s5) and OpenSSH's algorithm-list
 * syntax for configuration. A name-list is a NUL-terminated C string of
 * comma-separated names. */
#ifndef FERRY_UTIL_NAMES_H
#define FERRY_UTIL_NAMES_H

#include <stddef.h>

/* Walks a name-list: the next name at *cur (its start in *name, its
 * length returned), *cur moved past it and its comma. Stop when *cur
 * points at the terminating NUL. */
size_t ferry_names_next(const char **cur, const char **name);
/* The same with the name copied, NUL-terminated, into out[outsz]; 0 for
 * an empty name or one that does not fit (to be skipped), else its
 * length. */
size_t ferry_names_next_copy(const char **cur, char *out, size_t outsz);
/* Non-zero if `name` (n bytes) is an element of `list`. */
int ferry_names_contains(const char *list, const char *name, size_t n);
/* RFC 4253 s7.1 negotiation: the first name in `client` that is also in
 * `server`, copied to out[outsz]. FERRY_E_NO_ALG_MATCH if none,
 * FERRY_E_TOO_LARGE if it does not fit. */
int ferry_names_first_match(const char *client, const char *server, char *out, size_t outsz);
/* OpenSSH's list syntax (sshd_config KexAlgorithms etc.):
 *   "a,b"   replaces the defaults;
 *   "+a,b"  appends to the defaults;
 *   "-a*,b" removes matching names (wildcards * and ?) from the defaults;
 *   "^a,b"  puts them at the head of the defaults.
 * Every explicitly named algorithm must be in `supported` (wildcards in
 * "-" excepted), else FERRY_E_NO_ALG_MATCH. *out is a new heap string. */
int ferry_names_apply(const char *defaults, const char *supported, const char *spec, char **out);
/* Shell-style match of `name` against `pattern` with * and ?, in
 * O(len(pattern) * len(name)) steps at worst. */
int ferry_names_wildcard(const char *pattern, const char *name);
/* The same with a pattern of plen bytes (not NUL-terminated); when
 * fold_case, ASCII letters match without regard to case (host names). */
int ferry_names_wildcard_n(const char *pattern, size_t plen, const char *name, int fold_case);

#endif
