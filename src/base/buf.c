/* Owned, capped, growable buffer. Secret buffers never leave an unwiped copy
 * behind: growth allocates a new locked block, copies, wipes and frees the old. */
#include "base/base.h"

#include <stdlib.h>
#include <string.h>

void ccc_buf_init(ccc_buf *b, size_t max_size)
{
    memset(b, 0, sizeof *b);
    b->max_size = max_size;
}

void ccc_buf_init_secret(ccc_buf *b, size_t max_size)
{
    ccc_buf_init(b, max_size);
    b->secret = true;
}

static void release(ccc_buf *b)
{
    if (b->secret)
        ccc_secret_free(b->data, b->capacity);
    else
        free(b->data);
}

void ccc_buf_wipe(ccc_buf *b)
{
    release(b);
    b->data = NULL;
    b->size = 0;
    b->capacity = 0;
}

void ccc_buf_reset(ccc_buf *b)
{
    if (b->secret && b->data)
        ccc_wipe(b->data, b->capacity);
    b->size = 0;
}

ccc_status ccc_buf_reserve(ccc_buf *b, size_t extra)
{
    if (extra > b->max_size || b->size > b->max_size - extra)
        CCC_BAIL(CCC_ERR_LIMIT, "buffer size limit exceeded");
    size_t want = b->size + extra;
    if (want <= b->capacity)
        return CCC_OK;
    size_t cap = b->capacity ? b->capacity : 64;
    while (cap < want)
        cap = (cap > SIZE_MAX / 2) ? want : cap * 2;
    if (cap > b->max_size)
        cap = b->max_size;
    uint8_t *p = b->secret ? ccc_secret_alloc(cap) : malloc(cap);
    if (!p)
        CCC_BAIL(CCC_ERR_NOMEM, "out of memory");
    if (b->size)
        memcpy(p, b->data, b->size);
    release(b);
    b->data = p;
    b->capacity = cap;
    return CCC_OK;
}

ccc_status ccc_buf_extend(ccc_buf *b, size_t size, uint8_t **tail)
{
    CCC_GUARD(ccc_buf_reserve(b, size));
    *tail = b->data + b->size;
    b->size += size;
    return CCC_OK;
}

ccc_status ccc_buf_append(ccc_buf *b, const void *data, size_t size)
{
    uint8_t *tail;
    if (size == 0)
        return CCC_OK;
    CCC_GUARD(ccc_buf_extend(b, size, &tail));
    memcpy(tail, data, size);
    return CCC_OK;
}

ccc_status ccc_buf_append_bytes(ccc_buf *b, ccc_bytes bytes)
{
    return ccc_buf_append(b, bytes.ptr, bytes.size);
}

static ccc_status append_be(ccc_buf *b, uint64_t v, size_t size)
{
    uint8_t tmp[8];
    for (size_t i = 0; i < size; i++)
        tmp[i] = (uint8_t)(v >> (8 * (size - 1 - i)));
    return ccc_buf_append(b, tmp, size);
}

ccc_status ccc_buf_u8(ccc_buf *b, uint8_t v) { return ccc_buf_append(b, &v, 1); }
ccc_status ccc_buf_be16(ccc_buf *b, uint16_t v) { return append_be(b, v, 2); }
ccc_status ccc_buf_be32(ccc_buf *b, uint32_t v) { return append_be(b, v, 4); }
ccc_status ccc_buf_be64(ccc_buf *b, uint64_t v) { return append_be(b, v, 8); }
