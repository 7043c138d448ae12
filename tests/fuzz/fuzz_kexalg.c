/* fuzz_kexalg: peer public values of every key-exchange method fed to
 * ferry_kex_eph_derive, and server-chosen groups fed to ferry_kex_gex_check.
 *
 * Input: byte 0 selects the mode and method:
 *   bits 0-3  method index (mod the number of methods, in the order of
 *             ferry_kexalg_supported());
 *   bit 6     gex_check mode: the rest is mpint p, mpint g, uint32 min, max;
 *   bit 7     the rest is wire form (a string, or an mpint for DH) as the
 *             transport would read it; otherwise the raw peer bytes.
 * Each method's own ephemeral key is made once and reused (derive does not
 * change it), so DH key generation does not dominate the run. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "crypto/kexalg.h"
#include "util/buf.h"
#include "util/err.h"

#define MAX_METHODS 16

static const ferry_kex_alg *algs[MAX_METHODS];
static ferry_kex_eph *ephs[MAX_METHODS];
static size_t n_algs;

/* Every supported method, in ferry_kexalg_supported() order. */
static void load_algs(void)
{
    char names[1024];
    char *save = NULL;
    snprintf(names, sizeof(names), "%s", ferry_kexalg_supported());
    for (char *t = strtok_r(names, ",", &save); t != NULL && n_algs < MAX_METHODS;
         t = strtok_r(NULL, ",", &save)) {
        if ((algs[n_algs] = ferry_kexalg_by_name(t)) == NULL) {
            __builtin_trap();
        }
        n_algs++;
    }
}

static ferry_kex_eph *eph_for(size_t i)
{
    if (ephs[i] != NULL) {
        return ephs[i];
    }
    const ferry_kex_alg *alg = algs[i];
    BIGNUM *p = NULL, *g = NULL;
    ferry_buf *pub = ferry_buf_new(0);
    if (pub == NULL) {
        __builtin_trap();
    }
    if (alg->type == FERRY_KEX_DHGEX &&
        ferry_kex_gex_choose(2048, 2048, 8192, &p, &g) != FERRY_OK) {
        __builtin_trap();
    }
    if (ferry_kex_eph_new(&ephs[i], alg, p, g, pub) != FERRY_OK) {
        __builtin_trap();
    }
    BN_free(p);
    BN_free(g);
    ferry_buf_free(pub);
    return ephs[i];
}

static void fuzz_gex_check(const uint8_t *data, size_t size)
{
    ferry_rd r;
    BIGNUM *p = NULL, *g = NULL;
    uint32_t min = 0, max = 0;
    ferry_rd_init(&r, data, size);
    if (ferry_rd_bignum(&r, &p) == FERRY_OK && ferry_rd_bignum(&r, &g) == FERRY_OK &&
        ferry_rd_u32(&r, &min) == FERRY_OK && ferry_rd_u32(&r, &max) == FERRY_OK) {
        (void)ferry_kex_gex_check(p, g, min, max);
    }
    BN_clear_free(p);
    BN_clear_free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    uint8_t sel = data[0];
    data++;
    size--;
    if (sel & 0x40) {
        fuzz_gex_check(data, size);
        return 0;
    }
    if (n_algs == 0) {
        load_algs();
    }
    size_t i = (size_t)(sel & 0x0f) % n_algs;
    ferry_kex_eph *e = eph_for(i);
    const ferry_kex_alg *alg = algs[i];
    const uint8_t *peer = data;
    size_t peer_len = size;
    if (sel & 0x80) {
        ferry_rd r;
        ferry_rd_init(&r, data, size);
        int rc = (alg->type == FERRY_KEX_DH || alg->type == FERRY_KEX_DHGEX)
                     ? ferry_rd_mpint(&r, &peer, &peer_len)
                     : ferry_rd_string(&r, &peer, &peer_len);
        if (rc != FERRY_OK) {
            return 0;
        }
    }
    ferry_buf *k = ferry_buf_new(0);
    if (k == NULL) {
        return 0;
    }
    ferry_buf_set_secret(k);
    int rc = ferry_kex_eph_derive(e, peer, peer_len, k);
    if (rc == FERRY_OK) {
        /* K must be one well-formed mpint. */
        ferry_rd r;
        const uint8_t *kp;
        size_t kn;
        ferry_rd_from_buf(&r, k);
        if (ferry_rd_mpint(&r, &kp, &kn) != FERRY_OK || kn == 0 || ferry_rd_end(&r) != FERRY_OK) {
            __builtin_trap();
        }
    } else if (ferry_buf_len(k) != 0) {
        __builtin_trap(); /* nothing appended on failure */
    }
    ferry_buf_free(k);
    return 0;
}
