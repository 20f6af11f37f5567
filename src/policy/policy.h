/*
 * policy — the signed policy bundle: what a client accepts and what the
 * enclave enforces, versioned and signed by the policy key.
 *
 * A bundle is a COSE_Sign1 (tag 18, alg EdDSA, Ed25519 policy key) whose
 * payload is deterministic CBOR (RFC 8949 §4.2.1; decoded in canonical mode,
 * so there is exactly one encoding of a policy and its hash is stable):
 *
 *   {
 *     "egress": {"max_answer_bytes": uint, "max_boxes": uint},
 *     "format": 1,
 *     "measurements": [ {pcr_index: bstr, ...}, ... ],  ; accepted sets
 *     "model_manifests": [ bstr .size 32, ... ],        ; SHA-256 of
 *                                                       ; accepted manifests
 *     "tou": {"max_body_bytes": uint, "rate_per_minute": uint},
 *     "version": uint                                   ; >= 1
 *   }
 *
 * Rules (decode refuses anything else): exactly these keys; 1..8
 * measurement sets, each non-empty with indices < 32 and 32/48/64-byte
 * values (an empty allowlist would be "allow all": refused); 1..8 manifest
 * hashes of 32 bytes; every limit > 0.
 *
 * Anti-rollback: a client keeps a small state file with the highest version
 * (and its payload hash) it has accepted. ccc_policy_rollback_check refuses
 * an older version, and the same version with different content
 * (equivocation), with CCC_ERR_REPLAY, and records a newer one.
 *
 * The policy hash (SHA-256 of the payload bytes) is what the simulated NSM
 * extends into PCR17, so an attestation document binds the policy in force.
 *
 * Ownership: ccc_policy is a plain value (no heap). Keys are the caller's.
 */
#ifndef CCC_POLICY_H
#define CCC_POLICY_H

#include <stdint.h>

#include <openssl/types.h>

#include "attest/attest.h"
#include "base/base.h"

#define CCC_POLICY_FORMAT 1
#define CCC_POLICY_MAX_SETS 8
#define CCC_POLICY_MAX_MANIFESTS 8
#define CCC_POLICY_MAX_BUNDLE_SIZE (64u * 1024u)

typedef struct ccc_policy {
    uint64_t version;
    ccc_attest_pcr_set sets[CCC_POLICY_MAX_SETS];
    size_t set_count;
    uint64_t egress_max_answer_bytes;
    uint64_t egress_max_boxes;
    uint64_t tou_max_body_bytes;
    uint64_t tou_rate_per_minute;
    uint8_t manifests[CCC_POLICY_MAX_MANIFESTS][32];
    size_t manifest_count;
} ccc_policy;

/* Check the rules above (CCC_ERR_USAGE naming the rule). */
CCC_MUST_USE ccc_status ccc_policy_check(const ccc_policy *p);
/* Deterministic CBOR payload, appended to `out`. Checks first. */
CCC_MUST_USE ccc_status ccc_policy_encode(const ccc_policy *p, ccc_buf *out);
/* Strict canonical decode of a payload (CCC_ERR_PARSE / CCC_ERR_LIMIT). */
CCC_MUST_USE ccc_status ccc_policy_decode(ccc_bytes payload, ccc_policy *out);

/* Sign with the Ed25519 policy key: a COSE_Sign1 bundle appended to `out`. */
CCC_MUST_USE ccc_status ccc_policy_sign(const ccc_policy *p, EVP_PKEY *key, ccc_buf *out);
/*
 * Verify a bundle with the policy public key (Ed25519 only; alg must be
 * EdDSA) and decode it. `hash` (may be NULL) receives the SHA-256 of the
 * payload. Errors: CCC_ERR_PARSE, CCC_ERR_UNSUPPORTED, CCC_ERR_CRYPTO.
 */
CCC_MUST_USE ccc_status ccc_policy_verify(ccc_bytes bundle, EVP_PKEY *pub, ccc_policy *out,
                                          uint8_t hash[32]);
/* Decode without verifying (for `ccc policy show`; never trust it). */
CCC_MUST_USE ccc_status ccc_policy_peek(ccc_bytes bundle, ccc_policy *out);

/*
 * Anti-rollback against the state file at `state_path` (created, mode 0600,
 * when absent). CCC_ERR_REPLAY for an older version or the same version
 * with another hash; otherwise records (version, hash) if newer.
 */
CCC_MUST_USE ccc_status ccc_policy_rollback_check(const char *state_path, uint64_t version,
                                                  const uint8_t hash[32]);

/* Point an attestation policy at this policy's measurement sets (borrowed). */
void ccc_policy_to_attest(const ccc_policy *p, ccc_attest_policy *out);

/*
 * The equivalent AWS KMS key-policy condition blocks, as JSON appended to
 * `out`: one {"StringEqualsIgnoreCase": {"kms:RecipientAttestation:PCR<n>":
 * "<hex>", ...}} per measurement set (KMS ANDs the keys of one block; use
 * one key-policy statement per block for blue/green).
 */
CCC_MUST_USE ccc_status ccc_policy_kms_conditions(const ccc_policy *p, ccc_buf *out);

/* JSON authoring format (see docs/attestation.md) <-> policy. */
CCC_MUST_USE ccc_status ccc_policy_from_json(ccc_bytes json, ccc_policy *out);
CCC_MUST_USE ccc_status ccc_policy_to_json(const ccc_policy *p, ccc_buf *out);

#endif /* CCC_POLICY_H */
