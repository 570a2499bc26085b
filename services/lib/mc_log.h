/*
 * Levelled logging: one line per event on stderr, in logfmt (the default) or as JSON
 * lines (log.format = json), each with a timestamp, the level, the service and the
 * context of the message being handled when there is one (region, topic, partition,
 * offset, message key, message id, claim). The service loop sets that context around
 * each message, so a handler's lines carry it without naming it. Messages follow
 * PostgreSQL's style: lower case, no final period. Personal data never goes into a log
 * line beyond ids.
 */
#ifndef MC_LOG_H
#define MC_LOG_H

#include <stdbool.h>
#include <stdint.h>

typedef enum mc_log_level {
    MC_LOG_DEBUG = 0,
    MC_LOG_INFO,
    MC_LOG_WARN,
    MC_LOG_ERROR,
} mc_log_level_t;

typedef enum mc_log_format {
    MC_LOG_LOGFMT = 0, /* ts=... level=info service=treating msg="..." */
    MC_LOG_JSON,       /* {"ts":"...","level":"info","service":"treating","msg":"..."} */
} mc_log_format_t;

/* Sets the service name and the lowest level written. Call once at start-up. */
void mc_log_init(const char *service, mc_log_level_t level);

/* Parses "debug", "info", "warn" or "error"; returns false for anything else. */
bool mc_log_level_parse(const char *s, mc_log_level_t *out);

/* Parses "logfmt" or "json"; returns false for anything else. */
bool mc_log_format_parse(const char *s, mc_log_format_t *out);

/* Sets the line format (logfmt until called). Call at start-up, before other threads. */
void mc_log_set_format(mc_log_format_t format);

/*
 * The context of the calling thread's lines: the Kafka message being handled. Strings
 * are copied; NULL or "" leaves a field out, partition or offset < 0 leaves it out.
 * mc_log_context_clear() ends it. Other threads' lines are not affected.
 */
void mc_log_context_message(const char *topic, int32_t partition, int64_t offset,
                            const char *key);
/* Adds the decoded envelope's source region and message id to the context. */
void mc_log_context_envelope(const char *region, const char *message_id);
/* Adds the claim id a handler is working on to the context. */
void mc_log_context_claim(const char *claim_id);
void mc_log_context_clear(void);

/* Writes one line with the context, then msg="<formatted>". */
void mc_log(mc_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define mc_debug(...) mc_log(MC_LOG_DEBUG, __VA_ARGS__)
#define mc_info(...) mc_log(MC_LOG_INFO, __VA_ARGS__)
#define mc_warn(...) mc_log(MC_LOG_WARN, __VA_ARGS__)
#define mc_error(...) mc_log(MC_LOG_ERROR, __VA_ARGS__)

#endif
