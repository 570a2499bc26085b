/*
 * `medclear dlq list` and `medclear dlq replay`: the dead letters on mc.dlq, oldest
 * first, with the reason code, what is wrong, where the original came from and which
 * service refused it. Both read the topic from its beginning to its current end without
 * joining a consumer group, so they never move anyone's position.
 *
 * replay publishes the original bytes of the chosen dead letters again to the topic
 * they came from, with their original key, after whatever was wrong has been fixed
 * (reference data loaded, a service upgraded). A message still bad lands in the dead
 * letters again; one that was applied before is skipped by the inbox.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_bus.h"
#include "tool.h"
#include "tool_bus.h"
#include "tool_out.h"

static void header(const rd_kafka_message_t *m, const char *name, char *out, size_t size)
{
    rd_kafka_headers_t *h = NULL;
    const void *v;
    size_t len;
    out[0] = '\0';
    if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(h, name, &v, &len) == RD_KAFKA_RESP_ERR_NO_ERROR && v)
        snprintf(out, size, "%.*s", (int)len, (const char *)v);
}

typedef struct filter {
    const char *reason; /* NULL: any */
    int32_t partition;  /* -1: any */
    int64_t offset;     /* -1: any */
} filter_t;

/* Publishes one dead letter's original bytes to its source topic. */
static bool replay_one(rd_kafka_t *producer, const rd_kafka_message_t *m, const char *source,
                       int *delivered)
{
    char topic[256];
    const char *slash = strchr(source, '/');
    if (!slash || slash == source || (size_t)(slash - source) >= sizeof(topic)) {
        fprintf(stderr, "medclear: dead letter at offset %" PRId64 " has no source topic\n",
                m->offset);
        return false;
    }
    memcpy(topic, source, (size_t)(slash - source));
    topic[slash - source] = '\0';
    rd_kafka_resp_err_t e;
    do {
        e = rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(m->key, m->key_len),
                              RD_KAFKA_V_VALUE(m->payload, m->len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_OPAQUE(delivered), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(producer, 50);
    } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL);
    if (e) {
        fprintf(stderr, "medclear: could not replay to %s: %s\n", topic, rd_kafka_err2str(e));
        return false;
    }
    return true;
}

/*
 * Lists the chosen dead letters, or with replay (a producer) publishes them again,
 * drawing progress on the terminal (progress may be NULL).
 */
static int list(const mc_config_t *cfg, bool json, const filter_t *filter, rd_kafka_t *replay,
                tool_progress_t *progress)
{
    int replayed = 0, failed_replays = 0;
    int *delivered = NULL;
    size_t n_delivered = 0, cap_delivered = 0;
    char err[512], topic[128];
    int rc = 1, count = 0;
    mc_bus_topic(cfg, topic, sizeof(topic), "dlq");
    rd_kafka_t *consumer = mc_bus_consumer(cfg, "medclear-dlq-list", NULL, 0, err, sizeof(err));
    if (!consumer) {
        fprintf(stderr, "medclear: %s\n", err);
        return 1;
    }
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(consumer, topic, NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(consumer, 0, rkt, &md, 10000);
    rd_kafka_topic_partition_list_t *assign = rd_kafka_topic_partition_list_new(8);
    int64_t *end = NULL, total = 0, n_read = 0;
    int n_parts = 0;
    if (e || md->topic_cnt != 1 || md->topics[0].err) {
        if (!json)
            printf("no dead letters (topic %s does not exist yet)\n", topic);
        rc = 0;
        goto out;
    }
    n_parts = md->topics[0].partition_cnt;
    end = calloc((size_t)n_parts + 1, sizeof(*end));
    int remaining = 0;
    for (int p = 0; p < n_parts; p++) {
        int64_t lo, hi;
        int32_t part = md->topics[0].partitions[p].id;
        if (rd_kafka_query_watermark_offsets(consumer, topic, part, &lo, &hi, 10000)) {
            fprintf(stderr, "medclear: could not read offsets of %s [%d]\n", topic, part);
            goto out;
        }
        end[p] = hi;
        total += hi - lo;
        if (hi > lo) {
            rd_kafka_topic_partition_list_add(assign, topic, part)->offset = lo;
            remaining++;
        }
    }
    if (remaining && rd_kafka_assign(consumer, assign)) {
        fprintf(stderr, "medclear: could not assign %s\n", topic);
        goto out;
    }
    if (!json)
        printf("%-4s %-10s %-22s %-10s %-28s %s\n", "part", "offset", "reason", "service",
               "source", "detail");

    int64_t deadline = mc_now_ms() + 30000;
    while (remaining > 0 && mc_now_ms() < deadline) {
        if (progress && tool_progress_due(progress))
            tool_progress_show(progress,
                               "dlq replay: read %" PRId64 " of %" PRId64
                               " dead letters, replayed %d",
                               n_read, total, replayed);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 200);
        if (!m)
            continue;
        if (!m->err) {
            n_read++;
            char reason[64], detail[512], source[256], service[32];
            header(m, "reason", reason, sizeof(reason));
            header(m, "detail", detail, sizeof(detail));
            header(m, "source", source, sizeof(source));
            header(m, "service", service, sizeof(service));
            bool chosen = (!filter->reason || strcmp(filter->reason, reason) == 0) &&
                          (filter->partition < 0 || filter->partition == m->partition) &&
                          (filter->offset < 0 || filter->offset == m->offset);
            if (chosen && progress)
                tool_progress_clear(progress); /* the row and any error start on a line of their own */
            if (chosen && replay) {
                if (n_delivered == cap_delivered) {
                    /* delivery flags must not move while messages are in flight */
                    rd_kafka_flush(replay, 30000);
                    for (size_t k = 0; k < n_delivered; k++)
                        failed_replays += delivered[k] != 1;
                    n_delivered = 0;
                    if (!delivered) {
                        cap_delivered = 4096;
                        delivered = calloc(cap_delivered, sizeof(int));
                    }
                }
                delivered[n_delivered] = 0;
                if (replay_one(replay, m, source, &delivered[n_delivered])) {
                    n_delivered++;
                    replayed++;
                } else {
                    failed_replays++;
                }
            }
            if (chosen)
                count++;
            if (!chosen) {
                /* not listed */
            } else if (json) {
                printf("{\"partition\":%" PRId32 ",\"offset\":%" PRId64 ",\"reason\":", m->partition,
                       m->offset);
                tool_bus_json_str(stdout, reason);
                printf(",\"detail\":");
                tool_bus_json_str(stdout, detail);
                printf(",\"source\":");
                tool_bus_json_str(stdout, source);
                printf(",\"service\":");
                tool_bus_json_str(stdout, service);
                printf(",\"bytes\":%zu}\n", m->len);
            } else {
                printf("%-4" PRId32 " %-10" PRId64 " %-22s %-10s %-28s %s\n", m->partition, m->offset,
                       reason, service, source, detail);
            }
            for (int p = 0; p < n_parts; p++)
                if (md->topics[0].partitions[p].id == m->partition && end[p] >= 0 &&
                    m->offset + 1 >= end[p]) {
                    end[p] = -1; /* done with this partition */
                    remaining--;
                }
        }
        rd_kafka_message_destroy(m);
    }
    if (replay) {
        if (progress && n_delivered)
            tool_progress_show(progress, "dlq replay: waiting for %zu deliveries", n_delivered);
        rd_kafka_flush(replay, 30000);
        for (size_t k = 0; k < n_delivered; k++)
            failed_replays += delivered[k] != 1;
        if (progress)
            tool_progress_done(progress,
                               "dlq replay: read %" PRId64 " of %" PRId64
                               " dead letters, chose %d, replayed %d, %d failed",
                               n_read, total, count, replayed - failed_replays, failed_replays);
        printf("%d dead letters replayed, %d could not be\n", replayed - failed_replays,
               failed_replays);
    } else if (!json) {
        printf("%d dead letters\n", count);
    }
    rc = remaining > 0 || failed_replays > 0 ? 1 : 0;
out:
    free(delivered);
    free(end);
    rd_kafka_topic_partition_list_destroy(assign);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    return rc;
}

static void usage(void)
{
    fprintf(stderr, "usage: medclear dlq list [--json] [--reason CODE] [--partition P --offset O]\n"
                    "       medclear dlq replay [--quiet] [--reason CODE] [--partition P --offset O]\n"
                    "(replay draws its progress on a terminal; --quiet: none)\n");
}

int tool_dlq(const mc_config_t *cfg, int argc, char **argv)
{
    if (argc < 1 || (strcmp(argv[0], "list") != 0 && strcmp(argv[0], "replay") != 0)) {
        usage();
        return 2;
    }
    bool replay = strcmp(argv[0], "replay") == 0, json = false;
    bool quiet = replay && tool_out_flag(&argc, argv, "--quiet");
    filter_t filter = {NULL, -1, -1};
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--json") == 0 && !replay) {
            json = true;
        } else if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc) {
            filter.reason = argv[++i];
            if (mc_reason_from_code(filter.reason) == MC_R__COUNT) {
                fprintf(stderr, "medclear: --reason: \"%s\" is not a reason code\n", filter.reason);
                return 2;
            }
        } else if (strcmp(argv[i], "--partition") == 0 && i + 1 < argc) {
            filter.partition = (int32_t)strtol(argv[++i], &end, 10);
        } else if (strcmp(argv[i], "--offset") == 0 && i + 1 < argc) {
            filter.offset = strtoll(argv[++i], &end, 10);
        } else {
            usage();
            return 2;
        }
        if (end && (*end != '\0' || end == argv[i])) {
            fprintf(stderr, "medclear: %s expects a number\n", argv[i - 1]);
            return 2;
        }
    }
    if (!replay)
        return list(cfg, json, &filter, NULL, NULL);
    char err[512];
    rd_kafka_t *producer = mc_bus_producer(cfg, err, sizeof(err));
    if (!producer) {
        fprintf(stderr, "medclear: %s\n", err);
        return 1;
    }
    tool_progress_t progress;
    tool_progress_start(&progress, quiet);
    int rc = list(cfg, false, &filter, producer, &progress);
    rd_kafka_destroy(producer);
    return rc;
}
