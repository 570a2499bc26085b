/*
 * Checks of message bodies, pure functions of the decoded message: what a settlement
 * request must satisfy before the treating region splits it, a claim before the insuring
 * region adjudicates it, and a ClaimResult before anyone records it. Kept apart from the
 * handlers so that they are unit-tested and fuzzed without a database (tests/fuzz).
 */
#include "mc_msg.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mc_bus.h"
#include "mc_date.h"
#include "mc_money.h"
#include "mc_split.h"

#define MAX_LINES 2000
#define MAX_LINE_NO 99999

static bool valid_item_code(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  c == '.' || c == '-' || c == '_';
        if (!ok || n >= 64)
            return false;
    }
    return n > 0;
}

/* The visit date and type of a request or claim; false with text filled when wrong. */
static bool check_visit(int32_t date, Medclear__VisitType type, char *text, size_t text_size)
{
    if (!mc_date_valid(date)) {
        snprintf(text, text_size, "visit_date %d is not a valid yyyymmdd date", date);
        return false;
    }
    if (type != MEDCLEAR__VISIT_TYPE__OUTPATIENT && type != MEDCLEAR__VISIT_TYPE__CHRONIC &&
        type != MEDCLEAR__VISIT_TYPE__INPATIENT) {
        snprintf(text, text_size, "visit_type %d is not known", (int)type);
        return false;
    }
    return true;
}

mc_reason_t mc_msg_check_request(const Medclear__SettlementRequest *req, const char *region,
                                 char *text, size_t text_size)
{
    if (strcmp(req->treating_region, region) != 0) {
        snprintf(text, text_size, "treating_region \"%.8s\" does not match intake topic region %s",
                 req->treating_region, region);
        return MC_R_BAD_REQUEST;
    }
    if (!mc_valid_id(req->person_id, MC_ID_MAX)) {
        snprintf(text, text_size, "person_id missing or not printable ASCII of at most %d",
                 MC_ID_MAX);
        return MC_R_BAD_REQUEST;
    }
    if (!mc_valid_region(req->insuring_region)) {
        snprintf(text, text_size, "insuring_region \"%.8s\" is not a 6-digit region code",
                 req->insuring_region);
        return MC_R_UNKNOWN_REGION;
    }
    if (!check_visit(req->visit_date, req->visit_type, text, text_size))
        return MC_R_BAD_REQUEST;
    if (req->n_lines == 0 || req->n_lines > MAX_LINES) {
        snprintf(text, text_size, "a request needs 1 to %d fee lines, got %zu", MAX_LINES,
                 req->n_lines);
        return MC_R_BAD_REQUEST;
    }
    static _Thread_local uint8_t seen[MAX_LINE_NO / 8 + 1];
    memset(seen, 0, sizeof(seen));
    for (size_t i = 0; i < req->n_lines; i++) {
        const Medclear__FeeLine *l = req->lines[i];
        if (l->line_no < 1 || l->line_no > MAX_LINE_NO) {
            snprintf(text, text_size, "line %zu: line_no %d outside 1..%d", i + 1, l->line_no,
                     MAX_LINE_NO);
            return MC_R_BAD_REQUEST;
        }
        if (seen[l->line_no / 8] & (1u << (l->line_no % 8))) {
            snprintf(text, text_size, "line %d: line_no appears twice", l->line_no);
            return MC_R_BAD_REQUEST;
        }
        seen[l->line_no / 8] |= (uint8_t)(1u << (l->line_no % 8));
        if (!valid_item_code(l->item_code)) {
            snprintf(text, text_size,
                     "line %d: item_code missing or not 1-64 characters of A-Z a-z 0-9 . - _",
                     l->line_no);
            return MC_R_BAD_REQUEST;
        }
        mc_fee_line_t fl = {l->quantity_milli, l->unit_price_fen, l->amount_fen};
        mc_reason_t r = mc_split_check_line(&fl);
        if (r == MC_R_AMOUNT_MISMATCH) {
            snprintf(text, text_size,
                     "line %d: amount_fen %" PRId64 " is not quantity_milli %" PRId64
                     " x unit_price_fen %" PRId64 " / 1000 = %" PRId64,
                     l->line_no, l->amount_fen, l->quantity_milli, l->unit_price_fen,
                     mc_mul_div_round(l->quantity_milli, l->unit_price_fen, 1000));
            return r;
        }
        if (r != MC_OK) {
            snprintf(text, text_size, "line %d: quantity, price or amount %s", l->line_no,
                     r == MC_R_NEGATIVE_VALUE ? "is negative" : "is out of range");
            return r;
        }
    }
    return MC_OK;
}

mc_reason_t mc_msg_check_claim(const Medclear__Claim *c, char *text, size_t text_size)
{
    bool undo = c->kind == MEDCLEAR__KIND__CANCEL || c->kind == MEDCLEAR__KIND__REVERSE;
    if (c->kind != MEDCLEAR__KIND__SETTLE && c->kind != MEDCLEAR__KIND__PRESETTLE && !undo) {
        snprintf(text, text_size, "claim kind %s is not known", mc_kind_code(c->kind));
        return MC_R_UNKNOWN_TYPE;
    }
    if (undo) {
        /* An undo names the settlement and carries its totals negated, without lines. */
        if (!mc_valid_id(c->settlement_id, MC_ID_MAX) || !c->totals) {
            snprintf(text, text_size, "an undo needs the settlement_id and the negated totals");
            return MC_R_BAD_REQUEST;
        }
        const Medclear__SplitTotals *t = c->totals;
        if (t->total_fen > 0 || t->total_fen < -MC_MONEY_MAX) {
            snprintf(text, text_size, "an undo's total must be the negated original total");
            return MC_R_AMOUNT_MISMATCH;
        }
        return MC_OK;
    }
    if (!mc_valid_id(c->person_id, MC_ID_MAX) || !mc_valid_id(c->hospital_code, MC_ID_MAX) ||
        !mc_valid_id(c->request_id, MC_ID_MAX)) {
        snprintf(text, text_size, "person_id, hospital_code or request_id missing or malformed");
        return MC_R_BAD_REQUEST;
    }
    if (!mc_valid_region(c->treating_region)) {
        snprintf(text, text_size, "treating_region is not a 6-digit region code");
        return MC_R_UNKNOWN_REGION;
    }
    if (c->hospital_level < 1 || c->hospital_level > 3) {
        snprintf(text, text_size, "hospital_level %d outside 1..3", c->hospital_level);
        return MC_R_BAD_REQUEST;
    }
    if (!check_visit(c->visit_date, c->visit_type, text, text_size))
        return MC_R_BAD_REQUEST;
    if (!c->totals || c->n_lines == 0) {
        snprintf(text, text_size, "claim has no totals or no lines");
        return MC_R_BAD_REQUEST;
    }
    /* The lines must add up to the totals, and each line's parts to its amount. */
    int64_t sum[5] = {0};
    for (size_t i = 0; i < c->n_lines; i++) {
        const Medclear__LineSplit *l = c->lines[i];
        int64_t parts[5] = {l->amount_fen, l->full_self_pay_fen, l->over_limit_fen,
                            l->self_pay_first_fen, l->in_scope_fen};
        for (int k = 0; k < 5; k++) {
            if (parts[k] < 0 || parts[k] > MC_MONEY_MAX) {
                snprintf(text, text_size, "line %d: amount negative or out of range", l->line_no);
                return parts[k] < 0 ? MC_R_NEGATIVE_VALUE : MC_R_OVERFLOW;
            }
            sum[k] += parts[k];
            if (sum[k] > MC_MONEY_MAX) {
                snprintf(text, text_size, "claim total exceeds the accepted range");
                return MC_R_OVERFLOW;
            }
        }
        if (parts[1] + parts[2] + parts[3] + parts[4] != parts[0]) {
            snprintf(text, text_size, "line %d: split parts do not add up to its amount",
                     l->line_no);
            return MC_R_AMOUNT_MISMATCH;
        }
    }
    const Medclear__SplitTotals *t = c->totals;
    if (sum[0] != t->total_fen || sum[1] != t->full_self_pay_fen || sum[2] != t->over_limit_fen ||
        sum[3] != t->self_pay_first_fen || sum[4] != t->in_scope_fen) {
        snprintf(text, text_size, "claim totals are not the sums of its lines");
        return MC_R_AMOUNT_MISMATCH;
    }
    return MC_OK;
}


mc_reason_t mc_msg_check_result(const Medclear__ClaimResult *res, int64_t total, char *text,
                                size_t text_size)
{
    if (res->status == MEDCLEAR__STATUS__REJECTED)
        return MC_OK;
    if (res->status != MEDCLEAR__STATUS__ACCEPTED || !res->payment) {
        snprintf(text, text_size, "result has no status or no payment");
        return MC_R_BAD_REQUEST;
    }
    const Medclear__Payment *pay = res->payment;
    int64_t parts[] = {pay->fund_fen, pay->tier2_fen, pay->account_fen, pay->cash_fen,
                       pay->deductible_fen};
    /* An undo (cancel, reversal) carries the undone amounts negated. */
    bool undo = res->kind == MEDCLEAR__KIND__CANCEL || res->kind == MEDCLEAR__KIND__REVERSE;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        int64_t v = undo ? -parts[i] : parts[i];
        if (v < 0 || v > MC_MONEY_MAX) {
            snprintf(text, text_size, "payment amount %s or out of range",
                     undo ? "positive in an undo" : "negative");
            return v < 0 ? MC_R_NEGATIVE_VALUE : MC_R_OVERFLOW;
        }
    }
    if (pay->fund_fen + pay->tier2_fen + pay->account_fen + pay->cash_fen != total) {
        snprintf(text, text_size,
                 "fund %" PRId64 " + tier2 %" PRId64 " + account %" PRId64 " + cash %" PRId64
                 " is not the claim total %" PRId64,
                 pay->fund_fen, pay->tier2_fen, pay->account_fen, pay->cash_fen, total);
        return MC_R_AMOUNT_MISMATCH;
    }
    return MC_OK;
}


const char *mc_msg_result_status(const Medclear__ClaimResult *res, bool books)
{
    if (res->status != MEDCLEAR__STATUS__ACCEPTED)
        return "REJECTED";
    return books ? "SETTLED" : "COMPUTED";
}
