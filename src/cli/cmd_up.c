/*
 * ccc up | down — the local stack (src/stack): key service, simulated NSM
 * with a measured-launch enclave, and the host, with keys generated in a
 * data directory on first use.
 *
 *   ccc up [--data DIR] [--port N] [--queue URL] [--detach] ... [-- HOST-ARGS]
 *   ccc down [--data DIR]
 */
#define _GNU_SOURCE 1 /* pipe2 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/wait.h>

#include "cli/cli.h"
#include "stack/stack.h"

static void print_ready(const char *url, void *arg)
{
    const ccc_stack_options *opts = arg;
    char dir[CCC_STACK_PATH_MAX];
    if (opts->dir)
        snprintf(dir, sizeof dir, "%s", opts->dir);
    else if (ccc_stack_default_dir(dir, sizeof dir) != CCC_OK)
        snprintf(dir, sizeof dir, "(default)");
    /* The defaults of ccc count are this stack's only without --data/--port. */
    bool defaults = !opts->dir && (!opts->port || opts->port == CCC_STACK_DEFAULT_PORT);
    printf("ccc: local stack up at %s\n"
           "     data and logs: %s   trust anchors: %s/trust\n",
           url, dir, dir);
    if (defaults)
        printf("     count cats:    ccc count PHOTO...\n");
    else
        printf("     count cats:    ccc count --server %s --trust %s/trust PHOTO...\n", url, dir);
    printf("     stop it:       Ctrl-C, or ccc down%s%s\n", opts->dir ? " --data " : "",
           opts->dir ? opts->dir : "");
    fflush(stdout);
}

/* --detach: the child tells the parent "ready" through a pipe. */
static void notify_ready(const char *url, void *arg)
{
    int fd = *(int *)arg;
    char line[128];
    int n = snprintf(line, sizeof line, "%s\n", url);
    if (ccc_fd_write_all(fd, line, (size_t)n) != CCC_OK) {
        /* the parent is gone; nothing to tell */
    }
    close(fd);
    *(int *)arg = -1;
}

static int run_detached(const char *words, const ccc_stack_options *opts)
{
    /* Check and prepare in the foreground so errors reach the user. */
    ccc_status st = ccc_stack_check_free(opts);
    if (st == CCC_OK)
        st = ccc_stack_prepare(opts);
    if (st != CCC_OK)
        return ccc_cli_report(words, st);
    char dir[CCC_STACK_PATH_MAX], log_path[CCC_STACK_PATH_MAX + 16];
    if (opts->dir)
        snprintf(dir, sizeof dir, "%s", opts->dir);
    else if ((st = ccc_stack_default_dir(dir, sizeof dir)) != CCC_OK)
        return ccc_cli_report(words, st);
    snprintf(log_path, sizeof log_path, "%s/logs/up.log", dir);
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) /* the stack's children must not hold it */
        return ccc_cli_report(words, ccc_error_raise(CCC_ERR_IO, "pipe failed", false, 0,
                                                     __FILE__, __LINE__));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return ccc_cli_report(words, ccc_error_raise(CCC_ERR_IO, "fork failed", false, 0,
                                                     __FILE__, __LINE__));
    if (pid == 0) {
        close(pipefd[0]);
        setsid();
        int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (log_fd < 0 || null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 ||
            dup2(log_fd, 2) < 0)
            _exit(74);
        int notify = pipefd[1];
        st = ccc_stack_run(opts, notify_ready, &notify);
        if (st != CCC_OK)
            fprintf(stderr, "ccc up: %s: %s\n", ccc_status_name(st), ccc_error_detail());
        _exit(ccc_status_exit_code(st));
    }
    close(pipefd[1]);
    char url[128] = {0};
    size_t got = 0;
    for (;;) {
        ssize_t n = read(pipefd[0], url + got, sizeof url - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        if (memchr(url, '\n', got))
            break;
    }
    close(pipefd[0]);
    if (got == 0) {
        int status = 0;
        waitpid(pid, &status, 0);
        fprintf(stderr, "ccc up: the stack did not start; see %s\n", log_path);
        return WIFEXITED(status) && WEXITSTATUS(status) ? WEXITSTATUS(status) : 74;
    }
    url[strcspn(url, "\n")] = '\0';
    print_ready(url, (void *)opts);
    printf("     (running in the background, pid %d; its log: %s)\n", (int)pid, log_path);
    return 0;
}

int ccc_cmd_up(int argc, char **argv)
{
    static const char words[] = "up";
    int sep = argc;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) {
            sep = i;
            break;
        }
    if (ccc_cli_wants_help(sep, argv, words))
        return 0;
    ccc_stack_options opts = {0};
    bool detach = false;
    static const struct option longs[] = {
        {"data", required_argument, 0, 'd'},      {"port", required_argument, 0, 'p'},
        {"queue", required_argument, 0, 'q'},     {"detach", no_argument, 0, 'D'},
        {"bin-dir", required_argument, 0, 'b'},   {"model-dir", required_argument, 0, 'm'},
        {"static", required_argument, 0, 's'},    {"ready-timeout", required_argument, 0, 't'},
        {0, 0, 0, 0}};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(sep, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'd': opts.dir = optarg; break;
        case 'q': opts.queue_url = optarg; break;
        case 'D': detach = true; break;
        case 'b': opts.bin_dir = optarg; break;
        case 'm': opts.model_dir = optarg; break;
        case 's': opts.static_dir = optarg; break;
        case 'p': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 65535)
                return ccc_cli_usage_error(words, "--port must be 1..65535");
            opts.port = (uint16_t)v;
            break;
        }
        case 't': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 3600)
                return ccc_cli_usage_error(words, "--ready-timeout must be 1..3600 seconds");
            opts.ready_timeout_s = (unsigned)v;
            break;
        }
        default: return ccc_cli_usage_error(words, "unknown option");
        }
    }
    if (optind != sep)
        return ccc_cli_usage_error(words, "unexpected argument (host options go after --)");
    if (sep < argc) {
        opts.host_args = argv + sep + 1;
        opts.host_arg_count = (size_t)(argc - sep - 1);
    }
    if (detach)
        return run_detached(words, &opts);
    return ccc_cli_report(words, ccc_stack_run(&opts, print_ready, &opts));
}

int ccc_cmd_down(int argc, char **argv)
{
    static const char words[] = "down";
    if (ccc_cli_wants_help(argc, argv, words))
        return 0;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            dir = argv[++i];
        else
            return ccc_cli_usage_error(words, "unknown argument");
    }
    bool was_running = false;
    ccc_status st = ccc_stack_down(dir, 30, &was_running);
    if (st == CCC_OK)
        printf(was_running ? "ccc: local stack stopped\n" : "ccc: no local stack running\n");
    return ccc_cli_report(words, st);
}
