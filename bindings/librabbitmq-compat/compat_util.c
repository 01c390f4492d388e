/*
 * librabbitmq compatibility layer: the small self-contained parts of the API. The empty constants,
 * the version, byte strings, pools (every allocation its own block), error strings, constant and
 * method names. Tables and properties are in compat_tables.c, URLs in compat_url.c.
 * Written for swiftamqp against the librabbitmq 0.11 headers (ABI only, no librabbitmq code).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "compat.h"

const amqp_bytes_t amqp_empty_bytes = {0, NULL};
const amqp_table_t amqp_empty_table = {0, NULL};
const amqp_array_t amqp_empty_array = {0, NULL};

/* ---- version ------------------------------------------------------------------------------ */
uint32_t amqp_version_number(void) { return AMQP_VERSION; }
char const *amqp_version(void) { return AMQP_VERSION_STRING; }

/* ---- bytes ---------------------------------------------------------------------------------- */
amqp_bytes_t amqp_cstring_bytes(char const *cstr)
{
    amqp_bytes_t b;
    b.len = cstr ? strlen(cstr) : 0;
    b.bytes = (void *)cstr;
    return b;
}

amqp_bytes_t amqp_bytes_malloc(size_t amount)
{
    amqp_bytes_t b;
    b.len = amount;
    b.bytes = malloc(amount ? amount : 1);
    if (b.bytes == NULL)
        b.len = 0;
    return b;
}

amqp_bytes_t amqp_bytes_malloc_dup(amqp_bytes_t src)
{
    amqp_bytes_t b = amqp_bytes_malloc(src.len);
    if (b.bytes != NULL && src.len)
        memcpy(b.bytes, src.bytes, src.len);
    return b;
}

void amqp_bytes_free(amqp_bytes_t bytes) { free(bytes.bytes); }

/* ---- pools: every allocation is its own block in large_blocks ------------------------------ */
void init_amqp_pool(amqp_pool_t *pool, size_t pagesize)
{
    memset(pool, 0, sizeof *pool);
    pool->pagesize = pagesize ? pagesize : 4096;
}

void empty_amqp_pool(amqp_pool_t *pool)
{
    for (int i = 0; i < pool->large_blocks.num_blocks; i++)
        free(pool->large_blocks.blocklist[i]);
    free(pool->large_blocks.blocklist);
    for (int i = 0; i < pool->pages.num_blocks; i++)
        free(pool->pages.blocklist[i]);
    free(pool->pages.blocklist);
    size_t ps = pool->pagesize;
    memset(pool, 0, sizeof *pool);
    pool->pagesize = ps;
}

void recycle_amqp_pool(amqp_pool_t *pool) { empty_amqp_pool(pool); }

static int pool_add_block(amqp_pool_t *pool, void *block)
{
    int n = pool->large_blocks.num_blocks;
    if ((n & (n - 1)) == 0) { /* grow at powers of two */
        size_t cap = n ? (size_t)n * 2 : 8;
        void **nl = realloc(pool->large_blocks.blocklist, cap * sizeof(void *));
        if (nl == NULL)
            return 0;
        pool->large_blocks.blocklist = nl;
    }
    if (n < 8 && pool->large_blocks.blocklist == NULL)
        return 0;
    pool->large_blocks.blocklist[n] = block;
    pool->large_blocks.num_blocks = n + 1;
    return 1;
}

void *amqp_pool_alloc(amqp_pool_t *pool, size_t amount)
{
    if (pool == NULL)
        return NULL;
    void *p = calloc(1, amount ? amount : 1);
    if (p == NULL)
        return NULL;
    if (!pool_add_block(pool, p)) {
        free(p);
        return NULL;
    }
    return p;
}

void amqp_pool_alloc_bytes(amqp_pool_t *pool, size_t amount, amqp_bytes_t *output)
{
    output->bytes = amqp_pool_alloc(pool, amount);
    output->len = output->bytes ? amount : 0;
}

int compat_pool_take(amqp_pool_t *dst, amqp_pool_t *src)
{
    int dropped = 0;
    for (int i = 0; i < src->large_blocks.num_blocks; i++) {
        if (!pool_add_block(dst, src->large_blocks.blocklist[i])) {
            free(src->large_blocks.blocklist[i]); /* out of memory: drop it rather than leak */
            dropped++;
        }
    }
    free(src->large_blocks.blocklist);
    src->large_blocks.blocklist = NULL;
    src->large_blocks.num_blocks = 0;
    return dropped;
}

amqp_bytes_t compat_pool_dup(amqp_pool_t *pool, const void *bytes, size_t len)
{
    amqp_bytes_t b = {0, NULL};
    if (len == 0)
        return b;
    b.bytes = amqp_pool_alloc(pool, len);
    if (b.bytes) {
        memcpy(b.bytes, bytes, len);
        b.len = len;
    }
    return b;
}

/* ---- error strings --------------------------------------------------------------------------- */
static const char *const base_errors[] = {
    "operation completed successfully",           /* 0 */
    "could not allocate memory",                  /* -1 */
    "invalid AMQP data",                          /* -2 */
    "unknown AMQP class id",                      /* -3 */
    "unknown AMQP method id",                     /* -4 */
    "hostname lookup failed",                     /* -5 */
    "incompatible AMQP version",                  /* -6 */
    "connection closed unexpectedly",             /* -7 */
    "could not parse AMQP URL",                   /* -8 */
    "a socket error occurred",                    /* -9 */
    "invalid parameter",                          /* -10 */
    "table too large for buffer",                 /* -11 */
    "unexpected method received",                 /* -12 */
    "request timed out",                          /* -13 */
    "system timer has failed",                    /* -14 */
    "heartbeat timeout, connection closed",       /* -15 */
    "unexpected protocol state",                  /* -16 */
    "socket is closed",                           /* -17 */
    "socket already open",                        /* -18 */
    "unsupported sasl method requested",          /* -19 */
    "parameter value is unsupported",             /* -20 */
};
static const char *const tcp_errors[] = {"a socket error occurred", "socket library initialization failed"};
static const char *const ssl_errors[] = {"a SSL error occurred", "SSL hostname verification failed",
                                         "SSL peer cert verification failed", "SSL handshake failed",
                                         "SSL setting engine failed"};

const char *amqp_error_string2(int err)
{
    int category = (err & 0xFF00) ? -((-err) & 0xFF00) : 0;
    int n = (-err) & 0x00FF;
    if (err > 0)
        return "(unknown error)";
    switch (category) {
    case 0:
        if (n < (int)(sizeof base_errors / sizeof *base_errors))
            return base_errors[n];
        break;
    case -0x100:
        if (n < 2)
            return tcp_errors[n];
        break;
    case -0x200:
        if (n < 5)
            return ssl_errors[n];
        break;
    }
    return "(unknown error)";
}

char *amqp_error_string(int err) { return strdup(amqp_error_string2(err)); }

/* ---- constants and method names ---------------------------------------------------------------- */
char const *amqp_constant_name(int c)
{
    switch (c) {
    case AMQP_FRAME_METHOD: return "AMQP_FRAME_METHOD";
    case AMQP_FRAME_HEADER: return "AMQP_FRAME_HEADER";
    case AMQP_FRAME_BODY: return "AMQP_FRAME_BODY";
    case AMQP_FRAME_HEARTBEAT: return "AMQP_FRAME_HEARTBEAT";
    case AMQP_FRAME_MIN_SIZE: return "AMQP_FRAME_MIN_SIZE";
    case AMQP_FRAME_END: return "AMQP_FRAME_END";
    case AMQP_REPLY_SUCCESS: return "AMQP_REPLY_SUCCESS";
    case AMQP_CONTENT_TOO_LARGE: return "AMQP_CONTENT_TOO_LARGE";
    case AMQP_NO_ROUTE: return "AMQP_NO_ROUTE";
    case AMQP_NO_CONSUMERS: return "AMQP_NO_CONSUMERS";
    case AMQP_ACCESS_REFUSED: return "AMQP_ACCESS_REFUSED";
    case AMQP_NOT_FOUND: return "AMQP_NOT_FOUND";
    case AMQP_RESOURCE_LOCKED: return "AMQP_RESOURCE_LOCKED";
    case AMQP_PRECONDITION_FAILED: return "AMQP_PRECONDITION_FAILED";
    case AMQP_CONNECTION_FORCED: return "AMQP_CONNECTION_FORCED";
    case AMQP_INVALID_PATH: return "AMQP_INVALID_PATH";
    case AMQP_FRAME_ERROR: return "AMQP_FRAME_ERROR";
    case AMQP_SYNTAX_ERROR: return "AMQP_SYNTAX_ERROR";
    case AMQP_COMMAND_INVALID: return "AMQP_COMMAND_INVALID";
    case AMQP_CHANNEL_ERROR: return "AMQP_CHANNEL_ERROR";
    case AMQP_UNEXPECTED_FRAME: return "AMQP_UNEXPECTED_FRAME";
    case AMQP_RESOURCE_ERROR: return "AMQP_RESOURCE_ERROR";
    case AMQP_NOT_ALLOWED: return "AMQP_NOT_ALLOWED";
    case AMQP_NOT_IMPLEMENTED: return "AMQP_NOT_IMPLEMENTED";
    case AMQP_INTERNAL_ERROR: return "AMQP_INTERNAL_ERROR";
    default: return "(unknown)";
    }
}

amqp_boolean_t amqp_constant_is_hard_error(int c)
{
    switch (c) {
    case AMQP_CONNECTION_FORCED: case AMQP_INVALID_PATH: case AMQP_FRAME_ERROR: case AMQP_SYNTAX_ERROR:
    case AMQP_COMMAND_INVALID: case AMQP_CHANNEL_ERROR: case AMQP_UNEXPECTED_FRAME:
    case AMQP_RESOURCE_ERROR: case AMQP_NOT_ALLOWED: case AMQP_NOT_IMPLEMENTED: case AMQP_INTERNAL_ERROR:
        return 1;
    default:
        return 0;
    }
}

#define METHODS(X)                                                                                 \
    X(CONNECTION_START) X(CONNECTION_START_OK) X(CONNECTION_SECURE) X(CONNECTION_SECURE_OK)        \
    X(CONNECTION_TUNE) X(CONNECTION_TUNE_OK) X(CONNECTION_OPEN) X(CONNECTION_OPEN_OK)              \
    X(CONNECTION_CLOSE) X(CONNECTION_CLOSE_OK) X(CONNECTION_BLOCKED) X(CONNECTION_UNBLOCKED)       \
    X(CHANNEL_OPEN) X(CHANNEL_OPEN_OK) X(CHANNEL_FLOW) X(CHANNEL_FLOW_OK) X(CHANNEL_CLOSE)         \
    X(CHANNEL_CLOSE_OK) X(ACCESS_REQUEST) X(ACCESS_REQUEST_OK)                                     \
    X(EXCHANGE_DECLARE) X(EXCHANGE_DECLARE_OK) X(EXCHANGE_DELETE) X(EXCHANGE_DELETE_OK)            \
    X(EXCHANGE_BIND) X(EXCHANGE_BIND_OK) X(EXCHANGE_UNBIND) X(EXCHANGE_UNBIND_OK)                  \
    X(QUEUE_DECLARE) X(QUEUE_DECLARE_OK) X(QUEUE_BIND) X(QUEUE_BIND_OK) X(QUEUE_PURGE)             \
    X(QUEUE_PURGE_OK) X(QUEUE_DELETE) X(QUEUE_DELETE_OK) X(QUEUE_UNBIND) X(QUEUE_UNBIND_OK)        \
    X(BASIC_QOS) X(BASIC_QOS_OK) X(BASIC_CONSUME) X(BASIC_CONSUME_OK) X(BASIC_CANCEL)              \
    X(BASIC_CANCEL_OK) X(BASIC_PUBLISH) X(BASIC_RETURN) X(BASIC_DELIVER) X(BASIC_GET)              \
    X(BASIC_GET_OK) X(BASIC_GET_EMPTY) X(BASIC_ACK) X(BASIC_REJECT) X(BASIC_RECOVER_ASYNC)         \
    X(BASIC_RECOVER) X(BASIC_RECOVER_OK) X(BASIC_NACK) X(TX_SELECT) X(TX_SELECT_OK) X(TX_COMMIT)   \
    X(TX_COMMIT_OK) X(TX_ROLLBACK) X(TX_ROLLBACK_OK) X(CONFIRM_SELECT) X(CONFIRM_SELECT_OK)

char const *amqp_method_name(amqp_method_number_t m)
{
    switch (m) {
#define NAME(M)                                                                                    \
    case AMQP_##M##_METHOD: return "AMQP_" #M "_METHOD";
        METHODS(NAME)
#undef NAME
    default: return NULL;
    }
}

amqp_boolean_t amqp_method_has_content(amqp_method_number_t m)
{
    return m == AMQP_BASIC_PUBLISH_METHOD || m == AMQP_BASIC_RETURN_METHOD ||
           m == AMQP_BASIC_DELIVER_METHOD || m == AMQP_BASIC_GET_OK_METHOD;
}
