/*
 * detect/manifest: build, sign and verify the signed model manifest
 * (COSE_Sign1 / EdDSA over canonical CBOR; format in manifest.h).
 */
#include "detect/manifest.h"

#include <jansson.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cbor/cbor.h"
#include "cose/cose.h"
#include "detect/detect.h"
#include "nn/nn.h"

#define JSON_NAME "centernet.json"
#define BIN_NAME "centernet.bin"

/*
 * The project's model release key (Ed25519 public key, raw 32 bytes; the
 * same key as models/model-release-key.pub.pem). Its private half is kept
 * offline by the release manager and is not in the repository.
 */
static const uint8_t release_key_raw[32] = {
    0xae, 0x18, 0x22, 0x99, 0x9c, 0x20, 0xb4, 0x67, 0x6c, 0x81, 0xda, 0x6b, 0x5f, 0xf0, 0xdf, 0x97,
    0x1b, 0x8a, 0xc0, 0xb5, 0x19, 0x19, 0x5c, 0xc5, 0x14, 0x33, 0xbb, 0x60, 0x74, 0x05, 0x7b, 0x03,
};

ccc_status ccc_detect_release_key(EVP_PKEY **out)
{
    *out = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, release_key_raw,
                                       sizeof release_key_raw);
    CCC_ENSURE(*out != NULL, CCC_ERR_CRYPTO, "cannot load the release public key");
    return CCC_OK;
}

ccc_status ccc_detect_key_read_pem(const char *path, bool want_private, EVP_PKEY **out)
{
    EVP_PKEY *k = NULL;
    *out = NULL;
    CCC_GUARD(ccc_cose_key_read_pem(path, want_private, &k));
    if (!EVP_PKEY_is_a(k, "ED25519")) {
        EVP_PKEY_free(k);
        CCC_BAIL(CCC_ERR_UNSUPPORTED, "model manifest keys must be Ed25519");
    }
    *out = k;
    return CCC_OK;
}

/* ------------------------------------------------------------------------ */
/* Build and sign                                                            */
/* ------------------------------------------------------------------------ */

static ccc_status put_file(ccc_buf *b, const char *name, ccc_bytes content)
{
    ccc_status st = CCC_OK;
    uint8_t h[32];
    ccc_cbor_mapb mb;
    ccc_cbor_mapb_init(&mb, 1024);
    CCC_TRY(ccc_sha256(content, h));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "name"));
    CCC_TRY(ccc_cbor_put_cstr(ccc_cbor_mapb_value(&mb), name));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "size"));
    CCC_TRY(ccc_cbor_put_uint(ccc_cbor_mapb_value(&mb), content.size));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "sha256"));
    CCC_TRY(ccc_cbor_put_bytes(ccc_cbor_mapb_value(&mb), h, sizeof h));
    CCC_TRY(ccc_cbor_mapb_finish(&mb, b));
out:
    ccc_cbor_mapb_wipe(&mb);
    return st;
}

static int cmp_op(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* The sorted set of "op" values of modelTopology.node[] in a model.json. */
static ccc_status graph_ops(ccc_bytes model_json, char ops[][48], size_t *count)
{
    ccc_status st = CCC_OK;
    *count = 0;
    /* Same strictness as the engine's loader, so both read the same graph. */
    json_t *root = json_loadb((const char *)model_json.ptr, model_json.size,
                              JSON_REJECT_DUPLICATES, NULL);
    CCC_CHECK(root != NULL, CCC_ERR_PARSE, "model.json is not JSON");
    json_t *nodes = json_object_get(json_object_get(root, "modelTopology"), "node");
    CCC_CHECK(json_is_array(nodes), CCC_ERR_PARSE, "model.json has no graph nodes");
    size_t i;
    json_t *node;
    json_array_foreach(nodes, i, node) {
        const char *op = json_string_value(json_object_get(node, "op"));
        CCC_CHECK(op != NULL && strlen(op) < 48, CCC_ERR_PARSE, "graph node without an op");
        bool seen = false;
        for (size_t k = 0; k < *count && !seen; k++)
            seen = strcmp(ops[k], op) == 0;
        if (seen)
            continue;
        CCC_CHECK(*count < CCC_DETECT_MANIFEST_MAX_OPS, CCC_ERR_LIMIT,
                  "graph uses too many op types");
        strcpy(ops[(*count)++], op);
    }
    qsort(ops, *count, sizeof ops[0], cmp_op);
out:
    json_decref(root);
    return st;
}

ccc_status ccc_detect_manifest_build(ccc_bytes model_json, ccc_bytes weights, ccc_buf *payload)
{
    ccc_status st = CCC_OK;
    ccc_nn_model *nn = NULL;
    ccc_cbor_mapb mb, input;
    ccc_cbor_mapb_init(&mb, CCC_DETECT_MANIFEST_MAX_SIZE);
    ccc_cbor_mapb_init(&input, 1024);
    char ops[CCC_DETECT_MANIFEST_MAX_OPS][48];
    size_t op_count = 0;
    /* Load it once: a manifest is only made for a graph the engine accepts. */
    ccc_nn_options nopt = {.threads = 1};
    CCC_TRY(ccc_nn_model_load(model_json, weights, &nopt, &nn));
    CCC_TRY(graph_ops(model_json, ops, &op_count));

    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "format"));
    CCC_TRY(ccc_cbor_put_cstr(ccc_cbor_mapb_value(&mb), CCC_DETECT_MANIFEST_FORMAT));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "model"));
    CCC_TRY(ccc_cbor_put_cstr(ccc_cbor_mapb_value(&mb), "centernet"));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "files"));
    CCC_TRY(ccc_cbor_put_array(ccc_cbor_mapb_value(&mb), 2));
    CCC_TRY(put_file(ccc_cbor_mapb_value(&mb), JSON_NAME, model_json));
    CCC_TRY(put_file(ccc_cbor_mapb_value(&mb), BIN_NAME, weights));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "ops"));
    CCC_TRY(ccc_cbor_put_array(ccc_cbor_mapb_value(&mb), op_count));
    for (size_t i = 0; i < op_count; i++)
        CCC_TRY(ccc_cbor_put_cstr(ccc_cbor_mapb_value(&mb), ops[i]));
    CCC_TRY(ccc_cbor_mapb_key_text(&input, "name"));
    CCC_TRY(ccc_cbor_put_cstr(ccc_cbor_mapb_value(&input), CCC_DETECT_INPUT_NAME));
    CCC_TRY(ccc_cbor_mapb_key_text(&input, "shape"));
    CCC_TRY(ccc_cbor_put_array(ccc_cbor_mapb_value(&input), 4));
    static const unsigned shape[4] = {1, CCC_DETECT_INPUT_SIDE, CCC_DETECT_INPUT_SIDE, 3};
    for (int i = 0; i < 4; i++)
        CCC_TRY(ccc_cbor_put_uint(ccc_cbor_mapb_value(&input), shape[i]));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "input"));
    CCC_TRY(ccc_cbor_mapb_finish(&input, ccc_cbor_mapb_value(&mb)));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "outputs"));
    CCC_TRY(ccc_cbor_put_array(ccc_cbor_mapb_value(&mb), 1));
    CCC_TRY(ccc_cbor_put_cstr(ccc_cbor_mapb_value(&mb), CCC_DETECT_OUTPUT_NAME));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "labels"));
    CCC_TRY(ccc_cbor_put_array(ccc_cbor_mapb_value(&mb), CCC_DETECT_CLASS_COUNT));
    for (int i = 0; i < CCC_DETECT_CLASS_COUNT; i++)
        CCC_TRY(ccc_cbor_put_cstr(ccc_cbor_mapb_value(&mb), ccc_detect_label(i)));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "threshold_milli"));
    CCC_TRY(ccc_cbor_put_uint(ccc_cbor_mapb_value(&mb),
                              (uint64_t)(CCC_DETECT_DEFAULT_THRESHOLD * 1000 + 0.5)));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "iou_milli"));
    CCC_TRY(ccc_cbor_put_uint(ccc_cbor_mapb_value(&mb),
                              (uint64_t)(CCC_DETECT_IOU_THRESHOLD * 1000 + 0.5)));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "max_boxes"));
    CCC_TRY(ccc_cbor_put_uint(ccc_cbor_mapb_value(&mb), CCC_DETECT_MAX_BOXES));
    CCC_TRY(ccc_cbor_mapb_finish(&mb, payload));
out:
    ccc_cbor_mapb_wipe(&mb);
    ccc_cbor_mapb_wipe(&input);
    ccc_nn_model_free(nn);
    return st;
}

ccc_status ccc_detect_manifest_sign(EVP_PKEY *key, ccc_bytes payload, ccc_buf *out)
{
    CCC_ENSURE(EVP_PKEY_is_a(key, "ED25519"), CCC_ERR_UNSUPPORTED,
               "model manifest keys must be Ed25519");
    ccc_cose_sign1_params p = {.alg = CCC_COSE_ALG_EDDSA};
    return ccc_cose_sign1_sign(key, &p, payload, out);
}

/* ------------------------------------------------------------------------ */
/* Verify                                                                    */
/* ------------------------------------------------------------------------ */

static ccc_status get_small_uint(const ccc_cbor_item *map, const char *key, uint64_t max,
                                 unsigned *out)
{
    const ccc_cbor_item *it;
    uint64_t v;
    CCC_GUARD(ccc_cbor_map_get_text(map, key, &it));
    CCC_GUARD(ccc_cbor_get_uint(it, &v));
    CCC_ENSURE(v <= max, CCC_ERR_PARSE, "manifest number out of range");
    *out = (unsigned)v;
    return CCC_OK;
}

static ccc_status check_file(const ccc_cbor_item *entry, const char *name, ccc_bytes content)
{
    const ccc_cbor_item *it;
    uint64_t size;
    ccc_bytes want;
    uint8_t got[32];
    CCC_GUARD(ccc_cbor_map_get_text(entry, "name", &it));
    CCC_ENSURE(ccc_cbor_text_equals(it, name), CCC_ERR_PARSE, "manifest file list out of order");
    CCC_GUARD(ccc_cbor_map_get_text(entry, "size", &it));
    CCC_GUARD(ccc_cbor_get_uint(it, &size));
    CCC_GUARD(ccc_cbor_map_get_text(entry, "sha256", &it));
    CCC_GUARD(ccc_cbor_get_bytes(it, &want));
    CCC_ENSURE(want.size == 32, CCC_ERR_PARSE, "manifest SHA-256 is not 32 bytes");
    CCC_ENSURE(size == content.size, CCC_ERR_CRYPTO,
               "model file size differs from the signed manifest");
    CCC_GUARD(ccc_sha256(content, got));
    CCC_ENSURE(ccc_ct_equal(got, want.ptr, 32), CCC_ERR_CRYPTO,
               "model file SHA-256 differs from the signed manifest");
    return CCC_OK;
}

static ccc_status check_payload(ccc_bytes payload, ccc_bytes model_json, ccc_bytes weights,
                                ccc_detect_manifest_info *info)
{
    ccc_status st = CCC_OK;
    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    const ccc_cbor_item *root, *it, *e;
    size_t n;
    CCC_TRY(ccc_cbor_decode(&doc, payload, NULL, CCC_CBOR_CANONICAL));
    root = ccc_cbor_doc_root(&doc);
    CCC_TRY(ccc_cbor_get_map(root, &n));
    CCC_TRY(ccc_cbor_map_get_text(root, "format", &it));
    CCC_CHECK(ccc_cbor_text_equals(it, CCC_DETECT_MANIFEST_FORMAT), CCC_ERR_UNSUPPORTED,
              "unknown model manifest format");
    CCC_TRY(ccc_cbor_map_get_text(root, "files", &it));
    CCC_TRY(ccc_cbor_get_array(it, &n));
    CCC_CHECK(n == 2, CCC_ERR_PARSE, "manifest must name two files");
    CCC_TRY(ccc_cbor_array_get(it, 0, &e));
    CCC_TRY(check_file(e, JSON_NAME, model_json));
    CCC_TRY(ccc_cbor_array_get(it, 1, &e));
    CCC_TRY(check_file(e, BIN_NAME, weights));

    CCC_TRY(ccc_cbor_map_get_text(root, "ops", &it));
    CCC_TRY(ccc_cbor_get_array(it, &n));
    CCC_CHECK(n <= CCC_DETECT_MANIFEST_MAX_OPS, CCC_ERR_LIMIT, "manifest lists too many ops");
    info->op_count = n;
    for (size_t i = 0; i < n; i++) {
        ccc_bytes name;
        CCC_TRY(ccc_cbor_array_get(it, i, &e));
        CCC_TRY(ccc_cbor_get_text(e, &name));
        CCC_CHECK(name.size > 0 && name.size < sizeof info->ops[0] &&
                      memchr(name.ptr, 0, name.size) == NULL,
                  CCC_ERR_PARSE, "bad op name in manifest");
        memcpy(info->ops[i], name.ptr, name.size);
        info->ops[i][name.size] = '\0';
        CCC_CHECK(ccc_nn_op_allowed(info->ops[i]), CCC_ERR_UNSUPPORTED,
                  "manifest lists an op outside the engine's allowlist");
    }
    CCC_TRY(ccc_cbor_map_get_text(root, "input", &it));
    CCC_TRY(ccc_cbor_map_get_text(it, "name", &e));
    CCC_CHECK(ccc_cbor_text_equals(e, CCC_DETECT_INPUT_NAME), CCC_ERR_UNSUPPORTED,
              "manifest input name is not the detector's");
    CCC_TRY(ccc_cbor_map_get_text(root, "outputs", &it));
    CCC_TRY(ccc_cbor_array_get(it, 0, &e));
    CCC_CHECK(ccc_cbor_text_equals(e, CCC_DETECT_OUTPUT_NAME), CCC_ERR_UNSUPPORTED,
              "manifest output name is not the detector's");
    CCC_TRY(ccc_cbor_map_get_text(root, "labels", &it));
    CCC_TRY(ccc_cbor_get_array(it, &n));
    CCC_CHECK(n == CCC_DETECT_CLASS_COUNT, CCC_ERR_UNSUPPORTED, "manifest labels are not COCO-80");
    for (size_t i = 0; i < n; i++) {
        CCC_TRY(ccc_cbor_array_get(it, i, &e));
        CCC_CHECK(ccc_cbor_text_equals(e, ccc_detect_label((int)i)), CCC_ERR_UNSUPPORTED,
                  "manifest labels differ from this build's");
    }
    CCC_TRY(get_small_uint(root, "threshold_milli", 999, &info->threshold_milli));
    /* 0 would keep every box: no loader should have to guess what it means. */
    CCC_CHECK(info->threshold_milli > 0, CCC_ERR_PARSE, "manifest threshold must be above 0");
    CCC_TRY(get_small_uint(root, "iou_milli", 1000, &info->iou_milli));
    CCC_TRY(get_small_uint(root, "max_boxes", CCC_DETECT_MAX_BOXES, &info->max_boxes));
out:
    ccc_cbor_doc_wipe(&doc);
    return st;
}

ccc_status ccc_detect_manifest_verify(ccc_bytes manifest, EVP_PKEY *key, ccc_bytes model_json,
                                      ccc_bytes weights, ccc_detect_manifest_info *info)
{
    ccc_status st = CCC_OK;
    memset(info, 0, sizeof *info);
    ccc_cose_sign1 msg;
    ccc_cose_sign1_init(&msg);
    CCC_CHECK(EVP_PKEY_is_a(key, "ED25519"), CCC_ERR_CRYPTO,
              "model manifest keys must be Ed25519");
    CCC_CHECK(manifest.size <= CCC_DETECT_MANIFEST_MAX_SIZE, CCC_ERR_LIMIT,
              "model manifest too large");
    ccc_cbor_limits lim = ccc_cbor_limits_default();
    CCC_TRY(ccc_cose_sign1_parse(&msg, manifest, &lim));
    CCC_CHECK(msg.alg == CCC_COSE_ALG_EDDSA, CCC_ERR_CRYPTO, "model manifest must be EdDSA");
    CCC_CHECK(!msg.detached, CCC_ERR_PARSE, "model manifest payload is detached");
    CCC_TRY(ccc_cose_sign1_verify(&msg, key, ccc_bytes_of(NULL, 0), NULL));
    /* Only now is the payload trusted. */
    CCC_TRY(check_payload(msg.payload, model_json, weights, info));
    CCC_TRY(ccc_sha256(manifest, info->sha256));
out:
    ccc_cose_sign1_wipe(&msg);
    return st;
}

ccc_status ccc_detect_manifest_check_ops(const ccc_detect_manifest_info *info,
                                         ccc_bytes model_json)
{
    char ops[CCC_DETECT_MANIFEST_MAX_OPS][48];
    size_t n;
    CCC_GUARD(graph_ops(model_json, ops, &n));
    for (size_t i = 0; i < n; i++) {
        bool listed = false;
        for (size_t j = 0; j < info->op_count && !listed; j++)
            listed = strcmp(ops[i], info->ops[j]) == 0;
        CCC_ENSURE(listed, CCC_ERR_POLICY, "graph uses an op the signed manifest does not list");
    }
    return CCC_OK;
}

/* ------------------------------------------------------------------------ */
/* Find, verify, read                                                        */
/* ------------------------------------------------------------------------ */

static ccc_status join(char *out, size_t size, const char *dir, const char *name)
{
    int n = snprintf(out, size, "%s/%s", dir, name);
    CCC_ENSURE(n > 0 && (size_t)n < size, CCC_ERR_LIMIT, "path too long");
    return CCC_OK;
}

static ccc_status read_file(const char *path, ccc_buf *out)
{
    CCC_ENSURE(access(path, R_OK) == 0, CCC_ERR_NOT_FOUND,
               "model file missing (run scripts/setup)");
    return ccc_file_read(path, out);
}

ccc_status ccc_detect_manifest_load_files(const char *model_dir, const char *manifest_path,
                                          const char *trusted_key_path, ccc_buf *json,
                                          ccc_buf *bin, ccc_detect_manifest_info *info)
{
    ccc_status st = CCC_OK;
    EVP_PKEY *key = NULL;
    char path[4096];
    ccc_buf man;
    ccc_buf_init(&man, CCC_DETECT_MANIFEST_MAX_SIZE);
    if (manifest_path) {
        CCC_TRY(read_file(manifest_path, &man));
    } else {
        CCC_TRY(join(path, sizeof path, model_dir, CCC_DETECT_MANIFEST_FILE));
        if (access(path, F_OK) != 0)
            CCC_TRY(join(path, sizeof path, CCC_SOURCE_DIR "/models", CCC_DETECT_MANIFEST_FILE));
        CCC_TRY(read_file(path, &man));
    }
    const char *env_key = getenv("CCC_MODEL_TRUSTED_KEY");
    if (trusted_key_path)
        CCC_TRY(ccc_detect_key_read_pem(trusted_key_path, false, &key));
    else if (env_key && *env_key)
        CCC_TRY(ccc_detect_key_read_pem(env_key, false, &key));
    else
        CCC_TRY(ccc_detect_release_key(&key));
    CCC_TRY(join(path, sizeof path, model_dir, JSON_NAME));
    CCC_TRY(read_file(path, json));
    CCC_TRY(join(path, sizeof path, model_dir, BIN_NAME));
    CCC_TRY(read_file(path, bin));
    CCC_TRY(ccc_detect_manifest_verify(ccc_buf_bytes(&man), key, ccc_buf_bytes(json),
                                       ccc_buf_bytes(bin), info));
    CCC_TRY(ccc_detect_manifest_check_ops(info, ccc_buf_bytes(json)));
out:
    if (st != CCC_OK) {
        ccc_buf_wipe(json);
        ccc_buf_wipe(bin);
    }
    EVP_PKEY_free(key);
    ccc_buf_wipe(&man);
    return st;
}
