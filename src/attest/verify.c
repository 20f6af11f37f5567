/*
 * attest: verification of a parsed document — chain, signature, policy —
 * with a report of every check.
 *
 * attestation_process.md §3.2.2 "Certificates validity": "validate the
 * signature of the certificate chain ... cabundle [ROOT_CERT, INTERM_1, ...
 * INTERM_N] ... certificate <- INTERM_N <- ... <- ROOT_CERT"; §3.3
 * "Semantical validation": "we must check the COSE signature using the
 * public key of the certificate".
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "attest/attest.h"

static const char *const check_names[CCC_ATTEST_CHECK_COUNT] = {
    [CCC_ATTEST_CHECK_PARSE] = "parse",
    [CCC_ATTEST_CHECK_ALG] = "alg",
    [CCC_ATTEST_CHECK_CHAIN] = "chain",
    [CCC_ATTEST_CHECK_SIGNATURE] = "signature",
    [CCC_ATTEST_CHECK_DEBUG] = "debug",
    [CCC_ATTEST_CHECK_PCRS] = "pcrs",
    [CCC_ATTEST_CHECK_NONCE] = "nonce",
    [CCC_ATTEST_CHECK_FRESHNESS] = "freshness",
    [CCC_ATTEST_CHECK_PUBLIC_KEY] = "public_key",
    [CCC_ATTEST_CHECK_USER_DATA] = "user_data",
};

const char *ccc_attest_check_name(ccc_attest_check_id id)
{
    return (unsigned)id < CCC_ATTEST_CHECK_COUNT ? check_names[id] : "unknown";
}

const char *ccc_attest_outcome_name(ccc_attest_outcome o)
{
    switch (o) {
    case CCC_ATTEST_PASS:
        return "pass";
    case CCC_ATTEST_FAIL:
        return "FAIL";
    case CCC_ATTEST_SKIPPED:
        return "skipped";
    default:
        return "not run";
    }
}

ccc_status ccc_attest_pcr_set_add(ccc_attest_pcr_set *set, uint32_t index, ccc_bytes value)
{
    CCC_ENSURE(index < CCC_ATTEST_PCR_COUNT, CCC_ERR_USAGE, "PCR index must be below 32");
    CCC_ENSURE(value.size == 32 || value.size == 48 || value.size == 64, CCC_ERR_USAGE,
               "PCR value must be 32, 48 or 64 bytes");
    for (size_t i = 0; i < set->count; i++)
        CCC_ENSURE(set->pcrs[i].index != index, CCC_ERR_USAGE, "PCR index listed twice");
    CCC_ENSURE(set->count < CCC_ATTEST_MAX_SET_PCRS, CCC_ERR_LIMIT,
               "too many PCRs in one measurement set");
    set->pcrs[set->count].index = index;
    memcpy(set->pcrs[set->count].value, value.ptr, value.size);
    set->pcrs[set->count].size = value.size;
    set->count++;
    return CCC_OK;
}

/* Per-verification state: the report plus the class of each failure. */
typedef struct run {
    ccc_attest_report *report;
    ccc_status status[CCC_ATTEST_CHECK_COUNT];
} run;

static void pass(run *r, ccc_attest_check_id id, const char *note)
{
    ccc_attest_check *c = &r->report->checks[id];
    c->outcome = CCC_ATTEST_PASS;
    c->error = CCC_ATTEST_OK;
    snprintf(c->detail, sizeof c->detail, "%s", note);
}

static void skip(run *r, ccc_attest_check_id id, const char *note)
{
    ccc_attest_check *c = &r->report->checks[id];
    c->outcome = CCC_ATTEST_SKIPPED;
    c->error = CCC_ATTEST_OK;
    snprintf(c->detail, sizeof c->detail, "%s", note);
}

/* Record a failure; the detail is the one just raised (literal + number). */
static void fail(run *r, ccc_attest_check_id id, ccc_attest_error e, ccc_status st)
{
    ccc_attest_check *c = &r->report->checks[id];
    c->outcome = CCC_ATTEST_FAIL;
    c->error = e;
    r->status[id] = st;
    snprintf(c->detail, sizeof c->detail, "%s", ccc_error_detail());
}

static ccc_attest_error map_x509(ccc_x509_error e)
{
    switch (e) {
    case CCC_X509_E_MALFORMED:
        return CCC_ATTEST_E_CERT_MALFORMED;
    case CCC_X509_E_EXPIRED:
        return CCC_ATTEST_E_CERT_EXPIRED;
    case CCC_X509_E_NOT_YET_VALID:
        return CCC_ATTEST_E_CERT_NOT_YET_VALID;
    case CCC_X509_E_UNTRUSTED_ROOT:
        return CCC_ATTEST_E_UNTRUSTED_ROOT;
    case CCC_X509_E_BAD_SIGNATURE:
        return CCC_ATTEST_E_CERT_SIGNATURE;
    default:
        return CCC_ATTEST_E_CHAIN;
    }
}

/* Equality of a bound value: absent/null never matches. */
static bool bound_equal(bool has, ccc_bytes got, ccc_bytes want)
{
    return has && got.size == want.size && ccc_ct_equal(got.ptr, want.ptr, got.size);
}

static void check_pcrs(run *r, const ccc_attest_doc *doc, const ccc_attest_policy *p)
{
    if (p->allow_any_measurement_INSECURE) {
        skip(r, CCC_ATTEST_CHECK_PCRS, "not compared: allow_any_measurement_INSECURE");
        return;
    }
    /* An empty allowlist, or an empty set in it, would accept anything. */
    bool empty = p->set_count == 0 || !p->sets;
    for (size_t s = 0; !empty && s < p->set_count; s++)
        empty = p->sets[s].count == 0;
    if (empty) {
        ccc_status st = ccc_error_raise(CCC_ERR_USAGE,
                                        "empty measurement allowlist (refusing, not allow-all)",
                                        false, 0, __FILE__, __LINE__);
        fail(r, CCC_ATTEST_CHECK_PCRS, CCC_ATTEST_E_POLICY_EMPTY, st);
        return;
    }
    long long first_bad = -1;
    for (size_t s = 0; s < p->set_count; s++) {
        const ccc_attest_pcr_set *set = &p->sets[s];
        long long bad = -1;
        for (size_t i = 0; i < set->count && bad < 0; i++) {
            uint32_t idx = set->pcrs[i].index;
            if (idx >= CCC_ATTEST_PCR_COUNT || !doc->pcrs[idx].present ||
                doc->pcrs[idx].value.size != set->pcrs[i].size ||
                memcmp(doc->pcrs[idx].value.ptr, set->pcrs[i].value, set->pcrs[i].size) != 0)
                bad = idx;
        }
        if (bad < 0) {
            char note[64];
            snprintf(note, sizeof note, "matches accepted measurement set %zu", s);
            pass(r, CCC_ATTEST_CHECK_PCRS, note);
            return;
        }
        if (first_bad < 0)
            first_bad = bad;
    }
    ccc_status st = ccc_error_raise(CCC_ERR_POLICY, "PCR mismatch: no accepted set matches, PCR",
                                    true, first_bad, __FILE__, __LINE__);
    fail(r, CCC_ATTEST_CHECK_PCRS, CCC_ATTEST_E_PCR_MISMATCH, st);
}

static void check_bound(run *r, ccc_attest_check_id id, bool has, ccc_bytes got, ccc_bytes want,
                        ccc_attest_error e, const char *what)
{
    if (!want.ptr) {
        skip(r, id, "not bound by the caller");
        return;
    }
    if (bound_equal(has, got, want)) {
        pass(r, id, "equals the expected value");
        return;
    }
    ccc_status st = ccc_error_raise(CCC_ERR_POLICY, what, false, 0, __FILE__, __LINE__);
    fail(r, id, e, st);
}

static void check_freshness(run *r, const ccc_attest_doc *doc, const ccc_attest_policy *p)
{
    ccc_status st;
    if (!p->has_time) {
        if (p->max_age_ms) {
            st = ccc_error_raise(CCC_ERR_USAGE, "maximum age needs a verification time", false, 0,
                                 __FILE__, __LINE__);
            fail(r, CCC_ATTEST_CHECK_FRESHNESS, CCC_ATTEST_E_NEEDS_TIME, st);
        } else {
            skip(r, CCC_ATTEST_CHECK_FRESHNESS, "verified at the document's own time");
        }
        return;
    }
    if (doc->timestamp_ms > p->at_ms && doc->timestamp_ms - p->at_ms > CCC_ATTEST_MAX_SKEW_MS) {
        st = ccc_error_raise(CCC_ERR_POLICY, "document timestamp is in the future, by ms", true,
                             (long long)(doc->timestamp_ms - p->at_ms), __FILE__, __LINE__);
        fail(r, CCC_ATTEST_CHECK_FRESHNESS, CCC_ATTEST_E_FROM_FUTURE, st);
        return;
    }
    uint64_t age = p->at_ms > doc->timestamp_ms ? p->at_ms - doc->timestamp_ms : 0;
    if (p->max_age_ms && age > p->max_age_ms) {
        st = ccc_error_raise(CCC_ERR_POLICY, "document older than the maximum age, age in s", true,
                             (long long)(age / 1000), __FILE__, __LINE__);
        fail(r, CCC_ATTEST_CHECK_FRESHNESS, CCC_ATTEST_E_TOO_OLD, st);
        return;
    }
    pass(r, CCC_ATTEST_CHECK_FRESHNESS, p->max_age_ms ? "within the maximum age" : "not in the future");
}

/* The authenticity checks: chain (2) and COSE signature (3). */
static void check_authenticity(run *r, const ccc_attest_doc *doc, const ccc_x509_root *root,
                               uint64_t at_ms)
{
    ccc_x509_error xe = CCC_X509_E_NONE;
    EVP_PKEY *key = NULL;
    ccc_status st = ccc_x509_chain_verify(root, doc->certificate, doc->cabundle,
                                          doc->cabundle_count, (int64_t)(at_ms / 1000), &xe, &key);
    ccc_bytes root_der = ccc_x509_root_der(root);
    if (st == CCC_OK && (doc->cabundle[0].size != root_der.size ||
                         memcmp(doc->cabundle[0].ptr, root_der.ptr, root_der.size) != 0)) {
        /* "cabundle: [ROOT_CERT, INTERM_1, ...]": the bundle must start with
         * the root we pin, byte for byte, even if the chain holds without it. */
        st = ccc_error_raise(CCC_ERR_CRYPTO, "cabundle[0] is not the pinned root", false, 0,
                             __FILE__, __LINE__);
        xe = CCC_X509_E_CHAIN_ORDER;
    }
    if (st == CCC_OK) {
        pass(r, CCC_ATTEST_CHECK_CHAIN, "leaf <- cabundle <- pinned root, valid at the time");
    } else {
        fail(r, CCC_ATTEST_CHECK_CHAIN, map_x509(xe), st);
        /* For the report only: is the signature at least the leaf's? The
         * chain failure above already decides the result. */
        EVP_PKEY_free(key);
        key = NULL;
        if (ccc_x509_cert_pubkey(doc->certificate, &key) != CCC_OK) {
            st = ccc_error_raise(CCC_ERR_CRYPTO, "no usable leaf key", false, 0, __FILE__,
                                 __LINE__);
            fail(r, CCC_ATTEST_CHECK_SIGNATURE, CCC_ATTEST_E_SIGNATURE, st);
            return;
        }
    }
    st = ccc_cose_sign1_verify(&doc->cose, key, ccc_bytes_of(NULL, 0), NULL);
    EVP_PKEY_free(key);
    if (st == CCC_OK)
        pass(r, CCC_ATTEST_CHECK_SIGNATURE, "ES384 by the leaf certificate key");
    else
        fail(r, CCC_ATTEST_CHECK_SIGNATURE, CCC_ATTEST_E_SIGNATURE, CCC_ERR_CRYPTO);
}

/* The first failure decides; re-raise its detail for the caller. */
static ccc_status conclude(run *r)
{
    ccc_attest_report *rep = r->report;
    rep->result = CCC_ATTEST_OK;
    for (int i = 0; i < CCC_ATTEST_CHECK_COUNT; i++) {
        if (rep->checks[i].outcome == CCC_ATTEST_FAIL) {
            rep->result = rep->checks[i].error;
            /* The stored detail came from a literal (plus one number). */
            return ccc_error_raise(r->status[i] ? r->status[i] : CCC_ERR_CRYPTO,
                                   rep->checks[i].detail, false, 0, __FILE__, __LINE__);
        }
    }
    return CCC_OK;
}

static void report_init(ccc_attest_report *report)
{
    memset(report, 0, sizeof *report);
}

ccc_status ccc_attest_verify(const ccc_attest_doc *doc, const ccc_x509_root *root,
                             const ccc_attest_policy *policy, ccc_attest_report *report)
{
    report_init(report);
    run r = {.report = report};
    CCC_ENSURE(doc && root && policy, CCC_ERR_USAGE, "attest verify needs a document, a root and a policy");
    pass(&r, CCC_ATTEST_CHECK_PARSE, "COSE_Sign1 and every payload field well-formed");
    pass(&r, CCC_ATTEST_CHECK_ALG, "ES384");
    report->time_from_document = !policy->has_time;
    report->verified_at_ms = policy->has_time ? policy->at_ms : doc->timestamp_ms;

    check_authenticity(&r, doc, root, report->verified_at_ms);
    if (ccc_attest_doc_is_debug(doc) && !policy->allow_debug_INSECURE) {
        ccc_status st = ccc_error_raise(CCC_ERR_POLICY,
                                        "debug-mode enclave (PCR0/1/2 all zero) refused", false, 0,
                                        __FILE__, __LINE__);
        fail(&r, CCC_ATTEST_CHECK_DEBUG, CCC_ATTEST_E_DEBUG_MODE, st);
    } else {
        pass(&r, CCC_ATTEST_CHECK_DEBUG,
             ccc_attest_doc_is_debug(doc) ? "debug mode ACCEPTED (allow_debug_INSECURE)"
                                          : "not a debug-mode enclave");
    }
    check_pcrs(&r, doc, policy);
    check_bound(&r, CCC_ATTEST_CHECK_NONCE, doc->has_nonce, doc->nonce, policy->nonce,
                CCC_ATTEST_E_NONCE_MISMATCH, "nonce absent or not the expected one");
    check_freshness(&r, doc, policy);
    check_bound(&r, CCC_ATTEST_CHECK_PUBLIC_KEY, doc->has_public_key, doc->public_key,
                policy->public_key, CCC_ATTEST_E_PUBLIC_KEY_MISMATCH,
                "public_key absent or not the expected one");
    check_bound(&r, CCC_ATTEST_CHECK_USER_DATA, doc->has_user_data, doc->user_data,
                policy->user_data, CCC_ATTEST_E_USER_DATA_MISMATCH,
                "user_data absent or not the expected one");
    return conclude(&r);
}

ccc_status ccc_attest_verify_bytes(ccc_bytes input, const ccc_x509_root *root,
                                   const ccc_attest_policy *policy, ccc_attest_report *report)
{
    ccc_attest_doc doc;
    ccc_attest_doc_init(&doc);
    ccc_attest_error why = CCC_ATTEST_OK;
    ccc_status st = ccc_attest_doc_parse(&doc, input, &why);
    if (st != CCC_OK) {
        report_init(report);
        run r = {.report = report};
        fail(&r, CCC_ATTEST_CHECK_PARSE, why, st);
        if (why == CCC_ATTEST_E_ALG) {
            report->checks[CCC_ATTEST_CHECK_PARSE].outcome = CCC_ATTEST_PASS;
            report->checks[CCC_ATTEST_CHECK_PARSE].error = CCC_ATTEST_OK;
            r.report->checks[CCC_ATTEST_CHECK_ALG] = (ccc_attest_check){0};
            fail(&r, CCC_ATTEST_CHECK_ALG, why, st);
        }
        st = conclude(&r);
    } else {
        st = ccc_attest_verify(&doc, root, policy, report);
    }
    ccc_attest_doc_wipe(&doc);
    return st;
}
