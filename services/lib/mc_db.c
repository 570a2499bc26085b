/*
 * libpq helpers used by every service and the medclear tool. Statements are always
 * parameterized; the only SQL text built at run time is table-qualified names chosen
 * from constants.
 */
#include "mc_db.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_log.h"
#include "mc_text.h"

static void add(mc_params_t *p, const char *v, int len, int fmt)
{
    if (p->n >= MC_DB_MAX_PARAMS)
        abort(); /* a statement with more parameters than the table is a bug */
    p->values[p->n] = v;
    p->lengths[p->n] = len;
    p->formats[p->n] = fmt;
    p->n++;
}

void mc_p_str(mc_params_t *p, const char *s) { add(p, s, 0, 0); }

/* Integer parameters and array elements are formatted by mc_format_int(), not
 * snprintf: every statement of the message path has several. */
void mc_p_int(mc_params_t *p, int64_t v)
{
    mc_format_int(p->ints[p->n], v);
    add(p, p->ints[p->n], 0, 0);
}

void mc_p_bool(mc_params_t *p, bool v) { add(p, v ? "t" : "f", 0, 0); }

void mc_p_bytes(mc_params_t *p, const void *data, size_t len)
{
    /* A zero-length binary parameter must still be non-NULL to mean '' and not NULL. */
    add(p, data ? (const char *)data : "", (int)len, 1);
}

PGconn *mc_db_connect(const char *conninfo, char *errstr, size_t errstr_size)
{
    return mc_db_connect_as(conninfo, NULL, errstr, errstr_size);
}

PGconn *mc_db_connect_as(const char *conninfo, const char *user, char *errstr,
                         size_t errstr_size)
{
    /* The user after the expanded conninfo wins over one the conninfo names. */
    const char *keys[] = {"dbname", user && *user ? "user" : NULL, NULL};
    const char *vals[] = {conninfo, user, NULL};
    PGconn *db = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(db) != CONNECTION_OK) {
        snprintf(errstr, errstr_size, "could not connect to database: %s",
                 PQerrorMessage(db));
        size_t n = strlen(errstr);
        if (n && errstr[n - 1] == '\n')
            errstr[n - 1] = '\0';
        PQfinish(db);
        return NULL;
    }
    /* NOTICEs (IF NOT EXISTS and the like) are not for our users' terminals. */
    PGresult *res = PQexec(db, "SET client_min_messages = warning");
    PQclear(res);
    return db;
}

/*
 * Prepared statements, made on first use. The services run the same few dozen
 * statements for every message; planning them once per connection instead of once per
 * execution is most of what a statement costs the server. Entries are keyed by the
 * connection and the statement text; mc_db_forget() drops a connection's entries when
 * it is reset, since the server forgets them too.
 */
#define PREPARED_MAX 256

typedef struct prepared {
    const PGconn *db;
    uint64_t hash;
    char *sql;
    char name[16];
} prepared_t;

static prepared_t prepared[PREPARED_MAX];
static int n_prepared;

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/*
 * The connection in pipeline mode (mc_db_pipeline_begin), at most one per process: the
 * statements sent on it whose results are not read yet, oldest first. The server runs
 * them in the order sent and answers in that order.
 */
typedef struct sent {
    const char *sql; /* for the error message */
    char prepared[16]; /* a PREPARE of this name: forgotten if it fails */
} sent_t;

static struct {
    PGconn *db; /* NULL: no connection is in pipeline mode */
    sent_t *q;
    int n, cap;
    bool failed; /* a statement failed: the server skips the rest up to the sync */
} pipe;

static void pipe_push(const char *sql, const char *prepared_name)
{
    if (pipe.n == pipe.cap) {
        int cap = pipe.cap ? pipe.cap * 2 : 64;
        sent_t *q = realloc(pipe.q, (size_t)cap * sizeof(*q));
        if (!q)
            abort();
        pipe.q = q;
        pipe.cap = cap;
    }
    sent_t *e = &pipe.q[pipe.n++];
    e->sql = sql;
    snprintf(e->prepared, sizeof(e->prepared), "%s", prepared_name ? prepared_name : "");
}

static bool pipelined(const PGconn *db) { return db && pipe.db == db; }

/* SQLSTATE of the last statement that failed ("" when it failed without an answer from
 * the server): see mc_db_lost_race(). */
static char last_sqlstate[6];

static void log_failure(const char *message, const char *sql)
{
    char head[80];
    snprintf(head, sizeof(head), "%s", sql);
    for (char *c = head; *c; c++)
        if (*c == '\n')
            *c = ' ';
    mc_error("statement failed: %s (in \"%s...\")", message, head);
}

/* Logs the failure of sql, whose result is res (NULL: none came), and keeps its SQLSTATE. */
static void fail_with(PGconn *db, const PGresult *res, const char *sql)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(last_sqlstate, sizeof(last_sqlstate), "%s", state ? state : "");
    log_failure(res ? PQresultErrorMessage(res) : PQerrorMessage(db), sql);
}

bool mc_db_lost_race(void)
{
    /* unique_violation, serialization_failure, deadlock_detected */
    return strcmp(last_sqlstate, "23505") == 0 || strcmp(last_sqlstate, "40001") == 0 ||
           strcmp(last_sqlstate, "40P01") == 0;
}

/* Forgets the statement prepared as name on db (its PREPARE failed in a pipeline), or
 * with name NULL every statement prepared on db. */
static void forget_prepared(const PGconn *db, const char *name)
{
    for (int i = 0; i < n_prepared; i++) {
        if (prepared[i].db != db || (name && strcmp(prepared[i].name, name) != 0))
            continue;
        free(prepared[i].sql);
        prepared[i] = prepared[--n_prepared];
        i--;
    }
}

void mc_db_forget(const PGconn *db)
{
    if (pipelined(db)) {
        pipe.db = NULL;
        pipe.n = 0;
    }
    forget_prepared(db, NULL);
}

/*
 * The name of sql prepared on db, preparing it first; NULL when it cannot be. In
 * pipeline mode the PREPARE is sent ahead of the statement and its result read in turn.
 */
static const char *prepare(PGconn *db, const char *sql, int n_params)
{
    uint64_t h = fnv1a(sql);
    for (int i = 0; i < n_prepared; i++)
        if (prepared[i].db == db && prepared[i].hash == h && strcmp(prepared[i].sql, sql) == 0)
            return prepared[i].name;
    if (n_prepared == PREPARED_MAX)
        return NULL; /* more distinct statements than expected: run them unprepared */
    prepared_t *p = &prepared[n_prepared];
    static unsigned next_name; /* unique in the process, so on every connection */
    snprintf(p->name, sizeof(p->name), "mc%u", next_name++);
    if (pipelined(db)) {
        if (!PQsendPrepare(db, p->name, sql, n_params, NULL))
            return NULL;
        pipe_push(sql, p->name);
    } else {
        PGresult *res = PQprepare(db, p->name, sql, n_params, NULL);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (!ok)
            return NULL; /* the error shows again, in context, when run unprepared */
    }
    p->db = db;
    p->hash = h;
    p->sql = strdup(sql);
    if (!p->sql)
        abort();
    n_prepared++;
    return p->name;
}

/* A statement's result that succeeded (NULL: none, the connection is gone). */
static bool result_ok(const PGresult *res)
{
    ExecStatusType st = PQresultStatus(res); /* PGRES_FATAL_ERROR for NULL */
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Sends sql with params on db in pipeline mode, prepared when it has parameters. */
static bool send_statement(PGconn *db, const char *sql, const mc_params_t *params)
{
    int n = params ? params->n : 0;
    const char *name = n > 0 && !pipe.failed ? prepare(db, sql, n) : NULL;
    int ok = name ? PQsendQueryPrepared(db, name, n, params->values, params->lengths,
                                        params->formats, 0)
                  : PQsendQueryParams(db, sql, n, NULL, n ? params->values : NULL,
                                      n ? params->lengths : NULL, n ? params->formats : NULL, 0);
    if (!ok) {
        last_sqlstate[0] = '\0';
        log_failure(PQerrorMessage(db), sql);
        pipe.failed = true;
    }
    return ok;
}

/* Reads the result of the next statement of the pipeline and the end of its results. */
static PGresult *take_result(PGconn *db)
{
    PGresult *res = PQgetResult(db);
    if (res) {
        PGresult *more;
        while ((more = PQgetResult(db)) != NULL) /* up to the end of this statement's */
            PQclear(more);
    }
    return res;
}

/* Reads the results of every statement sent and not read yet; false if one failed. */
static bool read_sent(PGconn *db)
{
    for (int i = 0; i < pipe.n; i++) {
        PGresult *res = take_result(db);
        if (!result_ok(res)) {
            if (PQresultStatus(res) != PGRES_PIPELINE_ABORTED) /* the one that failed */
                fail_with(db, res, pipe.q[i].sql);
            if (pipe.q[i].prepared[0])
                forget_prepared(db, pipe.q[i].prepared);
            pipe.failed = true;
        }
        PQclear(res);
    }
    pipe.n = 0;
    return !pipe.failed;
}

bool mc_db_pipeline_begin(PGconn *db)
{
    if (pipe.db || !PQenterPipelineMode(db)) {
        mc_error("could not enter pipeline mode: %s", pipe.db ? "another connection is in it" : PQerrorMessage(db));
        return false;
    }
    pipe.db = db;
    pipe.n = 0;
    pipe.failed = false;
    return true;
}

bool mc_db_defer(PGconn *db, const char *sql, const mc_params_t *params)
{
    if (!pipelined(db))
        return mc_db_do(db, sql, params);
    if (!send_statement(db, sql, params))
        return false;
    pipe_push(sql, NULL);
    return true;
}

bool mc_db_pipeline_end(PGconn *db)
{
    if (!pipelined(db))
        return true;
    bool ok = PQpipelineSync(db) == 1;
    if (!ok)
        mc_error("could not end the pipeline: %s", PQerrorMessage(db));
    ok = read_sent(db) && ok;
    /* then the sync point (after an abort too); no result at all when the connection is
     * gone */
    for (int nulls = 0; nulls < 2;) {
        PGresult *res = PQgetResult(db);
        if (!res) {
            nulls++;
            if (mc_db_broken(db))
                break;
            continue;
        }
        ExecStatusType st = PQresultStatus(res);
        PQclear(res);
        if (st == PGRES_PIPELINE_SYNC)
            break;
        ok = false;
    }
    if (!PQexitPipelineMode(db)) {
        mc_error("could not leave pipeline mode: %s", PQerrorMessage(db));
        ok = false;
    }
    pipe.db = NULL;
    pipe.n = 0;
    return ok && !pipe.failed;
}

PGresult *mc_db_run(PGconn *db, const char *sql, const mc_params_t *params)
{
    PGresult *res;
    if (pipelined(db)) {
        /* Its result comes after those of the statements sent before it. */
        if (!send_statement(db, sql, params))
            return NULL;
        if (!PQsendFlushRequest(db) || PQflush(db) != 0) {
            last_sqlstate[0] = '\0';
            log_failure(PQerrorMessage(db), sql);
            pipe.failed = true;
        }
        bool ok = read_sent(db);
        res = take_result(db);
        if (!ok) {
            PQclear(res); /* skipped by the server; the failure was logged */
            return NULL;
        }
        if (result_ok(res))
            return res;
        fail_with(db, res, sql);
        pipe.failed = true;
        PQclear(res);
        return NULL;
    }
    const char *name = NULL;
    if (params && params->n > 0) {
        /* Inside a failed transaction PREPARE fails too; run unprepared to get the error. */
        if (PQtransactionStatus(db) != PQTRANS_INERROR)
            name = prepare(db, sql, params->n);
        if (name)
            res = PQexecPrepared(db, name, params->n, params->values, params->lengths,
                                 params->formats, 0);
        else
            res = PQexecParams(db, sql, params->n, NULL, params->values, params->lengths,
                               params->formats, 0);
    } else {
        res = PQexec(db, sql);
    }
    if (result_ok(res))
        return res;
    fail_with(db, res, sql);
    PQclear(res);
    return NULL;
}

bool mc_db_do(PGconn *db, const char *sql, const mc_params_t *params)
{
    PGresult *res = mc_db_run(db, sql, params);
    if (!res)
        return false;
    PQclear(res);
    return true;
}

int64_t mc_db_int(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return 0;
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

const char *mc_db_str(const PGresult *res, int row, int col)
{
    return PQgetvalue(res, row, col); /* "" for NULL */
}


void mc_db_mark_written(const PGresult *res, int col, const char *const *keys, int n,
                        bool *written)
{
    int rows = PQntuples(res);
    const char **values = malloc((size_t)(rows ? rows : 1) * sizeof(*values));
    bool *used = calloc((size_t)(rows ? rows : 1), sizeof(*used));
    if (!values || !used)
        abort();
    for (int r = 0; r < rows; r++)
        values[r] = PQgetvalue(res, r, col);
    qsort(values, (size_t)rows, sizeof(*values), mc_compare_strings);
    for (int i = 0; i < n; i++) {
        const char **hit = keys[i] ? bsearch(&keys[i], values, (size_t)rows, sizeof(*values),
                                             mc_compare_strings)
                                   : NULL;
        written[i] = hit && !used[hit - values];
        if (written[i])
            used[hit - values] = true;
    }
    free(values);
    free(used);
}

bool mc_db_broken(PGconn *db) { return PQstatus(db) != CONNECTION_OK; }

/* Room for need bytes in *buf of *cap (doubled from first until it fits). */
static void *reserve(void *buf, size_t *cap, size_t need, size_t first)
{
    if (need <= *cap)
        return buf;
    size_t more = *cap ? *cap : first;
    while (need > more)
        more *= 2;
    void *b = realloc(buf, more);
    if (!b)
        abort();
    *cap = more;
    return b;
}

static void array_put(mc_array_t *a, const char *s, size_t n)
{
    a->buf = reserve(a->buf, &a->cap, a->len + n + 3, 256);
    memcpy(a->buf + a->len, s, n);
    a->len += n;
    a->buf[a->len] = '\0';
}

void mc_array_init(mc_array_t *a)
{
    memset(a, 0, sizeof(*a));
    array_put(a, "{", 1);
}

void mc_array_int(mc_array_t *a, int64_t v)
{
    char num[24];
    num[0] = ',';
    bool first = a->n++ == 0;
    int n = mc_format_int(num + 1, v);
    array_put(a, first ? num + 1 : num, (size_t)(first ? n : n + 1));
}

void mc_array_str(mc_array_t *a, const char *s)
{
    bool first = a->n++ == 0;
    if (!s) {
        array_put(a, first ? "NULL" : ",NULL", first ? 4 : 5);
        return;
    }
    array_put(a, first ? "\"" : ",\"", first ? 1 : 2);
    /* runs without a quote or backslash are copied whole (payloads are long hex text) */
    for (const char *p = s; *p;) {
        size_t run = strcspn(p, "\"\\");
        array_put(a, p, run);
        p += run;
        if (*p) {
            char esc[2] = {'\\', *p++};
            array_put(a, esc, 2);
        }
    }
    array_put(a, "\"", 1);
}

const char *mc_array_text(mc_array_t *a)
{
    array_put(a, "}", 1);
    a->len--; /* a later add overwrites the brace again */
    return a->buf;
}

void mc_array_free(mc_array_t *a)
{
    free(a->buf);
    memset(a, 0, sizeof(*a));
}

/* The header of a one-dimensional array: dimensions, null flag, element type, then the
 * length and lower bound of the one dimension; every integer big-endian. */
#define BYTES_ARRAY_HEADER 20
#define BYTEA_OID 17

static void put_be32(uint8_t *at, uint32_t v)
{
    at[0] = (uint8_t)(v >> 24);
    at[1] = (uint8_t)(v >> 16);
    at[2] = (uint8_t)(v >> 8);
    at[3] = (uint8_t)v;
}

static void bytes_put(mc_bytes_array_t *a, const void *data, size_t n)
{
    a->buf = reserve(a->buf, &a->cap, a->len + n, 1024);
    if (n)
        memcpy(a->buf + a->len, data, n);
    a->len += n;
}

void mc_bytes_array_init(mc_bytes_array_t *a)
{
    memset(a, 0, sizeof(*a));
    uint8_t header[BYTES_ARRAY_HEADER] = {0};
    bytes_put(a, header, sizeof(header)); /* filled in by mc_p_bytes_array() */
}

void mc_bytes_array_add(mc_bytes_array_t *a, const void *data, size_t len)
{
    uint8_t size[4];
    if (len > INT32_MAX)
        abort(); /* a value beyond 2 GB: no message gets near it */
    put_be32(size, data ? (uint32_t)len : UINT32_MAX); /* -1: NULL */
    bytes_put(a, size, sizeof(size));
    if (data)
        bytes_put(a, data, len);
    else
        a->has_null = true;
    a->n++;
}

void mc_p_bytes_array(mc_params_t *p, mc_bytes_array_t *a)
{
    if (a->len > INT32_MAX)
        abort(); /* libpq takes an int length; the batches stay far below */
    /* An empty array has no dimensions (the server refuses a dimension of length 0 with
     * a lower bound). */
    put_be32(a->buf, a->n ? 1 : 0);
    put_be32(a->buf + 4, a->has_null ? 1 : 0);
    put_be32(a->buf + 8, BYTEA_OID);
    put_be32(a->buf + 12, (uint32_t)a->n);
    put_be32(a->buf + 16, 1);
    add(p, (const char *)a->buf, (int)(a->n ? a->len : 12), 1);
}

void mc_bytes_array_free(mc_bytes_array_t *a)
{
    free(a->buf);
    memset(a, 0, sizeof(*a));
}
