/*
 * The enclave's job_request handling: the input is a job_request frame
 * body (enclave.h), handled by ccc_enclave_handle_frame with a fixed
 * installed gateway key (derived from a constant, key id 1, so seeds carry
 * real ciphertexts and mutations reach decapsulation, the image decoder,
 * the detector, the egress guard and the receipt). A frame error is fine;
 * a reply must be a job_result or job_error in its exact shape.
 *
 * Needs the model (data/models, after scripts/setup).
 * Seeds: CCC_FUZZ_WRITE_SEEDS=DIR fuzz_enclave_job (or replay_enclave_job)
 * writes a valid job (an 8x8 PNG) and a non-image job into DIR.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <png.h>

#include "cbor/cbor.h"
#include "detect/manifest.h"
#include "enclave/enclave.h"
#include "fuzz.h"
#include "log/log.h"
#include "nn/nn.h"
#include "nsm/nsm.h"

#define DIE(x)                                                                                     \
    do {                                                                                           \
        if ((x) != CCC_OK) {                                                                       \
            fprintf(stderr, "fuzz_enclave_job: %s: %s\n", #x, ccc_error_detail());                 \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static ccc_enclave *E;
static ccc_ohttp_gateway_key GK;

static void fixed_gateway_key(void)
{
    ccc_hpke_keypair kp;
    static const char ikm[] = "ccc fuzz enclave gateway key, never used elsewhere";
    DIE(ccc_hpke_keypair_derive(&kp, ccc_bytes_of(ikm, sizeof ikm - 1)));
    ccc_ohttp_symmetric_alg alg = {CCC_HPKE_KDF_HKDF_SHA256, CCC_HPKE_AEAD_AES_256_GCM};
    DIE(ccc_ohttp_gateway_key_init(&GK, 1, &kp, &alg, 1));
    ccc_hpke_keypair_wipe(&kp);
}

static void write_seed(const char *dir, const char *name, const char *id, ccc_bytes plain)
{
    ccc_ohttp_ctx c;
    ccc_ohttp_ctx_init(&c);
    ccc_hpke_suite suite;
    DIE(ccc_ohttp_key_config_choose(&GK.config, CCC_HPKE_AEAD_AES_256_GCM, &suite));
    uint8_t enc[1024];
    size_t n = 0;
    DIE(ccc_ohttp_request_encapsulate(&c, &GK.config, suite, plain.ptr, plain.size, enc,
                                      sizeof enc, &n));
    ccc_buf body;
    ccc_buf_init(&body, 4096);
    DIE(ccc_enclave_job_request_encode(id, strlen(id), ccc_bytes_of(enc, n), &body));
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    DIE(ccc_file_write(path, body.data, body.size));
    ccc_buf_wipe(&body);
    ccc_ohttp_ctx_wipe(&c);
}

static void write_seeds(const char *dir)
{
    uint8_t rgb[8 * 8 * 3];
    for (size_t i = 0; i < sizeof rgb; i++)
        rgb[i] = (uint8_t)(i * 37u);
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = pi.height = 8;
    pi.format = PNG_FORMAT_RGB;
    uint8_t png[1024];
    png_alloc_size_t size = sizeof png;
    if (!png_image_write_to_memory(&pi, png, &size, 0, rgb, 24, NULL))
        abort();
    write_seed(dir, "png-8x8", "seed-png", ccc_bytes_of(png, size));
    write_seed(dir, "not-image", "seed-text", ccc_bytes_of("not an image", 12));
}

static void init(void)
{
    ccc_log_init(fopen("/dev/null", "w"), "fuzz", CCC_LOG_ERROR);
    fixed_gateway_key();
    const char *seeds = getenv("CCC_FUZZ_WRITE_SEEDS");
    if (seeds != NULL) {
        write_seeds(seeds);
        exit(0);
    }
    /* The model, and a policy that accepts it. */
    const char *model_dir = CCC_SOURCE_DIR "/data/models";
    const char *manifest = CCC_SOURCE_DIR "/models/centernet.manifest";
    ccc_buf json, bin;
    ccc_buf_init(&json, CCC_NN_MAX_JSON_SIZE);
    ccc_buf_init(&bin, CCC_NN_MAX_WEIGHTS_SIZE);
    ccc_detect_manifest_info info;
    DIE(ccc_detect_manifest_load_files(model_dir, manifest, NULL, &json, &bin, &info));
    ccc_buf_wipe(&json);
    ccc_buf_wipe(&bin);
    static ccc_policy p;
    p.version = 1;
    uint8_t pcr[48] = {1};
    DIE(ccc_attest_pcr_set_add(&p.sets[0], 0, ccc_bytes_of(pcr, sizeof pcr)));
    p.set_count = 1;
    p.egress_max_answer_bytes = 1024;
    p.egress_max_boxes = 4;
    p.tou_max_body_bytes = 1;
    p.tou_rate_per_minute = 1;
    memcpy(p.manifests[0], info.sha256, 32);
    p.manifest_count = 1;
    uint8_t policy_sha[32] = {2};
    ccc_enclave_config cfg = {.model_dir = model_dir,
                              .detect = {.threads = 1, .manifest_path = manifest},
                              .policy = &p,
                              .policy_sha256 = policy_sha};
    DIE(ccc_enclave_new(&cfg, &E));
    /* A simulated attestation document carrying the receipt key. */
    int64_t now = (int64_t)time(NULL);
    static ccc_nsm_ca ca;
    static ccc_nsm_sim sim;
    ccc_nsm_ca_init(&ca);
    DIE(ccc_nsm_ca_generate(&ca, now - 3600));
    ccc_nsm_sim_init(&sim);
    DIE(ccc_nsm_sim_boot(&sim, &ca, now));
    uint8_t spki[CCC_RECEIPT_SPKI_SIZE];
    DIE(ccc_enclave_receipt_key_spki(E, spki));
    ccc_buf doc;
    ccc_buf_init(&doc, CCC_ATTEST_MAX_DOC_SIZE);
    ccc_bytes none = ccc_bytes_of(NULL, 0);
    DIE(ccc_nsm_sim_attest(&sim, (uint64_t)now * 1000u, none, none,
                           ccc_bytes_of(spki, sizeof spki), &doc));
    DIE(ccc_enclave_set_attestation(E, ccc_buf_bytes(&doc)));
    ccc_buf_wipe(&doc);
    DIE(ccc_enclave_install_keys(E, &GK, 1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (E == NULL)
        init();
    static ccc_buf reply;
    static bool reply_init;
    if (!reply_init) {
        ccc_buf_init(&reply, 1u << 20);
        reply_init = true;
    }
    ccc_frame_type rt;
    ccc_status st = ccc_enclave_handle_frame(E, CCC_FRAME_JOB_REQUEST, ccc_bytes_of(data, size),
                                             (uint64_t)time(NULL) * 1000u, &rt, &reply);
    if (st != CCC_OK)
        return 0;
    if (rt != CCC_FRAME_JOB_RESULT && rt != CCC_FRAME_JOB_ERROR)
        abort();
    /* The reply is canonical CBOR: a map of 3 (result) or 2 (error). */
    ccc_cbor_doc d;
    ccc_cbor_doc_init(&d);
    if (ccc_cbor_decode(&d, ccc_buf_bytes(&reply), NULL, CCC_CBOR_CANONICAL) != CCC_OK)
        abort();
    size_t pairs = 0;
    if (ccc_cbor_get_map(ccc_cbor_doc_root(&d), &pairs) != CCC_OK ||
        pairs != (rt == CCC_FRAME_JOB_RESULT ? 3u : 2u))
        abort();
    ccc_cbor_doc_wipe(&d);
    return 0;
}
