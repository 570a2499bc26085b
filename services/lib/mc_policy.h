/*
 * Payment at the insuring region (DESIGN.md section 5.2). Given a claim's split totals,
 * the insuring region's policy, the person's registration and year-to-date accumulators,
 * computes deductible, pooled fund, tier 2, personal account and cash in the exact order
 * of the design, and the accumulator changes a SETTLE makes. Pure functions, no I/O: the
 * insuring service loads the inputs under a row lock on the person's accumulators and
 * stores the outputs.
 */
#ifndef MC_POLICY_H
#define MC_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "mc_reason.h"

typedef enum mc_insured_type {
    MC_INSURED_EMPLOYEE = 0, /* 职工 */
    MC_INSURED_RESIDENT,     /* 居民 */
    MC_INSURED__COUNT
} mc_insured_type_t;

typedef enum mc_visit_type {
    MC_VISIT_OUTPATIENT = 0,
    MC_VISIT_CHRONIC, /* 门诊慢特病 */
    MC_VISIT_INPATIENT,
    MC_VISIT__COUNT
} mc_visit_type_t;

typedef enum mc_reg_type {
    MC_REG_NONE = 0, /* no registration applies */
    MC_REG_LONG_TERM,
    MC_REG_TEMP_REFERRAL,
    MC_REG_TEMP_EMERGENCY,
    MC_REG_TEMP_OTHER,
    MC_REG__COUNT
} mc_reg_type_t;

typedef enum mc_ded_scope {
    MC_DED_PER_VISIT = 0,
    MC_DED_PER_YEAR,
} mc_ded_scope_t;

/* One policy version for (insuring region, insured type, visit type). */
typedef struct mc_policy {
    int64_t deductible_fen;
    mc_ded_scope_t deductible_scope;
    int32_t ratio_bp[3];                   /* by hospital level 1, 2, 3 */
    int64_t annual_cap_fen;                /* pooled fund, per cap group and year */
    int32_t tier2_ratio_bp;                /* 大额 / 大病 */
    int64_t tier2_cap_fen;                 /* per year */
    bool account_allowed;                  /* personal account may pay cross-region */
    int32_t reduction_bp[MC_REG__COUNT];   /* ratio reduction by registration type */
} mc_policy_t;

/* One registration (备案) of a person for a treating region. Dates are yyyymmdd. */
typedef struct mc_registration {
    mc_reg_type_t type;
    int32_t valid_from; /* yyyymmdd */
    int32_t valid_to;   /* yyyymmdd inclusive; 0 = open-ended */
} mc_registration_t;

/* Year-to-date accumulators of one person for one cap group and calendar year. */
typedef struct mc_accum {
    int64_t ytd_deductible_fen;
    int64_t ytd_fund_paid_fen;
    int64_t ytd_tier2_paid_fen;
} mc_accum_t;

/* What the insuring region computes for one claim. */
typedef struct mc_payment {
    int64_t total_fen;      /* T */
    int64_t in_scope_fen;   /* S */
    int64_t deductible_fen; /* deductible applied to this claim */
    int64_t eligible_fen;   /* S - deductible */
    int32_t ratio_bp;       /* ratio after reduction */
    int64_t fund_fen;       /* pooled fund */
    int64_t above_cap_fen;  /* eligible amount above the pooled cap */
    int64_t tier2_fen;
    int64_t person_fen;     /* T - fund - tier2: the person's burden */
    int64_t account_fen;
    int64_t cash_fen;
} mc_payment_t;

/*
 * Checks a policy's parameters: amounts >= 0 and <= MC_MONEY_MAX, ratios within
 * 0..10000. Returns MC_OK or MC_R_BAD_REQUEST.
 */
mc_reason_t mc_policy_check(const mc_policy_t *p);

/*
 * Chooses the registration that applies to a visit on visit_date (yyyymmdd) from the
 * person's registrations for the treating region (regs may be NULL when n == 0).
 * A valid LONG_TERM registration is preferred over a temporary one. An emergency visit
 * without a valid registration counts as MC_REG_TEMP_EMERGENCY. Chronic visits need
 * chronic_certified. Returns MC_OK and sets *out, or MC_R_NOT_REGISTERED (no registration
 * at all), MC_R_REGISTRATION_EXPIRED (registrations exist, none valid on that date) or
 * MC_R_NOT_ELIGIBLE (checked first), or MC_R_BAD_REQUEST for malformed input (unknown
 * visit or registration type, impossible date, valid_to before valid_from).
 */
mc_reason_t mc_policy_registration(const mc_registration_t *regs, int n, int32_t visit_date,
                                   bool emergency, mc_visit_type_t visit,
                                   bool chronic_certified, mc_reg_type_t *out);

/*
 * Computes the payment of one claim (DESIGN.md 5.2 steps 1-6). total_fen is T,
 * in_scope_fen is S (0 <= S <= T), hospital_level is 1..3, account_balance_fen >= 0.
 * acc holds the accumulators before this claim. Returns MC_OK, or MC_R_BAD_REQUEST /
 * MC_R_NEGATIVE_VALUE / MC_R_OVERFLOW for inputs out of range; out is set only on MC_OK.
 */
mc_reason_t mc_policy_pay(const mc_policy_t *p, mc_reg_type_t reg, int hospital_level,
                          int64_t total_fen, int64_t in_scope_fen, const mc_accum_t *acc,
                          int64_t account_balance_fen, mc_payment_t *out);

/*
 * Applies a SETTLE's accumulator changes (step 7): ytd_deductible += deductible (PER_YEAR
 * only), ytd_fund_paid += fund, ytd_tier2_paid += tier2; *account_balance -= account.
 * sign is +1 for a settle and -1 to undo it exactly (cancel, reversal); any other sign, or
 * a NULL p, pay or acc, changes nothing. account_balance_fen may be NULL.
 */
void mc_policy_apply(const mc_policy_t *p, const mc_payment_t *pay, int sign, mc_accum_t *acc,
                     int64_t *account_balance_fen);

/* Stable codes and parsers for the enums ("EMPLOYEE", "INPATIENT", "LONG_TERM", ...). */
const char *mc_insured_type_code(mc_insured_type_t t);
const char *mc_visit_type_code(mc_visit_type_t v);
const char *mc_reg_type_code(mc_reg_type_t r);
bool mc_insured_type_parse(const char *s, mc_insured_type_t *out);
bool mc_visit_type_parse(const char *s, mc_visit_type_t *out);
bool mc_reg_type_parse(const char *s, mc_reg_type_t *out);

#endif
