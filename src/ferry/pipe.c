/* pipe.c: -D sftp_server_command: talk SFTP to a local server program on
 * its stdin/stdout, without SSH (as OpenSSH's sftp -D). Used by tests to
 * exercise the shell and the engine against OpenSSH's sftp-server.
 * -S program: the same over an ssh(1)-compatible program that carries
 * the SSH (as OpenSSH's sftp runs ssh). */
#include "conn_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

static int pipe_write(ferry_conn *c)
{
    size_t len;
    const uint8_t *p = ferry_sftpc_output(c->sftp, &len);
    if (len == 0) {
        return FERRY_OK;
    }
    ssize_t n = write(c->pipe_out, p, len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return FERRY_OK;
    }
    if (n < 0) {
        return FERRY_E_CLOSED;
    }
    ferry_sftpc_output_consume(c->sftp, (size_t)n);
    return FERRY_OK;
}

static int pipe_pump(void *ctx, ferry_sftpc *s)
{
    ferry_conn *c = ctx;
    uint8_t buf[65536];
    size_t len;
    ferry_shell_check_interrupt(s);
    (void)ferry_sftpc_output(s, &len);
    struct pollfd p[2] = {{.fd = c->pipe_in, .events = POLLIN},
                          {.fd = len ? c->pipe_out : -1, .events = POLLOUT}};
    if (poll(p, 2, -1) < 0) {
        return errno == EINTR ? FERRY_OK : ferry_err_sys();
    }
    if (p[1].revents & (POLLOUT | POLLERR | POLLHUP)) {
        int r = pipe_write(c);
        if (r != FERRY_OK) {
            return r;
        }
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = read(c->pipe_in, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            return FERRY_OK;
        }
        if (n <= 0) {
            fprintf(stderr, "Connection closed\n");
            return FERRY_E_CLOSED;
        }
        return ferry_sftpc_input(s, buf, (size_t)n);
    }
    return FERRY_OK;
}

pid_t ferry__spawn(char *const argv[], int in, int out)
{
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGINT, SIG_IGN); /* Ctrl-C interrupts transfers, not the child */
        if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0) {
            _exit(127);
        }
        execv(argv[0], argv);
        fprintf(stderr, "ferry: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (pid < 0) {
        fprintf(stderr, "ferry: fork: %s\n", strerror(errno));
    }
    return pid;
}

static pid_t spawn(const char *cmd, int *in, int *out)
{
    int to[2], from[2];
    if (pipe2(to, O_CLOEXEC) != 0) {
        return -1;
    }
    if (pipe2(from, O_CLOEXEC) != 0) {
        close(to[0]);
        close(to[1]);
        return -1;
    }
    char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
    pid_t pid = ferry__spawn(argv, to[0], from[1]);
    close(to[0]);
    close(from[1]);
    if (pid < 0) {
        close(to[1]);
        close(from[0]);
        return -1;
    }
    *in = from[0];
    *out = to[1];
    return pid;
}

int ferry_conn_open_pipe(ferry_conn **out, const char *cmd, ferry_sftpc **sftp,
                         const ferry_sftpc_config *scfg)
{
    ferry_conn *c = calloc(1, sizeof(*c));
    ferry_sftpc_io io = {.pump = pipe_pump};
    int r;
    if (c == NULL) {
        return FERRY_E_ALLOC;
    }
    c->fd = c->pipe_in = c->pipe_out = -1;
    io.ctx = c;
    signal(SIGPIPE, SIG_IGN);
    c->child = spawn(cmd, &c->pipe_in, &c->pipe_out);
    if (c->child < 0) {
        free(c);
        return ferry_err_sys();
    }
    if ((r = ferry_sftpc_new(&c->sftp, scfg, &io)) != FERRY_OK) {
        ferry_conn_close(c);
        return r;
    }
    *sftp = c->sftp;
    *out = c;
    return FERRY_OK;
}

/* Appends ' word' to the command line, single-quoted for sh -c. */
static int put_word(ferry_buf *b, const char *w)
{
    int r = ferry_buf_put(b, " '", 2);
    for (const char *p = w; *p != '\0' && r == FERRY_OK; p++) {
        r = *p == '\'' ? ferry_buf_put(b, "'\\''", 4) : ferry_buf_put(b, p, 1);
    }
    return r == FERRY_OK ? ferry_buf_put(b, "'", 1) : r;
}

int ferry_conn_open_program(ferry_conn **out, const ferry_args *a, ferry_sftpc **sftp,
                            const ferry_sftpc_config *scfg)
{
    /* what OpenSSH's sftp hands ssh before the user's options */
    static const char *const fixed[] = {"-oForwardX11 no", "-oPermitLocalCommand no",
                                        "-oClearAllForwardings yes", "-oForwardAgent no"};
    char port[16];
    ferry_buf *b = ferry_buf_new(0);
    int r = b != NULL ? put_word(b, a->ssh_program) : FERRY_E_ALLOC;
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) && r == FERRY_OK; i++) {
        r = put_word(b, fixed[i]);
    }
    for (int i = 0; i < a->verbose && r == FERRY_OK; i++) {
        r = put_word(b, "-v");
    }
    if (a->config_file != NULL && r == FERRY_OK && (r = put_word(b, "-F")) == FERRY_OK) {
        r = put_word(b, a->config_file);
    }
    for (size_t i = 0; i < a->n_cli_options && r == FERRY_OK; i++) {
        r = put_word(b, "-o");
        r = r == FERRY_OK ? put_word(b, a->cli_options[i]) : r;
    }
    for (size_t i = 0; i < a->n_identities && r == FERRY_OK; i++) {
        r = put_word(b, "-i");
        r = r == FERRY_OK ? put_word(b, a->identities[i]) : r;
    }
    int p = a->port > 0 ? a->port : a->dest.port;
    snprintf(port, sizeof(port), "%d", p);
    if (p > 0 && r == FERRY_OK && (r = put_word(b, "-p")) == FERRY_OK) {
        r = put_word(b, port);
    }
    if (a->compress && r == FERRY_OK) {
        r = put_word(b, "-C");
    }
    if (a->batchfile != NULL && r == FERRY_OK) {
        r = put_word(b, "-oBatchMode yes"); /* as sftp -b */
    }
    if (a->dest.user != NULL && r == FERRY_OK && (r = put_word(b, "-l")) == FERRY_OK) {
        r = put_word(b, a->dest.user);
    }
    /* a subsystem (-s), or a server path as the command to run */
    const char *sub = a->subsystem ? a->subsystem : "sftp";
    const char *tail[] = {"-s", "--", a->dest.host, sub};
    for (size_t i = strchr(sub, '/') != NULL; i < sizeof(tail) / sizeof(tail[0]) && r == FERRY_OK;
         i++) {
        r = put_word(b, tail[i]);
    }
    r = r == FERRY_OK ? ferry_buf_put(b, "", 1) : r; /* NUL */
    if (r == FERRY_OK) {
        ferry_debug("ferry: running %s", (const char *)ferry_buf_data(b));
        r = ferry_conn_open_pipe(out, (const char *)ferry_buf_data(b) + 1, sftp, scfg);
    }
    if (r == FERRY_OK) { /* to run again on a reconnect (NULL: none, the session is fine) */
        (*out)->pipe_cmd = strdup((const char *)ferry_buf_data(b) + 1);
    }
    ferry_buf_free(b);
    return r;
}

void ferry__conn_reap(pid_t pid)
{
    /* its input is closed: a child that does not leave by itself (the
     * end of its input) within 0.1 s is asked to, and made to at 0.5 s */
    for (int i = 0; i < 50 && waitpid(pid, NULL, WNOHANG) == 0; i++) {
        if (i == 10) {
            kill(pid, SIGTERM);
        }
        usleep(10000);
    }
    if (waitpid(pid, NULL, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        (void)waitpid(pid, NULL, 0);
    }
}

/* Closes the pipes and reaps the child (sftp-server, or the -S program,
 * which may be stuck on a dead network: see ferry__conn_reap). */
static void pipe_end(ferry_conn *c)
{
    if (c->pipe_out >= 0) {
        close(c->pipe_out);
    }
    if (c->pipe_in >= 0) {
        close(c->pipe_in);
    }
    c->pipe_in = c->pipe_out = -1;
    if (c->child > 0) {
        ferry__conn_reap(c->child);
    }
    c->child = 0;
}

int ferry__conn_pipe_redial(ferry_conn *c)
{
    pipe_end(c);
    ferry_sftpc_reset(c->sftp);
    c->child = spawn(c->pipe_cmd, &c->pipe_in, &c->pipe_out);
    int r = c->child > 0 ? ferry_sftpc_init(c->sftp) : FERRY_E_SYSTEM;
    if (r != FERRY_OK) {
        ferry_sftpc_kill(c->sftp, r);
    }
    return r;
}

void ferry__conn_pipe_close(ferry_conn *c)
{
    pipe_end(c);
    free(c->pipe_cmd);
    c->pipe_cmd = NULL;
}
