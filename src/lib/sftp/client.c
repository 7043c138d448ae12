/* client.c: the sans-I/O core of the SFTP client engine: request framing,
 * reply framing with a bounded packet length, and matching of replies to
 * pending requests by id (draft-ietf-secsh-filexfer-02 section 3). */
#include "sftp/client_int.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* The output queue may hold a full window of pipelined writes. */
#define SFTPC_OUT_MAX (64u * 1024 * 1024)
/* Input is taken in pieces of this size: whatever a caller hands over,
 * the buffer holds at most one partial packet plus one piece. */
#define SFTPC_IN_CHUNK (256u * 1024)
/* Reply buffers stay with their slots for the next reply (no allocation
 * per reply while transfers run) as long as all of them together hold
 * no more than this (the most ferry's channel window lets arrive). */
#define SFTPC_REPLY_KEEP (64u * 1024 * 1024)

int ferry_sftpc_new(ferry_sftpc **out, const ferry_sftpc_config *cfg, const ferry_sftpc_io *io)
{
    ferry_sftpc *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return FERRY_E_ALLOC;
    }
    c->symlink_ext = -1;
    if (cfg != NULL) {
        c->cfg = *cfg;
    }
    if (c->cfg.max_inflight == 0) {
        c->cfg.max_inflight = FERRY_SFTPC_DEFAULT_INFLIGHT;
        c->inflight_auto = 1;
    }
    if (c->cfg.max_inflight > FERRY__SFTPC_MAX_SLOTS / 2) {
        c->cfg.max_inflight = FERRY__SFTPC_MAX_SLOTS / 2;
    }
    if (c->cfg.max_reply == 0 || c->cfg.max_reply > FERRY_SFTPC_MAX_REPLY) {
        c->cfg.max_reply = FERRY_SFTPC_MAX_REPLY;
    }
    if (io != NULL) {
        c->io = *io;
    }
    c->next_id = 1;
    c->out = ferry_buf_new(SFTPC_OUT_MAX);
    c->in = ferry_buf_new(c->cfg.max_reply + 4 + SFTPC_IN_CHUNK);
    if (c->out == NULL || c->in == NULL) {
        ferry_sftpc_free(c);
        return FERRY_E_ALLOC;
    }
    *out = c;
    return FERRY_OK;
}

void ferry_sftpc_free(ferry_sftpc *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->nslots; i++) {
        ferry_buf_free(c->slots[i].reply);
    }
    free(c->slots);
    ferry_buf_free(c->out);
    ferry_buf_free(c->in);
    ferry_buf_free(c->version_reply);
    ferry_buf_free(c->scratch);
    free(c->exts);
    free(c->last_msg);
    free(c->home);
    free(c);
}

void ferry_sftpc_reset(ferry_sftpc *c)
{
    for (size_t i = 0; i < c->nslots; i++) {
        ferry_buf_free(c->slots[i].reply);
        c->slots[i].reply = NULL;
        c->slots[i].state = SLOT_FREE;
    }
    c->npending = c->reply_bytes = 0;
    ferry_buf_reset(c->out);
    ferry_buf_reset(c->in);
    ferry_buf_free(c->version_reply);
    c->version_reply = NULL;
    free(c->exts);
    c->exts = NULL;
    free(c->last_msg);
    c->last_msg = NULL;
    c->dead = c->interrupted = c->got_version = 0;
    c->symlink_ext = -1;
    c->session++; /* ids sent before are void: their replies will not come */
    c->version = c->rsize = c->wsize = c->lim_r = c->lim_w = c->last_status = 0;
    free(c->home);
    c->home = NULL;
}

const uint8_t *ferry_sftpc_output(ferry_sftpc *c, size_t *len)
{
    *len = ferry_buf_len(c->out);
    return ferry_buf_data(c->out);
}

void ferry_sftpc_output_consume(ferry_sftpc *c, size_t n)
{
    if (n > ferry_buf_len(c->out)) {
        n = ferry_buf_len(c->out);
    }
    (void)ferry_buf_consume(c->out, n);
}

int ferry_sftpc_dead(const ferry_sftpc *c)
{
    return c->dead;
}

unsigned ferry_sftpc_session(const ferry_sftpc *c)
{
    return c->session;
}

void ferry_sftpc_kill(ferry_sftpc *c, int err)
{
    if (c->dead == 0) {
        c->dead = err < 0 ? err : FERRY_E_CLOSED;
    }
}

void ferry_sftpc_interrupt(ferry_sftpc *c)
{
    c->interrupted = 1;
}

size_t ferry_sftpc_pending(const ferry_sftpc *c)
{
    return c->npending;
}

void ferry_sftpc_reply_stats(const ferry_sftpc *c, size_t *allocs, size_t *bytes)
{
    *allocs = c->reply_allocs;
    *bytes = c->reply_bytes;
}

static ferry__sftpc_slot *find_slot(ferry_sftpc *c, uint32_t id)
{
    for (size_t i = 0; i < c->nslots; i++) {
        if (c->slots[i].state != SLOT_FREE && c->slots[i].id == id) {
            return &c->slots[i];
        }
    }
    return NULL;
}

static void drop_reply(ferry_sftpc *c, ferry__sftpc_slot *s)
{
    if (s->reply != NULL) {
        c->reply_bytes -= ferry_buf_cap(s->reply);
        ferry_buf_free(s->reply);
        s->reply = NULL;
    }
}

static void free_slot(ferry_sftpc *c, ferry__sftpc_slot *s)
{
    if (s->reply != NULL && c->reply_bytes <= SFTPC_REPLY_KEEP) {
        ferry_buf_reset(s->reply); /* kept for the slot's next reply */
    } else {
        drop_reply(c, s);
    }
    s->state = SLOT_FREE;
    c->npending--;
}

static int new_slot(ferry_sftpc *c, uint32_t id)
{
    ferry__sftpc_slot *s = NULL;
    for (size_t i = 0; i < c->nslots && s == NULL; i++) {
        if (c->slots[i].state == SLOT_FREE) {
            s = &c->slots[i];
        }
    }
    if (s == NULL) {
        if (c->nslots >= FERRY__SFTPC_MAX_SLOTS) {
            return FERRY_E_LIMIT;
        }
        size_t n = c->nslots ? c->nslots * 2 : 16;
        ferry__sftpc_slot *ns = realloc(c->slots, n * sizeof(*ns));
        if (ns == NULL) {
            return FERRY_E_ALLOC;
        }
        memset(ns + c->nslots, 0, (n - c->nslots) * sizeof(*ns));
        s = &ns[c->nslots];
        c->slots = ns;
        c->nslots = n;
    }
    s->id = id;
    s->state = SLOT_WAITING;
    s->sink = s->sunk = 0;
    c->npending++;
    return FERRY_OK;
}

/* Ids are never 0 and never reused while pending. */
static uint32_t fresh_id(ferry_sftpc *c)
{
    uint32_t id = c->next_id;
    while (id == 0 || find_slot(c, id) != NULL) {
        id++;
    }
    return id;
}

int ferry__sftpc_begin(ferry_sftpc *c, uint8_t type, ferry__sftpc_pkt *pk)
{
    uint32_t id = fresh_id(c);
    int r;
    if (c->dead) {
        return c->dead;
    }
    pk->at = ferry_buf_len(c->out);
    pk->id = id;
    if ((r = ferry_buf_put_u32(c->out, 0)) != FERRY_OK ||
        (r = ferry_buf_put_u8(c->out, type)) != FERRY_OK ||
        (r = ferry_buf_put_u32(c->out, id)) != FERRY_OK) {
        (void)ferry_buf_truncate(c->out, pk->at);
    }
    return r;
}

int ferry__sftpc_end(ferry_sftpc *c, const ferry__sftpc_pkt *pk, int r, uint32_t *idp)
{
    size_t len = ferry_buf_len(c->out) - pk->at - 4;
    if (r == FERRY_OK && len > FERRY_SFTPC_MAX_REPLY + 5) {
        r = FERRY_E_TOO_LARGE;
    }
    if (r != FERRY_OK) {
        (void)ferry_buf_truncate(c->out, pk->at); /* never a partial packet on the wire */
        return r;
    }
    (void)ferry_buf_poke_u32(c->out, pk->at, (uint32_t)len);
    if ((r = new_slot(c, pk->id)) != FERRY_OK) {
        c->dead = r;
        return r;
    }
    c->next_id = pk->id + 1;
    *idp = pk->id;
    return FERRY_OK;
}

uint8_t *ferry__sftpc_direct_begin(ferry_sftpc *c, uint8_t type, size_t body, int *later)
{
    *later = 0;
    if (c->dead || c->io.begin == NULL || c->direct != NULL || ferry_buf_len(c->out) > 0 ||
        body > FERRY_SFTPC_MAX_REPLY) {
        return NULL;
    }
    uint8_t *p = c->io.begin(c->io.ctx, 9 + body, later);
    if (p == NULL) {
        return NULL;
    }
    c->direct = p;
    c->direct_id = fresh_id(c);
    ferry_store_u32(p, (uint32_t)(5 + body));
    p[4] = type;
    ferry_store_u32(p + 5, c->direct_id);
    return p + 9;
}

int ferry__sftpc_direct_end(ferry_sftpc *c, size_t used, uint32_t *idp)
{
    uint8_t *p = c->direct;
    int r = FERRY_OK;
    c->direct = NULL;
    if (p == NULL) {
        return FERRY_E_INVALID_ARG;
    }
    if (used > 0 && (r = new_slot(c, c->direct_id)) != FERRY_OK) {
        used = 0; /* the request is taken back */
    }
    if (used > 0) {
        ferry_store_u32(p, (uint32_t)(5 + used));
    }
    int e = c->io.end(c->io.ctx, used > 0 ? 9 + used : 0);
    r = r == FERRY_OK ? e : r;
    if (r != FERRY_OK) {
        ferry_sftpc_kill(c, r);
        return r;
    }
    if (used > 0) {
        c->next_id = c->direct_id + 1;
        *idp = c->direct_id;
    }
    return FERRY_OK;
}

int ferry_sftpc_send(ferry_sftpc *c, uint8_t type, const ferry_buf *payload, uint32_t *idp)
{
    size_t plen = payload != NULL ? ferry_buf_len(payload) : 0;
    ferry__sftpc_pkt pk;
    if (plen > FERRY_SFTPC_MAX_REPLY) {
        return c->dead ? c->dead : FERRY_E_TOO_LARGE;
    }
    int r = ferry__sftpc_begin(c, type, &pk);
    if (r != FERRY_OK) {
        return r;
    }
    if (plen > 0) {
        r = ferry_buf_put(c->out, ferry_buf_data(payload), plen);
    }
    return ferry__sftpc_end(c, &pk, r, idp);
}

static int on_version(ferry_sftpc *c, const uint8_t *p, size_t n)
{
    if (c->got_version || c->version_reply != NULL) {
        return FERRY_E_PROTOCOL;
    }
    c->version_reply = ferry_buf_new(n + 1);
    if (c->version_reply == NULL) {
        return FERRY_E_ALLOC;
    }
    return ferry_buf_put(c->version_reply, p, n);
}

/* Copies a reply into the slot's buffer: the one it kept from its last
 * reply when that is large enough, else a new one of the reply's size. */
static int take_reply(ferry_sftpc *c, ferry__sftpc_slot *s, const uint8_t *p, size_t n)
{
    if (s->reply != NULL && ferry_buf_cap(s->reply) < n + 1) {
        drop_reply(c, s);
    }
    if (s->reply == NULL) {
        if ((s->reply = ferry_buf_new(n + 1)) == NULL ||
            ferry_buf_ensure(s->reply, n + 1) != FERRY_OK) {
            ferry_buf_free(s->reply);
            s->reply = NULL;
            return FERRY_E_ALLOC;
        }
        c->reply_bytes += ferry_buf_cap(s->reply);
        c->reply_allocs++;
    }
    return ferry_buf_put(s->reply, p, n);
}

/* A DATA reply to a READ marked for the sink: its 1..len bytes go there
 * now, not into the slot (anything else is left to the reader to judge). */
static int sink_reply(ferry_sftpc *c, ferry__sftpc_slot *s, const ferry_rd *body)
{
    ferry_rd r = *body;
    const uint8_t *p;
    size_t n;
    if (ferry_rd_string(&r, &p, &n) != FERRY_OK || n == 0 || n > s->len) {
        return 0;
    }
    s->sunk = 1;
    s->sunk_n = n;
    s->sunk_rc = c->sink(c->sink_ctx, s->off, p, n);
    if (s->reply != NULL) {
        ferry_buf_reset(s->reply);
    }
    return 1;
}

void ferry__sftpc_sink_slot(ferry_sftpc *c, uint32_t id, uint64_t off, uint32_t len)
{
    ferry__sftpc_slot *s = find_slot(c, id);
    if (s != NULL && s->state == SLOT_WAITING) {
        s->sink = 1;
        s->off = off;
        s->len = len;
    }
}

int ferry__sftpc_sunk(ferry_sftpc *c, uint32_t id, size_t *n, int *rc)
{
    ferry__sftpc_slot *s = find_slot(c, id);
    if (s == NULL || s->state != SLOT_DONE || !s->sunk) {
        return 0;
    }
    *n = s->sunk_n;
    *rc = s->sunk_rc;
    return 1;
}

/* One complete packet (type + body) from the server. */
static int on_packet(ferry_sftpc *c, const uint8_t *p, size_t n)
{
    ferry_rd r;
    uint8_t type;
    uint32_t id;
    ferry__sftpc_slot *s;

    ferry_rd_init(&r, p, n);
    if (ferry_rd_u8(&r, &type) != FERRY_OK) {
        return FERRY_E_FORMAT;
    }
    if (type == SSH_FXP_VERSION) {
        return on_version(c, ferry_rd_ptr(&r), ferry_rd_left(&r));
    }
    if (!c->got_version && c->version_reply == NULL) {
        return FERRY_E_PROTOCOL;
    }
    if (type < SSH_FXP_STATUS || (type > SSH_FXP_ATTRS && type != SSH_FXP_EXTENDED_REPLY)) {
        return FERRY_E_PROTOCOL;
    }
    if (ferry_rd_u32(&r, &id) != FERRY_OK) {
        return FERRY_E_FORMAT;
    }
    s = find_slot(c, id);
    if (s == NULL || s->state == SLOT_DONE) {
        return FERRY_E_PROTOCOL; /* a reply nobody asked for */
    }
    if (s->state == SLOT_ABANDONED) {
        free_slot(c, s);
        return FERRY_OK;
    }
    s->type = type;
    s->state = SLOT_DONE;
    if (type == SSH_FXP_DATA && s->sink && c->sink != NULL && sink_reply(c, s, &r)) {
        return FERRY_OK;
    }
    return take_reply(c, s, ferry_rd_ptr(&r), ferry_rd_left(&r));
}

/* Dispatches every complete packet of p[0..have); returns through *used
 * how many bytes they took (the rest is one partial packet). */
static int dispatch(ferry_sftpc *c, const uint8_t *p, size_t have, size_t *used)
{
    size_t off = 0;
    int r = FERRY_OK;
    *used = 0;
    while (have - off >= 4) {
        uint32_t plen = ferry_load_u32(p + off);
        if (plen == 0 || plen > c->cfg.max_reply) {
            return FERRY_E_TOO_LARGE;
        }
        if (have - off - 4 < plen) {
            break;
        }
        if ((r = on_packet(c, p + off + 4, plen)) != FERRY_OK) {
            return r;
        }
        off += 4 + (size_t)plen;
        *used = off;
    }
    return r;
}

/* Appends up to SFTPC_IN_CHUNK bytes and dispatches every complete
 * packet; at most one partial packet stays buffered. */
static int input_chunk(ferry_sftpc *c, const uint8_t *data, size_t len)
{
    size_t used = 0;
    int r = ferry_buf_put(c->in, data, len);
    if (r == FERRY_OK) {
        r = dispatch(c, ferry_buf_data(c->in), ferry_buf_len(c->in), &used);
    }
    return r == FERRY_OK ? ferry_buf_consume(c->in, used) : r;
}

int ferry_sftpc_input(ferry_sftpc *c, const uint8_t *data, size_t len)
{
    int r = FERRY_OK;
    if (c->dead) {
        return c->dead;
    }
    if (ferry_buf_len(c->in) == 0) {
        /* nothing partial waiting: whole packets are taken where they
         * are (a reply arriving in one piece is not copied here) */
        size_t used = 0;
        r = dispatch(c, data, len, &used);
        data += used;
        len -= used;
    }
    while (len > 0 && r == FERRY_OK) {
        size_t n = len < SFTPC_IN_CHUNK ? len : SFTPC_IN_CHUNK;
        r = input_chunk(c, data, n);
        data += n;
        len -= n;
    }
    if (r != FERRY_OK) {
        c->dead = r;
    }
    return r;
}

int ferry_sftpc_poll(ferry_sftpc *c, uint32_t id, uint8_t *type, ferry_rd *payload)
{
    ferry__sftpc_slot *s = find_slot(c, id);
    if (s == NULL || s->state == SLOT_ABANDONED) {
        return FERRY_E_INVALID_ARG;
    }
    if (s->state != SLOT_DONE) {
        return c->dead ? c->dead : FERRY_E_INCOMPLETE;
    }
    *type = s->type;
    if (s->reply != NULL) {
        ferry_rd_from_buf(payload, s->reply);
    } else {
        ferry_rd_init(payload, NULL, 0); /* its data went to the sink */
    }
    return FERRY_OK;
}

void ferry_sftpc_release(ferry_sftpc *c, uint32_t id)
{
    ferry__sftpc_slot *s = find_slot(c, id);
    if (s == NULL) {
        return;
    }
    if (s->state == SLOT_WAITING) {
        s->state = SLOT_ABANDONED;
        return;
    }
    if (s->state == SLOT_DONE) {
        free_slot(c, s);
    }
}

static int pump(ferry_sftpc *c)
{
    int r;
    if (c->dead) {
        return c->dead;
    }
    if (c->io.pump == NULL) {
        return FERRY_E_AGAIN;
    }
    r = c->io.pump(c->io.ctx, c);
    if (r != FERRY_OK) {
        ferry_sftpc_kill(c, r);
    }
    return r;
}

int ferry__sftpc_pump(ferry_sftpc *c)
{
    return pump(c);
}

int ferry__sftpc_flush(ferry_sftpc *c)
{
    if (c->dead || c->io.flush == NULL) {
        return pump(c);
    }
    int r = c->io.flush(c->io.ctx, c);
    if (r != FERRY_OK) {
        ferry_sftpc_kill(c, r);
    }
    return r;
}

int ferry_sftpc_drain(ferry_sftpc *c)
{
    for (;;) {
        size_t unanswered = 0;
        for (size_t i = 0; i < c->nslots; i++) {
            unanswered += c->slots[i].state == SLOT_WAITING || c->slots[i].state == SLOT_ABANDONED;
        }
        if (unanswered == 0 || c->dead || c->interrupted) {
            return c->dead;
        }
        int r = pump(c);
        if (r != FERRY_OK) {
            return r;
        }
    }
}

int ferry_sftpc_wait(ferry_sftpc *c, uint32_t id, uint8_t *type, ferry_rd *payload)
{
    int r;
    while ((r = ferry_sftpc_poll(c, id, type, payload)) == FERRY_E_INCOMPLETE) {
        if ((r = pump(c)) != FERRY_OK) {
            return r;
        }
    }
    return r;
}

int ferry_sftpc_err_from_status(uint32_t status)
{
    switch (status) {
    case SSH_FX_OK:
        return FERRY_OK;
    case SSH_FX_EOF:
        return FERRY_E_EOF;
    case SSH_FX_NO_SUCH_FILE:
        return FERRY_E_NOT_FOUND;
    case SSH_FX_PERMISSION_DENIED:
        return FERRY_E_PERMISSION;
    case SSH_FX_OP_UNSUPPORTED:
        return FERRY_E_UNSUPPORTED;
    case SSH_FX_BAD_MESSAGE:
        return FERRY_E_FORMAT;
    case SSH_FX_NO_CONNECTION:
    case SSH_FX_CONNECTION_LOST:
        return FERRY_E_CLOSED;
    default:
        return FERRY_E_SYSTEM;
    }
}

uint32_t ferry_sftpc_last_status(const ferry_sftpc *c, const char **msg)
{
    if (msg != NULL) {
        *msg = c->last_msg != NULL ? c->last_msg : ferry_sftp_status_message(c->last_status);
    }
    return c->last_status;
}

int ferry__sftpc_parse_status(ferry_sftpc *c, ferry_rd *r)
{
    uint32_t code;
    char *msg = NULL;

    if (ferry_rd_u32(r, &code) != FERRY_OK) {
        return FERRY_E_FORMAT;
    }
    /* The message and language tag are optional in practice: some old
     * servers end the packet after the code. An OK's message is not kept
     * (nothing shows it; every WRITE of an upload gets one). */
    if (code != SSH_FX_OK && ferry_rd_left(r) > 0 &&
        ferry_rd_cstring(r, 4096, &msg, NULL) != FERRY_OK) {
        msg = NULL;
    }
    free(c->last_msg);
    c->last_msg = (msg != NULL && msg[0] != '\0') ? msg : NULL;
    if (c->last_msg == NULL) {
        free(msg);
    }
    c->last_status = code;
    return ferry_sftpc_err_from_status(code);
}

int ferry__sftpc_expect(ferry_sftpc *c, uint32_t id, uint8_t want, ferry_rd *r)
{
    uint8_t type;
    int rc = ferry_sftpc_wait(c, id, &type, r);
    if (rc != FERRY_OK) {
        ferry_sftpc_release(c, id);
        return rc;
    }
    if (type == want) {
        return FERRY_OK;
    }
    if (type == SSH_FXP_STATUS) {
        rc = ferry__sftpc_parse_status(c, r);
        if (rc == FERRY_OK) {
            rc = FERRY_E_PROTOCOL;
        }
    } else {
        rc = FERRY_E_PROTOCOL;
    }
    ferry_sftpc_release(c, id);
    return rc;
}

int ferry__sftpc_status(ferry_sftpc *c, uint32_t id)
{
    ferry_rd r;
    int rc = ferry__sftpc_expect(c, id, SSH_FXP_STATUS, &r);
    if (rc != FERRY_OK) {
        return rc;
    }
    rc = ferry__sftpc_parse_status(c, &r);
    ferry_sftpc_release(c, id);
    return rc;
}

ferry_buf *ferry__sftpc_payload(void)
{
    return ferry_buf_new(FERRY_SFTPC_MAX_REPLY);
}

ferry_buf *ferry__sftpc_scratch(ferry_sftpc *c)
{
    if (c->scratch == NULL) {
        c->scratch = ferry__sftpc_payload();
    }
    if (c->scratch != NULL) {
        ferry_buf_reset(c->scratch);
    }
    return c->scratch;
}
