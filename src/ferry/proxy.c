/* proxy.c: how ferry reaches the server, and -W.
 *
 * - TCP by default (conn.c's ferry__conn_tcp).
 * - ProxyCommand: the command (its %h %p %r %n %% expanded) run by the
 *   user's shell with `exec`, its stdin and stdout one end of a socket
 *   pair, SIGINT ignored (Ctrl-C interrupts a transfer, not the proxy).
 * - ProxyJump (-J [user@]host[:port][,...]): as OpenSSH, the last hop is
 *   reached by running this program again as a ProxyCommand:
 *   `ferry -W [host]:port [-J earlier,hops] [-F file] [-v] sftp://hop`
 *   (no shell, argv built here), which opens a direct-tcpip channel from
 *   the hop to the server and relays the socket pair over it.
 * - -W host:port: that relay (ferry_conn_forward), usable by any SSH
 *   client as its ProxyCommand, as ssh -W.
 * A reconnect (ferry_conn_redial) runs the proxy again. */
#include "conn_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/err.h"
#include "util/log.h"

static int is_set(const char *v)
{
    return v != NULL && v[0] != '\0' && strcasecmp(v, "none") != 0;
}

/* Runs argv (argv[0] a path) with stdin and stdout on one end of a
 * socket pair; returns our end (non-blocking) or -1. */
static int spawn(ferry_conn *c, char *const argv[])
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        fprintf(stderr, "ferry: socketpair: %s\n", strerror(errno));
        return -1;
    }
    pid_t pid = ferry__spawn(argv, sv[1], sv[1]);
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        return -1;
    }
    (void)fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    c->proxy = pid;
    c->ip[0] = '\0';
    return sv[0];
}

static int proxy_command(ferry_conn *c, const ferry_opts *o)
{
    const char *shell = getenv("SHELL");
    char port[16];
    snprintf(port, sizeof(port), "%d", o->port);
    const ferry_token t[] = {
        {'h', o->hostname}, {'p', port}, {'r', o->user}, {'n', c->hc.host}, {'\0', NULL}};
    char *cmd = ferry_opts_expand_tokens(o->proxy_command, t);
    char *line = cmd != NULL ? malloc(strlen(cmd) + 6) : NULL;
    int fd = -1;
    if (line != NULL) {
        sprintf(line, "exec %s", cmd);
        char *argv[] = {(char *)(shell != NULL && shell[0] == '/' ? shell : "/bin/sh"), "-c", line,
                        NULL};
        ferry_debug("ferry: proxy command: %s", cmd);
        fd = spawn(c, argv);
    }
    free(line);
    free(cmd);
    return fd;
}

/* ProxyJump: the last hop is the destination of `ferry -W`, the hops
 * before it its own -J. */
static int proxy_jump(ferry_conn *c, const ferry_opts *o)
{
    char self[PATH_MAX], target[300], uri[1100], verbose[8] = "-v";
    const char *jumps = o->proxy_jump;
    const char *last = strrchr(jumps, ',');
    const char *hop = last != NULL ? last + 1 : jumps;
    char *rest = last != NULL ? strndup(jumps, (size_t)(last - jumps)) : NULL;
    ferry_dest d;
    int fd = -1;
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (strncasecmp(hop, "ssh://", 6) == 0) {
        hop += 6;
    }
    snprintf(uri, sizeof(uri), "sftp://%s", hop);
    int bad = ferry_dest_parse(uri, &d) != 0 || d.path != NULL; /* checked, not kept */
    ferry_dest_free(&d); /* a failed parse left it empty: freeing is harmless */
    if (bad) {
        fprintf(stderr, "ferry: bad ProxyJump host \"%s\"\n", hop);
        free(rest);
        return -1;
    }
    if (n <= 0 || (last != NULL && rest == NULL)) {
        fprintf(stderr, "ferry: cannot run ProxyJump: %s\n", strerror(errno));
        free(rest);
        return -1;
    }
    self[n] = '\0';
    snprintf(target, sizeof(target), "[%s]:%d", o->hostname, o->port);
    for (int i = 1; i < o->verbose && i < (int)sizeof(verbose) - 2; i++) {
        verbose[i + 1] = 'v';
    }
    char *argv[12] = {self, "-W", target};
    int k = 3;
    if (rest != NULL) {
        argv[k++] = "-J";
        argv[k++] = rest;
    }
    if (o->config_file != NULL) {
        argv[k++] = "-F";
        argv[k++] = o->config_file;
    }
    if (o->verbose > 0) {
        argv[k++] = verbose;
    }
    argv[k++] = uri;
    argv[k] = NULL;
    ferry_debug("ferry: jumping through %s", hop);
    fd = spawn(c, argv);
    free(rest);
    return fd;
}

int ferry__conn_dial(ferry_conn *c, const ferry_opts *o)
{
    if (is_set(o->proxy_command)) {
        return proxy_command(c, o);
    }
    if (is_set(o->proxy_jump)) {
        return proxy_jump(c, o);
    }
    int fd = -1;
    for (int i = 0; fd < 0 && i < (o->connection_attempts > 1 ? o->connection_attempts : 1); i++) {
        if (i > 0) {
            sleep(1); /* ConnectionAttempts: a second apart, as ssh */
        }
        fd = ferry__conn_tcp(o->hostname, o->port, o, c->ip, sizeof(c->ip));
    }
    return fd;
}

void ferry__conn_proxy_end(ferry_conn *c)
{
    if (c->proxy > 0) {
        ferry__conn_reap(c->proxy);
        c->proxy = 0;
    }
}

/* ---- -W: stdin and stdout over a direct-tcpip channel ---- */

static void fwd_on_open(void *ctx, ferry_channel *ch, int ok)
{
    ferry_conn *c = ctx;
    c->ch = ch;
    c->ch_state = ok ? 1 : -1;
}

/* Straight to stdout; what it does not take now stays in the channel
 * (unacknowledged, so the window holds the peer back) until POLLOUT. */
static long fwd_on_data(void *ctx, ferry_channel *ch, const uint8_t *data, size_t len)
{
    ferry_conn *c = ctx;
    (void)ch;
    ssize_t n = write(STDOUT_FILENO, data, len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        n = 0;
    }
    if (n < 0) {
        return FERRY_E_CLOSED; /* our reader is gone: close the channel */
    }
    c->out_blocked = (size_t)n < len;
    return (long)n;
}

static void fwd_on_eof(void *ctx, ferry_channel *ch)
{
    (void)ctx;
    (void)ch;
    if (shutdown(STDOUT_FILENO, SHUT_WR) != 0) {
        close(STDOUT_FILENO); /* a pipe */
    }
}

static void fwd_on_close(void *ctx, ferry_channel *ch)
{
    ferry_conn *c = ctx;
    (void)ch;
    c->ch = NULL;
    c->ch_state = -1;
}

static const ferry_chan_consumer fwd_consumer = {
    .on_open = fwd_on_open,
    .on_data = fwd_on_data,
    .on_eof = fwd_on_eof,
    .on_close = fwd_on_close,
};

/* "host:port" or "[host]:port". 0 or -1. */
static int parse_target(const char *s, char *host, size_t hsz, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    const char *h = s;
    size_t n = colon != NULL ? (size_t)(colon - s) : 0;
    char *end;
    if (s[0] == '[' && n >= 2 && s[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (colon == NULL || n == 0 || n >= hsz) {
        return -1;
    }
    long p = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || p < 1 || p > 65535) {
        return -1;
    }
    memcpy(host, h, n);
    host[n] = '\0';
    *port = (uint16_t)p;
    return 0;
}

/* One round of the relay: stdin into the channel as it takes it, the
 * channel's data to stdout as it drains. */
static int relay(ferry_conn *c)
{
    static uint8_t buf[256 * 1024];
    for (;;) {
        int sig = 0;
        size_t room = c->ch != NULL ? ferry_channel_write_room(c->ch) : 0;
        struct pollfd x[2] = {{.fd = c->in_eof || room == 0 ? -1 : STDIN_FILENO, .events = POLLIN},
                              {.fd = c->out_blocked ? STDOUT_FILENO : -1, .events = POLLOUT}};
        int r = ferry__conn_poll(c, x, 2, &sig);
        if (r != FERRY_OK) {
            return r;
        }
        if (c->ch_state < 0) {
            return FERRY_OK; /* the channel closed: done */
        }
        if (x[1].revents != 0) {
            c->out_blocked = 0;
            ferry_channel_resume(c->ch);
        }
        if (x[0].revents != 0 && c->ch != NULL) {
            room = ferry_channel_write_room(c->ch);
            ssize_t n = read(STDIN_FILENO, buf, room < sizeof(buf) ? room : sizeof(buf));
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                return ferry_err_sys();
            }
            if (n == 0) {
                c->in_eof = 1;
                r = ferry_channel_send_eof(c->ch);
            } else if (n > 0) {
                r = ferry_channel_write(c->ch, buf, (size_t)n);
            }
            if (r != FERRY_OK) {
                return r;
            }
        }
    }
}

int ferry_conn_forward(const ferry_opts *o, const char *host, const char *target)
{
    char thost[256];
    uint16_t tport = 0;
    ferry_conn *c = NULL;
    if (parse_target(target, thost, sizeof(thost), &tport) != 0) {
        fprintf(stderr, "ferry: bad forwarding specification \"%s\"\n", target);
        return 255;
    }
    int r = ferry__conn_begin(&c, o, host);
    if (r != FERRY_OK) {
        return 255;
    }
    int in_fl = fcntl(STDIN_FILENO, F_GETFL), out_fl = fcntl(STDOUT_FILENO, F_GETFL);
    (void)fcntl(STDIN_FILENO, F_SETFL, in_fl | O_NONBLOCK);
    (void)fcntl(STDOUT_FILENO, F_SETFL, out_fl | O_NONBLOCK);
    r = ferry_ssh_open_direct_tcpip(c->ssh, thost, tport, &fwd_consumer, c, &c->ch);
    while (r == FERRY_OK && c->ch_state == 0) {
        r = ferry__conn_step(c);
    }
    if (r == FERRY_OK && c->ch_state < 0) {
        fprintf(stderr, "ferry: stdio forwarding to %s port %u through %s failed\n", thost,
                (unsigned)tport, o->hostname);
        r = FERRY_E_CLOSED;
    }
    if (r == FERRY_OK) {
        ferry__conn_report_auth(c, o);
        r = relay(c);
    }
    ferry_conn_close(c);
    if (in_fl >= 0) { /* a terminal shared with the shell stays as it was */
        (void)fcntl(STDIN_FILENO, F_SETFL, in_fl);
    }
    if (out_fl >= 0) {
        (void)fcntl(STDOUT_FILENO, F_SETFL, out_fl);
    }
    return r == FERRY_OK ? 0 : 255;
}
