/*
 * TLS termination on the engine's downstream connections (tls.c), and its N-API functions
 * (tls_napi.c). See tls.c for the design.
 */
#ifndef LEGATE_TLS_H
#define LEGATE_TLS_H

#include "engine.h"

/* Why a handshake ended a connection before JS heard of it (TLS_FAILED's b). */
typedef enum { LG_TLS_FAILED_HANDSHAKE = 1, LG_TLS_FAILED_TIMEOUT = 2 } lg_tls_failure;

typedef struct lg_tls_certificate {
  const char *chain; /* PEM, leaf first */
  size_t chain_len;
  const char *key; /* PEM */
  size_t key_len;
  const char *password; /* NUL-terminated; "" for none */
} lg_tls_certificate;

/* A DownstreamTlsContext as JS parsed it (src/transport/tls/config.ts). */
typedef struct lg_tls_settings {
  const lg_tls_certificate *certificates; /* at most one per key type */
  uint32_t certificate_count;
  long min_version, max_version;  /* 0x0301 .. 0x0304 */
  const char *cipher_list;        /* TLS <= 1.2, OpenSSL's syntax ("" : OpenSSL's default) */
  const char *ciphersuites;       /* TLS 1.3 */
  const char *groups;             /* ecdh_curves ("" : OpenSSL's default) */
  const unsigned char *alpn;      /* wire format, preference order */
  unsigned int alpn_len;
  const unsigned char *ticket_key; /* LG_TICKET_KEY_BYTES, or NULL: no session tickets */
  long session_timeout_s;
  bool server_cipher_order;
} lg_tls_settings;

/* NULL when the engine can terminate TLS here, else why not (resolved and self-tested once). */
const char *lg_tls_unavailable_reason(void);

/* A context for a listener (one reference, the caller's); NULL with `err` filled. */
lg_tls_context *lg_tls_context_new(const lg_tls_settings *settings, char *err, size_t err_size);
void lg_tls_context_ref(lg_tls_context *t);
void lg_tls_context_unref(lg_tls_context *t);
/* The context an engineTlsContext external holds, or NULL when `v` is none. */
lg_tls_context *lg_tls_context_arg(napi_env env, napi_value v);
/* New handshakes of `l` use `t` (a reference of the listener's; its previous one is dropped). */
void lg_tls_listener_use(lg_listener *l, lg_tls_context *t);

/* A connection accepted on a TLS listener starts its handshake; false when out of memory. */
bool lg_tls_accept(lg_conn *c);
/* Runs the handshake on a readiness edge: true when it just succeeded (and JS heard ACCEPTED). */
bool lg_tls_handshake(lg_conn *c);
/* Fails the handshakes past their listener's deadline; true while some are still running. */
bool lg_tls_expire_handshakes(lg_engine *e, uint64_t now);
/* The connection's TLS facts into the exchange (with ACCEPTED). */
void lg_tls_put_info(lg_conn *c);
/* read(2)'s contract over SSL_read: bytes, 0 at the peer's end, -1 with errno (EAGAIN: wait). */
ssize_t lg_tls_read(lg_conn *c, void *buf, size_t len);
/* The last read(2) under SSL_read emptied the socket and SSL holds nothing unread: reading may stop. */
bool lg_tls_socket_drained(const lg_conn *c);
/* lg_wq_flush's contract, through SSL_write. */
int lg_tls_flush(lg_conn *c);
/* Sends close_notify (before our FIN). */
void lg_tls_close_notify(lg_conn *c);
/* Frees the connection's TLS state (every close path). */
void lg_tls_release(lg_conn *c);

/* ---- tls_bridge.c: a TLS connection JS continues over a socketpair */

/* Tags the bridge fd's epoll events (the connection's address with this bit set). */
#define LG_BRIDGE_TAG 2
/* Starts relaying the connection's plaintext to a socketpair: JS's end, or -1 (nothing changed). */
int lg_tls_bridge_start(lg_conn *c);
/* Decrypted bytes from the client, for JS. */
void lg_tls_bridge_feed(lg_conn *c, const uint8_t *data, size_t len);
/* The client ended (its FIN reaches JS after the bytes before it). */
void lg_tls_bridge_peer_eof(lg_conn *c);
/* Whether the client may be read (what JS has not taken is below the high-water mark). */
bool lg_tls_bridge_may_read(const lg_conn *c);
/* Reads what JS wrote into the connection's output (also when that output drained). */
void lg_tls_bridge_read(lg_conn *c);
void lg_tls_bridge_on_event(lg_conn *c, uint32_t events);
/* Closes the bridge fd (every close path of a bridged connection). */
void lg_tls_bridge_close(lg_conn *c);

napi_status lg_tls_define(napi_env env, napi_value exports);

#endif
