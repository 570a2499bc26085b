/*
 * medclear-insuring: the insuring region's service. Lifecycle only: configuration,
 * topics of the parties served, the service loop, teardown.
 */
#include <stdio.h>
#include <string.h>

#include "insuring.h"
#include "mc_app.h"

int main(int argc, char **argv)
{
    mc_config_t cfg;
    int rc = mc_app_init(argc, argv, "insuring",
                         "Insuring region: adjudicates claims by the region's policy, keeps "
                         "registrations and accumulators.",
                         &cfg);
    if (rc >= 0)
        return rc;
    if (cfg.n_regions == 0) {
        fprintf(stderr, "insuring: service.regions is empty: name the regions this process serves\n");
        return 2;
    }

    /* Consumed: mc.claims.<party> of each region served; produced: mc.results. */
    char names[MC_MAX_REGIONS + 1][128];
    const char *consumed[MC_MAX_REGIONS], *produced[1];
    int n_in = 0;
    bool national = strcmp(cfg.scope, "national") == 0;
    for (int i = 0; i < cfg.n_regions; i++) {
        char party[7];
        mc_party_of(cfg.regions[i], national, party);
        mc_bus_topic2(&cfg, names[n_in], sizeof(names[n_in]), "claims", party);
        bool dup = false;
        for (int j = 0; j < n_in; j++)
            dup = dup || strcmp(consumed[j], names[n_in]) == 0;
        if (!dup) {
            consumed[n_in] = names[n_in];
            n_in++;
        }
    }
    mc_bus_topic(&cfg, names[MC_MAX_REGIONS], sizeof(names[0]), "results");
    produced[0] = names[MC_MAX_REGIONS];

    insuring_state_t *st = insuring_state_new();
    mc_service_def_t def = {
        .role = "insuring",
        .schema = "insuring",
        .handle = insuring_handle,
        .flush = insuring_flush,
        .discard = insuring_discard,
        .prepare = insuring_prepare,
        .opaque = st,
    };
    rc = mc_app_run(&cfg, &def, consumed, n_in, produced, 1);
    insuring_state_free(st);
    return rc;
}
