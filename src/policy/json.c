/* policy: the JSON authoring format (jansson) for `ccc policy sign/show`.
 *
 *   {"version": 3,
 *    "measurements": [{"0": "HEX", "1": "HEX", "2": "HEX"}, ...],
 *    "egress": {"max_answer_bytes": 512, "max_boxes": 64},
 *    "tou": {"max_body_bytes": 10485760, "rate_per_minute": 60},
 *    "model_manifests": ["HEX of 32 bytes", ...]}
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "policy/policy.h"

static ccc_status get_u64(json_t *obj, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(obj, key);
    CCC_ENSURE(json_is_integer(v) && json_integer_value(v) > 0, CCC_ERR_PARSE,
               "policy JSON: a limit is missing or not a positive integer");
    *out = (uint64_t)json_integer_value(v);
    return CCC_OK;
}

static ccc_status parse(json_t *root, ccc_policy *p)
{
    CCC_ENSURE(json_is_object(root) && json_object_size(root) == 5, CCC_ERR_PARSE,
               "policy JSON: expected exactly version, measurements, egress, tou, model_manifests");
    CCC_GUARD(get_u64(root, "version", &p->version));
    json_t *sets = json_object_get(root, "measurements");
    CCC_ENSURE(json_is_array(sets) && json_array_size(sets) >= 1 &&
                   json_array_size(sets) <= CCC_POLICY_MAX_SETS,
               CCC_ERR_PARSE, "policy JSON: measurements must be 1 to 8 sets");
    size_t i;
    json_t *set;
    json_array_foreach(sets, i, set) {
        CCC_ENSURE(json_is_object(set) && json_object_size(set) >= 1, CCC_ERR_PARSE,
                   "policy JSON: a measurement set must be a non-empty object");
        const char *key;
        json_t *hex;
        json_object_foreach(set, key, hex) {
            char *end = NULL;
            unsigned long idx = strtoul(key, &end, 10);
            CCC_ENSURE(end && end != key && *end == '\0' && json_is_string(hex), CCC_ERR_PARSE,
                       "policy JSON: measurement sets map PCR index to hex");
            uint8_t v[64];
            size_t n;
            CCC_GUARD(ccc_hex_decode(json_string_value(hex), v, sizeof v, &n));
            CCC_ENSURE(idx < CCC_ATTEST_PCR_COUNT, CCC_ERR_PARSE, "policy JSON: PCR index over 31");
            CCC_GUARD(ccc_attest_pcr_set_add(&p->sets[p->set_count], (uint32_t)idx,
                                             ccc_bytes_of(v, n)));
        }
        p->set_count++;
    }
    json_t *eg = json_object_get(root, "egress"), *tou = json_object_get(root, "tou");
    CCC_ENSURE(json_is_object(eg) && json_object_size(eg) == 2 && json_is_object(tou) &&
                   json_object_size(tou) == 2,
               CCC_ERR_PARSE, "policy JSON: egress and tou hold two limits each");
    CCC_GUARD(get_u64(eg, "max_answer_bytes", &p->egress_max_answer_bytes));
    CCC_GUARD(get_u64(eg, "max_boxes", &p->egress_max_boxes));
    CCC_GUARD(get_u64(tou, "max_body_bytes", &p->tou_max_body_bytes));
    CCC_GUARD(get_u64(tou, "rate_per_minute", &p->tou_rate_per_minute));
    json_t *mans = json_object_get(root, "model_manifests"), *m;
    CCC_ENSURE(json_is_array(mans) && json_array_size(mans) >= 1 &&
                   json_array_size(mans) <= CCC_POLICY_MAX_MANIFESTS,
               CCC_ERR_PARSE, "policy JSON: model_manifests must hold 1 to 8 hashes");
    json_array_foreach(mans, i, m) {
        size_t n = 0;
        CCC_ENSURE(json_is_string(m), CCC_ERR_PARSE, "policy JSON: manifest hash must be hex");
        CCC_GUARD(ccc_hex_decode(json_string_value(m), p->manifests[i], 32, &n));
        CCC_ENSURE(n == 32, CCC_ERR_PARSE, "policy JSON: manifest hash must be 32 bytes");
        p->manifest_count++;
    }
    return ccc_policy_check(p);
}

ccc_status ccc_policy_from_json(ccc_bytes text, ccc_policy *out)
{
    memset(out, 0, sizeof *out);
    json_error_t err;
    json_t *root = json_loadb((const char *)text.ptr, text.size, JSON_REJECT_DUPLICATES, &err);
    CCC_ENSURE(root, CCC_ERR_PARSE, "policy JSON does not parse");
    ccc_status st = parse(root, out);
    json_decref(root);
    if (st != CCC_OK)
        memset(out, 0, sizeof *out);
    return st;
}

ccc_status ccc_policy_to_json(const ccc_policy *p, ccc_buf *out)
{
    ccc_status st = CCC_OK;
    char hex[129];
    json_t *root = json_object(), *sets = json_array(), *mans = json_array();
    CCC_CHECK(root && sets && mans, CCC_ERR_NOMEM, "out of memory");
    json_object_set_new(root, "version", json_integer((json_int_t)p->version));
    for (size_t s = 0; s < p->set_count; s++) {
        json_t *set = json_object();
        for (size_t i = 0; i < p->sets[s].count; i++) {
            char key[8];
            snprintf(key, sizeof key, "%u", (unsigned)p->sets[s].pcrs[i].index);
            ccc_hex_encode(p->sets[s].pcrs[i].value, p->sets[s].pcrs[i].size, hex);
            json_object_set_new(set, key, json_string(hex));
        }
        json_array_append_new(sets, set);
    }
    json_object_set(root, "measurements", sets);
    json_t *eg = json_object(), *tou = json_object();
    json_object_set_new(eg, "max_answer_bytes", json_integer((json_int_t)p->egress_max_answer_bytes));
    json_object_set_new(eg, "max_boxes", json_integer((json_int_t)p->egress_max_boxes));
    json_object_set_new(tou, "max_body_bytes", json_integer((json_int_t)p->tou_max_body_bytes));
    json_object_set_new(tou, "rate_per_minute", json_integer((json_int_t)p->tou_rate_per_minute));
    json_object_set_new(root, "egress", eg);
    json_object_set_new(root, "tou", tou);
    for (size_t i = 0; i < p->manifest_count; i++) {
        ccc_hex_encode(p->manifests[i], 32, hex);
        json_array_append_new(mans, json_string(hex));
    }
    json_object_set(root, "model_manifests", mans);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    CCC_CHECK(text, CCC_ERR_NOMEM, "out of memory");
    st = ccc_buf_append(out, text, strlen(text));
    if (st == CCC_OK)
        st = ccc_buf_u8(out, '\n');
    free(text);
out:
    json_decref(sets);
    json_decref(mans);
    json_decref(root);
    return st;
}
