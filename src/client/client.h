/*
 * client — `ccc count` as a library: verify what the service publishes,
 * encrypt a photo to it, and accept an answer only with a receipt that
 * chains to the three trust anchors the user pinned (docs/protocol.md §12).
 *
 *   trust      root.pem (or the compiled-in AWS root), policy-pub.pem,
 *              kms-pub.pem — held before anything is fetched
 *   config     GET /v1/config (§11), verified: ccc_client_config_verify
 *   seal       the photo encrypted with OHTTP (§3) to the current key:
 *              ccc_client_job_seal
 *   submit     POST /v1/jobs, poll GET /v1/jobs/{id}: ccc_client_http_*
 *   open       the done job verified and decrypted: ccc_client_result_open
 *
 * The library never prints; `ccc count` (src/cli/cmd_count.c) is a thin
 * loop over it and `ccc bench e2e` calls it from many threads.
 *
 * ------------------------------------------------------------------------
 * What ccc_client_config_verify checks (§12), in this order; first failure
 * wins and nothing may be uploaded after a failure:
 * ------------------------------------------------------------------------
 *   step ("step" field)   check                                   class
 *   json                  {"v":1,"kms_config","policy",            PARSE/LIMIT/
 *                         "attestations":[...]}: exactly these     UNSUPPORTED
 *                         keys, strict base64 (RFC 4648 §4, with
 *                         padding, no whitespace or other bytes)
 *   key configuration     COSE_Sign1 by the pinned kms key         CRYPTO/PARSE
 *                         (ccc_kms_config_verify)
 *   policy                bundle signed by the pinned policy key   CRYPTO/PARSE
 *   policy hash           SHA-256(policy payload) equals the       POLICY
 *                         config's policy_sha256 (the policy the
 *                         key service enforces on key release)
 *   attestation           every listed document (ccc_client_       CRYPTO/POLICY
 *                         attestation_verify below)
 *   anti-rollback         ccc_policy_rollback_check with the       REPLAY
 *                         state file: an older version, or the
 *                         same version with other content, is
 *                         refused; a newer one is recorded (only
 *                         here, after everything else passed)
 * An empty attestation list is accepted (no enclave ready yet: jobs wait
 * in the queue); the document that signs the receipt is always checked.
 *
 * ccc_client_attestation_verify (one receipt-key document, §12):
 *   - chain to the pinned root, valid at `now_ms`; COSE signature (ES384);
 *   - not a debug enclave (PCR0/1/2 all zero is refused);
 *   - PCR0/1/2... equal one of the policy's measurement sets;
 *   - PCR16 = SHA-384(0^48 || m) for some manifest hash m the policy lists;
 *   - PCR17 = SHA-384(0^48 || policy hash);
 *   - public_key is an Ed25519 SubjectPublicKeyInfo (the receipt key).
 * No maximum age: a receipt-key document is made once per enclave boot and
 * is valid as long as its certificate chain (about three hours on Nitro).
 *
 * ------------------------------------------------------------------------
 * What ccc_client_result_open checks, in this order:
 * ------------------------------------------------------------------------
 *   1. the job JSON is {"id","status":"done","response","receipt",
 *      "attestation"} and id equals the job's own id             PARSE/POLICY
 *   2. the attestation document, as above (it may be a newer enclave than
 *      the ones in /v1/config)                                   CRYPTO/POLICY
 *   3. the receipt: signed by that document's key, bound to it (hash,
 *      PCRs), to the job id, SHA-256 of the request ciphertext we sent,
 *      the policy hash and a model manifest the policy lists     CRYPTO/POLICY
 *   4. the answer decrypts (RFC 9458 §4.4 with our request context) CRYPTO
 *   5. the answer passes the egress grammar under the policy's
 *      limits (src/egress)                                       POLICY
 *   6. the receipt's answer_sha256 = SHA-256(answer bytes)       POLICY
 * Steps 2..3 run before the decryption, so a refused receipt leaves the
 * request context usable (and nothing decrypted). Any failure: no answer.
 *
 * ------------------------------------------------------------------------
 * Threads
 * ------------------------------------------------------------------------
 * ccc_client_trust and ccc_client_config are read-only after they are
 * loaded/verified: share them between threads. A ccc_client_job, a
 * ccc_client_result and a ccc_client_http belong to one thread at a time
 * (one each per worker thread). Error details are per thread (src/base).
 * ccc_client_config_verify writes the anti-rollback state file: call it
 * once (not from many threads at the same time on one state file).
 *
 * Ownership: every struct here is caller-owned with init/wipe, except
 * ccc_client_http (new/free). A job holds the request's HPKE context
 * (secret) until wiped; a result holds the decrypted answer (wiped on
 * ccc_client_result_wipe).
 *
 * Important caveats
 * 1. Trust comes only from the three anchors. With the local stack, the
 *    root is the simulated NSM's: it proves only that this machine's
 *    operator vouches (docs/threat-model.md).
 * 2. The host chooses which error class a failed job reports; a class is
 *    a hint, never evidence. Only an answer with a verified receipt is.
 * 3. The state file is the client's memory against policy rollback: a
 *    fresh state file accepts any correctly signed policy.
 */
#ifndef CCC_CLIENT_H
#define CCC_CLIENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "attest/attest.h"
#include "base/base.h"
#include "egress/egress.h"
#include "kms/kms.h"
#include "ohttp/ohttp.h"
#include "policy/policy.h"
#include "receipt/receipt.h"
#include "x509/x509.h"

#define CCC_CLIENT_MAX_ATTESTATIONS 16                 /* documents in /v1/config */
#define CCC_CLIENT_VERIFIED_MS 60000u /* a verified chain is remembered this long */
#define CCC_CLIENT_MAX_CONFIG_JSON (2u * 1024u * 1024u) /* GET /v1/config body     */
#define CCC_CLIENT_MAX_JOB_JSON (256u * 1024u)          /* GET /v1/jobs/{id} body  */
#define CCC_CLIENT_MAX_ERROR_JSON (16u * 1024u)         /* any other answer body   */
#define CCC_CLIENT_JOB_ID_SIZE 32                       /* hex digits we generate  */
#define CCC_CLIENT_DEFAULT_SERVER "http://127.0.0.1:8750"
#define CCC_CLIENT_DEFAULT_TIMEOUT_MS 120000u

/* ------------------------------------------------------------------------ */
/* Trust anchors (§12)                                                       */
/* ------------------------------------------------------------------------ */

typedef struct ccc_client_trust {
    ccc_x509_root *root;  /* attestation chain anchor            */
    EVP_PKEY *policy_pub; /* Ed25519, verifies the policy bundle */
    EVP_PKEY *kms_pub;    /* Ed25519, verifies the key config    */
    bool aws_root;        /* root is the compiled-in AWS root    */
} ccc_client_trust;

void ccc_client_trust_init(ccc_client_trust *t);
void ccc_client_trust_wipe(ccc_client_trust *t);
/*
 * Load the anchors from files: `root` is a PEM certificate path or "aws"
 * (the compiled-in AWS Nitro root); the two keys are Ed25519 public keys in
 * PEM (SubjectPublicKeyInfo). Errors: CCC_ERR_NOT_FOUND/IO (files),
 * CCC_ERR_PARSE, CCC_ERR_UNSUPPORTED (a key that is not Ed25519).
 */
CCC_MUST_USE ccc_status ccc_client_trust_load(ccc_client_trust *t, const char *root,
                                              const char *policy_pub, const char *kms_pub);
/*
 * DIR/root.pem, DIR/policy-pub.pem, DIR/kms-pub.pem (what `ccc up` writes);
 * each non-NULL override (root: a path or "aws") replaces that one file.
 */
CCC_MUST_USE ccc_status ccc_client_trust_load_dir(ccc_client_trust *t, const char *dir,
                                                  const char *root, const char *policy_pub,
                                                  const char *kms_pub);

/*
 * ${XDG_CONFIG_HOME:-$HOME/.config}/ccc/policy-state-<K> into out, where K
 * is the first 16 hex digits of SHA-256 of the policy key's
 * SubjectPublicKeyInfo: anti-rollback is per policy signer, so two services
 * (or a fresh `ccc up` data directory, with its own policy key) each start
 * from their own version 1 without one refusing the other. The directory
 * is not created here. CCC_ERR_NOT_FOUND without HOME.
 */
CCC_MUST_USE ccc_status ccc_client_default_state_path(const ccc_client_trust *trust, char *out,
                                                      size_t out_size);

/* ------------------------------------------------------------------------ */
/* The §11 JSON documents (parsing only; nothing here is trusted)            */
/* ------------------------------------------------------------------------ */

/* GET /v1/config, decoded. Caller-owned. */
typedef struct ccc_client_config_json {
    ccc_buf kms_config;
    ccc_buf policy;
    ccc_buf attestations[CCC_CLIENT_MAX_ATTESTATIONS];
    size_t attestation_count;
} ccc_client_config_json;

void ccc_client_config_json_init(ccc_client_config_json *c);
void ccc_client_config_json_wipe(ccc_client_config_json *c);
/*
 * Strict parse (json at most CCC_CLIENT_MAX_CONFIG_JSON bytes, one object,
 * exactly the keys v=1, kms_config, policy, attestations; strict base64;
 * each field within its module's size cap). CCC_ERR_PARSE, CCC_ERR_LIMIT,
 * CCC_ERR_UNSUPPORTED (v).
 */
CCC_MUST_USE ccc_status ccc_client_config_json_parse(ccc_bytes json, ccc_client_config_json *out);

typedef enum ccc_client_job_state {
    CCC_CLIENT_JOB_QUEUED = 0,
    CCC_CLIENT_JOB_PROCESSING,
    CCC_CLIENT_JOB_DONE,
    CCC_CLIENT_JOB_FAILED,
} ccc_client_job_state;

/* "queued", "processing", "done", "failed". */
const char *ccc_client_job_state_name(ccc_client_job_state s);

/* GET /v1/jobs/{id}, decoded. Caller-owned. */
typedef struct ccc_client_job_json {
    char id[CCC_RECEIPT_MAX_JOB_ID + 1];
    ccc_client_job_state state;
    uint64_t attempt;    /* the host's attempt count (0 when absent) */
    ccc_status error;    /* failed: the class the host reports       */
    ccc_buf response;    /* done: enc_response                       */
    ccc_buf receipt;     /* done: COSE receipt                       */
    ccc_buf attestation; /* done: the document that signed it        */
} ccc_client_job_json;

void ccc_client_job_json_init(ccc_client_job_json *j);
void ccc_client_job_json_wipe(ccc_client_job_json *j);
/*
 * Strict parse of a job answer: {"id","status"} (queued, processing),
 * {"id","status":"done","response","receipt","attestation"},
 * {"id","status":"failed","error"}, each with an optional "attempt"
 * (a count); no other keys; id 1..256 bytes of 0x21..0x7e; error one of
 * the ccc_status names. CCC_ERR_PARSE/LIMIT.
 */
CCC_MUST_USE ccc_status ccc_client_job_json_parse(ccc_bytes json, ccc_client_job_json *out);

/*
 * An error answer {"error":"<class>","message":"..."} → its class in *cls
 * (the message is ignored: it is the host's, never shown as ours).
 * CCC_ERR_PARSE when the body is not that.
 */
CCC_MUST_USE ccc_status ccc_client_error_json_parse(ccc_bytes json, ccc_status *cls);

/* The status named `name` ("parse", "limit", ...); CCC_ERR_NOT_FOUND if
 * it names none (or "ok"). */
CCC_MUST_USE ccc_status ccc_client_status_from_name(const char *name, size_t size,
                                                    ccc_status *out);

/* Strict standard base64 with padding (RFC 4648 §4) of `text` into `out`
 * (appended; its cap applies). CCC_ERR_PARSE for any other byte, bad
 * padding or a length not a multiple of 4; CCC_ERR_LIMIT over the cap. */
CCC_MUST_USE ccc_status ccc_client_base64_decode(ccc_bytes text, ccc_buf *out);

/* ------------------------------------------------------------------------ */
/* The verified configuration                                                */
/* ------------------------------------------------------------------------ */

typedef struct ccc_client_config {
    ccc_kms_config kms;        /* verified key configurations, current first */
    ccc_policy policy;         /* verified policy                            */
    uint8_t policy_sha256[32]; /* its hash (= kms.policy_sha256)             */
    size_t attestation_count;  /* documents verified                         */
    size_t pcr_set[CCC_CLIENT_MAX_ATTESTATIONS]; /* policy set each matched  */
    bool rollback_checked;     /* the state file was consulted and updated   */
    const char *step;          /* the step that failed (the table above), or
                                  "ok"; a static string                       */
    /* Documents whose chain and signature verified, by SHA-256, each good
     * until `until_ms` (verified at the time AND at that time + 60 s, so no
     * certificate expires while it is remembered): a client counting many
     * photos checks each enclave's chain once a minute, not per job (~5 ms).
     * The cheap checks (PCR sets, PCR16/17, receipt key) run every time.
     * A memo: filled under its mutex through a const config. */
    struct {
        pthread_mutex_t lock;
        size_t next;
        struct {
            uint8_t sha256[32];
            uint64_t from_ms, until_ms; /* verified at both ends */
        } docs[CCC_CLIENT_MAX_ATTESTATIONS];
    } verified;
} ccc_client_config;

void ccc_client_config_init(ccc_client_config *c);

/*
 * Verify a GET /v1/config body (the table above) at `now_ms` (wall clock,
 * ms since the epoch). `state_path` NULL skips the anti-rollback check
 * (rollback_checked stays false: say so to the user). On failure `out`
 * holds only `step` and the status is the failing check's.
 */
CCC_MUST_USE ccc_status ccc_client_config_verify(const ccc_client_trust *trust, ccc_bytes json,
                                                 const char *state_path, uint64_t now_ms,
                                                 ccc_client_config *out);

/*
 * One receipt-key document (the list above). `doc` is parsed into (it
 * borrows `doc_bytes`; wipe it after). *pcr_set (may be NULL) receives the
 * index of the policy's measurement set that matched.
 */
CCC_MUST_USE ccc_status ccc_client_attestation_verify(const ccc_client_trust *trust,
                                                      const ccc_client_config *cfg,
                                                      ccc_bytes doc_bytes, uint64_t now_ms,
                                                      ccc_attest_doc *doc, size_t *pcr_set);

/* ------------------------------------------------------------------------ */
/* One job                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct ccc_client_job {
    char id[CCC_RECEIPT_MAX_JOB_ID + 1]; /* CCC-Job-Id we send            */
    ccc_ohttp_ctx ctx;                   /* request context (secret)      */
    ccc_buf enc_request;                 /* the body we POST              */
    uint8_t request_sha256[32];
    bool sealed;
} ccc_client_job;

/* A job id we send: 1..256 characters of [A-Za-z0-9._:-] (what ccc-host's
 * queue accepts; a subset of §11's 0x21..0x7e). */
bool ccc_client_job_id_ok(const char *id);

void ccc_client_job_init(ccc_client_job *j);
void ccc_client_job_wipe(ccc_client_job *j);

/*
 * Encrypt `photo` (a JPEG or PNG, the file's bytes) with OHTTP to the
 * current (first) key configuration, AES-256-GCM (§3). Checked BEFORE
 * encrypting: the magic bytes (CCC_ERR_UNSUPPORTED "not a JPEG or PNG"),
 * the whole enc_request against the policy's tou.max_body_bytes
 * (CCC_ERR_LIMIT). `job_id` NULL: 32 random hex digits; otherwise 1..256
 * bytes of [A-Za-z0-9._:-] (CCC_ERR_USAGE). `job` must be fresh (init).
 */
CCC_MUST_USE ccc_status ccc_client_job_seal(const ccc_client_config *cfg, ccc_bytes photo,
                                            const char *job_id, ccc_client_job *job);

/* What a verified job gives back. Caller-owned; wipe. */
typedef struct ccc_client_result {
    ccc_egress_answer answer; /* the parsed answer                         */
    ccc_buf answer_json;      /* its exact bytes (secret buffer)          */
    ccc_buf receipt;          /* COSE receipt bytes (for --save)          */
    ccc_buf attestation;      /* the document that signed it (for --save) */
    uint8_t answer_salt[CCC_RECEIPT_ANSWER_SALT_SIZE]; /* salts the receipt's
                                 answer_sha256 (receipt.h); secret: it lets
                                 its holder test guesses of the answer */
    uint64_t seq, time_ms;    /* from the verified receipt                */
    uint64_t attempt;         /* the host's attempt count (unverified)    */
    size_t pcr_set;           /* the policy set the document matched      */
    const char *step;         /* failing step ("job", "attestation",
                                 "receipt", "decrypt", "answer", "answer
                                 hash") or "ok"                            */
} ccc_client_result;

void ccc_client_result_init(ccc_client_result *r);
void ccc_client_result_wipe(ccc_client_result *r);

/*
 * Verify and open a done job (the list at the top) at `now_ms`. On success
 * the job's request context is consumed (one answer per request). On any
 * failure `out` holds no answer and the status names the class.
 */
CCC_MUST_USE ccc_status ccc_client_result_open(const ccc_client_trust *trust,
                                               const ccc_client_config *cfg, ccc_client_job *job,
                                               ccc_bytes job_json, uint64_t now_ms,
                                               ccc_client_result *out);
/* The same with an already parsed job answer. */
CCC_MUST_USE ccc_status ccc_client_result_open_parsed(const ccc_client_trust *trust,
                                                      const ccc_client_config *cfg,
                                                      ccc_client_job *job,
                                                      const ccc_client_job_json *jj,
                                                      uint64_t now_ms, ccc_client_result *out);

/* ------------------------------------------------------------------------ */
/* HTTP (libcurl)                                                            */
/* ------------------------------------------------------------------------ */

/*
 * One connection handle to a ccc-host (keep-alive). Not shared between
 * threads. Only http:// and https:// URLs; no redirects; loopback never
 * goes through a proxy. Every body read is capped (the sizes above).
 *
 * Errors of every call: CCC_ERR_IO (cannot connect, timeout), CCC_ERR_LIMIT
 * (an answer over its cap), or the class of the host's error answer (§11:
 * {"error":"<class>"}; the class name is mapped back to ccc_status).
 */
typedef struct ccc_client_http ccc_client_http;

CCC_MUST_USE ccc_status ccc_client_http_new(const char *server_url, ccc_client_http **out);
void ccc_client_http_free(ccc_client_http *h);
/* Per-request limit (default 30 s; the poll loop also bounds it). */
void ccc_client_http_set_request_timeout(ccc_client_http *h, uint32_t ms);

/* GET /v1/config; the body into `json` (reset first). */
CCC_MUST_USE ccc_status ccc_client_http_get_config(ccc_client_http *h, ccc_buf *json);

/*
 * POST /v1/jobs with the job's body, Content-Type message/ohttp-req and
 * CCC-Job-Id. 202 (accepted) or 200 (the same job again) is CCC_OK. A
 * connection failure, 503 or 429 (after Retry-After) is retried with the
 * same id and body (a safe retry: §11 deduplicates) until `deadline_ns`
 * (ccc_now_ns clock). Anything else fails with its class.
 */
CCC_MUST_USE ccc_status ccc_client_http_submit(ccc_client_http *h, const ccc_client_job *job,
                                               uint64_t deadline_ns);

/* Called on every poll answer (state changes and waiting). */
typedef void (*ccc_client_progress_fn)(void *arg, ccc_client_job_state state, uint64_t attempt,
                                       uint64_t elapsed_ms);

/*
 * Long-poll GET /v1/jobs/{id}?wait=2000 (the host answers as soon as the
 * result is stored; without long polls, backoff 100 ms doubling to 1 s) until the
 * job is done or failed, or `deadline_ns` (CCC_ERR_IO "timed out waiting
 * for the job"). Connection failures and 5xx/429 answers are waited out.
 * Done: CCC_OK with `out` filled. Failed: the job's class, with
 * *job_failed = true (the host/enclave refused the job, as opposed to a
 * transport error). `progress` may be NULL.
 */
CCC_MUST_USE ccc_status ccc_client_http_wait(ccc_client_http *h, const char *job_id,
                                             uint64_t deadline_ns, ccc_client_progress_fn progress,
                                             void *arg, ccc_client_job_json *out,
                                             bool *job_failed);

/*
 * The whole job for one photo: seal, submit, wait, open. `timeout_ms` (0:
 * CCC_CLIENT_DEFAULT_TIMEOUT_MS) bounds submit + wait. `job` must be fresh
 * (init) and is left sealed (its id and request) for the caller to report;
 * `out` must be init'ed; on failure out->step says where: "seal" (nothing
 * sent), "submit", "wait" (transport, or the job failed: *job_failed as in
 * ccc_client_http_wait), or a check of ccc_client_result_open.
 */
CCC_MUST_USE ccc_status ccc_client_count(ccc_client_http *h, const ccc_client_trust *trust,
                                         const ccc_client_config *cfg, ccc_bytes photo,
                                         uint32_t timeout_ms, ccc_client_progress_fn progress,
                                         void *arg, ccc_client_job *job, ccc_client_result *out,
                                         bool *job_failed);

/* GET /v1/config and ccc_client_config_verify in one call (now = wall clock). */
CCC_MUST_USE ccc_status ccc_client_fetch_config(ccc_client_http *h, const ccc_client_trust *trust,
                                                const char *state_path, ccc_client_config *out);

#endif /* CCC_CLIENT_H */
