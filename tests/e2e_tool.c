/*
 * e2e_tool — test-only helpers for the end-to-end scripts (tests/e2e_*.sh):
 * make the photos the scripts need, and play a client that does NOT check
 * what it sends (the real client refuses non-images and oversized photos
 * before encrypting, so bad-input tests need this one).
 *
 *   e2e_tool bigpng W H OUT.png          a black W×H PNG (small file, huge image)
 *   e2e_tool canary IN CANARY OUT.png    IN re-encoded as PNG carrying the
 *                                        canary and its base64 in tEXt chunks
 *   e2e_tool seal CONFIG.json KMS_PUB.pem IN OUT [KEY_ID]
 *                                        OHTTP-encrypt IN's bytes as they are
 *                                        to the service's current key (or
 *                                        claim KEY_ID in the header)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <png.h>

#include "base/base.h"
#include "cose/cose.h"
#include "image/image.h"
#include "kms/kms.h"
#include "ohttp/ohttp.h"

static int die(const char *what)
{
    fprintf(stderr, "e2e_tool: %s (%s)\n", what, ccc_error_detail());
    return 1;
}

/* Write RGB rows as a PNG; `rows(y)` gives row y. Text chunks optional. */
static int write_png(const char *path, uint32_t w, uint32_t h, const uint8_t *rgb, size_t stride,
                     png_text *text, int text_count)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return die("cannot open the output");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return die("libpng failed");
    }
    png_init_io(png, f);
    png_set_compression_level(png, 9);
    png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (text_count)
        png_set_text(png, info, text, text_count);
    png_write_info(png, info);
    for (uint32_t y = 0; y < h; y++)
        png_write_row(png, rgb ? rgb + (size_t)y * stride : (png_const_bytep)NULL);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return fclose(f) == 0 ? 0 : die("cannot write the output");
}

static int decode_file(const char *path, ccc_buf *file, ccc_image *img)
{
    ccc_buf_init(file, 64u << 20);
    ccc_image_init(img);
    if (ccc_file_read(path, file) != CCC_OK)
        return die("cannot read the input");
    if (ccc_image_decode(ccc_buf_bytes(file), NULL, img) != CCC_OK)
        return die("cannot decode the input");
    return 0;
}

static int cmd_bigpng(char **a)
{
    unsigned long w = strtoul(a[0], NULL, 10), h = strtoul(a[1], NULL, 10);
    if (w == 0 || h == 0 || w > 100000 || h > 100000)
        return die("width and height must be 1..100000");
    uint8_t *row = calloc(w, 3);
    if (!row)
        return die("out of memory");
    /* The same black row h times: stride 0. */
    int rc = write_png(a[2], (uint32_t)w, (uint32_t)h, row, 0, NULL, 0);
    free(row);
    return rc;
}

static int cmd_canary(char **a)
{
    ccc_buf file;
    ccc_image img;
    if (decode_file(a[0], &file, &img))
        return 1;
    const char *canary = a[1];
    char b64[1024];
    size_t len = strlen(canary);
    if (len > 600)
        return die("canary too long");
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)canary, (int)len);
    png_text text[2];
    memset(text, 0, sizeof text);
    text[0].compression = PNG_TEXT_COMPRESSION_NONE;
    text[0].key = (char *)"Comment";
    text[0].text = (char *)canary;
    text[1].compression = PNG_TEXT_COMPRESSION_NONE;
    text[1].key = (char *)"Description";
    text[1].text = b64;
    int rc = write_png(a[2], img.width, img.height, img.rgb, (size_t)img.width * 3, text, 2);
    ccc_image_wipe(&img);
    ccc_buf_wipe(&file);
    return rc;
}

/* The current key config from GET /v1/config's JSON, signature checked. */
static int config_key(const char *json_path, const char *pub_path, ccc_ohttp_key_config *cfg)
{
    json_error_t err;
    json_t *root = json_load_file(json_path, 0, &err);
    const char *b64 = root ? json_string_value(json_object_get(root, "kms_config")) : NULL;
    if (!b64) {
        json_decref(root);
        return die("no kms_config in the config JSON");
    }
    size_t n = strlen(b64);
    uint8_t *raw = malloc(n + 3);
    int decoded = raw ? EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n) : -1;
    EVP_PKEY *pub = NULL;
    ccc_kms_config kc;
    int rc = 1;
    if (decoded > 0) {
        /* EVP_DecodeBlock counts the padding as zero bytes. */
        size_t size = (size_t)decoded - (n >= 1 && b64[n - 1] == '=') - (n >= 2 && b64[n - 2] == '=');
        if (ccc_cose_key_read_pem(pub_path, false, &pub) == CCC_OK &&
            ccc_kms_config_verify(ccc_bytes_of(raw, size), pub, &kc) == CCC_OK && kc.key_count) {
            *cfg = kc.keys[0];
            rc = 0;
        }
    }
    EVP_PKEY_free(pub);
    free(raw);
    json_decref(root);
    return rc ? die("the key configuration does not verify") : 0;
}

static int cmd_seal(char **a, int extra)
{
    ccc_ohttp_key_config cfg;
    if (config_key(a[0], a[1], &cfg))
        return 1;
    ccc_buf in;
    ccc_buf_init(&in, 64u << 20);
    if (ccc_file_read(a[2], &in) != CCC_OK)
        return die("cannot read the input");
    ccc_hpke_suite suite;
    if (ccc_ohttp_key_config_choose(&cfg, CCC_HPKE_AEAD_AES_256_GCM, &suite) != CCC_OK)
        return die("no usable suite");
    size_t cap = in.size + CCC_OHTTP_REQUEST_OVERHEAD, size = 0;
    uint8_t *out = malloc(cap);
    ccc_ohttp_ctx ctx;
    ccc_ohttp_ctx_init(&ctx);
    if (!out || ccc_ohttp_request_encapsulate(&ctx, &cfg, suite, in.data, in.size, out, cap,
                                              &size) != CCC_OK)
        return die("encapsulation failed");
    if (extra)
        out[0] = (uint8_t)strtoul(a[4], NULL, 10); /* claim another key id */
    int rc = ccc_file_write(a[3], out, size) == CCC_OK ? 0 : die("cannot write the output");
    ccc_ohttp_ctx_wipe(&ctx);
    free(out);
    ccc_buf_wipe(&in);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "bigpng") == 0)
        return cmd_bigpng(argv + 2);
    if (argc == 5 && strcmp(argv[1], "canary") == 0)
        return cmd_canary(argv + 2);
    if ((argc == 6 || argc == 7) && strcmp(argv[1], "seal") == 0)
        return cmd_seal(argv + 2, argc == 7);
    fprintf(stderr, "usage: e2e_tool bigpng W H OUT | canary IN CANARY OUT"
                    " | seal CONFIG.json KMS_PUB.pem IN OUT [KEY_ID]\n");
    return 2;
}
