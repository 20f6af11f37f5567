/*
 * Reference kernels: one plain loop nest per op, written to be read and
 * trusted, used by the tests (and by ccc_nn_options.reference_kernels) as
 * the yardstick for the fast kernels. Semantics follow TF / TF.js 4.22
 * (tfjs-backend-cpu) as recorded in docs/model-notes.md §2.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/internal.h"

static float act_apply(nn_act act, float x)
{
    if (act == ACT_RELU)
        return x < 0.0f ? 0.0f : x;
    if (act == ACT_RELU6)
        return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x);
    return x;
}

/* Conv2D / _FusedConv2D / (Fused)DepthwiseConv2dNative, NHWC, HWIO filter. */
static ccc_status ref_conv(ccc_nn_model *m, const nn_node *n)
{
    const nn_value *xv = &m->values[n->in[0]], *ov = &m->values[n->out[0]];
    const float *x = nn_f(m, n->in[0]), *w = nn_f(m, n->in[1]);
    const float *bias = n->has_bias ? nn_f(m, n->in[2]) : NULL;
    float *o = nn_f(m, n->out[0]);
    bool dw = (n->op == OP_DEPTHWISE || n->op == OP_FUSEDDEPTHWISE);
    int64_t H = xv->shape[1], W = xv->shape[2], C = xv->shape[3];
    int64_t OH = ov->shape[1], OW = ov->shape[2], CO = ov->shape[3];
    for (int64_t oy = 0; oy < OH; oy++)
        for (int64_t ox = 0; ox < OW; ox++)
            for (int64_t co = 0; co < CO; co++) {
                float acc = 0.0f;
                for (int ky = 0; ky < n->kh; ky++) {
                    int64_t iy = oy * n->sh - n->pad_top + ky;
                    if (iy < 0 || iy >= H)
                        continue;
                    for (int kx = 0; kx < n->kw; kx++) {
                        int64_t ix = ox * n->sw - n->pad_left + kx;
                        if (ix < 0 || ix >= W)
                            continue;
                        const float *px = x + (iy * W + ix) * C;
                        if (dw) {
                            acc += px[co] * w[(ky * n->kw + kx) * C + co];
                        } else {
                            const float *pw = w + (int64_t)(ky * n->kw + kx) * C * CO + co;
                            for (int64_t ci = 0; ci < C; ci++)
                                acc += px[ci] * pw[ci * CO];
                        }
                    }
                }
                if (bias)
                    acc += bias[co];
                o[(oy * OW + ox) * CO + co] = act_apply(n->act, acc);
            }
    return CCC_OK;
}

/* Offset into a broadcast operand for output element `i`. */
static size_t bcast_offset(const nn_value *out, const nn_value *in, size_t i)
{
    size_t off = 0, stride = 1;
    for (int d = out->rank - 1; d >= 0; d--) {
        size_t coord = i % (size_t)out->shape[d];
        i /= (size_t)out->shape[d];
        int din = in->rank - out->rank + d;
        if (din >= 0) {
            if (in->shape[din] != 1)
                off += coord * stride;
            stride *= (size_t)in->shape[din];
        }
    }
    return off;
}

static ccc_status ref_binary(ccc_nn_model *m, const nn_node *n)
{
    const nn_value *av = &m->values[n->in[0]], *bv = &m->values[n->in[1]];
    const nn_value *ov = &m->values[n->out[0]];
    if (av->dtype == NN_F32) {
        const float *a = nn_f(m, n->in[0]), *b = nn_f(m, n->in[1]);
        for (size_t i = 0; i < ov->count; i++) {
            float x = a[bcast_offset(ov, av, i)], y = b[bcast_offset(ov, bv, i)];
            if (n->op == OP_EQUAL)
                nn_i(m, n->out[0])[i] = (x == y);
            else
                nn_f(m, n->out[0])[i] = n->op == OP_ADD ? x + y : n->op == OP_SUB ? x - y : x * y;
        }
        return CCC_OK;
    }
    const int32_t *a = nn_i(m, n->in[0]), *b = nn_i(m, n->in[1]);
    int32_t *o = nn_i(m, n->out[0]);
    for (size_t i = 0; i < ov->count; i++) {
        int32_t x = a[bcast_offset(ov, av, i)], y = b[bcast_offset(ov, bv, i)];
        uint32_t ux = (uint32_t)x, uy = (uint32_t)y;
        switch (n->op) {
        case OP_ADD: o[i] = (int32_t)(ux + uy); break; /* wraps, like TF */
        case OP_SUB: o[i] = (int32_t)(ux - uy); break;
        case OP_MUL: o[i] = (int32_t)(ux * uy); break;
        case OP_EQUAL: o[i] = (x == y); break;
        case OP_FLOORDIV:
        case OP_FLOORMOD: {
            CCC_ENSURE(y != 0, CCC_ERR_PARSE, "nn: integer division by zero");
            CCC_ENSURE(!(x == INT32_MIN && y == -1), CCC_ERR_PARSE, "nn: integer division overflow");
            int32_t q = x / y, r = x % y;
            /* TF FloorDiv / FloorMod: round the quotient toward -inf. */
            if (r != 0 && ((r < 0) != (y < 0))) {
                q -= 1;
                r += y;
            }
            o[i] = (n->op == OP_FLOORDIV) ? q : r;
            break;
        }
        default: CCC_BAIL(CCC_ERR_INTERNAL, "nn: bad binary op");
        }
    }
    return CCC_OK;
}

static ccc_status ref_unary(ccc_nn_model *m, const nn_node *n)
{
    const float *x = nn_f(m, n->in[0]);
    float *o = nn_f(m, n->out[0]);
    size_t c = m->values[n->out[0]].count;
    for (size_t i = 0; i < c; i++) {
        if (n->op == OP_SIGMOID)
            o[i] = 1.0f / (1.0f + expf(-x[i]));
        else
            o[i] = act_apply(n->op == OP_RELU ? ACT_RELU : ACT_RELU6, x[i]);
    }
    return CCC_OK;
}

static ccc_status ref_cast(ccc_nn_model *m, const nn_node *n)
{
    const nn_value *a = &m->values[n->in[0]];
    size_t c = a->count;
    if (a->dtype == n->dst_dtype) {
        memmove(nn_data(m, n->out[0]), nn_data(m, n->in[0]), c * 4);
        return CCC_OK;
    }
    if (n->dst_dtype == NN_F32) { /* int32 / bool → float */
        const int32_t *x = nn_i(m, n->in[0]);
        for (size_t i = 0; i < c; i++)
            nn_f(m, n->out[0])[i] = (float)x[i];
        return CCC_OK;
    }
    const float *x = nn_f(m, n->in[0]); /* float → int32: truncate, saturate */
    for (size_t i = 0; i < c; i++) {
        float v = x[i];
        int32_t r = isnan(v) ? 0 : v >= 2147483647.0f ? INT32_MAX : v <= -2147483648.0f ? INT32_MIN : (int32_t)v;
        nn_i(m, n->out[0])[i] = r;
    }
    return CCC_OK;
}

static ccc_status ref_mean(ccc_nn_model *m, const nn_node *n)
{
    const nn_value *a = &m->values[n->in[0]], *ov = &m->values[n->out[0]];
    const float *x = nn_f(m, n->in[0]);
    float *o = nn_f(m, n->out[0]);
    double *acc = calloc(ov->count, sizeof *acc);
    CCC_ENSURE(acc != NULL, CCC_ERR_NOMEM, "nn: out of memory");
    size_t reduced = a->count / ov->count;
    for (size_t i = 0; i < a->count; i++) {
        size_t rem = i, off = 0, stride = 1;
        for (int d = a->rank - 1; d >= 0; d--) {
            size_t coord = rem % (size_t)a->shape[d];
            rem /= (size_t)a->shape[d];
            if (!(n->axes_mask & (1u << d))) {
                off += coord * stride;
                stride *= (size_t)a->shape[d];
            }
        }
        acc[off] += x[i];
    }
    for (size_t i = 0; i < ov->count; i++)
        o[i] = (float)(acc[i] / (double)reduced);
    free(acc);
    return CCC_OK;
}

static ccc_status ref_concat(ccc_nn_model *m, const nn_node *n)
{
    const nn_value *ov = &m->values[n->out[0]];
    size_t outer = 1, inner = 1;
    for (int d = 0; d < n->axis; d++)
        outer *= (size_t)ov->shape[d];
    for (int d = n->axis + 1; d < ov->rank; d++)
        inner *= (size_t)ov->shape[d];
    uint8_t *o = nn_data(m, n->out[0]);
    for (size_t q = 0; q < outer; q++)
        for (int k = 0; k < n->in_count - 1; k++) {
            const nn_value *xv = &m->values[n->in[k]];
            size_t chunk = (size_t)xv->shape[n->axis] * inner * 4;
            memcpy(o, (const uint8_t *)nn_data(m, n->in[k]) + q * chunk, chunk);
            o += chunk;
        }
    return CCC_OK;
}

static ccc_status ref_strided_slice(ccc_nn_model *m, const nn_node *n)
{
    const nn_value *a = &m->values[n->in[0]], *ov = &m->values[n->out[0]];
    const int32_t *x = nn_i(m, n->in[0]);
    int32_t *o = nn_i(m, n->out[0]);
    int64_t len[CCC_NN_MAX_RANK];
    for (int d = 0, r = 0; d < a->rank; d++)
        len[d] = (n->axes_mask & (1u << d)) ? 1 : ov->shape[r++];
    for (size_t i = 0; i < ov->count; i++) {
        size_t rem = i, off = 0, stride = 1;
        for (int d = a->rank - 1; d >= 0; d--) {
            int64_t coord = (int64_t)(rem % (size_t)len[d]);
            rem /= (size_t)len[d];
            off += (size_t)(n->begin[d] + coord * n->strides[d]) * stride;
            stride *= (size_t)a->shape[d];
        }
        o[i] = x[off];
    }
    return CCC_OK;
}

/* Source row (or column) of output index r: the two neighbours and the
 * fraction (tfjs-backend-cpu ResizeBilinear.ts; docs/model-notes.md §2):
 *   src = scale*r (or scale*(r+0.5)-0.5 with half_pixel_centers)
 *   i0 = max(0, floor(src)); frac = src - i0; i1 = min(size-1, ceil(src)) */
float nn_resize_source(float scale, int64_t r, bool half_pixel, int64_t size, int64_t *i0,
                       int64_t *i1)
{
    float src = half_pixel ? scale * ((float)r + 0.5f) - 0.5f : scale * (float)r;
    int64_t lo = (int64_t)floorf(src);
    if (lo < 0)
        lo = 0;
    int64_t hi = (int64_t)ceilf(src);
    if (hi > size - 1)
        hi = size - 1;
    *i0 = lo;
    *i1 = hi;
    return src - (float)lo;
}

/* One output row of ResizeBilinear (tfjs-backend-cpu, docs/model-notes.md §2
 * "Bilinear resize formula"), float32 math in TF.js's order. */
void nn_resize_row(const ccc_nn_model *m, const nn_node *n, int64_t r)
{
    const nn_value *a = &m->values[n->in[0]], *ov = &m->values[n->out[0]];
    const float *x = nn_f(m, n->in[0]);
    float *o = nn_f(m, n->out[0]);
    int64_t H = a->shape[1], W = a->shape[2], C = a->shape[3], OH = ov->shape[1], OW = ov->shape[2];
    float sy = (n->align_corners && OH > 1) ? (float)(H - 1) / (float)(OH - 1) : (float)H / (float)OH;
    float sx = (n->align_corners && OW > 1) ? (float)(W - 1) / (float)(OW - 1) : (float)W / (float)OW;
    int64_t y0, y1;
    float dy = nn_resize_source(sy, r, n->half_pixel, H, &y0, &y1);
    for (int64_t c = 0; c < OW; c++) {
        int64_t x0, x1;
        float dx = nn_resize_source(sx, c, n->half_pixel, W, &x0, &x1);
        for (int64_t ch = 0; ch < C; ch++) {
            float tl = x[(y0 * W + x0) * C + ch], tr = x[(y0 * W + x1) * C + ch];
            float bl = x[(y1 * W + x0) * C + ch], br = x[(y1 * W + x1) * C + ch];
            float top = tl + (tr - tl) * dx, bot = bl + (br - bl) * dx;
            o[(r * OW + c) * C + ch] = top + (bot - top) * dy;
        }
    }
}

static ccc_status ref_resize(ccc_nn_model *m, const nn_node *n)
{
    for (int64_t r = 0; r < m->values[n->out[0]].shape[1]; r++)
        nn_resize_row(m, n, r);
    return CCC_OK;
}

/* MaxPool: padded taps are ignored (TF pads with -inf). */
static ccc_status ref_maxpool(ccc_nn_model *m, const nn_node *n)
{
    const nn_value *a = &m->values[n->in[0]], *ov = &m->values[n->out[0]];
    const float *x = nn_f(m, n->in[0]);
    float *o = nn_f(m, n->out[0]);
    int64_t H = a->shape[1], W = a->shape[2], C = a->shape[3];
    for (int64_t oy = 0; oy < ov->shape[1]; oy++)
        for (int64_t ox = 0; ox < ov->shape[2]; ox++)
            for (int64_t c = 0; c < C; c++) {
                float best = -INFINITY;
                for (int ky = 0; ky < n->kh; ky++)
                    for (int kx = 0; kx < n->kw; kx++) {
                        int64_t iy = oy * n->sh - n->pad_top + ky, ix = ox * n->sw - n->pad_left + kx;
                        if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                            continue;
                        float v = x[(iy * W + ix) * C + c];
                        if (v > best || isnan(v))
                            best = v;
                    }
                o[(oy * ov->shape[2] + ox) * C + c] = best;
            }
    return CCC_OK;
}

/* TopK order (TF.js TopK_impl comparePair): value descending, then lower
 * index first. NaN ranks above every number (a total order). */
typedef struct topk_item {
    float v;
    int32_t i;
} topk_item;

static int topk_cmp(const void *pa, const void *pb)
{
    const topk_item *a = pa, *b = pb;
    bool na = isnan(a->v), nb = isnan(b->v);
    if (na != nb)
        return na ? -1 : 1;
    if (!na && a->v != b->v)
        return a->v > b->v ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

static ccc_status ref_topk(ccc_nn_model *m, const nn_node *n)
{
    const nn_value *a = &m->values[n->in[0]];
    size_t len = (size_t)a->shape[a->rank - 1], rows = a->count / len;
    topk_item *items = malloc(len * sizeof *items);
    CCC_ENSURE(items != NULL, CCC_ERR_NOMEM, "nn: out of memory");
    for (size_t r = 0; r < rows; r++) {
        const float *x = nn_f(m, n->in[0]) + r * len;
        for (size_t i = 0; i < len; i++)
            items[i] = (topk_item){x[i], (int32_t)i};
        qsort(items, len, sizeof *items, topk_cmp);
        for (int k = 0; k < n->k; k++) {
            nn_f(m, n->out[0])[r * (size_t)n->k + (size_t)k] = items[k].v;
            nn_i(m, n->out[1])[r * (size_t)n->k + (size_t)k] = items[k].i;
        }
    }
    free(items);
    return CCC_OK;
}

static ccc_status ref_gather(ccc_nn_model *m, const nn_node *n)
{
    const nn_value *a = &m->values[n->in[0]], *iv = &m->values[n->in[1]];
    size_t outer = 1, inner = 1, nax = (size_t)a->shape[n->axis];
    for (int d = 0; d < n->axis; d++)
        outer *= (size_t)a->shape[d];
    for (int d = n->axis + 1; d < a->rank; d++)
        inner *= (size_t)a->shape[d];
    const uint8_t *x = nn_data(m, n->in[0]);
    const int32_t *idx = nn_i(m, n->in[1]);
    uint8_t *o = nn_data(m, n->out[0]);
    for (size_t q = 0; q < outer; q++)
        for (size_t j = 0; j < iv->count; j++) {
            CCC_ENSURE(idx[j] >= 0 && (size_t)idx[j] < nax, CCC_ERR_PARSE,
                       "nn: GatherV2 index out of range");
            memcpy(o, x + (q * nax + (size_t)idx[j]) * inner * 4, inner * 4);
            o += inner * 4;
        }
    return CCC_OK;
}

static ccc_status ref_nothing(ccc_nn_model *m, const nn_node *n)
{
    (void)m;
    (void)n;
    return CCC_OK; /* Const, Placeholder and aliases (Identity, Reshape, ExpandDims) */
}

nn_kernel_fn nn_ref_kernel(nn_op op)
{
    switch (op) {
    case OP_FUSEDCONV2D:
    case OP_CONV2D:
    case OP_FUSEDDEPTHWISE:
    case OP_DEPTHWISE: return ref_conv;
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_FLOORDIV:
    case OP_FLOORMOD:
    case OP_EQUAL: return ref_binary;
    case OP_RELU:
    case OP_RELU6:
    case OP_SIGMOID: return ref_unary;
    case OP_CAST: return ref_cast;
    case OP_MEAN: return ref_mean;
    case OP_CONCAT: return ref_concat;
    case OP_STRIDEDSLICE: return ref_strided_slice;
    case OP_RESIZEBILINEAR: return ref_resize;
    case OP_MAXPOOL: return ref_maxpool;
    case OP_TOPK: return ref_topk;
    case OP_GATHER: return ref_gather;
    default: return ref_nothing;
    }
}
