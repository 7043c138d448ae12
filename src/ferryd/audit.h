/* audit.h: ferryd's audit trail. One structured event per session start
 * and end and per file operation, as key=value pairs. The sink is an
 * interface so a tamper-evident trail (hash-chained file, remote
 * collector) can replace the default stderr writer. */
#ifndef FERRYD_AUDIT_H
#define FERRYD_AUDIT_H

#include <stddef.h>

/* One field. A NULL value is written as "-". */
typedef struct ferryd_kv {
    const char *key;
    const char *value;
} ferryd_kv;

typedef struct ferryd_audit_sink {
    /* Records one event; strings are borrowed for the call only. */
    void (*emit)(void *ctx, const char *event, const ferryd_kv *kv, size_t n);
    void *ctx;
} ferryd_audit_sink;

/* The default sink: one line on stderr,
 *   ferryd[PID]: audit: event=NAME key=value key="value with spaces" ...
 * Values with spaces, quotes, '=' or control bytes are double-quoted with
 * \" \\ and \xHH escapes, so a line always parses back unambiguously. */
extern const ferryd_audit_sink ferryd_audit_stderr;

/* Formats event and fields into out[outsz] as the stderr sink writes them
 * (without the "ferryd[PID]: audit: " prefix and newline); truncated
 * output stays NUL-terminated. Returns the length written. */
size_t ferryd_audit_format(char *out, size_t outsz, const char *event, const ferryd_kv *kv,
                           size_t n);

/* A sink that appends each event, with a UTC timestamp, to a file (the
 * AuditLog keyword) and also writes the stderr line. The struct must stay
 * where it is while the sink is in use (sink.ctx points into it). */
typedef struct ferryd_audit_file {
    ferryd_audit_sink sink;
    int fd;
} ferryd_audit_file;

/* Opens (creating, mode 0600) `path` for appending. 0, or -1 with errno. */
int ferryd_audit_file_open(const char *path, ferryd_audit_file *out);
void ferryd_audit_file_close(ferryd_audit_file *f);

/* Emits through sink (NULL = the stderr sink). */
void ferryd_audit_emit(const ferryd_audit_sink *sink, const char *event, const ferryd_kv *kv,
                       size_t n);

#endif
