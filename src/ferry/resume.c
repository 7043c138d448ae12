/* resume.c: automatic resume of transfers. When the connection is lost
 * during a transfer (socket EOF or error, SSH disconnect, ServerAlive
 * timeout: the sftp engine is dead), ferry_resume_again rebuilds it with
 * backoff (ferry_conn_redial: same host key, no new prompts) and the
 * transfer code repeats the failed step; its state (the walk of a
 * recursive transfer, the files done, each file's acknowledged
 * watermark) lives in xfer.c's frames, not in the connection. Kept data
 * is compared by check-file (poly1305@ferry.dev with ferryd, sha256
 * elsewhere) before it is trusted. */
#include "ferry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "util/err.h"

#define BACKOFF_CAP_MS 30000u

uint64_t ferry_resume_backoff_ms(int delay_ms, unsigned attempt)
{
    uint64_t ms = delay_ms > 0 ? (uint64_t)delay_ms : 0;
    for (unsigned i = 1; i < attempt && ms < BACKOFF_CAP_MS; i++) {
        ms *= 2;
    }
    return ms < BACKOFF_CAP_MS ? ms : BACKOFF_CAP_MS;
}

/* Sleeps; -1 if SIGINT arrived meanwhile. */
static int sleep_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        if (ferry_shell_take_interrupt()) {
            return -1;
        }
    }
    return ferry_shell_take_interrupt() ? -1 : 0;
}

int ferry_resume_again(ferry_client *cl)
{
    ferry_resume *rs = &cl->rs;
    if (!ferry_sftpc_dead(cl->sftp) || !rs->reconnect || rs->redial == NULL) {
        return 0;
    }
    if (rs->progressed) {
        rs->fails = 0; /* only reconnects without progress in between count */
        rs->progressed = 0;
    }
    while (rs->fails < (unsigned)(rs->attempts > 0 ? rs->attempts : 0)) {
        unsigned k = ++rs->fails;
        fprintf(stderr, "Connection lost; reconnecting (attempt %u of %d)\n", k, rs->attempts);
        if (sleep_ms(ferry_resume_backoff_ms(rs->delay_ms, k)) != 0) {
            fprintf(stderr, "Interrupted; not reconnecting\n");
            return 0;
        }
        int r = rs->redial(rs->redial_ctx);
        if (r == FERRY_OK) {
            fprintf(stderr, "Reconnected\n");
            rs->gave_up = 0;
            return 1;
        }
        if (r == FERRY_E_HOSTKEY_CHANGED || r == FERRY_E_AUTH_DENIED || r == FERRY_E_UNSUPPORTED) {
            break; /* another try would end the same way */
        }
    }
    fprintf(stderr, "Connection lost; giving up after %u reconnect attempts\n", rs->fails);
    rs->gave_up = 1;
    return 0;
}

int ferry_resume_over(const ferry_client *cl)
{
    const ferry_resume *rs = &cl->rs;
    return ferry_sftpc_dead(cl->sftp) && (!rs->reconnect || rs->redial == NULL || rs->gave_up);
}

static void say_name(const char *fmt, const char *name, uint64_t n)
{
    char *e = ferry_fmt_escape(name);
    fprintf(stderr, fmt, e ? e : "?", (unsigned long long)n);
    fflush(stderr);
    free(e);
}

/* Permission: an upload-only ferryd refuses check-file. */
static int no_hash(int result)
{
    return result == FERRY_E_UNSUPPORTED || result == FERRY_E_PERMISSION;
}

int ferry_resume_mismatch(const char *name)
{
    say_name("Kept part of \"%s\" does not match; transferring it again\n", name, 0);
    return FERRY_PREFIX_MISMATCH;
}

int ferry_resume_prefix(ferry_client *cl, const ferry_buf *h, int fd, uint64_t n, const char *name,
                        const char *remote)
{
    ferry_sftpc_cmp j = {.handle = h, .fd = fd, .len = n};
    if (n == 0) {
        return FERRY_PREFIX_OK;
    }
    if (ferry_sftpc_compare(cl->sftp, &j, 1) != FERRY_OK) {
        return -1;
    }
    if (no_hash(j.result)) {
        say_name("Warning: server offers no file hash; \"%s\" resumed by size only\n", name, 0);
        return FERRY_PREFIX_OK;
    }
    if (j.result != FERRY_OK) { /* another server's limits: starting over is safe */
        char *e = ferry_fmt_escape(name);
        fprintf(stderr, "Couldn't check the kept part of \"%s\" (%s); transferring it again\n",
                e ? e : "?", ferry_strerror(j.result));
        free(e);
        return FERRY_PREFIX_MISMATCH;
    }
    if (!j.same) {
        return ferry_resume_mismatch(name);
    }
    char fmt[128]; /* the algorithm is one of ours: no '%' in it */
    snprintf(fmt, sizeof(fmt), "Resuming \"%%s\" at byte %%llu (prefix verified by %s)\n",
             ferry_sftpc_hash_name(cl->sftp));
    say_name(fmt, remote, n);
    return FERRY_PREFIX_OK;
}

int ferry_resume_verify(ferry_client *cl, ferry_sftpc_cmp *v, size_t n, const char *const *names)
{
    if (!cl->rs.verify || n == 0) {
        return 0;
    }
    return ferry_resume_report(cl, v, n, names, ferry_sftpc_compare(cl->sftp, v, n));
}

int ferry_resume_report(ferry_client *cl, ferry_sftpc_cmp *v, size_t n, const char *const *names,
                        int r)
{
    int rc = 0;
    if (r != FERRY_OK) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (no_hash(v[i].result)) {
            continue;
        }
        if (v[i].result != FERRY_OK) { /* cannot compare: not a mismatch */
            char *e = ferry_fmt_escape(names[i]);
            fprintf(stderr, "Warning: couldn't verify \"%s\": %s\n", e ? e : "?",
                    ferry_strerror(v[i].result));
            free(e);
        } else if (!v[i].same) {
            char fmt[128];
            snprintf(fmt, sizeof(fmt), "Verification of \"%%s\" failed: hash mismatch (%s)\n",
                     ferry_sftpc_hash_name(cl->sftp));
            say_name(fmt, names[i], 0);
            rc = -1;
        }
    }
    return rc;
}
