/* nsm: encoding and signing Nitro-format attestation documents. */
#include <string.h>

#include "cbor/cbor.h"
#include "cose/cose.h"
#include "nsm/nsm.h"

static ccc_status put_opt_bytes(ccc_buf *out, const char *key, ccc_bytes v)
{
    CCC_GUARD(ccc_cbor_put_cstr(out, key));
    if (!v.ptr)
        return ccc_cbor_put_null(out);
    return ccc_cbor_put_bytes(out, v.ptr, v.size);
}

ccc_status ccc_nsm_doc_encode(const ccc_nsm_doc_fields *f, ccc_buf *out)
{
    CCC_ENSURE(f->module_id && f->digest && f->pcr_count <= CCC_NSM_PCR_COUNT, CCC_ERR_USAGE,
               "incomplete document fields");
    /* attestation_process.md §3.1: the AttestationDocument map, in the
     * order the NSM writes it. */
    CCC_GUARD(ccc_cbor_put_map(out, 9));
    CCC_GUARD(ccc_cbor_put_cstr(out, "module_id"));
    CCC_GUARD(ccc_cbor_put_cstr(out, f->module_id));
    CCC_GUARD(ccc_cbor_put_cstr(out, "digest"));
    CCC_GUARD(ccc_cbor_put_cstr(out, f->digest));
    CCC_GUARD(ccc_cbor_put_cstr(out, "timestamp"));
    CCC_GUARD(ccc_cbor_put_uint(out, f->timestamp_ms));
    CCC_GUARD(ccc_cbor_put_cstr(out, "pcrs"));
    CCC_GUARD(ccc_cbor_put_map(out, f->pcr_count));
    for (size_t i = 0; i < f->pcr_count; i++) {
        CCC_GUARD(ccc_cbor_put_uint(out, i));
        CCC_GUARD(ccc_cbor_put_bytes(out, f->pcrs[i], CCC_NSM_PCR_SIZE));
    }
    CCC_GUARD(ccc_cbor_put_cstr(out, "certificate"));
    CCC_GUARD(ccc_cbor_put_bytes(out, f->certificate.ptr, f->certificate.size));
    CCC_GUARD(ccc_cbor_put_cstr(out, "cabundle"));
    CCC_GUARD(ccc_cbor_put_array(out, f->cabundle_count));
    for (size_t i = 0; i < f->cabundle_count; i++)
        CCC_GUARD(ccc_cbor_put_bytes(out, f->cabundle[i].ptr, f->cabundle[i].size));
    CCC_GUARD(put_opt_bytes(out, "public_key", f->public_key));
    CCC_GUARD(put_opt_bytes(out, "user_data", f->user_data));
    CCC_GUARD(put_opt_bytes(out, "nonce", f->nonce));
    return CCC_OK;
}

ccc_status ccc_nsm_doc_sign(EVP_PKEY *leaf_key, ccc_bytes payload, ccc_buf *out)
{
    /* AWS documents are untagged COSE_Sign1 with protected {1: -35}. */
    ccc_cose_sign1_params p;
    memset(&p, 0, sizeof p);
    p.alg = CCC_COSE_ALG_ES384;
    p.untagged = true;
    return ccc_cose_sign1_sign(leaf_key, &p, payload, out);
}
