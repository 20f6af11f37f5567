/*
 * image: JPEG/PNG decoding to RGB8, limits before allocation, every
 * truncation, garbage, colour conversions.
 *
 * Test images are made here with libpng's and libjpeg's encoders, so each
 * conversion case (grey, palette, tRNS, 16-bit, alpha, interlace,
 * progressive, CMYK) is exact and self-describing; the sample photos from
 * data/samples (scripts/setup) are decoded too.
 */
#include <setjmp.h>
#include <stdio.h>

#include <jpeglib.h>
#include <png.h>

#include "testutil.h"

#include "image/image.h"

/* ------------------------------------------------------------------------ */
/* Encoders (test-only)                                                      */
/* ------------------------------------------------------------------------ */

static void png_write_to_buf(png_structp png, png_bytep data, size_t size)
{
    ccc_buf *b = png_get_io_ptr(png);
    if (ccc_buf_append(b, data, size) != CCC_OK)
        png_error(png, "buffer full");
}

static void png_flush_nop(png_structp png)
{
    (void)png;
}

typedef struct png_spec {
    uint32_t w, h;
    int color;       /* PNG_COLOR_TYPE_* */
    int depth;       /* 1, 2, 4, 8, 16 */
    bool interlace;
    bool trns;       /* palette: entry 1 transparent; grey/rgb: value 0 */
} png_spec;

static int spec_channels(int color)
{
    switch (color) {
    case PNG_COLOR_TYPE_GRAY:
    case PNG_COLOR_TYPE_PALETTE:
        return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
        return 2;
    case PNG_COLOR_TYPE_RGB:
        return 3;
    default:
        return 4;
    }
}

/* The sample value (before any scaling) of channel ch at (x, y). */
static unsigned sample_at(const png_spec *s, uint32_t x, uint32_t y, int ch)
{
    unsigned max = (1u << s->depth) - 1;
    return (x * 37u + y * 101u + (unsigned)ch * 59u + x * y) % (max + 1);
}

/* Palette entry i: a colour we can predict. */
static void palette_rgb(unsigned i, uint8_t rgb[3])
{
    rgb[0] = (uint8_t)(i * 3 + 1);
    rgb[1] = (uint8_t)(255 - i);
    rgb[2] = (uint8_t)(i * 7);
}

static void make_png(const png_spec *s, ccc_buf *out)
{
    ccc_buf_init(out, 64u << 20);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_non_null(info);
    if (setjmp(png_jmpbuf(png)))
        fail_msg("libpng write failed");
    png_set_write_fn(png, out, png_write_to_buf, png_flush_nop);
    png_set_IHDR(png, info, s->w, s->h, s->depth, s->color,
                 s->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (s->color == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[256];
        for (unsigned i = 0; i < 256; i++) {
            uint8_t c[3];
            palette_rgb(i, c);
            pal[i].red = c[0], pal[i].green = c[1], pal[i].blue = c[2];
        }
        png_set_PLTE(png, info, pal, 1 << s->depth);
        if (s->trns) {
            png_byte t[2] = {255, 0};
            png_set_tRNS(png, info, t, 2, NULL);
        }
    } else if (s->trns) {
        png_color_16 tc = {0};
        png_set_tRNS(png, info, NULL, 0, &tc);
    }
    png_write_info(png, info);
    int ch = spec_channels(s->color);
    size_t bits = (size_t)s->w * ch * s->depth;
    size_t rowbytes = (bits + 7) / 8;
    uint8_t *row = calloc(1, rowbytes);
    assert_non_null(row);
    int passes = png_set_interlace_handling(png);
    for (int p = 0; p < passes; p++) {
        for (uint32_t y = 0; y < s->h; y++) {
            memset(row, 0, rowbytes);
            for (uint32_t x = 0; x < s->w; x++) {
                for (int c = 0; c < ch; c++) {
                    unsigned v = sample_at(s, x, y, c);
                    size_t bit = ((size_t)x * ch + c) * s->depth;
                    if (s->depth == 16) {
                        row[bit / 8] = (uint8_t)(v >> 8);
                        row[bit / 8 + 1] = (uint8_t)v;
                    } else if (s->depth == 8) {
                        row[bit / 8] = (uint8_t)v;
                    } else {
                        int shift = 8 - s->depth - (int)(bit % 8);
                        row[bit / 8] |= (uint8_t)(v << shift);
                    }
                }
            }
            png_write_row(png, row);
        }
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
}

/* Expected RGB of pixel (x, y) of a PNG made by make_png (see image.h). */
static void png_expect(const png_spec *s, uint32_t x, uint32_t y, uint8_t rgb[3])
{
    unsigned max = (1u << s->depth) - 1;
    if (s->color == PNG_COLOR_TYPE_PALETTE) {
        palette_rgb(sample_at(s, x, y, 0), rgb);
        return;
    }
    bool grey = s->color == PNG_COLOR_TYPE_GRAY || s->color == PNG_COLOR_TYPE_GRAY_ALPHA;
    for (int c = 0; c < 3; c++) {
        unsigned v = sample_at(s, x, y, grey ? 0 : c);
        if (s->depth == 16)
            v >>= 8; /* png_set_strip_16: high byte */
        else if (s->depth < 8)
            v = v * 255 / max; /* bit replication == exact scaling */
        rgb[c] = (uint8_t)v;
    }
}

static void make_jpeg(uint32_t w, uint32_t h, J_COLOR_SPACE in_cs, int comps, bool progressive,
                      int quality, ccc_buf *out)
{
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr err;
    ci.err = jpeg_std_error(&err);
    jpeg_create_compress(&ci);
    unsigned char *mem = NULL;
    unsigned long mem_size = 0;
    jpeg_mem_dest(&ci, &mem, &mem_size);
    ci.image_width = w;
    ci.image_height = h;
    ci.input_components = comps;
    ci.in_color_space = in_cs;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, quality, TRUE);
    if (progressive)
        jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    uint8_t *row = malloc((size_t)w * comps);
    assert_non_null(row);
    for (uint32_t y = 0; y < h; y++) {
        for (uint32_t x = 0; x < w; x++)
            for (int c = 0; c < comps; c++)
                row[(size_t)x * comps + c] = (uint8_t)((x * 4 + y * 2 + (unsigned)c * 60) & 0xff);
        JSAMPROW r = row;
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    free(row);
    ccc_buf_init(out, 64u << 20);
    assert_int_equal(ccc_buf_append(out, mem, mem_size), CCC_OK);
    free(mem);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */
/* ------------------------------------------------------------------------ */

static void check_png_case(const png_spec *s)
{
    ccc_buf enc;
    make_png(s, &enc);
    ccc_image img;
    ccc_image_init(&img);
    ccc_status st = ccc_image_decode(ccc_buf_bytes(&enc), NULL, &img);
    if (st != CCC_OK)
        fail_msg("color %d depth %d interlace %d trns %d: %s", s->color, s->depth,
                 s->interlace, s->trns, ccc_error_detail());
    assert_int_equal(img.width, s->w);
    assert_int_equal(img.height, s->h);
    assert_int_equal(img.format, CCC_IMAGE_PNG);
    for (uint32_t y = 0; y < s->h; y++) {
        for (uint32_t x = 0; x < s->w; x++) {
            uint8_t want[3];
            png_expect(s, x, y, want);
            const uint8_t *got = img.rgb + ((size_t)y * s->w + x) * 3;
            if (memcmp(want, got, 3) != 0)
                fail_msg("color %d depth %d interlace %d trns %d: pixel (%u,%u) is %u,%u,%u "
                         "want %u,%u,%u",
                         s->color, s->depth, s->interlace, s->trns, x, y, got[0], got[1],
                         got[2], want[0], want[1], want[2]);
        }
    }
    ccc_image_wipe(&img);
    assert_null(img.rgb);
    ccc_buf_wipe(&enc);
}

static void png_every_color_type_and_depth_to_rgb(void **state)
{
    (void)state;
    static const struct {
        int color, depth;
    } cases[] = {
        {PNG_COLOR_TYPE_GRAY, 1},       {PNG_COLOR_TYPE_GRAY, 2},
        {PNG_COLOR_TYPE_GRAY, 4},       {PNG_COLOR_TYPE_GRAY, 8},
        {PNG_COLOR_TYPE_GRAY, 16},      {PNG_COLOR_TYPE_GRAY_ALPHA, 8},
        {PNG_COLOR_TYPE_GRAY_ALPHA, 16}, {PNG_COLOR_TYPE_PALETTE, 1},
        {PNG_COLOR_TYPE_PALETTE, 2},    {PNG_COLOR_TYPE_PALETTE, 4},
        {PNG_COLOR_TYPE_PALETTE, 8},    {PNG_COLOR_TYPE_RGB, 8},
        {PNG_COLOR_TYPE_RGB, 16},       {PNG_COLOR_TYPE_RGB_ALPHA, 8},
        {PNG_COLOR_TYPE_RGB_ALPHA, 16},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int il = 0; il < 2; il++) {
            for (int trns = 0; trns < 2; trns++) {
                if (trns && (cases[i].color & PNG_COLOR_MASK_ALPHA))
                    continue; /* tRNS is not allowed with an alpha channel */
                png_spec s = {13, 11, cases[i].color, cases[i].depth, il == 1, trns == 1};
                check_png_case(&s);
            }
        }
    }
}

static void jpeg_rgb_grey_progressive_decode(void **state)
{
    (void)state;
    struct {
        J_COLOR_SPACE cs;
        int comps;
        bool prog;
    } cases[] = {{JCS_RGB, 3, false}, {JCS_RGB, 3, true}, {JCS_GRAYSCALE, 1, false}};
    for (size_t i = 0; i < 3; i++) {
        ccc_buf enc;
        make_jpeg(40, 24, cases[i].cs, cases[i].comps, cases[i].prog, 98, &enc);
        ccc_image img;
        ccc_image_init(&img);
        assert_int_equal(ccc_image_decode(ccc_buf_bytes(&enc), NULL, &img), CCC_OK);
        assert_int_equal(img.width, 40);
        assert_int_equal(img.height, 24);
        assert_int_equal(img.format, CCC_IMAGE_JPEG);
        /* Lossy: every channel close to what was encoded. */
        double err = 0;
        for (uint32_t y = 0; y < 24; y++)
            for (uint32_t x = 0; x < 40; x++)
                for (int c = 0; c < 3; c++) {
                    int src_c = cases[i].comps == 1 ? 0 : c;
                    int want = (int)((x * 4 + y * 2 + (unsigned)src_c * 60) & 0xff);
                    err += abs(want - img.rgb[((size_t)y * 40 + x) * 3 + c]);
                }
        assert_true(err / (40 * 24 * 3) < 4.0);
        if (cases[i].comps == 1) /* grey: R = G = B */
            for (size_t p = 0; p < 40 * 24; p++)
                assert_true(img.rgb[p * 3] == img.rgb[p * 3 + 1] &&
                            img.rgb[p * 3] == img.rgb[p * 3 + 2]);
        ccc_image_wipe(&img);
        ccc_buf_wipe(&enc);
    }
}

static void jpeg_cmyk_is_unsupported(void **state)
{
    (void)state;
    ccc_buf enc;
    make_jpeg(16, 16, JCS_CMYK, 4, false, 90, &enc);
    ccc_image img;
    ccc_image_init(&img);
    assert_int_equal(ccc_image_decode(ccc_buf_bytes(&enc), NULL, &img), CCC_ERR_UNSUPPORTED);
    assert_null(img.rgb);
    ccc_buf_wipe(&enc);
}

/* Junk bytes before a marker are a benign libjpeg warning (cameras do it);
 * junk inside the entropy-coded data is damage. */
static void jpeg_extraneous_bytes_tolerated(void **state)
{
    (void)state;
    ccc_buf enc;
    make_jpeg(16, 16, JCS_RGB, 3, false, 90, &enc);
    size_t at = 0;
    for (size_t i = 2; i + 1 < enc.size && !at; i++)
        if (enc.data[i] == 0xff && enc.data[i + 1] == 0xdb)
            at = i;
    assert_true(at > 0);
    uint8_t *copy = malloc(enc.size + 2);
    assert_non_null(copy);
    memcpy(copy, enc.data, at);
    copy[at] = 0x12;
    copy[at + 1] = 0x34;
    memcpy(copy + at + 2, enc.data + at, enc.size - at);
    ccc_image img;
    ccc_image_init(&img);
    assert_int_equal(ccc_image_decode(ccc_bytes_of(copy, enc.size + 2), NULL, &img), CCC_OK);
    assert_int_equal(img.width, 16);
    ccc_image_wipe(&img);
    free(copy);
    ccc_buf_wipe(&enc);
}

/* Every prefix of a valid file fails cleanly; the whole file decodes. */
static void check_every_truncation(const ccc_buf *enc)
{
    ccc_image img;
    ccc_image_init(&img);
    for (size_t n = 0; n < enc->size; n++) {
        ccc_status st = ccc_image_decode(ccc_bytes_of(enc->data, n), NULL, &img);
        if (st != CCC_ERR_PARSE)
            fail_msg("prefix of %zu/%zu bytes: status %d (%s)", n, enc->size, st,
                     ccc_error_detail());
        assert_null(img.rgb);
    }
    assert_int_equal(ccc_image_decode(ccc_buf_bytes(enc), NULL, &img), CCC_OK);
    ccc_image_wipe(&img);
}

static void every_truncation_fails(void **state)
{
    (void)state;
    ccc_buf enc;
    png_spec s = {9, 7, PNG_COLOR_TYPE_RGB, 8, false, false};
    make_png(&s, &enc);
    check_every_truncation(&enc);
    ccc_buf_wipe(&enc);
    png_spec si = {9, 7, PNG_COLOR_TYPE_PALETTE, 4, true, true};
    make_png(&si, &enc);
    check_every_truncation(&enc);
    ccc_buf_wipe(&enc);
    make_jpeg(17, 9, JCS_RGB, 3, false, 90, &enc);
    check_every_truncation(&enc);
    ccc_buf_wipe(&enc);
    make_jpeg(17, 9, JCS_RGB, 3, true, 90, &enc);
    check_every_truncation(&enc);
    ccc_buf_wipe(&enc);
}

/* Flip every byte: never a crash, never a half image; errors are classified. */
static void every_byte_tampered_fails_cleanly(void **state)
{
    (void)state;
    ccc_buf enc[2];
    png_spec s = {8, 6, PNG_COLOR_TYPE_RGB_ALPHA, 8, false, false};
    make_png(&s, &enc[0]);
    make_jpeg(16, 8, JCS_RGB, 3, false, 80, &enc[1]);
    for (int k = 0; k < 2; k++) {
        uint8_t *copy = malloc(enc[k].size);
        assert_non_null(copy);
        for (size_t i = 0; i < enc[k].size; i++) {
            memcpy(copy, enc[k].data, enc[k].size);
            copy[i] ^= 0x55;
            ccc_image img;
            ccc_image_init(&img);
            ccc_status st = ccc_image_decode(ccc_bytes_of(copy, enc[k].size), NULL, &img);
            if (st == CCC_OK) {
                assert_non_null(img.rgb);
                assert_true(img.width > 0 && img.height > 0);
            } else {
                assert_true(st == CCC_ERR_PARSE || st == CCC_ERR_UNSUPPORTED ||
                            st == CCC_ERR_LIMIT);
                assert_null(img.rgb);
            }
            ccc_image_wipe(&img);
        }
        free(copy);
        ccc_buf_wipe(&enc[k]);
    }
}

/* Also: the tampered PNG CRC of IHDR/IDAT is refused (critical chunks). */
static void png_critical_crc_is_checked(void **state)
{
    (void)state;
    ccc_buf enc;
    png_spec s = {8, 8, PNG_COLOR_TYPE_RGB, 8, false, false};
    make_png(&s, &enc);
    enc.data[8 + 8 + 13] ^= 1; /* IHDR CRC */
    ccc_image img;
    ccc_image_init(&img);
    assert_int_equal(ccc_image_decode(ccc_buf_bytes(&enc), NULL, &img), CCC_ERR_PARSE);
    ccc_buf_wipe(&enc);
}

static void garbage_and_other_formats(void **state)
{
    (void)state;
    ccc_image img;
    ccc_image_init(&img);
    assert_int_equal(ccc_image_decode(ccc_bytes_of(NULL, 0), NULL, &img), CCC_ERR_PARSE);
    const uint8_t gif[] = "GIF89a\x01\x00\x01\x00\x00\x00\x00";
    assert_int_equal(ccc_image_decode(ccc_bytes_of(gif, sizeof gif), NULL, &img),
                     CCC_ERR_UNSUPPORTED);
    const uint8_t bmp[] = "BM\x00\x00\x00\x00\x00\x00";
    assert_int_equal(ccc_image_decode(ccc_bytes_of(bmp, sizeof bmp), NULL, &img),
                     CCC_ERR_UNSUPPORTED);
    assert_int_equal(ccc_image_sniff(ccc_bytes_of(bmp, sizeof bmp)), CCC_IMAGE_UNKNOWN);
    uint8_t junk[4096];
    uint32_t x = 12345;
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < sizeof junk; i++) {
            x = x * 1103515245u + 12345u;
            junk[i] = (uint8_t)(x >> 16);
        }
        /* Random tails after each magic: always a clean failure. */
        static const uint8_t heads[3][8] = {{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'},
                                            {0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F'},
                                            {0}};
        memcpy(junk, heads[round % 3], 8);
        ccc_status st = ccc_image_decode(ccc_bytes_of(junk, sizeof junk), NULL, &img);
        assert_true(st == CCC_ERR_PARSE || st == CCC_ERR_UNSUPPORTED || st == CCC_ERR_LIMIT);
        assert_null(img.rgb);
    }
}

/* CRC-32 as PNG uses it (ISO 3309, PNG spec annex D), bit by bit. */
static uint32_t png_crc_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

/* A PNG whose IHDR claims width x height, with a valid CRC and nothing else. */
static void make_png_header(uint32_t w, uint32_t h, ccc_buf *out)
{
    ccc_buf_init(out, 1024);
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    assert_int_equal(ccc_buf_append(out, sig, 8), CCC_OK);
    uint8_t chunk[17] = {'I', 'H', 'D', 'R'};
    for (int i = 0; i < 4; i++) {
        chunk[4 + i] = (uint8_t)(w >> (24 - 8 * i));
        chunk[8 + i] = (uint8_t)(h >> (24 - 8 * i));
    }
    chunk[12] = 8; /* depth */
    chunk[13] = 2; /* RGB */
    assert_int_equal(ccc_buf_be32(out, 13), CCC_OK);
    assert_int_equal(ccc_buf_append(out, chunk, 17), CCC_OK);
    assert_int_equal(ccc_buf_be32(out, png_crc_of(chunk, 17)), CCC_OK);
}

/* A JPEG whose SOF says width x height (a real 8x8 file, SOF patched). */
static void make_jpeg_header(uint32_t w, uint32_t h, ccc_buf *out)
{
    make_jpeg(8, 8, JCS_RGB, 3, false, 75, out);
    for (size_t i = 0; i + 9 < out->size; i++) {
        if (out->data[i] == 0xff && out->data[i + 1] == 0xc0) {
            out->data[i + 5] = (uint8_t)(h >> 8);
            out->data[i + 6] = (uint8_t)h;
            out->data[i + 7] = (uint8_t)(w >> 8);
            out->data[i + 8] = (uint8_t)w;
            return;
        }
    }
    fail_msg("no SOF0 in the test JPEG");
}

static void huge_headers_refused_before_allocation(void **state)
{
    (void)state;
    ccc_image img;
    ccc_image_init(&img);
    ccc_buf enc;
    /* 100 megapixels: over the side limit by default, and over the pixel
     * limit when the side limits are raised. */
    make_png_header(10000, 10000, &enc);
    assert_int_equal(ccc_image_decode(ccc_buf_bytes(&enc), NULL, &img), CCC_ERR_LIMIT);
    assert_int_equal(ccc_image_last_alloc_size(), 0);
    ccc_image_limits wide = ccc_image_limits_default();
    wide.max_width = wide.max_height = 100000;
    assert_int_equal(ccc_image_decode(ccc_buf_bytes(&enc), &wide, &img), CCC_ERR_LIMIT);
    assert_string_equal(ccc_error_detail(), "image has too many pixels");
    assert_int_equal(ccc_image_last_alloc_size(), 0);
    ccc_image_format f;
    uint32_t w, h;
    assert_int_equal(ccc_image_probe(ccc_buf_bytes(&enc), &wide, &f, &w, &h), CCC_ERR_LIMIT);
    ccc_buf_wipe(&enc);
    /* Zero width is malformed, not a limit. */
    make_png_header(0, 10, &enc);
    assert_int_equal(ccc_image_decode(ccc_buf_bytes(&enc), NULL, &img), CCC_ERR_PARSE);
    ccc_buf_wipe(&enc);

    make_jpeg_header(10000, 10000, &enc);
    assert_int_equal(ccc_image_decode(ccc_buf_bytes(&enc), NULL, &img), CCC_ERR_LIMIT);
    assert_int_equal(ccc_image_last_alloc_size(), 0);
    assert_int_equal(ccc_image_decode(ccc_buf_bytes(&enc), &wide, &img), CCC_ERR_LIMIT);
    assert_string_equal(ccc_error_detail(), "image has too many pixels");
    assert_int_equal(ccc_image_last_alloc_size(), 0);
    assert_int_equal(ccc_image_probe(ccc_buf_bytes(&enc), &wide, &f, &w, &h), CCC_ERR_LIMIT);
    ccc_buf_wipe(&enc);
    /* 9000 x 10 is over the side limit although small in pixels. */
    make_jpeg_header(9000, 10, &enc);
    assert_int_equal(ccc_image_decode(ccc_buf_bytes(&enc), NULL, &img), CCC_ERR_LIMIT);
    assert_string_equal(ccc_error_detail(), "image too wide");
    ccc_buf_wipe(&enc);
    assert_null(img.rgb);
}

static void limits_are_inclusive_bounds(void **state)
{
    (void)state;
    ccc_buf enc;
    png_spec s = {64, 32, PNG_COLOR_TYPE_RGB, 8, false, false};
    make_png(&s, &enc);
    ccc_image img;
    ccc_image_init(&img);
    ccc_image_limits lim = ccc_image_limits_default();
    lim.max_pixels = 64 * 32;
    assert_int_equal(ccc_image_decode(ccc_buf_bytes(&enc), &lim, &img), CCC_OK);
    assert_int_equal(ccc_image_last_alloc_size(), 64 * 32 * 3);
    lim.max_pixels = 64 * 32 - 1;
    assert_int_equal(ccc_image_decode(ccc_buf_bytes(&enc), &lim, &img), CCC_ERR_LIMIT);
    assert_int_equal(ccc_image_last_alloc_size(), 0);
    lim = ccc_image_limits_default();
    lim.max_width = 63;
    assert_int_equal(ccc_image_decode(ccc_buf_bytes(&enc), &lim, &img), CCC_ERR_LIMIT);
    lim = ccc_image_limits_default();
    lim.max_height = 31;
    assert_int_equal(ccc_image_decode(ccc_buf_bytes(&enc), &lim, &img), CCC_ERR_LIMIT);
    lim = ccc_image_limits_default();
    lim.max_input_size = enc.size - 1;
    assert_int_equal(ccc_image_decode(ccc_buf_bytes(&enc), &lim, &img), CCC_ERR_LIMIT);
    assert_string_equal(ccc_error_detail(), "image file too large");
    lim.max_input_size = enc.size;
    assert_int_equal(ccc_image_decode(ccc_buf_bytes(&enc), &lim, &img), CCC_OK);
    ccc_image_format f;
    uint32_t w, h;
    assert_int_equal(ccc_image_probe(ccc_buf_bytes(&enc), NULL, &f, &w, &h), CCC_OK);
    assert_int_equal(f, CCC_IMAGE_PNG);
    assert_int_equal(w, 64);
    assert_int_equal(h, 32);
    ccc_image_wipe(&img);
    ccc_buf_wipe(&enc);
}

static void samples_decode(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint32_t w, h;
        ccc_image_format f;
    } samples[] = {
        {"chelsea.png", 451, 300, CCC_IMAGE_PNG},
        {"astronaut.png", 512, 512, CCC_IMAGE_PNG},
        {"coffee.png", 600, 400, CCC_IMAGE_PNG},
        {"camera.png", 512, 512, CCC_IMAGE_PNG},
        {"motorcycle_left.png", 741, 500, CCC_IMAGE_PNG},
        {"rocket.jpg", 640, 427, CCC_IMAGE_JPEG},
        {"hubble_deep_field.jpg", 1000, 872, CCC_IMAGE_JPEG},
    };
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "data/samples/%s", samples[i].name);
        ccc_buf file;
        test_read_file(test_path(rel), &file); /* run scripts/setup first */
        ccc_image img;
        ccc_image_init(&img);
        if (ccc_image_decode(ccc_buf_bytes(&file), NULL, &img) != CCC_OK)
            fail_msg("%s: %s", samples[i].name, ccc_error_detail());
        assert_int_equal(img.width, samples[i].w);
        assert_int_equal(img.height, samples[i].h);
        assert_int_equal(img.format, samples[i].f);
        /* A photo is not one flat colour. */
        size_t n = (size_t)img.width * img.height * 3;
        bool varied = false;
        for (size_t k = 3; k < n && !varied; k++)
            varied = img.rgb[k] != img.rgb[k % 3];
        assert_true(varied);
        ccc_image_wipe(&img);
        ccc_buf_wipe(&file);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(png_every_color_type_and_depth_to_rgb),
        cmocka_unit_test(jpeg_rgb_grey_progressive_decode),
        cmocka_unit_test(jpeg_cmyk_is_unsupported),
        cmocka_unit_test(jpeg_extraneous_bytes_tolerated),
        cmocka_unit_test(every_truncation_fails),
        cmocka_unit_test(every_byte_tampered_fails_cleanly),
        cmocka_unit_test(png_critical_crc_is_checked),
        cmocka_unit_test(garbage_and_other_formats),
        cmocka_unit_test(huge_headers_refused_before_allocation),
        cmocka_unit_test(limits_are_inclusive_bounds),
        cmocka_unit_test(samples_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
