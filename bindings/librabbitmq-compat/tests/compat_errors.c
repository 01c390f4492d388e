/* compat_programs scenarios: channel and connection errors from the broker, library errors,
 * logins (heartbeats, a wrong password, failed socket opens) and TLS. */
#include "compat_programs.h"

void errors(const char *url, const char *prefix)
{
    char q[256];
    snprintf(q, sizeof q, "%s.missing", prefix);
    amqp_connection_state_t c = connect_to(url);
    amqp_queue_declare(c, 1, amqp_cstring_bytes(q), 1, 0, 0, 0, amqp_empty_table);
    amqp_rpc_reply_t r = amqp_get_rpc_reply(c);
    printf("passive declare: type %d method %s", r.reply_type, amqp_method_name(r.reply.id));
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_t *m = r.reply.decoded;
        printf(" code %u class %u method %u\n", m->reply_code, m->class_id, m->method_id);
        amqp_channel_close_ok_t close_ok;
        check_status(amqp_send_method(c, 1, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok), "close-ok");
    } else {
        printf("\n");
    }
    /* the channel number is usable again */
    amqp_channel_open(c, 1);
    check_reply(amqp_get_rpc_reply(c), "reopen channel 1");
    /* a second channel with a high number */
    amqp_channel_open(c, 7);
    check_reply(amqp_get_rpc_reply(c), "open channel 7");
    amqp_exchange_declare(c, 7, amqp_cstring_bytes("amq.direct"), amqp_cstring_bytes("topic"), 0, 1, 0, 0,
                          amqp_empty_table);
    r = amqp_get_rpc_reply(c);
    printf("redeclare amq.direct as topic: type %d method %s code %u\n", r.reply_type, amqp_method_name(r.reply.id),
           r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION ? ((amqp_channel_close_t *)r.reply.decoded)->reply_code : 0);
    /* channel 1 still works */
    amqp_queue_declare_ok_t *ok = amqp_queue_declare(c, 1, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(c), "declare on channel 1");
    printf("channel 1 still open: %d\n", ok != NULL);
    /* an empty basic.get */
    r = amqp_basic_get(c, 1, ok->queue, 1);
    check_reply(r, "get empty");
    printf("empty get: %s\n", amqp_method_name(r.reply.id));
    printf("error strings: %s | %s | %s\n", amqp_error_string2(AMQP_STATUS_TIMEOUT),
           amqp_error_string2(AMQP_STATUS_SSL_ERROR), amqp_error_string2(AMQP_STATUS_CONNECTION_CLOSED));
    printf("version ok: %d\n", amqp_version_number() == AMQP_VERSION && strcmp(amqp_version(), AMQP_VERSION_STRING) == 0);
    /* bad URL */
    char bad[] = "http://nope";
    struct amqp_connection_info ci;
    printf("bad url: %s\n", amqp_error_string2(amqp_parse_url(bad, &ci)));
    /* table clone */
    amqp_table_entry_t e[16], inner[1];
    amqp_field_value_t arr[2];
    amqp_table_t t = rich_headers(e, arr, inner), copy;
    amqp_pool_t pool;
    init_amqp_pool(&pool, 4096);
    check_status(amqp_table_clone(&t, &copy, &pool), "table_clone");
    printf("clone: ");
    print_table(&copy, 0);
    printf("\n");
    empty_amqp_pool(&pool);
    /* a publish to a missing exchange: the broker closes the channel asynchronously; publishing
       still "succeeds", and the next call on the channel reports the close */
    amqp_channel_open(c, 3);
    check_reply(amqp_get_rpc_reply(c), "open channel 3");
    char x[300];
    snprintf(x, sizeof x, "%s.no-such-exchange", prefix);
    printf("publish to missing exchange: %s\n",
           amqp_error_string2(amqp_basic_publish(c, 3, amqp_cstring_bytes(x), amqp_cstring_bytes("k"), 0, 0, NULL,
                                                 amqp_cstring_bytes("lost"))));
    struct timespec pause = {0, 300000000};
    nanosleep(&pause, NULL);
    printf("publish again: %s\n",
           amqp_error_string2(amqp_basic_publish(c, 3, amqp_cstring_bytes(x), amqp_cstring_bytes("k"), 0, 0, NULL,
                                                 amqp_cstring_bytes("lost"))));
    amqp_queue_declare(c, 3, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
    r = amqp_get_rpc_reply(c);
    printf("next call on the channel: type %d method %s code %u\n", r.reply_type, amqp_method_name(r.reply.id),
           r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD
               ? ((amqp_channel_close_t *)r.reply.decoded)->reply_code : 0);
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION) {
        amqp_channel_close_ok_t close_ok;
        check_status(amqp_send_method(c, 3, AMQP_CHANNEL_CLOSE_OK_METHOD, &close_ok), "close-ok 3");
    }
    disconnect(c);
}

/* A connection-level error during a call (unknown exchange type: 503 COMMAND_INVALID), then what
 * every later call reports. */
void connection_error(const char *url, const char *prefix)
{
    char x[256];
    snprintf(x, sizeof x, "%s.badtype", prefix);
    amqp_connection_state_t c = connect_to(url);
    amqp_exchange_declare(c, 1, amqp_cstring_bytes(x), amqp_cstring_bytes("no-such-type"), 0, 0, 0, 0,
                          amqp_empty_table);
    amqp_rpc_reply_t r = amqp_get_rpc_reply(c);
    printf("bad exchange type: type %d method %s", r.reply_type, amqp_method_name(r.reply.id));
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        amqp_connection_close_t *m = r.reply.decoded;
        printf(" code %u class %u method %u text %.*s\n", m->reply_code, m->class_id, m->method_id,
               (int)m->reply_text.len, (char *)m->reply_text.bytes);
        amqp_connection_close_ok_t close_ok;
        printf("close-ok: %s\n", amqp_error_string2(amqp_send_method(c, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &close_ok)));
    } else {
        printf("\n");
    }
    /* What later calls report depends, with librabbitmq, on whether the broker has dropped the
       socket yet (a publish may still "succeed"); the compat layer fails them at once. Only the
       deterministic part is compared. */
    amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c);
}

/* Login: negotiated limits for several heartbeat requests, a wrong password, failed socket opens. */
void login(const char *url, const char *prefix)
{
    (void)prefix;
    int hbs[] = {0, 5, 600};
    struct amqp_connection_info ci;
    char *u = strdup(url);
    check_status(amqp_parse_url(u, &ci), "amqp_parse_url");
    for (int i = 0; i < 3; i++) {
        amqp_connection_state_t c = amqp_new_connection();
        amqp_socket_t *s = amqp_tcp_socket_new(c);
        check_status(amqp_socket_open(s, ci.host, ci.port), "socket open");
        amqp_rpc_reply_t r = amqp_login(c, ci.vhost, 0, 131072, hbs[i], AMQP_SASL_METHOD_PLAIN, ci.user, ci.password);
        printf("heartbeat %d: login %d channel_max %d frame_max %d heartbeat %d\n", hbs[i], r.reply_type,
               amqp_get_channel_max(c), amqp_get_frame_max(c), amqp_get_heartbeat(c));
        check_reply(amqp_connection_close(c, AMQP_REPLY_SUCCESS), "connection.close");
        amqp_destroy_connection(c);
    }
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *s = amqp_tcp_socket_new(c);
    check_status(amqp_socket_open(s, ci.host, ci.port), "socket open");
    amqp_rpc_reply_t r = amqp_login(c, ci.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, ci.user, "wrong password");
    printf("wrong password: type %d library_error %s method %s", r.reply_type, amqp_error_string2(r.library_error),
           r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION ? amqp_method_name(r.reply.id) : "-");
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CONNECTION_CLOSE_METHOD)
        printf(" code %u", ((amqp_connection_close_t *)r.reply.decoded)->reply_code);
    printf("\n");
    amqp_destroy_connection(c);
    c = amqp_new_connection();
    s = amqp_tcp_socket_new(c);
    printf("closed port: %s\n", amqp_error_string2(amqp_socket_open(s, "127.0.0.1", 1)));
    printf("unknown host: %s\n", amqp_error_string2(amqp_socket_open(s, "no-such-host.invalid", 5672)));
    amqp_destroy_connection(c);
    free(u);
}

/* TLS (URL = AMQPS_URL, certificates in $SWIFTAMQP_TLS_DIR): PLAIN with the CA and host name
 * checks, EXTERNAL with a client certificate and a round trip, and a wrong CA refused (where it is
 * refused differs: socket open in librabbitmq, login in the compat layer; only the outcome is
 * printed). */
static int tls_try(const char *url, const char *dir, const char *ca, int external, const char *q)
{
    struct amqp_connection_info ci;
    char *u = strdup(url);
    check_status(amqp_parse_url(u, &ci), "amqp_parse_url");
    char cacert[1024], cert[1024], key[1024];
    snprintf(cacert, sizeof cacert, "%s/%s", dir, ca);
    snprintf(cert, sizeof cert, "%s/client.pem", dir);
    snprintf(key, sizeof key, "%s/client.key", dir);
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *s = amqp_ssl_socket_new(c);
    if (s == NULL)
        fail("amqp_ssl_socket_new");
    check_status(amqp_ssl_socket_set_cacert(s, cacert), "set_cacert");
    if (external == 1)
        check_status(amqp_ssl_socket_set_key(s, cert, key), "set_key");
    if (external == 2) { /* the key from memory */
        FILE *kf = fopen(key, "rb");
        if (kf == NULL)
            fail("cannot read %s", key);
        char pem[8192];
        size_t n = fread(pem, 1, sizeof pem, kf);
        fclose(kf);
        printf("  set_key_buffer with garbage: %s\n",
               amqp_error_string2(amqp_ssl_socket_set_key_buffer(s, cert, "not a key", 9)));
        check_status(amqp_ssl_socket_set_key_buffer(s, cert, pem, n), "set_key_buffer");
        memset(pem, 0, sizeof pem);
    }
    amqp_ssl_socket_set_verify_peer(s, 1);
    amqp_ssl_socket_set_verify_hostname(s, 1);
    int ok = 0;
    if (amqp_socket_open(s, ci.host, ci.port) == AMQP_STATUS_OK) {
        amqp_rpc_reply_t r = external ? amqp_login(c, ci.vhost, 0, 131072, 0, AMQP_SASL_METHOD_EXTERNAL, "guest")
                                      : amqp_login(c, ci.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, ci.user,
                                                   ci.password);
        ok = r.reply_type == AMQP_RESPONSE_NORMAL;
    }
    if (ok && q != NULL) {
        amqp_channel_open(c, 1);
        check_reply(amqp_get_rpc_reply(c), "channel.open");
        amqp_queue_declare(c, 1, amqp_cstring_bytes(q), 0, 0, 1, 1, amqp_empty_table);
        check_reply(amqp_get_rpc_reply(c), "queue.declare");
        check_status(amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(q), 0, 0, NULL,
                                        amqp_cstring_bytes("over tls")), "publish");
        amqp_rpc_reply_t r = amqp_basic_get(c, 1, amqp_cstring_bytes(q), 1);
        check_reply(r, "basic.get");
        amqp_message_t m;
        check_reply(amqp_read_message(c, 1, &m, 0), "read_message");
        printf("  round trip: %.*s\n", (int)m.body.len, (char *)m.body.bytes);
        amqp_destroy_message(&m);
    }
    if (ok)
        check_reply(amqp_connection_close(c, AMQP_REPLY_SUCCESS), "connection.close");
    amqp_destroy_connection(c);
    free(u);
    return ok;
}

void tls(const char *url, const char *prefix)
{
    const char *dir = getenv("SWIFTAMQP_TLS_DIR");
    if (dir == NULL || !*dir)
        fail("SWIFTAMQP_TLS_DIR is not set");
    char q[256];
    snprintf(q, sizeof q, "%s.tls", prefix);
    printf("plain login, CA and host name verified: %d\n", tls_try(url, dir, "ca.pem", 0, NULL));
    printf("external login with a client certificate: %d\n", tls_try(url, dir, "ca.pem", 1, q));
    printf("external login, the client key given as a buffer: %d\n", tls_try(url, dir, "ca.pem", 2, q));
    printf("another CA: connected %d\n", tls_try(url, dir, "other-ca.pem", 0, NULL));
}
