/* Table, CSV and JSON output of query results (see tool_out.h). */
#include "tool_out.h"

#include <stdio.h>
#include <string.h>

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

void tool_out_print(const PGresult *res, tool_format_t format)
{
    int rows = PQntuples(res), cols = PQnfields(res);
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
