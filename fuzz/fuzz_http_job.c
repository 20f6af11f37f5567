/*
 * ccc-host's parsers of request and frame bytes (src/host/host.h). The first
 * input byte picks the parser, the rest is its input; each mode checks an
 * oracle, not only "no crash":
 *   0  ccc_host_job_body_check against two fixed key configs: PARSE iff
 *      shorter than 55 bytes; OK only for a known key id with an offered
 *      suite; NOT_FOUND only for an unknown key id
 *   1  ccc_host_route_parse (method NUL path): a job id out of it passes
 *      ccc_host_job_id_check; a static name is [A-Za-z0-9._-]+, no leading dot
 *   2  ccc_host_job_id_check: OK iff 1..256 bytes of 0x21..0x7e
 *   3  ccc_host_kms_config_parse: every config decoded has alg pairs <= max
 *   4  ccc_host_job_result_decode (job id "j1"): views lie inside the input
 *   5  ccc_host_job_error_decode (job id "j1")
 *   6  ccc_host_record_decode: a decoded record re-encodes and decodes equal
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "host/host.h"

static void make_cfgs(ccc_ohttp_key_config cfgs[2])
{
    memset(cfgs, 0, 2 * sizeof cfgs[0]);
    for (int i = 0; i < 2; i++) {
        cfgs[i].key_id = (uint8_t)(i + 1);
        cfgs[i].kem_id = 0x0020;
        cfgs[i].alg_count = 2;
        cfgs[i].algs[0] = (ccc_ohttp_symmetric_alg){0x0001, 0x0002};
        cfgs[i].algs[1] = (ccc_ohttp_symmetric_alg){0x0001, 0x0003};
    }
}

static bool inside(ccc_bytes v, const uint8_t *data, size_t size)
{
    return v.size == 0 || (v.ptr >= data && v.ptr + v.size <= data + size);
}

static void body_mode(const uint8_t *data, size_t size)
{
    ccc_ohttp_key_config cfgs[2];
    make_cfgs(cfgs);
    uint8_t kid = 0;
    ccc_status st = ccc_host_job_body_check(ccc_bytes_of(data, size), cfgs, 2, &kid);
    if ((st == CCC_ERR_PARSE) != (size < 55))
        abort();
    if (st == CCC_OK && (kid < 1 || kid > 2 || data[1] != 0 || data[2] != 0x20))
        abort();
    if (st == CCC_ERR_NOT_FOUND && (kid == 1 || kid == 2))
        abort();
}

static void route_mode(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 2);
    if (!buf)
        return;
    memcpy(buf, data, size);
    buf[size] = '\0';
    buf[size + 1] = '\0';
    const char *method = buf;
    const char *path = buf + strlen(buf) + 1;
    if ((size_t)(path - buf) > size)
        path = buf + size + 1;
    char id[CCC_QUEUE_ID_MAX + 1], name[256];
    ccc_host_route r = ccc_host_route_parse(method, path, id, name);
    if (r == CCC_HOST_ROUTE_JOBS_GET &&
        (ccc_host_job_id_check(id, strlen(id)) != CCC_OK || strchr(id, '/')))
        abort();
    if (r == CCC_HOST_ROUTE_STATIC) {
        size_t n = strlen(name);
        if (n == 0 || name[0] == '.' || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
                                                     "QRSTUVWXYZ0123456789._-") != n)
            abort();
    }
    if (strcmp(ccc_host_route_name(r), "") == 0)
        abort();
    free(buf);
}

static void id_mode(const uint8_t *data, size_t size)
{
    bool want = size >= 1 && size <= 256;
    for (size_t i = 0; i < size && want; i++)
        want = data[i] >= 0x21 && data[i] <= 0x7e;
    if ((ccc_host_job_id_check((const char *)data, size) == CCC_OK) != want)
        abort();
}

static void config_mode(const uint8_t *data, size_t size)
{
    ccc_ohttp_key_config cfgs[CCC_HOST_MAX_KEY_CONFIGS];
    size_t n = 99;
    ccc_status st =
        ccc_host_kms_config_parse(ccc_bytes_of(data, size), cfgs, CCC_HOST_MAX_KEY_CONFIGS, &n);
    if (st != CCC_OK && n != 0)
        abort();
    for (size_t i = 0; st == CCC_OK && i < n; i++)
        if (cfgs[i].alg_count > CCC_OHTTP_MAX_ALGS || n > CCC_HOST_MAX_KEY_CONFIGS)
            abort();
}

static void frames_mode(const uint8_t *data, size_t size, bool result)
{
    ccc_bytes body = ccc_bytes_of(data, size);
    if (result) {
        ccc_bytes receipt = {0}, response = {0};
        if (ccc_host_job_result_decode(body, "j1", &receipt, &response) == CCC_OK &&
            (!inside(receipt, data, size) || !inside(response, data, size)))
            abort();
    } else {
        ccc_status cls = CCC_OK;
        if (ccc_host_job_error_decode(body, "j1", &cls) == CCC_OK &&
            (cls == CCC_OK || (unsigned)cls >= CCC_STATUS_COUNT))
            abort();
    }
}

static void record_mode(const uint8_t *data, size_t size)
{
    ccc_host_record rec, back;
    if (ccc_host_record_decode(ccc_bytes_of(data, size), &rec) != CCC_OK)
        return;
    ccc_buf out;
    ccc_buf_init(&out, (size_t)4 << 20);
    if (ccc_host_record_encode(&rec, &out) != CCC_OK ||
        ccc_host_record_decode(ccc_buf_bytes(&out), &back) != CCC_OK || back.error != rec.error ||
        memcmp(back.body_sha256, rec.body_sha256, 32) != 0 ||
        back.response.size != rec.response.size)
        abort();
    ccc_buf_wipe(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 7;
    data++;
    size--;
    switch (mode) {
    case 0: body_mode(data, size); break;
    case 1: route_mode(data, size); break;
    case 2: id_mode(data, size); break;
    case 3: config_mode(data, size); break;
    case 4: frames_mode(data, size, true); break;
    case 5: frames_mode(data, size, false); break;
    default: record_mode(data, size); break;
    }
    return 0;
}
