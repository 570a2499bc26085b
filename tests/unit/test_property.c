/*
 * Property test of the fee split and the payment rules together (DESIGN.md 5.1 and 5.2).
 * Table tests pin chosen examples; this one throws a large number of random claims at the
 * same code and checks the invariants that must hold for every claim whatever the numbers:
 * the parts of a line add up to it, nothing is negative, the four payers add up to the
 * total, the funds never pay beyond what their caps leave, and accumulators (carried from
 * claim to claim per person and calendar year, as the insuring service does) always equal
 * the sums of their claims, also after a random subset of claims is cancelled.
 *
 * The generator is a fixed-seed xorshift64* so that a failure can be replayed: the seed is
 * printed, and MC_PROPERTY_SEED=<n> reruns it. MC_PROPERTY_CLAIMS=<n> changes the number of
 * claims (default 100000).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CUnit/Basic.h>

#include "mc_money.h"
#include "mc_policy.h"
#include "mc_split.h"

#define DEFAULT_SEED UINT64_C(0x6d63636c65617221) /* "mcclear!" */
#define DEFAULT_CLAIMS 100000
#define N_ITEMS 256
#define N_POLICIES 16
#define N_PERSONS 256
#define N_YEARS 4
#define MAX_LINES 30
#define MAX_REPORTED 20

/* ---- deterministic generator ------------------------------------------------------------ */

static uint64_t rng_state;

/* xorshift64* (Vigna): small, fast, and identical on every platform. */
static uint64_t rng_next(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * UINT64_C(0x2545F4914F6CDD1D);
}

/* Uniform in lo..hi inclusive; the modulo bias is irrelevant for a test generator. */
static int64_t rng_range(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rng_next() % (uint64_t)(hi - lo + 1));
}

static bool rng_chance(int percent) { return rng_range(1, 100) <= percent; }

/* Spread over orders of magnitude, so that both tiny and large amounts are common. */
static int64_t rng_log(int min_digits, int max_digits)
{
    int64_t top = 1;
    for (int d = (int)rng_range(min_digits, max_digits); d > 0; d--)
        top *= 10;
    return rng_range(0, top);
}

/* ---- failure reporting ------------------------------------------------------------------ */

static uint64_t seed;
static long failures, checks;

/*
 * A broken invariant would otherwise fail on most of 100000 claims; report the first few
 * to CUnit with the claim number and seed needed to replay them, and count the rest.
 */
#define PROP(cond, claim, what)                                                             \
    do {                                                                                    \
        checks++;                                                                           \
        if (!(cond)) {                                                                      \
            if (failures++ < MAX_REPORTED) {                                                \
                fprintf(stderr, "\n  seed %" PRIu64 " claim %ld: %s: %s", seed,             \
                        (long)(claim), (what), #cond);                                      \
                CU_assertImplementation(CU_FALSE, __LINE__, #cond, __FILE__, "", CU_FALSE); \
            }                                                                               \
        }                                                                                   \
    } while (0)

/* ---- random world ------------------------------------------------------------------------ */

struct item {
    bool in_catalog;
    mc_catalog_item_t item;
};

static struct item items[N_ITEMS];
static mc_policy_t policies[N_POLICIES];

static void make_items(void)
{
    for (int i = 0; i < N_ITEMS; i++) {
        struct item *it = &items[i];
        memset(it, 0, sizeof(*it));
        it->in_catalog = !rng_chance(10);
        it->item.cls = (mc_item_class_t)rng_range(MC_CLASS_A, MC_CLASS_C);
        if (it->item.cls == MC_CLASS_B) {
            /* The bounds themselves are frequent on purpose. */
            int64_t r = rng_range(0, 9);
            it->item.self_pay_first_bp = r == 0 ? 0 : r == 1 ? 10000 : (int32_t)rng_range(1, 9999);
        }
        if (rng_chance(40))
            it->item.price_ceiling_fen = rng_log(1, 5) + 1;
    }
}

static int32_t random_bp(void)
{
    int64_t r = rng_range(0, 9);
    if (r == 0)
        return 0;
    if (r == 1)
        return 10000;
    if (r < 4)
        return (int32_t)rng_range(0, 2500); /* low ratios, reduced to zero by registrations */
    return (int32_t)rng_range(5000, 9500);
}

static void make_policies(void)
{
    for (int i = 0; i < N_POLICIES; i++) {
        mc_policy_t *p = &policies[i];
        memset(p, 0, sizeof(*p));
        p->deductible_fen = rng_chance(20) ? 0 : rng_log(2, 6);
        p->deductible_scope = rng_chance(50) ? MC_DED_PER_YEAR : MC_DED_PER_VISIT;
        for (int l = 0; l < 3; l++)
            p->ratio_bp[l] = random_bp();
        p->annual_cap_fen = rng_log(4, 9);
        p->tier2_ratio_bp = random_bp();
        p->tier2_cap_fen = rng_log(4, 9);
        p->account_allowed = rng_chance(50);
        /* The real bounds: long-term 0, referral and emergency <= 10, other <= 20 points. */
        p->reduction_bp[MC_REG_NONE] = 0;
        p->reduction_bp[MC_REG_LONG_TERM] = 0;
        p->reduction_bp[MC_REG_TEMP_REFERRAL] = (int32_t)rng_range(0, 1000);
        p->reduction_bp[MC_REG_TEMP_EMERGENCY] = (int32_t)rng_range(0, 1000);
        p->reduction_bp[MC_REG_TEMP_OTHER] = (int32_t)rng_range(0, 2000);
    }
}

/* round_half_up(q x p / 1000), written out independently of mc_money.h. */
static int64_t line_amount(int64_t q, int64_t p) { return (q * p + 500) / 1000; }

/* Mostly everyday lines (a few units at up to 1000 yuan), sometimes a very large one. */
static void make_line(mc_fee_line_t *l)
{
    int64_t r = rng_range(0, 9);
    if (r < 3)
        l->quantity_milli = rng_range(0, 20) * 1000;
    else if (r < 9)
        l->quantity_milli = rng_range(1, 10000);
    else
        l->quantity_milli = rng_log(1, 6);
    l->unit_price_fen = rng_chance(95) ? rng_log(1, 5) : rng_log(5, 7);
    l->amount_fen = line_amount(l->quantity_milli, l->unit_price_fen);
}

/* ---- the run --------------------------------------------------------------------------- */

struct person {
    mc_accum_t acc[N_YEARS];
    int64_t balance0;
    int64_t balance;
};

struct claim {
    int person, year, policy;
    bool cancelled;
    mc_payment_t pay;
};

struct stats {
    long lines, mismatches, below_cap, crossing_cap, above_cap, tier2_capped, ratio_zero,
        account_used;
};

static long claims_wanted(void)
{
    const char *s = getenv("MC_PROPERTY_CLAIMS");
    long n = s != NULL ? strtol(s, NULL, 0) : DEFAULT_CLAIMS;
    return n > 0 ? n : DEFAULT_CLAIMS;
}

/* One claim: split random lines, check the split, pay, check the payment, apply it. */
static void run_claim(long ci, long n_claims, struct person *persons, struct claim *c,
                      struct stats *st)
{
    c->person = (int)rng_range(0, N_PERSONS - 1);
    /* Claims arrive in time order, so each year starts with fresh (zero) accumulators. */
    c->year = (int)(ci * N_YEARS / n_claims);
    c->policy = (int)rng_range(0, N_POLICIES - 1);
    c->cancelled = false;
    const mc_policy_t *pol = &policies[c->policy];
    struct person *who = &persons[c->person];
    mc_accum_t *acc = &who->acc[c->year];

    int n = (int)rng_range(1, MAX_LINES);
    mc_split_total_t total;
    memset(&total, 0, sizeof(total));
    int64_t sum_amount = 0, sum_in_scope = 0;
    for (int i = 0; i < n; i++) {
        mc_fee_line_t line;
        make_line(&line);
        st->lines++;
        /* Now and then a hospital's arithmetic is one fen off: it must be refused. */
        if (rng_chance(2)) {
            mc_fee_line_t bad = line;
            bad.amount_fen += rng_chance(50) || bad.amount_fen == 0 ? 1 : -1;
            PROP(mc_split_check_line(&bad) == MC_R_AMOUNT_MISMATCH, ci, "one fen off accepted");
            st->mismatches++;
        }
        PROP(mc_split_check_line(&line) == MC_OK, ci, "valid line refused");

        const struct item *it = &items[rng_range(0, N_ITEMS - 1)];
        mc_line_split_t s;
        mc_reason_t r = mc_split_line(&line, it->in_catalog ? &it->item : NULL, &s);
        PROP(r == MC_OK, ci, "split refused");
        if (r != MC_OK)
            return;
        PROP(s.amount_fen == line.amount_fen, ci, "split amount");
        PROP(s.full_self_pay_fen >= 0 && s.over_limit_fen >= 0 && s.self_pay_first_fen >= 0 &&
                 s.in_scope_fen >= 0,
             ci, "negative split part");
        PROP(s.full_self_pay_fen + s.over_limit_fen + s.self_pay_first_fen + s.in_scope_fen ==
                 s.amount_fen,
             ci, "split parts do not add up to the line");
        if (!it->in_catalog || it->item.cls == MC_CLASS_C)
            PROP(s.full_self_pay_fen == s.amount_fen, ci, "uncovered line not self-paid");
        if (it->in_catalog && it->item.cls == MC_CLASS_A)
            PROP(s.self_pay_first_fen == 0 && s.full_self_pay_fen == 0, ci, "class A line");
        if (it->in_catalog && it->item.price_ceiling_fen == 0)
            PROP(s.over_limit_fen == 0, ci, "over limit without ceiling");
        PROP(mc_split_add(&total, &s) == MC_OK, ci, "split add refused");
        sum_amount += s.amount_fen;
        sum_in_scope += s.in_scope_fen;
    }
    PROP(total.total_fen == sum_amount, ci, "claim total");
    PROP(total.in_scope_fen == sum_in_scope, ci, "claim in scope");
    PROP(total.full_self_pay_fen + total.over_limit_fen + total.self_pay_first_fen +
                 total.in_scope_fen ==
             total.total_fen,
         ci, "claim parts do not add up");

    mc_reg_type_t reg = (mc_reg_type_t)rng_range(MC_REG_NONE, MC_REG_TEMP_OTHER);
    int level = (int)rng_range(1, 3);
    mc_accum_t before = *acc;
    int64_t cap_left = mc_max64(0, pol->annual_cap_fen - before.ytd_fund_paid_fen);
    int64_t tier2_left = mc_max64(0, pol->tier2_cap_fen - before.ytd_tier2_paid_fen);

    mc_payment_t *p = &c->pay;
    mc_reason_t r = mc_policy_pay(pol, reg, level, total.total_fen, total.in_scope_fen, acc,
                                  who->balance, p);
    PROP(r == MC_OK, ci, "payment refused");
    if (r != MC_OK) {
        memset(p, 0, sizeof(*p));
        return;
    }
    int64_t T = total.total_fen;
    PROP(p->total_fen == T && p->in_scope_fen == total.in_scope_fen, ci, "payment echoes");
    PROP(p->deductible_fen >= 0 && p->eligible_fen >= 0 && p->ratio_bp >= 0 && p->fund_fen >= 0 &&
             p->above_cap_fen >= 0 && p->tier2_fen >= 0 && p->person_fen >= 0 &&
             p->account_fen >= 0 && p->cash_fen >= 0,
         ci, "negative payment part");
    PROP(p->fund_fen + p->tier2_fen + p->account_fen + p->cash_fen == T, ci,
         "payers do not add up to the total");
    PROP(p->person_fen == T - p->fund_fen - p->tier2_fen, ci, "person burden");
    PROP(p->deductible_fen + p->eligible_fen == p->in_scope_fen, ci, "deductible + eligible");
    PROP(p->fund_fen <= cap_left, ci, "fund beyond cap");
    PROP(p->tier2_fen <= tier2_left, ci, "tier 2 beyond its cap");
    PROP(p->fund_fen + p->tier2_fen <= p->eligible_fen, ci, "funds beyond eligible");
    PROP(p->account_fen <= who->balance, ci, "account beyond balance");
    if (!pol->account_allowed)
        PROP(p->account_fen == 0, ci, "account not allowed");
    if (p->ratio_bp == 0)
        PROP(p->fund_fen == 0 && p->tier2_fen == 0, ci, "ratio 0 paid");

    if (p->ratio_bp == 0)
        st->ratio_zero++;
    else if (p->above_cap_fen == 0)
        st->below_cap++;
    else if (p->fund_fen > 0)
        st->crossing_cap++;
    else
        st->above_cap++;
    if (p->tier2_fen > 0 && p->tier2_fen == tier2_left)
        st->tier2_capped++;
    if (p->account_fen > 0)
        st->account_used++;

    mc_policy_apply(pol, p, +1, acc, &who->balance);
}

/* Accumulators and balances must equal the sums of the claims not cancelled. */
static void check_sums(const struct person *persons, const struct claim *claims, long n,
                       const char *when)
{
    static mc_accum_t want[N_PERSONS][N_YEARS];
    static int64_t account[N_PERSONS];
    memset(want, 0, sizeof(want));
    memset(account, 0, sizeof(account));
    for (long i = 0; i < n; i++) {
        const struct claim *c = &claims[i];
        if (c->cancelled)
            continue;
        mc_accum_t *w = &want[c->person][c->year];
        if (policies[c->policy].deductible_scope == MC_DED_PER_YEAR)
            w->ytd_deductible_fen += c->pay.deductible_fen;
        w->ytd_fund_paid_fen += c->pay.fund_fen;
        w->ytd_tier2_paid_fen += c->pay.tier2_fen;
        account[c->person] += c->pay.account_fen;
    }
    for (int p = 0; p < N_PERSONS; p++) {
        for (int y = 0; y < N_YEARS; y++) {
            const mc_accum_t *got = &persons[p].acc[y];
            PROP(got->ytd_deductible_fen == want[p][y].ytd_deductible_fen, -1, when);
            PROP(got->ytd_fund_paid_fen == want[p][y].ytd_fund_paid_fen, -1, when);
            PROP(got->ytd_tier2_paid_fen == want[p][y].ytd_tier2_paid_fen, -1, when);
        }
        PROP(persons[p].balance == persons[p].balance0 - account[p], -1, when);
    }
}

static void test_random_claims(void)
{
    long n = claims_wanted();
    struct claim *claims = calloc((size_t)n, sizeof(*claims));
    long *order = calloc((size_t)n, sizeof(*order));
    CU_ASSERT_FATAL(claims != NULL && order != NULL);
    static struct person persons[N_PERSONS];
    struct stats st;
    memset(&st, 0, sizeof(st));
    memset(persons, 0, sizeof(persons));

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    make_items();
    make_policies();
    for (int i = 0; i < N_POLICIES; i++)
        PROP(mc_policy_check(&policies[i]) == MC_OK, -1, "generated policy invalid");
    for (int i = 0; i < N_PERSONS; i++) {
        persons[i].balance0 = rng_chance(20) ? 0 : rng_log(4, 8);
        persons[i].balance = persons[i].balance0;
    }

    for (long i = 0; i < n; i++)
        run_claim(i, n, persons, &claims[i], &st);
    check_sums(persons, claims, n, "accumulators after settles");

    /* Cancel about a third of the claims, in shuffled order (Fisher-Yates). */
    for (long i = 0; i < n; i++)
        order[i] = i;
    for (long i = n - 1; i > 0; i--) {
        long j = (long)rng_range(0, i);
        long t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    long cancelled = 0;
    for (long k = 0; k < n; k++) {
        struct claim *c = &claims[order[k]];
        if (!rng_chance(33))
            continue;
        mc_policy_apply(&policies[c->policy], &c->pay, -1, &persons[c->person].acc[c->year],
                        &persons[c->person].balance);
        c->cancelled = true;
        cancelled++;
    }
    check_sums(persons, claims, n, "accumulators after cancels");

    /* Cancelling the rest brings everything back to the start. */
    for (long i = 0; i < n; i++) {
        struct claim *c = &claims[i];
        if (c->cancelled)
            continue;
        mc_policy_apply(&policies[c->policy], &c->pay, -1, &persons[c->person].acc[c->year],
                        &persons[c->person].balance);
        c->cancelled = true;
    }
    check_sums(persons, claims, n, "accumulators after cancelling everything");

    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("property: seed %" PRIu64 ", %ld claims, %ld lines, %ld cancelled, %ld checks, "
           "%.3f s\n"
           "property: %ld below cap, %ld crossing cap, %ld above cap, %ld ratio 0, "
           "%ld tier 2 capped, %ld with account, %ld one-fen mismatches refused\n",
           seed, n, st.lines, cancelled, checks, secs, st.below_cap, st.crossing_cap, st.above_cap,
           st.ratio_zero, st.tier2_capped, st.account_used, st.mismatches);
    if (failures > 0)
        fprintf(stderr, "\nproperty: %ld invariant violations (seed %" PRIu64 ")\n", failures,
                seed);
    CU_ASSERT_EQUAL(failures, 0);
    free(order);
    free(claims);
}

int main(void)
{
    const char *s = getenv("MC_PROPERTY_SEED");
    seed = s != NULL && *s != '\0' ? strtoull(s, NULL, 0) : DEFAULT_SEED;
    /* xorshift has one fixed point, zero; any other state works. */
    rng_state = seed != 0 ? seed : DEFAULT_SEED;
    printf("property: seed %" PRIu64 " (set MC_PROPERTY_SEED to replay)\n", seed);

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite suite = CU_add_suite("property", NULL, NULL);
    if (suite == NULL ||
        !CU_add_test(suite, "random claims keep every invariant", test_random_claims)) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_NORMAL);
    CU_basic_run_tests();
    /* Read before cleanup: CU_cleanup_registry() resets the counters. */
    unsigned n_failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return n_failures == 0 ? 0 : 1;
}
