/*
 * Checks of message bodies: pure functions of a decoded body, shared by the services
 * and fuzzed on their own (tests/fuzz).
 */
#ifndef MC_MSG_H
#define MC_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc_reason.h"
#include "medclear.pb-c.h"

/*
 * Checks a settlement request's shape and fee lines as the treating region does before
 * splitting it: treating_region is region (the intake topic's), person, insuring region,
 * date, visit type, 1..2000 lines with distinct line numbers, item codes and
 * amount = round(quantity x price). Returns MC_OK or a reason with text naming the field
 * or the line.
 */
mc_reason_t mc_msg_check_request(const Medclear__SettlementRequest *req, const char *region,
                                 char *text, size_t text_size);

/*
 * Checks a claim's shape and that its split adds up, as the insuring region does before
 * adjudicating it; an undo (CANCEL, REVERSE) needs its settlement id and negated totals.
 * Returns MC_OK or a reason with text.
 */
mc_reason_t mc_msg_check_claim(const Medclear__Claim *c, char *text, size_t text_size);

/*
 * Checks a claim result against the total of its claim: an accepted result has a
 * payment whose amounts are within range (0..MC_MONEY_MAX, negated for a CANCEL or
 * REVERSE) and add up to total_fen. A rejected result passes. Returns MC_OK or a reason with text naming the problem.
 */
mc_reason_t mc_msg_check_result(const Medclear__ClaimResult *res, int64_t total_fen, char *text,
                                size_t text_size);

/* The status a claim takes from its result: "SETTLED", "COMPUTED" (an accepted
 * PRESETTLE) or "REJECTED". books is false for a PRESETTLE claim, true for the kinds
 * that change the books (SETTLE, CANCEL, REVERSE). */
const char *mc_msg_result_status(const Medclear__ClaimResult *res, bool books);

#endif
