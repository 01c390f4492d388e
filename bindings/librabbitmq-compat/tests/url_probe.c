/*
 * amqp_parse_url on a fixed corpus: the URLs of rabbitmq-c's test_parse_url plus tens of
 * thousands built from URL fragments by a seeded generator (the same on every run). Prints one
 * line per URL; url_probe.sh runs it on the real librabbitmq and on the compat library and
 * compares. No broker needed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <amqp.h>

static const char *const fixed[] = {
    "amqp://user:pass@host:10000/vhost", "amqp://user%61:%61pass@ho%61st:10000/v%2fhost", "amqp://",
    "amqps://", "amqp://:@/", "amqp://user@", "amqp://user:pass@", "amqp://host", "amqp://:10000",
    "amqp:///vhost", "amqp://host/", "amqp://host/%2f", "amqp://[::1]", "amqp://[::1]:100",
    "amqp://host/blah", "amqp://[::1]/blah", "amqp://user:pass@[::1]:100", "http://www.rabbitmq.com",
    "amqp://foo:bar:baz", "amqp://foo[::1]", "amqp://foo:[::1]", "amqp://[::1]foo", "amqp://foo:1000xyz",
    "amqp://foo:1000000", "amqp://foo/bar/baz", "amqp://foo%1", "amqp://foo%1x", "amqp://foo%xy",
    "AMQP://host", "amqp:/host", "amqp:", "", "amqp://host:", "amqp://host:-1", "amqp://host:+5",
    "amqp://host: 5", "amqp://host:65535", "amqp://host:65536", "amqp://host:0", "amqp://host:007",
    "amqp://[::1", "amqp://[]", "amqp://[::1]@host", "amqp://u@[::1]", "amqp://u@[::1]x", "amqp://@",
    "amqp://@@", "amqp://u:p:q@h", "amqp://u@h@i", "amqp://h/v@x", "amqp://h/v:x", "amqp://h/v?x",
    "amqp://h?x", "amqp://h#x", "amqp://h/v#x", "amqp://h%00x", "amqp://h%7f", "amqp://h%80",
    "amqp://h%ff", "amqp://h% 1", "amqp://h%+1", "amqp://h%-1", "amqp://h%0x", "amqp://h%0", "amqp://%",
    "amqp://h/%", "amqp://h/%2", "amqp://h/%2F", "amqp://u%40:p%3a@h", "amqp://h:1%30", "amqp://h]",
    "amqps://h:5671/x", "amqp://user:pass@host:10000/vhost/",
};

static const char *const parts[] = {
    "", "u", "host", "h", ":", ":", "@", "@", "/", "/", "[", "]", "::1", "[::1]", "%2f", "%61", "%",
    "%1", "%zz", "%7f", "%80", "% 1", "%+1", "%-1", "%0x", "%00", "?", "#", "100", "65536", "1000000",
    "x1", "vh", "0", "-", "+", " ",
};

static void probe(const char *url)
{
    char *s = strdup(url);
    struct amqp_connection_info ci;
    memset(&ci, 0, sizeof ci);
    int rc = amqp_parse_url(s, &ci);
    if (rc != AMQP_STATUS_OK)
        printf("%s -> error %d\n", url, rc);
    else
        printf("%s -> user '%s' password '%s' host '%s' port %d vhost '%s' ssl %d\n", url, ci.user,
               ci.password, ci.host, ci.port, ci.vhost, ci.ssl);
    free(s);
}

int main(void)
{
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        probe(fixed[i]);
    uint32_t x = 12345;
    char url[256];
    size_t np = sizeof parts / sizeof *parts;
    for (int n = 0; n < 40000; n++) {
        x = x * 1103515245u + 12345u;
        strcpy(url, (x >> 16) & 1 ? "amqps://" : "amqp://");
        int count = 1 + (int)((x >> 8) % 7);
        for (int k = 0; k < count; k++) {
            x = x * 1103515245u + 12345u;
            strcat(url, parts[(x >> 16) % np]);
        }
        probe(url);
    }
    return 0;
}
