/* fmt.c: how names, modes, sizes and long listings are printed. Names
 * from a server are untrusted: control characters are escaped. */
#include "ferry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static int needs_escape(unsigned char ch)
{
    return ch < 0x20 || ch == 0x7f || ch == '\\';
}

char *ferry_fmt_escape(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++) {
        n += needs_escape((unsigned char)*p) ? 4 : 1;
    }
    char *o = malloc(n + 1);
    char *q = o;
    if (o == NULL) {
        return NULL;
    }
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '\\') {
            *q++ = '\\';
            *q++ = '\\';
        } else if (needs_escape(ch)) {
            q += sprintf(q, "\\%03o", ch);
        } else {
            *q++ = (char)ch;
        }
    }
    *q = '\0';
    return o;
}

void ferry_fmt_name(FILE *f, const char *s)
{
    char *e = ferry_fmt_escape(s);
    fputs(e ? e : "?", f);
    free(e);
}

void ferry_fmt_mode(uint32_t mode, char out[11])
{
    static const char bits[] = "rwxrwxrwx";
    char t;
    switch (mode & S_IFMT) {
    case S_IFDIR:
        t = 'd';
        break;
    case S_IFLNK:
        t = 'l';
        break;
    case S_IFCHR:
        t = 'c';
        break;
    case S_IFBLK:
        t = 'b';
        break;
    case S_IFIFO:
        t = 'p';
        break;
    case S_IFSOCK:
        t = 's';
        break;
    case S_IFREG:
        t = '-';
        break;
    default:
        t = '?';
        break;
    }
    out[0] = t;
    for (int i = 0; i < 9; i++) {
        out[i + 1] = (mode & (1u << (8 - i))) ? bits[i] : '-';
    }
    if (mode & S_ISUID) {
        out[3] = (mode & S_IXUSR) ? 's' : 'S';
    }
    if (mode & S_ISGID) {
        out[6] = (mode & S_IXGRP) ? 's' : 'S';
    }
    if (mode & S_ISVTX) {
        out[9] = (mode & S_IXOTH) ? 't' : 'T';
    }
    out[10] = '\0';
}

void ferry_fmt_human(uint64_t v, char *out, size_t outsz)
{
    static const char units[] = "BKMGTPE";
    double d = (double)v;
    int u = 0;
    while (d >= 1024.0 && u < 6) {
        d /= 1024.0;
        u++;
    }
    if (u == 0) {
        snprintf(out, outsz, "%lluB", (unsigned long long)v);
    } else if (d < 10.0) {
        snprintf(out, outsz, "%.1f%c", d, units[u]);
    } else {
        snprintf(out, outsz, "%.0f%c", d, units[u]);
    }
}

void ferry_fmt_long(char *out, size_t outsz, const char *name, const ferry_sftp_attrs *a,
                    int numeric, int si, const char *user, const char *group)
{
    char mode[11], ubuf[16], gbuf[16], tbuf[32], sbuf[32];
    time_t now = time(NULL);
    time_t mt = (a->flags & SSH_FILEXFER_ATTR_ACMODTIME) ? (time_t)a->mtime : 0;
    struct tm tm;
    char *ename = ferry_fmt_escape(name);

    ferry_fmt_mode((a->flags & SSH_FILEXFER_ATTR_PERMISSIONS) ? a->perm : 0, mode);
    snprintf(ubuf, sizeof(ubuf), "%u", (unsigned)a->uid);
    snprintf(gbuf, sizeof(gbuf), "%u", (unsigned)a->gid);
    if (numeric || user == NULL) {
        user = ubuf;
    }
    if (numeric || group == NULL) {
        group = gbuf;
    }
    localtime_r(&mt, &tm);
    /* Within six months: time of day; else the year (as ls). */
    if (mt + 365 * 86400 / 2 > now && mt < now + 365 * 86400 / 2) {
        strftime(tbuf, sizeof(tbuf), "%b %e %H:%M", &tm);
    } else {
        strftime(tbuf, sizeof(tbuf), "%b %e  %Y", &tm);
    }
    if (si) {
        ferry_fmt_human(a->size, sbuf, sizeof(sbuf));
    } else {
        snprintf(sbuf, sizeof(sbuf), "%llu", (unsigned long long)a->size);
    }
    snprintf(out, outsz, "%s  %3s %-*s %-*s %8s %s %s", mode, "?",
             (int)(strlen(user) > 8 ? strlen(user) : 8), user,
             (int)(strlen(group) > 8 ? strlen(group) : 8), group, sbuf, tbuf, ename ? ename : "?");
    free(ename);
}
