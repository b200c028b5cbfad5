/*
 * tls_abi: the part of OpenSSL 3's C ABI that the engine's TLS termination (tls.c) uses, resolved
 * at run time from the running `node` binary, which contains OpenSSL and exports its symbols.
 *
 * Why resolve with dlsym instead of linking against Node's exports (as addons that include
 * <openssl/ssl.h> do): an addon with undefined OpenSSL symbols fails to load as a whole, or, bound
 * lazily, crashes at the first call, where the running binary does not export them (a Node built
 * against a shared or a different OpenSSL, Electron's BoringSSL, Windows). Resolved here, a missing
 * symbol or an OpenSSL that is not 3.x only makes TLS unavailable in the engine: its TLS listeners
 * stay on Node's TLS, with the reason in the startup log, and everything else still runs on the
 * engine. The same reasoning and pattern as llhttp_abi.h.
 *
 * The types are opaque; the constants are OpenSSL 3.0's (ABI-stable across 3.x), checked against
 * Node's own OpenSSL headers at compile time when those are present (tls_abi.c), and the whole is
 * exercised at load (lg_tls_unavailable_reason in tls.c) before any listener uses it.
 * Nothing here calls OpenSSL directly: only through `lg_ssl`, so no undefined symbol reaches the
 * addon.
 */
#ifndef LEGATE_TLS_ABI_H
#define LEGATE_TLS_ABI_H

#include <stddef.h>
#include <stdint.h>

typedef struct lg_ssl lg_ssl;
typedef struct lg_ssl_ctx lg_ssl_ctx;
typedef struct lg_ssl_method lg_ssl_method;
typedef struct lg_ssl_cipher lg_ssl_cipher;
typedef struct lg_bio lg_bio;
typedef struct lg_x509 lg_x509;
typedef struct lg_evp_pkey lg_evp_pkey;

#define LG_SSL_ERROR_NONE 0
#define LG_SSL_ERROR_SSL 1
#define LG_SSL_ERROR_WANT_READ 2
#define LG_SSL_ERROR_WANT_WRITE 3
#define LG_SSL_ERROR_SYSCALL 5
#define LG_SSL_ERROR_ZERO_RETURN 6

#define LG_SSL_CTRL_MODE 33
#define LG_SSL_CTRL_SET_READ_AHEAD 41
#define LG_SSL_CTRL_SET_SESS_CACHE_MODE 44
#define LG_SSL_CTRL_SET_TLSEXT_TICKET_KEYS 59
#define LG_SSL_CTRL_CHAIN_CERT 89
#define LG_SSL_CTRL_SET_GROUPS_LIST 92
#define LG_SSL_CTRL_SET_MIN_PROTO_VERSION 123
#define LG_SSL_CTRL_SET_MAX_PROTO_VERSION 124
#define LG_SSL_CTRL_GET_MIN_PROTO_VERSION 130
#define LG_SSL_CTRL_GET_NEGOTIATED_GROUP 134

#define LG_SSL_MODE_ENABLE_PARTIAL_WRITE 0x1U
#define LG_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER 0x2U
#define LG_SSL_MODE_RELEASE_BUFFERS 0x10U

#define LG_SSL_OP_IGNORE_UNEXPECTED_EOF ((uint64_t)1 << 7)
#define LG_SSL_OP_NO_TICKET ((uint64_t)1 << 14)
#define LG_SSL_OP_NO_COMPRESSION ((uint64_t)1 << 17)
#define LG_SSL_OP_CIPHER_SERVER_PREFERENCE ((uint64_t)1 << 22)
#define LG_SSL_OP_NO_RENEGOTIATION ((uint64_t)1 << 30)

#define LG_SSL_SESS_CACHE_OFF 0
#define LG_TLSEXT_NAMETYPE_host_name 0
#define LG_SSL_TLSEXT_ERR_OK 0
#define LG_SSL_TLSEXT_ERR_ALERT_FATAL 2
#define LG_OPENSSL_NPN_NEGOTIATED 1
/* OpenSSL 3's session ticket key: 16 bytes of name, 32 of HMAC secret, 32 of AES key. */
#define LG_TICKET_KEY_BYTES 80

#define LG_TLS1_VERSION 0x0301
#define LG_TLS1_3_VERSION 0x0304

#define LG_BIO_CB_READ 0x02
#define LG_BIO_CB_RETURN 0x80

typedef long (*lg_bio_callback_ex)(lg_bio *b, int oper, const char *argp, size_t len, int argi, long argl,
                                   int ret, size_t *processed);
typedef int (*lg_alpn_select_cb)(lg_ssl *ssl, const unsigned char **out, unsigned char *outlen,
                                 const unsigned char *in, unsigned int inlen, void *arg);

/* The functions used, by their OpenSSL names. */
typedef struct lg_ssl_api {
  unsigned long (*OpenSSL_version_num)(void);
  const lg_ssl_method *(*TLS_server_method)(void);
  lg_ssl_ctx *(*SSL_CTX_new)(const lg_ssl_method *method);
  void (*SSL_CTX_free)(lg_ssl_ctx *ctx);
  long (*SSL_CTX_ctrl)(lg_ssl_ctx *ctx, int cmd, long larg, void *parg);
  uint64_t (*SSL_CTX_set_options)(lg_ssl_ctx *ctx, uint64_t options);
  int (*SSL_CTX_set_cipher_list)(lg_ssl_ctx *ctx, const char *list);
  int (*SSL_CTX_set_ciphersuites)(lg_ssl_ctx *ctx, const char *list);
  long (*SSL_CTX_set_timeout)(lg_ssl_ctx *ctx, long seconds);
  int (*SSL_CTX_use_certificate)(lg_ssl_ctx *ctx, lg_x509 *x);
  int (*SSL_CTX_use_PrivateKey)(lg_ssl_ctx *ctx, lg_evp_pkey *pkey);
  void (*SSL_CTX_set_alpn_select_cb)(lg_ssl_ctx *ctx, lg_alpn_select_cb cb, void *arg);
  int (*SSL_select_next_proto)(unsigned char **out, unsigned char *outlen, const unsigned char *server,
                               unsigned int server_len, const unsigned char *client, unsigned int client_len);
  lg_ssl *(*SSL_new)(lg_ssl_ctx *ctx);
  void (*SSL_free)(lg_ssl *ssl);
  int (*SSL_set_fd)(lg_ssl *ssl, int fd);
  void (*SSL_set_accept_state)(lg_ssl *ssl);
  long (*SSL_ctrl)(lg_ssl *ssl, int cmd, long larg, void *parg);
  int (*SSL_do_handshake)(lg_ssl *ssl);
  int (*SSL_read_ex)(lg_ssl *ssl, void *buf, size_t num, size_t *readbytes);
  int (*SSL_write_ex)(lg_ssl *ssl, const void *buf, size_t num, size_t *written);
  int (*SSL_shutdown)(lg_ssl *ssl);
  int (*SSL_get_error)(const lg_ssl *ssl, int ret);
  int (*SSL_has_pending)(const lg_ssl *ssl);
  const char *(*SSL_get_version)(const lg_ssl *ssl);
  const lg_ssl_cipher *(*SSL_get_current_cipher)(const lg_ssl *ssl);
  const char *(*SSL_CIPHER_get_name)(const lg_ssl_cipher *cipher);
  const char *(*SSL_get_servername)(const lg_ssl *ssl, int type);
  void (*SSL_get0_alpn_selected)(const lg_ssl *ssl, const unsigned char **data, unsigned int *len);
  int (*SSL_session_reused)(const lg_ssl *ssl);
  const char *(*SSL_group_to_name)(lg_ssl *ssl, int id);
  lg_bio *(*SSL_get_rbio)(const lg_ssl *ssl);
  void (*BIO_set_callback_ex)(lg_bio *bio, lg_bio_callback_ex callback);
  void (*BIO_set_callback_arg)(lg_bio *bio, char *arg);
  char *(*BIO_get_callback_arg)(const lg_bio *bio);
  lg_bio *(*BIO_new_mem_buf)(const void *buf, int len);
  int (*BIO_free)(lg_bio *bio);
  lg_x509 *(*PEM_read_bio_X509)(lg_bio *bio, lg_x509 **x, void *cb, void *u);
  lg_evp_pkey *(*PEM_read_bio_PrivateKey)(lg_bio *bio, lg_evp_pkey **x, void *cb, void *u);
  void (*X509_free)(lg_x509 *x);
  void (*EVP_PKEY_free)(lg_evp_pkey *key);
  unsigned long (*ERR_get_error)(void);
  unsigned long (*ERR_peek_last_error)(void);
  void (*ERR_clear_error)(void);
  void (*ERR_error_string_n)(unsigned long e, char *buf, size_t len);
} lg_ssl_api;

/*
 * Fills `api` from the running binary. Returns NULL, or the name of the first symbol it does not
 * export (api is then zeroed).
 */
const char *lg_ssl_resolve(lg_ssl_api *api);

#endif
