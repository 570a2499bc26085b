/*
 * Fee split at the treating region (DESIGN.md 5.1). Every fee line a hospital sends is
 * first checked for arithmetic honesty (amount = quantity x price, rounded half up to the
 * fen), then divided by the treating region's catalog into the four parts the insuring
 * region and the patient care about. The insuring region only ever sees these parts, so
 * the rounding here must be reproducible bit for bit by any other implementation: it
 * happens exactly where the design says and nowhere else.
 */
#include "mc_split.h"

#include <stddef.h>
#include <string.h>

#include "mc_money.h"

mc_reason_t mc_split_check_line(const mc_fee_line_t *line)
{
    if (line == NULL)
        return MC_R_BAD_REQUEST;

    /*
     * Negative values are reported before overflowing ones so that a line with both
     * gets the same reason whatever order its fields were filled in.
     */
    const int64_t v[3] = {line->quantity_milli, line->unit_price_fen, line->amount_fen};
    for (int i = 0; i < 3; i++) {
        if (v[i] < 0)
            return MC_R_NEGATIVE_VALUE;
    }
    for (int i = 0; i < 3; i++) {
        if (v[i] > MC_MONEY_MAX)
            return MC_R_OVERFLOW;
    }

    /*
     * The product of two accepted values may reach 10^24; mc_mul_div_round works in 128
     * bits and saturates, and a saturated result can never equal an accepted amount.
     */
    int64_t expect = mc_mul_div_round(line->quantity_milli, line->unit_price_fen, 1000);
    if (expect != line->amount_fen)
        return MC_R_AMOUNT_MISMATCH;
    return MC_OK;
}

static bool item_valid(const mc_catalog_item_t *item)
{
    switch (item->cls) {
    case MC_CLASS_NONE:
    case MC_CLASS_A:
    case MC_CLASS_B:
    case MC_CLASS_C:
        break;
    default:
        return false;
    }
    /*
     * The ratio is validated for every class, not only B: a catalog row with a ratio out
     * of range is corrupt, and splitting with it would hide the corruption.
     */
    if (item->self_pay_first_bp < 0 || item->self_pay_first_bp > 10000)
        return false;
    if (item->price_ceiling_fen < 0 || item->price_ceiling_fen > MC_MONEY_MAX)
        return false;
    return true;
}

mc_reason_t mc_split_line(const mc_fee_line_t *line, const mc_catalog_item_t *item,
                          mc_line_split_t *out)
{
    if (line == NULL || out == NULL)
        return MC_R_BAD_REQUEST;
    /*
     * A line that was not checked breaks the caller's contract; splitting it anyway could
     * produce negative parts that would then travel to the insuring region.
     */
    if (mc_split_check_line(line) != MC_OK)
        return MC_R_BAD_REQUEST;
    if (item != NULL && !item_valid(item))
        return MC_R_BAD_REQUEST;

    mc_line_split_t s;
    memset(&s, 0, sizeof(s));
    s.cls = item != NULL ? item->cls : MC_CLASS_NONE;
    s.amount_fen = line->amount_fen;

    /* Step 2: not in the catalog or class C: the patient pays all of it. */
    if (s.cls == MC_CLASS_NONE || s.cls == MC_CLASS_C) {
        s.full_self_pay_fen = line->amount_fen;
        *out = s;
        return MC_OK;
    }

    /* Step 3: the ceiling is per unit, so it scales with the (fractional) quantity. */
    if (item->price_ceiling_fen > 0) {
        int64_t allowed = mc_mul_div_round(item->price_ceiling_fen, line->quantity_milli, 1000);
        s.over_limit_fen = mc_max64(0, line->amount_fen - allowed);
    }
    int64_t base = line->amount_fen - s.over_limit_fen;

    /* Step 4: only class B has a self-pay-first share. */
    if (s.cls == MC_CLASS_B)
        s.self_pay_first_fen = mc_mul_div_round(base, item->self_pay_first_bp, 10000);

    /* Step 5. */
    s.in_scope_fen = base - s.self_pay_first_fen;
    *out = s;
    return MC_OK;
}

/* A split part is sane when it lies in 0..MC_MONEY_MAX. */
static bool part_ok(int64_t v) { return v >= 0 && v <= MC_MONEY_MAX; }

static bool split_sane(const mc_line_split_t *l)
{
    if (!part_ok(l->amount_fen) || !part_ok(l->full_self_pay_fen) ||
        !part_ok(l->over_limit_fen) || !part_ok(l->self_pay_first_fen) ||
        !part_ok(l->in_scope_fen))
        return false;
    /* Parts are each <= 10^12, so the sum cannot overflow int64. */
    return l->full_self_pay_fen + l->over_limit_fen + l->self_pay_first_fen +
               l->in_scope_fen ==
           l->amount_fen;
}

static bool total_sane(const mc_split_total_t *t)
{
    if (!part_ok(t->total_fen) || !part_ok(t->full_self_pay_fen) ||
        !part_ok(t->over_limit_fen) || !part_ok(t->self_pay_first_fen) ||
        !part_ok(t->in_scope_fen))
        return false;
    return t->full_self_pay_fen + t->over_limit_fen + t->self_pay_first_fen +
               t->in_scope_fen ==
           t->total_fen;
}

mc_reason_t mc_split_add(mc_split_total_t *total, const mc_line_split_t *line)
{
    /*
     * Inputs that mc_split_line() cannot produce are refused rather than summed: adding
     * them could overflow int64 (undefined behaviour) or break the four-part invariant.
     */
    if (total == NULL || line == NULL || !total_sane(total) || !split_sane(line))
        return MC_R_BAD_REQUEST;

    /*
     * Each part is at most the line's amount and each total part at most the claim total,
     * but the parts are checked one by one anyway: a caller may have built the total by
     * hand, and the check costs nothing.
     */
    if (line->amount_fen > MC_MONEY_MAX - total->total_fen ||
        line->full_self_pay_fen > MC_MONEY_MAX - total->full_self_pay_fen ||
        line->over_limit_fen > MC_MONEY_MAX - total->over_limit_fen ||
        line->self_pay_first_fen > MC_MONEY_MAX - total->self_pay_first_fen ||
        line->in_scope_fen > MC_MONEY_MAX - total->in_scope_fen)
        return MC_R_OVERFLOW;

    total->total_fen += line->amount_fen;
    total->full_self_pay_fen += line->full_self_pay_fen;
    total->over_limit_fen += line->over_limit_fen;
    total->self_pay_first_fen += line->self_pay_first_fen;
    total->in_scope_fen += line->in_scope_fen;
    return MC_OK;
}

const char *mc_item_class_code(mc_item_class_t cls)
{
    switch (cls) {
    case MC_CLASS_A:
        return "A";
    case MC_CLASS_B:
        return "B";
    case MC_CLASS_C:
        return "C";
    default:
        return "";
    }
}

bool mc_item_class_parse(const char *s, mc_item_class_t *out)
{
    if (s == NULL || out == NULL)
        return false;
    /* Exact, case-sensitive match: codes are a wire format, not user input. */
    if (strcmp(s, "A") == 0)
        *out = MC_CLASS_A;
    else if (strcmp(s, "B") == 0)
        *out = MC_CLASS_B;
    else if (strcmp(s, "C") == 0)
        *out = MC_CLASS_C;
    else
        return false;
    return true;
}
