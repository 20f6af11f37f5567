/* host: the few bytes the host reads (OHTTP header, ids, paths, the kms
 * config payload, the job frames' CBOR maps) and the stored result record.
 * Everything here is pure and fuzzed (fuzz/fuzz_http_job.c). */
#include "host/host.h"

#include <math.h>
#include <string.h>

#include "cbor/cbor.h"
#include "cose/cose.h"
#include "frame/frame.h"

/* §11: "body shorter than 7 + 32 + 16 ... 400 parse" */
#define MIN_BODY (CCC_OHTTP_HEADER_SIZE + CCC_HPKE_ENC_SIZE + CCC_HPKE_TAG_SIZE)

static bool cfg_offers(const ccc_ohttp_key_config *c, uint16_t kem, uint16_t kdf, uint16_t aead)
{
    if (c->kem_id != kem)
        return false;
    for (size_t i = 0; i < c->alg_count && i < CCC_OHTTP_MAX_ALGS; i++)
        if (c->algs[i].kdf_id == kdf && c->algs[i].aead_id == aead)
            return true;
    return false;
}

ccc_status ccc_host_job_body_check(ccc_bytes body, const ccc_ohttp_key_config *cfgs, size_t count,
                                   uint8_t *key_id)
{
    CCC_ENSURE(body.size >= MIN_BODY, CCC_ERR_PARSE, "body shorter than an OHTTP request");
    /* RFC 9458 §4.3: hdr = key_id(8) kem_id(16) kdf_id(16) aead_id(16) */
    ccc_reader r;
    ccc_reader_init(&r, body.ptr, CCC_OHTTP_HEADER_SIZE);
    uint8_t kid;
    uint16_t kem, kdf, aead;
    CCC_GUARD(ccc_reader_u8(&r, &kid));
    CCC_GUARD(ccc_reader_be16(&r, &kem));
    CCC_GUARD(ccc_reader_be16(&r, &kdf));
    CCC_GUARD(ccc_reader_be16(&r, &aead));
    if (key_id)
        *key_id = kid;
    for (size_t i = 0; i < count; i++) {
        if (cfgs[i].key_id != kid)
            continue;
        CCC_ENSURE(cfg_offers(&cfgs[i], kem, kdf, aead), CCC_ERR_UNSUPPORTED,
                   "suite not offered by the key configuration");
        return CCC_OK;
    }
    bool any = false;
    for (size_t i = 0; i < count; i++)
        any = any || cfg_offers(&cfgs[i], kem, kdf, aead);
    CCC_ENSURE(any, CCC_ERR_UNSUPPORTED, "suite not offered by the key configuration");
    CCC_BAIL(CCC_ERR_NOT_FOUND, "unknown key id");
}

ccc_status ccc_host_job_id_check(const char *id, size_t size)
{
    /* §11: "CCC-Job-Id (optional) not 1..256 bytes of 0x21..0x7e → 400 usage" */
    CCC_ENSURE(id && size >= 1 && size <= CCC_QUEUE_ID_MAX, CCC_ERR_USAGE, "bad job id length");
    for (size_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char)id[i];
        CCC_ENSURE(c >= 0x21 && c <= 0x7e, CCC_ERR_USAGE, "bad job id byte");
    }
    return CCC_OK;
}

static const char *const route_names[CCC_HOST_ROUTE_COUNT] = {
    [CCC_HOST_ROUTE_OTHER] = "other",         [CCC_HOST_ROUTE_CONFIG] = "config",
    [CCC_HOST_ROUTE_JOBS_POST] = "jobs_post", [CCC_HOST_ROUTE_JOBS_GET] = "jobs_get",
    [CCC_HOST_ROUTE_HEALTHZ] = "healthz",     [CCC_HOST_ROUTE_METRICS] = "metrics",
    [CCC_HOST_ROUTE_STATIC] = "static",
};

const char *ccc_host_route_name(ccc_host_route r)
{
    return (unsigned)r < CCC_HOST_ROUTE_COUNT ? route_names[r] : "other";
}

static bool static_name_ok(const char *n, size_t len)
{
    /* §11: "names [A-Za-z0-9._-]+ only"; and never "." / ".." / dot files. */
    if (len == 0 || len > 255 || n[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

ccc_host_route ccc_host_route_parse(const char *method, const char *path,
                                    char id[static CCC_QUEUE_ID_MAX + 1], char name[static 256])
{
    id[0] = '\0';
    name[0] = '\0';
    if (!method || !path)
        return CCC_HOST_ROUTE_OTHER;
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    if (post)
        return strcmp(path, "/v1/jobs") == 0 ? CCC_HOST_ROUTE_JOBS_POST : CCC_HOST_ROUTE_OTHER;
    if (!get)
        return CCC_HOST_ROUTE_OTHER;
    if (strcmp(path, "/v1/config") == 0)
        return CCC_HOST_ROUTE_CONFIG;
    if (strcmp(path, "/healthz") == 0)
        return CCC_HOST_ROUTE_HEALTHZ;
    if (strcmp(path, "/metrics") == 0)
        return CCC_HOST_ROUTE_METRICS;
    static const char jobs[] = "/v1/jobs/";
    if (strncmp(path, jobs, sizeof jobs - 1) == 0) {
        const char *p = path + sizeof jobs - 1;
        size_t n = strlen(p);
        if (ccc_host_job_id_check(p, n) != CCC_OK || memchr(p, '/', n))
            return CCC_HOST_ROUTE_OTHER;
        memcpy(id, p, n);
        id[n] = '\0';
        return CCC_HOST_ROUTE_JOBS_GET;
    }
    if (strcmp(path, "/") == 0) {
        strcpy(name, "index.html");
        return CCC_HOST_ROUTE_STATIC;
    }
    if (path[0] == '/') {
        size_t n = strlen(path + 1);
        if (!static_name_ok(path + 1, n))
            return CCC_HOST_ROUTE_OTHER;
        memcpy(name, path + 1, n);
        name[n] = '\0';
        return CCC_HOST_ROUTE_STATIC;
    }
    return CCC_HOST_ROUTE_OTHER;
}

ccc_status ccc_host_kms_config_parse(ccc_bytes signed_config, ccc_ohttp_key_config *cfgs,
                                     size_t max_count, size_t *count)
{
    ccc_status st;
    ccc_cose_sign1 msg;
    ccc_cbor_doc doc;
    ccc_cose_sign1_init(&msg);
    ccc_cbor_doc_init(&doc);
    *count = 0;
    CCC_TRY(ccc_cose_sign1_parse(&msg, signed_config, NULL));
    CCC_CHECK(!msg.detached, CCC_ERR_PARSE, "kms config without payload");
    /* §9: payload = deterministic CBOR {"v": 1, "keys": bstr, "time_ms", "policy_sha256"} */
    CCC_TRY(ccc_cbor_decode(&doc, msg.payload, NULL, CCC_CBOR_CANONICAL));
    const ccc_cbor_item *root = ccc_cbor_doc_root(&doc), *it;
    uint64_t v;
    ccc_bytes keys;
    CCC_TRY(ccc_cbor_map_get_text(root, "v", &it));
    CCC_TRY(ccc_cbor_get_uint(it, &v));
    CCC_CHECK(v == 1, CCC_ERR_UNSUPPORTED, "kms config version");
    CCC_TRY(ccc_cbor_map_get_text(root, "keys", &it));
    CCC_TRY(ccc_cbor_get_bytes(it, &keys));
    ccc_reader r;
    ccc_reader_init(&r, keys.ptr, keys.size);
    CCC_TRY(ccc_ohttp_key_configs_decode(&r, cfgs, max_count, count));
out:
    if (st != CCC_OK)
        *count = 0;
    ccc_cbor_doc_wipe(&doc);
    ccc_cose_sign1_wipe(&msg);
    return st;
}

ccc_status ccc_host_job_request_encode(const char *job_id, ccc_bytes request, ccc_buf *out)
{
    /* §6: {"job_id": tstr, "request": bstr}; "job_id" (0x66..) sorts before
     * "request" (0x67..) in canonical order. */
    CCC_GUARD(ccc_host_job_id_check(job_id, strlen(job_id)));
    CCC_GUARD(ccc_cbor_put_map(out, 2));
    CCC_GUARD(ccc_cbor_put_cstr(out, "job_id"));
    CCC_GUARD(ccc_cbor_put_cstr(out, job_id));
    CCC_GUARD(ccc_cbor_put_cstr(out, "request"));
    return ccc_cbor_put_bytes(out, request.ptr, request.size);
}

/* Decode a canonical map of exactly `n` pairs; the caller looks keys up. */
static ccc_status decode_map(ccc_cbor_doc *doc, ccc_bytes body, size_t n)
{
    ccc_cbor_limits lim = ccc_cbor_limits_default();
    lim.max_input_size = CCC_FRAME_MAX_BODY_SIZE;
    lim.max_string_size = CCC_FRAME_MAX_BODY_SIZE;
    lim.max_items = 16;
    lim.max_depth = 2;
    CCC_GUARD(ccc_cbor_decode(doc, body, &lim, CCC_CBOR_CANONICAL));
    size_t pairs;
    CCC_GUARD(ccc_cbor_get_map(ccc_cbor_doc_root(doc), &pairs));
    CCC_ENSURE(pairs == n, CCC_ERR_PARSE, "unexpected number of keys");
    return CCC_OK;
}

static ccc_status map_bytes(const ccc_cbor_item *map, const char *key, ccc_bytes *out)
{
    const ccc_cbor_item *it;
    CCC_GUARD(ccc_cbor_map_get_text(map, key, &it));
    return ccc_cbor_get_bytes(it, out);
}

static ccc_status map_text(const ccc_cbor_item *map, const char *key, ccc_bytes *out)
{
    const ccc_cbor_item *it;
    CCC_GUARD(ccc_cbor_map_get_text(map, key, &it));
    return ccc_cbor_get_text(it, out);
}

static ccc_status check_job_id(const ccc_cbor_item *map, const char *job_id)
{
    ccc_bytes id;
    CCC_GUARD(map_text(map, "job_id", &id));
    CCC_ENSURE(id.size == strlen(job_id) && memcmp(id.ptr, job_id, id.size) == 0, CCC_ERR_PARSE,
               "answer for another job");
    return CCC_OK;
}

ccc_status ccc_host_job_result_decode(ccc_bytes body, const char *job_id, ccc_bytes *receipt,
                                      ccc_bytes *response)
{
    ccc_status st;
    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    CCC_TRY(decode_map(&doc, body, 3));
    const ccc_cbor_item *root = ccc_cbor_doc_root(&doc);
    CCC_TRY(check_job_id(root, job_id));
    CCC_TRY(map_bytes(root, "receipt", receipt));
    CCC_TRY(map_bytes(root, "response", response));
out:
    ccc_cbor_doc_wipe(&doc); /* the views point into body, not the doc */
    return st;
}

static ccc_status status_from_name(ccc_bytes name)
{
    for (int i = 1; i < (int)CCC_STATUS_COUNT; i++) {
        const char *n = ccc_status_name((ccc_status)i);
        if (strlen(n) == name.size && memcmp(n, name.ptr, name.size) == 0)
            return (ccc_status)i;
    }
    return CCC_ERR_INTERNAL;
}

ccc_status ccc_host_job_error_decode(ccc_bytes body, const char *job_id, ccc_status *class_st)
{
    ccc_status st;
    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    CCC_TRY(decode_map(&doc, body, 2));
    const ccc_cbor_item *root = ccc_cbor_doc_root(&doc);
    CCC_TRY(check_job_id(root, job_id));
    ccc_bytes cls;
    CCC_TRY(map_text(root, "class", &cls));
    *class_st = status_from_name(cls);
out:
    ccc_cbor_doc_wipe(&doc);
    return st;
}

bool ccc_host_class_is_permanent(ccc_status st)
{
    /* §11: "a class that cannot change on retry (parse, limit, unsupported,
     * crypto, policy, replay, not_found, usage)" */
    switch (st) {
    case CCC_ERR_PARSE:
    case CCC_ERR_LIMIT:
    case CCC_ERR_UNSUPPORTED:
    case CCC_ERR_CRYPTO:
    case CCC_ERR_POLICY:
    case CCC_ERR_REPLAY:
    case CCC_ERR_NOT_FOUND:
    case CCC_ERR_USAGE:
        return true;
    default:
        return false;
    }
}

ccc_status ccc_host_record_encode(const ccc_host_record *rec, ccc_buf *out)
{
    ccc_status st;
    ccc_cbor_mapb mb;
    ccc_cbor_mapb_init(&mb, CCC_QUEUE_DEFAULT_MAX_RESULT_SIZE);
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "v"));
    CCC_TRY(ccc_cbor_put_uint(ccc_cbor_mapb_value(&mb), 1));
    CCC_TRY(ccc_cbor_mapb_key_text(&mb, "body_sha256"));
    CCC_TRY(ccc_cbor_put_bytes(ccc_cbor_mapb_value(&mb), rec->body_sha256, 32));
    if (rec->error != CCC_OK) {
        CCC_TRY(ccc_cbor_mapb_key_text(&mb, "error"));
        CCC_TRY(ccc_cbor_put_cstr(ccc_cbor_mapb_value(&mb), ccc_status_name(rec->error)));
    } else {
        CCC_TRY(ccc_cbor_mapb_key_text(&mb, "attestation"));
        CCC_TRY(ccc_cbor_put_bytes(ccc_cbor_mapb_value(&mb), rec->attestation.ptr,
                                   rec->attestation.size));
        CCC_TRY(ccc_cbor_mapb_key_text(&mb, "receipt"));
        CCC_TRY(ccc_cbor_put_bytes(ccc_cbor_mapb_value(&mb), rec->receipt.ptr, rec->receipt.size));
        CCC_TRY(ccc_cbor_mapb_key_text(&mb, "response"));
        CCC_TRY(
            ccc_cbor_put_bytes(ccc_cbor_mapb_value(&mb), rec->response.ptr, rec->response.size));
    }
    CCC_TRY(ccc_cbor_mapb_finish(&mb, out));
out:
    ccc_cbor_mapb_wipe(&mb);
    return st;
}

ccc_status ccc_host_record_decode(ccc_bytes in, ccc_host_record *rec)
{
    ccc_status st;
    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    memset(rec, 0, sizeof *rec);
    ccc_cbor_limits lim = ccc_cbor_limits_default();
    lim.max_input_size = CCC_QUEUE_DEFAULT_MAX_RESULT_SIZE;
    lim.max_string_size = CCC_QUEUE_DEFAULT_MAX_RESULT_SIZE;
    CCC_TRY(ccc_cbor_decode(&doc, in, &lim, CCC_CBOR_CANONICAL));
    const ccc_cbor_item *root = ccc_cbor_doc_root(&doc), *it;
    size_t pairs;
    uint64_t v;
    ccc_bytes h;
    CCC_TRY(ccc_cbor_get_map(root, &pairs));
    CCC_TRY(ccc_cbor_map_get_text(root, "v", &it));
    CCC_TRY(ccc_cbor_get_uint(it, &v));
    CCC_CHECK(v == 1, CCC_ERR_UNSUPPORTED, "result record version");
    CCC_TRY(map_bytes(root, "body_sha256", &h));
    CCC_CHECK(h.size == 32, CCC_ERR_PARSE, "body hash size");
    memcpy(rec->body_sha256, h.ptr, 32);
    if (pairs == 3) {
        ccc_bytes cls;
        CCC_TRY(map_text(root, "error", &cls));
        rec->error = status_from_name(cls);
    } else {
        CCC_CHECK(pairs == 5, CCC_ERR_PARSE, "result record keys");
        CCC_TRY(map_bytes(root, "attestation", &rec->attestation));
        CCC_TRY(map_bytes(root, "receipt", &rec->receipt));
        CCC_TRY(map_bytes(root, "response", &rec->response));
    }
out:
    ccc_cbor_doc_wipe(&doc);
    return st;
}

bool ccc_host_bucket_take(ccc_host_bucket *b, uint64_t rate_per_minute, uint64_t now_ms,
                          uint64_t *retry_after_s)
{
    /* §11: "per-client token bucket (policy tou.rate_per_minute, burst = one
     * minute's worth)" */
    double cap = (double)(rate_per_minute ? rate_per_minute : 1);
    if (!b->used) {
        b->used = true;
        b->tokens = cap;
        b->last_ms = now_ms;
    }
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * cap / 60000.0;
        if (b->tokens > cap)
            b->tokens = cap;
        b->last_ms = now_ms;
    }
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return true;
    }
    double wait_s = (1.0 - b->tokens) * 60.0 / cap;
    uint64_t s = (uint64_t)ceil(wait_s);
    *retry_after_s = s < 1 ? 1 : s;
    return false;
}
