/*
 * The AWS Nitro Enclaves root certificate G1, compiled in as the default
 * pinned root of the attestation verifier.
 *
 * Source: tests/vectors/nitro/aws-nitro-root-g1.pem (from the official
 * AWS_NitroEnclaves_Root-G1.zip; see tests/vectors/nitro and SOURCES.md).
 * CN=aws.nitro-enclaves, O=Amazon, OU=AWS, C=US; P-384; valid 2019-10-28 to
 * 2049-10-28. SHA-256 fingerprint of the DER:
 *   64:1A:03:21:A3:E2:44:EF:E4:56:46:31:95:D6:06:31:
 *   7E:D7:CD:CC:3C:17:56:E0:98:93:F3:C6:8F:79:BB:5B
 * tests/test_attest.c checks that these bytes equal the PEM file and that
 * the fingerprint is the one above, so the two can never drift apart.
 */
#include "attest/attest.h"

static const char aws_root_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTEL\n"
    "MAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYD\n"
    "VQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4\n"
    "MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQL\n"
    "DANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEG\n"
    "BSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb\n"
    "48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZE\n"
    "h8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkF\n"
    "R+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYC\n"
    "MQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPW\n"
    "rfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N\n"
    "IwLz3/Y=\n"
    "-----END CERTIFICATE-----";

ccc_bytes ccc_attest_aws_root_pem(void)
{
    return ccc_bytes_of(aws_root_pem, sizeof aws_root_pem - 1);
}

const char *ccc_attest_aws_root_sha256_hex(void)
{
    return "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b";
}
