/*
 * Levelled logging in logfmt: one line per event on stderr, each with a timestamp, the
 * level, the service and the fields the caller adds (region, topic, partition, offset,
 * claim). Messages follow PostgreSQL's style: lower case, no final period. Personal data
 * never goes into a log line beyond ids.
 */
#ifndef MC_LOG_H
#define MC_LOG_H

#include <stdbool.h>

typedef enum mc_log_level {
    MC_LOG_DEBUG = 0,
    MC_LOG_INFO,
    MC_LOG_WARN,
    MC_LOG_ERROR,
} mc_log_level_t;

/* Sets the service name and the lowest level written. Call once at start-up. */
void mc_log_init(const char *service, mc_log_level_t level);

/* Parses "debug", "info", "warn" or "error"; returns false for anything else. */
bool mc_log_level_parse(const char *s, mc_log_level_t *out);

/* Writes one line: ts=... level=... service=... msg="<formatted>". */
void mc_log(mc_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define mc_debug(...) mc_log(MC_LOG_DEBUG, __VA_ARGS__)
#define mc_info(...) mc_log(MC_LOG_INFO, __VA_ARGS__)
#define mc_warn(...) mc_log(MC_LOG_WARN, __VA_ARGS__)
#define mc_error(...) mc_log(MC_LOG_ERROR, __VA_ARGS__)

#endif
