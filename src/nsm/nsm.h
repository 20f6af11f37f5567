/*
 * nsm — the Nitro Secure Module, simulated locally, and the real device.
 *
 * On AWS Nitro Enclaves the enclave asks the Nitro Secure Module (/dev/nsm)
 * for an attestation document; the hypervisor measured the enclave image
 * before it started (PCR0..2) and AWS's CA signs the document. Locally we
 * have no hypervisor, so this module plays that role as well as a process on
 * one machine can:
 *
 *   CA        a local chain shaped like AWS's: root → regional → zonal →
 *             instance → per-boot leaf, P-384, ecdsa-with-SHA384, generated
 *             with OpenSSL into a data directory (keys mode 0600).
 *   launch    measured launch: the enclave executable is opened ONCE, copied
 *             into a sealed memfd (F_SEAL_WRITE|GROW|SHRINK|SEAL), hashed
 *             (SHA-384) through that memfd, and the same memfd is fexecve'd.
 *             What was measured is byte for byte what runs; nobody can
 *             rewrite the file between measurement and exec.
 *   PCRs      PCR0 = SHA-384 of the executable (Nitro: "enclave image
 *             file"); PCR1 = SHA-384("ccc-sim:pcr1:kernel+bootstrap not
 *             measured") (Nitro: kernel and boot ramfs — here the host's,
 *             unmeasured, and the constant says so); PCR2 = SHA-384 of the
 *             executable again (Nitro: "user applications"); PCR3..15 zero;
 *             PCR16/17 (user PCRs) are extended with the model-manifest
 *             hash and the policy hash: extend(PCR, d) = SHA-384(PCR || d),
 *             as the NSM's ExtendPCR does.
 *   serve     answers the NSM API's Attestation request — CBOR
 *             {"Attestation": {"user_data": bstr/null, "nonce": ...,
 *             "public_key": ...}} — over a local stream socket with 4-byte
 *             big-endian length-prefixed frames, with the CBOR response
 *             {"Attestation": {"document": bstr}} or {"Error": text}.
 *             The document is Nitro-format, signed by the per-boot leaf.
 *
 * What the simulation does NOT protect against (docs/attestation.md): root
 * on the machine can read the CA keys, the enclave's memory and the NSM's
 * PCR state, and can sign anything. A simulated document proves only that
 * this machine's operator vouches. It chains to the LOCAL root, so it never
 * verifies against the AWS root.
 *
 * The real device (nsm_dev.c): the same request bytes go to /dev/nsm through
 * the NSM ioctl. It cannot run outside a Nitro enclave.
 *
 * Ownership: ccc_nsm_ca and ccc_nsm_sim are caller-owned (init/wipe); they
 * own their EVP_PKEYs and buffers and free them on wipe.
 *
 * Important caveats
 * 1. The launched program must be an ELF executable: the sealed memfd is
 *    close-on-exec, so a "#!" script (whose interpreter would reopen it by
 *    /proc path) fails to start. Measure the interpreter-free binary.
 * 2. The CA keys live in plain files (mode 0600) — see "does NOT protect".
 * 3. One simulator serves one launched program; its PCRs are per boot.
 */
#ifndef CCC_NSM_H
#define CCC_NSM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/types.h>

#include "base/base.h"

#define CCC_NSM_PCR_COUNT 32
#define CCC_NSM_PCR_SIZE 48         /* SHA-384 */
#define CCC_NSM_CA_LEVELS 4         /* root, regional, zonal, instance */
#define CCC_NSM_PCR_MANIFEST 16     /* user PCR extended with the model manifest hash */
#define CCC_NSM_PCR_POLICY 17       /* user PCR extended with the policy hash */
#define CCC_NSM_MAX_FRAME (64u * 1024u)
#define CCC_NSM_MAX_USER_SIZE 1024  /* user_data, nonce, public_key */
/* Per-boot leaf validity, as AWS's (about three hours). */
#define CCC_NSM_LEAF_SECONDS (3 * 3600)

/* Nitro ExtendPCR: pcr = SHA-384(pcr || data). */
CCC_MUST_USE ccc_status ccc_nsm_pcr_extend(uint8_t pcr[static CCC_NSM_PCR_SIZE],
                                           ccc_bytes data);

/* ------------------------------------------------------------------------ */
/* Local CA                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct ccc_nsm_ca {
    EVP_PKEY *keys[CCC_NSM_CA_LEVELS];
    ccc_buf certs[CCC_NSM_CA_LEVELS]; /* DER; certs[0] is the root: this
                                         array IS the Nitro cabundle        */
} ccc_nsm_ca;

void ccc_nsm_ca_init(ccc_nsm_ca *ca);
void ccc_nsm_ca_wipe(ccc_nsm_ca *ca);
/*
 * Generate a fresh chain valid from `not_before` (unix seconds): root 20
 * years, intermediates 10/5/1 years with pathLenConstraint 2/1/0, as AWS's.
 */
CCC_MUST_USE ccc_status ccc_nsm_ca_generate(ccc_nsm_ca *ca, int64_t not_before);
/*
 * Save to / load from `dir`: root.pem (the certificate to pin), ca-N.der
 * and ca-N.key.pem (PKCS#8, mode 0600) for N = 0..3. Load checks that each
 * key matches its certificate.
 */
CCC_MUST_USE ccc_status ccc_nsm_ca_save(const ccc_nsm_ca *ca, const char *dir);
CCC_MUST_USE ccc_status ccc_nsm_ca_load(ccc_nsm_ca *ca, const char *dir);
/* PEM of the root certificate, appended to `out`. */
CCC_MUST_USE ccc_status ccc_nsm_ca_root_pem(const ccc_nsm_ca *ca, ccc_buf *out);

/* ------------------------------------------------------------------------ */
/* Documents                                                                 */
/* ------------------------------------------------------------------------ */

/* The fields of one document before encoding. Everything is borrowed. */
typedef struct ccc_nsm_doc_fields {
    const char *module_id;
    const char *digest;              /* "SHA384" */
    uint64_t timestamp_ms;
    const uint8_t (*pcrs)[CCC_NSM_PCR_SIZE]; /* pcr_count entries, index i */
    size_t pcr_count;
    ccc_bytes certificate;
    const ccc_bytes *cabundle;
    size_t cabundle_count;
    ccc_bytes public_key;            /* ptr NULL: encoded as null */
    ccc_bytes user_data;
    ccc_bytes nonce;
} ccc_nsm_doc_fields;

/* The payload map, keys in AWS's order (module_id, digest, timestamp, pcrs,
 * certificate, cabundle, public_key, user_data, nonce). */
CCC_MUST_USE ccc_status ccc_nsm_doc_encode(const ccc_nsm_doc_fields *f, ccc_buf *out);
/* Untagged COSE_Sign1, protected {1: -35}, unprotected {}, signed ES384. */
CCC_MUST_USE ccc_status ccc_nsm_doc_sign(EVP_PKEY *leaf_key, ccc_bytes payload, ccc_buf *out);

/* ------------------------------------------------------------------------ */
/* The simulator                                                             */
/* ------------------------------------------------------------------------ */

typedef struct ccc_nsm_sim {
    ccc_nsm_ca ca;
    EVP_PKEY *leaf_key;       /* per boot */
    ccc_buf leaf_cert;        /* DER */
    char module_id[64];
    uint8_t pcrs[CCC_NSM_PCR_COUNT][CCC_NSM_PCR_SIZE];
    size_t pcr_count;         /* PCRs reported: 16, or 18 once 16/17 used */
    bool launched;            /* PCR0/2 set by a measured launch */
} ccc_nsm_sim;

void ccc_nsm_sim_init(ccc_nsm_sim *sim);
void ccc_nsm_sim_wipe(ccc_nsm_sim *sim);
/*
 * Boot: take ownership of `ca` (moved; the caller's copy is re-initialised),
 * issue the per-boot leaf valid from `now_unix`, set PCR1 and zero the rest.
 */
CCC_MUST_USE ccc_status ccc_nsm_sim_boot(ccc_nsm_sim *sim, ccc_nsm_ca *ca, int64_t now_unix);

/* Measure an executable through an open descriptor: PCR0 = PCR2 = SHA-384 of
 * its bytes (read with pread from offset 0, at most 512 MiB). */
CCC_MUST_USE ccc_status ccc_nsm_sim_measure_fd(ccc_nsm_sim *sim, int fd);
/*
 * The PCR0, PCR1 and PCR2 a measured launch of the executable at `path`
 * will report (what a policy's measurement set must list): PCR0 = PCR2 =
 * SHA-384 of the file, PCR1 = the simulator's constant. For `ccc up` and
 * tests, which write the policy before the launch.
 */
CCC_MUST_USE ccc_status ccc_nsm_launch_pcrs(const char *path,
                                            uint8_t pcrs[3][CCC_NSM_PCR_SIZE]);
/* Extend PCR16 with the model-manifest hash or PCR17 with the policy hash. */
CCC_MUST_USE ccc_status ccc_nsm_sim_extend(ccc_nsm_sim *sim, unsigned index, ccc_bytes data);

/*
 * Measured launch. Opens `path` once, copies it into a sealed memfd,
 * measures the memfd (ccc_nsm_sim_measure_fd) and forks a child that
 * fexecve()s that same memfd with `argv` (and the caller's environment).
 * `keep_fd` (>= 0) is left open in the child as descriptor 3 — the NSM
 * channel — every other descriptor above 2 is closed. *pid receives the
 * child. Errors: CCC_ERR_IO, CCC_ERR_NOT_FOUND.
 */
CCC_MUST_USE ccc_status ccc_nsm_sim_launch(ccc_nsm_sim *sim, const char *path,
                                           char *const argv[], int keep_fd, pid_t *pid);

/* A document for this enclave now (timestamp `now_ms`). Borrowed inputs; a
 * NULL ptr encodes null. Appended to `doc`. */
CCC_MUST_USE ccc_status ccc_nsm_sim_attest(const ccc_nsm_sim *sim, uint64_t now_ms,
                                           ccc_bytes user_data, ccc_bytes nonce,
                                           ccc_bytes public_key, ccc_buf *doc);

/*
 * One NSM API request (CBOR) → response (CBOR, appended to `response`).
 * A malformed request gets {"Error": "InvalidArgument"} (status CCC_OK: the
 * answer is the error); only internal failures return an error status.
 */
CCC_MUST_USE ccc_status ccc_nsm_sim_handle(const ccc_nsm_sim *sim, ccc_bytes request,
                                           ccc_buf *response);
/* Serve framed requests on `fd` until the peer closes it. */
CCC_MUST_USE ccc_status ccc_nsm_sim_serve(const ccc_nsm_sim *sim, int fd);

/* ------------------------------------------------------------------------ */
/* The client side (inside the enclave): one interface, two devices          */
/* ------------------------------------------------------------------------ */

/* Encode the NSM API Attestation request (CBOR) into `out`. */
CCC_MUST_USE ccc_status ccc_nsm_request_encode(ccc_bytes user_data, ccc_bytes nonce,
                                               ccc_bytes public_key, ccc_buf *out);
/* Decode an Attestation response; the document is appended to `doc`.
 * {"Error": ...} becomes CCC_ERR_IO with a detail. */
CCC_MUST_USE ccc_status ccc_nsm_response_decode(ccc_bytes response, ccc_buf *doc);

typedef enum ccc_nsm_device_kind {
    CCC_NSM_DEVICE_SIM,  /* framed CBOR over a stream socket to ccc_nsm_sim */
    CCC_NSM_DEVICE_REAL, /* /dev/nsm ioctl (Nitro only)                     */
} ccc_nsm_device_kind;

typedef struct ccc_nsm_device {
    ccc_nsm_device_kind kind;
    int fd;
} ccc_nsm_device;

/* Open /dev/nsm (CCC_ERR_NOT_FOUND outside a Nitro enclave). */
CCC_MUST_USE ccc_status ccc_nsm_device_open_real(ccc_nsm_device *dev);
/* Use an already-connected socket to a simulator (not owned). */
void ccc_nsm_device_use_sim(ccc_nsm_device *dev, int fd);
void ccc_nsm_device_close(ccc_nsm_device *dev);
/* Ask for an attestation document (appended to `doc`). */
CCC_MUST_USE ccc_status ccc_nsm_device_attest(const ccc_nsm_device *dev, ccc_bytes user_data,
                                              ccc_bytes nonce, ccc_bytes public_key,
                                              ccc_buf *doc);
/* One request/response round trip through the real device's ioctl. */
CCC_MUST_USE ccc_status ccc_nsm_dev_roundtrip(int fd, ccc_bytes request, ccc_buf *response);

/* Framing for the simulator channel: u32 BE length, then the bytes. */
CCC_MUST_USE ccc_status ccc_nsm_frame_write(int fd, ccc_bytes msg);
/* CCC_ERR_NOT_FOUND on a clean EOF before a frame starts. */
CCC_MUST_USE ccc_status ccc_nsm_frame_read(int fd, ccc_buf *msg);

#endif /* CCC_NSM_H */
