/*
 * Integers and hex as the message path writes them (mc_text): the same text as printf
 * gives, at the limits of int64 and for a million values spread over its range. Integers
 * read back strictly. Arrays of composite values read from the text PostgreSQL 15 wrote
 * for them (quotes, backslashes, commas, parentheses, empty strings and NULLs inside),
 * and every kind of malformed text refused.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "mc_text.h"

/* The next of a 64-bit xorshift sequence. */
static uint64_t xorshift(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* True when mc_format_int() writes what printf writes for v, and says its length. */
static bool same_as_printf(int64_t v)
{
    char got[MC_INT_TEXT_MAX], want[32];
    int n = mc_format_int(got, v);
    snprintf(want, sizeof(want), "%" PRId64, v);
    return strcmp(got, want) == 0 && n == (int)strlen(want);
}

static void test_int_limits(void)
{
    const int64_t values[] = {0,  1,        -1,         9,          10,        -10,
                              99, 100,      1000000007, -999999999, INT64_MAX, INT64_MIN,
                              INT64_MAX - 1, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        CU_ASSERT(same_as_printf(values[i]));
    char text[MC_INT_TEXT_MAX];
    CU_ASSERT_EQUAL(mc_format_int(text, INT64_MIN), MC_INT_TEXT_MAX - 1);
}

static void test_int_spread(void)
{
    /* every magnitude and sign: a 64-bit xorshift shifted right by 0 to 63 bits */
    uint64_t x = 0x9e3779b97f4a7c15u;
    int differ = 0;
    for (int i = 0; i < 1000000; i++) {
        int64_t v = (int64_t)(xorshift(&x) >> (i % 64));
        differ += !same_as_printf(i % 2 ? v : -v);
    }
    CU_ASSERT_EQUAL(differ, 0);
}

static void test_hex(void)
{
    const uint8_t bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[2 * sizeof(bytes) + 1];
    memset(out, 'z', sizeof(out));
    CU_ASSERT_EQUAL(mc_hex(out, bytes, sizeof(bytes)), 2 * sizeof(bytes));
    CU_ASSERT_STRING_EQUAL(out, "00017f80abff");
    char empty[1] = {'z'};
    CU_ASSERT_EQUAL(mc_hex(empty, bytes, 0), 0);
    CU_ASSERT_EQUAL(empty[0], '\0');
}

static void test_parse_int(void)
{
    int64_t v = 7;
    CU_ASSERT(mc_parse_int("0", &v) && v == 0);
    CU_ASSERT(mc_parse_int("-42", &v) && v == -42);
    CU_ASSERT(mc_parse_int("9223372036854775807", &v) && v == INT64_MAX);
    CU_ASSERT(mc_parse_int("-9223372036854775808", &v) && v == INT64_MIN);
    const char *bad[] = {"", "-", "+1", " 1", "1 ", "1x", "9223372036854775808",
                         "-9223372036854775809", "99999999999999999999", "--1"};
    v = 7;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CU_ASSERT(!mc_parse_int(bad[i], &v));
    CU_ASSERT_EQUAL(v, 7);
    /* every value mc_format_int() writes reads back */
    uint64_t x = 0x2545f4914f6cdd1du;
    int differ = 0;
    for (int i = 0; i < 100000; i++) {
        int64_t w = (int64_t)(xorshift(&x) >> (i % 64)), got = 0;
        char text[MC_INT_TEXT_MAX];
        mc_format_int(text, i % 2 ? w : -w);
        differ += !mc_parse_int(text, &got) || got != (i % 2 ? w : -w);
    }
    CU_ASSERT_EQUAL(differ, 0);
}

/* Field j of element i, or "<null>". */
static const char *field(const mc_composites_t *c, int i, int j)
{
    const char *f = c->field[i * c->n_fields + j];
    return f ? f : "<null>";
}

static void test_compare_strings(void)
{
    const char *v[] = {"b", "a", "ab", "", "B"};
    qsort(v, 5, sizeof(*v), mc_compare_strings);
    const char *want[] = {"", "B", "a", "ab", "b"};
    for (int i = 0; i < 5; i++)
        CU_ASSERT_STRING_EQUAL(v[i], want[i]);
    const char *key = "ab";
    const char **hit = bsearch(&key, v, 5, sizeof(*v), mc_compare_strings);
    CU_ASSERT_PTR_EQUAL(hit, &v[3]);
    key = "c";
    CU_ASSERT_PTR_NULL(bsearch(&key, v, 5, sizeof(*v), mc_compare_strings));
}

static void test_composites(void)
{
    mc_composites_t c;
    /* SELECT ARRAY[ROW(1,'a"b','',NULL,'x,y','back\slash'),
     *              ROW(2,'(p)',' sp ','{b}','NULL','')]::text, six-field type */
    const char *pg = "{\"(1,\\\"a\\\"\\\"b\\\",\\\"\\\",,\\\"x,y\\\",\\\"back\\\\\\\\slash\\\")\","
                     "\"(2,\\\"(p)\\\",\\\" sp \\\",{b},NULL,\\\"\\\")\"}";
    CU_ASSERT_FATAL(mc_composites_parse(&c, pg, 6));
    CU_ASSERT_EQUAL(c.n, 2);
    const char *want[2][6] = {{"1", "a\"b", "", "<null>", "x,y", "back\\slash"},
                              {"2", "(p)", " sp ", "{b}", "NULL", ""}};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 6; j++)
            CU_ASSERT_STRING_EQUAL(field(&c, i, j), want[i][j]);
    mc_composites_free(&c);

    /* a claim's lines as treating.claim_line[] writes them, 40 of them (the array grows) */
    char lines[8192] = "{";
    for (int i = 1; i <= 40; i++)
        snprintf(lines + strlen(lines), sizeof(lines) - strlen(lines),
                 "%s\"(%d,00310503001000%d,\\\"\\\",1000,%d,%d,0,0,0,%d)\"", i > 1 ? "," : "",
                 i, i % 10, 100 * i, 100 * i, 100 * i);
    strcat(lines, "}");
    CU_ASSERT_FATAL(mc_composites_parse(&c, lines, 10));
    CU_ASSERT_EQUAL(c.n, 40);
    int64_t sum = 0, v;
    for (int i = 0; i < c.n; i++) {
        CU_ASSERT(mc_parse_int(field(&c, i, 0), &v) && v == i + 1);
        CU_ASSERT_STRING_EQUAL(field(&c, i, 2), "");
        CU_ASSERT(mc_parse_int(field(&c, i, 9), &v));
        sum += v;
    }
    CU_ASSERT_EQUAL(sum, 100 * 40 * 41 / 2);
    mc_composites_free(&c);

    CU_ASSERT(mc_composites_parse(&c, "{}", 3) && c.n == 0);
    mc_composites_free(&c);
    CU_ASSERT(mc_composites_parse(&c, "{(1)}", 1) && c.n == 1 && strcmp(field(&c, 0, 0), "1") == 0);
    mc_composites_free(&c);

    const char *bad[] = {
        "",             "{",           "}",         "{}x",        "[]",
        "{NULL}",       "{\"(1,2)\"",  "{(1,2)",    "{(1,2),}",   "{,(1,2)}",
        "{(1,2,3)}",    "{(1)}",       "{1,2}",     "{(1,2)x}",   "{\"(1,2)\"x}",
        "{\"(1,\\\"2)\"}", "{(1,2)}x", "{(1,2) }", "{(1,2}", "{\"(1,2\\\\\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bool parsed = mc_composites_parse(&c, bad[i], 2);
        if (parsed)
            fprintf(stderr, "parsed, and should not have: %s\n", bad[i]);
        CU_ASSERT(!parsed && c.n == 0 && c.field == NULL);
        mc_composites_free(&c);
    }
    CU_ASSERT(!mc_composites_parse(&c, "{(1)}", 0));
    mc_composites_free(&c);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite suite = CU_add_suite("text", NULL, NULL);
    if (!suite || !CU_add_test(suite, "integers at the limits of int64", test_int_limits) ||
        !CU_add_test(suite, "integers over the range of int64", test_int_spread) ||
        !CU_add_test(suite, "bytes as lowercase hex", test_hex) ||
        !CU_add_test(suite, "integers read back strictly", test_parse_int) ||
        !CU_add_test(suite, "arrays of composite values", test_composites) ||
        !CU_add_test(suite, "C strings sorted and found by strcmp", test_compare_strings)) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
