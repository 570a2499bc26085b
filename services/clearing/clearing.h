/*
 * Clearing centre (结算平台) message handling: claims from treating regions are recorded
 * and routed to the insuring party; results are recorded and routed back.
 */
#ifndef CLEARING_H
#define CLEARING_H

#include "mc_service.h"

/* What the service keeps between the messages of a batch (the pairs' usage, what the
 * batch read ahead); it is the opaque of the handlers below. */
typedef struct clearing_state clearing_state_t;

clearing_state_t *clearing_state_new(void);
void clearing_state_free(clearing_state_t *st);

/*
 * Reads ahead for a batch (mc_service_def_t.prepare): locks and reads the claims its
 * results are for, and records the claims it routes, each with one statement; the
 * handlers then use what it found instead of a statement per message.
 */
mc_err_t clearing_prepare(mc_msg_ctx_t *ctx, const Medclear__Envelope *const *envs, int n,
                          void *opaque);

/* Handler of every message consumed by the clearing service. */
mc_err_t clearing_handle(mc_msg_ctx_t *ctx, const Medclear__Envelope *env, void *opaque);

/* Writes the usage the batch added to each pair, once per pair (mc_service_def_t.flush). */
mc_err_t clearing_flush(mc_msg_ctx_t *ctx, void *opaque);

/* Forgets the usage of a batch or message that was rolled back. */
void clearing_discard(void *opaque);

/* Periodic work: closes the open clearing window when its period ends and opens the
 * next (clearing.window.period). */
mc_err_t clearing_tick(mc_msg_ctx_t *ctx, void *opaque);

#endif
