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

/* `word` with its tokens (letters and values in `tk`, ended by key 0)
 * expanded into out[outsz]; -1 for a token not in `tk` or when it does
 * not fit. */
static int kc_expand(const char *word, const ferryd_cmd_token *tk, char *out, size_t outsz)
{
    size_t len = 0;
    for (const char *p = word; *p != '\0'; p++) {
        const char *v = NULL;
        char one[2] = {*p, '\0'};
        if (*p != '%') {
            v = one;
        } else if (*++p == '%') {
            v = "%";
        } else {
            for (const ferryd_cmd_token *t = tk; t->key != 0 && v == NULL; t++) {
                v = t->key == *p ? t->value : NULL;
            }
            if (v == NULL) {
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

int ferryd_cmd_check(const char *cmd, const char *tokens, char *why, size_t whysz)
{
    static char words[KC_MAX_WORDS][KC_WORD_MAX];
    ferryd_cmd_token tk[24];
    size_t nt = 0;
    for (const char *t = tokens; *t != '\0' && nt + 1 < sizeof(tk) / sizeof(tk[0]); t++) {
        tk[nt++] = (ferryd_cmd_token){*t, "x"};
    }
    tk[nt].key = 0;
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
        if (kc_expand(words[i], tk, tmp, sizeof(tmp)) != 0) {
            snprintf(why, whysz, "unknown %%-token in \"%.64s\" (known: %%%% and %s)", words[i],
                     tokens);
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

/* Runs `cmd` with `tk` for `user`; its output in *out (caller frees). */
static int cmd_output(const char *what, const char *cmd, const char *user,
                      const ferryd_cmd_token *tk, ferry_buf **out)
{
    static char words[KC_MAX_WORDS][KC_WORD_MAX];
    char *argv[KC_MAX_WORDS + 1] = {NULL};
    ferry_buf *o = ferry_buf_new(FERRYD_KEYSCMD_MAX);
    int n = kc_split(cmd, words, KC_MAX_WORDS), r = o != NULL ? FERRY_OK : FERRY_E_ALLOC;
    if (r == FERRY_OK && n <= 0) {
        r = FERRY_E_FORMAT;
    }
    for (int i = 0; i < n && r == FERRY_OK; i++) {
        char tmp[KC_WORD_MAX];
        r = kc_expand(words[i], tk, tmp, sizeof(tmp)) == 0 && (argv[i] = strdup(tmp)) != NULL
                ? FERRY_OK
                : FERRY_E_FORMAT;
    }
    if (r == FERRY_OK) {
        int status = kc_run_argv(argv, o);
        if (status != 0) {
            ferry_warn("%s %s for %s: %s", what, argv[0], user,
                       status < 0 ? "killed, or printed more than 1 MiB, or did not run"
                                  : "exited non-zero");
            r = FERRY_E_AUTH_DENIED;
        }
    }
    for (int i = 0; i < n && i < KC_MAX_WORDS; i++) {
        free(argv[i]);
    }
    if (r != FERRY_OK) {
        ferry_buf_free(o);
        return r;
    }
    *out = o;
    return FERRY_OK;
}

/* A key's (or certificate's) blob as base64, new heap string. */
static char *blob64(const ferry_key *key, const ferry_cert *cert)
{
    ferry_buf *b = ferry_buf_new(64 * 1024);
    char *s = NULL;
    int r = b == NULL      ? FERRY_E_ALLOC
            : cert != NULL ? ferry_buf_put(b, cert->blob, cert->len)
                           : ferry_key_to_blob(key, b);
    if (r == FERRY_OK) {
        (void)ferry_base64_encode(ferry_buf_data(b), ferry_buf_len(b), &s);
    }
    ferry_buf_free(b);
    return s;
}

int ferryd_keyscmd_run(const char *cmd, const char *user, const char *home, const ferry_key *key,
                       ferry_authkeys **out)
{
    char fp[128] = "", *b64 = blob64(key, NULL);
    ferry_buf *o = NULL;
    int r = b64 != NULL && ferry_key_fingerprint(key, fp, sizeof(fp)) == FERRY_OK ? FERRY_OK
                                                                                  : FERRY_E_ALLOC;
    *out = NULL;
    if (r == FERRY_OK) {
        const ferryd_cmd_token tk[] = {{'u', user}, {'h', home},
                                       {'f', fp},   {'t', ferry_key_type_name(key)},
                                       {'k', b64},  {0, NULL}};
        r = cmd_output("AuthorizedKeysCommand", cmd, user, tk, &o);
    }
    if (r == FERRY_OK) {
        size_t skipped = 0, len = ferry_buf_len(o);
        r = ferry_authkeys_parse(len ? (const char *)ferry_buf_data(o) : "", len, out, &skipped);
        if (r == FERRY_OK && skipped > 0) {
            ferry_debug("AuthorizedKeysCommand for %s: %zu unusable line(s)", user, skipped);
        }
    }
    free(b64);
    ferry_buf_free(o);
    return r;
}

int ferryd_principals_parse(const char *text, size_t len, const char *who, char **out)
{
    size_t cap = len + 1, n = 0;
    char *list = malloc(cap);
    if (list == NULL) {
        return FERRY_E_ALLOC;
    }
    list[0] = '\0';
    for (size_t off = 0; off < len;) {
        const char *line = text + off;
        const char *nl = memchr(line, '\n', len - off);
        size_t ll = nl != NULL ? (size_t)(nl - line) : len - off;
        off += ll + (nl != NULL);
        const char *p = line, *end = line + ll;
        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }
        const char *w = p;
        while (p < end && *p != ' ' && *p != '\t' && *p != '\r') {
            p++;
        }
        size_t wl = (size_t)(p - w);
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) {
            p++;
        }
        if (wl == 0 || *w == '#') {
            continue;
        }
        /* more than one word (sshd's key options) or a comma: skipped, so
         * no option is silently dropped */
        if (p < end || memchr(w, ',', wl) != NULL || memchr(w, '\0', wl) != NULL) {
            ferry_warn("%s: skipping \"%.*s\"", who, (int)(wl > 64 ? 64 : wl), w);
            continue;
        }
        if (n > 0) {
            list[n++] = ',';
        }
        memcpy(list + n, w, wl);
        n += wl;
        list[n] = '\0';
    }
    *out = list;
    return FERRY_OK;
}

int ferryd_principalscmd_run(const char *cmd, const char *user, const char *home,
                             const ferry_cert *cert, char **out)
{
    char fp[128] = "", cafp[128] = "", serial[24], who[96];
    char *k64 = blob64(NULL, cert), *ca64 = blob64(cert->ca, NULL);
    ferry_buf *o = NULL;
    int r = k64 != NULL && ca64 != NULL &&
                    ferry_key_fingerprint(cert->key, fp, sizeof(fp)) == FERRY_OK &&
                    ferry_key_fingerprint(cert->ca, cafp, sizeof(cafp)) == FERRY_OK
                ? FERRY_OK
                : FERRY_E_ALLOC;
    *out = NULL;
    snprintf(serial, sizeof(serial), "%llu", (unsigned long long)cert->serial);
    if (r == FERRY_OK) {
        const ferryd_cmd_token tk[] = {
            {'u', user},   {'h', home}, {'i', cert->key_id},
            {'s', serial}, {'f', fp},   {'t', cert->type_name},
            {'k', k64},    {'F', cafp}, {'T', ferry_key_type_name(cert->ca)},
            {'K', ca64},   {0, NULL}};
        r = cmd_output("AuthorizedPrincipalsCommand", cmd, user, tk, &o);
    }
    if (r == FERRY_OK) {
        snprintf(who, sizeof(who), "AuthorizedPrincipalsCommand for %s", user);
        r = ferryd_principals_parse((const char *)ferry_buf_data(o), ferry_buf_len(o), who, out);
    }
    free(k64);
    free(ca64);
    ferry_buf_free(o);
    return r;
}
