/*
 * The conformance suite's plumbing: die, the growable byte buffer and its big-endian writers and
 * readers, running the swamqp-frame tool on a file, and the failure report every check uses.
 */
#include "conformance.h"

extern char **environ;

/* ------------------------------------------------------------------------------------------ */
/* Growable byte buffer                                                                         */

void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "conformance: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

void buf_reserve(struct buf *b, size_t extra) {
    if (b->len + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) die("out of memory");
    b->data = p;
    b->cap = cap;
}

void buf_put(struct buf *b, const void *p, size_t n) {
    if (n == 0) return;
    buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void buf_putc(struct buf *b, uint8_t c) { buf_put(b, &c, 1); }
void buf_puts(struct buf *b, const char *s) { buf_put(b, s, strlen(s)); }

void buf_printf(struct buf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) die("buf_printf overflow");
    buf_put(b, tmp, (size_t)n);
}

void put16(struct buf *b, uint16_t v) { uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v}; buf_put(b, x, 2); }
void put32(struct buf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    buf_put(b, x, 4);
}
void put64(struct buf *b, uint64_t v) { put32(b, (uint32_t)(v >> 32)); put32(b, (uint32_t)v); }
uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

/* ------------------------------------------------------------------------------------------ */
/* Running swamqp-frame                                                                         */

const char *tool_path;
char work_dir[4096];
unsigned long tool_runs;

static void write_file(const char *path, const struct buf *b) {
    FILE *f = fopen(path, "wb");
    if (!f) die("cannot write %s: %s", path, strerror(errno));
    if (b->len && fwrite(b->data, 1, b->len, f) != b->len) die("short write to %s", path);
    if (fclose(f) != 0) die("cannot write %s", path);
}

void read_file(const char *path, struct buf *b) {
    b->len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) die("cannot read %s: %s", path, strerror(errno));
    uint8_t tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) buf_put(b, tmp, n);
    fclose(f);
}

/* Runs `swamqp-frame MODE < input > output`; returns its exit status (-1 when it did not exit). */
int run_tool(const char *mode, const struct buf *input, struct buf *output, struct buf *errors) {
    char in_path[4200], out_path[4200], err_path[4200];
    snprintf(in_path, sizeof in_path, "%s/in", work_dir);
    snprintf(out_path, sizeof out_path, "%s/out", work_dir);
    snprintf(err_path, sizeof err_path, "%s/err", work_dir);
    write_file(in_path, input);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in_path, O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char *argv[] = {(char *)tool_path, (char *)mode, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, tool_path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) die("cannot run %s: %s", tool_path, strerror(rc));
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) die("waitpid: %s", strerror(errno));
    }
    tool_runs++;
    read_file(out_path, output);
    read_file(err_path, errors);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ------------------------------------------------------------------------------------------ */
/* Reporting                                                                                    */


void show_text(const char *label, const uint8_t *p, size_t n) {
    fprintf(stderr, "      %s (%zu bytes): %.*s%s\n", label, n, (int)(n > 600 ? 600 : n), (const char *)p, n > 600 ? "..." : "");
}

void show_hex(const char *label, const uint8_t *p, size_t n) {
    fprintf(stderr, "      %s (%zu bytes): ", label, n);
    for (size_t i = 0; i < n && i < 300; i++) fprintf(stderr, "%02x", p[i]);
    fprintf(stderr, "%s\n", n > 300 ? "..." : "");
}

void fail(struct tally *t, const char *what, const char *fmt, ...) {
    t->failed++;
    if (t->shown >= 3) return;
    t->shown++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "  FAIL %s: ", what);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

/* Splits `b` into lines (in place); returns the count and fills starts/lengths. */
size_t split_lines(struct buf *b, uint8_t ***starts, size_t **lengths) {
    size_t count = 0, cap = 1024;
    *starts = malloc(cap * sizeof **starts);
    *lengths = malloc(cap * sizeof **lengths);
    size_t i = 0;
    while (i < b->len) {
        size_t j = i;
        while (j < b->len && b->data[j] != '\n') j++;
        if (count == cap) {
            cap *= 2;
            *starts = realloc(*starts, cap * sizeof **starts);
            *lengths = realloc(*lengths, cap * sizeof **lengths);
            if (!*starts || !*lengths) die("out of memory");
        }
        (*starts)[count] = b->data + i;
        (*lengths)[count] = j - i;
        count++;
        i = j + 1;
    }
    return count;
}
