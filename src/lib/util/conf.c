/* conf.c: value syntaxes shared by sshd_config (ferryd) and ssh_config
 * (ferry): OpenSSH's TIME FORMATS, sizes, RekeyLimit. */
#include "util/conf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "util/err.h"

int ferry_conf_time(const char *val, uint64_t *out)
{
    uint64_t total = 0;
    const char *p = val;
    if (*p == '\0') {
        return FERRY_E_FORMAT;
    }
    while (*p != '\0') {
        if (!isdigit((unsigned char)*p)) {
            return FERRY_E_FORMAT;
        }
        uint64_t n = 0;
        while (isdigit((unsigned char)*p)) {
            n = n * 10 + (uint64_t)(*p++ - '0');
            if (n > 100000000) {
                return FERRY_E_FORMAT;
            }
        }
        uint64_t mult = 1;
        switch (tolower((unsigned char)*p)) {
        case '\0':
            break;
        case 's':
            mult = 1;
            p++;
            break;
        case 'm':
            mult = 60;
            p++;
            break;
        case 'h':
            mult = 3600;
            p++;
            break;
        case 'd':
            mult = 86400;
            p++;
            break;
        case 'w':
            mult = 604800;
            p++;
            break;
        default:
            return FERRY_E_FORMAT;
        }
        total += n * mult;
        if (total > UINT_MAX) {
            return FERRY_E_FORMAT;
        }
    }
    *out = total;
    return FERRY_OK;
}

int ferry_conf_size(const char *s, uint64_t *out)
{
    char *end = NULL;
    if (!isdigit((unsigned char)*s)) {
        return FERRY_E_FORMAT;
    }
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t mult = 1;
    switch (toupper((unsigned char)*end)) {
    case '\0':
        break;
    case 'K':
        mult = 1ull << 10;
        end++;
        break;
    case 'M':
        mult = 1ull << 20;
        end++;
        break;
    case 'G':
        mult = 1ull << 30;
        end++;
        break;
    default:
        return FERRY_E_FORMAT;
    }
    if (errno != 0 || *end != '\0' || v > (1ull << 40)) {
        return FERRY_E_FORMAT;
    }
    *out = v * mult;
    return FERRY_OK;
}

int ferry_conf_rekey_limit(const char *val, uint64_t *bytes, uint64_t *seconds)
{
    char a[64] = "", b[64] = "";
    char extra;
    uint64_t v = 0;
    int n = sscanf(val, "%63s %63s %c", a, b, &extra);
    if (n < 1 || n > 2) {
        return FERRY_E_FORMAT;
    }
    if (strcasecmp(a, "default") != 0 && strcasecmp(a, "none") != 0 &&
        (ferry_conf_size(a, &v) != FERRY_OK || (v != 0 && v < 16))) {
        return FERRY_E_FORMAT;
    }
    uint64_t t = *seconds;
    if (n == 2 && strcasecmp(b, "none") != 0 && strcasecmp(b, "default") != 0 &&
        ferry_conf_time(b, &t) != FERRY_OK) {
        return FERRY_E_FORMAT;
    }
    *bytes = v;
    *seconds = t;
    return FERRY_OK;
}
