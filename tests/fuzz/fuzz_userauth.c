/* fuzz_userauth: the user-authentication layer of both roles against
 * hostile messages.
 *
 * Input: one role byte (even = server, odd = client), then messages, each
 * a big-endian uint16 length and the payload (message number first). They
 * are fed as plaintext packets to a session put straight into the AUTH
 * state (helpers/chantest ct_raw_session): the server has already accepted
 * "ssh-userauth" when the role byte has bit 1 set; the client has sent its
 * SERVICE_REQUEST and offers an ed25519 identity, a password and
 * keyboard-interactive answers. Bit 2 gives the server chains of methods,
 * bit 3 a user of its own (methods_for). Replies are drained after each
 * message. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "helpers/chantest.h"
#include "helpers/pair.h"
#include "ssh/ssh_int.h"
#include "util/err.h"
#include "util/log.h"

static ferry_key *id_key;
static ferry_identity ident;
static ct_store store;

static int answer(void *ctx, const char *prompt, int echo, char *out, size_t outsz)
{
    (void)ctx;
    (void)prompt;
    (void)echo;
    snprintf(out, outsz, "secret");
    return FERRY_OK;
}

/* Role bit 3: the store names its own methods for "alice" (ferryd's
 * per-user AuthenticationMethods), others get the session's. */
static const char *methods_for(void *ctx, const char *user)
{
    (void)ctx;
    return strcmp(user, "alice") == 0 ? "password publickey,keyboard-interactive" : NULL;
}

static ferry_ssh *make(uint8_t role)
{
    static ferry_auth_ops per_user;
    ferry_ssh_config c, s;
    ferry_ssh *x = NULL;
    if (id_key == NULL) {
        ferry_log_set_level(FERRY_LOG_ERROR);
        if (ferry_key_generate(FERRY_KEY_ED25519, 0, &id_key) != FERRY_OK) {
            return NULL;
        }
        ct_identity(&ident, id_key);
        store.allowed = id_key;
    }
    ct_configs(&c, &s, &store, NULL, &ident);
    c.prompt = answer;
    c.try_kbdint = 1;
    s.auth_methods = (role & 4) ? "publickey,password keyboard-interactive" : NULL;
    s.max_auth_tries = 20;
    if (role & 8) {
        per_user = *s.auth;
        per_user.methods_for = methods_for;
        s.auth = &per_user;
    }
    if (ct_raw_session(&x, (role & 1) ? &c : &s, 0) != FERRY_OK) {
        return NULL;
    }
    if (role & 1) {
        (void)ferry__auth_start(x);
    } else if (role & 2) {
        static const uint8_t svc[] = {5,   0,   0,   0,   12,  's', 's', 'h', '-',
                                      'u', 's', 'e', 'r', 'a', 'u', 't', 'h'};
        (void)ct_feed(x, svc, sizeof(svc));
    }
    (void)ct_drain(x);
    return x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 1) {
        return 0;
    }
    ferry_ssh *x = make(data[0]);
    size_t off = 1;
    while (x != NULL && !ferry_ssh_is_closed(x) && off + 2 <= len) {
        size_t n = ((size_t)data[off] << 8) | data[off + 1];
        off += 2;
        if (n == 0 || n > len - off) {
            break;
        }
        (void)ct_feed(x, data + off, n);
        (void)ct_drain(x);
        off += n;
    }
    ferry_ssh_free(x);
    return 0;
}
