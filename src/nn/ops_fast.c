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

/* The fused activation of a conv node, scalar and vector forms. The hard-
 * swish is computed exactly as the unfused graph does: (x*c) * relu6(x+a). */
static inline float epi_scalar(const nn_node *n, float x)
{
    switch (n->act) {
    case ACT_RELU: return x < 0.0f ? 0.0f : x;
    case ACT_RELU6: return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x);
    case ACT_HSWISH: {
        float t = x + n->hs_a;
        t = t < 0.0f ? 0.0f : (t > 6.0f ? 6.0f : t);
        return (x * n->hs_c) * t;
    }
    case ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    default: return x;
    }
}

/* Sigmoid 1/(1+exp(-x)) with a Cephes-style expf (about 1 ulp). */
__attribute__((target("avx512f,avx512vl,fma"))) static inline __m512 sigmoid512(__m512 v)
{
    const __m512 one = _mm512_set1_ps(1.0f), lo = _mm512_set1_ps(-87.0f), hi = _mm512_set1_ps(88.0f);
    const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
    const __m512 c1 = _mm512_set1_ps(0.693359375f), c2 = _mm512_set1_ps(-2.12194440e-4f);
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
    return _mm512_mask_mov_ps(s, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), v);
}

__attribute__((target("avx512f,avx512vl,fma"))) static inline __m512 epi512(const nn_node *n, __m512 x)
{
    __m512 zero = _mm512_setzero_ps(), six = _mm512_set1_ps(6.0f);
    switch (n->act) {
    case ACT_RELU: return _mm512_max_ps(x, zero);
    case ACT_RELU6: return _mm512_min_ps(_mm512_max_ps(x, zero), six);
    case ACT_HSWISH: {
        __m512 t = _mm512_add_ps(x, _mm512_set1_ps(n->hs_a));
        t = _mm512_min_ps(_mm512_max_ps(t, zero), six);
        return _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(n->hs_c)), t);
    }
    case ACT_SIGMOID: return sigmoid512(x);
    default: return x;
    }
}

__attribute__((target("avx2,fma"))) static inline __m256 epi256(const nn_node *n, __m256 x)
{
    __m256 zero = _mm256_setzero_ps(), six = _mm256_set1_ps(6.0f);
    switch (n->act) {
    case ACT_RELU: return _mm256_max_ps(x, zero);
    case ACT_RELU6: return _mm256_min_ps(_mm256_max_ps(x, zero), six);
    case ACT_HSWISH: {
        __m256 t = _mm256_add_ps(x, _mm256_set1_ps(n->hs_a));
        t = _mm256_min_ps(_mm256_max_ps(t, zero), six);
        return _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(n->hs_c)), t);
    }
    case ACT_SIGMOID: {
        float v[8];
        _mm256_storeu_ps(v, x);
        for (int i = 0; i < 8; i++)
            v[i] = 1.0f / (1.0f + expf(-v[i]));
        return _mm256_loadu_ps(v);
    }
    default: return x;
    }
}

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
    size_t K = (size_t)(wv->shape[0] * wv->shape[1] * wv->shape[2]);
    size_t CO = (size_t)wv->shape[3];
    /* 32-wide panels (two zmm per pixel row) for AVX-512. A 16-wide zmm
     * variant pads less for 16/40/72/80 channels but measured slower here
     * (one broadcast per FMA makes it load-bound). */
    int nr = m->isa == 2 ? 32 : 16;
    if (m->isa == 2 && CO <= 8 && wv->shape[0] == 1 && wv->shape[1] == 1 && n->sh == 1 && n->sw == 1) {
        /* few output channels: per-pixel dot products over K, [CO][Kp] + bias */
        size_t kp = (K + 15) / 16 * 16;
        size_t size = (CO * kp + 16) * sizeof(float);
        float *p = aligned_alloc(NN_ALIGN, (size + NN_ALIGN - 1) / NN_ALIGN * NN_ALIGN);
        CCC_ENSURE(p != NULL, CCC_ERR_NOMEM, "nn: out of memory");
        memset(p, 0, size);
        for (size_t co = 0; co < CO; co++) {
            for (size_t k = 0; k < K; k++)
                p[co * kp + k] = w[k * CO + co];
            p[CO * kp + co] = bias ? bias[co] : 0.0f;
        }
        n->packed = p;
        n->pack_nr = 0; /* dot layout */
        m->packed_size += size;
        return CCC_OK;
    }
    size_t blocks = (CO + (size_t)nr - 1) / (size_t)nr;
    size_t panel = (K + 1) * (size_t)nr;
    size_t size = blocks * panel * sizeof(float);
    /* padding to whole panels can inflate a hostile filter (cout 1 → 32) */
    CCC_ENSURE(size <= NN_MAX_PACKED_SIZE - m->packed_size, CCC_ERR_LIMIT,
               "nn: packed convolution weights too large");
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
                        const nn_node *n, float *out, size_t ostride, int mr, int ncols);

__attribute__((target("avx512f,avx512vl,fma"))) static void
tile_avx512(const float *const *rows, int taps, int cin, const float *panel, const nn_node *n,
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
    for (int p = 0; p < mr; p++) {
        __m512 x0 = epi512(n, acc[p][0]), x1 = epi512(n, acc[p][1]);
        _mm512_mask_storeu_ps(out + (size_t)p * ostride, k0, x0);
        _mm512_mask_storeu_ps(out + (size_t)p * ostride + 16, k1, x1);
    }
}

__attribute__((target("avx2,fma"))) static void
tile_avx2(const float *const *rows, int taps, int cin, const float *panel, const nn_node *n, float *out,
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
    for (int p = 0; p < mr; p++) {
        __m256 x0 = epi256(n, acc[p][0]), x1 = epi256(n, acc[p][1]);
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
                          const nn_node *n, float *out, size_t ostride, int mr, int ncols)
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
        for (int j = 0; j < ncols; j++)
            out[(size_t)p * ostride + (size_t)j] = epi_scalar(n, acc[p][j]);
}

/* Pointwise conv with few output channels: out[p][co] = bias + x[p]·wT[co]. */
__attribute__((target("avx512f,avx512vl,fma"))) static void
dot_pixels_avx512(const float *x, size_t cin, size_t co_count, const float *packed, const nn_node *n,
                  float *out, size_t p0, size_t p1)
{
    size_t kp = (cin + 15) / 16 * 16;
    const float *bias = packed + co_count * kp;
    for (size_t p = p0; p < p1; p++) {
        const float *xp = x + p * cin;
        __m512 acc[8];
        for (size_t co = 0; co < 8; co++)
            acc[co] = _mm512_setzero_ps();
        for (size_t c = 0; c < cin; c += 16) {
            size_t rem = cin - c;
            __mmask16 k = rem >= 16 ? 0xffff : (__mmask16)((1u << rem) - 1);
            __m512 xv = _mm512_maskz_loadu_ps(k, xp + c);
            for (size_t co = 0; co < co_count; co++)
                acc[co] = _mm512_fmadd_ps(xv, _mm512_load_ps(packed + co * kp + c), acc[co]);
        }
        for (size_t co = 0; co < co_count; co++)
            out[p * co_count + co] = epi_scalar(n, _mm512_reduce_add_ps(acc[co]) + bias[co]);
    }
}

#define IM2COL_MAX_K 512

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
    if (n->pack_nr == 0) {
        dot_pixels_avx512(j->x, (size_t)j->C, (size_t)j->CO, n->packed, n, j->o, p0, p1);
        return;
    }
    int nr = n->pack_nr, taps = n->kh * n->kw;
    size_t K = (size_t)taps * (size_t)j->C;
    const float *panel = n->packed + blk * (K + 1) * (size_t)nr;
    int ncols = (int)(j->CO - (int64_t)blk * nr);
    if (ncols > nr)
        ncols = nr;
    const float *rows[MR * 15 * 15];
    bool pointwise = (taps == 1 && n->sh == 1 && n->sw == 1);
    bool im2col = taps > 1 && j->C < 8 && K <= IM2COL_MAX_K;
    float cols[MR][IM2COL_MAX_K];
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
        float *dst = j->o + p * (size_t)j->CO + blk * (size_t)nr;
        if (im2col) {
            /* few input channels: gather the taps into contiguous rows so the
             * micro-kernel runs one long K loop (same order: tap, channel) */
            const float *flat[MR];
            int C = (int)j->C;
            for (int q = 0; q < MR; q++) {
                float *dst_row = cols[q];
                for (int t = 0; t < taps; t++) {
                    const float *src = rows[t * MR + q];
                    for (int c = 0; c < C; c++)
                        *dst_row++ = src[c];
                }
                flat[q] = cols[q];
            }
            j->tile(flat, 1, (int)K, panel, n, dst, (size_t)j->CO, mr, ncols);
        } else {
            j->tile(rows, taps, (int)j->C, panel, n, dst, (size_t)j->CO, mr, ncols);
        }
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
    j.nblk = n->pack_nr ? (size_t)((j.CO + n->pack_nr - 1) / n->pack_nr) : 1;
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

/* Finish one depthwise output vector: bias, activation, masked store. */
__attribute__((target("avx512f,avx512vl,fma"))) static inline void
dw_store_avx512(const nn_node *n, float *o, __mmask16 k, __m512 acc, __m512 bias)
{
    _mm512_mask_storeu_ps(o, k, epi512(n, _mm512_add_ps(acc, bias)));
}

/*
 * One output row. Pixels go in groups of four (independent accumulators hide
 * the FMA latency, each weight vector is loaded once per group) and, inside
 * a group, every channel block: the group's input lines stay in L1 across
 * the channel blocks. Edge pixels take the per-pixel path with their valid
 * tap range.
 */
__attribute__((target("avx512f,avx512vl,fma"))) static void dw_row_avx512(const dw_job *j, int64_t oy)
{
    const nn_node *n = j->n;
    const int64_t C = j->C, W = j->W, kw = n->kw;
    int ky0, ky1;
    tap_range(oy, n->sh, n->pad_top, n->kh, j->H, &ky0, &ky1);
    int64_t step = (int64_t)n->sw * C;
    for (int64_t ox = 0; ox < j->OW;) {
        int kx0, kx1, kx0b, kx1b;
        tap_range(ox, n->sw, n->pad_left, n->kw, W, &kx0, &kx1);
        tap_range(ox + 3, n->sw, n->pad_left, n->kw, W, &kx0b, &kx1b);
        bool group = ox + 4 <= j->OW && kx0 == 0 && kx1 == n->kw && kx0b == 0 && kx1b == n->kw;
        /* may be negative; only in-range taps are added to it */
        int64_t xo = ((oy * n->sh - n->pad_top) * W + (ox * n->sw - n->pad_left)) * C;
        float *op = j->o + (oy * j->OW + ox) * C;
        for (int64_t c = 0; c < C; c += 16) {
            int64_t rem = C - c;
            __mmask16 k = rem >= 16 ? 0xffff : (__mmask16)((1u << rem) - 1);
            __m512 bias = j->bias ? _mm512_maskz_loadu_ps(k, j->bias + c) : _mm512_setzero_ps();
            if (group) {
                /* the bottom tap row is new to this output row: fetch ahead */
                if (ox + 12 <= j->OW)
                    _mm_prefetch((const char *)(j->x + (xo + ((ky1 - 1) * W + 8 * n->sw) * C + c)),
                                 _MM_HINT_T0);
                __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
                for (int ky = ky0; ky < ky1; ky++)
                    for (int kx = 0; kx < n->kw; kx++) {
                        const float *xp = j->x + (xo + (ky * W + kx) * C + c);
                        __m512 wv = _mm512_maskz_loadu_ps(k, j->w + (ky * kw + kx) * C + c);
                        a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, xp), wv, a0);
                        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, xp + step), wv, a1);
                        a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, xp + 2 * step), wv, a2);
                        a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, xp + 3 * step), wv, a3);
                    }
                dw_store_avx512(n, op + c, k, a0, bias);
                dw_store_avx512(n, op + C + c, k, a1, bias);
                dw_store_avx512(n, op + 2 * C + c, k, a2, bias);
                dw_store_avx512(n, op + 3 * C + c, k, a3, bias);
            } else {
                __m512 acc = _mm512_setzero_ps();
                for (int ky = ky0; ky < ky1; ky++)
                    for (int kx = kx0; kx < kx1; kx++)
                        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, j->x + (xo + (ky * W + kx) * C + c)),
                                              _mm512_maskz_loadu_ps(k, j->w + (ky * kw + kx) * C + c), acc);
                dw_store_avx512(n, op + c, k, acc, bias);
            }
        }
        ox += group ? 4 : 1;
    }
}

__attribute__((target("avx2,fma"))) static void dw_row_avx2(const dw_job *j, int64_t oy)
{
    const nn_node *n = j->n;
    __m256 zero = _mm256_setzero_ps();
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
            _mm256_maskstore_ps(j->o + (oy * j->OW + ox) * j->C + c, mask, epi256(n, _mm256_add_ps(acc, bias)));
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
        for (int64_t c = 0; c < j->C; c++)
            o[c] = epi_scalar(n, o[c] + (j->bias ? j->bias[c] : 0.0f));
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

__attribute__((target("avx512f,avx512vl,fma"))) static void sigmoid_avx512(const float *x, float *o,
                                                                            size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        size_t rem = n - i;
        __mmask16 k = rem >= 16 ? 0xffff : (__mmask16)((1u << rem) - 1);
        _mm512_mask_storeu_ps(o + i, k, sigmoid512(_mm512_maskz_loadu_ps(k, x + i)));
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

typedef struct mean_job {
    const float *x;
    float *o;
    size_t pix, C;
} mean_job;

/* Channels [16t, 16t+16): sums in double, like the reference. */
static void mean_task(void *ctx, size_t task)
{
    const mean_job *j = ctx;
    size_t c0 = task * 16, c1 = c0 + 16 > j->C ? j->C : c0 + 16;
    double acc[16] = {0};
    for (size_t p = 0; p < j->pix; p++) {
        const float *x = j->x + p * j->C;
        for (size_t c = c0; c < c1; c++)
            acc[c - c0] += x[c];
    }
    for (size_t c = c0; c < c1; c++)
        j->o[c] = (float)(acc[c - c0] / (double)j->pix);
}

static ccc_status fast_mean(ccc_nn_model *m, const nn_node *n)
{
    const nn_value *a = &m->values[n->in[0]];
    if (!(a->rank == 4 && n->axes_mask == 6u && a->shape[0] == 1))
        return nn_ref_kernel(n->op)(m, n);
    mean_job j = {.x = nn_f(m, n->in[0]), .o = nn_f(m, n->out[0]),
                  .pix = (size_t)(a->shape[1] * a->shape[2]), .C = (size_t)a->shape[3]};
    nn_pool_run(m->pool, mean_task, &j, (j.C + 15) / 16);
    return CCC_OK;
}

typedef struct pool_job {
    const nn_node *n;
    int isa;
    const float *x;
    float *o;
    int64_t H, W, C, OW;
} pool_job;

/* max with the reference's NaN rule: a NaN tap wins and then sticks. */
__attribute__((target("avx512f,avx512vl"))) static void maxpool_row_avx512(const pool_job *j, int64_t oy)
{
    const nn_node *n = j->n;
    int ky0, ky1;
    tap_range(oy, n->sh, n->pad_top, n->kh, j->H, &ky0, &ky1);
    for (int64_t ox = 0; ox < j->OW; ox++) {
        int kx0, kx1;
        tap_range(ox, n->sw, n->pad_left, n->kw, j->W, &kx0, &kx1);
        int64_t xo = ((oy * n->sh - n->pad_top) * j->W + (ox * n->sw - n->pad_left)) * j->C;
        float *o = j->o + (oy * j->OW + ox) * j->C;
        for (int64_t c = 0; c < j->C; c += 16) {
            int64_t rem = j->C - c;
            __mmask16 k = rem >= 16 ? 0xffff : (__mmask16)((1u << rem) - 1);
            __m512 best = _mm512_set1_ps(-INFINITY);
            for (int ky = ky0; ky < ky1; ky++)
                for (int kx = kx0; kx < kx1; kx++) {
                    __m512 v = _mm512_maskz_loadu_ps(k, j->x + (xo + (ky * j->W + kx) * j->C + c));
                    __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) |
                                     _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
                    best = _mm512_mask_mov_ps(best, take, v);
                }
            if (n->act == ACT_PEAK) { /* x * (float)(x == best), as Equal/Cast/Mul do */
                __m512 v = _mm512_maskz_loadu_ps(k, j->x + (oy * j->W + ox) * j->C + c);
                __mmask16 eq = _mm512_cmp_ps_mask(v, best, _CMP_EQ_OQ);
                best = _mm512_mul_ps(v, _mm512_mask_mov_ps(_mm512_setzero_ps(), eq, _mm512_set1_ps(1.0f)));
            }
            _mm512_mask_storeu_ps(o + c, k, best);
        }
    }
}

static void maxpool_task(void *ctx, size_t oy_)
{
    const pool_job *j = ctx;
    const nn_node *n = j->n;
    int64_t oy = (int64_t)oy_;
    if (j->isa == 2) {
        maxpool_row_avx512(j, oy);
        return;
    }
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
        if (n->act == ACT_PEAK) { /* x * (float)(x == best), as Equal/Cast/Mul do */
            const float *x = j->x + (oy * j->W + ox) * j->C;
            for (int64_t c = 0; c < j->C; c++)
                o[c] = x[c] * (x[c] == o[c] ? 1.0f : 0.0f);
        }
    }
}

static ccc_status fast_maxpool(ccc_nn_model *m, const nn_node *n)
{
    const nn_value *a = &m->values[n->in[0]], *ov = &m->values[n->out[0]];
    pool_job j = {.n = n, .isa = m->isa, .x = nn_f(m, n->in[0]), .o = nn_f(m, n->out[0]), .H = a->shape[1],
                  .W = a->shape[2], .C = a->shape[3], .OW = ov->shape[2]};
    nn_pool_run(m->pool, maxpool_task, &j, (size_t)ov->shape[1]);
    return CCC_OK;
}

typedef struct heap_item {
    float v;
    int32_t i;
} heap_item;

#define TOPK_CHUNKS 4

static size_t topk_scratch(const ccc_nn_model *m, const nn_node *n)
{
    (void)m;
    return (size_t)n->k * (TOPK_CHUNKS + 1) * sizeof(heap_item);
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

/* The k best of x[i0, i1) in h (k <= i1 - i0), best first. */
static void topk_range(const float *x, size_t i0, size_t i1, size_t k, heap_item *h)
{
    for (size_t i = 0; i < k; i++)
        h[i] = (heap_item){x[i0 + i], (int32_t)(i0 + i)};
    for (size_t i = k / 2; i-- > 0;)
        sift_down(h, k, i);
    for (size_t i = i0 + k; i < i1; i++) {
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
}

typedef struct topk_job {
    const float *x;
    size_t len, k, chunks;
    heap_item *h;
} topk_job;

static void topk_task(void *ctx, size_t t)
{
    const topk_job *j = ctx;
    size_t per = j->len / j->chunks;
    size_t i0 = t * per, i1 = (t + 1 == j->chunks) ? j->len : i0 + per;
    topk_range(j->x, i0, i1, j->k, j->h + t * j->k);
}

/*
 * Rows are split into chunks, each chunk keeps its own k best (same total
 * order), and the chunk winners are merged by that order: the result is the
 * reference's (value descending, then lower index) exactly.
 */
static ccc_status fast_topk(ccc_nn_model *m, const nn_node *n)
{
    const nn_value *a = &m->values[n->in[0]];
    size_t len = (size_t)a->shape[a->rank - 1], rows = a->count / len, k = (size_t)n->k;
    heap_item *h = m->scratch;
    for (size_t r = 0; r < rows; r++) {
        topk_job j = {.x = nn_f(m, n->in[0]) + r * len, .len = len, .k = k, .h = h};
        j.chunks = len >= 64 * k * TOPK_CHUNKS ? TOPK_CHUNKS : 1;
        nn_pool_run(m->pool, topk_task, &j, j.chunks);
        /* merge: repeatedly take the best head among the sorted chunk lists */
        heap_item *out = h + TOPK_CHUNKS * k;
        size_t pos[TOPK_CHUNKS] = {0};
        for (size_t i = 0; i < k; i++) {
            size_t best = SIZE_MAX;
            for (size_t c = 0; c < j.chunks; c++) {
                if (pos[c] >= k)
                    continue;
                const heap_item *cand = &h[c * k + pos[c]];
                if (best == SIZE_MAX ||
                    ranks_before(cand->v, cand->i, h[best * k + pos[best]].v, h[best * k + pos[best]].i))
                    best = c;
            }
            out[i] = h[best * k + pos[best]++];
        }
        for (size_t i = 0; i < k; i++) {
            nn_f(m, n->out[0])[r * k + i] = out[i].v;
            nn_i(m, n->out[1])[r * k + i] = out[i].i;
        }
    }
    return CCC_OK;
}

static void cast_task(void *ctx, size_t task)
{
    const ew_job *j = ctx;
    size_t i0 = task * EW_CHUNK, i1 = i0 + EW_CHUNK;
    if (i1 > j->count)
        i1 = j->count;
    const int32_t *x = (const int32_t *)(const void *)j->a;
    for (size_t i = i0; i < i1; i++)
        j->o[i] = (float)x[i];
}

/* int32/bool → float in parallel; other casts use the reference. */
static ccc_status fast_cast(ccc_nn_model *m, const nn_node *n)
{
    if (m->values[n->in[0]].dtype == NN_F32 || n->dst_dtype != NN_F32)
        return nn_ref_kernel(n->op)(m, n);
    ew_job j = {.m = m, .n = n, .a = nn_f(m, n->in[0]), .o = nn_f(m, n->out[0]),
                .count = m->values[n->out[0]].count};
    nn_pool_run(m->pool, cast_task, &j, (j.count + EW_CHUNK - 1) / EW_CHUNK);
    return CCC_OK;
}

typedef struct node_job {
    const ccc_nn_model *m;
    const nn_node *n;
    size_t outer, inner; /* ConcatV2 */
} node_job;

static void resize_task(void *ctx, size_t row)
{
    const node_job *j = ctx;
    nn_resize_row(j->m, j->n, (int64_t)row);
}

/* Rows in parallel; every row is the reference's arithmetic (bit-identical). */
static ccc_status fast_resize(ccc_nn_model *m, const nn_node *n)
{
    node_job j = {.m = m, .n = n};
    nn_pool_run(m->pool, resize_task, &j, (size_t)m->values[n->out[0]].shape[1]);
    return CCC_OK;
}

/* One outer index of ConcatV2: copy each input's slice, with a fused Relu. */
static void concat_task(void *ctx, size_t q)
{
    const node_job *j = ctx;
    const nn_node *n = j->n;
    const nn_value *ov = &j->m->values[n->out[0]];
    size_t row = (size_t)ov->shape[n->axis] * j->inner;
    uint8_t *o = (uint8_t *)nn_data(j->m, n->out[0]) + q * row * 4;
    for (int k = 0; k < n->in_count - 1; k++) {
        size_t chunk = (size_t)j->m->values[n->in[k]].shape[n->axis] * j->inner;
        const uint8_t *src = (const uint8_t *)nn_data(j->m, n->in[k]) + q * chunk * 4;
        if (n->act == ACT_RELU) {
            const float *x = (const float *)(const void *)src;
            float *y = (float *)(void *)o;
            for (size_t i = 0; i < chunk; i++)
                y[i] = x[i] < 0.0f ? 0.0f : x[i];
        } else {
            memcpy(o, src, chunk * 4);
        }
        o += chunk * 4;
    }
}

static ccc_status fast_concat(ccc_nn_model *m, const nn_node *n)
{
    const nn_value *ov = &m->values[n->out[0]];
    node_job j = {.m = m, .n = n, .outer = 1, .inner = 1};
    for (int d = 0; d < n->axis; d++)
        j.outer *= (size_t)ov->shape[d];
    for (int d = n->axis + 1; d < ov->rank; d++)
        j.inner *= (size_t)ov->shape[d];
    nn_pool_run(m->pool, concat_task, &j, j.outer);
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
    case OP_CAST: return fast_cast;
    case OP_RESIZEBILINEAR: return fast_resize;
    case OP_CONCAT: return fast_concat;
    case OP_TOPK: return fast_topk;
    default: return NULL;
    }
}
