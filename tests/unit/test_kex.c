/* test_kex.c: key exchange through the in-memory pair: every method x
 * cipher x MAC x host-key algorithm, negotiation rules, guesses
 * (first_kex_packet_follows), strict kex, ext-info, host key checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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
static const char *const sigalgs[] = {
    "ssh-ed25519",         "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521", "rsa-sha2-512",        "rsa-sha2-256",
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static ferry_key *all_keys[5];

static void load_keys(void)
{
    all_keys[0] = pair_hostkey(FERRY_KEY_ED25519);
    all_keys[1] = pair_hostkey(FERRY_KEY_ECDSA_P256);
    all_keys[2] = pair_hostkey(FERRY_KEY_ECDSA_P384);
    all_keys[3] = pair_hostkey(FERRY_KEY_ECDSA_P521);
    all_keys[4] = pair_hostkey(FERRY_KEY_RSA);
    for (size_t i = 0; i < N(all_keys); i++) {
        assert_non_null(all_keys[i]);
    }
}

/* Configs that force one algorithm of each kind on both sides. */
static void forced(ferry_ssh_config *c, ferry_ssh_config *s, const char *kex, const char *cipher,
                   const char *mac, const char *sigalg)
{
    pair_default_configs(c, s);
    c->kex_algs = s->kex_algs = kex;
    c->ciphers = s->ciphers = cipher;
    c->macs = s->macs = mac;
    c->hostkey_algs = sigalg;
    s->host_keys = all_keys;
    s->n_host_keys = N(all_keys);
}

/* Keys established, then a rekey so both directions carry encrypted
 * packets (KEXINIT both ways) under the negotiated algorithms. */
static void check_combo(const char *kex, const char *cipher, const char *mac, const char *sigalg)
{
    ferry_ssh_config c, s;
    pair *p = NULL;
    forced(&c, &s, kex, cipher, mac, sigalg);
    assert_int_equal(pair_new(&p, &c, &s), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    if (!pair_keyed(p)) {
        fail_msg("%s %s %s %s: client '%s' server '%s'", kex, cipher, mac, sigalg, p->c->close_msg,
                 p->s->close_msg);
    }
    for (int side = 0; side < 2; side++) {
        ferry_ssh *x = side == 0 ? p->c : p->s;
        assert_string_equal(ferry_ssh_alg(x, "kex"), kex);
        assert_string_equal(ferry_ssh_alg(x, "hostkey"), sigalg);
        assert_string_equal(ferry_ssh_alg(x, "cipher_ctos"), cipher);
        assert_string_equal(ferry_ssh_alg(x, "cipher_stoc"), cipher);
        int aead = strstr(cipher, "gcm") != NULL || strstr(cipher, "chacha") != NULL;
        assert_string_equal(ferry_ssh_alg(x, "mac_stoc"), aead ? "" : mac);
    }
    assert_true(ferry_key_equal_public(ferry_ssh_hostkey(p->c), ferry_ssh_hostkey(p->s)));
    assert_int_equal(ferry_ssh_rekey(p->c), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(pair_keyed(p));
    assert_int_equal(ferry_ssh_kex_count(p->c), 2);
    assert_int_equal(ferry_ssh_kex_count(p->s), 2);
    pair_free(p);
}

static void test_matrix(void **state)
{
    (void)state;
    load_keys();
    for (size_t k = 0; k < N(kexes); k++) {
        for (size_t c = 0; c < N(ciphers); c++) {
            int aead = strstr(ciphers[c], "gcm") != NULL || strstr(ciphers[c], "chacha") != NULL;
            for (size_t m = 0; m < (aead ? 1 : N(macs)); m++) {
                for (size_t h = 0; h < N(sigalgs); h++) {
                    check_combo(kexes[k], ciphers[c], macs[m], sigalgs[h]);
                }
            }
        }
    }
}

/* AEAD ciphers take no MAC: no common MAC must not fail negotiation. */
static void test_aead_without_common_mac(void **state)
{
    (void)state;
    ferry_ssh_config c, s;
    pair *p = NULL;
    pair_default_configs(&c, &s);
    c.ciphers = s.ciphers = "aes256-gcm@openssh.com";
    c.macs = "hmac-sha2-256";
    s.macs = "hmac-sha2-512";
    assert_int_equal(pair_new(&p, &c, &s), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(pair_keyed(p));
    pair_free(p);
    /* ... but with a non-AEAD cipher it must. */
    c.ciphers = s.ciphers = "aes128-ctr";
    assert_int_equal(pair_new(&p, &c, &s), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(ferry_ssh_is_closed(p->c));
    assert_int_equal(ferry_ssh_close_reason(p->c, NULL), FERRY_E_NO_ALG_MATCH);
    pair_free(p);
}

static void expect_no_match(ferry_ssh_config *c, ferry_ssh_config *s)
{
    pair *p = NULL;
    const char *msg = NULL;
    assert_int_equal(pair_new(&p, c, s), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(ferry_ssh_is_closed(p->c));
    assert_true(ferry_ssh_is_closed(p->s));
    /* Both decide on their own (each has both KEXINITs). */
    assert_int_equal(ferry_ssh_close_reason(p->c, &msg), FERRY_E_NO_ALG_MATCH);
    assert_non_null(strstr(msg, "no matching"));
    assert_int_equal(ferry_ssh_close_reason(p->s, NULL), FERRY_E_NO_ALG_MATCH);
    assert_int_equal(ferry_ssh_kex_count(p->c), 0);
    pair_free(p);
}

static void test_no_common_algorithms(void **state)
{
    (void)state;
    ferry_ssh_config c, s;
    pair_default_configs(&c, &s);
    c.ciphers = "aes128-ctr";
    s.ciphers = "aes256-gcm@openssh.com";
    expect_no_match(&c, &s);
    pair_default_configs(&c, &s);
    c.kex_algs = "ecdh-sha2-nistp256"; /* not in the server's default */
    expect_no_match(&c, &s);
    pair_default_configs(&c, &s);
    c.hostkey_algs = "rsa-sha2-512"; /* the server has only ed25519 */
    expect_no_match(&c, &s);
    pair_default_configs(&c, &s);
    c.kex_algs = "ext-info-c,kex-strict-c-v00@openssh.com"; /* pseudo names never match */
    s.kex_algs = "ext-info-c,curve25519-sha256";
    expect_no_match(&c, &s);
}

/* RFC 4253 s7.1: the client's preference wins. */
static void test_client_preference(void **state)
{
    (void)state;
    ferry_ssh_config c, s;
    pair *p = NULL;
    pair_default_configs(&c, &s);
    c.kex_algs = "diffie-hellman-group14-sha256,curve25519-sha256";
    s.kex_algs = "curve25519-sha256,diffie-hellman-group14-sha256";
    c.ciphers = "aes256-ctr,aes128-gcm@openssh.com";
    s.ciphers = "aes128-gcm@openssh.com,aes256-ctr";
    c.macs = "hmac-sha2-512,hmac-sha2-256";
    s.macs = "hmac-sha2-256,hmac-sha2-512";
    assert_int_equal(pair_new(&p, &c, &s), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(pair_keyed(p));
    assert_string_equal(ferry_ssh_alg(p->s, "kex"), "diffie-hellman-group14-sha256");
    assert_string_equal(ferry_ssh_alg(p->s, "cipher_ctos"), "aes256-ctr");
    assert_string_equal(ferry_ssh_alg(p->s, "mac_ctos"), "hmac-sha2-512");
    pair_free(p);
}

/* The server offers only the signature algorithms its keys can make. */
static void test_server_hostkey_choice(void **state)
{
    (void)state;
    ferry_ssh_config c, s;
    pair *p = NULL;
    ferry_key *keys[2] = {pair_hostkey(FERRY_KEY_RSA), pair_hostkey(FERRY_KEY_ECDSA_P384)};
    pair_default_configs(&c, &s);
    s.host_keys = keys;
    s.n_host_keys = 2;
    assert_int_equal(pair_new(&p, &c, &s), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(pair_keyed(p));
    /* client default order: ed25519 (absent), ecdsa p256 (absent), p384 */
    assert_string_equal(ferry_ssh_alg(p->c, "hostkey"), "ecdsa-sha2-nistp384");
    assert_ptr_equal(ferry_ssh_hostkey(p->s), keys[1]);
    assert_true(ferry_key_equal_public(ferry_ssh_hostkey(p->c), keys[1]));
    pair_free(p);
}

/* first_kex_packet_follows: a right guess is used, a wrong one ignored
 * (RFC 4253 s7). */
static void guess_case(const char *ckex, const char *skex, const char *chk, const char *want_kex)
{
    ferry_ssh_config c, s;
    pair *p = NULL;
    pair_default_configs(&c, &s);
    load_keys();
    c.kex_algs = ckex;
    s.kex_algs = skex;
    c.hostkey_algs = chk;
    c.kex_guess = 1;
    s.host_keys = all_keys;
    s.n_host_keys = N(all_keys);
    assert_int_equal(pair_new(&p, &c, &s), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    if (!pair_keyed(p)) {
        fail_msg("guess %s/%s: client '%s' server '%s'", ckex, chk, p->c->close_msg,
                 p->s->close_msg);
    }
    assert_string_equal(ferry_ssh_alg(p->s, "kex"), want_kex);
    assert_int_equal(ferry_ssh_rekey(p->s), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_int_equal(ferry_ssh_kex_count(p->c), 2);
    pair_free(p);
}

static void test_kex_guess(void **state)
{
    (void)state;
    /* right guess: the server uses the guessed INIT */
    guess_case("curve25519-sha256", "curve25519-sha256", "ssh-ed25519", "curve25519-sha256");
    /* wrong method: server picks the client's second choice */
    guess_case("ecdh-sha2-nistp256,curve25519-sha256", "curve25519-sha256", "ssh-ed25519",
               "curve25519-sha256");
    /* wrong method of another kind (DH) */
    guess_case("ecdh-sha2-nistp384,diffie-hellman-group14-sha256", "diffie-hellman-group14-sha256",
               "ssh-ed25519", "diffie-hellman-group14-sha256");
    /* right method, host key preferences differ */
    guess_case("curve25519-sha256", "curve25519-sha256", "ecdsa-sha2-nistp256,ssh-ed25519",
               "curve25519-sha256");
    /* the client's first method is chosen but the server prefers another:
     * still a wrong guess (the preferences differ) */
    guess_case("curve25519-sha256,diffie-hellman-group14-sha256",
               "diffie-hellman-group14-sha256,curve25519-sha256", "ssh-ed25519",
               "curve25519-sha256");
}

/* A guessing client sends its version at once and its KEXINIT after the
 * server's version line: to Dropbear (which misjudges right guesses) no
 * guess, to others KEXINIT with first_kex_packet_follows and the INIT. */
static void guess_for_peer(const char *peer_version, int expect_guess)
{
    ferry_ssh_config c, s;
    ferry_ssh *x = NULL;
    size_t len = 0;
    pair_default_configs(&c, &s);
    c.kex_guess = 1;
    assert_int_equal(ferry_ssh_new(&x, &c), FERRY_OK);
    assert_int_equal(ferry_ssh_start(x), FERRY_OK);
    const uint8_t *out = ferry_ssh_output(x, &len);
    assert_true(len > 8 && memcmp(out, "SSH-2.0-", 8) == 0);
    assert_int_equal(out[len - 1], '\n'); /* the version line only */
    ferry_ssh_output_consume(x, len);
    assert_int_equal(ferry_ssh_input(x, (const uint8_t *)peer_version, strlen(peer_version)),
                     FERRY_OK);
    out = ferry_ssh_output(x, &len);
    size_t off = 0, packets = 0;
    int follows = -1;
    while (off + 5 <= len) { /* plaintext packets: length, padding length, payload */
        uint32_t plen = ferry_load_u32(out + off);
        const uint8_t *payload = out + off + 5;
        size_t n = plen - 1 - out[off + 4];
        if (payload[0] == SSH_MSG_KEXINIT) {
            follows = payload[n - 5];
        } else {
            assert_int_equal(payload[0], 30); /* the guessed ECDH/DH INIT */
        }
        packets++;
        off += 4 + plen;
    }
    assert_int_equal(off, len);
    assert_int_equal(follows, expect_guess);
    assert_int_equal(packets, expect_guess ? 2 : 1);
    ferry_ssh_free(x);
}

static void test_kex_guess_peers(void **state)
{
    (void)state;
    guess_for_peer("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", 1);
    guess_for_peer("SSH-2.0-dropbear_2022.83\r\n", 0);
    guess_for_peer("SSH-2.0-Ferry_0.1\r\n", 1);
}

/* Host key refused by the application: the client aborts. */
static void test_hostkey_rejected(void **state)
{
    (void)state;
    pair *p = NULL;
    assert_int_equal(pair_new(&p, NULL, NULL), FERRY_OK);
    p->reject_hostkey = 1;
    assert_true(pair_run(p, 100) >= 0);
    assert_true(ferry_ssh_is_closed(p->c));
    assert_int_equal(ferry_ssh_close_reason(p->c, NULL), FERRY_E_HOSTKEY_UNKNOWN);
    assert_true(ferry_ssh_is_closed(p->s));
    assert_int_equal(ferry_ssh_close_reason(p->s, NULL), FERRY_E_DISCONNECTED);
    assert_int_equal(p->hostkey_checks, 1);
    pair_free(p);
}

/* The host key is checked once; on rekey it must stay the same. */
static void test_rekey_same_hostkey(void **state)
{
    (void)state;
    pair *p = NULL;
    assert_int_equal(pair_new(&p, NULL, NULL), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(pair_keyed(p));
    /* a rekey with a different server key (swap the server's key list) */
    ferry_key *other[1] = {pair_hostkey(FERRY_KEY_ECDSA_P256)};
    p->s->cfg.host_keys = other;
    p->s->cfg.n_host_keys = 1;
    assert_int_equal(ferry_ssh_rekey(p->c), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(ferry_ssh_is_closed(p->c));
    assert_int_equal(ferry_ssh_close_reason(p->c, NULL), FERRY_E_HOSTKEY_CHANGED);
    assert_int_equal(p->hostkey_checks, 1);
    pair_free(p);
}

/* Strict kex: anything before the first KEXINIT is fatal. */
static void hook_ignore_first(void *ctx, enum pair_dir dir, ferry_buf *chunk)
{
    int *done = ctx;
    if (dir != PAIR_C2S || *done) {
        return;
    }
    *done = 1;
    const uint8_t *d = ferry_buf_data(chunk);
    size_t n = ferry_buf_len(chunk);
    const uint8_t *eol = memchr(d, '\n', n);
    assert_non_null(eol);
    size_t vlen = (size_t)(eol - d) + 1;
    ferry_buf *nb = ferry_buf_new(0);
    const uint8_t ign[] = {SSH_MSG_IGNORE, 0, 0, 0, 0};
    assert_int_equal(ferry_buf_put(nb, d, vlen), FERRY_OK);
    assert_int_equal(pair_plain_packet(nb, ign, sizeof(ign)), FERRY_OK);
    assert_int_equal(ferry_buf_put(nb, d + vlen, n - vlen), FERRY_OK);
    ferry_buf_reset(chunk);
    assert_int_equal(ferry_buf_put(chunk, ferry_buf_data(nb), ferry_buf_len(nb)), FERRY_OK);
    ferry_buf_free(nb);
}

static void test_strict_kex(void **state)
{
    (void)state;
    pair *p = NULL;
    int done = 0;
    assert_int_equal(pair_new(&p, NULL, NULL), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(p->c->strict_kex);
    assert_true(p->s->strict_kex);
    /* sequence numbers restarted at NEWKEYS: they count the packets under
     * the new keys (EXT_INFO first) */
    assert_true(p->s->tx.packets >= 1);
    assert_int_equal(p->s->tx.seqnr, (uint32_t)p->s->tx.packets);
    assert_int_equal(p->c->rx.seqnr, (uint32_t)p->c->rx.packets);
    assert_int_equal(p->c->tx.seqnr, (uint32_t)p->c->tx.packets);
    pair_free(p);

    assert_int_equal(pair_new(&p, NULL, NULL), FERRY_OK);
    p->hook = hook_ignore_first;
    p->hook_ctx = &done;
    assert_true(pair_run(p, 100) >= 0);
    assert_true(done);
    assert_true(ferry_ssh_is_closed(p->s));
    assert_int_equal(ferry_ssh_close_reason(p->s, NULL), FERRY_E_PROTOCOL);
    assert_int_equal(ferry_ssh_kex_count(p->s), 0);
    pair_free(p);
}

/* Without strict kex (a peer that does not offer it) IGNORE before KEXINIT
 * is allowed; with non-strict peers sequence numbers keep counting. */
static void test_not_strict(void **state)
{
    (void)state;
    ferry_ssh_config c, s;
    pair *p = NULL;
    pair_default_configs(&c, &s);
    assert_int_equal(pair_new(&p, &c, &s), FERRY_OK);
    /* restart the client so that its first KEXINIT lacks kex-strict-c:
     * pretend it is a rekey-era KEXINIT by bumping kex_count first */
    ferry_ssh_free(p->c);
    assert_int_equal(ferry_ssh_new(&p->c, &p->ccfg), FERRY_OK);
    p->c->kex_count = 1; /* no pseudo-algorithms in the KEXINIT */
    assert_int_equal(ferry_ssh_start(p->c), FERRY_OK);
    p->c->kex_count = 0;
    assert_true(pair_run(p, 100) >= 0);
    assert_true(pair_keyed(p));
    assert_false(p->s->strict_kex);
    assert_false(p->c->strict_kex);
    assert_false(p->s->ext_info_peer); /* no ext-info-c either */
    /* KEXINIT, REPLY, NEWKEYS were counted before the new keys */
    assert_int_equal(p->s->tx.seqnr, (uint32_t)p->s->tx.packets + 3);
    pair_free(p);
}

/* ext-info: the server tells the client its signature algorithms. */
static void test_ext_info(void **state)
{
    (void)state;
    pair *p = NULL;
    assert_int_equal(pair_new(&p, NULL, NULL), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(p->s->ext_info_peer);
    assert_non_null(p->c->server_sig_algs);
    assert_string_equal(p->c->server_sig_algs, ferry_sigalg_default());
    assert_true(ferry__kex_peer_accepts_sigalg(p->c, "rsa-sha2-256"));
    assert_false(ferry__kex_peer_accepts_sigalg(p->c, "ssh-rsa"));
    assert_false(ferry__kex_peer_accepts_sigalg(p->c, "ssh-ed"));
    /* only in the first key exchange: no EXT_INFO after a rekey */
    free(p->c->server_sig_algs);
    p->c->server_sig_algs = NULL;
    assert_int_equal(ferry_ssh_rekey(p->c), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_int_equal(ferry_ssh_kex_count(p->c), 2);
    assert_null(p->c->server_sig_algs);
    assert_true(p->c->strict_kex); /* and the rekey KEXINITs did not undo it */
    pair_free(p);
    /* server-sig-algs says what the server accepts (PubkeyAcceptedAlgorithms) */
    ferry_ssh_config c, s;
    pair_default_configs(&c, &s);
    s.pubkey_algs = "ssh-ed25519,rsa-sha2-256";
    assert_int_equal(pair_new(&p, &c, &s), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_string_equal(p->c->server_sig_algs, "ssh-ed25519,rsa-sha2-256");
    assert_false(ferry__kex_peer_accepts_sigalg(p->c, "rsa-sha2-512"));
    pair_free(p);
}

/* A peer KEXINIT with huge name-lists (10,000 names) is handled. */
static void test_huge_namelists(void **state)
{
    (void)state;
    ferry_ssh_config c, s;
    pair *p = NULL;
    size_t cap = 60000;
    char *list = malloc(cap);
    assert_non_null(list);
    size_t off = 0;
    for (int i = 0; off + 16 < cap - 64 && i < 10000; i++) {
        off += (size_t)snprintf(list + off, cap - off, "x%d,", i);
    }
    snprintf(list + off, cap - off, "curve25519-sha256");
    pair_default_configs(&c, &s);
    c.kex_algs = list;
    assert_int_equal(pair_new(&p, &c, &s), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(pair_keyed(p));
    pair_free(p);
    /* and the other way round */
    pair_default_configs(&c, &s);
    s.kex_algs = list;
    assert_int_equal(pair_new(&p, &c, &s), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(pair_keyed(p));
    pair_free(p);
    free(list);
}

/* Man in the middle: a plaintext kex field changed in flight must break
 * the handshake, which shows H covers it (RFC 4253 s8). */
struct mitm {
    enum pair_dir dir;
    int target;      /* message number to alter, or 0 for the version line */
    long from_end;   /* offset from the end of the payload (>0), or */
    long from_start; /* offset from the start of the payload (after msg) */
    int done;
};

static void hook_mitm(void *ctx, enum pair_dir dir, ferry_buf *chunk)
{
    struct mitm *m = ctx;
    uint8_t *d = ferry_buf_mdata(chunk);
    size_t n = ferry_buf_len(chunk), off = 0;
    if (m->done || dir != m->dir) {
        return;
    }
    const uint8_t *eol = memchr(d, '\n', n);
    if (d[0] == 'S' && eol != NULL) {
        if (m->target == 0) {
            d[(size_t)(eol - d) - 2] ^= 0x01; /* last character of the version */
            m->done = 1;
            return;
        }
        off = (size_t)(eol - d) + 1;
    }
    while (off + 6 <= n) {
        uint32_t pl = (uint32_t)d[off] << 24 | (uint32_t)d[off + 1] << 16 |
                      (uint32_t)d[off + 2] << 8 | d[off + 3];
        size_t pad = d[off + 4];
        if (d[off + 5] == m->target) {
            size_t start = off + 6, end = off + 4 + pl - pad;
            size_t at = m->from_end > 0 ? end - (size_t)m->from_end : start + (size_t)m->from_start;
            d[at] ^= 0x01;
            m->done = 1;
            return;
        }
        if (d[off + 5] == SSH_MSG_NEWKEYS) {
            return;
        }
        off += 4 + pl;
    }
}

static void mitm_case(struct mitm m, int want_client_err)
{
    pair *p = NULL;
    assert_int_equal(pair_new(&p, NULL, NULL), FERRY_OK);
    p->hook = hook_mitm;
    p->hook_ctx = &m;
    assert_true(pair_run(p, 100) >= 0);
    assert_true(m.done);
    assert_true(ferry_ssh_is_closed(p->c));
    if (ferry_ssh_close_reason(p->c, NULL) != want_client_err) {
        fail_msg("target %d: client %s", m.target, p->c->close_msg);
    }
    assert_int_equal(ferry_ssh_kex_count(p->c), 0);
    assert_int_equal(ferry_ssh_kex_count(p->s), 0);
    assert_int_equal(p->hostkey_checks, 0);
    pair_free(p);
}

static void test_exchange_hash_coverage(void **state)
{
    (void)state;
    /* server's version line (V_S), as the client sees it */
    mitm_case((struct mitm){PAIR_S2C, 0, 0, 0, 0}, FERRY_E_SIGNATURE_INVALID);
    /* client's version line (V_C), as the server sees it */
    mitm_case((struct mitm){PAIR_C2S, 0, 0, 0, 0}, FERRY_E_SIGNATURE_INVALID);
    /* the KEXINIT cookies (I_S, I_C) */
    mitm_case((struct mitm){PAIR_S2C, SSH_MSG_KEXINIT, 0, 3, 0}, FERRY_E_SIGNATURE_INVALID);
    mitm_case((struct mitm){PAIR_C2S, SSH_MSG_KEXINIT, 0, 3, 0}, FERRY_E_SIGNATURE_INVALID);
    /* the client's ephemeral key Q_C (last byte of the string) */
    mitm_case((struct mitm){PAIR_C2S, SSH_MSG_KEX_30, 1, 0, 0}, FERRY_E_SIGNATURE_INVALID);
    /* the signature itself (last byte of the ed25519 signature) */
    mitm_case((struct mitm){PAIR_S2C, SSH_MSG_KEX_31, 1, 0, 0}, FERRY_E_SIGNATURE_INVALID);
}

static void test_accessors(void **state)
{
    (void)state;
    pair *p = NULL;
    assert_int_equal(pair_new(&p, NULL, NULL), FERRY_OK);
    assert_null(ferry_ssh_hostkey(p->c));
    assert_null(ferry_ssh_hostkey(p->s));
    assert_null(ferry_ssh_peer_version(p->c));
    assert_string_equal(ferry_ssh_alg(p->c, "kex"), "");
    assert_int_equal(ferry_ssh_rekey(p->c), FERRY_E_AGAIN);
    assert_true(pair_run(p, 100) >= 0);
    assert_string_equal(ferry_ssh_peer_version(p->c), "SSH-2.0-Ferry_0.1");
    assert_string_equal(ferry_ssh_peer_version(p->s), "SSH-2.0-Ferry_0.1");
    assert_string_equal(ferry_ssh_alg(p->c, "bogus"), "");
    assert_string_equal(ferry_ssh_alg(p->c, "cipher_stoc"), "chacha20-poly1305@openssh.com");
    assert_ptr_equal(ferry_ssh_hostkey(p->s), pair_hostkey(FERRY_KEY_ED25519));
    assert_true(ferry_key_equal_public(ferry_ssh_hostkey(p->c), pair_hostkey(FERRY_KEY_ED25519)));
    assert_int_equal(p->c->session_id_len, 32);
    assert_memory_equal(p->c->session_id, p->s->session_id, 32);
    uint8_t sid[32];
    memcpy(sid, p->c->session_id, 32);
    assert_int_equal(ferry_ssh_rekey(p->s), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_memory_equal(p->c->session_id, sid, 32); /* the first H stays */
    pair_free(p);
    /* a server needs host keys */
    ferry_ssh_config c, s;
    ferry_ssh *x = NULL;
    pair_default_configs(&c, &s);
    assert_int_equal(ferry_ssh_new(&x, &s), FERRY_E_INVALID_ARG);
    assert_null(x);
}

/* Malformed or oversized EXT_INFO ends the session. */
static void test_ext_info_malformed(void **state)
{
    (void)state;
    for (int k = 0; k < 3; k++) {
        pair *p = NULL;
        assert_int_equal(pair_new(&p, NULL, NULL), FERRY_OK);
        assert_true(pair_run(p, 100) >= 0);
        p->c->state = FERRY_ST_AUTH; /* EXT_INFO is accepted before auth ends */
        p->c->authenticated = 0;
        ferry_buf *b = NULL;
        assert_int_equal(ferry__pkt_start(p->s, SSH_MSG_EXT_INFO, &b), FERRY_OK);
        if (k == 0) {
            assert_int_equal(ferry_buf_put_u32(b, 1000), FERRY_OK); /* too many */
        } else if (k == 1) {
            assert_int_equal(ferry_buf_put_u32(b, 2), FERRY_OK); /* one missing */
            assert_int_equal(ferry_buf_put_cstring(b, "server-sig-algs"), FERRY_OK);
            assert_int_equal(ferry_buf_put_cstring(b, "ssh-ed25519"), FERRY_OK);
        } else {
            assert_int_equal(ferry_buf_put_u32(b, 1), FERRY_OK); /* trailing bytes */
            assert_int_equal(ferry_buf_put_cstring(b, "x"), FERRY_OK);
            assert_int_equal(ferry_buf_put_cstring(b, "y"), FERRY_OK);
            assert_int_equal(ferry_buf_put_u8(b, 0), FERRY_OK);
        }
        assert_int_equal(ferry__pkt_finish(p->s), FERRY_OK);
        assert_true(pair_run(p, 100) >= 0);
        assert_true(ferry_ssh_is_closed(p->c));
        pair_free(p);
    }
}

/* ---- a hand-driven peer against a lone server ---- */

static void kexinit_payload(ferry_buf *b, const char *kex, int follows)
{
    const uint8_t cookie[16] = {1, 2, 3};
    const char *lists[10] = {kex,
                             "ssh-ed25519",
                             "aes128-ctr",
                             "aes128-ctr",
                             "hmac-sha2-256",
                             "hmac-sha2-256",
                             "none",
                             "none",
                             "",
                             ""};
    assert_int_equal(ferry_buf_put_u8(b, SSH_MSG_KEXINIT), FERRY_OK);
    assert_int_equal(ferry_buf_put(b, cookie, sizeof(cookie)), FERRY_OK);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(ferry_buf_put_cstring(b, lists[i]), FERRY_OK);
    }
    assert_int_equal(ferry_buf_put_bool(b, follows), FERRY_OK);
    assert_int_equal(ferry_buf_put_u32(b, 0), FERRY_OK);
}

/* A server session fed the version line and then each payload as a
 * plaintext packet. Returns the session (caller frees). */
static ferry_ssh *drive_server(ferry_buf **payloads, size_t n)
{
    static ferry_key *keys[1];
    ferry_ssh_config c, s;
    ferry_ssh *x = NULL;
    keys[0] = pair_hostkey(FERRY_KEY_ED25519);
    pair_default_configs(&c, &s);
    s.host_keys = keys;
    s.n_host_keys = 1;
    s.kex_algs = "curve25519-sha256,diffie-hellman-group-exchange-sha256";
    assert_int_equal(ferry_ssh_new(&x, &s), FERRY_OK);
    assert_int_equal(ferry_ssh_start(x), FERRY_OK);
    ferry_buf *in = ferry_buf_new(0);
    assert_int_equal(ferry_buf_put(in, "SSH-2.0-hand\r\n", 14), FERRY_OK);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(
            pair_plain_packet(in, ferry_buf_data(payloads[i]), ferry_buf_len(payloads[i])),
            FERRY_OK);
    }
    (void)ferry_ssh_input(x, ferry_buf_data(in), ferry_buf_len(in));
    ferry_buf_free(in);
    return x;
}

static void expect_server_fails(ferry_buf **payloads, size_t n, int err, const char *what)
{
    const char *msg = NULL;
    ferry_ssh *x = drive_server(payloads, n);
    if (ferry_ssh_close_reason(x, &msg) != err || strstr(msg, what) == NULL) {
        fail_msg("want %s '%s', got %s '%s'", ferry_errname(err), what,
                 ferry_errname(ferry_ssh_close_reason(x, NULL)), msg);
    }
    ferry_ssh_free(x);
}

static void test_kex_sequence_errors(void **state)
{
    (void)state;
    ferry_buf *b[4];
    for (int i = 0; i < 4; i++) {
        b[i] = ferry_buf_new(0);
    }
    /* a method message before KEXINIT */
    assert_int_equal(ferry_buf_put_u8(b[0], SSH_MSG_KEX_30), FERRY_OK);
    expect_server_fails(b, 1, FERRY_E_PROTOCOL, "before KEXINIT");
    /* two KEXINITs */
    ferry_buf_reset(b[0]);
    kexinit_payload(b[0], "curve25519-sha256", 0);
    kexinit_payload(b[1], "curve25519-sha256", 0);
    expect_server_fails(b, 2, FERRY_E_PROTOCOL, "KEXINIT during a key exchange");
    /* NEWKEYS before the method ran */
    ferry_buf_reset(b[1]);
    assert_int_equal(ferry_buf_put_u8(b[1], SSH_MSG_NEWKEYS), FERRY_OK);
    expect_server_fails(b, 2, FERRY_E_PROTOCOL, "unexpected NEWKEYS");
    /* a reply sent to a server */
    ferry_buf_reset(b[1]);
    assert_int_equal(ferry_buf_put_u8(b[1], SSH_MSG_KEX_31), FERRY_OK);
    expect_server_fails(b, 2, FERRY_E_PROTOCOL, "unexpected kex message 31");
    /* GEX with min > max */
    ferry_buf_reset(b[0]);
    ferry_buf_reset(b[1]);
    kexinit_payload(b[0], "diffie-hellman-group-exchange-sha256", 0);
    assert_int_equal(ferry_buf_put_u8(b[1], SSH_MSG_KEX_DH_GEX_REQUEST), FERRY_OK);
    assert_int_equal(ferry_buf_put_u32(b[1], 4096), FERRY_OK);
    assert_int_equal(ferry_buf_put_u32(b[1], 3072), FERRY_OK);
    assert_int_equal(ferry_buf_put_u32(b[1], 2048), FERRY_OK);
    expect_server_fails(b, 2, FERRY_E_FORMAT, "group exchange");
    /* GEX asking only for small groups */
    ferry_buf_reset(b[1]);
    assert_int_equal(ferry_buf_put_u8(b[1], SSH_MSG_KEX_DH_GEX_REQUEST), FERRY_OK);
    assert_int_equal(ferry_buf_put_u32(b[1], 512), FERRY_OK);
    assert_int_equal(ferry_buf_put_u32(b[1], 1024), FERRY_OK);
    assert_int_equal(ferry_buf_put_u32(b[1], 1024), FERRY_OK);
    expect_server_fails(b, 2, FERRY_E_NO_ALG_MATCH, "group exchange");
    /* malformed KEXINITs: truncated, trailing bytes, NUL in a list */
    ferry_buf_reset(b[0]);
    kexinit_payload(b[0], "curve25519-sha256", 0);
    assert_int_equal(ferry_buf_truncate(b[0], ferry_buf_len(b[0]) - 1), FERRY_OK);
    expect_server_fails(b, 1, FERRY_E_FORMAT, "malformed KEXINIT");
    ferry_buf_reset(b[0]);
    kexinit_payload(b[0], "curve25519-sha256", 0);
    assert_int_equal(ferry_buf_put_u8(b[0], 0), FERRY_OK);
    expect_server_fails(b, 1, FERRY_E_TRAILING_DATA, "malformed KEXINIT");
    ferry_buf_reset(b[0]);
    kexinit_payload(b[0], "curve25519-sha256Xx", 0);
    ferry_buf_mdata(b[0])[1 + 16 + 4 + 17] = '\0';
    expect_server_fails(b, 1, FERRY_E_FORMAT, "malformed KEXINIT");
    /* a bad X25519 value: the all-zero point */
    ferry_buf_reset(b[0]);
    ferry_buf_reset(b[1]);
    kexinit_payload(b[0], "curve25519-sha256", 0);
    uint8_t zero[32] = {0};
    assert_int_equal(ferry_buf_put_u8(b[1], SSH_MSG_KEX_30), FERRY_OK);
    assert_int_equal(ferry_buf_put_string(b[1], zero, sizeof(zero)), FERRY_OK);
    expect_server_fails(b, 2, FERRY_E_KEY_WEAK, "key exchange failed");
    for (int i = 0; i < 4; i++) {
        ferry_buf_free(b[i]);
    }
}

/* A wrong guess (first_kex_packet_follows with another preferred method):
 * the server drops the next kex packet and answers the real one. */
static void test_server_ignores_wrong_guess(void **state)
{
    (void)state;
    ferry_buf *b[3];
    for (int i = 0; i < 3; i++) {
        b[i] = ferry_buf_new(0);
    }
    kexinit_payload(b[0], "diffie-hellman-group14-sha256,curve25519-sha256", 1);
    assert_int_equal(ferry_buf_put_u8(b[1], SSH_MSG_KEX_30), FERRY_OK); /* the wrong guess: junk */
    assert_int_equal(ferry_buf_put_u8(b[1], 0xee), FERRY_OK);
    ferry_kex_eph *eph = NULL;
    ferry_buf *pub = ferry_buf_new(0);
    assert_int_equal(
        ferry_kex_eph_new(&eph, ferry_kexalg_by_name("curve25519-sha256"), NULL, NULL, pub),
        FERRY_OK);
    assert_int_equal(ferry_buf_put_u8(b[2], SSH_MSG_KEX_30), FERRY_OK);
    assert_int_equal(ferry_buf_put(b[2], ferry_buf_data(pub), ferry_buf_len(pub)), FERRY_OK);
    ferry_ssh *x = drive_server(b, 3);
    assert_false(ferry_ssh_is_closed(x));
    assert_string_equal(ferry_ssh_alg(x, "kex"), "curve25519-sha256");
    /* the server replied and sent NEWKEYS */
    assert_false(x->tx_kex);
    assert_non_null(x->tx.pc);
    ferry_ssh_free(x);
    /* the same junk without the follows flag is fatal */
    ferry_buf_reset(b[0]);
    kexinit_payload(b[0], "diffie-hellman-group14-sha256,curve25519-sha256", 0);
    x = drive_server(b, 3);
    assert_true(ferry_ssh_is_closed(x));
    ferry_ssh_free(x);
    ferry_kex_eph_free(eph);
    ferry_buf_free(pub);
    for (int i = 0; i < 3; i++) {
        ferry_buf_free(b[i]);
    }
}

static int teardown(void **state)
{
    (void)state;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix),
        cmocka_unit_test(test_aead_without_common_mac),
        cmocka_unit_test(test_no_common_algorithms),
        cmocka_unit_test(test_client_preference),
        cmocka_unit_test(test_server_hostkey_choice),
        cmocka_unit_test(test_kex_guess),
        cmocka_unit_test(test_kex_guess_peers),
        cmocka_unit_test(test_hostkey_rejected),
        cmocka_unit_test(test_rekey_same_hostkey),
        cmocka_unit_test(test_strict_kex),
        cmocka_unit_test(test_not_strict),
        cmocka_unit_test(test_ext_info),
        cmocka_unit_test(test_huge_namelists),
        cmocka_unit_test(test_exchange_hash_coverage),
        cmocka_unit_test(test_accessors),
        cmocka_unit_test(test_ext_info_malformed),
        cmocka_unit_test(test_kex_sequence_errors),
        cmocka_unit_test(test_server_ignores_wrong_guess),
    };
    int r = cmocka_run_group_tests(tests, NULL, teardown);
    pair_keys_cleanup();
    return r;
}
