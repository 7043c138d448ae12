/* chk.c: check-file digests over EVP_MD and EVP_MAC (see chk.h). */
#include "crypto/chk.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "util/err.h"

struct ferry_chk_alg {
    const char *name;
    const char *evp; /* EVP_MD name, or NULL: Poly1305 (EVP_MAC) */
    size_t size;
};

/* poly1305@ferry.dev first: the fastest by far */
static const ferry_chk_alg algs[] = {
    {FERRY_CHK_POLY_NAME, NULL, 16}, {"md5", "MD5", 16},         {"sha1", "SHA1", 20},
    {"sha224", "SHA224", 28},        {"sha256", "SHA256", 32},   {"sha384", "SHA384", 48},
    {"sha512", "SHA512", 64},
};
#define NALGS (sizeof(algs) / sizeof(algs[0]))

struct ferry_chk {
    const ferry_chk_alg *a;
    EVP_MD_CTX *md;
    EVP_MAC_CTX *mac;
};

const char *ferry_chk_names(void)
{
    return FERRY_CHK_POLY_NAME ",md5,sha1,sha224,sha256,sha384,sha512";
}

const ferry_chk_alg *ferry_chk_pick(const uint8_t *list, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && list[j] != ',') {
            j++;
        }
        for (size_t k = 0; k < NALGS; k++) {
            if (strlen(algs[k].name) == j - i && memcmp(algs[k].name, list + i, j - i) == 0) {
                return &algs[k];
            }
        }
        i = j + 1;
    }
    return NULL;
}

const ferry_chk_alg *ferry_chk_by_name(const char *name)
{
    return name != NULL ? ferry_chk_pick((const uint8_t *)name, strlen(name)) : NULL;
}

const char *ferry_chk_name(const ferry_chk_alg *a)
{
    return a->name;
}

size_t ferry_chk_size(const ferry_chk_alg *a)
{
    return a->size;
}

const ferry_chk_alg *ferry_chk_alg_of(const ferry_chk *c)
{
    return c->a;
}

static int start(ferry_chk *c)
{
    if (c->md != NULL) {
        return EVP_DigestInit_ex(c->md, NULL, NULL) == 1 ? FERRY_OK : ferry_err_crypto();
    }
    return EVP_MAC_init(c->mac, (const unsigned char *)FERRY_CHK_POLY_KEY, 32, NULL) == 1
               ? FERRY_OK
               : ferry_err_crypto();
}

ferry_chk *ferry_chk_new(const ferry_chk_alg *a)
{
    ferry_chk *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->a = a;
    int ok = 0;
    if (a->evp != NULL) {
        EVP_MD *md = EVP_MD_fetch(NULL, a->evp, NULL);
        ok = md != NULL && (c->md = EVP_MD_CTX_new()) != NULL &&
             EVP_DigestInit_ex(c->md, md, NULL) == 1;
        EVP_MD_free(md); /* the context keeps its own reference */
    } else {
        EVP_MAC *mac = EVP_MAC_fetch(NULL, "POLY1305", NULL);
        ok = mac != NULL && (c->mac = EVP_MAC_CTX_new(mac)) != NULL && start(c) == FERRY_OK;
        EVP_MAC_free(mac);
    }
    if (!ok) {
        ferry_chk_free(c);
        return NULL;
    }
    return c;
}

int ferry_chk_update(ferry_chk *c, const void *p, size_t n)
{
    int ok = c->md != NULL ? EVP_DigestUpdate(c->md, p, n) == 1
                           : EVP_MAC_update(c->mac, p, n) == 1;
    return ok ? FERRY_OK : ferry_err_crypto();
}

static int finish(ferry_chk *c, uint8_t *out)
{
    size_t len = 0;
    int ok = c->md != NULL ? EVP_DigestFinal_ex(c->md, out, NULL) == 1
                           : EVP_MAC_final(c->mac, out, &len, c->a->size) == 1 &&
                                 len == c->a->size;
    return ok ? FERRY_OK : ferry_err_crypto();
}

int ferry_chk_final(ferry_chk *c, uint8_t *out)
{
    int r = finish(c, out);
    return r == FERRY_OK ? start(c) : r;
}

int ferry_chk_peek(const ferry_chk *c, uint8_t *out)
{
    ferry_chk *t = ferry_chk_dup(c);
    int r = t != NULL ? finish(t, out) : FERRY_E_ALLOC;
    ferry_chk_free(t);
    return r;
}

ferry_chk *ferry_chk_dup(const ferry_chk *c)
{
    ferry_chk *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        return NULL;
    }
    d->a = c->a;
    int ok = c->md != NULL ? (d->md = EVP_MD_CTX_new()) != NULL &&
                                 EVP_MD_CTX_copy_ex(d->md, c->md) == 1
                           : (d->mac = EVP_MAC_CTX_dup(c->mac)) != NULL;
    if (!ok) {
        ferry_chk_free(d);
        return NULL;
    }
    return d;
}

void ferry_chk_free(ferry_chk *c)
{
    if (c != NULL) {
        EVP_MD_CTX_free(c->md);
        EVP_MAC_CTX_free(c->mac);
        free(c);
    }
}
