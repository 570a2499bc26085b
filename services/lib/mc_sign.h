/*
 * Message signatures: every envelope carries an HMAC-SM3 (the digest the real platform
 * uses) by a key of its source region, named by key id. The keyring comes from a file
 * (security.keys.file), never from the command line: one line per key,
 *
 *   <region> <key id> <64 hex digits>
 *
 * The first key listed for a region signs; every listed key of the region verifies, so
 * keys rotate by listing the new one first and keeping the previous one until no
 * message signed by it is in flight. The signature covers the whole envelope as packed
 * with an empty signature field: body and header (id, time, source) alike. A receiver
 * checks it over the bytes it received less their signature field, which are those
 * bytes whatever order the sender's encoder put the fields in.
 */
#ifndef MC_SIGN_H
#define MC_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mc_config.h"
#include "mc_reason.h"
#include "medclear.pb-c.h"

#define MC_SIGNATURE_SIZE 32 /* HMAC-SM3 */

typedef struct mc_keyring mc_keyring_t;

/*
 * Reads a key file. Returns the keyring (caller frees with mc_keyring_destroy()), or
 * NULL with errstr naming the file and line. Key bytes never appear in messages.
 */
mc_keyring_t *mc_keyring_load(const char *path, char *errstr, size_t errstr_size);

/*
 * The keyring named by cfg's security.keys.file: *out is NULL when none is configured.
 * Returns false with errstr filled when the file cannot be read.
 */
bool mc_keyring_from_config(const mc_config_t *cfg, mc_keyring_t **out, char *errstr,
                            size_t errstr_size) __attribute__((warn_unused_result));

/* Frees a keyring and wipes its keys. NULL is a no-op. */
void mc_keyring_destroy(mc_keyring_t *kr);

/*
 * Signs env as its source region: sets env->key_id to the region's signing key and
 * env->signature to sig[] (which must outlive env). Returns false when the keyring has no
 * key for that region.
 */
bool mc_sign_envelope(const mc_keyring_t *kr, Medclear__Envelope *env,
                      uint8_t sig[MC_SIGNATURE_SIZE]) __attribute__((warn_unused_result));

/*
 * Checks the signature of env, decoded from bytes[0..len), against the keys of its
 * source region, over those bytes less the signature field. Returns MC_OK or
 * MC_R_BAD_SIGNATURE with detail saying why (no signature, unknown key, mismatch).
 */
mc_reason_t mc_verify_envelope(const mc_keyring_t *kr, const Medclear__Envelope *env,
                               const void *bytes, size_t len, char *detail, size_t detail_size);

/*
 * Packs env into a malloc'd buffer (caller frees), signed as its source region when kr is
 * not NULL. Returns NULL and fills errstr when kr has no key for the source region.
 */
uint8_t *mc_envelope_seal(const mc_keyring_t *kr, const Medclear__Envelope *env, size_t *len,
                          char *errstr, size_t errstr_size);

/*
 * What every service does first with bytes from the bus (mc_service.c): decodes and
 * checks them (mc_envelope_decode with max_bytes), verifies the signature when kr is not
 * NULL, and refuses a message created more than max_age_ms before now_ms (0: no limit).
 * Signature and age come before anything is recorded, so nothing of a forged or replayed
 * message is applied. Returns MC_OK and the envelope (caller frees with
 * medclear__envelope__free_unpacked(env, NULL)), or a reason with detail filled in and
 * *out NULL.
 */
mc_reason_t mc_envelope_open(const mc_keyring_t *kr, const void *bytes, size_t len,
                             size_t max_bytes, int64_t max_age_ms, int64_t now_ms,
                             Medclear__Envelope **out, char *detail, size_t detail_size);

/* SHA-256 of len bytes (the inbox's payload hash, computed as PostgreSQL's sha256()). */
void mc_sha256(const void *data, size_t len, uint8_t out[32]);

#endif
