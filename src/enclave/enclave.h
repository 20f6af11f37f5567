/*
 * enclave — the trusted worker's core (ccc-enclave), as a library that runs
 * in one process without sockets: keys in, jobs in, encrypted answers and
 * signed receipts out. The program (later) adds start-up (NSM, key release
 * through ccc-kms) around it and calls ccc_enclave_serve on its socket.
 *
 * Life cycle
 *   1. ccc_enclave_new       load the detector (signed manifest checked,
 *                            its hash must be one the policy accepts),
 *                            keep the policy and its hash, generate the
 *                            per-boot Ed25519 receipt key (never leaves).
 *   2. ccc_enclave_receipt_key_spki   the 44 bytes to put in the
 *                            attestation document's public_key (NSM).
 *   3. ccc_enclave_set_attestation    the document the NSM returned; it
 *                            must carry exactly that public_key.
 *   4. ccc_enclave_install_keys       the OHTTP gateway keys (1 or 2 live
 *                            key ids; copied, old ones wiped).
 *   5. ccc_enclave_sandbox_enter      seccomp allowlist (irreversible).
 *   6. ccc_enclave_process_job / ccc_enclave_handle_frame / _serve.
 *
 * ------------------------------------------------------------------------
 * One job (ccc_enclave_process_job), in this order; first failure wins
 * ------------------------------------------------------------------------
 *
 *   step                                      failure
 *   job id: 1..256 bytes, 0x21..0x7e          CCC_ERR_USAGE
 *   not ready (no document or no keys)        CCC_ERR_BUSY
 *   enc_request size 55 .. 16 MiB + 55        CCC_ERR_LIMIT / CCC_ERR_PARSE
 *   job id already completed                  CCC_ERR_REPLAY
 *   SHA-256(enc_request) already completed    CCC_ERR_REPLAY
 *   OHTTP decapsulate (RFC 9458 §4.3)         CCC_ERR_NOT_FOUND (key id),
 *                                             CCC_ERR_CRYPTO (tampered),
 *                                             CCC_ERR_PARSE/UNSUPPORTED
 *   decode image (src/image, default limits: CCC_ERR_UNSUPPORTED (not
 *     16 MiB, 8192 per side, 40 megapixels)    JPEG/PNG), CCC_ERR_LIMIT,
 *                                             CCC_ERR_PARSE
 *   detect (manifest threshold)               anything detect returns
 *   answer through the egress guard           CCC_ERR_POLICY / USAGE
 *     (src/egress, the policy's limits)
 *   OHTTP response (RFC 9458 §4.4)            CCC_ERR_CRYPTO
 *   receipt (src/receipt) signed, seq + 1     CCC_ERR_CRYPTO
 *   job id + request hash recorded as completed
 *
 * Every plaintext (request = image bytes, decoded pixels, detection
 * result, answer JSON) is wiped on every path before the call returns.
 * A failed job records nothing: the same job id may be retried (the host's
 * queue retries transient failures); only a completed job is final.
 *
 * ------------------------------------------------------------------------
 * The request plaintext, version 1
 * ------------------------------------------------------------------------
 *
 *   OHTTP request plaintext = the photo's bytes, exactly as the file holds
 *   them: a JPEG (FF D8 FF ...) or a PNG (89 50 4E 47 0D 0A 1A 0A ...).
 *
 * No version byte and no CBOR wrapper, on purpose: (1) the OHTTP header
 * already names the key and the cipher suite, and the image's own magic
 * bytes name its format, so a wrapper would carry nothing; (2) a 16 MiB
 * photo is decrypted straight into its final buffer, without a second
 * copy of the plaintext to wipe; (3) a later version can still be told
 * apart: it will start with a byte that no JPEG/PNG starts with (a CBOR
 * map head 0xA0..0xBF, say), which v1 refuses as CCC_ERR_UNSUPPORTED.
 * The answer plaintext is the egress guard's JSON (src/egress/egress.h).
 *
 * ------------------------------------------------------------------------
 * Replay protection (bound)
 * ------------------------------------------------------------------------
 *
 * The enclave remembers the last CCC_ENCLAVE_REPLAY_CAPACITY (4096; see
 * ccc_enclave_config.replay_capacity) completed jobs of this boot as (SHA-256(job id), SHA-256(enc_request));
 * a job whose id OR whose ciphertext matches one of them is refused with
 * CCC_ERR_REPLAY, so a captured ciphertext cannot be re-run under a new job
 * id either. The table is a ring: the oldest entry is forgotten when a new
 * job completes (jobs complete once, so least-recently-used is oldest).
 * Beyond that window (and across reboots: the table is not persisted) the
 * defences are: the queue's job-id deduplication on the host, the key
 * rotation (a ciphertext to a retired key id no longer decrypts), and the
 * receipt, which binds job id, request hash, time and per-boot sequence
 * number, so a client sees a second run of its request. Memory: 64 bytes
 * per entry (256 KiB); lookup is a linear scan (~0.1 ms, against ~100 ms of
 * detection).
 *
 * ------------------------------------------------------------------------
 * Frames on the host socket (src/frame; bodies are canonical CBOR,
 * RFC 8949 §4.2.1: shortest heads, map keys sorted by their encoding)
 * ------------------------------------------------------------------------
 *
 *   frame (type)      body                                   direction
 *   ping (0x01)       opaque token, 0..8 bytes               host -> enclave
 *   pong (0x02)       the ping's token                       enclave -> host
 *   job_request       map(2) {                               host -> enclave
 *     (0x10)            "job_id":  tstr  1..256 bytes 0x21..0x7e,
 *                       "request": bstr  OHTTP enc_request (55 .. 16 MiB+55)
 *                     }
 *   job_result        map(3) {                               enclave -> host
 *     (0x11)            "job_id":   tstr  the request's job id,
 *                       "receipt":  bstr  COSE_Sign1 receipt (receipt.h),
 *                       "response": bstr  OHTTP enc_response (the answer)
 *                     }
 *   job_error         map(2) {                               enclave -> host
 *     (0x12)            "class":  tstr  ccc_status_name: "parse", "limit",
 *                                       "unsupported", "crypto", "policy",
 *                                       "replay", "not_found", "busy", ...
 *                       "job_id": tstr  the request's job id
 *                     }
 *
 * Bytes, e.g. job_request for job "j1" (keys in canonical order):
 *   a2 66 "job_id" 62 "j1" 67 "request" 5a <len:4> <enc_request>
 * (the byte-string head is the shortest form for its length).
 *
 * A bad FRAME poisons the connection (ccc_enclave_serve returns, the caller
 * closes the socket): a header the frame layer refuses, a frame type the
 * enclave does not accept (anything but ping and job_request), or a
 * job_request body that is not exactly the map above (including a job id
 * outside 1..256 printable bytes: it could not be echoed). A bad JOB (any
 * failure of the steps in the job table) is answered with job_error and the
 * connection carries on. job_error carries only the class, never a detail.
 *
 * ------------------------------------------------------------------------
 * Sandbox (ccc_enclave_sandbox_enter): see enclave_sandbox.c for the
 * allowlist and the reason for every syscall. Default action: kill the
 * whole process (SCMP_ACT_KILL_PROCESS) — a worker that tries a syscall it
 * never needs is compromised or broken, and must not keep its keys running.
 *
 * Logging: through src/log only: job id (when it is a valid log id), sizes
 * in and out, duration, sequence number and status class. Never the count,
 * the answer, the image, or any detail string.
 *
 * Ownership: ccc_enclave is heap (new/free); it owns the model, the keys,
 * the document copy. ccc_enclave_result is caller-owned (init/wipe).
 * One job at a time per enclave (not thread-safe).
 */
#ifndef CCC_ENCLAVE_H
#define CCC_ENCLAVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "detect/detect.h"
#include "egress/egress.h"
#include "frame/frame.h"
#include "ohttp/ohttp.h"
#include "policy/policy.h"
#include "receipt/receipt.h"

#define CCC_ENCLAVE_MAX_KEYS 2                /* live key ids (rotation)   */
#define CCC_ENCLAVE_REPLAY_CAPACITY 4096u     /* completed jobs remembered */
#define CCC_ENCLAVE_MAX_JOB_ID CCC_RECEIPT_MAX_JOB_ID /* 256               */
#define CCC_ENCLAVE_MAX_IMAGE_SIZE CCC_IMAGE_DEFAULT_MAX_INPUT_SIZE /* 16 MiB */
#define CCC_ENCLAVE_MAX_REQUEST_SIZE (CCC_ENCLAVE_MAX_IMAGE_SIZE + CCC_OHTTP_REQUEST_OVERHEAD)
#define CCC_ENCLAVE_MODEL_ID "centernet-mnv3" /* "model" in the answer     */
#define CCC_ENCLAVE_MAX_RESPONSE_SIZE                                                              \
    (CCC_EGRESS_MAX_ANSWER_SIZE + CCC_OHTTP_RESPONSE_NONCE_MAX + CCC_HPKE_TAG_SIZE)

typedef struct ccc_enclave ccc_enclave;

typedef struct ccc_enclave_config {
    const char *model_dir;          /* centernet.json + centernet.bin          */
    ccc_detect_options detect;      /* manifest_path, trusted_key_path, threads */
    const ccc_policy *policy;       /* verified policy (copied)                */
    const uint8_t *policy_sha256;   /* 32 bytes: SHA-256 of its payload        */
    size_t replay_capacity;         /* completed jobs remembered; 0 = default
                                       CCC_ENCLAVE_REPLAY_CAPACITY (tests use 2) */
} ccc_enclave_config;

/*
 * Load and verify the model (ccc_detect_manifest_load_files), refuse it
 * unless its manifest hash is in policy->manifests (CCC_ERR_POLICY), and
 * generate the receipt key. Errors: anything detect returns, CCC_ERR_USAGE
 * (missing config), CCC_ERR_POLICY, CCC_ERR_CRYPTO, CCC_ERR_NOMEM.
 */
CCC_MUST_USE ccc_status ccc_enclave_new(const ccc_enclave_config *cfg, ccc_enclave **out);
/* Wipe the gateway keys, free the receipt key, the model and the rest. */
void ccc_enclave_free(ccc_enclave *e);

/* The receipt key's public half as the 44-byte Ed25519 SPKI (receipt.h). */
CCC_MUST_USE ccc_status ccc_enclave_receipt_key_spki(const ccc_enclave *e,
                                                     uint8_t out[static CCC_RECEIPT_SPKI_SIZE]);
/* SHA-256 of the verified model manifest (the receipt's model_sha256). */
const uint8_t *ccc_enclave_model_sha256(const ccc_enclave *e);

/*
 * Install the attestation document (copied, parsed). Its public_key must
 * be this enclave's receipt SPKI (CCC_ERR_CRYPTO otherwise). The document
 * is not verified here (the NSM gave it to us); its PCRs and hash go into
 * every receipt. May be replaced (a fresher document); jobs need one.
 */
CCC_MUST_USE ccc_status ccc_enclave_set_attestation(ccc_enclave *e, ccc_bytes doc);

/*
 * Install 1..CCC_ENCLAVE_MAX_KEYS gateway keys with distinct key ids
 * (copied; the previous keys are wiped). CCC_ERR_USAGE otherwise.
 */
CCC_MUST_USE ccc_status ccc_enclave_install_keys(ccc_enclave *e,
                                                 const ccc_ohttp_gateway_key *keys, size_t count);

/* What a completed job hands back (both are ciphertext/public). */
typedef struct ccc_enclave_result {
    ccc_buf response; /* OHTTP enc_response of the answer JSON  */
    ccc_buf receipt;  /* COSE_Sign1 receipt                      */
} ccc_enclave_result;

void ccc_enclave_result_init(ccc_enclave_result *r);
void ccc_enclave_result_wipe(ccc_enclave_result *r);

/*
 * Run one job (the table in the file comment). `job_id` is job_id_size
 * bytes (not NUL-terminated). now_ms: the enclave's clock, ms since the
 * epoch, for the receipt. `out` must have been ccc_enclave_result_init'ed
 * (its buffers are reset, then filled); on failure it is empty.
 */
CCC_MUST_USE ccc_status ccc_enclave_process_job(ccc_enclave *e, const char *job_id,
                                                size_t job_id_size, ccc_bytes enc_request,
                                                uint64_t now_ms, ccc_enclave_result *out);

/* Jobs completed (= receipts signed) since boot: the next receipt's seq. */
uint64_t ccc_enclave_jobs_done(const ccc_enclave *e);

/*
 * Handle one received frame and write the reply frame's type and body
 * (`reply` is reset first). CCC_OK: send the reply (a pong, a job_result
 * or a job_error). Any error: the frame was bad, close the connection.
 */
CCC_MUST_USE ccc_status ccc_enclave_handle_frame(ccc_enclave *e, ccc_frame_type type,
                                                 ccc_bytes body, uint64_t now_ms,
                                                 ccc_frame_type *reply_type, ccc_buf *reply);

/* Encode / decode a job_request body (the table above). decode borrows
 * `body`: *request points into it. */
CCC_MUST_USE ccc_status ccc_enclave_job_request_encode(const char *job_id, size_t job_id_size,
                                                       ccc_bytes enc_request, ccc_buf *out);
CCC_MUST_USE ccc_status ccc_enclave_job_request_decode(ccc_bytes body, ccc_bytes *job_id,
                                                       ccc_bytes *request);

/*
 * Serve frames on the connected stream socket `fd` until the peer closes
 * (CCC_OK) or a bad frame / socket error (that status). The time for
 * receipts is CLOCK_REALTIME. Does not close fd.
 */
CCC_MUST_USE ccc_status ccc_enclave_serve(ccc_enclave *e, int fd);

/*
 * Install the seccomp allowlist for the rest of the process's life (all
 * threads: SECCOMP_FILTER_FLAG_TSYNC). Call after start-up: the model is
 * loaded and its thread pool running, keys generated, sockets connected.
 * No open/openat, socket, connect, execve, ptrace, clone afterwards.
 * Errors: CCC_ERR_INTERNAL (libseccomp failed; nothing installed).
 */
CCC_MUST_USE ccc_status ccc_enclave_sandbox_enter(void);

#endif /* CCC_ENCLAVE_H */
