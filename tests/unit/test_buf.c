#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/names.h"

static void test_put_get_roundtrip(void **state)
{
    (void)state;
    ferry_buf *b = ferry_buf_new(0);
    assert_non_null(b);
    assert_int_equal(ferry_buf_put_u8(b, 7), FERRY_OK);
    assert_int_equal(ferry_buf_put_u32(b, 0xdeadbeef), FERRY_OK);
    assert_int_equal(ferry_buf_put_u64(b, 0x0102030405060708ull), FERRY_OK);
    assert_int_equal(ferry_buf_put_cstring(b, "hello"), FERRY_OK);
    assert_int_equal(ferry_buf_put_bool(b, 5), FERRY_OK);

    ferry_rd r;
    ferry_rd_from_buf(&r, b);
    uint8_t u8;
    uint32_t u32;
    uint64_t u64;
    const uint8_t *p;
    size_t n;
    int bo;
    assert_int_equal(ferry_rd_u8(&r, &u8), FERRY_OK);
    assert_int_equal(u8, 7);
    assert_int_equal(ferry_rd_u32(&r, &u32), FERRY_OK);
    assert_int_equal(u32, 0xdeadbeef);
    assert_int_equal(ferry_rd_u64(&r, &u64), FERRY_OK);
    assert_true(u64 == 0x0102030405060708ull);
    assert_int_equal(ferry_rd_string(&r, &p, &n), FERRY_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(p, "hello", 5);
    assert_int_equal(ferry_rd_bool(&r, &bo), FERRY_OK);
    assert_int_equal(bo, 1);
    assert_int_equal(ferry_rd_end(&r), FERRY_OK);
    assert_int_equal(ferry_rd_u8(&r, &u8), FERRY_E_FORMAT);
    ferry_buf_free(b);
}

static void test_string_overrun_leaves_reader(void **state)
{
    (void)state;
    const uint8_t msg[] = {0, 0, 0, 9, 'a', 'b', 'c'};
    ferry_rd r;
    ferry_rd_init(&r, msg, sizeof(msg));
    const uint8_t *p;
    size_t n;
    assert_int_equal(ferry_rd_string(&r, &p, &n), FERRY_E_FORMAT);
    assert_int_equal(ferry_rd_left(&r), sizeof(msg)); /* all-or-nothing */
    const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 'x'};
    ferry_rd_init(&r, huge, sizeof(huge));
    assert_int_equal(ferry_rd_string(&r, &p, &n), FERRY_E_FORMAT);
}

static void test_mpint_rules(void **state)
{
    (void)state;
    /* RFC 4251 s5 examples */
    ferry_buf *b = ferry_buf_new(0);
    const uint8_t v80[] = {0x80};
    assert_int_equal(ferry_buf_put_mpint(b, v80, 1), FERRY_OK);
    const uint8_t want80[] = {0, 0, 0, 2, 0, 0x80};
    assert_int_equal(ferry_buf_len(b), sizeof(want80));
    assert_memory_equal(ferry_buf_data(b), want80, sizeof(want80));
    ferry_buf_reset(b);
    const uint8_t zero[] = {0, 0};
    assert_int_equal(ferry_buf_put_mpint(b, zero, 2), FERRY_OK);
    const uint8_t want0[] = {0, 0, 0, 0};
    assert_memory_equal(ferry_buf_data(b), want0, 4);
    ferry_buf_free(b);

    ferry_rd r;
    const uint8_t *p;
    size_t n;
    const uint8_t neg[] = {0, 0, 0, 1, 0x80};
    ferry_rd_init(&r, neg, sizeof(neg));
    assert_int_equal(ferry_rd_mpint(&r, &p, &n), FERRY_E_FORMAT);
    const uint8_t nonmin[] = {0, 0, 0, 2, 0, 0x01};
    ferry_rd_init(&r, nonmin, sizeof(nonmin));
    assert_int_equal(ferry_rd_mpint(&r, &p, &n), FERRY_E_FORMAT);
    ferry_rd_init(&r, want80, sizeof(want80));
    assert_int_equal(ferry_rd_mpint(&r, &p, &n), FERRY_OK);
    assert_int_equal(n, 1);
    assert_int_equal(p[0], 0x80);
}

static void test_max_enforced(void **state)
{
    (void)state;
    ferry_buf *b = ferry_buf_new(8);
    assert_int_equal(ferry_buf_put_u64(b, 1), FERRY_OK);
    assert_int_equal(ferry_buf_put_u8(b, 1), FERRY_E_TOO_LARGE);
    assert_int_equal(ferry_buf_len(b), 8);
    assert_int_equal(ferry_buf_consume(b, 4), FERRY_OK);
    assert_int_equal(ferry_buf_put_u32(b, 9), FERRY_OK);
    assert_int_equal(ferry_buf_consume(b, 9), FERRY_E_FORMAT);
    ferry_buf_free(b);
    ferry_buf_free(NULL);
}

static void test_name_and_cstring(void **state)
{
    (void)state;
    const uint8_t nul[] = {0, 0, 0, 3, 'a', 0, 'b'};
    ferry_rd r;
    char out[8];
    ferry_rd_init(&r, nul, sizeof(nul));
    assert_int_equal(ferry_rd_name(&r, out, sizeof(out)), FERRY_E_FORMAT);
    const uint8_t longer[] = {0, 0, 0, 8, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'};
    ferry_rd_init(&r, longer, sizeof(longer));
    assert_int_equal(ferry_rd_name(&r, out, sizeof(out)), FERRY_E_TOO_LARGE);
    char *s;
    assert_int_equal(ferry_rd_cstring(&r, 100, &s, NULL), FERRY_OK);
    assert_string_equal(s, "abcdefgh");
    free(s);
}

static void test_names(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(ferry_names_first_match("a,b,c", "c,b", out, sizeof(out)), FERRY_OK);
    assert_string_equal(out, "b");
    assert_int_equal(ferry_names_first_match("a", "b", out, sizeof(out)), FERRY_E_NO_ALG_MATCH);
    char *l;
    assert_int_equal(ferry_names_apply("x,y", "x,y,z", "+z", &l), FERRY_OK);
    assert_string_equal(l, "x,y,z");
    free(l);
    assert_int_equal(ferry_names_apply("x,y,z", "x,y,z", "-y*", &l), FERRY_OK);
    assert_string_equal(l, "x,z");
    free(l);
    assert_int_equal(ferry_names_apply("x,y", "x,y,z", "^z", &l), FERRY_OK);
    assert_string_equal(l, "z,x,y");
    free(l);
    assert_int_equal(ferry_names_apply("x,y", "x,y,z", "q", &l), FERRY_E_NO_ALG_MATCH);
    assert_true(ferry_names_wildcard("aes*-ctr", "aes128-ctr"));
    assert_false(ferry_names_wildcard("aes*-ctr", "aes128-gcm"));
}

static void test_wildcard(void **state)
{
    (void)state;
    static const struct {
        const char *pat, *s;
        int want;
    } t[] = {
        {"", "", 1},
        {"", "a", 0},
        {"*", "", 1},
        {"*", "anything", 1},
        {"**", "", 1},
        {"?", "", 0},
        {"?", "x", 1},
        {"?", "xy", 0},
        {"??", "xy", 1},
        {"a*", "a", 1},
        {"a*", "abc", 1},
        {"a*", "ba", 0},
        {"*a", "bca", 1},
        {"*a", "ab", 0},
        {"a*b*c", "abc", 1},
        {"a*b*c", "aXbYc", 1},
        {"a*b*c", "acb", 0},
        {"a*b", "abab", 1},
        {"a*b", "abba", 0},
        {"*.example.com", "h.example.com", 1},
        {"*.example.com", "example.com", 0},
        {"h?st*", "host1", 1},
        {"*?", "", 0},
        {"*?", "x", 1},
        {"a**b", "ab", 1},
        {"*ab", "aab", 1},
        {"*aab", "aaab", 1},
        {"a*ab", "aab", 1},
        {"A*", "a", 0}, /* case-sensitive */
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (ferry_names_wildcard(t[i].pat, t[i].s) != t[i].want) {
            fail_msg("\"%s\" against \"%s\": want %d", t[i].pat, t[i].s, t[i].want);
        }
    }
    /* "*a*a*a...*b" against a run of a's: the recursive matcher tried every
     * placement of the 40 stars (about 10^29 for 120 characters) */
    char pat[128] = "", s[256];
    for (int i = 0; i < 40; i++) {
        strcat(pat, "*a");
    }
    strcat(pat, "*b");
    memset(s, 'a', 200);
    s[200] = '\0';
    assert_false(ferry_names_wildcard(pat, s));
    s[199] = 'b';
    assert_true(ferry_names_wildcard(pat, s));
    s[10] = '\0'; /* fewer a's than the pattern wants */
    assert_false(ferry_names_wildcard(pat, s));
    /* a star in the name is an ordinary character, a star in the pattern
     * always a wildcard */
    assert_true(ferry_names_wildcard("a*b", "a*c*b"));
    /* length-bounded pattern, case folding (ASCII only) */
    assert_true(ferry_names_wildcard_n("*.EXAMPLE.com,other", 13, "h.example.COM", 1));
    assert_false(ferry_names_wildcard_n("*.EXAMPLE.com,other", 13, "h.example.COM", 0));
    assert_false(ferry_names_wildcard_n("*.EXAMPLE.com,other", 14, "h.example.COM", 1));
    assert_true(ferry_names_wildcard_n("ab", 1, "a", 0));
    assert_false(ferry_names_wildcard_n("\xc3\x89", 2, "\xc3\xa9", 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_roundtrip),
        cmocka_unit_test(test_string_overrun_leaves_reader),
        cmocka_unit_test(test_mpint_rules),
        cmocka_unit_test(test_max_enforced),
        cmocka_unit_test(test_name_and_cstring),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_wildcard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
