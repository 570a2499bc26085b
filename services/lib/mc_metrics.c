/*
 * The registry behind /metrics, /livez and /readyz. Series are kept in a small
 * open-addressing table keyed by (family, label value): the label values are topics,
 * reason codes and batch outcomes, a few hundred at most, fixed by the configuration.
 * The domain figures are not kept here at all: they are read at scrape time, in one
 * read-only snapshot, from the service's own schema, where triggers keep them in
 * <schema>.figures as the tables they describe change (sql/022_domain_figures.sql), so
 * a scrape can never disagree with the database (DESIGN.md section 8: the database is
 * the source of truth) and costs a few rows, however many claims the tables hold.
 */
#include "mc_metrics.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mc_log.h"

/* ---- families ------------------------------------------------------------------- */

typedef struct counter_family {
    const char *name;
    const char *label; /* NULL: no label of its own */
    const char *help;
} counter_family_t;

static const counter_family_t counters[MC_C_COUNT_] = {
    [MC_C_CONSUMED] = {"medclear_messages_consumed_total", "topic",
                       "Messages consumed and committed in a batch (applied, skipped as "
                       "duplicates or dead-lettered), per topic."},
    [MC_C_PRODUCED] = {"medclear_messages_produced_total", "topic",
                       "Outbox messages whose delivery the broker confirmed, per topic."},
    [MC_C_PRODUCE_FAILED] = {"medclear_produce_failures_total", "topic",
                             "Outbox messages not delivered; they stay in the outbox and are "
                             "sent again."},
    [MC_C_DEAD_LETTERS] = {"medclear_dead_letters_total", "reason",
                           "Messages sent to the dead-letter topic, per reason code."},
    [MC_C_BATCHES] = {"medclear_batches_total", "outcome",
                      "Batches by outcome: fast (committed at once), split (a message failed: "
                      "applied one by one), lost (database lost: consumed again)."},
    [MC_C_DB_RECONNECTS] = {"medclear_database_reconnects_total", NULL,
                            "Times the service loop reconnected to the database."},
};

typedef struct histogram_family {
    const char *name;
    const char *help;
    const double *bounds; /* upper bounds, increasing; +Inf is implicit */
    int n_bounds;
} histogram_family_t;

static const double size_bounds[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000};
static const double seconds_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define MAX_BOUNDS 16

static const histogram_family_t histograms[MC_H_COUNT_] = {
    [MC_H_BATCH_MESSAGES] = {"medclear_batch_messages", "Messages per committed batch.",
                             size_bounds, N_OF(size_bounds)},
    [MC_H_BATCH_SECONDS] = {"medclear_batch_seconds",
                            "Time from BEGIN to COMMIT of a batch transaction, in seconds.",
                            seconds_bounds, N_OF(seconds_bounds)},
    [MC_H_COMMIT_SECONDS] = {"medclear_db_commit_seconds",
                             "Time the database took to COMMIT a batch, in seconds.",
                             seconds_bounds, N_OF(seconds_bounds)},
};

typedef struct histogram {
    uint64_t buckets[MAX_BOUNDS + 1]; /* per bucket, not cumulative; last is +Inf */
    uint64_t count;
    double sum;
} histogram_t;

/*
 * Domain figures, per schema: the leading columns are the label values, the last one the
 * sample value. Gauges: counts by status go down as well as up.
 */
typedef struct domain_query {
    const char *schema;
    const char *name;
    const char *help;
    const char *labels[2];
    int n_labels;
    const char *sql;
} domain_query_t;

/*
 * A figure is the sum of its rows over the backends that wrote them; a group whose
 * row_count sums to zero holds no row of the table and is left out, as a GROUP BY of the
 * table leaves it out.
 */
#define COUNTS(schema, figure)                                                            \
    "SELECT label1, sum(row_count) FROM " schema ".figures WHERE figure = '" figure "' "  \
    "GROUP BY 1 HAVING sum(row_count) <> 0 ORDER BY 1"
#define PAIR_COUNTS(schema, figure)                                                       \
    "SELECT label1, label2, sum(row_count) FROM " schema ".figures WHERE figure = '"       \
    figure "' GROUP BY 1, 2 HAVING sum(row_count) <> 0 ORDER BY 1, 2"
#define FEN(schema, figure)                                                               \
    "SELECT label1, label2, sum(fen) FROM " schema ".figures WHERE figure = '" figure "' " \
    "GROUP BY 1, 2 HAVING sum(row_count) <> 0 ORDER BY 1, 2"

static const domain_query_t domain_queries[] = {
    {"treating", "medclear_treating_requests",
     "Requests from agencies and hospitals recorded by the treating region, by status.",
     {"status"}, 1, COUNTS("treating", "requests")},
    {"treating", "medclear_treating_claims", "Claims sent by the treating region, by status.",
     {"status"}, 1, COUNTS("treating", "claims")},
    {"treating", "medclear_treating_fund_fen",
     "Pooled fund plus tier 2 of settled claims (undo claims negative), in fen, per insuring "
     "and treating region.",
     {"insuring", "treating"}, 2, FEN("treating", "settled")},
    {"insuring", "medclear_insuring_settlements",
     "Settlements adjudicated by the insuring region, by status.", {"status"}, 1,
     COUNTS("insuring", "settlements")},
    {"insuring", "medclear_insuring_fund_fen",
     "Pooled fund plus tier 2 paid on settlements, net of cancels, in fen, per insuring and "
     "treating region.",
     {"insuring", "treating"}, 2, FEN("insuring", "paid")},
    {"clearing", "medclear_clearing_claims", "Claims recorded by the clearing centre, by status.",
     {"status"}, 1, COUNTS("clearing", "claims")},
    {"clearing", "medclear_clearing_settled_claims",
     "Settled claims booked by the clearing centre (undo claims included), per insuring and "
     "treating party.",
     {"insuring", "treating"}, 2, PAIR_COUNTS("clearing", "settled")},
    {"clearing", "medclear_clearing_fund_fen",
     "Pooled fund plus tier 2 of settled claims (undo claims negative), in fen, per insuring "
     "and treating party: what the insuring party owes the treating party.",
     {"insuring", "treating"}, 2, FEN("clearing", "settled")},
};

/* ---- the registry --------------------------------------------------------------- */

#define SERIES_MAX 2048 /* a power of two */
#define LABEL_MAX 128

typedef struct series {
    int family; /* counter index + 1; 0: free slot */
    char label[LABEL_MAX];
    int64_t value;
} series_t;

typedef struct lag_entry {
    char topic[LABEL_MAX];
    int32_t partition;
    int64_t lag;
} lag_entry_t;

struct mc_metrics {
    const mc_config_t *cfg;
    char role[32];
    char schema[32];
    double start_time;

    /* written by the loop, read by the HTTP thread without a lock */
    _Atomic int phase;
    _Atomic int64_t heartbeat_ms; /* CLOCK_MONOTONIC */
    _Atomic int64_t heartbeat_wall_ms;
    _Atomic bool db_up;
    _Atomic bool broker_up;
    _Atomic int assigned;
    _Atomic int64_t outbox;

    pthread_mutex_t lock; /* everything below */
    char phase_what[128];
    char broker_error[256];
    series_t series[SERIES_MAX];
    int n_series;
    bool series_full_logged;
    histogram_t hist[MC_H_COUNT_];
    lag_entry_t *lags;
    int n_lags;

    pthread_mutex_t scrape_lock; /* the scrape connection */
    PGconn *db;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

mc_metrics_t *mc_metrics_new(const mc_config_t *cfg, const char *role, const char *schema)
{
    mc_metrics_t *m = calloc(1, sizeof(*m));
    if (!m)
        abort();
    m->cfg = cfg;
    snprintf(m->role, sizeof(m->role), "%s", role);
    snprintf(m->schema, sizeof(m->schema), "%s", schema);
    m->start_time = wall_seconds();
    atomic_init(&m->phase, MC_PHASE_STARTING);
    atomic_init(&m->heartbeat_ms, mono_ms());
    atomic_init(&m->heartbeat_wall_ms, (int64_t)(m->start_time * 1000));
    atomic_init(&m->db_up, true);
    atomic_init(&m->broker_up, false);
    atomic_init(&m->assigned, 0);
    atomic_init(&m->outbox, 0);
    snprintf(m->phase_what, sizeof(m->phase_what), "starting");
    snprintf(m->broker_error, sizeof(m->broker_error), "not checked yet");
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->scrape_lock, NULL);
    return m;
}

void mc_metrics_destroy(mc_metrics_t *m)
{
    if (!m)
        return;
    if (m->db)
        PQfinish(m->db);
    pthread_mutex_destroy(&m->lock);
    pthread_mutex_destroy(&m->scrape_lock);
    free(m->lags);
    free(m);
}

static uint64_t hash(int family, const char *label)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)family;
    for (const unsigned char *p = (const unsigned char *)label; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

void mc_metrics_count(mc_metrics_t *m, mc_counter_t c, const char *label, int64_t n)
{
    if (!m || (unsigned)c >= MC_C_COUNT_)
        return;
    if (!label)
        label = "";
    int family = (int)c + 1;
    pthread_mutex_lock(&m->lock);
    for (uint64_t i = hash(family, label), probes = 0; probes < SERIES_MAX; i++, probes++) {
        series_t *s = &m->series[i & (SERIES_MAX - 1)];
        if (s->family == family && strncmp(s->label, label, LABEL_MAX - 1) == 0) {
            s->value += n;
            break;
        }
        if (s->family == 0) {
            if (m->n_series >= SERIES_MAX * 3 / 4) { /* keep probes short */
                if (!m->series_full_logged)
                    mc_warn("metrics: more than %d series; new label values are not counted",
                            m->n_series);
                m->series_full_logged = true;
                break;
            }
            s->family = family;
            snprintf(s->label, sizeof(s->label), "%s", label);
            s->value = n;
            m->n_series++;
            break;
        }
    }
    pthread_mutex_unlock(&m->lock);
}

void mc_metrics_observe(mc_metrics_t *m, mc_histogram_t h, double value)
{
    if (!m || (unsigned)h >= MC_H_COUNT_)
        return;
    const histogram_family_t *f = &histograms[h];
    int b = 0;
    while (b < f->n_bounds && value > f->bounds[b])
        b++;
    pthread_mutex_lock(&m->lock);
    m->hist[h].buckets[b]++;
    m->hist[h].count++;
    m->hist[h].sum += value;
    pthread_mutex_unlock(&m->lock);
}

void mc_metrics_phase(mc_metrics_t *m, mc_phase_t phase, const char *what)
{
    if (!m)
        return;
    if (what) {
        pthread_mutex_lock(&m->lock);
        snprintf(m->phase_what, sizeof(m->phase_what), "%s", what);
        pthread_mutex_unlock(&m->lock);
    }
    atomic_store(&m->phase, (int)phase);
    mc_metrics_heartbeat(m);
}

void mc_metrics_heartbeat(mc_metrics_t *m)
{
    if (!m)
        return;
    atomic_store(&m->heartbeat_ms, mono_ms());
    atomic_store(&m->heartbeat_wall_ms, (int64_t)(wall_seconds() * 1000));
}

void mc_metrics_database(mc_metrics_t *m, bool up)
{
    if (m)
        atomic_store(&m->db_up, up);
}

void mc_metrics_broker(mc_metrics_t *m, bool up, const char *error)
{
    if (!m)
        return;
    if (!up) {
        pthread_mutex_lock(&m->lock);
        snprintf(m->broker_error, sizeof(m->broker_error), "%s", error ? error : "unknown");
        pthread_mutex_unlock(&m->lock);
    }
    atomic_store(&m->broker_up, up);
}

void mc_metrics_assigned(mc_metrics_t *m, int partitions)
{
    if (m)
        atomic_store(&m->assigned, partitions);
}

void mc_metrics_outbox(mc_metrics_t *m, int64_t unpublished)
{
    if (m)
        atomic_store(&m->outbox, unpublished);
}

void mc_metrics_lags(mc_metrics_t *m, const mc_lag_t *lags, int n)
{
    if (!m)
        return;
    lag_entry_t *copy = n > 0 ? calloc((size_t)n, sizeof(*copy)) : NULL;
    if (n > 0 && !copy)
        abort();
    for (int i = 0; i < n; i++) {
        snprintf(copy[i].topic, sizeof(copy[i].topic), "%s", lags[i].topic);
        copy[i].partition = lags[i].partition;
        copy[i].lag = lags[i].lag;
    }
    pthread_mutex_lock(&m->lock);
    lag_entry_t *old = m->lags;
    m->lags = copy;
    m->n_lags = n;
    pthread_mutex_unlock(&m->lock);
    free(old);
}

/* ---- health --------------------------------------------------------------------- */

bool mc_metrics_live(mc_metrics_t *m, char *why, size_t why_size)
{
    int phase = atomic_load(&m->phase);
    if (phase != MC_PHASE_RUNNING) {
        snprintf(why, why_size, "%s", phase == MC_PHASE_STARTING ? "starting" : "stopping");
        return true;
    }
    int64_t idle = mono_ms() - atomic_load(&m->heartbeat_ms);
    if (idle > m->cfg->health_stall_ms) {
        snprintf(why, why_size, "service loop has not turned for %lld ms (health.stall.ms %lld)",
                 (long long)idle, (long long)m->cfg->health_stall_ms);
        return false;
    }
    snprintf(why, why_size, "ok");
    return true;
}

bool mc_metrics_ready(mc_metrics_t *m, char *why, size_t why_size)
{
    int phase = atomic_load(&m->phase);
    if (phase != MC_PHASE_RUNNING) {
        pthread_mutex_lock(&m->lock);
        if (phase == MC_PHASE_STARTING)
            snprintf(why, why_size, "starting: %s", m->phase_what);
        else
            snprintf(why, why_size, "stopping");
        pthread_mutex_unlock(&m->lock);
        return false;
    }
    if (!mc_metrics_live(m, why, why_size))
        return false;
    if (!atomic_load(&m->db_up)) {
        snprintf(why, why_size, "database unavailable");
        return false;
    }
    if (!atomic_load(&m->broker_up)) {
        pthread_mutex_lock(&m->lock);
        snprintf(why, why_size, "broker unavailable: %s", m->broker_error);
        pthread_mutex_unlock(&m->lock);
        return false;
    }
    if (atomic_load(&m->assigned) == 0) {
        snprintf(why, why_size, "no partitions assigned to the consumer");
        return false;
    }
    int64_t outbox = atomic_load(&m->outbox);
    if (outbox >= m->cfg->health_max_outbox) {
        snprintf(why, why_size, "outbox backlog %lld >= health.max.outbox %lld",
                 (long long)outbox, (long long)m->cfg->health_max_outbox);
        return false;
    }
    snprintf(why, why_size, "ready");
    return true;
}

/* ---- exposition ----------------------------------------------------------------- */

typedef struct sb {
    char *buf;
    size_t len, cap;
} sb_t;

static void sb_put(sb_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(b->buf, cap);
        if (!p)
            abort();
        b->buf = p;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void sb_printf(sb_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sb_t *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(tmp)) {
        sb_put(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big)
        abort();
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_put(b, big, (size_t)n);
    free(big);
}

/* A label value, escaped as the text format requires (\\, \", \n). */
static void sb_label(sb_t *b, const char *name, const char *value)
{
    sb_printf(b, ",%s=\"", name);
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            sb_put(b, "\\", 1);
        if (*p == '\n')
            sb_put(b, "\\n", 2);
        else
            sb_put(b, p, 1);
    }
    sb_put(b, "\"", 1);
}

static void header(sb_t *b, const char *name, const char *type, const char *help)
{
    sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void gauge(sb_t *b, const mc_metrics_t *m, const char *name, const char *help, double v)
{
    header(b, name, "gauge", help);
    sb_printf(b, "%s{role=\"%s\"} %.17g\n", name, m->role, v);
}

static int cmp_series(const void *a, const void *b)
{
    const series_t *x = *(const series_t *const *)a, *y = *(const series_t *const *)b;
    return strcmp(x->label, y->label);
}

static int cmp_lag(const void *a, const void *b)
{
    const lag_entry_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* Connects the scrape connection if needed; false when the database does not answer. */
static bool scrape_connect(mc_metrics_t *m)
{
    if (m->db && PQstatus(m->db) == CONNECTION_OK)
        return true;
    if (m->db) {
        PQreset(m->db);
    } else {
        /* Entries before the expanded conninfo are its defaults: a conninfo that sets
         * them wins. A scrape never waits long for a database that is away. */
        char app[64];
        snprintf(app, sizeof(app), "medclear-%s-metrics", m->role);
        const char *user = m->cfg->db_user[0] ? m->cfg->db_user : NULL;
        const char *keys[] = {"connect_timeout", "application_name", "dbname",
                              user ? "user" : NULL, NULL};
        const char *vals[] = {"3", app, m->cfg->conninfo, user, NULL};
        m->db = PQconnectdbParams(keys, vals, 1);
    }
    if (PQstatus(m->db) != CONNECTION_OK)
        return false;
    PQclear(PQexec(m->db, "SET client_min_messages = warning"));
    PQclear(PQexec(m->db, "SET statement_timeout = '5s'"));
    return true;
}

static bool exec_ok(PGconn *db, const char *sql)
{
    PGresult *res = PQexec(db, sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    return ok;
}

/* The domain figures of the service's schema, from one snapshot. */
static bool render_domain(mc_metrics_t *m, sb_t *out, char *err, size_t err_size)
{
    if (!scrape_connect(m)) {
        snprintf(err, err_size, "%s", PQerrorMessage(m->db));
        return false;
    }
    /* The rows of connections that have closed go into one row per group first, so the
     * figures stay a few rows per live connection (a transaction of its own). */
    char fold[64];
    snprintf(fold, sizeof(fold), "SELECT %s.fold_figures()", m->schema);
    PGresult *folded = PQexec(m->db, fold);
    if (PQresultStatus(folded) != PGRES_TUPLES_OK) {
        snprintf(err, err_size, "%s", PQresultErrorMessage(folded));
        PQclear(folded);
        return false;
    }
    PQclear(folded);
    if (!exec_ok(m->db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")) {
        snprintf(err, err_size, "%s", PQerrorMessage(m->db));
        return false;
    }
    sb_t part = {0};
    bool ok = true;
    for (size_t q = 0; ok && q < sizeof(domain_queries) / sizeof(domain_queries[0]); q++) {
        const domain_query_t *d = &domain_queries[q];
        if (strcmp(d->schema, m->schema) != 0)
            continue;
        PGresult *res = PQexec(m->db, d->sql);
        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != d->n_labels + 1) {
            snprintf(err, err_size, "%s: %s", d->name, PQresultErrorMessage(res));
            PQclear(res);
            ok = false;
            break;
        }
        header(&part, d->name, "gauge", d->help);
        for (int r = 0; r < PQntuples(res); r++) {
            sb_printf(&part, "%s{role=\"%s\"", d->name, m->role);
            for (int l = 0; l < d->n_labels; l++)
                sb_label(&part, d->labels[l], PQgetvalue(res, r, l));
            sb_printf(&part, "} %s\n", PQgetvalue(res, r, d->n_labels));
        }
        PQclear(res);
    }
    if (ok && !exec_ok(m->db, "COMMIT")) {
        snprintf(err, err_size, "%s", PQerrorMessage(m->db));
        ok = false;
    }
    if (!ok && PQstatus(m->db) == CONNECTION_OK)
        PQclear(PQexec(m->db, "ROLLBACK"));
    if (ok && part.len)
        sb_put(out, part.buf, part.len);
    free(part.buf);
    return ok;
}

char *mc_metrics_render(mc_metrics_t *m, size_t *len)
{
    sb_t out = {0};

    /* The slow part first, without the registry's lock: the loop never waits on a scrape. */
    pthread_mutex_lock(&m->scrape_lock);
    sb_t domain = {0};
    char err[512] = "";
    double t0 = wall_seconds();
    bool domain_ok = render_domain(m, &domain, err, sizeof(err));
    if (!domain_ok && m->db && PQstatus(m->db) == CONNECTION_BAD) /* restarted server */
        domain_ok = render_domain(m, &domain, err, sizeof(err));
    double took = wall_seconds() - t0;
    pthread_mutex_unlock(&m->scrape_lock);
    if (!domain_ok) {
        for (char *p = err; *p; p++) /* libpq messages end with a newline */
            if (*p == '\n')
                *p = ' ';
        mc_warn("metrics: could not read the domain figures: %s", err);
    }

    char why[256];
    bool ready = mc_metrics_ready(m, why, sizeof(why));
    gauge(&out, m, "medclear_ready",
          "1 when /readyz answers 200: database and broker up, partitions assigned, outbox "
          "backlog below health.max.outbox.",
          ready);
    gauge(&out, m, "medclear_database_up", "1 while the service loop's database connection works.",
          atomic_load(&m->db_up));
    gauge(&out, m, "medclear_broker_up",
          "1 while the broker answered the service's last metadata request.",
          atomic_load(&m->broker_up));
    gauge(&out, m, "medclear_assigned_partitions", "Partitions assigned to the consumer.",
          atomic_load(&m->assigned));
    gauge(&out, m, "medclear_outbox_unpublished",
          "Outbox rows not yet published, as the loop counted them last (every second).",
          (double)atomic_load(&m->outbox));
    gauge(&out, m, "medclear_loop_last_turn_timestamp_seconds",
          "When the service loop last turned (Unix time).",
          (double)atomic_load(&m->heartbeat_wall_ms) / 1000.0);
    gauge(&out, m, "medclear_start_time_seconds", "When the process started (Unix time).",
          m->start_time);
    gauge(&out, m, "medclear_domain_scrape_success",
          "1 when the domain figures below were read from the database for this scrape.",
          domain_ok);
    gauge(&out, m, "medclear_domain_scrape_seconds",
          "Time taken to read the domain figures, in seconds.", took);

    pthread_mutex_lock(&m->lock);
    series_t **sorted = malloc(sizeof(*sorted) * (size_t)(m->n_series + 1));
    if (!sorted)
        abort();
    for (int c = 0; c < MC_C_COUNT_; c++) {
        const counter_family_t *f = &counters[c];
        header(&out, f->name, "counter", f->help);
        if (!f->label) {
            int64_t v = 0;
            for (int i = 0; i < SERIES_MAX; i++)
                if (m->series[i].family == c + 1)
                    v += m->series[i].value;
            sb_printf(&out, "%s{role=\"%s\"} %lld\n", f->name, m->role, (long long)v);
            continue;
        }
        int n = 0;
        for (int i = 0; i < SERIES_MAX; i++)
            if (m->series[i].family == c + 1)
                sorted[n++] = &m->series[i];
        qsort(sorted, (size_t)n, sizeof(*sorted), cmp_series);
        for (int i = 0; i < n; i++) {
            sb_printf(&out, "%s{role=\"%s\"", f->name, m->role);
            sb_label(&out, f->label, sorted[i]->label);
            sb_printf(&out, "} %lld\n", (long long)sorted[i]->value);
        }
    }
    free(sorted);

    for (int h = 0; h < MC_H_COUNT_; h++) {
        const histogram_family_t *f = &histograms[h];
        const histogram_t *v = &m->hist[h];
        header(&out, f->name, "histogram", f->help);
        uint64_t cum = 0;
        for (int b = 0; b <= f->n_bounds; b++) {
            cum += v->buckets[b];
            if (b < f->n_bounds)
                sb_printf(&out, "%s_bucket{role=\"%s\",le=\"%g\"} %llu\n", f->name, m->role,
                          f->bounds[b], (unsigned long long)cum);
            else
                sb_printf(&out, "%s_bucket{role=\"%s\",le=\"+Inf\"} %llu\n", f->name, m->role,
                          (unsigned long long)cum);
        }
        sb_printf(&out, "%s_sum{role=\"%s\"} %.17g\n", f->name, m->role, v->sum);
        sb_printf(&out, "%s_count{role=\"%s\"} %llu\n", f->name, m->role,
                  (unsigned long long)v->count);
    }

    header(&out, "medclear_consumer_lag", "gauge",
           "Messages after the consumer group's committed offset, per assigned partition "
           "(sampled every 5 s).");
    if (m->n_lags > 1) /* no array before the first sample: qsort() wants one */
        qsort(m->lags, (size_t)m->n_lags, sizeof(*m->lags), cmp_lag);
    for (int i = 0; i < m->n_lags; i++) {
        sb_printf(&out, "medclear_consumer_lag{role=\"%s\"", m->role);
        sb_label(&out, "topic", m->lags[i].topic);
        sb_printf(&out, ",partition=\"%d\"} %lld\n", (int)m->lags[i].partition,
                  (long long)m->lags[i].lag);
    }
    pthread_mutex_unlock(&m->lock);

    if (domain.len)
        sb_put(&out, domain.buf, domain.len);
    free(domain.buf);
    if (!out.buf)
        sb_put(&out, "", 0);
    *len = out.len;
    return out.buf;
}
