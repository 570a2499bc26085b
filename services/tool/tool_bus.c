/*
 * Bus and output helpers of the agency-side commands (submit, load). See tool_bus.h.
 */
#include "tool_bus.h"

#include <inttypes.h>
#include <stdint.h>

bool tool_bus_assign_at_end(rd_kafka_t *producer, rd_kafka_t *consumer, char topics[][128], int n)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(16);
    bool ok = true;
    for (int i = 0; i < n && ok; i++) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(consumer, topics[i], NULL);
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_resp_err_t err;
        /* A topic created a moment ago may take a little while to show in metadata. */
        for (int attempt = 0;; attempt++) {
            err = rd_kafka_metadata(consumer, 0, rkt, &md, 10000);
            if (!err && md->topic_cnt == 1)
                err = md->topics[0].err;
            else if (!err)
                err = RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
            if (err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || attempt == 50)
                break;
            if (md)
                rd_kafka_metadata_destroy(md);
            md = NULL;
            rd_kafka_poll(producer, 200);
        }
        if (err) {
            fprintf(stderr, "medclear: could not read metadata of %s: %s\n", topics[i],
                    rd_kafka_err2str(err));
            ok = false;
        }
        for (int p = 0; ok && p < md->topics[0].partition_cnt; p++) {
            int64_t lo, hi;
            int32_t part = md->topics[0].partitions[p].id;
            for (int attempt = 0; attempt < 50; attempt++) {
                err = rd_kafka_query_watermark_offsets(consumer, topics[i], part, &lo, &hi, 10000);
                if (err != RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION &&
                    err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE &&
                    err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                    break;
                rd_kafka_poll(producer, 200); /* a new partition's leader is being elected */
            }
            if (err) {
                fprintf(stderr, "medclear: could not read offsets of %s [%d]: %s\n", topics[i],
                        part, rd_kafka_err2str(err));
                ok = false;
                break;
            }
            rd_kafka_topic_partition_list_add(list, topics[i], part)->offset = hi;
        }
        if (md)
            rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
    }
    if (ok && rd_kafka_assign(consumer, list)) {
        fprintf(stderr, "medclear: could not assign reply partitions\n");
        ok = false;
    }
    rd_kafka_topic_partition_list_destroy(list);
    return ok;
}

void tool_bus_json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}
