/* test_ferryd_config.c: ferryd.conf(5) parser (src/ferryd/config.c is
 * program code, not library code, so it is compiled into this test). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/ferryd/config.c"
#include "../../src/ferryd/keyscmd.c"

static int parse(ferryd_config *cfg, const char *text, char *err, size_t errsz)
{
    ferryd_config_init(cfg);
    err[0] = '\0';
    return ferryd_config_parse(cfg, text, strlen(text), "t.conf", err, errsz);
}

static void test_defaults(void **state)
{
    (void)state;
    ferryd_config cfg;
    ferryd_config_init(&cfg);
    assert_int_equal(cfg.login_grace_time, 120);
    assert_int_equal(cfg.startups_begin, 10);
    assert_int_equal(cfg.startups_rate, 30);
    assert_int_equal(cfg.startups_full, 100);
    assert_int_equal(cfg.atomic_uploads, 1);
    assert_int_equal(cfg.keep_partial, 1);
    assert_int_equal(cfg.password_auth, 1);
    assert_int_equal(cfg.port, 22);
    ferryd_config_free(&cfg);
}

static const char full_conf[] =
    "# a comment\n"
    "\n"
    "  listenaddress 127.0.0.1:2222\n"
    "ListenAddress [::1]:2223   # trailing comment\n"
    "Port=2200\n"
    "HostKey /etc/ferry/ssh_host_ed25519_key\n"
    "HostKey \"/etc/ferry/key with space\"\n"
    "KexAlgorithms -diffie-hellman*\n"
    "Ciphers ^aes256-gcm@openssh.com\n"
    "MACs +hmac-sha1\n"
    "MaxAuthTries 3\n"
    "LoginGraceTime 1m30s\n"
    "MaxStartups 5:50:20\n"
    "PerSourceMaxStartups none\n"
    "PerSourcePenalties authfail:10s grace-exceeded:20 max:1h\n"
    "MaxSessions 4\n"
    "AuthenticationMethods publickey,password publickey\n"
    "PasswordAuthentication no\n"
    "PubkeyAuthentication yes\n"
    "KbdInteractiveAuthentication yes\n"
    "ClientAliveInterval 15\n"
    "LogLevel DEBUG\n"
    "RekeyLimit 512M 30m\n"
    "AtomicUploads no\n"
    "KeepPartialUploads no\n"
    "User alice\n"
    "    Root /srv/alice\n"
    "    AuthorizedKeysFile /home/alice/.ssh/authorized_keys \"/srv/keys/alice keys\"\n"
    "    Mode read-only\n"
    "User bob\n"
    "    Root /srv/bob\r\n"
    "    PasswordHash $y$j9T$abc$def\n"
    "    MODE upload-only\n";

static void test_full(void **state)
{
    (void)state;
    ferryd_config cfg;
    char err[256];
    assert_int_equal(parse(&cfg, full_conf, err, sizeof(err)), FERRY_OK);
    assert_int_equal(cfg.n_listen, 2);
    assert_string_equal(cfg.listen[0], "127.0.0.1:2222");
    assert_string_equal(cfg.listen[1], "[::1]:2223");
    assert_int_equal(cfg.port, 2200);
    assert_int_equal(cfg.n_host_keys, 2);
    assert_string_equal(cfg.host_keys[1], "/etc/ferry/key with space");
    assert_string_equal(cfg.kex_algs, "-diffie-hellman*");
    assert_string_equal(cfg.ciphers, "^aes256-gcm@openssh.com");
    assert_string_equal(cfg.macs, "+hmac-sha1");
    assert_int_equal(cfg.max_auth_tries, 3);
    assert_int_equal(cfg.login_grace_time, 90);
    assert_int_equal(cfg.startups_begin, 5);
    assert_int_equal(cfg.startups_rate, 50);
    assert_int_equal(cfg.startups_full, 20);
    assert_int_equal(cfg.per_source_max_startups, 0);
    assert_int_equal(cfg.penalty_authfail, 10);
    assert_int_equal(cfg.penalty_grace, 20);
    assert_int_equal(cfg.penalty_max, 3600);
    assert_int_equal(cfg.max_sessions, 4);
    assert_string_equal(cfg.auth_methods, "publickey,password publickey");
    assert_int_equal(cfg.password_auth, 0);
    assert_int_equal(cfg.kbdint_auth, 1);
    assert_int_equal(cfg.client_alive_interval, 15);
    assert_int_equal(cfg.log_level, FERRY_LOG_DEBUG);
    assert_true(cfg.rekey_bytes == 512ull << 20);
    assert_true(cfg.rekey_seconds == 1800);
    assert_int_equal(cfg.atomic_uploads, 0);
    assert_int_equal(cfg.keep_partial, 0);
    assert_int_equal(cfg.n_users, 2);
    ferryd_user_conf *a = ferryd_config_user(&cfg, "alice");
    assert_non_null(a);
    assert_string_equal(a->root, "/srv/alice");
    assert_int_equal(a->n_keyfiles, 2);
    assert_string_equal(a->keyfiles[1], "/srv/keys/alice keys");
    assert_int_equal(a->mode, FERRY_SFTP_READ_ONLY);
    assert_null(a->password_hash);
    ferryd_user_conf *b = ferryd_config_user(&cfg, "bob");
    assert_non_null(b);
    assert_string_equal(b->root, "/srv/bob");
    assert_string_equal(b->password_hash, "$y$j9T$abc$def");
    assert_int_equal(b->mode, FERRY_SFTP_UPLOAD_ONLY);
    assert_int_equal(b->line, 30);
    assert_null(ferryd_config_user(&cfg, "carol"));
    ferryd_config_free(&cfg);
}

/* TrustedUserCAKeys and RevokedKeys: a file, or "none" (any case) for
 * none, a later line replacing an earlier one. */
static void test_key_files(void **state)
{
    (void)state;
    ferryd_config cfg;
    char err[256];
    assert_int_equal(
        parse(&cfg, "TrustedUserCAKeys /etc/ferry/cas\nRevokedKeys NONE\n", err, sizeof(err)),
        FERRY_OK);
    assert_string_equal(cfg.trusted_user_ca_keys, "/etc/ferry/cas");
    assert_null(cfg.revoked_keys);
    ferryd_config_free(&cfg);
    assert_int_equal(
        parse(&cfg, "RevokedKeys /r\nTrustedUserCAKeys none\nRevokedKeys none\n", err, sizeof(err)),
        FERRY_OK);
    assert_null(cfg.trusted_user_ca_keys);
    assert_null(cfg.revoked_keys);
    ferryd_config_free(&cfg);
    /* AuthorizedKeysCommand: kept as written; "none" for none; a user's
     * AuthenticationMethods beside the global one */
    assert_int_equal(parse(&cfg,
                           "AuthorizedKeysCommand /usr/bin/keys \"%u %%\" %f %k %t %h\n"
                           "AuthorizedKeysCommandUser nobody\nAuthenticationMethods publickey\n"
                           "User a\nRoot /r\nAuthenticationMethods publickey,password password\n",
                           err, sizeof(err)),
                     FERRY_OK);
    assert_string_equal(cfg.keys_command, "/usr/bin/keys \"%u %%\" %f %k %t %h");
    assert_string_equal(cfg.auth_methods, "publickey");
    assert_string_equal(cfg.users[0].auth_methods, "publickey,password password");
    ferryd_config_free(&cfg);
    assert_int_equal(parse(&cfg, "AuthorizedKeysCommand none\nUser a\nAuthenticationMethods any\n",
                           err, sizeof(err)),
                     FERRY_OK);
    assert_null(cfg.keys_command);
    assert_null(cfg.users[0].auth_methods);
    ferryd_config_free(&cfg);
    assert_int_equal(parse(&cfg, "AuthorizedPrincipalsCommand /p %u %h %i %s %f %t %k %F %T %K\n",
                           err, sizeof(err)),
                     FERRY_OK);
    assert_string_equal(cfg.principals_command, "/p %u %h %i %s %f %t %k %F %T %K");
    ferryd_config_free(&cfg);
}

/* ChannelTimeout: the first type pattern matching what SFTP runs on
 * ("session", "session:subsystem:sftp") gives the interval; others are
 * ignored. UnusedConnectionTimeout a time or none. */
static void test_channel_timeout(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        unsigned channel, unused;
    } cases[] = {
        {"ChannelTimeout agent-connection=5m session=10m\nUnusedConnectionTimeout 2m\n", 600, 120},
        {"ChannelTimeout *=30s\n", 30, 0},
        {"ChannelTimeout session:subsystem:sftp=1h session=1m\n", 3600, 0},
        {"ChannelTimeout session:*=90\n", 90, 0},
        {"ChannelTimeout x11-connection=5m direct-tcpip=1m\n", 0, 0},
        {"ChannelTimeout session=none\nUnusedConnectionTimeout none\n", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ferryd_config cfg;
        char err[256];
        assert_int_equal(parse(&cfg, cases[i].text, err, sizeof(err)), FERRY_OK);
        assert_int_equal(cfg.channel_timeout, cases[i].channel);
        assert_int_equal(cfg.unused_timeout, cases[i].unused);
        ferryd_config_free(&cfg);
    }
}

/* Principals, one per line, as AuthorizedPrincipalsFile and
 * AuthorizedPrincipalsCommand's output give them. */
static void test_principals_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"", ""},
        {"# only a comment\n\n", ""},
        {"ops\n  dev \r\nfrom=\"10.0.0.0/8\" admins\na,b\n#x\nlast", "ops,dev,last"},
        {"one", "one"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = NULL;
        assert_int_equal(ferryd_principals_parse(cases[i].text, strlen(cases[i].text), "t", &out),
                         FERRY_OK);
        assert_string_equal(out, cases[i].want);
        free(out);
    }
}

/* Each bad line is reported with file:line. */
static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *want;
    } cases[] = {
        {"Bogus yes\n", "t.conf:1: unknown keyword"},
        {"User a\nMatch User b\n", "t.conf:2: Match blocks are not supported"},
        {"\n\nPort 0\n", "t.conf:3: bad port"},
        {"Port 70000\n", "t.conf:1:"},
        {"Port\n", "needs a value"},
        {"PasswordAuthentication maybe\n", "expected yes or no"},
        {"LoginGraceTime 5x\n", "bad time"},
        {"MaxStartups 10:200:5\n", "t.conf:1:"},
        {"MaxStartups a:b:c\n", "start:rate:full"},
        {"Root /x\n", "only allowed inside a User block"},
        {"User a\nPort 22\n", "t.conf:2: Port is not allowed inside a User block"},
        {"User -bad\n", "bad user name"},
        {"User a\nMode everything\n", "Mode must be"},
        {"LogLevel LOUD\n", "unknown LogLevel"},
        {"RekeyLimit 1Q\n", "bad RekeyLimit"},
        {"ListenAddress [::1\n", "bad address"},
        {"ListenAddress 1.2.3.4:99999\n", "bad address"},
        {"PerSourcePenalties foo:1\n", "unknown penalty"},
        {"AuthenticationMethods pub;key\n", "bad AuthenticationMethods"},
        {"User a\nAuthorizedKeysFile \"unterminated\n", "unterminated quote"},
        {"AuthenticationMethods publickey,,password\n", "bad AuthenticationMethods"},
        {"User a\nAuthenticationMethods otp\n", "t.conf:2: bad AuthenticationMethods"},
        {"User a\nFrom 10.0.0.0/8,\n", "not an address pattern-list"},
        {"AuthorizedKeysCommand bin/keys %u\n", "absolute path"},
        {"AuthorizedKeysCommand /bin/keys %q\n", "unknown %-token"},
        {"AuthorizedKeysCommand /bin/%u\n", "absolute path"},
        {"AuthorizedKeysCommand /bin/keys \"%u\n", "cannot split"},
        {"AuthorizedKeysCommand /bin/keys %i\n", "unknown %-token"},
        {"AuthorizedPrincipalsCommand /bin/p %u %q\n", "unknown %-token"},
        {"AuthorizedPrincipalsCommand p %u\n", "absolute path"},
        {"ChannelTimeout session\n", "expected type=interval"},
        {"ChannelTimeout session=5x\n", "expected type=interval"},
        {"ChannelTimeout =5m\n", "expected type=interval"},
        {"UnusedConnectionTimeout 99d\n", "bad time"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ferryd_config cfg;
        char err[256];
        int r = parse(&cfg, cases[i].text, err, sizeof(err));
        if (r == FERRY_OK || strstr(err, cases[i].want) == NULL) {
            fail_msg("case %zu (%s): r=%d err=\"%s\"", i, cases[i].text, r, err);
        }
        ferryd_config_free(&cfg);
    }
}

static void test_limits(void **state)
{
    (void)state;
    ferryd_config cfg;
    char err[256];
    /* more HostKey lines than slots */
    char text[4096] = "";
    for (int i = 0; i <= FERRYD_MAX_HOST_KEYS; i++) {
        strcat(text, "HostKey /k\n");
    }
    assert_int_not_equal(parse(&cfg, text, err, sizeof(err)), FERRY_OK);
    assert_non_null(strstr(err, "too many"));
    ferryd_config_free(&cfg);
    /* a line over 8 KiB */
    char *big = malloc(10000);
    assert_non_null(big);
    memset(big, 'a', 9998);
    big[9998] = '\n';
    big[9999] = '\0';
    assert_int_not_equal(parse(&cfg, big, err, sizeof(err)), FERRY_OK);
    assert_non_null(strstr(err, "t.conf:1:"));
    ferryd_config_free(&cfg);
    /* NUL inside a line */
    ferryd_config_init(&cfg);
    assert_int_not_equal(ferryd_config_parse(&cfg, "Port 2\0\n", 8, "t.conf", err, sizeof(err)),
                         FERRY_OK);
    ferryd_config_free(&cfg);
    free(big);
}

/* Repeated User blocks merge; many users force the array to grow while a
 * block is open (the parser must not keep a stale pointer). */
static void test_many_users(void **state)
{
    (void)state;
    ferryd_config cfg;
    char err[256];
    size_t cap = 64 * 64;
    char *text = malloc(cap);
    assert_non_null(text);
    text[0] = '\0';
    for (int i = 0; i < 50; i++) {
        char line[64];
        snprintf(line, sizeof(line), "User u%d\nRoot /r%d\n", i, i);
        strcat(text, line);
    }
    strcat(text, "User u3\nMode read-only\n");
    assert_int_equal(parse(&cfg, text, err, sizeof(err)), FERRY_OK);
    assert_int_equal(cfg.n_users, 50);
    ferryd_user_conf *u = ferryd_config_user(&cfg, "u3");
    assert_string_equal(u->root, "/r3");
    assert_int_equal(u->mode, FERRY_SFTP_READ_ONLY);
    assert_string_equal(ferryd_config_user(&cfg, "u49")->root, "/r49");
    ferryd_config_free(&cfg);
    free(text);
}

static void test_split_addr(void **state)
{
    (void)state;
    char host[64];
    unsigned port = 0;
    assert_int_equal(ferryd_config_split_addr("127.0.0.1:2222", 22, host, 64, &port), FERRY_OK);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 2222);
    assert_int_equal(ferryd_config_split_addr("[::1]:0", 22, host, 64, &port), FERRY_OK);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_int_equal(ferryd_config_split_addr("::1", 2200, host, 64, &port), FERRY_OK);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 2200);
    assert_int_equal(ferryd_config_split_addr("[fe80::1]", 7, host, 64, &port), FERRY_OK);
    assert_string_equal(host, "fe80::1");
    assert_int_equal(port, 7);
    assert_int_equal(ferryd_config_split_addr("localhost", 9, host, 64, &port), FERRY_OK);
    assert_int_equal(port, 9);
    assert_int_not_equal(ferryd_config_split_addr("[::1]x", 22, host, 64, &port), FERRY_OK);
    assert_int_not_equal(ferryd_config_split_addr("h:", 22, host, 64, &port), FERRY_OK);
    assert_int_not_equal(ferryd_config_split_addr(":22", 22, host, 64, &port), FERRY_OK);
    assert_int_not_equal(ferryd_config_split_addr("h:-1", 22, host, 64, &port), FERRY_OK);
}

static void test_modes(void **state)
{
    (void)state;
    enum ferry_sftp_mode m;
    assert_int_equal(ferryd_config_mode_from_name("READ-WRITE", &m), FERRY_OK);
    assert_int_equal(m, FERRY_SFTP_READ_WRITE);
    assert_int_equal(ferryd_config_mode_from_name("upload-only", &m), FERRY_OK);
    assert_int_equal(m, FERRY_SFTP_UPLOAD_ONLY);
    assert_int_not_equal(ferryd_config_mode_from_name("rw", &m), FERRY_OK);
    assert_string_equal(ferryd_config_mode_name(FERRY_SFTP_READ_ONLY), "read-only");
}

static void test_time_and_startups(void **state)
{
    (void)state;
    ferryd_config cfg;
    char err[256];
    assert_int_equal(parse(&cfg, "LoginGraceTime 2h\nMaxStartups 7\n", err, sizeof(err)), FERRY_OK);
    assert_int_equal(cfg.login_grace_time, 7200);
    assert_int_equal(cfg.startups_begin, 7);
    assert_int_equal(cfg.startups_full, 7);
    ferryd_config_free(&cfg);
    assert_int_equal(parse(&cfg, "LoginGraceTime 0\nPerSourcePenalties no\n", err, sizeof(err)),
                     FERRY_OK);
    assert_int_equal(cfg.login_grace_time, 0);
    assert_int_equal(cfg.penalty_authfail, 0);
    assert_int_equal(cfg.penalty_grace, 0);
    ferryd_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_key_files),
        cmocka_unit_test(test_principals_parse),
        cmocka_unit_test(test_channel_timeout),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_many_users),
        cmocka_unit_test(test_split_addr),
        cmocka_unit_test(test_modes),
        cmocka_unit_test(test_time_and_startups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
