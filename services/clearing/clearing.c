/*
 * The clearing centre's routing: every claim and every result passes through here and
 * is recorded before it is forwarded, byte for byte, to the party it is for. These
 * records are what the centre books into clearing windows and reconciles against the
 * regions.
 *
 * claim  (mc.claims)  -> record -> mc.claims.<insuring party>
 * result (mc.results) -> record -> mc.results.<treating party>
 */
#include "clearing.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_db.h"
#include "mc_log.h"
#include "mc_msg.h"
#include "mc_rows.h"

static bool national(const mc_config_t *cfg) { return strcmp(cfg->scope, "national") == 0; }

/*
 * The usage U(P,T) of the pairs a batch books into. A pair is a hot row: every claim
 * between two parties adds to it. So the batch reads and locks the rows of the pairs its
 * results book into once (pairs_ahead(), or the first claim that books into a pair not
 * read ahead), the batch's claims add to them here, and clearing_flush() writes each pair
 * once, before the batch commits (DESIGN.md section 4).
 */
typedef struct pair_usage {
    char insuring[7], treating[7];
    int64_t quota_fen, used_fen;
    int64_t added_fen; /* booked by this batch, not yet written */
    int alert_read;    /* rank of the alert stored in the row when it was read */
    int alert;         /* rank of the alert now: 0 none, 1 yellow, 2 red */
} pair_usage_t;

/* A claim of the batch to route, recorded by the read-ahead (clearing_prepare()). */
typedef struct routed_ahead {
    char *message_id;
    char *claim_id;
    bool fresh;   /* this message recorded the claim id (it was not routed before) */
    bool handled; /* its message was handled: the claim is routed as far as the batch knows */
} routed_ahead_t;

/* The claim a result of the batch is for, as read and locked by the read-ahead. */
typedef struct result_ahead {
    char *claim_id;
    int row;            /* in results_res */
    char status[16];    /* the claim's status, as the batch's results left it */
} result_ahead_t;

/*
 * The results a batch records: each claim's status, reason, payment and, when it books,
 * the open window, written by clearing_flush() with one statement for the batch. The
 * window is read once (clearing.open_window() rolls a new one only when none is open):
 * now() is the transaction's start, so each claim of the batch would have found the same.
 * A read that could see a claim held here writes them first (mc_rows.h).
 */
enum {
    RES_CLAIM,
    RES_STATUS,
    RES_REASON,
    RES_SETTLEMENT,
    RES_FUND,
    RES_TIER2,
    RES_ACCOUNT,
    RES_CASH,
    RES_BOOKED,   /* booked_at is set */
    RES_WINDOWED, /* booked into the open window */
    RES_PERIOD,   /* clearing.window.period, the same in every row */
    RES_COLS
};

static const char RESULTS_SQL[] =
    "WITH u AS MATERIALIZED (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], "
    "  $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::boolean[], "
    "  $10::boolean[], $11::text[]) AS u(claim, status, reason, settlement, fund, tier2, "
    "  account, cash, booked, windowed, period)), "
    "w AS MATERIALIZED (SELECT CASE WHEN EXISTS (SELECT 1 FROM u WHERE windowed) THEN "
    "  coalesce((SELECT window_id FROM clearing.windows WHERE status = 'OPEN' "
    "  AND period_end > now()), clearing.open_window((SELECT min(period) FROM u)::interval), "
    "  clearing.fail('no open clearing window to book claim ' || "
    "  (SELECT min(claim) FROM u WHERE windowed) || ' into')) END AS window_id) "
    "UPDATE clearing.claims c SET window_id = CASE WHEN u.windowed THEN (SELECT window_id "
    "  FROM w) ELSE c.window_id END, status = u.status, reason_code = u.reason, "
    "  settlement_id = u.settlement, fund_fen = u.fund, tier2_fen = u.tier2, "
    "  account_fen = u.account, cash_fen = u.cash, "
    "  booked_at = CASE WHEN u.booked THEN now() END "
    "FROM u WHERE c.claim_id = u.claim";

struct clearing_state {
    mc_rows_t *results_rows; /* RESULTS_SQL */
    pair_usage_t *pairs;
    int n, cap;
    routed_ahead_t *routed; /* sorted by message id */
    int n_routed;
    result_ahead_t *results; /* sorted by claim id: the claims found */
    int n_results;
    PGresult *results_res;
};

enum { ROUTE_COLS = 12 };

static int compare_routed(const void *a, const void *b)
{
    return strcmp(((const routed_ahead_t *)a)->message_id, ((const routed_ahead_t *)b)->message_id);
}

static int compare_results(const void *a, const void *b)
{
    return strcmp(((const result_ahead_t *)a)->claim_id, ((const result_ahead_t *)b)->claim_id);
}

/* The claim of the message being handled, recorded ahead; NULL when it was not. */
static routed_ahead_t *routed_ahead(clearing_state_t *st, const char *message_id)
{
    if (st->n_routed == 0 || !message_id)
        return NULL;
    routed_ahead_t key = {.message_id = (char *)message_id};
    return bsearch(&key, st->routed, (size_t)st->n_routed, sizeof(key), compare_routed);
}

static result_ahead_t *result_ahead(clearing_state_t *st, const char *claim_id)
{
    if (st->n_results == 0)
        return NULL;
    result_ahead_t key = {.claim_id = (char *)claim_id};
    return bsearch(&key, st->results, (size_t)st->n_results, sizeof(key), compare_results);
}

/* Forgets what the batch read ahead: the batch ended, or was rolled back. */
static void ahead_clear(clearing_state_t *st)
{
    for (int i = 0; i < st->n_routed; i++) {
        free(st->routed[i].message_id);
        free(st->routed[i].claim_id);
    }
    for (int i = 0; i < st->n_results; i++)
        free(st->results[i].claim_id);
    free(st->routed);
    free(st->results);
    PQclear(st->results_res);
    st->routed = NULL;
    st->results = NULL;
    st->results_res = NULL;
    st->n_routed = st->n_results = 0;
}

static char *copy(const char *s)
{
    char *c = strdup(s);
    if (!c)
        abort();
    return c;
}

/* Answers a claim the centre cannot route with a rejection to its treating party. */
static mc_err_t reject_claim(mc_msg_ctx_t *ctx, const Medclear__Envelope *env,
                             const Medclear__Claim *c, const char *treating_party,
                             mc_reason_t reason, const char *text)
{
    const mc_config_t *cfg = mc_ctx_config(ctx);
    mc_params_t p;
    mc_params_init(&p);
    mc_p_str(&p, c->claim_id);
    mc_p_str(&p, c->request_id);
    mc_p_str(&p, mc_kind_code(c->kind));
    mc_p_str(&p, c->treating_region);
    mc_p_str(&p, c->insuring_region);
    mc_p_str(&p, treating_party);
    mc_p_str(&p, c->hospital_code);
    mc_p_str(&p, c->person_id);
    mc_p_int(&p, c->totals ? c->totals->total_fen : 0);
    mc_p_int(&p, c->totals ? c->totals->in_scope_fen : 0);
    mc_p_str(&p, mc_reason_code(reason));
    if (!mc_db_defer(mc_ctx_db(ctx),
                  "INSERT INTO clearing.claims (claim_id, request_id, kind, treating_region, "
                  "insuring_region, treating_party, insuring_party, hospital_code, person_id, "
                  "total_fen, in_scope_fen, status, reason_code) VALUES ($1, $2, $3, $4, $5, "
                  "$6, '', $7, $8, $9, $10, 'REJECTED', $11)",
                  &p))
        return MC_ERR_DB;

    Medclear__ClaimResult cr;
    medclear__claim_result__init(&cr);
    cr.claim_id = c->claim_id;
    cr.request_id = c->request_id;
    cr.kind = c->kind;
    cr.treating_region = c->treating_region;
    cr.insuring_region = c->insuring_region;
    cr.person_id = c->person_id;
    cr.hospital_code = c->hospital_code;
    cr.status = MEDCLEAR__STATUS__REJECTED;
    cr.reason_code = (char *)mc_reason_code(reason);
    cr.reason_text = (char *)text;
    cr.totals = c->totals;

    char topic[128], id[33];
    mc_bus_topic2(cfg, topic, sizeof(topic), "results", treating_party);
    Medclear__Envelope out;
    mc_envelope_init(&out, id, cfg->centre, env->trace_id); /* signed by the centre */
    out.body_case = MEDCLEAR__ENVELOPE__BODY_RESULT;
    out.result = &cr;
    return mc_ctx_emit(ctx, topic, c->claim_id, &out);
}

/* What the centre does with a claim, from the claim alone. */
typedef enum verdict {
    ROUTE,       /* record it and forward it to its insuring party */
    REJECT,      /* answer it with a rejection to its treating party (reason, text) */
    DEAD_LETTER, /* not a claim of a treating party this centre clears (reason, text) */
} verdict_t;

static verdict_t check_claim(const mc_config_t *cfg, const Medclear__Envelope *env,
                             mc_reason_t *reason, char *text, size_t size, char tparty[7],
                             char iparty[7])
{
    const Medclear__Claim *c = env->claim;
    *reason = MC_R_BAD_REQUEST;
    if (!mc_valid_id(c->claim_id, MC_ID_MAX) || !mc_valid_id(c->request_id, MC_ID_MAX)) {
        snprintf(text, size, "claim_id or request_id missing or malformed");
        return DEAD_LETTER;
    }
    if (strcmp(env->source_region, c->treating_region) != 0) {
        snprintf(text, size, "claim of treating region %.8s sent by region %s",
                 c->treating_region, env->source_region);
        return DEAD_LETTER;
    }
    mc_party_of(c->treating_region, national(cfg), tparty);
    if (!mc_config_serves(cfg, tparty)) {
        *reason = MC_R_UNKNOWN_REGION;
        snprintf(text, size, "treating party %s is not cleared by this centre", tparty);
        return DEAD_LETTER;
    }
    if (!mc_valid_id(c->person_id, MC_ID_MAX) || !mc_valid_id(c->hospital_code, MC_ID_MAX)) {
        snprintf(text, size, "person_id or hospital_code missing or malformed");
        return REJECT;
    }
    *reason = MC_R_UNKNOWN_REGION;
    if (!mc_valid_region(c->insuring_region)) {
        snprintf(text, size, "insuring_region is not a 6-digit region code");
        return REJECT;
    }
    mc_party_of(c->insuring_region, national(cfg), iparty);
    if (!mc_config_serves(cfg, iparty)) {
        snprintf(text, size, "insuring party %s is not cleared by this centre", iparty);
        return REJECT;
    }
    return ROUTE;
}

/* A claim to route, as recorded: the row, 'ROUTED', without a window yet. */
static const char ROUTE_SQL[] =
    "INSERT INTO clearing.claims (claim_id, request_id, kind, treating_region, "
    "insuring_region, treating_party, insuring_party, hospital_code, person_id, total_fen, "
    "in_scope_fen, status, undoes) "
    "SELECT c, r, k, tr, ir, tp, ip, h, pe, t, s, 'ROUTED', u FROM unnest($1::text[], "
    "$2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], "
    "$9::text[], $10::bigint[], $11::bigint[], $12::text[]) WITH ORDINALITY "
    "AS x(c, r, k, tr, ir, tp, ip, h, pe, t, s, u, n) ORDER BY n "
    "ON CONFLICT (claim_id) DO NOTHING RETURNING claim_id";

static void route_row(mc_array_t *col, const Medclear__Claim *c, const char *tparty,
                      const char *iparty)
{
    mc_array_str(&col[0], c->claim_id);
    mc_array_str(&col[1], c->request_id);
    mc_array_str(&col[2], mc_kind_code(c->kind));
    mc_array_str(&col[3], c->treating_region);
    mc_array_str(&col[4], c->insuring_region);
    mc_array_str(&col[5], tparty);
    mc_array_str(&col[6], iparty);
    mc_array_str(&col[7], c->hospital_code);
    mc_array_str(&col[8], c->person_id);
    mc_array_int(&col[9], c->totals ? c->totals->total_fen : 0);
    mc_array_int(&col[10], c->totals ? c->totals->in_scope_fen : 0);
    mc_array_str(&col[11], c->settlement_id[0] ? c->settlement_id : NULL);
}

/* Records claims to route with one statement. Returns the result (the claim ids
 * recorded, each once: a claim id recorded before is not), or NULL on a database error. */
static PGresult *route_rows(PGconn *db, mc_array_t *col)
{
    mc_params_t p;
    mc_params_init(&p);
    for (int i = 0; i < ROUTE_COLS; i++)
        mc_p_str(&p, mc_array_text(&col[i]));
    return mc_db_run(db, ROUTE_SQL, &p);
}

/* Whether claim_id is recorded by a claim of this batch not handled yet: to a result
 * handled before it, the claim was never routed. */
static bool routed_later(const clearing_state_t *st, const char *claim_id)
{
    for (int i = 0; i < st->n_routed; i++)
        if (st->routed[i].fresh && !st->routed[i].handled &&
            strcmp(st->routed[i].claim_id, claim_id) == 0)
            return true;
    return false;
}

/* Reads and locks the claims the batch's results are for (as they were before the batch). */
static mc_err_t results_ahead(mc_msg_ctx_t *ctx, clearing_state_t *st,
                              const Medclear__Envelope *const *envs, int n)
{
    if (mc_ctx_read_result_claims(ctx, envs, n,
                                  "SELECT status, kind, total_fen, insuring_region, "
                                  "treating_party, insuring_party, claim_id FROM clearing.claims "
                                  "WHERE claim_id = ANY ($1::text[]) ORDER BY claim_id FOR UPDATE",
                                  &st->results_res) != MC_ERR_OK)
        return MC_ERR_DB;
    if (!st->results_res)
        return MC_ERR_OK;
    int rows = PQntuples(st->results_res);
    st->results = calloc((size_t)(rows ? rows : 1), sizeof(*st->results));
    if (!st->results)
        abort();
    for (int r = 0; r < rows; r++) {
        result_ahead_t *ra = &st->results[st->n_results++];
        ra->claim_id = copy(PQgetvalue(st->results_res, r, 6));
        ra->row = r;
        snprintf(ra->status, sizeof(ra->status), "%s", PQgetvalue(st->results_res, r, 0));
    }
    qsort(st->results, (size_t)st->n_results, sizeof(*st->results), compare_results);
    return MC_ERR_OK;
}

/* Records the batch's claims to route with one statement, each claim id once: the first
 * message of the batch with a claim id not routed before is the one that routes it. */
static mc_err_t routes_ahead(mc_msg_ctx_t *ctx, clearing_state_t *st,
                             const Medclear__Envelope *const *envs, int n)
{
    const mc_config_t *cfg = mc_ctx_config(ctx);
    mc_array_t col[ROUTE_COLS];
    for (int i = 0; i < ROUTE_COLS; i++)
        mc_array_init(&col[i]);
    st->routed = calloc((size_t)(n ? n : 1), sizeof(*st->routed));
    if (!st->routed)
        abort();
    for (int i = 0; i < n; i++) {
        char text[320], tparty[7], iparty[7];
        mc_reason_t reason;
        if (envs[i]->body_case != MEDCLEAR__ENVELOPE__BODY_CLAIM ||
            check_claim(cfg, envs[i], &reason, text, sizeof(text), tparty, iparty) != ROUTE)
            continue;
        route_row(col, envs[i]->claim, tparty, iparty);
        routed_ahead_t *a = &st->routed[st->n_routed++];
        a->message_id = copy(envs[i]->message_id);
        a->claim_id = copy(envs[i]->claim->claim_id);
    }
    mc_err_t err = MC_ERR_OK;
    if (st->n_routed > 0) {
        PGresult *res = route_rows(mc_ctx_db(ctx), col);
        if (!res) {
            err = MC_ERR_DB;
        } else {
            const char **ids = malloc((size_t)st->n_routed * sizeof(*ids));
            bool *fresh = malloc((size_t)st->n_routed * sizeof(*fresh));
            if (!ids || !fresh)
                abort();
            for (int i = 0; i < st->n_routed; i++) /* in the batch's order */
                ids[i] = st->routed[i].claim_id;
            mc_db_mark_written(res, 0, ids, st->n_routed, fresh);
            for (int i = 0; i < st->n_routed; i++)
                st->routed[i].fresh = fresh[i];
            free(ids);
            free(fresh);
            PQclear(res);
            qsort(st->routed, (size_t)st->n_routed, sizeof(*st->routed), compare_routed);
        }
    }
    for (int i = 0; i < ROUTE_COLS; i++)
        mc_array_free(&col[i]);
    return err;
}

static mc_err_t on_claim(mc_msg_ctx_t *ctx, clearing_state_t *st, const Medclear__Envelope *env)
{
    const Medclear__Claim *c = env->claim;
    const mc_config_t *cfg = mc_ctx_config(ctx);
    char text[320], tparty[7], iparty[7], topic[128];
    mc_reason_t reason;

    verdict_t v = check_claim(cfg, env, &reason, text, sizeof(text), tparty, iparty);
    if (v == DEAD_LETTER)
        return mc_ctx_dead_letter(ctx, reason, text);
    if (v == REJECT)
        return reject_claim(ctx, env, c, tparty, reason, text);

    bool fresh;
    routed_ahead_t *a = routed_ahead(st, env->message_id);
    if (a) { /* recorded by the batch's read-ahead */
        fresh = a->fresh;
        a->handled = true;
    } else {
        mc_array_t col[ROUTE_COLS];
        for (int i = 0; i < ROUTE_COLS; i++)
            mc_array_init(&col[i]);
        route_row(col, c, tparty, iparty);
        PGresult *res = route_rows(mc_ctx_db(ctx), col);
        for (int i = 0; i < ROUTE_COLS; i++)
            mc_array_free(&col[i]);
        if (!res)
            return MC_ERR_DB;
        fresh = PQntuples(res) == 1;
        PQclear(res);
    }
    if (!fresh) {
        snprintf(text, sizeof(text), "claim id \"%s\" was routed before", c->claim_id);
        return mc_ctx_dead_letter(ctx, MC_R_DUPLICATE_MODIFIED, text);
    }
    mc_bus_topic2(cfg, topic, sizeof(topic), "claims", iparty);
    return mc_ctx_forward(ctx, topic, c->claim_id);
}

/* Publishes a clearing event (alerts, top-up requests, overdue items) on
 * mc.clearing.events, through the outbox of the current transaction. */
static mc_err_t publish_event(mc_msg_ctx_t *ctx, const char *type, const char *party,
                              const char *counterparty, int64_t amount_fen, int32_t ratio_bp,
                              const char *detail)
{
    const mc_config_t *cfg = mc_ctx_config(ctx);
    Medclear__ClearingEvent ev;
    medclear__clearing_event__init(&ev);
    ev.event_type = (char *)type;
    ev.party = (char *)party;
    ev.counterparty = (char *)counterparty;
    ev.amount_fen = amount_fen;
    ev.ratio_bp = ratio_bp;
    ev.detail = (char *)detail;
    char topic[128], id[33];
    mc_bus_topic(cfg, topic, sizeof(topic), "clearing.events");
    Medclear__Envelope out;
    mc_envelope_init(&out, id, cfg->centre, NULL);
    out.body_case = MEDCLEAR__ENVELOPE__BODY_EVENT;
    out.event = &ev;
    return mc_ctx_emit(ctx, topic, party, &out);
}

/* Records a quota alert of a pair and publishes it. */
static mc_err_t emit_alert(mc_msg_ctx_t *ctx, const char *type, const char *insuring,
                           const char *treating, int64_t amount_fen, int32_t ratio_bp,
                           const char *detail, int64_t used, int64_t quota)
{
    mc_params_t p;
    mc_params_init(&p);
    mc_p_str(&p, insuring);
    mc_p_str(&p, treating);
    mc_p_str(&p, type);
    mc_p_int(&p, used);
    mc_p_int(&p, quota);
    if (!mc_db_defer(mc_ctx_db(ctx),
                  "INSERT INTO clearing.alerts (insuring_party, treating_party, event_type, "
                  "used_fen, quota_fen) VALUES ($1, $2, $3, $4, $5)",
                  &p))
        return MC_ERR_DB;
    return publish_event(ctx, type, insuring, treating, amount_fen, ratio_bp, detail);
}


static const char *const alert_names[] = {"NONE", "YELLOW", "RED"};

static int alert_rank(const char *name)
{
    return strcmp(name, "RED") == 0 ? 2 : strcmp(name, "YELLOW") == 0;
}

/* The alert rank of usage against quota: the lines are basis points of the quota. */
static int alert_of(const mc_config_t *cfg, int64_t quota, int64_t used)
{
    if (quota <= 0)
        return 0;
    __int128 u = (__int128)used * 10000;
    if (u >= (__int128)cfg->quota_red_bp * quota)
        return 2;
    return u >= (__int128)cfg->quota_yellow_bp * quota;
}

/* Whether result cr of a claim of kind books the claim's amounts into its pair and window:
 * an accepted payment of a claim that settles (a PRESETTLE claim's result only answers). */
static bool books(const Medclear__ClaimResult *cr, const char *kind)
{
    return cr->status == MEDCLEAR__STATUS__ACCEPTED && cr->payment &&
           strcmp(kind, "PRESETTLE") != 0;
}

/* Keeps the pair (insuring, treating) for the batch, as read and locked: its quota, usage
 * and alert in columns col, col + 1 and col + 2 of row. */
static pair_usage_t *pair_add(clearing_state_t *st, const char *insuring, const char *treating,
                              const PGresult *res, int row, int col)
{
    if (st->n == st->cap) {
        int cap = st->cap ? st->cap * 2 : 16;
        pair_usage_t *a = realloc(st->pairs, (size_t)cap * sizeof(*a));
        if (!a)
            abort();
        st->pairs = a;
        st->cap = cap;
    }
    pair_usage_t *u = &st->pairs[st->n++];
    snprintf(u->insuring, sizeof(u->insuring), "%s", insuring);
    snprintf(u->treating, sizeof(u->treating), "%s", treating);
    u->quota_fen = mc_db_int(res, row, col);
    u->used_fen = mc_db_int(res, row, col + 1);
    u->added_fen = 0;
    u->alert_read = u->alert = alert_rank(PQgetvalue(res, row, col + 2));
    return u;
}

/* The usage of pair (insuring, treating) in this batch: read and locked on first use (or
 * by the read-ahead, pairs_ahead()), the row made (zero quota and usage) when the pair has
 * none. NULL on a database error. */
static pair_usage_t *pair_usage(mc_msg_ctx_t *ctx, clearing_state_t *st, const char *insuring,
                                const char *treating)
{
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->pairs[i].insuring, insuring) == 0 &&
            strcmp(st->pairs[i].treating, treating) == 0)
            return &st->pairs[i];
    mc_params_t p;
    mc_params_init(&p);
    mc_p_str(&p, insuring);
    mc_p_str(&p, treating);
    PGresult *res = NULL;
    /* A pair made by another transaction between the two statements is read again. */
    for (int attempt = 0; attempt < 2 && !res; attempt++) {
        res = mc_db_run(mc_ctx_db(ctx),
                        "SELECT quota_fen, used_fen, alert FROM clearing.pairs "
                        "WHERE insuring_party = $1 AND treating_party = $2 FOR UPDATE",
                        &p);
        if (res && PQntuples(res) == 0) {
            PQclear(res);
            res = mc_db_run(mc_ctx_db(ctx),
                            "INSERT INTO clearing.pairs (insuring_party, treating_party) "
                            "VALUES ($1, $2) ON CONFLICT DO NOTHING "
                            "RETURNING quota_fen, used_fen, alert",
                            &p);
            if (res && PQntuples(res) == 0) {
                PQclear(res);
                res = NULL;
                continue;
            }
        }
        if (!res)
            return NULL;
    }
    if (!res) {
        mc_error("pair %s with %s: its row could not be read or made", insuring, treating);
        return NULL;
    }
    pair_usage_t *u = pair_add(st, insuring, treating, res, 0, 0);
    PQclear(res);
    return u;
}

/*
 * Reads and locks, with one statement, the pairs that the batch's accepted results will
 * book into, in the order of their keys: one round trip for the batch instead of one for
 * each pair's first claim. A pair with no row yet, or one a result books into that was not
 * foreseen here, is read (and made) by pair_usage() on first use, as on the careful path.
 */
static mc_err_t pairs_ahead(mc_msg_ctx_t *ctx, clearing_state_t *st,
                            const Medclear__Envelope *const *envs, int n)
{
    mc_array_t ins, trt;
    mc_array_init(&ins);
    mc_array_init(&trt);
    for (int i = 0; i < n; i++) {
        if (envs[i]->body_case != MEDCLEAR__ENVELOPE__BODY_RESULT)
            continue;
        const Medclear__ClaimResult *cr = envs[i]->result;
        const result_ahead_t *ra = result_ahead(st, cr->claim_id);
        if (!ra || strcmp(ra->status, "ROUTED") != 0 ||
            !books(cr, PQgetvalue(st->results_res, ra->row, 1)))
            continue; /* refused, or books nothing (on_result()) */
        mc_array_str(&ins, PQgetvalue(st->results_res, ra->row, 5));
        mc_array_str(&trt, PQgetvalue(st->results_res, ra->row, 4));
    }
    mc_err_t err = MC_ERR_OK;
    if (ins.n > 0) {
        mc_params_t p;
        mc_params_init(&p);
        mc_p_str(&p, mc_array_text(&ins));
        mc_p_str(&p, mc_array_text(&trt));
        PGresult *res = mc_db_run(mc_ctx_db(ctx),
                                  "SELECT insuring_party, treating_party, quota_fen, used_fen, "
                                  "alert FROM clearing.pairs WHERE (insuring_party, "
                                  "treating_party) IN (SELECT * FROM unnest($1::text[], "
                                  "$2::text[])) ORDER BY insuring_party, treating_party "
                                  "FOR UPDATE",
                                  &p);
        if (!res) {
            err = MC_ERR_DB;
        } else {
            for (int r = 0; r < PQntuples(res); r++)
                pair_add(st, PQgetvalue(res, r, 0), PQgetvalue(res, r, 1), res, r, 2);
            PQclear(res);
        }
    }
    mc_array_free(&ins);
    mc_array_free(&trt);
    return err;
}

mc_err_t clearing_prepare(mc_msg_ctx_t *ctx, const Medclear__Envelope *const *envs, int n,
                          void *opaque)
{
    clearing_state_t *st = opaque;
    ahead_clear(st);
    /* The results' claims first, as they were before the batch routes any claim, then the
     * pairs they book into (claims before pairs, as a result's booking locks them). */
    mc_err_t err = results_ahead(ctx, st, envs, n);
    if (err == MC_ERR_OK)
        err = pairs_ahead(ctx, st, envs, n);
    if (err == MC_ERR_OK)
        err = routes_ahead(ctx, st, envs, n);
    if (err != MC_ERR_OK)
        ahead_clear(st);
    else
        mc_debug("read ahead %d claims to route and %d claims of results", st->n_routed,
                 st->n_results);
    return err;
}

mc_err_t clearing_flush(mc_msg_ctx_t *ctx, void *opaque)
{
    clearing_state_t *st = opaque;
    ahead_clear(st); /* the batch's handlers are done */
    /* before the ledger's entries, which take each claim's window as booked */
    if (mc_ctx_flush_rows(ctx, st->results_rows) != MC_ERR_OK)
        return MC_ERR_DB;
    if (st->n == 0)
        return MC_ERR_OK;
    mc_array_t col[4];
    for (int c = 0; c < 4; c++)
        mc_array_init(&col[c]);
    for (int i = 0; i < st->n; i++) {
        const pair_usage_t *u = &st->pairs[i];
        if (u->added_fen == 0 && u->alert == u->alert_read)
            continue;
        mc_array_str(&col[0], u->insuring);
        mc_array_str(&col[1], u->treating);
        mc_array_int(&col[2], u->added_fen);
        mc_array_str(&col[3], alert_names[u->alert]);
    }
    bool ok = true;
    if (col[0].n > 0) {
        mc_params_t p;
        mc_params_init(&p);
        for (int c = 0; c < 4; c++)
            mc_p_str(&p, mc_array_text(&col[c]));
        PGresult *res = mc_db_run(mc_ctx_db(ctx),
                                  "UPDATE clearing.pairs x SET used_fen = x.used_fen + d.added, "
                                  "alert = d.alert FROM unnest($1::text[], $2::text[], "
                                  "$3::bigint[], $4::text[]) AS d(ins, trt, added, alert) "
                                  "WHERE x.insuring_party = d.ins AND x.treating_party = d.trt",
                                  &p);
        ok = res != NULL;
        if (res && atoi(PQcmdTuples(res)) != col[0].n) {
            mc_error("pair usage: %s rows written for %d pairs", PQcmdTuples(res), col[0].n);
            ok = false;
        }
        PQclear(res);
    }
    for (int c = 0; c < 4; c++)
        mc_array_free(&col[c]);
    st->n = 0;
    return ok ? MC_ERR_OK : MC_ERR_DB;
}

void clearing_discard(void *opaque)
{
    clearing_state_t *st = opaque;
    st->n = 0;
    mc_rows_reset(st->results_rows);
    ahead_clear(st);
}

clearing_state_t *clearing_state_new(void)
{
    clearing_state_t *st = calloc(1, sizeof(*st));
    if (!st)
        abort();
    st->results_rows = mc_rows_new(RESULTS_SQL, RES_COLS);
    return st;
}

void clearing_state_free(clearing_state_t *st)
{
    if (st) {
        ahead_clear(st);
        mc_rows_free(st->results_rows);
        free(st->pairs);
    }
    free(st);
}

/* Holds the result cr of its claim for RESULTS_SQL: written before the batch's ledger
 * entries, by clearing_flush(). */
static void add_result(clearing_state_t *st, const mc_config_t *cfg,
                       const Medclear__ClaimResult *cr, const char *status, const char *reason,
                       bool booked, bool windowed)
{
    mc_rows_t *r = st->results_rows;
    const Medclear__Payment *pay = cr->payment;
    mc_rows_str(r, RES_CLAIM, cr->claim_id);
    mc_rows_str(r, RES_STATUS, status);
    mc_rows_str(r, RES_REASON, reason);
    mc_rows_str(r, RES_SETTLEMENT, cr->settlement_id[0] ? cr->settlement_id : NULL);
    mc_rows_int(r, RES_FUND, pay ? pay->fund_fen : 0);
    mc_rows_int(r, RES_TIER2, pay ? pay->tier2_fen : 0);
    mc_rows_int(r, RES_ACCOUNT, pay ? pay->account_fen : 0);
    mc_rows_int(r, RES_CASH, pay ? pay->cash_fen : 0);
    mc_rows_str(r, RES_BOOKED, booked ? "t" : "f");
    mc_rows_str(r, RES_WINDOWED, windowed ? "t" : "f");
    mc_rows_str(r, RES_PERIOD, cfg->window_period);
    mc_rows_next(r, cr->claim_id);
}

/*
 * Records the accepted result cr of a claim that books, and books its fund amount
 * (pooled + tier 2; negative for an undo) into the open window: the claim's result and
 * window with the batch's others (RESULTS_SQL), and a balanced ledger entry with the
 * batch's others (in its transaction, mc_ctx_post). The pair's usage U(P,T) grows
 * in memory (pair_usage_t). When it crosses the yellow or red line of the pair's quota,
 * the alert is published once (and a red one asks for an emergency top-up); settlement
 * never stops.
 */
static mc_err_t book(mc_msg_ctx_t *ctx, clearing_state_t *st, const Medclear__ClaimResult *cr,
                     const char *insuring, const char *treating)
{
    const mc_config_t *cfg = mc_ctx_config(ctx);
    const char *claim_id = cr->claim_id;
    const Medclear__Payment *pay = cr->payment;
    int64_t amount = pay->fund_fen + pay->tier2_fen;
    add_result(st, cfg, cr, mc_msg_result_status(cr, true), NULL, true, true);
    /* Its journal entry names the window the claim was booked in (mc_ledger.h). */
    char dr[96], cr_acct[96]; /* regions checked when the claim was routed */
    snprintf(dr, sizeof(dr), "receivable:%s", insuring);
    snprintf(cr_acct, sizeof(cr_acct), "payable:%s", treating);
    mc_ctx_post(ctx, claim_id, dr, "ASSET", cr_acct, "LIABILITY", amount);
    pair_usage_t *u = pair_usage(ctx, st, insuring, treating);
    if (!u)
        return MC_ERR_DB;
    int was = u->alert;
    u->used_fen += amount;
    u->added_fen += amount;
    u->alert = alert_of(cfg, u->quota_fen, u->used_fen);
    int64_t quota = u->quota_fen, used = u->used_fen;
    int32_t ratio = quota > 0 ? (int32_t)((__int128)used * 10000 / quota) : 0;

    /* Escalations are announced once per crossing; falling back is silent. */
    mc_err_t err = MC_ERR_OK;
    char detail[160];
    snprintf(detail, sizeof(detail), "usage %" PRId64 " of quota %" PRId64 " fen", used, quota);
    if (u->alert >= 1 && was < 1) {
        mc_warn("quota of %s with %s: yellow alert, %s", insuring, treating, detail);
        err = emit_alert(ctx, "QUOTA_YELLOW", insuring, treating, used, ratio, detail, used, quota);
    }
    if (err == MC_ERR_OK && u->alert == 2 && was < 2) {
        mc_warn("quota of %s with %s: red alert, %s; emergency top-up requested", insuring,
                treating, detail);
        err = emit_alert(ctx, "QUOTA_RED", insuring, treating, used, ratio, detail, used, quota);
        if (err == MC_ERR_OK)
            err = emit_alert(ctx, "TOPUP_REQUEST", insuring, treating,
                             used > quota ? used - quota : quota / 10, ratio, detail, used, quota);
    }
    return err;
}

static mc_err_t on_result(mc_msg_ctx_t *ctx, clearing_state_t *st, const Medclear__Envelope *env)
{
    const Medclear__ClaimResult *cr = env->result;
    PGconn *db = mc_ctx_db(ctx);
    char text[320], topic[128];
    mc_err_t err;

    /* The claim as the read-ahead found it, or read (and locked) now. */
    mc_params_t p;
    PGresult *res = NULL;
    const PGresult *claim = NULL;
    int row = 0;
    result_ahead_t *ra = result_ahead(st, cr->claim_id);
    if (ra) {
        claim = st->results_res;
        row = ra->row;
    } else if (!routed_later(st, cr->claim_id)) {
        /* a result of this batch for the claim may be held */
        if (mc_ctx_flush_rows_holding(ctx, st->results_rows, cr->claim_id) != MC_ERR_OK)
            return MC_ERR_DB;
        mc_params_init(&p);
        mc_p_str(&p, cr->claim_id);
        res = mc_db_run(db,
                        "SELECT status, kind, total_fen, insuring_region, treating_party, "
                        "insuring_party FROM clearing.claims WHERE claim_id = $1 FOR UPDATE",
                        &p);
        if (!res)
            return MC_ERR_DB;
        if (PQntuples(res) == 1)
            claim = res;
    }
    if (!claim) {
        snprintf(text, sizeof(text), "result for claim \"%.64s\" that was never routed",
                 cr->claim_id);
        err = mc_ctx_dead_letter(ctx, MC_R_UNKNOWN_SETTLEMENT, text);
        goto out;
    }
    const char *status = ra ? ra->status : PQgetvalue(claim, row, 0);
    if (strcmp(status, "ROUTED") != 0) {
        snprintf(text, sizeof(text), "claim \"%.64s\" already has a result (%s)", cr->claim_id,
                 status);
        err = mc_ctx_dead_letter(ctx, MC_R_DUPLICATE_MODIFIED, text);
        goto out;
    }
    if (strcmp(env->source_region, PQgetvalue(claim, row, 3)) != 0) {
        snprintf(text, sizeof(text), "result for claim \"%.64s\" comes from %s, not from %s",
                 cr->claim_id, env->source_region, PQgetvalue(claim, row, 3));
        err = mc_ctx_dead_letter(ctx, MC_R_BAD_REQUEST, text);
        goto out;
    }
    mc_reason_t r = mc_msg_check_result(cr, mc_db_int(claim, row, 2), text, sizeof(text));
    if (r != MC_OK) {
        err = mc_ctx_dead_letter(ctx, r, text);
        goto out;
    }

    bool accepted = cr->status == MEDCLEAR__STATUS__ACCEPTED;
    bool settle = strcmp(PQgetvalue(claim, row, 1), "PRESETTLE") != 0; /* not a presettlement */
    if (books(cr, PQgetvalue(claim, row, 1))) {
        /* the result is recorded with its booking, in one statement */
        err = book(ctx, st, cr, PQgetvalue(claim, row, 5), PQgetvalue(claim, row, 4));
        if (err != MC_ERR_OK)
            goto out;
    } else {
        add_result(st, mc_ctx_config(ctx), cr, mc_msg_result_status(cr, settle),
                   accepted ? NULL : cr->reason_code, accepted && settle, false);
    }
    if (ra) /* a later result for the claim in this batch finds it answered */
        snprintf(ra->status, sizeof(ra->status), "%s", mc_msg_result_status(cr, settle));
    mc_bus_topic2(mc_ctx_config(ctx), topic, sizeof(topic), "results", PQgetvalue(claim, row, 4));
    err = mc_ctx_forward(ctx, topic, cr->claim_id);
out:
    PQclear(res);
    return err;
}

mc_err_t clearing_handle(mc_msg_ctx_t *ctx, const Medclear__Envelope *env, void *opaque)
{
    if (env->body_case == MEDCLEAR__ENVELOPE__BODY_CLAIM)
        return on_claim(ctx, opaque, env);
    if (env->body_case == MEDCLEAR__ENVELOPE__BODY_RESULT)
        return on_result(ctx, opaque, env);
    return mc_ctx_dead_letter(ctx, MC_R_UNKNOWN_TYPE, "the centre accepts claims and results only");
}

/*
 * Flags the confirmations and transfers that became overdue since the last tick, each
 * once, and announces them: OVERDUE_CONFIRMATION to the party that has not confirmed,
 * OVERDUE_PAYMENT to the insuring party of an unpaid line (bilateral) and
 * OVERDUE_NET_TRANSFER to a party whose net transfer is missing (multilateral).
 */
static mc_err_t flag_overdue(mc_msg_ctx_t *ctx)
{
    PGresult *res = mc_db_run(mc_ctx_db(ctx),
                              "SELECT window_id, item, party, counterparty, amount_fen, "
                              "to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                              "FROM clearing.flag_overdue() ORDER BY 1, 2, 3, 4",
                              NULL);
    if (!res)
        return MC_ERR_DB;
    mc_err_t err = MC_ERR_OK;
    for (int i = 0; i < PQntuples(res) && err == MC_ERR_OK; i++) {
        const char *w = PQgetvalue(res, i, 0), *item = PQgetvalue(res, i, 1);
        const char *party = PQgetvalue(res, i, 2), *counterparty = PQgetvalue(res, i, 3);
        char type[48], detail[160];
        snprintf(type, sizeof(type), "OVERDUE_%s", item);
        snprintf(detail, sizeof(detail), "window %s: %s due %s", w, item, PQgetvalue(res, i, 5));
        mc_warn("%s of %s%s%s overdue in window %s", item, party, counterparty[0] ? " to " : "",
                counterparty, w);
        err = publish_event(ctx, type, party, counterparty, mc_db_int(res, i, 4), 0, detail);
    }
    PQclear(res);
    return err;
}

mc_err_t clearing_tick(mc_msg_ctx_t *ctx, void *opaque)
{
    (void)opaque;
    mc_params_t p;
    mc_params_init(&p);
    mc_p_str(&p, mc_ctx_config(ctx)->window_period);
    PGresult *res = mc_db_run(mc_ctx_db(ctx), "SELECT clearing.roll_window($1::interval, false)", &p);
    if (!res)
        return MC_ERR_DB;
    if (!PQgetisnull(res, 0, 0))
        mc_info("clearing window %s closed on schedule", PQgetvalue(res, 0, 0));
    PQclear(res);
    return flag_overdue(ctx);
}
