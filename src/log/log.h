/*
 * log — safe structured logging.
 *
 * One JSON object per line. The API accepts only typed fields whose *names*
 * come from a fixed enum and whose *values* are numbers, enums, validated
 * identifiers or fixed-size digests. There is deliberately no call that takes
 * a free-form string or a byte buffer, so a payload (image bytes, keys,
 * decrypted answers) cannot be logged by mistake: it does not type-check.
 *
 *   ccc_log(CCC_LOG_INFO, CCC_EV_JOB_DONE,
 *           ccc_log_job("j-42"), ccc_log_size(CCC_F_BYTES_IN, n),
 *           ccc_log_ms(CCC_F_DURATION_MS, 12.5), CCC_LOG_END);
 *
 * Identifiers (job ids, key ids, client ids) are printed only if they match
 * [A-Za-z0-9._:-]{1,64}; anything else is replaced by "<invalid>", so an
 * attacker-chosen id cannot smuggle text into the log either.
 */
#ifndef CCC_LOG_H
#define CCC_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/base.h"

typedef enum ccc_log_level { CCC_LOG_DEBUG, CCC_LOG_INFO, CCC_LOG_WARN, CCC_LOG_ERROR } ccc_log_level;

/* Events: what happened. Add new ones here, with their printed name in log.c. */
typedef enum ccc_log_event {
    CCC_EV_START,
    CCC_EV_STOP,
    CCC_EV_REQUEST,
    CCC_EV_JOB_ACCEPTED,
    CCC_EV_JOB_CLAIMED,
    CCC_EV_JOB_DONE,
    CCC_EV_JOB_RESENT,
    CCC_EV_JOB_FAILED,
    CCC_EV_JOB_DEAD_LETTER,
    CCC_EV_ATTEST_VERIFIED,
    CCC_EV_ATTEST_REFUSED,
    CCC_EV_KEY_RELEASED,
    CCC_EV_KEY_REFUSED,
    CCC_EV_RATE_LIMITED,
    CCC_EV_ERROR,
    CCC_EV_COUNT
} ccc_log_event;

/* Field names: the allowlist. Each has a fixed value type (see log.c). */
typedef enum ccc_log_field_name {
    CCC_F_END = 0,     /* terminator, use CCC_LOG_END */
    CCC_F_JOB,         /* identifier */
    CCC_F_KEY_ID,      /* identifier */
    CCC_F_CLIENT,      /* identifier */
    CCC_F_COMPONENT,   /* identifier */
    CCC_F_STATUS,      /* ccc_status: logged as its class name */
    CCC_F_HTTP_STATUS, /* count */
    CCC_F_BYTES_IN,    /* size */
    CCC_F_BYTES_OUT,   /* size */
    CCC_F_DURATION_MS, /* duration */
    CCC_F_COUNT,       /* count */
    CCC_F_ATTEMPT,     /* count */
    CCC_F_SEQUENCE,    /* count */
    CCC_F_PCR_INDEX,   /* count */
    CCC_F_DOC_SHA256,  /* digest (32 bytes) */
    CCC_F_PCR_SHA384,  /* digest (48 bytes) */
    CCC_F_REASON,      /* identifier: a refusal's reason class ("pcrs", "replay") */
    CCC_F_METHOD,      /* identifier: HTTP method ("GET", "POST", "other") */
    CCC_F_ROUTE,       /* identifier: HTTP route name ("jobs_post", "config") */
    CCC_F_NAME_COUNT
} ccc_log_field_name;

typedef enum ccc_log_kind { CCC_LK_NONE, CCC_LK_ID, CCC_LK_STATUS, CCC_LK_UINT, CCC_LK_MS, CCC_LK_DIGEST } ccc_log_kind;

/* A field: build with the constructors below, never by hand. */
typedef struct ccc_log_field {
    ccc_log_field_name name;
    ccc_log_kind kind;
    union {
        char id[65];
        ccc_status status;
        uint64_t u;
        double ms;
        struct {
            uint8_t bytes[48];
            uint8_t size;
        } digest;
    } v;
} ccc_log_field;

/* An identifier field (job, key id, client, component); validated on copy. */
ccc_log_field ccc_log_id(ccc_log_field_name name, const char *id);
static inline ccc_log_field ccc_log_job(const char *job_id) { return ccc_log_id(CCC_F_JOB, job_id); }
ccc_log_field ccc_log_status(ccc_status st);
ccc_log_field ccc_log_size(ccc_log_field_name name, size_t size);
ccc_log_field ccc_log_count(ccc_log_field_name name, uint64_t count);
ccc_log_field ccc_log_ms(ccc_log_field_name name, double ms);
ccc_log_field ccc_log_sha256(ccc_log_field_name name, const uint8_t digest[static 32]);
ccc_log_field ccc_log_sha384(ccc_log_field_name name, const uint8_t digest[static 48]);

#define CCC_LOG_END ((ccc_log_field){.name = CCC_F_END, .kind = CCC_LK_NONE})

/*
 * Where log lines go (default stderr) and which component name they carry.
 * The stream is borrowed. Lines below `min_level` are dropped.
 */
void ccc_log_init(FILE *out, const char *component, ccc_log_level min_level);
/* Emit one line. The field list ends with CCC_LOG_END; at most 16 fields. */
void ccc_log(ccc_log_level level, ccc_log_event event, ...);
/* Convenience: an error event with the status class and the error detail. */
void ccc_log_error_status(ccc_log_event event, ccc_status st);

/* Name of an event ("job_done"). */
const char *ccc_log_event_name(ccc_log_event ev);

#endif /* CCC_LOG_H */
