/*
 * The insuring region's side of a settlement: "the insuring region's policy" (参保地政策).
 *
 * claim (mc.claims.P) -> person, registration, policy, accumulators -> payment ->
 * settlement row and accumulator update -> result (mc.results)
 *
 * The person's row is locked for the whole computation, so concurrent claims of one
 * person, from any treating region or any instance of this service, serialize on it and
 * never spend the same remaining deductible or cap twice.
 */
#include "insuring.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_date.h"
#include "mc_db.h"
#include "mc_log.h"
#include "mc_money.h"
#include "mc_msg.h"
#include "mc_policy.h"
#include "mc_rows.h"
#include "mc_text.h"

#define MAX_REGS 32

/*
 * The settlement rows of a batch's claims, accepted or not: written by the flush hook in
 * one statement for the batch, not one per claim, each held by its claim id. The check
 * for a claim adjudicated before writes them first when it asks for a held one, and so
 * does an undo (which reads and changes the settlement it undoes) when it names a held
 * one (each settled row is held by its settlement id too), so every statement still sees
 * what the claims before it wrote.
 */
enum {
    SET_CLAIM_ID,
    SET_REQUEST_ID,
    SET_KIND,
    SET_PERSON,
    SET_INSURING,
    SET_TREATING,
    SET_HOSPITAL,
    SET_LEVEL,
    SET_VISIT_TYPE,
    SET_VISIT_DATE,
    SET_STATUS,
    SET_REASON,
    SET_POLICY_VERSION,
    SET_REG_TYPE,
    SET_TOTAL,
    SET_IN_SCOPE,
    SET_DEDUCTIBLE,
    SET_RATIO,
    SET_FUND,
    SET_TIER2,
    SET_ACCOUNT,
    SET_CASH,
    SET_SETTLEMENT_ID,
    SET_YEAR,
    SET_CAP_GROUP,
    SET_SCOPE,
    SET_UNDOES,
    SET_COLS
};

/* Rejected claims are recorded too (also of unknown persons: no foreign key), so a
 * resent claim gets the same answer and reconciliation sees every claim. */
static const char SETTLEMENTS_SQL[] =
    "INSERT INTO insuring.settlements (claim_id, request_id, kind, person_id, "
    "insuring_region, treating_region, hospital_code, hospital_level, visit_type, visit_date, "
    "status, reason_code, policy_version, registration_type, total_fen, in_scope_fen, "
    "deductible_fen, ratio_bp, fund_fen, tier2_fen, account_fen, cash_fen, settlement_id, "
    "year, cap_group, deductible_scope, undoes) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], "
    "$6::text[], $7::text[], $8::smallint[], $9::text[], $10::date[], $11::text[], $12::text[], "
    "$13::text[], $14::text[], $15::bigint[], $16::bigint[], $17::bigint[], $18::integer[], "
    "$19::bigint[], $20::bigint[], $21::bigint[], $22::bigint[], $23::text[], $24::integer[], "
    "$25::text[], $26::text[], $27::text[])";

/*
 * A claim's person, registrations, chronic certification and policy: columns 0-17 of
 * both statements below, read by adjudicate(). Column 0 (insured_type) is NULL when no
 * person of the claim's insuring region has the id.
 */
#define PERSON_COLUMNS                                                                      \
    "person.insured_type, person.account_balance_fen, "                                     \
    " (SELECT string_agg(reg_type || ':' || to_char(valid_from, 'YYYYMMDD') || ':' "        \
    "   || coalesce(to_char(valid_to, 'YYYYMMDD'), '0'), ',') "                             \
    "   FROM insuring.registrations r WHERE r.person_id = u.person "                        \
    "   AND r.treating_region = u.treating), "                                              \
    " EXISTS (SELECT 1 FROM insuring.chronic_certifications cc "                            \
    "   WHERE cc.person_id = u.person AND cc.valid_from <= u.visit_date "                   \
    "   AND (cc.valid_to IS NULL OR cc.valid_to >= u.visit_date)), "                        \
    " pol.version, pol.deductible_fen, pol.deductible_scope, pol.ratio_l1_bp, "             \
    " pol.ratio_l2_bp, pol.ratio_l3_bp, pol.annual_cap_fen, pol.cap_group, "                \
    " pol.tier2_ratio_bp, pol.tier2_cap_fen, pol.account_allowed, "                         \
    " pol.reduction_referral_bp, pol.reduction_emergency_bp, pol.reduction_other_bp "
#define POLICY_JOIN                                                                         \
    "LEFT JOIN LATERAL (SELECT * FROM insuring.policies "                                   \
    "  WHERE region = u.insuring AND insured_type = person.insured_type "                   \
    "  AND visit_type = u.visit_type AND effective_from <= u.visit_date "                   \
    "  ORDER BY effective_from DESC LIMIT 1) pol ON true "
enum { COL_POLICY = 4, COL_CAP_GROUP = COL_POLICY + 7 };

/* One claim: the person row lock serializes every claim of this person. */
static const char PERSON_SQL[] =
    "WITH u AS (SELECT $1::text AS person, $2::text AS insuring, $3::text AS treating, "
    "  $4::date AS visit_date, $5::text AS visit_type), "
    "person AS (SELECT person_id, insured_type, account_balance_fen "
    "  FROM insuring.persons WHERE person_id = $1 AND region = $2 FOR UPDATE) "
    "SELECT " PERSON_COLUMNS "FROM u JOIN person ON true " POLICY_JOIN;

/*
 * A batch's claims (the read-ahead), one row each in the order given, with column 18
 * whether a settlement of the claim id exists. Every person of the batch is locked first,
 * in the order of the ids, so two batches never wait for each other in a cycle. The
 * settlement and (below) the accumulators are looked up by subqueries with LIMIT 1, which
 * the planner keeps as one index probe per row: as EXISTS or a plain lateral join it may
 * read the whole table once per batch instead (a hash), the cheaper plan only by its
 * estimates while the table is small.
 */
static const char PERSONS_AHEAD_SQL[] =
    "WITH u AS MATERIALIZED (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], "
    "  $4::text[], $5::date[], $6::text[]) WITH ORDINALITY "
    "  AS u(claim, person, insuring, treating, visit_date, visit_type, n)), "
    "locked AS MATERIALIZED (SELECT person_id, region, insured_type, account_balance_fen "
    "  FROM insuring.persons WHERE person_id = ANY ($2::text[]) ORDER BY person_id "
    "  FOR UPDATE) "
    "SELECT " PERSON_COLUMNS ", (SELECT true FROM insuring.settlements s "
    "  WHERE s.claim_id = u.claim LIMIT 1) IS NOT NULL "
    "FROM u LEFT JOIN locked person ON person.person_id = u.person "
    "  AND person.region = u.insuring " POLICY_JOIN "ORDER BY u.n";

/*
 * The accumulators of the batch's (person, year, cap group) keys, in the order given
 * (zeros when there is no row yet), then $4 new settlement numbers (column 0 is 0).
 * Read by a statement of its own, after the persons' locks are held: a statement that
 * waited for a lock still reads other tables as they were when it started, so it would
 * miss what the claim holding the lock has just spent.
 */
static const char ACCUMS_AHEAD_SQL[] =
    "SELECT k.n, coalesce(a.ytd_deductible_fen, 0), coalesce(a.ytd_fund_paid_fen, 0), "
    "  coalesce(a.ytd_tier2_paid_fen, 0), NULL "
    "FROM unnest($1::text[], $2::integer[], $3::text[]) WITH ORDINALITY AS k(person, year, "
    "  cap_group, n) "
    "LEFT JOIN LATERAL (SELECT * FROM insuring.accumulators x WHERE x.person_id = k.person "
    "  AND x.year = k.year AND x.cap_group = k.cap_group LIMIT 1) a ON true "
    "UNION ALL SELECT 0, NULL, NULL, NULL, lpad(nextval('insuring.settlement_seq')::text, 12, "
    "  '0') FROM generate_series(1, $4::integer)";

/* What the batch's claims spent, added to the rows (and persons' balances) at once.
 * The persons are distinct ($7 is built from the sorted, distinct persons ahead), so a
 * join updates each once. It is a join, not a subquery per person over the whole array:
 * that was quadratic, 79 ms for a batch of 1,000 persons against 7-12 ms. */
static const char SPENT_SQL[] =
    "WITH a AS (INSERT INTO insuring.accumulators AS a (person_id, year, cap_group, "
    "  ytd_deductible_fen, ytd_fund_paid_fen, ytd_tier2_paid_fen) "
    "  SELECT * FROM unnest($1::text[], $2::integer[], $3::text[], $4::bigint[], "
    "  $5::bigint[], $6::bigint[]) "
    "  ON CONFLICT (person_id, year, cap_group) DO UPDATE SET "
    "  ytd_deductible_fen = a.ytd_deductible_fen + excluded.ytd_deductible_fen, "
    "  ytd_fund_paid_fen = a.ytd_fund_paid_fen + excluded.ytd_fund_paid_fen, "
    "  ytd_tier2_paid_fen = a.ytd_tier2_paid_fen + excluded.ytd_tier2_paid_fen) "
    "UPDATE insuring.persons p SET account_balance_fen = p.account_balance_fen - d.drawn "
    "FROM unnest($7::text[], $8::bigint[]) AS d(person, drawn) "
    "WHERE p.person_id = ANY ($7::text[]) AND p.person_id = d.person";

typedef struct person_ahead {
    char *id;
    int64_t balance; /* as read, less what was written since */
    int64_t drawn;   /* drawn from the account by the batch's claims, not written yet */
    bool stale;      /* an undo changed the person in the database: read it again */
    int first_accum; /* its first key in accums, -1: none */
} person_ahead_t;

typedef struct accum_ahead {
    int person; /* in persons */
    int year;
    const char *cap_group; /* in the persons' statement's result */
    mc_accum_t base;       /* as read, plus what was written since */
    mc_accum_t added;      /* added by the batch's claims, not written yet */
    bool touched;          /* a claim settled on it: its row must exist */
    int next;              /* the person's next key, -1: none */
} accum_ahead_t;

typedef struct claim_ahead {
    char *message_id;
    int row;         /* in the persons' statement's result */
    int person;      /* in persons; -1: no person of the claim's region */
    int accum;       /* in accums; -1: no policy (or an undo) */
    bool seen_valid; /* no other claim of the batch has its claim id: seen holds */
    bool seen;       /* a settlement of its claim id existed before the batch */
    char number[24]; /* its settlement number (a SETTLE with an accumulator key) */
} claim_ahead_t;

struct insuring_state {
    mc_rows_t *rows;
    PGresult *res; /* the persons' statement's result */
    claim_ahead_t *claims; /* sorted by message id */
    int n_claims;
    person_ahead_t *persons; /* sorted by id */
    int n_persons;
    accum_ahead_t *accums;
    int n_accums;
};

insuring_state_t *insuring_state_new(void)
{
    insuring_state_t *st = calloc(1, sizeof(*st));
    if (!st)
        abort();
    st->rows = mc_rows_new(SETTLEMENTS_SQL, SET_COLS);
    return st;
}

/* Forgets what the batch read ahead: the batch ended, or was rolled back. */
static void ahead_clear(insuring_state_t *st)
{
    for (int i = 0; i < st->n_claims; i++)
        free(st->claims[i].message_id);
    for (int i = 0; i < st->n_persons; i++)
        free(st->persons[i].id);
    free(st->claims);
    free(st->persons);
    free(st->accums);
    PQclear(st->res);
    st->claims = NULL;
    st->persons = NULL;
    st->accums = NULL;
    st->res = NULL;
    st->n_claims = st->n_persons = st->n_accums = 0;
}

void insuring_state_free(insuring_state_t *st)
{
    if (!st)
        return;
    ahead_clear(st);
    mc_rows_free(st->rows);
    free(st);
}

static void *alloc_array(int n, size_t size)
{
    void *p = calloc((size_t)(n ? n : 1), size);
    if (!p)
        abort();
    return p;
}

static int compare_claims(const void *a, const void *b)
{
    return strcmp(((const claim_ahead_t *)a)->message_id, ((const claim_ahead_t *)b)->message_id);
}

static int compare_persons(const void *a, const void *b)
{
    return strcmp(((const person_ahead_t *)a)->id, ((const person_ahead_t *)b)->id);
}


/* The claim read ahead for the message being handled; NULL when none was. */
static claim_ahead_t *claim_ahead(insuring_state_t *st, const char *message_id)
{
    if (st->n_claims == 0 || !message_id)
        return NULL;
    claim_ahead_t key = {.message_id = (char *)message_id};
    return bsearch(&key, st->claims, (size_t)st->n_claims, sizeof(key), compare_claims);
}

static person_ahead_t *person_ahead(insuring_state_t *st, const char *person_id)
{
    if (st->n_persons == 0)
        return NULL;
    person_ahead_t key = {.id = (char *)person_id};
    return bsearch(&key, st->persons, (size_t)st->n_persons, sizeof(key), compare_persons);
}

/* Whether the batch's claims spent on the person (accumulators or account) what
 * write_spent() has not written yet. */
static bool spent_pending(insuring_state_t *st, const char *person_id)
{
    const person_ahead_t *pa = person_ahead(st, person_id);
    if (!pa)
        return false;
    if (pa->drawn != 0)
        return true;
    for (int k = pa->first_accum; k >= 0; k = st->accums[k].next)
        if (st->accums[k].touched)
            return true;
    return false;
}

/* The accumulator key (person, year, cap group) of a claim, added when new. */
static int accum_key(insuring_state_t *st, int person, int year, const char *cap_group)
{
    int *link = &st->persons[person].first_accum;
    while (*link >= 0) {
        accum_ahead_t *a = &st->accums[*link];
        if (a->year == year && strcmp(a->cap_group, cap_group) == 0)
            return *link;
        link = &a->next;
    }
    accum_ahead_t *a = &st->accums[st->n_accums];
    memset(a, 0, sizeof(*a));
    a->person = person;
    a->year = year;
    a->cap_group = cap_group;
    a->next = -1;
    *link = st->n_accums;
    return st->n_accums++;
}

mc_err_t insuring_prepare(mc_msg_ctx_t *ctx, const Medclear__Envelope *const *envs, int n,
                          void *opaque)
{
    insuring_state_t *st = opaque;
    ahead_clear(st);
    PGconn *db = mc_ctx_db(ctx);

    /* Claim ids that come more than once in the batch: their earlier settlement is
     * looked up when each is handled, after the one before it was written. */
    const char **ids = alloc_array(n, sizeof(*ids));
    int n_ids = 0;
    for (int i = 0; i < n; i++)
        if (envs[i]->body_case == MEDCLEAR__ENVELOPE__BODY_CLAIM &&
            mc_valid_id(envs[i]->claim->claim_id, MC_ID_MAX))
            ids[n_ids++] = envs[i]->claim->claim_id;
    qsort(ids, (size_t)n_ids, sizeof(*ids), mc_compare_strings);

    mc_array_t col[6];
    for (int c = 0; c < 6; c++)
        mc_array_init(&col[c]);
    st->claims = alloc_array(n, sizeof(*st->claims));
    const Medclear__Claim **claims = alloc_array(n, sizeof(*claims));
    for (int i = 0; i < n; i++) {
        if (envs[i]->body_case != MEDCLEAR__ENVELOPE__BODY_CLAIM)
            continue;
        const Medclear__Claim *c = envs[i]->claim;
        char text[320];
        if (!mc_valid_id(c->claim_id, MC_ID_MAX) ||
            mc_msg_check_claim(c, text, sizeof(text)) != MC_OK)
            continue; /* refused when handled, before anything is read */
        const char **hit =
            bsearch(&c->claim_id, ids, (size_t)n_ids, sizeof(*ids), mc_compare_strings);
        claim_ahead_t *a = &st->claims[st->n_claims];
        a->message_id = strdup(envs[i]->message_id);
        if (!a->message_id)
            abort();
        a->row = st->n_claims;
        a->person = a->accum = -1;
        a->seen_valid = (hit == ids || strcmp(hit[-1], c->claim_id) != 0) &&
                        (hit == ids + n_ids - 1 || strcmp(hit[1], c->claim_id) != 0);
        claims[st->n_claims++] = c;
        char visit_date[11];
        mc_date_format(c->visit_date, visit_date);
        mc_array_str(&col[0], c->claim_id);
        mc_array_str(&col[1], c->person_id);
        mc_array_str(&col[2], c->insuring_region);
        mc_array_str(&col[3], c->treating_region);
        mc_array_str(&col[4], visit_date);
        mc_array_str(&col[5], mc_visit_code(c->visit_type));
    }
    free(ids);
    mc_err_t err = MC_ERR_OK;
    if (st->n_claims == 0)
        goto out;
    mc_params_t p;
    mc_params_init(&p);
    for (int c = 0; c < 6; c++)
        mc_p_str(&p, mc_array_text(&col[c]));
    st->res = mc_db_run(db, PERSONS_AHEAD_SQL, &p);
    if (!st->res || PQntuples(st->res) != st->n_claims) {
        if (st->res)
            mc_error("insuring: %d claims read ahead for %d", PQntuples(st->res), st->n_claims);
        err = MC_ERR_DB;
        goto out;
    }

    /* The persons found, each once. */
    st->persons = alloc_array(st->n_claims, sizeof(*st->persons));
    for (int i = 0; i < st->n_claims; i++) {
        if (PQgetisnull(st->res, i, 0))
            continue;
        person_ahead_t *pa = &st->persons[st->n_persons++];
        pa->id = claims[i]->person_id; /* copied below, once per person */
        pa->balance = mc_db_int(st->res, i, 1);
        pa->first_accum = -1;
    }
    qsort(st->persons, (size_t)st->n_persons, sizeof(*st->persons), compare_persons);
    int kept = 0;
    for (int i = 0; i < st->n_persons; i++) {
        if (kept > 0 && strcmp(st->persons[kept - 1].id, st->persons[i].id) == 0)
            continue;
        st->persons[kept] = st->persons[i];
        st->persons[kept].id = strdup(st->persons[i].id);
        if (!st->persons[kept].id)
            abort();
        kept++;
    }
    st->n_persons = kept;

    /* The accumulator keys of the claims a policy applies to, and settlement numbers for
     * the SETTLE ones among them. */
    st->accums = alloc_array(st->n_claims, sizeof(*st->accums));
    int numbers = 0;
    for (int i = 0; i < st->n_claims; i++) {
        const Medclear__Claim *c = claims[i];
        claim_ahead_t *a = &st->claims[i];
        a->seen = strcmp(PQgetvalue(st->res, i, 18), "t") == 0;
        person_ahead_t *pa = PQgetisnull(st->res, i, 0) ? NULL : person_ahead(st, c->person_id);
        if (!pa)
            continue;
        a->person = (int)(pa - st->persons);
        bool adjudicated = c->kind == MEDCLEAR__KIND__SETTLE || c->kind == MEDCLEAR__KIND__PRESETTLE;
        if (!adjudicated || PQgetisnull(st->res, i, COL_POLICY))
            continue;
        a->accum = accum_key(st, a->person, c->visit_date / 10000,
                             PQgetvalue(st->res, i, COL_CAP_GROUP));
        if (c->kind == MEDCLEAR__KIND__SETTLE)
            numbers++;
    }
    for (int c = 0; c < 3; c++) {
        mc_array_free(&col[c]);
        mc_array_init(&col[c]);
    }
    for (int k = 0; k < st->n_accums; k++) {
        mc_array_str(&col[0], st->persons[st->accums[k].person].id);
        mc_array_int(&col[1], st->accums[k].year);
        mc_array_str(&col[2], st->accums[k].cap_group);
    }
    mc_params_init(&p);
    for (int c = 0; c < 3; c++)
        mc_p_str(&p, mc_array_text(&col[c]));
    mc_p_int(&p, numbers);
    PGresult *res = mc_db_run(db, ACCUMS_AHEAD_SQL, &p);
    if (!res || PQntuples(res) != st->n_accums + numbers) {
        if (res)
            mc_error("insuring: %d accumulator rows read ahead for %d", PQntuples(res),
                     st->n_accums + numbers);
        PQclear(res);
        err = MC_ERR_DB;
        goto out;
    }
    int next_number = 0;
    for (int r = 0; r < PQntuples(res); r++) {
        int64_t k = mc_db_int(res, r, 0);
        if (k >= 1 && k <= st->n_accums) {
            accum_ahead_t *a = &st->accums[k - 1];
            a->base.ytd_deductible_fen = mc_db_int(res, r, 1);
            a->base.ytd_fund_paid_fen = mc_db_int(res, r, 2);
            a->base.ytd_tier2_paid_fen = mc_db_int(res, r, 3);
            continue;
        }
        while (next_number < st->n_claims &&
               !(st->claims[next_number].accum >= 0 &&
                 claims[next_number]->kind == MEDCLEAR__KIND__SETTLE))
            next_number++;
        if (next_number < st->n_claims)
            snprintf(st->claims[next_number++].number, sizeof(st->claims[0].number), "%s",
                     PQgetvalue(res, r, 4));
    }
    PQclear(res);
    qsort(st->claims, (size_t)st->n_claims, sizeof(*st->claims), compare_claims);
    mc_debug("read ahead %d claims of %d persons, %d accumulator keys", st->n_claims,
             st->n_persons, st->n_accums);
out:
    for (int c = 0; c < 6; c++)
        mc_array_free(&col[c]);
    free(claims);
    if (err != MC_ERR_OK)
        ahead_clear(st);
    return err;
}

/* Writes what the batch's claims spent so far (one statement), so the database holds it. */
static mc_err_t write_spent(mc_msg_ctx_t *ctx, insuring_state_t *st)
{
    mc_array_t col[8];
    for (int c = 0; c < 8; c++)
        mc_array_init(&col[c]);
    int rows = 0, drawn = 0;
    for (int k = 0; k < st->n_accums; k++) {
        accum_ahead_t *a = &st->accums[k];
        if (!a->touched)
            continue;
        mc_array_str(&col[0], st->persons[a->person].id);
        mc_array_int(&col[1], a->year);
        mc_array_str(&col[2], a->cap_group);
        mc_array_int(&col[3], a->added.ytd_deductible_fen);
        mc_array_int(&col[4], a->added.ytd_fund_paid_fen);
        mc_array_int(&col[5], a->added.ytd_tier2_paid_fen);
        a->base.ytd_deductible_fen += a->added.ytd_deductible_fen;
        a->base.ytd_fund_paid_fen += a->added.ytd_fund_paid_fen;
        a->base.ytd_tier2_paid_fen += a->added.ytd_tier2_paid_fen;
        memset(&a->added, 0, sizeof(a->added));
        a->touched = false;
        rows++;
    }
    for (int i = 0; i < st->n_persons; i++) {
        person_ahead_t *pa = &st->persons[i];
        if (pa->drawn == 0)
            continue;
        mc_array_str(&col[6], pa->id);
        mc_array_int(&col[7], pa->drawn);
        pa->balance -= pa->drawn;
        pa->drawn = 0;
        drawn++;
    }
    bool ok = true;
    if (rows > 0 || drawn > 0) {
        mc_params_t p;
        mc_params_init(&p);
        for (int c = 0; c < 8; c++)
            mc_p_str(&p, mc_array_text(&col[c]));
        ok = mc_db_defer(mc_ctx_db(ctx), SPENT_SQL, &p);
    }
    for (int c = 0; c < 8; c++)
        mc_array_free(&col[c]);
    return ok ? MC_ERR_OK : MC_ERR_DB;
}

mc_err_t insuring_flush(mc_msg_ctx_t *ctx, void *opaque)
{
    insuring_state_t *st = opaque;
    mc_err_t err = write_spent(ctx, st);
    if (err == MC_ERR_OK)
        err = mc_ctx_flush_rows(ctx, st->rows);
    ahead_clear(st);
    return err;
}

void insuring_discard(void *opaque)
{
    insuring_state_t *st = opaque;
    mc_rows_reset(st->rows);
    ahead_clear(st);
}

/* What the result of a claim says, filled as the claim is adjudicated. */
typedef struct outcome {
    mc_reason_t reason;
    char text[320];
    char settlement_id[32];
    char policy_version[64];
    mc_reg_type_t reg;
    mc_insured_type_t insured;
    mc_payment_t pay;
    int year;            /* accumulator year, cap group and deductible scope used: */
    char cap_group[64];  /* a cancel undoes exactly these */
    mc_ded_scope_t scope;
    char undoes[MC_ID_MAX + 1]; /* an undo: the settlement it undoes */
} outcome_t;

static mc_err_t emit_result(mc_msg_ctx_t *ctx, const Medclear__Envelope *env,
                            const Medclear__Claim *claim, const outcome_t *o)
{
    Medclear__SplitTotals totals;
    medclear__split_totals__init(&totals);
    if (claim->totals)
        totals = *claim->totals;
    totals.base.unknown_fields = NULL;
    totals.base.n_unknown_fields = 0;

    Medclear__Payment pay;
    medclear__payment__init(&pay);
    pay.deductible_fen = o->pay.deductible_fen;
    pay.ratio_bp = o->pay.ratio_bp;
    pay.fund_fen = o->pay.fund_fen;
    pay.tier2_fen = o->pay.tier2_fen;
    pay.account_fen = o->pay.account_fen;
    pay.cash_fen = o->pay.cash_fen;
    pay.person_fen = o->pay.person_fen;
    pay.registration_type = (char *)mc_reg_type_code(o->reg);
    pay.insured_type = (char *)mc_insured_type_code(o->insured);

    Medclear__ClaimResult cr;
    medclear__claim_result__init(&cr);
    cr.claim_id = claim->claim_id;
    cr.request_id = claim->request_id;
    cr.kind = claim->kind;
    cr.treating_region = claim->treating_region;
    cr.insuring_region = claim->insuring_region;
    cr.person_id = claim->person_id;
    cr.hospital_code = claim->hospital_code;
    cr.totals = &totals;
    if (o->reason == MC_OK) {
        cr.status = MEDCLEAR__STATUS__ACCEPTED;
        cr.payment = &pay;
        cr.settlement_id = (char *)o->settlement_id;
        cr.policy_version = (char *)o->policy_version;
    } else {
        cr.status = MEDCLEAR__STATUS__REJECTED;
        cr.reason_code = (char *)mc_reason_code(o->reason);
        cr.reason_text = (char *)o->text;
    }

    char topic[128], id[33];
    mc_bus_topic(mc_ctx_config(ctx), topic, sizeof(topic), "results");
    Medclear__Envelope out;
    mc_envelope_init(&out, id, claim->insuring_region, env->trace_id);
    out.body_case = MEDCLEAR__ENVELOPE__BODY_RESULT;
    out.result = &cr;
    return mc_ctx_emit(ctx, topic, claim->claim_id, &out);
}

/* Reads the policy row (columns from 'version' on) of row into p. */
static void read_policy(const PGresult *r, int row, int c0, mc_policy_t *p, char *cap_group,
                        size_t cg_size)
{
    memset(p, 0, sizeof(*p));
    p->deductible_fen = mc_db_int(r, row, c0 + 1);
    p->deductible_scope =
        strcmp(PQgetvalue(r, row, c0 + 2), "PER_YEAR") == 0 ? MC_DED_PER_YEAR : MC_DED_PER_VISIT;
    p->ratio_bp[0] = (int32_t)mc_db_int(r, row, c0 + 3);
    p->ratio_bp[1] = (int32_t)mc_db_int(r, row, c0 + 4);
    p->ratio_bp[2] = (int32_t)mc_db_int(r, row, c0 + 5);
    p->annual_cap_fen = mc_db_int(r, row, c0 + 6);
    snprintf(cap_group, cg_size, "%s", PQgetvalue(r, row, c0 + 7));
    p->tier2_ratio_bp = (int32_t)mc_db_int(r, row, c0 + 8);
    p->tier2_cap_fen = mc_db_int(r, row, c0 + 9);
    p->account_allowed = strcmp(PQgetvalue(r, row, c0 + 10), "t") == 0;
    p->reduction_bp[MC_REG_LONG_TERM] = 0;
    p->reduction_bp[MC_REG_TEMP_REFERRAL] = (int32_t)mc_db_int(r, row, c0 + 11);
    p->reduction_bp[MC_REG_TEMP_EMERGENCY] = (int32_t)mc_db_int(r, row, c0 + 12);
    p->reduction_bp[MC_REG_TEMP_OTHER] = (int32_t)mc_db_int(r, row, c0 + 13);
}

/*
 * Adjudicates a checked claim: fills o. On MC_OK for a SETTLE, the accumulators,
 * account and settlement are written (or, read ahead, added to what the batch spends).
 * a is the claim as the batch read it ahead (NULL: read it now). Returns MC_ERR_DB on a
 * database error.
 */
static mc_err_t adjudicate(PGconn *db, insuring_state_t *st, const claim_ahead_t *a,
                           const Medclear__Claim *c, outcome_t *o)
{
    PGresult *own = NULL;
    char visit_date[11];
    mc_date_format(c->visit_date, visit_date);
    person_ahead_t *pa = a && a->person >= 0 ? &st->persons[a->person] : NULL;
    if (pa && pa->stale)
        a = NULL, pa = NULL; /* an undo of the batch changed the person */

    const PGresult *res;
    int row;
    bool found;
    if (a) {
        res = st->res;
        row = a->row;
        found = !PQgetisnull(res, row, 0);
    } else {
        mc_params_t p;
        mc_params_init(&p);
        mc_p_str(&p, c->person_id);
        mc_p_str(&p, c->insuring_region);
        mc_p_str(&p, c->treating_region);
        mc_p_str(&p, visit_date);
        mc_p_str(&p, mc_visit_code(c->visit_type));
        own = mc_db_run(db, PERSON_SQL, &p);
        if (!own)
            return MC_ERR_DB;
        res = own;
        row = 0;
        found = PQntuples(own) == 1;
    }
    if (!found) {
        o->reason = MC_R_UNKNOWN_PERSON;
        snprintf(o->text, sizeof(o->text), "person \"%s\" is not insured in region %s",
                 c->person_id, c->insuring_region);
        goto out;
    }
    mc_insured_type_parse(PQgetvalue(res, row, 0), &o->insured);
    int64_t balance = pa ? pa->balance - pa->drawn : mc_db_int(res, row, 1);

    mc_registration_t regs[MAX_REGS];
    int n_regs = 0;
    char regtext[2048];
    snprintf(regtext, sizeof(regtext), "%s", PQgetvalue(res, row, 2));
    char *save = NULL;
    for (char *tok = strtok_r(regtext, ",", &save); tok && n_regs < MAX_REGS;
         tok = strtok_r(NULL, ",", &save)) {
        char type[32];
        int from, to;
        if (sscanf(tok, "%31[A-Z_]:%d:%d", type, &from, &to) != 3 ||
            !mc_reg_type_parse(type, &regs[n_regs].type))
            continue;
        regs[n_regs].valid_from = from;
        regs[n_regs].valid_to = to;
        n_regs++;
    }
    bool chronic = strcmp(PQgetvalue(res, row, 3), "t") == 0;
    mc_visit_type_t visit = (mc_visit_type_t)c->visit_type;
    o->reason = mc_policy_registration(regs, n_regs, c->visit_date, c->emergency, visit, chronic,
                                       &o->reg);
    if (o->reason != MC_OK) {
        snprintf(o->text, sizeof(o->text), "%s for treating region %s on %s",
                 o->reason == MC_R_NOT_ELIGIBLE ? "no certified chronic disease"
                 : o->reason == MC_R_REGISTRATION_EXPIRED
                     ? "registration not valid"
                     : "no registration",
                 c->treating_region, visit_date);
        goto out;
    }
    if (PQgetisnull(res, row, COL_POLICY)) {
        o->reason = MC_R_NO_POLICY;
        snprintf(o->text, sizeof(o->text), "no %s %s policy of region %s in force on %s",
                 PQgetvalue(res, row, 0), mc_visit_code(c->visit_type), c->insuring_region,
                 visit_date);
        goto out;
    }
    snprintf(o->policy_version, sizeof(o->policy_version), "%s",
             PQgetvalue(res, row, COL_POLICY));
    mc_policy_t pol;
    char cap_group[64];
    read_policy(res, row, COL_POLICY, &pol, cap_group, sizeof(cap_group));
    snprintf(o->cap_group, sizeof(o->cap_group), "%s", cap_group);
    o->scope = pol.deductible_scope;
    PQclear(own);
    own = NULL;

    /* Accumulators of the calendar year of the visit, for the policy's cap group (none
     * yet: zeros), and for a SETTLE the id its settlement will have. Read by a statement
     * of their own, after the person's lock is held: a statement that waited for the lock
     * still reads other tables as they were when it started, so the same statement would
     * miss what the claim holding the lock has just spent. */
    int year = c->visit_date / 10000;
    o->year = year;
    accum_ahead_t *ka = a && a->accum >= 0 ? &st->accums[a->accum] : NULL;
    mc_accum_t acc;
    if (ka) {
        acc.ytd_deductible_fen = ka->base.ytd_deductible_fen + ka->added.ytd_deductible_fen;
        acc.ytd_fund_paid_fen = ka->base.ytd_fund_paid_fen + ka->added.ytd_fund_paid_fen;
        acc.ytd_tier2_paid_fen = ka->base.ytd_tier2_paid_fen + ka->added.ytd_tier2_paid_fen;
        if (c->kind == MEDCLEAR__KIND__SETTLE)
            snprintf(o->settlement_id, sizeof(o->settlement_id), "S%s%s", c->insuring_region,
                     a->number);
    } else {
        mc_params_t p;
        mc_params_init(&p);
        mc_p_str(&p, c->person_id);
        mc_p_int(&p, year);
        mc_p_str(&p, cap_group);
        mc_p_bool(&p, c->kind == MEDCLEAR__KIND__SETTLE);
        mc_p_str(&p, c->insuring_region);
        own = mc_db_run(db,
                        "SELECT a.ytd_deductible_fen, a.ytd_fund_paid_fen, a.ytd_tier2_paid_fen, "
                        "CASE WHEN $4::boolean THEN 'S' || $5 || "
                        "lpad(nextval('insuring.settlement_seq')::text, 12, '0') END "
                        "FROM (SELECT 1) AS one LEFT JOIN insuring.accumulators a "
                        "ON a.person_id = $1 AND a.year = $2 AND a.cap_group = $3",
                        &p);
        if (!own)
            return MC_ERR_DB;
        acc.ytd_deductible_fen = mc_db_int(own, 0, 0); /* 0 when NULL: no row yet */
        acc.ytd_fund_paid_fen = mc_db_int(own, 0, 1);
        acc.ytd_tier2_paid_fen = mc_db_int(own, 0, 2);
        snprintf(o->settlement_id, sizeof(o->settlement_id), "%s", mc_db_str(own, 0, 3));
        PQclear(own);
        own = NULL;
    }

    o->reason = mc_policy_pay(&pol, o->reg, c->hospital_level, c->totals->total_fen,
                              c->totals->in_scope_fen, &acc, balance, &o->pay);
    if (o->reason != MC_OK) {
        snprintf(o->text, sizeof(o->text), "policy %s cannot be applied to this claim",
                 o->policy_version);
        goto out;
    }
    if (c->kind != MEDCLEAR__KIND__SETTLE)
        goto out; /* PRESETTLE: the same computation, nothing committed */

    mc_accum_t before = acc;
    int64_t new_balance = balance;
    mc_policy_apply(&pol, &o->pay, +1, &acc, &new_balance);
    if (ka) { /* written with the batch's others by the flush hook (write_spent()) */
        ka->added.ytd_deductible_fen += acc.ytd_deductible_fen - before.ytd_deductible_fen;
        ka->added.ytd_fund_paid_fen += acc.ytd_fund_paid_fen - before.ytd_fund_paid_fen;
        ka->added.ytd_tier2_paid_fen += acc.ytd_tier2_paid_fen - before.ytd_tier2_paid_fen;
        ka->touched = true;
        pa->drawn += balance - new_balance;
        goto out;
    }
    mc_params_t p;
    mc_params_init(&p);
    mc_p_str(&p, c->person_id);
    mc_p_int(&p, year);
    mc_p_str(&p, cap_group);
    mc_p_int(&p, acc.ytd_deductible_fen - before.ytd_deductible_fen);
    mc_p_int(&p, acc.ytd_fund_paid_fen - before.ytd_fund_paid_fen);
    mc_p_int(&p, acc.ytd_tier2_paid_fen - before.ytd_tier2_paid_fen);
    mc_p_int(&p, balance - new_balance);
    /* Sent without waiting (a pipelined batch): the person's lock is held, and the next
     * statement of this claim or of another of this person runs after it. The person's
     * row is written only when the claim draws on the account. */
    if (!mc_db_defer(db,
                     "WITH a AS (INSERT INTO insuring.accumulators AS a (person_id, year, "
                     "cap_group, ytd_deductible_fen, ytd_fund_paid_fen, ytd_tier2_paid_fen) "
                     "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (person_id, year, cap_group) "
                     "DO UPDATE SET ytd_deductible_fen = a.ytd_deductible_fen + $4, "
                     "ytd_fund_paid_fen = a.ytd_fund_paid_fen + $5, "
                     "ytd_tier2_paid_fen = a.ytd_tier2_paid_fen + $6) "
                     "UPDATE insuring.persons SET account_balance_fen = account_balance_fen - $7 "
                     "WHERE person_id = $1 AND $7::bigint <> 0",
                     &p))
        return MC_ERR_DB;
out:
    PQclear(own);
    return MC_ERR_OK;
}

/*
 * Undoes a settlement (CANCEL or REVERSE claim): restores exactly the accumulator and
 * account changes the settlement made, marks it CANCELLED and fills o with the negated
 * amounts. Rejections are left in o->reason. Returns MC_ERR_DB on a database error.
 */
static mc_err_t undo(PGconn *db, const Medclear__Claim *c, outcome_t *o)
{
    mc_err_t err = MC_ERR_OK;
    mc_params_t p;
    mc_params_init(&p);
    mc_p_str(&p, c->person_id);
    mc_p_str(&p, c->insuring_region);
    /* The person first, in the same order as a settle, so the two never deadlock. */
    PGresult *res = mc_db_run(db,
                              "SELECT 1 FROM insuring.persons WHERE person_id = $1 AND region = $2 "
                              "FOR UPDATE",
                              &p);
    if (!res)
        return MC_ERR_DB;
    bool known = PQntuples(res) == 1;
    PQclear(res);
    if (!known) {
        o->reason = MC_R_UNKNOWN_PERSON;
        snprintf(o->text, sizeof(o->text), "person \"%s\" is not insured in region %s",
                 c->person_id, c->insuring_region);
        return MC_ERR_OK;
    }
    mc_params_init(&p);
    mc_p_str(&p, c->settlement_id);
    mc_p_str(&p, c->person_id);
    res = mc_db_run(db,
                    "SELECT status, total_fen, deductible_scope, deductible_fen, fund_fen, "
                    "tier2_fen, account_fen, cash_fen, year, cap_group, coalesce(policy_version, ''), "
                    "registration_type, ratio_bp FROM insuring.settlements WHERE settlement_id = $1 "
                    "AND person_id = $2 AND kind = 'SETTLE' FOR UPDATE",
                    &p);
    if (!res)
        return MC_ERR_DB;
    if (PQntuples(res) == 0) {
        o->reason = MC_R_UNKNOWN_SETTLEMENT;
        snprintf(o->text, sizeof(o->text), "no settlement \"%s\" of person %s", c->settlement_id,
                 c->person_id);
        goto out;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "SETTLED") != 0) {
        o->reason = MC_R_ALREADY_CANCELLED;
        snprintf(o->text, sizeof(o->text), "settlement \"%s\" is %s", c->settlement_id,
                 PQgetvalue(res, 0, 0));
        goto out;
    }
    if (mc_db_int(res, 0, 1) != -c->totals->total_fen) {
        o->reason = MC_R_AMOUNT_MISMATCH;
        snprintf(o->text, sizeof(o->text),
                 "undo total %" PRId64 " is not the negated settlement total %" PRId64,
                 c->totals->total_fen, mc_db_int(res, 0, 1));
        goto out;
    }

    /* The same pure rule that applied the settlement, with sign -1. */
    mc_policy_t pol;
    memset(&pol, 0, sizeof(pol));
    pol.deductible_scope =
        strcmp(PQgetvalue(res, 0, 2), "PER_YEAR") == 0 ? MC_DED_PER_YEAR : MC_DED_PER_VISIT;
    mc_payment_t orig;
    memset(&orig, 0, sizeof(orig));
    orig.deductible_fen = mc_db_int(res, 0, 3);
    orig.fund_fen = mc_db_int(res, 0, 4);
    orig.tier2_fen = mc_db_int(res, 0, 5);
    orig.account_fen = mc_db_int(res, 0, 6);
    orig.cash_fen = mc_db_int(res, 0, 7);
    mc_accum_t delta = {0, 0, 0};
    int64_t balance_delta = 0;
    mc_policy_apply(&pol, &orig, -1, &delta, &balance_delta);

    o->year = (int)mc_db_int(res, 0, 8);
    snprintf(o->cap_group, sizeof(o->cap_group), "%s", PQgetvalue(res, 0, 9));
    snprintf(o->policy_version, sizeof(o->policy_version), "%s", PQgetvalue(res, 0, 10));
    mc_reg_type_parse(PQgetvalue(res, 0, 11), &o->reg);
    o->scope = pol.deductible_scope;
    snprintf(o->undoes, sizeof(o->undoes), "%s", c->settlement_id);
    o->pay.total_fen = c->totals->total_fen;
    o->pay.deductible_fen = -orig.deductible_fen;
    o->pay.ratio_bp = (int32_t)mc_db_int(res, 0, 12);
    o->pay.fund_fen = -orig.fund_fen;
    o->pay.tier2_fen = -orig.tier2_fen;
    o->pay.account_fen = -orig.account_fen;
    o->pay.cash_fen = -orig.cash_fen;
    o->pay.person_fen = -(orig.account_fen + orig.cash_fen);
    PQclear(res);
    res = NULL;

    mc_params_init(&p);
    mc_p_str(&p, c->person_id);
    mc_p_int(&p, o->year);
    mc_p_str(&p, o->cap_group);
    mc_p_int(&p, delta.ytd_deductible_fen);
    mc_p_int(&p, delta.ytd_fund_paid_fen);
    mc_p_int(&p, delta.ytd_tier2_paid_fen);
    mc_p_int(&p, balance_delta);
    mc_p_str(&p, c->settlement_id);
    mc_p_str(&p, c->insuring_region);
    res = mc_db_run(db,
                    "WITH a AS (UPDATE insuring.accumulators SET "
                    "ytd_deductible_fen = ytd_deductible_fen + $4, "
                    "ytd_fund_paid_fen = ytd_fund_paid_fen + $5, "
                    "ytd_tier2_paid_fen = ytd_tier2_paid_fen + $6 "
                    "WHERE person_id = $1 AND year = $2 AND cap_group = $3 RETURNING 1), "
                    "b AS (UPDATE insuring.persons SET account_balance_fen = "
                    "account_balance_fen + $7 WHERE person_id = $1 RETURNING 1), "
                    "s AS (UPDATE insuring.settlements SET status = 'CANCELLED' "
                    "WHERE settlement_id = $8 RETURNING 1) "
                    "SELECT 'S' || $9 || lpad(nextval('insuring.settlement_seq')::text, 12, '0') "
                    "FROM a, b, s",
                    &p);
    if (!res)
        return MC_ERR_DB;
    if (PQntuples(res) != 1) {
        /* The accumulator row of a settlement always exists; its absence is corruption. */
        mc_error("settlement %s has no accumulator row to undo", c->settlement_id);
        err = MC_ERR_DB;
        goto out;
    }
    snprintf(o->settlement_id, sizeof(o->settlement_id), "%s", PQgetvalue(res, 0, 0));
out:
    if (res)
        PQclear(res);
    return err;
}

/* Records the outcome of a claim, accepted or not, as its settlement row, and posts the
 * fund amount of a settled one (negative for an undo) to the ledger. */
static mc_err_t record(mc_msg_ctx_t *ctx, mc_rows_t *rows, const Medclear__Claim *c,
                       const outcome_t *o)
{
    char visit_date[11];
    mc_date_format(mc_date_valid(c->visit_date) ? c->visit_date : 19000101, visit_date);
    const char *status = o->reason != MC_OK                      ? "REJECTED"
                         : c->kind == MEDCLEAR__KIND__PRESETTLE ? "COMPUTED"
                                                                : "SETTLED";
    bool settled = o->reason == MC_OK && c->kind != MEDCLEAR__KIND__PRESETTLE;
    mc_rows_str(rows, SET_CLAIM_ID, c->claim_id);
    mc_rows_str(rows, SET_REQUEST_ID, c->request_id);
    mc_rows_str(rows, SET_KIND, mc_kind_code(c->kind));
    mc_rows_str(rows, SET_PERSON, c->person_id);
    mc_rows_str(rows, SET_INSURING, c->insuring_region);
    mc_rows_str(rows, SET_TREATING, c->treating_region);
    mc_rows_str(rows, SET_HOSPITAL, c->hospital_code);
    mc_rows_int(rows, SET_LEVEL, c->hospital_level);
    mc_rows_str(rows, SET_VISIT_TYPE, mc_visit_code(c->visit_type));
    mc_rows_str(rows, SET_VISIT_DATE, visit_date);
    mc_rows_str(rows, SET_STATUS, status);
    mc_rows_str(rows, SET_REASON, o->reason != MC_OK ? mc_reason_code(o->reason) : NULL);
    mc_rows_str(rows, SET_POLICY_VERSION, o->policy_version[0] ? o->policy_version : NULL);
    mc_rows_str(rows, SET_REG_TYPE, o->reason == MC_OK ? mc_reg_type_code(o->reg) : NULL);
    mc_rows_int(rows, SET_TOTAL, c->totals ? c->totals->total_fen : 0);
    mc_rows_int(rows, SET_IN_SCOPE, c->totals ? c->totals->in_scope_fen : 0);
    mc_rows_int(rows, SET_DEDUCTIBLE, o->pay.deductible_fen);
    mc_rows_int(rows, SET_RATIO, o->pay.ratio_bp);
    mc_rows_int(rows, SET_FUND, o->pay.fund_fen);
    mc_rows_int(rows, SET_TIER2, o->pay.tier2_fen);
    mc_rows_int(rows, SET_ACCOUNT, o->pay.account_fen);
    mc_rows_int(rows, SET_CASH, o->pay.cash_fen);
    mc_rows_str(rows, SET_SETTLEMENT_ID, settled ? o->settlement_id : NULL);
    if (settled)
        mc_rows_int(rows, SET_YEAR, o->year);
    else
        mc_rows_str(rows, SET_YEAR, NULL);
    mc_rows_str(rows, SET_CAP_GROUP, settled ? o->cap_group : NULL);
    mc_rows_str(rows, SET_SCOPE,
                settled ? (o->scope == MC_DED_PER_YEAR ? "PER_YEAR" : "PER_VISIT") : NULL);
    mc_rows_str(rows, SET_UNDOES, settled && o->undoes[0] ? o->undoes : NULL);
    mc_rows_next(rows, c->claim_id);
    if (settled) /* an undo names it so */
        mc_rows_key(rows, o->settlement_id);
    /* A settled claim books its fund expense, owed to the treating region. */
    if (settled) {
        char dr[96], cr[96]; /* the region was checked against the envelope's */
        snprintf(dr, sizeof(dr), "fund_expense:%s", c->treating_region);
        snprintf(cr, sizeof(cr), "payable:%s", c->treating_region);
        mc_ctx_post(ctx, c->claim_id, dr, "EXPENSE", cr, "LIABILITY",
                    o->pay.fund_fen + o->pay.tier2_fen);
    }
    return MC_ERR_OK;
}

static mc_err_t on_claim(mc_msg_ctx_t *ctx, insuring_state_t *st, const Medclear__Envelope *env)
{
    mc_rows_t *rows = st->rows;
    const Medclear__Claim *c = env->claim;
    const mc_config_t *cfg = mc_ctx_config(ctx);
    PGconn *db = mc_ctx_db(ctx);
    const char *party = mc_topic_party(mc_ctx_topic(ctx));
    char text[320], own[7];

    if (!mc_valid_id(c->claim_id, MC_ID_MAX))
        return mc_ctx_dead_letter(ctx, MC_R_BAD_REQUEST, "claim_id missing or malformed");
    if (!mc_valid_region(c->insuring_region)) {
        snprintf(text, sizeof(text), "insuring_region \"%.8s\" is not a region code",
                 c->insuring_region);
        return mc_ctx_dead_letter(ctx, MC_R_UNKNOWN_REGION, text);
    }
    mc_party_of(c->insuring_region, strcmp(cfg->scope, "national") == 0, own);
    if (strcmp(own, party) != 0 || !mc_config_serves(cfg, c->insuring_region)) {
        snprintf(text, sizeof(text), "claim for region %s arrived on the topic of party %s",
                 c->insuring_region, party);
        return mc_ctx_dead_letter(ctx, MC_R_UNKNOWN_REGION, text);
    }
    if (strcmp(env->source_region, c->treating_region) != 0) {
        snprintf(text, sizeof(text), "claim of treating region %.8s sent by region %s",
                 c->treating_region, env->source_region);
        return mc_ctx_dead_letter(ctx, MC_R_BAD_REQUEST, text);
    }

    /* A claim id already adjudicated (resent by the centre): its result again. */
    claim_ahead_t *a = claim_ahead(st, env->message_id);
    bool seen;
    if (a && a->seen_valid) {
        seen = a->seen;
    } else {
        if (mc_ctx_flush_rows_holding(ctx, rows, c->claim_id) != MC_ERR_OK)
            return MC_ERR_DB;
        mc_params_t p;
        mc_params_init(&p);
        mc_p_str(&p, c->claim_id);
        PGresult *res = mc_db_run(db, "SELECT 1 FROM insuring.settlements WHERE claim_id = $1", &p);
        if (!res)
            return MC_ERR_DB;
        seen = PQntuples(res) > 0;
        PQclear(res);
    }
    if (seen) {
        char topic[128];
        bool found;
        mc_bus_topic(cfg, topic, sizeof(topic), "results");
        return mc_ctx_reemit(ctx, topic, c->claim_id, &found);
    }

    outcome_t o;
    memset(&o, 0, sizeof(o));
    /* A claim read ahead passed the same check there (claims that fail it are left out). */
    o.reason = a ? MC_OK : mc_msg_check_claim(c, o.text, sizeof(o.text));
    bool is_undo = c->kind == MEDCLEAR__KIND__CANCEL || c->kind == MEDCLEAR__KIND__REVERSE;
    /* An undo reads and changes the settlement it undoes, which may be the batch's, and
     * the person's accumulators and account: what the batch holds of them is written
     * first (rare: the agency learns a settlement id from the reply sent after its
     * batch), and the batch's later claims of the person read them again. */
    if (o.reason == MC_OK && is_undo) {
        if ((spent_pending(st, c->person_id) && write_spent(ctx, st) != MC_ERR_OK) ||
            mc_ctx_flush_rows_holding(ctx, rows, c->settlement_id) != MC_ERR_OK ||
            undo(db, c, &o) != MC_ERR_OK)
            return MC_ERR_DB;
        person_ahead_t *pa = person_ahead(st, c->person_id);
        if (pa)
            pa->stale = true;
    } else if (o.reason == MC_OK && adjudicate(db, st, a, c, &o) != MC_ERR_OK) {
        return MC_ERR_DB;
    }
    mc_err_t err = record(ctx, rows, c, &o);
    if (err != MC_ERR_OK)
        return err;
    if (o.reason != MC_OK)
        mc_debug("claim %s rejected: %s: %s", c->claim_id, mc_reason_code(o.reason), o.text);
    return emit_result(ctx, env, c, &o);
}

mc_err_t insuring_handle(mc_msg_ctx_t *ctx, const Medclear__Envelope *env, void *opaque)
{
    if (env->body_case != MEDCLEAR__ENVELOPE__BODY_CLAIM)
        return mc_ctx_dead_letter(ctx, MC_R_UNKNOWN_TYPE, "claim topics carry claims only");
    return on_claim(ctx, opaque, env);
}
