/*
 * The text the message path writes and reads many times a second: integers (statement
 * parameters, array literals) and bytes as hex (message ids, hashes, bytea literals),
 * written without printf's format parsing; and the text form of an array of composite
 * values that PostgreSQL returns (a claim's fee lines), read in one pass. No database
 * connection and no state: only mc_composites_parse() allocates.
 */
#ifndef MC_TEXT_H
#define MC_TEXT_H

#include <stdbool.h>
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

/* Reads s, all of it, as a decimal int64 (an optional minus sign, then digits) into v.
 * Returns false, v unchanged, for anything else or a value out of range. */
bool mc_parse_int(const char *s, int64_t *v);

/* qsort()/bsearch() comparator of an array of C strings (const char *), by strcmp(). */
int mc_compare_strings(const void *a, const void *b);

/* The elements of an array of composite values, from the text PostgreSQL writes for it
 * ({"(1,a,\"\")",...}: array_out over record_out). */
typedef struct mc_composites {
    int n;        /* elements */
    int n_fields; /* fields of each */
    char **field; /* field j of element i at [i * n_fields + j]; NULL for an SQL NULL */
    char *text;   /* where the fields are kept */
} mc_composites_t;

/* Parses text into c: every element must be a composite value of n_fields fields (not
 * NULL). Returns false, and c empty, when the text is not such an array. c is freed by
 * mc_composites_free() either way. */
bool mc_composites_parse(mc_composites_t *c, const char *text, int n_fields);
void mc_composites_free(mc_composites_t *c);

#endif
