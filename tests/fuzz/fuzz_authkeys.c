/* fuzz_authkeys: authorized_keys text through ferry_authkeys_parse, then
 * matching a fixed key (the one in the seeds) from a few client addresses,
 * so from= pattern-lists and CIDR matching are reached. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "crypto/key.h"
#include "ssh/authfile.h"
#include "util/err.h"

#define FUZZ_KEY                                                                                   \
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMBCOL7ZH9Q5Kkykw5KaHGQ5nzLgRkR2S5VJeoIGly5B fuzz"

static ferry_key *fixed_key(void)
{
    static ferry_key *k;
    if (k == NULL && ferry_key_parse_public_line(FUZZ_KEY, &k, NULL) != FERRY_OK) {
        abort();
    }
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ferry_authkeys *ak = NULL;
    size_t skipped = 0;
    if (ferry_authkeys_parse((const char *)data, size, &ak, &skipped) != FERRY_OK) {
        return 0;
    }
    static const char *const addrs[] = {"127.0.0.1",   "10.1.2.3",         "::1",
                                        "2001:db8::7", "::ffff:192.0.2.1", NULL};
    for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
        ferry_authkey_opts o;
        if (ferry_authkeys_match(ak, fixed_key(), addrs[i], &o) == FERRY_OK &&
            o.command[sizeof(o.command) - 1] != '\0') {
            abort();
        }
    }
    ferry_authkeys_free(ak);
    return 0;
}
