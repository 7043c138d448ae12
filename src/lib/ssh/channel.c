/* channel.c: the SSH connection protocol (RFC 4254): global requests,
 * session channels carrying a subsystem, a client's direct-tcpip
 * channel (ssh -W, for ProxyJump), flow control, EOF/CLOSE.
 *
 * Decisions (documented choices):
 * - Global requests of any kind are refused (REQUEST_FAILURE when a reply
 *   is wanted); replies to global requests are ignored (the only ones we
 *   send are keepalives, which any packet answers).
 * - Server: only "session" channels, up to cfg.max_channels (default 10,
 *   counting channels still closing); other types get OPEN_FAILURE
 *   ADMINISTRATIVELY_PROHIBITED (known forwarding/agent types) or
 *   UNKNOWN_CHANNEL_TYPE; over the limit RESOURCE_SHORTAGE. The only
 *   channel request honoured is one "subsystem" per channel; everything
 *   else (shell, exec, pty-req, env, ...) gets CHANNEL_FAILURE when a reply
 *   is wanted and the session goes on. Client: every channel open from the
 *   server is refused, every channel request from it too.
 * - Client: a direct-tcpip channel is open once confirmed (no request);
 *   its originator is given as 127.0.0.1 port 65535, as ssh -W does.
 * - Client: data written before the subsystem request is answered waits
 *   for the channel's confirmation and then follows the request (an SFTP
 *   INIT needs no extra round trip); if the request fails it is dropped
 *   and the channel closed.
 * - Flow control: our window starts at 4 MiB (cfg.window_start), grown
 *   eightfold, up to 32 MiB (cfg.window_max), while the window (not the
 *   consumer: it keeps at most a quarter of the window unconsumed) is
 *   what holds the peer back (see send_probe); cfg.window fixes it. Our
 *   max packet is what fits one of our 256 KiB packets (or
 *   cfg.max_packet). The peer's window and max packet are honoured
 *   exactly. WINDOW_ADJUST covers consumed bytes only and is sent once an
 *   eighth of our window is used (ADJUST_PART). Data beyond our window, a
 *   window adjust past 2^32-1, and data after the peer's EOF are protocol
 *   errors that end the session (RFC 4254 s5.2, s5.3: no data after EOF);
 *   a repeated EOF is ignored (Go's x/crypto/ssh sends one).
 *   A data packet longer than our max packet size but within the window is
 *   accepted (the packet-size limit of the transport still applies).
 *   Extended data (stderr) is counted against the window and dropped.
 * - Data that arrives after we sent CLOSE is dropped (RFC 4254 s5.3: the
 *   peer may have sent it before it saw our CLOSE).
 * - A consumer's on_data returning an error closes that channel (CLOSE
 *   sent, input dropped); the session goes on.
 * - Channels are freed only between callbacks: on the peer's CLOSE (after
 *   ours), on an OPEN_FAILURE, or when the session is freed; on_close is
 *   called exactly once, right before.
 */
#include <stdlib.h>
#include <string.h>

#include "ssh/ssh_int.h"
#include "util/err.h"
#include "util/log.h"

#define DEFAULT_WINDOW       (4u * 1024 * 1024)
#define GROW_MAX             (32u * 1024 * 1024) /* cfg.window_max 0 */
#define ADJUST_PART          8u                  /* see account() */
#define WINADJ_PROBE         "winadj@putty.projects.tartarus.org"
#define DEFAULT_MAX_CHANNELS 10u
#define CLIENT_MAX_CHANNELS  64u
/* Largest data we send in one packet or advertise as our max packet:
 * 9 bytes of CHANNEL_DATA header, padding and length fit in the rest. */
#define DATA_CAP (FERRY_SSH_MAX_PACKET - 1024u)
/* Data a channel queues beyond what the peer's window and our transport
 * backlog let out: it only waits there, so 1 MiB keeps the pipe full while
 * bounding what a peer that stops reading costs per channel (window +
 * this; test_server_slowreader.py). */
#define OUTQ_MAX     (1u * 1024 * 1024)
#define OUTQ_LOW     (OUTQ_MAX / 2)
#define NAME_MAX_LEN 64u

/* RFC 4254 s5.1 reason codes. */
enum {
    OPEN_ADMINISTRATIVELY_PROHIBITED = 1,
    OPEN_CONNECT_FAILED = 2,
    OPEN_UNKNOWN_CHANNEL_TYPE = 3,
    OPEN_RESOURCE_SHORTAGE = 4,
};

enum ch_state {
    CH_PENDING = 0, /* client: open not sent yet (not authenticated) */
    CH_OPENING,     /* client: CHANNEL_OPEN sent */
    CH_REQUEST,     /* client: confirmed, subsystem request in flight */
    CH_OPEN,        /* data may flow */
};

struct ferry_channel {
    ferry_ssh *s;
    uint32_t id, peer_id;
    enum ch_state state;
    int confirmed;     /* peer_id known */
    int open_reported; /* client: on_open called */
    int eof_rcvd, eof_reported, eof_wanted, eof_sent;
    int close_wanted, close_sent;
    int exit_wanted;
    uint32_t exit_status;
    int in_deliver;
    int above_low; /* outq reached the low-water mark since the last on_writable */
    uint32_t lwin, lwin_max, lmaxpkt, unacked;
    uint32_t grow_max; /* lwin_max grows up to this */
    int grow;            /* window auto-sizing (cfg.window 0) */
    int probing;         /* a window probe awaits its reply */
    uint32_t probe_win;  /* what the peer could send without our adjust */
    uint64_t probe_rcvd; /* bytes received since the probe */
    uint32_t rwin, rmaxpkt;
    uint32_t rwin_peak; /* the largest window the peer granted */
    ferry_buf *outq, *kept;
    const ferry_chan_consumer *ops;
    void *cctx;
    char subsystem[NAME_MAX_LEN];
    /* client "direct-tcpip" (ssh -W): where to, instead of a subsystem */
    char target[256];
    uint32_t target_port;
    /* ferry_channel_write_begin's packet: its payload buffer, the offset
     * of the data's length field, the bytes asked for */
    ferry_buf *wb;
    size_t wb_at, wb_want;
};

struct ferry_conn_state {
    ferry_channel **ch; /* index = our channel id */
    size_t cap;
    /* channel traffic either way, or a channel opened or closed (for
     * cfg.channel_idle_ms and cfg.unused_ms); 0 until the first tick */
    uint64_t last_io_ms;
};

/* Called for every channel packet: the clock is read only when a timeout
 * needs it. */
static void note_io(ferry_ssh *s)
{
    if (s->cfg.channel_idle_ms != 0 || s->cfg.unused_ms != 0) {
        s->conn->last_io_ms = ferry__now_ms(s);
    }
}

static int conn_fail(ferry_ssh *s, const char *what)
{
    return ferry__fail(s, FERRY_E_PROTOCOL, SSH_DISCONNECT_PROTOCOL_ERROR, "%s", what);
}

static int finish(ferry_ssh *s, int r)
{
    if (r != FERRY_OK) {
        ferry__pkt_abort(s);
        return r;
    }
    return ferry__pkt_finish(s);
}

/* ---- table ---- */

int ferry__conn_init(ferry_ssh *s)
{
    ferry_conn_state *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return FERRY_E_ALLOC;
    }
    if (s->cfg.role == FERRY_ROLE_SERVER) {
        c->cap = s->cfg.max_channels != 0 ? s->cfg.max_channels : DEFAULT_MAX_CHANNELS;
    } else {
        c->cap = CLIENT_MAX_CHANNELS;
    }
    if (c->cap > 1024) {
        c->cap = 1024;
    }
    c->ch = calloc(c->cap, sizeof(*c->ch));
    if (c->ch == NULL) {
        free(c);
        return FERRY_E_ALLOC;
    }
    s->conn = c;
    return FERRY_OK;
}

static int chan_new(ferry_ssh *s, ferry_channel **out)
{
    ferry_conn_state *c = s->conn;
    size_t i = 0;
    while (i < c->cap && c->ch[i] != NULL) {
        i++;
    }
    if (i == c->cap) {
        return FERRY_E_LIMIT;
    }
    ferry_channel *ch = calloc(1, sizeof(*ch));
    if (ch == NULL) {
        return FERRY_E_ALLOC;
    }
    ch->s = s;
    ch->id = (uint32_t)i;
    ch->grow = s->cfg.window == 0;
    ch->lwin_max = !ch->grow ? s->cfg.window
                   : s->cfg.window_start != 0 ? s->cfg.window_start
                                              : DEFAULT_WINDOW;
    ch->lwin = ch->lwin_max;
    ch->grow_max = s->cfg.window_max == 0 ? GROW_MAX : s->cfg.window_max;
    ch->grow_max = ch->grow_max < ch->lwin_max ? ch->lwin_max : ch->grow_max;
    ch->lmaxpkt =
        s->cfg.max_packet != 0 && s->cfg.max_packet < DATA_CAP ? s->cfg.max_packet : DATA_CAP;
    ch->outq = ferry_buf_new(OUTQ_MAX);
    ch->kept = ferry_buf_new((size_t)ch->lwin_max + 1);
    if (ch->outq == NULL || ch->kept == NULL) {
        ferry_buf_free(ch->outq);
        ferry_buf_free(ch->kept);
        free(ch);
        return FERRY_E_ALLOC;
    }
    c->ch[i] = ch;
    *out = ch;
    note_io(s);
    return FERRY_OK;
}

/* Calls on_close once and frees the channel. Never called from inside a
 * consumer callback of this channel. */
static void chan_free(ferry_channel *ch)
{
    ferry_conn_state *c = ch->s->conn;
    if (ch->ops != NULL && ch->ops->on_close != NULL) {
        ch->ops->on_close(ch->cctx, ch);
    }
    c->ch[ch->id] = NULL;
    note_io(ch->s);
    ferry_buf_free(ch->outq);
    ferry_buf_free(ch->kept);
    free(ch);
}

void ferry__conn_free(ferry_ssh *s)
{
    ferry_conn_state *c = s->conn;
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->cap; i++) {
        if (c->ch[i] != NULL) {
            chan_free(c->ch[i]);
        }
    }
    free(c->ch);
    free(c);
    s->conn = NULL;
}

/* The channel with our id `id` that the peer may talk about. */
static ferry_channel *lookup(ferry_ssh *s, uint32_t id, int want_confirmed)
{
    ferry_conn_state *c = s->conn;
    if (id >= c->cap || c->ch[id] == NULL) {
        return NULL;
    }
    ferry_channel *ch = c->ch[id];
    return (ch->confirmed == want_confirmed && ch->state != CH_PENDING) ? ch : NULL;
}

/* ---- sending ---- */

static int send_simple(ferry_channel *ch, uint8_t msg)
{
    ferry_buf *b = NULL;
    int r = ferry__pkt_start(ch->s, msg, &b);
    r = r == FERRY_OK ? ferry_buf_put_u32(b, ch->peer_id) : r;
    return finish(ch->s, r);
}

static int send_close(ferry_channel *ch)
{
    ch->close_sent = 1;
    ferry_buf_reset(ch->outq);
    return send_simple(ch, SSH_MSG_CHANNEL_CLOSE);
}

static int send_exit_status(ferry_channel *ch)
{
    ferry_buf *b = NULL;
    ch->exit_wanted = 0;
    int r = ferry__pkt_start(ch->s, SSH_MSG_CHANNEL_REQUEST, &b);
    r = r == FERRY_OK ? ferry_buf_put_u32(b, ch->peer_id) : r;
    r = r == FERRY_OK ? ferry_buf_put_cstring(b, "exit-status") : r;
    r = r == FERRY_OK ? ferry_buf_put_bool(b, 0) : r;
    r = r == FERRY_OK ? ferry_buf_put_u32(b, ch->exit_status) : r;
    return finish(ch->s, r);
}

/* Largest data packet we may send now (0 if none). */
static size_t send_limit(const ferry_channel *ch)
{
    /* CH_REQUEST: data written early follows the subsystem request (the
     * peer handles a channel's messages in order), saving a round trip */
    if ((ch->state != CH_OPEN && ch->state != CH_REQUEST) || ch->close_sent || ch->eof_sent ||
        ch->s->closed ||
        ferry__out_backlog(ch->s) >= FERRY__OUT_HIGH) {
        return 0;
    }
    size_t n = ch->rwin;
    if (n > ch->rmaxpkt) {
        n = ch->rmaxpkt;
    }
    return n < DATA_CAP ? n : DATA_CAP;
}

/* Sends from p[0..len) as far as the peer's window, its max packet and our
 * output backlog allow; *sent gets the count. */
static int send_from(ferry_channel *ch, const uint8_t *p, size_t len, size_t *sent)
{
    int r = FERRY_OK;
    size_t n;
    *sent = 0;
    while (*sent < len && (n = send_limit(ch)) > 0) {
        if (n > len - *sent) {
            n = len - *sent;
        }
        ferry_buf *b = NULL;
        r = ferry__pkt_start(ch->s, SSH_MSG_CHANNEL_DATA, &b);
        r = r == FERRY_OK ? ferry_buf_put_u32(b, ch->peer_id) : r;
        r = r == FERRY_OK ? ferry_buf_put_string(b, p + *sent, n) : r;
        if ((r = finish(ch->s, r)) != FERRY_OK) {
            return r;
        }
        ch->rwin -= (uint32_t)n;
        *sent += n;
        note_io(ch->s);
    }
    return r;
}

/* Sends queued data, then exit-status, EOF and CLOSE once the queue is
 * empty. */
static int flush(ferry_channel *ch)
{
    size_t sent = 0;
    if (!ch->confirmed || ch->close_sent) {
        return FERRY_OK;
    }
    int r = send_from(ch, ferry_buf_data(ch->outq), ferry_buf_len(ch->outq), &sent);
    (void)ferry_buf_consume(ch->outq, sent);
    if (r != FERRY_OK || ferry_buf_len(ch->outq) > 0) {
        return r;
    }
    if (ch->exit_wanted && ch->state == CH_OPEN && (r = send_exit_status(ch)) != FERRY_OK) {
        return r;
    }
    if (ch->eof_wanted && !ch->eof_sent && ch->state == CH_OPEN) {
        ch->eof_sent = 1;
        if ((r = send_simple(ch, SSH_MSG_CHANNEL_EOF)) != FERRY_OK) {
            return r;
        }
    }
    if (ch->close_wanted) {
        r = send_close(ch);
    }
    return r;
}

/* ---- receiving data ---- */

static int send_adjust(ferry_channel *ch)
{
    ferry_buf *b = NULL;
    int r = ferry__pkt_start(ch->s, SSH_MSG_CHANNEL_WINDOW_ADJUST, &b);
    r = r == FERRY_OK ? ferry_buf_put_u32(b, ch->peer_id) : r;
    r = r == FERRY_OK ? ferry_buf_put_u32(b, ch->unacked) : r;
    if ((r = finish(ch->s, r)) == FERRY_OK) {
        ch->lwin += ch->unacked;
        ch->unacked = 0;
    }
    return r;
}

/* Window auto-sizing without a clock (the technique of PuTTY's winadj
 * request): right after a WINDOW_ADJUST we send a channel request the peer
 * must answer (with FAILURE: it does not know it). Everything the peer
 * sent before it saw our adjust arrives before that answer. If that used
 * up (nearly) all the window the peer had without the adjust, the window
 * and not the consumer held the peer back: grow it eightfold (up to
 * grow_max: the default 4 MiB reaches 32 MiB in one probe, a 50 ms
 * path's bandwidth x delay within a round trip or two; the memory is
 * used only while the consumer falls behind, which stops the growth). */
static int send_probe(ferry_channel *ch, uint32_t peer_had)
{
    if (!ch->grow || ch->probing || ch->lwin_max >= ch->grow_max || ch->state != CH_OPEN) {
        return FERRY_OK;
    }
    ferry_buf *b = NULL;
    int r = ferry__pkt_start(ch->s, SSH_MSG_CHANNEL_REQUEST, &b);
    r = r == FERRY_OK ? ferry_buf_put_u32(b, ch->peer_id) : r;
    r = r == FERRY_OK ? ferry_buf_put_cstring(b, WINADJ_PROBE) : r;
    r = r == FERRY_OK ? ferry_buf_put_bool(b, 1) : r;
    if ((r = finish(ch->s, r)) == FERRY_OK) {
        ch->probing = 1;
        ch->probe_win = peer_had;
        ch->probe_rcvd = 0;
    }
    return r;
}

static int on_probe_reply(ferry_channel *ch)
{
    ch->probing = 0;
    /* kept: what the consumer left; a partial message of its own framing
     * (an SFTP WRITE spans several packets) is not a consumer holding
     * back, a quarter of the window is */
    if (ch->probe_rcvd + ch->lmaxpkt < ch->probe_win ||
        ferry_buf_len(ch->kept) > ch->lwin_max / 4 || ch->close_sent || ch->eof_rcvd ||
        ch->lwin_max >= ch->grow_max) {
        return FERRY_OK;
    }
    uint64_t room = ch->grow_max - ch->lwin_max;
    uint32_t add = (uint32_t)((uint64_t)ch->lwin_max * 7 < room ? (uint64_t)ch->lwin_max * 7 : room);
    int r = ferry_buf_set_max(ch->kept, (size_t)ch->lwin_max + add + 1);
    if (r != FERRY_OK) {
        return r;
    }
    ch->lwin_max += add;
    ch->unacked += add;
    ferry_debug("ssh: channel %u: window grown to %u", (unsigned)ch->id, (unsigned)ch->lwin_max);
    return send_adjust(ch);
}

/* Returns consumed bytes to the peer's window once an ADJUST_PART-th
 * (an eighth) of ours is used, not half: a server that writes a 32 MiB
 * window's data into the page cache takes about as long as a 50 ms round
 * trip, and returning the window in halves left the peer idle for a good
 * part of each round trip (put of 256 MiB over 50 ms: 320 -> 470 MB/s). */
static int account(ferry_channel *ch, size_t consumed)
{
    ch->unacked += (uint32_t)consumed;
    if (ch->unacked == 0 || ch->lwin > ch->lwin_max - ch->lwin_max / ADJUST_PART ||
        ch->close_sent || ch->eof_rcvd) {
        return FERRY_OK;
    }
    uint32_t peer_had = ch->lwin;
    int r = send_adjust(ch);
    return r == FERRY_OK ? send_probe(ch, peer_had) : r;
}

static int deliverable(const ferry_channel *ch)
{
    return ch->state == CH_OPEN && ch->ops != NULL && ch->ops->on_data != NULL &&
           !ch->close_wanted && !ch->close_sent && !ch->in_deliver;
}

static void maybe_eof(ferry_channel *ch)
{
    if (ch->eof_rcvd && !ch->eof_reported && ferry_buf_len(ch->kept) == 0 && ch->ops != NULL &&
        ch->state == CH_OPEN && !ch->in_deliver && !ch->close_sent) {
        ch->eof_reported = 1;
        if (ch->ops->on_eof != NULL) {
            ch->ops->on_eof(ch->cctx, ch);
        }
    }
}

/* Offers kept bytes followed by fresh[0..n) to the consumer once; keeps
 * what it does not take (copying only that). */
static int deliver(ferry_channel *ch, const uint8_t *fresh, size_t n)
{
    int r = FERRY_OK;
    if (ch->close_wanted || ch->close_sent) {
        return FERRY_OK; /* closing: input is dropped */
    }
    if (!deliverable(ch) || ferry_buf_len(ch->kept) > 0) {
        if (n > 0 && (r = ferry_buf_put(ch->kept, fresh, n)) != FERRY_OK) {
            return r;
        }
        if (!deliverable(ch)) {
            return FERRY_OK;
        }
        fresh = NULL;
    }
    const uint8_t *src = fresh != NULL ? fresh : ferry_buf_data(ch->kept);
    size_t len = fresh != NULL ? n : ferry_buf_len(ch->kept);
    if (len > 0) {
        ch->in_deliver = 1;
        long c = ch->ops->on_data(ch->cctx, ch, src, len);
        ch->in_deliver = 0;
        if (c < 0) {
            ferry_debug("ssh: channel %u: consumer error %s; closing", (unsigned)ch->id,
                        ferry_errname((int)c));
            ferry_buf_reset(ch->kept);
            ch->close_wanted = 1;
            return flush(ch);
        }
        size_t used = (size_t)c > len ? len : (size_t)c;
        if (fresh != NULL && used < len) {
            r = ferry_buf_put(ch->kept, fresh + used, len - used);
        } else if (fresh == NULL) {
            r = ferry_buf_consume(ch->kept, used);
        }
        r = r == FERRY_OK ? account(ch, used) : r;
    }
    maybe_eof(ch);
    return r;
}

/* ---- connection protocol messages ---- */

static int on_global_request(ferry_ssh *s, ferry_rd *rd)
{
    const uint8_t *name = NULL;
    size_t n = 0;
    int want = 0;
    int r = ferry_rd_string(rd, &name, &n);
    r = r == FERRY_OK ? ferry_rd_bool(rd, &want) : r;
    if (r != FERRY_OK) {
        return conn_fail(s, "malformed global request");
    }
    if (!want) {
        return FERRY_OK;
    }
    ferry_buf *b = NULL;
    r = ferry__pkt_start(s, SSH_MSG_REQUEST_FAILURE, &b);
    return finish(s, r);
}

/* ---- keepalives ---- */

static int any_channel(const ferry_ssh *s)
{
    for (size_t i = 0; i < s->conn->cap; i++) {
        if (s->conn->ch[i] != NULL) {
            return 1;
        }
    }
    return 0;
}

/* ChannelTimeout / UnusedConnectionTimeout: the connection is closed
 * after cfg.channel_idle_ms without channel traffic while a channel is
 * open, or cfg.unused_ms without any channel. */
static int idle_tick(ferry_ssh *s, uint64_t now, int64_t *next_ms)
{
    int open = any_channel(s);
    uint64_t limit = open ? s->cfg.channel_idle_ms : s->cfg.unused_ms;
    if (limit == 0) {
        return FERRY_OK;
    }
    if (s->conn->last_io_ms == 0) {
        s->conn->last_io_ms = now; /* authenticated just now */
    }
    uint64_t due = s->conn->last_io_ms + limit;
    if (now >= due) {
        return ferry__fail(s, FERRY_E_TIMEOUT, SSH_DISCONNECT_BY_APPLICATION,
                           open ? "channel idle for %llu s" : "no channel for %llu s",
                           (unsigned long long)(limit / 1000));
    }
    *next_ms = (int64_t)(due - now);
    return FERRY_OK;
}

int ferry__conn_tick(ferry_ssh *s, int64_t *next_ms)
{
    uint64_t every = s->cfg.alive_interval_ms;
    *next_ms = -1;
    if (s->closed || s->state != FERRY_ST_OPEN) {
        return FERRY_OK;
    }
    uint64_t now = ferry__now_ms(s);
    int64_t idle = -1;
    int r0 = idle_tick(s, now, &idle);
    if (r0 != FERRY_OK || every == 0) {
        *next_ms = idle;
        return r0;
    }
    uint64_t due = s->last_rx_ms + every * ((uint64_t)s->alive_sent + 1);
    if (now < due) {
        *next_ms = idle >= 0 && idle < (int64_t)(due - now) ? idle : (int64_t)(due - now);
        return FERRY_OK;
    }
    if (s->cfg.alive_count_max > 0 && s->alive_sent >= s->cfg.alive_count_max) {
        return ferry__fail(s, FERRY_E_TIMEOUT, 0, "Timeout, peer not responding (%u keepalives)",
                           s->alive_sent);
    }
    /* OpenSSH's probe: any reply (REQUEST_FAILURE from a peer that does
     * not know it) proves the peer alive; it is sent as other packets are,
     * i.e. after a key exchange in progress. */
    ferry_buf *b = NULL;
    int r = ferry__pkt_start(s, SSH_MSG_GLOBAL_REQUEST, &b);
    r = r == FERRY_OK ? ferry_buf_put_cstring(b, "keepalive@openssh.com") : r;
    r = r == FERRY_OK ? ferry_buf_put_bool(b, 1) : r;
    if ((r = finish(s, r)) != FERRY_OK) {
        return r;
    }
    s->alive_sent++;
    *next_ms = idle >= 0 && idle < (int64_t)every ? idle : (int64_t)every;
    return FERRY_OK;
}

static int send_open_failure(ferry_ssh *s, uint32_t peer, uint32_t reason, const char *text)
{
    ferry_buf *b = NULL;
    int r = ferry__pkt_start(s, SSH_MSG_CHANNEL_OPEN_FAILURE, &b);
    r = r == FERRY_OK ? ferry_buf_put_u32(b, peer) : r;
    r = r == FERRY_OK ? ferry_buf_put_u32(b, reason) : r;
    r = r == FERRY_OK ? ferry_buf_put_cstring(b, text) : r;
    r = r == FERRY_OK ? ferry_buf_put_cstring(b, "") : r;
    return finish(s, r);
}

static uint32_t refuse_reason(const char *type)
{
    static const char *const known[] = {"direct-tcpip",
                                        "forwarded-tcpip",
                                        "x11",
                                        "auth-agent@openssh.com",
                                        "direct-streamlocal@openssh.com",
                                        "forwarded-streamlocal@openssh.com",
                                        "tun@openssh.com"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(type, known[i]) == 0) {
            return OPEN_ADMINISTRATIVELY_PROHIBITED;
        }
    }
    return OPEN_UNKNOWN_CHANNEL_TYPE;
}

static int on_channel_open(ferry_ssh *s, ferry_rd *rd)
{
    char type[NAME_MAX_LEN];
    uint32_t peer = 0, win = 0, maxpkt = 0;
    ferry_channel *ch = NULL;
    int tr = ferry_rd_name(rd, type, sizeof(type));
    if (tr == FERRY_E_TOO_LARGE) {
        const uint8_t *p = NULL;
        size_t n = 0;
        type[0] = '\0';
        tr = ferry_rd_string(rd, &p, &n);
    }
    int r = tr == FERRY_OK ? ferry_rd_u32(rd, &peer) : tr;
    r = r == FERRY_OK ? ferry_rd_u32(rd, &win) : r;
    r = r == FERRY_OK ? ferry_rd_u32(rd, &maxpkt) : r;
    if (r != FERRY_OK) {
        return conn_fail(s, "malformed channel open");
    }
    if (s->cfg.role == FERRY_ROLE_CLIENT || strcmp(type, "session") != 0) {
        uint32_t why = s->cfg.role == FERRY_ROLE_CLIENT ? OPEN_ADMINISTRATIVELY_PROHIBITED
                                                        : refuse_reason(type);
        return send_open_failure(s, peer, why, "channel type not supported");
    }
    if (ferry_rd_end(rd) != FERRY_OK || maxpkt == 0) {
        return send_open_failure(s, peer, OPEN_ADMINISTRATIVELY_PROHIBITED, "bad channel open");
    }
    r = chan_new(s, &ch);
    if (r == FERRY_E_LIMIT) {
        return send_open_failure(s, peer, OPEN_RESOURCE_SHORTAGE, "too many channels");
    }
    if (r != FERRY_OK) {
        return r;
    }
    ch->peer_id = peer;
    ch->rwin = win;
    ch->rwin_peak = win;
    ch->rmaxpkt = maxpkt;
    ch->confirmed = 1;
    ch->state = CH_OPEN;
    ferry_buf *b = NULL;
    r = ferry__pkt_start(s, SSH_MSG_CHANNEL_OPEN_CONFIRMATION, &b);
    r = r == FERRY_OK ? ferry_buf_put_u32(b, peer) : r;
    r = r == FERRY_OK ? ferry_buf_put_u32(b, ch->id) : r;
    r = r == FERRY_OK ? ferry_buf_put_u32(b, ch->lwin) : r;
    r = r == FERRY_OK ? ferry_buf_put_u32(b, ch->lmaxpkt) : r;
    return finish(s, r);
}

/* "subsystem", or for a server path (sftp -s /usr/lib/sftp-server, for a
 * server without the subsystem) "exec" of it (RFC 4254 s6.5). */
static int send_subsystem_request(ferry_channel *ch)
{
    ferry_buf *b = NULL;
    int exec = strchr(ch->subsystem, '/') != NULL;
    int r = ferry__pkt_start(ch->s, SSH_MSG_CHANNEL_REQUEST, &b);
    r = r == FERRY_OK ? ferry_buf_put_u32(b, ch->peer_id) : r;
    r = r == FERRY_OK ? ferry_buf_put_cstring(b, exec ? "exec" : "subsystem") : r;
    r = r == FERRY_OK ? ferry_buf_put_bool(b, 1) : r;
    r = r == FERRY_OK ? ferry_buf_put_cstring(b, ch->subsystem) : r;
    return finish(ch->s, r);
}

static void report_open(ferry_channel *ch, int ok)
{
    if (!ch->open_reported && ch->ops != NULL && ch->ops->on_open != NULL) {
        ch->open_reported = 1;
        ch->ops->on_open(ch->cctx, ch, ok);
    }
    ch->open_reported = 1;
}

static int on_open_confirmation(ferry_ssh *s, ferry_rd *rd)
{
    uint32_t id = 0, peer = 0, win = 0, maxpkt = 0;
    int r = ferry_rd_u32(rd, &id);
    r = r == FERRY_OK ? ferry_rd_u32(rd, &peer) : r;
    r = r == FERRY_OK ? ferry_rd_u32(rd, &win) : r;
    r = r == FERRY_OK ? ferry_rd_u32(rd, &maxpkt) : r;
    r = r == FERRY_OK ? ferry_rd_end(rd) : r;
    ferry_channel *ch = r == FERRY_OK ? lookup(s, id, 0) : NULL;
    if (ch == NULL || maxpkt == 0) {
        return conn_fail(s, "bad channel open confirmation");
    }
    ch->peer_id = peer;
    ch->rwin = win;
    ch->rwin_peak = win;
    ch->rmaxpkt = maxpkt;
    ch->confirmed = 1;
    if (ch->close_wanted) {
        return send_close(ch);
    }
    if (ch->target[0] != '\0') { /* direct-tcpip: open as confirmed */
        ch->state = CH_OPEN;
        report_open(ch, 1);
        r = flush(ch);
        return r == FERRY_OK ? deliver(ch, NULL, 0) : r;
    }
    ch->state = CH_REQUEST;
    int r2 = send_subsystem_request(ch);
    return r2 == FERRY_OK ? flush(ch) : r2;
}

static int on_open_failure(ferry_ssh *s, ferry_rd *rd)
{
    uint32_t id = 0, reason = 0;
    const uint8_t *text = NULL;
    size_t n = 0;
    int r = ferry_rd_u32(rd, &id);
    r = r == FERRY_OK ? ferry_rd_u32(rd, &reason) : r;
    r = r == FERRY_OK ? ferry_rd_string(rd, &text, &n) : r;
    ferry_channel *ch = r == FERRY_OK ? lookup(s, id, 0) : NULL;
    if (ch == NULL) {
        return conn_fail(s, "bad channel open failure");
    }
    ferry_debug("ssh: channel %u: open failed (reason %u)", (unsigned)id, (unsigned)reason);
    report_open(ch, 0);
    chan_free(ch);
    return FERRY_OK;
}

/* Reads "uint32 recipient" and finds the confirmed channel. */
static int get_channel(ferry_ssh *s, ferry_rd *rd, ferry_channel **ch)
{
    uint32_t id = 0;
    if (ferry_rd_u32(rd, &id) != FERRY_OK) {
        return conn_fail(s, "malformed channel message");
    }
    if ((*ch = lookup(s, id, 1)) == NULL) {
        return ferry__fail(s, FERRY_E_PROTOCOL, SSH_DISCONNECT_PROTOCOL_ERROR,
                           "message for unknown channel %u", (unsigned)id);
    }
    return FERRY_OK;
}

static int on_window_adjust(ferry_ssh *s, ferry_rd *rd)
{
    ferry_channel *ch = NULL;
    uint32_t add = 0;
    int r = get_channel(s, rd, &ch);
    if (r != FERRY_OK) {
        return r;
    }
    if (ferry_rd_u32(rd, &add) != FERRY_OK || ferry_rd_end(rd) != FERRY_OK) {
        return conn_fail(s, "malformed window adjust");
    }
    if ((uint64_t)ch->rwin + add > UINT32_MAX) {
        return conn_fail(s, "channel window over 2^32-1");
    }
    ch->rwin += add;
    ch->rwin_peak = ch->rwin > ch->rwin_peak ? ch->rwin : ch->rwin_peak;
    return flush(ch);
}

static int on_data(ferry_ssh *s, uint8_t msg, ferry_rd *rd)
{
    ferry_channel *ch = NULL;
    uint32_t code = 0;
    const uint8_t *p = NULL;
    size_t n = 0;
    int r = get_channel(s, rd, &ch);
    if (r != FERRY_OK) {
        return r;
    }
    note_io(s);
    r = msg == SSH_MSG_CHANNEL_EXTENDED_DATA ? ferry_rd_u32(rd, &code) : FERRY_OK;
    r = r == FERRY_OK ? ferry_rd_string(rd, &p, &n) : r;
    r = r == FERRY_OK ? ferry_rd_end(rd) : r;
    if (r != FERRY_OK) {
        return conn_fail(s, "malformed channel data");
    }
    if (ch->eof_rcvd) {
        return conn_fail(s, "channel data after EOF");
    }
    if (n > ch->lwin) {
        return conn_fail(s, "channel data beyond the window");
    }
    if (n > ch->lmaxpkt) {
        ferry_debug("ssh: channel %u: %zu bytes over the max packet size", (unsigned)ch->id, n);
    }
    ch->lwin -= (uint32_t)n;
    ch->probe_rcvd += n;
    if (ch->close_sent) {
        return FERRY_OK; /* in flight when we closed */
    }
    if (msg == SSH_MSG_CHANNEL_EXTENDED_DATA) {
        return account(ch, n); /* stderr: dropped */
    }
    return deliver(ch, p, n);
}

static int on_eof(ferry_ssh *s, ferry_rd *rd)
{
    ferry_channel *ch = NULL;
    int r = get_channel(s, rd, &ch);
    if (r != FERRY_OK) {
        return r;
    }
    if (ferry_rd_end(rd) != FERRY_OK) {
        return conn_fail(s, "malformed channel EOF");
    }
    if (ch->eof_rcvd) {
        return FERRY_OK; /* a repeated EOF (Go's x/crypto/ssh can send two) */
    }
    ch->eof_rcvd = 1;
    maybe_eof(ch);
    return FERRY_OK;
}

static int on_close(ferry_ssh *s, ferry_rd *rd)
{
    ferry_channel *ch = NULL;
    int r = get_channel(s, rd, &ch);
    if (r != FERRY_OK) {
        return r;
    }
    if (ferry_rd_end(rd) != FERRY_OK) {
        return conn_fail(s, "malformed channel close");
    }
    if (!ch->close_sent) {
        r = send_close(ch); /* RFC 4254 s5.3: send back CLOSE */
    }
    report_open(ch, 0);
    chan_free(ch);
    return r;
}

/* Server: "subsystem" request; FERRY_OK if a consumer is now attached. */
static int attach_subsystem(ferry_ssh *s, ferry_channel *ch, ferry_rd *rd)
{
    const ferry_chan_consumer *ops = NULL;
    void *cctx = NULL;
    char name[NAME_MAX_LEN];
    int r = ferry_rd_name(rd, name, sizeof(name));
    r = r == FERRY_OK ? ferry_rd_end(rd) : r;
    if (r != FERRY_OK || ch->ops != NULL || s->cfg.subsystem == NULL) {
        return FERRY_E_UNSUPPORTED;
    }
    r = s->cfg.subsystem(s->cfg.subsystem_ctx, s, ch, name, &ops, &cctx);
    if (r != FERRY_OK || ops == NULL) {
        return FERRY_E_UNSUPPORTED;
    }
    ch->ops = ops;
    ch->cctx = cctx;
    memcpy(ch->subsystem, name, sizeof(name));
    return FERRY_OK;
}

static int on_channel_request(ferry_ssh *s, ferry_rd *rd)
{
    ferry_channel *ch = NULL;
    char type[NAME_MAX_LEN];
    int want = 0;
    int r = get_channel(s, rd, &ch);
    if (r != FERRY_OK) {
        return r;
    }
    r = ferry_rd_name(rd, type, sizeof(type));
    if (r == FERRY_E_TOO_LARGE) {
        const uint8_t *p = NULL;
        size_t n = 0;
        type[0] = '\0';
        r = ferry_rd_string(rd, &p, &n);
    }
    r = r == FERRY_OK ? ferry_rd_bool(rd, &want) : r;
    if (r != FERRY_OK) {
        return conn_fail(s, "malformed channel request");
    }
    int ok = 0;
    if (s->cfg.role == FERRY_ROLE_SERVER && strcmp(type, "subsystem") == 0 && !ch->close_sent) {
        ok = attach_subsystem(s, ch, rd) == FERRY_OK;
    } else {
        ferry_debug("ssh: channel %u: refusing request \"%s\"", (unsigned)ch->id, type);
    }
    if (want && !ch->close_sent) {
        r = send_simple(ch, ok ? SSH_MSG_CHANNEL_SUCCESS : SSH_MSG_CHANNEL_FAILURE);
    }
    if (r == FERRY_OK && ok) {
        r = deliver(ch, NULL, 0); /* anything sent before the request */
    }
    return r;
}

/* The answer to our subsystem request (client) or window probe. Replies
 * come in the order of the requests (RFC 4254 s5.4); the subsystem
 * request is the first and no probe is sent before its answer. */
static int on_request_reply(ferry_ssh *s, uint8_t msg, ferry_rd *rd)
{
    ferry_channel *ch = NULL;
    int r = get_channel(s, rd, &ch);
    if (r != FERRY_OK) {
        return r;
    }
    if (ferry_rd_end(rd) != FERRY_OK) {
        return conn_fail(s, "malformed channel reply");
    }
    if (ch->state != CH_REQUEST) {
        return ch->probing ? on_probe_reply(ch) : FERRY_OK; /* else: not asked for */
    }
    if (msg == SSH_MSG_CHANNEL_FAILURE) {
        report_open(ch, 0);
        ch->close_wanted = 1;
        ferry_buf_reset(ch->outq); /* early data: nobody to read it */
        return flush(ch);
    }
    ch->state = CH_OPEN;
    report_open(ch, 1);
    r = flush(ch);
    return r == FERRY_OK ? deliver(ch, NULL, 0) : r;
}

int ferry__conn_dispatch(ferry_ssh *s, uint8_t msg, ferry_rd *payload)
{
    switch (msg) {
    case SSH_MSG_GLOBAL_REQUEST:
        return on_global_request(s, payload);
    case SSH_MSG_REQUEST_SUCCESS:
    case SSH_MSG_REQUEST_FAILURE:
        return FERRY_OK; /* replies to keepalives: transport.c noted the packet */
    case SSH_MSG_CHANNEL_OPEN:
        return on_channel_open(s, payload);
    case SSH_MSG_CHANNEL_OPEN_CONFIRMATION:
        return on_open_confirmation(s, payload);
    case SSH_MSG_CHANNEL_OPEN_FAILURE:
        return on_open_failure(s, payload);
    case SSH_MSG_CHANNEL_WINDOW_ADJUST:
        return on_window_adjust(s, payload);
    case SSH_MSG_CHANNEL_DATA:
    case SSH_MSG_CHANNEL_EXTENDED_DATA:
        return on_data(s, msg, payload);
    case SSH_MSG_CHANNEL_EOF:
        return on_eof(s, payload);
    case SSH_MSG_CHANNEL_CLOSE:
        return on_close(s, payload);
    case SSH_MSG_CHANNEL_REQUEST:
        return on_channel_request(s, payload);
    case SSH_MSG_CHANNEL_SUCCESS:
    case SSH_MSG_CHANNEL_FAILURE:
        return on_request_reply(s, msg, payload);
    default:
        return ferry__fail(s, FERRY_E_PROTOCOL, SSH_DISCONNECT_PROTOCOL_ERROR,
                           "unexpected connection message %u", (unsigned)msg);
    }
}

/* ---- opening (client) ---- */

static int send_open(ferry_channel *ch)
{
    ferry_buf *b = NULL;
    int direct = ch->target[0] != '\0';
    int r = ferry__pkt_start(ch->s, SSH_MSG_CHANNEL_OPEN, &b);
    r = r == FERRY_OK ? ferry_buf_put_cstring(b, direct ? "direct-tcpip" : "session") : r;
    r = r == FERRY_OK ? ferry_buf_put_u32(b, ch->id) : r;
    r = r == FERRY_OK ? ferry_buf_put_u32(b, ch->lwin) : r;
    r = r == FERRY_OK ? ferry_buf_put_u32(b, ch->lmaxpkt) : r;
    if (direct) { /* RFC 4254 s7.2; the originator is this stdio, as ssh -W says */
        r = r == FERRY_OK ? ferry_buf_put_cstring(b, ch->target) : r;
        r = r == FERRY_OK ? ferry_buf_put_u32(b, ch->target_port) : r;
        r = r == FERRY_OK ? ferry_buf_put_cstring(b, "127.0.0.1") : r;
        r = r == FERRY_OK ? ferry_buf_put_u32(b, 65535) : r;
    }
    if ((r = finish(ch->s, r)) == FERRY_OK) {
        ch->state = CH_OPENING;
    }
    return r;
}

int ferry__conn_start(ferry_ssh *s)
{
    ferry_conn_state *c = s->conn;
    for (size_t i = 0; i < c->cap; i++) {
        ferry_channel *ch = c->ch[i];
        if (ch != NULL && ch->state == CH_PENDING) {
            int r = send_open(ch);
            if (r != FERRY_OK) {
                return r;
            }
        }
    }
    return FERRY_OK;
}

/* A client channel to be opened once authenticated: a session channel
 * for subsystem `name`, or (direct) a direct-tcpip one to name:port. */
static int open_client_channel(ferry_ssh *s, const char *name, int direct, uint32_t port,
                               const ferry_chan_consumer *ops, void *cctx, ferry_channel **out)
{
    ferry_channel *ch = NULL;
    size_t cap = direct ? sizeof(ch->target) : sizeof(ch->subsystem);
    if (s == NULL || name == NULL || ops == NULL || s->cfg.role != FERRY_ROLE_CLIENT ||
        (direct && name[0] == '\0') || strlen(name) >= cap) {
        return FERRY_E_INVALID_ARG;
    }
    if (s->closed) {
        return FERRY_E_CLOSED;
    }
    int r = chan_new(s, &ch);
    if (r != FERRY_OK) {
        return r;
    }
    memcpy(direct ? ch->target : ch->subsystem, name, strlen(name) + 1);
    ch->target_port = port;
    ch->ops = ops;
    ch->cctx = cctx;
    if (out != NULL) {
        *out = ch;
    }
    if (s->authenticated && s->state == FERRY_ST_OPEN) {
        return send_open(ch);
    }
    return FERRY_OK;
}

int ferry_ssh_open_subsystem(ferry_ssh *s, const char *subsystem, const ferry_chan_consumer *ops,
                             void *cctx, ferry_channel **out)
{
    return open_client_channel(s, subsystem, 0, 0, ops, cctx, out);
}

int ferry_ssh_open_direct_tcpip(ferry_ssh *s, const char *host, uint16_t port,
                                const ferry_chan_consumer *ops, void *cctx, ferry_channel **out)
{
    return open_client_channel(s, host, 1, port, ops, cctx, out);
}

/* ---- pumping ---- */

static int pump_channel(ferry_channel *ch)
{
    int r = flush(ch);
    if (r != FERRY_OK) {
        return r;
    }
    if (ch->above_low && ferry_buf_len(ch->outq) < OUTQ_LOW && ch->state == CH_OPEN &&
        !ch->close_sent) {
        ch->above_low = 0;
        if (ch->ops != NULL && ch->ops->on_writable != NULL) {
            ch->ops->on_writable(ch->cctx, ch);
        }
    }
    if (ferry_buf_len(ch->kept) > 0 || (ch->eof_rcvd && !ch->eof_reported)) {
        r = deliver(ch, NULL, 0);
    }
    return r;
}

int ferry__conn_pump(ferry_ssh *s)
{
    ferry_conn_state *c = s->conn;
    for (size_t i = 0; i < c->cap && !s->closed; i++) {
        if (c->ch[i] != NULL) {
            int r = pump_channel(c->ch[i]);
            if (r != FERRY_OK) {
                return r;
            }
        }
    }
    return FERRY_OK;
}

/* ---- the consumer's calls ---- */

/* Reports an error from the session as fatal (the session closes). */
static int session_error(ferry_channel *ch, int r)
{
    if (r != FERRY_OK && !ch->s->closed) {
        (void)ferry__fail(ch->s, r, 0, "connection layer: %s", ferry_strerror(r));
    }
    return r;
}

/* No more data may be written: the session ended, or EOF/CLOSE was asked
 * for or sent. */
static int write_ended(const ferry_channel *ch)
{
    return ch->s->closed || ch->eof_wanted || ch->close_wanted || ch->close_sent;
}

int ferry_channel_write(ferry_channel *ch, const uint8_t *data, size_t len)
{
    size_t sent = 0;
    int r = FERRY_OK;
    if (ch == NULL || (data == NULL && len > 0)) {
        return FERRY_E_INVALID_ARG;
    }
    if (write_ended(ch)) {
        return FERRY_E_CLOSED;
    }
    if (len > OUTQ_MAX - ferry_buf_len(ch->outq)) {
        ch->above_low = 1;
        return FERRY_E_AGAIN;
    }
    if (ferry_buf_len(ch->outq) == 0 && ch->s->pkt_where == 0) {
        r = send_from(ch, data, len, &sent); /* straight from the caller's bytes */
    }
    if (r == FERRY_OK && sent < len) {
        r = ferry_buf_put(ch->outq, data + sent, len - sent);
    }
    if (ferry_buf_len(ch->outq) >= OUTQ_LOW) {
        ch->above_low = 1;
    }
    return session_error(ch, r);
}

uint8_t *ferry_channel_write_begin(ferry_channel *ch, size_t want, int *later)
{
    ferry_buf *b = NULL;
    uint8_t *p = NULL;
    *later = 0;
    if (ch == NULL || want == 0 || ch->wb != NULL || write_ended(ch) || ch->state != CH_OPEN ||
        ch->s->pkt_where != 0 || want > ch->rmaxpkt || want > DATA_CAP || want > ch->rwin) {
        return NULL;
    }
    if (ferry_buf_len(ch->outq) > 0 || send_limit(ch) < want) {
        *later = 1; /* our backlog: pump_channel calls on_writable once it drains */
        ch->above_low = 1;
        return NULL;
    }
    if (ferry__pkt_start(ch->s, SSH_MSG_CHANNEL_DATA, &b) != FERRY_OK) {
        return NULL;
    }
    size_t at = 0;
    int r = ferry_buf_put_u32(b, ch->peer_id);
    if (r == FERRY_OK) {
        at = ferry_buf_len(b);
        r = ferry_buf_put_u32(b, (uint32_t)want);
    }
    if (r == FERRY_OK) {
        r = ferry_buf_reserve(b, want, &p);
    }
    if (r != FERRY_OK) {
        ferry__pkt_abort(ch->s);
        return NULL;
    }
    ch->wb = b;
    ch->wb_at = at;
    ch->wb_want = want;
    return p;
}

int ferry_channel_write_end(ferry_channel *ch, size_t used)
{
    if (ch == NULL || ch->wb == NULL) {
        return FERRY_E_INVALID_ARG;
    }
    ferry_buf *b = ch->wb;
    ch->wb = NULL;
    if (used == 0 || used > ch->wb_want) {
        ferry__pkt_abort(ch->s);
        return used == 0 ? FERRY_OK : FERRY_E_INVALID_ARG;
    }
    int r = ferry_buf_truncate(b, ferry_buf_len(b) - (ch->wb_want - used));
    r = r == FERRY_OK ? ferry_buf_poke_u32(b, ch->wb_at, (uint32_t)used) : r;
    if ((r = finish(ch->s, r)) == FERRY_OK) {
        ch->rwin -= (uint32_t)used;
        note_io(ch->s);
    }
    return session_error(ch, r);
}

size_t ferry_channel_pending(const ferry_channel *ch)
{
    return ch != NULL ? ferry_buf_len(ch->outq) : 0;
}

size_t ferry_channel_window(const ferry_channel *ch, int sending)
{
    return sending ? ch->rwin_peak : ch->lwin_max;
}

size_t ferry_channel_packet_max(const ferry_channel *ch)
{
    return ch->rmaxpkt < DATA_CAP ? ch->rmaxpkt : DATA_CAP;
}

size_t ferry_channel_write_room(const ferry_channel *ch)
{
    if (ch == NULL || write_ended(ch)) {
        return 0;
    }
    return OUTQ_MAX - ferry_buf_len(ch->outq);
}

void ferry_channel_resume(ferry_channel *ch)
{
    if (ch == NULL || ch->s->closed || ch->in_deliver) {
        return;
    }
    (void)session_error(ch, deliver(ch, NULL, 0));
}

int ferry_channel_send_eof(ferry_channel *ch)
{
    if (ch == NULL) {
        return FERRY_E_INVALID_ARG;
    }
    if (ch->s->closed || ch->close_sent) {
        return FERRY_E_CLOSED;
    }
    ch->eof_wanted = 1;
    return session_error(ch, ch->s->pkt_where == 0 ? flush(ch) : FERRY_OK);
}

int ferry_channel_exit_status(ferry_channel *ch, uint32_t status)
{
    if (ch == NULL || ch->s->cfg.role != FERRY_ROLE_SERVER) {
        return FERRY_E_INVALID_ARG;
    }
    if (ch->s->closed || ch->close_sent) {
        return FERRY_E_CLOSED;
    }
    ch->exit_wanted = 1;
    ch->exit_status = status;
    return session_error(ch, ch->s->pkt_where == 0 ? flush(ch) : FERRY_OK);
}

int ferry_channel_close(ferry_channel *ch)
{
    if (ch == NULL) {
        return FERRY_E_INVALID_ARG;
    }
    if (ch->s->closed || ch->close_sent) {
        return ch->close_sent ? FERRY_OK : FERRY_E_CLOSED;
    }
    ch->close_wanted = 1;
    if (ch->state == CH_PENDING) {
        chan_free(ch); /* never sent: nothing to wait for */
        return FERRY_OK;
    }
    return session_error(ch, ch->s->pkt_where == 0 ? flush(ch) : FERRY_OK);
}

ferry_ssh *ferry_channel_session(const ferry_channel *ch)
{
    return ch != NULL ? ch->s : NULL;
}
