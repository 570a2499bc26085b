/*
 * The consume-apply-publish loop every service runs (DESIGN.md section 4). A service
 * supplies a handler per decoded message; this module does the rest:
 *
 *   poll a batch (what is fetched already; while traffic flows, up to batch.timeout.ms
 *   more) -> BEGIN
 *   -> mark published what the broker acknowledged since the last batch -> decode every
 *   message and record their ids in the inbox -> let the service read ahead for the
 *   batch's new messages (prepare) -> per message: run the handler (duplicates go to
 *   the duplicate handler), which writes state and outgoing messages -> write what the
 *   handlers aggregated in memory (hot rows, once per batch) -> COMMIT -> hand
 *   the outbox rows to the idempotent producer without waiting for the broker (the next
 *   batch is applied while this one travels) -> commit Kafka offsets (at most every
 *   batch.commit.interval.ms while traffic flows, and when the bus falls idle).
 *
 * A message the handler cannot process (bad bytes, a database error of its own) is
 * rolled back alone and sent to the dead-letter topic; the partition keeps moving.
 * Outbox rows left unpublished by a crash are published at the next start.
 */
#ifndef MC_SERVICE_H
#define MC_SERVICE_H

#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>

#include "mc_bus.h"
#include "mc_config.h"
#include "mc_metrics.h"
#include "mc_reason.h"
#include "mc_rows.h"

typedef enum mc_err {
    MC_ERR_OK = 0,
    MC_ERR_DB,      /* a statement failed; the message is rolled back */
} mc_err_t;

typedef struct mc_service mc_service_t;
typedef struct mc_msg_ctx mc_msg_ctx_t;

typedef struct mc_service_def {
    const char *role;   /* "treating", "insuring", "clearing" */
    const char *schema; /* database schema holding inbox, outbox and ledger */
    bool ledger_windowed; /* the journal names its claim's clearing window (the centre) */
    /* Applies one new message inside the batch transaction. */
    mc_err_t (*handle)(mc_msg_ctx_t *ctx, const Medclear__Envelope *env, void *opaque);
    /*
     * Called instead of handle when the message id was recorded before. same_payload is
     * false when the bytes differ (a modified duplicate). NULL: same payload is skipped,
     * a modified one is dead-lettered.
     */
    mc_err_t (*duplicate)(mc_msg_ctx_t *ctx, const Medclear__Envelope *env, bool same_payload,
                          void *opaque);
    /*
     * Periodic work (NULL: none), run about once a second in a transaction of its own;
     * what it emits is published after its commit. ctx has no message: mc_ctx_topic()
     * is "" and mc_ctx_dead_letter() must not be called.
     */
    mc_err_t (*tick)(mc_msg_ctx_t *ctx, void *opaque);
    /*
     * Writes what the handlers aggregated in memory instead of row by row (NULL: nothing;
     * the clearing centre's pair usage) and forgets it: called in a batch's transaction
     * after its handlers, before its ledger entries and its outbox are written (an entry
     * may read what it wrote), and on the careful path after each message, inside its
     * savepoint. A failure rolls back what it covers.
     */
    mc_err_t (*flush)(mc_msg_ctx_t *ctx, void *opaque);
    /* Forgets what was aggregated and not flushed: its transaction or savepoint was
     * rolled back (NULL: nothing to forget). */
    void (*discard)(void *opaque);
    /*
     * Reads ahead for a whole batch (NULL: nothing): called on the fast path after the
     * inbox has recorded the batch and before its first handler, with the n messages
     * the handlers will get as new (envs borrowed for the call only). A service reads
     * here with one statement what its handlers would otherwise read one message at a
     * time, and forgets it in flush and discard. The careful path never calls it, so a
     * handler must work without it. A failure splits the batch.
     */
    mc_err_t (*prepare)(mc_msg_ctx_t *ctx, const Medclear__Envelope *const *envs, int n,
                        void *opaque);
    void *opaque;
} mc_service_def_t;

/*
 * Connects to the database and the broker, creates the topics and subscribes. topics are
 * the topics consumed; extra_topics are produced to and created too. metrics (NULL: none)
 * gets the start-up phases, then what the loop counts and its health checks; it is
 * borrowed and must outlive the service. Returns NULL and fills errstr on failure. cfg
 * and def must outlive the service.
 */
mc_service_t *mc_service_new(const mc_config_t *cfg, const mc_service_def_t *def,
                             const char *const *topics, int n_topics,
                             const char *const *extra_topics, int n_extra,
                             mc_metrics_t *metrics, char *errstr, size_t errstr_size);

/*
 * Runs until *running becomes 0; a lost database is reconnected and the batch it broke
 * consumed again, a lost broker is waited for. With metrics, about once a second it also
 * counts the unpublished outbox rows, asks the broker for metadata and reads the
 * partition assignment (and every 5 s the lag) for /readyz and /metrics. Returns 0.
 */
int mc_service_run(mc_service_t *svc, volatile sig_atomic_t *running);

/* How long a batch waits for more messages once its first arrived: batch.timeout.ms
 * (timeout_ms) when the last batch held more than one message, else 0. */
int64_t mc_service_batch_wait_ms(int64_t timeout_ms, int last_batch);

/* Whether a batch of n messages of bytes bytes in all takes one more: fewer than
 * batch.max.messages (max) and fewer bytes than batch.max.bytes (max_bytes). */
bool mc_service_batch_takes_more(int n, int64_t bytes, int64_t max, int64_t max_bytes);

/* Flushes the producer, leaves the group, closes the database. NULL is a no-op. */
void mc_service_destroy(mc_service_t *svc);

/* The database connection, inside the batch transaction. */
PGconn *mc_ctx_db(mc_msg_ctx_t *ctx);
const mc_config_t *mc_ctx_config(mc_msg_ctx_t *ctx);
/* Topic the message was consumed from. */
const char *mc_ctx_topic(mc_msg_ctx_t *ctx);
/* Message id of the message being handled (the cause of what it emits). */
const char *mc_ctx_message_id(mc_msg_ctx_t *ctx);

/*
 * Writes an outgoing message into the outbox; it is published after the commit.
 * env is packed here and not retained.
 */
mc_err_t mc_ctx_emit(mc_msg_ctx_t *ctx, const char *topic, const char *key,
                     const Medclear__Envelope *env);

/*
 * Posts the ledger entry "claim <claim_id>" for the message being handled: amount fen
 * from debit account dr to credit account cr (the other way round when negative; nothing
 * for 0), creating the accounts with their kinds. The entry is written with the others
 * of the batch, in its transaction, before its outbox (mc_ledger.h).
 */
void mc_ctx_post(mc_msg_ctx_t *ctx, const char *claim_id, const char *dr, const char *dr_kind,
                 const char *cr, const char *cr_kind, int64_t amount);

/*
 * Writes the message being handled, byte for byte, into the outbox for topic: the
 * clearing centre routes envelopes without re-signing them.
 */
mc_err_t mc_ctx_forward(mc_msg_ctx_t *ctx, const char *topic, const char *key);

/*
 * Re-emits the last message earlier emitted to topic with key, byte for byte (a
 * duplicate request gets the earlier outcome again). *found is false when there is none.
 */
mc_err_t mc_ctx_reemit(mc_msg_ctx_t *ctx, const char *topic, const char *key, bool *found);

/* Sends the message being handled to the dead-letter topic with reason and detail. */
mc_err_t mc_ctx_dead_letter(mc_msg_ctx_t *ctx, mc_reason_t reason, const char *detail);

/*
 * Rows written once per batch (mc_rows.h). A service whose batch state is one mc_rows_t
 * sets it as its opaque, with .flush = mc_ctx_flush_rows and .discard = mc_ctx_forget_rows.
 * A handler whose read could see a held row calls mc_ctx_flush_rows_holding() first.
 */
mc_err_t mc_ctx_flush_rows(mc_msg_ctx_t *ctx, void *rows);
void mc_ctx_forget_rows(void *rows);
/*
 * For a read-ahead (mc_service_def_t.prepare): runs sql, whose $1 is the text[] of the
 * claim ids of the results among envs, and gives its result in *res; *res is NULL, and
 * nothing is run, when envs hold no result. MC_ERR_DB when the statement failed.
 */
mc_err_t mc_ctx_read_result_claims(mc_msg_ctx_t *ctx, const Medclear__Envelope *const *envs,
                                   int n, const char *sql, PGresult **res);

/* mc_ctx_flush_rows() when rows hold key; MC_ERR_OK otherwise. */
mc_err_t mc_ctx_flush_rows_holding(mc_msg_ctx_t *ctx, mc_rows_t *rows, const char *key);

#endif
