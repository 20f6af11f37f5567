/* Host <-> enclave frames: header checks, incremental decoder, blocking I/O. */
#include "frame/frame.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* One row per frame type: the table is the whole protocol surface. */
static const struct {
    ccc_frame_type type;
    const char *name;
    size_t max_size;
} frame_types[] = {
    {CCC_FRAME_PING, "ping", 8},
    {CCC_FRAME_PONG, "pong", 8},
    {CCC_FRAME_JOB_REQUEST, "job_request", CCC_FRAME_MAX_BODY_SIZE},
    {CCC_FRAME_JOB_RESULT, "job_result", 256u * 1024u},
    {CCC_FRAME_JOB_ERROR, "job_error", 1024u},
    {CCC_FRAME_ATTEST_REQUEST, "attest_request", 4u * 1024u},
    {CCC_FRAME_ATTEST_RESPONSE, "attest_response", 80u * 1024u},
    {CCC_FRAME_KEY_REQUEST, "key_request", 80u * 1024u},
    {CCC_FRAME_KEY_RESPONSE, "key_response", 16u * 1024u},
};

#define FRAME_TYPE_COUNT (sizeof frame_types / sizeof frame_types[0])

static int type_row(unsigned type)
{
    for (size_t i = 0; i < FRAME_TYPE_COUNT; i++)
        if ((unsigned)frame_types[i].type == type)
            return (int)i;
    return -1;
}

size_t ccc_frame_type_max_size(unsigned type)
{
    int i = type_row(type);
    return i < 0 ? 0 : frame_types[i].max_size;
}

const char *ccc_frame_type_name(unsigned type)
{
    int i = type_row(type);
    return i < 0 ? "unknown" : frame_types[i].name;
}

ccc_status ccc_frame_header_parse(const uint8_t in[static CCC_FRAME_HEADER_SIZE],
                                  ccc_frame_header *out)
{
    ccc_reader r;
    ccc_reader_init(&r, in, CCC_FRAME_HEADER_SIZE);
    uint8_t type = 0, flags = 0;
    uint16_t reserved = 0;
    uint32_t length = 0;
    CCC_GUARD(ccc_reader_u8(&r, &type));
    CCC_GUARD(ccc_reader_u8(&r, &flags));
    CCC_GUARD(ccc_reader_be16(&r, &reserved));
    CCC_GUARD(ccc_reader_be32(&r, &length));
    int row = type_row(type);
    if (row < 0)
        CCC_BAIL_NUM(CCC_ERR_PARSE, "unknown frame type", type);
    CCC_ENSURE(flags == 0, CCC_ERR_PARSE, "frame flags must be zero");
    CCC_ENSURE(reserved == 0, CCC_ERR_PARSE, "frame reserved field must be zero");
    if (length > frame_types[row].max_size)
        CCC_BAIL_NUM(CCC_ERR_LIMIT, "frame body over the limit of its type", type);
    out->type = (ccc_frame_type)type;
    out->length = length;
    return CCC_OK;
}

static void header_write(uint8_t out[static CCC_FRAME_HEADER_SIZE], ccc_frame_type type,
                         uint32_t length)
{
    out[0] = (uint8_t)type;
    out[1] = 0;
    out[2] = 0;
    out[3] = 0;
    out[4] = (uint8_t)(length >> 24);
    out[5] = (uint8_t)(length >> 16);
    out[6] = (uint8_t)(length >> 8);
    out[7] = (uint8_t)length;
}

/* The checks shared by encode and write: known type, body within its limit. */
static ccc_status check_outgoing(ccc_frame_type type, ccc_bytes body)
{
    size_t max = ccc_frame_type_max_size(type);
    CCC_ENSURE(max != 0, CCC_ERR_USAGE, "unknown frame type");
    CCC_ENSURE(body.size <= max, CCC_ERR_LIMIT, "frame body over the limit of its type");
    CCC_ENSURE(body.ptr || body.size == 0, CCC_ERR_USAGE, "frame body missing");
    return CCC_OK;
}

ccc_status ccc_frame_encode(ccc_frame_type type, ccc_bytes body, ccc_buf *out)
{
    CCC_GUARD(check_outgoing(type, body));
    uint8_t hdr[CCC_FRAME_HEADER_SIZE];
    header_write(hdr, type, (uint32_t)body.size);
    CCC_GUARD(ccc_buf_reserve(out, sizeof hdr + body.size));
    CCC_GUARD(ccc_buf_append(out, hdr, sizeof hdr));
    return ccc_buf_append_bytes(out, body);
}

/* ------------------------------------------------------------------------ */
/* Incremental decoder                                                       */
/* ------------------------------------------------------------------------ */

void ccc_frame_decoder_init(ccc_frame_decoder *d, bool secret)
{
    memset(d, 0, sizeof *d);
    d->secret = secret;
    if (secret)
        ccc_buf_init_secret(&d->body, CCC_FRAME_MAX_BODY_SIZE);
    else
        ccc_buf_init(&d->body, CCC_FRAME_MAX_BODY_SIZE);
}

void ccc_frame_decoder_wipe(ccc_frame_decoder *d)
{
    ccc_buf_wipe(&d->body);
    ccc_wipe(d->header, sizeof d->header);
    d->header_size = 0;
    d->ready = false;
}

static ccc_status poison(ccc_frame_decoder *d, ccc_status st)
{
    d->poisoned = st;
    ccc_buf_reset(&d->body);
    return st;
}

ccc_status ccc_frame_decoder_feed(ccc_frame_decoder *d, const uint8_t *data, size_t size,
                                  size_t *used, bool *ready)
{
    *used = 0;
    *ready = false;
    if (d->poisoned != CCC_OK)
        CCC_BAIL(d->poisoned, "frame stream poisoned by an earlier error");
    CCC_ENSURE(data || size == 0, CCC_ERR_USAGE, "no input");
    if (d->ready) { /* the previous frame was handed out: start the next */
        d->ready = false;
        d->header_size = 0;
        ccc_buf_reset(&d->body);
    }
    size_t off = 0;
    if (d->header_size < CCC_FRAME_HEADER_SIZE) {
        size_t take = CCC_FRAME_HEADER_SIZE - d->header_size;
        if (take > size)
            take = size;
        memcpy(d->header + d->header_size, data, take);
        d->header_size += take;
        off += take;
        if (d->header_size < CCC_FRAME_HEADER_SIZE) {
            *used = off;
            return CCC_OK;
        }
        ccc_status st = ccc_frame_header_parse(d->header, &d->hdr);
        if (st != CCC_OK) {
            *used = off;
            return poison(d, st);
        }
    }
    size_t want = d->hdr.length - d->body.size;
    size_t take = size - off < want ? size - off : want;
    if (take) {
        ccc_status st = ccc_buf_append(&d->body, data + off, take);
        if (st != CCC_OK)
            return poison(d, st);
        off += take;
    }
    *used = off;
    if (d->body.size == d->hdr.length) {
        d->ready = true;
        *ready = true;
    }
    return CCC_OK;
}

ccc_frame ccc_frame_decoder_frame(const ccc_frame_decoder *d)
{
    ccc_frame f = {d->hdr.type, ccc_bytes_of(NULL, 0)};
    if (d->ready)
        f.body = ccc_buf_bytes(&d->body);
    return f;
}

bool ccc_frame_decoder_idle(const ccc_frame_decoder *d)
{
    return d->poisoned == CCC_OK && (d->ready || d->header_size == 0);
}

/* ------------------------------------------------------------------------ */
/* Blocking I/O                                                              */
/* ------------------------------------------------------------------------ */

/* Read up to `size` bytes, stopping early only at EOF (*got < size). */
static ccc_status read_full(int fd, uint8_t *p, size_t size, size_t *got)
{
    *got = 0;
    while (*got < size) {
        ssize_t n = read(fd, p + *got, size - *got);
        if (n < 0 && errno == EINTR)
            continue;
        CCC_ENSURE(n >= 0, CCC_ERR_IO, "frame read failed");
        if (n == 0)
            break;
        *got += (size_t)n;
    }
    return CCC_OK;
}

ccc_status ccc_frame_read(int fd, ccc_frame_type *type, ccc_buf *body)
{
    ccc_buf_reset(body);
    uint8_t hdr[CCC_FRAME_HEADER_SIZE];
    size_t got = 0;
    CCC_GUARD(read_full(fd, hdr, sizeof hdr, &got));
    CCC_ENSURE(got != 0, CCC_ERR_NOT_FOUND, "connection closed");
    CCC_ENSURE(got == sizeof hdr, CCC_ERR_IO, "connection closed mid-frame");
    ccc_frame_header h;
    CCC_GUARD(ccc_frame_header_parse(hdr, &h));
    CCC_ENSURE(h.length <= body->max_size, CCC_ERR_LIMIT,
               "frame body over the caller's buffer cap");
    uint8_t *tail = NULL;
    CCC_GUARD(ccc_buf_extend(body, h.length, &tail));
    ccc_status st = CCC_OK;
    CCC_TRY(read_full(fd, tail, h.length, &got));
    CCC_CHECK(got == h.length, CCC_ERR_IO, "connection closed mid-frame");
    *type = h.type;
out:
    if (st != CCC_OK)
        ccc_buf_reset(body);
    return st;
}

ccc_status ccc_frame_write(int fd, ccc_frame_type type, ccc_bytes body)
{
    CCC_GUARD(check_outgoing(type, body));
    uint8_t hdr[CCC_FRAME_HEADER_SIZE];
    header_write(hdr, type, (uint32_t)body.size);
    const uint8_t *parts[2] = {hdr, body.ptr};
    size_t left[2] = {sizeof hdr, body.size};
    bool is_socket = true;
    int part = 0;
    while (part < 2) {
        if (left[part] == 0) {
            part++;
            continue;
        }
        ssize_t n;
        if (is_socket) {
            n = send(fd, parts[part], left[part], MSG_NOSIGNAL);
            if (n < 0 && errno == ENOTSOCK) {
                is_socket = false;
                continue;
            }
        } else {
            n = write(fd, parts[part], left[part]);
        }
        if (n < 0 && errno == EINTR)
            continue;
        CCC_ENSURE(n > 0, CCC_ERR_IO, "frame write failed");
        parts[part] += n;
        left[part] -= (size_t)n;
    }
    return CCC_OK;
}
