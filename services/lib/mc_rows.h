/*
 * Rows a batch writes in one statement at its end, instead of a statement per message
 * (the treating region's new requests and results). A handler adds its row's values
 * column by column; the service's flush hook sends them all through unnest() with
 * mc_rows_flush(). Until then the rows are not in the database, so a later read in the
 * batch that could see one of them must flush first: mc_keys_t remembers the keys (a
 * request or claim id) of what a batch holds, for that test.
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
} mc_rows_t;

/* sql must outlive rows (mc_db_defer() names it when it fails). */
void mc_rows_init(mc_rows_t *rows, const char *sql, int n_cols);
void mc_rows_free(mc_rows_t *rows);

/* Values of the row being added: each column gets exactly one per row, in any order. */
void mc_rows_str(mc_rows_t *rows, int col, const char *s); /* NULL: SQL NULL */
void mc_rows_int(mc_rows_t *rows, int col, int64_t v);
/* The row being added is complete. */
void mc_rows_next(mc_rows_t *rows);

/*
 * Sends the rows added on db in one statement with mc_db_defer() (within a pipeline its
 * failure surfaces at the next read), then forgets them. Nothing is sent when there are
 * none. False when the statement could not be sent or, outside a pipeline, failed.
 */
bool mc_rows_flush(mc_rows_t *rows, PGconn *db) __attribute__((warn_unused_result));
/* Forgets the rows added (their batch or message was rolled back). */
void mc_rows_reset(mc_rows_t *rows);

/* A set of strings (open addressing, grown as needed). */
typedef struct mc_keys {
    char **slot; /* NULL: free */
    size_t cap;  /* a power of two, more than twice n; 0 before the first key */
    size_t n;
} mc_keys_t;

void mc_keys_add(mc_keys_t *keys, const char *key);
bool mc_keys_has(const mc_keys_t *keys, const char *key);
/* Forgets every key; the memory is kept for the next batch. */
void mc_keys_clear(mc_keys_t *keys);
void mc_keys_free(mc_keys_t *keys);

#endif
