/*
 * The message bus: Kafka handles configured the medclear way, topic names, and the
 * Envelope every message travels in. Decoding is strict (size, schema version, body,
 * ids) because the bus is shared by many regions and bad bytes must become a dead letter
 * with a reason, never a crash.
 */
#ifndef MC_BUS_H
#define MC_BUS_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc_config.h"
#include "mc_reason.h"
#include "medclear.pb-c.h"

#define MC_SCHEMA_VERSION 1
#define MC_ID_MAX 64 /* longest message, request, claim or settlement id */

/* Topic name: "<prefix>.<suffix>", e.g. mc_bus_topic(cfg, buf, sizeof buf, "claims"). */
void mc_bus_topic(const mc_config_t *cfg, char *buf, size_t size, const char *suffix);
/* Topic name with a party: "<prefix>.<what>.<party>", e.g. "mc.intake.310000". */
void mc_bus_topic2(const mc_config_t *cfg, char *buf, size_t size, const char *what,
                   const char *party);

/*
 * Creates an idempotent producer (acks=all) with the kafka.* keys of cfg applied. A
 * message produced with an int * as its opaque gets that int set to 1 when delivered
 * and -1 when delivery failed (served by rd_kafka_poll / rd_kafka_flush).
 * Returns NULL and fills errstr on failure. Caller flushes and rd_kafka_destroy()s it.
 */
rd_kafka_t *mc_bus_producer(const mc_config_t *cfg, char *errstr, size_t errstr_size);

/* The same producer with delivery reports going to dr instead, which is given opaque. */
typedef void mc_bus_delivery_fn(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);
rd_kafka_t *mc_bus_producer_with(const mc_config_t *cfg, mc_bus_delivery_fn *dr, void *opaque,
                                 char *errstr, size_t errstr_size);

/*
 * Creates a consumer in group_id (manual offset commits, read_committed, earliest) and
 * subscribes it to topics (none: the caller assigns partitions). Returns NULL and fills errstr on failure. Caller closes with
 * rd_kafka_consumer_close() then rd_kafka_destroy().
 */
rd_kafka_t *mc_bus_consumer(const mc_config_t *cfg, const char *group_id,
                            const char *const *topics, int n_topics, char *errstr,
                            size_t errstr_size);

/* Creates the topics that do not exist yet, with the given number of partitions (0: the
 * broker's num.partitions), and waits until each has a leader for every partition. */
bool mc_bus_ensure_topics(rd_kafka_t *rk, const char *const *topics, int n_topics,
                          int partitions, char *errstr, size_t errstr_size);

/*
 * Fills a new message id into out[33]: 32 hex digits, the first 12 the milliseconds since
 * the epoch and the other 20 random (80 bits). Ids made in the same millisecond are
 * unique by their random part; ids made later sort after earlier ones, so the inboxes'
 * primary keys grow at their right edge instead of in a random page of the whole index
 * (one page in memory and in the WAL instead of any of them).
 */
void mc_bus_new_id(char out[33]);

/* Current time in epoch milliseconds. */
int64_t mc_now_ms(void);

/*
 * Fills the header fields of env (id, schema version, source region, time, trace id).
 * trace_id NULL means a new trace: the message id. Strings are borrowed from id_buf and
 * the arguments, which must outlive env.
 */
void mc_envelope_init(Medclear__Envelope *env, char id_buf[33], const char *source_region,
                      const char *trace_id);

/* Packs env into a malloc'd buffer; caller frees. */
uint8_t *mc_envelope_pack(const Medclear__Envelope *env, size_t *len);

/*
 * Decodes and checks bytes from the bus: size <= max_bytes, a medclear Envelope (with no
 * field numbered 0, see mc_bus_field_numbers_valid) of a known schema version with a
 * body, a printable message id of at most MC_ID_MAX chars, a 6-digit source region. Returns MC_OK and the envelope (caller frees with
 * medclear__envelope__free_unpacked(env, NULL)), or a reason with detail filled in.
 */
mc_reason_t mc_envelope_decode(const void *bytes, size_t len, size_t max_bytes,
                               Medclear__Envelope **out, char *detail, size_t detail_size);

/*
 * False when m or a message inside it holds an unknown field numbered 0. protobuf-c 1.4
 * decodes such a field when its key is written in more than one byte, but packs it in
 * one byte, which it then refuses to decode: a message must not change meaning or
 * decodability when the signature check packs it again.
 */
bool mc_bus_field_numbers_valid(const ProtobufCMessage *m);

/* True when s is 1..max printable ASCII characters without spaces. */
bool mc_valid_id(const char *s, size_t max);
/* True when s is a 6-digit region code. */
bool mc_valid_region(const char *s);
/* The clearing party of a region: its province ("320100" -> "320000") when national. */
void mc_party_of(const char *region, bool national, char out[7]);

/* Enum names as on the wire ("SETTLE", "INPATIENT"); never NULL. */
const char *mc_kind_code(Medclear__Kind k);
const char *mc_visit_code(Medclear__VisitType v);

/* The party a per-party topic belongs to: "mc.intake.310000" -> "310000". */
const char *mc_topic_party(const char *topic);

#endif
