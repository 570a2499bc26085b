/*
 * The treating region's side of a settlement: "the treating region's catalog" (就医地目录).
 *
 * request (mc.intake.R) -> checks -> catalog split per line -> claim (mc.claims)
 * result  (mc.results.R) -> record -> reply (mc.reply.R)
 *
 * Everything a request is answered with is decided here or by the insuring region; a
 * request that fails a check is answered REJECTED with a stable reason naming the
 * problem and never reaches the clearing centre.
 */
#include "treating.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_date.h"
#include "mc_db.h"
#include "mc_log.h"
#include "mc_money.h"
#include "mc_msg.h"
#include "mc_rows.h"
#include "mc_sign.h"
#include "mc_split.h"
#include "mc_text.h"

static mc_err_t emit_reply(mc_msg_ctx_t *ctx, const char *region, const char *trace_id,
                           Medclear__SettlementReply *reply)
{
    char topic[128], id[33];
    mc_bus_topic2(mc_ctx_config(ctx), topic, sizeof(topic), "reply", region);
    Medclear__Envelope env;
    mc_envelope_init(&env, id, region, trace_id);
    env.body_case = MEDCLEAR__ENVELOPE__BODY_REPLY;
    env.reply = reply;
    return mc_ctx_emit(ctx, topic, reply->request_id, &env);
}

static mc_err_t answer_request(mc_msg_ctx_t *ctx, const Medclear__Envelope *env,
                               const char *region, const uint8_t *body, size_t body_len,
                               mc_reason_t reason, const char *text);

/*
 * The requests a batch sends on as claims, with their claims and fee lines: written by
 * the flush hook in one statement for the batch, not one per request (70 against 152
 * us a request in pg_stat_statements over 20,000 requests), each held by its request
 * id: a read that could see one of them (a lookup of a held request id, a result for a
 * held claim, an undo) writes them first, so every statement still sees what the
 * messages before it wrote. The batch's results are written the same way, by RESULTS_SQL
 * below.
 */
enum {
    NEW_REQUEST_ID,
    NEW_MESSAGE_ID,
    NEW_HASH,
    NEW_KIND,
    NEW_REGION,
    NEW_HOSPITAL,
    NEW_PERSON,
    NEW_INSURING,
    NEW_LEVEL,
    NEW_VISIT_TYPE,
    NEW_VISIT_DATE,
    NEW_TOTAL,
    NEW_FULL_SELF_PAY,
    NEW_OVER_LIMIT,
    NEW_SELF_PAY_FIRST,
    NEW_IN_SCOPE,
    NEW_CATALOG_VERSION,
    NEW_LINES,
    NEW_COLS
};

static const char NEW_SQL[] =
    "WITH u AS MATERIALIZED (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], "
    "  $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::smallint[], $10::text[], "
    "  $11::date[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[], "
    "  $17::text[], $18::text[]) AS u(id, msg, hash, kind, region, hospital, person, insuring, "
    "  level, visit_type, visit_date, total, full_self_pay, over_limit, self_pay_first, "
    "  in_scope, catalog_version, lines)), "
    "r AS (INSERT INTO treating.requests (request_id, message_id, request_hash, kind, "
    "  treating_region, hospital_code, person_id, insuring_region, status) "
    "  SELECT id, msg, decode(hash, 'hex'), kind, region, hospital, person, insuring, "
    "  'PENDING' FROM u), "
    "k AS (INSERT INTO treating.claims (claim_id, kind, treating_region, insuring_region, "
    "  hospital_code, hospital_level, person_id, visit_type, visit_date, total_fen, "
    "  full_self_pay_fen, over_limit_fen, self_pay_first_fen, in_scope_fen, catalog_version, "
    "  status, request_id) SELECT id, kind, region, insuring, hospital, level, person, "
    "  visit_type, visit_date, total, full_self_pay, over_limit, self_pay_first, in_scope, "
    "  catalog_version, 'SENT', id FROM u) "
    /* the foreign keys are checked at the end of the statement, when all rows are in */
    "INSERT INTO treating.claim_line_sets (claim_id, lines) "
    "SELECT id, lines::treating.claim_line[] FROM u";

/* The batch's results: the claims and their requests updated with one statement at the
 * batch's end. A claim has one result per batch (a second reads the claim again, after
 * flushing), and a request one claim with a result (a settlement's own, of its id, or an
 * undo's: the cancel's or reversal's id, none for an automatic undo), so no row is
 * updated twice. */
enum {
    RES_CLAIM,
    RES_STATUS,
    RES_REASON,
    RES_SETTLEMENT,
    RES_DEDUCTIBLE,
    RES_FUND,
    RES_TIER2,
    RES_ACCOUNT,
    RES_CASH,
    RES_ANSWER,
    RES_REASON_TEXT,
    RES_COLS
};

static const char RESULTS_SQL[] =
    "WITH u AS MATERIALIZED (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], "
    "  $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], "
    "  $10::text[], $11::text[]) AS u(claim_id, status, reason, settlement, deductible, fund, "
    "  tier2, account, cash, answer, reason_text)), "
    "c AS (UPDATE treating.claims c SET status = u.status, reason_code = u.reason, "
    "  settlement_id = u.settlement, deductible_fen = u.deductible, fund_fen = u.fund, "
    "  tier2_fen = u.tier2, account_fen = u.account, cash_fen = u.cash, resulted_at = now() "
    "  FROM u WHERE c.claim_id = u.claim_id "
    "  RETURNING c.request_id, u.answer, u.reason, u.reason_text) "
    "UPDATE treating.requests r SET status = c.answer, reason_code = c.reason, "
    "  reason_text = NULLIF(c.reason_text, ''), replied_at = now(), answers = r.answers + 1 "
    "  FROM c WHERE r.request_id = c.request_id AND r.status = 'PENDING'";

/* The claim a result is for, with its lines as one array value (column 12, NULL when it
 * has none; stored in line order): one row, not a row per line (a third less time).
 * Columns 14-16 name the claim for the read-ahead. */
#define RESULT_CLAIM_COLUMNS                                                                 \
    "c.status, c.kind, c.total_fen, c.full_self_pay_fen, c.over_limit_fen, "                 \
    "c.self_pay_first_fen, c.in_scope_fen, c.catalog_version, c.insuring_region, "           \
    "c.undoes, c.undo_on_result, r.status = 'PENDING', s.lines, c.hospital_code, "           \
    "c.claim_id, c.request_id, c.treating_region "                                           \
    "FROM treating.claims c LEFT JOIN treating.requests r USING (request_id) "               \
    "LEFT JOIN treating.claim_line_sets s ON s.claim_id = c.claim_id "

/* A claim a result of the batch is for, as the read-ahead found it. */
typedef struct claim_ahead {
    const char *claim_id;   /* in the read-ahead's result */
    const char *request_id;
    int row;
    bool touched; /* the batch changed it since: read it again */
} claim_ahead_t;

/*
 * What the batch's requests are looked up by, read ahead with one statement for the
 * batch (LOOK_SQL) instead of one lookup() per request, one row per kind (column 0):
 *   'R'  a request id seen before: request_id, -, its hash in hex ('' for a tombstone);
 *   'H'  a hospital: code, region, level;
 *   'G'  a region of this network: code;
 *   'C'  a catalog item, every region and version: item_code, class, region,
 *        self_pay_first_bp, price_ceiling_fen, version, valid_from and valid_to as
 *        YYYYMMDD (columns 2, 4, 5 and 6 as in lookup()'s catalog rows).
 * Request ids that are not printable ASCII of at most 64, and codes that are not
 * printable ASCII, are left out: their requests are refused before any lookup.
 */
static const char LOOK_SQL[] =
    "SELECT 'R', request_id, NULL, encode(request_hash, 'hex'), NULL, NULL, NULL, NULL, NULL "
    "FROM treating.requests WHERE request_id = ANY ($1::text[]) "
    "UNION ALL SELECT 'H', code, region, level::text, NULL, NULL, NULL, NULL, NULL "
    "FROM treating.hospitals WHERE code = ANY ($2::text[]) "
    "UNION ALL SELECT 'G', code, NULL, NULL, NULL, NULL, NULL, NULL, NULL "
    "FROM treating.regions WHERE code = ANY ($3::text[]) "
    "UNION ALL SELECT 'C', item_code, class, region, self_pay_first_bp::text, "
    "price_ceiling_fen::text, version, to_char(valid_from, 'YYYYMMDD'), "
    "to_char(valid_to, 'YYYYMMDD') FROM treating.catalog_items WHERE item_code = ANY ($4::text[])";

/* A request of the batch: its row 'R' in the look-ahead, or -1 when never seen. */
typedef struct request_ahead {
    const char *request_id; /* in the state's ids: a handler frees its envelope */
    int seen;
    bool usable; /* its id is the batch's only request of that id, untouched since */
} request_ahead_t;

/* A row 'H', 'G' or 'C' of the look-ahead, by kind, code, region and (catalog items)
 * valid_from, latest first. */
typedef struct look_key {
    char kind;
    const char *code;
    const char *region; /* 'C' only; "" otherwise */
    int32_t from;       /* 'C' only */
    int row;
} look_key_t;

struct treating_state {
    mc_rows_t *rows;       /* new requests (NEW_SQL) */
    mc_rows_t *results;    /* results (RESULTS_SQL) */
    PGresult *res;         /* the claims of the batch's results, locked */
    claim_ahead_t *claims; /* sorted by claim id */
    int n_claims;
    PGresult *look;              /* the look-ahead of the batch's requests (LOOK_SQL) */
    request_ahead_t *requests;   /* sorted by request id */
    int n_requests;
    char *ids;                   /* their request ids, each ending in NUL */
    look_key_t *keys;            /* the look-ahead's other rows, sorted */
    int n_keys;
};

treating_state_t *treating_state_new(void)
{
    treating_state_t *st = calloc(1, sizeof(*st));
    if (!st)
        abort();
    st->rows = mc_rows_new(NEW_SQL, NEW_COLS);
    st->results = mc_rows_new(RESULTS_SQL, RES_COLS);
    return st;
}

/* Forgets what the batch read ahead: the batch ended, or was rolled back. */
static void ahead_clear(treating_state_t *st)
{
    PQclear(st->res);
    free(st->claims);
    st->res = NULL;
    st->claims = NULL;
    st->n_claims = 0;
    PQclear(st->look);
    free(st->requests);
    free(st->ids);
    free(st->keys);
    st->look = NULL;
    st->requests = NULL;
    st->ids = NULL;
    st->keys = NULL;
    st->n_requests = st->n_keys = 0;
}

void treating_state_free(treating_state_t *st)
{
    if (!st)
        return;
    ahead_clear(st);
    mc_rows_free(st->rows);
    mc_rows_free(st->results);
    free(st);
}

static int compare_claims(const void *a, const void *b)
{
    return strcmp(((const claim_ahead_t *)a)->claim_id, ((const claim_ahead_t *)b)->claim_id);
}

static int compare_requests(const void *a, const void *b)
{
    return strcmp(((const request_ahead_t *)a)->request_id,
                  ((const request_ahead_t *)b)->request_id);
}

static int compare_keys(const void *a, const void *b)
{
    const look_key_t *x = a, *y = b;
    int c = (x->kind > y->kind) - (x->kind < y->kind);
    if (c == 0)
        c = strcmp(x->code, y->code);
    if (c == 0)
        c = strcmp(x->region, y->region);
    if (c == 0)
        c = (x->from < y->from) - (x->from > y->from); /* latest first */
    return c;
}

/* Adds the distinct printable codes of v[0 .. n) to a (sorting v). Others are left
 * out: no lookup sees them, and PostgreSQL would refuse a text that is not UTF-8. */
static void add_codes(mc_array_t *a, const char **v, size_t n)
{
    qsort(v, n, sizeof(*v), mc_compare_strings);
    for (size_t i = 0; i < n; i++)
        if ((i == 0 || strcmp(v[i], v[i - 1]) != 0) && mc_valid_id(v[i], SIZE_MAX))
            mc_array_str(a, v[i]);
}

/* Reads ahead what the batch's requests are looked up by (LOOK_SQL). */
static mc_err_t look_ahead(mc_msg_ctx_t *ctx, treating_state_t *st,
                           const Medclear__Envelope *const *envs, int n)
{
    size_t m = n > 0 ? (size_t)n : 1, n_hospitals = 0, n_items = 0, cap_items = 0, len = 1;
    for (int i = 0; i < n; i++)
        if (envs[i]->body_case == MEDCLEAR__ENVELOPE__BODY_REQUEST) {
            cap_items += envs[i]->request->n_lines;
            len += strlen(envs[i]->request->request_id) + 1;
        }
    const char **hospitals = malloc(sizeof(*hospitals) * 2 * m);
    const char **items = malloc(sizeof(*items) * (cap_items ? cap_items : 1));
    st->requests = malloc(sizeof(*st->requests) * m);
    char *ids_end = st->ids = malloc(len);
    if (!hospitals || !items || !st->requests || !st->ids)
        abort();
    const char **regions = hospitals + m;
    mc_array_t ids, codes[3];
    mc_array_init(&ids);
    for (int k = 0; k < 3; k++)
        mc_array_init(&codes[k]);
    for (int i = 0; i < n; i++) {
        if (envs[i]->body_case != MEDCLEAR__ENVELOPE__BODY_REQUEST)
            continue;
        const Medclear__SettlementRequest *req = envs[i]->request;
        if (!mc_valid_id(req->request_id, MC_ID_MAX))
            continue; /* dead-lettered before any lookup */
        mc_array_str(&ids, req->request_id);
        size_t id_len = strlen(req->request_id) + 1;
        memcpy(ids_end, req->request_id, id_len);
        st->requests[st->n_requests++] =
            (request_ahead_t){.request_id = ids_end, .seen = -1, .usable = true};
        ids_end += id_len;
        if (req->kind != MEDCLEAR__KIND__SETTLE && req->kind != MEDCLEAR__KIND__PRESETTLE)
            continue;
        regions[n_hospitals] = req->insuring_region;
        hospitals[n_hospitals++] = req->hospital_code;
        for (size_t l = 0; l < req->n_lines; l++)
            items[n_items++] = req->lines[l]->item_code;
    }
    mc_err_t err = MC_ERR_OK;
    if (st->n_requests == 0)
        goto out;

    /* A request id twice in the batch: the second must see what the first wrote. */
    qsort(st->requests, (size_t)st->n_requests, sizeof(*st->requests), compare_requests);
    for (int i = 1; i < st->n_requests; i++)
        if (strcmp(st->requests[i].request_id, st->requests[i - 1].request_id) == 0)
            st->requests[i].usable = st->requests[i - 1].usable = false;

    add_codes(&codes[0], hospitals, n_hospitals);
    add_codes(&codes[1], regions, n_hospitals);
    add_codes(&codes[2], items, n_items);
    mc_params_t p;
    mc_params_init(&p);
    mc_p_str(&p, mc_array_text(&ids));
    for (int k = 0; k < 3; k++)
        mc_p_str(&p, mc_array_text(&codes[k]));
    st->look = mc_db_run(mc_ctx_db(ctx), LOOK_SQL, &p);
    if (!st->look) {
        err = MC_ERR_DB;
        goto out;
    }
    int rows = PQntuples(st->look);
    st->keys = malloc(sizeof(*st->keys) * (size_t)(rows ? rows : 1));
    if (!st->keys)
        abort();
    for (int r = 0; r < rows; r++) {
        char kind = PQgetvalue(st->look, r, 0)[0];
        const char *code = PQgetvalue(st->look, r, 1);
        if (kind == 'R') {
            request_ahead_t key = {.request_id = code};
            request_ahead_t *a = bsearch(&key, st->requests, (size_t)st->n_requests,
                                         sizeof(key), compare_requests);
            if (a)
                a->seen = r;
            continue;
        }
        st->keys[st->n_keys++] = (look_key_t){
            .kind = kind,
            .code = code,
            .region = kind == 'G' ? "" : PQgetvalue(st->look, r, kind == 'H' ? 2 : 3),
            .from = kind == 'C' ? (int32_t)mc_db_int(st->look, r, 7) : 0,
            .row = r,
        };
    }
    qsort(st->keys, (size_t)st->n_keys, sizeof(*st->keys), compare_keys);
    mc_debug("read ahead %d requests, %d reference rows", st->n_requests, st->n_keys);
out:
    mc_array_free(&ids);
    for (int k = 0; k < 3; k++)
        mc_array_free(&codes[k]);
    free(hospitals);
    free(items);
    return err;
}

mc_err_t treating_prepare(mc_msg_ctx_t *ctx, const Medclear__Envelope *const *envs, int n,
                          void *opaque)
{
    treating_state_t *st = opaque;
    ahead_clear(st);
    if (look_ahead(ctx, st, envs, n) != MC_ERR_OK)
        return MC_ERR_DB;
    if (mc_ctx_read_result_claims(ctx, envs, n,
                                  "SELECT " RESULT_CLAIM_COLUMNS
                                  "WHERE c.claim_id = ANY ($1::text[]) "
                                  "ORDER BY c.claim_id FOR UPDATE OF c",
                                  &st->res) != MC_ERR_OK)
        return MC_ERR_DB;
    if (!st->res)
        return MC_ERR_OK;
    int rows = PQntuples(st->res);
    st->claims = calloc((size_t)(rows ? rows : 1), sizeof(*st->claims));
    if (!st->claims)
        abort();
    for (int r = 0; r < rows; r++)
        st->claims[st->n_claims++] = (claim_ahead_t){
            .claim_id = PQgetvalue(st->res, r, 14),
            .request_id = PQgetvalue(st->res, r, 15),
            .row = r,
        };
    qsort(st->claims, (size_t)st->n_claims, sizeof(*st->claims), compare_claims);
    mc_debug("read ahead %d claims of results", st->n_claims);
    return MC_ERR_OK;
}

/* The claim read ahead for a result, untouched by the batch since; NULL when none. */
static claim_ahead_t *claim_ahead(treating_state_t *st, const char *claim_id)
{
    if (st->n_claims == 0)
        return NULL;
    claim_ahead_t key = {.claim_id = claim_id};
    claim_ahead_t *a =
        bsearch(&key, st->claims, (size_t)st->n_claims, sizeof(key), compare_claims);
    return a && !a->touched ? a : NULL;
}

/* The look-ahead of a request of the batch, when it still answers for it; NULL when not. */
static request_ahead_t *request_ahead(treating_state_t *st, const char *request_id)
{
    if (st->n_requests == 0)
        return NULL;
    request_ahead_t key = {.request_id = request_id};
    request_ahead_t *a =
        bsearch(&key, st->requests, (size_t)st->n_requests, sizeof(key), compare_requests);
    return a && a->usable ? a : NULL;
}

/* The first look-ahead key of kind, code and region (the latest catalog version), or
 * NULL when there is none. */
static const look_key_t *key_first(const treating_state_t *st, char kind, const char *code,
                                   const char *region)
{
    look_key_t key = {.kind = kind, .code = code, .region = region, .from = INT32_MAX};
    int lo = 0, hi = st->n_keys;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (compare_keys(&st->keys[mid], &key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == st->n_keys)
        return NULL;
    const look_key_t *k = &st->keys[lo];
    return k->kind == kind && strcmp(k->code, code) == 0 && strcmp(k->region, region) == 0
               ? k
               : NULL;
}

/* Row of the catalog item in force in region on date in the look-ahead, or -1: the
 * latest version that started on or before date and had not ended by then. */
static int ahead_item(const treating_state_t *st, const char *code, const char *region,
                      int32_t date)
{
    const look_key_t *end = st->keys + st->n_keys;
    for (const look_key_t *k = key_first(st, 'C', code, region);
         k && k < end && k->kind == 'C' && strcmp(k->code, code) == 0 &&
         strcmp(k->region, region) == 0;
         k++) {
        if (k->from > date)
            continue;
        if (!PQgetisnull(st->look, k->row, 8) && mc_db_int(st->look, k->row, 8) < date)
            continue;
        return k->row;
    }
    return -1;
}

/* A reversal of request_id changes its request and its claims: the batch's later
 * messages read them again. */
static void ahead_touch_request(treating_state_t *st, const char *request_id)
{
    request_ahead_t *r = request_ahead(st, request_id);
    if (r)
        r->usable = false;
    for (int i = 0; i < st->n_claims; i++)
        if (strcmp(st->claims[i].request_id, request_id) == 0)
            st->claims[i].touched = true;
}

/* Writes what the batch holds (its new requests, then its results), so that a read
 * that follows sees it. */
static mc_err_t flush_held(mc_msg_ctx_t *ctx, treating_state_t *st)
{
    mc_err_t err = mc_ctx_flush_rows(ctx, st->rows);
    return err == MC_ERR_OK ? mc_ctx_flush_rows(ctx, st->results) : err;
}

mc_err_t treating_flush(mc_msg_ctx_t *ctx, void *opaque)
{
    treating_state_t *st = opaque;
    ahead_clear(st); /* the batch's handlers are done */
    return flush_held(ctx, st);
}

void treating_discard(void *opaque)
{
    treating_state_t *st = opaque;
    mc_rows_reset(st->rows);
    mc_rows_reset(st->results);
    ahead_clear(st);
}

/*
 * What a request is looked up by, in one statement: one row per kind (column 0),
 *   'R'  the request id seen before: whether its hash is this request's, whether it is a
 *        tombstone ("true" or "false");
 *   'H'  always, for a SETTLE or PRESETTLE: the hospital's level (NULL when unknown in
 *        this region), whether the insuring region is served ("true" or "false");
 *   'C'  per catalog item of the request in force on the visit date: item_code, class,
 *        -, self_pay_first_bp, price_ceiling_fen, version.
 * Only a request that passed mc_msg_check_request() is looked up for settling: its date
 * and codes are well-formed.
 */
static PGresult *lookup(PGconn *db, const Medclear__SettlementRequest *req, const char *region,
                        const uint8_t *body, size_t body_len, bool settle)
{
    mc_params_t p;
    mc_params_init(&p);
    mc_p_str(&p, req->request_id);
    mc_p_bytes(&p, body, body_len);
    if (!settle)
        return mc_db_run(db,
                         "SELECT 'R', (request_hash = sha256($2))::text, "
                         "(request_hash = '\\x')::text FROM treating.requests "
                         "WHERE request_id = $1",
                         &p);
    mc_array_t codes;
    mc_array_init(&codes);
    for (size_t i = 0; i < req->n_lines; i++)
        mc_array_str(&codes, req->lines[i]->item_code);
    char visit_date[11];
    mc_date_format(req->visit_date, visit_date);
    mc_p_str(&p, req->hospital_code);
    mc_p_str(&p, region);
    mc_p_str(&p, req->insuring_region);
    mc_p_str(&p, mc_array_text(&codes));
    mc_p_str(&p, visit_date);
    PGresult *res = mc_db_run(
        db,
        "SELECT 'R', (request_hash = sha256($2))::text, (request_hash = '\\x')::text, "
        "NULL::text, NULL::bigint, NULL::bigint, NULL::text "
        "FROM treating.requests WHERE request_id = $1 "
        "UNION ALL SELECT 'H', (SELECT level FROM treating.hospitals WHERE code = $3 "
        "AND region = $4)::text, EXISTS (SELECT 1 FROM treating.regions WHERE code = $5)::text, "
        "NULL, NULL, NULL, NULL "
        "UNION ALL (SELECT DISTINCT ON (item_code) 'C', item_code, class, NULL, "
        "self_pay_first_bp, price_ceiling_fen, version FROM treating.catalog_items "
        "WHERE region = $4 AND item_code = ANY($6::text[]) AND valid_from <= $7::date "
        "AND (valid_to IS NULL OR valid_to >= $7::date) ORDER BY item_code, valid_from DESC)",
        &p);
    mc_array_free(&codes);
    return res;
}

/* First row of kind in a lookup() result, or -1. */
static int lookup_find(const PGresult *res, char kind)
{
    for (int i = 0; i < PQntuples(res); i++)
        if (PQgetvalue(res, i, 0)[0] == kind)
            return i;
    return -1;
}

/* The catalog rows ('C') of a lookup() result, sorted by item code: an inpatient stay
 * of 200 lines finds each of its items by binary search, not by a scan of all of them. */
typedef struct catalog_row {
    const char *code;
    int row;
} catalog_row_t;

typedef struct catalog_index {
    catalog_row_t *rows;
    size_t n;
} catalog_index_t;

static int compare_code(const void *a, const void *b)
{
    return strcmp(((const catalog_row_t *)a)->code, ((const catalog_row_t *)b)->code);
}

static void catalog_index_build(catalog_index_t *ix, const PGresult *res)
{
    int n = PQntuples(res);
    ix->rows = malloc(sizeof(*ix->rows) * (size_t)(n ? n : 1));
    if (!ix->rows)
        abort();
    ix->n = 0;
    for (int i = 0; i < n; i++)
        if (PQgetvalue(res, i, 0)[0] == 'C')
            ix->rows[ix->n++] = (catalog_row_t){PQgetvalue(res, i, 1), i};
    qsort(ix->rows, ix->n, sizeof(*ix->rows), compare_code);
}

/* Row of the catalog item code, or -1 when the catalog has none in force. */
static int catalog_index_find(const catalog_index_t *ix, const char *code)
{
    catalog_row_t key = {code, -1};
    const catalog_row_t *hit = bsearch(&key, ix->rows, ix->n, sizeof(*ix->rows), compare_code);
    return hit ? hit->row : -1;
}

/* What a request is settled by: its own lookup(), or the batch's look-ahead. */
typedef struct request_look {
    const PGresult *res;     /* the catalog rows: class 2, self_pay_first_bp 4, ... */
    catalog_index_t catalog; /* lookup(): its catalog rows by item code */
    const treating_state_t *ahead; /* the look-ahead, or NULL */
    const char *region;
    int32_t visit_date;
    const char *level; /* the hospital's level in the region; NULL when not known there */
    bool served;       /* the insuring region is one of this network */
} request_look_t;

static void look_from_lookup(request_look_t *look, const PGresult *res)
{
    int h = lookup_find(res, 'H');
    look->res = res;
    look->level = PQgetisnull(res, h, 1) ? NULL : PQgetvalue(res, h, 1);
    look->served = strcmp(PQgetvalue(res, h, 2), "true") == 0;
    catalog_index_build(&look->catalog, res);
}

static void look_from_ahead(request_look_t *look, const treating_state_t *st,
                            const Medclear__SettlementRequest *req)
{
    const look_key_t *h = key_first(st, 'H', req->hospital_code, look->region);
    look->res = st->look;
    look->ahead = st;
    look->level = h ? PQgetvalue(st->look, h->row, 3) : NULL;
    look->served = key_first(st, 'G', req->insuring_region, "") != NULL;
}

/* Row of the catalog item in force for the request in look->res, or -1. */
static int look_item(const request_look_t *look, const char *code)
{
    if (look->ahead)
        return ahead_item(look->ahead, code, look->region, look->visit_date);
    return catalog_index_find(&look->catalog, code);
}

typedef struct line_order {
    int32_t line_no;
    size_t i; /* index in the request */
} line_order_t;

static int compare_line_no(const void *a, const void *b)
{
    int32_t x = ((const line_order_t *)a)->line_no, y = ((const line_order_t *)b)->line_no;
    return (x > y) - (x < y);
}

/* Appends ,"text" at w; returns the new end. */
static char *put_quoted(char *w, const char *text)
{
    size_t n = strlen(text);
    *w++ = ',';
    *w++ = '"';
    memcpy(w, text, n);
    w += n;
    *w++ = '"';
    return w;
}

/*
 * The claim's lines as one treating.claim_line[] literal, in line order: the column's
 * check wants line numbers ascending, and a request may list them in any order (they
 * are distinct, mc_msg_check_request()). Item codes are A-Z a-z 0-9 . - _ (checked
 * there too) and classes A, B, C or empty: quoted in the row, they need no escapes, and
 * mc_array_str() escapes the row's quotes for the array. One literal costs PostgreSQL
 * less than ten arrays zipped by unnest() and sorted (25 of 51 us for 17 lines).
 */
static void lines_literal(mc_array_t *out, const Medclear__SettlementRequest *req,
                          Medclear__LineSplit *const *splits)
{
    line_order_t *order = malloc(sizeof(*order) * (req->n_lines ? req->n_lines : 1));
    if (!order)
        abort();
    for (size_t i = 0; i < req->n_lines; i++)
        order[i] = (line_order_t){req->lines[i]->line_no, i};
    qsort(order, req->n_lines, sizeof(*order), compare_line_no);
    for (size_t k = 0; k < req->n_lines; k++) {
        const Medclear__LineSplit *s = splits[order[k].i];
        const Medclear__FeeLine *l = req->lines[order[k].i];
        /* a code of at most 64 characters, a class of 1 and eight numbers */
        char row[4 * MC_ID_MAX + 10 * MC_INT_TEXT_MAX];
        char *w = row;
        *w++ = '(';
        w += mc_format_int(w, s->line_no);
        w = put_quoted(w, s->item_code);
        w = put_quoted(w, s->item_class);
        const int64_t nums[] = {l->quantity_milli,   l->unit_price_fen,     s->amount_fen,
                                s->full_self_pay_fen, s->over_limit_fen, s->self_pay_first_fen,
                                s->in_scope_fen};
        for (size_t j = 0; j < sizeof(nums) / sizeof(nums[0]); j++) {
            *w++ = ',';
            w += mc_format_int(w, nums[j]);
        }
        *w++ = ')';
        *w = '\0';
        mc_array_str(out, row);
    }
    free(order);
}

/* SETTLE and PRESETTLE: checks, catalog split, claim to the centre. check is what
 * mc_msg_check_request() said of the request (with its text); when MC_OK, look is what
 * the request is settled by. */
static mc_err_t on_settle(mc_msg_ctx_t *ctx, mc_rows_t *rows, const Medclear__Envelope *env,
                          const uint8_t *body, size_t body_len, mc_reason_t check,
                          const char *check_text, const request_look_t *look)
{
    const Medclear__SettlementRequest *req = env->request;
    const char *region = mc_topic_party(mc_ctx_topic(ctx));
    char text[320];
    mc_err_t err = MC_ERR_OK;
    mc_array_t lines;
    bool arrays = false;
    mc_reason_t r;

    if (check != MC_OK)
        return answer_request(ctx, env, region, body, body_len, check, check_text);

    /* Hospital of this region, and an insuring region of this network. */
    int64_t level;
    if (!look->level || !mc_parse_int(look->level, &level)) {
        snprintf(text, sizeof(text), "hospital \"%.16s\" is not known in region %s",
                 req->hospital_code, region);
        err = answer_request(ctx, env, region, body, body_len, MC_R_UNKNOWN_HOSPITAL, text);
        goto out;
    }
    if (!look->served) {
        snprintf(text, sizeof(text), "insuring region %s is not served by this network",
                 req->insuring_region);
        err = answer_request(ctx, env, region, body, body_len, MC_R_UNKNOWN_REGION, text);
        goto out;
    }
    char visit_date[11];
    mc_date_format(req->visit_date, visit_date);

    /* Split every line by the catalog in force on the visit date. */
    Medclear__LineSplit *splits = calloc(req->n_lines, sizeof(*splits));
    Medclear__LineSplit **split_ptrs = calloc(req->n_lines, sizeof(*split_ptrs));
    if (!splits || !split_ptrs)
        abort();
    mc_split_total_t total = {0};
    char catalog_version[64] = "";
    mc_array_init(&lines);
    arrays = true;
    r = MC_OK;
    for (size_t i = 0; i < req->n_lines && r == MC_OK; i++) {
        const Medclear__FeeLine *l = req->lines[i];
        int row = look_item(look, l->item_code);
        mc_catalog_item_t item, *itemp = NULL;
        if (row >= 0) {
            mc_item_class_parse(PQgetvalue(look->res, row, 2), &item.cls);
            item.self_pay_first_bp = (int32_t)mc_db_int(look->res, row, 4);
            item.price_ceiling_fen = mc_db_int(look->res, row, 5);
            itemp = &item;
            const char *v = PQgetvalue(look->res, row, 6);
            if (strcmp(v, catalog_version) > 0)
                snprintf(catalog_version, sizeof(catalog_version), "%s", v);
        }
        mc_fee_line_t fl = {l->quantity_milli, l->unit_price_fen, l->amount_fen};
        mc_line_split_t sp;
        r = mc_split_line(&fl, itemp, &sp);
        if (r == MC_OK)
            r = mc_split_add(&total, &sp);
        if (r != MC_OK) {
            snprintf(text, sizeof(text), "line %d: %s", l->line_no,
                     r == MC_R_OVERFLOW ? "claim total exceeds the accepted range"
                                        : "catalog item is invalid");
            break;
        }
        Medclear__LineSplit *s = &splits[i];
        medclear__line_split__init(s);
        s->line_no = l->line_no;
        s->item_code = l->item_code;
        s->item_class = (char *)mc_item_class_code(sp.cls);
        s->not_in_catalog = itemp == NULL;
        s->amount_fen = sp.amount_fen;
        s->full_self_pay_fen = sp.full_self_pay_fen;
        s->over_limit_fen = sp.over_limit_fen;
        s->self_pay_first_fen = sp.self_pay_first_fen;
        s->in_scope_fen = sp.in_scope_fen;
        split_ptrs[i] = s;
    }
    if (r != MC_OK) {
        err = answer_request(ctx, env, region, body, body_len, r, text);
        goto out_splits;
    }
    lines_literal(&lines, req, split_ptrs);
    if (!catalog_version[0])
        snprintf(catalog_version, sizeof(catalog_version), "none");

    /* The request and the claim with its lines are written with the batch's others
     * (NEW_SQL); the claim is sent after the commit. */
    uint8_t digest[32];
    char hash[65];
    mc_sha256(body, body_len, digest);
    mc_hex(hash, digest, sizeof(digest));
    hash[64] = '\0';
    const char *text_cols[NEW_COLS] = {
        [NEW_REQUEST_ID] = req->request_id,
        [NEW_MESSAGE_ID] = env->message_id,
        [NEW_HASH] = hash,
        [NEW_KIND] = mc_kind_code(req->kind),
        [NEW_REGION] = region,
        [NEW_HOSPITAL] = req->hospital_code,
        [NEW_PERSON] = req->person_id,
        [NEW_INSURING] = req->insuring_region,
        [NEW_VISIT_TYPE] = mc_visit_code(req->visit_type),
        [NEW_VISIT_DATE] = visit_date,
        [NEW_CATALOG_VERSION] = catalog_version,
        [NEW_LINES] = mc_array_text(&lines),
    };
    const int64_t int_cols[NEW_COLS] = {
        [NEW_LEVEL] = level,
        [NEW_TOTAL] = total.total_fen,
        [NEW_FULL_SELF_PAY] = total.full_self_pay_fen,
        [NEW_OVER_LIMIT] = total.over_limit_fen,
        [NEW_SELF_PAY_FIRST] = total.self_pay_first_fen,
        [NEW_IN_SCOPE] = total.in_scope_fen,
    };
    for (int c = 0; c < NEW_COLS; c++) {
        if (text_cols[c])
            mc_rows_str(rows, c, text_cols[c]);
        else
            mc_rows_int(rows, c, int_cols[c]);
    }
    mc_rows_next(rows, req->request_id);

    Medclear__SplitTotals totals;
    medclear__split_totals__init(&totals);
    totals.total_fen = total.total_fen;
    totals.full_self_pay_fen = total.full_self_pay_fen;
    totals.over_limit_fen = total.over_limit_fen;
    totals.self_pay_first_fen = total.self_pay_first_fen;
    totals.in_scope_fen = total.in_scope_fen;

    Medclear__Claim claim;
    medclear__claim__init(&claim);
    claim.claim_id = req->request_id;
    claim.request_id = req->request_id;
    claim.kind = req->kind;
    claim.treating_region = (char *)region;
    claim.insuring_region = req->insuring_region;
    claim.hospital_code = req->hospital_code;
    claim.hospital_level = (int32_t)level;
    claim.person_id = req->person_id;
    claim.visit_type = req->visit_type;
    claim.emergency = req->emergency;
    claim.visit_date = req->visit_date;
    claim.n_lines = req->n_lines;
    claim.lines = split_ptrs;
    claim.totals = &totals;
    claim.catalog_version = catalog_version;

    char topic[128], id[33];
    mc_bus_topic(mc_ctx_config(ctx), topic, sizeof(topic), "claims");
    Medclear__Envelope out;
    mc_envelope_init(&out, id, region, env->trace_id);
    out.body_case = MEDCLEAR__ENVELOPE__BODY_CLAIM;
    out.claim = &claim;
    err = mc_ctx_emit(ctx, topic, claim.claim_id, &out);

out_splits:
    free(splits);
    free(split_ptrs);
out:
    if (arrays) {
        mc_array_free(&lines);
    }
    return err;
}

/* A reply that carries only a status and a reason. */
static mc_err_t reply_status(mc_msg_ctx_t *ctx, const char *region, const char *trace_id,
                             const char *request_id, Medclear__Kind kind, mc_reason_t reason,
                             const char *text, const char *settlement_id)
{
    Medclear__SettlementReply reply;
    medclear__settlement_reply__init(&reply);
    reply.request_id = (char *)request_id;
    reply.kind = kind;
    reply.status = reason == MC_OK ? MEDCLEAR__STATUS__ACCEPTED : MEDCLEAR__STATUS__REJECTED;
    reply.reason_code = reason == MC_OK ? "" : (char *)mc_reason_code(reason);
    reply.reason_text = (char *)text;
    reply.settlement_id = (char *)(settlement_id ? settlement_id : "");
    return emit_reply(ctx, region, trace_id, &reply);
}

/*
 * A request sent again with the same bytes gets its earlier reply again. Once `medclear
 * db prune` removed that reply from the outbox, the resend is refused as a replay, naming
 * the outcome recorded. A request still waiting for its result has no reply yet either:
 * it gets none now, and its reply when the result comes.
 */
static mc_err_t resend_reply(mc_msg_ctx_t *ctx, const char *region, const char *trace_id,
                             const Medclear__SettlementRequest *req)
{
    char topic[128];
    bool found = false;
    mc_bus_topic2(mc_ctx_config(ctx), topic, sizeof(topic), "reply", region);
    mc_err_t err = mc_ctx_reemit(ctx, topic, req->request_id, &found);
    if (err != MC_ERR_OK || found)
        return err;
    mc_params_t p;
    mc_params_init(&p);
    mc_p_str(&p, req->request_id);
    PGresult *res = mc_db_run(mc_ctx_db(ctx),
                              "SELECT r.status, coalesce(r.reason_code, ''), "
                              "coalesce((SELECT c.settlement_id FROM treating.claims c "
                              "  WHERE c.request_id = r.request_id AND c.settlement_id IS NOT NULL "
                              "  ORDER BY c.created_at LIMIT 1), r.settlement_id, ''), "
                              "to_char(r.replied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') "
                              "FROM treating.requests r WHERE r.request_id = $1 AND r.answers > 0",
                              &p);
    if (!res)
        return MC_ERR_DB;
    if (PQntuples(res) == 1) {
        char text[256];
        snprintf(text, sizeof(text),
                 "request answered %s%s%s at %s UTC; that reply is past the bus retention",
                 PQgetvalue(res, 0, 0), *PQgetvalue(res, 0, 1) ? " " : "", PQgetvalue(res, 0, 1),
                 PQgetvalue(res, 0, 3));
        err = reply_status(ctx, region, trace_id, req->request_id, req->kind, MC_R_REPLAYED, text,
                           PQgetvalue(res, 0, 2));
    }
    PQclear(res);
    return err;
}

/* Columns of a claim that an undo copies, in this order. */
#define CLAIM_COLUMNS                                                                           \
    "claim_id, status, kind, insuring_region, hospital_code, hospital_level, person_id, "       \
    "visit_type, to_char(visit_date, 'YYYYMMDD'), total_fen, full_self_pay_fen, "             \
    "over_limit_fen, self_pay_first_fen, in_scope_fen, catalog_version, "                     \
    "coalesce(settlement_id, ''), undone_by IS NOT NULL, request_id"

/*
 * Starts the undo of a settled claim (row 0 of orig, read with CLAIM_COLUMNS and locked):
 * records an undo claim with negative amounts and sends it to the centre. request_id is
 * the agency request the undo answers, NULL for an undo of a late result.
 */
static mc_err_t send_undo(mc_msg_ctx_t *ctx, const char *region, const char *trace_id,
                          const PGresult *orig, const char *claim_id, const char *request_id,
                          Medclear__Kind kind)
{
    PGconn *db = mc_ctx_db(ctx);
    const char *orig_id = PQgetvalue(orig, 0, 0);
    mc_params_t p;
    mc_params_init(&p);
    mc_p_str(&p, claim_id);
    mc_p_str(&p, mc_kind_code(kind));
    mc_p_str(&p, request_id);
    mc_p_str(&p, orig_id);
    mc_p_str(&p, region);
    if (!mc_db_do(db,
                  "WITH o AS (UPDATE treating.claims SET undone_by = $1 WHERE claim_id = $4 "
                  "RETURNING *) "
                  "INSERT INTO treating.claims (claim_id, kind, request_id, undoes, treating_region, "
                  "insuring_region, hospital_code, hospital_level, person_id, visit_type, "
                  "visit_date, total_fen, full_self_pay_fen, over_limit_fen, self_pay_first_fen, "
                  "in_scope_fen, catalog_version, status) SELECT $1, $2, $3, $4, $5, "
                  "insuring_region, hospital_code, hospital_level, person_id, visit_type, "
                  "visit_date, -total_fen, -full_self_pay_fen, -over_limit_fen, "
                  "-self_pay_first_fen, -in_scope_fen, catalog_version, 'SENT' FROM o",
                  &p))
        return MC_ERR_DB;

    Medclear__SplitTotals totals;
    medclear__split_totals__init(&totals);
    totals.total_fen = -mc_db_int(orig, 0, 9);
    totals.full_self_pay_fen = -mc_db_int(orig, 0, 10);
    totals.over_limit_fen = -mc_db_int(orig, 0, 11);
    totals.self_pay_first_fen = -mc_db_int(orig, 0, 12);
    totals.in_scope_fen = -mc_db_int(orig, 0, 13);

    Medclear__Claim claim;
    medclear__claim__init(&claim);
    claim.claim_id = (char *)claim_id;
    claim.request_id = (char *)(request_id ? request_id : claim_id);
    claim.kind = kind;
    claim.treating_region = (char *)region;
    claim.insuring_region = PQgetvalue(orig, 0, 3);
    claim.hospital_code = PQgetvalue(orig, 0, 4);
    claim.hospital_level = (int32_t)mc_db_int(orig, 0, 5);
    claim.person_id = PQgetvalue(orig, 0, 6);
    claim.visit_type = strcmp(PQgetvalue(orig, 0, 7), "INPATIENT") == 0 ? MEDCLEAR__VISIT_TYPE__INPATIENT
                       : strcmp(PQgetvalue(orig, 0, 7), "CHRONIC") == 0
                           ? MEDCLEAR__VISIT_TYPE__CHRONIC
                           : MEDCLEAR__VISIT_TYPE__OUTPATIENT;
    claim.visit_date = (int32_t)mc_db_int(orig, 0, 8);
    claim.totals = &totals;
    claim.catalog_version = PQgetvalue(orig, 0, 14);
    claim.settlement_id = PQgetvalue(orig, 0, 15);

    char topic[128], id[33];
    mc_bus_topic(mc_ctx_config(ctx), topic, sizeof(topic), "claims");
    Medclear__Envelope out;
    mc_envelope_init(&out, id, region, trace_id);
    out.body_case = MEDCLEAR__ENVELOPE__BODY_CLAIM;
    out.claim = &claim;
    return mc_ctx_emit(ctx, topic, claim_id, &out);
}

/* Records an undo request (CANCEL or REVERSE) as PENDING or answered. */
static mc_err_t record_request(mc_msg_ctx_t *ctx, const Medclear__Envelope *env,
                               const Medclear__SettlementRequest *req, const char *region,
                               const uint8_t *body, size_t body_len, const char *status,
                               mc_reason_t reason, const char *text)
{
    mc_params_t p;
    mc_params_init(&p);
    mc_p_str(&p, req->request_id);
    mc_p_str(&p, env->message_id);
    mc_p_bytes(&p, body, body_len);
    mc_p_str(&p, mc_kind_code(req->kind));
    mc_p_str(&p, region);
    mc_p_str(&p, req->hospital_code);
    mc_p_str(&p, req->person_id);
    mc_p_str(&p, req->insuring_region);
    mc_p_str(&p, status);
    mc_p_str(&p, reason == MC_OK ? NULL : mc_reason_code(reason));
    mc_p_str(&p, text);
    mc_p_str(&p, req->original_request_id[0] ? req->original_request_id : NULL);
    mc_p_str(&p, req->settlement_id[0] ? req->settlement_id : NULL);
    return mc_db_do(mc_ctx_db(ctx),
                    "INSERT INTO treating.requests (request_id, message_id, request_hash, kind, "
                    "treating_region, hospital_code, person_id, insuring_region, status, "
                    "reason_code, reason_text, original_request_id, settlement_id, replied_at, "
                    "answers) VALUES ($1, $2, sha256($3), $4, $5, $6, $7, $8, $9, $10, $11, $12, "
                    "$13, CASE WHEN $9 = 'PENDING' THEN NULL ELSE now() END, "
                    "CASE WHEN $9 = 'PENDING' THEN 0 ELSE 1 END)",
                    &p)
               ? MC_ERR_OK
               : MC_ERR_DB;
}

/* Records a request answered at once (a rejection, or an undo with nothing to do) and
 * answers it. The request id was checked already. */
static mc_err_t answer_request(mc_msg_ctx_t *ctx, const Medclear__Envelope *env, const char *region,
                            const uint8_t *body, size_t body_len, mc_reason_t reason,
                            const char *text)
{
    const Medclear__SettlementRequest *req = env->request;
    if (record_request(ctx, env, req, region, body, body_len,
                       reason == MC_OK ? "ACCEPTED" : "REJECTED", reason, text) != MC_ERR_OK)
        return MC_ERR_DB;
    return reply_status(ctx, region, env->trace_id, req->request_id, req->kind, reason, text, NULL);
}

/* CANCEL (2208/2305): undo a settled claim of this region by its settlement id. */
static mc_err_t on_cancel(mc_msg_ctx_t *ctx, treating_state_t *st,
                          const Medclear__Envelope *env, const uint8_t *body, size_t body_len)
{
    const Medclear__SettlementRequest *req = env->request;
    const char *region = mc_topic_party(mc_ctx_topic(ctx));
    char text[256];
    /* The claim to undo may have its result in the batch: the settlement id is its. */
    if (mc_ctx_flush_rows_holding(ctx, st->results, req->settlement_id) != MC_ERR_OK)
        return MC_ERR_DB;
    if (!mc_valid_id(req->settlement_id, MC_ID_MAX))
        return answer_request(ctx, env, region, body, body_len, MC_R_BAD_REQUEST,
                           "a CANCEL needs the settlement_id to undo");
    mc_params_t p;
    mc_params_init(&p);
    mc_p_str(&p, req->settlement_id);
    mc_p_str(&p, region);
    PGresult *orig = mc_db_run(mc_ctx_db(ctx),
                               "SELECT " CLAIM_COLUMNS " FROM treating.claims WHERE settlement_id = $1 "
                               "AND treating_region = $2 AND kind = 'SETTLE' FOR UPDATE",
                               &p);
    if (!orig)
        return MC_ERR_DB;
    mc_err_t err;
    if (PQntuples(orig) == 0) {
        snprintf(text, sizeof(text), "no settlement \"%s\" in region %s", req->settlement_id, region);
        err = answer_request(ctx, env, region, body, body_len, MC_R_UNKNOWN_SETTLEMENT, text);
    } else if (strcmp(PQgetvalue(orig, 0, 16), "t") == 0) {
        snprintf(text, sizeof(text), "settlement \"%s\" is already cancelled or being cancelled",
                 req->settlement_id);
        err = answer_request(ctx, env, region, body, body_len, MC_R_ALREADY_CANCELLED, text);
    } else {
        err = record_request(ctx, env, req, region, body, body_len, "PENDING", MC_OK, NULL);
        if (err == MC_ERR_OK)
            err = send_undo(ctx, region, env->trace_id, orig, req->request_id, req->request_id,
                            MEDCLEAR__KIND__CANCEL);
    }
    PQclear(orig);
    return err;
}

/*
 * REVERSE (2601): undo whatever a request id did. Settled: undone like a cancel. Still
 * in flight: answered REVERSED now, its result undone when it comes. Never seen: a
 * tombstone makes its late arrival fail. Rejected, computed or already undone: nothing
 * to do.
 */
static mc_err_t on_reverse(mc_msg_ctx_t *ctx, treating_state_t *st,
                           const Medclear__Envelope *env, const uint8_t *body, size_t body_len)
{
    const Medclear__SettlementRequest *req = env->request;
    const char *region = mc_topic_party(mc_ctx_topic(ctx));
    PGconn *db = mc_ctx_db(ctx);
    const char *orig_id = req->original_request_id;
    /* The request to undo may be the batch's, or have its result in it (a claim with a
     * request has the request's id). */
    if ((mc_rows_holds(st->rows, orig_id) || mc_rows_holds(st->results, orig_id)) &&
        flush_held(ctx, st) != MC_ERR_OK)
        return MC_ERR_DB;
    if (!mc_valid_id(orig_id, MC_ID_MAX))
        return answer_request(ctx, env, region, body, body_len, MC_R_BAD_REQUEST,
                           "a REVERSE needs the original_request_id to undo");
    mc_params_t p;
    mc_params_init(&p);
    mc_p_str(&p, orig_id);
    mc_p_str(&p, region);
    PGresult *rq = mc_db_run(db,
                             "SELECT status, kind FROM treating.requests WHERE request_id = $1 "
                             "AND treating_region = $2 FOR UPDATE",
                             &p);
    if (!rq)
        return MC_ERR_DB;
    mc_err_t err;
    if (PQntuples(rq) == 0) {
        /* Never seen: the tombstone has an empty hash, which no real request has. */
        mc_params_init(&p);
        mc_p_str(&p, orig_id);
        mc_p_str(&p, region);
        mc_p_str(&p, req->hospital_code);
        mc_p_str(&p, req->person_id);
        mc_p_str(&p, req->insuring_region);
        err = mc_db_do(db,
                       "INSERT INTO treating.requests (request_id, message_id, request_hash, kind, "
                       "treating_region, hospital_code, person_id, insuring_region, status, "
                       "reason_code, reason_text, replied_at) VALUES ($1, '', '\\x', "
                       "'KIND_UNSPECIFIED', $2, $3, $4, $5, 'REVERSED', 'REVERSED', "
                       "'reversed before it arrived', now())",
                       &p)
                  ? answer_request(ctx, env, region, body, body_len, MC_OK,
                                "original request not received; it will be refused if it arrives")
                  : MC_ERR_DB;
        goto out;
    }
    const char *status = PQgetvalue(rq, 0, 0);
    if (strcmp(status, "PENDING") == 0 && strcmp(PQgetvalue(rq, 0, 1), "SETTLE") == 0) {
        /* In flight: the original is answered REVERSED now and its result undone. */
        mc_params_init(&p);
        mc_p_str(&p, orig_id);
        if (!mc_db_do(db,
                      "WITH r AS (UPDATE treating.requests SET status = 'REVERSED', "
                      "reason_code = 'REVERSED', replied_at = now(), answers = answers + 1 "
                      "WHERE request_id = $1 "
                      "RETURNING request_id) "
                      "UPDATE treating.claims SET undo_on_result = true WHERE request_id = $1",
                      &p)) {
            err = MC_ERR_DB;
            goto out;
        }
        err = reply_status(ctx, region, env->trace_id, orig_id, MEDCLEAR__KIND__SETTLE,
                           MC_R_REVERSED, "reversed by request while in flight", NULL);
        if (err == MC_ERR_OK)
            err = answer_request(ctx, env, region, body, body_len, MC_OK,
                              "original request in flight: its result will be undone");
        goto out;
    }
    mc_params_init(&p);
    mc_p_str(&p, orig_id);
    PGresult *orig = mc_db_run(db,
                               "SELECT " CLAIM_COLUMNS " FROM treating.claims WHERE request_id = $1 "
                               "AND kind = 'SETTLE' AND status = 'SETTLED' FOR UPDATE",
                               &p);
    if (!orig) {
        err = MC_ERR_DB;
        goto out;
    }
    if (PQntuples(orig) == 1 && strcmp(PQgetvalue(orig, 0, 16), "f") == 0 &&
        strcmp(PQgetvalue(orig, 0, 15), "") != 0) {
        err = record_request(ctx, env, req, region, body, body_len, "PENDING", MC_OK, NULL);
        if (err == MC_ERR_OK)
            err = send_undo(ctx, region, env->trace_id, orig, req->request_id, req->request_id,
                            MEDCLEAR__KIND__REVERSE);
    } else {
        err = answer_request(ctx, env, region, body, body_len, MC_OK,
                          "nothing to undo: the original settled nothing or is already undone");
    }
    PQclear(orig);
out:
    PQclear(rq);
    return err;
}

/*
 * Front door of every agency request: a request id seen before gets its earlier reply
 * (same request) or a modified-duplicate rejection; a request reversed before it
 * arrived is refused; the rest go by kind.
 */
static mc_err_t on_request(mc_msg_ctx_t *ctx, treating_state_t *st, const Medclear__Envelope *env)
{
    const Medclear__SettlementRequest *req = env->request;
    const char *region = mc_topic_party(mc_ctx_topic(ctx));
    mc_rows_t *rows = st->rows;
    char text[160];
    mc_err_t err;

    if (!mc_valid_id(req->request_id, MC_ID_MAX))
        return mc_ctx_dead_letter(ctx, MC_R_BAD_REQUEST,
                                  "request_id missing or not printable ASCII of at most 64");
    size_t body_len = medclear__settlement_request__get_packed_size(req);
    uint8_t *body = malloc(body_len ? body_len : 1);
    if (!body)
        abort();
    medclear__settlement_request__pack(req, body);

    /* A well-formed SETTLE or PRESETTLE is looked up with what settling it needs: in the
     * batch's look-ahead, or on its own when that no longer answers for it. */
    bool settle = req->kind == MEDCLEAR__KIND__SETTLE || req->kind == MEDCLEAR__KIND__PRESETTLE;
    char check_text[320] = "";
    mc_reason_t check =
        settle ? mc_msg_check_request(req, region, check_text, sizeof(check_text)) : MC_OK;
    request_look_t look = {.region = region, .visit_date = req->visit_date};
    bool seen, same = false, tombstone = false;
    PGresult *res = NULL;
    const request_ahead_t *a = request_ahead(st, req->request_id);
    if (a) {
        seen = a->seen >= 0;
        if (seen) {
            const char *hash = PQgetvalue(st->look, a->seen, 3);
            uint8_t digest[32];
            char hex[65];
            mc_sha256(body, body_len, digest);
            mc_hex(hex, digest, sizeof(digest));
            hex[64] = '\0';
            tombstone = hash[0] == '\0';
            same = strcmp(hash, hex) == 0;
        } else if (settle && check == MC_OK) {
            look_from_ahead(&look, st, req);
        }
    } else {
        if (mc_ctx_flush_rows_holding(ctx, rows, req->request_id) == MC_ERR_OK)
            res = lookup(mc_ctx_db(ctx), req, region, body, body_len, settle && check == MC_OK);
        if (!res) {
            free(body);
            return MC_ERR_DB;
        }
        int r = lookup_find(res, 'R');
        seen = r >= 0;
        if (seen) {
            same = strcmp(PQgetvalue(res, r, 1), "true") == 0;
            tombstone = strcmp(PQgetvalue(res, r, 2), "true") == 0;
        } else if (settle && check == MC_OK) {
            look_from_lookup(&look, res);
        }
    }
    if (seen) {
        char topic[128];
        bool found = false;
        mc_bus_topic2(mc_ctx_config(ctx), topic, sizeof(topic), "reply", region);
        if (tombstone) {
            /* Refused once; a resend of it gets that same refusal again. */
            err = mc_ctx_reemit(ctx, topic, req->request_id, &found);
            if (err == MC_ERR_OK && !found)
                err = reply_status(ctx, region, env->trace_id, req->request_id, req->kind,
                                   MC_R_REVERSED, "the request was reversed before it arrived",
                                   NULL);
        } else if (same) {
            err = resend_reply(ctx, region, env->trace_id, req);
        } else {
            err = reply_status(ctx, region, env->trace_id, req->request_id, req->kind,
                               MC_R_DUPLICATE_MODIFIED,
                               "request_id was used before with a different request", NULL);
        }
    } else {
        switch (req->kind) {
        case MEDCLEAR__KIND__SETTLE:
        case MEDCLEAR__KIND__PRESETTLE:
            err = on_settle(ctx, rows, env, body, body_len, check, check_text, &look);
            break;
        case MEDCLEAR__KIND__CANCEL:
            err = on_cancel(ctx, st, env, body, body_len);
            break;
        case MEDCLEAR__KIND__REVERSE:
            err = on_reverse(ctx, st, env, body, body_len);
            break;
        default:
            snprintf(text, sizeof(text), "request kind %s is not known", mc_kind_code(req->kind));
            err = answer_request(ctx, env, region, body, body_len, MC_R_UNKNOWN_TYPE, text);
        }
    }
    free(look.catalog.rows);
    PQclear(res);
    free(body);
    return err;
}

/* The fields of a treating.claim_line (sql/012_claim_lines.sql), in order. */
enum {
    LINE_NO,
    LINE_ITEM_CODE,
    LINE_ITEM_CLASS,
    LINE_QUANTITY_MILLI,
    LINE_UNIT_PRICE,
    LINE_AMOUNT,
    LINE_FULL_SELF_PAY,
    LINE_OVER_LIMIT,
    LINE_SELF_PAY_FIRST,
    LINE_IN_SCOPE,
    LINE_FIELDS
};

/* Fills splits[0 .. lines->n) from a claim's stored lines, parsed by
 * mc_composites_parse(): every field the reply carries present, its numbers integers
 * (item codes and classes point into lines). False when they are not. */
static bool lines_to_splits(const mc_composites_t *lines, Medclear__LineSplit *splits)
{
    for (int i = 0; i < lines->n; i++) {
        char **f = &lines->field[i * LINE_FIELDS];
        Medclear__LineSplit *s = &splits[i];
        int64_t no;
        if (!f[LINE_NO] || !mc_parse_int(f[LINE_NO], &no) || no < 1 || no > INT32_MAX ||
            !f[LINE_ITEM_CODE] || !f[LINE_ITEM_CLASS])
            return false;
        medclear__line_split__init(s);
        s->line_no = (int32_t)no;
        s->item_code = f[LINE_ITEM_CODE];
        s->item_class = f[LINE_ITEM_CLASS];
        s->not_in_catalog = s->item_class[0] == '\0';
        const struct {
            int field;
            int64_t *to;
        } amounts[] = {{LINE_AMOUNT, &s->amount_fen},
                       {LINE_FULL_SELF_PAY, &s->full_self_pay_fen},
                       {LINE_OVER_LIMIT, &s->over_limit_fen},
                       {LINE_SELF_PAY_FIRST, &s->self_pay_first_fen},
                       {LINE_IN_SCOPE, &s->in_scope_fen}};
        for (size_t k = 0; k < sizeof(amounts) / sizeof(amounts[0]); k++)
            if (!f[amounts[k].field] || !mc_parse_int(f[amounts[k].field], amounts[k].to))
                return false;
    }
    return true;
}

static mc_err_t on_result(mc_msg_ctx_t *ctx, treating_state_t *st, const Medclear__Envelope *env)
{
    mc_rows_t *rows = st->rows;
    const Medclear__ClaimResult *cr = env->result;
    const char *region = mc_topic_party(mc_ctx_topic(ctx));
    PGconn *db = mc_ctx_db(ctx);
    char text[320];
    mc_err_t err = MC_ERR_OK;
    PGresult *res = NULL;
    Medclear__LineSplit *splits = NULL;
    Medclear__LineSplit **split_ptrs = NULL;
    mc_composites_t lines = {0};

    const char *drop = mc_ctx_config(ctx)->test_drop_result;
    if (drop[0] && strcmp(drop, cr->claim_id) == 0) {
        mc_warn("test hook test.drop.result.claim: dropping the result of claim %s", cr->claim_id);
        return MC_ERR_OK;
    }

    /* The claim as the read-ahead found it (a claim of this region the batch has not
     * changed since), or read and locked now. */
    mc_params_t p;
    const PGresult *claim = NULL;
    int row = 0;
    claim_ahead_t *a = claim_ahead(st, cr->claim_id);
    if (a && strcmp(PQgetvalue(st->res, a->row, 16), region) == 0) {
        claim = st->res;
        row = a->row;
    } else {
        if (mc_ctx_flush_rows_holding(ctx, rows, cr->claim_id) != MC_ERR_OK ||
            mc_ctx_flush_rows_holding(ctx, st->results, cr->claim_id) != MC_ERR_OK)
            return MC_ERR_DB;
        mc_params_init(&p);
        mc_p_str(&p, cr->claim_id);
        mc_p_str(&p, region);
        res = mc_db_run(db,
                        "SELECT " RESULT_CLAIM_COLUMNS
                        "WHERE c.claim_id = $1 AND c.treating_region = $2 FOR UPDATE OF c",
                        &p);
        if (!res)
            return MC_ERR_DB;
        if (PQntuples(res) == 1)
            claim = res;
    }
    if (a) /* whatever the result does to it, a later one reads it again */
        a->touched = true;
    if (!claim) {
        snprintf(text, sizeof(text), "result for claim \"%.64s\" not sent by region %s",
                 cr->claim_id, region);
        err = mc_ctx_dead_letter(ctx, MC_R_UNKNOWN_SETTLEMENT, text);
        goto out;
    }
    if (strcmp(PQgetvalue(claim, row, 0), "SENT") != 0) {
        snprintf(text, sizeof(text), "claim \"%.64s\" already has a result (%s)", cr->claim_id,
                 PQgetvalue(claim, row, 0));
        err = mc_ctx_dead_letter(ctx, MC_R_DUPLICATE_MODIFIED, text);
        goto out;
    }
    /* Results come from the insuring region, or from the centre when it refused to route. */
    if (strcmp(env->source_region, PQgetvalue(claim, row, 8)) != 0 &&
        strcmp(env->source_region, mc_ctx_config(ctx)->centre) != 0) {
        snprintf(text, sizeof(text), "result for claim \"%.64s\" comes from %s, not from %s",
                 cr->claim_id, env->source_region, PQgetvalue(claim, row, 8));
        err = mc_ctx_dead_letter(ctx, MC_R_BAD_REQUEST, text);
        goto out;
    }
    int64_t total = mc_db_int(claim, row, 2);
    mc_reason_t r = mc_msg_check_result(cr, total, text, sizeof(text));
    if (r != MC_OK) {
        err = mc_ctx_dead_letter(ctx, r, text);
        goto out;
    }

    bool accepted = cr->status == MEDCLEAR__STATUS__ACCEPTED;
    bool settle = strcmp(PQgetvalue(claim, row, 1), "SETTLE") == 0;
    bool books = strcmp(PQgetvalue(claim, row, 1), "PRESETTLE") != 0;
    const Medclear__Payment *pay = cr->payment;
    const char *status = mc_msg_result_status(cr, books);
    const char *reason = accepted ? NULL : cr->reason_code;
    const char *settlement_id = cr->settlement_id[0] ? cr->settlement_id : NULL;
    const char *answer = accepted ? "ACCEPTED" : "REJECTED";
    int64_t amounts[] = {pay ? pay->deductible_fen : 0, pay ? pay->fund_fen : 0,
                         pay ? pay->tier2_fen : 0, pay ? pay->account_fen : 0,
                         pay ? pay->cash_fen : 0};
    /* held for the batch's end (RESULTS_SQL); a later read of this claim flushes it */
    mc_rows_t *held = st->results;
    mc_rows_str(held, RES_CLAIM, cr->claim_id);
    mc_rows_str(held, RES_STATUS, status);
    mc_rows_str(held, RES_REASON, reason);
    mc_rows_str(held, RES_SETTLEMENT, settlement_id);
    for (int k = 0; k < 5; k++)
        mc_rows_int(held, RES_DEDUCTIBLE + k, amounts[k]);
    mc_rows_str(held, RES_ANSWER, answer);
    mc_rows_str(held, RES_REASON_TEXT, cr->reason_text);
    mc_rows_next(held, cr->claim_id);
    if (settlement_id) /* a CANCEL names the claim by it */
        mc_rows_key(held, settlement_id);
    /* A rejected undo leaves the claim it was for free to be undone again: a statement of
     * its own, since RESULTS_SQL may hold a row of that claim too. */
    if (!accepted && !PQgetisnull(claim, row, 9)) {
        mc_params_init(&p);
        mc_p_str(&p, PQgetvalue(claim, row, 9));
        if (!mc_db_defer(db, "UPDATE treating.claims SET undone_by = NULL WHERE claim_id = $1",
                         &p)) {
            err = MC_ERR_DB;
            goto out;
        }
    }
    /* The funds' share, owed by the insuring region, owed to the claim's hospital, when
     * the claim books and was accepted. */
    if (accepted && books && pay) {
        char dr[96], cr_acct[96]; /* codes checked when the request was taken */
        snprintf(dr, sizeof(dr), "due_from:%s", PQgetvalue(claim, row, 8));
        snprintf(cr_acct, sizeof(cr_acct), "payable:%s", PQgetvalue(claim, row, 13));
        mc_ctx_post(ctx, cr->claim_id, dr, "ASSET", cr_acct, "LIABILITY",
                    pay->fund_fen + pay->tier2_fen);
    }

    /* A late result (its request timed out or was reversed) is undone, never applied
     * silently; its request was answered already. */
    bool awaited = strcmp(PQgetvalue(claim, row, 11), "t") == 0;
    if (strcmp(PQgetvalue(claim, row, 10), "t") == 0 && accepted && settle) {
        PGresult *orig;
        if (mc_ctx_flush_rows_holding(ctx, held, cr->claim_id) != MC_ERR_OK) {
            err = MC_ERR_DB;
            goto out;
        }
        mc_params_init(&p);
        mc_p_str(&p, cr->claim_id);
        orig = mc_db_run(db, "SELECT " CLAIM_COLUMNS " FROM treating.claims WHERE claim_id = $1",
                         &p);
        if (!orig) {
            err = MC_ERR_DB;
            goto out;
        }
        char undo_id[MC_ID_MAX + 2];
        snprintf(undo_id, sizeof(undo_id), "X%s", cr->settlement_id);
        mc_info("claim %s: result arrived after its request was answered; undoing it as %s",
                cr->claim_id, undo_id);
        err = send_undo(ctx, region, env->trace_id, orig, undo_id, NULL, MEDCLEAR__KIND__REVERSE);
        PQclear(orig);
        goto out;
    }
    if (!awaited)
        goto out; /* an automatic undo, or a request answered already: no reply */

    /* The reply carries the split per line, as recorded with the claim. */
    if (!PQgetisnull(claim, row, 12) &&
        !mc_composites_parse(&lines, PQgetvalue(claim, row, 12), LINE_FIELDS)) {
        mc_error("claim %s: its stored lines could not be read", cr->claim_id);
        err = MC_ERR_DB;
        goto out;
    }
    int n = lines.n;
    splits = calloc((size_t)n + 1, sizeof(*splits));
    split_ptrs = calloc((size_t)n + 1, sizeof(*split_ptrs));
    if (!splits || !split_ptrs)
        abort();
    if (!lines_to_splits(&lines, splits)) {
        mc_error("claim %s: a stored line misses a field or has a number that is not one",
                 cr->claim_id);
        err = MC_ERR_DB;
        goto out;
    }
    for (int i = 0; i < n; i++)
        split_ptrs[i] = &splits[i];

    Medclear__SplitTotals totals;
    medclear__split_totals__init(&totals);
    totals.total_fen = total;
    totals.full_self_pay_fen = mc_db_int(claim, row, 3);
    totals.over_limit_fen = mc_db_int(claim, row, 4);
    totals.self_pay_first_fen = mc_db_int(claim, row, 5);
    totals.in_scope_fen = mc_db_int(claim, row, 6);

    Medclear__SettlementReply reply;
    medclear__settlement_reply__init(&reply);
    reply.request_id = cr->claim_id;
    reply.claim_id = cr->claim_id;
    reply.kind = cr->kind;
    reply.status = cr->status;
    reply.reason_code = cr->reason_code;
    reply.reason_text = cr->reason_text;
    reply.settlement_id = cr->settlement_id;
    reply.totals = &totals;
    reply.payment = cr->payment;
    reply.n_lines = (size_t)n;
    reply.lines = split_ptrs;
    reply.catalog_version = PQgetvalue(claim, row, 7);
    reply.policy_version = cr->policy_version;
    err = emit_reply(ctx, region, env->trace_id, &reply);

out:
    free(splits);
    free(split_ptrs);
    mc_composites_free(&lines);
    if (res)
        PQclear(res);
    return err;
}

mc_err_t treating_handle(mc_msg_ctx_t *ctx, const Medclear__Envelope *env, void *opaque)
{
    treating_state_t *st = opaque;
    const mc_config_t *cfg = mc_ctx_config(ctx);
    const char *topic = mc_ctx_topic(ctx);
    char expect[128];
    const char *region = mc_topic_party(topic);

    mc_bus_topic2(cfg, expect, sizeof(expect), "intake", region);
    if (strcmp(topic, expect) == 0) {
        if (env->body_case != MEDCLEAR__ENVELOPE__BODY_REQUEST)
            return mc_ctx_dead_letter(ctx, MC_R_UNKNOWN_TYPE,
                                      "intake topics carry settlement requests only");
        /* A reversal may mark its original's claim to be undone on its result. */
        if (env->request->kind == MEDCLEAR__KIND__REVERSE && env->request->original_request_id)
            ahead_touch_request(st, env->request->original_request_id);
        return on_request(ctx, st, env);
    }
    if (env->body_case != MEDCLEAR__ENVELOPE__BODY_RESULT)
        return mc_ctx_dead_letter(ctx, MC_R_UNKNOWN_TYPE, "result topics carry claim results only");
    return on_result(ctx, st, env);
}

mc_err_t treating_tick(mc_msg_ctx_t *ctx, void *opaque)
{
    (void)opaque;
    const mc_config_t *cfg = mc_ctx_config(ctx);
    mc_array_t regions;
    mc_array_init(&regions);
    for (int i = 0; i < cfg->n_regions; i++)
        mc_array_str(&regions, cfg->regions[i]);
    char text[96];
    snprintf(text, sizeof(text), "no result within %" PRId64 " ms; a late result will be undone",
             cfg->claim_timeout_ms);

    /* SETTLE requests still waiting past the timeout: answered TIMED_OUT, and their
     * claims marked so that a late result is undone. Undo claims are never timed out:
     * they complete whenever their result comes. */
    mc_params_t p;
    mc_params_init(&p);
    mc_p_int(&p, cfg->claim_timeout_ms);
    mc_p_str(&p, mc_array_text(&regions));
    mc_p_str(&p, text);
    PGresult *res = mc_db_run(mc_ctx_db(ctx),
                              "WITH t AS (UPDATE treating.requests r SET status = 'TIMED_OUT', "
                              "reason_code = 'TIMED_OUT', reason_text = $3, replied_at = now(), "
                              "answers = answers + 1 "
                              "WHERE r.request_id IN (SELECT c.request_id FROM treating.claims c "
                              "  WHERE c.status = 'SENT' AND c.kind = 'SETTLE' "
                              "  AND c.treating_region = ANY($2::text[]) "
                              "  AND c.created_at < now() - $1::bigint * interval '1 millisecond' "
                              "  ORDER BY c.created_at LIMIT 1000) "
                              "AND r.status = 'PENDING' RETURNING r.request_id, r.treating_region), "
                              "c AS (UPDATE treating.claims SET undo_on_result = true "
                              "WHERE request_id IN (SELECT request_id FROM t)) "
                              "SELECT request_id, treating_region FROM t",
                              &p);
    mc_array_free(&regions);
    if (!res)
        return MC_ERR_DB;
    mc_err_t err = MC_ERR_OK;
    for (int i = 0; i < PQntuples(res) && err == MC_ERR_OK; i++) {
        mc_warn("request %s timed out", PQgetvalue(res, i, 0));
        err = reply_status(ctx, PQgetvalue(res, i, 1), NULL, PQgetvalue(res, i, 0),
                           MEDCLEAR__KIND__SETTLE, MC_R_TIMED_OUT, text, NULL);
    }
    PQclear(res);
    return err;
}

mc_err_t treating_duplicate(mc_msg_ctx_t *ctx, const Medclear__Envelope *env,
                            bool same_payload, void *opaque)
{
    (void)opaque;
    if (env->body_case != MEDCLEAR__ENVELOPE__BODY_REQUEST || !mc_valid_id(env->request->request_id, MC_ID_MAX)) {
        if (same_payload)
            return MC_ERR_OK; /* a redelivery: its effects are already recorded */
        return mc_ctx_dead_letter(ctx, MC_R_DUPLICATE_MODIFIED,
                                  "message id seen before with a different payload");
    }

    /* An agency resent a request: same bytes get the earlier reply, other bytes a
     * rejection that leaves the recorded request untouched. */
    const char *region = mc_topic_party(mc_ctx_topic(ctx));
    const Medclear__SettlementRequest *req = env->request;
    if (same_payload)
        return resend_reply(ctx, region, env->trace_id, req);
    /* Operators see the tampering in the dead letters; the agency gets an answer. */
    const char *text = "message id was used before with a different payload";
    if (mc_ctx_dead_letter(ctx, MC_R_DUPLICATE_MODIFIED, text) != MC_ERR_OK)
        return MC_ERR_DB;
    return reply_status(ctx, region, env->trace_id, req->request_id, req->kind,
                        MC_R_DUPLICATE_MODIFIED, text, NULL);
}
