/*
 * amqp_handle_input and amqp_tune_connection without a broker: frames encoded with the library's
 * own codec (a protocol header, methods, a content header, bodies, a heartbeat, a frame type it
 * ignores) are fed whole, in one buffer, and byte by byte; then malformed input (a bad frame end,
 * a frame larger than frame_max, a method it does not know). Prints one line per decoded frame or
 * status; same_on_both.sh runs it on the real librabbitmq and on the compat library and compares.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_ssl_socket.h>

static size_t frame(unsigned char *out, uint8_t type, uint16_t channel, const void *payload, size_t len)
{
    out[0] = type;
    out[1] = (unsigned char)(channel >> 8);
    out[2] = (unsigned char)channel;
    out[3] = (unsigned char)(len >> 24);
    out[4] = (unsigned char)(len >> 16);
    out[5] = (unsigned char)(len >> 8);
    out[6] = (unsigned char)len;
    memcpy(out + 7, payload, len);
    out[7 + len] = AMQP_FRAME_END;
    return len + 8;
}

static size_t method_frame(unsigned char *out, uint16_t channel, amqp_method_number_t id, void *decoded)
{
    unsigned char payload[4096];
    payload[0] = (unsigned char)(id >> 24);
    payload[1] = (unsigned char)(id >> 16);
    payload[2] = (unsigned char)(id >> 8);
    payload[3] = (unsigned char)id;
    amqp_bytes_t room = {sizeof payload - 4, payload + 4};
    int n = amqp_encode_method(id, decoded, room);
    if (n < 0) {
        printf("encode %s: %s\n", amqp_method_name(id), amqp_error_string2(n));
        exit(1);
    }
    return frame(out, AMQP_FRAME_METHOD, channel, payload, (size_t)n + 4);
}

static size_t header_frame(unsigned char *out, uint16_t channel, uint64_t body_size, amqp_basic_properties_t *p)
{
    unsigned char payload[4096] = {0, 60, 0, 0};
    for (int i = 0; i < 8; i++)
        payload[4 + i] = (unsigned char)(body_size >> (56 - 8 * i));
    amqp_bytes_t room = {sizeof payload - 12, payload + 12};
    int n = amqp_encode_properties(AMQP_BASIC_CLASS, p, room);
    if (n < 0) {
        printf("encode properties: %s\n", amqp_error_string2(n));
        exit(1);
    }
    return frame(out, AMQP_FRAME_HEADER, channel, payload, (size_t)n + 12);
}

static void print_frame(const amqp_frame_t *f)
{
    printf("  frame type %d channel %u", f->frame_type, f->channel);
    switch (f->frame_type) {
    case 'A':
        printf(" protocol header %d %d %d %d\n", f->payload.protocol_header.transport_high,
               f->payload.protocol_header.transport_low, f->payload.protocol_header.protocol_version_major,
               f->payload.protocol_header.protocol_version_minor);
        break;
    case AMQP_FRAME_METHOD:
        printf(" %s", amqp_method_name(f->payload.method.id));
        if (f->payload.method.id == AMQP_CONNECTION_START_METHOD) {
            amqp_connection_start_t *m = f->payload.method.decoded;
            printf(" %d.%d mechanisms %.*s properties %d", m->version_major, m->version_minor,
                   (int)m->mechanisms.len, (char *)m->mechanisms.bytes, m->server_properties.num_entries);
        } else if (f->payload.method.id == AMQP_BASIC_DELIVER_METHOD) {
            amqp_basic_deliver_t *m = f->payload.method.decoded;
            printf(" tag %llu exchange '%.*s' key '%.*s'", (unsigned long long)m->delivery_tag,
                   (int)m->exchange.len, (char *)m->exchange.bytes, (int)m->routing_key.len,
                   (char *)m->routing_key.bytes);
        }
        printf("\n");
        break;
    case AMQP_FRAME_HEADER: {
        amqp_basic_properties_t *p = f->payload.properties.decoded;
        printf(" header class %u body %llu raw %zu flags 0x%04x type '%.*s' priority %u\n",
               f->payload.properties.class_id, (unsigned long long)f->payload.properties.body_size,
               f->payload.properties.raw.len, p->_flags, (int)p->content_type.len, (char *)p->content_type.bytes,
               p->priority);
        break;
    }
    case AMQP_FRAME_BODY:
        printf(" body '%.*s'\n", (int)f->payload.body_fragment.len, (char *)f->payload.body_fragment.bytes);
        break;
    default:
        printf("\n");
        break;
    }
}

/* Feeds `data` in pieces of `step` bytes (0: all at once), printing every frame and status. */
static void feed(amqp_connection_state_t c, const unsigned char *data, size_t len, size_t step)
{
    size_t off = 0;
    int calls = 0;
    while (off < len) {
        size_t n = step == 0 || len - off < step ? len - off : step;
        amqp_bytes_t in = {n, (void *)(data + off)};
        amqp_frame_t f;
        int rc = amqp_handle_input(c, in, &f);
        calls++;
        if (rc < 0) {
            printf("  status %s after %zu bytes\n", amqp_error_string2(rc), off);
            return;
        }
        if (rc == 0 && f.frame_type == 0) {
            printf("  no progress at %zu\n", off);
            return;
        }
        if (f.frame_type != 0)
            print_frame(&f);
        off += (size_t)rc;
    }
    printf("  %zu bytes in %d calls\n", len, calls);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    static unsigned char stream[65536];
    size_t len = 0;
    memcpy(stream, "AMQP\0\0\x09\x01", 8);
    len = 8;
    amqp_connection_start_t start;
    memset(&start, 0, sizeof start);
    start.version_major = 0;
    start.version_minor = 9;
    amqp_table_entry_t props[1];
    props[0].key = amqp_cstring_bytes("product");
    props[0].value.kind = AMQP_FIELD_KIND_UTF8;
    props[0].value.value.bytes = amqp_cstring_bytes("probe");
    start.server_properties.num_entries = 1;
    start.server_properties.entries = props;
    start.mechanisms = amqp_cstring_bytes("PLAIN AMQPLAIN");
    start.locales = amqp_cstring_bytes("en_US");
    len += method_frame(stream + len, 0, AMQP_CONNECTION_START_METHOD, &start);
    amqp_basic_deliver_t deliver = {amqp_cstring_bytes("ctag"), 42, 1, amqp_cstring_bytes("ex"),
                                    amqp_cstring_bytes("key")};
    len += method_frame(stream + len, 3, AMQP_BASIC_DELIVER_METHOD, &deliver);
    amqp_basic_properties_t p;
    memset(&p, 0, sizeof p);
    p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_PRIORITY_FLAG;
    p.content_type = amqp_cstring_bytes("text/plain");
    p.priority = 7;
    len += header_frame(stream + len, 3, 11, &p);
    len += frame(stream + len, AMQP_FRAME_BODY, 3, "hello ", 6);
    len += frame(stream + len, AMQP_FRAME_BODY, 3, "world", 5);
    len += frame(stream + len, AMQP_FRAME_HEARTBEAT, 0, "", 0);
    len += frame(stream + len, 9, 5, "xyz", 3); /* a frame type librabbitmq ignores */

    amqp_connection_state_t c = amqp_new_connection();
    printf("new: channel_max %d frame_max %d heartbeat %d\n", amqp_get_channel_max(c), amqp_get_frame_max(c),
           amqp_get_heartbeat(c));
    printf("whole stream:\n");
    feed(c, stream, len, 0);
    amqp_maybe_release_buffers(c);
    amqp_destroy_connection(c);

    c = amqp_new_connection();
    printf("byte by byte:\n");
    feed(c, stream, len, 1);
    amqp_destroy_connection(c);

    c = amqp_new_connection();
    printf("in 5-byte pieces:\n");
    feed(c, stream, len, 5);
    amqp_destroy_connection(c);

    /* malformed input, each on a fresh connection past its protocol header */
    unsigned char bad[256];
    size_t n = frame(bad, AMQP_FRAME_HEARTBEAT, 0, "", 0);
    bad[n - 1] = 0x00;
    c = amqp_new_connection();
    printf("bad frame end:\n");
    feed(c, stream, 8, 0);
    feed(c, bad, n, 0);
    amqp_destroy_connection(c);

    c = amqp_new_connection();
    feed(c, stream, 8, 0); /* librabbitmq accepts tuning only once the protocol header was read */
    printf("tune to frame_max 4096, heartbeat -5, channel_max 10:\n");
    printf("  tune %s\n", amqp_error_string2(amqp_tune_connection(c, 10, 4096, -5)));
    printf("  channel_max %d frame_max %d heartbeat %d\n", amqp_get_channel_max(c), amqp_get_frame_max(c),
           amqp_get_heartbeat(c));
    static unsigned char body[5000];
    memset(body, 'b', sizeof body);
    static unsigned char big[5100];
    n = frame(big, AMQP_FRAME_BODY, 1, body, sizeof body);
    printf("a 5008-byte frame:\n");
    feed(c, big, n, 0);
    amqp_destroy_connection(c);

    c = amqp_new_connection();
    printf("an unknown method:\n");
    unsigned char unknown[] = {0x00, 0x63, 0x00, 0x63};
    n = frame(bad, AMQP_FRAME_METHOD, 1, unknown, sizeof unknown);
    feed(c, stream, 8, 0);
    feed(c, bad, n, 0);
    amqp_destroy_connection(c);

    c = amqp_new_connection();
    /* librabbitmq keeps only 7 of the 8 bytes it read looking for a protocol header, so the
       body's first byte is lost (it reads a 0 there); the compat library keeps it. Only the
       frame's place and size are compared. */
    printf("a frame first, no protocol header:\n");
    n = frame(bad, AMQP_FRAME_BODY, 2, "abc", 3);
    amqp_bytes_t whole = {n, bad};
    amqp_frame_t f;
    int rc = amqp_handle_input(c, whole, &f);
    printf("  consumed %d frame type %d channel %u body length %zu\n", rc, f.frame_type, f.channel,
           f.frame_type == AMQP_FRAME_BODY ? f.payload.body_fragment.len : 0);
    amqp_destroy_connection(c);

    /* OpenSSL engines: refused before OpenSSL is initialized, an unknown engine, none */
    printf("set_ssl_engine before initializing: %s\n", amqp_error_string2(amqp_set_ssl_engine("dynamic")));
    printf("initialize_ssl_library: %s\n", amqp_error_string2(amqp_initialize_ssl_library()));
    printf("set_ssl_engine unknown: %s\n", amqp_error_string2(amqp_set_ssl_engine("no-such-engine")));
    printf("set_ssl_engine NULL: %s\n", amqp_error_string2(amqp_set_ssl_engine(NULL)));
    c = amqp_new_connection();
    amqp_socket_t *tls = amqp_ssl_socket_new(c);
    printf("set_key_engine without an engine: %s\n",
           amqp_error_string2(amqp_ssl_socket_set_key_engine(tls, "/nonexistent.pem", "key-id")));
    amqp_destroy_connection(c);
    printf("done\n");
    return 0;
}
