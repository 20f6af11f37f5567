/*
 * frame — length-prefixed frames on the one stream socket between ccc-host
 * and ccc-enclave (AF_VSOCK on Nitro, AF_UNIX locally).
 *
 * The enclave reads everything that arrives from the untrusted host through
 * this module, so it is small and strict: the header is checked completely
 * (known type, zero reserved bits, length within that type's hard limit)
 * BEFORE a single body byte is read or allocated, and any violation poisons
 * the connection (the stream cannot be resynchronised, so it must be closed).
 *
 * Wire format (all integers big-endian; 8-byte header, then the body):
 *
 *   offset size field
 *   0      1    type      one of ccc_frame_type below; anything else refused
 *   1      1    flags     reserved, MUST be 0 (version 1 defines no flags)
 *   2      2    reserved  MUST be 0
 *   4      4    length    body size in bytes, <= the type's limit
 *   8      length  body   opaque to this module (ciphertext, CBOR, ...)
 *
 * Limits per type (ccc_frame_type_max_size):
 *
 *   type  name             max body   body (defined by the pipeline)
 *   0x01  ping             8 B        opaque echo token
 *   0x02  pong             8 B        the ping's token
 *   0x10  job_request      17 MiB     job id + OHTTP enc_request (16 MiB
 *                                     photo cap + headroom)
 *   0x11  job_result       256 KiB    enc_response + receipt
 *   0x12  job_error        1 KiB      job id + error class (no payload)
 *   0x20  attest_request   4 KiB      nonce / user data
 *   0x21  attest_response  80 KiB     attestation document (<= 64 KiB)
 *   0x30  key_request      80 KiB     attestation document for ccc-kms
 *   0x31  key_response     16 KiB     HPKE-sealed service key
 *
 * Two ways to read:
 *   - ccc_frame_decoder: incremental, for non-blocking sockets or any
 *     partial reads. Feed bytes as they come; complete frames come out;
 *     a truncated frame stays pending; a bad header is an error that
 *     poisons the decoder (every later feed returns the same status).
 *   - ccc_frame_read / ccc_frame_write: blocking, whole frames, retrying on
 *     EINTR and short reads/writes.
 *
 * Errors: an unknown type or a non-zero flags/reserved field is
 * CCC_ERR_PARSE; a length over the type's limit is CCC_ERR_LIMIT; socket
 * failures and EOF inside a frame are CCC_ERR_IO; EOF exactly between frames
 * is CCC_ERR_NOT_FOUND ("connection closed") so a server can tell a clean
 * close from a broken one.
 *
 * Important caveats
 * 1. A frame's body is authenticated by nothing here: the frame layer only
 *    bounds sizes. Whatever the body carries must be authenticated by the
 *    layer above (OHTTP/HPKE, COSE signatures).
 * 2. The decoder grows its body buffer as bytes arrive (it never allocates
 *    the declared length up front), so a peer that announces 17 MiB and
 *    sends 8 bytes costs 8 bytes of memory, not 17 MiB.
 * 3. A frame handed out by the decoder BORROWS the decoder's buffer: it is
 *    valid until the next feed/reset/wipe.
 * 4. ccc_frame_write uses send(MSG_NOSIGNAL) on sockets, so a closed peer is
 *    CCC_ERR_IO, never SIGPIPE; on non-sockets (pipes) it falls back to
 *    write(), and the caller should ignore SIGPIPE.
 */
#ifndef CCC_FRAME_H
#define CCC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define CCC_FRAME_HEADER_SIZE 8u

typedef enum ccc_frame_type {
    CCC_FRAME_PING = 0x01,
    CCC_FRAME_PONG = 0x02,
    CCC_FRAME_JOB_REQUEST = 0x10,
    CCC_FRAME_JOB_RESULT = 0x11,
    CCC_FRAME_JOB_ERROR = 0x12,
    CCC_FRAME_ATTEST_REQUEST = 0x20,
    CCC_FRAME_ATTEST_RESPONSE = 0x21,
    CCC_FRAME_KEY_REQUEST = 0x30,
    CCC_FRAME_KEY_RESPONSE = 0x31,
} ccc_frame_type;

/* The largest body of any type (job_request: 17 MiB). */
#define CCC_FRAME_MAX_BODY_SIZE (17u * 1024u * 1024u)

/* Hard body limit of `type` in bytes; 0 for an unknown type. */
size_t ccc_frame_type_max_size(unsigned type);
/* "job_request", ...; "unknown" for an unknown type. Never NULL. */
const char *ccc_frame_type_name(unsigned type);

/* A frame header as read from the wire, after validation. */
typedef struct ccc_frame_header {
    ccc_frame_type type;
    uint32_t length;
} ccc_frame_header;

/*
 * Validate 8 header bytes: known type, flags and reserved zero, length within
 * the type's limit. Errors as in the file comment.
 */
CCC_MUST_USE ccc_status ccc_frame_header_parse(const uint8_t in[static CCC_FRAME_HEADER_SIZE],
                                               ccc_frame_header *out);

/*
 * Append header + body of one frame to `out` (its cap applies). CCC_ERR_USAGE
 * for an unknown type, CCC_ERR_LIMIT for a body over the type's limit.
 */
CCC_MUST_USE ccc_status ccc_frame_encode(ccc_frame_type type, ccc_bytes body, ccc_buf *out);

/* A complete frame: type and a body view (borrowed, caveat 3). */
typedef struct ccc_frame {
    ccc_frame_type type;
    ccc_bytes body;
} ccc_frame;

/*
 * Incremental decoder. Caller-owned: init, feed..., wipe.
 *
 *   ccc_frame_decoder d;
 *   ccc_frame_decoder_init(&d, false);
 *   while ((n = recv(fd, tmp, sizeof tmp, 0)) > 0) {
 *       size_t off = 0;
 *       while (off < (size_t)n) {
 *           size_t used; bool ready;
 *           CCC_TRY(ccc_frame_decoder_feed(&d, tmp + off, n - off, &used, &ready));
 *           off += used;
 *           if (ready) handle(ccc_frame_decoder_frame(&d));
 *       }
 *   }
 *   ccc_frame_decoder_wipe(&d);
 */
typedef struct ccc_frame_decoder {
    uint8_t header[CCC_FRAME_HEADER_SIZE];
    size_t header_size;   /* header bytes received so far (0..8)         */
    ccc_frame_header hdr; /* valid once header_size == 8                  */
    ccc_buf body;         /* body bytes received so far                   */
    bool ready;           /* a complete frame is held (handed out once)   */
    ccc_status poisoned;  /* CCC_OK, or the error that ended the stream   */
    bool secret;          /* body buffer is a secret ccc_buf               */
} ccc_frame_decoder;

/* `secret`: keep bodies in locked memory wiped on every reset (for frames
 * that carry key material in the clear; ciphertext does not need it). */
void ccc_frame_decoder_init(ccc_frame_decoder *d, bool secret);
/* Free the body buffer (wiped if secret). Safe twice; reusable after init. */
void ccc_frame_decoder_wipe(ccc_frame_decoder *d);

/*
 * Consume bytes from `data` (at most up to the end of the current frame,
 * never beyond). *used receives how many bytes were consumed; *ready is true
 * when a whole frame is now complete — read it with ccc_frame_decoder_frame()
 * before the next feed, which discards it and starts the next frame. On an
 * error the decoder is poisoned: this and every later feed return the same
 * status (with *used = 0) until ccc_frame_decoder_wipe + init.
 */
CCC_MUST_USE ccc_status ccc_frame_decoder_feed(ccc_frame_decoder *d, const uint8_t *data,
                                               size_t size, size_t *used, bool *ready);

/* The complete frame (only valid right after a feed set *ready). */
ccc_frame ccc_frame_decoder_frame(const ccc_frame_decoder *d);

/* True when no partial frame is buffered (a close here is clean). */
bool ccc_frame_decoder_idle(const ccc_frame_decoder *d);

/*
 * Blocking read of one whole frame from `fd`. The body is written into
 * `body` (reset first; a declared length over body->max_size fails with
 * CCC_ERR_LIMIT before any body byte is read, so a caller can impose a cap
 * below the type's limit). Retries EINTR and short reads. EOF before the
 * first header byte: CCC_ERR_NOT_FOUND; EOF later: CCC_ERR_IO. After any
 * error the stream is out of step: close it. On error `body` is empty.
 */
CCC_MUST_USE ccc_status ccc_frame_read(int fd, ccc_frame_type *type, ccc_buf *body);

/* Blocking write of one frame (header and body), retrying EINTR and short
 * writes. Same checks as ccc_frame_encode. */
CCC_MUST_USE ccc_status ccc_frame_write(int fd, ccc_frame_type type, ccc_bytes body);

#endif /* CCC_FRAME_H */
