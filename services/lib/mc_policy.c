/*
 * Payment at the insuring region (DESIGN.md 5.2). The insuring region decides which
 * registration a visit falls under, then divides the claim between the pooled fund, the
 * second tier, the personal account and cash, following the design's seven steps in their
 * exact order. Every region, the clearing centre and any independent implementation must
 * arrive at the same fen, so the arithmetic is integer only and rounds (half up) only where
 * the design says. The module is pure: the insuring service loads the inputs under the
 * person's row lock and stores what comes out.
 */
#include "mc_policy.h"

#include <stddef.h>
#include <string.h>

#include "mc_date.h"
#include "mc_money.h"

static bool amount_ok(int64_t v) { return v >= 0 && v <= MC_MONEY_MAX; }

static bool bp_ok(int32_t v) { return v >= 0 && v <= 10000; }

mc_reason_t mc_policy_check(const mc_policy_t *p)
{
    if (p == NULL)
        return MC_R_BAD_REQUEST;
    if (!amount_ok(p->deductible_fen) || !amount_ok(p->annual_cap_fen) ||
        !amount_ok(p->tier2_cap_fen))
        return MC_R_BAD_REQUEST;
    if (p->deductible_scope != MC_DED_PER_VISIT && p->deductible_scope != MC_DED_PER_YEAR)
        return MC_R_BAD_REQUEST;
    for (int i = 0; i < 3; i++) {
        if (!bp_ok(p->ratio_bp[i]))
            return MC_R_BAD_REQUEST;
    }
    if (!bp_ok(p->tier2_ratio_bp))
        return MC_R_BAD_REQUEST;
    for (int i = 0; i < MC_REG__COUNT; i++) {
        if (!bp_ok(p->reduction_bp[i]))
            return MC_R_BAD_REQUEST;
    }
    return MC_OK;
}

/*
 * Preference among valid registrations, lower is better: a long-term registration has no
 * ratio reduction, so it must win over any temporary one the person also holds.
 */
static int reg_rank(mc_reg_type_t t)
{
    switch (t) {
    case MC_REG_LONG_TERM:
        return 0;
    case MC_REG_TEMP_REFERRAL:
        return 1;
    case MC_REG_TEMP_EMERGENCY:
        return 2;
    case MC_REG_TEMP_OTHER:
        return 3;
    default:
        return -1;
    }
}

mc_reason_t mc_policy_registration(const mc_registration_t *regs, int n, int32_t visit_date,
                                   bool emergency, mc_visit_type_t visit,
                                   bool chronic_certified, mc_reg_type_t *out)
{
    if (out == NULL || n < 0 || (n > 0 && regs == NULL))
        return MC_R_BAD_REQUEST;
    if ((int)visit < 0 || (int)visit >= MC_VISIT__COUNT || !mc_date_valid(visit_date))
        return MC_R_BAD_REQUEST;

    /* Eligibility is a property of the person, checked before any registration. */
    if (visit == MC_VISIT_CHRONIC && !chronic_certified)
        return MC_R_NOT_ELIGIBLE;

    int best = -1;
    for (int i = 0; i < n; i++) {
        const mc_registration_t *r = &regs[i];
        /* A malformed row is refused, not skipped: skipping could change the outcome. */
        if (reg_rank(r->type) < 0 || !mc_date_valid(r->valid_from))
            return MC_R_BAD_REQUEST;
        if (r->valid_to != 0 && (!mc_date_valid(r->valid_to) || r->valid_to < r->valid_from))
            return MC_R_BAD_REQUEST;
        /* yyyymmdd integers compare in calendar order. */
        bool valid = r->valid_from <= visit_date && (r->valid_to == 0 || visit_date <= r->valid_to);
        if (valid && (best < 0 || reg_rank(r->type) < reg_rank(regs[best].type)))
            best = i;
    }

    if (best >= 0) {
        *out = regs[best].type;
        return MC_OK;
    }
    /* Emergency care is never refused for want of paperwork, expired or not. */
    if (emergency) {
        *out = MC_REG_TEMP_EMERGENCY;
        return MC_OK;
    }
    return n == 0 ? MC_R_NOT_REGISTERED : MC_R_REGISTRATION_EXPIRED;
}

/* Range check of one caller-supplied amount, with the reason the design names for it. */
static mc_reason_t check_amount(int64_t v)
{
    if (v < 0)
        return MC_R_NEGATIVE_VALUE;
    if (v > MC_MONEY_MAX)
        return MC_R_OVERFLOW;
    return MC_OK;
}

mc_reason_t mc_policy_pay(const mc_policy_t *p, mc_reg_type_t reg, int hospital_level,
                          int64_t total_fen, int64_t in_scope_fen, const mc_accum_t *acc,
                          int64_t account_balance_fen, mc_payment_t *out)
{
    if (p == NULL || acc == NULL || out == NULL)
        return MC_R_BAD_REQUEST;
    if (mc_policy_check(p) != MC_OK)
        return MC_R_BAD_REQUEST;
    if ((int)reg < 0 || (int)reg >= MC_REG__COUNT)
        return MC_R_BAD_REQUEST;
    if (hospital_level < 1 || hospital_level > 3)
        return MC_R_BAD_REQUEST;

    const int64_t in[6] = {total_fen,
                           in_scope_fen,
                           acc->ytd_deductible_fen,
                           acc->ytd_fund_paid_fen,
                           acc->ytd_tier2_paid_fen,
                           account_balance_fen};
    for (int i = 0; i < 6; i++) {
        mc_reason_t r = check_amount(in[i]);
        if (r != MC_OK)
            return r;
    }
    if (in_scope_fen > total_fen)
        return MC_R_BAD_REQUEST;

    /*
     * From here every quantity lies in 0..MC_MONEY_MAX (10^12) and every ratio in
     * 0..10000, so no product exceeds 10^16 and int64 cannot overflow; the rounding still
     * goes through mc_mul_div_round so that there is one definition of half-up.
     */
    mc_payment_t pay;
    memset(&pay, 0, sizeof(pay));

    /* Step 1. */
    pay.total_fen = total_fen;
    pay.in_scope_fen = in_scope_fen;

    /* Step 2: a per-visit deductible starts afresh with every claim. */
    int64_t ded_left = p->deductible_fen;
    if (p->deductible_scope == MC_DED_PER_YEAR)
        ded_left = mc_max64(0, p->deductible_fen - acc->ytd_deductible_fen);
    pay.deductible_fen = mc_min64(in_scope_fen, ded_left);

    /* Step 3. */
    pay.eligible_fen = in_scope_fen - pay.deductible_fen;
    int32_t ratio = p->ratio_bp[hospital_level - 1] - p->reduction_bp[reg];
    pay.ratio_bp = ratio > 0 ? ratio : 0;

    /*
     * Step 4. cap_left is clamped at zero: year-to-date payments may exceed a cap that was
     * lowered mid-year, and a negative cap_left would make the fund pay negative amounts.
     */
    int64_t cap_left = mc_max64(0, p->annual_cap_fen - acc->ytd_fund_paid_fen);
    if (pay.ratio_bp == 0) {
        pay.fund_fen = 0;
        pay.above_cap_fen = 0;
    } else {
        int64_t raw = mc_mul_div_round(pay.eligible_fen, pay.ratio_bp, 10000);
        if (raw <= cap_left) {
            pay.fund_fen = raw;
            pay.above_cap_fen = 0;
        } else {
            /*
             * The part of eligible the remaining cap can still cover at this ratio; the
             * design truncates here (integer division), it does not round.
             */
            pay.fund_fen = cap_left;
            int64_t covered = mc_min64(pay.eligible_fen, cap_left * 10000 / pay.ratio_bp);
            pay.above_cap_fen = pay.eligible_fen - covered;
        }
    }

    /* Step 5, with the same clamp as the pooled cap for a lowered tier 2 cap. */
    int64_t tier2_left = mc_max64(0, p->tier2_cap_fen - acc->ytd_tier2_paid_fen);
    pay.tier2_fen =
        mc_min64(mc_mul_div_round(pay.above_cap_fen, p->tier2_ratio_bp, 10000), tier2_left);

    /* Step 6. */
    pay.person_fen = total_fen - pay.fund_fen - pay.tier2_fen;
    pay.account_fen = p->account_allowed ? mc_min64(account_balance_fen, pay.person_fen) : 0;
    pay.cash_fen = pay.person_fen - pay.account_fen;

    *out = pay;
    return MC_OK;
}

void mc_policy_apply(const mc_policy_t *p, const mc_payment_t *pay, int sign, mc_accum_t *acc,
                     int64_t *account_balance_fen)
{
    /*
     * Any other sign is a programming error; doing nothing keeps the accumulators equal
     * to the sum of their claims, which a wrong multiple would not.
     */
    if (p == NULL || pay == NULL || acc == NULL || (sign != 1 && sign != -1))
        return;

    /* A per-visit deductible is consumed by its own claim and never accumulates. */
    if (p->deductible_scope == MC_DED_PER_YEAR)
        acc->ytd_deductible_fen += sign * pay->deductible_fen;
    acc->ytd_fund_paid_fen += sign * pay->fund_fen;
    acc->ytd_tier2_paid_fen += sign * pay->tier2_fen;
    if (account_balance_fen != NULL)
        *account_balance_fen -= sign * pay->account_fen;
}

static const char *const insured_codes[MC_INSURED__COUNT] = {
    [MC_INSURED_EMPLOYEE] = "EMPLOYEE",
    [MC_INSURED_RESIDENT] = "RESIDENT",
};

static const char *const visit_codes[MC_VISIT__COUNT] = {
    [MC_VISIT_OUTPATIENT] = "OUTPATIENT",
    [MC_VISIT_CHRONIC] = "CHRONIC",
    [MC_VISIT_INPATIENT] = "INPATIENT",
};

static const char *const reg_codes[MC_REG__COUNT] = {
    [MC_REG_NONE] = "NONE",
    [MC_REG_LONG_TERM] = "LONG_TERM",
    [MC_REG_TEMP_REFERRAL] = "TEMP_REFERRAL",
    [MC_REG_TEMP_EMERGENCY] = "TEMP_EMERGENCY",
    [MC_REG_TEMP_OTHER] = "TEMP_OTHER",
};

/* Out-of-range values get "" rather than NULL so that callers may print them directly. */
static const char *code_of(const char *const *codes, int n, int v)
{
    return v >= 0 && v < n ? codes[v] : "";
}

static bool parse_code(const char *const *codes, int n, const char *s, int *out)
{
    if (s == NULL)
        return false;
    for (int i = 0; i < n; i++) {
        if (strcmp(codes[i], s) == 0) {
            *out = i;
            return true;
        }
    }
    return false;
}

const char *mc_insured_type_code(mc_insured_type_t t)
{
    return code_of(insured_codes, MC_INSURED__COUNT, (int)t);
}

const char *mc_visit_type_code(mc_visit_type_t v)
{
    return code_of(visit_codes, MC_VISIT__COUNT, (int)v);
}

const char *mc_reg_type_code(mc_reg_type_t r) { return code_of(reg_codes, MC_REG__COUNT, (int)r); }

bool mc_insured_type_parse(const char *s, mc_insured_type_t *out)
{
    int v;
    if (out == NULL || !parse_code(insured_codes, MC_INSURED__COUNT, s, &v))
        return false;
    *out = (mc_insured_type_t)v;
    return true;
}

bool mc_visit_type_parse(const char *s, mc_visit_type_t *out)
{
    int v;
    if (out == NULL || !parse_code(visit_codes, MC_VISIT__COUNT, s, &v))
        return false;
    *out = (mc_visit_type_t)v;
    return true;
}

bool mc_reg_type_parse(const char *s, mc_reg_type_t *out)
{
    int v;
    if (out == NULL || !parse_code(reg_codes, MC_REG__COUNT, s, &v))
        return false;
    *out = (mc_reg_type_t)v;
    return true;
}
