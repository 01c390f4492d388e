/*
 * librabbitmq's OpenSSL-specific key functions: amqp_ssl_socket_set_key_buffer (a PEM key in
 * memory), amqp_set_ssl_engine and amqp_ssl_socket_set_key_engine (an OpenSSL ENGINE).
 *
 * swiftamqp's TLS takes its client key from a file (swamqp_options.tls_key_file), so a key that
 * is not in a file is written, as PEM, to an anonymous in-memory file (memfd) whose
 * /proc/self/fd path amqp_login hands over; the key never reaches the file system. Both
 * libraries use the process's one libcrypto, so the default engine amqp_set_ssl_engine installs
 * is the one swiftamqp's handshakes use. A key an engine cannot export (a key held in hardware)
 * is refused with AMQP_STATUS_SSL_ERROR: see docs/COMPAT.md.
 */
#define _GNU_SOURCE                 /* memfd_create */
#define OPENSSL_SUPPRESS_DEPRECATED /* the ENGINE API is what librabbitmq 0.11 offers */
#include "compat.h"

#include <limits.h>
#include <openssl/bio.h>
#include <openssl/engine.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static pthread_mutex_t engine_lock = PTHREAD_MUTEX_INITIALIZER;
static ENGINE *engine;     /* set by amqp_set_ssl_engine */
static int initialized;    /* amqp_initialize_ssl_library ran, or an SSL socket was made */

void compat_tls_mark_initialized(void)
{
    pthread_mutex_lock(&engine_lock);
    initialized = 1;
    pthread_mutex_unlock(&engine_lock);
}

/* librabbitmq loads the certificate chain at once; so do we, to fail where it fails. */
static int certificate_readable(const char *cert)
{
    if (cert == NULL)
        return 0;
    BIO *in = BIO_new_file(cert, "r");
    if (in == NULL)
        return 0;
    X509 *x = PEM_read_bio_X509(in, NULL, NULL, NULL);
    BIO_free(in);
    X509_free(x);
    return x != NULL;
}

/* Never asked for a password: librabbitmq does not support password-protected key buffers. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf; (void)size; (void)rwflag; (void)u;
    return 0;
}

/* `key` as PEM in a memfd; the socket's key file becomes its /proc/self/fd path. */
static int keep_key(amqp_socket_t *s, const char *cert, EVP_PKEY *key)
{
    BIO *pem = BIO_new(BIO_s_mem());
    if (pem == NULL)
        return AMQP_STATUS_NO_MEMORY;
    if (PEM_write_bio_PrivateKey(pem, key, NULL, NULL, 0, NULL, NULL) != 1) {
        BIO_free(pem);
        return AMQP_STATUS_SSL_ERROR; /* not exportable (a hardware key) */
    }
    char *bytes = NULL;
    long len = BIO_get_mem_data(pem, &bytes);
    int fd = memfd_create("amqp-client-key", MFD_CLOEXEC);
    int st = fd < 0 ? AMQP_STATUS_SSL_ERROR : AMQP_STATUS_OK;
    for (long off = 0; st == AMQP_STATUS_OK && off < len;) {
        ssize_t n = write(fd, bytes + off, (size_t)(len - off));
        if (n <= 0)
            st = AMQP_STATUS_SSL_ERROR;
        else
            off += n;
    }
    OPENSSL_cleanse(bytes, (size_t)len);
    BIO_free(pem);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    char *cert_copy = st == AMQP_STATUS_OK ? strdup(cert) : NULL;
    char *key_path = st == AMQP_STATUS_OK ? strdup(path) : NULL;
    if (st == AMQP_STATUS_OK && (cert_copy == NULL || key_path == NULL))
        st = AMQP_STATUS_NO_MEMORY;
    if (st != AMQP_STATUS_OK) {
        free(cert_copy);
        free(key_path);
        if (fd >= 0)
            close(fd);
        return st;
    }
    if (s->key_fd >= 0)
        close(s->key_fd);
    free(s->cert);
    free(s->key);
    s->cert = cert_copy;
    s->key = key_path;
    s->key_fd = fd;
    return AMQP_STATUS_OK;
}

int amqp_ssl_socket_set_key_buffer(amqp_socket_t *s, const char *cert, const void *key, size_t n)
{
    if (s == NULL || !s->tls || key == NULL || n > INT_MAX)
        return AMQP_STATUS_INVALID_PARAMETER;
    if (!certificate_readable(cert))
        return AMQP_STATUS_SSL_ERROR;
    BIO *in = BIO_new_mem_buf(key, (int)n);
    if (in == NULL)
        return AMQP_STATUS_NO_MEMORY;
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(in, NULL, no_password, NULL);
    BIO_free(in);
    if (pkey == NULL)
        return AMQP_STATUS_SSL_ERROR;
    int st = keep_key(s, cert, pkey);
    EVP_PKEY_free(pkey);
    return st;
}

int amqp_set_ssl_engine(const char *id)
{
    int st = AMQP_STATUS_OK;
    pthread_mutex_lock(&engine_lock);
    if (!initialized) {
        st = AMQP_STATUS_SSL_ERROR; /* as librabbitmq: OpenSSL is not initialized yet */
        goto out;
    }
    if (engine != NULL) {
        ENGINE_free(engine);
        engine = NULL;
    }
    if (id == NULL)
        goto out;
    ENGINE_load_builtin_engines();
    engine = ENGINE_by_id(id);
    if (engine == NULL) {
        st = AMQP_STATUS_SSL_SET_ENGINE_FAILED;
        goto out;
    }
    if (ENGINE_set_default(engine, ENGINE_METHOD_ALL) == 0) {
        ENGINE_free(engine);
        engine = NULL;
        st = AMQP_STATUS_SSL_SET_ENGINE_FAILED;
    }
out:
    pthread_mutex_unlock(&engine_lock);
    return st;
}

int amqp_ssl_socket_set_key_engine(amqp_socket_t *s, const char *cert, const char *key)
{
    if (s == NULL || !s->tls || key == NULL)
        return AMQP_STATUS_INVALID_PARAMETER;
    if (!certificate_readable(cert))
        return AMQP_STATUS_SSL_ERROR;
    pthread_mutex_lock(&engine_lock);
    EVP_PKEY *pkey = engine ? ENGINE_load_private_key(engine, key, NULL, NULL) : NULL;
    pthread_mutex_unlock(&engine_lock);
    if (pkey == NULL)
        return AMQP_STATUS_SSL_ERROR;
    int st = keep_key(s, cert, pkey);
    EVP_PKEY_free(pkey);
    return st;
}
