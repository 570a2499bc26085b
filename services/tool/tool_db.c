/*
 * `medclear db migrate` and `medclear data load`: the database side of setting up;
 * `medclear db prune`: the retention of the inboxes and outboxes.
 *
 * Migrations are the files sql/NNN_name.sql, applied in name order, each in its own
 * transaction together with its row in public.schema_migrations, so a re-run applies
 * nothing twice and a failed migration leaves nothing behind.
 *
 * Reference data (regions, hospitals, catalogs, persons, registrations, policies) is
 * loaded from CSV files with a header row (mc_data.c: which file fills which table, and
 * the statements built from its header). All files go in one transaction: each is
 * COPYed into a staging copy of its table (so PostgreSQL's own errors name the file's
 * line and column) and merged by primary key, so loading twice changes nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_data.h"
#include "mc_db.h"
#include "tool.h"
#include "tool_out.h"

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0) {
            char *b = realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf)
        abort();
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int sql_file_filter(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 4 && strcmp(d->d_name + n - 4, ".sql") == 0 && d->d_name[0] >= '0' &&
           d->d_name[0] <= '9';
}

static int migrate(const mc_config_t *cfg)
{
    int rc = 1, applied = 0;
    struct dirent **files = NULL;
    int n = -1;
    PGconn *db = tool_connect(cfg);
    if (!db)
        return 1;
    /* One migrator at a time; the lock is released when the session ends. */
    if (!mc_db_do(db, "SELECT pg_advisory_lock(7245001)", NULL) ||
        !mc_db_do(db,
                  "CREATE TABLE IF NOT EXISTS public.schema_migrations (version text PRIMARY KEY, "
                  "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
                  NULL))
        goto out;

    n = scandir(cfg->sql_dir, &files, sql_file_filter, alphasort);
    if (n < 0) {
        fprintf(stderr, "medclear: could not read migrations directory \"%s\": %s\n",
                cfg->sql_dir, strerror(errno));
        goto out;
    }
    for (int i = 0; i < n; i++) {
        char path[1024];
        size_t len;
        snprintf(path, sizeof(path), "%s/%s", cfg->sql_dir, files[i]->d_name);
        char *sql = read_file(path, &len);
        if (!sql) {
            fprintf(stderr, "medclear: could not read \"%s\": %s\n", path, strerror(errno));
            goto out;
        }
        mc_params_t p;
        mc_params_init(&p);
        mc_p_str(&p, files[i]->d_name);
        mc_p_str(&p, sql);
        PGresult *res = mc_db_run(db,
                                  "SELECT checksum = md5($2) FROM public.schema_migrations "
                                  "WHERE version = $1",
                                  &p);
        if (!res) {
            free(sql);
            goto out;
        }
        bool done = PQntuples(res) == 1;
        if (done && strcmp(PQgetvalue(res, 0, 0), "t") != 0)
            fprintf(stderr, "medclear: warning: %s changed since it was applied; "
                            "write a new migration instead\n", files[i]->d_name);
        PQclear(res);
        if (done) {
            free(sql);
            continue;
        }

        bool ok = mc_db_do(db, "BEGIN", NULL);
        if (ok) {
            res = PQexec(db, sql);
            ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
            if (!ok)
                fprintf(stderr, "medclear: migration %s failed: %s", files[i]->d_name,
                        PQresultErrorMessage(res));
            PQclear(res);
        }
        ok = ok && mc_db_do(db,
                            "INSERT INTO public.schema_migrations (version, checksum) "
                            "VALUES ($1, md5($2))",
                            &p);
        ok = ok && mc_db_do(db, "COMMIT", NULL);
        free(sql);
        if (!ok) {
            PQclear(PQexec(db, "ROLLBACK"));
            goto out;
        }
        printf("applied %s\n", files[i]->d_name);
        applied++;
    }
    if (applied == 0)
        printf("database is up to date (%d migrations)\n", n);
    rc = 0;
out:
    for (int i = 0; i < n; i++)
        free(files[i]);
    free(files);
    PQfinish(db);
    return rc;
}

#define DAY_MS 86400000LL

/*
 * Deletes the inbox rows and the published outbox rows (not the dead letters) older than
 * --keep-days, through each schema's prune_bus() (sql/023_bus_retention.sql), --batch
 * rows of each table a transaction. The horizon must lie beyond security.max.age.ms:
 * older messages are refused as replays before their id is looked up, which is what
 * makes an inbox row past it useless.
 */
static int prune(const mc_config_t *cfg, int argc, char **argv)
{
    int64_t keep_days = -1, batch = 10000;
    for (int i = 0; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--keep-days") == 0 && v) {
            if (!tool_parse_int(v, 1, 36500, &keep_days)) {
                fprintf(stderr, "medclear: --keep-days must be a whole number of days from 1 "
                                "to 36500, not \"%s\"\n", v);
                return 2;
            }
        } else if (strcmp(argv[i], "--batch") == 0 && v) {
            if (!tool_parse_int(v, 1, 1000000, &batch)) {
                fprintf(stderr, "medclear: --batch must be a whole number of rows from 1 to "
                                "1000000, not \"%s\"\n", v);
                return 2;
            }
        } else {
            keep_days = -1;
            break;
        }
        i++;
    }
    if (keep_days < 0) {
        fprintf(stderr, "usage: medclear db prune --keep-days N [--batch ROWS]\n");
        return 2;
    }
    if (cfg->max_age_ms == 0) {
        fprintf(stderr, "medclear: security.max.age.ms is 0, so messages of any age are "
                        "accepted and any of them may come again: the inboxes cannot be "
                        "pruned\n");
        return 2;
    }
    if (keep_days * DAY_MS <= cfg->max_age_ms) {
        fprintf(stderr, "medclear: --keep-days %lld does not reach beyond security.max.age.ms "
                        "(%lld ms): a message that old is still accepted, so its inbox row "
                        "is still needed; keep at least %lld days\n",
                (long long)keep_days, (long long)cfg->max_age_ms,
                (long long)(cfg->max_age_ms / DAY_MS + 1));
        return 2;
    }

    PGconn *db = tool_connect(cfg);
    if (!db)
        return 1;
    int rc = 1;
    char n_days[24], n_rows[24], horizon[64];
    snprintf(n_days, sizeof(n_days), "%lld", (long long)keep_days);
    snprintf(n_rows, sizeof(n_rows), "%lld", (long long)batch);
    mc_params_t p;
    mc_params_init(&p);
    mc_p_str(&p, n_days);
    PGresult *res = mc_db_run(db, "SELECT (now() - make_interval(days => $1::int))::text", &p);
    if (!res)
        goto out;
    snprintf(horizon, sizeof(horizon), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);

    static const char *const schemas[] = {"treating", "insuring", "clearing"};
    for (size_t s = 0; s < sizeof(schemas) / sizeof(schemas[0]); s++) {
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT inbox_rows, outbox_rows FROM %s.prune_bus($1, $2)",
                 schemas[s]);
        long long inbox = 0, outbox = 0, in_step, out_step;
        do {
            mc_params_init(&p);
            mc_p_str(&p, horizon);
            mc_p_str(&p, n_rows);
            if (!(res = mc_db_run(db, sql, &p)))
                goto out;
            in_step = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
            out_step = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
            PQclear(res);
            inbox += in_step;
            outbox += out_step;
        } while (in_step > 0 || out_step > 0);
        printf("%s: %lld inbox rows and %lld outbox rows from before %s deleted\n", schemas[s],
               inbox, outbox, horizon);
    }
    rc = 0;
out:
    PQfinish(db);
    return rc;
}

int tool_db(const mc_config_t *cfg, int argc, char **argv)
{
    if (argc == 1 && strcmp(argv[0], "migrate") == 0)
        return migrate(cfg);
    if (argc >= 1 && strcmp(argv[0], "prune") == 0)
        return prune(cfg, argc - 1, argv + 1);
    fprintf(stderr, "usage: medclear db migrate\n"
                    "       medclear db prune --keep-days N [--batch ROWS]\n");
    return 2;
}

/* Loads one CSV file into its table. Returns rows merged, or -1 (error printed). */
static long load_one(PGconn *db, const char *path, const mc_data_file_t *df)
{
    size_t len;
    char *csv = read_file(path, &len);
    long rows = -1;
    char err[256];
    PGresult *res = NULL;
    mc_data_plan_t *plan = NULL;
    if (!csv) {
        fprintf(stderr, "medclear: could not read \"%s\": %s\n", path, strerror(errno));
        return -1;
    }
    plan = malloc(sizeof(*plan));
    if (!plan)
        abort();
    if (!mc_data_plan(df, csv, len, plan, err, sizeof(err))) {
        fprintf(stderr, "medclear: %s: %s\n", path, err);
        goto out;
    }

    if (!mc_db_do(db, plan->stage_sql, NULL))
        goto out;
    res = PQexec(db, plan->copy_sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        fprintf(stderr, "medclear: %s: %s", path, PQresultErrorMessage(res));
        goto out;
    }
    PQclear(res);
    res = NULL;
    if (PQputCopyData(db, csv, (int)len) != 1 || PQputCopyEnd(db, NULL) != 1) {
        fprintf(stderr, "medclear: %s: %s", path, PQerrorMessage(db));
        goto out;
    }
    res = PQgetResult(db);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "medclear: %s: %s", path, PQresultErrorMessage(res));
        goto out;
    }
    PQclear(res);
    res = NULL;

    res = PQexec(db, plan->merge_sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "medclear: %s: %s", path, PQresultErrorMessage(res));
        const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
        if (detail)
            fprintf(stderr, "  (%s)\n", detail);
        goto out;
    }
    rows = strtol(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    res = NULL;
    if (!mc_db_do(db, "DROP TABLE stage", NULL))
        rows = -1;
out:
    if (res)
        PQclear(res);
    free(plan);
    free(csv);
    return rows;
}

static int load(const mc_config_t *cfg, const char *dir, bool quiet)
{
    long total = 0;
    tool_progress_t progress; /* on a terminal: the file being loaded, then a summary */
    tool_progress_start(&progress, quiet);
    PGconn *db = tool_connect(cfg);
    if (!db)
        return 1;
    int rc = 1, loaded = 0;
    if (!mc_db_do(db, "BEGIN", NULL))
        goto out;
    for (size_t i = 0; i < mc_data_n_files; i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, mc_data_files[i].file);
        FILE *f = fopen(path, "r");
        if (!f)
            continue; /* a data set need not have every kind of file */
        fclose(f);
        tool_progress_show(&progress, "data load: %s (file %zu of %zu, %ld rows so far)",
                           mc_data_files[i].file, i + 1, mc_data_n_files, total);
        long rows = load_one(db, path, &mc_data_files[i]);
        tool_progress_clear(&progress);
        if (rows < 0)
            goto out;
        total += rows;
        printf("%-28s %6ld rows into %s\n", mc_data_files[i].file, rows, mc_data_files[i].table);
        loaded++;
    }
    if (loaded == 0) {
        fprintf(stderr, "medclear: no data files found under \"%s\"\n", dir);
        goto out;
    }
    tool_progress_show(&progress, "data load: committing %ld rows", total);
    if (!mc_db_do(db, "COMMIT", NULL))
        goto out;
    tool_progress_done(&progress, "data load: %d files, %ld rows merged (one transaction)", loaded,
                       total);
    rc = 0;
out:
    tool_progress_clear(&progress);
    if (rc != 0) {
        PQclear(PQexec(db, "ROLLBACK"));
        fprintf(stderr, "medclear: nothing was loaded\n");
    }
    PQfinish(db);
    return rc;
}

int tool_data(const mc_config_t *cfg, int argc, char **argv)
{
    bool quiet = tool_out_flag(&argc, argv, "--quiet");
    if (argc == 2 && strcmp(argv[0], "load") == 0)
        return load(cfg, argv[1], quiet);
    fprintf(stderr, "usage: medclear data load [--quiet] DIR\n"
                    "(on a terminal it draws its progress on stderr; --quiet: none)\n");
    return 2;
}
