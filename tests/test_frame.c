/* frame: header checks, every truncation, oversize, byte-by-byte feeding,
 * many frames in one buffer, poisoning, socketpair round trips. */
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frame/frame.h"
#include "testutil.h"

static const ccc_frame_type all_types[] = {
    CCC_FRAME_PING,
    CCC_FRAME_PONG,
    CCC_FRAME_JOB_REQUEST,
    CCC_FRAME_JOB_RESULT,
    CCC_FRAME_JOB_ERROR,
    CCC_FRAME_ATTEST_REQUEST,
    CCC_FRAME_ATTEST_RESPONSE,
    CCC_FRAME_KEY_REQUEST,
    CCC_FRAME_KEY_RESPONSE,
};
#define TYPE_COUNT (sizeof all_types / sizeof all_types[0])

static void header(uint8_t h[8], unsigned type, unsigned flags, unsigned reserved, uint32_t len)
{
    h[0] = (uint8_t)type;
    h[1] = (uint8_t)flags;
    h[2] = (uint8_t)(reserved >> 8);
    h[3] = (uint8_t)reserved;
    h[4] = (uint8_t)(len >> 24);
    h[5] = (uint8_t)(len >> 16);
    h[6] = (uint8_t)(len >> 8);
    h[7] = (uint8_t)len;
}

static void encode_layout_is_documented(void **state)
{
    (void)state;
    ccc_buf b;
    ccc_buf_init(&b, 1024);
    const uint8_t body[] = {0xde, 0xad, 0xbe};
    assert_int_equal(ccc_frame_encode(CCC_FRAME_JOB_ERROR, ccc_bytes_of(body, 3), &b), CCC_OK);
    const uint8_t want[] = {0x12, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe};
    assert_int_equal(b.size, sizeof want);
    assert_memory_equal(b.data, want, sizeof want);
    /* empty body */
    ccc_buf_reset(&b);
    assert_int_equal(ccc_frame_encode(CCC_FRAME_PING, ccc_bytes_of(NULL, 0), &b), CCC_OK);
    assert_int_equal(b.size, 8);
    ccc_buf_wipe(&b);
}

static void header_limits_per_type(void **state)
{
    (void)state;
    for (size_t i = 0; i < TYPE_COUNT; i++) {
        size_t max = ccc_frame_type_max_size(all_types[i]);
        assert_true(max > 0 && max <= CCC_FRAME_MAX_BODY_SIZE);
        assert_string_not_equal(ccc_frame_type_name(all_types[i]), "unknown");
        uint8_t h[8];
        ccc_frame_header out;
        header(h, all_types[i], 0, 0, (uint32_t)max);
        assert_int_equal(ccc_frame_header_parse(h, &out), CCC_OK);
        assert_int_equal(out.type, all_types[i]);
        assert_int_equal(out.length, max);
        header(h, all_types[i], 0, 0, (uint32_t)max + 1);
        assert_int_equal(ccc_frame_header_parse(h, &out), CCC_ERR_LIMIT);
        header(h, all_types[i], 0, 0, UINT32_MAX);
        assert_int_equal(ccc_frame_header_parse(h, &out), CCC_ERR_LIMIT);
    }
    assert_int_equal(ccc_frame_type_max_size(CCC_FRAME_JOB_REQUEST), 17u << 20);
    assert_true(ccc_frame_type_max_size(CCC_FRAME_PING) <= 8);
}

static void header_refuses_unknown_types_and_reserved_bits(void **state)
{
    (void)state;
    uint8_t h[8];
    ccc_frame_header out;
    int known = 0;
    for (unsigned t = 0; t < 256; t++) {
        header(h, t, 0, 0, 0);
        ccc_status st = ccc_frame_header_parse(h, &out);
        if (ccc_frame_type_max_size(t)) {
            assert_int_equal(st, CCC_OK);
            known++;
        } else {
            assert_int_equal(st, CCC_ERR_PARSE);
            assert_int_equal(strncmp(ccc_error_detail(), "unknown frame type ", 19), 0);
        }
    }
    assert_int_equal(known, TYPE_COUNT);
    for (unsigned bit = 0; bit < 8; bit++) {
        header(h, CCC_FRAME_PING, 1u << bit, 0, 0);
        assert_int_equal(ccc_frame_header_parse(h, &out), CCC_ERR_PARSE);
    }
    for (unsigned bit = 0; bit < 16; bit++) {
        header(h, CCC_FRAME_PING, 0, 1u << bit, 0);
        assert_int_equal(ccc_frame_header_parse(h, &out), CCC_ERR_PARSE);
    }
}

static void encode_refuses_oversize_and_unknown(void **state)
{
    (void)state;
    ccc_buf b;
    ccc_buf_init(&b, 1u << 20);
    uint8_t big[9] = {0};
    assert_int_equal(ccc_frame_encode(CCC_FRAME_PING, ccc_bytes_of(big, 9), &b), CCC_ERR_LIMIT);
    assert_int_equal(ccc_frame_encode((ccc_frame_type)0x7f, ccc_bytes_of(big, 1), &b),
                     CCC_ERR_USAGE);
    assert_int_equal(b.size, 0);
    assert_int_equal(ccc_frame_write(-1, CCC_FRAME_PING, ccc_bytes_of(big, 9)), CCC_ERR_LIMIT);
    ccc_buf_wipe(&b);
}

/* A buffer of several frames of different types and sizes. */
static void build_stream(ccc_buf *s, size_t n)
{
    ccc_buf_init(s, 1u << 20);
    uint8_t body[300];
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < n; i++) {
        ccc_frame_type t = (i % 3 == 0)   ? CCC_FRAME_PING
                           : (i % 3 == 1) ? CCC_FRAME_JOB_REQUEST
                                          : CCC_FRAME_JOB_ERROR;
        size_t len = (t == CCC_FRAME_PING) ? i % 9 : (i * 37) % sizeof body;
        assert_int_equal(ccc_frame_encode(t, ccc_bytes_of(body, len), s), CCC_OK);
    }
}

/* Feed `s` in chunks of `chunk` bytes; check each frame against a re-encode. */
static void feed_and_check(const ccc_buf *s, size_t chunk, size_t expect_frames)
{
    ccc_frame_decoder d;
    ccc_frame_decoder_init(&d, chunk % 2 == 0);
    ccc_buf re;
    ccc_buf_init(&re, 1u << 20);
    size_t frames = 0, off = 0;
    while (off < s->size) {
        size_t n = s->size - off < chunk ? s->size - off : chunk;
        size_t pos = 0;
        while (pos < n) {
            size_t used = 0;
            bool ready = false;
            assert_int_equal(
                ccc_frame_decoder_feed(&d, s->data + off + pos, n - pos, &used, &ready), CCC_OK);
            assert_true(used > 0 || ready);
            pos += used;
            if (ready) {
                ccc_frame f = ccc_frame_decoder_frame(&d);
                assert_int_equal(ccc_frame_encode(f.type, f.body, &re), CCC_OK);
                frames++;
            }
        }
        off += n;
    }
    assert_true(ccc_frame_decoder_idle(&d));
    assert_int_equal(frames, expect_frames);
    assert_int_equal(re.size, s->size);
    assert_memory_equal(re.data, s->data, s->size);
    ccc_buf_wipe(&re);
    ccc_frame_decoder_wipe(&d);
}

static void decoder_many_frames_any_chunking(void **state)
{
    (void)state;
    ccc_buf s;
    build_stream(&s, 40);
    const size_t chunks[] = {1, 2, 3, 7, 8, 9, 64, 1000, 1u << 20};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++)
        feed_and_check(&s, chunks[i], 40);
    ccc_buf_wipe(&s);
}

/* Every prefix of a stream leaves the last frame pending, never an error. */
static void decoder_every_truncation_stays_pending(void **state)
{
    (void)state;
    ccc_buf s;
    build_stream(&s, 4);
    /* frame boundaries */
    size_t bounds[5] = {0};
    {
        ccc_reader r;
        ccc_reader_init(&r, s.data, s.size);
        for (int i = 0; i < 4; i++) {
            ccc_bytes h;
            assert_int_equal(ccc_reader_bytes(&r, 8, &h), CCC_OK);
            uint32_t len = (uint32_t)h.ptr[4] << 24 | (uint32_t)h.ptr[5] << 16 |
                           (uint32_t)h.ptr[6] << 8 | h.ptr[7];
            assert_int_equal(ccc_reader_skip(&r, len), CCC_OK);
            bounds[i + 1] = r.pos;
        }
    }
    for (size_t cut = 0; cut <= s.size; cut++) {
        ccc_frame_decoder d;
        ccc_frame_decoder_init(&d, false);
        size_t pos = 0, frames = 0;
        while (pos < cut) {
            size_t used;
            bool ready;
            assert_int_equal(ccc_frame_decoder_feed(&d, s.data + pos, cut - pos, &used, &ready),
                             CCC_OK);
            pos += used;
            frames += ready;
        }
        size_t complete = 0;
        for (int i = 1; i <= 4; i++)
            complete += bounds[i] <= cut;
        assert_int_equal(frames, complete);
        bool at_boundary = false;
        for (int i = 0; i <= 4; i++)
            at_boundary |= bounds[i] == cut;
        assert_int_equal(ccc_frame_decoder_idle(&d), at_boundary);
        ccc_frame_decoder_wipe(&d);
    }
    ccc_buf_wipe(&s);
}

static void decoder_poisoned_by_bad_header(void **state)
{
    (void)state;
    uint8_t cases[4][8];
    header(cases[0], 0x7f, 0, 0, 0);                                /* unknown type */
    header(cases[1], CCC_FRAME_PING, 0x80, 0, 0);                   /* flag bit */
    header(cases[2], CCC_FRAME_PING, 0, 1, 0);                      /* reserved */
    header(cases[3], CCC_FRAME_JOB_REQUEST, 0, 0, (17u << 20) + 1); /* oversize */
    const ccc_status want[4] = {CCC_ERR_PARSE, CCC_ERR_PARSE, CCC_ERR_PARSE, CCC_ERR_LIMIT};
    for (int c = 0; c < 4; c++) {
        for (size_t chunk = 1; chunk <= 8; chunk++) {
            ccc_frame_decoder d;
            ccc_frame_decoder_init(&d, false);
            /* a good frame first: must come out intact */
            uint8_t good[8 + 2];
            header(good, CCC_FRAME_PONG, 0, 0, 2);
            good[8] = 'o';
            good[9] = 'k';
            size_t used;
            bool ready;
            assert_int_equal(ccc_frame_decoder_feed(&d, good, sizeof good, &used, &ready), CCC_OK);
            assert_true(ready);
            assert_int_equal(used, sizeof good);
            size_t pos = 0;
            ccc_status st = CCC_OK;
            while (pos < 8 && st == CCC_OK) {
                size_t n = 8 - pos < chunk ? 8 - pos : chunk;
                st = ccc_frame_decoder_feed(&d, cases[c] + pos, n, &used, &ready);
                assert_false(ready);
                pos += used;
            }
            assert_int_equal(st, want[c]);
            assert_false(ccc_frame_decoder_idle(&d));
            /* every later feed fails the same way, consuming nothing */
            assert_int_equal(ccc_frame_decoder_feed(&d, good, sizeof good, &used, &ready), want[c]);
            assert_int_equal(used, 0);
            assert_false(ready);
            ccc_frame_decoder_wipe(&d);
        }
    }
}

/* Oversize is refused from the header alone: no body byte is buffered. */
static void decoder_oversize_allocates_nothing(void **state)
{
    (void)state;
    ccc_frame_decoder d;
    ccc_frame_decoder_init(&d, false);
    uint8_t h[8];
    header(h, CCC_FRAME_PING, 0, 0, 9);
    size_t used;
    bool ready;
    assert_int_equal(ccc_frame_decoder_feed(&d, h, 8, &used, &ready), CCC_ERR_LIMIT);
    assert_null(d.body.data);
    ccc_frame_decoder_wipe(&d);
    /* A large announced body grows only with the bytes that arrive. */
    ccc_frame_decoder_init(&d, false);
    header(h, CCC_FRAME_JOB_REQUEST, 0, 0, 17u << 20);
    assert_int_equal(ccc_frame_decoder_feed(&d, h, 8, &used, &ready), CCC_OK);
    uint8_t some[100] = {0};
    assert_int_equal(ccc_frame_decoder_feed(&d, some, sizeof some, &used, &ready), CCC_OK);
    assert_false(ready);
    assert_true(d.body.capacity < 1u << 20);
    ccc_frame_decoder_wipe(&d);
}

static void socketpair_round_trip(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    /* 1 MiB body: larger than the socket buffer, so the writer must loop. */
    size_t big = 1u << 20;
    uint8_t *body = malloc(big);
    assert_non_null(body);
    for (size_t i = 0; i < big; i++)
        body[i] = (uint8_t)(i * 31 + 5);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        int ok = ccc_frame_write(sv[1], CCC_FRAME_PING, ccc_bytes_of("12345678", 8)) == CCC_OK &&
                 ccc_frame_write(sv[1], CCC_FRAME_JOB_REQUEST, ccc_bytes_of(body, big)) == CCC_OK &&
                 ccc_frame_write(sv[1], CCC_FRAME_JOB_ERROR, ccc_bytes_of(NULL, 0)) == CCC_OK;
        /* then half a frame, then close */
        uint8_t h[8];
        header(h, CCC_FRAME_JOB_RESULT, 0, 0, 10);
        ok = ok && write(sv[1], h, 8) == 8 && write(sv[1], "abc", 3) == 3;
        _exit(ok ? 0 : 1);
    }
    close(sv[1]);
    ccc_buf b;
    ccc_buf_init(&b, CCC_FRAME_MAX_BODY_SIZE);
    ccc_frame_type t;
    assert_int_equal(ccc_frame_read(sv[0], &t, &b), CCC_OK);
    assert_int_equal(t, CCC_FRAME_PING);
    assert_int_equal(b.size, 8);
    assert_memory_equal(b.data, "12345678", 8);
    assert_int_equal(ccc_frame_read(sv[0], &t, &b), CCC_OK);
    assert_int_equal(t, CCC_FRAME_JOB_REQUEST);
    assert_int_equal(b.size, big);
    assert_memory_equal(b.data, body, big);
    assert_int_equal(ccc_frame_read(sv[0], &t, &b), CCC_OK);
    assert_int_equal(t, CCC_FRAME_JOB_ERROR);
    assert_int_equal(b.size, 0);
    assert_int_equal(ccc_frame_read(sv[0], &t, &b), CCC_ERR_IO);
    assert_string_equal(ccc_error_detail(), "connection closed mid-frame");
    assert_int_equal(b.size, 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(sv[0]);
    free(body);
    ccc_buf_wipe(&b);
}

static void read_clean_eof_and_bad_headers(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    ccc_buf b;
    ccc_buf_init(&b, 1024);
    ccc_frame_type t;
    int sv[2];
    /* clean close between frames */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[1]);
    assert_int_equal(ccc_frame_read(sv[0], &t, &b), CCC_ERR_NOT_FOUND);
    close(sv[0]);
    /* every truncated header: EOF inside the header is an I/O error */
    for (size_t cut = 1; cut < 8; cut++) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        uint8_t h[8];
        header(h, CCC_FRAME_PING, 0, 0, 0);
        assert_int_equal(write(sv[1], h, cut), (ssize_t)cut);
        close(sv[1]);
        assert_int_equal(ccc_frame_read(sv[0], &t, &b), CCC_ERR_IO);
        close(sv[0]);
    }
    /* bad header, and a body larger than the caller's cap */
    const struct {
        unsigned type, flags;
        uint32_t len;
        ccc_status want;
    } bad[] = {
        {0x00, 0, 0, CCC_ERR_PARSE},
        {CCC_FRAME_PING, 1, 0, CCC_ERR_PARSE},
        {CCC_FRAME_PING, 0, 9, CCC_ERR_LIMIT},
        {CCC_FRAME_JOB_REQUEST, 0, 2048, CCC_ERR_LIMIT}, /* cap is 1024 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        uint8_t h[8];
        header(h, bad[i].type, bad[i].flags, 0, bad[i].len);
        assert_int_equal(write(sv[1], h, 8), 8);
        assert_int_equal(ccc_frame_read(sv[0], &t, &b), bad[i].want);
        close(sv[0]);
        close(sv[1]);
    }
    /* writing to a closed peer is an error, not SIGPIPE */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[0]);
    assert_int_equal(ccc_frame_write(sv[1], CCC_FRAME_PING, ccc_bytes_of(NULL, 0)), CCC_ERR_IO);
    close(sv[1]);
    /* a pipe works through the write() fallback */
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(ccc_frame_write(p[1], CCC_FRAME_PONG, ccc_bytes_of("x", 1)), CCC_OK);
    close(p[1]);
    assert_int_equal(ccc_frame_read(p[0], &t, &b), CCC_OK);
    assert_int_equal(t, CCC_FRAME_PONG);
    assert_int_equal(b.size, 1);
    close(p[0]);
    ccc_buf_wipe(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(encode_layout_is_documented),
        cmocka_unit_test(header_limits_per_type),
        cmocka_unit_test(header_refuses_unknown_types_and_reserved_bits),
        cmocka_unit_test(encode_refuses_oversize_and_unknown),
        cmocka_unit_test(decoder_many_frames_any_chunking),
        cmocka_unit_test(decoder_every_truncation_stays_pending),
        cmocka_unit_test(decoder_poisoned_by_bad_header),
        cmocka_unit_test(decoder_oversize_allocates_nothing),
        cmocka_unit_test(socketpair_round_trip),
        cmocka_unit_test(read_clean_eof_and_bad_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
