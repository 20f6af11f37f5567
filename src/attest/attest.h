/*
 * attest — a strict verifier for AWS Nitro Enclaves attestation documents.
 *
 * Everything a client trusts rests on one decision: is this document from a
 * genuine enclave running the code, model and policy I accept? This module
 * makes that decision and fails closed.
 *
 * The document (AWS, "Verifying the root of trust", Nitro Enclaves User
 * Guide, and the attestation process document in
 * aws-nitro-enclaves-nsm-api/docs/attestation_process.md) is a COSE_Sign1
 * (RFC 9052 §4.2), protected header {1: -35} (ES384), whose payload is:
 *
 *   AttestationDocument = {
 *       module_id: text,             ; non-empty
 *       digest: digest,              ; "SHA384"
 *       timestamp: uint .size 8,     ; UTC milliseconds since the epoch
 *       pcrs: { + index => pcr },    ; index 0..31, pcr 32/48/64 bytes
 *       certificate: cert,           ; DER, signs the COSE_Sign1
 *       cabundle: [* cert],          ; root first: [ROOT, INTERM_1, ...]
 *       ? public_key: user_data,     ; bstr or null
 *       ? user_data: user_data,      ; bstr or null
 *       ? nonce: user_data,          ; bstr or null
 *   }
 *
 * Parsing (ccc_attest_doc_parse) checks every field's type and size and
 * refuses a payload with a missing or unknown key:
 *   module_id  text, 1..256 bytes
 *   digest     the text "SHA384"
 *   timestamp  uint, not before the AWS root existed (2019-10-28), so a
 *              timestamp in seconds instead of milliseconds is refused
 *   pcrs       map of 1..32 entries, key uint < 32, value bstr of 32/48/64
 *   certificate bstr, 1..1024 bytes (the spec's bound)
 *   cabundle   array of 1..8 bstr, each 1..1024 bytes
 *   public_key bstr of 1..1024 bytes, or null (or absent)
 *   user_data  bstr of 0..1024 bytes, or null (or absent)
 *   nonce      bstr of 0..1024 bytes, or null (or absent)
 * (The spec text says 512 for user_data and nonce, but real AWS-signed
 * documents carry 1024; we accept what the real NSM emits and not a byte
 * more.)
 *
 * Verification (ccc_attest_verify) runs every check below, records each in
 * a report, and fails if any fails. The first failure (in this order) is
 * the result:
 *   1. alg        protected alg is ES384 (-35)
 *   2. chain      certificate ← cabundle (in order) ← pinned root, each
 *                 certificate valid at the verification time (the
 *                 document's own timestamp unless the caller gives one)
 *   3. signature  COSE_Sign1 signature by the leaf certificate's key
 *   4. debug      PCR0, PCR1 and PCR2 all zero (a debug-mode enclave, whose
 *                 memory the parent can read) is refused unless the policy
 *                 sets allow_debug_INSECURE
 *   5. pcrs       the PCRs match at least one accepted measurement set (all
 *                 the set's indices equal); an EMPTY allowlist is an error,
 *                 never "allow all" — to skip the comparison the caller must
 *                 say allow_any_measurement_INSECURE
 *   6. nonce      equal to the caller's expected nonce (when bound)
 *   7. freshness  timestamp not older than max_age_ms and not in the future
 *                 (both need a caller-given time)
 *   8. public_key equal to the caller's expected bytes (when bound)
 *   9. user_data  equal to the caller's expected bytes (when bound)
 * Checks 4..9 read fields whose authenticity depends on 2 and 3; they are
 * still evaluated and reported (useful for diagnosis) but can never turn a
 * failed 2 or 3 into a pass.
 *
 * Ownership: ccc_attest_doc is caller-owned (init/parse/wipe) and BORROWS
 * the input bytes: keep them alive while the doc is used. Policies borrow
 * everything they point to. Reports are plain values.
 *
 * Important caveats
 * 1. Pin the right root. Documents from the simulated NSM (src/nsm) chain to
 *    a local root; they verify only against that root, never the AWS root.
 * 2. Freshness needs a clock you trust; without a caller time, the
 *    verification time is the document's own timestamp, which proves only
 *    that the chain was valid when the document was made.
 * 3. Nothing in a parsed document is trustworthy until ccc_attest_verify
 *    returns CCC_OK.
 */
#ifndef CCC_ATTEST_H
#define CCC_ATTEST_H

#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"
#include "cose/cose.h"
#include "x509/x509.h"

#define CCC_ATTEST_MAX_DOC_SIZE (64u * 1024u)
#define CCC_ATTEST_PCR_COUNT 32
#define CCC_ATTEST_MAX_CABUNDLE 8
#define CCC_ATTEST_MAX_CERT_SIZE 1024
#define CCC_ATTEST_MAX_USER_SIZE 1024 /* public_key, user_data, nonce */
#define CCC_ATTEST_MAX_MODULE_ID_SIZE 256
#define CCC_ATTEST_MAX_PCR_SIZE 64
/* 2019-10-28T00:00:00Z in ms: the AWS Nitro root's notBefore day. */
#define CCC_ATTEST_MIN_TIMESTAMP_MS 1572220800000ULL
/* Largest future skew accepted by the freshness check. */
#define CCC_ATTEST_MAX_SKEW_MS (5u * 60u * 1000u)

/*
 * Why a document was refused. Names are stable (ccc_attest_error_name gives
 * "CCC_ATTEST_E_PCR_MISMATCH" etc.); the corpus file refers to them.
 */
typedef enum ccc_attest_error {
    CCC_ATTEST_OK = 0,
    /* parsing */
    CCC_ATTEST_E_TOO_LARGE,       /* document over CCC_ATTEST_MAX_DOC_SIZE    */
    CCC_ATTEST_E_COSE,            /* not a well-formed COSE_Sign1             */
    CCC_ATTEST_E_ALG,             /* protected alg is not ES384               */
    CCC_ATTEST_E_PAYLOAD,         /* payload is not one CBOR map              */
    CCC_ATTEST_E_MISSING_FIELD,   /* a required key is absent                 */
    CCC_ATTEST_E_EXTRA_FIELD,     /* an unknown or non-text key is present    */
    CCC_ATTEST_E_FIELD_TYPE,      /* a field has the wrong CBOR type          */
    CCC_ATTEST_E_FIELD_SIZE,      /* a field is too short or too long         */
    CCC_ATTEST_E_DIGEST,          /* digest is not "SHA384"                   */
    CCC_ATTEST_E_TIMESTAMP,       /* timestamp implausible (0, seconds, ...)  */
    CCC_ATTEST_E_PCR_INDEX,       /* a PCR index >= 32                        */
    /* authenticity */
    CCC_ATTEST_E_CERT_MALFORMED,  /* leaf or cabundle entry is not X.509     */
    CCC_ATTEST_E_CERT_EXPIRED,    /* a certificate expired at the time        */
    CCC_ATTEST_E_CERT_NOT_YET_VALID, /* a certificate not yet valid           */
    CCC_ATTEST_E_UNTRUSTED_ROOT,  /* chain does not lead to the pinned root   */
    CCC_ATTEST_E_CERT_SIGNATURE,  /* a certificate signature does not verify  */
    CCC_ATTEST_E_CHAIN,           /* other chain refusal (CA flag, path
                                     length, cabundle order)                 */
    CCC_ATTEST_E_SIGNATURE,       /* COSE signature does not verify           */
    /* policy */
    CCC_ATTEST_E_POLICY_EMPTY,    /* no accepted measurement set given        */
    CCC_ATTEST_E_DEBUG_MODE,      /* PCR0/1/2 all zero, debug not allowed     */
    CCC_ATTEST_E_PCR_MISMATCH,    /* no accepted measurement set matches      */
    CCC_ATTEST_E_NONCE_MISMATCH,  /* nonce absent or different                */
    CCC_ATTEST_E_TOO_OLD,         /* older than max_age_ms                    */
    CCC_ATTEST_E_FROM_FUTURE,     /* timestamp after the verification time    */
    CCC_ATTEST_E_NEEDS_TIME,      /* max age asked without a caller time      */
    CCC_ATTEST_E_PUBLIC_KEY_MISMATCH, /* public_key absent or different       */
    CCC_ATTEST_E_USER_DATA_MISMATCH,  /* user_data absent or different        */
    CCC_ATTEST_E_COUNT
} ccc_attest_error;

/* "CCC_ATTEST_E_PCR_MISMATCH", "CCC_ATTEST_OK", ...; never NULL. */
const char *ccc_attest_error_name(ccc_attest_error e);
/* Inverse of ccc_attest_error_name: CCC_ERR_NOT_FOUND for an unknown name. */
CCC_MUST_USE ccc_status ccc_attest_error_from_name(const char *name,
                                                   ccc_attest_error *out);

/* ------------------------------------------------------------------------ */
/* The compiled-in AWS root                                                  */
/* ------------------------------------------------------------------------ */

/* PEM of the AWS Nitro Enclaves root G1 (static storage). */
ccc_bytes ccc_attest_aws_root_pem(void);
/* Lower-case hex SHA-256 of its DER. */
const char *ccc_attest_aws_root_sha256_hex(void);
/* A ccc_x509_root for it (caller frees with ccc_x509_root_free). */
CCC_MUST_USE ccc_status ccc_attest_aws_root(ccc_x509_root **out);

/* ------------------------------------------------------------------------ */
/* Parsed document                                                           */
/* ------------------------------------------------------------------------ */

typedef struct ccc_attest_doc {
    ccc_cose_sign1 cose;      /* the envelope (borrows the input)          */
    ccc_cbor_doc payload_doc; /* the payload map (borrows the input)       */
    ccc_bytes module_id;      /* UTF-8, not NUL-terminated                 */
    uint64_t timestamp_ms;
    struct {
        bool present;
        ccc_bytes value;      /* 32, 48 or 64 bytes                        */
    } pcrs[CCC_ATTEST_PCR_COUNT];
    size_t pcr_count;
    ccc_bytes certificate;    /* DER leaf                                   */
    ccc_bytes cabundle[CCC_ATTEST_MAX_CABUNDLE]; /* root first              */
    size_t cabundle_count;
    bool has_public_key, has_user_data, has_nonce; /* false: null/absent   */
    ccc_bytes public_key, user_data, nonce;
} ccc_attest_doc;

void ccc_attest_doc_init(ccc_attest_doc *doc);
void ccc_attest_doc_wipe(ccc_attest_doc *doc);

/*
 * Parse and syntactically validate a document (see the field table above).
 * On failure *why (if non-NULL) names the reason and the doc is wiped.
 * Status classes: CCC_ERR_PARSE, CCC_ERR_LIMIT, CCC_ERR_UNSUPPORTED (alg).
 */
CCC_MUST_USE ccc_status ccc_attest_doc_parse(ccc_attest_doc *doc,
                                             ccc_bytes input,
                                             ccc_attest_error *why);

/* ------------------------------------------------------------------------ */
/* Policy                                                                    */
/* ------------------------------------------------------------------------ */

/* One accepted measurement set: every listed PCR must be equal. */
#define CCC_ATTEST_MAX_SET_PCRS 8
typedef struct ccc_attest_pcr_set {
    size_t count;
    struct {
        uint32_t index;
        uint8_t value[CCC_ATTEST_MAX_PCR_SIZE];
        size_t size;
    } pcrs[CCC_ATTEST_MAX_SET_PCRS];
} ccc_attest_pcr_set;

/* Add "index = value" to a set (CCC_ERR_LIMIT when full, CCC_ERR_USAGE for
 * an index >= 32 or a size not 32/48/64, or a repeated index). */
CCC_MUST_USE ccc_status ccc_attest_pcr_set_add(ccc_attest_pcr_set *set,
                                               uint32_t index,
                                               ccc_bytes value);

/*
 * What the caller accepts. Zero-initialise, then fill. Everything is
 * borrowed. A NULL `ptr` in nonce/public_key/user_data means "not bound";
 * a non-NULL ptr with size 0 binds to an empty bstr.
 */
typedef struct ccc_attest_policy {
    const ccc_attest_pcr_set *sets; /* accepted sets (blue/green releases) */
    size_t set_count;               /* 0 is an error unless ..._INSECURE   */
    bool allow_any_measurement_INSECURE; /* skip the PCR comparison        */
    bool allow_debug_INSECURE;      /* accept PCR0/1/2 all zero            */
    bool has_time;                  /* at_ms is set                         */
    uint64_t at_ms;                 /* verification time (ms since epoch)  */
    uint64_t max_age_ms;            /* 0: no age limit; needs has_time     */
    ccc_bytes nonce;
    ccc_bytes public_key;
    ccc_bytes user_data;
} ccc_attest_policy;

/* ------------------------------------------------------------------------ */
/* Verification and its report                                               */
/* ------------------------------------------------------------------------ */

typedef enum ccc_attest_check_id {
    CCC_ATTEST_CHECK_PARSE,
    CCC_ATTEST_CHECK_ALG,
    CCC_ATTEST_CHECK_CHAIN,
    CCC_ATTEST_CHECK_SIGNATURE,
    CCC_ATTEST_CHECK_DEBUG,
    CCC_ATTEST_CHECK_PCRS,
    CCC_ATTEST_CHECK_NONCE,
    CCC_ATTEST_CHECK_FRESHNESS,
    CCC_ATTEST_CHECK_PUBLIC_KEY,
    CCC_ATTEST_CHECK_USER_DATA,
    CCC_ATTEST_CHECK_COUNT
} ccc_attest_check_id;

typedef enum ccc_attest_outcome {
    CCC_ATTEST_NOT_RUN = 0, /* an earlier failure made it meaningless      */
    CCC_ATTEST_PASS,
    CCC_ATTEST_FAIL,
    CCC_ATTEST_SKIPPED,     /* not asked for by the policy (e.g. no nonce)  */
} ccc_attest_outcome;

typedef struct ccc_attest_check {
    ccc_attest_outcome outcome;
    ccc_attest_error error; /* CCC_ATTEST_OK unless FAIL                   */
    char detail[96];        /* the error detail (literal + number) or a
                               short note; never payload bytes             */
} ccc_attest_check;

typedef struct ccc_attest_report {
    ccc_attest_error result;       /* first failure, or CCC_ATTEST_OK       */
    uint64_t verified_at_ms;       /* the time the chain was checked at     */
    bool time_from_document;       /* verified_at_ms is the doc timestamp   */
    ccc_attest_check checks[CCC_ATTEST_CHECK_COUNT];
} ccc_attest_report;

/* "parse", "alg", "chain", "signature", "debug", "pcrs", ... */
const char *ccc_attest_check_name(ccc_attest_check_id id);
const char *ccc_attest_outcome_name(ccc_attest_outcome o);

/*
 * Verify a parsed document against `root` and `policy`, filling `report`
 * (always fully written). Returns CCC_OK only when every check passed or was
 * skipped by the policy's own choice; otherwise the status of the first
 * failure (CCC_ERR_CRYPTO for authenticity, CCC_ERR_POLICY for policy,
 * CCC_ERR_USAGE for a policy that cannot be applied) with its detail.
 */
CCC_MUST_USE ccc_status ccc_attest_verify(const ccc_attest_doc *doc,
                                          const ccc_x509_root *root,
                                          const ccc_attest_policy *policy,
                                          ccc_attest_report *report);

/* Parse + verify in one call (the parse outcome is the report's first
 * check). The input is only borrowed for the duration of the call. */
CCC_MUST_USE ccc_status ccc_attest_verify_bytes(ccc_bytes input,
                                                const ccc_x509_root *root,
                                                const ccc_attest_policy *policy,
                                                ccc_attest_report *report);

/* True when PCR0, PCR1 and PCR2 are all absent or all-zero. */
bool ccc_attest_doc_is_debug(const ccc_attest_doc *doc);

#endif /* CCC_ATTEST_H */
