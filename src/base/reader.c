/* Bounded reader over untrusted bytes. Each read checks the remaining length
 * before touching memory and leaves the cursor unchanged on failure. */
#include "base/base.h"

#include <string.h>

void ccc_reader_init(ccc_reader *r, const uint8_t *data, size_t size)
{
    r->data = data;
    r->size = data ? size : 0;
    r->pos = 0;
}

size_t ccc_reader_remaining(const ccc_reader *r) { return r->size - r->pos; }

bool ccc_reader_done(const ccc_reader *r) { return r->pos == r->size; }

static ccc_status need(const ccc_reader *r, size_t size)
{
    if (size > ccc_reader_remaining(r))
        CCC_BAIL(CCC_ERR_PARSE, "truncated input");
    return CCC_OK;
}

ccc_status ccc_reader_u8(ccc_reader *r, uint8_t *out)
{
    CCC_GUARD(need(r, 1));
    *out = r->data[r->pos++];
    return CCC_OK;
}

static uint64_t load_be(const uint8_t *p, size_t size)
{
    uint64_t v = 0;
    for (size_t i = 0; i < size; i++)
        v = (v << 8) | p[i];
    return v;
}

ccc_status ccc_reader_be16(ccc_reader *r, uint16_t *out)
{
    CCC_GUARD(need(r, 2));
    *out = (uint16_t)load_be(r->data + r->pos, 2);
    r->pos += 2;
    return CCC_OK;
}

ccc_status ccc_reader_be32(ccc_reader *r, uint32_t *out)
{
    CCC_GUARD(need(r, 4));
    *out = (uint32_t)load_be(r->data + r->pos, 4);
    r->pos += 4;
    return CCC_OK;
}

ccc_status ccc_reader_be64(ccc_reader *r, uint64_t *out)
{
    CCC_GUARD(need(r, 8));
    *out = load_be(r->data + r->pos, 8);
    r->pos += 8;
    return CCC_OK;
}

ccc_status ccc_reader_bytes(ccc_reader *r, size_t size, ccc_bytes *out)
{
    CCC_GUARD(need(r, size));
    out->ptr = r->data + r->pos;
    out->size = size;
    r->pos += size;
    return CCC_OK;
}

ccc_status ccc_reader_copy(ccc_reader *r, void *out, size_t size)
{
    CCC_GUARD(need(r, size));
    if (size)
        memcpy(out, r->data + r->pos, size);
    r->pos += size;
    return CCC_OK;
}

ccc_status ccc_reader_sub(ccc_reader *r, size_t size, ccc_reader *sub)
{
    CCC_GUARD(need(r, size));
    ccc_reader_init(sub, r->data + r->pos, size);
    r->pos += size;
    return CCC_OK;
}

ccc_status ccc_reader_skip(ccc_reader *r, size_t size)
{
    CCC_GUARD(need(r, size));
    r->pos += size;
    return CCC_OK;
}

ccc_bytes ccc_reader_rest(const ccc_reader *r)
{
    return ccc_bytes_of(r->data + r->pos, ccc_reader_remaining(r));
}

ccc_status ccc_reader_expect_done(const ccc_reader *r)
{
    if (!ccc_reader_done(r))
        CCC_BAIL(CCC_ERR_PARSE, "trailing bytes after input");
    return CCC_OK;
}
