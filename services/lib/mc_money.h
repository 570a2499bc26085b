/*
 * Integer money arithmetic. Money is int64 fen, ratios are basis points (1/10000),
 * quantities are milli-units. Rounding is half-up (half away from zero for negative
 * values) and is applied only where DESIGN.md section 5 says. Intermediate products are
 * computed in 128 bits so that no accepted input can overflow.
 */
#ifndef MC_MONEY_H
#define MC_MONEY_H

#include <stdbool.h>
#include <stdint.h>

/* Largest amount, price or quantity accepted anywhere: 10^12 (ten billion yuan in fen). */
#define MC_MONEY_MAX INT64_C(1000000000000)

/* round_half_up(a * b / den); den > 0. Result is saturated to +-INT64_MAX. */
static inline int64_t mc_mul_div_round(int64_t a, int64_t b, int64_t den)
{
    __int128 p = (__int128)a * b;
    bool neg = p < 0;
    if (neg)
        p = -p;
    __int128 q = (p + den / 2) / den;
    if (q > INT64_MAX)
        q = INT64_MAX;
    return neg ? -(int64_t)q : (int64_t)q;
}

static inline int64_t mc_min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t mc_max64(int64_t a, int64_t b) { return a > b ? a : b; }

#endif
