/*
 * Small programs in the style of librabbitmq's examples, compiled once against librabbitmq-dev's
 * headers and linked to librabbitmq.so.4; compat_programs.sh runs the same binary on the real
 * library and on the compat one and compares what it prints.
 *
 *   compat_programs SCENARIO AMQP_URL QUEUE_PREFIX
 *   SCENARIO: producer_consumer | rpc | confirms | errors | tx_returns | connection_error | login | generic | close_keeps | cancel_notify | close_after_error | rpc_timeout | poll_socket | raw_frames | read_message | out_of_memory | rpc_replies | tls (AMQPS_URL)
 *
 * Output is deterministic (no queue names, tags or timings); exit 0 on success, 1 with
 * "FAIL: ..." on stderr.
 *
 * This file has main; the scenarios are in compat_messaging.c, compat_errors.c,
 * compat_channels.c, compat_frames.c and compat_read_message.c, their helpers in compat_common.c
 * (all declared in compat_programs.h).
 */

#include "compat_programs.h"

int main(int argc, char **argv)
{
    if (argc != 4)
        fail("usage: %s producer_consumer|rpc|confirms|errors|tx_returns|connection_error|login|generic|close_keeps|cancel_notify|close_after_error|rpc_timeout|poll_socket|raw_frames|read_message|out_of_memory|rpc_replies|tls AMQP_URL QUEUE_PREFIX", argv[0]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *s = argv[1];
    if (strcmp(s, "producer_consumer") == 0)
        producer_consumer(argv[2], argv[3]);
    else if (strcmp(s, "rpc") == 0)
        rpc(argv[2], argv[3]);
    else if (strcmp(s, "confirms") == 0)
        confirms(argv[2], argv[3]);
    else if (strcmp(s, "errors") == 0)
        errors(argv[2], argv[3]);
    else if (strcmp(s, "tx_returns") == 0)
        tx_returns(argv[2], argv[3]);
    else if (strcmp(s, "tls") == 0)
        tls(argv[2], argv[3]);
    else if (strcmp(s, "generic") == 0)
        generic(argv[2], argv[3]);
    else if (strcmp(s, "login") == 0)
        login(argv[2], argv[3]);
    else if (strcmp(s, "connection_error") == 0)
        connection_error(argv[2], argv[3]);
    else if (strcmp(s, "close_keeps") == 0)
        close_keeps(argv[2], argv[3]);
    else if (strcmp(s, "cancel_notify") == 0)
        cancel_notify(argv[2], argv[3]);
    else if (strcmp(s, "close_after_error") == 0)
        close_after_error(argv[2], argv[3]);
    else if (strcmp(s, "rpc_timeout") == 0)
        rpc_timeout(argv[2], argv[3]);
    else if (strcmp(s, "poll_socket") == 0)
        poll_socket(argv[2], argv[3]);
    else if (strcmp(s, "raw_frames") == 0)
        raw_frames(argv[2], argv[3]);
    else if (strcmp(s, "read_message") == 0)
        read_message_errors(argv[2], argv[3]);
    else if (strcmp(s, "out_of_memory") == 0)
        out_of_memory(argv[2], argv[3]);
    else if (strcmp(s, "rpc_replies") == 0)
        rpc_replies(argv[2], argv[3]);
    else
        fail("unknown scenario %s", s);
    printf("done\n");
    return 0;
}
