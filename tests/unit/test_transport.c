/* test_transport.c: version exchange, binary packet framing, handshake,
 * rekey and tampering, through the in-memory pair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "helpers/chantest.h"
#include "helpers/pair.h"
#include "ssh/ssh_int.h"
#include "util/err.h"

static void test_handshake_default(void **state)
{
    (void)state;
    pair *p = NULL;
    assert_int_equal(pair_new(&p, NULL, NULL), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(pair_keyed(p));
    assert_int_equal(ferry_ssh_kex_count(p->c), 1);
    assert_int_equal(ferry_ssh_kex_count(p->s), 1);
    assert_string_equal(ferry_ssh_alg(p->c, "kex"), "curve25519-sha256");
    assert_int_equal(p->hostkey_checks, 1);
    pair_free(p);
}

/* ---- helpers ---- */

/* A lone session (no peer) that has queued its version line and KEXINIT. */
static ferry_ssh *lone(enum ferry_role role)
{
    ferry_ssh_config c, sv;
    ferry_ssh *s = NULL;
    static ferry_key *keys[1];
    pair_default_configs(&c, &sv);
    keys[0] = pair_hostkey(FERRY_KEY_ED25519);
    sv.host_keys = keys;
    sv.n_host_keys = 1;
    assert_int_equal(ferry_ssh_new(&s, role == FERRY_ROLE_CLIENT ? &c : &sv), FERRY_OK);
    assert_int_equal(ferry_ssh_start(s), FERRY_OK);
    return s;
}

static int feed(ferry_ssh *s, const char *text)
{
    return ferry_ssh_input(s, (const uint8_t *)text, strlen(text));
}

/* The message numbers of the plaintext packets in a session's output
 * after its version line (before any NEWKEYS). */
static size_t plain_msgs(ferry_ssh *s, uint8_t *msgs, size_t max)
{
    size_t len = 0, n = 0;
    const uint8_t *d = ferry_ssh_output(s, &len);
    const uint8_t *eol = memchr(d, '\n', len);
    assert_non_null(eol);
    size_t off = (size_t)(eol - d) + 1;
    while (off + 5 <= len && n < max) {
        uint32_t pl = ((uint32_t)d[off] << 24) | ((uint32_t)d[off + 1] << 16) |
                      ((uint32_t)d[off + 2] << 8) | d[off + 3];
        assert_true(off + 4 + pl <= len);
        msgs[n++] = d[off + 5];
        off += 4 + pl;
    }
    assert_int_equal(off, len);
    return n;
}

static int has_disconnect(ferry_ssh *s)
{
    uint8_t msgs[8];
    size_t n = plain_msgs(s, msgs, 8);
    return n >= 2 && msgs[0] == SSH_MSG_KEXINIT && msgs[n - 1] == SSH_MSG_DISCONNECT;
}

/* Sends a message from one side of an established pair. */
static void send_msg(ferry_ssh *s, uint8_t msg, size_t body)
{
    ferry_buf *b = NULL;
    assert_int_equal(ferry__pkt_start(s, msg, &b), FERRY_OK);
    for (size_t i = 0; i < body; i++) {
        assert_int_equal(ferry_buf_put_u8(b, (uint8_t)i), FERRY_OK);
    }
    assert_int_equal(ferry__pkt_finish(s), FERRY_OK);
}

/* Marks both sides authenticated (the auth layer may not be linked). */
static void open_pair(pair *p)
{
    p->c->authenticated = p->s->authenticated = 1;
    p->c->state = p->s->state = FERRY_ST_OPEN;
    p->c->last_kex_ms = p->s->last_kex_ms = p->now_ms;
}

static pair *keyed_pair(const char *cipher, const char *mac)
{
    ferry_ssh_config c, s;
    pair *p = NULL;
    pair_default_configs(&c, &s);
    c.ciphers = s.ciphers = cipher;
    c.macs = s.macs = mac;
    assert_int_equal(pair_new(&p, &c, &s), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(pair_keyed(p));
    return p;
}

/* ---- version exchange ---- */

static void test_version_ok(void **state)
{
    (void)state;
    ferry_ssh *s = lone(FERRY_ROLE_SERVER);
    size_t len = 0;
    const uint8_t *out = ferry_ssh_output(s, &len);
    assert_true(len > 19);
    assert_memory_equal(out, "SSH-2.0-Ferry_0.1\r\n", 19);
    assert_null(ferry_ssh_peer_version(s));
    assert_int_equal(feed(s, "SSH-2.0-OpenSSH_9.6 Ubuntu\n"), FERRY_OK); /* LF only */
    assert_string_equal(ferry_ssh_peer_version(s), "SSH-2.0-OpenSSH_9.6 Ubuntu");
    assert_int_equal(s->state, FERRY_ST_KEX_FIRST);
    ferry_ssh_free(s);

    s = lone(FERRY_ROLE_CLIENT);
    assert_int_equal(feed(s, "SSH-1.99-old\r\n"), FERRY_OK);
    assert_string_equal(ferry_ssh_peer_version(s), "SSH-1.99-old");
    ferry_ssh_free(s);

    /* exactly 255 bytes with CR LF; then 256 */
    for (int extra = 0; extra < 2; extra++) {
        char line[300];
        memset(line, 'a', sizeof(line));
        memcpy(line, "SSH-2.0-", 8);
        memcpy(line + 253 + extra, "\r\n", 3);
        s = lone(FERRY_ROLE_SERVER);
        int r = feed(s, line);
        assert_int_equal(r, extra ? FERRY_E_TOO_LARGE : FERRY_OK);
        assert_int_equal(ferry_ssh_is_closed(s), extra);
        ferry_ssh_free(s);
    }

    /* software override */
    ferry_ssh_config c, sv;
    pair_default_configs(&c, &sv);
    c.software = "Test_2.1 comment";
    assert_int_equal(ferry_ssh_new(&s, &c), FERRY_OK);
    assert_int_equal(ferry_ssh_start(s), FERRY_OK);
    out = ferry_ssh_output(s, &len);
    assert_memory_equal(out, "SSH-2.0-Test_2.1 comment\r\n", 26);
    ferry_ssh_free(s);
    c.software = "bad\r\nline";
    assert_int_equal(ferry_ssh_new(&s, &c), FERRY_E_INVALID_ARG);
}

static void test_version_refused(void **state)
{
    (void)state;
    const char *bad[] = {"SSH-1.5-old\r\n", "SSH-2.0\r\n", "SSH-3.0-x\r\n", "SSH-2.0-a\x01\r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ferry_ssh *s = lone(FERRY_ROLE_CLIENT);
        assert_int_not_equal(feed(s, bad[i]), FERRY_OK);
        assert_true(ferry_ssh_is_closed(s));
        assert_true(has_disconnect(s));
        ferry_ssh_free(s);
    }
    ferry_ssh *s = lone(FERRY_ROLE_CLIENT);
    assert_int_equal(feed(s, "SSH-1.5-old\r\n"), FERRY_E_UNSUPPORTED);
    ferry_ssh_free(s);
    /* a long line without LF that starts like a version line */
    s = lone(FERRY_ROLE_SERVER);
    char line[400];
    memset(line, 'b', sizeof(line) - 1);
    line[sizeof(line) - 1] = '\0';
    memcpy(line, "SSH-2.0-", 8);
    assert_int_equal(feed(s, line), FERRY_E_TOO_LARGE);
    ferry_ssh_free(s);
}

/* RFC 4253 s4.2: a server may send other lines first; a client may not. */
static void test_banner_lines(void **state)
{
    (void)state;
    ferry_ssh *s = lone(FERRY_ROLE_SERVER);
    assert_int_equal(feed(s, "hello\r\nSSH-2.0-x\r\n"), FERRY_E_PROTOCOL);
    assert_true(has_disconnect(s));
    ferry_ssh_free(s);

    s = lone(FERRY_ROLE_CLIENT);
    for (int i = 0; i < 1024; i++) {
        assert_int_equal(feed(s, "Welcome to this host\r\n"), FERRY_OK);
    }
    assert_int_equal(feed(s, "SSH-2.0-srv\r\n"), FERRY_OK);
    assert_string_equal(ferry_ssh_peer_version(s), "SSH-2.0-srv");
    ferry_ssh_free(s);

    s = lone(FERRY_ROLE_CLIENT);
    for (int i = 0; i < 1024; i++) {
        assert_int_equal(feed(s, "x\n"), FERRY_OK);
    }
    assert_int_equal(feed(s, "x\n"), FERRY_E_TOO_LARGE); /* line 1025 */
    ferry_ssh_free(s);

    /* 64 KiB of lines at most */
    s = lone(FERRY_ROLE_CLIENT);
    char big[1001];
    memset(big, 'z', 999);
    big[999] = '\n';
    big[1000] = '\0';
    int r = FERRY_OK;
    for (int i = 0; i < 70 && r == FERRY_OK; i++) {
        r = feed(s, big);
    }
    assert_int_equal(r, FERRY_E_TOO_LARGE);
    ferry_ssh_free(s);
}

/* ---- packet framing ---- */

static void framing_case(uint32_t pktlen, uint8_t pad, size_t body, int want)
{
    ferry_ssh *s = lone(FERRY_ROLE_SERVER);
    uint8_t pkt[64] = {0};
    assert_int_equal(feed(s, "SSH-2.0-test\r\n"), FERRY_OK);
    pkt[0] = (uint8_t)(pktlen >> 24);
    pkt[1] = (uint8_t)(pktlen >> 16);
    pkt[2] = (uint8_t)(pktlen >> 8);
    pkt[3] = (uint8_t)pktlen;
    pkt[4] = pad;
    pkt[5] = SSH_MSG_IGNORE;
    assert_true(body <= sizeof(pkt));
    int r = ferry_ssh_input(s, pkt, body);
    assert_int_equal(r, want);
    assert_true(ferry_ssh_is_closed(s));
    assert_true(has_disconnect(s));
    /* more input after the close is refused, nothing crashes */
    assert_int_equal(ferry_ssh_input(s, pkt, body), want);
    ferry_ssh_free(s);
}

static void test_framing_limits(void **state)
{
    (void)state;
    framing_case(0, 0, 8, FERRY_E_FORMAT);
    framing_case(4, 4, 8, FERRY_E_FORMAT);
    framing_case(5, 4, 9, FERRY_E_FORMAT); /* 9 bytes: not a multiple of 8 */
    framing_case(FERRY_SSH_MAX_PACKET + 1, 4, 8, FERRY_E_TOO_LARGE);
    framing_case(FERRY_SSH_MAX_PACKET + 4, 4, 8, FERRY_E_TOO_LARGE);
    framing_case(0xFFFFFFFFu, 4, 8, FERRY_E_TOO_LARGE);
    framing_case(12, 3, 16, FERRY_E_FORMAT);   /* padding < 4 */
    framing_case(12, 11, 16, FERRY_E_FORMAT);  /* no payload */
    framing_case(12, 200, 16, FERRY_E_FORMAT); /* padding beyond the packet */
}

/* A byte-at-a-time delivery of a whole handshake. */
static void test_byte_by_byte(void **state)
{
    (void)state;
    pair *p = NULL;
    assert_int_equal(pair_new(&p, NULL, NULL), FERRY_OK);
    for (int round = 0; round < 100; round++) {
        size_t moved = 0;
        for (int d = 0; d < 2; d++) {
            ferry_ssh *from = d == 0 ? p->c : p->s, *to = d == 0 ? p->s : p->c;
            size_t len = 0;
            const uint8_t *o = ferry_ssh_output(from, &len);
            uint8_t *copy = malloc(len + 1);
            memcpy(copy, o, len);
            ferry_ssh_output_consume(from, len);
            for (size_t i = 0; i < len; i++) {
                assert_int_equal(ferry_ssh_input(to, copy + i, 1), FERRY_OK);
            }
            free(copy);
            moved += len;
        }
        if (moved == 0) {
            break;
        }
    }
    assert_true(pair_keyed(p));
    pair_free(p);
}

/* ---- established sessions ---- */

static void test_rekey_both_sides(void **state)
{
    (void)state;
    pair *p = keyed_pair(NULL, NULL);
    assert_int_equal(ferry_ssh_rekey(p->c), FERRY_OK);
    assert_int_equal(ferry_ssh_rekey(p->c), FERRY_OK); /* already running: no-op */
    assert_true(pair_run(p, 100) >= 0);
    assert_true(pair_keyed(p));
    assert_int_equal(ferry_ssh_kex_count(p->c), 2);
    assert_int_equal(ferry_ssh_kex_count(p->s), 2);
    assert_int_equal(ferry_ssh_rekey(p->s), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_int_equal(ferry_ssh_kex_count(p->c), 3);
    assert_int_equal(ferry_ssh_kex_count(p->s), 3);
    /* both at once */
    assert_int_equal(ferry_ssh_rekey(p->s), FERRY_OK);
    assert_int_equal(ferry_ssh_rekey(p->c), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(pair_keyed(p));
    assert_int_equal(ferry_ssh_kex_count(p->c), 4);
    assert_int_equal(ferry_ssh_kex_count(p->s), 4);
    assert_int_equal(p->hostkey_checks, 1);
    pair_free(p);
}

static void test_rekey_by_volume_and_time(void **state)
{
    (void)state;
    ferry_ssh_config c, s;
    pair *p = NULL;
    pair_default_configs(&c, &s);
    c.rekey_bytes = 100000;
    c.rekey_seconds = 60;
    assert_int_equal(pair_new(&p, &c, &s), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_int_equal(ferry_ssh_kex_count(p->c), 1);
    /* no automatic rekey before authentication */
    enum ferry_ssh_state was = p->c->state;
    p->c->state = FERRY_ST_AUTH;
    p->now_ms += 3600 * 1000;
    assert_int_equal(ferry_ssh_tick(p->c, NULL), FERRY_OK);
    assert_false(p->c->in_kex);
    p->c->state = was;
    open_pair(p);
    for (int i = 0; i < 10; i++) {
        send_msg(p->c, SSH_MSG_IGNORE, 16000);
        assert_true(pair_run(p, 100) >= 0);
    }
    assert_true(pair_keyed(p));
    assert_int_equal(ferry_ssh_kex_count(p->c), 2);
    int64_t next = 0;
    assert_int_equal(ferry_ssh_tick(p->c, &next), FERRY_OK);
    assert_true(next > 0 && next <= 60000);
    pair_advance(p, 59000);
    assert_true(pair_run(p, 100) >= 0);
    assert_int_equal(ferry_ssh_kex_count(p->c), 2);
    pair_advance(p, 1000);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(pair_keyed(p));
    assert_int_equal(ferry_ssh_kex_count(p->c), 3);
    assert_int_equal(ferry_ssh_kex_count(p->s), 3);
    pair_free(p);
}

/* Packets of upper layers wait while our KEXINIT is out (RFC 4253 s7.1). */
static void test_deferred_during_kex(void **state)
{
    (void)state;
    pair *p = keyed_pair(NULL, NULL);
    assert_int_equal(ferry_ssh_rekey(p->c), FERRY_OK);
    size_t before = 0;
    (void)ferry_ssh_output(p->c, &before);
    send_msg(p->c, 15, 10); /* unassigned: the server answers UNIMPLEMENTED */
    size_t after = 0;
    (void)ferry_ssh_output(p->c, &after);
    assert_int_equal(before, after);
    assert_int_equal(ferry_buf_len(p->c->deferred), 4 + 11);
    send_msg(p->c, SSH_MSG_IGNORE, 3); /* transport messages are not deferred */
    (void)ferry_ssh_output(p->c, &after);
    assert_true(after > before);
    uint64_t rx_before = p->c->rx.packets;
    assert_true(pair_run(p, 100) >= 0);
    assert_true(pair_keyed(p));
    assert_int_equal(ferry_buf_len(p->c->deferred), 0);
    assert_int_equal(ferry_ssh_kex_count(p->s), 2);
    /* the UNIMPLEMENTED came under the new keys */
    assert_true(p->c->rx.packets >= 1);
    (void)rx_before;
    pair_free(p);
}

/* A peer that answers our KEXINIT with UNIMPLEMENTED (sshd before user
 * authentication): the re-exchange is dropped, deferred packets flow. */
static void test_rekey_refused(void **state)
{
    (void)state;
    pair *p = keyed_pair("chacha20-poly1305@openssh.com", NULL);
    uint32_t kexinit_seq = p->c->tx.seqnr;
    assert_int_equal(ferry_ssh_rekey(p->c), FERRY_OK);
    send_msg(p->c, 15, 2); /* deferred */
    assert_true(ferry_buf_len(p->c->deferred) > 0);
    /* the KEXINIT "reaches" a peer that ignores it: drop it, keep the
     * server's sequence number in step (chacha20-poly1305 keys per seqnr) */
    size_t len = 0;
    (void)ferry_ssh_output(p->c, &len);
    ferry_ssh_output_consume(p->c, len);
    p->s->rx.seqnr++;
    ferry_buf *b = NULL;
    assert_int_equal(ferry__pkt_start(p->s, SSH_MSG_UNIMPLEMENTED, &b), FERRY_OK);
    assert_int_equal(ferry_buf_put_u32(b, kexinit_seq + 1), FERRY_OK); /* not ours: ignored */
    assert_int_equal(ferry__pkt_finish(p->s), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(p->c->in_kex);
    assert_int_equal(ferry__pkt_start(p->s, SSH_MSG_UNIMPLEMENTED, &b), FERRY_OK);
    assert_int_equal(ferry_buf_put_u32(b, kexinit_seq), FERRY_OK);
    assert_int_equal(ferry__pkt_finish(p->s), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(pair_keyed(p));
    assert_false(p->c->in_kex);
    assert_int_equal(ferry_buf_len(p->c->deferred), 0);
    assert_int_equal(ferry_ssh_kex_count(p->c), 1);
    /* and a later re-exchange works */
    assert_int_equal(ferry_ssh_rekey(p->c), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(pair_keyed(p));
    assert_int_equal(ferry_ssh_kex_count(p->c), 2);
    pair_free(p);
}

/* Unknown message numbers get UNIMPLEMENTED, the session goes on. */
static void test_unimplemented(void **state)
{
    (void)state;
    pair *p = keyed_pair(NULL, NULL);
    uint64_t n = p->c->rx.packets;
    send_msg(p->c, 12, 0);
    send_msg(p->c, SSH_MSG_DEBUG, 0); /* malformed DEBUG is fatal... */
    assert_true(pair_run(p, 100) >= 0);
    assert_true(ferry_ssh_is_closed(p->s));
    assert_int_equal(p->c->rx.packets, n + 2); /* UNIMPLEMENTED + DISCONNECT */
    pair_free(p);

    p = keyed_pair(NULL, NULL);
    ferry_buf *b = NULL;
    assert_int_equal(ferry__pkt_start(p->c, SSH_MSG_DEBUG, &b), FERRY_OK);
    assert_int_equal(ferry_buf_put_bool(b, 1), FERRY_OK);
    assert_int_equal(ferry_buf_put_cstring(b, "hello\x1b[2J"), FERRY_OK);
    assert_int_equal(ferry_buf_put_cstring(b, ""), FERRY_OK);
    assert_int_equal(ferry__pkt_finish(p->c), FERRY_OK);
    send_msg(p->s, 13, 4); /* unassigned transport number */
    assert_true(pair_run(p, 100) >= 0);
    assert_true(pair_keyed(p));
    pair_free(p);
}

/* A client that claims the server's messages is cut off by the gate. */
static void test_gate_in_session(void **state)
{
    (void)state;
    const uint8_t bad_for_server[] = {SSH_MSG_USERAUTH_SUCCESS, SSH_MSG_USERAUTH_FAILURE,
                                      SSH_MSG_SERVICE_ACCEPT,   SSH_MSG_CHANNEL_DATA,
                                      SSH_MSG_NEWKEYS,          SSH_MSG_KEX_31};
    for (size_t i = 0; i < sizeof(bad_for_server); i++) {
        pair *p = keyed_pair(NULL, NULL);
        send_msg(p->c, bad_for_server[i], 0);
        assert_true(pair_run(p, 100) >= 0);
        assert_true(ferry_ssh_is_closed(p->s));
        assert_int_equal(ferry_ssh_close_reason(p->s, NULL), FERRY_E_PROTOCOL);
        const char *msg = NULL;
        assert_int_equal(ferry_ssh_close_reason(p->c, &msg), FERRY_E_DISCONNECTED);
        assert_non_null(strstr(msg, "(2)")); /* PROTOCOL_ERROR */
        pair_free(p);
    }
    pair *p = keyed_pair(NULL, NULL);
    send_msg(p->s, SSH_MSG_USERAUTH_REQUEST, 0);
    assert_true(pair_run(p, 100) >= 0);
    assert_int_equal(ferry_ssh_close_reason(p->c, NULL), FERRY_E_PROTOCOL);
    pair_free(p);
}

/* One flipped bit after the key exchange: MAC error, for every cipher. */
struct flip {
    int armed;
    size_t at;
};

static void hook_flip(void *ctx, enum pair_dir dir, ferry_buf *chunk)
{
    struct flip *f = ctx;
    if (f->armed && dir == PAIR_C2S && ferry_buf_len(chunk) > f->at) {
        ferry_buf_mdata(chunk)[f->at] ^= 0x04;
        f->armed = 0;
    }
}

static void test_flipped_byte(void **state)
{
    (void)state;
    const char *suites[][2] = {
        {"chacha20-poly1305@openssh.com", NULL},
        {"aes128-gcm@openssh.com", NULL},
        {"aes256-gcm@openssh.com", NULL},
        {"aes128-ctr", "hmac-sha2-256-etm@openssh.com"},
        {"aes192-ctr", "hmac-sha2-512-etm@openssh.com"},
        {"aes256-ctr", "hmac-sha2-256"},
        {"aes128-ctr", "hmac-sha2-512"},
    };
    size_t spots[] = {4, 5, 20, 60, 90};
    for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
        for (size_t j = 0; j < sizeof(spots) / sizeof(spots[0]); j++) {
            pair *p = keyed_pair(suites[i][0], suites[i][1]);
            struct flip f = {1, spots[j]};
            p->hook = hook_flip;
            p->hook_ctx = &f;
            send_msg(p->c, SSH_MSG_IGNORE, 64);
            assert_true(pair_run(p, 100) >= 0);
            assert_false(f.armed);
            if (ferry_ssh_close_reason(p->s, NULL) != FERRY_E_MAC_INVALID) {
                fail_msg("%s at %zu: server %s", suites[i][0], spots[j], p->s->close_msg);
            }
            const char *msg = NULL;
            assert_int_equal(ferry_ssh_close_reason(p->c, &msg), FERRY_E_DISCONNECTED);
            assert_non_null(strstr(msg, "(5)")); /* MAC_ERROR */
            pair_free(p);
        }
    }
}

/* Flipping a length byte of an encrypted packet: never a crash; either a
 * MAC error, a framing error, or (length grown) waiting for more bytes. */
static void test_flipped_length(void **state)
{
    (void)state;
    const char *ciphers[] = {"chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com",
                             "aes128-ctr"};
    for (size_t i = 0; i < 3; i++) {
        for (size_t at = 0; at < 4; at++) {
            pair *p = keyed_pair(ciphers[i], "hmac-sha2-256");
            struct flip f = {1, at};
            p->hook = hook_flip;
            p->hook_ctx = &f;
            send_msg(p->c, SSH_MSG_IGNORE, 64);
            assert_true(pair_run(p, 100) >= 0);
            int e = ferry_ssh_close_reason(p->s, NULL);
            assert_true(e == FERRY_OK || e == FERRY_E_MAC_INVALID || e == FERRY_E_FORMAT ||
                        e == FERRY_E_TOO_LARGE);
            pair_free(p);
        }
    }
}

static void test_disconnect(void **state)
{
    (void)state;
    pair *p = keyed_pair(NULL, NULL);
    ferry_ssh_disconnect(p->c, SSH_DISCONNECT_BY_APPLICATION, "bye now");
    assert_true(ferry_ssh_is_closed(p->c));
    assert_int_equal(ferry_ssh_close_reason(p->c, NULL), FERRY_E_CLOSED);
    assert_true(pair_run(p, 100) >= 0);
    const char *msg = NULL;
    assert_int_equal(ferry_ssh_close_reason(p->s, &msg), FERRY_E_DISCONNECTED);
    assert_non_null(strstr(msg, "bye now"));
    assert_non_null(strstr(msg, "(11)"));
    assert_int_equal(ferry__pkt_start(p->c, SSH_MSG_IGNORE, &(ferry_buf *){NULL}), FERRY_E_CLOSED);
    pair_free(p);
}

/* Sequence numbers wrap at 2^32 (RFC 4253 s6.4). */
static void test_seqnr_wrap(void **state)
{
    (void)state;
    pair *p = keyed_pair("aes128-ctr", "hmac-sha2-256");
    p->c->tx.seqnr = 0xFFFFFFFEu;
    p->s->rx.seqnr = 0xFFFFFFFEu;
    for (int i = 0; i < 4; i++) {
        send_msg(p->c, SSH_MSG_IGNORE, 10);
    }
    assert_true(pair_run(p, 100) >= 0);
    assert_true(pair_keyed(p));
    assert_int_equal(p->s->rx.seqnr, 2);
    pair_free(p);
}

/* Largest packets go through; larger ones are refused when built. */
static void test_packet_sizes(void **state)
{
    (void)state;
    pair *p = keyed_pair(NULL, NULL);
    send_msg(p->c, SSH_MSG_IGNORE, FERRY_SSH_MAX_PACKET - 64);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(pair_keyed(p));
    ferry_buf *b = NULL;
    assert_int_equal(ferry__pkt_start(p->c, SSH_MSG_IGNORE, &b), FERRY_OK);
    assert_int_not_equal(ferry_buf_put(b, p, 0), 1);
    uint8_t *dst = NULL;
    assert_int_not_equal(ferry_buf_reserve(b, FERRY_SSH_MAX_PACKET, &dst), FERRY_OK);
    ferry__pkt_abort(p->c);
    pair_free(p);
}

/* want_input drops while the output backlog is above 1 MiB; packets
 * deferred during a key exchange do not count (the exchange needs input
 * to complete and let them go). */
static void test_backpressure(void **state)
{
    (void)state;
    pair *p = keyed_pair(NULL, NULL);
    assert_true(ferry_ssh_want_input(p->c));
    for (int i = 0; i < 20; i++) {
        send_msg(p->c, SSH_MSG_IGNORE, 250000);
    }
    assert_false(ferry_ssh_want_input(p->c));
    size_t len = 0;
    (void)ferry_ssh_output(p->c, &len);
    ferry_ssh_output_consume(p->c, len - 1000000);
    assert_true(ferry_ssh_want_input(p->c));
    (void)ferry_ssh_output(p->c, &len);
    ferry_ssh_output_consume(p->c, len);
    pair_free(p);

    p = keyed_pair(NULL, NULL);
    assert_int_equal(ferry_ssh_rekey(p->c), FERRY_OK);
    for (int i = 0; i < 12; i++) {
        send_msg(p->c, 15, 250000); /* unassigned: deferred until the rekey is done */
    }
    assert_true(ferry_buf_len(p->c->deferred) > 2u * 1024 * 1024);
    assert_true(ferry_ssh_want_input(p->c));
    assert_true(pair_run(p, 100) >= 0);
    assert_int_equal(ferry_ssh_kex_count(p->s), 2);
    assert_int_equal(ferry_buf_len(p->c->deferred), 0);
    pair_free(p);
}

/* CHANNEL_DATA is built in place in the output queue, or in the deferred
 * queue during a key exchange. A server that is not authenticated rejects
 * it by number, which shows the packet arrived intact. */
static void put_data(ferry_ssh *s, ferry_buf *b)
{
    assert_int_equal(ferry_buf_put_u32(b, 7), FERRY_OK);
    assert_int_equal(ferry_buf_put_cstring(b, "hello, channel"), FERRY_OK);
    (void)s;
}

static void expect_rejected_94(pair *p)
{
    const char *msg = NULL;
    assert_true(pair_run(p, 100) >= 0);
    assert_int_equal(ferry_ssh_close_reason(p->s, &msg), FERRY_E_PROTOCOL);
    assert_string_equal(msg, "unexpected message 94");
}

static void test_channel_data_paths(void **state)
{
    (void)state;
    ferry_buf *b = NULL;
    size_t before = 0, during = 0, after = 0;
    /* in place */
    pair *p = keyed_pair(NULL, NULL);
    p->s->state = FERRY_ST_AUTH;
    p->s->authenticated = 0;
    (void)ferry_ssh_output(p->c, &before);
    assert_int_equal(ferry__pkt_start(p->c, SSH_MSG_CHANNEL_DATA, &b), FERRY_OK);
    assert_ptr_equal(b, p->c->out);
    put_data(p->c, b);
    (void)ferry_ssh_output(p->c, &during);
    assert_int_equal(during, before); /* a half-built packet is not output */
    ferry__pkt_abort(p->c);
    (void)ferry_ssh_output(p->c, &after);
    assert_int_equal(ferry_buf_len(p->c->out), before);
    assert_int_equal(ferry__pkt_start(p->c, SSH_MSG_CHANNEL_DATA, &b), FERRY_OK);
    put_data(p->c, b);
    assert_int_equal(ferry__pkt_finish(p->c), FERRY_OK);
    expect_rejected_94(p);
    pair_free(p);

    /* deferred during a key exchange, sent after it */
    p = keyed_pair("aes256-gcm@openssh.com", NULL);
    p->s->state = FERRY_ST_AUTH;
    p->s->authenticated = 0;
    assert_int_equal(ferry_ssh_rekey(p->c), FERRY_OK);
    (void)ferry_ssh_output(p->c, &before);
    assert_int_equal(ferry__pkt_start(p->c, SSH_MSG_CHANNEL_DATA, &b), FERRY_OK);
    assert_ptr_equal(b, p->c->deferred);
    put_data(p->c, b);
    ferry__pkt_abort(p->c);
    assert_int_equal(ferry_buf_len(p->c->deferred), 0);
    assert_int_equal(ferry__pkt_start(p->c, SSH_MSG_CHANNEL_DATA, &b), FERRY_OK);
    put_data(p->c, b);
    assert_int_equal(ferry__pkt_finish(p->c), FERRY_OK);
    (void)ferry_ssh_output(p->c, &after);
    assert_int_equal(after, before);
    assert_int_equal(ferry_ssh_want_input(p->c), 1);
    assert_int_equal(ferry__out_backlog(p->c), before + ferry_buf_len(p->c->deferred));
    expect_rejected_94(p);
    assert_int_equal(ferry_ssh_kex_count(p->s), 2);
    pair_free(p);

    /* one packet at a time */
    p = keyed_pair(NULL, NULL);
    assert_int_equal(ferry__pkt_start(p->c, SSH_MSG_CHANNEL_DATA, &b), FERRY_OK);
    ferry_buf *b2 = NULL;
    assert_int_equal(ferry__pkt_start(p->c, SSH_MSG_IGNORE, &b2), FERRY_E_INTERNAL);
    /* a failure while building drops the half-built packet */
    put_data(p->c, b);
    (void)ferry__fail(p->c, FERRY_E_INTERNAL, 0, "test");
    assert_true(pair_run(p, 100) >= 0);
    const char *msg = NULL;
    assert_int_equal(ferry_ssh_close_reason(p->s, &msg), FERRY_E_DISCONNECTED);
    assert_non_null(strstr(msg, "test"));
    pair_free(p);
}

static void test_send_raw_and_late_auth(void **state)
{
    (void)state;
    pair *p = keyed_pair(NULL, NULL);
    const uint8_t ign[] = {SSH_MSG_IGNORE, 0, 0, 0, 1, 'x'};
    assert_int_equal(ferry__pkt_send_raw(p->c, ign, sizeof(ign)), FERRY_OK);
    assert_int_equal(ferry__pkt_send_raw(p->c, ign, 0), FERRY_E_INVALID_ARG);
    /* RFC 4252 s5.1: a USERAUTH_REQUEST after success is ignored */
    open_pair(p);
    send_msg(p->c, SSH_MSG_USERAUTH_REQUEST, 3);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(pair_keyed(p));
    /* a malformed UNIMPLEMENTED is not */
    send_msg(p->c, SSH_MSG_UNIMPLEMENTED, 2);
    assert_true(pair_run(p, 100) >= 0);
    assert_int_equal(ferry_ssh_close_reason(p->s, NULL), FERRY_E_FORMAT);
    pair_free(p);
}

/* An authenticated client session (no key exchange: plaintext packets)
 * with zlib@openssh.com switched on both ways. */
static ferry_ssh *comp_session(void)
{
    ferry_ssh_config c, s;
    ferry_ssh *x = NULL;
    pair_default_configs(&c, &s);
    c.compression = 1;
    assert_int_equal(ct_raw_session(&x, &c, 1), FERRY_OK);
    x->comp_neg[0] = x->comp_neg[1] = 1;
    assert_int_equal(ferry__comp_auth_done(x), FERRY_OK);
    return x;
}

/* IGNORE carrying a string of `len` zero bytes, deflated into out: the
 * compressed length. */
static size_t deflated_ignore(uint32_t len, uint8_t *out, size_t outsz)
{
    static uint8_t plain[5 + 1000000];
    assert_true(len <= sizeof(plain) - 5);
    plain[0] = SSH_MSG_IGNORE;
    plain[1] = (uint8_t)(len >> 24);
    plain[2] = (uint8_t)(len >> 16);
    plain[3] = (uint8_t)(len >> 8);
    plain[4] = (uint8_t)len;
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit(&z, Z_DEFAULT_COMPRESSION), Z_OK);
    z.next_in = plain;
    z.avail_in = 5 + len;
    z.next_out = out;
    z.avail_out = (uInt)outsz;
    assert_int_equal(deflate(&z, Z_PARTIAL_FLUSH), Z_OK);
    deflateEnd(&z);
    return outsz - z.avail_out;
}

/* Feeds one compressed payload to a fresh compressing session; the
 * session, closed or not, for the caller to check and free. */
static ferry_ssh *comp_fed(const uint8_t *p, size_t n)
{
    ferry_ssh *x = comp_session();
    (void)ct_feed(x, p, n);
    return x;
}

/* Compressed input: a good packet is dispatched; one that inflates past
 * the packet limit, or bad deflate data, ends the session. */
static void test_compressed_input_bounds(void **state)
{
    (void)state;
    static uint8_t out[4096];
    /* 300 KB once inflated (small on the wire): refused after inflating */
    size_t n = deflated_ignore(300000, out, sizeof(out));
    assert_true(n < 2000);
    ferry_ssh *x = comp_fed(out, n);
    assert_true(ferry_ssh_is_closed(x));
    if (strstr(x->close_msg, "decompressed packet over the limit") == NULL) {
        fail_msg("close_msg: %s", x->close_msg);
    }
    ferry_ssh_free(x);
    /* 1 MB once inflated: stopped while inflating */
    x = comp_fed(out, deflated_ignore(1000000, out, sizeof(out)));
    assert_true(ferry_ssh_is_closed(x));
    assert_non_null(strstr(x->close_msg, "decompressed packet over the limit"));
    ferry_ssh_free(x);
    /* garbage */
    memset(out, 0xff, 64);
    x = comp_fed(out, 64);
    assert_true(ferry_ssh_is_closed(x));
    assert_non_null(strstr(x->close_msg, "compressed"));
    ferry_ssh_free(x);
    /* a good IGNORE (empty string) goes through and the session stays */
    x = comp_fed(out, deflated_ignore(0, out, sizeof(out)));
    assert_false(ferry_ssh_is_closed(x));
    ferry_ssh_free(x);
}

/* Random padding comes from a pool drawn a kilobyte at a time: across
 * packets (several refills) no stretch of it repeats, and its lengths
 * follow RFC 4253 (4 or more, whole blocks). */
static void test_padding_fresh(void **state)
{
    (void)state;
    ferry_ssh_config c, sv;
    ferry_ssh *x = NULL;
    pair_default_configs(&c, &sv);
    assert_int_equal(ct_raw_session(&x, &c, 1), FERRY_OK);
    static uint8_t pads[32768];
    size_t np = 0;
    for (int i = 0; i < 1000; i++) {
        const uint8_t ign[] = {SSH_MSG_IGNORE, 0, 0, 0, (uint8_t)(i % 7)};
        uint8_t msg[16] = {0};
        memcpy(msg, ign, sizeof(ign));
        assert_int_equal(ferry__pkt_send_raw(x, msg, sizeof(ign) + (size_t)(i % 7)), FERRY_OK);
    }
    size_t len = 0;
    const uint8_t *out = ferry_ssh_output(x, &len);
    size_t off = 0, packets = 0;
    while (off + 5 <= len) {
        uint32_t pktlen = ferry_load_u32(out + off);
        uint8_t pad = out[off + 4];
        assert_true(pad >= 4 && pad < pktlen && (4 + (size_t)pktlen) % 8 == 0);
        assert_true(np + pad <= sizeof(pads));
        memcpy(pads + np, out + off + 4 + pktlen - pad, pad);
        np += pad;
        off += 4 + (size_t)pktlen;
        packets++;
    }
    assert_int_equal(off, len);
    assert_int_equal(packets, 1000);
    assert_true(np > 4 * 1024); /* the pool was refilled */
    for (size_t a = 0; a + 8 <= np; a += 4) {
        for (size_t b = a + 4; b + 8 <= np; b += 4) {
            assert_true(memcmp(pads + a, pads + b, 8) != 0);
        }
    }
    ferry_ssh_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_default),
        cmocka_unit_test(test_version_ok),
        cmocka_unit_test(test_version_refused),
        cmocka_unit_test(test_banner_lines),
        cmocka_unit_test(test_framing_limits),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_rekey_both_sides),
        cmocka_unit_test(test_rekey_by_volume_and_time),
        cmocka_unit_test(test_deferred_during_kex),
        cmocka_unit_test(test_rekey_refused),
        cmocka_unit_test(test_unimplemented),
        cmocka_unit_test(test_gate_in_session),
        cmocka_unit_test(test_compressed_input_bounds),
        cmocka_unit_test(test_padding_fresh),
        cmocka_unit_test(test_flipped_byte),
        cmocka_unit_test(test_flipped_length),
        cmocka_unit_test(test_disconnect),
        cmocka_unit_test(test_seqnr_wrap),
        cmocka_unit_test(test_packet_sizes),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_channel_data_paths),
        cmocka_unit_test(test_send_raw_and_late_auth),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    pair_keys_cleanup();
    return r;
}
