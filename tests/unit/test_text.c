/*
 * Integers and hex as the message path writes them (mc_text): the same text as printf
 * gives, at the limits of int64 and for a million values spread over its range.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "mc_text.h"

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
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t v = (int64_t)(x >> (i % 64));
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

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite suite = CU_add_suite("text", NULL, NULL);
    if (!suite || !CU_add_test(suite, "integers at the limits of int64", test_int_limits) ||
        !CU_add_test(suite, "integers over the range of int64", test_int_spread) ||
        !CU_add_test(suite, "bytes as lowercase hex", test_hex)) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
