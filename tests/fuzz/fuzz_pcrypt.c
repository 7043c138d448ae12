/* fuzz_pcrypt: received packets for every cipher x MAC pairing fed to
 * ferry_pcrypt_peek_len and ferry_pcrypt_open with fixed keys.
 *
 * Input: byte 0 selects the pairing (bits 0-3, mod the number of
 * pairings) and the mode (bit 7); bytes 1-4 are the sequence number (BE);
 * the rest is the data.
 *   mode 0: the data is a packet as received, its last tag_len bytes the
 *           tag. Must be refused (MAC_INVALID) and never crash.
 *   mode 1: the data is a plaintext packet: seal it, then peek + open
 *           with a fresh receiver; it must come back byte for byte.
 * Fresh states per input keep runs reproducible. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cipher.h"
#include "util/err.h"

static const char *const pairs[][2] = {
    {"chacha20-poly1305@openssh.com", NULL},
    {"aes128-gcm@openssh.com", NULL},
    {"aes256-gcm@openssh.com", NULL},
    {"aes128-ctr", "hmac-sha2-256-etm@openssh.com"},
    {"aes192-ctr", "hmac-sha2-512-etm@openssh.com"},
    {"aes256-ctr", "hmac-sha2-256"},
    {"aes128-ctr", "hmac-sha2-512"},
    {"aes256-ctr", "hmac-sha2-512-etm@openssh.com"},
};
#define N_PAIRS (sizeof(pairs) / sizeof(pairs[0]))

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static ferry_pcrypt *make(size_t i, int encrypt)
{
    static const uint8_t key[64] = {1, 2, 3, 4, 5, 6, 7, 8}, iv[16] = {9, 10, 11, 12};
    static const uint8_t mackey[64] = {13, 14, 15, 16};
    const ferry_mac_alg *mac = pairs[i][1] != NULL ? ferry_mac_by_name(pairs[i][1]) : NULL;
    ferry_pcrypt *p = NULL;
    if (ferry_pcrypt_new(&p, ferry_cipher_by_name(pairs[i][0]), mac, encrypt, key, iv, mackey) !=
        FERRY_OK) {
        abort();
    }
    return p;
}

static void received(size_t i, uint32_t seqnr, uint8_t *buf, size_t len)
{
    ferry_pcrypt *rx = make(i, 0);
    size_t tl = ferry_pcrypt_tag_len(rx);
    uint32_t pktlen = 0;
    if (len >= ferry_pcrypt_first_len(rx) + tl &&
        ferry_pcrypt_peek_len(rx, seqnr, buf, &pktlen) == FERRY_OK) {
        int r = ferry_pcrypt_open(rx, seqnr, buf, len - tl, buf + len - tl);
        if (r != FERRY_E_MAC_INVALID) {
            abort(); /* a forged tag, or an unexpected failure */
        }
    }
    ferry_pcrypt_free(rx);
}

static void roundtrip(size_t i, uint32_t seqnr, uint8_t *buf, size_t len)
{
    ferry_pcrypt *tx = make(i, 1), *rx = make(i, 0);
    size_t tl = ferry_pcrypt_tag_len(tx);
    uint8_t *wire = malloc(len + tl);
    uint32_t pktlen = 0;
    if (wire != NULL && len >= ferry_pcrypt_first_len(tx)) {
        memcpy(wire, buf, len);
        if (ferry_pcrypt_seal(tx, seqnr, wire, len, wire + len) != FERRY_OK ||
            ferry_pcrypt_peek_len(rx, seqnr, wire, &pktlen) != FERRY_OK ||
            ferry_pcrypt_open(rx, seqnr, wire, len, wire + len) != FERRY_OK ||
            memcmp(wire, buf, len) != 0 || pktlen != be32(buf)) {
            abort();
        }
    }
    free(wire);
    ferry_pcrypt_free(tx);
    ferry_pcrypt_free(rx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5 || size > 70000) {
        return 0;
    }
    size_t i = (data[0] & 0x0f) % N_PAIRS;
    uint32_t seqnr = be32(data + 1);
    size_t len = size - 5;
    uint8_t *buf = malloc(len + 1);
    if (buf == NULL) {
        return 0;
    }
    memcpy(buf, data + 5, len);
    if (data[0] & 0x80) {
        roundtrip(i, seqnr, buf, len);
    } else {
        received(i, seqnr, buf, len);
    }
    free(buf);
    return 0;
}
