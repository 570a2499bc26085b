/*
 * `medclear submit`: what a treating-region agency's system does. Reads settlement
 * requests from claim files, publishes each on mc.intake.<treating region>, and with
 * --wait reads mc.reply.<treating region> until every request has its reply.
 *
 * Claim file format: `key = value` lines, `#` comments, claims separated by `---`:
 *
 *   kind = SETTLE                  (SETTLE, PRESETTLE; --kind overrides)
 *   request_id = H31000000001...   (optional: generated as hospital + time + sequence)
 *   treating_region = 310000
 *   hospital = H310000000003
 *   person = P320000000001
 *   insuring_region = 320000
 *   visit_type = OUTPATIENT        (OUTPATIENT, CHRONIC, INPATIENT)
 *   emergency = no
 *   visit_date = 2026-11-23
 *   settlement_id = S3200...       (CANCEL: the settlement to undo)
 *   original_request_id = H31...   (REVERSE: the request to undo)
 *   line = 1, 001201000010000, CT scan, 1000, 30000, 30000
 *          (line_no, item_code, name, quantity_milli, unit_price_fen[, amount_fen])
 *
 * The reply is awaited from the partitions' end as they were before publishing, so no
 * earlier reply is mistaken for this one.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "mc_bus.h"
#include "mc_date.h"
#include "mc_money.h"
#include "mc_sign.h"
#include "tool.h"
#include "tool_bus.h"

#define MAX_REQUESTS 10000

typedef struct request {
    Medclear__SettlementRequest req;
    char request_id[MC_ID_MAX + 1];
    char treating_region[8], insuring_region[8], hospital[MC_ID_MAX + 1], person[MC_ID_MAX + 1];
    char settlement_id[MC_ID_MAX + 1], original_request_id[MC_ID_MAX + 1];
    Medclear__FeeLine *lines;
    Medclear__FeeLine **line_ptrs;
    char (*codes)[65];
    char (*names)[65];
    size_t n_lines, cap_lines;
    bool has_kind;
    Medclear__SettlementReply *reply; /* owned: freed with the unpacked envelope */
    Medclear__Envelope *reply_env;
} request_t;

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static bool parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *trim(end) != '\0')
        return false;
    *out = v;
    return true;
}

static bool parse_enum(const ProtobufCEnumDescriptor *d, const char *s, int *out)
{
    char up[32];
    size_t i = 0;
    for (; s[i] && i < sizeof(up) - 1; i++)
        up[i] = (char)toupper((unsigned char)s[i]);
    up[i] = '\0';
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(d, up);
    if (!v)
        return false;
    *out = v->value;
    return true;
}

static bool add_line(request_t *r, char *value, char *err, size_t err_size)
{
    char *f[6];
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(value, ",", &save); t && n < 6; t = strtok_r(NULL, ",", &save))
        f[n++] = trim(t);
    if (n < 5) {
        snprintf(err, err_size,
                 "line needs: line_no, item_code, name, quantity_milli, unit_price_fen[, amount_fen]");
        return false;
    }
    if (r->n_lines == r->cap_lines) {
        size_t cap = r->cap_lines ? r->cap_lines * 2 : 16;
        r->lines = realloc(r->lines, cap * sizeof(*r->lines));
        r->line_ptrs = realloc(r->line_ptrs, cap * sizeof(*r->line_ptrs));
        r->codes = realloc(r->codes, cap * sizeof(*r->codes));
        r->names = realloc(r->names, cap * sizeof(*r->names));
        if (!r->lines || !r->line_ptrs || !r->codes || !r->names)
            abort();
        r->cap_lines = cap;
    }
    size_t i = r->n_lines;
    Medclear__FeeLine *l = &r->lines[i];
    medclear__fee_line__init(l);
    int64_t no;
    if (!parse_i64(f[0], &no) || no < 0 || no > INT32_MAX || !parse_i64(f[3], &l->quantity_milli) ||
        !parse_i64(f[4], &l->unit_price_fen)) {
        snprintf(err, err_size, "line: line_no, quantity_milli and unit_price_fen must be integers");
        return false;
    }
    l->line_no = (int32_t)no;
    if (n == 6) {
        if (!parse_i64(f[5], &l->amount_fen)) {
            snprintf(err, err_size, "line: amount_fen must be an integer");
            return false;
        }
    } else {
        l->amount_fen = mc_mul_div_round(l->quantity_milli, l->unit_price_fen, 1000);
    }
    snprintf(r->codes[i], 65, "%s", f[1]);
    snprintf(r->names[i], 65, "%s", f[2]);
    r->n_lines++;
    return true;
}

static bool set_field(request_t *r, const char *key, char *value, char *err, size_t err_size)
{
    Medclear__SettlementRequest *q = &r->req;
    int e;
    if (strcmp(key, "kind") == 0) {
        if (!parse_enum(&medclear__kind__descriptor, value, &e)) {
            snprintf(err, err_size, "kind: \"%s\" is not PRESETTLE, SETTLE, CANCEL or REVERSE", value);
            return false;
        }
        q->kind = (Medclear__Kind)e;
        r->has_kind = true;
    } else if (strcmp(key, "request_id") == 0) {
        snprintf(r->request_id, sizeof(r->request_id), "%s", value);
    } else if (strcmp(key, "treating_region") == 0) {
        snprintf(r->treating_region, sizeof(r->treating_region), "%s", value);
    } else if (strcmp(key, "insuring_region") == 0) {
        snprintf(r->insuring_region, sizeof(r->insuring_region), "%s", value);
    } else if (strcmp(key, "hospital") == 0) {
        snprintf(r->hospital, sizeof(r->hospital), "%s", value);
    } else if (strcmp(key, "person") == 0) {
        snprintf(r->person, sizeof(r->person), "%s", value);
    } else if (strcmp(key, "visit_type") == 0) {
        if (!parse_enum(&medclear__visit_type__descriptor, value, &e)) {
            snprintf(err, err_size, "visit_type: \"%s\" is not OUTPATIENT, CHRONIC or INPATIENT", value);
            return false;
        }
        q->visit_type = (Medclear__VisitType)e;
    } else if (strcmp(key, "emergency") == 0) {
        q->emergency = strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 || strcmp(value, "1") == 0;
    } else if (strcmp(key, "visit_date") == 0) {
        if (!mc_date_parse(value, &q->visit_date)) {
            snprintf(err, err_size, "visit_date: \"%s\" is not a date YYYY-MM-DD", value);
            return false;
        }
    } else if (strcmp(key, "settlement_id") == 0) {
        snprintf(r->settlement_id, sizeof(r->settlement_id), "%s", value);
    } else if (strcmp(key, "original_request_id") == 0) {
        snprintf(r->original_request_id, sizeof(r->original_request_id), "%s", value);
    } else if (strcmp(key, "line") == 0) {
        return add_line(r, value, err, err_size);
    } else {
        snprintf(err, err_size, "unknown key \"%s\"", key);
        return false;
    }
    return true;
}

/* Reads the claims of one file and appends them to reqs. Returns false on an error. */
static bool read_claims(const char *path, request_t *reqs, int *n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "medclear: could not open \"%s\": %s\n", path, strerror(errno));
        return false;
    }
    char buf[1024], err[256];
    int lineno = 0;
    bool open_claim = false, ok = true;
    while (ok && fgets(buf, sizeof(buf), f)) {
        lineno++;
        char *s = trim(buf);
        if (*s == '\0' || *s == '#')
            continue;
        if (strcmp(s, "---") == 0) {
            open_claim = false;
            continue;
        }
        if (!open_claim) {
            if (*n == MAX_REQUESTS) {
                fprintf(stderr, "medclear: more than %d requests\n", MAX_REQUESTS);
                ok = false;
                break;
            }
            memset(&reqs[*n], 0, sizeof(reqs[*n]));
            medclear__settlement_request__init(&reqs[*n].req);
            reqs[*n].req.kind = MEDCLEAR__KIND__SETTLE;
            (*n)++;
            open_claim = true;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            fprintf(stderr, "medclear: %s:%d: expected key = value\n", path, lineno);
            ok = false;
            break;
        }
        *eq = '\0';
        if (!set_field(&reqs[*n - 1], trim(s), trim(eq + 1), err, sizeof(err))) {
            fprintf(stderr, "medclear: %s:%d: %s\n", path, lineno, err);
            ok = false;
        }
    }
    fclose(f);
    return ok;
}

/* Fills the message's pointers and a request id when none was given. */
static void finish_request(request_t *r, int seq)
{
    Medclear__SettlementRequest *q = &r->req;
    if (!r->request_id[0]) {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        char when[16];
        strftime(when, sizeof(when), "%Y%m%d%H%M%S", &tm);
        snprintf(r->request_id, sizeof(r->request_id), "%.12s%s%04d", r->hospital, when,
                 seq % 10000);
    }
    for (size_t i = 0; i < r->n_lines; i++) {
        r->lines[i].item_code = r->codes[i];
        r->lines[i].item_name = r->names[i];
        r->line_ptrs[i] = &r->lines[i];
    }
    q->request_id = r->request_id;
    q->treating_region = r->treating_region;
    q->insuring_region = r->insuring_region;
    q->hospital_code = r->hospital;
    q->person_id = r->person;
    q->settlement_id = r->settlement_id;
    q->original_request_id = r->original_request_id;
    q->n_lines = r->n_lines;
    q->lines = r->line_ptrs;
}

static void print_json(const request_t *r)
{
    const Medclear__SettlementReply *p = r->reply;
    const Medclear__SplitTotals *t = p->totals;
    const Medclear__Payment *pay = p->payment;
    printf("{\"request_id\":");
    tool_bus_json_str(stdout, p->request_id);
    printf(",\"kind\":\"%s\",\"status\":\"%s\",\"reason_code\":", mc_kind_code(p->kind),
           p->status == MEDCLEAR__STATUS__ACCEPTED ? "ACCEPTED" : "REJECTED");
    tool_bus_json_str(stdout, p->reason_code);
    printf(",\"reason_text\":");
    tool_bus_json_str(stdout, p->reason_text);
    printf(",\"settlement_id\":");
    tool_bus_json_str(stdout, p->settlement_id);
    printf(",\"total_fen\":%" PRId64 ",\"full_self_pay_fen\":%" PRId64 ",\"over_limit_fen\":%" PRId64
           ",\"self_pay_first_fen\":%" PRId64 ",\"in_scope_fen\":%" PRId64,
           t ? t->total_fen : 0, t ? t->full_self_pay_fen : 0, t ? t->over_limit_fen : 0,
           t ? t->self_pay_first_fen : 0, t ? t->in_scope_fen : 0);
    printf(",\"deductible_fen\":%" PRId64 ",\"ratio_bp\":%d,\"fund_fen\":%" PRId64
           ",\"tier2_fen\":%" PRId64 ",\"account_fen\":%" PRId64 ",\"cash_fen\":%" PRId64
           ",\"person_fen\":%" PRId64,
           pay ? pay->deductible_fen : 0, pay ? pay->ratio_bp : 0, pay ? pay->fund_fen : 0,
           pay ? pay->tier2_fen : 0, pay ? pay->account_fen : 0, pay ? pay->cash_fen : 0,
           pay ? pay->person_fen : 0);
    printf(",\"registration_type\":");
    tool_bus_json_str(stdout, pay ? pay->registration_type : "");
    printf(",\"policy_version\":");
    tool_bus_json_str(stdout, p->policy_version);
    printf(",\"catalog_version\":");
    tool_bus_json_str(stdout, p->catalog_version);
    printf(",\"lines\":[");
    for (size_t i = 0; i < p->n_lines; i++) {
        const Medclear__LineSplit *l = p->lines[i];
        printf("%s{\"line_no\":%d,\"item_code\":", i ? "," : "", l->line_no);
        tool_bus_json_str(stdout, l->item_code);
        printf(",\"class\":\"%s\",\"not_in_catalog\":%s,\"amount_fen\":%" PRId64 ",\"full_self_pay_fen\":%" PRId64
               ",\"over_limit_fen\":%" PRId64 ",\"self_pay_first_fen\":%" PRId64
               ",\"in_scope_fen\":%" PRId64 "}",
               l->item_class, l->not_in_catalog ? "true" : "false", l->amount_fen, l->full_self_pay_fen, l->over_limit_fen,
               l->self_pay_first_fen, l->in_scope_fen);
    }
    printf("]}\n");
}

static void print_human(const request_t *r)
{
    const Medclear__SettlementReply *p = r->reply;
    char a[32], b[32];
    if (p->status != MEDCLEAR__STATUS__ACCEPTED) {
        printf("%s  %s  REJECTED  %s: %s\n", p->request_id, mc_kind_code(p->kind), p->reason_code,
               p->reason_text);
        return;
    }
    const Medclear__SplitTotals *t = p->totals;
    const Medclear__Payment *pay = p->payment;
    printf("%s  %s  ACCEPTED%s%s\n", p->request_id, mc_kind_code(p->kind),
           p->settlement_id[0] ? "  settlement " : "", p->settlement_id);
    if (!t || !pay)
        return;
    printf("  total           %12s    fully self-paid %12s\n", tool_yuan(t->total_fen, a),
           tool_yuan(t->full_self_pay_fen, b));
    printf("  over ceiling    %12s    self-pay first  %12s\n", tool_yuan(t->over_limit_fen, a),
           tool_yuan(t->self_pay_first_fen, b));
    printf("  in scope        %12s    deductible      %12s\n", tool_yuan(t->in_scope_fen, a),
           tool_yuan(pay->deductible_fen, b));
    printf("  pooled fund     %12s    tier 2          %12s\n", tool_yuan(pay->fund_fen, a),
           tool_yuan(pay->tier2_fen, b));
    printf("  account         %12s    cash            %12s\n", tool_yuan(pay->account_fen, a),
           tool_yuan(pay->cash_fen, b));
    printf("  person's burden %12s    ratio %d bp, %s, policy %s, catalog %s\n",
           tool_yuan(pay->person_fen, a), pay->ratio_bp, pay->registration_type,
           p->policy_version, p->catalog_version);
}

int tool_submit(const mc_config_t *cfg, int argc, char **argv)
{
    bool wait = false, json = false;
    const char *kind = NULL;
    int64_t timeout_ms = cfg->reply_timeout_ms;
    int n = 0, rc = 1, n_files = 0;
    char err[512];
    request_t *reqs = calloc(MAX_REQUESTS, sizeof(*reqs));
    rd_kafka_t *producer = NULL, *consumer = NULL;
    mc_keyring_t *keyring = NULL;
    int *status = calloc(MAX_REQUESTS, sizeof(int));
    if (!reqs || !status)
        abort();

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--wait") == 0)
            wait = true;
        else if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--kind") == 0 && i + 1 < argc)
            kind = argv[++i];
        else if (strcmp(argv[i], "--timeout-ms") == 0 && i + 1 < argc) {
            if (!parse_i64(argv[++i], &timeout_ms) || timeout_ms <= 0) {
                fprintf(stderr, "medclear: --timeout-ms expects a positive number\n");
                rc = 2;
                goto out;
            }
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: medclear submit [--kind settle|presettle] [--wait] [--json] "
                            "[--timeout-ms N] FILE...\n");
            rc = 2;
            goto out;
        } else {
            n_files++;
            if (!read_claims(argv[i], reqs, &n))
                goto out;
        }
    }
    if (n_files == 0 || n == 0) {
        fprintf(stderr, "medclear: submit needs at least one claim file with a claim\n");
        rc = 2;
        goto out;
    }

    uint16_t seq0;
    if (getrandom(&seq0, sizeof(seq0), 0) != sizeof(seq0))
        seq0 = 0;
    for (int i = 0; i < n; i++) {
        if (kind) {
            int e;
            if (!parse_enum(&medclear__kind__descriptor, kind, &e)) {
                fprintf(stderr, "medclear: --kind: \"%s\" is not presettle, settle, cancel or reverse\n", kind);
                rc = 2;
                goto out;
            }
            reqs[i].req.kind = (Medclear__Kind)e;
        }
        finish_request(&reqs[i], seq0 + i);
    }

    if (!mc_keyring_from_config(cfg, &keyring, err, sizeof(err))) {
        fprintf(stderr, "medclear: %s\n", err);
        goto out;
    }
    producer = mc_bus_producer(cfg, err, sizeof(err));
    if (!producer) {
        fprintf(stderr, "medclear: %s\n", err);
        goto out;
    }

    /* Reply topics of the treating regions involved, read from their current end. */
    char topics[MC_MAX_REGIONS][128];
    int n_topics = 0;
    for (int i = 0; i < n; i++) {
        char t[128];
        mc_bus_topic2(cfg, t, sizeof(t), "reply", reqs[i].treating_region);
        bool seen = false;
        for (int j = 0; j < n_topics; j++)
            seen = seen || strcmp(topics[j], t) == 0;
        if (!seen && n_topics < MC_MAX_REGIONS)
            snprintf(topics[n_topics++], sizeof(topics[0]), "%s", t);
    }
    if (wait) {
        const char *tp[MC_MAX_REGIONS];
        for (int j = 0; j < n_topics; j++)
            tp[j] = topics[j];
        if (!mc_bus_ensure_topics(producer, tp, n_topics, (int)cfg->topic_partitions, err,
                                  sizeof(err))) {
            fprintf(stderr, "medclear: %s\n", err);
            goto out;
        }
        char group[64], id[33];
        mc_bus_new_id(id);
        snprintf(group, sizeof(group), "medclear-submit-%.8s", id);
        consumer = mc_bus_consumer(cfg, group, NULL, 0, err, sizeof(err));
        if (!consumer) {
            fprintf(stderr, "medclear: %s\n", err);
            goto out;
        }
        if (!tool_bus_assign_at_end(producer, consumer, topics, n_topics))
            goto out;
    }

    for (int i = 0; i < n; i++) {
        char topic[128], id[33];
        mc_bus_topic2(cfg, topic, sizeof(topic), "intake", reqs[i].treating_region);
        Medclear__Envelope env;
        mc_envelope_init(&env, id, mc_valid_region(reqs[i].treating_region) ? reqs[i].treating_region : "000000", NULL);
        env.body_case = MEDCLEAR__ENVELOPE__BODY_REQUEST;
        env.request = &reqs[i].req;
        size_t len;
        uint8_t *buf = mc_envelope_seal(keyring, &env, &len, err, sizeof(err));
        if (!buf) {
            fprintf(stderr, "medclear: %s\n", err);
            goto out;
        }
        rd_kafka_resp_err_t e;
        do {
            e = rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic),
                                  RD_KAFKA_V_KEY(reqs[i].request_id, strlen(reqs[i].request_id)),
                                  RD_KAFKA_V_VALUE(buf, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                                  RD_KAFKA_V_OPAQUE(&status[i]), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(producer, 50);
        } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        if (e) {
            free(buf);
            fprintf(stderr, "medclear: could not publish %s: %s\n", reqs[i].request_id,
                    rd_kafka_err2str(e));
            goto out;
        }
    }
    rd_kafka_flush(producer, 30000);
    int failed = 0;
    for (int i = 0; i < n; i++)
        failed += status[i] != 1;
    if (failed) {
        fprintf(stderr, "medclear: %d of %d requests were not delivered to the broker\n", failed, n);
        goto out;
    }
    if (!wait) {
        for (int i = 0; i < n; i++)
            printf("published %s\n", reqs[i].request_id);
        rc = 0;
        goto out;
    }

    int answered = 0;
    int64_t deadline = mc_now_ms() + timeout_ms;
    while (answered < n && mc_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 100);
        if (!m)
            continue;
        Medclear__Envelope *env = NULL;
        char detail[128];
        if (!m->err &&
            mc_envelope_decode(m->payload, m->len, SIZE_MAX, &env, detail, sizeof(detail)) == MC_OK &&
            env->body_case == MEDCLEAR__ENVELOPE__BODY_REPLY) {
            int i = 0;
            for (; i < n; i++)
                if (!reqs[i].reply && strcmp(reqs[i].request_id, env->reply->request_id) == 0)
                    break;
            if (i < n) {
                reqs[i].reply_env = env;
                reqs[i].reply = env->reply;
                env = NULL;
                answered++;
                if (json)
                    print_json(&reqs[i]);
                else
                    print_human(&reqs[i]);
                fflush(stdout);
            }
        }
        if (env)
            medclear__envelope__free_unpacked(env, NULL);
        rd_kafka_message_destroy(m);
    }
    if (answered < n) {
        fprintf(stderr, "medclear: %d of %d requests got no reply within %" PRId64 " ms:", n - answered,
                n, timeout_ms);
        for (int i = 0; i < n; i++)
            if (!reqs[i].reply)
                fprintf(stderr, " %s", reqs[i].request_id);
        fprintf(stderr, "\n");
        goto out;
    }
    rc = 0;
out:
    if (consumer) {
        rd_kafka_consumer_close(consumer);
        rd_kafka_destroy(consumer);
    }
    if (producer)
        rd_kafka_destroy(producer);
    for (int i = 0; i < n; i++) {
        free(reqs[i].lines);
        free(reqs[i].line_ptrs);
        free(reqs[i].codes);
        free(reqs[i].names);
        if (reqs[i].reply_env)
            medclear__envelope__free_unpacked(reqs[i].reply_env, NULL);
    }
    free(reqs);
    free(status);
    mc_keyring_destroy(keyring);
    return rc;
}
