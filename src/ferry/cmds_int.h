/* cmds_int.h: shared between the command files (cmds.c, ls.c, xfer.c). */
#ifndef FERRY_CLIENT_CMDS_INT_H
#define FERRY_CLIENT_CMDS_INT_H

#include "ferry.h"

/* How a command meets a lost connection (Reconnect=yes): CMD_REMOTE
 * needs the server, so a connection found lost before it runs is rebuilt
 * first (transfers resume by themselves after that); CMD_AFTER rebuilds
 * it after the command failed by losing it, so the session goes on;
 * CMD_REPEAT then runs the command again (it changes nothing, or
 * setting the same thing twice is the same). */
enum { CMD_LOCAL = 0, CMD_REMOTE = 1, CMD_AFTER = 2, CMD_REPEAT = 4 };

typedef struct ferry__cmd {
    const char *name;
    int (*fn)(ferry_client *cl, int argc, char **argv);
    const char *help;
    unsigned how; /* CMD_* */
} ferry__cmd;

/* Prints "<what> \"path\": <server message or error>" on stderr. */
void ferry__cmd_err(ferry_client *cl, const char *what, const char *path, int rc);
/* Parses leading -flags from argv[1..]; bit i of *flags is allowed[i].
 * *first is the first operand. -1 (message printed) on an unknown flag. */
int ferry__cmd_flags(int argc, char **argv, const char *allowed, unsigned *flags, int *first);
/* Non-zero if the remote absolute path is a directory (following links). */
int ferry__cmd_is_dir(ferry_client *cl, const char *abs);
/* STAT of abs, with (with_dir) an OPENDIR behind it in the same flight —
 * it fails on anything but a directory, changing nothing. Returns the
 * STAT's result (attributes in *a); *did is the OPENDIR's request when
 * the STAT found a directory, else 0 (its answer taken, a handle it
 * brought closed). */
int ferry__cmd_stat_dir(ferry_client *cl, const char *abs, int with_dir, ferry_sftp_attrs *a,
                        uint32_t *did);
/* Remote glob that reports "not found" for no match; count or -1. */
int ferry__cmd_glob(ferry_client *cl, const char *pat, char ***v);
int ferry__cmd_term_cols(void);
void ferry__cmd_print_df(ferry_client *cl, const ferry_sftpc_vfsinfo *st, unsigned flags);

int ferry__cmd_ls(ferry_client *cl, int argc, char **argv);
int ferry__cmd_get(ferry_client *cl, int argc, char **argv);
int ferry__cmd_put(ferry_client *cl, int argc, char **argv);
int ferry__cmd_copy(ferry_client *cl, int argc, char **argv);

#endif
