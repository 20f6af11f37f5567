/*
 * enclave — the trusted worker's core: keys, replay table, one job.
 * Formats and the order of checks: enclave.h.
 */
#include "enclave/enclave.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "attest/attest.h"
#include "detect/manifest.h"
#include "nn/nn.h"
#include "egress/egress.h"
#include "image/image.h"
#include "log/log.h"

/* One completed job: hashes only (a job id may be up to 256 bytes). */
typedef struct replay_entry {
    uint8_t job[32];
    uint8_t request[32];
} replay_entry;

/* The answer of a recently completed job, kept to answer a redelivery of
 * exactly that job (same id AND same ciphertext) with the same bytes. Both
 * are public: ciphertext to the client and the signed receipt. */
typedef struct sent_entry {
    uint8_t job[32];
    uint8_t request[32];
    ccc_buf response;
    ccc_buf receipt;
    bool used;
} sent_entry;

struct ccc_enclave {
    ccc_detect_model *model;
    double threshold;
    uint8_t model_sha256[32];
    ccc_policy policy;
    uint8_t policy_sha256[32];
    ccc_egress_policy egress;
    EVP_PKEY *receipt_key; /* per-boot Ed25519, secret, never exported */
    bool has_doc;
    ccc_receipt bound;     /* PCRs + attestation_sha256 of the document */
    ccc_buf doc;           /* the document's bytes, for attest_response */
    ccc_ohttp_gateway_key keys[CCC_ENCLAVE_MAX_KEYS]; /* secrets */
    size_t key_count;
    uint64_t seq;          /* receipts signed since boot */
    replay_entry *replay;  /* ring of replay_capacity entries */
    size_t replay_capacity;
    size_t replay_count;
    size_t replay_next;
    sent_entry sent[CCC_ENCLAVE_RESEND_CAPACITY]; /* ring: the last answers */
    size_t sent_next;
    size_t sent_capacity; /* min(RESEND_CAPACITY, replay_capacity): never
                             longer than the replay window */
};

static void wipe_keys(ccc_enclave *e)
{
    for (size_t i = 0; i < CCC_ENCLAVE_MAX_KEYS; i++)
        ccc_ohttp_gateway_key_wipe(&e->keys[i]);
    e->key_count = 0;
}

ccc_status ccc_enclave_new(const ccc_enclave_config *cfg, ccc_enclave **out)
{
    ccc_status st = CCC_OK;
    ccc_enclave *e = NULL;
    ccc_buf json, bin;
    ccc_buf_init(&json, CCC_NN_MAX_JSON_SIZE);
    ccc_buf_init(&bin, CCC_NN_MAX_WEIGHTS_SIZE);
    *out = NULL;
    CCC_CHECK(cfg != NULL && cfg->model_dir != NULL && cfg->policy != NULL &&
                  cfg->policy_sha256 != NULL,
              CCC_ERR_USAGE, "enclave: incomplete configuration");
    /* Holds the HPKE service keys: locked, out of core dumps, wiped on free. */
    e = ccc_secret_alloc(sizeof *e);
    CCC_CHECK(e != NULL, CCC_ERR_NOMEM, "enclave: out of memory");
    ccc_buf_init(&e->doc, CCC_ATTEST_MAX_DOC_SIZE);
    e->replay_capacity = cfg->replay_capacity ? cfg->replay_capacity : CCC_ENCLAVE_REPLAY_CAPACITY;
    CCC_CHECK(e->replay_capacity <= (1u << 20), CCC_ERR_USAGE, "enclave: replay table too large");
    e->replay = calloc(e->replay_capacity, sizeof *e->replay);
    CCC_CHECK(e->replay != NULL, CCC_ERR_NOMEM, "enclave: out of memory");
    e->sent_capacity = e->replay_capacity < CCC_ENCLAVE_RESEND_CAPACITY
                           ? e->replay_capacity
                           : CCC_ENCLAVE_RESEND_CAPACITY;
    for (size_t i = 0; i < CCC_ENCLAVE_RESEND_CAPACITY; i++) {
        ccc_buf_init(&e->sent[i].response, CCC_ENCLAVE_MAX_RESPONSE_SIZE);
        ccc_buf_init(&e->sent[i].receipt, CCC_RECEIPT_MAX_SIZE);
    }
    e->policy = *cfg->policy;
    CCC_TRY(ccc_policy_check(&e->policy));
    memcpy(e->policy_sha256, cfg->policy_sha256, 32);
    e->egress =
        ccc_egress_policy_from_limits(e->policy.egress_max_answer_bytes, e->policy.egress_max_boxes);
    CCC_TRY(ccc_egress_policy_check(&e->egress));

    /* The model: signed manifest, file hashes and op set checked by
     * load_files; then built from exactly the verified bytes. */
    ccc_detect_manifest_info info;
    CCC_TRY(ccc_detect_manifest_load_files(cfg->model_dir, cfg->detect.manifest_path,
                                           cfg->detect.trusted_key_path, &json, &bin, &info));
    bool accepted = false;
    for (size_t i = 0; i < e->policy.manifest_count; i++)
        accepted |= memcmp(e->policy.manifests[i], info.sha256, 32) == 0;
    CCC_CHECK(accepted, CCC_ERR_POLICY, "enclave: model manifest not accepted by the policy");
    memcpy(e->model_sha256, info.sha256, 32);
    e->threshold = info.threshold_milli / 1000.0; /* the manifest refuses 0 */
    CCC_TRY(ccc_detect_model_load_unverified(ccc_buf_bytes(&json), ccc_buf_bytes(&bin),
                                             &cfg->detect, &e->model));

    e->receipt_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    CCC_CHECK(e->receipt_key != NULL, CCC_ERR_CRYPTO, "enclave: cannot generate receipt key");
    *out = e;
    e = NULL;
out:
    ccc_buf_wipe(&json);
    ccc_buf_wipe(&bin);
    ccc_enclave_free(e);
    return st;
}

void ccc_enclave_free(ccc_enclave *e)
{
    if (e == NULL)
        return;
    wipe_keys(e);
    EVP_PKEY_free(e->receipt_key);
    ccc_detect_model_free(e->model);
    free(e->replay);
    for (size_t i = 0; i < CCC_ENCLAVE_RESEND_CAPACITY; i++) {
        ccc_buf_wipe(&e->sent[i].response);
        ccc_buf_wipe(&e->sent[i].receipt);
    }
    ccc_buf_wipe(&e->doc);
    ccc_secret_free(e, sizeof *e);
}

ccc_status ccc_enclave_receipt_key_spki(const ccc_enclave *e,
                                        uint8_t out[static CCC_RECEIPT_SPKI_SIZE])
{
    return ccc_receipt_key_spki(e->receipt_key, out);
}

const uint8_t *ccc_enclave_model_sha256(const ccc_enclave *e) { return e->model_sha256; }

uint64_t ccc_enclave_jobs_done(const ccc_enclave *e) { return e->seq; }

ccc_status ccc_enclave_set_attestation(ccc_enclave *e, ccc_bytes doc)
{
    ccc_status st = CCC_OK;
    ccc_attest_doc parsed;
    ccc_attest_doc_init(&parsed);
    uint8_t spki[CCC_RECEIPT_SPKI_SIZE];
    ccc_attest_error why;
    CCC_TRY(ccc_attest_doc_parse(&parsed, doc, &why));
    CCC_TRY(ccc_enclave_receipt_key_spki(e, spki));
    CCC_CHECK(parsed.has_public_key && parsed.public_key.size == sizeof spki &&
                  memcmp(parsed.public_key.ptr, spki, sizeof spki) == 0,
              CCC_ERR_CRYPTO, "enclave: attestation document does not carry the receipt key");
    ccc_receipt r;
    ccc_receipt_init(&r);
    CCC_TRY(ccc_receipt_bind_attestation(&r, &parsed));
    ccc_buf_reset(&e->doc);
    st = ccc_buf_append_bytes(&e->doc, doc);
    if (st != CCC_OK) {
        e->has_doc = false; /* the old document's bytes are gone: not ready */
        goto out;
    }
    e->bound = r;
    e->has_doc = true;
out:
    ccc_attest_doc_wipe(&parsed);
    return st;
}

ccc_bytes ccc_enclave_attestation(const ccc_enclave *e)
{
    return e->has_doc ? ccc_buf_bytes(&e->doc) : ccc_bytes_of(NULL, 0);
}

bool ccc_enclave_has_keys(const ccc_enclave *e) { return e->key_count > 0; }

ccc_status ccc_enclave_install_keys(ccc_enclave *e, const ccc_ohttp_gateway_key *keys,
                                    size_t count)
{
    CCC_ENSURE(keys != NULL && count >= 1 && count <= CCC_ENCLAVE_MAX_KEYS, CCC_ERR_USAGE,
               "enclave: 1 or 2 gateway keys");
    for (size_t i = 0; i < count; i++)
        for (size_t j = i + 1; j < count; j++)
            CCC_ENSURE(keys[i].config.key_id != keys[j].config.key_id, CCC_ERR_USAGE,
                       "enclave: duplicate gateway key id");
    wipe_keys(e);
    for (size_t i = 0; i < count; i++)
        e->keys[i] = keys[i];
    e->key_count = count;
    return CCC_OK;
}

void ccc_enclave_result_init(ccc_enclave_result *r)
{
    ccc_buf_init(&r->response, CCC_ENCLAVE_MAX_RESPONSE_SIZE);
    ccc_buf_init(&r->receipt, CCC_RECEIPT_MAX_SIZE);
}

void ccc_enclave_result_wipe(ccc_enclave_result *r)
{
    ccc_buf_wipe(&r->response);
    ccc_buf_wipe(&r->receipt);
}

/* receipt.h: "job_id tstr 1..256 bytes, printable ASCII without space". */
static ccc_status check_job_id(const char *id, size_t size)
{
    CCC_ENSURE(id != NULL && size >= 1 && size <= CCC_ENCLAVE_MAX_JOB_ID, CCC_ERR_USAGE,
               "enclave: job id must be 1..256 bytes");
    for (size_t i = 0; i < size; i++)
        CCC_ENSURE(id[i] >= 0x21 && id[i] <= 0x7e, CCC_ERR_USAGE,
                   "enclave: job id must be printable ASCII without space");
    return CCC_OK;
}

static bool replay_seen(const ccc_enclave *e, const uint8_t job[32], const uint8_t req[32],
                        bool *by_job)
{
    for (size_t i = 0; i < e->replay_count; i++) {
        if (memcmp(e->replay[i].job, job, 32) == 0) {
            *by_job = true;
            return true;
        }
        if (memcmp(e->replay[i].request, req, 32) == 0) {
            *by_job = false;
            return true;
        }
    }
    return false;
}

static void replay_record(ccc_enclave *e, const uint8_t job[32], const uint8_t req[32])
{
    memcpy(e->replay[e->replay_next].job, job, 32);
    memcpy(e->replay[e->replay_next].request, req, 32);
    e->replay_next = (e->replay_next + 1) % e->replay_capacity;
    if (e->replay_count < e->replay_capacity)
        e->replay_count++;
}

/* The kept answer of exactly this job (id and ciphertext), or NULL. */
static const sent_entry *sent_find(const ccc_enclave *e, const uint8_t job[32],
                                   const uint8_t req[32])
{
    for (size_t i = 0; i < CCC_ENCLAVE_RESEND_CAPACITY; i++) {
        const sent_entry *s = &e->sent[i];
        if (s->used && memcmp(s->job, job, 32) == 0 && memcmp(s->request, req, 32) == 0)
            return s;
    }
    return NULL;
}

static void sent_keep(ccc_enclave *e, const uint8_t job[32], const uint8_t req[32],
                      const ccc_enclave_result *out)
{
    sent_entry *s = &e->sent[e->sent_next];
    e->sent_next = (e->sent_next + 1) % e->sent_capacity;
    ccc_buf_reset(&s->response);
    ccc_buf_reset(&s->receipt);
    s->used = ccc_buf_append(&s->response, out->response.data, out->response.size) == CCC_OK &&
              ccc_buf_append(&s->receipt, out->receipt.data, out->receipt.size) == CCC_OK;
    memcpy(s->job, job, 32);
    memcpy(s->request, req, 32);
}

/* The detector's cats as the egress guard takes them (normalised boxes). */
static ccc_status build_answer(const ccc_enclave *e, const ccc_detect_result *r,
                               const ccc_image *img, ccc_buf *answer)
{
    ccc_egress_box boxes[CCC_DETECT_MAX_BOXES];
    size_t n = 0;
    for (size_t i = 0; i < r->count; i++) {
        const ccc_detect_box *b = &r->boxes[i];
        if (b->cls != CCC_DETECT_CLASS_CAT)
            continue;
        boxes[n].x1 = (float)(b->x1 / img->width);
        boxes[n].y1 = (float)(b->y1 / img->height);
        boxes[n].x2 = (float)(b->x2 / img->width);
        boxes[n].y2 = (float)(b->y2 / img->height);
        boxes[n].score = b->score;
        n++;
    }
    ccc_egress_detection det = {
        .count = (uint32_t)r->cat_count,
        .confidence = r->cat_count > 0 ? r->cat_max_score : 0.0f,
        .boxes = boxes,
        .box_count = n,
        .model = CCC_ENCLAVE_MODEL_ID,
    };
    ccc_status st = ccc_egress_answer_build(&det, &e->egress, answer);
    ccc_wipe(boxes, sizeof boxes);
    return st;
}

ccc_status ccc_enclave_process_job(ccc_enclave *e, const char *job_id, size_t job_id_size,
                                   ccc_bytes enc_request, uint64_t now_ms,
                                   ccc_enclave_result *out)
{
    ccc_status st = CCC_OK;
    uint64_t t0 = ccc_now_ns();
    ccc_ohttp_ctx ctx;
    ccc_ohttp_ctx_init(&ctx);
    ccc_buf plain;   /* the photo's bytes: user data */
    ccc_buf_init_secret(&plain, CCC_ENCLAVE_MAX_IMAGE_SIZE);
    ccc_buf answer;  /* the answer JSON: user data */
    ccc_buf_init_secret(&answer, CCC_EGRESS_MAX_ANSWER_SIZE);
    ccc_image img;   /* the pixels: user data (ccc_image_wipe zeroes) */
    ccc_image_init(&img);
    ccc_detect_result det;
    memset(&det, 0, sizeof det);
    uint8_t job_hash[32], req_hash[32];
    bool resent = false; /* answered from the kept answers */
    uint8_t salt[CCC_RECEIPT_ANSWER_SALT_SIZE];
    ccc_receipt r;
    ccc_receipt_init(&r);
    char log_id[CCC_ENCLAVE_MAX_JOB_ID + 1] = "";
    ccc_buf_reset(&out->response);
    ccc_buf_reset(&out->receipt);

    CCC_TRY(check_job_id(job_id, job_id_size));
    memcpy(log_id, job_id, job_id_size);
    log_id[job_id_size] = '\0';
    CCC_CHECK(e->has_doc && e->key_count > 0, CCC_ERR_BUSY,
              "enclave: not ready (no attestation document or no keys)");
    CCC_CHECK(enc_request.size <= CCC_ENCLAVE_MAX_REQUEST_SIZE, CCC_ERR_LIMIT,
              "enclave: request over 16 MiB");
    CCC_CHECK(enc_request.size >= CCC_OHTTP_REQUEST_OVERHEAD, CCC_ERR_PARSE,
              "enclave: request too short");

    /* Replay: by job id, then by ciphertext (before any decryption). */
    CCC_TRY(ccc_receipt_sha256(ccc_bytes_of(job_id, job_id_size), job_hash));
    CCC_TRY(ccc_receipt_sha256(enc_request, req_hash));
    bool by_job = false;
    const sent_entry *again = sent_find(e, job_hash, req_hash);
    if (again) {
        /* A redelivery (the host lost our answer: it died, or the
         * connection did, after the job reached us): the same bytes again,
         * no second run, no second receipt. */
        CCC_TRY(ccc_buf_append(&out->response, again->response.data, again->response.size));
        CCC_TRY(ccc_buf_append(&out->receipt, again->receipt.data, again->receipt.size));
        resent = true;
        goto out;
    }
    if (replay_seen(e, job_hash, req_hash, &by_job)) {
        if (by_job)
            CCC_FAIL(CCC_ERR_REPLAY, "enclave: job id already completed");
        CCC_FAIL(CCC_ERR_REPLAY, "enclave: request ciphertext already completed");
    }

    /* RFC 9458 §4.3: decapsulate; the plaintext is the photo (v1). */
    size_t plain_size = enc_request.size - CCC_OHTTP_REQUEST_OVERHEAD;
    uint8_t *p = NULL;
    CCC_TRY(ccc_buf_extend(&plain, plain_size, &p));
    size_t got = 0;
    CCC_TRY(ccc_ohttp_request_decapsulate(&ctx, e->keys, e->key_count, enc_request.ptr,
                                          enc_request.size, p, plain_size, &got));
    CCC_CHECK(got == plain_size, CCC_ERR_INTERNAL, "enclave: request size mismatch");
    /* the receipt's answer salt (receipt.h), before the response
     * encapsulation consumes the context: secret to the client and us */
    CCC_TRY(ccc_hpke_ctx_export(&ctx.hpke,
                                ccc_bytes_of(CCC_RECEIPT_ANSWER_SALT_LABEL,
                                             sizeof CCC_RECEIPT_ANSWER_SALT_LABEL - 1),
                                salt, sizeof salt));

    ccc_image_limits limits = ccc_image_limits_default();
    CCC_TRY(ccc_image_decode(ccc_buf_bytes(&plain), &limits, &img));
    ccc_buf_reset(&plain); /* the encoded photo is no longer needed (wiped) */
    CCC_TRY(ccc_detect_model_run(e->model, &img, e->threshold, &det, NULL));
    CCC_TRY(build_answer(e, &det, &img, &answer));
    ccc_image_wipe(&img);

    /* RFC 9458 §4.4: the answer, encrypted to this request's client. */
    size_t overhead = ccc_ohttp_response_overhead(ctx.hpke.suite.aead_id);
    CCC_CHECK(overhead > 0, CCC_ERR_INTERNAL, "enclave: unknown AEAD");
    uint8_t *q = NULL;
    CCC_TRY(ccc_buf_extend(&out->response, answer.size + overhead, &q));
    size_t resp_size = 0;
    CCC_TRY(ccc_ohttp_response_encapsulate(&ctx, answer.data, answer.size, q,
                                           answer.size + overhead, &resp_size));
    out->response.size = resp_size;

    /* The receipt (receipt.h): binds job, request, answer, model, policy,
     * the document's PCRs and hash, time and the per-boot sequence. */
    r = e->bound;
    CCC_TRY(ccc_receipt_set_job_id(&r, job_id, job_id_size));
    memcpy(r.request_sha256, req_hash, 32);
    CCC_TRY(ccc_receipt_answer_commit(salt, ccc_buf_bytes(&answer), r.answer_sha256));
    memcpy(r.model_sha256, e->model_sha256, 32);
    memcpy(r.policy_sha256, e->policy_sha256, 32);
    r.time_ms = now_ms;
    r.seq = e->seq;
    CCC_TRY(ccc_receipt_sign(&r, e->receipt_key, &out->receipt));
    e->seq++;
    replay_record(e, job_hash, req_hash);
    sent_keep(e, job_hash, req_hash, out);
out:
    ccc_wipe(salt, sizeof salt);
    ccc_ohttp_ctx_wipe(&ctx);
    ccc_buf_wipe(&plain);
    ccc_buf_wipe(&answer);
    ccc_image_wipe(&img);
    ccc_detect_model_scrub(e->model); /* the resized photo and its activations */
    ccc_wipe(&det, sizeof det);
    ccc_wipe(&r, sizeof r);
    double ms = (double)(ccc_now_ns() - t0) / 1e6;
    if (st == CCC_OK && resent) {
        ccc_log(CCC_LOG_INFO, CCC_EV_JOB_RESENT, ccc_log_job(log_id),
                ccc_log_size(CCC_F_BYTES_IN, enc_request.size), CCC_LOG_END);
    } else if (st == CCC_OK) {
        ccc_log(CCC_LOG_INFO, CCC_EV_JOB_DONE, ccc_log_job(log_id),
                ccc_log_size(CCC_F_BYTES_IN, enc_request.size),
                ccc_log_size(CCC_F_BYTES_OUT, out->response.size + out->receipt.size),
                ccc_log_ms(CCC_F_DURATION_MS, ms), ccc_log_count(CCC_F_SEQUENCE, e->seq - 1),
                CCC_LOG_END);
    } else {
        ccc_buf_reset(&out->response);
        ccc_buf_reset(&out->receipt);
        ccc_log(CCC_LOG_WARN, CCC_EV_JOB_FAILED, ccc_log_job(log_id), ccc_log_status(st),
                ccc_log_size(CCC_F_BYTES_IN, enc_request.size), ccc_log_ms(CCC_F_DURATION_MS, ms),
                CCC_LOG_END);
    }
    return st;
}
