/* x509: issuing certificates for the local CA (simulated NSM) and tests. */
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "x509/x509.h"

static bool add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    if (!ext)
        return false;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1;
}

static bool set_name(X509_NAME *name, const char *cn)
{
    return X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC, (const unsigned char *)"US", -1,
                                      -1, 0) == 1 &&
           X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                      (const unsigned char *)"ccc-local", -1, -1, 0) == 1 &&
           X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_ASC,
                                      (const unsigned char *)"simulated-nsm", -1, -1, 0) == 1 &&
           X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
                                      -1, 0) == 1;
}

ccc_status ccc_x509_issue(const ccc_x509_issue_params *p, EVP_PKEY *subject_key,
                          EVP_PKEY *issuer_key, ccc_bytes issuer_der, ccc_buf *out)
{
    ccc_status st = CCC_OK;
    X509 *cert = NULL, *issuer = NULL;
    unsigned char *der = NULL;
    CCC_CHECK(p && p->common_name && subject_key && issuer_key, CCC_ERR_USAGE,
              "incomplete certificate parameters");
    CCC_CHECK(p->not_before <= p->not_after, CCC_ERR_USAGE, "validity ends before it starts");
    if (issuer_der.size > 0) {
        const unsigned char *q = issuer_der.ptr;
        issuer = d2i_X509(NULL, &q, (long)issuer_der.size);
        CCC_CHECK(issuer, CCC_ERR_PARSE, "issuer certificate is not DER X.509");
    }
    cert = X509_new();
    CCC_CHECK(cert, CCC_ERR_NOMEM, "out of memory");
    CCC_CHECK(X509_set_version(cert, X509_VERSION_3) == 1, CCC_ERR_CRYPTO, "set version");
    CCC_CHECK(ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), p->serial) == 1,
              CCC_ERR_CRYPTO, "set serial");
    CCC_CHECK(ASN1_TIME_set(X509_getm_notBefore(cert), (time_t)p->not_before) &&
                  ASN1_TIME_set(X509_getm_notAfter(cert), (time_t)p->not_after),
              CCC_ERR_CRYPTO, "set validity");
    CCC_CHECK(set_name(X509_get_subject_name(cert), p->common_name), CCC_ERR_CRYPTO,
              "set subject");
    if (issuer)
        CCC_CHECK(X509_set_issuer_name(cert, X509_get_subject_name(issuer)) == 1,
                  CCC_ERR_CRYPTO, "set issuer");
    else
        CCC_CHECK(X509_set_issuer_name(cert, X509_get_subject_name(cert)) == 1,
                  CCC_ERR_CRYPTO, "set issuer");
    CCC_CHECK(X509_set_pubkey(cert, subject_key) == 1, CCC_ERR_CRYPTO, "set public key");

    /* RFC 5280 §4.2.1: the extensions X509_V_FLAG_X509_STRICT expects. */
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer ? issuer : cert, cert, NULL, NULL, 0);
    char bc[48];
    if (p->is_ca && p->path_len >= 0)
        snprintf(bc, sizeof bc, "critical,CA:TRUE,pathlen:%d", p->path_len);
    else
        snprintf(bc, sizeof bc, "%s", p->is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    CCC_CHECK(add_ext(cert, &v3, NID_basic_constraints, bc) &&
                  add_ext(cert, &v3, NID_key_usage,
                          p->is_ca ? "critical,keyCertSign,cRLSign"
                                   : "critical,digitalSignature") &&
                  add_ext(cert, &v3, NID_subject_key_identifier, "hash") &&
                  add_ext(cert, &v3, NID_authority_key_identifier, "keyid:always"),
              CCC_ERR_CRYPTO, "cannot add certificate extensions");
    const EVP_MD *md = EVP_PKEY_get_id(issuer_key) == EVP_PKEY_ED25519 ? NULL : EVP_sha384();
    CCC_CHECK(X509_sign(cert, issuer_key, md) > 0, CCC_ERR_CRYPTO, "certificate signing failed");
    int len = i2d_X509(cert, &der);
    CCC_CHECK(len > 0, CCC_ERR_CRYPTO, "certificate encoding failed");
    CCC_TRY(ccc_buf_append(out, der, (size_t)len));
out:
    ERR_clear_error();
    OPENSSL_free(der);
    X509_free(cert);
    X509_free(issuer);
    return st;
}

ccc_status ccc_x509_p384_keygen(EVP_PKEY **out)
{
    *out = EVP_EC_gen("P-384");
    ERR_clear_error();
    CCC_ENSURE(*out, CCC_ERR_CRYPTO, "P-384 key generation failed");
    return CCC_OK;
}
