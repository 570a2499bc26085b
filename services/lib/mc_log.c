/*
 * Logfmt writer behind the mc_log macros. The formatted message is quoted and its
 * quotes and newlines escaped so that one event is always one greppable line.
 */
#include "mc_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *log_service = "medclear";
static mc_log_level_t log_min = MC_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void mc_log_init(const char *service, mc_log_level_t level)
{
    log_service = service;
    log_min = level;
}

bool mc_log_level_parse(const char *s, mc_log_level_t *out)
{
    for (int i = 0; i <= MC_LOG_ERROR; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (mc_log_level_t)i;
            return true;
        }
    }
    return false;
}

void mc_log(mc_log_level_t level, const char *fmt, ...)
{
    if (level < log_min)
        return;

    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    char quoted[2100];
    size_t q = 0;
    for (const char *p = msg; *p && q < sizeof(quoted) - 3; p++) {
        if (*p == '"' || *p == '\\') {
            quoted[q++] = '\\';
            quoted[q++] = *p;
        } else if (*p == '\n') {
            quoted[q++] = '\\';
            quoted[q++] = 'n';
        } else {
            quoted[q++] = *p;
        }
    }
    quoted[q] = '\0';

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);

    fprintf(stderr, "ts=%s.%03ldZ level=%s service=%s msg=\"%s\"\n", when, ts.tv_nsec / 1000000,
            level_names[level], log_service, quoted);
}
