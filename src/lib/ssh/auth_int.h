/* auth_int.h: state and calls shared by auth_common.c, auth_server.c and
 * auth_client.c (RFC 4252 user authentication, RFC 4256
 * keyboard-interactive). Internal to src/lib/ssh. */
#ifndef FERRY_SSH_AUTH_INT_H
#define FERRY_SSH_AUTH_INT_H

#include "ssh/ssh_int.h"

#define FERRY__AUTH_MAX_CHAINS    16 /* alternatives in AuthenticationMethods */
#define FERRY__AUTH_MAX_STEPS     8  /* methods in one chain */
#define FERRY__AUTH_MAX_USED_KEYS 8
#define FERRY__AUTH_METHODS_MAX   256 /* a methods name-list we keep */

/* Method identifiers (index into ferry__auth_method_names). */
enum ferry_auth_method {
    FERRY_AM_NONE = 0,
    FERRY_AM_PUBKEY,
    FERRY_AM_PASSWORD,
    FERRY_AM_KBDINT,
    FERRY_AM_COUNT,
};

/* Wire names, indexed by enum ferry_auth_method. */
extern const char *const ferry__auth_method_names[FERRY_AM_COUNT];

struct ferry_auth_state {
    /* ---- server ---- */
    int service_ok; /* SERVICE_REQUEST("ssh-userauth") accepted */
    int have_user;  /* the first USERAUTH_REQUEST fixed the user */
    char user[256];
    unsigned failures; /* counted towards max_auth_tries */
    int kbd_pending;   /* INFO_REQUEST sent, INFO_RESPONSE awaited */
    size_t n_chains;
    uint8_t chain[FERRY__AUTH_MAX_CHAINS][FERRY__AUTH_MAX_STEPS];
    uint8_t chain_len[FERRY__AUTH_MAX_CHAINS];
    uint8_t chain_done[FERRY__AUTH_MAX_CHAINS];      /* steps passed */
    uint8_t chain_alive[FERRY__AUTH_MAX_CHAINS];     /* consistent with successes */
    ferry_key *used_keys[FERRY__AUTH_MAX_USED_KEYS]; /* publickey successes */
    size_t n_used_keys;

    /* ---- client ---- */
    int cstate;                            /* enum in auth_client.c */
    size_t next_ident;                     /* next cfg.identities entry to try */
    size_t cur_ident;                      /* the identity of the request in flight */
    int pk_behind_none;                    /* a signed request follows "none" */
    char cur_alg[64];                      /* its signature algorithm */
    unsigned pw_tries;                     /* password prompts so far */
    unsigned kbd_tries;                    /* keyboard-interactive attempts so far */
    char methods[FERRY__AUTH_METHODS_MAX]; /* server's "can continue" list */
};

/* Server side (auth_server.c). */
int ferry__auth_server_init(ferry_ssh *s);
void ferry__auth_server_free(ferry_ssh *s);
int ferry__auth_server_dispatch(ferry_ssh *s, uint8_t msg, ferry_rd *payload);

/* Client side (auth_client.c). */
int ferry__auth_client_start(ferry_ssh *s);
int ferry__auth_client_dispatch(ferry_ssh *s, uint8_t msg, ferry_rd *payload);

/* Copies peer text (n bytes) into out[outsz] for display: printable ASCII,
 * tab, newline (when keep_nl) and well-formed UTF-8 sequences stay; any
 * other byte (control characters, escape sequences, C1 codes, broken
 * UTF-8) becomes '?'. Always NUL-terminates (outsz > 0), truncating. */
void ferry__auth_sanitize(char *out, size_t outsz, const uint8_t *p, size_t n, int keep_nl);

/* Appends the data a publickey signature covers (RFC 4252 s7):
 * string session_id || byte 50 || string user || string "ssh-connection" ||
 * string "publickey" || bool TRUE || string alg || string blob. */
int ferry__auth_pubkey_signed_data(const ferry_ssh *s, const char *user, const char *alg,
                                   const uint8_t *blob, size_t bloblen, ferry_buf *out);

#endif
