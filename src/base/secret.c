/* Secret memory and process hardening. Page-aligned so that mlock and
 * madvise(MADV_DONTDUMP) cover exactly the secret's pages. */
#include "base/base.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

ccc_status ccc_sha256(ccc_bytes data, uint8_t out[static 32])
{
    unsigned int n = 0;
    if (EVP_Digest(data.ptr ? data.ptr : (const uint8_t *)"", data.size, out, &n, EVP_sha256(),
                   NULL) != 1 ||
        n != 32)
        CCC_BAIL(CCC_ERR_INTERNAL, "SHA-256 failed");
    return CCC_OK;
}

void ccc_wipe(void *p, size_t size)
{
    if (p && size)
        OPENSSL_cleanse(p, size);
}

bool ccc_ct_equal(const void *a, const void *b, size_t size)
{
    return CRYPTO_memcmp(a, b, size) == 0;
}

static size_t page_size(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (size_t)ps : 4096;
}

static size_t rounded(size_t size)
{
    size_t ps = page_size();
    if (size == 0)
        size = 1;
    if (size > SIZE_MAX - ps)
        return 0;
    return (size + ps - 1) / ps * ps;
}

void *ccc_secret_alloc(size_t size)
{
    size_t span = rounded(size);
    void *p = NULL;
    if (span == 0 || posix_memalign(&p, page_size(), span) != 0)
        return NULL;
    memset(p, 0, span);
    (void)mlock(p, span); /* best effort: RLIMIT_MEMLOCK may forbid it */
    (void)madvise(p, span, MADV_DONTDUMP);
    return p;
}

void ccc_secret_free(void *p, size_t size)
{
    if (!p)
        return;
    size_t span = rounded(size);
    OPENSSL_cleanse(p, span);
    (void)madvise(p, span, MADV_DODUMP);
    (void)munlock(p, span);
    free(p);
}

void ccc_process_harden(void)
{
    struct rlimit none = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &none);
    (void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
