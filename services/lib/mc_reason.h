/*
 * Stable rejection reasons. A reason is a value, not a log line: its code travels in
 * result messages, replies and dead-letter headers, so agencies and operators can act on
 * it by name. Codes are never renumbered or renamed; new ones are appended.
 */
#ifndef MC_REASON_H
#define MC_REASON_H

typedef enum mc_reason {
    MC_OK = 0,
    MC_R_BAD_REQUEST,         /* a required field is missing or malformed */
    MC_R_AMOUNT_MISMATCH,     /* a fee line's amount is not round(quantity x price) */
    MC_R_NEGATIVE_VALUE,      /* a quantity, price or amount is negative */
    MC_R_OVERFLOW,            /* a value or a sum is outside the accepted range */
    MC_R_UNKNOWN_REGION,      /* a region code this network does not serve */
    MC_R_UNKNOWN_HOSPITAL,    /* hospital not known in the treating region */
    MC_R_UNKNOWN_PERSON,      /* person not insured in the insuring region */
    MC_R_NO_POLICY,           /* no policy in force for the person, visit type and date */
    MC_R_NOT_REGISTERED,      /* no registration for the treating region */
    MC_R_REGISTRATION_EXPIRED,/* a registration exists but not valid on the visit date */
    MC_R_NOT_ELIGIBLE,        /* chronic visit without a certified disease */
    MC_R_UNDECODABLE,         /* bytes are not a medclear envelope */
    MC_R_UNKNOWN_TYPE,        /* envelope body or schema version not understood */
    MC_R_TOO_LARGE,           /* message larger than the accepted limit */
    MC_R_DUPLICATE_MODIFIED,  /* message id seen before with a different payload */
    MC_R_UNKNOWN_SETTLEMENT,  /* cancel of a settlement that does not exist */
    MC_R_ALREADY_CANCELLED,   /* cancel of a settlement already cancelled */
    MC_R_TIMED_OUT,           /* no result within the configured time */
    MC_R_INTERNAL,            /* the service could not process it (database error) */
    MC_R_REVERSED,            /* the request was reversed (2601) before its outcome */
    MC_R_BAD_SIGNATURE,       /* signature missing, of an unknown key, or not matching */
    MC_R_REPLAYED,            /* message older than the accepted age: refused as a replay */
    MC_R__COUNT
} mc_reason_t;

/* Stable upper-case code, e.g. "NOT_REGISTERED"; never NULL. */
const char *mc_reason_code(mc_reason_t r);

/* Short English description; never NULL. */
const char *mc_reason_text(mc_reason_t r);

/* Parses a code back to its value; returns MC_R__COUNT when unknown. */
mc_reason_t mc_reason_from_code(const char *code);

#endif
