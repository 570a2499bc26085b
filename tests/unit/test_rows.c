/*
 * What a batch holds until it writes it (mc_rows): the keys a later read asks about to
 * know whether it must flush first, through their growth, reset and reuse; and the
 * column arrays a batch's rows become, text and integers and NULLs, emptied again after
 * a reset; and which of a batch's rows a multi-row INSERT ... RETURNING wrote.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "mc_db.h"
#include "mc_rows.h"

static void key_name(char *out, size_t size, int i) { snprintf(out, size, "H3300000000%06d", i); }

static void add_row(mc_rows_t *rows, const char *key)
{
    mc_rows_int(rows, 0, 1);
    mc_rows_next(rows, key);
}

static void test_keys(void)
{
    mc_rows_t *rows = mc_rows_new("SELECT 1", 1);
    char key[32];
    CU_ASSERT_FALSE(mc_rows_holds(rows, "anything")); /* nothing allocated yet */
    /* far past the first capacity, so the key set grows several times */
    for (int i = 0; i < 5000; i += 2) {
        key_name(key, sizeof(key), i);
        add_row(rows, key);
    }
    key_name(key, sizeof(key), 0);
    add_row(rows, key); /* a second row with the same key: still one key */
    add_row(rows, NULL); /* a row no read asks for */
    CU_ASSERT_EQUAL(rows->n, 2502);
    CU_ASSERT_EQUAL(rows->n_keys, 2500);
    int found = 0, wrong = 0;
    for (int i = 0; i < 5000; i++) {
        key_name(key, sizeof(key), i);
        bool has = mc_rows_holds(rows, key);
        found += has;
        wrong += has != (i % 2 == 0);
    }
    CU_ASSERT_EQUAL(found, 2500);
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT_FALSE(mc_rows_holds(rows, ""));
    CU_ASSERT_TRUE(rows->cap > 2 * rows->n_keys);

    /* a row held by a second name too (a result by its settlement id) */
    add_row(rows, "claim-1");
    mc_rows_key(rows, "settlement-1");
    CU_ASSERT_TRUE(mc_rows_holds(rows, "claim-1"));
    CU_ASSERT_TRUE(mc_rows_holds(rows, "settlement-1"));
    CU_ASSERT_FALSE(mc_rows_holds(rows, "settlement-2"));
    CU_ASSERT_EQUAL(rows->n, 2503);

    mc_rows_reset(rows); /* the batch was rolled back, or written */
    CU_ASSERT_FALSE(mc_rows_holds(rows, "settlement-1"));
    CU_ASSERT_EQUAL(rows->n, 0);
    CU_ASSERT_EQUAL(rows->n_keys, 0);
    key_name(key, sizeof(key), 2);
    CU_ASSERT_FALSE(mc_rows_holds(rows, key));
    add_row(rows, key); /* the next batch reuses the slots */
    CU_ASSERT_TRUE(mc_rows_holds(rows, key));
    key_name(key, sizeof(key), 4);
    CU_ASSERT_FALSE(mc_rows_holds(rows, key));
    mc_rows_free(rows);
    mc_rows_free(NULL);
}

/* A result of one text column holding values, as RETURNING gives it. */
static PGresult *returned(const char *const *values, int n)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc col = {.name = "key", .typid = 25, .typlen = -1, .atttypmod = -1};
    CU_ASSERT_FATAL(res && PQsetResultAttrs(res, 1, &col));
    for (int r = 0; r < n; r++)
        CU_ASSERT_FATAL(PQsetvalue(res, r, 0, (char *)values[r], (int)strlen(values[r])));
    return res;
}

static void test_written(void)
{
    /* keys in the batch's order: a repeated key is written by its first row only */
    const char *keys[] = {"m3", "m1", "m3", NULL, "m2", "m1", "m4"};
    const char *values[] = {"m1", "m4", "m3"}; /* in any order; m2 was there before */
    bool written[7];
    PGresult *res = returned(values, 3);
    mc_db_mark_written(res, 0, keys, 7, written);
    bool expect[7] = {true, true, false, false, false, false, true};
    for (int i = 0; i < 7; i++)
        CU_ASSERT_EQUAL(written[i], expect[i]);
    PQclear(res);

    res = returned(NULL, 0); /* nothing written: every key was there before */
    mc_db_mark_written(res, 0, keys, 7, written);
    for (int i = 0; i < 7; i++)
        CU_ASSERT_FALSE(written[i]);
    PQclear(res);
}

static void test_rows(void)
{
    mc_rows_t *rows = mc_rows_new("SELECT 1", 3);
    CU_ASSERT_EQUAL(rows->n, 0);
    /* a column's values may come in any order of columns */
    mc_rows_str(rows, 0, "a \"quoted\" id");
    mc_rows_int(rows, 2, -5);
    mc_rows_str(rows, 1, NULL);
    mc_rows_next(rows, "a");
    mc_rows_int(rows, 2, INT64_MAX);
    mc_rows_str(rows, 1, "x,y");
    mc_rows_str(rows, 0, "b\\c");
    mc_rows_next(rows, "b");
    CU_ASSERT_EQUAL(rows->n, 2);
    CU_ASSERT_STRING_EQUAL(mc_array_text(&rows->col[0]), "{\"a \\\"quoted\\\" id\",\"b\\\\c\"}");
    CU_ASSERT_STRING_EQUAL(mc_array_text(&rows->col[1]), "{NULL,\"x,y\"}");
    CU_ASSERT_STRING_EQUAL(mc_array_text(&rows->col[2]), "{-5,9223372036854775807}");

    mc_rows_reset(rows);
    CU_ASSERT_EQUAL(rows->n, 0);
    CU_ASSERT_FALSE(mc_rows_holds(rows, "a"));
    mc_rows_int(rows, 0, 1);
    mc_rows_int(rows, 1, 2);
    mc_rows_int(rows, 2, 3);
    mc_rows_next(rows, NULL);
    CU_ASSERT_STRING_EQUAL(mc_array_text(&rows->col[0]), "{1}");
    CU_ASSERT_STRING_EQUAL(mc_array_text(&rows->col[2]), "{3}");
    mc_rows_free(rows);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite suite = CU_add_suite("rows", NULL, NULL);
    if (!suite || !CU_add_test(suite, "keys of the rows a batch holds", test_keys) ||
        !CU_add_test(suite, "rows as column arrays", test_rows) ||
        !CU_add_test(suite, "rows a multi-row insert wrote", test_written)) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
