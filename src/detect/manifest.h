/*
 * detect/manifest — the signed model manifest.
 *
 * A model is data, so the data is what we sign. The manifest is a
 * COSE_Sign1 (RFC 9052 §4.2), alg EdDSA with an Ed25519 key (RFC 9053
 * §2.2), payload attached. We chose COSE_Sign1 over a detached raw Ed25519
 * signature because the receipt and policy formats are COSE too, the
 * protected header binds the algorithm, and one verifier (module cose)
 * serves all of them. The payload is deterministic CBOR (RFC 8949 §4.2.1,
 * decoded with CCC_CBOR_CANONICAL, so one manifest has exactly one
 * encoding and its SHA-256 can be bound into receipts and PCRs):
 *
 *   {
 *     "format":    "ccc-model-manifest/1",
 *     "model":     "centernet",
 *     "files":     [{"name": "centernet.json", "size": uint, "sha256": bstr .size 32},
 *                   {"name": "centernet.bin",  "size": uint, "sha256": bstr .size 32}],
 *     "ops":       [tstr, ...],       sorted; every op the graph may use
 *     "input":     {"name": "tower_0/images", "shape": [1, 512, 512, 3]},
 *     "outputs":   ["tower_0/detections"],
 *     "labels":    [80 tstr],         COCO, 0-based ("cat" at 15)
 *     "threshold_milli": 200,         default min confidence x 1000 (1..999)
 *     "iou_milli": 400, "max_boxes": 10
 *   }
 * (integers rather than floats: our canonical CBOR profile has no floats.)
 *
 * Trust: the loader accepts a manifest only if it verifies under a TRUSTED
 * key: the project's release public key compiled into the binary
 * (release_key.c; its private half is never in the repository), or a key
 * the user names explicitly (--trusted-key / CCC_MODEL_TRUSTED_KEY, a PEM
 * public key). Then each file's size and SHA-256 must match, the graph may
 * use only ops the manifest lists, and the labels must be the ones this
 * build prints. Re-signing with your own key: `ccc model sign --key
 * my.pem`, then run with `--trusted-key my.pub.pem`.
 */
#ifndef CCC_DETECT_MANIFEST_H
#define CCC_DETECT_MANIFEST_H

#include <openssl/evp.h>

#include "base/base.h"


#define CCC_DETECT_MANIFEST_FORMAT "ccc-model-manifest/1"
#define CCC_DETECT_MANIFEST_FILE "centernet.manifest"
#define CCC_DETECT_MANIFEST_MAX_SIZE (64u << 10)
#define CCC_DETECT_MANIFEST_MAX_OPS 64

/* What a verified manifest says (strings are copies, owned by the struct). */
typedef struct ccc_detect_manifest_info {
    uint8_t sha256[32];  /* SHA-256 of the whole COSE_Sign1 (for receipts)  */
    size_t op_count;
    char ops[CCC_DETECT_MANIFEST_MAX_OPS][48];
    unsigned threshold_milli;
    unsigned iou_milli;
    unsigned max_boxes;
} ccc_detect_manifest_info;

/*
 * Build the canonical CBOR payload for `model_json` + `weights`: hashes,
 * sizes, the graph's op set (read by loading the model with module nn),
 * names, labels and defaults. Appends to `payload`.
 */
CCC_MUST_USE ccc_status ccc_detect_manifest_build(ccc_bytes model_json, ccc_bytes weights,
                                                  ccc_buf *payload);

/* COSE_Sign1-sign `payload` with an Ed25519 private `key`; appends to `out`. */
CCC_MUST_USE ccc_status ccc_detect_manifest_sign(EVP_PKEY *key, ccc_bytes payload,
                                                 ccc_buf *out);

/*
 * Verify `manifest` with `key` (Ed25519 public key) and check the two files
 * against it. Errors: CCC_ERR_PARSE (malformed), CCC_ERR_CRYPTO (bad
 * signature, wrong key type, or a file whose size/SHA-256 differs),
 * CCC_ERR_UNSUPPORTED (another format version).
 */
CCC_MUST_USE ccc_status ccc_detect_manifest_verify(ccc_bytes manifest, EVP_PKEY *key,
                                                   ccc_bytes model_json, ccc_bytes weights,
                                                   ccc_detect_manifest_info *info);

/* The compiled-in release public key (caller frees with EVP_PKEY_free). */
CCC_MUST_USE ccc_status ccc_detect_release_key(EVP_PKEY **out);

/* Read a PEM public key (or private key: its public half is used). */
CCC_MUST_USE ccc_status ccc_detect_key_read_pem(const char *path, bool want_private,
                                                EVP_PKEY **out);

/*
 * Find, verify and read a model directory (signature, file hashes, op set): the manifest is
 * `manifest_path` if given, else <model_dir>/centernet.manifest if it
 * exists, else the repository's models/centernet.manifest. The trusted key
 * is `trusted_key_path` if given, else $CCC_MODEL_TRUSTED_KEY if set, else
 * the release key. On success `json` and `bin` hold the verified files.
 */
CCC_MUST_USE ccc_status ccc_detect_manifest_load_files(const char *model_dir,
                                                       const char *manifest_path,
                                                       const char *trusted_key_path,
                                                       ccc_buf *json, ccc_buf *bin,
                                                       ccc_detect_manifest_info *info);

/* CCC_OK if every node op of `model_json` (modelTopology.node[].op) is
 * listed in the manifest (CCC_ERR_POLICY otherwise). Called by
 * load_files on the verified bytes. */
CCC_MUST_USE ccc_status ccc_detect_manifest_check_ops(const ccc_detect_manifest_info *info,
                                                      ccc_bytes model_json);


#endif /* CCC_DETECT_MANIFEST_H */
