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

/* The envelope's signature field: field 6 (proto/medclear.proto), length-delimited. */
#define SIGNATURE_FIELD 6
#define SIGNATURE_TAG ((SIGNATURE_FIELD << 3) | 2)

/* Reads a varint at p[*at..len) into *v. False when it runs past len or 10 bytes. */
static bool read_varint(const uint8_t *p, size_t len, size_t *at, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 70 && *at < len; shift += 7) {
        uint8_t b = p[(*at)++];
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return true;
    }
    return false;
}

/*
 * The end of the top-level field that starts at p[at] (its number in *field), or 0 when
 * the bytes are not a well-formed field (groups included: the envelope has none).
 */
static size_t field_end(const uint8_t *p, size_t len, size_t at, uint64_t *field)
{
    uint64_t tag, n;
    if (!read_varint(p, len, &at, &tag))
        return 0;
    *field = tag >> 3;
    switch (tag & 7) {
    case 0:
        return read_varint(p, len, &at, &n) ? at : 0;
    case 1:
        return len - at >= 8 ? at + 8 : 0;
    case 2:
        return read_varint(p, len, &at, &n) && n <= len - at ? at + (size_t)n : 0;
    case 5:
        return len - at >= 4 ? at + 4 : 0;
    default:
        return 0;
    }
}

/*
 * HMAC-SM3 by key k of the packed envelope p[0..len) less every signature field in it:
 * what the sender packed and signed before it added the signature, in the order it
 * sent it. Verifying from the bytes received saves packing the decoded envelope again.
 * False when the bytes are not well-formed fields or OpenSSL fails.
 */
static bool mac(const sign_key_t *k, const uint8_t *p, size_t len, uint8_t out[MC_SIGNATURE_SIZE])
{
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(k->keyed);
    bool ok = ctx != NULL;
    size_t from = 0, at = 0;
    while (ok && at < len) {
        uint64_t field;
        size_t end = field_end(p, len, at, &field);
        ok = end > at;
        if (ok && field == SIGNATURE_FIELD) {
            ok = EVP_MAC_update(ctx, p + from, at - from);
            from = end;
        }
        at = end;
    }
    size_t out_len = 0;
    ok = ok && EVP_MAC_update(ctx, p + from, len - from) &&
         EVP_MAC_final(ctx, out, &out_len, MC_SIGNATURE_SIZE) && out_len == MC_SIGNATURE_SIZE;
    EVP_MAC_CTX_free(ctx);
    return ok;
}

/* The signing key of region, or NULL. */
static const sign_key_t *signing_key(const mc_keyring_t *kr, const char *region)
{
    for (int i = 0; i < kr->n; i++)
        if (strcmp(kr->keys[i].region, region) == 0)
            return &kr->keys[i];
    return NULL;
}

/*
 * Packs env signed by k into a malloc'd buffer (caller frees), the signature also in sig.
 * The envelope is packed once, without a signature: its MAC is taken over those bytes and
 * the signature field is put in among them where protobuf-c would have packed it (before
 * the first field numbered after it), so the bytes are the same as packing the signed
 * envelope. NULL when OpenSSL fails.
 */
static uint8_t *pack_signed(const sign_key_t *k, const Medclear__Envelope *env, size_t *len,
                            uint8_t sig[MC_SIGNATURE_SIZE])
{
    Medclear__Envelope copy = *env;
    copy.signature.len = 0;
    copy.signature.data = NULL;
    copy.key_id = (char *)k->id;
    size_t n = medclear__envelope__get_packed_size(&copy);
    uint8_t *buf = malloc(n + 2 + MC_SIGNATURE_SIZE);
    if (!buf)
        abort();
    medclear__envelope__pack(&copy, buf);
    if (!mac(k, buf, n, sig)) {
        free(buf);
        return NULL;
    }
    size_t at = 0;
    while (at < n) {
        uint64_t field;
        size_t end = field_end(buf, n, at, &field);
        if (end == 0 || field > SIGNATURE_FIELD)
            break; /* protobuf-c's own output is well-formed: never end == 0 */
        at = end;
    }
    memmove(buf + at + 2 + MC_SIGNATURE_SIZE, buf + at, n - at);
    buf[at] = SIGNATURE_TAG;
    buf[at + 1] = MC_SIGNATURE_SIZE;
    memcpy(buf + at + 2, sig, MC_SIGNATURE_SIZE);
    *len = n + 2 + MC_SIGNATURE_SIZE;
    return buf;
}

bool mc_sign_envelope(const mc_keyring_t *kr, Medclear__Envelope *env,
                      uint8_t sig[MC_SIGNATURE_SIZE])
{
    const sign_key_t *k = signing_key(kr, env->source_region);
    size_t len;
    uint8_t *packed = k ? pack_signed(k, env, &len, sig) : NULL;
    if (!packed)
        return false;
    free(packed);
    env->key_id = (char *)k->id;
    env->signature.data = sig;
    env->signature.len = MC_SIGNATURE_SIZE;
    return true;
}

mc_reason_t mc_verify_envelope(const mc_keyring_t *kr, const Medclear__Envelope *env,
                               const void *bytes, size_t len, char *detail, size_t detail_size)
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
        if (!mac(k, bytes, len, expect)) {
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
    if (!kr)
        return mc_envelope_pack(env, len);
    const sign_key_t *k = signing_key(kr, env->source_region);
    if (!k) {
        snprintf(errstr, errstr_size, "no signing key for region %s", env->source_region);
        return NULL;
    }
    uint8_t sig[MC_SIGNATURE_SIZE];
    uint8_t *buf = pack_signed(k, env, len, sig);
    if (!buf)
        snprintf(errstr, errstr_size, "could not compute HMAC-SM3 for region %s",
                 env->source_region);
    return buf;
}

mc_reason_t mc_envelope_open(const mc_keyring_t *kr, const void *bytes, size_t len,
                             size_t max_bytes, int64_t max_age_ms, int64_t now_ms,
                             Medclear__Envelope **out, char *detail, size_t detail_size)
{
    Medclear__Envelope *env = NULL;
    mc_reason_t r = mc_envelope_decode(bytes, len, max_bytes, &env, detail, detail_size);
    if (r == MC_OK && kr)
        r = mc_verify_envelope(kr, env, bytes, len, detail, detail_size);
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
