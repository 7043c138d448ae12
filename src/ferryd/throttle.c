/* throttle.c: MaxStartups, PerSourceMaxStartups and PerSourcePenalties. */
#include "throttle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define THROTTLE_MAX_SOURCES 65536

struct source {
    char addr[64];
    unsigned unauth;
    unsigned streak;        /* failed connections in a row */
    uint64_t penalty_until; /* ms */
    uint64_t forget_after;  /* ms: streak forgotten after this */
};

struct ferryd_throttle {
    ferryd_throttle_cfg cfg;
    struct source *src;
    size_t n, cap;
    unsigned unauth;
};

int ferryd_throttle_new(const ferryd_throttle_cfg *cfg, ferryd_throttle **out)
{
    ferryd_throttle *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return FERRY_E_ALLOC;
    }
    t->cfg = *cfg;
    *out = t;
    return FERRY_OK;
}

void ferryd_throttle_free(ferryd_throttle *t)
{
    if (t != NULL) {
        free(t->src);
        free(t);
    }
}

static struct source *find(ferryd_throttle *t, const char *addr)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->src[i].addr, addr) == 0) {
            return &t->src[i];
        }
    }
    return NULL;
}

/* Drops entries that hold nothing any more. */
static void expire(ferryd_throttle *t, uint64_t now)
{
    size_t i = 0;
    while (i < t->n) {
        struct source *s = &t->src[i];
        if (s->unauth == 0 && now >= s->penalty_until && now >= s->forget_after) {
            t->src[i] = t->src[--t->n];
        } else {
            i++;
        }
    }
}

static struct source *find_or_add(ferryd_throttle *t, const char *addr, uint64_t now)
{
    struct source *s = find(t, addr);
    if (s != NULL) {
        return s;
    }
    expire(t, now);
    if (t->n == t->cap) {
        if (t->cap >= THROTTLE_MAX_SOURCES) {
            return NULL;
        }
        size_t nc = t->cap ? t->cap * 2 : 16;
        struct source *ns = realloc(t->src, nc * sizeof(*ns));
        if (ns == NULL) {
            return NULL;
        }
        t->src = ns;
        t->cap = nc;
    }
    s = &t->src[t->n++];
    memset(s, 0, sizeof(*s));
    snprintf(s->addr, sizeof(s->addr), "%s", addr);
    return s;
}

/* OpenSSH-style random early drop between begin and full. */
static int startups_drop(const ferryd_throttle_cfg *c, unsigned unauth, unsigned rnd)
{
    if (unauth < c->begin) {
        return 0;
    }
    if (unauth >= c->full) {
        return 1;
    }
    unsigned span = c->full - c->begin;
    unsigned p = c->rate + (100 - c->rate) * (unauth - c->begin) / (span ? span : 1);
    return rnd < p;
}

enum ferryd_verdict ferryd_throttle_admit(ferryd_throttle *t, const char *addr, uint64_t now_ms,
                                          unsigned rnd, uint64_t *wait_ms)
{
    struct source *s = find_or_add(t, addr, now_ms);
    if (wait_ms != NULL) {
        *wait_ms = 0;
    }
    if (s == NULL) {
        return FERRYD_REFUSE_TABLE_FULL;
    }
    if (now_ms < s->penalty_until) {
        if (wait_ms != NULL) {
            *wait_ms = s->penalty_until - now_ms;
        }
        return FERRYD_REFUSE_PENALTY;
    }
    if (t->cfg.per_source > 0 && s->unauth >= t->cfg.per_source) {
        return FERRYD_REFUSE_SOURCE;
    }
    if (startups_drop(&t->cfg, t->unauth, rnd)) {
        return FERRYD_REFUSE_STARTUPS;
    }
    s->unauth++;
    t->unauth++;
    return FERRYD_ADMIT;
}

static void unauth_dec(ferryd_throttle *t, struct source *s)
{
    if (s->unauth > 0) {
        s->unauth--;
    }
    if (t->unauth > 0) {
        t->unauth--;
    }
}

void ferryd_throttle_authenticated(ferryd_throttle *t, const char *addr)
{
    struct source *s = find(t, addr);
    if (s != NULL) {
        unauth_dec(t, s);
        s->streak = 0;
        s->penalty_until = 0;
        s->forget_after = 0;
    }
}

void ferryd_throttle_ended(ferryd_throttle *t, const char *addr, int authed, unsigned failures,
                           int grace, uint64_t now_ms)
{
    struct source *s = find(t, addr);
    if (s == NULL || authed) {
        return;
    }
    unauth_dec(t, s);
    uint64_t base = failures > 0 ? t->cfg.penalty_authfail_s : 0;
    if (base == 0 && grace) {
        base = t->cfg.penalty_grace_s;
    }
    if (base == 0) {
        return;
    }
    if (s->streak < 32) {
        s->streak++;
    }
    uint64_t pen = base << (s->streak - 1);
    if (pen > t->cfg.penalty_max_s) {
        pen = t->cfg.penalty_max_s;
    }
    s->penalty_until = now_ms + pen * 1000u;
    /* Remember the streak for as long as the longest penalty. */
    s->forget_after = now_ms + (uint64_t)t->cfg.penalty_max_s * 1000u;
}

unsigned ferryd_throttle_unauth(const ferryd_throttle *t)
{
    return t->unauth;
}

const char *ferryd_verdict_name(enum ferryd_verdict v)
{
    switch (v) {
    case FERRYD_ADMIT:
        return "admitted";
    case FERRYD_REFUSE_STARTUPS:
        return "MaxStartups";
    case FERRYD_REFUSE_SOURCE:
        return "PerSourceMaxStartups";
    case FERRYD_REFUSE_PENALTY:
        return "PerSourcePenalties";
    case FERRYD_REFUSE_TABLE_FULL:
        return "source table full";
    }
    return "?";
}
