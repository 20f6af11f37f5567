/* Navigation of a decoded CBOR tree and typed getters. */
#include <string.h>

#include "cbor/cbor.h"

void ccc_cbor_iter_init(ccc_cbor_iter *it, const ccc_cbor_item *container)
{
    it->next = NULL;
    it->left = 0;
    if (!container)
        return;
    switch (container->type) {
    case CCC_CBOR_ARRAY:
    case CCC_CBOR_TAG:
        it->left = container->count;
        break;
    case CCC_CBOR_MAP:
        it->left = container->count * 2;
        break;
    default:
        return;
    }
    /* Children follow their parent in the pre-order arena. */
    if (it->left)
        it->next = container + 1;
}

const ccc_cbor_item *ccc_cbor_iter_next(ccc_cbor_iter *it)
{
    if (it->left == 0)
        return NULL;
    const ccc_cbor_item *cur = it->next;
    it->left--;
    it->next = it->left ? cur + cur->span : NULL;
    return cur;
}

/* Find the value whose key satisfies `match`; at most one may match. */
typedef bool (*key_match_fn)(const ccc_cbor_item *key, const void *arg);

static ccc_status map_find(const ccc_cbor_item *map, key_match_fn match,
                           const void *arg, const ccc_cbor_item **out)
{
    if (!map || map->type != CCC_CBOR_MAP)
        CCC_BAIL(CCC_ERR_PARSE, "expected a map");
    ccc_cbor_iter it;
    ccc_cbor_iter_init(&it, map);
    const ccc_cbor_item *k, *v, *found = NULL;
    while ((k = ccc_cbor_iter_next(&it)) && (v = ccc_cbor_iter_next(&it))) {
        if (!match(k, arg))
            continue;
        /* See cbor.h caveat 1: equal values with different encodings. */
        if (found)
            CCC_BAIL(CCC_ERR_PARSE, "ambiguous duplicate map key");
        found = v;
    }
    if (!found)
        CCC_BAIL(CCC_ERR_NOT_FOUND, "map key not found");
    *out = found;
    return CCC_OK;
}

static bool match_text(const ccc_cbor_item *key, const void *arg)
{
    return ccc_cbor_text_equals(key, (const char *)arg);
}

static bool match_int(const ccc_cbor_item *key, const void *arg)
{
    int64_t want = *(const int64_t *)arg;
    if (key->type == CCC_CBOR_UINT)
        return want >= 0 && key->uint == (uint64_t)want;
    if (key->type == CCC_CBOR_NINT)
        return want < 0 && key->uint == (uint64_t)(-1 - want);
    return false;
}

ccc_status ccc_cbor_map_get_text(const ccc_cbor_item *map, const char *key,
                                 const ccc_cbor_item **out)
{
    return map_find(map, match_text, key, out);
}

ccc_status ccc_cbor_map_get_int(const ccc_cbor_item *map, int64_t key,
                                const ccc_cbor_item **out)
{
    return map_find(map, match_int, &key, out);
}

ccc_status ccc_cbor_array_get(const ccc_cbor_item *array, size_t index,
                              const ccc_cbor_item **out)
{
    if (!array || array->type != CCC_CBOR_ARRAY)
        CCC_BAIL(CCC_ERR_PARSE, "expected an array");
    if (index >= array->count)
        CCC_BAIL_NUM(CCC_ERR_PARSE, "array too short for index", index);
    const ccc_cbor_item *c = array + 1;
    for (size_t i = 0; i < index; i++)
        c += c->span;
    *out = c;
    return CCC_OK;
}

ccc_status ccc_cbor_tag_content(const ccc_cbor_item *item, uint64_t tag,
                                const ccc_cbor_item **out)
{
    if (!item || item->type != CCC_CBOR_TAG)
        CCC_BAIL(CCC_ERR_PARSE, "expected a tag");
    if (tag != UINT64_MAX && item->uint != tag)
        CCC_BAIL(CCC_ERR_PARSE, "unexpected tag number");
    *out = item + 1;
    return CCC_OK;
}

ccc_status ccc_cbor_get_uint(const ccc_cbor_item *item, uint64_t *out)
{
    if (!item || item->type != CCC_CBOR_UINT)
        CCC_BAIL(CCC_ERR_PARSE, "expected an unsigned integer");
    *out = item->uint;
    return CCC_OK;
}

ccc_status ccc_cbor_get_int(const ccc_cbor_item *item, int64_t *out)
{
    if (!item || (item->type != CCC_CBOR_UINT && item->type != CCC_CBOR_NINT))
        CCC_BAIL(CCC_ERR_PARSE, "expected an integer");
    if (item->uint > (uint64_t)INT64_MAX)
        CCC_BAIL(CCC_ERR_PARSE, "integer out of range");
    /* NINT: -1 - n, with n <= INT64_MAX, never overflows. */
    *out = item->type == CCC_CBOR_UINT ? (int64_t)item->uint
                                       : -1 - (int64_t)item->uint;
    return CCC_OK;
}

ccc_status ccc_cbor_get_bytes(const ccc_cbor_item *item, ccc_bytes *out)
{
    if (!item || item->type != CCC_CBOR_BYTES)
        CCC_BAIL(CCC_ERR_PARSE, "expected a byte string");
    *out = item->str;
    return CCC_OK;
}

ccc_status ccc_cbor_get_text(const ccc_cbor_item *item, ccc_bytes *out)
{
    if (!item || item->type != CCC_CBOR_TEXT)
        CCC_BAIL(CCC_ERR_PARSE, "expected a text string");
    *out = item->str;
    return CCC_OK;
}

ccc_status ccc_cbor_get_bool(const ccc_cbor_item *item, bool *out)
{
    if (!item || (item->type != CCC_CBOR_TRUE && item->type != CCC_CBOR_FALSE))
        CCC_BAIL(CCC_ERR_PARSE, "expected a boolean");
    *out = item->type == CCC_CBOR_TRUE;
    return CCC_OK;
}

ccc_status ccc_cbor_get_array(const ccc_cbor_item *item, size_t *count)
{
    if (!item || item->type != CCC_CBOR_ARRAY)
        CCC_BAIL(CCC_ERR_PARSE, "expected an array");
    *count = item->count;
    return CCC_OK;
}

ccc_status ccc_cbor_get_map(const ccc_cbor_item *item, size_t *count)
{
    if (!item || item->type != CCC_CBOR_MAP)
        CCC_BAIL(CCC_ERR_PARSE, "expected a map");
    *count = item->count;
    return CCC_OK;
}

bool ccc_cbor_text_equals(const ccc_cbor_item *item, const char *s)
{
    if (!item || item->type != CCC_CBOR_TEXT || !s)
        return false;
    size_t n = strlen(s);
    return item->str.size == n && (n == 0 || memcmp(item->str.ptr, s, n) == 0);
}

bool ccc_cbor_is_null(const ccc_cbor_item *item)
{
    return item && item->type == CCC_CBOR_NULL;
}
