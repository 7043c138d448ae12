/* throttle.h: the listener's admission control, kept free of I/O so it can
 * be tested on its own.
 *
 *  - MaxStartups start:rate:full over all unauthenticated connections
 *    (OpenSSH's random early drop: from `start` on, refuse with
 *    probability rate% rising linearly to 100% at `full`);
 *  - PerSourceMaxStartups: unauthenticated connections per source address,
 *    so a flood from one address cannot use up MaxStartups for others;
 *  - PerSourcePenalties: a source whose connection ended unauthenticated
 *    after failed attempts (or by running out of LoginGraceTime) is
 *    refused for authfail (grace-exceeded) seconds, doubling with each
 *    such connection in a row, up to max; a successful login from the
 *    source clears it.
 * Sources are exact addresses (IPv4 /32, IPv6 /128). */
#ifndef FERRYD_THROTTLE_H
#define FERRYD_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct ferryd_throttle_cfg {
    unsigned begin, rate, full;  /* MaxStartups */
    unsigned per_source;         /* 0 = unlimited */
    unsigned penalty_authfail_s; /* after failed attempts; 0 = none */
    unsigned penalty_grace_s;    /* after LoginGraceTime ran out; 0 = none */
    unsigned penalty_max_s;
} ferryd_throttle_cfg;

enum ferryd_verdict {
    FERRYD_ADMIT = 0,
    FERRYD_REFUSE_STARTUPS = 1,   /* MaxStartups */
    FERRYD_REFUSE_SOURCE = 2,     /* PerSourceMaxStartups */
    FERRYD_REFUSE_PENALTY = 3,    /* PerSourcePenalties */
    FERRYD_REFUSE_TABLE_FULL = 4, /* too many distinct sources tracked */
};

typedef struct ferryd_throttle ferryd_throttle;

/* New, empty state (cfg copied). */
int ferryd_throttle_new(const ferryd_throttle_cfg *cfg, ferryd_throttle **out);
void ferryd_throttle_free(ferryd_throttle *t);

/* May a connection from `addr` start at `now_ms`? `rnd` is a random number
 * 0..99 for the early drop. On FERRYD_ADMIT the connection is counted as
 * unauthenticated. *wait_ms (may be NULL) gets the penalty time left. */
enum ferryd_verdict ferryd_throttle_admit(ferryd_throttle *t, const char *addr, uint64_t now_ms,
                                          unsigned rnd, uint64_t *wait_ms);
/* An admitted connection from addr authenticated. */
void ferryd_throttle_authenticated(ferryd_throttle *t, const char *addr);
/* An admitted connection from addr ended; authed: whether it had
 * authenticated; failures: failed attempts it reported; grace: whether it
 * was closed for exceeding LoginGraceTime. */
void ferryd_throttle_ended(ferryd_throttle *t, const char *addr, int authed, unsigned failures,
                           int grace, uint64_t now_ms);
/* Unauthenticated connections now (all sources). */
unsigned ferryd_throttle_unauth(const ferryd_throttle *t);

/* Short reason for logs. */
const char *ferryd_verdict_name(enum ferryd_verdict v);

#endif
