/* chantest.c: see chantest.h. */
#include "helpers/chantest.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/cert.h"
#include "ssh/ssh_int.h"
#include "util/err.h"

/* ---- echo subsystem ---- */

typedef struct echo_ctx {
    ct_server *srv;
} echo_ctx;

static long echo_data(void *ctx, ferry_channel *ch, const uint8_t *data, size_t len)
{
    echo_ctx *e = ctx;
    if (e->srv->stall) {
        return 0;
    }
    size_t room = ferry_channel_write_room(ch);
    size_t n = len < room ? len : room;
    if (e->srv->frame != 0) {
        n -= n % e->srv->frame; /* a partial message waits for its rest */
    }
    if (n > 0 && ferry_channel_write(ch, data, n) != FERRY_OK) {
        return FERRY_E_INTERNAL;
    }
    e->srv->echoed += n;
    return (long)n;
}

static void echo_eof(void *ctx, ferry_channel *ch)
{
    echo_ctx *e = ctx;
    e->srv->eofs++;
    (void)ferry_channel_send_eof(ch);
    (void)ferry_channel_close(ch);
}

static void echo_writable(void *ctx, ferry_channel *ch)
{
    (void)ctx;
    ferry_channel_resume(ch);
}

static void echo_close(void *ctx, ferry_channel *ch)
{
    echo_ctx *e = ctx;
    if (e->srv->last == ch) {
        e->srv->last = NULL;
    }
    e->srv->closed++;
    free(e);
}

static const ferry_chan_consumer echo_ops = {
    .on_data = echo_data,
    .on_eof = echo_eof,
    .on_writable = echo_writable,
    .on_close = echo_close,
};

int ct_subsystem(void *ctx, ferry_ssh *s, ferry_channel *ch, const char *name,
                 const ferry_chan_consumer **ops, void **cctx)
{
    ct_server *srv = ctx;
    (void)s;
    if (strcmp(name, srv->accept_name != NULL ? srv->accept_name : "sftp") != 0) {
        return FERRY_E_UNSUPPORTED;
    }
    echo_ctx *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        return FERRY_E_ALLOC;
    }
    e->srv = srv;
    srv->opened++;
    srv->last = ch;
    *ops = &echo_ops;
    *cctx = e;
    return FERRY_OK;
}

/* ---- sink ---- */

static void sink_open(void *ctx, ferry_channel *ch, int ok)
{
    ct_sink *k = ctx;
    k->ch = ch;
    k->open_result = ok ? 1 : -1;
}

static long sink_data(void *ctx, ferry_channel *ch, const uint8_t *data, size_t len)
{
    ct_sink *k = ctx;
    (void)ch;
    if (k->stall) {
        return 0;
    }
    size_t n = k->max_take != 0 && len > k->max_take ? k->max_take : len;
    if (ferry_buf_put(k->got, data, n) != FERRY_OK) {
        return FERRY_E_TOO_LARGE;
    }
    return (long)n;
}

static void sink_eof(void *ctx, ferry_channel *ch)
{
    ct_sink *k = ctx;
    (void)ch;
    k->eofs++;
}

static void sink_writable(void *ctx, ferry_channel *ch)
{
    ct_sink *k = ctx;
    (void)ch;
    k->writables++;
}

static void sink_close(void *ctx, ferry_channel *ch)
{
    ct_sink *k = ctx;
    (void)ch;
    k->closes++;
    k->ch = NULL;
}

const ferry_chan_consumer ct_sink_ops = {
    .on_open = sink_open,
    .on_data = sink_data,
    .on_eof = sink_eof,
    .on_writable = sink_writable,
    .on_close = sink_close,
};

void ct_sink_init(ct_sink *k)
{
    memset(k, 0, sizeof(*k));
    k->got = ferry_buf_new(64u * 1024 * 1024);
}

void ct_sink_free(ct_sink *k)
{
    ferry_buf_free(k->got);
    k->got = NULL;
}

/* ---- user store ---- */

static int st_pubkey(void *ctx, const char *user, const ferry_key *key)
{
    ct_store *st = ctx;
    st->pk_calls++;
    if (strcmp(user, "alice") == 0 && st->allowed != NULL &&
        ferry_key_equal_public(st->allowed, key)) {
        return FERRY_OK;
    }
    return FERRY_E_AUTH_DENIED;
}

static int st_cert(void *ctx, const char *user, const ferry_cert *cert)
{
    ct_store *st = ctx;
    st->cert_calls++;
    if (strcmp(user, "alice") == 0 && st->allowed_ca != NULL &&
        ferry_key_equal_public(st->allowed_ca, cert->ca) &&
        ferry_cert_check(cert, FERRY_CERT_USER, "alice", (uint64_t)time(NULL), NULL, 0) ==
            FERRY_OK) {
        return FERRY_OK;
    }
    return FERRY_E_AUTH_DENIED;
}

static int st_password(void *ctx, const char *user, const char *password)
{
    ct_store *st = ctx;
    st->pw_calls++;
    int ok = strcmp(user, "alice") == 0;
    ok &= strcmp(password, "secret") == 0; /* same work for every user */
    return ok ? FERRY_OK : FERRY_E_AUTH_DENIED;
}

static void st_success(void *ctx, const char *user, const char *methods)
{
    ct_store *st = ctx;
    (void)user;
    st->successes++;
    strncpy(st->last_methods, methods, sizeof(st->last_methods) - 1);
}

static void st_failure(void *ctx, const char *user, const char *method)
{
    ct_store *st = ctx;
    (void)user;
    (void)method;
    st->failures++;
}

const ferry_auth_ops ct_store_ops = {
    .pubkey_allowed = st_pubkey,
    .cert_allowed = st_cert,
    .password_check = st_password,
    .on_success = st_success,
    .on_failure = st_failure,
};

/* ---- identity ---- */

static int id_sign(void *ctx, const ferry_key *pub, const char *sigalg, const uint8_t *data,
                   size_t len, ferry_buf *sig)
{
    (void)pub;
    return ferry_key_sign(ctx, sigalg, data, len, sig);
}

void ct_identity(ferry_identity *id, ferry_key *k)
{
    memset(id, 0, sizeof(*id));
    id->pub = k;
    id->sign = id_sign;
    id->ctx = k;
    id->label = "test key";
}

void ct_configs(ferry_ssh_config *c, ferry_ssh_config *s, ct_store *st, ct_server *srv,
                const ferry_identity *id)
{
    pair_default_configs(c, s);
    s->auth = &ct_store_ops;
    s->auth_ctx = st;
    s->subsystem = ct_subsystem;
    s->subsystem_ctx = srv;
    if (id != NULL) {
        c->identities = id;
        c->n_identities = 1;
        c->try_pubkey = 1;
    }
}

int ct_transfer(pair *p, ferry_channel *ch, const uint8_t *data, size_t len, ct_sink *k,
                size_t expect)
{
    size_t off = 0;
    for (int idle = 0; idle < 3;) {
        size_t before = off + ferry_buf_len(k->got);
        while (off < len && ch != NULL) {
            size_t room = ferry_channel_write_room(ch);
            size_t n = len - off < room ? len - off : room;
            if (n > 96 * 1024) {
                n = 96 * 1024;
            }
            if (n == 0 || ferry_channel_write(ch, data + off, n) != FERRY_OK) {
                break;
            }
            off += n;
        }
        if (pair_run(p, 10) < 0) {
            idle = 0;
        }
        if (off == len && ferry_buf_len(k->got) >= expect) {
            return 0;
        }
        idle = off + ferry_buf_len(k->got) == before ? idle + 1 : 0;
    }
    return -1;
}

void ct_fill(uint8_t *p, size_t n, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)(x >> 3);
    }
}

/* ---- raw sessions ---- */

int ct_raw_session(ferry_ssh **out, const ferry_ssh_config *cfg, int authenticated)
{
    static ferry_key *hk[1];
    ferry_ssh_config c = *cfg;
    ferry_ssh *s = NULL;
    if (c.role == FERRY_ROLE_SERVER && c.host_keys == NULL) {
        hk[0] = pair_hostkey(FERRY_KEY_ED25519);
        c.host_keys = hk;
        c.n_host_keys = 1;
    }
    int r = ferry_ssh_new(&s, &c);
    r = r == FERRY_OK ? ferry_ssh_start(s) : r;
    if (r != FERRY_OK) {
        ferry_ssh_free(s);
        return r;
    }
    size_t len = 0;
    (void)ferry_ssh_output(s, &len);
    ferry_ssh_output_consume(s, len); /* version line and KEXINIT */
    s->version_done = 1;
    s->in_kex = s->tx_kex = s->rx_kex = 0;
    s->kex_count = 1;
    memset(s->session_id, 0x11, 32);
    s->session_id_len = 32;
    s->state = FERRY_ST_AUTH;
    if (authenticated) {
        s->authenticated = 1;
        memcpy(s->user, "alice", 6);
        s->state = FERRY_ST_OPEN;
    }
    *out = s;
    return FERRY_OK;
}

int ct_feed(ferry_ssh *s, const uint8_t *payload, size_t n)
{
    ferry_buf *b = ferry_buf_new(0);
    int r = b == NULL ? FERRY_E_ALLOC : pair_plain_packet(b, payload, n);
    if (r == FERRY_OK) {
        r = ferry_ssh_input(s, ferry_buf_data(b), ferry_buf_len(b));
    }
    ferry_buf_free(b);
    return r;
}

int ct_feedb(ferry_ssh *s, const ferry_buf *payload)
{
    return ct_feed(s, ferry_buf_data(payload), ferry_buf_len(payload));
}

int ct_next(ferry_ssh *s, ferry_buf *payload)
{
    size_t len = 0;
    const uint8_t *p = ferry_ssh_output(s, &len);
    if (len < 5) {
        return 0;
    }
    size_t plen = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
    if (len < 4 + plen || plen < (size_t)p[4] + 1) {
        return 0;
    }
    ferry_buf_reset(payload);
    if (ferry_buf_put(payload, p + 5, plen - 1 - p[4]) != FERRY_OK) {
        return 0;
    }
    ferry_ssh_output_consume(s, 4 + plen);
    return 1;
}

int ct_drain(ferry_ssh *s)
{
    ferry_buf *b = ferry_buf_new(0);
    int n = 0;
    while (b != NULL && ct_next(s, b)) {
        n++;
    }
    ferry_buf_free(b);
    return n;
}
