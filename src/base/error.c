/* Error classes, their exit codes and HTTP statuses, and the per-thread
 * last-error record. Details are literals by construction (see base.h). */
#include "base/base.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int exit_code; /* sysexits.h-style where one fits */
    int http_status;
} status_table[CCC_STATUS_COUNT] = {
    [CCC_OK] = {"ok", 0, 200},
    [CCC_ERR_USAGE] = {"usage", 2, 400},
    [CCC_ERR_IO] = {"io", 74, 503},
    [CCC_ERR_PARSE] = {"parse", 65, 400},
    [CCC_ERR_LIMIT] = {"limit", 65, 413},
    [CCC_ERR_UNSUPPORTED] = {"unsupported", 65, 415},
    [CCC_ERR_CRYPTO] = {"crypto", 66, 400},
    [CCC_ERR_POLICY] = {"policy", 77, 403},
    [CCC_ERR_REPLAY] = {"replay", 77, 409},
    [CCC_ERR_NOT_FOUND] = {"not_found", 66, 404},
    [CCC_ERR_BUSY] = {"busy", 75, 429},
    [CCC_ERR_NOMEM] = {"nomem", 71, 503},
    [CCC_ERR_INTERNAL] = {"internal", 70, 500},
};

static ccc_status valid(ccc_status st)
{
    return ((unsigned)st < CCC_STATUS_COUNT) ? st : CCC_ERR_INTERNAL;
}

const char *ccc_status_name(ccc_status st) { return status_table[valid(st)].name; }
int ccc_status_exit_code(ccc_status st) { return status_table[valid(st)].exit_code; }
int ccc_status_http_status(ccc_status st) { return status_table[valid(st)].http_status; }

static _Thread_local struct {
    ccc_status st;
    char detail[160];
    char where[96];
} last_error;

ccc_status ccc_error_raise(ccc_status st, const char *detail, bool has_num,
                           long long num, const char *file, int line)
{
    st = valid(st);
    last_error.st = st;
    if (has_num)
        snprintf(last_error.detail, sizeof last_error.detail, "%s %lld", detail, num);
    else
        snprintf(last_error.detail, sizeof last_error.detail, "%s", detail);
    const char *base = strrchr(file, '/');
    snprintf(last_error.where, sizeof last_error.where, "%s:%d", base ? base + 1 : file, line);
    return st;
}

ccc_status ccc_error_last(void) { return last_error.st; }

const char *ccc_error_detail(void)
{
    return last_error.detail[0] ? last_error.detail : ccc_status_name(last_error.st);
}

const char *ccc_error_where(void) { return last_error.where; }

void ccc_error_clear(void) { memset(&last_error, 0, sizeof last_error); }
