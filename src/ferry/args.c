/* args.c: command line (OpenSSH sftp's options) and destination parsing
 * ([user@]host[:path] and the sftp:// URI of draft-ietf-secsh-scp-sftp-ssh-uri). */
#include "ferry.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ferry_usage(void)
{
    fprintf(stderr,
            "usage: ferry [-1aCfpqrv] [-B buffer_size] [-b batchfile] [-D sftp_server_command]\n"
            "             [-F ssh_config] [-i identity_file] [-J destination] [-l limit]\n"
            "             [-o ssh_option] [-P port] [-R num_requests] [-S program]\n"
            "             [-s subsystem | sftp_server] [-X sftp_option] destination [local]\n"
            "       ferry [-v] [-F ssh_config] [-i identity_file] [-J destination]\n"
            "             [-o ssh_option] [-P port] -W host:port destination\n");
}

void ferry_dest_free(ferry_dest *d)
{
    free(d->user);
    free(d->host);
    free(d->path);
    memset(d, 0, sizeof(*d));
    d->port = -1;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    ch = tolower(ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Percent-decodes s[0..n) into a new string; NULL on a bad escape or %00. */
static char *pct_decode(const char *s, size_t n)
{
    char *o = malloc(n + 1);
    size_t j = 0;
    if (o == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            o[j++] = s[i];
            continue;
        }
        int hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
        int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(o);
            return NULL;
        }
        o[j++] = (char)(hi * 16 + lo);
        i += 2;
    }
    o[j] = '\0';
    return o;
}

/* Host part: "[v6]" or a name; returns chars used, or -1. */
static int parse_host(const char *s, char **host, const char *stops)
{
    size_t n;
    if (s[0] == '[') {
        const char *e = strchr(s, ']');
        if (e == NULL || e == s + 1) {
            return -1;
        }
        n = (size_t)(e - s - 1);
        *host = strndup(s + 1, n);
        return *host ? (int)(n + 2) : -1;
    }
    n = strcspn(s, stops);
    if (n == 0) {
        return -1;
    }
    *host = strndup(s, n);
    return *host ? (int)n : -1;
}

static int parse_uri(const char *s, ferry_dest *d)
{
    const char *p = s + strlen("sftp://");
    const char *slash = strchr(p, '/');
    const char *at = memrchr(p, '@', slash ? (size_t)(slash - p) : strlen(p));
    int n;

    if (at != NULL) {
        size_t ulen = strcspn(p, ";@"); /* ;params are ignored (URI draft s3.3) */
        if ((d->user = pct_decode(p, ulen)) == NULL || d->user[0] == '\0') {
            return -1;
        }
        p = at + 1;
    }
    if ((n = parse_host(p, &d->host, ":/")) < 0) {
        return -1;
    }
    p += n;
    if (*p == ':') {
        char *end;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535 || (*end != '\0' && *end != '/')) {
            return -1;
        }
        d->port = (int)port;
        p = end;
    }
    if (*p == '/' && p[1] != '\0') {
        /* "sftp://host/path" is path relative to the home directory, as
         * OpenSSH; "sftp://host//abs" is absolute. */
        if ((d->path = pct_decode(p + 1, strlen(p + 1))) == NULL) {
            return -1;
        }
    }
    return 0;
}

static int parse_plain(const char *s, ferry_dest *d)
{
    const char *p = s;
    const char *colon;
    int n;
    /* The user ends at the last '@' before the host part. */
    const char *br = strchr(s, '[');
    const char *limit = br ? br : (strchr(s, ':') ? strchr(s, ':') : s + strlen(s));
    const char *at = memrchr(s, '@', (size_t)(limit - s));
    if (at != NULL) {
        if (at == s || (d->user = strndup(s, (size_t)(at - s))) == NULL) {
            return -1;
        }
        p = at + 1;
    }
    if ((n = parse_host(p, &d->host, ":")) < 0) {
        return -1;
    }
    colon = p + n;
    if (*colon == ':') {
        if (colon[1] != '\0' && (d->path = strdup(colon + 1)) == NULL) {
            return -1;
        }
    } else if (*colon != '\0') {
        return -1;
    }
    return 0;
}

int ferry_dest_parse(const char *s, ferry_dest *d)
{
    int r;
    memset(d, 0, sizeof(*d));
    d->port = -1;
    if (s == NULL || s[0] == '\0') {
        return -1;
    }
    if (strncasecmp(s, "sftp://", 7) == 0) {
        r = parse_uri(s, d);
    } else {
        r = parse_plain(s, d);
    }
    if (r != 0) {
        ferry_dest_free(d);
    }
    return r;
}

static int push(char ***v, size_t *n, const char *s)
{
    char **nv = realloc(*v, (*n + 1) * sizeof(**v));
    if (nv == NULL) {
        return -1;
    }
    *v = nv;
    if ((nv[*n] = strdup(s)) == NULL) {
        return -1;
    }
    (*n)++;
    return 0;
}

/* A flag that stands for "-o keyword=arg" (-c, -J). */
static int push_option(ferry_args *a, const char *keyword, const char *arg)
{
    char buf[1024];
    if ((size_t)snprintf(buf, sizeof(buf), "%s=%s", keyword, arg) >= sizeof(buf)) {
        fprintf(stderr, "ferry: argument too long\n");
        return -1;
    }
    return push(&a->cli_options, &a->n_cli_options, buf);
}

static int num_arg(const char *s, unsigned long min, unsigned long max, unsigned long *v)
{
    char *end;
    unsigned long x;
    if (s[0] == '-') {
        return -1;
    }
    x = strtoul(s, &end, 10);
    if (end == s || *end != '\0' || x < min || x > max) {
        return -1;
    }
    *v = x;
    return 0;
}

/* One option letter; returns 0 or -1. */
static int one_opt(ferry_args *a, int ch, const char *arg)
{
    unsigned long v;
    switch (ch) {
    case '4':
        return push_option(a, "AddressFamily", "inet");
    case '6':
        return push_option(a, "AddressFamily", "inet6");
    case '1':
    case 'A':
    case 'N':
        return 0; /* accepted for compatibility */
    case 's':     /* a name, or a server path (run with "exec") */
        if (arg[0] == '\0') {
            fprintf(stderr, "ferry: -s needs a subsystem name or server path\n");
            return -1;
        }
        free(a->subsystem);
        a->subsystem = strdup(arg);
        return 0;
    case 'X':
        /* sftp's -X nrequests=N / buffer=N: -R and -B */
        if (strncmp(arg, "nrequests=", 10) == 0) {
            return one_opt(a, 'R', arg + 10);
        }
        if (strncmp(arg, "buffer=", 7) == 0) {
            return one_opt(a, 'B', arg + 7);
        }
        fprintf(stderr, "Invalid -X option \"%s\"\n", arg);
        return -1;
    case 'a':
        a->resume = 1;
        return 0;
    case 'C':
        a->compress = 1;
        return 0;
    case 'f':
        a->fsync_ = 1;
        return 0;
    case 'p':
        a->preserve = 1;
        return 0;
    case 'q':
        a->quiet = 1;
        return 0;
    case 'r':
        a->recursive = 1;
        return 0;
    case 'v':
        a->verbose++;
        return 0;
    case 'B':
        if (num_arg(arg, 1, FERRY_SFTPC_MAX_IO, &v) != 0) {
            fprintf(stderr, "Invalid buffer size \"%s\"\n", arg);
            return -1;
        }
        a->buffer_size = (uint32_t)v;
        return 0;
    case 'R':
        if (num_arg(arg, 1, 2048, &v) != 0) {
            fprintf(stderr, "Invalid number of requests \"%s\"\n", arg);
            return -1;
        }
        a->num_requests = (uint32_t)v;
        return 0;
    case 'l':
        if (num_arg(arg, 1, 1ul << 40, &v) != 0) {
            fprintf(stderr, "Invalid limit \"%s\"\n", arg);
            return -1;
        }
        a->limit_kbps = v;
        return 0;
    case 'P':
        if (num_arg(arg, 1, 65535, &v) != 0) {
            fprintf(stderr, "Bad port \"%s\"\n", arg);
            return -1;
        }
        a->port = (int)v;
        return 0;
    case 'b':
        free(a->batchfile);
        a->batchfile = strdup(arg);
        return 0;
    case 'F':
        free(a->config_file);
        a->config_file = strdup(arg);
        return 0;
    case 'D':
        free(a->sftp_server);
        a->sftp_server = strdup(arg);
        return 0;
    case 'Q':
        free(a->query);
        a->query = strdup(arg);
        return 0;
    case 'o':
        return push(&a->cli_options, &a->n_cli_options, arg);
    case 'i':
        return push(&a->identities, &a->n_identities, arg);
    case 'c':
        return push_option(a, "Ciphers", arg);
    case 'J':
        return push_option(a, "ProxyJump", arg);
    case 'W':
        free(a->forward);
        a->forward = strdup(arg);
        return 0;
    case 'S':
        free(a->ssh_program);
        a->ssh_program = strdup(arg);
        return 0;
    default:
        return -1;
    }
}

int ferry_args_parse(ferry_args *a, int argc, char **argv)
{
    int ch;
    memset(a, 0, sizeof(*a));
    a->port = -1;
    a->dest.port = -1;
    optind = 0; /* glibc: full re-initialisation */
    opterr = 1;
    while ((ch = getopt(argc, argv, "146aACfNpqrvB:b:c:D:F:i:J:l:o:P:Q:R:S:s:W:X:")) != -1) {
        if (ch == '?' || one_opt(a, ch, optarg) != 0) {
            ferry_usage();
            return -1;
        }
    }
    if ((a->sftp_server != NULL || a->query != NULL) && optind == argc) {
        return 0; /* -D without a destination */
    }
    if (argc - optind < 1 || argc - optind > 2) {
        ferry_usage();
        return -1;
    }
    if (ferry_dest_parse(argv[optind], &a->dest) != 0) {
        fprintf(stderr, "ferry: bad destination \"%s\"\n", argv[optind]);
        ferry_usage();
        return -1;
    }
    if (argc - optind == 2 && (a->local = strdup(argv[optind + 1])) == NULL) {
        return -1;
    }
    return 0;
}

void ferry_args_free(ferry_args *a)
{
    for (size_t i = 0; i < a->n_cli_options; i++) {
        free(a->cli_options[i]);
    }
    for (size_t i = 0; i < a->n_identities; i++) {
        free(a->identities[i]);
    }
    free(a->cli_options);
    free(a->identities);
    free(a->batchfile);
    free(a->config_file);
    free(a->sftp_server);
    free(a->query);
    free(a->forward);
    free(a->subsystem);
    free(a->ssh_program);
    free(a->local);
    ferry_dest_free(&a->dest);
}
