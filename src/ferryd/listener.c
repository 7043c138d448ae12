/* listener.c: the listening process. Binds every ListenAddress, polls the
 * listening sockets and the children's report pipes, forks one child per
 * admitted connection, reaps children (SIGCHLD), and shuts down on
 * SIGTERM/SIGINT: stop accepting, give children a grace period, then
 * terminate them. Admission control is throttle.c. */
#include "ferryd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "throttle.h"
#include "util/err.h"
#include "util/log.h"

#define LISTEN_MAX_FDS    32
#define SHUTDOWN_GRACE_MS 5000
#define SHUTDOWN_KILL_MS  2000
#define ACCEPT_PAUSE_MS   100

struct child {
    pid_t pid;
    int pipe_fd; /* -1 once EOF was read */
    char addr[64];
    int authed;
    unsigned failures;
    int grace; /* closed for LoginGraceTime */
};

struct listener {
    ferryd_server *srv;
    uint64_t accept_pause_until; /* ms: out of descriptors, retry later */
    char first_host[INET6_ADDRSTRLEN];
    unsigned first_port;
    int lfd[LISTEN_MAX_FDS];
    size_t n_lfd;
    struct child *kids;
    size_t n_kids, cap_kids;
    ferryd_throttle *thr;
    sigset_t run_mask; /* mask while ppoll waits (signals deliverable) */
};

static volatile sig_atomic_t got_term, got_chld;

static void on_signal(int sig)
{
    if (sig == SIGCHLD) {
        got_chld = 1;
    } else {
        got_term = 1;
    }
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- binding ---- */

static int bind_one(struct listener *l, const struct addrinfo *ai, char *shown, size_t shownsz)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
        return ferry_err_sys();
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ai->ai_family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
        int r = ferry_err_sys();
        close(fd);
        return r;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[INET6_ADDRSTRLEN], port[8];
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        close(fd);
        return FERRY_E_SYSTEM;
    }
    snprintf(shown, shownsz, ai->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
    if (l->n_lfd == 0) {
        snprintf(l->first_host, sizeof(l->first_host), "%s", host);
        l->first_port = (unsigned)atoi(port);
    }
    l->lfd[l->n_lfd++] = fd;
    return FERRY_OK;
}

static int bind_spec(struct listener *l, const char *spec, char *line, size_t linesz)
{
    char host[256], portstr[8];
    unsigned port;
    if (ferryd_config_split_addr(spec, l->srv->cfg.port, host, sizeof(host), &port) != FERRY_OK) {
        ferry_error("bad listen address \"%s\"", spec);
        return FERRY_E_FORMAT;
    }
    snprintf(portstr, sizeof(portstr), "%u", port);
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gr = getaddrinfo(host, portstr, &hints, &res);
    if (gr != 0) {
        ferry_error("listen address %s: %s", spec, gai_strerror(gr));
        return FERRY_E_NOT_FOUND;
    }
    int r = FERRY_OK;
    for (struct addrinfo *ai = res; ai != NULL && r == FERRY_OK; ai = ai->ai_next) {
        char shown[INET6_ADDRSTRLEN + 16];
        if (l->n_lfd >= LISTEN_MAX_FDS) {
            r = FERRY_E_LIMIT;
            break;
        }
        r = bind_one(l, ai, shown, sizeof(shown));
        if (r != FERRY_OK) {
            ferry_error("cannot listen on %s: %s", spec, ferry_err_detail());
            break;
        }
        size_t used = strlen(line);
        snprintf(line + used, linesz - used, "%s%s", used ? " " : "", shown);
    }
    freeaddrinfo(res);
    return r;
}

static int bind_all(struct listener *l, char *line, size_t linesz)
{
    static const char *const defaults[] = {"0.0.0.0", "::"};
    const ferryd_config *cfg = &l->srv->cfg;
    line[0] = '\0';
    if (cfg->n_listen == 0) {
        for (size_t i = 0; i < 2; i++) {
            int r = bind_spec(l, defaults[i], line, linesz);
            if (r != FERRY_OK && i == 0) {
                return r;
            }
        }
        return FERRY_OK;
    }
    for (size_t i = 0; i < cfg->n_listen; i++) {
        int r = bind_spec(l, cfg->listen[i], line, linesz);
        if (r != FERRY_OK) {
            return r;
        }
    }
    return FERRY_OK;
}

/* ---- children ---- */

static struct child *kid_by_pid(struct listener *l, pid_t pid)
{
    for (size_t i = 0; i < l->n_kids; i++) {
        if (l->kids[i].pid == pid) {
            return &l->kids[i];
        }
    }
    return NULL;
}

/* Reads what a child reported; closes the pipe at EOF. */
static void kid_read_reports(struct listener *l, struct child *k)
{
    char buf[64];
    while (k->pipe_fd >= 0) {
        ssize_t n = read(k->pipe_fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                close(k->pipe_fd);
                k->pipe_fd = -1;
            }
            return;
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == FERRYD_REPORT_AUTH_OK && !k->authed) {
                k->authed = 1;
                ferryd_throttle_authenticated(l->thr, k->addr);
            } else if (buf[i] == FERRYD_REPORT_AUTH_FAIL) {
                k->failures++;
            } else if (buf[i] == FERRYD_REPORT_GRACE) {
                k->grace = 1;
            }
        }
    }
}

static void reap(struct listener *l)
{
    got_chld = 0;
    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid <= 0) {
            return;
        }
        struct child *k = kid_by_pid(l, pid);
        if (k == NULL) {
            continue;
        }
        kid_read_reports(l, k);
        if (k->pipe_fd >= 0) {
            close(k->pipe_fd);
        }
        ferryd_throttle_ended(l->thr, k->addr, k->authed, k->failures, k->grace, mono_ms());
        if (WIFSIGNALED(st) && WTERMSIG(st) != SIGTERM) {
            ferry_warn("child %ld for %s died of signal %d", (long)pid, k->addr, WTERMSIG(st));
        }
        *k = l->kids[--l->n_kids];
    }
}

static int kid_add(struct listener *l, pid_t pid, int pipe_fd, const char *addr)
{
    if (l->n_kids == l->cap_kids) {
        size_t nc = l->cap_kids ? l->cap_kids * 2 : 16;
        struct child *nk = realloc(l->kids, nc * sizeof(*nk));
        if (nk == NULL) {
            return FERRY_E_ALLOC;
        }
        l->kids = nk;
        l->cap_kids = nc;
    }
    struct child *k = &l->kids[l->n_kids++];
    memset(k, 0, sizeof(*k));
    k->pid = pid;
    k->pipe_fd = pipe_fd;
    snprintf(k->addr, sizeof(k->addr), "%s", addr);
    return FERRY_OK;
}

/* In the child: drop the listener's descriptors and signal set-up. */
static void child_setup(struct listener *l, int report_rd)
{
    for (size_t i = 0; i < l->n_lfd; i++) {
        close(l->lfd[i]);
    }
    for (size_t i = 0; i < l->n_kids; i++) {
        if (l->kids[i].pipe_fd >= 0) {
            close(l->kids[i].pipe_fd);
        }
    }
    close(report_rd);
    ferryd_conn_signals();
    /* Ctrl-C reaches the whole process group: sessions ignore it and get
     * the listener's grace period instead. */
    signal(SIGINT, SIG_IGN);
    signal(SIGCHLD, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static void spawn(struct listener *l, int fd, const char *addr, unsigned port)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        ferry_error("pipe: %s", strerror(errno));
        ferryd_throttle_ended(l->thr, addr, 0, 0, 0, mono_ms());
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        child_setup(l, p[0]);
        _exit(ferryd_conn_serve(l->srv, fd, addr, port, p[1]));
    }
    close(p[1]);
    if (pid < 0 || kid_add(l, pid, p[0], addr) != FERRY_OK) {
        ferry_error("cannot serve %s: %s", addr, pid < 0 ? strerror(errno) : "out of memory");
        close(p[0]);
        ferryd_throttle_ended(l->thr, addr, 0, 0, 0, mono_ms());
        return;
    }
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    ferry_debug("connection from %s:%u, child %ld", addr, port, (long)pid);
}

static void accept_one(struct listener *l, int lfd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* the pending connection stays readable: pause instead of spinning */
            ferry_warn("accept: %s; pausing for %d ms", strerror(errno), ACCEPT_PAUSE_MS);
            l->accept_pause_until = mono_ms() + ACCEPT_PAUSE_MS;
        }
        return;
    }
    char addr[INET6_ADDRSTRLEN] = "?", port[8] = "0";
    getnameinfo((struct sockaddr *)&ss, sl, addr, sizeof(addr), port, sizeof(port),
                NI_NUMERICHOST | NI_NUMERICSERV);
    uint64_t wait = 0;
    enum ferryd_verdict v =
        ferryd_throttle_admit(l->thr, addr, mono_ms(), (unsigned)(random() % 100), &wait);
    if (v != FERRYD_ADMIT) {
        ferry_info("refused connection from %s:%s: %s%s", addr, port, ferryd_verdict_name(v),
                   v == FERRYD_REFUSE_PENALTY ? " (penalty active)" : "");
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    spawn(l, fd, addr, (unsigned)atoi(port));
    close(fd);
}

/* ---- main loop ---- */

static void poll_once(struct listener *l, int accepting, int timeout_ms)
{
    struct pollfd pfd[LISTEN_MAX_FDS + 1024];
    size_t kid_idx[1024];
    size_t n = 0, nk = 0;
    if (accepting && mono_ms() < l->accept_pause_until) {
        accepting = 0;
        timeout_ms = ACCEPT_PAUSE_MS;
    }
    for (size_t i = 0; accepting && i < l->n_lfd; i++) {
        pfd[n++] = (struct pollfd){.fd = l->lfd[i], .events = POLLIN};
    }
    size_t nl = n;
    for (size_t i = 0; i < l->n_kids && nk < 1024; i++) {
        if (l->kids[i].pipe_fd >= 0) {
            kid_idx[nk++] = i;
            pfd[n++] = (struct pollfd){.fd = l->kids[i].pipe_fd, .events = POLLIN};
        }
    }
    struct timespec ts = {.tv_sec = timeout_ms / 1000, .tv_nsec = (timeout_ms % 1000) * 1000000L};
    int rc = ppoll(pfd, n, timeout_ms < 0 ? NULL : &ts, &l->run_mask);
    if (rc > 0) {
        for (size_t i = 0; i < nk; i++) {
            if (pfd[nl + i].revents != 0) {
                kid_read_reports(l, &l->kids[kid_idx[i]]);
            }
        }
        for (size_t i = 0; i < nl && !got_term; i++) {
            if (pfd[i].revents & POLLIN) {
                accept_one(l, pfd[i].fd);
            }
        }
    }
    if (got_chld) {
        reap(l);
    }
}

static void shutdown_children(struct listener *l)
{
    for (size_t i = 0; i < l->n_lfd; i++) {
        close(l->lfd[i]);
    }
    l->n_lfd = 0;
    ferry_info("shutting down: %zu connection(s) open", l->n_kids);
    uint64_t deadline = mono_ms() + SHUTDOWN_GRACE_MS;
    int sig = SIGTERM;
    while (l->n_kids > 0) {
        uint64_t now = mono_ms();
        if (now >= deadline) {
            for (size_t i = 0; i < l->n_kids; i++) {
                kill(l->kids[i].pid, sig);
            }
            if (sig == SIGKILL) {
                break;
            }
            sig = SIGKILL;
            deadline = now + SHUTDOWN_KILL_MS;
        }
        poll_once(l, 0, 100);
    }
    while (l->n_kids > 0 && waitpid(-1, NULL, 0) > 0) {
        l->n_kids--;
    }
}

static int install_signals(struct listener *l)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &block, &l->run_mask) != 0) {
        return ferry_err_sys();
    }
    sigdelset(&l->run_mask, SIGTERM);
    sigdelset(&l->run_mask, SIGINT);
    sigdelset(&l->run_mask, SIGCHLD);
    return FERRY_OK;
}

int ferryd_listener_run(ferryd_server *srv)
{
    struct listener l = {.srv = srv};
    const ferryd_config *cfg = &srv->cfg;
    ferryd_throttle_cfg tc = {
        .begin = cfg->startups_begin,
        .rate = cfg->startups_rate,
        .full = cfg->startups_full,
        .per_source = cfg->per_source_max_startups,
        .penalty_authfail_s = cfg->penalty_authfail,
        .penalty_grace_s = cfg->penalty_grace,
        .penalty_max_s = cfg->penalty_max,
    };
    char line[2048];
    int status = 1;
    if (ferryd_throttle_new(&tc, &l.thr) != FERRY_OK || install_signals(&l) != FERRY_OK) {
        goto out;
    }
    if (bind_all(&l, line, sizeof(line)) != FERRY_OK) {
        goto out;
    }
    srandom((unsigned)getpid() ^ (unsigned)mono_ms());
    /* Start-up (config text, yescrypt, key generation) left freed memory
     * behind: return it, so children do not copy-on-write stale pages. */
    ferryd_conn_prewarm(srv);
    malloc_trim(0);
    if (srv->on_bound != NULL) {
        srv->on_bound(srv, l.first_host, l.first_port);
    }
    ferry_info("listening on %s", line);
    fflush(stderr);
    while (!got_term) {
        poll_once(&l, 1, -1);
    }
    shutdown_children(&l);
    ferry_info("stopped");
    status = 0;
out:
    for (size_t i = 0; i < l.n_lfd; i++) {
        close(l.lfd[i]);
    }
    free(l.kids);
    ferryd_throttle_free(l.thr);
    return status;
}
