/*
 * Downstream connections: the engine's side of Legate's HTTP/1.1 server codec
 * (src/http/server-connection.ts is the reference; src/engine/engine-server-connection.ts is the
 * JS half that makes the decisions the JS codec makes, e.g. the response framing).
 *
 * One request at a time, as the JS codec: when a request is complete but its response is not, the
 * parser pauses and the connection stops reading; bytes already read after it (pipelining) are
 * kept and parsed once the response ends, so responses go out in order. Requests that fail parsing
 * or Legate's checks get the listener's prepared local reply and the connection ends (FIN after the
 * reply, input read and dropped until the peer's FIN or a delayed-close grace).
 *
 * A request body goes to JS (REQUEST_DATA events) unless JS piped it to an upstream connection,
 * in which case it is framed for the upstream here and never leaves C.
 */
#define _GNU_SOURCE
#include "engine.h"
#include "tls.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int on_message_begin(void *owner);
static int on_head(void *owner, const lg_h1_head *head);
static int on_body(void *owner, const uint8_t *at, size_t len);
static int on_trailers(void *owner, const lg_h1_head *trailers);
static int on_message_complete(void *owner);

static const lg_h1_callbacks CALLBACKS = {
    .on_message_begin = on_message_begin,
    .on_head = on_head,
    .on_body = on_body,
    .on_trailers = on_trailers,
    .on_message_complete = on_message_complete,
};

static lg_conn *adopt(lg_engine *e, lg_listener *l, int fd);

/* What the parser executes to go on from a pause with no bytes kept. */
static uint8_t NOTHING[1];

int lg_listener_reply_slot(uint16_t status) {
  static const uint16_t slots[LG_REPLY_SLOTS] = {400, 408, 413, 426, 431, 501, 505};
  for (int i = 0; i < LG_REPLY_SLOTS; i++)
    if (slots[i] == status) return i;
  return 0; /* anything else is answered as a 400 */
}

static void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void lg_downstream_accept(lg_engine *e, lg_listener *l) {
  for (;;) {
    struct sockaddr_storage remote;
    socklen_t remote_len = sizeof remote;
    int fd = accept4(l->fd, (struct sockaddr *)&remote, &remote_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      /* EAGAIN: accepted everything; EMFILE/ENFILE: leave the rest in the backlog. */
      return;
    }
    lg_conn *c = adopt(e, l, fd);
    if (c != NULL) lg_downstream_announce(c, &remote);
  }
}

void lg_listener_learn_local(lg_listener *l) {
  socklen_t len = sizeof l->local;
  memset(&l->local, 0, sizeof l->local);
  if (l->fd < 0 || getsockname(l->fd, (struct sockaddr *)&l->local, &len) != 0) return;
  if (l->local.ss_family == AF_INET)
    l->local_fixed = ((struct sockaddr_in *)&l->local)->sin_addr.s_addr != htonl(INADDR_ANY);
  else if (l->local.ss_family == AF_INET6)
    l->local_fixed = !IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&l->local)->sin6_addr);
}

static lg_conn *adopt(lg_engine *e, lg_listener *l, int fd) {
  set_nodelay(fd);
  lg_conn *c = lg_conn_new(e, fd, LG_CONN_DOWNSTREAM);
  if (c == NULL) {
    close(fd);
    return NULL;
  }
  c->listener = l;
  c->protocol_known = !l->detect_http2;
  c->writable = true;
  c->last_status = 0;
  lg_h1_init(&c->parser, LG_H1_REQUEST, &l->limits, &CALLBACKS, c);
  if (l->tls != NULL && !lg_tls_accept(c)) {
    /* Out of memory: the connection fails as a handshake would (JS hears TLS_FAILED). */
    c->tls_handshaking = true;
    c->tls_failure = LG_TLS_FAILED_HANDSHAKE;
    lg_conn_close(c, LG_RESET_NONE);
  }
  return c;
}

/*
 * Tells JS about a new connection (from a dispatch: its addresses travel in the exchange). A TLS
 * connection is told once its handshake succeeded (tls.c), with its TLS facts (b = 1).
 */
void lg_downstream_announce(lg_conn *c, const struct sockaddr_storage *remote) {
  if (c->closed || c->tls_handshaking) return;
  lg_listener *l = c->listener;
  lg_exchange_put_addresses(c->engine, c->fd, remote, l->local_fixed ? &l->local : NULL);
  if (c->ssl != NULL) lg_tls_put_info(c);
  lg_emit(c->engine, LG_EV_ACCEPTED, c->id, c->listener->id, c->ssl != NULL);
}

/* From JS (engineAdopt, exact_balance): the conn is announced by the next dispatch. */
lg_conn *lg_downstream_adopt_from_js(lg_engine *e, lg_listener *l, int fd) {
  lg_conn *c = adopt(e, l, fd);
  if (c == NULL) return NULL;
  c->in_announce_list = true;
  c->next_announce = e->announce;
  e->announce = c;
  lg_loop_schedule(e);
  return c;
}

/* ---- parsing */

/* The connection ends after what is queued: FIN, then input is dropped until the peer's FIN. */
void lg_downstream_end(lg_conn *c) {
  if (c->ending || c->closed) return;
  c->ending = true;
  lg_conn_mark_dirty(c);
  lg_conn_update_reading(c);
}

/* A request the engine refuses itself: the listener's local reply, then the connection ends. */
static void reject(lg_conn *c, uint16_t status) {
  lg_listener *l = c->listener;
  /* Once the response started, nothing more can be said on this connection. */
  bool may_reply = !(c->stream_active && c->response_started);
  c->head_in_progress = false;
  /* As the JS codec: the owner hears of the error first (status 0: no reply is sent)... */
  lg_emit(c->engine, LG_EV_PROTOCOL_ERROR, c->id, may_reply ? status : 0, 0);
  if (c->stream_active) {
    /* ...then, if JS saw the head (the error is in the body), it loses the stream. */
    c->stream_active = false;
    c->reset_pending = status == 413 ? LG_RESET_OVERFLOW : LG_RESET_PROTOCOL_ERROR;
    lg_emit(c->engine, LG_EV_REQUEST_RESET, c->id, c->reset_pending, 0);
  }
  if (c->closed) return;
  if (may_reply) {
    int slot = lg_listener_reply_slot(status);
    lg_conn_write(c, l->reply[slot], l->reply_len[slot]);
  }
  lg_downstream_end(c);
}

/*
 * The connection goes to JS with the bytes kept in `pending` (in the exchange): `event` says why.
 * A plaintext connection's fd goes as it is; a TLS connection's session stays here, and JS gets
 * the end of a socketpair carrying its plaintext (tls_bridge.c).
 */
void lg_downstream_hand_off(lg_conn *c, lg_event event) {
  size_t n = c->pending_len == 0 ? 0 : lg_exchange_put_data(c->engine, c->pending, c->pending_len);
  if (n != c->pending_len) {
    lg_conn_close(c, LG_RESET_LOCAL);
    return;
  }
  int fd = c->fd;
  if (c->ssl != NULL) fd = lg_tls_bridge_start(c);
  else lg_conn_hand_off(c);
  if (fd < 0) {
    lg_conn_close(c, LG_RESET_LOCAL);
    return;
  }
  lg_emit(c->engine, event, c->id, fd, (double)n);
}

static void parse(lg_conn *c, uint8_t *data, size_t len) {
  for (;;) {
    size_t consumed = 0;
    lg_h1_result r = lg_h1_execute(&c->parser, data, len, &consumed);
    if (r == LG_H1_OK) break;
    if (c->ending || c->closed) return;
    data += consumed;
    len -= consumed;
    if ((r == LG_H1_PAUSED || r == LG_H1_PAUSED_UPGRADE) && c->upgrade_handoff) {
      /* The upgrade request is whole: it and whatever followed it go to JS. */
      if (lg_conn_keep_pending(c, data, len) != 0) lg_conn_close(c, LG_RESET_LOCAL);
      else lg_downstream_hand_off(c, LG_EV_UPGRADE_HANDED_OFF);
      return;
    }
    if (r == LG_H1_PAUSED_UPGRADE && !c->stream_active && c->last_status != 101) {
      /* The upgrade was refused with an ordinary response: what follows is HTTP again. */
      lg_h1_resume_after_upgrade(&c->parser);
      continue;
    }
    if (r == LG_H1_PAUSED || r == LG_H1_PAUSED_UPGRADE) {
      if (lg_conn_keep_pending(c, data, len) != 0) {
        lg_conn_close(c, LG_RESET_LOCAL);
        return;
      }
      c->waiting = true;
      return;
    }
    reject(c, lg_h1_reject_status(&c->parser));
    return;
  }
  /* A head still arriving: the connection manager arms request_headers_timeout from its first byte. */
  if (c->head_in_progress && !c->begin_reported) {
    c->begin_reported = true;
    lg_emit(c->engine, LG_EV_REQUEST_BEGIN, c->id, 0, 0);
  }
}

/* RFC 9113 §3.4: what a client speaking HTTP/2 with prior knowledge sends first. */
static const char HTTP2_PREFACE[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define HTTP2_PREFACE_LEN (sizeof HTTP2_PREFACE - 1)

/*
 * codec_type AUTO (src/http/protocol-detect.ts is the JS path's twin): the first bytes decide. The
 * whole preface hands the connection to JS with every byte read so far; a prefix of it waits for
 * more; anything else is HTTP/1 and parsed as usual. True when `data` was dealt with here.
 */
static bool detect_protocol(lg_conn *c, uint8_t *data, size_t len) {
  size_t have = c->pending_len; /* a prefix of the preface kept from earlier reads */
  size_t compare = len < HTTP2_PREFACE_LEN - have ? len : HTTP2_PREFACE_LEN - have;
  if (memcmp(data, HTTP2_PREFACE + have, compare) != 0) {
    c->protocol_known = true;
    if (have == 0) return false;
    uint8_t *kept = c->pending;
    c->pending = NULL;
    c->pending_len = 0;
    parse(c, kept, have);
    if (!c->ending && !c->closed) lg_downstream_feed(c, data, len);
    free(kept);
    return true;
  }
  if (lg_conn_keep_pending(c, data, len) != 0) {
    lg_conn_close(c, LG_RESET_LOCAL);
    return true;
  }
  if (c->pending_len < HTTP2_PREFACE_LEN) return true;
  lg_downstream_hand_off(c, LG_EV_HANDED_OFF);
  return true;
}

void lg_downstream_feed(lg_conn *c, uint8_t *data, size_t len) {
  if (!c->protocol_known && detect_protocol(c, data, len)) return;
  if (c->waiting) {
    /* Only when a read was under way as the parser paused: keep it behind the rest. */
    if (lg_conn_keep_pending(c, data, len) != 0) lg_conn_close(c, LG_RESET_LOCAL);
    return;
  }
  parse(c, data, len);
}

/* The response that held the parser is done: parse what was kept, then read again. */
void lg_downstream_continue(lg_conn *c) {
  if (!c->waiting || c->stream_active || c->ending) return;
  c->waiting = false;
  uint8_t *data = c->pending;
  size_t len = c->pending_len;
  c->pending = NULL;
  c->pending_len = 0;
  lg_h1_resume(&c->parser);
  parse(c, data != NULL ? data : NOTHING, len);
  free(data);
}

/* The peer half-closed: an exchange still in flight cannot be answered reliably, so it is reset. */
void lg_downstream_on_eof(lg_conn *c) {
  lg_conn_close(c, c->stream_active ? LG_RESET_REMOTE : LG_RESET_NONE);
}

static int on_message_begin(void *owner) {
  lg_conn *c = owner;
  if (c->ending) return LG_H1_ABORT;
  c->head_in_progress = true;
  c->begin_reported = false;
  c->trailers_seen = false;
  c->body_bytes = 0;
  return 0;
}

/*
 * A request asking for an upgrade on a listener that hands them off: its head, as parsed (field
 * names in lower case, values trimmed; what Legate's JS codec makes of the original), goes into
 * `pending`, followed by its body and whatever comes after it, for JS to read again.
 */
static bool keep_upgrade_request(lg_conn *c, const lg_h1_head *h) {
  const uint8_t *b = h->base;
  size_t size = h->method.len + 1 + h->url.len + sizeof " HTTP/1.1\r\n" - 1 + 2;
  for (uint32_t i = 0; i < h->header_count; i++)
    size += h->headers[i].name.len + 2 + h->headers[i].value.len + 2;
  uint8_t *p = realloc(c->pending, c->pending_len + size);
  if (p == NULL) return false;
  c->pending = p;
  uint8_t *out = p + c->pending_len;
#define PUT(bytes, n) (memcpy(out, (bytes), (n)), out += (n))
  PUT(b + h->method.off, h->method.len);
  *out++ = ' ';
  PUT(b + h->url.off, h->url.len);
  PUT(" HTTP/1.", 8);
  *out++ = h->version_minor == 0 ? '0' : '1';
  PUT("\r\n", 2);
  for (uint32_t i = 0; i < h->header_count; i++) {
    PUT(b + h->headers[i].name.off, h->headers[i].name.len);
    PUT(": ", 2);
    PUT(b + h->headers[i].value.off, h->headers[i].value.len);
    PUT("\r\n", 2);
  }
  PUT("\r\n", 2);
#undef PUT
  c->pending_len = (size_t)(out - p);
  return true;
}

static int on_head(void *owner, const lg_h1_head *head) {
  lg_conn *c = owner;
  lg_engine *e = c->engine;
  c->head_in_progress = false;
  if (head->upgrade && c->listener->hand_off_upgrades) {
    c->upgrade_handoff = true;
    return keep_upgrade_request(c, head) ? LG_H1_CONTINUE : LG_H1_ABORT;
  }
  bool end_stream = !head->chunked && head->content_length <= 0;
  c->stream_active = true;
  c->request_complete = end_stream;
  c->response_started = false;
  c->response_complete = false;
  c->close_after_response = false;
  c->content_length = head->content_length;
  c->pipe.bytes = 0;
  c->pipe_dropped = false;
  c->head_request = head->method_id == LG_LLHTTP_HEAD;
  lg_exchange_put_head(e, head);
  lg_emit(e, LG_EV_REQUEST_HEAD, c->id, end_stream, 0);
  return c->ending || c->closed ? LG_H1_ABORT : LG_H1_CONTINUE;
}

/* The request piped to upstream `sink` is complete: its end framing goes out, and the upstream
 * stream knows its request is all sent (so the connection may be reused after the response). */
static void end_piped_request(lg_conn *sink) {
  lg_conn_write_body_end(sink, NULL, 0);
  lg_upstream_request_complete(sink);
}

static int on_body(void *owner, const uint8_t *at, size_t len) {
  lg_conn *c = owner;
  if (c->upgrade_handoff) return lg_conn_keep_pending(c, at, len) == 0 ? 0 : LG_H1_ABORT;
  c->body_bytes += len;
  bool end = c->content_length >= 0 && c->body_bytes == (uint64_t)c->content_length;
  if (!c->stream_active) return c->ending || c->closed ? LG_H1_ABORT : 0;
  if (end) c->request_complete = true;
  lg_conn *sink = c->pipe.sink;
  if (sink != NULL) {
    lg_conn_write_body(sink, at, len);
    c->pipe.bytes += len;
    lg_conn_pipe_pressure(c, sink);
    if (end) {
      end_piped_request(sink);
      lg_exchange_put_piped(c->engine, c->pipe.bytes);
      lg_emit(c->engine, LG_EV_REQUEST_DATA, c->id, 0, 1);
    }
  } else if (!c->pipe_dropped) {
    lg_exchange_put_data(c->engine, at, len);
    lg_emit(c->engine, LG_EV_REQUEST_DATA, c->id, (double)len, end);
  }
  return c->ending || c->closed ? LG_H1_ABORT : 0;
}

static int on_trailers(void *owner, const lg_h1_head *trailers) {
  lg_conn *c = owner;
  if (!c->stream_active || c->request_complete) return 0;
  c->request_complete = true;
  c->trailers_seen = true;
  lg_conn *sink = c->pipe.sink;
  /* Request trailers do not reach an HTTP/1.1 upstream (the router drops them, as Envoy's H1 codec). */
  if (sink != NULL) end_piped_request(sink);
  lg_exchange_put_piped(c->engine, c->pipe.bytes);
  lg_exchange_put_head(c->engine, trailers);
  lg_emit(c->engine, LG_EV_REQUEST_TRAILERS, c->id, 0, 0);
  return c->ending || c->closed ? LG_H1_ABORT : 0;
}

static int on_message_complete(void *owner) {
  lg_conn *c = owner;
  if (c->stream_active && !c->request_complete) {
    c->request_complete = true;
    lg_conn *sink = c->pipe.sink;
    if (sink != NULL) end_piped_request(sink);
    lg_exchange_put_piped(c->engine, c->pipe.bytes);
    lg_emit(c->engine, LG_EV_REQUEST_DATA, c->id, 0, 1);
    if (c->ending || c->closed) return LG_H1_ABORT;
  }
  /* The request body is over: the upstream gets nothing more from here. */
  if (c->pipe.sink != NULL) lg_conn_unpipe_source(c);
  /* Wait for the response (or stop for good when going away) before parsing the next request; an
   * upgrade request to hand off stops here too. */
  return c->stream_active || c->going_away || c->upgrade_handoff ? LG_H1_PAUSE : 0;
}

/* ---- the response side, called by the bridge (JS) or by a response pipe that ended */

/* Mirrors Http1ServerConnection.responseComplete. */
void lg_downstream_response_complete(lg_conn *c) {
  if (c->closed) return;
  c->response_complete = true;
  c->last_status = c->status;
  if (c->pipe_source != NULL) lg_conn_unpipe_sink(c);
  bool must_end = c->close_after_response || !c->request_complete;
  c->stream_active = false;
  /* Read disables belong to the stream: one its owner never undid must not stall the next request. */
  c->read_disable = 0;
  if (must_end || c->going_away) {
    lg_downstream_end(c);
    return;
  }
  if (c->waiting) lg_conn_schedule_read(c);
}

/* Mirrors Http1ServerConnection.goAway: end at once when idle, else after the current response. */
void lg_downstream_go_away(lg_conn *c) {
  c->going_away = true;
  if (!c->stream_active) lg_downstream_end(c);
}
