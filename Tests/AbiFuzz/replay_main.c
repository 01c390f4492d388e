/*
 * abi_fuzz_replay: runs ABI fuzzer inputs without libFuzzer, each in a child process, against
 * whatever libswiftamqp.so it is linked with (ctest links the release build).
 *
 *   abi_fuzz_replay [--seeds DIR] [--timeout S] FILE_OR_DIR...
 *
 * Directories are read file by file (names ending in .md are skipped). --seeds DIR writes the seed
 * corpus the harness generates into DIR (created if needed) and runs it too. A child that crashes (a Swift trap shows as SIGILL or SIGTRAP),
 * reports a violation (SIGABRT), exits non-zero or outlives the timeout (default 30 s) fails the
 * run; every input runs either way. Ends with "abi_fuzz_replay: N inputs, F failed"; exits 1 when
 * any failed.
 */
#include "abi_fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int timeout_s = 30;
static int total, failed;

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *d = malloc(cap);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            d = realloc(d, cap);
        }
        if (d == NULL)
            break;
        size_t got = fread(d + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    *size = n;
    return d;
}

static void run_one(const char *path)
{
    size_t size = 0;
    uint8_t *data = read_file(path, &size);
    if (data == NULL) {
        fprintf(stderr, "FAIL %s: cannot read: %s\n", path, strerror(errno));
        total++, failed++;
        return;
    }
    total++;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid == 0) {
        alarm((unsigned)timeout_s);
        LLVMFuzzerInitialize(NULL, NULL);
        LLVMFuzzerTestOneInput(data, size);
        fflush(NULL);
        _exit(0);
    }
    free(data);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        fprintf(stderr, "ok   %s\n", path);
        return;
    }
    failed++;
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        fprintf(stderr, "FAIL %s: %s%s\n", path, strsignal(sig),
                sig == SIGALRM ? " (a hang: it outlived the timeout)"
                : sig == SIGILL || sig == SIGTRAP ? " (a Swift trap)"
                : sig == SIGABRT ? " (a violation or sanitizer report)" : "");
    } else {
        fprintf(stderr, "FAIL %s: exit status %d\n", path, WEXITSTATUS(status));
    }
}

static void run_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "FAIL %s: %s\n", path, strerror(errno));
        total++, failed++;
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        run_one(path);
        return;
    }
    struct dirent **names = NULL;
    int n = scandir(path, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t len = strlen(name);
        if (name[0] != '.' && !(len > 3 && strcmp(name + len - 3, ".md") == 0)) {
            char full[4096];
            snprintf(full, sizeof full, "%s/%s", path, name);
            run_one(full);
        }
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    const char *seeds = NULL;
    int first = 1;
    for (; first < argc; first++) {
        if (strcmp(argv[first], "--seeds") == 0 && first + 1 < argc)
            seeds = argv[++first];
        else if (strcmp(argv[first], "--timeout") == 0 && first + 1 < argc)
            timeout_s = atoi(argv[++first]);
        else
            break;
    }
    if (seeds) {
        if (mkdir(seeds, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "abi_fuzz_replay: cannot create %s: %s\n", seeds, strerror(errno));
            return 2;
        }
        pid_t pid = fork();
        if (pid == 0) {
            setenv("ABI_FUZZ_WRITE_SEEDS", seeds, 1);
            LLVMFuzzerInitialize(NULL, NULL); /* writes the seeds and exits */
            _exit(1);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "abi_fuzz_replay: writing the seeds failed\n");
            return 2;
        }
        run_path(seeds);
    }
    for (int i = first; i < argc; i++)
        run_path(argv[i]);
    fprintf(stderr, "abi_fuzz_replay: %d inputs, %d failed\n", total, failed);
    return failed ? 1 : 0;
}
