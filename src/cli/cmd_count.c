/*
 * ccc count — count the cats in photos that only an attested enclave reads.
 *
 *   ccc count PHOTO... [--server URL] [--trust DIR | --root PEM|aws
 *             --policy-pub PEM --kms-pub PEM] [--state FILE] [--json]
 *             [--save DIR] [--timeout S] [--quiet]
 *
 * 1. Load the three trust anchors (docs/protocol.md §12): DIR/root.pem,
 *    DIR/policy-pub.pem, DIR/kms-pub.pem, DIR defaulting to the local
 *    stack's trust/ directory (`ccc up` writes it); --root, --policy-pub and
 *    --kms-pub replace single files.
 * 2. GET /v1/config and verify it (src/client/client.h): key configuration,
 *    policy, policy hash, every listed enclave's attestation, anti-rollback.
 *    Any failure stops here: nothing is uploaded.
 * 3. For each photo: seal (refused before encryption if it is not a
 *    JPEG/PNG or too large), POST, poll (a progress line on a terminal),
 *    verify the result's attestation and receipt, decrypt, print:
 *      chelsea.png: 1 cat (0.87)  receipt: ok
 *      photo.jpg: refused: limit (the enclave refused the image: too large)
 *    or with --json one object per line. Exit 0 only if every photo passed.
 * --save DIR writes <photo>.receipt.cose, <photo>.attestation.cbor,
 * <photo>.answer.json and <photo>.answer-salt (hex; the receipt's answer
 * commitment is salted, receipt.h), which `ccc receipt verify` checks
 * offline. The answer and its salt are the user's: mode 0600.
 */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "client/client.h"
#include "stack/stack.h"

#define MAX_PATH 4096

typedef struct count_opts {
    const char *server, *trust_dir, *root, *policy_pub, *kms_pub, *state, *save_dir;
    bool json, quiet;
    uint32_t timeout_ms;
} count_opts;

/* What a refusal by the service means, for the one-line report. */
static const char *refusal_text(ccc_status cls)
{
    switch (cls) {
    case CCC_ERR_LIMIT:
        return "the enclave refused the image: over a size limit";
    case CCC_ERR_UNSUPPORTED:
        return "the enclave refused the image: not a JPEG/PNG it decodes";
    case CCC_ERR_PARSE:
        return "the enclave could not parse the request or the image";
    case CCC_ERR_CRYPTO:
        return "the request did not decrypt in the enclave";
    case CCC_ERR_POLICY:
        return "refused by the policy";
    case CCC_ERR_REPLAY:
        return "the same request or job id was seen before";
    case CCC_ERR_NOT_FOUND:
        return "the enclave does not hold the key it was encrypted to";
    default:
        return "the service gave up on the job after its retries";
    }
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s && s[1] ? s + 1 : path;
}

/* ------------------------------------------------------------------------ */
/* Progress on a terminal                                                    */
/* ------------------------------------------------------------------------ */

typedef struct progress_state {
    const char *name;
    bool shown;
} progress_state;

static void on_progress(void *arg, ccc_client_job_state state, uint64_t attempt,
                        uint64_t elapsed_ms)
{
    progress_state *p = arg;
    fprintf(stderr, "\r\033[K%s: %s", p->name, ccc_client_job_state_name(state));
    if (attempt > 1)
        fprintf(stderr, " (attempt %llu)", (unsigned long long)attempt);
    fprintf(stderr, "  %llu.%llu s", (unsigned long long)(elapsed_ms / 1000u),
            (unsigned long long)(elapsed_ms % 1000u / 100u));
    fflush(stderr);
    p->shown = true;
}

static void progress_clear(progress_state *p)
{
    if (p->shown)
        fprintf(stderr, "\r\033[K");
    p->shown = false;
}

/* ------------------------------------------------------------------------ */
/* Output                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * jansson holds the decrypted answer (count, confidence, boxes) for --json:
 * its blocks are wiped before they are freed. Each block carries its size
 * in a header of one max_align_t, so alignment is kept.
 */
typedef union wipe_header {
    size_t size;
    max_align_t align;
} wipe_header;

static void *wiping_malloc(size_t size)
{
    if (size > SIZE_MAX - sizeof(wipe_header))
        return NULL;
    wipe_header *h = malloc(sizeof *h + size);
    if (!h)
        return NULL;
    h->size = size;
    return h + 1;
}

static void wiping_free(void *p)
{
    if (!p)
        return;
    wipe_header *h = (wipe_header *)p - 1;
    ccc_wipe(h, sizeof *h + h->size);
    free(h);
}

static json_t *json_text(const char *s)
{
    json_t *j = json_string(s);
    return j ? j : json_string("<not UTF-8>");
}

static void print_json(json_t *j)
{
    /* numbers are thousandths: three significant digits print them exactly */
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(3)) : NULL;
    if (text)
        printf("%s\n", text);
    wiping_free(text); /* json_dumps allocates with the functions set below */
    json_decref(j);
}

static void print_ok(const count_opts *o, const char *path, const ccc_client_config *cfg,
                     const ccc_client_job *job, const ccc_client_result *r)
{
    const ccc_egress_answer *a = &r->answer;
    if (!o->json) {
        printf("%s: %u cat%s (%.2f)  receipt: ok\n", base_name(path), (unsigned)a->count,
               a->count == 1 ? "" : "s", a->confidence_milli / 1000.0);
        return;
    }
    json_t *boxes = json_array();
    for (size_t i = 0; a->has_boxes && i < a->box_count; i++)
        json_array_append_new(
            boxes, json_pack("[f,f,f,f,f]", a->boxes[i].x1 / 1000.0, a->boxes[i].y1 / 1000.0,
                             a->boxes[i].x2 / 1000.0, a->boxes[i].y2 / 1000.0,
                             a->boxes[i].score / 1000.0));
    json_t *j = json_pack("{s:o,s:I,s:f,s:o,s:s,s:s,s:s,s:I,s:I,s:I}", "file", json_text(path),
                          "count", (json_int_t)a->count, "confidence",
                          a->confidence_milli / 1000.0, "boxes", boxes, "model", a->model,
                          "job_id", job->id, "receipt", "ok", "receipt_seq", (json_int_t)r->seq,
                          "attempt", (json_int_t)r->attempt, "policy_version",
                          (json_int_t)cfg->policy.version);
    print_json(j);
}

/* stage: "not sent" (refused before upload), "refused" (the service
 * refused the job), "rejected" (our verification failed: no answer shown),
 * "error" (transport). */
static void print_failure(const count_opts *o, const char *path, const char *stage,
                          const char *step, ccc_status st, const char *detail, const char *job_id)
{
    if (o->json) {
        json_t *j = json_pack("{s:o,s:s,s:s,s:s,s:s}", "file", json_text(path), "stage", stage,
                              "step", step, "error", ccc_status_name(st), "detail", detail);
        if (j && job_id && job_id[0])
            json_object_set_new(j, "job_id", json_string(job_id));
        print_json(j);
        return;
    }
    if (strcmp(stage, "refused") == 0)
        printf("%s: refused: %s (%s)\n", base_name(path), ccc_status_name(st), refusal_text(st));
    else if (strcmp(stage, "rejected") == 0)
        printf("%s: rejected: %s check failed: %s: %s (no answer shown)\n", base_name(path), step,
               ccc_status_name(st), detail);
    else
        printf("%s: %s: %s: %s\n", base_name(path), stage, ccc_status_name(st), detail);
}

static ccc_status save_one(const char *dir, const char *path, const char *suffix, ccc_bytes b)
{
    char out[MAX_PATH];
    int n = snprintf(out, sizeof out, "%s/%s.%s", dir, base_name(path), suffix);
    CCC_ENSURE(n > 0 && (size_t)n < sizeof out, CCC_ERR_LIMIT, "--save path too long");
    return ccc_file_write(out, b.ptr, b.size);
}

static ccc_status save_result(const char *dir, const char *path, const ccc_client_result *r)
{
    CCC_GUARD(save_one(dir, path, "receipt.cose", ccc_buf_bytes(&r->receipt)));
    CCC_GUARD(save_one(dir, path, "attestation.cbor", ccc_buf_bytes(&r->attestation)));
    CCC_GUARD(save_one(dir, path, "answer.json", ccc_buf_bytes(&r->answer_json)));
    char hex[2 * CCC_RECEIPT_ANSWER_SALT_SIZE + 2];
    ccc_hex_encode(r->answer_salt, sizeof r->answer_salt, hex);
    hex[2 * CCC_RECEIPT_ANSWER_SALT_SIZE] = '\n';
    ccc_status st = save_one(dir, path, "answer-salt", ccc_bytes_of(hex, sizeof hex - 1));
    ccc_wipe(hex, sizeof hex);
    return st;
}

/* ------------------------------------------------------------------------ */
/* One photo                                                                 */
/* ------------------------------------------------------------------------ */

static ccc_status count_one(const count_opts *o, ccc_client_http *h, const ccc_client_trust *t,
                            const ccc_client_config *cfg, const char *path)
{
    ccc_status st;
    char detail[160];
    ccc_client_job job;
    ccc_client_job_init(&job);
    ccc_client_result r;
    ccc_client_result_init(&r);
    ccc_buf photo;
    /* A little over the policy's limit, so the seal gives the clear error. */
    uint64_t cap = cfg->policy.tou_max_body_bytes + 1;
    ccc_buf_init_secret(&photo, cap > CCC_OHTTP_MAX_MESSAGE_SIZE ? CCC_OHTTP_MAX_MESSAGE_SIZE
                                                                 : (size_t)cap);
    progress_state ps = {.name = base_name(path)};
    bool tty = !o->quiet && !o->json && isatty(STDERR_FILENO);

    st = ccc_file_read(path, &photo);
    if (st != CCC_OK) {
        snprintf(detail, sizeof detail, "%s", ccc_error_detail());
        print_failure(o, path, "not sent", "read", st, detail, NULL);
        goto out;
    }
    bool job_failed = false;
    st = ccc_client_count(h, t, cfg, ccc_buf_bytes(&photo), o->timeout_ms,
                          tty ? on_progress : NULL, &ps, &job, &r, &job_failed);
    snprintf(detail, sizeof detail, "%s", ccc_error_detail());
    progress_clear(&ps);
    if (st == CCC_OK) {
        print_ok(o, path, cfg, &job, &r);
        if (o->save_dir) {
            st = save_result(o->save_dir, path, &r);
            if (st != CCC_OK)
                fprintf(stderr, "ccc count: %s: --save failed: %s error: %s\n", base_name(path),
                        ccc_status_name(st), ccc_error_detail());
        }
    } else if (job_failed) {
        print_failure(o, path, "refused", "job", st, detail, job.id);
    } else if (strcmp(r.step, "seal") == 0) {
        print_failure(o, path, "not sent", "seal", st, detail, NULL);
    } else if (strcmp(r.step, "submit") == 0 || strcmp(r.step, "wait") == 0) {
        print_failure(o, path, "error", r.step, st, detail, job.id);
    } else {
        print_failure(o, path, "rejected", r.step, st, detail, job.id);
    }
out:
    ccc_buf_wipe(&photo);
    ccc_client_result_wipe(&r);
    ccc_client_job_wipe(&job);
    return st;
}

/* ------------------------------------------------------------------------ */
/* The command                                                               */
/* ------------------------------------------------------------------------ */

static ccc_status load_trust(const count_opts *o, ccc_client_trust *t)
{
    char dir[MAX_PATH];
    if (o->trust_dir) {
        CCC_ENSURE(strlen(o->trust_dir) < sizeof dir, CCC_ERR_LIMIT, "--trust path too long");
        snprintf(dir, sizeof dir, "%s", o->trust_dir);
    } else {
        CCC_GUARD(ccc_stack_default_dir(dir, sizeof dir - 8));
        strcat(dir, "/trust");
    }
    return ccc_client_trust_load_dir(t, dir, o->root, o->policy_pub, o->kms_pub);
}

static void print_config(const ccc_client_config *cfg, const ccc_client_trust *t,
                         const char *state)
{
    char hex[65];
    ccc_hex_encode(cfg->policy_sha256, 32, hex);
    hex[16] = '\0';
    fprintf(stderr,
            "verified: key configuration (key id %u) and policy v%llu (sha256 %s...) signed by "
            "the pinned keys\n",
            (unsigned)cfg->kms.keys[0].key_id, (unsigned long long)cfg->policy.version, hex);
    if (cfg->attestation_count == 0)
        fprintf(stderr, "verified: no enclave is ready yet; the receipt's enclave will be checked\n");
    for (size_t i = 0; i < cfg->attestation_count; i++)
        fprintf(stderr,
                "verified: enclave %zu attested (%s root; measurement set %zu of the policy; "
                "PCR16 model, PCR17 policy)\n",
                i + 1, t->aws_root ? "AWS" : "pinned", cfg->pcr_set[i] + 1);
    if (cfg->rollback_checked)
        fprintf(stderr, "verified: policy not older than the one in %s\n", state);
}

int ccc_cmd_count(int argc, char **argv)
{
    json_set_alloc_funcs(wiping_malloc, wiping_free);
    static const char words[] = "count";
    if (ccc_cli_wants_help(argc, argv, words))
        return 0;
    enum { O_SERVER = 256, O_TRUST, O_ROOT, O_PPUB, O_KPUB, O_STATE, O_JSON, O_SAVE, O_TIMEOUT, O_QUIET };
    static const struct option opts[] = {
        {"server", required_argument, NULL, O_SERVER},
        {"trust", required_argument, NULL, O_TRUST},
        {"root", required_argument, NULL, O_ROOT},
        {"policy-pub", required_argument, NULL, O_PPUB},
        {"kms-pub", required_argument, NULL, O_KPUB},
        {"state", required_argument, NULL, O_STATE},
        {"json", no_argument, NULL, O_JSON},
        {"save", required_argument, NULL, O_SAVE},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"quiet", no_argument, NULL, O_QUIET},
        {NULL, 0, NULL, 0},
    };
    count_opts o = {.server = CCC_CLIENT_DEFAULT_SERVER, .timeout_ms = CCC_CLIENT_DEFAULT_TIMEOUT_MS};
    char state_path[MAX_PATH];
    int rc = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_SERVER: o.server = optarg; break;
        case O_TRUST: o.trust_dir = optarg; break;
        case O_ROOT: o.root = optarg; break;
        case O_PPUB: o.policy_pub = optarg; break;
        case O_KPUB: o.kms_pub = optarg; break;
        case O_STATE: o.state = optarg; break;
        case O_JSON: o.json = true; break;
        case O_SAVE: o.save_dir = optarg; break;
        case O_QUIET: o.quiet = true; break;
        case O_TIMEOUT: {
            char *end = NULL;
            double s = strtod(optarg, &end);
            if (!end || *end || end == optarg || !(s > 0 && s <= 86400))
                return ccc_cli_usage_error(words, "--timeout wants seconds (0 < S <= 86400)");
            o.timeout_ms = (uint32_t)(s * 1000.0);
            break;
        }
        default:
            return ccc_cli_usage_error(words, "unknown option");
        }
    }
    if (optind >= argc)
        return ccc_cli_usage_error(words, "expected at least one PHOTO");
    if (o.save_dir && mkdir(o.save_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "ccc count: cannot create --save directory\n");
        return ccc_status_exit_code(CCC_ERR_IO);
    }

    ccc_client_trust trust;
    ccc_client_trust_init(&trust);
    ccc_client_http *h = NULL;
    static ccc_client_config cfg; /* large (policy + key configs) */
    ccc_status st = load_trust(&o, &trust);
    if (st != CCC_OK) {
        fprintf(stderr, "ccc count: cannot load the trust anchors (--trust DIR, or --root, "
                        "--policy-pub, --kms-pub; `ccc up` writes them)\n");
        rc = ccc_cli_report(words, st);
        goto out;
    }
    if (!o.state) { /* per policy key: see ccc_client_default_state_path */
        st = ccc_client_default_state_path(&trust, state_path, sizeof state_path);
        if (st != CCC_OK) {
            rc = ccc_cli_report(words, st);
            goto out;
        }
        o.state = state_path;
    }
    st = ccc_client_http_new(o.server, &h);
    if (st != CCC_OK) {
        rc = ccc_cli_report(words, st);
        goto out;
    }
    st = ccc_client_fetch_config(h, &trust, o.state, &cfg);
    if (st != CCC_OK && strcmp(cfg.step, "fetch") == 0) {
        fprintf(stderr, "ccc count: cannot get the service's configuration from %s: %s error: %s\n",
                o.server, ccc_status_name(st), ccc_error_detail());
        rc = ccc_status_exit_code(st);
        goto out;
    }
    if (st != CCC_OK) {
        fprintf(stderr,
                "ccc count: the service's configuration was refused at the %s step: %s error: "
                "%s\nccc count: nothing was uploaded\n",
                cfg.step, ccc_status_name(st), ccc_error_detail());
        rc = ccc_status_exit_code(st);
        goto out;
    }
    if (!o.quiet)
        print_config(&cfg, &trust, o.state);
    for (int i = optind; i < argc; i++) {
        st = count_one(&o, h, &trust, &cfg, argv[i]);
        if (st != CCC_OK && rc == 0)
            rc = ccc_status_exit_code(st);
        fflush(stdout);
    }
out:
    ccc_client_http_free(h);
    ccc_client_trust_wipe(&trust);
    return rc;
}
