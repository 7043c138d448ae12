/* test_agent.c: our agent client against a real ssh-agent (started here,
 * killed by PID), and against a hostile fake agent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/key.h"
#include "helpers/shell.h"
#include "ssh/agent.h"
#include "util/err.h"

static char tmpdir[64];
static char sock[128];
static pid_t agent_pid = -1;

static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/ferry-test-agent-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        return -1;
    }
    snprintf(sock, sizeof(sock), "%s/agent.sock", tmpdir);
    agent_pid = fork();
    if (agent_pid < 0) {
        return -1;
    }
    if (agent_pid == 0) {
        FILE *devnull = freopen("/dev/null", "w", stdout);
        (void)devnull;
        execlp("ssh-agent", "ssh-agent", "-D", "-a", sock, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {
        struct stat st;
        if (stat(sock, &st) == 0) {
            return 0;
        }
        usleep(50000);
    }
    return -1;
}

static int teardown(void **state)
{
    (void)state;
    if (agent_pid > 0) {
        kill(agent_pid, SIGTERM);
        waitpid(agent_pid, NULL, 0);
    }
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static ferry_key *load_pub(const char *name)
{
    ferry_key *k = th_load_pub(tmpdir, name);
    assert_non_null(k);
    return k;
}

static const ferry_identity *find_id(const ferry_identity *ids, size_t n, const ferry_key *k)
{
    for (size_t i = 0; i < n; i++) {
        if (ferry_key_equal_public(ids[i].pub, k)) {
            return &ids[i];
        }
    }
    return NULL;
}

static void sign_through(const ferry_identity *id, const char *sigalg)
{
    const uint8_t data[] = "session-id and userauth request";
    ferry_buf *sig = ferry_buf_new(0);
    assert_int_equal(id->sign(id->ctx, id->pub, sigalg, data, sizeof(data), sig), FERRY_OK);
    assert_int_equal(ferry_key_verify(id->pub, sigalg, ferry_buf_data(sig), ferry_buf_len(sig),
                                      data, sizeof(data)),
                     FERRY_OK);
    /* The blob names the algorithm asked for. */
    assert_int_equal(ferry_buf_data(sig)[3], strlen(sigalg));
    assert_memory_equal(ferry_buf_data(sig) + 4, sigalg, strlen(sigalg));
    ferry_buf_free(sig);
}

static void test_real_agent(void **state)
{
    (void)state;
    sh("ssh-keygen -q -t ed25519 -N '' -C ed-comment -f %s/ed", tmpdir);
    sh("ssh-keygen -q -t rsa -b 2048 -N '' -C rsa-comment -f %s/rsa", tmpdir);
    /* One key written by us, to show ssh-add reads our files. */
    ferry_key *ours = NULL;
    char path[256], pubpath[256];
    snprintf(path, sizeof(path), "%s/ours", tmpdir);
    snprintf(pubpath, sizeof(pubpath), "%s/ours.pub", tmpdir);
    assert_int_equal(ferry_key_generate(FERRY_KEY_ECDSA_P384, 0, &ours), FERRY_OK);
    assert_int_equal(ferry_key_save_private_file(ours, "ours-comment", path, pubpath), FERRY_OK);
    sh("SSH_AUTH_SOCK=%s ssh-add -q %s/ed %s/rsa %s/ours 2>/dev/null", sock, tmpdir, tmpdir,
       tmpdir);

    ferry_agent *a = NULL;
    assert_int_equal(ferry_agent_open(sock, &a), FERRY_OK);
    const ferry_identity *ids = NULL;
    size_t n = 0;
    assert_int_equal(ferry_agent_identities(a, &ids, &n), FERRY_OK);
    assert_int_equal(n, 3);
    ferry_key *ed = load_pub("ed"), *rsa = load_pub("rsa");
    const ferry_identity *ied = find_id(ids, n, ed), *irsa = find_id(ids, n, rsa),
                         *iours = find_id(ids, n, ours);
    assert_non_null(ied);
    assert_non_null(irsa);
    assert_non_null(iours);
    assert_string_equal(ied->label, "ed-comment");
    assert_string_equal(irsa->label, "rsa-comment");
    assert_string_equal(iours->label, "ours-comment");
    assert_ptr_equal(ied->ctx, a);

    sign_through(ied, "ssh-ed25519");
    sign_through(irsa, "rsa-sha2-512");
    sign_through(irsa, "rsa-sha2-256");
    sign_through(iours, "ecdsa-sha2-nistp384");

    /* Wrong algorithm for the key: refused before asking. */
    ferry_buf *sig = ferry_buf_new(0);
    assert_int_equal(ferry_agent_sign(a, ed, "rsa-sha2-512", (const uint8_t *)"x", 1, sig),
                     FERRY_E_KEY_TYPE);
    /* A key the agent does not hold: SSH_AGENT_FAILURE. */
    ferry_key *stranger = NULL;
    assert_int_equal(ferry_key_generate(FERRY_KEY_ED25519, 0, &stranger), FERRY_OK);
    assert_int_equal(ferry_agent_sign(a, stranger, "ssh-ed25519", (const uint8_t *)"x", 1, sig),
                     FERRY_E_PERMISSION);
    assert_int_equal(ferry_buf_len(sig), 0);
    /* The connection stays usable after a refusal; the list is cached. */
    sign_through(ied, "ssh-ed25519");
    const ferry_identity *ids2 = NULL;
    assert_int_equal(ferry_agent_identities(a, &ids2, &n), FERRY_OK);
    assert_ptr_equal(ids2, ids);
    ferry_buf_free(sig);
    ferry_key_free(stranger);
    ferry_key_free(ed);
    ferry_key_free(rsa);
    ferry_key_free(ours);
    ferry_agent_free(a);
}

static void test_no_agent(void **state)
{
    (void)state;
    ferry_agent *a = NULL;
    char path[256];
    snprintf(path, sizeof(path), "%s/nope.sock", tmpdir);
    assert_int_equal(ferry_agent_open(path, &a), FERRY_E_NOT_FOUND);
    char *saved = getenv("SSH_AUTH_SOCK") ? strdup(getenv("SSH_AUTH_SOCK")) : NULL;
    unsetenv("SSH_AUTH_SOCK");
    assert_int_equal(ferry_agent_open(NULL, &a), FERRY_E_NOT_FOUND);
    setenv("SSH_AUTH_SOCK", sock, 1);
    assert_int_equal(ferry_agent_open(NULL, &a), FERRY_OK);
    ferry_agent_free(a);
    if (saved != NULL) {
        setenv("SSH_AUTH_SOCK", saved, 1);
    } else {
        unsetenv("SSH_AUTH_SOCK");
    }
    free(saved);
}

/* A fake agent: accepts one connection, reads a request, writes `reply`
 * (n bytes) and closes. Returns its PID. */
static pid_t fake_agent(const char *path, const uint8_t *reply, size_t n)
{
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(ls >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    unlink(path);
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(ls, 1), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int c = accept(ls, NULL, NULL);
        uint8_t buf[4096];
        if (c >= 0 && read(c, buf, sizeof(buf)) > 0 && write(c, reply, n) == (ssize_t)n) {
            usleep(100000);
        }
        _exit(0);
    }
    close(ls);
    return pid;
}

static int ids_from_fake(const uint8_t *reply, size_t n)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/fake.sock", tmpdir);
    pid_t pid = fake_agent(path, reply, n);
    ferry_agent *a = NULL;
    assert_int_equal(ferry_agent_open(path, &a), FERRY_OK);
    const ferry_identity *ids = NULL;
    size_t cnt = 0;
    int r = ferry_agent_identities(a, &ids, &cnt);
    if (r == FERRY_OK) {
        /* Nothing usable was offered in these replies. */
        assert_int_equal(cnt, 0);
    }
    ferry_agent_free(a);
    waitpid(pid, NULL, 0);
    return r;
}

static void test_hostile_agent(void **state)
{
    (void)state;
    const uint8_t huge[] = {0x00, 0x04, 0x00, 0x01, 12};
    assert_int_equal(ids_from_fake(huge, sizeof(huge)), FERRY_E_TOO_LARGE);
    const uint8_t many[] = {0, 0, 0, 5, 12, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(ids_from_fake(many, sizeof(many)), FERRY_E_FORMAT);
    const uint8_t cut[] = {0, 0, 0, 9, 12, 0, 0};
    assert_int_equal(ids_from_fake(cut, sizeof(cut)), FERRY_E_DISCONNECTED);
    const uint8_t failure[] = {0, 0, 0, 1, 5};
    assert_int_equal(ids_from_fake(failure, sizeof(failure)), FERRY_E_PERMISSION);
    const uint8_t wrongtype[] = {0, 0, 0, 1, 14};
    assert_int_equal(ids_from_fake(wrongtype, sizeof(wrongtype)), FERRY_E_PROTOCOL);
    /* One identity with an unsupported key type (ssh-dss): left out. */
    const uint8_t dss[] = {0, 0,   0,   27,  12,  0,   0,   0,   1, 0, 0, 0, 11,  0,   0,  0,
                           7, 's', 's', 'h', '-', 'd', 's', 's', 0, 0, 0, 3, 'c', 'm', 't'};
    assert_int_equal(ids_from_fake(dss, sizeof(dss)), FERRY_OK);
    const uint8_t trailing[] = {0, 0, 0, 6, 12, 0, 0, 0, 0, 7};
    assert_int_equal(ids_from_fake(trailing, sizeof(trailing)), FERRY_E_TRAILING_DATA);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_agent),
        cmocka_unit_test(test_no_agent),
        cmocka_unit_test(test_hostile_agent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
