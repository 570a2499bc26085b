/*
 * medclear: the command line of operators, finance and agencies. Parses the global
 * options (-c FILE, -o key=value) and hands the rest to one command.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_db.h"
#include "mc_log.h"
#include "tool.h"

static const struct command {
    const char *name;
    int (*run)(const mc_config_t *cfg, int argc, char **argv);
    const char *help;
} commands[] = {
    {"db", tool_db, "db migrate                 apply the SQL migrations not applied yet"},
    {"db", tool_db,
     "db prune --keep-days N     delete inbox and acknowledged outbox rows older than N days"},
    {"data", tool_data, "data load DIR              load reference data (CSV) into every schema"},
    {"submit", tool_submit,
     "submit [options] FILE...   publish settlement requests; --wait prints the replies"},
    {"dlq", tool_dlq, "dlq list|replay [filters]  list or re-publish the dead letters"},
    {"verify", tool_verify, "verify [--wait-ms N]       check the cross-service invariants"},
    {"window", tool_window,
     "window list|show W|close|issue W|abort W|confirm W|settle W|overdue ...   clearing windows"},
    {"prepay", tool_prepay, "prepay show|plan|record ...  prepayment quotas, usage and alerts"},
    {"ledger", tool_ledger, "ledger balance|journal|statement W|snapshot [--ledger L]  the three ledgers"},
    {"report", tool_report,
     "report window W [--html FILE]  a window's statement, flows and quota usage (text or a page)"},
    {"reconcile", tool_reconcile,
     "reconcile --window W | --day D  compare the three ledgers, down to the claim ids"},
    {"envelope", tool_envelope, "envelope sign <in >out     sign a hand-built envelope as its source region"},
    {"load", tool_load, "load [options]             offer generated requests, report throughput and latency"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
    fprintf(out, "usage: medclear [-c FILE] [-o key=value]... COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  medclear %s\n", commands[i].help);
    fprintf(out, "\n");
    mc_config_help(out);
}

const char *tool_yuan(long long fen, char out[32])
{
    unsigned long long a = fen < 0 ? 0ULL - (unsigned long long)fen : (unsigned long long)fen;
    snprintf(out, 32, "%s%llu.%02llu", fen < 0 ? "-" : "", a / 100, a % 100);
    return out;
}

bool tool_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

PGconn *tool_connect(const mc_config_t *cfg)
{
    char err[512];
    PGconn *db = mc_db_connect(cfg->conninfo, err, sizeof(err));
    if (!db)
        fprintf(stderr, "medclear: %s\n", err);
    return db;
}

int main(int argc, char **argv)
{
    mc_config_t cfg;
    const char *path = NULL;
    char err[512];
    int i = 1;

    mc_config_defaults(&cfg);
    mc_log_init("medclear", MC_LOG_WARN);
    setvbuf(stdout, NULL, _IOLBF, 0); /* progress lines interleave with errors in order */
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            i++; /* applied after the file below */
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "medclear: unknown option \"%s\" (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (!mc_config_load(&cfg, path, err, sizeof(err))) {
        fprintf(stderr, "medclear: %s\n", err);
        return 2;
    }
    for (int j = 1; j < i; j++) {
        if (strcmp(argv[j], "-o") != 0)
            continue;
        if (!mc_config_set_option(&cfg, argv[++j], err, sizeof(err))) {
            fprintf(stderr, "medclear: %s\n", err);
            return 2;
        }
    }
    if (!mc_config_finish(&cfg, err, sizeof(err))) {
        fprintf(stderr, "medclear: %s\n", err);
        return 2;
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    for (size_t c = 0; c < N_COMMANDS; c++)
        if (strcmp(argv[i], commands[c].name) == 0)
            return commands[c].run(&cfg, argc - i - 1, argv + i + 1);
    fprintf(stderr, "medclear: unknown command \"%s\" (see --help)\n", argv[i]);
    return 2;
}
