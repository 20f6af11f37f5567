/*
 * Fast kernels. The dense convolutions (1×1 pointwise and k×k) run as an
 * implicit GEMM: output pixels × output channels, K = kh·kw·cin, with the
 * filter packed at load into panels of NR output channels (bias first, then
 * K rows of NR, zero-padded), and a register-blocked micro-kernel of MR=6
 * pixels × NR channels that reads each input tap through a row pointer
 * (a shared zero row stands in for padding). Bias and Relu/Relu6 are fused
 * into the store. Depthwise convolutions vectorise over channels.
 *
 * Three instruction sets, chosen once at load (__builtin_cpu_supports):
 * AVX-512 (NR=32), AVX2+FMA (NR=16) and portable C (NR=16). Work is split
 * over the model's thread pool. Results differ from the reference kernels
 * only by rounding (FMA, summation order).
 */
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn/internal.h"

#define MR 6

int nn_fast_detect_isa(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("fma"))
        return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return 1;
#endif
    return 0;
}

static bool is_dense(const nn_node *n)
{
    return n->op == OP_FUSEDCONV2D || n->op == OP_CONV2D;
}

static size_t topk_scratch(const ccc_nn_model *m, const nn_node *n);

/* Pack the HWIO filter of a dense conv into [block]{bias[NR], w[K][NR]}. */
ccc_status nn_fast_pack(ccc_nn_model *m, nn_node *n)
{
    size_t need = 0;
    if (n->op == OP_TOPK)
        need = topk_scratch(m, n);
    if (n->op == OP_MEAN)
        need = m->values[n->out[0]].count * sizeof(double);
    if (need > m->scratch_size) {
        free(m->scratch);
        m->scratch = malloc(need);
        CCC_ENSURE(m->scratch != NULL, CCC_ERR_NOMEM, "nn: out of memory");
        m->scratch_size = need;
    }
    if (!is_dense(n))
        return CCC_OK;
    const nn_value *wv = &m->values[n->in[1]];
    const float *w = nn_f(m, n->in[1]);
    const float *bias = n->has_bias ? nn_f(m, n->in[2]) : NULL;
    int nr = m->isa == 2 ? 32 : 16;
    size_t K = (size_t)(wv->shape[0] * wv->shape[1] * wv->shape[2]);
    size_t CO = (size_t)wv->shape[3];
    size_t blocks = (CO + (size_t)nr - 1) / (size_t)nr;
    size_t panel = (K + 1) * (size_t)nr;
    size_t size = blocks * panel * sizeof(float);
    float *p = aligned_alloc(NN_ALIGN, (size + NN_ALIGN - 1) / NN_ALIGN * NN_ALIGN);
    CCC_ENSURE(p != NULL, CCC_ERR_NOMEM, "nn: out of memory");
    memset(p, 0, size);
    for (size_t b = 0; b < blocks; b++) {
        float *pp = p + b * panel;
        for (int j = 0; j < nr; j++) {
            size_t co = b * (size_t)nr + (size_t)j;
            if (co >= CO)
                continue;
            pp[j] = bias ? bias[co] : 0.0f;
            for (size_t k = 0; k < K; k++)
                pp[(size_t)nr + k * (size_t)nr + (size_t)j] = w[k * CO + co];
        }
    }
    n->packed = p;
    n->pack_nr = nr;
    m->packed_size += size;
    return CCC_OK;
}

/* ------------------------------------------------------------------------ */
/* Dense convolution micro-kernels                                           */
/* ------------------------------------------------------------------------ */

typedef void (*tile_fn)(const float *const *rows, int taps, int cin, const float *panel,
                        nn_act act, float *out, size_t ostride, int mr, int ncols);

__attribute__((target("avx512f,avx512vl,fma"))) static void
tile_avx512(const float *const *rows, int taps, int cin, const float *panel, nn_act act,
            float *out, size_t ostride, int mr, int ncols)
{
    __m512 bias0 = _mm512_load_ps(panel), bias1 = _mm512_load_ps(panel + 16);
    __m512 c00 = bias0, c01 = bias1, c10 = bias0, c11 = bias1, c20 = bias0, c21 = bias1;
    __m512 c30 = bias0, c31 = bias1, c40 = bias0, c41 = bias1, c50 = bias0, c51 = bias1;
    const float *w = panel + 32;
    for (int t = 0; t < taps; t++) {
        const float *a0 = rows[t * MR + 0], *a1 = rows[t * MR + 1], *a2 = rows[t * MR + 2];
        const float *a3 = rows[t * MR + 3], *a4 = rows[t * MR + 4], *a5 = rows[t * MR + 5];
        for (int c = 0; c < cin; c++) {
            __m512 b0 = _mm512_load_ps(w), b1 = _mm512_load_ps(w + 16), v;
            w += 32;
            v = _mm512_set1_ps(a0[c]);
            c00 = _mm512_fmadd_ps(v, b0, c00);
            c01 = _mm512_fmadd_ps(v, b1, c01);
            v = _mm512_set1_ps(a1[c]);
            c10 = _mm512_fmadd_ps(v, b0, c10);
            c11 = _mm512_fmadd_ps(v, b1, c11);
            v = _mm512_set1_ps(a2[c]);
            c20 = _mm512_fmadd_ps(v, b0, c20);
            c21 = _mm512_fmadd_ps(v, b1, c21);
            v = _mm512_set1_ps(a3[c]);
            c30 = _mm512_fmadd_ps(v, b0, c30);
            c31 = _mm512_fmadd_ps(v, b1, c31);
            v = _mm512_set1_ps(a4[c]);
            c40 = _mm512_fmadd_ps(v, b0, c40);
            c41 = _mm512_fmadd_ps(v, b1, c41);
            v = _mm512_set1_ps(a5[c]);
            c50 = _mm512_fmadd_ps(v, b0, c50);
            c51 = _mm512_fmadd_ps(v, b1, c51);
        }
    }
    __m512 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    __mmask16 k0 = ncols >= 16 ? 0xffff : (__mmask16)((1u << ncols) - 1);
    __mmask16 k1 = ncols >= 32 ? 0xffff : ncols > 16 ? (__mmask16)((1u << (ncols - 16)) - 1) : 0;
    __m512 zero = _mm512_setzero_ps(), six = _mm512_set1_ps(6.0f);
    for (int p = 0; p < mr; p++) {
        __m512 x0 = acc[p][0], x1 = acc[p][1];
        if (act != ACT_NONE) {
            x0 = _mm512_max_ps(x0, zero);
            x1 = _mm512_max_ps(x1, zero);
            if (act == ACT_RELU6) {
                x0 = _mm512_min_ps(x0, six);
                x1 = _mm512_min_ps(x1, six);
            }
        }
        _mm512_mask_storeu_ps(out + (size_t)p * ostride, k0, x0);
        _mm512_mask_storeu_ps(out + (size_t)p * ostride + 16, k1, x1);
    }
}

__attribute__((target("avx2,fma"))) static void
tile_avx2(const float *const *rows, int taps, int cin, const float *panel, nn_act act, float *out,
          size_t ostride, int mr, int ncols)
{
    __m256 bias0 = _mm256_load_ps(panel), bias1 = _mm256_load_ps(panel + 8);
    __m256 c00 = bias0, c01 = bias1, c10 = bias0, c11 = bias1, c20 = bias0, c21 = bias1;
    __m256 c30 = bias0, c31 = bias1, c40 = bias0, c41 = bias1, c50 = bias0, c51 = bias1;
    const float *w = panel + 16;
    for (int t = 0; t < taps; t++) {
        const float *a0 = rows[t * MR + 0], *a1 = rows[t * MR + 1], *a2 = rows[t * MR + 2];
        const float *a3 = rows[t * MR + 3], *a4 = rows[t * MR + 4], *a5 = rows[t * MR + 5];
        for (int c = 0; c < cin; c++) {
            __m256 b0 = _mm256_load_ps(w), b1 = _mm256_load_ps(w + 8), v;
            w += 16;
            v = _mm256_broadcast_ss(a0 + c);
            c00 = _mm256_fmadd_ps(v, b0, c00);
            c01 = _mm256_fmadd_ps(v, b1, c01);
            v = _mm256_broadcast_ss(a1 + c);
            c10 = _mm256_fmadd_ps(v, b0, c10);
            c11 = _mm256_fmadd_ps(v, b1, c11);
            v = _mm256_broadcast_ss(a2 + c);
            c20 = _mm256_fmadd_ps(v, b0, c20);
            c21 = _mm256_fmadd_ps(v, b1, c21);
            v = _mm256_broadcast_ss(a3 + c);
            c30 = _mm256_fmadd_ps(v, b0, c30);
            c31 = _mm256_fmadd_ps(v, b1, c31);
            v = _mm256_broadcast_ss(a4 + c);
            c40 = _mm256_fmadd_ps(v, b0, c40);
            c41 = _mm256_fmadd_ps(v, b1, c41);
            v = _mm256_broadcast_ss(a5 + c);
            c50 = _mm256_fmadd_ps(v, b0, c50);
            c51 = _mm256_fmadd_ps(v, b1, c51);
        }
    }
    __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    __m256 zero = _mm256_setzero_ps(), six = _mm256_set1_ps(6.0f);
    for (int p = 0; p < mr; p++) {
        __m256 x0 = acc[p][0], x1 = acc[p][1];
        if (act != ACT_NONE) {
            x0 = _mm256_max_ps(x0, zero);
            x1 = _mm256_max_ps(x1, zero);
            if (act == ACT_RELU6) {
                x0 = _mm256_min_ps(x0, six);
                x1 = _mm256_min_ps(x1, six);
            }
        }
        float *o = out + (size_t)p * ostride;
        if (ncols >= 16) {
            _mm256_storeu_ps(o, x0);
            _mm256_storeu_ps(o + 8, x1);
        } else {
            float tmp[16];
            _mm256_storeu_ps(tmp, x0);
            _mm256_storeu_ps(tmp + 8, x1);
            memcpy(o, tmp, (size_t)ncols * sizeof(float));
        }
    }
}

static void tile_portable(const float *const *rows, int taps, int cin, const float *panel,
                          nn_act act, float *out, size_t ostride, int mr, int ncols)
{
    float acc[MR][16];
    for (int p = 0; p < MR; p++)
        for (int j = 0; j < 16; j++)
            acc[p][j] = panel[j];
    const float *w = panel + 16;
    for (int t = 0; t < taps; t++) {
        for (int c = 0; c < cin; c++) {
            for (int p = 0; p < MR; p++) {
                float a = rows[t * MR + p][c];
                for (int j = 0; j < 16; j++)
                    acc[p][j] += a * w[j];
            }
            w += 16;
        }
    }
    for (int p = 0; p < mr; p++)
        for (int j = 0; j < ncols; j++) {
            float x = acc[p][j];
            if (act != ACT_NONE)
                x = x < 0.0f ? 0.0f : x;
            if (act == ACT_RELU6)
                x = x > 6.0f ? 6.0f : x;
            out[(size_t)p * ostride + (size_t)j] = x;
        }
}

typedef struct conv_job {
    const ccc_nn_model *m;
    const nn_node *n;
    const float *x;
    float *o;
    int64_t H, W, C, OW, CO;
    size_t npix, chunk, nchunks, nblk;
    tile_fn tile;
} conv_job;

static void conv_task(void *ctx, size_t task)
{
    const conv_job *j = ctx;
    const nn_node *n = j->n;
    size_t blk = task / j->nchunks, chunk = task % j->nchunks;
    size_t p0 = chunk * j->chunk, p1 = p0 + j->chunk;
    if (p1 > j->npix)
        p1 = j->npix;
    int nr = n->pack_nr, taps = n->kh * n->kw;
    size_t K = (size_t)taps * (size_t)j->C;
    const float *panel = n->packed + blk * (K + 1) * (size_t)nr;
    int ncols = (int)(j->CO - (int64_t)blk * nr);
    if (ncols > nr)
        ncols = nr;
    const float *rows[MR * 15 * 15];
    bool pointwise = (taps == 1 && n->sh == 1 && n->sw == 1);
    for (size_t p = p0; p < p1; p += MR) {
        int mr = (int)(p1 - p < MR ? p1 - p : MR);
        for (int q = 0; q < MR; q++) {
            if (q >= mr) {
                for (int t = 0; t < taps; t++)
                    rows[t * MR + q] = j->m->zeros;
                continue;
            }
            size_t pix = p + (size_t)q;
            if (pointwise) {
                rows[q] = j->x + pix * (size_t)j->C;
                continue;
            }
            int64_t oy = (int64_t)(pix / (size_t)j->OW), ox = (int64_t)(pix % (size_t)j->OW);
            for (int ky = 0; ky < n->kh; ky++) {
                int64_t iy = oy * n->sh - n->pad_top + ky;
                for (int kx = 0; kx < n->kw; kx++) {
                    int64_t ix = ox * n->sw - n->pad_left + kx;
                    bool in = iy >= 0 && iy < j->H && ix >= 0 && ix < j->W;
                    rows[(ky * n->kw + kx) * MR + q] =
                        in ? j->x + (iy * j->W + ix) * j->C : j->m->zeros;
                }
            }
        }
        j->tile(rows, taps, (int)j->C, panel, n->act,
                j->o + p * (size_t)j->CO + blk * (size_t)nr, (size_t)j->CO, mr, ncols);
    }
}

static ccc_status fast_dense(ccc_nn_model *m, const nn_node *n)
{
    const nn_value *xv = &m->values[n->in[0]], *ov = &m->values[n->out[0]];
    conv_job j = {.m = m, .n = n, .x = nn_f(m, n->in[0]), .o = nn_f(m, n->out[0]),
                  .H = xv->shape[1], .W = xv->shape[2], .C = xv->shape[3],
                  .OW = ov->shape[2], .CO = ov->shape[3]};
    j.tile = m->isa == 2 ? tile_avx512 : m->isa == 1 ? tile_avx2 : tile_portable;
    j.npix = (size_t)(ov->shape[1] * ov->shape[2]);
    j.nblk = (size_t)((j.CO + n->pack_nr - 1) / n->pack_nr);
    /* about 8 tasks per thread, at least a few tiles each */
    size_t want = (size_t)m->threads * 8;
    size_t per = want > j.nblk ? want / j.nblk : 1;
    j.chunk = (j.npix + per - 1) / per;
    j.chunk = (j.chunk + MR - 1) / MR * MR;
    if (j.chunk < 4 * MR)
        j.chunk = 4 * MR;
    j.nchunks = (j.npix + j.chunk - 1) / j.chunk;
    nn_pool_run(m->pool, conv_task, &j, j.nblk * j.nchunks);
    return CCC_OK;
}

/* ------------------------------------------------------------------------ */
/* Depthwise convolution                                                     */
/* ------------------------------------------------------------------------ */

typedef struct dw_job {
    const ccc_nn_model *m;
    const nn_node *n;
    const float *x, *w, *bias;
    float *o;
    int64_t H, W, C, OH, OW;
    size_t rows_per_task;
} dw_job;

/* Valid tap range [k0,k1) of output position o (TF SAME/VALID geometry). */
static void tap_range(int64_t o, int s, int pad, int k, int64_t in, int *k0, int *k1)
{
    int64_t base = o * s - pad;
    int64_t lo = base < 0 ? -base : 0, hi = in - base;
    *k0 = (int)lo;
    *k1 = (int)(hi < k ? hi : k);
}

__attribute__((target("avx512f,avx512vl,fma"))) static void dw_row_avx512(const dw_job *j, int64_t oy)
{
    const nn_node *n = j->n;
    __m512 zero = _mm512_setzero_ps(), six = _mm512_set1_ps(6.0f);
    int ky0, ky1;
    tap_range(oy, n->sh, n->pad_top, n->kh, j->H, &ky0, &ky1);
    for (int64_t c = 0; c < j->C; c += 16) {
        int64_t rem = j->C - c;
        __mmask16 k = rem >= 16 ? 0xffff : (__mmask16)((1u << rem) - 1);
        __m512 wr[15 * 15];
        for (int t = 0; t < n->kh * n->kw; t++)
            wr[t] = _mm512_maskz_loadu_ps(k, j->w + t * j->C + c);
        __m512 bias = j->bias ? _mm512_maskz_loadu_ps(k, j->bias + c) : zero;
        for (int64_t ox = 0; ox < j->OW;) {
            int kx0, kx1, kx0b, kx1b;
            tap_range(ox, n->sw, n->pad_left, n->kw, j->W, &kx0, &kx1);
            tap_range(ox + 3, n->sw, n->pad_left, n->kw, j->W, &kx0b, &kx1b);
            /* may be negative; only in-range taps are added to it */
            int64_t xo = ((oy * n->sh - n->pad_top) * j->W + (ox * n->sw - n->pad_left)) * j->C + c;
            float *op = j->o + (oy * j->OW + ox) * j->C + c;
            if (ox + 4 <= j->OW && kx0 == 0 && kx1 == n->kw && kx0b == 0 && kx1b == n->kw) {
                /* four interior pixels: independent accumulators hide FMA latency */
                int64_t step = (int64_t)n->sw * j->C;
                __m512 a0 = zero, a1 = zero, a2 = zero, a3 = zero;
                for (int ky = ky0; ky < ky1; ky++)
                    for (int kx = 0; kx < n->kw; kx++) {
                        const float *xp = j->x + (xo + (ky * j->W + kx) * j->C);
                        __m512 wv = wr[ky * n->kw + kx];
                        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, xp), wv, a0);
                        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, xp + step), wv, a1);
                        a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, xp + 2 * step), wv, a2);
                        a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, xp + 3 * step), wv, a3);
                    }
                __m512 r[4] = {a0, a1, a2, a3};
                for (int q = 0; q < 4; q++) {
                    __m512 acc = _mm512_add_ps(r[q], bias);
                    if (n->act != ACT_NONE)
                        acc = _mm512_max_ps(acc, zero);
                    if (n->act == ACT_RELU6)
                        acc = _mm512_min_ps(acc, six);
                    _mm512_mask_storeu_ps(op + q * j->C, k, acc);
                }
                ox += 4;
                continue;
            }
            __m512 acc = zero;
            for (int ky = ky0; ky < ky1; ky++)
                for (int kx = kx0; kx < kx1; kx++)
                    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, j->x + (xo + (ky * j->W + kx) * j->C)),
                                          wr[ky * n->kw + kx], acc);
            acc = _mm512_add_ps(acc, bias);
            if (n->act != ACT_NONE)
                acc = _mm512_max_ps(acc, zero);
            if (n->act == ACT_RELU6)
                acc = _mm512_min_ps(acc, six);
            _mm512_mask_storeu_ps(op, k, acc);
            ox++;
        }
    }
}

__attribute__((target("avx2,fma"))) static void dw_row_avx2(const dw_job *j, int64_t oy)
{
    const nn_node *n = j->n;
    __m256 zero = _mm256_setzero_ps(), six = _mm256_set1_ps(6.0f);
    int ky0, ky1;
    tap_range(oy, n->sh, n->pad_top, n->kh, j->H, &ky0, &ky1);
    for (int64_t c = 0; c < j->C; c += 8) {
        int64_t rem = j->C - c;
        int cnt = rem >= 8 ? 8 : (int)rem;
        __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(cnt), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        __m256 wr[15 * 15];
        for (int t = 0; t < n->kh * n->kw; t++)
            wr[t] = _mm256_maskload_ps(j->w + t * j->C + c, mask);
        __m256 bias = j->bias ? _mm256_maskload_ps(j->bias + c, mask) : zero;
        for (int64_t ox = 0; ox < j->OW; ox++) {
            int kx0, kx1;
            tap_range(ox, n->sw, n->pad_left, n->kw, j->W, &kx0, &kx1);
            int64_t xo = ((oy * n->sh - n->pad_top) * j->W + (ox * n->sw - n->pad_left)) * j->C + c;
            __m256 acc = zero;
            for (int ky = ky0; ky < ky1; ky++)
                for (int kx = kx0; kx < kx1; kx++)
                    acc = _mm256_fmadd_ps(_mm256_maskload_ps(j->x + (xo + (ky * j->W + kx) * j->C), mask),
                                          wr[ky * n->kw + kx], acc);
            acc = _mm256_add_ps(acc, bias);
            if (n->act != ACT_NONE)
                acc = _mm256_max_ps(acc, zero);
            if (n->act == ACT_RELU6)
                acc = _mm256_min_ps(acc, six);
            _mm256_maskstore_ps(j->o + (oy * j->OW + ox) * j->C + c, mask, acc);
        }
    }
}

static void dw_row_portable(const dw_job *j, int64_t oy)
{
    const nn_node *n = j->n;
    for (int64_t ox = 0; ox < j->OW; ox++) {
        float *o = j->o + (oy * j->OW + ox) * j->C;
        for (int64_t c = 0; c < j->C; c++)
            o[c] = 0.0f;
        for (int ky = 0; ky < n->kh; ky++) {
            int64_t iy = oy * n->sh - n->pad_top + ky;
            if (iy < 0 || iy >= j->H)
                continue;
            for (int kx = 0; kx < n->kw; kx++) {
                int64_t ix = ox * n->sw - n->pad_left + kx;
                if (ix < 0 || ix >= j->W)
                    continue;
                const float *xp = j->x + (iy * j->W + ix) * j->C;
                const float *wp = j->w + (ky * n->kw + kx) * j->C;
                for (int64_t c = 0; c < j->C; c++)
                    o[c] += xp[c] * wp[c];
            }
        }
        for (int64_t c = 0; c < j->C; c++) {
            float acc = o[c] + (j->bias ? j->bias[c] : 0.0f);
            if (n->act != ACT_NONE)
                acc = acc < 0.0f ? 0.0f : acc;
            if (n->act == ACT_RELU6)
                acc = acc > 6.0f ? 6.0f : acc;
            o[c] = acc;
        }
    }
}

static void dw_task(void *ctx, size_t task)
{
    const dw_job *j = ctx;
    int64_t y0 = (int64_t)(task * j->rows_per_task), y1 = y0 + (int64_t)j->rows_per_task;
    if (y1 > j->OH)
        y1 = j->OH;
    for (int64_t oy = y0; oy < y1; oy++) {
        if (j->m->isa == 2)
            dw_row_avx512(j, oy);
        else if (j->m->isa == 1)
            dw_row_avx2(j, oy);
        else
            dw_row_portable(j, oy);
    }
}

static ccc_status fast_depthwise(ccc_nn_model *m, const nn_node *n)
{
    const nn_value *xv = &m->values[n->in[0]], *ov = &m->values[n->out[0]];
    dw_job j = {.m = m, .n = n, .x = nn_f(m, n->in[0]), .w = nn_f(m, n->in[1]),
                .bias = n->has_bias ? nn_f(m, n->in[2]) : NULL, .o = nn_f(m, n->out[0]),
                .H = xv->shape[1], .W = xv->shape[2], .C = xv->shape[3],
                .OH = ov->shape[1], .OW = ov->shape[2]};
    size_t tasks = (size_t)m->threads * 4;
    if (tasks > (size_t)j.OH)
        tasks = (size_t)j.OH;
    j.rows_per_task = ((size_t)j.OH + tasks - 1) / tasks;
    nn_pool_run(m->pool, dw_task, &j, ((size_t)j.OH + j.rows_per_task - 1) / j.rows_per_task);
    return CCC_OK;
}

/* ------------------------------------------------------------------------ */
/* Element-wise                                                              */
/* ------------------------------------------------------------------------ */

#define EW_CHUNK 16384

typedef struct ew_job {
    const ccc_nn_model *m;
    const nn_node *n;
    const float *a, *b;
    float *o;
    size_t count;
    size_t chunk;  /* elements per task */
    size_t bcount; /* elements of b, repeated along o (1 = scalar) */
    bool swap;     /* b is the left operand */
} ew_job;

static void binary_task(void *ctx, size_t task)
{
    const ew_job *j = ctx;
    size_t i0 = task * j->chunk, i1 = i0 + j->chunk;
    if (i1 > j->count)
        i1 = j->count;
    const float *a = j->a, *b = j->b;
    float *o = j->o;
    nn_op op = j->n->op;
    if (j->bcount == j->count) {
        if (op == OP_ADD)
            for (size_t i = i0; i < i1; i++) o[i] = a[i] + b[i];
        else if (op == OP_MUL)
            for (size_t i = i0; i < i1; i++) o[i] = a[i] * b[i];
        else
            for (size_t i = i0; i < i1; i++) o[i] = j->swap ? b[i] - a[i] : a[i] - b[i];
        return;
    }
    if (j->bcount == 1) {
        float s = b[0];
        if (op == OP_ADD)
            for (size_t i = i0; i < i1; i++) o[i] = a[i] + s;
        else if (op == OP_MUL)
            for (size_t i = i0; i < i1; i++) o[i] = a[i] * s;
        else if (j->swap)
            for (size_t i = i0; i < i1; i++) o[i] = s - a[i];
        else
            for (size_t i = i0; i < i1; i++) o[i] = a[i] - s;
        return;
    }
    size_t bc = j->bcount; /* chunks are multiples of bc: see fast_binary */
    for (size_t i = i0; i < i1; i += bc) {
        if (op == OP_ADD)
            for (size_t c = 0; c < bc; c++) o[i + c] = a[i + c] + b[c];
        else if (op == OP_MUL)
            for (size_t c = 0; c < bc; c++) o[i + c] = a[i + c] * b[c];
        else if (j->swap)
            for (size_t c = 0; c < bc; c++) o[i + c] = b[c] - a[i + c];
        else
            for (size_t c = 0; c < bc; c++) o[i + c] = a[i + c] - b[c];
    }
}

/* Is `small` a trailing slice of `big` (leading dims 1), so it repeats? */
static bool repeats_inner(const nn_value *big, const nn_value *small)
{
    int off = big->rank - small->rank;
    if (off < 0)
        return false;
    int d = 0;
    while (d < small->rank && small->shape[d] == 1)
        d++;
    for (; d < small->rank; d++)
        if (small->shape[d] != big->shape[off + d])
            return false;
    return true;
}

static ccc_status fast_binary(ccc_nn_model *m, const nn_node *n)
{
    const nn_value *av = &m->values[n->in[0]], *bv = &m->values[n->in[1]];
    const nn_value *ov = &m->values[n->out[0]];
    if (av->dtype != NN_F32)
        return nn_ref_kernel(n->op)(m, n);
    if (n->op == OP_EQUAL) {
        if (av->count != ov->count || bv->count != ov->count)
            return nn_ref_kernel(n->op)(m, n);
        const float *a = nn_f(m, n->in[0]), *b = nn_f(m, n->in[1]);
        int32_t *o = nn_i(m, n->out[0]);
        for (size_t i = 0; i < ov->count; i++)
            o[i] = (a[i] == b[i]);
        return CCC_OK;
    }
    ew_job j = {.m = m, .n = n, .o = nn_f(m, n->out[0]), .count = ov->count};
    if (av->count == ov->count && repeats_inner(ov, bv)) {
        j.a = nn_f(m, n->in[0]);
        j.b = nn_f(m, n->in[1]);
        j.bcount = bv->count;
    } else if (bv->count == ov->count && repeats_inner(ov, av)) {
        j.a = nn_f(m, n->in[1]);
        j.b = nn_f(m, n->in[0]);
        j.bcount = av->count;
        j.swap = true;
    } else {
        return nn_ref_kernel(n->op)(m, n);
    }
    j.chunk = EW_CHUNK;
    if (j.bcount != 1 && j.bcount != j.count)
        j.chunk = (EW_CHUNK + j.bcount - 1) / j.bcount * j.bcount; /* whole repeats */
    nn_pool_run(m->pool, binary_task, &j, (j.count + j.chunk - 1) / j.chunk);
    return CCC_OK;
}

/* Sigmoid via an exp with ~1 ulp error (Cephes expf polynomial). */
__attribute__((target("avx512f,avx512vl,fma"))) static void sigmoid_avx512(const float *x, float *o,
                                                                            size_t n)
{
    const __m512 one = _mm512_set1_ps(1.0f), lo = _mm512_set1_ps(-87.0f), hi = _mm512_set1_ps(88.0f);
    const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
    const __m512 c1 = _mm512_set1_ps(0.693359375f), c2 = _mm512_set1_ps(-2.12194440e-4f);
    for (size_t i = 0; i < n; i += 16) {
        size_t rem = n - i;
        __mmask16 k = rem >= 16 ? 0xffff : (__mmask16)((1u << rem) - 1);
        __m512 v = _mm512_maskz_loadu_ps(k, x + i);
        __m512 t = _mm512_sub_ps(_mm512_setzero_ps(), v); /* exp(-x) */
        t = _mm512_min_ps(_mm512_max_ps(t, lo), hi);
        __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(t, log2e), _MM_FROUND_TO_NEAREST_INT);
        __m512 r = _mm512_fnmadd_ps(fx, c1, t);
        r = _mm512_fnmadd_ps(fx, c2, r);
        __m512 p = _mm512_set1_ps(1.9875691500e-4f);
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
        p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, one));
        __m512 e = _mm512_scalef_ps(p, fx);
        __m512 s = _mm512_div_ps(one, _mm512_add_ps(one, e));
        /* NaN in, NaN out */
        __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        s = _mm512_mask_mov_ps(s, nan, v);
        _mm512_mask_storeu_ps(o + i, k, s);
    }
}

static void unary_task(void *ctx, size_t task)
{
    const ew_job *j = ctx;
    if (j->n->op == OP_HSWISH) {
        size_t i0 = task * EW_CHUNK, i1 = i0 + EW_CHUNK;
        if (i1 > j->count)
            i1 = j->count;
        const float *x = j->a;
        float *o = j->o;
        float c = j->n->hs_c, a = j->n->hs_a;
        /* exactly the unfused graph: (x*c) * relu6(x + a) */
        for (size_t i = i0; i < i1; i++) {
            float t = x[i] + a;
            t = t < 0.0f ? 0.0f : (t > 6.0f ? 6.0f : t);
            o[i] = (x[i] * c) * t;
        }
        return;
    }
    size_t i0 = task * EW_CHUNK, i1 = i0 + EW_CHUNK;
    if (i1 > j->count)
        i1 = j->count;
    const float *x = j->a;
    float *o = j->o;
    switch (j->n->op) {
    case OP_RELU:
        for (size_t i = i0; i < i1; i++)
            o[i] = x[i] < 0.0f ? 0.0f : x[i];
        break;
    case OP_RELU6:
        for (size_t i = i0; i < i1; i++)
            o[i] = x[i] < 0.0f ? 0.0f : (x[i] > 6.0f ? 6.0f : x[i]);
        break;
    default:
        if (j->m->isa == 2)
            sigmoid_avx512(x + i0, o + i0, i1 - i0);
        else
            for (size_t i = i0; i < i1; i++)
                o[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    }
}

static ccc_status fast_unary(ccc_nn_model *m, const nn_node *n)
{
    ew_job j = {.m = m, .n = n, .a = nn_f(m, n->in[0]), .o = nn_f(m, n->out[0]),
                .count = m->values[n->out[0]].count};
    nn_pool_run(m->pool, unary_task, &j, (j.count + EW_CHUNK - 1) / EW_CHUNK);
    return CCC_OK;
}

/* ------------------------------------------------------------------------ */
/* Mean over H,W; MaxPool; TopK                                              */
/* ------------------------------------------------------------------------ */

static ccc_status fast_mean(ccc_nn_model *m, const nn_node *n)
{
    const nn_value *a = &m->values[n->in[0]];
    if (!(a->rank == 4 && n->axes_mask == 6u))
        return nn_ref_kernel(n->op)(m, n);
    size_t pix = (size_t)(a->shape[0] * a->shape[1] * a->shape[2]), C = (size_t)a->shape[3];
    if (a->shape[0] != 1)
        return nn_ref_kernel(n->op)(m, n);
    double *acc = m->scratch;
    const float *x = nn_f(m, n->in[0]);
    for (size_t c = 0; c < C; c++)
        acc[c] = 0.0;
    for (size_t p = 0; p < pix; p++)
        for (size_t c = 0; c < C; c++)
            acc[c] += x[p * C + c];
    float *o = nn_f(m, n->out[0]);
    for (size_t c = 0; c < C; c++)
        o[c] = (float)(acc[c] / (double)pix);
    return CCC_OK;
}

typedef struct pool_job {
    const nn_node *n;
    const float *x;
    float *o;
    int64_t H, W, C, OW;
} pool_job;

static void maxpool_task(void *ctx, size_t oy_)
{
    const pool_job *j = ctx;
    const nn_node *n = j->n;
    int64_t oy = (int64_t)oy_;
    for (int64_t ox = 0; ox < j->OW; ox++) {
        float *o = j->o + (oy * j->OW + ox) * j->C;
        for (int64_t c = 0; c < j->C; c++)
            o[c] = -INFINITY;
        for (int ky = 0; ky < n->kh; ky++) {
            int64_t iy = oy * n->sh - n->pad_top + ky;
            if (iy < 0 || iy >= j->H)
                continue;
            for (int kx = 0; kx < n->kw; kx++) {
                int64_t ix = ox * n->sw - n->pad_left + kx;
                if (ix < 0 || ix >= j->W)
                    continue;
                const float *x = j->x + (iy * j->W + ix) * j->C;
                for (int64_t c = 0; c < j->C; c++) {
                    float v = x[c];
                    o[c] = (v > o[c] || v != v) ? v : o[c];
                }
            }
        }
    }
}

static ccc_status fast_maxpool(ccc_nn_model *m, const nn_node *n)
{
    const nn_value *a = &m->values[n->in[0]], *ov = &m->values[n->out[0]];
    pool_job j = {.n = n, .x = nn_f(m, n->in[0]), .o = nn_f(m, n->out[0]), .H = a->shape[1],
                  .W = a->shape[2], .C = a->shape[3], .OW = ov->shape[2]};
    nn_pool_run(m->pool, maxpool_task, &j, (size_t)ov->shape[1]);
    return CCC_OK;
}

typedef struct heap_item {
    float v;
    int32_t i;
} heap_item;

static size_t topk_scratch(const ccc_nn_model *m, const nn_node *n)
{
    (void)m;
    return (size_t)n->k * sizeof(heap_item);
}

/* a ranks before b: value descending, lower index first; NaN above all. */
static bool ranks_before(float av, int32_t ai, float bv, int32_t bi)
{
    bool an = av != av, bn = bv != bv;
    if (an != bn)
        return an;
    if (!an && av != bv)
        return av > bv;
    return ai < bi;
}

/* Min-heap on rank: the root is the worst of the kept k. */
static void sift_down(heap_item *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && ranks_before(h[w].v, h[w].i, h[l].v, h[l].i))
            w = l;
        if (r < n && ranks_before(h[w].v, h[w].i, h[r].v, h[r].i))
            w = r;
        if (w == i)
            return;
        heap_item t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

static ccc_status fast_topk(ccc_nn_model *m, const nn_node *n)
{
    const nn_value *a = &m->values[n->in[0]];
    size_t len = (size_t)a->shape[a->rank - 1], rows = a->count / len, k = (size_t)n->k;
    heap_item *h = m->scratch;
    for (size_t r = 0; r < rows; r++) {
        const float *x = nn_f(m, n->in[0]) + r * len;
        for (size_t i = 0; i < k; i++)
            h[i] = (heap_item){x[i], (int32_t)i};
        for (size_t i = k / 2; i-- > 0;)
            sift_down(h, k, i);
        for (size_t i = k; i < len; i++) {
            /* indices only grow, so a tie never displaces the root */
            float v = x[i];
            if (v > h[0].v || (v != v && h[0].v == h[0].v)) {
                h[0] = (heap_item){v, (int32_t)i};
                sift_down(h, k, 0);
            }
        }
        /* heap-sort: repeatedly move the worst to the end */
        for (size_t e = k; e > 1; e--) {
            heap_item t = h[0];
            h[0] = h[e - 1];
            h[e - 1] = t;
            sift_down(h, e - 1, 0);
        }
        for (size_t i = 0; i < k; i++) {
            nn_f(m, n->out[0])[r * k + i] = h[i].v;
            nn_i(m, n->out[1])[r * k + i] = h[i].i;
        }
    }
    return CCC_OK;
}

nn_kernel_fn nn_fast_kernel(nn_op op)
{
    switch (op) {
    case OP_FUSEDCONV2D:
    case OP_CONV2D: return fast_dense;
    case OP_FUSEDDEPTHWISE:
    case OP_DEPTHWISE: return fast_depthwise;
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_EQUAL: return fast_binary;
    case OP_RELU:
    case OP_RELU6:
    case OP_SIGMOID:
    case OP_HSWISH: return fast_unary;
    case OP_MEAN: return fast_mean;
    case OP_MAXPOOL: return fast_maxpool;
    case OP_TOPK: return fast_topk;
    default: return NULL;
    }
}
