/* log.h: process-wide logging with a pluggable sink.
 *
 * Logging is the one piece of process-wide state in libferry (a level and a
 * sink); per-connection state never lives here. The default sink writes
 * "ferry[pid]: LEVEL: message" lines to stderr. */
#ifndef FERRY_UTIL_LOG_H
#define FERRY_UTIL_LOG_H

#include <stdarg.h>

enum ferry_log_level {
    FERRY_LOG_ERROR = 0,
    FERRY_LOG_WARN = 1,
    FERRY_LOG_INFO = 2,
    FERRY_LOG_DEBUG = 3,
    FERRY_LOG_TRACE = 4,
};

typedef void (*ferry_log_sink)(int level, const char *msg, void *ctx);

/* Messages above `level` are dropped. Default FERRY_LOG_INFO. */
void ferry_log_set_level(int level);
int ferry_log_get_level(void);
/* Replaces the sink (NULL restores the stderr sink). */
void ferry_log_set_sink(ferry_log_sink sink, void *ctx);
/* Program name used by the default sink ("ferry" by default). The string
 * is borrowed and must live as long as logging is used. */
void ferry_log_set_ident(const char *ident);

void ferry_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ferry_logv(int level, const char *fmt, va_list ap);

#define ferry_error(...) ferry_log(FERRY_LOG_ERROR, __VA_ARGS__)
#define ferry_warn(...) ferry_log(FERRY_LOG_WARN, __VA_ARGS__)
#define ferry_info(...) ferry_log(FERRY_LOG_INFO, __VA_ARGS__)
#define ferry_debug(...) ferry_log(FERRY_LOG_DEBUG, __VA_ARGS__)
#define ferry_trace(...) ferry_log(FERRY_LOG_TRACE, __VA_ARGS__)

#endif
