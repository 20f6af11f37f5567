/* egress: the answer grammar, every refusal rule, builder/checker agreement. */
#include <math.h>

#include "egress/egress.h"
#include "testutil.h"

static ccc_egress_policy boxes_policy(uint32_t max_boxes)
{
    ccc_egress_policy p = ccc_egress_policy_default();
    p.allow_boxes = true;
    p.max_boxes = max_boxes;
    p.max_answer_size = 4096;
    return p;
}

static ccc_status check_str(const char *s, const ccc_egress_policy *p)
{
    return ccc_egress_check(ccc_bytes_of(s, strlen(s)), p, NULL);
}

/* Assert a refusal with an exact detail. */
static void refused(const char *s, const ccc_egress_policy *p, const char *detail)
{
    ccc_egress_answer a;
    memset(&a, 0xab, sizeof a);
    ccc_status st = ccc_egress_check(ccc_bytes_of(s, strlen(s)), p, &a);
    if (st != CCC_ERR_POLICY)
        fail_msg("accepted or wrong class (%d) for %s", (int)st, s);
    if (detail && strcmp(ccc_error_detail(), detail) != 0)
        fail_msg("for %s: detail '%s', expected '%s'", s, ccc_error_detail(), detail);
    assert_true(test_all_zero(&a, sizeof a));
}

static void build_without_boxes(void **state)
{
    (void)state;
    ccc_egress_policy p = ccc_egress_policy_default();
    ccc_buf out;
    ccc_buf_init(&out, 4096);
    ccc_egress_detection det = {.count = 1, .confidence = 0.8734f, .model = "centernet-mnv3"};
    assert_int_equal(ccc_egress_answer_build(&det, &p, &out), CCC_OK);
    const char *want = "{\"count\":1,\"confidence\":0.873,\"model\":\"centernet-mnv3\"}";
    assert_int_equal(out.size, strlen(want));
    assert_memory_equal(out.data, want, out.size);
    ccc_egress_answer a;
    assert_int_equal(ccc_egress_check(ccc_buf_bytes(&out), &p, &a), CCC_OK);
    assert_int_equal(a.count, 1);
    assert_int_equal(a.confidence_milli, 873);
    assert_false(a.has_boxes);
    assert_string_equal(a.model, "centernet-mnv3");
    /* count 0: confidence forced to 0; clamping and rounding */
    det.count = 0;
    assert_int_equal(ccc_egress_answer_build(&det, &p, &out), CCC_OK);
    assert_int_equal(ccc_egress_check(ccc_buf_bytes(&out), &p, &a), CCC_OK);
    assert_int_equal(a.confidence_milli, 0);
    det.count = 3;
    det.confidence = 7.0f;
    assert_int_equal(ccc_egress_answer_build(&det, &p, &out), CCC_OK);
    assert_int_equal(ccc_egress_check(ccc_buf_bytes(&out), &p, &a), CCC_OK);
    assert_int_equal(a.confidence_milli, 1000);
    det.confidence = 0.9996f;
    assert_int_equal(ccc_egress_answer_build(&det, &p, &out), CCC_OK);
    assert_int_equal(ccc_egress_check(ccc_buf_bytes(&out), &p, &a), CCC_OK);
    assert_int_equal(a.confidence_milli, 1000);
    ccc_buf_wipe(&out);
}

static void build_with_boxes_sorted_and_capped(void **state)
{
    (void)state;
    ccc_egress_policy p = boxes_policy(2);
    ccc_buf out;
    ccc_buf_init(&out, 4096);
    const ccc_egress_box boxes[] = {
        {0.5f, 0.1f, 0.9f, 0.8f, 0.51f},
        {0.6f, 0.9f, 0.1f, 0.2f, 0.87f}, /* corners swapped: ordered by build */
        {0.0f, 0.0f, 1.5f, 1.0f, 0.40f}, /* dropped: third best */
    };
    ccc_egress_detection det = {
        .count = 3, .confidence = 0.87f, .boxes = boxes, .box_count = 3, .model = "cnet"};
    assert_int_equal(ccc_egress_answer_build(&det, &p, &out), CCC_OK);
    const char *want = "{\"count\":3,\"confidence\":0.870,\"boxes\":[[0.100,0.200,0.600,0.900,"
                       "0.870],[0.500,0.100,0.900,0.800,0.510]],\"model\":\"cnet\"}";
    assert_int_equal(out.size, strlen(want));
    assert_memory_equal(out.data, want, out.size);
    ccc_egress_answer a;
    assert_int_equal(ccc_egress_check(ccc_buf_bytes(&out), &p, &a), CCC_OK);
    assert_int_equal(a.box_count, 2);
    assert_int_equal(a.boxes[0].score, 870);
    /* count 0 with boxes allowed: an empty list */
    det.count = 0;
    assert_int_equal(ccc_egress_answer_build(&det, &p, &out), CCC_OK);
    want = "{\"count\":0,\"confidence\":0.000,\"boxes\":[],\"model\":\"cnet\"}";
    assert_int_equal(out.size, strlen(want));
    assert_memory_equal(out.data, want, out.size);
    /* 64 boxes at the hard cap fit the hard size cap */
    ccc_egress_box many[64];
    for (int i = 0; i < 64; i++)
        many[i] = (ccc_egress_box){0.1f, 0.2f, 0.3f, 0.4f, (float)i / 100.0f};
    p = boxes_policy(64);
    det = (ccc_egress_detection){
        .count = 100, .confidence = 1.0f, .boxes = many, .box_count = 64, .model = "m"};
    assert_int_equal(ccc_egress_answer_build(&det, &p, &out), CCC_OK);
    assert_int_equal(ccc_egress_check(ccc_buf_bytes(&out), &p, &a), CCC_OK);
    assert_int_equal(a.box_count, 64);
    assert_true(out.size <= CCC_EGRESS_MAX_ANSWER_SIZE);
    ccc_buf_wipe(&out);
}

static void build_refusals(void **state)
{
    (void)state;
    ccc_egress_policy p = boxes_policy(2);
    ccc_buf out;
    ccc_buf_init(&out, 4096);
    ccc_egress_box boxes[2] = {{0, 0, 1, 1, 0.5f}, {0, 0, 1, 1, 0.4f}};
    ccc_egress_detection det = {
        .count = 2, .confidence = 0.5f, .boxes = boxes, .box_count = 2, .model = "m"};
    assert_int_equal(ccc_egress_answer_build(&det, &p, &out), CCC_OK);
    det.box_count = 1; /* fewer than min(count, max_boxes) */
    assert_int_equal(ccc_egress_answer_build(&det, &p, &out), CCC_ERR_USAGE);
    assert_int_equal(out.size, 0);
    det.box_count = 2;
    boxes[1].x2 = NAN;
    assert_int_equal(ccc_egress_answer_build(&det, &p, &out), CCC_ERR_USAGE);
    boxes[1].x2 = 1;
    det.confidence = NAN;
    assert_int_equal(ccc_egress_answer_build(&det, &p, &out), CCC_ERR_USAGE);
    det.confidence = 0.3f; /* a box scores above the stated confidence */
    assert_int_equal(ccc_egress_answer_build(&det, &p, &out), CCC_ERR_POLICY);
    assert_string_equal(ccc_error_detail(), "answer box score above the confidence");
    assert_int_equal(out.size, 0);
    det.confidence = 0.5f;
    const char *bad_models[] = {
        "", "Cat", "a b", "x\"y", "abcdefghijklmnopqrstuvwxyz0123456", "ffd8ff", "model/v1"};
    for (size_t i = 0; i < sizeof bad_models / sizeof bad_models[0]; i++) {
        det.model = bad_models[i];
        ccc_status st = ccc_egress_answer_build(&det, &p, &out);
        assert_true(st == CCC_ERR_USAGE || st == CCC_ERR_POLICY);
        assert_int_equal(out.size, 0);
    }
    det.model = "abcdefghijklmnopqrstuvwxyz012345"; /* exactly 32 */
    assert_int_equal(ccc_egress_answer_build(&det, &p, &out), CCC_OK);
    det.count = 1001; /* over the policy's max_count */
    assert_int_equal(ccc_egress_answer_build(&det, &p, &out), CCC_ERR_POLICY);
    det.count = 1;
    /* policies outside the hard caps */
    ccc_egress_policy bad = p;
    bad.max_boxes = 65;
    assert_int_equal(ccc_egress_answer_build(&det, &bad, &out), CCC_ERR_USAGE);
    bad = p;
    bad.max_answer_size = 4097;
    assert_int_equal(ccc_egress_policy_check(&bad), CCC_ERR_USAGE);
    bad = p;
    bad.max_base64_run = 15;
    assert_int_equal(ccc_egress_policy_check(&bad), CCC_ERR_USAGE);
    bad = ccc_egress_policy_default();
    bad.max_boxes = 3; /* boxes not allowed */
    assert_int_equal(ccc_egress_policy_check(&bad), CCC_ERR_USAGE);
    bad = p;
    bad.max_count = CCC_EGRESS_MAX_COUNT + 1;
    assert_int_equal(ccc_egress_policy_check(&bad), CCC_ERR_USAGE);
    assert_int_equal(ccc_egress_check(ccc_bytes_of("{}", 2), &bad, NULL), CCC_ERR_USAGE);
    /* from a policy bundle's limits: clamped to the hard caps */
    bad = ccc_egress_policy_from_limits(1u << 20, 1000);
    assert_true(bad.allow_boxes);
    assert_int_equal(bad.max_boxes, CCC_EGRESS_MAX_BOXES);
    assert_int_equal(bad.max_answer_size, CCC_EGRESS_MAX_ANSWER_SIZE);
    assert_int_equal(ccc_egress_policy_check(&bad), CCC_OK);
    bad = ccc_egress_policy_from_limits(200, 0);
    assert_false(bad.allow_boxes);
    assert_int_equal(bad.max_answer_size, 200);
    assert_int_equal(ccc_egress_policy_check(&bad), CCC_OK);
    bad = ccc_egress_policy_from_limits(0, 0);
    assert_int_equal(ccc_egress_policy_check(&bad), CCC_ERR_USAGE);
    ccc_buf_wipe(&out);
}

static void check_byte_rules(void **state)
{
    (void)state;
    ccc_egress_policy p = ccc_egress_policy_default();
    const char *ok = "{\"count\":1,\"confidence\":0.500,\"model\":\"m\"}";
    assert_int_equal(check_str(ok, &p), CCC_OK);
    refused("", &p, "answer is empty");
    assert_int_equal(ccc_egress_check(ccc_bytes_of(NULL, 0), &p, NULL), CCC_ERR_POLICY);
    /* size cap */
    p.max_answer_size = strlen(ok) - 1;
    refused(ok, &p, "answer over the policy size cap");
    p.max_answer_size = strlen(ok);
    assert_int_equal(check_str(ok, &p), CCC_OK);
    p = ccc_egress_policy_default();
    /* every non-printable byte, inside the model id */
    for (unsigned c = 0; c < 256; c++) {
        if (c >= 0x20 && c <= 0x7e)
            continue;
        char s[64];
        int n = snprintf(s, sizeof s, "{\"count\":1,\"confidence\":0.500,\"model\":\"m%c\"}",
                         c ? (char)c : 'X');
        if (c == 0)
            s[n - 3] = '\0'; /* NUL: check by size, not strlen */
        ccc_status st = ccc_egress_check(ccc_bytes_of(s, (size_t)n), &p, NULL);
        assert_int_equal(st, CCC_ERR_POLICY);
        assert_string_equal(ccc_error_detail(), "answer has a byte outside printable ASCII");
    }
    /* image signatures (printable ones here; the others fail printable first) */
    const char *sigs[] = {"GIF8", "RIFF",  "WEBP",  "BM",     "%PDF",     "ftyp",
                          "<svg", "data:", "/9j/",  "iVBOR",  "R0lGO",    "UklGR",
                          "SUkq", "TU0A",  "JVBER", "ffd8ff", "89504e47", "47494638"};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        char s[128];
        snprintf(s, sizeof s, "{\"count\":1,\"confidence\":0.500,\"model\":\"a%sb\"}", sigs[i]);
        refused(s, &p, "answer contains an image or document signature");
    }
    /* raw binary signatures are refused too (whichever rule fires first) */
    const char *bin[] = {"\xff\xd8\xff", "\x89PNG"};
    for (size_t i = 0; i < 2; i++) {
        char s[128];
        snprintf(s, sizeof s, "{\"count\":1,\"confidence\":0.500,\"model\":\"a%sb\"}", bin[i]);
        refused(s, &p, NULL);
    }
    /* base64 runs: 32 characters pass, 33 do not; lower policy limits bite */
    const char *m32 =
        "{\"count\":1,\"confidence\":0.500,\"model\":\"abcdefghijklmnopqrstuvwxyz012345\"}";
    assert_int_equal(check_str(m32, &p), CCC_OK);
    refused("{\"count\":1,\"confidence\":0.500,\"model\":\"abcdefghijklmnopqrstuvwxyz0123456\"}",
            &p, "answer has a long run of base64 characters");
    p.max_base64_run = 16;
    refused(m32, &p, "answer has a long run of base64 characters");
    assert_int_equal(
        check_str("{\"count\":1,\"confidence\":0.500,\"model\":\"abcd.efgh.ijkl\"}", &p), CCC_OK);
}

static void check_grammar_refusals(void **state)
{
    (void)state;
    ccc_egress_policy p = ccc_egress_policy_default();
    const char *schema = "answer does not follow the schema";
    const struct {
        const char *s;
        const char *detail;
    } cases[] = {
        {"{\"count\": 1,\"confidence\":0.500,\"model\":\"m\"}",
         "answer count is not an unsigned integer"},
        {" {\"count\":1,\"confidence\":0.500,\"model\":\"m\"}", schema},
        {"{\"count\":1,\"confidence\":0.500,\"model\":\"m\"} ", "answer has trailing bytes"},
        {"{\"count\":1,\"confidence\":0.500,\"model\":\"m\"}{}", "answer has trailing bytes"},
        {"{\"confidence\":0.500,\"count\":1,\"model\":\"m\"}", schema},
        {"{\"count\":1,\"model\":\"m\",\"confidence\":0.500}", schema},
        {"{\"count\":1,\"confidence\":0.500}", schema},
        {"{\"count\":1,\"model\":\"m\"}", schema},
        {"{\"count\":1,\"confidence\":0.500,\"model\":\"m\",\"x\":1}", schema},
        {"{\"count\":1,\"confidence\":0.500,\"count\":1,\"model\":\"m\"}", schema},
        {"{\"count\":01,\"confidence\":0.500,\"model\":\"m\"}", "answer count has a leading zero"},
        {"{\"count\":-1,\"confidence\":0.500,\"model\":\"m\"}",
         "answer count is not an unsigned integer"},
        {"{\"count\":1.0,\"confidence\":0.500,\"model\":\"m\"}", schema},
        {"{\"count\":1e2,\"confidence\":0.500,\"model\":\"m\"}", schema},
        {"{\"count\":12345678,\"confidence\":0.500,\"model\":\"m\"}",
         "answer count has too many digits"},
        {"{\"count\":\"1\",\"confidence\":0.500,\"model\":\"m\"}",
         "answer count is not an unsigned integer"},
        {"{\"count\":1,\"confidence\":1.001,\"model\":\"m\"}", "answer number outside 0..1"},
        {"{\"count\":1,\"confidence\":2.000,\"model\":\"m\"}", "answer number outside 0..1"},
        {"{\"count\":1,\"confidence\":0.50,\"model\":\"m\"}", "answer number is not d.ddd"},
        {"{\"count\":1,\"confidence\":0.5000,\"model\":\"m\"}", "answer number is not d.ddd"},
        {"{\"count\":1,\"confidence\":.500,\"model\":\"m\"}", "answer number is not d.ddd"},
        {"{\"count\":1,\"confidence\":-0.500,\"model\":\"m\"}", "answer number is not d.ddd"},
        {"{\"count\":1,\"confidence\":5e-1,\"model\":\"m\"}", "answer number is not d.ddd"},
        {"{\"count\":1,\"confidence\":1,\"model\":\"m\"}", "answer number is not d.ddd"},
        {"{\"count\":1,\"confidence\":null,\"model\":\"m\"}", "answer number is not d.ddd"},
        {"{\"count\":1,\"confidence\":0.500,\"model\":\"\"}", "answer model id empty or invalid"},
        {"{\"count\":1,\"confidence\":0.500,\"model\":\"Mx\"}", "answer model id empty or invalid"},
        {"{\"count\":1,\"confidence\":0.500,\"model\":\"m x\"}", schema},
        {"{\"count\":1,\"confidence\":0.500,\"model\":\"m\\u0041\"}", schema},
        {"{\"count\":1,\"confidence\":0.500,\"model\":1}", schema},
        {"{\"count\":0,\"confidence\":0.100,\"model\":\"m\"}",
         "answer confidence must be 0 when count is 0"},
        {"{\"count\":1001,\"confidence\":0.500,\"model\":\"m\"}",
         "answer count over the policy limit"},
        {"{\"count\":1,\"confidence\":0.500,\"boxes\":[],\"model\":\"m\"}",
         "answer has boxes the policy does not allow"},
        {"[1]", schema},
        {"{", schema},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        refused(cases[i].s, &p, cases[i].detail);
    /* every strict prefix of a valid answer is refused */
    const char *ok = "{\"count\":2,\"confidence\":0.500,\"boxes\":[[0.100,0.100,0.200,0.200,0.500],"
                     "[0.100,0.100,0.200,0.200,0.400]],\"model\":\"m\"}";
    ccc_egress_policy bp = boxes_policy(2);
    assert_int_equal(check_str(ok, &bp), CCC_OK);
    for (size_t n = 0; n < strlen(ok); n++)
        assert_int_equal(ccc_egress_check(ccc_bytes_of(ok, n), &bp, NULL), CCC_ERR_POLICY);
}

static void check_box_rules(void **state)
{
    (void)state;
    ccc_egress_policy p = boxes_policy(2);
    const char *b1 = "[0.100,0.100,0.200,0.200,0.500]";
    char s[512];
#define ANSWER(count, conf, boxes)                                                                 \
    snprintf(s, sizeof s,                                                                          \
             "{\"count\":" count ",\"confidence\":" conf ",\"boxes\":[%s],\"model\":\"m\"}",       \
             boxes)
    ANSWER("1", "0.500", b1);
    assert_int_equal(check_str(s, &p), CCC_OK);
    refused("{\"count\":1,\"confidence\":0.500,\"model\":\"m\"}", &p,
            "answer lacks the boxes the policy asks for");
    ANSWER("2", "0.500", b1); /* count 2, max 2: needs 2 boxes */
    refused(s, &p, "answer box count is not min(count, max_boxes)");
    ANSWER("1", "0.500", "[0.100,0.100,0.200,0.200,0.500],[0.100,0.100,0.200,0.200,0.500]");
    refused(s, &p, "answer box count is not min(count, max_boxes)");
    ANSWER("5", "0.500", "[0.100,0.100,0.200,0.200,0.500],[0.100,0.100,0.200,0.200,0.500]");
    assert_int_equal(check_str(s, &p), CCC_OK); /* capped at max_boxes, ties allowed */
    ANSWER("2", "0.500", "[0.100,0.100,0.200,0.200,0.400],[0.100,0.100,0.200,0.200,0.500]");
    refused(s, &p, "answer boxes not sorted by score");
    ANSWER("1", "0.500", "[0.300,0.100,0.200,0.200,0.500]");
    refused(s, &p, "answer box corners out of order");
    ANSWER("1", "0.500", "[0.100,0.300,0.200,0.200,0.500]");
    refused(s, &p, "answer box corners out of order");
    ANSWER("1", "0.400", b1);
    refused(s, &p, "answer box score above the confidence");
    ANSWER("1", "0.500", "[0.100,0.100,0.200,0.200]");
    refused(s, &p, "answer does not follow the schema");
    ANSWER("1", "0.500", "[0.100,0.100,0.200,0.200,0.500,0.500]");
    refused(s, &p, "answer does not follow the schema");
    ANSWER("1", "0.500", "[0.100,0.100,0.200,0.200,1.500]");
    refused(s, &p, "answer number outside 0..1");
    ANSWER("1", "0.500", "0.100");
    refused(s, &p, "answer does not follow the schema");
    ANSWER("1", "0.500", "[0.100, 0.100,0.200,0.200,0.500]");
    refused(s, &p, "answer number is not d.ddd");
    /* more than the hard cap of boxes */
    ccc_egress_policy big = boxes_policy(64);
    char many[65 * 32 + 1] = "";
    for (int i = 0; i < 65; i++)
        strcat(many, i ? "," : ""), strcat(many, b1);
    char *t = malloc(strlen(many) + 128);
    assert_non_null(t);
    sprintf(t, "{\"count\":65,\"confidence\":0.500,\"boxes\":[%s],\"model\":\"m\"}", many);
    refused(t, &big, "answer has too many boxes");
    free(t);
#undef ANSWER
}

/* The writer and the checker agree on every answer the writer can make. */
static void write_then_check_round_trip(void **state)
{
    (void)state;
    ccc_egress_policy p = boxes_policy(3);
    ccc_buf out;
    ccc_buf_init(&out, 4096);
    uint32_t seed = 1;
    for (int iter = 0; iter < 500; iter++) {
        ccc_egress_answer a, back;
        memset(&a, 0, sizeof a);
        seed = seed * 1103515245u + 12345u;
        a.count = 1 + (seed >> 8) % 1000;
        a.confidence_milli = (uint16_t)((seed >> 4) % 1001);
        a.has_boxes = true;
        a.box_count = a.count < 3 ? a.count : 3;
        uint16_t prev = a.confidence_milli;
        for (size_t i = 0; i < a.box_count; i++) {
            seed = seed * 1103515245u + 12345u;
            a.boxes[i].x1 = (uint16_t)(seed % 500);
            a.boxes[i].y1 = (uint16_t)((seed >> 10) % 500);
            a.boxes[i].x2 = (uint16_t)(a.boxes[i].x1 + (seed >> 3) % 500);
            a.boxes[i].y2 = (uint16_t)(a.boxes[i].y1 + (seed >> 13) % 500);
            a.boxes[i].score = (uint16_t)(prev - (prev ? (seed >> 7) % (prev + 1u) : 0));
            prev = a.boxes[i].score;
        }
        snprintf(a.model, sizeof a.model, "m%d.v-%d_x", iter % 7, iter);
        ccc_buf_reset(&out);
        assert_int_equal(ccc_egress_answer_write(&a, &out), CCC_OK);
        assert_int_equal(ccc_egress_check(ccc_buf_bytes(&out), &p, &back), CCC_OK);
        assert_memory_equal(&a, &back, sizeof a);
    }
    ccc_buf_wipe(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(build_without_boxes),
        cmocka_unit_test(build_with_boxes_sorted_and_capped),
        cmocka_unit_test(build_refusals),
        cmocka_unit_test(check_byte_rules),
        cmocka_unit_test(check_grammar_refusals),
        cmocka_unit_test(check_box_rules),
        cmocka_unit_test(write_then_check_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
