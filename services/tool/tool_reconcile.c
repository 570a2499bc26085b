/*
 * `medclear reconcile --window W | --day YYYY-MM-DD` (对账, 3201/3202): the totals of the
 * treating and insuring regions' ledgers compared with the clearing centre's, per pair,
 * for the claims of a clearing window or of a day, then drilled down to the claim ids
 * whose amounts differ or that one side lacks. Exit status 1 when anything differs.
 *
 * The claims compared are the centre's bookings of the window or day, plus, for a day,
 * the claims either region settled that day, so a claim the centre never booked shows
 * too. Amounts are the fund amounts (pooled + tier 2) each ledger posted for the claim.
 */
#include <stdio.h>
#include <string.h>

#include "mc_date.h"
#include "mc_db.h"
#include "tool.h"
#include "tool_out.h"

/* One row per claim: pair, the centre's booking, and the three ledgers' postings. */
#define CLAIMS_SQL                                                                              \
    "WITH ids AS ("                                                                             \
    "  SELECT claim_id FROM clearing.claims WHERE status = 'SETTLED' AND "                      \
    "    (window_id = $1 OR (booked_at AT TIME ZONE 'UTC')::date::text = $2) "                  \
    "  UNION SELECT claim_id FROM treating.claims WHERE $2 <> '' AND status = 'SETTLED' AND "    \
    "    (resulted_at AT TIME ZONE 'UTC')::date::text = $2 "                                     \
    "  UNION SELECT claim_id FROM insuring.settlements WHERE $2 <> '' AND "                     \
    "    status IN ('SETTLED', 'CANCELLED') AND (created_at AT TIME ZONE 'UTC')::date::text = $2), " \
    "cl AS (SELECT j.claim_id, sum(p.debit_fen - p.credit_fen) AS fen FROM clearing.journal j "  \
    "  JOIN clearing.postings p USING (entry_id) WHERE p.account LIKE 'receivable:%' "           \
    "  AND j.claim_id IN (SELECT claim_id FROM ids) GROUP BY 1), "                              \
    "tl AS (SELECT j.claim_id, sum(p.debit_fen - p.credit_fen) AS fen FROM treating.journal j "  \
    "  JOIN treating.postings p USING (entry_id) WHERE p.account LIKE 'due_from:%' "             \
    "  AND j.claim_id IN (SELECT claim_id FROM ids) GROUP BY 1), "                              \
    "il AS (SELECT j.claim_id, sum(p.debit_fen - p.credit_fen) AS fen FROM insuring.journal j "  \
    "  JOIN insuring.postings p USING (entry_id) WHERE p.account LIKE 'fund_expense:%' "         \
    "  AND j.claim_id IN (SELECT claim_id FROM ids) GROUP BY 1), "                              \
    "rows AS (SELECT ids.claim_id, "                                                            \
    "  coalesce(c.insuring_party, left(t.insuring_region, 2) || '0000') AS insuring, "          \
    "  coalesce(c.treating_party, left(t.treating_region, 2) || '0000') AS treating, "          \
    "  cl.fen AS centre_fen, tl.fen AS treating_fen, il.fen AS insuring_fen "                   \
    "  FROM ids LEFT JOIN clearing.claims c USING (claim_id) LEFT JOIN treating.claims t "      \
    "  USING (claim_id) LEFT JOIN cl USING (claim_id) LEFT JOIN tl USING (claim_id) "           \
    "  LEFT JOIN il USING (claim_id)) "

int tool_reconcile(const mc_config_t *cfg, int argc, char **argv)
{
    tool_format_t f = tool_out_format(&argc, argv);
    const char *window = "", *day = "";
    int32_t ymd;
    if (argc == 2 && strcmp(argv[0], "--window") == 0) {
        window = argv[1];
    } else if (argc == 2 && strcmp(argv[0], "--day") == 0 && mc_date_parse(argv[1], &ymd)) {
        day = argv[1];
    } else {
        fprintf(stderr, "usage: medclear reconcile --window W | --day YYYY-MM-DD [--csv|--json]\n");
        return 2;
    }
    PGconn *db = tool_connect(cfg);
    if (!db)
        return 1;
    char dayiso[11] = "";
    if (day[0])
        mc_date_format(ymd, dayiso);
    mc_params_t p;
    mc_params_init(&p);
    mc_p_str(&p, window);
    mc_p_str(&p, dayiso);
    int rc = 1;
    /* One snapshot for the summary and the drill-down. */
    if (!mc_db_do(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL))
        goto out;
    PGresult *sum = mc_db_run(db,
                              CLAIMS_SQL
                              "SELECT insuring, treating, count(*) AS claims, "
                              "coalesce(sum(centre_fen), 0) AS centre_fen, "
                              "coalesce(sum(treating_fen), 0) AS treating_fen, "
                              "coalesce(sum(insuring_fen), 0) AS insuring_fen, "
                              "CASE WHEN bool_and(centre_fen IS NOT DISTINCT FROM treating_fen AND "
                              "  centre_fen IS NOT DISTINCT FROM insuring_fen) THEN 'ok' "
                              "  ELSE 'MISMATCH' END AS result "
                              "FROM rows GROUP BY 1, 2 ORDER BY 1, 2",
                              &p);
    PGresult *diff = sum ? mc_db_run(db,
                                     CLAIMS_SQL
                                     "SELECT claim_id, insuring, treating, centre_fen, treating_fen, "
                                     "insuring_fen FROM rows WHERE centre_fen IS DISTINCT FROM "
                                     "treating_fen OR centre_fen IS DISTINCT FROM insuring_fen "
                                     "ORDER BY claim_id",
                                     &p)
                         : NULL;
    PQclear(PQexec(db, "COMMIT"));
    if (sum && diff) {
        if (f == TOOL_TABLE)
            printf("reconciliation of %s %s: totals per pair (fen)\n", window[0] ? "window" : "day",
                   window[0] ? window : dayiso);
        tool_out_print(sum, f);
        if (PQntuples(diff) > 0) {
            if (f == TOOL_TABLE)
                printf("\nclaims that differ (fen; empty: not posted on that side)\n");
            tool_out_print(diff, f);
        }
        if (f == TOOL_TABLE)
            printf("reconcile: %s\n", PQntuples(diff) ? "MISMATCH" : "every pair agrees");
        rc = PQntuples(diff) ? 1 : 0;
    }
    if (sum)
        PQclear(sum);
    if (diff)
        PQclear(diff);
out:
    PQfinish(db);
    return rc;
}
