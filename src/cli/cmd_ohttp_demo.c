/*
 * `ccc ohttp demo [FILE]`: the request/response encryption of the service,
 * played out in one process so a newcomer can watch each step.
 *
 *   gateway  generates an X25519 key and publishes its key configuration
 *   client   encapsulates FILE as an OHTTP request to that configuration
 *   host     (sees only the encapsulated bytes; we flip one to show that a
 *            tampered request is refused)
 *   gateway  decapsulates, checks the bytes match, answers
 *   client   decapsulates the answer with the key exported from its request
 *
 * It prints sizes and digests only, never the file's bytes.
 */
#include <getopt.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "ohttp/ohttp.h"

enum { MAX_DEMO_FILE = 16 << 20 };

static void print_digest(const char *label, const uint8_t *data, size_t size)
{
    uint8_t md[32];
    char hex[65];
    if (ccc_sha256(ccc_bytes_of(data, size), md) != CCC_OK)
        memset(md, 0, sizeof md);
    ccc_hex_encode(md, 8, hex);
    printf("  %-34s %zu bytes, sha256 %s…\n", label, size, hex);
}

static ccc_status run_demo(const char *path, uint16_t aead)
{
    ccc_status st = CCC_OK;
    ccc_buf file, cfg_bytes;
    ccc_buf_init(&file, MAX_DEMO_FILE);
    ccc_buf_init(&cfg_bytes, 1024);
    ccc_hpke_keypair kp;
    ccc_ohttp_gateway_key gk;
    ccc_ohttp_ctx client, gateway, tampered_ctx;
    memset(&kp, 0, sizeof kp);
    memset(&gk, 0, sizeof gk);
    ccc_ohttp_ctx_init(&client);
    ccc_ohttp_ctx_init(&gateway);
    ccc_ohttp_ctx_init(&tampered_ctx);
    uint8_t *request = NULL, *opened = NULL, *tampered = NULL;
    uint8_t answer_enc[256], answer_out[256];
    size_t request_size = 0, opened_size = 0, answer_enc_size = 0, answer_size = 0;

    if (path) {
        CCC_TRY(ccc_file_read(path, &file));
    } else {
        static const char sample[] = "a photo would go here";
        CCC_TRY(ccc_buf_append(&file, sample, sizeof sample - 1));
    }

    printf("gateway: new X25519 key, key id 1, suite HKDF-SHA256 + %s\n", ccc_hpke_aead_name(aead));
    const ccc_ohttp_symmetric_alg algs[] = {{CCC_HPKE_KDF_HKDF_SHA256, aead}};
    CCC_TRY(ccc_hpke_keypair_generate(&kp));
    CCC_TRY(ccc_ohttp_gateway_key_init(&gk, 1, &kp, algs, 1));
    CCC_TRY(ccc_ohttp_key_config_encode(&gk.config, &cfg_bytes));
    char cfg_hex[2 * 64 + 1];
    ccc_hex_encode(cfg_bytes.data, cfg_bytes.size < 64 ? cfg_bytes.size : 64, cfg_hex);
    printf("  key configuration (RFC 9458 §3)   %s\n", cfg_hex);

    printf("client: encapsulate %s\n", path ? path : "(built-in sample)");
    print_digest("plaintext", file.data, file.size);
    ccc_hpke_suite suite;
    CCC_TRY(ccc_ohttp_key_config_choose(&gk.config, aead, &suite));
    size_t request_max = file.size + CCC_OHTTP_REQUEST_OVERHEAD;
    request = malloc(request_max);
    opened = malloc(file.size ? file.size : 1);
    tampered = malloc(request_max);
    CCC_CHECK(request && opened && tampered, CCC_ERR_NOMEM, "out of memory");
    CCC_TRY(ccc_ohttp_request_encapsulate(&client, &gk.config, suite, file.data, file.size, request,
                                          request_max, &request_size));
    print_digest("encapsulated request (+55 bytes)", request, request_size);

    printf("host: relays the request blind; a host that flips one byte gets\n");
    memcpy(tampered, request, request_size);
    tampered[request_size / 2] ^= 0x01;
    ccc_status tst = ccc_ohttp_request_decapsulate(&tampered_ctx, &gk, 1, tampered, request_size,
                                                   opened, file.size ? file.size : 1, &opened_size);
    printf("  tampered request                   refused: %s error (%s)\n", ccc_status_name(tst),
           ccc_error_detail());
    CCC_CHECK(tst == CCC_ERR_CRYPTO, CCC_ERR_INTERNAL, "tampered request was not refused");

    printf("gateway: decapsulate the genuine request\n");
    CCC_TRY(ccc_ohttp_request_decapsulate(&gateway, &gk, 1, request, request_size, opened,
                                          file.size ? file.size : 1, &opened_size));
    CCC_CHECK(opened_size == file.size && ccc_ct_equal(opened, file.data, file.size),
              CCC_ERR_INTERNAL, "decapsulated request differs from the original");
    print_digest("decapsulated request", opened, opened_size);
    char answer[96];
    int n = snprintf(answer, sizeof answer, "{\"received_bytes\":%zu}", opened_size);
    CCC_TRY(ccc_ohttp_response_encapsulate(&gateway, (const uint8_t *)answer, (size_t)n,
                                           answer_enc, sizeof answer_enc, &answer_enc_size));
    print_digest("encapsulated response", answer_enc, answer_enc_size);

    printf("client: decapsulate the response with the key exported from its request\n");
    CCC_TRY(ccc_ohttp_response_decapsulate(&client, answer_enc, answer_enc_size, answer_out,
                                           sizeof answer_out - 1, &answer_size));
    answer_out[answer_size] = '\0';
    /* The demo's own answer, made above from a byte count: safe to show. */
    printf("  answer                             %s\n", (const char *)answer_out);
    printf("round trip ok: only the two ends held the keys.\n");
out:
    if (opened)
        ccc_wipe(opened, file.size ? file.size : 1);
    free(request);
    free(opened);
    free(tampered);
    ccc_ohttp_ctx_wipe(&client);
    ccc_ohttp_ctx_wipe(&gateway);
    ccc_ohttp_ctx_wipe(&tampered_ctx);
    ccc_ohttp_gateway_key_wipe(&gk);
    ccc_hpke_keypair_wipe(&kp);
    ccc_buf_wipe(&cfg_bytes);
    ccc_buf_reset(&file);
    ccc_buf_wipe(&file);
    return st;
}

int ccc_cmd_ohttp_demo(int argc, char **argv)
{
    if (ccc_cli_wants_help(argc, argv, "ohttp demo"))
        return 0;
    static const struct option opts[] = {{"aead", required_argument, NULL, 'a'}, {0, 0, 0, 0}};
    uint16_t aead = CCC_HPKE_AEAD_AES_256_GCM;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 'a')
            return ccc_cli_usage_error("ohttp demo", "unknown option");
        if (strcmp(optarg, "aes-256-gcm") == 0)
            aead = CCC_HPKE_AEAD_AES_256_GCM;
        else if (strcmp(optarg, "aes-128-gcm") == 0)
            aead = CCC_HPKE_AEAD_AES_128_GCM;
        else if (strcmp(optarg, "chacha20-poly1305") == 0)
            aead = CCC_HPKE_AEAD_CHACHA20_POLY1305;
        else
            return ccc_cli_usage_error("ohttp demo", "unknown --aead");
    }
    if (argc - optind > 1)
        return ccc_cli_usage_error("ohttp demo", "at most one FILE");
    return ccc_cli_report("ohttp demo", run_demo(optind < argc ? argv[optind] : NULL, aead));
}
