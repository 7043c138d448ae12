/* test_channel.c: the connection protocol (RFC 4254): windows and max
 * packet sizes, channel and global requests, limits, EOF/CLOSE, flow
 * control through a consumer that stops consuming.
 *
 * Server side: raw messages to an authenticated session without key
 * exchange (helpers/chantest ct_raw_session). End to end: the pair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers/chantest.h"
#include "helpers/pair.h"
#include "ssh/ssh_int.h"
#include "util/err.h"

static int teardown(void **state)
{
    (void)state;
    pair_keys_cleanup();
    return 0;
}

/* ---- raw server fixture ---- */

typedef struct rs {
    ferry_ssh *s;
    ct_server srv;
    ferry_buf *msg;
} rs;

/* A server config for the fixture: the store and the echo subsystem. */
static void rs_config(rs *x, ferry_ssh_config *cfg)
{
    memset(x, 0, sizeof(*x));
    memset(cfg, 0, sizeof(*cfg));
    cfg->role = FERRY_ROLE_SERVER;
    cfg->auth = &ct_store_ops;
    cfg->subsystem = ct_subsystem;
    cfg->subsystem_ctx = &x->srv;
    x->msg = ferry_buf_new(0);
}

static void rs_new(rs *x, uint32_t window, unsigned max_channels)
{
    ferry_ssh_config cfg;
    rs_config(x, &cfg);
    cfg.window = window;
    cfg.max_channels = max_channels;
    assert_int_equal(ct_raw_session(&x->s, &cfg, 1), FERRY_OK);
}

static void rs_free(rs *x)
{
    ferry_ssh_free(x->s);
    ferry_buf_free(x->msg);
}

/* Next reply's message number (0 if none); left in x->msg. */
static int rs_next(rs *x)
{
    return ct_next(x->s, x->msg) ? ferry_buf_data(x->msg)[0] : 0;
}

static void send_open(rs *x, const char *type, uint32_t peer, uint32_t win, uint32_t maxpkt)
{
    ferry_buf *b = ferry_buf_new(0);
    ferry_buf_put_u8(b, SSH_MSG_CHANNEL_OPEN);
    ferry_buf_put_cstring(b, type);
    ferry_buf_put_u32(b, peer);
    ferry_buf_put_u32(b, win);
    ferry_buf_put_u32(b, maxpkt);
    (void)ct_feedb(x->s, b);
    ferry_buf_free(b);
}

/* Field `idx` (0-based u32 after the message number) of x->msg. */
static uint32_t field(const rs *x, int idx)
{
    ferry_rd rd;
    uint32_t v = 0;
    ferry_rd_from_buf(&rd, x->msg);
    assert_int_equal(ferry_rd_skip(&rd, 1 + 4 * (size_t)idx), FERRY_OK);
    assert_int_equal(ferry_rd_u32(&rd, &v), FERRY_OK);
    return v;
}

/* Opens a session channel; returns the server's id for it. */
static uint32_t open_session(rs *x, uint32_t peer, uint32_t win, uint32_t maxpkt)
{
    send_open(x, "session", peer, win, maxpkt);
    assert_int_equal(rs_next(x), SSH_MSG_CHANNEL_OPEN_CONFIRMATION);
    assert_int_equal(field(x, 0), peer);
    return field(x, 1);
}

static int chan_request(rs *x, uint32_t id, const char *type, int want, const char *arg)
{
    ferry_buf *b = ferry_buf_new(0);
    ferry_buf_put_u8(b, SSH_MSG_CHANNEL_REQUEST);
    ferry_buf_put_u32(b, id);
    ferry_buf_put_cstring(b, type);
    ferry_buf_put_bool(b, want);
    if (arg != NULL) {
        ferry_buf_put_cstring(b, arg);
    }
    (void)ct_feedb(x->s, b);
    ferry_buf_free(b);
    return rs_next(x);
}

static void send_data(rs *x, uint32_t id, const uint8_t *p, size_t n)
{
    ferry_buf *b = ferry_buf_new(0);
    ferry_buf_put_u8(b, SSH_MSG_CHANNEL_DATA);
    ferry_buf_put_u32(b, id);
    ferry_buf_put_string(b, p, n);
    (void)ct_feedb(x->s, b);
    ferry_buf_free(b);
}

static void send_u32s(rs *x, uint8_t msg, uint32_t a, int two, uint32_t b2)
{
    ferry_buf *b = ferry_buf_new(0);
    ferry_buf_put_u8(b, msg);
    ferry_buf_put_u32(b, a);
    if (two) {
        ferry_buf_put_u32(b, b2);
    }
    (void)ct_feedb(x->s, b);
    ferry_buf_free(b);
}

static void expect_disconnect(rs *x)
{
    assert_int_equal(rs_next(x), SSH_MSG_DISCONNECT);
    assert_int_equal(field(x, 0), SSH_DISCONNECT_PROTOCOL_ERROR);
    assert_true(ferry_ssh_is_closed(x->s));
}

/* An sftp channel to the echo consumer. */
static uint32_t echo_channel(rs *x, uint32_t win, uint32_t maxpkt)
{
    uint32_t id = open_session(x, 7, win, maxpkt);
    assert_int_equal(chan_request(x, id, "subsystem", 1, "sftp"), SSH_MSG_CHANNEL_SUCCESS);
    assert_int_equal(field(x, 0), 7);
    return id;
}

/* ---- tests ---- */

/* The peer's window and max packet are honoured exactly. */
static void test_peer_window_honoured(void **state)
{
    (void)state;
    rs x;
    uint8_t data[10000];
    ct_fill(data, sizeof(data), 1);
    rs_new(&x, 0, 0);
    uint32_t id = echo_channel(&x, 3000, 1000);
    send_data(&x, id, data, sizeof(data));
    size_t got = 0;
    int m;
    while ((m = rs_next(&x)) == SSH_MSG_CHANNEL_DATA) {
        assert_int_equal(field(&x, 1), 1000);
        got += 1000;
    }
    assert_int_equal(m, 0);
    assert_int_equal(got, 3000);
    assert_int_equal(ferry_channel_pending(x.srv.last), 7000);
    send_u32s(&x, SSH_MSG_CHANNEL_WINDOW_ADJUST, id, 1, 2500);
    size_t sizes[4] = {0};
    size_t n = 0;
    while ((m = rs_next(&x)) == SSH_MSG_CHANNEL_DATA && n < 4) {
        sizes[n++] = field(&x, 1);
    }
    assert_int_equal(n, 3);
    assert_int_equal(sizes[0], 1000);
    assert_int_equal(sizes[1], 1000);
    assert_int_equal(sizes[2], 500);
    assert_false(ferry_ssh_is_closed(x.s));
    rs_free(&x);
}

static void test_window_adjust_overflow(void **state)
{
    (void)state;
    rs x;
    rs_new(&x, 0, 0);
    uint32_t id = echo_channel(&x, 100, 1000);
    send_u32s(&x, SSH_MSG_CHANNEL_WINDOW_ADJUST, id, 1, UINT32_MAX - 100);
    assert_int_equal(rs_next(&x), 0);
    assert_false(ferry_ssh_is_closed(x.s));
    send_u32s(&x, SSH_MSG_CHANNEL_WINDOW_ADJUST, id, 1, 1);
    expect_disconnect(&x);
    rs_free(&x);
}

static void test_data_beyond_window(void **state)
{
    (void)state;
    rs x;
    uint8_t data[3000];
    ct_fill(data, sizeof(data), 2);
    rs_new(&x, 4096, 0);
    x.srv.stall = 1; /* consumes nothing: no WINDOW_ADJUST */
    uint32_t id = echo_channel(&x, 100000, 32768);
    send_data(&x, id, data, 3000);
    send_data(&x, id, data, 1096); /* exactly the window */
    assert_int_equal(rs_next(&x), 0);
    assert_false(ferry_ssh_is_closed(x.s));
    send_data(&x, id, data, 1);
    expect_disconnect(&x);
    rs_free(&x);
}

/* RFC 4254 s5.3: no data after EOF; we end the session. */
static void test_data_after_eof(void **state)
{
    (void)state;
    rs x;
    uint8_t d[4] = {1, 2, 3, 4};
    rs_new(&x, 0, 0);
    x.srv.stall = 1;
    uint32_t id = echo_channel(&x, 100000, 32768);
    send_data(&x, id, d, sizeof(d));
    send_u32s(&x, SSH_MSG_CHANNEL_EOF, id, 0, 0);
    assert_int_equal(x.srv.eofs, 0);              /* unconsumed data first */
    send_u32s(&x, SSH_MSG_CHANNEL_EOF, id, 0, 0); /* a repeated EOF is tolerated */
    assert_int_equal(rs_next(&x), 0);
    assert_false(ferry_ssh_is_closed(x.s));
    send_data(&x, id, d, sizeof(d));
    expect_disconnect(&x);
    rs_free(&x);
}

static void test_requests_refused(void **state)
{
    (void)state;
    static const char *const reqs[] = {"shell",         "exec",    "pty-req",
                                       "env",           "x11-req", "auth-agent-req@openssh.com",
                                       "window-change", "signal",  "nonsense-request-xyz"};
    rs x;
    rs_new(&x, 0, 0);
    uint32_t id = open_session(&x, 3, 65536, 32768);
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        assert_int_equal(chan_request(&x, id, reqs[i], 1, "x"), SSH_MSG_CHANNEL_FAILURE);
        assert_int_equal(field(&x, 0), 3);
        assert_int_equal(chan_request(&x, id, reqs[i], 0, "x"), 0); /* no reply wanted */
    }
    assert_int_equal(chan_request(&x, id, "subsystem", 1, "nosuch"), SSH_MSG_CHANNEL_FAILURE);
    assert_int_equal(chan_request(&x, id, "subsystem", 1, "sftp"), SSH_MSG_CHANNEL_SUCCESS);
    /* a second subsystem on the same channel */
    assert_int_equal(chan_request(&x, id, "subsystem", 1, "sftp"), SSH_MSG_CHANNEL_FAILURE);
    assert_int_equal(x.srv.opened, 1);
    /* global requests */
    ferry_buf *b = ferry_buf_new(0);
    ferry_buf_put_u8(b, SSH_MSG_GLOBAL_REQUEST);
    ferry_buf_put_cstring(b, "tcpip-forward");
    ferry_buf_put_bool(b, 1);
    ferry_buf_put_cstring(b, "0.0.0.0");
    ferry_buf_put_u32(b, 22);
    (void)ct_feedb(x.s, b);
    assert_int_equal(rs_next(&x), SSH_MSG_REQUEST_FAILURE);
    ferry_buf_reset(b);
    ferry_buf_put_u8(b, SSH_MSG_GLOBAL_REQUEST);
    ferry_buf_put_cstring(b, "keepalive@openssh.com");
    ferry_buf_put_bool(b, 0);
    (void)ct_feedb(x.s, b);
    assert_int_equal(rs_next(&x), 0);
    ferry_buf_free(b);
    assert_false(ferry_ssh_is_closed(x.s));
    rs_free(&x);
}

static void test_open_limits(void **state)
{
    (void)state;
    rs x;
    rs_new(&x, 0, 2);
    (void)open_session(&x, 1, 65536, 32768);
    (void)open_session(&x, 2, 65536, 32768);
    send_open(&x, "session", 3, 65536, 32768);
    assert_int_equal(rs_next(&x), SSH_MSG_CHANNEL_OPEN_FAILURE);
    assert_int_equal(field(&x, 0), 3);
    assert_int_equal(field(&x, 1), 4); /* RESOURCE_SHORTAGE */
    send_open(&x, "direct-tcpip", 4, 65536, 32768);
    assert_int_equal(rs_next(&x), SSH_MSG_CHANNEL_OPEN_FAILURE);
    assert_int_equal(field(&x, 1), 1); /* ADMINISTRATIVELY_PROHIBITED */
    send_open(&x, "x-nonsense", 5, 65536, 32768);
    assert_int_equal(rs_next(&x), SSH_MSG_CHANNEL_OPEN_FAILURE);
    assert_int_equal(field(&x, 1), 3); /* UNKNOWN_CHANNEL_TYPE */
    /* closing one makes room */
    send_u32s(&x, SSH_MSG_CHANNEL_CLOSE, 0, 0, 0);
    assert_int_equal(rs_next(&x), SSH_MSG_CHANNEL_CLOSE);
    assert_int_equal(field(&x, 0), 1);
    (void)open_session(&x, 6, 65536, 32768);
    /* unknown channel number */
    send_u32s(&x, SSH_MSG_CHANNEL_EOF, 9, 0, 0);
    expect_disconnect(&x);
    rs_free(&x);
}

static void test_exit_status_eof_close(void **state)
{
    (void)state;
    rs x;
    rs_new(&x, 0, 0);
    uint32_t id = echo_channel(&x, 65536, 32768);
    ferry_channel *ch = x.srv.last;
    uint8_t d[10] = {0};
    assert_int_equal(ferry_channel_write(ch, d, sizeof(d)), FERRY_OK);
    assert_int_equal(ferry_channel_exit_status(ch, 3), FERRY_OK);
    assert_int_equal(ferry_channel_send_eof(ch), FERRY_OK);
    assert_int_equal(ferry_channel_write(ch, d, 1), FERRY_E_CLOSED);
    assert_int_equal(ferry_channel_close(ch), FERRY_OK);
    assert_int_equal(rs_next(&x), SSH_MSG_CHANNEL_DATA);
    assert_int_equal(rs_next(&x), SSH_MSG_CHANNEL_REQUEST);
    assert_int_equal(rs_next(&x), SSH_MSG_CHANNEL_EOF);
    assert_int_equal(rs_next(&x), SSH_MSG_CHANNEL_CLOSE);
    assert_int_equal(x.srv.closed, 0);
    /* data in flight after our CLOSE is dropped quietly */
    send_data(&x, id, d, sizeof(d));
    assert_int_equal(rs_next(&x), 0);
    send_u32s(&x, SSH_MSG_CHANNEL_CLOSE, id, 0, 0);
    assert_int_equal(rs_next(&x), 0);
    assert_int_equal(x.srv.closed, 1);
    /* the channel is gone */
    send_u32s(&x, SSH_MSG_CHANNEL_EOF, id, 0, 0);
    expect_disconnect(&x);
    rs_free(&x);
}

/* ---- end to end ---- */

typedef struct e2e {
    pair *p;
    ct_store st;
    ct_server srv;
    ct_sink k;
} e2e;

static void e2e_new(e2e *e, uint32_t cwin, uint32_t cmax, uint32_t swin, const char *name)
{
    ferry_ssh_config c, s;
    memset(e, 0, sizeof(*e));
    ct_configs(&c, &s, &e->st, &e->srv, NULL);
    c.window = cwin;
    c.max_packet = cmax;
    s.window = swin;
    ct_sink_init(&e->k);
    assert_int_equal(pair_new(&e->p, &c, &s), FERRY_OK);
    assert_int_equal(ferry_ssh_open_subsystem(e->p->c, name, &ct_sink_ops, &e->k, NULL), FERRY_OK);
    assert_true(pair_run(e->p, 100) >= 0);
}

static void e2e_free(e2e *e)
{
    pair_free(e->p);
    ct_sink_free(&e->k);
}

/* A client with a 4 KiB window and 1 KiB packets still gets everything. */
static void test_tiny_window(void **state)
{
    (void)state;
    e2e e;
    size_t len = 300 * 1024;
    uint8_t *data = malloc(len);
    ct_fill(data, len, 3);
    e2e_new(&e, 4096, 1024, 0, "sftp");
    assert_int_equal(e.k.open_result, 1);
    assert_int_equal(ct_transfer(e.p, e.k.ch, data, len, &e.k, len), 0);
    assert_memory_equal(ferry_buf_data(e.k.got), data, len);
    assert_false(ferry_ssh_is_closed(e.p->s));
    assert_false(ferry_ssh_is_closed(e.p->c));
    e2e_free(&e);
    free(data);
}

/* A consumer that stops consuming stops the peer; resuming restarts it. */
static void test_stall_and_resume(void **state)
{
    (void)state;
    e2e e;
    size_t len = 200 * 1024;
    uint8_t *data = malloc(len);
    ct_fill(data, len, 4);
    e2e_new(&e, 64 * 1024, 0, 64 * 1024, "sftp");
    e.srv.stall = 1;
    assert_int_equal(ferry_channel_write(e.k.ch, data, len), FERRY_OK);
    assert_true(pair_run(e.p, 100) >= 0);
    /* the server holds exactly its window; the client holds the rest */
    assert_int_equal(ferry_channel_pending(e.k.ch), len - 64 * 1024);
    assert_int_equal(e.srv.echoed, 0);
    assert_int_equal(ferry_buf_len(e.k.got), 0);
    e.srv.stall = 0;
    ferry_channel_resume(e.srv.last);
    assert_true(pair_run(e.p, 1000) >= 0);
    assert_int_equal(ferry_channel_pending(e.k.ch), 0);
    assert_int_equal(ferry_buf_len(e.k.got), len);
    assert_memory_equal(ferry_buf_data(e.k.got), data, len);
    /* the client's sink stalls: the server's output waits, then resumes */
    e.k.stall = 1;
    assert_int_equal(ferry_channel_write(e.k.ch, data, len), FERRY_OK);
    assert_true(pair_run(e.p, 1000) >= 0);
    assert_int_equal(ferry_buf_len(e.k.got), len);
    assert_true(ferry_channel_pending(e.srv.last) > 0);
    e.k.stall = 0;
    e.k.max_take = 1000; /* partial consumption */
    ferry_channel_resume(e.k.ch);
    for (int i = 0; i < 1000 && ferry_buf_len(e.k.got) < 2 * len; i++) {
        assert_true(pair_run(e.p, 1000) >= 0);
        ferry_channel_resume(e.k.ch);
    }
    assert_int_equal(ferry_buf_len(e.k.got), 2 * len);
    assert_memory_equal(ferry_buf_data(e.k.got) + len, data, len);
    e2e_free(&e);
    free(data);
}

static void test_subsystem_refused(void **state)
{
    (void)state;
    e2e e;
    e2e_new(&e, 0, 0, 0, "shell-ish");
    assert_int_equal(e.k.open_result, -1);
    assert_int_equal(e.k.closes, 1); /* CLOSE exchanged, freed */
    assert_true(ferry_ssh_is_authenticated(e.p->c));
    assert_false(ferry_ssh_is_closed(e.p->c));
    assert_false(ferry_ssh_is_closed(e.p->s));
    /* the session goes on: another channel works */
    ct_sink k2;
    ct_sink_init(&k2);
    assert_int_equal(ferry_ssh_open_subsystem(e.p->c, "sftp", &ct_sink_ops, &k2, NULL), FERRY_OK);
    assert_true(pair_run(e.p, 100) >= 0);
    assert_int_equal(k2.open_result, 1);
    e2e_free(&e);
    assert_int_equal(k2.closes, 1);
    ct_sink_free(&k2);
}

/* Data built in place in its CHANNEL_DATA packet (ferryd's READ replies). */
static void test_write_in_place(void **state)
{
    (void)state;
    e2e e;
    int later = -1;
    e2e_new(&e, 0, 0, 16u * 1024 * 1024, "sftp");
    /* larger than the peer's max packet: not so */
    assert_null(ferry_channel_write_begin(e.k.ch, 300 * 1024, &later));
    assert_int_equal(later, 0);
    later = -1;
    uint8_t *p = ferry_channel_write_begin(e.k.ch, 10, &later);
    assert_non_null(p);
    memcpy(p, "hello", 5);
    assert_int_equal(ferry_channel_write_end(e.k.ch, 5), FERRY_OK); /* fewer than asked */
    /* abandoned: nothing goes out */
    assert_non_null(ferry_channel_write_begin(e.k.ch, 10, &later));
    assert_int_equal(ferry_channel_write_end(e.k.ch, 0), FERRY_OK);
    assert_true(pair_run(e.p, 100) >= 0);
    assert_int_equal(ferry_buf_len(e.k.got), 5); /* echoed back */
    assert_memory_equal(ferry_buf_data(e.k.got), "hello", 5);
    /* our own backlog in the way (the window has room): later, and
     * on_writable follows once it drains */
    size_t len = 1024 * 1024;
    uint8_t *data = calloc(1, len);
    for (int i = 0; i < 8 && ferry_channel_pending(e.k.ch) == 0; i++) {
        assert_int_equal(ferry_channel_write(e.k.ch, data, len), FERRY_OK);
    }
    assert_true(ferry_channel_pending(e.k.ch) > 0);
    assert_null(ferry_channel_write_begin(e.k.ch, 10, &later));
    assert_int_equal(later, 1);
    unsigned w = e.k.writables;
    assert_true(pair_run(e.p, 1000) >= 0);
    assert_int_equal(ferry_channel_pending(e.k.ch), 0);
    assert_true(e.k.writables > w); /* told */
    assert_non_null(ferry_channel_write_begin(e.k.ch, 10, &later));
    assert_int_equal(ferry_channel_write_end(e.k.ch, 0), FERRY_OK);
    e2e_free(&e);
    free(data);
}

/* Data written before the subsystem request is answered follows the
 * request (no round trip spent waiting); refused, it is dropped. */
static int early_rounds(const char *name, int early, e2e *e)
{
    ferry_ssh_config c, s;
    uint8_t d[3000];
    ferry_channel *ch = NULL;
    ct_fill(d, sizeof(d), 6);
    memset(e, 0, sizeof(*e));
    ct_configs(&c, &s, &e->st, &e->srv, NULL);
    ct_sink_init(&e->k);
    assert_int_equal(pair_new(&e->p, &c, &s), FERRY_OK);
    assert_int_equal(ferry_ssh_open_subsystem(e->p->c, name, &ct_sink_ops, &e->k, &ch), FERRY_OK);
    int rounds = 0;
    if (early) {
        assert_int_equal(ferry_channel_write(ch, d, sizeof(d)), FERRY_OK);
    } else {
        while (e->k.open_result == 0 && rounds < 100) {
            (void)pair_run(e->p, 1); /* one round: -1 while anything moves */
            rounds++;
        }
        assert_int_equal(ferry_channel_write(ch, d, sizeof(d)), FERRY_OK);
    }
    int more = pair_run(e->p, 100);
    assert_true(more >= 0);
    if (e->k.open_result == 1) {
        assert_int_equal(ferry_buf_len(e->k.got), sizeof(d));
        assert_memory_equal(ferry_buf_data(e->k.got), d, sizeof(d));
    }
    return rounds + more;
}

static void test_early_data(void **state)
{
    (void)state;
    e2e e;
    int late = early_rounds("sftp", 0, &e);
    e2e_free(&e);
    assert_int_equal(early_rounds("sftp", 1, &e), late - 1);
    assert_int_equal(e.k.open_result, 1);
    e2e_free(&e);
    /* refused: nothing reaches a consumer, the session goes on */
    early_rounds("shell-ish", 1, &e);
    assert_int_equal(e.k.open_result, -1);
    assert_int_equal(e.srv.echoed, 0);
    assert_int_equal(ferry_buf_len(e.k.got), 0);
    assert_int_equal(e.k.closes, 1);
    assert_false(ferry_ssh_is_closed(e.p->c));
    assert_false(ferry_ssh_is_closed(e.p->s));
    e2e_free(&e);
}

static void test_eof_close_handshake(void **state)
{
    (void)state;
    e2e e;
    uint8_t d[5000];
    ct_fill(d, sizeof(d), 5);
    e2e_new(&e, 0, 0, 0, "sftp");
    assert_int_equal(ferry_channel_write(e.k.ch, d, sizeof(d)), FERRY_OK);
    assert_int_equal(ferry_channel_send_eof(e.k.ch), FERRY_OK);
    assert_true(pair_run(e.p, 100) >= 0);
    assert_int_equal(ferry_buf_len(e.k.got), sizeof(d));
    assert_int_equal(e.srv.eofs, 1);
    assert_int_equal(e.k.eofs, 1);
    assert_int_equal(e.k.closes, 1);
    assert_int_equal(e.srv.closed, 1);
    assert_false(ferry_ssh_is_closed(e.p->c));
    e2e_free(&e);
    assert_int_equal(e.k.closes, 1); /* exactly once */
}

static void test_many_channels(void **state)
{
    (void)state;
    ferry_ssh_config c, s;
    ct_store st = {0};
    ct_server srv = {0};
    ct_sink k[4];
    uint8_t d[4][20000];
    pair *p = NULL;
    ct_configs(&c, &s, &st, &srv, NULL);
    s.max_channels = 3;
    assert_int_equal(pair_new(&p, &c, &s), FERRY_OK);
    for (int i = 0; i < 4; i++) {
        ct_sink_init(&k[i]);
        ct_fill(d[i], sizeof(d[i]), 10u + (uint32_t)i);
        assert_int_equal(ferry_ssh_open_subsystem(p->c, "sftp", &ct_sink_ops, &k[i], NULL),
                         FERRY_OK);
    }
    assert_true(pair_run(p, 100) >= 0);
    assert_int_equal(k[3].open_result, -1); /* over the server's limit */
    assert_int_equal(k[3].closes, 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(k[i].open_result, 1);
        assert_int_equal(ferry_channel_write(k[i].ch, d[i], sizeof(d[i])), FERRY_OK);
    }
    assert_true(pair_run(p, 100) >= 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ferry_buf_len(k[i].got), sizeof(d[i]));
        assert_memory_equal(ferry_buf_data(k[i].got), d[i], sizeof(d[i]));
    }
    pair_free(p);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(k[i].closes, 1);
        ct_sink_free(&k[i]);
    }
}

/* Writes are all-or-nothing and bounded; on_writable follows the drain. */
static void test_write_bounds(void **state)
{
    (void)state;
    e2e e;
    size_t big = 9u * 1024 * 1024;
    uint8_t *data = calloc(1, big);
    e2e_new(&e, 0, 0, 0, "sftp");
    e.srv.stall = 1;
    size_t room = ferry_channel_write_room(e.k.ch);
    assert_true(room > 0 && room < big);
    assert_int_equal(ferry_channel_write(e.k.ch, data, big), FERRY_E_AGAIN);
    assert_int_equal(ferry_channel_pending(e.k.ch), 0);
    /* The stalled peer's window fills, then our queue: no room is left. */
    size_t total = 0;
    while ((room = ferry_channel_write_room(e.k.ch)) > 0) {
        assert_true(total < big);
        assert_int_equal(ferry_channel_write(e.k.ch, data, room), FERRY_OK);
        total += room;
        assert_true(pair_run(e.p, 1000) >= 0);
    }
    assert_true(ferry_channel_pending(e.k.ch) > 0);
    assert_int_equal(ferry_channel_write(e.k.ch, data, 1), FERRY_E_AGAIN);
    unsigned writables = e.k.writables;
    assert_true(pair_run(e.p, 1000) >= 0);
    assert_int_equal(e.k.writables, writables); /* nothing drained */
    e.srv.stall = 0;
    ferry_channel_resume(e.srv.last);
    e.k.max_take = 0;
    for (int i = 0; i < 100 && ferry_buf_len(e.k.got) < total; i++) {
        assert_true(pair_run(e.p, 1000) >= 0);
    }
    assert_int_equal(ferry_buf_len(e.k.got), total);
    assert_true(e.k.writables > writables);
    e2e_free(&e);
    free(data);
}

/* The client refuses channels the server tries to open. */
static void test_client_refuses_open(void **state)
{
    (void)state;
    ferry_ssh_config c, s;
    ferry_ssh *x = NULL;
    ferry_buf *b = ferry_buf_new(0);
    pair_default_configs(&c, &s);
    assert_int_equal(ct_raw_session(&x, &c, 1), FERRY_OK);
    ferry_buf_put_u8(b, SSH_MSG_CHANNEL_OPEN);
    ferry_buf_put_cstring(b, "forwarded-tcpip");
    ferry_buf_put_u32(b, 42);
    ferry_buf_put_u32(b, 1000);
    ferry_buf_put_u32(b, 1000);
    ferry_buf_put_cstring(b, "127.0.0.1");
    ferry_buf_put_u32(b, 80);
    ferry_buf_put_cstring(b, "127.0.0.1");
    ferry_buf_put_u32(b, 1234);
    assert_int_equal(ct_feedb(x, b), FERRY_OK);
    assert_int_equal(ct_next(x, b), 1);
    assert_int_equal(ferry_buf_data(b)[0], SSH_MSG_CHANNEL_OPEN_FAILURE);
    assert_false(ferry_ssh_is_closed(x));
    ferry_buf_free(b);
    ferry_ssh_free(x);
}

/* A client's direct-tcpip channel (ssh -W, ProxyJump's hop): the open
 * carries the target and the originator (RFC 4254 s7.2), confirmation
 * opens it without a channel request, data flows both ways; a refusal
 * reaches on_open; bad targets are refused before anything is sent. */
static void test_direct_tcpip(void **state)
{
    (void)state;
    ferry_ssh_config c, s;
    ferry_ssh *x = NULL;
    ferry_channel *ch = NULL;
    ferry_buf *b = ferry_buf_new(0);
    ct_sink k, k2;
    char longname[300];
    ferry_rd rd;
    char name[64];
    const uint8_t *p = NULL;
    size_t n = 0;
    uint32_t v[5];
    ct_sink_init(&k);
    ct_sink_init(&k2);
    pair_default_configs(&c, &s);
    assert_int_equal(ct_raw_session(&x, &c, 1), FERRY_OK);

    memset(longname, 'h', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(ferry_ssh_open_direct_tcpip(x, longname, 22, &ct_sink_ops, &k, NULL),
                     FERRY_E_INVALID_ARG);
    assert_int_equal(ferry_ssh_open_direct_tcpip(x, "", 22, &ct_sink_ops, &k, NULL),
                     FERRY_E_INVALID_ARG);
    assert_int_equal(ferry_ssh_open_subsystem(x, NULL, &ct_sink_ops, &k, NULL),
                     FERRY_E_INVALID_ARG);
    assert_int_equal(ct_next(x, b), 0);

    assert_int_equal(ferry_ssh_open_direct_tcpip(x, "files.example", 2222, &ct_sink_ops, &k, &ch),
                     FERRY_OK);
    assert_int_equal(ct_next(x, b), 1);
    ferry_rd_from_buf(&rd, b);
    assert_int_equal(ferry_rd_skip(&rd, 1), FERRY_OK);
    assert_int_equal(ferry_buf_data(b)[0], SSH_MSG_CHANNEL_OPEN);
    assert_int_equal(ferry_rd_name(&rd, name, sizeof(name)), FERRY_OK);
    assert_string_equal(name, "direct-tcpip");
    for (int i = 0; i < 3; i++) { /* our id, window, max packet */
        assert_int_equal(ferry_rd_u32(&rd, &v[i]), FERRY_OK);
    }
    assert_int_equal(ferry_rd_string(&rd, &p, &n), FERRY_OK);
    assert_memory_equal(p, "files.example", n);
    assert_int_equal(n, strlen("files.example"));
    assert_int_equal(ferry_rd_u32(&rd, &v[3]), FERRY_OK);
    assert_int_equal(v[3], 2222);
    assert_int_equal(ferry_rd_string(&rd, &p, &n), FERRY_OK);
    assert_int_equal(ferry_rd_u32(&rd, &v[4]), FERRY_OK);
    assert_int_equal(ferry_rd_end(&rd), FERRY_OK);
    assert_int_equal(k.open_result, 0);

    /* confirmation: open at once, no request follows */
    ferry_buf_reset(b);
    ferry_buf_put_u8(b, SSH_MSG_CHANNEL_OPEN_CONFIRMATION);
    ferry_buf_put_u32(b, v[0]);
    ferry_buf_put_u32(b, 77);
    ferry_buf_put_u32(b, 1u << 20);
    ferry_buf_put_u32(b, 32768);
    assert_int_equal(ct_feedb(x, b), FERRY_OK);
    assert_int_equal(k.open_result, 1);
    assert_int_equal(ct_next(x, b), 0);

    ferry_buf_reset(b);
    ferry_buf_put_u8(b, SSH_MSG_CHANNEL_DATA);
    ferry_buf_put_u32(b, v[0]);
    ferry_buf_put_cstring(b, "SSH-2.0-target\r\n");
    assert_int_equal(ct_feedb(x, b), FERRY_OK);
    assert_int_equal(ferry_buf_len(k.got), strlen("SSH-2.0-target\r\n"));
    assert_int_equal(ferry_channel_write(ch, (const uint8_t *)"hello", 5), FERRY_OK);
    assert_int_equal(ct_next(x, b), 1);
    assert_int_equal(ferry_buf_data(b)[0], SSH_MSG_CHANNEL_DATA);
    ferry_rd_from_buf(&rd, b);
    assert_int_equal(ferry_rd_skip(&rd, 1), FERRY_OK);
    assert_int_equal(ferry_rd_u32(&rd, &v[1]), FERRY_OK);
    assert_int_equal(v[1], 77);
    assert_int_equal(ferry_rd_string(&rd, &p, &n), FERRY_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(p, "hello", 5);

    /* a second one, refused by the server */
    assert_int_equal(ferry_ssh_open_direct_tcpip(x, "10.0.0.1", 22, &ct_sink_ops, &k2, NULL),
                     FERRY_OK);
    assert_int_equal(ct_next(x, b), 1);
    ferry_rd_from_buf(&rd, b);
    assert_int_equal(ferry_rd_skip(&rd, 1), FERRY_OK);
    assert_int_equal(ferry_rd_name(&rd, name, sizeof(name)), FERRY_OK);
    assert_int_equal(ferry_rd_u32(&rd, &v[2]), FERRY_OK);
    ferry_buf_reset(b);
    ferry_buf_put_u8(b, SSH_MSG_CHANNEL_OPEN_FAILURE);
    ferry_buf_put_u32(b, v[2]);
    ferry_buf_put_u32(b, 2); /* connect failed */
    ferry_buf_put_cstring(b, "Connection refused");
    ferry_buf_put_cstring(b, "");
    assert_int_equal(ct_feedb(x, b), FERRY_OK);
    assert_int_equal(k2.open_result, -1);
    assert_false(ferry_ssh_is_closed(x));
    ferry_buf_free(b);
    ferry_ssh_free(x);
    ct_sink_free(&k);
    ct_sink_free(&k2);
}

/* Every truncation and every bit flip of valid channel messages: the
 * session either answers, ignores or disconnects, never misbehaves
 * (sanitizers watch), and a well-formed follow-up still works when the
 * session is alive. */
static unsigned mutated;
static void mutate_one(const uint8_t *m, size_t n, size_t cut, int flip)
{
    mutated++;
    rs x;
    uint8_t buf[64];
    rs_new(&x, 8192, 0);
    uint32_t id = echo_channel(&x, 100000, 32768);
    assert_int_equal(id, 0);
    memcpy(buf, m, n);
    if (flip >= 0) {
        buf[flip / 8] ^= (uint8_t)(1u << (flip % 8));
    }
    (void)ct_feed(x.s, buf, cut);
    (void)ct_drain(x.s);
    if (!ferry_ssh_is_closed(x.s)) {
        uint8_t d[3] = {1, 2, 3};
        send_data(&x, id, d, sizeof(d));
        (void)ct_drain(x.s);
    }
    rs_free(&x);
}

static void test_mutations(void **state)
{
    (void)state;
    ferry_buf *msgs[6];
    for (size_t i = 0; i < 6; i++) {
        msgs[i] = ferry_buf_new(0);
    }
    ferry_buf_put_u8(msgs[0], SSH_MSG_CHANNEL_DATA);
    ferry_buf_put_u32(msgs[0], 0);
    ferry_buf_put_cstring(msgs[0], "hello world");
    ferry_buf_put_u8(msgs[1], SSH_MSG_CHANNEL_WINDOW_ADJUST);
    ferry_buf_put_u32(msgs[1], 0);
    ferry_buf_put_u32(msgs[1], 1000);
    ferry_buf_put_u8(msgs[2], SSH_MSG_CHANNEL_REQUEST);
    ferry_buf_put_u32(msgs[2], 0);
    ferry_buf_put_cstring(msgs[2], "subsystem");
    ferry_buf_put_bool(msgs[2], 1);
    ferry_buf_put_cstring(msgs[2], "sftp");
    ferry_buf_put_u8(msgs[3], SSH_MSG_CHANNEL_OPEN);
    ferry_buf_put_cstring(msgs[3], "session");
    ferry_buf_put_u32(msgs[3], 9);
    ferry_buf_put_u32(msgs[3], 1000);
    ferry_buf_put_u32(msgs[3], 100);
    ferry_buf_put_u8(msgs[4], SSH_MSG_GLOBAL_REQUEST);
    ferry_buf_put_cstring(msgs[4], "tcpip-forward");
    ferry_buf_put_bool(msgs[4], 1);
    ferry_buf_put_u8(msgs[5], SSH_MSG_CHANNEL_EXTENDED_DATA);
    ferry_buf_put_u32(msgs[5], 0);
    ferry_buf_put_u32(msgs[5], 1);
    ferry_buf_put_cstring(msgs[5], "err");
    for (size_t i = 0; i < 6; i++) {
        const uint8_t *m = ferry_buf_data(msgs[i]);
        size_t n = ferry_buf_len(msgs[i]);
        assert_true(n <= 64);
        for (size_t cut = 1; cut < n; cut++) {
            mutate_one(m, n, cut, -1);
        }
        for (int bit = 0; bit < (int)n * 8; bit++) {
            mutate_one(m, n, n, bit);
        }
        ferry_buf_free(msgs[i]);
    }
    assert_true(mutated > 1000);
}

/* Next message that is not CHANNEL_DATA (0 if none). */
static int next_control(rs *x)
{
    int m;
    while ((m = rs_next(x)) == SSH_MSG_CHANNEL_DATA) {
    }
    return m;
}

static void send_bulk(rs *x, uint32_t id, size_t total)
{
    static uint8_t chunk[256000];
    while (total > 0) {
        size_t n = total < sizeof(chunk) ? total : sizeof(chunk);
        send_data(x, id, chunk, n);
        total -= n;
    }
}

/* The WINDOW_ADJUSTs among the next control messages, summed; the first
 * other message's number (0 if none) goes to *next. */
static uint64_t adjusts(rs *x, int *next)
{
    uint64_t sum = 0;
    int m;
    while ((m = next_control(x)) == SSH_MSG_CHANNEL_WINDOW_ADJUST) {
        sum += field(x, 1);
    }
    *next = m;
    return sum;
}

/* With the default window, a peer that used up all the window it had
 * before our WINDOW_ADJUST reached it gets a bigger window; one that did
 * not, or a fixed cfg.window, does not. frame: the consumer takes whole
 * frames only (an SFTP server leaves a partial message for later), which
 * must not stop the growth. The first WINDOW_ADJUST goes out once an
 * eighth of the window is used; more follow while the probe is out. */
static void check_growth(uint32_t cfg_window, size_t after_probe, int expect_growth, size_t frame)
{
    rs x;
    rs_new(&x, cfg_window, 0);
    x.srv.frame = frame;
    uint32_t id = echo_channel(&x, UINT32_MAX, 32768);
    size_t first = 3 * 256000; /* past an eighth of the 4 MiB window, not two chunks */
    size_t taken = frame ? first - first % frame : first;
    send_bulk(&x, id, 2 * 256000);
    assert_int_equal(next_control(&x), 0);
    send_bulk(&x, id, first - 2 * 256000);
    assert_int_equal(next_control(&x), SSH_MSG_CHANNEL_WINDOW_ADJUST);
    assert_int_equal(field(&x, 1), taken);
    if (cfg_window != 0) {
        assert_int_equal(next_control(&x), 0); /* no probe */
        rs_free(&x);
        return;
    }
    assert_int_equal(next_control(&x), SSH_MSG_CHANNEL_REQUEST);
    ferry_rd rd;
    char name[64];
    int want = 0;
    ferry_rd_from_buf(&rd, x.msg);
    assert_int_equal(ferry_rd_skip(&rd, 5), FERRY_OK);
    assert_int_equal(ferry_rd_name(&rd, name, sizeof(name)), FERRY_OK);
    assert_int_equal(ferry_rd_bool(&rd, &want), FERRY_OK);
    assert_string_equal(name, "winadj@putty.projects.tartarus.org");
    assert_int_equal(want, 1);
    send_bulk(&x, id, after_probe);
    int m;
    uint64_t adjusted = taken + adjusts(&x, &m);
    assert_int_equal(m, 0); /* no second probe while one is out */
    send_u32s(&x, SSH_MSG_CHANNEL_FAILURE, id, 0, 0);
    size_t total = first + after_probe;
    size_t now = frame ? total - total % frame : total;
    adjusted += adjusts(&x, &m);
    assert_int_equal(m, 0);
    if (expect_growth) {
        /* the growth plus everything consumed */
        assert_int_equal(adjusted, 28u * 1024 * 1024 + now);
        assert_int_equal(ferry_channel_window(x.srv.last, 0), 32u * 1024 * 1024);
        assert_int_equal(ferry_channel_window(x.srv.last, 1), UINT32_MAX);
        /* the whole 32 MiB window (grown eightfold, to the limit) is usable now */
        send_bulk(&x, id, 32u * 1024 * 1024 - (total - now));
        assert_false(ferry_ssh_is_closed(x.s));
    } else {
        assert_int_equal(adjusted, taken); /* not another eighth used yet */
        assert_int_equal(ferry_channel_window(x.srv.last, 0), 4194304);
    }
    assert_false(ferry_ssh_is_closed(x.s));
    rs_free(&x);
}

static void test_window_growth(void **state)
{
    (void)state;
    check_growth(0, 4194304 - 3 * 256000, 1, 0);
    check_growth(0, 100000, 0, 0);
    check_growth(4194304, 0, 0, 0);
    check_growth(0, 4194304 - 3 * 256000, 1, 300000);
}

/* ---- keepalives ---- */

static uint64_t test_clock(void *ctx)
{
    return *(const uint64_t *)ctx;
}

/* A raw authenticated server with keepalives every 1000 ms on a test clock. */
static void alive_new(rs *x, uint64_t *clock, unsigned count_max, int authenticated)
{
    ferry_ssh_config cfg;
    rs_config(x, &cfg);
    cfg.now_ms = test_clock;
    cfg.clock_ctx = clock;
    cfg.alive_interval_ms = 1000;
    cfg.alive_count_max = count_max;
    assert_int_equal(ct_raw_session(&x->s, &cfg, authenticated), FERRY_OK);
    ct_drain(x->s);
}

/* Ticks at the clock; returns the next deadline. */
static int64_t alive_tick(rs *x)
{
    int64_t next = -2;
    (void)ferry_ssh_tick(x->s, &next);
    return next;
}

/* The next message is OpenSSH's keepalive: GLOBAL_REQUEST
 * "keepalive@openssh.com" with want-reply. */
static void expect_keepalive(rs *x)
{
    const uint8_t *name = NULL;
    size_t n = 0;
    int want = 0;
    ferry_rd rd;
    assert_int_equal(rs_next(x), SSH_MSG_GLOBAL_REQUEST);
    ferry_rd_from_buf(&rd, x->msg);
    assert_int_equal(ferry_rd_skip(&rd, 1), FERRY_OK);
    assert_int_equal(ferry_rd_string(&rd, &name, &n), FERRY_OK);
    assert_int_equal(ferry_rd_bool(&rd, &want), FERRY_OK);
    assert_int_equal(ferry_rd_end(&rd), FERRY_OK);
    assert_int_equal(n, strlen("keepalive@openssh.com"));
    assert_memory_equal(name, "keepalive@openssh.com", n);
    assert_int_equal(want, 1);
}

/* The session is still open `left - 1` ms from now and closed at `left`,
 * for the reason `why` (FERRY_E_TIMEOUT). */
static void closes_after(rs *x, uint64_t *clock, uint64_t left, const char *why)
{
    *clock += left - 1;
    (void)alive_tick(x);
    assert_false(ferry_ssh_is_closed(x->s));
    *clock += 1;
    (void)alive_tick(x);
    assert_true(ferry_ssh_is_closed(x->s));
    const char *msg = NULL;
    assert_int_equal(ferry_ssh_close_reason(x->s, &msg), FERRY_E_TIMEOUT);
    assert_non_null(strstr(msg, why));
}

static void test_keepalive_probes(void **state)
{
    (void)state;
    uint64_t clock = 5000;
    rs x;
    alive_new(&x, &clock, 2, 1);
    clock += 999; /* silence shorter than the interval: nothing */
    assert_int_equal(alive_tick(&x), 1);
    assert_int_equal(rs_next(&x), 0);
    clock += 1;
    assert_int_equal(alive_tick(&x), 1000);
    expect_keepalive(&x);
    assert_int_equal(alive_tick(&x), 1000); /* one probe per interval */
    assert_int_equal(rs_next(&x), 0);
    /* the peer's reply (REQUEST_FAILURE, as OpenSSH's) starts over */
    clock += 500;
    const uint8_t fail[] = {SSH_MSG_REQUEST_FAILURE};
    assert_int_equal(ct_feed(x.s, fail, 1), FERRY_OK);
    assert_int_equal(alive_tick(&x), 1000);
    /* any packet answers: here an IGNORE, 900 ms later */
    clock += 900;
    const uint8_t ign[] = {SSH_MSG_IGNORE, 0, 0, 0, 0};
    assert_int_equal(ct_feed(x.s, ign, sizeof(ign)), FERRY_OK);
    assert_int_equal(alive_tick(&x), 1000);
    assert_int_equal(rs_next(&x), 0);
    /* then silence: two probes, and the session ends at the third interval */
    clock += 1000;
    (void)alive_tick(&x);
    expect_keepalive(&x);
    clock += 1000;
    (void)alive_tick(&x);
    expect_keepalive(&x);
    assert_false(ferry_ssh_is_closed(x.s));
    closes_after(&x, &clock, 1000, "not responding");
    assert_int_equal(rs_next(&x), SSH_MSG_DISCONNECT);
    rs_free(&x);
}

static void test_keepalive_limits(void **state)
{
    (void)state;
    uint64_t clock = 5000;
    rs x;
    /* count 0: probes forever, never gives up */
    alive_new(&x, &clock, 0, 1);
    for (int i = 0; i < 20; i++) {
        clock += 1000;
        assert_int_equal(alive_tick(&x), 1000);
        expect_keepalive(&x);
    }
    assert_false(ferry_ssh_is_closed(x.s));
    rs_free(&x);
    /* before authentication: no probes (LoginGraceTime is the driver's) */
    alive_new(&x, &clock, 1, 0);
    clock += 10000;
    assert_int_equal(alive_tick(&x), -1);
    assert_int_equal(rs_next(&x), 0);
    assert_false(ferry_ssh_is_closed(x.s));
    rs_free(&x);
}

/* ChannelTimeout / UnusedConnectionTimeout on a test clock: 2 s without a
 * channel, 3 s without channel data (keepalive replies are no traffic;
 * data either way, or a channel opening, is). */
static void test_idle_timeouts(void **state)
{
    (void)state;
    uint64_t clock = 5000;
    rs x;
    ferry_ssh_config cfg;
    rs_config(&x, &cfg);
    cfg.now_ms = test_clock;
    cfg.clock_ctx = &clock;
    cfg.channel_idle_ms = 3000;
    cfg.unused_ms = 2000;
    assert_int_equal(ct_raw_session(&x.s, &cfg, 1), FERRY_OK);
    ct_drain(x.s);
    assert_int_equal(alive_tick(&x), 2000); /* no channel yet */
    clock += 1500;
    const uint8_t ign[] = {SSH_MSG_IGNORE, 0, 0, 0, 0};
    assert_int_equal(ct_feed(x.s, ign, sizeof(ign)), FERRY_OK);
    assert_int_equal(alive_tick(&x), 500); /* any packet is no channel */
    /* a channel opens: its data keeps the connection */
    uint32_t id = open_session(&x, 7, 1 << 20, 32768);
    assert_int_equal(chan_request(&x, id, "subsystem", 1, "sftp"), SSH_MSG_CHANNEL_SUCCESS);
    assert_int_equal(alive_tick(&x), 3000);
    for (int i = 0; i < 5; i++) {
        clock += 2900;
        assert_int_equal(alive_tick(&x), 100);
        send_data(&x, id, (const uint8_t *)"ping", 4);
        ct_drain(x.s);
        assert_int_equal(alive_tick(&x), 3000);
    }
    assert_false(ferry_ssh_is_closed(x.s));
    closes_after(&x, &clock, 3000, "channel idle for 3 s");
    rs_free(&x);
    /* no channel at all: closed after 2 s */
    rs_config(&x, &cfg);
    cfg.now_ms = test_clock;
    cfg.clock_ctx = &clock;
    cfg.unused_ms = 2000;
    assert_int_equal(ct_raw_session(&x.s, &cfg, 1), FERRY_OK);
    ct_drain(x.s);
    (void)alive_tick(&x);
    closes_after(&x, &clock, 2000, "no channel for 2 s");
    int last = 0, m;
    while ((m = rs_next(&x)) != 0) {
        last = m;
    }
    assert_int_equal(last, SSH_MSG_DISCONNECT);
    rs_free(&x);
}

/* Drops everything the server sends (a peer gone silent). */
static void drop_s2c(void *ctx, enum pair_dir dir, ferry_buf *chunk)
{
    if (dir == PAIR_S2C && *(int *)ctx) {
        ferry_buf_reset(chunk);
    }
}

/* End to end: the client probes, our server answers, the session lives
 * through idle intervals; when the server falls silent the client ends
 * the session. */
static void test_keepalive_pair(void **state)
{
    (void)state;
    ferry_ssh_config c, s;
    ct_store st = {0};
    ct_server echo = {0};
    pair *p = NULL;
    int silent = 0;
    ct_configs(&c, &s, &st, &echo, NULL);
    c.alive_interval_ms = 15000;
    c.alive_count_max = 3;
    assert_int_equal(pair_new(&p, &c, &s), FERRY_OK);
    p->hook = drop_s2c;
    p->hook_ctx = &silent;
    assert_true(pair_run(p, 100) >= 0);
    assert_true(ferry_ssh_is_authenticated(p->c));
    for (int i = 0; i < 10; i++) {
        uint64_t c2s = p->bytes[PAIR_C2S], s2c = p->bytes[PAIR_S2C];
        pair_advance(p, 15000);
        assert_true(pair_run(p, 100) >= 0);
        assert_true(p->bytes[PAIR_C2S] > c2s); /* a probe */
        assert_true(p->bytes[PAIR_S2C] > s2c); /* its answer */
    }
    assert_false(ferry_ssh_is_closed(p->c));
    assert_false(ferry_ssh_is_closed(p->s));
    silent = 1;
    for (int i = 0; i < 3; i++) {
        pair_advance(p, 15000);
        assert_true(pair_run(p, 100) >= 0);
        assert_false(ferry_ssh_is_closed(p->c));
    }
    pair_advance(p, 15000);
    assert_true(ferry_ssh_is_closed(p->c));
    assert_int_equal(ferry_ssh_close_reason(p->c, NULL), FERRY_E_TIMEOUT);
    pair_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peer_window_honoured),
        cmocka_unit_test(test_idle_timeouts),
        cmocka_unit_test(test_window_adjust_overflow),
        cmocka_unit_test(test_data_beyond_window),
        cmocka_unit_test(test_data_after_eof),
        cmocka_unit_test(test_requests_refused),
        cmocka_unit_test(test_open_limits),
        cmocka_unit_test(test_exit_status_eof_close),
        cmocka_unit_test(test_tiny_window),
        cmocka_unit_test(test_stall_and_resume),
        cmocka_unit_test(test_subsystem_refused),
        cmocka_unit_test(test_early_data),
        cmocka_unit_test(test_write_in_place),
        cmocka_unit_test(test_eof_close_handshake),
        cmocka_unit_test(test_many_channels),
        cmocka_unit_test(test_write_bounds),
        cmocka_unit_test(test_client_refuses_open),
        cmocka_unit_test(test_direct_tcpip),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_window_growth),
        cmocka_unit_test(test_keepalive_probes),
        cmocka_unit_test(test_keepalive_limits),
        cmocka_unit_test(test_keepalive_pair),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
