/*
 * Pipelined writes (mc_db_defer and friends, services/lib/mc_db.c) against the real
 * PostgreSQL of the integration fixture (MEDCLEAR_DB_CONNINFO): what a deferred write did
 * is seen by the next read; a deferred write that fails fails the reads after it and the
 * end of the pipeline, and after the rollback nothing of the transaction is left; a
 * PREPARE that fails inside a pipeline is not remembered as prepared. Each case works in
 * a temporary table of its own session.
 */
#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "mc_db.h"

static PGconn *db;

static int64_t count_rows(void)
{
    PGresult *res = mc_db_run(db, "SELECT count(*) FROM pipe_t", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    int64_t n = mc_db_int(res, 0, 0);
    PQclear(res);
    return n;
}

static bool insert(int64_t x)
{
    mc_params_t p;
    mc_params_init(&p);
    mc_p_int(&p, x);
    return mc_db_defer(db, "INSERT INTO pipe_t (x) VALUES ($1)", &p);
}

static void begin(void)
{
    CU_ASSERT_FATAL(mc_db_do(db, "BEGIN", NULL));
    CU_ASSERT_FATAL(mc_db_pipeline_begin(db));
}

static int setup(void)
{
    const char *conninfo = getenv("MEDCLEAR_DB_CONNINFO");
    char err[256];
    if (!conninfo || !(db = mc_db_connect(conninfo, err, sizeof(err)))) {
        fprintf(stderr, "test_pipeline: %s\n", conninfo ? err : "MEDCLEAR_DB_CONNINFO is not set");
        return 1;
    }
    return mc_db_do(db, "CREATE TEMP TABLE pipe_t (x bigint NOT NULL CHECK (x > 0))", NULL) ? 0 : 1;
}

static int teardown(void)
{
    PQfinish(db);
    return 0;
}

static void test_deferred_seen_by_next_read(void)
{
    int64_t before = count_rows();
    begin();
    CU_ASSERT(insert(1));
    CU_ASSERT(insert(2));
    CU_ASSERT(insert(3));
    CU_ASSERT_EQUAL(count_rows(), before + 3); /* read in the pipeline, after the inserts */
    CU_ASSERT(insert(4));
    CU_ASSERT(mc_db_do(db, "SELECT 1", NULL)); /* synchronous in the pipeline too */
    CU_ASSERT(insert(5));
    CU_ASSERT(mc_db_pipeline_end(db));
    CU_ASSERT(mc_db_do(db, "COMMIT", NULL));
    CU_ASSERT_EQUAL(count_rows(), before + 5);
}

static void test_failed_write_fails_what_follows(void)
{
    int64_t before = count_rows();
    begin();
    CU_ASSERT(insert(6));
    CU_ASSERT(insert(-1)); /* sent: its failure is only known later */
    CU_ASSERT(insert(7));
    PGresult *res = mc_db_run(db, "SELECT count(*) FROM pipe_t", NULL);
    CU_ASSERT_PTR_NULL(res);
    PQclear(res);
    CU_ASSERT_PTR_NULL(mc_db_run(db, "SELECT 1", NULL)); /* still failed */
    CU_ASSERT_FALSE(mc_db_pipeline_end(db));
    CU_ASSERT(PQpipelineStatus(db) == PQ_PIPELINE_OFF);
    CU_ASSERT(mc_db_do(db, "ROLLBACK", NULL));
    CU_ASSERT_EQUAL(count_rows(), before); /* nothing half-applied */
}

static void test_failure_found_at_end(void)
{
    int64_t before = count_rows();
    begin();
    CU_ASSERT(insert(8));
    CU_ASSERT(insert(0));
    CU_ASSERT_FALSE(mc_db_pipeline_end(db));
    CU_ASSERT(mc_db_do(db, "ROLLBACK", NULL));
    CU_ASSERT_EQUAL(count_rows(), before);
}

static void test_failed_prepare_forgotten(void)
{
    static const char *bad = "INSERT INTO pipe_no_such_table (x) VALUES ($1)";
    mc_params_t p;
    mc_params_init(&p);
    mc_p_int(&p, 1);
    begin();
    CU_ASSERT(mc_db_defer(db, bad, &p));
    CU_ASSERT_FALSE(mc_db_pipeline_end(db));
    CU_ASSERT(mc_db_do(db, "ROLLBACK", NULL));
    /* once the table exists the same text prepares and runs: no stale name was kept */
    CU_ASSERT(mc_db_do(db, "CREATE TEMP TABLE pipe_no_such_table (x bigint)", NULL));
    int64_t before = count_rows();
    begin();
    CU_ASSERT(mc_db_defer(db, bad, &p));
    CU_ASSERT(insert(9));
    CU_ASSERT(mc_db_pipeline_end(db));
    CU_ASSERT(mc_db_do(db, "COMMIT", NULL));
    PGresult *res = mc_db_run(db, "SELECT count(*) FROM pipe_no_such_table", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    CU_ASSERT_EQUAL(mc_db_int(res, 0, 0), 1);
    PQclear(res);
    CU_ASSERT_EQUAL(count_rows(), before + 1);
}

static void test_defer_outside_pipeline_runs_now(void)
{
    int64_t before = count_rows();
    CU_ASSERT(insert(10));
    CU_ASSERT_EQUAL(count_rows(), before + 1);
    CU_ASSERT_FALSE(insert(-5)); /* its failure is known at once */
    CU_ASSERT(mc_db_pipeline_end(db)); /* no pipeline: nothing to end */
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("pipeline", setup, teardown);
    if (s == NULL ||
        !CU_add_test(s, "deferred writes are seen by the next read",
                     test_deferred_seen_by_next_read) ||
        !CU_add_test(s, "a failed write fails what follows it",
                     test_failed_write_fails_what_follows) ||
        !CU_add_test(s, "a failure found at the end", test_failure_found_at_end) ||
        !CU_add_test(s, "a failed PREPARE is forgotten", test_failed_prepare_forgotten) ||
        !CU_add_test(s, "outside a pipeline a write runs at once",
                     test_defer_outside_pipeline_runs_now)) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    /* a suite whose setup failed runs no test: that is a failure too */
    bool ok = CU_get_number_of_failures() == 0 && CU_get_number_of_suites_failed() == 0 &&
              CU_get_number_of_tests_run() == 5;
    CU_cleanup_registry();
    return ok ? 0 : 1;
}
