/*
 * The medclear command-line tool: one command per concern, each in its own file.
 * Every command takes the parsed configuration and its own arguments and returns the
 * process exit status (0 success, 1 failure, 2 bad usage).
 */
#ifndef TOOL_H
#define TOOL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "mc_config.h"

int tool_db(const mc_config_t *cfg, int argc, char **argv);     /* db migrate|prune */
int tool_data(const mc_config_t *cfg, int argc, char **argv);   /* data load DIR */
int tool_submit(const mc_config_t *cfg, int argc, char **argv); /* submit */
int tool_dlq(const mc_config_t *cfg, int argc, char **argv);    /* dlq list|replay */
int tool_verify(const mc_config_t *cfg, int argc, char **argv); /* verify */
int tool_window(const mc_config_t *cfg, int argc, char **argv); /* window ... */
int tool_prepay(const mc_config_t *cfg, int argc, char **argv); /* prepay ... */
int tool_ledger(const mc_config_t *cfg, int argc, char **argv); /* ledger ... */
int tool_reconcile(const mc_config_t *cfg, int argc, char **argv); /* reconcile */
int tool_envelope(const mc_config_t *cfg, int argc, char **argv); /* envelope sign */
int tool_load(const mc_config_t *cfg, int argc, char **argv);   /* load */
int tool_report(const mc_config_t *cfg, int argc, char **argv); /* report window W */

/* Formats fen as yuan with two decimals ("-12.05") into out[32]. */
const char *tool_yuan(long long fen, char out[32]);

/* Parses a whole decimal number in [lo, hi] into *out; false when s is anything else. */
bool tool_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out);

/* Connects to cfg's database; on failure prints why on stderr and returns NULL. */
PGconn *tool_connect(const mc_config_t *cfg);

#endif
