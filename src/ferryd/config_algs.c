/* config_algs.c: the algorithm keywords (KexAlgorithms, Ciphers, MACs,
 * HostKeyAlgorithms, PubkeyAcceptedAlgorithms) resolved with OpenSSH's
 * +/-/^ syntax against the library's default and supported lists. Kept
 * apart from config.c so the parser builds without the crypto tables. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cipher.h"
#include "crypto/kexalg.h"
#include "crypto/key.h"
#include "util/err.h"
#include "util/names.h"

static int algs_one(const char *spec, const char *defaults, const char *supported, const char *kw,
                    char **out, char *err, size_t errsz)
{
    *out = NULL;
    if (spec == NULL) {
        return FERRY_OK;
    }
    int r = ferry_names_apply(defaults, supported, spec, out);
    if (r != FERRY_OK) {
        snprintf(err, errsz, "%s: unsupported algorithm in \"%s\"", kw, spec);
        return r;
    }
    if (**out == '\0') {
        snprintf(err, errsz, "%s: \"%s\" leaves no algorithm", kw, spec);
        free(*out);
        *out = NULL;
        return FERRY_E_NO_ALG_MATCH;
    }
    return FERRY_OK;
}

int ferryd_config_algs(const ferryd_config *cfg, ferryd_algs *a, char *err, size_t errsz)
{
    memset(a, 0, sizeof(*a));
    int r = algs_one(cfg->kex_algs, ferry_kexalg_default_server(), ferry_kexalg_supported(),
                     "KexAlgorithms", &a->kex, err, errsz);
    if (r == FERRY_OK) {
        r = algs_one(cfg->ciphers, ferry_cipher_default(), ferry_cipher_supported(), "Ciphers",
                     &a->ciphers, err, errsz);
    }
    if (r == FERRY_OK) {
        r = algs_one(cfg->macs, ferry_mac_default(), ferry_mac_supported(), "MACs", &a->macs, err,
                     errsz);
    }
    if (r == FERRY_OK) {
        r = algs_one(cfg->hostkey_algs, ferry_sigalg_default(), ferry_sigalg_supported(),
                     "HostKeyAlgorithms", &a->hostkey, err, errsz);
    }
    if (r == FERRY_OK) {
        r = algs_one(cfg->pubkey_algs, ferry_sigalg_default(), ferry_sigalg_supported(),
                     "PubkeyAcceptedAlgorithms", &a->pubkey, err, errsz);
    }
    if (r == FERRY_OK) { /* SHA-1 "ssh-rsa" CA signatures are never taken */
        r = algs_one(cfg->ca_sig_algs, ferry_sigalg_default(), ferry_sigalg_default(),
                     "CASignatureAlgorithms", &a->ca_sig, err, errsz);
    }
    if (r != FERRY_OK) {
        ferryd_algs_free(a);
    }
    return r;
}

void ferryd_algs_free(ferryd_algs *a)
{
    free(a->kex);
    free(a->ciphers);
    free(a->macs);
    free(a->hostkey);
    free(a->pubkey);
    free(a->ca_sig);
    memset(a, 0, sizeof(*a));
}
