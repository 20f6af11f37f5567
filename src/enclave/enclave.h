/*
 * enclave — the trusted worker's core (ccc-enclave), as a library that runs
 * in one process without sockets: keys in, jobs in, encrypted answers and
 * signed receipts out. Start-up around it (NSM documents, key release
 * through the host and ccc-kms, the listening socket) is the last section
 * of this header, "Start-up on the host socket" (enclave_boot.c).
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
 *   the same job id AND ciphertext as one of  CCC_OK: the kept answer and
 *     the last 64 completed jobs                receipt again, byte for byte
 *     (a redelivery: the host lost the answer)  (no second run or receipt)
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
 * One exception: a job whose id AND ciphertext both match one of the last
 * 64 completed jobs (CCC_ENCLAVE_RESEND_CAPACITY, never more than the
 * window) is a redelivery — the host's queue delivers at least once, and a
 * host that dies after handing us a job never sees our answer — so it gets
 * that job's kept answer and receipt again, byte for byte: no second run, no
 * second receipt, nothing the host did not already have a right to carry.
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
 *   attest_request    empty                                  host -> enclave
 *     (0x20)
 *   attest_response   the current receipt-key attestation    enclave -> host
 *     (0x21)          document (docs/protocol.md §10), verbatim
 *
 * A bad FRAME poisons the connection (ccc_enclave_serve returns, the caller
 * closes the socket): a header the frame layer refuses, a frame type the
 * enclave does not accept (anything but ping, job_request and
 * attest_request), an attest_request with a body, or a job_request body
 * that is not exactly the map above (including a job id outside 1..256
 * printable bytes: it could not be echoed). A bad JOB (any failure of the
 * steps in the job table) is answered with job_error and the connection
 * carries on. job_error carries only the class, never a detail.
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
#include "nsm/nsm.h"
#include "ohttp/ohttp.h"
#include "policy/policy.h"
#include "receipt/receipt.h"

#define CCC_ENCLAVE_MAX_KEYS 2                /* live key ids (rotation)   */
#define CCC_ENCLAVE_REPLAY_CAPACITY 4096u     /* completed jobs remembered */
#define CCC_ENCLAVE_RESEND_CAPACITY 64u       /* answers kept for redelivery */
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
/* The installed document's bytes (borrowed; valid until the next
 * set_attestation or free); empty before the first. attest_response sends it. */
ccc_bytes ccc_enclave_attestation(const ccc_enclave *e);
/* True once gateway keys are installed (they are never dropped). */
bool ccc_enclave_has_keys(const ccc_enclave *e);

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
 * The same, but before each frame it waits (poll) for either `fd` or
 * `stop_fd` (-1: none) to become readable; a readable stop_fd ends the
 * loop with CCC_OK and *stopped = true (a job in progress finishes first).
 */
CCC_MUST_USE ccc_status ccc_enclave_serve_until(ccc_enclave *e, int fd, int stop_fd,
                                                bool *stopped);

/*
 * Install the seccomp allowlist for the rest of the process's life (all
 * threads: SECCOMP_FILTER_FLAG_TSYNC). Call after start-up: the model is
 * loaded and its thread pool running, keys generated, sockets connected.
 * No open/openat, socket, connect, execve, ptrace, clone afterwards.
 * Errors: CCC_ERR_INTERNAL (libseccomp failed; nothing installed).
 */
CCC_MUST_USE ccc_status ccc_enclave_sandbox_enter(void);

/* ======================================================================== */
/* Start-up on the host socket (enclave_boot.c; docs/protocol.md §10)       */
/* ======================================================================== */
/*
 * What programs/ccc-enclave runs, as library calls (tests run them in one
 * process with a simulated NSM on a socket pair and an in-process ccc_kms).
 *
 * ccc_enclave_boot_start, in this order (any failure ends start-up):
 *   1. policy   read the signed bundle and verify it with the policy key
 *               (the same loader as ccc-kms: ccc_kms_load_policy).
 *   2. model    ccc_enclave_new: signed manifest, manifest hash accepted by
 *               the policy, per-boot Ed25519 receipt key.
 *   3. NSM      receipt-key document: public_key = the receipt key's
 *               44-byte Ed25519 SPKI, no nonce, no user_data;
 *               ccc_enclave_set_attestation.
 *   4. listen   bind + listen on "unix:PATH" (a stale SOCKET file at PATH
 *               is removed first; any other kind of file is refused) or
 *               "vsock:PORT" (AF_VSOCK, any CID; CCC_ERR_UNSUPPORTED where
 *               the headers have no AF_VSOCK, CCC_ERR_IO where the kernel
 *               has no vsock transport). Anything else: CCC_ERR_USAGE.
 *
 * ccc_enclave_boot_run: accept ONE host connection at a time (accept4),
 * and on each:
 *   a. no keys yet: the key release loop (below); it installs the keys or
 *      the connection is dropped (back to accept, nothing installed).
 *   b. 0x21 attest_response with the receipt-key document ("ready").
 *   c. first time only: ccc_enclave_sandbox_enter (if cfg.sandbox).
 *   d. ccc_enclave_serve_until: jobs, pings, attest_request.
 * A closed or broken connection returns to accept; keys, receipt key,
 * sequence numbers and replay table are kept. A readable stop_fd ends
 * run with CCC_OK at the next wait (accept, key answer, backoff, frame).
 *
 * Key release loop (attempt n = 0, 1, 2, ...):
 *   - after a refusal: wait backoff(n-1) = first * 2^(n-1), at most
 *     8 * first (first = 1 s: 1, 2, 4, 8, 8, ... s). The host must stay
 *     silent meanwhile: a byte or a close from it drops the connection.
 *   - a FRESH X25519 key pair (src/hpke), 32 random nonce bytes, and a
 *     fresh NSM document with public_key = ccc_kms_x25519_spki(pk) and
 *     that nonce (kms.h §3); sent as 0x30 key_request.
 *   - the answer within key_timeout_ms (30 s; poll): no answer drops the
 *     connection. Body cap 16 KiB (the key_response limit).
 *       0x31 key_response  ccc_kms_release_open (HPKE, info "ccc kms key
 *                          release v1", aad "", strict plaintext decode),
 *                          ccc_kms_gateway_keys, ccc_enclave_install_keys.
 *                          A body that does not open or decode installs
 *                          NOTHING and counts as a refusal (logged
 *                          key_refused reason "bad_key_response" with the
 *                          status class): back off, retry with a new key
 *                          pair, nonce and document.
 *       0x12 job_error     a refusal ("<class>:<reason>" from ccc-kms, or
 *                          "io:kms_unavailable" from the host): logged as
 *                          key_refused with the body as reason only if it
 *                          is a safe log identifier (else "<invalid>");
 *                          back off and retry.
 *       anything else      a bad frame: the connection is dropped.
 *   The X25519 private key, the released keys and the gateway-key copies
 *   are wiped on every path, success or not. The attempt count (and so
 *   the backoff) starts again on each new connection.
 *
 * Log lines (src/log; no key, nonce or document bytes, only digests):
 *   start  reason=policy_verified | model_loaded (duration_ms) |
 *          receipt_key_attested (doc_sha256, bytes_out) | listening |
 *          host_connected | ready | sandboxed | sandbox_skipped_sanitizer
 *   request reason=key_request, doc_sha256, attempt
 *   key_refused reason=<0x12 body if a safe identifier, else "<invalid>">
 *          or reason=bad_key_response with status, attempt
 *   key_released key_id (current), count, attempt
 *   error  reason=host_connection_dropped, status  (and serve's own line)
 *   stop   reason=host_disconnected | stop_requested
 *
 * Fatal (run returns the status): the NSM does not answer (its channel is
 * gone: ccc nsm launch has ended), the sandbox cannot be installed, or
 * accept fails for good. Everything else costs one connection.
 *
 * Caveats
 * 1. HPKE base mode does not authenticate the sender: the host sees the
 *    X25519 public key in the document and could seal keys of its own to
 *    it. The enclave would install them, but clients encrypt only to keys
 *    in the config SIGNED by ccc-kms, so such keys open nothing (a denial
 *    of service, which the host can always cause).
 * 2. Only the wait for a frame's first byte is bounded; a host that sends
 *    part of a frame and stalls holds the enclave until it closes (the
 *    host alone decides whether the enclave gets any work at all).
 * 3. Under the sandbox the socket file is not removed on exit (unlink is
 *    not allowed); the next start removes the stale socket.
 * 4. ASan/UBSan builds (CCC_SANITIZED) skip the sandbox with a warning:
 *    the sanitizer runtime needs syscalls the allowlist refuses.
 *
 * Ownership: ccc_enclave_boot is heap (start/free) and owns the enclave
 * and the listening socket; the NSM device and stop_fd are borrowed.
 */
#define CCC_ENCLAVE_KEY_TIMEOUT_MS 30000u
#define CCC_ENCLAVE_BACKOFF_FIRST_MS 1000u
#define CCC_ENCLAVE_BACKOFF_FACTOR_MAX 8u /* backoff stops doubling at 8x */

typedef struct ccc_enclave_boot_config {
    const char *listen;            /* "unix:PATH" or "vsock:PORT"               */
    const char *policy_path;       /* signed policy bundle                      */
    const char *policy_pub_path;   /* the policy public key (PEM)               */
    const char *model_dir;         /* NULL: ccc_detect_default_model_dir        */
    ccc_detect_options detect;     /* manifest, trusted key, threads            */
    const ccc_nsm_device *nsm;     /* opened by the caller (borrowed)           */
    int stop_fd;                   /* readable = stop (self-pipe); -1: none     */
    bool sandbox;                  /* seccomp after the first key release      */
    uint32_t key_timeout_ms;       /* 0: CCC_ENCLAVE_KEY_TIMEOUT_MS             */
    uint32_t backoff_first_ms;     /* 0: CCC_ENCLAVE_BACKOFF_FIRST_MS (tests: less) */
    size_t replay_capacity;        /* 0: default (ccc_enclave_config)           */
} ccc_enclave_boot_config;

typedef struct ccc_enclave_boot ccc_enclave_boot;

/* Steps 1-4 above. Errors: whatever the step returns (policy: PARSE/CRYPTO/
 * IO; model: detect's; NSM: IO; listen: USAGE/IO/UNSUPPORTED). */
CCC_MUST_USE ccc_status ccc_enclave_boot_start(const ccc_enclave_boot_config *cfg,
                                               ccc_enclave_boot **out);
/* Serve host connections until stop (CCC_OK) or a fatal error. */
CCC_MUST_USE ccc_status ccc_enclave_boot_run(ccc_enclave_boot *b);
/* One accepted host connection (steps a-d); does not close fd. CCC_OK when
 * the host closed or stop was requested (see ccc_enclave_boot_stopping). */
CCC_MUST_USE ccc_status ccc_enclave_boot_connection(ccc_enclave_boot *b, int fd);
/* Free the enclave (keys wiped), close the listening socket, remove the
 * unix socket file (unless sandboxed, caveat 3). NULL is fine. */
void ccc_enclave_boot_free(ccc_enclave_boot *b);

ccc_enclave *ccc_enclave_boot_enclave(ccc_enclave_boot *b);
bool ccc_enclave_boot_stopping(const ccc_enclave_boot *b);
/* Key requests sent (0x30 frames) since start. */
uint64_t ccc_enclave_boot_key_requests(const ccc_enclave_boot *b);

/* The wait after the refusal of key request n (0-based): first * 2^n, at
 * most first * CCC_ENCLAVE_BACKOFF_FACTOR_MAX (1, 2, 4, 8, 8, ... s). */
uint32_t ccc_enclave_backoff_ms(unsigned attempt, uint32_t first_ms);

/* Bind and listen on "unix:PATH" or "vsock:PORT" (step 4). */
CCC_MUST_USE ccc_status ccc_enclave_listen(const char *spec, int *fd);

#endif /* CCC_ENCLAVE_H */
