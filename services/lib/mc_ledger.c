/*
 * A batch's ledger entries, posted in one statement: see mc_ledger.h.
 */
#include "mc_ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_db.h"

enum { COL_SOURCE, COL_CLAIM, COL_DR, COL_DR_KIND, COL_CR, COL_CR_KIND, COL_AMOUNT, N_COLS };

struct mc_ledger {
    mc_array_t col[N_COLS]; /* the entries, one array per column */
    int n;
    char sql[1600];
};

/*
 * Entry ids are drawn in the order the entries were added, before anything is inserted,
 * so the journal rows and their postings are joined by id, not by the order of a
 * RETURNING list (which is not promised). Accounts come first and the journal before its
 * postings: the foreign keys are checked at the end of the statement, when all are in.
 */
static const char POST_SQL[] =
    "WITH e AS MATERIALIZED (SELECT nextval('%1$s.journal_entry_id_seq') AS entry_id, u.* "
    "  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
    "  $7::bigint[]) AS u(src, claim, dr, dr_kind, cr, cr_kind, amount)), "
    "a AS (INSERT INTO %1$s.accounts (account, kind) SELECT DISTINCT ON (account) account, kind "
    "  FROM (SELECT dr, dr_kind FROM e UNION ALL SELECT cr, cr_kind FROM e) x(account, kind) "
    "  ORDER BY account ON CONFLICT DO NOTHING), "
    "j AS (INSERT INTO %1$s.journal (entry_id, source_id, claim_id, memo%2$s) "
    "  SELECT entry_id, src, claim, 'claim ' || claim%3$s FROM e ORDER BY entry_id) "
    "INSERT INTO %1$s.postings (entry_id, account, debit_fen, credit_fen) "
    "SELECT entry_id, dr, greatest(amount, 0), greatest(-amount, 0) FROM e "
    "UNION ALL SELECT entry_id, cr, greatest(-amount, 0), greatest(amount, 0) FROM e";

static void reset(mc_ledger_t *l)
{
    for (int c = 0; c < N_COLS; c++) {
        mc_array_free(&l->col[c]);
        mc_array_init(&l->col[c]);
    }
    l->n = 0;
}

mc_ledger_t *mc_ledger_new(const char *schema, bool windowed)
{
    if (strlen(schema) > 32)
        return NULL;
    mc_ledger_t *l = calloc(1, sizeof(*l));
    if (!l)
        abort();
    char window[128] = "";
    if (windowed)
        snprintf(window, sizeof(window),
                 ", (SELECT c.window_id FROM %s.claims c WHERE c.claim_id = e.claim)", schema);
    snprintf(l->sql, sizeof(l->sql), POST_SQL, schema, windowed ? ", window_id" : "", window);
    reset(l);
    return l;
}

void mc_ledger_free(mc_ledger_t *l)
{
    if (!l)
        return;
    for (int c = 0; c < N_COLS; c++)
        mc_array_free(&l->col[c]);
    free(l);
}

void mc_ledger_add(mc_ledger_t *l, const char *source, const char *claim_id, const char *dr,
                   const char *dr_kind, const char *cr, const char *cr_kind, int64_t amount)
{
    if (amount == 0)
        return;
    mc_array_str(&l->col[COL_SOURCE], source);
    mc_array_str(&l->col[COL_CLAIM], claim_id);
    mc_array_str(&l->col[COL_DR], dr);
    mc_array_str(&l->col[COL_DR_KIND], dr_kind);
    mc_array_str(&l->col[COL_CR], cr);
    mc_array_str(&l->col[COL_CR_KIND], cr_kind);
    mc_array_int(&l->col[COL_AMOUNT], amount);
    l->n++;
}

int mc_ledger_count(const mc_ledger_t *l) { return l->n; }

bool mc_ledger_flush(mc_ledger_t *l, PGconn *db)
{
    if (l->n == 0)
        return true;
    mc_params_t p;
    mc_params_init(&p);
    for (int c = 0; c < N_COLS; c++)
        mc_p_str(&p, mc_array_text(&l->col[c]));
    bool ok = mc_db_defer(db, l->sql, &p); /* the parameters are copied when sent */
    reset(l);
    return ok;
}

void mc_ledger_discard(mc_ledger_t *l) { reset(l); }
