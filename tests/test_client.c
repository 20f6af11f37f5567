/*
 * client: `ccc count`'s library against REAL server-side material built in
 * this process (no HTTP for most tests): a kms key store and its signed
 * configuration, a policy signed by a generated key, a simulated NSM that
 * measures this test binary and extends PCR16/17, and an in-process enclave
 * (src/enclave) that runs the detector. The §11 JSON documents are composed
 * here as ccc-host composes them.
 *
 * Covered: the whole path (verify config → seal → enclave → open) and its
 * failures — config signed by another kms key, policy by another key,
 * policy hash mismatch, rollback (older version, same version other
 * content; nothing recorded by a refused config), documents with a PCR
 * outside the policy, another root, PCR16/17 not matching, a receipt key
 * that is not Ed25519 or absent; each byte of the receipt flipped, a
 * receipt against another enclave's document, every byte of the answer
 * ciphertext flipped, a job id mismatch, a photo that is not an image or
 * is over the policy's limit (refused before encryption), malformed JSON
 * and base64; and the HTTP client against a small fake host on loopback
 * (submit, queued → processing → done polling, failed jobs, error classes).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "testutil.h"

#include "client/client.h"
#include "cose/cose.h"
#include "detect/manifest.h"
#include "enclave/enclave.h"
#include "image/image.h"
#include "kms/kms.h"
#include "nn/nn.h"
#include "nsm/nsm.h"

static struct {
    char tmp[256];
    char trust_dir[512];
    char nsm_dir[512];
    char model_dir[4096];
    char manifest[4096];
    uint8_t model_sha[32];
    uint8_t other_manifest[32];
    EVP_PKEY *policy_key;
    ccc_policy policy;
    uint8_t policy_sha[32];
    ccc_buf bundle;
    ccc_nsm_sim sim;
    ccc_kms_store *store;
    ccc_buf kms_cfg;
    ccc_enclave *e;
    ccc_buf doc;
    ccc_client_trust trust;
    ccc_buf crop; /* a PNG with one cat */
    unsigned states;
} F;

static uint64_t now_ms(void) { return (uint64_t)time(NULL) * 1000u; }

/* ------------------------------------------------------------------------ */
/* Server-side material                                                      */
/* ------------------------------------------------------------------------ */

/* Standard base64 with padding, malloc'ed and NUL-terminated. */
static char *b64(ccc_bytes in)
{
    char *out = malloc(4 * ((in.size + 2) / 3) + 1);
    assert_non_null(out);
    EVP_EncodeBlock((unsigned char *)out, in.ptr ? in.ptr : (const uint8_t *)"", (int)in.size);
    return out;
}

/* The §11 GET /v1/config body, as ccc-host writes it. */
static void config_json(ccc_bytes kms, ccc_bytes bundle, const ccc_bytes *docs, size_t count,
                        ccc_buf *out)
{
    json_t *att = json_array();
    for (size_t i = 0; i < count; i++) {
        char *s = b64(docs[i]);
        json_array_append_new(att, json_string(s));
        free(s);
    }
    char *k = b64(kms), *p = b64(bundle);
    json_t *j = json_pack("{s:i,s:s,s:s,s:o}", "v", 1, "kms_config", k, "policy", p,
                          "attestations", att);
    char *text = json_dumps(j, JSON_COMPACT);
    ccc_buf_init(out, CCC_CLIENT_MAX_CONFIG_JSON);
    assert_int_equal(ccc_buf_append(out, text, strlen(text)), CCC_OK);
    free(text);
    free(k);
    free(p);
    json_decref(j);
}

/* The §11 done-job body. */
static void done_json(const char *id, ccc_bytes response, ccc_bytes receipt, ccc_bytes doc,
                      ccc_buf *out)
{
    char *r = b64(response), *c = b64(receipt), *d = b64(doc);
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", id, "status", "done", "response", r,
                          "receipt", c, "attestation", d);
    char *text = json_dumps(j, JSON_COMPACT);
    ccc_buf_init(out, CCC_CLIENT_MAX_JOB_JSON);
    assert_int_equal(ccc_buf_append(out, text, strlen(text)), CCC_OK);
    free(text);
    free(r);
    free(c);
    free(d);
    json_decref(j);
}

enum { MEASURE_SELF, MEASURE_OTHER };

/*
 * A simulated NSM: the fixture's CA (same_root) or a fresh one; PCR0/2 of
 * this binary or of another file; PCR16/17 extended with m16/m17 (NULL:
 * not extended).
 */
static void boot_sim(ccc_nsm_sim *s, bool same_root, int measure, const uint8_t *m16,
                     const uint8_t *m17)
{
    int64_t now = (int64_t)time(NULL);
    ccc_nsm_ca ca;
    ccc_nsm_ca_init(&ca);
    if (same_root)
        assert_int_equal(ccc_nsm_ca_load(&ca, F.nsm_dir), CCC_OK);
    else
        assert_int_equal(ccc_nsm_ca_generate(&ca, now - 3600), CCC_OK);
    ccc_nsm_sim_init(s);
    assert_int_equal(ccc_nsm_sim_boot(s, &ca, now), CCC_OK);
    int fd = open(measure == MEASURE_SELF ? "/proc/self/exe" : test_path("tests/testutil.h"),
                  O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(ccc_nsm_sim_measure_fd(s, fd), CCC_OK);
    close(fd);
    if (m16)
        assert_int_equal(ccc_nsm_sim_extend(s, CCC_NSM_PCR_MANIFEST, ccc_bytes_of(m16, 32)),
                         CCC_OK);
    if (m17)
        assert_int_equal(ccc_nsm_sim_extend(s, CCC_NSM_PCR_POLICY, ccc_bytes_of(m17, 32)),
                         CCC_OK);
    ccc_nsm_ca_wipe(&ca);
}

/* A document from `s` carrying public key `pk` (NULL ptr: null). */
static void attest(const ccc_nsm_sim *s, ccc_bytes pk, ccc_buf *doc)
{
    ccc_buf_init(doc, CCC_ATTEST_MAX_DOC_SIZE);
    ccc_bytes none = ccc_bytes_of(NULL, 0);
    assert_int_equal(ccc_nsm_sim_attest(s, now_ms() - 1000, none, none, pk, doc), CCC_OK);
}

/* A fresh Ed25519 SPKI (another enclave's receipt key). */
static void other_spki(uint8_t spki[CCC_RECEIPT_SPKI_SIZE])
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(k);
    assert_int_equal(ccc_receipt_key_spki(k, spki), CCC_OK);
    EVP_PKEY_free(k);
}

static void sign_policy(const ccc_policy *p, EVP_PKEY *key, ccc_buf *out, uint8_t hash[32])
{
    ccc_buf_init(out, CCC_POLICY_MAX_BUNDLE_SIZE);
    assert_int_equal(ccc_policy_sign(p, key, out), CCC_OK);
    ccc_policy check;
    assert_int_equal(ccc_policy_verify(ccc_buf_bytes(out), key, &check, hash), CCC_OK);
}

/* chelsea.png's left 300x300 square as a PNG: the detector sees one cat
 * there (tests/test_detect.c). */
static void chelsea_crop(ccc_buf *out)
{
    ccc_buf file;
    test_read_file(test_path("data/samples/chelsea.png"), &file);
    ccc_image img, crop;
    ccc_image_init(&img);
    ccc_image_init(&crop);
    assert_int_equal(ccc_image_decode(ccc_buf_bytes(&file), NULL, &img), CCC_OK);
    assert_int_equal(ccc_image_crop(&img, 0, 0, 300, 300, &crop), CCC_OK);
    ccc_buf_init(out, 4u << 20);
    assert_int_equal(ccc_image_encode_png(&crop, out), CCC_OK);
    ccc_image_wipe(&crop);
    ccc_image_wipe(&img);
    ccc_buf_wipe(&file);
}

static void path_in(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", F.tmp, name);
}

/* A fresh state file path (never used before). */
static void new_state(char *out, size_t size)
{
    snprintf(out, size, "%s/state%u/sub/policy-state", F.tmp, ++F.states);
}

static int setup(void **state)
{
    (void)state;
    snprintf(F.tmp, sizeof F.tmp, "/tmp/ccc-client-test.XXXXXX");
    assert_non_null(mkdtemp(F.tmp));
    snprintf(F.model_dir, sizeof F.model_dir, "%s", test_path("data/models"));
    snprintf(F.manifest, sizeof F.manifest, "%s", test_path("models/centernet.manifest"));
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
    memset(F.other_manifest, 0x5a, 32);

    /* The NSM's CA, saved so documents of "the same root" can be made. */
    path_in(F.nsm_dir, sizeof F.nsm_dir, "nsm");
    assert_int_equal(mkdir(F.nsm_dir, 0700), 0);
    ccc_nsm_ca ca;
    ccc_nsm_ca_init(&ca);
    assert_int_equal(ccc_nsm_ca_generate(&ca, (int64_t)time(NULL) - 3600), CCC_OK);
    assert_int_equal(ccc_nsm_ca_save(&ca, F.nsm_dir), CCC_OK);
    ccc_buf root_pem;
    ccc_buf_init(&root_pem, 64u * 1024u);
    assert_int_equal(ccc_nsm_ca_root_pem(&ca, &root_pem), CCC_OK);
    ccc_nsm_ca_wipe(&ca);

    /* The policy: set 0 is another enclave image, set 1 this binary
     * (PCR0/1/2); manifests: another model and ours. Version 2. */
    ccc_nsm_sim probe;
    boot_sim(&probe, true, MEASURE_SELF, NULL, NULL);
    ccc_policy *p = &F.policy;
    memset(p, 0, sizeof *p);
    p->version = 2;
    uint8_t aa[CCC_NSM_PCR_SIZE];
    memset(aa, 0xaa, sizeof aa);
    assert_int_equal(ccc_attest_pcr_set_add(&p->sets[0], 0, ccc_bytes_of(aa, sizeof aa)), CCC_OK);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(
            ccc_attest_pcr_set_add(&p->sets[1], i, ccc_bytes_of(probe.pcrs[i], CCC_NSM_PCR_SIZE)),
            CCC_OK);
    p->set_count = 2;
    ccc_nsm_sim_wipe(&probe);
    p->egress_max_answer_bytes = 1024;
    p->egress_max_boxes = 4;
    p->tou_max_body_bytes = 16u << 20;
    p->tou_rate_per_minute = 60;
    memcpy(p->manifests[0], F.other_manifest, 32);
    memcpy(p->manifests[1], F.model_sha, 32);
    p->manifest_count = 2;
    F.policy_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(F.policy_key);
    sign_policy(p, F.policy_key, &F.bundle, F.policy_sha);

    /* The key service: store, signed configuration. */
    char kms_dir[512];
    path_in(kms_dir, sizeof kms_dir, "kms");
    assert_int_equal(ccc_kms_store_open(kms_dir, true, &F.store), CCC_OK);
    ccc_buf_init(&F.kms_cfg, CCC_KMS_MAX_CONFIG_SIZE);
    assert_int_equal(ccc_kms_config_sign(F.store, F.policy_sha, now_ms(), &F.kms_cfg), CCC_OK);

    /* The enclave: measured, PCR16 = model, PCR17 = policy; keys released. */
    boot_sim(&F.sim, true, MEASURE_SELF, F.model_sha, F.policy_sha);
    ccc_enclave_config cfg = {.model_dir = F.model_dir,
                              .detect = {.threads = 2, .manifest_path = F.manifest},
                              .policy = &F.policy,
                              .policy_sha256 = F.policy_sha};
    if (ccc_enclave_new(&cfg, &F.e) != CCC_OK)
        fail_msg("enclave: %s (run scripts/setup)", ccc_error_detail());
    uint8_t spki[CCC_RECEIPT_SPKI_SIZE];
    assert_int_equal(ccc_enclave_receipt_key_spki(F.e, spki), CCC_OK);
    attest(&F.sim, ccc_bytes_of(spki, sizeof spki), &F.doc);
    assert_int_equal(ccc_enclave_set_attestation(F.e, ccc_buf_bytes(&F.doc)), CCC_OK);
    ccc_ohttp_gateway_key gk[CCC_KMS_MAX_LIVE];
    size_t nk = ccc_kms_store_key_count(F.store);
    assert_int_equal(ccc_kms_gateway_keys(ccc_kms_store_keys(F.store), nk, gk), CCC_OK);
    assert_int_equal(ccc_enclave_install_keys(F.e, gk, nk), CCC_OK);
    for (size_t i = 0; i < nk; i++)
        ccc_ohttp_gateway_key_wipe(&gk[i]);

    /* The client's trust directory, as `ccc up` writes it. */
    path_in(F.trust_dir, sizeof F.trust_dir, "trust");
    assert_int_equal(mkdir(F.trust_dir, 0700), 0);
    char f[700];
    snprintf(f, sizeof f, "%s/root.pem", F.trust_dir);
    assert_int_equal(ccc_file_write(f, root_pem.data, root_pem.size), CCC_OK);
    snprintf(f, sizeof f, "%s/policy-pub.pem", F.trust_dir);
    assert_int_equal(ccc_cose_key_write_pem(f, F.policy_key, false), CCC_OK);
    ccc_buf kpem;
    ccc_buf_init(&kpem, 4096);
    assert_int_equal(ccc_kms_store_public_pem(F.store, &kpem), CCC_OK);
    snprintf(f, sizeof f, "%s/kms-pub.pem", F.trust_dir);
    assert_int_equal(ccc_file_write(f, kpem.data, kpem.size), CCC_OK);
    ccc_buf_wipe(&kpem);
    ccc_buf_wipe(&root_pem);
    ccc_client_trust_init(&F.trust);
    assert_int_equal(ccc_client_trust_load_dir(&F.trust, F.trust_dir, NULL, NULL, NULL), CCC_OK);

    chelsea_crop(&F.crop);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ccc_enclave_free(F.e);
    ccc_kms_store_free(F.store);
    ccc_nsm_sim_wipe(&F.sim);
    ccc_buf_wipe(&F.doc);
    ccc_buf_wipe(&F.kms_cfg);
    ccc_buf_wipe(&F.bundle);
    ccc_buf_wipe(&F.crop);
    EVP_PKEY_free(F.policy_key);
    ccc_client_trust_wipe(&F.trust);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", F.tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", F.tmp);
    return 0;
}

/* The fixture's good configuration with these documents. */
static ccc_status verify_config_with(const ccc_bytes *docs, size_t count, const char *state_path,
                                     ccc_client_config *cfg)
{
    ccc_buf json;
    config_json(ccc_buf_bytes(&F.kms_cfg), ccc_buf_bytes(&F.bundle), docs, count, &json);
    ccc_status st = ccc_client_config_verify(&F.trust, ccc_buf_bytes(&json), state_path, now_ms(),
                                             cfg);
    ccc_buf_wipe(&json);
    return st;
}

static void good_config(ccc_client_config *cfg)
{
    ccc_bytes d = ccc_buf_bytes(&F.doc);
    if (verify_config_with(&d, 1, NULL, cfg) != CCC_OK)
        fail_msg("config: %s at %s", ccc_error_detail(), cfg->step);
}

/* Seal the crop and let the enclave run it; the done-job JSON into json. */
static void run_job(const ccc_client_config *cfg, ccc_client_job *job, ccc_enclave_result *res,
                    ccc_buf *json)
{
    ccc_client_job_init(job);
    assert_int_equal(ccc_client_job_seal(cfg, ccc_buf_bytes(&F.crop), NULL, job), CCC_OK);
    assert_int_equal(strlen(job->id), CCC_CLIENT_JOB_ID_SIZE);
    ccc_enclave_result_init(res);
    if (ccc_enclave_process_job(F.e, job->id, strlen(job->id), ccc_buf_bytes(&job->enc_request),
                                now_ms(), res) != CCC_OK)
        fail_msg("enclave job: %s", ccc_error_detail());
    done_json(job->id, ccc_buf_bytes(&res->response), ccc_buf_bytes(&res->receipt),
              ccc_buf_bytes(&F.doc), json);
}

/* An open that must fail at `step`, showing no answer. */
static void open_fails(const ccc_client_config *cfg, ccc_client_job *job, ccc_bytes json,
                       const char *step)
{
    ccc_client_result r;
    ccc_client_result_init(&r);
    ccc_status st = ccc_client_result_open(&F.trust, cfg, job, json, now_ms(), &r);
    assert_int_not_equal(st, CCC_OK);
    if (step)
        assert_string_equal(r.step, step);
    assert_int_equal(r.answer_json.size, 0);
    assert_int_equal(r.receipt.size, 0);
    assert_int_equal(r.answer.count, 0);
    assert_int_equal(job->ctx.state, CCC_OHTTP_CLIENT_SENT); /* still usable */
    ccc_client_result_wipe(&r);
}

/* ------------------------------------------------------------------------ */
/* The whole path and its tampering                                          */
/* ------------------------------------------------------------------------ */

static void config_verifies_and_records_the_policy(void **state)
{
    (void)state;
    char sp[600];
    new_state(sp, sizeof sp);
    ccc_client_config cfg;
    ccc_bytes d = ccc_buf_bytes(&F.doc);
    assert_int_equal(verify_config_with(&d, 1, sp, &cfg), CCC_OK);
    assert_string_equal(cfg.step, "ok");
    assert_int_equal(cfg.policy.version, 2);
    assert_memory_equal(cfg.policy_sha256, F.policy_sha, 32);
    assert_int_equal(cfg.attestation_count, 1);
    assert_int_equal(cfg.pcr_set[0], 1); /* the second set is this binary */
    assert_true(cfg.rollback_checked);
    assert_int_equal(cfg.kms.key_count, 1);
    ccc_buf st;
    ccc_buf_init(&st, 4096);
    assert_int_equal(ccc_file_read(sp, &st), CCC_OK); /* recorded */
    ccc_buf_wipe(&st);
    /* The same again is fine; no enclave listed yet is fine too. */
    assert_int_equal(verify_config_with(&d, 1, sp, &cfg), CCC_OK);
    assert_int_equal(verify_config_with(NULL, 0, sp, &cfg), CCC_OK);
    assert_int_equal(cfg.attestation_count, 0);
}

static void count_one_cat_and_refuse_every_tampering(void **state)
{
    (void)state;
    ccc_client_config cfg;
    good_config(&cfg);
    ccc_client_job job;
    ccc_enclave_result res;
    ccc_buf json;
    run_job(&cfg, &job, &res, &json);

    /* job id mismatch */
    ccc_buf other;
    done_json("someone-else", ccc_buf_bytes(&res.response), ccc_buf_bytes(&res.receipt),
              ccc_buf_bytes(&F.doc), &other);
    open_fails(&cfg, &job, ccc_buf_bytes(&other), "job");
    ccc_buf_wipe(&other);

    /* every byte of the receipt flipped */
    ccc_buf rc;
    ccc_buf_init(&rc, CCC_RECEIPT_MAX_SIZE);
    assert_int_equal(ccc_buf_append_bytes(&rc, ccc_buf_bytes(&res.receipt)), CCC_OK);
    for (size_t i = 0; i < rc.size; i++) {
        rc.data[i] ^= 0x01;
        done_json(job.id, ccc_buf_bytes(&res.response), ccc_buf_bytes(&rc), ccc_buf_bytes(&F.doc),
                  &other);
        open_fails(&cfg, &job, ccc_buf_bytes(&other), "receipt");
        ccc_buf_wipe(&other);
        rc.data[i] ^= 0x01;
    }
    /* truncated receipts */
    for (size_t n = 0; n < rc.size; n += 7) {
        done_json(job.id, ccc_buf_bytes(&res.response), ccc_bytes_of(rc.data, n),
                  ccc_buf_bytes(&F.doc), &other);
        open_fails(&cfg, &job, ccc_buf_bytes(&other), NULL);
        ccc_buf_wipe(&other);
    }
    ccc_buf_wipe(&rc);

    /* the receipt against another enclave's (valid, accepted) document */
    uint8_t spki[CCC_RECEIPT_SPKI_SIZE];
    other_spki(spki);
    ccc_buf doc2;
    attest(&F.sim, ccc_bytes_of(spki, sizeof spki), &doc2);
    done_json(job.id, ccc_buf_bytes(&res.response), ccc_buf_bytes(&res.receipt),
              ccc_buf_bytes(&doc2), &other);
    open_fails(&cfg, &job, ccc_buf_bytes(&other), "receipt");
    ccc_buf_wipe(&other);
    ccc_buf_wipe(&doc2);

    /* the same enclave key in a document chained to another root */
    ccc_nsm_sim rogue;
    boot_sim(&rogue, false, MEASURE_SELF, F.model_sha, F.policy_sha);
    assert_int_equal(ccc_enclave_receipt_key_spki(F.e, spki), CCC_OK);
    attest(&rogue, ccc_bytes_of(spki, sizeof spki), &doc2);
    done_json(job.id, ccc_buf_bytes(&res.response), ccc_buf_bytes(&res.receipt),
              ccc_buf_bytes(&doc2), &other);
    open_fails(&cfg, &job, ccc_buf_bytes(&other), "attestation");
    ccc_buf_wipe(&other);
    ccc_buf_wipe(&doc2);
    ccc_nsm_sim_wipe(&rogue);

    /* every byte of the answer ciphertext flipped: does not decrypt */
    ccc_buf resp;
    ccc_buf_init(&resp, 8192);
    assert_int_equal(ccc_buf_append_bytes(&resp, ccc_buf_bytes(&res.response)), CCC_OK);
    for (size_t i = 0; i < resp.size; i++) {
        resp.data[i] ^= 0x80;
        done_json(job.id, ccc_buf_bytes(&resp), ccc_buf_bytes(&res.receipt), ccc_buf_bytes(&F.doc),
                  &other);
        open_fails(&cfg, &job, ccc_buf_bytes(&other), "decrypt");
        ccc_buf_wipe(&other);
        resp.data[i] ^= 0x80;
    }
    ccc_buf_wipe(&resp);

    /* a different policy than the one the receipt names */
    ccc_client_config cfg2 = cfg;
    cfg2.policy_sha256[0] ^= 1;
    open_fails(&cfg2, &job, ccc_buf_bytes(&json), "attestation"); /* PCR17 first */

    /* and the genuine answer */
    ccc_client_result r;
    ccc_client_result_init(&r);
    if (ccc_client_result_open(&F.trust, &cfg, &job, ccc_buf_bytes(&json), now_ms(), &r) != CCC_OK)
        fail_msg("open: %s at %s", ccc_error_detail(), r.step);
    assert_string_equal(r.step, "ok");
    assert_int_equal(r.answer.count, 1);
    assert_true(r.answer.confidence_milli > 0);
    assert_string_equal(r.answer.model, CCC_ENCLAVE_MODEL_ID);
    assert_int_equal(r.pcr_set, 1);
    assert_memory_equal(r.receipt.data, res.receipt.data, res.receipt.size);
    assert_memory_equal(r.attestation.data, F.doc.data, F.doc.size);
    /* the answer bytes are the egress grammar, bound by the receipt */
    ccc_receipt_msg m;
    ccc_receipt_msg_init(&m);
    assert_int_equal(ccc_receipt_parse(&m, ccc_buf_bytes(&r.receipt)), CCC_OK);
    uint8_t h[32], plain[32];
    assert_int_equal(
        ccc_receipt_answer_commit(r.answer_salt, ccc_bytes_of(r.answer_json.data, r.answer_json.size), h),
        CCC_OK);
    assert_memory_equal(h, m.receipt.answer_sha256, 32);
    assert_int_equal(ccc_sha256(ccc_buf_bytes(&r.answer_json), plain), CCC_OK);
    assert_memory_not_equal(plain, m.receipt.answer_sha256, 32); /* salted */
    assert_memory_equal(job.request_sha256, m.receipt.request_sha256, 32);
    ccc_receipt_msg_wipe(&m);
    /* one answer per request context */
    ccc_client_result r2;
    ccc_client_result_init(&r2);
    assert_int_equal(ccc_client_result_open(&F.trust, &cfg, &job, ccc_buf_bytes(&json), now_ms(),
                                            &r2),
                     CCC_ERR_USAGE);
    ccc_client_result_wipe(&r2);
    ccc_client_result_wipe(&r);
    ccc_client_job_wipe(&job);
    ccc_enclave_result_wipe(&res);
    ccc_buf_wipe(&json);
}

/* Threads share the trust anchors and the verified config; each opens its
 * own job (what `ccc bench e2e` does). */
#define THREADS 4
typedef struct opener {
    const ccc_client_config *cfg;
    ccc_client_job job;
    ccc_buf json;
    ccc_status config_st, open_st;
    uint32_t count;
} opener;

static void *open_in_thread(void *arg)
{
    opener *o = arg;
    ccc_buf cj;
    ccc_bytes d = ccc_buf_bytes(&F.doc);
    config_json(ccc_buf_bytes(&F.kms_cfg), ccc_buf_bytes(&F.bundle), &d, 1, &cj);
    ccc_client_config *mine = malloc(sizeof *mine);
    if (!mine)
        return NULL;
    o->config_st = ccc_client_config_verify(&F.trust, ccc_buf_bytes(&cj), NULL, now_ms(), mine);
    free(mine);
    ccc_buf_wipe(&cj);
    ccc_client_result r;
    ccc_client_result_init(&r);
    o->open_st = ccc_client_result_open(&F.trust, o->cfg, &o->job, ccc_buf_bytes(&o->json),
                                        now_ms(), &r);
    o->count = r.answer.count;
    ccc_client_result_wipe(&r);
    return NULL;
}

static void threads_share_trust_and_config(void **state)
{
    (void)state;
    ccc_client_config cfg;
    good_config(&cfg);
    opener o[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        ccc_enclave_result res;
        o[i].cfg = &cfg;
        o[i].open_st = o[i].config_st = CCC_ERR_INTERNAL;
        run_job(&cfg, &o[i].job, &res, &o[i].json);
        ccc_enclave_result_wipe(&res);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, open_in_thread, &o[i]), 0);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(o[i].config_st, CCC_OK);
        assert_int_equal(o[i].open_st, CCC_OK);
        assert_int_equal(o[i].count, 1);
        ccc_client_job_wipe(&o[i].job);
        ccc_buf_wipe(&o[i].json);
    }
}

/* ------------------------------------------------------------------------ */
/* Configuration failures: nothing may be sent                               */
/* ------------------------------------------------------------------------ */

static void config_fails(ccc_bytes kms, ccc_bytes bundle, const ccc_bytes *docs, size_t count,
                         ccc_status want, const char *step)
{
    ccc_buf json;
    config_json(kms, bundle, docs, count, &json);
    ccc_client_config cfg;
    char sp[600];
    new_state(sp, sizeof sp);
    ccc_status st = ccc_client_config_verify(&F.trust, ccc_buf_bytes(&json), sp, now_ms(), &cfg);
    if (st != want)
        fail_msg("want %s, got %s (%s) at %s", ccc_status_name(want), ccc_status_name(st),
                 ccc_error_detail(), cfg.step);
    assert_string_equal(cfg.step, step);
    assert_int_equal(cfg.kms.key_count, 0); /* nothing to encrypt to */
    /* a refused configuration records nothing */
    ccc_buf s;
    ccc_buf_init(&s, 4096);
    assert_int_equal(ccc_file_read(sp, &s), CCC_ERR_NOT_FOUND);
    ccc_buf_wipe(&s);
    /* and cannot seal */
    ccc_client_job job;
    ccc_client_job_init(&job);
    assert_int_equal(ccc_client_job_seal(&cfg, ccc_buf_bytes(&F.crop), NULL, &job),
                     CCC_ERR_USAGE);
    ccc_client_job_wipe(&job);
    ccc_buf_wipe(&json);
}

static void config_refusals(void **state)
{
    (void)state;
    ccc_bytes good_doc = ccc_buf_bytes(&F.doc);
    ccc_bytes kms = ccc_buf_bytes(&F.kms_cfg), bundle = ccc_buf_bytes(&F.bundle);

    /* key configuration signed by another kms key */
    char dir[600];
    path_in(dir, sizeof dir, "kms-other");
    ccc_kms_store *other = NULL;
    assert_int_equal(ccc_kms_store_open(dir, true, &other), CCC_OK);
    ccc_buf ocfg;
    ccc_buf_init(&ocfg, CCC_KMS_MAX_CONFIG_SIZE);
    assert_int_equal(ccc_kms_config_sign(other, F.policy_sha, now_ms(), &ocfg), CCC_OK);
    config_fails(ccc_buf_bytes(&ocfg), bundle, &good_doc, 1, CCC_ERR_CRYPTO, "key configuration");
    ccc_buf_wipe(&ocfg);
    ccc_kms_store_free(other);

    /* the kms enforces another policy hash */
    uint8_t wrong[32];
    memcpy(wrong, F.policy_sha, 32);
    wrong[31] ^= 1;
    ccc_buf_init(&ocfg, CCC_KMS_MAX_CONFIG_SIZE);
    assert_int_equal(ccc_kms_config_sign(F.store, wrong, now_ms(), &ocfg), CCC_OK);
    config_fails(ccc_buf_bytes(&ocfg), bundle, &good_doc, 1, CCC_ERR_POLICY, "policy hash");
    ccc_buf_wipe(&ocfg);

    /* the policy signed by another key */
    EVP_PKEY *k2 = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    ccc_buf b2;
    uint8_t h2[32];
    sign_policy(&F.policy, k2, &b2, h2);
    config_fails(kms, ccc_buf_bytes(&b2), &good_doc, 1, CCC_ERR_CRYPTO, "policy");
    ccc_buf_wipe(&b2);
    EVP_PKEY_free(k2);

    /* documents: PCR0/2 of another binary; another root; PCR16 with a
     * manifest the policy does not list; PCR17 of another policy; PCR16/17
     * never extended; a receipt key that is X25519; no key at all */
    uint8_t spki[CCC_RECEIPT_SPKI_SIZE];
    assert_int_equal(ccc_enclave_receipt_key_spki(F.e, spki), CCC_OK);
    ccc_bytes pk = ccc_bytes_of(spki, sizeof spki);
    uint8_t unlisted[32];
    memset(unlisted, 0x33, 32);
    struct {
        bool same_root;
        int measure;
        const uint8_t *m16, *m17;
        ccc_status want;
    } cases[] = {
        {true, MEASURE_OTHER, F.model_sha, F.policy_sha, CCC_ERR_POLICY},
        {false, MEASURE_SELF, F.model_sha, F.policy_sha, CCC_ERR_CRYPTO},
        {true, MEASURE_SELF, unlisted, F.policy_sha, CCC_ERR_POLICY},
        {true, MEASURE_SELF, F.model_sha, wrong, CCC_ERR_POLICY},
        {true, MEASURE_SELF, NULL, NULL, CCC_ERR_POLICY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ccc_nsm_sim s;
        boot_sim(&s, cases[i].same_root, cases[i].measure, cases[i].m16, cases[i].m17);
        ccc_buf d;
        attest(&s, pk, &d);
        ccc_bytes docs[2] = {good_doc, ccc_buf_bytes(&d)}; /* one bad one is enough */
        config_fails(kms, bundle, docs, 2, cases[i].want, "attestation");
        ccc_buf_wipe(&d);
        ccc_nsm_sim_wipe(&s);
    }
    uint8_t x[CCC_KMS_X25519_SPKI_SIZE], raw[32];
    memset(raw, 9, sizeof raw);
    ccc_kms_x25519_spki(raw, x);
    ccc_buf d;
    attest(&F.sim, ccc_bytes_of(x, sizeof x), &d);
    ccc_bytes bad = ccc_buf_bytes(&d);
    config_fails(kms, bundle, &bad, 1, CCC_ERR_CRYPTO, "attestation");
    ccc_buf_wipe(&d);
    attest(&F.sim, ccc_bytes_of(NULL, 0), &d);
    bad = ccc_buf_bytes(&d);
    config_fails(kms, bundle, &bad, 1, CCC_ERR_CRYPTO, "attestation");
    ccc_buf_wipe(&d);
    /* a document that is not one */
    uint8_t junk[64];
    memset(junk, 0, sizeof junk);
    bad = ccc_bytes_of(junk, sizeof junk);
    config_fails(kms, bundle, &bad, 1, CCC_ERR_PARSE, "attestation");
}

/* The memo of verified chains never hides an expired (or not yet valid)
 * certificate: the simulated leaf lives 3 hours. */
static void verified_memo_respects_validity(void **state)
{
    (void)state;
    static ccc_client_config cfg;
    good_config(&cfg); /* verified now: remembered for a minute */
    ccc_attest_doc doc;
    ccc_attest_doc_init(&doc);
    ccc_bytes d = ccc_buf_bytes(&F.doc);
    uint64_t now = now_ms();
    assert_int_equal(ccc_client_attestation_verify(&F.trust, &cfg, d, now + 1000, &doc, NULL),
                     CCC_OK);
    ccc_attest_doc_wipe(&doc);
    assert_int_equal(ccc_client_attestation_verify(&F.trust, &cfg, d,
                                                   now + 4ull * 3600 * 1000, &doc, NULL),
                     CCC_ERR_CRYPTO); /* after the leaf's notAfter */
    ccc_attest_doc_wipe(&doc);
    assert_int_equal(ccc_client_attestation_verify(&F.trust, &cfg, d, now - 3600ull * 1000, &doc,
                                                   NULL),
                     CCC_ERR_CRYPTO); /* before its notBefore */
    ccc_attest_doc_wipe(&doc);
}

static void config_refuses_rollback(void **state)
{
    (void)state;
    ccc_bytes d = ccc_buf_bytes(&F.doc);
    ccc_client_config cfg;
    char sp[600];
    /* a state that has seen version 3 refuses version 2 */
    new_state(sp, sizeof sp);
    assert_int_equal(verify_config_with(&d, 1, sp, &cfg), CCC_OK); /* makes the dirs */
    uint8_t h[32];
    memset(h, 7, sizeof h);
    assert_int_equal(ccc_policy_rollback_check(sp, 3, h), CCC_OK);
    assert_int_equal(verify_config_with(&d, 1, sp, &cfg), CCC_ERR_REPLAY);
    assert_string_equal(cfg.step, "anti-rollback");
    assert_int_equal(cfg.kms.key_count, 0);
    /* the same version with other content (equivocation) */
    new_state(sp, sizeof sp);
    assert_int_equal(verify_config_with(&d, 1, sp, &cfg), CCC_OK);
    char text[200];
    snprintf(text, sizeof text, "ccc-policy-state 1\nversion 2\nsha256 %064d\n", 0);
    assert_int_equal(ccc_file_write(sp, text, strlen(text)), CCC_OK);
    assert_int_equal(verify_config_with(&d, 1, sp, &cfg), CCC_ERR_REPLAY);
    /* without a state file the check is skipped, and says so */
    assert_int_equal(verify_config_with(&d, 1, NULL, &cfg), CCC_OK);
    assert_false(cfg.rollback_checked);
}

/* ------------------------------------------------------------------------ */
/* Refused before encryption                                                 */
/* ------------------------------------------------------------------------ */

static void seal_refuses_before_encrypting(void **state)
{
    (void)state;
    ccc_client_config cfg;
    good_config(&cfg);
    ccc_client_job job;
    ccc_client_job_init(&job);
    static const char text[] = "this is not an image, just text";
    assert_int_equal(ccc_client_job_seal(&cfg, ccc_bytes_of(text, sizeof text - 1), NULL, &job),
                     CCC_ERR_UNSUPPORTED);
    assert_false(job.sealed);
    assert_int_equal(job.enc_request.size, 0);
    assert_int_equal(job.ctx.state, CCC_OHTTP_EMPTY);
    assert_int_equal(ccc_client_job_seal(&cfg, ccc_bytes_of(NULL, 0), NULL, &job),
                     CCC_ERR_UNSUPPORTED);
    /* PNG magic truncated */
    assert_int_equal(ccc_client_job_seal(&cfg, ccc_bytes_of(F.crop.data, 7), NULL, &job),
                     CCC_ERR_UNSUPPORTED);
    /* a PNG whose header says 9000 x 10: over the enclave's 8192 a side,
     * refused from the header alone (no pixels needed) */
    ccc_image black = {.rgb = calloc((size_t)9000 * 10, 3), .width = 9000, .height = 10};
    assert_non_null(black.rgb);
    ccc_buf wide;
    ccc_buf_init(&wide, 1u << 20);
    assert_int_equal(ccc_image_encode_png(&black, &wide), CCC_OK);
    free(black.rgb);
    assert_int_equal(ccc_client_job_seal(&cfg, ccc_buf_bytes(&wide), NULL, &job), CCC_ERR_LIMIT);
    assert_false(job.sealed);
    assert_int_equal(job.enc_request.size, 0);
    ccc_buf_wipe(&wide);
    /* the policy's limit is on the whole enc_request (photo + 55) */
    cfg.policy.tou_max_body_bytes = F.crop.size + CCC_OHTTP_REQUEST_OVERHEAD - 1;
    assert_int_equal(ccc_client_job_seal(&cfg, ccc_buf_bytes(&F.crop), NULL, &job),
                     CCC_ERR_LIMIT);
    assert_int_equal(job.enc_request.size, 0);
    cfg.policy.tou_max_body_bytes++;
    /* a job id the queue would refuse */
    assert_int_equal(ccc_client_job_seal(&cfg, ccc_buf_bytes(&F.crop), "a b", &job),
                     CCC_ERR_USAGE);
    assert_int_equal(ccc_client_job_seal(&cfg, ccc_buf_bytes(&F.crop), "", &job), CCC_ERR_USAGE);
    /* exactly at the limit, with our own id */
    assert_int_equal(ccc_client_job_seal(&cfg, ccc_buf_bytes(&F.crop), "my-job.1", &job), CCC_OK);
    assert_string_equal(job.id, "my-job.1");
    assert_int_equal(job.enc_request.size, F.crop.size + CCC_OHTTP_REQUEST_OVERHEAD);
    assert_int_equal(job.enc_request.data[0], cfg.kms.keys[0].key_id);
    /* sealing twice is refused */
    assert_int_equal(ccc_client_job_seal(&cfg, ccc_buf_bytes(&F.crop), NULL, &job), CCC_ERR_USAGE);
    ccc_client_job_wipe(&job);
    /* two seals of one photo: different ciphertexts and ids */
    ccc_client_job a, b;
    ccc_client_job_init(&a);
    ccc_client_job_init(&b);
    assert_int_equal(ccc_client_job_seal(&cfg, ccc_buf_bytes(&F.crop), NULL, &a), CCC_OK);
    assert_int_equal(ccc_client_job_seal(&cfg, ccc_buf_bytes(&F.crop), NULL, &b), CCC_OK);
    assert_string_not_equal(a.id, b.id);
    assert_memory_not_equal(a.request_sha256, b.request_sha256, 32);
    ccc_client_job_wipe(&a);
    ccc_client_job_wipe(&b);
}

/* ------------------------------------------------------------------------ */
/* Parsers                                                                   */
/* ------------------------------------------------------------------------ */

static void base64_is_strict(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } good[] = {{"", ""}, {"Zg==", "f"}, {"Zm8=", "fo"}, {"Zm9v", "foo"}, {"Zm9vYmFy", "foobar"},
                {"+/+/", "\xfb\xff\xbf"}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ccc_buf b;
        ccc_buf_init(&b, 64);
        assert_int_equal(ccc_client_base64_decode(ccc_bytes_of(good[i].in, strlen(good[i].in)), &b),
                         CCC_OK);
        assert_int_equal(b.size, strlen(good[i].out));
        assert_memory_equal(b.data ? b.data : (uint8_t *)"", good[i].out, b.size);
        ccc_buf_wipe(&b);
    }
    static const char *const bad[] = {"Zg=",  "Zh==",   "Zm9=",     "Zm9v\n", " Zm9", "Zm9v====",
                                      "====", "Z===",   "Zm-v",     "Zm_v",   "Zg=a", "Z=g=",
                                      "Zm9vYmFy\n", "Zm9v Zm9v", "Zg==Zg==", "\x80\x80\x80\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ccc_buf b;
        ccc_buf_init(&b, 64);
        if (ccc_client_base64_decode(ccc_bytes_of(bad[i], strlen(bad[i])), &b) != CCC_ERR_PARSE)
            fail_msg("base64 '%s' accepted", bad[i]);
        ccc_buf_wipe(&b);
    }
    ccc_buf b;
    ccc_buf_init(&b, 2);
    assert_int_equal(ccc_client_base64_decode(ccc_bytes_of("Zm9v", 4), &b), CCC_ERR_LIMIT);
    /* a padded field exactly at its cap fits */
    assert_int_equal(ccc_client_base64_decode(ccc_bytes_of("Zm8=", 4), &b), CCC_OK);
    assert_int_equal(b.size, 2);
    assert_memory_equal(b.data, "fo", 2);
    ccc_buf_wipe(&b);
    ccc_buf_init(&b, 7);
    assert_int_equal(ccc_client_base64_decode(ccc_bytes_of("Zm9vYmFyZg==", 12), &b), CCC_OK);
    assert_int_equal(b.size, 7);
    assert_memory_equal(b.data, "foobarf", 7);
    ccc_buf_wipe(&b);
}

/* The template with its first "%s" replaced by a, the second by b. */
static char *fill(const char *tmpl, const char *a, const char *b)
{
    char *out = malloc(strlen(tmpl) + strlen(a) + strlen(b) + 1), *o = out;
    assert_non_null(out);
    int used = 0;
    for (const char *t = tmpl; *t; t++) {
        if (t[0] == '%' && t[1] == 's' && used < 2) {
            const char *v = used++ == 0 ? a : b;
            memcpy(o, v, strlen(v));
            o += strlen(v);
            t++;
        } else {
            *o++ = *t;
        }
    }
    *o = '\0';
    return out;
}

static void config_json_is_strict(void **state)
{
    (void)state;
    char *k = b64(ccc_buf_bytes(&F.kms_cfg)), *p = b64(ccc_buf_bytes(&F.bundle));
    char fmt[][200] = {
        "",
        "[]",
        "{}",
        "not json",
        "{\"v\":1,\"kms_config\":\"%s\",\"policy\":\"%s\"}",
        "{\"v\":2,\"kms_config\":\"%s\",\"policy\":\"%s\",\"attestations\":[]}",
        "{\"v\":\"1\",\"kms_config\":\"%s\",\"policy\":\"%s\",\"attestations\":[]}",
        "{\"v\":1,\"kms_config\":\"%s\",\"policy\":\"%s\",\"attestations\":[],\"x\":1}",
        "{\"v\":1,\"kms_config\":\"%s\",\"policy\":\"%s\",\"attestations\":{}}",
        "{\"v\":1,\"kms_config\":\"%s\",\"policy\":\"%s\",\"attestations\":[1]}",
        "{\"v\":1,\"kms_config\":\"%s\",\"policy\":\"%s\",\"attestations\":[\"@@@@\"]}",
        "{\"v\":1,\"kms_config\":\"%s \",\"policy\":\"%s\",\"attestations\":[]}",
        "{\"v\":1,\"kms_config\":\"%s\",\"policy\":\"%s=\",\"attestations\":[]}",
        "{\"v\":1,\"v\":1,\"kms_config\":\"%s\",\"policy\":\"%s\",\"attestations\":[]}",
        "{\"v\":1,\"kms_config\":\"%s\",\"policy\":\"%s\",\"attestations\":[]} trailing",
        "{\"v\":1,\"kms_config\":\"%s\",\"policy\":\"%s\",\"attestations\":[\"Zg==\",\"Zg==\","
        "\"Zg==\",\"Zg==\",\"Zg==\",\"Zg==\",\"Zg==\",\"Zg==\",\"Zg==\",\"Zg==\",\"Zg==\","
        "\"Zg==\",\"Zg==\",\"Zg==\",\"Zg==\",\"Zg==\",\"Zg==\"]}",
    };
    for (size_t i = 0; i < sizeof fmt / sizeof fmt[0]; i++) {
        char *text = fill(fmt[i], k, p);
        ccc_client_config cfg;
        ccc_status st =
            ccc_client_config_verify(&F.trust, ccc_bytes_of(text, strlen(text)), NULL, now_ms(), &cfg);
        if (st == CCC_OK)
            fail_msg("config JSON %zu accepted", i);
        assert_string_equal(cfg.step, "json");
        free(text);
    }
    /* the well-formed one parses (and verifies: no documents) */
    char *text = fill("{\"v\":1,\"kms_config\":\"%s\",\"policy\":\"%s\",\"attestations\":[]}", k,
                      p);
    ccc_client_config cfg;
    assert_int_equal(ccc_client_config_verify(&F.trust, ccc_bytes_of(text, strlen(text)), NULL,
                                              now_ms(), &cfg),
                     CCC_OK);
    free(text);
    free(k);
    free(p);
    /* over the size cap: refused before parsing */
    ccc_client_config_json cj;
    ccc_client_config_json_init(&cj);
    static uint8_t big[CCC_CLIENT_MAX_CONFIG_JSON + 1];
    assert_int_equal(ccc_client_config_json_parse(ccc_bytes_of(big, sizeof big), &cj),
                     CCC_ERR_LIMIT);
    ccc_client_config_json_wipe(&cj);
}

static void job_json_is_strict(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        ccc_status want;
        ccc_client_job_state state;
    } cases[] = {
        {"{\"id\":\"j1\",\"status\":\"queued\",\"attempt\":0}", CCC_OK, CCC_CLIENT_JOB_QUEUED},
        {"{\"id\":\"j1\",\"status\":\"processing\",\"attempt\":2}", CCC_OK,
         CCC_CLIENT_JOB_PROCESSING},
        {"{\"id\":\"j1\",\"status\":\"failed\",\"error\":\"limit\"}", CCC_OK,
         CCC_CLIENT_JOB_FAILED},
        {"{\"id\":\"j1\",\"status\":\"done\",\"response\":\"Zg==\",\"receipt\":\"Zg==\","
         "\"attestation\":\"Zg==\"}",
         CCC_OK, CCC_CLIENT_JOB_DONE},
        {"{\"id\":\"j1\",\"status\":\"done\",\"attempt\":2,\"response\":\"Zg==\",\"receipt\":"
         "\"Zg==\",\"attestation\":\"Zg==\"}",
         CCC_OK, CCC_CLIENT_JOB_DONE},
        {"{\"id\":\"j1\",\"status\":\"failed\",\"attempt\":3,\"error\":\"io\"}", CCC_OK,
         CCC_CLIENT_JOB_FAILED},
        {"{\"id\":\"j1\",\"status\":\"done\",\"attempt\":\"2\",\"response\":\"Zg==\","
         "\"receipt\":\"Zg==\",\"attestation\":\"Zg==\"}",
         CCC_ERR_PARSE, 0},
        {"{\"id\":\"j1\",\"status\":\"failed\",\"error\":\"ok\"}", CCC_ERR_PARSE, 0},
        {"{\"id\":\"j1\",\"status\":\"failed\",\"error\":\"weird\"}", CCC_ERR_PARSE, 0},
        {"{\"id\":\"j 1\",\"status\":\"queued\"}", CCC_ERR_PARSE, 0},
        {"{\"id\":\"\",\"status\":\"queued\"}", CCC_ERR_PARSE, 0},
        {"{\"id\":\"j1\",\"status\":\"lost\"}", CCC_ERR_PARSE, 0},
        {"{\"id\":\"j1\",\"status\":\"queued\",\"attempt\":-1}", CCC_ERR_PARSE, 0},
        {"{\"id\":\"j1\",\"status\":\"queued\",\"response\":\"Zg==\"}", CCC_ERR_PARSE, 0},
        {"{\"id\":\"j1\",\"status\":\"done\",\"response\":\"Zg==\",\"receipt\":\"Zg==\"}",
         CCC_ERR_PARSE, 0},
        {"{\"id\":\"j1\",\"status\":\"done\",\"response\":\"Zg=\",\"receipt\":\"Zg==\","
         "\"attestation\":\"Zg==\"}",
         CCC_ERR_PARSE, 0},
        {"{\"id\":1,\"status\":\"queued\"}", CCC_ERR_PARSE, 0},
        {"[\"id\"]", CCC_ERR_PARSE, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ccc_client_job_json jj;
        ccc_client_job_json_init(&jj);
        ccc_status st = ccc_client_job_json_parse(
            ccc_bytes_of(cases[i].json, strlen(cases[i].json)), &jj);
        if (st != cases[i].want)
            fail_msg("job JSON %zu: want %s got %s", i, ccc_status_name(cases[i].want),
                     ccc_status_name(st));
        if (st == CCC_OK) {
            assert_int_equal(jj.state, cases[i].state);
            assert_string_equal(jj.id, "j1");
        }
        ccc_client_job_json_wipe(&jj);
    }
    ccc_client_job_json jj;
    ccc_client_job_json_init(&jj);
    static const char f[] = "{\"id\":\"j1\",\"status\":\"failed\",\"error\":\"unsupported\"}";
    assert_int_equal(ccc_client_job_json_parse(ccc_bytes_of(f, sizeof f - 1), &jj), CCC_OK);
    assert_int_equal(jj.error, CCC_ERR_UNSUPPORTED);
    ccc_client_job_json_wipe(&jj);
    ccc_status cls;
    static const char e[] = "{\"error\":\"busy\",\"message\":\"rate limited\"}";
    assert_int_equal(ccc_client_error_json_parse(ccc_bytes_of(e, sizeof e - 1), &cls), CCC_OK);
    assert_int_equal(cls, CCC_ERR_BUSY);
    assert_int_equal(ccc_client_error_json_parse(ccc_bytes_of("{}", 2), &cls), CCC_ERR_PARSE);
}

static void trust_loading(void **state)
{
    (void)state;
    ccc_client_trust t;
    ccc_client_trust_init(&t);
    char root[700], pol[700];
    snprintf(root, sizeof root, "%s/root.pem", F.trust_dir);
    snprintf(pol, sizeof pol, "%s/policy-pub.pem", F.trust_dir);
    /* a missing directory; a key file where a certificate belongs; the
     * root where an Ed25519 key belongs */
    assert_int_not_equal(ccc_client_trust_load_dir(&t, "/nonexistent/trust", NULL, NULL, NULL), CCC_OK);
    assert_null(t.root);
    /* an override replaces one file of the directory */
    assert_int_equal(ccc_client_trust_load_dir(&t, F.trust_dir, "aws", NULL, NULL), CCC_OK);
    assert_true(t.aws_root);
    ccc_client_trust_wipe(&t);
    assert_int_not_equal(ccc_client_trust_load(&t, pol, pol, pol), CCC_OK);
    assert_int_not_equal(ccc_client_trust_load(&t, root, root, pol), CCC_OK);
    assert_null(t.kms_pub);
    /* "aws" is the compiled-in root: the local documents do not chain to it */
    assert_int_equal(ccc_client_trust_load(&t, "aws", pol, pol), CCC_OK);
    assert_true(t.aws_root);
    ccc_client_config cfg;
    ccc_bytes d = ccc_buf_bytes(&F.doc);
    ccc_buf json;
    config_json(ccc_buf_bytes(&F.kms_cfg), ccc_buf_bytes(&F.bundle), &d, 1, &json);
    /* kms key = policy key here: the key configuration fails first */
    assert_int_equal(ccc_client_config_verify(&t, ccc_buf_bytes(&json), NULL, now_ms(), &cfg),
                     CCC_ERR_CRYPTO);
    assert_string_equal(cfg.step, "key configuration");
    ccc_client_trust aws = F.trust;
    aws.root = t.root;
    assert_int_equal(ccc_client_config_verify(&aws, ccc_buf_bytes(&json), NULL, now_ms(), &cfg),
                     CCC_ERR_CRYPTO);
    assert_string_equal(cfg.step, "attestation");
    ccc_buf_wipe(&json);
    ccc_client_trust_wipe(&t);
    /* the default state path follows XDG_CONFIG_HOME and names the policy key */
    char sp[600], sp2[600];
    setenv("XDG_CONFIG_HOME", "/x/conf", 1);
    assert_int_equal(ccc_client_default_state_path(&F.trust, sp, sizeof sp), CCC_OK);
    assert_int_equal(strncmp(sp, "/x/conf/ccc/policy-state-", 25), 0);
    assert_int_equal(strlen(sp), 25 + 16);
    /* another policy key, another state: one signer's versions never
     * refuse another's */
    ccc_client_trust other = F.trust;
    other.policy_pub = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(other.policy_pub);
    assert_int_equal(ccc_client_default_state_path(&other, sp2, sizeof sp2), CCC_OK);
    assert_string_not_equal(sp, sp2);
    EVP_PKEY_free(other.policy_pub);
    unsetenv("XDG_CONFIG_HOME");
}

/* ------------------------------------------------------------------------ */
/* HTTP against a fake host on loopback                                      */
/* ------------------------------------------------------------------------ */

/* The fake: GET /v1/config → the fixture's config; POST /v1/jobs → runs
 * the enclave right away (or answers `post_status`); GET /v1/jobs/ID →
 * queued, then processing, then the stored answer. One request per
 * connection (Connection: close). */
static struct {
    int fd;
    uint16_t port;
    pthread_t thread;
    ccc_buf config;
    ccc_buf result;      /* the done/failed job JSON */
    int result_status;   /* its HTTP status */
    int post_status;     /* 0: accept and run */
    int polls;           /* GETs of the job so far */
    unsigned refuse_first; /* answer 503 to this many requests first */
    char job_id[300];
} H;

static void send_answer(int c, int status, const char *type, const void *body, size_t size,
                        const char *extra)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: "
                     "close\r\n\r\n",
                     status, type, size, extra ? extra : "");
    if (write(c, head, (size_t)n) != n || (size && write(c, body, size) != (ssize_t)size))
        fprintf(stderr, "fake host: short write\n");
}

static void send_json(int c, int status, const char *json)
{
    send_answer(c, status, "application/json", json, strlen(json), NULL);
}

/* Read one request: headers, then Content-Length bytes of body. */
static bool read_request(int c, char *head, size_t head_size, ccc_buf *body)
{
    size_t n = 0;
    char *end = NULL;
    while (!end) {
        if (n + 1 >= head_size)
            return false;
        ssize_t r = read(c, head + n, head_size - 1 - n);
        if (r <= 0)
            return false;
        n += (size_t)r;
        head[n] = '\0';
        end = strstr(head, "\r\n\r\n");
    }
    size_t have = n - (size_t)(end + 4 - head);
    const char *cl = strcasestr(head, "content-length:");
    size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
    if (ccc_buf_append(body, end + 4, have) != CCC_OK)
        return false;
    while (body->size < want) {
        uint8_t tmp[65536];
        ssize_t r = read(c, tmp, sizeof tmp);
        if (r <= 0 || ccc_buf_append(body, tmp, (size_t)r) != CCC_OK)
            return false;
    }
    *end = '\0';
    return true;
}

static void serve_one(int c)
{
    static char head[16384];
    ccc_buf body;
    ccc_buf_init(&body, 32u << 20);
    if (!read_request(c, head, sizeof head, &body))
        goto out;
    if (H.refuse_first > 0) {
        H.refuse_first--;
        send_json(c, 503, "{\"error\":\"io\",\"message\":\"unavailable\"}");
        goto out;
    }
    if (strncmp(head, "GET /v1/config ", 15) == 0) {
        send_answer(c, 200, "application/json", H.config.data, H.config.size, NULL);
    } else if (strncmp(head, "POST /v1/jobs ", 14) == 0) {
        const char *id = strcasestr(head, "\r\nccc-job-id: ");
        const char *ct = strcasestr(head, "\r\ncontent-type: message/ohttp-req");
        if (!ct) {
            send_json(c, 415, "{\"error\":\"unsupported\",\"message\":\"content type\"}");
            goto out;
        }
        if (H.post_status) {
            send_json(c, H.post_status, H.post_status == 413
                                            ? "{\"error\":\"limit\",\"message\":\"too large\"}"
                                            : "{\"error\":\"parse\",\"message\":\"bad\"}");
            goto out;
        }
        if (!id)
            goto out;
        sscanf(id + 14, "%255[^\r]", H.job_id);
        ccc_enclave_result res;
        ccc_enclave_result_init(&res);
        ccc_status st = ccc_enclave_process_job(F.e, H.job_id, strlen(H.job_id),
                                                ccc_buf_bytes(&body), now_ms(), &res);
        ccc_buf_wipe(&H.result);
        if (st == CCC_OK) {
            done_json(H.job_id, ccc_buf_bytes(&res.response), ccc_buf_bytes(&res.receipt),
                      ccc_buf_bytes(&F.doc), &H.result);
            H.result_status = 200;
        } else {
            char j[400];
            snprintf(j, sizeof j, "{\"id\":\"%s\",\"status\":\"failed\",\"error\":\"%s\"}",
                     H.job_id, ccc_status_name(st));
            ccc_buf_init(&H.result, sizeof j);
            assert_int_equal(ccc_buf_append(&H.result, j, strlen(j)), CCC_OK);
            H.result_status = ccc_status_http_status(st);
        }
        ccc_enclave_result_wipe(&res);
        H.polls = 0;
        char j[400];
        snprintf(j, sizeof j, "{\"id\":\"%s\",\"status\":\"queued\"}", H.job_id);
        send_json(c, 202, j);
    } else if (strncmp(head, "GET /v1/jobs/", 13) == 0) {
        char id[300] = {0}, query[64] = {0};
        sscanf(head + 13, "%255[^ ?]%63[^ ]", id, query);
        /* the client long-polls (a host without ?wait= answers at once) */
        assert_string_equal(query, "?wait=2000");
        if (strcmp(id, H.job_id) != 0) {
            send_json(c, 404, "{\"error\":\"not_found\",\"message\":\"unknown job\"}");
        } else if (H.polls < 2) {
            char j[400];
            snprintf(j, sizeof j, "{\"id\":\"%s\",\"status\":\"%s\",\"attempt\":1}", id,
                     H.polls == 0 ? "queued" : "processing");
            H.polls++;
            send_json(c, 200, j);
        } else {
            send_answer(c, H.result_status, "application/json", H.result.data, H.result.size,
                        NULL);
        }
    } else {
        send_json(c, 404, "{\"error\":\"not_found\",\"message\":\"no route\"}");
    }
out:
    ccc_buf_wipe(&body);
}

static void *fake_host(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(H.fd, NULL, NULL);
        if (c < 0)
            return NULL;
        serve_one(c);
        close(c);
    }
}

static void start_fake_host(void)
{
    H.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(H.fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(H.fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(H.fd, 16), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(H.fd, (struct sockaddr *)&a, &len), 0);
    H.port = ntohs(a.sin_port);
    ccc_bytes d = ccc_buf_bytes(&F.doc);
    config_json(ccc_buf_bytes(&F.kms_cfg), ccc_buf_bytes(&F.bundle), &d, 1, &H.config);
    ccc_buf_init(&H.result, CCC_CLIENT_MAX_JOB_JSON);
    assert_int_equal(pthread_create(&H.thread, NULL, fake_host, NULL), 0);
}

static void stop_fake_host(void)
{
    shutdown(H.fd, SHUT_RDWR);
    close(H.fd);
    pthread_join(H.thread, NULL);
    ccc_buf_wipe(&H.config);
    ccc_buf_wipe(&H.result);
}

typedef struct seen {
    unsigned calls;
    bool queued, processing, done;
} seen;

static void on_progress(void *arg, ccc_client_job_state s, uint64_t attempt, uint64_t ms)
{
    (void)attempt;
    (void)ms;
    seen *p = arg;
    p->calls++;
    p->queued |= s == CCC_CLIENT_JOB_QUEUED;
    p->processing |= s == CCC_CLIENT_JOB_PROCESSING;
    p->done |= s == CCC_CLIENT_JOB_DONE;
}

static void http_round_trips(void **state)
{
    (void)state;
    start_fake_host();
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/", H.port);
    ccc_client_http *h = NULL;
    assert_int_equal(ccc_client_http_new("ftp://127.0.0.1/", &h), CCC_ERR_USAGE);
    assert_int_equal(ccc_client_http_new(url, &h), CCC_OK);
    char sp[600];
    new_state(sp, sizeof sp);
    ccc_client_config cfg;
    H.refuse_first = 0;
    assert_int_equal(ccc_client_fetch_config(h, &F.trust, sp, &cfg), CCC_OK);
    assert_int_equal(cfg.attestation_count, 1);

    /* one cat, through submit and polling (after two 503s) */
    H.refuse_first = 2;
    ccc_client_job job;
    ccc_client_job_init(&job);
    ccc_client_result r;
    ccc_client_result_init(&r);
    seen s = {0};
    bool failed = true;
    ccc_status st = ccc_client_count(h, &F.trust, &cfg, ccc_buf_bytes(&F.crop), 60000, on_progress,
                                     &s, &job, &r, &failed);
    if (st != CCC_OK)
        fail_msg("count: %s %s at %s", ccc_status_name(st), ccc_error_detail(), r.step);
    assert_false(failed);
    assert_int_equal(r.answer.count, 1);
    assert_true(s.queued && s.processing && s.done);
    ccc_client_result_wipe(&r);
    ccc_client_job_wipe(&job);

    /* the enclave refuses a PNG header with garbage: a failed job */
    ccc_buf junk;
    ccc_buf_init(&junk, 4096);
    assert_int_equal(ccc_buf_append_bytes(&junk, ccc_bytes_of(F.crop.data, 8)), CCC_OK);
    for (int i = 0; i < 100; i++)
        assert_int_equal(ccc_buf_u8(&junk, (uint8_t)i), CCC_OK);
    ccc_client_job_init(&job);
    ccc_client_result_init(&r);
    st = ccc_client_count(h, &F.trust, &cfg, ccc_buf_bytes(&junk), 60000, NULL, NULL, &job, &r,
                          &failed);
    assert_int_not_equal(st, CCC_OK);
    assert_true(failed);
    assert_int_equal(r.answer_json.size, 0);
    ccc_client_result_wipe(&r);
    ccc_client_job_wipe(&job);
    ccc_buf_wipe(&junk);

    /* the host refuses the POST: its class, not a job failure */
    H.post_status = 413;
    ccc_client_job_init(&job);
    ccc_client_result_init(&r);
    st = ccc_client_count(h, &F.trust, &cfg, ccc_buf_bytes(&F.crop), 60000, NULL, NULL, &job, &r,
                          &failed);
    assert_int_equal(st, CCC_ERR_LIMIT);
    assert_false(failed);
    assert_string_equal(r.step, "submit");
    ccc_client_result_wipe(&r);
    ccc_client_job_wipe(&job);
    H.post_status = 0;

    /* an unknown job */
    ccc_client_job_json jj;
    ccc_client_job_json_init(&jj);
    assert_int_equal(ccc_client_http_wait(h, "nobody", ccc_now_ns() + 5000000000ull, NULL, NULL,
                                          &jj, &failed),
                     CCC_ERR_NOT_FOUND);
    assert_int_equal(ccc_client_http_wait(h, "a/../b", ccc_now_ns() + 5000000000ull, NULL, NULL,
                                          &jj, &failed),
                     CCC_ERR_USAGE);
    ccc_client_job_json_wipe(&jj);
    ccc_client_http_free(h);
    stop_fake_host();

    /* nobody listening: an io error within the deadline */
    ccc_client_http *h2 = NULL;
    snprintf(url, sizeof url, "http://127.0.0.1:%u", H.port);
    assert_int_equal(ccc_client_http_new(url, &h2), CCC_OK);
    ccc_client_config cfg2;
    assert_int_equal(ccc_client_fetch_config(h2, &F.trust, NULL, &cfg2), CCC_ERR_IO);
    assert_string_equal(cfg2.step, "fetch");
    ccc_client_http_free(h2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base64_is_strict),
        cmocka_unit_test(job_json_is_strict),
        cmocka_unit_test(config_json_is_strict),
        cmocka_unit_test(trust_loading),
        cmocka_unit_test(config_verifies_and_records_the_policy),
        cmocka_unit_test(config_refusals),
        cmocka_unit_test(config_refuses_rollback),
        cmocka_unit_test(verified_memo_respects_validity),
        cmocka_unit_test(seal_refuses_before_encrypting),
        cmocka_unit_test(count_one_cat_and_refuse_every_tampering),
        cmocka_unit_test(http_round_trips),
        cmocka_unit_test(threads_share_trust_and_config),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
