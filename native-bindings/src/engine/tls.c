/*
 * TLS termination on the engine's downstream connections, with the OpenSSL inside the running
 * node binary (tls_abi.h): a context per TLS listener built from what JS parsed (Envoy's
 * DownstreamTlsContext), a non-blocking handshake driven by the connection's epoll events, then
 * reads through SSL_read into the HTTP/1 parser and the queued output through SSL_write.
 *
 * A TLS connection is announced to JS (ACCEPTED, with its TLS facts in the exchange) only once
 * its handshake succeeded; one that fails or outlives the listener's handshake timeout
 * (transport_socket_connect_timeout) closes here and JS hears TLS_FAILED instead, to count it as
 * the JS path counts a failed handshake.
 *
 * OpenSSL's error queue is per thread and shared with Node's own crypto on this thread: it is
 * cleared before every call whose outcome is read with SSL_get_error, and after every failure, so
 * nothing of ours is ever reported by Node, nor Node's by us.
 */
#define _GNU_SOURCE
#include "tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls_abi.h"

/* The plaintext of one TLS record at most: small queued chunks are gathered up to this. */
#define RECORD_BYTES 16384

static lg_ssl_api ssl;
static pthread_once_t runtime_once = PTHREAD_ONCE_INIT;
static const char *runtime_failure;
static char runtime_failure_text[256];

struct lg_tls_context {
  lg_ssl_ctx *ctx;
  /* The listener's ALPN protocols in wire format (length-prefixed), in preference order. */
  unsigned char *alpn;
  unsigned int alpn_len;
  /* The listener's reference, and one per connection whose SSL uses it (the ALPN callback reads `alpn`). */
  uint32_t refs;
};

/* ------------------------------------------------------------------ runtime */

/* The reason OpenSSL's last error gives, into runtime_failure_text. */
static const char *last_error(const char *what) {
  char reason[160] = "";
  unsigned long code = ssl.ERR_peek_last_error();
  if (code != 0) ssl.ERR_error_string_n(code, reason, sizeof reason);
  ssl.ERR_clear_error();
  snprintf(runtime_failure_text, sizeof runtime_failure_text, "%s failed%s%s", what, code ? ": " : "",
           reason);
  return runtime_failure_text;
}

/*
 * The load-time check that the resolved OpenSSL behaves as tls_abi.h says: a 3.x version, a
 * context whose controls read back what was set (the control numbers), and a handshake over a
 * socketpair that first wants to read (nothing came) and then fails on bytes that are no
 * ClientHello (the error codes).
 */
static const char *selftest(void) {
  unsigned long version = ssl.OpenSSL_version_num();
  if (version >> 28 != 3) {
    snprintf(runtime_failure_text, sizeof runtime_failure_text,
             "OpenSSL %lx is not 3.x (the engine's TLS is written against OpenSSL 3's ABI)", version);
    return runtime_failure_text;
  }
  lg_ssl_ctx *ctx = ssl.SSL_CTX_new(ssl.TLS_server_method());
  if (ctx == NULL) return last_error("SSL_CTX_new");
  const char *failure = NULL;
  int fds[2] = {-1, -1};
  lg_ssl *s = NULL;
  if (ssl.SSL_CTX_ctrl(ctx, LG_SSL_CTRL_SET_MIN_PROTO_VERSION, 0x0303, NULL) != 1 ||
      ssl.SSL_CTX_ctrl(ctx, LG_SSL_CTRL_GET_MIN_PROTO_VERSION, 0, NULL) != 0x0303) {
    failure = "SSL_CTX_ctrl does not read back the minimum protocol version";
    goto done;
  }
  if (ssl.SSL_CTX_ctrl(ctx, LG_SSL_CTRL_SET_GROUPS_LIST, 0, (void *)"X25519:P-256") != 1) {
    failure = last_error("setting the groups X25519:P-256");
    goto done;
  }
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    failure = "socketpair failed";
    goto done;
  }
  s = ssl.SSL_new(ctx);
  if (s == NULL || ssl.SSL_set_fd(s, fds[0]) != 1) {
    failure = last_error("SSL_new");
    goto done;
  }
  ssl.SSL_set_accept_state(s);
  ssl.ERR_clear_error();
  int r = ssl.SSL_do_handshake(s);
  if (r != -1 || ssl.SSL_get_error(s, r) != LG_SSL_ERROR_WANT_READ) {
    failure = "a handshake with nothing to read does not report SSL_ERROR_WANT_READ";
    goto done;
  }
  static const char not_a_hello[] = "GET / HTTP/1.1\r\n\r\n";
  if (write(fds[1], not_a_hello, sizeof not_a_hello - 1) != (ssize_t)(sizeof not_a_hello - 1)) {
    failure = "socketpair write failed";
    goto done;
  }
  r = ssl.SSL_do_handshake(s);
  if (r == 1 || ssl.SSL_get_error(s, r) != LG_SSL_ERROR_SSL)
    failure = "a handshake on plaintext does not fail with SSL_ERROR_SSL";
done:
  ssl.ERR_clear_error();
  if (s != NULL) ssl.SSL_free(s);
  ssl.SSL_CTX_free(ctx);
  if (fds[0] >= 0) close(fds[0]);
  if (fds[1] >= 0) close(fds[1]);
  return failure;
}

static void runtime_init(void) {
  const char *missing = lg_ssl_resolve(&ssl);
  if (missing != NULL) {
    snprintf(runtime_failure_text, sizeof runtime_failure_text, "this node binary does not export %s", missing);
    runtime_failure = runtime_failure_text;
    return;
  }
  runtime_failure = selftest();
}

const char *lg_tls_unavailable_reason(void) {
  pthread_once(&runtime_once, runtime_init);
  return runtime_failure;
}

/* ------------------------------------------------------------------ contexts */

static int select_alpn(lg_ssl *s, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg) {
  (void)s;
  lg_tls_context *t = arg;
  unsigned char *chosen = NULL;
  /* The server's order wins (Envoy lists alpn_protocols in preference order). A client that offers
   * ALPN but none of these is refused (no_application_protocol), as Node's TLS on the JS path does. */
  if (ssl.SSL_select_next_proto(&chosen, outlen, t->alpn, t->alpn_len, in, inlen) != LG_OPENSSL_NPN_NEGOTIATED)
    return LG_SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = chosen;
  return LG_SSL_TLSEXT_ERR_OK;
}

/* One certificate chain (leaf first) and its key into the context; false with `err` filled. */
static bool use_certificate(lg_ssl_ctx *ctx, const lg_tls_certificate *cert, char *err, size_t err_size) {
  bool ok = false;
  lg_evp_pkey *key = NULL;
  lg_bio *bio = ssl.BIO_new_mem_buf(cert->chain, (int)cert->chain_len);
  lg_x509 *leaf = bio != NULL ? ssl.PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
  if (leaf == NULL || ssl.SSL_CTX_use_certificate(ctx, leaf) != 1) {
    snprintf(err, err_size, "%s", last_error("reading certificate_chain"));
    goto done;
  }
  /* The rest of the chain belongs to this certificate (its key type's slot). */
  for (;;) {
    lg_x509 *intermediate = ssl.PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (intermediate == NULL) break;
    if (ssl.SSL_CTX_ctrl(ctx, LG_SSL_CTRL_CHAIN_CERT, 0, intermediate) != 1) {
      ssl.X509_free(intermediate);
      snprintf(err, err_size, "%s", last_error("adding a chain certificate"));
      goto done;
    }
  }
  ssl.ERR_clear_error(); /* the end of the PEM list reads as an error */
  ssl.BIO_free(bio);
  bio = ssl.BIO_new_mem_buf(cert->key, (int)cert->key_len);
  key = bio != NULL ? ssl.PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)cert->password) : NULL;
  if (key == NULL || ssl.SSL_CTX_use_PrivateKey(ctx, key) != 1) {
    snprintf(err, err_size, "%s", last_error("reading private_key"));
    goto done;
  }
  ok = true;
done:
  if (key != NULL) ssl.EVP_PKEY_free(key);
  if (leaf != NULL) ssl.X509_free(leaf);
  if (bio != NULL) ssl.BIO_free(bio);
  return ok;
}

lg_tls_context *lg_tls_context_new(const lg_tls_settings *s, char *err, size_t err_size) {
  if (lg_tls_unavailable_reason() != NULL) {
    snprintf(err, err_size, "%s", lg_tls_unavailable_reason());
    return NULL;
  }
  lg_tls_context *t = calloc(1, sizeof *t);
  if (t == NULL) {
    snprintf(err, err_size, "out of memory");
    return NULL;
  }
  t->refs = 1;
  ssl.ERR_clear_error();
  t->ctx = ssl.SSL_CTX_new(ssl.TLS_server_method());
  if (t->ctx == NULL) {
    snprintf(err, err_size, "%s", last_error("SSL_CTX_new"));
    free(t);
    return NULL;
  }
  lg_ssl_ctx *ctx = t->ctx;
  uint64_t options = LG_SSL_OP_NO_RENEGOTIATION | LG_SSL_OP_NO_COMPRESSION | LG_SSL_OP_IGNORE_UNEXPECTED_EOF;
  if (s->server_cipher_order) options |= LG_SSL_OP_CIPHER_SERVER_PREFERENCE;
  if (s->ticket_key == NULL) options |= LG_SSL_OP_NO_TICKET;
  ssl.SSL_CTX_set_options(ctx, options);
  /* Output is written a record at a time from the connection's queue, which may move between tries. */
  ssl.SSL_CTX_ctrl(ctx, LG_SSL_CTRL_MODE,
                   LG_SSL_MODE_ENABLE_PARTIAL_WRITE | LG_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                       LG_SSL_MODE_RELEASE_BUFFERS,
                   NULL);
  /* One read(2) brings whatever the socket holds, not a record header and then its body. */
  ssl.SSL_CTX_ctrl(ctx, LG_SSL_CTRL_SET_READ_AHEAD, 1, NULL);
  /* Sessions resume by tickets only, as on the JS path (no session-ID cache). */
  ssl.SSL_CTX_ctrl(ctx, LG_SSL_CTRL_SET_SESS_CACHE_MODE, LG_SSL_SESS_CACHE_OFF, NULL);
  const char *step = NULL;
  if (ssl.SSL_CTX_ctrl(ctx, LG_SSL_CTRL_SET_MIN_PROTO_VERSION, s->min_version, NULL) != 1 ||
      ssl.SSL_CTX_ctrl(ctx, LG_SSL_CTRL_SET_MAX_PROTO_VERSION, s->max_version, NULL) != 1)
    step = "setting the protocol versions";
  else if (s->cipher_list[0] != '\0' && ssl.SSL_CTX_set_cipher_list(ctx, s->cipher_list) != 1)
    step = "setting cipher_suites";
  else if (ssl.SSL_CTX_set_ciphersuites(ctx, s->ciphersuites) != 1)
    step = "setting the TLS 1.3 cipher suites";
  else if (s->groups[0] != '\0' && ssl.SSL_CTX_ctrl(ctx, LG_SSL_CTRL_SET_GROUPS_LIST, 0, (void *)s->groups) != 1)
    step = "setting ecdh_curves";
  else if (s->ticket_key != NULL &&
           ssl.SSL_CTX_ctrl(ctx, LG_SSL_CTRL_SET_TLSEXT_TICKET_KEYS, LG_TICKET_KEY_BYTES, (void *)s->ticket_key) != 1)
    step = "setting the session ticket key";
  if (step != NULL) {
    snprintf(err, err_size, "%s", last_error(step));
    lg_tls_context_unref(t);
    return NULL;
  }
  if (s->session_timeout_s > 0) ssl.SSL_CTX_set_timeout(ctx, s->session_timeout_s);
  for (uint32_t i = 0; i < s->certificate_count; i++) {
    if (!use_certificate(ctx, &s->certificates[i], err, err_size)) {
      lg_tls_context_unref(t);
      return NULL;
    }
  }
  if (s->alpn_len > 0) {
    t->alpn = malloc(s->alpn_len);
    if (t->alpn == NULL) {
      snprintf(err, err_size, "out of memory");
      lg_tls_context_unref(t);
      return NULL;
    }
    memcpy(t->alpn, s->alpn, s->alpn_len);
    t->alpn_len = s->alpn_len;
    ssl.SSL_CTX_set_alpn_select_cb(ctx, select_alpn, t);
  }
  return t;
}

void lg_tls_context_ref(lg_tls_context *t) { t->refs++; }

void lg_tls_context_unref(lg_tls_context *t) {
  if (t == NULL || --t->refs > 0) return;
  ssl.SSL_CTX_free(t->ctx);
  free(t->alpn);
  free(t);
}

/* ------------------------------------------------------------------ handshakes */

static void unlink_handshake(lg_conn *c) {
  lg_listener *l = c->listener;
  if (c->hs_prev != NULL) c->hs_prev->hs_next = c->hs_next;
  else if (l->handshakes_head == c) l->handshakes_head = c->hs_next;
  if (c->hs_next != NULL) c->hs_next->hs_prev = c->hs_prev;
  else if (l->handshakes_tail == c) l->handshakes_tail = c->hs_prev;
  c->hs_prev = c->hs_next = NULL;
}

/*
 * The socket BIO's callback after each read(2) OpenSSL makes: one that returned less than it asked
 * for (OpenSSL reads ahead, asking for its whole buffer) emptied the socket. tls_socket_drained
 * lets a read end on that, as plaintext reads do, instead of paying a read(2) that returns EAGAIN.
 */
static long on_socket_io(lg_bio *bio, int oper, const char *argp, size_t len, int argi, long argl, int ret,
                         size_t *processed) {
  (void)argp;
  (void)argi;
  (void)argl;
  if (oper == (LG_BIO_CB_READ | LG_BIO_CB_RETURN)) {
    lg_conn *c = (lg_conn *)ssl.BIO_get_callback_arg(bio);
    c->tls_socket_drained = ret <= 0 || processed == NULL || *processed < len;
  }
  return ret;
}

bool lg_tls_socket_drained(const lg_conn *c) { return c->tls_socket_drained && !ssl.SSL_has_pending(c->ssl); }

bool lg_tls_accept(lg_conn *c) {
  lg_listener *l = c->listener;
  lg_tls_context *t = l->tls;
  ssl.ERR_clear_error();
  lg_ssl *s = ssl.SSL_new(t->ctx);
  if (s == NULL || ssl.SSL_set_fd(s, c->fd) != 1) {
    if (s != NULL) ssl.SSL_free(s);
    ssl.ERR_clear_error();
    return false;
  }
  ssl.SSL_set_accept_state(s);
  lg_bio *socket_bio = ssl.SSL_get_rbio(s);
  ssl.BIO_set_callback_ex(socket_bio, on_socket_io);
  ssl.BIO_set_callback_arg(socket_bio, (char *)c);
  c->ssl = s;
  c->tls_context = t;
  t->refs++;
  c->tls_handshaking = true;
  if (l->handshake_timeout_ms > 0) {
    /* Every handshake of a listener has the same timeout: appending keeps the list in deadline order. */
    c->hs_deadline = uv_now(c->engine->loop) + l->handshake_timeout_ms;
    c->hs_prev = l->handshakes_tail;
    c->hs_next = NULL;
    if (l->handshakes_tail != NULL) l->handshakes_tail->hs_next = c;
    else l->handshakes_head = c;
    l->handshakes_tail = c;
    lg_loop_tick(c->engine);
  }
  return true;
}

/* The handshake failed (`failure`): the connection closes, and JS hears TLS_FAILED. */
static void fail_handshake(lg_conn *c, lg_tls_failure failure) {
  ssl.ERR_clear_error();
  c->tls_failure = failure;
  lg_conn_close(c, LG_RESET_NONE);
}

static bool negotiated_h2(lg_ssl *s) {
  const unsigned char *alpn = NULL;
  unsigned int len = 0;
  ssl.SSL_get0_alpn_selected(s, &alpn, &len);
  return len == 2 && alpn[0] == 'h' && alpn[1] == '2';
}

bool lg_tls_handshake(lg_conn *c) {
  ssl.ERR_clear_error();
  int r = ssl.SSL_do_handshake(c->ssl);
  if (r == 1) {
    c->tls_handshaking = false;
    unlink_handshake(c);
    c->last_io_ms = uv_now(c->engine->loop);
    lg_downstream_announce(c, NULL);
    if (!c->closed && c->listener->alpn_h2_handoff && negotiated_h2(c->ssl))
      lg_downstream_hand_off(c, LG_EV_HANDED_OFF); /* node:http2 serves it, over a bridge */
    return !c->closed;
  }
  switch (ssl.SSL_get_error(c->ssl, r)) {
    case LG_SSL_ERROR_WANT_READ:
    case LG_SSL_ERROR_WANT_WRITE:
      return false; /* the next readiness edge goes on */
    default:
      fail_handshake(c, LG_TLS_FAILED_HANDSHAKE);
      return false;
  }
}

bool lg_tls_expire_handshakes(lg_engine *e, uint64_t now) {
  bool pending = false;
  for (uint32_t i = 0; i < e->listener_count; i++) {
    lg_listener *l = e->listeners[i];
    if (l == NULL) continue;
    while (l->handshakes_head != NULL && l->handshakes_head->hs_deadline <= now)
      fail_handshake(l->handshakes_head, LG_TLS_FAILED_TIMEOUT); /* unlinks it */
    if (l->handshakes_head != NULL) pending = true;
  }
  return pending;
}

void lg_tls_put_info(lg_conn *c) {
  lg_ssl *s = c->ssl;
  const char *version = ssl.SSL_get_version(s);
  const lg_ssl_cipher *cipher = ssl.SSL_get_current_cipher(s);
  const char *cipher_name = cipher != NULL ? ssl.SSL_CIPHER_get_name(cipher) : "";
  long group = ssl.SSL_ctrl(s, LG_SSL_CTRL_GET_NEGOTIATED_GROUP, 0, NULL);
  const char *curve = group > 0 ? ssl.SSL_group_to_name(s, (int)group) : NULL;
  const char *sni = ssl.SSL_get_servername(s, LG_TLSEXT_NAMETYPE_host_name);
  const unsigned char *alpn = NULL;
  unsigned int alpn_len = 0;
  ssl.SSL_get0_alpn_selected(s, &alpn, &alpn_len);
  char info[512];
  int n = snprintf(info, sizeof info, "%s\n%s\n%s\n%s\n%.*s", version != NULL ? version : "",
                   cipher_name != NULL ? cipher_name : "", curve != NULL ? curve : "", sni != NULL ? sni : "",
                   (int)alpn_len, alpn != NULL ? (const char *)alpn : "");
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof info) n = sizeof info - 1;
  lg_exchange_put_tls(c->engine, info, (size_t)n, ssl.SSL_session_reused(s) == 1);
  ssl.ERR_clear_error();
}

/* ------------------------------------------------------------------ reading and writing */

/*
 * A failed SSL_read / SSL_write as read(2) / write(2) would have said it: -1 with errno EAGAIN
 * (wait for the next edge), the socket's own errno (`lost` when the peer just went away), or
 * EPROTO for a TLS error; 0 for the peer's end (close_notify, or, with
 * SSL_OP_IGNORE_UNEXPECTED_EOF, a FIN without one).
 */
static ssize_t io_failed(lg_conn *c, int r, int lost) {
  int saved = errno;
  switch (ssl.SSL_get_error(c->ssl, r)) {
    case LG_SSL_ERROR_WANT_READ:
    case LG_SSL_ERROR_WANT_WRITE:
      errno = EAGAIN;
      return -1;
    case LG_SSL_ERROR_ZERO_RETURN:
      return 0;
    case LG_SSL_ERROR_SYSCALL:
      ssl.ERR_clear_error();
      errno = saved != 0 ? saved : lost;
      return -1;
    default:
      ssl.ERR_clear_error();
      errno = EPROTO;
      return -1;
  }
}

ssize_t lg_tls_read(lg_conn *c, void *buf, size_t len) {
  ssl.ERR_clear_error();
  size_t n = 0;
  int r = ssl.SSL_read_ex(c->ssl, buf, len, &n);
  if (r == 1) return (ssize_t)n;
  return io_failed(c, r, ECONNRESET);
}

/*
 * lg_wq_flush_to's writer: one SSL_write of the first chunk, or of the first chunks gathered into
 * one record when they are small (a head and a short body: one record, one write(2)). A try that
 * would block is repeated with the same bytes first (the queue only grows behind them), as
 * OpenSSL requires; ACCEPT_MOVING_WRITE_BUFFER lets them come from another address.
 */
static ssize_t write_record(void *owner, const struct iovec *iov, int count) {
  static _Thread_local char gathered[RECORD_BYTES];
  lg_conn *c = owner;
  const void *bytes = iov[0].iov_base;
  size_t len = iov[0].iov_len;
  if (count > 1 && len < RECORD_BYTES) {
    len = 0;
    for (int i = 0; i < count && len < RECORD_BYTES; i++) {
      size_t take = iov[i].iov_len < RECORD_BYTES - len ? iov[i].iov_len : RECORD_BYTES - len;
      memcpy(gathered + len, iov[i].iov_base, take);
      len += take;
    }
    bytes = gathered;
  }
  ssl.ERR_clear_error();
  size_t written = 0;
  int r = ssl.SSL_write_ex(c->ssl, bytes, len, &written);
  if (r == 1) return (ssize_t)written;
  /* The peer's close_notify: nothing more can be written (a 0 here would be taken as "try again"). */
  if (io_failed(c, r, EPIPE) == 0) errno = EPIPE;
  return -1;
}

int lg_tls_flush(lg_conn *c) { return lg_wq_flush_to(&c->out, write_record, c, &c->bytes_out); }

void lg_tls_close_notify(lg_conn *c) {
  ssl.ERR_clear_error();
  /* Best effort: a socket that cannot take it now is closed after the grace anyway. */
  ssl.SSL_shutdown(c->ssl);
  ssl.ERR_clear_error();
}

void lg_tls_release(lg_conn *c) {
  if (c->ssl == NULL) return;
  if (c->tls_handshaking) unlink_handshake(c);
  ssl.SSL_free(c->ssl);
  c->ssl = NULL;
  lg_tls_context_unref(c->tls_context);
  c->tls_context = NULL;
}
