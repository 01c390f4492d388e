/*
 * c_uri: swamqp_parse_url against a table of AMQP URIs (no broker needed).
 *
 * Every row is a URI and either the options it must produce (fields that differ from
 * swamqp_connection_options_init's defaults; all others must keep their defaults) or the word(s) its
 * error message must contain, naming the part that is wrong. Sources of truth: RabbitMQ's URI spec
 * (https://www.rabbitmq.com/docs/uri-spec, with its Appendix A examples), its query parameter page
 * (https://www.rabbitmq.com/docs/uri-query-parameters) and RFC 3986 where the spec defers to it.
 *
 * The same table goes through librabbitmq's amqp_parse_url, which knows user, password, host, port,
 * vhost and ssl but no query: rows marked SAME must agree field for field (or both refuse), rows
 * marked BASE compare the URI without its query, rows marked DIFF record librabbitmq's own result
 * and say why it differs, rows marked NA are not comparable.
 *
 * All failures are collected and printed before the test fails, so one run shows every wrong row.
 */
#include "test_util.h"

#include <amqp.h>
#include <strings.h>

enum rmq_mode {
    SAME, /* librabbitmq agrees: same fields, or both refuse */
    BASE, /* compare librabbitmq on the URI without its "?query" (it has no query parameters) */
    DIFF, /* librabbitmq differs legitimately or is wrong itself: `rmq` is its result ("BAD" or fields) */
    NA    /* not comparable (e.g. an error in the query, which librabbitmq does not read) */
};

typedef struct uri_case {
    const char *url;
    const char *fields; /* valid URI: "key=value|key=value" that differ from the defaults ("" = none) */
    const char *error;  /* malformed URI: a word its error message must contain (case-insensitive;
                           "a|b": one of them) */
    int rmq_mode;
    const char *rmq;    /* DIFF: librabbitmq's result, "BAD" or "key=value|..." (user password host port vhost ssl) */
} uri_case;

#define VALID(u, f, m) {u, f, NULL, m, NULL}
#define BAD(u, e, m) {u, NULL, e, m, NULL}
#define VALID_RMQ(u, f, r) {u, f, NULL, DIFF, r}
#define BAD_RMQ(u, e, r) {u, NULL, e, DIFF, r}

static const uri_case cases[] = {
    /* --- RabbitMQ URI spec, Appendix A (absent components keep the defaults) --- */
    VALID("amqp://user:pass@host:10000/vhost", "user=user|password=pass|host=host|port=10000|vhost=vhost", SAME),
    VALID("amqp://user%61:%61pass@ho%61st:10000/v%2fhost", "user=usera|password=apass|host=hoast|port=10000|vhost=v/host",
          SAME),
    VALID("amqp://", "", SAME),
    VALID("amqp://:@/", "user=|password=|vhost=", SAME),
    VALID("amqp://user@", "user=user", SAME),
    VALID("amqp://user:pass@", "user=user|password=pass", SAME),
    VALID("amqp://host", "host=host", SAME),
    VALID("amqp://:10000", "port=10000", SAME),
    VALID("amqp:///vhost", "vhost=vhost", SAME),
    VALID("amqp://host/", "host=host|vhost=", SAME), /* a bare "/" is the empty vhost, not "/" */
    VALID("amqp://host/%2f", "host=host|vhost=/", SAME),
    VALID("amqp://[::1]", "host=::1", SAME),

    /* --- more valid forms --- */
    VALID("amqp://host/%2F", "host=host|vhost=/", SAME), /* upper-case hex */
    VALID("amqp://[::1]:5673/v", "host=::1|port=5673|vhost=v", SAME),
    VALID("amqp://[fe80::1:2]:65535", "host=fe80::1:2|port=65535", SAME),
    VALID("amqp://1.2.3.4:99/x%20y", "host=1.2.3.4|port=99|vhost=x y", SAME),
    VALID("amqp://u:@h", "user=u|password=|host=h", SAME),   /* empty password is not an absent one */
    VALID("amqp://:p@h", "user=|password=p|host=h", SAME),
    VALID("amqp://us%40er:p%3a%2F%3Fss@h", "user=us@er|password=p:/?ss|host=h", SAME),
    VALID("amqp://ho%3ast", "host=ho:st", SAME),
    VALID("amqp://h:00005672", "host=h", SAME), /* leading zeros: still port 5672 */
    /* UTF-8 octets; librabbitmq refuses every escape of an octet above 0x7f (a signed char). */
    VALID_RMQ("amqp://h/caf%C3%A9", "host=h|vhost=caf\xC3\xA9", "BAD"),
    VALID("amqps://host", "host=host|tls=1|port=5671", SAME),  /* amqps: TLS and port 5671 */
    VALID("amqps://host:1234/%2f", "host=host|tls=1|port=1234|vhost=/", SAME),
    VALID("amqps://[::1]", "host=::1|tls=1|port=5671", SAME),
    /* RFC 3986 3.2.2: user info may hold ':' (only the first separates the password). The RabbitMQ ABNF
     * omits ':' from the password; librabbitmq refuses it. We follow RFC 3986. */
    VALID_RMQ("amqp://u:p:q@h", "user=u|password=p:q|host=h", "BAD"),

    /* --- query parameters (RabbitMQ's URI query parameter page; librabbitmq has none) --- */
    VALID("amqp://h?heartbeat=5&connection_timeout=10000", "host=h|heartbeat=5|connect_timeout_ms=10000", BASE),
    VALID("amqp://h?heartbeat=0", "host=h|heartbeat=0", BASE),
    VALID("amqp://h/v?channel_max=100&frame_max=4096", "host=h|vhost=v|channel_max=100|frame_max=4096", BASE),
    VALID("amqp://h?auth_mechanism=plain", "host=h|auth=1", BASE),
    VALID("amqp://h?auth_mechanism=amqplain", "host=h|auth=2", BASE),
    VALID("amqps://h?auth_mechanism=external", "host=h|tls=1|port=5671|auth=3", BASE),
    VALID("amqps://h?auth_mechanism=EXTERNAL", "host=h|tls=1|port=5671|auth=3", BASE),
    /* The Erlang client treats a repeated auth_mechanism as a list to choose from; one field holds
     * one mechanism here, and the last one given wins. */
    VALID("amqp://h?auth_mechanism=plain&auth_mechanism=amqplain", "host=h|auth=2", BASE),
    VALID("amqps://myhost?cacertfile=/path/to/ca_certificate.pem&certfile=/path/to/client_certificate.pem"
          "&keyfile=/path/to/client_key.pem&verify=verify_peer&server_name_indication=myhost",
          "host=myhost|tls=1|port=5671|ca=/path/to/ca_certificate.pem|cert=/path/to/client_certificate.pem"
          "|key=/path/to/client_key.pem|sni=myhost",
          BASE), /* the page's Example B */
    VALID("amqps://myhost?verify=verify_none", "host=myhost|tls=1|port=5671|skip_verify=1", BASE),
    VALID("amqps://h?server_name_indication=disable", "host=h|tls=1|port=5671|sni=|skip_host=1", BASE),
    VALID("amqps://h?cacertfile=%2Ftmp%2Fmy%20ca.pem", "host=h|tls=1|port=5671|ca=/tmp/my ca.pem", BASE),
    VALID("amqp://h/v?", "host=h|vhost=v", BASE), /* an empty query */
    VALID("amqp://h?heartbeat=5&&channel_max=3", "host=h|heartbeat=5|channel_max=3", BASE), /* an empty pair */
    /* RFC 3986 2.3/6.2.2.2: "%35" is "5" and "%68eartbeat" is "heartbeat". The Erlang client decodes
     * keys and values (uri_string:dissect_query); our parser decodes the file names, so numbers and
     * keys must follow. */
    VALID("amqp://h?heartbeat=%35", "host=h|heartbeat=5", BASE),
    VALID("amqp://h?%68eartbeat=5", "host=h|heartbeat=5", BASE),

    /* --- malformed: the message names the wrong part --- */
    BAD("http://h", "scheme", SAME),
    BAD("amqp:/h", "scheme", SAME),
    BAD("amqp//h", "scheme", SAME),
    BAD("", "scheme", SAME),
    BAD("amqp://host:65536", "port", SAME),
    BAD("amqp://host:99999999999999999999", "port", SAME),
    BAD("amqp://host:12a", "port", SAME),
    BAD("amqp://host:-1", "port", SAME),
    /* IPv6 without brackets: ":1" is no port. librabbitmq reads an empty host and port 1. */
    BAD_RMQ("amqp://::1/", "port", "port=1|vhost="),
    BAD("amqp://%5B::1%5D", "port", SAME),     /* escaped brackets are no brackets */
    BAD("amqp://[::1", "]", SAME),             /* missing ']' */
    BAD("amqp://[::1]x", "IPv6", SAME),        /* text after ']' that is not ":port" */
    BAD("amqp://h/a/b", "vhost", SAME),        /* the vhost is one segment: '/' must be %2f */
    BAD("amqp://h/%zz", "vhost", SAME),        /* bad percent escape */
    BAD("amqp://h/%2", "vhost", SAME),         /* truncated percent escape */
    BAD("amqp://h/%ff", "vhost", SAME),        /* not UTF-8 */
    BAD("amqp://u%zz@h", "user", SAME),
    BAD("amqp://u:p%@h", "password", SAME),
    BAD("amqp://u:secret%g1@h", "password", SAME), /* and the password is not in the message (checked below) */
    BAD("amqp://h%zz", "host", SAME),
    BAD("amqp://h?heartbeat=65536", "heartbeat", NA),
    BAD("amqp://h?heartbeat=-1", "heartbeat", NA),
    BAD("amqp://h?heartbeat=", "heartbeat", NA),
    BAD("amqp://h?heartbeat", "heartbeat", NA),
    BAD("amqp://h?heartbeat=5;channel_max=3", "heartbeat", NA),
    BAD("amqp://h?channel_max=65536", "channel_max", NA),
    BAD("amqp://h?frame_max=4294967296", "frame_max", NA),
    BAD("amqp://h?frame_max=big", "frame_max", NA),
    BAD("amqp://h?connection_timeout=soon", "connection_timeout", NA),
    BAD("amqp://h?auth_mechanism=gssapi", "auth_mechanism", NA),
    BAD("amqps://h?verify=yes", "verify", NA),
    BAD("amqps://h?server_name_indication=", "server_name_indication", NA),
    BAD("amqps://h?keyfile=%zz", "keyfile", NA),
    BAD("amqps://h?cacertfile=", "cacertfile", NA),
    BAD("amqp://h?foo=1", "foo", NA),          /* an unknown parameter is named */
    BAD("amqp://h?=5", "parameter", NA),

    /* --- librabbitmq differs --- */
    /* Port 0 cannot be connected to; librabbitmq takes it. */
    BAD_RMQ("amqp://host:0", "port", "host=host|port=0"),
    /* RFC 3986 port = *DIGIT; librabbitmq's strtol also takes a sign. */
    BAD_RMQ("amqp://h:+5", "port", "host=h|port=5"),
    /* Two ports: librabbitmq silently takes the second. */
    BAD_RMQ("amqp://h:5672:5673", "port", "host=h|port=5673"),

    /* --- what the parser gets wrong today (kept failing until the library is fixed) --- */
    /* A NUL octet cannot be carried by a C string: silently cutting the user to "u" would log in as
     * someone else. librabbitmq cuts it too. */
    BAD_RMQ("amqp://u%00x@h", "user", "user=u|host=h"),
    BAD_RMQ("amqp://guest:pw%00rest@h", "password", "password=pw|host=h"),
    BAD_RMQ("amqp://h/v%00x", "vhost", "host=h|vhost=v"),
    /* "#" starts a fragment (RFC 3986 3.5), which an AMQP URI does not have; it is not part of the host. */
    BAD("amqp://h#frag", "#|fragment", SAME),
    /* "[]" is no IP literal (RFC 3986 3.2.2); librabbitmq takes an empty host. */
    BAD_RMQ("amqp://[]", "IPv6|host", "host="),
    /* Schemes are case-insensitive (RFC 3986 3.1, and quoted strings in the spec's ABNF are
     * case-insensitive by RFC 5234 2.3); librabbitmq compares them case-sensitively. */
    VALID_RMQ("AMQP://h", "host=h", "BAD"),
    VALID_RMQ("Amqps://h", "host=h|tls=1|port=5671", "BAD"),
};

/* ---- expected options ------------------------------------------------------------------- */

typedef struct expected {
    const char *user, *password, *host, *vhost, *ca, *cert, *key, *sni;
    long port, heartbeat, frame_max, channel_max, connect_timeout_ms, auth, tls, skip_verify, skip_host;
    char storage[2048];
} expected;

static int failures;

#define BADROW(c, ...)                                                                                            \
    do {                                                                                                          \
        fprintf(stderr, "FAIL row \"%s\": ", (c)->url);                                                           \
        fprintf(stderr, __VA_ARGS__);                                                                             \
        fputc('\n', stderr);                                                                                      \
        failures++;                                                                                               \
    } while (0)

/** Fills `e` with the defaults of a fresh options struct, then applies "key=value|..." to it. */
static void expectation(const swamqp_connection_options *defaults, const char *spec, expected *e, const char *url)
{
    e->user = defaults->user;
    e->password = defaults->password;
    e->host = defaults->host;
    e->vhost = defaults->vhost;
    e->ca = defaults->tls_ca_file;
    e->cert = defaults->tls_cert_file;
    e->key = defaults->tls_key_file;
    e->sni = defaults->tls_server_name;
    e->port = defaults->port;
    e->heartbeat = defaults->heartbeat;
    e->frame_max = defaults->frame_max;
    e->channel_max = defaults->channel_max;
    e->connect_timeout_ms = defaults->connect_timeout_ms;
    e->auth = defaults->auth_mechanism;
    e->tls = defaults->tls;
    e->skip_verify = defaults->tls_insecure_skip_verify;
    e->skip_host = defaults->tls_insecure_skip_hostname_check;
    snprintf(e->storage, sizeof e->storage, "%s", spec);
    char *save = NULL;
    for (char *item = strtok_r(e->storage, "|", &save); item; item = strtok_r(NULL, "|", &save)) {
        char *eq = strchr(item, '=');
        if (eq == NULL)
            FAILF("table row \"%s\": expectation \"%s\" has no '='", url, item);
        *eq = '\0';
        const char *k = item, *v = eq + 1;
        if (!strcmp(k, "user")) e->user = v;
        else if (!strcmp(k, "password")) e->password = v;
        else if (!strcmp(k, "host")) e->host = v;
        else if (!strcmp(k, "vhost")) e->vhost = v;
        else if (!strcmp(k, "ca")) e->ca = v;
        else if (!strcmp(k, "cert")) e->cert = v;
        else if (!strcmp(k, "key")) e->key = v;
        else if (!strcmp(k, "sni")) e->sni = v;
        else if (!strcmp(k, "port")) e->port = atol(v);
        else if (!strcmp(k, "heartbeat")) e->heartbeat = atol(v);
        else if (!strcmp(k, "frame_max")) e->frame_max = atol(v);
        else if (!strcmp(k, "channel_max")) e->channel_max = atol(v);
        else if (!strcmp(k, "connect_timeout_ms")) e->connect_timeout_ms = atol(v);
        else if (!strcmp(k, "auth")) e->auth = atol(v);
        else if (!strcmp(k, "tls") || !strcmp(k, "ssl")) e->tls = atol(v);
        else if (!strcmp(k, "skip_verify")) e->skip_verify = atol(v);
        else if (!strcmp(k, "skip_host")) e->skip_host = atol(v);
        else FAILF("table row \"%s\": unknown expectation key \"%s\"", url, k);
    }
}

static const char *show(const char *s)
{
    return s ? s : "(NULL)";
}

static bool same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

#define CMP_STR(c, who, name, got, want)                                                                          \
    do {                                                                                                          \
        if (!same_str((got), (want)))                                                                             \
            BADROW(c, "%s: %s is \"%s\", expected \"%s\"", who, name, show(got), show(want));                     \
    } while (0)
#define CMP_NUM(c, who, name, got, want)                                                                          \
    do {                                                                                                          \
        if ((long)(got) != (want))                                                                                \
            BADROW(c, "%s: %s is %ld, expected %ld", who, name, (long)(got), (long)(want));                       \
    } while (0)

/* ---- our parser ------------------------------------------------------------------------- */

static void check_ours(const uri_case *c, const swamqp_connection_options *defaults)
{
    swamqp_connection_options o;
    swamqp_error err;
    swamqp_connection_options_init(&o);
    tu_err_reset(&err);
    int rc = swamqp_parse_url(c->url, &o, &err);
    if (c->error != NULL) {
        if (rc == SWAMQP_OK) {
            BADROW(c, "accepted, expected an error naming \"%s\" (host \"%s\" port %u vhost \"%s\" user \"%s\")",
                   c->error, show(o.host), o.port, show(o.vhost), show(o.user));
            return;
        }
        if (rc != SWAMQP_ERR_INVALID_ARGUMENT)
            BADROW(c, "returned %s, expected SWAMQP_ERR_INVALID_ARGUMENT", swamqp_status_string(rc));
        if (err.status != rc)
            BADROW(c, "error.status %d differs from the returned %d", err.status, rc);
        if (memchr(err.message, '\0', sizeof err.message) == NULL) {
            BADROW(c, "error.message is not NUL-terminated");
            return;
        }
        char words[128];
        bool named = false;
        snprintf(words, sizeof words, "%s", c->error);
        for (char *save = NULL, *w = strtok_r(words, "|", &save); w; w = strtok_r(NULL, "|", &save))
            named = named || strcasestr(err.message, w) != NULL;
        if (!named)
            BADROW(c, "the message does not name \"%s\": \"%s\"", c->error, err.message);
        if (strstr(c->url, "secret") && strstr(err.message, "secret"))
            BADROW(c, "the password appears in the message: \"%s\"", err.message);
        /* Nothing was written on failure. */
        if (memcmp(&o, defaults, sizeof o) != 0)
            BADROW(c, "a failed parse changed the options");
        return;
    }
    if (rc != SWAMQP_OK) {
        BADROW(c, "refused with %s: \"%s\"", swamqp_status_string(rc), tu_err_text(&err));
        return;
    }
    expected e;
    expectation(defaults, c->fields, &e, c->url);
    CMP_STR(c, "ours", "user", o.user, e.user);
    CMP_STR(c, "ours", "password", o.password, e.password);
    CMP_STR(c, "ours", "host", o.host, e.host);
    CMP_STR(c, "ours", "vhost", o.vhost, e.vhost);
    CMP_STR(c, "ours", "tls_ca_file", o.tls_ca_file, e.ca);
    CMP_STR(c, "ours", "tls_cert_file", o.tls_cert_file, e.cert);
    CMP_STR(c, "ours", "tls_key_file", o.tls_key_file, e.key);
    CMP_STR(c, "ours", "tls_server_name", o.tls_server_name, e.sni);
    CMP_NUM(c, "ours", "port", o.port, e.port);
    CMP_NUM(c, "ours", "heartbeat", o.heartbeat, e.heartbeat);
    CMP_NUM(c, "ours", "frame_max", o.frame_max, e.frame_max);
    CMP_NUM(c, "ours", "channel_max", o.channel_max, e.channel_max);
    CMP_NUM(c, "ours", "connect_timeout_ms", o.connect_timeout_ms, e.connect_timeout_ms);
    CMP_NUM(c, "ours", "auth_mechanism", o.auth_mechanism, e.auth);
    CMP_NUM(c, "ours", "tls", o.tls, e.tls);
    CMP_NUM(c, "ours", "tls_insecure_skip_verify", o.tls_insecure_skip_verify, e.skip_verify);
    CMP_NUM(c, "ours", "tls_insecure_skip_hostname_check", o.tls_insecure_skip_hostname_check, e.skip_host);
    /* The members a URL never sets keep their defaults. */
    CMP_STR(c, "ours", "tls_ca_dir", o.tls_ca_dir, defaults->tls_ca_dir);
    CMP_STR(c, "ours", "tls_key_password", o.tls_key_password, defaults->tls_key_password);
    CMP_STR(c, "ours", "tls_ciphers", o.tls_ciphers, defaults->tls_ciphers);
    CMP_STR(c, "ours", "connection_name", o.connection_name, defaults->connection_name);
    CMP_NUM(c, "ours", "tls_ca_certificate_count", o.tls_ca_certificate_count, (long)defaults->tls_ca_certificate_count);
    CMP_NUM(c, "ours", "socket_fd", o.socket_fd, defaults->socket_fd);
    CMP_NUM(c, "ours", "max_message_size", o.max_message_size, (long)defaults->max_message_size);
}

/* ---- librabbitmq ------------------------------------------------------------------------ */

static void check_librabbitmq(const uri_case *c)
{
    if (c->rmq_mode == NA)
        return;
    char url[1024], buf[1024];
    snprintf(url, sizeof url, "%s", c->url);
    if (c->rmq_mode == BASE) {
        char *q = strchr(url, '?');
        if (q)
            *q = '\0';
    }
    /* amqp_parse_url decodes in place and points into its argument: give it a copy. */
    memcpy(buf, url, sizeof buf);
    struct amqp_connection_info info;
    amqp_default_connection_info(&info);
    int rc = amqp_parse_url(buf, &info);

    /* librabbitmq's defaults: guest/guest@localhost:5672, vhost "/", no TLS. */
    const char *want_spec;
    bool want_bad;
    if (c->rmq_mode == DIFF) {
        want_bad = strcmp(c->rmq, "BAD") == 0;
        want_spec = want_bad ? "" : c->rmq;
    } else {
        want_bad = c->error != NULL;
        want_spec = want_bad ? "" : c->fields;
    }
    if (want_bad) {
        if (rc == AMQP_STATUS_OK)
            BADROW(c, "librabbitmq accepted \"%s\" (host \"%s\" port %d vhost \"%s\" user \"%s\"), the table says it refuses it",
                   url, info.host, info.port, info.vhost, info.user);
        return;
    }
    if (rc != AMQP_STATUS_OK) {
        BADROW(c, "librabbitmq refused \"%s\" (%s), the table says it accepts it", url, amqp_error_string2(rc));
        return;
    }
    swamqp_connection_options d;
    swamqp_connection_options_init(&d);
    d.user = "guest";
    d.password = "guest";
    d.host = "localhost";
    d.vhost = "/";
    d.port = 5672;
    d.tls = false;
    expected e;
    expectation(&d, want_spec, &e, c->url);
    CMP_STR(c, "librabbitmq", "user", info.user, e.user);
    CMP_STR(c, "librabbitmq", "password", info.password, e.password);
    CMP_STR(c, "librabbitmq", "host", info.host, e.host);
    CMP_STR(c, "librabbitmq", "vhost", info.vhost, e.vhost);
    CMP_NUM(c, "librabbitmq", "port", info.port, e.port);
    CMP_NUM(c, "librabbitmq", "ssl", info.ssl, e.tls);
}

/* ---- sequences: parsing over options already set ----------------------------------------- */

static void check_sequences(void)
{
    swamqp_connection_options o;
    swamqp_error err;
    static const uri_case seq = {"(sequence checks)", NULL, NULL, NA, NULL};

    /* "over the values already there": amqp:// without a port keeps a port set before... */
    swamqp_connection_options_init(&o);
    o.port = 1234;
    CHECK_OK(swamqp_parse_url("amqp://h", &o, &err), &err);
    CMP_NUM(&seq, "ours", "port kept by amqp://h", o.port, 1234);
    /* ...while amqps:// without a port means 5671. */
    CHECK_OK(swamqp_parse_url("amqps://h", &o, &err), &err);
    CMP_NUM(&seq, "ours", "port after amqps://h", o.port, 5671);

    /* An explicit verify=verify_peer asks for verification: it must not leave a skip set before. */
    swamqp_connection_options_init(&o);
    o.tls_insecure_skip_verify = true;
    CHECK_OK(swamqp_parse_url("amqps://h?verify=verify_peer", &o, &err), &err);
    CMP_NUM(&seq, "ours", "tls_insecure_skip_verify after verify=verify_peer", o.tls_insecure_skip_verify, 0);

    /* Strings stay valid until the next call on the same thread. */
    swamqp_connection_options_init(&o);
    CHECK_OK(swamqp_parse_url("amqp://alice:wonder@rabbit.example:5673/prod", &o, &err), &err);
    char before[256];
    snprintf(before, sizeof before, "%s %s %s %s", o.user, o.password, o.host, o.vhost);
    CMP_STR(&seq, "ours", "strings of the last parse", before, "alice wonder rabbit.example prod");

    /* NULL arguments. */
    CHECK_STATUS(swamqp_parse_url(NULL, &o, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_parse_url("amqp://h", NULL, &err), SWAMQP_ERR_INVALID_ARGUMENT, &err);
    CHECK_STATUS(swamqp_parse_url("amqp://h", &o, NULL), SWAMQP_OK, NULL);
}

int main(void)
{
    swamqp_connection_options defaults;
    swamqp_connection_options_init(&defaults);
    size_t n = sizeof cases / sizeof cases[0];
    size_t valid = 0, malformed = 0, compared = 0;
    for (size_t i = 0; i < n; i++) {
        int before = failures;
        check_ours(&cases[i], &defaults);
        check_librabbitmq(&cases[i]);
        if (cases[i].error)
            malformed++;
        else
            valid++;
        if (cases[i].rmq_mode != NA)
            compared++;
        if (failures == before)
            printf("ok   %s\n", cases[i].url);
    }
    check_sequences();
    printf("c_uri: %zu rows (%zu valid, %zu malformed), %zu compared with librabbitmq: %d failure(s)\n", n, valid,
           malformed, compared, failures);
    if (failures) {
        fprintf(stderr, "c_uri: %d failure(s), see the FAIL lines above\n", failures);
        return 1;
    }
    printf("c_uri: OK\n");
    return 0;
}
