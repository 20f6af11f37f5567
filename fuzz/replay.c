/* Replays a corpus directory (or single files) through a fuzz target, for
 * builds without libFuzzer. Fails if the directory is empty, so a target
 * whose corpus went missing cannot pass silently. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/base.h"
#include "fuzz.h"

static int replay_file(const char *path)
{
    ccc_buf b;
    ccc_buf_init(&b, 64u << 20);
    if (ccc_file_read(path, &b) != CCC_OK) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    /* Copy into an exact-size heap block so ASan sees over-reads. */
    uint8_t *copy = malloc(b.size ? b.size : 1);
    if (!copy)
        return -1;
    if (b.size)
        memcpy(copy, b.data, b.size);
    LLVMFuzzerTestOneInput(copy, b.size);
    free(copy);
    ccc_buf_wipe(&b);
    return 0;
}

int main(int argc, char **argv)
{
    int files = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) {
            fprintf(stderr, "replay: %s not found\n", argv[i]);
            return 1;
        }
        if (!S_ISDIR(sb.st_mode)) {
            if (replay_file(argv[i]) != 0)
                return 1;
            files++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d)
            return 1;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            if (replay_file(path) != 0) {
                closedir(d);
                return 1;
            }
            files++;
        }
        closedir(d);
    }
    printf("replayed %d inputs\n", files);
    return files > 0 ? 0 : 1;
}
