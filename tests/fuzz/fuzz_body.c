/*
 * Fuzz target: one message body, as the bytes of that message alone (the envelope's
 * decoding is fuzz_envelope's), built once per body type: MC_FUZZ_BODY_REQUEST, _CLAIM,
 * _RESULT, _REPLY or _EVENT. What decodes is run through the checks the receiving
 * service applies (mc_msg.h) and must pack back to bytes that decode and pack the same
 * again: the signature check re-packs what it decoded, so the encoding must be stable.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mc_bus.h"
#include "mc_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Packs m, unpacks and packs again; the two encodings must be equal. Bodies with a
 * field numbered 0 are refused with their envelope (mc_envelope_decode). */
static void check_stable(const ProtobufCMessage *m)
{
    if (!mc_bus_field_numbers_valid(m))
        return;
    size_t n1 = protobuf_c_message_get_packed_size(m);
    uint8_t *b1 = malloc(n1 ? n1 : 1);
    if (!b1)
        abort();
    protobuf_c_message_pack(m, b1);
    ProtobufCMessage *m2 = protobuf_c_message_unpack(m->descriptor, NULL, n1, b1);
    if (!m2) {
        fprintf(stderr, "fuzz_body: a packed %s does not decode\n", m->descriptor->name);
        abort();
    }
    size_t n2 = protobuf_c_message_get_packed_size(m2);
    uint8_t *b2 = malloc(n2 ? n2 : 1);
    if (!b2)
        abort();
    protobuf_c_message_pack(m2, b2);
    if (n1 != n2 || memcmp(b1, b2, n1) != 0) {
        fprintf(stderr, "fuzz_body: %s packs differently after a round trip\n",
                m->descriptor->name);
        abort();
    }
    free(b2);
    protobuf_c_message_free_unpacked(m2, NULL);
    free(b1);
}

/* The text a check writes must be a terminated string (it goes into a reply or a DLQ
 * header). */
__attribute__((unused)) static void check_text(mc_reason_t r, const char *text, size_t size)
{
    if (r != MC_OK && strnlen(text, size) == size)
        abort();
    (void)mc_reason_code(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[320] = "";
    mc_reason_t r;
#if defined(MC_FUZZ_BODY_REQUEST)
    Medclear__SettlementRequest *req = medclear__settlement_request__unpack(NULL, size, data);
    if (!req)
        return 0;
    /* as received on the intake topic of the request's own region and of another */
    r = mc_msg_check_request(req, req->treating_region, text, sizeof(text));
    check_text(r, text, sizeof(text));
    r = mc_msg_check_request(req, "310000", text, sizeof(text));
    check_text(r, text, sizeof(text));
    (void)mc_kind_code(req->kind);
    (void)mc_visit_code(req->visit_type);
    check_stable(&req->base);
    medclear__settlement_request__free_unpacked(req, NULL);
#elif defined(MC_FUZZ_BODY_CLAIM)
    Medclear__Claim *c = medclear__claim__unpack(NULL, size, data);
    if (!c)
        return 0;
    r = mc_msg_check_claim(c, text, sizeof(text));
    check_text(r, text, sizeof(text));
    (void)mc_kind_code(c->kind);
    (void)mc_visit_code(c->visit_type);
    check_stable(&c->base);
    medclear__claim__free_unpacked(c, NULL);
#elif defined(MC_FUZZ_BODY_RESULT)
    Medclear__ClaimResult *res = medclear__claim_result__unpack(NULL, size, data);
    if (!res)
        return 0;
    /* against its own totals (the recorded claim's total in the services) and others */
    int64_t totals[] = {res->totals ? res->totals->total_fen : 0, 0, -1, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++) {
        r = mc_msg_check_result(res, totals[i], text, sizeof(text));
        check_text(r, text, sizeof(text));
    }
    (void)mc_msg_result_status(res, true);
    (void)mc_msg_result_status(res, false);
    (void)mc_reason_from_code(res->reason_code);
    check_stable(&res->base);
    medclear__claim_result__free_unpacked(res, NULL);
#elif defined(MC_FUZZ_BODY_REPLY)
    Medclear__SettlementReply *rep = medclear__settlement_reply__unpack(NULL, size, data);
    if (!rep)
        return 0;
    (void)mc_kind_code(rep->kind);
    (void)mc_reason_from_code(rep->reason_code);
    check_stable(&rep->base);
    medclear__settlement_reply__free_unpacked(rep, NULL);
#elif defined(MC_FUZZ_BODY_EVENT)
    Medclear__ClearingEvent *ev = medclear__clearing_event__unpack(NULL, size, data);
    if (!ev)
        return 0;
    check_stable(&ev->base);
    medclear__clearing_event__free_unpacked(ev, NULL);
#else
#error "define one of MC_FUZZ_BODY_REQUEST, _CLAIM, _RESULT, _REPLY, _EVENT"
#endif
    (void)r;
    (void)text;
    return 0;
}
