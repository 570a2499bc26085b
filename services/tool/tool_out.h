/*
 * Query results for finance and operators: the same rows as an aligned table (default),
 * CSV (--csv) or JSON lines (--json). Columns whose name ends in _fen are printed as
 * integers in every format, never as floating point.
 */
#ifndef TOOL_OUT_H
#define TOOL_OUT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum tool_format { TOOL_TABLE = 0, TOOL_CSV, TOOL_JSON } tool_format_t;

/* Removes --csv / --json from argv (updating *argc) and returns the chosen format. */
tool_format_t tool_out_format(int *argc, char **argv);

/* Prints every row of res in format, blanking a progress line first. */
void tool_out_print(const PGresult *res, tool_format_t format);

/* Removes every flag (e.g. "--quiet") from argv (updating *argc); true if there was one. */
bool tool_out_flag(int *argc, char **argv, const char *flag);

/*
 * A progress line on stderr for someone watching a long command: redrawn in place at
 * most once a second, blanked before other output, and replaced at the end by a
 * one-line summary with the elapsed time. It is off when stderr is not a terminal or
 * the user said --quiet, so scripts and logs see only the command's own output.
 */
typedef struct tool_progress {
    bool on;
    int64_t start_us, shown_us; /* monotonic clock */
    int width;                  /* of the line drawn last, to blank it */
} tool_progress_t;

/* Starts the clock; the line is on when !quiet and stderr is a terminal. */
void tool_progress_start(tool_progress_t *p, bool quiet);

/* True when the line is on and nothing was drawn in the last second. */
bool tool_progress_due(const tool_progress_t *p);

/* Draws the line now (when on), replacing the one drawn before. */
void tool_progress_show(tool_progress_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Blanks the line (when on), so the next output starts at the left margin. */
void tool_progress_clear(tool_progress_t *p);

/* Blanks the line and prints the summary, followed by " in N ms" or " in N.N s" (when on). */
void tool_progress_done(tool_progress_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Microseconds on the monotonic clock. */
int64_t tool_now_us(void);

#endif
