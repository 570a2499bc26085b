/*
 * Command line and signals for the service binaries. Configuration errors are printed
 * once, naming the key, and the process exits with status 2 before touching the broker
 * or the database.
 */
#include "mc_app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_http.h"
#include "mc_log.h"
#include "mc_metrics.h"

volatile sig_atomic_t mc_running = 1;

static void on_signal(int sig)
{
    (void)sig;
    mc_running = 0;
}

int mc_app_init(int argc, char **argv, const char *role, const char *usage, mc_config_t *cfg)
{
    const char *path = NULL;
    bool dump = false;
    char err[512];

    mc_config_defaults(cfg);
    /* The file is read first so that -o options given anywhere win over it. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s [-c FILE] [-o key=value]... [--dump-config]\n%s\n\n", argv[0],
                   usage);
            mc_config_help(stdout);
            return 0;
        } else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            i++;
        } else if (strcmp(argv[i], "--dump-config") == 0) {
            dump = true;
        } else {
            fprintf(stderr, "%s: unknown option \"%s\" (see --help)\n", role, argv[i]);
            return 2;
        }
    }
    if (!mc_config_load(cfg, path, err, sizeof(err))) {
        fprintf(stderr, "%s: %s\n", role, err);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-o") != 0 || i + 1 >= argc)
            continue;
        if (!mc_config_set_option(cfg, argv[++i], err, sizeof(err))) {
            fprintf(stderr, "%s: %s\n", role, err);
            return 2;
        }
    }

    /* Checked before --dump-config too: a configuration that dumps is one that starts. */
    if (!mc_config_finish(cfg, err, sizeof(err))) {
        fprintf(stderr, "%s: %s\n", role, err);
        return 2;
    }
    mc_log_level_t level;
    if (!mc_log_level_parse(cfg->log_level, &level)) {
        fprintf(stderr, "%s: log.level: \"%s\" is not debug, info, warn or error\n", role,
                cfg->log_level);
        return 2;
    }
    mc_log_format_t format;
    if (!mc_log_format_parse(cfg->log_format, &format)) {
        fprintf(stderr, "%s: log.format: \"%s\" is not logfmt or json\n", role, cfg->log_format);
        return 2;
    }
    if (dump) {
        mc_config_dump(cfg, stdout);
        return 0;
    }
    mc_log_init(role, level);
    mc_log_set_format(format);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return -1;
}

int mc_app_run(const mc_config_t *cfg, const mc_service_def_t *def, const char *const *consumed,
               int n_consumed, const char *const *produced, int n_produced)
{
    char err[512];
    /* The endpoint comes up first, so that /livez and /readyz answer (503 "starting: ...")
     * while the broker or the database keep the start waiting. A port that cannot be bound
     * does not stop settlement: the error is logged and the service runs without it. */
    mc_metrics_t *metrics = NULL;
    mc_http_t *http = NULL;
    if (cfg->metrics_port > 0) {
        metrics = mc_metrics_new(cfg, def->role, def->schema);
        http = mc_http_start(cfg->metrics_address, (int)cfg->metrics_port, metrics, err,
                             sizeof(err));
        if (http)
            mc_info("serving /metrics, /livez and /readyz on %s port %d", cfg->metrics_address,
                    (int)cfg->metrics_port);
        else
            mc_error("could not serve metrics and health checks: %s; running without them", err);
    }
    int rc = 1;
    mc_service_t *svc = mc_service_new(cfg, def, consumed, n_consumed, produced, n_produced,
                                       metrics, err, sizeof(err));
    if (svc) {
        rc = mc_service_run(svc, &mc_running);
        mc_service_destroy(svc);
    } else {
        mc_error("could not start: %s", err);
    }
    mc_http_stop(http);
    mc_metrics_destroy(metrics);
    return rc;
}
