/* test_gate.c: every message number (0-255) in every state, for both
 * roles, against a table written here independently of gate.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ssh/ssh_int.h"
#include "util/err.h"

enum { A = 0, P = 1, U = 2 }; /* allowed, protocol error, answer UNIMPLEMENTED */

/* Message numbers allowed once keys are in place, per (role, authed). */
static const uint8_t srv_auth[] = {1, 2, 3, 4, 5, 20, 50, 61};
static const uint8_t cli_auth[] = {1, 2, 3, 4, 6, 7, 20, 51, 52, 53, 60};
static const uint8_t srv_open[] = {1,  2,  3,  4,  20, 50, 80, 81, 82, 90,
                                   91, 92, 93, 94, 95, 96, 97, 98, 99, 100};
static const uint8_t cli_open[] = {1,  2,  3,  4,  20, 80, 81, 82, 90, 91,
                                   92, 93, 94, 95, 96, 97, 98, 99, 100};

static int in_list(const uint8_t *l, size_t n, int m)
{
    for (size_t i = 0; i < n; i++) {
        if (l[i] == m) {
            return 1;
        }
    }
    return 0;
}

/* Unassigned numbers of a layer that is open: UNIMPLEMENTED. */
static int unimplemented(int open, int m)
{
    if (m == 0 || (m >= 8 && m <= 19)) {
        return 1;
    }
    if (!open) {
        return (m >= 54 && m <= 59) || (m >= 62 && m <= 79);
    }
    return (m >= 83 && m <= 89) || m >= 101;
}

static int expected(int server, enum ferry_ssh_state st, int in_kex, int strict, int m)
{
    if (st == FERRY_ST_VERSION || st == FERRY_ST_CLOSED) {
        return P;
    }
    if (st == FERRY_ST_KEX_FIRST && strict) {
        return (m == 1 || m == 20 || m == 21 || (m >= 30 && m <= 34)) ? A : P;
    }
    /* a client's rekey once authenticated lets connection messages
     * through (a server such as mod_sftp may answer a channel request in
     * it); a server stays strict */
    if (st == FERRY_ST_KEX_FIRST ||
        (in_kex && !(!server && st == FERRY_ST_OPEN && m >= 80 && m < 128))) {
        return ((m >= 1 && m <= 4) || (m >= 20 && m <= 49)) ? A : P;
    }
    int open = st == FERRY_ST_OPEN;
    const uint8_t *l = server ? (open ? srv_open : srv_auth) : (open ? cli_open : cli_auth);
    size_t n = server ? (open ? sizeof(srv_open) : sizeof(srv_auth))
                      : (open ? sizeof(cli_open) : sizeof(cli_auth));
    if (in_list(l, n, m)) {
        return A;
    }
    return unimplemented(open, m) ? U : P;
}

static int actual(int server, enum ferry_ssh_state st, int in_kex, int strict, int m)
{
    int first_done = st == FERRY_ST_AUTH || st == FERRY_ST_OPEN;
    int r = ferry__gate(server ? FERRY_ROLE_SERVER : FERRY_ROLE_CLIENT, st, in_kex, strict,
                        first_done, (uint8_t)m);
    if (r == FERRY_OK) {
        return A;
    }
    if (r == FERRY_E_UNSUPPORTED) {
        return U;
    }
    assert_int_equal(r, FERRY_E_PROTOCOL);
    return P;
}

static void test_every_number(void **state)
{
    (void)state;
    const enum ferry_ssh_state states[] = {FERRY_ST_VERSION, FERRY_ST_KEX_FIRST, FERRY_ST_AUTH,
                                           FERRY_ST_OPEN, FERRY_ST_CLOSED};
    unsigned checked = 0;
    for (int server = 0; server < 2; server++) {
        for (size_t si = 0; si < sizeof(states) / sizeof(states[0]); si++) {
            for (int in_kex = 0; in_kex < 2; in_kex++) {
                for (int strict = 0; strict < 2; strict++) {
                    for (int m = 0; m < 256; m++) {
                        int e = expected(server, states[si], in_kex, strict, m);
                        int a = actual(server, states[si], in_kex, strict, m);
                        if (e != a) {
                            fail_msg("role %s state %d in_kex %d strict %d msg %d: want %d got %d",
                                     server ? "server" : "client", (int)states[si], in_kex, strict,
                                     m, e, a);
                        }
                        checked++;
                    }
                }
            }
        }
    }
    assert_int_equal(checked, 2u * 5 * 2 * 2 * 256);
}

/* The rules of the brief, stated directly. */
static void test_rules(void **state)
{
    (void)state;
    for (int m = 0; m < 256; m++) {
        for (int st = FERRY_ST_VERSION; st <= FERRY_ST_CLOSED; st++) {
            for (int k = 0; k < 2; k++) {
                int srv = ferry__gate(FERRY_ROLE_SERVER, st, k, 0, st >= FERRY_ST_AUTH, (uint8_t)m);
                int cli = ferry__gate(FERRY_ROLE_CLIENT, st, k, 0, st >= FERRY_ST_AUTH, (uint8_t)m);
                /* a server never accepts what only servers send */
                if (m == 6 || m == 7 || m == 51 || m == 52 || m == 53 || m == 60) {
                    assert_int_not_equal(srv, FERRY_OK);
                }
                /* a client never accepts what only clients send */
                if (m == 5 || m == 50 || m == 61) {
                    assert_int_not_equal(cli, FERRY_OK);
                }
                /* nothing >= 50 before the first NEWKEYS or during kex, but
                 * connection messages during a rekey once authenticated */
                if (m >= 50 && (st <= FERRY_ST_KEX_FIRST || k)) {
                    assert_int_equal(srv, FERRY_E_PROTOCOL);
                }
                if (m >= 50 && (st <= FERRY_ST_KEX_FIRST ||
                                (k && !(st == FERRY_ST_OPEN && m >= 80 && m < 128)))) {
                    assert_int_equal(cli, FERRY_E_PROTOCOL);
                }
                /* nothing >= 80 before authentication */
                if (m >= 80 && st != FERRY_ST_OPEN) {
                    assert_int_equal(srv, FERRY_E_PROTOCOL);
                    assert_int_equal(cli, FERRY_E_PROTOCOL);
                }
                /* never anything >= 128 accepted as such */
                if (m >= 128) {
                    assert_int_not_equal(srv, FERRY_OK);
                    assert_int_not_equal(cli, FERRY_OK);
                }
            }
        }
    }
    /* strict first kex: IGNORE is fatal, KEXINIT fine */
    assert_int_equal(ferry__gate(FERRY_ROLE_SERVER, FERRY_ST_KEX_FIRST, 1, 1, 0, SSH_MSG_IGNORE),
                     FERRY_E_PROTOCOL);
    assert_int_equal(ferry__gate(FERRY_ROLE_SERVER, FERRY_ST_KEX_FIRST, 1, 1, 0, SSH_MSG_KEXINIT),
                     FERRY_OK);
    /* a rekey under strict kex tolerates IGNORE (only the first kex is strict) */
    assert_int_equal(ferry__gate(FERRY_ROLE_SERVER, FERRY_ST_OPEN, 1, 1, 1, SSH_MSG_IGNORE),
                     FERRY_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_number),
        cmocka_unit_test(test_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
