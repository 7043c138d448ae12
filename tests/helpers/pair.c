/* pair.c: in-memory client <-> server pair (see pair.h). */
#include "helpers/pair.h"

#include <stdlib.h>
#include <string.h>

#include "ssh/ssh_int.h"
#include "util/err.h"

static ferry_key *cached_keys[8];

ferry_key *pair_hostkey(enum ferry_key_type type)
{
    if ((unsigned)type >= sizeof(cached_keys) / sizeof(cached_keys[0])) {
        return NULL;
    }
    if (cached_keys[type] == NULL) {
        unsigned bits = type == FERRY_KEY_RSA ? 2048 : 0;
        if (ferry_key_generate(type, bits, &cached_keys[type]) != FERRY_OK) {
            return NULL;
        }
    }
    return cached_keys[type];
}

void pair_keys_cleanup(void)
{
    for (size_t i = 0; i < sizeof(cached_keys) / sizeof(cached_keys[0]); i++) {
        ferry_key_free(cached_keys[i]);
        cached_keys[i] = NULL;
    }
}

static uint64_t pair_clock(void *ctx)
{
    return ((pair *)ctx)->now_ms;
}

static int pair_verify(void *ctx, const ferry_key *k)
{
    pair *p = ctx;
    (void)k;
    p->hostkey_checks++;
    return p->reject_hostkey ? FERRY_E_HOSTKEY_UNKNOWN : FERRY_OK;
}

static int pw_allowed(void *ctx, const char *user, const ferry_key *key)
{
    (void)ctx;
    (void)user;
    (void)key;
    return FERRY_E_AUTH_DENIED;
}

static int pw_check(void *ctx, const char *user, const char *password)
{
    (void)ctx;
    return (strcmp(user, "alice") == 0 && strcmp(password, "secret") == 0) ? FERRY_OK
                                                                           : FERRY_E_AUTH_DENIED;
}

static void pw_success(void *ctx, const char *user, const char *methods)
{
    (void)ctx;
    (void)user;
    (void)methods;
}

static void pw_failure(void *ctx, const char *user, const char *method)
{
    (void)ctx;
    (void)user;
    (void)method;
}

static const ferry_auth_ops pair_auth_ops = {
    .pubkey_allowed = pw_allowed,
    .password_check = pw_check,
    .on_success = pw_success,
    .on_failure = pw_failure,
};

static int pair_prompt(void *ctx, const char *prompt, int echo, char *out, size_t outsz)
{
    (void)ctx;
    (void)prompt;
    (void)echo;
    if (outsz < 7) {
        return FERRY_E_TOO_LARGE;
    }
    memcpy(out, "secret", 7);
    return FERRY_OK;
}

void pair_default_configs(ferry_ssh_config *client, ferry_ssh_config *server)
{
    memset(client, 0, sizeof(*client));
    memset(server, 0, sizeof(*server));
    client->role = FERRY_ROLE_CLIENT;
    client->user = "alice";
    client->try_password = 1;
    client->prompt = pair_prompt;
    server->role = FERRY_ROLE_SERVER;
    server->auth = &pair_auth_ops;
}

int pair_new(pair **out, const ferry_ssh_config *client, const ferry_ssh_config *server)
{
    ferry_ssh_config dc, ds;
    pair *p = calloc(1, sizeof(*p));
    int r = FERRY_OK;
    *out = NULL;
    if (p == NULL) {
        return FERRY_E_ALLOC;
    }
    pair_default_configs(&dc, &ds);
    p->ccfg = client != NULL ? *client : dc;
    p->scfg = server != NULL ? *server : ds;
    p->ccfg.role = FERRY_ROLE_CLIENT;
    p->scfg.role = FERRY_ROLE_SERVER;
    p->now_ms = 1000000;
    if (p->scfg.host_keys == NULL || p->scfg.n_host_keys == 0) {
        p->hostkeys[0] = pair_hostkey(FERRY_KEY_ED25519);
        p->scfg.host_keys = p->hostkeys;
        p->scfg.n_host_keys = 1;
    }
    for (int i = 0; i < 2; i++) {
        ferry_ssh_config *c = i == 0 ? &p->ccfg : &p->scfg;
        if (c->now_ms == NULL) {
            c->now_ms = pair_clock;
            c->clock_ctx = p;
        }
    }
    if (p->ccfg.verify_hostkey == NULL) {
        p->ccfg.verify_hostkey = pair_verify;
        p->ccfg.verify_ctx = p;
    }
    r = ferry_ssh_new(&p->c, &p->ccfg);
    r = r == FERRY_OK ? ferry_ssh_new(&p->s, &p->scfg) : r;
    r = r == FERRY_OK ? ferry_ssh_start(p->c) : r;
    r = r == FERRY_OK ? ferry_ssh_start(p->s) : r;
    if (r != FERRY_OK) {
        pair_free(p);
        return r;
    }
    *out = p;
    return FERRY_OK;
}

void pair_free(pair *p)
{
    if (p == NULL) {
        return;
    }
    ferry_ssh_free(p->c);
    ferry_ssh_free(p->s);
    free(p);
}

/* Moves what `from` has queued to `to`; returns bytes moved. */
static size_t pair_move(pair *p, enum pair_dir dir)
{
    ferry_ssh *from = dir == PAIR_C2S ? p->c : p->s;
    ferry_ssh *to = dir == PAIR_C2S ? p->s : p->c;
    int *err = dir == PAIR_C2S ? &p->s_err : &p->c_err;
    size_t len = 0;
    const uint8_t *data = ferry_ssh_output(from, &len);
    if (len == 0) {
        return 0;
    }
    ferry_buf *chunk = ferry_buf_new(0);
    if (chunk == NULL || ferry_buf_put(chunk, data, len) != FERRY_OK) {
        ferry_buf_free(chunk);
        return 0;
    }
    ferry_ssh_output_consume(from, len);
    if (p->hook != NULL) {
        p->hook(p->hook_ctx, dir, chunk);
    }
    p->chunks[dir]++;
    p->bytes[dir] += ferry_buf_len(chunk);
    if (!ferry_ssh_is_closed(to)) {
        /* the server is fed the way ferryd reads (ferry_ssh_input_space,
         * in 100 KiB reads), the client through ferry_ssh_input */
        int r = FERRY_OK;
        const uint8_t *d = ferry_buf_data(chunk);
        size_t left = ferry_buf_len(chunk);
        while (dir == PAIR_C2S && left > 0 && r == FERRY_OK) {
            size_t room = 0;
            uint8_t *dst = ferry_ssh_input_space(to, 100 * 1024, &room);
            if (dst == NULL) {
                r = ferry_ssh_is_closed(to) ? FERRY_E_CLOSED : FERRY_E_INTERNAL;
                break;
            }
            room = room < left ? room : left;
            memcpy(dst, d, room);
            r = ferry_ssh_input_commit(to, room);
            d += room;
            left -= room;
        }
        if (dir == PAIR_S2C) {
            r = ferry_ssh_input(to, d, left);
        }
        if (r != FERRY_OK && *err == 0) {
            *err = r;
        }
    }
    ferry_buf_free(chunk);
    return len;
}

int pair_run(pair *p, int max_rounds)
{
    for (int round = 0; round < max_rounds; round++) {
        size_t moved = pair_move(p, PAIR_C2S);
        moved += pair_move(p, PAIR_S2C);
        if (moved == 0) {
            return round;
        }
    }
    return -1;
}

int pair_inject(pair *p, enum pair_dir dir, const uint8_t *data, size_t len)
{
    ferry_ssh *to = dir == PAIR_C2S ? p->s : p->c;
    return ferry_ssh_input(to, data, len);
}

void pair_advance(pair *p, uint64_t ms)
{
    int64_t next = 0;
    p->now_ms += ms;
    (void)ferry_ssh_tick(p->c, &next);
    (void)ferry_ssh_tick(p->s, &next);
}

int pair_keyed(const pair *p)
{
    for (int i = 0; i < 2; i++) {
        const ferry_ssh *s = i == 0 ? p->c : p->s;
        if (ferry_ssh_is_closed(s) || (s->state != FERRY_ST_AUTH && s->state != FERRY_ST_OPEN)) {
            return 0;
        }
    }
    return 1;
}

int pair_plain_packet(ferry_buf *out, const uint8_t *payload, size_t len)
{
    size_t pad = 8 - (5 + len) % 8;
    if (pad < 4) {
        pad += 8;
    }
    uint8_t zeros[16] = {0};
    int r = ferry_buf_put_u32(out, (uint32_t)(1 + len + pad));
    r = r == FERRY_OK ? ferry_buf_put_u8(out, (uint8_t)pad) : r;
    r = r == FERRY_OK ? ferry_buf_put(out, payload, len) : r;
    return r == FERRY_OK ? ferry_buf_put(out, zeros, pad) : r;
}
