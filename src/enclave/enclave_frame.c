/*
 * enclave — the frame service: job_request in, job_result / job_error out,
 * ping/pong, attest_request / attest_response. Body formats: the frame
 * table in enclave.h.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include "attest/attest.h"
#include "cbor/cbor.h"
#include "enclave/enclave.h"
#include "enclave/internal.h"
#include "log/log.h"

ccc_status ccc_enclave_job_request_encode(const char *job_id, size_t job_id_size,
                                          ccc_bytes enc_request, ccc_buf *out)
{
    /* Canonical order: "job_id" (6 bytes) before "request" (7 bytes). */
    CCC_GUARD(ccc_cbor_put_map(out, 2));
    CCC_GUARD(ccc_cbor_put_cstr(out, "job_id"));
    CCC_GUARD(ccc_cbor_put_text(out, job_id, job_id_size));
    CCC_GUARD(ccc_cbor_put_cstr(out, "request"));
    return ccc_cbor_put_bytes(out, enc_request.ptr, enc_request.size);
}

ccc_status ccc_enclave_job_request_decode(ccc_bytes body, ccc_bytes *job_id, ccc_bytes *request)
{
    ccc_status st = CCC_OK;
    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    ccc_cbor_limits lim = ccc_cbor_limits_default();
    lim.max_input_size = CCC_FRAME_MAX_BODY_SIZE;
    lim.max_string_size = CCC_ENCLAVE_MAX_REQUEST_SIZE;
    lim.max_items = 5;
    lim.max_depth = 1;
    CCC_TRY(ccc_cbor_decode(&doc, body, &lim, CCC_CBOR_CANONICAL));
    const ccc_cbor_item *root = ccc_cbor_doc_root(&doc);
    size_t pairs = 0;
    CCC_TRY(ccc_cbor_get_map(root, &pairs));
    CCC_CHECK(pairs == 2, CCC_ERR_PARSE, "enclave: job_request must have exactly 2 keys");
    const ccc_cbor_item *id = NULL, *req = NULL;
    CCC_TRY(ccc_cbor_map_get_text(root, "job_id", &id));
    CCC_TRY(ccc_cbor_map_get_text(root, "request", &req));
    CCC_TRY(ccc_cbor_get_text(id, job_id));
    CCC_TRY(ccc_cbor_get_bytes(req, request));
    CCC_CHECK(job_id->size >= 1 && job_id->size <= CCC_ENCLAVE_MAX_JOB_ID, CCC_ERR_PARSE,
              "enclave: job id must be 1..256 bytes");
    for (size_t i = 0; i < job_id->size; i++)
        CCC_CHECK(job_id->ptr[i] >= 0x21 && job_id->ptr[i] <= 0x7e, CCC_ERR_PARSE,
                  "enclave: job id must be printable ASCII without space");
out:
    /* The views point into `body`, not into the doc's arena. */
    ccc_cbor_doc_wipe(&doc);
    if (st != CCC_OK) {
        *job_id = ccc_bytes_of(NULL, 0);
        *request = ccc_bytes_of(NULL, 0);
    }
    return st;
}

static ccc_status encode_result(ccc_bytes job_id, const ccc_enclave_result *r, ccc_buf *out)
{
    /* Canonical order: "job_id" (6), "receipt" (7), "response" (8). */
    CCC_GUARD(ccc_cbor_put_map(out, 3));
    CCC_GUARD(ccc_cbor_put_cstr(out, "job_id"));
    CCC_GUARD(ccc_cbor_put_text(out, (const char *)job_id.ptr, job_id.size));
    CCC_GUARD(ccc_cbor_put_cstr(out, "receipt"));
    CCC_GUARD(ccc_cbor_put_bytes(out, r->receipt.data, r->receipt.size));
    CCC_GUARD(ccc_cbor_put_cstr(out, "response"));
    return ccc_cbor_put_bytes(out, r->response.data, r->response.size);
}

static ccc_status encode_error(ccc_bytes job_id, ccc_status job_st, ccc_buf *out)
{
    /* Canonical order: "class" (5) before "job_id" (6). */
    CCC_GUARD(ccc_cbor_put_map(out, 2));
    CCC_GUARD(ccc_cbor_put_cstr(out, "class"));
    CCC_GUARD(ccc_cbor_put_cstr(out, ccc_status_name(job_st)));
    CCC_GUARD(ccc_cbor_put_cstr(out, "job_id"));
    return ccc_cbor_put_text(out, (const char *)job_id.ptr, job_id.size);
}

ccc_status ccc_enclave_handle_frame(ccc_enclave *e, ccc_frame_type type, ccc_bytes body,
                                    uint64_t now_ms, ccc_frame_type *reply_type, ccc_buf *reply)
{
    ccc_buf_reset(reply);
    if (type == CCC_FRAME_PING) {
        CCC_ENSURE(body.size <= ccc_frame_type_max_size(CCC_FRAME_PING), CCC_ERR_LIMIT,
                   "enclave: ping token too long");
        *reply_type = CCC_FRAME_PONG;
        return ccc_buf_append_bytes(reply, body);
    }
    if (type == CCC_FRAME_ATTEST_REQUEST) {
        /* docs/protocol.md §10: "0x20 attest_request (empty body) -> 0x21
         * attest_response: the current receipt-key document". */
        CCC_ENSURE(body.size == 0, CCC_ERR_PARSE, "enclave: attest_request body must be empty");
        ccc_bytes doc = ccc_enclave_attestation(e);
        CCC_ENSURE(doc.size > 0, CCC_ERR_BUSY, "enclave: no attestation document yet");
        *reply_type = CCC_FRAME_ATTEST_RESPONSE;
        return ccc_buf_append_bytes(reply, doc);
    }
    CCC_ENSURE(type == CCC_FRAME_JOB_REQUEST, CCC_ERR_PARSE, "enclave: unexpected frame type");
    ccc_bytes job_id, request;
    CCC_GUARD(ccc_enclave_job_request_decode(body, &job_id, &request));
    ccc_enclave_result r;
    ccc_enclave_result_init(&r);
    ccc_status job_st = ccc_enclave_process_job(e, (const char *)job_id.ptr, job_id.size,
                                                request, now_ms, &r);
    ccc_status st;
    if (job_st == CCC_OK) {
        *reply_type = CCC_FRAME_JOB_RESULT;
        st = encode_result(job_id, &r, reply);
    } else {
        *reply_type = CCC_FRAME_JOB_ERROR;
        st = encode_error(job_id, job_st, reply);
    }
    ccc_enclave_result_wipe(&r);
    if (st != CCC_OK)
        ccc_buf_reset(reply);
    return st;
}

ccc_status ccc_enclave_wait(int fd, int stop_fd, int timeout_ms, ccc_enclave_wait_result *out)
{
    uint64_t deadline = timeout_ms >= 0 ? ccc_now_ns() + (uint64_t)timeout_ms * 1000000u : 0;
    for (;;) {
        struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
        int left = -1;
        if (timeout_ms >= 0) {
            uint64_t now = ccc_now_ns();
            left = now >= deadline ? 0 : (int)((deadline - now + 999999u) / 1000000u);
        }
        int n = poll(p, stop_fd >= 0 ? 2 : 1, left);
        if (n < 0 && errno == EINTR)
            continue;
        CCC_ENSURE(n >= 0, CCC_ERR_IO, "enclave: poll failed");
        if (stop_fd >= 0 && p[1].revents != 0)
            *out = CCC_ENCLAVE_WAIT_STOP;
        else if (p[0].revents != 0)
            *out = CCC_ENCLAVE_WAIT_READY; /* POLLHUP/POLLERR: the read reports it */
        else if (n == 0)
            *out = CCC_ENCLAVE_WAIT_TIMEOUT;
        else
            continue;
        return CCC_OK;
    }
}

ccc_status ccc_enclave_serve(ccc_enclave *e, int fd)
{
    bool stopped = false;
    return ccc_enclave_serve_until(e, fd, -1, &stopped);
}

ccc_status ccc_enclave_serve_until(ccc_enclave *e, int fd, int stop_fd, bool *stopped)
{
    ccc_status st = CCC_OK;
    ccc_buf body, reply;
    ccc_buf_init(&body, CCC_FRAME_MAX_BODY_SIZE);
    /* The largest reply: a job_result, or a whole attestation document. */
    size_t result_max = 2u * CCC_RECEIPT_MAX_SIZE + CCC_ENCLAVE_MAX_RESPONSE_SIZE + 1024u;
    ccc_buf_init(&reply, result_max > CCC_ATTEST_MAX_DOC_SIZE ? result_max
                                                              : CCC_ATTEST_MAX_DOC_SIZE);
    *stopped = false;
    for (;;) {
        ccc_frame_type type;
        if (stop_fd >= 0) {
            ccc_enclave_wait_result w = CCC_ENCLAVE_WAIT_READY;
            st = ccc_enclave_wait(fd, stop_fd, -1, &w);
            if (st != CCC_OK)
                break;
            if (w == CCC_ENCLAVE_WAIT_STOP) {
                *stopped = true;
                break;
            }
        }
        st = ccc_frame_read(fd, &type, &body);
        if (st == CCC_ERR_NOT_FOUND) { /* clean close between frames */
            st = CCC_OK;
            break;
        }
        if (st != CCC_OK)
            break;
        ccc_frame_type reply_type = CCC_FRAME_PONG;
        st = ccc_enclave_handle_frame(e, type, ccc_buf_bytes(&body), ccc_wall_ms(), &reply_type,
                                      &reply);
        ccc_buf_reset(&body);
        if (st != CCC_OK)
            break;
        st = ccc_frame_write(fd, reply_type, ccc_buf_bytes(&reply));
        if (st != CCC_OK)
            break;
    }
    if (st != CCC_OK)
        ccc_log(CCC_LOG_WARN, CCC_EV_ERROR, ccc_log_status(st), CCC_LOG_END);
    ccc_buf_wipe(&body);
    ccc_buf_wipe(&reply);
    return st;
}
