/*
 * PNG through libpng, from memory, with setjmp error handling.
 *
 * Before libpng sees a byte we read IHDR ourselves (PNG spec, 11.2.2: "The
 * IHDR chunk shall be the first chunk in the PNG datastream"; width and
 * height are four-byte unsigned integers, "Zero is an invalid value") and
 * apply our limits, so an oversized image is refused before any allocation.
 * libpng reads through a ccc_reader; its memory goes through a counting
 * allocator with a budget.
 *
 * setjmp discipline (C17 7.13.2.1p3): every object that changes after
 * setjmp lives in the caller's `pctx`, never in decode_inner's locals.
 */
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "image/image_internal.h"

/* libpng's own working memory (structs, zlib window, row buffers, chunks). */
#define PNG_WORK_BUDGET (64u << 20)
#define PNG_CHUNK_MAX (8u << 20)

typedef struct pctx {
    png_structp png;
    png_infop info;
    ccc_reader rd;
    size_t alloc_total;
    bool truncated;
    bool over_budget;
} pctx;

static void on_error(png_structp png, png_const_charp msg)
{
    (void)msg; /* libpng's text is not ours to print or keep */
    longjmp(png_jmpbuf(png), 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static png_voidp on_malloc(png_structp png, png_alloc_size_t size)
{
    pctx *c = png_get_mem_ptr(png);
    if (size > PNG_WORK_BUDGET - c->alloc_total) {
        c->over_budget = true;
        return NULL;
    }
    c->alloc_total += size;
    return malloc(size);
}

static void on_free(png_structp png, png_voidp ptr)
{
    (void)png;
    free(ptr);
}

static void on_read(png_structp png, png_bytep data, size_t size)
{
    pctx *c = png_get_io_ptr(png);
    if (ccc_reader_copy(&c->rd, data, size) != CCC_OK) {
        c->truncated = true;
        png_error(png, "truncated");
    }
}

/* PNG spec 11.2.2 IHDR: length 13, "IHDR", width, height, ... */
static ccc_status read_ihdr(ccc_bytes in, const ccc_image_limits *lim, uint32_t *w,
                            uint32_t *h)
{
    ccc_reader r;
    ccc_reader_init(&r, in.ptr, in.size);
    uint32_t len, type;
    CCC_GUARD(ccc_reader_skip(&r, 8));
    CCC_GUARD(ccc_reader_be32(&r, &len));
    CCC_GUARD(ccc_reader_be32(&r, &type));
    CCC_ENSURE(len == 13 && type == 0x49484452u, CCC_ERR_PARSE, "PNG does not start with IHDR");
    CCC_GUARD(ccc_reader_be32(&r, w));
    CCC_GUARD(ccc_reader_be32(&r, h));
    /* 12.2: the four-byte integers are limited to 2^31 - 1. */
    CCC_ENSURE(*w <= 0x7fffffffu && *h <= 0x7fffffffu, CCC_ERR_PARSE,
               "PNG dimension out of range");
    return ccc_image_check_size(lim, *w, *h);
}

static ccc_status failure(const pctx *c)
{
    if (c->over_budget)
        CCC_BAIL(CCC_ERR_LIMIT, "PNG needs more decoder memory than allowed");
    if (c->truncated)
        CCC_BAIL(CCC_ERR_PARSE, "truncated PNG");
    CCC_BAIL(CCC_ERR_PARSE, "malformed PNG");
}

static ccc_status decode_inner(pctx *c, const ccc_image_limits *lim, uint32_t w, uint32_t h,
                               ccc_image *out)
{
    if (setjmp(png_jmpbuf(c->png)))
        return failure(c);
    png_set_user_limits(c->png, lim->max_width, lim->max_height);
    png_set_chunk_cache_max(c->png, 256);
    png_set_chunk_malloc_max(c->png, PNG_CHUNK_MAX);
    png_set_read_fn(c->png, c, on_read);
    png_read_info(c->png, c->info);

    png_uint_32 iw, ih;
    int depth, color, interlace;
    png_get_IHDR(c->png, c->info, &iw, &ih, &depth, &color, &interlace, NULL, NULL);
    CCC_ENSURE(iw == w && ih == h, CCC_ERR_INTERNAL, "PNG header read twice differently");
    /* To RGB8: expand palette and low-depth grey, 16 -> 8 (high byte), drop
     * alpha (also alpha made from tRNS), grey -> RGB. See image.h. */
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(c->png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(c->png);
    if (depth == 16)
        png_set_strip_16(c->png);
    png_set_strip_alpha(c->png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_gray_to_rgb(c->png);
    int passes = png_set_interlace_handling(c->png);
    png_read_update_info(c->png, c->info);
    CCC_ENSURE(png_get_channels(c->png, c->info) == 3 &&
                   png_get_bit_depth(c->png, c->info) == 8 &&
                   png_get_rowbytes(c->png, c->info) == (size_t)w * 3,
               CCC_ERR_INTERNAL, "unexpected libpng output format");

    CCC_GUARD(ccc_image_alloc_pixels(out, w, h));
    size_t stride = (size_t)w * 3;
    for (int pass = 0; pass < passes; pass++)
        for (uint32_t y = 0; y < h; y++)
            png_read_row(c->png, out->rgb + (size_t)y * stride, NULL);
    /* The rest of the stream up to IEND (CRCs, trailing chunks). */
    png_read_end(c->png, NULL);
    return CCC_OK;
}

ccc_status ccc_image_png_run(ccc_bytes in, const ccc_image_limits *lim, ccc_image *out,
                            uint32_t *w, uint32_t *h)
{
    CCC_GUARD(read_ihdr(in, lim, w, h));
    if (out == NULL)
        return CCC_OK;
    pctx *c = calloc(1, sizeof *c);
    CCC_ENSURE(c != NULL, CCC_ERR_NOMEM, "out of memory for the PNG decoder");
    ccc_status st = CCC_OK;
    ccc_reader_init(&c->rd, in.ptr, in.size);
    c->png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, c, on_error, on_warning, c,
                                      on_malloc, on_free);
    CCC_CHECK(c->png != NULL, CCC_ERR_NOMEM, "cannot create the PNG decoder");
    c->info = png_create_info_struct(c->png);
    CCC_CHECK(c->info != NULL, CCC_ERR_NOMEM, "cannot create the PNG decoder");
    st = decode_inner(c, lim, *w, *h, out);
out:
    if (c->png)
        png_destroy_read_struct(&c->png, c->info ? &c->info : NULL, NULL);
    free(c);
    return st;
}

ccc_status ccc_image_encode_png(const ccc_image *img, ccc_buf *out)
{
    CCC_ENSURE(img->rgb && img->width && img->height, CCC_ERR_USAGE, "no image to encode");
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    pi.width = img->width;
    pi.height = img->height;
    pi.format = PNG_FORMAT_RGB;
    png_alloc_size_t size = 0;
    png_int_32 stride = (png_int_32)(img->width * 3);
    /* First call sizes the output, the second writes it. */
    CCC_ENSURE(png_image_write_to_memory(&pi, NULL, &size, 0, img->rgb, stride, NULL) && size,
               CCC_ERR_INTERNAL, "PNG encoding failed");
    uint8_t *p = NULL;
    CCC_GUARD(ccc_buf_extend(out, size, &p));
    png_alloc_size_t written = size;
    if (!png_image_write_to_memory(&pi, p, &written, 0, img->rgb, stride, NULL)) {
        out->size -= size;
        CCC_BAIL(CCC_ERR_INTERNAL, "PNG encoding failed");
    }
    out->size -= size - written;
    return CCC_OK;
}
