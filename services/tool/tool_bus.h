/*
 * Bus and output helpers shared by the commands that talk to agencies' topics
 * (`medclear submit`, `medclear load`): reading reply topics from their current end, and
 * writing strings into JSON output.
 */
#ifndef TOOL_BUS_H
#define TOOL_BUS_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>

/*
 * Assigns consumer to the current end of every partition of the n topics (a topic created
 * a moment ago is waited for). Call it before publishing the requests whose replies are
 * awaited, so that no earlier reply is taken for theirs. The partitions and their ends
 * are read through the consumer itself, so that it is connected to their leaders before
 * the first request goes out: read through the producer, a reply consumer could connect
 * only after the first requests had gone, and their replies waited up to 0.9 s for it
 * (most of a fixed-rate benchmark run's p99). producer only waits. Returns false after
 * writing why on stderr.
 */
bool tool_bus_assign_at_end(rd_kafka_t *producer, rd_kafka_t *consumer, char topics[][128], int n);

/* Writes s to out as a JSON string: quoted, with quotes, backslashes and control
 * characters escaped. */
void tool_bus_json_str(FILE *out, const char *s);

#endif
