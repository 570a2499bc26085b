/*
 * Formatting of the few values the message path writes as text many times a second:
 * integers (statement parameters, array literals) and bytes as hex (message ids, hashes,
 * bytea literals), without printf's format parsing. Pure functions, no allocation.
 */
#ifndef MC_TEXT_H
#define MC_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Longest decimal text of an int64 ("-9223372036854775808") with its NUL. */
#define MC_INT_TEXT_MAX 21

/* Writes v in decimal and a NUL into out (at least MC_INT_TEXT_MAX bytes); returns the
 * number of characters written before the NUL. */
int mc_format_int(char *out, int64_t v);

/* Writes the 2 * len lowercase hex digits of data and a NUL into out (at least
 * 2 * len + 1 bytes); returns 2 * len. */
size_t mc_hex(char *out, const uint8_t *data, size_t len);

#endif
