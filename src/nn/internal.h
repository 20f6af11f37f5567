/*
 * nn internals: the checked graph, the plan and the kernels. Not a public
 * interface; only the files of src/nn include it.
 */
#ifndef CCC_NN_INTERNAL_H
#define CCC_NN_INTERNAL_H

#include <stdatomic.h>
#include <pthread.h>

#include "nn/nn.h"

#define NN_MAX_IN 16      /* inputs per node (ConcatV2 N + axis)            */
#define NN_MAX_OUT 2      /* outputs per node (TopKV2: values, indices)     */
#define NN_MAX_DIM (1 << 24)
#define NN_MAX_COUNT ((size_t)1 << 28) /* elements per tensor              */
#define NN_ALIGN 64
#define NN_HUGE_PAGE ((size_t)2 << 20)
#define NN_MAX_PACKED_SIZE ((size_t)256 << 20) /* all packed conv weights */

typedef enum nn_dtype { NN_F32 = 1, NN_I32, NN_BOOL } nn_dtype;

typedef enum nn_op {
    OP_CONST = 0, OP_PLACEHOLDER, OP_IDENTITY, OP_RESHAPE, OP_EXPANDDIMS,
    OP_FUSEDCONV2D, OP_CONV2D, OP_FUSEDDEPTHWISE, OP_DEPTHWISE,
    OP_ADD, OP_SUB, OP_MUL, OP_FLOORDIV, OP_FLOORMOD, OP_EQUAL,
    OP_RELU, OP_RELU6, OP_SIGMOID, OP_CAST,
    OP_MEAN, OP_CONCAT, OP_STRIDEDSLICE, OP_RESIZEBILINEAR, OP_MAXPOOL,
    OP_TOPK, OP_GATHER,
    OP_HSWISH, /* internal: (x*c) * relu6(x + a), fused at load (fast mode) */
    OP_COUNT
} nn_op;

/* Fused activations. ACT_HSWISH = (x*hs_c) * relu6(x + hs_a) and ACT_SIGMOID
 * are fused at load (fast mode only) from the graph's Mul/Add/Relu6/Mul and
 * Sigmoid nodes into the conv that produces their input. */
typedef enum nn_act {
    ACT_NONE = 0, ACT_RELU, ACT_RELU6, ACT_HSWISH, ACT_SIGMOID,
    ACT_PEAK /* MaxPool only: x * (float)(x == maxpool(x)), the CenterNet peak test */
} nn_act;

typedef enum nn_storage { ST_ARENA = 0, ST_CONST, ST_ALIAS } nn_storage;

/* One tensor: an output of a node. */
typedef struct nn_value {
    nn_dtype dtype;
    int rank;
    int64_t shape[CCC_NN_MAX_RANK];
    size_t count;
    int producer;       /* node index */
    int root;           /* value that owns the storage (itself unless alias) */
    nn_storage storage;
    const void *cdata;  /* ST_CONST: widened constant data (4-byte elements) */
    size_t offset;      /* ST_ARENA: byte offset in the arena */
    int last_use;       /* last step that reads it (roots only) */
    bool pinned;        /* a graph output: never reused */
} nn_value;

/* One graph node with its checked attributes. */
typedef struct nn_node {
    char *name;
    nn_op op;
    int in_count;
    int in[NN_MAX_IN];  /* value ids */
    int out_count;
    int out[NN_MAX_OUT];
    /* convolution / pooling */
    int kh, kw, sh, sw;
    int pad_top, pad_left; /* TF SAME: floor(total/2); VALID: 0 */
    nn_act act;
    bool has_bias;
    float *packed;      /* fast conv weights, packed at load (owned) */
    int pack_nr;        /* packed panel width */
    /* misc attributes */
    bool keep_dims;
    bool align_corners, half_pixel;
    nn_dtype dst_dtype;
    int axis;                         /* ConcatV2, GatherV2 (normalised)   */
    uint32_t axes_mask;               /* Mean: reduced axes                */
    int64_t begin[CCC_NN_MAX_RANK];   /* StridedSlice, normalised          */
    int64_t strides[CCC_NN_MAX_RANK];
    int k;                            /* TopKV2 */
    float hs_c, hs_a;                 /* OP_HSWISH / ACT_HSWISH constants */
    bool skip;                        /* folded into a fused node */
    uint64_t macs;
} nn_node;

struct nn_pool;

struct ccc_nn_model {
    nn_node *nodes;
    size_t node_count;
    nn_value *values;
    size_t value_count;
    int *steps;        /* node indices executed per run, in order */
    size_t step_count;
    void *consts;      /* widened constants, 4-byte elements */
    size_t consts_size;
    uint8_t *arena;
    size_t arena_size;
    const float *zeros; /* zero row for padded convolution taps */
    bool reference;
    int isa;           /* 0 portable, 1 avx2, 2 avx512 */
    int threads;
    struct nn_pool *pool;
    size_t packed_size;
    uint64_t macs;
    size_t const_count;
    const char *op_names[OP_COUNT];
    size_t op_counts[OP_COUNT]; /* by op */
    int op_slot[OP_COUNT];      /* op → index in op_names */
    size_t op_hist[OP_COUNT];   /* in op_names order */
    uint64_t op_ns[OP_COUNT];   /* in op_names order, with profile */
    bool profile;
    size_t arena_limit;
    size_t op_kinds;
    void *scratch;              /* fast kernels' scratch (TopK heap, Mean sums) */
    size_t scratch_size;
    int input_value;   /* the Placeholder's value, -1 if none */
};

/* Storage of a value during a run. */
static inline void *nn_data(const ccc_nn_model *m, int v)
{
    const nn_value *x = &m->values[m->values[v].root];
    if (x->storage == ST_CONST)
        return (void *)(uintptr_t)x->cdata;
    return m->arena + x->offset;
}
static inline float *nn_f(const ccc_nn_model *m, int v) { return (float *)nn_data(m, v); }
static inline int32_t *nn_i(const ccc_nn_model *m, int v) { return (int32_t *)nn_data(m, v); }

/* Op table lookups. */
const char *nn_op_name(nn_op op);

/* Reference kernels (ops_ref.c): one per op, plain loops. */
typedef ccc_status (*nn_kernel_fn)(ccc_nn_model *m, const nn_node *n);
nn_kernel_fn nn_ref_kernel(nn_op op);
/* ResizeBilinear helpers shared by the reference and fast kernels. */
float nn_resize_source(float scale, int64_t r, bool half_pixel, int64_t size, int64_t *i0,
                       int64_t *i1);
void nn_resize_row(const ccc_nn_model *m, const nn_node *n, int64_t r);
/* Fast kernels (ops_fast.c); NULL where the reference is used. */
nn_kernel_fn nn_fast_kernel(nn_op op);
/* Pack conv weights for the fast kernels (ops_fast.c). */
CCC_MUST_USE ccc_status nn_fast_pack(ccc_nn_model *m, nn_node *n);
int nn_fast_detect_isa(void);

/* TF SAME/VALID output size and padding (TF "Padding" in conv_ops). */
CCC_MUST_USE ccc_status nn_conv_geometry(int64_t in, int k, int s, bool same,
                                         int64_t *out, int *pad_before);

/* Thread pool (pool.c): run fn(ctx, i) for i in [0, tasks) on all threads. */
typedef void (*nn_task_fn)(void *ctx, size_t task);
CCC_MUST_USE ccc_status nn_pool_new(int threads, struct nn_pool **out);
void nn_pool_free(struct nn_pool *p);
/* The workers stop spinning and sleep until the next run: for a caller
 * whose next run is not imminent and whose CPUs are wanted meanwhile (the
 * enclave between jobs, where the host and clients share the cores). */
void nn_pool_park(struct nn_pool *p);
void nn_pool_run(struct nn_pool *p, nn_task_fn fn, void *ctx, size_t tasks);

/* fp16 → fp32, exact (subnormals, ±inf, NaN payload). */
float nn_half_to_float(uint16_t h);

#endif /* CCC_NN_INTERNAL_H */
