/* transport.c: the SSH-2 transport layer (RFC 4253) of the sans-I/O
 * session: version exchange, the binary packet protocol, output queue and
 * backpressure, DISCONNECT/IGNORE/DEBUG/UNIMPLEMENTED, and routing of
 * every received message (after the gate) to the layer that owns it.
 *
 * Packets are built where they will be sent: ferry__pkt_start reserves the
 * 5 header bytes in the output queue (channel data) or in a scratch buffer
 * (everything else), ferry__pkt_finish pads, seals in place and appends the
 * tag. Received packets are decrypted in place in the input buffer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "ssh/ssh_int.h"
#include "util/err.h"
#include "util/log.h"

#define VERSION_LINE_MAX 255u  /* RFC 4253 s4.2, CR LF included */
#define BANNER_MAX_LINES 1024u /* client: lines before the version line */
#define BANNER_MAX_BYTES (64u * 1024)
#define IN_MAX           (1024u * 1024) /* one partial packet plus a slice of input */
#define OUT_MAX          (96u * 1024 * 1024)
#define DEFERRED_MAX     (64u * 1024 * 1024)
#define MIN_PADDING      4u
#define DEFAULT_SOFTWARE "Ferry_0.1"

enum { PKT_NONE = 0, PKT_SCRATCH, PKT_INPLACE, PKT_DEFERRED };
enum { LAYER_KEX = 1, LAYER_AUTH = 2, LAYER_CONN = 4, LAYER_STARTED = 8 };

/* ---- small helpers ---- */

uint32_t ferry__disconnect_reason(int err)
{
    switch (err) {
    case FERRY_E_MAC_INVALID:
        return SSH_DISCONNECT_MAC_ERROR;
    case FERRY_E_NO_ALG_MATCH:
    case FERRY_E_KEY_WEAK:
    case FERRY_E_KEY_TYPE:
    case FERRY_E_SIGNATURE_INVALID:
        return SSH_DISCONNECT_KEY_EXCHANGE_FAILED;
    case FERRY_E_HOSTKEY_UNKNOWN:
    case FERRY_E_HOSTKEY_CHANGED:
        return SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE;
    case FERRY_E_AUTH_DENIED:
        return SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE;
    case FERRY_E_UNSUPPORTED:
        return SSH_DISCONNECT_SERVICE_NOT_AVAILABLE;
    case FERRY_E_ALLOC:
    case FERRY_E_INTERNAL:
    case FERRY_E_LIBCRYPTO:
    case FERRY_E_SYSTEM:
    case FERRY_E_CLOSED:
    case FERRY_E_TIMEOUT:
    case FERRY_E_LIMIT:
        return SSH_DISCONNECT_BY_APPLICATION;
    default:
        return SSH_DISCONNECT_PROTOCOL_ERROR;
    }
}

uint64_t ferry__now_ms(const ferry_ssh *s)
{
    if (s->cfg.now_ms != NULL) {
        return s->cfg.now_ms(s->cfg.clock_ctx);
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}


/* Copies a peer-supplied text into out, replacing anything unprintable. */
static void copy_printable(char *out, size_t outsz, const uint8_t *p, size_t n)
{
    size_t i = 0;
    for (; i < n && i + 1 < outsz; i++) {
        out[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
    }
    out[i] = '\0';
}

/* Messages that must wait while our KEXINIT is out and our NEWKEYS is not
 * (RFC 4253 s7.1): everything but transport 1-4 and kex 20-49. */
static int deferrable(uint8_t msg)
{
    return !((msg >= 1 && msg <= 4) || (msg >= 20 && msg <= 49));
}

size_t ferry__out_backlog(const ferry_ssh *s)
{
    return ferry_buf_len(s->out) + ferry_buf_len(s->deferred);
}

/* ---- session lifecycle ---- */

static int set_version(ferry_ssh *s)
{
    const char *sw = s->cfg.software != NULL ? s->cfg.software : DEFAULT_SOFTWARE;
    int n = snprintf(s->our_version, sizeof(s->our_version), "SSH-2.0-%s", sw);
    if (n < 0 || (size_t)n + 2 > VERSION_LINE_MAX) {
        return FERRY_E_INVALID_ARG;
    }
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s->our_version[i];
        if (c < 0x20 || c >= 0x7f) {
            return FERRY_E_INVALID_ARG;
        }
    }
    return FERRY_OK;
}

static int session_alloc(ferry_ssh *s)
{
    s->in = ferry_buf_new(IN_MAX);
    s->out = ferry_buf_new(OUT_MAX);
    s->pkt = ferry_buf_new(FERRY_SSH_MAX_PACKET);
    s->deferred = ferry_buf_new(DEFERRED_MAX);
    if (s->in == NULL || s->out == NULL || s->pkt == NULL || s->deferred == NULL) {
        return FERRY_E_ALLOC;
    }
    return FERRY_OK;
}

int ferry_ssh_new(ferry_ssh **out, const ferry_ssh_config *cfg)
{
    int r = FERRY_E_INTERNAL;
    ferry_ssh *s = NULL;
    if (out == NULL || cfg == NULL) {
        return FERRY_E_INVALID_ARG;
    }
    *out = NULL;
    if (cfg->role == FERRY_ROLE_SERVER && (cfg->host_keys == NULL || cfg->n_host_keys == 0)) {
        return FERRY_E_INVALID_ARG;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        return FERRY_E_ALLOC;
    }
    s->cfg = *cfg;
    s->state = FERRY_ST_VERSION;
    s->last_rx_ms = ferry__now_ms(s);
    if ((r = set_version(s)) != FERRY_OK || (r = session_alloc(s)) != FERRY_OK) {
        goto out;
    }
    if ((r = ferry__kex_init(s)) != FERRY_OK) {
        goto out;
    }
    s->layers |= LAYER_KEX;
    if ((r = ferry__auth_init(s)) != FERRY_OK) {
        goto out;
    }
    s->layers |= LAYER_AUTH;
    if ((r = ferry__conn_init(s)) != FERRY_OK) {
        goto out;
    }
    s->layers |= LAYER_CONN;
    *out = s;
    s = NULL;
    r = FERRY_OK;
out:
    ferry_ssh_free(s);
    return r;
}

void ferry_ssh_free(ferry_ssh *s)
{
    if (s == NULL) {
        return;
    }
    if (s->layers & LAYER_CONN) {
        ferry__conn_free(s);
    }
    if (s->layers & LAYER_AUTH) {
        ferry__auth_free(s);
    }
    if (s->layers & LAYER_KEX) {
        ferry__kex_free(s);
    }
    ferry__comp_free(s);
    ferry_pcrypt_free(s->tx.pc);
    ferry_pcrypt_free(s->rx.pc);
    ferry_buf_free(s->in);
    ferry_buf_free(s->out);
    ferry_buf_free(s->pkt);
    ferry_buf_free(s->deferred);
    ferry_key_free(s->peer_hostkey);
    free(s->server_sig_algs);
    OPENSSL_cleanse(s, sizeof(*s));
    free(s);
}

int ferry_ssh_start(ferry_ssh *s)
{
    if (s->layers & LAYER_STARTED) {
        return FERRY_OK;
    }
    if (s->closed) {
        return FERRY_E_CLOSED;
    }
    s->layers |= LAYER_STARTED;
    int r = ferry_buf_put(s->out, s->our_version, strlen(s->our_version));
    if (r == FERRY_OK) {
        r = ferry_buf_put(s->out, "\r\n", 2);
    }
    if (r != FERRY_OK) {
        return ferry__fail(s, r, 0, "cannot queue the version line");
    }
    s->last_kex_ms = ferry__now_ms(s);
    if (s->cfg.role == FERRY_ROLE_CLIENT && s->cfg.kex_guess && !s->version_done) {
        s->kexinit_after_version = 1; /* half a round trip: servers send theirs at once */
        return FERRY_OK;
    }
    return ferry__kex_send_kexinit(s);
}

/* ---- packet output ---- */

/* n (< the pool) fresh random bytes: the pool's next ones, refilled from
 * RAND_bytes when too few are left. */
static int random_padding(ferry_ssh *s, uint8_t *dst, size_t n)
{
    if (s->padpool_left < n) {
        if (RAND_bytes(s->padpool, (int)sizeof(s->padpool)) != 1) {
            return ferry_err_crypto();
        }
        s->padpool_left = sizeof(s->padpool);
    }
    memcpy(dst, s->padpool + sizeof(s->padpool) - s->padpool_left, n);
    s->padpool_left -= n;
    return FERRY_OK;
}

/* Pads, seals and accounts the packet whose 5 header bytes start at `off`
 * in s->out and whose payload runs to the end of s->out. */
static int seal_at(ferry_ssh *s, size_t off)
{
    uint8_t msgno = ferry_buf_len(s->out) > off + 5 ? ferry_buf_data(s->out)[off + 5] : 0;
    int r = ferry__comp_out(s, s->out, off + 5);
    if (r != FERRY_OK) {
        return r;
    }
    ferry_pcrypt *pc = s->tx.pc;
    size_t block = pc != NULL ? ferry_pcrypt_block_len(pc) : 8;
    size_t tag = pc != NULL ? ferry_pcrypt_tag_len(pc) : 0;
    size_t plen = ferry_buf_len(s->out) - off - 5;
    size_t unpadded = 1 + plen + (s->tx_aad ? 0 : 4);
    size_t pad = block - unpadded % block;
    if (pad < MIN_PADDING) {
        pad += block;
    }
    size_t pktlen = 1 + plen + pad;
    uint8_t *dst = NULL;
    if (pktlen > FERRY_SSH_MAX_PACKET) {
        return FERRY_E_TOO_LARGE;
    }
    r = ferry_buf_reserve(s->out, pad + tag, &dst);
    if (r != FERRY_OK) {
        return r;
    }
    if ((r = random_padding(s, dst, pad)) != FERRY_OK) {
        return r;
    }
    uint8_t *pkt = ferry_buf_mdata(s->out) + off;
    ferry_store_u32(pkt, (uint32_t)pktlen);
    pkt[4] = (uint8_t)pad;
    if (pc != NULL &&
        (r = ferry_pcrypt_seal(pc, s->tx.seqnr, pkt, 4 + pktlen, pkt + 4 + pktlen)) != FERRY_OK) {
        return r;
    }
    s->tx.seqnr++;
    s->tx.bytes += 4 + pktlen + tag;
    s->tx.packets++;
    if (msgno == SSH_MSG_USERAUTH_SUCCESS && s->cfg.role == FERRY_ROLE_SERVER) {
        return ferry__comp_auth_done(s); /* after the packet that announces it */
    }
    return FERRY_OK;
}

/* Queues a complete payload (msgno first) as a packet now, bypassing the
 * kex deferral (for transport/kex messages and the deferred flush). */
static int send_now(ferry_ssh *s, const uint8_t *payload, size_t len)
{
    size_t off = ferry_buf_len(s->out);
    uint8_t *hdr = NULL;
    int r = ferry_buf_reserve(s->out, 5, &hdr);
    if (r == FERRY_OK) {
        r = ferry_buf_put(s->out, payload, len);
    }
    if (r == FERRY_OK) {
        r = seal_at(s, off);
    }
    if (r != FERRY_OK) {
        (void)ferry_buf_truncate(s->out, off);
    }
    return r;
}

int ferry__pkt_start(ferry_ssh *s, uint8_t msgno, ferry_buf **payload)
{
    int r = FERRY_E_INTERNAL;
    uint8_t *hdr = NULL;
    if (s->pkt_where != PKT_NONE) {
        return FERRY_E_INTERNAL;
    }
    if (s->closed) {
        return FERRY_E_CLOSED;
    }
    if (msgno == SSH_MSG_CHANNEL_DATA || msgno == SSH_MSG_CHANNEL_EXTENDED_DATA) {
        if (s->tx_kex) {
            s->pkt_off = ferry_buf_len(s->deferred);
            s->pkt_where = PKT_DEFERRED;
            r = ferry_buf_put_u32(s->deferred, 0);
            *payload = s->deferred;
        } else {
            s->pkt_off = ferry_buf_len(s->out);
            s->pkt_where = PKT_INPLACE;
            r = ferry_buf_reserve(s->out, 5, &hdr);
            *payload = s->out;
        }
    } else {
        ferry_buf_reset(s->pkt);
        s->pkt_where = PKT_SCRATCH;
        r = FERRY_OK;
        *payload = s->pkt;
    }
    if (r == FERRY_OK) {
        r = ferry_buf_put_u8(*payload, msgno);
    }
    if (r != FERRY_OK) {
        ferry__pkt_abort(s);
        *payload = NULL;
    }
    return r;
}

void ferry__pkt_abort(ferry_ssh *s)
{
    switch (s->pkt_where) {
    case PKT_INPLACE:
        (void)ferry_buf_truncate(s->out, s->pkt_off);
        break;
    case PKT_DEFERRED:
        (void)ferry_buf_truncate(s->deferred, s->pkt_off);
        break;
    case PKT_SCRATCH:
        ferry_buf_reset(s->pkt);
        break;
    default:
        break;
    }
    s->pkt_where = PKT_NONE;
}

/* Appends one deferred entry (u32 len || payload). */
static int defer_payload(ferry_ssh *s, const uint8_t *p, size_t n)
{
    int r = ferry_buf_put_u32(s->deferred, (uint32_t)n);
    if (r == FERRY_OK) {
        r = ferry_buf_put(s->deferred, p, n);
    }
    return r;
}

int ferry__pkt_finish(ferry_ssh *s)
{
    int r = FERRY_E_INTERNAL;
    int sent = 0;
    switch (s->pkt_where) {
    case PKT_SCRATCH: {
        const uint8_t *p = ferry_buf_data(s->pkt);
        size_t n = ferry_buf_len(s->pkt);
        if (s->tx_kex && deferrable(p[0])) {
            r = n > FERRY_SSH_MAX_PACKET - 256 ? FERRY_E_TOO_LARGE : defer_payload(s, p, n);
        } else {
            r = send_now(s, p, n);
            sent = 1;
        }
        break;
    }
    case PKT_INPLACE:
        r = seal_at(s, s->pkt_off);
        sent = 1;
        break;
    case PKT_DEFERRED: {
        size_t n = ferry_buf_len(s->deferred) - s->pkt_off - 4;
        r = n > FERRY_SSH_MAX_PACKET - 256
                ? FERRY_E_TOO_LARGE
                : ferry_buf_poke_u32(s->deferred, s->pkt_off, (uint32_t)n);
        break;
    }
    default:
        return s->closed ? FERRY_E_CLOSED : FERRY_E_INTERNAL;
    }
    if (r != FERRY_OK) {
        ferry__pkt_abort(s);
        return r;
    }
    s->pkt_where = PKT_NONE;
    return sent ? ferry__kex_maybe_rekey(s) : FERRY_OK;
}

int ferry__pkt_send_raw(ferry_ssh *s, const uint8_t *payload, size_t len)
{
    ferry_buf *b = NULL;
    if (len == 0) {
        return FERRY_E_INVALID_ARG;
    }
    int r = ferry__pkt_start(s, payload[0], &b);
    if (r != FERRY_OK) {
        return r;
    }
    if ((r = ferry_buf_put(b, payload + 1, len - 1)) != FERRY_OK) {
        ferry__pkt_abort(s);
        return r;
    }
    return ferry__pkt_finish(s);
}

int ferry__flush_deferred(ferry_ssh *s)
{
    ferry_rd rd;
    int r = FERRY_OK;
    ferry_rd_from_buf(&rd, s->deferred);
    while (r == FERRY_OK && ferry_rd_left(&rd) > 0) {
        uint32_t n = 0;
        const uint8_t *p = NULL;
        if ((r = ferry_rd_u32(&rd, &n)) == FERRY_OK &&
            (r = ferry_rd_bytes(&rd, n, &p)) == FERRY_OK) {
            r = send_now(s, p, n);
        }
    }
    ferry_buf_reset(s->deferred);
    return r;
}

void ferry__set_keys(ferry_ssh *s, int tx, ferry_pcrypt *pc)
{
    ferry_dir *d = tx ? &s->tx : &s->rx;
    ferry_pcrypt_free(d->pc);
    d->pc = pc;
    d->bytes = 0;
    d->packets = 0;
    if (s->strict_kex) {
        d->seqnr = 0; /* PROTOCOL strict kex: reset after every NEWKEYS */
    }
    /* When the length is handled apart (clear for EtM/GCM, its own key for
     * chacha20-poly1305), padding covers only what follows it. */
    int aad = pc != NULL && ferry_pcrypt_first_len(pc) == 4;
    if (tx) {
        s->tx_aad = aad;
    } else {
        s->rx_aad = aad;
    }
}

/* ---- closing ---- */

static void send_disconnect(ferry_ssh *s, uint32_t reason, const char *msg)
{
    if (!(s->layers & LAYER_STARTED)) {
        return;
    }
    ferry_buf *b = ferry_buf_new(1024);
    if (b == NULL) {
        return;
    }
    size_t n = strlen(msg);
    if (n > 900) {
        n = 900;
    }
    if (ferry_buf_put_u8(b, SSH_MSG_DISCONNECT) == FERRY_OK &&
        ferry_buf_put_u32(b, reason) == FERRY_OK && ferry_buf_put_string(b, msg, n) == FERRY_OK &&
        ferry_buf_put_cstring(b, "") == FERRY_OK) {
        (void)send_now(s, ferry_buf_data(b), ferry_buf_len(b));
    }
    ferry_buf_free(b);
}

static void mark_closed(ferry_ssh *s, int err)
{
    s->closed = 1;
    s->close_err = err;
    s->state = FERRY_ST_CLOSED;
}

int ferry__fail(ferry_ssh *s, int err, uint32_t reason, const char *fmt, ...)
{
    if (s->closed) {
        return err;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->close_msg, sizeof(s->close_msg), fmt, ap);
    va_end(ap);
    ferry__pkt_abort(s);
    if (reason == 0) {
        reason = ferry__disconnect_reason(err);
    }
    send_disconnect(s, reason, s->close_msg);
    mark_closed(s, err);
    ferry_debug("ssh: %s: %s (%s)", s->cfg.role == FERRY_ROLE_SERVER ? "server" : "client",
                s->close_msg, ferry_errname(err));
    return err;
}

void ferry_ssh_disconnect(ferry_ssh *s, uint32_t reason, const char *msg)
{
    if (s->closed) {
        return;
    }
    ferry__pkt_abort(s);
    snprintf(s->close_msg, sizeof(s->close_msg), "%s", msg != NULL ? msg : "");
    send_disconnect(s, reason, s->close_msg);
    mark_closed(s, FERRY_E_CLOSED);
}

int ferry_ssh_is_closed(const ferry_ssh *s)
{
    return s->closed;
}

int ferry_ssh_close_reason(const ferry_ssh *s, const char **msg)
{
    if (msg != NULL) {
        *msg = s->close_msg;
    }
    return s->closed ? s->close_err : FERRY_OK;
}

/* ---- input: version exchange ---- */

/* The peer's version line (RFC 4253 s4.2) is in line[0..n) without the
 * line ending. */
static int on_version_line(ferry_ssh *s, const uint8_t *line, size_t n)
{
    if (n + 2 > VERSION_LINE_MAX) {
        return ferry__fail(s, FERRY_E_TOO_LARGE, SSH_DISCONNECT_PROTOCOL_ERROR,
                           "version line too long");
    }
    for (size_t i = 0; i < n; i++) {
        if (line[i] < 0x20 || line[i] >= 0x7f) {
            return ferry__fail(s, FERRY_E_FORMAT, SSH_DISCONNECT_PROTOCOL_ERROR,
                               "bad character in version line");
        }
    }
    if (!(n >= 8 && memcmp(line, "SSH-2.0-", 8) == 0) &&
        !(n >= 9 && memcmp(line, "SSH-1.99-", 9) == 0)) {
        return ferry__fail(s, FERRY_E_UNSUPPORTED, SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED,
                           "protocol version not supported");
    }
    memcpy(s->peer_version, line, n);
    s->peer_version[n] = '\0';
    s->version_done = 1;
    s->state = FERRY_ST_KEX_FIRST;
    if (s->kexinit_after_version) {
        s->kexinit_after_version = 0;
        return ferry__kex_send_kexinit(s);
    }
    return FERRY_OK;
}

/* Consumes lines until the version line. FERRY_E_INCOMPLETE for more. */
static int version_step(ferry_ssh *s)
{
    const uint8_t *p = ferry_buf_data(s->in);
    size_t n = ferry_buf_len(s->in);
    int server = s->cfg.role == FERRY_ROLE_SERVER;
    size_t look = n < 4 ? n : 4;
    if (memcmp(p, "SSH-", look) != 0 && server) {
        return ferry__fail(s, FERRY_E_PROTOCOL, SSH_DISCONNECT_PROTOCOL_ERROR,
                           "expected an SSH version line");
    }
    const uint8_t *eol = memchr(p, '\n', n);
    if (eol == NULL) {
        int is_version = look == 4 && memcmp(p, "SSH-", 4) == 0;
        if ((is_version && n >= VERSION_LINE_MAX) || s->banner_bytes + n > BANNER_MAX_BYTES) {
            return ferry__fail(s, FERRY_E_TOO_LARGE, SSH_DISCONNECT_PROTOCOL_ERROR,
                               "version line too long");
        }
        return FERRY_E_INCOMPLETE;
    }
    size_t linelen = (size_t)(eol - p) + 1;
    size_t textlen = linelen - 1;
    if (textlen > 0 && p[textlen - 1] == '\r') {
        textlen--;
    }
    if (textlen >= 4 && memcmp(p, "SSH-", 4) == 0) {
        int r = on_version_line(s, p, textlen);
        (void)ferry_buf_consume(s->in, linelen);
        return r;
    }
    s->banner_lines++;
    s->banner_bytes += linelen;
    if (s->banner_lines > BANNER_MAX_LINES || s->banner_bytes > BANNER_MAX_BYTES) {
        return ferry__fail(s, FERRY_E_TOO_LARGE, SSH_DISCONNECT_PROTOCOL_ERROR,
                           "too many lines before the version line");
    }
    (void)ferry_buf_consume(s->in, linelen);
    return FERRY_OK;
}

/* ---- input: transport messages and routing ---- */

static int on_disconnect(ferry_ssh *s, ferry_rd *rd)
{
    uint32_t reason = 0;
    const uint8_t *desc = NULL;
    size_t dlen = 0;
    char text[200];
    if (ferry_rd_u32(rd, &reason) != FERRY_OK || ferry_rd_string(rd, &desc, &dlen) != FERRY_OK) {
        desc = (const uint8_t *)"";
        dlen = 0;
    }
    copy_printable(text, sizeof(text), desc, dlen);
    snprintf(s->close_msg, sizeof(s->close_msg), "peer disconnected (%u): %s", (unsigned)reason,
             text);
    ferry__pkt_abort(s);
    mark_closed(s, FERRY_E_DISCONNECTED);
    return FERRY_E_DISCONNECTED;
}

static int on_debug(ferry_ssh *s, ferry_rd *rd)
{
    int display = 0;
    const uint8_t *m = NULL;
    size_t n = 0;
    char text[200];
    int r = ferry_rd_bool(rd, &display);
    if (r == FERRY_OK) {
        r = ferry_rd_string(rd, &m, &n);
    }
    if (r != FERRY_OK) {
        return ferry__fail(s, r, 0, "malformed DEBUG message");
    }
    copy_printable(text, sizeof(text), m, n);
    ferry_debug("ssh: peer debug: %s", text);
    return FERRY_OK;
}

static int send_unimplemented(ferry_ssh *s, uint32_t seq)
{
    ferry_buf *b = NULL;
    int r = ferry__pkt_start(s, SSH_MSG_UNIMPLEMENTED, &b);
    if (r == FERRY_OK && (r = ferry_buf_put_u32(b, seq)) != FERRY_OK) {
        ferry__pkt_abort(s);
    }
    return r == FERRY_OK ? ferry__pkt_finish(s) : r;
}

/* The transport owns the AUTH -> OPEN step (see ssh_int.h). */
static void note_auth(ferry_ssh *s)
{
    if (s->authenticated && s->state == FERRY_ST_AUTH) {
        s->state = FERRY_ST_OPEN;
    }
}

static int route(ferry_ssh *s, uint8_t msg, ferry_rd *rd)
{
    int r = FERRY_OK;
    if (msg == SSH_MSG_DISCONNECT) {
        return on_disconnect(s, rd);
    }
    if (msg == SSH_MSG_IGNORE) {
        return FERRY_OK;
    }
    if (msg == SSH_MSG_UNIMPLEMENTED) {
        uint32_t seq = 0;
        if (ferry_rd_u32(rd, &seq) != FERRY_OK) {
            return FERRY_E_FORMAT;
        }
        return ferry__kex_on_unimplemented(s, seq);
    }
    if (msg == SSH_MSG_DEBUG) {
        return on_debug(s, rd);
    }
    if (msg == SSH_MSG_EXT_INFO || (msg >= 20 && msg <= 49)) {
        return ferry__kex_dispatch(s, msg, rd);
    }
    if (msg == SSH_MSG_SERVICE_REQUEST || msg == SSH_MSG_SERVICE_ACCEPT ||
        (msg >= 50 && msg <= 79)) {
        if (s->state == FERRY_ST_OPEN && s->cfg.role == FERRY_ROLE_SERVER &&
            msg == SSH_MSG_USERAUTH_REQUEST) {
            return FERRY_OK; /* RFC 4252 s5.1: ignored after success */
        }
        r = ferry__auth_dispatch(s, msg, rd);
        note_auth(s);
        return r;
    }
    if (msg >= 80 && msg <= 127) {
        return ferry__conn_dispatch(s, msg, rd);
    }
    return FERRY_E_PROTOCOL;
}

static int dispatch(ferry_ssh *s, uint32_t seq, const uint8_t *payload, size_t plen)
{
    uint8_t msg = payload[0];
    ferry_rd rd;
    ferry_rd_init(&rd, payload + 1, plen - 1);
    s->last_rx_ms = ferry__now_ms(s); /* the peer is alive: any packet answers a keepalive */
    s->alive_sent = 0;
    if (msg == SSH_MSG_USERAUTH_FAILURE && s->stray_none_failure && s->state == FERRY_ST_OPEN &&
        !s->rx_kex) {
        s->stray_none_failure = 0; /* the late answer to "none": nothing to do */
        return FERRY_OK;
    }
    int g = ferry__gate(s->cfg.role, s->state, s->rx_kex, s->strict_kex, s->kex_count > 0, msg);
    if (g == FERRY_E_UNSUPPORTED) {
        return send_unimplemented(s, seq);
    }
    if (g != FERRY_OK) {
        return ferry__fail(s, FERRY_E_PROTOCOL, SSH_DISCONNECT_PROTOCOL_ERROR,
                           "unexpected message %u", (unsigned)msg);
    }
    int r = route(s, msg, &rd);
    if (r < 0 && !s->closed) {
        r = ferry__fail(s, r, 0, "message %u: %s", (unsigned)msg, ferry_strerror(r));
    }
    return r < 0 ? r : FERRY_OK;
}

/* ---- input: binary packets ---- */

/* Reads and checks packet_length (RFC 4253 s6.1); leaves it in rx_pktlen. */
static int peek_length(ferry_ssh *s)
{
    ferry_pcrypt *pc = s->rx.pc;
    size_t first = pc != NULL ? ferry_pcrypt_first_len(pc) : 4;
    size_t block = pc != NULL ? ferry_pcrypt_block_len(pc) : 8;
    uint32_t len = 0;
    if (ferry_buf_len(s->in) < first) {
        return FERRY_E_INCOMPLETE;
    }
    uint8_t *p = ferry_buf_mdata(s->in);
    if (pc == NULL) {
        len = ferry_load_u32(p);
    } else if (ferry_pcrypt_peek_len(pc, s->rx.seqnr, p, &len) != FERRY_OK) {
        return ferry__fail(s, FERRY_E_FORMAT, SSH_DISCONNECT_PROTOCOL_ERROR, "bad packet length");
    }
    s->rx_peeked = 1;
    s->rx_pktlen = len;
    if (len > FERRY_SSH_MAX_PACKET) {
        return ferry__fail(s, FERRY_E_TOO_LARGE, SSH_DISCONNECT_PROTOCOL_ERROR,
                           "packet length %u over the limit", (unsigned)len);
    }
    size_t covered = s->rx_aad ? len : (size_t)len + 4;
    if (len < 1 + MIN_PADDING || covered % block != 0 || (size_t)len + 4 < first) {
        return ferry__fail(s, FERRY_E_FORMAT, SSH_DISCONNECT_PROTOCOL_ERROR, "bad packet length %u",
                           (unsigned)len);
    }
    return FERRY_OK;
}

static int packet_step(ferry_ssh *s)
{
    int r;
    if (!s->rx_peeked && (r = peek_length(s)) != FERRY_OK) {
        return r;
    }
    ferry_pcrypt *pc = s->rx.pc;
    size_t tag = pc != NULL ? ferry_pcrypt_tag_len(pc) : 0;
    size_t n = 4 + (size_t)s->rx_pktlen;
    if (ferry_buf_len(s->in) < n + tag) {
        return FERRY_E_INCOMPLETE;
    }
    uint8_t *p = ferry_buf_mdata(s->in);
    if (pc != NULL && (r = ferry_pcrypt_open(pc, s->rx.seqnr, p, n, p + n)) != FERRY_OK) {
        return ferry__fail(s, r == FERRY_E_MAC_INVALID ? r : FERRY_E_MAC_INVALID,
                           SSH_DISCONNECT_MAC_ERROR, "corrupted packet (MAC)");
    }
    uint8_t pad = p[4];
    if (pad < MIN_PADDING || (size_t)pad + 1 >= s->rx_pktlen) {
        return ferry__fail(s, FERRY_E_FORMAT, SSH_DISCONNECT_PROTOCOL_ERROR, "bad padding");
    }
    uint32_t seq = s->rx.seqnr++;
    s->rx.bytes += n + tag;
    s->rx.packets++;
    s->rx_peeked = 0;
    const uint8_t *payload = p + 5;
    size_t plen = s->rx_pktlen - 1 - pad;
    if ((r = ferry__comp_in(s, &payload, &plen)) != FERRY_OK) {
        return r;
    }
    r = dispatch(s, seq, payload, plen);
    if (!s->closed) {
        (void)ferry_buf_consume(s->in, n + tag);
    }
    if (r == FERRY_OK && !s->closed) {
        r = ferry__kex_maybe_rekey(s);
    }
    return r;
}

static int process_input(ferry_ssh *s)
{
    for (;;) {
        if (s->closed) {
            return s->close_err;
        }
        int r = s->version_done ? packet_step(s) : version_step(s);
        if (r == FERRY_E_INCOMPLETE) {
            return FERRY_OK;
        }
        if (r != FERRY_OK) {
            return r;
        }
    }
}

/* Takes n bytes into the input buffer (from data, or already there when
 * data is NULL: ferry_ssh_input_commit) and processes what is complete. */
static int take_input(ferry_ssh *s, const uint8_t *data, size_t len)
{
    int r = FERRY_OK;
    if (s->closed) {
        return s->close_err != FERRY_OK ? s->close_err : FERRY_E_CLOSED;
    }
    if (s->in_input) {
        return FERRY_E_INTERNAL;
    }
    s->in_input = 1;
    while (len > 0 && r == FERRY_OK && !s->closed) {
        size_t room = IN_MAX - ferry_buf_len(s->in);
        size_t n = len < room ? len : room;
        uint8_t *dst = NULL;
        if (n == 0 || (r = ferry_buf_reserve(s->in, n, &dst)) != FERRY_OK) {
            r = ferry__fail(s, FERRY_E_INTERNAL, 0, "input buffer full");
            break;
        }
        if (data != NULL) {
            memcpy(dst, data, n);
            data += n;
        }
        len -= n;
        r = process_input(s);
    }
    s->in_input = 0;
    if (s->closed) {
        return s->close_err != FERRY_OK ? s->close_err : FERRY_E_CLOSED;
    }
    return r;
}

int ferry_ssh_input(ferry_ssh *s, const uint8_t *data, size_t len)
{
    return take_input(s, data, len);
}

uint8_t *ferry_ssh_input_space(ferry_ssh *s, size_t want, size_t *room)
{
    size_t held = ferry_buf_len(s->in);
    size_t n = IN_MAX - held < want ? IN_MAX - held : want;
    uint8_t *p = NULL;
    *room = 0;
    if (s->closed || s->in_input || n == 0 || ferry_buf_reserve(s->in, n, &p) != FERRY_OK) {
        return NULL;
    }
    (void)ferry_buf_truncate(s->in, held); /* the room stays allocated */
    *room = n;
    return p;
}

int ferry_ssh_input_commit(ferry_ssh *s, size_t n)
{
    if (n > IN_MAX - ferry_buf_len(s->in)) {
        return FERRY_E_INVALID_ARG; /* more than ferry_ssh_input_space gave */
    }
    /* the bytes are where ferry_ssh_input_space put them: reserving them
     * again finds the room it made, so nothing moves */
    return take_input(s, NULL, n);
}

/* ---- output and timers ---- */

const uint8_t *ferry_ssh_output(ferry_ssh *s, size_t *len)
{
    *len = s->pkt_where == PKT_INPLACE ? s->pkt_off : ferry_buf_len(s->out);
    return ferry_buf_data(s->out);
}

void ferry_ssh_output_consume(ferry_ssh *s, size_t n)
{
    size_t held = ferry_buf_len(s->out);
    size_t before = ferry__out_backlog(s);
    if (n > held) {
        n = held;
    }
    (void)ferry_buf_consume(s->out, n);
    size_t after = ferry__out_backlog(s);
    int crossed =
        (before >= FERRY__OUT_LOW && after < FERRY__OUT_LOW) || (before > 0 && after == 0);
    if (crossed && s->state == FERRY_ST_OPEN && !s->closed && s->pkt_where == PKT_NONE) {
        int r = ferry__conn_pump(s);
        if (r < 0 && !s->closed) {
            (void)ferry__fail(s, r, 0, "connection layer: %s", ferry_strerror(r));
        }
    }
}

int ferry_ssh_want_input(const ferry_ssh *s)
{
    /* Only what the socket can drain counts: packets deferred during a
     * key exchange go out when it completes, which needs the peer's kex
     * messages read (counting them deadlocked a rekey begun with more
     * than HIGH of replies in flight). Deferred packets are bounded by
     * the connection layer, which stops producing above HIGH. */
    return !s->closed && ferry_buf_len(s->out) <= FERRY__OUT_HIGH;
}

int ferry_ssh_tick(ferry_ssh *s, int64_t *next_ms)
{
    if (next_ms != NULL) {
        *next_ms = -1;
    }
    if (s->closed) {
        return FERRY_OK;
    }
    int64_t alive = -1;
    int r = ferry__kex_maybe_rekey(s);
    if (r == FERRY_OK) {
        r = ferry__conn_tick(s, &alive);
    }
    if (r != FERRY_OK) {
        return r;
    }
    if (next_ms != NULL) {
        int64_t kex = ferry__kex_next_ms(s);
        *next_ms = (kex < 0 || (alive >= 0 && alive < kex)) ? alive : kex;
    }
    return FERRY_OK;
}

int ferry_ssh_rekey(ferry_ssh *s)
{
    if (s->closed) {
        return FERRY_E_CLOSED;
    }
    if (s->state != FERRY_ST_AUTH && s->state != FERRY_ST_OPEN) {
        return FERRY_E_AGAIN;
    }
    return ferry__kex_send_kexinit(s);
}

/* ---- accessors ---- */

int ferry_ssh_is_authenticated(const ferry_ssh *s)
{
    return s->authenticated;
}

const char *ferry_ssh_user(const ferry_ssh *s)
{
    if (s->user[0] != '\0') {
        return s->user;
    }
    return s->cfg.role == FERRY_ROLE_CLIENT ? s->cfg.user : NULL;
}

const ferry_key *ferry_ssh_hostkey(const ferry_ssh *s)
{
    if (s->kex_count == 0) {
        return NULL;
    }
    return s->cfg.role == FERRY_ROLE_CLIENT ? s->peer_hostkey : s->our_hostkey;
}

const char *ferry_ssh_alg(const ferry_ssh *s, const char *what)
{
    static const struct {
        const char *name;
        size_t off;
    } map[] = {
        {"kex", offsetof(ferry_ssh, alg_kex)},
        {"hostkey", offsetof(ferry_ssh, alg_hostkey)},
        {"cipher_ctos", offsetof(ferry_ssh, alg_cipher[0])},
        {"cipher_stoc", offsetof(ferry_ssh, alg_cipher[1])},
        {"mac_ctos", offsetof(ferry_ssh, alg_mac[0])},
        {"mac_stoc", offsetof(ferry_ssh, alg_mac[1])},
    };
    for (size_t i = 0; what != NULL && i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(map[i].name, what) == 0) {
            return (const char *)s + map[i].off;
        }
    }
    return "";
}

const char *ferry_ssh_auth_method(const ferry_ssh *s)
{
    return s->auth_method;
}

const char *ferry_ssh_peer_version(const ferry_ssh *s)
{
    return s->version_done ? s->peer_version : NULL;
}

unsigned ferry_ssh_kex_count(const ferry_ssh *s)
{
    return s->kex_count;
}
