/* fuzz_ssh_config: ferry's ssh_config reader and destination parser on
 * arbitrary text. The first line is also parsed as a destination. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/ferry/args.c"
#include "../../src/ferry/sshconf.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    char *text = malloc(len + 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, len);
    text[len] = '\0';
    ferry_dest d;
    char *nl = strchr(text, '\n');
    if (nl != NULL) {
        *nl = '\0';
    }
    if (ferry_dest_parse(text, &d) == 0) {
        ferry_dest_free(&d);
    }
    if (nl != NULL) {
        *nl = '\n';
    }
    ferry_opts o;
    ferry_opts_init(&o);
    int in_match = 1;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        /* Include reads files, Match exec runs commands: kept out so the
         * harness stays hermetic */
        if (strcasestr(line, "include") != NULL || strcasestr(line, "exec") != NULL) {
            continue;
        }
        (void)ferry_opts_line(&o, line, "web.example.com", &in_match, "fuzz");
    }
    ferry_opts_defaults(&o, "web.example.com");
    char *p = ferry_opts_expand_path(o.known_hosts, o.hostname, o.user);
    free(p);
    ferry_opts_free(&o);
    free(text);
    return 0;
}
