/* Safe structured logger: JSON lines built only from typed fields. */
#include "log/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

static const char *const event_names[CCC_EV_COUNT] = {
    [CCC_EV_START] = "start",
    [CCC_EV_STOP] = "stop",
    [CCC_EV_REQUEST] = "request",
    [CCC_EV_JOB_ACCEPTED] = "job_accepted",
    [CCC_EV_JOB_CLAIMED] = "job_claimed",
    [CCC_EV_JOB_DONE] = "job_done",
    [CCC_EV_JOB_RESENT] = "job_resent",
    [CCC_EV_JOB_FAILED] = "job_failed",
    [CCC_EV_JOB_DEAD_LETTER] = "job_dead_letter",
    [CCC_EV_ATTEST_VERIFIED] = "attest_verified",
    [CCC_EV_ATTEST_REFUSED] = "attest_refused",
    [CCC_EV_KEY_RELEASED] = "key_released",
    [CCC_EV_KEY_REFUSED] = "key_refused",
    [CCC_EV_RATE_LIMITED] = "rate_limited",
    [CCC_EV_ERROR] = "error",
};

/* Each field name with the only value kind it accepts. */
static const struct {
    const char *label;
    ccc_log_kind kind;
} field_table[CCC_F_NAME_COUNT] = {
    [CCC_F_END] = {"", CCC_LK_NONE},
    [CCC_F_JOB] = {"job", CCC_LK_ID},
    [CCC_F_KEY_ID] = {"key_id", CCC_LK_ID},
    [CCC_F_CLIENT] = {"client", CCC_LK_ID},
    [CCC_F_COMPONENT] = {"component", CCC_LK_ID},
    [CCC_F_STATUS] = {"status", CCC_LK_STATUS},
    [CCC_F_HTTP_STATUS] = {"http_status", CCC_LK_UINT},
    [CCC_F_BYTES_IN] = {"bytes_in", CCC_LK_UINT},
    [CCC_F_BYTES_OUT] = {"bytes_out", CCC_LK_UINT},
    [CCC_F_DURATION_MS] = {"duration_ms", CCC_LK_MS},
    [CCC_F_COUNT] = {"count", CCC_LK_UINT},
    [CCC_F_ATTEMPT] = {"attempt", CCC_LK_UINT},
    [CCC_F_SEQUENCE] = {"sequence", CCC_LK_UINT},
    [CCC_F_PCR_INDEX] = {"pcr_index", CCC_LK_UINT},
    [CCC_F_DOC_SHA256] = {"doc_sha256", CCC_LK_DIGEST},
    [CCC_F_PCR_SHA384] = {"pcr_sha384", CCC_LK_DIGEST},
    [CCC_F_REASON] = {"reason", CCC_LK_ID},
    [CCC_F_METHOD] = {"method", CCC_LK_ID},
    [CCC_F_ROUTE] = {"route", CCC_LK_ID},
};

static struct {
    FILE *out;
    char component[65];
    ccc_log_level min_level;
    pthread_mutex_t lock;
} logger = {NULL, "ccc", CCC_LOG_INFO, PTHREAD_MUTEX_INITIALIZER};

const char *ccc_log_event_name(ccc_log_event ev)
{
    return ((unsigned)ev < CCC_EV_COUNT) ? event_names[ev] : "unknown";
}

static bool id_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == ':' || c == '-';
}

static void copy_id(char dst[static 65], const char *id)
{
    size_t n = 0;
    if (id) {
        while (n < 65 && id[n] && id_char_ok(id[n]))
            n++;
    }
    if (!id || n == 0 || n > 64 || id[n] != '\0') {
        strcpy(dst, "<invalid>");
        return;
    }
    memcpy(dst, id, n);
    dst[n] = '\0';
}

static ccc_log_field field_of(ccc_log_field_name name, ccc_log_kind kind)
{
    ccc_log_field f;
    memset(&f, 0, sizeof f);
    /* A name used with the wrong constructor is dropped, not misprinted. */
    bool ok = (unsigned)name < CCC_F_NAME_COUNT && field_table[name].kind == kind;
    f.name = ok ? name : CCC_F_NAME_COUNT;
    f.kind = ok ? kind : CCC_LK_NONE;
    return f;
}

ccc_log_field ccc_log_id(ccc_log_field_name name, const char *id)
{
    ccc_log_field f = field_of(name, CCC_LK_ID);
    copy_id(f.v.id, id);
    return f;
}

ccc_log_field ccc_log_status(ccc_status st)
{
    ccc_log_field f = field_of(CCC_F_STATUS, CCC_LK_STATUS);
    f.v.status = st;
    return f;
}

ccc_log_field ccc_log_size(ccc_log_field_name name, size_t size)
{
    ccc_log_field f = field_of(name, CCC_LK_UINT);
    f.v.u = size;
    return f;
}

ccc_log_field ccc_log_count(ccc_log_field_name name, uint64_t count)
{
    ccc_log_field f = field_of(name, CCC_LK_UINT);
    f.v.u = count;
    return f;
}

ccc_log_field ccc_log_ms(ccc_log_field_name name, double ms)
{
    ccc_log_field f = field_of(name, CCC_LK_MS);
    f.v.ms = ms;
    return f;
}

static ccc_log_field digest_field(ccc_log_field_name name, const uint8_t *d, uint8_t size)
{
    ccc_log_field f = field_of(name, CCC_LK_DIGEST);
    memcpy(f.v.digest.bytes, d, size);
    f.v.digest.size = size;
    return f;
}

ccc_log_field ccc_log_sha256(ccc_log_field_name name, const uint8_t digest[static 32])
{
    return digest_field(name, digest, 32);
}

ccc_log_field ccc_log_sha384(ccc_log_field_name name, const uint8_t digest[static 48])
{
    return digest_field(name, digest, 48);
}

void ccc_log_init(FILE *out, const char *component, ccc_log_level min_level)
{
    pthread_mutex_lock(&logger.lock);
    logger.out = out;
    copy_id(logger.component, component);
    logger.min_level = min_level;
    pthread_mutex_unlock(&logger.lock);
}

static const char *level_name(ccc_log_level level)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    return ((unsigned)level <= CCC_LOG_ERROR) ? names[level] : "info";
}

/* Append one field as `,"label":value`. Values are never free text. */
static void put_field(FILE *out, const ccc_log_field *f)
{
    char hex[97];
    fprintf(out, ",\"%s\":", field_table[f->name].label);
    switch (f->kind) {
    case CCC_LK_ID:
        fprintf(out, "\"%s\"", f->v.id); /* charset-checked: no escaping needed */
        break;
    case CCC_LK_STATUS:
        fprintf(out, "\"%s\"", ccc_status_name(f->v.status));
        break;
    case CCC_LK_UINT:
        fprintf(out, "%llu", (unsigned long long)f->v.u);
        break;
    case CCC_LK_MS:
        fprintf(out, "%.3f", f->v.ms);
        break;
    case CCC_LK_DIGEST:
        ccc_hex_encode(f->v.digest.bytes, f->v.digest.size, hex);
        fprintf(out, "\"%s\"", hex);
        break;
    case CCC_LK_NONE:
        break;
    }
}

static void emit(ccc_log_level level, ccc_log_event event, const ccc_log_field *fields,
                 size_t count, const char *detail)
{
    pthread_mutex_lock(&logger.lock);
    FILE *out = logger.out ? logger.out : stderr;
    if (level < logger.min_level) {
        pthread_mutex_unlock(&logger.lock);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(out, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"component\":\"%s\",\"event\":\"%s\"",
            when, ts.tv_nsec / 1000000, level_name(level), logger.component,
            ccc_log_event_name(event));
    for (size_t i = 0; i < count; i++)
        put_field(out, &fields[i]);
    if (detail) {
        /* Error details are literals from the source (plus one number); they
         * are escaped anyway so a stray quote cannot break the line. */
        fputs(",\"detail\":\"", out);
        for (const char *p = detail; *p; p++) {
            if (*p == '"' || *p == '\\')
                fputc('\\', out);
            fputc((*p >= 0x20 && *p < 0x7f) ? *p : '?', out);
        }
        fputc('"', out);
    }
    fputs("}\n", out);
    fflush(out);
    pthread_mutex_unlock(&logger.lock);
}

enum { MAX_FIELDS = 16 };

void ccc_log(ccc_log_level level, ccc_log_event event, ...)
{
    ccc_log_field fields[MAX_FIELDS];
    size_t count = 0;
    va_list ap;
    va_start(ap, event);
    for (;;) {
        ccc_log_field f = va_arg(ap, ccc_log_field);
        if (f.name == CCC_F_END && f.kind == CCC_LK_NONE)
            break;
        if (count < MAX_FIELDS && (unsigned)f.name < CCC_F_NAME_COUNT)
            fields[count++] = f;
    }
    va_end(ap);
    emit(level, event, fields, count, NULL);
}

void ccc_log_error_status(ccc_log_event event, ccc_status st)
{
    ccc_log_field f = ccc_log_status(st);
    emit(CCC_LOG_ERROR, event, &f, 1, ccc_error_detail());
}
