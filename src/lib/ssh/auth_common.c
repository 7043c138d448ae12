/* auth_common.c: the entry points of the user-authentication layer
 * (ssh_int.h), routed by role to auth_server.c / auth_client.c, and what
 * both roles share. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "ssh/auth_int.h"
#include "util/err.h"

const char *const ferry__auth_method_names[FERRY_AM_COUNT] = {
    [FERRY_AM_NONE] = "none",
    [FERRY_AM_PUBKEY] = "publickey",
    [FERRY_AM_PASSWORD] = "password",
    [FERRY_AM_KBDINT] = "keyboard-interactive",
};

int ferry__auth_init(ferry_ssh *s)
{
    s->auth = calloc(1, sizeof(*s->auth));
    if (s->auth == NULL) {
        return FERRY_E_ALLOC;
    }
    int r = FERRY_OK;
    if (s->cfg.role == FERRY_ROLE_SERVER && (r = ferry__auth_server_init(s)) != FERRY_OK) {
        ferry__auth_free(s); /* the transport frees only layers that started */
    }
    return r;
}

void ferry__auth_free(ferry_ssh *s)
{
    if (s->auth == NULL) {
        return;
    }
    if (s->cfg.role == FERRY_ROLE_SERVER) {
        ferry__auth_server_free(s);
    }
    OPENSSL_cleanse(s->auth, sizeof(*s->auth));
    free(s->auth);
    s->auth = NULL;
}

int ferry__auth_start(ferry_ssh *s)
{
    if (s->cfg.role == FERRY_ROLE_CLIENT) {
        return ferry__auth_client_start(s);
    }
    return FERRY_OK; /* the server waits for SERVICE_REQUEST */
}

int ferry__auth_dispatch(ferry_ssh *s, uint8_t msg, ferry_rd *payload)
{
    if (s->cfg.role == FERRY_ROLE_SERVER) {
        return ferry__auth_server_dispatch(s, msg, payload);
    }
    return ferry__auth_client_dispatch(s, msg, payload);
}

/* Length of a well-formed UTF-8 sequence at p[0..n) that encodes a
 * printable character (no C1 controls), 0 if there is none. */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    size_t need = 0;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        need = 2;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        need = 3;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        need = 4;
    }
    if (need == 0 || need > n) {
        return 0;
    }
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    if (p[0] == 0xc2 && p[1] < 0xa0) {
        return 0; /* U+0080..U+009F: C1 controls */
    }
    if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xf0 && p[1] < 0x90) ||
        (p[0] == 0xf4 && p[1] >= 0x90) || (p[0] == 0xed && p[1] >= 0xa0)) {
        return 0; /* overlong, above U+10FFFF, surrogates */
    }
    return need;
}

void ferry__auth_sanitize(char *out, size_t outsz, const uint8_t *p, size_t n, int keep_nl)
{
    size_t o = 0;
    size_t i = 0;
    if (outsz == 0) {
        return;
    }
    while (i < n && o + 1 < outsz) {
        uint8_t c = p[i];
        if ((c >= 0x20 && c < 0x7f) || c == '\t' || (keep_nl && c == '\n')) {
            out[o++] = (char)c;
            i++;
            continue;
        }
        size_t len = c >= 0x80 ? utf8_seq(p + i, n - i) : 0;
        if (len > 0 && o + len < outsz) {
            memcpy(out + o, p + i, len);
            o += len;
            i += len;
            continue;
        }
        if (len > 0) {
            break; /* no room for the whole character */
        }
        out[o++] = '?';
        i++;
    }
    out[o] = '\0';
}

int ferry__auth_pubkey_signed_data(const ferry_ssh *s, const char *user, const char *alg,
                                   const uint8_t *blob, size_t bloblen, ferry_buf *out)
{
    int r = ferry_buf_put_string(out, s->session_id, s->session_id_len);
    r = r == FERRY_OK ? ferry_buf_put_u8(out, SSH_MSG_USERAUTH_REQUEST) : r;
    r = r == FERRY_OK ? ferry_buf_put_cstring(out, user) : r;
    r = r == FERRY_OK ? ferry_buf_put_cstring(out, "ssh-connection") : r;
    r = r == FERRY_OK ? ferry_buf_put_cstring(out, "publickey") : r;
    r = r == FERRY_OK ? ferry_buf_put_bool(out, 1) : r;
    r = r == FERRY_OK ? ferry_buf_put_cstring(out, alg) : r;
    return r == FERRY_OK ? ferry_buf_put_string(out, blob, bloblen) : r;
}
