/*
 * librabbitmq compatibility layer: amqp_login / amqp_login_with_properties. The socket's settings
 * and the login arguments become swamqp connection options, the engine connects (TLS included),
 * and the negotiated limits, the broker's properties and the capabilities the program asked for
 * are kept; a failure is reported as librabbitmq reports it.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"

/* ---- login ---------------------------------------------------------------------------------- */
/* The broker's connection.start properties, kept for amqp_get_server_properties. */
static void load_server_properties(amqp_connection_state_t c)
{
    size_t n = 0;
    swamqp_connection_server_properties(c->sw, NULL, 0, &n, NULL); /* asks for the size */
    void *encoded = n ? malloc(n) : NULL;
    if (encoded == NULL)
        return;
    if (swamqp_connection_server_properties(c->sw, encoded, n, &n, NULL) == SWAMQP_OK) {
        amqp_bytes_t bytes = {n, encoded};
        size_t offset = 0;
        if (amqp_decode_table(bytes, &c->server_props_pool, &c->server_properties, &offset) != AMQP_STATUS_OK)
            c->server_properties = (amqp_table_t){0, NULL};
    }
    free(encoded);
}

static int key_is(const amqp_bytes_t *k, const char *name)
{
    size_t n = strlen(name);
    return k->len == n && memcmp(k->bytes, name, n) == 0;
}

/* librabbitmq 0.11 advertises only the capabilities authentication_failure_close and
 * exchange_exchange_bindings, plus those the program adds in a "capabilities" table of its login
 * properties. The engine always advertises consumer_cancel_notify and connection.blocked, so the
 * broker sends basic.cancel and connection.blocked/unblocked that a librabbitmq program would
 * never get; they become frames only when the program asked for them. */
static void read_capabilities(amqp_connection_state_t c, const amqp_table_t *properties)
{
    for (int i = 0; i < properties->num_entries; i++) {
        const amqp_table_entry_t *e = &properties->entries[i];
        if (!key_is(&e->key, "capabilities") || e->value.kind != AMQP_FIELD_KIND_TABLE)
            continue;
        const amqp_table_t *caps = &e->value.value.table;
        for (int j = 0; j < caps->num_entries; j++) {
            const amqp_table_entry_t *k = &caps->entries[j];
            int on = k->value.kind == AMQP_FIELD_KIND_BOOLEAN && k->value.value.boolean;
            if (key_is(&k->key, "consumer_cancel_notify"))
                c->cap_cancel_notify = on;
            else if (key_is(&k->key, "connection.blocked"))
                c->cap_blocked = on;
        }
    }
}

static amqp_rpc_reply_t do_login(amqp_connection_state_t c, char const *vhost, int channel_max, int frame_max,
                                 int heartbeat, const amqp_table_t *properties, amqp_sasl_method_enum method,
                                 va_list ap)
{
    swamqp_connection_options o;
    swamqp_error err;
    memset(&err, 0, sizeof err);
    if (c == NULL) {
        amqp_rpc_reply_t r = {AMQP_RESPONSE_LIBRARY_EXCEPTION, {0, NULL}, AMQP_STATUS_INVALID_PARAMETER};
        return r;
    }
    amqp_socket_t *s = c->socket;
    if (s == NULL || s->fd < 0) {
        compat_reply_library(c, AMQP_STATUS_SOCKET_CLOSED);
        return c->reply;
    }
    if (c->sw != NULL) {
        compat_reply_library(c, AMQP_STATUS_UNEXPECTED_STATE);
        return c->reply;
    }
    if (channel_max < 0 || channel_max > 65535 || frame_max < 0 || heartbeat < 0 || heartbeat > 65535) {
        compat_reply_library(c, AMQP_STATUS_INVALID_PARAMETER);
        return c->reply;
    }
    swamqp_connection_options_init(&o);
    o.host = s->host;
    o.port = (uint16_t)s->port;
    o.socket_fd = s->fd;
    o.vhost = vhost ? vhost : "/";
    o.heartbeat = (uint16_t)heartbeat;
    o.channel_max = (uint16_t)channel_max; /* 0: as many as the broker allows */
    o.frame_max = frame_max == 0 ? AMQP_DEFAULT_FRAME_SIZE : (uint32_t)(frame_max < 4096 ? 4096 : frame_max);
    if (c->has_handshake_timeout) {
        uint32_t ms;
        if (compat_timeout_to_ms(&c->handshake_tv, &ms))
            o.connect_timeout_ms = ms ? ms : 1;
    }
    if (method == AMQP_SASL_METHOD_PLAIN) {
        o.user = va_arg(ap, const char *);
        o.password = va_arg(ap, const char *);
        o.auth_mechanism = SWAMQP_AUTH_PLAIN;
    } else if (method == AMQP_SASL_METHOD_EXTERNAL) {
        (void)va_arg(ap, const char *); /* the identity: RabbitMQ takes it from the certificate */
        o.auth_mechanism = SWAMQP_AUTH_EXTERNAL;
    } else {
        compat_reply_library(c, AMQP_STATUS_BROKER_UNSUPPORTED_SASL_METHOD);
        return c->reply;
    }
    char name[256];
    if (properties != NULL) {
        for (int i = 0; i < properties->num_entries; i++) {
            const amqp_table_entry_t *e = &properties->entries[i];
            if (e->key.len == 15 && memcmp(e->key.bytes, "connection_name", 15) == 0 &&
                (e->value.kind == AMQP_FIELD_KIND_UTF8 || e->value.kind == AMQP_FIELD_KIND_BYTES) &&
                e->value.value.bytes.len < sizeof name) {
                memcpy(name, e->value.value.bytes.bytes, e->value.value.bytes.len);
                name[e->value.value.bytes.len] = '\0';
                o.connection_name = name;
            }
        }
        empty_amqp_pool(&c->props_pool);
        amqp_table_clone(properties, &c->client_properties, &c->props_pool);
        read_capabilities(c, properties);
    }
    if (s->tls) {
        o.tls = true;
        o.tls_ca_file = s->cacert;
        o.tls_cert_file = s->cert;
        o.tls_key_file = s->key;
        o.tls_key_password = s->key_password;
        o.tls_insecure_skip_verify = !s->verify_peer;
        o.tls_insecure_skip_hostname_check = !s->verify_hostname;
    }
    swamqp_connection *sw = NULL;
    int rc = swamqp_connection_create(&o, &sw, &err);
    if (rc == SWAMQP_OK) {
        s->handed = 1;
        rc = swamqp_connection_open(sw, &err);
        /* From here on the connection owns the socket (also on failure, it was handed over at
           create); keep the number for amqp_get_sockfd but never close it ourselves. */
        if (rc != SWAMQP_OK) {
            swamqp_connection_free(sw);
            sw = NULL;
        }
    }
    if (rc != SWAMQP_OK) {
        if (rc == SWAMQP_ERR_TLS) {
            /* librabbitmq's finer TLS statuses, from the engine's OpenSSL verify result */
            int st = AMQP_STATUS_SSL_CONNECTION_FAILED;
            if (strstr(err.message, "hostname mismatch") || strstr(err.message, "Hostname mismatch") ||
                strstr(err.message, "IP address mismatch"))
                st = AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED;
            else if (strstr(err.message, "certificate verify failed"))
                st = AMQP_STATUS_SSL_PEER_VERIFY_FAILED;
            compat_reply_library(c, st);
        } else if (rc == SWAMQP_ERR_AUTH && err.origin != SWAMQP_ORIGIN_BROKER) {
            /* librabbitmq reports a refused login as a closed connection */
            compat_reply_library(c, AMQP_STATUS_CONNECTION_CLOSED);
        } else {
            if (err.origin == SWAMQP_ORIGIN_BROKER)
                err.channel = 0;
            compat_reply_from_sw(c, rc, &err);
        }
        return c->reply;
    }
    c->sw = sw;
    compat_readiness_start(c);
    uint16_t cm = 0, hb = 0;
    uint32_t fm = 0;
    swamqp_connection_tune(sw, &cm, &fm, &hb);
    c->channel_max = cm;
    c->frame_max = fm;
    c->heartbeat = hb;
    load_server_properties(c);
    compat_reply_ok(c, AMQP_CONNECTION_OPEN_OK_METHOD, NULL);
    return c->reply;
}

amqp_rpc_reply_t amqp_login(amqp_connection_state_t state, char const *vhost, int channel_max, int frame_max,
                            int heartbeat, amqp_sasl_method_enum sasl_method, ...)
{
    va_list ap;
    va_start(ap, sasl_method);
    amqp_rpc_reply_t r = do_login(state, vhost, channel_max, frame_max, heartbeat, NULL, sasl_method, ap);
    va_end(ap);
    return r;
}

amqp_rpc_reply_t amqp_login_with_properties(amqp_connection_state_t state, char const *vhost, int channel_max,
                                            int frame_max, int heartbeat, const amqp_table_t *properties,
                                            amqp_sasl_method_enum sasl_method, ...)
{
    va_list ap;
    va_start(ap, sasl_method);
    amqp_rpc_reply_t r = do_login(state, vhost, channel_max, frame_max, heartbeat, properties, sasl_method, ap);
    va_end(ap);
    return r;
}
