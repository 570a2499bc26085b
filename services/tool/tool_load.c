/*
 * `medclear load`: many agencies at once. Offers generated settlement requests to the
 * intake topics (mc.intake.<treating region>) at a fixed rate or as fast as the window of
 * outstanding requests allows, waits for every reply on mc.reply.<treating region>, and
 * reports sustained throughput and the latency from publish to first reply.
 *
 * The requests are valid ones built from the sample network in the database (LONG_TERM
 * registrations, the hospitals and catalog of their treating regions): outpatient visits
 * of 2-10 fee lines and inpatient stays of 20-200, mixed with CANCELs of accepted
 * settlements, REVERSEs of earlier (or never sent) request ids, and agencies' resends:
 * the same bytes again, and the same request under a new envelope message id. Both
 * resends must be answered with the earlier reply.
 *
 * State is one fixed-size record per published request plus its request id, in one
 * arena: a million requests take about 150 MB. A resend shares the request id of its
 * original and is credited with the next reply to that id that arrives after it was
 * sent (resends are made only of answered requests, so the original already has its
 * reply). Request bodies are never kept: a resend rebuilds the original's bytes from
 * the record (the fee lines come from a generator seeded by the record's index).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "mc_bus.h"
#include "mc_sign.h"
#include "mc_date.h"
#include "mc_db.h"
#include "mc_money.h"
#include "tool.h"
#include "tool_bus.h"
#include "tool_out.h"

#define MAX_COUNT 100000000LL
#define MAX_LINES 200
#define MAX_REASONS 64
#define NONE UINT32_MAX

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* ---- options ---------------------------------------------------------------------- */

typedef struct load_opts {
    int64_t count, window, timeout_ms;
    double rate, inpatient_pct, cancel_pct, duplicate_pct, reverse_pct;
    uint64_t seed;
    bool has_seed, json, quiet;
    int32_t visit_date;
} load_opts_t;

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: medclear load [--count N] [--rate R] [--window W] [--inpatient-pct P]\n"
        "                     [--cancel-pct P] [--duplicate-pct P] [--reverse-pct P]\n"
        "                     [--seed S] [--timeout-ms T] [--visit-date YYYY-MM-DD]\n"
        "                     [--json] [--quiet]\n"
        "\n"
        "  --count N          requests to publish, all kinds together (default 1000)\n"
        "  --rate R           requests per second; 0 = as fast as the window allows (default 0)\n"
        "  --window W         most requests awaiting their reply at any time (default 5000)\n"
        "  --inpatient-pct P  inpatient stays of 20-200 lines among the settlements (default 10)\n"
        "  --cancel-pct P     CANCELs of accepted settlements (default 3)\n"
        "  --duplicate-pct P  resends of the same bytes, and as many again of the same request\n"
        "                     under a new message id (default 2)\n"
        "  --reverse-pct P    REVERSEs of earlier request ids, a quarter never sent (default 1)\n"
        "  --seed S           seed of the generator (default random, printed in the summary)\n"
        "  --timeout-ms T     wait for replies after the last send (default "
        "treating.reply.timeout.ms)\n"
        "  --visit-date D     visit date of every request (default today)\n"
        "  --json             print only one JSON summary line on stdout\n"
        "  --quiet            no progress line on stderr\n"
        "\n"
        "Exit status: 0 when every request got a reply and none got two different replies,\n"
        "1 otherwise, 2 on bad usage.\n");
}

static bool parse_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) /* also refuses NaN */
        return false;
    *out = v;
    return true;
}

/* Parses the command's arguments. Returns 0 to go on, else the exit status. */
static int parse_opts(const mc_config_t *cfg, int argc, char **argv, load_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->count = 1000;
    o->window = 5000;
    o->timeout_ms = cfg->reply_timeout_ms;
    o->inpatient_pct = 10;
    o->cancel_pct = 3;
    o->duplicate_pct = 2;
    o->reverse_pct = 1;
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    o->visit_date = (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;

    for (int i = 0; i < argc; i++) {
        char name[32];
        const char *arg = argv[i], *val = NULL, *eq = strchr(arg, '=');
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return -1;
        }
        if (strcmp(arg, "--json") == 0) {
            o->json = true;
            continue;
        }
        if (strcmp(arg, "--quiet") == 0) {
            o->quiet = true;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr,
                    "medclear: load takes options only, not \"%s\" (see medclear load --help)\n",
                    arg);
            return 2;
        }
        if (eq) { /* --name=value */
            snprintf(name, sizeof(name), "%.*s", (int)(eq - arg) < 31 ? (int)(eq - arg) : 31, arg);
            val = eq + 1;
        } else {
            snprintf(name, sizeof(name), "%s", arg);
        }
        static const char *const valued[] = {"--count",
                                             "--rate",
                                             "--window",
                                             "--inpatient-pct",
                                             "--cancel-pct",
                                             "--duplicate-pct",
                                             "--reverse-pct",
                                             "--seed",
                                             "--timeout-ms",
                                             "--visit-date",
                                             NULL};
        bool known = false;
        for (const char *const *v = valued; *v && !known; v++)
            known = strcmp(name, *v) == 0;
        if (!known) {
            fprintf(stderr, "medclear: load: unknown option \"%s\" (see medclear load --help)\n",
                    name);
            return 2;
        }
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "medclear: %s needs a value\n", name);
                return 2;
            }
            val = argv[++i];
        }
        bool ok = true;
        const char *want = "";
        if (strcmp(name, "--count") == 0) {
            ok = tool_parse_int(val, 1, MAX_COUNT, &o->count);
            want = "a whole number from 1 to 100000000";
        } else if (strcmp(name, "--window") == 0) {
            ok = tool_parse_int(val, 1, 10000000, &o->window);
            want = "a whole number from 1 to 10000000";
        } else if (strcmp(name, "--timeout-ms") == 0) {
            ok = tool_parse_int(val, 1, INT32_MAX, &o->timeout_ms);
            want = "a positive number of milliseconds";
        } else if (strcmp(name, "--rate") == 0) {
            ok = parse_num(val, 0, 10000000, &o->rate);
            want = "requests per second from 0 (as fast as possible) to 10000000";
        } else if (strcmp(name, "--seed") == 0) {
            char *end;
            errno = 0;
            o->seed = strtoull(val, &end, 0);
            ok = !errno && end != val && !*end && val[0] != '-';
            o->has_seed = true;
            want = "a whole number from 0 to 18446744073709551615";
        } else if (strcmp(name, "--visit-date") == 0) {
            ok = mc_date_parse(val, &o->visit_date);
            want = "a date YYYY-MM-DD";
        } else {
            double *pct = strcmp(name, "--inpatient-pct") == 0   ? &o->inpatient_pct
                          : strcmp(name, "--cancel-pct") == 0    ? &o->cancel_pct
                          : strcmp(name, "--duplicate-pct") == 0 ? &o->duplicate_pct
                                                                 : &o->reverse_pct;
            ok = parse_num(val, 0, 100, pct);
            want = "a percentage from 0 to 100";
        }
        if (!ok) {
            fprintf(stderr, "medclear: %s: \"%s\" is not %s\n", name, val, want);
            return 2;
        }
    }
    double others = o->cancel_pct + 2 * o->duplicate_pct + o->reverse_pct;
    if (others >= 100) {
        fprintf(stderr,
                "medclear: --cancel-pct %g + 2 x --duplicate-pct %g + --reverse-pct %g = %g%% "
                "leaves no settlement requests: keep the sum under 100\n",
                o->cancel_pct, o->duplicate_pct, o->reverse_pct, others);
        return 2;
    }
    if (!o->has_seed && getrandom(&o->seed, sizeof(o->seed), 0) != (ssize_t)sizeof(o->seed))
        o->seed = (uint64_t)time(NULL);
    return 0;
}

/* ---- random numbers: splitmix64, small and good enough for load shapes ---------------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static uint32_t rng_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(((unsigned __int128)rng_next(s) * n) >> 64);
}

static bool rng_pct(uint64_t *s, double pct)
{
    return (double)(rng_next(s) >> 11) * 0x1.0p-53 * 100.0 < pct;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* ---- the sample network, read from the database -------------------------------------- */

typedef struct region {
    char code[8];
    char intake[128], reply[128]; /* topics */
    uint32_t hosp0, n_hosp, item0, n_items;
} region_t;

typedef struct item {
    char *code, *name; /* owned */
} item_t;

typedef struct registration {
    char person[MC_ID_MAX + 1];
    char insuring[8];
    uint32_t region; /* treating region, index in regions */
} registration_t;

typedef struct network {
    region_t regions[MC_MAX_REGIONS];
    int n_regions;
    char (*hospitals)[MC_ID_MAX + 1];
    uint32_t n_hospitals;
    item_t *items;
    uint32_t n_items;
    registration_t *regs;
    uint32_t n_regs;
} network_t;

static int region_index(const network_t *net, const char *code)
{
    for (int i = 0; i < net->n_regions; i++)
        if (strcmp(net->regions[i].code, code) == 0)
            return i;
    return -1;
}

static void network_free(network_t *net)
{
    for (uint32_t i = 0; i < net->n_items; i++) {
        free(net->items[i].code);
        free(net->items[i].name);
    }
    free(net->items);
    free(net->hospitals);
    free(net->regs);
}

/*
 * Reads the hospitals, the catalog items and the LONG_TERM registrations valid on the
 * visit date, keeping the treating regions that have both hospitals and items. Returns
 * false after writing why on stderr.
 */
static bool network_load(const mc_config_t *cfg, int32_t visit_date, network_t *net)
{
    char date[11];
    bool ok = false;
    PGresult *hosp = NULL, *items = NULL, *regs = NULL;
    PGconn *db = tool_connect(cfg);
    if (!db)
        return false;
    mc_date_format(visit_date, date);
    mc_params_t p;
    mc_params_init(&p);
    mc_p_str(&p, date);
    hosp = mc_db_run(db, "SELECT code, region FROM treating.hospitals ORDER BY region, code", NULL);
    items = mc_db_run(db,
                      "SELECT DISTINCT ON (region, item_code) region, item_code, name "
                      "FROM treating.catalog_items WHERE valid_from <= $1::date "
                      "AND (valid_to IS NULL OR valid_to >= $1::date) "
                      "ORDER BY region, item_code, valid_from DESC",
                      &p);
    regs = mc_db_run(db,
                     "SELECT r.person_id, p.region, r.treating_region "
                     "FROM insuring.registrations r JOIN insuring.persons p USING (person_id) "
                     "WHERE r.reg_type = 'LONG_TERM' AND r.valid_from <= $1::date "
                     "AND (r.valid_to IS NULL OR r.valid_to >= $1::date) "
                     "ORDER BY r.person_id, r.treating_region",
                     &p);
    if (!hosp || !items || !regs) {
        fprintf(stderr, "medclear: could not read the network from the database (is it "
                        "migrated and loaded? medclear db migrate; medclear data load DIR)\n");
        goto out;
    }

    int nh = PQntuples(hosp), ni = PQntuples(items), nr = PQntuples(regs);
    net->hospitals = calloc((size_t)nh + 1, sizeof(*net->hospitals));
    net->items = calloc((size_t)ni + 1, sizeof(*net->items));
    net->regs = calloc((size_t)nr + 1, sizeof(*net->regs));
    if (!net->hospitals || !net->items || !net->regs)
        abort();
    for (int i = 0; i < nh; i++) {
        const char *code = mc_db_str(hosp, i, 0), *region = mc_db_str(hosp, i, 1);
        int r = region_index(net, region);
        if (r < 0) {
            if (net->n_regions == MC_MAX_REGIONS || !mc_valid_region(region))
                continue;
            r = net->n_regions++;
            region_t *g = &net->regions[r];
            snprintf(g->code, sizeof(g->code), "%s", region);
            mc_bus_topic2(cfg, g->intake, sizeof(g->intake), "intake", region);
            mc_bus_topic2(cfg, g->reply, sizeof(g->reply), "reply", region);
            g->hosp0 = net->n_hospitals;
        }
        if (!mc_valid_id(code, MC_ID_MAX))
            continue;
        snprintf(net->hospitals[net->n_hospitals++], MC_ID_MAX + 1, "%s", code);
        net->regions[r].n_hosp++; /* rows come ordered by region: a region's are contiguous */
    }
    for (int i = 0; i < ni; i++) {
        int r = region_index(net, mc_db_str(items, i, 0));
        if (r < 0)
            continue;
        if (net->regions[r].n_items == 0)
            net->regions[r].item0 = net->n_items;
        item_t *it = &net->items[net->n_items++];
        it->code = strdup(mc_db_str(items, i, 1));
        it->name = strndup(mc_db_str(items, i, 2), 64);
        if (!it->code || !it->name)
            abort();
        net->regions[r].n_items++;
    }
    for (int i = 0; i < nr; i++) {
        int r = region_index(net, mc_db_str(regs, i, 2));
        const char *person = mc_db_str(regs, i, 0), *insuring = mc_db_str(regs, i, 1);
        if (r < 0 || net->regions[r].n_hosp == 0 || net->regions[r].n_items == 0 ||
            !mc_valid_id(person, MC_ID_MAX) || !mc_valid_region(insuring))
            continue;
        registration_t *g = &net->regs[net->n_regs++];
        snprintf(g->person, sizeof(g->person), "%s", person);
        snprintf(g->insuring, sizeof(g->insuring), "%s", insuring);
        g->region = (uint32_t)r;
    }
    if (net->n_regs == 0) {
        fprintf(stderr,
                "medclear: no LONG_TERM registration valid on %s whose treating region has "
                "hospitals and catalog items (medclear data load deploy/sample?)\n",
                date);
        goto out;
    }
    ok = true;
out:
    PQclear(hosp);
    PQclear(items);
    PQclear(regs);
    PQfinish(db);
    return ok;
}

/* ---- per-request records -------------------------------------------------------------- */

enum { K_SETTLE, K_CANCEL, K_REVERSE, K_DUP_SAME, K_DUP_NEW, K__COUNT };

enum { F_INPATIENT = 1, F_GHOST = 2 };
enum { ST_NONE, ST_ACCEPTED, ST_REJECTED };

/* One published request. */
typedef struct rec {
    const char *id;         /* request id in the arena; a resend borrows its original's */
    int64_t sent_us;        /* monotonic time of publishing */
    int64_t reply_us;       /* monotonic time of the first reply; 0: none yet */
    int64_t created_ms;     /* envelope created_at_ms, replayed by a same-bytes resend */
    uint64_t reply_hash[2]; /* originals: the first two distinct reply message ids, hashed */
    uint32_t msg_seq;       /* envelope message id = run tag + this */
    uint32_t orig;          /* the record whose request this is: itself unless a resend */
    uint32_t next_dup;      /* originals: first resend awaiting a reply; resends: the next */
    uint32_t reg, hospital; /* party: registration and hospital */
    uint32_t aux;           /* CANCEL: index in sids; REVERSE: target record or ghost number */
    int delivered;          /* set by the producer: 1 delivered, -1 failed, 0 in flight */
    uint8_t kind, flags, status, reason, n_distinct;
} rec_t;

/* Request ids live in chunks that are freed together. */
typedef struct arena {
    char **chunks;
    size_t n_chunks, used;
} arena_t;

#define ARENA_CHUNK (1u << 20)

static char *arena_strdup(arena_t *a, const char *s)
{
    size_t len = strlen(s) + 1;
    if (a->n_chunks == 0 || a->used + len > ARENA_CHUNK) {
        char **c = realloc(a->chunks, (a->n_chunks + 1) * sizeof(*c));
        if (!c || !(c[a->n_chunks] = malloc(ARENA_CHUNK)))
            abort();
        a->chunks = c;
        a->n_chunks++;
        a->used = 0;
    }
    char *out = a->chunks[a->n_chunks - 1] + a->used;
    memcpy(out, s, len);
    a->used += len;
    return out;
}

static void arena_free(arena_t *a)
{
    for (size_t i = 0; i < a->n_chunks; i++)
        free(a->chunks[i]);
    free(a->chunks);
}

/* A settled claim that may be cancelled: its record and the settlement id of its reply. */
typedef struct candidate {
    uint32_t rec;
    char sid[MC_ID_MAX + 1];
} candidate_t;

typedef struct load {
    const mc_config_t *cfg;
    mc_keyring_t *keyring; /* NULL: requests go unsigned */
    load_opts_t o;
    network_t net;
    rd_kafka_t *producer, *consumer;
    uint64_t rng;
    uint64_t run_tag;  /* random: makes message and request ids unique across runs */
    time_t start_time; /* the request ids' time field starts here */

    rec_t *recs; /* count records, one per published request */
    uint32_t n_recs;
    uint32_t *table; /* open addressing: request id -> record index + 1 */
    uint32_t table_mask;
    arena_t ids;
    uint32_t next_rid; /* request id counter, also gives ghosts' ids */
    uint32_t next_msg; /* envelope message id counter */

    int64_t left[K__COUNT]; /* requests of each kind still to publish */
    int64_t sent[K__COUNT];
    uint32_t *answered; /* answered originals not resent yet: each is resent at most once */
    uint32_t n_answered_orig;
    candidate_t *cands; /* accepted settlements not cancelled yet, at most left[K_CANCEL] */
    uint32_t n_cands;
    char (*sids)[MC_ID_MAX + 1]; /* settlement id of each CANCEL sent */
    uint32_t n_sids, cap_sids;
    uint32_t last_settle; /* NONE before the first */
    uint32_t n_reverse;

    char reasons[MAX_REASONS][48]; /* reason codes seen; 0 is "" */
    int n_reasons;

    int64_t n_sent, n_answered, n_failed;
    uint32_t dr_cursor; /* records below it have their delivery report counted */
    int64_t replies_read, replies_repeated, replies_foreign, consumer_errors;
    int64_t first_send_us, last_send_us, first_reply_us, last_reply_us, last_event_us;
    int64_t cpu_at_first_send_us; /* this process's CPU time then (cpu_used_us()) */
    int64_t tick_us, tick_answered; /* of the last progress line, for its rate */
    tool_progress_t progress;
    bool stopped_by_error;
    int64_t last_warn_us;

    /* the request being built: reused for every publish */
    Medclear__SettlementRequest req;
    Medclear__FeeLine lines[MAX_LINES];
    Medclear__FeeLine *line_ptrs[MAX_LINES];
    char orig_id[MC_ID_MAX + 1];
} load_t;

static uint32_t table_find(const load_t *L, const char *id)
{
    for (uint32_t h = (uint32_t)hash_str(id) & L->table_mask;; h = (h + 1) & L->table_mask) {
        uint32_t v = L->table[h];
        if (v == 0)
            return NONE;
        if (strcmp(L->recs[v - 1].id, id) == 0)
            return v - 1;
    }
}

static void table_add(load_t *L, uint32_t idx)
{
    uint32_t h = (uint32_t)hash_str(L->recs[idx].id) & L->table_mask;
    while (L->table[h])
        h = (h + 1) & L->table_mask;
    L->table[h] = idx + 1;
}

/*
 * A request id in the msgid shape: hospital code + yyyyMMddHHmmss + 4 digits, where the
 * time is the run's start plus one second per 10000 requests, then "-" and the run tag so
 * that two runs started in the same second never share an id.
 */
static void request_id(const load_t *L, const char *hospital, uint32_t n, char out[MC_ID_MAX + 1])
{
    time_t t = L->start_time + (time_t)(n / 10000);
    struct tm tm;
    char when[16];
    localtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y%m%d%H%M%S", &tm);
    snprintf(out, MC_ID_MAX + 1, "%.24s%s%04u-%08" PRIx32, hospital, when, n % 10000,
             (uint32_t)L->run_tag);
}

static int reason_index(load_t *L, const char *code)
{
    for (int i = 0; i < L->n_reasons; i++)
        if (strcmp(L->reasons[i], code) == 0)
            return i;
    if (L->n_reasons == MAX_REASONS)
        return MAX_REASONS - 1; /* the last one collects the rest */
    snprintf(L->reasons[L->n_reasons], sizeof(L->reasons[0]), "%s",
             L->n_reasons == MAX_REASONS - 1 ? "OTHER" : code);
    return L->n_reasons++;
}

/* ---- building and publishing requests ----------------------------------------------- */

/* Fills L->req with the body of original record i: the same bytes every time. */
static void build_body(load_t *L, uint32_t i)
{
    const rec_t *r = &L->recs[i];
    const registration_t *g = &L->net.regs[r->reg];
    region_t *region = &L->net.regions[g->region];
    Medclear__SettlementRequest *q = &L->req;
    medclear__settlement_request__init(q);
    q->request_id = (char *)r->id;
    q->treating_region = region->code;
    q->hospital_code = L->net.hospitals[r->hospital];
    q->person_id = (char *)g->person;
    q->insuring_region = (char *)g->insuring;
    q->visit_date = L->o.visit_date;
    switch (r->kind) {
    case K_SETTLE: {
        uint64_t s = L->o.seed ^ ((uint64_t)(i + 1) * 0xD1B54A32D192ED03ULL);
        bool inpatient = r->flags & F_INPATIENT;
        size_t n = inpatient ? 20 + rng_below(&s, 181) : 2 + rng_below(&s, 9);
        q->kind = MEDCLEAR__KIND__SETTLE;
        q->visit_type =
            inpatient ? MEDCLEAR__VISIT_TYPE__INPATIENT : MEDCLEAR__VISIT_TYPE__OUTPATIENT;
        for (size_t k = 0; k < n; k++) {
            Medclear__FeeLine *l = &L->lines[k];
            const item_t *it = &L->net.items[region->item0 + rng_below(&s, region->n_items)];
            medclear__fee_line__init(l);
            l->line_no = (int32_t)k + 1;
            l->item_code = it->code;
            l->item_name = it->name;
            l->quantity_milli = 1000 + 500 * (int64_t)rng_below(&s, 9);
            l->unit_price_fen = 100 + (int64_t)rng_below(&s, 50000 - 100 + 1);
            l->amount_fen = mc_mul_div_round(l->quantity_milli, l->unit_price_fen, 1000);
            L->line_ptrs[k] = l;
        }
        q->n_lines = n;
        q->lines = L->line_ptrs;
        break;
    }
    case K_CANCEL:
        q->kind = MEDCLEAR__KIND__CANCEL;
        q->settlement_id = L->sids[r->aux];
        break;
    case K_REVERSE:
        q->kind = MEDCLEAR__KIND__REVERSE;
        if (r->flags & F_GHOST)
            request_id(L, q->hospital_code, r->aux, L->orig_id);
        else
            snprintf(L->orig_id, sizeof(L->orig_id), "%s", L->recs[r->aux].id);
        q->original_request_id = L->orig_id;
        break;
    }
}

static void warn_limited(load_t *L, const char *what, const char *detail)
{
    int64_t now = tool_now_us();
    if (now - L->last_warn_us < 5000000)
        return;
    L->last_warn_us = now;
    tool_progress_clear(&L->progress);
    fprintf(stderr, "medclear: %s: %s (continuing)\n", what, detail);
}

static void read_replies(load_t *L, int timeout_ms);

/* CPU time this process used so far, all its threads (librdkafka's among them), in us. */
static int64_t cpu_used_us(void)
{
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u) != 0)
        return 0;
    return ((int64_t)u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000 + u.ru_utime.tv_usec +
           u.ru_stime.tv_usec;
}

/*
 * Publishes record i, already filled in. Keeps reading replies while the producer's
 * queue is full. Returns false when the producer refused the message for good.
 */
static bool publish(load_t *L, uint32_t i)
{
    rec_t *r = &L->recs[i];
    const rec_t *o = &L->recs[r->orig];
    build_body(L, r->orig);
    char id_buf[33], msg_id[33];
    Medclear__Envelope env;
    mc_envelope_init(&env, id_buf, L->req.treating_region, NULL);
    /* The message id is derived from the record, so a same-bytes resend can replay it. */
    snprintf(msg_id, sizeof(msg_id), "%016" PRIx64 "%016" PRIx32, L->run_tag, r->msg_seq);
    env.message_id = msg_id;
    env.trace_id = msg_id;
    env.created_at_ms = r->created_ms;
    env.body_case = MEDCLEAR__ENVELOPE__BODY_REQUEST;
    env.request = &L->req;
    size_t len;
    char err[128];
    uint8_t *buf = mc_envelope_seal(L->keyring, &env, &len, err, sizeof(err));
    if (!buf) {
        tool_progress_clear(&L->progress);
        fprintf(stderr, "medclear: %s\n", err);
        return false;
    }
    const char *topic = L->net.regions[L->net.regs[o->reg].region].intake;
    rd_kafka_resp_err_t e;
    r->sent_us = tool_now_us();
    for (;;) {
        e = rd_kafka_producev(L->producer, RD_KAFKA_V_TOPIC(topic),
                              RD_KAFKA_V_KEY(o->id, strlen(o->id)), RD_KAFKA_V_VALUE(buf, len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                              RD_KAFKA_V_OPAQUE(&r->delivered), RD_KAFKA_V_END);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        /* the broker is slow or away: serve delivery reports and replies, then retry */
        rd_kafka_poll(L->producer, 10);
        read_replies(L, 0);
        r->sent_us = tool_now_us();
    }
    L->n_sent++;
    L->sent[r->kind]++;
    L->last_send_us = L->last_event_us = r->sent_us;
    if (!L->first_send_us) {
        L->first_send_us = r->sent_us;
        L->cpu_at_first_send_us = cpu_used_us();
    }
    if (e) {
        free(buf);
        r->delivered = -1;
        tool_progress_clear(&L->progress);
        fprintf(stderr, "medclear: could not publish %s on %s: %s\n", o->id, topic,
                rd_kafka_err2str(e));
        return false;
    }
    return true;
}

/* Starts a new record of the given kind; its party and ids are filled by the caller. */
static rec_t *new_rec(load_t *L, int kind, uint32_t *idx)
{
    *idx = L->n_recs++;
    rec_t *r = &L->recs[*idx];
    r->kind = (uint8_t)kind;
    r->orig = *idx;
    r->next_dup = NONE;
    r->msg_seq = L->next_msg++;
    r->created_ms = mc_now_ms();
    return r;
}

/* Gives original record i (party already set) a new request id and indexes it. */
static void name_rec(load_t *L, uint32_t i)
{
    char id[MC_ID_MAX + 1];
    request_id(L, L->net.hospitals[L->recs[i].hospital], L->next_rid++, id);
    L->recs[i].id = arena_strdup(&L->ids, id);
    table_add(L, i);
}

static void random_party(load_t *L, rec_t *r)
{
    r->reg = rng_below(&L->rng, L->net.n_regs);
    const region_t *g = &L->net.regions[L->net.regs[r->reg].region];
    r->hospital = g->hosp0 + rng_below(&L->rng, g->n_hosp);
}

static bool available(const load_t *L, int k)
{
    switch (k) {
    case K_SETTLE:
        return true;
    case K_CANCEL:
        return L->n_cands > 0;
    case K_REVERSE:
        return L->last_settle != NONE;
    default:
        return L->n_answered_orig > 0;
    }
}

/*
 * Chooses the kind of the next request: drawn by what is left of each kind; a kind that
 * needs replies not received yet (a CANCEL needs an accepted settlement, a resend an
 * answered request) gives way to a settlement while settlements are left, else waits.
 * When nothing can make it possible any more (nothing outstanding, or no reply for the
 * timeout), what is left of it becomes settlements, so exactly --count are published.
 * Returns -1 to wait for replies.
 */
static int choose_kind(load_t *L, int64_t outstanding, int64_t now)
{
    int64_t total = 0;
    for (int k = 0; k < K__COUNT; k++)
        total += L->left[k];
    uint64_t x = rng_next(&L->rng) % (uint64_t)total;
    int k = 0;
    while (x >= (uint64_t)L->left[k])
        x -= (uint64_t)L->left[k++];
    if (available(L, k))
        return k;
    if (L->left[K_SETTLE] > 0)
        return K_SETTLE;
    for (k = 0; k < K__COUNT; k++)
        if (L->left[k] > 0 && available(L, k))
            return k;
    if (outstanding > 0 && now - L->last_event_us < L->o.timeout_ms * 1000)
        return -1;
    for (k = 1; k < K__COUNT; k++) {
        L->left[K_SETTLE] += L->left[k];
        L->left[k] = 0;
    }
    return K_SETTLE;
}

/* Publishes one request of kind k. Returns false when the producer refused it. */
static bool send_one(load_t *L, int k)
{
    uint32_t i;
    rec_t *r;
    L->left[k]--;
    switch (k) {
    case K_SETTLE:
        r = new_rec(L, k, &i);
        random_party(L, r);
        if (rng_pct(&L->rng, L->o.inpatient_pct))
            r->flags |= F_INPATIENT;
        name_rec(L, i);
        L->last_settle = i;
        break;
    case K_CANCEL: {
        uint32_t c = rng_below(&L->rng, L->n_cands);
        const rec_t *s = &L->recs[L->cands[c].rec];
        r = new_rec(L, k, &i);
        r->reg = s->reg;
        r->hospital = s->hospital;
        r->aux = L->n_sids;
        memcpy(L->sids[L->n_sids++], L->cands[c].sid, sizeof(L->sids[0]));
        L->cands[c] = L->cands[--L->n_cands];
        name_rec(L, i);
        break;
    }
    case K_REVERSE:
        r = new_rec(L, k, &i);
        if (L->n_reverse++ % 4 == 3) { /* a quarter name a request id never sent */
            random_party(L, r);
            r->flags |= F_GHOST;
            r->aux = L->next_rid++;
        } else {
            /* an earlier settlement: a few random probes, else the latest */
            uint32_t t = L->last_settle;
            for (int probe = 0; probe < 16; probe++) {
                uint32_t c = rng_below(&L->rng, i);
                if (L->recs[c].kind == K_SETTLE) {
                    t = c;
                    break;
                }
            }
            r->reg = L->recs[t].reg;
            r->hospital = L->recs[t].hospital;
            r->aux = t;
        }
        name_rec(L, i);
        break;
    default: { /* a resend of an answered request, each at most once so that resends
                * are spread over the run rather than piled on the first answers */
        uint32_t a = rng_below(&L->rng, L->n_answered_orig);
        uint32_t t = L->answered[a];
        L->answered[a] = L->answered[--L->n_answered_orig];
        r = new_rec(L, k, &i);
        rec_t *o = &L->recs[t];
        r->orig = t;
        r->id = o->id;
        r->reg = o->reg;
        r->hospital = o->hospital;
        if (k == K_DUP_SAME) {
            r->msg_seq = o->msg_seq;
            r->created_ms = o->created_ms;
        }
        if (!publish(L, i))
            return false;
        /* awaits a reply to the original's id once it is out, after the resends of the
         * same request sent before it */
        uint32_t *link = &o->next_dup;
        while (*link != NONE)
            link = &L->recs[*link].next_dup;
        *link = i;
        return true;
    }
    }
    return publish(L, i);
}

/* ---- replies ------------------------------------------------------------------------ */

static void answer(load_t *L, uint32_t i, const Medclear__SettlementReply *p, int64_t now)
{
    rec_t *r = &L->recs[i];
    r->reply_us = now;
    r->status = p->status == MEDCLEAR__STATUS__ACCEPTED ? ST_ACCEPTED : ST_REJECTED;
    r->reason = (uint8_t)reason_index(L, r->status == ST_ACCEPTED ? "" : p->reason_code);
    L->n_answered++;
    if (!L->first_reply_us)
        L->first_reply_us = now;
    L->last_reply_us = L->last_event_us = now;
    if (r->orig != i)
        return;
    L->answered[L->n_answered_orig++] = i;
    /* an accepted settlement may be cancelled later; the pool keeps as many as are left
     * to send, a newer one taking a random place when it is full */
    if (r->kind == K_SETTLE && r->status == ST_ACCEPTED && L->left[K_CANCEL] > 0 &&
        mc_valid_id(p->settlement_id, MC_ID_MAX)) {
        uint32_t c = L->n_cands < (uint64_t)L->left[K_CANCEL] ? L->n_cands++
                                                              : rng_below(&L->rng, L->n_cands);
        L->cands[c].rec = i;
        snprintf(L->cands[c].sid, sizeof(L->cands[c].sid), "%s", p->settlement_id);
    }
}

static void on_reply(load_t *L, const Medclear__Envelope *env, int64_t now)
{
    const Medclear__SettlementReply *p = env->reply;
    uint32_t i = table_find(L, p->request_id);
    if (i == NONE) {
        L->replies_foreign++; /* another agency's, or an earlier run's */
        return;
    }
    rec_t *r = &L->recs[i];
    uint64_t h = hash_str(env->message_id);
    if (r->n_distinct == 0) {
        r->reply_hash[0] = h;
        r->n_distinct = 1;
    } else if (h != r->reply_hash[0] && (r->n_distinct < 2 || h != r->reply_hash[1])) {
        if (r->n_distinct < 2)
            r->reply_hash[1] = h;
        if (r->n_distinct < UINT8_MAX)
            r->n_distinct++;
    }
    if (!r->reply_us) {
        answer(L, i, p, now);
        return;
    }
    uint32_t d = r->next_dup;
    if (d != NONE && L->recs[d].sent_us <= now) {
        r->next_dup = L->recs[d].next_dup;
        answer(L, d, p, now);
        return;
    }
    L->replies_repeated++; /* the same reply delivered again */
}

/* Reads the replies available, waiting up to timeout_ms for the first. */
static void read_replies(load_t *L, int timeout_ms)
{
    for (int n = 0; n < 10000; n++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(L->consumer, n == 0 ? timeout_ms : 0);
        if (!m)
            return;
        int64_t now = tool_now_us();
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                L->consumer_errors++;
                warn_limited(L, "reading replies", rd_kafka_message_errstr(m));
            }
        } else {
            Medclear__Envelope *env = NULL;
            char detail[128];
            L->replies_read++;
            if (mc_envelope_decode(m->payload, m->len, SIZE_MAX, &env, detail, sizeof(detail)) ==
                    MC_OK &&
                env->body_case == MEDCLEAR__ENVELOPE__BODY_REPLY)
                on_reply(L, env, now);
            else
                L->replies_foreign++;
            if (env)
                medclear__envelope__free_unpacked(env, NULL);
        }
        rd_kafka_message_destroy(m);
    }
}

/* Counts the delivery reports come in since the last call (records are sent in order). */
static void count_deliveries(load_t *L)
{
    while (L->dr_cursor < L->n_recs && L->recs[L->dr_cursor].delivered != 0) {
        if (L->recs[L->dr_cursor].delivered < 0 && !L->recs[L->dr_cursor].reply_us)
            L->n_failed++;
        L->dr_cursor++;
    }
}

static void show_progress(load_t *L, int64_t now, bool final)
{
    if (final) {
        tool_progress_clear(&L->progress);
        return;
    }
    if (!tool_progress_due(&L->progress))
        return;
    double rate = (double)(L->n_answered - L->tick_answered) * 1e6 / (double)(now - L->tick_us);
    tool_progress_show(&L->progress,
                       "sent %" PRId64 "  answered %" PRId64 "  outstanding %" PRId64
                       "  rate %.0f/s",
                       L->n_sent, L->n_answered, L->n_sent - L->n_answered - L->n_failed, rate);
    L->tick_us = now;
    L->tick_answered = L->n_answered;
}

/* ---- the run -------------------------------------------------------------------------- */

/* Creates the producer and a reply consumer positioned at the reply topics' end. */
static bool open_bus(load_t *L)
{
    char err[512], topics[MC_MAX_REGIONS][128], id[33], group[64];
    const char *tp[2 * MC_MAX_REGIONS];
    int n = 0;
    if (!mc_keyring_from_config(L->cfg, &L->keyring, err, sizeof(err))) {
        fprintf(stderr, "medclear: %s\n", err);
        return false;
    }
    L->producer = mc_bus_producer(L->cfg, err, sizeof(err));
    if (!L->producer) {
        fprintf(stderr, "medclear: %s\n", err);
        return false;
    }
    /* the reply and intake topics of the treating regions that have registrations */
    for (int r = 0; r < L->net.n_regions; r++)
        for (uint32_t g = 0; g < L->net.n_regs; g++)
            if (L->net.regs[g].region == (uint32_t)r) {
                snprintf(topics[n], sizeof(topics[0]), "%s", L->net.regions[r].reply);
                tp[n] = topics[n];
                tp[MC_MAX_REGIONS + n++] = L->net.regions[r].intake;
                break;
            }
    memmove(tp + n, tp + MC_MAX_REGIONS, (size_t)n * sizeof(tp[0]));
    if (!mc_bus_ensure_topics(L->producer, tp, 2 * n, (int)L->cfg->topic_partitions, err,
                              sizeof(err))) {
        fprintf(stderr, "medclear: %s\n", err);
        return false;
    }
    mc_bus_new_id(id);
    snprintf(group, sizeof(group), "medclear-load-%.8s", id);
    L->consumer = mc_bus_consumer(L->cfg, group, NULL, 0, err, sizeof(err));
    if (!L->consumer) {
        fprintf(stderr, "medclear: %s\n", err);
        return false;
    }
    return tool_bus_assign_at_end(L->producer, L->consumer, topics, n);
}

/* Sends everything and reads the replies until all are in, the timeout, or a stop. */
static void run(load_t *L)
{
    int64_t count = L->o.count;
    tool_progress_start(&L->progress, L->o.quiet); /* the first line after a second */
    L->tick_us = L->progress.start_us;
    while (!stop_requested) {
        int64_t now = tool_now_us();
        rd_kafka_poll(L->producer, 0);
        count_deliveries(L);
        show_progress(L, now, false);
        int64_t outstanding = L->n_sent - L->n_answered - L->n_failed;
        int wait_ms = 100;
        if (L->n_sent < count && !L->stopped_by_error) {
            bool window_ok = outstanding < L->o.window;
            bool rate_ok = true;
            if (L->o.rate > 0 && L->first_send_us) {
                double due_us = (double)L->n_sent * 1e6 / L->o.rate; /* of the next send */
                double ahead = due_us - (double)(now - L->first_send_us);
                rate_ok = ahead <= 0;
                if (!rate_ok && ahead < 100000)
                    wait_ms = (int)(ahead / 1000) + 1;
            }
            if (window_ok && rate_ok) {
                int k = choose_kind(L, outstanding, now);
                if (k >= 0) {
                    if (!send_one(L, k))
                        L->stopped_by_error = true;
                    else if (rd_kafka_fatal_error(L->producer, NULL, 0)) {
                        char why[256];
                        rd_kafka_fatal_error(L->producer, why, sizeof(why));
                        tool_progress_clear(&L->progress);
                        fprintf(stderr, "medclear: the producer failed for good: %s\n", why);
                        L->stopped_by_error = true;
                    }
                    if (L->n_sent % 64 == 0)
                        read_replies(L, 0);
                    continue;
                }
            }
        } else {
            if (outstanding <= 0)
                break;
            if (now - L->last_send_us > L->o.timeout_ms * 1000)
                break;
        }
        read_replies(L, wait_ms);
    }
    count_deliveries(L);
    show_progress(L, tool_now_us(), true);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[n], in ms. */
static double pct_ms(const int64_t *v, size_t n, double p)
{
    size_t rank = (size_t)(p * (double)n + 0.999999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)v[rank - 1] / 1000.0;
}

/* Prints the summary and lists the failures on stderr. Returns the exit status. */
static int report(load_t *L)
{
    int64_t *lat = malloc(((size_t)L->n_recs + 1) * sizeof(*lat));
    int64_t by_reason[MAX_REASONS] = {0};
    int64_t accepted = 0, rejected = 0, unanswered = 0, multiple = 0, inpatient = 0;
    size_t n = 0;
    if (!lat)
        abort();
    for (uint32_t i = 0; i < L->n_recs; i++) {
        const rec_t *r = &L->recs[i];
        inpatient += r->kind == K_SETTLE && (r->flags & F_INPATIENT);
        if (r->reply_us) {
            lat[n++] = r->reply_us - r->sent_us;
            if (r->status == ST_ACCEPTED)
                accepted++;
            else {
                rejected++;
                by_reason[r->reason]++;
            }
        } else {
            unanswered++;
        }
        if (r->orig == i && r->n_distinct > 1)
            multiple++;
    }
    qsort(lat, n, sizeof(*lat), cmp_i64);
    double span_s = L->last_reply_us > L->first_send_us
                        ? (double)(L->last_reply_us - L->first_send_us) / 1e6
                        : 0;
    double throughput = span_s > 0 ? (double)n / span_s : 0;
    int64_t end_us = L->last_reply_us > L->last_send_us ? L->last_reply_us : L->last_send_us;
    double duration_s = L->first_send_us ? (double)(end_us - L->first_send_us) / 1e6 : 0;
    /* from the first send on: the load generator shares the machine it measures */
    double cpu_s = L->first_send_us ? (double)(cpu_used_us() - L->cpu_at_first_send_us) / 1e6 : 0;
    static const double ps[] = {0.50, 0.90, 0.99, 0.999};
    static const char *const pnames[] = {"p50", "p90", "p99", "p999"};
    int64_t dups = L->sent[K_DUP_SAME] + L->sent[K_DUP_NEW];
    char date[11];
    mc_date_format(L->o.visit_date, date);

    if (L->o.json) {
        printf("{\"sent\":%" PRId64 ",\"answered\":%zu,\"unanswered\":%" PRId64
               ",\"multiple_replies\":%" PRId64 ",\"accepted\":%" PRId64 ",\"rejected\":%" PRId64
               ",\"by_reason\":{",
               L->n_sent, n, unanswered, multiple, accepted, rejected);
        bool first = true;
        for (int k = 0; k < L->n_reasons; k++) {
            if (!by_reason[k])
                continue;
            printf("%s", first ? "" : ",");
            tool_bus_json_str(stdout, L->reasons[k][0] ? L->reasons[k] : "UNSPECIFIED");
            printf(":%" PRId64, by_reason[k]);
            first = false;
        }
        printf("},\"throughput_per_s\":%.1f,\"latency_ms\":", throughput);
        if (n) {
            printf("{");
            for (int k = 0; k < 4; k++)
                printf("\"%s\":%.3f,", pnames[k], pct_ms(lat, n, ps[k]));
            printf("\"max\":%.3f}", (double)lat[n - 1] / 1000.0);
        } else {
            printf("null");
        }
        printf(",\"duration_s\":%.3f,\"cpu_s\":%.3f,\"count_settle\":%" PRId64
               ",\"count_cancel\":%" PRId64 ",\"count_reverse\":%" PRId64
               ",\"count_duplicate\":%" PRId64 "}\n",
               duration_s, cpu_s, L->sent[K_SETTLE], L->sent[K_CANCEL], L->sent[K_REVERSE], dups);
    } else {
        printf("medclear load: %" PRId64 " requests in %.1f s (visit date %s, seed %" PRIu64 ")\n",
               L->n_sent, duration_s, date, L->o.seed);
        printf("  sent          %" PRId64 " settle (%" PRId64 " inpatient), %" PRId64
               " cancel, %" PRId64 " reverse, %" PRId64 " duplicate (%" PRId64
               " same bytes, %" PRId64 " new message id)\n",
               L->sent[K_SETTLE], inpatient, L->sent[K_CANCEL], L->sent[K_REVERSE], dups,
               L->sent[K_DUP_SAME], L->sent[K_DUP_NEW]);
        printf("  answered      %zu: %" PRId64 " accepted, %" PRId64 " rejected\n", n, accepted,
               rejected);
        for (int k = 0; k < L->n_reasons; k++)
            if (by_reason[k])
                printf("    %-26s %" PRId64 "\n", L->reasons[k][0] ? L->reasons[k] : "UNSPECIFIED",
                       by_reason[k]);
        printf("  no reply      %" PRId64 "\n", unanswered);
        printf("  two replies   %" PRId64 " (requests with more than one distinct reply)\n",
               multiple);
        printf("  replies read  %" PRId64 " (%" PRId64 " repeated, %" PRId64
               " for other requests; %" PRId64 " consumer errors)\n",
               L->replies_read, L->replies_repeated, L->replies_foreign, L->consumer_errors);
        printf("  throughput    %.1f replies/s\n", throughput);
        if (L->n_sent)
            printf("  own CPU       %.2f s from the first send (%.3f ms a request)\n", cpu_s,
                   cpu_s * 1000 / (double)L->n_sent);
        if (n)
            printf("  latency ms    p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
                   pct_ms(lat, n, 0.50), pct_ms(lat, n, 0.90), pct_ms(lat, n, 0.99),
                   pct_ms(lat, n, 0.999), (double)lat[n - 1] / 1000.0);
    }
    free(lat);

    int rc = unanswered || multiple ? 1 : 0;
    if (unanswered) {
        if (stop_requested)
            fprintf(stderr, "medclear: %" PRId64 " of %" PRId64 " requests got no reply:",
                    unanswered, L->n_sent);
        else
            fprintf(stderr,
                    "medclear: %" PRId64 " of %" PRId64 " requests got no reply within %" PRId64
                    " ms of the last send:",
                    unanswered, L->n_sent, L->o.timeout_ms);
        int shown = 0;
        for (uint32_t i = 0; i < L->n_recs && shown < 20; i++)
            if (!L->recs[i].reply_us) {
                fprintf(stderr, " %s%s", L->recs[i].id, L->recs[i].orig != i ? " (resent)" : "");
                shown++;
            }
        fprintf(stderr, "%s\n", unanswered > 20 ? " ..." : "");
    }
    if (multiple) {
        fprintf(stderr,
                "medclear: %" PRId64 " requests got more than one distinct reply:", multiple);
        int shown = 0;
        for (uint32_t i = 0; i < L->n_recs && shown < 20; i++)
            if (L->recs[i].orig == i && L->recs[i].n_distinct > 1) {
                fprintf(stderr, " %s", L->recs[i].id);
                shown++;
            }
        fprintf(stderr, "%s\n", multiple > 20 ? " ..." : "");
    }
    return rc;
}

int tool_load(const mc_config_t *cfg, int argc, char **argv)
{
    load_t *L = calloc(1, sizeof(*L));
    if (!L)
        abort();
    int rc = parse_opts(cfg, argc, argv, &L->o);
    if (rc) {
        free(L);
        return rc < 0 ? 0 : rc;
    }
    rc = 1;
    L->cfg = cfg;
    L->rng = L->o.seed;
    L->last_settle = NONE;
    L->start_time = time(NULL);
    if (getrandom(&L->run_tag, sizeof(L->run_tag), 0) != (ssize_t)sizeof(L->run_tag))
        L->run_tag = (uint64_t)L->start_time * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid();
    reason_index(L, ""); /* index 0: accepted */

    int64_t count = L->o.count;
    L->left[K_CANCEL] = (int64_t)((double)count * L->o.cancel_pct / 100);
    L->left[K_DUP_SAME] = L->left[K_DUP_NEW] = (int64_t)((double)count * L->o.duplicate_pct / 100);
    L->left[K_REVERSE] = (int64_t)((double)count * L->o.reverse_pct / 100);
    L->left[K_SETTLE] =
        count - L->left[K_CANCEL] - L->left[K_DUP_SAME] - L->left[K_DUP_NEW] - L->left[K_REVERSE];

    uint32_t cap = 1024;
    while (cap < 2 * (uint64_t)count)
        cap <<= 1;
    L->table_mask = cap - 1;
    L->table = calloc(cap, sizeof(*L->table));
    L->recs = calloc((size_t)count, sizeof(*L->recs));
    L->answered = calloc((size_t)count, sizeof(*L->answered));
    L->cap_sids = (uint32_t)L->left[K_CANCEL];
    L->cands = calloc((size_t)L->cap_sids + 1, sizeof(*L->cands));
    L->sids = calloc((size_t)L->cap_sids + 1, sizeof(*L->sids));
    if (!L->table || !L->recs || !L->answered || !L->cands || !L->sids)
        abort();

    if (!network_load(cfg, L->o.visit_date, &L->net) || !open_bus(L))
        goto out;

    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* a second ^C ends it at once */
    sigemptyset(&sa.sa_mask);
    stop_requested = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    run(L);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (stop_requested)
        fprintf(stderr, "medclear: stopped by a signal after %" PRId64 " requests\n", L->n_sent);
    rc = report(L);
    if (L->stopped_by_error)
        rc = 1;
out:
    if (L->consumer) {
        rd_kafka_consumer_close(L->consumer);
        rd_kafka_destroy(L->consumer);
    }
    if (L->producer) {
        /* every request was delivered before its reply; what is left failed or timed out */
        if (rd_kafka_flush(L->producer, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
            rd_kafka_purge(L->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(L->producer, 0);
        rd_kafka_destroy(L->producer);
    mc_keyring_destroy(L->keyring);
    }
    network_free(&L->net);
    arena_free(&L->ids);
    free(L->table);
    free(L->recs);
    free(L->answered);
    free(L->cands);
    free(L->sids);
    free(L);
    return rc;
}
