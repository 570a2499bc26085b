/*
 * `medclear verify`: the cross-service invariants of DESIGN.md section 7 that concern
 * claims, checked from the records of the three services:
 *
 *   1. every claim settled anywhere is settled on all three sides, once, with the same
 *      total, fund, tier 2, account, cash and settlement id;
 *   2. each person's accumulators equal the opening figures plus the sum of their
 *      settlements (undos count negative);
 *   3. each personal account balance equals its opening balance less the account
 *      payments of the settlements;
 *   4. every request received was answered exactly once, and none is still waiting;
 *   5. the three ledgers post the same fund amount for every claim, and each balances;
 *   6. the nets of every statement sum to zero; each pair's usage equals its bookings less
 *      its payments, and its quota the sum of its quota movements;
 *   7. every ledger's latest balance snapshot equals the sum of the postings it covers;
 *   8. the net transfers of every settled multilateral window sum to zero, and the
 *      centre's settlement account holds nothing of it;
 *   9. every outbox row was published;
 *  10. the domain figures the triggers keep for /metrics equal the tables counted again.
 *
 * Each failed check names the claims, persons or requests (up to 20). The exit status is
 * 0 when all hold, 1 otherwise. --wait-ms N checks again until all hold or N ms passed,
 * for use right after a load while the last messages are still in flight.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mc_bus.h"
#include "mc_db.h"
#include "tool.h"

typedef struct check {
    const char *name;
    const char *sql; /* returns one row per violation: id, then a description */
} check_t;

static const check_t checks[] = {
    {"claims agree on the three sides",
     "WITH t AS (SELECT claim_id, total_fen, fund_fen, tier2_fen, account_fen, cash_fen, "
     "  settlement_id FROM treating.claims WHERE status = 'SETTLED'), "
     "c AS (SELECT claim_id, total_fen, fund_fen, tier2_fen, account_fen, cash_fen, "
     "  settlement_id FROM clearing.claims WHERE status = 'SETTLED'), "
     "i AS (SELECT claim_id, total_fen, fund_fen, tier2_fen, account_fen, cash_fen, "
     "  settlement_id FROM insuring.settlements WHERE status IN ('SETTLED', 'CANCELLED')) "
     "SELECT coalesce(t.claim_id, c.claim_id, i.claim_id), "
     "  format('treating %s / clearing %s / insuring %s', "
     "    coalesce(t.total_fen || ':' || t.fund_fen || ':' || t.tier2_fen || ':' || t.account_fen "
     "      || ':' || t.cash_fen || ':' || t.settlement_id, 'missing'), "
     "    coalesce(c.total_fen || ':' || c.fund_fen || ':' || c.tier2_fen || ':' || c.account_fen "
     "      || ':' || c.cash_fen || ':' || c.settlement_id, 'missing'), "
     "    coalesce(i.total_fen || ':' || i.fund_fen || ':' || i.tier2_fen || ':' || i.account_fen "
     "      || ':' || i.cash_fen || ':' || i.settlement_id, 'missing')) "
     "FROM t FULL JOIN c USING (claim_id) FULL JOIN i USING (claim_id) "
     "WHERE t.claim_id IS NULL OR c.claim_id IS NULL OR i.claim_id IS NULL "
     "  OR (t.total_fen, t.fund_fen, t.tier2_fen, t.account_fen, t.cash_fen, t.settlement_id) "
     "     IS DISTINCT FROM (c.total_fen, c.fund_fen, c.tier2_fen, c.account_fen, c.cash_fen, "
     "     c.settlement_id) "
     "  OR (t.total_fen, t.fund_fen, t.tier2_fen, t.account_fen, t.cash_fen, t.settlement_id) "
     "     IS DISTINCT FROM (i.total_fen, i.fund_fen, i.tier2_fen, i.account_fen, i.cash_fen, "
     "     i.settlement_id) "
     "ORDER BY 1"},
    {"accumulators equal openings plus their settlements",
     "WITH s AS (SELECT person_id, year, cap_group, "
     "  sum(CASE WHEN deductible_scope = 'PER_YEAR' THEN deductible_fen ELSE 0 END) AS ded, "
     "  sum(fund_fen) AS fund, sum(tier2_fen) AS tier2 FROM insuring.settlements "
     "  WHERE status IN ('SETTLED', 'CANCELLED') GROUP BY 1, 2, 3), "
     "e AS (SELECT coalesce(s.person_id, o.person_id) AS person_id, "
     "  coalesce(s.year, o.year) AS year, coalesce(s.cap_group, o.cap_group) AS cap_group, "
     "  coalesce(o.ytd_deductible_fen, 0) + coalesce(s.ded, 0) AS ded, "
     "  coalesce(o.ytd_fund_paid_fen, 0) + coalesce(s.fund, 0) AS fund, "
     "  coalesce(o.ytd_tier2_paid_fen, 0) + coalesce(s.tier2, 0) AS tier2 "
     "  FROM s FULL JOIN insuring.accumulator_openings o USING (person_id, year, cap_group)) "
     "SELECT coalesce(e.person_id, a.person_id), format('%s %s: expected %s/%s/%s, recorded %s/%s/%s', "
     "  coalesce(e.year, a.year), coalesce(e.cap_group, a.cap_group), e.ded, e.fund, e.tier2, "
     "  a.ytd_deductible_fen, a.ytd_fund_paid_fen, a.ytd_tier2_paid_fen) "
     "FROM e FULL JOIN insuring.accumulators a USING (person_id, year, cap_group) "
     "WHERE (coalesce(e.ded, 0), coalesce(e.fund, 0), coalesce(e.tier2, 0)) IS DISTINCT FROM "
     "  (coalesce(a.ytd_deductible_fen, 0), coalesce(a.ytd_fund_paid_fen, 0), "
     "   coalesce(a.ytd_tier2_paid_fen, 0)) ORDER BY 1"},
    {"account balances equal openings less their payments",
     "SELECT p.person_id, format('opening %s - paid %s <> balance %s', p.opening_balance_fen, "
     "  coalesce(s.paid, 0), p.account_balance_fen) "
     "FROM insuring.persons p LEFT JOIN (SELECT person_id, sum(account_fen) AS paid "
     "  FROM insuring.settlements WHERE status IN ('SETTLED', 'CANCELLED') GROUP BY 1) s "
     "  USING (person_id) "
     "WHERE coalesce(p.opening_balance_fen, 0) - coalesce(s.paid, 0) <> p.account_balance_fen "
     "ORDER BY 1"},
    {"every request answered exactly once",
     "SELECT request_id, format('%s %s answered %s times', kind, status, answers) "
     "FROM treating.requests WHERE request_hash <> '\\x' "
     "AND (answers <> 1 OR status = 'PENDING') ORDER BY received_at"},
    {"the three ledgers agree claim by claim",
     "WITH cl AS (SELECT claim_id, sum(debit_fen - credit_fen) AS fen FROM clearing.journal "
     "  JOIN clearing.postings USING (entry_id) WHERE account LIKE 'receivable:%' "
     "  AND claim_id IS NOT NULL GROUP BY 1), "
     "tl AS (SELECT claim_id, sum(debit_fen - credit_fen) AS fen FROM treating.journal "
     "  JOIN treating.postings USING (entry_id) WHERE account LIKE 'due_from:%' GROUP BY 1), "
     "il AS (SELECT claim_id, sum(debit_fen - credit_fen) AS fen FROM insuring.journal "
     "  JOIN insuring.postings USING (entry_id) WHERE account LIKE 'fund_expense:%' GROUP BY 1) "
     "SELECT claim_id, format('centre %s / treating %s / insuring %s', cl.fen, tl.fen, il.fen) "
     "FROM cl FULL JOIN tl USING (claim_id) FULL JOIN il USING (claim_id) "
     "WHERE cl.fen IS DISTINCT FROM tl.fen OR cl.fen IS DISTINCT FROM il.fen ORDER BY 1"},
    {"every ledger balances",
     "SELECT s, format('debits %s, credits %s', d, c) FROM ("
     "  SELECT 'treating' AS s, sum(debit_fen) AS d, sum(credit_fen) AS c FROM treating.postings "
     "  UNION ALL SELECT 'insuring', sum(debit_fen), sum(credit_fen) FROM insuring.postings "
     "  UNION ALL SELECT 'clearing', sum(debit_fen), sum(credit_fen) FROM clearing.postings) x "
     "WHERE d IS DISTINCT FROM c"},
    {"statement nets sum to zero",
     "SELECT window_id, format('nets sum to %s', sum(net_fen)) FROM clearing.statement_parties "
     "GROUP BY 1 HAVING sum(net_fen) <> 0"},
    {"usage equals bookings less payments, quotas equal their movements",
     "SELECT insuring_party || '->' || treating_party, format('used %s, booked %s, paid %s; "
     "quota %s, movements %s', used_fen, booked, paid, quota_fen, moved) FROM ("
     "  SELECT p.*, coalesce((SELECT sum(fund_fen + tier2_fen) FROM clearing.claims c "
     "    WHERE c.insuring_party = p.insuring_party AND c.treating_party = p.treating_party "
     "    AND c.window_id IS NOT NULL), 0) AS booked, "
     "  coalesce((SELECT sum(amount_fen) FROM clearing.payments y WHERE y.insuring_party = "
     "    p.insuring_party AND y.treating_party = p.treating_party), 0) AS paid, "
     "  coalesce((SELECT sum(CASE WHEN kind = 'REFUND' THEN -amount_fen ELSE amount_fen END) "
     "    FROM clearing.quota_movements m WHERE m.insuring_party = p.insuring_party AND "
     "    m.treating_party = p.treating_party), 0) AS moved FROM clearing.pairs p) x "
     "WHERE used_fen <> booked - paid OR quota_fen <> moved"},
    {"ledger snapshots equal the postings they cover",
     "SELECT ledger || ' ' || account, format('snapshot %s/%s, postings %s/%s', "
     "  snapshot_debit_fen, snapshot_credit_fen, posted_debit_fen, posted_credit_fen) FROM ("
     "  SELECT 'treating' AS ledger, * FROM treating.snapshot_differences "
     "  UNION ALL SELECT 'insuring', * FROM insuring.snapshot_differences "
     "  UNION ALL SELECT 'clearing', * FROM clearing.snapshot_differences) x ORDER BY 1"},
    {"multilateral net transfers sum to zero",
     "SELECT w.window_id, format('net transfers sum to %s, centre settlement account %s', "
     "  (SELECT sum(amount_fen) FROM clearing.net_transfers t WHERE t.window_id = w.window_id), "
     "  (SELECT sum(debit_fen - credit_fen) FROM clearing.journal j JOIN clearing.postings p "
     "     USING (entry_id) WHERE j.window_id = w.window_id AND p.account = 'settlement:centre')) "
     "FROM clearing.windows w WHERE w.settlement = 'MULTILATERAL' AND w.status = 'SETTLED' "
     "AND ((SELECT sum(amount_fen) FROM clearing.net_transfers t WHERE t.window_id = w.window_id) "
     "  <> 0 OR (SELECT coalesce(sum(debit_fen - credit_fen), 0) FROM clearing.journal j JOIN "
     "  clearing.postings p USING (entry_id) WHERE j.window_id = w.window_id "
     "  AND p.account = 'settlement:centre') <> 0) ORDER BY 1"},
    {"every outbox row published",
     "SELECT 'outbox ' || s, format('%s rows not published', n) FROM ("
     "  SELECT 'treating' AS s, count(*) AS n FROM treating.outbox_unpublished u "
     "    JOIN treating.outbox o ON o.id BETWEEN u.first_id AND u.last_id "
     "  UNION ALL SELECT 'clearing', count(*) FROM clearing.outbox_unpublished u "
     "    JOIN clearing.outbox o ON o.id BETWEEN u.first_id AND u.last_id "
     "  UNION ALL SELECT 'insuring', count(*) FROM insuring.outbox_unpublished u "
     "    JOIN insuring.outbox o ON o.id BETWEEN u.first_id AND u.last_id) x "
     "WHERE n > 0"},
    {"domain figures equal the tables they count",
     "SELECT s || ' ' || figure || ' ' || label1 || ' ' || label2, "
     "  format('kept %s rows / %s fen, counted %s / %s', kept_rows, kept_fen, counted_rows, "
     "    counted_fen) FROM ("
     "  SELECT 'treating' AS s, * FROM treating.figures_differences "
     "  UNION ALL SELECT 'insuring', * FROM insuring.figures_differences "
     "  UNION ALL SELECT 'clearing', * FROM clearing.figures_differences) x ORDER BY 1"},
};

#define N_CHECKS (sizeof(checks) / sizeof(checks[0]))

/* Runs every check once. Returns the number that failed, or -1 on a database error. */
static int run_checks(PGconn *db, bool print)
{
    int failed = 0;
    for (size_t i = 0; i < N_CHECKS; i++) {
        PGresult *res = mc_db_run(db, checks[i].sql, NULL);
        if (!res)
            return -1;
        int n = PQntuples(res);
        if (print) {
            printf("%-4s %s", n ? "FAIL" : "ok", checks[i].name);
            if (n)
                printf(": %d", n);
            printf("\n");
            for (int r = 0; r < n && r < 20; r++)
                printf("       %s  %s\n", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
            if (n > 20)
                printf("       ... and %d more\n", n - 20);
        }
        failed += n > 0;
        PQclear(res);
    }
    return failed;
}

int tool_verify(const mc_config_t *cfg, int argc, char **argv)
{
    int64_t wait_ms = 0;
    for (int i = 0; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--wait-ms") == 0 && i + 1 < argc &&
            (wait_ms = strtoll(argv[i + 1], &end, 10)) >= 0 && *end == '\0') {
            i++;
            continue;
        }
        fprintf(stderr, "usage: medclear verify [--wait-ms N]\n");
        return 2;
    }
    PGconn *db = tool_connect(cfg);
    if (!db)
        return 1;
    /* One snapshot for all checks, so they see the same moment. */
    int failed;
    int64_t deadline = mc_now_ms() + wait_ms;
    for (;;) {
        if (!mc_db_do(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL)) {
            failed = -1;
            break;
        }
        failed = run_checks(db, false);
        PQclear(PQexec(db, "COMMIT"));
        if (failed <= 0 || mc_now_ms() >= deadline)
            break;
        struct timespec ts = {0, 500 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (failed > 0 && mc_db_do(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL)) {
        failed = run_checks(db, true);
        PQclear(PQexec(db, "COMMIT"));
    } else if (failed == 0) {
        for (size_t i = 0; i < N_CHECKS; i++)
            printf("ok   %s\n", checks[i].name);
    }
    PQfinish(db);
    if (failed < 0)
        return 1;
    printf("%s\n", failed ? "verify: FAILED" : "verify: all invariants hold");
    return failed ? 1 : 0;
}
