/*
 * RFC 9180 (HPKE) on OpenSSL 3.0: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
 * AES-128-GCM / AES-256-GCM / ChaCha20-Poly1305 / export-only; modes base,
 * psk, auth and auth_psk. See hpke.h for the contract.
 *
 * Every intermediate secret (DH outputs, labeled inputs, eae_prk, shared
 * secret, "secret", ephemeral keys) lives in a local buffer that the function
 * owning it cleanses at its single `out:` label, so no path leaves one behind.
 */
#include "hpke/hpke.h"

#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

/* "HPKE-v1" (§4: the version label of LabeledExtract/LabeledExpand). */
static const uint8_t hpke_v1[7] = {'H', 'P', 'K', 'E', '-', 'v', '1'};

/* Longest label used here ("shared_secret", "psk_id_hash", ...). */
#define LABEL_MAX 16
#define SUITE_ID_MAX 10
/* I2OSP(L,2) || "HPKE-v1" || suite_id || label || input */
#define LABELED_MAX (2 + sizeof hpke_v1 + SUITE_ID_MAX + LABEL_MAX + CCC_HPKE_MAX_LABEL_INPUT)

/* Largest chunk passed to one EVP_*Update call (its length is an int). */
#define EVP_CHUNK ((size_t)1 << 30)

/* A suite_id (§4 and §5.1): "KEM"||kem_id or "HPKE"||kem_id||kdf_id||aead_id. */
typedef struct suite_id {
    uint8_t bytes[SUITE_ID_MAX];
    size_t size;
} suite_id;

static suite_id kem_suite_id(uint16_t kem_id)
{
    /* §4.1: suite_id = concat("KEM", I2OSP(kem_id, 2)) */
    suite_id s = {{'K', 'E', 'M', (uint8_t)(kem_id >> 8), (uint8_t)kem_id}, 5};
    return s;
}

static suite_id hpke_suite_id(ccc_hpke_suite su)
{
    /* §5.1: suite_id = concat("HPKE", I2OSP(kem_id, 2), I2OSP(kdf_id, 2),
     *                         I2OSP(aead_id, 2)) */
    suite_id s = {{'H', 'P', 'K', 'E', (uint8_t)(su.kem_id >> 8), (uint8_t)su.kem_id,
                   (uint8_t)(su.kdf_id >> 8), (uint8_t)su.kdf_id, (uint8_t)(su.aead_id >> 8),
                   (uint8_t)su.aead_id},
                  10};
    return s;
}

/* ------------------------------------------------------------------------ */
/* Suites                                                                    */
/* ------------------------------------------------------------------------ */

size_t ccc_hpke_aead_key_size(uint16_t aead_id)
{
    switch (aead_id) {
    case CCC_HPKE_AEAD_AES_128_GCM:
        return 16;
    case CCC_HPKE_AEAD_AES_256_GCM:
    case CCC_HPKE_AEAD_CHACHA20_POLY1305:
        return 32;
    default:
        return 0;
    }
}

const char *ccc_hpke_aead_name(uint16_t aead_id)
{
    switch (aead_id) {
    case CCC_HPKE_AEAD_AES_128_GCM:
        return "AES-128-GCM";
    case CCC_HPKE_AEAD_AES_256_GCM:
        return "AES-256-GCM";
    case CCC_HPKE_AEAD_CHACHA20_POLY1305:
        return "ChaCha20-Poly1305";
    case CCC_HPKE_AEAD_EXPORT_ONLY:
        return "export-only";
    default:
        return "unknown";
    }
}

static const EVP_CIPHER *aead_cipher(uint16_t aead_id)
{
    switch (aead_id) {
    case CCC_HPKE_AEAD_AES_128_GCM:
        return EVP_aes_128_gcm();
    case CCC_HPKE_AEAD_AES_256_GCM:
        return EVP_aes_256_gcm();
    case CCC_HPKE_AEAD_CHACHA20_POLY1305:
        return EVP_chacha20_poly1305();
    default:
        return NULL;
    }
}

ccc_status ccc_hpke_suite_check(ccc_hpke_suite suite)
{
    CCC_ENSURE(suite.kem_id == CCC_HPKE_KEM_X25519_SHA256, CCC_ERR_UNSUPPORTED,
               "unsupported HPKE KEM");
    CCC_ENSURE(suite.kdf_id == CCC_HPKE_KDF_HKDF_SHA256, CCC_ERR_UNSUPPORTED,
               "unsupported HPKE KDF");
    CCC_ENSURE(suite.aead_id == CCC_HPKE_AEAD_EXPORT_ONLY ||
                   ccc_hpke_aead_key_size(suite.aead_id) != 0,
               CCC_ERR_UNSUPPORTED, "unsupported HPKE AEAD");
    return CCC_OK;
}

/* ------------------------------------------------------------------------ */
/* HKDF through EVP_KDF (RFC 5869; modes EXTRACT_ONLY / EXPAND_ONLY)         */
/* ------------------------------------------------------------------------ */

/* A non-NULL pointer for empty octet strings (OpenSSL wants one). */
static const uint8_t empty_octets[1];

static ccc_status hkdf_run(int mode, const uint8_t *key, size_t key_size, ccc_bytes salt,
                           ccc_bytes info, uint8_t *out, size_t out_size)
{
    ccc_status st = CCC_OK;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    CCC_CHECK(kctx != NULL, CCC_ERR_INTERNAL, "HKDF unavailable");
    OSSL_PARAM params[6];
    size_t n = 0;
    char digest[] = "SHA256";
    params[n++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
    params[n++] = OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_KEY, (void *)(key_size ? key : empty_octets), key_size);
    if (salt.size > 0)
        params[n++] =
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt.ptr, salt.size);
    if (info.size > 0)
        params[n++] =
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info.ptr, info.size);
    params[n] = OSSL_PARAM_construct_end();
    CCC_CHECK(EVP_KDF_derive(kctx, out, out_size, params) == 1, CCC_ERR_INTERNAL, "HKDF failed");
out:
    EVP_KDF_CTX_free(kctx); /* frees (and clears) its copies of key/salt */
    EVP_KDF_free(kdf);
    if (st != CCC_OK)
        OPENSSL_cleanse(out, out_size);
    return st;
}

ccc_status ccc_hpke_kdf_extract(uint16_t kdf_id, ccc_bytes salt, ccc_bytes ikm,
                                uint8_t prk[static CCC_HPKE_SECRET_SIZE])
{
    CCC_ENSURE(kdf_id == CCC_HPKE_KDF_HKDF_SHA256, CCC_ERR_UNSUPPORTED, "unsupported HPKE KDF");
    return hkdf_run(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, ikm.ptr, ikm.size, salt, ccc_bytes_of(NULL, 0),
                    prk, CCC_HPKE_SECRET_SIZE);
}

ccc_status ccc_hpke_kdf_expand(uint16_t kdf_id, const uint8_t prk[static CCC_HPKE_SECRET_SIZE],
                               ccc_bytes info, uint8_t *out, size_t out_size)
{
    CCC_ENSURE(kdf_id == CCC_HPKE_KDF_HKDF_SHA256, CCC_ERR_UNSUPPORTED, "unsupported HPKE KDF");
    CCC_ENSURE(out_size > 0 && out_size <= 255 * CCC_HPKE_SECRET_SIZE, CCC_ERR_USAGE,
               "HKDF-Expand length out of range");
    return hkdf_run(EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, CCC_HPKE_SECRET_SIZE, ccc_bytes_of(NULL, 0),
                    info, out, out_size);
}

/*
 * §4:
 *   def LabeledExtract(salt, label, ikm):
 *     labeled_ikm = concat("HPKE-v1", suite_id, label, ikm)
 *     return Extract(salt, labeled_ikm)
 */
static ccc_status labeled_extract(const suite_id *sid, ccc_bytes salt, const char *label,
                                  ccc_bytes ikm, uint8_t prk[static CCC_HPKE_SECRET_SIZE])
{
    ccc_status st = CCC_OK;
    uint8_t buf[LABELED_MAX];
    size_t label_size = strlen(label), n = 0;
    CCC_CHECK(label_size <= LABEL_MAX, CCC_ERR_INTERNAL, "label too long");
    CCC_CHECK(ikm.size <= CCC_HPKE_MAX_LABEL_INPUT, CCC_ERR_LIMIT, "HPKE input too long");
    memcpy(buf + n, hpke_v1, sizeof hpke_v1), n += sizeof hpke_v1;
    memcpy(buf + n, sid->bytes, sid->size), n += sid->size;
    memcpy(buf + n, label, label_size), n += label_size;
    if (ikm.size)
        memcpy(buf + n, ikm.ptr, ikm.size), n += ikm.size;
    CCC_TRY(hkdf_run(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, buf, n, salt, ccc_bytes_of(NULL, 0), prk,
                     CCC_HPKE_SECRET_SIZE));
out:
    OPENSSL_cleanse(buf, sizeof buf);
    return st;
}

/*
 * §4:
 *   def LabeledExpand(prk, label, info, L):
 *     labeled_info = concat(I2OSP(L, 2), "HPKE-v1", suite_id, label, info)
 *     return Expand(prk, labeled_info, L)
 */
static ccc_status labeled_expand(const suite_id *sid,
                                 const uint8_t prk[static CCC_HPKE_SECRET_SIZE], const char *label,
                                 ccc_bytes info, uint8_t *out, size_t out_size)
{
    ccc_status st = CCC_OK;
    uint8_t buf[LABELED_MAX];
    size_t label_size = strlen(label), n = 0;
    CCC_CHECK(label_size <= LABEL_MAX, CCC_ERR_INTERNAL, "label too long");
    CCC_CHECK(info.size <= CCC_HPKE_MAX_LABEL_INPUT, CCC_ERR_LIMIT, "HPKE input too long");
    CCC_CHECK(out_size > 0 && out_size <= CCC_HPKE_MAX_EXPORT_SIZE, CCC_ERR_USAGE,
              "HPKE expand length out of range");
    buf[n++] = (uint8_t)(out_size >> 8);
    buf[n++] = (uint8_t)out_size;
    memcpy(buf + n, hpke_v1, sizeof hpke_v1), n += sizeof hpke_v1;
    memcpy(buf + n, sid->bytes, sid->size), n += sid->size;
    memcpy(buf + n, label, label_size), n += label_size;
    if (info.size)
        memcpy(buf + n, info.ptr, info.size), n += info.size;
    CCC_TRY(hkdf_run(EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, CCC_HPKE_SECRET_SIZE,
                     ccc_bytes_of(NULL, 0), ccc_bytes_of(buf, n), out, out_size));
out:
    OPENSSL_cleanse(buf, sizeof buf);
    return st;
}

/* ------------------------------------------------------------------------ */
/* X25519 (DHKEM §4.1, §7.1)                                                 */
/* ------------------------------------------------------------------------ */

static ccc_status x25519_public(const uint8_t sk[static 32], uint8_t pk[static 32])
{
    ccc_status st = CCC_OK;
    size_t len = CCC_HPKE_X25519_SIZE;
    EVP_PKEY *key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, 32);
    CCC_CHECK(key != NULL, CCC_ERR_CRYPTO, "invalid X25519 private key");
    CCC_CHECK(EVP_PKEY_get_raw_public_key(key, pk, &len) == 1 && len == 32, CCC_ERR_INTERNAL,
              "X25519 public key");
out:
    EVP_PKEY_free(key); /* clears its copy of sk */
    return st;
}

/* dh = DH(sk, pk) (§4.1); an all-zero result is an error (§7.1.4). */
static ccc_status x25519_dh(const uint8_t sk[static 32], const uint8_t pk[static 32],
                            uint8_t dh[static 32])
{
    ccc_status st = CCC_OK;
    size_t len = CCC_HPKE_X25519_SIZE;
    EVP_PKEY *priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, 32);
    EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pk, 32);
    EVP_PKEY_CTX *pctx = priv ? EVP_PKEY_CTX_new(priv, NULL) : NULL;
    CCC_CHECK(priv && peer && pctx, CCC_ERR_CRYPTO, "invalid X25519 key");
    CCC_CHECK(EVP_PKEY_derive_init(pctx) == 1 && EVP_PKEY_derive_set_peer(pctx, peer) == 1,
              CCC_ERR_CRYPTO, "X25519 key agreement refused");
    /* OpenSSL itself refuses an all-zero X25519 output. */
    CCC_CHECK(EVP_PKEY_derive(pctx, dh, &len) == 1 && len == 32, CCC_ERR_CRYPTO,
              "X25519 key agreement failed");
    /* §7.1.4: "MUST check whether the resulting shared secret is the all-zero
     * value and abort if so" — checked again here, in constant time. */
    uint8_t acc = 0;
    for (size_t i = 0; i < 32; i++)
        acc |= dh[i];
    CCC_CHECK(acc != 0, CCC_ERR_CRYPTO, "X25519 shared secret is zero");
out:
    EVP_PKEY_CTX_free(pctx);
    EVP_PKEY_free(priv);
    EVP_PKEY_free(peer);
    if (st != CCC_OK)
        OPENSSL_cleanse(dh, 32);
    return st;
}

void ccc_hpke_keypair_wipe(ccc_hpke_keypair *kp)
{
    if (kp)
        OPENSSL_cleanse(kp, sizeof *kp);
}

ccc_status ccc_hpke_keypair_from_private(ccc_hpke_keypair *kp, const uint8_t sk[static 32])
{
    ccc_status st = CCC_OK;
    memmove(kp->sk, sk, 32);
    CCC_TRY(x25519_public(kp->sk, kp->pk));
out:
    if (st != CCC_OK)
        ccc_hpke_keypair_wipe(kp);
    return st;
}

ccc_status ccc_hpke_keypair_generate(ccc_hpke_keypair *kp)
{
    uint8_t sk[32];
    ccc_status st = CCC_OK;
    CCC_CHECK(RAND_priv_bytes(sk, sizeof sk) == 1, CCC_ERR_INTERNAL, "random generator failed");
    CCC_TRY(ccc_hpke_keypair_from_private(kp, sk));
out:
    OPENSSL_cleanse(sk, sizeof sk);
    if (st != CCC_OK)
        ccc_hpke_keypair_wipe(kp);
    return st;
}

/*
 * §7.1.3:
 *   def DeriveKeyPair(ikm):
 *     dkp_prk = LabeledExtract("", "dkp_prk", ikm)
 *     sk = LabeledExpand(dkp_prk, "sk", "", Nsk)
 *     return (sk, pk(sk))
 */
ccc_status ccc_hpke_keypair_derive(ccc_hpke_keypair *kp, ccc_bytes ikm)
{
    ccc_status st = CCC_OK;
    uint8_t prk[CCC_HPKE_SECRET_SIZE], sk[32];
    suite_id sid = kem_suite_id(CCC_HPKE_KEM_X25519_SHA256);
    /* §7.1.3: "ikm ... SHOULD have at least Nsk bytes of entropy". */
    CCC_CHECK(ikm.size >= 32, CCC_ERR_USAGE, "DeriveKeyPair ikm shorter than Nsk");
    CCC_TRY(labeled_extract(&sid, ccc_bytes_of(NULL, 0), "dkp_prk", ikm, prk));
    CCC_TRY(labeled_expand(&sid, prk, "sk", ccc_bytes_of(NULL, 0), sk, sizeof sk));
    CCC_TRY(ccc_hpke_keypair_from_private(kp, sk));
out:
    OPENSSL_cleanse(prk, sizeof prk);
    OPENSSL_cleanse(sk, sizeof sk);
    if (st != CCC_OK)
        ccc_hpke_keypair_wipe(kp);
    return st;
}

/*
 * §4.1:
 *   def ExtractAndExpand(dh, kem_context):
 *     eae_prk = LabeledExtract("", "eae_prk", dh)
 *     shared_secret = LabeledExpand(eae_prk, "shared_secret", kem_context, Nsecret)
 */
static ccc_status extract_and_expand(ccc_bytes dh, ccc_bytes kem_context,
                                     uint8_t shared[static CCC_HPKE_SECRET_SIZE])
{
    ccc_status st = CCC_OK;
    uint8_t eae_prk[CCC_HPKE_SECRET_SIZE];
    suite_id sid = kem_suite_id(CCC_HPKE_KEM_X25519_SHA256);
    CCC_TRY(labeled_extract(&sid, ccc_bytes_of(NULL, 0), "eae_prk", dh, eae_prk));
    CCC_TRY(
        labeled_expand(&sid, eae_prk, "shared_secret", kem_context, shared, CCC_HPKE_SECRET_SIZE));
out:
    OPENSSL_cleanse(eae_prk, sizeof eae_prk);
    return st;
}

/*
 * §4.1 Encap / AuthEncap (sender != NULL):
 *   dh = DH(skE, pkR)                     [ || DH(skS, pkR) ]
 *   enc = SerializePublicKey(pkE)
 *   kem_context = concat(enc, pkRm)       [ || pkSm ]
 *   shared_secret = ExtractAndExpand(dh, kem_context)
 */
static ccc_status kem_encap(const uint8_t pk_r[static 32], const ccc_hpke_keypair *eph,
                            const ccc_hpke_keypair *sender,
                            uint8_t shared[static CCC_HPKE_SECRET_SIZE],
                            uint8_t enc[static CCC_HPKE_ENC_SIZE])
{
    ccc_status st = CCC_OK;
    uint8_t dh[64], kem_context[96];
    size_t dh_size = 32, ctx_size = 64;
    CCC_TRY(x25519_dh(eph->sk, pk_r, dh));
    if (sender) {
        CCC_TRY(x25519_dh(sender->sk, pk_r, dh + 32));
        dh_size = 64;
    }
    memcpy(kem_context, eph->pk, 32);
    memcpy(kem_context + 32, pk_r, 32);
    if (sender) {
        memcpy(kem_context + 64, sender->pk, 32);
        ctx_size = 96;
    }
    CCC_TRY(
        extract_and_expand(ccc_bytes_of(dh, dh_size), ccc_bytes_of(kem_context, ctx_size), shared));
    memcpy(enc, eph->pk, CCC_HPKE_ENC_SIZE);
out:
    OPENSSL_cleanse(dh, sizeof dh);
    return st;
}

/*
 * §4.1 Decap / AuthDecap (sender_pk != NULL):
 *   dh = DH(skR, pkE)                     [ || DH(skR, pkS) ]
 *   kem_context = concat(enc, pkRm)       [ || pkSm ]
 */
static ccc_status kem_decap(const uint8_t enc[static CCC_HPKE_ENC_SIZE],
                            const ccc_hpke_keypair *kp_r, const uint8_t *sender_pk,
                            uint8_t shared[static CCC_HPKE_SECRET_SIZE])
{
    ccc_status st = CCC_OK;
    uint8_t dh[64], kem_context[96];
    size_t dh_size = 32, ctx_size = 64;
    CCC_TRY(x25519_dh(kp_r->sk, enc, dh));
    if (sender_pk) {
        CCC_TRY(x25519_dh(kp_r->sk, sender_pk, dh + 32));
        dh_size = 64;
    }
    memcpy(kem_context, enc, 32);
    memcpy(kem_context + 32, kp_r->pk, 32);
    if (sender_pk) {
        memcpy(kem_context + 64, sender_pk, 32);
        ctx_size = 96;
    }
    CCC_TRY(
        extract_and_expand(ccc_bytes_of(dh, dh_size), ccc_bytes_of(kem_context, ctx_size), shared));
out:
    OPENSSL_cleanse(dh, sizeof dh);
    return st;
}

/* ------------------------------------------------------------------------ */
/* AEAD core                                                                 */
/* ------------------------------------------------------------------------ */

/* A cipher context keyed for one direction (enc = 1 seal, 0 open). */
static ccc_status aead_new(uint16_t aead_id, const uint8_t *key, int enc, EVP_CIPHER_CTX **out)
{
    const EVP_CIPHER *cipher = aead_cipher(aead_id);
    *out = NULL;
    CCC_ENSURE(cipher != NULL, CCC_ERR_UNSUPPORTED, "unsupported HPKE AEAD");
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    CCC_ENSURE(c != NULL, CCC_ERR_NOMEM, "cipher context");
    /* GCM and ChaCha20-Poly1305 default to a 96-bit nonce (Nn = 12). */
    if (EVP_CipherInit_ex(c, cipher, NULL, key, NULL, enc) != 1) {
        EVP_CIPHER_CTX_free(c);
        CCC_BAIL(CCC_ERR_INTERNAL, "cipher init failed");
    }
    *out = c;
    return CCC_OK;
}

/* Feed `size` bytes through EVP_CipherUpdate in int-sized chunks. */
static bool aead_update(EVP_CIPHER_CTX *c, uint8_t *out, const uint8_t *in, size_t size)
{
    while (size > 0) {
        size_t chunk = size < EVP_CHUNK ? size : EVP_CHUNK;
        int len = 0;
        if (EVP_CipherUpdate(c, out, &len, in, (int)chunk) != 1 || (size_t)len != chunk)
            return false;
        if (out)
            out += chunk;
        in += chunk;
        size -= chunk;
    }
    return true;
}

/*
 * One seal (enc) or open on a keyed context: in_size payload bytes (without
 * the tag) from in to out; the tag is written to / read from `tag`.
 */
static ccc_status aead_run(EVP_CIPHER_CTX *c, int enc, const uint8_t nonce[static 12],
                           ccc_bytes aad, const uint8_t *in, size_t in_size, uint8_t *out,
                           uint8_t *tag)
{
    int len = 0;
    uint8_t dummy[1];
    CCC_ENSURE(EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, enc) == 1, CCC_ERR_INTERNAL,
               "cipher nonce");
    if (aad.size > 0)
        CCC_ENSURE(aead_update(c, NULL, aad.ptr, aad.size), CCC_ERR_INTERNAL, "AEAD aad");
    if (in_size > 0)
        CCC_ENSURE(aead_update(c, out, in, in_size), CCC_ERR_INTERNAL, "AEAD update");
    if (enc) {
        CCC_ENSURE(EVP_CipherFinal_ex(c, dummy, &len) == 1 && len == 0, CCC_ERR_INTERNAL,
                   "AEAD final");
        CCC_ENSURE(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, CCC_HPKE_TAG_SIZE, tag) == 1,
                   CCC_ERR_INTERNAL, "AEAD tag");
        return CCC_OK;
    }
    CCC_ENSURE(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, CCC_HPKE_TAG_SIZE, tag) == 1,
               CCC_ERR_INTERNAL, "AEAD tag");
    /* The tag comparison happens in here (constant time, inside OpenSSL). */
    CCC_ENSURE(EVP_CipherFinal_ex(c, dummy, &len) == 1 && len == 0, CCC_ERR_CRYPTO,
               "AEAD authentication failed");
    return CCC_OK;
}

static ccc_status aead_seal_with(EVP_CIPHER_CTX *c, const uint8_t nonce[static 12], ccc_bytes aad,
                                 const uint8_t *pt, size_t pt_size, uint8_t *out, size_t out_max,
                                 size_t *out_size)
{
    *out_size = 0;
    CCC_ENSURE(pt_size <= SIZE_MAX - CCC_HPKE_TAG_SIZE && out_max >= pt_size + CCC_HPKE_TAG_SIZE,
               CCC_ERR_LIMIT, "output buffer too small");
    CCC_ENSURE(pt_size == 0 || pt != NULL, CCC_ERR_USAGE, "missing plaintext");
    ccc_status st = aead_run(c, 1, nonce, aad, pt, pt_size, out, out + pt_size);
    if (st != CCC_OK) {
        OPENSSL_cleanse(out, pt_size + CCC_HPKE_TAG_SIZE);
        return st;
    }
    *out_size = pt_size + CCC_HPKE_TAG_SIZE;
    return CCC_OK;
}

static ccc_status aead_open_with(EVP_CIPHER_CTX *c, const uint8_t nonce[static 12], ccc_bytes aad,
                                 const uint8_t *ct, size_t ct_size, uint8_t *out, size_t out_max,
                                 size_t *out_size)
{
    *out_size = 0;
    CCC_ENSURE(ct_size >= CCC_HPKE_TAG_SIZE && ct != NULL, CCC_ERR_PARSE,
               "ciphertext shorter than the AEAD tag");
    size_t pt_size = ct_size - CCC_HPKE_TAG_SIZE;
    CCC_ENSURE(out_max >= pt_size, CCC_ERR_LIMIT, "output buffer too small");
    /* The tag is copied first: with in-place open, out overwrites ct. */
    uint8_t tag[CCC_HPKE_TAG_SIZE];
    memcpy(tag, ct + pt_size, sizeof tag);
    ccc_status st = aead_run(c, 0, nonce, aad, ct, pt_size, out, tag);
    if (st != CCC_OK) {
        /* No unauthenticated plaintext leaves: zero what was decrypted. */
        if (pt_size)
            OPENSSL_cleanse(out, pt_size);
        return st;
    }
    *out_size = pt_size;
    return CCC_OK;
}

ccc_status ccc_hpke_aead_seal(uint16_t aead_id, const uint8_t *key,
                              const uint8_t nonce[static CCC_HPKE_NONCE_SIZE], ccc_bytes aad,
                              const uint8_t *pt, size_t pt_size, uint8_t *out, size_t out_max,
                              size_t *out_size)
{
    EVP_CIPHER_CTX *c = NULL;
    *out_size = 0;
    CCC_GUARD(aead_new(aead_id, key, 1, &c));
    ccc_status st = aead_seal_with(c, nonce, aad, pt, pt_size, out, out_max, out_size);
    EVP_CIPHER_CTX_free(c); /* cleanses the key schedule */
    return st;
}

ccc_status ccc_hpke_aead_open(uint16_t aead_id, const uint8_t *key,
                              const uint8_t nonce[static CCC_HPKE_NONCE_SIZE], ccc_bytes aad,
                              const uint8_t *ct, size_t ct_size, uint8_t *out, size_t out_max,
                              size_t *out_size)
{
    EVP_CIPHER_CTX *c = NULL;
    *out_size = 0;
    CCC_GUARD(aead_new(aead_id, key, 0, &c));
    ccc_status st = aead_open_with(c, nonce, aad, ct, ct_size, out, out_max, out_size);
    EVP_CIPHER_CTX_free(c);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Context: key schedule (§5.1), seal/open (§5.2), export (§5.3)             */
/* ------------------------------------------------------------------------ */

void ccc_hpke_ctx_init(ccc_hpke_ctx *ctx) { memset(ctx, 0, sizeof *ctx); }

void ccc_hpke_ctx_wipe(ccc_hpke_ctx *ctx)
{
    if (!ctx)
        return;
    EVP_CIPHER_CTX_free(ctx->cipher); /* OpenSSL cleanses the AES/ChaCha key state */
    OPENSSL_cleanse(ctx, sizeof *ctx);
}

/*
 * §5.1:
 *   def VerifyPSKInputs(mode, psk, psk_id):
 *     got_psk = (psk != default_psk)
 *     got_psk_id = (psk_id != default_psk_id)
 *     if got_psk != got_psk_id: raise Exception("Inconsistent PSK inputs")
 *     if got_psk and (mode in [mode_base, mode_auth]):
 *       raise Exception("PSK input provided when not needed")
 *     if (not got_psk) and (mode in [mode_psk, mode_auth_psk]):
 *       raise Exception("Missing required PSK input")
 */
static ccc_status verify_psk_inputs(const ccc_hpke_setup_opts *o)
{
    bool got_psk = o->psk.size != 0, got_psk_id = o->psk_id.size != 0;
    bool psk_mode = o->mode == CCC_HPKE_MODE_PSK || o->mode == CCC_HPKE_MODE_AUTH_PSK;
    CCC_ENSURE(got_psk == got_psk_id, CCC_ERR_USAGE, "inconsistent PSK inputs");
    CCC_ENSURE(!(got_psk && !psk_mode), CCC_ERR_USAGE, "PSK input provided when not needed");
    CCC_ENSURE(!(!got_psk && psk_mode), CCC_ERR_USAGE, "missing required PSK input");
    /* §5.1.2: "The PSK MUST have at least 32 bytes of entropy". */
    CCC_ENSURE(!got_psk || o->psk.size >= 32, CCC_ERR_USAGE, "PSK shorter than 32 bytes");
    return CCC_OK;
}

static ccc_status check_opts(ccc_hpke_suite suite, const ccc_hpke_setup_opts *o, bool sender)
{
    CCC_GUARD(ccc_hpke_suite_check(suite));
    CCC_ENSURE(o != NULL, CCC_ERR_USAGE, "missing HPKE options");
    CCC_ENSURE(o->mode <= CCC_HPKE_MODE_AUTH_PSK, CCC_ERR_UNSUPPORTED, "unknown HPKE mode");
    CCC_GUARD(verify_psk_inputs(o));
    bool auth = o->mode == CCC_HPKE_MODE_AUTH || o->mode == CCC_HPKE_MODE_AUTH_PSK;
    if (sender)
        CCC_ENSURE(auth == (o->sender_kp != NULL), CCC_ERR_USAGE,
                   "sender key pair required exactly in auth modes");
    else
        CCC_ENSURE(auth == (o->sender_pk != NULL), CCC_ERR_USAGE,
                   "sender public key required exactly in auth modes");
    CCC_ENSURE(o->info.size <= CCC_HPKE_MAX_LABEL_INPUT &&
                   o->psk.size <= CCC_HPKE_MAX_LABEL_INPUT &&
                   o->psk_id.size <= CCC_HPKE_MAX_LABEL_INPUT,
               CCC_ERR_LIMIT, "HPKE info or PSK too long");
    return CCC_OK;
}

/*
 * §5.1:
 *   def KeySchedule<ROLE>(mode, shared_secret, info, psk, psk_id):
 *     VerifyPSKInputs(mode, psk, psk_id)
 *     psk_id_hash = LabeledExtract("", "psk_id_hash", psk_id)
 *     info_hash = LabeledExtract("", "info_hash", info)
 *     key_schedule_context = concat(mode, psk_id_hash, info_hash)
 *     secret = LabeledExtract(shared_secret, "secret", psk)
 *     key = LabeledExpand(secret, "key", key_schedule_context, Nk)
 *     base_nonce = LabeledExpand(secret, "base_nonce", key_schedule_context, Nn)
 *     exporter_secret = LabeledExpand(secret, "exp", key_schedule_context, Nh)
 */
static ccc_status key_schedule(ccc_hpke_ctx *ctx, ccc_hpke_suite suite, ccc_hpke_role role,
                               const uint8_t shared[static CCC_HPKE_SECRET_SIZE],
                               const ccc_hpke_setup_opts *o)
{
    ccc_status st = CCC_OK;
    uint8_t ksc[1 + 2 * CCC_HPKE_SECRET_SIZE], secret[CCC_HPKE_SECRET_SIZE];
    suite_id sid = hpke_suite_id(suite);
    ccc_bytes none = ccc_bytes_of(NULL, 0), ksc_bytes = ccc_bytes_of(ksc, sizeof ksc);
    size_t nk = ccc_hpke_aead_key_size(suite.aead_id);

    ccc_hpke_ctx_wipe(ctx);
    ksc[0] = (uint8_t)o->mode;
    CCC_TRY(labeled_extract(&sid, none, "psk_id_hash", o->psk_id, ksc + 1));
    CCC_TRY(labeled_extract(&sid, none, "info_hash", o->info, ksc + 1 + CCC_HPKE_SECRET_SIZE));
    CCC_TRY(labeled_extract(&sid, ccc_bytes_of(shared, CCC_HPKE_SECRET_SIZE), "secret", o->psk,
                            secret));
    if (suite.aead_id != CCC_HPKE_AEAD_EXPORT_ONLY) {
        CCC_TRY(labeled_expand(&sid, secret, "key", ksc_bytes, ctx->key, nk));
        CCC_TRY(labeled_expand(&sid, secret, "base_nonce", ksc_bytes, ctx->base_nonce,
                               CCC_HPKE_NONCE_SIZE));
        EVP_CIPHER_CTX *c = NULL;
        CCC_TRY(aead_new(suite.aead_id, ctx->key, role == CCC_HPKE_ROLE_SENDER, &c));
        ctx->cipher = c;
    }
    CCC_TRY(
        labeled_expand(&sid, secret, "exp", ksc_bytes, ctx->exporter_secret, CCC_HPKE_SECRET_SIZE));
    ctx->suite = suite;
    ctx->role = role;
    ctx->seq = 0;
    if (o->trace) {
        memcpy(o->trace->shared_secret, shared, CCC_HPKE_SECRET_SIZE);
        memcpy(o->trace->key_schedule_context, ksc, sizeof ksc);
        memcpy(o->trace->secret, secret, sizeof secret);
    }
out:
    OPENSSL_cleanse(ksc, sizeof ksc);
    OPENSSL_cleanse(secret, sizeof secret);
    if (st != CCC_OK)
        ccc_hpke_ctx_wipe(ctx);
    return st;
}

ccc_status ccc_hpke_ctx_setup_sender_derand_insecure(ccc_hpke_ctx *ctx, ccc_hpke_suite suite,
                                                     const uint8_t pk_r[static 32],
                                                     const ccc_hpke_setup_opts *opts,
                                                     const ccc_hpke_keypair *ephemeral,
                                                     uint8_t enc[static CCC_HPKE_ENC_SIZE])
{
    ccc_status st = CCC_OK;
    uint8_t shared[CCC_HPKE_SECRET_SIZE];
    ccc_hpke_ctx_wipe(ctx);
    CCC_TRY(check_opts(suite, opts, true));
    CCC_CHECK(ephemeral != NULL, CCC_ERR_USAGE, "missing ephemeral key");
    CCC_TRY(kem_encap(pk_r, ephemeral, opts->sender_kp, shared, enc));
    CCC_TRY(key_schedule(ctx, suite, CCC_HPKE_ROLE_SENDER, shared, opts));
out:
    OPENSSL_cleanse(shared, sizeof shared);
    if (st != CCC_OK)
        ccc_hpke_ctx_wipe(ctx);
    return st;
}

ccc_status ccc_hpke_ctx_setup_sender(ccc_hpke_ctx *ctx, ccc_hpke_suite suite,
                                     const uint8_t pk_r[static 32], const ccc_hpke_setup_opts *opts,
                                     uint8_t enc[static CCC_HPKE_ENC_SIZE])
{
    ccc_status st = CCC_OK;
    ccc_hpke_keypair eph;
    memset(&eph, 0, sizeof eph);
    ccc_hpke_ctx_wipe(ctx);
    /* §4.1 Encap: skE, pkE = GenerateKeyPair() */
    CCC_TRY(ccc_hpke_keypair_generate(&eph));
    CCC_TRY(ccc_hpke_ctx_setup_sender_derand_insecure(ctx, suite, pk_r, opts, &eph, enc));
out:
    ccc_hpke_keypair_wipe(&eph);
    return st;
}

ccc_status ccc_hpke_ctx_setup_receiver(ccc_hpke_ctx *ctx, ccc_hpke_suite suite,
                                       const ccc_hpke_keypair *kp_r,
                                       const uint8_t enc[static CCC_HPKE_ENC_SIZE],
                                       const ccc_hpke_setup_opts *opts)
{
    ccc_status st = CCC_OK;
    uint8_t shared[CCC_HPKE_SECRET_SIZE];
    ccc_hpke_ctx_wipe(ctx);
    CCC_TRY(check_opts(suite, opts, false));
    CCC_CHECK(kp_r != NULL, CCC_ERR_USAGE, "missing recipient key");
    CCC_TRY(kem_decap(enc, kp_r, opts->sender_pk, shared));
    CCC_TRY(key_schedule(ctx, suite, CCC_HPKE_ROLE_RECEIVER, shared, opts));
out:
    OPENSSL_cleanse(shared, sizeof shared);
    if (st != CCC_OK)
        ccc_hpke_ctx_wipe(ctx);
    return st;
}

/*
 * §5.2:
 *   def ComputeNonce(self, seq):
 *     seq_bytes = I2OSP(seq, Nn)
 *     return xor(self.base_nonce, seq_bytes)
 */
static void compute_nonce(const ccc_hpke_ctx *ctx, uint8_t nonce[static CCC_HPKE_NONCE_SIZE])
{
    memcpy(nonce, ctx->base_nonce, CCC_HPKE_NONCE_SIZE);
    for (size_t i = 0; i < 8; i++)
        nonce[CCC_HPKE_NONCE_SIZE - 1 - i] ^= (uint8_t)(ctx->seq >> (8 * i));
}

/*
 * §5.2:
 *   def IncrementSeq(self):
 *     if self.seq >= (1 << (8*Nn)) - 1:
 *       raise MessageLimitReachedError
 * Our counter is 64 bits, so the limit here is 2^64 - 1 messages (stricter
 * than 2^96 - 1); the check runs before the nonce is used, so a nonce is
 * never reused.
 */
static ccc_status check_seq(const ccc_hpke_ctx *ctx, ccc_hpke_role role)
{
    CCC_ENSURE(ctx->role != CCC_HPKE_ROLE_NONE, CCC_ERR_USAGE, "HPKE context not set up");
    CCC_ENSURE(ctx->role == role, CCC_ERR_USAGE, "wrong direction for this HPKE context");
    CCC_ENSURE(ctx->cipher != NULL, CCC_ERR_USAGE, "export-only HPKE context");
    CCC_ENSURE(ctx->seq != UINT64_MAX, CCC_ERR_LIMIT, "HPKE message limit reached");
    return CCC_OK;
}

/* The shared body of ContextS.Seal and ContextR.Open (§5.2). */
static ccc_status ctx_crypt(ccc_hpke_ctx *ctx, ccc_hpke_role role, ccc_bytes aad, const uint8_t *in,
                            size_t in_size, uint8_t *out, size_t out_max, size_t *out_size)
{
    uint8_t nonce[CCC_HPKE_NONCE_SIZE];
    *out_size = 0;
    CCC_GUARD(check_seq(ctx, role));
    compute_nonce(ctx, nonce);
    ccc_status st =
        role == CCC_HPKE_ROLE_SENDER
            ? aead_seal_with(ctx->cipher, nonce, aad, in, in_size, out, out_max, out_size)
            : aead_open_with(ctx->cipher, nonce, aad, in, in_size, out, out_max, out_size);
    OPENSSL_cleanse(nonce, sizeof nonce);
    if (st == CCC_OK)
        ctx->seq++; /* self.IncrementSeq() */
    return st;
}

ccc_status ccc_hpke_ctx_seal(ccc_hpke_ctx *ctx, ccc_bytes aad, const uint8_t *pt, size_t pt_size,
                             uint8_t *out, size_t out_max, size_t *out_size)
{
    /* ct = Seal(self.key, self.ComputeNonce(self.seq), aad, pt) */
    return ctx_crypt(ctx, CCC_HPKE_ROLE_SENDER, aad, pt, pt_size, out, out_max, out_size);
}

ccc_status ccc_hpke_ctx_open(ccc_hpke_ctx *ctx, ccc_bytes aad, const uint8_t *ct, size_t ct_size,
                             uint8_t *out, size_t out_max, size_t *out_size)
{
    /* pt = Open(self.key, self.ComputeNonce(self.seq), aad, ct) */
    return ctx_crypt(ctx, CCC_HPKE_ROLE_RECEIVER, aad, ct, ct_size, out, out_max, out_size);
}

ccc_status ccc_hpke_ctx_export(const ccc_hpke_ctx *ctx, ccc_bytes exporter_context, uint8_t *out,
                               size_t out_size)
{
    CCC_ENSURE(ctx->role != CCC_HPKE_ROLE_NONE, CCC_ERR_USAGE, "HPKE context not set up");
    suite_id sid = hpke_suite_id(ctx->suite);
    /* §5.3: return LabeledExpand(self.exporter_secret, "sec", exporter_context, L) */
    return labeled_expand(&sid, ctx->exporter_secret, "sec", exporter_context, out, out_size);
}

/* ------------------------------------------------------------------------ */
/* Single-shot (§6.1)                                                        */
/* ------------------------------------------------------------------------ */

ccc_status ccc_hpke_seal(ccc_hpke_suite suite, const uint8_t pk_r[static 32],
                         const ccc_hpke_setup_opts *opts, ccc_bytes aad, const uint8_t *pt,
                         size_t pt_size, uint8_t enc[static CCC_HPKE_ENC_SIZE], uint8_t *out,
                         size_t out_max, size_t *out_size)
{
    ccc_status st = CCC_OK;
    ccc_hpke_ctx ctx;
    ccc_hpke_ctx_init(&ctx);
    *out_size = 0;
    /* enc, ctx = SetupS(pkR, info); ct = ctx.Seal(aad, pt) */
    CCC_TRY(ccc_hpke_ctx_setup_sender(&ctx, suite, pk_r, opts, enc));
    CCC_TRY(ccc_hpke_ctx_seal(&ctx, aad, pt, pt_size, out, out_max, out_size));
out:
    ccc_hpke_ctx_wipe(&ctx);
    return st;
}

ccc_status ccc_hpke_open(ccc_hpke_suite suite, const ccc_hpke_keypair *kp_r,
                         const uint8_t enc[static CCC_HPKE_ENC_SIZE],
                         const ccc_hpke_setup_opts *opts, ccc_bytes aad, const uint8_t *ct,
                         size_t ct_size, uint8_t *out, size_t out_max, size_t *out_size)
{
    ccc_status st = CCC_OK;
    ccc_hpke_ctx ctx;
    ccc_hpke_ctx_init(&ctx);
    *out_size = 0;
    /* ctx = SetupR(enc, skR, info); return ctx.Open(aad, ct) */
    CCC_TRY(ccc_hpke_ctx_setup_receiver(&ctx, suite, kp_r, enc, opts));
    CCC_TRY(ccc_hpke_ctx_open(&ctx, aad, ct, ct_size, out, out_max, out_size));
out:
    ccc_hpke_ctx_wipe(&ctx);
    return st;
}
