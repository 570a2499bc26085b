/*
 * Process configuration. Every process (the three services and the medclear tool) reads
 * one file of `key = value` lines, then environment overrides (MEDCLEAR_DB_CONNINFO for
 * db.conninfo: upper case, dots become underscores), then command-line `-o key=value`.
 * All keys are described by one declarative table that also drives --help and the
 * config dump. Keys starting with `kafka.` pass straight to librdkafka.
 */
#ifndef MC_CONFIG_H
#define MC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MC_MAX_REGIONS 64
#define MC_MAX_KAFKA_PROPS 64

typedef struct mc_config {
    char regions[MC_MAX_REGIONS][8]; /* service.regions: the regions this process serves */
    int n_regions;
    char scope[16];          /* clearing.scope: national | provincial */
    char centre[8];          /* clearing.centre: region code the centre signs as */
    char window_period[32];  /* clearing.window.period: PostgreSQL interval, "1 month" */
    int64_t quota_yellow_bp; /* clearing.alert.yellow.bp */
    int64_t quota_red_bp;    /* clearing.alert.red.bp */
    char settlement[16];     /* clearing.settlement: bilateral | multilateral */
    char confirm_due[32];    /* clearing.confirm.due: "5 working days" or an interval */
    char pay_due[32];        /* clearing.pay.due */
    int64_t snapshot_entries;/* ledger.snapshot.entries: entries between snapshots; 0 = off */
    char conninfo[512];      /* db.conninfo */
    char db_user[64];        /* db.user: overrides the conninfo's user */
    char topic_prefix[64];   /* topic.prefix */
    int64_t topic_partitions;/* topic.partitions: of the topics created; 0 = the broker's */
    char group_id[128];      /* group.id: consumer group of this role */
    int64_t batch_max;       /* batch.max.messages */
    int64_t batch_max_bytes; /* batch.max.bytes */
    int64_t batch_timeout_ms;/* batch.timeout.ms */
    int64_t commit_interval_ms;/* batch.commit.interval.ms: 0 = offsets after every batch */
    int64_t message_max;     /* message.max.bytes accepted from the bus */
    int64_t reply_timeout_ms;/* treating.reply.timeout.ms */
    int64_t claim_timeout_ms;/* treating.claim.timeout.ms */
    char log_level[16];      /* log.level */
    char log_format[16];     /* log.format: logfmt | json */
    char metrics_address[64];/* metrics.address: where /metrics, /livez, /readyz listen */
    int64_t metrics_port;    /* metrics.port: 0 = no HTTP endpoint */
    int64_t health_max_outbox;/* health.max.outbox: not ready at this many unpublished rows */
    int64_t health_stall_ms; /* health.stall.ms: not live when the loop is stuck this long */
    char sql_dir[512];       /* sql.dir: migrations, for `medclear db migrate` */
    char keys_file[512];     /* security.keys.file: HMAC-SM3 keys; "" = signatures off */
    int64_t max_age_ms;      /* security.max.age.ms: older messages are replays; 0 = off */
    char test_drop_result[72];/* test.drop.result.claim: test hook, see mc_config.c */
    char kafka_protocol[32];  /* kafka.security.protocol: "" = librdkafka's default */
    char kafka_mechanism[32]; /* kafka.sasl.mechanism */
    char kafka_username[128]; /* kafka.sasl.username */
    char kafka_password_file[512]; /* kafka.sasl.password.file */
    char kafka_password[512]; /* read from kafka_password_file by mc_config_finish(); never dumped */
    /* kafka.* passthrough, in the order given */
    char kafka_keys[MC_MAX_KAFKA_PROPS][128];
    char kafka_vals[MC_MAX_KAFKA_PROPS][512];
    int n_kafka;
} mc_config_t;

/* Fills cfg with every key's default. */
void mc_config_defaults(mc_config_t *cfg);

/*
 * Sets one key. Returns false and writes a message naming the key and the problem to
 * errstr when the key is unknown or the value is out of bounds.
 */
bool mc_config_set(mc_config_t *cfg, const char *key, const char *value, char *errstr,
                   size_t errstr_size) __attribute__((warn_unused_result));

/* Sets one "key=value" (a -o option). Errors as mc_config_set(). */
bool mc_config_set_option(mc_config_t *cfg, const char *kv, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/*
 * Reads a config file (NULL: none), then MEDCLEAR_* environment overrides. Errors name
 * the file and line. Returns false on the first error.
 */
bool mc_config_load(mc_config_t *cfg, const char *path, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/*
 * Completes a configuration once every source was applied: reads the broker password
 * from kafka.sasl.password.file. Errors name the key, the file and the reason (missing,
 * unreadable, empty), never the password.
 */
bool mc_config_finish(mc_config_t *cfg, char *errstr, size_t errstr_size)
    __attribute__((warn_unused_result));

/* Writes every key with its default and help text (for --help). */
void mc_config_help(FILE *out);

/* Writes the effective configuration (secrets in kafka.sasl.password are masked). */
void mc_config_dump(const mc_config_t *cfg, FILE *out);

/* True when region is listed in service.regions. */
bool mc_config_serves(const mc_config_t *cfg, const char *region);

#endif
