/*
 * librabbitmq compatibility layer: AMQP URLs. amqp_default_connection_info and amqp_parse_url,
 * which parses in place with librabbitmq 0.11's steps and odd corners (compat_parse_url compares
 * the two on 40000 URLs). Written for swiftamqp against the librabbitmq 0.11 headers (ABI only,
 * no librabbitmq code).
 */
#define _GNU_SOURCE
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"

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
