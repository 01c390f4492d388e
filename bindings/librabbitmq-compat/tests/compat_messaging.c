/* compat_programs scenarios: messages published, got, consumed and confirmed; RPC over reply
 * queues; transactions and bindings; the generic method API. */
#include "compat_programs.h"

void producer_consumer(const char *url, const char *prefix)
{
    char q[256];
    snprintf(q, sizeof q, "%s.work", prefix);
    amqp_connection_state_t c = connect_to(url);
    declare(c, q);
    amqp_table_entry_t e[16], inner[1];
    amqp_field_value_t arr[2];
    for (int i = 0; i < 50; i++) {
        amqp_basic_properties_t p;
        memset(&p, 0, sizeof p);
        p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_HEADERS_FLAG |
                   AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_PRIORITY_FLAG | AMQP_BASIC_TIMESTAMP_FLAG |
                   AMQP_BASIC_APP_ID_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG;
        p.content_type = amqp_cstring_bytes("text/plain");
        p.delivery_mode = 2;
        p.priority = (uint8_t)(i % 10);
        p.timestamp = 1700000000u + (uint64_t)i;
        p.app_id = amqp_cstring_bytes("compat_programs");
        p.type = amqp_cstring_bytes("test");
        p.correlation_id = amqp_cstring_bytes("corr");
        char mid[32], body[64];
        snprintf(mid, sizeof mid, "id-%d", i);
        p.message_id = amqp_cstring_bytes(mid);
        p.headers = rich_headers(e, arr, inner);
        snprintf(body, sizeof body, "body %d", i);
        check_status(amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(q), 0, 0, &p,
                                        amqp_cstring_bytes(body)),
                     "basic.publish");
    }
    /* a large body, split into several frames */
    size_t big = 300000;
    char *large = malloc(big);
    for (size_t i = 0; i < big; i++)
        large[i] = (char)('a' + i % 26);
    amqp_bytes_t lb = {big, large};
    check_status(amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(q), 0, 0, NULL, lb), "publish large");
    /* basic.get + amqp_read_message */
    amqp_rpc_reply_t r = amqp_basic_get(c, 1, amqp_cstring_bytes(q), 0);
    check_reply(r, "basic.get");
    if (r.reply.id != AMQP_BASIC_GET_OK_METHOD)
        fail("basic.get: empty");
    amqp_basic_get_ok_t *g = r.reply.decoded;
    printf("get: tag %llu redelivered %d left %u\n", (unsigned long long)g->delivery_tag, g->redelivered,
           g->message_count);
    uint64_t get_tag = g->delivery_tag;
    amqp_message_t m;
    check_reply(amqp_read_message(c, 1, &m, 0), "read_message");
    printf("get body: %.*s;", (int)m.body.len, (char *)m.body.bytes);
    print_props(&m.properties);
    amqp_destroy_message(&m);
    check_status(amqp_basic_ack(c, 1, get_tag, 0), "ack get");
    amqp_maybe_release_buffers(c);

    /* consumer: amqp_consume_message */
    amqp_basic_qos(c, 1, 0, 10, 0);
    check_reply(amqp_get_rpc_reply(c), "basic.qos");
    amqp_basic_consume_ok_t *ok = amqp_basic_consume(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes("ctag-1"), 0,
                                                     0, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "basic.consume");
    printf("consumer tag: %.*s\n", (int)ok->consumer_tag.len, (char *)ok->consumer_tag.bytes);
    for (int i = 1; i < 51; i++) {
        amqp_envelope_t env;
        amqp_maybe_release_buffers(c);
        struct timeval tv = {10, 0};
        check_reply(amqp_consume_message(c, &env, &tv, 0), "consume_message");
        if (i < 50 || env.message.body.len < 1000) {
            printf("deliver ch %u tag %llu ctag %.*s rk-matches %d body %.*s;", env.channel,
                   (unsigned long long)env.delivery_tag, (int)env.consumer_tag.len, (char *)env.consumer_tag.bytes,
                   env.routing_key.len == strlen(q) && memcmp(env.routing_key.bytes, q, strlen(q)) == 0,
                   (int)env.message.body.len, (char *)env.message.body.bytes);
            if (i < 3)
                print_props(&env.message.properties);
            else
                printf(" priority=%u\n", env.message.properties.priority);
        } else {
            int same = env.message.body.len == big && memcmp(env.message.body.bytes, large, big) == 0;
            printf("deliver large: %zu bytes, intact %d\n", env.message.body.len, same);
        }
        check_status(amqp_basic_ack(c, 1, env.delivery_tag, 0), "ack");
        amqp_destroy_envelope(&env);
    }
    /* nothing more: a short timeout */
    amqp_envelope_t env;
    struct timeval tv = {0, 200000};
    amqp_rpc_reply_t t = amqp_consume_message(c, &env, &tv, 0);
    printf("after last: type %d error %s\n", t.reply_type, amqp_error_string2(t.library_error));
    amqp_basic_cancel(c, 1, amqp_cstring_bytes("ctag-1"));
    check_reply(amqp_get_rpc_reply(c), "basic.cancel");
    free(large);
    delete_queue(c, q);
    disconnect(c);
}

void rpc(const char *url, const char *prefix)
{
    char q[256];
    snprintf(q, sizeof q, "%s.rpc", prefix);
    amqp_connection_state_t server = connect_to(url);
    amqp_connection_state_t client = connect_to(url);
    declare(server, q);
    amqp_basic_consume(server, 1, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(server), "server consume");
    amqp_queue_declare_ok_t *rq = amqp_queue_declare(client, 1, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(client), "reply queue");
    amqp_bytes_t reply_to = amqp_bytes_malloc_dup(rq->queue);
    printf("reply queue server-named: %d\n", reply_to.len > 8 && memcmp(reply_to.bytes, "amq.gen-", 8) == 0);
    amqp_basic_consume(client, 1, reply_to, amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(client), "client consume");
    for (int i = 0; i < 5; i++) {
        char corr[32], body[32];
        snprintf(corr, sizeof corr, "req-%d", i);
        snprintf(body, sizeof body, "%d", i * 7);
        amqp_basic_properties_t p;
        memset(&p, 0, sizeof p);
        p._flags = AMQP_BASIC_REPLY_TO_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
        p.reply_to = reply_to;
        p.correlation_id = amqp_cstring_bytes(corr);
        p.content_type = amqp_cstring_bytes("text/plain");
        check_status(amqp_basic_publish(client, 1, amqp_empty_bytes, amqp_cstring_bytes(q), 0, 0, &p,
                                        amqp_cstring_bytes(body)), "request");
        /* the server answers */
        amqp_envelope_t req;
        amqp_maybe_release_buffers(server);
        check_reply(amqp_consume_message(server, &req, NULL, 0), "server consume_message");
        char in[32] = {0}, out[64];
        memcpy(in, req.message.body.bytes, req.message.body.len < 31 ? req.message.body.len : 31);
        snprintf(out, sizeof out, "square(%s)=%d", in, atoi(in) * atoi(in));
        amqp_basic_properties_t rp;
        memset(&rp, 0, sizeof rp);
        rp._flags = AMQP_BASIC_CORRELATION_ID_FLAG;
        rp.correlation_id = req.message.properties.correlation_id;
        check_status(amqp_basic_publish(server, 1, amqp_empty_bytes, req.message.properties.reply_to, 0, 0, &rp,
                                        amqp_cstring_bytes(out)), "reply");
        amqp_destroy_envelope(&req);
        /* the client reads its answer */
        amqp_envelope_t ans;
        amqp_maybe_release_buffers(client);
        check_reply(amqp_consume_message(client, &ans, NULL, 0), "client consume_message");
        printf("rpc %.*s -> %.*s\n", (int)ans.message.properties.correlation_id.len,
               (char *)ans.message.properties.correlation_id.bytes, (int)ans.message.body.len,
               (char *)ans.message.body.bytes);
        amqp_destroy_envelope(&ans);
    }
    amqp_bytes_free(reply_to);
    delete_queue(server, q);
    disconnect(client);
    disconnect(server);
}

void confirms(const char *url, const char *prefix)
{
    char q[256];
    snprintf(q, sizeof q, "%s.confirms", prefix);
    amqp_connection_state_t c = connect_to(url);
    declare(c, q);
    amqp_confirm_select(c, 1);
    check_reply(amqp_get_rpc_reply(c), "confirm.select");
    int n = 200;
    for (int i = 0; i < n; i++)
        check_status(amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(q), 0, 0, NULL,
                                        amqp_cstring_bytes("confirmed")), "publish");
    uint64_t acked = 0;
    int frames = 0;
    while (acked < (uint64_t)n) {
        amqp_frame_t f;
        struct timeval tv = {10, 0};
        check_status(amqp_simple_wait_frame_noblock(c, &f, &tv), "wait ack");
        if (f.frame_type != AMQP_FRAME_METHOD || f.payload.method.id != AMQP_BASIC_ACK_METHOD)
            fail("expected basic.ack, got %s", amqp_method_name(f.payload.method.id));
        amqp_basic_ack_t *a = f.payload.method.decoded;
        if (a->delivery_tag <= acked || (!a->multiple && a->delivery_tag != acked + 1))
            fail("ack out of order: %llu after %llu", (unsigned long long)a->delivery_tag, (unsigned long long)acked);
        acked = a->delivery_tag;
        frames++;
        amqp_maybe_release_buffers(c);
    }
    printf("confirmed %llu publishes (in at least one ack frame: %d)\n", (unsigned long long)acked, frames >= 1);
    /* mandatory publish to nowhere: basic.return, then the ack */
    check_status(amqp_basic_publish(c, 1, amqp_cstring_bytes("amq.direct"), amqp_cstring_bytes("no-such-route"),
                                    1, 0, NULL, amqp_cstring_bytes("returned body")), "mandatory publish");
    amqp_frame_t f;
    check_status(amqp_simple_wait_frame(c, &f), "wait return");
    if (f.frame_type != AMQP_FRAME_METHOD || f.payload.method.id != AMQP_BASIC_RETURN_METHOD)
        fail("expected basic.return");
    amqp_basic_return_t *ret = f.payload.method.decoded;
    printf("returned: %u %.*s\n", ret->reply_code, (int)ret->reply_text.len, (char *)ret->reply_text.bytes);
    amqp_message_t m;
    check_reply(amqp_read_message(c, f.channel, &m, 0), "read returned message");
    printf("returned body: %.*s\n", (int)m.body.len, (char *)m.body.bytes);
    amqp_destroy_message(&m);
    check_status(amqp_simple_wait_frame(c, &f), "wait ack of return");
    printf("then: %s tag %llu\n", amqp_method_name(f.payload.method.id),
           (unsigned long long)((amqp_basic_ack_t *)f.payload.method.decoded)->delivery_tag);
    delete_queue(c, q);
    disconnect(c);
}

void tx_returns(const char *url, const char *prefix)
{
    char q[256];
    snprintf(q, sizeof q, "%s.tx", prefix);
    amqp_connection_state_t c = connect_to(url);
    declare(c, q);
    amqp_exchange_declare(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes("fanout"), 0, 0, 0, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "exchange.declare");
    amqp_queue_bind(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes(q), amqp_cstring_bytes("any"), amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "queue.bind");
    amqp_tx_select(c, 1);
    check_reply(amqp_get_rpc_reply(c), "tx.select");
    check_status(amqp_basic_publish(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes("x"), 0, 0, NULL,
                                    amqp_cstring_bytes("rolled back")), "publish 1");
    amqp_tx_rollback(c, 1);
    check_reply(amqp_get_rpc_reply(c), "tx.rollback");
    check_status(amqp_basic_publish(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes("x"), 0, 0, NULL,
                                    amqp_cstring_bytes("committed")), "publish 2");
    amqp_tx_commit(c, 1);
    check_reply(amqp_get_rpc_reply(c), "tx.commit");
    amqp_queue_purge_ok_t *p = amqp_queue_purge(c, 1, amqp_cstring_bytes(q));
    check_reply(amqp_get_rpc_reply(c), "queue.purge");
    printf("purged after tx: %u\n", p->message_count);
    amqp_queue_unbind(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes(q), amqp_cstring_bytes("any"), amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "queue.unbind");
    amqp_exchange_bind(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes("amq.fanout"), amqp_empty_bytes, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "exchange.bind");
    amqp_exchange_unbind(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes("amq.fanout"), amqp_empty_bytes, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "exchange.unbind");
    amqp_exchange_delete(c, 1, amqp_cstring_bytes(q), 0);
    check_reply(amqp_get_rpc_reply(c), "exchange.delete");
    amqp_basic_recover(c, 1, 1);
    check_reply(amqp_get_rpc_reply(c), "basic.recover");
    /* nack and reject through basic.get */
    amqp_tx_commit(c, 1);
    check_reply(amqp_get_rpc_reply(c), "tx.commit 2");
    delete_queue(c, q);
    printf("tx, bindings, recover: ok\n");
    disconnect(c);
}

/* The generic method API: amqp_simple_rpc_decoded, amqp_send_method + amqp_simple_wait_method. */
void generic(const char *url, const char *prefix)
{
    char q[256];
    snprintf(q, sizeof q, "%s.generic", prefix);
    amqp_connection_state_t c = connect_to(url);
    amqp_queue_declare_t qd;
    memset(&qd, 0, sizeof qd);
    qd.queue = amqp_cstring_bytes(q);
    qd.durable = 1;
    qd.arguments = amqp_empty_table;
    amqp_queue_declare_ok_t *ok = amqp_simple_rpc_decoded(c, 1, AMQP_QUEUE_DECLARE_METHOD, AMQP_QUEUE_DECLARE_OK_METHOD, &qd);
    check_reply(amqp_get_rpc_reply(c), "simple_rpc queue.declare");
    printf("declare-ok: name matches %d, %u messages\n", ok && ok->queue.len == strlen(q), ok ? ok->message_count : 0);
    for (int i = 0; i < 2; i++)
        check_status(amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(q), 0, 0, NULL,
                                        amqp_cstring_bytes(i ? "second" : "first")), "publish");
    amqp_basic_get_t get;
    memset(&get, 0, sizeof get);
    get.queue = amqp_cstring_bytes(q);
    get.no_ack = 1;
    check_status(amqp_send_method(c, 1, AMQP_BASIC_GET_METHOD, &get), "send basic.get");
    amqp_method_t m;
    check_status(amqp_simple_wait_method(c, 1, AMQP_BASIC_GET_OK_METHOD, &m), "wait get-ok");
    amqp_basic_get_ok_t *g = m.decoded;
    printf("get-ok: tag %llu left %u\n", (unsigned long long)g->delivery_tag, g->message_count);
    amqp_message_t msg;
    check_reply(amqp_read_message(c, 1, &msg, 0), "read_message");
    printf("body: %.*s\n", (int)msg.body.len, (char *)msg.body.bytes);
    amqp_destroy_message(&msg);
    amqp_queue_purge_t pu;
    memset(&pu, 0, sizeof pu);
    pu.queue = amqp_cstring_bytes(q);
    check_status(amqp_send_method(c, 1, AMQP_QUEUE_PURGE_METHOD, &pu), "send queue.purge");
    check_status(amqp_simple_wait_method(c, 1, AMQP_QUEUE_PURGE_OK_METHOD, &m), "wait purge-ok");
    printf("purge-ok: %u\n", ((amqp_queue_purge_ok_t *)m.decoded)->message_count);
    amqp_basic_qos_t qos;
    memset(&qos, 0, sizeof qos);
    qos.prefetch_count = 5;
    amqp_method_number_t qos_ok[] = {AMQP_BASIC_QOS_OK_METHOD, 0};
    check_reply(amqp_simple_rpc(c, 1, AMQP_BASIC_QOS_METHOD, qos_ok, &qos), "simple_rpc basic.qos");
    printf("qos-ok\n");
    /* a broker error through the generic path */
    char missing[300];
    snprintf(missing, sizeof missing, "%s.missing", q);
    memset(&qd, 0, sizeof qd);
    qd.queue = amqp_cstring_bytes(missing);
    qd.passive = 1;
    qd.arguments = amqp_empty_table;
    amqp_method_number_t decl_ok[] = {AMQP_QUEUE_DECLARE_OK_METHOD, 0};
    amqp_rpc_reply_t r = amqp_simple_rpc(c, 1, AMQP_QUEUE_DECLARE_METHOD, decl_ok, &qd);
    printf("passive declare: type %d method %s", r.reply_type, amqp_method_name(r.reply.id));
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        printf(" code %u\n", ((amqp_channel_close_t *)r.reply.decoded)->reply_code);
        amqp_channel_close_ok_t close_ok;
        check_status(amqp_send_method(c, 1, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok), "close-ok");
    } else {
        printf("\n");
    }
    amqp_channel_open(c, 1);
    check_reply(amqp_get_rpc_reply(c), "reopen");
    amqp_queue_delete_t qdel;
    memset(&qdel, 0, sizeof qdel);
    qdel.queue = amqp_cstring_bytes(q);
    check_status(amqp_send_method(c, 1, AMQP_QUEUE_DELETE_METHOD, &qdel), "send queue.delete");
    check_status(amqp_simple_wait_method(c, 1, AMQP_QUEUE_DELETE_OK_METHOD, &m), "wait delete-ok");
    printf("delete-ok: %u\n", ((amqp_queue_delete_ok_t *)m.decoded)->message_count);
    disconnect(c);
}
