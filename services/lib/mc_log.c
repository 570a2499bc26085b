/*
 * The writer behind the mc_log macros. A line is built whole in a buffer and written with
 * one call, so lines of different threads (the service loop, the metrics server) never
 * interleave. Every value is escaped so that one event is always one line, and bytes that
 * are not UTF-8 (a message key from bad input) never make a JSON line invalid.
 */
#include "mc_log.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *log_service = "medclear";
static mc_log_level_t log_min = MC_LOG_INFO;
static mc_log_format_t log_format = MC_LOG_LOGFMT;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* What the calling thread is working on; each thread has its own. */
typedef struct log_context {
    char region[8];
    char topic[128];
    int32_t partition; /* < 0: none */
    int64_t offset;    /* < 0: none */
    char key[80];
    char message_id[80];
    char claim[80];
} log_context_t;

static _Thread_local log_context_t ctx = {.partition = -1, .offset = -1};

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

bool mc_log_format_parse(const char *s, mc_log_format_t *out)
{
    if (strcmp(s, "logfmt") == 0)
        *out = MC_LOG_LOGFMT;
    else if (strcmp(s, "json") == 0)
        *out = MC_LOG_JSON;
    else
        return false;
    return true;
}

void mc_log_set_format(mc_log_format_t format) { log_format = format; }

static void copy(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

void mc_log_context_message(const char *topic, int32_t partition, int64_t offset, const char *key)
{
    memset(&ctx, 0, sizeof(ctx));
    copy(ctx.topic, sizeof(ctx.topic), topic);
    ctx.partition = partition;
    ctx.offset = offset;
    copy(ctx.key, sizeof(ctx.key), key);
}

void mc_log_context_envelope(const char *region, const char *message_id)
{
    copy(ctx.region, sizeof(ctx.region), region);
    copy(ctx.message_id, sizeof(ctx.message_id), message_id);
}

void mc_log_context_claim(const char *claim_id) { copy(ctx.claim, sizeof(ctx.claim), claim_id); }

void mc_log_context_clear(void)
{
    memset(&ctx, 0, sizeof(ctx));
    ctx.partition = -1;
    ctx.offset = -1;
}

/* A line under construction; what does not fit is cut, the line stays one line. */
typedef struct line {
    char buf[12288]; /* more than the longest line: every field escaped at 6 bytes a byte */
    size_t n;
} line_t;

static void put(line_t *l, const char *s, size_t len)
{
    size_t room = sizeof(l->buf) - 2 - l->n; /* keeps room for the closing "}\n" */
    if (len > room)
        len = room;
    memcpy(l->buf + l->n, s, len);
    l->n += len;
}

static void puts_(line_t *l, const char *s) { put(l, s, strlen(s)); }

/* Length of the valid UTF-8 sequence starting at s (1..4), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n = s[0] > 0xf4 ? 0 : s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    /* no overlong forms, no surrogates, nothing above U+10FFFF */
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return n;
}

/* Writes s escaped for the inside of a double-quoted string (logfmt and JSON alike:
 * \" \\ \n \r \t, other control characters as \u00XX, bytes that are not UTF-8 as
 * U+FFFD). */
static void put_escaped(line_t *l, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            put(l, esc, 2);
            p++;
        } else if (*p == '\n') {
            puts_(l, "\\n");
            p++;
        } else if (*p == '\r') {
            puts_(l, "\\r");
            p++;
        } else if (*p == '\t') {
            puts_(l, "\\t");
            p++;
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", *p);
            puts_(l, esc);
            p++;
        } else {
            size_t n = utf8_len(p);
            if (n == 0) {
                puts_(l, "\\ufffd");
                p++;
            } else {
                put(l, (const char *)p, n);
                p += n;
            }
        }
    }
}

/* True when a logfmt value must be quoted. */
static bool needs_quotes(const char *s)
{
    if (!*s)
        return true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' || *p >= 0x7f)
            return true;
    return false;
}

/* One string field, or nothing when value is empty and optional. */
static void field(line_t *l, bool first, const char *name, const char *value, bool always_quote)
{
    if (log_format == MC_LOG_JSON) {
        puts_(l, first ? "{\"" : ",\"");
        puts_(l, name);
        puts_(l, "\":\"");
        put_escaped(l, value);
        puts_(l, "\"");
        return;
    }
    if (!first)
        puts_(l, " ");
    puts_(l, name);
    puts_(l, "=");
    if (always_quote || needs_quotes(value)) {
        puts_(l, "\"");
        put_escaped(l, value);
        puts_(l, "\"");
    } else {
        puts_(l, value);
    }
}

static void field_int(line_t *l, const char *name, int64_t v)
{
    char num[32];
    snprintf(num, sizeof(num), "%" PRId64, v);
    puts_(l, log_format == MC_LOG_JSON ? ",\"" : " ");
    puts_(l, name);
    puts_(l, log_format == MC_LOG_JSON ? "\":" : "=");
    puts_(l, num);
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

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40], secs[24];
    strftime(secs, sizeof(secs), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when, sizeof(when), "%s.%03ldZ", secs, ts.tv_nsec / 1000000);

    line_t l = {.n = 0};
    field(&l, true, "ts", when, false);
    field(&l, false, "level", level_names[level], false);
    field(&l, false, "service", log_service, false);
    if (ctx.region[0])
        field(&l, false, "region", ctx.region, false);
    if (ctx.topic[0])
        field(&l, false, "topic", ctx.topic, false);
    if (ctx.partition >= 0)
        field_int(&l, "partition", ctx.partition);
    if (ctx.offset >= 0)
        field_int(&l, "offset", ctx.offset);
    if (ctx.key[0])
        field(&l, false, "key", ctx.key, false);
    if (ctx.message_id[0])
        field(&l, false, "msg_id", ctx.message_id, false);
    if (ctx.claim[0])
        field(&l, false, "claim", ctx.claim, false);
    /* msg last and always quoted: `grep 'msg="running"'` finds a line in either case */
    field(&l, false, "msg", msg, true);
    if (log_format == MC_LOG_JSON)
        l.buf[l.n++] = '}';
    l.buf[l.n++] = '\n';
    fwrite(l.buf, 1, l.n, stderr);
}
