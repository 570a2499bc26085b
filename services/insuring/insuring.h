/*
 * Insuring region (参保地) message handling: claims routed by the clearing centre on
 * mc.claims.<party> are adjudicated by the region's policy and answered on mc.results.
 */
#ifndef INSURING_H
#define INSURING_H

#include "mc_service.h"

/* What the service keeps between the messages of a batch: the settlement rows of its
 * claims, written once per batch. It is the opaque of the handler below
 * (mc_ctx_flush_rows() and mc_ctx_forget_rows() are its hooks). */
mc_rows_t *insuring_rows_new(void);

/* Handler of every message consumed by the insuring service. */
mc_err_t insuring_handle(mc_msg_ctx_t *ctx, const Medclear__Envelope *env, void *opaque);

#endif
