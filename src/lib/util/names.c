#include "util/names.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

size_t ferry_names_next(const char **cur, const char **name)
{
    const char *p = *cur;
    const char *c = strchr(p, ',');
    size_t n = c != NULL ? (size_t)(c - p) : strlen(p);
    *name = p;
    *cur = c != NULL ? c + 1 : p + n;
    return n;
}

size_t ferry_names_next_copy(const char **cur, char *out, size_t outsz)
{
    const char *name = NULL;
    size_t n = ferry_names_next(cur, &name);
    if (n == 0 || n >= outsz) {
        return 0;
    }
    memcpy(out, name, n);
    out[n] = '\0';
    return n;
}

int ferry_names_contains(const char *list, const char *name, size_t n)
{
    const char *p = list;
    while (p != NULL && *p != '\0') {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && memcmp(p, name, n) == 0) {
            return 1;
        }
        p = e ? e + 1 : NULL;
    }
    return 0;
}

int ferry_names_first_match(const char *client, const char *server, char *out, size_t outsz)
{
    const char *p = client;
    while (p != NULL && *p != '\0') {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l > 0 && ferry_names_contains(server, p, l)) {
            if (l >= outsz) {
                return FERRY_E_TOO_LARGE;
            }
            memcpy(out, p, l);
            out[l] = '\0';
            return FERRY_OK;
        }
        p = e ? e + 1 : NULL;
    }
    return FERRY_E_NO_ALG_MATCH;
}

static int same_char(char a, char b, int fold_case)
{
    if (fold_case) {
        a = (a >= 'A' && a <= 'Z') ? (char)(a - 'A' + 'a') : a;
        b = (b >= 'A' && b <= 'Z') ? (char)(b - 'A' + 'a') : b;
    }
    return a == b;
}

/* Greedy matching that backtracks only to the last star seen: a later
 * star can absorb whatever an earlier one would, so the earlier one never
 * needs to be retried. At most O(plen * len(s)) steps, where the
 * recursive form took exponential time on "*a*a*a...b". */
int ferry_names_wildcard_n(const char *pat, size_t plen, const char *s, int fold_case)
{
    size_t pi = 0, si = 0;
    size_t star = SIZE_MAX; /* the pattern just after the last star */
    size_t resume = 0;      /* where that star's match ends for now */
    while (s[si] != '\0') {
        if (pi < plen && pat[pi] == '*') {
            star = ++pi;
            resume = si;
        } else if (pi < plen && (pat[pi] == '?' || same_char(pat[pi], s[si], fold_case))) {
            pi++;
            si++;
        } else if (star != SIZE_MAX) {
            pi = star; /* the star takes one more character */
            si = ++resume;
        } else {
            return 0;
        }
    }
    while (pi < plen && pat[pi] == '*') {
        pi++;
    }
    return pi == plen;
}

int ferry_names_wildcard(const char *pat, const char *s)
{
    return ferry_names_wildcard_n(pat, strlen(pat), s, 0);
}

/* Appends name (n bytes) to the list being built unless already present. */
static int list_add(char **acc, const char *name, size_t n)
{
    size_t cur = *acc ? strlen(*acc) : 0;
    if (*acc != NULL && ferry_names_contains(*acc, name, n)) {
        return FERRY_OK;
    }
    char *nl = realloc(*acc, cur + n + 2);
    if (nl == NULL) {
        return FERRY_E_ALLOC;
    }
    if (cur > 0) {
        nl[cur++] = ',';
    }
    memcpy(nl + cur, name, n);
    nl[cur + n] = '\0';
    *acc = nl;
    return FERRY_OK;
}

static int any_wildcard_match(const char *pats, const char *name, size_t n)
{
    char nm[256], pat[256];
    if (n >= sizeof(nm)) {
        return 0;
    }
    memcpy(nm, name, n);
    nm[n] = '\0';
    const char *p = pats;
    while (p != NULL && *p != '\0') {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l < sizeof(pat)) {
            memcpy(pat, p, l);
            pat[l] = '\0';
            if (ferry_names_wildcard(pat, nm)) {
                return 1;
            }
        }
        p = e ? e + 1 : NULL;
    }
    return 0;
}

/* Checks every name of `list` is supported. */
static int all_supported(const char *list, const char *supported)
{
    const char *p = list;
    while (p != NULL && *p != '\0') {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == 0 || !ferry_names_contains(supported, p, l)) {
            return 0;
        }
        p = e ? e + 1 : NULL;
    }
    return 1;
}

/* Adds each element of `src` to *acc, skipping those matching `skip`
 * patterns (if non-NULL). */
static int add_all(char **acc, const char *src, const char *skip)
{
    const char *p = src;
    while (p != NULL && *p != '\0') {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l > 0 && (skip == NULL || !any_wildcard_match(skip, p, l))) {
            int r = list_add(acc, p, l);
            if (r != FERRY_OK) {
                return r;
            }
        }
        p = e ? e + 1 : NULL;
    }
    return FERRY_OK;
}

int ferry_names_apply(const char *defaults, const char *supported, const char *spec, char **out)
{
    char *acc = NULL;
    int r = FERRY_OK;
    char op = spec[0];
    const char *body = (op == '+' || op == '-' || op == '^') ? spec + 1 : spec;

    if (op != '-' && !all_supported(body, supported)) {
        return FERRY_E_NO_ALG_MATCH;
    }
    switch (op) {
    case '+':
        if ((r = add_all(&acc, defaults, NULL)) == FERRY_OK) {
            r = add_all(&acc, body, NULL);
        }
        break;
    case '-':
        r = add_all(&acc, defaults, body);
        break;
    case '^':
        if ((r = add_all(&acc, body, NULL)) == FERRY_OK) {
            r = add_all(&acc, defaults, NULL);
        }
        break;
    default:
        r = add_all(&acc, body, NULL);
        break;
    }
    if (r == FERRY_OK && acc == NULL) {
        r = FERRY_E_NO_ALG_MATCH;
    }
    if (r != FERRY_OK) {
        free(acc);
        return r;
    }
    *out = acc;
    return FERRY_OK;
}
