/* fuzz_ferryd_config.c: ferryd.conf(5) parser on arbitrary text, plus the
 * address splitter on each line. Program code compiled in. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../src/ferryd/config.c"
#include "../../src/ferryd/keyscmd.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ferryd_config cfg;
    char err[256];
    ferryd_config_init(&cfg);
    ferryd_config_parse(&cfg, (const char *)data, size, "fuzz", err, sizeof(err));
    for (size_t i = 0; i < cfg.n_listen; i++) {
        char host[256];
        unsigned port;
        ferryd_config_split_addr(cfg.listen[i], cfg.port, host, sizeof(host), &port);
    }
    for (size_t i = 0; i < cfg.n_users; i++) {
        (void)ferryd_config_user(&cfg, cfg.users[i].name);
    }
    ferryd_config_free(&cfg);
    return 0;
}
