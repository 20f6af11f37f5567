/* cli: the ccc program's table, help and errors, run as a real process. */
#include <sys/wait.h>

#include "testutil.h"

/* Run `ccc ARGS`, capture stdout+stderr, return the exit code. */
static int run_ccc(const char *args, char *out, size_t out_size)
{
    char cmd[1024];
    const char *bd = getenv("CCC_BUILD_DIR");
    assert_non_null(bd);
    snprintf(cmd, sizeof cmd, "%s/ccc %s 2>&1", bd, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, out_size - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void help_lists_commands(void **state)
{
    (void)state;
    char out[8192];
    assert_int_equal(run_ccc("--help", out, sizeof out), 0);
    assert_non_null(strstr(out, "usage: ccc"));
    assert_non_null(strstr(out, "version"));
}

static void version_prints_openssl(void **state)
{
    (void)state;
    char out[1024];
    assert_int_equal(run_ccc("version", out, sizeof out), 0);
    assert_non_null(strstr(out, "ccc " CCC_VERSION));
    assert_non_null(strstr(out, "OpenSSL 3"));
}

static void unknown_command_is_usage_error(void **state)
{
    (void)state;
    char out[8192];
    assert_int_equal(run_ccc("frobnicate", out, sizeof out), 2);
    assert_non_null(strstr(out, "unknown command 'frobnicate'"));
}

static void ohttp_demo_round_trips_and_refuses_tamper(void **state)
{
    (void)state;
    char out[8192];
    char args[1024];
    snprintf(args, sizeof args, "ohttp demo %s", test_path("tests/vectors/nitro/aws-nitro-root-g1.pem"));
    assert_int_equal(run_ccc(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "refused: crypto error"));
    assert_non_null(strstr(out, "{\"received_bytes\":777}"));
    assert_non_null(strstr(out, "round trip ok"));
    assert_int_equal(run_ccc("ohttp demo --aead chacha20-poly1305", out, sizeof out), 0);
    assert_non_null(strstr(out, "ChaCha20"));
    assert_int_equal(run_ccc("ohttp demo --aead rot13", out, sizeof out), 2);
    assert_int_equal(run_ccc("ohttp demo /nonexistent/file", out, sizeof out), 66);
    assert_non_null(strstr(out, "not_found error: file not found"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(help_lists_commands),
        cmocka_unit_test(version_prints_openssl),
        cmocka_unit_test(unknown_command_is_usage_error),
        cmocka_unit_test(ohttp_demo_round_trips_and_refuses_tamper),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
