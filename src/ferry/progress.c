/* progress.c: the transfer meter on a terminal: name, percent, bytes,
 * rate and time left, redrawn at most a few times a second. */
#include "ferry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int term_width(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) {
        return ws.ws_col;
    }
    return 80;
}

static void draw(ferry_progress *p, int final)
{
    char bytes[32], rate[32], eta[32], line[512];
    double el = now_s() - p->t0;
    uint64_t moved = p->done - p->start_off;
    double bps = el > 0.001 ? (double)moved / el : 0.0;
    int pct = p->total ? (int)((double)p->done * 100.0 / (double)p->total) : 100;
    int w = term_width();
    ferry_fmt_human(p->done, bytes, sizeof(bytes));
    ferry_fmt_human((uint64_t)bps, rate, sizeof(rate));
    if (final || bps <= 0.0 || p->done >= p->total) {
        long s = (long)el;
        snprintf(eta, sizeof(eta), "%02ld:%02ld   ", s / 60, s % 60);
    } else {
        long s = (long)((double)(p->total - p->done) / bps);
        snprintf(eta, sizeof(eta), "%02ld:%02ld ETA", s / 60, s % 60);
    }
    int namew = w - 40 > 10 ? w - 40 : 10;
    char *ename = ferry_fmt_escape(p->name);
    snprintf(line, sizeof(line), "\r%-*.*s %3d%% %8s %7s/s %s", namew, namew, ename ? ename : "?",
             pct > 100 ? 100 : pct, bytes, rate, eta);
    free(ename);
    /* pad to the full width so a shorter line erases the previous one */
    size_t len = strlen(line);
    while (len + 1 < sizeof(line) && (int)len < w) {
        line[len++] = ' ';
    }
    line[len] = '\0';
    fputs(line, stdout);
    fflush(stdout);
}

void ferry_progress_start(ferry_progress *p, int on, const char *name, uint64_t total,
                          uint64_t start)
{
    memset(p, 0, sizeof(*p));
    p->on = on && isatty(STDOUT_FILENO);
    p->name = name;
    p->total = total;
    p->done = p->start_off = start;
    p->t0 = p->last = now_s();
    if (p->on) {
        draw(p, 0);
    }
}

void ferry_progress_update(void *ctx, uint64_t bytes)
{
    ferry_progress *p = ctx;
    p->done += bytes;
    if (p->limit_kbps > 0) {
        /* -l: wait until the bytes moved so far fit the allowed rate */
        double due = (double)(p->done - p->start_off) * 8.0 / ((double)p->limit_kbps * 1000.0);
        double ahead = due - (now_s() - p->t0);
        if (ahead > 0.001) {
            struct timespec ts = {.tv_sec = (time_t)ahead,
                                  .tv_nsec = (long)((ahead - (double)(time_t)ahead) * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
    if (!p->on) {
        return;
    }
    double t = now_s();
    if (t - p->last >= 0.25) {
        p->last = t;
        draw(p, 0);
    }
}

void ferry_progress_end(ferry_progress *p)
{
    if (p->on) {
        draw(p, 1);
        fputs("\n", stdout);
        fflush(stdout);
    }
}
