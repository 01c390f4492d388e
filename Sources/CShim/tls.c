#include "tls.h"
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct swiftamqp_tls_context { SSL_CTX *ctx; };
struct swiftamqp_tls { SSL *ssl; };

/* Writes `what` and OpenSSL's queued reasons (clearing the queue) into `error`. */
static void describe(const char *what, char *error, size_t size) {
    if (!error || size == 0) return;
    size_t used = (size_t)snprintf(error, size, "%s", what);
    unsigned long code;
    while ((code = ERR_get_error()) != 0 && used + 3 < size) {
        char reason[256];
        ERR_error_string_n(code, reason, sizeof reason);
        used += (size_t)snprintf(error + used, size - used, ": %s", reason);
    }
}

static int password_callback(char *buffer, int size, int rwflag, void *userdata) {
    (void)rwflag;
    const char *password = userdata;
    if (!password) return 0;
    int length = (int)strlen(password);
    if (length > size) length = size;
    memcpy(buffer, password, (size_t)length);
    return length;
}

swiftamqp_tls_context *swiftamqp_tls_context_new(const swiftamqp_tls_settings *s, char *error, size_t error_size) {
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) { describe("cannot create a TLS context", error, error_size); return NULL; }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (s->ciphers && *s->ciphers && SSL_CTX_set_cipher_list(ctx, s->ciphers) != 1) {
        describe("invalid TLS cipher list", error, error_size);
        goto fail;
    }
    if (s->verify_peer) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        bool custom = (s->ca_file && *s->ca_file) || (s->ca_dir && *s->ca_dir) || s->ca_der_count > 0;
        if ((s->ca_file && *s->ca_file) || (s->ca_dir && *s->ca_dir)) {
            if (SSL_CTX_load_verify_locations(ctx, (s->ca_file && *s->ca_file) ? s->ca_file : NULL,
                                              (s->ca_dir && *s->ca_dir) ? s->ca_dir : NULL) != 1) {
                describe("cannot load the CA certificates", error, error_size);
                goto fail;
            }
        }
        X509_STORE *store = SSL_CTX_get_cert_store(ctx);
        for (size_t i = 0; i < s->ca_der_count; i++) {
            const unsigned char *der = s->ca_der[i];
            X509 *cert = d2i_X509(NULL, &der, (long)s->ca_der_lengths[i]);
            if (!cert || X509_STORE_add_cert(store, cert) != 1) {
                X509_free(cert);
                describe("cannot use an in-memory CA certificate", error, error_size);
                goto fail;
            }
            X509_free(cert);
        }
        if (!custom && SSL_CTX_set_default_verify_paths(ctx) != 1) {
            describe("cannot load the system's CA certificates", error, error_size);
            goto fail;
        }
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    /* Always our callback: without it OpenSSL would prompt on the terminal for an encrypted key's
       password and block the connect; with no password given it answers "none". */
    SSL_CTX_set_default_passwd_cb(ctx, password_callback);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)s->key_password);
    if (s->cert_file && *s->cert_file) {
        if (SSL_CTX_use_certificate_chain_file(ctx, s->cert_file) != 1) {
            describe("cannot load the client certificate", error, error_size);
            goto fail;
        }
        const char *key = (s->key_file && *s->key_file) ? s->key_file : s->cert_file;
        if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
            describe("cannot load the client key (wrong file or password?)", error, error_size);
            goto fail;
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            describe("the client key does not match the certificate", error, error_size);
            goto fail;
        }
    }
    /* The password is only needed while loading the key; it is not kept. */
    SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
    swiftamqp_tls_context *context = malloc(sizeof *context);
    if (!context) goto fail;
    context->ctx = ctx;
    return context;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

void swiftamqp_tls_context_free(swiftamqp_tls_context *context) {
    if (!context) return;
    SSL_CTX_free(context->ctx);
    free(context);
}

swiftamqp_tls *swiftamqp_tls_new(swiftamqp_tls_context *context, int fd, const char *server_name, bool verify_host,
                                 char *error, size_t error_size) {
    ERR_clear_error();
    SSL *ssl = SSL_new(context->ctx);
    if (!ssl) { describe("cannot create a TLS session", error, error_size); return NULL; }
    if (SSL_set_fd(ssl, fd) != 1) { describe("cannot attach TLS to the socket", error, error_size); SSL_free(ssl); return NULL; }
    if (server_name && *server_name) {
        /* SNI takes host names only; an IP literal is verified but not sent. */
        bool is_ip = strspn(server_name, "0123456789.") == strlen(server_name) || strchr(server_name, ':') != NULL;
        if (!is_ip) SSL_set_tlsext_host_name(ssl, server_name);
        if (verify_host) {
            X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, server_name) : X509_VERIFY_PARAM_set1_host(param, server_name, 0);
            if (ok != 1) { describe("cannot set the host name to verify", error, error_size); SSL_free(ssl); return NULL; }
        }
    }
    swiftamqp_tls *tls = malloc(sizeof *tls);
    if (!tls) { SSL_free(ssl); return NULL; }
    tls->ssl = ssl;
    return tls;
}

void swiftamqp_tls_free(swiftamqp_tls *tls) {
    if (!tls) return;
    SSL_free(tls->ssl);
    free(tls);
}

/* Maps SSL_get_error to our codes; ERROR fills `error` with the reason and the verify result. */
static int classify(swiftamqp_tls *tls, int ret, const char *what, char *error, size_t error_size) {
    int code = SSL_get_error(tls->ssl, ret);
    switch (code) {
    case SSL_ERROR_WANT_READ: return SWIFTAMQP_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return SWIFTAMQP_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN: return SWIFTAMQP_TLS_CLOSED;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0) {
            if (error && error_size) snprintf(error, error_size, "%s: the peer closed the connection", what);
            return SWIFTAMQP_TLS_CLOSED;
        }
        /* fall through */
    default: {
        long verify = SSL_get_verify_result(tls->ssl);
        if (verify != X509_V_OK) {
            char prefix[256];
            snprintf(prefix, sizeof prefix, "%s: certificate verify failed (%s)", what, X509_verify_cert_error_string(verify));
            describe(prefix, error, error_size);
        } else {
            describe(what, error, error_size);
        }
        return SWIFTAMQP_TLS_ERROR;
    }
    }
}

int swiftamqp_tls_handshake(swiftamqp_tls *tls, char *error, size_t error_size) {
    ERR_clear_error();
    int ret = SSL_connect(tls->ssl);
    if (ret == 1) return SWIFTAMQP_TLS_DONE;
    int code = classify(tls, ret, "TLS handshake failed", error, error_size);
    return code == SWIFTAMQP_TLS_CLOSED ? SWIFTAMQP_TLS_ERROR : code;
}

ssize_t swiftamqp_tls_read(swiftamqp_tls *tls, void *buffer, size_t length, char *error, size_t error_size) {
    ERR_clear_error();
    int want = length > 0x7fffffff ? 0x7fffffff : (int)length;
    int ret = SSL_read(tls->ssl, buffer, want);
    if (ret > 0) return ret;
    return classify(tls, ret, "TLS read failed", error, error_size);
}

ssize_t swiftamqp_tls_write(swiftamqp_tls *tls, const void *buffer, size_t length, char *error, size_t error_size) {
    ERR_clear_error();
    int want = length > 0x7fffffff ? 0x7fffffff : (int)length;
    int ret = SSL_write(tls->ssl, buffer, want);
    if (ret > 0) return ret;
    int code = classify(tls, ret, "TLS write failed", error, error_size);
    if (code == SWIFTAMQP_TLS_ERROR || code == SWIFTAMQP_TLS_CLOSED) {
        /* With TLS 1.3 a server refuses a client certificate after the handshake: its alert waits
           to be read, and says why far better than the failed write. */
        char byte;
        ERR_clear_error();
        int read = SSL_read(tls->ssl, &byte, 1);
        if (read <= 0 && SSL_get_error(tls->ssl, read) == SSL_ERROR_SSL) describe("TLS connection refused by the peer", error, error_size);
        return SWIFTAMQP_TLS_ERROR;
    }
    return code;
}

int swiftamqp_tls_pending(swiftamqp_tls *tls) { return SSL_pending(tls->ssl); }

void swiftamqp_tls_shutdown(swiftamqp_tls *tls) {
    ERR_clear_error();
    SSL_shutdown(tls->ssl);
    ERR_clear_error();
}
