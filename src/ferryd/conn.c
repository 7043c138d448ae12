/* conn.c: one connection, in its own forked child: the driver around the
 * sans-I/O SSH session (ssh.h's loop: feed input, flush output, honour
 * want_input, run ticks with the poll timeout), LoginGraceTime, the
 * "sftp" subsystem and the session/file audit events. */
#include "ferryd.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "sftp/proto.h"
#include "sftp/server.h"
#include "ssh/ssh.h"
#include "util/err.h"
#include "util/log.h"
#include "vfs/vfs.h"

#define CONN_READ_CHUNK     (256 * 1024)
#define CONN_LINGER_MS      5000 /* flushing a final DISCONNECT at most this long */
#define CONN_TERM_LINGER_MS 1000 /* the same after SIGTERM */

/* Set by SIGTERM (the listener shutting down after its grace period): the
 * session ends cleanly, so open atomic uploads are kept as partial files
 * (KeepPartialUploads) or discarded, not left behind as temporary files.
 * Process-wide by nature (one per child). */
static volatile sig_atomic_t conn_terminate;

static void on_sigterm(int sig)
{
    (void)sig;
    conn_terminate = 1;
}

void ferryd_conn_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigterm; /* no SA_RESTART: poll returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
}
#define SSH_DISCONNECT_BY_APPLICATION 11

struct conn {
    const ferryd_server *srv;
    int fd;
    char peer[64];
    unsigned peer_port;
    ferry_ssh *ssh;
    ferryd_auth auth;
    ferry_vfs *vfs;
    uint64_t start_ms, close_by_ms;
    uint64_t net_in, net_out, file_read, file_written;
    unsigned files;
    int authed;
    int terminating; /* SIGTERM seen */
    const char *end_reason;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *fx_name(int status)
{
    static const char *const names[] = {
        "ok",          "eof",           "no_such_file",    "permission_denied", "failure",
        "bad_message", "no_connection", "connection_lost", "op_unsupported",
    };
    if (status >= 0 && (size_t)status < sizeof(names) / sizeof(names[0])) {
        return names[status];
    }
    return "error";
}

static void on_sftp_event(void *ctx, const ferry_sftp_event *ev)
{
    struct conn *c = ctx;
    char rd[24], wr[24], dur[24];
    c->file_read += ev->bytes_read;
    c->file_written += ev->bytes_written;
    c->files++;
    snprintf(rd, sizeof(rd), "%" PRIu64, ev->bytes_read);
    snprintf(wr, sizeof(wr), "%" PRIu64, ev->bytes_written);
    snprintf(dur, sizeof(dur), "%" PRIu64, ev->duration_ms);
    ferryd_kv kv[] = {
        {"user", c->auth.user ? c->auth.user->name : NULL},
        {"peer", c->peer},
        {"op", ev->op},
        {"path", ev->path},
        {"path2", ev->path2},
        {"bytes_read", rd},
        {"bytes_written", wr},
        {"result", fx_name(ev->status)},
        {"duration_ms", dur},
        {"refused", ev->refusal}, /* last: only when the mode refused */
    };
    size_t n = sizeof(kv) / sizeof(kv[0]) - (ev->refusal == NULL);
    ferryd_audit_emit(c->srv->audit, "file", kv, n);
}

/* ferry verifies every transfer by default: its uploads are hashed as they
 * arrive; other clients' once they have sent a check-file request. */
static int running_hash_for(const ferry_ssh *s)
{
    const char *v = ferry_ssh_peer_version(s);
    return v != NULL && strncmp(v, "SSH-2.0-Ferry_", 14) == 0 ? FERRY_SFTP_RUNHASH_ALWAYS
                                                              : FERRY_SFTP_RUNHASH_AFTER_CHECK;
}

static int on_subsystem(void *ctx, ferry_ssh *s, ferry_channel *ch, const char *name,
                        const ferry_chan_consumer **ops, void **cctx)
{
    struct conn *c = ctx;
    const ferryd_user *u = c->auth.user;
    if (strcmp(name, "sftp") != 0 || u == NULL || u->root == NULL) {
        ferry_info("refusing subsystem \"%.32s\" from %s", name, c->peer);
        return FERRY_E_UNSUPPORTED;
    }
    if (c->vfs == NULL) {
        int r = ferry_vfs_local_open(u->root, &c->vfs);
        if (r != FERRY_OK) {
            ferry_error("user %s: cannot open root %s: %s", u->name, u->root, ferry_strerror(r));
            return r;
        }
    }
    ferry_sftp_server_config sc = {
        .vfs = c->vfs,
        .mode = u->mode,
        .atomic_uploads = c->srv->cfg.atomic_uploads,
        .keep_partial = c->srv->cfg.keep_partial,
        .running_hash = running_hash_for(s),
        .symlink_draft_order = ferry_sftp_symlink_draft_order(ferry_ssh_peer_version(s), 0),
        .user = u->name,
        .on_event = on_sftp_event,
        .event_ctx = c,
    };
    return ferry_sftp_server_attach(ch, &sc, ops, cctx);
}

static void audit_session(struct conn *c, const char *event)
{
    char dur[24], in[24], out[24], rd[24], wr[24], port[8], kex[16];
    snprintf(dur, sizeof(dur), "%" PRIu64, now_ms() - c->start_ms);
    snprintf(in, sizeof(in), "%" PRIu64, c->net_in);
    snprintf(out, sizeof(out), "%" PRIu64, c->net_out);
    snprintf(rd, sizeof(rd), "%" PRIu64, c->file_read);
    snprintf(wr, sizeof(wr), "%" PRIu64, c->file_written);
    snprintf(port, sizeof(port), "%u", c->peer_port);
    snprintf(kex, sizeof(kex), "%u", ferry_ssh_kex_count(c->ssh));
    int end = strcmp(event, "session_end") == 0;
    ferryd_kv kv[] = {
        {"user", c->auth.user ? c->auth.user->name : NULL},
        {"peer", c->peer},
        {"port", port},
        {"method", c->auth.methods[0] ? c->auth.methods : NULL},
        {"key", c->auth.key_fp[0] ? c->auth.key_fp : NULL},
        {"key_type", c->auth.key_type[0] ? c->auth.key_type : NULL},
        {"cert_id", c->auth.cert_id[0] ? c->auth.cert_id : NULL},
        {"cert_serial", c->auth.cert_serial[0] ? c->auth.cert_serial : NULL},
        {"ca_key", c->auth.ca_fp[0] ? c->auth.ca_fp : NULL},
        {"cipher", ferry_ssh_alg(c->ssh, "cipher_ctos")},
        {"client", ferry_ssh_peer_version(c->ssh)},
        {"duration_ms", dur},
        {"bytes_in", in},
        {"bytes_out", out},
        {"file_bytes_read", rd},
        {"file_bytes_written", wr},
        {"key_exchanges", kex},
        {"reason", c->end_reason},
    };
    size_t n = sizeof(kv) / sizeof(kv[0]);
    ferryd_audit_emit(c->srv->audit, event, kv, end ? n : 11);
}

/* Sends what the session has queued; FERRY_E_CLOSED on a dead socket. */
static int conn_flush(struct conn *c)
{
    for (;;) {
        size_t len = 0;
        const uint8_t *p = ferry_ssh_output(c->ssh, &len);
        if (len == 0) {
            return FERRY_OK;
        }
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return FERRY_OK;
            }
            c->end_reason = "write error";
            return FERRY_E_CLOSED;
        }
        c->net_out += (uint64_t)n;
        ferry_ssh_output_consume(c->ssh, (size_t)n);
    }
}

/* Reads once, straight into the session's input buffer; FERRY_E_CLOSED
 * at EOF or on error. */
static int conn_read(struct conn *c, size_t bufsz)
{
    size_t room = 0;
    uint8_t *buf = ferry_ssh_input_space(c->ssh, bufsz, &room);
    if (buf == NULL) {
        c->end_reason = "session closed";
        return FERRY_E_CLOSED;
    }
    ssize_t n = recv(c->fd, buf, room, 0);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
            return FERRY_OK;
        }
        c->end_reason = "read error";
        return FERRY_E_CLOSED;
    }
    if (n == 0) {
        c->end_reason = "connection closed by peer";
        return FERRY_E_CLOSED;
    }
    c->net_in += (uint64_t)n;
    int r = ferry_ssh_input_commit(c->ssh, (size_t)n);
    if (r != FERRY_OK) {
        ferry_debug("session error from %s: %s", c->peer, ferry_strerror(r));
    }
    return FERRY_OK;
}

static void conn_close_now(struct conn *c, const char *why)
{
    if (!ferry_ssh_is_closed(c->ssh)) {
        ferry_ssh_disconnect(c->ssh, SSH_DISCONNECT_BY_APPLICATION, why);
    }
    c->end_reason = why;
}

/* Timers the driver owns: LoginGraceTime (keepalives are the session's).
 * Returns the poll timeout in ms, combined with the session's own
 * deadline. */
static int conn_timers(struct conn *c, int64_t next)
{
    const ferryd_config *cfg = &c->srv->cfg;
    uint64_t now = now_ms();
    int64_t t = next;
    if (!c->authed && cfg->login_grace_time > 0) {
        uint64_t dl = c->start_ms + (uint64_t)cfg->login_grace_time * 1000u;
        if (now >= dl) {
            if (!ferry_ssh_is_closed(c->ssh) && c->auth.report_fd >= 0) {
                char g = FERRYD_REPORT_GRACE;
                ssize_t w = write(c->auth.report_fd, &g, 1);
                (void)w;
            }
            conn_close_now(c, "login grace time exceeded");
        } else if (t < 0 || (int64_t)(dl - now) < t) {
            t = (int64_t)(dl - now);
        }
    }
    if (c->close_by_ms != 0) {
        t = (t < 0 || t > 100) ? 100 : t;
    }
    return t < 0 ? -1 : (t > 60000 ? 60000 : (int)t);
}

static void conn_check_auth(struct conn *c)
{
    if (!c->authed && ferry_ssh_is_authenticated(c->ssh)) {
        c->authed = 1;
        if (c->auth.user == NULL) {
            /* on_success not called (should not happen): look up by name */
            const char *name = ferry_ssh_user(c->ssh);
            if (name == NULL || ferryd_userstore_lookup(&c->srv->users, name, &c->auth.user)) {
                conn_close_now(c, "authenticated user unknown");
                return;
            }
        }
        audit_session(c, "session_start");
    }
}

static void conn_loop(struct conn *c, size_t bufsz)
{
    for (;;) {
        if (conn_flush(c) != FERRY_OK) {
            return;
        }
        size_t pending = 0;
        (void)ferry_ssh_output(c->ssh, &pending);
        if (ferry_ssh_is_closed(c->ssh)) {
            if (pending == 0) {
                return;
            }
            if (c->close_by_ms == 0) {
                c->close_by_ms = now_ms() + CONN_LINGER_MS;
            } else if (now_ms() >= c->close_by_ms) {
                return;
            }
        }
        if (conn_terminate && !c->terminating) {
            c->terminating = 1;
            conn_close_now(c, "server shutting down");
            c->close_by_ms = now_ms() + CONN_TERM_LINGER_MS;
            continue;
        }
        int64_t next = -1;
        (void)ferry_ssh_tick(c->ssh, &next);
        conn_check_auth(c);
        int timeout = conn_timers(c, next);
        (void)ferry_ssh_output(c->ssh, &pending);
        if (ferry_ssh_is_closed(c->ssh) && c->close_by_ms == 0) {
            continue; /* closed by a timer or a tick: flush, then leave */
        }
        struct pollfd p = {.fd = c->fd, .events = 0};
        if (!ferry_ssh_is_closed(c->ssh) && ferry_ssh_want_input(c->ssh)) {
            p.events |= POLLIN;
        }
        if (pending > 0) {
            p.events |= POLLOUT;
        }
        int n = poll(&p, 1, timeout);
        if (n < 0 && errno != EINTR) {
            c->end_reason = "poll error";
            return;
        }
        if (n > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) && (p.events & POLLIN)) {
            if (conn_read(c, bufsz) != FERRY_OK) {
                return;
            }
            conn_check_auth(c);
        } else if (n > 0 && (p.revents & (POLLHUP | POLLERR)) && !(p.events & POLLIN)) {
            c->end_reason = "connection lost";
            return;
        }
    }
}

/* When running as root with ServiceUser set: become that account before
 * any user file is read (keys were loaded by the listener already). */
static int drop_privileges(const ferryd_config *cfg)
{
    if (getuid() != 0 || cfg->service_user == NULL) {
        return FERRY_OK;
    }
    struct passwd *pw = getpwnam(cfg->service_user);
    if (pw == NULL) {
        ferry_error("ServiceUser %s: no such user", cfg->service_user);
        return FERRY_E_NOT_FOUND;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0 || setuid(0) == 0) {
        ferry_error("cannot drop privileges to %s: %s", pw->pw_name, strerror(errno));
        return FERRY_E_SYSTEM;
    }
    return FERRY_OK;
}

static void conn_ssh_config(struct conn *c, ferry_ssh_config *sc)
{
    const ferryd_server *srv = c->srv;
    memset(sc, 0, sizeof(*sc));
    sc->role = FERRY_ROLE_SERVER;
    sc->kex_algs = srv->algs.kex;
    sc->hostkey_algs = srv->algs.hostkey;
    sc->ciphers = srv->algs.ciphers;
    sc->macs = srv->algs.macs;
    sc->rekey_bytes = srv->cfg.rekey_bytes;
    sc->rekey_seconds = srv->cfg.rekey_seconds;
    sc->host_keys = (ferry_key **)srv->host_keys;
    sc->n_host_keys = srv->n_host_keys;
    sc->host_certs = (const struct ferry_cert *const *)srv->host_certs;
    sc->n_host_certs = srv->n_host_certs;
    sc->auth_methods = srv->auth_methods;
    sc->max_auth_tries = srv->cfg.max_auth_tries;
    sc->auth = &ferryd_auth_ops;
    sc->auth_ctx = &c->auth;
    sc->subsystem = on_subsystem;
    sc->subsystem_ctx = c;
    sc->max_channels = srv->cfg.max_sessions;
    sc->pubkey_algs = srv->algs.pubkey; /* NULL: the library's defaults */
    sc->banner = srv->banner;
    sc->channel_idle_ms = srv->cfg.channel_timeout * 1000u;
    sc->unused_ms = srv->cfg.unused_timeout * 1000u;
    /* ClientAliveInterval / ClientAliveCountMax: probes by the library */
    unsigned alive = srv->cfg.client_alive_interval;
    sc->alive_interval_ms = alive > UINT32_MAX / 1000u ? UINT32_MAX : alive * 1000u;
    sc->alive_count_max = srv->cfg.client_alive_count_max;
    sc->compression = srv->cfg.compression;
}

static int prewarm_accept_key(void *ctx, const ferry_key *hostkey)
{
    return FERRY_OK;
}

/* Moves what `from` has queued into `to`; FERRY_OK while both live. */
static int prewarm_pump(ferry_ssh *from, ferry_ssh *to)
{
    size_t n = 0;
    const uint8_t *p = ferry_ssh_output(from, &n);
    if (n > 0) {
        int r = ferry_ssh_input(to, p, n);
        ferry_ssh_output_consume(from, n);
        if (r != FERRY_OK) {
            return r;
        }
    }
    return ferry_ssh_is_closed(from) || ferry_ssh_is_closed(to) ? FERRY_E_CLOSED : FERRY_OK;
}

void ferryd_conn_prewarm(const ferryd_server *srv)
{
    struct conn c = {.srv = srv, .fd = -1};
    ferry_ssh_config sc, cc = {.role = FERRY_ROLE_CLIENT, .user = "prewarm"};
    conn_ssh_config(&c, &sc);
    sc.auth = NULL; /* never reached: the exchange stops after key exchange */
    cc.verify_hostkey = prewarm_accept_key;
    ferry_ssh *server = NULL, *client = NULL;
    if (ferry_ssh_new(&server, &sc) != FERRY_OK || ferry_ssh_new(&client, &cc) != FERRY_OK ||
        ferry_ssh_start(server) != FERRY_OK || ferry_ssh_start(client) != FERRY_OK) {
        goto out;
    }
    for (int i = 0; i < 32; i++) {
        if (ferry_ssh_kex_count(server) > 0 && ferry_ssh_kex_count(client) > 0) {
            break;
        }
        if (prewarm_pump(server, client) != FERRY_OK || prewarm_pump(client, server) != FERRY_OK) {
            break;
        }
    }
    ferry_debug("prewarm: %u key exchange(s) in memory (%s)", ferry_ssh_kex_count(server),
                ferry_ssh_alg(server, "kex"));
out:
    ferry_ssh_free(client);
    ferry_ssh_free(server);
}

int ferryd_conn_serve(const ferryd_server *srv, int fd, const char *peer, unsigned peer_port,
                      int report_fd)
{
    struct conn c = {.srv = srv, .fd = fd, .peer_port = peer_port};
    snprintf(c.peer, sizeof(c.peer), "%s", peer);
    c.start_ms = now_ms();
    c.auth = (ferryd_auth){.us = &srv->users,
                           .peer = c.peer,
                           .dummy_hash = srv->dummy_hash,
                           .standin_user = srv->cfg.n_users > 0 ? srv->cfg.users[0].name : NULL,
                           .allow_pubkey = srv->cfg.pubkey_auth,
                           .allow_password = srv->cfg.password_auth,
                           .report_fd = report_fd,
                           .pubkey_algs = srv->algs.pubkey,
                           .ca_sig_algs = srv->algs.ca_sig,
                           .user_cas = srv->user_cas,
                           .revoked_path = srv->cfg.revoked_keys,
                           .keys_command = srv->cfg.keys_command,
                           .principals_command = srv->cfg.principals_command,
                           .audit = srv->audit};
    ferry_ssh_config sc;
    conn_ssh_config(&c, &sc);
    int status = 1;
    if (drop_privileges(&srv->cfg) != FERRY_OK) {
        goto out;
    }
    int r = ferry_ssh_new(&c.ssh, &sc);
    if (r == FERRY_OK) {
        r = ferry_ssh_start(c.ssh);
    }
    if (r != FERRY_OK) {
        ferry_error("cannot start session for %s: %s", c.peer, ferry_strerror(r));
        goto out;
    }
    conn_loop(&c, CONN_READ_CHUNK);
    const char *msg = NULL;
    int why = ferry_ssh_close_reason(c.ssh, &msg);
    if (c.end_reason == NULL && ferry_ssh_is_closed(c.ssh)) {
        c.end_reason = msg != NULL ? msg : ferry_strerror(why);
    }
    if (c.authed) {
        audit_session(&c, "session_end");
    } else {
        ferry_info("connection from %s:%u closed before authentication: %s", c.peer, peer_port,
                   c.end_reason ? c.end_reason : "-");
    }
    status = 0;
out:
    ferry_ssh_free(c.ssh);
    ferry_vfs_free(c.vfs);
    ferryd_auth_cleanup(&c.auth);
    if (report_fd >= 0) {
        close(report_fd);
    }
    close(fd);
    return status;
}
