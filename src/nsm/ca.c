/* nsm: the simulated NSM's local CA (root → regional → zonal → instance). */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "cose/cose.h"
#include "nsm/nsm.h"
#include "x509/x509.h"

#define YEAR (365LL * 86400)

void ccc_nsm_ca_init(ccc_nsm_ca *ca)
{
    for (int i = 0; i < CCC_NSM_CA_LEVELS; i++) {
        ca->keys[i] = NULL;
        ccc_buf_init(&ca->certs[i], 16u * 1024u);
    }
}

void ccc_nsm_ca_wipe(ccc_nsm_ca *ca)
{
    for (int i = 0; i < CCC_NSM_CA_LEVELS; i++) {
        EVP_PKEY_free(ca->keys[i]);
        ca->keys[i] = NULL;
        ccc_buf_wipe(&ca->certs[i]);
    }
}

ccc_status ccc_nsm_pcr_extend(uint8_t pcr[static CCC_NSM_PCR_SIZE], ccc_bytes data)
{
    /* NSM ExtendPCR: "PCR = SHA384(PCR || data)". */
    uint8_t out[CCC_NSM_PCR_SIZE];
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md && EVP_DigestInit_ex(md, EVP_sha384(), NULL) == 1 &&
              EVP_DigestUpdate(md, pcr, CCC_NSM_PCR_SIZE) == 1 &&
              EVP_DigestUpdate(md, data.ptr, data.size) == 1 &&
              EVP_DigestFinal_ex(md, out, NULL) == 1;
    EVP_MD_CTX_free(md);
    CCC_ENSURE(ok, CCC_ERR_CRYPTO, "SHA-384 failed");
    memcpy(pcr, out, CCC_NSM_PCR_SIZE);
    return CCC_OK;
}

ccc_status ccc_nsm_ca_generate(ccc_nsm_ca *ca, int64_t not_before)
{
    static const char *const names[CCC_NSM_CA_LEVELS] = {
        "ccc-local.nitro-enclaves (simulated root)",
        "regional.ccc-local.nitro-enclaves",
        "zonal.ccc-local.nitro-enclaves",
        "instance.ccc-local.nitro-enclaves",
    };
    static const int64_t lifetimes[CCC_NSM_CA_LEVELS] = {20 * YEAR, 10 * YEAR, 5 * YEAR, YEAR};
    static const int path_lens[CCC_NSM_CA_LEVELS] = {-1, 2, 1, 0};
    ccc_status st = CCC_OK;
    ccc_nsm_ca_wipe(ca);
    ccc_nsm_ca_init(ca);
    for (int i = 0; i < CCC_NSM_CA_LEVELS; i++) {
        CCC_TRY(ccc_x509_p384_keygen(&ca->keys[i]));
        uint8_t rnd[8];
        uint64_t serial = 0;
        CCC_CHECK(RAND_bytes(rnd, sizeof rnd) == 1, CCC_ERR_CRYPTO, "no randomness");
        memcpy(&serial, rnd, sizeof serial);
        ccc_x509_issue_params p = {names[i], serial >> 1, not_before, not_before + lifetimes[i],
                                   true, path_lens[i]};
        EVP_PKEY *issuer = ca->keys[i == 0 ? 0 : i - 1];
        ccc_bytes issuer_der = i == 0 ? ccc_bytes_of(NULL, 0) : ccc_buf_bytes(&ca->certs[i - 1]);
        CCC_TRY(ccc_x509_issue(&p, ca->keys[i], issuer, issuer_der, &ca->certs[i]));
    }
out:
    if (st != CCC_OK)
        ccc_nsm_ca_wipe(ca);
    return st;
}

static ccc_status path_join(char *out, size_t size, const char *dir, const char *name, int n)
{
    int len = n >= 0 ? snprintf(out, size, "%s/%s-%d%s", dir, "ca", n, name)
                     : snprintf(out, size, "%s/%s", dir, name);
    CCC_ENSURE(len > 0 && (size_t)len < size, CCC_ERR_USAGE, "data directory path too long");
    return CCC_OK;
}

ccc_status ccc_nsm_ca_root_pem(const ccc_nsm_ca *ca, ccc_buf *out)
{
    ccc_status st = CCC_OK;
    const unsigned char *p = ca->certs[0].data;
    X509 *x = d2i_X509(NULL, &p, (long)ca->certs[0].size);
    BIO *bio = BIO_new(BIO_s_mem());
    CCC_CHECK(x && bio && PEM_write_bio_X509(bio, x) == 1, CCC_ERR_CRYPTO,
              "cannot write the root as PEM");
    char *mem = NULL;
    long n = BIO_get_mem_data(bio, &mem);
    CCC_TRY(ccc_buf_append(out, mem, (size_t)n));
out:
    ERR_clear_error();
    BIO_free(bio);
    X509_free(x);
    return st;
}

ccc_status ccc_nsm_ca_save(const ccc_nsm_ca *ca, const char *dir)
{
    ccc_status st = CCC_OK;
    char path[4096];
    ccc_buf pem;
    ccc_buf_init_secret(&pem, 64u * 1024u);
    CCC_TRY(ccc_nsm_ca_root_pem(ca, &pem));
    CCC_TRY(path_join(path, sizeof path, dir, "root.pem", -1));
    CCC_TRY(ccc_file_write(path, pem.data, pem.size));
    for (int i = 0; i < CCC_NSM_CA_LEVELS; i++) {
        CCC_TRY(path_join(path, sizeof path, dir, ".der", i));
        CCC_TRY(ccc_file_write(path, ca->certs[i].data, ca->certs[i].size));
        CCC_TRY(path_join(path, sizeof path, dir, ".key.pem", i));
        CCC_TRY(ccc_cose_key_write_pem(path, ca->keys[i], true)); /* mode 0600 */
    }
out:
    ERR_clear_error();
    ccc_buf_wipe(&pem);
    return st;
}

ccc_status ccc_nsm_ca_load(ccc_nsm_ca *ca, const char *dir)
{
    ccc_status st = CCC_OK;
    char path[4096];
    ccc_buf pem;
    ccc_buf_init_secret(&pem, 64u * 1024u);
    BIO *bio = NULL;
    X509 *x = NULL;
    ccc_nsm_ca_wipe(ca);
    ccc_nsm_ca_init(ca);
    for (int i = 0; i < CCC_NSM_CA_LEVELS; i++) {
        CCC_TRY(path_join(path, sizeof path, dir, ".der", i));
        CCC_TRY(ccc_file_read(path, &ca->certs[i]));
        CCC_TRY(path_join(path, sizeof path, dir, ".key.pem", i));
        ccc_buf_reset(&pem);
        CCC_TRY(ccc_file_read(path, &pem));
        bio = BIO_new_mem_buf(pem.data, (int)pem.size);
        CCC_CHECK(bio, CCC_ERR_NOMEM, "out of memory");
        ca->keys[i] = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        CCC_CHECK(ca->keys[i], CCC_ERR_PARSE, "CA key does not parse");
        BIO_free(bio);
        bio = NULL;
        const unsigned char *p = ca->certs[i].data;
        x = d2i_X509(NULL, &p, (long)ca->certs[i].size);
        CCC_CHECK(x, CCC_ERR_PARSE, "CA certificate does not parse");
        CCC_CHECK(X509_check_private_key(x, ca->keys[i]) == 1, CCC_ERR_CRYPTO,
                  "CA key does not match its certificate");
        X509_free(x);
        x = NULL;
    }
out:
    ERR_clear_error();
    X509_free(x);
    BIO_free(bio);
    ccc_buf_wipe(&pem);
    if (st != CCC_OK)
        ccc_nsm_ca_wipe(ca);
    return st;
}
