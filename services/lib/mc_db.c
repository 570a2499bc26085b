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

void mc_p_int(mc_params_t *p, int64_t v)
{
    snprintf(p->ints[p->n], sizeof(p->ints[0]), "%" PRId64, v);
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
    PGconn *db = PQconnectdb(conninfo);
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

PGresult *mc_db_run(PGconn *db, const char *sql, const mc_params_t *params)
{
    PGresult *res;
    if (params && params->n > 0)
        res = PQexecParams(db, sql, params->n, NULL, params->values, params->lengths,
                           params->formats, 0);
    else
        res = PQexec(db, sql);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;

    char head[80];
    snprintf(head, sizeof(head), "%s", sql);
    for (char *c = head; *c; c++)
        if (*c == '\n')
            *c = ' ';
    mc_error("statement failed: %s (in \"%s...\")", PQresultErrorMessage(res), head);
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

bool mc_db_broken(PGconn *db) { return PQstatus(db) != CONNECTION_OK; }

static void array_put(mc_array_t *a, const char *s, size_t n)
{
    if (a->len + n + 3 > a->cap) {
        size_t cap = a->cap ? a->cap : 256;
        while (a->len + n + 3 > cap)
            cap *= 2;
        char *b = realloc(a->buf, cap);
        if (!b)
            abort();
        a->buf = b;
        a->cap = cap;
    }
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
    int n = snprintf(num, sizeof(num), "%s%" PRId64, a->n++ ? "," : "", v);
    array_put(a, num, (size_t)n);
}

void mc_array_str(mc_array_t *a, const char *s)
{
    bool first = a->n++ == 0;
    array_put(a, first ? "\"" : ",\"", first ? 1 : 2);
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            array_put(a, "\\", 1);
        array_put(a, p, 1);
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
