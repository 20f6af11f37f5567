/* Hex, whole-file I/O and the clock: small helpers with bounds. */
#include "base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void ccc_hex_encode(const uint8_t *in, size_t size, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < size; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * size] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

ccc_status ccc_hex_decode(const char *hex, uint8_t *out, size_t out_max, size_t *out_size)
{
    size_t len = strlen(hex);
    if (len % 2)
        CCC_BAIL(CCC_ERR_PARSE, "hex string has odd length");
    if (len / 2 > out_max)
        CCC_BAIL(CCC_ERR_LIMIT, "hex string too long");
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            CCC_BAIL(CCC_ERR_PARSE, "invalid hex digit");
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *out_size = len / 2;
    return CCC_OK;
}

ccc_status ccc_file_read(const char *path, ccc_buf *out)
{
    ccc_status st = CCC_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            CCC_BAIL(CCC_ERR_NOT_FOUND, "file not found");
        CCC_BAIL(CCC_ERR_IO, "cannot open file");
    }
    /* Files may hold keys: the bounce buffer is wiped on the way out. */
    uint8_t chunk[65536];
    struct stat sb;
    CCC_CHECK(fstat(fd, &sb) == 0, CCC_ERR_IO, "cannot stat file");
    CCC_CHECK(!S_ISDIR(sb.st_mode), CCC_ERR_USAGE, "path is a directory");
    if (S_ISREG(sb.st_mode))
        CCC_CHECK((uint64_t)sb.st_size <= out->max_size - out->size, CCC_ERR_LIMIT,
                  "file exceeds size limit");
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        CCC_CHECK(n >= 0, CCC_ERR_IO, "read failed");
        if (n == 0)
            break;
        CCC_TRY(ccc_buf_append(out, chunk, (size_t)n));
    }
out:
    ccc_wipe(chunk, sizeof chunk);
    close(fd);
    return st;
}

ccc_status ccc_fd_write_all(int fd, const void *data, size_t size)
{
    const uint8_t *p = data;
    while (size > 0) {
        ssize_t w = write(fd, p, size);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            CCC_BAIL(CCC_ERR_IO, "write failed");
        p += w;
        size -= (size_t)w;
    }
    return CCC_OK;
}

ccc_status ccc_file_write(const char *path, const void *data, size_t size)
{
    ccc_status st = CCC_OK;
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp)
        CCC_BAIL(CCC_ERR_USAGE, "path too long");
    /* The file may hold a key: create it fresh (never reuse or follow a file
     * someone else put at the temporary name), mode 0600 from the start. */
    (void)unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        CCC_BAIL(CCC_ERR_IO, "cannot create file");
    CCC_TRY(ccc_fd_write_all(fd, data, size));
    CCC_CHECK(fsync(fd) == 0, CCC_ERR_IO, "fsync failed");
    CCC_CHECK(close(fd) == 0, CCC_ERR_IO, "close failed");
    fd = -1;
    CCC_CHECK(rename(tmp, path) == 0, CCC_ERR_IO, "rename failed");
out:
    if (fd >= 0)
        close(fd);
    if (st != CCC_OK)
        unlink(tmp);
    return st;
}

uint64_t ccc_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t ccc_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

ccc_status ccc_mkdir_p(const char *path, unsigned mode)
{
    char tmp[4096];
    size_t n = strlen(path);
    CCC_ENSURE(n > 0 && n < sizeof tmp, CCC_ERR_LIMIT, "directory path too long");
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
            CCC_BAIL(CCC_ERR_IO, "cannot create a directory");
        *p = '/';
    }
    if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
        CCC_BAIL(CCC_ERR_IO, "cannot create a directory");
    return CCC_OK;
}

bool ccc_program_std_option(const char *arg, const char *program, const char *usage)
{
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
        fputs(usage, stdout);
        return true;
    }
    if (strcmp(arg, "--version") == 0) {
        printf("%s %s\n", program, CCC_VERSION);
        return true;
    }
    return false;
}

bool ccc_tcp_port_in_use(const char *ipv4, uint16_t port)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    if (inet_pton(AF_INET, ipv4, &sin.sin_addr) != 1)
        return false;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    int one = 1; /* a port in TIME_WAIT is not "in use" */
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bool busy = bind(fd, (const struct sockaddr *)&sin, sizeof sin) != 0 && errno == EADDRINUSE;
    close(fd);
    return busy;
}
