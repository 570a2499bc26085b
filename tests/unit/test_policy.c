/*
 * Unit tests of payment at the insuring region (mc_policy, DESIGN.md 5.2) and of the
 * stable codes of reasons and policy enums. Every expected payment below was worked out by
 * hand from the design's seven steps; the comments next to the harder rows show the
 * arithmetic, so a reviewer can redo it without running anything. Multi-claim sequences
 * feed the accumulators forward through mc_policy_apply() exactly as the insuring service
 * does, and then undo them to show a cancel restores the accumulators to the fen.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "mc_money.h"
#include "mc_policy.h"
#include "mc_reason.h"

#define MAX MC_MONEY_MAX

/* Prints the case and field of every mismatch: CUnit alone cannot name a table row. */
#define EXPECT_EQ(cname, what, got, want)                                                   \
    do {                                                                                    \
        long long got_ = (long long)(got), want_ = (long long)(want);                       \
        CU_ASSERT_EQUAL(got_, want_);                                                       \
        if (got_ != want_)                                                                  \
            fprintf(stderr, "\n  case \"%s\": %s = %lld, want %lld", (cname), (what), got_, \
                    want_);                                                                 \
    } while (0)

#define EXPECT_STR(cname, what, got, want)                                                  \
    do {                                                                                    \
        const char *got_ = (got), *want_ = (want);                                          \
        CU_ASSERT_STRING_EQUAL(got_, want_);                                                \
        if (strcmp(got_, want_) != 0)                                                       \
            fprintf(stderr, "\n  case \"%s\": %s = \"%s\", want \"%s\"", (cname), (what),   \
                    got_, want_);                                                           \
    } while (0)

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Registration-type reductions used by most fixtures: the design's defaults. */
#define DEFAULT_REDUCTIONS                                                                  \
    {[MC_REG_NONE] = 0, [MC_REG_LONG_TERM] = 0, [MC_REG_TEMP_REFERRAL] = 1000,             \
     [MC_REG_TEMP_EMERGENCY] = 1000, [MC_REG_TEMP_OTHER] = 2000}

/* Per-year deductible 10 yuan, ratios 90/80/70 %, small caps so that they are reached. */
static const mc_policy_t POL_A = {
    .deductible_fen = 1000,
    .deductible_scope = MC_DED_PER_YEAR,
    .ratio_bp = {9000, 8000, 7000},
    .annual_cap_fen = 100000,
    .tier2_ratio_bp = 8000,
    .tier2_cap_fen = 50000,
    .account_allowed = true,
    .reduction_bp = DEFAULT_REDUCTIONS,
};

/* Per-visit deductible 5 yuan, ratios 60/50/50 %, tier 2 at 50 %, no personal account. */
static const mc_policy_t POL_V = {
    .deductible_fen = 500,
    .deductible_scope = MC_DED_PER_VISIT,
    .ratio_bp = {6000, 5000, 5000},
    .annual_cap_fen = 30000,
    .tier2_ratio_bp = 5000,
    .tier2_cap_fen = 10000,
    .account_allowed = false,
    .reduction_bp = DEFAULT_REDUCTIONS,
};

/* Low ratios (15/10/20 %) that the temporary-registration reductions can bring to zero. */
static const mc_policy_t POL_Z = {
    .deductible_fen = 0,
    .deductible_scope = MC_DED_PER_YEAR,
    .ratio_bp = {1500, 1000, 2000},
    .annual_cap_fen = 100000,
    .tier2_ratio_bp = 8000,
    .tier2_cap_fen = 50000,
    .account_allowed = true,
    .reduction_bp = DEFAULT_REDUCTIONS,
};

/* 50 % everywhere, no deductible, caps at the maximum: isolates the half-fen rounding. */
static const mc_policy_t POL_H = {
    .deductible_fen = 0,
    .deductible_scope = MC_DED_PER_YEAR,
    .ratio_bp = {5000, 5000, 5000},
    .annual_cap_fen = MAX,
    .tier2_ratio_bp = 5000,
    .tier2_cap_fen = MAX,
    .account_allowed = true,
    .reduction_bp = {0},
};

/* Invalid: a ratio above 100 %. */
static const mc_policy_t POL_BAD = {
    .deductible_fen = 0,
    .deductible_scope = MC_DED_PER_YEAR,
    .ratio_bp = {10001, 5000, 5000},
    .annual_cap_fen = 100,
    .tier2_ratio_bp = 0,
    .tier2_cap_fen = 0,
    .account_allowed = false,
    .reduction_bp = {0},
};

/* total, in_scope, deductible, eligible, ratio, fund, above_cap, tier2, person, account, cash */
#define PAY(t, s, d, e, r, f, a, t2, p, ac, c)                                              \
    {(t), (s), (d), (e), (r), (f), (a), (t2), (p), (ac), (c)}
#define NOPAY PAY(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
#define ACC(d, f, t2) {(d), (f), (t2)}

static void expect_payment(const char *name, const mc_payment_t *got, const mc_payment_t *want)
{
    EXPECT_EQ(name, "total", got->total_fen, want->total_fen);
    EXPECT_EQ(name, "in_scope", got->in_scope_fen, want->in_scope_fen);
    EXPECT_EQ(name, "deductible", got->deductible_fen, want->deductible_fen);
    EXPECT_EQ(name, "eligible", got->eligible_fen, want->eligible_fen);
    EXPECT_EQ(name, "ratio", got->ratio_bp, want->ratio_bp);
    EXPECT_EQ(name, "fund", got->fund_fen, want->fund_fen);
    EXPECT_EQ(name, "above_cap", got->above_cap_fen, want->above_cap_fen);
    EXPECT_EQ(name, "tier2", got->tier2_fen, want->tier2_fen);
    EXPECT_EQ(name, "person", got->person_fen, want->person_fen);
    EXPECT_EQ(name, "account", got->account_fen, want->account_fen);
    EXPECT_EQ(name, "cash", got->cash_fen, want->cash_fen);
}

static void expect_accum(const char *name, const mc_accum_t *got, const mc_accum_t *want)
{
    EXPECT_EQ(name, "ytd_deductible", got->ytd_deductible_fen, want->ytd_deductible_fen);
    EXPECT_EQ(name, "ytd_fund_paid", got->ytd_fund_paid_fen, want->ytd_fund_paid_fen);
    EXPECT_EQ(name, "ytd_tier2_paid", got->ytd_tier2_paid_fen, want->ytd_tier2_paid_fen);
}

/* ---- mc_policy_pay: one claim ---------------------------------------------------------- */

struct pay_case {
    const char *name;
    const mc_policy_t *pol;
    mc_reg_type_t reg;
    int level;
    int64_t total, in_scope;
    mc_accum_t acc;
    int64_t balance;
    mc_reason_t want;
    mc_payment_t pay;
};

#define LT MC_REG_LONG_TERM
#define REF MC_REG_TEMP_REFERRAL
#define EMG MC_REG_TEMP_EMERGENCY
#define OTH MC_REG_TEMP_OTHER

static const struct pay_case pay_cases[] = {
    /* POL_A: deductible 1000 per year, 90/80/70 %, cap 100000, tier 2 80 % up to 50000. */
    /* 10000 - 1000 = 9000 eligible; 70 % = 6300 */
    {"long-term level 3: deductible then 70 percent", &POL_A, LT, 3, 12000, 10000, ACC(0, 0, 0), 0,
     MC_OK, PAY(12000, 10000, 1000, 9000, 7000, 6300, 0, 0, 5700, 0, 5700)},
    {"long-term level 1 at 90 percent, account larger than burden", &POL_A, LT, 1, 12000, 10000,
     ACC(0, 0, 0), 100000, MC_OK, PAY(12000, 10000, 1000, 9000, 9000, 8100, 0, 0, 3900, 3900, 0)},
    {"long-term level 2 at 80 percent, account smaller than burden", &POL_A, LT, 2, 12000, 10000,
     ACC(0, 0, 0), 2000, MC_OK, PAY(12000, 10000, 1000, 9000, 8000, 7200, 0, 0, 4800, 2000, 2800)},
    {"account exactly equal to burden", &POL_A, LT, 1, 12000, 10000, ACC(0, 0, 0), 3900, MC_OK,
     PAY(12000, 10000, 1000, 9000, 9000, 8100, 0, 0, 3900, 3900, 0)},
    {"account of one fen", &POL_A, LT, 1, 12000, 10000, ACC(0, 0, 0), 1, MC_OK,
     PAY(12000, 10000, 1000, 9000, 9000, 8100, 0, 0, 3900, 1, 3899)},
    {"temp referral reduces level 1 by 10 points", &POL_A, REF, 1, 12000, 10000, ACC(0, 0, 0), 0,
     MC_OK, PAY(12000, 10000, 1000, 9000, 8000, 7200, 0, 0, 4800, 0, 4800)},
    {"temp emergency reduces level 2 by 10 points", &POL_A, EMG, 2, 12000, 10000, ACC(0, 0, 0), 0,
     MC_OK, PAY(12000, 10000, 1000, 9000, 7000, 6300, 0, 0, 5700, 0, 5700)},
    {"temp other reduces level 3 by 20 points", &POL_A, OTH, 3, 12000, 10000, ACC(0, 0, 0), 0,
     MC_OK, PAY(12000, 10000, 1000, 9000, 5000, 4500, 0, 0, 7500, 0, 7500)},
    {"registration NONE uses reduction[NONE] of 0", &POL_A, MC_REG_NONE, 1, 12000, 10000,
     ACC(0, 0, 0), 0, MC_OK, PAY(12000, 10000, 1000, 9000, 9000, 8100, 0, 0, 3900, 0, 3900)},
    /* 1000 - 600 = 400 left; 9600 x 70 % = 6720 */
    {"per-year deductible partly used", &POL_A, LT, 3, 12000, 10000, ACC(600, 0, 0), 0, MC_OK,
     PAY(12000, 10000, 400, 9600, 7000, 6720, 0, 0, 5280, 0, 5280)},
    {"per-year deductible already met", &POL_A, LT, 3, 12000, 10000, ACC(1000, 0, 0), 0, MC_OK,
     PAY(12000, 10000, 0, 10000, 7000, 7000, 0, 0, 5000, 0, 5000)},
    {"ytd deductible above a lowered deductible", &POL_A, LT, 3, 12000, 10000, ACC(1500, 0, 0), 0,
     MC_OK, PAY(12000, 10000, 0, 10000, 7000, 7000, 0, 0, 5000, 0, 5000)},
    {"in-scope smaller than deductible", &POL_A, LT, 3, 900, 800, ACC(0, 0, 0), 0, MC_OK,
     PAY(900, 800, 800, 0, 7000, 0, 0, 0, 900, 0, 900)},
    {"nothing in scope", &POL_A, LT, 3, 5000, 0, ACC(0, 0, 0), 0, MC_OK,
     PAY(5000, 0, 0, 0, 7000, 0, 0, 0, 5000, 0, 5000)},
    {"empty claim", &POL_A, LT, 3, 0, 0, ACC(0, 0, 0), 100, MC_OK,
     PAY(0, 0, 0, 0, 7000, 0, 0, 0, 0, 0, 0)},
    /* cap_left 10000 < raw 31500; covered = min(45000, 10000 x 10000 / 7000 = 14285.7 -> 14285);
     * above = 30715; tier2 = 80 % = 24572 */
    {"cap exhausted inside claim, tier 2 takes over", &POL_A, LT, 3, 50000, 45000,
     ACC(1000, 90000, 0), 0, MC_OK,
     PAY(50000, 45000, 0, 45000, 7000, 10000, 30715, 24572, 15428, 0, 15428)},
    {"cap already exhausted: everything above cap", &POL_A, LT, 3, 20000, 20000,
     ACC(1000, 100000, 0), 10000, MC_OK,
     PAY(20000, 20000, 0, 20000, 7000, 0, 20000, 16000, 4000, 4000, 0)},
    {"ytd fund above a lowered cap clamps cap_left to 0", &POL_A, LT, 3, 20000, 20000,
     ACC(1000, 150000, 0), 0, MC_OK,
     PAY(20000, 20000, 0, 20000, 7000, 0, 20000, 16000, 4000, 0, 4000)},
    {"tier 2 cap exhausted inside claim", &POL_A, LT, 3, 20000, 20000, ACC(1000, 100000, 45000), 0,
     MC_OK, PAY(20000, 20000, 0, 20000, 7000, 0, 20000, 5000, 15000, 0, 15000)},
    {"tier 2 cap already exhausted", &POL_A, LT, 3, 20000, 20000, ACC(1000, 100000, 50000), 0,
     MC_OK, PAY(20000, 20000, 0, 20000, 7000, 0, 20000, 0, 20000, 0, 20000)},
    {"ytd tier 2 above a lowered tier 2 cap clamps to 0", &POL_A, LT, 3, 20000, 20000,
     ACC(1000, 100000, 60000), 0, MC_OK,
     PAY(20000, 20000, 0, 20000, 7000, 0, 20000, 0, 20000, 0, 20000)},
    {"raw exactly equal to cap_left: fund pays it all", &POL_A, LT, 3, 10000, 10000,
     ACC(1000, 93000, 0), 0, MC_OK, PAY(10000, 10000, 0, 10000, 7000, 7000, 0, 0, 3000, 0, 3000)},
    /* raw = 7001.4 -> 7001 == cap_left: the fund branch, so no above_cap. (Taking the cap
     * branch instead would give covered = 70010000 / 7000 = 10001 and above_cap 1.) */
    {"raw rounded down and equal to cap_left: no tier 2", &POL_A, LT, 3, 10002, 10002,
     ACC(1000, 92999, 0), 0, MC_OK, PAY(10002, 10002, 0, 10002, 7000, 7001, 0, 0, 3001, 0, 3001)},
    /* cap_left 6999 < raw 7000; covered = 69990000 / 7000 = 9998.57 -> 9998; above 2;
     * tier2 = 1.6 -> 2 */
    {"raw one fen above cap_left", &POL_A, LT, 3, 10000, 10000, ACC(1000, 93001, 0), 0, MC_OK,
     PAY(10000, 10000, 0, 10000, 7000, 6999, 2, 2, 2999, 0, 2999)},
    {"70 percent of 5 = 3.5 rounds to 4", &POL_A, LT, 3, 5, 5, ACC(1000, 0, 0), 0, MC_OK,
     PAY(5, 5, 0, 5, 7000, 4, 0, 0, 1, 0, 1)},
    {"70 percent of 2 = 1.4 rounds to 1", &POL_A, LT, 3, 2, 2, ACC(1000, 0, 0), 0, MC_OK,
     PAY(2, 2, 0, 2, 7000, 1, 0, 0, 1, 0, 1)},
    {"70 percent of 15 = 10.5 rounds to 11", &POL_A, LT, 3, 15, 15, ACC(1000, 0, 0), 0, MC_OK,
     PAY(15, 15, 0, 15, 7000, 11, 0, 0, 4, 0, 4)},
    /* covered = min(10^12, 10^9 / 9000 = 111111.1 -> 111111); above = 999999888889;
     * tier2 = min(799999911111, 50000) */
    {"maximum claim against small caps", &POL_A, LT, 1, MAX, MAX, ACC(1000, 0, 0), 0, MC_OK,
     PAY(MAX, MAX, 0, MAX, 9000, 100000, 999999888889, 50000, 999999850000, 0, 999999850000)},

    /* POL_V: deductible 500 per visit, 60/50/50 %, cap 30000, tier 2 50 % up to 10000,
     * personal account not allowed. */
    {"per-visit deductible ignores ytd deductible", &POL_V, LT, 1, 3000, 2000, ACC(99999, 0, 0),
     5000, MC_OK, PAY(3000, 2000, 500, 1500, 6000, 900, 0, 0, 2100, 0, 2100)},
    {"account not allowed: all cash despite balance", &POL_V, REF, 2, 3000, 2000, ACC(0, 0, 0),
     100000, MC_OK, PAY(3000, 2000, 500, 1500, 4000, 600, 0, 0, 2400, 0, 2400)},
    {"temp other at level 2: 50 - 20 = 30 percent", &POL_V, OTH, 2, 3000, 2000, ACC(0, 0, 0), 0,
     MC_OK, PAY(3000, 2000, 500, 1500, 3000, 450, 0, 0, 2550, 0, 2550)},
    /* cap_left 1000 < raw 6000; covered = 10^7 / 6000 = 1666.7 -> 1666; above 8334 */
    {"per-visit policy, cap exhausted inside claim", &POL_V, LT, 1, 10500, 10500,
     ACC(0, 29000, 0), 0, MC_OK,
     PAY(10500, 10500, 500, 10000, 6000, 1000, 8334, 4167, 5333, 0, 5333)},
    /* raw = 300.6 -> 301 > 0; above 501; tier2 = 250.5 -> 251 */
    {"tier 2 at half fen rounds up", &POL_V, LT, 1, 1001, 1001, ACC(0, 30000, 0), 0, MC_OK,
     PAY(1001, 1001, 500, 501, 6000, 0, 501, 251, 750, 0, 750)},
    {"in-scope below per-visit deductible", &POL_V, LT, 1, 400, 300, ACC(0, 0, 0), 0, MC_OK,
     PAY(400, 300, 300, 0, 6000, 0, 0, 0, 400, 0, 400)},

    /* POL_Z: 15/10/20 %, no deductible. */
    {"temp other reduces 15 percent below zero: ratio 0", &POL_Z, OTH, 1, 10000, 10000,
     ACC(0, 0, 0), 0, MC_OK, PAY(10000, 10000, 0, 10000, 0, 0, 0, 0, 10000, 0, 10000)},
    {"reduction equal to ratio: ratio 0, account pays", &POL_Z, REF, 2, 10000, 10000,
     ACC(0, 0, 0), 4000, MC_OK, PAY(10000, 10000, 0, 10000, 0, 0, 0, 0, 10000, 4000, 6000)},
    {"ratio 0 with cap exhausted: no tier 2", &POL_Z, OTH, 3, 10000, 10000, ACC(0, 100000, 0), 0,
     MC_OK, PAY(10000, 10000, 0, 10000, 0, 0, 0, 0, 10000, 0, 10000)},
    {"low ratio without reduction", &POL_Z, LT, 3, 10000, 10000, ACC(0, 0, 0), 0, MC_OK,
     PAY(10000, 10000, 0, 10000, 2000, 2000, 0, 0, 8000, 0, 8000)},
    {"low ratio reduced to 5 percent", &POL_Z, EMG, 1, 10000, 10000, ACC(0, 0, 0), 0, MC_OK,
     PAY(10000, 10000, 0, 10000, 500, 500, 0, 0, 9500, 0, 9500)},

    /* POL_H: 50 % everywhere. */
    {"half fen: 5 x 5000bp = 2.5 rounds to 3", &POL_H, LT, 1, 5, 5, ACC(0, 0, 0), 0, MC_OK,
     PAY(5, 5, 0, 5, 5000, 3, 0, 0, 2, 0, 2)},
    {"half fen: 1 x 5000bp = 0.5 rounds to 1", &POL_H, LT, 2, 1, 1, ACC(0, 0, 0), 0, MC_OK,
     PAY(1, 1, 0, 1, 5000, 1, 0, 0, 0, 0, 0)},
    {"half fen: 3 x 5000bp = 1.5 rounds to 2", &POL_H, LT, 3, 3, 3, ACC(0, 0, 0), 0, MC_OK,
     PAY(3, 3, 0, 3, 5000, 2, 0, 0, 1, 0, 1)},
    {"half fen: 7 x 5000bp = 3.5 rounds to 4 with out-of-scope 3", &POL_H, LT, 1, 10, 7,
     ACC(0, 0, 0), 0, MC_OK, PAY(10, 7, 0, 7, 5000, 4, 0, 0, 6, 0, 6)},
    {"maximum claim, maximum balance", &POL_H, LT, 1, MAX, MAX, ACC(0, 0, 0), MAX, MC_OK,
     PAY(MAX, MAX, 0, MAX, 5000, 500000000000, 0, 0, 500000000000, 500000000000, 0)},

    /* Rejections: out is left untouched. */
    {"negative total", &POL_A, LT, 1, -1, 0, ACC(0, 0, 0), 0, MC_R_NEGATIVE_VALUE, NOPAY},
    {"INT64_MIN total", &POL_A, LT, 1, INT64_MIN, 0, ACC(0, 0, 0), 0, MC_R_NEGATIVE_VALUE, NOPAY},
    {"negative in-scope", &POL_A, LT, 1, 100, -1, ACC(0, 0, 0), 0, MC_R_NEGATIVE_VALUE, NOPAY},
    {"in-scope above total", &POL_A, LT, 1, 100, 101, ACC(0, 0, 0), 0, MC_R_BAD_REQUEST, NOPAY},
    {"total above max", &POL_A, LT, 1, MAX + 1, 0, ACC(0, 0, 0), 0, MC_R_OVERFLOW, NOPAY},
    {"INT64_MAX total", &POL_A, LT, 1, INT64_MAX, 0, ACC(0, 0, 0), 0, MC_R_OVERFLOW, NOPAY},
    {"in-scope above max", &POL_A, LT, 1, MAX, MAX + 1, ACC(0, 0, 0), 0, MC_R_OVERFLOW, NOPAY},
    {"negative ytd deductible", &POL_A, LT, 1, 100, 100, ACC(-1, 0, 0), 0, MC_R_NEGATIVE_VALUE,
     NOPAY},
    {"negative ytd fund", &POL_A, LT, 1, 100, 100, ACC(0, -1, 0), 0, MC_R_NEGATIVE_VALUE, NOPAY},
    {"negative ytd tier 2", &POL_A, LT, 1, 100, 100, ACC(0, 0, -1), 0, MC_R_NEGATIVE_VALUE, NOPAY},
    {"ytd deductible above max", &POL_A, LT, 1, 100, 100, ACC(MAX + 1, 0, 0), 0, MC_R_OVERFLOW,
     NOPAY},
    {"ytd fund above max", &POL_A, LT, 1, 100, 100, ACC(0, MAX + 1, 0), 0, MC_R_OVERFLOW, NOPAY},
    {"ytd tier 2 above max", &POL_A, LT, 1, 100, 100, ACC(0, 0, MAX + 1), 0, MC_R_OVERFLOW, NOPAY},
    {"negative account balance", &POL_A, LT, 1, 100, 100, ACC(0, 0, 0), -1, MC_R_NEGATIVE_VALUE,
     NOPAY},
    {"account balance above max", &POL_A, LT, 1, 100, 100, ACC(0, 0, 0), MAX + 1, MC_R_OVERFLOW,
     NOPAY},
    {"hospital level 0", &POL_A, LT, 0, 100, 100, ACC(0, 0, 0), 0, MC_R_BAD_REQUEST, NOPAY},
    {"hospital level 4", &POL_A, LT, 4, 100, 100, ACC(0, 0, 0), 0, MC_R_BAD_REQUEST, NOPAY},
    {"registration type out of range", &POL_A, MC_REG__COUNT, 1, 100, 100, ACC(0, 0, 0), 0,
     MC_R_BAD_REQUEST, NOPAY},
    {"registration type negative", &POL_A, (mc_reg_type_t)-1, 1, 100, 100, ACC(0, 0, 0), 0,
     MC_R_BAD_REQUEST, NOPAY},
    {"invalid policy", &POL_BAD, LT, 2, 100, 100, ACC(0, 0, 0), 0, MC_R_BAD_REQUEST, NOPAY},
};

static void test_pay_table(void)
{
    for (size_t i = 0; i < N_ELEMS(pay_cases); i++) {
        const struct pay_case *c = &pay_cases[i];
        mc_payment_t got, sentinel;
        memset(&sentinel, 0x5a, sizeof(sentinel));
        got = sentinel;
        mc_reason_t r = mc_policy_pay(c->pol, c->reg, c->level, c->total, c->in_scope, &c->acc,
                                      c->balance, &got);
        EXPECT_EQ(c->name, "reason", r, c->want);
        if (c->want != MC_OK) {
            EXPECT_EQ(c->name, "out untouched", memcmp(&got, &sentinel, sizeof(got)), 0);
            continue;
        }
        expect_payment(c->name, &got, &c->pay);
        /* The design's invariant, checked on the table row itself as a guard on the table. */
        EXPECT_EQ(c->name, "row sums to total",
                  c->pay.fund_fen + c->pay.tier2_fen + c->pay.account_fen + c->pay.cash_fen,
                  c->pay.total_fen);
    }
}

static void test_pay_null_arguments(void)
{
    mc_accum_t acc = ACC(0, 0, 0);
    mc_payment_t out;
    CU_ASSERT_EQUAL(mc_policy_pay(NULL, LT, 1, 1, 1, &acc, 0, &out), MC_R_BAD_REQUEST);
    CU_ASSERT_EQUAL(mc_policy_pay(&POL_A, LT, 1, 1, 1, NULL, 0, &out), MC_R_BAD_REQUEST);
    CU_ASSERT_EQUAL(mc_policy_pay(&POL_A, LT, 1, 1, 1, &acc, 0, NULL), MC_R_BAD_REQUEST);
}

/* ---- sequences of claims: accumulators carried forward ----------------------------------- */

#define MAX_STEPS 8

struct seq_step {
    bool new_year; /* the claim falls in a new calendar year: accumulators start at zero */
    mc_reg_type_t reg;
    int level;
    int64_t total, in_scope;
    mc_payment_t pay;
    mc_accum_t acc_after;
    int64_t balance_after;
};

struct seq_case {
    const char *name;
    const mc_policy_t *pol;
    mc_accum_t acc0;
    int64_t balance0;
    int n;
    struct seq_step steps[MAX_STEPS];
};

static const struct seq_case seq_cases[] = {
    {"per-year deductible across claims and a year boundary",
     &POL_A,
     ACC(0, 0, 0),
     10000,
     5,
     {
         {false, LT, 3, 500, 400, PAY(500, 400, 400, 0, 7000, 0, 0, 0, 500, 500, 0),
          ACC(400, 0, 0), 9500},
         /* 600 of the deductible left; 200 x 70 % = 140 */
         {false, LT, 3, 1000, 800, PAY(1000, 800, 600, 200, 7000, 140, 0, 0, 860, 860, 0),
          ACC(1000, 140, 0), 8640},
         {false, LT, 3, 2000, 2000, PAY(2000, 2000, 0, 2000, 7000, 1400, 0, 0, 600, 600, 0),
          ACC(1000, 1540, 0), 8040},
         /* new year: deductible again; the account balance is not per year */
         {true, LT, 3, 2000, 2000, PAY(2000, 2000, 1000, 1000, 7000, 700, 0, 0, 1300, 1300, 0),
          ACC(1000, 700, 0), 6740},
         {false, LT, 3, 300, 300, PAY(300, 300, 0, 300, 7000, 210, 0, 0, 90, 90, 0),
          ACC(1000, 910, 0), 6650},
     }},
    {"per-visit deductible on every claim, never accumulated",
     &POL_V,
     ACC(0, 0, 0),
     5000,
     4,
     {
         {false, LT, 1, 800, 800, PAY(800, 800, 500, 300, 6000, 180, 0, 0, 620, 0, 620),
          ACC(0, 180, 0), 5000},
         {false, LT, 1, 800, 800, PAY(800, 800, 500, 300, 6000, 180, 0, 0, 620, 0, 620),
          ACC(0, 360, 0), 5000},
         {false, LT, 1, 300, 300, PAY(300, 300, 300, 0, 6000, 0, 0, 0, 300, 0, 300),
          ACC(0, 360, 0), 5000},
         {false, LT, 1, 1500, 1000, PAY(1500, 1000, 500, 500, 6000, 300, 0, 0, 1200, 0, 1200),
          ACC(0, 660, 0), 5000},
     }},
    {"pooled cap then tier 2 cap exhausted over claims, reset next year",
     &POL_A,
     ACC(1000, 0, 0),
     0,
     7,
     {
         {false, LT, 1, 100000, 100000,
          PAY(100000, 100000, 0, 100000, 9000, 90000, 0, 0, 10000, 0, 10000),
          ACC(1000, 90000, 0), 0},
         /* cap_left 10000; covered = 10^8 / 9000 = 11111.1 -> 11111; above 8889;
          * tier2 = 7111.2 -> 7111 */
         {false, LT, 1, 20000, 20000,
          PAY(20000, 20000, 0, 20000, 9000, 10000, 8889, 7111, 2889, 0, 2889),
          ACC(1000, 100000, 7111), 0},
         /* tier2 = min(40000, 50000 - 7111 = 42889) */
         {false, LT, 1, 50000, 50000,
          PAY(50000, 50000, 0, 50000, 9000, 0, 50000, 40000, 10000, 0, 10000),
          ACC(1000, 100000, 47111), 0},
         /* tier2 = min(8000, 2889) */
         {false, LT, 1, 10000, 10000,
          PAY(10000, 10000, 0, 10000, 9000, 0, 10000, 2889, 7111, 0, 7111),
          ACC(1000, 100000, 50000), 0},
         {false, LT, 1, 1000, 1000, PAY(1000, 1000, 0, 1000, 9000, 0, 1000, 0, 1000, 0, 1000),
          ACC(1000, 100000, 50000), 0},
         {true, LT, 1, 1000, 1000, PAY(1000, 1000, 1000, 0, 9000, 0, 0, 0, 1000, 0, 1000),
          ACC(1000, 0, 0), 0},
         {false, LT, 1, 1000, 1000, PAY(1000, 1000, 0, 1000, 9000, 900, 0, 0, 100, 0, 100),
          ACC(1000, 900, 0), 0},
     }},
    {"personal account drained across claims",
     &POL_A,
     ACC(1000, 0, 0),
     5000,
     3,
     {
         {false, LT, 1, 12000, 10000,
          PAY(12000, 10000, 0, 10000, 9000, 9000, 0, 0, 3000, 3000, 0), ACC(1000, 9000, 0),
          2000},
         {false, LT, 1, 12000, 10000,
          PAY(12000, 10000, 0, 10000, 9000, 9000, 0, 0, 3000, 2000, 1000), ACC(1000, 18000, 0),
          0},
         {false, LT, 1, 12000, 10000,
          PAY(12000, 10000, 0, 10000, 9000, 9000, 0, 0, 3000, 0, 3000), ACC(1000, 27000, 0), 0},
     }},
    {"temp referral: deductible charged again after the year boundary",
     &POL_A,
     ACC(0, 0, 0),
     0,
     3,
     {
         {false, REF, 2, 3000, 3000, PAY(3000, 3000, 1000, 2000, 7000, 1400, 0, 0, 1600, 0, 1600),
          ACC(1000, 1400, 0), 0},
         {true, REF, 2, 3000, 3000, PAY(3000, 3000, 1000, 2000, 7000, 1400, 0, 0, 1600, 0, 1600),
          ACC(1000, 1400, 0), 0},
         {false, REF, 2, 3000, 3000, PAY(3000, 3000, 0, 3000, 7000, 2100, 0, 0, 900, 0, 900),
          ACC(1000, 3500, 0), 0},
     }},
    {"per-visit policy crossing both caps, reset next year",
     &POL_V,
     ACC(0, 28000, 9000),
     0,
     4,
     {
         {false, LT, 2, 3000, 3000, PAY(3000, 3000, 500, 2500, 5000, 1250, 0, 0, 1750, 0, 1750),
          ACC(0, 29250, 9000), 0},
         /* cap_left 750; covered = min(2500, 750 x 10000 / 5000 = 1500); above 1000;
          * tier2 = min(500, 1000) */
         {false, LT, 2, 3000, 3000,
          PAY(3000, 3000, 500, 2500, 5000, 750, 1000, 500, 1750, 0, 1750), ACC(0, 30000, 9500),
          0},
         /* tier2 = min(1250, 500) */
         {false, LT, 2, 3000, 3000, PAY(3000, 3000, 500, 2500, 5000, 0, 2500, 500, 2500, 0, 2500),
          ACC(0, 30000, 10000), 0},
         {true, LT, 2, 3000, 3000, PAY(3000, 3000, 500, 2500, 5000, 1250, 0, 0, 1750, 0, 1750),
          ACC(0, 1250, 0), 0},
     }},
};

static void test_sequences(void)
{
    for (size_t i = 0; i < N_ELEMS(seq_cases); i++) {
        const struct seq_case *c = &seq_cases[i];
        mc_accum_t acc = c->acc0;
        int64_t bal = c->balance0;
        mc_payment_t pays[MAX_STEPS];
        /* Where the last calendar year began, to undo it afterwards. */
        int year_start = 0;
        mc_accum_t year_acc = c->acc0;
        int64_t year_bal = c->balance0;
        for (int s = 0; s < c->n; s++) {
            const struct seq_step *st = &c->steps[s];
            char name[160];
            snprintf(name, sizeof(name), "%s, claim %d", c->name, s + 1);
            if (st->new_year) {
                memset(&acc, 0, sizeof(acc));
                year_start = s;
                year_acc = acc;
                year_bal = bal;
            }
            mc_reason_t r = mc_policy_pay(c->pol, st->reg, st->level, st->total, st->in_scope,
                                          &acc, bal, &pays[s]);
            EXPECT_EQ(name, "reason", r, MC_OK);
            if (r != MC_OK)
                break;
            expect_payment(name, &pays[s], &st->pay);
            mc_policy_apply(c->pol, &pays[s], +1, &acc, &bal);
            expect_accum(name, &acc, &st->acc_after);
            EXPECT_EQ(name, "balance", bal, st->balance_after);
        }
        /* Cancel the last year's claims, newest first: back to where that year started. */
        for (int s = c->n - 1; s >= year_start; s--)
            mc_policy_apply(c->pol, &pays[s], -1, &acc, &bal);
        expect_accum(c->name, &acc, &year_acc);
        EXPECT_EQ(c->name, "balance after cancels", bal, year_bal);
    }
}

/* ---- mc_policy_apply -------------------------------------------------------------------- */

struct apply_case {
    const char *name;
    const mc_policy_t *pol;
    mc_payment_t pay;
    int sign;
    mc_accum_t before;
    int64_t balance_before;
    mc_accum_t after;
    int64_t balance_after;
};

/* deductible 400, fund 140, tier2 7, account 50 */
#define APPLY_PAY PAY(0, 0, 400, 0, 0, 140, 0, 7, 0, 50, 0)

static const struct apply_case apply_cases[] = {
    {"settle, per-year: deductible accumulates", &POL_A, APPLY_PAY, +1, ACC(100, 200, 300), 1000,
     ACC(500, 340, 307), 950},
    {"settle, per-visit: deductible does not accumulate", &POL_V, APPLY_PAY, +1,
     ACC(100, 200, 300), 1000, ACC(100, 340, 307), 950},
    {"cancel, per-year: restores", &POL_A, APPLY_PAY, -1, ACC(500, 340, 307), 950,
     ACC(100, 200, 300), 1000},
    {"cancel, per-visit: restores", &POL_V, APPLY_PAY, -1, ACC(100, 340, 307), 950,
     ACC(100, 200, 300), 1000},
    {"cancel of the only claim returns to zero", &POL_A,
     PAY(12000, 10000, 1000, 9000, 9000, 8100, 0, 0, 3900, 3000, 900), -1, ACC(1000, 8100, 0),
     2000, ACC(0, 0, 0), 5000},
    {"sign 0 changes nothing", &POL_A, APPLY_PAY, 0, ACC(100, 200, 300), 1000, ACC(100, 200, 300),
     1000},
    {"sign 2 changes nothing", &POL_A, APPLY_PAY, 2, ACC(100, 200, 300), 1000, ACC(100, 200, 300),
     1000},
};

static void test_apply_table(void)
{
    for (size_t i = 0; i < N_ELEMS(apply_cases); i++) {
        const struct apply_case *c = &apply_cases[i];
        mc_accum_t acc = c->before;
        int64_t bal = c->balance_before;
        mc_policy_apply(c->pol, &c->pay, c->sign, &acc, &bal);
        expect_accum(c->name, &acc, &c->after);
        EXPECT_EQ(c->name, "balance", bal, c->balance_after);
    }
    /* A NULL balance is allowed and the accumulators still move. */
    mc_accum_t acc = ACC(0, 0, 0);
    mc_payment_t pay = APPLY_PAY;
    mc_policy_apply(&POL_A, &pay, +1, &acc, NULL);
    CU_ASSERT_EQUAL(acc.ytd_fund_paid_fen, 140);
}

/* ---- mc_policy_registration --------------------------------------------------------------- */

#define MAX_REGS 4
#define REG(t, from, to) {(t), (from), (to)}

struct reg_case {
    const char *name;
    int n;
    mc_registration_t regs[MAX_REGS];
    int32_t date;
    bool emergency;
    mc_visit_type_t visit;
    bool certified;
    mc_reason_t want;
    mc_reg_type_t type;
};

#define OUT MC_VISIT_OUTPATIENT
#define CHR MC_VISIT_CHRONIC
#define INP MC_VISIT_INPATIENT
#define NOREGS {REG(MC_REG_NONE, 0, 0)}

static const struct reg_case reg_cases[] = {
    {"no registration, outpatient", 0, NOREGS, 20240315, false, OUT, false, MC_R_NOT_REGISTERED,
     MC_REG_NONE},
    {"no registration, inpatient", 0, NOREGS, 20240315, false, INP, false, MC_R_NOT_REGISTERED,
     MC_REG_NONE},
    {"no registration, emergency counts as temp emergency", 0, NOREGS, 20240315, true, INP, false,
     MC_OK, EMG},
    {"long-term open-ended", 1, {REG(LT, 20200101, 0)}, 20240315, false, OUT, false, MC_OK, LT},
    {"long-term valid from the visit date", 1, {REG(LT, 20240315, 0)}, 20240315, false, OUT,
     false, MC_OK, LT},
    {"long-term starting the day after the visit", 1, {REG(LT, 20240316, 0)}, 20240315, false,
     OUT, false, MC_R_REGISTRATION_EXPIRED, MC_REG_NONE},
    {"long-term that ended", 1, {REG(LT, 20200101, 20231231)}, 20240315, false, INP, false,
     MC_R_REGISTRATION_EXPIRED, MC_REG_NONE},
    {"temp referral within its period", 1, {REG(REF, 20240101, 20240630)}, 20240315, false, INP,
     false, MC_OK, REF},
    {"temp referral on its last day", 1, {REG(REF, 20240101, 20240630)}, 20240630, false, INP,
     false, MC_OK, REF},
    {"temp referral the day after its last day", 1, {REG(REF, 20240101, 20240630)}, 20240701,
     false, INP, false, MC_R_REGISTRATION_EXPIRED, MC_REG_NONE},
    {"temp emergency registration", 1, {REG(EMG, 20240101, 20240630)}, 20240315, false, INP,
     false, MC_OK, EMG},
    {"temp other registration", 1, {REG(OTH, 20240101, 20240630)}, 20240315, false, OUT, false,
     MC_OK, OTH},
    {"long-term preferred over temp other", 2,
     {REG(OTH, 20240101, 20240630), REG(LT, 20200101, 0)}, 20240315, false, OUT, false, MC_OK,
     LT},
    {"long-term preferred over temp referral listed after it", 2,
     {REG(LT, 20200101, 0), REG(REF, 20240101, 20240630)}, 20240315, false, INP, false, MC_OK,
     LT},
    {"temp referral preferred over emergency and other", 3,
     {REG(OTH, 20240101, 20240630), REG(EMG, 20240101, 20240630), REG(REF, 20240101, 20240630)},
     20240315, false, INP, false, MC_OK, REF},
    {"temp emergency preferred over temp other", 2,
     {REG(OTH, 20240101, 20240630), REG(EMG, 20240301, 20240331)}, 20240315, false, INP, false,
     MC_OK, EMG},
    {"all four types valid: long-term wins", 4,
     {REG(OTH, 20240101, 20240630), REG(EMG, 20240101, 20240630), REG(REF, 20240101, 20240630),
      REG(LT, 20240101, 0)},
     20240315, false, INP, false, MC_OK, LT},
    {"expired long-term ignored, valid temp other used", 2,
     {REG(LT, 20200101, 20231231), REG(OTH, 20240101, 20240630)}, 20240315, false, OUT, false,
     MC_OK, OTH},
    {"expired only, emergency visit: temp emergency", 1, {REG(REF, 20230101, 20230630)}, 20240315,
     true, INP, false, MC_OK, EMG},
    {"expired only, not emergency", 1, {REG(REF, 20230101, 20230630)}, 20240315, false, INP,
     false, MC_R_REGISTRATION_EXPIRED, MC_REG_NONE},
    {"two expired registrations", 2,
     {REG(REF, 20230101, 20230630), REG(OTH, 20230701, 20231231)}, 20240315, false, OUT, false,
     MC_R_REGISTRATION_EXPIRED, MC_REG_NONE},
    {"emergency visit with valid long-term keeps long-term", 1, {REG(LT, 20200101, 0)}, 20240315,
     true, INP, false, MC_OK, LT},
    /* The brief's rule: registrations valid on the date win; emergency only replaces none. */
    {"emergency visit with valid temp other keeps temp other", 1, {REG(OTH, 20240101, 20240630)},
     20240315, true, INP, false, MC_OK, OTH},
    {"chronic uncertified: not eligible despite long-term", 1, {REG(LT, 20200101, 0)}, 20240315,
     false, CHR, false, MC_R_NOT_ELIGIBLE, MC_REG_NONE},
    {"chronic uncertified checked before not registered", 0, NOREGS, 20240315, false, CHR, false,
     MC_R_NOT_ELIGIBLE, MC_REG_NONE},
    {"chronic uncertified checked before expired", 1, {REG(REF, 20230101, 20230630)}, 20240315,
     false, CHR, false, MC_R_NOT_ELIGIBLE, MC_REG_NONE},
    {"chronic uncertified emergency still not eligible", 0, NOREGS, 20240315, true, CHR, false,
     MC_R_NOT_ELIGIBLE, MC_REG_NONE},
    {"chronic certified with long-term", 1, {REG(LT, 20200101, 0)}, 20240315, false, CHR, true,
     MC_OK, LT},
    {"chronic certified without registration", 0, NOREGS, 20240315, false, CHR, true,
     MC_R_NOT_REGISTERED, MC_REG_NONE},
    {"outpatient is unaffected by certification", 1, {REG(LT, 20200101, 0)}, 20240315, false, OUT,
     false, MC_OK, LT},
    {"leap day inside a temporary period", 1, {REG(REF, 20240101, 20240630)}, 20240229, false,
     INP, false, MC_OK, REF},
    {"year boundary: registration ending 31 December", 1, {REG(OTH, 20230701, 20231231)},
     20240101, false, OUT, false, MC_R_REGISTRATION_EXPIRED, MC_REG_NONE},
    {"year boundary: registration starting 1 January", 1, {REG(OTH, 20240101, 20240630)},
     20240101, false, OUT, false, MC_OK, OTH},
    {"single-day registration", 1, {REG(EMG, 20240315, 20240315)}, 20240315, false, INP, false,
     MC_OK, EMG},
    {"29 February of a common year is not a date", 1, {REG(LT, 20200101, 0)}, 20230229, false,
     OUT, false, MC_R_BAD_REQUEST, MC_REG_NONE},
    {"month 13 is not a date", 1, {REG(LT, 20200101, 0)}, 20241301, false, OUT, false,
     MC_R_BAD_REQUEST, MC_REG_NONE},
    {"visit date 0", 0, NOREGS, 0, true, OUT, false, MC_R_BAD_REQUEST, MC_REG_NONE},
    {"registration of type NONE", 1, {REG(MC_REG_NONE, 20200101, 0)}, 20240315, false, OUT, false,
     MC_R_BAD_REQUEST, MC_REG_NONE},
    {"registration ending before it starts", 1, {REG(REF, 20240630, 20240101)}, 20240315, false,
     OUT, false, MC_R_BAD_REQUEST, MC_REG_NONE},
    {"registration starting on day 0", 1, {REG(REF, 20240100, 20240630)}, 20240315, false, OUT,
     false, MC_R_BAD_REQUEST, MC_REG_NONE},
    {"visit type out of range", 0, NOREGS, 20240315, true, MC_VISIT__COUNT, false,
     MC_R_BAD_REQUEST, MC_REG_NONE},
};

static void test_registration_table(void)
{
    for (size_t i = 0; i < N_ELEMS(reg_cases); i++) {
        const struct reg_case *c = &reg_cases[i];
        mc_reg_type_t got = MC_REG_NONE;
        mc_reason_t r = mc_policy_registration(c->n > 0 ? c->regs : NULL, c->n, c->date,
                                               c->emergency, c->visit, c->certified, &got);
        EXPECT_EQ(c->name, "reason", r, c->want);
        /* *out is only meaningful on MC_OK; MC_REG_NONE in the table means "not set". */
        EXPECT_EQ(c->name, "type", got, c->type);
    }
}

static void test_registration_bad_arguments(void)
{
    mc_registration_t reg = REG(LT, 20200101, 0);
    mc_reg_type_t out;
    CU_ASSERT_EQUAL(mc_policy_registration(NULL, 1, 20240315, false, OUT, false, &out),
                    MC_R_BAD_REQUEST);
    CU_ASSERT_EQUAL(mc_policy_registration(&reg, -1, 20240315, false, OUT, false, &out),
                    MC_R_BAD_REQUEST);
    CU_ASSERT_EQUAL(mc_policy_registration(&reg, 1, 20240315, false, OUT, false, NULL),
                    MC_R_BAD_REQUEST);
}

/* ---- mc_policy_check ---------------------------------------------------------------------- */

enum policy_field {
    F_NONE,
    F_DEDUCTIBLE,
    F_SCOPE,
    F_RATIO1,
    F_RATIO2,
    F_RATIO3,
    F_CAP,
    F_TIER2_RATIO,
    F_TIER2_CAP,
    F_RED_NONE,
    F_RED_LONG_TERM,
    F_RED_OTHER,
};

struct check_case {
    const char *name;
    enum policy_field field; /* changed on a copy of POL_A */
    int64_t value;
    mc_reason_t want;
};

static const struct check_case check_cases[] = {
    {"base policy valid", F_NONE, 0, MC_OK},
    {"deductible 0", F_DEDUCTIBLE, 0, MC_OK},
    {"deductible at max", F_DEDUCTIBLE, MAX, MC_OK},
    {"deductible negative", F_DEDUCTIBLE, -1, MC_R_BAD_REQUEST},
    {"deductible above max", F_DEDUCTIBLE, MAX + 1, MC_R_BAD_REQUEST},
    {"scope per visit", F_SCOPE, MC_DED_PER_VISIT, MC_OK},
    {"scope unknown", F_SCOPE, 2, MC_R_BAD_REQUEST},
    {"level 1 ratio negative", F_RATIO1, -1, MC_R_BAD_REQUEST},
    {"level 2 ratio above 10000", F_RATIO2, 10001, MC_R_BAD_REQUEST},
    {"level 3 ratio 10000", F_RATIO3, 10000, MC_OK},
    {"level 3 ratio 0", F_RATIO3, 0, MC_OK},
    {"cap 0", F_CAP, 0, MC_OK},
    {"cap negative", F_CAP, -1, MC_R_BAD_REQUEST},
    {"cap above max", F_CAP, MAX + 1, MC_R_BAD_REQUEST},
    {"tier 2 ratio negative", F_TIER2_RATIO, -1, MC_R_BAD_REQUEST},
    {"tier 2 ratio above 10000", F_TIER2_RATIO, 10001, MC_R_BAD_REQUEST},
    {"tier 2 cap negative", F_TIER2_CAP, -1, MC_R_BAD_REQUEST},
    {"tier 2 cap above max", F_TIER2_CAP, MAX + 1, MC_R_BAD_REQUEST},
    {"reduction for NONE negative", F_RED_NONE, -1, MC_R_BAD_REQUEST},
    {"reduction for temp other above 10000", F_RED_OTHER, 10001, MC_R_BAD_REQUEST},
    {"reduction for long-term 10000", F_RED_LONG_TERM, 10000, MC_OK},
};

static void test_check_table(void)
{
    for (size_t i = 0; i < N_ELEMS(check_cases); i++) {
        const struct check_case *c = &check_cases[i];
        mc_policy_t p = POL_A;
        switch (c->field) {
        case F_NONE:
            break;
        case F_DEDUCTIBLE:
            p.deductible_fen = c->value;
            break;
        case F_SCOPE:
            p.deductible_scope = (mc_ded_scope_t)c->value;
            break;
        case F_RATIO1:
            p.ratio_bp[0] = (int32_t)c->value;
            break;
        case F_RATIO2:
            p.ratio_bp[1] = (int32_t)c->value;
            break;
        case F_RATIO3:
            p.ratio_bp[2] = (int32_t)c->value;
            break;
        case F_CAP:
            p.annual_cap_fen = c->value;
            break;
        case F_TIER2_RATIO:
            p.tier2_ratio_bp = (int32_t)c->value;
            break;
        case F_TIER2_CAP:
            p.tier2_cap_fen = c->value;
            break;
        case F_RED_NONE:
            p.reduction_bp[MC_REG_NONE] = (int32_t)c->value;
            break;
        case F_RED_LONG_TERM:
            p.reduction_bp[MC_REG_LONG_TERM] = (int32_t)c->value;
            break;
        case F_RED_OTHER:
            p.reduction_bp[MC_REG_TEMP_OTHER] = (int32_t)c->value;
            break;
        }
        EXPECT_EQ(c->name, "reason", mc_policy_check(&p), c->want);
    }
    CU_ASSERT_EQUAL(mc_policy_check(NULL), MC_R_BAD_REQUEST);
    CU_ASSERT_EQUAL(mc_policy_check(&POL_V), MC_OK);
    CU_ASSERT_EQUAL(mc_policy_check(&POL_Z), MC_OK);
    CU_ASSERT_EQUAL(mc_policy_check(&POL_H), MC_OK);
    CU_ASSERT_EQUAL(mc_policy_check(&POL_BAD), MC_R_BAD_REQUEST);
}

/* ---- codes of enums and reasons ----------------------------------------------------------- */

enum code_kind { K_INSURED, K_VISIT, K_REG };

struct code_case {
    enum code_kind kind;
    int value;
    const char *code;
};

static const struct code_case code_cases[] = {
    {K_INSURED, MC_INSURED_EMPLOYEE, "EMPLOYEE"},
    {K_INSURED, MC_INSURED_RESIDENT, "RESIDENT"},
    {K_VISIT, MC_VISIT_OUTPATIENT, "OUTPATIENT"},
    {K_VISIT, MC_VISIT_CHRONIC, "CHRONIC"},
    {K_VISIT, MC_VISIT_INPATIENT, "INPATIENT"},
    {K_REG, MC_REG_NONE, "NONE"},
    {K_REG, MC_REG_LONG_TERM, "LONG_TERM"},
    {K_REG, MC_REG_TEMP_REFERRAL, "TEMP_REFERRAL"},
    {K_REG, MC_REG_TEMP_EMERGENCY, "TEMP_EMERGENCY"},
    {K_REG, MC_REG_TEMP_OTHER, "TEMP_OTHER"},
};

static const char *code_of(enum code_kind k, int v)
{
    switch (k) {
    case K_INSURED:
        return mc_insured_type_code((mc_insured_type_t)v);
    case K_VISIT:
        return mc_visit_type_code((mc_visit_type_t)v);
    default:
        return mc_reg_type_code((mc_reg_type_t)v);
    }
}

static bool parse_of(enum code_kind k, const char *s, int *v)
{
    bool ok;
    switch (k) {
    case K_INSURED: {
        mc_insured_type_t t = MC_INSURED__COUNT;
        ok = mc_insured_type_parse(s, &t);
        *v = (int)t;
        break;
    }
    case K_VISIT: {
        mc_visit_type_t t = MC_VISIT__COUNT;
        ok = mc_visit_type_parse(s, &t);
        *v = (int)t;
        break;
    }
    default: {
        mc_reg_type_t t = MC_REG__COUNT;
        ok = mc_reg_type_parse(s, &t);
        *v = (int)t;
        break;
    }
    }
    return ok;
}

struct bad_code_case {
    enum code_kind kind;
    const char *code;
};

static const struct bad_code_case bad_code_cases[] = {
    {K_INSURED, "employee"},  {K_INSURED, ""},         {K_INSURED, "EMPLOYEE "},
    {K_VISIT, "OUTPATIENTS"}, {K_VISIT, "chronic"},    {K_VISIT, "EMERGENCY"},
    {K_REG, "LONGTERM"},      {K_REG, "TEMP"},         {K_REG, "none"},
    {K_REG, "TEMP_OTHER_"},   {K_INSURED, "RESIDENT\n"},
};

static void test_enum_codes(void)
{
    for (size_t i = 0; i < N_ELEMS(code_cases); i++) {
        const struct code_case *c = &code_cases[i];
        EXPECT_STR(c->code, "code", code_of(c->kind, c->value), c->code);
        int v = -1;
        bool ok = parse_of(c->kind, c->code, &v);
        EXPECT_EQ(c->code, "parses", ok, true);
        EXPECT_EQ(c->code, "value", v, c->value);
    }
    for (size_t i = 0; i < N_ELEMS(bad_code_cases); i++) {
        const struct bad_code_case *c = &bad_code_cases[i];
        int v;
        EXPECT_EQ(c->code, "parses", parse_of(c->kind, c->code, &v), false);
    }
    /* Out-of-range values print as "" rather than crash. */
    CU_ASSERT_STRING_EQUAL(mc_insured_type_code(MC_INSURED__COUNT), "");
    CU_ASSERT_STRING_EQUAL(mc_visit_type_code(MC_VISIT__COUNT), "");
    CU_ASSERT_STRING_EQUAL(mc_reg_type_code(MC_REG__COUNT), "");
    CU_ASSERT_STRING_EQUAL(mc_reg_type_code((mc_reg_type_t)-1), "");
    int v;
    CU_ASSERT_FALSE(parse_of(K_REG, NULL, &v));
}

struct reason_case {
    mc_reason_t r;
    const char *code;
};

static const struct reason_case reason_cases[] = {
    {MC_OK, "OK"},
    {MC_R_BAD_REQUEST, "BAD_REQUEST"},
    {MC_R_AMOUNT_MISMATCH, "AMOUNT_MISMATCH"},
    {MC_R_NEGATIVE_VALUE, "NEGATIVE_VALUE"},
    {MC_R_OVERFLOW, "OVERFLOW"},
    {MC_R_UNKNOWN_REGION, "UNKNOWN_REGION"},
    {MC_R_UNKNOWN_HOSPITAL, "UNKNOWN_HOSPITAL"},
    {MC_R_UNKNOWN_PERSON, "UNKNOWN_PERSON"},
    {MC_R_NO_POLICY, "NO_POLICY"},
    {MC_R_NOT_REGISTERED, "NOT_REGISTERED"},
    {MC_R_REGISTRATION_EXPIRED, "REGISTRATION_EXPIRED"},
    {MC_R_NOT_ELIGIBLE, "NOT_ELIGIBLE"},
    {MC_R_UNDECODABLE, "UNDECODABLE"},
    {MC_R_UNKNOWN_TYPE, "UNKNOWN_TYPE"},
    {MC_R_TOO_LARGE, "TOO_LARGE"},
    {MC_R_DUPLICATE_MODIFIED, "DUPLICATE_MODIFIED"},
    {MC_R_UNKNOWN_SETTLEMENT, "UNKNOWN_SETTLEMENT"},
    {MC_R_ALREADY_CANCELLED, "ALREADY_CANCELLED"},
    {MC_R_TIMED_OUT, "TIMED_OUT"},
    {MC_R_INTERNAL, "INTERNAL"},
    {MC_R_REVERSED, "REVERSED"},
    {MC_R_BAD_SIGNATURE, "BAD_SIGNATURE"},
    {MC_R_REPLAYED, "REPLAYED"},
};

static const char *const unknown_reason_codes[] = {"ok", "", "NOT REGISTERED", "MC_R_OK",
                                                   "UNKNOWN", "OK "};

static void test_reason_codes(void)
{
    /* Codes are a wire format: a new reason must be added to this table too. */
    CU_ASSERT_EQUAL(N_ELEMS(reason_cases), (size_t)MC_R__COUNT);
    for (size_t i = 0; i < N_ELEMS(reason_cases); i++) {
        const struct reason_case *c = &reason_cases[i];
        EXPECT_STR(c->code, "code", mc_reason_code(c->r), c->code);
        EXPECT_EQ(c->code, "round trip", mc_reason_from_code(c->code), c->r);
        /* Texts follow the project's message style: lower case, no final period. */
        const char *t = mc_reason_text(c->r);
        size_t len = strlen(t);
        EXPECT_EQ(c->code, "text not empty", len > 0, true);
        if (len > 0) {
            EXPECT_EQ(c->code, "text lower case", islower((unsigned char)t[0]) != 0, true);
            EXPECT_EQ(c->code, "text without final period", t[len - 1] != '.', true);
        }
    }
    for (size_t i = 0; i < N_ELEMS(unknown_reason_codes); i++) {
        const char *code = unknown_reason_codes[i];
        EXPECT_EQ(code, "unknown code", mc_reason_from_code(code), MC_R__COUNT);
    }
    CU_ASSERT_EQUAL(mc_reason_from_code(NULL), MC_R__COUNT);
    CU_ASSERT_PTR_NOT_NULL(mc_reason_code(MC_R__COUNT));
    CU_ASSERT_PTR_NOT_NULL(mc_reason_text((mc_reason_t)-1));
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("policy", NULL, NULL);
    if (s == NULL || !CU_add_test(s, "pay: one claim per row", test_pay_table) ||
        !CU_add_test(s, "pay: null arguments", test_pay_null_arguments) ||
        !CU_add_test(s, "pay: sequences carry accumulators forward and undo exactly",
                     test_sequences) ||
        !CU_add_test(s, "apply: settle and cancel", test_apply_table) ||
        !CU_add_test(s, "registration choice and rejections", test_registration_table) ||
        !CU_add_test(s, "registration: bad arguments", test_registration_bad_arguments) ||
        !CU_add_test(s, "policy check", test_check_table)) {
        CU_cleanup_registry();
        return 2;
    }
    CU_pSuite codes = CU_add_suite("codes", NULL, NULL);
    if (codes == NULL || !CU_add_test(codes, "enum codes round trip", test_enum_codes) ||
        !CU_add_test(codes, "reason codes round trip", test_reason_codes)) {
        CU_cleanup_registry();
        return 2;
    }
    size_t steps = 0;
    for (size_t i = 0; i < N_ELEMS(seq_cases); i++)
        steps += (size_t)seq_cases[i].n;
    printf("policy table cases: %zu pay, %zu sequences (%zu claims), %zu apply, "
           "%zu registration, %zu check, %zu enum codes, %zu bad codes, %zu reasons\n",
           N_ELEMS(pay_cases), N_ELEMS(seq_cases), steps, N_ELEMS(apply_cases),
           N_ELEMS(reg_cases), N_ELEMS(check_cases), N_ELEMS(code_cases), N_ELEMS(bad_code_cases),
           N_ELEMS(reason_cases));
    CU_basic_set_mode(CU_BRM_NORMAL);
    CU_basic_run_tests();
    /* Read before cleanup: CU_cleanup_registry() resets the counters. */
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures == 0 ? 0 : 1;
}
