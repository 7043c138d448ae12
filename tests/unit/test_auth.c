/* test_auth.c: user authentication (RFC 4252, RFC 4256).
 *
 * Server side: raw messages to a session without key exchange
 * (helpers/chantest ct_raw_session), replies read back in plaintext.
 * Client side and end to end: the in-memory pair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/cert.h"
#include "helpers/chantest.h"
#include "helpers/pair.h"
#include "helpers/shell.h"
#include "ssh/auth_int.h"
#include "ssh/ssh_int.h"
#include "util/err.h"

static ferry_key *alice_key, *other_key, *rsa_key, *ca_key;
/* OpenSSH certificates made by ssh-keygen -s: alice_key's for principal
 * alice by ca_key; the same by other_key as CA; alice_key's for bob */
static ferry_cert *alice_cert, *alice_cert_other_ca, *alice_cert_bob;

/* ssh-keygen -s CA -I id -n PRINCIPAL over KEY's public half, in dir. */
static ferry_cert *make_cert(const char *dir, const ferry_key *key, const ferry_key *ca,
                             const char *principal)
{
    char path[256], capath[256], *line = NULL;
    ferry_cert *c = NULL;
    snprintf(path, sizeof(path), "%s/user.pub", dir); /* signed into user-cert.pub */
    snprintf(capath, sizeof(capath), "%s/ca", dir);
    FILE *f = fopen(path, "w");
    unlink(capath);
    if (f == NULL || ferry_key_format_public_line(key, NULL, &line) != FERRY_OK ||
        ferry_key_save_private_file(ca, "ca", capath, NULL) != FERRY_OK) {
        if (f != NULL) {
            fclose(f);
        }
        free(line);
        return NULL;
    }
    fprintf(f, "%s\n", line);
    fclose(f);
    free(line);
    char *o = th_run("ssh-keygen -q -s %s -I test-id -n %s %s 2>&1", capath, principal, path);
    snprintf(path, sizeof(path), "%s/user-cert.pub", dir);
    if (o != NULL && ferry_cert_load(path, &c) != FERRY_OK) {
        c = NULL;
    }
    free(o);
    return c;
}

static int setup(void **state)
{
    (void)state;
    char dir[] = "/tmp/ferry-test-auth-XXXXXX";
    int r = ferry_key_generate(FERRY_KEY_ED25519, 0, &alice_key);
    r = r == FERRY_OK ? ferry_key_generate(FERRY_KEY_ED25519, 0, &other_key) : r;
    r = r == FERRY_OK ? ferry_key_generate(FERRY_KEY_RSA, 2048, &rsa_key) : r;
    r = r == FERRY_OK ? ferry_key_generate(FERRY_KEY_ECDSA_P256, 0, &ca_key) : r;
    if (r != FERRY_OK || mkdtemp(dir) == NULL) {
        return -1;
    }
    alice_cert = make_cert(dir, alice_key, ca_key, "alice");
    alice_cert_other_ca = make_cert(dir, alice_key, other_key, "alice");
    alice_cert_bob = make_cert(dir, alice_key, ca_key, "bob");
    free(th_run("rm -rf '%s'", dir));
    return alice_cert && alice_cert_other_ca && alice_cert_bob ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ferry_key_free(alice_key);
    ferry_key_free(other_key);
    ferry_key_free(rsa_key);
    ferry_key_free(ca_key);
    ferry_cert_free(alice_cert);
    ferry_cert_free(alice_cert_other_ca);
    ferry_cert_free(alice_cert_bob);
    pair_keys_cleanup();
    return 0;
}

/* ---- server fixtures ---- */

typedef struct srv {
    ferry_ssh *s;
    ct_store st;
    ferry_buf *msg; /* last reply */
} srv;

static void srv_new(srv *x, const char *methods, unsigned max_tries)
{
    ferry_ssh_config cfg;
    memset(x, 0, sizeof(*x));
    memset(&cfg, 0, sizeof(cfg));
    cfg.role = FERRY_ROLE_SERVER;
    cfg.auth = &ct_store_ops;
    cfg.auth_ctx = &x->st;
    cfg.auth_methods = methods;
    cfg.max_auth_tries = max_tries;
    x->st.allowed = alice_key;
    x->msg = ferry_buf_new(0);
    assert_int_equal(ct_raw_session(&x->s, &cfg, 0), FERRY_OK);
}

static void srv_free(srv *x)
{
    ferry_ssh_free(x->s);
    ferry_buf_free(x->msg);
}

/* Feeds a payload and returns the message number of the one reply (0 if
 * none); the reply stays in x->msg. */
static int srv_ask(srv *x, const ferry_buf *req)
{
    (void)ct_feedb(x->s, req);
    if (!ct_next(x->s, x->msg)) {
        return 0;
    }
    assert_int_equal(ct_drain(x->s), 0);
    return ferry_buf_data(x->msg)[0];
}

static void srv_service(srv *x)
{
    ferry_buf *b = ferry_buf_new(0);
    ferry_buf_put_u8(b, SSH_MSG_SERVICE_REQUEST);
    ferry_buf_put_cstring(b, "ssh-userauth");
    assert_int_equal(srv_ask(x, b), SSH_MSG_SERVICE_ACCEPT);
    ferry_buf_free(b);
}

static ferry_buf *req_start(const char *user, const char *method)
{
    ferry_buf *b = ferry_buf_new(0);
    ferry_buf_put_u8(b, SSH_MSG_USERAUTH_REQUEST);
    ferry_buf_put_cstring(b, user);
    ferry_buf_put_cstring(b, "ssh-connection");
    ferry_buf_put_cstring(b, method);
    return b;
}

static ferry_buf *req_password(const char *user, const char *pw)
{
    ferry_buf *b = req_start(user, "password");
    ferry_buf_put_bool(b, 0);
    ferry_buf_put_cstring(b, pw);
    return b;
}

static void put_blob(ferry_buf *b, const ferry_key *k)
{
    ferry_buf *blob = ferry_buf_new(0);
    assert_int_equal(ferry_key_to_blob(k, blob), FERRY_OK);
    ferry_buf_put_stringb(b, blob);
    ferry_buf_free(blob);
}

/* publickey request for `inkey`; signed by `signer` when non-NULL. */
static ferry_buf *req_pubkey(const ferry_ssh *s, const char *user, const ferry_key *inkey,
                             const ferry_key *signer)
{
    ferry_buf *b = req_start(user, "publickey");
    ferry_buf_put_bool(b, signer != NULL);
    ferry_buf_put_cstring(b, "ssh-ed25519");
    put_blob(b, inkey);
    if (signer != NULL) {
        ferry_buf *blob = ferry_buf_new(0), *data = ferry_buf_new(0), *sig = ferry_buf_new(0);
        ferry_key_to_blob(inkey, blob);
        assert_int_equal(ferry__auth_pubkey_signed_data(s, user, "ssh-ed25519",
                                                        ferry_buf_data(blob), ferry_buf_len(blob),
                                                        data),
                         FERRY_OK);
        assert_int_equal(
            ferry_key_sign(signer, "ssh-ed25519", ferry_buf_data(data), ferry_buf_len(data), sig),
            FERRY_OK);
        ferry_buf_put_stringb(b, sig);
        ferry_buf_free(blob);
        ferry_buf_free(data);
        ferry_buf_free(sig);
    }
    return b;
}

/* Checks x->msg is FAILURE(list, partial). */
static void expect_failure(const srv *x, const char *list, int partial)
{
    ferry_rd rd;
    char got[256];
    int part = -1;
    uint8_t m = 0;
    ferry_rd_from_buf(&rd, x->msg);
    assert_int_equal(ferry_rd_u8(&rd, &m), FERRY_OK);
    assert_int_equal(m, SSH_MSG_USERAUTH_FAILURE);
    assert_int_equal(ferry_rd_name(&rd, got, sizeof(got)), FERRY_OK);
    assert_int_equal(ferry_rd_bool(&rd, &part), FERRY_OK);
    assert_int_equal(ferry_rd_end(&rd), FERRY_OK);
    assert_string_equal(got, list);
    assert_int_equal(part, partial);
}

/* Checks the last reply was DISCONNECT with `reason` and the session is closed. */
static void expect_disconnect(srv *x, uint32_t reason)
{
    ferry_rd rd;
    uint8_t m = 0;
    uint32_t code = 0;
    ferry_rd_from_buf(&rd, x->msg);
    assert_int_equal(ferry_rd_u8(&rd, &m), FERRY_OK);
    assert_int_equal(m, SSH_MSG_DISCONNECT);
    assert_int_equal(ferry_rd_u32(&rd, &code), FERRY_OK);
    assert_int_equal(code, reason);
    assert_true(ferry_ssh_is_closed(x->s));
    assert_false(ferry_ssh_is_authenticated(x->s));
}

/* Sends req (freeing it) and checks the reply number. */
static void ask(srv *x, ferry_buf *req, int want)
{
    assert_int_equal(srv_ask(x, req), want);
    ferry_buf_free(req);
}

/* ---- server tests ---- */

static void test_none_lists_methods(void **state)
{
    (void)state;
    srv x;
    srv_new(&x, NULL, 0);
    srv_service(&x);
    ask(&x, req_start("alice", "none"), SSH_MSG_USERAUTH_FAILURE);
    expect_failure(&x, "publickey,password", 0);
    assert_int_equal(x.st.failures, 1); /* on_failure("none") */
    srv_free(&x);
}

static void test_pubkey_query(void **state)
{
    (void)state;
    srv x;
    srv_new(&x, NULL, 0);
    srv_service(&x);
    ask(&x, req_pubkey(x.s, "alice", alice_key, NULL), SSH_MSG_USERAUTH_60);
    /* PK_OK echoes the algorithm and the blob */
    ferry_buf *want = ferry_buf_new(0);
    ferry_buf_put_u8(want, SSH_MSG_USERAUTH_60);
    ferry_buf_put_cstring(want, "ssh-ed25519");
    put_blob(want, alice_key);
    assert_int_equal(ferry_buf_len(x.msg), ferry_buf_len(want));
    assert_memory_equal(ferry_buf_data(x.msg), ferry_buf_data(want), ferry_buf_len(want));
    ferry_buf_free(want);
    ask(&x, req_pubkey(x.s, "alice", other_key, NULL), SSH_MSG_USERAUTH_FAILURE);
    expect_failure(&x, "publickey,password", 0);
    assert_false(ferry_ssh_is_authenticated(x.s));
    srv_free(&x);
}

static void test_pubkey_signed(void **state)
{
    (void)state;
    srv x;
    srv_new(&x, NULL, 0);
    srv_service(&x);
    ask(&x, req_pubkey(x.s, "alice", alice_key, alice_key), SSH_MSG_USERAUTH_SUCCESS);
    assert_true(ferry_ssh_is_authenticated(x.s));
    assert_string_equal(ferry_ssh_user(x.s), "alice");
    assert_int_equal(x.st.successes, 1);
    assert_string_equal(x.st.last_methods, "publickey");
    /* RFC 4252 s5.1: later requests are ignored */
    ask(&x, req_password("alice", "secret"), 0);
    assert_false(ferry_ssh_is_closed(x.s));
    assert_int_equal(x.st.pw_calls, 0);
    srv_free(&x);
}

/* The request names alice's (allowed) key but other_key signed. */
static void test_pubkey_wrong_signer(void **state)
{
    (void)state;
    srv x;
    srv_new(&x, NULL, 0);
    srv_service(&x);
    ask(&x, req_pubkey(x.s, "alice", alice_key, other_key), SSH_MSG_USERAUTH_FAILURE);
    expect_failure(&x, "publickey,password", 0);
    /* and other_key naming itself is simply not allowed */
    ask(&x, req_pubkey(x.s, "alice", other_key, other_key), SSH_MSG_USERAUTH_FAILURE);
    assert_false(ferry_ssh_is_authenticated(x.s));
    /* a signature over another session id fails too */
    ferry_buf *b = req_pubkey(x.s, "alice", alice_key, alice_key);
    x.s->session_id[0] ^= 1;
    ask(&x, b, SSH_MSG_USERAUTH_FAILURE);
    assert_false(ferry_ssh_is_authenticated(x.s));
    srv_free(&x);
}

/* publickey request naming certificate `c` under `alg`; signed by
 * `signer` (with sigalg) when non-NULL. */
static ferry_buf *req_cert(const ferry_ssh *s, const char *alg, const ferry_cert *c,
                           const ferry_key *signer, const char *sigalg)
{
    ferry_buf *b = req_start("alice", "publickey");
    ferry_buf_put_bool(b, signer != NULL);
    ferry_buf_put_cstring(b, alg);
    ferry_buf_put_string(b, c->blob, c->len);
    if (signer != NULL) {
        ferry_buf *data = ferry_buf_new(0), *sig = ferry_buf_new(0);
        assert_int_equal(ferry__auth_pubkey_signed_data(s, "alice", alg, c->blob, c->len, data),
                         FERRY_OK);
        assert_int_equal(
            ferry_key_sign(signer, sigalg, ferry_buf_data(data), ferry_buf_len(data), sig),
            FERRY_OK);
        ferry_buf_put_stringb(b, sig);
        ferry_buf_free(data);
        ferry_buf_free(sig);
    }
    return b;
}

#define ED_CERT "ssh-ed25519-cert-v01@openssh.com"

/* OpenSSH user certificates: the store's cert_allowed decides, the
 * signature must be the certified key's, under the plain algorithm. */
static void test_cert_login(void **state)
{
    (void)state;
    srv x;
    srv_new(&x, NULL, 20);
    x.st.allowed = NULL; /* alice's key alone is not enough */
    x.st.allowed_ca = ca_key;
    srv_service(&x);
    /* a query is answered with the certificate echoed */
    ask(&x, req_cert(x.s, ED_CERT, alice_cert, NULL, NULL), SSH_MSG_USERAUTH_60);
    ferry_buf *want = ferry_buf_new(0);
    ferry_buf_put_u8(want, SSH_MSG_USERAUTH_60);
    ferry_buf_put_cstring(want, ED_CERT);
    ferry_buf_put_string(want, alice_cert->blob, alice_cert->len);
    assert_int_equal(ferry_buf_len(x.msg), ferry_buf_len(want));
    assert_memory_equal(ferry_buf_data(x.msg), ferry_buf_data(want), ferry_buf_len(want));
    ferry_buf_free(want);
    /* the certificate of alice's key signed by another key: no possession */
    ask(&x, req_cert(x.s, ED_CERT, alice_cert, other_key, "ssh-ed25519"), SSH_MSG_USERAUTH_FAILURE);
    /* the right request, sent last */
    ferry_buf *b = req_cert(x.s, ED_CERT, alice_cert, alice_key, "ssh-ed25519");
    /* an algorithm that is not the blob's, and the plain one with a certificate */
    ask(&x, req_cert(x.s, "ecdsa-sha2-nistp256-cert-v01@openssh.com", alice_cert, NULL, NULL),
        SSH_MSG_USERAUTH_FAILURE);
    ask(&x, req_cert(x.s, "ssh-ed25519", alice_cert, NULL, NULL), SSH_MSG_USERAUTH_FAILURE);
    /* another CA, another principal: the store says no */
    unsigned calls = x.st.cert_calls;
    ask(&x, req_cert(x.s, ED_CERT, alice_cert_other_ca, NULL, NULL), SSH_MSG_USERAUTH_FAILURE);
    ask(&x, req_cert(x.s, ED_CERT, alice_cert_bob, NULL, NULL), SSH_MSG_USERAUTH_FAILURE);
    assert_int_equal(x.st.cert_calls, calls + 2);
    /* a byte changed in the certificate: its CA signature fails before
     * the store is asked */
    ferry_cert bad = *alice_cert;
    uint8_t *copy = malloc(bad.len);
    memcpy(copy, bad.blob, bad.len);
    copy[bad.len / 2] ^= 1;
    bad.blob = copy;
    ask(&x, req_cert(x.s, ED_CERT, &bad, alice_key, "ssh-ed25519"), SSH_MSG_USERAUTH_FAILURE);
    assert_int_equal(x.st.cert_calls, calls + 2);
    free(copy);
    assert_false(ferry_ssh_is_authenticated(x.s));
    /* and the right one gets in */
    ask(&x, b, SSH_MSG_USERAUTH_SUCCESS);
    assert_true(ferry_ssh_is_authenticated(x.s));
    assert_string_equal(x.st.last_methods, "publickey");
    srv_free(&x);
}

/* A store without cert_allowed refuses every certificate. */
static void test_cert_no_store_support(void **state)
{
    (void)state;
    ferry_auth_ops ops = ct_store_ops;
    ops.cert_allowed = NULL;
    srv x;
    srv_new(&x, NULL, 0);
    x.st.allowed_ca = ca_key;
    ferry_ssh_config *cfg = &x.s->cfg;
    cfg->auth = &ops;
    srv_service(&x);
    ask(&x, req_cert(x.s, ED_CERT, alice_cert, alice_key, "ssh-ed25519"), SSH_MSG_USERAUTH_FAILURE);
    assert_int_equal(x.st.cert_calls, 0);
    srv_free(&x);
}

/* End to end: a client identity with a certificate logs in where the key
 * alone would not. */
static void test_e2e_cert(void **state)
{
    (void)state;
    for (int with_cert = 0; with_cert < 2; with_cert++) {
        ferry_ssh_config c, s;
        ct_store st = {.allowed_ca = ca_key};
        ct_server echo = {0};
        ferry_identity id;
        pair *p = NULL;
        ct_identity(&id, alice_key);
        id.cert = with_cert ? alice_cert : NULL;
        ct_configs(&c, &s, &st, &echo, NULL);
        c.identities = &id;
        c.n_identities = 1;
        c.try_pubkey = 1;
        c.try_password = c.try_kbdint = 0;
        assert_int_equal(pair_new(&p, &c, &s), FERRY_OK);
        (void)pair_run(p, 100);
        assert_int_equal(ferry_ssh_is_authenticated(p->c), with_cert);
        assert_int_equal(st.cert_calls > 0, with_cert);
        assert_int_equal(st.pk_calls > 0, !with_cert); /* the key alone, refused */
        if (with_cert) {
            assert_string_equal(st.last_methods, "publickey");
        }
        pair_free(p);
    }
}

/* SHA-1 "ssh-rsa" signatures are not accepted by default. */
/* A publickey query (no signature) with algorithm alg for key k. */
static void pk_query(srv *x, const char *alg, const ferry_key *k, int expect)
{
    ferry_buf *b = req_start("alice", "publickey");
    ferry_buf_put_bool(b, 0);
    ferry_buf_put_cstring(b, alg);
    put_blob(b, k);
    ask(x, b, expect);
}

static void test_pubkey_sha1_refused(void **state)
{
    (void)state;
    srv x;
    srv_new(&x, NULL, 0);
    x.st.allowed = rsa_key;
    srv_service(&x);
    pk_query(&x, "ssh-rsa", rsa_key, SSH_MSG_USERAUTH_FAILURE);
    pk_query(&x, "rsa-sha2-256", rsa_key, SSH_MSG_USERAUTH_60);
    /* an algorithm that does not suit the key */
    pk_query(&x, "ssh-ed25519", rsa_key, SSH_MSG_USERAUTH_FAILURE);
    srv_free(&x);
    /* PubkeyAcceptedAlgorithms: what the server is configured with, SHA-1
     * included when asked for, and nothing else */
    srv_new(&x, NULL, 0);
    x.s->cfg.pubkey_algs = "ssh-ed25519,ssh-rsa";
    x.st.allowed = rsa_key;
    srv_service(&x);
    pk_query(&x, "ssh-rsa", rsa_key, SSH_MSG_USERAUTH_60);
    pk_query(&x, "rsa-sha2-256", rsa_key, SSH_MSG_USERAUTH_FAILURE);
    srv_free(&x);
}

static void test_password(void **state)
{
    (void)state;
    srv x;
    srv_new(&x, NULL, 0);
    srv_service(&x);
    ask(&x, req_password("alice", "wrong"), SSH_MSG_USERAUTH_FAILURE);
    expect_failure(&x, "publickey,password", 0);
    /* a password change request fails */
    ferry_buf *b = req_start("alice", "password");
    ferry_buf_put_bool(b, 1);
    ferry_buf_put_cstring(b, "secret");
    ferry_buf_put_cstring(b, "new");
    ask(&x, b, SSH_MSG_USERAUTH_FAILURE);
    assert_false(ferry_ssh_is_authenticated(x.s));
    ask(&x, req_password("alice", "secret"), SSH_MSG_USERAUTH_SUCCESS);
    assert_true(ferry_ssh_is_authenticated(x.s));
    assert_string_equal(x.st.last_methods, "password");
    srv_free(&x);
}

static void test_unknown_user_same_reply(void **state)
{
    (void)state;
    srv a, b;
    srv_new(&a, NULL, 0);
    srv_new(&b, NULL, 0);
    srv_service(&a);
    srv_service(&b);
    ask(&a, req_password("alice", "wrong"), SSH_MSG_USERAUTH_FAILURE);
    ask(&b, req_password("mallory", "secret"), SSH_MSG_USERAUTH_FAILURE);
    assert_int_equal(ferry_buf_len(a.msg), ferry_buf_len(b.msg));
    assert_memory_equal(ferry_buf_data(a.msg), ferry_buf_data(b.msg), ferry_buf_len(a.msg));
    /* the store was asked in both cases (no short cut for unknown users) */
    assert_int_equal(a.st.pw_calls, 1);
    assert_int_equal(b.st.pw_calls, 1);
    ask(&a, req_pubkey(a.s, "alice", other_key, NULL), SSH_MSG_USERAUTH_FAILURE);
    ask(&b, req_pubkey(b.s, "mallory", alice_key, NULL), SSH_MSG_USERAUTH_FAILURE);
    assert_memory_equal(ferry_buf_data(a.msg), ferry_buf_data(b.msg), ferry_buf_len(a.msg));
    assert_int_equal(a.st.pk_calls, 1);
    assert_int_equal(b.st.pk_calls, 1);
    srv_free(&a);
    srv_free(&b);
}

static void test_chain(void **state)
{
    (void)state;
    srv x;
    srv_new(&x, "publickey,password", 0);
    srv_service(&x);
    ask(&x, req_start("alice", "none"), SSH_MSG_USERAUTH_FAILURE);
    expect_failure(&x, "publickey", 0);
    /* password first is not a step of the chain: refused unasked */
    ask(&x, req_password("alice", "secret"), SSH_MSG_USERAUTH_FAILURE);
    expect_failure(&x, "publickey", 0);
    assert_int_equal(x.st.pw_calls, 0);
    ask(&x, req_pubkey(x.s, "alice", alice_key, alice_key), SSH_MSG_USERAUTH_FAILURE);
    expect_failure(&x, "password", 1);
    assert_false(ferry_ssh_is_authenticated(x.s));
    ask(&x, req_password("alice", "wrong"), SSH_MSG_USERAUTH_FAILURE);
    expect_failure(&x, "password", 0);
    ask(&x, req_password("alice", "secret"), SSH_MSG_USERAUTH_SUCCESS);
    assert_true(ferry_ssh_is_authenticated(x.s));
    assert_string_equal(x.st.last_methods, "publickey,password");
    srv_free(&x);
}

static void test_chain_alternatives(void **state)
{
    (void)state;
    srv x;
    srv_new(&x, "publickey,password password,publickey keyboard-interactive", 0);
    srv_service(&x);
    ask(&x, req_start("alice", "none"), SSH_MSG_USERAUTH_FAILURE);
    expect_failure(&x, "publickey,password,keyboard-interactive", 0);
    ask(&x, req_password("alice", "secret"), SSH_MSG_USERAUTH_FAILURE);
    expect_failure(&x, "publickey", 1);
    srv_free(&x);
    /* the same key twice does not complete "publickey,publickey" */
    srv_new(&x, "publickey,publickey", 0);
    srv_service(&x);
    ask(&x, req_pubkey(x.s, "alice", alice_key, alice_key), SSH_MSG_USERAUTH_FAILURE);
    expect_failure(&x, "publickey", 1);
    ask(&x, req_pubkey(x.s, "alice", alice_key, alice_key), SSH_MSG_USERAUTH_FAILURE);
    expect_failure(&x, "publickey", 0);
    assert_false(ferry_ssh_is_authenticated(x.s));
    srv_free(&x);
}

static void test_bad_methods_config(void **state)
{
    (void)state;
    static const char *const bad[] = {"publickey,", "foo", "", "publickey,,password"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ferry_ssh_config cfg;
        ferry_ssh *s = NULL;
        memset(&cfg, 0, sizeof(cfg));
        cfg.role = FERRY_ROLE_SERVER;
        cfg.auth = &ct_store_ops;
        cfg.auth_methods = bad[i];
        assert_int_not_equal(ct_raw_session(&s, &cfg, 0), FERRY_OK);
        assert_null(s);
    }
}

static void test_max_auth_tries(void **state)
{
    (void)state;
    srv x;
    srv_new(&x, NULL, 3);
    srv_service(&x);
    ask(&x, req_start("alice", "none"), SSH_MSG_USERAUTH_FAILURE); /* not counted */
    ask(&x, req_password("alice", "a"), SSH_MSG_USERAUTH_FAILURE);
    ask(&x, req_password("alice", "b"), SSH_MSG_USERAUTH_FAILURE);
    ask(&x, req_password("alice", "c"), SSH_MSG_DISCONNECT);
    expect_disconnect(&x, SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE);
    srv_free(&x);
    /* default: 6 */
    srv_new(&x, NULL, 0);
    srv_service(&x);
    for (int i = 0; i < 5; i++) {
        ask(&x, req_pubkey(x.s, "alice", other_key, NULL), SSH_MSG_USERAUTH_FAILURE);
    }
    ask(&x, req_password("alice", "x"), SSH_MSG_DISCONNECT);
    expect_disconnect(&x, SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE);
    srv_free(&x);
}

static void test_user_change(void **state)
{
    (void)state;
    srv x;
    srv_new(&x, NULL, 0);
    srv_service(&x);
    ask(&x, req_start("alice", "none"), SSH_MSG_USERAUTH_FAILURE);
    ask(&x, req_password("bob", "secret"), SSH_MSG_DISCONNECT);
    expect_disconnect(&x, SSH_DISCONNECT_PROTOCOL_ERROR);
    srv_free(&x);
    /* a name of 256 bytes */
    char longname[257];
    memset(longname, 'a', 256);
    longname[256] = '\0';
    srv_new(&x, NULL, 0);
    srv_service(&x);
    ask(&x, req_start(longname, "none"), SSH_MSG_DISCONNECT);
    expect_disconnect(&x, SSH_DISCONNECT_ILLEGAL_USER_NAME);
    srv_free(&x);
}

static void test_service_rules(void **state)
{
    (void)state;
    srv x;
    /* USERAUTH_REQUEST before SERVICE_REQUEST */
    srv_new(&x, NULL, 0);
    ask(&x, req_start("alice", "none"), SSH_MSG_DISCONNECT);
    expect_disconnect(&x, SSH_DISCONNECT_PROTOCOL_ERROR);
    srv_free(&x);
    /* another service */
    srv_new(&x, NULL, 0);
    ferry_buf *b = ferry_buf_new(0);
    ferry_buf_put_u8(b, SSH_MSG_SERVICE_REQUEST);
    ferry_buf_put_cstring(b, "ssh-connection");
    ask(&x, b, SSH_MSG_DISCONNECT);
    expect_disconnect(&x, SSH_DISCONNECT_SERVICE_NOT_AVAILABLE);
    srv_free(&x);
    /* a request for another service than ssh-connection */
    srv_new(&x, NULL, 0);
    srv_service(&x);
    b = ferry_buf_new(0);
    ferry_buf_put_u8(b, SSH_MSG_USERAUTH_REQUEST);
    ferry_buf_put_cstring(b, "alice");
    ferry_buf_put_cstring(b, "ssh-agent");
    ferry_buf_put_cstring(b, "none");
    ask(&x, b, SSH_MSG_DISCONNECT);
    expect_disconnect(&x, SSH_DISCONNECT_SERVICE_NOT_AVAILABLE);
    srv_free(&x);
}

/* Messages the server must never accept before authentication. */
static void test_server_rejects(void **state)
{
    (void)state;
    static const uint8_t msgs[] = {SSH_MSG_USERAUTH_SUCCESS, SSH_MSG_USERAUTH_FAILURE,
                                   SSH_MSG_CHANNEL_OPEN, SSH_MSG_GLOBAL_REQUEST,
                                   SSH_MSG_USERAUTH_INFO_RESPONSE};
    for (size_t i = 0; i < sizeof(msgs); i++) {
        srv x;
        srv_new(&x, NULL, 0);
        srv_service(&x);
        ferry_buf *b = ferry_buf_new(0);
        ferry_buf_put_u8(b, msgs[i]);
        if (msgs[i] == SSH_MSG_CHANNEL_OPEN) {
            ferry_buf_put_cstring(b, "session");
            ferry_buf_put_u32(b, 0);
            ferry_buf_put_u32(b, 65536);
            ferry_buf_put_u32(b, 32768);
        }
        ask(&x, b, SSH_MSG_DISCONNECT);
        expect_disconnect(&x, SSH_DISCONNECT_PROTOCOL_ERROR);
        srv_free(&x);
    }
}

static void test_kbdint_server(void **state)
{
    (void)state;
    srv x;
    srv_new(&x, "keyboard-interactive", 0);
    srv_service(&x);
    ferry_buf *b = req_start("alice", "keyboard-interactive");
    ferry_buf_put_cstring(b, "");
    ferry_buf_put_cstring(b, "");
    ask(&x, b, SSH_MSG_USERAUTH_60);
    b = ferry_buf_new(0);
    ferry_buf_put_u8(b, SSH_MSG_USERAUTH_INFO_RESPONSE);
    ferry_buf_put_u32(b, 1);
    ferry_buf_put_cstring(b, "wrong");
    ask(&x, b, SSH_MSG_USERAUTH_FAILURE);
    expect_failure(&x, "keyboard-interactive", 0);
    /* a response nobody asked for */
    b = ferry_buf_new(0);
    ferry_buf_put_u8(b, SSH_MSG_USERAUTH_INFO_RESPONSE);
    ferry_buf_put_u32(b, 1);
    ferry_buf_put_cstring(b, "secret");
    ask(&x, b, SSH_MSG_DISCONNECT);
    srv_free(&x);
    /* password is not offered with this configuration */
    srv_new(&x, "keyboard-interactive", 0);
    srv_service(&x);
    ask(&x, req_password("alice", "secret"), SSH_MSG_USERAUTH_FAILURE);
    assert_int_equal(x.st.pw_calls, 0);
    srv_free(&x);
}

/* ---- client and end to end (pair) ---- */

typedef struct prompts {
    unsigned asked;
    const char *answer;
    char last[256];
} prompts;

static int test_prompt(void *ctx, const char *prompt, int echo, char *out, size_t outsz)
{
    prompts *pr = ctx;
    (void)echo;
    pr->asked++;
    snprintf(pr->last, sizeof(pr->last), "%s", prompt);
    snprintf(out, outsz, "%s", pr->answer);
    return FERRY_OK;
}

/* Password authentication end to end; `host` is the config's host name
 * (NULL: the prompt names only the user). */
static void check_e2e_password(const char *host, const char *expect_prompt)
{
    ferry_ssh_config c, s;
    ct_store st = {0};
    ct_server echo = {0};
    prompts pr = {.answer = "secret"};
    pair *p = NULL;
    ct_configs(&c, &s, &st, &echo, NULL);
    c.prompt = test_prompt;
    c.prompt_ctx = &pr;
    c.host = host;
    assert_int_equal(pair_new(&p, &c, &s), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(ferry_ssh_is_authenticated(p->c));
    assert_true(ferry_ssh_is_authenticated(p->s));
    assert_int_equal(pr.asked, 1);
    assert_string_equal(pr.last, expect_prompt);
    assert_string_equal(ferry_ssh_auth_method(p->c), "password");
    assert_int_equal(p->s->state, FERRY_ST_OPEN);
    assert_int_equal(p->c->state, FERRY_ST_OPEN);
    pair_free(p);
}

static void test_e2e_password(void **state)
{
    (void)state;
    check_e2e_password(NULL, "alice's password: ");
    /* OpenSSH's prompt when the host is known */
    check_e2e_password("files.example.org", "alice@files.example.org's password: ");
}

/* A wrong password is asked again up to cfg.password_prompts times (3 by
 * default; NumberOfPasswordPrompts). */
static void wrong_password(unsigned prompts_max, unsigned expect)
{
    ferry_ssh_config c, s;
    ct_store st = {0};
    ct_server echo = {0};
    prompts pr = {.answer = "nope"};
    pair *p = NULL;
    ct_configs(&c, &s, &st, &echo, NULL);
    c.prompt = test_prompt;
    c.prompt_ctx = &pr;
    c.password_prompts = prompts_max;
    assert_int_equal(pair_new(&p, &c, &s), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_false(ferry_ssh_is_authenticated(p->c));
    assert_int_equal(pr.asked, expect);
    assert_true(ferry_ssh_is_closed(p->c));
    const char *msg = NULL;
    assert_int_equal(ferry_ssh_close_reason(p->c, &msg), FERRY_E_AUTH_DENIED);
    assert_non_null(strstr(msg, "Permission denied"));
    assert_true(ferry_ssh_is_closed(p->s));
    pair_free(p);
}

static void test_e2e_wrong_password(void **state)
{
    (void)state;
    wrong_password(0, 3);
    wrong_password(1, 1);
    wrong_password(5, 5);
}

static void check_pubkey_e2e(ferry_key *k, const char *expect_alg)
{
    ferry_ssh_config c, s;
    ct_store st = {.allowed = k};
    ct_server echo = {0};
    ferry_identity ids[2];
    pair *p = NULL;
    ct_identity(&ids[0], other_key); /* refused first */
    ct_identity(&ids[1], k);
    ct_configs(&c, &s, &st, &echo, NULL);
    c.identities = ids;
    c.n_identities = 2;
    c.try_pubkey = 1;
    c.try_password = 0;
    assert_int_equal(pair_new(&p, &c, &s), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(ferry_ssh_is_authenticated(p->s));
    assert_true(ferry_ssh_is_authenticated(p->c));
    assert_string_equal(p->c->auth->cur_alg, expect_alg);
    assert_string_equal(ferry_ssh_auth_method(p->c), "publickey");
    assert_int_equal(st.pk_calls, 3); /* two queries, one signed */
    pair_free(p);
}

static void test_e2e_pubkey(void **state)
{
    (void)state;
    check_pubkey_e2e(alice_key, "ssh-ed25519");
    check_pubkey_e2e(rsa_key, "rsa-sha2-512");
}

/* cfg.auth_order (PreferredAuthentications): methods in its order, none
 * outside it; unknown names skipped. */
static void auth_order_case(const char *order, ferry_key *id_key, int direct, int expect_ok,
                            unsigned pw_asked, unsigned pk_calls)
{
    ferry_ssh_config c, s;
    ct_store st = {.allowed = alice_key};
    ct_server echo = {0};
    prompts pr = {.answer = "secret"};
    ferry_identity id;
    pair *p = NULL;
    ct_identity(&id, id_key);
    id.sign_direct = direct; /* direct: signed behind "none" when publickey comes first */
    ct_configs(&c, &s, &st, &echo, NULL);
    c.identities = &id;
    c.n_identities = 1;
    c.try_pubkey = 1;
    c.prompt = test_prompt;
    c.prompt_ctx = &pr;
    c.auth_order = order;
    assert_int_equal(pair_new(&p, &c, &s), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_int_equal(ferry_ssh_is_authenticated(p->c), expect_ok);
    assert_int_equal(pr.asked, pw_asked);
    assert_int_equal(st.pk_calls, pk_calls);
    pair_free(p);
}

static void test_e2e_auth_order(void **state)
{
    (void)state;
    auth_order_case(NULL, alice_key, 0, 1, 0, 2);                       /* publickey first */
    auth_order_case(NULL, alice_key, 1, 1, 0, 1);                       /* signed behind "none" */
    auth_order_case("password,publickey", alice_key, 0, 1, 1, 0);       /* password first */
    auth_order_case("password,publickey", alice_key, 1, 1, 1, 0);       /* not even behind "none" */
    auth_order_case("gssapi-with-mic,password", alice_key, 1, 1, 1, 0); /* unknown skipped */
    auth_order_case("hostbased,publickey", alice_key, 1, 1, 0, 1);
    auth_order_case("publickey", other_key, 0, 0, 0, 1);          /* no password then */
    auth_order_case("publickey,password", other_key, 0, 1, 1, 1); /* the key, then the password */
}

/* Runs publickey authentication with identities ids[0..n); returns the
 * rounds (client flight + server flight) it took, *pk_calls the store's
 * pubkey_allowed calls. */
static int pubkey_rounds(ferry_identity *ids, size_t n, ferry_key *allowed, unsigned *pk_calls)
{
    ferry_ssh_config c, s;
    ct_store st = {.allowed = allowed};
    ct_server echo = {0};
    pair *p = NULL;
    ct_configs(&c, &s, &st, &echo, NULL);
    c.identities = ids;
    c.n_identities = n;
    c.try_pubkey = 1;
    c.try_password = 0;
    assert_int_equal(pair_new(&p, &c, &s), FERRY_OK);
    int rounds = pair_run(p, 100);
    assert_true(rounds >= 0);
    assert_true(ferry_ssh_is_authenticated(p->s));
    assert_true(ferry_ssh_is_authenticated(p->c));
    *pk_calls = st.pk_calls;
    pair_free(p);
    return rounds;
}

/* sign_direct identities: no query; the first (not RSA: ext-info is not
 * in yet) signed in the same flight as "none". */
static void test_e2e_pubkey_direct(void **state)
{
    (void)state;
    ferry_identity ids[2];
    unsigned calls = 0;
    ct_identity(&ids[0], alice_key);
    int query = pubkey_rounds(ids, 1, alice_key, &calls);
    assert_int_equal(calls, 2); /* query, signed */
    ids[0].sign_direct = 1;
    assert_int_equal(pubkey_rounds(ids, 1, alice_key, &calls), query - 2);
    assert_int_equal(calls, 1);
    /* RSA: signed without a query, after "none" has answered */
    ct_identity(&ids[0], rsa_key);
    ids[0].sign_direct = 1;
    assert_int_equal(pubkey_rounds(ids, 1, rsa_key, &calls), query - 1);
    assert_int_equal(calls, 1);
    /* the pipelined key is refused: the next one, also signed directly */
    ct_identity(&ids[0], other_key);
    ct_identity(&ids[1], alice_key);
    ids[0].sign_direct = ids[1].sign_direct = 1;
    assert_int_equal(pubkey_rounds(ids, 2, alice_key, &calls), query - 1);
    assert_int_equal(calls, 2);

}

static void test_e2e_chain(void **state)
{
    (void)state;
    ferry_ssh_config c, s;
    ct_store st = {.allowed = alice_key};
    ct_server echo = {0};
    ferry_identity id;
    prompts pr = {.answer = "secret"};
    pair *p = NULL;
    ct_identity(&id, alice_key);
    ct_configs(&c, &s, &st, &echo, &id);
    c.prompt = test_prompt;
    c.prompt_ctx = &pr;
    s.auth_methods = "publickey,password";
    assert_int_equal(pair_new(&p, &c, &s), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(ferry_ssh_is_authenticated(p->c));
    assert_string_equal(st.last_methods, "publickey,password");
    assert_int_equal(pr.asked, 1);
    pair_free(p);
}

static void test_e2e_kbdint(void **state)
{
    (void)state;
    ferry_ssh_config c, s;
    ct_store st = {0};
    ct_server echo = {0};
    prompts pr = {.answer = "secret"};
    pair *p = NULL;
    ct_configs(&c, &s, &st, &echo, NULL);
    c.prompt = test_prompt;
    c.prompt_ctx = &pr;
    c.try_kbdint = 1;
    s.auth_methods = "keyboard-interactive";
    assert_int_equal(pair_new(&p, &c, &s), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(ferry_ssh_is_authenticated(p->c));
    assert_string_equal(pr.last, "Password: ");
    assert_string_equal(st.last_methods, "keyboard-interactive");
    pair_free(p);
}

/* ---- client with raw server messages ---- */

/* A client whose SERVICE_REQUEST has been taken; `id` its identity
 * (NULL: none). */
static ferry_ssh *raw_client(prompts *pr, ferry_identity *id)
{
    ferry_ssh_config c, s;
    ferry_ssh *x = NULL;
    pair_default_configs(&c, &s);
    c.prompt = test_prompt;
    c.prompt_ctx = pr;
    c.try_kbdint = 1;
    c.identities = id;
    c.n_identities = id != NULL;
    c.try_pubkey = id != NULL;
    assert_int_equal(ct_raw_session(&x, &c, 0), FERRY_OK);
    assert_int_equal(ferry__auth_start(x), FERRY_OK);
    ferry_buf *b = ferry_buf_new(0);
    assert_int_equal(ct_next(x, b), 1);
    assert_int_equal(ferry_buf_data(b)[0], SSH_MSG_SERVICE_REQUEST);
    ferry_buf_free(b);
    return x;
}

static void feed_msg(ferry_ssh *x, uint8_t msg, const char *str)
{
    ferry_buf *b = ferry_buf_new(0);
    ferry_buf_put_u8(b, msg);
    if (str != NULL) {
        ferry_buf_put_cstring(b, str);
    }
    (void)ct_feedb(x, b);
    ferry_buf_free(b);
}

/* A sign_direct identity's signed request follows "none" in the first
 * flight. */
static void test_client_first_flight(void **state)
{
    (void)state;
    prompts pr = {0};
    ferry_identity id;
    ct_identity(&id, alice_key);
    id.sign_direct = 1;
    ferry_ssh *x = raw_client(&pr, &id);
    ferry_buf *b = ferry_buf_new(0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ct_next(x, b), 1);
        ferry_rd rd;
        const uint8_t *str = NULL;
        size_t n = 0;
        int sig = 0;
        ferry_rd_init(&rd, ferry_buf_data(b) + 1, ferry_buf_len(b) - 1);
        assert_int_equal(ferry_buf_data(b)[0], SSH_MSG_USERAUTH_REQUEST);
        assert_int_equal(ferry_rd_string(&rd, &str, &n), FERRY_OK); /* user */
        assert_int_equal(ferry_rd_string(&rd, &str, &n), FERRY_OK); /* service */
        assert_int_equal(ferry_rd_string(&rd, &str, &n), FERRY_OK); /* method */
        const char *want = i == 0 ? "none" : "publickey";
        assert_int_equal(n, strlen(want));
        assert_memory_equal(str, want, n);
        if (i == 1) {
            assert_int_equal(ferry_rd_bool(&rd, &sig), FERRY_OK);
            assert_true(sig);
        }
    }
    assert_int_equal(ct_next(x, b), 0);
    ferry_buf_free(b);
    ferry_ssh_free(x);
}

/* A server answering the signed request before the "none" in front of
 * it (AsyncSSH): SUCCESS, then that FAILURE, dropped; a second FAILURE
 * is a protocol error as before. */
static void test_client_success_before_none(void **state)
{
    (void)state;
    prompts pr = {0};
    ferry_identity id;
    ct_identity(&id, alice_key);
    id.sign_direct = 1;
    for (int extra = 0; extra < 2; extra++) {
        ferry_ssh *x = raw_client(&pr, &id);
        assert_int_equal(ct_drain(x), 2); /* "none" and the signed request */
        feed_msg(x, SSH_MSG_SERVICE_ACCEPT, "ssh-userauth");
        feed_msg(x, SSH_MSG_USERAUTH_SUCCESS, NULL);
        assert_true(ferry_ssh_is_authenticated(x));
        assert_string_equal(ferry_ssh_auth_method(x), "publickey");
        ferry_buf *b = ferry_buf_new(0);
        ferry_buf_put_u8(b, SSH_MSG_USERAUTH_FAILURE);
        ferry_buf_put_cstring(b, "publickey");
        ferry_buf_put_bool(b, 0);
        assert_int_equal(ct_feedb(x, b), FERRY_OK);
        assert_false(ferry_ssh_is_closed(x));
        if (extra) {
            (void)ct_feedb(x, b);
            assert_true(ferry_ssh_is_closed(x));
        }
        ferry_buf_free(b);
        ferry_ssh_free(x);
    }
    /* in order (FAILURE for "none" first, then SUCCESS): nothing is due */
    ferry_ssh *x = raw_client(&pr, &id);
    assert_int_equal(ct_drain(x), 2);
    feed_msg(x, SSH_MSG_SERVICE_ACCEPT, "ssh-userauth");
    ferry_buf *b = ferry_buf_new(0);
    ferry_buf_put_u8(b, SSH_MSG_USERAUTH_FAILURE);
    ferry_buf_put_cstring(b, "publickey");
    ferry_buf_put_bool(b, 0);
    assert_int_equal(ct_feedb(x, b), FERRY_OK);
    feed_msg(x, SSH_MSG_USERAUTH_SUCCESS, NULL);
    assert_true(ferry_ssh_is_authenticated(x));
    (void)ct_feedb(x, b);
    assert_true(ferry_ssh_is_closed(x));
    ferry_buf_free(b);
    ferry_ssh_free(x);
}

static void test_client_unexpected(void **state)
{
    (void)state;
    prompts pr = {.answer = "x"};
    /* SUCCESS before anything was asked */
    ferry_ssh *x = raw_client(&pr, NULL);
    feed_msg(x, SSH_MSG_USERAUTH_SUCCESS, NULL);
    assert_true(ferry_ssh_is_closed(x));
    assert_false(ferry_ssh_is_authenticated(x));
    ferry_ssh_free(x);
    /* a wrong service accepted */
    x = raw_client(&pr, NULL);
    feed_msg(x, SSH_MSG_SERVICE_ACCEPT, "ssh-connection");
    assert_true(ferry_ssh_is_closed(x));
    ferry_ssh_free(x);
    /* PK_OK while no query is in flight */
    x = raw_client(&pr, NULL);
    feed_msg(x, SSH_MSG_SERVICE_ACCEPT, "ssh-userauth");
    assert_int_equal(ct_drain(x), 1); /* "none" */
    feed_msg(x, SSH_MSG_USERAUTH_60, "ssh-ed25519");
    assert_true(ferry_ssh_is_closed(x));
    ferry_ssh_free(x);
}

/* A banner is logged sanitised; kbd-interactive prompts are bounded. */
static void test_client_banner_kbd(void **state)
{
    (void)state;
    prompts pr = {.answer = "secret"};
    ferry_ssh *x = raw_client(&pr, NULL);
    ferry_buf *b = ferry_buf_new(0);
    feed_msg(x, SSH_MSG_SERVICE_ACCEPT, "ssh-userauth");
    assert_int_equal(ct_drain(x), 1);
    ferry_buf_put_u8(b, SSH_MSG_USERAUTH_BANNER);
    ferry_buf_put_cstring(b, "hello \x1b[31mred\x1b[0m\n");
    ferry_buf_put_cstring(b, "");
    assert_int_equal(ct_feedb(x, b), FERRY_OK);
    ferry_buf_reset(b);
    ferry_buf_put_u8(b, SSH_MSG_USERAUTH_FAILURE);
    ferry_buf_put_cstring(b, "keyboard-interactive");
    ferry_buf_put_bool(b, 0);
    assert_int_equal(ct_feedb(x, b), FERRY_OK);
    assert_int_equal(ct_drain(x), 1); /* the kbd-interactive request */
    ferry_buf_reset(b);
    ferry_buf_put_u8(b, SSH_MSG_USERAUTH_60);
    ferry_buf_put_cstring(b, "name");
    ferry_buf_put_cstring(b, "instr");
    ferry_buf_put_cstring(b, "");
    ferry_buf_put_u32(b, 2);
    ferry_buf_put_cstring(b, "One\x07: ");
    ferry_buf_put_bool(b, 1);
    ferry_buf_put_cstring(b, "Two: ");
    ferry_buf_put_bool(b, 0);
    assert_int_equal(ct_feedb(x, b), FERRY_OK);
    assert_int_equal(pr.asked, 2);
    assert_string_equal(pr.last, "Two: ");
    assert_int_equal(ct_next(x, b), 1);
    ferry_rd rd;
    uint8_t m = 0;
    uint32_t n = 0;
    char ans[32];
    ferry_rd_from_buf(&rd, b);
    assert_int_equal(ferry_rd_u8(&rd, &m), FERRY_OK);
    assert_int_equal(m, SSH_MSG_USERAUTH_INFO_RESPONSE);
    assert_int_equal(ferry_rd_u32(&rd, &n), FERRY_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ferry_rd_name(&rd, ans, sizeof(ans)), FERRY_OK);
    assert_string_equal(ans, "secret");
    /* too many prompts: fatal */
    ferry_buf_reset(b);
    ferry_buf_put_u8(b, SSH_MSG_USERAUTH_60);
    ferry_buf_put_cstring(b, "");
    ferry_buf_put_cstring(b, "");
    ferry_buf_put_cstring(b, "");
    ferry_buf_put_u32(b, 65);
    assert_int_not_equal(ct_feedb(x, b), FERRY_OK);
    assert_true(ferry_ssh_is_closed(x));
    assert_int_equal(pr.asked, 2);
    ferry_buf_free(b);
    ferry_ssh_free(x);
}

static void test_sanitize(void **state)
{
    (void)state;
    char out[64];
    const uint8_t in[] = "a\x1b[2Jb\r\n\xc3\xa9\xc2\x9b\xff\tz";
    ferry__auth_sanitize(out, sizeof(out), in, sizeof(in) - 1, 1);
    assert_string_equal(out, "a?[2Jb?\n\xc3\xa9??"
                             "?\tz");
    ferry__auth_sanitize(out, sizeof(out), in, sizeof(in) - 1, 0);
    assert_null(strchr(out, '\n'));
    ferry__auth_sanitize(out, 4, (const uint8_t *)"abcdef", 6, 0);
    assert_string_equal(out, "abc");
    /* a multi-byte character that does not fit is left out whole */
    ferry__auth_sanitize(out, 3, (const uint8_t *)"a\xc3\xa9", 3, 0);
    assert_string_equal(out, "a");
}

/* Every truncation and bit flip of valid requests: a FAILURE, SUCCESS,
 * PK_OK or DISCONNECT, never anything worse; a flipped signed request
 * never authenticates unless the flip left the signed fields intact. */
static void mutate_one(const ferry_buf *msg, size_t cut, int flip, int service)
{
    srv x;
    ferry_buf *b = ferry_buf_new(0);
    srv_new(&x, "publickey password keyboard-interactive", 50);
    if (service) {
        srv_service(&x);
    }
    ferry_buf_put(b, ferry_buf_data(msg), cut);
    if (flip >= 0) {
        ferry_buf_mdata(b)[flip / 8] ^= (uint8_t)(1u << (flip % 8));
    }
    (void)ct_feedb(x.s, b);
    while (ct_next(x.s, x.msg)) {
        uint8_t m = ferry_buf_data(x.msg)[0];
        assert_true(m == SSH_MSG_USERAUTH_FAILURE || m == SSH_MSG_USERAUTH_SUCCESS ||
                    m == SSH_MSG_USERAUTH_60 || m == SSH_MSG_DISCONNECT ||
                    m == SSH_MSG_SERVICE_ACCEPT || m == SSH_MSG_UNIMPLEMENTED);
    }
    ferry_buf_free(b);
    srv_free(&x);
}

static void test_mutations(void **state)
{
    (void)state;
    srv tmp;
    srv_new(&tmp, NULL, 0); /* for the session id of the signature */
    ferry_buf *msgs[4] = {
        req_password("alice", "secret"),
        req_pubkey(tmp.s, "alice", alice_key, alice_key),
        req_start("alice", "keyboard-interactive"),
        ferry_buf_new(0),
    };
    ferry_buf_put_cstring(msgs[2], "");
    ferry_buf_put_cstring(msgs[2], "");
    ferry_buf_put_u8(msgs[3], SSH_MSG_SERVICE_REQUEST);
    ferry_buf_put_cstring(msgs[3], "ssh-userauth");
    for (size_t i = 0; i < 4; i++) {
        size_t n = ferry_buf_len(msgs[i]);
        for (size_t cut = 1; cut < n; cut++) {
            mutate_one(msgs[i], cut, -1, i < 3);
        }
        for (int bit = 0; bit < (int)n * 8; bit++) {
            mutate_one(msgs[i], n, bit, i < 3);
        }
        ferry_buf_free(msgs[i]);
    }
    srv_free(&tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_none_lists_methods),
        cmocka_unit_test(test_pubkey_query),
        cmocka_unit_test(test_pubkey_signed),
        cmocka_unit_test(test_pubkey_wrong_signer),
        cmocka_unit_test(test_pubkey_sha1_refused),
        cmocka_unit_test(test_cert_login),
        cmocka_unit_test(test_cert_no_store_support),
        cmocka_unit_test(test_e2e_cert),
        cmocka_unit_test(test_password),
        cmocka_unit_test(test_unknown_user_same_reply),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_chain_alternatives),
        cmocka_unit_test(test_bad_methods_config),
        cmocka_unit_test(test_max_auth_tries),
        cmocka_unit_test(test_user_change),
        cmocka_unit_test(test_service_rules),
        cmocka_unit_test(test_server_rejects),
        cmocka_unit_test(test_kbdint_server),
        cmocka_unit_test(test_e2e_password),
        cmocka_unit_test(test_e2e_wrong_password),
        cmocka_unit_test(test_e2e_pubkey),
        cmocka_unit_test(test_e2e_auth_order),
        cmocka_unit_test(test_e2e_pubkey_direct),
        cmocka_unit_test(test_e2e_chain),
        cmocka_unit_test(test_e2e_kbdint),
        cmocka_unit_test(test_client_first_flight),
        cmocka_unit_test(test_client_success_before_none),
        cmocka_unit_test(test_client_unexpected),
        cmocka_unit_test(test_client_banner_kbd),
        cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_mutations),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
