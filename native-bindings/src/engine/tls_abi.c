/*
 * tls_abi: resolves the OpenSSL functions the running `node` binary exports (see tls_abi.h for
 * the ABI and why it is resolved at run time rather than linked).
 */
#include "tls_abi.h"

#include <string.h>

#include "symbols.h"

/*
 * The constants of tls_abi.h against the OpenSSL headers Node ships (node-gyp puts them on the
 * include path), when they are there: a Node built with another OpenSSL 3 fails the build here
 * rather than misbehaving at run time.
 */
#if defined(__has_include)
#if __has_include(<openssl/ssl.h>)
#include <openssl/ssl.h>
#define LG_CHECK(ours, theirs) _Static_assert((ours) == (theirs), #theirs)
LG_CHECK(LG_SSL_ERROR_SSL, SSL_ERROR_SSL);
LG_CHECK(LG_SSL_ERROR_WANT_READ, SSL_ERROR_WANT_READ);
LG_CHECK(LG_SSL_ERROR_WANT_WRITE, SSL_ERROR_WANT_WRITE);
LG_CHECK(LG_SSL_ERROR_SYSCALL, SSL_ERROR_SYSCALL);
LG_CHECK(LG_SSL_ERROR_ZERO_RETURN, SSL_ERROR_ZERO_RETURN);
LG_CHECK(LG_SSL_CTRL_MODE, SSL_CTRL_MODE);
LG_CHECK(LG_SSL_CTRL_SET_READ_AHEAD, SSL_CTRL_SET_READ_AHEAD);
LG_CHECK(LG_SSL_CTRL_SET_SESS_CACHE_MODE, SSL_CTRL_SET_SESS_CACHE_MODE);
LG_CHECK(LG_SSL_CTRL_SET_TLSEXT_TICKET_KEYS, SSL_CTRL_SET_TLSEXT_TICKET_KEYS);
LG_CHECK(LG_SSL_CTRL_CHAIN_CERT, SSL_CTRL_CHAIN_CERT);
LG_CHECK(LG_SSL_CTRL_SET_GROUPS_LIST, SSL_CTRL_SET_GROUPS_LIST);
LG_CHECK(LG_SSL_CTRL_SET_MIN_PROTO_VERSION, SSL_CTRL_SET_MIN_PROTO_VERSION);
LG_CHECK(LG_SSL_CTRL_SET_MAX_PROTO_VERSION, SSL_CTRL_SET_MAX_PROTO_VERSION);
LG_CHECK(LG_SSL_CTRL_GET_MIN_PROTO_VERSION, SSL_CTRL_GET_MIN_PROTO_VERSION);
LG_CHECK(LG_SSL_CTRL_GET_NEGOTIATED_GROUP, SSL_CTRL_GET_NEGOTIATED_GROUP);
LG_CHECK(LG_SSL_MODE_ENABLE_PARTIAL_WRITE, SSL_MODE_ENABLE_PARTIAL_WRITE);
LG_CHECK(LG_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
LG_CHECK(LG_SSL_MODE_RELEASE_BUFFERS, SSL_MODE_RELEASE_BUFFERS);
LG_CHECK(LG_SSL_OP_IGNORE_UNEXPECTED_EOF, SSL_OP_IGNORE_UNEXPECTED_EOF);
LG_CHECK(LG_SSL_OP_NO_TICKET, SSL_OP_NO_TICKET);
LG_CHECK(LG_SSL_OP_NO_COMPRESSION, SSL_OP_NO_COMPRESSION);
LG_CHECK(LG_SSL_OP_CIPHER_SERVER_PREFERENCE, SSL_OP_CIPHER_SERVER_PREFERENCE);
LG_CHECK(LG_SSL_OP_NO_RENEGOTIATION, SSL_OP_NO_RENEGOTIATION);
LG_CHECK(LG_SSL_SESS_CACHE_OFF, SSL_SESS_CACHE_OFF);
LG_CHECK(LG_TLSEXT_NAMETYPE_host_name, TLSEXT_NAMETYPE_host_name);
LG_CHECK(LG_SSL_TLSEXT_ERR_OK, SSL_TLSEXT_ERR_OK);
LG_CHECK(LG_SSL_TLSEXT_ERR_ALERT_FATAL, SSL_TLSEXT_ERR_ALERT_FATAL);
LG_CHECK(LG_OPENSSL_NPN_NEGOTIATED, OPENSSL_NPN_NEGOTIATED);
LG_CHECK(LG_TLS1_VERSION, TLS1_VERSION);
LG_CHECK(LG_BIO_CB_READ, BIO_CB_READ);
LG_CHECK(LG_BIO_CB_RETURN, BIO_CB_RETURN);
LG_CHECK(LG_TLS1_3_VERSION, TLS1_3_VERSION);
#endif
#endif

const char *lg_ssl_resolve(lg_ssl_api *api) {
#define ENTRY(fn) {&api->fn, #fn}
  const lg_symbol table[] = {
      ENTRY(OpenSSL_version_num),
      ENTRY(TLS_server_method),
      ENTRY(SSL_CTX_new),
      ENTRY(SSL_CTX_free),
      ENTRY(SSL_CTX_ctrl),
      ENTRY(SSL_CTX_set_options),
      ENTRY(SSL_CTX_set_cipher_list),
      ENTRY(SSL_CTX_set_ciphersuites),
      ENTRY(SSL_CTX_set_timeout),
      ENTRY(SSL_CTX_use_certificate),
      ENTRY(SSL_CTX_use_PrivateKey),
      ENTRY(SSL_CTX_set_alpn_select_cb),
      ENTRY(SSL_select_next_proto),
      ENTRY(SSL_new),
      ENTRY(SSL_free),
      ENTRY(SSL_set_fd),
      ENTRY(SSL_set_accept_state),
      ENTRY(SSL_ctrl),
      ENTRY(SSL_do_handshake),
      ENTRY(SSL_read_ex),
      ENTRY(SSL_write_ex),
      ENTRY(SSL_shutdown),
      ENTRY(SSL_get_error),
      ENTRY(SSL_has_pending),
      ENTRY(SSL_get_version),
      ENTRY(SSL_get_current_cipher),
      ENTRY(SSL_CIPHER_get_name),
      ENTRY(SSL_get_servername),
      ENTRY(SSL_get0_alpn_selected),
      ENTRY(SSL_session_reused),
      ENTRY(SSL_group_to_name),
      ENTRY(SSL_get_rbio),
      ENTRY(BIO_set_callback_ex),
      ENTRY(BIO_set_callback_arg),
      ENTRY(BIO_get_callback_arg),
      ENTRY(BIO_new_mem_buf),
      ENTRY(BIO_free),
      ENTRY(PEM_read_bio_X509),
      ENTRY(PEM_read_bio_PrivateKey),
      ENTRY(X509_free),
      ENTRY(EVP_PKEY_free),
      ENTRY(ERR_get_error),
      ENTRY(ERR_peek_last_error),
      ENTRY(ERR_clear_error),
      ENTRY(ERR_error_string_n),
  };
#undef ENTRY
  memset(api, 0, sizeof *api);
  const char *missing = lg_resolve_symbols(table, sizeof table / sizeof table[0]);
  if (missing != NULL) memset(api, 0, sizeof *api);
  return missing;
}
