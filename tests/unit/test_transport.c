/* test_transport.c: version exchange, binary packet framing, handshake,
 * rekey and tampering, through the in-memory pair. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers/pair.h"
#include "ssh/ssh_int.h"
#include "util/err.h"

static void test_handshake_default(void **state)
{
    (void)state;
    pair *p = NULL;
    assert_int_equal(pair_new(&p, NULL, NULL), FERRY_OK);
    assert_true(pair_run(p, 100) >= 0);
    assert_true(pair_keyed(p));
    assert_int_equal(ferry_ssh_kex_count(p->c), 1);
    assert_int_equal(ferry_ssh_kex_count(p->s), 1);
    assert_string_equal(ferry_ssh_alg(p->c, "kex"), "curve25519-sha256");
    assert_int_equal(p->hostkey_checks, 1);
    pair_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_default),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    pair_keys_cleanup();
    return r;
}
