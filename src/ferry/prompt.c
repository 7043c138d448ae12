/* prompt.c: asking the user for secrets and answers: on /dev/tty with
 * echo switched off, or through $SSH_ASKPASS following OpenSSH's
 * SSH_ASKPASS_REQUIRE (never / prefer / force; otherwise askpass is used
 * when there is no terminal and $DISPLAY is set). */
#include "ferry.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

int ferry_prompt_have_tty(void)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    close(fd);
    return 1;
}

static void strip_nl(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r')) {
        s[--n] = '\0';
    }
}

static int read_line_fd(int fd, char *out, size_t outsz)
{
    size_t j = 0;
    for (;;) {
        char ch;
        ssize_t n = read(fd, &ch, 1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (j == 0) {
                return -1;
            }
            break;
        }
        if (ch == '\n' || ch == '\r') {
            break;
        }
        if (j + 1 < outsz) {
            out[j++] = ch;
        }
    }
    out[j] = '\0';
    return 0;
}

static int tty_prompt(const char *prompt, int echo, char *out, size_t outsz)
{
    struct termios old, raw;
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    int have_term, r;
    if (fd < 0) {
        return -1;
    }
    have_term = tcgetattr(fd, &old) == 0;
    if (have_term && !echo) {
        raw = old;
        raw.c_lflag &= ~(tcflag_t)ECHO;
        raw.c_lflag |= ECHONL;
        (void)tcsetattr(fd, TCSAFLUSH, &raw);
    }
    if (write(fd, prompt, strlen(prompt)) < 0) {
        /* the answer can still be read */
    }
    r = read_line_fd(fd, out, outsz);
    if (have_term && !echo) {
        (void)tcsetattr(fd, TCSAFLUSH, &old);
    }
    close(fd);
    return r;
}

static int askpass_prompt(const char *askpass, const char *prompt, char *out, size_t outsz)
{
    int p[2], status;
    pid_t pid;
    if (pipe(p) != 0) {
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(p[1], STDOUT_FILENO);
        close(p[0]);
        close(p[1]);
        execlp(askpass, askpass, prompt, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    int r = read_line_fd(p[0], out, outsz);
    close(p[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (r != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        OPENSSL_cleanse(out, outsz);
        return -1;
    }
    strip_nl(out);
    return 0;
}

int ferry_prompt(const char *prompt, int echo, char *out, size_t outsz)
{
    const char *askpass = getenv("SSH_ASKPASS");
    const char *req = getenv("SSH_ASKPASS_REQUIRE");
    int tty = ferry_prompt_have_tty();
    int use_askpass = 0;

    if (outsz == 0) {
        return -1;
    }
    out[0] = '\0';
    if (askpass != NULL && askpass[0] != '\0') {
        if (req != NULL && strcmp(req, "force") == 0) {
            use_askpass = 1;
        } else if (req != NULL && strcmp(req, "never") == 0) {
            use_askpass = 0;
        } else if (req != NULL && strcmp(req, "prefer") == 0) {
            use_askpass = 1;
        } else {
            use_askpass = !tty && getenv("DISPLAY") != NULL;
        }
    }
    if (use_askpass) {
        return askpass_prompt(askpass, prompt, out, outsz);
    }
    if (!tty) {
        return -1;
    }
    return tty_prompt(prompt, echo, out, outsz);
}
