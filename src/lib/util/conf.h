/* conf.h: value syntaxes shared by ferryd's sshd_config-style file and
 * ferry's ssh_config. */
#ifndef FERRY_UTIL_CONF_H
#define FERRY_UTIL_CONF_H

#include <stdint.h>

/* sshd_config(5) TIME FORMATS: "90", "1m30s", "2h"; units s m h d w;
 * seconds, at most UINT_MAX. FERRY_OK or FERRY_E_FORMAT. */
int ferry_conf_time(const char *val, uint64_t *out);
/* A size with an optional K, M or G suffix (powers of 1024), at most
 * 2^40 before the suffix. FERRY_OK or FERRY_E_FORMAT. */
int ferry_conf_size(const char *s, uint64_t *out);
/* RekeyLimit "SIZE|default|none [TIME|default|none]": *bytes gets the
 * size (0 for default/none: the library's default), *seconds the time
 * when one is given (left as it is for default/none). Both are left as
 * they are on FERRY_E_FORMAT. */
int ferry_conf_rekey_limit(const char *val, uint64_t *bytes, uint64_t *seconds);

#endif
