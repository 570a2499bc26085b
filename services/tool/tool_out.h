/*
 * Query results for finance and operators: the same rows as an aligned table (default),
 * CSV (--csv) or JSON lines (--json). Columns whose name ends in _fen are printed as
 * integers in every format, never as floating point.
 */
#ifndef TOOL_OUT_H
#define TOOL_OUT_H

#include <libpq-fe.h>
#include <stdbool.h>

typedef enum tool_format { TOOL_TABLE = 0, TOOL_CSV, TOOL_JSON } tool_format_t;

/* Removes --csv / --json from argv (updating *argc) and returns the chosen format. */
tool_format_t tool_out_format(int *argc, char **argv);

/* Prints every row of res in format. */
void tool_out_print(const PGresult *res, tool_format_t format);

#endif
