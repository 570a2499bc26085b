/*
 * Rows a batch writes in one statement at its end, instead of a statement per message
 * (the treating region's new requests, the insuring region's settlements). A handler adds
 * its row's values column by column; the service's flush hook sends them all through
 * unnest() (mc_ctx_flush_rows() in mc_service.h). Until then the rows are not in the
 * database, so a later read in the batch that could see one of them must flush first:
 * each row is added with the key such a read asks for it by (a request or claim id).
 */
#ifndef MC_ROWS_H
#define MC_ROWS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc_db.h"

#define MC_ROWS_MAX_COLS MC_DB_MAX_PARAMS

typedef struct mc_rows {
    const char *sql; /* the statement; $k is the array of column k, 1-based */
    int n_cols;
    int n;           /* rows added */
    mc_array_t col[MC_ROWS_MAX_COLS];
    char **key;      /* the rows' keys, open addressing (NULL: a free slot) */
    size_t cap;      /* slots: a power of two, more than twice n_keys; 0 before the first */
    size_t n_keys;
} mc_rows_t;

/* Rows for sql, which must outlive them (mc_db_defer() names it when it fails). */
mc_rows_t *mc_rows_new(const char *sql, int n_cols);
void mc_rows_free(mc_rows_t *rows); /* NULL: nothing */

/* Values of the row being added: each column gets exactly one per row, in any order. */
void mc_rows_str(mc_rows_t *rows, int col, const char *s); /* NULL: SQL NULL */
void mc_rows_int(mc_rows_t *rows, int col, int64_t v);
/* The row being added is complete; key is what a later read may ask for it by. */
void mc_rows_next(mc_rows_t *rows, const char *key);

/* One more key of the row last completed, for a read that asks for it by another name
 * (a held result by its settlement id as well as its claim id). */
void mc_rows_key(mc_rows_t *rows, const char *key);

/* Whether a row added and not yet flushed or forgotten has key. */
bool mc_rows_holds(const mc_rows_t *rows, const char *key);

/*
 * Sends the rows added on db in one statement with mc_db_defer() (within a pipeline its
 * failure surfaces at the next read), then forgets them. Nothing is sent when there are
 * none. False when the statement could not be sent or, outside a pipeline, failed.
 */
bool mc_rows_flush(mc_rows_t *rows, PGconn *db) __attribute__((warn_unused_result));
/* Forgets the rows added (their batch or message was rolled back); the memory is kept
 * for the next batch. */
void mc_rows_reset(mc_rows_t *rows);

#endif
