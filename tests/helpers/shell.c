/* shell.c: see shell.h. */
#include "helpers/shell.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/err.h"

char *th_run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    FILE *f = popen(cmd, "r");
    if (f == NULL) {
        return NULL;
    }
    char *buf = calloc(1, 65536);
    size_t n = buf != NULL ? fread(buf, 1, 65535, f) : 0;
    if (pclose(f) != 0 || buf == NULL) {
        free(buf);
        return NULL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        buf[--n] = '\0';
    }
    return buf;
}

ferry_key *th_load_pub(const char *dir, const char *name)
{
    char path[1024], line[8192];
    ferry_key *k = NULL;
    snprintf(path, sizeof(path), "%s/%s.pub", dir, name);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return NULL;
    }
    if (fgets(line, sizeof(line), f) == NULL ||
        ferry_key_parse_public_line(line, &k, NULL) != FERRY_OK) {
        k = NULL;
    }
    fclose(f);
    return k;
}
