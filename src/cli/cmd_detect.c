/*
 * `ccc detect`, `ccc bench detect`, `ccc image ppm`: the cat detector from
 * the command line (module detect), its benchmark against the TF.js wasm
 * reference, and the decoder's output for that reference.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/cli.h"
#include "detect/detect.h"
#include "image/image.h"
#include "nn/nn.h"

/* ------------------------------------------------------------------------ */
/* Shared helpers                                                            */
/* ------------------------------------------------------------------------ */

static ccc_status read_image(const char *path, ccc_image *img, uint64_t *decode_ns)
{
    ccc_status st = CCC_OK;
    ccc_buf file;
    ccc_buf_init(&file, CCC_IMAGE_DEFAULT_MAX_INPUT_SIZE);
    CCC_TRY(ccc_file_read(path, &file));
    uint64_t t0 = ccc_now_ns();
    CCC_TRY(ccc_image_decode(ccc_buf_bytes(&file), NULL, img));
    if (decode_ns)
        *decode_ns = ccc_now_ns() - t0;
out:
    ccc_buf_wipe(&file);
    return st;
}

/* Write a binary PPM (P6): the exact RGB the detector sees. */
static ccc_status write_ppm(const char *path, const ccc_image *img)
{
    FILE *f = fopen(path, "wb");
    CCC_ENSURE(f != NULL, CCC_ERR_IO, "cannot create the output file");
    size_t size = (size_t)img->width * img->height * 3;
    bool ok = fprintf(f, "P6\n%u %u\n255\n", img->width, img->height) > 0 &&
              fwrite(img->rgb, 1, size, f) == size;
    ok = (fclose(f) == 0) && ok;
    CCC_ENSURE(ok, CCC_ERR_IO, "cannot write the output file");
    return CCC_OK;
}

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static ccc_status parse_double(const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    double v = strtod(s, &end);
    CCC_ENSURE(end != s && *end == '\0' && v >= lo && v <= hi, CCC_ERR_USAGE,
               "not a number in range");
    *out = v;
    return CCC_OK;
}

static ccc_status model_dir_or_default(const char *given, char *buf, size_t size,
                                       const char **out)
{
    if (given) {
        *out = given;
        return CCC_OK;
    }
    CCC_GUARD(ccc_detect_default_model_dir(buf, size));
    *out = buf;
    return CCC_OK;
}

/* ------------------------------------------------------------------------ */
/* ccc detect                                                                */
/* ------------------------------------------------------------------------ */

static void print_text(const char *path, const ccc_detect_result *r, bool all)
{
    if (r->cat_count > 0)
        printf("%s: %zu cat%s (%.2f)\n", base_name(path), r->cat_count,
               r->cat_count == 1 ? "" : "s", ccc_detect_score_2dp(r->cat_max_score));
    else
        printf("%s: 0 cats\n", base_name(path));
    for (size_t i = 0; i < r->count; i++) {
        const ccc_detect_box *b = &r->boxes[i];
        if (!all && b->cls != CCC_DETECT_CLASS_CAT)
            continue;
        printf("  %-14s %.2f  box x=%d y=%d w=%d h=%d\n", ccc_detect_label(b->cls),
               ccc_detect_score_2dp(b->score), b->box[0], b->box[1], b->box[2], b->box[3]);
    }
}

static void print_json(FILE *out, const char *path, const ccc_image *img,
                       const ccc_detect_result *r, bool first)
{
    fprintf(out, "%s{\"file\":", first ? "" : ",\n");
    json_string(out, path);
    fprintf(out, ",\"width\":%u,\"height\":%u,\"cats\":%zu,\"max_cat_score\":%.9g,"
                 "\"detections\":[",
            img->width, img->height, r->cat_count, (double)r->cat_max_score);
    for (size_t i = 0; i < r->count; i++) {
        const ccc_detect_box *b = &r->boxes[i];
        fprintf(out,
                "%s{\"class\":%d,\"label\":\"%s\",\"score\":%.9g,\"score2\":%.2f,\"row\":%zu,"
                "\"box\":[%d,%d,%d,%d],\"x1\":%.6f,\"y1\":%.6f,\"x2\":%.6f,\"y2\":%.6f}",
                i ? "," : "", b->cls, ccc_detect_label(b->cls), (double)b->score,
                ccc_detect_score_2dp(b->score), b->row, b->box[0], b->box[1], b->box[2],
                b->box[3], b->x1, b->y1, b->x2, b->y2);
    }
    fprintf(out, "]}");
}

/* Raw float32 tensors of the last run (the resized input and the
 * outputs), for comparison with the reference. */
static ccc_status dump_raw(ccc_detect_model *m, const char *prefix)
{
    char in_path[4096];
    int in_n = snprintf(in_path, sizeof in_path, "%s.input.f32", prefix);
    CCC_ENSURE(in_n > 0 && (size_t)in_n < sizeof in_path, CCC_ERR_LIMIT, "path too long");
    CCC_GUARD(ccc_file_write(in_path, ccc_detect_model_input(m),
                             (size_t)CCC_DETECT_INPUT_SIDE * CCC_DETECT_INPUT_SIDE * 3 *
                                 sizeof(float)));
    static const char *const names[] = {"tower_0/detections", "tower_0/keypoints",
                                        "tower_0/wh"};
    static const char *const files[] = {"detections", "keypoints", "wh"};
    for (size_t i = 0; i < 3; i++) {
        ccc_nn_tensor_view v;
        ccc_status st = ccc_nn_model_output(ccc_detect_model_nn(m), names[i], &v);
        if (st == CCC_ERR_NOT_FOUND && i > 0)
            continue; /* the engine keeps only graph outputs alive */
        CCC_GUARD(st);
        char path[4096];
        int n = snprintf(path, sizeof path, "%s.%s.f32", prefix, files[i]);
        CCC_ENSURE(n > 0 && (size_t)n < sizeof path, CCC_ERR_LIMIT, "path too long");
        CCC_GUARD(ccc_file_write(path, v.data, v.count * sizeof(float)));
    }
    return CCC_OK;
}

int ccc_cmd_detect(int argc, char **argv)
{
    const char *words = "detect";
    if (ccc_cli_wants_help(argc, argv, words))
        return 0;
    static const struct option opts[] = {
        {"threshold", required_argument, NULL, 't'}, {"json", no_argument, NULL, 'j'},
        {"all", no_argument, NULL, 'a'},             {"model-dir", required_argument, NULL, 'm'},
        {"threads", required_argument, NULL, 'n'},   {"trusted-key", required_argument, NULL, 'k'},
        {"manifest", required_argument, NULL, 'M'},  {"raw-out", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    double threshold = NAN;
    bool json = false, all = false;
    const char *model_dir_arg = NULL, *raw_out = NULL;
    ccc_detect_options dopt = {0};
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (parse_double(optarg, 0.0, 1.0, &threshold) != CCC_OK)
                return ccc_cli_usage_error(words, "--threshold must be a number in 0..1");
            break;
        case 'j':
            json = true;
            break;
        case 'a':
            all = true;
            break;
        case 'm':
            model_dir_arg = optarg;
            break;
        case 'n':
            dopt.threads = atoi(optarg);
            break;
        case 'k':
            dopt.trusted_key_path = optarg;
            break;
        case 'M':
            dopt.manifest_path = optarg;
            break;
        case 'r':
            raw_out = optarg;
            break;
        default:
            return ccc_cli_usage_error(words, "unknown option");
        }
    }
    if (optind >= argc)
        return ccc_cli_usage_error(words, "no image given");
    if (raw_out && argc - optind != 1)
        return ccc_cli_usage_error(words, "--raw-out takes exactly one image");
    char dir_buf[4096];
    const char *model_dir;
    ccc_status st = model_dir_or_default(model_dir_arg, dir_buf, sizeof dir_buf, &model_dir);
    if (st != CCC_OK)
        return ccc_cli_report(words, st);
    ccc_detect_model *m = NULL;
    st = ccc_detect_model_load(model_dir, &dopt, &m);
    if (st != CCC_OK)
        return ccc_cli_report(words, st);
    if (isnan(threshold))
        threshold = ccc_detect_model_threshold(m);
    int rc = 0;
    if (json)
        printf("{\"threshold\":%.9g,\"images\":[\n", threshold);
    bool first = true;
    for (int i = optind; i < argc; i++) {
        ccc_image img;
        ccc_image_init(&img);
        ccc_detect_result r;
        st = read_image(argv[i], &img, NULL);
        if (st == CCC_OK)
            st = ccc_detect_model_run(m, &img, threshold, &r, NULL);
        if (st == CCC_OK && raw_out)
            st = dump_raw(m, raw_out);
        if (st != CCC_OK) {
            fprintf(stderr, "%s: ", base_name(argv[i]));
            rc = ccc_cli_report(words, st);
        } else if (json) {
            print_json(stdout, argv[i], &img, &r, first);
            first = false;
        } else {
            print_text(argv[i], &r, all);
        }
        ccc_image_wipe(&img);
    }
    if (json)
        printf("\n]}\n");
    ccc_detect_model_free(m);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* ccc image ppm                                                             */
/* ------------------------------------------------------------------------ */

int ccc_cmd_image_ppm(int argc, char **argv)
{
    const char *words = "image ppm";
    if (ccc_cli_wants_help(argc, argv, words))
        return 0;
    if (argc != 3)
        return ccc_cli_usage_error(words, "need an image and an output file");
    ccc_image img;
    ccc_image_init(&img);
    ccc_status st = read_image(argv[1], &img, NULL);
    if (st == CCC_OK)
        st = write_ppm(argv[2], &img);
    ccc_image_wipe(&img);
    return ccc_cli_report(words, st);
}

/* ccc image crop IN X Y W H OUT.png: a rectangle of a photo, as PNG (the
 * left 300x300 of chelsea.png is where the model sees a cat). */
int ccc_cmd_image_crop(int argc, char **argv)
{
    const char *words = "image crop";
    if (ccc_cli_wants_help(argc, argv, words))
        return 0;
    if (argc != 7)
        return ccc_cli_usage_error(words, "need IN X Y W H OUT.png");
    uint32_t v[4];
    for (int i = 0; i < 4; i++) {
        char *end;
        unsigned long n = strtoul(argv[2 + i], &end, 10);
        if (*end || end == argv[2 + i] || n > 100000)
            return ccc_cli_usage_error(words, "X Y W H are pixel numbers");
        v[i] = (uint32_t)n;
    }
    ccc_image img, crop;
    ccc_image_init(&img);
    ccc_image_init(&crop);
    ccc_buf png;
    ccc_buf_init(&png, 256u << 20);
    ccc_status st = read_image(argv[1], &img, NULL);
    if (st == CCC_OK)
        st = ccc_image_crop(&img, v[0], v[1], v[2], v[3], &crop);
    if (st == CCC_OK)
        st = ccc_image_encode_png(&crop, &png);
    if (st == CCC_OK)
        st = ccc_file_write(argv[6], png.data, png.size);
    ccc_buf_wipe(&png);
    ccc_image_wipe(&crop);
    ccc_image_wipe(&img);
    return ccc_cli_report(words, st);
}

/* ------------------------------------------------------------------------ */
/* ccc bench detect                                                          */
/* ------------------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Median and p95 (nearest rank) in milliseconds; sorts `v`. */
static void stats_ms(uint64_t *v, size_t n, double *median, double *p95)
{
    qsort(v, n, sizeof *v, cmp_u64);
    *median = (n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2) / 1e6;
    size_t rank = (size_t)ceil(0.95 * (double)n);
    *p95 = (double)v[(rank ? rank : 1) - 1] / 1e6;
}

static void print_stage(const char *name, uint64_t *v, size_t n)
{
    double med, p95;
    stats_ms(v, n, &med, &p95);
    printf("  %-12s median %8.2f ms   p95 %8.2f ms\n", name, med, p95);
}

/*
 * Run the TF.js wasm reference on the same decoded pixels (a temporary PPM)
 * and read its median inference time. Returns false when Node or the
 * harness is not there.
 */
static bool tfjs_inference_ms(const ccc_image *img, const char *model_dir, int runs,
                              double *median, double *p95)
{
    char script[4096], tmpl[] = "/tmp/ccc-bench-XXXXXX";
    snprintf(script, sizeof script, "%s/tools/tfjs-reference/reference.mjs", CCC_SOURCE_DIR);
    char mods[4096];
    snprintf(mods, sizeof mods, "%s/tools/tfjs-reference/node_modules/@tensorflow/tfjs",
             CCC_SOURCE_DIR);
    if (access(script, R_OK) != 0 || access(mods, R_OK) != 0 ||
        system("command -v node >/dev/null 2>&1") != 0)
        return false;
    int fd = mkstemp(tmpl);
    if (fd < 0)
        return false;
    close(fd);
    bool ok = false;
    if (write_ppm(tmpl, img) == CCC_OK) {
        char cmd[12288];
        snprintf(cmd, sizeof cmd,
                 "node '%s' --model-dir '%s' --runs %d --warmup 3 --time-only '%s' 2>/dev/null",
                 script, model_dir, runs, tmpl);
        FILE *p = popen(cmd, "r");
        if (p) {
            char line[4096] = {0};
            size_t got = fread(line, 1, sizeof line - 1, p);
            line[got] = '\0';
            ok = pclose(p) == 0;
            const char *mk = strstr(line, "\"inference_ms_median\":");
            const char *pk = strstr(line, "\"inference_ms_p95\":");
            ok = ok && mk && pk && sscanf(mk + 22, "%lf", median) == 1 &&
                 sscanf(pk + 19, "%lf", p95) == 1;
        }
    }
    unlink(tmpl);
    return ok;
}

int ccc_cmd_bench_detect(int argc, char **argv)
{
    const char *words = "bench detect";
    if (ccc_cli_wants_help(argc, argv, words))
        return 0;
    static const struct option opts[] = {
        {"runs", required_argument, NULL, 'r'},      {"warmup", required_argument, NULL, 'w'},
        {"threads", required_argument, NULL, 'n'},   {"model-dir", required_argument, NULL, 'm'},
        {"isa", required_argument, NULL, 'i'},       {"no-reference", no_argument, NULL, 'N'},
        {NULL, 0, NULL, 0},
    };
    int runs = 20, warmup = 3;
    bool reference = true;
    const char *model_dir_arg = NULL;
    ccc_detect_options dopt = {0};
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            runs = atoi(optarg);
            break;
        case 'w':
            warmup = atoi(optarg);
            break;
        case 'n':
            dopt.threads = atoi(optarg);
            break;
        case 'm':
            model_dir_arg = optarg;
            break;
        case 'i':
            dopt.isa = optarg;
            break;
        case 'N':
            reference = false;
            break;
        default:
            return ccc_cli_usage_error(words, "unknown option");
        }
    }
    if (optind != argc - 1)
        return ccc_cli_usage_error(words, "need exactly one image");
    if (runs < 1 || runs > 100000 || warmup < 0 || warmup > 1000)
        return ccc_cli_usage_error(words, "--runs must be 1..100000, --warmup 0..1000");
    const char *path = argv[optind];
    char dir_buf[4096];
    const char *model_dir;
    ccc_status st = model_dir_or_default(model_dir_arg, dir_buf, sizeof dir_buf, &model_dir);
    if (st != CCC_OK)
        return ccc_cli_report(words, st);

    ccc_detect_model *m = NULL;
    ccc_image img;
    ccc_image_init(&img);
    uint64_t *t = calloc((size_t)runs * 4, sizeof *t);
    if (t == NULL)
        return ccc_cli_report(words, CCC_ERR_NOMEM);
    uint64_t *t_dec = t, *t_pre = t + runs, *t_inf = t + 2 * runs, *t_post = t + 3 * runs;
    uint64_t t0 = ccc_now_ns();
    st = ccc_detect_model_load(model_dir, &dopt, &m);
    uint64_t load_ns = ccc_now_ns() - t0;
    ccc_detect_result r;
    for (int i = 0; st == CCC_OK && i < warmup + runs; i++) {
        uint64_t dec = 0;
        ccc_image_wipe(&img);
        st = read_image(path, &img, &dec);
        ccc_detect_timing tm;
        if (st == CCC_OK)
            st = ccc_detect_model_run(m, &img, ccc_detect_model_threshold(m), &r, &tm);
        if (st == CCC_OK && i >= warmup) {
            int k = i - warmup;
            t_dec[k] = dec;
            t_pre[k] = tm.preprocess_ns;
            t_inf[k] = tm.inference_ns;
            t_post[k] = tm.postprocess_ns;
        }
    }
    if (st != CCC_OK) {
        int rc = ccc_cli_report(words, st);
        ccc_detect_model_free(m);
        ccc_image_wipe(&img);
        free(t);
        return rc;
    }
    ccc_nn_stats ns;
    ccc_nn_model_stats(ccc_detect_model_nn(m), &ns);
    printf("ccc bench detect: %s (%ux%u), %d runs after %d warm-up\n", base_name(path),
           img.width, img.height, runs, warmup);
    printf("  engine: %s kernels, %d thread%s, %zu steps, arena %.1f MB, model load %.1f ms\n",
           ns.isa ? ns.isa : "?", ns.threads, ns.threads == 1 ? "" : "s", ns.step_count,
           (double)ns.arena_size / 1e6, (double)load_ns / 1e6);
    printf("  result: %zu cat%s (%.2f), %zu box%s\n", r.cat_count, r.cat_count == 1 ? "" : "s",
           ccc_detect_score_2dp(r.cat_max_score), r.count, r.count == 1 ? "" : "es");
    print_stage("decode", t_dec, (size_t)runs);
    print_stage("pre-process", t_pre, (size_t)runs);
    double inf_med, inf_p95;
    stats_ms(t_inf, (size_t)runs, &inf_med, &inf_p95);
    printf("  %-12s median %8.2f ms   p95 %8.2f ms   %.1f GFLOP/s (%.3f G multiply-adds)\n",
           "inference", inf_med, inf_p95, 2.0 * (double)ns.mac_count / (inf_med * 1e6),
           (double)ns.mac_count / 1e9);
    print_stage("post-process", t_post, (size_t)runs);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("  peak RSS     %.1f MB\n", (double)ru.ru_maxrss / 1024.0);
    double tf_med, tf_p95;
    if (!reference)
        printf("  tfjs-wasm    skipped (--no-reference)\n");
    else if (tfjs_inference_ms(&img, model_dir, runs < 10 ? runs : 10, &tf_med, &tf_p95))
        printf("  tfjs-wasm    median %8.2f ms   p95 %8.2f ms   (inference, same image; "
               "ccc is %.1fx faster)\n",
               tf_med, tf_p95, tf_med / inf_med);
    else
        printf("  tfjs-wasm    not measured (needs node and tools/tfjs-reference with "
               "node_modules: scripts/setup)\n");
    ccc_detect_model_free(m);
    ccc_image_wipe(&img);
    free(t);
    return 0;
}
