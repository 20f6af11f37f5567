/*
 * attest: the corpus in tests/vectors/nitro/cases.txt (every case for its
 * stated reason), the compiled-in AWS root, the report, and tampering of
 * every truncation and a spread of single bytes of a real document.
 */
#include <time.h>

#include "attest/attest.h"
#include "testutil.h"

#define BLOCKY "tests/vectors/nitro/attestation-blocky-2024-09-07.cbor"
#define BLOCKY_PCR0 "e72a46ca80a260fb044a125442f0c7e331813bcbaf9724d9f3857758992766f2d65710a27aa94ae3949dd54e7c9fe86a"
#define BLOCKY_PCR1 "0343b056cd8485ca7890ddd833476d78460aed2aa161548e4e26bedf321726696257d623e8805f3f605946b3d8b0c6aa"
#define BLOCKY_PCR2 "d5dcbdea0aa39c802f9d55ced2ea6e4d74ecec5f08fe40c508882639c9090642669106a062a3e24ee2805a3024b9b75c"

static ccc_x509_root *load_root_file(const char *rel)
{
    ccc_buf pem;
    test_read_file(test_path(rel), &pem);
    ccc_x509_root *root = NULL;
    assert_int_equal(ccc_x509_root_new_pem(ccc_buf_bytes(&pem), &root), CCC_OK);
    ccc_buf_wipe(&pem);
    return root;
}

static void add_pcr_hex(ccc_attest_pcr_set *set, uint32_t idx, const char *hex)
{
    uint8_t v[64];
    size_t n;
    assert_int_equal(ccc_hex_decode(hex, v, sizeof v, &n), CCC_OK);
    assert_int_equal(ccc_attest_pcr_set_add(set, idx, ccc_bytes_of(v, n)), CCC_OK);
}

/* ------------------------------------------------------------------------ */
/* cases.txt                                                                 */
/* ------------------------------------------------------------------------ */

#define MAX_SETS 4

typedef struct tcase {
    int line;
    char name[128], file[256], root[32], time[64], expect[64], detail[128];
    ccc_attest_pcr_set sets[MAX_SETS];
    size_t set_count;
    bool any_pcrs, debug_ok;
    uint64_t max_age_ms;
    uint8_t nonce[2048], user_data[2048], public_key[2048];
    size_t nonce_size, user_data_size, public_key_size;
    bool has_nonce, has_user_data, has_public_key;
} tcase;

/* hex:HEX | HEX | text:TEXT | repeat:BYTE:COUNT */
static void parse_value(const tcase *c, const char *v, uint8_t *out, size_t *size)
{
    if (strncmp(v, "text:", 5) == 0) {
        *size = strlen(v + 5);
        memcpy(out, v + 5, *size);
    } else if (strncmp(v, "repeat:", 7) == 0) {
        unsigned byte, count;
        if (sscanf(v + 7, "%x:%u", &byte, &count) != 2 || count > 2048)
            fail_msg("cases.txt:%d: bad repeat value", c->line);
        memset(out, (int)byte, count);
        *size = count;
    } else {
        if (strncmp(v, "hex:", 4) == 0)
            v += 4;
        if (ccc_hex_decode(v, out, 2048, size) != CCC_OK)
            fail_msg("cases.txt:%d: bad hex value", c->line);
    }
}

static void parse_pcrs(tcase *c, char *v)
{
    if (strcmp(v, "none") == 0)
        return;
    if (strcmp(v, "any-INSECURE") == 0) {
        c->any_pcrs = true;
        return;
    }
    if (c->set_count == MAX_SETS)
        fail_msg("cases.txt:%d: too many pcrs lines", c->line);
    ccc_attest_pcr_set *set = &c->sets[c->set_count++];
    for (char *tok = strtok(v, " "); tok; tok = strtok(NULL, " ")) {
        unsigned idx;
        char hex[160];
        if (sscanf(tok, "%u=%159s", &idx, hex) != 2)
            fail_msg("cases.txt:%d: bad pcr '%s'", c->line, tok);
        add_pcr_hex(set, idx, hex);
    }
}

static bool parse_time(const char *v, uint64_t *ms)
{
    if (strcmp(v, "now") == 0) {
        *ms = (uint64_t)time(NULL) * 1000u;
        return true;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (strchr(v, 'T')) {
        if (sscanf(v, "%d-%d-%dT%d:%d:%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                   &tm.tm_min, &tm.tm_sec) != 6)
            return false;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        *ms = (uint64_t)timegm(&tm) * 1000u;
        return true;
    }
    char *end;
    *ms = strtoull(v, &end, 10);
    return *end == '\0';
}

static void run_case(const tcase *c, int *count)
{
    ccc_x509_root *root = NULL;
    if (strcmp(c->root, "aws") == 0)
        assert_int_equal(ccc_attest_aws_root(&root), CCC_OK);
    else if (strcmp(c->root, "sim") == 0)
        root = load_root_file("tests/vectors/nitro/sim/root.pem");
    else if (strcmp(c->root, "other") == 0)
        root = load_root_file("tests/vectors/nitro/sim/other-root.pem");
    else
        fail_msg("cases.txt:%d: unknown root '%s'", c->line, c->root);

    ccc_attest_policy p;
    memset(&p, 0, sizeof p);
    p.sets = c->sets;
    p.set_count = c->set_count;
    p.allow_any_measurement_INSECURE = c->any_pcrs;
    p.allow_debug_INSECURE = c->debug_ok;
    p.max_age_ms = c->max_age_ms;
    if (c->time[0] && strcmp(c->time, "doc") != 0) {
        p.has_time = true;
        if (!parse_time(c->time, &p.at_ms))
            fail_msg("cases.txt:%d: bad time '%s'", c->line, c->time);
    }
    if (c->has_nonce)
        p.nonce = ccc_bytes_of(c->nonce, c->nonce_size);
    if (c->has_user_data)
        p.user_data = ccc_bytes_of(c->user_data, c->user_data_size);
    if (c->has_public_key)
        p.public_key = ccc_bytes_of(c->public_key, c->public_key_size);

    char rel[512];
    snprintf(rel, sizeof rel, "tests/vectors/nitro/%s", c->file);
    ccc_buf doc;
    test_read_file(test_path(rel), &doc);
    ccc_attest_report rep;
    ccc_status st = ccc_attest_verify_bytes(ccc_buf_bytes(&doc), root, &p, &rep);
    const char *got = ccc_attest_error_name(rep.result);
    if (strcmp(got, c->expect) != 0)
        fail_msg("cases.txt:%d (%s): expected %s, got %s (%s)", c->line, c->name, c->expect, got,
                 st == CCC_OK ? "ok" : ccc_error_detail());
    /* Status and report agree: OK iff the result is OK. */
    if ((st == CCC_OK) != (rep.result == CCC_ATTEST_OK))
        fail_msg("cases.txt:%d (%s): status and report disagree", c->line, c->name);
    if (c->detail[0] && (st == CCC_OK || !strstr(ccc_error_detail(), c->detail)))
        fail_msg("cases.txt:%d (%s): detail '%s' lacks '%s'", c->line, c->name,
                 ccc_error_detail(), c->detail);
    ccc_buf_wipe(&doc);
    ccc_x509_root_free(root);
    (*count)++;
}

static void corpus_cases_pass_for_their_reason(void **state)
{
    (void)state;
    FILE *f = fopen(test_path("tests/vectors/nitro/cases.txt"), "r");
    assert_non_null(f);
    static tcase c;
    memset(&c, 0, sizeof c);
    char line[4096];
    int lineno = 0, count = 0, ok_count = 0;
    bool open_case = false;
    for (;;) {
        bool eof = !fgets(line, sizeof line, f);
        lineno++;
        if (!eof)
            line[strcspn(line, "\r\n")] = '\0';
        if (eof || line[0] == '\0') {
            if (open_case) {
                if (!c.name[0] || !c.file[0] || !c.expect[0])
                    fail_msg("cases.txt:%d: case lacks name, file or expect", c.line);
                ok_count += strcmp(c.expect, "CCC_ATTEST_OK") == 0;
                run_case(&c, &count);
                memset(&c, 0, sizeof c);
                open_case = false;
            }
            if (eof)
                break;
            continue;
        }
        if (line[0] == '#')
            continue;
        char *eq = strstr(line, " = ");
        if (!eq)
            fail_msg("cases.txt:%d: expected 'key = value'", lineno);
        *eq = '\0';
        char *k = line, *v = eq + 3;
        if (!open_case) {
            open_case = true;
            c.line = lineno;
            snprintf(c.root, sizeof c.root, "aws");
        }
        if (strcmp(k, "name") == 0)
            snprintf(c.name, sizeof c.name, "%s", v);
        else if (strcmp(k, "file") == 0)
            snprintf(c.file, sizeof c.file, "%s", v);
        else if (strcmp(k, "root") == 0)
            snprintf(c.root, sizeof c.root, "%s", v);
        else if (strcmp(k, "time") == 0)
            snprintf(c.time, sizeof c.time, "%s", v);
        else if (strcmp(k, "expect") == 0) {
            ccc_attest_error e;
            if (ccc_attest_error_from_name(v, &e) != CCC_OK)
                fail_msg("cases.txt:%d: unknown result code '%s'", lineno, v);
            snprintf(c.expect, sizeof c.expect, "%s", v);
        } else if (strcmp(k, "detail") == 0)
            snprintf(c.detail, sizeof c.detail, "%s", v);
        else if (strcmp(k, "pcrs") == 0)
            parse_pcrs(&c, v);
        else if (strcmp(k, "max_age_ms") == 0)
            c.max_age_ms = strtoull(v, NULL, 10);
        else if (strcmp(k, "allow_debug_INSECURE") == 0)
            c.debug_ok = strcmp(v, "yes") == 0;
        else if (strcmp(k, "nonce") == 0) {
            parse_value(&c, v, c.nonce, &c.nonce_size);
            c.has_nonce = true;
        } else if (strcmp(k, "user_data") == 0) {
            parse_value(&c, v, c.user_data, &c.user_data_size);
            c.has_user_data = true;
        } else if (strcmp(k, "public_key") == 0) {
            parse_value(&c, v, c.public_key, &c.public_key_size);
            c.has_public_key = true;
        } else
            fail_msg("cases.txt:%d: unknown key '%s'", lineno, k);
    }
    fclose(f);
    print_message("corpus: %d cases (%d expected valid, %d expected refused)\n", count, ok_count,
                  count - ok_count);
    assert_true(count >= 100);
    assert_true(ok_count >= 5 && count - ok_count >= 80);
}

/* ------------------------------------------------------------------------ */
/* The compiled-in root                                                      */
/* ------------------------------------------------------------------------ */

static void embedded_root_is_the_pem_file(void **state)
{
    (void)state;
    ccc_buf pem;
    test_read_file(test_path("tests/vectors/nitro/aws-nitro-root-g1.pem"), &pem);
    ccc_bytes emb = ccc_attest_aws_root_pem();
    assert_int_equal(emb.size, pem.size);
    assert_memory_equal(emb.ptr, pem.data, pem.size);
    ccc_x509_root *root = NULL;
    assert_int_equal(ccc_attest_aws_root(&root), CCC_OK);
    uint8_t fp[32];
    char hex[65];
    ccc_x509_root_sha256(root, fp);
    ccc_hex_encode(fp, sizeof fp, hex);
    assert_string_equal(hex, ccc_attest_aws_root_sha256_hex());
    /* SOURCES.md §3: 64:1A:03:21:...:BB:5B */
    assert_string_equal(hex, "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b");
    ccc_x509_root_free(root);
    ccc_buf_wipe(&pem);
}

/* ------------------------------------------------------------------------ */
/* The parsed fields and the report                                          */
/* ------------------------------------------------------------------------ */

static void blocky_fields_parse_as_documented(void **state)
{
    (void)state;
    ccc_buf b;
    test_read_file(test_path(BLOCKY), &b);
    ccc_attest_doc d;
    ccc_attest_doc_init(&d);
    ccc_attest_error why;
    assert_int_equal(ccc_attest_doc_parse(&d, ccc_buf_bytes(&b), &why), CCC_OK);
    assert_int_equal(why, CCC_ATTEST_OK);
    assert_int_equal(d.timestamp_ms, 1725719859545ULL);
    assert_int_equal(d.module_id.size, strlen("i-0a22e5c5f24d22174-enc0191cceb4289903f"));
    assert_memory_equal(d.module_id.ptr, "i-0a22e5c5f24d22174-enc0191cceb4289903f",
                        d.module_id.size);
    assert_int_equal(d.pcr_count, 16);
    assert_int_equal(d.cabundle_count, 4);
    assert_true(d.has_nonce && d.has_user_data && d.has_public_key);
    assert_int_equal(d.nonce.size, 1024);
    assert_false(ccc_attest_doc_is_debug(&d));
    ccc_attest_doc_wipe(&d);
    ccc_buf_wipe(&b);
}

/* The blocky document, the AWS root and a set with its first `pcrs` PCRs. */
static void load_blocky(ccc_buf *b, ccc_x509_root **root, ccc_attest_pcr_set *set, int pcrs)
{
    static const char *const hex[3] = {BLOCKY_PCR0, BLOCKY_PCR1, BLOCKY_PCR2};
    test_read_file(test_path(BLOCKY), b);
    *root = NULL;
    assert_int_equal(ccc_attest_aws_root(root), CCC_OK);
    memset(set, 0, sizeof *set);
    for (int i = 0; i < pcrs; i++)
        add_pcr_hex(set, (uint32_t)i, hex[i]);
}

static void report_lists_every_check(void **state)
{
    (void)state;
    ccc_buf b;
    ccc_x509_root *root;
    ccc_attest_pcr_set set;
    load_blocky(&b, &root, &set, 3);
    uint8_t ones[1024];
    memset(ones, 1, sizeof ones);
    ccc_attest_policy p;
    memset(&p, 0, sizeof p);
    p.sets = &set;
    p.set_count = 1;
    p.nonce = p.user_data = p.public_key = ccc_bytes_of(ones, sizeof ones);
    ccc_attest_report rep;
    assert_int_equal(ccc_attest_verify_bytes(ccc_buf_bytes(&b), root, &p, &rep), CCC_OK);
    assert_true(rep.time_from_document);
    assert_int_equal(rep.verified_at_ms, 1725719859545ULL);
    for (int i = 0; i < CCC_ATTEST_CHECK_COUNT; i++) {
        if (i == CCC_ATTEST_CHECK_FRESHNESS)
            assert_int_equal(rep.checks[i].outcome, CCC_ATTEST_SKIPPED);
        else
            assert_int_equal(rep.checks[i].outcome, CCC_ATTEST_PASS);
    }
    /* At today's date: the chain fails on validity, the rest is still shown. */
    p.has_time = true;
    p.at_ms = (uint64_t)time(NULL) * 1000u;
    assert_int_equal(ccc_attest_verify_bytes(ccc_buf_bytes(&b), root, &p, &rep), CCC_ERR_CRYPTO);
    assert_int_equal(rep.result, CCC_ATTEST_E_CERT_EXPIRED);
    assert_int_equal(rep.checks[CCC_ATTEST_CHECK_CHAIN].outcome, CCC_ATTEST_FAIL);
    assert_non_null(strstr(rep.checks[CCC_ATTEST_CHECK_CHAIN].detail, "expired"));
    assert_int_equal(rep.checks[CCC_ATTEST_CHECK_SIGNATURE].outcome, CCC_ATTEST_PASS);
    assert_non_null(strstr(ccc_error_detail(), "expired"));
    /* A wrong PCR2 names the PCR and its index. */
    p.has_time = false;
    set.pcrs[2].value[47] ^= 1;
    assert_int_equal(ccc_attest_verify_bytes(ccc_buf_bytes(&b), root, &p, &rep), CCC_ERR_POLICY);
    assert_int_equal(rep.result, CCC_ATTEST_E_PCR_MISMATCH);
    assert_string_equal(rep.checks[CCC_ATTEST_CHECK_PCRS].detail,
                        "PCR mismatch: no accepted set matches, PCR 2");
    /* An empty set among the accepted ones would match anything: refused. */
    ccc_attest_pcr_set sets[2];
    sets[0] = set;
    memset(&sets[1], 0, sizeof sets[1]);
    p.sets = sets;
    p.set_count = 2;
    assert_int_equal(ccc_attest_verify_bytes(ccc_buf_bytes(&b), root, &p, &rep), CCC_ERR_USAGE);
    assert_int_equal(rep.result, CCC_ATTEST_E_POLICY_EMPTY);
    ccc_x509_root_free(root);
    ccc_buf_wipe(&b);
}

static void pcr_set_add_refuses_bad_entries(void **state)
{
    (void)state;
    ccc_attest_pcr_set set;
    memset(&set, 0, sizeof set);
    uint8_t v[64] = {0};
    assert_int_equal(ccc_attest_pcr_set_add(&set, 32, ccc_bytes_of(v, 48)), CCC_ERR_USAGE);
    assert_int_equal(ccc_attest_pcr_set_add(&set, 0, ccc_bytes_of(v, 47)), CCC_ERR_USAGE);
    assert_int_equal(ccc_attest_pcr_set_add(&set, 0, ccc_bytes_of(v, 48)), CCC_OK);
    assert_int_equal(ccc_attest_pcr_set_add(&set, 0, ccc_bytes_of(v, 48)), CCC_ERR_USAGE);
    for (uint32_t i = 1; i < CCC_ATTEST_MAX_SET_PCRS; i++)
        assert_int_equal(ccc_attest_pcr_set_add(&set, i, ccc_bytes_of(v, 32)), CCC_OK);
    assert_int_equal(ccc_attest_pcr_set_add(&set, 20, ccc_bytes_of(v, 64)), CCC_ERR_LIMIT);
    ccc_attest_error e;
    assert_int_equal(ccc_attest_error_from_name("CCC_ATTEST_E_PCR_MISMATCH", &e), CCC_OK);
    assert_int_equal(e, CCC_ATTEST_E_PCR_MISMATCH);
    assert_int_equal(ccc_attest_error_from_name("nope", &e), CCC_ERR_NOT_FOUND);
    for (int i = 0; i < CCC_ATTEST_E_COUNT; i++) {
        assert_int_equal(ccc_attest_error_from_name(ccc_attest_error_name(i), &e), CCC_OK);
        assert_int_equal(e, i);
    }
}

/* ------------------------------------------------------------------------ */
/* Tampering: every truncation, a spread of single-byte changes              */
/* ------------------------------------------------------------------------ */

static void every_truncation_is_refused(void **state)
{
    (void)state;
    ccc_buf b;
    test_read_file(test_path(BLOCKY), &b);
    ccc_attest_doc d;
    ccc_attest_doc_init(&d);
    for (size_t n = 0; n < b.size; n++) {
        ccc_attest_error why = CCC_ATTEST_OK;
        assert_int_not_equal(ccc_attest_doc_parse(&d, ccc_bytes_of(b.data, n), &why), CCC_OK);
        assert_int_not_equal(why, CCC_ATTEST_OK);
    }
    /* One trailing byte too. */
    assert_int_equal(ccc_buf_u8(&b, 0), CCC_OK);
    assert_int_not_equal(ccc_attest_doc_parse(&d, ccc_buf_bytes(&b), NULL), CCC_OK);
    ccc_attest_doc_wipe(&d);
    ccc_buf_wipe(&b);
}

static void single_byte_changes_never_verify(void **state)
{
    (void)state;
    ccc_buf b;
    ccc_x509_root *root;
    ccc_attest_pcr_set set;
    load_blocky(&b, &root, &set, 1);
    ccc_attest_policy p;
    memset(&p, 0, sizeof p);
    p.sets = &set;
    p.set_count = 1;
    ccc_attest_report rep;
    assert_int_equal(ccc_attest_verify_bytes(ccc_buf_bytes(&b), root, &p, &rep), CCC_OK);
    /* Stride 7 covers the header, every field and the signature; a change
     * to the root copy in cabundle[0] is caught by the byte comparison. */
    size_t tried = 0;
    for (size_t i = 0; i < b.size; i += 7) {
        b.data[i] ^= 0x01;
        ccc_status st = ccc_attest_verify_bytes(ccc_buf_bytes(&b), root, &p, &rep);
        if (st == CCC_OK)
            fail_msg("flipping bit 0 of byte %zu still verifies", i);
        assert_int_not_equal(rep.result, CCC_ATTEST_OK);
        b.data[i] ^= 0x01;
        tried++;
    }
    assert_true(tried > 1000);
    ccc_x509_root_free(root);
    ccc_buf_wipe(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(embedded_root_is_the_pem_file),
        cmocka_unit_test(blocky_fields_parse_as_documented),
        cmocka_unit_test(report_lists_every_check),
        cmocka_unit_test(pcr_set_add_refuses_bad_entries),
        cmocka_unit_test(corpus_cases_pass_for_their_reason),
        cmocka_unit_test(every_truncation_is_refused),
        cmocka_unit_test(single_byte_changes_never_verify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
