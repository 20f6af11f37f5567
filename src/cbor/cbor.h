/*
 * cbor — strict, bounded CBOR decoding and deterministic encoding (RFC 8949).
 *
 * Every signed structure in the project is CBOR: the Nitro attestation
 * document (COSE_Sign1 over a CBOR map), receipts and policy bundles
 * (deterministic CBOR signed Ed25519). This module is the one place where
 * those bytes are taken apart and put together.
 *
 * Why hand-written although libcbor exists: the formats need strictness that
 * libcbor 0.8 (Debian 12) does not give — it accepts duplicate map keys,
 * indefinite lengths and non-shortest heads, does not check map key order or
 * UTF-8, does not hand out the raw encoded span of an item (COSE must hash the
 * protected header bstr exactly as received; the attestation verifier needs
 * raw spans), and reads through its own cursor instead of our one bounded
 * reader. The decoder below is ~600 lines and has a fuzz target.
 *
 * ------------------------------------------------------------------------
 * Decoding
 * ------------------------------------------------------------------------
 *
 * RFC 8949 §3: "The initial byte of each encoded data item contains both
 * information about the major type (the high-order 3 bits ...) and additional
 * information (the low-order 5 bits)". AI 0..23 is the argument itself,
 * AI 24..27 means a 1-, 2-, 4- or 8-byte argument follows, 28..30 are
 * reserved ("not well-formed"), 31 means indefinite length.
 *
 * ccc_cbor_decode() parses one whole document into a tree (a ccc_cbor_doc)
 * and refuses, with CCC_ERR_PARSE unless noted:
 *   - truncated input and trailing bytes after the top-level item;
 *   - indefinite lengths (AI 31 on major types 2..5) and the 0xff "break"
 *     (major 7, AI 31) — RFC 8949 §3.2; we need sizes up front;
 *   - reserved additional information 28..30 (§3: "not well-formed");
 *   - two-byte simple values below 32 (§3.3: "not well-formed") and
 *     unassigned simple values (anything but false/true/null/undefined);
 *   - invalid UTF-8 in text strings (§3.1: "a text string ... encoded as
 *     UTF-8"; overlong forms, surrogates and code points > U+10FFFF refused);
 *   - duplicate map keys (§5.6: such a map "may be well-formed, but it is
 *     not valid");
 *     keys are compared as encoded bytes, see caveat 1 below;
 *   - exceeding any ccc_cbor_limits value: CCC_ERR_LIMIT.
 * With CCC_CBOR_CANONICAL it also refuses what RFC 8949 §4.2.1 ("Core
 * Deterministic Encoding Requirements") forbids:
 *   - "Arguments ... MUST be as short as possible" (non-shortest integers,
 *     lengths, tag numbers);
 *   - "The keys in every map MUST be sorted in the bytewise lexicographic
 *     order of their deterministic encodings";
 *   - floating-point numbers: our deterministic documents (receipts, policy
 *     bundles) never contain floats, so instead of checking the float
 *     shortest-form rules we refuse floats in canonical mode. In the default
 *     mode half, single and double floats are decoded (as double).
 * Tags (major 6) are decoded generically (number + one child) and count
 * toward the nesting depth like arrays and maps.
 *
 * The tree: a ccc_cbor_doc owns one heap array ("arena") of ccc_cbor_item in
 * pre-order. Each item BORROWS from the input: `str` (content of a byte/text
 * string) and `raw` (the item's whole encoding, head included) point into the
 * caller's input bytes, which must outlive the doc. Items are navigated with
 * plain pointers (children follow their parent in the arena), so helpers take
 * only the item, never the doc.
 *
 * ------------------------------------------------------------------------
 * Encoding
 * ------------------------------------------------------------------------
 *
 * ccc_cbor_put_*() append one item head (or a whole scalar) to a ccc_buf,
 * always in the shortest form (§4.2.1). Arrays and maps are written as a
 * header with the element (pair) count, followed by the elements. For maps
 * whose keys the caller does not want to order by hand, use the map builder
 * (ccc_cbor_mapb_*): it sorts entries by their encoded key bytes and refuses
 * duplicates, so a receipt or policy cannot be emitted in the wrong order.
 *
 * ------------------------------------------------------------------------
 * Important caveats
 * ------------------------------------------------------------------------
 * 1. Duplicate keys are detected by encoded bytes. In canonical mode that is
 *    exact (heads are shortest, so equal values have equal encodings). In the
 *    default mode a document may carry the same key twice if one copy uses a
 *    non-shortest head (0x01 and 0x18 0x01 are both 1); the lookup helpers
 *    compare by value and return CCC_ERR_PARSE ("ambiguous duplicate map
 *    key") when more than one entry matches, so such a document can never
 *    make two readers see different values.
 * 2. Items borrow the input; wiping the doc does not wipe the input.
 * 3. Integers: the argument is a uint64. Negative integers (major 1) hold
 *    n where the value is -1 - n, so the full range -2^64..-1 is kept;
 *    ccc_cbor_get_int() refuses values outside int64_t.
 * 4. Memory: one item is about 64 bytes; max_items bounds the arena.
 */
#ifndef CCC_CBOR_H
#define CCC_CBOR_H

#include "base/base.h"

/* ------------------------------------------------------------------------ */
/* Items and documents                                                       */
/* ------------------------------------------------------------------------ */

typedef enum ccc_cbor_type {
    CCC_CBOR_UINT = 1,   /* major 0: value in `uint`                         */
    CCC_CBOR_NINT,       /* major 1: value is -1 - `uint`                    */
    CCC_CBOR_BYTES,      /* major 2: content in `str`                        */
    CCC_CBOR_TEXT,       /* major 3: content in `str` (valid UTF-8, no NUL
                            guarantee: it may contain U+0000)                */
    CCC_CBOR_ARRAY,      /* major 4: `count` elements follow                 */
    CCC_CBOR_MAP,        /* major 5: `count` pairs (2*count items) follow    */
    CCC_CBOR_TAG,        /* major 6: tag number in `uint`, one child         */
    CCC_CBOR_FALSE,      /* major 7, simple 20                               */
    CCC_CBOR_TRUE,       /* major 7, simple 21                               */
    CCC_CBOR_NULL,       /* major 7, simple 22                               */
    CCC_CBOR_UNDEFINED,  /* major 7, simple 23                               */
    CCC_CBOR_FLOAT,      /* major 7, AI 25/26/27: value in `f`               */
} ccc_cbor_type;

typedef struct ccc_cbor_item {
    ccc_cbor_type type;
    uint32_t depth;  /* 0 for the top-level item                             */
    uint64_t uint;   /* UINT value, NINT argument, TAG number, or the
                        ARRAY element / MAP pair count (same as `count`)     */
    double f;        /* FLOAT value                                          */
    size_t count;    /* ARRAY elements, MAP pairs, TAG 1, otherwise 0        */
    size_t span;     /* items in this subtree, itself included (>= 1); the
                        next sibling is at `this + span`                    */
    ccc_bytes str;   /* BYTES/TEXT content (borrowed from the input)         */
    ccc_bytes raw;   /* the item's complete encoding, head and children
                        (borrowed from the input)                            */
} ccc_cbor_item;

/* Caller-supplied limits. Start from ccc_cbor_limits_default(). */
typedef struct ccc_cbor_limits {
    size_t max_input_size;  /* whole document, bytes        (default 1 MiB)  */
    size_t max_string_size; /* one byte/text string, bytes  (default 1 MiB)  */
    size_t max_items;       /* items in the document        (default 65536)  */
    uint32_t max_depth;     /* nesting of arrays/maps/tags  (default 16)     */
} ccc_cbor_limits;

/* Decoding flags. */
enum {
    /* Require RFC 8949 §4.2.1 deterministic encoding (shortest heads, keys
     * sorted bytewise, no floats). */
    CCC_CBOR_CANONICAL = 1u << 0,
};

/*
 * A decoded document. Caller-owned struct: ccc_cbor_doc_init() before use,
 * ccc_cbor_doc_wipe() after (frees the arena; safe to call twice). A doc can
 * be reused for another decode after wipe.
 */
typedef struct ccc_cbor_doc {
    ccc_cbor_item *items; /* arena, pre-order; items[0] is the root         */
    size_t count;         /* items in use                                    */
    size_t capacity;      /* items allocated                                 */
    ccc_bytes input;      /* the decoded input (borrowed)                    */
} ccc_cbor_doc;

ccc_cbor_limits ccc_cbor_limits_default(void);

void ccc_cbor_doc_init(ccc_cbor_doc *doc);
void ccc_cbor_doc_wipe(ccc_cbor_doc *doc);

/*
 * Decode exactly one CBOR item filling all of `input` into `doc` (wiped and
 * refilled). `limits` may be NULL for the defaults; `flags` is 0 or
 * CCC_CBOR_CANONICAL. On failure the doc is empty. The doc borrows `input`.
 * Errors: CCC_ERR_PARSE (malformed/invalid, detail says which rule),
 * CCC_ERR_LIMIT (a limit), CCC_ERR_NOMEM.
 */
CCC_MUST_USE ccc_status ccc_cbor_decode(ccc_cbor_doc *doc, ccc_bytes input,
                                        const ccc_cbor_limits *limits,
                                        unsigned flags);

/* The top-level item of a decoded doc (NULL if the doc is empty). */
const ccc_cbor_item *ccc_cbor_doc_root(const ccc_cbor_doc *doc);


/* ------------------------------------------------------------------------ */
/* Navigation and typed getters                                              */
/* ------------------------------------------------------------------------ */

/*
 * Iterate the children of an ARRAY (elements), a MAP (key, value, key,
 * value, ...) or a TAG (its one content item). For other types the iterator
 * is empty.
 *
 *   ccc_cbor_iter it;
 *   ccc_cbor_iter_init(&it, map);
 *   const ccc_cbor_item *k, *v;
 *   while ((k = ccc_cbor_iter_next(&it)) && (v = ccc_cbor_iter_next(&it)))
 *       ...
 */
typedef struct ccc_cbor_iter {
    const ccc_cbor_item *next;
    size_t left;
} ccc_cbor_iter;

void ccc_cbor_iter_init(ccc_cbor_iter *it, const ccc_cbor_item *container);
/* The next child, or NULL when there are no more. */
const ccc_cbor_item *ccc_cbor_iter_next(ccc_cbor_iter *it);

/*
 * Look up a map value by key. Text keys match a CCC_CBOR_TEXT key with the
 * same bytes (`key` is NUL-terminated); integer keys match UINT/NINT keys of
 * equal value. Errors: CCC_ERR_PARSE if `map` is not a map or two entries
 * match (caveat 1), CCC_ERR_NOT_FOUND if no entry matches.
 */
CCC_MUST_USE ccc_status ccc_cbor_map_get_text(const ccc_cbor_item *map,
                                              const char *key,
                                              const ccc_cbor_item **out);
CCC_MUST_USE ccc_status ccc_cbor_map_get_int(const ccc_cbor_item *map,
                                             int64_t key,
                                             const ccc_cbor_item **out);
/* Element `index` of an array. CCC_ERR_PARSE if not an array or too short. */
CCC_MUST_USE ccc_status ccc_cbor_array_get(const ccc_cbor_item *array,
                                           size_t index,
                                           const ccc_cbor_item **out);
/* The content of a TAG item; CCC_ERR_PARSE if not a tag (or `tag` differs
 * when `tag` != UINT64_MAX). */
CCC_MUST_USE ccc_status ccc_cbor_tag_content(const ccc_cbor_item *item,
                                             uint64_t tag,
                                             const ccc_cbor_item **out);

/*
 * Typed getters. Each returns CCC_ERR_PARSE with a detail naming the expected
 * type ("expected a byte string") when the item has another type.
 */
CCC_MUST_USE ccc_status ccc_cbor_get_uint(const ccc_cbor_item *item,
                                          uint64_t *out);
/* UINT or NINT that fits int64_t (else CCC_ERR_PARSE "integer out of range"). */
CCC_MUST_USE ccc_status ccc_cbor_get_int(const ccc_cbor_item *item,
                                         int64_t *out);
CCC_MUST_USE ccc_status ccc_cbor_get_bytes(const ccc_cbor_item *item,
                                           ccc_bytes *out);
CCC_MUST_USE ccc_status ccc_cbor_get_text(const ccc_cbor_item *item,
                                          ccc_bytes *out);
CCC_MUST_USE ccc_status ccc_cbor_get_bool(const ccc_cbor_item *item,
                                          bool *out);
/* Check the type and give the element count (array) or pair count (map). */
CCC_MUST_USE ccc_status ccc_cbor_get_array(const ccc_cbor_item *item,
                                           size_t *count);
CCC_MUST_USE ccc_status ccc_cbor_get_map(const ccc_cbor_item *item,
                                         size_t *count);
/* True when item is a TEXT string equal to the NUL-terminated `s`. */
bool ccc_cbor_text_equals(const ccc_cbor_item *item, const char *s);
bool ccc_cbor_is_null(const ccc_cbor_item *item);

/* ------------------------------------------------------------------------ */
/* Encoding (always shortest form, RFC 8949 §4.2.1)                          */
/* ------------------------------------------------------------------------ */

CCC_MUST_USE ccc_status ccc_cbor_put_uint(ccc_buf *b, uint64_t v);
/* Major type 1 with argument n: the value -1 - n. */
CCC_MUST_USE ccc_status ccc_cbor_put_nint(ccc_buf *b, uint64_t n);
CCC_MUST_USE ccc_status ccc_cbor_put_int(ccc_buf *b, int64_t v);
/* Byte string: head + `size` bytes. */
CCC_MUST_USE ccc_status ccc_cbor_put_bytes(ccc_buf *b, const void *data,
                                           size_t size);
/* Only the head of a byte string of `size` bytes (caller appends content). */
CCC_MUST_USE ccc_status ccc_cbor_put_bytes_head(ccc_buf *b, uint64_t size);
/* Text string: must be valid UTF-8 (CCC_ERR_USAGE otherwise). */
CCC_MUST_USE ccc_status ccc_cbor_put_text(ccc_buf *b, const char *text,
                                          size_t size);
/* Text string from a NUL-terminated C string. */
CCC_MUST_USE ccc_status ccc_cbor_put_cstr(ccc_buf *b, const char *text);
/* Array header with `count` elements; the caller appends them. */
CCC_MUST_USE ccc_status ccc_cbor_put_array(ccc_buf *b, uint64_t count);
/* Map header with `count` pairs; the caller appends them IN CANONICAL ORDER
 * (or uses the map builder below). */
CCC_MUST_USE ccc_status ccc_cbor_put_map(ccc_buf *b, uint64_t count);
CCC_MUST_USE ccc_status ccc_cbor_put_tag(ccc_buf *b, uint64_t tag);
CCC_MUST_USE ccc_status ccc_cbor_put_bool(ccc_buf *b, bool v);
CCC_MUST_USE ccc_status ccc_cbor_put_null(ccc_buf *b);
/* Append an already-encoded item (e.g. a map from a finished map builder,
 * or a raw span from a decoded doc). Not checked: the caller vouches. */
CCC_MUST_USE ccc_status ccc_cbor_put_raw(ccc_buf *b, ccc_bytes encoded);

/*
 * Re-encode a decoded item and its subtree, every head in shortest form,
 * map entries in the order they were decoded (not re-sorted). For a document
 * decoded with CCC_CBOR_CANONICAL this reproduces the input bytes exactly.
 * Floats: CCC_ERR_UNSUPPORTED (the encoder has no float writer). Undefined
 * is written as 0xf7.
 */
CCC_MUST_USE ccc_status ccc_cbor_put_item(ccc_buf *b,
                                          const ccc_cbor_item *item);

/*
 * Deterministic map builder: collect entries in any order, emit them sorted
 * by the bytewise order of their encoded keys (RFC 8949 §4.2.1).
 *
 *   ccc_cbor_mapb mb;
 *   ccc_cbor_mapb_init(&mb, 1u << 20);
 *   CCC_TRY(ccc_cbor_mapb_key_text(&mb, "seq"));
 *   CCC_TRY(ccc_cbor_put_uint(ccc_cbor_mapb_value(&mb), 7));
 *   CCC_TRY(ccc_cbor_mapb_key_int(&mb, 1));
 *   CCC_TRY(ccc_cbor_put_int(ccc_cbor_mapb_value(&mb), -8));
 *   CCC_TRY(ccc_cbor_mapb_finish(&mb, out));  // a1.. sorted map appended
 *   ...
 *   out: ccc_cbor_mapb_wipe(&mb);
 *
 * After each key_* call, write exactly one item (the value) into the buffer
 * returned by ccc_cbor_mapb_value() (any put_* function, a nested finished
 * builder via put_raw, ...). finish() checks that every value is exactly one
 * well-formed item and that no key repeats (CCC_ERR_USAGE otherwise), then
 * appends the map header and the sorted entries to `out`. Nested maps use a
 * second builder. The builder's scratch memory is wiped on wipe(), so values
 * may be sensitive.
 */
typedef struct ccc_cbor_mapb {
    ccc_buf scratch;     /* encoded key/value entries, in insertion order */
    size_t *offsets;     /* per entry: start, key end (2 per entry)       */
    size_t count;        /* entries                                       */
    size_t capacity;     /* entries allocated in `offsets`                */
    ccc_status deferred; /* first error seen by key_* (reported by finish)*/
} ccc_cbor_mapb;

void ccc_cbor_mapb_init(ccc_cbor_mapb *mb, size_t max_size);
void ccc_cbor_mapb_wipe(ccc_cbor_mapb *mb);
CCC_MUST_USE ccc_status ccc_cbor_mapb_key_text(ccc_cbor_mapb *mb,
                                               const char *key);
CCC_MUST_USE ccc_status ccc_cbor_mapb_key_int(ccc_cbor_mapb *mb, int64_t key);
/* A key given as one encoded CBOR item (checked at finish). */
CCC_MUST_USE ccc_status ccc_cbor_mapb_key_raw(ccc_cbor_mapb *mb,
                                              ccc_bytes encoded_key);
/* The buffer the current entry's value is written into. */
ccc_buf *ccc_cbor_mapb_value(ccc_cbor_mapb *mb);
CCC_MUST_USE ccc_status ccc_cbor_mapb_finish(ccc_cbor_mapb *mb, ccc_buf *out);

#endif /* CCC_CBOR_H */
