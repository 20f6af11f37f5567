/*
 * Fuzz the policy bundle reader: each input is read both as a whole bundle
 * (COSE_Sign1 envelope, signature not checked) and as a bare payload. The
 * payload is canonical CBOR, so anything that decodes must re-encode to
 * exactly the same bytes — otherwise two encodings of one policy exist and
 * the policy hash is not unique.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "policy/policy.h"

static void roundtrip(ccc_bytes payload, const ccc_policy *p)
{
    ccc_buf again;
    ccc_buf_init(&again, CCC_POLICY_MAX_BUNDLE_SIZE);
    if (ccc_policy_encode(p, &again) != CCC_OK || again.size != payload.size ||
        memcmp(again.data, payload.ptr, payload.size) != 0)
        abort();
    ccc_buf_wipe(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ccc_policy p; /* large: keep it off the stack */
    ccc_bytes in = ccc_bytes_of(data, size);
    /* A bundle that opens has passed every policy rule (version >= 1, ...). */
    if (ccc_policy_peek(in, &p) == CCC_OK && (p.version == 0 || p.set_count == 0))
        abort();
    if (ccc_policy_decode(in, &p) == CCC_OK)
        roundtrip(in, &p);
    return 0;
}
