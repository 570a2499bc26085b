/*
 * `medclear dlq list`: the dead letters on mc.dlq, oldest first, with the reason code,
 * what is wrong, where the original came from and which service refused it. Reads the
 * topic from its beginning to its current end without joining a consumer group, so
 * listing never moves anyone's position.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_bus.h"
#include "tool.h"

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

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static int list(const mc_config_t *cfg, bool json)
{
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
    int64_t *end = NULL;
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
        rd_kafka_message_t *m = rd_kafka_consumer_poll(consumer, 200);
        if (!m)
            continue;
        if (!m->err) {
            char reason[64], detail[512], source[256], service[32];
            header(m, "reason", reason, sizeof(reason));
            header(m, "detail", detail, sizeof(detail));
            header(m, "source", source, sizeof(source));
            header(m, "service", service, sizeof(service));
            count++;
            if (json) {
                printf("{\"partition\":%" PRId32 ",\"offset\":%" PRId64 ",\"reason\":", m->partition,
                       m->offset);
                json_str(reason);
                printf(",\"detail\":");
                json_str(detail);
                printf(",\"source\":");
                json_str(source);
                printf(",\"service\":");
                json_str(service);
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
    if (!json)
        printf("%d dead letters\n", count);
    rc = remaining > 0 ? 1 : 0;
out:
    free(end);
    rd_kafka_topic_partition_list_destroy(assign);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    return rc;
}

int tool_dlq(const mc_config_t *cfg, int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "list") == 0) {
        bool json = argc == 2 && strcmp(argv[1], "--json") == 0;
        if (argc == 1 || json)
            return list(cfg, json);
    }
    fprintf(stderr, "usage: medclear dlq list [--json]\n");
    return 2;
}
