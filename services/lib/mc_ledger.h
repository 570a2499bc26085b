/*
 * A batch's ledger entries, posted in one statement (DESIGN.md section 6). A handler
 * adds the two-legged entries of what it settled; the service loop posts them all
 * together in the batch's transaction, before its outbox, or forgets them when the work
 * they came from is rolled back. One statement per batch instead of a plpgsql call (an
 * accounts upsert, a journal row and its postings, each planned and run on its own) per
 * entry: the entries, their accounts and postings are the same, and so are the checks
 * (foreign keys, and the balance check once per statement, sql/019).
 */
#ifndef MC_LEDGER_H
#define MC_LEDGER_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct mc_ledger mc_ledger_t;

/*
 * A ledger in schema (treating, insuring or clearing). windowed: the journal names the
 * clearing window its claim is booked in (the centre's claims.window_id, as the entry's
 * batch left it). Returns NULL when schema is too long.
 */
mc_ledger_t *mc_ledger_new(const char *schema, bool windowed);
void mc_ledger_free(mc_ledger_t *l);

/*
 * Adds the entry "claim <claim_id>" caused by message source: amount fen from debit
 * account dr (of kind dr_kind: ASSET, LIABILITY or EXPENSE) to credit account cr, the
 * other way round when negative. Nothing is posted for 0.
 */
void mc_ledger_add(mc_ledger_t *l, const char *source, const char *claim_id, const char *dr,
                   const char *dr_kind, const char *cr, const char *cr_kind, int64_t amount);

/* Entries added and neither posted nor forgotten. */
int mc_ledger_count(const mc_ledger_t *l);

/*
 * Posts the entries added on db in one statement, sent with mc_db_defer() (so within a
 * pipeline its failure surfaces at the next read), and forgets them. False when it
 * could not be sent or, outside a pipeline, failed (logged).
 */
bool mc_ledger_flush(mc_ledger_t *l, PGconn *db) __attribute__((warn_unused_result));

/* Forgets the entries added: their transaction or savepoint was rolled back. */
void mc_ledger_discard(mc_ledger_t *l);

#endif
