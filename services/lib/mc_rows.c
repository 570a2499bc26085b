/*
 * Rows written once per batch, with the keys of what a batch holds: see mc_rows.h.
 */
#include "mc_rows.h"

#include <stdlib.h>
#include <string.h>

mc_rows_t *mc_rows_new(const char *sql, int n_cols)
{
    if (n_cols < 1 || n_cols > MC_ROWS_MAX_COLS)
        abort(); /* a programming error: the statement's columns are fixed */
    mc_rows_t *rows = calloc(1, sizeof(*rows));
    if (!rows)
        abort();
    rows->sql = sql;
    rows->n_cols = n_cols;
    for (int c = 0; c < n_cols; c++)
        mc_array_init(&rows->col[c]);
    return rows;
}

void mc_rows_free(mc_rows_t *rows)
{
    if (!rows)
        return;
    mc_rows_reset(rows);
    for (int c = 0; c < rows->n_cols; c++)
        mc_array_free(&rows->col[c]);
    free(rows->key);
    free(rows);
}

void mc_rows_str(mc_rows_t *rows, int col, const char *s) { mc_array_str(&rows->col[col], s); }

void mc_rows_int(mc_rows_t *rows, int col, int64_t v) { mc_array_int(&rows->col[col], v); }

static size_t key_slot(const mc_rows_t *rows, const char *key)
{
    uint64_t h = 14695981039346656037u; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)key; *c; c++)
        h = (h ^ *c) * 1099511628211u;
    size_t i = (size_t)h & (rows->cap - 1);
    while (rows->key[i] && strcmp(rows->key[i], key) != 0)
        i = (i + 1) & (rows->cap - 1);
    return i;
}

static void key_add(mc_rows_t *rows, const char *key)
{
    if (2 * (rows->n_keys + 1) >= rows->cap) {
        char **old = rows->key;
        size_t old_cap = rows->cap;
        rows->cap = old_cap ? 2 * old_cap : 256;
        rows->key = calloc(rows->cap, sizeof(*rows->key));
        if (!rows->key)
            abort();
        for (size_t i = 0; i < old_cap; i++)
            if (old[i])
                rows->key[key_slot(rows, old[i])] = old[i];
        free(old);
    }
    size_t i = key_slot(rows, key);
    if (rows->key[i])
        return;
    rows->key[i] = strdup(key);
    if (!rows->key[i])
        abort();
    rows->n_keys++;
}

void mc_rows_next(mc_rows_t *rows, const char *key)
{
    rows->n++;
    for (int c = 0; c < rows->n_cols; c++)
        if (rows->col[c].n != rows->n)
            abort(); /* a column was given no value, or two, for this row */
    if (key)
        key_add(rows, key);
}

void mc_rows_key(mc_rows_t *rows, const char *key)
{
    if (rows->n == 0)
        abort(); /* no row to name */
    key_add(rows, key);
}

bool mc_rows_holds(const mc_rows_t *rows, const char *key)
{
    return rows->n_keys > 0 && rows->key[key_slot(rows, key)] != NULL;
}

void mc_rows_reset(mc_rows_t *rows)
{
    for (int c = 0; c < rows->n_cols; c++) {
        mc_array_free(&rows->col[c]);
        mc_array_init(&rows->col[c]);
    }
    rows->n = 0;
    if (rows->n_keys == 0)
        return;
    for (size_t i = 0; i < rows->cap; i++) {
        free(rows->key[i]);
        rows->key[i] = NULL;
    }
    rows->n_keys = 0;
}

bool mc_rows_flush(mc_rows_t *rows, PGconn *db)
{
    if (rows->n == 0)
        return true;
    mc_params_t p;
    mc_params_init(&p);
    for (int c = 0; c < rows->n_cols; c++)
        mc_p_str(&p, mc_array_text(&rows->col[c]));
    bool ok = mc_db_defer(db, rows->sql, &p); /* the parameters are copied when sent */
    mc_rows_reset(rows);
    return ok;
}
