/*
 * Calendar dates as int32 yyyymmdd, the form they travel in on the bus, and their text
 * form YYYY-MM-DD used by PostgreSQL and the data files.
 */
#ifndef MC_DATE_H
#define MC_DATE_H

#include <stdbool.h>
#include <stdint.h>

/* True for a real Gregorian date between 1900-01-01 and 9999-12-31. */
bool mc_date_valid(int32_t ymd);

/* Writes "YYYY-MM-DD" into out[11]. */
void mc_date_format(int32_t ymd, char out[11]);

/* Parses "YYYY-MM-DD" or "YYYYMMDD" into a valid date; false otherwise. */
bool mc_date_parse(const char *s, int32_t *out);

#endif
