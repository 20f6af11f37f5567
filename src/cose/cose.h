/*
 * cose — COSE_Sign1: parse, verify and sign (RFC 9052 §4, algorithms from
 * RFC 9053 §2).
 *
 * The Nitro attestation document is a COSE_Sign1 signed ES384 by the
 * enclave's leaf certificate; receipts and policy bundles are COSE_Sign1
 * signed EdDSA (Ed25519). This module is the only code that builds the bytes
 * a signature covers.
 *
 * RFC 9052 §4.2:
 *
 *   COSE_Sign1 = [
 *       Headers,                 ; protected: bstr, unprotected: map
 *       payload : bstr / nil,    ; nil = detached content
 *       signature : bstr
 *   ]
 *   COSE_Sign1_Tagged = #6.18(COSE_Sign1)
 *
 * RFC 9052 §4.4 — what is signed:
 *
 *   Sig_structure = [
 *       context : "Signature1",
 *       body_protected : empty_or_serialized_map,
 *       external_aad : bstr,
 *       payload : bstr
 *   ]
 *
 * body_protected is the protected header bstr EXACTLY AS RECEIVED; we never
 * re-encode it (RFC 9052 §3 wraps the protected map in a bstr so that the
 * signed bytes survive intermediaries that decode and re-encode). An empty
 * protected header may arrive as h'' or as h'a0' (§3: "Recipients MUST
 * accept both a zero-length byte string and a zero-length map encoded in a
 * byte string"); each is signed as it arrived, so h'a0' is NOT replaced by
 * h'' in the Sig_structure (the cose-wg example sign-pass-01 was signed the
 * other way and is rejected, see tests/test_cose.c).
 *
 * Rules this module enforces (stricter than the RFC where noted):
 *   - the message is untagged or tag 18; any other tag is CCC_ERR_PARSE;
 *   - the protected header bstr is empty or one CBOR map; the unprotected
 *     header is a map; header labels are int or tstr (§3); a label in both
 *     buckets is CCC_ERR_PARSE (§3 forbids a label in both buckets);
 *   - alg (label 1) MUST be in the protected header (§3.1: "This parameter
 *     MUST be authenticated where the ability to do so exists"); missing or
 *     only unprotected: CCC_ERR_PARSE. Unknown alg (or a text alg):
 *     CCC_ERR_UNSUPPORTED;
 *   - crit (label 2) present: CCC_ERR_UNSUPPORTED (we process no optional
 *     parameters, so we cannot honour any "critical" one, §3.1);
 *   - the key must match the alg exactly: ES256 = P-256, ES384 = P-384,
 *     ES512 = P-521 (stricter than RFC 9053 §2.1, which only recommends the
 *     curve/hash pairing), EdDSA = Ed25519. Mismatch: CCC_ERR_CRYPTO;
 *   - ECDSA signatures are raw r||s (RFC 9053 §2.1: each integer is
 *     left-padded to the key size, then "The two integers are then
 *     concatenated together to form a byte string that is the resulting
 *     signature": 64, 96, 132 bytes); any other length is
 *     CCC_ERR_CRYPTO. They are converted to DER (ECDSA_SIG) for OpenSSL.
 *     EdDSA signatures are 64 bytes;
 *   - a nil (detached) payload is refused unless the caller supplies the
 *     detached payload; a caller-supplied payload for an attached message is
 *     CCC_ERR_USAGE.
 * Errors: malformed → CCC_ERR_PARSE, unknown algorithm → CCC_ERR_UNSUPPORTED,
 * bad signature / key → CCC_ERR_CRYPTO.
 *
 * Important caveats
 * 1. ccc_cose_sign1 BORROWS the input bytes (payload, signature and header
 *    views point into them); keep the input alive while using it.
 * 2. Parsing is not verification: nothing from a parsed message (payload,
 *    kid, ...) is trustworthy before ccc_cose_sign1_verify() returns CCC_OK.
 * 3. Keys are OpenSSL EVP_PKEY; this module never copies private key bytes.
 *    Choosing the key (by kid, by certificate) is the caller's business: a
 *    kid is only a hint.
 */
#ifndef CCC_COSE_H
#define CCC_COSE_H

#include <openssl/types.h>

#include "base/base.h"
#include "cbor/cbor.h"

/* RFC 9052 §4.2: CBOR tag of COSE_Sign1_Tagged. */
#define CCC_COSE_TAG_SIGN1 18

/* RFC 9052 §3.1 common header parameter labels. */
enum {
    CCC_COSE_HDR_ALG = 1,
    CCC_COSE_HDR_CRIT = 2,
    CCC_COSE_HDR_CTY = 3,
    CCC_COSE_HDR_KID = 4,
};

/* RFC 9053 §2 algorithm identifiers we implement. */
enum {
    CCC_COSE_ALG_ES256 = -7,  /* ECDSA P-256 + SHA-256                    */
    CCC_COSE_ALG_EDDSA = -8,  /* EdDSA; we accept Ed25519 keys only      */
    CCC_COSE_ALG_ES384 = -35, /* ECDSA P-384 + SHA-384 (AWS Nitro)        */
    CCC_COSE_ALG_ES512 = -36, /* ECDSA P-521 + SHA-512                    */
};

/* "ES384", "EdDSA", ... or NULL for an alg we do not implement. */
const char *ccc_cose_alg_name(int64_t alg);
/* CCC_OK if `key` is the key type `alg` needs (CCC_ERR_UNSUPPORTED for an
 * unknown alg, CCC_ERR_CRYPTO for a mismatch). */
CCC_MUST_USE ccc_status ccc_cose_alg_check_key(int64_t alg, EVP_PKEY *key);
/* The one alg we use for a key: P-256 → ES256, P-384 → ES384,
 * P-521 → ES512, Ed25519 → EdDSA; CCC_ERR_UNSUPPORTED otherwise. */
CCC_MUST_USE ccc_status ccc_cose_alg_for_key(EVP_PKEY *key, int64_t *alg);

/*
 * Read a PEM key file (at most 64 KiB) into a new EVP_PKEY: a private key
 * when `private_key`, else a public key (SubjectPublicKeyInfo). The file is
 * read through a secret buffer (locked, wiped), never through stdio, so a
 * private key leaves no copy behind. The caller checks the key type.
 * Errors: those of ccc_file_read; CCC_ERR_PARSE "file does not hold a PEM
 * key". The caller frees *out with EVP_PKEY_free.
 */
CCC_MUST_USE ccc_status ccc_cose_key_read_pem(const char *path, bool private_key,
                                              EVP_PKEY **out);

/*
 * Write `key` as PEM to `path` (ccc_file_write: atomic, mode 0600): the
 * private key (PKCS#8, encoded in OpenSSL's secure heap) when
 * `private_key`, else the public SubjectPublicKeyInfo. CCC_ERR_CRYPTO if it
 * cannot be encoded.
 */
CCC_MUST_USE ccc_status ccc_cose_key_write_pem(const char *path, EVP_PKEY *key,
                                               bool private_key);

/*
 * A parsed COSE_Sign1. Caller-owned: ccc_cose_sign1_init(), then
 * ccc_cose_sign1_parse(), ccc_cose_sign1_wipe() when done (safe twice).
 */
typedef struct ccc_cose_sign1 {
    ccc_cbor_doc doc;            /* the whole message                     */
    ccc_cbor_doc protected_doc;  /* the protected header map (if any)     */
    bool tagged;                 /* arrived as #6.18(...)                 */
    ccc_bytes protected_raw;     /* body_protected: bstr content as received
                                    (size 0 for h'')                       */
    const ccc_cbor_item *protected_map;   /* NULL when protected_raw is empty */
    const ccc_cbor_item *unprotected_map; /* always a map item            */
    bool detached;               /* payload was nil                       */
    ccc_bytes payload;           /* attached payload (empty if detached)  */
    ccc_bytes signature;         /* signature bstr content                */
    int64_t alg;                 /* protected alg (a known or unknown int) */
} ccc_cose_sign1;

void ccc_cose_sign1_init(ccc_cose_sign1 *msg);
void ccc_cose_sign1_wipe(ccc_cose_sign1 *msg);

/*
 * Parse `input` (borrowed, caveat 1). `limits` may be NULL (defaults; the
 * caller should raise max_input_size/max_string_size for big payloads).
 * Checks structure and the header rules above (including alg known and
 * protected); does NOT verify the signature.
 */
CCC_MUST_USE ccc_status ccc_cose_sign1_parse(ccc_cose_sign1 *msg,
                                             ccc_bytes input,
                                             const ccc_cbor_limits *limits);

/*
 * Header parameter by integer label, protected bucket first, then
 * unprotected. CCC_ERR_NOT_FOUND if absent. (Unprotected values are not
 * authenticated — use only as hints.)
 */
CCC_MUST_USE ccc_status ccc_cose_sign1_header(const ccc_cose_sign1 *msg,
                                              int64_t label,
                                              const ccc_cbor_item **out);

/*
 * Append the RFC 9052 §4.4 Sig_structure for COSE_Sign1 to `out`:
 * ["Signature1", bstr(body_protected), bstr(external_aad), bstr(payload)].
 */
CCC_MUST_USE ccc_status ccc_cose_sig_structure(ccc_bytes body_protected,
                                               ccc_bytes external_aad,
                                               ccc_bytes payload,
                                               ccc_buf *out);

/*
 * Verify a parsed message with `key` (public or private EVP_PKEY).
 * `external_aad` may be empty. `detached_payload` must be non-NULL exactly
 * when the message's payload is nil. Returns CCC_OK only if the alg matches
 * the key and the signature verifies over the Sig_structure built from the
 * received bytes.
 */
CCC_MUST_USE ccc_status ccc_cose_sign1_verify(const ccc_cose_sign1 *msg,
                                              EVP_PKEY *key,
                                              ccc_bytes external_aad,
                                              const ccc_bytes *detached_payload);

/*
 * The signature primitive alone: verify `sig` (COSE form: raw r||s for
 * ECDSA) over `tbs` with `alg` and `key`. Used by sign1_verify; exposed for
 * tests and for callers that build their own to-be-signed bytes.
 */
CCC_MUST_USE ccc_status ccc_cose_signature_verify(int64_t alg, EVP_PKEY *key,
                                                  ccc_bytes tbs,
                                                  ccc_bytes sig);

/* What to sign and how. Zero-initialise, then set what you need. */
typedef struct ccc_cose_sign1_params {
    int64_t alg;           /* 0 = ccc_cose_alg_for_key(key)               */
    ccc_bytes kid;         /* optional: unprotected {4: kid}              */
    ccc_bytes external_aad;/* optional, not transported                   */
    bool detached;         /* emit payload as nil                         */
    bool untagged;         /* omit tag 18                                 */
} ccc_cose_sign1_params;

/*
 * Sign `payload` with the private `key` and append the COSE_Sign1 to `out`.
 * Protected header is the canonical map {1: alg}; unprotected is {} or
 * {4: kid}; the whole message is canonical CBOR. ECDSA signatures are
 * converted from OpenSSL's DER to raw r||s (and are randomized); Ed25519 is
 * deterministic. `params` may be NULL (defaults). Errors: CCC_ERR_USAGE (bad
 * params), CCC_ERR_UNSUPPORTED/CCC_ERR_CRYPTO (alg/key), CCC_ERR_LIMIT (out
 * cap).
 */
CCC_MUST_USE ccc_status ccc_cose_sign1_sign(EVP_PKEY *key,
                                            const ccc_cose_sign1_params *params,
                                            ccc_bytes payload, ccc_buf *out);

#endif /* CCC_COSE_H */
