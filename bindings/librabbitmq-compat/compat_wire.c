/*
 * librabbitmq's frame-level functions: amqp_handle_input (a frame decoder over bytes the program
 * read itself), amqp_send_frame, amqp_send_header and amqp_tune_connection.
 *
 * Until amqp_login the socket is the program's: frames and the protocol header are encoded with
 * the codec (compat_codec.c) and written to it, and amqp_handle_input decodes what the program
 * reads from amqp_get_sockfd, so a program can drive a handshake by hand as with librabbitmq.
 * From amqp_login on swiftamqp's I/O thread owns the socket: amqp_send_frame then maps a method
 * frame onto amqp_send_method, and a basic.publish method frame, its header frame and its body
 * frames onto one amqp_basic_publish once the body is complete; heartbeat frames are the engine's
 * business and accepted without sending anything.
 */
#include "compat.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define FRAME_HEADER_SIZE 7
#define FRAME_END_SIZE 1
/* The frame_type amqp_handle_input gives the broker's protocol header (private in librabbitmq,
   but its value is the ABI: the header's first byte). */
#define PSEUDOFRAME_PROTOCOL_HEADER 'A'

enum { IN_IDLE = 0, IN_INITIAL, IN_HEADER, IN_BODY }; /* librabbitmq's decoder states */

void compat_wire_init(amqp_connection_state_t c)
{
    c->in_state = IN_INITIAL;
    c->in_target = 8; /* a protocol header, or the start of a frame */
    init_amqp_pool(&c->in_pool, 4096);
}

/* A basic.publish whose content frames amqp_send_frame is collecting. */
struct compat_content {
    amqp_channel_t channel;
    int have_header;
    amqp_bytes_t exchange, routing_key;
    amqp_boolean_t mandatory, immediate;
    amqp_basic_properties_t properties;
    uint64_t body_size;
    unsigned char *body;
    size_t received;
    amqp_pool_t pool; /* exchange, routing key and properties */
    struct compat_content *next;
};

static void content_free(compat_content *p)
{
    empty_amqp_pool(&p->pool);
    free(p->body);
    free(p);
}

void compat_wire_free(amqp_connection_state_t c)
{
    while (c->contents) {
        compat_content *next = c->contents->next;
        content_free(c->contents);
        c->contents = next;
    }
    empty_amqp_pool(&c->in_pool);
    c->in_frame = NULL;
}

static compat_content **content_of(amqp_connection_state_t c, amqp_channel_t ch)
{
    compat_content **p = &c->contents;
    while (*p && (*p)->channel != ch)
        p = &(*p)->next;
    return p;
}

static void content_drop(compat_content **slot)
{
    compat_content *p = *slot;
    *slot = p->next;
    content_free(p);
}

/* ---- amqp_handle_input ---------------------------------------------------------------------- */
static uint16_t d16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t d32(const unsigned char *p) { return (uint32_t)d16(p) << 16 | d16(p + 2); }
static uint64_t d64(const unsigned char *p) { return (uint64_t)d32(p) << 32 | d32(p + 4); }

static void return_to_idle(amqp_connection_state_t c)
{
    empty_amqp_pool(&c->in_pool); /* a frame not handed out (malformed) */
    c->in_frame = NULL;
    c->in_offset = 0;
    c->in_target = FRAME_HEADER_SIZE;
    c->in_state = IN_IDLE;
}

/* Copies what fits of `data` into the frame being read; returns how many bytes that was. */
static size_t take(amqp_connection_state_t c, amqp_bytes_t *data)
{
    size_t n = c->in_target - c->in_offset;
    if (data->len < n)
        n = data->len;
    unsigned char *into = c->in_frame ? c->in_frame : c->in_header;
    memcpy(into + c->in_offset, data->bytes, n);
    c->in_offset += n;
    data->bytes = (char *)data->bytes + n;
    data->len -= n;
    return n;
}

/* The complete frame in c->in_frame into `out`; its memory joins the connection pool (body
 * frames point into it, as librabbitmq's do), so it is not copied. */
static int decode_frame(amqp_connection_state_t c, amqp_frame_t *out)
{
    unsigned char *kept = c->in_frame;
    size_t size = c->in_target;
    if (kept[size - 1] != AMQP_FRAME_END)
        return AMQP_STATUS_BAD_AMQP_DATA;
    c->in_frame = NULL;
    if (compat_pool_take(&c->pool, &c->in_pool) != 0)
        return AMQP_STATUS_NO_MEMORY; /* the frame's block was freed, not adopted */
    out->frame_type = kept[0];
    out->channel = d16(kept + 1);
    const size_t payload = size - FRAME_HEADER_SIZE - FRAME_END_SIZE;
    unsigned char *p = kept + FRAME_HEADER_SIZE;
    switch (out->frame_type) {
    case AMQP_FRAME_METHOD: {
        if (payload < 4)
            return AMQP_STATUS_BAD_AMQP_DATA;
        out->payload.method.id = d32(p);
        amqp_bytes_t args = {payload - 4, p + 4};
        return amqp_decode_method(out->payload.method.id, &c->pool, args, &out->payload.method.decoded);
    }
    case AMQP_FRAME_HEADER: {
        if (payload < 12)
            return AMQP_STATUS_BAD_AMQP_DATA;
        out->payload.properties.class_id = d16(p);
        out->payload.properties.body_size = d64(p + 4);
        amqp_bytes_t props = {payload - 12, p + 12};
        out->payload.properties.raw = props;
        return amqp_decode_properties(out->payload.properties.class_id, &c->pool, props,
                                      &out->payload.properties.decoded);
    }
    case AMQP_FRAME_BODY:
        out->payload.body_fragment.len = payload;
        out->payload.body_fragment.bytes = p;
        return AMQP_STATUS_OK;
    case AMQP_FRAME_HEARTBEAT:
        return AMQP_STATUS_OK;
    default:
        out->frame_type = 0; /* ignored, as librabbitmq ignores frame types it does not know */
        return AMQP_STATUS_OK;
    }
}

int amqp_handle_input(amqp_connection_state_t c, amqp_bytes_t received_data, amqp_frame_t *decoded_frame)
{
    if (c == NULL || decoded_frame == NULL || (received_data.len > 0 && received_data.bytes == NULL))
        return AMQP_STATUS_INVALID_PARAMETER;
    decoded_frame->frame_type = 0; /* nothing complete yet, or an ignored frame */
    if (received_data.len == 0)
        return AMQP_STATUS_OK;
    if (c->in_state == IN_INITIAL && c->sw != NULL && c->in_offset == 0) {
        /* amqp_login read the broker's protocol header already */
        c->in_state = IN_IDLE;
        c->in_target = FRAME_HEADER_SIZE;
    }
    if (c->in_state == IN_IDLE)
        c->in_state = IN_HEADER;
    size_t consumed = take(c, &received_data);
    if (c->in_offset < c->in_target)
        return (int)consumed;
    if (c->in_state == IN_INITIAL) {
        if (memcmp(c->in_header, "AMQP", 4) == 0) {
            decoded_frame->frame_type = PSEUDOFRAME_PROTOCOL_HEADER;
            decoded_frame->channel = 0;
            decoded_frame->payload.protocol_header.transport_high = c->in_header[4];
            decoded_frame->payload.protocol_header.transport_low = c->in_header[5];
            decoded_frame->payload.protocol_header.protocol_version_major = c->in_header[6];
            decoded_frame->payload.protocol_header.protocol_version_minor = c->in_header[7];
            return_to_idle(c);
            return (int)consumed;
        }
        c->in_state = IN_HEADER; /* not a protocol header: the start of a frame */
    }
    if (c->in_state == IN_HEADER) {
        uint32_t size = d32(c->in_header + 3);
        if (size >= INT32_MAX)
            return AMQP_STATUS_BAD_AMQP_DATA;
        size_t target = (size_t)size + FRAME_HEADER_SIZE + FRAME_END_SIZE;
        if ((size_t)c->frame_max < target)
            return AMQP_STATUS_BAD_AMQP_DATA;
        c->in_frame = amqp_pool_alloc(&c->in_pool, target);
        if (c->in_frame == NULL)
            return AMQP_STATUS_NO_MEMORY;
        /* the header may have read one byte past a 7-byte frame header (the INITIAL state's 8) */
        memcpy(c->in_frame, c->in_header, c->in_offset);
        c->in_target = target;
        c->in_state = IN_BODY;
        consumed += take(c, &received_data);
        if (c->in_offset < c->in_target)
            return (int)consumed;
    }
    int st = decode_frame(c, decoded_frame);
    return_to_idle(c);
    return st < 0 ? st : (int)consumed;
}

/* ---- before amqp_login: the program's own socket -------------------------------------------- */
static int raw_socket(amqp_connection_state_t c)
{
    if (c->sw != NULL || c->socket == NULL || c->socket->fd < 0 || c->socket->handed)
        return -1;
    return c->socket->fd;
}

static int send_all(int fd, const void *bytes, size_t len)
{
    const char *p = bytes;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return AMQP_STATUS_SOCKET_ERROR;
        p += n;
        len -= (size_t)n;
    }
    return AMQP_STATUS_OK;
}

static void e16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)(v >> 8); p[1] = (unsigned char)v; }
static void e32(unsigned char *p, uint32_t v) { e16(p, (uint16_t)(v >> 16)); e16(p + 2, (uint16_t)v); }
static void e64(unsigned char *p, uint64_t v) { e32(p, (uint32_t)(v >> 32)); e32(p + 4, (uint32_t)v); }

/* Encodes `frame` as librabbitmq does (into a frame_max buffer) and writes it to `fd`. */
static int write_frame(amqp_connection_state_t c, int fd, const amqp_frame_t *frame)
{
    size_t cap = c->frame_max >= 4096 ? c->frame_max : 4096;
    unsigned char *out = malloc(cap);
    if (out == NULL)
        return AMQP_STATUS_NO_MEMORY;
    out[0] = frame->frame_type;
    e16(out + 1, frame->channel);
    unsigned char *p = out + FRAME_HEADER_SIZE;
    amqp_bytes_t room = {cap - FRAME_HEADER_SIZE - FRAME_END_SIZE, p};
    size_t payload = 0;
    int st = AMQP_STATUS_OK;
    switch (frame->frame_type) {
    case AMQP_FRAME_BODY:
        payload = frame->payload.body_fragment.len;
        if (payload > room.len)
            st = AMQP_STATUS_BAD_AMQP_DATA;
        else if (payload)
            memcpy(p, frame->payload.body_fragment.bytes, payload);
        break;
    case AMQP_FRAME_METHOD: {
        e32(p, frame->payload.method.id);
        amqp_bytes_t args = {room.len - 4, p + 4};
        st = amqp_encode_method(frame->payload.method.id, frame->payload.method.decoded, args);
        payload = st >= 0 ? (size_t)st + 4 : 0;
        break;
    }
    case AMQP_FRAME_HEADER: {
        e16(p, frame->payload.properties.class_id);
        e16(p + 2, 0); /* weight */
        e64(p + 4, frame->payload.properties.body_size);
        amqp_bytes_t props = {room.len - 12, p + 12};
        st = amqp_encode_properties(frame->payload.properties.class_id, frame->payload.properties.decoded, props);
        payload = st >= 0 ? (size_t)st + 12 : 0;
        break;
    }
    case AMQP_FRAME_HEARTBEAT:
        break;
    default:
        st = AMQP_STATUS_INVALID_PARAMETER;
        break;
    }
    if (st >= 0) {
        e32(out + 3, (uint32_t)payload);
        out[FRAME_HEADER_SIZE + payload] = AMQP_FRAME_END;
        st = send_all(fd, out, payload + FRAME_HEADER_SIZE + FRAME_END_SIZE);
    }
    free(out);
    return st;
}

int amqp_send_header(amqp_connection_state_t c)
{
    static const unsigned char header[8] = {'A', 'M', 'Q', 'P', 0, AMQP_PROTOCOL_VERSION_MAJOR,
                                            AMQP_PROTOCOL_VERSION_MINOR, AMQP_PROTOCOL_VERSION_REVISION};
    if (c == NULL)
        return AMQP_STATUS_INVALID_PARAMETER;
    if (c->sw != NULL)
        return AMQP_STATUS_UNEXPECTED_STATE; /* amqp_login sent it; a second one ends the connection */
    int fd = raw_socket(c);
    if (fd < 0 || c->socket->tls)
        return AMQP_STATUS_SOCKET_ERROR; /* no socket open (TLS is set up by amqp_login) */
    return send_all(fd, header, sizeof header);
}

/* ---- after amqp_login: onto the typed calls ------------------------------------------------- */
int compat_wire_start_publish(amqp_connection_state_t c, amqp_channel_t ch, const amqp_basic_publish_t *m)
{
    compat_content **slot = content_of(c, ch);
    if (*slot)
        content_drop(slot); /* a publish without its content: the broker would end the connection */
    compat_content *p = calloc(1, sizeof *p);
    if (p == NULL)
        return AMQP_STATUS_NO_MEMORY;
    init_amqp_pool(&p->pool, 512);
    p->channel = ch;
    p->exchange = compat_pool_dup(&p->pool, m->exchange.bytes, m->exchange.len);
    p->routing_key = compat_pool_dup(&p->pool, m->routing_key.bytes, m->routing_key.len);
    p->mandatory = m->mandatory;
    p->immediate = m->immediate;
    if ((m->exchange.len && !p->exchange.bytes) || (m->routing_key.len && !p->routing_key.bytes)) {
        content_free(p);
        return AMQP_STATUS_NO_MEMORY;
    }
    p->next = c->contents;
    c->contents = p;
    return AMQP_STATUS_OK;
}

static int publish_content(amqp_connection_state_t c, compat_content **slot)
{
    compat_content *p = *slot;
    amqp_bytes_t body = {p->received, p->body};
    int st = amqp_basic_publish(c, p->channel, p->exchange, p->routing_key, p->mandatory, p->immediate,
                                &p->properties, body);
    content_drop(slot);
    return st;
}

static int content_header(amqp_connection_state_t c, const amqp_frame_t *f)
{
    compat_content **slot = content_of(c, f->channel);
    if (*slot == NULL || (*slot)->have_header)
        return AMQP_STATUS_UNEXPECTED_STATE; /* a header frame needs a basic.publish before it */
    if (f->payload.properties.class_id != AMQP_BASIC_CLASS)
        return AMQP_STATUS_UNKNOWN_CLASS;
    compat_content *p = *slot;
    if (f->payload.properties.decoded) {
        int st = compat_props_clone(f->payload.properties.decoded, &p->properties, &p->pool);
        if (st) {
            content_drop(slot);
            return st;
        }
    }
    p->have_header = 1;
    p->body_size = f->payload.properties.body_size;
    return p->body_size == 0 ? publish_content(c, slot) : AMQP_STATUS_OK;
}

static int content_body(amqp_connection_state_t c, const amqp_frame_t *f)
{
    compat_content **slot = content_of(c, f->channel);
    if (*slot == NULL || !(*slot)->have_header)
        return AMQP_STATUS_UNEXPECTED_STATE; /* a body frame needs a header frame before it */
    compat_content *p = *slot;
    size_t len = f->payload.body_fragment.len;
    if (len == 0)
        return AMQP_STATUS_OK;
    if (f->payload.body_fragment.bytes == NULL || len > p->body_size - p->received) {
        content_drop(slot); /* more than the header announced */
        return AMQP_STATUS_BAD_AMQP_DATA;
    }
    unsigned char *grown = realloc(p->body, p->received + len);
    if (grown == NULL) {
        content_drop(slot);
        return AMQP_STATUS_NO_MEMORY;
    }
    p->body = grown;
    memcpy(p->body + p->received, f->payload.body_fragment.bytes, len);
    p->received += len;
    return p->received == p->body_size ? publish_content(c, slot) : AMQP_STATUS_OK;
}

int amqp_send_frame(amqp_connection_state_t c, amqp_frame_t const *frame)
{
    if (c == NULL || frame == NULL)
        return AMQP_STATUS_INVALID_PARAMETER;
    int fd = raw_socket(c);
    if (fd >= 0 && !c->socket->tls)
        return write_frame(c, fd, frame);
    if (c->sw == NULL)
        return AMQP_STATUS_SOCKET_ERROR;
    switch (frame->frame_type) {
    case AMQP_FRAME_HEARTBEAT:
        return AMQP_STATUS_OK; /* the engine sends heartbeats on its own schedule */
    case AMQP_FRAME_HEADER:
        return content_header(c, frame);
    case AMQP_FRAME_BODY:
        return content_body(c, frame);
    case AMQP_FRAME_METHOD:
        if (frame->payload.method.decoded == NULL)
            return AMQP_STATUS_INVALID_PARAMETER;
        if (frame->payload.method.id == AMQP_BASIC_PUBLISH_METHOD)
            return compat_wire_start_publish(c, frame->channel, frame->payload.method.decoded);
        return amqp_send_method(c, frame->channel, frame->payload.method.id, frame->payload.method.decoded);
    default:
        return AMQP_STATUS_INVALID_PARAMETER;
    }
}

int amqp_tune_connection(amqp_connection_state_t c, int channel_max, int frame_max, int heartbeat)
{
    if (c == NULL || channel_max < 0 || channel_max > 65535 || frame_max <= 0)
        return AMQP_STATUS_INVALID_PARAMETER;
    /* librabbitmq aborts the process unless its decoder is between frames (not before the
       protocol header, not inside a frame) */
    if ((c->in_state == IN_INITIAL && c->sw == NULL) || c->in_offset > 0)
        return AMQP_STATUS_UNEXPECTED_STATE;
    /* What amqp_get_* report and the frame size amqp_handle_input accepts; the engine keeps the
       values it negotiated at login for the socket it owns. */
    c->channel_max = (uint16_t)channel_max;
    c->frame_max = (uint32_t)frame_max;
    c->heartbeat = heartbeat < 0 ? 0 : heartbeat > 65535 ? 65535 : (uint16_t)heartbeat;
    return AMQP_STATUS_OK;
}
