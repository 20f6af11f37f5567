/*
 * OHTTP (RFC 9458) decapsulation under attack. The first byte picks what
 * the rest of the input is:
 *   0  an encapsulated request, for a gateway holding the RFC 9458
 *      Appendix A key (key id 1) and a second key (id 2, all AEADs); when it
 *      opens, the gateway also answers it
 *   1  an encapsulated response, for a client that sent the RFC example
 *      request (fixed ephemeral key, so the RFC response is a valid seed)
 *   2  an application/ohttp-keys list (§3.2)
 *   3  one key config (§3.1), re-encoded when it decodes
 * Seeds (fuzz/corpus/ohttp/) include the RFC example request and response.
 */
#include <string.h>

#include "fuzz.h"
#include "ohttp/ohttp.h"

/* RFC 9458 Appendix A: gateway secret key and client ephemeral secret key. */
static const uint8_t rfc_sk_r[32] = {
    0x3c, 0x16, 0x89, 0x75, 0x67, 0x4b, 0x2f, 0xa8, 0xe4, 0x65, 0x97, 0x0b, 0x79, 0xc8, 0xdc, 0xf0,
    0x9f, 0x1c, 0x74, 0x16, 0x26, 0x48, 0x0b, 0xd4, 0xc6, 0x16, 0x2f, 0xc5, 0xb6, 0xa9, 0x8e, 0x1a};
static const uint8_t rfc_sk_e[32] = {
    0xbc, 0x51, 0xd5, 0xe9, 0x30, 0xbd, 0xa2, 0x65, 0x89, 0x89, 0x0a, 0xc7, 0x03, 0x2f, 0x70, 0xad,
    0x12, 0xe4, 0xec, 0xb3, 0x7a, 0xbb, 0x1b, 0x65, 0xb1, 0x25, 0x6c, 0x9c, 0x48, 0x99, 0x9c, 0x73};
/* The example's binary-HTTP request "GET https://example.com/". */
static const uint8_t rfc_request[] = {0x00, 0x03, 0x47, 0x45, 0x54, 0x05, 0x68, 0x74, 0x74,
                                      0x70, 0x73, 0x0b, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c,
                                      0x65, 0x2e, 0x63, 0x6f, 0x6d, 0x01, 0x2f};

static const ccc_ohttp_symmetric_alg rfc_algs[] = {{1, 1}, {1, 3}};
static const ccc_ohttp_symmetric_alg all_algs[] = {{1, 1}, {1, 2}, {1, 3}};

static bool setup_keys(ccc_ohttp_gateway_key keys[2])
{
    ccc_hpke_keypair kp;
    bool ok = ccc_hpke_keypair_from_private(&kp, rfc_sk_r) == CCC_OK &&
              ccc_ohttp_gateway_key_init(&keys[0], 1, &kp, rfc_algs, 2) == CCC_OK &&
              ccc_ohttp_gateway_key_init(&keys[1], 2, &kp, all_algs, 3) == CCC_OK;
    ccc_hpke_keypair_wipe(&kp);
    return ok;
}

static void fuzz_request(const ccc_ohttp_gateway_key keys[2], const uint8_t *data, size_t size)
{
    static uint8_t out[1 << 16], resp[1 << 16];
    ccc_ohttp_ctx gw;
    size_t n, m;
    ccc_ohttp_ctx_init(&gw);
    if (ccc_ohttp_request_decapsulate(&gw, keys, 2, data, size, out, sizeof out, &n) == CCC_OK) {
        if (ccc_ohttp_response_encapsulate(&gw, out, n, resp, sizeof resp, &m) != CCC_OK)
            __builtin_trap(); /* a decapsulated request can always be answered */
    }
    ccc_ohttp_ctx_wipe(&gw);
}

static void fuzz_response(const uint8_t *data, size_t size)
{
    static uint8_t out[1 << 16];
    uint8_t wire[128];
    ccc_ohttp_key_config cfg;
    ccc_hpke_keypair kp_r, eph;
    ccc_ohttp_ctx client;
    size_t n;
    ccc_ohttp_ctx_init(&client);
    memset(&cfg, 0, sizeof cfg);
    ccc_hpke_suite suite = {CCC_HPKE_KEM_X25519_SHA256, 1, 1};
    if (ccc_hpke_keypair_from_private(&kp_r, rfc_sk_r) != CCC_OK ||
        ccc_hpke_keypair_from_private(&eph, rfc_sk_e) != CCC_OK)
        __builtin_trap();
    cfg.key_id = 1;
    cfg.kem_id = CCC_HPKE_KEM_X25519_SHA256;
    memcpy(cfg.public_key, kp_r.pk, 32);
    cfg.alg_count = 2;
    memcpy(cfg.algs, rfc_algs, sizeof rfc_algs);
    if (ccc_ohttp_request_encapsulate_derand_insecure(&client, &cfg, suite, &eph, rfc_request,
                                                      sizeof rfc_request, wire, sizeof wire,
                                                      &n) != CCC_OK)
        __builtin_trap();
    ccc_status st = ccc_ohttp_response_decapsulate(&client, data, size, out, sizeof out, &n);
    if (st == CCC_OK && n > sizeof out)
        __builtin_trap();
    ccc_ohttp_ctx_wipe(&client);
    ccc_hpke_keypair_wipe(&kp_r);
    ccc_hpke_keypair_wipe(&eph);
}

static void fuzz_configs(const uint8_t *data, size_t size, bool list)
{
    ccc_reader r;
    ccc_reader_init(&r, data, size);
    if (list) {
        ccc_ohttp_key_config cfgs[4];
        size_t count;
        if (ccc_ohttp_key_configs_decode(&r, cfgs, 4, &count) == CCC_OK &&
            (count == 0 || count > 4))
            __builtin_trap();
        return;
    }
    ccc_ohttp_key_config cfg;
    if (ccc_ohttp_key_config_decode(&r, &cfg) != CCC_OK)
        return;
    /* What decodes re-encodes to the same bytes. */
    ccc_buf b;
    ccc_buf_init(&b, 1024);
    if (ccc_ohttp_key_config_encode(&cfg, &b) != CCC_OK || b.size != r.pos ||
        memcmp(b.data, data, b.size) != 0)
        __builtin_trap();
    ccc_hpke_suite s;
    if (ccc_ohttp_key_config_choose(&cfg, CCC_HPKE_AEAD_AES_256_GCM, &s) == CCC_OK &&
        s.kem_id != cfg.kem_id)
        __builtin_trap();
    ccc_buf_wipe(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ccc_ohttp_gateway_key keys[2];
    static bool ready;
    if (!ready) {
        if (!setup_keys(keys))
            __builtin_trap();
        ready = true;
    }
    if (size < 1)
        return 0;
    const uint8_t *rest = data + 1;
    size_t rest_size = size - 1;
    switch (data[0] % 4) {
    case 0:
        fuzz_request(keys, rest, rest_size);
        break;
    case 1:
        fuzz_response(rest, rest_size);
        break;
    case 2:
        fuzz_configs(rest, rest_size, true);
        break;
    default:
        fuzz_configs(rest, rest_size, false);
        break;
    }
    ccc_error_clear();
    return 0;
}
