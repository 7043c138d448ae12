/* agent.c: ssh-agent client (draft-miller-ssh-agent-02).
 *
 * Every message on the socket is uint32 length || byte type || contents.
 * We send SSH_AGENTC_REQUEST_IDENTITIES (11) and SSH_AGENTC_SIGN_REQUEST
 * (13) and accept SSH_AGENT_IDENTITIES_ANSWER (12), SSH_AGENT_SIGN_RESPONSE
 * (14) and SSH_AGENT_FAILURE (5). Replies are bounded to AGENT_MSG_MAX
 * bytes and every exchange to AGENT_TIMEOUT_MS. After an I/O or framing
 * error the stream is out of step, so the socket is closed and later calls
 * fail with FERRY_E_CLOSED.
 */
#include "ssh/agent.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "crypto/cert.h"
#include "util/err.h"

#define AGENT_MSG_MAX     (256u * 1024)
#define AGENT_TIMEOUT_MS  30000
#define AGENT_MAX_KEYS    1024
#define AGENT_COMMENT_MAX 1024

enum {
    SSH_AGENT_FAILURE = 5,
    SSH2_AGENTC_REQUEST_IDENTITIES = 11,
    SSH2_AGENT_IDENTITIES_ANSWER = 12,
    SSH2_AGENTC_SIGN_REQUEST = 13,
    SSH2_AGENT_SIGN_RESPONSE = 14,
    SSH_AGENT_EXTENSION_FAILURE = 28,
};

/* SSH_AGENTC_SIGN_REQUEST flags (draft s4.5.1). */
#define SSH_AGENT_RSA_SHA2_256 2u
#define SSH_AGENT_RSA_SHA2_512 4u

struct ferry_agent {
    int fd;
    int loaded;
    ferry_identity *ids;
    char **comments;
    size_t n;
};

int ferry_agent_open(const char *path, ferry_agent **out)
{
    if (path == NULL) {
        path = getenv("SSH_AUTH_SOCK");
    }
    if (path == NULL || path[0] == '\0') {
        return FERRY_E_NOT_FOUND;
    }
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        return FERRY_E_INVALID_ARG;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return ferry_err_sys();
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR) ? FERRY_E_NOT_FOUND
                                                                  : ferry_err_sys();
    }
    ferry_agent *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        close(fd);
        return FERRY_E_ALLOC;
    }
    a->fd = fd;
    *out = a;
    return FERRY_OK;
}

static void agent_drop_ids(ferry_agent *a)
{
    for (size_t i = 0; i < a->n; i++) {
        ferry_key_free(a->ids[i].pub);
        ferry_cert_free((ferry_cert *)a->ids[i].cert); /* ours: made in add_identity */
        free(a->comments[i]);
    }
    free(a->ids);
    free(a->comments);
    a->ids = NULL;
    a->comments = NULL;
    a->n = 0;
}

void ferry_agent_free(ferry_agent *a)
{
    if (a == NULL) {
        return;
    }
    agent_drop_ids(a);
    if (a->fd >= 0) {
        close(a->fd);
    }
    free(a);
}

/* ---- framing ---- */

static long ms_left(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms =
        (long)(deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
    return ms > 0 ? ms : 0;
}

/* Waits for `events` on fd until the deadline. */
static int wait_fd(int fd, short events, const struct timespec *deadline)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = events};
        long ms = ms_left(deadline);
        if (ms == 0) {
            return FERRY_E_TIMEOUT;
        }
        int n = poll(&p, 1, (int)ms);
        if (n > 0) {
            return FERRY_OK;
        }
        if (n < 0 && errno != EINTR) {
            return ferry_err_sys();
        }
    }
}

static int send_all(int fd, const uint8_t *p, size_t n, const struct timespec *deadline)
{
    while (n > 0) {
        int r = wait_fd(fd, POLLOUT, deadline);
        if (r != FERRY_OK) {
            return r;
        }
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
                continue;
            }
            return errno == EPIPE || errno == ECONNRESET ? FERRY_E_DISCONNECTED : ferry_err_sys();
        }
        p += w;
        n -= (size_t)w;
    }
    return FERRY_OK;
}

static int recv_all(int fd, uint8_t *p, size_t n, const struct timespec *deadline)
{
    while (n > 0) {
        int r = wait_fd(fd, POLLIN, deadline);
        if (r != FERRY_OK) {
            return r;
        }
        ssize_t got = recv(fd, p, n, MSG_DONTWAIT);
        if (got == 0) {
            return FERRY_E_DISCONNECTED;
        }
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
                continue;
            }
            return errno == ECONNRESET ? FERRY_E_DISCONNECTED : ferry_err_sys();
        }
        p += got;
        n -= (size_t)got;
    }
    return FERRY_OK;
}

/* Sends `req` (type byte and contents, without the length) and reads one
 * reply (type byte and contents) into `reply`. */
static int agent_call(ferry_agent *a, const ferry_buf *req, ferry_buf *reply)
{
    if (a->fd < 0) {
        return FERRY_E_CLOSED;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += AGENT_TIMEOUT_MS / 1000;
    uint8_t hdr[4];
    size_t n = ferry_buf_len(req);
    hdr[0] = (uint8_t)(n >> 24);
    hdr[1] = (uint8_t)(n >> 16);
    hdr[2] = (uint8_t)(n >> 8);
    hdr[3] = (uint8_t)n;
    int r = send_all(a->fd, hdr, 4, &deadline);
    if (r == FERRY_OK) {
        r = send_all(a->fd, ferry_buf_data(req), n, &deadline);
    }
    if (r == FERRY_OK) {
        r = recv_all(a->fd, hdr, 4, &deadline);
    }
    uint32_t len = ferry_load_u32(hdr);
    if (r == FERRY_OK && (len == 0 || len > AGENT_MSG_MAX)) {
        r = len == 0 ? FERRY_E_PROTOCOL : FERRY_E_TOO_LARGE;
    }
    uint8_t *dst = NULL;
    if (r == FERRY_OK) {
        ferry_buf_reset(reply);
        r = ferry_buf_reserve(reply, len, &dst);
    }
    if (r == FERRY_OK) {
        r = recv_all(a->fd, dst, len, &deadline);
    }
    if (r != FERRY_OK) {
        close(a->fd); /* out of step with the agent: give up on it */
        a->fd = -1;
    }
    return r;
}

/* ---- identities ---- */

static int add_identity(ferry_agent *a, ferry_rd *rd)
{
    const uint8_t *blob, *cm;
    size_t blen, clen;
    if (ferry_rd_string(rd, &blob, &blen) != FERRY_OK ||
        ferry_rd_string(rd, &cm, &clen) != FERRY_OK) {
        return FERRY_E_FORMAT;
    }
    ferry_key *k = NULL;
    ferry_cert *cert = NULL;
    /* a certificate (ssh-add adds one beside its key) is signed for with
     * its key, which the agent also holds */
    if (ferry_key_from_blob(blob, blen, &k) != FERRY_OK) {
        if (ferry_cert_from_blob(blob, blen, &cert) != FERRY_OK) {
            return FERRY_OK; /* FIDO, DSA, weak RSA...: left out */
        }
        k = ferry_key_ref(cert->key);
    }
    char *comment = strndup((const char *)cm, clen < AGENT_COMMENT_MAX ? clen : AGENT_COMMENT_MAX);
    if (comment == NULL) {
        ferry_key_free(k);
        ferry_cert_free(cert);
        return FERRY_E_ALLOC;
    }
    a->comments[a->n] = comment;
    a->ids[a->n] = (ferry_identity){
        .pub = k, .sign = ferry_agent_sign, .ctx = a, .label = comment, .cert = cert};
    a->n++;
    return FERRY_OK;
}

static int parse_identities(ferry_agent *a, const ferry_buf *reply)
{
    ferry_rd rd;
    uint8_t type;
    uint32_t nkeys;
    ferry_rd_from_buf(&rd, reply);
    if (ferry_rd_u8(&rd, &type) != FERRY_OK) {
        return FERRY_E_PROTOCOL;
    }
    if (type == SSH_AGENT_FAILURE) {
        return FERRY_E_PERMISSION;
    }
    if (type != SSH2_AGENT_IDENTITIES_ANSWER || ferry_rd_u32(&rd, &nkeys) != FERRY_OK) {
        return FERRY_E_PROTOCOL;
    }
    /* Each entry holds two strings: at least 8 bytes. */
    if (nkeys > AGENT_MAX_KEYS || nkeys > ferry_rd_left(&rd) / 8) {
        return FERRY_E_FORMAT;
    }
    a->ids = calloc(nkeys ? nkeys : 1, sizeof(*a->ids));
    a->comments = calloc(nkeys ? nkeys : 1, sizeof(*a->comments));
    if (a->ids == NULL || a->comments == NULL) {
        return FERRY_E_ALLOC;
    }
    for (uint32_t i = 0; i < nkeys; i++) {
        int r = add_identity(a, &rd);
        if (r != FERRY_OK) {
            return r;
        }
    }
    return ferry_rd_end(&rd);
}

int ferry_agent_identities(ferry_agent *a, const ferry_identity **ids, size_t *n)
{
    if (!a->loaded) {
        ferry_buf *req = ferry_buf_new(16), *reply = ferry_buf_new(AGENT_MSG_MAX);
        int r =
            req && reply ? ferry_buf_put_u8(req, SSH2_AGENTC_REQUEST_IDENTITIES) : FERRY_E_ALLOC;
        if (r == FERRY_OK) {
            r = agent_call(a, req, reply);
        }
        if (r == FERRY_OK) {
            r = parse_identities(a, reply);
        }
        ferry_buf_free(req);
        ferry_buf_free(reply);
        if (r != FERRY_OK) {
            agent_drop_ids(a);
            return r;
        }
        a->loaded = 1;
    }
    *ids = a->ids;
    *n = a->n;
    return FERRY_OK;
}

/* ---- signing ---- */

static int build_sign_request(const ferry_key *pub, const char *sigalg, const uint8_t *data,
                              size_t len, ferry_buf *req)
{
    uint32_t flags = 0;
    if (strcmp(sigalg, "rsa-sha2-256") == 0) {
        flags = SSH_AGENT_RSA_SHA2_256;
    } else if (strcmp(sigalg, "rsa-sha2-512") == 0) {
        flags = SSH_AGENT_RSA_SHA2_512;
    }
    int r = ferry_buf_put_u8(req, SSH2_AGENTC_SIGN_REQUEST);
    if (r == FERRY_OK) {
        size_t at = ferry_buf_len(req);
        r = ferry_buf_put_u32(req, 0);
        if (r == FERRY_OK) {
            r = ferry_key_to_blob(pub, req);
        }
        if (r == FERRY_OK) {
            r = ferry_buf_poke_u32(req, at, (uint32_t)(ferry_buf_len(req) - at - 4));
        }
    }
    if (r == FERRY_OK) {
        r = ferry_buf_put_string(req, data, len);
    }
    if (r == FERRY_OK) {
        r = ferry_buf_put_u32(req, flags);
    }
    return r;
}

static int parse_sign_response(const ferry_buf *reply, const uint8_t **sig, size_t *siglen)
{
    ferry_rd rd;
    uint8_t type;
    ferry_rd_from_buf(&rd, reply);
    if (ferry_rd_u8(&rd, &type) != FERRY_OK) {
        return FERRY_E_PROTOCOL;
    }
    if (type == SSH_AGENT_FAILURE || type == SSH_AGENT_EXTENSION_FAILURE) {
        return FERRY_E_PERMISSION;
    }
    if (type != SSH2_AGENT_SIGN_RESPONSE || ferry_rd_string(&rd, sig, siglen) != FERRY_OK ||
        ferry_rd_end(&rd) != FERRY_OK) {
        return FERRY_E_PROTOCOL;
    }
    return FERRY_OK;
}

int ferry_agent_sign(void *agent, const ferry_key *pub, const char *sigalg, const uint8_t *data,
                     size_t len, ferry_buf *sig)
{
    ferry_agent *a = agent;
    if (sigalg == NULL || !ferry_key_sigalg_ok(pub, sigalg)) {
        return FERRY_E_KEY_TYPE;
    }
    if (len > AGENT_MSG_MAX / 2) {
        return FERRY_E_TOO_LARGE;
    }
    ferry_buf *req = ferry_buf_new(AGENT_MSG_MAX), *reply = ferry_buf_new(AGENT_MSG_MAX);
    const uint8_t *s = NULL;
    size_t sl = 0;
    int r = req && reply ? build_sign_request(pub, sigalg, data, len, req) : FERRY_E_ALLOC;
    if (r == FERRY_OK) {
        r = agent_call(a, req, reply);
    }
    if (r == FERRY_OK) {
        r = parse_sign_response(reply, &s, &sl);
    }
    /* The agent must have used the algorithm asked for (an old agent may
     * answer an RSA request with "ssh-rsa"); checking the signature also
     * catches a confused agent before the server sees it. */
    if (r == FERRY_OK && ferry_key_verify(pub, sigalg, s, sl, data, len) != FERRY_OK) {
        r = FERRY_E_PROTOCOL;
    }
    if (r == FERRY_OK) {
        r = ferry_buf_put(sig, s, sl);
    }
    ferry_buf_free(req);
    ferry_buf_free(reply);
    return r;
}
