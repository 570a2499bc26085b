/*
 * Thin helpers over libpq: parameter lists built without string concatenation, one call
 * that runs a parameterized statement and checks its status, and transaction verbs.
 * Every PGresult returned is owned by the caller and released with PQclear().
 */
#ifndef MC_DB_H
#define MC_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MC_DB_MAX_PARAMS 48

/* Parameters of one statement. Values are borrowed: they must outlive the call. */
typedef struct mc_params {
    int n;
    const char *values[MC_DB_MAX_PARAMS];
    int lengths[MC_DB_MAX_PARAMS];
    int formats[MC_DB_MAX_PARAMS];
    char ints[MC_DB_MAX_PARAMS][24]; /* text of integer parameters, owned here */
} mc_params_t;

static inline void mc_params_init(mc_params_t *p) { p->n = 0; }

/* Appends a text parameter; NULL is SQL NULL. */
void mc_p_str(mc_params_t *p, const char *s);
/* Appends an integer parameter (its text is kept inside p). */
void mc_p_int(mc_params_t *p, int64_t v);
/* Appends a boolean parameter. */
void mc_p_bool(mc_params_t *p, bool v);
/* Appends a bytea parameter sent in binary. */
void mc_p_bytes(mc_params_t *p, const void *data, size_t len);

/*
 * Connects and checks the connection. Returns NULL and fills errstr on failure.
 * The caller closes with PQfinish().
 */
PGconn *mc_db_connect(const char *conninfo, char *errstr, size_t errstr_size);

/* Connects as user (NULL or "": the conninfo's own user), whatever the conninfo says. */
PGconn *mc_db_connect_as(const char *conninfo, const char *user, char *errstr,
                         size_t errstr_size);

/*
 * Runs sql with params (NULL: none); statements with parameters are prepared on first
 * use and reused after. Returns the result when its status is
 * PGRES_COMMAND_OK or PGRES_TUPLES_OK; otherwise logs the error with the statement's
 * first words, clears the result and returns NULL.
 */
PGresult *mc_db_run(PGconn *db, const char *sql, const mc_params_t *params);

/* Runs sql and discards the result. Returns false on error (already logged). */
bool mc_db_do(PGconn *db, const char *sql, const mc_params_t *params)
    __attribute__((warn_unused_result));

/*
 * Pipelined writes (libpq pipeline mode), for a batch of many small statements: between
 * mc_db_pipeline_begin() and mc_db_pipeline_end(), mc_db_defer() sends a statement whose
 * result the caller does not need and returns without waiting for the server. The
 * results are read in order by the next mc_db_run() on the connection (whose statement
 * is sent after them, so it sees what they did) or by mc_db_pipeline_end(). A deferred
 * statement that fails is logged there and makes that call fail; the server skips what
 * was sent after it, so the caller rolls the transaction back. One connection of a
 * process at a time is in pipeline mode; mc_db_do() stays synchronous in it. sql must
 * outlive the pipeline (it names a failed statement in the log).
 */
bool mc_db_pipeline_begin(PGconn *db) __attribute__((warn_unused_result));
/* Outside pipeline mode, the same as mc_db_do(). */
bool mc_db_defer(PGconn *db, const char *sql, const mc_params_t *params)
    __attribute__((warn_unused_result));
/* Reads what is left, ends the pipeline and leaves pipeline mode. Returns false when a
 * statement of the pipeline failed or the connection did. True when not in pipeline mode. */
bool mc_db_pipeline_end(PGconn *db);

/* int64 / string value of a result cell; "" and 0 for NULL. */
int64_t mc_db_int(const PGresult *res, int row, int col);
const char *mc_db_str(const PGresult *res, int row, int col);

/*
 * Which rows of a batch an INSERT ... ON CONFLICT DO NOTHING RETURNING <key> wrote, from
 * the keys it was given in order: sets written[i] when keys[i] is among the values of
 * column col of res and no earlier key is equal to it (the statement writes a key that
 * the batch repeats once, with its first row). A NULL key is never written.
 */
void mc_db_mark_written(const PGresult *res, int col, const char *const *keys, int n,
                        bool *written);

/*
 * Builder of a PostgreSQL array literal ("{1,2}", {"a","b"}) for multi-row statements
 * through unnest(): one parameter per column instead of one statement per row. Text
 * elements are quoted and escaped, so any string is safe.
 */
typedef struct mc_array {
    char *buf;
    size_t len, cap;
    int n;
} mc_array_t;

void mc_array_init(mc_array_t *a);
void mc_array_int(mc_array_t *a, int64_t v);
void mc_array_str(mc_array_t *a, const char *s); /* NULL: an SQL NULL element */
/* Returns the finished literal, owned by a until mc_array_free(). */
const char *mc_array_text(mc_array_t *a);
void mc_array_free(mc_array_t *a);

/*
 * Builder of a bytea[] parameter in PostgreSQL's binary array format (array_recv), for a
 * column of long binary values such as the outbox's payloads: the bytes go as they are,
 * with no hex text to write here or to parse there (a text array literal doubles each
 * payload and has the server scan it character by character). The statement must name
 * the parameter's type as bytea[].
 */
typedef struct mc_bytes_array {
    uint8_t *buf; /* the header, then each element's length and bytes */
    size_t len, cap;
    int n;
    bool has_null;
} mc_bytes_array_t;

void mc_bytes_array_init(mc_bytes_array_t *a);
void mc_bytes_array_add(mc_bytes_array_t *a, const void *data, size_t len); /* NULL: SQL NULL */
/* Completes the header and appends the array to p as a binary parameter; a must outlive
 * p's use and not change meanwhile. */
void mc_p_bytes_array(mc_params_t *p, mc_bytes_array_t *a);
void mc_bytes_array_free(mc_bytes_array_t *a);

/* Forgets the statements prepared on db (after PQreset() or before PQfinish()). */
void mc_db_forget(const PGconn *db);

/*
 * Whether the last statement that failed lost a race with another transaction: a key
 * that another committed first (unique_violation), a deadlock, a serialization failure.
 * Another instance of the same role does that when two messages on different partitions
 * touch the same row (a reversal and the request it reverses). Applying the same work
 * again, in a new statement that sees what the other committed, may then succeed.
 */
bool mc_db_lost_race(void);

/* True when the connection is no longer usable (the server went away). */
bool mc_db_broken(PGconn *db);

#endif
