/* chantest.h: channel consumers and user-store fixtures for the auth,
 * channel and matrix tests (helpers for tests/unit/test_{auth,channel,
 * matrix}.c; built into every unit test with the other helpers).
 *
 * - An echo subsystem for the server: whatever arrives is written back
 *   (as far as the channel takes it; the rest stays unconsumed, so a full
 *   channel stops the peer), EOF is answered with EOF + CLOSE.
 * - A sink consumer for the client: collects everything that arrives,
 *   optionally refusing to consume (stalled) to test flow control.
 * - A user store: user "alice", password "secret", and one allowed
 *   public key (set by the test), counting calls.
 * - An identity over a private key (ferry_key_sign).
 */
#ifndef FERRY_TESTS_CHANTEST_H
#define FERRY_TESTS_CHANTEST_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"
#include "helpers/pair.h"
#include "ssh/ssh.h"
#include "util/buf.h"

/* ---- server: echo subsystem ---- */
typedef struct ct_server {
    const char *accept_name;       /* subsystem name accepted (NULL = "sftp") */
    unsigned opened, closed, eofs; /* echo channels attached / on_close / on_eof */
    size_t echoed;                 /* bytes written back */
    int stall;                     /* when set, on_data consumes nothing */
    size_t frame;                  /* when non-zero, on_data takes whole frames only */
    ferry_channel *last;           /* the most recent echo channel */
} ct_server;
/* The ferry_subsystem_fn: subsystem_ctx must be a ct_server. */
int ct_subsystem(void *ctx, ferry_ssh *s, ferry_channel *ch, const char *name,
                 const ferry_chan_consumer **ops, void **cctx);

/* ---- client: sink consumer ---- */
typedef struct ct_sink {
    ferry_buf *got;  /* everything consumed */
    int open_result; /* 0 = not yet, 1 = ok, -1 = failed */
    unsigned eofs, closes, writables;
    int stall;       /* when set, on_data consumes nothing */
    size_t max_take; /* when non-zero, on_data consumes at most this much per call */
    ferry_channel *ch;
} ct_sink;
extern const ferry_chan_consumer ct_sink_ops;
/* Allocates got (64 MiB max); ct_sink_free releases it. */
void ct_sink_init(ct_sink *k);
void ct_sink_free(ct_sink *k);

/* ---- server: user store ---- */
typedef struct ct_store {
    const ferry_key *allowed; /* may authenticate "alice" by publickey */
    /* a CA whose user certificates for principal "alice", valid now, may
     * authenticate "alice" (NULL: none) */
    const ferry_key *allowed_ca;
    unsigned pk_calls, pw_calls, successes, failures, cert_calls;
    char last_methods[128];
} ct_store;
extern const ferry_auth_ops ct_store_ops;

/* ---- client: identity over a private key ---- */
/* Fills id with key k (borrowed) signing through ferry_key_sign. */
void ct_identity(ferry_identity *id, ferry_key *k);

/* Configs for a client "alice" with publickey (id, may be NULL) and
 * password; a server with the store and the echo subsystem. */
void ct_configs(ferry_ssh_config *c, ferry_ssh_config *s, ct_store *st, ct_server *srv,
                const ferry_identity *id);

/* Writes data[0..len) into the channel as room allows while running the
 * pair, until all of it was written and `k` received `expect` bytes (or
 * no progress). Returns 0 on success. */
int ct_transfer(pair *p, ferry_channel *ch, const uint8_t *data, size_t len, ct_sink *k,
                size_t expect);

/* ---- a session without key exchange ----
 * A session (either role) put straight into the AUTH state (or OPEN with
 * user "alice" when `authenticated`), as after a first key exchange with
 * the "none" cipher: a fixed 32-byte session id (0x11 bytes), plaintext
 * packets both ways. Lets a test or fuzzer speak raw messages to the auth
 * and connection layers through the real transport and gate. For a server
 * cfg->host_keys may be NULL (the cached ed25519 key is used). */
int ct_raw_session(ferry_ssh **out, const ferry_ssh_config *cfg, int authenticated);
/* Feeds one payload (message number first) as a plaintext packet.
 * Returns what ferry_ssh_input returned. */
int ct_feed(ferry_ssh *s, const uint8_t *payload, size_t n);
/* Same, payload from a buffer. */
int ct_feedb(ferry_ssh *s, const ferry_buf *payload);
/* Pops the next packet the session sent; its payload (message number
 * first) replaces the contents of `payload`. 1 if one was there, 0 if none. */
int ct_next(ferry_ssh *s, ferry_buf *payload);
/* Drops everything the session sent so far; returns the packet count. */
int ct_drain(ferry_ssh *s);

/* Deterministic pseudo-random bytes. */
void ct_fill(uint8_t *p, size_t n, uint32_t seed);

#endif
