/*
 * Fuzz COSE_Sign1 parsing and verification. Every input that parses is
 * verified against fixed keys: the P-384 key of the cose-wg ecdsa-sig-02
 * example (so that seed reaches the success path), a fixed Ed25519 key,
 * and, when the payload is a Nitro attestation map, the public key of its
 * `certificate` (so the real documents verify too). Nothing may crash, leak
 * or verify a message it should not: a success with the Ed25519 key is
 * impossible for inputs we did not sign, so it aborts.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cbor/cbor.h"
#include "cose/cose.h"
#include "fuzz.h"

/* ecdsa-sig-02 public key (uncompressed point). */
static const uint8_t P384_PUB[97] = {
    0x04, 0x91, 0x32, 0x72, 0x3f, 0x62, 0x92, 0xb0, 0x10, 0x61, 0x9d, 0xbe,
    0x24, 0x8d, 0x69, 0x8c, 0x17, 0xb5, 0x87, 0x56, 0xc6, 0x39, 0xe7, 0x15,
    0x0f, 0x81, 0xbe, 0xe4, 0xeb, 0x8a, 0xc3, 0x72, 0x36, 0xad, 0x0a, 0x1a,
    0x19, 0xd6, 0x7b, 0xe3, 0x2a, 0x66, 0x26, 0x3e, 0x1e, 0x52, 0x4d, 0x12,
    0x9c, 0x98, 0xcd, 0x30, 0x78, 0xc5, 0x54, 0xd8, 0x32, 0xac, 0x60, 0x3c,
    0x43, 0x26, 0x41, 0x0f, 0xf6, 0x16, 0x62, 0x45, 0x9b, 0x41, 0xf1, 0xf3,
    0xdf, 0x5d, 0xbc, 0xc8, 0x35, 0x98, 0xff, 0x7c, 0x5e, 0xd8, 0x41, 0x1c,
    0xa7, 0x35, 0x67, 0x9d, 0x1c, 0x4c, 0xb3, 0x00, 0x93, 0x97, 0xd9, 0xef,
    0x2c};

static EVP_PKEY *p384_key(void)
{
    static EVP_PKEY *key;
    if (key)
        return key;
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-384", 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)P384_PUB,
                                sizeof P384_PUB),
        OSSL_PARAM_END};
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
        abort();
    EVP_PKEY_CTX_free(ctx);
    return key;
}

static EVP_PKEY *ed25519_key(void)
{
    static EVP_PKEY *key;
    static const uint8_t pub[32] = {
        /* RFC 8032 §7.1 TEST 1 public key */
        0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe,
        0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6,
        0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a};
    if (!key)
        key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub,
                                          sizeof pub);
    if (!key)
        abort();
    return key;
}

/* The key of the payload's `certificate`, if it has one. */
static EVP_PKEY *certificate_key(ccc_bytes payload)
{
    EVP_PKEY *key = NULL;
    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    const ccc_cbor_item *cert;
    ccc_bytes der;
    if (ccc_cbor_decode(&doc, payload, NULL, 0) == CCC_OK &&
        ccc_cbor_map_get_text(ccc_cbor_doc_root(&doc), "certificate", &cert) ==
            CCC_OK &&
        ccc_cbor_get_bytes(cert, &der) == CCC_OK) {
        const uint8_t *p = der.ptr;
        X509 *x = d2i_X509(NULL, &p, (long)der.size);
        if (x)
            key = X509_get_pubkey(x);
        X509_free(x);
    }
    ccc_cbor_doc_wipe(&doc);
    return key;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ccc_cose_sign1 msg;
    ccc_cose_sign1_init(&msg);
    ccc_bytes none = ccc_bytes_of(NULL, 0);
    ccc_bytes detached = ccc_bytes_of("detached", 8);
    const ccc_bytes *dp = NULL;
    if (ccc_cose_sign1_parse(&msg, ccc_bytes_of(data, size), NULL) != CCC_OK)
        goto out;
    if (!msg.unprotected_map || !ccc_cose_alg_name(msg.alg))
        abort(); /* parse promised both */
    if (msg.detached)
        dp = &detached;
    const ccc_cbor_item *h;
    (void)(ccc_cose_sign1_header(&msg, CCC_COSE_HDR_KID, &h) == CCC_OK);
    (void)(ccc_cose_sign1_verify(&msg, p384_key(), none, dp) == CCC_OK);
    if (ccc_cose_sign1_verify(&msg, ed25519_key(), none, dp) == CCC_OK)
        abort(); /* nobody has this private key in the corpus */
    EVP_PKEY *ck = certificate_key(msg.payload);
    if (ck) {
        (void)(ccc_cose_sign1_verify(&msg, ck, none, dp) == CCC_OK);
        EVP_PKEY_free(ck);
    }
out:
    ccc_cose_sign1_wipe(&msg);
    return 0;
}
