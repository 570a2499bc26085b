/*
 * Treating region (就医地) message handling: settlement requests from agencies on
 * mc.intake.<region> are checked, split line by line by the region's catalog and sent
 * to the clearing centre as claims; results coming back on mc.results.<region> are
 * recorded and answered to the agency on mc.reply.<region>.
 */
#ifndef TREATING_H
#define TREATING_H

#include "mc_service.h"

/*
 * What the service keeps between the messages of a batch (the opaque of the hooks below):
 * the requests it sends on as claims, with their claims and fee lines, written once per
 * batch; and the claims its results are for, read and locked by the prepare hook with
 * one statement, each with its lines, before the first handler.
 */
typedef struct treating_state treating_state_t;

treating_state_t *treating_state_new(void);
void treating_state_free(treating_state_t *st); /* NULL: nothing */

mc_err_t treating_prepare(mc_msg_ctx_t *ctx, const Medclear__Envelope *const *envs, int n,
                          void *opaque);
mc_err_t treating_flush(mc_msg_ctx_t *ctx, void *opaque);
void treating_discard(void *opaque);

/* Handler of every message consumed by the treating service. */
mc_err_t treating_handle(mc_msg_ctx_t *ctx, const Medclear__Envelope *env, void *opaque);

/* Handler of a message id seen before: a repeated request gets its earlier reply. */
mc_err_t treating_duplicate(mc_msg_ctx_t *ctx, const Medclear__Envelope *env,
                            bool same_payload, void *opaque);

/* Periodic work: requests whose claim has no result after treating.claim.timeout.ms are
 * answered TIMED_OUT. */
mc_err_t treating_tick(mc_msg_ctx_t *ctx, void *opaque);

#endif
