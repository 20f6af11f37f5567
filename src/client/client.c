/*
 * client.c — trust anchors, the §11 JSON documents, and the §12 checks:
 * configuration, attestation, sealing a photo, opening a verified answer.
 * (HTTP is in client_http.c.)
 */
#include "client/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "cose/cose.h"
#include "image/image.h"
#include "nsm/nsm.h"

/* Largest enc_response: the egress guard's cap + response nonce + tag. */
#define MAX_ENC_RESPONSE (CCC_EGRESS_MAX_ANSWER_SIZE + CCC_OHTTP_RESPONSE_NONCE_MAX + 16u)
#define MAX_PHOTO_SIZE CCC_OHTTP_MAX_MESSAGE_SIZE

/* ------------------------------------------------------------------------ */
/* Trust anchors                                                             */
/* ------------------------------------------------------------------------ */

void ccc_client_trust_init(ccc_client_trust *t) { memset(t, 0, sizeof *t); }

void ccc_client_trust_wipe(ccc_client_trust *t)
{
    ccc_x509_root_free(t->root);
    EVP_PKEY_free(t->policy_pub);
    EVP_PKEY_free(t->kms_pub);
    memset(t, 0, sizeof *t);
}

static ccc_status load_ed25519_pub(const char *path, EVP_PKEY **out)
{
    CCC_GUARD(ccc_cose_key_read_pem(path, false, out));
    if (EVP_PKEY_get_id(*out) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(*out);
        *out = NULL;
        CCC_BAIL(CCC_ERR_UNSUPPORTED, "trust anchor key is not an Ed25519 public key");
    }
    return CCC_OK;
}

ccc_status ccc_client_trust_load(ccc_client_trust *t, const char *root, const char *policy_pub,
                                 const char *kms_pub)
{
    ccc_status st = CCC_OK;
    ccc_buf pem;
    ccc_buf_init(&pem, 64u * 1024u);
    CCC_CHECK(root && policy_pub && kms_pub, CCC_ERR_USAGE,
              "trust needs a root, a policy public key and a kms public key");
    ccc_client_trust_wipe(t);
    if (strcmp(root, "aws") == 0) {
        CCC_TRY(ccc_attest_aws_root(&t->root));
        t->aws_root = true;
    } else {
        CCC_TRY(ccc_file_read(root, &pem));
        CCC_TRY(ccc_x509_root_new_pem(ccc_buf_bytes(&pem), &t->root));
    }
    CCC_TRY(load_ed25519_pub(policy_pub, &t->policy_pub));
    CCC_TRY(load_ed25519_pub(kms_pub, &t->kms_pub));
out:
    ccc_buf_wipe(&pem);
    if (st != CCC_OK)
        ccc_client_trust_wipe(t);
    return st;
}

ccc_status ccc_client_trust_load_dir(ccc_client_trust *t, const char *dir, const char *root,
                                     const char *policy_pub, const char *kms_pub)
{
    char r[4096], p[4096], k[4096];
    int a = snprintf(r, sizeof r, "%s/root.pem", dir);
    int b = snprintf(p, sizeof p, "%s/policy-pub.pem", dir);
    int c = snprintf(k, sizeof k, "%s/kms-pub.pem", dir);
    CCC_ENSURE(a > 0 && b > 0 && c > 0 && (size_t)a < sizeof r && (size_t)b < sizeof p &&
                   (size_t)c < sizeof k,
               CCC_ERR_LIMIT, "trust directory path too long");
    return ccc_client_trust_load(t, root ? root : r, policy_pub ? policy_pub : p,
                                 kms_pub ? kms_pub : k);
}

ccc_status ccc_client_default_state_path(const ccc_client_trust *trust, char *out,
                                        size_t out_size)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    CCC_ENSURE(trust->policy_pub, CCC_ERR_USAGE, "no policy key loaded");
    unsigned char *der = NULL;
    int der_size = i2d_PUBKEY(trust->policy_pub, &der);
    CCC_ENSURE(der_size > 0, CCC_ERR_CRYPTO, "cannot encode the policy key");
    uint8_t digest[32];
    ccc_status st = ccc_sha256(ccc_bytes_of(der, (size_t)der_size), digest);
    OPENSSL_free(der);
    CCC_GUARD(st);
    char key_id[17];
    ccc_hex_encode(digest, 8, key_id);
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(out, out_size, "%s/ccc/policy-state-%s", xdg, key_id);
    else if (home && home[0])
        n = snprintf(out, out_size, "%s/.config/ccc/policy-state-%s", home, key_id);
    else
        CCC_BAIL(CCC_ERR_NOT_FOUND, "neither XDG_CONFIG_HOME nor HOME is set (give --state)");
    CCC_ENSURE(n > 0 && (size_t)n < out_size, CCC_ERR_LIMIT, "state path too long");
    return CCC_OK;
}

/* mkdir -p of the directory holding `path` (mode 0700 for what we make). */
static ccc_status make_parent_dirs(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    CCC_ENSURE(n < sizeof tmp, CCC_ERR_LIMIT, "state path too long");
    memcpy(tmp, path, n + 1);
    char *slash = strrchr(tmp, '/');
    if (!slash || slash == tmp)
        return CCC_OK;
    *slash = '\0';
    return ccc_mkdir_p(tmp, 0700);
}

/* ------------------------------------------------------------------------ */
/* Strict base64 (RFC 4648 §4)                                               */
/* ------------------------------------------------------------------------ */

static int b64_value(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

ccc_status ccc_client_base64_decode(ccc_bytes text, ccc_buf *out)
{
    /* Validate first: EVP_DecodeBlock skips surrounding whitespace and
     * reports padding as zero bytes, so it is only given canonical text. */
    CCC_ENSURE(text.size % 4 == 0, CCC_ERR_PARSE, "base64 length is not a multiple of 4");
    if (text.size == 0)
        return CCC_OK;
    CCC_ENSURE(text.size <= (size_t)1 << 30, CCC_ERR_LIMIT, "base64 text too long");
    size_t pad = 0;
    if (text.ptr[text.size - 1] == '=')
        pad = text.ptr[text.size - 2] == '=' ? 2 : 1;
    for (size_t i = 0; i < text.size - pad; i++)
        CCC_ENSURE(b64_value(text.ptr[i]) >= 0, CCC_ERR_PARSE, "base64 text has a bad character");
    /* Canonical: the bits the padding drops are zero. */
    int last = b64_value(text.ptr[text.size - pad - 1]);
    CCC_ENSURE(!(pad == 1 && (last & 0x03)) && !(pad == 2 && (last & 0x0f)), CCC_ERR_PARSE,
               "base64 text is not canonical");
    size_t decoded = text.size / 4 * 3 - pad;
    CCC_ENSURE(decoded <= out->max_size - out->size, CCC_ERR_LIMIT, "base64 field over its cap");
    /* Whole quanta straight into the buffer, the last (padded) one through
     * a 3-byte scratch: the buffer never grows past `decoded`, so a field
     * exactly at its cap fits. */
    size_t head = text.size - 4, start = out->size;
    uint8_t *tail = NULL, last_q[3];
    CCC_GUARD(ccc_buf_extend(out, decoded, &tail));
    int n = head ? EVP_DecodeBlock(tail, text.ptr, (int)head) : 0;
    int m = EVP_DecodeBlock(last_q, text.ptr + head, 4);
    if (n < 0 || (size_t)n != head / 4 * 3 || m != 3) {
        out->size = start;
        CCC_BAIL(CCC_ERR_PARSE, "base64 text is invalid");
    }
    memcpy(tail + head / 4 * 3, last_q, 3 - pad);
    return CCC_OK;
}

/* ------------------------------------------------------------------------ */
/* JSON documents                                                            */
/* ------------------------------------------------------------------------ */

ccc_status ccc_client_status_from_name(const char *name, size_t size, ccc_status *out)
{
    for (int s = CCC_ERR_USAGE; s < CCC_STATUS_COUNT; s++) {
        const char *n = ccc_status_name((ccc_status)s);
        if (strlen(n) == size && memcmp(n, name, size) == 0) {
            *out = (ccc_status)s;
            return CCC_OK;
        }
    }
    CCC_BAIL(CCC_ERR_NOT_FOUND, "unknown error class");
}

static ccc_status json_load(ccc_bytes json, size_t cap, json_t **out)
{
    CCC_ENSURE(json.size <= cap, CCC_ERR_LIMIT, "JSON answer over its size cap");
    json_error_t err;
    *out = json_loadb((const char *)(json.ptr ? json.ptr : (const uint8_t *)""), json.size,
                      JSON_REJECT_DUPLICATES, &err);
    CCC_ENSURE(*out, CCC_ERR_PARSE, "answer is not JSON");
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        CCC_BAIL(CCC_ERR_PARSE, "answer is not a JSON object");
    }
    return CCC_OK;
}

/* Every key of `obj` is one of `allowed` (NULL-terminated). */
static ccc_status keys_only(json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            ok = ok || strcmp(key, *a) == 0;
        CCC_ENSURE(ok, CCC_ERR_PARSE, "JSON answer has an unexpected key");
    }
    return CCC_OK;
}

/* A base64 string member into `out` (cap applies). */
static ccc_status b64_member(json_t *obj, const char *key, ccc_buf *out)
{
    json_t *v = json_object_get(obj, key);
    CCC_ENSURE(json_is_string(v), CCC_ERR_PARSE, "JSON answer misses a base64 field");
    return ccc_client_base64_decode(
        ccc_bytes_of(json_string_value(v), json_string_length(v)), out);
}

void ccc_client_config_json_init(ccc_client_config_json *c)
{
    memset(c, 0, sizeof *c);
    ccc_buf_init(&c->kms_config, CCC_KMS_MAX_CONFIG_SIZE);
    ccc_buf_init(&c->policy, CCC_POLICY_MAX_BUNDLE_SIZE);
    for (size_t i = 0; i < CCC_CLIENT_MAX_ATTESTATIONS; i++)
        ccc_buf_init(&c->attestations[i], CCC_ATTEST_MAX_DOC_SIZE);
}

void ccc_client_config_json_wipe(ccc_client_config_json *c)
{
    ccc_buf_wipe(&c->kms_config);
    ccc_buf_wipe(&c->policy);
    for (size_t i = 0; i < CCC_CLIENT_MAX_ATTESTATIONS; i++)
        ccc_buf_wipe(&c->attestations[i]);
    c->attestation_count = 0;
}

ccc_status ccc_client_config_json_parse(ccc_bytes json, ccc_client_config_json *out)
{
    static const char *const keys[] = {"v", "kms_config", "policy", "attestations", NULL};
    ccc_status st = CCC_OK;
    json_t *root = NULL;
    ccc_client_config_json_wipe(out);
    ccc_client_config_json_init(out);
    CCC_TRY(json_load(json, CCC_CLIENT_MAX_CONFIG_JSON, &root));
    CCC_TRY(keys_only(root, keys));
    json_t *v = json_object_get(root, "v");
    CCC_CHECK(json_is_integer(v), CCC_ERR_PARSE, "config has no version");
    CCC_CHECK(json_integer_value(v) == 1, CCC_ERR_UNSUPPORTED, "config version is not 1");
    CCC_TRY(b64_member(root, "kms_config", &out->kms_config));
    CCC_TRY(b64_member(root, "policy", &out->policy));
    json_t *att = json_object_get(root, "attestations");
    CCC_CHECK(json_is_array(att), CCC_ERR_PARSE, "config has no attestation list");
    CCC_CHECK(json_array_size(att) <= CCC_CLIENT_MAX_ATTESTATIONS, CCC_ERR_LIMIT,
              "config lists too many attestation documents");
    size_t i;
    json_t *d;
    json_array_foreach(att, i, d)
    {
        CCC_CHECK(json_is_string(d), CCC_ERR_PARSE, "attestation entry is not a string");
        CCC_TRY(ccc_client_base64_decode(ccc_bytes_of(json_string_value(d), json_string_length(d)),
                                         &out->attestations[i]));
        out->attestation_count = i + 1;
    }
out:
    json_decref(root);
    if (st != CCC_OK)
        ccc_client_config_json_wipe(out);
    return st;
}

const char *ccc_client_job_state_name(ccc_client_job_state s)
{
    switch (s) {
    case CCC_CLIENT_JOB_QUEUED:
        return "queued";
    case CCC_CLIENT_JOB_PROCESSING:
        return "processing";
    case CCC_CLIENT_JOB_DONE:
        return "done";
    case CCC_CLIENT_JOB_FAILED:
        return "failed";
    }
    return "unknown";
}

void ccc_client_job_json_init(ccc_client_job_json *j)
{
    memset(j, 0, sizeof *j);
    ccc_buf_init(&j->response, MAX_ENC_RESPONSE);
    ccc_buf_init(&j->receipt, CCC_RECEIPT_MAX_SIZE);
    ccc_buf_init(&j->attestation, CCC_ATTEST_MAX_DOC_SIZE);
}

void ccc_client_job_json_wipe(ccc_client_job_json *j)
{
    ccc_buf_wipe(&j->response);
    ccc_buf_wipe(&j->receipt);
    ccc_buf_wipe(&j->attestation);
    memset(j->id, 0, sizeof j->id);
    j->state = CCC_CLIENT_JOB_QUEUED;
    j->attempt = 0;
    j->error = CCC_OK;
}

/* §11 job id: 1..256 bytes of 0x21..0x7e. */
static bool job_id_ok(const char *id, size_t size)
{
    if (size == 0 || size > CCC_RECEIPT_MAX_JOB_ID)
        return false;
    for (size_t i = 0; i < size; i++)
        if ((unsigned char)id[i] < 0x21 || (unsigned char)id[i] > 0x7e)
            return false;
    return true;
}

ccc_status ccc_client_job_json_parse(ccc_bytes json, ccc_client_job_json *out)
{
    static const char *const waiting[] = {"id", "status", "attempt", NULL};
    static const char *const done[] = {"id",      "status",      "attempt", "response",
                                       "receipt", "attestation", NULL};
    static const char *const failed[] = {"id", "status", "attempt", "error", NULL};
    ccc_status st = CCC_OK;
    json_t *root = NULL;
    ccc_client_job_json_wipe(out);
    ccc_client_job_json_init(out);
    CCC_TRY(json_load(json, CCC_CLIENT_MAX_JOB_JSON, &root));
    json_t *id = json_object_get(root, "id");
    CCC_CHECK(json_is_string(id), CCC_ERR_PARSE, "job answer has no id");
    CCC_CHECK(job_id_ok(json_string_value(id), json_string_length(id)), CCC_ERR_PARSE,
              "job answer has a malformed id");
    memcpy(out->id, json_string_value(id), json_string_length(id));
    json_t *s = json_object_get(root, "status");
    CCC_CHECK(json_is_string(s), CCC_ERR_PARSE, "job answer has no status");
    const char *status = json_string_value(s);
    json_t *a = json_object_get(root, "attempt"); /* optional in every state */
    if (a) {
        CCC_CHECK(json_is_integer(a) && json_integer_value(a) >= 0, CCC_ERR_PARSE,
                  "job attempt is not a count");
        out->attempt = (uint64_t)json_integer_value(a);
    }
    if (strcmp(status, "queued") == 0 || strcmp(status, "processing") == 0) {
        out->state = status[0] == 'q' ? CCC_CLIENT_JOB_QUEUED : CCC_CLIENT_JOB_PROCESSING;
        CCC_TRY(keys_only(root, waiting));
    } else if (strcmp(status, "done") == 0) {
        out->state = CCC_CLIENT_JOB_DONE;
        CCC_TRY(keys_only(root, done));
        CCC_TRY(b64_member(root, "response", &out->response));
        CCC_TRY(b64_member(root, "receipt", &out->receipt));
        CCC_TRY(b64_member(root, "attestation", &out->attestation));
    } else if (strcmp(status, "failed") == 0) {
        out->state = CCC_CLIENT_JOB_FAILED;
        CCC_TRY(keys_only(root, failed));
        json_t *e = json_object_get(root, "error");
        CCC_CHECK(json_is_string(e), CCC_ERR_PARSE, "failed job has no error class");
        if (ccc_client_status_from_name(json_string_value(e), json_string_length(e),
                                        &out->error) != CCC_OK)
            CCC_FAIL(CCC_ERR_PARSE, "failed job has an unknown error class");
    } else {
        CCC_FAIL(CCC_ERR_PARSE, "job answer has an unknown status");
    }
out:
    json_decref(root);
    if (st != CCC_OK)
        ccc_client_job_json_wipe(out);
    return st;
}

ccc_status ccc_client_error_json_parse(ccc_bytes json, ccc_status *cls)
{
    ccc_status st = CCC_OK;
    json_t *root = NULL;
    CCC_TRY(json_load(json, CCC_CLIENT_MAX_ERROR_JSON, &root));
    json_t *e = json_object_get(root, "error");
    CCC_CHECK(json_is_string(e), CCC_ERR_PARSE, "error answer has no class");
    if (ccc_client_status_from_name(json_string_value(e), json_string_length(e), cls) != CCC_OK)
        CCC_FAIL(CCC_ERR_PARSE, "error answer has an unknown class");
out:
    json_decref(root);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Attestation (§12)                                                         */
/* ------------------------------------------------------------------------ */

/* Does the document carry every PCR of `set`, with equal bytes? */
static bool set_matches(const ccc_attest_pcr_set *set, const ccc_attest_doc *doc)
{
    for (size_t k = 0; k < set->count; k++) {
        uint32_t i = set->pcrs[k].index;
        if (i >= CCC_ATTEST_PCR_COUNT || !doc->pcrs[i].present ||
            doc->pcrs[i].value.size != set->pcrs[k].size ||
            memcmp(doc->pcrs[i].value.ptr, set->pcrs[k].value, set->pcrs[k].size) != 0)
            return false;
    }
    return set->count > 0;
}

/* PCR `index` of the document equals SHA-384(0^48 || data). */
static ccc_status pcr_is_extend_of(const ccc_attest_doc *doc, unsigned index,
                                   const uint8_t data[32], bool *equal)
{
    uint8_t want[CCC_NSM_PCR_SIZE] = {0};
    CCC_GUARD(ccc_nsm_pcr_extend(want, ccc_bytes_of(data, 32)));
    *equal = doc->pcrs[index].present && doc->pcrs[index].value.size == sizeof want &&
             memcmp(doc->pcrs[index].value.ptr, want, sizeof want) == 0;
    return CCC_OK;
}

static bool verified_recently(const ccc_client_config *cfg, const uint8_t sha[32],
                              uint64_t now_ms)
{
    ccc_client_config *memo = (ccc_client_config *)cfg; /* the memo only */
    bool hit = false;
    pthread_mutex_lock(&memo->verified.lock);
    for (size_t i = 0; i < CCC_CLIENT_MAX_ATTESTATIONS && !hit; i++)
        hit = memo->verified.docs[i].from_ms <= now_ms && now_ms < memo->verified.docs[i].until_ms &&
              CRYPTO_memcmp(memo->verified.docs[i].sha256, sha, 32) == 0;
    pthread_mutex_unlock(&memo->verified.lock);
    return hit;
}

static void remember_verified(const ccc_client_config *cfg, const uint8_t sha[32],
                              uint64_t from_ms, uint64_t until_ms)
{
    ccc_client_config *memo = (ccc_client_config *)cfg; /* the memo only */
    pthread_mutex_lock(&memo->verified.lock);
    size_t i = memo->verified.next;
    memo->verified.next = (i + 1) % CCC_CLIENT_MAX_ATTESTATIONS;
    memcpy(memo->verified.docs[i].sha256, sha, 32);
    memo->verified.docs[i].from_ms = from_ms;
    memo->verified.docs[i].until_ms = until_ms;
    pthread_mutex_unlock(&memo->verified.lock);
}

ccc_status ccc_client_attestation_verify(const ccc_client_trust *trust,
                                         const ccc_client_config *cfg, ccc_bytes doc_bytes,
                                         uint64_t now_ms, ccc_attest_doc *doc, size_t *pcr_set)
{
    CCC_ENSURE(trust->root, CCC_ERR_USAGE, "no pinned root");
    CCC_GUARD(ccc_attest_doc_parse(doc, doc_bytes, NULL));
    uint8_t sha[32];
    CCC_GUARD(ccc_sha256(doc_bytes, sha));
    if (!verified_recently(cfg, sha, now_ms)) {
        /* chain at now to the pinned root, signature, not debug, PCRs in
         * one of the policy's measurement sets; and again a minute later,
         * so the memo never outlives a certificate */
        ccc_attest_policy ap;
        memset(&ap, 0, sizeof ap);
        ccc_policy_to_attest(&cfg->policy, &ap);
        ap.has_time = true;
        ap.at_ms = now_ms;
        ccc_attest_report rep;
        CCC_GUARD(ccc_attest_verify(doc, trust->root, &ap, &rep));
        ap.at_ms = now_ms + CCC_CLIENT_VERIFIED_MS;
        if (ccc_attest_verify(doc, trust->root, &ap, &rep) == CCC_OK)
            remember_verified(cfg, sha, now_ms, now_ms + CCC_CLIENT_VERIFIED_MS);
    }
    size_t matched = 0;
    while (matched < cfg->policy.set_count && !set_matches(&cfg->policy.sets[matched], doc))
        matched++;
    CCC_ENSURE(matched < cfg->policy.set_count, CCC_ERR_POLICY,
               "no measurement set of the policy matches");
    /* §12: PCR16 = extend(0, a manifest hash the policy lists) */
    bool ok = false;
    for (size_t m = 0; m < cfg->policy.manifest_count && !ok; m++)
        CCC_GUARD(pcr_is_extend_of(doc, CCC_NSM_PCR_MANIFEST, cfg->policy.manifests[m], &ok));
    CCC_ENSURE(ok, CCC_ERR_POLICY, "PCR16 is not a model manifest the policy lists");
    /* §12: PCR17 = extend(0, policy hash) */
    CCC_GUARD(pcr_is_extend_of(doc, CCC_NSM_PCR_POLICY, cfg->policy_sha256, &ok));
    CCC_ENSURE(ok, CCC_ERR_POLICY, "PCR17 is not the hash of this policy");
    /* the receipt key: an Ed25519 SPKI, exactly */
    CCC_ENSURE(doc->has_public_key, CCC_ERR_CRYPTO, "attestation document has no receipt key");
    EVP_PKEY *pk = NULL;
    CCC_GUARD(ccc_receipt_key_from_spki(doc->public_key, &pk));
    EVP_PKEY_free(pk);
    if (pcr_set)
        *pcr_set = matched;
    return CCC_OK;
}

/* ------------------------------------------------------------------------ */
/* Configuration (§11 GET /v1/config, §12)                                   */
/* ------------------------------------------------------------------------ */

void ccc_client_config_init(ccc_client_config *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->verified.lock, NULL);
    c->step = "none";
}

ccc_status ccc_client_config_verify(const ccc_client_trust *trust, ccc_bytes json,
                                    const char *state_path, uint64_t now_ms,
                                    ccc_client_config *out)
{
    ccc_status st = CCC_OK;
    ccc_client_config_json cj;
    ccc_client_config_json_init(&cj);
    ccc_attest_doc doc;
    ccc_attest_doc_init(&doc);
    ccc_client_config_init(out);
    out->step = "trust";
    CCC_CHECK(trust->root && trust->kms_pub && trust->policy_pub, CCC_ERR_USAGE,
              "trust anchors not loaded");

    out->step = "json";
    CCC_TRY(ccc_client_config_json_parse(json, &cj));

    /* the key configuration, signed by the pinned kms key (§9) */
    out->step = "key configuration";
    CCC_TRY(ccc_kms_config_verify(ccc_buf_bytes(&cj.kms_config), trust->kms_pub, &out->kms));
    CCC_CHECK(out->kms.key_count > 0, CCC_ERR_PARSE, "key configuration lists no key");

    /* the policy bundle, signed by the pinned policy key */
    out->step = "policy";
    CCC_TRY(ccc_policy_verify(ccc_buf_bytes(&cj.policy), trust->policy_pub, &out->policy,
                              out->policy_sha256));

    /* §12: "its hash equals the configuration's policy_sha256" */
    out->step = "policy hash";
    CCC_CHECK(ccc_ct_equal(out->policy_sha256, out->kms.policy_sha256, 32), CCC_ERR_POLICY,
              "policy bundle is not the policy the key service enforces");

    out->step = "attestation";
    for (size_t i = 0; i < cj.attestation_count; i++) {
        CCC_TRY(ccc_client_attestation_verify(trust, out, ccc_buf_bytes(&cj.attestations[i]),
                                              now_ms, &doc, &out->pcr_set[i]));
        ccc_attest_doc_wipe(&doc);
        out->attestation_count = i + 1;
    }

    /* last, so only a configuration that passed everything is recorded */
    out->step = "anti-rollback";
    if (state_path) {
        CCC_TRY(make_parent_dirs(state_path));
        CCC_TRY(ccc_policy_rollback_check(state_path, out->policy.version, out->policy_sha256));
        out->rollback_checked = true;
    }
    out->step = "ok";
out:
    ccc_attest_doc_wipe(&doc);
    ccc_client_config_json_wipe(&cj);
    if (st != CCC_OK) {
        const char *step = out->step;
        ccc_client_config_init(out);
        out->step = step;
    }
    return st;
}

/* ------------------------------------------------------------------------ */
/* Sealing a photo (§3)                                                      */
/* ------------------------------------------------------------------------ */

void ccc_client_job_init(ccc_client_job *j)
{
    memset(j, 0, sizeof *j);
    ccc_ohttp_ctx_init(&j->ctx);
    ccc_buf_init(&j->enc_request, 0);
}

void ccc_client_job_wipe(ccc_client_job *j)
{
    ccc_ohttp_ctx_wipe(&j->ctx);
    ccc_buf_wipe(&j->enc_request);
    ccc_wipe(j->request_sha256, sizeof j->request_sha256);
    memset(j->id, 0, sizeof j->id);
    j->sealed = false;
}

bool ccc_client_job_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > CCC_RECEIPT_MAX_JOB_ID)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

static bool is_jpeg_or_png(ccc_bytes p)
{
    static const uint8_t jpeg[3] = {0xff, 0xd8, 0xff};
    static const uint8_t png[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
    return (p.size >= sizeof jpeg && memcmp(p.ptr, jpeg, sizeof jpeg) == 0) ||
           (p.size >= sizeof png && memcmp(p.ptr, png, sizeof png) == 0);
}

ccc_status ccc_client_job_seal(const ccc_client_config *cfg, ccc_bytes photo, const char *job_id,
                               ccc_client_job *job)
{
    ccc_status st = CCC_OK;
    CCC_ENSURE(!job->sealed && job->ctx.state == CCC_OHTTP_EMPTY, CCC_ERR_USAGE,
               "job already sealed");
    CCC_ENSURE(cfg->kms.key_count > 0, CCC_ERR_USAGE, "no verified key configuration");
    /* §3: "the photo's bytes exactly as the file holds them (a JPEG FF D8
     * FF … or a PNG 89 50 4E 47 …)" — anything else would only be refused
     * by the enclave after the upload. */
    CCC_ENSURE(photo.ptr && is_jpeg_or_png(photo), CCC_ERR_UNSUPPORTED,
               "not a JPEG or PNG photo (refused before encryption)");
    /* The enclave's decoder limits (src/image), read from the header only:
     * a 48-megapixel phone photo is refused here, not after its upload. */
    ccc_image_format format;
    uint32_t width = 0, height = 0;
    st = ccc_image_probe(photo, NULL, &format, &width, &height);
    if (st == CCC_ERR_LIMIT)
        CCC_BAIL(CCC_ERR_LIMIT, "photo over the enclave's image limits (8192 pixels a side, 40 "
                                "megapixels): resize it (refused before encryption)");
    st = CCC_OK; /* a header it cannot read is the enclave's to refuse */
    /* §11: the policy's tou.max_body_bytes bounds the whole enc_request */
    CCC_ENSURE(photo.size <= MAX_PHOTO_SIZE &&
                   photo.size + CCC_OHTTP_REQUEST_OVERHEAD <= cfg->policy.tou_max_body_bytes,
               CCC_ERR_LIMIT, "photo over the policy's request size limit (tou.max_body_bytes)");
    if (job_id) {
        CCC_ENSURE(ccc_client_job_id_ok(job_id), CCC_ERR_USAGE,
                   "job id must be 1..256 characters of A-Z a-z 0-9 . _ : -");
        memcpy(job->id, job_id, strlen(job_id) + 1);
    } else {
        uint8_t rnd[CCC_CLIENT_JOB_ID_SIZE / 2];
        CCC_ENSURE(RAND_bytes(rnd, sizeof rnd) == 1, CCC_ERR_INTERNAL, "no randomness");
        ccc_hex_encode(rnd, sizeof rnd, job->id);
    }
    ccc_hpke_suite suite;
    CCC_TRY(ccc_ohttp_key_config_choose(&cfg->kms.keys[0], CCC_HPKE_AEAD_AES_256_GCM, &suite));
    size_t total = photo.size + CCC_OHTTP_REQUEST_OVERHEAD;
    ccc_buf_wipe(&job->enc_request);
    ccc_buf_init(&job->enc_request, total);
    uint8_t *p = NULL;
    CCC_TRY(ccc_buf_extend(&job->enc_request, total, &p));
    size_t n = 0;
    CCC_TRY(ccc_ohttp_request_encapsulate(&job->ctx, &cfg->kms.keys[0], suite, photo.ptr,
                                          photo.size, p, total, &n));
    CCC_CHECK(n == total, CCC_ERR_INTERNAL, "OHTTP request size");
    CCC_TRY(ccc_sha256(ccc_buf_bytes(&job->enc_request), job->request_sha256));
    job->sealed = true;
out:
    if (st != CCC_OK)
        ccc_client_job_wipe(job);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Opening a done job                                                        */
/* ------------------------------------------------------------------------ */

void ccc_client_result_init(ccc_client_result *r)
{
    memset(r, 0, sizeof *r);
    ccc_buf_init_secret(&r->answer_json, CCC_EGRESS_MAX_ANSWER_SIZE);
    ccc_buf_init(&r->receipt, CCC_RECEIPT_MAX_SIZE);
    ccc_buf_init(&r->attestation, CCC_ATTEST_MAX_DOC_SIZE);
    r->step = "none";
}

void ccc_client_result_wipe(ccc_client_result *r)
{
    ccc_buf_wipe(&r->answer_json);
    ccc_buf_wipe(&r->receipt);
    ccc_buf_wipe(&r->attestation);
    ccc_wipe(&r->answer, sizeof r->answer);
    ccc_wipe(r->answer_salt, sizeof r->answer_salt);
    r->seq = r->time_ms = r->attempt = 0;
    r->pcr_set = 0;
}

ccc_status ccc_client_result_open_parsed(const ccc_client_trust *trust,
                                         const ccc_client_config *cfg, ccc_client_job *job,
                                         const ccc_client_job_json *jj, uint64_t now_ms,
                                         ccc_client_result *out)
{
    ccc_status st = CCC_OK;
    ccc_attest_doc doc;
    ccc_attest_doc_init(&doc);
    ccc_receipt_msg m;
    ccc_receipt_msg_init(&m);
    uint8_t answer_sha[32];
    ccc_client_result_wipe(out);
    ccc_client_result_init(out);

    out->step = "job";
    CCC_CHECK(job->sealed && job->ctx.state == CCC_OHTTP_CLIENT_SENT, CCC_ERR_USAGE,
              "job not sealed, or its answer already opened");
    CCC_CHECK(jj->state == CCC_CLIENT_JOB_DONE, CCC_ERR_USAGE, "job is not done");
    CCC_CHECK(strcmp(jj->id, job->id) == 0, CCC_ERR_POLICY,
              "job id mismatch: the server answered for another job");

    /* §12 "the attestation document that signed the receipt" */
    out->step = "attestation";
    CCC_TRY(ccc_client_attestation_verify(trust, cfg, ccc_buf_bytes(&jj->attestation), now_ms,
                                          &doc, &out->pcr_set));

    /* "then the receipt against that document, the job id, the request
     * ciphertext, ..., the policy hash and the policy's manifests" */
    out->step = "receipt";
    CCC_TRY(ccc_receipt_parse(&m, ccc_buf_bytes(&jj->receipt)));
    ccc_receipt_expect ex = {
        .job_id = job->id,
        .request_sha256 = job->request_sha256,
        .policy_sha256 = cfg->policy_sha256,
        .model_allowed = (const uint8_t(*)[32])cfg->policy.manifests,
        .model_allowed_count = cfg->policy.manifest_count,
    };
    CCC_TRY(ccc_receipt_verify(&m, &doc, &ex));

    /* the answer's salt (receipt.h): only we and the enclave can derive it */
    CCC_TRY(ccc_hpke_ctx_export(&job->ctx.hpke,
                                ccc_bytes_of(CCC_RECEIPT_ANSWER_SALT_LABEL,
                                             sizeof CCC_RECEIPT_ANSWER_SALT_LABEL - 1),
                                out->answer_salt, sizeof out->answer_salt));

    /* RFC 9458 §4.4 with our request context; no plaintext unless the tag
     * verifies (a failure leaves the context usable) */
    out->step = "decrypt";
    size_t room = jj->response.size < CCC_EGRESS_MAX_ANSWER_SIZE ? jj->response.size
                                                                 : CCC_EGRESS_MAX_ANSWER_SIZE;
    uint8_t *p = NULL;
    CCC_TRY(ccc_buf_extend(&out->answer_json, room, &p));
    size_t n = 0;
    st = ccc_ohttp_response_decapsulate(&job->ctx, jj->response.data, jj->response.size, p, room,
                                        &n);
    out->answer_json.size = st == CCC_OK ? n : 0;
    CCC_TRY(st);

    out->step = "answer";
    ccc_egress_policy ep = ccc_egress_policy_from_limits(cfg->policy.egress_max_answer_bytes,
                                                         cfg->policy.egress_max_boxes);
    CCC_TRY(ccc_egress_check(ccc_buf_bytes(&out->answer_json), &ep, &out->answer));

    /* the receipt's answer_sha256 binds exactly these bytes (salted) */
    out->step = "answer hash";
    CCC_TRY(ccc_receipt_answer_commit(out->answer_salt, ccc_buf_bytes(&out->answer_json),
                                      answer_sha));
    ex.answer_sha256 = answer_sha;
    CCC_TRY(ccc_receipt_verify(&m, &doc, &ex));

    CCC_TRY(ccc_buf_append_bytes(&out->receipt, ccc_buf_bytes(&jj->receipt)));
    CCC_TRY(ccc_buf_append_bytes(&out->attestation, ccc_buf_bytes(&jj->attestation)));
    out->attempt = jj->attempt;
    out->seq = m.receipt.seq;
    out->time_ms = m.receipt.time_ms;
    out->step = "ok";
out:
    ccc_receipt_msg_wipe(&m);
    ccc_attest_doc_wipe(&doc);
    if (st != CCC_OK) {
        const char *step = out->step;
        ccc_client_result_wipe(out);
        ccc_client_result_init(out);
        out->step = step;
    }
    return st;
}

ccc_status ccc_client_result_open(const ccc_client_trust *trust, const ccc_client_config *cfg,
                                  ccc_client_job *job, ccc_bytes job_json, uint64_t now_ms,
                                  ccc_client_result *out)
{
    ccc_client_job_json jj;
    ccc_client_job_json_init(&jj);
    ccc_status st = ccc_client_job_json_parse(job_json, &jj);
    if (st == CCC_OK)
        st = ccc_client_result_open_parsed(trust, cfg, job, &jj, now_ms, out);
    else {
        ccc_client_result_wipe(out);
        ccc_client_result_init(out);
        out->step = "job";
    }
    ccc_client_job_json_wipe(&jj);
    return st;
}
