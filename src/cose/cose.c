/*
 * COSE_Sign1 (RFC 9052 §4) with ES256/ES384/ES512 and EdDSA (RFC 9053 §2).
 * See cose.h for the rules this file enforces.
 */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include "cose/cose.h"

/* ------------------------------------------------------------------------ */
/* Algorithms                                                                */
/* ------------------------------------------------------------------------ */

typedef struct alg_info {
    int64_t alg;
    const char *name;
    int pkey_type;      /* EVP_PKEY_EC or EVP_PKEY_ED25519               */
    int curve_nid;      /* EC only                                       */
    const char *digest; /* EC only; EdDSA hashes internally (PureEdDSA)  */
    size_t sig_size;    /* COSE signature size: r||s or the Ed25519 sig  */
} alg_info;

/* RFC 9053 §2.1 (ECDSA) and §2.2 (EdDSA). The curve is bound to the alg
 * here (see cose.h); the ECDSA signature is r and s, each left-padded to
 * the key size, concatenated. */
static const alg_info ALGS[] = {
    {CCC_COSE_ALG_ES256, "ES256", EVP_PKEY_EC, NID_X9_62_prime256v1, "SHA256",
     64},
    {CCC_COSE_ALG_ES384, "ES384", EVP_PKEY_EC, NID_secp384r1, "SHA384", 96},
    {CCC_COSE_ALG_ES512, "ES512", EVP_PKEY_EC, NID_secp521r1, "SHA512", 132},
    {CCC_COSE_ALG_EDDSA, "EdDSA", EVP_PKEY_ED25519, 0, NULL, 64},
};

static const alg_info *find_alg(int64_t alg)
{
    for (size_t i = 0; i < sizeof ALGS / sizeof ALGS[0]; i++)
        if (ALGS[i].alg == alg)
            return &ALGS[i];
    return NULL;
}

const char *ccc_cose_alg_name(int64_t alg)
{
    const alg_info *a = find_alg(alg);
    return a ? a->name : NULL;
}

/* The NID of an EC key's curve, or NID_undef. */
static int ec_curve_nid(EVP_PKEY *key)
{
    char name[64];
    size_t len = 0;
    if (EVP_PKEY_get_group_name(key, name, sizeof name, &len) != 1)
        return NID_undef;
    int nid = OBJ_sn2nid(name);
    if (nid == NID_undef)
        nid = EC_curve_nist2nid(name);
    return nid;
}

static bool key_matches(const alg_info *a, EVP_PKEY *key)
{
    if (EVP_PKEY_get_base_id(key) != a->pkey_type)
        return false;
    return a->pkey_type != EVP_PKEY_EC || ec_curve_nid(key) == a->curve_nid;
}

ccc_status ccc_cose_alg_check_key(int64_t alg, EVP_PKEY *key)
{
    const alg_info *a = find_alg(alg);
    if (!a)
        CCC_BAIL(CCC_ERR_UNSUPPORTED, "unsupported COSE alg");
    if (!key)
        CCC_BAIL(CCC_ERR_USAGE, "no key");
    if (!key_matches(a, key))
        CCC_BAIL(CCC_ERR_CRYPTO, "key type does not match the COSE alg");
    return CCC_OK;
}

ccc_status ccc_cose_alg_for_key(EVP_PKEY *key, int64_t *alg)
{
    if (!key)
        CCC_BAIL(CCC_ERR_USAGE, "no key");
    for (size_t i = 0; i < sizeof ALGS / sizeof ALGS[0]; i++) {
        if (key_matches(&ALGS[i], key)) {
            *alg = ALGS[i].alg;
            return CCC_OK;
        }
    }
    CCC_BAIL(CCC_ERR_UNSUPPORTED, "no COSE alg for this key type");
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                   */
/* ------------------------------------------------------------------------ */

void ccc_cose_sign1_init(ccc_cose_sign1 *msg)
{
    memset(msg, 0, sizeof *msg);
    ccc_cbor_doc_init(&msg->doc);
    ccc_cbor_doc_init(&msg->protected_doc);
}

void ccc_cose_sign1_wipe(ccc_cose_sign1 *msg)
{
    ccc_cbor_doc_wipe(&msg->doc);
    ccc_cbor_doc_wipe(&msg->protected_doc);
    ccc_cose_sign1_init(msg);
}

/* RFC 9052 §3: "label = int / tstr". */
static bool is_label(const ccc_cbor_item *k)
{
    return k->type == CCC_CBOR_UINT || k->type == CCC_CBOR_NINT ||
           k->type == CCC_CBOR_TEXT;
}

/* Labels compare by value, not encoding. */
static bool labels_equal(const ccc_cbor_item *a, const ccc_cbor_item *b)
{
    return a->type == b->type && a->uint == b->uint &&
           a->str.size == b->str.size &&
           (a->str.size == 0 || memcmp(a->str.ptr, b->str.ptr, a->str.size) == 0);
}

/* Every key is a label; no label is in both buckets. */
static ccc_status check_labels(const ccc_cbor_item *prot,
                               const ccc_cbor_item *unprot)
{
    ccc_cbor_iter it, jt;
    const ccc_cbor_item *k, *v, *k2, *v2;
    ccc_cbor_iter_init(&it, unprot);
    while ((k = ccc_cbor_iter_next(&it)) && (v = ccc_cbor_iter_next(&it)))
        if (!is_label(k))
            CCC_BAIL(CCC_ERR_PARSE, "COSE header label is not int or text");
    if (!prot)
        return CCC_OK;
    ccc_cbor_iter_init(&it, prot);
    while ((k = ccc_cbor_iter_next(&it)) && (v = ccc_cbor_iter_next(&it))) {
        if (!is_label(k))
            CCC_BAIL(CCC_ERR_PARSE, "COSE header label is not int or text");
        /* RFC 9052 §3: a label may not be in both buckets. */
        ccc_cbor_iter_init(&jt, unprot);
        while ((k2 = ccc_cbor_iter_next(&jt)) &&
               (v2 = ccc_cbor_iter_next(&jt)))
            if (labels_equal(k, k2))
                CCC_BAIL(CCC_ERR_PARSE,
                         "COSE header label in both header buckets");
    }
    return CCC_OK;
}

/* Lookup that treats "absent" as a normal outcome (*out = NULL). */
static ccc_status header_find(const ccc_cbor_item *map, int64_t label,
                              const ccc_cbor_item **out)
{
    *out = NULL;
    if (!map)
        return CCC_OK;
    ccc_status st = ccc_cbor_map_get_int(map, label, out);
    if (st == CCC_ERR_NOT_FOUND) {
        ccc_error_clear();
        *out = NULL;
        return CCC_OK;
    }
    return st;
}

static ccc_status parse_alg(ccc_cose_sign1 *msg)
{
    const ccc_cbor_item *a, *ua, *crit, *ucrit;
    CCC_GUARD(header_find(msg->protected_map, CCC_COSE_HDR_ALG, &a));
    CCC_GUARD(header_find(msg->unprotected_map, CCC_COSE_HDR_ALG, &ua));
    /* RFC 9052 §3.1, alg: "This parameter MUST be authenticated where the
     * ability to do so exists." For COSE_Sign1 it always exists. */
    if (!a && ua)
        CCC_BAIL(CCC_ERR_PARSE, "COSE alg must be in the protected header");
    if (!a)
        CCC_BAIL(CCC_ERR_PARSE, "COSE alg missing");
    if (a->type == CCC_CBOR_TEXT)
        CCC_BAIL(CCC_ERR_UNSUPPORTED, "unsupported COSE alg (text)");
    if (a->type != CCC_CBOR_UINT && a->type != CCC_CBOR_NINT)
        CCC_BAIL(CCC_ERR_PARSE, "COSE alg is not an integer");
    int64_t alg;
    if (ccc_cbor_get_int(a, &alg) != CCC_OK || !find_alg(alg))
        CCC_BAIL(CCC_ERR_UNSUPPORTED, "unsupported COSE alg");
    msg->alg = alg;
    /* RFC 9052 §3.1, crit: a recipient must reject a message whose
     * critical parameters it does not understand. We process none of the
     * optional parameters, so any crit is refused. */
    CCC_GUARD(header_find(msg->protected_map, CCC_COSE_HDR_CRIT, &crit));
    CCC_GUARD(header_find(msg->unprotected_map, CCC_COSE_HDR_CRIT, &ucrit));
    if (crit || ucrit)
        CCC_BAIL(CCC_ERR_UNSUPPORTED, "COSE crit header not supported");
    return CCC_OK;
}

ccc_status ccc_cose_sign1_parse(ccc_cose_sign1 *msg, ccc_bytes input,
                                const ccc_cbor_limits *limits)
{
    ccc_status st = CCC_OK;
    const ccc_cbor_item *root, *arr, *prot, *unprot, *payload, *sig;
    ccc_cose_sign1_wipe(msg);
    CCC_TRY(ccc_cbor_decode(&msg->doc, input, limits, 0));
    root = ccc_cbor_doc_root(&msg->doc);
    arr = root;
    if (root->type == CCC_CBOR_TAG) {
        /* RFC 9052 §4.2: "COSE_Sign1_Tagged = #6.18(COSE_Sign1)". Any other
         * tag names another structure (§2, Table 1) and is refused. */
        CCC_CHECK(root->uint == CCC_COSE_TAG_SIGN1, CCC_ERR_PARSE,
                  "CBOR tag is not COSE_Sign1 (18)");
        msg->tagged = true;
        arr = root + 1;
    }
    CCC_CHECK(arr->type == CCC_CBOR_ARRAY && arr->count == 4, CCC_ERR_PARSE,
              "COSE_Sign1 is not an array of 4");
    CCC_TRY(ccc_cbor_array_get(arr, 0, &prot));
    CCC_TRY(ccc_cbor_array_get(arr, 1, &unprot));
    CCC_TRY(ccc_cbor_array_get(arr, 2, &payload));
    CCC_TRY(ccc_cbor_array_get(arr, 3, &sig));

    /* RFC 9052 §3: "protected: ... wrapped in a bstr"; "empty_or_serialized
     * _map = bstr .cbor header_map / bstr .size 0". */
    CCC_CHECK(prot->type == CCC_CBOR_BYTES, CCC_ERR_PARSE,
              "COSE protected header is not a byte string");
    msg->protected_raw = prot->str;
    if (prot->str.size > 0) {
        CCC_TRY(ccc_cbor_decode(&msg->protected_doc, prot->str, limits, 0));
        msg->protected_map = ccc_cbor_doc_root(&msg->protected_doc);
        CCC_CHECK(msg->protected_map->type == CCC_CBOR_MAP, CCC_ERR_PARSE,
                  "COSE protected header is not a map");
    }
    CCC_CHECK(unprot->type == CCC_CBOR_MAP, CCC_ERR_PARSE,
              "COSE unprotected header is not a map");
    msg->unprotected_map = unprot;

    /* RFC 9052 §4.1, payload: for detached content "a nil CBOR object is
     * placed in this location". */
    if (payload->type == CCC_CBOR_NULL) {
        msg->detached = true;
    } else {
        CCC_CHECK(payload->type == CCC_CBOR_BYTES, CCC_ERR_PARSE,
                  "COSE payload is neither a byte string nor nil");
        msg->payload = payload->str;
    }
    CCC_CHECK(sig->type == CCC_CBOR_BYTES, CCC_ERR_PARSE,
              "COSE signature is not a byte string");
    msg->signature = sig->str;

    CCC_TRY(check_labels(msg->protected_map, msg->unprotected_map));
    CCC_TRY(parse_alg(msg));
out:
    if (st != CCC_OK)
        ccc_cose_sign1_wipe(msg);
    return st;
}

ccc_status ccc_cose_sign1_header(const ccc_cose_sign1 *msg, int64_t label,
                                 const ccc_cbor_item **out)
{
    const ccc_cbor_item *found;
    CCC_GUARD(header_find(msg->protected_map, label, &found));
    if (!found)
        CCC_GUARD(header_find(msg->unprotected_map, label, &found));
    if (!found)
        CCC_BAIL(CCC_ERR_NOT_FOUND, "COSE header parameter not found");
    *out = found;
    return CCC_OK;
}

/* ------------------------------------------------------------------------ */
/* Sig_structure                                                             */
/* ------------------------------------------------------------------------ */

ccc_status ccc_cose_sig_structure(ccc_bytes body_protected,
                                  ccc_bytes external_aad, ccc_bytes payload,
                                  ccc_buf *out)
{
    /* RFC 9052 §4.4:
     *   Sig_structure = [ context : "Signature1",
     *       body_protected : empty_or_serialized_map,
     *       external_aad : bstr, payload : bstr ]
     * body_protected is the protected bstr of the message as received
     * (an h'a0' stays h'a0'; see cose.h). */
    ccc_status st = CCC_OK;
    size_t before = out->size;
    CCC_TRY(ccc_cbor_put_array(out, 4));
    CCC_TRY(ccc_cbor_put_cstr(out, "Signature1"));
    CCC_TRY(ccc_cbor_put_bytes(out, body_protected.ptr, body_protected.size));
    CCC_TRY(ccc_cbor_put_bytes(out, external_aad.ptr, external_aad.size));
    CCC_TRY(ccc_cbor_put_bytes(out, payload.ptr, payload.size));
out:
    if (st != CCC_OK)
        out->size = before;
    return st;
}

static size_t tbs_cap(ccc_bytes prot, ccc_bytes aad, ccc_bytes payload)
{
    /* Three bstr heads (<= 9 bytes each), array head, "Signature1". */
    return prot.size + aad.size + payload.size + 64;
}

/* ------------------------------------------------------------------------ */
/* Signature primitives                                                      */
/* ------------------------------------------------------------------------ */

/* COSE raw r||s → DER ECDSA-Sig-Value for OpenSSL. */
static ccc_status ecdsa_raw_to_der(const alg_info *a, ccc_bytes sig,
                                   uint8_t **der, int *der_size)
{
    ccc_status st = CCC_OK;
    size_t half = a->sig_size / 2;
    BIGNUM *r = BN_bin2bn(sig.ptr, (int)half, NULL);
    BIGNUM *s = BN_bin2bn(sig.ptr + half, (int)half, NULL);
    ECDSA_SIG *es = ECDSA_SIG_new();
    *der = NULL;
    CCC_CHECK(r && s && es, CCC_ERR_NOMEM, "cannot allocate ECDSA signature");
    CCC_CHECK(ECDSA_SIG_set0(es, r, s) == 1, CCC_ERR_INTERNAL,
              "ECDSA_SIG_set0 failed");
    r = s = NULL; /* owned by es now */
    *der_size = i2d_ECDSA_SIG(es, der);
    CCC_CHECK(*der_size > 0, CCC_ERR_INTERNAL, "cannot encode ECDSA signature");
out:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return st;
}

ccc_status ccc_cose_signature_verify(int64_t alg, EVP_PKEY *key, ccc_bytes tbs,
                                     ccc_bytes sig)
{
    ccc_status st = CCC_OK;
    EVP_MD_CTX *mctx = NULL;
    EVP_MD *md = NULL;
    uint8_t *der = NULL;
    int der_size = 0;
    const alg_info *a = find_alg(alg);
    CCC_CHECK(a, CCC_ERR_UNSUPPORTED, "unsupported COSE alg");
    CCC_TRY(ccc_cose_alg_check_key(alg, key));
    CCC_CHECK(sig.size == a->sig_size, CCC_ERR_CRYPTO,
              "signature has the wrong length for the alg");
    mctx = EVP_MD_CTX_new();
    CCC_CHECK(mctx, CCC_ERR_NOMEM, "cannot allocate digest context");
    if (a->pkey_type == EVP_PKEY_EC) {
        md = EVP_MD_fetch(NULL, a->digest, NULL);
        CCC_CHECK(md, CCC_ERR_INTERNAL, "digest unavailable");
        CCC_TRY(ecdsa_raw_to_der(a, sig, &der, &der_size));
        CCC_CHECK(EVP_DigestVerifyInit(mctx, NULL, md, NULL, key) == 1,
                  CCC_ERR_CRYPTO, "cannot initialise signature check");
        CCC_CHECK(EVP_DigestVerify(mctx, der, (size_t)der_size, tbs.ptr,
                                   tbs.size) == 1,
                  CCC_ERR_CRYPTO, "signature verification failed");
    } else {
        /* RFC 9053 §2.2: EdDSA signs the message itself (PureEdDSA); no
         * digest is named. */
        CCC_CHECK(EVP_DigestVerifyInit(mctx, NULL, NULL, NULL, key) == 1,
                  CCC_ERR_CRYPTO, "cannot initialise signature check");
        CCC_CHECK(EVP_DigestVerify(mctx, sig.ptr, sig.size, tbs.ptr,
                                   tbs.size) == 1,
                  CCC_ERR_CRYPTO, "signature verification failed");
    }
out:
    OPENSSL_free(der);
    EVP_MD_free(md);
    EVP_MD_CTX_free(mctx);
    return st;
}

ccc_status ccc_cose_sign1_verify(const ccc_cose_sign1 *msg, EVP_PKEY *key,
                                 ccc_bytes external_aad,
                                 const ccc_bytes *detached_payload)
{
    ccc_status st = CCC_OK;
    ccc_buf tbs;
    ccc_buf_init(&tbs, 0);
    CCC_CHECK(msg->doc.count > 0 && msg->unprotected_map, CCC_ERR_USAGE,
              "COSE message not parsed");
    ccc_bytes payload = msg->payload;
    if (msg->detached) {
        CCC_CHECK(detached_payload, CCC_ERR_PARSE,
                  "COSE payload is detached and none was supplied");
        payload = *detached_payload;
    } else {
        CCC_CHECK(!detached_payload, CCC_ERR_USAGE,
                  "detached payload given for an attached COSE payload");
    }
    CCC_TRY(ccc_cose_alg_check_key(msg->alg, key));
    ccc_buf_init(&tbs, tbs_cap(msg->protected_raw, external_aad, payload));
    CCC_TRY(ccc_cose_sig_structure(msg->protected_raw, external_aad, payload,
                                   &tbs));
    CCC_TRY(ccc_cose_signature_verify(msg->alg, key, ccc_buf_bytes(&tbs),
                                      msg->signature));
out:
    ccc_buf_wipe(&tbs);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Signing                                                                   */
/* ------------------------------------------------------------------------ */

/* Sign `tbs`, writing the COSE form of the signature (a->sig_size bytes). */
static ccc_status sign_raw(const alg_info *a, EVP_PKEY *key, ccc_bytes tbs,
                           uint8_t sig[static 132])
{
    ccc_status st = CCC_OK;
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_MD *md = NULL;
    uint8_t *der = NULL;
    size_t der_size = 0;
    ECDSA_SIG *es = NULL;
    CCC_CHECK(mctx, CCC_ERR_NOMEM, "cannot allocate digest context");
    if (a->pkey_type == EVP_PKEY_EC) {
        md = EVP_MD_fetch(NULL, a->digest, NULL);
        CCC_CHECK(md, CCC_ERR_INTERNAL, "digest unavailable");
        CCC_CHECK(EVP_DigestSignInit(mctx, NULL, md, NULL, key) == 1,
                  CCC_ERR_CRYPTO, "cannot initialise signing");
        CCC_CHECK(EVP_DigestSign(mctx, NULL, &der_size, tbs.ptr, tbs.size) == 1,
                  CCC_ERR_CRYPTO, "signing failed");
        der = OPENSSL_malloc(der_size);
        CCC_CHECK(der, CCC_ERR_NOMEM, "cannot allocate signature");
        CCC_CHECK(EVP_DigestSign(mctx, der, &der_size, tbs.ptr, tbs.size) == 1,
                  CCC_ERR_CRYPTO, "signing failed");
        const uint8_t *p = der;
        es = d2i_ECDSA_SIG(NULL, &p, (long)der_size);
        CCC_CHECK(es, CCC_ERR_INTERNAL, "cannot decode ECDSA signature");
        const BIGNUM *r, *s;
        ECDSA_SIG_get0(es, &r, &s);
        /* RFC 9053 §2.1: r and s are "left padded with zero bits to get
         * to the correct length", then "concatenated together". */
        int half = (int)(a->sig_size / 2);
        CCC_CHECK(BN_bn2binpad(r, sig, half) == half &&
                      BN_bn2binpad(s, sig + half, half) == half,
                  CCC_ERR_INTERNAL, "ECDSA signature too long");
    } else {
        size_t n = a->sig_size;
        CCC_CHECK(EVP_DigestSignInit(mctx, NULL, NULL, NULL, key) == 1,
                  CCC_ERR_CRYPTO, "cannot initialise signing");
        CCC_CHECK(EVP_DigestSign(mctx, sig, &n, tbs.ptr, tbs.size) == 1 &&
                      n == a->sig_size,
                  CCC_ERR_CRYPTO, "signing failed");
    }
out:
    ECDSA_SIG_free(es);
    OPENSSL_free(der);
    EVP_MD_free(md);
    EVP_MD_CTX_free(mctx);
    return st;
}

ccc_status ccc_cose_sign1_sign(EVP_PKEY *key,
                               const ccc_cose_sign1_params *params,
                               ccc_bytes payload, ccc_buf *out)
{
    ccc_status st = CCC_OK;
    ccc_cose_sign1_params p;
    uint8_t prot_bytes[16];
    uint8_t sig[132];
    ccc_buf prot, tbs;
    size_t before = out->size;
    ccc_buf_init(&prot, sizeof prot_bytes);
    ccc_buf_init(&tbs, 0);
    memset(&p, 0, sizeof p);
    if (params)
        p = *params;
    CCC_CHECK(key, CCC_ERR_USAGE, "no signing key");
    if (p.alg == 0)
        CCC_TRY(ccc_cose_alg_for_key(key, &p.alg));
    CCC_TRY(ccc_cose_alg_check_key(p.alg, key));
    const alg_info *a = find_alg(p.alg);

    /* Protected header: the deterministic encoding of {1: alg}. */
    CCC_TRY(ccc_cbor_put_map(&prot, 1));
    CCC_TRY(ccc_cbor_put_int(&prot, CCC_COSE_HDR_ALG));
    CCC_TRY(ccc_cbor_put_int(&prot, p.alg));

    ccc_buf_init(&tbs, tbs_cap(ccc_buf_bytes(&prot), p.external_aad, payload));
    CCC_TRY(ccc_cose_sig_structure(ccc_buf_bytes(&prot), p.external_aad,
                                   payload, &tbs));
    CCC_TRY(sign_raw(a, key, ccc_buf_bytes(&tbs), sig));

    /* COSE_Sign1_Tagged = #6.18([protected, unprotected, payload, sig]).
     * The only unprotected parameter is kid (label 4), so the map is
     * trivially in canonical order. */
    if (!p.untagged)
        CCC_TRY(ccc_cbor_put_tag(out, CCC_COSE_TAG_SIGN1));
    CCC_TRY(ccc_cbor_put_array(out, 4));
    CCC_TRY(ccc_cbor_put_bytes(out, prot.data, prot.size));
    if (p.kid.size) {
        CCC_TRY(ccc_cbor_put_map(out, 1));
        CCC_TRY(ccc_cbor_put_int(out, CCC_COSE_HDR_KID));
        CCC_TRY(ccc_cbor_put_bytes(out, p.kid.ptr, p.kid.size));
    } else {
        CCC_TRY(ccc_cbor_put_map(out, 0));
    }
    if (p.detached)
        CCC_TRY(ccc_cbor_put_null(out));
    else
        CCC_TRY(ccc_cbor_put_bytes(out, payload.ptr, payload.size));
    CCC_TRY(ccc_cbor_put_bytes(out, sig, a->sig_size));
out:
    if (st != CCC_OK)
        out->size = before;
    if (tbs.data)
        ccc_wipe(tbs.data, tbs.capacity);
    ccc_buf_wipe(&tbs);
    ccc_buf_wipe(&prot);
    ccc_wipe(sig, sizeof sig);
    return st;
}

ccc_status ccc_cose_key_read_pem(const char *path, bool private_key, EVP_PKEY **out)
{
    ccc_status st = CCC_OK;
    BIO *bio = NULL;
    ccc_buf pem;
    ccc_buf_init_secret(&pem, 64u * 1024u);
    *out = NULL;
    CCC_TRY(ccc_file_read(path, &pem));
    bio = BIO_new_mem_buf(pem.data, (int)pem.size);
    CCC_CHECK(bio != NULL, CCC_ERR_NOMEM, "out of memory");
    *out = private_key ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL)
                       : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    ERR_clear_error();
    CCC_CHECK(*out != NULL, CCC_ERR_PARSE, "file does not hold a PEM key");
out:
    BIO_free(bio);
    ccc_buf_wipe(&pem);
    return st;
}

ccc_status ccc_cose_key_write_pem(const char *path, EVP_PKEY *key, bool private_key)
{
    /* BIO_s_secmem: the PEM of a private key lives in the secure heap and is
     * cleansed when the BIO is freed. */
    BIO *bio = BIO_new(private_key ? BIO_s_secmem() : BIO_s_mem());
    CCC_ENSURE(bio, CCC_ERR_NOMEM, "out of memory");
    int ok = private_key ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
                         : PEM_write_bio_PUBKEY(bio, key);
    char *mem = NULL;
    long n = BIO_get_mem_data(bio, &mem);
    ccc_status st = ok == 1 && n > 0 ? ccc_file_write(path, mem, (size_t)n)
                                     : ccc_error_raise(CCC_ERR_CRYPTO, "cannot encode the key",
                                                       false, 0, __FILE__, __LINE__);
    ERR_clear_error();
    BIO_free(bio);
    return st;
}
