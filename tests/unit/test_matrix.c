/* test_matrix.c: the whole stack in memory for every kex x cipher x MAC
 * x host-key type: handshake, publickey authentication with an ed25519
 * identity, an "sftp" subsystem channel to an echo consumer, data through
 * and back byte-identical; for a subset, 1 MiB with a rekey started by the
 * client and then by the server in the middle of the stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers/chantest.h"
#include "helpers/pair.h"
#include "ssh/ssh_int.h"
#include "util/err.h"

static const char *const kexes[] = {
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group-exchange-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group14-sha256",
};
static const char *const ciphers[] = {
    "chacha20-poly1305@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
};
static const char *const macs[] = {
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-512",
};
static const struct {
    enum ferry_key_type type;
    const char *alg;
} hostkeys[] = {
    {FERRY_KEY_ED25519, "ssh-ed25519"},
    {FERRY_KEY_ECDSA_P256, "ecdsa-sha2-nistp256"},
    {FERRY_KEY_ECDSA_P384, "ecdsa-sha2-nistp384"},
    {FERRY_KEY_ECDSA_P521, "ecdsa-sha2-nistp521"},
    {FERRY_KEY_RSA, "rsa-sha2-512"},
};

#define N(a)  (sizeof(a) / sizeof((a)[0]))
#define SMALL (8u * 1024)
#define LARGE (1024u * 1024)

static ferry_key *user_key;
static uint8_t *payload;
static int payload_is_text; /* compressible (test_compression) */

static int setup(void **state)
{
    (void)state;
    payload = malloc(LARGE);
    ct_fill(payload, LARGE, 7);
    return ferry_key_generate(FERRY_KEY_ED25519, 0, &user_key) == FERRY_OK && payload ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ferry_key_free(user_key);
    free(payload);
    pair_keys_cleanup();
    return 0;
}

typedef struct combo {
    const char *kex, *cipher, *mac;
    size_t hk;
    int comp; /* zlib@openssh.com: 1 both sides, 2 the client only */
} combo;

/* Sends len bytes in two halves with a rekey by each side in between. */
static void run_data(pair *p, ct_sink *k, const combo *x, size_t len, int rekey)
{
    size_t half = len / 2;
    int ok = ct_transfer(p, k->ch, payload, half, k, half) == 0;
    if (ok && rekey) {
        assert_int_equal(ferry_ssh_rekey(p->c), FERRY_OK);
        ok = ct_transfer(p, k->ch, payload + half, half / 2, k, half + half / 2) == 0;
        assert_int_equal(ferry_ssh_rekey(p->s), FERRY_OK);
        ok = ok &&
             ct_transfer(p, k->ch, payload + half + half / 2, len - half - half / 2, k, len) == 0;
    } else if (ok) {
        ok = ct_transfer(p, k->ch, payload + half, len - half, k, len) == 0;
    }
    if (!ok || ferry_buf_len(k->got) != len || memcmp(ferry_buf_data(k->got), payload, len)) {
        fail_msg("%s %s %s %s: %zu of %zu bytes back; client '%s' server '%s'", x->kex, x->cipher,
                 x->mac, hostkeys[x->hk].alg, ferry_buf_len(k->got), len, p->c->close_msg,
                 p->s->close_msg);
    }
    if (rekey) {
        assert_int_equal(ferry_ssh_kex_count(p->c), 3);
        assert_int_equal(ferry_ssh_kex_count(p->s), 3);
    }
}

static void check_combo(const combo *x, size_t len, int rekey)
{
    ferry_ssh_config c, s;
    ct_store st = {.allowed = user_key};
    ct_server srv = {0};
    ct_sink k;
    ferry_identity id;
    ferry_key *hk = pair_hostkey(hostkeys[x->hk].type);
    pair *p = NULL;
    ct_identity(&id, user_key);
    ct_configs(&c, &s, &st, &srv, &id);
    c.try_password = 0;
    c.kex_algs = s.kex_algs = x->kex;
    c.ciphers = s.ciphers = x->cipher;
    c.macs = s.macs = x->mac;
    c.hostkey_algs = hostkeys[x->hk].alg;
    c.compression = x->comp != 0;
    s.compression = x->comp == 1;
    s.host_keys = &hk;
    s.n_host_keys = 1;
    ct_sink_init(&k);
    assert_int_equal(pair_new(&p, &c, &s), FERRY_OK);
    assert_int_equal(ferry_ssh_open_subsystem(p->c, "sftp", &ct_sink_ops, &k, NULL), FERRY_OK);
    assert_true(pair_run(p, 200) >= 0);
    if (k.open_result != 1 || !ferry_ssh_is_authenticated(p->s)) {
        fail_msg("%s %s %s %s: not open; client '%s' server '%s'", x->kex, x->cipher, x->mac,
                 hostkeys[x->hk].alg, p->c->close_msg, p->s->close_msg);
    }
    assert_string_equal(st.last_methods, "publickey");
    assert_string_equal(ferry_ssh_alg(p->c, "cipher_ctos"), x->cipher);
    run_data(p, &k, x, len, rekey);
    assert_int_equal(p->c->comp_neg[0] && p->c->comp_neg[1], x->comp == 1);
    assert_int_equal(p->s->comp != NULL && p->c->comp != NULL, x->comp == 1);
    assert_true((p->s->comp == NULL && p->c->comp == NULL) || x->comp == 1);
    if (x->comp == 1 && payload_is_text) {
        /* the text sent after the last rekey crossed the wire compressed */
        assert_true(p->c->tx.bytes < len / 8);
        assert_true(p->s->tx.bytes < len / 8);
    }
    assert_int_equal(srv.opened, 1);
    pair_free(p);
    assert_int_equal(srv.closed, 1);
    assert_int_equal(k.closes, 1);
    ct_sink_free(&k);
}

static int is_aead(const char *cipher)
{
    return strstr(cipher, "gcm") != NULL || strstr(cipher, "chacha") != NULL;
}

/* Every combination, a small payload, a rekey from each side mid-stream. */
static void test_full_matrix(void **state)
{
    (void)state;
    size_t n = 0;
    for (size_t kx = 0; kx < N(kexes); kx++) {
        for (size_t c = 0; c < N(ciphers); c++) {
            for (size_t m = 0; m < (is_aead(ciphers[c]) ? 1 : N(macs)); m++) {
                for (size_t h = 0; h < N(hostkeys); h++) {
                    combo x = {kexes[kx], ciphers[c], macs[m], h, 0};
                    check_combo(&x, SMALL, 1);
                    n++;
                }
            }
        }
    }
    assert_int_equal(n, N(kexes) * (3 + 3 * N(macs)) * N(hostkeys));
}

/* 1 MiB with a rekey from each side mid-stream: every cipher (and MAC for
 * CTR), kex and host key type rotating. */
static void test_large_with_rekey(void **state)
{
    (void)state;
    size_t i = 0;
    for (size_t c = 0; c < N(ciphers); c++) {
        for (size_t m = 0; m < (is_aead(ciphers[c]) ? 1 : N(macs)); m++, i++) {
            combo x = {kexes[i % 5], ciphers[c], macs[m], i % N(hostkeys), 0};
            check_combo(&x, LARGE, 1);
        }
    }
}

/* zlib@openssh.com, on after authentication, across two rekeys: a
 * compressible text (smaller on the wire) and random bytes, for the
 * three shapes of packet protection. */
static void test_compression(void **state)
{
    (void)state;
    static const char *const ciph[] = {"aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com",
                                       "aes128-ctr"};
    for (int text = 1; text >= 0; text--) {
        payload_is_text = text;
        if (text) {
            for (size_t i = 0; i < LARGE; i++) {
                payload[i] = (uint8_t)("ferry compresses this line. "[i % 28]);
            }
        } else {
            ct_fill(payload, LARGE, 7);
        }
        for (size_t c = 0; c < N(ciph); c++) {
            combo x = {"curve25519-sha256", ciph[c], "hmac-sha2-256-etm@openssh.com", c, 1};
            check_combo(&x, LARGE, 1);
        }
    }
    /* offered by the client only: not used */
    combo one = {"curve25519-sha256", ciph[0], "hmac-sha2-256-etm@openssh.com", 0, 2};
    check_combo(&one, SMALL, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compression),
        cmocka_unit_test(test_large_with_rekey),
        cmocka_unit_test(test_full_matrix),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
