/*
 * Reference data files and the header check of `medclear data load` (services/tool/
 * tool_db.c does the I/O). A file is COPYed into a staging copy of its table and merged
 * by primary key, so loading twice changes nothing; the statements for that are built
 * here from the header row, the only part of a file read in C. Kept pure so that it is
 * fuzzed with any bytes (tests/fuzz/fuzz_data.c).
 */
#include "mc_data.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const mc_data_file_t mc_data_files[] = {
    {"treating/regions.csv", "treating.regions", "code", NULL},
    {"treating/hospitals.csv", "treating.hospitals", "code", NULL},
    {"treating/catalog.csv", "treating.catalog_items", "region, item_code, valid_from", NULL},
    /* Balances and year-to-date figures are opening values: set once, then owned by the
     * settlements, so loading the same files again never resets them. */
    {"insuring/persons.csv", "insuring.persons", "person_id", "account_balance_fen"},
    {"insuring/accumulators.csv", "insuring.accumulator_openings", "person_id, year, cap_group",
     "*"},
    {"insuring/registrations.csv", "insuring.registrations",
     "person_id, treating_region, reg_type, valid_from", NULL},
    {"insuring/chronic.csv", "insuring.chronic_certifications",
     "person_id, disease_code, valid_from", NULL},
    {"insuring/policies.csv", "insuring.policies",
     "region, insured_type, visit_type, effective_from", NULL},
    {"clearing/parties.csv", "clearing.parties", "code", NULL},
};
const size_t mc_data_n_files = sizeof(mc_data_files) / sizeof(mc_data_files[0]);

const mc_data_file_t *mc_data_file(const char *file)
{
    for (size_t i = 0; i < mc_data_n_files; i++)
        if (strcmp(mc_data_files[i].file, file) == 0)
            return &mc_data_files[i];
    return NULL;
}

static bool valid_column(const char *s)
{
    if (!*s || !((*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

/* ",a,b," from "a, b": a comma-separated list with its blanks removed, framed by commas
 * so that ",name," finds a whole name. */
static void framed_list(const char *list, char *out, size_t size)
{
    size_t n = 0;
    out[n++] = ',';
    for (; *list && n + 2 < size; list++)
        if (*list != ' ')
            out[n++] = *list;
    out[n++] = ',';
    out[n] = '\0';
}

/* Appends to buf (NUL-terminated, size bytes); false when it does not fit. */
static bool append(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool append(char *buf, size_t size, const char *fmt, ...)
{
    size_t used = strlen(buf);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + used, size - used, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < size - used;
}

bool mc_data_plan(const mc_data_file_t *df, const char *csv, size_t len, mc_data_plan_t *plan,
                  char *errstr, size_t errstr_size)
{
    /* The header names the columns; each must be a plain column name of the table. */
    char header[1024];
    size_t h = 0;
    while (h < len && csv[h] != '\r' && csv[h] != '\n' && csv[h] != '\0')
        h++;
    if (h == 0 || h >= sizeof(header)) {
        snprintf(errstr, errstr_size, "line 1: expected a header row of column names");
        return false;
    }
    memcpy(header, csv, h);
    header[h] = '\0';

    char keys[256], keep[256], cols[1536] = "", sets[4096] = "";
    framed_list(df->key, keys, sizeof(keys));
    framed_list(df->keep ? df->keep : "", keep, sizeof(keep));
    bool keep_all = strcmp(keep, ",*,") == 0;
    plan->n_columns = 0;
    char *save = NULL;
    for (char *c = strtok_r(header, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        while (*c == ' ')
            c++;
        if (!valid_column(c)) {
            snprintf(errstr, errstr_size, "line 1: \"%s\" is not a column name", c);
            return false;
        }
        if (strlen(c) >= sizeof(plan->columns[0]) || plan->n_columns == MC_DATA_MAX_COLUMNS) {
            snprintf(errstr, errstr_size,
                     "line 1: more than %d columns or a name over %zu characters",
                     MC_DATA_MAX_COLUMNS, sizeof(plan->columns[0]) - 1);
            return false;
        }
        memcpy(plan->columns[plan->n_columns++], c, strlen(c) + 1);
        char framed[80];
        snprintf(framed, sizeof(framed), ",%s,", c);
        bool ok = append(cols, sizeof(cols), "%s%s", cols[0] ? ", " : "", c);
        if (ok && !strstr(keys, framed) && !keep_all && !strstr(keep, framed))
            ok = append(sets, sizeof(sets), "%s%s = EXCLUDED.%s", sets[0] ? ", " : "", c, c);
        if (!ok) {
            snprintf(errstr, errstr_size, "line 1: header row too long");
            return false;
        }
    }
    if (plan->n_columns == 0) {
        /* commas only: COPY would be told no column at all */
        snprintf(errstr, errstr_size, "line 1: expected a header row of column names");
        return false;
    }

    int n1 = snprintf(plan->stage_sql, sizeof(plan->stage_sql),
                      "CREATE TEMP TABLE stage (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
                      "ON COMMIT DROP",
                      df->table);
    int n2 = snprintf(plan->copy_sql, sizeof(plan->copy_sql),
                      "COPY stage (%s) FROM STDIN WITH (FORMAT csv, HEADER true)", cols);
    int n3 = snprintf(plan->merge_sql, sizeof(plan->merge_sql),
                      "INSERT INTO %s (%s) SELECT %s FROM stage ON CONFLICT (%s) DO %s%s",
                      df->table, cols, cols, df->key, sets[0] ? "UPDATE SET " : "NOTHING", sets);
    if (n1 < 0 || (size_t)n1 >= sizeof(plan->stage_sql) || n2 < 0 ||
        (size_t)n2 >= sizeof(plan->copy_sql) || n3 < 0 || (size_t)n3 >= sizeof(plan->merge_sql)) {
        snprintf(errstr, errstr_size, "line 1: header row too long");
        return false;
    }
    return true;
}
