#include "util/log.h"

#include <stdio.h>
#include <unistd.h>

static int log_level = FERRY_LOG_INFO;
static ferry_log_sink log_sink;
static void *log_ctx;
static const char *log_ident = "ferry";

static const char *const level_names[] = {"error", "warning", "info", "debug", "trace"};

void ferry_log_set_level(int level)
{
    log_level = level;
}

int ferry_log_get_level(void)
{
    return log_level;
}

void ferry_log_set_sink(ferry_log_sink sink, void *ctx)
{
    log_sink = sink;
    log_ctx = ctx;
}

void ferry_log_set_ident(const char *ident)
{
    log_ident = ident ? ident : "ferry";
}

void ferry_logv(int level, const char *fmt, va_list ap)
{
    if (level > log_level) {
        return;
    }
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (log_sink != NULL) {
        log_sink(level, msg, log_ctx);
        return;
    }
    if (level < 0 || level > FERRY_LOG_TRACE) {
        level = FERRY_LOG_ERROR;
    }
    fprintf(stderr, "%s[%ld]: %s: %s\n", log_ident, (long)getpid(), level_names[level], msg);
}

void ferry_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ferry_logv(level, fmt, ap);
    va_end(ap);
}
