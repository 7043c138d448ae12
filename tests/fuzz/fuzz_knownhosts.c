/* fuzz_knownhosts: known_hosts text through ferry_known_hosts_check_text
 * and ferry_known_hosts_ca_text (@cert-authority, @revoked) for a fixed
 * key (the one in the seeds) and a few host names and ports, reaching
 * plain, wildcard, negated and hashed host fields. */
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
    static const struct {
        const char *host;
        uint16_t port;
    } q[] = {{"host.example.com", 22}, {"hashed.example", 22}, {"host2", 2222}, {"::1", 22}};
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        enum ferry_hostkey_status st;
        size_t line = 0;
        if (ferry_known_hosts_check_text((const char *)data, size, q[i].host, q[i].port,
                                         fixed_key(), &st, &line) != FERRY_OK) {
            continue;
        }
        if ((st == FERRY_HOSTKEY_NEW) != (line == 0)) {
            abort(); /* a decided status names its line, NEW names none */
        }
        int any = 0;
        if (ferry_known_hosts_ca_text((const char *)data, size, q[i].host, q[i].port, fixed_key(),
                                      &any, &st, &line) == FERRY_OK &&
            (st == FERRY_HOSTKEY_CHANGED || (st == FERRY_HOSTKEY_OK && !any) ||
             (st == FERRY_HOSTKEY_NEW) != (line == 0))) {
            abort(); /* a listed CA is on a line naming the host */
        }
    }
    return 0;
}
