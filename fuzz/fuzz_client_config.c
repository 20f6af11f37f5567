/*
 * Fuzz the client's reader of GET /v1/config (docs/protocol.md §11): strict
 * JSON with exactly the keys v, kms_config, policy, attestations, and strict
 * base64. Oracles: whatever parses stays within the caps; and the same
 * input read as bare base64, if it decodes, is the one canonical encoding
 * of what it decoded to (re-encoding gives back exactly the input).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "client/client.h"
#include "fuzz.h"

static void base64_roundtrip(ccc_bytes in)
{
    ccc_buf out;
    ccc_buf_init(&out, 1u << 20);
    if (ccc_client_base64_decode(in, &out) == CCC_OK) {
        size_t n = 4 * ((out.size + 2) / 3);
        unsigned char *again = malloc(n + 1);
        if (!again)
            abort();
        int m = EVP_EncodeBlock(again, out.data ? out.data : (const uint8_t *)"", (int)out.size);
        if (m < 0 || (size_t)m != in.size || memcmp(again, in.ptr, in.size) != 0)
            abort();
        free(again);
    }
    ccc_buf_wipe(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ccc_client_config_json c; /* large: keep it off the stack */
    ccc_bytes in = ccc_bytes_of(data, size);
    ccc_client_config_json_init(&c);
    if (ccc_client_config_json_parse(in, &c) == CCC_OK) {
        if (c.attestation_count > CCC_CLIENT_MAX_ATTESTATIONS ||
            c.kms_config.size > CCC_KMS_MAX_CONFIG_SIZE ||
            c.policy.size > CCC_POLICY_MAX_BUNDLE_SIZE)
            abort();
        for (size_t i = 0; i < c.attestation_count; i++)
            if (c.attestations[i].size > CCC_ATTEST_MAX_DOC_SIZE)
                abort();
    }
    ccc_client_config_json_wipe(&c);
    if (size <= 4096)
        base64_roundtrip(in);
    return 0;
}
