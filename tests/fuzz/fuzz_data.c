/*
 * Fuzz target: one reference data file of `medclear data load` (MC_FUZZ_DATA_FILE, e.g.
 * "treating/catalog.csv"), through mc_data_plan(), the step that reads it in C before
 * PostgreSQL's COPY does the rows. Whatever it accepts must name only plain column names,
 * all of them and in order in the COPY statement it built, and nothing truncated.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const mc_data_file_t *df;
    if (!df && !(df = mc_data_file(MC_FUZZ_DATA_FILE)))
        abort();
    static mc_data_plan_t plan;
    char err[256];
    if (!mc_data_plan(df, (const char *)data, size, &plan, err, sizeof(err))) {
        if (strncmp(err, "line 1: ", 8) != 0)
            abort();
        return 0;
    }
    if (plan.n_columns < 1 || plan.n_columns > MC_DATA_MAX_COLUMNS)
        abort();
    static char expect[sizeof(plan.copy_sql)];
    size_t n = (size_t)snprintf(expect, sizeof(expect), "COPY stage (");
    for (int i = 0; i < plan.n_columns; i++) {
        const char *c = plan.columns[i];
        if (!*c || strspn(c, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(c) ||
            !strstr(plan.merge_sql, c))
            abort();
        n += (size_t)snprintf(expect + n, sizeof(expect) - n, "%s%s", i ? ", " : "", c);
    }
    snprintf(expect + n, sizeof(expect) - n, ") FROM STDIN WITH (FORMAT csv, HEADER true)");
    if (strcmp(expect, plan.copy_sql) != 0) {
        fprintf(stderr, "fuzz_data: expected \"%s\", built \"%s\"\n", expect, plan.copy_sql);
        abort();
    }
    if (strncmp(plan.merge_sql, "INSERT INTO ", 12) != 0 || !strstr(plan.stage_sql, df->table))
        abort();
    return 0;
}
