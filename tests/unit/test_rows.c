/*
 * What a batch holds until it writes it (mc_rows): the key set a later read asks
 * whether it must flush first, through its growth, clearing and reuse; and the column
 * arrays a batch's rows become, text and integers and NULLs, emptied again after a reset.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "mc_rows.h"

static void key_name(char *out, size_t size, int i) { snprintf(out, size, "H3300000000%06d", i); }

static void test_keys(void)
{
    mc_keys_t keys = {0};
    char key[32];
    CU_ASSERT_FALSE(mc_keys_has(&keys, "anything")); /* nothing allocated yet */
    /* far past the first capacity, so the set grows several times */
    for (int i = 0; i < 5000; i += 2) {
        key_name(key, sizeof(key), i);
        mc_keys_add(&keys, key);
    }
    key_name(key, sizeof(key), 0);
    mc_keys_add(&keys, key); /* twice: still one key */
    CU_ASSERT_EQUAL(keys.n, 2500);
    int found = 0, wrong = 0;
    for (int i = 0; i < 5000; i++) {
        key_name(key, sizeof(key), i);
        bool has = mc_keys_has(&keys, key);
        found += has;
        wrong += has != (i % 2 == 0);
    }
    CU_ASSERT_EQUAL(found, 2500);
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT_FALSE(mc_keys_has(&keys, ""));
    CU_ASSERT_TRUE(keys.cap > 2 * keys.n);

    mc_keys_clear(&keys);
    CU_ASSERT_EQUAL(keys.n, 0);
    key_name(key, sizeof(key), 2);
    CU_ASSERT_FALSE(mc_keys_has(&keys, key));
    mc_keys_add(&keys, key); /* the next batch reuses the slots */
    CU_ASSERT_TRUE(mc_keys_has(&keys, key));
    key_name(key, sizeof(key), 4);
    CU_ASSERT_FALSE(mc_keys_has(&keys, key));
    mc_keys_free(&keys);
    CU_ASSERT_EQUAL(keys.cap, 0);
    CU_ASSERT_FALSE(mc_keys_has(&keys, key));
}

static void test_rows(void)
{
    mc_rows_t rows;
    mc_rows_init(&rows, "SELECT 1", 3);
    CU_ASSERT_EQUAL(rows.n, 0);
    /* a column's values may come in any order of columns */
    mc_rows_str(&rows, 0, "a \"quoted\" id");
    mc_rows_int(&rows, 2, -5);
    mc_rows_str(&rows, 1, NULL);
    mc_rows_next(&rows);
    mc_rows_int(&rows, 2, INT64_MAX);
    mc_rows_str(&rows, 1, "x,y");
    mc_rows_str(&rows, 0, "b\\c");
    mc_rows_next(&rows);
    CU_ASSERT_EQUAL(rows.n, 2);
    CU_ASSERT_STRING_EQUAL(mc_array_text(&rows.col[0]), "{\"a \\\"quoted\\\" id\",\"b\\\\c\"}");
    CU_ASSERT_STRING_EQUAL(mc_array_text(&rows.col[1]), "{NULL,\"x,y\"}");
    CU_ASSERT_STRING_EQUAL(mc_array_text(&rows.col[2]), "{-5,9223372036854775807}");

    mc_rows_reset(&rows);
    CU_ASSERT_EQUAL(rows.n, 0);
    mc_rows_int(&rows, 0, 1);
    mc_rows_int(&rows, 1, 2);
    mc_rows_int(&rows, 2, 3);
    mc_rows_next(&rows);
    CU_ASSERT_STRING_EQUAL(mc_array_text(&rows.col[0]), "{1}");
    CU_ASSERT_STRING_EQUAL(mc_array_text(&rows.col[2]), "{3}");
    mc_rows_free(&rows);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite suite = CU_add_suite("rows", NULL, NULL);
    if (!suite || !CU_add_test(suite, "keys a batch holds", test_keys) ||
        !CU_add_test(suite, "rows as column arrays", test_rows)) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
