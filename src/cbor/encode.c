/*
 * CBOR encoder: shortest-form heads (RFC 8949 §4.2.1 "Core Deterministic
 * Encoding Requirements") and a map builder that sorts keys.
 */
#include <stdlib.h>
#include <string.h>

#include "cbor/cbor.h"
#include "cbor/internal.h"

/* RFC 8949 §3: the argument goes in the initial byte when < 24, else in the
 * smallest of 1, 2, 4 or 8 following bytes (AI 24..27). */
static ccc_status put_head(ccc_buf *b, uint8_t major, uint64_t arg)
{
    uint8_t h[9];
    size_t n;
    uint8_t mt = (uint8_t)(major << 5);
    if (arg < 24) {
        h[0] = (uint8_t)(mt | arg);
        n = 1;
    } else if (arg <= 0xff) {
        h[0] = mt | 24;
        n = 2;
    } else if (arg <= 0xffff) {
        h[0] = mt | 25;
        n = 3;
    } else if (arg <= 0xffffffffull) {
        h[0] = mt | 26;
        n = 5;
    } else {
        h[0] = mt | 27;
        n = 9;
    }
    for (size_t i = 1; i < n; i++)
        h[i] = (uint8_t)(arg >> (8 * (n - 1 - i)));
    return ccc_buf_append(b, h, n);
}

ccc_status ccc_cbor_put_uint(ccc_buf *b, uint64_t v)
{
    return put_head(b, 0, v);
}

ccc_status ccc_cbor_put_nint(ccc_buf *b, uint64_t n)
{
    return put_head(b, 1, n);
}

ccc_status ccc_cbor_put_int(ccc_buf *b, int64_t v)
{
    /* RFC 8949 §3.1: major type 1 encodes -1 - n. For v < 0, -1 - v is in
     * 0..INT64_MAX, computed without overflow. */
    if (v >= 0)
        return put_head(b, 0, (uint64_t)v);
    return put_head(b, 1, (uint64_t)(-1 - v));
}

ccc_status ccc_cbor_put_bytes_head(ccc_buf *b, uint64_t size)
{
    return put_head(b, 2, size);
}

/* Head and content in one reservation, so a limit error leaves `b` as it
 * was. */
static ccc_status put_string(ccc_buf *b, uint8_t major, const void *data,
                             size_t size)
{
    size_t before = b->size;
    CCC_GUARD(put_head(b, major, size));
    ccc_status st = ccc_buf_append(b, data, size);
    if (st != CCC_OK)
        b->size = before;
    return st;
}

ccc_status ccc_cbor_put_bytes(ccc_buf *b, const void *data, size_t size)
{
    return put_string(b, 2, data, size);
}

ccc_status ccc_cbor_put_text(ccc_buf *b, const char *text, size_t size)
{
    if (size && !text)
        CCC_BAIL(CCC_ERR_USAGE, "NULL text");
    if (!ccc_cbor_utf8_valid((const uint8_t *)text, size))
        CCC_BAIL(CCC_ERR_USAGE, "text is not valid UTF-8");
    return put_string(b, 3, text, size);
}

ccc_status ccc_cbor_put_cstr(ccc_buf *b, const char *text)
{
    if (!text)
        CCC_BAIL(CCC_ERR_USAGE, "NULL text");
    return ccc_cbor_put_text(b, text, strlen(text));
}

ccc_status ccc_cbor_put_array(ccc_buf *b, uint64_t count)
{
    return put_head(b, 4, count);
}

ccc_status ccc_cbor_put_map(ccc_buf *b, uint64_t count)
{
    return put_head(b, 5, count);
}

ccc_status ccc_cbor_put_tag(ccc_buf *b, uint64_t tag)
{
    return put_head(b, 6, tag);
}

ccc_status ccc_cbor_put_bool(ccc_buf *b, bool v)
{
    return ccc_buf_u8(b, v ? 0xf5 : 0xf4);
}

ccc_status ccc_cbor_put_null(ccc_buf *b)
{
    return ccc_buf_u8(b, 0xf6);
}

ccc_status ccc_cbor_put_raw(ccc_buf *b, ccc_bytes encoded)
{
    return ccc_buf_append_bytes(b, encoded);
}

/* Pre-order walk; returns the item after the subtree through *next. */
static ccc_status put_item(ccc_buf *b, const ccc_cbor_item *it,
                           const ccc_cbor_item **next)
{
    const ccc_cbor_item *c = it + 1;
    size_t children = 0;
    switch (it->type) {
    case CCC_CBOR_UINT:
        CCC_GUARD(put_head(b, 0, it->uint));
        break;
    case CCC_CBOR_NINT:
        CCC_GUARD(put_head(b, 1, it->uint));
        break;
    case CCC_CBOR_BYTES:
        CCC_GUARD(put_string(b, 2, it->str.ptr, it->str.size));
        break;
    case CCC_CBOR_TEXT:
        CCC_GUARD(put_string(b, 3, it->str.ptr, it->str.size));
        break;
    case CCC_CBOR_ARRAY:
        CCC_GUARD(put_head(b, 4, it->count));
        children = it->count;
        break;
    case CCC_CBOR_MAP:
        CCC_GUARD(put_head(b, 5, it->count));
        children = it->count * 2;
        break;
    case CCC_CBOR_TAG:
        CCC_GUARD(put_head(b, 6, it->uint));
        children = 1;
        break;
    case CCC_CBOR_FALSE:
    case CCC_CBOR_TRUE:
        CCC_GUARD(ccc_cbor_put_bool(b, it->type == CCC_CBOR_TRUE));
        break;
    case CCC_CBOR_NULL:
        CCC_GUARD(ccc_cbor_put_null(b));
        break;
    case CCC_CBOR_UNDEFINED:
        CCC_GUARD(ccc_buf_u8(b, 0xf7));
        break;
    case CCC_CBOR_FLOAT:
        CCC_BAIL(CCC_ERR_UNSUPPORTED, "cannot re-encode a float");
    }
    for (size_t i = 0; i < children; i++)
        CCC_GUARD(put_item(b, c, &c));
    *next = c;
    return CCC_OK;
}

ccc_status ccc_cbor_put_item(ccc_buf *b, const ccc_cbor_item *item)
{
    if (!item)
        CCC_BAIL(CCC_ERR_USAGE, "no CBOR item");
    size_t before = b->size;
    const ccc_cbor_item *next;
    ccc_status st = put_item(b, item, &next);
    if (st != CCC_OK)
        b->size = before;
    return st;
}

/* ------------------------------------------------------------------------ */
/* Deterministic map builder                                                 */
/* ------------------------------------------------------------------------ */

void ccc_cbor_mapb_init(ccc_cbor_mapb *mb, size_t max_size)
{
    memset(mb, 0, sizeof *mb);
    ccc_buf_init(&mb->scratch, max_size);
}

void ccc_cbor_mapb_wipe(ccc_cbor_mapb *mb)
{
    if (mb->scratch.data)
        ccc_wipe(mb->scratch.data, mb->scratch.capacity);
    ccc_buf_wipe(&mb->scratch);
    free(mb->offsets);
    memset(mb, 0, sizeof *mb);
}

ccc_buf *ccc_cbor_mapb_value(ccc_cbor_mapb *mb)
{
    return &mb->scratch;
}

/* Start an entry: remember where it begins, encode the key, remember where
 * the key ends. */
static ccc_status mapb_start(ccc_cbor_mapb *mb)
{
    if (mb->deferred != CCC_OK)
        return mb->deferred;
    if (mb->count == mb->capacity) {
        size_t cap = mb->capacity ? mb->capacity * 2 : 8;
        size_t *n = realloc(mb->offsets, cap * 2 * sizeof *n);
        if (!n) {
            mb->deferred = CCC_ERR_NOMEM;
            CCC_BAIL(CCC_ERR_NOMEM, "cannot grow CBOR map builder");
        }
        mb->offsets = n;
        mb->capacity = cap;
    }
    mb->offsets[2 * mb->count] = mb->scratch.size;
    return CCC_OK;
}

static ccc_status mapb_key_done(ccc_cbor_mapb *mb, ccc_status st)
{
    if (st != CCC_OK) {
        /* Drop the half-written key and poison the builder: finish()
         * must not emit a map that silently lost an entry. */
        mb->scratch.size = mb->offsets[2 * mb->count];
        mb->deferred = st;
        return st;
    }
    mb->offsets[2 * mb->count + 1] = mb->scratch.size;
    mb->count++;
    return CCC_OK;
}

ccc_status ccc_cbor_mapb_key_text(ccc_cbor_mapb *mb, const char *key)
{
    CCC_GUARD(mapb_start(mb));
    return mapb_key_done(mb, ccc_cbor_put_cstr(&mb->scratch, key));
}

ccc_status ccc_cbor_mapb_key_int(ccc_cbor_mapb *mb, int64_t key)
{
    CCC_GUARD(mapb_start(mb));
    return mapb_key_done(mb, ccc_cbor_put_int(&mb->scratch, key));
}

ccc_status ccc_cbor_mapb_key_raw(ccc_cbor_mapb *mb, ccc_bytes encoded_key)
{
    CCC_GUARD(mapb_start(mb));
    if (encoded_key.size == 0)
        return mapb_key_done(
            mb, ccc_error_raise(CCC_ERR_USAGE, "empty map key", false, 0,
                                __FILE__, __LINE__));
    return mapb_key_done(mb, ccc_cbor_put_raw(&mb->scratch, encoded_key));
}

typedef struct mapb_entry {
    ccc_bytes key;
    ccc_bytes all; /* key and value */
} mapb_entry;

static int cmp_entry(const void *a, const void *b)
{
    return ccc_cbor_bytes_cmp(((const mapb_entry *)a)->key,
                              ((const mapb_entry *)b)->key);
}

/* One deterministic CBOR item exactly fills `span`. */
static ccc_status check_one_item(ccc_bytes span)
{
    if (span.size == 0)
        CCC_BAIL(CCC_ERR_USAGE, "map entry without a value");
    ccc_status st;
    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    ccc_cbor_limits lim = {
        .max_input_size = span.size,
        .max_string_size = span.size,
        .max_items = span.size,
        .max_depth = 64,
    };
    st = ccc_cbor_decode(&doc, span, &lim, CCC_CBOR_CANONICAL);
    ccc_cbor_doc_wipe(&doc);
    if (st != CCC_OK)
        CCC_BAIL(CCC_ERR_USAGE,
                 "map entry is not exactly one deterministic CBOR item");
    return CCC_OK;
}

ccc_status ccc_cbor_mapb_finish(ccc_cbor_mapb *mb, ccc_buf *out)
{
    ccc_status st = CCC_OK;
    mapb_entry *e = NULL;
    size_t before = out->size;
    CCC_TRY(mb->deferred);
    if (mb->count) {
        e = calloc(mb->count, sizeof *e);
        CCC_CHECK(e, CCC_ERR_NOMEM, "cannot allocate map entries");
    }
    for (size_t i = 0; i < mb->count; i++) {
        size_t start = mb->offsets[2 * i];
        size_t kend = mb->offsets[2 * i + 1];
        size_t end = i + 1 < mb->count ? mb->offsets[2 * (i + 1)]
                                       : mb->scratch.size;
        e[i].key = ccc_bytes_of(mb->scratch.data + start, kend - start);
        e[i].all = ccc_bytes_of(mb->scratch.data + start, end - start);
        CCC_TRY(check_one_item(e[i].key));
        CCC_TRY(check_one_item(
            ccc_bytes_of(mb->scratch.data + kend, end - kend)));
    }
    /* RFC 8949 §4.2.1: keys "sorted in the bytewise lexicographic order of
     * their deterministic encodings"; equal encodings are duplicates. */
    if (mb->count > 1)
        qsort(e, mb->count, sizeof *e, cmp_entry);
    for (size_t i = 1; i < mb->count; i++)
        CCC_CHECK(ccc_cbor_bytes_cmp(e[i - 1].key, e[i].key) != 0,
                  CCC_ERR_USAGE, "duplicate map key");
    CCC_TRY(ccc_cbor_put_map(out, mb->count));
    for (size_t i = 0; i < mb->count; i++)
        CCC_TRY(ccc_buf_append_bytes(out, e[i].all));
out:
    if (st != CCC_OK && out->size > before) {
        ccc_wipe(out->data + before, out->size - before);
        out->size = before;
    }
    free(e);
    return st;
}
