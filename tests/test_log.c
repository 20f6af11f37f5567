/* log: lines are valid JSON with only allowlisted, typed fields; hostile ids
 * are neutralised; a field used with the wrong type is dropped. */
#include <jansson.h>

#include "log/log.h"
#include "testutil.h"

/* Capture the log output of `body` into a string. */
static char captured[8192];

static FILE *capture_begin(void)
{
    FILE *f = fmemopen(captured, sizeof captured, "w");
    assert_non_null(f);
    ccc_log_init(f, "test", CCC_LOG_DEBUG);
    return f;
}

static void capture_end(FILE *f)
{
    fclose(f);
    ccc_log_init(NULL, "test", CCC_LOG_INFO);
}

static json_t *parse_line(const char *line)
{
    json_error_t err;
    json_t *j = json_loads(line, 0, &err);
    if (!j)
        fail_msg("log line is not JSON: %s (%s)", err.text, line);
    return j;
}

static void line_has_typed_fields(void **state)
{
    (void)state;
    FILE *f = capture_begin();
    uint8_t digest[32];
    memset(digest, 0xab, sizeof digest);
    ccc_log(CCC_LOG_INFO, CCC_EV_JOB_DONE, ccc_log_job("job-42"),
            ccc_log_size(CCC_F_BYTES_IN, 1234), ccc_log_ms(CCC_F_DURATION_MS, 12.5),
            ccc_log_count(CCC_F_COUNT, 1), ccc_log_status(CCC_ERR_LIMIT),
            ccc_log_sha256(CCC_F_DOC_SHA256, digest), CCC_LOG_END);
    capture_end(f);
    json_t *j = parse_line(captured);
    assert_string_equal(json_string_value(json_object_get(j, "event")), "job_done");
    assert_string_equal(json_string_value(json_object_get(j, "component")), "test");
    assert_string_equal(json_string_value(json_object_get(j, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(j, "job")), "job-42");
    assert_int_equal(json_integer_value(json_object_get(j, "bytes_in")), 1234);
    assert_true(json_real_value(json_object_get(j, "duration_ms")) == 12.5);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "limit");
    const char *hex = json_string_value(json_object_get(j, "doc_sha256"));
    assert_non_null(hex);
    assert_int_equal(strlen(hex), 64);
    json_decref(j);
}

static void hostile_ids_are_replaced(void **state)
{
    (void)state;
    const char *bad[] = {"\"}{\"evil\":1", "a b", "line\nbreak", "",
                         "0123456789012345678901234567890123456789012345678901234567890123456789",
                         NULL};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FILE *f = capture_begin();
        ccc_log(CCC_LOG_WARN, CCC_EV_REQUEST, ccc_log_id(CCC_F_CLIENT, bad[i]), CCC_LOG_END);
        capture_end(f);
        json_t *j = parse_line(captured);
        assert_string_equal(json_string_value(json_object_get(j, "client")), "<invalid>");
        assert_null(json_object_get(j, "evil"));
        json_decref(j);
    }
}

static void wrong_kind_is_dropped_not_misprinted(void **state)
{
    (void)state;
    FILE *f = capture_begin();
    /* CCC_F_JOB is an identifier; as a size it must not appear. The fields
     * after it must still be printed. */
    ccc_log(CCC_LOG_INFO, CCC_EV_REQUEST, ccc_log_size(CCC_F_JOB, 7),
            ccc_log_count(CCC_F_ATTEMPT, 2), CCC_LOG_END);
    capture_end(f);
    json_t *j = parse_line(captured);
    assert_null(json_object_get(j, "job"));
    assert_int_equal(json_integer_value(json_object_get(j, "attempt")), 2);
    json_decref(j);
}

static ccc_status fail_parse(void) { CCC_BAIL(CCC_ERR_PARSE, "frame length \"too\" large"); }

static void error_status_logs_class_and_escaped_detail(void **state)
{
    (void)state;
    FILE *f = capture_begin();
    ccc_log_error_status(CCC_EV_JOB_FAILED, fail_parse());
    capture_end(f);
    json_t *j = parse_line(captured);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "parse");
    assert_string_equal(json_string_value(json_object_get(j, "detail")),
                        "frame length \"too\" large");
    assert_string_equal(json_string_value(json_object_get(j, "level")), "error");
    json_decref(j);
}

static void below_min_level_is_dropped(void **state)
{
    (void)state;
    memset(captured, 0, sizeof captured);
    FILE *f = fmemopen(captured, sizeof captured, "w");
    ccc_log_init(f, "test", CCC_LOG_WARN);
    ccc_log(CCC_LOG_INFO, CCC_EV_START, CCC_LOG_END);
    fflush(f);
    assert_int_equal(strlen(captured), 0);
    capture_end(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(line_has_typed_fields),
        cmocka_unit_test(hostile_ids_are_replaced),
        cmocka_unit_test(wrong_kind_is_dropped_not_misprinted),
        cmocka_unit_test(error_status_logs_class_and_escaped_detail),
        cmocka_unit_test(below_min_level_is_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
