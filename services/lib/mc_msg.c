/*
 * Checks of message bodies shared by more than one service: what a ClaimResult must
 * satisfy before anyone records it.
 */
#include "mc_msg.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "mc_money.h"

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
