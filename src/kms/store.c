/* kms key store: service keys and the signing key, sealed at rest (kms.h §1),
 * and the signed OHTTP key configuration (kms.h §2). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "cbor/cbor.h"
#include "cose/cose.h"
#include "kms/internal.h"
#include "kms/kms.h"

#define STATE_MAX_SIZE (16u * 1024u)
#define PATH_MAX_SIZE 4096
#define GCM_NONCE_SIZE 12

struct ccc_kms_store {
    char state_path[PATH_MAX_SIZE];
    uint8_t storage_key[32];
    EVP_PKEY *sign_key;
    uint8_t sign_pk[32];
    ccc_kms_key keys[CCC_KMS_MAX_LIVE]; /* [0] current, [1] previous */
    size_t key_count;
};

static ccc_status path_join(char out[static PATH_MAX_SIZE], const char *dir, const char *name)
{
    int n = snprintf(out, PATH_MAX_SIZE, "%s/%s", dir, name);
    CCC_ENSURE(n > 0 && n < PATH_MAX_SIZE, CCC_ERR_USAGE, "state directory path too long");
    return CCC_OK;
}

/* ------------------------------------------------------------------------ */
/* Sealing a 32-byte key under the storage key (AES-256-GCM)                 */
/* ------------------------------------------------------------------------ */

/* aad = "ccc kms state v1 " || purpose (purpose: "sign" or "hpke" || id). */
static size_t seal_aad(uint8_t aad[static 32], bool sign, uint8_t id)
{
    static const char prefix[] = "ccc kms state v1 ";
    size_t n = sizeof prefix - 1;
    memcpy(aad, prefix, n);
    if (sign) {
        memcpy(aad + n, "sign", 4);
        return n + 4;
    }
    memcpy(aad + n, "hpke", 4);
    aad[n + 4] = id;
    return n + 5;
}

static ccc_status seal_key(const ccc_kms_store *s, bool sign, uint8_t id, const uint8_t key[32],
                           uint8_t out[static CCC_KMS_SEALED_KEY_SIZE])
{
    uint8_t aad[32];
    size_t aad_size = seal_aad(aad, sign, id), n = 0;
    CCC_ENSURE(RAND_bytes(out, GCM_NONCE_SIZE) == 1, CCC_ERR_INTERNAL, "no randomness");
    CCC_GUARD(ccc_hpke_aead_seal(CCC_HPKE_AEAD_AES_256_GCM, s->storage_key, out,
                                 ccc_bytes_of(aad, aad_size), key, 32, out + GCM_NONCE_SIZE,
                                 CCC_KMS_SEALED_KEY_SIZE - GCM_NONCE_SIZE, &n));
    CCC_ENSURE(n == 48, CCC_ERR_INTERNAL, "sealed key size");
    return CCC_OK;
}

static ccc_status unseal_key(const ccc_kms_store *s, bool sign, uint8_t id, ccc_bytes sealed,
                             uint8_t key[static 32])
{
    uint8_t aad[32];
    size_t aad_size = seal_aad(aad, sign, id), n = 0;
    CCC_ENSURE(sealed.size == CCC_KMS_SEALED_KEY_SIZE, CCC_ERR_PARSE, "sealed key size");
    ccc_status st = ccc_hpke_aead_open(CCC_HPKE_AEAD_AES_256_GCM, s->storage_key, sealed.ptr,
                                       ccc_bytes_of(aad, aad_size), sealed.ptr + GCM_NONCE_SIZE,
                                       sealed.size - GCM_NONCE_SIZE, key, 32, &n);
    if (st != CCC_OK) {
        ccc_wipe(key, 32);
        CCC_BAIL(CCC_ERR_CRYPTO, "state does not unseal with storage.key");
    }
    return CCC_OK;
}

/* ------------------------------------------------------------------------ */
/* storage.key                                                               */
/* ------------------------------------------------------------------------ */

static ccc_status storage_key_load(ccc_kms_store *s, const char *dir, bool create)
{
    char path[PATH_MAX_SIZE];
    CCC_GUARD(path_join(path, dir, "storage.key"));
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT && create) {
        uint8_t k[32];
        CCC_ENSURE(RAND_bytes(k, sizeof k) == 1, CCC_ERR_INTERNAL, "no randomness");
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            ccc_wipe(k, sizeof k);
            CCC_BAIL(CCC_ERR_IO, "cannot create storage.key");
        }
        ccc_status st = ccc_fd_write_all(fd, k, sizeof k);
        if (st == CCC_OK && fsync(fd) != 0)
            st = ccc_error_raise(CCC_ERR_IO, "cannot sync storage.key", false, 0, __FILE__,
                                 __LINE__);
        close(fd);
        memcpy(s->storage_key, k, 32);
        ccc_wipe(k, sizeof k);
        return st;
    }
    if (fd < 0)
        CCC_BAIL(errno == ENOENT ? CCC_ERR_NOT_FOUND : CCC_ERR_IO, "cannot open storage.key");
    ccc_status st = CCC_OK;
    struct stat sb;
    uint8_t k[33];
    ssize_t n = 0;
    CCC_CHECK(fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode), CCC_ERR_IO,
              "storage.key is not a regular file");
    CCC_CHECK((sb.st_mode & 077) == 0, CCC_ERR_POLICY,
              "storage.key is readable by group or others (want mode 0600)");
    do {
        n = read(fd, k, sizeof k);
    } while (n < 0 && errno == EINTR);
    CCC_CHECK(n == 32, CCC_ERR_PARSE, "storage.key must hold exactly 32 bytes");
    memcpy(s->storage_key, k, 32);
out:
    ccc_wipe(k, sizeof k);
    close(fd);
    return st;
}

/* ------------------------------------------------------------------------ */
/* state.cbor                                                                */
/* ------------------------------------------------------------------------ */

static ccc_status state_save(const ccc_kms_store *s)
{
    ccc_status st = CCC_OK;
    ccc_buf b;
    ccc_buf_init(&b, STATE_MAX_SIZE);
    uint8_t sealed[CCC_KMS_SEALED_KEY_SIZE];
    uint8_t sk[32];
    size_t sk_size = sizeof sk;
    /* Canonical key order: "v", "keys", "sign_pk", "sign_sealed_sk". */
    CCC_TRY(ccc_cbor_put_map(&b, 4));
    CCC_TRY(ccc_cbor_put_cstr(&b, "v"));
    CCC_TRY(ccc_cbor_put_uint(&b, 1));
    CCC_TRY(ccc_cbor_put_cstr(&b, "keys"));
    CCC_TRY(ccc_cbor_put_array(&b, s->key_count));
    for (size_t i = 0; i < s->key_count; i++) {
        const ccc_kms_key *k = &s->keys[i];
        CCC_TRY(seal_key(s, false, k->id, k->kp.sk, sealed));
        /* "id" < "pk" < "sealed_sk" */
        CCC_TRY(ccc_cbor_put_map(&b, 3));
        CCC_TRY(ccc_cbor_put_cstr(&b, "id"));
        CCC_TRY(ccc_cbor_put_uint(&b, k->id));
        CCC_TRY(ccc_cbor_put_cstr(&b, "pk"));
        CCC_TRY(ccc_cbor_put_bytes(&b, k->kp.pk, 32));
        CCC_TRY(ccc_cbor_put_cstr(&b, "sealed_sk"));
        CCC_TRY(ccc_cbor_put_bytes(&b, sealed, sizeof sealed));
    }
    CCC_TRY(ccc_cbor_put_cstr(&b, "sign_pk"));
    CCC_TRY(ccc_cbor_put_bytes(&b, s->sign_pk, 32));
    CCC_CHECK(EVP_PKEY_get_raw_private_key(s->sign_key, sk, &sk_size) == 1 && sk_size == 32,
              CCC_ERR_INTERNAL, "cannot read signing key");
    CCC_TRY(seal_key(s, true, 0, sk, sealed));
    CCC_TRY(ccc_cbor_put_cstr(&b, "sign_sealed_sk"));
    CCC_TRY(ccc_cbor_put_bytes(&b, sealed, sizeof sealed));
    CCC_TRY(ccc_file_write(s->state_path, b.data, b.size));
out:
    ccc_wipe(sk, sizeof sk);
    ccc_buf_wipe(&b);
    return st;
}

ccc_status ccc_kms_map_get(const ccc_cbor_item *map, const char *key, const ccc_cbor_item **v)
{
    ccc_status st = ccc_cbor_map_get_text(map, key, v);
    if (st == CCC_ERR_NOT_FOUND)
        CCC_BAIL(CCC_ERR_PARSE, "missing required key");
    return st;
}

static ccc_status get_bytes32(const ccc_cbor_item *map, const char *key, size_t size,
                              ccc_bytes *out)
{
    const ccc_cbor_item *v;
    CCC_GUARD(ccc_kms_map_get(map, key, &v));
    CCC_GUARD(ccc_cbor_get_bytes(v, out));
    CCC_ENSURE(out->size == size, CCC_ERR_PARSE, "state: wrong field size");
    return CCC_OK;
}

static ccc_status state_load_key(ccc_kms_store *s, const ccc_cbor_item *m, ccc_kms_key *k)
{
    size_t n;
    const ccc_cbor_item *v;
    uint64_t id;
    ccc_bytes pk, sealed;
    uint8_t sk[32];
    CCC_GUARD(ccc_cbor_get_map(m, &n));
    CCC_ENSURE(n == 3, CCC_ERR_PARSE, "state: key entry needs id, pk, sealed_sk");
    CCC_GUARD(ccc_kms_map_get(m, "id", &v));
    CCC_GUARD(ccc_cbor_get_uint(v, &id));
    CCC_ENSURE(id <= 255, CCC_ERR_PARSE, "state: key id over 255");
    CCC_GUARD(get_bytes32(m, "pk", 32, &pk));
    CCC_GUARD(get_bytes32(m, "sealed_sk", CCC_KMS_SEALED_KEY_SIZE, &sealed));
    CCC_GUARD(unseal_key(s, false, (uint8_t)id, sealed, sk));
    k->id = (uint8_t)id;
    ccc_status st = ccc_hpke_keypair_from_private(&k->kp, sk);
    ccc_wipe(sk, sizeof sk);
    CCC_GUARD(st);
    CCC_ENSURE(ccc_ct_equal(k->kp.pk, pk.ptr, 32), CCC_ERR_CRYPTO,
               "state: public key does not match its private key");
    return CCC_OK;
}

static ccc_status state_load(ccc_kms_store *s, ccc_bytes data)
{
    ccc_status st = CCC_OK;
    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    size_t n = 0;
    uint64_t v = 0;
    const ccc_cbor_item *root, *item;
    ccc_bytes pk, sealed;
    uint8_t sk[32];
    EVP_PKEY *key = NULL;
    CCC_TRY(ccc_cbor_decode(&doc, data, NULL, CCC_CBOR_CANONICAL));
    root = ccc_cbor_doc_root(&doc);
    CCC_TRY(ccc_cbor_get_map(root, &n));
    CCC_CHECK(n == 4, CCC_ERR_PARSE, "state: wrong number of keys");
    CCC_TRY(ccc_kms_map_get(root, "v", &item));
    CCC_TRY(ccc_cbor_get_uint(item, &v));
    CCC_CHECK(v == 1, CCC_ERR_UNSUPPORTED, "state: unknown version");
    CCC_TRY(ccc_kms_map_get(root, "keys", &item));
    CCC_TRY(ccc_cbor_get_array(item, &n));
    CCC_CHECK(n >= 1 && n <= CCC_KMS_MAX_LIVE, CCC_ERR_PARSE, "state: 1..2 keys");
    {
        ccc_cbor_iter it;
        ccc_cbor_iter_init(&it, item);
        for (size_t i = 0; i < n; i++)
            CCC_TRY(state_load_key(s, ccc_cbor_iter_next(&it), &s->keys[i]));
        s->key_count = n;
        CCC_CHECK(n < 2 || s->keys[0].id != s->keys[1].id, CCC_ERR_PARSE,
                  "state: duplicate key id");
    }
    CCC_TRY(get_bytes32(root, "sign_pk", 32, &pk));
    CCC_TRY(get_bytes32(root, "sign_sealed_sk", CCC_KMS_SEALED_KEY_SIZE, &sealed));
    CCC_TRY(unseal_key(s, true, 0, sealed, sk));
    key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk, 32);
    CCC_CHECK(key, CCC_ERR_CRYPTO, "state: bad signing key");
    {
        uint8_t check[32];
        size_t cs = sizeof check;
        CCC_CHECK(EVP_PKEY_get_raw_public_key(key, check, &cs) == 1 && cs == 32 &&
                      ccc_ct_equal(check, pk.ptr, 32),
                  CCC_ERR_CRYPTO, "state: signing key does not match its public key");
    }
    memcpy(s->sign_pk, pk.ptr, 32);
    s->sign_key = key;
    key = NULL;
out:
    ccc_wipe(sk, sizeof sk);
    EVP_PKEY_free(key);
    ccc_cbor_doc_wipe(&doc);
    return st;
}

static ccc_status store_generate(ccc_kms_store *s)
{
    size_t n = 32;
    s->sign_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    CCC_ENSURE(s->sign_key, CCC_ERR_CRYPTO, "cannot generate signing key");
    CCC_ENSURE(EVP_PKEY_get_raw_public_key(s->sign_key, s->sign_pk, &n) == 1 && n == 32,
               CCC_ERR_CRYPTO, "cannot read signing key");
    s->keys[0].id = 1;
    CCC_GUARD(ccc_hpke_keypair_generate(&s->keys[0].kp));
    s->key_count = 1;
    return state_save(s);
}

ccc_status ccc_kms_store_open(const char *dir, bool create, ccc_kms_store **out)
{
    ccc_status st = CCC_OK;
    *out = NULL;
    CCC_ENSURE(dir && *dir, CCC_ERR_USAGE, "no state directory");
    ccc_kms_store *s = ccc_secret_alloc(sizeof *s);
    CCC_ENSURE(s, CCC_ERR_NOMEM, "out of memory");
    ccc_buf data;
    ccc_buf_init(&data, STATE_MAX_SIZE);
    CCC_TRY(path_join(s->state_path, dir, "state.cbor"));
    if (create && mkdir(dir, 0700) != 0 && errno != EEXIST)
        CCC_FAIL(CCC_ERR_IO, "cannot create state directory");
    CCC_TRY(storage_key_load(s, dir, create));
    st = ccc_file_read(s->state_path, &data);
    if (st == CCC_ERR_NOT_FOUND && create) {
        CCC_TRY(store_generate(s));
    } else {
        CCC_TRY(st);
        CCC_TRY(state_load(s, ccc_buf_bytes(&data)));
    }
    *out = s;
    s = NULL;
out:
    ccc_buf_wipe(&data);
    ccc_kms_store_free(s);
    return st;
}

void ccc_kms_store_free(ccc_kms_store *s)
{
    if (!s)
        return;
    EVP_PKEY_free(s->sign_key);
    for (size_t i = 0; i < CCC_KMS_MAX_LIVE; i++)
        ccc_hpke_keypair_wipe(&s->keys[i].kp);
    ccc_secret_free(s, sizeof *s);
}

ccc_status ccc_kms_store_rotate(ccc_kms_store *s)
{
    CCC_ENSURE(s->key_count == 1, CCC_ERR_USAGE,
               "two keys are live: retire the previous key before rotating");
    ccc_kms_key saved[CCC_KMS_MAX_LIVE];
    memcpy(saved, s->keys, sizeof saved);
    s->keys[1] = s->keys[0];
    s->keys[0].id = (uint8_t)(s->keys[1].id + 1u);
    ccc_status st = ccc_hpke_keypair_generate(&s->keys[0].kp);
    if (st == CCC_OK) {
        s->key_count = 2;
        st = state_save(s);
    }
    if (st != CCC_OK) {
        memcpy(s->keys, saved, sizeof saved);
        s->key_count = 1;
    }
    ccc_wipe(saved, sizeof saved);
    return st;
}

ccc_status ccc_kms_store_retire(ccc_kms_store *s)
{
    CCC_ENSURE(s->key_count == 2, CCC_ERR_NOT_FOUND, "no previous key to retire");
    ccc_kms_key saved = s->keys[1];
    s->key_count = 1;
    ccc_hpke_keypair_wipe(&s->keys[1].kp);
    s->keys[1].id = 0;
    ccc_status st = state_save(s);
    if (st != CCC_OK) {
        s->keys[1] = saved;
        s->key_count = 2;
    }
    ccc_wipe(&saved, sizeof saved);
    return st;
}

size_t ccc_kms_store_key_count(const ccc_kms_store *s) { return s->key_count; }
const ccc_kms_key *ccc_kms_store_keys(const ccc_kms_store *s) { return s->keys; }
EVP_PKEY *ccc_kms_store_sign_key(const ccc_kms_store *s) { return s->sign_key; }

ccc_status ccc_kms_store_public_pem(const ccc_kms_store *s, ccc_buf *out)
{
    ccc_status st = CCC_OK;
    BIO *bio = BIO_new(BIO_s_mem());
    char *p = NULL;
    CCC_CHECK(bio, CCC_ERR_NOMEM, "out of memory");
    CCC_CHECK(PEM_write_bio_PUBKEY(bio, s->sign_key) == 1, CCC_ERR_CRYPTO,
              "cannot encode public key");
    long n = BIO_get_mem_data(bio, &p);
    CCC_CHECK(n > 0, CCC_ERR_CRYPTO, "cannot encode public key");
    CCC_TRY(ccc_buf_append(out, p, (size_t)n));
out:
    BIO_free(bio);
    return st;
}

/* ------------------------------------------------------------------------ */
/* OHTTP key configs and the signed configuration                            */
/* ------------------------------------------------------------------------ */

static const ccc_ohttp_symmetric_alg kms_algs[] = {
    {CCC_HPKE_KDF_HKDF_SHA256, CCC_HPKE_AEAD_AES_256_GCM},
    {CCC_HPKE_KDF_HKDF_SHA256, CCC_HPKE_AEAD_CHACHA20_POLY1305},
};

ccc_status ccc_kms_key_config(const ccc_kms_key *key, ccc_ohttp_key_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->key_id = key->id;
    cfg->kem_id = CCC_HPKE_KEM_X25519_SHA256;
    memcpy(cfg->public_key, key->kp.pk, 32);
    cfg->alg_count = sizeof kms_algs / sizeof kms_algs[0];
    memcpy(cfg->algs, kms_algs, sizeof kms_algs);
    return CCC_OK;
}

ccc_status ccc_kms_gateway_keys(const ccc_kms_key *keys, size_t count, ccc_ohttp_gateway_key *out)
{
    CCC_ENSURE(count <= CCC_KMS_MAX_LIVE, CCC_ERR_USAGE, "too many keys");
    for (size_t i = 0; i < count; i++) {
        ccc_status st = ccc_ohttp_gateway_key_init(&out[i], keys[i].id, &keys[i].kp, kms_algs,
                                                   sizeof kms_algs / sizeof kms_algs[0]);
        if (st != CCC_OK) {
            for (size_t j = 0; j <= i; j++)
                ccc_ohttp_gateway_key_wipe(&out[j]);
            return st;
        }
    }
    return CCC_OK;
}

/* application/ohttp-keys (RFC 9458 §3.2): each Key Config preceded by its
 * 2-byte length. */
static ccc_status ohttp_keys_encode(const ccc_kms_store *s, ccc_buf *out)
{
    ccc_status st = CCC_OK;
    ccc_buf one;
    ccc_buf_init(&one, 1024);
    for (size_t i = 0; i < s->key_count; i++) {
        ccc_ohttp_key_config cfg;
        ccc_buf_reset(&one);
        CCC_TRY(ccc_kms_key_config(&s->keys[i], &cfg));
        CCC_TRY(ccc_ohttp_key_config_encode(&cfg, &one));
        CCC_TRY(ccc_buf_be16(out, (uint16_t)one.size));
        CCC_TRY(ccc_buf_append_bytes(out, ccc_buf_bytes(&one)));
    }
out:
    ccc_buf_wipe(&one);
    return st;
}

ccc_status ccc_kms_config_sign(const ccc_kms_store *s, const uint8_t policy_sha256[32],
                               uint64_t time_ms, ccc_buf *out)
{
    ccc_status st = CCC_OK;
    ccc_buf keys, payload;
    ccc_buf_init(&keys, CCC_KMS_MAX_CONFIG_SIZE);
    ccc_buf_init(&payload, CCC_KMS_MAX_CONFIG_SIZE);
    ccc_cose_sign1_params params = {0};
    params.alg = CCC_COSE_ALG_EDDSA;
    CCC_TRY(ohttp_keys_encode(s, &keys));
    /* Canonical order (RFC 8949 §4.2.1, bytewise on encoded keys):
     * "v" (61 76) < "keys" (64 ..) < "time_ms" (67 ..) < "policy_sha256" (6d ..) */
    CCC_TRY(ccc_cbor_put_map(&payload, 4));
    CCC_TRY(ccc_cbor_put_cstr(&payload, "v"));
    CCC_TRY(ccc_cbor_put_uint(&payload, 1));
    CCC_TRY(ccc_cbor_put_cstr(&payload, "keys"));
    CCC_TRY(ccc_cbor_put_bytes(&payload, keys.data, keys.size));
    CCC_TRY(ccc_cbor_put_cstr(&payload, "time_ms"));
    CCC_TRY(ccc_cbor_put_uint(&payload, time_ms));
    CCC_TRY(ccc_cbor_put_cstr(&payload, "policy_sha256"));
    CCC_TRY(ccc_cbor_put_bytes(&payload, policy_sha256, 32));
    CCC_TRY(ccc_cose_sign1_sign(s->sign_key, &params, ccc_buf_bytes(&payload), out));
out:
    ccc_buf_wipe(&keys);
    ccc_buf_wipe(&payload);
    return st;
}

ccc_status ccc_kms_config_verify(ccc_bytes signed_config, EVP_PKEY *kms_pub, ccc_kms_config *out)
{
    ccc_status st = CCC_OK;
    ccc_cose_sign1 msg;
    ccc_cose_sign1_init(&msg);
    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    const ccc_cbor_item *root, *item;
    size_t n = 0;
    uint64_t v = 0;
    ccc_bytes b;
    ccc_reader r;
    memset(out, 0, sizeof *out);
    CCC_CHECK(signed_config.size <= CCC_KMS_MAX_CONFIG_SIZE, CCC_ERR_LIMIT,
              "signed config too large");
    CCC_TRY(ccc_cose_sign1_parse(&msg, signed_config, NULL));
    CCC_CHECK(msg.alg == CCC_COSE_ALG_EDDSA, CCC_ERR_UNSUPPORTED, "config alg must be EdDSA");
    CCC_CHECK(!msg.detached, CCC_ERR_PARSE, "config payload detached");
    CCC_TRY(ccc_cose_sign1_verify(&msg, kms_pub, ccc_bytes_of(NULL, 0), NULL));
    CCC_TRY(ccc_cbor_decode(&doc, msg.payload, NULL, CCC_CBOR_CANONICAL));
    root = ccc_cbor_doc_root(&doc);
    CCC_TRY(ccc_cbor_get_map(root, &n));
    CCC_CHECK(n == 4, CCC_ERR_PARSE, "config needs exactly v, keys, time_ms, policy_sha256");
    CCC_TRY(ccc_kms_map_get(root, "v", &item));
    CCC_TRY(ccc_cbor_get_uint(item, &v));
    CCC_CHECK(v == 1, CCC_ERR_UNSUPPORTED, "config version not 1");
    CCC_TRY(ccc_kms_map_get(root, "time_ms", &item));
    CCC_TRY(ccc_cbor_get_uint(item, &out->time_ms));
    CCC_TRY(get_bytes32(root, "policy_sha256", 32, &b));
    memcpy(out->policy_sha256, b.ptr, 32);
    CCC_TRY(ccc_kms_map_get(root, "keys", &item));
    CCC_TRY(ccc_cbor_get_bytes(item, &b));
    ccc_reader_init(&r, b.ptr, b.size);
    CCC_TRY(ccc_ohttp_key_configs_decode(&r, out->keys, CCC_KMS_MAX_LIVE, &out->key_count));
    CCC_CHECK(out->key_count >= 1, CCC_ERR_PARSE, "config has no usable key");
out:
    if (st != CCC_OK)
        memset(out, 0, sizeof *out);
    ccc_cbor_doc_wipe(&doc);
    ccc_cose_sign1_wipe(&msg);
    return st;
}
