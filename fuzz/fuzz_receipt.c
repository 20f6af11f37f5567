/*
 * Receipt parser and signature check with a fixed Ed25519 key (the seeds
 * are signed with it, so mutations reach the verifier). Whatever parses
 * must re-encode to exactly its payload (one encoding per receipt).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "fuzz.h"
#include "receipt/receipt.h"

/* Private key = 32 bytes of 0x42 (the seed corpus was signed with it). */
static EVP_PKEY *fixed_key(void)
{
    static EVP_PKEY *key;
    if (!key) {
        uint8_t seed[32];
        memset(seed, 0x42, sizeof seed);
        key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof seed);
        if (!key)
            abort();
    }
    return key;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ccc_receipt_msg m;
    ccc_receipt_msg_init(&m);
    if (ccc_receipt_parse(&m, ccc_bytes_of(data, size)) == CCC_OK) {
        ccc_buf re;
        ccc_buf_init(&re, CCC_RECEIPT_MAX_SIZE);
        if (ccc_receipt_encode(&m.receipt, &re) != CCC_OK || re.size != m.cose.payload.size ||
            memcmp(re.data, m.cose.payload.ptr, re.size) != 0)
            abort();
        ccc_status st = ccc_receipt_verify_signature(&m, fixed_key());
        if (st != CCC_OK && st != CCC_ERR_CRYPTO)
            abort();
        ccc_buf_wipe(&re);
    }
    ccc_receipt_msg_wipe(&m);
    return 0;
}
