/* shell.h: running tools (ssh-keygen, ...) from unit tests that check our
 * code against them (built into every unit test with the other helpers). */
#ifndef FERRY_TESTS_SHELL_H
#define FERRY_TESTS_SHELL_H

#include "crypto/key.h"

/* Runs a shell command (printf-style, at most 2 KiB); returns its stdout
 * (heap, at most 64 KiB, trailing newlines cut) or NULL if it could not
 * run or exited non-zero. */
char *th_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The public key in DIR/NAME.pub, or NULL. */
ferry_key *th_load_pub(const char *dir, const char *name);

#endif
