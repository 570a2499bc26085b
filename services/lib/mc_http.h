/*
 * The operator's HTTP endpoint of a service: GET /metrics (Prometheus text format),
 * /livez and /readyz (200 or 503 with a one-line reason), served from mc_metrics by a
 * thread of its own so that a slow scrape never holds up the service loop. Started by
 * mc_app when metrics.port is set.
 */
#ifndef MC_HTTP_H
#define MC_HTTP_H

#include <stddef.h>

#include "mc_metrics.h"

typedef struct mc_http mc_http_t;

/*
 * Listens on address:port (an IPv4 or IPv6 literal or a host name; port 1..65535) and
 * serves m, which must outlive the server. Returns NULL and fills errstr when the
 * address does not resolve or cannot be bound. Caller stops it with mc_http_stop().
 */
mc_http_t *mc_http_start(const char *address, int port, mc_metrics_t *m, char *errstr,
                         size_t errstr_size);

/* Closes the socket and joins the server thread. NULL is a no-op. */
void mc_http_stop(mc_http_t *h);

#endif
