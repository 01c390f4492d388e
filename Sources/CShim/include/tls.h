#ifndef SWIFTAMQP_TLS_H
#define SWIFTAMQP_TLS_H
/* A thin layer over the system OpenSSL for the transport: context set-up from options, and
 * non-blocking handshake, read and write on a connected socket. Errors come back as text that
 * carries OpenSSL's reason (and the certificate verification result where there is one). */
#include <stddef.h>
#include <stdbool.h>
#include <sys/types.h>

typedef struct swiftamqp_tls_settings {
    const char *ca_file;
    const char *ca_dir;
    const unsigned char *const *ca_der;   /* DER certificates to trust, in memory */
    const size_t *ca_der_lengths;
    size_t ca_der_count;
    const char *cert_file;
    const char *key_file;
    const char *key_password;
    const char *ciphers;
    bool verify_peer;
} swiftamqp_tls_settings;

typedef struct swiftamqp_tls_context swiftamqp_tls_context;
typedef struct swiftamqp_tls swiftamqp_tls;

/* NULL on failure, with the reason in `error`. */
swiftamqp_tls_context *swiftamqp_tls_context_new(const swiftamqp_tls_settings *settings, char *error, size_t error_size);
void swiftamqp_tls_context_free(swiftamqp_tls_context *context);

/* A TLS session on connected socket `fd`; `server_name` is sent as SNI and, when `verify_host`, is
 * the name the certificate must carry (a DNS name or an IP address). */
swiftamqp_tls *swiftamqp_tls_new(swiftamqp_tls_context *context, int fd, const char *server_name, bool verify_host,
                                 char *error, size_t error_size);
void swiftamqp_tls_free(swiftamqp_tls *tls);

/* Negative, so they never collide with byte counts. */
enum { SWIFTAMQP_TLS_DONE = 0, SWIFTAMQP_TLS_ERROR = -1, SWIFTAMQP_TLS_CLOSED = -2, SWIFTAMQP_TLS_WANT_READ = -3, SWIFTAMQP_TLS_WANT_WRITE = -4 };

/* One handshake step: DONE, WANT_READ, WANT_WRITE or ERROR (reason in `error`). */
int swiftamqp_tls_handshake(swiftamqp_tls *tls, char *error, size_t error_size);
/* Bytes read (> 0), or WANT_READ, WANT_WRITE, CLOSED (clean close_notify or EOF) or ERROR. */
ssize_t swiftamqp_tls_read(swiftamqp_tls *tls, void *buffer, size_t length, char *error, size_t error_size);
/* Bytes written (> 0), or WANT_READ, WANT_WRITE or ERROR. */
ssize_t swiftamqp_tls_write(swiftamqp_tls *tls, const void *buffer, size_t length, char *error, size_t error_size);
/* Bytes decrypted and buffered inside OpenSSL (poll cannot see them). */
int swiftamqp_tls_pending(swiftamqp_tls *tls);
/* Sends close_notify, best effort, without blocking. */
void swiftamqp_tls_shutdown(swiftamqp_tls *tls);
#endif
