/*
 * Strict CBOR decoder (RFC 8949). See cbor.h for the rules; each check below
 * quotes the section it implements.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cbor/cbor.h"
#include "cbor/internal.h"

/* A hard ceiling on recursion, whatever the caller's limits say: the decoder
 * recurses once per nesting level. */
#define CBOR_DEPTH_CEILING 256u

ccc_cbor_limits ccc_cbor_limits_default(void)
{
    ccc_cbor_limits l = {
        .max_input_size = 1u << 20,
        .max_string_size = 1u << 20,
        .max_items = 65536,
        .max_depth = 16,
    };
    return l;
}

void ccc_cbor_doc_init(ccc_cbor_doc *doc)
{
    memset(doc, 0, sizeof *doc);
}

void ccc_cbor_doc_wipe(ccc_cbor_doc *doc)
{
    if (doc->items) {
        ccc_wipe(doc->items, doc->capacity * sizeof *doc->items);
        free(doc->items);
    }
    memset(doc, 0, sizeof *doc);
}

const ccc_cbor_item *ccc_cbor_doc_root(const ccc_cbor_doc *doc)
{
    return doc->count ? &doc->items[0] : NULL;
}

int ccc_cbor_bytes_cmp(ccc_bytes a, ccc_bytes b)
{
    /* RFC 8949 §4.2.1: "bytewise lexicographic order". */
    size_t n = a.size < b.size ? a.size : b.size;
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c != 0)
        return c;
    return (a.size > b.size) - (a.size < b.size);
}

bool ccc_cbor_utf8_valid(const uint8_t *s, size_t size)
{
    /* RFC 3629 §4 syntax: no overlong forms, no surrogates, <= U+10FFFF. */
    size_t i = 0;
    while (i < size) {
        uint8_t c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (size - i - 1 < n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            uint8_t cc = s[i + k];
            if ((cc & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

typedef struct dec {
    ccc_reader r;
    ccc_cbor_doc *doc;
    const ccc_cbor_limits *lim;
    bool canonical;
} dec;

/* Read an initial byte and its argument. For major type 7 the argument of
 * AI 25..27 is the float's bit pattern. */
static ccc_status read_head(dec *d, uint8_t *major, uint8_t *ai, uint64_t *arg)
{
    uint8_t ib;
    CCC_GUARD(ccc_reader_u8(&d->r, &ib));
    *major = ib >> 5;
    *ai = ib & 0x1f;
    uint64_t v;
    uint64_t shortest_min; /* smallest value that needs this width */
    if (*ai < 24) {
        *arg = *ai;
        return CCC_OK;
    } else if (*ai == 24) {
        uint8_t x;
        CCC_GUARD(ccc_reader_u8(&d->r, &x));
        v = x;
        shortest_min = 24;
    } else if (*ai == 25) {
        uint16_t x;
        CCC_GUARD(ccc_reader_be16(&d->r, &x));
        v = x;
        shortest_min = 0x100;
    } else if (*ai == 26) {
        uint32_t x;
        CCC_GUARD(ccc_reader_be32(&d->r, &x));
        v = x;
        shortest_min = 0x10000;
    } else if (*ai == 27) {
        CCC_GUARD(ccc_reader_be64(&d->r, &v));
        shortest_min = 0x100000000ull;
    } else if (*ai == 31) {
        /* RFC 8949 §3.2: indefinite-length items and the "break" stop code.
         * We need every length up front, so all of them are refused. */
        if (*major >= 2 && *major <= 5)
            CCC_BAIL(CCC_ERR_PARSE, "indefinite length not allowed");
        if (*major == 7)
            CCC_BAIL(CCC_ERR_PARSE, "unexpected break stop code");
        CCC_BAIL(CCC_ERR_PARSE, "invalid additional information 31");
    } else {
        /* RFC 8949 §3: AI 28-30 are "Reserved for future additions to
         * the format"; such an item "is not well-formed". */
        CCC_BAIL(CCC_ERR_PARSE, "reserved additional information");
    }
    /* RFC 8949 §4.2.1: "Preferred serialization MUST be used. In
     * particular ... arguments ... MUST be as short as possible". Floats
     * (major 7, AI 25..27) are bit patterns, not arguments. */
    if (d->canonical && *major != 7 && v < shortest_min)
        CCC_BAIL(CCC_ERR_PARSE, "non-shortest head in canonical mode");
    *arg = v;
    return CCC_OK;
}

static ccc_status new_item(dec *d, size_t *idx)
{
    ccc_cbor_doc *doc = d->doc;
    if (doc->count >= d->lim->max_items)
        CCC_BAIL_NUM(CCC_ERR_LIMIT, "too many CBOR items, limit",
                     d->lim->max_items);
    if (doc->count == doc->capacity) {
        size_t cap = doc->capacity ? doc->capacity * 2 : 16;
        if (cap > d->lim->max_items)
            cap = d->lim->max_items;
        ccc_cbor_item *n = calloc(cap, sizeof *n);
        if (!n)
            CCC_BAIL(CCC_ERR_NOMEM, "cannot allocate CBOR items");
        if (doc->items) {
            memcpy(n, doc->items, doc->count * sizeof *n);
            ccc_wipe(doc->items, doc->capacity * sizeof *n);
            free(doc->items);
        }
        doc->items = n;
        doc->capacity = cap;
    }
    *idx = doc->count++;
    memset(&doc->items[*idx], 0, sizeof doc->items[*idx]);
    return CCC_OK;
}

static double half_to_double(uint16_t h)
{
    /* RFC 8949 Appendix D, in C. */
    int e = (h >> 10) & 0x1f;
    int m = h & 0x3ff;
    double v;
    if (e == 0)
        v = ldexp(m, -24);
    else if (e != 31)
        v = ldexp(m + 1024, e - 25);
    else
        v = m == 0 ? INFINITY : NAN;
    return (h & 0x8000) ? -v : v;
}

static int cmp_key_bytes(const void *a, const void *b)
{
    return ccc_cbor_bytes_cmp(*(const ccc_bytes *)a, *(const ccc_bytes *)b);
}

static ccc_status decode_item(dec *d, uint32_t depth);

static ccc_status decode_map(dec *d, uint32_t depth, uint64_t pairs)
{
    ccc_status st = CCC_OK;
    ccc_bytes *keys = NULL;
    if (pairs > 1 && !d->canonical) {
        keys = calloc((size_t)pairs, sizeof *keys);
        CCC_CHECK(keys, CCC_ERR_NOMEM, "cannot allocate map keys");
    }
    ccc_bytes prev = {NULL, 0};
    for (uint64_t i = 0; i < pairs; i++) {
        size_t kidx = d->doc->count;
        CCC_TRY(decode_item(d, depth + 1));
        ccc_bytes key = d->doc->items[kidx].raw;
        if (d->canonical && i > 0) {
            /* RFC 8949 §4.2.1: "The keys in every map MUST be sorted in the
             * bytewise lexicographic order of their deterministic
             * encodings." Strictly increasing also rules out duplicates. */
            int c = ccc_cbor_bytes_cmp(prev, key);
            CCC_CHECK(c != 0, CCC_ERR_PARSE, "duplicate map key");
            CCC_CHECK(c < 0, CCC_ERR_PARSE,
                      "map keys not in canonical order");
        }
        prev = key;
        if (keys)
            keys[i] = key;
        CCC_TRY(decode_item(d, depth + 1));
    }
    if (keys) {
        /* RFC 8949 §5.6: "A map that has duplicate keys may be
         * well-formed, but it is not valid". Sort the encoded keys and
         * compare neighbours. */
        qsort(keys, (size_t)pairs, sizeof *keys, cmp_key_bytes);
        for (uint64_t i = 1; i < pairs; i++)
            CCC_CHECK(ccc_cbor_bytes_cmp(keys[i - 1], keys[i]) != 0,
                      CCC_ERR_PARSE, "duplicate map key");
    }
out:
    free(keys);
    return st;
}

static ccc_status decode_item(dec *d, uint32_t depth)
{
    size_t start = d->r.pos;
    size_t idx = 0;
    CCC_GUARD(new_item(d, &idx));
    uint8_t major, ai;
    uint64_t arg = 0;
    CCC_GUARD(read_head(d, &major, &ai, &arg));

    ccc_cbor_item it;
    memset(&it, 0, sizeof it);
    it.depth = depth;
    it.uint = arg;
    switch (major) {
    case 0:
        it.type = CCC_CBOR_UINT;
        break;
    case 1:
        it.type = CCC_CBOR_NINT;
        break;
    case 2:
    case 3:
        it.type = major == 2 ? CCC_CBOR_BYTES : CCC_CBOR_TEXT;
        if (arg > d->lim->max_string_size)
            CCC_BAIL_NUM(CCC_ERR_LIMIT, "CBOR string too long, limit",
                         d->lim->max_string_size);
        CCC_GUARD(ccc_reader_bytes(&d->r, (size_t)arg, &it.str));
        /* RFC 8949 §3.1: text strings are "encoded as UTF-8"; §5.3.1:
         * invalid UTF-8 makes the item invalid. */
        if (major == 3 && !ccc_cbor_utf8_valid(it.str.ptr, it.str.size))
            CCC_BAIL(CCC_ERR_PARSE, "invalid UTF-8 in text string");
        it.uint = 0;
        break;
    case 4:
    case 5:
    case 6:
        if (depth >= d->lim->max_depth)
            CCC_BAIL_NUM(CCC_ERR_LIMIT, "CBOR nesting too deep, limit",
                         d->lim->max_depth);
        if (major == 6) {
            it.type = CCC_CBOR_TAG;
            it.count = 1;
            CCC_GUARD(decode_item(d, depth + 1));
            break;
        }
        /* Every item takes at least one byte: a count larger than what
         * is left is truncated input, found before any allocation. */
        if (arg > ccc_reader_remaining(&d->r) ||
            (major == 5 && arg > ccc_reader_remaining(&d->r) / 2))
            CCC_BAIL(CCC_ERR_PARSE, "truncated input");
        /* And a count beyond max_items is refused before the map's key
         * scratch array is allocated. */
        if (arg > d->lim->max_items ||
            (major == 5 && arg > d->lim->max_items / 2))
            CCC_BAIL_NUM(CCC_ERR_LIMIT, "too many CBOR items, limit",
                         d->lim->max_items);
        it.count = (size_t)arg;
        if (major == 4) {
            it.type = CCC_CBOR_ARRAY;
            for (uint64_t i = 0; i < arg; i++)
                CCC_GUARD(decode_item(d, depth + 1));
        } else {
            it.type = CCC_CBOR_MAP;
            CCC_GUARD(decode_map(d, depth, arg));
        }
        break;
    default: /* 7 */
        it.uint = 0;
        if (ai == 20) {
            it.type = CCC_CBOR_FALSE;
        } else if (ai == 21) {
            it.type = CCC_CBOR_TRUE;
        } else if (ai == 22) {
            it.type = CCC_CBOR_NULL;
        } else if (ai == 23) {
            it.type = CCC_CBOR_UNDEFINED;
        } else if (ai == 24) {
            /* RFC 8949 §3.3: "an encoder MUST NOT issue two-byte sequences
             * that start with 0xf8 and continue with a byte less than 0x20"
             * (not well-formed). Values 32..255 are unassigned. */
            if (arg < 32)
                CCC_BAIL(CCC_ERR_PARSE, "invalid two-byte simple value");
            CCC_BAIL(CCC_ERR_PARSE, "unassigned simple value");
        } else if (ai >= 25 && ai <= 27) {
            if (d->canonical)
                CCC_BAIL(CCC_ERR_PARSE, "float not allowed in canonical mode");
            it.type = CCC_CBOR_FLOAT;
            if (ai == 25) {
                it.f = half_to_double((uint16_t)arg);
            } else if (ai == 26) {
                uint32_t bits = (uint32_t)arg;
                float f;
                memcpy(&f, &bits, sizeof f);
                it.f = f;
            } else {
                memcpy(&it.f, &arg, sizeof it.f);
            }
        } else {
            CCC_BAIL(CCC_ERR_PARSE, "unassigned simple value");
        }
        break;
    }
    it.raw = ccc_bytes_of(d->r.data + start, d->r.pos - start);
    it.span = d->doc->count - idx;
    d->doc->items[idx] = it;
    return CCC_OK;
}

ccc_status ccc_cbor_decode(ccc_cbor_doc *doc, ccc_bytes input,
                           const ccc_cbor_limits *limits, unsigned flags)
{
    ccc_status st = CCC_OK;
    ccc_cbor_limits lim = limits ? *limits : ccc_cbor_limits_default();
    ccc_cbor_doc_wipe(doc);
    CCC_CHECK(flags == (flags & CCC_CBOR_CANONICAL), CCC_ERR_USAGE,
              "unknown CBOR decode flag");
    CCC_CHECK(lim.max_depth <= CBOR_DEPTH_CEILING, CCC_ERR_USAGE,
              "CBOR max_depth above the ceiling of 256");
    CCC_CHECK(input.size <= lim.max_input_size, CCC_ERR_LIMIT,
              "CBOR input too large");
    CCC_CHECK(input.size > 0, CCC_ERR_PARSE, "empty CBOR input");

    dec d;
    ccc_reader_init(&d.r, input.ptr, input.size);
    d.doc = doc;
    d.lim = &lim;
    d.canonical = (flags & CCC_CBOR_CANONICAL) != 0;
    CCC_TRY(decode_item(&d, 0));
    /* One top-level item fills the input: anything after it is refused. */
    if (!ccc_reader_done(&d.r))
        CCC_FAIL(CCC_ERR_PARSE, "trailing bytes after CBOR item");
    doc->input = input;
out:
    if (st != CCC_OK)
        ccc_cbor_doc_wipe(doc);
    return st;
}
