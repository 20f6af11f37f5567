/*
 * base — the ground every other module stands on.
 *
 *   errors   one must-use status type: an error *class* plus a detail string
 *            kept per thread. Details are string literals (optionally with one
 *            number), so an error can never carry payload bytes.
 *   reader   a bounded cursor over untrusted bytes. Every parser reads through
 *            it; a read past the end is an error, never an overrun.
 *   buf      an owned, growable byte buffer with a hard cap. Secret buffers
 *            wipe on every reallocation and on free.
 *   secret   memory for keys: wiped on free, mlock'ed where allowed, kept out
 *            of core dumps (MADV_DONTDUMP); constant-time comparison.
 *
 * Naming grammar (the whole project): ccc_<module>_<object>_<verb>.
 * Lifecycle verbs: init/wipe for caller-owned structs, new/free for heap
 * objects. "size" counts bytes, "count" counts elements.
 */
#ifndef CCC_BASE_H
#define CCC_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CCC_MUST_USE __attribute__((warn_unused_result))

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * Error classes. One table (ccc_status_exit_code, ccc_status_http_status)
 * maps each class to a CLI exit code and an HTTP status.
 */
typedef enum ccc_status {
    CCC_OK = 0,
    CCC_ERR_USAGE,       /* caller or user asked for something invalid      */
    CCC_ERR_IO,          /* file, socket or process failure                  */
    CCC_ERR_PARSE,       /* malformed or truncated untrusted input           */
    CCC_ERR_LIMIT,       /* input exceeds a hard limit                       */
    CCC_ERR_UNSUPPORTED, /* well-formed, but an algorithm/version we refuse  */
    CCC_ERR_CRYPTO,      /* authentication, signature or key failure         */
    CCC_ERR_POLICY,      /* verified, but the policy says no                 */
    CCC_ERR_REPLAY,      /* seen before: nonce, job id, sequence number      */
    CCC_ERR_NOT_FOUND,   /* no such job, key id or file                      */
    CCC_ERR_BUSY,        /* try again later (rate limit, queue full)         */
    CCC_ERR_NOMEM,       /* allocation failed                                */
    CCC_ERR_INTERNAL,    /* a bug or an unexpected library failure           */
    CCC_STATUS_COUNT
} ccc_status;

/* Short stable name of a class ("parse", "crypto", ...), for logs and JSON. */
const char *ccc_status_name(ccc_status st);
/* Process exit code for a class (0 for CCC_OK). */
int ccc_status_exit_code(ccc_status st);
/* HTTP status for a class (200 for CCC_OK). */
int ccc_status_http_status(ccc_status st);

/*
 * Record an error for this thread and return its class. `detail` must be a
 * string literal (the macros below enforce that); `num` is printed after it
 * when has_num is true. Use the macros, not this function.
 */
ccc_status ccc_error_raise(ccc_status st, const char *detail, bool has_num,
                           long long num, const char *file, int line);

/* The last error recorded on this thread. */
ccc_status ccc_error_last(void);
/* "detail" or "detail N" of the last error; never NULL, never payload. */
const char *ccc_error_detail(void);
/* "file.c:123" of the last error, for debugging. */
const char *ccc_error_where(void);
/* Forget the last error. */
void ccc_error_clear(void);

/* Raise `st` with a literal detail and return it. */
#define CCC_BAIL(st, detail) \
    return ccc_error_raise((st), "" detail "", false, 0, __FILE__, __LINE__)
/* Same, with one number appended to the detail ("PCR mismatch at index 3"). */
#define CCC_BAIL_NUM(st, detail, n)                                              \
    return ccc_error_raise((st), "" detail "", true, (long long)(n), __FILE__, \
                           __LINE__)
/* Return `st` with `detail` unless `cond` holds. */
#define CCC_ENSURE(cond, st, detail)  \
    do {                              \
        if (!(cond))                  \
            CCC_BAIL((st), detail);   \
    } while (0)
/* Propagate a failing status. */
#define CCC_GUARD(expr)                     \
    do {                                    \
        ccc_status guard_st_ = (expr);      \
        if (guard_st_ != CCC_OK)            \
            return guard_st_;               \
    } while (0)

/*
 * The goto-out forms, for functions with cleanup. They assume a local
 * `ccc_status st` and a label `out:` (one exit, one cleanup block).
 */
#define CCC_TRY(expr)           \
    do {                        \
        st = (expr);            \
        if (st != CCC_OK)       \
            goto out;           \
    } while (0)
#define CCC_FAIL(code, detail)                                                \
    do {                                                                      \
        st = ccc_error_raise((code), "" detail "", false, 0, __FILE__,        \
                             __LINE__);                                       \
        goto out;                                                             \
    } while (0)
#define CCC_FAIL_NUM(code, detail, n)                                         \
    do {                                                                      \
        st = ccc_error_raise((code), "" detail "", true, (long long)(n),      \
                             __FILE__, __LINE__);                             \
        goto out;                                                             \
    } while (0)
#define CCC_CHECK(cond, code, detail)   \
    do {                                \
        if (!(cond))                    \
            CCC_FAIL((code), detail);   \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Borrowed byte views                                                       */
/* ------------------------------------------------------------------------ */

/* A borrowed, read-only view of bytes. Never owns; never freed. */
typedef struct ccc_bytes {
    const uint8_t *ptr;
    size_t size;
} ccc_bytes;

static inline ccc_bytes ccc_bytes_of(const void *ptr, size_t size)
{
    ccc_bytes b = {(const uint8_t *)ptr, size};
    return b;
}

/* ------------------------------------------------------------------------ */
/* Bounded reader                                                            */
/* ------------------------------------------------------------------------ */

/*
 * A read cursor over untrusted bytes it does not own. Invariant:
 * pos <= size. Every read either succeeds completely or returns
 * CCC_ERR_PARSE ("truncated input") and leaves the cursor unchanged.
 */
typedef struct ccc_reader {
    const uint8_t *data;
    size_t size;
    size_t pos;
} ccc_reader;

void ccc_reader_init(ccc_reader *r, const uint8_t *data, size_t size);
size_t ccc_reader_remaining(const ccc_reader *r);
bool ccc_reader_done(const ccc_reader *r);
CCC_MUST_USE ccc_status ccc_reader_u8(ccc_reader *r, uint8_t *out);
CCC_MUST_USE ccc_status ccc_reader_be16(ccc_reader *r, uint16_t *out);
CCC_MUST_USE ccc_status ccc_reader_be32(ccc_reader *r, uint32_t *out);
CCC_MUST_USE ccc_status ccc_reader_be64(ccc_reader *r, uint64_t *out);
/* Borrow the next `size` bytes (points into the reader's data). */
CCC_MUST_USE ccc_status ccc_reader_bytes(ccc_reader *r, size_t size,
                                         ccc_bytes *out);
/* Copy the next `size` bytes into `out`. */
CCC_MUST_USE ccc_status ccc_reader_copy(ccc_reader *r, void *out, size_t size);
/* Carve the next `size` bytes off as an independent sub-reader. */
CCC_MUST_USE ccc_status ccc_reader_sub(ccc_reader *r, size_t size,
                                       ccc_reader *sub);
/* Skip `size` bytes. */
CCC_MUST_USE ccc_status ccc_reader_skip(ccc_reader *r, size_t size);
/* Everything not yet read, without consuming it. */
ccc_bytes ccc_reader_rest(const ccc_reader *r);
/* CCC_OK when the reader is exhausted, CCC_ERR_PARSE ("trailing bytes") if not. */
CCC_MUST_USE ccc_status ccc_reader_expect_done(const ccc_reader *r);

/* ------------------------------------------------------------------------ */
/* Owned, capped, growable buffer                                            */
/* ------------------------------------------------------------------------ */

/*
 * Owns `data`. Grows on demand up to `max_size` bytes; growing past it is
 * CCC_ERR_LIMIT. A buffer made with ccc_buf_init_secret holds secrets: its
 * memory is locked and excluded from core dumps, every old block is wiped
 * before release, and ccc_buf_wipe/ccc_buf_reset zero it.
 */
typedef struct ccc_buf {
    uint8_t *data;
    size_t size;     /* bytes in use */
    size_t capacity; /* bytes allocated */
    size_t max_size; /* hard cap on size */
    bool secret;
} ccc_buf;

void ccc_buf_init(ccc_buf *b, size_t max_size);
void ccc_buf_init_secret(ccc_buf *b, size_t max_size);
/* Free (wiping first if secret). The buffer is empty and reusable after. */
void ccc_buf_wipe(ccc_buf *b);
/* Set size to 0, keep the allocation (wiping contents if secret). */
void ccc_buf_reset(ccc_buf *b);
CCC_MUST_USE ccc_status ccc_buf_reserve(ccc_buf *b, size_t extra);
CCC_MUST_USE ccc_status ccc_buf_append(ccc_buf *b, const void *data,
                                       size_t size);
CCC_MUST_USE ccc_status ccc_buf_append_bytes(ccc_buf *b, ccc_bytes bytes);
CCC_MUST_USE ccc_status ccc_buf_u8(ccc_buf *b, uint8_t v);
CCC_MUST_USE ccc_status ccc_buf_be16(ccc_buf *b, uint16_t v);
CCC_MUST_USE ccc_status ccc_buf_be32(ccc_buf *b, uint32_t v);
CCC_MUST_USE ccc_status ccc_buf_be64(ccc_buf *b, uint64_t v);
/* Grow by `size` bytes and return a pointer to the new (uninitialised) tail. */
CCC_MUST_USE ccc_status ccc_buf_extend(ccc_buf *b, size_t size, uint8_t **tail);
static inline ccc_bytes ccc_buf_bytes(const ccc_buf *b)
{
    return ccc_bytes_of(b->data, b->size);
}

/* ------------------------------------------------------------------------ */
/* Secrets                                                                   */
/* ------------------------------------------------------------------------ */

/* Zero memory in a way the compiler cannot elide (OPENSSL_cleanse). */
void ccc_wipe(void *p, size_t size);
/* Constant-time equality of two equal-length byte strings (CRYPTO_memcmp). */
bool ccc_ct_equal(const void *a, const void *b, size_t size);
/*
 * Allocate `size` zeroed bytes for secrets: page-aligned, mlock'ed where the
 * RLIMIT_MEMLOCK allows (silently unlocked otherwise), MADV_DONTDUMP.
 * Returns NULL on allocation failure. Free with ccc_secret_free(p, size).
 */
void *ccc_secret_alloc(size_t size);
/* Wipe, unlock and free memory from ccc_secret_alloc. NULL is fine. */
void ccc_secret_free(void *p, size_t size);
/*
 * Process-wide hardening for programs that handle secrets: no core dumps
 * (RLIMIT_CORE 0, PR_SET_DUMPABLE 0). Call first thing in main.
 */
void ccc_process_harden(void);
/* The daemons' standard options: for "--help"/"-h" print `usage` to stdout,
 * for "--version" print "<program> <version>"; true if `arg` was one of them
 * (the caller exits 0). */
bool ccc_program_std_option(const char *arg, const char *program, const char *usage);

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------ */

/* Lower-case hex of `size` bytes into `out` (2*size+1 bytes, NUL-terminated). */
void ccc_hex_encode(const uint8_t *in, size_t size, char *out);
/*
 * Decode hex (either case, no separators) into `out`. Fails with
 * CCC_ERR_PARSE on odd length or non-hex characters, CCC_ERR_LIMIT if the
 * result would exceed out_max. `*out_size` receives the decoded size.
 */
CCC_MUST_USE ccc_status ccc_hex_decode(const char *hex, uint8_t *out,
                                       size_t out_max, size_t *out_size);
/* Read a whole file into `out` (appended), refusing files over out->max_size. */
CCC_MUST_USE ccc_status ccc_file_read(const char *path, ccc_buf *out);
/* Write all `size` bytes to a descriptor, retrying short writes and EINTR. */
CCC_MUST_USE ccc_status ccc_fd_write_all(int fd, const void *data, size_t size);
/* True if an IPv4 TCP port cannot be bound because something listens on
 * it (EADDRINUSE); a probe (bind, close) for clear start-up errors. */
bool ccc_tcp_port_in_use(const char *ipv4, uint16_t port);
/* mkdir -p: create `path` and any missing parents (new ones with `mode`).
 * CCC_ERR_LIMIT for a path over 4095 bytes, CCC_ERR_IO if one cannot be made. */
CCC_MUST_USE ccc_status ccc_mkdir_p(const char *path, unsigned mode);
/* Write `size` bytes to `path` atomically (temp file + rename), mode 0600. */
CCC_MUST_USE ccc_status ccc_file_write(const char *path, const void *data,
                                       size_t size);
/* SHA-256 of `data` (NULL with size 0 is the empty string). CCC_ERR_INTERNAL
 * if OpenSSL fails, so a caller never uses an uninitialised digest. */
CCC_MUST_USE ccc_status ccc_sha256(ccc_bytes data, uint8_t out[static 32]);
/* Monotonic clock in nanoseconds (durations). */
uint64_t ccc_now_ns(void);
/* Wall-clock time in milliseconds since the Unix epoch (timestamps). */
uint64_t ccc_wall_ms(void);

#endif /* CCC_BASE_H */
