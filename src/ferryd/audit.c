/* audit.c: key=value audit events, default sink on stderr. */
#include "audit.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int needs_quotes(const char *v)
{
    if (*v == '\0') {
        return 1;
    }
    for (const unsigned char *p = (const unsigned char *)v; *p != '\0'; p++) {
        if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p >= 0x7f) {
            return 1;
        }
    }
    return 0;
}

/* Appends s (n bytes max) at *pos, never past outsz-1. */
static void put(char *out, size_t outsz, size_t *pos, const char *s)
{
    while (*s != '\0' && *pos + 1 < outsz) {
        out[(*pos)++] = *s++;
    }
    out[*pos] = '\0';
}

static void put_value(char *out, size_t outsz, size_t *pos, const char *v)
{
    if (v == NULL) {
        put(out, outsz, pos, "-");
        return;
    }
    if (!needs_quotes(v)) {
        put(out, outsz, pos, v);
        return;
    }
    put(out, outsz, pos, "\"");
    for (const unsigned char *p = (const unsigned char *)v; *p != '\0'; p++) {
        char tmp[8];
        if (*p == '"' || *p == '\\') {
            snprintf(tmp, sizeof(tmp), "\\%c", *p);
        } else if (*p < ' ' || *p == 0x7f) {
            snprintf(tmp, sizeof(tmp), "\\x%02x", *p);
        } else {
            tmp[0] = (char)*p;
            tmp[1] = '\0';
        }
        put(out, outsz, pos, tmp);
    }
    put(out, outsz, pos, "\"");
}

size_t ferryd_audit_format(char *out, size_t outsz, const char *event, const ferryd_kv *kv,
                           size_t n)
{
    size_t pos = 0;
    if (outsz == 0) {
        return 0;
    }
    out[0] = '\0';
    put(out, outsz, &pos, "event=");
    put_value(out, outsz, &pos, event);
    for (size_t i = 0; i < n; i++) {
        put(out, outsz, &pos, " ");
        put(out, outsz, &pos, kv[i].key);
        put(out, outsz, &pos, "=");
        put_value(out, outsz, &pos, kv[i].value);
    }
    return pos;
}

static void stderr_emit(void *ctx, const char *event, const ferryd_kv *kv, size_t n)
{
    char line[4096];
    int head = snprintf(line, sizeof(line), "ferryd[%ld]: audit: ", (long)getpid());
    if (head < 0) {
        return;
    }
    size_t len = (size_t)head;
    len += ferryd_audit_format(line + len, sizeof(line) - len - 1, event, kv, n);
    line[len++] = '\n';
    /* One write so lines from concurrent children do not interleave. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

const ferryd_audit_sink ferryd_audit_stderr = {.emit = stderr_emit, .ctx = NULL};

/* AuditLog: "2026-11-23T20:50:28.123Z ferryd[PID] event=..." appended to a
 * file with one write(2) per line (O_APPEND), and the stderr line too. */
static void file_emit(void *ctx, const char *event, const ferryd_kv *kv, size_t n)
{
    const int *fd = ctx;
    struct timespec ts;
    struct tm tm;
    char stamp[32], line[4096];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    int head = snprintf(line, sizeof(line), "%s.%03ldZ ferryd[%ld] ", stamp, ts.tv_nsec / 1000000,
                        (long)getpid());
    if (head > 0 && (size_t)head < sizeof(line)) {
        size_t len = (size_t)head;
        len += ferryd_audit_format(line + len, sizeof(line) - len - 1, event, kv, n);
        line[len++] = '\n';
        ssize_t w = write(*fd, line, len);
        (void)w;
    }
    stderr_emit(NULL, event, kv, n);
}

int ferryd_audit_file_open(const char *path, ferryd_audit_file *out)
{
    out->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (out->fd < 0) {
        return -1;
    }
    out->sink.emit = file_emit;
    out->sink.ctx = &out->fd;
    return 0;
}

void ferryd_audit_file_close(ferryd_audit_file *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
    }
}

void ferryd_audit_emit(const ferryd_audit_sink *sink, const char *event, const ferryd_kv *kv,
                       size_t n)
{
    if (sink == NULL) {
        sink = &ferryd_audit_stderr;
    }
    sink->emit(sink->ctx, event, kv, n);
}
