/* conn_int.h: the connection object shared by conn.c, ident.c and
 * pipe.c. */
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
    char *algs[4];
    int batch_mode;
    int reported;
    uint64_t last_rx, last_tx, alive_ms; /* ServerAlive*: silence since both */
    /* identities: agent keys first, then key files */
    ferry_agent *agent;
    ferry_identity *ids;
    size_t n_ids;
    ferry__keyfile **keyfiles;
    size_t n_keyfiles;
    /* -D: a local server on pipes */
    int pipe_in, pipe_out;
    pid_t child;
    /* reconnecting (ferry_conn_redial): the first connection's host key,
     * the answers typed this run (wiped at close), no prompts then */
    ferry_key *pinned;
    struct ferry__answer {
        char *prompt, *answer;
    } * answers;
    size_t n_answers;
    int redialing;
};

uint64_t ferry__conn_now_ms(void);
/* Connects by TCP; returns the socket or -1 (message printed). */
int ferry__conn_tcp(const char *host, int port, int timeout_s, char *ip, size_t ipsz);
/* One round of the poll loop. */
int ferry__conn_step(ferry_conn *c);
/* Collects agent and key-file identities into c->ids. */
int ferry__conn_identities(ferry_conn *c, const ferry_opts *o);
/* From now on a key file still locked is skipped, not asked for (a
 * reconnect never prompts; unlocked keys stay usable). */
void ferry__conn_identities_noprompt(ferry_conn *c);
void ferry__conn_identities_free(ferry_conn *c);
/* Closes the pipes and reaps the -D child, if any. */
void ferry__conn_pipe_close(ferry_conn *c);

#endif
