/*
 * medclear-treating: the treating region's service. Lifecycle only: configuration,
 * topics of the regions served, the service loop, teardown.
 */
#include <stdio.h>

#include "mc_app.h"
#include "mc_service.h"
#include "treating.h"

int main(int argc, char **argv)
{
    mc_config_t cfg;
    int rc = mc_app_init(argc, argv, "treating",
                         "Treating region: splits fee lines by the region's catalog, forwards "
                         "claims, answers agencies.",
                         &cfg);
    if (rc >= 0)
        return rc;
    if (cfg.n_regions == 0) {
        fprintf(stderr, "treating: service.regions is empty: name the regions this process serves\n");
        return 2;
    }

    /* Consumed: mc.intake.<r> and mc.results.<r>; produced: mc.reply.<r> and mc.claims. */
    char names[4 * MC_MAX_REGIONS + 1][128];
    const char *consumed[2 * MC_MAX_REGIONS], *produced[2 * MC_MAX_REGIONS + 1];
    int n_in = 0, n_out = 0, k = 0;
    for (int i = 0; i < cfg.n_regions; i++) {
        mc_bus_topic2(&cfg, names[k], sizeof(names[k]), "intake", cfg.regions[i]);
        consumed[n_in++] = names[k++];
        mc_bus_topic2(&cfg, names[k], sizeof(names[k]), "results", cfg.regions[i]);
        consumed[n_in++] = names[k++];
        mc_bus_topic2(&cfg, names[k], sizeof(names[k]), "reply", cfg.regions[i]);
        produced[n_out++] = names[k++];
    }
    mc_bus_topic(&cfg, names[k], sizeof(names[k]), "claims");
    produced[n_out++] = names[k++];

    treating_state_t *st = treating_state_new();
    mc_service_def_t def = {
        .role = "treating",
        .schema = "treating",
        .handle = treating_handle,
        .duplicate = treating_duplicate,
        .tick = treating_tick,
        .flush = treating_flush,
        .discard = treating_discard,
        .prepare = treating_prepare,
        .opaque = st,
    };
    rc = mc_app_run(&cfg, &def, consumed, n_in, produced, n_out);
    treating_state_free(st);
    return rc;
}
