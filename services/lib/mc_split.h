/*
 * Fee split at the treating region (DESIGN.md section 5.1). The treating region applies
 * its own catalog to every fee line of a request and divides the line's amount into four
 * parts: fully self-paid, over the price ceiling, self-pay first, and in scope. These are
 * pure functions with no I/O: the catalog lookup is done by the caller, which hands each
 * line together with the catalog item in force on the visit date (or NULL).
 */
#ifndef MC_SPLIT_H
#define MC_SPLIT_H

#include <stdbool.h>
#include <stdint.h>

#include "mc_reason.h"

typedef enum mc_item_class {
    MC_CLASS_NONE = 0, /* not in the catalog */
    MC_CLASS_A,        /* 甲: fully in scope */
    MC_CLASS_B,        /* 乙: self-pay-first ratio applies */
    MC_CLASS_C,        /* 丙: not covered */
} mc_item_class_t;

/* One catalog item as in force on the visit date. */
typedef struct mc_catalog_item {
    mc_item_class_t cls;
    int32_t self_pay_first_bp; /* class B only, 0..10000 */
    int64_t price_ceiling_fen; /* per unit; 0 = no ceiling */
} mc_catalog_item_t;

/* One fee line as sent by the hospital. */
typedef struct mc_fee_line {
    int64_t quantity_milli;
    int64_t unit_price_fen;
    int64_t amount_fen;
} mc_fee_line_t;

/* The split of one line. The four parts always add up to amount_fen. */
typedef struct mc_line_split {
    mc_item_class_t cls; /* MC_CLASS_NONE when the item is not in the catalog */
    int64_t amount_fen;
    int64_t full_self_pay_fen;
    int64_t over_limit_fen;
    int64_t self_pay_first_fen;
    int64_t in_scope_fen;
} mc_line_split_t;

/* Sum of the splits of all lines of a claim. */
typedef struct mc_split_total {
    int64_t total_fen;
    int64_t full_self_pay_fen;
    int64_t over_limit_fen;
    int64_t self_pay_first_fen;
    int64_t in_scope_fen;
} mc_split_total_t;

/*
 * Checks a fee line: quantity, price and amount are within 0..MC_MONEY_MAX and
 * amount_fen == round_half_up(quantity_milli * unit_price_fen / 1000).
 * Returns MC_OK, MC_R_NEGATIVE_VALUE, MC_R_OVERFLOW or MC_R_AMOUNT_MISMATCH (checked in
 * that order), or MC_R_BAD_REQUEST when line is NULL.
 */
mc_reason_t mc_split_check_line(const mc_fee_line_t *line);

/*
 * Splits one line that passed mc_split_check_line(). item is the catalog item in force,
 * or NULL when the code is not in the catalog. Returns MC_OK, or MC_R_BAD_REQUEST when the
 * item itself is invalid (class unknown, ratio outside 0..10000, ceiling outside
 * 0..MC_MONEY_MAX) or the line does not pass mc_split_check_line().
 */
mc_reason_t mc_split_line(const mc_fee_line_t *line, const mc_catalog_item_t *item,
                          mc_line_split_t *out);

/*
 * Adds one line's split to a running total. Returns MC_R_OVERFLOW when the total would
 * exceed MC_MONEY_MAX, leaving total unchanged; MC_R_BAD_REQUEST when an argument is NULL
 * or is not a split mc_split_line() could produce (part outside 0..MC_MONEY_MAX, parts
 * not adding up to the amount).
 */
mc_reason_t mc_split_add(mc_split_total_t *total, const mc_line_split_t *line);

/* Stable one-letter code of a class: "A", "B", "C", or "" for MC_CLASS_NONE. */
const char *mc_item_class_code(mc_item_class_t cls);

/* Parses "A", "B" or "C"; returns false for anything else. */
bool mc_item_class_parse(const char *s, mc_item_class_t *out);

#endif
