/* base: reader bounds, capped buffers, errors, secrets, hex, files. */
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static void reader_reads_in_bounds_and_refuses_past_end(void **state)
{
    (void)state;
    const uint8_t data[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    ccc_reader r;
    ccc_reader_init(&r, data, sizeof data);
    uint8_t b;
    uint16_t s;
    uint32_t w;
    uint64_t q;
    assert_int_equal(ccc_reader_u8(&r, &b), CCC_OK);
    assert_int_equal(b, 1);
    assert_int_equal(ccc_reader_be16(&r, &s), CCC_OK);
    assert_int_equal(s, 0x0203);
    assert_int_equal(ccc_reader_be32(&r, &w), CCC_OK);
    assert_int_equal(w, 0x04050607);
    assert_int_equal(ccc_reader_be64(&r, &q), CCC_OK);
    assert_true(q == 0x08090a0b0c0d0e0fULL);
    assert_true(ccc_reader_done(&r));
    assert_int_equal(ccc_reader_expect_done(&r), CCC_OK);
    /* Past the end: error, cursor unchanged. */
    assert_int_equal(ccc_reader_u8(&r, &b), CCC_ERR_PARSE);
    assert_string_equal(ccc_error_detail(), "truncated input");
    assert_int_equal(r.pos, sizeof data);
}

static void reader_failed_read_leaves_cursor(void **state)
{
    (void)state;
    const uint8_t data[] = {0xaa, 0xbb, 0xcc};
    ccc_reader r, sub;
    ccc_reader_init(&r, data, sizeof data);
    uint32_t w;
    assert_int_equal(ccc_reader_be32(&r, &w), CCC_ERR_PARSE);
    assert_int_equal(r.pos, 0);
    ccc_bytes view;
    assert_int_equal(ccc_reader_bytes(&r, 4, &view), CCC_ERR_PARSE);
    assert_int_equal(ccc_reader_bytes(&r, SIZE_MAX, &view), CCC_ERR_PARSE);
    assert_int_equal(ccc_reader_skip(&r, SIZE_MAX), CCC_ERR_PARSE);
    assert_int_equal(ccc_reader_sub(&r, 2, &sub), CCC_OK);
    assert_int_equal(ccc_reader_remaining(&sub), 2);
    assert_int_equal(ccc_reader_remaining(&r), 1);
    assert_int_equal(ccc_reader_expect_done(&r), CCC_ERR_PARSE);
    ccc_bytes rest = ccc_reader_rest(&r);
    assert_int_equal(rest.size, 1);
    assert_int_equal(rest.ptr[0], 0xcc);
    /* A NULL reader is empty, not a crash. */
    ccc_reader_init(&r, NULL, 10);
    assert_true(ccc_reader_done(&r));
}

static void buf_grows_to_cap_and_no_further(void **state)
{
    (void)state;
    ccc_buf b;
    ccc_buf_init(&b, 100);
    uint8_t chunk[30];
    memset(chunk, 7, sizeof chunk);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ccc_buf_append(&b, chunk, sizeof chunk), CCC_OK);
    assert_int_equal(b.size, 90);
    assert_int_equal(ccc_buf_append(&b, chunk, sizeof chunk), CCC_ERR_LIMIT);
    assert_int_equal(b.size, 90); /* nothing lost, nothing half-written */
    assert_int_equal(ccc_buf_be32(&b, 0x01020304), CCC_OK);
    assert_int_equal(b.data[90], 1);
    assert_int_equal(b.data[93], 4);
    assert_int_equal(ccc_buf_be64(&b, 1), CCC_ERR_LIMIT); /* 94 + 8 > 100 */
    assert_int_equal(ccc_buf_be32(&b, 1), CCC_OK);
    assert_int_equal(ccc_buf_be16(&b, 1), CCC_OK);
    assert_int_equal(b.size, 100);
    assert_int_equal(ccc_buf_u8(&b, 1), CCC_ERR_LIMIT);
    assert_int_equal(ccc_buf_reserve(&b, SIZE_MAX), CCC_ERR_LIMIT);
    ccc_buf_reset(&b);
    assert_int_equal(b.size, 0);
    ccc_buf_wipe(&b);
    assert_null(b.data);
}

static void secret_buf_wipes_on_reset(void **state)
{
    (void)state;
    ccc_buf b;
    ccc_buf_init_secret(&b, 1 << 20);
    uint8_t key[32];
    memset(key, 0x5a, sizeof key);
    assert_int_equal(ccc_buf_append(&b, key, sizeof key), CCC_OK);
    uint8_t *p = b.data;
    ccc_buf_reset(&b);
    /* Same allocation, contents zeroed. */
    assert_ptr_equal(b.data, p);
    for (size_t i = 0; i < sizeof key; i++)
        assert_int_equal(p[i], 0);
    /* Growth past the first block moves to a new block. */
    uint8_t big[5000];
    memset(big, 0x33, sizeof big);
    assert_int_equal(ccc_buf_append(&b, big, sizeof big), CCC_OK);
    assert_int_equal(b.data[4999], 0x33);
    ccc_buf_wipe(&b);
}

static void secret_alloc_is_zeroed_and_page_aligned(void **state)
{
    (void)state;
    uint8_t *p = ccc_secret_alloc(100);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % (uintptr_t)sysconf(_SC_PAGESIZE), 0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(p[i], 0);
    memset(p, 0xff, 100);
    ccc_secret_free(p, 100);
    ccc_secret_free(NULL, 100);
}

static void ct_equal_compares(void **state)
{
    (void)state;
    uint8_t a[16], b[16];
    memset(a, 1, sizeof a);
    memset(b, 1, sizeof b);
    assert_true(ccc_ct_equal(a, b, sizeof a));
    b[15] ^= 1;
    assert_false(ccc_ct_equal(a, b, sizeof a));
    b[15] ^= 1;
    b[0] ^= 0x80;
    assert_false(ccc_ct_equal(a, b, sizeof a));
    uint8_t z[4] = {9, 9, 9, 9};
    ccc_wipe(z, sizeof z);
    for (int i = 0; i < 4; i++)
        assert_int_equal(z[i], 0);
}

static ccc_status raise_with_number(int n) { CCC_BAIL_NUM(CCC_ERR_POLICY, "PCR mismatch at index", n); }

static ccc_status guarded(void)
{
    CCC_GUARD(raise_with_number(3));
    return CCC_OK;
}

static void errors_carry_class_detail_and_location(void **state)
{
    (void)state;
    ccc_error_clear();
    assert_int_equal(guarded(), CCC_ERR_POLICY);
    assert_int_equal(ccc_error_last(), CCC_ERR_POLICY);
    assert_string_equal(ccc_error_detail(), "PCR mismatch at index 3");
    assert_non_null(strstr(ccc_error_where(), "test_base.c:"));
    assert_string_equal(ccc_status_name(CCC_ERR_POLICY), "policy");
    assert_int_equal(ccc_status_http_status(CCC_ERR_LIMIT), 413);
    assert_int_equal(ccc_status_http_status(CCC_ERR_BUSY), 429);
    assert_int_equal(ccc_status_exit_code(CCC_OK), 0);
    assert_int_equal(ccc_status_exit_code(CCC_ERR_USAGE), 2);
    /* Every class has a name, a non-zero exit code and an HTTP status. */
    for (int s = 1; s < CCC_STATUS_COUNT; s++) {
        assert_true(strlen(ccc_status_name((ccc_status)s)) > 0);
        assert_true(ccc_status_exit_code((ccc_status)s) != 0);
        assert_true(ccc_status_http_status((ccc_status)s) >= 400);
    }
    /* Out-of-range classes map to internal, not out of the table. */
    assert_string_equal(ccc_status_name((ccc_status)999), "internal");
    ccc_error_clear();
    assert_int_equal(ccc_error_last(), CCC_OK);
}

static void hex_round_trip_and_errors(void **state)
{
    (void)state;
    const uint8_t in[] = {0x00, 0xff, 0x10, 0xab};
    char hex[9];
    ccc_hex_encode(in, sizeof in, hex);
    assert_string_equal(hex, "00ff10ab");
    uint8_t out[4];
    size_t n;
    assert_int_equal(ccc_hex_decode("00FF10ab", out, sizeof out, &n), CCC_OK);
    assert_int_equal(n, 4);
    assert_memory_equal(in, out, 4);
    assert_int_equal(ccc_hex_decode("abc", out, sizeof out, &n), CCC_ERR_PARSE);
    assert_int_equal(ccc_hex_decode("zz", out, sizeof out, &n), CCC_ERR_PARSE);
    assert_int_equal(ccc_hex_decode("0011223344", out, sizeof out, &n), CCC_ERR_LIMIT);
}

static void file_write_then_read_with_cap(void **state)
{
    (void)state;
    char path[] = "/tmp/ccc-test-base-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    const char msg[] = "hello, bounded world";
    assert_int_equal(ccc_file_write(path, msg, sizeof msg), CCC_OK);
    ccc_buf b;
    ccc_buf_init(&b, 1024);
    assert_int_equal(ccc_file_read(path, &b), CCC_OK);
    assert_int_equal(b.size, sizeof msg);
    assert_memory_equal(b.data, msg, sizeof msg);
    ccc_buf_wipe(&b);
    ccc_buf_init(&b, 4); /* too small: refused before reading */
    assert_int_equal(ccc_file_read(path, &b), CCC_ERR_LIMIT);
    assert_int_equal(b.size, 0);
    ccc_buf_wipe(&b);
    unlink(path);
    ccc_buf_init(&b, 1024);
    assert_int_equal(ccc_file_read(path, &b), CCC_ERR_NOT_FOUND);
    assert_int_equal(ccc_file_read("/tmp", &b), CCC_ERR_USAGE);
    ccc_buf_wipe(&b);
}

static void mkdir_p_makes_parents(void **state)
{
    (void)state;
    char root[] = "/tmp/ccc-test-mkdir-XXXXXX";
    assert_non_null(mkdtemp(root));
    char deep[256], file[256], below_file[300];
    snprintf(deep, sizeof deep, "%s/a/b/c", root);
    assert_int_equal(ccc_mkdir_p(deep, 0700), CCC_OK);
    struct stat st;
    assert_int_equal(stat(deep, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(ccc_mkdir_p(deep, 0700), CCC_OK); /* again: fine */
    snprintf(file, sizeof file, "%s/f", root);
    assert_int_equal(ccc_file_write(file, "x", 1), CCC_OK);
    snprintf(below_file, sizeof below_file, "%s/g", file);
    assert_int_equal(ccc_mkdir_p(below_file, 0700), CCC_ERR_IO); /* a file in the way */
    assert_int_equal(ccc_mkdir_p("", 0700), CCC_ERR_LIMIT);
    unlink(file);
    char rm[300];
    snprintf(rm, sizeof rm, "%s/a/b/c", root), rmdir(rm);
    snprintf(rm, sizeof rm, "%s/a/b", root), rmdir(rm);
    snprintf(rm, sizeof rm, "%s/a", root), rmdir(rm);
    rmdir(root);
}

static void harden_disables_core_dumps(void **state)
{
    (void)state;
    ccc_process_harden();
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_CORE, &rl), 0);
    assert_int_equal(rl.rlim_cur, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reader_reads_in_bounds_and_refuses_past_end),
        cmocka_unit_test(reader_failed_read_leaves_cursor),
        cmocka_unit_test(buf_grows_to_cap_and_no_further),
        cmocka_unit_test(secret_buf_wipes_on_reset),
        cmocka_unit_test(secret_alloc_is_zeroed_and_page_aligned),
        cmocka_unit_test(ct_equal_compares),
        cmocka_unit_test(errors_carry_class_detail_and_location),
        cmocka_unit_test(hex_round_trip_and_errors),
        cmocka_unit_test(file_write_then_read_with_cap),
        cmocka_unit_test(mkdir_p_makes_parents),
        cmocka_unit_test(harden_disables_core_dumps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
