/* test_authfile.c: authorized_keys options and from=, known_hosts plain,
 * hashed (ssh-keygen -H), ports, markers, and our appends read back by
 * ssh-keygen -F. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/key.h"
#include "ssh/authfile.h"
#include "util/err.h"

static char tmpdir[64];
static ferry_key *keys[4]; /* ed25519, ed25519, p256, rsa */
static char *lines[4];     /* "type base64" of each */

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/ferry-test-authfile-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        return -1;
    }
    const enum ferry_key_type types[4] = {FERRY_KEY_ED25519, FERRY_KEY_ED25519,
                                          FERRY_KEY_ECDSA_P256, FERRY_KEY_RSA};
    for (int i = 0; i < 4; i++) {
        if (ferry_key_generate(types[i], 2048, &keys[i]) != FERRY_OK ||
            ferry_key_format_public_line(keys[i], NULL, &lines[i]) != FERRY_OK) {
            return -1;
        }
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 4; i++) {
        ferry_key_free(keys[i]);
        free(lines[i]);
    }
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *fmt(const char *f, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, f);
    assert_true(vasprintf(&s, f, ap) >= 0);
    va_end(ap);
    return s;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* ---- authorized_keys ---- */

static void test_authkeys_options(void **state)
{
    (void)state;
    char *text = fmt("# a comment\n"
                     "\n"
                     "   \t\n"
                     "%s key-zero\r\n"
                     "restrict,command=\"echo \\\"hi\\\" there\" %s key one\n"
                     "bogus-option %s skipped\n"
                     "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA broken\n"
                     "no-pty,environment=\"A=b c\",permitopen=\"h:1\" %s later line works\n"
                     "cert-authority %s\n"
                     "command=\"unterminated %s\n",
                     lines[0], lines[1], lines[2], lines[2], lines[3], lines[3]);
    ferry_authkeys *ak = NULL;
    size_t skipped = 99;
    assert_int_equal(ferry_authkeys_parse(text, strlen(text), &ak, &skipped), FERRY_OK);
    assert_int_equal(ferry_authkeys_count(ak), 4); /* the cert-authority line too */
    assert_int_equal(skipped, 3);

    ferry_authkey_opts o;
    assert_int_equal(ferry_authkeys_match(ak, keys[0], NULL, &o), FERRY_OK);
    assert_int_equal(o.restrict_, 0);
    assert_int_equal(o.no_pty, 0);
    assert_string_equal(o.command, "");

    assert_int_equal(ferry_authkeys_match(ak, keys[1], "127.0.0.1", &o), FERRY_OK);
    assert_int_equal(o.restrict_, 1);
    assert_int_equal(o.no_pty, 1);
    assert_int_equal(o.no_port_forwarding, 1);
    assert_int_equal(o.no_agent_forwarding, 1);
    assert_int_equal(o.no_x11_forwarding, 1);
    assert_string_equal(o.command, "echo \"hi\" there");

    assert_int_equal(ferry_authkeys_match(ak, keys[2], NULL, &o), FERRY_OK);
    assert_int_equal(o.no_pty, 1);
    assert_int_equal(o.restrict_, 0);
    /* A cert-authority key is no user key; broken quoting is never usable. */
    assert_int_equal(ferry_authkeys_match(ak, keys[3], NULL, &o), FERRY_E_AUTH_DENIED);
    assert_int_equal(ferry_authkeys_match_ca(ak, keys[3], NULL, NULL), FERRY_OK);
    ferry_authkeys_free(ak);
    free(text);
}

/* cert-authority lines: a CA for user certificates only, with its
 * principals= and from=; plain lines are no CAs. */
static void test_authkeys_cert_authority(void **state)
{
    (void)state;
    char *text = fmt("cert-authority,principals=\"ops,deploy\" %s\n"
                     "cert-authority,from=\"10.0.0.0/8\" %s\n"
                     "cert-authority %s\n"
                     "%s plain\n"
                     "cert-authority,principals=\"\" %s empty principals: unusable\n",
                     lines[0], lines[2], lines[2], lines[3], lines[1]);
    ferry_authkeys *ak = NULL;
    size_t skipped = 0;
    const char *pr = "unset";
    assert_int_equal(ferry_authkeys_parse(text, strlen(text), &ak, &skipped), FERRY_OK);
    assert_int_equal(skipped, 1);
    assert_int_equal(ferry_authkeys_match_ca(ak, keys[0], "127.0.0.1", &pr), FERRY_OK);
    assert_string_equal(pr, "ops,deploy");
    assert_int_equal(ferry_authkeys_match(ak, keys[0], "127.0.0.1", NULL), FERRY_E_AUTH_DENIED);
    /* from= refuses the first line for the P-256 CA; the next admits */
    assert_int_equal(ferry_authkeys_match_ca(ak, keys[2], "10.1.2.3", &pr), FERRY_OK);
    assert_int_equal(ferry_authkeys_match_ca(ak, keys[2], "127.0.0.1", &pr), FERRY_OK);
    assert_null(pr);
    /* a plain key is no CA */
    assert_int_equal(ferry_authkeys_match_ca(ak, keys[3], NULL, NULL), FERRY_E_AUTH_DENIED);
    assert_int_equal(ferry_authkeys_match(ak, keys[3], NULL, NULL), FERRY_OK);
    assert_int_equal(ferry_authkeys_match_ca(ak, keys[1], NULL, NULL), FERRY_E_AUTH_DENIED);
    ferry_authkeys_free(ak);
    free(text);
    /* only the from= line for the CA: refused elsewhere */
    text = fmt("cert-authority,from=\"10.0.0.0/8\" %s\n", lines[2]);
    assert_int_equal(ferry_authkeys_parse(text, strlen(text), &ak, &skipped), FERRY_OK);
    assert_int_equal(ferry_authkeys_match_ca(ak, keys[2], "10.9.9.9", NULL), FERRY_OK);
    assert_int_equal(ferry_authkeys_match_ca(ak, keys[2], "127.0.0.1", NULL), FERRY_E_AUTH_DENIED);
    ferry_authkeys_free(ak);
    free(text);
}

static void test_authkeys_from(void **state)
{
    (void)state;
    char *text = fmt("from=\"127.0.0.0/8,!10.0.0.0/8,::1\" %s\n"
                     "from=\"10.*,!10.1.2.3\" %s\n"
                     "from=\"2001:db8::/32\",no-pty %s\n"
                     "from=\"10.0.0.0/33\" %s\n",
                     lines[0], lines[1], lines[2], lines[3]);
    ferry_authkeys *ak = NULL;
    size_t skipped = 0;
    assert_int_equal(ferry_authkeys_parse(text, strlen(text), &ak, &skipped), FERRY_OK);
    assert_int_equal(ferry_authkeys_count(ak), 4);
    assert_int_equal(skipped, 0);
    assert_int_equal(ferry_authkeys_match(ak, keys[0], "127.0.0.1", NULL), FERRY_OK);
    assert_int_equal(ferry_authkeys_match(ak, keys[0], "127.9.8.7", NULL), FERRY_OK);
    assert_int_equal(ferry_authkeys_match(ak, keys[0], "::ffff:127.0.0.1", NULL), FERRY_OK);
    assert_int_equal(ferry_authkeys_match(ak, keys[0], "::1", NULL), FERRY_OK);
    assert_int_equal(ferry_authkeys_match(ak, keys[0], "10.1.2.3", NULL), FERRY_E_AUTH_DENIED);
    assert_int_equal(ferry_authkeys_match(ak, keys[0], "192.168.1.1", NULL), FERRY_E_AUTH_DENIED);
    assert_int_equal(ferry_authkeys_match(ak, keys[0], NULL, NULL), FERRY_E_AUTH_DENIED);
    assert_int_equal(ferry_authkeys_match(ak, keys[0], "not-an-address", NULL),
                     FERRY_E_AUTH_DENIED);
    /* Wildcards with negation. */
    assert_int_equal(ferry_authkeys_match(ak, keys[1], "10.9.9.9", NULL), FERRY_OK);
    assert_int_equal(ferry_authkeys_match(ak, keys[1], "10.1.2.3", NULL), FERRY_E_AUTH_DENIED);
    assert_int_equal(ferry_authkeys_match(ak, keys[1], "127.0.0.1", NULL), FERRY_E_AUTH_DENIED);
    /* IPv6 CIDR. */
    ferry_authkey_opts o;
    assert_int_equal(ferry_authkeys_match(ak, keys[2], "2001:db8::5", &o), FERRY_OK);
    assert_int_equal(o.no_pty, 1);
    assert_int_equal(ferry_authkeys_match(ak, keys[2], "2001:db9::1", NULL), FERRY_E_AUTH_DENIED);
    assert_int_equal(ferry_authkeys_match(ak, keys[2], "127.0.0.1", NULL), FERRY_E_AUTH_DENIED);
    /* A malformed CIDR admits nobody. */
    assert_int_equal(ferry_authkeys_match(ak, keys[3], "10.0.0.1", NULL), FERRY_E_AUTH_DENIED);
    ferry_authkeys_free(ak);
    free(text);
}

static void test_authkeys_expiry_and_second_line(void **state)
{
    (void)state;
    char *text = fmt("expiry-time=\"19990101\" %s\n"
                     "expiry-time=\"29991231235959Z\" %s\n"
                     "from=\"192.0.2.1\" %s\n"
                     "no-agent-forwarding %s\n"
                     "expiry-time=\"notatime\" %s\n",
                     lines[0], lines[1], lines[2], lines[2], lines[3]);
    ferry_authkeys *ak = NULL;
    size_t skipped = 0;
    assert_int_equal(ferry_authkeys_parse(text, strlen(text), &ak, &skipped), FERRY_OK);
    assert_int_equal(skipped, 1);
    assert_int_equal(ferry_authkeys_match(ak, keys[0], NULL, NULL), FERRY_E_AUTH_DENIED);
    assert_int_equal(ferry_authkeys_match(ak, keys[1], NULL, NULL), FERRY_OK);
    /* The from= line refuses, the next line for the same key admits. */
    ferry_authkey_opts o;
    assert_int_equal(ferry_authkeys_match(ak, keys[2], "127.0.0.1", &o), FERRY_OK);
    assert_int_equal(o.no_agent_forwarding, 1);
    assert_int_equal(ferry_authkeys_match(ak, keys[3], NULL, NULL), FERRY_E_AUTH_DENIED);
    ferry_authkeys_free(ak);
    free(text);
}

static void test_authkeys_load_ssh_keygen(void **state)
{
    (void)state;
    char cmd[4096], path[512], pub[512];
    snprintf(cmd, sizeof(cmd),
             "ssh-keygen -q -t ed25519 -N '' -C me -f %s/ak_ed && ssh-keygen -q -t ecdsa -N '' "
             "-f %s/ak_ec && (echo '# keys'; cat %s/ak_ed.pub; echo; echo 'no-pty' $(cat "
             "%s/ak_ec.pub)) > %s/authorized_keys",
             tmpdir, tmpdir, tmpdir, tmpdir, tmpdir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof(path), "%s/authorized_keys", tmpdir);
    ferry_authkeys *ak = NULL;
    size_t skipped = 9;
    assert_int_equal(ferry_authkeys_load(path, &ak, &skipped), FERRY_OK);
    assert_int_equal(ferry_authkeys_count(ak), 2);
    assert_int_equal(skipped, 0);
    snprintf(pub, sizeof(pub), "%s/ak_ec", tmpdir);
    ferry_key *k = NULL;
    assert_int_equal(ferry_key_load_private_file(pub, NULL, &k, NULL), FERRY_OK);
    ferry_authkey_opts o;
    assert_int_equal(ferry_authkeys_match(ak, k, "127.0.0.1", &o), FERRY_OK);
    assert_int_equal(o.no_pty, 1);
    assert_int_equal(ferry_authkeys_match(ak, keys[0], "127.0.0.1", &o), FERRY_E_AUTH_DENIED);
    ferry_key_free(k);
    ferry_authkeys_free(ak);
    snprintf(path, sizeof(path), "%s/no_such_file", tmpdir);
    assert_int_equal(ferry_authkeys_load(path, &ak, NULL), FERRY_E_NOT_FOUND);
}

/* ---- known_hosts ---- */

static void check(const char *text, const char *host, uint16_t port, const ferry_key *k,
                  enum ferry_hostkey_status want, size_t want_line)
{
    enum ferry_hostkey_status st = 99;
    size_t line = 99;
    assert_int_equal(ferry_known_hosts_check_text(text, strlen(text), host, port, k, &st, &line),
                     FERRY_OK);
    assert_int_equal(st, want);
    assert_int_equal(line, want_line);
}

static void test_known_hosts_plain(void **state)
{
    (void)state;
    char *text = fmt("# known hosts\n"
                     "host1.example.com,alias1 %s\n"
                     "[host2]:2222 %s\n"
                     "*.wild.test,!bad.wild.test %s\n"
                     "host3 %s\n"
                     "@revoked host4 %s\n"
                     "host4 %s\n"
                     "@cert-authority *.ca.test %s\n"
                     "host5 ssh-dss AAAAB3NzaC1kc3MAAACBAP\n"
                     "host6 %s\n"
                     "host6 %s\n",
                     lines[0], lines[0], lines[0], lines[1], lines[0], lines[0], lines[0], lines[1],
                     lines[3]);
    check(text, "host1.example.com", 22, keys[0], FERRY_HOSTKEY_OK, 2);
    check(text, "HOST1.Example.COM", 0, keys[0], FERRY_HOSTKEY_OK, 2);
    check(text, "alias1", 22, keys[0], FERRY_HOSTKEY_OK, 2);
    check(text, "host1.example.com", 2222, keys[0], FERRY_HOSTKEY_NEW, 0);
    check(text, "host2", 2222, keys[0], FERRY_HOSTKEY_OK, 3);
    check(text, "host2", 22, keys[0], FERRY_HOSTKEY_NEW, 0);
    check(text, "a.wild.test", 22, keys[0], FERRY_HOSTKEY_OK, 4);
    check(text, "bad.wild.test", 22, keys[0], FERRY_HOSTKEY_NEW, 0);
    check(text, "host3", 22, keys[0], FERRY_HOSTKEY_CHANGED, 5);
    check(text, "host3", 22, keys[1], FERRY_HOSTKEY_OK, 5);
    /* Another key type listed only: CHANGED as well, as OpenSSH (9.2 says
     * "Offending RSA key" and refuses even with accept-new). */
    check(text, "host3", 22, keys[2], FERRY_HOSTKEY_CHANGED, 5);
    check(text, "host4", 22, keys[0], FERRY_HOSTKEY_REVOKED, 6);
    check(text, "x.ca.test", 22, keys[0], FERRY_HOSTKEY_NEW, 0);
    check(text, "host5", 22, keys[0], FERRY_HOSTKEY_NEW, 0);
    check(text, "unknown", 22, keys[0], FERRY_HOSTKEY_NEW, 0);
    /* Both an ed25519 and an RSA key for host6: each is OK on its line. */
    check(text, "host6", 22, keys[3], FERRY_HOSTKEY_OK, 11);
    check(text, "host6", 22, keys[1], FERRY_HOSTKEY_OK, 10);
    check(text, "host6", 22, keys[0], FERRY_HOSTKEY_CHANGED, 10);
    free(text);
}

/* @cert-authority lines for host certificates, and @revoked CAs. */
static void test_known_hosts_ca(void **state)
{
    (void)state;
    char *text = fmt("host1 %s\n"
                     "@cert-authority *.example.com,!bad.example.com %s\n"
                     "@cert-authority [h2]:2222 %s\n"
                     "@revoked * %s\n"
                     "@cert-authority *.example.com %s\n",
                     lines[1], lines[0], lines[2], lines[3], lines[3]);
    int any = 0;
    enum ferry_hostkey_status st;
    size_t line = 0;
    assert_int_equal(ferry_known_hosts_ca_text(text, strlen(text), "a.example.com", 22, keys[0],
                                               &any, &st, &line),
                     FERRY_OK);
    assert_true(any);
    assert_int_equal(st, FERRY_HOSTKEY_OK);
    assert_int_equal(line, 2);
    /* negated host, other port, plain lines are no CAs */
    assert_int_equal(ferry_known_hosts_ca_text(text, strlen(text), "bad.example.com", 22, keys[0],
                                               &any, &st, &line),
                     FERRY_OK);
    assert_int_equal(st, FERRY_HOSTKEY_NEW);
    assert_int_equal(
        ferry_known_hosts_ca_text(text, strlen(text), "h2", 2222, keys[2], &any, &st, &line),
        FERRY_OK);
    assert_true(any);
    assert_int_equal(st, FERRY_HOSTKEY_OK);
    assert_int_equal(
        ferry_known_hosts_ca_text(text, strlen(text), "h2", 22, keys[2], &any, &st, &line),
        FERRY_OK);
    assert_false(any);
    assert_int_equal(st, FERRY_HOSTKEY_NEW);
    assert_int_equal(
        ferry_known_hosts_ca_text(text, strlen(text), "host1", 22, keys[1], &any, &st, &line),
        FERRY_OK);
    assert_false(any);
    assert_int_equal(st, FERRY_HOSTKEY_NEW);
    /* a revoked CA stays revoked even where a line lists it */
    assert_int_equal(ferry_known_hosts_ca_text(text, strlen(text), "a.example.com", 22, keys[3],
                                               &any, &st, &line),
                     FERRY_OK);
    assert_int_equal(st, FERRY_HOSTKEY_REVOKED);
    assert_int_equal(line, 4);
    /* NULL CA: only whether a line names the host; CA lines are no keys */
    assert_int_equal(
        ferry_known_hosts_ca_text(text, strlen(text), "x.example.com", 22, NULL, &any, &st, NULL),
        FERRY_OK);
    assert_true(any);
    check(text, "a.example.com", 22, keys[0], FERRY_HOSTKEY_NEW, 0);
    free(text);
}

static void test_known_hosts_types(void **state)
{
    (void)state;
    char *text = fmt("host1 %s\n"
                     "@revoked host1,onlyrevoked %s\n"
                     "@cert-authority host1 %s\n"
                     "host1,[host2]:2200 %s\n"
                     "other %s\n",
                     lines[0], lines[2], lines[2], lines[3], lines[2]);
    unsigned t = 99;
    int any = 99;
    const unsigned ed = 1u << FERRY_KEY_ED25519, rsa = 1u << FERRY_KEY_RSA;
    assert_int_equal(ferry_known_hosts_types_text(text, strlen(text), "host1", 22, &t, &any),
                     FERRY_OK);
    assert_int_equal(t, ed | rsa); /* neither the revoked nor the CA line */
    assert_int_equal(any, 1);      /* ... which names host1 */
    assert_int_equal(ferry_known_hosts_types_text(text, strlen(text), "host2", 2200, &t, &any),
                     FERRY_OK);
    assert_int_equal(t, rsa);
    assert_int_equal(any, 0);
    assert_int_equal(ferry_known_hosts_types_text(text, strlen(text), "host2", 22, &t, NULL),
                     FERRY_OK);
    assert_int_equal(t, 0);
    assert_int_equal(ferry_known_hosts_types_text(text, strlen(text), "onlyrevoked", 22, &t, NULL),
                     FERRY_OK);
    assert_int_equal(t, 0);
    char path[256];
    snprintf(path, sizeof(path), "%s/kh_types", tmpdir);
    write_file(path, text);
    assert_int_equal(ferry_known_hosts_types(path, "other", 22, &t, NULL), FERRY_OK);
    assert_int_equal(t, 1u << FERRY_KEY_ECDSA_P256);
    snprintf(path, sizeof(path), "%s/kh_types_missing", tmpdir);
    t = 99;
    any = 99;
    assert_int_equal(ferry_known_hosts_types(path, "other", 22, &t, &any), FERRY_OK);
    assert_int_equal(t, 0);
    assert_int_equal(any, 0);
    free(text);
}

static void test_known_hosts_order_algs(void **state)
{
    (void)state;
    const char *algs = "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,rsa-sha2-512,"
                       "rsa-sha2-256";
    char *out = (char *)1;
    assert_int_equal(ferry_known_hosts_order_algs(0, algs, &out), FERRY_OK);
    assert_null(out);
    assert_int_equal(ferry_known_hosts_order_algs(1u << FERRY_KEY_RSA, algs, &out), FERRY_OK);
    assert_string_equal(out, "rsa-sha2-512,rsa-sha2-256,ssh-ed25519,ecdsa-sha2-nistp256,"
                             "ecdsa-sha2-nistp384");
    free(out);
    /* one ECDSA curve is not another */
    assert_int_equal(
        ferry_known_hosts_order_algs(1u << FERRY_KEY_ECDSA_P384 | 1u << FERRY_KEY_RSA, algs, &out),
        FERRY_OK);
    assert_string_equal(out, "ecdsa-sha2-nistp384,rsa-sha2-512,rsa-sha2-256,ssh-ed25519,"
                             "ecdsa-sha2-nistp256");
    free(out);
    /* the first type already first: the list is unchanged */
    assert_int_equal(ferry_known_hosts_order_algs(1u << FERRY_KEY_ED25519, algs, &out), FERRY_OK);
    assert_string_equal(out, algs);
    free(out);
    /* a type none of the algorithms has: the list is unchanged */
    assert_int_equal(ferry_known_hosts_order_algs(1u << FERRY_KEY_RSA, "ssh-ed25519", &out),
                     FERRY_OK);
    assert_string_equal(out, "ssh-ed25519");
    free(out);
}

static void test_known_hosts_hashed_by_ssh_keygen(void **state)
{
    (void)state;
    char path[256], cmd[1024];
    snprintf(path, sizeof(path), "%s/kh_hashed", tmpdir);
    char *text =
        fmt("hashedhost %s\n[hashedport]:2200 %s\nother %s\n", lines[0], lines[0], lines[1]);
    write_file(path, text);
    snprintf(cmd, sizeof(cmd), "ssh-keygen -q -H -f %s >/dev/null 2>&1 && grep -c '^|1|' %s", path,
             path);
    FILE *p = popen(cmd, "r");
    int n = 0;
    assert_int_equal(fscanf(p, "%d", &n), 1);
    assert_int_equal(pclose(p), 0);
    assert_int_equal(n, 3);
    enum ferry_hostkey_status st;
    size_t line;
    assert_int_equal(ferry_known_hosts_check(path, "hashedhost", 22, keys[0], &st, &line),
                     FERRY_OK);
    assert_int_equal(st, FERRY_HOSTKEY_OK);
    assert_int_equal(line, 1);
    assert_int_equal(ferry_known_hosts_check(path, "hashedport", 2200, keys[0], &st, &line),
                     FERRY_OK);
    assert_int_equal(st, FERRY_HOSTKEY_OK);
    assert_int_equal(line, 2);
    assert_int_equal(ferry_known_hosts_check(path, "other", 22, keys[0], &st, &line), FERRY_OK);
    assert_int_equal(st, FERRY_HOSTKEY_CHANGED);
    assert_int_equal(line, 3);
    assert_int_equal(ferry_known_hosts_check(path, "hashedport", 22, keys[0], &st, &line),
                     FERRY_OK);
    assert_int_equal(st, FERRY_HOSTKEY_NEW);
    free(text);
}

static void test_known_hosts_add(void **state)
{
    (void)state;
    char dir[128], path[256], cmd[1024];
    snprintf(dir, sizeof(dir), "%s/dotssh", tmpdir);
    snprintf(path, sizeof(path), "%s/known_hosts", dir);
    enum ferry_hostkey_status st;
    size_t line = 7;
    assert_int_equal(ferry_known_hosts_check(path, "addhost", 22, keys[0], &st, &line), FERRY_OK);
    assert_int_equal(st, FERRY_HOSTKEY_NEW);
    assert_int_equal(line, 0);
    assert_int_equal(ferry_known_hosts_add(path, "addhost", 22, keys[0], 0), FERRY_OK);
    assert_int_equal(ferry_known_hosts_add(path, "hashed.example", 2222, keys[2], 1), FERRY_OK);
    assert_int_equal(ferry_known_hosts_add(path, "rsahost", 0, keys[3], 0), FERRY_OK);
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(ferry_known_hosts_check(path, "addhost", 22, keys[0], &st, &line), FERRY_OK);
    assert_int_equal(st, FERRY_HOSTKEY_OK);
    assert_int_equal(line, 1);
    assert_int_equal(ferry_known_hosts_check(path, "addhost", 22, keys[1], &st, &line), FERRY_OK);
    assert_int_equal(st, FERRY_HOSTKEY_CHANGED);
    assert_int_equal(line, 1);
    assert_int_equal(ferry_known_hosts_check(path, "hashed.example", 2222, keys[2], &st, &line),
                     FERRY_OK);
    assert_int_equal(st, FERRY_HOSTKEY_OK);
    assert_int_equal(line, 2);
    /* ssh-keygen finds each entry, the hashed one too. */
    snprintf(cmd, sizeof(cmd), "ssh-keygen -F addhost -f %s | grep -q '%s'", path,
             strchr(lines[0], ' ') + 1);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "ssh-keygen -F '[hashed.example]:2222' -f %s | grep -q '%s'", path,
             strchr(lines[2], ' ') + 1);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "ssh-keygen -F rsahost -f %s | grep -q '^rsahost ssh-rsa '", path);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "ssh-keygen -F nothere -f %s >/dev/null", path);
    assert_int_not_equal(system(cmd), 0);
    /* Appending after a last line without a newline. */
    FILE *f = fopen(path, "a");
    fputs("# no newline", f);
    fclose(f);
    assert_int_equal(ferry_known_hosts_add(path, "after", 22, keys[1], 0), FERRY_OK);
    assert_int_equal(ferry_known_hosts_check(path, "after", 22, keys[1], &st, &line), FERRY_OK);
    assert_int_equal(st, FERRY_HOSTKEY_OK);
    assert_int_equal(line, 5);
    /* Names that would corrupt the file are refused. */
    assert_int_equal(ferry_known_hosts_add(path, "bad host", 22, keys[1], 0), FERRY_E_INVALID_ARG);
    assert_int_equal(ferry_known_hosts_add(path, "a,b", 22, keys[1], 0), FERRY_E_INVALID_ARG);
}

static void test_known_hosts_hostname(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(ferry_known_hosts_hostname("Example.COM", 22, out, sizeof(out)), FERRY_OK);
    assert_string_equal(out, "example.com");
    assert_int_equal(ferry_known_hosts_hostname("h", 2222, out, sizeof(out)), FERRY_OK);
    assert_string_equal(out, "[h]:2222");
    assert_int_equal(ferry_known_hosts_hostname("h", 0, out, sizeof(out)), FERRY_OK);
    assert_string_equal(out, "h");
    assert_int_equal(ferry_known_hosts_hostname("longer-than-buf", 2222, out, 8),
                     FERRY_E_TOO_LARGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authkeys_options),
        cmocka_unit_test(test_authkeys_from),
        cmocka_unit_test(test_authkeys_cert_authority),
        cmocka_unit_test(test_known_hosts_ca),
        cmocka_unit_test(test_authkeys_expiry_and_second_line),
        cmocka_unit_test(test_authkeys_load_ssh_keygen),
        cmocka_unit_test(test_known_hosts_plain),
        cmocka_unit_test(test_known_hosts_types),
        cmocka_unit_test(test_known_hosts_order_algs),
        cmocka_unit_test(test_known_hosts_hashed_by_ssh_keygen),
        cmocka_unit_test(test_known_hosts_add),
        cmocka_unit_test(test_known_hosts_hostname),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
