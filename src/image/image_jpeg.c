/*
 * JPEG through libjpeg-turbo, from memory, with a longjmp error manager.
 *
 * libjpeg reports fatal errors through err->error_exit, which "must not
 * return to the caller" (libjpeg.txt, "Error handling"); ours longjmps back
 * to decode_inner(). Warnings (err->emit_message with msg_level -1) about
 * damaged data (premature end of file or segment, bad Huffman/arithmetic
 * code, resync, bad progression) are made fatal too; only four metadata
 * warnings are tolerated (benign_warning). Nothing is printed.
 *
 * setjmp discipline (C17 7.13.2.1p3): every object that changes after
 * setjmp lives in the caller's `jctx`, never in decode_inner's locals.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

#include "image/image_internal.h"

typedef struct jctx {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr err;
    struct jpeg_progress_mgr progress;
    jmp_buf jb;
    bool created;
    int msg_code;   /* libjpeg message code of the failure */
    bool warning;   /* failed on a (fatal-made) warning     */
    bool too_many_scans;
} jctx;

static void on_error_exit(j_common_ptr cinfo)
{
    jctx *c = (jctx *)cinfo->client_data;
    c->msg_code = cinfo->err->msg_code;
    longjmp(c->jb, 1);
}

/* Warnings that do not touch the pixels: metadata oddities that ordinary
 * cameras and editors produce. Every other warning means damaged data. */
static bool benign_warning(int code)
{
    return code == JWRN_EXTRANEOUS_DATA || code == JWRN_JFIF_MAJOR ||
           code == JWRN_ADOBE_XFORM || code == JWRN_BOGUS_ICC;
}

static void on_emit_message(j_common_ptr cinfo, int msg_level)
{
    if (msg_level >= 0 || benign_warning(cinfo->err->msg_code))
        return; /* trace messages, benign warnings */
    jctx *c = (jctx *)cinfo->client_data;
    c->msg_code = cinfo->err->msg_code;
    c->warning = true;
    longjmp(c->jb, 1);
}

static void on_output_message(j_common_ptr cinfo)
{
    (void)cinfo; /* never print */
}

/* Progressive JPEGs can carry thousands of tiny scans (a CPU bomb). */
static void on_progress(j_common_ptr cinfo)
{
    jctx *c = (jctx *)cinfo->client_data;
    if (c->cinfo.input_scan_number > CCC_IMAGE_MAX_JPEG_SCANS) {
        c->too_many_scans = true;
        longjmp(c->jb, 1);
    }
}

static ccc_status failure(const jctx *c)
{
    if (c->too_many_scans)
        CCC_BAIL(CCC_ERR_LIMIT, "JPEG has too many progressive scans");
    if (c->warning)
        CCC_BAIL_NUM(CCC_ERR_PARSE, "corrupt or truncated JPEG, libjpeg warning",
                     c->msg_code);
    switch (c->msg_code) {
    case JERR_NO_BACKING_STORE:
    case JERR_OUT_OF_MEMORY:
        CCC_BAIL(CCC_ERR_LIMIT, "JPEG needs more decoder memory than allowed");
    case JERR_CONVERSION_NOTIMPL:
    case JERR_BAD_J_COLORSPACE:
    case JERR_NOT_COMPILED:
        CCC_BAIL_NUM(CCC_ERR_UNSUPPORTED, "unsupported JPEG variant, libjpeg error",
                     c->msg_code);
    case JERR_INPUT_EMPTY:
    case JERR_INPUT_EOF:
    case JERR_NO_IMAGE:
        CCC_BAIL(CCC_ERR_PARSE, "truncated JPEG");
    default:
        CCC_BAIL_NUM(CCC_ERR_PARSE, "malformed JPEG, libjpeg error", c->msg_code);
    }
}

/* Everything libjpeg does happens here, under one setjmp. */
static ccc_status decode_inner(jctx *c, ccc_bytes in, const ccc_image_limits *lim,
                               ccc_image *out, uint32_t *w, uint32_t *h)
{
    if (setjmp(c->jb))
        return failure(c);
    c->cinfo.err = jpeg_std_error(&c->err);
    c->err.error_exit = on_error_exit;
    c->err.emit_message = on_emit_message;
    c->err.output_message = on_output_message;
    c->cinfo.client_data = c;
    jpeg_create_decompress(&c->cinfo);
    c->created = true;
    c->cinfo.client_data = c; /* jpeg_create_decompress clears the struct */
    c->progress.progress_monitor = on_progress;
    c->cinfo.progress = &c->progress;
    /* Progressive images keep all coefficients: ~6 bytes/pixel at 4:4:4. */
    c->cinfo.mem->max_memory_to_use = (long)(lim->max_pixels * 6 + (4u << 20));
    jpeg_mem_src(&c->cinfo, in.ptr, (unsigned long)in.size);
    if (jpeg_read_header(&c->cinfo, TRUE) != JPEG_HEADER_OK)
        CCC_BAIL(CCC_ERR_PARSE, "JPEG has no image");
    CCC_GUARD(ccc_image_check_size(lim, c->cinfo.image_width, c->cinfo.image_height));
    J_COLOR_SPACE cs = c->cinfo.jpeg_color_space;
    CCC_ENSURE(cs == JCS_GRAYSCALE || cs == JCS_YCbCr || cs == JCS_RGB, CCC_ERR_UNSUPPORTED,
               "JPEG colour space not supported (CMYK/YCCK)");
    *w = c->cinfo.image_width;
    *h = c->cinfo.image_height;
    if (out == NULL)
        return CCC_OK;

    c->cinfo.out_color_space = JCS_RGB; /* defaults: ISLOW DCT, fancy upsampling */
    if (!jpeg_start_decompress(&c->cinfo))
        CCC_BAIL(CCC_ERR_INTERNAL, "libjpeg suspended on an in-memory source");
    CCC_ENSURE(c->cinfo.output_components == 3 && c->cinfo.output_width == *w &&
                   c->cinfo.output_height == *h,
               CCC_ERR_INTERNAL, "unexpected libjpeg output geometry");
    CCC_GUARD(ccc_image_alloc_pixels(out, *w, *h));
    size_t stride = (size_t)*w * 3;
    while (c->cinfo.output_scanline < c->cinfo.output_height) {
        JSAMPROW row = out->rgb + (size_t)c->cinfo.output_scanline * stride;
        if (jpeg_read_scanlines(&c->cinfo, &row, 1) != 1)
            CCC_BAIL(CCC_ERR_PARSE, "truncated JPEG");
    }
    /* Reads up to EOI: a missing end is a (fatal) warning. */
    (void)jpeg_finish_decompress(&c->cinfo);
    return CCC_OK;
}

ccc_status ccc_image_jpeg_run(ccc_bytes in, const ccc_image_limits *lim, ccc_image *out,
                            uint32_t *w, uint32_t *h)
{
    jctx *c = calloc(1, sizeof *c);
    CCC_ENSURE(c != NULL, CCC_ERR_NOMEM, "out of memory for the JPEG decoder");
    ccc_status st = decode_inner(c, in, lim, out, w, h);
    if (c->created)
        jpeg_destroy_decompress(&c->cinfo);
    free(c);
    return st;
}
