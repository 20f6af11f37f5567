/*
 * The enclave side of kms key release. The first input byte picks a mode:
 *   0  the rest is a release PLAINTEXT: it is HPKE-sealed to a fixed key
 *      here, so mutations reach the strict CBOR decoder behind the AEAD;
 *   1  the rest is a sealed key_response body, opened with the fixed key;
 *   2  the rest is a signed kms config, verified with a fixed Ed25519 key;
 *   3  the rest is a config PAYLOAD: signed here with that key, so
 *      mutations reach the config decoder behind the signature.
 * Whatever opens must hold 1..2 keys with distinct ids.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cose/cose.h"
#include "fuzz.h"
#include "kms/kms.h"

static const uint8_t fixed_sk[32] = {0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
                                     0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
                                     0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
                                     0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42};

static EVP_PKEY *config_key(void)
{
    static EVP_PKEY *key;
    if (!key) {
        key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, fixed_sk, 32);
        if (!key)
            abort();
    }
    return key;
}

static void check_opened(ccc_status st, const ccc_kms_released *r)
{
    if (st != CCC_OK)
        return;
    if (r->count < 1 || r->count > CCC_KMS_MAX_LIVE)
        abort();
    if (r->count == 2 && r->keys[0].id == r->keys[1].id)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    ccc_bytes rest = ccc_bytes_of(data + 1, size - 1);
    ccc_kms_released r;
    if (mode == 0) {
        if (rest.size > 512)
            return 0;
        ccc_hpke_keypair kp;
        if (ccc_hpke_keypair_from_private(&kp, fixed_sk) != CCC_OK)
            abort();
        uint8_t sealed[32 + 512 + 16];
        size_t n = 0;
        ccc_hpke_suite suite = {CCC_HPKE_KEM_X25519_SHA256, CCC_HPKE_KDF_HKDF_SHA256,
                                CCC_HPKE_AEAD_AES_256_GCM};
        ccc_hpke_setup_opts o = ccc_hpke_opts_base(
            ccc_bytes_of(CCC_KMS_RELEASE_INFO, strlen(CCC_KMS_RELEASE_INFO)));
        if (ccc_hpke_seal(suite, kp.pk, &o, ccc_bytes_of(NULL, 0), rest.ptr, rest.size, sealed,
                          sealed + 32, sizeof sealed - 32, &n) != CCC_OK)
            abort();
        check_opened(ccc_kms_release_open(ccc_bytes_of(sealed, 32 + n), fixed_sk, &r), &r);
        ccc_kms_released_wipe(&r);
        ccc_hpke_keypair_wipe(&kp);
    } else if (mode == 1) {
        check_opened(ccc_kms_release_open(rest, fixed_sk, &r), &r);
        ccc_kms_released_wipe(&r);
    } else if (mode == 2 || mode == 3) {
        ccc_buf signed_cfg;
        ccc_buf_init(&signed_cfg, 2 * CCC_KMS_MAX_CONFIG_SIZE);
        if (mode == 3) {
            if (ccc_cose_sign1_sign(config_key(), NULL, rest, &signed_cfg) != CCC_OK) {
                ccc_buf_wipe(&signed_cfg);
                return 0;
            }
            rest = ccc_buf_bytes(&signed_cfg);
        }
        ccc_kms_config c;
        ccc_status st = ccc_kms_config_verify(rest, config_key(), &c);
        if (st == CCC_OK && (c.key_count < 1 || c.key_count > CCC_KMS_MAX_LIVE))
            abort();
        ccc_buf_wipe(&signed_cfg);
    }
    return 0;
}
