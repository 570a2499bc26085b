/*
 * Reference data files (`medclear data load DIR`): which CSV file fills which table, and
 * the pure step that turns a file's bytes into the statements loading it. The rows
 * themselves are parsed by PostgreSQL's COPY (so its errors name the file's line and
 * column); what is checked here is the header row, which names the columns.
 */
#ifndef MC_DATA_H
#define MC_DATA_H

#include <stdbool.h>
#include <stddef.h>

/* One kind of reference data file. */
typedef struct mc_data_file {
    const char *file;  /* relative to the data directory, e.g. "treating/catalog.csv" */
    const char *table; /* schema-qualified */
    const char *key;   /* primary key columns, for the merge */
    const char *keep;  /* columns a reload never overwrites ("*": none), NULL: all are set */
} mc_data_file_t;

/* The files of a data directory, in load order (parents before children). */
extern const mc_data_file_t mc_data_files[];
extern const size_t mc_data_n_files;

/* The entry of a file name ("insuring/policies.csv"), or NULL. */
const mc_data_file_t *mc_data_file(const char *file);

#define MC_DATA_MAX_COLUMNS 64

/* How one file is loaded: into a staging copy of the table, then merged by key. */
typedef struct mc_data_plan {
    int n_columns;
    char columns[MC_DATA_MAX_COLUMNS][64]; /* the header's column names, in order */
    char stage_sql[512];                   /* CREATE TEMP TABLE stage ... */
    char copy_sql[2048];                   /* COPY stage (...) FROM STDIN ... */
    char merge_sql[8192];                  /* INSERT INTO table ... ON CONFLICT ... */
} mc_data_plan_t;

/*
 * Reads the header row of csv (len bytes, need not end in NUL) for df: every
 * comma-separated name must be a plain column name (a-z, 0-9, _; leading blanks
 * ignored). Fills plan and returns true, or returns false with errstr naming the line
 * ("line 1: ...") and plan undefined. Does no I/O.
 */
bool mc_data_plan(const mc_data_file_t *df, const char *csv, size_t len, mc_data_plan_t *plan,
                  char *errstr, size_t errstr_size) __attribute__((warn_unused_result));

#endif
