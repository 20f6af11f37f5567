/* cbor: RFC 8949 Appendix A, every rejection rule, limits, truncation,
 * deterministic encoding and the map builder. */
#include <math.h>

#include "testutil.h"

#include "cbor/cbor.h"

/* Decode hex with the given flags; returns the status, doc stays decoded. */
static ccc_status decode_hex(ccc_cbor_doc *doc, const char *hex,
                             const ccc_cbor_limits *lim, unsigned flags,
                             uint8_t **bytes, size_t *size)
{
    *bytes = test_unhex(hex, size);
    return ccc_cbor_decode(doc, ccc_bytes_of(*bytes, *size), lim, flags);
}

static ccc_status status_of_hex(const char *hex, unsigned flags)
{
    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    uint8_t *b;
    size_t n;
    ccc_status st = decode_hex(&doc, hex, NULL, flags, &b, &n);
    if (st != CCC_OK)
        assert_int_equal(doc.count, 0); /* nothing half-decoded */
    ccc_cbor_doc_wipe(&doc);
    free(b);
    return st;
}

/* RFC 8949 Appendix A, the examples that are not indefinite-length. */
static const char *const APPENDIX_A[] = {
    "00", "01", "0a", "17", "1818", "1819", "1864", "1903e8", "1a000f4240",
    "1b000000e8d4a51000", "1bffffffffffffffff", "c249010000000000000000",
    "3bffffffffffffffff", "c349010000000000000000", "20", "29", "3863",
    "3903e7", "f90000", "f98000", "f93c00", "fb3ff199999999999a", "f93e00",
    "f97bff", "fa47c35000", "fa7f7fffff", "fb7e37e43c8800759c", "f90001",
    "f90400", "f9c400", "fbc010666666666666", "f97c00", "f97e00", "f9fc00",
    "fa7f800000", "fa7fc00000", "faff800000", "fb7ff0000000000000",
    "fb7ff8000000000000", "fbfff0000000000000", "f4", "f5", "f6", "f7",
    "c074323031332d30332d32315432303a30343a30305a", "c11a514b67b0",
    "c1fb41d452d9ec200000", "d74401020304", "d818456449455446",
    "d82076687474703a2f2f7777772e6578616d706c652e636f6d", "40",
    "4401020304", "60", "6161", "6449455446", "62225c", "62c3bc", "63e6b0b4",
    "64f0908591", "80", "83010203", "8301820203820405",
    "98190102030405060708090a0b0c0d0e0f101112131415161718181819", "a0",
    "a201020304", "a26161016162820203", "826161a161626163",
    "a56161614161626142616361436164614461656145",
};

static void appendix_a_decodes_and_reencodes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof APPENDIX_A / sizeof APPENDIX_A[0]; i++) {
        ccc_cbor_doc doc;
        ccc_cbor_doc_init(&doc);
        uint8_t *b;
        size_t n;
        ccc_status st = decode_hex(&doc, APPENDIX_A[i], NULL, 0, &b, &n);
        if (st != CCC_OK)
            fail_msg("%s: %s", APPENDIX_A[i], ccc_error_detail());
        const ccc_cbor_item *root = ccc_cbor_doc_root(&doc);
        assert_ptr_equal(root->raw.ptr, b);
        assert_int_equal(root->raw.size, n);
        assert_int_equal(root->span, doc.count);
        ccc_buf out;
        ccc_buf_init(&out, 1024);
        st = ccc_cbor_put_item(&out, root);
        if (st == CCC_OK) {
            /* Every non-float example is already deterministic. */
            assert_int_equal(out.size, n);
            assert_memory_equal(out.data, b, n);
            assert_int_equal(status_of_hex(APPENDIX_A[i], CCC_CBOR_CANONICAL),
                             CCC_OK);
        } else {
            /* Floats: not re-encodable, refused in canonical mode. */
            assert_int_equal(st, CCC_ERR_UNSUPPORTED);
            assert_int_equal(out.size, 0);
            assert_int_equal(status_of_hex(APPENDIX_A[i], CCC_CBOR_CANONICAL),
                             CCC_ERR_PARSE);
        }
        ccc_buf_wipe(&out);
        ccc_cbor_doc_wipe(&doc);
        free(b);
    }
}

static void appendix_a_values(void **state)
{
    (void)state;
    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    uint8_t *b;
    size_t n;
    uint64_t u;
    int64_t v;
    const ccc_cbor_item *it, *e;

    assert_int_equal(decode_hex(&doc, "1bffffffffffffffff", NULL, 0, &b, &n),
                     CCC_OK);
    assert_int_equal(ccc_cbor_get_uint(ccc_cbor_doc_root(&doc), &u), CCC_OK);
    assert_true(u == UINT64_MAX);
    assert_int_equal(ccc_cbor_get_int(ccc_cbor_doc_root(&doc), &v),
                     CCC_ERR_PARSE);
    assert_string_equal(ccc_error_detail(), "integer out of range");
    free(b);

    assert_int_equal(decode_hex(&doc, "3903e7", NULL, 0, &b, &n), CCC_OK);
    assert_int_equal(ccc_cbor_get_int(ccc_cbor_doc_root(&doc), &v), CCC_OK);
    assert_int_equal(v, -1000);
    free(b);

    assert_int_equal(decode_hex(&doc, "3b7fffffffffffffff", NULL, 0, &b, &n),
                     CCC_OK);
    assert_int_equal(ccc_cbor_get_int(ccc_cbor_doc_root(&doc), &v), CCC_OK);
    assert_true(v == INT64_MIN);
    free(b);

    struct {
        const char *hex;
        double want;
    } floats[] = {{"f93c00", 1.0},     {"f98000", -0.0},
                  {"f97bff", 65504.0}, {"f90001", 5.960464477539063e-8},
                  {"f9c400", -4.0},    {"fa47c35000", 100000.0},
                  {"fb3ff199999999999a", 1.1}};
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        assert_int_equal(decode_hex(&doc, floats[i].hex, NULL, 0, &b, &n),
                         CCC_OK);
        it = ccc_cbor_doc_root(&doc);
        assert_int_equal(it->type, CCC_CBOR_FLOAT);
        assert_true(it->f == floats[i].want);
        free(b);
    }
    assert_int_equal(decode_hex(&doc, "f97e00", NULL, 0, &b, &n), CCC_OK);
    assert_true(isnan(ccc_cbor_doc_root(&doc)->f));
    free(b);
    assert_int_equal(decode_hex(&doc, "f9fc00", NULL, 0, &b, &n), CCC_OK);
    assert_true(isinf(ccc_cbor_doc_root(&doc)->f) &&
                ccc_cbor_doc_root(&doc)->f < 0);
    free(b);

    /* ["a", {"b": "c"}]: raw spans and lookups. */
    assert_int_equal(decode_hex(&doc, "826161a161626163", NULL, 0, &b, &n),
                     CCC_OK);
    it = ccc_cbor_doc_root(&doc);
    assert_int_equal(ccc_cbor_array_get(it, 1, &e), CCC_OK);
    assert_int_equal(e->type, CCC_CBOR_MAP);
    assert_ptr_equal(e->raw.ptr, b + 3);
    assert_int_equal(e->raw.size, 5);
    assert_int_equal(e->depth, 1);
    const ccc_cbor_item *c;
    assert_int_equal(ccc_cbor_map_get_text(e, "b", &c), CCC_OK);
    assert_true(ccc_cbor_text_equals(c, "c"));
    assert_int_equal(ccc_cbor_map_get_text(e, "c", &c), CCC_ERR_NOT_FOUND);
    assert_int_equal(ccc_cbor_array_get(it, 2, &e), CCC_ERR_PARSE);
    free(b);

    /* 23(h'01020304'): tag content. */
    assert_int_equal(decode_hex(&doc, "d74401020304", NULL, 0, &b, &n), CCC_OK);
    assert_int_equal(ccc_cbor_tag_content(ccc_cbor_doc_root(&doc), 23, &c),
                     CCC_OK);
    ccc_bytes bs;
    assert_int_equal(ccc_cbor_get_bytes(c, &bs), CCC_OK);
    assert_int_equal(bs.size, 4);
    assert_int_equal(bs.ptr[3], 4);
    assert_int_equal(ccc_cbor_tag_content(ccc_cbor_doc_root(&doc), 24, &c),
                     CCC_ERR_PARSE);
    assert_int_equal(
        ccc_cbor_tag_content(ccc_cbor_doc_root(&doc), UINT64_MAX, &c), CCC_OK);
    free(b);
    ccc_cbor_doc_wipe(&doc);
}

static void iterator_and_int_keys(void **state)
{
    (void)state;
    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    uint8_t *b;
    size_t n;
    /* {1: [2, [3]], -2: "x", "k": h'aa'} */
    assert_int_equal(
        decode_hex(&doc, "a3018202810321617861" "6b41aa", NULL, 0, &b, &n),
        CCC_OK);
    const ccc_cbor_item *m = ccc_cbor_doc_root(&doc), *v, *k;
    size_t count;
    assert_int_equal(ccc_cbor_get_map(m, &count), CCC_OK);
    assert_int_equal(count, 3);
    assert_int_equal(ccc_cbor_map_get_int(m, -2, &v), CCC_OK);
    assert_true(ccc_cbor_text_equals(v, "x"));
    assert_int_equal(ccc_cbor_map_get_int(m, 1, &v), CCC_OK);
    assert_int_equal(ccc_cbor_get_array(v, &count), CCC_OK);
    assert_int_equal(count, 2);
    assert_int_equal(ccc_cbor_map_get_int(m, 2, &v), CCC_ERR_NOT_FOUND);
    assert_int_equal(ccc_cbor_map_get_int(m, -1, &v), CCC_ERR_NOT_FOUND);
    assert_int_equal(ccc_cbor_map_get_text(m, "k", &v), CCC_OK);
    assert_int_equal(v->type, CCC_CBOR_BYTES);
    ccc_cbor_iter it;
    ccc_cbor_iter_init(&it, m);
    int pairs = 0;
    while ((k = ccc_cbor_iter_next(&it)) && (v = ccc_cbor_iter_next(&it)))
        pairs++;
    assert_int_equal(pairs, 3);
    ccc_cbor_iter_init(&it, v); /* a byte string: no children */
    assert_null(ccc_cbor_iter_next(&it));
    free(b);
    ccc_cbor_doc_wipe(&doc);
}

static void typed_getters_refuse_wrong_types(void **state)
{
    (void)state;
    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    uint8_t *b;
    size_t n;
    assert_int_equal(decode_hex(&doc, "6161", NULL, 0, &b, &n), CCC_OK);
    const ccc_cbor_item *t = ccc_cbor_doc_root(&doc), *o;
    uint64_t u;
    int64_t i;
    ccc_bytes bs;
    bool bo;
    size_t c;
    assert_int_equal(ccc_cbor_get_uint(t, &u), CCC_ERR_PARSE);
    assert_string_equal(ccc_error_detail(), "expected an unsigned integer");
    assert_int_equal(ccc_cbor_get_int(t, &i), CCC_ERR_PARSE);
    assert_string_equal(ccc_error_detail(), "expected an integer");
    assert_int_equal(ccc_cbor_get_bytes(t, &bs), CCC_ERR_PARSE);
    assert_string_equal(ccc_error_detail(), "expected a byte string");
    assert_int_equal(ccc_cbor_get_bool(t, &bo), CCC_ERR_PARSE);
    assert_int_equal(ccc_cbor_get_array(t, &c), CCC_ERR_PARSE);
    assert_int_equal(ccc_cbor_get_map(t, &c), CCC_ERR_PARSE);
    assert_int_equal(ccc_cbor_map_get_text(t, "a", &o), CCC_ERR_PARSE);
    assert_string_equal(ccc_error_detail(), "expected a map");
    assert_int_equal(ccc_cbor_map_get_int(t, 1, &o), CCC_ERR_PARSE);
    assert_int_equal(ccc_cbor_array_get(t, 0, &o), CCC_ERR_PARSE);
    assert_int_equal(ccc_cbor_tag_content(t, 1, &o), CCC_ERR_PARSE);
    assert_int_equal(ccc_cbor_get_text(t, &bs), CCC_OK);
    assert_false(ccc_cbor_is_null(t));
    assert_false(ccc_cbor_text_equals(t, "ab"));
    free(b);
    assert_int_equal(decode_hex(&doc, "f5", NULL, 0, &b, &n), CCC_OK);
    assert_int_equal(ccc_cbor_get_bool(ccc_cbor_doc_root(&doc), &bo), CCC_OK);
    assert_true(bo);
    assert_int_equal(ccc_cbor_get_text(ccc_cbor_doc_root(&doc), &bs),
                     CCC_ERR_PARSE);
    assert_string_equal(ccc_error_detail(), "expected a text string");
    free(b);
    ccc_cbor_doc_wipe(&doc);
}

typedef struct bad_case {
    const char *hex;
    unsigned flags;
    ccc_status want;
    const char *detail;
} bad_case;

static const bad_case BAD[] = {
    /* RFC 8949 §3.2: indefinite lengths and break, from Appendix A. */
    {"5f42010243030405ff", 0, CCC_ERR_PARSE, "indefinite length not allowed"},
    {"7f657374726561646d696e67ff", 0, CCC_ERR_PARSE,
     "indefinite length not allowed"},
    {"9fff", 0, CCC_ERR_PARSE, "indefinite length not allowed"},
    {"9f018202039f0405ffff", 0, CCC_ERR_PARSE, "indefinite length not allowed"},
    {"83018202039f0405ff", 0, CCC_ERR_PARSE, "indefinite length not allowed"},
    {"bf61610161629f0203ffff", 0, CCC_ERR_PARSE,
     "indefinite length not allowed"},
    {"ff", 0, CCC_ERR_PARSE, "unexpected break stop code"},
    {"8201ff", 0, CCC_ERR_PARSE, "unexpected break stop code"},
    {"1f", 0, CCC_ERR_PARSE, "invalid additional information 31"},
    {"3f", 0, CCC_ERR_PARSE, "invalid additional information 31"},
    {"df00", 0, CCC_ERR_PARSE, "invalid additional information 31"},
    /* §3: reserved additional information 28..30 in every major type. */
    {"1c", 0, CCC_ERR_PARSE, "reserved additional information"},
    {"1d", 0, CCC_ERR_PARSE, "reserved additional information"},
    {"1e", 0, CCC_ERR_PARSE, "reserved additional information"},
    {"3c", 0, CCC_ERR_PARSE, "reserved additional information"},
    {"5d", 0, CCC_ERR_PARSE, "reserved additional information"},
    {"7e", 0, CCC_ERR_PARSE, "reserved additional information"},
    {"9c", 0, CCC_ERR_PARSE, "reserved additional information"},
    {"bd", 0, CCC_ERR_PARSE, "reserved additional information"},
    {"de", 0, CCC_ERR_PARSE, "reserved additional information"},
    {"fc", 0, CCC_ERR_PARSE, "reserved additional information"},
    /* §3.3 simple values. */
    {"f800", 0, CCC_ERR_PARSE, "invalid two-byte simple value"},
    {"f818", 0, CCC_ERR_PARSE, "invalid two-byte simple value"},
    {"f0", 0, CCC_ERR_PARSE, "unassigned simple value"},
    {"f8ff", 0, CCC_ERR_PARSE, "unassigned simple value"},
    /* §5.6: duplicate keys (adjacent, non-adjacent, text, nested). */
    {"a201000100", 0, CCC_ERR_PARSE, "duplicate map key"},
    {"a3010002000100", 0, CCC_ERR_PARSE, "duplicate map key"},
    {"a26161016161f6", 0, CCC_ERR_PARSE, "duplicate map key"},
    {"81a2820102008201020f", 0, CCC_ERR_PARSE, "duplicate map key"},
    {"a201000100", CCC_CBOR_CANONICAL, CCC_ERR_PARSE, "duplicate map key"},
    /* Trailing bytes after the top item. */
    {"0000", 0, CCC_ERR_PARSE, "trailing bytes after CBOR item"},
    {"8001", 0, CCC_ERR_PARSE, "trailing bytes after CBOR item"},
    {"a0a0", CCC_CBOR_CANONICAL, CCC_ERR_PARSE,
     "trailing bytes after CBOR item"},
    /* Truncation and impossible counts. */
    {"", 0, CCC_ERR_PARSE, "empty CBOR input"},
    {"18", 0, CCC_ERR_PARSE, "truncated input"},
    {"1b00000000000000", 0, CCC_ERR_PARSE, "truncated input"},
    {"9bffffffffffffffff", 0, CCC_ERR_PARSE, "truncated input"},
    {"bbffffffffffffffff", 0, CCC_ERR_PARSE, "truncated input"},
    {"a10000a1", 0, CCC_ERR_PARSE, "trailing bytes after CBOR item"},
    {"a2000001", 0, CCC_ERR_PARSE, "truncated input"},
    {"5bffffffffffffffff", 0, CCC_ERR_LIMIT, NULL},
    {"4501", 0, CCC_ERR_PARSE, "truncated input"},
    /* §3.1 invalid UTF-8 in text. */
    {"61ff", 0, CCC_ERR_PARSE, "invalid UTF-8 in text string"},
    {"6180", 0, CCC_ERR_PARSE, "invalid UTF-8 in text string"},
    {"62c080", 0, CCC_ERR_PARSE, "invalid UTF-8 in text string"},
    {"62c328", 0, CCC_ERR_PARSE, "invalid UTF-8 in text string"},
    {"63e08080", 0, CCC_ERR_PARSE, "invalid UTF-8 in text string"},
    {"63eda080", 0, CCC_ERR_PARSE, "invalid UTF-8 in text string"},
    {"64f4908080", 0, CCC_ERR_PARSE, "invalid UTF-8 in text string"},
    {"64f0808080", 0, CCC_ERR_PARSE, "invalid UTF-8 in text string"},
    {"61c3", 0, CCC_ERR_PARSE, "invalid UTF-8 in text string"},
    {"a161ff00", 0, CCC_ERR_PARSE, "invalid UTF-8 in text string"},
    /* §4.2.1 in canonical mode: shortest heads ... */
    {"1817", CCC_CBOR_CANONICAL, CCC_ERR_PARSE,
     "non-shortest head in canonical mode"},
    {"190017", CCC_CBOR_CANONICAL, CCC_ERR_PARSE,
     "non-shortest head in canonical mode"},
    {"1900ff", CCC_CBOR_CANONICAL, CCC_ERR_PARSE,
     "non-shortest head in canonical mode"},
    {"1a0000ffff", CCC_CBOR_CANONICAL, CCC_ERR_PARSE,
     "non-shortest head in canonical mode"},
    {"1b00000000ffffffff", CCC_CBOR_CANONICAL, CCC_ERR_PARSE,
     "non-shortest head in canonical mode"},
    {"3817", CCC_CBOR_CANONICAL, CCC_ERR_PARSE,
     "non-shortest head in canonical mode"},
    {"580141", CCC_CBOR_CANONICAL, CCC_ERR_PARSE,
     "non-shortest head in canonical mode"},
    {"780161", CCC_CBOR_CANONICAL, CCC_ERR_PARSE,
     "non-shortest head in canonical mode"},
    {"980100", CCC_CBOR_CANONICAL, CCC_ERR_PARSE,
     "non-shortest head in canonical mode"},
    {"b8010000", CCC_CBOR_CANONICAL, CCC_ERR_PARSE,
     "non-shortest head in canonical mode"},
    {"d81700", CCC_CBOR_CANONICAL, CCC_ERR_PARSE,
     "non-shortest head in canonical mode"},
    /* ... sorted keys ... */
    {"a202000100", CCC_CBOR_CANONICAL, CCC_ERR_PARSE,
     "map keys not in canonical order"},
    {"a2616200616100", CCC_CBOR_CANONICAL, CCC_ERR_PARSE,
     "map keys not in canonical order"},
    /* bytewise, not length-first: "a" (0x6161) sorts after 24 (0x1818) and
     * after the longer 1000 (0x1903e8). */
    {"a2616100181800", CCC_CBOR_CANONICAL, CCC_ERR_PARSE,
     "map keys not in canonical order"},
    {"a26161001903e800", CCC_CBOR_CANONICAL, CCC_ERR_PARSE,
     "map keys not in canonical order"},
    {"a1a202000100f6", CCC_CBOR_CANONICAL, CCC_ERR_PARSE,
     "map keys not in canonical order"},
    /* ... and no floats. */
    {"f93c00", CCC_CBOR_CANONICAL, CCC_ERR_PARSE,
     "float not allowed in canonical mode"},
    {"81fa47c35000", CCC_CBOR_CANONICAL, CCC_ERR_PARSE,
     "float not allowed in canonical mode"},
    /* Unknown flags are a usage error. */
    {"00", 0x80, CCC_ERR_USAGE, "unknown CBOR decode flag"},
};

static void every_rejection_rule(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        ccc_status st = status_of_hex(BAD[i].hex, BAD[i].flags);
        if (st != BAD[i].want)
            fail_msg("case %zu (%s): got %s (%s), want %s", i, BAD[i].hex,
                     ccc_status_name(st), ccc_error_detail(),
                     ccc_status_name(BAD[i].want));
        if (BAD[i].detail && strcmp(ccc_error_detail(), BAD[i].detail) != 0)
            fail_msg("case %zu (%s): detail '%s', want '%s'", i, BAD[i].hex,
                     ccc_error_detail(), BAD[i].detail);
    }
}

static void lenient_mode_accepts_what_canonical_refuses(void **state)
{
    (void)state;
    /* Well-formed and valid, only not deterministic. */
    const char *ok[] = {"1817", "190017", "580141", "d81700", "a202000100",
                        "a2616200616100", "a26161001903e800"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(status_of_hex(ok[i], 0), CCC_OK);
        assert_int_equal(status_of_hex(ok[i], CCC_CBOR_CANONICAL),
                         CCC_ERR_PARSE);
    }
    /* Bytewise order puts 24 (0x1818) before "a" (0x6161). */
    assert_int_equal(status_of_hex("a21818006161f6", CCC_CBOR_CANONICAL),
                     CCC_OK);
}

static void ambiguous_duplicate_keys_refused_on_lookup(void **state)
{
    (void)state;
    /* {1: 0, 1 (non-shortest): 1}: different bytes, same key. The decoder
     * (lenient mode) accepts it; a lookup must not pick one silently. */
    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    uint8_t *b;
    size_t n;
    assert_int_equal(decode_hex(&doc, "a20100180101", NULL, 0, &b, &n), CCC_OK);
    const ccc_cbor_item *v;
    assert_int_equal(ccc_cbor_map_get_int(ccc_cbor_doc_root(&doc), 1, &v),
                     CCC_ERR_PARSE);
    assert_string_equal(ccc_error_detail(), "ambiguous duplicate map key");
    free(b);
    assert_int_equal(decode_hex(&doc, "a261610078016100", NULL, 0, &b, &n),
                     CCC_OK);
    assert_int_equal(ccc_cbor_map_get_text(ccc_cbor_doc_root(&doc), "a", &v),
                     CCC_ERR_PARSE);
    free(b);
    /* In canonical mode the same document never decodes. */
    assert_int_equal(status_of_hex("a20100180101", CCC_CBOR_CANONICAL),
                     CCC_ERR_PARSE);
    ccc_cbor_doc_wipe(&doc);
}

static void limits_are_enforced(void **state)
{
    (void)state;
    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    uint8_t *b;
    size_t n;
    ccc_cbor_limits lim = ccc_cbor_limits_default();
    assert_true(lim.max_depth > 0 && lim.max_items > 0 &&
                lim.max_input_size > 0 && lim.max_string_size > 0);

    lim.max_depth = 3;
    assert_int_equal(decode_hex(&doc, "81818100", &lim, 0, &b, &n), CCC_OK);
    free(b);
    assert_int_equal(decode_hex(&doc, "8181818100", &lim, 0, &b, &n),
                     CCC_ERR_LIMIT);
    assert_int_equal(doc.count, 0);
    free(b);
    /* Tags count toward depth. */
    assert_int_equal(decode_hex(&doc, "c1c1c100", &lim, 0, &b, &n), CCC_OK);
    free(b);
    assert_int_equal(decode_hex(&doc, "c1c1c1c100", &lim, 0, &b, &n),
                     CCC_ERR_LIMIT);
    free(b);
    assert_int_equal(decode_hex(&doc, "a101a101a10100", &lim, 0, &b, &n),
                     CCC_OK);
    free(b);
    assert_int_equal(decode_hex(&doc, "a101a101a101a10100", &lim, 0, &b, &n),
                     CCC_ERR_LIMIT);
    free(b);

    lim = ccc_cbor_limits_default();
    lim.max_items = 5;
    assert_int_equal(decode_hex(&doc, "8401020304", &lim, 0, &b, &n), CCC_OK);
    assert_int_equal(doc.count, 5);
    free(b);
    assert_int_equal(decode_hex(&doc, "850102030405", &lim, 0, &b, &n),
                     CCC_ERR_LIMIT);
    free(b);
    /* Counts beyond the item limit are refused before any child is read
     * (a map of 3 pairs needs 7 items). */
    assert_int_equal(decode_hex(&doc, "a3010102020303", &lim, 0, &b, &n),
                     CCC_ERR_LIMIT);
    free(b);
    assert_int_equal(decode_hex(&doc, "a20101020200", &lim, 0, &b, &n),
                     CCC_ERR_PARSE); /* trailing byte, but within limits */
    free(b);

    lim = ccc_cbor_limits_default();
    lim.max_string_size = 3;
    assert_int_equal(decode_hex(&doc, "43010203", &lim, 0, &b, &n), CCC_OK);
    free(b);
    assert_int_equal(decode_hex(&doc, "4401020304", &lim, 0, &b, &n),
                     CCC_ERR_LIMIT);
    free(b);
    assert_int_equal(decode_hex(&doc, "6461626364", &lim, 0, &b, &n),
                     CCC_ERR_LIMIT);
    free(b);

    lim = ccc_cbor_limits_default();
    lim.max_input_size = 4;
    assert_int_equal(decode_hex(&doc, "83010203", &lim, 0, &b, &n), CCC_OK);
    free(b);
    assert_int_equal(decode_hex(&doc, "8401020304", &lim, 0, &b, &n),
                     CCC_ERR_LIMIT);
    free(b);

    /* Depth beyond the recursion ceiling is a usage error, not a crash. */
    lim = ccc_cbor_limits_default();
    lim.max_depth = 100000;
    assert_int_equal(decode_hex(&doc, "00", &lim, 0, &b, &n), CCC_ERR_USAGE);
    free(b);

    /* Default depth stops deep nesting long before the stack would. */
    size_t deep = 100000;
    uint8_t *nest = malloc(deep + 1);
    assert_non_null(nest);
    memset(nest, 0x81, deep);
    nest[deep] = 0;
    assert_int_equal(
        ccc_cbor_decode(&doc, ccc_bytes_of(nest, deep + 1), NULL, 0),
        CCC_ERR_LIMIT);
    free(nest);
    ccc_cbor_doc_wipe(&doc);
}

/* Every strict prefix of a valid document fails cleanly. */
static void check_every_prefix_fails(const uint8_t *data, size_t size,
                                     const ccc_cbor_limits *lim,
                                     unsigned flags)
{
    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    assert_int_equal(ccc_cbor_decode(&doc, ccc_bytes_of(data, size), lim, flags),
                     CCC_OK);
    for (size_t k = 0; k < size; k++) {
        /* Exact-size copy, so ASan sees any read past the prefix. */
        uint8_t *p = malloc(k ? k : 1);
        assert_non_null(p);
        memcpy(p, data, k);
        ccc_status st = ccc_cbor_decode(&doc, ccc_bytes_of(p, k), lim, flags);
        if (st != CCC_ERR_PARSE)
            fail_msg("prefix %zu of %zu: %s", k, size, ccc_status_name(st));
        assert_int_equal(doc.count, 0);
        free(p);
    }
    ccc_cbor_doc_wipe(&doc);
}

static void every_truncation_fails(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof APPENDIX_A / sizeof APPENDIX_A[0]; i++) {
        size_t n;
        uint8_t *b = test_unhex(APPENDIX_A[i], &n);
        check_every_prefix_fails(b, n, NULL, 0);
        free(b);
    }
    ccc_buf nitro;
    test_read_file(test_path("tests/vectors/nitro/attestation-blocky-2024-09-07.cbor"),
                   &nitro);
    check_every_prefix_fails(nitro.data, nitro.size, NULL, 0);
    ccc_buf_wipe(&nitro);
}

static void nitro_document_tree(void **state)
{
    (void)state;
    /* The real attestation document: COSE_Sign1 (untagged) whose payload is
     * a CBOR map with the documented fields. */
    ccc_buf f;
    test_read_file(test_path("tests/vectors/nitro/attestation-blocky-2024-09-07.cbor"),
                   &f);
    ccc_cbor_doc doc, pay;
    ccc_cbor_doc_init(&doc);
    ccc_cbor_doc_init(&pay);
    assert_int_equal(ccc_cbor_decode(&doc, ccc_buf_bytes(&f), NULL, 0), CCC_OK);
    const ccc_cbor_item *root = ccc_cbor_doc_root(&doc), *p, *v;
    size_t count;
    assert_int_equal(ccc_cbor_get_array(root, &count), CCC_OK);
    assert_int_equal(count, 4);
    assert_int_equal(ccc_cbor_array_get(root, 0, &p), CCC_OK);
    ccc_bytes prot;
    assert_int_equal(ccc_cbor_get_bytes(p, &prot), CCC_OK);
    assert_int_equal(prot.size, 4);
    assert_memory_equal(prot.ptr, "\xa1\x01\x38\x22", 4);
    assert_int_equal(ccc_cbor_array_get(root, 2, &p), CCC_OK);
    ccc_bytes payload;
    assert_int_equal(ccc_cbor_get_bytes(p, &payload), CCC_OK);
    assert_int_equal(ccc_cbor_decode(&pay, payload, NULL, 0), CCC_OK);
    const ccc_cbor_item *m = ccc_cbor_doc_root(&pay);
    assert_int_equal(ccc_cbor_map_get_text(m, "digest", &v), CCC_OK);
    assert_true(ccc_cbor_text_equals(v, "SHA384"));
    assert_int_equal(ccc_cbor_map_get_text(m, "timestamp", &v), CCC_OK);
    uint64_t ts;
    assert_int_equal(ccc_cbor_get_uint(v, &ts), CCC_OK);
    assert_true(ts == 1725719859545ull);
    assert_int_equal(ccc_cbor_map_get_text(m, "pcrs", &v), CCC_OK);
    assert_int_equal(ccc_cbor_get_map(v, &count), CCC_OK);
    assert_int_equal(count, 16);
    const ccc_cbor_item *pcr0;
    assert_int_equal(ccc_cbor_map_get_int(v, 0, &pcr0), CCC_OK);
    assert_int_equal(pcr0->str.size, 48);
    assert_int_equal(pcr0->str.ptr[0], 0xe7);
    assert_int_equal(ccc_cbor_map_get_text(m, "cabundle", &v), CCC_OK);
    assert_int_equal(ccc_cbor_get_array(v, &count), CCC_OK);
    assert_true(count >= 1);
    ccc_cbor_doc_wipe(&pay);
    ccc_cbor_doc_wipe(&doc);
    ccc_buf_wipe(&f);
}

static void encoder_uses_shortest_form(void **state)
{
    (void)state;
    struct {
        uint64_t v;
        const char *hex;
    } u[] = {{0, "00"},
             {23, "17"},
             {24, "1818"},
             {255, "18ff"},
             {256, "190100"},
             {65535, "19ffff"},
             {65536, "1a00010000"},
             {0xffffffffull, "1affffffff"},
             {0x100000000ull, "1b0000000100000000"},
             {UINT64_MAX, "1bffffffffffffffff"}};
    char hex[64];
    ccc_buf b;
    ccc_buf_init(&b, 64);
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
        ccc_buf_reset(&b);
        assert_int_equal(ccc_cbor_put_uint(&b, u[i].v), CCC_OK);
        ccc_hex_encode(b.data, b.size, hex);
        assert_string_equal(hex, u[i].hex);
    }
    struct {
        int64_t v;
        const char *hex;
    } s[] = {{-1, "20"},           {-24, "37"},
             {-25, "3818"},        {-1000, "3903e7"},
             {INT64_MIN, "3b7fffffffffffffff"},
             {INT64_MAX, "1b7fffffffffffffff"}};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        ccc_buf_reset(&b);
        assert_int_equal(ccc_cbor_put_int(&b, s[i].v), CCC_OK);
        ccc_hex_encode(b.data, b.size, hex);
        assert_string_equal(hex, s[i].hex);
    }
    ccc_buf_reset(&b);
    assert_int_equal(ccc_cbor_put_nint(&b, UINT64_MAX), CCC_OK);
    ccc_hex_encode(b.data, b.size, hex);
    assert_string_equal(hex, "3bffffffffffffffff");
    ccc_buf_reset(&b);
    assert_int_equal(ccc_cbor_put_tag(&b, 18), CCC_OK);
    assert_int_equal(ccc_cbor_put_array(&b, 4), CCC_OK);
    assert_int_equal(ccc_cbor_put_map(&b, 0), CCC_OK);
    assert_int_equal(ccc_cbor_put_bool(&b, false), CCC_OK);
    assert_int_equal(ccc_cbor_put_bool(&b, true), CCC_OK);
    assert_int_equal(ccc_cbor_put_null(&b), CCC_OK);
    assert_int_equal(ccc_cbor_put_bytes_head(&b, 24), CCC_OK);
    ccc_hex_encode(b.data, b.size, hex);
    assert_string_equal(hex, "d284a0f4f5f65818");
    /* Text must be UTF-8; a failed put leaves the buffer as it was. */
    ccc_buf_reset(&b);
    assert_int_equal(ccc_cbor_put_text(&b, "\xff", 1), CCC_ERR_USAGE);
    assert_int_equal(ccc_cbor_put_cstr(&b, "\xc3\xbc"), CCC_OK);
    ccc_hex_encode(b.data, b.size, hex);
    assert_string_equal(hex, "62c3bc");
    /* A string that does not fit under the cap leaves no head behind. */
    ccc_buf small;
    ccc_buf_init(&small, 4);
    assert_int_equal(ccc_cbor_put_bytes(&small, "abcd", 4), CCC_ERR_LIMIT);
    assert_int_equal(small.size, 0);
    ccc_buf_wipe(&small);
    ccc_buf_wipe(&b);
}

static void map_builder_sorts_bytewise(void **state)
{
    (void)state;
    /* RFC 8949 §4.2.1's example order: 10, 100, -1, "z", "aa", [100], [-1],
     * false. Insert them scrambled. */
    ccc_cbor_mapb mb;
    ccc_cbor_mapb_init(&mb, 4096);
    uint8_t k_arr100[] = {0x81, 0x18, 0x64}, k_arrm1[] = {0x81, 0x20},
            k_false[] = {0xf4};
    assert_int_equal(ccc_cbor_mapb_key_raw(&mb, ccc_bytes_of(k_false, 1)),
                     CCC_OK);
    assert_int_equal(ccc_cbor_put_uint(ccc_cbor_mapb_value(&mb), 8), CCC_OK);
    assert_int_equal(ccc_cbor_mapb_key_text(&mb, "aa"), CCC_OK);
    assert_int_equal(ccc_cbor_put_uint(ccc_cbor_mapb_value(&mb), 5), CCC_OK);
    assert_int_equal(ccc_cbor_mapb_key_int(&mb, -1), CCC_OK);
    assert_int_equal(ccc_cbor_put_uint(ccc_cbor_mapb_value(&mb), 3), CCC_OK);
    assert_int_equal(ccc_cbor_mapb_key_raw(&mb, ccc_bytes_of(k_arrm1, 2)),
                     CCC_OK);
    assert_int_equal(ccc_cbor_put_uint(ccc_cbor_mapb_value(&mb), 7), CCC_OK);
    assert_int_equal(ccc_cbor_mapb_key_int(&mb, 100), CCC_OK);
    assert_int_equal(ccc_cbor_put_uint(ccc_cbor_mapb_value(&mb), 2), CCC_OK);
    assert_int_equal(ccc_cbor_mapb_key_text(&mb, "z"), CCC_OK);
    assert_int_equal(ccc_cbor_put_uint(ccc_cbor_mapb_value(&mb), 4), CCC_OK);
    assert_int_equal(ccc_cbor_mapb_key_int(&mb, 10), CCC_OK);
    assert_int_equal(ccc_cbor_put_uint(ccc_cbor_mapb_value(&mb), 1), CCC_OK);
    assert_int_equal(ccc_cbor_mapb_key_raw(&mb, ccc_bytes_of(k_arr100, 3)),
                     CCC_OK);
    assert_int_equal(ccc_cbor_put_uint(ccc_cbor_mapb_value(&mb), 6), CCC_OK);
    ccc_buf out;
    ccc_buf_init(&out, 4096);
    assert_int_equal(ccc_cbor_mapb_finish(&mb, &out), CCC_OK);
    char hex[128];
    ccc_hex_encode(out.data, out.size, hex);
    assert_string_equal(hex, "a80a011864022003617a04626161058118640681"
                             "2007f408");
    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    assert_int_equal(
        ccc_cbor_decode(&doc, ccc_buf_bytes(&out), NULL, CCC_CBOR_CANONICAL),
        CCC_OK);
    assert_int_equal(doc.count, 19);
    ccc_cbor_doc_wipe(&doc);
    ccc_cbor_mapb_wipe(&mb);
    ccc_buf_wipe(&out);
}

static void map_builder_refuses_mistakes(void **state)
{
    (void)state;
    ccc_cbor_mapb mb;
    ccc_buf out;
    ccc_buf_init(&out, 4096);
    assert_int_equal(ccc_cbor_put_uint(&out, 9), CCC_OK); /* prior content */

    /* Duplicate key. */
    ccc_cbor_mapb_init(&mb, 4096);
    assert_int_equal(ccc_cbor_mapb_key_text(&mb, "a"), CCC_OK);
    assert_int_equal(ccc_cbor_put_null(ccc_cbor_mapb_value(&mb)), CCC_OK);
    assert_int_equal(ccc_cbor_mapb_key_text(&mb, "a"), CCC_OK);
    assert_int_equal(ccc_cbor_put_null(ccc_cbor_mapb_value(&mb)), CCC_OK);
    assert_int_equal(ccc_cbor_mapb_finish(&mb, &out), CCC_ERR_USAGE);
    assert_string_equal(ccc_error_detail(), "duplicate map key");
    ccc_cbor_mapb_wipe(&mb);

    /* Missing value, and two values for one key. */
    ccc_cbor_mapb_init(&mb, 4096);
    assert_int_equal(ccc_cbor_mapb_key_int(&mb, 1), CCC_OK);
    assert_int_equal(ccc_cbor_mapb_key_int(&mb, 2), CCC_OK);
    assert_int_equal(ccc_cbor_put_null(ccc_cbor_mapb_value(&mb)), CCC_OK);
    assert_int_equal(ccc_cbor_mapb_finish(&mb, &out), CCC_ERR_USAGE);
    ccc_cbor_mapb_wipe(&mb);
    ccc_cbor_mapb_init(&mb, 4096);
    assert_int_equal(ccc_cbor_mapb_key_int(&mb, 1), CCC_OK);
    assert_int_equal(ccc_cbor_put_null(ccc_cbor_mapb_value(&mb)), CCC_OK);
    assert_int_equal(ccc_cbor_put_null(ccc_cbor_mapb_value(&mb)), CCC_OK);
    assert_int_equal(ccc_cbor_mapb_finish(&mb, &out), CCC_ERR_USAGE);
    ccc_cbor_mapb_wipe(&mb);

    /* A raw value that is not deterministic (unsorted nested map). */
    ccc_cbor_mapb_init(&mb, 4096);
    assert_int_equal(ccc_cbor_mapb_key_int(&mb, 1), CCC_OK);
    uint8_t unsorted[] = {0xa2, 0x02, 0x00, 0x01, 0x00};
    assert_int_equal(ccc_cbor_put_raw(ccc_cbor_mapb_value(&mb),
                                      ccc_bytes_of(unsorted, sizeof unsorted)),
                     CCC_OK);
    assert_int_equal(ccc_cbor_mapb_finish(&mb, &out), CCC_ERR_USAGE);
    ccc_cbor_mapb_wipe(&mb);

    /* A key that does not fit poisons the builder. */
    ccc_cbor_mapb_init(&mb, 4);
    assert_int_equal(ccc_cbor_mapb_key_text(&mb, "long key"), CCC_ERR_LIMIT);
    assert_int_equal(ccc_cbor_mapb_key_int(&mb, 1), CCC_ERR_LIMIT);
    assert_int_equal(ccc_cbor_mapb_finish(&mb, &out), CCC_ERR_LIMIT);
    ccc_cbor_mapb_wipe(&mb);
    ccc_cbor_mapb_init(&mb, 16);
    assert_int_equal(ccc_cbor_mapb_key_raw(&mb, ccc_bytes_of(NULL, 0)),
                     CCC_ERR_USAGE);
    ccc_cbor_mapb_wipe(&mb);

    /* Every failure left `out` as it was. */
    assert_int_equal(out.size, 1);
    assert_int_equal(out.data[0], 9);

    /* Empty map. */
    ccc_cbor_mapb_init(&mb, 16);
    assert_int_equal(ccc_cbor_mapb_finish(&mb, &out), CCC_OK);
    assert_int_equal(out.size, 2);
    assert_int_equal(out.data[1], 0xa0);
    ccc_cbor_mapb_wipe(&mb);
    ccc_buf_wipe(&out);
}

static void nested_round_trip(void **state)
{
    (void)state;
    /* A receipt-like document built with nested builders decodes in
     * canonical mode and re-encodes to the same bytes. */
    ccc_cbor_mapb inner, outer;
    ccc_buf out, again;
    ccc_buf_init(&out, 4096);
    ccc_buf_init(&again, 4096);
    ccc_cbor_mapb_init(&inner, 1024);
    ccc_cbor_mapb_init(&outer, 4096);
    uint8_t h[32];
    memset(h, 0xab, sizeof h);
    for (int i = 15; i >= 0; i--) {
        assert_int_equal(ccc_cbor_mapb_key_int(&inner, i), CCC_OK);
        assert_int_equal(ccc_cbor_put_bytes(ccc_cbor_mapb_value(&inner), h, 8),
                         CCC_OK);
    }
    assert_int_equal(ccc_cbor_mapb_key_text(&outer, "pcrs"), CCC_OK);
    assert_int_equal(ccc_cbor_mapb_finish(&inner, ccc_cbor_mapb_value(&outer)),
                     CCC_OK);
    assert_int_equal(ccc_cbor_mapb_key_text(&outer, "answer_sha256"), CCC_OK);
    assert_int_equal(ccc_cbor_put_bytes(ccc_cbor_mapb_value(&outer), h, 32),
                     CCC_OK);
    assert_int_equal(ccc_cbor_mapb_key_text(&outer, "seq"), CCC_OK);
    assert_int_equal(ccc_cbor_put_uint(ccc_cbor_mapb_value(&outer), 1u << 20),
                     CCC_OK);
    assert_int_equal(ccc_cbor_mapb_key_text(&outer, "time"), CCC_OK);
    assert_int_equal(ccc_cbor_put_tag(ccc_cbor_mapb_value(&outer), 1), CCC_OK);
    assert_int_equal(ccc_cbor_put_int(ccc_cbor_mapb_value(&outer), -5), CCC_OK);
    assert_int_equal(ccc_cbor_mapb_key_text(&outer, "flags"), CCC_OK);
    ccc_buf *v = ccc_cbor_mapb_value(&outer);
    assert_int_equal(ccc_cbor_put_array(v, 4), CCC_OK);
    assert_int_equal(ccc_cbor_put_bool(v, true), CCC_OK);
    assert_int_equal(ccc_cbor_put_null(v), CCC_OK);
    assert_int_equal(ccc_cbor_put_cstr(v, "caf\xc3\xa9"), CCC_OK);
    assert_int_equal(ccc_cbor_put_array(v, 0), CCC_OK);
    assert_int_equal(ccc_cbor_mapb_finish(&outer, &out), CCC_OK);

    ccc_cbor_doc doc;
    ccc_cbor_doc_init(&doc);
    assert_int_equal(
        ccc_cbor_decode(&doc, ccc_buf_bytes(&out), NULL, CCC_CBOR_CANONICAL),
        CCC_OK);
    assert_int_equal(ccc_cbor_put_item(&again, ccc_cbor_doc_root(&doc)),
                     CCC_OK);
    assert_int_equal(again.size, out.size);
    assert_memory_equal(again.data, out.data, out.size);
    const ccc_cbor_item *pcrs, *p7;
    assert_int_equal(ccc_cbor_map_get_text(ccc_cbor_doc_root(&doc), "pcrs",
                                           &pcrs),
                     CCC_OK);
    assert_int_equal(ccc_cbor_map_get_int(pcrs, 7, &p7), CCC_OK);
    assert_int_equal(p7->str.size, 8);
    /* Shorter keys first: "seq" (0x63...) before "pcrs" (0x64...). */
    assert_int_equal(out.data[1], 0x63);
    check_every_prefix_fails(out.data, out.size, NULL, CCC_CBOR_CANONICAL);
    ccc_cbor_doc_wipe(&doc);
    ccc_cbor_mapb_wipe(&inner);
    ccc_cbor_mapb_wipe(&outer);
    ccc_buf_wipe(&out);
    ccc_buf_wipe(&again);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(appendix_a_decodes_and_reencodes),
        cmocka_unit_test(appendix_a_values),
        cmocka_unit_test(iterator_and_int_keys),
        cmocka_unit_test(typed_getters_refuse_wrong_types),
        cmocka_unit_test(every_rejection_rule),
        cmocka_unit_test(lenient_mode_accepts_what_canonical_refuses),
        cmocka_unit_test(ambiguous_duplicate_keys_refused_on_lookup),
        cmocka_unit_test(limits_are_enforced),
        cmocka_unit_test(every_truncation_fails),
        cmocka_unit_test(nitro_document_tree),
        cmocka_unit_test(encoder_uses_shortest_form),
        cmocka_unit_test(map_builder_sorts_bytewise),
        cmocka_unit_test(map_builder_refuses_mistakes),
        cmocka_unit_test(nested_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
