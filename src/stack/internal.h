/* stack internals shared by prepare.c (the data directory) and run.c (the
 * processes). */
#ifndef CCC_STACK_INTERNAL_H
#define CCC_STACK_INTERNAL_H

#include <stdbool.h>

#include "stack/stack.h"

/* Every path the stack uses, resolved once. */
typedef struct ccc_stack_paths {
    char dir[CCC_STACK_PATH_MAX];
    char bin_dir[CCC_STACK_PATH_MAX];
    char model_dir[CCC_STACK_PATH_MAX];
    char static_dir[CCC_STACK_PATH_MAX]; /* "" = no page */
    char ccc_bin[CCC_STACK_PATH_MAX], host_bin[CCC_STACK_PATH_MAX];
    char kms_bin[CCC_STACK_PATH_MAX], enclave_bin[CCC_STACK_PATH_MAX];
    char nsm_dir[CCC_STACK_PATH_MAX], root[CCC_STACK_PATH_MAX];
    char policy[CCC_STACK_PATH_MAX], policy_json[CCC_STACK_PATH_MAX];
    char policy_key[CCC_STACK_PATH_MAX], policy_pub[CCC_STACK_PATH_MAX];
    char kms_dir[CCC_STACK_PATH_MAX], kms_config[CCC_STACK_PATH_MAX];
    char run_dir[CCC_STACK_PATH_MAX], log_dir[CCC_STACK_PATH_MAX];
    char kms_sock[CCC_STACK_PATH_MAX], enclave_sock[CCC_STACK_PATH_MAX];
    char pid_file[CCC_STACK_PATH_MAX], url_file[CCC_STACK_PATH_MAX];
    char queue_url[CCC_STACK_PATH_MAX];
    uint8_t manifest_sha256[32];
    uint16_t port;
} ccc_stack_paths;

CCC_MUST_USE ccc_status ccc_stack_path(char *out, const char *dir, const char *name);
bool ccc_stack_exists(const char *path);
CCC_MUST_USE ccc_status ccc_stack_paths_init(const ccc_stack_options *opts, ccc_stack_paths *p);
CCC_MUST_USE ccc_status ccc_stack_model_manifest_hash(const char *model_dir, uint8_t out[32]);
/* DIR and its subdirectories (mode 0700). */
CCC_MUST_USE ccc_status ccc_stack_make_dirs(const ccc_stack_paths *p);
/* Everything ccc_stack_prepare does, with the paths resolved; with `page`
 * also build the page with the anchors baked in (and serve that, unless a
 * --static directory was given). */
CCC_MUST_USE ccc_status ccc_stack_prepare_paths(ccc_stack_paths *p, bool page);

#endif
