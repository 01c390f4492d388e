#define _GNU_SOURCE /* memmem */
/* compat_programs scenario raw_frames: the frame-level functions. */
#include "compat_programs.h"

/* Frame-level functions. Before login the socket is the program's: a whole handshake by hand
 * (amqp_send_header, amqp_send_frame, reading amqp_get_sockfd into amqp_handle_input). After
 * login: amqp_send_frame of a method and of a publish's method, header and body frames, a
 * heartbeat frame, and amqp_send_method with nowait set. */
static int read_method(amqp_connection_state_t c, amqp_frame_t *f)
{
    static unsigned char buf[8192];
    static size_t have = 0, at = 0;
    for (;;) {
        while (at < have) {
            amqp_bytes_t in = {have - at, buf + at};
            int n = amqp_handle_input(c, in, f);
            if (n < 0)
                fail("handle_input: %s", amqp_error_string2(n));
            at += (size_t)n;
            if (f->frame_type == AMQP_FRAME_METHOD || f->frame_type == 'A')
                return f->frame_type;
        }
        /* librabbitmq's sockets are non-blocking */
        struct pollfd p = {amqp_get_sockfd(c), POLLIN, 0};
        if (poll(&p, 1, 10000) != 1)
            fail("nothing to read from the socket in 10 s");
        ssize_t got = recv(p.fd, buf, sizeof buf, 0);
        if (got <= 0)
            fail("recv: %zd", got);
        have = (size_t)got;
        at = 0;
    }
}

static void send_method_frame(amqp_connection_state_t c, amqp_channel_t ch, amqp_method_number_t id, void *m)
{
    amqp_frame_t f;
    memset(&f, 0, sizeof f);
    f.frame_type = AMQP_FRAME_METHOD;
    f.channel = ch;
    f.payload.method.id = id;
    f.payload.method.decoded = m;
    check_status(amqp_send_frame(c, &f), amqp_method_name(id));
}

void raw_frames(const char *url, const char *prefix)
{
    struct amqp_connection_info ci;
    char *u = strdup(url);
    check_status(amqp_parse_url(u, &ci), "amqp_parse_url");
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *s = amqp_tcp_socket_new(c);
    check_status(amqp_socket_open(s, ci.host, ci.port), "amqp_socket_open");
    check_status(amqp_send_header(c), "send_header");
    amqp_frame_t f;
    printf("first frame: type %d\n", read_method(c, &f));
    amqp_connection_start_t *start = f.payload.method.decoded;
    printf("%s: %d.%d, PLAIN offered %d\n", amqp_method_name(f.payload.method.id), start->version_major,
           start->version_minor, memmem(start->mechanisms.bytes, start->mechanisms.len, "PLAIN", 5) != NULL);
    char sasl[512];
    int sl = snprintf(sasl, sizeof sasl, "%c%s%c%s", 0, ci.user, 0, ci.password);
    amqp_connection_start_ok_t start_ok = {amqp_empty_table, amqp_cstring_bytes("PLAIN"), {(size_t)sl, sasl},
                                           amqp_cstring_bytes("en_US")};
    send_method_frame(c, 0, AMQP_CONNECTION_START_OK_METHOD, &start_ok);
    read_method(c, &f);
    amqp_connection_tune_t *tune = f.payload.method.decoded;
    printf("%s: frame_max at least 4096 %d\n", amqp_method_name(f.payload.method.id), tune->frame_max >= 4096);
    amqp_connection_tune_ok_t tune_ok = {tune->channel_max, 131072, 0};
    check_status(amqp_send_method(c, 0, AMQP_CONNECTION_TUNE_OK_METHOD, &tune_ok), "send_method tune-ok");
    check_status(amqp_tune_connection(c, tune_ok.channel_max, (int)tune_ok.frame_max, 0), "tune");
    amqp_connection_open_t open = {amqp_cstring_bytes(ci.vhost), amqp_empty_bytes, 0};
    send_method_frame(c, 0, AMQP_CONNECTION_OPEN_METHOD, &open);
    read_method(c, &f);
    printf("%s\n", amqp_method_name(f.payload.method.id));
    amqp_connection_close_t close = {AMQP_REPLY_SUCCESS, amqp_cstring_bytes("bye"), 0, 0};
    send_method_frame(c, 0, AMQP_CONNECTION_CLOSE_METHOD, &close);
    read_method(c, &f);
    printf("%s\n", amqp_method_name(f.payload.method.id));
    amqp_destroy_connection(c);
    free(u);

    char q[256], q2[300];
    snprintf(q, sizeof q, "%s.raw", prefix);
    snprintf(q2, sizeof q2, "%s.nowait", prefix);
    c = connect_to(url);
    /* the broker's connection.start properties */
    amqp_table_t *server = amqp_get_server_properties(c);
    for (int i = 0; i < server->num_entries; i++) {
        amqp_table_entry_t *e = &server->entries[i];
        if (e->key.len == 7 && memcmp(e->key.bytes, "product", 7) == 0 && e->value.kind == AMQP_FIELD_KIND_UTF8)
            printf("server product: %.*s\n", (int)e->value.value.bytes.len, (char *)e->value.value.bytes.bytes);
        if (e->key.len == 12 && memcmp(e->key.bytes, "capabilities", 12) == 0 && e->value.kind == AMQP_FIELD_KIND_TABLE)
            printf("server capabilities: %d entries\n", e->value.value.table.num_entries);
    }
    amqp_queue_declare_t qd;
    memset(&qd, 0, sizeof qd);
    qd.queue = amqp_cstring_bytes(q);
    qd.arguments = amqp_empty_table;
    send_method_frame(c, 1, AMQP_QUEUE_DECLARE_METHOD, &qd);
    amqp_method_t m;
    check_status(amqp_simple_wait_method(c, 1, AMQP_QUEUE_DECLARE_OK_METHOD, &m), "wait declare-ok");
    printf("declare-ok through send_frame: %u messages\n", ((amqp_queue_declare_ok_t *)m.decoded)->message_count);
    amqp_basic_publish_t pub = {0, amqp_empty_bytes, amqp_cstring_bytes(q), 0, 0};
    check_status(amqp_send_method(c, 1, AMQP_BASIC_PUBLISH_METHOD, &pub), "send_method basic.publish");
    amqp_basic_properties_t props;
    memset(&props, 0, sizeof props);
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
    props.content_type = amqp_cstring_bytes("text/x-frames");
    props.message_id = amqp_cstring_bytes("m-1");
    const char *parts[] = {"sent as ", "three ", "body frames"};
    memset(&f, 0, sizeof f);
    f.frame_type = AMQP_FRAME_HEADER;
    f.channel = 1;
    f.payload.properties.class_id = AMQP_BASIC_CLASS;
    f.payload.properties.body_size = strlen(parts[0]) + strlen(parts[1]) + strlen(parts[2]);
    f.payload.properties.decoded = &props;
    check_status(amqp_send_frame(c, &f), "header frame");
    for (int i = 0; i < 3; i++) {
        memset(&f, 0, sizeof f);
        f.frame_type = AMQP_FRAME_BODY;
        f.channel = 1;
        f.payload.body_fragment = amqp_cstring_bytes(parts[i]);
        check_status(amqp_send_frame(c, &f), "body frame");
    }
    memset(&f, 0, sizeof f);
    f.frame_type = AMQP_FRAME_HEARTBEAT;
    check_status(amqp_send_frame(c, &f), "heartbeat frame");
    amqp_rpc_reply_t r;
    for (int tries = 0; tries < 100; tries++) { /* the publish is asynchronous */
        r = amqp_basic_get(c, 1, amqp_cstring_bytes(q), 1);
        check_reply(r, "basic.get");
        if (r.reply.id == AMQP_BASIC_GET_OK_METHOD)
            break;
        usleep(20000);
    }
    if (r.reply.id != AMQP_BASIC_GET_OK_METHOD)
        fail("the message published with send_frame did not arrive");
    amqp_message_t msg;
    check_reply(amqp_read_message(c, 1, &msg, 0), "read_message");
    printf("got: '%.*s' type %.*s id %.*s\n", (int)msg.body.len, (char *)msg.body.bytes,
           (int)msg.properties.content_type.len, (char *)msg.properties.content_type.bytes,
           (int)msg.properties.message_id.len, (char *)msg.properties.message_id.bytes);
    amqp_destroy_message(&msg);
    /* nowait: nothing comes back; a passive declare shows the effect */
    memset(&qd, 0, sizeof qd);
    qd.queue = amqp_cstring_bytes(q2);
    qd.nowait = 1;
    qd.arguments = amqp_empty_table;
    check_status(amqp_send_method(c, 1, AMQP_QUEUE_DECLARE_METHOD, &qd), "declare nowait");
    amqp_queue_bind_t qb = {0, amqp_cstring_bytes(q2), amqp_cstring_bytes("amq.direct"), amqp_cstring_bytes(q2), 1,
                            amqp_empty_table};
    check_status(amqp_send_method(c, 1, AMQP_QUEUE_BIND_METHOD, &qb), "bind nowait");
    check_status(amqp_basic_publish(c, 1, amqp_cstring_bytes("amq.direct"), amqp_cstring_bytes(q2), 0, 0, NULL,
                                    amqp_cstring_bytes("routed")), "publish to amq.direct");
    amqp_queue_declare_ok_t *ok = NULL;
    for (int tries = 0; tries < 100; tries++) {
        ok = amqp_queue_declare(c, 1, amqp_cstring_bytes(q2), 1, 0, 0, 0, amqp_empty_table);
        check_reply(amqp_get_rpc_reply(c), "passive declare");
        if (ok->message_count == 1)
            break;
        usleep(20000);
    }
    printf("nowait queue: %u messages\n", ok->message_count);
    amqp_queue_delete_t del;
    memset(&del, 0, sizeof del);
    del.queue = amqp_cstring_bytes(q2);
    del.nowait = 1;
    check_status(amqp_send_method(c, 1, AMQP_QUEUE_DELETE_METHOD, &del), "delete nowait");
    del.queue = amqp_cstring_bytes(q);
    check_status(amqp_send_method(c, 1, AMQP_QUEUE_DELETE_METHOD, &del), "delete nowait");
    amqp_queue_declare(c, 1, amqp_cstring_bytes(q2), 1, 0, 0, 0, amqp_empty_table);
    r = amqp_get_rpc_reply(c);
    printf("after the nowait delete: reply type %d", r.reply_type);
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD)
        printf(" code %u", ((amqp_channel_close_t *)r.reply.decoded)->reply_code);
    printf("\n");
    /* the channel and connection class through send_frame / send_method */
    amqp_channel_open_t chopen = {amqp_empty_bytes};
    send_method_frame(c, 2, AMQP_CHANNEL_OPEN_METHOD, &chopen);
    check_status(amqp_simple_wait_method(c, 2, AMQP_CHANNEL_OPEN_OK_METHOD, &m), "wait channel.open-ok");
    printf("channel 2: %s\n", amqp_method_name(m.id));
    /* channel.flow active=1: flow-ok (channel 1 was closed by the 404 above) */
    amqp_channel_flow_ok_t *flow = amqp_channel_flow(c, 2, 1);
    check_reply(amqp_get_rpc_reply(c), "channel.flow");
    printf("channel.flow-ok active %d\n", flow ? flow->active : -1);
    amqp_basic_get_ok_t *none = amqp_basic_get(c, 2, amqp_cstring_bytes(q), 1).reply.decoded;
    printf("get on channel 2: %s\n", amqp_method_name(amqp_get_rpc_reply(c).reply.id));
    (void)none;
    amqp_channel_close_t chclose = {AMQP_REPLY_SUCCESS, amqp_cstring_bytes("done"), 0, 0};
    send_method_frame(c, 2, AMQP_CHANNEL_CLOSE_METHOD, &chclose);
    check_status(amqp_simple_wait_method(c, 2, AMQP_CHANNEL_CLOSE_OK_METHOD, &m), "wait channel.close-ok");
    printf("channel 2: %s\n", amqp_method_name(m.id));
    amqp_connection_close_t connclose = {AMQP_REPLY_SUCCESS, amqp_cstring_bytes("bye"), 0, 0};
    check_status(amqp_send_method(c, 0, AMQP_CONNECTION_CLOSE_METHOD, &connclose), "send connection.close");
    check_status(amqp_simple_wait_method(c, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &m), "wait connection.close-ok");
    printf("%s\n", amqp_method_name(m.id));
    check_status(amqp_destroy_connection(c), "destroy");

    /* channel.flow active=0: RabbitMQ does not implement it and closes the connection */
    c = connect_to(url);
    amqp_channel_flow(c, 1, 0);
    r = amqp_get_rpc_reply(c);
    printf("channel.flow active=0: reply type %d", r.reply_type);
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CONNECTION_CLOSE_METHOD)
        printf(" connection.close %u", ((amqp_connection_close_t *)r.reply.decoded)->reply_code);
    printf("\n");
    amqp_destroy_connection(c);
}
