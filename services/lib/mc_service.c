/*
 * The batch loop shared by the three services: inbox, handler, outbox, publish, offsets.
 * The database is the source of truth: a message counts as processed once its inbox row
 * has committed, and what it caused is in the outbox in the same transaction, so a crash
 * anywhere loses nothing: uncommitted work is redelivered by Kafka (offsets are committed
 * last), committed but unpublished outbox rows are published at the next start.
 */
#include "mc_service.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mc_db.h"
#include "mc_ledger.h"
#include "mc_log.h"
#include "mc_metrics.h"
#include "mc_sign.h"
#include "mc_text.h"

/* One outbox row: written to the database with the others of its batch just before the
 * commit (mc_service.c outbox_flush), then published. */
typedef struct pending {
    int64_t id;                 /* 0 until written; a row read back has its own */
    int64_t range;              /* first_id of the outbox_unpublished row covering it */
    char cause[MC_ID_MAX + 1];  /* message id of what caused it; "" for none */
    char topic[128];
    char key[MC_ID_MAX + 1];
    uint8_t *payload;
    size_t len;
    char reason[32]; /* dead letters only: reason code */
    char detail[256];
    char source[160]; /* dead letters only: topic/partition/offset of the original */
} pending_t;

/*
 * Outbox ids are marked unpublished a block at a time: a row (first_id, last_id) of
 * outbox_unpublished for each block of up to RANGE_IDS ids written by one statement
 * (sql/017_outbox_ranges.sql). A block's row is deleted once the broker acknowledged
 * every outbox row the statement wrote in it.
 */
#define RANGE_IDS 1024
#define BACKLOG_RANGES 16 /* ranges the backlog reads at a time */

/* An outbox_unpublished row whose outbox rows are with the producer. */
typedef struct flight {
    int64_t first;   /* its first_id: the opaque of each of its messages */
    int outstanding; /* messages handed to the producer and not reported on yet */
    bool failed;     /* one was refused or not delivered: the row stays, for the backlog */
} flight_t;

struct mc_service {
    const mc_config_t *cfg;
    const mc_service_def_t *def;
    PGconn *db;
    rd_kafka_t *consumer;
    rd_kafka_t *producer;
    mc_keyring_t *keyring; /* NULL: signatures off */
    char dlq_topic[128];
    pending_t *pending;
    int n_pending, cap_pending;
    mc_ledger_t *ledger; /* the entries of the batch's handlers, posted before its outbox */
    flight_t *flights; /* in the order produced */
    int n_flights, cap_flights;
    int64_t *delivered; /* first_ids of ranges delivered whole, not yet marked published */
    int n_delivered, cap_delivered;
    bool db_lost;      /* the connection broke: reconnect before the next batch */
    bool backlog;      /* some outbox rows are not published yet: retry */
    int last_batch;    /* messages in the last batch: more than one, traffic is flowing */
    bool uncommitted;  /* batches applied since the consumer's offsets were last committed */
    int64_t next_commit; /* when the offsets are committed next while traffic flows (epoch ms) */
    int64_t next_tick; /* when the service's periodic work runs next (epoch ms) */
    int64_t next_snapshot; /* when the ledger is looked at for a balance snapshot next */
    mc_metrics_t *metrics; /* NULL: nothing counted */
    int64_t next_health;   /* when the health checks run next (epoch ms) */
    int64_t next_lag;      /* when the consumer lag is sampled next (epoch ms) */
    /* statements, schema-qualified at start-up */
    char sql_inbox_insert[256];
    char sql_inbox_hash[256];
    char sql_inbox_record[400];
    char sql_outbox_insert[640];
    char sql_outbox_reemit[640];
    char sql_outbox_published[160];
    char sql_outbox_unpublished[400];
    char sql_outbox_count[256];
};

struct mc_msg_ctx {
    mc_service_t *svc;
    const rd_kafka_message_t *msg;
    const char *message_id; /* NULL until decoded */
};

PGconn *mc_ctx_db(mc_msg_ctx_t *ctx) { return ctx->svc->db; }
const mc_config_t *mc_ctx_config(mc_msg_ctx_t *ctx) { return ctx->svc->cfg; }
const char *mc_ctx_topic(mc_msg_ctx_t *ctx) { return ctx->msg ? rd_kafka_topic_name(ctx->msg->rkt) : ""; }
const char *mc_ctx_message_id(mc_msg_ctx_t *ctx) { return ctx->message_id; }

/* Room for one more element in an array of n of cap (doubled from first when full). */
static void *grow(void *array, int n, int *cap, size_t size, int first)
{
    if (n < *cap)
        return array;
    int more = *cap ? *cap * 2 : first;
    void *p = realloc(array, (size_t)more * size);
    if (!p)
        abort();
    *cap = more;
    return p;
}

static pending_t *pending_add(mc_service_t *svc)
{
    svc->pending = grow(svc->pending, svc->n_pending, &svc->cap_pending, sizeof(pending_t), 256);
    pending_t *p = &svc->pending[svc->n_pending++];
    memset(p, 0, sizeof(*p));
    return p;
}

/* Queues an outbox row read back from the database: id, topic, msg_key, payload and,
 * when the result has them, reason, detail and source (dead letters). range is the
 * first_id of the outbox_unpublished row that covers it, 0 for one of its own. */
static void pending_from_row(mc_service_t *svc, const PGresult *res, int row, int64_t range)
{
    pending_t *p = pending_add(svc);
    p->id = mc_db_int(res, row, 0);
    p->range = range ? range : p->id;
    snprintf(p->topic, sizeof(p->topic), "%s", PQgetvalue(res, row, 1));
    snprintf(p->key, sizeof(p->key), "%s", PQgetvalue(res, row, 2));
    size_t len;
    unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, 3), &len);
    p->payload = malloc(len ? len : 1);
    if (!raw || !p->payload)
        abort();
    memcpy(p->payload, raw, len);
    p->len = len;
    PQfreemem(raw);
    if (PQnfields(res) >= 7) {
        snprintf(p->reason, sizeof(p->reason), "%s", PQgetvalue(res, row, 4));
        snprintf(p->detail, sizeof(p->detail), "%s", PQgetvalue(res, row, 5));
        snprintf(p->source, sizeof(p->source), "%s", PQgetvalue(res, row, 6));
    }
}

/* Forgets the rows from n on: their transaction or savepoint was rolled back. */
static void pending_truncate(mc_service_t *svc, int n)
{
    while (svc->n_pending > n)
        free(svc->pending[--svc->n_pending].payload);
}

/*
 * Writes the outbox rows not written yet in one statement (multi-row, through unnest)
 * and gives each its id, and the range of outbox_unpublished that covers it (one per
 * block of RANGE_IDS ids, as the statement groups them). Called before anything reads
 * the outbox in the transaction and before its commit.
 */
static bool outbox_flush(mc_service_t *svc)
{
    int n = 0;
    for (int i = 0; i < svc->n_pending; i++)
        n += svc->pending[i].id == 0;
    if (n == 0)
        return true;
    /* the statement's parameters in order: cause, topic, key, payload, reason, detail,
     * source; the payloads go in binary */
    enum { CAUSE, TOPIC, KEY, REASON, DETAIL, SOURCE, TEXT_COLS };
    mc_array_t col[TEXT_COLS];
    mc_bytes_array_t payloads;
    for (int c = 0; c < TEXT_COLS; c++)
        mc_array_init(&col[c]);
    mc_bytes_array_init(&payloads);
    for (int i = 0; i < svc->n_pending; i++) {
        const pending_t *p = &svc->pending[i];
        if (p->id != 0)
            continue; /* written already, or read back from the outbox */
        bool dead = p->reason[0] != '\0';
        mc_array_str(&col[CAUSE], p->cause[0] ? p->cause : NULL);
        mc_array_str(&col[TOPIC], p->topic);
        mc_array_str(&col[KEY], p->key);
        mc_bytes_array_add(&payloads, p->payload, p->len);
        mc_array_str(&col[REASON], dead ? p->reason : NULL);
        mc_array_str(&col[DETAIL], dead ? p->detail : NULL);
        mc_array_str(&col[SOURCE], dead ? p->source : NULL);
    }
    mc_params_t prm;
    mc_params_init(&prm);
    for (int c = 0; c < TEXT_COLS; c++) {
        if (c == REASON)
            mc_p_bytes_array(&prm, &payloads);
        mc_p_str(&prm, mc_array_text(&col[c]));
    }
    PGresult *res = mc_db_run(svc->db, svc->sql_outbox_insert, &prm);
    for (int c = 0; c < TEXT_COLS; c++)
        mc_array_free(&col[c]);
    mc_bytes_array_free(&payloads);
    if (!res)
        return false;
    if (PQntuples(res) != n) {
        mc_error("outbox: %d rows written for %d", PQntuples(res), n);
        PQclear(res);
        return false;
    }
    /* The rows are inserted in array order, so their serial ids ascend in that order. */
    int64_t *ids = malloc((size_t)n * sizeof(*ids));
    if (!ids)
        abort();
    for (int i = 0; i < n; i++)
        ids[i] = mc_db_int(res, i, 0);
    PQclear(res);
    for (int i = 1; i < n; i++) /* insertion sort: RETURNING order is not promised */
        for (int j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
            int64_t t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
    int64_t first = 0;
    for (int i = 0, k = 0; i < n; i++, k++) {
        if (i == 0 || ids[i] / RANGE_IDS != ids[i - 1] / RANGE_IDS)
            first = ids[i];
        while (svc->pending[k].id != 0)
            k++;
        svc->pending[k].id = ids[i];
        svc->pending[k].range = first;
    }
    free(ids);
    return true;
}

/* Queues one outbox row, written at the next outbox_flush(). Takes ownership of payload. */
static mc_err_t outbox_add(mc_msg_ctx_t *ctx, const char *topic, const char *key,
                           uint8_t *payload, size_t len, mc_reason_t reason,
                           const char *detail, const char *source)
{
    mc_service_t *svc = ctx->svc;
    pending_t *p = pending_add(svc);
    snprintf(p->topic, sizeof(p->topic), "%s", topic);
    snprintf(p->key, sizeof(p->key), "%s", key ? key : "");
    p->payload = payload;
    p->len = len;
    snprintf(p->cause, sizeof(p->cause), "%s", ctx->message_id ? ctx->message_id : "");
    if (reason != MC_OK) {
        snprintf(p->reason, sizeof(p->reason), "%s", mc_reason_code(reason));
        snprintf(p->detail, sizeof(p->detail), "%s", detail ? detail : "");
        snprintf(p->source, sizeof(p->source), "%s", source ? source : "");
    }
    return MC_ERR_OK;
}

mc_err_t mc_ctx_emit(mc_msg_ctx_t *ctx, const char *topic, const char *key,
                     const Medclear__Envelope *env)
{
    size_t len;
    char err[128];
    uint8_t *buf = mc_envelope_seal(ctx->svc->keyring, env, &len, err, sizeof(err));
    if (!buf) {
        mc_error("could not sign a message to %s: %s", topic, err);
        return MC_ERR_DB;
    }
    return outbox_add(ctx, topic, key, buf, len, MC_OK, NULL, NULL);
}

void mc_ctx_post(mc_msg_ctx_t *ctx, const char *claim_id, const char *dr, const char *dr_kind,
                 const char *cr, const char *cr_kind, int64_t amount)
{
    mc_ledger_add(ctx->svc->ledger, ctx->message_id ? ctx->message_id : "", claim_id, dr, dr_kind,
                  cr, cr_kind, amount);
}

mc_err_t mc_ctx_forward(mc_msg_ctx_t *ctx, const char *topic, const char *key)
{
    const rd_kafka_message_t *m = ctx->msg;
    uint8_t *copy = malloc(m->len ? m->len : 1);
    if (!copy)
        abort();
    if (m->len)
        memcpy(copy, m->payload, m->len);
    return outbox_add(ctx, topic, key, copy, m->len, MC_OK, NULL, NULL);
}

mc_err_t mc_ctx_dead_letter(mc_msg_ctx_t *ctx, mc_reason_t reason, const char *detail)
{
    const rd_kafka_message_t *m = ctx->msg;
    char source[160];
    snprintf(source, sizeof(source), "%s/%" PRId32 "/%" PRId64, rd_kafka_topic_name(m->rkt),
             m->partition, m->offset);
    mc_warn("dead letter from %s: %s: %s", source, mc_reason_code(reason), detail);

    uint8_t *copy = malloc(m->len ? m->len : 1);
    if (!copy)
        abort();
    if (m->len)
        memcpy(copy, m->payload, m->len);
    char key[MC_ID_MAX + 1] = "";
    if (m->key_len)
        snprintf(key, sizeof(key), "%.*s", (int)(m->key_len < MC_ID_MAX ? m->key_len : MC_ID_MAX),
                 (const char *)m->key);
    return outbox_add(ctx, ctx->svc->dlq_topic, key, copy, m->len, reason, detail, source);
}

mc_err_t mc_ctx_flush_rows(mc_msg_ctx_t *ctx, void *rows)
{
    return mc_rows_flush(rows, ctx->svc->db) ? MC_ERR_OK : MC_ERR_DB;
}

void mc_ctx_forget_rows(void *rows) { mc_rows_reset(rows); }

mc_err_t mc_ctx_read_result_claims(mc_msg_ctx_t *ctx, const Medclear__Envelope *const *envs,
                                   int n, const char *sql, PGresult **res)
{
    *res = NULL;
    mc_array_t ids;
    mc_array_init(&ids);
    for (int i = 0; i < n; i++)
        if (envs[i]->body_case == MEDCLEAR__ENVELOPE__BODY_RESULT)
            mc_array_str(&ids, envs[i]->result->claim_id);
    mc_err_t err = MC_ERR_OK;
    if (ids.n > 0) {
        mc_params_t p;
        mc_params_init(&p);
        mc_p_str(&p, mc_array_text(&ids));
        *res = mc_db_run(ctx->svc->db, sql, &p);
        if (!*res)
            err = MC_ERR_DB;
    }
    mc_array_free(&ids);
    return err;
}

mc_err_t mc_ctx_flush_rows_holding(mc_msg_ctx_t *ctx, mc_rows_t *rows, const char *key)
{
    return mc_rows_holds(rows, key) ? mc_ctx_flush_rows(ctx, rows) : MC_ERR_OK;
}

/*
 * Whether a row queued and not yet written could be the one mc_ctx_reemit() sends again
 * (the newest first send of topic and key): only then must the outbox be written before
 * the statement that reads it. Resent duplicates are a few percent of a busy intake, and
 * a write for each split the batch's outbox rows into many statements.
 */
static bool pending_unwritten(const mc_service_t *svc, const char *topic, const char *key)
{
    for (int i = 0; i < svc->n_pending; i++) {
        const pending_t *p = &svc->pending[i];
        if (p->id == 0 && p->reason[0] == '\0' && strcmp(p->key, key) == 0 &&
            strcmp(p->topic, topic) == 0)
            return true;
    }
    return false;
}

mc_err_t mc_ctx_reemit(mc_msg_ctx_t *ctx, const char *topic, const char *key, bool *found)
{
    mc_service_t *svc = ctx->svc;
    mc_params_t prm;
    mc_params_init(&prm);
    mc_p_str(&prm, topic);
    mc_p_str(&prm, key);
    mc_p_str(&prm, ctx->message_id);
    if (pending_unwritten(svc, topic, key) && !outbox_flush(svc))
        return MC_ERR_DB;
    PGresult *res = mc_db_run(svc->db, svc->sql_outbox_reemit, &prm);
    if (!res)
        return MC_ERR_DB;
    for (int i = 0; i < PQntuples(res); i++)
        pending_from_row(svc, res, i, 0);
    *found = PQntuples(res) > 0;
    PQclear(res);
    return MC_ERR_OK;
}

static void build_sql(mc_service_t *svc)
{
    const char *s = svc->def->schema;
    snprintf(svc->sql_inbox_insert, sizeof(svc->sql_inbox_insert),
             "INSERT INTO %s.inbox (message_id, payload_hash, topic, partition, kafka_offset) "
             "VALUES ($1, sha256($2), $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1",
             s);
    snprintf(svc->sql_inbox_record, sizeof(svc->sql_inbox_record),
             "INSERT INTO %s.inbox (message_id, payload_hash, topic, partition, kafka_offset) "
             "SELECT m, decode(h, 'hex'), t, p, o FROM unnest($1::text[], $2::text[], $3::text[], "
             "$4::integer[], $5::bigint[]) AS u(m, h, t, p, o) "
             "ON CONFLICT DO NOTHING RETURNING message_id",
             s);
    snprintf(svc->sql_inbox_hash, sizeof(svc->sql_inbox_hash),
             "SELECT payload_hash = sha256($2) FROM %s.inbox WHERE message_id = $1", s);
    /* The outbox rows' ids go into outbox_unpublished with them, a range per block of
     * RANGE_IDS, and leave once the broker acknowledged them (sql/017_outbox_ranges.sql). */
    snprintf(svc->sql_outbox_insert, sizeof(svc->sql_outbox_insert),
             "WITH o AS (INSERT INTO %s.outbox (cause_id, topic, msg_key, payload, reason, "
             "detail, source) SELECT c, t, k, p, r, d, s FROM unnest($1::text[], $2::text[], "
             "$3::text[], $4::bytea[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY "
             "AS u(c, t, k, p, r, d, s, n) ORDER BY n RETURNING id), "
             "q AS (INSERT INTO %s.outbox_unpublished (first_id, last_id) SELECT min(id), "
             "max(id) FROM o GROUP BY id / %d) SELECT id FROM o",
             s, s, RANGE_IDS);
    snprintf(svc->sql_outbox_reemit, sizeof(svc->sql_outbox_reemit),
             "WITH o AS (INSERT INTO %s.outbox (cause_id, topic, msg_key, payload, resent_of) "
             "SELECT $3, topic, msg_key, payload, id FROM %s.outbox "
             "WHERE topic = $1 AND msg_key = $2 AND resent_of IS NULL AND reason IS NULL "
             "ORDER BY id DESC LIMIT 1 RETURNING id, topic, msg_key, payload), "
             "q AS (INSERT INTO %s.outbox_unpublished (first_id, last_id) SELECT id, id FROM o) "
             "SELECT id, topic, msg_key, payload FROM o",
             s, s, s);
    snprintf(svc->sql_outbox_published, sizeof(svc->sql_outbox_published),
             "DELETE FROM %s.outbox_unpublished WHERE first_id = ANY($1::bigint[])", s);
    /* BACKLOG_RANGES ranges at a time: at most that many blocks of RANGE_IDS rows. */
    snprintf(svc->sql_outbox_unpublished, sizeof(svc->sql_outbox_unpublished),
             "SELECT o.id, o.topic, o.msg_key, o.payload, o.reason, o.detail, o.source, "
             "u.first_id FROM (SELECT first_id, last_id FROM %s.outbox_unpublished "
             "ORDER BY first_id LIMIT %d) u "
             "JOIN %s.outbox o ON o.id BETWEEN u.first_id AND u.last_id "
             "ORDER BY u.first_id, o.id",
             s, BACKLOG_RANGES, s);
    snprintf(svc->sql_outbox_count, sizeof(svc->sql_outbox_count),
             "SELECT count(*) FROM %s.outbox_unpublished u JOIN %s.outbox o "
             "ON o.id BETWEEN u.first_id AND u.last_id",
             s, s);
}

/* The range in flight whose first_id is first, added when add is true; NULL if none.
 * Searched from the newest when adding (a batch's rows follow each other) and from the
 * oldest otherwise (the broker acknowledges in about the order produced). */
static flight_t *flight_find(mc_service_t *svc, int64_t first, bool add)
{
    if (add) {
        for (int i = svc->n_flights - 1; i >= 0; i--)
            if (svc->flights[i].first == first)
                return &svc->flights[i];
        svc->flights = grow(svc->flights, svc->n_flights, &svc->cap_flights, sizeof(flight_t), 64);
        flight_t *f = &svc->flights[svc->n_flights++];
        *f = (flight_t){.first = first};
        return f;
    }
    for (int i = 0; i < svc->n_flights; i++)
        if (svc->flights[i].first == first)
            return &svc->flights[i];
    return NULL;
}

/* Forgets a range once nothing of it is with the producer; queues it to be marked
 * published (mark_published()) when all of it was delivered. */
static void flight_land(mc_service_t *svc, flight_t *f)
{
    if (f->outstanding > 0)
        return;
    if (!f->failed) {
        svc->delivered = grow(svc->delivered, svc->n_delivered, &svc->cap_delivered,
                              sizeof(int64_t), 1024);
        svc->delivered[svc->n_delivered++] = f->first;
    }
    int i = (int)(f - svc->flights);
    memmove(f, f + 1, (size_t)(svc->n_flights - i - 1) * sizeof(*f));
    svc->n_flights--;
}

/*
 * Delivery report of an outbox row (the first_id of its range is the message's opaque).
 * Served by rd_kafka_poll() / rd_kafka_flush() on the loop's thread: a range delivered
 * whole waits in svc->delivered until mark_published() writes it; a range with a failed
 * row stays unpublished and the backlog publishes it again.
 */
static void on_published(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    mc_service_t *svc = opaque;
    const char *topic = rd_kafka_topic_name(m->rkt);
    flight_t *f = flight_find(svc, (int64_t)(intptr_t)m->_private, false);
    if (m->err) {
        mc_warn("could not deliver to %s: %s", topic, rd_kafka_err2str(m->err));
        mc_metrics_count(svc->metrics, MC_C_PRODUCE_FAILED, topic, 1);
        svc->backlog = true;
        if (f)
            f->failed = true;
    } else {
        mc_metrics_count(svc->metrics, MC_C_PRODUCED, topic, 1);
    }
    if (!f) /* of a producer replaced since (drain()): its row stays, for the backlog */
        return;
    f->outstanding--;
    flight_land(svc, f);
}

/*
 * Hands every pending row (committed in the outbox) to the producer and forgets it; the
 * delivery reports come later. Does not wait for the broker: the next batch is applied
 * while this one is on its way. A row the producer refuses stays unpublished for the
 * backlog.
 */
static void produce_pending(mc_service_t *svc)
{
    for (int i = 0; i < svc->n_pending; i++) {
        pending_t *p = &svc->pending[i];
        rd_kafka_headers_t *hdrs = NULL;
        if (p->reason[0]) {
            hdrs = rd_kafka_headers_new(4);
            rd_kafka_header_add(hdrs, "reason", -1, p->reason, -1);
            rd_kafka_header_add(hdrs, "detail", -1, p->detail, -1);
            rd_kafka_header_add(hdrs, "source", -1, p->source, -1);
            rd_kafka_header_add(hdrs, "service", -1, svc->def->role, -1);
        }
        /* Counted before the producer takes it, so that no report served by the poll
         * below lands the range while rows of it are still to be produced. */
        flight_t *f = flight_find(svc, p->range, true);
        f->outstanding++;
        rd_kafka_resp_err_t err;
        do {
            err = rd_kafka_producev(svc->producer, RD_KAFKA_V_TOPIC(p->topic),
                                    RD_KAFKA_V_KEY(p->key, strlen(p->key)),
                                    RD_KAFKA_V_VALUE(p->payload, p->len),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_HEADERS(hdrs),
                                    RD_KAFKA_V_OPAQUE((void *)(intptr_t)p->range),
                                    RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                int64_t first = f->first; /* the poll may land others, moving f */
                rd_kafka_poll(svc->producer, 50);
                f = flight_find(svc, first, false);
            }
        } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        if (err) {
            mc_error("could not produce to %s: %s", p->topic, rd_kafka_err2str(err));
            mc_metrics_count(svc->metrics, MC_C_PRODUCE_FAILED, p->topic, 1);
            if (hdrs)
                rd_kafka_headers_destroy(hdrs);
            svc->backlog = true;
            f->failed = true;
            f->outstanding--;
        }
    }
    /* A range none of whose rows the producer took is forgotten (it stays unpublished). */
    for (int i = svc->n_flights - 1; i >= 0; i--)
        if (svc->flights[i].outstanding == 0)
            flight_land(svc, &svc->flights[i]);
    pending_truncate(svc, 0);
}

/*
 * Marks the delivered rows published: inside the batch transaction when one is open (the
 * caller forgets them with marks_done() once it commits), or on its own. A mark lost to
 * a crash only publishes the row once more, which every consumer's inbox skips.
 * Returns the number of ids written, or -1 on a database error.
 */
static int mark_published(mc_service_t *svc)
{
    int n = svc->n_delivered;
    if (n == 0)
        return 0;
    mc_array_t ids;
    mc_array_init(&ids);
    for (int i = 0; i < n; i++)
        mc_array_int(&ids, svc->delivered[i]);
    mc_params_t prm;
    mc_params_init(&prm);
    mc_p_str(&prm, mc_array_text(&ids));
    bool ok = mc_db_defer(svc->db, svc->sql_outbox_published, &prm);
    mc_array_free(&ids);
    return ok ? n : -1;
}

/* Forgets the first n delivered ids, written and committed by mark_published(). */
static void marks_done(mc_service_t *svc, int n)
{
    if (n <= 0)
        return;
    memmove(svc->delivered, svc->delivered + n,
            (size_t)(svc->n_delivered - n) * sizeof(*svc->delivered));
    svc->n_delivered -= n;
}

/* Marks what was delivered in a statement of its own, outside any batch. */
static void mark_published_now(mc_service_t *svc)
{
    int n = mark_published(svc);
    if (n < 0)
        svc->db_lost = mc_db_broken(svc->db);
    else
        marks_done(svc, n);
}

/*
 * Waits up to 30 s for every message handed to the producer, then marks what was
 * delivered. Returns false when some did not go out (the broker is away): those are
 * purged and stay unpublished, to go out later; a copy that did reach the broker is a
 * duplicate with the same message id, which every consumer's inbox skips.
 */
static bool drain(mc_service_t *svc)
{
    rd_kafka_flush(svc->producer, 30000);
    bool all = rd_kafka_outq_len(svc->producer) == 0;
    if (!all) {
        mc_metrics_broker(svc->metrics, false, "outbox messages not delivered within 30 s");
        rd_kafka_purge(svc->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        for (int i = 0; i < 100 && rd_kafka_outq_len(svc->producer) > 0; i++)
            rd_kafka_poll(svc->producer, 100);
    }
    char fatal[256];
    if (rd_kafka_fatal_error(svc->producer, fatal, sizeof(fatal))) {
        char err[512];
        mc_error("producer failed (%s); creating a new one", fatal);
        rd_kafka_t *fresh = mc_bus_producer_with(svc->cfg, on_published, svc, err, sizeof(err));
        if (fresh) {
            rd_kafka_destroy(svc->producer);
            svc->producer = fresh;
            /* No report comes from the old producer any more: what it did not report on
             * stays unpublished, for the backlog. */
            svc->n_flights = 0;
        } else {
            mc_error("could not create a producer: %s", err);
        }
        all = false;
    }
    mark_published_now(svc);
    return all && !svc->db_lost;
}

/*
 * Publishes outbox rows left unpublished (by a crash, a refused or failed delivery, or a
 * broker outage), after every message in flight has been delivered and marked, so that
 * none goes out twice from here.
 */
static bool publish_backlog(mc_service_t *svc)
{
    if (!drain(svc))
        return false;
    svc->backlog = false;
    for (;;) {
        PGresult *res = PQexecParams(svc->db, svc->sql_outbox_unpublished, 0, NULL, NULL, NULL,
                                     NULL, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            mc_error("could not read the outbox: %s", PQresultErrorMessage(res));
            PQclear(res);
            svc->backlog = true;
            return false;
        }
        int n = PQntuples(res), ranges = 0;
        for (int i = 0; i < n; i++) {
            int64_t range = mc_db_int(res, i, 7);
            ranges += i == 0 || range != svc->pending[svc->n_pending - 1].range;
            pending_from_row(svc, res, i, range);
        }
        PQclear(res);
        if (n > 0)
            mc_info("publishing %d outbox rows left from before", n);
        produce_pending(svc);
        if (!drain(svc) || svc->backlog) {
            svc->backlog = true;
            return false;
        }
        if (ranges < BACKLOG_RANGES)
            return true;
    }
}

mc_service_t *mc_service_new(const mc_config_t *cfg, const mc_service_def_t *def,
                             const char *const *topics, int n_topics,
                             const char *const *extra_topics, int n_extra,
                             mc_metrics_t *metrics, char *errstr, size_t errstr_size)
{
    mc_service_t *svc = calloc(1, sizeof(*svc));
    if (!svc)
        abort();
    svc->cfg = cfg;
    svc->def = def;
    svc->metrics = metrics;
    mc_bus_topic(cfg, svc->dlq_topic, sizeof(svc->dlq_topic), "dlq");
    build_sql(svc);
    svc->ledger = mc_ledger_new(def->schema, def->ledger_windowed);
    if (!svc->ledger) {
        snprintf(errstr, errstr_size, "schema name \"%s\" is too long", def->schema);
        goto fail;
    }

    if (!mc_keyring_from_config(cfg, &svc->keyring, errstr, errstr_size))
        goto fail;
    if (!svc->keyring)
        mc_warn("security.keys.file not set: messages are neither signed nor verified");
    mc_metrics_phase(metrics, MC_PHASE_STARTING, "connecting to the database");
    svc->db = mc_db_connect_as(cfg->conninfo, cfg->db_user, errstr, errstr_size);
    if (!svc->db)
        goto fail;
    svc->producer = mc_bus_producer_with(cfg, on_published, svc, errstr, errstr_size);
    if (!svc->producer)
        goto fail;

    /* Create every topic this service touches before subscribing, so a fresh broker
     * does not leave the consumer waiting on topics that appear later. */
    int n_all = n_topics + n_extra + 1;
    const char **all = calloc((size_t)n_all, sizeof(*all));
    if (!all)
        abort();
    for (int i = 0; i < n_topics; i++)
        all[i] = topics[i];
    for (int i = 0; i < n_extra; i++)
        all[n_topics + i] = extra_topics[i];
    all[n_all - 1] = svc->dlq_topic;
    mc_metrics_phase(metrics, MC_PHASE_STARTING, "creating topics on the broker");
    bool created = mc_bus_ensure_topics(svc->producer, all, n_all, (int)cfg->topic_partitions,
                                        errstr, errstr_size);
    free(all);
    if (!created)
        goto fail;

    char group[160];
    if (cfg->group_id[0])
        snprintf(group, sizeof(group), "%s", cfg->group_id);
    else
        snprintf(group, sizeof(group), "%s-%s", cfg->topic_prefix, def->role);
    mc_metrics_phase(metrics, MC_PHASE_STARTING, "subscribing to the consumed topics");
    svc->consumer = mc_bus_consumer(cfg, group, topics, n_topics, errstr, errstr_size);
    if (!svc->consumer)
        goto fail;
    return svc;
fail:
    mc_service_destroy(svc);
    return NULL;
}

/* Decodes m and checks its signature and age: nothing of a forged or replayed message is
 * recorded. Returns MC_OK with *env, or the reason with its detail. */
static mc_reason_t open_message(mc_service_t *svc, const rd_kafka_message_t *m,
                                Medclear__Envelope **env, char *detail, size_t size)
{
    *env = NULL;
    return mc_envelope_open(svc->keyring, m->payload, m->len, (size_t)svc->cfg->message_max,
                            svc->cfg->max_age_ms, mc_now_ms(), env, detail, size);
}

/*
 * Handles an opened message whose id the inbox has recorded: fresh is true when this
 * message recorded it, false when it was there before (a duplicate: compared by hash, and
 * answered by the service's duplicate handler). Frees env.
 */
static mc_err_t handle_opened(mc_service_t *svc, mc_msg_ctx_t *ctx, Medclear__Envelope *env,
                              bool fresh)
{
    const rd_kafka_message_t *m = ctx->msg;
    ctx->message_id = env->message_id;
    mc_log_context_envelope(env->source_region, env->message_id);
    mc_err_t err;
    if (fresh) {
        err = svc->def->handle(ctx, env, svc->def->opaque);
        goto out;
    }
    mc_params_t prm;
    mc_params_init(&prm);
    mc_p_str(&prm, env->message_id);
    mc_p_bytes(&prm, m->payload, m->len);
    PGresult *res = mc_db_run(svc->db, svc->sql_inbox_hash, &prm);
    if (!res) {
        err = MC_ERR_DB;
        goto out;
    }
    bool same = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    mc_debug("duplicate message %s (%s payload)", env->message_id, same ? "same" : "modified");
    if (svc->def->duplicate)
        err = svc->def->duplicate(ctx, env, same, svc->def->opaque);
    else if (same)
        err = MC_ERR_OK;
    else
        err = mc_ctx_dead_letter(ctx, MC_R_DUPLICATE_MODIFIED,
                                 "message id seen before with a different payload");
out:
    medclear__envelope__free_unpacked(env, NULL);
    ctx->message_id = NULL;
    return err;
}

/* Applies one message on its own: open, record in the inbox, handle (the careful path). */
static mc_err_t apply_one(mc_service_t *svc, mc_msg_ctx_t *ctx)
{
    const rd_kafka_message_t *m = ctx->msg;
    char detail[256];
    Medclear__Envelope *env;
    mc_reason_t r = open_message(svc, m, &env, detail, sizeof(detail));
    if (r != MC_OK)
        return mc_ctx_dead_letter(ctx, r, detail);
    mc_params_t prm;
    mc_params_init(&prm);
    mc_p_str(&prm, env->message_id);
    mc_p_bytes(&prm, m->payload, m->len);
    mc_p_str(&prm, rd_kafka_topic_name(m->rkt));
    mc_p_int(&prm, m->partition);
    mc_p_int(&prm, m->offset);
    PGresult *res = mc_db_run(svc->db, svc->sql_inbox_insert, &prm);
    if (!res) {
        medclear__envelope__free_unpacked(env, NULL);
        return MC_ERR_DB;
    }
    bool fresh = PQntuples(res) == 1;
    PQclear(res);
    return handle_opened(svc, ctx, env, fresh);
}

/* One message of a batch on the fast path, opened before any is handled. */
typedef struct opened {
    Medclear__Envelope *env; /* NULL: refused (reason, detail) or a consumer error */
    mc_reason_t reason;
    char detail[256];
    bool fresh; /* this message recorded its id in the inbox */
} opened_t;

static void free_opened(opened_t *o, int n)
{
    for (int i = 0; o && i < n; i++)
        if (o[i].env)
            medclear__envelope__free_unpacked(o[i].env, NULL);
    free(o);
}

/*
 * Records the ids of the opened messages of a batch in the inbox with one statement, and
 * marks fresh the first message of each id that was not there before (a later message
 * of the batch with the same id is a duplicate, as one of a later batch would be).
 */
static bool record_batch(mc_service_t *svc, rd_kafka_message_t **msgs, opened_t *o, int n)
{
    mc_array_t col[5];
    for (int c = 0; c < 5; c++)
        mc_array_init(&col[c]);
    int n_opened = 0;
    for (int i = 0; i < n; i++) {
        if (!o[i].env)
            continue;
        uint8_t digest[32];
        char hex[65];
        mc_sha256(msgs[i]->payload, msgs[i]->len, digest);
        mc_hex(hex, digest, sizeof(digest));
        mc_array_str(&col[0], o[i].env->message_id);
        mc_array_str(&col[1], hex);
        mc_array_str(&col[2], rd_kafka_topic_name(msgs[i]->rkt));
        mc_array_int(&col[3], msgs[i]->partition);
        mc_array_int(&col[4], msgs[i]->offset);
        n_opened++;
    }
    bool ok = true;
    if (n_opened > 0) {
        mc_params_t prm;
        mc_params_init(&prm);
        for (int c = 0; c < 5; c++)
            mc_p_str(&prm, mc_array_text(&col[c]));
        PGresult *res = mc_db_run(svc->db, svc->sql_inbox_record, &prm);
        ok = res != NULL;
        if (res) {
            const char **ids = malloc((size_t)n * sizeof(*ids));
            bool *fresh = malloc((size_t)n * sizeof(*fresh));
            if (!ids || !fresh)
                abort();
            for (int i = 0; i < n; i++)
                ids[i] = o[i].env ? o[i].env->message_id : NULL;
            mc_db_mark_written(res, 0, ids, n, fresh);
            for (int i = 0; i < n; i++)
                o[i].fresh = fresh[i];
            free(ids);
            free(fresh);
            PQclear(res);
        }
    }
    for (int c = 0; c < 5; c++)
        mc_array_free(&col[c]);
    return ok;
}

/* Seconds on the monotonic clock, for latencies. */
static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Every line logged while m is handled names its topic, partition, offset and key. */
static void log_context(const rd_kafka_message_t *m)
{
    char key[MC_ID_MAX + 1] = "";
    if (m->key_len)
        snprintf(key, sizeof(key), "%.*s", (int)(m->key_len < MC_ID_MAX ? m->key_len : MC_ID_MAX),
                 (const char *)m->key);
    mc_log_context_message(m->rkt ? rd_kafka_topic_name(m->rkt) : NULL, m->partition, m->offset,
                           key);
}

/* Writes what the handlers kept in memory: what they aggregated or held
 * (mc_service_def_t.flush), then their ledger entries, which may read it (the centre's
 * take each claim's window as its result booked it). */
static mc_err_t flush_aggregates(mc_service_t *svc)
{
    if (svc->def->flush) {
        mc_msg_ctx_t ctx = {.svc = svc, .msg = NULL, .message_id = NULL};
        mc_err_t err = svc->def->flush(&ctx, svc->def->opaque);
        if (err != MC_ERR_OK)
            return err;
    }
    return mc_ledger_flush(svc->ledger, svc->db) ? MC_ERR_OK : MC_ERR_DB;
}

/* Forgets what the handlers kept in memory: the work it came from was rolled back. */
static void discard_aggregates(mc_service_t *svc)
{
    mc_ledger_discard(svc->ledger);
    if (svc->def->discard)
        svc->def->discard(svc->def->opaque);
}

/* Hands the batch's new messages to the service's read-ahead (mc_service_def_t.prepare). */
static mc_err_t prepare_batch(mc_service_t *svc, const opened_t *o, int n)
{
    const Medclear__Envelope **envs = malloc((size_t)(n ? n : 1) * sizeof(*envs));
    if (!envs)
        abort();
    int k = 0;
    for (int i = 0; i < n; i++)
        if (o[i].env && o[i].fresh)
            envs[k++] = o[i].env;
    mc_msg_ctx_t ctx = {.svc = svc, .msg = NULL, .message_id = NULL};
    mc_err_t err = svc->def->prepare(&ctx, envs, k, svc->def->opaque);
    free(envs);
    return err;
}

/* Times a message is applied again after it lost a race with another transaction. */
#define RACE_RETRIES 3

/*
 * The careful path's message m, under a savepoint of its own: applied, or undone alone and
 * dead-lettered when it fails. A message that lost a race with another instance's
 * transaction (mc_db_lost_race()) is not at fault: it is applied again, and then reads
 * what the other committed; a few times at most, so that a bug breaking a key every time
 * still ends in the dead-letter topic. False when the connection is lost.
 */
static bool apply_careful(mc_service_t *svc, rd_kafka_message_t *m)
{
    for (int raced = 0;; raced++) {
        mc_msg_ctx_t ctx = {.svc = svc, .msg = m};
        /* What earlier messages emitted is written before the savepoint: a message
         * whose handler writes the outbox (mc_ctx_reemit()) and then fails must not
         * take their rows with it. */
        if (!outbox_flush(svc))
            return false;
        int mark = svc->n_pending;
        if (!mc_db_do(svc->db, "SAVEPOINT msg", NULL))
            return false;
        mc_err_t err = apply_one(svc, &ctx);
        if (err == MC_ERR_OK)
            err = flush_aggregates(svc);
        if (err == MC_ERR_OK)
            return mc_db_do(svc->db, "RELEASE SAVEPOINT msg", NULL);
        /* The message is undone alone; a broken connection ends the batch instead. */
        char detail[256];
        snprintf(detail, sizeof(detail), "could not apply: %s", PQerrorMessage(svc->db));
        bool again = err == MC_ERR_DB && mc_db_lost_race() && raced < RACE_RETRIES;
        pending_truncate(svc, mark);
        discard_aggregates(svc);
        if (mc_db_broken(svc->db) || !mc_db_do(svc->db, "ROLLBACK TO SAVEPOINT msg", NULL))
            return false;
        if (again) {
            mc_warn("lost a race with a concurrent transaction; applying the message again "
                    "(%d of %d)", raced + 1, RACE_RETRIES);
        } else if (err == MC_ERR_DB) {
            ctx.message_id = "";
            if (mc_ctx_dead_letter(&ctx, MC_R_INTERNAL, detail) != MC_ERR_OK)
                return false;
        }
        if (!mc_db_do(svc->db, "RELEASE SAVEPOINT msg", NULL))
            return false;
        if (!again)
            return true;
    }
}

typedef enum batch_rc {
    BATCH_DONE,  /* committed */
    BATCH_SPLIT, /* a message failed on the fast path: nothing applied, apply it carefully */
    BATCH_LOST,  /* the database is lost: nothing applied */
} batch_rc_t;

/*
 * Applies one batch in one transaction. The fast path opens every message, records all
 * their ids in the inbox with one statement, runs the handlers back to back and writes
 * what they emitted to the outbox with one more; if one fails, the whole transaction is
 * rolled back and the caller applies the batch again carefully, each message on its own
 * under a savepoint, so the poison message is dead-lettered alone and the others are
 * applied (DESIGN.md section 4: a batch is split, not retried forever). Savepoints and
 * per-message inbox rows cost round trips, so only the careful path pays them.
 */
static batch_rc_t apply_batch(mc_service_t *svc, rd_kafka_message_t **msgs, int n, bool careful)
{
    double t0 = mono_seconds();
    if (careful && !mc_db_do(svc->db, "BEGIN", NULL))
        return BATCH_LOST;
    /* The fast path opens every message first and records all their ids in one statement.
     * It also marks published what the broker acknowledged since the last batch. */
    opened_t *o = NULL;
    int marked = 0;
    if (!careful) {
        /* The handlers' writes go out without waiting for their results (mc_db_defer),
         * and so does BEGIN: its result is read with the first statement's, one round
         * trip to the database fewer a batch. */
        if (!mc_db_pipeline_begin(svc->db) || !mc_db_defer(svc->db, "BEGIN", NULL))
            goto failed;
        marked = mark_published(svc);
        if (marked < 0)
            goto failed;
        o = calloc((size_t)n, sizeof(*o));
        if (!o)
            abort();
        for (int i = 0; i < n; i++)
            if (!msgs[i]->err)
                o[i].reason = open_message(svc, msgs[i], &o[i].env, o[i].detail,
                                           sizeof(o[i].detail));
        if (!record_batch(svc, msgs, o, n))
            goto failed;
        if (svc->def->prepare && prepare_batch(svc, o, n) != MC_ERR_OK)
            goto failed;
    }
    for (int i = 0; i < n; i++) {
        rd_kafka_message_t *m = msgs[i];
        log_context(m);
        if (m->err) {
            if (careful)
                mc_warn("consumer error on %s: %s", m->rkt ? rd_kafka_topic_name(m->rkt) : "-",
                        rd_kafka_message_errstr(m));
            continue;
        }
        if (!careful) {
            mc_msg_ctx_t ctx = {.svc = svc, .msg = m};
            Medclear__Envelope *env = o[i].env;
            o[i].env = NULL; /* handle_opened() frees it */
            mc_err_t err = env ? handle_opened(svc, &ctx, env, o[i].fresh)
                               : mc_ctx_dead_letter(&ctx, o[i].reason, o[i].detail);
            if (err == MC_ERR_OK)
                continue;
            mc_debug("message %d of a batch of %d failed; applying the batch one by one", i + 1, n);
            goto failed;
        }
        if (!apply_careful(svc, m))
            goto lost;
    }
    mc_log_context_clear();
    free(o);
    o = NULL;
    if (!careful && flush_aggregates(svc) != MC_ERR_OK)
        goto failed;
    /* On the fast path a write deferred by the batch's last handlers may fail here: the
     * batch is applied again carefully (failed:), unless the connection is gone. */
    if (!outbox_flush(svc)) {
        if (careful)
            goto lost;
        goto failed;
    }
    if (!mc_db_pipeline_end(svc->db)) /* a deferred write failed, or the connection */
        goto failed;
    double c0 = mono_seconds();
    if (!mc_db_do(svc->db, "COMMIT", NULL))
        goto lost;
    marks_done(svc, marked);
    double c1 = mono_seconds();
    mc_metrics_observe(svc->metrics, MC_H_COMMIT_SECONDS, c1 - c0);
    mc_metrics_observe(svc->metrics, MC_H_BATCH_SECONDS, c1 - t0);
    return BATCH_DONE;
failed:
    /* the fast path failed: nothing of the batch stays; it is applied again carefully */
    free_opened(o, n);
    mc_log_context_clear();
    pending_truncate(svc, 0);
    discard_aggregates(svc);
    (void)mc_db_pipeline_end(svc->db); /* what failed was logged */
    if (mc_db_broken(svc->db) || !mc_db_do(svc->db, "ROLLBACK", NULL))
        return BATCH_LOST;
    return BATCH_SPLIT;
lost:
    free_opened(o, n);
    mc_log_context_clear();
    pending_truncate(svc, 0);
    discard_aggregates(svc);
    (void)mc_db_pipeline_end(svc->db);
    if (!mc_db_broken(svc->db) && !mc_db_do(svc->db, "ROLLBACK", NULL))
        mc_error("could not roll back the batch");
    return BATCH_LOST;
}

/* Reconnects to the database, backing off up to 5 s, until it answers or we stop. */
static bool reconnect(mc_service_t *svc, volatile sig_atomic_t *running)
{
    int delay_ms = 100;
    mc_metrics_database(svc->metrics, false);
    for (int attempt = 1; *running; attempt++) {
        mc_metrics_heartbeat(svc->metrics); /* waiting for the database is not being stuck */
        mc_db_forget(svc->db);
        PQreset(svc->db);
        if (PQpipelineStatus(svc->db) != PQ_PIPELINE_OFF)
            (void)PQexitPipelineMode(svc->db);
        if (PQstatus(svc->db) == CONNECTION_OK) {
            PQclear(PQexec(svc->db, "SET client_min_messages = warning"));
            mc_info("database connection restored after %d attempts", attempt);
            svc->db_lost = false;
            mc_metrics_count(svc->metrics, MC_C_DB_RECONNECTS, NULL, 1);
            mc_metrics_database(svc->metrics, true);
            return true;
        }
        if (attempt == 1 || attempt % 20 == 0)
            mc_warn("database unavailable (attempt %d): %s", attempt, PQerrorMessage(svc->db));
        struct timespec ts = {delay_ms / 1000, (long)(delay_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
        delay_ms = delay_ms * 2 > 5000 ? 5000 : delay_ms * 2;
    }
    return false;
}

/* Runs the service's periodic work (timeouts) in a transaction of its own. */
static void run_tick(mc_service_t *svc)
{
    mc_msg_ctx_t ctx = {.svc = svc, .msg = NULL, .message_id = NULL};
    if (!mc_db_do(svc->db, "BEGIN", NULL)) {
        svc->db_lost = mc_db_broken(svc->db);
        return;
    }
    if (svc->def->tick(&ctx, svc->def->opaque) != MC_ERR_OK ||
        flush_aggregates(svc) != MC_ERR_OK || !outbox_flush(svc) ||
        !mc_db_do(svc->db, "COMMIT", NULL)) {
        pending_truncate(svc, 0);
        discard_aggregates(svc);
        if (mc_db_broken(svc->db))
            svc->db_lost = true;
        else
            PQclear(PQexec(svc->db, "ROLLBACK"));
        return;
    }
    produce_pending(svc);
}

/*
 * Snapshots the ledger's balances once ledger.snapshot.entries entries were posted since
 * the last snapshot (looked at every 10 s; the look is one index probe). A failure is
 * logged and tried again at the next look: balances stay right without snapshots.
 */
static void snapshot_ledger(mc_service_t *svc)
{
    char sql[96];
    mc_params_t p;
    mc_params_init(&p);
    mc_p_int(&p, svc->cfg->snapshot_entries);
    snprintf(sql, sizeof(sql), "SELECT %s.take_snapshot($1)", svc->def->schema);
    PGresult *res = mc_db_run(svc->db, sql, &p);
    if (!res) {
        svc->db_lost = mc_db_broken(svc->db);
        return;
    }
    if (!PQgetisnull(res, 0, 0))
        mc_info("ledger balance snapshot %s taken", PQgetvalue(res, 0, 0));
    PQclear(res);
}

/* Sets the lag of each assigned partition: the high watermark (cached from the last
 * fetch) less the group's committed offset (one round trip to the coordinator). */
static void sample_lag(mc_service_t *svc, rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_resp_err_t err = rd_kafka_committed(svc->consumer, parts, 1000);
    if (err) {
        mc_debug("could not read the committed offsets: %s", rd_kafka_err2str(err));
        return;
    }
    mc_lag_t *lags = calloc((size_t)parts->cnt, sizeof(*lags));
    if (!lags)
        abort();
    int n = 0;
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &parts->elems[i];
        int64_t lo, hi;
        if (p->err || rd_kafka_get_watermark_offsets(svc->consumer, p->topic, p->partition, &lo,
                                                     &hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
            hi < 0)
            continue; /* not fetched yet: no figure rather than a wrong one */
        /* nothing committed yet: the group starts at the beginning (auto.offset.reset) */
        int64_t from = p->offset >= 0 ? p->offset : lo >= 0 ? lo : hi;
        lags[n++] = (mc_lag_t){.topic = p->topic, .partition = p->partition,
                               .lag = hi > from ? hi - from : 0};
    }
    mc_metrics_lags(svc->metrics, lags, n);
    free(lags);
}

/*
 * The checks behind /readyz, about once a second: the outbox backlog, counted on the
 * loop's own connection (which also notices a lost database while no message arrives);
 * a metadata round trip to the broker; the partitions assigned to the consumer; and
 * every 5 s the lag of each partition.
 */
static void check_health(mc_service_t *svc)
{
    int64_t now = mc_now_ms();
    if (!svc->metrics || now < svc->next_health)
        return;
    svc->next_health = now + 1000;

    PGresult *res = PQexec(svc->db, svc->sql_outbox_count);
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        mc_metrics_outbox(svc->metrics, mc_db_int(res, 0, 0));
    } else if (mc_db_broken(svc->db)) {
        mc_warn("database connection lost; reconnecting");
        svc->db_lost = true;
        mc_metrics_database(svc->metrics, false);
    } else {
        mc_warn("could not count the unpublished outbox rows: %s", PQresultErrorMessage(res));
    }
    PQclear(res);

    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(svc->producer, 0, NULL, &md, 1000);
    if (md)
        rd_kafka_metadata_destroy(md);
    mc_metrics_broker(svc->metrics, err == RD_KAFKA_RESP_ERR_NO_ERROR, rd_kafka_err2str(err));

    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(svc->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    mc_metrics_assigned(svc->metrics, parts->cnt);
    if (parts->cnt == 0) {
        mc_metrics_lags(svc->metrics, NULL, 0);
    } else if (err == RD_KAFKA_RESP_ERR_NO_ERROR && now >= svc->next_lag) {
        svc->next_lag = now + 5000;
        sample_lag(svc, parts);
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

/* Counts what a committed batch consumed and dead-lettered (before it is published). */
static void count_batch(mc_service_t *svc, rd_kafka_message_t **msgs, int n)
{
    if (!svc->metrics)
        return;
    int consumed = 0;
    for (int i = 0; i < n; i++) {
        if (msgs[i]->err || !msgs[i]->rkt)
            continue;
        mc_metrics_count(svc->metrics, MC_C_CONSUMED, rd_kafka_topic_name(msgs[i]->rkt), 1);
        consumed++;
    }
    mc_metrics_observe(svc->metrics, MC_H_BATCH_MESSAGES, consumed);
    for (int i = 0; i < svc->n_pending; i++)
        if (svc->pending[i].reason[0])
            mc_metrics_count(svc->metrics, MC_C_DEAD_LETTERS, svc->pending[i].reason, 1);
}

/*
 * Commits the consumer's position: every message polled so far was applied by a batch
 * that committed in the database. Waited for, at most every batch.commit.interval.ms
 * while traffic flows and as soon as the bus falls idle, not after every batch: each
 * commit is a request the broker writes to its offsets topic and a round trip the loop
 * waits for (2.4-2.5 ms at 1,000 requests/s). What a crash leaves uncommitted is read
 * again by the next owner of the partition and skipped by its inbox, as a batch
 * committed in the database just before a crash always was.
 *
 * (Committing after every batch without waiting, at most every 100 ms, was tried once:
 * in one fault test run the treating service then never saw 325 intake messages across a
 * broker restart, and the cause was not found. Here the commit is still waited for.)
 */
static void commit_offsets(mc_service_t *svc)
{
    rd_kafka_resp_err_t err = rd_kafka_commit(svc->consumer, NULL, 0);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        mc_warn("could not commit offsets: %s", rd_kafka_err2str(err));
    else
        svc->uncommitted = false;
    svc->next_commit = mc_now_ms() + svc->cfg->commit_interval_ms;
}

/*
 * How long a batch whose first message arrived waits for more (messages already fetched
 * are always taken). Only while traffic flows, when the last batch held more than one
 * message, as PostgreSQL's commit_delay waits only with commit_siblings at work: fewer,
 * larger transactions then cut the CPU of every hop and the queues behind it, while a
 * lone message at light load goes at once. tests/bench/FINDINGS.md, "a batch's wait
 * for more while traffic flows", has the figures.
 */
int64_t mc_service_batch_wait_ms(int64_t timeout_ms, int last_batch)
{
    return last_batch > 1 ? timeout_ms : 0;
}

bool mc_service_batch_takes_more(int n, int64_t bytes, int64_t max, int64_t max_bytes)
{
    return n < max && bytes < max_bytes;
}

int mc_service_run(mc_service_t *svc, volatile sig_atomic_t *running)
{
    int max = (int)svc->cfg->batch_max;
    rd_kafka_message_t **msgs = calloc((size_t)max, sizeof(*msgs));
    if (!msgs)
        abort();
    svc->backlog = true; /* rows a crash left unpublished go out first */
    mc_metrics_phase(svc->metrics, MC_PHASE_RUNNING, NULL);
    mc_info("running");

    while (*running) {
        mc_metrics_heartbeat(svc->metrics);
        if (svc->db_lost && !reconnect(svc, running))
            break;
        check_health(svc);
        if (svc->db_lost)
            continue;
        rd_kafka_poll(svc->producer, 0); /* delivery reports */
        if (svc->backlog)
            publish_backlog(svc);
        if (svc->def->tick && mc_now_ms() >= svc->next_tick) {
            svc->next_tick = mc_now_ms() + 1000;
            run_tick(svc);
        }
        if (svc->cfg->snapshot_entries > 0 && mc_now_ms() >= svc->next_snapshot) {
            svc->next_snapshot = mc_now_ms() + 10000;
            snapshot_ledger(svc);
        }

        int n = 0;
        rd_kafka_message_t *first = rd_kafka_consumer_poll(svc->consumer, 100);
        if (!first) {
            rd_kafka_poll(svc->producer, 0);
            mark_published_now(svc); /* idle: nothing to fold the marks into */
            if (svc->uncommitted)
                commit_offsets(svc);
            continue;
        }
        msgs[n++] = first;
        int64_t bytes = (int64_t)first->len;
        int64_t wait = mc_service_batch_wait_ms(svc->cfg->batch_timeout_ms, svc->last_batch);
        int64_t deadline = mc_now_ms() + wait;
        while (mc_service_batch_takes_more(n, bytes, max, svc->cfg->batch_max_bytes)) {
            int64_t left = deadline - mc_now_ms();
            rd_kafka_message_t *m = rd_kafka_consumer_poll(svc->consumer, left > 0 ? (int)left : 0);
            if (!m)
                break;
            msgs[n++] = m;
            bytes += (int64_t)m->len;
        }

        /* A batch the database lost is applied again, from the messages still in hand,
         * once the database is back: nothing of it committed and no offset moved. (Seeking
         * the consumer back instead proved unreliable: a later commit could skip it.) */
        batch_rc_t rc;
        const char *outcome = "fast";
        for (;;) {
            rc = apply_batch(svc, msgs, n, false);
            if (rc == BATCH_SPLIT) {
                rc = apply_batch(svc, msgs, n, true);
                outcome = "split";
            }
            mc_metrics_count(svc->metrics, MC_C_BATCHES, rc == BATCH_DONE ? outcome : "lost", 1);
            if (rc != BATCH_LOST)
                break;
            mc_error("database lost during a batch of %d messages; applying it again when it "
                     "is back",
                     n);
            svc->db_lost = true;
            if (!reconnect(svc, running))
                break; /* stopping: the batch is redelivered to the next instance */
        }
        if (rc == BATCH_DONE)
            count_batch(svc, msgs, n);
        svc->last_batch = n;
        for (int i = 0; i < n; i++)
            rd_kafka_message_destroy(msgs[i]);
        if (rc == BATCH_LOST)
            break;
        mc_debug("committed a batch of %d messages", n);
        produce_pending(svc);
        svc->uncommitted = true;
        if (mc_now_ms() >= svc->next_commit)
            commit_offsets(svc);
    }
    free(msgs);
    if (svc->uncommitted && !svc->db_lost)
        commit_offsets(svc);
    if (!svc->db_lost)
        drain(svc); /* what is on its way goes out and is marked before we stop */
    mc_metrics_phase(svc->metrics, MC_PHASE_STOPPING, NULL);
    mc_info("stopping");
    return 0;
}

void mc_service_destroy(mc_service_t *svc)
{
    if (!svc)
        return;
    if (svc->consumer) {
        rd_kafka_consumer_close(svc->consumer);
        rd_kafka_destroy(svc->consumer);
    }
    if (svc->producer) {
        rd_kafka_flush(svc->producer, 10000);
        rd_kafka_destroy(svc->producer);
    }
    if (svc->db) {
        mc_db_forget(svc->db);
        PQfinish(svc->db);
    }
    pending_truncate(svc, 0);
    free(svc->pending);
    free(svc->delivered);
    free(svc->flights);
    mc_ledger_free(svc->ledger);
    mc_keyring_destroy(svc->keyring);
    free(svc);
}
