/*
 * `ccc bench nn`: the graph interpreter alone, on the CenterNet model and a
 * deterministic synthetic 512×512 input (no image decoding, no pre/post-
 * processing; `ccc bench detect` measures the whole detector). Prints load
 * time, median / p95 / min inference over --runs after --warmup, GFLOP/s
 * (2 × the graph's conv multiply-adds / median), arena and weight memory,
 * peak RSS, and with --profile the time per op kind; with --compare it also
 * runs the reference kernels once and prints the largest fast-vs-reference
 * difference of every output. Numbers only: nothing here asserts a speed.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/cli.h"
#include "nn/nn.h"

#define WORDS "bench nn"
#define INPUT "tower_0/images"
#define MAX_RUNS 1000

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static ccc_status load_model(const char *dir, const ccc_nn_options *o, ccc_nn_model **m)
{
    ccc_status st = CCC_OK;
    char path[4096];
    ccc_buf j, w;
    ccc_buf_init(&j, CCC_NN_MAX_JSON_SIZE);
    ccc_buf_init(&w, CCC_NN_MAX_WEIGHTS_SIZE);
    CCC_CHECK(snprintf(path, sizeof path, "%s/centernet.json", dir) < (int)sizeof path,
              CCC_ERR_USAGE, "model directory path too long");
    CCC_TRY(ccc_file_read(path, &j));
    snprintf(path, sizeof path, "%s/centernet.bin", dir);
    CCC_TRY(ccc_file_read(path, &w));
    CCC_TRY(ccc_nn_model_load(ccc_buf_bytes(&j), ccc_buf_bytes(&w), o, m));
out:
    ccc_buf_wipe(&j);
    ccc_buf_wipe(&w);
    return st;
}

int ccc_cmd_bench_nn(int argc, char **argv)
{
    if (ccc_cli_wants_help(argc, argv, WORDS))
        return 0;
    static const struct option opts[] = {
        {"runs", required_argument, NULL, 'r'},    {"warmup", required_argument, NULL, 'w'},
        {"threads", required_argument, NULL, 't'}, {"isa", required_argument, NULL, 'i'},
        {"model-dir", required_argument, NULL, 'm'}, {"profile", no_argument, NULL, 'p'},
        {"compare", no_argument, NULL, 'c'},       {NULL, 0, NULL, 0},
    };
    int runs = 30, warmup = 3, c;
    bool compare = false;
    ccc_nn_options o = {0};
    const char *dir = CCC_SOURCE_DIR "/data/models";
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r': runs = atoi(optarg); break;
        case 'w': warmup = atoi(optarg); break;
        case 't': o.threads = atoi(optarg); break;
        case 'i': o.isa = optarg; break;
        case 'm': dir = optarg; break;
        case 'p': o.profile = true; break;
        case 'c': compare = true; break;
        default: return ccc_cli_usage_error(WORDS, "unknown option");
        }
    }
    if (runs < 1 || runs > MAX_RUNS || warmup < 0 || warmup > MAX_RUNS || o.threads < 0)
        return ccc_cli_usage_error(WORDS, "--runs 1..1000, --warmup 0..1000, --threads >= 0");
    if (optind != argc)
        return ccc_cli_usage_error(WORDS, "no positional arguments");

    ccc_nn_model *m = NULL, *ref = NULL;
    float *in = NULL;
    double *ms = calloc((size_t)runs, sizeof *ms);
    int rc = 0;
    uint64_t t0 = ccc_now_ns();
    ccc_status st = load_model(dir, &o, &m);
    double load_ms = (double)(ccc_now_ns() - t0) / 1e6;
    if (st != CCC_OK) {
        rc = ccc_cli_report(WORDS, st);
        goto out;
    }
    ccc_nn_tensor_view shape;
    st = ccc_nn_model_input_shape(m, INPUT, &shape);
    in = malloc(shape.count * sizeof *in);
    if (st != CCC_OK || in == NULL || shape.rank != 4 || ms == NULL) {
        rc = ccc_cli_report(WORDS, st != CCC_OK ? st : CCC_ERR_NOMEM);
        goto out;
    }
    /* a smooth synthetic RGB picture in 0..255 (same as tests/test_nn.c) */
    int64_t H = shape.shape[1], W = shape.shape[2], C = shape.shape[3];
    for (int64_t y = 0; y < H; y++)
        for (int64_t x = 0; x < W; x++)
            for (int64_t ch = 0; ch < C; ch++)
                in[(y * W + x) * C + ch] = (float)(127.5 + 120.0 * sin(0.031 * (double)x * (double)(ch + 1) + 0.017 * (double)y) *
                                                            cos(0.023 * (double)y - 0.011 * (double)x * (double)ch));
    for (int i = 0; i < warmup + runs; i++) {
        uint64_t a = ccc_now_ns();
        st = ccc_nn_model_run(m, INPUT, in, shape.count);
        if (st != CCC_OK) {
            rc = ccc_cli_report(WORDS, st);
            goto out;
        }
        if (i >= warmup)
            ms[i - warmup] = (double)(ccc_now_ns() - a) / 1e6;
    }
    qsort(ms, (size_t)runs, sizeof *ms, cmp_double);
    ccc_nn_stats s;
    ccc_nn_model_stats(m, &s);
    double median = ms[runs / 2], p95 = ms[(size_t)((runs - 1) * 0.95)];
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("model        %s/centernet.{json,bin}: %zu nodes (%zu constants), %zu steps per run\n", dir,
           s.node_count, s.const_count, s.step_count);
    printf("kernels      %s, %d thread%s\n", s.isa, s.threads, s.threads == 1 ? "" : "s");
    printf("load         %.1f ms (parse, check, widen fp16, plan, pack)\n", load_ms);
    printf("inference    median %.2f ms  p95 %.2f ms  min %.2f ms  (%d runs after %d warm-up)\n",
           median, p95, ms[0], runs, warmup);
    printf("throughput   %.1f GFLOP/s at the median (%.3f G multiply-adds per run)\n",
           2.0 * (double)s.mac_count / (median * 1e6), (double)s.mac_count / 1e9);
    printf("memory       arena %.1f MB, weights %.1f MB (widened + packed), peak RSS %.1f MB\n",
           (double)s.arena_size / 1048576.0, (double)s.weights_size / 1048576.0,
           (double)ru.ru_maxrss / 1024.0);
    if (s.op_ns) {
        printf("per op kind (mean ms per run over warm-up + runs)\n");
        for (size_t k = 0; k < s.op_count; k++)
            if (s.op_ns[k])
                printf("  %-28s %4zu  %8.3f\n", s.op_names[k], s.op_counts[k],
                       (double)s.op_ns[k] / 1e6 / (double)(warmup + runs));
    }
    if (compare) {
        ccc_nn_options ro = {.reference_kernels = true};
        st = load_model(dir, &ro, &ref);
        if (st == CCC_OK)
            st = ccc_nn_model_run(ref, INPUT, in, shape.count);
        if (st != CCC_OK) {
            rc = ccc_cli_report(WORDS, st);
            goto out;
        }
        static const char *const names[] = {"tower_0/keypoints", "tower_0/wh"};
        for (size_t k = 0; k < 2; k++) {
            ccc_nn_tensor_view a, b;
            if (ccc_nn_model_output(m, names[k], &a) != CCC_OK ||
                ccc_nn_model_output(ref, names[k], &b) != CCC_OK || a.count != b.count)
                continue;
            double max_abs = 0, max_rel = 0, max_val = 0;
            for (size_t i = 0; i < a.count; i++) {
                double d = fabs((double)a.data[i] - (double)b.data[i]);
                max_abs = fmax(max_abs, d);
                max_rel = fmax(max_rel, d / fmax(fabs((double)b.data[i]), 1e-3));
                max_val = fmax(max_val, fabs((double)b.data[i]));
            }
            printf("vs reference %-20s max |diff| %.3g  max rel %.3g (|ref| floored at 1e-3)  max |ref| %.3g\n",
                   names[k], max_abs, max_rel, max_val);
        }
        /* detections: rows can shift where the exact peak test (heat == maxpool)
         * flips on a plateau, so match each row to a reference row nearby */
        ccc_nn_tensor_view a, b;
        if (ccc_nn_model_output(m, "tower_0/detections", &a) == CCC_OK &&
            ccc_nn_model_output(ref, "tower_0/detections", &b) == CCC_OK && a.count == b.count &&
            a.count % 6 == 0) {
            size_t rows = a.count / 6, matched = 0;
            double worst = 0;
            for (size_t i = 0; i < rows; i++) {
                double best = INFINITY;
                for (size_t r = i > 5 ? i - 5 : 0; r < i + 6 && r < rows; r++) {
                    double d = 0;
                    for (int col = 0; col < 6; col++)
                        d = fmax(d, fabs((double)a.data[i * 6 + col] - (double)b.data[r * 6 + col]));
                    best = fmin(best, d);
                }
                if (best <= 5e-3 * 10) {
                    matched++;
                    worst = fmax(worst, best);
                }
            }
            printf("vs reference tower_0/detections     %zu of %zu rows match a reference row (max |diff| %.3g)\n",
                   matched, rows, worst);
        }
    }
out:
    free(in);
    free(ms);
    ccc_nn_model_free(m);
    ccc_nn_model_free(ref);
    return rc;
}
