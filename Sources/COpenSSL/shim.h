#ifndef EVY_COPENSSL_SHIM_H
#define EVY_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <string.h>

/* OpenSSL macros Swift cannot call directly, as functions. */
static inline long evy_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}
static inline int evy_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}
static inline long evy_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}
/* OpenSSL 3 reports a peer that closes without close-notify as an error; like Python's
   suppress_ragged_eofs, Evy treats it as the end of the stream. */
static inline void evy_SSL_CTX_ignore_unexpected_eof(SSL_CTX *ctx) {
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
}

/* Server-side ALPN: choose the first of the server's protocols the client offers. The protocol
   list (wire format) must outlive the context; Evy keeps it in its TLSContext. */
static int evy_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                           const unsigned char *in, unsigned int inlen, void *arg) {
    /* arg points at a length-prefixed buffer: 2 bytes of total length, then the wire list. */
    const unsigned char *server = (const unsigned char *)arg;
    unsigned int serverlen = ((unsigned int)server[0] << 8) | server[1];
    (void)ssl;
    if (SSL_select_next_proto((unsigned char **)out, outlen, server + 2, serverlen, in, inlen)
        == OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}
static inline void evy_SSL_CTX_set_alpn_server(SSL_CTX *ctx, const unsigned char *prefixedList) {
    SSL_CTX_set_alpn_select_cb(ctx, evy_alpn_select, (void *)prefixedList);
}
#endif
