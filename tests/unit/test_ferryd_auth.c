/* test_ferryd_auth.c: ferryd's user store (configuration backend) and the
 * ferry_auth_ops built on it: authorized keys with from=, crypt(3)
 * passwords, equal treatment of unknown users, reports to the listener,
 * and the audit line format. Program code compiled in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/ferryd/audit.c"
#include "../../src/ferryd/auth.c"
#include "../../src/ferryd/config.c"
#include "../../src/ferryd/keyscmd.c"
#include "../../src/ferryd/userstore_conf.c"

struct fixture {
    char dir[64];
    char keyfile[128];
    ferry_key *k1, *k2, *k3;
    ferryd_config cfg;
    ferryd_userstore us;
    char hash[256];
    char dummy[256];
};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *publine(const ferry_key *k)
{
    char *s = NULL;
    assert_int_equal(ferry_key_format_public_line(k, "c", &s), FERRY_OK);
    return s;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    strcpy(fx->dir, "/tmp/ferryd-auth-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->keyfile, sizeof(fx->keyfile), "%s/authorized_keys", fx->dir);
    assert_int_equal(ferry_key_generate(FERRY_KEY_ED25519, 0, &fx->k1), FERRY_OK);
    assert_int_equal(ferry_key_generate(FERRY_KEY_ECDSA_P256, 0, &fx->k2), FERRY_OK);
    assert_int_equal(ferry_key_generate(FERRY_KEY_ED25519, 0, &fx->k3), FERRY_OK);
    char *l1 = publine(fx->k1), *l2 = publine(fx->k2);
    char text[2048];
    snprintf(text, sizeof(text), "# keys\n%s\nfrom=\"10.0.0.0/8\" %s\n", l1, l2);
    free(l1);
    free(l2);
    write_file(fx->keyfile, text);
    assert_int_equal(ferryd_auth_hash_password("s3cret", fx->hash, sizeof(fx->hash)), FERRY_OK);
    assert_int_equal(ferryd_auth_dummy_hash(fx->hash, fx->dummy, sizeof(fx->dummy)), FERRY_OK);
    char conf[2048], err[256];
    snprintf(conf, sizeof(conf),
             "User alice\nRoot /tmp\nAuthorizedKeysFile %s/*_keys\nPasswordHash %s\n"
             "User bob\nRoot /tmp\nMode read-only\n"
             "User authorized\nRoot /tmp\nAuthorizedKeysFile %s/%%u_keys /nonexistent/%%u\n"
             "User dana\nRoot /tmp\nAuthorizedKeysFile %s/*_keys\nPasswordHash %s\n"
             "From 10.0.0.0/8,!10.9.0.0/16,::1\n",
             fx->dir, fx->hash, fx->dir, fx->dir, fx->hash);
    ferryd_config_init(&fx->cfg);
    assert_int_equal(ferryd_config_parse(&fx->cfg, conf, strlen(conf), "t", err, sizeof(err)),
                     FERRY_OK);
    assert_int_equal(ferryd_userstore_conf_new(&fx->cfg, &fx->us), FERRY_OK);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    ferryd_userstore_free(&fx->us);
    ferryd_config_free(&fx->cfg);
    ferry_key_free(fx->k1);
    ferry_key_free(fx->k2);
    ferry_key_free(fx->k3);
    unlink(fx->keyfile);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static ferryd_auth mkauth(struct fixture *fx, const char *peer, int report_fd)
{
    ferryd_auth a = {.us = &fx->us,
                     .peer = peer,
                     .dummy_hash = fx->dummy,
                     .allow_pubkey = 1,
                     .allow_password = 1,
                     .report_fd = report_fd};
    return a;
}

static void test_lookup(void **state)
{
    struct fixture *fx = *state;
    const ferryd_user *u = NULL;
    assert_int_equal(ferryd_userstore_lookup(&fx->us, "alice", &u), FERRY_OK);
    assert_string_equal(u->root, "/tmp");
    assert_int_equal(u->n_keys, 1); /* the glob matched one file */
    assert_int_equal(ferryd_userstore_lookup(&fx->us, "bob", &u), FERRY_OK);
    assert_int_equal(u->mode, FERRY_SFTP_READ_ONLY);
    assert_int_equal(u->n_keys, 0);
    assert_int_equal(ferryd_userstore_lookup(&fx->us, "carol", &u), FERRY_E_NOT_FOUND);
    /* %u is the user name: "authorized" reads <dir>/authorized_keys */
    assert_int_equal(ferryd_userstore_lookup(&fx->us, "authorized", &u), FERRY_OK);
    assert_int_equal(u->n_keys, 1);
}

static void test_pubkey(void **state)
{
    struct fixture *fx = *state;
    ferryd_auth a = mkauth(fx, "127.0.0.1", -1);
    const ferry_auth_ops *ops = &ferryd_auth_ops;
    assert_int_equal(ops->pubkey_allowed(&a, "alice", fx->k1), FERRY_OK);
    assert_non_null(strstr(a.key_fp, "SHA256:"));
    assert_string_equal(a.key_type, "ssh-ed25519");
    /* from="10.0.0.0/8" */
    assert_int_equal(ops->pubkey_allowed(&a, "alice", fx->k2), FERRY_E_AUTH_DENIED);
    ferryd_auth a10 = mkauth(fx, "10.1.2.3", -1);
    assert_int_equal(ops->pubkey_allowed(&a10, "alice", fx->k2), FERRY_OK);
    assert_int_equal(ops->pubkey_allowed(&a, "alice", fx->k3), FERRY_E_AUTH_DENIED);
    assert_int_equal(ops->pubkey_allowed(&a, "bob", fx->k1), FERRY_E_AUTH_DENIED);
    assert_int_equal(ops->pubkey_allowed(&a, "nobody", fx->k1), FERRY_E_AUTH_DENIED);
    /* PubkeyAcceptedAlgorithms restricts key types */
    a10.pubkey_algs = "ssh-ed25519,rsa-sha2-256";
    assert_int_equal(ops->pubkey_allowed(&a10, "alice", fx->k2), FERRY_E_AUTH_DENIED);
    assert_int_equal(ops->pubkey_allowed(&a10, "alice", fx->k1), FERRY_OK);
    a10.pubkey_algs = "rsa-sha2-512,ecdsa-sha2-nistp256";
    assert_int_equal(ops->pubkey_allowed(&a10, "alice", fx->k2), FERRY_OK);
    assert_int_equal(ops->pubkey_allowed(&a10, "alice", fx->k1), FERRY_E_AUTH_DENIED);
    a.allow_pubkey = 0;
    assert_int_equal(ops->pubkey_allowed(&a, "alice", fx->k1), FERRY_E_AUTH_DENIED);
    /* an unknown user's key is compared with the stand-in's keys, and
     * refused even when it is one of them */
    ferryd_auth s = mkauth(fx, "127.0.0.1", -1);
    s.standin_user = "alice";
    assert_int_equal(ops->pubkey_allowed(&s, "nobody", fx->k1), FERRY_E_AUTH_DENIED);
    assert_int_equal(ops->pubkey_allowed(&s, "nobody", fx->k3), FERRY_E_AUTH_DENIED);
    assert_string_equal(s.key_fp, "");
    assert_int_equal(ops->pubkey_allowed(&s, "alice", fx->k1), FERRY_OK);
    s.standin_user = "missing";
    assert_int_equal(ops->pubkey_allowed(&s, "nobody", fx->k1), FERRY_E_AUTH_DENIED);
}

/* From: the user logs in only from the addresses it admits, by key,
 * certificate or password alike; a bad list is a configuration error. */
static void test_from(void **state)
{
    struct fixture *fx = *state;
    const ferry_auth_ops *ops = &ferryd_auth_ops;
    static const struct {
        const char *peer;
        int ok;
    } cases[] = {{"10.1.2.3", 1}, {"::1", 1}, {"127.0.0.1", 0}, {"10.9.1.1", 0}, {NULL, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ferryd_auth a = mkauth(fx, cases[i].peer, -1);
        int want = cases[i].ok ? FERRY_OK : FERRY_E_AUTH_DENIED;
        assert_int_equal(ops->pubkey_allowed(&a, "dana", fx->k1), want);
        assert_int_equal(ops->password_check(&a, "dana", "s3cret"), want);
        assert_int_equal(ops->password_check(&a, "dana", "wrong"), FERRY_E_AUTH_DENIED);
        /* alice, without From, from anywhere */
        assert_int_equal(ops->pubkey_allowed(&a, "alice", fx->k1), FERRY_OK);
    }
    static const char *const bad[] = {"From \n", "From a,,b\n", "From ,a\n", "From a,\n",
                                      "From \"10.0.0.0/8 ::1\"\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char conf[128], err[256] = "";
        snprintf(conf, sizeof(conf), "User x\nRoot /tmp\n%s", bad[i]);
        ferryd_config c;
        ferryd_config_init(&c);
        assert_int_not_equal(ferryd_config_parse(&c, conf, strlen(conf), "t", err, sizeof(err)),
                             FERRY_OK);
        ferryd_config_free(&c);
    }
}

static uint64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_password(void **state)
{
    struct fixture *fx = *state;
    ferryd_auth a = mkauth(fx, "127.0.0.1", -1);
    const ferry_auth_ops *ops = &ferryd_auth_ops;
    assert_int_equal(strncmp(fx->hash, "$y$", 3), 0);
    assert_int_equal(strncmp(fx->dummy, "$y$", 3), 0);
    assert_int_equal(ops->password_check(&a, "alice", "s3cret"), FERRY_OK);
    assert_int_equal(ops->password_check(&a, "alice", "s3cret "), FERRY_E_AUTH_DENIED);
    assert_int_equal(ops->password_check(&a, "alice", ""), FERRY_E_AUTH_DENIED);
    /* bob has no password, carol does not exist: same answer */
    assert_int_equal(ops->password_check(&a, "bob", "s3cret"), FERRY_E_AUTH_DENIED);
    assert_int_equal(ops->password_check(&a, "carol", "s3cret"), FERRY_E_AUTH_DENIED);
    /* the dummy hash costs about as much as a real one */
    uint64_t t0 = ms_now();
    for (int i = 0; i < 3; i++) {
        ops->password_check(&a, "alice", "wrong");
    }
    uint64_t t1 = ms_now();
    for (int i = 0; i < 3; i++) {
        ops->password_check(&a, "carol", "wrong");
    }
    uint64_t t2 = ms_now();
    uint64_t known = t1 - t0 + 1, unknown = t2 - t1 + 1;
    assert_true(unknown * 3 >= known && known * 3 >= unknown);
    a.allow_password = 0;
    assert_int_equal(ops->password_check(&a, "alice", "s3cret"), FERRY_E_AUTH_DENIED);
    /* a hash of another kind gives a dummy of that kind */
    char d6[256];
    assert_int_equal(ferryd_auth_dummy_hash("$6$abc$def", d6, sizeof(d6)), FERRY_OK);
    assert_int_equal(strncmp(d6, "$6$", 3), 0);
    /* ... and of the same cost */
    assert_int_equal(ferryd_auth_dummy_hash("$6$rounds=9999$abc$def", d6, sizeof(d6)), FERRY_OK);
    assert_int_equal(strncmp(d6, "$6$rounds=9999$", 15), 0);
    char setting[CRYPT_GENSALT_OUTPUT_SIZE], yhash[256], ydummy[256];
    assert_non_null(crypt_gensalt_rn("$y$", 7, NULL, 0, setting, (int)sizeof(setting)));
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    assert_non_null(cd);
    const char *yh = crypt_rn("pw", setting, cd, (int)sizeof(*cd));
    assert_non_null(yh);
    snprintf(yhash, sizeof(yhash), "%s", yh);
    free(cd);
    assert_int_equal(ferryd_auth_dummy_hash(yhash, ydummy, sizeof(ydummy)), FERRY_OK);
    size_t params = (size_t)(strchr(yhash + 3, '$') - yhash); /* "$y$<params>" */
    assert_int_equal(strncmp(ydummy, yhash, params + 1), 0);
    assert_string_not_equal(ydummy, yhash);
    assert_int_equal(ferryd_auth_password_matches("pw", ydummy), FERRY_E_AUTH_DENIED);
    assert_int_equal(ferryd_auth_password_matches("x", "*"), FERRY_E_AUTH_DENIED);
}

static void test_reports(void **state)
{
    struct fixture *fx = *state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    ferryd_auth a = mkauth(fx, "127.0.0.1", p[1]);
    a.audit = NULL;
    ferryd_auth_ops.on_failure(&a, "alice", "none");
    ferryd_auth_ops.on_failure(&a, "alice", "password");
    assert_int_equal(ferryd_auth_ops.pubkey_allowed(&a, "alice", fx->k1), FERRY_OK);
    ferryd_auth_ops.on_success(&a, "alice", "publickey");
    char buf[8] = {0};
    close(p[1]);
    assert_int_equal(read(p[0], buf, sizeof(buf)), 2);
    assert_int_equal(buf[0], FERRYD_REPORT_AUTH_FAIL);
    assert_int_equal(buf[1], FERRYD_REPORT_AUTH_OK);
    close(p[0]);
    assert_int_equal(a.failures, 1);
    assert_non_null(a.user);
    assert_string_equal(a.user->name, "alice");
    assert_string_equal(a.methods, "publickey");
    assert_non_null(strstr(a.key_fp, "SHA256:"));
    /* password success forgets the key of an earlier query */
    ferryd_auth_ops.on_success(&a, "alice", "password");
    assert_string_equal(a.key_fp, "");
}

static void test_audit_format(void **state)
{
    (void)state;
    char out[256];
    ferryd_kv kv[] = {
        {"user", "al ice"}, {"path", "a\"b\\c\n"}, {"x", NULL}, {"e", ""}, {"ok", "plain"}};
    ferryd_audit_format(out, sizeof(out), "file", kv, 5);
    assert_string_equal(out,
                        "event=file user=\"al ice\" path=\"a\\\"b\\\\c\\x0a\" x=- e=\"\" ok=plain");
    char small[16];
    size_t n = ferryd_audit_format(small, sizeof(small), "file", kv, 5);
    assert_int_equal(n, 15);
    assert_int_equal(strlen(small), 15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pubkey, setup, teardown),
        cmocka_unit_test_setup_teardown(test_password, setup, teardown),
        cmocka_unit_test_setup_teardown(test_from, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reports, setup, teardown),
        cmocka_unit_test(test_audit_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
