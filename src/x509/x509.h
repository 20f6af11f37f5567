/*
 * x509 — certificate chains to a pinned root, at a time the caller chooses.
 *
 * The attestation verifier (src/attest) needs exactly one thing from X.509:
 * "does this leaf certificate chain, through these intermediates, to THIS
 * root, with every certificate valid at THIS time, and what is the leaf's
 * public key?". This module answers that with OpenSSL's own path validation
 * (X509_STORE / X509_STORE_CTX, RFC 5280 §6) and nothing else:
 *
 *   - the trust store holds only the pinned root: no system trust store, no
 *     default paths, no partial chains (X509_V_FLAG_PARTIAL_CHAIN is off, so
 *     an intermediate can never act as a trust anchor);
 *   - the verification time is set with X509_VERIFY_PARAM_set_time, never the
 *     wall clock unless the caller passes it;
 *   - basicConstraints CA:TRUE, keyUsage keyCertSign and pathLenConstraint
 *     of every issuer are enforced by OpenSSL (§4.2.1.3, §4.2.1.9).
 *     X509_V_FLAG_X509_STRICT stays off: AWS Nitro leaf certificates have
 *     no authorityKeyIdentifier, which strict mode requires;
 *   - the chain must use the given intermediates in the given order
 *     (caller lists them root side first, as Nitro's `cabundle` does), so a
 *     bundle with swapped certificates is refused even if OpenSSL could
 *     re-order it.
 *
 * Every refusal carries a ccc_x509_error naming the reason (expired, not yet
 * valid, untrusted root, bad signature, malformed, ...) besides the usual
 * ccc_status class and detail string.
 *
 * Ownership: a ccc_x509_root is a heap object (new/free). The leaf public
 * key handed out by ccc_x509_chain_verify is an EVP_PKEY the caller frees.
 *
 * Important caveats
 * 1. Revocation is not checked (Nitro certificates are short-lived and AWS
 *    publishes no CRL for them); that is the Nitro trust model, not ours.
 * 2. Times are whole seconds (X.509 validity has one-second granularity).
 * 3. The root's own self-signature is not re-checked: the root is pinned by
 *    its bytes, which is a stronger statement.
 */
#ifndef CCC_X509_H
#define CCC_X509_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "base/base.h"

/* Why a chain was refused. Stable names via ccc_x509_error_name(). */
typedef enum ccc_x509_error {
    CCC_X509_E_NONE = 0,
    CCC_X509_E_MALFORMED,       /* a certificate does not parse as DER X.509  */
    CCC_X509_E_EXPIRED,         /* some certificate's notAfter < time        */
    CCC_X509_E_NOT_YET_VALID,   /* some certificate's notBefore > time       */
    CCC_X509_E_UNTRUSTED_ROOT,  /* the chain does not end at the pinned root */
    CCC_X509_E_BAD_SIGNATURE,   /* a certificate signature does not verify   */
    CCC_X509_E_NOT_CA,          /* an issuer lacks CA:TRUE / keyCertSign     */
    CCC_X509_E_PATH_LENGTH,     /* an issuer's pathLenConstraint exceeded    */
    CCC_X509_E_CHAIN_ORDER,     /* chain valid only with certificates other
                                   than or in another order than given       */
    CCC_X509_E_INVALID,         /* any other RFC 5280 refusal                */
    CCC_X509_E_COUNT
} ccc_x509_error;

/* "CCC_X509_E_EXPIRED" etc. Never NULL. */
const char *ccc_x509_error_name(ccc_x509_error e);

/* A pinned trust anchor. Opaque heap object. */
typedef struct ccc_x509_root ccc_x509_root;

/*
 * Load a root from PEM (exactly one certificate) or DER. The certificate
 * must be self-issued and a CA. Errors: CCC_ERR_PARSE, CCC_ERR_NOMEM.
 */
CCC_MUST_USE ccc_status ccc_x509_root_new_pem(ccc_bytes pem, ccc_x509_root **out);
CCC_MUST_USE ccc_status ccc_x509_root_new_der(ccc_bytes der, ccc_x509_root **out);
void ccc_x509_root_free(ccc_x509_root *root);
/* SHA-256 of the root's DER encoding (its "fingerprint"). */
void ccc_x509_root_sha256(const ccc_x509_root *root, uint8_t out[static 32]);
/* The root's DER bytes (borrowed; valid while the root lives). */
ccc_bytes ccc_x509_root_der(const ccc_x509_root *root);

/*
 * Verify `leaf_der` through `chain` (chain[0] is the root side — usually the
 * root itself, as in Nitro's cabundle — chain[count-1] the leaf's issuer) to
 * `root`, with every certificate valid at `at_unix` (seconds since the
 * epoch). When the root is not itself in `chain`, chain[0] must be issued by
 * it. On success, *leaf_key (if non-NULL) receives the leaf's public key
 * (caller frees with EVP_PKEY_free). On failure *why names the reason
 * (*why is always set) and the status is:
 *   CCC_ERR_PARSE   malformed certificate;
 *   CCC_ERR_CRYPTO  every other refusal (validity, trust, signature, ...).
 * Detail strings name the check and, where useful, the depth (0 = leaf).
 */
CCC_MUST_USE ccc_status ccc_x509_chain_verify(const ccc_x509_root *root,
                                              ccc_bytes leaf_der,
                                              const ccc_bytes *chain,
                                              size_t chain_count,
                                              int64_t at_unix,
                                              ccc_x509_error *why,
                                              EVP_PKEY **leaf_key);

/*
 * Public key of one DER certificate without any chain check (for `show`
 * commands and for benchmarks). Caller frees. CCC_ERR_PARSE if malformed.
 */
CCC_MUST_USE ccc_status ccc_x509_cert_pubkey(ccc_bytes der, EVP_PKEY **out);

/* ------------------------------------------------------------------------ */
/* Issuing (for the simulated NSM's local CA and for tests)                  */
/* ------------------------------------------------------------------------ */

/*
 * What goes into a certificate we issue. Certificates are X.509 v3 with
 * subjectKeyIdentifier, authorityKeyIdentifier, critical basicConstraints
 * (CA:TRUE with pathLenConstraint `path_len` when >= 0, or CA:FALSE) and a
 * critical keyUsage (keyCertSign+cRLSign for CAs, digitalSignature for
 * leaves), signed ecdsa-with-SHA384 (P-384 issuer key) or Ed25519.
 */
typedef struct ccc_x509_issue_params {
    const char *common_name; /* CN; O=ccc-local, OU=simulated-nsm are added */
    uint64_t serial;
    int64_t not_before;      /* unix seconds */
    int64_t not_after;       /* unix seconds */
    bool is_ca;
    int path_len;            /* CAs only; -1 for no constraint */
} ccc_x509_issue_params;

/*
 * Issue a certificate for `subject_key` signed by `issuer_key`. For a
 * self-signed root pass issuer_der = {NULL, 0} and issuer_key ==
 * subject_key. The DER is appended to `out`. Errors: CCC_ERR_USAGE (bad
 * params), CCC_ERR_PARSE (issuer_der), CCC_ERR_CRYPTO, CCC_ERR_LIMIT.
 */
CCC_MUST_USE ccc_status ccc_x509_issue(const ccc_x509_issue_params *params,
                                       EVP_PKEY *subject_key,
                                       EVP_PKEY *issuer_key,
                                       ccc_bytes issuer_der, ccc_buf *out);

/* A fresh P-384 key pair (EVP_EC_gen). Caller frees. */
CCC_MUST_USE ccc_status ccc_x509_p384_keygen(EVP_PKEY **out);

#endif /* CCC_X509_H */
