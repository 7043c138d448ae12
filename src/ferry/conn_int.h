/* conn_int.h: the connection object shared by conn.c, ident.c, pipe.c
 * and proxy.c. */
#ifndef FERRY_CLIENT_CONN_INT_H
#define FERRY_CLIENT_CONN_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "ferry.h"
#include "ssh/agent.h"
#include "ssh/ssh.h"

typedef struct ferry__keyfile ferry__keyfile;

struct ferry_conn {
    int fd;
    ferry_ssh *ssh;
    ferry_channel *ch;
    int ch_state; /* 0 opening, 1 open, -1 failed or closed */
    ferry_sftpc *sftp;
    ferry_hostcheck hc;
    char ip[64];
    /* Ciphers, MACs, KexAlgorithms, HostKeyAlgorithms, PubkeyAcceptedAlgorithms,
     * CASignatureAlgorithms */
    char *algs[6];
    int batch_mode;
    int reported;
    uint64_t last_rx, last_tx, alive_ms; /* ServerAlive*: silence since both */
    /* identities: agent keys first, then key files */
    ferry_agent *agent;
    ferry_identity *ids;
    size_t n_ids;
    ferry__keyfile **keyfiles;
    size_t n_keyfiles;
    struct ferry__certfile *certs; /* CertificateFile and KEY-cert.pub */
    size_t n_certs;
    /* -D: a local server on pipes */
    int pipe_in, pipe_out;
    pid_t child;
    char *pipe_cmd; /* -S: the command line, run again to reconnect */
    /* reconnecting (ferry_conn_redial): the first connection's host key,
     * the answers typed this run (wiped at close), no prompts then */
    ferry_key *pinned;
    struct ferry__answer {
        char *prompt, *answer;
    } * answers;
    size_t n_answers;
    int redialing;
    /* ProxyCommand / ProxyJump: the program at the other end of c->fd */
    pid_t proxy;
    /* -W: the channel's data waits for stdout; stdin reached its end */
    int out_blocked, in_eof;
};

uint64_t ferry__conn_now_ms(void);
/* Connects by TCP (AddressFamily, BindAddress, ConnectTimeout of `o`);
 * returns the socket or -1 (message printed). */
int ferry__conn_tcp(const char *host, int port, const ferry_opts *o, char *ip, size_t ipsz);
/* Connects as the options say: by TCP (c->ip set), or to a ProxyCommand
 * or a ProxyJump hop (this program with -W) on a socket pair (c->proxy
 * set, c->ip empty). Returns the descriptor or -1 (message printed). */
int ferry__conn_dial(ferry_conn *c, const ferry_opts *o);
/* Ends and reaps the proxy program, if any. */
void ferry__conn_proxy_end(ferry_conn *c);
/* Reaps child `pid` whose input was closed: waits 0.1 s, then SIGTERM,
 * at 0.5 s SIGKILL. */
void ferry__conn_reap(pid_t pid);
/* Forks argv (argv[0] a path) with its stdin on `in` and stdout on `out`,
 * SIGINT ignored (Ctrl-C is for ferry's transfer); the pid or -1 (message
 * printed). The caller closes its copies of in and out. */
pid_t ferry__spawn(char *const argv[], int in, int out);
/* -S: runs the program again on new pipes and starts SFTP over them. */
int ferry__conn_pipe_redial(ferry_conn *c);
/* Everything up to the SSH session started on a new connection: the
 * algorithms, identities, the dial, our KEXINIT. */
int ferry__conn_begin(ferry_conn **out, const ferry_opts *o, const char *host);
/* "Authenticated to ..." under -v. */
void ferry__conn_report_auth(ferry_conn *c, const ferry_opts *o);
/* One round of the poll loop. */
int ferry__conn_step(ferry_conn *c);
/* The same, also waiting for x[0..nx) (at most FERRY__CONN_POLL_MAX;
 * their revents are set); *signalled (if not NULL) tells whether a
 * signal broke the wait. */
#define FERRY__CONN_POLL_MAX 4
struct pollfd;
int ferry__conn_poll(ferry_conn *c, struct pollfd *x, size_t nx, int *signalled);
/* Collects agent and key-file identities into c->ids. */
int ferry__conn_identities(ferry_conn *c, const ferry_opts *o);
/* From now on a key file still locked is skipped, not asked for (a
 * reconnect never prompts; unlocked keys stay usable). */
void ferry__conn_identities_noprompt(ferry_conn *c);
void ferry__conn_identities_free(ferry_conn *c);
/* Closes the pipes and reaps the -D child, if any. */
void ferry__conn_pipe_close(ferry_conn *c);

#endif
