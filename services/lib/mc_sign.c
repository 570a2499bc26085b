/*
 * HMAC-SM3 signatures of envelopes with OpenSSL 3's EVP_MAC (SM3 is in its default
 * provider). OpenSSL is used rather than a hand-written SM3 because a signature scheme
 * is only as good as its primitive's implementation, and OpenSSL's is reviewed and
 * tested against the standard's vectors.
 */
#include "mc_sign.h"

#include "mc_bus.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 256

typedef struct key {
    char region[8];
    char id[32];
    uint8_t bytes[32];
    /* HMAC-SM3 set up with the key once: each message's MAC starts from a copy, without
     * fetching the algorithms by name and hashing the key's pads again (a fifth of the
     * cost of a message of 1 kB) */
    EVP_MAC_CTX *keyed;
} sign_key_t;

struct mc_keyring {
    sign_key_t keys[MAX_KEYS];
    int n;
};

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Sets up each key's HMAC-SM3 context. False when OpenSSL cannot. */
static bool key_all(mc_keyring_t *kr)
{
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    bool ok = hmac != NULL;
    for (int i = 0; ok && i < kr->n; i++) {
        sign_key_t *k = &kr->keys[i];
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SM3", 0),
            OSSL_PARAM_construct_end(),
        };
        k->keyed = EVP_MAC_CTX_new(hmac); /* holds its own reference to hmac */
        ok = k->keyed && EVP_MAC_init(k->keyed, k->bytes, sizeof(k->bytes), params);
    }
    EVP_MAC_free(hmac);
    return ok;
}

mc_keyring_t *mc_keyring_load(const char *path, char *errstr, size_t errstr_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errstr_size, "could not open key file \"%s\": %s", path, strerror(errno));
        return NULL;
    }
    mc_keyring_t *kr = calloc(1, sizeof(*kr));
    if (!kr)
        abort();
    char line[512];
    int lineno = 0;
    bool ok = true;
    while (ok && fgets(line, sizeof(line), f)) {
        lineno++;
        char region[16], id[64], hex[128];
        char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        if (*s == '\0' || *s == '#')
            continue;
        if (sscanf(s, "%15s %63s %127s", region, id, hex) != 3 || strlen(region) != 6 ||
            strlen(id) >= sizeof(kr->keys[0].id) || strlen(hex) != 64) {
            snprintf(errstr, errstr_size,
                     "%s:%d: expected \"<6-digit region> <key id> <64 hex digits>\"", path, lineno);
            ok = false;
            break;
        }
        if (kr->n == MAX_KEYS) {
            snprintf(errstr, errstr_size, "%s:%d: more than %d keys", path, lineno, MAX_KEYS);
            ok = false;
            break;
        }
        sign_key_t *k = &kr->keys[kr->n];
        for (int i = 0; i < 32 && ok; i++) {
            int hi = hexval((unsigned char)hex[2 * i]), lo = hexval((unsigned char)hex[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                snprintf(errstr, errstr_size, "%s:%d: key is not hexadecimal", path, lineno);
                ok = false;
            } else {
                k->bytes[i] = (uint8_t)(hi << 4 | lo);
            }
        }
        /* lengths were checked above */
        snprintf(k->region, sizeof(k->region), "%.6s", region);
        snprintf(k->id, sizeof(k->id), "%.31s", id);
        kr->n++;
    }
    OPENSSL_cleanse(line, sizeof(line));
    fclose(f);
    if (ok && !key_all(kr)) {
        snprintf(errstr, errstr_size, "%s: could not set up HMAC-SM3 (OpenSSL's default provider)",
                 path);
        ok = false;
    }
    if (!ok) {
        mc_keyring_destroy(kr);
        return NULL;
    }
    return kr;
}

bool mc_keyring_from_config(const mc_config_t *cfg, mc_keyring_t **out, char *errstr,
                            size_t errstr_size)
{
    *out = NULL;
    if (!cfg->keys_file[0])
        return true;
    *out = mc_keyring_load(cfg->keys_file, errstr, errstr_size);
    return *out != NULL;
}

void mc_keyring_destroy(mc_keyring_t *kr)
{
    if (!kr)
        return;
    for (int i = 0; i < kr->n; i++)
        EVP_MAC_CTX_free(kr->keys[i].keyed); /* NULL: nothing */
    OPENSSL_cleanse(kr, sizeof(*kr));
    free(kr);
}

/* HMAC-SM3 of env packed with an empty signature. */
static bool mac(const sign_key_t *k, const Medclear__Envelope *env, uint8_t out[MC_SIGNATURE_SIZE])
{
    Medclear__Envelope copy = *env;
    copy.signature.len = 0;
    copy.signature.data = NULL;
    size_t len = medclear__envelope__get_packed_size(&copy);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        abort();
    medclear__envelope__pack(&copy, buf);

    bool ok = false;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(k->keyed);
    size_t out_len = 0;
    if (ctx && EVP_MAC_update(ctx, buf, len) &&
        EVP_MAC_final(ctx, out, &out_len, MC_SIGNATURE_SIZE))
        ok = out_len == MC_SIGNATURE_SIZE;
    EVP_MAC_CTX_free(ctx);
    free(buf);
    return ok;
}

bool mc_sign_envelope(const mc_keyring_t *kr, Medclear__Envelope *env,
                      uint8_t sig[MC_SIGNATURE_SIZE])
{
    for (int i = 0; i < kr->n; i++) {
        if (strcmp(kr->keys[i].region, env->source_region) != 0)
            continue;
        env->key_id = (char *)kr->keys[i].id;
        if (!mac(&kr->keys[i], env, sig))
            return false;
        env->signature.data = sig;
        env->signature.len = MC_SIGNATURE_SIZE;
        return true;
    }
    return false;
}

mc_reason_t mc_verify_envelope(const mc_keyring_t *kr, const Medclear__Envelope *env,
                               char *detail, size_t detail_size)
{
    if (env->signature.len != MC_SIGNATURE_SIZE) {
        snprintf(detail, detail_size, "bad signature: message is not signed");
        return MC_R_BAD_SIGNATURE;
    }
    for (int i = 0; i < kr->n; i++) {
        const sign_key_t *k = &kr->keys[i];
        if (strcmp(k->region, env->source_region) != 0 || strcmp(k->id, env->key_id) != 0)
            continue;
        uint8_t expect[MC_SIGNATURE_SIZE];
        if (!mac(k, env, expect)) {
            snprintf(detail, detail_size, "bad signature: could not compute HMAC-SM3");
            return MC_R_BAD_SIGNATURE;
        }
        if (CRYPTO_memcmp(expect, env->signature.data, MC_SIGNATURE_SIZE) != 0) {
            snprintf(detail, detail_size, "bad signature: does not match key %s of region %s",
                     k->id, k->region);
            return MC_R_BAD_SIGNATURE;
        }
        return MC_OK;
    }
    snprintf(detail, detail_size, "bad signature: no key \"%.31s\" for region %s", env->key_id,
             env->source_region);
    return MC_R_BAD_SIGNATURE;
}

uint8_t *mc_envelope_seal(const mc_keyring_t *kr, const Medclear__Envelope *env, size_t *len,
                          char *errstr, size_t errstr_size)
{
    Medclear__Envelope copy = *env;
    uint8_t sig[MC_SIGNATURE_SIZE];
    if (kr && !mc_sign_envelope(kr, &copy, sig)) {
        snprintf(errstr, errstr_size, "no signing key for region %s", env->source_region);
        return NULL;
    }
    return mc_envelope_pack(&copy, len);
}

mc_reason_t mc_envelope_open(const mc_keyring_t *kr, const void *bytes, size_t len,
                             size_t max_bytes, int64_t max_age_ms, int64_t now_ms,
                             Medclear__Envelope **out, char *detail, size_t detail_size)
{
    Medclear__Envelope *env = NULL;
    mc_reason_t r = mc_envelope_decode(bytes, len, max_bytes, &env, detail, detail_size);
    if (r == MC_OK && kr)
        r = mc_verify_envelope(kr, env, detail, detail_size);
    if (r == MC_OK && max_age_ms > 0 && env->created_at_ms < now_ms - max_age_ms) {
        /* in unsigned arithmetic: a creation time near INT64_MIN overflows int64_t */
        snprintf(detail, detail_size, "created %" PRIu64 " ms ago, more than %" PRId64,
                 (uint64_t)now_ms - (uint64_t)env->created_at_ms, max_age_ms);
        r = MC_R_REPLAYED;
    }
    if (r != MC_OK && env) {
        medclear__envelope__free_unpacked(env, NULL);
        env = NULL;
    }
    *out = env;
    return r;
}

void mc_sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int n = 0;
    if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) || n != 32)
        abort(); /* only on an out-of-memory inside OpenSSL */
}
