/*
 * enclave: the trusted worker's core end to end in one process — a client
 * encapsulates a sample photo to the installed key, the enclave answers,
 * the client decrypts the answer (count = the detector's own count) and
 * verifies the receipt against a simulated attestation document carrying
 * the enclave's receipt key. Then every failure path (replay by job id and
 * by ciphertext, tampering, wrong key id, non-image, oversized header, bad
 * job id), each followed by a good job; the frame service (ping, job,
 * job_error, a bad frame closing the connection); the log never holds the
 * photo; and the seccomp sandbox (forbidden calls kill, jobs still work).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <png.h>
#include <zlib.h>

#include "testutil.h"

#include "attest/attest.h"
#include "cbor/cbor.h"
#include "detect/manifest.h"
#include "nn/nn.h"
#include "egress/egress.h"
#include "enclave/enclave.h"
#include "image/image.h"
#include "log/log.h"
#include "nsm/nsm.h"
#include "policy/policy.h"
#include "receipt/receipt.h"

#define KEY_ID 7
#define OTHER_KEY_ID 9

/* Everything the tests share: built once (model loads are slow). */
static struct {
    char model_dir[4096];
    char manifest[4096];
    uint8_t model_sha[32];
    ccc_policy policy;
    uint8_t policy_sha[32];
    ccc_nsm_ca ca;
    ccc_nsm_sim sim;
    ccc_ohttp_gateway_key gk, other;
    ccc_enclave *e;
    ccc_buf doc;
    ccc_detect_model *ref; /* the detector as `ccc detect` runs it */
    char *log_data;
    size_t log_size;
    FILE *log;
    unsigned jobs;
} F;

static uint64_t now_ms(void) { return (uint64_t)time(NULL) * 1000u; }

static ccc_detect_options detect_opts(void)
{
    ccc_detect_options o = {.threads = 2, .manifest_path = F.manifest};
    return o;
}

static void make_gateway_key(ccc_ohttp_gateway_key *gk, uint8_t id)
{
    ccc_hpke_keypair kp;
    assert_int_equal(ccc_hpke_keypair_generate(&kp), CCC_OK);
    ccc_ohttp_symmetric_alg algs[2] = {{CCC_HPKE_KDF_HKDF_SHA256, CCC_HPKE_AEAD_AES_256_GCM},
                                       {CCC_HPKE_KDF_HKDF_SHA256, CCC_HPKE_AEAD_CHACHA20_POLY1305}};
    assert_int_equal(ccc_ohttp_gateway_key_init(gk, id, &kp, algs, 2), CCC_OK);
    ccc_hpke_keypair_wipe(&kp);
}

/* A document for enclave `e` from the simulated NSM (public_key = its SPKI). */
static void attest_enclave(ccc_enclave *e, ccc_buf *doc)
{
    uint8_t spki[CCC_RECEIPT_SPKI_SIZE];
    assert_int_equal(ccc_enclave_receipt_key_spki(e, spki), CCC_OK);
    ccc_buf_init(doc, CCC_ATTEST_MAX_DOC_SIZE);
    ccc_bytes none = ccc_bytes_of(NULL, 0);
    assert_int_equal(ccc_nsm_sim_attest(&F.sim, now_ms() - 1000, none, none,
                                        ccc_bytes_of(spki, sizeof spki), doc),
                     CCC_OK);
}

static ccc_enclave *new_enclave_with(size_t replay_capacity)
{
    ccc_enclave_config cfg = {.model_dir = F.model_dir,
                              .detect = detect_opts(),
                              .policy = &F.policy,
                              .policy_sha256 = F.policy_sha,
                              .replay_capacity = replay_capacity};
    ccc_enclave *e = NULL;
    if (ccc_enclave_new(&cfg, &e) != CCC_OK)
        fail_msg("enclave: %s (run scripts/setup)", ccc_error_detail());
    return e;
}

static ccc_enclave *new_enclave(void) { return new_enclave_with(0); }

static int setup(void **state)
{
    (void)state;
    snprintf(F.model_dir, sizeof F.model_dir, "%s", test_path("data/models"));
    snprintf(F.manifest, sizeof F.manifest, "%s", test_path("models/centernet.manifest"));
    /* The model manifest's hash, which the policy must accept. */
    ccc_buf json, bin;
    ccc_buf_init(&json, CCC_NN_MAX_JSON_SIZE);
    ccc_buf_init(&bin, CCC_NN_MAX_WEIGHTS_SIZE);
    ccc_detect_manifest_info info;
    if (ccc_detect_manifest_load_files(F.model_dir, F.manifest, NULL, &json, &bin, &info) !=
        CCC_OK)
        fail_msg("model: %s (run scripts/setup)", ccc_error_detail());
    memcpy(F.model_sha, info.sha256, 32);
    ccc_buf_wipe(&json);
    ccc_buf_wipe(&bin);
    ccc_detect_options o = detect_opts();
    assert_int_equal(ccc_detect_model_load(F.model_dir, &o, &F.ref), CCC_OK);

    /* The simulated NSM, booted and measured like a launch. */
    int64_t now = (int64_t)time(NULL);
    ccc_nsm_ca_init(&F.ca);
    assert_int_equal(ccc_nsm_ca_generate(&F.ca, now - 3600), CCC_OK);
    ccc_nsm_sim_init(&F.sim);
    assert_int_equal(ccc_nsm_sim_boot(&F.sim, &F.ca, now), CCC_OK);
    int fd = open("/proc/self/exe", O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(ccc_nsm_sim_measure_fd(&F.sim, fd), CCC_OK);
    close(fd);

    /* A signed policy accepting that PCR0 and the model. */
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(pkey);
    ccc_policy *p = &F.policy;
    memset(p, 0, sizeof *p);
    p->version = 1;
    assert_int_equal(ccc_attest_pcr_set_add(&p->sets[0], 0,
                                            ccc_bytes_of(F.sim.pcrs[0], CCC_NSM_PCR_SIZE)),
                     CCC_OK);
    p->set_count = 1;
    p->egress_max_answer_bytes = 1024;
    p->egress_max_boxes = 4;
    p->tou_max_body_bytes = 16u << 20;
    p->tou_rate_per_minute = 60;
    memcpy(p->manifests[0], F.model_sha, 32);
    p->manifest_count = 1;
    ccc_buf bundle;
    ccc_buf_init(&bundle, CCC_POLICY_MAX_BUNDLE_SIZE);
    assert_int_equal(ccc_policy_sign(p, pkey, &bundle), CCC_OK);
    assert_int_equal(ccc_policy_verify(ccc_buf_bytes(&bundle), pkey, p, F.policy_sha), CCC_OK);
    ccc_buf_wipe(&bundle);
    EVP_PKEY_free(pkey);
    assert_int_equal(ccc_nsm_sim_extend(&F.sim, CCC_NSM_PCR_MANIFEST, ccc_bytes_of(F.model_sha, 32)),
                     CCC_OK);
    assert_int_equal(ccc_nsm_sim_extend(&F.sim, CCC_NSM_PCR_POLICY, ccc_bytes_of(F.policy_sha, 32)),
                     CCC_OK);

    /* The enclave, its document and its keys. */
    F.log = open_memstream(&F.log_data, &F.log_size);
    assert_non_null(F.log);
    ccc_log_init(F.log, "enclave", CCC_LOG_DEBUG);
    F.e = new_enclave();
    attest_enclave(F.e, &F.doc);
    assert_int_equal(ccc_enclave_set_attestation(F.e, ccc_buf_bytes(&F.doc)), CCC_OK);
    make_gateway_key(&F.gk, KEY_ID);
    make_gateway_key(&F.other, OTHER_KEY_ID);
    assert_int_equal(ccc_enclave_install_keys(F.e, &F.gk, 1), CCC_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ccc_enclave_free(F.e);
    ccc_detect_model_free(F.ref);
    ccc_ohttp_gateway_key_wipe(&F.gk);
    ccc_ohttp_gateway_key_wipe(&F.other);
    ccc_buf_wipe(&F.doc);
    ccc_nsm_sim_wipe(&F.sim);
    ccc_nsm_ca_wipe(&F.ca);
    ccc_log_init(stderr, "enclave", CCC_LOG_INFO);
    if (F.log != NULL)
        fclose(F.log);
    free(F.log_data);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Client side                                                               */
/* ------------------------------------------------------------------------ */

/* Encapsulate `plain` to gateway key `gk`'s config (client context kept). */
static void encapsulate(ccc_ohttp_ctx *c, const ccc_ohttp_gateway_key *gk, ccc_bytes plain,
                        ccc_buf *enc)
{
    ccc_ohttp_ctx_init(c);
    ccc_hpke_suite suite;
    assert_int_equal(ccc_ohttp_key_config_choose(&gk->config, CCC_HPKE_AEAD_AES_256_GCM, &suite),
                     CCC_OK);
    ccc_buf_init(enc, plain.size + CCC_OHTTP_REQUEST_OVERHEAD);
    uint8_t *p = NULL;
    assert_int_equal(ccc_buf_extend(enc, plain.size + CCC_OHTTP_REQUEST_OVERHEAD, &p), CCC_OK);
    size_t n = 0;
    assert_int_equal(ccc_ohttp_request_encapsulate(c, &gk->config, suite, plain.ptr, plain.size, p,
                                                   enc->size, &n),
                     CCC_OK);
    assert_int_equal(n, enc->size);
}

static void next_job_id(char *id, size_t size) { snprintf(id, size, "job-%u", ++F.jobs); }

/* Decrypt a result, check the answer against `want_count`, verify the
 * receipt against document `doc`. */
static void check_result(ccc_ohttp_ctx *c, const char *job_id, ccc_bytes enc_request,
                         const ccc_enclave_result *r, ccc_bytes doc, size_t want_count,
                         ccc_egress_answer *parsed)
{
    uint8_t answer[CCC_EGRESS_MAX_ANSWER_SIZE];
    size_t answer_size = 0;
    /* the receipt's answer commitment is salted with what only this
     * client's context knows (exported before the response consumes it) */
    uint8_t salt[CCC_RECEIPT_ANSWER_SALT_SIZE];
    assert_int_equal(ccc_hpke_ctx_export(&c->hpke,
                                         ccc_bytes_of(CCC_RECEIPT_ANSWER_SALT_LABEL,
                                                      sizeof CCC_RECEIPT_ANSWER_SALT_LABEL - 1),
                                         salt, sizeof salt),
                     CCC_OK);
    assert_int_equal(ccc_ohttp_response_decapsulate(c, r->response.data, r->response.size, answer,
                                                    sizeof answer, &answer_size),
                     CCC_OK);
    ccc_egress_policy ep = ccc_egress_policy_from_limits(F.policy.egress_max_answer_bytes,
                                                         F.policy.egress_max_boxes);
    assert_int_equal(ccc_egress_check(ccc_bytes_of(answer, answer_size), &ep, parsed), CCC_OK);
    assert_int_equal(parsed->count, want_count);
    assert_string_equal(parsed->model, CCC_ENCLAVE_MODEL_ID);

    ccc_attest_doc d;
    ccc_attest_doc_init(&d);
    assert_int_equal(ccc_attest_doc_parse(&d, doc, NULL), CCC_OK);
    ccc_receipt_msg m;
    ccc_receipt_msg_init(&m);
    assert_int_equal(ccc_receipt_parse(&m, ccc_buf_bytes(&r->receipt)), CCC_OK);
    uint8_t req_sha[32], ans_sha[32], plain[32];
    assert_int_equal(ccc_receipt_sha256(enc_request, req_sha), CCC_OK);
    assert_int_equal(ccc_receipt_answer_commit(salt, ccc_bytes_of(answer, answer_size), ans_sha),
                     CCC_OK);
    assert_int_equal(ccc_receipt_sha256(ccc_bytes_of(answer, answer_size), plain), CCC_OK);
    ccc_receipt_msg pm;
    ccc_receipt_msg_init(&pm);
    assert_int_equal(ccc_receipt_parse(&pm, ccc_buf_bytes(&r->receipt)), CCC_OK);
    /* the host, which has the receipt, cannot test a guessed answer */
    assert_memory_not_equal(pm.receipt.answer_sha256, plain, 32);
    ccc_receipt_msg_wipe(&pm);
    ccc_receipt_expect ex = {.job_id = job_id,
                             .request_sha256 = req_sha,
                             .answer_sha256 = ans_sha,
                             .policy_sha256 = F.policy_sha,
                             .model_sha256 = F.model_sha,
                             .model_allowed = (const uint8_t(*)[32])F.policy.manifests,
                             .model_allowed_count = F.policy.manifest_count};
    if (ccc_receipt_verify(&m, &d, &ex) != CCC_OK)
        fail_msg("receipt: %s", ccc_error_detail());
    /* The same receipt claims nothing about another job or answer. */
    ccc_receipt_expect other = ex;
    other.job_id = "someone-else";
    assert_int_equal(ccc_receipt_verify(&m, &d, &other), CCC_ERR_POLICY);
    uint8_t wrong[32];
    memcpy(wrong, ans_sha, 32);
    wrong[0] ^= 1;
    other = ex;
    other.answer_sha256 = wrong;
    assert_int_equal(ccc_receipt_verify(&m, &d, &other), CCC_ERR_POLICY);
    ccc_receipt_msg_wipe(&m);
    ccc_attest_doc_wipe(&d);
}

/* Cats the reference detector finds in encoded image `img`. */
static size_t reference_count(ccc_bytes img)
{
    ccc_image dec;
    ccc_image_init(&dec);
    assert_int_equal(ccc_image_decode(img, NULL, &dec), CCC_OK);
    ccc_detect_result r;
    assert_int_equal(ccc_detect_model_run(F.ref, &dec, ccc_detect_model_threshold(F.ref), &r, NULL),
                     CCC_OK);
    ccc_image_wipe(&dec);
    return r.cat_count;
}

/* A whole good job for encoded image `img`; returns the parsed answer. */
static void good_job(ccc_bytes img, ccc_egress_answer *parsed)
{
    char id[32];
    next_job_id(id, sizeof id);
    ccc_ohttp_ctx c;
    ccc_buf enc;
    encapsulate(&c, &F.gk, img, &enc);
    ccc_enclave_result r;
    ccc_enclave_result_init(&r);
    uint64_t seq = ccc_enclave_jobs_done(F.e);
    if (ccc_enclave_process_job(F.e, id, strlen(id), ccc_buf_bytes(&enc), now_ms(), &r) != CCC_OK)
        fail_msg("job: %s", ccc_error_detail());
    assert_int_equal(ccc_enclave_jobs_done(F.e), seq + 1);
    check_result(&c, id, ccc_buf_bytes(&enc), &r, ccc_buf_bytes(&F.doc), reference_count(img),
                 parsed);
    ccc_enclave_result_wipe(&r);
    ccc_ohttp_ctx_wipe(&c);
    ccc_buf_wipe(&enc);
}

/* A job that must fail with `want`; the result stays empty. */
static void bad_job(const char *id, size_t id_size, ccc_bytes enc_request, ccc_status want)
{
    ccc_enclave_result r;
    ccc_enclave_result_init(&r);
    uint64_t seq = ccc_enclave_jobs_done(F.e);
    ccc_status st = ccc_enclave_process_job(F.e, id, id_size, enc_request, now_ms(), &r);
    if (st != want)
        fail_msg("want %s, got %s (%s)", ccc_status_name(want), ccc_status_name(st),
                 ccc_error_detail());
    assert_int_equal(r.response.size, 0);
    assert_int_equal(r.receipt.size, 0);
    assert_int_equal(ccc_enclave_jobs_done(F.e), seq);
    ccc_enclave_result_wipe(&r);
}

static void read_sample(const char *name, ccc_buf *out)
{
    char rel[256];
    snprintf(rel, sizeof rel, "data/samples/%s", name);
    test_read_file(test_path(rel), out); /* fails (not skips) when missing */
}

/* chelsea.png's left 300x300 square, as a PNG: the model sees a cat there
 * (tests/test_detect.c, pipeline_counts_the_cat_in_a_chelsea_crop). */
static void chelsea_crop_png(ccc_buf *out)
{
    ccc_buf file;
    read_sample("chelsea.png", &file);
    ccc_image img;
    ccc_image_init(&img);
    assert_int_equal(ccc_image_decode(ccc_buf_bytes(&file), NULL, &img), CCC_OK);
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = 300;
    pi.height = 300;
    pi.format = PNG_FORMAT_RGB;
    png_alloc_size_t size = 0;
    png_int_32 stride = (png_int_32)(img.width * 3);
    assert_true(png_image_write_to_memory(&pi, NULL, &size, 0, img.rgb, stride, NULL));
    ccc_buf_init(out, size);
    uint8_t *p = NULL;
    assert_int_equal(ccc_buf_extend(out, size, &p), CCC_OK);
    assert_true(png_image_write_to_memory(&pi, p, &size, 0, img.rgb, stride, NULL));
    out->size = size;
    ccc_image_wipe(&img);
    ccc_buf_wipe(&file);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */
/* ------------------------------------------------------------------------ */

static void samples_end_to_end(void **state)
{
    (void)state;
    static const char *const names[] = {"chelsea.png", "coffee.png", "rocket.jpg"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        ccc_buf img;
        read_sample(names[i], &img);
        ccc_egress_answer a;
        good_job(ccc_buf_bytes(&img), &a);
        ccc_buf_wipe(&img);
    }
    /* A photo with a cat: count 1, one box (the policy allows 4). */
    ccc_buf crop;
    chelsea_crop_png(&crop);
    ccc_egress_answer a;
    good_job(ccc_buf_bytes(&crop), &a);
    assert_int_equal(a.count, 1);
    assert_true(a.has_boxes);
    assert_int_equal(a.box_count, 1);
    assert_int_equal(a.confidence_milli, 390);
    ccc_buf_wipe(&crop);
}

static void failures_then_good_jobs(void **state)
{
    (void)state;
    ccc_buf img, crop;
    read_sample("coffee.png", &img);
    chelsea_crop_png(&crop);
    ccc_egress_answer a;

    /* Replay: the same ciphertext again, under its job id and a new one;
     * and the completed job id with a fresh ciphertext. */
    ccc_ohttp_ctx c;
    ccc_buf enc;
    encapsulate(&c, &F.gk, ccc_buf_bytes(&crop), &enc);
    ccc_enclave_result r;
    ccc_enclave_result_init(&r);
    assert_int_equal(
        ccc_enclave_process_job(F.e, "replay-1", 8, ccc_buf_bytes(&enc), now_ms(), &r), CCC_OK);
    ccc_ohttp_ctx_wipe(&c);
    /* A redelivery (same id, same ciphertext): the kept answer and receipt,
     * byte for byte, without a second run or receipt. */
    uint64_t done = ccc_enclave_jobs_done(F.e);
    ccc_enclave_result again;
    ccc_enclave_result_init(&again);
    assert_int_equal(
        ccc_enclave_process_job(F.e, "replay-1", 8, ccc_buf_bytes(&enc), now_ms(), &again),
        CCC_OK);
    assert_int_equal(again.response.size, r.response.size);
    assert_memory_equal(again.response.data, r.response.data, r.response.size);
    assert_int_equal(again.receipt.size, r.receipt.size);
    assert_memory_equal(again.receipt.data, r.receipt.data, r.receipt.size);
    assert_int_equal(ccc_enclave_jobs_done(F.e), done);
    ccc_enclave_result_wipe(&again);
    ccc_enclave_result_wipe(&r);
    bad_job("replay-2", 8, ccc_buf_bytes(&enc), CCC_ERR_REPLAY);
    ccc_buf enc2;
    encapsulate(&c, &F.gk, ccc_buf_bytes(&crop), &enc2);
    ccc_ohttp_ctx_wipe(&c);
    bad_job("replay-1", 8, ccc_buf_bytes(&enc2), CCC_ERR_REPLAY);
    good_job(ccc_buf_bytes(&img), &a);

    /* Tampering: every region of the message (header, enc, ciphertext,
     * tag), each failing job leaving the next good one unharmed. */
    static const size_t at[] = {1, 3, 5, 8, 20, 40, 100, 1000, (size_t)-1};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        size_t off = at[i] == (size_t)-1 ? enc2.size - 1 : at[i];
        enc2.data[off] ^= 0x40;
        ccc_enclave_result rr;
        ccc_enclave_result_init(&rr);
        ccc_status st =
            ccc_enclave_process_job(F.e, "tamper", 6, ccc_buf_bytes(&enc2), now_ms(), &rr);
        assert_int_not_equal(st, CCC_OK);
        assert_true(st == CCC_ERR_CRYPTO || st == CCC_ERR_UNSUPPORTED || st == CCC_ERR_PARSE);
        if (off >= 7)
            assert_int_equal(st, CCC_ERR_CRYPTO);
        assert_int_equal(rr.response.size, 0);
        ccc_enclave_result_wipe(&rr);
        enc2.data[off] ^= 0x40;
    }
    /* Truncated: too short to be a request, and one byte short. */
    bad_job("trunc", 5, ccc_bytes_of(enc2.data, 54), CCC_ERR_PARSE);
    bad_job("trunc", 5, ccc_bytes_of(enc2.data, enc2.size - 1), CCC_ERR_CRYPTO);
    /* The untampered message still works (the failures recorded nothing). */
    assert_int_equal(ccc_enclave_process_job(F.e, "tamper", 6, ccc_buf_bytes(&enc2), now_ms(), &r),
                     CCC_OK);
    ccc_enclave_result_wipe(&r);
    ccc_buf_wipe(&enc2);
    good_job(ccc_buf_bytes(&img), &a);

    /* A key id that is not installed. */
    encapsulate(&c, &F.other, ccc_buf_bytes(&img), &enc2);
    ccc_ohttp_ctx_wipe(&c);
    bad_job("wrong-key", 9, ccc_buf_bytes(&enc2), CCC_ERR_NOT_FOUND);
    ccc_buf_wipe(&enc2);
    good_job(ccc_buf_bytes(&img), &a);

    /* A valid ciphertext that carries no image. */
    const char text[] = "this is not a photo";
    encapsulate(&c, &F.gk, ccc_bytes_of(text, strlen(text)), &enc2);
    ccc_ohttp_ctx_wipe(&c);
    bad_job("not-image", 9, ccc_buf_bytes(&enc2), CCC_ERR_UNSUPPORTED);
    ccc_buf_wipe(&enc2);
    /* An empty plaintext. */
    encapsulate(&c, &F.gk, ccc_bytes_of("", 0), &enc2);
    ccc_ohttp_ctx_wipe(&c);
    bad_job("empty", 5, ccc_buf_bytes(&enc2), CCC_ERR_PARSE);
    ccc_buf_wipe(&enc2);
    good_job(ccc_buf_bytes(&img), &a);

    /* A 100-megapixel header (the crop's IHDR patched to 10000x10000,
     * CRC fixed): refused before any pixel memory. */
    ccc_buf big;
    ccc_buf_init(&big, crop.size);
    assert_int_equal(ccc_buf_append(&big, crop.data, crop.size), CCC_OK);
    for (int i = 0; i < 2; i++) {
        uint8_t *v = big.data + 16 + 4 * i;
        v[0] = 0, v[1] = 0, v[2] = 0x27, v[3] = 0x10; /* 10000 */
    }
    uLong crc = crc32(0, big.data + 12, 17);
    big.data[29] = (uint8_t)(crc >> 24), big.data[30] = (uint8_t)(crc >> 16);
    big.data[31] = (uint8_t)(crc >> 8), big.data[32] = (uint8_t)crc;
    encapsulate(&c, &F.gk, ccc_buf_bytes(&big), &enc2);
    ccc_ohttp_ctx_wipe(&c);
    bad_job("huge", 4, ccc_buf_bytes(&enc2), CCC_ERR_LIMIT);
    assert_int_equal(ccc_image_last_alloc_size(), 0);
    ccc_buf_wipe(&enc2);
    ccc_buf_wipe(&big);
    good_job(ccc_buf_bytes(&img), &a);

    /* Job ids: too long, empty, a space, a control byte. */
    char longid[CCC_ENCLAVE_MAX_JOB_ID + 2];
    memset(longid, 'a', sizeof longid);
    encapsulate(&c, &F.gk, ccc_buf_bytes(&img), &enc2);
    ccc_ohttp_ctx_wipe(&c);
    bad_job(longid, CCC_ENCLAVE_MAX_JOB_ID + 1, ccc_buf_bytes(&enc2), CCC_ERR_USAGE);
    bad_job(longid, 0, ccc_buf_bytes(&enc2), CCC_ERR_USAGE);
    bad_job("a b", 3, ccc_buf_bytes(&enc2), CCC_ERR_USAGE);
    bad_job("a\nb", 3, ccc_buf_bytes(&enc2), CCC_ERR_USAGE);
    /* 256 bytes is fine (and the same ciphertext was never completed). */
    ccc_enclave_result_init(&r);
    assert_int_equal(ccc_enclave_process_job(F.e, longid, CCC_ENCLAVE_MAX_JOB_ID,
                                             ccc_buf_bytes(&enc2), now_ms(), &r),
                     CCC_OK);
    ccc_enclave_result_wipe(&r);
    ccc_buf_wipe(&enc2);
    good_job(ccc_buf_bytes(&img), &a);

    ccc_buf_wipe(&enc);
    ccc_buf_wipe(&img);
    ccc_buf_wipe(&crop);
}

static void keys_and_attestation(void **state)
{
    (void)state;
    /* Install: 1 or 2 distinct key ids. */
    ccc_ohttp_gateway_key two[3] = {F.gk, F.other, F.gk};
    assert_int_equal(ccc_enclave_install_keys(F.e, two, 0), CCC_ERR_USAGE);
    assert_int_equal(ccc_enclave_install_keys(F.e, two, 3), CCC_ERR_USAGE);
    two[1].config.key_id = KEY_ID;
    assert_int_equal(ccc_enclave_install_keys(F.e, two, 2), CCC_ERR_USAGE);
    two[1].config.key_id = OTHER_KEY_ID;
    /* Two live keys (rotation): a request to either works. */
    assert_int_equal(ccc_enclave_install_keys(F.e, two, 2), CCC_OK);
    ccc_buf img;
    read_sample("coffee.png", &img);
    for (int k = 0; k < 2; k++) {
        ccc_ohttp_ctx c;
        ccc_buf enc;
        encapsulate(&c, k ? &F.other : &F.gk, ccc_buf_bytes(&img), &enc);
        ccc_enclave_result r;
        ccc_enclave_result_init(&r);
        char id[32];
        next_job_id(id, sizeof id);
        assert_int_equal(
            ccc_enclave_process_job(F.e, id, strlen(id), ccc_buf_bytes(&enc), now_ms(), &r),
            CCC_OK);
        ccc_enclave_result_wipe(&r);
        ccc_ohttp_ctx_wipe(&c);
        ccc_buf_wipe(&enc);
    }
    assert_int_equal(ccc_enclave_install_keys(F.e, &F.gk, 1), CCC_OK);

    /* A document that carries another key is refused. */
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    uint8_t spki[CCC_RECEIPT_SPKI_SIZE];
    assert_int_equal(ccc_receipt_key_spki(k, spki), CCC_OK);
    ccc_buf doc;
    ccc_buf_init(&doc, CCC_ATTEST_MAX_DOC_SIZE);
    ccc_bytes none = ccc_bytes_of(NULL, 0);
    assert_int_equal(
        ccc_nsm_sim_attest(&F.sim, now_ms(), none, none, ccc_bytes_of(spki, sizeof spki), &doc),
        CCC_OK);
    assert_int_equal(ccc_enclave_set_attestation(F.e, ccc_buf_bytes(&doc)), CCC_ERR_CRYPTO);
    ccc_buf_reset(&doc);
    assert_int_equal(ccc_nsm_sim_attest(&F.sim, now_ms(), none, none, none, &doc), CCC_OK);
    assert_int_equal(ccc_enclave_set_attestation(F.e, ccc_buf_bytes(&doc)), CCC_ERR_CRYPTO);
    assert_int_not_equal(ccc_enclave_set_attestation(F.e, ccc_bytes_of("junk", 4)), CCC_OK);
    ccc_buf_wipe(&doc);
    EVP_PKEY_free(k);
    /* ... and the enclave still signs with its document. */
    ccc_egress_answer a;
    good_job(ccc_buf_bytes(&img), &a);

    /* An enclave without document or keys is not ready. */
    ccc_enclave *fresh = new_enclave();
    ccc_enclave_result r;
    ccc_enclave_result_init(&r);
    assert_int_equal(ccc_enclave_process_job(fresh, "x", 1, ccc_buf_bytes(&img), now_ms(), &r),
                     CCC_ERR_BUSY);
    /* Each enclave has its own receipt key. */
    uint8_t s1[CCC_RECEIPT_SPKI_SIZE], s2[CCC_RECEIPT_SPKI_SIZE];
    assert_int_equal(ccc_enclave_receipt_key_spki(fresh, s1), CCC_OK);
    assert_int_equal(ccc_enclave_receipt_key_spki(F.e, s2), CCC_OK);
    assert_memory_not_equal(s1, s2, sizeof s1);
    assert_memory_equal(ccc_enclave_model_sha256(fresh), F.model_sha, 32);
    ccc_enclave_free(fresh);

    /* A policy that does not list the model: refused at start-up. */
    ccc_policy p = F.policy;
    p.manifests[0][0] ^= 1;
    ccc_enclave_config cfg = {.model_dir = F.model_dir,
                              .detect = detect_opts(),
                              .policy = &p,
                              .policy_sha256 = F.policy_sha};
    ccc_enclave *no = NULL;
    assert_int_equal(ccc_enclave_new(&cfg, &no), CCC_ERR_POLICY);
    assert_null(no);
    ccc_buf_wipe(&img);
}

/* The replay table is a ring: with room for 2 completed jobs, the third
 * completion forgets the first (documented bound), never the last two. */
static void replay_window_is_bounded(void **state)
{
    (void)state;
    ccc_enclave *e = new_enclave_with(2);
    ccc_buf doc, img;
    attest_enclave(e, &doc);
    assert_int_equal(ccc_enclave_set_attestation(e, ccc_buf_bytes(&doc)), CCC_OK);
    assert_int_equal(ccc_enclave_install_keys(e, &F.gk, 1), CCC_OK);
    read_sample("coffee.png", &img);
    ccc_buf enc[3];
    static const char *const ids[] = {"w-0", "w-1", "w-2"};
    for (int i = 0; i < 3; i++) {
        ccc_ohttp_ctx c;
        encapsulate(&c, &F.gk, ccc_buf_bytes(&img), &enc[i]);
        ccc_ohttp_ctx_wipe(&c);
        ccc_enclave_result r;
        ccc_enclave_result_init(&r);
        assert_int_equal(
            ccc_enclave_process_job(e, ids[i], 3, ccc_buf_bytes(&enc[i]), now_ms(), &r), CCC_OK);
        ccc_enclave_result_wipe(&r);
    }
    ccc_enclave_result r;
    ccc_enclave_result_init(&r);
    for (int i = 1; i < 3; i++) {
        assert_int_equal(
            ccc_enclave_process_job(e, ids[i], 3, ccc_buf_bytes(&enc[0]), now_ms(), &r),
            CCC_ERR_REPLAY);
        assert_int_equal(
            ccc_enclave_process_job(e, "w-new", 5, ccc_buf_bytes(&enc[i]), now_ms(), &r),
            CCC_ERR_REPLAY);
    }
    /* w-0 fell out of the window: the bound is real (and documented). */
    assert_int_equal(ccc_enclave_process_job(e, ids[0], 3, ccc_buf_bytes(&enc[0]), now_ms(), &r),
                     CCC_OK);
    assert_int_equal(ccc_enclave_jobs_done(e), 4);
    ccc_enclave_result_wipe(&r);
    for (int i = 0; i < 3; i++)
        ccc_buf_wipe(&enc[i]);
    ccc_buf_wipe(&img);
    ccc_buf_wipe(&doc);
    ccc_enclave_free(e);
}

/* A client that picks ChaCha20-Poly1305 gets its answer in that suite. */
static void chacha_client(void **state)
{
    (void)state;
    ccc_buf img, enc;
    chelsea_crop_png(&img);
    ccc_ohttp_ctx c;
    ccc_ohttp_ctx_init(&c);
    ccc_hpke_suite suite = {CCC_HPKE_KEM_X25519_SHA256, CCC_HPKE_KDF_HKDF_SHA256,
                            CCC_HPKE_AEAD_CHACHA20_POLY1305};
    ccc_buf_init(&enc, img.size + CCC_OHTTP_REQUEST_OVERHEAD);
    uint8_t *p = NULL;
    assert_int_equal(ccc_buf_extend(&enc, img.size + CCC_OHTTP_REQUEST_OVERHEAD, &p), CCC_OK);
    size_t n = 0;
    assert_int_equal(ccc_ohttp_request_encapsulate(&c, &F.gk.config, suite, img.data, img.size, p,
                                                   enc.size, &n),
                     CCC_OK);
    ccc_enclave_result r;
    ccc_enclave_result_init(&r);
    assert_int_equal(
        ccc_enclave_process_job(F.e, "chacha", 6, ccc_buf_bytes(&enc), now_ms(), &r), CCC_OK);
    ccc_egress_answer a;
    check_result(&c, "chacha", ccc_buf_bytes(&enc), &r, ccc_buf_bytes(&F.doc), 1, &a);
    ccc_enclave_result_wipe(&r);
    ccc_ohttp_ctx_wipe(&c);
    ccc_buf_wipe(&enc);
    ccc_buf_wipe(&img);
}

/* The photo never reaches the log: neither a canary string hidden after
 * the PNG's IEND (ignored by the decoder, so the job succeeds), nor its
 * base64/hex, nor any 16-byte window of the photo, nor the answer. */
static void log_holds_no_photo(void **state)
{
    (void)state;
    ccc_buf img;
    chelsea_crop_png(&img);
    uint8_t rnd[16];
    assert_int_equal(RAND_bytes(rnd, sizeof rnd), 1);
    char canary[64], hex[33];
    ccc_hex_encode(rnd, 16, hex);
    snprintf(canary, sizeof canary, "CANARY%sEND", hex);
    img.max_size += strlen(canary);
    assert_int_equal(ccc_buf_append(&img, canary, strlen(canary)), CCC_OK);
    uint8_t b64[64];
    int b64n = EVP_EncodeBlock(b64, rnd, 16);

    fflush(F.log);
    size_t before = F.log_size;
    ccc_egress_answer a;
    good_job(ccc_buf_bytes(&img), &a);
    /* and the same photo in failing jobs (replayed, tampered) */
    ccc_ohttp_ctx c;
    ccc_buf enc;
    encapsulate(&c, &F.gk, ccc_buf_bytes(&img), &enc);
    enc.data[enc.size / 2] ^= 1;
    bad_job("canary-bad", 10, ccc_buf_bytes(&enc), CCC_ERR_CRYPTO);
    ccc_ohttp_ctx_wipe(&c);
    ccc_buf_wipe(&enc);
    fflush(F.log);
    assert_true(F.log_size > before); /* the jobs were logged */
    const char *log = F.log_data;
    size_t n = F.log_size;
    assert_non_null(memmem(log + before, n - before, "\"event\":\"job_done\"", 18));
    assert_non_null(memmem(log + before, n - before, "\"job\":\"canary-bad\"", 18));
    assert_non_null(memmem(log + before, n - before, "\"status\":\"crypto\"", 17));
    assert_null(memmem(log, n, canary, strlen(canary)));
    assert_null(memmem(log, n, hex, 32));
    assert_null(memmem(log, n, b64, (size_t)b64n - 2));
    for (size_t i = 0; i + 16 <= img.size; i += 7)
        assert_null(memmem(log, n, img.data + i, 16));
    assert_null(memmem(log, n, "\"count\":", 8));
    assert_null(memmem(log, n, "confidence", 10));
    ccc_buf_wipe(&img);
}

/* ------------------------------------------------------------------------ */
/* Frame service                                                             */
/* ------------------------------------------------------------------------ */

typedef struct serve_arg {
    int fd;
    ccc_status st;
} serve_arg;

static void *serve_thread(void *p)
{
    serve_arg *a = p;
    a->st = ccc_enclave_serve(F.e, a->fd);
    close(a->fd);
    return NULL;
}

static void frames_served(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    serve_arg arg = {.fd = sv[1]};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, serve_thread, &arg), 0);
    int fd = sv[0];
    ccc_buf body;
    ccc_buf_init(&body, CCC_FRAME_MAX_BODY_SIZE);
    ccc_frame_type type;

    /* ping -> pong with the token */
    assert_int_equal(ccc_frame_write(fd, CCC_FRAME_PING, ccc_bytes_of("tok", 3)), CCC_OK);
    assert_int_equal(ccc_frame_read(fd, &type, &body), CCC_OK);
    assert_int_equal(type, CCC_FRAME_PONG);
    assert_int_equal(body.size, 3);
    assert_memory_equal(body.data, "tok", 3);

    /* job_request -> job_result */
    ccc_buf img, enc, req;
    chelsea_crop_png(&img);
    ccc_ohttp_ctx c;
    encapsulate(&c, &F.gk, ccc_buf_bytes(&img), &enc);
    ccc_buf_init(&req, CCC_FRAME_MAX_BODY_SIZE);
    assert_int_equal(ccc_enclave_job_request_encode("frame-1", 7, ccc_buf_bytes(&enc), &req),
                     CCC_OK);
    assert_int_equal(ccc_frame_write(fd, CCC_FRAME_JOB_REQUEST, ccc_buf_bytes(&req)), CCC_OK);
    assert_int_equal(ccc_frame_read(fd, &type, &body), CCC_OK);
    assert_int_equal(type, CCC_FRAME_JOB_RESULT);
    ccc_buf first; /* the whole job_result, to compare with a redelivery's */
    ccc_buf_init(&first, body.size);
    assert_int_equal(ccc_buf_append(&first, body.data, body.size), CCC_OK);
    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    assert_int_equal(ccc_cbor_decode(&doc, ccc_buf_bytes(&body), NULL, CCC_CBOR_CANONICAL), CCC_OK);
    const ccc_cbor_item *root = ccc_cbor_doc_root(&doc), *it;
    size_t pairs;
    assert_int_equal(ccc_cbor_get_map(root, &pairs), CCC_OK);
    assert_int_equal(pairs, 3);
    assert_int_equal(ccc_cbor_map_get_text(root, "job_id", &it), CCC_OK);
    assert_true(ccc_cbor_text_equals(it, "frame-1"));
    ccc_bytes resp, rcpt;
    assert_int_equal(ccc_cbor_map_get_text(root, "response", &it), CCC_OK);
    assert_int_equal(ccc_cbor_get_bytes(it, &resp), CCC_OK);
    assert_int_equal(ccc_cbor_map_get_text(root, "receipt", &it), CCC_OK);
    assert_int_equal(ccc_cbor_get_bytes(it, &rcpt), CCC_OK);
    ccc_enclave_result r;
    ccc_enclave_result_init(&r);
    assert_int_equal(ccc_buf_append_bytes(&r.response, resp), CCC_OK);
    assert_int_equal(ccc_buf_append_bytes(&r.receipt, rcpt), CCC_OK);
    ccc_egress_answer a;
    check_result(&c, "frame-1", ccc_buf_bytes(&enc), &r, ccc_buf_bytes(&F.doc), 1, &a);
    ccc_enclave_result_wipe(&r);
    ccc_cbor_doc_wipe(&doc);
    ccc_ohttp_ctx_wipe(&c);

    /* the same request again (a redelivery) -> the same job_result, byte
     * for byte */
    assert_int_equal(ccc_frame_write(fd, CCC_FRAME_JOB_REQUEST, ccc_buf_bytes(&req)), CCC_OK);
    assert_int_equal(ccc_frame_read(fd, &type, &body), CCC_OK);
    assert_int_equal(type, CCC_FRAME_JOB_RESULT);
    assert_int_equal(body.size, first.size);
    assert_memory_equal(body.data, first.data, first.size);
    ccc_buf_wipe(&first);
    /* the same ciphertext under another job id -> job_error "replay"; the
     * connection lives */
    ccc_buf_reset(&req);
    assert_int_equal(ccc_enclave_job_request_encode("frame-2", 7, ccc_buf_bytes(&enc), &req),
                     CCC_OK);
    assert_int_equal(ccc_frame_write(fd, CCC_FRAME_JOB_REQUEST, ccc_buf_bytes(&req)), CCC_OK);
    assert_int_equal(ccc_frame_read(fd, &type, &body), CCC_OK);
    assert_int_equal(type, CCC_FRAME_JOB_ERROR);
    static const uint8_t want_err[] = {0xa2, 0x65, 'c', 'l', 'a', 's', 's', 0x66, 'r', 'e',
                                       'p',  'l',  'a', 'y', 0x66, 'j', 'o', 'b', '_', 'i',
                                       'd',  0x67, 'f', 'r', 'a', 'm', 'e', '-', '2'};
    assert_int_equal(body.size, sizeof want_err);
    assert_memory_equal(body.data, want_err, sizeof want_err);
    assert_int_equal(ccc_frame_write(fd, CCC_FRAME_PING, ccc_bytes_of("", 0)), CCC_OK);
    assert_int_equal(ccc_frame_read(fd, &type, &body), CCC_OK);
    assert_int_equal(type, CCC_FRAME_PONG);

    /* a frame the enclave does not take poisons the connection */
    assert_int_equal(ccc_frame_write(fd, CCC_FRAME_JOB_RESULT, ccc_bytes_of("x", 1)), CCC_OK);
    assert_int_equal(ccc_frame_read(fd, &type, &body), CCC_ERR_NOT_FOUND); /* closed */
    pthread_join(t, NULL);
    assert_int_equal(arg.st, CCC_ERR_PARSE);
    close(fd);
    ccc_buf_wipe(&req);
    ccc_buf_wipe(&enc);
    ccc_buf_wipe(&img);
    ccc_buf_wipe(&body);
}

/* handle_frame without sockets: malformed bodies are frame errors. */
static void job_request_bodies(void **state)
{
    (void)state;
    ccc_buf reply;
    ccc_buf_init(&reply, 1u << 20);
    ccc_frame_type rt;
    ccc_buf good;
    ccc_buf_init(&good, 1024);
    assert_int_equal(ccc_enclave_job_request_encode("j1", 2, ccc_bytes_of("abc", 3), &good),
                     CCC_OK);
    static const uint8_t want[] = {0xa2, 0x66, 'j', 'o', 'b', '_', 'i', 'd', 0x62, 'j', '1',
                                   0x67, 'r',  'e', 'q', 'u', 'e', 's', 't', 0x43, 'a', 'b', 'c'};
    assert_int_equal(good.size, sizeof want);
    assert_memory_equal(good.data, want, sizeof want);
    /* A well-formed body with a too-short request: a job error. */
    assert_int_equal(ccc_enclave_handle_frame(F.e, CCC_FRAME_JOB_REQUEST, ccc_buf_bytes(&good),
                                              now_ms(), &rt, &reply),
                     CCC_OK);
    assert_int_equal(rt, CCC_FRAME_JOB_ERROR);
    /* Every truncation and every single-byte change that breaks the shape
     * is a frame error; none is ever a job result. */
    for (size_t n = 0; n < good.size; n++)
        assert_int_not_equal(ccc_enclave_handle_frame(F.e, CCC_FRAME_JOB_REQUEST,
                                                      ccc_bytes_of(good.data, n), now_ms(), &rt,
                                                      &reply),
                             CCC_OK);
    for (size_t i = 0; i < good.size; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            good.data[i] ^= (uint8_t)(1u << bit);
            ccc_status st = ccc_enclave_handle_frame(F.e, CCC_FRAME_JOB_REQUEST,
                                                     ccc_buf_bytes(&good), now_ms(), &rt, &reply);
            if (st == CCC_OK)
                assert_int_equal(rt, CCC_FRAME_JOB_ERROR);
            good.data[i] ^= (uint8_t)(1u << bit);
        }
    }
    /* A job id with a space, an extra key: frame errors. */
    ccc_buf bad;
    ccc_buf_init(&bad, 1024);
    assert_int_equal(ccc_enclave_job_request_encode("a b", 3, ccc_bytes_of("abc", 3), &bad),
                     CCC_OK);
    assert_int_equal(ccc_enclave_handle_frame(F.e, CCC_FRAME_JOB_REQUEST, ccc_buf_bytes(&bad),
                                              now_ms(), &rt, &reply),
                     CCC_ERR_PARSE);
    ccc_buf_wipe(&bad);
    /* Other frame types are refused. */
    assert_int_equal(ccc_enclave_handle_frame(F.e, CCC_FRAME_KEY_RESPONSE, ccc_bytes_of("", 0),
                                              now_ms(), &rt, &reply),
                     CCC_ERR_PARSE);
    ccc_buf_wipe(&good);
    ccc_buf_wipe(&reply);
}

/* ------------------------------------------------------------------------ */
/* Sandbox                                                                   */
/* ------------------------------------------------------------------------ */

#ifndef CCC_SANITIZED
/* In a child: a fresh enclave (its thread pool started in the child),
 * sandboxed, then one job whose response goes to `out_fd`; then `forbidden`
 * (which must kill the child). */
static void sandbox_child(int out_fd, ccc_bytes enc_request, int forbidden)
{
    ccc_log_init(stderr, "enclave", CCC_LOG_WARN);
    ccc_enclave *e = new_enclave();
    ccc_buf doc;
    attest_enclave(e, &doc);
    if (ccc_enclave_set_attestation(e, ccc_buf_bytes(&doc)) != CCC_OK ||
        ccc_enclave_install_keys(e, &F.gk, 1) != CCC_OK)
        _exit(10);
    ccc_enclave_result r;
    ccc_enclave_result_init(&r);
    if (ccc_enclave_sandbox_enter() != CCC_OK)
        _exit(11);
    if (forbidden == 4) /* the service loop on a socket, under the filter */
        _exit(ccc_enclave_serve(e, out_fd) == CCC_OK ? 0 : 30);
    if (ccc_enclave_process_job(e, "sandboxed", 9, enc_request, now_ms(), &r) != CCC_OK)
        _exit(12);
    if (ccc_fd_write_all(out_fd, r.response.data, r.response.size) != CCC_OK)
        _exit(13);
    close(out_fd);
    if (forbidden == 1) {
        int fd = open("/etc/hostname", O_RDONLY);
        _exit(fd >= 0 ? 20 : 21);
    }
    if (forbidden == 2) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        _exit(s >= 0 ? 22 : 23);
    }
    if (forbidden == 3) {
        char *argv[] = {"/bin/true", NULL};
        execv("/bin/true", argv);
        _exit(24);
    }
    _exit(0);
}
#endif

static void sandbox_stops_forbidden_calls(void **state)
{
    (void)state;
#ifdef CCC_SANITIZED
    /* The ASan/UBSan runtime makes syscalls of its own that the allowlist
     * refuses by design (tried: the sandboxed child is killed by SIGSYS
     * before its job completes); the filter is tested in the release build. */
    print_message("sandbox test skipped under the sanitizers: the sanitizer runtime needs "
                  "syscalls the enclave's seccomp allowlist forbids (SIGSYS)\n");
    skip();
#else
    ccc_buf img;
    chelsea_crop_png(&img);
    /* 0: a job, then exit; 1..3: a job, then open / socket / execv;
     * 4: the frame service on a socket pair (ping, job, clean close). */
    for (int forbidden = 0; forbidden <= 4; forbidden++) {
        ccc_ohttp_ctx c;
        ccc_buf enc;
        encapsulate(&c, &F.gk, ccc_buf_bytes(&img), &enc);
        int p[2];
        if (forbidden == 4)
            assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
        else
            assert_int_equal(pipe(p), 0);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            sandbox_child(p[1], ccc_buf_bytes(&enc), forbidden);
        }
        close(p[1]);
        ccc_buf resp;
        ccc_buf_init(&resp, CCC_ENCLAVE_MAX_RESPONSE_SIZE);
        if (forbidden == 4) {
            ccc_buf body, req;
            ccc_buf_init(&body, CCC_FRAME_MAX_BODY_SIZE);
            ccc_buf_init(&req, CCC_FRAME_MAX_BODY_SIZE);
            ccc_frame_type type;
            assert_int_equal(ccc_frame_write(p[0], CCC_FRAME_PING, ccc_bytes_of("sb", 2)), CCC_OK);
            assert_int_equal(ccc_frame_read(p[0], &type, &body), CCC_OK);
            assert_int_equal(type, CCC_FRAME_PONG);
            assert_int_equal(
                ccc_enclave_job_request_encode("sandboxed", 9, ccc_buf_bytes(&enc), &req), CCC_OK);
            assert_int_equal(ccc_frame_write(p[0], CCC_FRAME_JOB_REQUEST, ccc_buf_bytes(&req)),
                             CCC_OK);
            assert_int_equal(ccc_frame_read(p[0], &type, &body), CCC_OK);
            assert_int_equal(type, CCC_FRAME_JOB_RESULT);
            ccc_cbor_doc d;
            ccc_cbor_doc_init(&d);
            assert_int_equal(ccc_cbor_decode(&d, ccc_buf_bytes(&body), NULL, CCC_CBOR_CANONICAL),
                             CCC_OK);
            const ccc_cbor_item *it;
            ccc_bytes rb;
            assert_int_equal(ccc_cbor_map_get_text(ccc_cbor_doc_root(&d), "response", &it), CCC_OK);
            assert_int_equal(ccc_cbor_get_bytes(it, &rb), CCC_OK);
            assert_int_equal(ccc_buf_append_bytes(&resp, rb), CCC_OK);
            ccc_cbor_doc_wipe(&d);
            ccc_buf_wipe(&req);
            ccc_buf_wipe(&body);
        } else {
            uint8_t tmp[512];
            ssize_t n;
            while ((n = read(p[0], tmp, sizeof tmp)) > 0)
                assert_int_equal(ccc_buf_append(&resp, tmp, (size_t)n), CCC_OK);
        }
        close(p[0]);
        int ws = 0;
        assert_int_equal(waitpid(pid, &ws, 0), pid);
        if (forbidden == 0 || forbidden == 4) {
            if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
                fail_msg("sandboxed child: status 0x%x", ws);
        } else {
            if (!WIFSIGNALED(ws) || WTERMSIG(ws) != SIGSYS)
                fail_msg("forbidden call %d not stopped: status 0x%x", forbidden, ws);
        }
        /* The job done under the filter decrypts to the right answer. */
        uint8_t answer[CCC_EGRESS_MAX_ANSWER_SIZE];
        size_t an = 0;
        assert_int_equal(
            ccc_ohttp_response_decapsulate(&c, resp.data, resp.size, answer, sizeof answer, &an),
            CCC_OK);
        ccc_egress_answer a;
        ccc_egress_policy ep = ccc_egress_policy_from_limits(F.policy.egress_max_answer_bytes,
                                                             F.policy.egress_max_boxes);
        assert_int_equal(ccc_egress_check(ccc_bytes_of(answer, an), &ep, &a), CCC_OK);
        assert_int_equal(a.count, 1);
        ccc_buf_wipe(&resp);
        ccc_buf_wipe(&enc);
        ccc_ohttp_ctx_wipe(&c);
    }
    ccc_buf_wipe(&img);
#endif
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(samples_end_to_end),
        cmocka_unit_test(failures_then_good_jobs),
        cmocka_unit_test(keys_and_attestation),
        cmocka_unit_test(replay_window_is_bounded),
        cmocka_unit_test(chacha_client),
        cmocka_unit_test(log_holds_no_photo),
        cmocka_unit_test(frames_served),
        cmocka_unit_test(job_request_bodies),
        cmocka_unit_test(sandbox_stops_forbidden_calls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
