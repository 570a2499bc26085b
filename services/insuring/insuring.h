/*
 * Insuring region (参保地) message handling: claims routed by the clearing centre on
 * mc.claims.<party> are adjudicated by the region's policy and answered on mc.results.
 */
#ifndef INSURING_H
#define INSURING_H

#include "mc_service.h"

/* What the service keeps between the messages of a batch (the settlement rows of its
 * claims, written once per batch); it is the opaque of the handlers below. */
typedef struct insuring_state insuring_state_t;

insuring_state_t *insuring_state_new(void);
void insuring_state_free(insuring_state_t *st);

/* Handler of every message consumed by the insuring service. */
mc_err_t insuring_handle(mc_msg_ctx_t *ctx, const Medclear__Envelope *env, void *opaque);

/* Writes the settlement rows the batch holds, in one statement (mc_service_def_t.flush). */
mc_err_t insuring_flush(mc_msg_ctx_t *ctx, void *opaque);

/* Forgets the settlement rows of a batch or message that was rolled back. */
void insuring_discard(void *opaque);

#endif
