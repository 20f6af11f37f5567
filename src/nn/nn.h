/*
 * nn — a small, auditable interpreter for TF.js graph models (the CenterNet
 * detector we ship). A model is data: no JIT, no dlopen, no Python.
 *
 *   load    parse model.json (TF.js "graph-model": modelTopology is a TF
 *           GraphDef as JSON, one weights shard) with jansson, bounded; check
 *           every node, attribute, dtype, shape and weight offset against the
 *           file sizes; widen fp16-quantised float32 weights exactly
 *           (subnormals, ±inf; docs/model-notes.md §1), int32 raw little-endian;
 *           refuse any op outside the allowlist, any cycle, any dangling or
 *           control input and any shape that does not check out. Shapes are
 *           inferred once here, for the one fixed input shape the graph
 *           declares. Shape/axis/size operands must be constants.
 *   plan    a topological schedule (Kahn, file order among equals), then one
 *           memory arena for every intermediate tensor with first-fit buffer
 *           reuse by liveness; Identity/Reshape/ExpandDims are aliases.
 *           In fast mode the loader also fuses, computing the same float
 *           operations in the same order: the MobileNetV3 hard-swish
 *           (Mul/Add/Relu6/Mul → one op, or into the conv that feeds it) and
 *           a Sigmoid into the conv that feeds it. Conv weights are packed.
 *   run     no allocation per op: each op writes into its planned slot.
 *           Tensors are NHWC; float32 and int32 (bool is int32 0/1 and never
 *           leaves the graph).
 *
 * Kernels: every op has a plain reference kernel (options.reference_kernels,
 * used by the tests as the yardstick); the fast kernels are AVX-512 or
 * AVX2+FMA (chosen once at load with __builtin_cpu_supports) with a portable
 * C fallback: implicit-GEMM convolutions with a 6×32 (6×16) register tile
 * over weights packed at load, fused bias and activation, depthwise over
 * channel vectors, vectorised pooling/sigmoid, and a small pthread pool.
 * TF semantics kept exactly: SAME padding puts the odd pixel after
 * (pad_before = floor(total/2)); TopKV2 orders by value descending, then by
 * lower index (TF.js comparePair), NaN above all; FloorDiv/FloorMod round
 * toward -inf; MaxPool ignores padded taps; ResizeBilinear follows
 * tfjs-backend-cpu (docs/model-notes.md §2).
 *
 * Ownership: ccc_nn_model_load copies what it needs out of `model_json` and
 * `weights` (the caller may free them right after). The model owns its arena;
 * a tensor view borrows from it and is valid until the next run or free.
 * A model is not thread-safe: one run at a time per model. It owns a pool of
 * (threads - 1) worker threads, which spin for up to 5 ms after each op
 * (yielding the CPU) and then sleep; they end in ccc_nn_model_free.
 *
 * Important caveats:
 *   - Only the ops in the allowlist (see ccc_nn_op_allowed) with the attribute
 *     values the detector uses are supported (NHWC, dilation 1, channel
 *     multiplier 1, float/int32, sorted TopK, ...). Anything else is refused
 *     at load, not at run. Errors at run are only data-dependent ones
 *     (GatherV2 index out of range, integer division by zero).
 *   - Fast kernels reorder floating-point sums (FMA, blocking) and use a
 *     ~1 ulp vector exp in Sigmoid on AVX-512, so results differ from the
 *     reference kernels by rounding (~1e-6 relative on the heat-map). The
 *     detection tail compares heat == maxpool(heat) exactly, so a rounding
 *     difference can add or drop a peak on a plateau and shift later rows
 *     of tower_0/detections (docs/model-notes.md §5: compare rows as a set).
 *   - The input tensor must have exactly the count of the graph's declared
 *     Placeholder shape; no dynamic shapes; one Placeholder.
 *   - Memory for CenterNet: arena ~27 MB, widened + packed weights ~15 MB.
 */
#ifndef CCC_NN_H
#define CCC_NN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* Hard limits checked at load. */
#define CCC_NN_MAX_JSON_SIZE (8u << 20)     /* model.json bytes              */
#define CCC_NN_MAX_WEIGHTS_SIZE (64u << 20) /* .bin bytes                    */
#define CCC_NN_MAX_NODES 4096               /* graph nodes                   */
#define CCC_NN_MAX_RANK 8                   /* tensor rank                   */
#define CCC_NN_MAX_ARENA_SIZE (512u << 20)  /* planned activation memory     */

typedef struct ccc_nn_model ccc_nn_model;

typedef struct ccc_nn_options {
    int threads;            /* worker threads incl. the caller; 0 = all cores */
    bool reference_kernels; /* plain, obviously-correct kernels (tests)       */
    const char *isa;        /* NULL: the best the CPU has; "portable", "avx2"
                               or "avx512" caps it (tests, benchmarks)        */
    bool profile;           /* time every op kind (ccc_nn_stats.op_ns)        */
    size_t arena_limit;     /* activation arena cap in bytes; 0 = default
                               CCC_NN_MAX_ARENA_SIZE (fuzzers use a small one) */
} ccc_nn_options;

/* A borrowed float32 view of one tensor (int32 tensors are converted). */
typedef struct ccc_nn_tensor_view {
    const float *data; /* borrowed: valid until the next run or free */
    int rank;
    int64_t shape[CCC_NN_MAX_RANK];
    size_t count; /* product of shape */
} ccc_nn_tensor_view;

/* Numbers for benchmarks and logs (a snapshot; strings and arrays are
 * borrowed from the model and valid until it is freed). */
typedef struct ccc_nn_stats {
    size_t node_count;       /* nodes in the graph                              */
    size_t const_count;      /* Const nodes                                     */
    size_t step_count;       /* nodes executed per run                          */
    uint64_t mac_count;      /* conv multiply-adds per run (for GFLOP/s = 2*mac)*/
    size_t arena_size;       /* bytes of the activation arena                   */
    size_t weights_size;     /* bytes of widened + packed weights               */
    int threads;             /* threads used                                    */
    const char *isa;         /* "avx512", "avx2", "portable" or "reference"     */
    /* Op histogram: op_count entries of (name, count), borrowed. */
    size_t op_count;
    const char *const *op_names;
    const size_t *op_counts;
    const uint64_t *op_ns;   /* with options.profile: total ns per op kind over
                                all runs so far, else NULL                     */
} ccc_nn_stats;

/*
 * Parse, check and plan a model. `model_json` is the model.json bytes (at
 * most CCC_NN_MAX_JSON_SIZE), `weights` the single .bin shard. `opt` may be
 * NULL (all cores, fast kernels). On success *out owns the model (free with
 * ccc_nn_model_free). Errors: CCC_ERR_PARSE (malformed JSON/graph, dangling
 * input, cycle, shape mismatch, weight offsets), CCC_ERR_UNSUPPORTED (op or
 * attribute outside the allowlist), CCC_ERR_LIMIT (sizes), CCC_ERR_NOMEM.
 */
CCC_MUST_USE ccc_status ccc_nn_model_load(ccc_bytes model_json, ccc_bytes weights,
                                          const ccc_nn_options *opt,
                                          ccc_nn_model **out);

/* Free a model and everything it owns, wiping the arena first. NULL is fine. */
void ccc_nn_model_free(ccc_nn_model *m);

/*
 * Wipe every activation, the input and the outputs (the whole arena) and the
 * kernels' scratch. Call between inputs that belong to different users: the
 * arena otherwise keeps the last input and what was computed from it until
 * the next run overwrites it. Output views are invalid afterwards. Also
 * parks the worker threads (they sleep instead of spinning for the next op),
 * since a caller that scrubs has finished its job.
 */
void ccc_nn_model_scrub(ccc_nn_model *m);

/*
 * Run the graph on one input: `input_name` is the Placeholder's node name
 * ("tower_0/images"), `input` holds exactly `input_count` floats in the
 * declared shape (CenterNet: NHWC [1,512,512,3], RGB, values 0..255).
 * The input is copied; the caller keeps ownership.
 */
CCC_MUST_USE ccc_status ccc_nn_model_run(ccc_nn_model *m, const char *input_name,
                                         const float *input, size_t input_count);

/*
 * View of a named tensor after a run ("tower_0/detections",
 * "tower_0/keypoints", "tower_0/wh"). Only graph outputs are kept alive by
 * the planner: nodes nothing else consumes, plus the names listed in the
 * model's signature.outputs. Asking for an intermediate tensor is
 * CCC_ERR_NOT_FOUND; a non-float output is CCC_ERR_UNSUPPORTED.
 * Valid until the next run or free. Before the first run the data is zeros.
 */
CCC_MUST_USE ccc_status ccc_nn_model_output(const ccc_nn_model *m, const char *name,
                                            ccc_nn_tensor_view *out);

/* Declared shape of the input placeholder `name` (rank and dims). */
CCC_MUST_USE ccc_status ccc_nn_model_input_shape(const ccc_nn_model *m, const char *name,
                                                 ccc_nn_tensor_view *out);

/* Fill *out with the model's numbers (borrowed strings valid until free). */
void ccc_nn_model_stats(const ccc_nn_model *m, ccc_nn_stats *out);

/* True if `op` is in the op allowlist. */
bool ccc_nn_op_allowed(const char *op);

#endif /* CCC_NN_H */
