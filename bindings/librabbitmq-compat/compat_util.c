/*
 * librabbitmq compatibility layer: byte strings, pools, tables, URLs, names and error strings.
 * Written for swiftamqp against the librabbitmq 0.11 headers (ABI only, no librabbitmq code).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
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

/* ---- tables: swamqp <-> librabbitmq --------------------------------------------------------- */
static int value_from_sw(const swamqp_field_value *in, amqp_field_value_t *out, amqp_pool_t *pool);

int compat_table_from_sw(const swamqp_table *in, amqp_table_t *out, amqp_pool_t *pool)
{
    out->num_entries = 0;
    out->entries = NULL;
    if (in == NULL || in->count == 0)
        return AMQP_STATUS_OK;
    out->entries = amqp_pool_alloc(pool, in->count * sizeof(amqp_table_entry_t));
    if (out->entries == NULL)
        return AMQP_STATUS_NO_MEMORY;
    for (size_t i = 0; i < in->count; i++) {
        out->entries[i].key = compat_pool_dup(pool, in->entries[i].key.bytes, in->entries[i].key.len);
        int rc = value_from_sw(&in->entries[i].value, &out->entries[i].value, pool);
        if (rc)
            return rc;
    }
    out->num_entries = (int)in->count;
    return AMQP_STATUS_OK;
}

static int value_from_sw(const swamqp_field_value *in, amqp_field_value_t *out, amqp_pool_t *pool)
{
    memset(out, 0, sizeof *out);
    out->kind = in->kind; /* the tags are the same characters in both libraries */
    switch (in->kind) {
    case SWAMQP_FIELD_BOOL: out->value.boolean = in->value.boolean ? 1 : 0; break;
    case SWAMQP_FIELD_I8: out->value.i8 = in->value.i8; break;
    case SWAMQP_FIELD_U8: out->value.u8 = in->value.u8; break;
    case SWAMQP_FIELD_I16: out->value.i16 = in->value.i16; break;
    case SWAMQP_FIELD_U16: out->value.u16 = in->value.u16; break;
    case SWAMQP_FIELD_I32: out->value.i32 = in->value.i32; break;
    case SWAMQP_FIELD_U32: out->value.u32 = in->value.u32; break;
    case SWAMQP_FIELD_I64: out->value.i64 = in->value.i64; break;
    case SWAMQP_FIELD_U64:
    case SWAMQP_FIELD_TIMESTAMP: out->value.u64 = in->value.u64; break;
    case SWAMQP_FIELD_F32: out->value.f32 = in->value.f32; break;
    case SWAMQP_FIELD_F64: out->value.f64 = in->value.f64; break;
    case SWAMQP_FIELD_DECIMAL:
        out->value.decimal.decimals = in->value.decimal.scale;
        out->value.decimal.value = in->value.decimal.value;
        break;
    case SWAMQP_FIELD_STRING:
    case SWAMQP_FIELD_BYTES:
        out->value.bytes = compat_pool_dup(pool, in->value.bytes.bytes, in->value.bytes.len);
        break;
    case SWAMQP_FIELD_TABLE: return compat_table_from_sw(&in->value.table, &out->value.table, pool);
    case SWAMQP_FIELD_ARRAY: {
        size_t n = in->value.array.count;
        out->value.array.num_entries = 0;
        out->value.array.entries = NULL;
        if (n == 0)
            break;
        out->value.array.entries = amqp_pool_alloc(pool, n * sizeof(amqp_field_value_t));
        if (out->value.array.entries == NULL)
            return AMQP_STATUS_NO_MEMORY;
        for (size_t i = 0; i < n; i++) {
            int rc = value_from_sw(&in->value.array.values[i], &out->value.array.entries[i], pool);
            if (rc)
                return rc;
        }
        out->value.array.num_entries = (int)n;
        break;
    }
    case SWAMQP_FIELD_VOID: break;
    default: return AMQP_STATUS_BAD_AMQP_DATA;
    }
    return AMQP_STATUS_OK;
}

static int value_to_sw(const amqp_field_value_t *in, swamqp_field_value *out, amqp_pool_t *pool);

int compat_table_to_sw(const amqp_table_t *in, swamqp_table *out, amqp_pool_t *pool)
{
    out->count = 0;
    out->entries = NULL;
    if (in == NULL || in->num_entries <= 0)
        return AMQP_STATUS_OK;
    swamqp_table_entry *e = amqp_pool_alloc(pool, (size_t)in->num_entries * sizeof *e);
    if (e == NULL)
        return AMQP_STATUS_NO_MEMORY;
    for (int i = 0; i < in->num_entries; i++) {
        e[i].key.bytes = in->entries[i].key.bytes;
        e[i].key.len = in->entries[i].key.len;
        int rc = value_to_sw(&in->entries[i].value, &e[i].value, pool);
        if (rc)
            return rc;
    }
    out->entries = e;
    out->count = (size_t)in->num_entries;
    return AMQP_STATUS_OK;
}

static int value_to_sw(const amqp_field_value_t *in, swamqp_field_value *out, amqp_pool_t *pool)
{
    memset(out, 0, sizeof *out);
    out->kind = in->kind;
    switch (in->kind) {
    case AMQP_FIELD_KIND_BOOLEAN: out->value.boolean = in->value.boolean != 0; break;
    case AMQP_FIELD_KIND_I8: out->value.i8 = in->value.i8; break;
    case AMQP_FIELD_KIND_U8: out->value.u8 = in->value.u8; break;
    case AMQP_FIELD_KIND_I16: out->value.i16 = in->value.i16; break;
    case AMQP_FIELD_KIND_U16: out->value.u16 = in->value.u16; break;
    case AMQP_FIELD_KIND_I32: out->value.i32 = in->value.i32; break;
    case AMQP_FIELD_KIND_U32: out->value.u32 = in->value.u32; break;
    case AMQP_FIELD_KIND_I64: out->value.i64 = in->value.i64; break;
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP: out->value.u64 = in->value.u64; break;
    case AMQP_FIELD_KIND_F32: out->value.f32 = in->value.f32; break;
    case AMQP_FIELD_KIND_F64: out->value.f64 = in->value.f64; break;
    case AMQP_FIELD_KIND_DECIMAL:
        out->value.decimal.scale = in->value.decimal.decimals;
        out->value.decimal.value = in->value.decimal.value;
        break;
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES:
        out->value.bytes.bytes = in->value.bytes.bytes;
        out->value.bytes.len = in->value.bytes.len;
        break;
    case AMQP_FIELD_KIND_TABLE: return compat_table_to_sw(&in->value.table, &out->value.table, pool);
    case AMQP_FIELD_KIND_ARRAY: {
        int n = in->value.array.num_entries;
        if (n <= 0)
            break;
        swamqp_field_value *v = amqp_pool_alloc(pool, (size_t)n * sizeof *v);
        if (v == NULL)
            return AMQP_STATUS_NO_MEMORY;
        for (int i = 0; i < n; i++) {
            int rc = value_to_sw(&in->value.array.entries[i], &v[i], pool);
            if (rc)
                return rc;
        }
        out->value.array.values = v;
        out->value.array.count = (size_t)n;
        break;
    }
    case AMQP_FIELD_KIND_VOID: break;
    default: return AMQP_STATUS_INVALID_PARAMETER;
    }
    return AMQP_STATUS_OK;
}

static int clone_value(const amqp_field_value_t *in, amqp_field_value_t *out, amqp_pool_t *pool);

int amqp_table_clone(const amqp_table_t *original, amqp_table_t *clone, amqp_pool_t *pool)
{
    if (original == NULL || clone == NULL || pool == NULL)
        return AMQP_STATUS_INVALID_PARAMETER;
    clone->num_entries = 0;
    clone->entries = NULL;
    if (original->num_entries <= 0)
        return AMQP_STATUS_OK;
    clone->entries = amqp_pool_alloc(pool, (size_t)original->num_entries * sizeof(amqp_table_entry_t));
    if (clone->entries == NULL)
        return AMQP_STATUS_NO_MEMORY;
    for (int i = 0; i < original->num_entries; i++) {
        const amqp_table_entry_t *e = &original->entries[i];
        if (e->key.len == 0)
            return AMQP_STATUS_INVALID_PARAMETER;
        clone->entries[i].key = compat_pool_dup(pool, e->key.bytes, e->key.len);
        if (clone->entries[i].key.bytes == NULL)
            return AMQP_STATUS_NO_MEMORY;
        int rc = clone_value(&e->value, &clone->entries[i].value, pool);
        if (rc)
            return rc;
    }
    clone->num_entries = original->num_entries;
    return AMQP_STATUS_OK;
}

static int clone_value(const amqp_field_value_t *in, amqp_field_value_t *out, amqp_pool_t *pool)
{
    *out = *in;
    switch (in->kind) {
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES:
        out->value.bytes = compat_pool_dup(pool, in->value.bytes.bytes, in->value.bytes.len);
        if (in->value.bytes.len && out->value.bytes.bytes == NULL)
            return AMQP_STATUS_NO_MEMORY;
        return AMQP_STATUS_OK;
    case AMQP_FIELD_KIND_TABLE: return amqp_table_clone(&in->value.table, &out->value.table, pool);
    case AMQP_FIELD_KIND_ARRAY: {
        int n = in->value.array.num_entries;
        out->value.array.num_entries = 0;
        out->value.array.entries = NULL;
        if (n <= 0)
            return AMQP_STATUS_OK;
        out->value.array.entries = amqp_pool_alloc(pool, (size_t)n * sizeof(amqp_field_value_t));
        if (out->value.array.entries == NULL)
            return AMQP_STATUS_NO_MEMORY;
        for (int i = 0; i < n; i++) {
            int rc = clone_value(&in->value.array.entries[i], &out->value.array.entries[i], pool);
            if (rc)
                return rc;
        }
        out->value.array.num_entries = n;
        return AMQP_STATUS_OK;
    }
    default: return AMQP_STATUS_OK;
    }
}

int amqp_table_entry_cmp(void const *entry1, void const *entry2)
{
    const amqp_table_entry_t *a = entry1, *b = entry2;
    size_t n = a->key.len < b->key.len ? a->key.len : b->key.len;
    int d = n ? memcmp(a->key.bytes, b->key.bytes, n) : 0;
    if (d != 0)
        return d;
    return (a->key.len > b->key.len) - (a->key.len < b->key.len);
}

/* ---- properties ------------------------------------------------------------------------------ */
#define PROP_MAP(X)                                                                                \
    X(AMQP_BASIC_CONTENT_TYPE_FLAG, SWAMQP_PROP_CONTENT_TYPE, content_type)                        \
    X(AMQP_BASIC_CONTENT_ENCODING_FLAG, SWAMQP_PROP_CONTENT_ENCODING, content_encoding)            \
    X(AMQP_BASIC_CORRELATION_ID_FLAG, SWAMQP_PROP_CORRELATION_ID, correlation_id)                  \
    X(AMQP_BASIC_REPLY_TO_FLAG, SWAMQP_PROP_REPLY_TO, reply_to)                                    \
    X(AMQP_BASIC_EXPIRATION_FLAG, SWAMQP_PROP_EXPIRATION, expiration)                              \
    X(AMQP_BASIC_MESSAGE_ID_FLAG, SWAMQP_PROP_MESSAGE_ID, message_id)                              \
    X(AMQP_BASIC_TYPE_FLAG, SWAMQP_PROP_TYPE, type)                                                \
    X(AMQP_BASIC_USER_ID_FLAG, SWAMQP_PROP_USER_ID, user_id)                                       \
    X(AMQP_BASIC_APP_ID_FLAG, SWAMQP_PROP_APP_ID, app_id)                                          \
    X(AMQP_BASIC_CLUSTER_ID_FLAG, SWAMQP_PROP_CLUSTER_ID, cluster_id)

int compat_props_from_sw(const swamqp_properties *in, amqp_basic_properties_t *out, amqp_pool_t *pool)
{
    memset(out, 0, sizeof *out);
#define FROM_SW(AF, SF, name)                                                                      \
    if (in->flags & SF) {                                                                          \
        out->_flags |= AF;                                                                         \
        out->name = compat_pool_dup(pool, in->name.bytes, in->name.len);                           \
    }
    PROP_MAP(FROM_SW)
#undef FROM_SW
    if (in->flags & SWAMQP_PROP_HEADERS) {
        out->_flags |= AMQP_BASIC_HEADERS_FLAG;
        int rc = compat_table_from_sw(&in->headers, &out->headers, pool);
        if (rc)
            return rc;
    }
    if (in->flags & SWAMQP_PROP_DELIVERY_MODE) {
        out->_flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
        out->delivery_mode = in->delivery_mode;
    }
    if (in->flags & SWAMQP_PROP_PRIORITY) {
        out->_flags |= AMQP_BASIC_PRIORITY_FLAG;
        out->priority = in->priority;
    }
    if (in->flags & SWAMQP_PROP_TIMESTAMP) {
        out->_flags |= AMQP_BASIC_TIMESTAMP_FLAG;
        out->timestamp = in->timestamp;
    }
    return AMQP_STATUS_OK;
}

int compat_props_to_sw(const amqp_basic_properties_t *in, swamqp_properties *out, amqp_pool_t *pool)
{
    memset(out, 0, sizeof *out);
#define TO_SW(AF, SF, name)                                                                        \
    if (in->_flags & AF) {                                                                         \
        out->flags |= SF;                                                                          \
        out->name.bytes = in->name.bytes;                                                          \
        out->name.len = in->name.len;                                                              \
    }
    PROP_MAP(TO_SW)
#undef TO_SW
    if (in->_flags & AMQP_BASIC_HEADERS_FLAG) {
        out->flags |= SWAMQP_PROP_HEADERS;
        int rc = compat_table_to_sw(&in->headers, &out->headers, pool);
        if (rc)
            return rc;
    }
    if (in->_flags & AMQP_BASIC_DELIVERY_MODE_FLAG) {
        out->flags |= SWAMQP_PROP_DELIVERY_MODE;
        out->delivery_mode = in->delivery_mode;
    }
    if (in->_flags & AMQP_BASIC_PRIORITY_FLAG) {
        out->flags |= SWAMQP_PROP_PRIORITY;
        out->priority = in->priority;
    }
    if (in->_flags & AMQP_BASIC_TIMESTAMP_FLAG) {
        out->flags |= SWAMQP_PROP_TIMESTAMP;
        out->timestamp = in->timestamp;
    }
    return AMQP_STATUS_OK;
}

/* Deep copy of librabbitmq properties into `pool` (for amqp_read_message). A copy that cannot be
 * made is AMQP_STATUS_NO_MEMORY, as in librabbitmq, not a property that silently went empty. */
int compat_props_clone(const amqp_basic_properties_t *in, amqp_basic_properties_t *out, amqp_pool_t *pool)
{
    *out = *in;
#define CLONE(AF, SF, name)                                                                        \
    if (in->_flags & AF) {                                                                         \
        out->name = compat_pool_dup(pool, in->name.bytes, in->name.len);                           \
        if (in->name.len && out->name.bytes == NULL)                                               \
            return AMQP_STATUS_NO_MEMORY;                                                          \
    }
    PROP_MAP(CLONE)
#undef CLONE
    if (in->_flags & AMQP_BASIC_HEADERS_FLAG)
        return amqp_table_clone(&in->headers, &out->headers, pool);
    return AMQP_STATUS_OK;
}

/* ---- URLs -------------------------------------------------------------------------------------- */
void amqp_default_connection_info(struct amqp_connection_info *ci)
{
    ci->user = (char *)"guest";
    ci->password = (char *)"guest";
    ci->host = (char *)"localhost";
    ci->port = 5672;
    ci->vhost = (char *)"/";
    ci->ssl = 0;
}

/* One component of an AMQP URL, percent-decoded in place: reads from *pp up to a delimiter,
 * writes the decoded text from the component's start and NUL-terminates it. The delimiters are
 * NUL, '/', '?', '#', '[' and ']', and also ':' and '@' when `colon_at` is set. Returns the
 * delimiter (*pp then points past it), or '%' for a bad escape. An escape is librabbitmq's: what
 * sscanf's "%2x" reads from the two characters after '%' (so "% 1" and "%+1" are accepted), and
 * nothing above CHAR_MAX. */
static char url_component(char **pp, int colon_at)
{
    char *r = *pp, *w = *pp;
    for (;;) {
        char ch = *r++;
        if (ch == '\0' || ch == '/' || ch == '?' || ch == '#' || ch == '[' || ch == ']' ||
            (colon_at && (ch == ':' || ch == '@'))) {
            *w = '\0';
            *pp = r;
            return ch;
        }
        if (ch == '%') {
            unsigned int v = 0;
            int used = 0;
            if (sscanf(r, "%2x%n", &v, &used) != 1 || used != 2 || v > CHAR_MAX)
                return '%';
            *w++ = (char)v;
            r += 2;
            continue;
        }
        *w++ = ch;
    }
}

/* amqp[s]://[user[:password]@]host[:port][/vhost], in place like librabbitmq's: the strings of
 * `parsed` point into `url`. The steps, and so the odd corners, are librabbitmq 0.11's:
 *  1. a first component up to a delimiter (':' and '@' included);
 *  2. after ':', a second one: the port, or the password when '@' follows;
 *  3. after '@', the first was the user and the second (if any) the password; the host follows;
 *  4. '[' opens an IPv6 literal (':' and '@' are plain characters in it), allowed only where the
 *     host so far is empty and no port was read, closed by ']' and followed by nothing but a
 *     delimiter; it is the host even when empty;
 *  5. after ':' a port (again: "amqp://h:x:5" has port 5);
 *  6. after '/' the vhost, which must end the URL.
 * An empty host keeps "localhost"; a port is strtol's decimal number in 0..65535. */
int amqp_parse_url(char *url, struct amqp_connection_info *parsed)
{
    amqp_default_connection_info(parsed);
    if (url == NULL)
        return AMQP_STATUS_BAD_URL;
    char *p;
    if (strncmp(url, "amqp://", 7) == 0) {
        p = url + 7;
    } else if (strncmp(url, "amqps://", 8) == 0) {
        p = url + 8;
        parsed->ssl = 1;
        parsed->port = 5671;
    } else {
        return AMQP_STATUS_BAD_URL;
    }
    char *host = p, *port = NULL;
    char d = url_component(&p, 1);
    if (d == ':') {
        port = p;
        d = url_component(&p, 1);
    }
    if (d == '@') {
        parsed->user = host;
        if (port != NULL)
            parsed->password = port;
        port = NULL;
        host = p;
        d = url_component(&p, 1);
    }
    if (d == '[') {
        if (host[0] != '\0' || port != NULL)
            return AMQP_STATUS_BAD_URL;
        char *literal = p;
        if (url_component(&p, 0) != ']')
            return AMQP_STATUS_BAD_URL;
        parsed->host = literal;
        char *after = p;
        d = url_component(&p, 1);
        if (after[0] != '\0')
            return AMQP_STATUS_BAD_URL;
    } else if (host[0] != '\0') {
        parsed->host = host;
    }
    if (d == ':') {
        port = p;
        d = url_component(&p, 1);
    }
    if (d == '/') {
        char *vhost = p;
        d = url_component(&p, 1);
        if (d != '\0')
            return AMQP_STATUS_BAD_URL;
        parsed->vhost = vhost;
    } else if (d != '\0') {
        return AMQP_STATUS_BAD_URL;
    }
    if (port != NULL) {
        char *end;
        long v = strtol(port, &end, 10);
        if (end == port || *end != '\0' || v < 0 || v > 65535)
            return AMQP_STATUS_BAD_URL;
        parsed->port = (int)v;
    }
    return AMQP_STATUS_OK;
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
