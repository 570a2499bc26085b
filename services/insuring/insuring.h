/*
 * Insuring region (参保地) message handling: claims routed by the clearing centre on
 * mc.claims.<party> are adjudicated by the region's policy and answered on mc.results.
 */
#ifndef INSURING_H
#define INSURING_H

#include "mc_service.h"

/*
 * What the service keeps between the messages of a batch (the opaque of the hooks
 * below): the settlement rows of its claims, written once per batch, and what the batch
 * read ahead for them. On the fast path the prepare hook locks every person of the
 * batch in one statement, in the order of their ids, and reads their registrations,
 * policies, accumulators and the batch's settlement ids in one more; the claims then
 * spend from that in memory, and the flush hook writes what they spent once per batch.
 */
typedef struct insuring_state insuring_state_t;

insuring_state_t *insuring_state_new(void);
void insuring_state_free(insuring_state_t *st); /* NULL: nothing */

mc_err_t insuring_prepare(mc_msg_ctx_t *ctx, const Medclear__Envelope *const *envs, int n,
                          void *opaque);
mc_err_t insuring_flush(mc_msg_ctx_t *ctx, void *opaque);
void insuring_discard(void *opaque);

/* Handler of every message consumed by the insuring service. */
mc_err_t insuring_handle(mc_msg_ctx_t *ctx, const Medclear__Envelope *env, void *opaque);

#endif
