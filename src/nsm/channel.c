/* nsm: the client side — request/response encoding, framing, devices. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "cbor/cbor.h"
#include "nsm/nsm.h"

static ccc_status put_opt(ccc_buf *out, const char *key, ccc_bytes v)
{
    CCC_GUARD(ccc_cbor_put_cstr(out, key));
    return v.ptr ? ccc_cbor_put_bytes(out, v.ptr, v.size) : ccc_cbor_put_null(out);
}

ccc_status ccc_nsm_request_encode(ccc_bytes user_data, ccc_bytes nonce, ccc_bytes public_key,
                                  ccc_buf *out)
{
    /* aws-nitro-enclaves-nsm-api src/api/mod.rs: Request::Attestation {
     * user_data: Option<ByteBuf>, nonce: Option<ByteBuf>, public_key:
     * Option<ByteBuf> }, serialised by serde_cbor as an externally tagged
     * enum: {"Attestation": {...}}. */
    CCC_ENSURE(user_data.size <= CCC_NSM_MAX_USER_SIZE && nonce.size <= CCC_NSM_MAX_USER_SIZE &&
                   public_key.size <= CCC_NSM_MAX_USER_SIZE,
               CCC_ERR_LIMIT, "user_data, nonce and public_key are limited to 1024 bytes");
    CCC_GUARD(ccc_cbor_put_map(out, 1));
    CCC_GUARD(ccc_cbor_put_cstr(out, "Attestation"));
    CCC_GUARD(ccc_cbor_put_map(out, 3));
    CCC_GUARD(put_opt(out, "user_data", user_data));
    CCC_GUARD(put_opt(out, "nonce", nonce));
    return put_opt(out, "public_key", public_key);
}

ccc_status ccc_nsm_response_decode(ccc_bytes response, ccc_buf *doc)
{
    ccc_status st = CCC_OK;
    ccc_cbor_doc d;
    ccc_cbor_doc_init(&d);
    ccc_cbor_limits lim = ccc_cbor_limits_default();
    lim.max_input_size = CCC_NSM_MAX_FRAME;
    lim.max_items = 16;
    lim.max_depth = 3;
    CCC_TRY(ccc_cbor_decode(&d, response, &lim, 0));
    const ccc_cbor_item *root = ccc_cbor_doc_root(&d), *body, *v;
    size_t n;
    CCC_TRY(ccc_cbor_get_map(root, &n));
    CCC_CHECK(n == 1, CCC_ERR_PARSE, "NSM response must hold one answer");
    if (ccc_cbor_map_get_text(root, "Error", &v) == CCC_OK)
        CCC_FAIL(CCC_ERR_IO, "the NSM refused the attestation request");
    CCC_TRY(ccc_cbor_map_get_text(root, "Attestation", &body));
    CCC_TRY(ccc_cbor_map_get_text(body, "document", &v));
    ccc_bytes b;
    CCC_TRY(ccc_cbor_get_bytes(v, &b));
    CCC_TRY(ccc_buf_append_bytes(doc, b));
out:
    ccc_cbor_doc_wipe(&d);
    return st;
}

/* Read exactly n bytes; *got_any tells a clean EOF from a truncated frame. */
static ccc_status read_all(int fd, uint8_t *p, size_t n, bool *got_any)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        CCC_ENSURE(r >= 0, CCC_ERR_IO, "read from the NSM channel failed");
        if (r == 0) {
            if (!*got_any)
                CCC_BAIL(CCC_ERR_NOT_FOUND, "NSM channel closed");
            CCC_BAIL(CCC_ERR_PARSE, "NSM channel closed inside a frame");
        }
        *got_any = true;
        p += r;
        n -= (size_t)r;
    }
    return CCC_OK;
}

ccc_status ccc_nsm_frame_write(int fd, ccc_bytes msg)
{
    CCC_ENSURE(msg.size <= CCC_NSM_MAX_FRAME, CCC_ERR_LIMIT, "NSM frame too large");
    uint8_t hdr[4] = {(uint8_t)(msg.size >> 24), (uint8_t)(msg.size >> 16),
                      (uint8_t)(msg.size >> 8), (uint8_t)msg.size};
    CCC_GUARD(ccc_fd_write_all(fd, hdr, sizeof hdr));
    return ccc_fd_write_all(fd, msg.ptr, msg.size);
}

ccc_status ccc_nsm_frame_read(int fd, ccc_buf *msg)
{
    uint8_t hdr[4];
    bool got_any = false;
    CCC_GUARD(read_all(fd, hdr, sizeof hdr, &got_any));
    ccc_reader r;
    ccc_reader_init(&r, hdr, sizeof hdr);
    uint32_t size;
    CCC_GUARD(ccc_reader_be32(&r, &size));
    CCC_ENSURE(size <= CCC_NSM_MAX_FRAME, CCC_ERR_LIMIT, "NSM frame too large");
    uint8_t *tail;
    CCC_GUARD(ccc_buf_extend(msg, size, &tail));
    return read_all(fd, tail, size, &got_any);
}

void ccc_nsm_device_use_sim(ccc_nsm_device *dev, int fd)
{
    dev->kind = CCC_NSM_DEVICE_SIM;
    dev->fd = fd;
}

ccc_status ccc_nsm_device_open_real(ccc_nsm_device *dev)
{
    dev->kind = CCC_NSM_DEVICE_REAL;
    dev->fd = open("/dev/nsm", O_RDWR | O_CLOEXEC);
    if (dev->fd < 0 && errno == ENOENT)
        CCC_BAIL(CCC_ERR_NOT_FOUND, "no /dev/nsm: not inside a Nitro enclave");
    CCC_ENSURE(dev->fd >= 0, CCC_ERR_IO, "cannot open /dev/nsm");
    return CCC_OK;
}

void ccc_nsm_device_close(ccc_nsm_device *dev)
{
    if (dev->kind == CCC_NSM_DEVICE_REAL && dev->fd >= 0)
        close(dev->fd);
    dev->fd = -1;
}

ccc_status ccc_nsm_device_attest(const ccc_nsm_device *dev, ccc_bytes user_data, ccc_bytes nonce,
                                 ccc_bytes public_key, ccc_buf *doc)
{
    ccc_status st = CCC_OK;
    ccc_buf req, resp;
    ccc_buf_init(&req, 4096);
    ccc_buf_init(&resp, CCC_NSM_MAX_FRAME);
    CCC_TRY(ccc_nsm_request_encode(user_data, nonce, public_key, &req));
    if (dev->kind == CCC_NSM_DEVICE_REAL) {
        CCC_TRY(ccc_nsm_dev_roundtrip(dev->fd, ccc_buf_bytes(&req), &resp));
    } else {
        CCC_TRY(ccc_nsm_frame_write(dev->fd, ccc_buf_bytes(&req)));
        CCC_TRY(ccc_nsm_frame_read(dev->fd, &resp));
    }
    CCC_TRY(ccc_nsm_response_decode(ccc_buf_bytes(&resp), doc));
out:
    ccc_buf_wipe(&req);
    ccc_buf_wipe(&resp);
    return st;
}
