/* Tests of the ferry program's parsers and shell: destinations, the
 * ssh_config subset, batch prefixes, word splitting, ls -n formatting,
 * escaping, and (when OpenSSH's sftp-server is installed) globbing and
 * batch mode end to end over -D pipes. */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/ferry/args.c"
#include "../../src/ferry/cmds.c"
#include "../../src/ferry/fmt.c"
#include "../../src/ferry/glob.c"
#include "../../src/ferry/hostkey.c"
#include "../../src/ferry/ident.c"
#include "../../src/ferry/ls.c"
#include "../../src/ferry/pipe.c"
#include "../../src/ferry/progress.c"
#include "../../src/ferry/resume.c"
#include "../../src/ferry/prompt.c"
#include "../../src/ferry/shell.c"
#include "../../src/ferry/sshconf.c"
#include "../../src/ferry/xfer.c"

#define SFTP_SERVER "/usr/lib/openssh/sftp-server"

/* conn.c (the SSH driver) is not linked here: -D sessions wait on the
 * descriptor alone (shell.c's !command and lls). */
int ferry_conn_wait_input(ferry_conn *c, int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    (void)c;
    return poll(&p, 1, -1) < 0 ? -1 : 0;
}

/* pipe.c needs this. */
void ferry_conn_close(ferry_conn *c)
{
    if (c == NULL) {
        return;
    }
    ferry_sftpc_free(c->sftp);
    ferry__conn_pipe_close(c);
    free(c);
}

static void dest_ok(const char *s, const char *user, const char *host, int port, const char *path)
{
    ferry_dest d;
    assert_int_equal(ferry_dest_parse(s, &d), 0);
    if (user) {
        assert_non_null(d.user);
        assert_string_equal(d.user, user);
    } else {
        assert_null(d.user);
    }
    assert_string_equal(d.host, host);
    assert_int_equal(d.port, port);
    if (path) {
        assert_non_null(d.path);
        assert_string_equal(d.path, path);
    } else {
        assert_null(d.path);
    }
    ferry_dest_free(&d);
}

static void test_destinations(void **state)
{
    (void)state;
    dest_ok("host", NULL, "host", -1, NULL);
    dest_ok("alice@host", "alice", "host", -1, NULL);
    dest_ok("alice@host:dir/file", "alice", "host", -1, "dir/file");
    dest_ok("host:", NULL, "host", -1, NULL);
    dest_ok("a@b@host:/x", "a@b", "host", -1, "/x");
    dest_ok("[::1]:/tmp", NULL, "::1", -1, "/tmp");
    dest_ok("bob@[fe80::1]", "bob", "fe80::1", -1, NULL);
    dest_ok("sftp://host", NULL, "host", -1, NULL);
    dest_ok("sftp://alice@host:2222/dir/f", "alice", "host", 2222, "dir/f");
    dest_ok("sftp://alice;fingerprint=x@host/", "alice", "host", -1, NULL);
    dest_ok("SFTP://[::1]:22//abs%20path", NULL, "::1", 22, "/abs path");
    dest_ok("sftp://us%40er@h", "us@er", "h", -1, NULL);

    const char *bad[] = {"",
                         "@host",
                         "[::1",
                         "sftp://host:0/",
                         "sftp://host:99999",
                         "sftp://host:x",
                         "sftp://h/%zz",
                         "sftp://h/a%00b",
                         "[::1]x",
                         NULL};
    for (int i = 0; bad[i] != NULL; i++) {
        ferry_dest d;
        assert_int_equal(ferry_dest_parse(bad[i], &d), -1);
    }
}

static void test_args(void **state)
{
    (void)state;
    ferry_args a;
    char *argv[] = {"ferry", "-q",     "-P", "2222", "-B", "65536", "-R",     "16",
                    "-o",    "User=x", "-i", "/k",   "-b", "-",     "u@h:/p", NULL};
    assert_int_equal(ferry_args_parse(&a, 15, argv), 0);
    assert_int_equal(a.port, 2222);
    assert_int_equal(a.buffer_size, 65536);
    assert_int_equal(a.num_requests, 16);
    assert_int_equal(a.n_cli_options, 1);
    assert_string_equal(a.cli_options[0], "User=x");
    assert_string_equal(a.identities[0], "/k");
    assert_string_equal(a.batchfile, "-");
    assert_string_equal(a.dest.host, "h");
    assert_string_equal(a.dest.path, "/p");
    ferry_args_free(&a);

    char *bad1[] = {"ferry", "-P", "0", "h", NULL};
    assert_int_equal(ferry_args_parse(&a, 4, bad1), -1);
    ferry_args_free(&a);
    char *bad2[] = {"ferry", "-B", "999999999", "h", NULL};
    assert_int_equal(ferry_args_parse(&a, 4, bad2), -1);
    ferry_args_free(&a);
    char *bad3[] = {"ferry", NULL};
    assert_int_equal(ferry_args_parse(&a, 1, bad3), -1);
    ferry_args_free(&a);

    /* sftp's -X nrequests= / buffer= and -s subsystem take arguments */
    char *xs[] = {"ferry", "-X",   "nrequests=16", "-X",           "buffer=65536",
                  "-s",    "sftp", "-S",           "/usr/bin/ssh", "h",
                  NULL};
    assert_int_equal(ferry_args_parse(&a, 10, xs), 0);
    assert_string_equal(a.ssh_program, "/usr/bin/ssh");
    assert_int_equal(a.num_requests, 16);
    assert_int_equal(a.buffer_size, 65536);
    assert_string_equal(a.subsystem, "sftp");
    assert_string_equal(a.dest.host, "h");
    ferry_args_free(&a);
    char *bad4[] = {"ferry", "-X", "frobs=1", "h", NULL};
    assert_int_equal(ferry_args_parse(&a, 4, bad4), -1);
    ferry_args_free(&a);
    /* a server path is taken too (run with "exec"); an empty one not */
    char *path[] = {"ferry", "-s", "/usr/lib/openssh/sftp-server", "h", NULL};
    assert_int_equal(ferry_args_parse(&a, 4, path), 0);
    assert_string_equal(a.subsystem, "/usr/lib/openssh/sftp-server");
    ferry_args_free(&a);
    char *bad5[] = {"ferry", "-s", "", "h", NULL};
    assert_int_equal(ferry_args_parse(&a, 4, bad5), -1);
    ferry_args_free(&a);
    char *bad6[] = {"ferry", "-X", "nrequests=0", "h", NULL};
    assert_int_equal(ferry_args_parse(&a, 4, bad6), -1);
    ferry_args_free(&a);
}

/* -J and -W on the command line; ProxyCommand and ProxyJump: the first
 * of the two wins (OpenSSH's rule), "none" is stored as such (and means
 * a direct connection), a command keeps its spaces and tokens. */
static void test_proxy_options(void **state)
{
    (void)state;
    ferry_args a;
    ferry_opts o;
    int in = 1;
    char *argv[] = {"ferry", "-J", "u@jump:2200,ssh://j2", "-W", "[::1]:22", "h", NULL};
    assert_int_equal(ferry_args_parse(&a, 6, argv), 0);
    assert_int_equal(a.n_cli_options, 1);
    assert_string_equal(a.cli_options[0], "ProxyJump=u@jump:2200,ssh://j2");
    assert_string_equal(a.forward, "[::1]:22");
    ferry_opts_init(&o);
    assert_int_equal(ferry_opts_line(&o, a.cli_options[0], "h", &in, "cli"), 0);
    assert_string_equal(o.proxy_jump, "u@jump:2200,ssh://j2");
    assert_int_equal(ferry_opts_line(&o, "ProxyCommand nc %h %p", "h", &in, "cli"), 0);
    assert_null(o.proxy_command);
    ferry_opts_free(&o);
    ferry_args_free(&a);

    ferry_opts_init(&o);
    assert_int_equal(ferry_opts_line(&o, "ProxyCommand=ssh -W '[%h]:%p' bastion", "h", &in, "cli"),
                     0);
    assert_int_equal(ferry_opts_line(&o, "ProxyJump bastion", "h", &in, "cli"), 0);
    assert_string_equal(o.proxy_command, "ssh -W '[%h]:%p' bastion");
    assert_null(o.proxy_jump);
    ferry_opts_free(&o);

    ferry_opts_init(&o);
    assert_int_equal(ferry_opts_line(&o, "ProxyJump none", "h", &in, "cli"), 0);
    assert_int_equal(ferry_opts_line(&o, "ProxyJump bastion", "h", &in, "cli"), 0);
    assert_string_equal(o.proxy_jump, "none");
    ferry_opts_free(&o);
}

static char *write_tmp(const char *text)
{
    static char path[64];
    strcpy(path, "/tmp/ferry-test-cfg-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

/* Match: host after HostName, originalhost, user, localuser, exec (with
 * tokens, only run while it matters), negation, all; final on the second
 * pass only; canonical never; unknown or incomplete criteria are errors. */
static void test_ssh_match(void **state)
{
    (void)state;
    char flag[] = "/tmp/ferry-match-XXXXXX";
    int fd = mkstemp(flag);
    assert_true(fd >= 0);
    close(fd);
    char cfg[2048];
    snprintf(cfg, sizeof(cfg),
             "Host alias\n"
             "  HostName real.example.com\n"
             "Match host real.example.com originalhost alias\n"
             "  Port 2201\n"
             "Match host alias\n"
             "  User wrong\n"
             "Match !user nobody-here localuser *\n"
             "  ConnectTimeout 7\n"
             "Match exec \"test -f %s && test %%n = alias && test %%h = real.example.com\"\n"
             "  BatchMode yes\n"
             "Match exec false exec \"touch %s.ran\"\n"
             "  Ciphers aes128-ctr\n"
             "Match canonical\n"
             "  MACs hmac-sha2-256\n"
             "Match final host real.example.com\n"
             "  IdentityFile /k/final\n"
             "Match all\n"
             "  IdentityFile /k/all\n",
             flag, flag);
    char *path = write_tmp(cfg);
    char ran[64];
    snprintf(ran, sizeof(ran), "%s.ran", flag);
    ferry_opts o;

    ferry_opts_init(&o);
    assert_int_equal(ferry_opts_file(&o, path, "alias", 1), 0);
    assert_int_equal(o.port, 2201);
    assert_null(o.user);
    assert_int_equal(o.connect_timeout, 7);
    assert_int_equal(o.batch_mode, 1);
    assert_null(o.ciphers);
    assert_int_equal(access(ran, F_OK), -1); /* exec after a failed criterion: not run */
    assert_null(o.macs);
    assert_int_equal(o.saw_final, 1);
    assert_int_equal(o.n_identity_files, 1);
    assert_string_equal(o.identity_files[0], "/k/all");
    o.final_pass = 1; /* what load_options does when saw_final */
    assert_int_equal(ferry_opts_file(&o, path, "alias", 1), 0);
    assert_int_equal(o.n_identity_files, 2); /* /k/all not added twice */
    assert_string_equal(o.identity_files[1], "/k/final");
    ferry_opts_free(&o);

    /* another host: the host blocks and exec's test of %n fail */
    ferry_opts_init(&o);
    assert_int_equal(ferry_opts_file(&o, path, "other", 1), 0);
    assert_int_equal(o.port, -1);
    assert_int_equal(o.batch_mode, -1);
    ferry_opts_free(&o);
    unlink(path);

    /* the flag file gone: exec fails */
    unlink(flag);
    ferry_opts_init(&o);
    path = write_tmp(cfg);
    assert_int_equal(ferry_opts_file(&o, path, "alias", 1), 0);
    assert_int_equal(o.batch_mode, -1);
    ferry_opts_free(&o);
    unlink(path);

    int in = 1;
    ferry_opts_init(&o);
    assert_int_equal(ferry_opts_line(&o, "Match host", "h", &in, "t"), -1);
    assert_int_equal(ferry_opts_line(&o, "Match", "h", &in, "t"), -1);
    assert_int_equal(ferry_opts_line(&o, "Match frobnicate x", "h", &in, "t"), -1);
    assert_int_equal(in, 0);
    assert_int_equal(ferry_opts_line(&o, "Match !host h", "h", &in, "t"), 0);
    assert_int_equal(in, 0);
    assert_int_equal(ferry_opts_line(&o, "Match host x,h user *", "h", &in, "t"), 0);
    assert_int_equal(in, 1);
    /* OpenSSH 9.4's tagged (the Tag so far) and localnetwork (CIDR lists
     * against the interfaces' addresses: loopback is always there, and
     * an address both admitted and denied is not admitted) */
    assert_int_equal(ferry_opts_line(&o, "Match tagged work", "h", &in, "t"), 0);
    assert_int_equal(in, 0);
    assert_int_equal(ferry_opts_line(&o, "Match !tagged ?*", "h", &in, "t"), 0);
    assert_int_equal(in, 1);
    in = 1;
    assert_int_equal(ferry_opts_line(&o, "Tag work", "h", &in, "t"), 0);
    assert_int_equal(ferry_opts_line(&o, "Match tagged w*", "h", &in, "t"), 0);
    assert_int_equal(in, 1);
    assert_int_equal(ferry_opts_line(&o, "Match tagged home", "h", &in, "t"), 0);
    assert_int_equal(in, 0);
    assert_int_equal(ferry_opts_line(&o, "Match localnetwork 127.0.0.0/8", "h", &in, "t"), 0);
    assert_int_equal(in, 1);
    assert_int_equal(
        ferry_opts_line(&o, "Match localnetwork 127.0.0.1/32,!127.0.0.0/8", "h", &in, "t"), 0);
    assert_int_equal(in, 0);
    assert_int_equal(ferry_opts_line(&o, "Match localnetwork", "h", &in, "t"), -1);
    ferry_opts_free(&o);
}

/* Keywords that mean something to ssh(1) sessions only (forwarding,
 * terminals, local commands) are taken silently, as sftp's ssh takes
 * them; an unknown one is warned about. */
static void test_ssh_config_session_keywords(void **state)
{
    (void)state;
    static const char *const quiet[] = {"LocalForward 8080 localhost:80",
                                        "RemoteForward 9000 localhost:9000",
                                        "DynamicForward 1080",
                                        "ExitOnForwardFailure yes",
                                        "ForwardX11Trusted yes",
                                        "PermitLocalCommand no",
                                        "LocalCommand echo hi",
                                        "RemoteCommand tmux",
                                        "EscapeChar ~",
                                        "IPQoS lowdelay throughput",
                                        "VerifyHostKeyDNS ask",
                                        "UseKeychain yes",
                                        "GSSAPIDelegateCredentials no",
                                        "SessionType default"};
    char path[] = "/tmp/ferry-test-err-XXXXXX", err[4096];
    int fd = mkstemp(path), saved = dup(STDERR_FILENO), in = 1;
    ferry_opts o;
    ferry_opts_init(&o);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    for (size_t i = 0; i < sizeof(quiet) / sizeof(quiet[0]); i++) {
        assert_int_equal(ferry_opts_line(&o, quiet[i], "h", &in, "cfg"), 0);
    }
    fflush(stderr);
    ssize_t quiet_len = lseek(fd, 0, SEEK_END);
    assert_int_equal(ferry_opts_line(&o, "FrobnicateWidgets yes", "h", &in, "cfg"), 0);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    ssize_t n = pread(fd, err, sizeof(err) - 1, 0);
    err[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    assert_int_equal(quiet_len, 0);
    assert_non_null(strstr(err, "unsupported option \"FrobnicateWidgets\" ignored"));
    ferry_opts_free(&o);
}

/* AddressFamily and BindAddress: the first value wins, bad families are
 * refused. */
static void test_ssh_config_address(void **state)
{
    (void)state;
    int in = 1;
    ferry_opts o;
    ferry_opts_init(&o);
    assert_int_equal(ferry_opts_line(&o, "AddressFamily ipv7", "h", &in, "cfg"), -1);
    assert_int_equal(ferry_opts_line(&o, "AddressFamily inet6", "h", &in, "cfg"), 0);
    assert_int_equal(ferry_opts_line(&o, "AddressFamily inet", "h", &in, "cfg"), 0);
    assert_int_equal(ferry_opts_line(&o, "BindAddress ::1", "h", &in, "cfg"), 0);
    ferry_opts_defaults(&o, "h");
    assert_int_equal(o.address_family, AF_INET6);
    assert_string_equal(o.bind_address, "::1");
    ferry_opts_free(&o);
    ferry_opts_init(&o);
    assert_int_equal(ferry_opts_line(&o, "AddressFamily any", "h", &in, "cfg"), 0);
    ferry_opts_defaults(&o, "h");
    assert_int_equal(o.address_family, AF_UNSPEC);
    assert_null(o.bind_address);
    ferry_opts_free(&o);
    ferry_opts_init(&o);
    ferry_opts_defaults(&o, "h");
    assert_int_equal(o.address_family, AF_UNSPEC);
    ferry_opts_free(&o);
}

static void test_ssh_config(void **state)
{
    (void)state;
    const char *cfg = "# comment\n"
                      "Host *.example.com !bad.example.com\n"
                      "  User first\n"
                      "  Port 2200\n"
                      "  IdentityFile ~/.ssh/a\n"
                      "Host web.example.com\n"
                      "  User second\n"
                      "  HostName 10.0.0.1\n"
                      "  IdentityFile=/k/b\n"
                      "  StrictHostKeyChecking accept-new\n"
                      "  FrobnicateWidgets yes\n"
                      "Host *\n"
                      "  Port 22\n"
                      "  BatchMode yes\n"
                      "  PreferredAuthentications keyboard-interactive,password\n"
                      "  RekeyLimit 64M 10m\n"
                      "  LogLevel DEBUG2\n"
                      "  ConnectionAttempts 3\n"
                      "  NumberOfPasswordPrompts 1\n"
                      "  Ciphers \"aes128-ctr\"\n";
    char *path = write_tmp(cfg);
    ferry_opts o;

    ferry_opts_init(&o);
    int in = 1;
    /* -o comes first and wins over the file */
    assert_int_equal(ferry_opts_line(&o, "Port=7777", "web.example.com", &in, "cli"), 0);
    assert_int_equal(ferry_opts_file(&o, path, "web.example.com", 1), 0);
    assert_string_equal(o.user, "first");
    assert_int_equal(o.port, 7777);
    assert_string_equal(o.hostname, "10.0.0.1");
    assert_int_equal(o.n_identity_files, 2);
    assert_string_equal(o.identity_files[0], "~/.ssh/a");
    assert_string_equal(o.identity_files[1], "/k/b");
    assert_int_equal(o.strict, FERRY_STRICT_ACCEPT_NEW);
    assert_int_equal(o.batch_mode, 1);
    assert_string_equal(o.ciphers, "aes128-ctr");
    assert_string_equal(o.auth_order, "keyboard-interactive,password");
    assert_true(o.rekey_set && o.rekey_bytes == 64ull << 20 && o.rekey_seconds == 600);
    assert_int_equal(o.log_level, FERRY_LOG_TRACE);
    assert_int_equal(o.connection_attempts, 3);
    assert_int_equal(o.password_prompts, 1);
    ferry_opts_free(&o);

    /* negation vetoes the block */
    ferry_opts_init(&o);
    assert_int_equal(ferry_opts_file(&o, path, "bad.example.com", 1), 0);
    assert_null(o.user);
    assert_int_equal(o.port, 22);
    ferry_opts_defaults(&o, "bad.example.com");
    assert_string_equal(o.hostname, "bad.example.com");
    assert_int_equal(o.strict, FERRY_STRICT_ASK);
    assert_string_equal(o.known_hosts, "~/.ssh/known_hosts");
    ferry_opts_free(&o);
    unlink(path);

    /* bad values are errors; missing file only if required */
    ferry_opts_init(&o);
    in = 1;
    assert_int_equal(ferry_opts_line(&o, "Port 0", "h", &in, "cli"), -1);
    assert_int_equal(ferry_opts_line(&o, "BatchMode maybe", "h", &in, "cli"), -1);
    assert_int_equal(ferry_opts_line(&o, "StrictHostKeyChecking sometimes", "h", &in, "cli"), -1);
    assert_int_equal(ferry_opts_line(&o, "RekeyLimit 1Q", "h", &in, "cli"), -1);
    assert_int_equal(ferry_opts_line(&o, "RekeyLimit 1M 2x", "h", &in, "cli"), -1);
    assert_int_equal(ferry_opts_line(&o, "LogLevel LOUD", "h", &in, "cli"), -1);
    assert_false(o.rekey_set);
    assert_int_equal(o.log_level, -1);
    assert_int_equal(ferry_opts_file(&o, "/nonexistent/ferry", "h", 0), 0);
    assert_int_equal(ferry_opts_file(&o, "/nonexistent/ferry", "h", 1), -1);
    ferry_opts_free(&o);

    /* Include, relative to ~/.ssh, with a glob; a self-include stops */
    char home[] = "/tmp/ferry-test-home-XXXXXX", inc[128];
    assert_non_null(mkdtemp(home));
    snprintf(inc, sizeof(inc), "%s/.ssh", home);
    assert_int_equal(mkdir(inc, 0700), 0);
    snprintf(inc, sizeof(inc), "%s/.ssh/extra.conf", home);
    FILE *f = fopen(inc, "w");
    fprintf(f, "Host inc.example\n  User included\n  Include extra.conf\n");
    fclose(f);
    setenv("HOME", home, 1);
    ferry_opts_init(&o);
    in = 1;
    assert_int_equal(ferry_opts_line(&o, "Include extra.co*", "inc.example", &in, "cli"), -1);
    assert_string_equal(o.user, "included");
    ferry_opts_free(&o);
    unlink(inc);
    snprintf(inc, sizeof(inc), "%s/.ssh", home);
    rmdir(inc);
    rmdir(home);

    assert_true(ferry_opts_host_match("a,b*,c", "bxx"));
    assert_false(ferry_opts_host_match("*,!secret", "secret"));
    assert_false(ferry_opts_host_match("h?", "h"));

    setenv("HOME", "/home/t", 1);
    char *e = ferry_opts_expand_path("~/.ssh/%h-%u", "host", "bob");
    assert_string_equal(e, "/home/t/.ssh/host-bob");
    free(e);
    e = ferry_opts_expand_path("/k/%d%%%x%", "host", "bob");
    assert_string_equal(e, "/k//home/t%%x%");
    free(e);
    const ferry_token t[] = {{'h', "h1"}, {'p', "22"}, {'r', NULL}, {'\0', NULL}};
    e = ferry_opts_expand_tokens("nc %h %p [%r] %% %q %", t);
    assert_string_equal(e, "nc h1 22 [] % %q %");
    free(e);
}

/* Reconnect, ReconnectAttempts, ReconnectDelay, VerifyTransfers. */
static void test_resume_options(void **state)
{
    (void)state;
    ferry_opts o;
    int in = 1;
    ferry_opts_init(&o);
    ferry_opts_defaults(&o, "h");
    assert_int_equal(o.reconnect, 1);
    assert_int_equal(o.reconnect_attempts, 5);
    assert_int_equal(o.reconnect_delay_ms, 1000);
    assert_int_equal(o.verify_transfers, 1);
    ferry_opts_free(&o);

    ferry_opts_init(&o);
    assert_int_equal(ferry_opts_line(&o, "ReconnectDelay=0.2", "h", &in, "cli"), 0);
    assert_int_equal(ferry_opts_line(&o, "ReconnectDelay 7", "h", &in, "cli"), 0); /* 1st wins */
    assert_int_equal(ferry_opts_line(&o, "reconnect no", "h", &in, "cli"), 0);
    assert_int_equal(ferry_opts_line(&o, "ReconnectAttempts=2", "h", &in, "cli"), 0);
    assert_int_equal(ferry_opts_line(&o, "VerifyTransfers=no", "h", &in, "cli"), 0);
    ferry_opts_defaults(&o, "h");
    assert_int_equal(o.reconnect_delay_ms, 200);
    assert_int_equal(o.reconnect, 0);
    assert_int_equal(o.reconnect_attempts, 2);
    assert_int_equal(o.verify_transfers, 0);
    ferry_opts_free(&o);

    static const struct {
        const char *v;
        int ms;
    } delays[] = {{"0", 0},          {"1", 1000},   {"2.5", 2500}, {"0.05", 50}, {"0.0015", 1},
                  {"3600", 3600000}, {"3601", -1},  {"-1", -1},    {"1.", 1000}, {".5", -1},
                  {"1s", -1},        {"1.2.3", -1}, {"", -1}};
    for (size_t i = 0; i < sizeof(delays) / sizeof(delays[0]); i++) {
        ferry_opts_init(&o);
        char line[64];
        snprintf(line, sizeof(line), "ReconnectDelay=%s", delays[i].v);
        in = 1;
        int r = ferry_opts_line(&o, line, "h", &in, "cli");
        assert_int_equal(r, delays[i].ms < 0 ? -1 : 0);
        if (delays[i].ms >= 0) {
            assert_int_equal(o.reconnect_delay_ms, delays[i].ms);
        }
        ferry_opts_free(&o);
    }
    ferry_opts_init(&o);
    in = 1;
    assert_int_equal(ferry_opts_line(&o, "Reconnect sometimes", "h", &in, "cli"), -1);
    assert_int_equal(ferry_opts_line(&o, "ReconnectAttempts -3", "h", &in, "cli"), -1);
    ferry_opts_free(&o);
}

static void test_backoff(void **state)
{
    (void)state;
    assert_int_equal(ferry_resume_backoff_ms(1000, 1), 1000);
    assert_int_equal(ferry_resume_backoff_ms(1000, 2), 2000);
    assert_int_equal(ferry_resume_backoff_ms(1000, 3), 4000);
    assert_int_equal(ferry_resume_backoff_ms(1000, 5), 16000);
    assert_int_equal(ferry_resume_backoff_ms(1000, 6), 30000); /* capped */
    assert_int_equal(ferry_resume_backoff_ms(1000, 60), 30000);
    assert_int_equal(ferry_resume_backoff_ms(200, 3), 800);
    assert_int_equal(ferry_resume_backoff_ms(0, 4), 0);
    assert_int_equal(ferry_resume_backoff_ms(3600000, 1), 30000);
}

typedef struct fake_dial {
    ferry_sftpc *sftp;
    int fail_first; /* this many tries fail */
    int tries;
    int result; /* the error of a failed try */
} fake_dial;

static int fake_redial(void *ctx)
{
    fake_dial *d = ctx;
    if (d->tries++ < d->fail_first) {
        return d->result;
    }
    ferry_sftpc_reset(d->sftp);
    return FERRY_OK;
}

/* The reconnect loop: only a dead engine reconnects; failures count
 * until progress; hopeless errors stop at once. */
static void test_reconnect_loop(void **state)
{
    (void)state;
    ferry_client cl = {.out = stdout};
    fake_dial d = {.result = FERRY_E_SYSTEM};
    assert_int_equal(ferry_sftpc_new(&cl.sftp, NULL, NULL), FERRY_OK);
    d.sftp = cl.sftp;
    cl.rs = (ferry_resume){.reconnect = 1, .attempts = 3, .redial = fake_redial, .redial_ctx = &d};
    assert_int_equal(ferry_resume_again(&cl), 0); /* alive: nothing to do */
    assert_int_equal(d.tries, 0);

    ferry_sftpc_kill(cl.sftp, FERRY_E_DISCONNECTED);
    d.fail_first = 2;
    assert_int_equal(ferry_resume_again(&cl), 1);
    assert_int_equal(d.tries, 3);
    assert_int_equal(ferry_sftpc_dead(cl.sftp), 0);
    /* lost again without progress: the failures so far still count */
    ferry_sftpc_kill(cl.sftp, FERRY_E_DISCONNECTED);
    d.tries = 0;
    d.fail_first = 100;
    assert_int_equal(ferry_resume_again(&cl), 0);
    assert_int_equal(d.tries, 0); /* 3 of 3 used up */
    /* progress gives the full count back */
    cl.rs.progressed = 1;
    assert_int_equal(ferry_resume_again(&cl), 0);
    assert_int_equal(d.tries, 3);
    /* a changed host key ends it at once */
    cl.rs.progressed = 1;
    d.tries = 0;
    d.result = FERRY_E_HOSTKEY_CHANGED;
    assert_int_equal(ferry_resume_again(&cl), 0);
    assert_int_equal(d.tries, 1);
    /* Reconnect=no, or no way to redial (-D) */
    cl.rs.progressed = 1;
    d.tries = 0;
    d.fail_first = 0;
    cl.rs.reconnect = 0;
    assert_int_equal(ferry_resume_again(&cl), 0);
    cl.rs.reconnect = 1;
    cl.rs.redial = NULL;
    assert_int_equal(ferry_resume_again(&cl), 0);
    assert_int_equal(d.tries, 0);
    ferry_sftpc_free(cl.sftp);
}

static void test_partial_name(void **state)
{
    (void)state;
    char *p = partial_name("/up/dir/file.bin");
    assert_string_equal(p, "/up/dir/.file.bin.ferry-partial");
    free(p);
    p = partial_name("/f");
    assert_string_equal(p, "/.f.ferry-partial");
    free(p);
    p = partial_name("rel");
    assert_string_equal(p, ".rel.ferry-partial");
    free(p);
}

static void test_batch_prefixes_and_split(void **state)
{
    (void)state;
    int ign, noecho;
    assert_string_equal(ferry_shell_prefixes("  -rm x", &ign, &noecho), "rm x");
    assert_true(ign && !noecho);
    assert_string_equal(ferry_shell_prefixes("@ls", &ign, &noecho), "ls");
    assert_true(!ign && noecho);
    assert_string_equal(ferry_shell_prefixes("-@ get a", &ign, &noecho), "get a");
    assert_true(ign && noecho);
    assert_string_equal(ferry_shell_prefixes("ls -l", &ign, &noecho), "ls -l");
    assert_true(!ign && !noecho);

    char **argv;
    int *q;
    int n = ferry_shell_split("put  'a b'  \"c\\\"d\" e\\ f *.txt 'x*'", &argv, &q);
    assert_int_equal(n, 6);
    assert_string_equal(argv[0], "put");
    assert_string_equal(argv[1], "a b");
    assert_string_equal(argv[2], "c\"d");
    assert_string_equal(argv[3], "e f");
    assert_string_equal(argv[4], "*.txt");
    assert_string_equal(argv[5], "x\\*"); /* quoted: the star is literal */
    assert_true(q[1] && !q[4] && q[5]);
    assert_null(argv[6]);
    ferry_shell_free_argv(argv, q);
    assert_int_equal(ferry_shell_split("get 'unterminated", &argv, &q), -1);
    assert_int_equal(ferry_shell_split("   ", &argv, &q), 0);
    ferry_shell_free_argv(argv, q);

    assert_true(ferry_glob_has_magic("a*"));
    assert_false(ferry_glob_has_magic("a\\*"));
    char *u = ferry_glob_unescape("a\\*b\\\\");
    assert_string_equal(u, "a*b\\");
    free(u);
}

static void test_ls_format_and_escape(void **state)
{
    (void)state;
    char line[512];
    setenv("TZ", "UTC", 1);
    tzset();
    ferry_sftp_attrs a = {.flags = SSH_FILEXFER_ATTR_SIZE | SSH_FILEXFER_ATTR_UIDGID |
                                   SSH_FILEXFER_ATTR_PERMISSIONS | SSH_FILEXFER_ATTR_ACMODTIME,
                          .size = 1234,
                          .uid = 1000,
                          .gid = 100,
                          .perm = 0100644,
                          .mtime = 86400 * 365};
    ferry_fmt_long(line, sizeof(line), "f.txt", &a, 1, 0, NULL, NULL);
    assert_string_equal(line, "-rw-r--r--    ? 1000     100          1234 Jan  1  1971 f.txt");
    a.perm = 040755 | 02000;
    a.size = 1536;
    ferry_fmt_long(line, sizeof(line), "d\x1b[2J", &a, 1, 1, NULL, NULL);
    assert_string_equal(line, "drwxr-sr-x    ? 1000     100          1.5K Jan  1  1971 d\\033[2J");
    char m[11];
    ferry_fmt_mode(0104755, m);
    assert_string_equal(m, "-rwsr-xr-x");
    ferry_fmt_mode(0120777, m);
    assert_string_equal(m, "lrwxrwxrwx");
    char *e = ferry_fmt_escape("a\nb\\c");
    assert_string_equal(e, "a\\012b\\\\c");
    free(e);
    char h[16];
    ferry_fmt_human(100, h, sizeof(h));
    assert_string_equal(h, "100B");
    ferry_fmt_human(20u * 1024 * 1024, h, sizeof(h));
    assert_string_equal(h, "20M");
    assert_string_equal(ferry_path_base("/a/b/c"), "c");
    assert_string_equal(ferry_path_base("c"), "c");
    char *j = ferry_path_join("/a/", "b");
    assert_string_equal(j, "/a/b");
    free(j);
    j = ferry_path_join("/a", "/abs");
    assert_string_equal(j, "/abs");
    free(j);
}

/* ---- host keys and identities ---- */

/* Runs ferry_hostkey_verify with stderr captured into err[errsz]. */
static int verify_capture(ferry_hostcheck *hc, const ferry_key *k, char *err, size_t errsz)
{
    char path[] = "/tmp/ferry-test-err-XXXXXX";
    int fd = mkstemp(path);
    int saved = dup(STDERR_FILENO);
    fflush(stderr);
    dup2(fd, STDERR_FILENO);
    int r = ferry_hostkey_verify(hc, k);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    ssize_t n = pread(fd, err, errsz - 1, 0);
    err[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return r;
}

static void test_hostkey_policy(void **state)
{
    (void)state;
    char dir[] = "/tmp/ferry-test-kh-XXXXXX", kh[128], err[8192];
    ferry_key *k = NULL, *other = NULL;
    ferry_opts o;
    assert_non_null(mkdtemp(dir));
    snprintf(kh, sizeof(kh), "%s/known_hosts", dir);
    assert_int_equal(ferry_key_generate(FERRY_KEY_ED25519, 0, &k), FERRY_OK);
    assert_int_equal(ferry_key_generate(FERRY_KEY_ED25519, 0, &other), FERRY_OK);
    ferry_opts_init(&o);
    o.known_hosts = strdup(kh);
    o.batch_mode = 1;
    o.user = strdup("u");
    o.hash_known_hosts = 0;
    ferry_hostcheck hc = {
        .host = "srv", .hostname = "127.0.0.1", .ip = "127.0.0.1", .port = 2222, .opts = &o};

    /* unknown + strict yes / ask in batch mode: refused, nothing stored */
    o.strict = FERRY_STRICT_YES;
    assert_int_equal(verify_capture(&hc, k, err, sizeof(err)), FERRY_E_HOSTKEY_UNKNOWN);
    assert_non_null(strstr(err, "Host key verification failed."));
    o.strict = FERRY_STRICT_ASK;
    assert_int_equal(verify_capture(&hc, k, err, sizeof(err)), FERRY_E_HOSTKEY_UNKNOWN);
    assert_int_not_equal(access(kh, F_OK), 0);

    /* accept-new stores it; then it is known silently */
    o.strict = FERRY_STRICT_ACCEPT_NEW;
    assert_int_equal(verify_capture(&hc, k, err, sizeof(err)), FERRY_OK);
    assert_non_null(strstr(err, "Permanently added '[127.0.0.1]:2222' (ED25519)"));
    o.strict = FERRY_STRICT_YES;
    assert_int_equal(verify_capture(&hc, k, err, sizeof(err)), FERRY_OK);
    assert_string_equal(err, "");

    /* a different key: refused with the offending line, even with accept-new */
    FILE *f = fopen(kh, "r");
    char first[4096] = "";
    assert_non_null(fgets(first, sizeof(first), f));
    fclose(f);
    char *line = NULL;
    assert_int_equal(ferry_key_format_public_line(other, NULL, &line), FERRY_OK);
    f = fopen(kh, "w");
    fprintf(f, "# comment\n[127.0.0.1]:2222 %s\n", line);
    fclose(f);
    free(line);
    o.strict = FERRY_STRICT_ACCEPT_NEW;
    assert_int_equal(verify_capture(&hc, k, err, sizeof(err)), FERRY_E_HOSTKEY_CHANGED);
    assert_non_null(strstr(err, "REMOTE HOST IDENTIFICATION HAS CHANGED!"));
    char want[256];
    snprintf(want, sizeof(want), "Offending ED25519 key in %s:2", kh);
    assert_non_null(strstr(err, want));
    /* only a key of another type is on record: changed as well, as OpenSSH
     * says it ("Offending ED25519 key"), and nothing is added */
    ferry_key *ec = NULL;
    assert_int_equal(ferry_key_generate(FERRY_KEY_ECDSA_P256, 0, &ec), FERRY_OK);
    assert_int_equal(verify_capture(&hc, ec, err, sizeof(err)), FERRY_E_HOSTKEY_CHANGED);
    assert_non_null(strstr(err, "HAS CHANGED"));
    assert_non_null(strstr(err, want));
    assert_null(strstr(err, "Permanently added"));
    ferry_key_free(ec);
    /* which is why the algorithms of the key on record are asked for first */
    char *algs = NULL;
    assert_int_equal(ferry_hostkey_order_algs(&hc, "ecdsa-sha2-nistp256,ssh-ed25519", &algs),
                     FERRY_OK);
    assert_string_equal(algs, "ssh-ed25519,ecdsa-sha2-nistp256");
    free(algs);
    hc.port = 2200; /* nothing on record: NULL, the defaults stay */
    algs = (char *)1;
    assert_int_equal(ferry_hostkey_order_algs(&hc, "ecdsa-sha2-nistp256,ssh-ed25519", &algs),
                     FERRY_OK);
    assert_null(algs);
    hc.port = 2222;
    /* StrictHostKeyChecking=no: warned, but goes on */
    o.strict = FERRY_STRICT_NO;
    assert_int_equal(verify_capture(&hc, k, err, sizeof(err)), FERRY_OK);
    assert_non_null(strstr(err, "REMOTE HOST IDENTIFICATION HAS CHANGED!"));
    ferry_opts_free(&o);

    /* UserKnownHostsFile lists, GlobalKnownHostsFile, HostKeyAlias */
    char kh2[160], gkh[160], text[8192];
    snprintf(kh2, sizeof(kh2), "%s/second", dir);
    snprintf(gkh, sizeof(gkh), "%s/global", dir);
    char *kline = NULL, *oline = NULL;
    assert_int_equal(ferry_key_format_public_line(k, NULL, &kline), FERRY_OK);
    assert_int_equal(ferry_key_format_public_line(other, NULL, &oline), FERRY_OK);
    unlink(kh);
    ferry_opts_init(&o);
    o.batch_mode = 1;
    o.user = strdup("u");
    o.hash_known_hosts = 0;
    o.strict = FERRY_STRICT_YES;
    snprintf(text, sizeof(text), "%s %s", kh, kh2);
    o.known_hosts = strdup(text);
    o.global_known_hosts = strdup(gkh);
    f = fopen(gkh, "w"); /* known only in the global file */
    fprintf(f, "[127.0.0.1]:2222 %s\n", kline);
    fclose(f);
    assert_int_equal(verify_capture(&hc, k, err, sizeof(err)), FERRY_OK);
    f = fopen(kh2, "w"); /* another key in the second user file: it speaks */
    fprintf(f, "[127.0.0.1]:2222 %s\n", oline);
    fclose(f);
    unlink(gkh);
    assert_int_equal(verify_capture(&hc, k, err, sizeof(err)), FERRY_E_HOSTKEY_CHANGED);
    snprintf(want, sizeof(want), "Offending ED25519 key in %s:1", kh2);
    assert_non_null(strstr(err, want));
    /* known under the alias (no port), in the second user file */
    f = fopen(kh2, "w");
    fprintf(f, "files-alias %s\n", kline);
    fclose(f);
    o.host_key_alias = strdup("files-alias");
    assert_int_equal(verify_capture(&hc, k, err, sizeof(err)), FERRY_OK);
    assert_string_equal(err, "");
    /* a new one goes to the first user file, under the alias */
    o.strict = FERRY_STRICT_ACCEPT_NEW;
    assert_int_equal(verify_capture(&hc, other, err, sizeof(err)), FERRY_E_HOSTKEY_CHANGED);
    free(o.host_key_alias);
    o.host_key_alias = strdup("other-alias");
    assert_int_equal(verify_capture(&hc, k, err, sizeof(err)), FERRY_OK);
    assert_non_null(strstr(err, "Permanently added 'other-alias' (ED25519)"));
    f = fopen(kh, "r");
    assert_non_null(f);
    assert_non_null(fgets(text, sizeof(text), f));
    fclose(f);
    assert_int_equal(strncmp(text, "other-alias ssh-ed25519 ", 24), 0);
    free(kline);
    free(oline);
    unlink(kh2);

    ferry_opts_free(&o);
    ferry_key_free(k);
    ferry_key_free(other);
    unlink(kh);
    rmdir(dir);
}

static void test_identity_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/ferry-test-id-XXXXXX", path[128], pub[140];
    ferry_key *k = NULL;
    ferry_opts o;
    ferry_conn c;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/id_test", dir);
    snprintf(pub, sizeof(pub), "%s.pub", path);
    assert_int_equal(ferry_key_generate(FERRY_KEY_ED25519, 0, &k), FERRY_OK);
    assert_int_equal(ferry_key_save_private_file(k, "t", path, pub), FERRY_OK);
    ferry_opts_init(&o);
    o.identity_files[o.n_identity_files++] = strdup(path);
    o.identity_files[o.n_identity_files++] = strdup("/nonexistent/id_none");
    ferry_opts_defaults(&o, "h");
    o.identities_only = 1;
    memset(&c, 0, sizeof(c));
    assert_int_equal(ferry__conn_identities(&c, &o), FERRY_OK);
    assert_int_equal(c.n_ids, 1); /* the missing file is skipped */
    assert_true(ferry_key_equal_public(c.ids[0].pub, k));
    ferry_buf *sig = ferry_buf_new(0);
    const uint8_t data[] = "to be signed";
    assert_int_equal(
        c.ids[0].sign(c.ids[0].ctx, c.ids[0].pub, "ssh-ed25519", data, sizeof(data), sig),
        FERRY_OK);
    assert_int_equal(ferry_key_verify(k, "ssh-ed25519", ferry_buf_data(sig), ferry_buf_len(sig),
                                      data, sizeof(data)),
                     FERRY_OK);
    ferry_buf_free(sig);
    ferry__conn_identities_free(&c);
    /* PubkeyAuthentication=no: none at all */
    memset(&c, 0, sizeof(c));
    o.pubkey_auth = 0;
    assert_int_equal(ferry__conn_identities(&c, &o), FERRY_OK);
    assert_int_equal(c.n_ids, 0);
    ferry__conn_identities_free(&c);
    ferry_opts_free(&o);
    ferry_key_free(k);
    unlink(path);
    unlink(pub);
    rmdir(dir);
}

/* ---- end to end over OpenSSH's sftp-server (skipped if absent) ---- */

typedef struct e2e {
    char dir[64];
    ferry_conn *conn;
    ferry_client cl;
    FILE *out;
    char *outbuf;
    size_t outlen;
} e2e;

static void sh(const char *fmt, const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), fmt, dir, dir, dir, dir);
    assert_int_equal(system(cmd), 0);
}

static int e2e_setup(void **state)
{
    if (access(SFTP_SERVER, X_OK) != 0) {
        return 0;
    }
    e2e *t = calloc(1, sizeof(*t));
    strcpy(t->dir, "/tmp/ferry-test-cli-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    sh("mkdir -p %s/r/sub %s/l && echo one > %s/r/a.txt && echo two > %s/r/b.txt", t->dir);
    sh("echo three > %s/r/sub/c.dat && echo hidden > %s/r/.h.txt", t->dir);
    assert_int_equal(ferry_conn_open_pipe(&t->conn, SFTP_SERVER, &t->cl.sftp, NULL), FERRY_OK);
    assert_int_equal(ferry_sftpc_init(t->cl.sftp), FERRY_OK);
    t->out = open_memstream(&t->outbuf, &t->outlen);
    t->cl.out = t->out;
    t->cl.quiet = 1;
    t->cl.home = ferry_path_join(t->dir, "r");
    t->cl.pwd = strdup(t->cl.home);
    *state = t;
    return 0;
}

static int e2e_teardown(void **state)
{
    e2e *t = *state;
    if (t == NULL) {
        return 0;
    }
    ferry_conn_close(t->conn);
    fclose(t->out);
    free(t->outbuf);
    free(t->cl.pwd);
    free(t->cl.home);
    sh("rm -rf %s", t->dir);
    free(t);
    return 0;
}

static void test_remote_glob(void **state)
{
    e2e *t = *state;
    char **v = NULL;
    if (t == NULL) {
        skip();
    }
    int n = ferry_glob_remote(&t->cl, "*.txt", &v);
    assert_int_equal(n, 2); /* .h.txt is hidden from '*' */
    assert_string_equal(v[0], "a.txt");
    assert_string_equal(v[1], "b.txt");
    ferry_glob_free(v, n);
    n = ferry_glob_remote(&t->cl, "s*/*.dat", &v);
    assert_int_equal(n, 1);
    assert_string_equal(v[0], "sub/c.dat");
    ferry_glob_free(v, n);
    n = ferry_glob_remote(&t->cl, ".*.txt", &v);
    assert_int_equal(n, 1);
    ferry_glob_free(v, n);
    n = ferry_glob_remote(&t->cl, "nomatch*", &v);
    assert_int_equal(n, 0);
    ferry_glob_free(v, n);
    char pat[128];
    snprintf(pat, sizeof(pat), "%s/r/?.txt", t->dir);
    n = ferry_glob_remote(&t->cl, pat, &v);
    assert_int_equal(n, 2);
    assert_true(strncmp(v[0], t->dir, strlen(t->dir)) == 0);
    ferry_glob_free(v, n);
}

static int run_batch(e2e *t, const char *text)
{
    FILE *fp = fmemopen((void *)text, strlen(text), "r");
    int rc = ferry_shell_batch(&t->cl, fp);
    fclose(fp);
    fflush(t->out);
    return rc;
}

static void test_batch_end_to_end(void **state)
{
    e2e *t = *state;
    char cmds[1024], path[256];
    struct stat st;
    if (t == NULL) {
        skip();
    }
    snprintf(cmds, sizeof(cmds),
             "@lcd %s/l\n"
             "get -r sub\n"
             "get a.txt\n"
             "-rm nonexistent\n"
             "mkdir newdir\n"
             "put a.txt newdir/up.txt\n"
             "ls -1 newdir\n"
             "rename newdir/up.txt newdir/moved.txt\n",
             t->dir);
    assert_int_equal(run_batch(t, cmds), 0);
    snprintf(path, sizeof(path), "%s/l/sub/c.dat", t->dir);
    assert_int_equal(stat(path, &st), 0);
    snprintf(path, sizeof(path), "%s/r/newdir/moved.txt", t->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 4);
    assert_non_null(strstr(t->outbuf, "sftp> get a.txt\n"));
    assert_null(strstr(t->outbuf, "sftp> lcd")); /* '@' suppressed the echo */
    assert_non_null(strstr(t->outbuf, "newdir/up.txt\n"));

    /* without '-' a failure stops the batch with non-zero status */
    assert_int_not_equal(run_batch(t, "rm nonexistent\nmkdir never\n"), 0);
    snprintf(path, sizeof(path), "%s/r/never", t->dir);
    assert_int_not_equal(stat(path, &st), 0);
    /* quit ends it successfully */
    assert_int_equal(run_batch(t, "pwd\nquit\nrm nonexistent\n"), 0);
}

/* ---- a hostile server: names that try to leave the destination ---- */

typedef struct evil {
    int readdir_done;
} evil;

static void evil_status(ferry_buf *b, uint32_t id, uint32_t code)
{
    ferry_buf_put_u8(b, SSH_FXP_STATUS);
    ferry_buf_put_u32(b, id);
    ferry_buf_put_u32(b, code);
    ferry_buf_put_cstring(b, "");
    ferry_buf_put_cstring(b, "");
}

static void evil_attrs(ferry_buf *b, uint32_t perm, uint64_t size)
{
    ferry_sftp_attrs a = {.flags = SSH_FILEXFER_ATTR_PERMISSIONS | SSH_FILEXFER_ATTR_SIZE,
                          .perm = perm,
                          .size = size};
    ferry_sftp_attrs_encode(b, &a);
}

static void evil_names(ferry_buf *b, uint32_t id)
{
    static const struct {
        const char *name;
        uint32_t perm;
    } ents[] = {{".", 040755},       {"..", 040755},    {"../escape", 0100644}, {"sub/x", 0100644},
                {"ok.txt", 0100644}, {"suid", 0104755}, {"d\033[2J", 0100644}};
    ferry_buf_put_u8(b, SSH_FXP_NAME);
    ferry_buf_put_u32(b, id);
    ferry_buf_put_u32(b, (uint32_t)(sizeof(ents) / sizeof(ents[0])));
    for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
        ferry_buf_put_cstring(b, ents[i].name);
        ferry_buf_put_cstring(b, ents[i].name);
        evil_attrs(b, ents[i].perm, 3);
    }
}

/* Answers one request of the client under test. */
static void evil_answer(evil *e, ferry_rd *r, ferry_buf *b)
{
    uint8_t type;
    uint32_t id = 0;
    char path[256] = "";
    ferry_rd_u8(r, &type);
    if (type == SSH_FXP_INIT) {
        ferry_buf_put_u8(b, SSH_FXP_VERSION);
        ferry_buf_put_u32(b, 3);
        return;
    }
    ferry_rd_u32(r, &id);
    (void)ferry_rd_name(r, path, sizeof(path));
    if (type == SSH_FXP_STAT || type == SSH_FXP_FSTAT || type == SSH_FXP_LSTAT) {
        ferry_buf_put_u8(b, SSH_FXP_ATTRS);
        ferry_buf_put_u32(b, id);
        int dir = strcmp(path, "/d") == 0;
        evil_attrs(b, dir ? 040755 : (strstr(path, "suid") ? 0104755 : 0100644), 3);
    } else if (type == SSH_FXP_OPENDIR || type == SSH_FXP_OPEN) {
        ferry_buf_put_u8(b, SSH_FXP_HANDLE);
        ferry_buf_put_u32(b, id);
        ferry_buf_put_cstring(b, type == SSH_FXP_OPEN ? "f" : "d");
    } else if (type == SSH_FXP_READDIR && !e->readdir_done) {
        e->readdir_done = 1;
        evil_names(b, id);
    } else if (type == SSH_FXP_READ) {
        uint64_t off;
        ferry_rd_u64(r, &off);
        if (off == 0) {
            ferry_buf_put_u8(b, SSH_FXP_DATA);
            ferry_buf_put_u32(b, id);
            ferry_buf_put_cstring(b, "abc");
        } else {
            evil_status(b, id, SSH_FX_EOF);
        }
    } else {
        evil_status(b, id, type == SSH_FXP_READDIR ? SSH_FX_EOF : SSH_FX_OK);
    }
}

static int evil_pump(void *ctx, ferry_sftpc *c)
{
    size_t len;
    const uint8_t *p = ferry_sftpc_output(c, &len);
    ferry_buf *out = ferry_buf_new(0);
    ferry_rd r;
    ferry_rd_init(&r, p, len);
    while (ferry_rd_left(&r) > 0) {
        ferry_rd pkt;
        ferry_buf *body = ferry_buf_new(0);
        assert_int_equal(ferry_rd_sub(&r, &pkt), FERRY_OK);
        evil_answer(ctx, &pkt, body);
        ferry_buf_put_stringb(out, body);
        ferry_buf_free(body);
    }
    ferry_sftpc_output_consume(c, len);
    int rc = ferry_sftpc_input(c, ferry_buf_data(out), ferry_buf_len(out));
    ferry_buf_free(out);
    return rc;
}

static void test_hostile_names_in_recursive_get(void **state)
{
    (void)state;
    evil e = {0};
    ferry_sftpc_io io = {.pump = evil_pump, .ctx = &e};
    ferry_client cl = {.quiet = 1, .batch = 1};
    char top[] = "/tmp/ferry-test-evil-XXXXXX", dest[128], path[256];
    struct stat st;
    FILE *devnull = fopen("/dev/null", "w");
    cl.out = devnull;
    assert_non_null(mkdtemp(top));
    snprintf(dest, sizeof(dest), "%s/in/dest", top);
    snprintf(path, sizeof(path), "%s/in", top);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(ferry_sftpc_new(&cl.sftp, NULL, &io), FERRY_OK);
    assert_int_equal(ferry_sftpc_init(cl.sftp), FERRY_OK);
    cl.pwd = strdup("/");
    char *argv[] = {"get", "-r", "/d", dest, NULL};
    /* refused names make the command fail, the good ones arrive */
    assert_int_not_equal(ferry_cmd_dispatch(&cl, 4, argv, NULL), 0);
    snprintf(path, sizeof(path), "%s/ok.txt", dest);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 3);
    snprintf(path, sizeof(path), "%s/suid", dest);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & (S_ISUID | S_ISGID), 0); /* set-id bits stripped */
    snprintf(path, sizeof(path), "%s/in/escape", top);
    assert_int_not_equal(stat(path, &st), 0); /* nothing written outside */
    snprintf(path, sizeof(path), "%s/sub", dest);
    assert_int_not_equal(stat(path, &st), 0);
    ferry_sftpc_free(cl.sftp);
    free(cl.pwd);
    fclose(devnull);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_destinations),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_proxy_options),
        cmocka_unit_test(test_ssh_match),
        cmocka_unit_test(test_ssh_config),
        cmocka_unit_test(test_ssh_config_session_keywords),
        cmocka_unit_test(test_ssh_config_address),
        cmocka_unit_test(test_resume_options),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_reconnect_loop),
        cmocka_unit_test(test_partial_name),
        cmocka_unit_test(test_batch_prefixes_and_split),
        cmocka_unit_test(test_ls_format_and_escape),
        cmocka_unit_test(test_hostkey_policy),
        cmocka_unit_test(test_identity_files),
        cmocka_unit_test(test_hostile_names_in_recursive_get),
        cmocka_unit_test_setup_teardown(test_remote_glob, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_batch_end_to_end, e2e_setup, e2e_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
