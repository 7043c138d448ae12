/* main.c: ferry, an SFTP client with OpenSSH sftp's command line. */
#include "ferry.h"
#include "cmds_int.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/cipher.h"
#include "crypto/kexalg.h"
#include "crypto/key.h"
#include "util/err.h"
#include "util/log.h"
#include "util/names.h"

/* -Q: prints the supported algorithms of one kind, one a line. */
static int query(const char *what)
{
    const char *list = strcmp(what, "cipher") == 0 ? ferry_cipher_supported()
                       : strcmp(what, "mac") == 0  ? ferry_mac_supported()
                       : strcmp(what, "kex") == 0  ? ferry_kexalg_supported()
                       : strcmp(what, "key") == 0  ? ferry_sigalg_supported()
                                                   : NULL;
    if (list == NULL) {
        fprintf(stderr, "Unsupported query \"%s\"\n", what);
        return 1;
    }
    for (const char *cur = list, *name = NULL; *cur != '\0';) {
        size_t n = ferry_names_next(&cur, &name);
        printf("%.*s\n", (int)n, name);
    }
    return 0;
}

/* -F's file, or the user's and the system's. */
static int read_config_files(ferry_opts *o, const ferry_args *a)
{
    const char *host = a->dest.host;
    int rc = 0;
    if (a->config_file != NULL) {
        if (strcasecmp(a->config_file, "none") != 0 &&
            ferry_opts_file(o, a->config_file, host, 1) != 0) {
            rc = -1;
        }
    } else {
        char *user_cfg = ferry_opts_expand_path("~/.ssh/config", host, "");
        if (user_cfg != NULL && ferry_opts_file(o, user_cfg, host, 0) != 0) {
            rc = -1;
        }
        free(user_cfg);
        (void)ferry_opts_file(o, "/etc/ssh/ssh_config", host, 0);
    }
    return rc;
}

/* Command line first, then the user's and the system's files: the first
 * value obtained for an option wins. */
static int load_options(ferry_opts *o, const ferry_args *a)
{
    const char *host = a->dest.host;
    int in_match = 1, rc = 0;
    for (size_t i = 0; i < a->n_identities; i++) {
        if (o->n_identity_files < FERRY_MAX_IDENTITY_FILES) {
            o->identity_files[o->n_identity_files++] = strdup(a->identities[i]);
        }
    }
    if (a->dest.user != NULL) {
        o->user = strdup(a->dest.user);
    }
    o->port = a->port > 0 ? a->port : a->dest.port;
    if (a->batchfile != NULL) {
        o->batch_mode = 1; /* -b implies BatchMode=yes, as OpenSSH's sftp */
    }
    if (a->compress) {
        o->compression = 1; /* -C: Compression=yes, before any -o or file */
    }
    for (size_t i = 0; i < a->n_cli_options; i++) {
        in_match = 1;
        if (ferry_opts_line(o, a->cli_options[i], host, &in_match, "command-line") != 0) {
            rc = -1;
        }
    }
    if (read_config_files(o, a) != 0) {
        rc = -1;
    }
    if (o->saw_final) { /* Match final: a second pass, as OpenSSH */
        o->final_pass = 1;
        if (read_config_files(o, a) != 0) {
            rc = -1;
        }
    }
    ferry_opts_defaults(o, host);
    o->verbose = a->verbose;
    o->quiet = a->quiet;
    if (a->subsystem != NULL && (o->subsystem = strdup(a->subsystem)) == NULL) {
        rc = -1;
    }
    if (a->config_file != NULL && (o->config_file = strdup(a->config_file)) == NULL) {
        rc = -1;
    }
    if (o->hostname != NULL && strstr(o->hostname, "%h") != NULL) {
        char *h = ferry_opts_expand_path(o->hostname, host, o->user);
        free(o->hostname);
        o->hostname = h;
    }
    return rc;
}

/* "ferry host:file [local]": fetch and exit. */
static int fetch_mode(ferry_client *cl, const char *path, const char *local)
{
    char *argv[4] = {"get", (char *)path, (char *)local, NULL};
    return ferry_cmd_dispatch(cl, local ? 3 : 2, argv, NULL) == 0 ? 0 : 1;
}

static int start_dir(ferry_client *cl, const char *path, int *fetch)
{
    char *abs, *real = NULL;
    *fetch = 0;
    if ((ferry_sftpc_home(cl->sftp, &cl->home)) != FERRY_OK) {
        fprintf(stderr, "Need cwd\n");
        return -1;
    }
    cl->pwd = strdup(cl->home);
    if (cl->pwd == NULL) {
        return -1;
    }
    if (path == NULL) {
        return 0;
    }
    abs = ferry_path_abs(cl, path);
    if (abs != NULL && ferry__cmd_is_dir(cl, abs) &&
        ferry_sftpc_realpath(cl->sftp, abs, &real) == FERRY_OK) {
        free(cl->pwd);
        cl->pwd = real;
    } else {
        *fetch = 1;
    }
    free(abs);
    return 0;
}

static int run_session(ferry_client *cl, const ferry_args *a)
{
    int fetch = 0, rc;
    if (ferry_sftpc_init(cl->sftp) != FERRY_OK) {
        fprintf(stderr, "Connection closed\n");
        return 1;
    }
    if (start_dir(cl, a->dest.path, &fetch) != 0) {
        return 1;
    }
    if (fetch) {
        return fetch_mode(cl, a->dest.path, a->local);
    }
    if (a->batchfile != NULL) {
        FILE *fp = strcmp(a->batchfile, "-") == 0 ? stdin : fopen(a->batchfile, "r");
        if (fp == NULL) {
            fprintf(stderr, "Couldn't open batch file \"%s\"\n", a->batchfile);
            return 1;
        }
        rc = ferry_shell_batch(cl, fp);
        if (fp != stdin) {
            fclose(fp);
        }
        return rc;
    }
    if (!cl->quiet) {
        if (a->sftp_server != NULL) {
            fprintf(stderr, "Attached to %s.\n", a->sftp_server);
        } else {
            fprintf(stderr, "Connected to %s.\n", a->dest.host);
        }
    }
    return ferry_shell_interactive(cl);
}

static int redial(void *ctx)
{
    return ferry_conn_redial(ctx);
}

int main(int argc, char **argv)
{
    ferry_args a;
    ferry_opts o;
    ferry_conn *conn = NULL;
    ferry_client cl = {.out = stdout};
    int rc = 1;

    signal(SIGPIPE, SIG_IGN);
    ferry_log_set_ident("ferry");
    ferry_opts_init(&o);
    if (ferry_args_parse(&a, argc, argv) != 0) {
        ferry_args_free(&a);
        return 1;
    }
    if (a.query != NULL) {
        rc = query(a.query);
        ferry_args_free(&a);
        return rc;
    }
    ferry_log_set_level(a.verbose ? FERRY_LOG_INFO + a.verbose : FERRY_LOG_WARN);
    ferry_sftpc_config scfg = {.max_inflight = a.num_requests, .io_size = a.buffer_size};
    cl.quiet = a.quiet;
    cl.progress = !a.quiet && a.batchfile == NULL && isatty(STDOUT_FILENO);
    cl.preserve = a.preserve;
    cl.recursive = a.recursive;
    cl.fsync_ = a.fsync_;
    cl.resume = a.resume;
    cl.limit_kbps = a.limit_kbps;
    cl.batch = a.batchfile != NULL;
    cl.umask_ = umask(022);
    umask(cl.umask_);
    if (a.sftp_server != NULL) {
        if (ferry_conn_open_pipe(&conn, a.sftp_server, &cl.sftp, &scfg) != FERRY_OK) {
            goto out;
        }
    } else if (a.ssh_program != NULL) { /* -S: the program's SSH, our SFTP */
        if (ferry_conn_open_program(&conn, &a, &cl.sftp, &scfg) != FERRY_OK) {
            goto out;
        }
        cl.rs.redial = redial; /* runs the program again */
        cl.rs.redial_ctx = conn;
    } else {
        if (load_options(&o, &a) != 0 && o.hostname == NULL) {
            goto out;
        }
        if (a.verbose == 0 && o.log_level >= 0) {
            ferry_log_set_level(o.log_level); /* LogLevel; -v wins */
        }
        if (a.forward != NULL) { /* -W: no SFTP, a relay */
            rc = ferry_conn_forward(&o, a.dest.host, a.forward);
            goto out;
        }
        if (ferry_conn_open(&conn, &o, a.dest.host, &cl.sftp, &scfg) != FERRY_OK) {
            goto out;
        }
        cl.rs.redial = redial;
        cl.rs.redial_ctx = conn;
        cl.conn = conn;
    }
    cl.rs.reconnect = o.reconnect != 0;
    cl.rs.attempts = o.reconnect_attempts >= 0 ? o.reconnect_attempts : 5;
    cl.rs.delay_ms = o.reconnect_delay_ms >= 0 ? o.reconnect_delay_ms : 1000;
    cl.rs.verify = o.verify_transfers != 0;
    rc = run_session(&cl, &a) == 0 ? 0 : 1;
    if (cl.sftp != NULL && (a.sftp_server != NULL || a.ssh_program != NULL)) {
        /* a server on our pipes (-D, or -S's ssh) is not cut off while it
         * still answers (a listing's read-ahead, a CLOSE not waited for);
         * over ferry's own SSH the channel's close lets the server drop
         * late replies itself, and waiting would cost a round trip */
        (void)ferry_sftpc_drain(cl.sftp);
    }
out:
    ferry_conn_close(conn);
    free(cl.pwd);
    free(cl.home);
    ferry_opts_free(&o);
    ferry_args_free(&a);
    return rc;
}
