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

static bool national(const mc_config_t *cfg) { return strcmp(cfg->scope, "national") == 0; }

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

static mc_err_t on_claim(mc_msg_ctx_t *ctx, const Medclear__Envelope *env)
{
    const Medclear__Claim *c = env->claim;
    const mc_config_t *cfg = mc_ctx_config(ctx);
    char text[320], tparty[7], iparty[7], topic[128];

    if (!mc_valid_id(c->claim_id, MC_ID_MAX) || !mc_valid_id(c->request_id, MC_ID_MAX))
        return mc_ctx_dead_letter(ctx, MC_R_BAD_REQUEST, "claim_id or request_id missing or malformed");
    if (strcmp(env->source_region, c->treating_region) != 0) {
        snprintf(text, sizeof(text), "claim of treating region %.8s sent by region %s",
                 c->treating_region, env->source_region);
        return mc_ctx_dead_letter(ctx, MC_R_BAD_REQUEST, text);
    }
    mc_party_of(c->treating_region, national(cfg), tparty);
    if (!mc_config_serves(cfg, tparty)) {
        snprintf(text, sizeof(text), "treating party %s is not cleared by this centre", tparty);
        return mc_ctx_dead_letter(ctx, MC_R_UNKNOWN_REGION, text);
    }
    if (!mc_valid_id(c->person_id, MC_ID_MAX) || !mc_valid_id(c->hospital_code, MC_ID_MAX))
        return reject_claim(ctx, env, c, tparty, MC_R_BAD_REQUEST,
                            "person_id or hospital_code missing or malformed");
    if (!mc_valid_region(c->insuring_region))
        return reject_claim(ctx, env, c, tparty, MC_R_UNKNOWN_REGION,
                            "insuring_region is not a 6-digit region code");
    mc_party_of(c->insuring_region, national(cfg), iparty);
    if (!mc_config_serves(cfg, iparty)) {
        snprintf(text, sizeof(text), "insuring party %s is not cleared by this centre", iparty);
        return reject_claim(ctx, env, c, tparty, MC_R_UNKNOWN_REGION, text);
    }

    mc_params_t p;
    mc_params_init(&p);
    mc_p_str(&p, c->claim_id);
    mc_p_str(&p, c->request_id);
    mc_p_str(&p, mc_kind_code(c->kind));
    mc_p_str(&p, c->treating_region);
    mc_p_str(&p, c->insuring_region);
    mc_p_str(&p, tparty);
    mc_p_str(&p, iparty);
    mc_p_str(&p, c->hospital_code);
    mc_p_str(&p, c->person_id);
    mc_p_int(&p, c->totals ? c->totals->total_fen : 0);
    mc_p_int(&p, c->totals ? c->totals->in_scope_fen : 0);
    mc_p_str(&p, c->settlement_id[0] ? c->settlement_id : NULL);
    PGresult *res = mc_db_run(mc_ctx_db(ctx),
                              "INSERT INTO clearing.claims (claim_id, request_id, kind, "
                              "treating_region, insuring_region, treating_party, insuring_party, "
                              "hospital_code, person_id, total_fen, in_scope_fen, status, undoes) "
                              "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'ROUTED', $12) "
                              "ON CONFLICT (claim_id) DO NOTHING RETURNING 1",
                              &p);
    if (!res)
        return MC_ERR_DB;
    bool fresh = PQntuples(res) == 1;
    PQclear(res);
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

/*
 * The usage U(P,T) of the pairs a batch books into. A pair is a hot row: every claim
 * between two parties adds to it. So the first claim of a batch that books into a pair
 * reads and locks its row, the batch's claims add to it here, and clearing_flush()
 * writes each pair once, before the batch commits (DESIGN.md section 4).
 */
typedef struct pair_usage {
    char insuring[7], treating[7];
    int64_t quota_fen, used_fen;
    int64_t added_fen; /* booked by this batch, not yet written */
    int alert_read;    /* rank of the alert stored in the row when it was read */
    int alert;         /* rank of the alert now: 0 none, 1 yellow, 2 red */
} pair_usage_t;

struct clearing_state {
    pair_usage_t *pairs;
    int n, cap;
};

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

/* The usage of pair (insuring, treating) in this batch: read and locked on first use,
 * the row made (zero quota and usage) when the pair has none. NULL on a database error. */
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
    u->quota_fen = mc_db_int(res, 0, 0);
    u->used_fen = mc_db_int(res, 0, 1);
    u->added_fen = 0;
    u->alert_read = u->alert = alert_rank(PQgetvalue(res, 0, 2));
    PQclear(res);
    return u;
}

mc_err_t clearing_flush(mc_msg_ctx_t *ctx, void *opaque)
{
    clearing_state_t *st = opaque;
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
    ((clearing_state_t *)opaque)->n = 0;
}

clearing_state_t *clearing_state_new(void)
{
    clearing_state_t *st = calloc(1, sizeof(*st));
    if (!st)
        abort();
    return st;
}

void clearing_state_free(clearing_state_t *st)
{
    if (st)
        free(st->pairs);
    free(st);
}

/*
 * Records the accepted result cr of a claim that books, and books its fund amount
 * (pooled + tier 2; negative for an undo) into the open window: the claim's result and
 * window in one statement, and a balanced ledger entry with the batch's others (in its
 * transaction, mc_ctx_post). The pair's usage U(P,T) grows
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
    mc_params_t p;
    mc_params_init(&p);
    mc_p_str(&p, claim_id);
    mc_p_str(&p, cfg->window_period);
    mc_p_str(&p, mc_msg_result_status(cr, true));
    mc_p_str(&p, cr->settlement_id[0] ? cr->settlement_id : NULL);
    mc_p_int(&p, pay->fund_fen);
    mc_p_int(&p, pay->tier2_fen);
    mc_p_int(&p, pay->account_fen);
    mc_p_int(&p, pay->cash_fen);
    /* Sent without waiting (a pipelined batch): nothing below reads its result. The open
     * window is read in the statement; clearing.open_window() (a plpgsql call, which
     * rolls the window when its period is over) runs only when none is open. */
    if (!mc_db_defer(mc_ctx_db(ctx),
        "WITH w AS (SELECT coalesce((SELECT window_id FROM clearing.windows WHERE status = "
        "  'OPEN' AND period_end > now()), clearing.open_window($2::interval), clearing.fail("
        "  'no open clearing window to book claim ' || $1 || ' into')) AS window_id) "
        "UPDATE clearing.claims SET window_id = (SELECT window_id FROM w), status = $3, "
        "  reason_code = NULL, settlement_id = $4, fund_fen = $5, tier2_fen = $6, "
        "  account_fen = $7, cash_fen = $8, booked_at = now() WHERE claim_id = $1",
        &p))
        return MC_ERR_DB;
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

    mc_params_t p;
    mc_params_init(&p);
    mc_p_str(&p, cr->claim_id);
    PGresult *res = mc_db_run(db,
                              "SELECT status, kind, total_fen, insuring_region, treating_party, "
                              "insuring_party FROM clearing.claims WHERE claim_id = $1 FOR UPDATE",
                              &p);
    if (!res)
        return MC_ERR_DB;
    if (PQntuples(res) == 0) {
        snprintf(text, sizeof(text), "result for claim \"%.64s\" that was never routed",
                 cr->claim_id);
        err = mc_ctx_dead_letter(ctx, MC_R_UNKNOWN_SETTLEMENT, text);
        goto out;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "ROUTED") != 0) {
        snprintf(text, sizeof(text), "claim \"%.64s\" already has a result (%s)", cr->claim_id,
                 PQgetvalue(res, 0, 0));
        err = mc_ctx_dead_letter(ctx, MC_R_DUPLICATE_MODIFIED, text);
        goto out;
    }
    if (strcmp(env->source_region, PQgetvalue(res, 0, 3)) != 0) {
        snprintf(text, sizeof(text), "result for claim \"%.64s\" comes from %s, not from %s",
                 cr->claim_id, env->source_region, PQgetvalue(res, 0, 3));
        err = mc_ctx_dead_letter(ctx, MC_R_BAD_REQUEST, text);
        goto out;
    }
    mc_reason_t r = mc_msg_check_result(cr, mc_db_int(res, 0, 2), text, sizeof(text));
    if (r != MC_OK) {
        err = mc_ctx_dead_letter(ctx, r, text);
        goto out;
    }

    bool accepted = cr->status == MEDCLEAR__STATUS__ACCEPTED;
    bool settle = strcmp(PQgetvalue(res, 0, 1), "PRESETTLE") != 0; /* books the amounts */
    const Medclear__Payment *pay = cr->payment;
    if (accepted && settle && pay) {
        /* the result is recorded with its booking, in one statement */
        err = book(ctx, st, cr, PQgetvalue(res, 0, 5), PQgetvalue(res, 0, 4));
        if (err != MC_ERR_OK)
            goto out;
    } else {
        mc_params_init(&p);
        mc_p_str(&p, cr->claim_id);
        mc_p_str(&p, mc_msg_result_status(cr, settle));
        mc_p_str(&p, accepted ? NULL : cr->reason_code);
        mc_p_str(&p, cr->settlement_id[0] ? cr->settlement_id : NULL);
        mc_p_int(&p, pay ? pay->fund_fen : 0);
        mc_p_int(&p, pay ? pay->tier2_fen : 0);
        mc_p_int(&p, pay ? pay->account_fen : 0);
        mc_p_int(&p, pay ? pay->cash_fen : 0);
        mc_p_bool(&p, accepted && settle);
        if (!mc_db_defer(db,
                      "UPDATE clearing.claims SET status = $2, reason_code = $3, "
                      "settlement_id = $4, fund_fen = $5, tier2_fen = $6, account_fen = $7, "
                      "cash_fen = $8, booked_at = CASE WHEN $9::boolean THEN now() END "
                      "WHERE claim_id = $1",
                      &p)) {
            err = MC_ERR_DB;
            goto out;
        }
    }
    mc_bus_topic2(mc_ctx_config(ctx), topic, sizeof(topic), "results", PQgetvalue(res, 0, 4));
    err = mc_ctx_forward(ctx, topic, cr->claim_id);
out:
    PQclear(res);
    return err;
}

mc_err_t clearing_handle(mc_msg_ctx_t *ctx, const Medclear__Envelope *env, void *opaque)
{
    if (env->body_case == MEDCLEAR__ENVELOPE__BODY_CLAIM)
        return on_claim(ctx, env);
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
