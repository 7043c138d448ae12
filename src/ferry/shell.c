/* shell.c: command-line splitting (quotes and escapes as OpenSSH's sftp),
 * batch mode (-b; '-' and '@' prefixes) and the interactive loop with
 * libedit (history, completion of commands and remote/local paths). */
#include "ferry.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef FERRY_HAVE_LIBEDIT
#include <editline/readline.h>
#endif

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

void ferry_shell_check_interrupt(ferry_sftpc *c)
{
    if (interrupted) {
        interrupted = 0;
        ferry_sftpc_interrupt(c);
    }
}

int ferry_shell_take_interrupt(void)
{
    int was = interrupted != 0;
    interrupted = 0;
    return was;
}

/* SIGINT is ignored at the prompt and interrupts a running transfer. */
static void sigint_mode(int running)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = running ? on_sigint : SIG_IGN;
    interrupted = 0;
    sigaction(SIGINT, &sa, NULL);
}

typedef struct word {
    char *s;
    size_t n, cap;
} word;

static int w_add(word *w, char ch)
{
    if (w->n + 2 > w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        char *s = realloc(w->s, cap);
        if (s == NULL) {
            return -1;
        }
        w->s = s;
        w->cap = cap;
    }
    w->s[w->n++] = ch;
    w->s[w->n] = '\0';
    return 0;
}

void ferry_shell_free_argv(char **argv, int *quoted)
{
    for (int i = 0; argv != NULL && argv[i] != NULL; i++) {
        free(argv[i]);
    }
    free(argv);
    free(quoted);
}

static int push_word(char ***argv, int **quoted, int *argc, word *w, int q)
{
    char **nv = realloc(*argv, (size_t)(*argc + 2) * sizeof(char *));
    int *nq;
    if (nv == NULL) {
        return -1;
    }
    *argv = nv;
    nq = realloc(*quoted, (size_t)(*argc + 2) * sizeof(int));
    if (nq == NULL) {
        return -1;
    }
    *quoted = nq;
    nv[*argc] = w->s ? w->s : strdup("");
    nq[*argc] = q;
    (*argc)++;
    nv[*argc] = NULL;
    memset(w, 0, sizeof(*w));
    return nv[*argc - 1] ? 0 : -1;
}

/* Inside quotes glob characters are kept literal by escaping them, so
 * every path argument can go through the globber. */
static int add_literal(word *w, char ch)
{
    if ((ch == '*' || ch == '?' || ch == '[' || ch == '\\') && w_add(w, '\\') != 0) {
        return -1;
    }
    return w_add(w, ch);
}

int ferry_shell_split(const char *line, char ***argv, int **quoted)
{
    word w = {0};
    int argc = 0, inword = 0, q = 0, rc = 0;
    char quote = 0;
    *argv = NULL;
    *quoted = NULL;
    for (const char *p = line; rc == 0; p++) {
        char ch = *p;
        if (quote != 0 && ch == '\0') {
            fprintf(stderr, "Unterminated quote\n");
            rc = -1;
        } else if (quote != 0 && ch == quote) {
            quote = 0;
        } else if (quote == '"' && ch == '\\' && (p[1] == '"' || p[1] == '\\')) {
            rc = add_literal(&w, *++p);
        } else if (quote != 0) {
            rc = add_literal(&w, ch);
        } else if (ch == '\'' || ch == '"') {
            quote = ch;
            inword = q = 1;
        } else if (ch == '\\' && p[1] != '\0') {
            /* Outside quotes an escaped glob character stays escaped. */
            p++;
            rc = add_literal(&w, *p);
            inword = 1;
        } else if (ch == '\0' || isspace((unsigned char)ch)) {
            if (inword) {
                rc = push_word(argv, quoted, &argc, &w, q);
            }
            inword = q = 0;
            if (ch == '\0') {
                break;
            }
        } else {
            rc = w_add(&w, ch);
            inword = 1;
        }
    }
    free(w.s);
    if (rc != 0) {
        ferry_shell_free_argv(*argv, *quoted);
        *argv = NULL;
        *quoted = NULL;
        return -1;
    }
    if (*argv == NULL) {
        *argv = calloc(1, sizeof(char *));
        *quoted = calloc(1, sizeof(int));
    }
    return argc;
}

const char *ferry_shell_prefixes(const char *line, int *ignore_err, int *no_echo)
{
    const char *p = line + strspn(line, " \t");
    *ignore_err = *no_echo = 0;
    for (;; p++) {
        if (*p == '-') {
            *ignore_err = 1;
        } else if (*p == '@') {
            *no_echo = 1;
        } else {
            break;
        }
    }
    return p + strspn(p, " \t");
}

int ferry_shell_system(ferry_client *cl, const char *cmd)
{
    struct sigaction ign, oint, oquit;
    memset(&ign, 0, sizeof(ign));
    sigemptyset(&ign.sa_mask);
    ign.sa_handler = SIG_IGN;
    fflush(stdout);
    sigaction(SIGINT, &ign, &oint);
    sigaction(SIGQUIT, &ign, &oquit);
    int status = -1;
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGINT, SIG_DFL); /* the command's, as under system(3) */
        signal(SIGQUIT, SIG_DFL);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    if (pid > 0) {
        /* its end makes the pidfd readable: meanwhile the connection is
         * served (without a pidfd, a plain wait) */
        int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
        while (pfd >= 0 && ferry_conn_wait_input(cl->conn, pfd) != 0) {
        }
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (pfd >= 0) {
            close(pfd);
        }
    }
    sigaction(SIGINT, &oint, NULL);
    sigaction(SIGQUIT, &oquit, NULL);
    return status;
}

static int run_bang(ferry_client *cl, const char *cmd)
{
    const char *shell = getenv("SHELL");
    int st = ferry_shell_system(cl, *cmd != '\0' ? cmd : shell && *shell ? shell : "/bin/sh");
    if (st != 0) {
        fprintf(stderr, "Shell exited with status %d\n", st == -1 ? -1 : WEXITSTATUS(st));
        return -1;
    }
    return 0;
}

int ferry_shell_run_line(ferry_client *cl, const char *line)
{
    char **argv = NULL;
    int *quoted = NULL;
    int argc, rc;
    const char *p = line + strspn(line, " \t");

    if (*p == '!') {
        return run_bang(cl, p + 1);
    }
    argc = ferry_shell_split(p, &argv, &quoted);
    if (argc < 0) {
        return -1;
    }
    rc = argc == 0 ? 0 : ferry_cmd_dispatch(cl, argc, argv, quoted);
    ferry_shell_free_argv(argv, quoted);
    return rc;
}

int ferry_shell_batch(ferry_client *cl, FILE *fp)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int status = 0;
    while ((n = getline(&line, &cap, fp)) >= 0) {
        int ignore, noecho, rc;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
            line[--n] = '\0';
        }
        const char *cmd = ferry_shell_prefixes(line, &ignore, &noecho);
        if (*cmd == '\0' || *cmd == '#') {
            continue;
        }
        if (!noecho) {
            /* echoed as written, '-' prefix included (as OpenSSH) */
            fprintf(cl->out, "sftp> %s\n", line + strspn(line, " \t"));
            fflush(cl->out);
        }
        rc = ferry_shell_run_line(cl, cmd);
        if (rc == 1) {
            break;
        }
        if (rc != 0 && !ignore) {
            status = 1;
            break;
        }
        if (ferry_resume_over(cl)) {
            status = 1;
            break;
        }
    }
    free(line);
    return status;
}

/* Commands from a pipe without -b: echoed like a batch, but a failing
 * command does not end the session (as OpenSSH's sftp). */
static int piped_loop(ferry_client *cl)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
            line[--n] = '\0';
        }
        fprintf(cl->out, "sftp> %s\n", line);
        fflush(cl->out);
        if (ferry_shell_run_line(cl, line) == 1 || ferry_resume_over(cl)) {
            break;
        }
    }
    free(line);
    return ferry_resume_over(cl) ? 1 : 0;
}

#ifdef FERRY_HAVE_LIBEDIT
/* The one client the completion hooks of libedit's readline see: the
 * program has exactly one session. */
static ferry_client *complete_cl;
static char **complete_v;
static int complete_n, complete_i;

static char *cmd_generator(const char *text, int state)
{
    static int idx;
    const char *const *names = ferry_cmd_names();
    if (state == 0) {
        idx = 0;
    }
    while (names[idx] != NULL) {
        const char *n = names[idx++];
        if (strncmp(n, text, strlen(text)) == 0) {
            return strdup(n);
        }
    }
    return NULL;
}

/* Completes remote names: lists the directory part of `text`. */
static char *remote_generator(const char *text, int state)
{
    if (state == 0) {
        char pat[4096];
        ferry_glob_free(complete_v, complete_n);
        complete_v = NULL;
        complete_n = complete_i = 0;
        snprintf(pat, sizeof(pat), "%s*", text);
        int n = ferry_glob_remote(complete_cl, pat, &complete_v);
        complete_n = n > 0 ? n : 0;
        for (int i = 0; i < complete_n; i++) {
            ferry_sftp_attrs a;
            char *abs = ferry_path_abs(complete_cl, complete_v[i]);
            if (abs != NULL && ferry_sftpc_stat(complete_cl->sftp, abs, &a) == 0 &&
                (a.perm & 0170000) == 0040000) {
                size_t l = strlen(complete_v[i]);
                char *s = realloc(complete_v[i], l + 2);
                if (s != NULL) {
                    s[l] = '/';
                    s[l + 1] = '\0';
                    complete_v[i] = s;
                }
            }
            free(abs);
        }
    }
    if (complete_i < complete_n) {
        return strdup(complete_v[complete_i++]);
    }
    return NULL;
}

static int is_local_arg(const char *cmd, int argno)
{
    static const char *const local_cmds[] = {"lcd", "lls", "lmkdir", "lchdir", NULL};
    for (int i = 0; local_cmds[i]; i++) {
        if (strcmp(cmd, local_cmds[i]) == 0) {
            return 1;
        }
    }
    /* put/reput take a local source first; get/reget a local target second. */
    if ((strcmp(cmd, "put") == 0 || strcmp(cmd, "reput") == 0) && argno == 1) {
        return 1;
    }
    return (strcmp(cmd, "get") == 0 || strcmp(cmd, "reget") == 0) && argno == 2;
}

static char **complete(const char *text, int start, int end)
{
    char cmd[64];
    int argno = 0;
    (void)end;
    rl_attempted_completion_over = 1;
    const char *p = rl_line_buffer + strspn(rl_line_buffer, " \t");
    if (p - rl_line_buffer >= start) {
        return rl_completion_matches(text, cmd_generator);
    }
    size_t cl = strcspn(p, " \t");
    snprintf(cmd, sizeof(cmd), "%.*s", (int)(cl < 63 ? cl : 63), p);
    for (int i = (int)(p - rl_line_buffer); i < start; i++) {
        if ((rl_line_buffer[i] == ' ' || rl_line_buffer[i] == '\t') &&
            rl_line_buffer[i + 1] != ' ' && rl_line_buffer[i + 1] != '\t') {
            if (i + 1 <= start && rl_line_buffer[i + 1] != '-') {
                argno++;
            }
        }
    }
    if (is_local_arg(cmd, argno)) {
        return rl_completion_matches(text, rl_filename_completion_function);
    }
    return rl_completion_matches(text, remote_generator);
}

static volatile sig_atomic_t prompt_sigint;

static void on_prompt_sigint(int sig)
{
    (void)sig;
    prompt_sigint = 1;
}

/* libedit reads the terminal through this: while no key is pressed the
 * SSH connection is served (keepalives, rekeying, the server's requests).
 * Ctrl-C gives EOF with prompt_sigint set: the line is dropped and a new
 * prompt shown, as OpenSSH's sftp does. */
static int prompt_getc(FILE *f)
{
    int fd = fileno(f);
    unsigned char ch;
    for (;;) {
        if (ferry_conn_wait_input(complete_cl->conn, fd) == 0) {
            ssize_t n = read(fd, &ch, 1);
            if (n == 1) {
                return ch;
            }
            if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                return EOF;
            }
        }
        if (prompt_sigint) {
            return EOF;
        }
    }
}

int ferry_shell_interactive(ferry_client *cl)
{
    char *line;
    if (!isatty(STDIN_FILENO)) {
        return piped_loop(cl);
    }
    complete_cl = cl;
    rl_getc_function = prompt_getc;
    rl_readline_name = "ferry";
    rl_attempted_completion_function = complete;
    using_history();
    for (;;) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sigemptyset(&sa.sa_mask);
        sa.sa_handler = on_prompt_sigint; /* libedit passes it on to us */
        sigaction(SIGINT, &sa, NULL);
        prompt_sigint = 0;
        line = readline("sftp> ");
        if (line == NULL && prompt_sigint) {
            fputs("\n", stdout);
            continue;
        }
        if (line == NULL) {
            break;
        }
        const char *cmd = line + strspn(line, " \t");
        if (*cmd != '\0') {
            add_history(line);
        }
        sigint_mode(1);
        int rc = ferry_shell_run_line(cl, cmd);
        sigint_mode(0);
        free(line);
        if (rc == 1 || ferry_resume_over(cl)) {
            break;
        }
    }
    if (line == NULL) {
        fputs("\n", stdout);
    }
    ferry_glob_free(complete_v, complete_n);
    complete_v = NULL;
    complete_n = 0;
    return ferry_resume_over(cl) ? 1 : 0;
}
#else
int ferry_shell_interactive(ferry_client *cl)
{
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    if (!isatty(STDIN_FILENO)) {
        return piped_loop(cl);
    }
    for (;;) {
        fputs("sftp> ", stdout);
        fflush(stdout);
        if (getline(&line, &cap, stdin) < 0) {
            fputs("\n", stdout);
            break;
        }
        line[strcspn(line, "\n")] = '\0';
        sigint_mode(1);
        rc = ferry_shell_run_line(cl, line);
        sigint_mode(0);
        if (rc == 1 || ferry_resume_over(cl)) {
            break;
        }
    }
    free(line);
    return ferry_resume_over(cl) ? 1 : 0;
}
#endif
