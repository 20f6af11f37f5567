/*
 * Small helpers shared by the test binaries (header-only, cmocka-based).
 *   test_path("tests/vectors/x")  absolute path under the repository
 *   test_read_file(path, &buf)    whole file into a ccc_buf, or fail the test
 */
#ifndef CCC_TESTUTIL_H
#define CCC_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"

static inline const char *test_source_dir(void)
{
    const char *d = getenv("CCC_SOURCE_DIR");
    return d ? d : CCC_SOURCE_DIR;
}

/* Absolute path of a repository-relative file, in a rotating static buffer. */
static inline const char *test_path(const char *rel)
{
    static char bufs[8][4096];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", test_source_dir(), rel);
    return b;
}

static inline void test_read_file(const char *path, ccc_buf *out)
{
    ccc_buf_init(out, 256u << 20);
    if (ccc_file_read(path, out) != CCC_OK) {
        fail_msg("cannot read %s: %s", path, ccc_error_detail());
    }
}

/* Decode a hex string into a freshly malloc'ed buffer (test-only helper). */
static inline uint8_t *test_unhex(const char *hex, size_t *size)
{
    size_t cap = strlen(hex) / 2 + 1;
    uint8_t *out = malloc(cap);
    assert_non_null(out);
    assert_int_equal(ccc_hex_decode(hex, out, cap, size), CCC_OK);
    return out;
}

/* True if all `size` bytes at p are zero (wiping checks). */
static inline bool test_all_zero(const void *p, size_t size)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < size; i++)
        if (b[i])
            return false;
    return true;
}

#endif /* CCC_TESTUTIL_H */
