/* image: format sniffing, limits, the pixel buffer, dispatch to the decoders. */
#include "image/image.h"

#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"

static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
static const uint8_t jpeg_magic[3] = {0xff, 0xd8, 0xff};

static _Thread_local size_t last_alloc_size;

ccc_image_limits ccc_image_limits_default(void)
{
    ccc_image_limits l = {
        .max_input_size = CCC_IMAGE_DEFAULT_MAX_INPUT_SIZE,
        .max_width = CCC_IMAGE_DEFAULT_MAX_SIDE,
        .max_height = CCC_IMAGE_DEFAULT_MAX_SIDE,
        .max_pixels = CCC_IMAGE_DEFAULT_MAX_PIXELS,
    };
    return l;
}

void ccc_image_init(ccc_image *img)
{
    memset(img, 0, sizeof *img);
}

void ccc_image_wipe(ccc_image *img)
{
    if (img->rgb) {
        ccc_wipe(img->rgb, (size_t)img->width * img->height * 3);
        free(img->rgb);
    }
    memset(img, 0, sizeof *img);
}

ccc_image_format ccc_image_sniff(ccc_bytes in)
{
    if (in.size >= sizeof png_magic && memcmp(in.ptr, png_magic, sizeof png_magic) == 0)
        return CCC_IMAGE_PNG;
    if (in.size >= sizeof jpeg_magic && memcmp(in.ptr, jpeg_magic, sizeof jpeg_magic) == 0)
        return CCC_IMAGE_JPEG;
    return CCC_IMAGE_UNKNOWN;
}

/* Is `in` a proper prefix of a magic (a truncated file rather than another format)? */
static bool is_magic_prefix(ccc_bytes in, const uint8_t *magic, size_t magic_size)
{
    return in.size < magic_size && memcmp(in.ptr, magic, in.size) == 0;
}

static ccc_status classify(ccc_bytes in, const ccc_image_limits *lim, ccc_image_format *f)
{
    CCC_ENSURE(in.size > 0 && in.ptr != NULL, CCC_ERR_PARSE, "empty image");
    CCC_ENSURE(in.size <= lim->max_input_size, CCC_ERR_LIMIT, "image file too large");
    *f = ccc_image_sniff(in);
    if (*f != CCC_IMAGE_UNKNOWN)
        return CCC_OK;
    if (is_magic_prefix(in, png_magic, sizeof png_magic) ||
        is_magic_prefix(in, jpeg_magic, sizeof jpeg_magic))
        CCC_BAIL(CCC_ERR_PARSE, "truncated image");
    CCC_BAIL(CCC_ERR_UNSUPPORTED, "unknown image format (only JPEG and PNG)");
}

ccc_status ccc_image_check_size(const ccc_image_limits *lim, uint64_t w, uint64_t h)
{
    CCC_ENSURE(w > 0 && h > 0, CCC_ERR_PARSE, "image has zero width or height");
    CCC_ENSURE(w <= lim->max_width, CCC_ERR_LIMIT, "image too wide");
    CCC_ENSURE(h <= lim->max_height, CCC_ERR_LIMIT, "image too tall");
    /* w, h <= 2^32 here, so the product cannot overflow 64 bits. */
    CCC_ENSURE(w * h <= lim->max_pixels, CCC_ERR_LIMIT, "image has too many pixels");
    CCC_ENSURE(w * h <= SIZE_MAX / 3, CCC_ERR_LIMIT, "image has too many pixels");
    return CCC_OK;
}

ccc_status ccc_image_alloc_pixels(ccc_image *img, uint32_t w, uint32_t h)
{
    size_t size = (size_t)w * h * 3;
    img->rgb = malloc(size);
    CCC_ENSURE(img->rgb != NULL, CCC_ERR_NOMEM, "out of memory for image pixels");
    img->width = w;
    img->height = h;
    last_alloc_size = size;
    return CCC_OK;
}

size_t ccc_image_last_alloc_size(void)
{
    return last_alloc_size;
}

ccc_status ccc_image_probe(ccc_bytes in, const ccc_image_limits *limits,
                           ccc_image_format *format, uint32_t *width, uint32_t *height)
{
    ccc_image_limits lim = limits ? *limits : ccc_image_limits_default();
    ccc_image_format f;
    CCC_GUARD(classify(in, &lim, &f));
    *format = f;
    if (f == CCC_IMAGE_PNG)
        return ccc_image_png_run(in, &lim, NULL, width, height);
    return ccc_image_jpeg_run(in, &lim, NULL, width, height);
}

ccc_status ccc_image_decode(ccc_bytes in, const ccc_image_limits *limits, ccc_image *out)
{
    ccc_image_wipe(out);
    last_alloc_size = 0;
    ccc_image_limits lim = limits ? *limits : ccc_image_limits_default();
    ccc_image_format f;
    CCC_GUARD(classify(in, &lim, &f));
    uint32_t w, h;
    ccc_status st = f == CCC_IMAGE_PNG ? ccc_image_png_run(in, &lim, out, &w, &h)
                                       : ccc_image_jpeg_run(in, &lim, out, &w, &h);
    if (st != CCC_OK) {
        ccc_image_wipe(out);
        return st;
    }
    out->format = f;
    return CCC_OK;
}

ccc_status ccc_image_crop(const ccc_image *in, uint32_t x, uint32_t y, uint32_t w, uint32_t h,
                          ccc_image *out)
{
    ccc_image_wipe(out);
    CCC_ENSURE(in->rgb && w && h && x <= in->width && w <= in->width - x && y <= in->height &&
                   h <= in->height - y,
               CCC_ERR_USAGE, "the rectangle is empty or leaves the image");
    CCC_GUARD(ccc_image_alloc_pixels(out, w, h));
    for (uint32_t row = 0; row < h; row++)
        memcpy(out->rgb + (size_t)row * w * 3, in->rgb + ((size_t)(y + row) * in->width + x) * 3,
               (size_t)w * 3);
    out->format = in->format;
    return CCC_OK;
}
