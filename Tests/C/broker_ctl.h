/*
 * Running rabbitmqctl against the test broker from a C test (header-only): `scripts/broker ctl NAME ...`.
 *
 * The repository root comes from the build (SWIFTAMQP_SOURCE_DIR, defined by Tests/C/CMakeLists.txt)
 * and can be overridden with the environment variable SWIFTAMQP_SOURCE_DIR; the node name from
 * SWIFTAMQP_BROKER_NAME (default "swiftamqp-test", the broker scripts/test starts).
 */
#ifndef SWIFTAMQP_BROKER_CTL_H
#define SWIFTAMQP_BROKER_CTL_H

#include "test_util.h"

#include <sys/wait.h>

#ifndef SWIFTAMQP_SOURCE_DIR
#error "SWIFTAMQP_SOURCE_DIR (the repository root) must be defined by the build"
#endif

static TU_UNUSED const char *bc_root(void)
{
    const char *root = getenv("SWIFTAMQP_SOURCE_DIR");
    return root && root[0] ? root : SWIFTAMQP_SOURCE_DIR;
}

static TU_UNUSED const char *bc_node(void)
{
    const char *name = getenv("SWIFTAMQP_BROKER_NAME");
    return name && name[0] ? name : "swiftamqp-test";
}

/** Whether `s` is safe to put between single quotes in a shell command. */
static TU_UNUSED bool bc_quotable(const char *s)
{
    return strchr(s, '\'') == NULL;
}

/**
 * Runs `scripts/broker ctl NODE ARGS` (ARGS is shell text, already quoted by the caller) and puts its
 * stdout into `out` (NUL-terminated, truncated to `size`). Returns the exit status (-1 if it could
 * not run). stderr goes to the test's stderr.
 */
static TU_UNUSED int bc_ctl(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static TU_UNUSED int bc_ctl(char *out, size_t size, const char *fmt, ...)
{
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    CHECK(bc_quotable(bc_root()) && bc_quotable(bc_node()), "repository path or broker name contains a quote");
    snprintf(cmd, sizeof cmd, "'%s/scripts/broker' ctl '%s' %s", bc_root(), bc_node(), args);
    FILE *p = popen(cmd, "r");
    if (p == NULL) {
        fprintf(stderr, "popen(%s): %s\n", cmd, strerror(errno));
        return -1;
    }
    size_t used = 0;
    char tmp[4096];
    size_t got;
    while ((got = fread(tmp, 1, sizeof tmp, p)) > 0) {
        if (out && used + 1 < size) {
            size_t take = got < size - 1 - used ? got : size - 1 - used;
            memcpy(out + used, tmp, take);
            used += take;
        }
    }
    if (out && size)
        out[used] = '\0';
    int st = pclose(p);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (rc != 0)
        fprintf(stderr, "broker ctl: `%s` exited with %d\n", cmd, rc);
    return rc;
}

/**
 * Finds the Erlang pid of the connection whose client property connection_name is `connection_name`
 * (RabbitMQ 3.10's `list_connections name` is "ip:port -> ip:port", so the client properties are
 * searched for {"connection_name","NAME"}). Polls up to 10 s, as a new connection may not be listed
 * at once. `pid` receives e.g. "<rabbit@localhost.1.2.0>".
 */
static TU_UNUSED bool bc_find_connection_pid(const char *connection_name, char *pid, size_t size)
{
    static char out[1 << 20];
    char needle[512];
    snprintf(needle, sizeof needle, "{\"connection_name\",\"%s\"}", connection_name);
    int64_t deadline = tu_now_ms() + 10000;
    do {
        if (bc_ctl(out, sizeof out, "-q list_connections --no-table-headers pid client_properties") == 0) {
            char *save = NULL;
            for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *tab = strchr(line, '\t');
                if (tab == NULL || strstr(tab, needle) == NULL)
                    continue;
                *tab = '\0';
                snprintf(pid, size, "%s", line);
                return true;
            }
        }
        tu_sleep_ms(200);
    } while (tu_now_ms() < deadline);
    return false;
}

#endif /* SWIFTAMQP_BROKER_CTL_H */
