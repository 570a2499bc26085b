/*
 * Fuzz target: bytes from the bus as every service receives them, mc_envelope_open()
 * (decode, signature, age), with the demo keyring and the default limits. Random bytes
 * almost never carry a good signature, so each input is also opened as a service with
 * signatures off would (which reaches the age check with any header), and whatever
 * decodes is sealed by its source region's key and must then open again: signer and
 * verifier must agree on the bytes a signature covers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "mc_bus.h"
#include "mc_sign.h"

#define MAX_BYTES 1048576          /* message.max.bytes default */
#define MAX_AGE_MS 86400000        /* security.max.age.ms default */
#define NOW_MS INT64_C(1795000000000) /* fixed, so that a crash reproduces */

static mc_keyring_t *keyring;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[512];
    keyring = mc_keyring_load(MC_FUZZ_KEYS, err, sizeof(err));
    if (!keyring) {
        fprintf(stderr, "fuzz_envelope: %s\n", err);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char detail[256];
    Medclear__Envelope *env = NULL;
    if (mc_envelope_open(keyring, data, size, MAX_BYTES, MAX_AGE_MS, NOW_MS, &env, detail,
                         sizeof(detail)) == MC_OK)
        medclear__envelope__free_unpacked(env, NULL);

    if (mc_envelope_open(NULL, data, size, MAX_BYTES, MAX_AGE_MS, NOW_MS, &env, detail,
                         sizeof(detail)) != MC_OK)
        return 0;
    size_t len;
    char err[128];
    uint8_t *sealed = mc_envelope_seal(keyring, env, &len, err, sizeof(err));
    if (sealed) {
        Medclear__Envelope *again = NULL;
        mc_reason_t r = mc_envelope_open(keyring, sealed, len, SIZE_MAX, MAX_AGE_MS, NOW_MS,
                                         &again, detail, sizeof(detail));
        if (r != MC_OK) {
            fprintf(stderr, "fuzz_envelope: a sealed envelope does not open: %s: %s\n",
                    mc_reason_code(r), detail);
            abort();
        }
        medclear__envelope__free_unpacked(again, NULL);
        free(sealed);
    }
    medclear__envelope__free_unpacked(env, NULL);
    return 0;
}
