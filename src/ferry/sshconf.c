/* sshconf.c: the subset of ssh_config(5) ferry honours. One table maps
 * each keyword to a field and a value type; the first value obtained for
 * a field wins (OpenSSH's rule), IdentityFile accumulates. Host blocks
 * match pattern-lists with *, ? and !negation. Unknown keywords warn. */
#include "ferry.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ssh/authfile.h"
#include "util/conf.h"
#include "util/err.h"
#include "util/log.h"
#include "util/names.h"

enum opt_type {
    T_STR,
    T_INT,
    T_PORT,
    T_YESNO,
    T_STRICT,
    T_IDFILE,
    T_CERTFILE,
    T_MSEC,
    T_PROXY,
    T_REKEY,
    T_LOGLEVEL,
    T_FAMILY,
    T_IGNORE
};

typedef struct opt_def {
    const char *name;
    enum opt_type type;
    size_t off;
} opt_def;

#define F(field) offsetof(ferry_opts, field)

static const char *home_dir(void);

static const opt_def opt_table[] = {
    {"hostname", T_STR, F(hostname)},
    {"port", T_PORT, F(port)},
    {"user", T_STR, F(user)},
    {"identityfile", T_IDFILE, 0},
    {"certificatefile", T_CERTFILE, 0},
    {"identitiesonly", T_YESNO, F(identities_only)},
    {"identityagent", T_STR, F(identity_agent)},
    {"userknownhostsfile", T_STR, F(known_hosts)},
    {"globalknownhostsfile", T_STR, F(global_known_hosts)},
    {"hostkeyalias", T_STR, F(host_key_alias)},
    {"revokedhostkeys", T_STR, F(revoked_host_keys)},
    {"stricthostkeychecking", T_STRICT, F(strict)},
    {"batchmode", T_YESNO, F(batch_mode)},
    {"connecttimeout", T_INT, F(connect_timeout)},
    {"ciphers", T_STR, F(ciphers)},
    {"macs", T_STR, F(macs)},
    {"kexalgorithms", T_STR, F(kex)},
    {"hostkeyalgorithms", T_STR, F(hostkey_algs)},
    {"pubkeyacceptedalgorithms", T_STR, F(pubkey_algs)},
    {"pubkeyacceptedkeytypes", T_STR, F(pubkey_algs)}, /* its name before OpenSSH 8.5 */
    {"casignaturealgorithms", T_STR, F(ca_sig_algs)},
    {"tag", T_STR, F(tag)},
    {"pubkeyauthentication", T_YESNO, F(pubkey_auth)},
    {"passwordauthentication", T_YESNO, F(password_auth)},
    {"kbdinteractiveauthentication", T_YESNO, F(kbdint_auth)},
    {"challengeresponseauthentication", T_YESNO, F(kbdint_auth)},
    {"preferredauthentications", T_STR, F(auth_order)},
    {"numberofpasswordprompts", T_INT, F(password_prompts)},
    {"connectionattempts", T_INT, F(connection_attempts)},
    {"rekeylimit", T_REKEY, 0},
    {"loglevel", T_LOGLEVEL, F(log_level)},
    {"serveraliveinterval", T_INT, F(alive_interval)},
    {"serveralivecountmax", T_INT, F(alive_count)},
    {"hashknownhosts", T_YESNO, F(hash_known_hosts)},
    {"reconnect", T_YESNO, F(reconnect)},
    {"reconnectattempts", T_INT, F(reconnect_attempts)},
    {"reconnectdelay", T_MSEC, F(reconnect_delay_ms)},
    {"verifytransfers", T_YESNO, F(verify_transfers)},
    {"compression", T_YESNO, F(compression)},
    {"proxycommand", T_PROXY, F(proxy_command)},
    {"proxyjump", T_PROXY, F(proxy_jump)},
    {"addressfamily", T_FAMILY, F(address_family)},
    {"bindaddress", T_STR, F(bind_address)},
    /* Accepted silently: meaningless or defaults for an sftp client. */
    {"forwardagent", T_IGNORE, 0},
    {"forwardx11", T_IGNORE, 0},
    {"requesttty", T_IGNORE, 0},
    {"checkhostip", T_IGNORE, 0},
    {"updatehostkeys", T_IGNORE, 0},
    {"sendenv", T_IGNORE, 0},
    {"setenv", T_IGNORE, 0},
    {"gssapiauthentication", T_IGNORE, 0},
    {"addkeystoagent", T_IGNORE, 0},
    {"controlmaster", T_IGNORE, 0},
    {"controlpath", T_IGNORE, 0},
    {"controlpersist", T_IGNORE, 0},
    {"tcpkeepalive", T_IGNORE, 0},
    {"visualhostkey", T_IGNORE, 0},
    {"ignoreunknown", T_IGNORE, 0}, /* ferry knows its own keywords */
    /* ssh(1)'s own sessions only: forwarding, terminals, local commands */
    {"localforward", T_IGNORE, 0},
    {"remoteforward", T_IGNORE, 0},
    {"dynamicforward", T_IGNORE, 0},
    {"exitonforwardfailure", T_IGNORE, 0},
    {"clearallforwardings", T_IGNORE, 0},
    {"gatewayports", T_IGNORE, 0},
    {"forwardx11trusted", T_IGNORE, 0},
    {"forwardx11timeout", T_IGNORE, 0},
    {"xauthlocation", T_IGNORE, 0},
    {"permitlocalcommand", T_IGNORE, 0},
    {"localcommand", T_IGNORE, 0},
    {"remotecommand", T_IGNORE, 0},
    {"escapechar", T_IGNORE, 0},
    {"tunnel", T_IGNORE, 0},
    {"tunneldevice", T_IGNORE, 0},
    {"ipqos", T_IGNORE, 0},
    {"gssapidelegatecredentials", T_IGNORE, 0},
    {"verifyhostkeydns", T_IGNORE, 0},
    {"streamlocalbindunlink", T_IGNORE, 0},
    {"streamlocalbindmask", T_IGNORE, 0},
    {"permitremoteopen", T_IGNORE, 0},
    {"sessiontype", T_IGNORE, 0},
    {"stdinnull", T_IGNORE, 0},
    {"forkafterauthentication", T_IGNORE, 0},
    {"obscurekeystroketiming", T_IGNORE, 0},
    {"usekeychain", T_IGNORE, 0}, /* macOS ssh */
};

void ferry_opts_init(ferry_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->port = o->identities_only = o->strict = o->batch_mode = -1;
    o->connect_timeout = o->pubkey_auth = o->password_auth = o->kbdint_auth = -1;
    o->alive_interval = o->alive_count = o->hash_known_hosts = -1;
    o->compression = o->address_family = -1;
    o->password_prompts = o->connection_attempts = o->log_level = -1;
    o->reconnect = o->reconnect_attempts = o->reconnect_delay_ms = o->verify_transfers = -1;
}

void ferry_opts_free(ferry_opts *o)
{
    char **strs[] = {&o->hostname,
                     &o->user,
                     &o->identity_agent,
                     &o->known_hosts,
                     &o->ciphers,
                     &o->macs,
                     &o->kex,
                     &o->hostkey_algs,
                     &o->proxy_command,
                     &o->proxy_jump,
                     &o->config_file,
                     &o->auth_order,
                     &o->global_known_hosts,
                     &o->host_key_alias,
                     &o->subsystem,
                     &o->revoked_host_keys,
                     &o->pubkey_algs,
                     &o->bind_address,
                     &o->ca_sig_algs,
                     &o->tag};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
    for (size_t i = 0; i < o->n_identity_files; i++) {
        free(o->identity_files[i]);
    }
    o->n_identity_files = 0;
    for (size_t i = 0; i < o->n_cert_files; i++) {
        free(o->cert_files[i]);
    }
    o->n_cert_files = 0;
}

int ferry_opts_host_match(const char *patterns, const char *host)
{
    int matched = 0;
    char *dup = strdup(patterns);
    char *save = NULL;
    if (dup == NULL) {
        return 0;
    }
    for (char *p = strtok_r(dup, ", \t", &save); p; p = strtok_r(NULL, ", \t", &save)) {
        int neg = p[0] == '!';
        if (ferry_names_wildcard(neg ? p + 1 : p, host)) {
            if (neg) {
                free(dup);
                return 0; /* a negated match vetoes the whole list */
            }
            matched = 1;
        }
    }
    free(dup);
    return matched;
}

static int parse_yesno(const char *v)
{
    if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0) {
        return 1;
    }
    if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0) {
        return 0;
    }
    return -1;
}

static int parse_strict(const char *v)
{
    static const struct {
        const char *n;
        int v;
    } map[] = {{"yes", FERRY_STRICT_YES}, {"true", FERRY_STRICT_YES},
               {"no", FERRY_STRICT_NO},   {"false", FERRY_STRICT_NO},
               {"off", FERRY_STRICT_NO},  {"accept-new", FERRY_STRICT_ACCEPT_NEW},
               {"ask", FERRY_STRICT_ASK}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcasecmp(v, map[i].n) == 0) {
            return map[i].v;
        }
    }
    return -2;
}

/* Seconds with decimals ("0.2", "1", "2.5") as milliseconds, at
 * most one hour; -1 if malformed. */
/* Adds a file to an accumulating list (IdentityFile, CertificateFile); one
 * seen again (Match final's second pass) is not added twice. */
static int add_path(char **v, size_t *n, const char *val)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(v[i], val) == 0) {
            return 0;
        }
    }
    if (*n < FERRY_MAX_IDENTITY_FILES && (v[(*n)++] = strdup(val)) == NULL) {
        return -1;
    }
    return 0;
}

static long parse_msec(const char *v)
{
    long ms = 0, scale = 1000;
    const char *p = v;
    if (!isdigit((unsigned char)*p)) {
        return -1;
    }
    for (; isdigit((unsigned char)*p); p++) {
        ms = ms * 10 + (*p - '0') * 1000;
        if (ms > 3600L * 1000) {
            return -1;
        }
    }
    if (*p == '.') {
        for (p++; isdigit((unsigned char)*p); p++) {
            scale /= 10; /* digits past milliseconds are dropped */
            ms += (*p - '0') * scale;
        }
    }
    return *p == '\0' && ms <= 3600L * 1000 ? ms : -1;
}

/* ssh_config LogLevel as ferry's log levels: ferry's default (warnings)
 * stands for OpenSSH's INFO. -1 if unknown. */
static int log_level(const char *v)
{
    static const struct {
        const char *n;
        int level;
    } map[] = {
        {"QUIET", FERRY_LOG_ERROR},  {"FATAL", FERRY_LOG_ERROR},  {"ERROR", FERRY_LOG_ERROR},
        {"INFO", FERRY_LOG_WARN},    {"VERBOSE", FERRY_LOG_INFO}, {"DEBUG", FERRY_LOG_DEBUG},
        {"DEBUG1", FERRY_LOG_DEBUG}, {"DEBUG2", FERRY_LOG_TRACE}, {"DEBUG3", FERRY_LOG_TRACE}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcasecmp(v, map[i].n) == 0) {
            return map[i].level;
        }
    }
    return -1;
}

/* Stores `val` for `d` if the field is still unset. 0 or -1 (bad value). */
static int store(ferry_opts *o, const opt_def *d, const char *val)
{
    char *end;
    long n;
    int *ip = (int *)((char *)o + d->off);
    char **sp = (char **)((char *)o + d->off);
    switch (d->type) {
    case T_STR:
        if (*sp == NULL && (*sp = strdup(val)) == NULL) {
            return -1;
        }
        return 0;
    case T_INT:
    case T_PORT:
        n = strtol(val, &end, 10);
        if (end == val || *end != '\0' || n < 0 || n > (d->type == T_PORT ? 65535 : 1000000) ||
            (d->type == T_PORT && n == 0)) {
            return -1;
        }
        *ip = *ip == -1 ? (int)n : *ip;
        return 0;
    case T_YESNO:
        n = parse_yesno(val);
        *ip = *ip == -1 ? (int)n : *ip;
        return n < 0 ? -1 : 0;
    case T_FAMILY:
        n = strcasecmp(val, "any") == 0     ? AF_UNSPEC
            : strcasecmp(val, "inet") == 0  ? AF_INET
            : strcasecmp(val, "inet6") == 0 ? AF_INET6
                                            : -1;
        *ip = *ip == -1 ? (int)n : *ip;
        return n < 0 ? -1 : 0;
    case T_STRICT:
        n = parse_strict(val);
        *ip = *ip == FERRY_STRICT_UNSET && n >= 0 ? (int)n : *ip;
        return n < 0 ? -1 : 0;
    case T_IDFILE:
        return add_path(o->identity_files, &o->n_identity_files, val);
    case T_CERTFILE:
        return add_path(o->cert_files, &o->n_cert_files, val);
    case T_MSEC:
        n = parse_msec(val);
        *ip = *ip == -1 && n >= 0 ? (int)n : *ip;
        return n < 0 ? -1 : 0;
    case T_PROXY: /* the first of ProxyCommand and ProxyJump wins */
        if (o->proxy_command == NULL && o->proxy_jump == NULL && (*sp = strdup(val)) == NULL) {
            return -1;
        }
        return 0;
    case T_REKEY: {
        uint64_t b = 0, t = 0;
        if (ferry_conf_rekey_limit(val, &b, &t) != FERRY_OK) {
            return -1;
        }
        if (!o->rekey_set) {
            o->rekey_set = 1;
            o->rekey_bytes = b;
            o->rekey_seconds = t;
        }
        return 0;
    }
    case T_LOGLEVEL:
        n = log_level(val);
        *ip = *ip == -1 && n >= 0 ? (int)n : *ip;
        return n < 0 ? -1 : 0;
    case T_IGNORE:
        return 0;
    }
    return -1;
}

/* Splits "Key value", "Key=value" or "Key = value"; strips quotes from
 * the value. Writes into key/val buffers. Returns 0, 1 (blank/comment),
 * -1 (bad). */
static int split_kv(const char *line, char *key, size_t ksz, char *val, size_t vsz)
{
    const char *p = line + strspn(line, " \t");
    size_t kn = strcspn(p, " \t=");
    if (*p == '\0' || *p == '#' || *p == '\n' || *p == '\r') {
        return 1;
    }
    if (kn == 0 || kn >= ksz) {
        return -1;
    }
    memcpy(key, p, kn);
    key[kn] = '\0';
    p += kn;
    p += strspn(p, " \t");
    if (*p == '=') {
        p++;
        p += strspn(p, " \t");
    }
    size_t vn = strlen(p);
    while (vn > 0 &&
           (p[vn - 1] == '\n' || p[vn - 1] == '\r' || p[vn - 1] == ' ' || p[vn - 1] == '\t')) {
        vn--;
    }
    if (vn >= 2 && p[0] == '"' && p[vn - 1] == '"') {
        p++;
        vn -= 2;
    }
    if (vn >= vsz) {
        return -1;
    }
    memcpy(val, p, vn);
    val[vn] = '\0';
    return 0;
}

#define MAX_INCLUDE_DEPTH 16

static int opts_file(ferry_opts *o, const char *path, const char *host, int must_exist, int depth);

/* Include: files (glob patterns; relative ones under ~/.ssh) read in
 * place, as OpenSSH; nested at most MAX_INCLUDE_DEPTH deep. */
static int include_files(ferry_opts *o, const char *val, const char *host, int depth,
                         const char *where)
{
    char *dup = strdup(val), *save = NULL;
    int rc = 0;
    if (dup == NULL) {
        return -1;
    }
    if (depth >= MAX_INCLUDE_DEPTH) {
        fprintf(stderr, "%s: Include nested too deeply\n", where);
        free(dup);
        return -1;
    }
    for (char *w = strtok_r(dup, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        char rel[4096];
        glob_t g;
        snprintf(rel, sizeof(rel), "%s%s", w[0] == '/' || w[0] == '~' ? "" : "~/.ssh/", w);
        char *path = ferry_opts_expand_path(rel, host, "");
        if (path != NULL && glob(path, 0, NULL, &g) == 0) {
            for (size_t i = 0; i < g.gl_pathc; i++) {
                if (opts_file(o, g.gl_pathv[i], host, 0, depth + 1) != 0) {
                    rc = -1;
                }
            }
            globfree(&g);
        }
        free(path);
    }
    free(dup);
    return rc;
}

/* Next word of a Match line (double quotes group, and are removed);
 * NULL at the end. Advances *p; writes into w[wsz]. */
static const char *match_word(const char **p, char *w, size_t wsz)
{
    size_t j = 0;
    const char *s = *p + strspn(*p, " \t");
    int quoted = 0;
    if (*s == '\0') {
        return NULL;
    }
    for (; *s != '\0' && (quoted || (*s != ' ' && *s != '\t')); s++) {
        if (*s == '"') {
            quoted = !quoted;
        } else if (j + 1 < wsz) {
            w[j++] = *s;
        }
    }
    w[j] = '\0';
    *p = s;
    return w;
}

/* Match exec: the command (tokens %h %n %p %r %u %d %%) by the user's
 * shell, output to /dev/null; true when it exits 0. */
static int match_exec(const ferry_opts *o, const char *cmd, const char *host, const char *luser)
{
    char port[16];
    const char *sh = getenv("SHELL");
    snprintf(port, sizeof(port), "%d", o->port > 0 ? o->port : 22);
    const ferry_token t[] = {{'h', o->hostname ? o->hostname : host},
                             {'n', host},
                             {'p', port},
                             {'r', o->user ? o->user : luser},
                             {'u', luser},
                             {'d', home_dir()},
                             {'\0', NULL}};
    char *line = ferry_opts_expand_tokens(cmd, t);
    int st = 0;
    fflush(NULL);
    pid_t pid = line != NULL ? fork() : -1;
    if (pid < 0) {
        free(line);
        return 0;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
        }
        execl(sh != NULL && sh[0] == '/' ? sh : "/bin/sh", "sh", "-c", line, (char *)NULL);
        _exit(127);
    }
    free(line);
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            return 0;
        }
    }
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Match localnetwork: whether an address of a local interface is in the
 * CIDR list (OpenSSH 9.4). */
static int match_localnetwork(const char *list)
{
    struct ifaddrs *ifs = NULL;
    int m = 0;
    if (getifaddrs(&ifs) != 0) {
        return 0;
    }
    for (const struct ifaddrs *i = ifs; i != NULL && !m; i = i->ifa_next) {
        char addr[INET6_ADDRSTRLEN];
        const struct sockaddr *sa = i->ifa_addr;
        if (sa == NULL || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
            getnameinfo(sa,
                        sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
                                                 : sizeof(struct sockaddr_in6),
                        addr, sizeof(addr), NULL, 0, NI_NUMERICHOST) != 0) {
            continue;
        }
        char *pct = strchr(addr, '%'); /* fe80::1%eth0 */
        if (pct != NULL) {
            *pct = '\0';
        }
        m = ferry_addr_list_admits(list, addr);
    }
    freeifaddrs(ifs);
    return m;
}

/* A Match line: 1 when every criterion holds, 0 when one does not, -1
 * for a malformed line. `all`; host (after HostName so far),
 * originalhost, user (after User so far), localuser, tagged (the Tag
 * so far): pattern lists; localnetwork: CIDR lists; exec; final (true on
 * the second pass, which seeing it asks for); canonical (never: ferry
 * does not canonicalize host names); each may be negated with '!'. */
static int match_criteria(ferry_opts *o, const char *val, const char *host, const char *where)
{
    char w[1024], arg[4096];
    const char *p = val;
    const struct passwd *pw = getpwuid(getuid());
    const char *luser = pw != NULL ? pw->pw_name : "";
    int result = 1, n = 0;
    while (match_word(&p, w, sizeof(w)) != NULL) {
        int neg = w[0] == '!', m;
        const char *crit = w + neg;
        n++;
        if (strcasecmp(crit, "all") == 0) {
            m = 1;
        } else if (strcasecmp(crit, "final") == 0) {
            o->saw_final = 1;
            m = o->final_pass;
        } else if (strcasecmp(crit, "canonical") == 0) {
            m = 0;
        } else {
            const char *subject = NULL;
            if (match_word(&p, arg, sizeof(arg)) == NULL) {
                fprintf(stderr, "%s: Match %s needs an argument\n", where, crit);
                return -1;
            }
            if (strcasecmp(crit, "exec") == 0) {
                m = result ? match_exec(o, arg, host, luser) : 0; /* only while it matters */
            } else if (strcasecmp(crit, "localnetwork") == 0) {
                m = match_localnetwork(arg);
            } else {
                subject = strcasecmp(crit, "host") == 0 ? (o->hostname ? o->hostname : host)
                          : strcasecmp(crit, "originalhost") == 0 ? host
                          : strcasecmp(crit, "user") == 0         ? (o->user ? o->user : luser)
                          : strcasecmp(crit, "localuser") == 0    ? luser
                          : strcasecmp(crit, "tagged") == 0       ? (o->tag ? o->tag : "")
                                                                  : NULL;
                if (subject == NULL) {
                    fprintf(stderr, "%s: unsupported Match attribute %s\n", where, crit);
                    return -1;
                }
                m = ferry_opts_host_match(arg, subject);
            }
        }
        if (m == neg) {
            result = 0;
        }
    }
    if (n == 0) {
        fprintf(stderr, "%s: Match needs criteria\n", where);
        return -1;
    }
    return result;
}

static int opts_line(ferry_opts *o, const char *line, const char *host, int *in_match,
                     const char *where, int depth)
{
    char key[64], val[4096];
    int r = split_kv(line, key, sizeof(key), val, sizeof(val));
    if (r != 0) {
        if (r < 0) {
            fprintf(stderr, "%s: bad configuration line\n", where);
        }
        return r < 0 ? -1 : 0;
    }
    if (strcasecmp(key, "host") == 0) {
        *in_match = ferry_opts_host_match(val, host);
        return 0;
    }
    if (strcasecmp(key, "match") == 0) {
        int m = match_criteria(o, val, host, where);
        *in_match = m > 0;
        return m < 0 ? -1 : 0;
    }
    if (!*in_match) {
        return 0;
    }
    if (strcasecmp(key, "include") == 0) {
        return include_files(o, val, host, depth, where);
    }
    for (size_t i = 0; i < sizeof(opt_table) / sizeof(opt_table[0]); i++) {
        if (strcasecmp(key, opt_table[i].name) == 0) {
            if (val[0] == '\0' || store(o, &opt_table[i], val) != 0) {
                fprintf(stderr, "%s: bad value for %s: \"%s\"\n", where, key, val);
                return -1;
            }
            return 0;
        }
    }
    fprintf(stderr, "%s: unsupported option \"%s\" ignored\n", where, key);
    return 0;
}

int ferry_opts_line(ferry_opts *o, const char *line, const char *host, int *in_match,
                    const char *where)
{
    return opts_line(o, line, host, in_match, where, 0);
}

static int opts_file(ferry_opts *o, const char *path, const char *host, int must_exist, int depth)
{
    FILE *f = fopen(path, "r");
    char line[8192];
    char where[4200];
    int in_match = 1, lineno = 0, rc = 0;
    if (f == NULL) {
        if (must_exist) {
            fprintf(stderr, "Can't open user config file %s\n", path);
            return -1;
        }
        return 0;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        snprintf(where, sizeof(where), "%s line %d", path, lineno);
        if (opts_line(o, line, host, &in_match, where, depth) != 0) {
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}

int ferry_opts_file(ferry_opts *o, const char *path, const char *host, int must_exist)
{
    return opts_file(o, path, host, must_exist, 0);
}

static const char *home_dir(void)
{
    const char *h = getenv("HOME");
    struct passwd *pw;
    if (h != NULL && h[0] != '\0') {
        return h;
    }
    pw = getpwuid(getuid());
    return pw ? pw->pw_dir : "/";
}

char *ferry_opts_expand_tokens(const char *s, const ferry_token *t)
{
    size_t len = 0;
    char *out = NULL;
    for (int fill = 0; fill < 2; fill++) { /* measure, then copy */
        size_t j = 0;
        for (const char *p = s; *p != '\0'; p++) {
            const char *ins = NULL;
            for (size_t i = 0; p[0] == '%' && p[1] != '\0' && t[i].key != '\0' && ins == NULL;
                 i++) {
                ins = t[i].key == p[1] ? (t[i].value != NULL ? t[i].value : "") : NULL;
            }
            ins = ins == NULL && p[0] == '%' && p[1] == '%' ? "%" : ins;
            size_t n = ins != NULL ? strlen(ins) : 1;
            if (fill) {
                memcpy(out + j, ins != NULL ? ins : p, n);
            }
            j += n;
            p += ins != NULL;
        }
        if (!fill && (out = malloc((len = j) + 1)) == NULL) {
            return NULL;
        }
    }
    out[len] = '\0';
    return out;
}

char *ferry_opts_expand_path(const char *path, const char *host, const char *user)
{
    const ferry_token t[] = {{'d', home_dir()}, {'u', user}, {'h', host}, {'\0', NULL}};
    int tilde = path[0] == '~' && (path[1] == '/' || path[1] == '\0');
    char *rest = ferry_opts_expand_tokens(path + tilde, t);
    if (rest == NULL || !tilde) {
        return rest;
    }
    char *o = malloc(strlen(home_dir()) + strlen(rest) + 1);
    if (o != NULL) {
        sprintf(o, "%s%s", home_dir(), rest);
    }
    free(rest);
    return o;
}

void ferry_opts_defaults(ferry_opts *o, const char *host)
{
    if (o->hostname == NULL) {
        o->hostname = strdup(host);
    }
    if (o->port == -1) {
        o->port = 22;
    }
    if (o->user == NULL) {
        struct passwd *pw = getpwuid(getuid());
        const char *u = pw ? pw->pw_name : getenv("USER");
        o->user = strdup(u ? u : "root");
    }
    if (o->strict == FERRY_STRICT_UNSET) {
        o->strict = FERRY_STRICT_ASK;
    }
    o->batch_mode = o->batch_mode == -1 ? 0 : o->batch_mode;
    o->identities_only = o->identities_only == -1 ? 0 : o->identities_only;
    o->pubkey_auth = o->pubkey_auth == -1 ? 1 : o->pubkey_auth;
    o->password_auth = o->password_auth == -1 ? 1 : o->password_auth;
    o->password_prompts = o->password_prompts == -1 ? 3 : o->password_prompts;
    o->connection_attempts = o->connection_attempts < 1 ? 1 : o->connection_attempts;
    o->kbdint_auth = o->kbdint_auth == -1 ? 1 : o->kbdint_auth;
    o->alive_interval = o->alive_interval == -1 ? 0 : o->alive_interval;
    o->compression = o->compression == 1;
    o->alive_count = o->alive_count == -1 ? 3 : o->alive_count;
    o->connect_timeout = o->connect_timeout == -1 ? 0 : o->connect_timeout;
    o->address_family = o->address_family == -1 ? AF_UNSPEC : o->address_family;
    o->hash_known_hosts = o->hash_known_hosts == -1 ? 0 : o->hash_known_hosts;
    o->reconnect = o->reconnect == -1 ? 1 : o->reconnect;
    o->reconnect_attempts = o->reconnect_attempts == -1 ? 5 : o->reconnect_attempts;
    o->reconnect_delay_ms = o->reconnect_delay_ms == -1 ? 1000 : o->reconnect_delay_ms;
    o->verify_transfers = o->verify_transfers == -1 ? 1 : o->verify_transfers;
    if (o->known_hosts == NULL) {
        o->known_hosts = strdup("~/.ssh/known_hosts");
    }
}
