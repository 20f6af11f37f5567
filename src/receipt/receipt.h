/*
 * receipt — what the enclave signs for every job, and how anyone checks it.
 *
 * A receipt says: "the enclave whose attestation document hashes to A,
 * running with PCRs P, model M and policy Y, read the request ciphertext
 * hashing to R and answered the answer hashing to S, as job J, at time T,
 * as its N-th job since boot". It is signed Ed25519 by a key generated at
 * boot inside the enclave, whose public half is in the public_key field of
 * that same attestation document — so the receipt is only as good as the
 * document, and the document is only as good as its chain to the pinned root
 * (src/attest).
 *
 * ------------------------------------------------------------------------
 * Wire format
 * ------------------------------------------------------------------------
 *
 * receipt = COSE_Sign1_Tagged (RFC 9052 §4.2), EXACTLY:
 *
 *   d2                       tag 18
 *   84                       array(4)
 *   43 a1 01 27              protected: bstr .cbor {1: -8}   (alg EdDSA)
 *   a0                       unprotected: {}
 *   58/59 ...                payload: bstr .cbor receipt_payload
 *   58 40 <64 bytes>         signature: Ed25519 over the RFC 9052 §4.4
 *                            Sig_structure ["Signature1", h'a10127', h'',
 *                            payload]
 *
 * Any other envelope (untagged, other headers, a kid, non-shortest heads)
 * is refused: there is one encoding per receipt.
 *
 * receipt_payload = deterministic CBOR (RFC 8949 §4.2.1: shortest heads,
 * keys sorted bytewise by their encodings — shorter text keys first), a map
 * of exactly these ten text keys, in this (canonical) order:
 *
 *   key                   CBOR type   meaning
 *   "v"                   uint        format version, 1
 *   "seq"                 uint        jobs signed by this key before this one
 *                                     (0, 1, 2, ... per boot)
 *   "pcrs"                map         { uint index (0..31) => bstr (32, 48 or
 *                                     64 bytes) }, 1..32 entries: the PCRs
 *                                     of the attestation document, verbatim
 *   "job_id"              tstr        1..256 bytes, printable ASCII without
 *                                     space (0x21..0x7e)
 *   "time_ms"             uint        signing time, ms since the Unix epoch
 *                                     (the enclave's clock: see caveat 3)
 *   "model_sha256"        bstr(32)    SHA-256 of the signed model manifest
 *                                     (the value extended into PCR16)
 *   "answer_sha256"       bstr(32)    the answer's commitment:
 *                                     SHA-256(answer_salt || answer), the
 *                                     answer bytes exactly as encrypted to
 *                                     the client (the egress guard's JSON),
 *                                     answer_salt = HPKE Export(the request's
 *                                     context, "ccc receipt answer salt", 32)
 *                                     — see ccc_receipt_answer_commit
 *   "policy_sha256"       bstr(32)    the policy hash: SHA-256 of the signed
 *                                     policy bundle's payload (src/policy; the
 *                                     value the NSM extends into PCR17)
 *   "request_sha256"      bstr(32)    SHA-256 of the request ciphertext
 *                                     (the whole OHTTP enc_request)
 *   "attestation_sha256"  bstr(32)    SHA-256 of the whole attestation
 *                                     document (the COSE_Sign1 bytes)
 *
 * Decoding refuses non-canonical CBOR, floats, duplicate, missing or extra
 * keys, wrong types or sizes, a version other than 1 (CCC_ERR_UNSUPPORTED)
 * and trailing bytes.
 *
 * ------------------------------------------------------------------------
 * The enclave's key in the attestation document
 * ------------------------------------------------------------------------
 *
 * The document's public_key field holds the receipt key as a DER
 * SubjectPublicKeyInfo (RFC 8410 §4, 44 bytes: 30 2a 30 05 06 03 2b 65 70
 * 03 21 00 || 32-byte key). SPKI rather than raw bytes because it names its
 * algorithm: a document whose public_key is another kind of key (say an
 * X25519 key for ccc-kms key release) can never be mistaken for a receipt
 * key. Only this exact 44-byte encoding is accepted.
 *
 * ------------------------------------------------------------------------
 * Verification (ccc_receipt_verify) — in this order, first failure wins:
 *   1. the document has a public_key that is an Ed25519 SPKI  (CCC_ERR_CRYPTO)
 *   2. the receipt's signature verifies with that key        (CCC_ERR_CRYPTO)
 *   3. attestation_sha256 = SHA-256(document bytes)          (CCC_ERR_POLICY)
 *   4. the receipt's PCRs equal the document's: same indices,
 *      same bytes                                             (CCC_ERR_POLICY)
 *   5. time_ms >= the document's timestamp                   (CCC_ERR_POLICY)
 *   6. each expectation the caller gives (job id, request, answer, policy,
 *      model hashes) is equal                                 (CCC_ERR_POLICY)
 * ------------------------------------------------------------------------
 *
 * Ownership: ccc_receipt is a plain value (no pointers). ccc_receipt_msg is
 * caller-owned (init/parse/wipe) and BORROWS the input bytes.
 *
 * Important caveats
 * 1. ccc_receipt_verify does NOT verify the attestation document. Verify it
 *    first (ccc_attest_verify against the pinned root and the policy's
 *    measurements); `ccc receipt verify` does both.
 * 2. Parsing is not verification: nothing in a parsed receipt is
 *    trustworthy until ccc_receipt_verify returns CCC_OK.
 * 3. time_ms is the enclave's clock, which the host controls on Nitro; it
 *    orders receipts of one boot only together with seq.
 */
#ifndef CCC_RECEIPT_H
#define CCC_RECEIPT_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/types.h>

#include "attest/attest.h"
#include "base/base.h"
#include "cose/cose.h"

#define CCC_RECEIPT_VERSION 1
#define CCC_RECEIPT_MAX_JOB_ID 256
#define CCC_RECEIPT_MAX_SIZE (8u * 1024u) /* whole COSE receipt */
#define CCC_RECEIPT_SPKI_SIZE 44
#define CCC_RECEIPT_PCR_COUNT 32
#define CCC_RECEIPT_MAX_PCR_SIZE 64

typedef struct ccc_receipt {
    uint64_t version; /* CCC_RECEIPT_VERSION */
    uint64_t seq;
    uint64_t time_ms;
    char job_id[CCC_RECEIPT_MAX_JOB_ID + 1]; /* NUL-terminated       */
    uint8_t model_sha256[32];
    uint8_t answer_sha256[32];
    uint8_t policy_sha256[32];
    uint8_t request_sha256[32];
    uint8_t attestation_sha256[32];
    struct {
        bool present;
        uint8_t value[CCC_RECEIPT_MAX_PCR_SIZE];
        size_t size; /* 32, 48 or 64          */
    } pcrs[CCC_RECEIPT_PCR_COUNT];
} ccc_receipt;

/* Zero the struct and set version = CCC_RECEIPT_VERSION. */
void ccc_receipt_init(ccc_receipt *r);
/* Copy a job id (checked: 1..256 bytes, 0x21..0x7e). CCC_ERR_USAGE. */
CCC_MUST_USE ccc_status ccc_receipt_set_job_id(ccc_receipt *r, const char *id, size_t size);
/* Copy the PCRs of a parsed attestation document and set
 * attestation_sha256 to the hash of the document's bytes. */
CCC_MUST_USE ccc_status ccc_receipt_bind_attestation(ccc_receipt *r, const ccc_attest_doc *doc);
/*
 * Answers are few (no cat looks the same for every photo), so a plain
 * SHA-256 of the answer in a receipt the host carries would tell the host
 * the answer by comparing hashes. The commitment is salted with a secret
 * only the client and the enclave derive from the request's HPKE context
 * (RFC 9180 §5.3 Export). `ccc count --save` keeps the salt beside the
 * answer for offline checks.
 */
#define CCC_RECEIPT_ANSWER_SALT_LABEL "ccc receipt answer salt"
#define CCC_RECEIPT_ANSWER_SALT_SIZE 32
/* answer_sha256 = SHA-256(salt || answer). */
CCC_MUST_USE ccc_status ccc_receipt_answer_commit(const uint8_t salt[static CCC_RECEIPT_ANSWER_SALT_SIZE],
                                                  ccc_bytes answer, uint8_t out[static 32]);
/* SHA-256 helper (OpenSSL EVP). */
CCC_MUST_USE ccc_status ccc_receipt_sha256(ccc_bytes data, uint8_t out[static 32]);

/* Append the canonical receipt_payload map to `out` (fields checked). */
CCC_MUST_USE ccc_status ccc_receipt_encode(const ccc_receipt *r, ccc_buf *out);
/*
 * Encode and sign with the Ed25519 private `key`; append the COSE receipt to
 * `out`. CCC_ERR_USAGE for bad fields, CCC_ERR_CRYPTO for a non-Ed25519 key.
 */
CCC_MUST_USE ccc_status ccc_receipt_sign(const ccc_receipt *r, EVP_PKEY *key, ccc_buf *out);

/* A parsed receipt: the envelope (borrowing the input) and its fields. */
typedef struct ccc_receipt_msg {
    ccc_cose_sign1 cose;
    ccc_receipt receipt;
} ccc_receipt_msg;

void ccc_receipt_msg_init(ccc_receipt_msg *m);
void ccc_receipt_msg_wipe(ccc_receipt_msg *m);
/*
 * Parse a receipt strictly (the exact envelope and payload rules above).
 * Does not verify the signature. On failure the msg is wiped.
 * Errors: CCC_ERR_PARSE, CCC_ERR_LIMIT, CCC_ERR_UNSUPPORTED (version/alg).
 */
CCC_MUST_USE ccc_status ccc_receipt_parse(ccc_receipt_msg *m, ccc_bytes input);
/* Verify the signature with an Ed25519 public key (CCC_ERR_CRYPTO). */
CCC_MUST_USE ccc_status ccc_receipt_verify_signature(const ccc_receipt_msg *m, EVP_PKEY *pub);

/* The public half of an Ed25519 key as the 44-byte SPKI for public_key. */
CCC_MUST_USE ccc_status ccc_receipt_key_spki(EVP_PKEY *key,
                                             uint8_t out[static CCC_RECEIPT_SPKI_SIZE]);
/* Strictly decode a public_key field: exactly the 44-byte Ed25519 SPKI
 * (CCC_ERR_CRYPTO otherwise). The caller frees *out with EVP_PKEY_free. */
CCC_MUST_USE ccc_status ccc_receipt_key_from_spki(ccc_bytes spki, EVP_PKEY **out);

/* What the verifier expects besides the document. NULL = not checked. */
typedef struct ccc_receipt_expect {
    const char *job_id;
    const uint8_t *request_sha256;
    const uint8_t *answer_sha256;
    const uint8_t *policy_sha256;
    const uint8_t *model_sha256;
    /* model_sha256 must be one of these (e.g. the policy's manifests);
     * ignored when model_allowed_count is 0 */
    const uint8_t (*model_allowed)[32];
    size_t model_allowed_count;
} ccc_receipt_expect;

/*
 * The high-level check (steps 1..6 in the file comment) against a parsed
 * attestation document that the caller has ALREADY verified (caveat 1).
 * `expect` may be NULL.
 */
CCC_MUST_USE ccc_status ccc_receipt_verify(const ccc_receipt_msg *m, const ccc_attest_doc *doc,
                                           const ccc_receipt_expect *expect);

#endif /* CCC_RECEIPT_H */
