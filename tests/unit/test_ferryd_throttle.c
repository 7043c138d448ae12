/* test_ferryd_throttle.c: ferryd's admission control (MaxStartups,
 * PerSourceMaxStartups, PerSourcePenalties); program code compiled in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../src/ferryd/throttle.c"

static ferryd_throttle *mk(unsigned begin, unsigned rate, unsigned full, unsigned per_source,
                           unsigned pen, unsigned pen_max)
{
    ferryd_throttle_cfg c = {begin, rate, full, per_source, pen, 2 * pen, pen_max};
    ferryd_throttle *t = NULL;
    assert_int_equal(ferryd_throttle_new(&c, &t), FERRY_OK);
    return t;
}

static void test_per_source_does_not_lock_out_others(void **state)
{
    (void)state;
    ferryd_throttle *t = mk(10, 30, 100, 3, 0, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ferryd_throttle_admit(t, "127.0.0.2", 0, 0, NULL), FERRYD_ADMIT);
    }
    for (int i = 0; i < 50; i++) {
        assert_int_equal(ferryd_throttle_admit(t, "127.0.0.2", 0, 0, NULL), FERRYD_REFUSE_SOURCE);
    }
    assert_int_equal(ferryd_throttle_unauth(t), 3);
    assert_int_equal(ferryd_throttle_admit(t, "127.0.0.1", 0, 0, NULL), FERRYD_ADMIT);
    /* authenticating frees the slot */
    ferryd_throttle_authenticated(t, "127.0.0.2");
    assert_int_equal(ferryd_throttle_unauth(t), 3);
    assert_int_equal(ferryd_throttle_admit(t, "127.0.0.2", 0, 0, NULL), FERRYD_ADMIT);
    ferryd_throttle_free(t);
}

static void test_max_startups(void **state)
{
    (void)state;
    ferryd_throttle *t = mk(2, 50, 4, 0, 0, 0);
    assert_int_equal(ferryd_throttle_admit(t, "a", 0, 0, NULL), FERRYD_ADMIT);
    assert_int_equal(ferryd_throttle_admit(t, "b", 0, 0, NULL), FERRYD_ADMIT);
    /* at begin: drop with 50%: rnd 49 drops, rnd 50 passes */
    assert_int_equal(ferryd_throttle_admit(t, "c", 0, 49, NULL), FERRYD_REFUSE_STARTUPS);
    assert_int_equal(ferryd_throttle_admit(t, "c", 0, 50, NULL), FERRYD_ADMIT);
    /* 3 unauth: 75% */
    assert_int_equal(ferryd_throttle_admit(t, "d", 0, 74, NULL), FERRYD_REFUSE_STARTUPS);
    assert_int_equal(ferryd_throttle_admit(t, "d", 0, 75, NULL), FERRYD_ADMIT);
    /* full */
    assert_int_equal(ferryd_throttle_admit(t, "e", 0, 99, NULL), FERRYD_REFUSE_STARTUPS);
    ferryd_throttle_ended(t, "a", 0, 0, 0, 0);
    assert_int_equal(ferryd_throttle_unauth(t), 3);
    ferryd_throttle_free(t);
}

static void test_penalty_backoff(void **state)
{
    (void)state;
    ferryd_throttle *t = mk(10, 30, 100, 0, 5, 12);
    uint64_t wait = 0;
    assert_int_equal(ferryd_throttle_admit(t, "x", 1000, 0, NULL), FERRYD_ADMIT);
    ferryd_throttle_ended(t, "x", 0, 2, 0, 1000);
    assert_int_equal(ferryd_throttle_admit(t, "x", 2000, 0, &wait), FERRYD_REFUSE_PENALTY);
    assert_true(wait == 4000);
    assert_int_equal(ferryd_throttle_admit(t, "y", 2000, 0, NULL), FERRYD_ADMIT);
    /* second failing connection: 10 s */
    assert_int_equal(ferryd_throttle_admit(t, "x", 6000, 0, NULL), FERRYD_ADMIT);
    ferryd_throttle_ended(t, "x", 0, 1, 0, 6000);
    assert_int_equal(ferryd_throttle_admit(t, "x", 15999, 0, NULL), FERRYD_REFUSE_PENALTY);
    /* third: 20 s capped at 12 s */
    assert_int_equal(ferryd_throttle_admit(t, "x", 16000, 0, NULL), FERRYD_ADMIT);
    ferryd_throttle_ended(t, "x", 0, 1, 0, 16000);
    assert_int_equal(ferryd_throttle_admit(t, "x", 27999, 0, &wait), FERRYD_REFUSE_PENALTY);
    assert_int_equal(ferryd_throttle_admit(t, "x", 28000, 0, NULL), FERRYD_ADMIT);
    /* a success clears the streak */
    ferryd_throttle_authenticated(t, "x");
    assert_int_equal(ferryd_throttle_admit(t, "x", 28000, 0, NULL), FERRYD_ADMIT);
    ferryd_throttle_ended(t, "x", 0, 1, 0, 28000);
    assert_int_equal(ferryd_throttle_admit(t, "x", 33000, 0, NULL), FERRYD_ADMIT);
    /* running out of LoginGraceTime: grace-exceeded (10 s) */
    assert_int_equal(ferryd_throttle_admit(t, "g", 0, 0, NULL), FERRYD_ADMIT);
    ferryd_throttle_ended(t, "g", 0, 0, 1, 0);
    assert_int_equal(ferryd_throttle_admit(t, "g", 9999, 0, NULL), FERRYD_REFUSE_PENALTY);
    assert_int_equal(ferryd_throttle_admit(t, "g", 10000, 0, NULL), FERRYD_ADMIT);
    /* an unauthenticated end without failures is not penalised */
    ferryd_throttle_ended(t, "x", 0, 0, 0, 33000);
    assert_int_equal(ferryd_throttle_admit(t, "x", 33000, 0, NULL), FERRYD_ADMIT);
    ferryd_throttle_free(t);
}

static void test_many_sources_expire(void **state)
{
    (void)state;
    ferryd_throttle *t = mk(100000, 30, 100000, 1, 1, 1);
    char addr[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(addr, sizeof(addr), "10.0.%d.%d", i / 256, i % 256);
        assert_int_equal(ferryd_throttle_admit(t, addr, 0, 0, NULL), FERRYD_ADMIT);
        ferryd_throttle_ended(t, addr, 0, 1, 0, 0);
    }
    /* all penalties over at 1 s: a new source expires the old entries */
    assert_int_equal(ferryd_throttle_admit(t, "10.9.9.9", 5000, 0, NULL), FERRYD_ADMIT);
    assert_true(t->n < 10);
    assert_int_equal(ferryd_throttle_unauth(t), 1);
    ferryd_throttle_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_source_does_not_lock_out_others),
        cmocka_unit_test(test_max_startups),
        cmocka_unit_test(test_penalty_backoff),
        cmocka_unit_test(test_many_sources_expire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
