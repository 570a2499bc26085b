/*
 * Pipelined writes (mc_db_defer and friends, services/lib/mc_db.c) against the real
 * PostgreSQL of the integration fixture (MEDCLEAR_DB_CONNINFO): what a deferred write did
 * is seen by the next read; a deferred write that fails fails the reads after it and the
 * end of the pipeline, and after the rollback nothing of the transaction is left; a
 * PREPARE that fails inside a pipeline is not remembered as prepared. Each case works in
 * a temporary table of its own session. Which failures are races lost to another
 * transaction (mc_db_lost_race()). Also against the server: the array literals of
 * multi-row writes (mc_array) carry any text, binary bytea arrays (mc_bytes_array) any
 * bytes, and a batch's ledger entries (mc_ledger.c)
 * post as the entries they are, checked by the ledger's own constraints.
 */
#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "mc_db.h"
#include "mc_ledger.h"

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

/* Which failures count as a race lost to another transaction, in and out of a pipeline. */
static void test_lost_race(void)
{
    CU_ASSERT(mc_db_do(db, "CREATE TEMP TABLE race_t (k bigint PRIMARY KEY)", NULL));
    CU_ASSERT(mc_db_do(db, "INSERT INTO race_t VALUES (1)", NULL));
    CU_ASSERT_FALSE(mc_db_do(db, "INSERT INTO race_t VALUES (1)", NULL)); /* 23505 */
    CU_ASSERT(mc_db_lost_race());
    CU_ASSERT_FALSE(insert(-3)); /* a check constraint (23514): the row's own fault */
    CU_ASSERT_FALSE(mc_db_lost_race());
    begin(); /* in a pipeline the failure is found when the results are read */
    CU_ASSERT(mc_db_defer(db, "INSERT INTO race_t VALUES (1)", NULL));
    CU_ASSERT_FALSE(mc_db_pipeline_end(db));
    CU_ASSERT(mc_db_lost_race());
    CU_ASSERT(mc_db_do(db, "ROLLBACK", NULL));
    CU_ASSERT_FALSE(mc_db_do(db, "SELECT 1/0", NULL)); /* 22012 */
    CU_ASSERT_FALSE(mc_db_lost_race());
    CU_ASSERT_FALSE(mc_db_do(db, "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40P01'; END $$",
                             NULL)); /* as a deadlock is reported */
    CU_ASSERT(mc_db_lost_race());
    CU_ASSERT(mc_db_do(db, "DROP TABLE race_t", NULL));
}

static void test_defer_outside_pipeline_runs_now(void)
{
    int64_t before = count_rows();
    CU_ASSERT(insert(10));
    CU_ASSERT_EQUAL(count_rows(), before + 1);
    CU_ASSERT_FALSE(insert(-5)); /* its failure is known at once */
    CU_ASSERT(mc_db_pipeline_end(db)); /* no pipeline: nothing to end */
}

/* Text with quotes, backslashes, commas, braces, spaces, NULL-like words and non-ASCII
 * comes back from the server's array parser exactly as it went in. */
static void test_array_text_round_trip(void)
{
    static const char *const texts[] = {
        "plain", "", "with \"quotes\"", "back\\slash\\", "{braces},commas", " spaced ",
        "NULL", "\\x00ff", "\xe5\x8c\xbb\xe4\xbf\x9d", "\"", "\\\\\"\\"};
    enum { N = sizeof(texts) / sizeof(texts[0]) };
    mc_array_t a;
    mc_array_init(&a);
    for (int i = 0; i < N; i++)
        mc_array_str(&a, texts[i]);
    mc_array_str(&a, NULL);
    mc_params_t p;
    mc_params_init(&p);
    mc_p_str(&p, mc_array_text(&a));
    PGresult *res = mc_db_run(db, "SELECT t FROM unnest($1::text[]) WITH ORDINALITY u(t, n) ORDER BY n",
                              &p);
    mc_array_free(&a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    CU_ASSERT_EQUAL_FATAL(PQntuples(res), N + 1);
    for (int i = 0; i < N; i++)
        CU_ASSERT_STRING_EQUAL(PQgetvalue(res, i, 0), texts[i]);
    CU_ASSERT(PQgetisnull(res, N, 0));
    PQclear(res);
}

/* A bytea[] in binary (mc_bytes_array): the server reads back every value byte for byte,
 * a NULL as NULL and an empty value as empty; an array of none is empty. The type the
 * statement names is checked by the server against the one in the array's header. */
static void test_bytes_array_round_trip(void)
{
    enum { LONG = 100000 };
    uint8_t *big = malloc(LONG);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    for (int i = 0; i < LONG; i++)
        big[i] = (uint8_t)(i * 7 + i / 256);
    static const uint8_t raw[] = {0x00, 0x5c, 0x22, 0xff, 0x7b, 0x2c};
    mc_bytes_array_t a;
    mc_bytes_array_init(&a);
    mc_bytes_array_add(&a, raw, sizeof(raw));
    mc_bytes_array_add(&a, NULL, 0);
    mc_bytes_array_add(&a, "", 0);
    mc_bytes_array_add(&a, big, LONG);
    mc_params_t p;
    mc_params_init(&p);
    mc_p_bytes_array(&p, &a);
    PGresult *res = mc_db_run(db,
                              "SELECT encode(b, 'hex'), b IS NULL, length(b), md5(b) "
                              "FROM unnest($1::bytea[]) WITH ORDINALITY u(b, n) ORDER BY n",
                              &p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    CU_ASSERT_EQUAL_FATAL(PQntuples(res), 4);
    CU_ASSERT_STRING_EQUAL(PQgetvalue(res, 0, 0), "005c22ff7b2c");
    CU_ASSERT_STRING_EQUAL(PQgetvalue(res, 1, 1), "t");
    CU_ASSERT_STRING_EQUAL(PQgetvalue(res, 2, 1), "f");
    CU_ASSERT_STRING_EQUAL(PQgetvalue(res, 2, 2), "0");
    CU_ASSERT_EQUAL(mc_db_int(res, 3, 2), LONG);
    PQclear(res);
    /* the long value's digest, from the same bytes sent as one bytea parameter */
    mc_params_init(&p);
    mc_p_bytes(&p, big, LONG);
    mc_p_bytes_array(&p, &a);
    res = mc_db_run(db, "SELECT md5($1::bytea) = md5(($2::bytea[])[4])", &p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    CU_ASSERT_STRING_EQUAL(PQgetvalue(res, 0, 0), "t");
    PQclear(res);
    mc_bytes_array_free(&a);
    free(big);

    mc_bytes_array_init(&a);
    mc_params_init(&p);
    mc_p_bytes_array(&p, &a);
    res = mc_db_run(db, "SELECT cardinality($1::bytea[])", &p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    CU_ASSERT_STRING_EQUAL(PQgetvalue(res, 0, 0), "0");
    PQclear(res);
    /* named as another type, the array is refused, not misread */
    mc_params_init(&p);
    mc_bytes_array_add(&a, raw, sizeof(raw));
    mc_p_bytes_array(&p, &a);
    res = mc_db_run(db, "SELECT cardinality($1::text[])", &p);
    CU_ASSERT_PTR_NULL(res);
    PQclear(res);
    mc_bytes_array_free(&a);
}

/* Postings of the entries of claim claim_id in schema s: "account:debit:credit;" each,
 * in entry then account order, into out. */
static void postings_of(const char *s, const char *claim_id, char *out, size_t size)
{
    char sql[400];
    snprintf(sql, sizeof(sql),
             "SELECT coalesce(string_agg(format('%%s:%%s:%%s:%%s', j.memo, p.account, "
             "p.debit_fen, p.credit_fen), ';' ORDER BY j.entry_id, p.account), '') "
             "FROM %s.journal j JOIN %s.postings p USING (entry_id) WHERE j.claim_id = $1",
             s, s);
    mc_params_t p;
    mc_params_init(&p);
    mc_p_str(&p, claim_id);
    PGresult *res = mc_db_run(db, sql, &p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    snprintf(out, size, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
}

/* A batch's entries, posted in a pipeline to the treating region's ledger: each entry
 * balanced with its two postings, a negative amount the other way round, nothing for 0,
 * new accounts with their kinds, entry ids in the order added; the deferred balance
 * check holds. Rolled back: the fixture's ledger is left as it was. */
static void test_ledger_batch_posts(void)
{
    mc_ledger_t *l = mc_ledger_new("treating", false);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    begin();
    mc_ledger_add(l, "m1", "LEDGER-T1", "due_from:t\"q", "ASSET", "payable:H,1", "LIABILITY", 1234);
    mc_ledger_add(l, "m2", "LEDGER-T2", "due_from:t\"q", "ASSET", "payable:H,1", "LIABILITY", -500);
    mc_ledger_add(l, "m3", "LEDGER-T3", "due_from:t\"q", "ASSET", "payable:H,1", "LIABILITY", 0);
    CU_ASSERT_EQUAL(mc_ledger_count(l), 2);
    CU_ASSERT(mc_ledger_flush(l, db));
    CU_ASSERT_EQUAL(mc_ledger_count(l), 0);
    CU_ASSERT(mc_db_do(db, "SET CONSTRAINTS ALL IMMEDIATE", NULL)); /* the balance checks */
    char got[512];
    postings_of("treating", "LEDGER-T1", got, sizeof(got));
    CU_ASSERT_STRING_EQUAL(got, "claim LEDGER-T1:due_from:t\"q:1234:0;claim LEDGER-T1:payable:H,1:0:1234");
    postings_of("treating", "LEDGER-T2", got, sizeof(got));
    CU_ASSERT_STRING_EQUAL(got, "claim LEDGER-T2:due_from:t\"q:0:500;claim LEDGER-T2:payable:H,1:500:0");
    postings_of("treating", "LEDGER-T3", got, sizeof(got));
    CU_ASSERT_STRING_EQUAL(got, "");
    PGresult *res = mc_db_run(db,
        "SELECT (SELECT string_agg(kind, ',' ORDER BY account) FROM treating.accounts "
        "        WHERE account IN ('due_from:t\"q', 'payable:H,1')), "
        "       (SELECT string_agg(source_id, ',' ORDER BY entry_id) FROM treating.journal "
        "        WHERE claim_id LIKE 'LEDGER-T%')",
        NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    CU_ASSERT_STRING_EQUAL(PQgetvalue(res, 0, 0), "ASSET,LIABILITY");
    CU_ASSERT_STRING_EQUAL(PQgetvalue(res, 0, 1), "m1,m2");
    PQclear(res);
    CU_ASSERT(mc_db_pipeline_end(db));
    CU_ASSERT(mc_db_do(db, "ROLLBACK", NULL));
    mc_ledger_free(l);
}

/* Nothing is posted for a batch that is discarded, or that has no entries. */
static void test_ledger_discard(void)
{
    mc_ledger_t *l = mc_ledger_new("treating", false);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT(mc_db_do(db, "BEGIN", NULL));
    mc_ledger_add(l, "m1", "LEDGER-D1", "due_from:x", "ASSET", "payable:y", "LIABILITY", 99);
    mc_ledger_discard(l);
    CU_ASSERT_EQUAL(mc_ledger_count(l), 0);
    CU_ASSERT(mc_ledger_flush(l, db));
    char got[256];
    postings_of("treating", "LEDGER-D1", got, sizeof(got));
    CU_ASSERT_STRING_EQUAL(got, "");
    CU_ASSERT(mc_db_do(db, "ROLLBACK", NULL));
    mc_ledger_free(l);
}

/* A windowed ledger's journal names the window its claim is booked in, as the same
 * transaction left the claim; a posting to an account of a kind the ledger refuses fails
 * the flush (outside a pipeline, at once). Works in temporary tables of its own. */
static void test_ledger_windowed(void)
{
    CU_ASSERT_FATAL(mc_db_do(db,
        "CREATE TEMP TABLE claims (claim_id text PRIMARY KEY, window_id text); "
        "CREATE TEMP TABLE accounts (account text PRIMARY KEY, "
        "  kind text NOT NULL CHECK (kind IN ('ASSET', 'LIABILITY'))); "
        "CREATE TEMP TABLE journal (entry_id bigserial PRIMARY KEY, source_id text NOT NULL, "
        "  window_id text, memo text NOT NULL, claim_id text); "
        "CREATE TEMP TABLE postings (entry_id bigint NOT NULL REFERENCES journal, "
        "  account text NOT NULL REFERENCES accounts, debit_fen bigint NOT NULL, "
        "  credit_fen bigint NOT NULL)",
        NULL));
    mc_ledger_t *l = mc_ledger_new("pg_temp", true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l);
    CU_ASSERT(mc_db_do(db, "BEGIN", NULL));
    CU_ASSERT(mc_db_do(db, "INSERT INTO claims VALUES ('W1', 'old'), ('W2', NULL)", NULL));
    CU_ASSERT(mc_db_do(db, "UPDATE claims SET window_id = 'W-2026-12' WHERE claim_id = 'W1'", NULL));
    mc_ledger_add(l, "m1", "W1", "receivable:a", "ASSET", "payable:b", "LIABILITY", 10);
    mc_ledger_add(l, "m2", "W2", "receivable:a", "ASSET", "payable:b", "LIABILITY", 20);
    CU_ASSERT(mc_ledger_flush(l, db));
    PGresult *res = mc_db_run(db,
        "SELECT string_agg(claim_id || '=' || coalesce(window_id, '-'), ',' ORDER BY entry_id) "
        "FROM journal", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(res);
    CU_ASSERT_STRING_EQUAL(PQgetvalue(res, 0, 0), "W1=W-2026-12,W2=-");
    PQclear(res);
    mc_ledger_add(l, "m3", "W1", "expense:a", "EXPENSE", "payable:b", "LIABILITY", 5);
    CU_ASSERT_FALSE(mc_ledger_flush(l, db));
    CU_ASSERT_EQUAL(mc_ledger_count(l), 0); /* forgotten with the transaction */
    CU_ASSERT(mc_db_do(db, "ROLLBACK", NULL));
    mc_ledger_free(l);
    CU_ASSERT_PTR_NULL(mc_ledger_new("a_schema_name_longer_than_thirty_two_bytes", false));
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
        !CU_add_test(s, "a race lost to another transaction is told apart", test_lost_race) ||
        !CU_add_test(s, "outside a pipeline a write runs at once",
                     test_defer_outside_pipeline_runs_now) ||
        !CU_add_test(s, "array literals carry any text", test_array_text_round_trip) ||
        !CU_add_test(s, "binary bytea arrays carry any bytes", test_bytes_array_round_trip) ||
        !CU_add_test(s, "a batch's ledger entries post", test_ledger_batch_posts) ||
        !CU_add_test(s, "a discarded batch posts nothing", test_ledger_discard) ||
        !CU_add_test(s, "a windowed journal names the claim's window", test_ledger_windowed)) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    /* a suite whose setup failed runs no test: that is a failure too */
    bool ok = CU_get_number_of_failures() == 0 && CU_get_number_of_suites_failed() == 0 &&
              CU_get_number_of_tests_run() == 11;
    CU_cleanup_registry();
    return ok ? 0 : 1;
}
