/*
 * The clearing operator's and finance's commands (DESIGN.md sections 6 and 7):
 *
 *   medclear window list|show W|close|issue W [--method M]|abort W|confirm W --party P|
 *                   settle W --insuring P --treating T --reference R|
 *                   settle W --party P --reference R (multilateral)|overdue
 *   medclear prepay show|record ...|plan [--year Y] [--months N]
 *   medclear ledger balance|journal [--window W] [--claim C]|statement W|snapshot
 *                   [--ledger clearing|treating|insuring]
 *
 * Each changes the clearing schema in one transaction, checking the window's state
 * first, so a command given twice or out of order is refused with the reason and
 * changes nothing. Output: table (default), --csv or --json.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_db.h"
#include "tool.h"
#include "tool_out.h"
#include "tool_report.h"

typedef struct opts {
    const char *window, *party, *insuring, *treating, *reference, *kind, *amount;
    const char *year, *months, *method, *ledger, *claim;
} opts_t;

/* Parses --name value options into o; positional argument (window id) into o->window. */
static bool parse(int argc, char **argv, opts_t *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < argc; i++) {
        const char **slot = NULL;
        if (strcmp(argv[i], "--party") == 0) slot = &o->party;
        else if (strcmp(argv[i], "--insuring") == 0) slot = &o->insuring;
        else if (strcmp(argv[i], "--treating") == 0) slot = &o->treating;
        else if (strcmp(argv[i], "--reference") == 0) slot = &o->reference;
        else if (strcmp(argv[i], "--kind") == 0) slot = &o->kind;
        else if (strcmp(argv[i], "--amount") == 0) slot = &o->amount;
        else if (strcmp(argv[i], "--year") == 0) slot = &o->year;
        else if (strcmp(argv[i], "--months") == 0) slot = &o->months;
        else if (strcmp(argv[i], "--window") == 0) slot = &o->window;
        else if (strcmp(argv[i], "--method") == 0) slot = &o->method;
        else if (strcmp(argv[i], "--ledger") == 0) slot = &o->ledger;
        else if (strcmp(argv[i], "--claim") == 0) slot = &o->claim;
        if (slot) {
            if (i + 1 >= argc) {
                fprintf(stderr, "medclear: %s needs a value\n", argv[i]);
                return false;
            }
            *slot = argv[++i];
        } else if (argv[i][0] != '-' && !o->window) {
            o->window = argv[i];
        } else {
            fprintf(stderr, "medclear: unexpected argument \"%s\"\n", argv[i]);
            return false;
        }
    }
    return true;
}

/* Runs a read-only query and prints it. */
static int show(const mc_config_t *cfg, tool_format_t f, const char *sql, const mc_params_t *p)
{
    PGconn *db = tool_connect(cfg);
    if (!db)
        return 1;
    PGresult *res = mc_db_run(db, sql, p);
    int rc = 1;
    if (res) {
        tool_out_print(res, f);
        PQclear(res);
        rc = 0;
    }
    PQfinish(db);
    return rc;
}

/*
 * Runs the statements of one operator action in a transaction. Each statement may raise
 * an error (the database's own checks, or RAISE in a DO block) whose message is printed;
 * then nothing is changed. The last statement's rows are printed.
 */
static int act(const mc_config_t *cfg, tool_format_t f, const char *const *sqls, int n,
               const mc_params_t *p)
{
    PGconn *db = tool_connect(cfg);
    if (!db)
        return 1;
    int rc = 1;
    if (!mc_db_do(db, "BEGIN", NULL))
        goto out;
    for (int i = 0; i < n; i++) {
        /* Every parameter typed text, so a statement may leave some unused. */
        Oid types[MC_DB_MAX_PARAMS];
        for (int k = 0; k < p->n; k++)
            types[k] = 25; /* text */
        PGresult *res =
            PQexecParams(db, sqls[i], p->n, types, p->values, p->lengths, p->formats, 0);
        ExecStatusType st = PQresultStatus(res);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            fprintf(stderr, "medclear: %s", PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
            fputc('\n', stderr);
            PQclear(res);
            PQclear(PQexec(db, "ROLLBACK"));
            goto out;
        }
        if (i == n - 1 && st == PGRES_TUPLES_OK)
            tool_out_print(res, f);
        PQclear(res);
    }
    rc = mc_db_do(db, "COMMIT", NULL) ? 0 : 1;
out:
    PQfinish(db);
    return rc;
}

/* A guard: raises unless window $1 exists and is in state (a quoted SQL literal). */
#define GUARD(state)                                                                           \
    "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM clearing.windows WHERE window_id = $1) THEN "   \
    "  clearing.fail('no window ' || $1) "                                                      \
    "WHEN (SELECT status FROM clearing.windows WHERE window_id = $1) <> " state " THEN "        \
    "  clearing.fail('window ' || $1 || ' is ' || (SELECT status FROM clearing.windows "       \
    "    WHERE window_id = $1) || ', this needs it ' || " state ") END"

static int window_cmd(const mc_config_t *cfg, const char *verb, int argc, char **argv)
{
    tool_format_t f = tool_out_format(&argc, argv);
    bool quiet = tool_out_flag(&argc, argv, "--quiet");
    opts_t o;
    if (!parse(argc, argv, &o))
        return 2;
    mc_params_t p;
    mc_params_init(&p);
    if (strcmp(verb, "list") == 0)
        return show(cfg, f,
                    "SELECT w.window_id, w.status, w.period_start, w.period_end, "
                    "count(c.claim_id) AS claims, coalesce(sum(c.fund_fen + c.tier2_fen), 0) AS fund_fen, "
                    "lower(w.settlement) AS settlement, (SELECT count(*) FROM clearing.overdue o "
                    "WHERE o.window_id = w.window_id) AS overdue, w.statement_sha256 "
                    "FROM clearing.windows w LEFT JOIN clearing.claims c "
                    "USING (window_id) GROUP BY w.window_id ORDER BY w.period_start",
                    NULL);
    if (strcmp(verb, "overdue") == 0)
        return show(cfg, f,
                    "SELECT o.window_id, o.item, o.party, o.counterparty, o.amount_fen, o.due_at, "
                    "date_trunc('second', now() - o.due_at) AS overdue_by, g.flagged_at FROM "
                    "clearing.overdue o LEFT JOIN clearing.overdue_flags g USING (window_id, item, "
                    "party, counterparty) ORDER BY o.due_at, o.window_id, o.item, o.party, "
                    "o.counterparty",
                    NULL);
    if (strcmp(verb, "close") == 0) {
        mc_p_str(&p, cfg->window_period);
        /* the function's changes are visible to the next statement, not its own */
        const char *sqls[] = {"SELECT clearing.roll_window($1::interval, true)",
                              "SELECT window_id, status, period_start, period_end FROM "
                              "clearing.windows ORDER BY period_start DESC LIMIT 2"};
        tool_progress_t progress; /* on a terminal: what it waits for, then a summary */
        tool_progress_start(&progress, quiet);
        tool_progress_show(&progress, "closing the open window ... "); /* an error follows it */
        int rc = act(cfg, f, sqls, 2, &p);
        if (rc == 0)
            tool_report_closed(cfg, &progress);
        tool_progress_clear(&progress);
        return rc;
    }
    if (!o.window) {
        fprintf(stderr, "medclear: window %s needs a window id\n", verb);
        return 2;
    }
    mc_p_str(&p, o.window);
    if (strcmp(verb, "show") == 0)
        return show(cfg, f,
                    "SELECT w.window_id, w.status, lower(w.settlement) AS settlement, "
                    "w.confirm_due_at, w.pay_due_at, w.statement_sha256, "
                    "encode(sha256(convert_to(clearing.statement_text(w.window_id), 'UTF8')), 'hex') "
                    "AS recomputed_sha256, clearing.statement_text(w.window_id) AS statement "
                    "FROM clearing.windows w WHERE w.window_id = $1",
                    &p);
    if (strcmp(verb, "issue") == 0) {
        mc_p_str(&p, o.method ? o.method : cfg->settlement);
        mc_p_str(&p, cfg->confirm_due);
        mc_p_str(&p, cfg->pay_due);
        const char *sqls[] = {"SELECT clearing.issue($1, $2, $3, $4)",
                              "SELECT window_id, lower(settlement) AS settlement, confirm_due_at, "
                              "pay_due_at, statement_sha256, clearing.statement_text($1) AS statement "
                              "FROM clearing.windows WHERE window_id = $1"};
        return act(cfg, f, sqls, 2, &p);
    }
    if (strcmp(verb, "abort") == 0) {
        const char *sqls[] = {
            GUARD("'ISSUED'"),
            "DELETE FROM clearing.confirmations WHERE window_id = $1",
            "DELETE FROM clearing.statement_lines WHERE window_id = $1",
            "DELETE FROM clearing.overdue_flags WHERE window_id = $1",
            "UPDATE clearing.windows SET status = 'CLOSED', issued_at = NULL, statement_sha256 = NULL, "
            "confirm_due_at = NULL, pay_due_at = NULL WHERE window_id = $1",
            "SELECT window_id, status FROM clearing.windows WHERE window_id = $1"};
        return act(cfg, f, sqls, 6, &p);
    }
    if (strcmp(verb, "confirm") == 0) {
        if (!o.party) {
            fprintf(stderr, "medclear: window confirm needs --party\n");
            return 2;
        }
        mc_p_str(&p, o.party);
        const char *sqls[] = {
            GUARD("'ISSUED'"),
            "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM clearing.statement_parties WHERE window_id = $1 "
            "AND party = $2) THEN clearing.fail('party ' || $2 || ' has nothing in window ' || $1) END",
            "INSERT INTO clearing.confirmations (window_id, party) VALUES ($1, $2)",
            "UPDATE clearing.windows SET status = 'CONFIRMED' WHERE window_id = $1 AND NOT EXISTS "
            "(SELECT party FROM clearing.statement_parties WHERE window_id = $1 EXCEPT "
            " SELECT party FROM clearing.confirmations WHERE window_id = $1)",
            "SELECT window_id, status, (SELECT count(*) FROM clearing.confirmations c WHERE "
            "c.window_id = $1) AS confirmed, (SELECT count(*) FROM clearing.statement_parties s "
            "WHERE s.window_id = $1) AS parties FROM clearing.windows WHERE window_id = $1"};
        return act(cfg, f, sqls, 5, &p);
    }
    if (strcmp(verb, "settle") == 0 && o.party) {
        if (o.insuring || o.treating || !o.reference) {
            fprintf(stderr, "medclear: a multilateral settle needs --party and --reference only\n");
            return 2;
        }
        mc_p_str(&p, o.party);
        mc_p_str(&p, o.reference);
        mc_p_int(&p, cfg->quota_yellow_bp);
        mc_p_int(&p, cfg->quota_red_bp);
        const char *sqls[] = {
            "SELECT clearing.settle_net($1, $2, $3, $4::bigint, $5::bigint)",
            "SELECT w.window_id, w.status, t.party, t.amount_fen, t.reference FROM "
            "clearing.windows w JOIN clearing.net_transfers t USING (window_id) "
            "WHERE w.window_id = $1 AND t.party = $2"};
        return act(cfg, f, sqls, 2, &p);
    }
    if (strcmp(verb, "settle") == 0) {
        if (!o.insuring || !o.treating || !o.reference) {
            fprintf(stderr, "medclear: window settle needs --insuring, --treating and --reference "
                            "(bilateral) or --party and --reference (multilateral)\n");
            return 2;
        }
        mc_p_str(&p, o.insuring);
        mc_p_str(&p, o.treating);
        mc_p_str(&p, o.reference);
        mc_p_int(&p, cfg->quota_yellow_bp);
        mc_p_int(&p, cfg->quota_red_bp);
        const char *sqls[] = {
            GUARD("'CONFIRMED'"),
            "SELECT CASE WHEN settlement <> 'BILATERAL' THEN clearing.fail('window ' || $1 || "
            "' is settled multilaterally: give --party') END FROM clearing.windows "
            "WHERE window_id = $1",
            "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM clearing.statement_lines WHERE window_id = $1 "
            "AND insuring_party = $2 AND treating_party = $3) THEN clearing.fail('no statement "
            "line ' || $2 || ' -> ' || $3 || ' in window ' || $1) "
            "WHEN EXISTS (SELECT 1 FROM clearing.payments WHERE window_id = $1 AND insuring_party = $2 "
            "AND treating_party = $3) THEN clearing.fail('the payment ' || $2 || ' -> ' || $3 || "
            "' in window ' || $1 || ' is already recorded') END",
            /* the whole line is paid at once: bilateral gross transfer */
            "INSERT INTO clearing.payments (window_id, insuring_party, treating_party, amount_fen, "
            "reference) SELECT window_id, insuring_party, treating_party, amount_fen, $4 FROM "
            "clearing.statement_lines WHERE window_id = $1 AND insuring_party = $2 AND "
            "treating_party = $3",
            "SELECT clearing.post_pair($4, $1, 'payment ' || $4, NULL, $2, $3, -amount_fen), "
            "clearing.clear_usage($2, $3, amount_fen, $5::bigint, $6::bigint) FROM "
            "clearing.payments WHERE window_id = $1 AND insuring_party = $2 AND treating_party = $3",
            "UPDATE clearing.windows SET status = 'SETTLED' WHERE window_id = $1 AND NOT EXISTS "
            "(SELECT 1 FROM clearing.statement_lines l WHERE l.window_id = $1 AND NOT EXISTS "
            " (SELECT 1 FROM clearing.payments y WHERE y.window_id = $1 AND "
            "  y.insuring_party = l.insuring_party AND y.treating_party = l.treating_party))",
            "SELECT w.window_id, w.status, y.insuring_party, y.treating_party, y.amount_fen, "
            "y.reference FROM clearing.windows w JOIN clearing.payments y USING (window_id) "
            "WHERE w.window_id = $1 AND y.insuring_party = $2 AND y.treating_party = $3"};
        return act(cfg, f, sqls, 7, &p);
    }
    fprintf(stderr, "medclear: unknown window command \"%s\"\n", verb);
    return 2;
}

static bool positive_number(const char *s)
{
    char *end;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    return s && !errno && *end == '\0' && v > 0;
}

static int prepay_cmd(const mc_config_t *cfg, const char *verb, int argc, char **argv)
{
    tool_format_t f = tool_out_format(&argc, argv);
    opts_t o;
    if (!parse(argc, argv, &o))
        return 2;
    mc_params_t p;
    mc_params_init(&p);
    if (strcmp(verb, "show") == 0)
        return show(cfg, f, "SELECT * FROM clearing.usage ORDER BY 1, 2", NULL);
    if (strcmp(verb, "plan") == 0) {
        /* Two months (by default) of last year's average monthly fund spend per pair. */
        mc_p_str(&p, o.year ? o.year : "");
        mc_p_str(&p, o.months ? o.months : "2");
        if (!positive_number(o.months ? o.months : "2") || (o.year && !positive_number(o.year))) {
            fprintf(stderr, "medclear: --months and --year must be positive numbers\n");
            return 2;
        }
        return show(cfg, f,
                    "WITH y AS (SELECT coalesce(NULLIF($1, '')::int, extract(year FROM now())::int) AS year) "
                    "SELECT insuring_party, treating_party, count(*) AS claims_last_year, "
                    "sum(fund_fen + tier2_fen) AS fund_last_year_fen, "
                    "(sum(fund_fen + tier2_fen) * $2::bigint + 11) / 12 AS proposed_quota_fen "
                    "FROM clearing.claims, y WHERE status = 'SETTLED' AND "
                    "extract(year FROM booked_at) = y.year - 1 GROUP BY 1, 2 ORDER BY 1, 2",
                    &p);
    }
    if (strcmp(verb, "record") == 0) {
        if (!o.insuring || !o.treating || !o.kind || !o.reference || !positive_number(o.amount)) {
            fprintf(stderr, "medclear: prepay record needs --insuring P --treating T --kind "
                            "PLACEMENT|TOPUP|REFUND --amount FEN (positive) --reference R\n");
            return 2;
        }
        mc_p_str(&p, o.insuring);
        mc_p_str(&p, o.treating);
        mc_p_str(&p, o.kind);
        mc_p_str(&p, o.amount);
        mc_p_str(&p, o.reference);
        mc_p_int(&p, cfg->quota_yellow_bp);
        mc_p_int(&p, cfg->quota_red_bp);
        const char *sqls[] = {
            "INSERT INTO clearing.quota_movements (insuring_party, treating_party, kind, amount_fen, "
            "reference) VALUES ($1, $2, $3, $4::bigint, $5)",
            "INSERT INTO clearing.pairs AS x (insuring_party, treating_party, quota_fen) VALUES "
            "($1, $2, CASE WHEN $3 = 'REFUND' THEN -$4::bigint ELSE $4::bigint END) "
            "ON CONFLICT (insuring_party, treating_party) DO UPDATE SET quota_fen = x.quota_fen + "
            "EXCLUDED.quota_fen",
            "SELECT CASE WHEN quota_fen < 0 THEN clearing.fail('refund larger than the quota of ' "
            "|| $1 || ' with ' || $2) END FROM clearing.pairs WHERE insuring_party = $1 AND "
            "treating_party = $2",
            "UPDATE clearing.pairs SET alert = CASE WHEN quota_fen <= 0 THEN 'NONE' "
            "WHEN used_fen * 10000 >= $7::bigint * quota_fen THEN 'RED' "
            "WHEN used_fen * 10000 >= $6::bigint * quota_fen THEN 'YELLOW' ELSE 'NONE' END "
            "WHERE insuring_party = $1 AND treating_party = $2",
            "SELECT * FROM clearing.usage WHERE insuring_party = $1 AND treating_party = $2"};
        return act(cfg, f, sqls, 5, &p);
    }
    fprintf(stderr, "medclear: unknown prepay command \"%s\"\n", verb);
    return 2;
}

/* The ledger a command reads: the schema's name, or NULL (with a message) if unknown. */
static const char *ledger_schema(const char *name)
{
    static const char *const ledgers[] = {"clearing", "treating", "insuring"};
    for (size_t i = 0; i < sizeof(ledgers) / sizeof(ledgers[0]); i++)
        if (strcmp(name, ledgers[i]) == 0)
            return ledgers[i];
    fprintf(stderr, "medclear: unknown ledger \"%s\": clearing, treating or insuring\n", name);
    return NULL;
}

/*
 * The ledgers of the centre and of the regions. The regions' journals carry no window:
 * --window and statement select their entries by the window the centre booked each
 * claim into, so the three ledgers are compared over the same claims.
 */
static int ledger_cmd(const mc_config_t *cfg, const char *verb, int argc, char **argv)
{
    tool_format_t f = tool_out_format(&argc, argv);
    opts_t o;
    if (!parse(argc, argv, &o))
        return 2;
    const char *s = ledger_schema(o.ledger ? o.ledger : "clearing");
    if (!s)
        return 2;
    bool centre = strcmp(s, "clearing") == 0;
    char sql[1024];
    mc_params_t p;
    mc_params_init(&p);
    if (strcmp(verb, "balance") == 0) {
        snprintf(sql, sizeof(sql), "SELECT * FROM %s.trial_balance ORDER BY account", s);
        return show(cfg, f, sql, NULL);
    }
    if (strcmp(verb, "snapshot") == 0) {
        snprintf(sql, sizeof(sql),
                 "SELECT snapshot_id, upto_entry, entries, taken_at, (SELECT count(*) FROM "
                 "%s.snapshot_balances b WHERE b.snapshot_id = s.snapshot_id) AS accounts FROM "
                 "%s.balance_snapshots s WHERE snapshot_id = %s.take_snapshot(0)",
                 s, s, s);
        const char *sqls[] = {sql};
        return act(cfg, f, sqls, 1, &p);
    }
    mc_p_str(&p, o.window ? o.window : "");
    mc_p_str(&p, o.claim ? o.claim : "");
    /* the centre's journal names its window; the regions' entries are found by claim */
    const char *window_of = centre ? "j.window_id"
                                   : "(SELECT c.window_id FROM clearing.claims c "
                                     "WHERE c.claim_id = j.claim_id)";
    if (strcmp(verb, "journal") == 0) {
        snprintf(sql, sizeof(sql),
                 "SELECT j.entry_id, j.posted_at, %s AS window_id, j.source_id, j.claim_id, j.memo, "
                 "p.account, p.debit_fen, p.credit_fen FROM %s.journal j JOIN %s.postings p "
                 "USING (entry_id) WHERE ($1 = '' OR %s = $1) AND ($2 = '' OR j.claim_id = $2) "
                 "ORDER BY j.entry_id, p.account",
                 window_of, s, s, window_of);
        return show(cfg, f, sql, &p);
    }
    if (strcmp(verb, "statement") == 0 && o.window) {
        mc_params_init(&p);
        mc_p_str(&p, o.window);
        if (centre)
            return show(cfg, f,
                        "SELECT party, receivable_fen, payable_fen, net_fen FROM "
                        "clearing.statement_parties WHERE window_id = $1 ORDER BY party",
                        &p);
        /* per account, the claims of the window as this region booked them */
        snprintf(sql, sizeof(sql),
                 "SELECT p.account, count(DISTINCT j.claim_id) AS claims, sum(p.debit_fen) AS "
                 "debit_fen, sum(p.credit_fen) AS credit_fen, sum(p.debit_fen - p.credit_fen) AS "
                 "balance_fen FROM %s.journal j JOIN %s.postings p USING (entry_id) JOIN "
                 "clearing.claims c ON c.claim_id = j.claim_id WHERE c.window_id = $1 "
                 "GROUP BY p.account ORDER BY p.account",
                 s, s);
        return show(cfg, f, sql, &p);
    }
    fprintf(stderr, "usage: medclear ledger balance|journal [--window W] [--claim C]|statement W|"
                    "snapshot [--ledger clearing|treating|insuring] [--csv|--json]\n");
    return 2;
}

int tool_window(const mc_config_t *cfg, int argc, char **argv)
{
    if (argc < 1) {
        fprintf(stderr, "usage: medclear window list|show W|close [--quiet]|issue W [--method bilateral|"
                        "multilateral]|abort W|confirm W --party P|settle W --insuring P "
                        "--treating T --reference R|settle W --party P --reference R|overdue\n");
        return 2;
    }
    return window_cmd(cfg, argv[0], argc - 1, argv + 1);
}

int tool_prepay(const mc_config_t *cfg, int argc, char **argv)
{
    if (argc < 1) {
        fprintf(stderr, "usage: medclear prepay show|plan [--year Y] [--months N]|record "
                        "--insuring P --treating T --kind K --amount FEN --reference R\n");
        return 2;
    }
    return prepay_cmd(cfg, argv[0], argc - 1, argv + 1);
}

int tool_ledger(const mc_config_t *cfg, int argc, char **argv)
{
    if (argc < 1)
        return ledger_cmd(cfg, "", 0, argv);
    return ledger_cmd(cfg, argv[0], argc - 1, argv + 1);
}
