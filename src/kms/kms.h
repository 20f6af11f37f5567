/*
 * kms — the key service core: HPKE service keys, the signed public key
 * configuration, and attestation-gated key release.
 *
 * ccc-kms is the local stand-in for what AWS KMS does for Nitro Enclaves
 * (kms:RecipientAttestation): it holds the OHTTP gateway's HPKE private keys
 * and hands them only to an enclave whose fresh attestation document
 * verifies against the pinned root and whose PCRs are in the signed policy
 * bundle, encrypted (HPKE) to a public key inside that same document. The
 * untrusted host only relays the bytes.
 *
 * ------------------------------------------------------------------------
 * 1. Key store (ccc_kms_store, a directory)
 * ------------------------------------------------------------------------
 *
 *   storage.key   32 random bytes, mode 0600, made on first start: the
 *                 AES-256-GCM key that seals every private key below.
 *   state.cbor    deterministic CBOR, mode 0600, rewritten atomically:
 *
 *   key          CBOR type   meaning
 *   "v"          uint        1
 *   "keys"       array       1..2 live service keys, current first:
 *                              {"id": uint (0..255), "pk": bstr(32),
 *                               "sealed_sk": bstr(60)}
 *   "sign_pk"    bstr(32)    Ed25519 public key of the kms signing key
 *   "sign_sealed_sk" bstr(60) its private key, sealed
 *
 *   sealed = nonce(12, random) || AES-256-GCM(storage key, nonce,
 *            aad = "ccc kms state v1 " || purpose, 32-byte key) || tag(16)
 *   purpose = "sign" for the signing key, "hpke" || id(1) for a service key,
 *   so a sealed key cannot be moved to another slot or id.
 *
 * Honest scope: the storage key sits next to the state, so sealing only
 * protects a copy of state.cbor made WITHOUT storage.key (a backup, a log
 * bundle, a careless scp). Anyone who can read both files (root, the kms
 * user) has the keys. On Nitro the storage key would be a data key from
 * AWS KMS (GenerateDataKey), decrypted only by the kms role.
 *
 * Rotation: at most two live keys. ccc_kms_store_rotate makes a new current
 * key (id = previous current + 1 mod 256) and keeps the old one live as
 * "previous" (clients with a cached config keep working; enclaves get both);
 * ccc_kms_store_retire drops the previous key. Rotating while two keys are
 * live is refused (retire first), so a key is never dropped implicitly.
 *
 * ------------------------------------------------------------------------
 * 2. Published configuration (what clients fetch from GET /v1/config)
 * ------------------------------------------------------------------------
 *
 * signed_config = COSE_Sign1_Tagged (RFC 9052 §4.2), alg EdDSA (-8), signed
 * by the kms signing key, protected {1: -8}, unprotected {}, payload =
 * deterministic CBOR (RFC 8949 §4.2.1), exactly these keys in this order:
 *
 *   key              CBOR type   meaning
 *   "v"              uint        format version, 1
 *   "keys"           bstr        application/ohttp-keys (RFC 9458 §3.2): the
 *                                live keys' Key Configs, each preceded by a
 *                                2-byte length, current key first. Each
 *                                offers KEM 0x0020 with (KDF 0x0001, AEAD
 *                                0x0002 AES-256-GCM) and (0x0001, 0x0003
 *                                ChaCha20-Poly1305)
 *   "time_ms"        uint        signing time, ms since the Unix epoch
 *   "policy_sha256"  bstr(32)    SHA-256 of the policy bundle's payload
 *                                (src/policy's policy hash) this kms
 *                                enforces on key release
 *
 * ccc_kms_config_verify checks the signature with the kms public key and
 * refuses anything else (non-canonical CBOR, missing/extra keys, v != 1,
 * an empty or over-long key list, trailing bytes).
 *
 * ------------------------------------------------------------------------
 * 3. Key release (frame key_request → key_response)
 * ------------------------------------------------------------------------
 *
 * Request: the enclave's attestation document (Nitro COSE_Sign1, <= 64 KiB)
 * with
 *   nonce       32 fresh random bytes (bstr)             — required
 *   public_key  DER SubjectPublicKeyInfo of an X25519 key (RFC 8410 §4),
 *               exactly 44 bytes: 30 2a 30 05 06 03 2b 65 6e 03 21 00 ||
 *               32-byte key                                — required
 *               (receipts use the Ed25519 SPKI, OID 1.3.101.112, in a
 *               different document; the OID tells them apart)
 *
 * Checks, in order; the first failure is the refusal (reason class, status):
 *   too_large   document over 64 KiB                         CCC_ERR_LIMIT
 *   parse       not a well-formed Nitro document             CCC_ERR_PARSE
 *   chain       certificate chain to the pinned root fails   CCC_ERR_CRYPTO
 *   signature   COSE signature does not verify               CCC_ERR_CRYPTO
 *   debug       PCR0/1/2 all zero (debug-mode enclave)       CCC_ERR_POLICY
 *   pcrs        no measurement set of the policy matches     CCC_ERR_POLICY
 *   stale       older than max age (60 s) or from the future CCC_ERR_POLICY
 *   nonce       nonce absent or not 32 bytes                 CCC_ERR_POLICY
 *   replay      nonce seen before                            CCC_ERR_REPLAY
 *   public_key  public_key absent, not an X25519 SPKI, or a  CCC_ERR_POLICY
 *               low-order point (the HPKE DH fails)
 *   internal    anything else (no randomness, ...)           CCC_ERR_INTERNAL
 * (chain/signature come from src/attest; nonce, replay and public_key are
 * checked only after the document authenticated, so unauthenticated input
 * never fills the nonce memory.)
 *
 * Response (key_response frame body) = enc(32) || ct, where
 *   enc, ct = HPKE Seal (RFC 9180 §6.1), mode base, DHKEM(X25519,
 *             HKDF-SHA256), HKDF-SHA256, AES-256-GCM, to the document's
 *             X25519 key, info = "ccc kms key release v1", aad = ""
 *   plaintext = deterministic CBOR
 *     {"v": 1, "keys": [{"id": uint(0..255), "sk": bstr(32)}, ...]}
 *     with every live key (1..2, current first, distinct ids).
 * Refusal (job_error frame body): ASCII "<status class>:<reason>", e.g.
 * "policy:pcrs" or "replay:replay". Never anything from the document.
 *
 * Replay: the nonces of released documents are kept in a bounded memory
 * (CCC_KMS_SEEN_NONCES, oldest evicted first — a ring; since a remembered
 * nonce never releases again, its entry is never "used" again either, so
 * first-in-first-out is least-recently-used here). A nonce evicted from it could
 * be replayed — but only within the max age of its document, and 4096
 * releases inside 60 s is far above any honest rate (a pool restarts a few
 * enclaves a minute). A replayed document also only gets the keys sealed to
 * the X25519 key inside it, which only that enclave holds: replay buys an
 * attacker nothing it could open. The memory is per process: a restarted
 * kms forgets it, and the max age covers that window too.
 *
 * ------------------------------------------------------------------------
 * 4. The process (programs/ccc-kms): frames on a stream socket
 * ------------------------------------------------------------------------
 *
 * ccc-kms listens on unix:PATH or IPv4 HOST:PORT and speaks src/frame's
 * length-prefixed frames (the host relays them from the enclave unread):
 *
 *   request frame          body                  answer frame
 *   0x30 key_request       attestation document  0x31 key_response: enc||ct
 *                                                 or 0x12 job_error:
 *                                                 "<status>:<reason>"
 *   0x01 ping              token (<= 8 bytes)    0x02 pong: the same token
 *   anything else          -                     0x12 job_error
 *                                                 "usage:frame_type", then
 *                                                 the connection is closed
 *
 * Connections are served one at a time; a peer silent for 10 s is dropped
 * (so a relay should connect per key request, or keep its connection busy).
 * The signed configuration is written to DIR/config.cose at start (the host
 * serves that file; there is no frame for it). The store is read once at
 * start: after `ccc-kms --rotate` / `--retire` (run against the same DIR),
 * restart the service so it releases, and publishes, the new key set.
 *
 * Every release and refusal is logged (src/log): event key_released or
 * key_refused, doc_sha256 (SHA-256 of the document bytes), pcr_sha384
 * (PCR0, once parsed), reason, status, key_id (current key) and count.
 *
 * Ownership. ccc_kms_store and ccc_kms are heap objects (new/free) in
 * locked, non-dumpable memory (ccc_secret_alloc) and wiped on free.
 * ccc_kms BORROWS its store and root: keep them alive while it lives. A
 * release reads the store's live keys at call time, so a rotation takes
 * effect immediately. ccc_kms_released is caller-owned: ccc_kms_released_wipe.
 * Not thread-safe: one caller at a time per object.
 */
#ifndef CCC_KMS_H
#define CCC_KMS_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/types.h>

#include "base/base.h"
#include "hpke/hpke.h"
#include "ohttp/ohttp.h"
#include "policy/policy.h"
#include "x509/x509.h"

#define CCC_KMS_MAX_LIVE 2
#define CCC_KMS_NONCE_SIZE 32
#define CCC_KMS_DEFAULT_MAX_AGE_MS 60000u
#define CCC_KMS_SEEN_NONCES 4096
#define CCC_KMS_X25519_SPKI_SIZE 44
#define CCC_KMS_SEALED_KEY_SIZE 60 /* nonce 12 + key 32 + tag 16 */
#define CCC_KMS_RELEASE_INFO "ccc kms key release v1"
/* Largest sealed release (2 keys) and signed config; generous caps. */
#define CCC_KMS_MAX_RELEASE_SIZE 1024u
#define CCC_KMS_MAX_CONFIG_SIZE 4096u

/* The 12-byte DER prefix of an X25519 SubjectPublicKeyInfo. */
extern const uint8_t ccc_kms_x25519_spki_prefix[12];

/* One service key: its id and X25519 key pair (secret). */
typedef struct ccc_kms_key {
    uint8_t id;
    ccc_hpke_keypair kp;
} ccc_kms_key;

/* ------------------------------------------------------------------------ */
/* Key store                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct ccc_kms_store ccc_kms_store;

/*
 * Open the store in `dir`. With `create`, a missing directory (mode 0700),
 * storage key, signing key and first service key (id 1) are made; an
 * existing store is opened as is. Without `create` a missing store is
 * CCC_ERR_NOT_FOUND. A storage.key readable by group/others is refused
 * (CCC_ERR_POLICY). A state that does not unseal is CCC_ERR_CRYPTO.
 */
CCC_MUST_USE ccc_status ccc_kms_store_open(const char *dir, bool create, ccc_kms_store **out);
void ccc_kms_store_free(ccc_kms_store *store);
/* New current key; the old current stays live as previous. Saved first. */
CCC_MUST_USE ccc_status ccc_kms_store_rotate(ccc_kms_store *store);
/* Drop the previous key (CCC_ERR_NOT_FOUND if there is none). Saved. */
CCC_MUST_USE ccc_status ccc_kms_store_retire(ccc_kms_store *store);
/* Live keys, current first (borrowed; valid until rotate/retire/free). */
size_t ccc_kms_store_key_count(const ccc_kms_store *store);
const ccc_kms_key *ccc_kms_store_keys(const ccc_kms_store *store);
/* The signing key (borrowed EVP_PKEY, Ed25519, private). */
EVP_PKEY *ccc_kms_store_sign_key(const ccc_kms_store *store);
/* The signing key's public half as PEM (SubjectPublicKeyInfo), appended. */
CCC_MUST_USE ccc_status ccc_kms_store_public_pem(const ccc_kms_store *store, ccc_buf *out);

/* The OHTTP Key Config of a service key (the two suites above). */
CCC_MUST_USE ccc_status ccc_kms_key_config(const ccc_kms_key *key, ccc_ohttp_key_config *cfg);
/* Gateway keys for released keys (enclave side); out has count entries. */
CCC_MUST_USE ccc_status ccc_kms_gateway_keys(const ccc_kms_key *keys, size_t count,
                                             ccc_ohttp_gateway_key *out);

/* ------------------------------------------------------------------------ */
/* Published configuration                                                   */
/* ------------------------------------------------------------------------ */

/* Sign the config of the live keys and `policy_sha256`, appended to out. */
CCC_MUST_USE ccc_status ccc_kms_config_sign(const ccc_kms_store *store,
                                            const uint8_t policy_sha256[32], uint64_t time_ms,
                                            ccc_buf *out);

typedef struct ccc_kms_config {
    ccc_ohttp_key_config keys[CCC_KMS_MAX_LIVE];
    size_t key_count;
    uint8_t policy_sha256[32];
    uint64_t time_ms;
} ccc_kms_config;

/*
 * Client side: verify `signed_config` with the kms public key (Ed25519) and
 * decode it. Errors: CCC_ERR_PARSE (malformed), CCC_ERR_UNSUPPORTED (v, alg),
 * CCC_ERR_CRYPTO (signature), CCC_ERR_LIMIT (too many keys).
 */
CCC_MUST_USE ccc_status ccc_kms_config_verify(ccc_bytes signed_config, EVP_PKEY *kms_pub,
                                              ccc_kms_config *out);

/* ------------------------------------------------------------------------ */
/* Key release                                                               */
/* ------------------------------------------------------------------------ */

typedef enum ccc_kms_reason {
    CCC_KMS_R_OK = 0,
    CCC_KMS_R_TOO_LARGE,
    CCC_KMS_R_PARSE,
    CCC_KMS_R_CHAIN,
    CCC_KMS_R_SIGNATURE,
    CCC_KMS_R_DEBUG,
    CCC_KMS_R_PCRS,
    CCC_KMS_R_STALE,
    CCC_KMS_R_NONCE,
    CCC_KMS_R_REPLAY,
    CCC_KMS_R_PUBLIC_KEY,
    CCC_KMS_R_INTERNAL,
    CCC_KMS_R_COUNT
} ccc_kms_reason;

/* "ok", "pcrs", "replay", ... (the table above); never NULL. */
const char *ccc_kms_reason_name(ccc_kms_reason r);

typedef struct ccc_kms ccc_kms;

/*
 * A release service over `store` (borrowed) enforcing `policy` (copied;
 * verified by the caller, e.g. ccc_policy_verify) whose hash is
 * `policy_sha256`, with documents chained to `root` (borrowed: the local
 * simulated-NSM root in local mode, ccc_attest_aws_root otherwise).
 */
CCC_MUST_USE ccc_status ccc_kms_new(const ccc_kms_store *store, const ccc_policy *policy,
                                    const uint8_t policy_sha256[32], const ccc_x509_root *root,
                                    ccc_kms **out);
void ccc_kms_free(ccc_kms *kms);
/* Maximum document age (default CCC_KMS_DEFAULT_MAX_AGE_MS; must be > 0). */
void ccc_kms_set_max_age(ccc_kms *kms, uint64_t max_age_ms);
/* Nonce memory size, 1..CCC_KMS_SEEN_NONCES (default the maximum); also
 * forgets every nonce seen so far. Smaller only for tests. */
void ccc_kms_set_nonce_memory(ccc_kms *kms, size_t count);
const uint8_t *ccc_kms_policy_sha256(const ccc_kms *kms);
const ccc_kms_store *ccc_kms_store_of(const ccc_kms *kms);

/*
 * Check `doc` at time `now_ms` (see the table above) and, if it passes,
 * append enc || ct to `sealed_out`. On refusal nothing is appended, the
 * status is the table's class and `*reason` (may be NULL) its reason. The
 * document's nonce is remembered only when keys are released.
 */
CCC_MUST_USE ccc_status ccc_kms_release(ccc_kms *kms, ccc_bytes doc, uint64_t now_ms,
                                        ccc_buf *sealed_out, ccc_kms_reason *reason);

/* Released keys, as the enclave holds them. Secret: wipe. */
typedef struct ccc_kms_released {
    ccc_kms_key keys[CCC_KMS_MAX_LIVE];
    size_t count;
} ccc_kms_released;

void ccc_kms_released_wipe(ccc_kms_released *r);

/*
 * Enclave side: open a key_response body with the X25519 private key whose
 * SPKI was in the document. Strict decode of the plaintext (exact keys,
 * canonical, 1..2 keys, distinct ids, 32-byte sk). On failure `out` is
 * wiped. Errors: CCC_ERR_PARSE, CCC_ERR_CRYPTO (does not open),
 * CCC_ERR_UNSUPPORTED (v), CCC_ERR_LIMIT.
 */
CCC_MUST_USE ccc_status ccc_kms_release_open(ccc_bytes sealed,
                                             const uint8_t x25519_sk[static 32],
                                             ccc_kms_released *out);

/* The X25519 SPKI for a public key (what the enclave puts in public_key). */
void ccc_kms_x25519_spki(const uint8_t pk[static 32],
                         uint8_t out[static CCC_KMS_X25519_SPKI_SIZE]);

/* The job_error body for a refusal: "<status>:<reason>", appended. */
CCC_MUST_USE ccc_status ccc_kms_refusal_body(ccc_status st, ccc_kms_reason reason, ccc_buf *out);

/* ------------------------------------------------------------------------ */
/* The process (§4)                                                          */
/* ------------------------------------------------------------------------ */

/* Read and verify the policy bundle with the policy public key (PEM). */
CCC_MUST_USE ccc_status ccc_kms_load_policy(const char *bundle_path, const char *pub_pem_path,
                                            ccc_policy *policy, uint8_t policy_sha256[32]);
/* Bind and listen on "unix:PATH" (a stale socket file is replaced) or
 * "A.B.C.D:PORT". */
CCC_MUST_USE ccc_status ccc_kms_listen(const char *spec, int *fd);
/* Serve frames on one connected socket until the peer closes (CCC_OK) or
 * breaks the protocol. now_ms 0 means the wall clock (tests pass a time). */
CCC_MUST_USE ccc_status ccc_kms_serve_conn(ccc_kms *kms, int fd, uint64_t now_ms);
/* Accept and serve connections until *stop is set (by a signal handler). */
CCC_MUST_USE ccc_status ccc_kms_serve(ccc_kms *kms, int listen_fd, volatile sig_atomic_t *stop);

#endif /* CCC_KMS_H */
