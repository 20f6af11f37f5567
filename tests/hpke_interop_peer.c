/*
 * hpke_interop_peer — the C side of the HPKE interop test (test-only
 * program; it prints private keys and plaintexts on purpose). Driven by
 * tools/hpke-interop/interop.mjs, which runs @hpke/core on the other side.
 *
 *   hpke_interop_peer keygen
 *       -> "<skR hex> <pkR hex>"
 *   hpke_interop_peer seal <aead> <pkR> <info> <aad> <pt> <exp_ctx> [<psk> <psk_id>]
 *       -> "<enc hex> <ct hex> <export(exp_ctx, 32) hex>"
 *   hpke_interop_peer open <aead> <skR> <enc> <info> <aad> <ct> <exp_ctx> [<psk> <psk_id>]
 *       -> "<pt hex> <export(exp_ctx, 32) hex>", exit 1 if it does not open
 *
 * Every byte argument is hex; "-" is the empty string. <aead> is the
 * registry id in decimal (1, 2, 3). Suite: DHKEM(X25519, HKDF-SHA256),
 * HKDF-SHA256. Mode base, or psk when <psk> <psk_id> are given.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hpke/hpke.h"

#define MAX_MSG (256 * 1024)

static uint8_t *unhex(const char *arg, size_t *size)
{
    size_t cap = strlen(arg) / 2 + 1;
    uint8_t *b = malloc(cap);
    if (!b)
        exit(3);
    *size = 0;
    if (strcmp(arg, "-") != 0 && ccc_hex_decode(arg, b, cap, size) != CCC_OK) {
        fprintf(stderr, "hpke_interop_peer: bad hex argument\n");
        exit(2);
    }
    return b;
}

static void print_hex(const uint8_t *b, size_t n, const char *end)
{
    char *s = malloc(2 * n + 1);
    if (!s)
        exit(3);
    ccc_hex_encode(b, n, s);
    printf("%s%s", n ? s : "-", end);
    free(s);
}

static int fail(const char *what)
{
    fprintf(stderr, "hpke_interop_peer: %s: %s error: %s\n", what,
            ccc_status_name(ccc_error_last()), ccc_error_detail());
    return 1;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "keygen") == 0) {
        ccc_hpke_keypair kp;
        if (ccc_hpke_keypair_generate(&kp) != CCC_OK)
            return fail("keygen");
        print_hex(kp.sk, 32, " ");
        print_hex(kp.pk, 32, "\n");
        ccc_hpke_keypair_wipe(&kp);
        return 0;
    }
    bool seal = argc >= 8 && strcmp(argv[1], "seal") == 0;
    bool open = argc >= 9 && strcmp(argv[1], "open") == 0;
    int base = seal ? 8 : 9; /* index of the optional psk */
    if ((!seal && !open) || (argc != base && argc != base + 2)) {
        fprintf(stderr, "usage: hpke_interop_peer keygen | seal ... | open ... (see source)\n");
        return 2;
    }
    ccc_hpke_suite suite = {CCC_HPKE_KEM_X25519_SHA256, CCC_HPKE_KDF_HKDF_SHA256,
                            (uint16_t)atoi(argv[2])};
    size_t key_n, info_n, aad_n, msg_n, exp_n, enc_n = 0, psk_n = 0, psk_id_n = 0;
    uint8_t *key = unhex(argv[3], &key_n);
    int i = 4;
    uint8_t *enc_in = open ? unhex(argv[i++], &enc_n) : NULL;
    uint8_t *info = unhex(argv[i++], &info_n);
    uint8_t *aad = unhex(argv[i++], &aad_n);
    uint8_t *msg = unhex(argv[i++], &msg_n);
    uint8_t *exp_ctx = unhex(argv[i++], &exp_n);
    uint8_t *psk = argc == base + 2 ? unhex(argv[base], &psk_n) : NULL;
    uint8_t *psk_id = argc == base + 2 ? unhex(argv[base + 1], &psk_id_n) : NULL;
    if (key_n != 32 || (open && enc_n != 32) || msg_n > MAX_MSG) {
        fprintf(stderr, "hpke_interop_peer: bad key, enc or message size\n");
        return 2;
    }
    ccc_hpke_setup_opts o = ccc_hpke_opts_base(ccc_bytes_of(info, info_n));
    if (psk) {
        o.mode = CCC_HPKE_MODE_PSK;
        o.psk = ccc_bytes_of(psk, psk_n);
        o.psk_id = ccc_bytes_of(psk_id, psk_id_n);
    }
    ccc_hpke_ctx ctx;
    ccc_hpke_ctx_init(&ctx);
    uint8_t *out = malloc(msg_n + 16), exported[32], enc[32];
    size_t n;
    int rc = 0;
    if (!out)
        return 3;
    if (seal) {
        if (ccc_hpke_ctx_setup_sender(&ctx, suite, key, &o, enc) != CCC_OK ||
            ccc_hpke_ctx_seal(&ctx, ccc_bytes_of(aad, aad_n), msg, msg_n, out, msg_n + 16, &n) !=
                CCC_OK ||
            ccc_hpke_ctx_export(&ctx, ccc_bytes_of(exp_ctx, exp_n), exported, 32) != CCC_OK) {
            rc = fail("seal");
        } else {
            print_hex(enc, 32, " ");
            print_hex(out, n, " ");
            print_hex(exported, 32, "\n");
        }
    } else {
        ccc_hpke_keypair kp;
        if (ccc_hpke_keypair_from_private(&kp, key) != CCC_OK ||
            ccc_hpke_ctx_setup_receiver(&ctx, suite, &kp, enc_in, &o) != CCC_OK ||
            ccc_hpke_ctx_open(&ctx, ccc_bytes_of(aad, aad_n), msg, msg_n, out, msg_n, &n) !=
                CCC_OK ||
            ccc_hpke_ctx_export(&ctx, ccc_bytes_of(exp_ctx, exp_n), exported, 32) != CCC_OK) {
            rc = fail("open");
        } else {
            print_hex(out, n, " ");
            print_hex(exported, 32, "\n");
        }
        ccc_hpke_keypair_wipe(&kp);
    }
    ccc_hpke_ctx_wipe(&ctx);
    free(key);
    free(enc_in);
    free(info);
    free(aad);
    free(msg);
    free(exp_ctx);
    free(psk);
    free(psk_id);
    free(out);
    return rc;
}
