/*
 * Clearing centre (结算平台) message handling: claims from treating regions are recorded
 * and routed to the insuring party; results are recorded and routed back.
 */
#ifndef CLEARING_H
#define CLEARING_H

#include "mc_service.h"

/* Handler of every message consumed by the clearing service. */
mc_err_t clearing_handle(mc_msg_ctx_t *ctx, const Medclear__Envelope *env, void *opaque);

/* Periodic work: closes the open clearing window when its period ends and opens the
 * next (clearing.window.period). */
mc_err_t clearing_tick(mc_msg_ctx_t *ctx, void *opaque);

#endif
