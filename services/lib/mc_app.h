/*
 * Process lifecycle shared by the services: command-line options, configuration, log
 * set-up and signals. A service's main() calls mc_app_init(), builds its topic lists and
 * handler, and runs mc_service_run() until SIGTERM or SIGINT clears the run flag.
 */
#ifndef MC_APP_H
#define MC_APP_H

#include <signal.h>
#include <stdbool.h>

#include "mc_config.h"
#include "mc_service.h"

/* The only process-wide state: cleared by SIGTERM/SIGINT. */
extern volatile sig_atomic_t mc_running;

/*
 * Parses `-c FILE`, `-o key=value`, `--help`, `--dump-config` into cfg (defaults, file,
 * environment, then -o options, in that order), sets up logging and signal handlers.
 * Returns -1 to go on, or an exit status (0 after --help/--dump-config, 2 on a bad
 * option or configuration, with the error printed).
 */
int mc_app_init(int argc, char **argv, const char *role, const char *usage, mc_config_t *cfg);

/*
 * Starts the service (database, broker, topics), runs it until a signal and tears it
 * down. Returns the process exit status.
 */
int mc_app_run(const mc_config_t *cfg, const mc_service_def_t *def, const char *const *consumed,
               int n_consumed, const char *const *produced, int n_produced);

#endif
