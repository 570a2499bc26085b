/*
 * medclear-clearing: the clearing centre's service. Lifecycle only: configuration,
 * topics of the parties cleared, the service loop, teardown.
 */
#include <stdio.h>

#include "clearing.h"
#include "mc_app.h"

int main(int argc, char **argv)
{
    mc_config_t cfg;
    int rc = mc_app_init(argc, argv, "clearing",
                         "Clearing centre: routes and records claims and results between "
                         "treating and insuring parties.",
                         &cfg);
    if (rc >= 0)
        return rc;
    if (cfg.n_regions == 0) {
        fprintf(stderr, "clearing: service.regions is empty: name the parties this centre clears\n");
        return 2;
    }

    /* Consumed: mc.claims and mc.results; produced: the per-party topics of both. */
    char names[2 * MC_MAX_REGIONS + 3][128];
    const char *consumed[2], *produced[2 * MC_MAX_REGIONS + 1];
    int n_out = 0;
    mc_bus_topic(&cfg, names[0], sizeof(names[0]), "claims");
    mc_bus_topic(&cfg, names[1], sizeof(names[1]), "results");
    consumed[0] = names[0];
    consumed[1] = names[1];
    for (int i = 0; i < cfg.n_regions; i++) {
        mc_bus_topic2(&cfg, names[2 + n_out], sizeof(names[0]), "claims", cfg.regions[i]);
        produced[n_out] = names[2 + n_out];
        n_out++;
        mc_bus_topic2(&cfg, names[2 + n_out], sizeof(names[0]), "results", cfg.regions[i]);
        produced[n_out] = names[2 + n_out];
        n_out++;
    }

    mc_bus_topic(&cfg, names[2 + n_out], sizeof(names[0]), "clearing.events");
    produced[n_out] = names[2 + n_out];
    n_out++;

    clearing_state_t *st = clearing_state_new();
    mc_service_def_t def = {
        .role = "clearing",
        .schema = "clearing",
        .ledger_windowed = true,
        .handle = clearing_handle,
        .tick = clearing_tick,
        .flush = clearing_flush,
        .discard = clearing_discard,
        .prepare = clearing_prepare,
        .opaque = st,
    };
    rc = mc_app_run(&cfg, &def, consumed, 2, produced, n_out);
    clearing_state_free(st);
    return rc;
}
