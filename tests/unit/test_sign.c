/*
 * Envelope signatures (mc_sign.c): a signature is HMAC-SM3, by the source region's key,
 * of the envelope packed with an empty signature, as OpenSSL's one-shot EVP_Q_mac()
 * computes it from the key bytes; every message starts from the key alone (signing the
 * same envelope twice, with another in between, gives the same signature); a signed
 * envelope opens, and one changed after signing, or signed with another region's key,
 * does not. Sealing gives the bytes of the signed envelope packed whole, and a receiver
 * checks the bytes it received less their signature fields, wherever they stand (the
 * last one is the signature). A key file's errors are named.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "mc_bus.h"
#include "mc_sign.h"

static const char KEY_310000[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char KEY_320000[] = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

/* Writes text to a temporary file; its path goes to path (PATH_MAX-sized). */
static void key_file(char *path, size_t size, const char *text)
{
    snprintf(path, size, "/tmp/test_sign.XXXXXX");
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

static mc_keyring_t *load(const char *text, char *err, size_t size)
{
    char path[64];
    key_file(path, sizeof(path), text);
    mc_keyring_t *kr = mc_keyring_load(path, err, size);
    unlink(path);
    return kr;
}

/* Shanghai's key k1 and Jiangsu's k2. */
static mc_keyring_t *demo_keyring(void)
{
    char err[256], text[256];
    snprintf(text, sizeof(text), "# demo keys\n310000 k1 %s\n320000 k2 %s\n", KEY_310000,
             KEY_320000);
    mc_keyring_t *kr = load(text, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(kr);
    return kr;
}

static void envelope(Medclear__Envelope *env, Medclear__ClearingEvent *ev, char id[33],
                     const char *memo)
{
    mc_envelope_init(env, id, "310000", "trace-1");
    medclear__clearing_event__init(ev);
    ev->event_type = (char *)"TEST";
    ev->detail = (char *)memo;
    env->body_case = MEDCLEAR__ENVELOPE__BODY_EVENT;
    env->event = ev;
}

static void test_signature_is_hmac_sm3(void)
{
    char err[256], text[256];
    mc_keyring_t *kr = demo_keyring();

    Medclear__Envelope env;
    Medclear__ClearingEvent ev;
    char id[33];
    envelope(&env, &ev, id, "a memo of some length to sign");
    uint8_t sig[MC_SIGNATURE_SIZE], again[MC_SIGNATURE_SIZE], other[MC_SIGNATURE_SIZE];
    Medclear__Envelope copy = env;
    CU_ASSERT_FATAL(mc_sign_envelope(kr, &copy, sig));
    CU_ASSERT_STRING_EQUAL(copy.key_id, "k1");

    /* the same MAC from OpenSSL's one-shot interface, given the key bytes */
    uint8_t key[32];
    for (int i = 0; i < 32; i++)
        sscanf(KEY_310000 + 2 * i, "%2hhx", &key[i]);
    Medclear__Envelope unsigned_copy = copy;
    unsigned_copy.signature.len = 0;
    unsigned_copy.signature.data = NULL;
    size_t len = medclear__envelope__get_packed_size(&unsigned_copy);
    uint8_t *packed = malloc(len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(packed);
    medclear__envelope__pack(&unsigned_copy, packed);
    uint8_t expect[64];
    size_t expect_len = 0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(EVP_Q_mac(NULL, "HMAC", NULL, "SM3", NULL, key, sizeof(key),
                                           packed, len, expect, sizeof(expect), &expect_len));
    CU_ASSERT_EQUAL(expect_len, MC_SIGNATURE_SIZE);
    CU_ASSERT_EQUAL(memcmp(expect, sig, MC_SIGNATURE_SIZE), 0);
    free(packed);

    /* another message in between leaves nothing behind */
    Medclear__Envelope env2;
    Medclear__ClearingEvent ev2;
    char id2[33];
    envelope(&env2, &ev2, id2, "another memo");
    Medclear__Envelope copy2 = env2;
    CU_ASSERT_FATAL(mc_sign_envelope(kr, &copy2, other));
    CU_ASSERT_NOT_EQUAL(memcmp(other, sig, MC_SIGNATURE_SIZE), 0);
    copy = env;
    CU_ASSERT_FATAL(mc_sign_envelope(kr, &copy, again));
    CU_ASSERT_EQUAL(memcmp(again, sig, MC_SIGNATURE_SIZE), 0);

    /* sealed, it opens; changed after signing, it does not */
    size_t n;
    uint8_t *bytes = mc_envelope_seal(kr, &env, &n, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(bytes);
    Medclear__Envelope *opened = NULL;
    char detail[256];
    CU_ASSERT_EQUAL(mc_envelope_open(kr, bytes, n, 1 << 20, 0, 0, &opened, detail, sizeof(detail)),
                    MC_OK);
    medclear__envelope__free_unpacked(opened, NULL);
    uint8_t *memo = memmem(bytes, n, "memo", 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(memo);
    memo[0] = 'M';
    opened = NULL;
    CU_ASSERT_EQUAL(mc_envelope_open(kr, bytes, n, 1 << 20, 0, 0, &opened, detail, sizeof(detail)),
                    MC_R_BAD_SIGNATURE);
    CU_ASSERT_PTR_NULL(opened);
    CU_ASSERT_PTR_NOT_NULL(strstr(detail, "does not match key k1 of region 310000"));
    free(bytes);

    /* signed with Jiangsu's key under Shanghai's key id: a forgery */
    snprintf(text, sizeof(text), "310000 k1 %s\n", KEY_320000);
    mc_keyring_t *forger = load(text, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(forger);
    bytes = mc_envelope_seal(forger, &env, &n, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(bytes);
    CU_ASSERT_EQUAL(mc_envelope_open(kr, bytes, n, 1 << 20, 0, 0, &opened, detail, sizeof(detail)),
                    MC_R_BAD_SIGNATURE);
    free(bytes);
    mc_keyring_destroy(forger);

    /* a region without a key cannot sign */
    env.source_region = (char *)"330000";
    CU_ASSERT_PTR_NULL(mc_envelope_seal(kr, &env, &n, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no signing key for region 330000"));
    mc_keyring_destroy(kr);
    mc_keyring_destroy(NULL);
}

/* Where the signature field holding sig (field 6: tag, length, 32 bytes) starts in
 * bytes[0..n). */
static size_t signature_at(const uint8_t *bytes, size_t n, const uint8_t sig[MC_SIGNATURE_SIZE])
{
    const uint8_t *s = memmem(bytes, n, sig, MC_SIGNATURE_SIZE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_FATAL(s - bytes >= 2 && s[-2] == 0x32 && s[-1] == MC_SIGNATURE_SIZE);
    return (size_t)(s - bytes) - 2;
}

static void test_signature_over_bytes_received(void)
{
    char err[256], detail[256];
    mc_keyring_t *kr = demo_keyring();
    Medclear__Envelope env;
    Medclear__ClearingEvent ev;
    char id[33];
    envelope(&env, &ev, id, "a memo of some length to sign");

    /* sealing packs once and puts the signature in: the bytes of the signed envelope */
    size_t n, want_len;
    uint8_t *bytes = mc_envelope_seal(kr, &env, &n, err, sizeof(err));
    CU_ASSERT_PTR_NOT_NULL_FATAL(bytes);
    Medclear__Envelope copy = env;
    uint8_t sig[MC_SIGNATURE_SIZE];
    CU_ASSERT_FATAL(mc_sign_envelope(kr, &copy, sig));
    uint8_t *want = mc_envelope_pack(&copy, &want_len);
    CU_ASSERT_EQUAL_FATAL(n, want_len);
    CU_ASSERT_EQUAL(memcmp(bytes, want, n), 0);
    free(want);

    /* the signature field moved to the end, as another encoder may send it: still opens */
    size_t at = signature_at(bytes, n, sig);
    uint8_t *moved = malloc(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(moved);
    memcpy(moved, bytes, at);
    memcpy(moved + at, bytes + at + 2 + MC_SIGNATURE_SIZE, n - at - 2 - MC_SIGNATURE_SIZE);
    memcpy(moved + n - 2 - MC_SIGNATURE_SIZE, bytes + at, 2 + MC_SIGNATURE_SIZE);
    Medclear__Envelope *opened = NULL;
    CU_ASSERT_EQUAL(mc_envelope_open(kr, moved, n, 1 << 20, 0, 0, &opened, detail, sizeof(detail)),
                    MC_OK);
    CU_ASSERT_PTR_NOT_NULL(opened);
    if (opened)
        CU_ASSERT_STRING_EQUAL(opened->event->detail, "a memo of some length to sign");
    medclear__envelope__free_unpacked(opened, NULL);
    free(moved);

    /* a field added after signing (one the decoder does not know, field 9) is refused */
    uint8_t *longer = malloc(n + 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(longer);
    memcpy(longer, bytes, n);
    longer[n] = 9 << 3; /* field 9, varint */
    longer[n + 1] = 1;
    opened = NULL;
    CU_ASSERT_EQUAL(
        mc_envelope_open(kr, longer, n + 2, 1 << 20, 0, 0, &opened, detail, sizeof(detail)),
        MC_R_BAD_SIGNATURE);
    CU_ASSERT_PTR_NULL(opened);
    free(longer);

    /* a second signature field in front: both are left out of the MAC, the last one
     * counts (protobuf's rule), so a wrong one in front is harmless and a wrong one last
     * is refused */
    uint8_t *two = malloc(n + 2 + MC_SIGNATURE_SIZE);
    CU_ASSERT_PTR_NOT_NULL_FATAL(two);
    two[0] = 0x32;
    two[1] = MC_SIGNATURE_SIZE;
    memset(two + 2, 0xab, MC_SIGNATURE_SIZE);
    memcpy(two + 2 + MC_SIGNATURE_SIZE, bytes, n);
    CU_ASSERT_EQUAL(mc_envelope_open(kr, two, n + 2 + MC_SIGNATURE_SIZE, 1 << 20, 0, 0, &opened,
                                     detail, sizeof(detail)),
                    MC_OK);
    medclear__envelope__free_unpacked(opened, NULL);
    opened = NULL;
    memcpy(two, bytes + at, 2 + MC_SIGNATURE_SIZE);
    memcpy(two + 2 + MC_SIGNATURE_SIZE, bytes, n);
    memset(two + 2 + MC_SIGNATURE_SIZE + at + 2, 0xab, MC_SIGNATURE_SIZE);
    CU_ASSERT_EQUAL(mc_envelope_open(kr, two, n + 2 + MC_SIGNATURE_SIZE, 1 << 20, 0, 0, &opened,
                                     detail, sizeof(detail)),
                    MC_R_BAD_SIGNATURE);
    CU_ASSERT_PTR_NULL(opened);
    free(two);
    free(bytes);
    mc_keyring_destroy(kr);
}

static void test_key_file_errors(void)
{
    char err[256];
    CU_ASSERT_PTR_NULL(load("310000 k1 0011\n", err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, ":1: expected \"<6-digit region> <key id> <64 hex digits>\""));
    char text[256];
    snprintf(text, sizeof(text), "\n310000 k1 %.62szz\n", KEY_310000);
    CU_ASSERT_PTR_NULL(load(text, err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, ":2: key is not hexadecimal"));
    CU_ASSERT_PTR_NULL(mc_keyring_load("/nonexistent/keys", err, sizeof(err)));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "could not open key file \"/nonexistent/keys\""));
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite suite = CU_add_suite("sign", NULL, NULL);
    if (!suite || !CU_add_test(suite, "a signature is HMAC-SM3 of the packed envelope",
                               test_signature_is_hmac_sm3) ||
        !CU_add_test(suite, "a signature is checked over the bytes received",
                     test_signature_over_bytes_received) ||
        !CU_add_test(suite, "a key file's errors are named", test_key_file_errors)) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed == 0 ? 0 : 1;
}
