/* x509: chain verification to a pinned root at a caller-given time. */
#include "x509/x509.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

/* Longest chain we accept: leaf + 8 issuers (Nitro uses leaf + 4). */
#define CCC_X509_MAX_DEPTH 8
/* Largest single certificate we parse. */
#define CCC_X509_MAX_CERT_SIZE (16u * 1024u)

struct ccc_x509_root {
    X509 *cert;
    uint8_t *der;
    size_t der_size;
};

static const char *const error_names[CCC_X509_E_COUNT] = {
    [CCC_X509_E_NONE] = "CCC_X509_E_NONE",
    [CCC_X509_E_MALFORMED] = "CCC_X509_E_MALFORMED",
    [CCC_X509_E_EXPIRED] = "CCC_X509_E_EXPIRED",
    [CCC_X509_E_NOT_YET_VALID] = "CCC_X509_E_NOT_YET_VALID",
    [CCC_X509_E_UNTRUSTED_ROOT] = "CCC_X509_E_UNTRUSTED_ROOT",
    [CCC_X509_E_BAD_SIGNATURE] = "CCC_X509_E_BAD_SIGNATURE",
    [CCC_X509_E_NOT_CA] = "CCC_X509_E_NOT_CA",
    [CCC_X509_E_PATH_LENGTH] = "CCC_X509_E_PATH_LENGTH",
    [CCC_X509_E_CHAIN_ORDER] = "CCC_X509_E_CHAIN_ORDER",
    [CCC_X509_E_INVALID] = "CCC_X509_E_INVALID",
};

const char *ccc_x509_error_name(ccc_x509_error e)
{
    if ((unsigned)e >= CCC_X509_E_COUNT)
        return "CCC_X509_E_UNKNOWN";
    return error_names[e];
}

/* Parse exactly one DER certificate filling all of `der`. */
static X509 *parse_der(ccc_bytes der)
{
    if (der.size == 0 || der.size > CCC_X509_MAX_CERT_SIZE)
        return NULL;
    const unsigned char *p = der.ptr;
    X509 *x = d2i_X509(NULL, &p, (long)der.size);
    if (x && p != der.ptr + der.size) { /* trailing bytes */
        X509_free(x);
        x = NULL;
    }
    ERR_clear_error();
    return x;
}

static ccc_status root_adopt(X509 *cert, ccc_x509_root **out)
{
    ccc_status st = CCC_OK;
    ccc_x509_root *r = NULL;
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    CCC_CHECK(len > 0, CCC_ERR_PARSE, "root certificate does not re-encode");
    /* A trust anchor must be a self-issued CA certificate. */
    CCC_CHECK(X509_check_ca(cert) >= 1, CCC_ERR_PARSE, "root certificate is not a CA");
    CCC_CHECK(X509_check_issued(cert, cert) == X509_V_OK, CCC_ERR_PARSE,
              "root certificate is not self-issued");
    r = calloc(1, sizeof *r);
    CCC_CHECK(r, CCC_ERR_NOMEM, "out of memory");
    r->cert = cert;
    r->der = (uint8_t *)der;
    r->der_size = (size_t)len;
    *out = r;
    return CCC_OK;
out:
    OPENSSL_free(der);
    X509_free(cert);
    return st;
}

ccc_status ccc_x509_root_new_der(ccc_bytes der, ccc_x509_root **out)
{
    *out = NULL;
    X509 *x = parse_der(der);
    CCC_ENSURE(x, CCC_ERR_PARSE, "root certificate is not DER X.509");
    return root_adopt(x, out);
}

ccc_status ccc_x509_root_new_pem(ccc_bytes pem, ccc_x509_root **out)
{
    *out = NULL;
    CCC_ENSURE(pem.size > 0 && pem.size <= 4 * CCC_X509_MAX_CERT_SIZE, CCC_ERR_PARSE,
               "root PEM empty or too large");
    BIO *bio = BIO_new_mem_buf(pem.ptr, (int)pem.size);
    CCC_ENSURE(bio, CCC_ERR_NOMEM, "out of memory");
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    X509 *extra = x ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    ERR_clear_error();
    if (extra) {
        X509_free(extra);
        X509_free(x);
        CCC_BAIL(CCC_ERR_PARSE, "root PEM holds more than one certificate");
    }
    CCC_ENSURE(x, CCC_ERR_PARSE, "root PEM holds no certificate");
    return root_adopt(x, out);
}

void ccc_x509_root_free(ccc_x509_root *root)
{
    if (!root)
        return;
    X509_free(root->cert);
    OPENSSL_free(root->der);
    free(root);
}

void ccc_x509_root_sha256(const ccc_x509_root *root, uint8_t out[static 32])
{
    SHA256(root->der, root->der_size, out);
}

ccc_bytes ccc_x509_root_der(const ccc_x509_root *root)
{
    return ccc_bytes_of(root->der, root->der_size);
}

ccc_status ccc_x509_cert_pubkey(ccc_bytes der, EVP_PKEY **out)
{
    *out = NULL;
    X509 *x = parse_der(der);
    CCC_ENSURE(x, CCC_ERR_PARSE, "certificate is not DER X.509");
    EVP_PKEY *k = X509_get_pubkey(x);
    X509_free(x);
    ERR_clear_error();
    CCC_ENSURE(k, CCC_ERR_PARSE, "certificate public key does not parse");
    *out = k;
    return CCC_OK;
}

/* Map OpenSSL's verdict (RFC 5280 §6.1.3 checks) to our reasons. */
static ccc_x509_error map_verify_error(int err)
{
    switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return CCC_X509_E_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return CCC_X509_E_NOT_YET_VALID;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_REJECTED:
        return CCC_X509_E_UNTRUSTED_ROOT;
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
        return CCC_X509_E_BAD_SIGNATURE;
    case X509_V_ERR_INVALID_CA:
    case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
        return CCC_X509_E_NOT_CA;
    case X509_V_ERR_PATH_LENGTH_EXCEEDED:
        return CCC_X509_E_PATH_LENGTH;
    case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
    case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
        return CCC_X509_E_MALFORMED;
    default:
        return CCC_X509_E_INVALID;
    }
}

static ccc_status raise_for(ccc_x509_error why, int depth)
{
    switch (why) {
    case CCC_X509_E_EXPIRED:
        CCC_BAIL_NUM(CCC_ERR_CRYPTO, "certificate expired at the verification time, chain depth",
                     depth);
    case CCC_X509_E_NOT_YET_VALID:
        CCC_BAIL_NUM(CCC_ERR_CRYPTO,
                     "certificate not yet valid at the verification time, chain depth", depth);
    case CCC_X509_E_UNTRUSTED_ROOT:
        CCC_BAIL_NUM(CCC_ERR_CRYPTO, "chain does not lead to the pinned root, chain depth",
                     depth);
    case CCC_X509_E_BAD_SIGNATURE:
        CCC_BAIL_NUM(CCC_ERR_CRYPTO, "certificate signature does not verify, chain depth", depth);
    case CCC_X509_E_NOT_CA:
        CCC_BAIL_NUM(CCC_ERR_CRYPTO, "issuer is not a CA, chain depth", depth);
    case CCC_X509_E_PATH_LENGTH:
        CCC_BAIL_NUM(CCC_ERR_CRYPTO, "issuer path length constraint exceeded, chain depth",
                     depth);
    case CCC_X509_E_MALFORMED:
        CCC_BAIL_NUM(CCC_ERR_PARSE, "certificate validity field malformed, chain depth", depth);
    default:
        CCC_BAIL_NUM(CCC_ERR_CRYPTO, "certificate chain refused, chain depth", depth);
    }
}

/*
 * The chain OpenSSL built (leaf first, root last) must be exactly the leaf,
 * the given intermediates from the leaf side back, then the pinned root
 * (which may also be chain[0]).
 */
static bool chain_matches(STACK_OF(X509) *built, X509 *leaf, X509 *const *given,
                          size_t given_count, X509 *root)
{
    size_t start = 0;
    if (given_count > 0 && X509_cmp(given[0], root) == 0)
        start = 1; /* the bundle carries the root itself first */
    size_t expect = 1 + (given_count - start) + 1;
    if ((size_t)sk_X509_num(built) != expect)
        return false;
    if (X509_cmp(sk_X509_value(built, 0), leaf) != 0)
        return false;
    for (size_t i = 0; i + start < given_count; i++) {
        X509 *want = given[given_count - 1 - i];
        if (X509_cmp(sk_X509_value(built, (int)(1 + i)), want) != 0)
            return false;
    }
    return X509_cmp(sk_X509_value(built, (int)expect - 1), root) == 0;
}

ccc_status ccc_x509_chain_verify(const ccc_x509_root *root, ccc_bytes leaf_der,
                                 const ccc_bytes *chain, size_t chain_count, int64_t at_unix,
                                 ccc_x509_error *why, EVP_PKEY **leaf_key)
{
    ccc_status st = CCC_OK;
    X509 *leaf = NULL;
    X509 *given[CCC_X509_MAX_DEPTH] = {0};
    STACK_OF(X509) *untrusted = NULL;
    X509_STORE *store = NULL;
    X509_STORE_CTX *ctx = NULL;
    *why = CCC_X509_E_MALFORMED;
    if (leaf_key)
        *leaf_key = NULL;

    CCC_CHECK(root, CCC_ERR_USAGE, "no pinned root");
    CCC_CHECK(chain_count <= CCC_X509_MAX_DEPTH, CCC_ERR_LIMIT,
              "certificate chain longer than the limit");
    leaf = parse_der(leaf_der);
    CCC_CHECK(leaf, CCC_ERR_PARSE, "leaf certificate is not DER X.509");
    untrusted = sk_X509_new_null();
    CCC_CHECK(untrusted, CCC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < chain_count; i++) {
        given[i] = parse_der(chain[i]);
        if (!given[i])
            CCC_FAIL_NUM(CCC_ERR_PARSE, "chain certificate is not DER X.509, index", i);
        CCC_CHECK(sk_X509_push(untrusted, given[i]) > 0, CCC_ERR_NOMEM, "out of memory");
    }

    /* A store with the pinned root only: no X509_STORE_set_default_paths. */
    *why = CCC_X509_E_INVALID;
    store = X509_STORE_new();
    ctx = X509_STORE_CTX_new();
    CCC_CHECK(store && ctx, CCC_ERR_NOMEM, "out of memory");
    CCC_CHECK(X509_STORE_add_cert(store, root->cert) == 1, CCC_ERR_INTERNAL,
              "cannot add the pinned root");
    CCC_CHECK(X509_STORE_CTX_init(ctx, store, leaf, untrusted) == 1, CCC_ERR_INTERNAL,
              "cannot set up chain verification");
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(param, (time_t)at_unix);
    X509_VERIFY_PARAM_set_depth(param, CCC_X509_MAX_DEPTH);
    /* Not X509_V_FLAG_X509_STRICT: AWS Nitro leaf certificates carry no
     * authorityKeyIdentifier, which strict mode demands. CA:TRUE, keyUsage
     * keyCertSign and pathLenConstraint are enforced without it. */
    X509_VERIFY_PARAM_clear_flags(param, X509_V_FLAG_PARTIAL_CHAIN);

    int rc = X509_verify_cert(ctx);
    if (rc != 1) {
        int err = X509_STORE_CTX_get_error(ctx);
        int depth = X509_STORE_CTX_get_error_depth(ctx);
        ERR_clear_error();
        *why = map_verify_error(err);
        st = raise_for(*why, depth);
        goto out;
    }
    if (!chain_matches(X509_STORE_CTX_get0_chain(ctx), leaf, given, chain_count, root->cert)) {
        *why = CCC_X509_E_CHAIN_ORDER;
        CCC_FAIL(CCC_ERR_CRYPTO, "chain is valid only with other or reordered certificates");
    }
    if (leaf_key) {
        *leaf_key = X509_get_pubkey(leaf);
        if (!*leaf_key) {
            *why = CCC_X509_E_MALFORMED;
            CCC_FAIL(CCC_ERR_PARSE, "leaf public key does not parse");
        }
    }
    *why = CCC_X509_E_NONE;
out:
    ERR_clear_error();
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    sk_X509_free(untrusted);
    for (size_t i = 0; i < CCC_X509_MAX_DEPTH; i++)
        X509_free(given[i]);
    X509_free(leaf);
    return st;
}
