/*
 * `medclear envelope sign`: reads one binary medclear Envelope on standard input, signs
 * it as its source region with the configured keyring and writes it to standard output.
 * For operators and tests that build messages by hand (protoc --encode) and must get
 * them past the receivers' signature check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_bus.h"
#include "mc_sign.h"
#include "tool.h"

int tool_envelope(const mc_config_t *cfg, int argc, char **argv)
{
    if (argc != 1 || strcmp(argv[0], "sign") != 0) {
        fprintf(stderr, "usage: medclear envelope sign <in.bin >out.bin\n");
        return 2;
    }
    char err[512];
    mc_keyring_t *kr = NULL;
    if (!mc_keyring_from_config(cfg, &kr, err, sizeof(err)) || !kr) {
        fprintf(stderr, "medclear: %s\n", kr ? err : "security.keys.file is not set");
        mc_keyring_destroy(kr);
        return 1;
    }
    size_t cap = 1 << 16, len = 0, r;
    uint8_t *in = malloc(cap);
    while (in && (r = fread(in + len, 1, cap - len, stdin)) > 0) {
        len += r;
        if (len == cap && !(in = realloc(in, cap *= 2)))
            break;
    }
    if (!in)
        abort();
    int rc = 1;
    Medclear__Envelope *env = medclear__envelope__unpack(NULL, len, in);
    if (!env) {
        fprintf(stderr, "medclear: standard input is not a medclear envelope\n");
    } else {
        size_t out_len;
        uint8_t *out = mc_envelope_seal(kr, env, &out_len, err, sizeof(err));
        if (!out) {
            fprintf(stderr, "medclear: %s\n", err);
        } else {
            rc = fwrite(out, 1, out_len, stdout) == out_len ? 0 : 1;
            free(out);
        }
        medclear__envelope__free_unpacked(env, NULL);
    }
    free(in);
    mc_keyring_destroy(kr);
    return rc;
}
