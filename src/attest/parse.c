/*
 * attest: parsing and syntactic validation of a Nitro attestation document.
 *
 * Field rules follow aws-nitro-enclaves-nsm-api docs/attestation_process.md
 * §3.2 "Syntactical validation" ("Check if the required fields are present
 * ... Check the content of each field"), with the sizes real AWS documents
 * use (see attest.h).
 */
#include <string.h>

#include "attest/attest.h"
#include "x509/x509.h"

static const char *const error_names[CCC_ATTEST_E_COUNT] = {
    [CCC_ATTEST_OK] = "CCC_ATTEST_OK",
    [CCC_ATTEST_E_TOO_LARGE] = "CCC_ATTEST_E_TOO_LARGE",
    [CCC_ATTEST_E_COSE] = "CCC_ATTEST_E_COSE",
    [CCC_ATTEST_E_ALG] = "CCC_ATTEST_E_ALG",
    [CCC_ATTEST_E_PAYLOAD] = "CCC_ATTEST_E_PAYLOAD",
    [CCC_ATTEST_E_MISSING_FIELD] = "CCC_ATTEST_E_MISSING_FIELD",
    [CCC_ATTEST_E_EXTRA_FIELD] = "CCC_ATTEST_E_EXTRA_FIELD",
    [CCC_ATTEST_E_FIELD_TYPE] = "CCC_ATTEST_E_FIELD_TYPE",
    [CCC_ATTEST_E_FIELD_SIZE] = "CCC_ATTEST_E_FIELD_SIZE",
    [CCC_ATTEST_E_DIGEST] = "CCC_ATTEST_E_DIGEST",
    [CCC_ATTEST_E_TIMESTAMP] = "CCC_ATTEST_E_TIMESTAMP",
    [CCC_ATTEST_E_PCR_INDEX] = "CCC_ATTEST_E_PCR_INDEX",
    [CCC_ATTEST_E_CERT_MALFORMED] = "CCC_ATTEST_E_CERT_MALFORMED",
    [CCC_ATTEST_E_CERT_EXPIRED] = "CCC_ATTEST_E_CERT_EXPIRED",
    [CCC_ATTEST_E_CERT_NOT_YET_VALID] = "CCC_ATTEST_E_CERT_NOT_YET_VALID",
    [CCC_ATTEST_E_UNTRUSTED_ROOT] = "CCC_ATTEST_E_UNTRUSTED_ROOT",
    [CCC_ATTEST_E_CERT_SIGNATURE] = "CCC_ATTEST_E_CERT_SIGNATURE",
    [CCC_ATTEST_E_CHAIN] = "CCC_ATTEST_E_CHAIN",
    [CCC_ATTEST_E_SIGNATURE] = "CCC_ATTEST_E_SIGNATURE",
    [CCC_ATTEST_E_POLICY_EMPTY] = "CCC_ATTEST_E_POLICY_EMPTY",
    [CCC_ATTEST_E_DEBUG_MODE] = "CCC_ATTEST_E_DEBUG_MODE",
    [CCC_ATTEST_E_PCR_MISMATCH] = "CCC_ATTEST_E_PCR_MISMATCH",
    [CCC_ATTEST_E_NONCE_MISMATCH] = "CCC_ATTEST_E_NONCE_MISMATCH",
    [CCC_ATTEST_E_TOO_OLD] = "CCC_ATTEST_E_TOO_OLD",
    [CCC_ATTEST_E_FROM_FUTURE] = "CCC_ATTEST_E_FROM_FUTURE",
    [CCC_ATTEST_E_NEEDS_TIME] = "CCC_ATTEST_E_NEEDS_TIME",
    [CCC_ATTEST_E_PUBLIC_KEY_MISMATCH] = "CCC_ATTEST_E_PUBLIC_KEY_MISMATCH",
    [CCC_ATTEST_E_USER_DATA_MISMATCH] = "CCC_ATTEST_E_USER_DATA_MISMATCH",
};

const char *ccc_attest_error_name(ccc_attest_error e)
{
    if ((unsigned)e >= CCC_ATTEST_E_COUNT)
        return "CCC_ATTEST_E_UNKNOWN";
    return error_names[e];
}

ccc_status ccc_attest_error_from_name(const char *name, ccc_attest_error *out)
{
    for (int e = 0; e < CCC_ATTEST_E_COUNT; e++) {
        if (strcmp(name, error_names[e]) == 0) {
            *out = (ccc_attest_error)e;
            return CCC_OK;
        }
    }
    CCC_BAIL(CCC_ERR_NOT_FOUND, "unknown attestation error name");
}

ccc_status ccc_attest_aws_root(ccc_x509_root **out)
{
    return ccc_x509_root_new_pem(ccc_attest_aws_root_pem(), out);
}

void ccc_attest_doc_init(ccc_attest_doc *doc)
{
    memset(doc, 0, sizeof *doc);
    ccc_cose_sign1_init(&doc->cose);
    ccc_cbor_doc_init(&doc->payload_doc);
}

void ccc_attest_doc_wipe(ccc_attest_doc *doc)
{
    ccc_cose_sign1_wipe(&doc->cose);
    ccc_cbor_doc_wipe(&doc->payload_doc);
    ccc_attest_doc_init(doc);
}

/* The payload keys, in the order AWS emits them. */
enum field {
    F_MODULE_ID,
    F_DIGEST,
    F_TIMESTAMP,
    F_PCRS,
    F_CERTIFICATE,
    F_CABUNDLE,
    F_PUBLIC_KEY,
    F_USER_DATA,
    F_NONCE,
    F_COUNT
};
static const char *const field_names[F_COUNT] = {
    "module_id", "digest",     "timestamp", "pcrs",  "certificate",
    "cabundle",  "public_key", "user_data", "nonce",
};

/* Set the reason and fail (inside a function with `st`, `why` and `out:`). */
#define REFUSE(code, cls, detail) \
    do {                          \
        *why = (code);            \
        CCC_FAIL((cls), detail);  \
    } while (0)
#define REFUSE_NUM(code, cls, detail, n) \
    do {                                 \
        *why = (code);                   \
        CCC_FAIL_NUM((cls), detail, (n)); \
    } while (0)

/* A field's name in details: static literals only (never payload bytes). */
static const char *const type_details[] = {
    "certificate is not a byte string", "cabundle entry is not a byte string",
    "public_key is neither bytes nor null", "user_data is neither bytes nor null",
    "nonce is neither bytes nor null",
};
static const char *const size_details[] = {
    "certificate size out of bounds (1..1024 bytes)",
    "cabundle entry size out of bounds (1..1024 bytes)",
    "public_key size out of bounds (1..1024 bytes)",
    "user_data over 1024 bytes",
    "nonce over 1024 bytes",
};
enum bstr_field { B_CERTIFICATE, B_CABUNDLE, B_PUBLIC_KEY, B_USER_DATA, B_NONCE };

/* bstr of min..max bytes. */
static ccc_status get_bstr(const ccc_cbor_item *it, size_t min, size_t max, ccc_bytes *out,
                           enum bstr_field f, ccc_attest_error *why)
{
    if (it->type != CCC_CBOR_BYTES) {
        *why = CCC_ATTEST_E_FIELD_TYPE;
        return ccc_error_raise(CCC_ERR_PARSE, type_details[f], false, 0, __FILE__, __LINE__);
    }
    if (it->str.size < min || it->str.size > max) {
        *why = CCC_ATTEST_E_FIELD_SIZE;
        return ccc_error_raise(CCC_ERR_LIMIT, size_details[f], false, 0, __FILE__, __LINE__);
    }
    *out = it->str;
    return CCC_OK;
}

/* bstr of min..1024 bytes, or null. */
static ccc_status get_opt_bstr(const ccc_cbor_item *it, size_t min, bool *has, ccc_bytes *out,
                               enum bstr_field f, ccc_attest_error *why)
{
    if (it->type == CCC_CBOR_NULL) {
        *has = false;
        return CCC_OK;
    }
    *has = true;
    return get_bstr(it, min, CCC_ATTEST_MAX_USER_SIZE, out, f, why);
}

static ccc_status parse_pcrs(ccc_attest_doc *doc, const ccc_cbor_item *map, ccc_attest_error *why)
{
    ccc_status st = CCC_OK;
    if (map->type != CCC_CBOR_MAP)
        REFUSE(CCC_ATTEST_E_FIELD_TYPE, CCC_ERR_PARSE, "pcrs is not a map");
    /* "pcrs ... map size in 1..32" */
    if (map->count < 1 || map->count > CCC_ATTEST_PCR_COUNT)
        REFUSE(CCC_ATTEST_E_FIELD_SIZE, CCC_ERR_LIMIT, "pcrs must hold 1 to 32 entries");
    ccc_cbor_iter it;
    ccc_cbor_iter_init(&it, map);
    const ccc_cbor_item *k, *v;
    while ((k = ccc_cbor_iter_next(&it)) && (v = ccc_cbor_iter_next(&it))) {
        if (k->type != CCC_CBOR_UINT)
            REFUSE(CCC_ATTEST_E_FIELD_TYPE, CCC_ERR_PARSE, "PCR index is not an unsigned integer");
        if (k->uint >= CCC_ATTEST_PCR_COUNT)
            REFUSE_NUM(CCC_ATTEST_E_PCR_INDEX, CCC_ERR_PARSE, "PCR index out of range:", k->uint);
        if (v->type != CCC_CBOR_BYTES)
            REFUSE_NUM(CCC_ATTEST_E_FIELD_TYPE, CCC_ERR_PARSE, "PCR value is not bytes, index",
                       k->uint);
        /* "pcr: bstr .size (32/48/64)" */
        size_t n = v->str.size;
        if (n != 32 && n != 48 && n != 64)
            REFUSE_NUM(CCC_ATTEST_E_FIELD_SIZE, CCC_ERR_PARSE,
                       "PCR value is not 32, 48 or 64 bytes, index", k->uint);
        if (doc->pcrs[k->uint].present) /* 0x01 vs 0x1801: same index twice */
            REFUSE_NUM(CCC_ATTEST_E_PCR_INDEX, CCC_ERR_PARSE, "PCR index repeated:", k->uint);
        doc->pcrs[k->uint].present = true;
        doc->pcrs[k->uint].value = v->str;
        doc->pcr_count++;
    }
out:
    return st;
}

static ccc_status parse_cabundle(ccc_attest_doc *doc, const ccc_cbor_item *arr,
                                 ccc_attest_error *why)
{
    ccc_status st = CCC_OK;
    if (arr->type != CCC_CBOR_ARRAY)
        REFUSE(CCC_ATTEST_E_FIELD_TYPE, CCC_ERR_PARSE, "cabundle is not an array");
    /* "cabundle: [* cert] ... Check that cabundle is non-empty" */
    if (arr->count < 1 || arr->count > CCC_ATTEST_MAX_CABUNDLE)
        REFUSE(CCC_ATTEST_E_FIELD_SIZE, CCC_ERR_LIMIT, "cabundle must hold 1 to 8 certificates");
    ccc_cbor_iter it;
    ccc_cbor_iter_init(&it, arr);
    const ccc_cbor_item *c;
    while ((c = ccc_cbor_iter_next(&it))) {
        CCC_TRY(get_bstr(c, 1, CCC_ATTEST_MAX_CERT_SIZE, &doc->cabundle[doc->cabundle_count],
                         B_CABUNDLE, why));
        doc->cabundle_count++;
    }
out:
    return st;
}

static ccc_status parse_field(ccc_attest_doc *doc, enum field f, const ccc_cbor_item *v,
                              ccc_attest_error *why)
{
    ccc_status st = CCC_OK;
    switch (f) {
    case F_MODULE_ID:
        if (v->type != CCC_CBOR_TEXT)
            REFUSE(CCC_ATTEST_E_FIELD_TYPE, CCC_ERR_PARSE, "module_id is not text");
        if (v->str.size < 1 || v->str.size > CCC_ATTEST_MAX_MODULE_ID_SIZE)
            REFUSE(CCC_ATTEST_E_FIELD_SIZE, CCC_ERR_LIMIT, "module_id empty or too long");
        doc->module_id = v->str;
        break;
    case F_DIGEST:
        if (v->type != CCC_CBOR_TEXT)
            REFUSE(CCC_ATTEST_E_FIELD_TYPE, CCC_ERR_PARSE, "digest is not text");
        /* "digest: digest ... digest = "SHA384"" */
        if (!ccc_cbor_text_equals(v, "SHA384"))
            REFUSE(CCC_ATTEST_E_DIGEST, CCC_ERR_UNSUPPORTED, "digest is not SHA384");
        break;
    case F_TIMESTAMP:
        if (v->type != CCC_CBOR_UINT)
            REFUSE(CCC_ATTEST_E_FIELD_TYPE, CCC_ERR_PARSE, "timestamp is not an unsigned integer");
        /* "timestamp: uint .size 8 ; UTC time when document was created,
         * in milliseconds since UNIX epoch" */
        if (v->uint < CCC_ATTEST_MIN_TIMESTAMP_MS)
            REFUSE(CCC_ATTEST_E_TIMESTAMP, CCC_ERR_PARSE,
                   "timestamp before 2019-10-28 (not milliseconds?)");
        doc->timestamp_ms = v->uint;
        break;
    case F_PCRS:
        CCC_TRY(parse_pcrs(doc, v, why));
        break;
    case F_CERTIFICATE:
        CCC_TRY(get_bstr(v, 1, CCC_ATTEST_MAX_CERT_SIZE, &doc->certificate, B_CERTIFICATE, why));
        break;
    case F_CABUNDLE:
        CCC_TRY(parse_cabundle(doc, v, why));
        break;
    case F_PUBLIC_KEY:
        CCC_TRY(get_opt_bstr(v, 1, &doc->has_public_key, &doc->public_key, B_PUBLIC_KEY, why));
        break;
    case F_USER_DATA:
        CCC_TRY(get_opt_bstr(v, 0, &doc->has_user_data, &doc->user_data, B_USER_DATA, why));
        break;
    case F_NONCE:
        CCC_TRY(get_opt_bstr(v, 0, &doc->has_nonce, &doc->nonce, B_NONCE, why));
        break;
    default:
        REFUSE(CCC_ATTEST_E_EXTRA_FIELD, CCC_ERR_INTERNAL, "unknown field");
    }
out:
    return st;
}

static ccc_status parse_payload(ccc_attest_doc *doc, ccc_attest_error *why)
{
    ccc_status st = CCC_OK;
    ccc_cbor_limits lim = ccc_cbor_limits_default();
    lim.max_input_size = CCC_ATTEST_MAX_DOC_SIZE;
    lim.max_string_size = CCC_ATTEST_MAX_DOC_SIZE;
    lim.max_items = 256;
    lim.max_depth = 4;
    st = ccc_cbor_decode(&doc->payload_doc, doc->cose.payload, &lim, 0);
    if (st != CCC_OK) {
        *why = CCC_ATTEST_E_PAYLOAD;
        goto out;
    }
    const ccc_cbor_item *map = ccc_cbor_doc_root(&doc->payload_doc);
    if (!map || map->type != CCC_CBOR_MAP)
        REFUSE(CCC_ATTEST_E_PAYLOAD, CCC_ERR_PARSE, "attestation payload is not a map");
    unsigned seen = 0;
    ccc_cbor_iter it;
    ccc_cbor_iter_init(&it, map);
    const ccc_cbor_item *k, *v;
    while ((k = ccc_cbor_iter_next(&it)) && (v = ccc_cbor_iter_next(&it))) {
        if (k->type != CCC_CBOR_TEXT)
            REFUSE(CCC_ATTEST_E_EXTRA_FIELD, CCC_ERR_PARSE, "attestation key is not text");
        int f = 0;
        while (f < F_COUNT && !ccc_cbor_text_equals(k, field_names[f]))
            f++;
        if (f == F_COUNT)
            REFUSE(CCC_ATTEST_E_EXTRA_FIELD, CCC_ERR_PARSE, "unknown attestation field");
        if (seen & (1u << f)) /* the decoder refuses this already */
            REFUSE(CCC_ATTEST_E_EXTRA_FIELD, CCC_ERR_PARSE, "attestation field repeated");
        seen |= 1u << f;
        CCC_TRY(parse_field(doc, (enum field)f, v, why));
    }
    /* "Check if the required fields are present". */
    if (!(seen & (1u << F_MODULE_ID)))
        REFUSE(CCC_ATTEST_E_MISSING_FIELD, CCC_ERR_PARSE, "module_id missing");
    if (!(seen & (1u << F_DIGEST)))
        REFUSE(CCC_ATTEST_E_MISSING_FIELD, CCC_ERR_PARSE, "digest missing");
    if (!(seen & (1u << F_TIMESTAMP)))
        REFUSE(CCC_ATTEST_E_MISSING_FIELD, CCC_ERR_PARSE, "timestamp missing");
    if (!(seen & (1u << F_PCRS)))
        REFUSE(CCC_ATTEST_E_MISSING_FIELD, CCC_ERR_PARSE, "pcrs missing");
    if (!(seen & (1u << F_CERTIFICATE)))
        REFUSE(CCC_ATTEST_E_MISSING_FIELD, CCC_ERR_PARSE, "certificate missing");
    if (!(seen & (1u << F_CABUNDLE)))
        REFUSE(CCC_ATTEST_E_MISSING_FIELD, CCC_ERR_PARSE, "cabundle missing");
out:
    return st;
}

ccc_status ccc_attest_doc_parse(ccc_attest_doc *doc, ccc_bytes input, ccc_attest_error *why_out)
{
    ccc_status st = CCC_OK;
    ccc_attest_error why_local = CCC_ATTEST_E_COSE;
    ccc_attest_error *why = &why_local;
    ccc_attest_doc_wipe(doc);
    if (input.size > CCC_ATTEST_MAX_DOC_SIZE)
        REFUSE(CCC_ATTEST_E_TOO_LARGE, CCC_ERR_LIMIT, "attestation document too large");
    ccc_cbor_limits lim = ccc_cbor_limits_default();
    lim.max_input_size = CCC_ATTEST_MAX_DOC_SIZE;
    lim.max_string_size = CCC_ATTEST_MAX_DOC_SIZE;
    lim.max_items = 64;
    lim.max_depth = 4;
    st = ccc_cose_sign1_parse(&doc->cose, input, &lim);
    if (st == CCC_ERR_UNSUPPORTED) {
        why_local = CCC_ATTEST_E_ALG;
        goto out;
    }
    if (st != CCC_OK)
        goto out; /* CCC_ATTEST_E_COSE */
    /* "protected header ... {1: -35}": AWS signs with ES384 only. */
    if (doc->cose.alg != CCC_COSE_ALG_ES384)
        REFUSE(CCC_ATTEST_E_ALG, CCC_ERR_UNSUPPORTED, "attestation alg is not ES384");
    if (doc->cose.detached)
        REFUSE(CCC_ATTEST_E_COSE, CCC_ERR_PARSE, "attestation payload is detached");
    CCC_TRY(parse_payload(doc, why));
    why_local = CCC_ATTEST_OK;
out:
    if (st != CCC_OK)
        ccc_attest_doc_wipe(doc);
    else
        why_local = CCC_ATTEST_OK;
    if (why_out)
        *why_out = why_local;
    return st;
}

bool ccc_attest_doc_is_debug(const ccc_attest_doc *doc)
{
    /* Nitro User Guide, "Debug mode": "the PCRs ... are made up entirely of
     * zeros" for PCR0, PCR1 and PCR2 of an enclave started in debug mode. */
    for (int i = 0; i <= 2; i++) {
        if (!doc->pcrs[i].present)
            continue;
        ccc_bytes v = doc->pcrs[i].value;
        for (size_t j = 0; j < v.size; j++)
            if (v.ptr[j] != 0)
                return false;
    }
    return true;
}
