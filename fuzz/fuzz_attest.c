/*
 * Fuzz the Nitro attestation parser and verifier: every input is parsed and
 * verified against the compiled-in AWS root at a fixed time (the blocky
 * document's timestamp, so that seed reaches the success path), with a
 * policy that requires the blocky document's PCR0. Nothing may crash or
 * leak, the report must always agree with the status, and a document that
 * verifies must carry exactly that PCR0 — anything else is a verifier bug.
 */
#include <stdlib.h>
#include <string.h>

#include "attest/attest.h"
#include "fuzz.h"

static const uint8_t BLOCKY_PCR0[48] = {
    0xe7, 0x2a, 0x46, 0xca, 0x80, 0xa2, 0x60, 0xfb, 0x04, 0x4a, 0x12, 0x54,
    0x42, 0xf0, 0xc7, 0xe3, 0x31, 0x81, 0x3b, 0xcb, 0xaf, 0x97, 0x24, 0xd9,
    0xf3, 0x85, 0x77, 0x58, 0x99, 0x27, 0x66, 0xf2, 0xd6, 0x57, 0x10, 0xa2,
    0x7a, 0xa9, 0x4a, 0xe3, 0x94, 0x9d, 0xd5, 0x4e, 0x7c, 0x9f, 0xe8, 0x6a};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ccc_x509_root *root;
    if (!root && ccc_attest_aws_root(&root) != CCC_OK)
        abort();
    ccc_attest_pcr_set set;
    memset(&set, 0, sizeof set);
    if (ccc_attest_pcr_set_add(&set, 0, ccc_bytes_of(BLOCKY_PCR0, sizeof BLOCKY_PCR0)) != CCC_OK)
        abort();
    ccc_attest_policy p;
    memset(&p, 0, sizeof p);
    p.sets = &set;
    p.set_count = 1;
    p.has_time = true;
    p.at_ms = 1725719859545ULL; /* 2024-09-07T14:37:39.545Z */
    p.max_age_ms = 3600u * 1000u;

    ccc_attest_doc doc;
    ccc_attest_doc_init(&doc);
    ccc_attest_error why = CCC_ATTEST_OK;
    ccc_status st = ccc_attest_doc_parse(&doc, ccc_bytes_of(data, size), &why);
    if ((st == CCC_OK) != (why == CCC_ATTEST_OK))
        abort();
    ccc_attest_report rep;
    if (st == CCC_OK) {
        st = ccc_attest_verify(&doc, root, &p, &rep);
        if ((st == CCC_OK) != (rep.result == CCC_ATTEST_OK))
            abort();
        if (st == CCC_OK && (!doc.pcrs[0].present || doc.pcrs[0].value.size != 48 ||
                             memcmp(doc.pcrs[0].value.ptr, BLOCKY_PCR0, 48) != 0))
            abort();
    }
    /* The one-call form must agree with parse + verify. */
    ccc_status st2 = ccc_attest_verify_bytes(ccc_bytes_of(data, size), root, &p, &rep);
    if ((st == CCC_OK) != (st2 == CCC_OK))
        abort();
    ccc_attest_doc_wipe(&doc);
    return 0;
}
