/* pair.h: an in-memory SSH client <-> server pair for unit tests.
 *
 * Two ferry_ssh sessions (one client, one server) talk through memory:
 * pair_run() moves each side's output to the other side's input until
 * nothing moves any more (or a round limit). No sockets, no threads.
 *
 * Typical use:
 *
 *     ferry_ssh_config cc, sc;
 *     pair_default_configs(&cc, &sc);       // ed25519 host key, password
 *     cc.ciphers = "aes128-gcm@openssh.com"; //   auth alice/secret, test clock
 *     pair *p = NULL;
 *     assert_int_equal(pair_new(&p, &cc, &sc), FERRY_OK);  // also starts both
 *     assert_true(pair_run(p, 100) >= 0);
 *     assert_int_equal(ferry_ssh_kex_count(p->c), 1);
 *     pair_free(p);
 *     ...
 *     pair_keys_cleanup();   // once, at the end of the test program
 *
 * Tampering: set p->hook; it sees every chunk in flight (direction, the
 * chunk as a ferry_buf it may modify, append to or truncate) before the
 * receiving side gets it. p->chunks[dir] counts chunks delivered so far
 * (useful to hit "the n-th chunk"). Bytes can also be injected directly
 * with pair_inject().
 *
 * Clock: both sessions use p->now_ms (unless the config given sets
 * now_ms); pair_advance() moves it and ticks both sessions.
 *
 * Host keys: pair_hostkey(type) returns a cached private key generated once
 * per process (RSA 2048 bits); pair_keys_cleanup() frees them all.
 */
#ifndef FERRY_TESTS_PAIR_H
#define FERRY_TESTS_PAIR_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/key.h"
#include "ssh/ssh.h"
#include "util/buf.h"

enum pair_dir { PAIR_C2S = 0, PAIR_S2C = 1 };

typedef void (*pair_hook_fn)(void *ctx, enum pair_dir dir, ferry_buf *chunk);

typedef struct pair {
    ferry_ssh *c;                /* client session */
    ferry_ssh *s;                /* server session */
    ferry_ssh_config ccfg, scfg; /* the configs the sessions were made from */
    uint64_t now_ms;             /* the shared test clock (starts at 1,000,000) */
    pair_hook_fn hook;           /* optional tamper hook */
    void *hook_ctx;
    unsigned long chunks[2]; /* chunks delivered per direction */
    uint64_t bytes[2];       /* bytes delivered per direction */
    int c_err, s_err;        /* first error returned by ferry_ssh_input, else 0 */
    unsigned hostkey_checks; /* times the default verify_hostkey was called */
    int reject_hostkey;      /* default verify_hostkey refuses when set */
    ferry_key *hostkeys[4];  /* server host keys when the config had none */
} pair;

/* Fills both configs with working defaults: server with the ed25519 host
 * key, auth ops accepting user "alice" with password "secret" (and no
 * public keys); client user "alice", try_password with a prompt answering
 * "secret". The default verify_hostkey (set by pair_new when NULL) accepts
 * and counts calls. Algorithm lists are NULL (library defaults). */
void pair_default_configs(ferry_ssh_config *client, ferry_ssh_config *server);

/* Creates both sessions from copies of the configs (NULL = defaults),
 * wiring the test clock and default verify_hostkey where unset, and calls
 * ferry_ssh_start on both. Returns FERRY_OK or the first error. */
int pair_new(pair **out, const ferry_ssh_config *client, const ferry_ssh_config *server);
void pair_free(pair *p);

/* Shuttles bytes both ways until a round moves nothing. Returns the number
 * of rounds used, or -1 if still busy after max_rounds. Input errors are
 * recorded in c_err / s_err (the sessions close themselves). */
int pair_run(pair *p, int max_rounds);

/* Delivers bytes straight to one side's input (PAIR_C2S: to the server),
 * bypassing the hook. Returns what ferry_ssh_input returned. */
int pair_inject(pair *p, enum pair_dir dir, const uint8_t *data, size_t len);

/* Advances the clock by ms and calls ferry_ssh_tick on both sessions. */
void pair_advance(pair *p, uint64_t ms);

/* Non-zero once both sessions are past key exchange: state AUTH or OPEN
 * and neither closed. */
int pair_keyed(const pair *p);

/* A cached private host key of the type (generated on first use). */
ferry_key *pair_hostkey(enum ferry_key_type type);
void pair_keys_cleanup(void);

/* Builds a plaintext ("none" cipher, as before the first NEWKEYS) binary
 * packet around payload into out (appends). Padding is zero bytes. */
int pair_plain_packet(ferry_buf *out, const uint8_t *payload, size_t len);

#endif
