/*
 * Names and texts of the rejection reasons. Agencies, hospitals and operators act on a
 * reason by its code, so the codes here are a wire format: each is the enum name without
 * the MC_R_ prefix and must never change once released. The texts are for people reading
 * a reply or a dead letter and may be reworded.
 */
#include "mc_reason.h"

#include <stddef.h>
#include <string.h>

struct reason_name {
    const char *code;
    const char *text;
};

/* Indexed by the enum so that a missing entry shows up as NULL in the table test. */
static const struct reason_name reasons[MC_R__COUNT] = {
    [MC_OK] = {"OK", "ok"},
    [MC_R_BAD_REQUEST] = {"BAD_REQUEST", "a required field is missing or malformed"},
    [MC_R_AMOUNT_MISMATCH] = {"AMOUNT_MISMATCH", "line amount is not quantity times unit price"},
    [MC_R_NEGATIVE_VALUE] = {"NEGATIVE_VALUE", "negative quantity, price or amount"},
    [MC_R_OVERFLOW] = {"OVERFLOW", "value or sum outside the accepted range"},
    [MC_R_UNKNOWN_REGION] = {"UNKNOWN_REGION", "region not served by this network"},
    [MC_R_UNKNOWN_HOSPITAL] = {"UNKNOWN_HOSPITAL", "hospital not known in the treating region"},
    [MC_R_UNKNOWN_PERSON] = {"UNKNOWN_PERSON", "person not insured in the insuring region"},
    [MC_R_NO_POLICY] = {"NO_POLICY", "no policy in force for this person, visit type and date"},
    [MC_R_NOT_REGISTERED] = {"NOT_REGISTERED", "no registration for the treating region"},
    [MC_R_REGISTRATION_EXPIRED] = {"REGISTRATION_EXPIRED",
                                   "registration not valid on the visit date"},
    [MC_R_NOT_ELIGIBLE] = {"NOT_ELIGIBLE", "no certified chronic disease for this visit"},
    [MC_R_UNDECODABLE] = {"UNDECODABLE", "bytes are not a medclear envelope"},
    [MC_R_UNKNOWN_TYPE] = {"UNKNOWN_TYPE", "message type or schema version not understood"},
    [MC_R_TOO_LARGE] = {"TOO_LARGE", "message larger than the accepted limit"},
    [MC_R_DUPLICATE_MODIFIED] = {"DUPLICATE_MODIFIED",
                                 "message id seen before with a different payload"},
    [MC_R_UNKNOWN_SETTLEMENT] = {"UNKNOWN_SETTLEMENT", "settlement does not exist"},
    [MC_R_ALREADY_CANCELLED] = {"ALREADY_CANCELLED", "settlement already cancelled"},
    [MC_R_TIMED_OUT] = {"TIMED_OUT", "no result within the configured time"},
    [MC_R_INTERNAL] = {"INTERNAL", "internal error, try again later"},
    [MC_R_REVERSED] = {"REVERSED", "the request was reversed before its outcome"},
    [MC_R_BAD_SIGNATURE] = {"BAD_SIGNATURE", "signature missing, of an unknown key or not matching"},
    [MC_R_REPLAYED] = {"REPLAYED", "message older than the accepted age"},
};

/*
 * A value outside the enum can only come from a corrupted or newer peer; answering with
 * a fixed string keeps callers that print the code from dereferencing NULL.
 */
static const struct reason_name unknown = {"UNKNOWN", "unknown reason"};

static const struct reason_name *lookup(mc_reason_t r)
{
    if ((int)r < 0 || (int)r >= MC_R__COUNT || reasons[r].code == NULL)
        return &unknown;
    return &reasons[r];
}

const char *mc_reason_code(mc_reason_t r) { return lookup(r)->code; }

const char *mc_reason_text(mc_reason_t r) { return lookup(r)->text; }

mc_reason_t mc_reason_from_code(const char *code)
{
    if (code == NULL)
        return MC_R__COUNT;
    for (int i = 0; i < MC_R__COUNT; i++) {
        if (reasons[i].code != NULL && strcmp(reasons[i].code, code) == 0)
            return (mc_reason_t)i;
    }
    return MC_R__COUNT;
}
