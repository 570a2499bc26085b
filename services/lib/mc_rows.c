/*
 * Rows written once per batch, and the keys of what a batch holds: see mc_rows.h.
 */
#include "mc_rows.h"

#include <stdlib.h>
#include <string.h>

void mc_rows_init(mc_rows_t *rows, const char *sql, int n_cols)
{
    if (n_cols < 1 || n_cols > MC_ROWS_MAX_COLS)
        abort(); /* a programming error: the statement's columns are fixed */
    rows->sql = sql;
    rows->n_cols = n_cols;
    rows->n = 0;
    for (int c = 0; c < n_cols; c++)
        mc_array_init(&rows->col[c]);
}

void mc_rows_free(mc_rows_t *rows)
{
    for (int c = 0; c < rows->n_cols; c++)
        mc_array_free(&rows->col[c]);
    rows->n = 0;
}

void mc_rows_str(mc_rows_t *rows, int col, const char *s) { mc_array_str(&rows->col[col], s); }

void mc_rows_int(mc_rows_t *rows, int col, int64_t v) { mc_array_int(&rows->col[col], v); }

void mc_rows_next(mc_rows_t *rows)
{
    rows->n++;
    for (int c = 0; c < rows->n_cols; c++)
        if (rows->col[c].n != rows->n)
            abort(); /* a column was given no value, or two, for this row */
}

void mc_rows_reset(mc_rows_t *rows)
{
    for (int c = 0; c < rows->n_cols; c++) {
        mc_array_free(&rows->col[c]);
        mc_array_init(&rows->col[c]);
    }
    rows->n = 0;
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

static size_t key_slot(const mc_keys_t *keys, const char *key)
{
    uint64_t h = 14695981039346656037u; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)key; *c; c++)
        h = (h ^ *c) * 1099511628211u;
    size_t i = (size_t)h & (keys->cap - 1);
    while (keys->slot[i] && strcmp(keys->slot[i], key) != 0)
        i = (i + 1) & (keys->cap - 1);
    return i;
}

void mc_keys_add(mc_keys_t *keys, const char *key)
{
    if (2 * (keys->n + 1) >= keys->cap) {
        char **old = keys->slot;
        size_t old_cap = keys->cap;
        keys->cap = old_cap ? 2 * old_cap : 256;
        keys->slot = calloc(keys->cap, sizeof(*keys->slot));
        if (!keys->slot)
            abort();
        for (size_t i = 0; i < old_cap; i++)
            if (old[i])
                keys->slot[key_slot(keys, old[i])] = old[i];
        free(old);
    }
    size_t i = key_slot(keys, key);
    if (keys->slot[i])
        return;
    keys->slot[i] = strdup(key);
    if (!keys->slot[i])
        abort();
    keys->n++;
}

bool mc_keys_has(const mc_keys_t *keys, const char *key)
{
    return keys->n > 0 && keys->slot[key_slot(keys, key)] != NULL;
}

void mc_keys_clear(mc_keys_t *keys)
{
    if (keys->n == 0)
        return;
    for (size_t i = 0; i < keys->cap; i++) {
        free(keys->slot[i]);
        keys->slot[i] = NULL;
    }
    keys->n = 0;
}

void mc_keys_free(mc_keys_t *keys)
{
    mc_keys_clear(keys);
    free(keys->slot);
    memset(keys, 0, sizeof(*keys));
}
