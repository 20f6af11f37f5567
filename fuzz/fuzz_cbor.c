/*
 * Fuzz the CBOR decoder: lenient and canonical decoding, navigation of the
 * tree, and for canonical documents the round trip decode → re-encode, which
 * must give back the input bytes exactly (RFC 8949 §4.2.1: one encoding per
 * value).
 */
#include <stdlib.h>
#include <string.h>

#include "cbor/cbor.h"
#include "fuzz.h"

/* A found value must lie inside its container's subtree. */
static void check_inside(const ccc_cbor_item *parent, const ccc_cbor_item *c)
{
    if (c <= parent || c >= parent + parent->span)
        abort();
}

static void walk(const ccc_cbor_item *it)
{
    ccc_cbor_iter iter;
    const ccc_cbor_item *c;
    int64_t v;
    ccc_bytes b;
    ccc_cbor_iter_init(&iter, it);
    while ((c = ccc_cbor_iter_next(&iter))) {
        check_inside(it, c);
        walk(c);
    }
    if (ccc_cbor_map_get_int(it, 1, &c) == CCC_OK)
        check_inside(it, c);
    if (ccc_cbor_map_get_text(it, "a", &c) == CCC_OK)
        check_inside(it, c);
    if (it->count && ccc_cbor_array_get(it, it->count - 1, &c) == CCC_OK)
        check_inside(it, c);
    if (ccc_cbor_get_int(it, &v) == CCC_OK && it->type != CCC_CBOR_UINT &&
        it->type != CCC_CBOR_NINT)
        abort();
    if (ccc_cbor_get_bytes(it, &b) == CCC_OK && b.size > it->raw.size)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    ccc_cbor_limits lim = ccc_cbor_limits_default();
    lim.max_items = 4096;
    ccc_bytes in = ccc_bytes_of(data, size);

    if (ccc_cbor_decode(&doc, in, &lim, 0) == CCC_OK) {
        const ccc_cbor_item *root = ccc_cbor_doc_root(&doc);
        if (!root || root->raw.size != size || root->span != doc.count)
            abort();
        walk(root);
    }
    if (ccc_cbor_decode(&doc, in, &lim, CCC_CBOR_CANONICAL) == CCC_OK) {
        ccc_buf out;
        ccc_buf_init(&out, size);
        if (ccc_cbor_put_item(&out, ccc_cbor_doc_root(&doc)) != CCC_OK ||
            out.size != size || memcmp(out.data, data, size) != 0)
            abort(); /* canonical input must re-encode to itself */
        ccc_buf_wipe(&out);
    }
    ccc_cbor_doc_wipe(&doc);
    return 0;
}
