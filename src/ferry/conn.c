/* conn.c: the client's blocking driver around the sans-I/O SSH session:
 * TCP connect with a timeout, then a poll loop that moves bytes between
 * the socket and the session, and between the sftp channel and the SFTP
 * engine (whose pump hook is ssh_pump below). */
#include "ferry.h"
#include "conn_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "crypto/cert.h"
#include "crypto/cipher.h"
#include "crypto/kexalg.h"
#include "ssh/ssh.h"
#include "util/err.h"
#include "util/log.h"
#include "util/names.h"

uint64_t ferry__conn_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Non-blocking connect to one address from `src` (NULL: any), waiting
 * at most timeout_ms (0 = no limit). Returns the socket or -1. */
static int connect_one(const struct addrinfo *ai, const struct addrinfo *src, int timeout_ms)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    int err = 0;
    socklen_t len = sizeof(err);
    if (fd < 0) {
        return -1;
    }
    if (src != NULL && bind(fd, src->ai_addr, src->ai_addrlen) != 0) {
        err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int n;
        if (errno != EINPROGRESS) {
            close(fd);
            return -1;
        }
        do {
            n = poll(&p, 1, timeout_ms > 0 ? timeout_ms : -1);
        } while (n < 0 && errno == EINTR);
        if (n <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            errno = n == 0 ? ETIMEDOUT : err;
            close(fd);
            return -1;
        }
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* The address of BindAddress's list in `family`, or NULL with errno set
 * to EAFNOSUPPORT when it has none. */
static const struct addrinfo *source_for(const struct addrinfo *src, int family)
{
    for (; src != NULL; src = src->ai_next) {
        if (src->ai_family == family) {
            return src;
        }
    }
    errno = EAFNOSUPPORT;
    return NULL;
}

int ferry__conn_tcp(const char *host, int port, const ferry_opts *o, char *ip, size_t ipsz)
{
    struct addrinfo hints = {.ai_family = o->address_family, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL, *src = NULL;
    char portstr[16];
    int fd = -1, gai;
    snprintf(portstr, sizeof(portstr), "%d", port);
    if ((gai = getaddrinfo(host, portstr, &hints, &res)) != 0) {
        fprintf(stderr, "ssh: Could not resolve hostname %s: %s\r\n", host, gai_strerror(gai));
        return -1;
    }
    if (o->bind_address != NULL) {
        hints.ai_flags = AI_PASSIVE;
        if ((gai = getaddrinfo(o->bind_address, NULL, &hints, &src)) != 0) {
            fprintf(stderr, "ssh: getaddrinfo: %s: %s\r\n", o->bind_address, gai_strerror(gai));
            freeaddrinfo(res);
            return -1;
        }
    }
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        const struct addrinfo *from = src != NULL ? source_for(src, ai->ai_family) : NULL;
        fd = src != NULL && from == NULL ? -1 : connect_one(ai, from, o->connect_timeout * 1000);
        if (fd >= 0) {
            getnameinfo(ai->ai_addr, ai->ai_addrlen, ip, (socklen_t)ipsz, NULL, 0, NI_NUMERICHOST);
        }
    }
    if (fd < 0) {
        fprintf(stderr, "ssh: connect to host %s port %d%s%s: %s\r\n", host, port,
                src != NULL ? " from " : "", src != NULL ? o->bind_address : "", strerror(errno));
    }
    if (src != NULL) {
        freeaddrinfo(src);
    }
    freeaddrinfo(res);
    return fd;
}

/* ---- the poll loop ---- */

static int flush_socket(ferry_conn *c)
{
    size_t len;
    const uint8_t *p = ferry_ssh_output(c->ssh, &len);
    while (len > 0) {
        ssize_t n = write(c->fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return FERRY_OK;
        }
        if (n < 0) {
            return ferry_err_sys();
        }
        ferry_ssh_output_consume(c->ssh, (size_t)n);
        p = ferry_ssh_output(c->ssh, &len);
    }
    return FERRY_OK;
}

/* How much of p[0..len) to hand the channel at once: the whole requests
 * that fit one packet of at most `pkt` bytes, so that each packet carries
 * whole requests and the server takes them where they arrive instead of
 * copying a request split across two packets; else (one request larger
 * than a packet, or an incomplete one) all of it. */
static size_t whole_requests(const uint8_t *p, size_t len, size_t pkt)
{
    size_t off = 0;
    while (len - off >= 4) {
        size_t m = 4 + (size_t)ferry_load_u32(p + off);
        if (m > len - off || m > pkt - off) {
            break;
        }
        off += m;
    }
    return off > 0 ? off : len;
}

/* Moves queued SFTP requests into the channel as far as it takes them. */
static void feed_channel(ferry_conn *c)
{
    size_t len;
    const uint8_t *p;
    /* ch_state 0: the subsystem request is not answered yet; the library
     * sends what we write right behind it */
    if (c->sftp == NULL || c->ch == NULL || c->ch_state < 0) {
        return;
    }
    p = ferry_sftpc_output(c->sftp, &len);
    size_t pkt = ferry_channel_packet_max(c->ch);
    while (len > 0) {
        size_t room = ferry_channel_write_room(c->ch);
        size_t n = whole_requests(p, len, pkt);
        n = n < room ? n : room;
        if (n == 0 || ferry_channel_write(c->ch, p, n) != FERRY_OK) {
            return;
        }
        ferry_sftpc_output_consume(c->sftp, n);
        c->last_tx = ferry__conn_now_ms();
        p = ferry_sftpc_output(c->sftp, &len);
    }
}

/* Queued requests into the channel, packets onto the socket: no wait. */
static int push(ferry_conn *c)
{
    feed_channel(c);
    return flush_socket(c);
}

static int closed_error(ferry_conn *c)
{
    const char *msg = NULL;
    int r = ferry_ssh_close_reason(c->ssh, &msg);
    if (!c->reported) {
        c->reported = 1;
        if (r == FERRY_E_AUTH_DENIED) {
            fprintf(stderr, "%s@%s: %s\n", c->hc.opts->user, c->hc.host,
                    msg && *msg ? msg : "Permission denied.");
        } else if (r == FERRY_E_DISCONNECTED || r == FERRY_OK) {
            fprintf(stderr, "Connection closed%s%s\n", msg && *msg ? ": " : "", msg ? msg : "");
        } else if (r == FERRY_E_TIMEOUT) {
            fprintf(stderr, "Timeout, server %s not responding.\n", c->hc.hostname);
        } else if (r != FERRY_E_HOSTKEY_CHANGED && r != FERRY_E_HOSTKEY_UNKNOWN) {
            fprintf(stderr, "ferry: %s%s%s\n", ferry_strerror(r), msg && *msg ? ": " : "",
                    msg ? msg : "");
        }
    }
    return r < 0 ? r : FERRY_E_CLOSED;
}

/* Reads straight into the session's input buffer, up to 512 KiB at once
 * (fewer system calls than 64 KiB, and no copy). */
#define READ_MAX (512u * 1024)

static int read_socket(ferry_conn *c)
{
    size_t room = 0;
    uint8_t *buf = ferry_ssh_input_space(c->ssh, READ_MAX, &room);
    if (buf == NULL) {
        return closed_error(c);
    }
    ssize_t n = read(c->fd, buf, room);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) {
        return FERRY_OK;
    }
    if (n <= 0) {
        if (!ferry_ssh_is_closed(c->ssh)) {
            if (!c->reported) {
                fprintf(stderr, "Connection closed\n");
            }
            c->reported = 1;
            return FERRY_E_DISCONNECTED;
        }
        return closed_error(c);
    }
    c->last_rx = ferry__conn_now_ms();
    int r = ferry_ssh_input_commit(c->ssh, (size_t)n);
    return r == FERRY_OK ? FERRY_OK : closed_error(c);
}

int ferry__conn_poll(ferry_conn *c, struct pollfd *x, size_t nx, int *signalled)
{
    int64_t next = -1;
    size_t outlen;
    int r, timeout;
    struct pollfd p[1 + FERRY__CONN_POLL_MAX] = {{.fd = c->fd}};
    nx = nx > FERRY__CONN_POLL_MAX ? FERRY__CONN_POLL_MAX : nx;
    if (nx > 0) {
        memcpy(p + 1, x, nx * sizeof(*x));
    }

    feed_channel(c);
    if ((r = flush_socket(c)) != FERRY_OK) {
        return r;
    }
    (void)ferry_ssh_output(c->ssh, &outlen);
    if (ferry_ssh_is_closed(c->ssh) && outlen == 0) {
        return closed_error(c);
    }
    if ((r = ferry_ssh_tick(c->ssh, &next)) != FERRY_OK) {
        (void)flush_socket(c);
        return closed_error(c);
    }
    (void)ferry_ssh_output(c->ssh, &outlen);
    p[0].events = (short)((ferry_ssh_want_input(c->ssh) ? POLLIN : 0) | (outlen ? POLLOUT : 0));
    timeout = next < 0 || next > 1000 ? 1000 : (int)next;
    int n = poll(p, 1 + nx, timeout);
    if (n < 0 && errno != EINTR) {
        return ferry_err_sys();
    }
    for (size_t i = 0; i < nx; i++) {
        x[i].revents = n > 0 ? p[1 + i].revents : 0;
    }
    if (signalled != NULL) {
        *signalled = n < 0;
    }
    if (n > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
        if ((r = read_socket(c)) != FERRY_OK) {
            return r;
        }
    }
    /* silent server: nothing received since our last request went out */
    uint64_t since = c->last_rx > c->last_tx ? c->last_rx : c->last_tx;
    if (c->alive_ms > 0 && ferry__conn_now_ms() - since > c->alive_ms) {
        fprintf(stderr, "Timeout, server %s not responding.\n", c->hc.hostname);
        return FERRY_E_TIMEOUT;
    }
    return push(c);
}

int ferry__conn_step(ferry_conn *c)
{
    return ferry__conn_poll(c, NULL, 0, NULL);
}

/* Until fd is readable (0) or a signal arrives (-1). */
static int wait_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, -1) < 0 ? -1 : 0;
}

int ferry_conn_wait_input(ferry_conn *c, int fd)
{
    if (c == NULL || c->ssh == NULL || c->sftp == NULL || c->ch_state != 1 ||
        ferry_sftpc_dead(c->sftp)) {
        return wait_readable(fd);
    }
    for (;;) {
        int sig = 0;
        struct pollfd x = {.fd = fd, .events = POLLIN};
        int r = ferry__conn_poll(c, &x, 1, &sig);
        if (r != FERRY_OK) { /* lost while idle: the next command sees it */
            ferry_sftpc_kill(c->sftp, r);
            return wait_readable(fd);
        }
        if (sig || x.revents != 0) {
            return sig ? -1 : 0;
        }
    }
}

static int ssh_pump(void *ctx, ferry_sftpc *s)
{
    ferry_conn *c = ctx;
    ferry_shell_check_interrupt(s);
    if (c->ch_state < 0) {
        return FERRY_E_CLOSED;
    }
    return ferry__conn_step(c);
}

/* Our receive window may grow larger than a server's (32 MiB): it is our
 * own memory, and downloads over long round trips need it. It starts at
 * 16 MiB (a server's starts at 4): a download over a 50 ms path then runs
 * at full speed from its first round trip instead of after three window
 * growth steps (about 0.4 s); memory is used only for data we have not yet
 * consumed. */
#define CLIENT_WINDOW_MAX   (64u * 1024 * 1024)
#define CLIENT_WINDOW_START (16u * 1024 * 1024)

static int ssh_flush(void *ctx, ferry_sftpc *s)
{
    ferry_conn *c = ctx;
    (void)s;
    return c->ch_state < 0 ? FERRY_E_CLOSED : push(c);
}

/* A request is built in a packet only while the session's output holds
 * less than this: that buffer is linear, and a packet appended behind
 * megabytes of backlog would make it shift them (a copy of the data again,
 * the one the in-place build is there to spare). */
#define DIRECT_BACKLOG (256u * 1024)

static uint8_t *ssh_begin(void *ctx, size_t want, int *later)
{
    ferry_conn *c = ctx;
    size_t out;
    *later = 0;
    if (c->ch == NULL || c->ch_state != 1) {
        return NULL;
    }
    (void)ferry_ssh_output(c->ssh, &out);
    if (out >= DIRECT_BACKLOG && flush_socket(c) == FERRY_OK) {
        (void)ferry_ssh_output(c->ssh, &out);
    }
    if (out >= DIRECT_BACKLOG) {
        *later = 1; /* the socket is full: wait until it takes more */
        return NULL;
    }
    return ferry_channel_write_begin(c->ch, want, later);
}

static int ssh_end(void *ctx, size_t used)
{
    ferry_conn *c = ctx;
    c->last_tx = ferry__conn_now_ms();
    return ferry_channel_write_end(c->ch, used);
}

static size_t ssh_window(void *ctx, int upload)
{
    ferry_conn *c = ctx;
    return c->ch != NULL && c->ch_state == 1 ? ferry_channel_window(c->ch, upload) : 0;
}

/* ---- the sftp channel ---- */

static void ch_on_open(void *ctx, ferry_channel *ch, int ok)
{
    ferry_conn *c = ctx;
    c->ch = ch;
    c->ch_state = ok ? 1 : -1;
    if (!ok) {
        fprintf(stderr, "subsystem request failed on channel 0\n"); /* OpenSSH's words */
    }
}

static long ch_on_data(void *ctx, ferry_channel *ch, const uint8_t *data, size_t len)
{
    ferry_conn *c = ctx;
    (void)ch;
    int r = ferry_sftpc_input(c->sftp, data, len);
    return r == FERRY_OK ? (long)len : r;
}

static void ch_on_eof(void *ctx, ferry_channel *ch)
{
    ferry_conn *c = ctx;
    (void)ch;
    ferry_sftpc_kill(c->sftp, FERRY_E_CLOSED);
}

static void ch_on_writable(void *ctx, ferry_channel *ch)
{
    (void)ch;
    feed_channel(ctx);
}

static void ch_on_close(void *ctx, ferry_channel *ch)
{
    ferry_conn *c = ctx;
    (void)ch;
    c->ch = NULL;
    c->ch_state = -1;
    if (c->sftp != NULL) {
        ferry_sftpc_kill(c->sftp, FERRY_E_CLOSED);
    }
}

static const ferry_chan_consumer sftp_consumer = {
    .on_open = ch_on_open,
    .on_data = ch_on_data,
    .on_eof = ch_on_eof,
    .on_writable = ch_on_writable,
    .on_close = ch_on_close,
};

/* ---- algorithms ---- */

static int apply_algs(ferry_conn *c, const ferry_opts *o)
{
    /* PubkeyAcceptedAlgorithms names certificate algorithms too */
    char *pk_def = NULL, *pk_sup = NULL;
    if (o->pubkey_algs != NULL &&
        (ferry_cert_algs_first(ferry_sigalg_default(), &pk_def) != FERRY_OK ||
         ferry_cert_algs_first(ferry_sigalg_supported(), &pk_sup) != FERRY_OK)) {
        free(pk_def);
        return -1;
    }
    struct {
        const char *spec;
        const char *def, *sup, *what;
        char **out;
    } t[] = {
        {o->ciphers, ferry_cipher_default(), ferry_cipher_supported(), "Ciphers", &c->algs[0]},
        {o->macs, ferry_mac_default(), ferry_mac_supported(), "MACs", &c->algs[1]},
        {o->kex, ferry_kexalg_default_client(), ferry_kexalg_supported(), "KexAlgorithms",
         &c->algs[2]},
        {o->hostkey_algs, ferry_sigalg_default(), ferry_sigalg_supported(), "HostKeyAlgorithms",
         &c->algs[3]},
        {o->pubkey_algs, pk_def, pk_sup, "PubkeyAcceptedAlgorithms", &c->algs[4]},
        {o->ca_sig_algs, ferry_sigalg_default(), ferry_sigalg_default(), "CASignatureAlgorithms",
         &c->algs[5]},
    };
    int r = 0;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]) && r == 0; i++) {
        if (t[i].spec != NULL &&
            ferry_names_apply(t[i].def, t[i].sup, t[i].spec, t[i].out) != FERRY_OK) {
            fprintf(stderr, "Bad SSH2 %s spec '%s'.\n", t[i].what, t[i].spec);
            r = -1;
        }
    }
    free(pk_def);
    free(pk_sup);
    return r;
}

static struct ferry__answer *find_answer(ferry_conn *c, const char *prompt)
{
    for (size_t i = 0; i < c->n_answers; i++) {
        if (strcmp(c->answers[i].prompt, prompt) == 0) {
            return &c->answers[i];
        }
    }
    return NULL;
}

static void free_answer(struct ferry__answer *a)
{
    if (a->answer != NULL) {
        OPENSSL_cleanse(a->answer, strlen(a->answer));
    }
    free(a->answer);
    free(a->prompt);
}

/* Keeps what was typed for `prompt` (the last answer wins), so that a
 * reconnect can authenticate without asking again. */
static void keep_answer(ferry_conn *c, const char *prompt, const char *answer)
{
    struct ferry__answer *a = find_answer(c, prompt), *v;
    char *dup = strdup(answer);
    if (dup == NULL) {
        return;
    }
    if (a != NULL) {
        OPENSSL_cleanse(a->answer, strlen(a->answer));
        free(a->answer);
        a->answer = dup;
        return;
    }
    v = realloc(c->answers, (c->n_answers + 1) * sizeof(*v));
    if (v == NULL || (v[c->n_answers].prompt = strdup(prompt)) == NULL) {
        c->answers = v ? v : c->answers;
        OPENSSL_cleanse(dup, strlen(dup));
        free(dup);
        return;
    }
    c->answers = v;
    v[c->n_answers++].answer = dup;
}

static int session_prompt(void *ctx, const char *prompt, int echo, char *out, size_t outsz)
{
    ferry_conn *c = ctx;
    if (c->redialing) {
        const struct ferry__answer *a = find_answer(c, prompt);
        if (a == NULL || strlen(a->answer) >= outsz) {
            return FERRY_E_AUTH_DENIED; /* never ask during a reconnect */
        }
        memcpy(out, a->answer, strlen(a->answer) + 1);
        return FERRY_OK;
    }
    if (c->batch_mode || ferry_prompt(prompt, echo, out, outsz) != 0) {
        return FERRY_E_AUTH_DENIED;
    }
    keep_answer(c, prompt, out);
    return FERRY_OK;
}

/* The first connection checks known_hosts; a reconnect wants exactly
 * the key seen then. */
static int verify_hostkey(void *ctx, const ferry_key *key)
{
    ferry_conn *c = ctx;
    if (c->pinned != NULL) {
        if (ferry_key_equal_public(c->pinned, key)) {
            return FERRY_OK;
        }
        fprintf(stderr, "Host key of %s differs from the first connection's; not reconnecting\n",
                c->hc.hostname);
        return FERRY_E_HOSTKEY_CHANGED;
    }
    int r = ferry_hostkey_verify(&c->hc, key);
    if (r == FERRY_OK && ferry_key_public_copy(key, &c->pinned) != FERRY_OK) {
        c->pinned = NULL; /* no reconnect possible then */
    }
    return r;
}

static int verify_hostcert(void *ctx, const ferry_cert *cert)
{
    ferry_conn *c = ctx;
    if (c->pinned != NULL) {
        return verify_hostkey(ctx, cert->key); /* a reconnect: the same key */
    }
    int r = ferry_hostkey_verify_cert(&c->hc, cert);
    if (r == FERRY_OK && ferry_key_public_copy(cert->key, &c->pinned) != FERRY_OK) {
        c->pinned = NULL;
    }
    return r;
}

/* A server's banner (sshd's Banner): on stderr as ssh shows it, unless
 * -q or LogLevel QUIET/FATAL/ERROR. */
static void show_banner(void *ctx, const char *text)
{
    const ferry_opts *o = ((ferry_conn *)ctx)->hc.opts;
    if (o->quiet || o->log_level == FERRY_LOG_ERROR) {
        return;
    }
    size_t n = strlen(text);
    fprintf(stderr, "%s%s", text, n > 0 && text[n - 1] == '\n' ? "" : "\n");
}

static int start_session(ferry_conn *c, const ferry_opts *o)
{
    ferry_ssh_config cfg = {
        .role = FERRY_ROLE_CLIENT,
        .ciphers = c->algs[0],
        .macs = c->algs[1],
        .kex_algs = c->algs[2],
        .hostkey_algs = c->algs[3],
        .pubkey_algs = c->algs[4],
        .user = o->user,
        .host = o->hostname,
        .verify_hostkey = verify_hostkey,
        .verify_hostcert = verify_hostcert,
        .verify_ctx = c,
        .identities = c->ids,
        .n_identities = c->n_ids,
        .try_pubkey = o->pubkey_auth,
        .try_password = o->password_auth && o->password_prompts != 0,
        .try_kbdint = o->kbdint_auth && o->password_prompts != 0,
        .password_prompts = o->password_prompts > 0 ? (unsigned)o->password_prompts : 0,
        .rekey_bytes = o->rekey_bytes,
        .rekey_seconds = o->rekey_seconds,
        .auth_order = o->auth_order,
        .prompt = session_prompt,
        .prompt_ctx = c,
        .on_banner = show_banner,
        .window_max = CLIENT_WINDOW_MAX,
        .window_start = CLIENT_WINDOW_START,
        .compression = o->compression > 0,
        .kex_guess = 1,
    };
    /* ServerAliveInterval with a CountMax: keepalive@openssh.com probes
     * from the library while the connection is pumped. CountMax 0 means
     * OpenSSH's "give up after one silent interval" (alive_ms below). */
    if (o->alive_interval > 0 && o->alive_count > 0) {
        uint64_t ms = (uint64_t)o->alive_interval * 1000u;
        cfg.alive_interval_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
        cfg.alive_count_max = (unsigned)o->alive_count;
    }
    int r = ferry_ssh_new(&c->ssh, &cfg);
    if (r == FERRY_OK) {
        r = ferry_ssh_start(c->ssh);
    }
    return r;
}

/* What SFTP needs to know of the server's software (its SYMLINK order). */
static void adapt_to_server(ferry_conn *c)
{
    ferry_sftpc_set_symlink_draft_order(
        c->sftp, ferry_sftp_symlink_draft_order(ferry_ssh_peer_version(c->ssh), 1));
}

/* Waits until authenticated: the sftp channel's open and subsystem
 * request follow by themselves, and SFTP's INIT (ferry_sftpc_init) goes
 * out behind the request without waiting for its answer. */
static int wait_auth(ferry_conn *c)
{
    int r = FERRY_OK;
    while (!ferry_ssh_is_authenticated(c->ssh) && c->ch_state == 0 && r == FERRY_OK) {
        r = ferry__conn_step(c);
    }
    return r == FERRY_OK && c->ch_state < 0 ? FERRY_E_CLOSED : r;
}

int ferry__conn_begin(ferry_conn **out, const ferry_opts *o, const char *host)
{
    ferry_conn *c = calloc(1, sizeof(*c));
    int r = FERRY_E_INTERNAL;
    *out = NULL;
    if (c == NULL) {
        return FERRY_E_ALLOC;
    }
    c->fd = c->pipe_in = c->pipe_out = -1;
    c->hc = (ferry_hostcheck){
        .host = host, .hostname = o->hostname, .ip = c->ip, .port = o->port, .opts = o};
    c->batch_mode = o->batch_mode > 0;
    c->alive_ms = o->alive_count == 0 ? (uint64_t)o->alive_interval * 1000u : 0;
    if (apply_algs(c, o) != 0) {
        r = FERRY_E_INVALID_ARG;
        goto out;
    }
    c->hc.ca_sig_algs = c->algs[5];
    if (o->hostkey_algs == NULL &&
        (r = ferry_hostkey_order_algs(&c->hc, ferry_sigalg_default(), &c->algs[3])) != FERRY_OK) {
        goto out;
    }
    if ((r = ferry__conn_identities(c, o)) != FERRY_OK) {
        goto out;
    }
    if ((c->fd = ferry__conn_dial(c, o)) < 0) {
        r = FERRY_E_SYSTEM;
        goto out;
    }
    c->last_rx = ferry__conn_now_ms();
    if ((r = start_session(c, o)) != FERRY_OK) {
        goto out;
    }
    *out = c;
    return FERRY_OK;
out:
    ferry_conn_close(c);
    return r;
}

void ferry__conn_report_auth(ferry_conn *c, const ferry_opts *o)
{
    if (o->verbose) {
        /* OpenSSH's words */
        fprintf(stderr, "Authenticated to %s ([%s]:%d) using \"%s\".\n", o->hostname,
                c->ip[0] ? c->ip : "via proxy", o->port, ferry_ssh_auth_method(c->ssh));
    }
}

int ferry_conn_open(ferry_conn **out, const ferry_opts *o, const char *host, ferry_sftpc **sftp,
                    const ferry_sftpc_config *scfg)
{
    ferry_conn *c = NULL;
    ferry_sftpc_io io = {.pump = ssh_pump,
                         .window = ssh_window,
                         .flush = ssh_flush,
                         .begin = ssh_begin,
                         .end = ssh_end};
    int r = ferry__conn_begin(&c, o, host);
    if (r != FERRY_OK) {
        return r;
    }
    io.ctx = c;
    if ((r = ferry_sftpc_new(&c->sftp, scfg, &io)) != FERRY_OK ||
        (r = ferry_ssh_open_subsystem(c->ssh, o->subsystem ? o->subsystem : "sftp", &sftp_consumer,
                                      c, &c->ch)) != FERRY_OK ||
        (r = wait_auth(c)) != FERRY_OK) {
        ferry_conn_close(c);
        return r;
    }
    adapt_to_server(c);
    ferry__conn_report_auth(c, o);
    *sftp = c->sftp;
    *out = c;
    return FERRY_OK;
}

/* Frees the SSH session and the socket (the sftp engine stays). */
static void drop_session(ferry_conn *c)
{
    if (c->ssh != NULL) {
        if (!ferry_ssh_is_closed(c->ssh)) {
            ferry_ssh_disconnect(c->ssh, 11, "disconnected by user");
        }
        (void)flush_socket(c);
        ferry_ssh_free(c->ssh);
        c->ssh = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    ferry__conn_proxy_end(c);
    c->ch = NULL;
    c->ch_state = 0;
}

int ferry_conn_redial(ferry_conn *c)
{
    const ferry_opts *o = c->hc.opts;
    int r;
    if (c->pipe_cmd != NULL && c->sftp != NULL) {
        return ferry__conn_pipe_redial(c); /* -S: the program again */
    }
    if (c->pinned == NULL || c->sftp == NULL || o == NULL) {
        return FERRY_E_UNSUPPORTED;
    }
    drop_session(c);
    ferry_sftpc_reset(c->sftp);
    c->reported = 0;
    if ((c->fd = ferry__conn_dial(c, o)) < 0) {
        return FERRY_E_SYSTEM;
    }
    c->last_rx = c->last_tx = ferry__conn_now_ms();
    c->redialing = 1;
    ferry__conn_identities_noprompt(c);
    if ((r = start_session(c, o)) == FERRY_OK &&
        (r = ferry_ssh_open_subsystem(c->ssh, o->subsystem ? o->subsystem : "sftp", &sftp_consumer,
                                      c, &c->ch)) == FERRY_OK &&
        (r = wait_auth(c)) == FERRY_OK) {
        adapt_to_server(c);
        r = ferry_sftpc_init(c->sftp);
    }
    c->redialing = 0;
    if (r != FERRY_OK) {
        ferry_sftpc_kill(c->sftp, r);
    }
    return r;
}

void ferry_conn_close(ferry_conn *c)
{
    if (c == NULL) {
        return;
    }
    drop_session(c);
    ferry_sftpc_free(c->sftp);
    ferry__conn_pipe_close(c);
    for (size_t i = 0; i < c->n_answers; i++) {
        free_answer(&c->answers[i]);
    }
    free(c->answers);
    ferry_key_free(c->pinned);
    ferry__conn_identities_free(c);
    for (size_t i = 0; i < sizeof(c->algs) / sizeof(c->algs[0]); i++) {
        free(c->algs[i]);
    }
    free(c);
}
