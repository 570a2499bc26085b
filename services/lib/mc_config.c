/*
 * The configuration table and its readers. Adding a key means one row in params[] and
 * one field in mc_config_t; parsing, bounds, environment overrides, --help and the dump
 * all follow from the row (PgBouncer's bouncer_params[] works the same way).
 */
#include "mc_config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { P_STR, P_INT, P_REGIONS } ptype_t;

typedef struct param {
    const char *key;
    ptype_t type;
    const char *dflt;
    int64_t min, max; /* P_INT bounds */
    size_t offset;
    size_t size;         /* P_STR buffer size */
    const char *choices; /* P_STR: the values accepted (any case), "a|b|c", and "" where
                            that is the default; NULL: any */
    const char *help;
} param_t;

#define ONEOF(k, field, d, choices, h)                                                         \
    {k, P_STR, d, 0, 0, offsetof(mc_config_t, field), sizeof(((mc_config_t *)0)->field), choices, h}
#define STR(k, field, d, h) ONEOF(k, field, d, NULL, h)
#define INT(k, field, d, lo, hi, h) {k, P_INT, d, lo, hi, offsetof(mc_config_t, field), 0, NULL, h}

static const param_t params[] = {
    {"service.regions", P_REGIONS, "", 0, 0, 0, 0, NULL,
     "comma-separated 6-digit region codes this process serves"},
    ONEOF("clearing.scope", scope, "national", "national|provincial",
        "clearing centre scope: national (between provinces) or provincial (between cities)"),
    STR("clearing.centre", centre, "000000",
        "region code the clearing centre uses as source of the messages it originates"),
    STR("clearing.window.period", window_period, "1 month",
        "length of a clearing window, as a PostgreSQL interval (\"1 month\", \"60 seconds\")"),
    INT("clearing.alert.yellow.bp", quota_yellow_bp, "7000", 1, 10000,
        "usage of a prepayment quota (basis points) that raises the yellow alert"),
    INT("clearing.alert.red.bp", quota_red_bp, "9000", 1, 10000,
        "usage that raises the red alert and an emergency top-up request"),
    ONEOF("clearing.settlement", settlement, "bilateral", "bilateral|multilateral",
          "how issued statements are settled: bilateral (gross transfer per pair, the "
          "centre holds no money) or multilateral (one net transfer per party via the centre)"),
    STR("clearing.confirm.due", confirm_due, "5 working days",
        "time each party has to confirm an issued statement: \"N working days\" (Monday to "
        "Friday less clearing.holidays, China Standard Time) or an interval (\"30 seconds\")"),
    STR("clearing.pay.due", pay_due, "10 working days",
        "time from issue until every transfer of a statement is due, as clearing.confirm.due"),
    INT("ledger.snapshot.entries", snapshot_entries, "100000", 0, 1000000000,
        "a service snapshots its ledger's balances once this many journal entries were posted "
        "since the last snapshot (0: never by itself)"),
    STR("db.conninfo", conninfo, "host=127.0.0.1 port=15432 user=medclear dbname=medclear",
        "libpq connection string of this process's database"),
    STR("db.user", db_user, "",
        "database role to connect as, whatever db.conninfo says (a service's own role, "
        "e.g. medclear_treating); empty: the conninfo's user"),
    STR("topic.prefix", topic_prefix, "mc", "prefix of every topic name"),
    INT("topic.partitions", topic_partitions, "0", 0, 100000,
        "partitions of each topic a medclear process creates because it is missing (0: the "
        "broker's num.partitions); partitions are the unit of scale-out, since each instance "
        "of a role takes whole partitions, and each partition a batch writes to costs one "
        "produce request"),
    STR("group.id", group_id, "",
        "consumer group of the role (default: <topic.prefix>-<role>, so networks sharing "
        "a broker never share groups)"),
    INT("batch.max.messages", batch_max, "1000", 1, 100000,
        "most messages consumed and committed in one database transaction"),
    INT("batch.max.bytes", batch_max_bytes, "33554432", 1, 1073741824,
        "a batch takes no more messages once theirs add up to this many bytes (its first "
        "is always taken): what a batch holds in memory, whatever size its messages are"),
    INT("batch.timeout.ms", batch_timeout_ms, "5", 0, 60000,
        "longest wait for more messages once a batch's first arrived, only while the last "
        "batch held more than one (those already fetched are always taken)"),
    INT("batch.commit.interval.ms", commit_interval_ms, "1000", 0, 60000,
        "the consumer's offsets are committed to the broker at most this often, after the "
        "batches they cover committed in the database, and whenever the bus falls idle (0: "
        "after every batch); a crash re-reads at most this much, which the inbox skips"),
    INT("message.max.bytes", message_max, "1048576", 1024, 16777216,
        "largest message accepted from the bus; larger ones go to the dead-letter topic"),
    INT("treating.reply.timeout.ms", reply_timeout_ms, "30000", 100, 86400000,
        "how long `medclear submit --wait` waits for a reply"),
    INT("treating.claim.timeout.ms", claim_timeout_ms, "30000", 100, 86400000,
        "a claim without result after this long is answered TIMED_OUT; its late result "
        "is undone"),
    ONEOF("log.level", log_level, "info", "debug|info|warn|error", "lowest level logged: debug, info, warn, error"),
    ONEOF("log.format", log_format, "logfmt", "logfmt|json",
        "log line format on stderr: logfmt (key=value) or json (one object per line)"),
    STR("metrics.address", metrics_address, "127.0.0.1",
        "address the HTTP endpoint (/metrics, /livez, /readyz) listens on; 0.0.0.0 or :: "
        "for every interface"),
    INT("metrics.port", metrics_port, "0", 0, 65535,
        "TCP port of /metrics (Prometheus text format), /livez and /readyz; 0: no endpoint"),
    INT("health.max.outbox", health_max_outbox, "10000", 1, 1000000000,
        "/readyz answers 503 while this many outbox rows or more wait to be published"),
    INT("health.stall.ms", health_stall_ms, "120000", 1000, 86400000,
        "/livez answers 503 when the service loop has not turned for this long"),
    STR("sql.dir", sql_dir, MC_DEFAULT_SQL_DIR, "directory of the SQL migrations"),
    STR("security.keys.file", keys_file, "",
        "file of HMAC-SM3 keys (region, key id, hex); set: every message is signed and "
        "verified; a relative path is relative to the config file"),
    STR("test.drop.result.claim", test_drop_result, "",
        "TEST ONLY: the treating service drops the result of this claim id, so that "
        "`medclear reconcile` has a difference to find; never set in production"),
    INT("security.max.age.ms", max_age_ms, "86400000", 0, 31536000000,
        "messages created longer ago than this are refused as replays (0: no limit)"),
    ONEOF("kafka.security.protocol", kafka_protocol, "", "plaintext|ssl|sasl_plaintext|sasl_ssl",
           "how to talk to the brokers: plaintext, ssl, sasl_plaintext or sasl_ssl "
           "(librdkafka's security.protocol; empty: plaintext)"),
    ONEOF("kafka.sasl.mechanism", kafka_mechanism, "",
           "PLAIN|SCRAM-SHA-256|SCRAM-SHA-512|GSSAPI|OAUTHBEARER",
           "SASL mechanism with sasl_*: SCRAM-SHA-512, SCRAM-SHA-256, PLAIN, GSSAPI or "
           "OAUTHBEARER (librdkafka's sasl.mechanisms)"),
    STR("kafka.sasl.username", kafka_username, "",
        "the broker user this process logs in as (librdkafka's sasl.username)"),
    STR("kafka.sasl.password.file", kafka_password_file, "",
        "file whose first line is the broker password (keep it mode 600); or give the "
        "password in the environment, MEDCLEAR_KAFKA_SASL_PASSWORD, never on the command "
        "line; a relative path is relative to the config file"),
};

#define N_PARAMS (sizeof(params) / sizeof(params[0]))

static const param_t *find_param(const char *key)
{
    for (size_t i = 0; i < N_PARAMS; i++)
        if (strcmp(params[i].key, key) == 0)
            return &params[i];
    return NULL;
}

static bool valid_region(const char *s)
{
    if (strlen(s) != 6)
        return false;
    for (int i = 0; i < 6; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

static bool set_regions(mc_config_t *cfg, const char *value, char *errstr, size_t errstr_size)
{
    char buf[1024];
    if (strlen(value) >= sizeof(buf)) {
        snprintf(errstr, errstr_size, "service.regions: value too long");
        return false;
    }
    strcpy(buf, value);
    cfg->n_regions = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (!valid_region(tok)) {
            snprintf(errstr, errstr_size, "service.regions: \"%s\" is not a 6-digit region code",
                     tok);
            return false;
        }
        if (cfg->n_regions == MC_MAX_REGIONS) {
            snprintf(errstr, errstr_size, "service.regions: more than %d regions",
                     MC_MAX_REGIONS);
            return false;
        }
        strcpy(cfg->regions[cfg->n_regions++], tok);
    }
    return true;
}

static bool set_kafka(mc_config_t *cfg, const char *key, const char *value, char *errstr,
                      size_t errstr_size)
{
    const char *k = key + strlen("kafka.");
    if (*k == '\0' || strlen(k) >= sizeof(cfg->kafka_keys[0]) ||
        strlen(value) >= sizeof(cfg->kafka_vals[0])) {
        snprintf(errstr, errstr_size, "%s: key or value too long or empty", key);
        return false;
    }
    int i;
    for (i = 0; i < cfg->n_kafka; i++)
        if (strcmp(cfg->kafka_keys[i], k) == 0)
            break;
    if (i == cfg->n_kafka) {
        if (cfg->n_kafka == MC_MAX_KAFKA_PROPS) {
            snprintf(errstr, errstr_size, "%s: more than %d kafka.* keys", key,
                     MC_MAX_KAFKA_PROPS);
            return false;
        }
        cfg->n_kafka++;
        strcpy(cfg->kafka_keys[i], k);
    }
    strcpy(cfg->kafka_vals[i], value);
    return true;
}

/* The choice of the '|'-separated list that value names in any case, spelled as in the
 * list (its length in *n), or value itself when it is ""; NULL when it is none of them. */
static const char *find_choice(const char *choices, const char *value, size_t *n)
{
    *n = strlen(value);
    if (*n == 0)
        return value;
    for (const char *c = choices; *c;) {
        const char *end = strchr(c, '|');
        size_t len = end ? (size_t)(end - c) : strlen(c);
        if (len == *n && strncasecmp(c, value, len) == 0)
            return c;
        c += len + (end ? 1 : 0);
    }
    return NULL;
}

bool mc_config_set(mc_config_t *cfg, const char *key, const char *value, char *errstr,
                   size_t errstr_size)
{
    const param_t *p = find_param(key);
    if (!p && strncmp(key, "kafka.", 6) == 0)
        return set_kafka(cfg, key, value, errstr, errstr_size);
    if (!p) {
        snprintf(errstr, errstr_size, "unknown configuration key \"%s\" (see --help)", key);
        return false;
    }
    char *field = (char *)cfg + p->offset;
    switch (p->type) {
    case P_STR:
        if (strlen(value) >= p->size) {
            snprintf(errstr, errstr_size, "%s: value longer than %zu characters", key,
                     p->size - 1);
            return false;
        }
        if (p->choices) {
            size_t n;
            const char *c = find_choice(p->choices, value, &n);
            if (!c || (n == 0 && p->dflt[0])) {
                snprintf(errstr, errstr_size, "%s: \"%s\" is not one of %s", key, value,
                         p->choices);
                return false;
            }
            memcpy(field, c, n); /* as spelled in the table: librdkafka's own spelling */
            field[n] = '\0';
            return true;
        }
        strcpy(field, value);
        return true;
    case P_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end != '\0') {
            snprintf(errstr, errstr_size, "%s: \"%s\" is not an integer", key, value);
            return false;
        }
        if (v < p->min || v > p->max) {
            snprintf(errstr, errstr_size, "%s: %lld is outside %" PRId64 "..%" PRId64, key, v,
                     p->min, p->max);
            return false;
        }
        *(int64_t *)field = v;
        return true;
    }
    case P_REGIONS:
        return set_regions(cfg, value, errstr, errstr_size);
    }
    return false;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

bool mc_config_set_option(mc_config_t *cfg, const char *kv, char *errstr, size_t errstr_size)
{
    char buf[2048];
    if (strlen(kv) >= sizeof(buf)) {
        snprintf(errstr, errstr_size, "option too long");
        return false;
    }
    strcpy(buf, kv);
    char *eq = strchr(buf, '=');
    if (!eq) {
        snprintf(errstr, errstr_size, "-o expects key=value, got \"%s\"", kv);
        return false;
    }
    *eq = '\0';
    const char *key = trim(buf);
    /* The command line of a process is readable by every user of the machine (ps). */
    if (strcmp(key, "kafka.sasl.password") == 0) {
        snprintf(errstr, errstr_size,
                 "kafka.sasl.password is not accepted on the command line, where any user "
                 "of the machine can read it; use kafka.sasl.password.file or the "
                 "environment variable MEDCLEAR_KAFKA_SASL_PASSWORD");
        return false;
    }
    return mc_config_set(cfg, key, trim(eq + 1), errstr, errstr_size);
}

void mc_config_defaults(mc_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    char err[256];
    for (size_t i = 0; i < N_PARAMS; i++)
        if (!mc_config_set(cfg, params[i].key, params[i].dflt, err, sizeof(err)))
            abort(); /* a default that does not parse is a bug in params[] */
}

static bool load_file(mc_config_t *cfg, const char *path, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errstr_size, "could not open config file \"%s\": %s", path,
                 strerror(errno));
        return false;
    }
    char line[2048];
    int lineno = 0;
    bool ok = true;
    while (ok && fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(errstr, errstr_size, "%s:%d: expected key = value", path, lineno);
            ok = false;
            break;
        }
        *eq = '\0';
        char err[256], value[1024];
        const char *key = trim(s), *v = trim(eq + 1);
        /* A file named in a config file is found beside it. */
        const char *slash = strrchr(path, '/');
        if ((strcmp(key, "security.keys.file") == 0 || strcmp(key, "kafka.sasl.password.file") == 0) &&
            v[0] != '/' && v[0] != '\0' && slash) {
            snprintf(value, sizeof(value), "%.*s/%s", (int)(slash - path), path, v);
            v = value;
        }
        if (!mc_config_set(cfg, key, v, err, sizeof(err))) {
            snprintf(errstr, errstr_size, "%s:%d: %s", path, lineno, err);
            ok = false;
        }
    }
    fclose(f);
    return ok;
}

/* MEDCLEAR_DB_CONNINFO -> db.conninfo; MEDCLEAR_KAFKA_SASL_USERNAME -> kafka.sasl.username */
static void env_to_key(const char *name, char *key, size_t size)
{
    size_t i = 0;
    for (const char *p = name + strlen("MEDCLEAR_"); *p && i < size - 1; p++)
        key[i++] = *p == '_' ? '.' : (char)tolower((unsigned char)*p);
    key[i] = '\0';
}

extern char **environ;

bool mc_config_load(mc_config_t *cfg, const char *path, char *errstr, size_t errstr_size)
{
    if (path && !load_file(cfg, path, errstr, errstr_size))
        return false;

    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "MEDCLEAR_", 9) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        if (!eq)
            continue;
        char name[256], key[256];
        size_t n = (size_t)(eq - *e);
        if (n >= sizeof(name))
            continue;
        memcpy(name, *e, n);
        name[n] = '\0';
        env_to_key(name, key, sizeof(key));
        /* Keys with underscores of their own (none yet) could not be reached; the
         * environment never names a key the table lacks without an error. */
        char err[256];
        if (!mc_config_set(cfg, key, eq + 1, err, sizeof(err))) {
            snprintf(errstr, errstr_size, "environment %s: %s", name, err);
            return false;
        }
    }
    return true;
}

/* Reads the first line of path, without its line end, into out. */
static bool read_password(const char *path, char *out, size_t size, char *errstr,
                          size_t errstr_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errstr_size, "kafka.sasl.password.file: cannot read \"%s\": %s", path,
                 strerror(errno));
        return false;
    }
    bool ok = fgets(out, (int)size, f) != NULL;
    int read_errno = errno;
    bool eof = ok && (strchr(out, '\n') || fgetc(f) == EOF);
    fclose(f);
    if (!ok) {
        snprintf(errstr, errstr_size, "kafka.sasl.password.file: \"%s\" is empty%s%s", path,
                 read_errno ? ": " : "", read_errno ? strerror(read_errno) : "");
        return false;
    }
    if (!eof) {
        snprintf(errstr, errstr_size,
                 "kafka.sasl.password.file: the first line of \"%s\" is longer than %zu characters",
                 path, size - 2);
        return false;
    }
    out[strcspn(out, "\r\n")] = '\0';
    if (out[0] == '\0') {
        snprintf(errstr, errstr_size, "kafka.sasl.password.file: \"%s\" has an empty first line",
                 path);
        return false;
    }
    return true;
}

bool mc_config_finish(mc_config_t *cfg, char *errstr, size_t errstr_size)
{
    cfg->kafka_password[0] = '\0';
    if (cfg->kafka_password_file[0] == '\0')
        return true;
    for (int i = 0; i < cfg->n_kafka; i++)
        if (strcmp(cfg->kafka_keys[i], "sasl.password") == 0) {
            snprintf(errstr, errstr_size,
                     "kafka.sasl.password and kafka.sasl.password.file are both set; keep one");
            return false;
        }
    return read_password(cfg->kafka_password_file, cfg->kafka_password,
                         sizeof(cfg->kafka_password), errstr, errstr_size);
}

void mc_config_help(FILE *out)
{
    fprintf(out, "configuration keys (file `key = value`, environment MEDCLEAR_KEY_NAME, "
                 "or -o key=value):\n");
    for (size_t i = 0; i < N_PARAMS; i++) {
        const param_t *p = &params[i];
        fprintf(out, "  %-28s %s\n  %-28s default: \"%s\"", p->key, p->help, "", p->dflt);
        if (p->type == P_INT)
            fprintf(out, " (%" PRId64 "..%" PRId64 ")", p->min, p->max);
        fputc('\n', out);
    }
    fprintf(out, "  %-28s %s\n", "kafka.<property>",
             "passed to librdkafka as <property> (e.g. kafka.bootstrap.servers); "
             "kafka.sasl.password only from a file or the environment");
}

void mc_config_dump(const mc_config_t *cfg, FILE *out)
{
    for (size_t i = 0; i < N_PARAMS; i++) {
        const param_t *p = &params[i];
        const char *field = (const char *)cfg + p->offset;
        switch (p->type) {
        case P_STR:
            fprintf(out, "%s = %s\n", p->key, field);
            break;
        case P_INT:
            fprintf(out, "%s = %" PRId64 "\n", p->key, *(const int64_t *)field);
            break;
        case P_REGIONS:
            fprintf(out, "%s = ", p->key);
            for (int r = 0; r < cfg->n_regions; r++)
                fprintf(out, "%s%s", r ? "," : "", cfg->regions[r]);
            fputc('\n', out);
            break;
        }
    }
    for (int i = 0; i < cfg->n_kafka; i++) {
        bool secret = strstr(cfg->kafka_keys[i], "password") != NULL;
        fprintf(out, "kafka.%s = %s\n", cfg->kafka_keys[i], secret ? "********" : cfg->kafka_vals[i]);
    }
}

bool mc_config_serves(const mc_config_t *cfg, const char *region)
{
    for (int i = 0; i < cfg->n_regions; i++)
        if (strcmp(cfg->regions[i], region) == 0)
            return true;
    return false;
}
