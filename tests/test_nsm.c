/*
 * nsm: local CA, PCR extension, measured launch (what runs is what was
 * measured), the framed NSM API over a socket, and the rule that a simulated
 * document verifies against the local root only — never the AWS root.
 */
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "attest/attest.h"
#include "cbor/cbor.h"
#include "nsm/nsm.h"
#include "testutil.h"

typedef struct fixture {
    char dir[64];
    ccc_nsm_sim sim;
    ccc_x509_root *local_root;
    ccc_x509_root *aws_root;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ccc-test-nsm-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    ccc_nsm_ca ca;
    ccc_nsm_ca_init(&ca);
    int64_t now = (int64_t)time(NULL);
    assert_int_equal(ccc_nsm_ca_generate(&ca, now - 3600), CCC_OK);
    assert_int_equal(ccc_nsm_ca_save(&ca, f->dir), CCC_OK);
    ccc_nsm_ca_wipe(&ca);
    /* Boot from the saved directory, as the daemon does. */
    assert_int_equal(ccc_nsm_ca_load(&ca, f->dir), CCC_OK);
    ccc_nsm_sim_init(&f->sim);
    assert_int_equal(ccc_nsm_sim_boot(&f->sim, &ca, now), CCC_OK);
    ccc_nsm_ca_wipe(&ca);
    char path[128];
    snprintf(path, sizeof path, "%s/root.pem", f->dir);
    ccc_buf pem;
    test_read_file(path, &pem);
    assert_int_equal(ccc_x509_root_new_pem(ccc_buf_bytes(&pem), &f->local_root), CCC_OK);
    ccc_buf_wipe(&pem);
    assert_int_equal(ccc_attest_aws_root(&f->aws_root), CCC_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    char path[128];
    for (int i = 0; i < CCC_NSM_CA_LEVELS; i++) {
        snprintf(path, sizeof path, "%s/ca-%d.der", f->dir, i);
        unlink(path);
        snprintf(path, sizeof path, "%s/ca-%d.key.pem", f->dir, i);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/root.pem", f->dir);
    unlink(path);
    rmdir(f->dir);
    ccc_nsm_sim_wipe(&f->sim);
    ccc_x509_root_free(f->local_root);
    ccc_x509_root_free(f->aws_root);
    free(f);
    return 0;
}

/* A policy accepting exactly the simulator's PCR0..2 (and 16/17 if set). */
static void sim_policy(const ccc_nsm_sim *sim, ccc_attest_pcr_set *set, ccc_attest_policy *p)
{
    memset(set, 0, sizeof *set);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(ccc_attest_pcr_set_add(set, i, ccc_bytes_of(sim->pcrs[i], 48)), CCC_OK);
    if (sim->pcr_count > CCC_NSM_PCR_POLICY)
        for (uint32_t i = CCC_NSM_PCR_MANIFEST; i <= CCC_NSM_PCR_POLICY; i++)
            assert_int_equal(ccc_attest_pcr_set_add(set, i, ccc_bytes_of(sim->pcrs[i], 48)),
                             CCC_OK);
    memset(p, 0, sizeof *p);
    p->sets = set;
    p->set_count = 1;
}

static void pcr_extend_is_sha384_of_old_and_new(void **state)
{
    (void)state;
    uint8_t pcr[48] = {0}, want[48], cat[48 + 5];
    memset(cat, 0, 48);
    memcpy(cat + 48, "hello", 5);
    assert_int_equal(EVP_Digest(cat, sizeof cat, want, NULL, EVP_sha384(), NULL), 1);
    assert_int_equal(ccc_nsm_pcr_extend(pcr, ccc_bytes_of("hello", 5)), CCC_OK);
    assert_memory_equal(pcr, want, 48);
    /* Order matters: extend(extend(0,a),b) != extend(extend(0,b),a). */
    uint8_t ab[48] = {0}, ba[48] = {0};
    assert_int_equal(ccc_nsm_pcr_extend(ab, ccc_bytes_of("a", 1)), CCC_OK);
    assert_int_equal(ccc_nsm_pcr_extend(ab, ccc_bytes_of("b", 1)), CCC_OK);
    assert_int_equal(ccc_nsm_pcr_extend(ba, ccc_bytes_of("b", 1)), CCC_OK);
    assert_int_equal(ccc_nsm_pcr_extend(ba, ccc_bytes_of("a", 1)), CCC_OK);
    assert_memory_not_equal(ab, ba, 48);
}

static void ca_keys_are_private_and_reload(void **state)
{
    fixture *f = *state;
    char path[128];
    struct stat sb;
    for (int i = 0; i < CCC_NSM_CA_LEVELS; i++) {
        snprintf(path, sizeof path, "%s/ca-%d.key.pem", f->dir, i);
        assert_int_equal(stat(path, &sb), 0);
        assert_int_equal(sb.st_mode & 077, 0);
    }
    /* A key swapped for another level's is refused at load. */
    char a[128], b[128];
    snprintf(a, sizeof a, "%s/ca-1.key.pem", f->dir);
    snprintf(b, sizeof b, "%s/ca-2.key.pem", f->dir);
    snprintf(path, sizeof path, "%s/tmp.pem", f->dir);
    assert_int_equal(rename(a, path), 0);
    assert_int_equal(rename(b, a), 0);
    ccc_nsm_ca ca;
    ccc_nsm_ca_init(&ca);
    assert_int_equal(ccc_nsm_ca_load(&ca, f->dir), CCC_ERR_CRYPTO);
    assert_int_equal(rename(a, b), 0);
    assert_int_equal(rename(path, a), 0);
    assert_int_equal(ccc_nsm_ca_load(&ca, f->dir), CCC_OK);
    ccc_nsm_ca_wipe(&ca);
}

static void sim_document_verifies_only_against_local_root(void **state)
{
    fixture *f = *state;
    ccc_buf doc;
    ccc_buf_init(&doc, 1u << 16);
    uint64_t now_ms = (uint64_t)time(NULL) * 1000u;
    assert_int_equal(ccc_nsm_sim_attest(&f->sim, now_ms, ccc_bytes_of("ud", 2),
                                        ccc_bytes_of("nonce-1", 7), ccc_bytes_of(NULL, 0), &doc),
                     CCC_OK);
    ccc_attest_pcr_set set;
    ccc_attest_policy p;
    sim_policy(&f->sim, &set, &p);
    p.nonce = ccc_bytes_of("nonce-1", 7);
    p.user_data = ccc_bytes_of("ud", 2);
    p.has_time = true;
    p.at_ms = now_ms + 1000;
    p.max_age_ms = 60000;
    ccc_attest_report rep;
    assert_int_equal(ccc_attest_verify_bytes(ccc_buf_bytes(&doc), f->local_root, &p, &rep),
                     CCC_OK);
    assert_int_equal(ccc_attest_verify_bytes(ccc_buf_bytes(&doc), f->aws_root, &p, &rep),
                     CCC_ERR_CRYPTO);
    assert_int_equal(rep.result, CCC_ATTEST_E_UNTRUSTED_ROOT);
    /* public_key was null: binding one fails. */
    p.public_key = ccc_bytes_of("k", 1);
    assert_int_equal(ccc_attest_verify_bytes(ccc_buf_bytes(&doc), f->local_root, &p, &rep),
                     CCC_ERR_POLICY);
    assert_int_equal(rep.result, CCC_ATTEST_E_PUBLIC_KEY_MISMATCH);
    /* Oversized inputs are refused by the NSM itself. */
    static uint8_t big[1025];
    ccc_buf_reset(&doc);
    assert_int_equal(ccc_nsm_sim_attest(&f->sim, now_ms, ccc_bytes_of(big, sizeof big),
                                        ccc_bytes_of(NULL, 0), ccc_bytes_of(NULL, 0), &doc),
                     CCC_ERR_LIMIT);
    ccc_buf_wipe(&doc);
}

static void extended_pcrs_appear_and_bind(void **state)
{
    fixture *f = *state;
    assert_int_equal(ccc_nsm_sim_extend(&f->sim, 5, ccc_bytes_of("x", 1)), CCC_ERR_USAGE);
    uint8_t manifest[32], policy[32];
    memset(manifest, 0xab, sizeof manifest);
    memset(policy, 0xcd, sizeof policy);
    assert_int_equal(ccc_nsm_sim_extend(&f->sim, CCC_NSM_PCR_MANIFEST,
                                        ccc_bytes_of(manifest, sizeof manifest)),
                     CCC_OK);
    assert_int_equal(
        ccc_nsm_sim_extend(&f->sim, CCC_NSM_PCR_POLICY, ccc_bytes_of(policy, sizeof policy)),
        CCC_OK);
    uint8_t want[48] = {0};
    assert_int_equal(ccc_nsm_pcr_extend(want, ccc_bytes_of(manifest, sizeof manifest)), CCC_OK);
    assert_memory_equal(f->sim.pcrs[CCC_NSM_PCR_MANIFEST], want, 48);
    ccc_buf doc;
    ccc_buf_init(&doc, 1u << 16);
    assert_int_equal(ccc_nsm_sim_attest(&f->sim, (uint64_t)time(NULL) * 1000u,
                                        ccc_bytes_of(NULL, 0), ccc_bytes_of(NULL, 0),
                                        ccc_bytes_of(NULL, 0), &doc),
                     CCC_OK);
    ccc_attest_pcr_set set;
    ccc_attest_policy p;
    sim_policy(&f->sim, &set, &p);
    ccc_attest_report rep;
    assert_int_equal(ccc_attest_verify_bytes(ccc_buf_bytes(&doc), f->local_root, &p, &rep),
                     CCC_OK);
    /* Another policy hash in PCR17 is a mismatch at index 17. */
    set.pcrs[4].value[0] ^= 1;
    assert_int_equal(ccc_attest_verify_bytes(ccc_buf_bytes(&doc), f->local_root, &p, &rep),
                     CCC_ERR_POLICY);
    assert_string_equal(rep.checks[CCC_ATTEST_CHECK_PCRS].detail,
                        "PCR mismatch: no accepted set matches, PCR 17");
    ccc_buf_wipe(&doc);
}

static void nsm_api_over_a_socket(void **state)
{
    fixture *f = *state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        _exit(ccc_nsm_sim_serve(&f->sim, sv[1]) == CCC_OK ? 0 : 1);
    }
    close(sv[1]);
    ccc_nsm_device dev;
    ccc_nsm_device_use_sim(&dev, sv[0]);
    ccc_buf doc;
    ccc_buf_init(&doc, 1u << 16);
    uint8_t nonce[32];
    memset(nonce, 0x42, sizeof nonce);
    assert_int_equal(ccc_nsm_device_attest(&dev, ccc_bytes_of(NULL, 0),
                                           ccc_bytes_of(nonce, sizeof nonce),
                                           ccc_bytes_of("pk", 2), &doc),
                     CCC_OK);
    ccc_attest_pcr_set set;
    ccc_attest_policy p;
    sim_policy(&f->sim, &set, &p);
    p.nonce = ccc_bytes_of(nonce, sizeof nonce);
    p.public_key = ccc_bytes_of("pk", 2);
    ccc_attest_report rep;
    assert_int_equal(ccc_attest_verify_bytes(ccc_buf_bytes(&doc), f->local_root, &p, &rep),
                     CCC_OK);
    /* A malformed request gets an Error answer, and the channel stays usable. */
    ccc_buf resp;
    ccc_buf_init(&resp, CCC_NSM_MAX_FRAME);
    static const uint8_t junk[] = {0xa1, 0x63, 'F', 'o', 'o', 0x01};
    assert_int_equal(ccc_nsm_frame_write(sv[0], ccc_bytes_of(junk, sizeof junk)), CCC_OK);
    assert_int_equal(ccc_nsm_frame_read(sv[0], &resp), CCC_OK);
    ccc_buf_reset(&doc);
    assert_int_equal(ccc_nsm_response_decode(ccc_buf_bytes(&resp), &doc), CCC_ERR_IO);
    ccc_buf_reset(&doc);
    assert_int_equal(ccc_nsm_device_attest(&dev, ccc_bytes_of(NULL, 0), ccc_bytes_of(NULL, 0),
                                           ccc_bytes_of(NULL, 0), &doc),
                     CCC_OK);
    close(sv[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ccc_buf_wipe(&resp);
    ccc_buf_wipe(&doc);
}

static void request_encoding_is_the_nsm_api_shape(void **state)
{
    (void)state;
    ccc_buf req;
    ccc_buf_init(&req, 4096);
    assert_int_equal(ccc_nsm_request_encode(ccc_bytes_of("u", 1), ccc_bytes_of(NULL, 0),
                                            ccc_bytes_of(NULL, 0), &req),
                     CCC_OK);
    /* {"Attestation": {"user_data": h'75', "nonce": null, "public_key": null}} */
    static const uint8_t want[] = {0xa1, 0x6b, 'A', 't', 't', 'e', 's', 't', 'a', 't', 'i', 'o',
                                   'n',  0xa3, 0x69, 'u', 's', 'e', 'r', '_', 'd', 'a', 't', 'a',
                                   0x41, 'u',  0x65, 'n', 'o', 'n', 'c', 'e', 0xf6, 0x6a, 'p', 'u',
                                   'b',  'l',  'i',  'c', '_', 'k', 'e', 'y', 0xf6};
    assert_int_equal(req.size, sizeof want);
    assert_memory_equal(req.data, want, sizeof want);
    static uint8_t big[1025];
    assert_int_equal(ccc_nsm_request_encode(ccc_bytes_of(NULL, 0), ccc_bytes_of(big, 1025),
                                            ccc_bytes_of(NULL, 0), &req),
                     CCC_ERR_LIMIT);
    /* Frames over the cap are refused before allocation. */
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    static const uint8_t huge_hdr[4] = {0x7f, 0xff, 0xff, 0xff};
    assert_int_equal(write(sv[1], huge_hdr, 4), 4);
    ccc_buf_reset(&req);
    assert_int_equal(ccc_nsm_frame_read(sv[0], &req), CCC_ERR_LIMIT);
    /* Truncated frame, then clean EOF. */
    static const uint8_t short_frame[6] = {0, 0, 0, 9, 1, 2};
    assert_int_equal(write(sv[1], short_frame, 6), 6);
    close(sv[1]);
    assert_int_equal(ccc_nsm_frame_read(sv[0], &req), CCC_ERR_PARSE);
    assert_int_equal(ccc_nsm_frame_read(sv[0], &req), CCC_ERR_NOT_FOUND);
    close(sv[0]);
    ccc_buf_wipe(&req);
}

static void measured_launch_runs_what_it_measured(void **state)
{
    fixture *f = *state;
    const char *exe = "/bin/sh";
    /* PCR0 must be SHA-384 of the file's bytes. */
    ccc_buf bytes;
    test_read_file(exe, &bytes);
    uint8_t want[48];
    assert_int_equal(EVP_Digest(bytes.data, bytes.size, want, NULL, EVP_sha384(), NULL), 1);
    ccc_buf_wipe(&bytes);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    char *const argv[] = {"sh", "-c", "printf launched >&3", NULL};
    pid_t pid = -1;
    assert_int_equal(ccc_nsm_sim_launch(&f->sim, exe, argv, sv[1], &pid), CCC_OK);
    close(sv[1]);
    assert_memory_equal(f->sim.pcrs[0], want, 48);
    assert_memory_equal(f->sim.pcrs[2], want, 48);
    assert_true(f->sim.launched);
    char got[16] = {0};
    ssize_t n = 0, r;
    while ((r = read(sv[0], got + n, sizeof got - 1 - (size_t)n)) > 0)
        n += r;
    close(sv[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_string_equal(got, "launched");
    /* Missing executable. */
    assert_int_equal(ccc_nsm_sim_launch(&f->sim, "/nonexistent/enclave", argv, -1, &pid),
                     CCC_ERR_NOT_FOUND);
}

static void device_real_is_absent_here(void **state)
{
    (void)state;
    ccc_nsm_device dev;
    ccc_status st = ccc_nsm_device_open_real(&dev);
    if (st == CCC_OK) { /* running inside a Nitro enclave after all */
        ccc_nsm_device_close(&dev);
        skip();
    }
    assert_int_equal(st, CCC_ERR_NOT_FOUND);
    /* The ioctl path on a descriptor that is not the NSM fails cleanly. */
    int fd = open("/dev/null", O_RDWR);
    assert_true(fd >= 0);
    ccc_buf resp;
    ccc_buf_init(&resp, CCC_NSM_MAX_FRAME);
    assert_int_equal(ccc_nsm_dev_roundtrip(fd, ccc_bytes_of("x", 1), &resp), CCC_ERR_IO);
    assert_int_equal(resp.size, 0);
    close(fd);
    ccc_buf_wipe(&resp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pcr_extend_is_sha384_of_old_and_new),
        cmocka_unit_test(request_encoding_is_the_nsm_api_shape),
        cmocka_unit_test(device_real_is_absent_here),
        cmocka_unit_test_setup_teardown(ca_keys_are_private_and_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(sim_document_verifies_only_against_local_root, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(extended_pcrs_appear_and_bind, setup, teardown),
        cmocka_unit_test_setup_teardown(nsm_api_over_a_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(measured_launch_runs_what_it_measured, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
