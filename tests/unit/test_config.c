/*
 * Unit tests of the configuration table (mc_config): every kind of bad value is refused
 * with a message naming the key, nothing of a refused value is kept, keys with a fixed
 * set of values take them in any case and store the table's spelling, the broker
 * password never comes from the command line, and a configuration file is read with its
 * relative paths resolved beside it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "mc_config.h"
#include "mc_service.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A value given to a key: accepted or not, what the field then reads, and a word the
 * error message must contain. */
typedef struct set_case {
    const char *key, *value;
    bool ok;
    const char *stored; /* the string field afterwards (P_STR keys), or NULL */
    const char *in_error;
} set_case_t;

static const set_case_t set_cases[] = {
    {"clearing.settlement", "multilateral", true, "multilateral", NULL},
    {"clearing.settlement", "MultiLateral", true, "multilateral", NULL},
    {"clearing.settlement", "sideways", false, "bilateral", "bilateral|multilateral"},
    {"clearing.settlement", "", false, "bilateral", "clearing.settlement"},
    {"clearing.scope", "provincial", true, "provincial", NULL},
    {"clearing.scope", "global", false, "national", "national|provincial"},
    {"log.level", "WARN", true, "warn", NULL},
    {"log.level", "verbose", false, "info", "log.level"},
    {"log.format", "json", true, "json", NULL},
    {"log.format", "xml", false, "logfmt", "log.format"},
    {"kafka.security.protocol", "SASL_PLAINTEXT", true, "sasl_plaintext", NULL},
    {"kafka.security.protocol", "", true, "", NULL},
    {"kafka.security.protocol", "carrier-pigeon", false, "", "kafka.security.protocol"},
    {"kafka.sasl.mechanism", "scram-sha-512", true, "SCRAM-SHA-512", NULL},
    {"kafka.sasl.mechanism", "MD5", false, "", "kafka.sasl.mechanism"},
    {"clearing.confirm.due", "3 working days", true, "3 working days", NULL},
    {"clearing.window.period", "30 seconds", true, "30 seconds", NULL},
    {"clearing.window.period", "a period much longer than the thirty-one characters kept", false,
     "1 month", "longer than"},
    {"batch.max.messages", "100", true, NULL, NULL},
    {"batch.max.messages", "0", false, NULL, "outside 1..100000"},
    {"batch.max.messages", "100001", false, NULL, "outside"},
    {"batch.max.messages", "12x", false, NULL, "not an integer"},
    {"batch.max.messages", "", false, NULL, "not an integer"},
    {"batch.max.messages", "99999999999999999999999", false, NULL, "not an integer"},
    {"ledger.snapshot.entries", "0", true, NULL, NULL},
    {"ledger.snapshot.entries", "-1", false, NULL, "outside"},
    {"clearing.alert.red.bp", "10001", false, NULL, "outside 1..10000"},
    {"service.regions", "310000, 320000", true, NULL, NULL},
    {"service.regions", "31000", false, NULL, "not a 6-digit region code"},
    {"service.regions", "3100001", false, NULL, "not a 6-digit region code"},
    {"no.such.key", "1", false, NULL, "unknown configuration key"},
    {"kafka.linger.ms", "5", true, NULL, NULL},
    {"kafka.", "5", false, NULL, "empty"},
};

/* The field a string key of the cases sets; NULL for the others. */
static const char *str_field(const mc_config_t *cfg, const char *key)
{
    if (strcmp(key, "clearing.settlement") == 0) return cfg->settlement;
    if (strcmp(key, "clearing.scope") == 0) return cfg->scope;
    if (strcmp(key, "log.level") == 0) return cfg->log_level;
    if (strcmp(key, "log.format") == 0) return cfg->log_format;
    if (strcmp(key, "kafka.security.protocol") == 0) return cfg->kafka_protocol;
    if (strcmp(key, "kafka.sasl.mechanism") == 0) return cfg->kafka_mechanism;
    if (strcmp(key, "clearing.confirm.due") == 0) return cfg->confirm_due;
    if (strcmp(key, "clearing.window.period") == 0) return cfg->window_period;
    return NULL;
}

static void test_set(void)
{
    for (size_t i = 0; i < N_ELEMS(set_cases); i++) {
        const set_case_t *c = &set_cases[i];
        mc_config_t cfg;
        mc_config_defaults(&cfg);
        char err[256] = "";
        bool ok = mc_config_set(&cfg, c->key, c->value, err, sizeof(err));
        CU_ASSERT_EQUAL(ok, c->ok);
        if (ok != c->ok)
            fprintf(stderr, "\n  %s = \"%s\": %s, want %s (%s)", c->key, c->value,
                    ok ? "accepted" : "refused", c->ok ? "accepted" : "refused", err);
        if (c->in_error) {
            CU_ASSERT_PTR_NOT_NULL(strstr(err, c->in_error));
            CU_ASSERT_PTR_NOT_NULL(strstr(err, c->key));
            if (!strstr(err, c->in_error))
                fprintf(stderr, "\n  %s = \"%s\": message \"%s\" lacks \"%s\"", c->key,
                        c->value, err, c->in_error);
        }
        const char *field = str_field(&cfg, c->key);
        if (c->stored && field) {
            CU_ASSERT_STRING_EQUAL(field, c->stored);
            if (strcmp(field, c->stored) != 0)
                fprintf(stderr, "\n  %s = \"%s\": stored \"%s\", want \"%s\"", c->key, c->value,
                        field, c->stored);
        }
    }
}

/* A refused integer leaves the previous value; regions are replaced, not appended. */
static void test_refused_keeps_value(void)
{
    mc_config_t cfg;
    mc_config_defaults(&cfg);
    char err[256];
    CU_ASSERT_TRUE(mc_config_set(&cfg, "batch.max.messages", "250", err, sizeof(err)));
    CU_ASSERT_FALSE(mc_config_set(&cfg, "batch.max.messages", "-3", err, sizeof(err)));
    CU_ASSERT_EQUAL(cfg.batch_max, 250);
    CU_ASSERT_TRUE(mc_config_set(&cfg, "service.regions", "310000,320000", err, sizeof(err)));
    CU_ASSERT_TRUE(mc_config_set(&cfg, "service.regions", "330000", err, sizeof(err)));
    CU_ASSERT_EQUAL(cfg.n_regions, 1);
    CU_ASSERT_TRUE(mc_config_serves(&cfg, "330000"));
    CU_ASSERT_FALSE(mc_config_serves(&cfg, "310000"));
}

/* batch.timeout.ms waits 5 ms by default, and only while the last batch held more than
 * one message: a lone message at light load is not held. */
static void test_batch_wait(void)
{
    mc_config_t cfg;
    mc_config_defaults(&cfg);
    CU_ASSERT_EQUAL(cfg.batch_timeout_ms, 5);
    CU_ASSERT_EQUAL(mc_service_batch_wait_ms(cfg.batch_timeout_ms, 0), 0);
    CU_ASSERT_EQUAL(mc_service_batch_wait_ms(cfg.batch_timeout_ms, 1), 0);
    CU_ASSERT_EQUAL(mc_service_batch_wait_ms(cfg.batch_timeout_ms, 2), 5);
    CU_ASSERT_EQUAL(mc_service_batch_wait_ms(cfg.batch_timeout_ms, 500), 5);
    CU_ASSERT_EQUAL(mc_service_batch_wait_ms(0, 500), 0);
}

/* A batch takes up to 1,000 messages and 32 MiB of them by default; its first message is
 * taken whatever its size (the loop adds it before asking), then no more once either
 * bound is reached. */
static void test_batch_bounds(void)
{
    mc_config_t cfg;
    mc_config_defaults(&cfg);
    CU_ASSERT_EQUAL(cfg.batch_max, 1000);
    CU_ASSERT_EQUAL(cfg.batch_max_bytes, 32 * 1024 * 1024);
    int64_t max = cfg.batch_max, max_bytes = cfg.batch_max_bytes;
    CU_ASSERT_TRUE(mc_service_batch_takes_more(1, 100, max, max_bytes));
    CU_ASSERT_TRUE(mc_service_batch_takes_more(999, max_bytes - 1, max, max_bytes));
    CU_ASSERT_FALSE(mc_service_batch_takes_more(1000, 100, max, max_bytes));
    CU_ASSERT_FALSE(mc_service_batch_takes_more(1, max_bytes, max, max_bytes));
    CU_ASSERT_FALSE(mc_service_batch_takes_more(2, max_bytes + 4096, max, max_bytes));
    /* batch.max.bytes = 1: every batch is one message */
    CU_ASSERT_FALSE(mc_service_batch_takes_more(1, 1, max, 1));
    char err[256];
    CU_ASSERT_TRUE(mc_config_set(&cfg, "batch.max.bytes", "1", err, sizeof(err)));
    CU_ASSERT_FALSE(mc_config_set(&cfg, "batch.max.bytes", "0", err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "outside"));
    CU_ASSERT_FALSE(mc_config_set(&cfg, "batch.max.bytes", "1073741825", err, sizeof(err)));
    CU_ASSERT_EQUAL(cfg.batch_max_bytes, 1);
}

/* Offsets are committed at most every second while traffic flows; the topics a process
 * creates get the broker's partition count unless topic.partitions says otherwise. */
static void test_commit_and_partitions(void)
{
    mc_config_t cfg;
    char err[256];
    mc_config_defaults(&cfg);
    CU_ASSERT_EQUAL(cfg.commit_interval_ms, 1000);
    CU_ASSERT_EQUAL(cfg.topic_partitions, 0);
    CU_ASSERT_TRUE(mc_config_set_option(&cfg, "topic.partitions=1", err, sizeof(err)));
    CU_ASSERT_EQUAL(cfg.topic_partitions, 1);
    CU_ASSERT_TRUE(mc_config_set_option(&cfg, "batch.commit.interval.ms=0", err, sizeof(err)));
    CU_ASSERT_EQUAL(cfg.commit_interval_ms, 0);
    CU_ASSERT_FALSE(mc_config_set_option(&cfg, "batch.commit.interval.ms=60001", err, sizeof(err)));
    CU_ASSERT_STRING_EQUAL(err, "batch.commit.interval.ms: 60001 is outside 0..60000");
    CU_ASSERT_EQUAL(cfg.commit_interval_ms, 0);
}

/* -o key=value: the broker password is refused there, whatever its spelling of blanks. */
static void test_option(void)
{
    mc_config_t cfg;
    mc_config_defaults(&cfg);
    char err[256] = "";
    CU_ASSERT_TRUE(mc_config_set_option(&cfg, " clearing.pay.due = 2 working days ", err,
                                        sizeof(err)));
    CU_ASSERT_STRING_EQUAL(cfg.pay_due, "2 working days");
    CU_ASSERT_FALSE(mc_config_set_option(&cfg, "kafka.sasl.password = secret", err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "command line"));
    for (int i = 0; i < cfg.n_kafka; i++)
        CU_ASSERT_STRING_NOT_EQUAL(cfg.kafka_keys[i], "sasl.password");
    CU_ASSERT_FALSE(mc_config_set_option(&cfg, "no equals sign", err, sizeof(err)));
}

/* A file: comments and blanks skipped, the password file found beside it and read by
 * mc_config_finish(); a bad line is refused with the file's name and line number. */
static void test_file(void)
{
    char dir[] = "/tmp/mc_test_config.XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char conf[512], secret[512], bad[512];
    snprintf(conf, sizeof(conf), "%s/a.conf", dir);
    snprintf(secret, sizeof(secret), "%s/broker.password", dir);
    snprintf(bad, sizeof(bad), "%s/bad.conf", dir);
    FILE *f = fopen(conf, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "# a comment\n\nclearing.settlement = multilateral\n"
               "kafka.sasl.password.file = broker.password\n");
    fclose(f);
    f = fopen(secret, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "s3cret\n");
    fclose(f);
    f = fopen(bad, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "log.level = info\nbatch.max.messages = many\n");
    fclose(f);

    mc_config_t cfg;
    char err[512] = "";
    mc_config_defaults(&cfg);
    CU_ASSERT_TRUE(mc_config_load(&cfg, conf, err, sizeof(err)));
    CU_ASSERT_STRING_EQUAL(cfg.settlement, "multilateral");
    CU_ASSERT_STRING_EQUAL(cfg.kafka_password_file, secret);
    CU_ASSERT_TRUE(mc_config_finish(&cfg, err, sizeof(err)));
    CU_ASSERT_STRING_EQUAL(cfg.kafka_password, "s3cret");

    mc_config_defaults(&cfg);
    CU_ASSERT_FALSE(mc_config_load(&cfg, bad, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad.conf"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "batch.max.messages"));

    /* a password file that is not there */
    unlink(secret);
    mc_config_defaults(&cfg);
    CU_ASSERT_TRUE(mc_config_load(&cfg, conf, err, sizeof(err)));
    CU_ASSERT_FALSE(mc_config_finish(&cfg, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "kafka.sasl.password.file"));
    CU_ASSERT_STRING_EQUAL(cfg.kafka_password, "");

    unlink(conf);
    unlink(bad);
    rmdir(dir);
}

int main(void)
{
    /* the environment must not reach the table in these tests */
    unsetenv("MEDCLEAR_CLEARING_SETTLEMENT");
    unsetenv("MEDCLEAR_BATCH_MAX_MESSAGES");
    unsetenv("MEDCLEAR_LOG_LEVEL");
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("config", NULL, NULL);
    if (s == NULL || !CU_add_test(s, "values by key", test_set) ||
        !CU_add_test(s, "a refused value keeps the old one", test_refused_keeps_value) ||
        !CU_add_test(s, "command-line options", test_option) ||
        !CU_add_test(s, "the batch's wait for more messages", test_batch_wait) ||
        !CU_add_test(s, "a batch's bounds: messages and bytes", test_batch_bounds) ||
        !CU_add_test(s, "offsets commit interval and topic partitions", test_commit_and_partitions) ||
        !CU_add_test(s, "configuration files", test_file)) {
        CU_cleanup_registry();
        return 2;
    }
    printf("config table cases: %zu\n", N_ELEMS(set_cases));
    CU_basic_set_mode(CU_BRM_NORMAL);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures == 0 ? 0 : 1;
}
