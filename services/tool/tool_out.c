/* Table, CSV and JSON output of query results, and the progress line (see tool_out.h). */
#include "tool_out.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tool_bus.h"

tool_format_t tool_out_format(int *argc, char **argv)
{
    tool_format_t f = TOOL_TABLE;
    int j = 0;
    for (int i = 0; i < *argc; i++) {
        if (strcmp(argv[i], "--csv") == 0)
            f = TOOL_CSV;
        else if (strcmp(argv[i], "--json") == 0)
            f = TOOL_JSON;
        else
            argv[j++] = argv[i];
    }
    *argc = j;
    return f;
}

static bool numeric(const PGresult *res, int col)
{
    Oid t = PQftype(res, col);
    return t == 20 || t == 21 || t == 23 || t == 1700; /* int8, int2, int4, numeric */
}

static void csv_field(const char *s)
{
    if (!strpbrk(s, ",\"\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

/* The progress line now on the terminal, blanked before rows are printed over it. */
static tool_progress_t *drawn;

void tool_out_print(const PGresult *res, tool_format_t format)
{
    int rows = PQntuples(res), cols = PQnfields(res);
    if (drawn)
        tool_progress_clear(drawn);
    if (format == TOOL_CSV) {
        for (int c = 0; c < cols; c++) {
            if (c)
                putchar(',');
            csv_field(PQfname(res, c));
        }
        putchar('\n');
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                if (c)
                    putchar(',');
                csv_field(PQgetvalue(res, r, c));
            }
            putchar('\n');
        }
        return;
    }
    if (format == TOOL_JSON) {
        for (int r = 0; r < rows; r++) {
            putchar('{');
            for (int c = 0; c < cols; c++) {
                if (c)
                    putchar(',');
                tool_bus_json_str(stdout, PQfname(res, c));
                putchar(':');
                if (PQgetisnull(res, r, c))
                    fputs("null", stdout);
                else if (numeric(res, c))
                    fputs(PQgetvalue(res, r, c), stdout);
                else
                    tool_bus_json_str(stdout, PQgetvalue(res, r, c));
            }
            puts("}");
        }
        return;
    }
    int width[64] = {0};
    cols = cols > 64 ? 64 : cols;
    for (int c = 0; c < cols; c++) {
        width[c] = (int)strlen(PQfname(res, c));
        for (int r = 0; r < rows; r++)
            if (PQgetlength(res, r, c) > width[c])
                width[c] = PQgetlength(res, r, c);
    }
    for (int c = 0; c < cols; c++)
        printf("%s%-*s", c ? "  " : "", width[c], PQfname(res, c));
    putchar('\n');
    for (int c = 0; c < cols; c++) {
        printf("%s", c ? "  " : "");
        for (int k = 0; k < width[c]; k++)
            putchar('-');
    }
    putchar('\n');
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++)
            printf(numeric(res, c) ? "%s%*s" : "%s%-*s", c ? "  " : "", width[c],
                   PQgetvalue(res, r, c));
        putchar('\n');
    }
    printf("(%d row%s)\n", rows, rows == 1 ? "" : "s");
}

bool tool_out_flag(int *argc, char **argv, const char *flag)
{
    bool seen = false;
    int j = 0;
    for (int i = 0; i < *argc; i++) {
        if (strcmp(argv[i], flag) == 0)
            seen = true;
        else
            argv[j++] = argv[i];
    }
    *argc = j;
    return seen;
}

int64_t tool_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void tool_progress_start(tool_progress_t *p, bool quiet)
{
    p->on = !quiet && isatty(STDERR_FILENO);
    p->start_us = p->shown_us = tool_now_us();
    p->width = 0;
}

bool tool_progress_due(const tool_progress_t *p)
{
    return p->on && tool_now_us() - p->shown_us >= 1000000;
}

void tool_progress_show(tool_progress_t *p, const char *fmt, ...)
{
    if (!p->on)
        return;
    char line[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    int n = (int)strlen(line);
    /* pad over the rest of a longer line drawn before */
    fprintf(stderr, "\r%s%*s", line, p->width > n ? p->width - n : 0, "");
    fflush(stderr);
    p->width = n;
    p->shown_us = tool_now_us();
    drawn = p;
}

void tool_progress_clear(tool_progress_t *p)
{
    if (!p->on || p->width == 0)
        return;
    fprintf(stderr, "\r%*s\r", p->width, "");
    fflush(stderr);
    p->width = 0;
    drawn = NULL;
}

void tool_progress_done(tool_progress_t *p, const char *fmt, ...)
{
    if (!p->on)
        return;
    tool_progress_clear(p);
    int64_t ms = (tool_now_us() - p->start_us) / 1000;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (ms < 1000)
        fprintf(stderr, " in %lld ms\n", (long long)ms);
    else
        fprintf(stderr, " in %lld.%01lld s\n", (long long)(ms / 1000), (long long)(ms % 1000 / 100));
}
