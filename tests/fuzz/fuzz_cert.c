/* fuzz_cert: OpenSSH certificate blobs (PROTOCOL.certkeys) through
 * ferry_cert_from_blob. A certificate that parses (its CA signature
 * verified) must hold what the parser promises; it is then checked for
 * both types with a few principals and times, and its critical options
 * are walked. The input, cut at 64 KiB and NUL-terminated, also goes to
 * ferry_cert_parse_line as a "-cert.pub" line. The seeds are blobs made
 * by ssh-keygen -s (and one such line); a mutated blob rarely passes the
 * signature, so the seeds are what reach check and critical_each. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cert.h"
#include "crypto/key.h"
#include "util/err.h"

#define LINE_MAX_LEN (64u * 1024)

/* Reads every byte of the option so the sanitizers see any overrun. */
static int touch(void *ctx, const char *name, const uint8_t *value, size_t len)
{
    unsigned *sum = ctx;
    *sum += (unsigned)strlen(name);
    for (size_t i = 0; i < len; i++) {
        *sum += value[i];
    }
    return 0;
}

static void check_parsed(const ferry_cert *c, const uint8_t *data, size_t size)
{
    if (c->len != size || memcmp(c->blob, data, size) != 0 || c->key == NULL || c->ca == NULL ||
        c->key_id == NULL || (c->type != FERRY_CERT_USER && c->type != FERRY_CERT_HOST) ||
        c->n_principals > FERRY_CERT_MAX_PRINCIPALS ||
        ferry_cert_suffix(c->type_name, strlen(c->type_name)) == 0 || c->critical < c->blob ||
        c->critical_len > c->len || (size_t)(c->critical - c->blob) > c->len - c->critical_len) {
        abort();
    }
    for (size_t i = 0; i < c->n_principals; i++) {
        (void)strlen(c->principals[i]);
    }
    static const char *const principals[] = {"alice", "h.example", "", NULL};
    const uint64_t times[] = {0, 1700000000, c->valid_after, c->valid_before, UINT64_MAX};
    for (uint32_t type = FERRY_CERT_USER; type <= FERRY_CERT_HOST; type++) {
        for (size_t i = 0; i < sizeof(principals) / sizeof(principals[0]); i++) {
            for (size_t j = 0; j < sizeof(times) / sizeof(times[0]); j++) {
                char why[64];
                why[0] = '\0';
                int rc = ferry_cert_check(c, type, principals[i], times[j], why, sizeof(why));
                if (rc != FERRY_OK && (rc != FERRY_E_AUTH_DENIED || why[0] == '\0')) {
                    abort();
                }
            }
        }
    }
    unsigned sum = 0;
    /* the parser walked the options already: walking them cannot fail */
    if (ferry_cert_critical_each(c, touch, &sum) != FERRY_OK) {
        abort();
    }
}

static void parse_line(const uint8_t *data, size_t size)
{
    size_t n = size < LINE_MAX_LEN ? size : LINE_MAX_LEN;
    char *line = malloc(n + 1);
    if (line == NULL) {
        return;
    }
    memcpy(line, data, n);
    line[n] = '\0';
    ferry_cert *c = NULL;
    if (ferry_cert_parse_line(line, &c) == FERRY_OK) {
        /* the line's type word is the blob's */
        const char *t = line + strspn(line, " \t");
        if (strncmp(t, c->type_name, strlen(c->type_name)) != 0) {
            abort();
        }
        check_parsed(c, c->blob, c->len);
        ferry_cert_free(c);
    }
    free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ferry_cert *c = NULL;
    if (ferry_cert_from_blob(data, size, &c) == FERRY_OK) {
        check_parsed(c, data, size);
        ferry_cert_free(c);
    } else if (c != NULL) {
        abort(); /* *out is only set on success */
    }
    parse_line(data, size);
    return 0;
}
