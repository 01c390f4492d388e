/*
 * The other side for rabbitmq-c's example programs in the rabbitmqc tests. Always run on the real
 * librabbitmq (rabbitmqc.sh clears LD_LIBRARY_PATH for it), so only the example under test
 * changes library between the two runs.
 *
 *   rabbitmqc_peer URL declare-queue QUEUE      a durable queue
 *   rabbitmqc_peer URL delete-queue QUEUE
 *   rabbitmqc_peer URL delete-queue-if-empty QUEUE   fails while messages wait in it
 *   rabbitmqc_peer URL delete-exchange EXCHANGE
 *   rabbitmqc_peer URL rpc-serve QUEUE READY_FILE
 *       declares the exclusive QUEUE, consumes it, creates READY_FILE, answers one request
 *       (to its reply_to, with its correlation_id) with "reply to: BODY", and exits
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <amqp.h>
#include <amqp_tcp_socket.h>

static void die_reply(amqp_rpc_reply_t r, const char *what)
{
    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        return;
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION)
        fprintf(stderr, "rabbitmqc_peer: %s: %s\n", what, amqp_error_string2(r.library_error));
    else
        fprintf(stderr, "rabbitmqc_peer: %s: broker error (method 0x%08X)\n", what, r.reply.id);
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: rabbitmqc_peer URL declare-queue|delete-queue|delete-exchange|rpc-serve NAME [READY_FILE]\n");
        return 2;
    }
    char *url = strdup(argv[1]);
    const char *cmd = argv[2], *name = argv[3];
    struct amqp_connection_info ci;
    if (amqp_parse_url(url, &ci) != AMQP_STATUS_OK) {
        fprintf(stderr, "rabbitmqc_peer: bad URL\n");
        return 2;
    }
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *s = amqp_tcp_socket_new(c);
    if (s == NULL || amqp_socket_open(s, ci.host, ci.port) != AMQP_STATUS_OK) {
        fprintf(stderr, "rabbitmqc_peer: cannot connect to %s:%d\n", ci.host, ci.port);
        return 1;
    }
    die_reply(amqp_login(c, ci.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, ci.user, ci.password), "login");
    amqp_channel_open(c, 1);
    die_reply(amqp_get_rpc_reply(c), "channel.open");
    if (strcmp(cmd, "declare-queue") == 0) {
        amqp_queue_declare(c, 1, amqp_cstring_bytes(name), 0, 1, 0, 0, amqp_empty_table);
        die_reply(amqp_get_rpc_reply(c), "queue.declare");
    } else if (strcmp(cmd, "delete-queue") == 0) {
        amqp_queue_delete(c, 1, amqp_cstring_bytes(name), 0, 0);
        die_reply(amqp_get_rpc_reply(c), "queue.delete");
    } else if (strcmp(cmd, "delete-queue-if-empty") == 0) {
        amqp_queue_delete(c, 1, amqp_cstring_bytes(name), 0, 1);
        die_reply(amqp_get_rpc_reply(c), "queue.delete if-empty");
    } else if (strcmp(cmd, "delete-exchange") == 0) {
        amqp_exchange_delete(c, 1, amqp_cstring_bytes(name), 0);
        die_reply(amqp_get_rpc_reply(c), "exchange.delete");
    } else if (strcmp(cmd, "rpc-serve") == 0 && argc == 5) {
        amqp_queue_declare(c, 1, amqp_cstring_bytes(name), 0, 0, 1, 0, amqp_empty_table);
        die_reply(amqp_get_rpc_reply(c), "queue.declare");
        amqp_basic_consume(c, 1, amqp_cstring_bytes(name), amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
        die_reply(amqp_get_rpc_reply(c), "basic.consume");
        FILE *ready = fopen(argv[4], "w");
        if (ready == NULL) {
            fprintf(stderr, "rabbitmqc_peer: cannot create %s\n", argv[4]);
            return 1;
        }
        fclose(ready);
        amqp_envelope_t env;
        struct timeval tv = {60, 0};
        die_reply(amqp_consume_message(c, &env, &tv, 0), "waiting for the request");
        amqp_basic_properties_t *rp = &env.message.properties;
        if (!(rp->_flags & AMQP_BASIC_REPLY_TO_FLAG)) {
            fprintf(stderr, "rabbitmqc_peer: the request has no reply_to\n");
            return 1;
        }
        char body[1024];
        int n = snprintf(body, sizeof body, "reply to: %.*s", (int)env.message.body.len,
                         (const char *)env.message.body.bytes);
        amqp_basic_properties_t p;
        memset(&p, 0, sizeof p);
        p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG;
        p.content_type = amqp_cstring_bytes("text/plain");
        p.correlation_id = (rp->_flags & AMQP_BASIC_CORRELATION_ID_FLAG) ? rp->correlation_id : amqp_empty_bytes;
        amqp_bytes_t b = {(size_t)(n < (int)sizeof body ? n : (int)sizeof body - 1), body};
        if (amqp_basic_publish(c, 1, amqp_empty_bytes, rp->reply_to, 0, 0, &p, b) != AMQP_STATUS_OK) {
            fprintf(stderr, "rabbitmqc_peer: reply not sent\n");
            return 1;
        }
        amqp_destroy_envelope(&env);
    } else {
        fprintf(stderr, "rabbitmqc_peer: unknown command %s\n", cmd);
        return 2;
    }
    die_reply(amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS), "channel.close");
    die_reply(amqp_connection_close(c, AMQP_REPLY_SUCCESS), "connection.close");
    amqp_destroy_connection(c);
    free(url);
    return 0;
}
