/*
 * Unit tests of the fee split (mc_split, DESIGN.md 5.1). Every expectation below was
 * worked out by hand from the design's formulas, never by running the code: the tables are
 * the rules written down a second time, so a change in the arithmetic shows up here as a
 * named case. Rounding is half up to the fen; the comments on the cases show the exact
 * fraction being rounded.
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "mc_money.h"
#include "mc_split.h"

#define MAX MC_MONEY_MAX

/*
 * CUnit reports only the failing expression; with table-driven tests that says nothing
 * about which row failed, so every mismatch also prints the case name and the field.
 */
#define EXPECT_EQ(cname, what, got, want)                                                   \
    do {                                                                                    \
        long long got_ = (long long)(got), want_ = (long long)(want);                       \
        CU_ASSERT_EQUAL(got_, want_);                                                       \
        if (got_ != want_)                                                                  \
            fprintf(stderr, "\n  case \"%s\": %s = %lld, want %lld", (cname), (what), got_, \
                    want_);                                                                 \
    } while (0)

#define LINE(q, p, a) {.quantity_milli = (q), .unit_price_fen = (p), .amount_fen = (a)}
#define ITEM(c, bp, ceil) {.cls = (c), .self_pay_first_bp = (bp), .price_ceiling_fen = (ceil)}

/* ---- mc_split_check_line ------------------------------------------------------------ */

struct check_case {
    const char *name;
    mc_fee_line_t line;
    mc_reason_t want;
};

static const struct check_case check_cases[] = {
    {"integer quantity 2 x 350 = 700", LINE(2000, 350, 700), MC_OK},
    {"quantity 1500 milli x 333 = 499.5 rounds to 500", LINE(1500, 333, 500), MC_OK},
    {"quantity 1500 milli x 333 amount 499 rejected", LINE(1500, 333, 499),
     MC_R_AMOUNT_MISMATCH},
    {"quantity 1500 milli x 333 amount 501 rejected", LINE(1500, 333, 501),
     MC_R_AMOUNT_MISMATCH},
    {"quantity 333 milli x 1000 = 333", LINE(333, 1000, 333), MC_OK},
    {"quantity 333 milli x 3 = 0.999 rounds to 1", LINE(333, 3, 1), MC_OK},
    {"quantity 333 milli x 1 = 0.333 rounds to 0", LINE(333, 1, 0), MC_OK},
    {"quantity 333 milli x 1 amount 1 rejected", LINE(333, 1, 1), MC_R_AMOUNT_MISMATCH},
    {"half fen: 500 milli x 1 fen = 0.5 rounds to 1", LINE(500, 1, 1), MC_OK},
    {"half fen: 500 milli x 1 fen amount 0 rejected", LINE(500, 1, 0), MC_R_AMOUNT_MISMATCH},
    {"below half: 499 milli x 1 fen = 0.499 rounds to 0", LINE(499, 1, 0), MC_OK},
    {"half up not to even: 2500 milli x 1 = 2.5 rounds to 3", LINE(2500, 1, 3), MC_OK},
    {"half to even amount 2 rejected", LINE(2500, 1, 2), MC_R_AMOUNT_MISMATCH},
    {"1500 milli x 1 = 1.5 rounds to 2", LINE(1500, 1, 2), MC_OK},
    {"1 milli x 499 = 0.499 rounds to 0", LINE(1, 499, 0), MC_OK},
    {"1 milli x 500 = 0.5 rounds to 1", LINE(1, 500, 1), MC_OK},
    {"250 milli x 1999 = 499.75 rounds to 500", LINE(250, 1999, 500), MC_OK},
    {"zero quantity", LINE(0, 1234, 0), MC_OK},
    {"zero price", LINE(3000, 0, 0), MC_OK},
    {"zero quantity amount 1 rejected", LINE(0, 1234, 1), MC_R_AMOUNT_MISMATCH},
    {"amount one fen short rejected", LINE(2000, 350, 699), MC_R_AMOUNT_MISMATCH},
    {"amount one fen over rejected", LINE(2000, 350, 701), MC_R_AMOUNT_MISMATCH},
    {"negative quantity", LINE(-1000, 100, -100), MC_R_NEGATIVE_VALUE},
    {"negative price", LINE(1000, -100, -100), MC_R_NEGATIVE_VALUE},
    {"negative amount", LINE(1000, 100, -100), MC_R_NEGATIVE_VALUE},
    {"negative amount on zero line", LINE(0, 0, -1), MC_R_NEGATIVE_VALUE},
    {"INT64_MIN amount", LINE(1000, 100, INT64_MIN), MC_R_NEGATIVE_VALUE},
    {"negative reported before overflow", LINE(INT64_MAX, -1, 0), MC_R_NEGATIVE_VALUE},
    {"quantity above max", LINE(MAX + 1, 1, 0), MC_R_OVERFLOW},
    {"price above max", LINE(1, MAX + 1, 0), MC_R_OVERFLOW},
    {"amount above max", LINE(1000, 1, MAX + 1), MC_R_OVERFLOW},
    {"INT64_MAX quantity", LINE(INT64_MAX, 1, 0), MC_R_OVERFLOW},
    {"max amount: 1000 milli x max price", LINE(1000, MAX, MAX), MC_OK},
    {"max quantity x 1 fen = 10^9", LINE(MAX, 1, 1000000000), MC_OK},
    {"product 10^21 beyond max is a mismatch", LINE(MAX, MAX, MAX), MC_R_AMOUNT_MISMATCH},
    {"2 units at max price is a mismatch", LINE(2000, MAX, MAX), MC_R_AMOUNT_MISMATCH},
};

static void test_check_line_table(void)
{
    for (size_t i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]); i++) {
        const struct check_case *c = &check_cases[i];
        EXPECT_EQ(c->name, "reason", mc_split_check_line(&c->line), c->want);
    }
}

/* ---- mc_split_line ------------------------------------------------------------------ */

struct split_case {
    const char *name;
    mc_fee_line_t line;
    bool has_item; /* false: the code is not in the catalog (NULL item) */
    mc_catalog_item_t item;
    mc_reason_t want;
    mc_line_split_t split; /* cls, amount, full_self_pay, over_limit, self_pay_first, in_scope */
};

#define NOITEM false, ITEM(MC_CLASS_NONE, 0, 0)
#define SPLIT(c, a, f, o, s, i) {(c), (a), (f), (o), (s), (i)}
#define NOSPLIT SPLIT(MC_CLASS_NONE, 0, 0, 0, 0, 0)

static const struct split_case split_cases[] = {
    /* Step 2: not in the catalog, or class C. */
    {"not in catalog: all self-pay", LINE(2000, 350, 700), NOITEM, MC_OK,
     SPLIT(MC_CLASS_NONE, 700, 700, 0, 0, 0)},
    {"catalog item of class NONE: all self-pay", LINE(1000, 100, 100), true,
     ITEM(MC_CLASS_NONE, 0, 0), MC_OK, SPLIT(MC_CLASS_NONE, 100, 100, 0, 0, 0)},
    {"class C: all self-pay", LINE(3000, 1250, 3750), true, ITEM(MC_CLASS_C, 0, 0), MC_OK,
     SPLIT(MC_CLASS_C, 3750, 3750, 0, 0, 0)},
    {"class C: ceiling ignored", LINE(2000, 500, 1000), true, ITEM(MC_CLASS_C, 0, 300), MC_OK,
     SPLIT(MC_CLASS_C, 1000, 1000, 0, 0, 0)},
    {"class C: ratio ignored", LINE(1000, 800, 800), true, ITEM(MC_CLASS_C, 3000, 0), MC_OK,
     SPLIT(MC_CLASS_C, 800, 800, 0, 0, 0)},
    {"class C: max amount", LINE(1000, MAX, MAX), true, ITEM(MC_CLASS_C, 0, 0), MC_OK,
     SPLIT(MC_CLASS_C, MAX, MAX, 0, 0, 0)},

    /* Class A, step 3 ceilings. Ceiling total = round(ceiling x quantity / 1000). */
    {"class A: no ceiling, all in scope", LINE(4000, 2575, 10300), true, ITEM(MC_CLASS_A, 0, 0),
     MC_OK, SPLIT(MC_CLASS_A, 10300, 0, 0, 0, 10300)},
    {"class A: price under ceiling (1200 allowed)", LINE(2000, 500, 1000), true,
     ITEM(MC_CLASS_A, 0, 600), MC_OK, SPLIT(MC_CLASS_A, 1000, 0, 0, 0, 1000)},
    {"class A: price equal to ceiling", LINE(2000, 500, 1000), true, ITEM(MC_CLASS_A, 0, 500),
     MC_OK, SPLIT(MC_CLASS_A, 1000, 0, 0, 0, 1000)},
    {"class A: one fen per unit over ceiling", LINE(2000, 501, 1002), true,
     ITEM(MC_CLASS_A, 0, 500), MC_OK, SPLIT(MC_CLASS_A, 1002, 0, 2, 0, 1000)},
    {"class A: 3 x 1200 over ceiling 1000", LINE(3000, 1200, 3600), true,
     ITEM(MC_CLASS_A, 0, 1000), MC_OK, SPLIT(MC_CLASS_A, 3600, 0, 600, 0, 3000)},
    /* 300 x 1.5 = 450 allowed; amount 1.5 x 333 = 499.5 -> 500 */
    {"class A: ceiling at 1500 milli", LINE(1500, 333, 500), true, ITEM(MC_CLASS_A, 0, 300),
     MC_OK, SPLIT(MC_CLASS_A, 500, 0, 50, 0, 450)},
    /* 700 x 0.333 = 233.1 -> 233 allowed */
    {"class A: ceiling at 333 milli", LINE(333, 1000, 333), true, ITEM(MC_CLASS_A, 0, 700), MC_OK,
     SPLIT(MC_CLASS_A, 333, 0, 100, 0, 233)},
    /* amount 0.5 x 3 = 1.5 -> 2; allowed 0.5 x 1 = 0.5 -> 1 */
    {"class A: ceiling total at half fen rounds up", LINE(500, 3, 2), true,
     ITEM(MC_CLASS_A, 0, 1), MC_OK, SPLIT(MC_CLASS_A, 2, 0, 1, 0, 1)},
    /* amount 0.333 x 6 = 1.998 -> 2; allowed 0.333 x 3 = 0.999 -> 1 */
    {"class A: ceiling total 0.999 rounds to 1", LINE(333, 6, 2), true, ITEM(MC_CLASS_A, 0, 3),
     MC_OK, SPLIT(MC_CLASS_A, 2, 0, 1, 0, 1)},
    {"class A: ratio ignored", LINE(1000, 1000, 1000), true, ITEM(MC_CLASS_A, 2000, 0), MC_OK,
     SPLIT(MC_CLASS_A, 1000, 0, 0, 0, 1000)},
    {"class A: 1 fen ceiling on a 10000 yuan line", LINE(1000, 1000000, 1000000), true,
     ITEM(MC_CLASS_A, 0, 1), MC_OK, SPLIT(MC_CLASS_A, 1000000, 0, 999999, 0, 1)},
    {"class A: zero price under ceiling", LINE(2000, 0, 0), true, ITEM(MC_CLASS_A, 0, 100), MC_OK,
     SPLIT(MC_CLASS_A, 0, 0, 0, 0, 0)},
    {"class A: max amount, ceiling half of it", LINE(1000, MAX, MAX), true,
     ITEM(MC_CLASS_A, 0, 500000000000), MC_OK,
     SPLIT(MC_CLASS_A, MAX, 0, 500000000000, 0, 500000000000)},
    {"class A: ceiling at max price", LINE(1000, MAX, MAX), true, ITEM(MC_CLASS_A, 0, MAX),
     MC_OK, SPLIT(MC_CLASS_A, MAX, 0, 0, 0, MAX)},

    /* Class B, step 4: self_pay_first = round(base x bp / 10000). */
    {"class B: 10 percent self-pay first", LINE(1000, 10000, 10000), true,
     ITEM(MC_CLASS_B, 1000, 0), MC_OK, SPLIT(MC_CLASS_B, 10000, 0, 0, 1000, 9000)},
    {"class B: 5 x 5000bp = 2.5 rounds to 3", LINE(5000, 1, 5), true, ITEM(MC_CLASS_B, 5000, 0),
     MC_OK, SPLIT(MC_CLASS_B, 5, 0, 0, 3, 2)},
    {"class B: 7 x 500bp = 0.35 rounds to 0", LINE(1000, 7, 7), true, ITEM(MC_CLASS_B, 500, 0),
     MC_OK, SPLIT(MC_CLASS_B, 7, 0, 0, 0, 7)},
    {"class B: 1 x 5000bp = 0.5 rounds to 1", LINE(1000, 1, 1), true, ITEM(MC_CLASS_B, 5000, 0),
     MC_OK, SPLIT(MC_CLASS_B, 1, 0, 0, 1, 0)},
    {"class B: 1 x 4999bp = 0.4999 rounds to 0", LINE(1000, 1, 1), true,
     ITEM(MC_CLASS_B, 4999, 0), MC_OK, SPLIT(MC_CLASS_B, 1, 0, 0, 0, 1)},
    {"class B: 5000 x 1bp = 0.5 rounds to 1", LINE(1000, 5000, 5000), true,
     ITEM(MC_CLASS_B, 1, 0), MC_OK, SPLIT(MC_CLASS_B, 5000, 0, 0, 1, 4999)},
    {"class B: 4999 x 1bp = 0.4999 rounds to 0", LINE(1000, 4999, 4999), true,
     ITEM(MC_CLASS_B, 1, 0), MC_OK, SPLIT(MC_CLASS_B, 4999, 0, 0, 0, 4999)},
    {"class B: ratio 0", LINE(2000, 450, 900), true, ITEM(MC_CLASS_B, 0, 0), MC_OK,
     SPLIT(MC_CLASS_B, 900, 0, 0, 0, 900)},
    {"class B: ratio 10000", LINE(2000, 450, 900), true, ITEM(MC_CLASS_B, 10000, 0), MC_OK,
     SPLIT(MC_CLASS_B, 900, 0, 0, 900, 0)},
    /* allowed 3000, over 600, base 3000, 20% of 3000 = 600 */
    {"class B: ratio applies to base after ceiling", LINE(3000, 1200, 3600), true,
     ITEM(MC_CLASS_B, 2000, 1000), MC_OK, SPLIT(MC_CLASS_B, 3600, 0, 600, 600, 2400)},
    /* allowed 450, over 50, base 450, 15% = 67.5 -> 68 */
    {"class B: 1500 milli with ceiling, 67.5 rounds to 68", LINE(1500, 333, 500), true,
     ITEM(MC_CLASS_B, 1500, 300), MC_OK, SPLIT(MC_CLASS_B, 500, 0, 50, 68, 382)},
    /* allowed 233, over 100, base 233, 25% = 58.25 -> 58 */
    {"class B: 333 milli with ceiling, 58.25 rounds to 58", LINE(333, 1000, 333), true,
     ITEM(MC_CLASS_B, 2500, 700), MC_OK, SPLIT(MC_CLASS_B, 333, 0, 100, 58, 175)},
    /* amount 2.5 x 199 = 497.5 -> 498; allowed 2.5 x 250 = 625; 10% of 498 = 49.8 -> 50 */
    {"class B: 2500 milli under ceiling", LINE(2500, 199, 498), true,
     ITEM(MC_CLASS_B, 1000, 250), MC_OK, SPLIT(MC_CLASS_B, 498, 0, 0, 50, 448)},
    {"class B: zero quantity", LINE(0, 500, 0), true, ITEM(MC_CLASS_B, 1000, 400), MC_OK,
     SPLIT(MC_CLASS_B, 0, 0, 0, 0, 0)},
    /* 10^12 x 3333 / 10000 = 333300000000 exactly */
    {"class B: max amount", LINE(1000, MAX, MAX), true, ITEM(MC_CLASS_B, 3333, 0), MC_OK,
     SPLIT(MC_CLASS_B, MAX, 0, 0, 333300000000, 666700000000)},

    /* Invalid items and unchecked lines. */
    {"item ratio negative", LINE(1000, 100, 100), true, ITEM(MC_CLASS_B, -1, 0),
     MC_R_BAD_REQUEST, NOSPLIT},
    {"item ratio above 10000", LINE(1000, 100, 100), true, ITEM(MC_CLASS_B, 10001, 0),
     MC_R_BAD_REQUEST, NOSPLIT},
    {"class A item with negative ratio", LINE(1000, 100, 100), true, ITEM(MC_CLASS_A, -5, 0),
     MC_R_BAD_REQUEST, NOSPLIT},
    {"class C item with ratio 20000", LINE(1000, 100, 100), true, ITEM(MC_CLASS_C, 20000, 0),
     MC_R_BAD_REQUEST, NOSPLIT},
    {"item ceiling negative", LINE(1000, 100, 100), true, ITEM(MC_CLASS_A, 0, -1),
     MC_R_BAD_REQUEST, NOSPLIT},
    {"item ceiling above max", LINE(1000, 100, 100), true, ITEM(MC_CLASS_A, 0, MAX + 1),
     MC_R_BAD_REQUEST, NOSPLIT},
    {"item class unknown", LINE(1000, 100, 100), true, ITEM((mc_item_class_t)9, 0, 0),
     MC_R_BAD_REQUEST, NOSPLIT},
    {"unchecked line with wrong amount", LINE(1000, 100, 99), NOITEM, MC_R_BAD_REQUEST, NOSPLIT},
    {"unchecked negative line", LINE(-1000, 100, -100), true, ITEM(MC_CLASS_A, 0, 0),
     MC_R_BAD_REQUEST, NOSPLIT},
};

static void expect_split(const char *name, const mc_line_split_t *got, const mc_line_split_t *want)
{
    EXPECT_EQ(name, "cls", got->cls, want->cls);
    EXPECT_EQ(name, "amount", got->amount_fen, want->amount_fen);
    EXPECT_EQ(name, "full_self_pay", got->full_self_pay_fen, want->full_self_pay_fen);
    EXPECT_EQ(name, "over_limit", got->over_limit_fen, want->over_limit_fen);
    EXPECT_EQ(name, "self_pay_first", got->self_pay_first_fen, want->self_pay_first_fen);
    EXPECT_EQ(name, "in_scope", got->in_scope_fen, want->in_scope_fen);
}

static void test_split_line_table(void)
{
    for (size_t i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
        const struct split_case *c = &split_cases[i];
        mc_line_split_t got;
        memset(&got, 0, sizeof(got));
        mc_reason_t r = mc_split_line(&c->line, c->has_item ? &c->item : NULL, &got);
        EXPECT_EQ(c->name, "reason", r, c->want);
        if (c->want != MC_OK)
            continue;
        expect_split(c->name, &got, &c->split);
        /* The design's per-line invariant, restated so a wrong table row cannot hide it. */
        EXPECT_EQ(c->name, "sum of parts",
                  c->split.full_self_pay_fen + c->split.over_limit_fen +
                      c->split.self_pay_first_fen + c->split.in_scope_fen,
                  c->split.amount_fen);
    }
}

/* ---- whole claims: lines checked, split and summed with mc_split_add ----------------- */

#define MAX_LINES 8

struct claim_line {
    mc_fee_line_t line;
    bool has_item;
    mc_catalog_item_t item;
};

struct claim_case {
    const char *name;
    int n;
    struct claim_line lines[MAX_LINES];
    mc_reason_t want;  /* reason of the first mc_split_add that fails, or MC_OK */
    int fail_line;     /* index of that line when want != MC_OK */
    mc_split_total_t total; /* total, full_self_pay, over_limit, self_pay_first, in_scope */
};

#define TOTAL(t, f, o, s, i) {(t), (f), (o), (s), (i)}
#define CL(q, p, a, has, c, bp, ceil) {LINE(q, p, a), (has), ITEM(c, bp, ceil)}

static const struct claim_case claim_cases[] = {
    /* 700 in scope; 10000 -> 1000 + 9000; 3750 self-pay; 100 self-pay */
    {"mixed A, B, C and uncatalogued lines",
     4,
     {CL(2000, 350, 700, true, MC_CLASS_A, 0, 0), CL(1000, 10000, 10000, true, MC_CLASS_B, 1000, 0),
      CL(3000, 1250, 3750, true, MC_CLASS_C, 0, 0), CL(1000, 100, 100, false, MC_CLASS_NONE, 0, 0)},
     MC_OK,
     0,
     TOTAL(14550, 3850, 0, 1000, 9700)},
    /* 500 = 50 + 450; 333 = 100 + 58 + 175; 1 in scope */
    {"ceilings with fractional quantities",
     3,
     {CL(1500, 333, 500, true, MC_CLASS_A, 0, 300), CL(333, 1000, 333, true, MC_CLASS_B, 2500, 700),
      CL(500, 1, 1, true, MC_CLASS_A, 0, 0)},
     MC_OK,
     0,
     TOTAL(834, 0, 150, 58, 626)},
    {"single class C line",
     1,
     {CL(1000, 8800, 8800, true, MC_CLASS_C, 0, 0)},
     MC_OK,
     0,
     TOTAL(8800, 8800, 0, 0, 0)},
    /* 5 -> 3 + 2; 1 -> 1 + 0; 7 -> 0 + 7 */
    {"class B lines each rounded on their own",
     3,
     {CL(5000, 1, 5, true, MC_CLASS_B, 5000, 0), CL(1000, 1, 1, true, MC_CLASS_B, 5000, 0),
      CL(1000, 7, 7, true, MC_CLASS_B, 500, 0)},
     MC_OK,
     0,
     TOTAL(13, 0, 0, 4, 9)},
    {"claim without lines", 0, {{LINE(0, 0, 0), false, ITEM(MC_CLASS_NONE, 0, 0)}}, MC_OK, 0,
     TOTAL(0, 0, 0, 0, 0)},
    /* 3600 = 600 + 3000; 3600 = 600 + 600 + 2400; 500 self-pay; 0 */
    {"over ceiling on A and B plus uncatalogued",
     4,
     {CL(3000, 1200, 3600, true, MC_CLASS_A, 0, 1000),
      CL(3000, 1200, 3600, true, MC_CLASS_B, 2000, 1000),
      CL(2000, 250, 500, false, MC_CLASS_NONE, 0, 0), CL(2000, 0, 0, true, MC_CLASS_A, 0, 100)},
     MC_OK,
     0,
     TOTAL(7700, 500, 1200, 600, 5400)},
    {"six half-fen-rounded A lines of 1.5 milli-units",
     6,
     {CL(1500, 1, 2, true, MC_CLASS_A, 0, 0), CL(1500, 1, 2, true, MC_CLASS_A, 0, 0),
      CL(1500, 1, 2, true, MC_CLASS_A, 0, 0), CL(1500, 1, 2, true, MC_CLASS_A, 0, 0),
      CL(1500, 1, 2, true, MC_CLASS_A, 0, 0), CL(1500, 1, 2, true, MC_CLASS_A, 0, 0)},
     MC_OK,
     0,
     TOTAL(12, 0, 0, 0, 12)},
    /* C ceiling ignored: 1000 self-pay; B 100%: 900; A 1 fen ceiling: 999999 + 1 */
    {"every class with ceilings",
     3,
     {CL(2000, 500, 1000, true, MC_CLASS_C, 0, 300), CL(2000, 450, 900, true, MC_CLASS_B, 10000, 0),
      CL(1000, 1000000, 1000000, true, MC_CLASS_A, 0, 1)},
     MC_OK,
     0,
     TOTAL(1001900, 1000, 999999, 900, 1)},
    /* 6 x 10^11 + 4 x 10^11 = 10^12 exactly; B half: 2 x 10^11 */
    {"claim total reaching exactly the maximum",
     2,
     {CL(1000, 600000000000, 600000000000, true, MC_CLASS_A, 0, 0),
      CL(1000, 400000000000, 400000000000, true, MC_CLASS_B, 5000, 0)},
     MC_OK,
     0,
     TOTAL(MAX, 0, 0, 200000000000, 800000000000)},
    {"claim total one fen above the maximum rejected",
     3,
     {CL(1000, MAX, MAX, true, MC_CLASS_C, 0, 0), CL(1000, 1, 1, true, MC_CLASS_A, 0, 0),
      CL(1000, 5, 5, true, MC_CLASS_A, 0, 0)},
     MC_R_OVERFLOW,
     1,
     TOTAL(MAX, MAX, 0, 0, 0)},
};

static void test_claim_table(void)
{
    for (size_t i = 0; i < sizeof(claim_cases) / sizeof(claim_cases[0]); i++) {
        const struct claim_case *c = &claim_cases[i];
        mc_split_total_t total;
        memset(&total, 0, sizeof(total));
        mc_reason_t r = MC_OK;
        int failed_at = -1;
        for (int l = 0; l < c->n; l++) {
            const struct claim_line *cl = &c->lines[l];
            mc_line_split_t s;
            EXPECT_EQ(c->name, "line check", mc_split_check_line(&cl->line), MC_OK);
            EXPECT_EQ(c->name, "line split",
                      mc_split_line(&cl->line, cl->has_item ? &cl->item : NULL, &s), MC_OK);
            r = mc_split_add(&total, &s);
            if (r != MC_OK) {
                failed_at = l;
                break;
            }
        }
        EXPECT_EQ(c->name, "reason", r, c->want);
        if (c->want != MC_OK)
            EXPECT_EQ(c->name, "failing line", failed_at, c->fail_line);
        /* On overflow the total must be what it was before the failing line. */
        EXPECT_EQ(c->name, "total", total.total_fen, c->total.total_fen);
        EXPECT_EQ(c->name, "full_self_pay", total.full_self_pay_fen, c->total.full_self_pay_fen);
        EXPECT_EQ(c->name, "over_limit", total.over_limit_fen, c->total.over_limit_fen);
        EXPECT_EQ(c->name, "self_pay_first", total.self_pay_first_fen,
                  c->total.self_pay_first_fen);
        EXPECT_EQ(c->name, "in_scope", total.in_scope_fen, c->total.in_scope_fen);
    }
}

/* ---- mc_split_add on hand-built inputs ------------------------------------------------ */

struct add_case {
    const char *name;
    mc_split_total_t before;
    mc_line_split_t line;
    mc_reason_t want;
    mc_split_total_t after;
};

static const struct add_case add_cases[] = {
    {"add to empty total", TOTAL(0, 0, 0, 0, 0), SPLIT(MC_CLASS_B, 100, 10, 20, 30, 40), MC_OK,
     TOTAL(100, 10, 20, 30, 40)},
    {"add to running total", TOTAL(100, 10, 20, 30, 40), SPLIT(MC_CLASS_A, 50, 0, 5, 0, 45),
     MC_OK, TOTAL(150, 10, 25, 30, 85)},
    {"add reaching max exactly", TOTAL(MAX - 2, MAX - 2, 0, 0, 0),
     SPLIT(MC_CLASS_C, 2, 2, 0, 0, 0), MC_OK, TOTAL(MAX, MAX, 0, 0, 0)},
    {"add one fen beyond max refused, total unchanged", TOTAL(MAX - 1, 0, 0, 0, MAX - 1),
     SPLIT(MC_CLASS_A, 2, 0, 0, 0, 2), MC_R_OVERFLOW, TOTAL(MAX - 1, 0, 0, 0, MAX - 1)},
    {"add negative part refused", TOTAL(0, 0, 0, 0, 0), SPLIT(MC_CLASS_A, 0, -1, 0, 0, 1),
     MC_R_BAD_REQUEST, TOTAL(0, 0, 0, 0, 0)},
    {"add parts not summing to amount refused", TOTAL(0, 0, 0, 0, 0),
     SPLIT(MC_CLASS_A, 10, 0, 0, 0, 9), MC_R_BAD_REQUEST, TOTAL(0, 0, 0, 0, 0)},
    {"add line above max refused", TOTAL(0, 0, 0, 0, 0),
     SPLIT(MC_CLASS_C, MAX + 1, MAX + 1, 0, 0, 0), MC_R_BAD_REQUEST, TOTAL(0, 0, 0, 0, 0)},
    {"add to inconsistent total refused", TOTAL(5, 0, 0, 0, 4), SPLIT(MC_CLASS_A, 1, 0, 0, 0, 1),
     MC_R_BAD_REQUEST, TOTAL(5, 0, 0, 0, 4)},
};

static void test_add_table(void)
{
    for (size_t i = 0; i < sizeof(add_cases) / sizeof(add_cases[0]); i++) {
        const struct add_case *c = &add_cases[i];
        mc_split_total_t t = c->before;
        EXPECT_EQ(c->name, "reason", mc_split_add(&t, &c->line), c->want);
        EXPECT_EQ(c->name, "total", t.total_fen, c->after.total_fen);
        EXPECT_EQ(c->name, "full_self_pay", t.full_self_pay_fen, c->after.full_self_pay_fen);
        EXPECT_EQ(c->name, "over_limit", t.over_limit_fen, c->after.over_limit_fen);
        EXPECT_EQ(c->name, "self_pay_first", t.self_pay_first_fen, c->after.self_pay_first_fen);
        EXPECT_EQ(c->name, "in_scope", t.in_scope_fen, c->after.in_scope_fen);
    }
}

static void test_null_arguments(void)
{
    mc_fee_line_t line = LINE(1000, 1, 1);
    mc_line_split_t s;
    mc_split_total_t t;
    memset(&t, 0, sizeof(t));
    CU_ASSERT_EQUAL(mc_split_check_line(NULL), MC_R_BAD_REQUEST);
    CU_ASSERT_EQUAL(mc_split_line(NULL, NULL, &s), MC_R_BAD_REQUEST);
    CU_ASSERT_EQUAL(mc_split_line(&line, NULL, NULL), MC_R_BAD_REQUEST);
    CU_ASSERT_EQUAL(mc_split_add(NULL, &s), MC_R_BAD_REQUEST);
    CU_ASSERT_EQUAL(mc_split_add(&t, NULL), MC_R_BAD_REQUEST);
}

/* ---- class codes ---------------------------------------------------------------------- */

struct class_case {
    const char *name;
    const char *text;
    bool parses;
    mc_item_class_t cls;
};

static const struct class_case class_cases[] = {
    {"class A round trip", "A", true, MC_CLASS_A},
    {"class B round trip", "B", true, MC_CLASS_B},
    {"class C round trip", "C", true, MC_CLASS_C},
    {"empty string is not a class", "", false, MC_CLASS_NONE},
    {"lower case a is not a class", "a", false, MC_CLASS_NONE},
    {"D is not a class", "D", false, MC_CLASS_NONE},
    {"AB is not a class", "AB", false, MC_CLASS_NONE},
    {"leading space is not a class", " A", false, MC_CLASS_NONE},
};

static void test_class_codes(void)
{
    for (size_t i = 0; i < sizeof(class_cases) / sizeof(class_cases[0]); i++) {
        const struct class_case *c = &class_cases[i];
        mc_item_class_t got = MC_CLASS_NONE;
        bool ok = mc_item_class_parse(c->text, &got);
        EXPECT_EQ(c->name, "parses", ok, c->parses);
        if (!c->parses)
            continue;
        EXPECT_EQ(c->name, "class", got, c->cls);
        const char *code = mc_item_class_code(got);
        CU_ASSERT_STRING_EQUAL(code, c->text);
        if (strcmp(code, c->text) != 0)
            fprintf(stderr, "\n  case \"%s\": code \"%s\", want \"%s\"", c->name, code, c->text);
    }
    CU_ASSERT_STRING_EQUAL(mc_item_class_code(MC_CLASS_NONE), "");
    CU_ASSERT_STRING_EQUAL(mc_item_class_code((mc_item_class_t)42), "");
    CU_ASSERT_FALSE(mc_item_class_parse(NULL, &(mc_item_class_t){MC_CLASS_NONE}));
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("split", NULL, NULL);
    if (s == NULL || !CU_add_test(s, "check line: amount, sign and range", test_check_line_table) ||
        !CU_add_test(s, "split line: every class, ceiling and rounding", test_split_line_table) ||
        !CU_add_test(s, "claims: mixed lines summed by mc_split_add", test_claim_table) ||
        !CU_add_test(s, "add: overflow and malformed splits", test_add_table) ||
        !CU_add_test(s, "null arguments are bad requests", test_null_arguments) ||
        !CU_add_test(s, "class codes round trip", test_class_codes)) {
        CU_cleanup_registry();
        return 2;
    }
    printf("split table cases: %zu check, %zu split, %zu claim, %zu add, %zu class\n",
           sizeof(check_cases) / sizeof(check_cases[0]),
           sizeof(split_cases) / sizeof(split_cases[0]),
           sizeof(claim_cases) / sizeof(claim_cases[0]), sizeof(add_cases) / sizeof(add_cases[0]),
           sizeof(class_cases) / sizeof(class_cases[0]));
    CU_basic_set_mode(CU_BRM_NORMAL);
    CU_basic_run_tests();
    /* Read before cleanup: CU_cleanup_registry() resets the counters. */
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures == 0 ? 0 : 1;
}
