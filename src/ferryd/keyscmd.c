/* keyscmd.c: AuthorizedKeysCommand (see keyscmd.h). */
#include "keyscmd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

#define KC_MAX_WORDS 64
#define KC_WORD_MAX  4096

/* Splits `cmd` into words at blanks; "double quotes" group (no escapes).
 * Returns the count, or -1 (unbalanced quote, too many or too long). */
static int kc_split(const char *cmd, char words[][KC_WORD_MAX], int max)
{
    int n = 0;
    const char *p = cmd;
    for (;;) {
        p += strspn(p, " \t");
        if (*p == '\0') {
            return n;
        }
        if (n == max) {
            return -1;
        }
        size_t len = 0;
        int quoted = 0;
        for (; *p != '\0' && (quoted || (*p != ' ' && *p != '\t')); p++) {
            if (*p == '"') {
                quoted = !quoted;
                continue;
            }
            if (len + 1 >= KC_WORD_MAX) {
                return -1;
            }
            words[n][len++] = *p;
        }
        if (quoted) {
            return -1;
        }
        words[n++][len] = '\0';
    }
}

/* Values of the tokens; NULL ones are not allowed (checking). */
struct kc_tokens {
    const char *u, *h, *f, *t, *k;
};

/* `word` with its tokens expanded into out[outsz]; -1 for an unknown
 * token or when it does not fit. */
static int kc_expand(const char *word, const struct kc_tokens *tk, char *out, size_t outsz)
{
    size_t len = 0;
    for (const char *p = word; *p != '\0'; p++) {
        const char *v = NULL;
        char one[2] = {*p, '\0'};
        if (*p != '%') {
            v = one;
        } else {
            switch (*++p) {
            case '%':
                v = "%";
                break;
            case 'u':
                v = tk->u;
                break;
            case 'h':
                v = tk->h;
                break;
            case 'f':
                v = tk->f;
                break;
            case 't':
                v = tk->t;
                break;
            case 'k':
                v = tk->k;
                break;
            default:
                return -1;
            }
        }
        size_t vl = strlen(v);
        if (len + vl >= outsz) {
            return -1;
        }
        memcpy(out + len, v, vl);
        len += vl;
    }
    out[len] = '\0';
    return 0;
}

int ferryd_keyscmd_check(const char *cmd, char *why, size_t whysz)
{
    static char words[KC_MAX_WORDS][KC_WORD_MAX];
    static const struct kc_tokens tk = {"u", "h", "f", "t", "k"};
    char tmp[KC_WORD_MAX];
    int n = kc_split(cmd, words, KC_MAX_WORDS);
    if (n <= 0) {
        snprintf(why, whysz, "cannot split the command into words");
        return FERRY_E_FORMAT;
    }
    if (words[0][0] != '/' || strchr(words[0], '%') != NULL) {
        snprintf(why, whysz, "the command must start with an absolute path");
        return FERRY_E_FORMAT;
    }
    for (int i = 1; i < n; i++) {
        if (kc_expand(words[i], &tk, tmp, sizeof(tmp)) != 0) {
            snprintf(why, whysz, "unknown %%-token in \"%.64s\" (%%%% %%u %%h %%f %%t %%k)",
                     words[i]);
            return FERRY_E_FORMAT;
        }
    }
    return FERRY_OK;
}

static uint64_t kc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Reads the child's output until EOF, the limit or the deadline. 0 at
 * EOF, -1 otherwise. */
static int kc_read_all(int fd, ferry_buf *out, uint64_t deadline)
{
    uint8_t chunk[16384];
    for (;;) {
        uint64_t now = kc_now_ms();
        if (now >= deadline) {
            return -1;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int k = poll(&p, 1, (int)(deadline - now));
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return -1;
        }
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n == 0 ? 0 : -1;
        }
        if (ferry_buf_put(out, chunk, (size_t)n) != FERRY_OK) {
            return -1; /* over FERRYD_KEYSCMD_MAX */
        }
    }
}

/* Runs argv with stdout into `out`; the exit status, or -1 (killed, or
 * could not run). */
static int kc_run_argv(char *const argv[], ferry_buf *out)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        char *const envp[] = {"PATH=/usr/bin:/bin", NULL};
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        signal(SIGPIPE, SIG_DFL);
        if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(p[1], STDOUT_FILENO) < 0) {
            _exit(127);
        }
        execve(argv[0], argv, envp);
        _exit(127);
    }
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        return -1;
    }
    uint64_t deadline = kc_now_ms() + FERRYD_KEYSCMD_TIMEOUT_MS;
    int ok = kc_read_all(p[0], out, deadline) == 0, status = 0;
    close(p[0]);
    /* its output closed, it still has until the deadline to exit */
    while (ok) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            break;
        }
        if ((w < 0 && errno != EINTR) || kc_now_ms() >= deadline) {
            ok = 0;
            break;
        }
        struct timespec ts = {.tv_nsec = 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (!ok) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
    return ok && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int ferryd_keyscmd_run(const char *cmd, const char *user, const char *home, const ferry_key *key,
                       ferry_authkeys **out)
{
    static char words[KC_MAX_WORDS][KC_WORD_MAX];
    char fp[128] = "", *b64 = NULL;
    char *argv[KC_MAX_WORDS + 1] = {NULL};
    ferry_buf *blob = ferry_buf_new(64 * 1024), *o = ferry_buf_new(FERRYD_KEYSCMD_MAX);
    int n = kc_split(cmd, words, KC_MAX_WORDS), r = FERRY_E_ALLOC;
    *out = NULL;
    if (blob != NULL && o != NULL && ferry_key_to_blob(key, blob) == FERRY_OK &&
        ferry_base64_encode(ferry_buf_data(blob), ferry_buf_len(blob), &b64) == FERRY_OK &&
        ferry_key_fingerprint(key, fp, sizeof(fp)) == FERRY_OK) {
        struct kc_tokens tk = {user, home, fp, ferry_key_type_name(key), b64};
        r = n > 0 ? FERRY_OK : FERRY_E_FORMAT;
        for (int i = 0; i < n && r == FERRY_OK; i++) {
            char tmp[KC_WORD_MAX];
            r = kc_expand(words[i], &tk, tmp, sizeof(tmp)) == 0 && (argv[i] = strdup(tmp)) != NULL
                    ? FERRY_OK
                    : FERRY_E_FORMAT;
        }
    }
    if (r == FERRY_OK) {
        int status = kc_run_argv(argv, o);
        if (status != 0) {
            ferry_warn("AuthorizedKeysCommand %s for %s: %s", argv[0], user,
                       status < 0 ? "killed, or printed more than 1 MiB, or did not run"
                                  : "exited non-zero");
            r = FERRY_E_AUTH_DENIED;
        }
    }
    if (r == FERRY_OK) {
        size_t skipped = 0;
        r = ferry_authkeys_parse((const char *)ferry_buf_data(o), ferry_buf_len(o), out, &skipped);
        if (r == FERRY_OK && skipped > 0) {
            ferry_debug("AuthorizedKeysCommand for %s: %zu unusable line(s)", user, skipped);
        }
    }
    for (int i = 0; i < n && i < KC_MAX_WORDS; i++) {
        free(argv[i]);
    }
    free(b64);
    ferry_buf_free(blob);
    ferry_buf_free(o);
    return r;
}
