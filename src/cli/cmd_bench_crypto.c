/*
 * `ccc bench crypto`: HPKE (RFC 9180) seal/open throughput next to raw
 * OpenSSL EVP throughput of the same AEAD on the same sizes, in one run.
 *
 * Per AEAD and message size it measures, interleaved, `repeats` times:
 *   raw seal     EVP_CIPHER_CTX keyed once; per message: nonce, update,
 *                final, tag — the floor any AEAD user pays
 *   hpke seal    ccc_hpke_ctx_seal on a set-up sender context (nonce from
 *                the sequence number, one pass into the caller's buffer)
 *   hpke 1-shot  ccc_hpke_seal: a fresh X25519 ephemeral key, Encap, key
 *                schedule and seal per message (what a client does per photo)
 *   raw open / hpke open  the same for decryption (each open of a message
 *                sealed just before; only the open is timed)
 * and prints the median throughput of each and the HPKE/raw ratios.
 * Numbers only: nothing here asserts a speed.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cli/cli.h"
#include "hpke/hpke.h"

#define WORDS "bench crypto"
#define MAX_REPEATS 15

enum { M_RAW_SEAL, M_HPKE_SEAL, M_HPKE_ONESHOT, M_RAW_OPEN, M_HPKE_OPEN, M_COUNT };
static const char *const metric_names[M_COUNT] = {"raw_seal", "hpke_seal", "hpke_seal_oneshot",
                                                  "raw_open", "hpke_open"};

static const size_t bench_sizes[] = {1024, 64 * 1024, 1024 * 1024, 10 * 1024 * 1024};
#define SIZE_COUNT (sizeof bench_sizes / sizeof bench_sizes[0])
static const uint16_t bench_aeads[] = {CCC_HPKE_AEAD_AES_128_GCM, CCC_HPKE_AEAD_AES_256_GCM,
                                       CCC_HPKE_AEAD_CHACHA20_POLY1305};
#define AEAD_COUNT (sizeof bench_aeads / sizeof bench_aeads[0])

/* Everything one (AEAD, size) cell needs; buffers sized for the largest message. */
typedef struct bench {
    uint16_t aead;
    size_t size;
    uint8_t *pt, *ct, *out;
    EVP_CIPHER_CTX *raw_enc, *raw_dec;
    ccc_hpke_keypair kp;
    ccc_hpke_ctx sender, receiver;
    uint64_t raw_seq;
} bench;

static const EVP_CIPHER *raw_cipher(uint16_t aead)
{
    return aead == CCC_HPKE_AEAD_AES_128_GCM   ? EVP_aes_128_gcm()
           : aead == CCC_HPKE_AEAD_AES_256_GCM ? EVP_aes_256_gcm()
                                               : EVP_chacha20_poly1305();
}

/* Raw EVP seal/open of b->size bytes: the reference implementation. */
static ccc_status raw_run(bench *b, bool enc)
{
    uint8_t nonce[12] = {0};
    int len = 0;
    EVP_CIPHER_CTX *c = enc ? b->raw_enc : b->raw_dec;
    uint64_t seq = enc ? ++b->raw_seq : b->raw_seq;
    memcpy(nonce + 4, &seq, sizeof seq);
    const uint8_t *in = enc ? b->pt : b->ct;
    uint8_t *dst = enc ? b->ct : b->out;
    CCC_ENSURE(EVP_CipherInit_ex(c, NULL, NULL, NULL, nonce, enc) == 1 &&
                   EVP_CipherUpdate(c, dst, &len, in, (int)b->size) == 1,
               CCC_ERR_INTERNAL, "raw AEAD failed");
    if (!enc)
        CCC_ENSURE(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, b->ct + b->size) == 1,
                   CCC_ERR_INTERNAL, "raw AEAD tag");
    CCC_ENSURE(EVP_CipherFinal_ex(c, dst + len, &len) == 1, CCC_ERR_CRYPTO, "raw AEAD final");
    if (enc)
        CCC_ENSURE(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, b->ct + b->size) == 1,
                   CCC_ERR_INTERNAL, "raw AEAD tag");
    return CCC_OK;
}

static ccc_hpke_suite suite_of(uint16_t aead)
{
    ccc_hpke_suite s = {CCC_HPKE_KEM_X25519_SHA256, CCC_HPKE_KDF_HKDF_SHA256, aead};
    return s;
}

/* One operation of metric m; *timed_ns gets the time of the measured part. */
static ccc_status run_once(bench *b, int m, uint64_t *timed_ns)
{
    size_t n;
    uint8_t enc[CCC_HPKE_ENC_SIZE];
    ccc_bytes none = ccc_bytes_of(NULL, 0);
    ccc_hpke_setup_opts o = ccc_hpke_opts_base(ccc_bytes_of("ccc bench", 9));
    uint64_t t0;
    switch (m) {
    case M_RAW_SEAL:
        t0 = ccc_now_ns();
        CCC_GUARD(raw_run(b, true));
        break;
    case M_HPKE_SEAL:
        t0 = ccc_now_ns();
        CCC_GUARD(ccc_hpke_ctx_seal(&b->sender, none, b->pt, b->size, b->ct, b->size + 16, &n));
        break;
    case M_HPKE_ONESHOT:
        t0 = ccc_now_ns();
        CCC_GUARD(ccc_hpke_seal(suite_of(b->aead), b->kp.pk, &o, none, b->pt, b->size, enc, b->ct,
                                b->size + 16, &n));
        break;
    case M_RAW_OPEN:
        CCC_GUARD(raw_run(b, true));
        t0 = ccc_now_ns();
        CCC_GUARD(raw_run(b, false));
        break;
    default: /* M_HPKE_OPEN: open the message sealed just before */
        CCC_GUARD(ccc_hpke_ctx_seal(&b->sender, none, b->pt, b->size, b->ct, b->size + 16, &n));
        t0 = ccc_now_ns();
        CCC_GUARD(ccc_hpke_ctx_open(&b->receiver, none, b->ct, n, b->out, b->size, &n));
        break;
    }
    *timed_ns = ccc_now_ns() - t0;
    return CCC_OK;
}

/* Run metric m for about budget_ns of measured time; bytes per second. */
static ccc_status measure(bench *b, int m, uint64_t budget_ns, double *bps)
{
    uint64_t total = 0, ns;
    size_t ops = 0;
    do {
        CCC_GUARD(run_once(b, m, &ns));
        total += ns;
        ops++;
    } while (total < budget_ns || ops < 2);
    *bps = (double)b->size * (double)ops / ((double)total / 1e9);
    return CCC_OK;
}

/* A fresh sender/receiver pair (after seal-only runs put them out of step). */
static ccc_status reset_pair(bench *b)
{
    uint8_t enc[CCC_HPKE_ENC_SIZE];
    ccc_hpke_setup_opts o = ccc_hpke_opts_base(ccc_bytes_of("ccc bench", 9));
    CCC_GUARD(ccc_hpke_ctx_setup_sender(&b->sender, suite_of(b->aead), b->kp.pk, &o, enc));
    return ccc_hpke_ctx_setup_receiver(&b->receiver, suite_of(b->aead), &b->kp, enc, &o);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct cell {
    uint16_t aead;
    size_t size;
    double mbps[M_COUNT]; /* median, 10^6 bytes per second */
} cell;

static ccc_status bench_cell(bench *b, int repeats, double seconds, cell *out)
{
    double samples[M_COUNT][MAX_REPEATS];
    uint64_t budget = (uint64_t)(seconds * 1e9 / (M_COUNT * repeats));
    uint64_t ns;
    CCC_GUARD(reset_pair(b));
    /* Warm-up: one of each (page faults, lazy init). */
    for (int m = 0; m < M_COUNT; m++) {
        if (m == M_HPKE_OPEN)
            CCC_GUARD(reset_pair(b));
        CCC_GUARD(run_once(b, m, &ns));
    }
    for (int r = 0; r < repeats; r++) {
        for (int m = 0; m < M_COUNT; m++) {
            /* Seal-only runs put the sender ahead of the receiver. */
            if (m == M_HPKE_OPEN)
                CCC_GUARD(reset_pair(b));
            CCC_GUARD(measure(b, m, budget, &samples[m][r]));
        }
    }
    out->aead = b->aead;
    out->size = b->size;
    for (int m = 0; m < M_COUNT; m++) {
        qsort(samples[m], (size_t)repeats, sizeof(double), cmp_double);
        double med = repeats % 2 ? samples[m][repeats / 2]
                                 : (samples[m][repeats / 2 - 1] + samples[m][repeats / 2]) / 2;
        out->mbps[m] = med / 1e6;
    }
    return CCC_OK;
}

static const char *size_label(size_t size, char buf[32])
{
    if (size >= 1024 * 1024)
        snprintf(buf, 32, "%zu MB", size / (1024 * 1024));
    else
        snprintf(buf, 32, "%zu KB", size / 1024);
    return buf;
}

static void print_text(const cell *cells, size_t count, int repeats, double seconds)
{
    char lbl[32];
    printf("HPKE (RFC 9180, X25519/HKDF-SHA256) vs raw OpenSSL EVP, same run\n");
    printf("%s; median of %d repeats, ~%.2f s per AEAD and size; MB/s = 10^6 bytes/s\n\n",
           OpenSSL_version(OPENSSL_VERSION), repeats, seconds);
    printf("%-18s %6s %10s %10s %6s %10s %6s %10s %10s %6s\n", "AEAD", "size", "raw seal",
           "hpke seal", "ratio", "1-shot", "ratio", "raw open", "hpke open", "ratio");
    for (size_t i = 0; i < count; i++) {
        const cell *c = &cells[i];
        printf("%-18s %6s %10.1f %10.1f %5.1f%% %10.1f %5.1f%% %10.1f %10.1f %5.1f%%\n",
               ccc_hpke_aead_name(c->aead), size_label(c->size, lbl), c->mbps[M_RAW_SEAL],
               c->mbps[M_HPKE_SEAL], 100 * c->mbps[M_HPKE_SEAL] / c->mbps[M_RAW_SEAL],
               c->mbps[M_HPKE_ONESHOT], 100 * c->mbps[M_HPKE_ONESHOT] / c->mbps[M_RAW_SEAL],
               c->mbps[M_RAW_OPEN], c->mbps[M_HPKE_OPEN],
               100 * c->mbps[M_HPKE_OPEN] / c->mbps[M_RAW_OPEN]);
    }
    for (size_t i = 0; i < count; i++) {
        const cell *c = &cells[i];
        if (c->aead == CCC_HPKE_AEAD_AES_256_GCM && c->size == 10 * 1024 * 1024) {
            double r = c->mbps[M_HPKE_SEAL] / c->mbps[M_RAW_SEAL];
            double r1 = c->mbps[M_HPKE_ONESHOT] / c->mbps[M_RAW_SEAL];
            printf("\nbar: HPKE seal of 10 MB with AES-256-GCM at %.1f%% of raw (context), "
                   "%.1f%% (1-shot); target >= 85%%: %s\n",
                   100 * r, 100 * r1, r >= 0.85 && r1 >= 0.85 ? "met" : "NOT met");
        }
    }
}

static void print_json(const cell *cells, size_t count, int repeats, double seconds)
{
    printf("{\"openssl\":\"%s\",\"repeats\":%d,\"seconds_per_cell\":%.3f,\"unit\":\"MB/s\","
           "\"results\":[",
           OpenSSL_version(OPENSSL_VERSION), repeats, seconds);
    for (size_t i = 0; i < count; i++) {
        const cell *c = &cells[i];
        printf("%s{\"aead\":\"%s\",\"size\":%zu", i ? "," : "", ccc_hpke_aead_name(c->aead),
               c->size);
        for (int m = 0; m < M_COUNT; m++)
            printf(",\"%s\":%.1f", metric_names[m], c->mbps[m]);
        printf(",\"seal_ratio\":%.4f,\"oneshot_ratio\":%.4f,\"open_ratio\":%.4f}",
               c->mbps[M_HPKE_SEAL] / c->mbps[M_RAW_SEAL],
               c->mbps[M_HPKE_ONESHOT] / c->mbps[M_RAW_SEAL],
               c->mbps[M_HPKE_OPEN] / c->mbps[M_RAW_OPEN]);
    }
    printf("]}\n");
}

static void bench_free(bench *b)
{
    EVP_CIPHER_CTX_free(b->raw_enc);
    EVP_CIPHER_CTX_free(b->raw_dec);
    ccc_hpke_ctx_wipe(&b->sender);
    ccc_hpke_ctx_wipe(&b->receiver);
    ccc_hpke_keypair_wipe(&b->kp);
    free(b->pt);
    free(b->ct);
    free(b->out);
}

static ccc_status bench_all(uint16_t only_aead, int repeats, double seconds, bool json)
{
    ccc_status st = CCC_OK;
    const size_t max = bench_sizes[SIZE_COUNT - 1];
    cell cells[AEAD_COUNT * SIZE_COUNT];
    size_t count = 0;
    bench b;
    memset(&b, 0, sizeof b);
    ccc_hpke_ctx_init(&b.sender);
    ccc_hpke_ctx_init(&b.receiver);
    b.pt = malloc(max);
    b.ct = malloc(max + 16);
    b.out = malloc(max);
    CCC_CHECK(b.pt && b.ct && b.out, CCC_ERR_NOMEM, "benchmark buffers");
    for (size_t i = 0; i < max; i++)
        b.pt[i] = (uint8_t)(i * 131 + 17);
    memset(b.ct, 0, max + 16);
    memset(b.out, 0, max);
    CCC_TRY(ccc_hpke_keypair_generate(&b.kp));
    for (size_t a = 0; a < AEAD_COUNT; a++) {
        if (only_aead && bench_aeads[a] != only_aead)
            continue;
        b.aead = bench_aeads[a];
        uint8_t key[32] = {1, 2, 3};
        EVP_CIPHER_CTX_free(b.raw_enc);
        EVP_CIPHER_CTX_free(b.raw_dec);
        b.raw_enc = EVP_CIPHER_CTX_new();
        b.raw_dec = EVP_CIPHER_CTX_new();
        CCC_CHECK(b.raw_enc && b.raw_dec, CCC_ERR_NOMEM, "cipher context");
        CCC_CHECK(EVP_CipherInit_ex(b.raw_enc, raw_cipher(b.aead), NULL, key, NULL, 1) == 1 &&
                      EVP_CipherInit_ex(b.raw_dec, raw_cipher(b.aead), NULL, key, NULL, 0) == 1,
                  CCC_ERR_INTERNAL, "cipher init");
        for (size_t s = 0; s < SIZE_COUNT; s++) {
            b.size = bench_sizes[s];
            CCC_TRY(bench_cell(&b, repeats, seconds, &cells[count]));
            count++;
            if (!json) {
                fprintf(stderr, ".");
                fflush(stderr);
            }
        }
    }
    if (!json)
        fprintf(stderr, "\n");
    if (json)
        print_json(cells, count, repeats, seconds);
    else
        print_text(cells, count, repeats, seconds);
out:
    bench_free(&b);
    return st;
}

int ccc_cmd_bench_crypto(int argc, char **argv)
{
    if (ccc_cli_wants_help(argc, argv, WORDS)) {
        printf("\nOptions:\n"
               "  --seconds S   measuring time per AEAD and size (default 1.0)\n"
               "  --quick       short run: 0.2 s per AEAD and size, 3 repeats\n"
               "  --repeats N   repeats per measurement, median reported (default 5, max %d)\n"
               "  --aead NAME   only one AEAD: aes128, aes256 or chacha20\n"
               "  --json        one JSON object on stdout\n",
               MAX_REPEATS);
        return 0;
    }
    static const struct option opts[] = {
        {"seconds", required_argument, NULL, 's'}, {"quick", no_argument, NULL, 'q'},
        {"repeats", required_argument, NULL, 'r'}, {"aead", required_argument, NULL, 'a'},
        {"json", no_argument, NULL, 'j'},          {NULL, 0, NULL, 0}};
    double seconds = 1.0;
    int repeats = 5, c;
    bool json = false, quick = false, have_seconds = false, have_repeats = false;
    uint16_t only = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 's':
            seconds = strtod(optarg, &end);
            if (!end || *end || !(seconds > 0 && seconds <= 600))
                return ccc_cli_usage_error(WORDS, "--seconds wants a number in (0, 600]");
            have_seconds = true;
            break;
        case 'r':
            repeats = (int)strtol(optarg, &end, 10);
            if (!end || *end || repeats < 1 || repeats > MAX_REPEATS)
                return ccc_cli_usage_error(WORDS, "--repeats wants 1 to 15");
            have_repeats = true;
            break;
        case 'q':
            quick = true;
            break;
        case 'j':
            json = true;
            break;
        case 'a':
            if (strcmp(optarg, "aes128") == 0)
                only = CCC_HPKE_AEAD_AES_128_GCM;
            else if (strcmp(optarg, "aes256") == 0)
                only = CCC_HPKE_AEAD_AES_256_GCM;
            else if (strcmp(optarg, "chacha20") == 0)
                only = CCC_HPKE_AEAD_CHACHA20_POLY1305;
            else
                return ccc_cli_usage_error(WORDS, "--aead wants aes128, aes256 or chacha20");
            break;
        default:
            return ccc_cli_usage_error(WORDS, "unknown option");
        }
    }
    if (optind != argc)
        return ccc_cli_usage_error(WORDS, "unexpected argument");
    if (quick) {
        if (!have_seconds)
            seconds = 0.2;
        if (!have_repeats)
            repeats = 3;
    }
    return ccc_cli_report(WORDS, bench_all(only, repeats, seconds, json));
}
