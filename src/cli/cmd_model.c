/*
 * `ccc model sign` / `ccc model verify`: the signed model manifest
 * (detect/manifest.h). The repository's models/centernet.manifest is signed
 * by the project's release key (public half compiled in). To trust a model
 * of your own, or to re-sign ours with your key:
 *
 *   openssl genpkey -algorithm ed25519 -out my.pem
 *   openssl pkey -in my.pem -pubout -out my.pub.pem
 *   ccc model sign --key my.pem --model-dir DIR       # writes DIR/centernet.manifest
 *   ccc detect --model-dir DIR --trusted-key my.pub.pem photo.jpg
 *   (or export CCC_MODEL_TRUSTED_KEY=my.pub.pem)
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "detect/detect.h"
#include "detect/manifest.h"
#include "nn/nn.h"

typedef struct model_args {
    const char *model_dir, *key, *out, *manifest;
    char dir_buf[4096];
} model_args;

/* -1 to go on, else the exit code (help printed, usage error). */
static int parse(int argc, char **argv, const char *words, model_args *a)
{
    if (ccc_cli_wants_help(argc, argv, words))
        return 0;
    static const struct option opts[] = {
        {"model-dir", required_argument, NULL, 'm'}, {"key", required_argument, NULL, 'k'},
        {"out", required_argument, NULL, 'o'},       {"manifest", required_argument, NULL, 'M'},
        {"trusted-key", required_argument, NULL, 'k'}, {NULL, 0, NULL, 0},
    };
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            a->model_dir = optarg;
            break;
        case 'k':
            a->key = optarg;
            break;
        case 'o':
            a->out = optarg;
            break;
        case 'M':
            a->manifest = optarg;
            break;
        default:
            return ccc_cli_usage_error(words, "unknown option");
        }
    }
    if (optind != argc)
        return ccc_cli_usage_error(words, "unexpected argument");
    if (!a->model_dir) {
        ccc_status st = ccc_detect_default_model_dir(a->dir_buf, sizeof a->dir_buf);
        if (st != CCC_OK)
            return ccc_cli_report(words, st);
        a->model_dir = a->dir_buf;
    }
    return -1;
}

int ccc_cmd_model_sign(int argc, char **argv)
{
    const char *words = "model sign";
    model_args a = {0};
    int rc = parse(argc, argv, words, &a);
    if (rc >= 0)
        return rc;
    if (!a.key)
        return ccc_cli_usage_error(words, "--key PRIVATE.pem is required");
    ccc_status st = CCC_OK;
    EVP_PKEY *key = NULL;
    ccc_buf json, bin, payload, signed_manifest;
    ccc_buf_init(&json, CCC_NN_MAX_JSON_SIZE);
    ccc_buf_init(&bin, CCC_NN_MAX_WEIGHTS_SIZE);
    ccc_buf_init(&payload, CCC_DETECT_MANIFEST_MAX_SIZE);
    ccc_buf_init(&signed_manifest, CCC_DETECT_MANIFEST_MAX_SIZE);
    char path[4200], out_path[4200];
    CCC_TRY(ccc_detect_key_read_pem(a.key, true, &key));
    snprintf(path, sizeof path, "%s/centernet.json", a.model_dir);
    CCC_TRY(ccc_file_read(path, &json));
    snprintf(path, sizeof path, "%s/centernet.bin", a.model_dir);
    CCC_TRY(ccc_file_read(path, &bin));
    CCC_TRY(ccc_detect_manifest_build(ccc_buf_bytes(&json), ccc_buf_bytes(&bin), &payload));
    CCC_TRY(ccc_detect_manifest_sign(key, ccc_buf_bytes(&payload), &signed_manifest));
    snprintf(out_path, sizeof out_path, "%s/%s", a.model_dir, CCC_DETECT_MANIFEST_FILE);
    CCC_TRY(ccc_file_write(a.out ? a.out : out_path, signed_manifest.data,
                           signed_manifest.size));
    printf("signed manifest written to %s (%zu bytes)\n", a.out ? a.out : out_path,
           signed_manifest.size);
out:
    EVP_PKEY_free(key);
    ccc_buf_wipe(&json);
    ccc_buf_wipe(&bin);
    ccc_buf_wipe(&payload);
    ccc_buf_wipe(&signed_manifest);
    return ccc_cli_report(words, st);
}

int ccc_cmd_model_verify(int argc, char **argv)
{
    const char *words = "model verify";
    model_args a = {0};
    int rc = parse(argc, argv, words, &a);
    if (rc >= 0)
        return rc;
    ccc_buf json, bin;
    ccc_buf_init(&json, CCC_NN_MAX_JSON_SIZE);
    ccc_buf_init(&bin, CCC_NN_MAX_WEIGHTS_SIZE);
    ccc_detect_manifest_info info;
    ccc_status st =
        ccc_detect_manifest_load_files(a.model_dir, a.manifest, a.key, &json, &bin, &info);
    if (st == CCC_OK) {
        char hex[65];
        ccc_hex_encode(info.sha256, 32, hex);
        printf("model in %s matches the signed manifest (%s key)\n"
               "  manifest sha256 %s\n  %zu ops allowed, threshold %.3f, iou %.3f, "
               "max %u boxes\n",
               a.model_dir, a.key ? "given" : "trusted", hex, info.op_count,
               info.threshold_milli / 1000.0, info.iou_milli / 1000.0, info.max_boxes);
    }
    ccc_buf_wipe(&json);
    ccc_buf_wipe(&bin);
    return ccc_cli_report(words, st);
}
