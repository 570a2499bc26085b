/*
 * What an operator sees of a running service: counters and histograms the service loop
 * updates as it works (messages consumed and produced per topic, batches, commit latency,
 * dead letters, consumer lag), its health (database, broker, partitions, outbox backlog)
 * for /livez and /readyz, and the domain figures of the service's own schema (requests,
 * claims, settlements, amounts per region pair), read from the database at scrape time
 * over a connection of their own so that they always equal what the database holds.
 *
 * The loop writes from its thread and the HTTP server (mc_http) reads from another:
 * scalar health values are C11 atomics, labelled series and strings sit behind a mutex
 * held only for a copy or an increment, never across I/O.
 */
#ifndef MC_METRICS_H
#define MC_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc_config.h"

typedef struct mc_metrics mc_metrics_t;

/* Counters with one label (the name of the label in brackets). */
typedef enum mc_counter {
    MC_C_CONSUMED = 0,   /* medclear_messages_consumed_total [topic]: committed in a batch */
    MC_C_PRODUCED,       /* medclear_messages_produced_total [topic]: delivery confirmed */
    MC_C_PRODUCE_FAILED, /* medclear_produce_failures_total [topic]: left for a retry */
    MC_C_DEAD_LETTERS,   /* medclear_dead_letters_total [reason]: committed to the DLQ */
    MC_C_BATCHES,        /* medclear_batches_total [outcome]: fast, split or lost */
    MC_C_DB_RECONNECTS,  /* medclear_database_reconnects_total (no label) */
    MC_C_COUNT_
} mc_counter_t;

typedef enum mc_histogram {
    MC_H_BATCH_MESSAGES = 0, /* medclear_batch_messages: messages per committed batch */
    MC_H_BATCH_SECONDS,      /* medclear_batch_seconds: BEGIN to COMMIT of a batch */
    MC_H_COMMIT_SECONDS,     /* medclear_db_commit_seconds: the COMMIT of a batch */
    MC_H_COUNT_
} mc_histogram_t;

typedef enum mc_phase {
    MC_PHASE_STARTING = 0, /* connecting, creating topics: alive, not ready */
    MC_PHASE_RUNNING,      /* the loop runs: ready when every check passes */
    MC_PHASE_STOPPING,     /* finishing the batch, flushing: alive, not ready */
} mc_phase_t;

/* Lag of one assigned partition: messages after the group's committed offset. */
typedef struct mc_lag {
    const char *topic;
    int32_t partition;
    int64_t lag;
} mc_lag_t;

/*
 * Creates the registry of one service. role labels every series; schema chooses the
 * domain figures read at scrape time; cfg (db.conninfo, health.*) must outlive it.
 * Never NULL (aborts when out of memory).
 */
mc_metrics_t *mc_metrics_new(const mc_config_t *cfg, const char *role, const char *schema);

/* Closes the scrape connection and frees m. NULL is a no-op. */
void mc_metrics_destroy(mc_metrics_t *m);

/* Adds n to the series of counter c with the label value (NULL for MC_C_DB_RECONNECTS).
 * Every function below taking m does nothing when m is NULL. */
void mc_metrics_count(mc_metrics_t *m, mc_counter_t c, const char *label, int64_t n);

/* Records one observation of histogram h. */
void mc_metrics_observe(mc_metrics_t *m, mc_histogram_t h, double value);

/* Health, written by the service loop. what (copied) says what a starting service is
 * doing; NULL keeps the previous text. */
void mc_metrics_phase(mc_metrics_t *m, mc_phase_t phase, const char *what);
/* The loop turned: /livez stays 200 while this happens within health.stall.ms. */
void mc_metrics_heartbeat(mc_metrics_t *m);
void mc_metrics_database(mc_metrics_t *m, bool up);
/* error (copied) says why the broker is considered down; ignored when up. */
void mc_metrics_broker(mc_metrics_t *m, bool up, const char *error);
void mc_metrics_assigned(mc_metrics_t *m, int partitions);
void mc_metrics_outbox(mc_metrics_t *m, int64_t unpublished);
/* Replaces the lag of every partition with lags[0..n) (topics copied). */
void mc_metrics_lags(mc_metrics_t *m, const mc_lag_t *lags, int n);

/*
 * /livez and /readyz: true when alive / ready; why (never NULL) gets a one-line reason
 * either way ("ok", "database unavailable", "outbox backlog 12000 >= 10000", ...).
 */
bool mc_metrics_live(mc_metrics_t *m, char *why, size_t why_size);
bool mc_metrics_ready(mc_metrics_t *m, char *why, size_t why_size);

/*
 * The Prometheus text exposition (format 0.0.4) of every series plus the domain figures
 * read now from the database. Returns a malloc'd buffer of *len bytes, NUL-terminated;
 * the caller frees it. Called from one thread at a time (the HTTP server's).
 */
char *mc_metrics_render(mc_metrics_t *m, size_t *len);

#endif
