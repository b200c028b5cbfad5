/*
 * Upstream connections: the engine's side of Legate's HTTP/1.1 client codec
 * (src/http/client-connection.ts is the reference; src/engine/engine-client-connection.ts is the
 * JS half). One request at a time; the pool (JS, src/upstream/conn-pool.ts) decides reuse.
 *
 * A response body goes to JS (RESPONSE_DATA events) unless JS piped it to the downstream
 * connection, in which case it is framed for the client here; the end of a piped body also ends
 * the downstream response here, so JS sees only the completion.
 *
 * A stream completes only once the connection is clean — parser back at a message boundary,
 * nothing unparsed, no read-disable count left over, no pipe — and RESPONSE_COMPLETE says whether
 * it may be reused; the pool closes it otherwise (the lesson of the chunked-response hang).
 */
#define _GNU_SOURCE
#include "engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Envoy's limit for HTTP/1 response heads (max_response_headers_kb default 80). */
#define MAX_RESPONSE_HEAD_BYTES (80 * 1024)

/* What the parser executes to leave its message-complete state. */
static uint8_t NOTHING[1];

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

static const lg_h1_limits LIMITS = {
    .max_head_bytes = MAX_RESPONSE_HEAD_BYTES,
    .max_headers = UINT32_MAX,
    .underscores = LG_H1_UNDERSCORES_ALLOW,
    .accept_http10 = true,
    .max_body_bytes = 0,
};

bool lg_sockaddr_parse(const char *ip, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)port);
    *len = sizeof *v4;
    return true;
  }
  if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)port);
    *len = sizeof *v6;
    return true;
  }
  return false;
}

lg_conn *lg_upstream_connect(lg_engine *e, const char *ip, int port, int *err) {
  struct sockaddr_storage ss;
  socklen_t len;
  if (!lg_sockaddr_parse(ip, port, &ss, &len)) {
    *err = EINVAL;
    return NULL;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *err = errno;
    return NULL;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  lg_conn *c = lg_conn_new(e, fd, LG_CONN_UPSTREAM);
  if (c == NULL) {
    close(fd);
    *err = ENOMEM;
    return NULL;
  }
  lg_h1_init(&c->parser, LG_H1_RESPONSE, &LIMITS, &CALLBACKS, c);
  c->connecting = true;
  int r;
  do {
    r = connect(fd, (struct sockaddr *)&ss, len);
  } while (r < 0 && errno == EINTR);
  if (r == 0) {
    /* Connected at once (loopback may): JS still hears of it from the loop, as from Node. */
    lg_bridge_defer(e, LG_EV_CONNECTED, c->id, 0, 0);
    c->connecting = false;
    c->writable = true;
  } else if (errno != EINPROGRESS) {
    int code = errno;
    c->connecting = false;
    c->connect_failed = true;
    lg_bridge_defer(e, LG_EV_CONNECT_FAILED, c->id, code, 0);
    lg_conn_close(c, LG_RESET_NONE);
  }
  return c;
}

void lg_upstream_connected(lg_conn *c, int err) {
  c->connecting = false;
  if (err == 0) {
    lg_emit(c->engine, LG_EV_CONNECTED, c->id, 0, 0);
    return;
  }
  c->connect_failed = true;
  lg_emit(c->engine, LG_EV_CONNECT_FAILED, c->id, err, 0);
  lg_conn_close(c, LG_RESET_NONE);
}

/* ---- the request side, called by the bridge (JS) */

void lg_upstream_start_stream(lg_conn *c, bool head_request, bool reusable) {
  c->stream_active = true;
  c->head_request = head_request;
  lg_h1_expect_response_to_head(&c->parser, head_request);
  c->reusable = reusable;
  c->request_complete = false;
  c->response_started = false;
  c->response_complete = false;
  c->trailers_seen = false;
  c->pipe_dropped = false;
  c->pipe.bytes = 0;
}

void lg_upstream_request_complete(lg_conn *c) { c->request_complete = true; }

/* ---- completion */

/* Ends the stream with a reset reported to JS, and closes the connection. */
static void fail_stream(lg_conn *c, lg_reset_reason reason) {
  lg_conn_close(c, c->stream_active ? reason : LG_RESET_NONE);
}

/* The response is done and the parser is between messages: hand the connection back, clean. */
static void complete_stream(lg_conn *c) {
  if (!c->request_complete) {
    /* The server answered before the whole request was sent: the rest cannot go on this connection. */
    c->reusable = false;
  }
  lg_conn *sink = c->pipe.sink;
  uint64_t piped = c->pipe.bytes;
  if (sink != NULL) {
    /* A piped body ends here; trailers (rare) go through JS, which ends the response with them. */
    if (!c->trailers_seen) {
      lg_conn_write_body_end(sink, NULL, 0);
      lg_downstream_response_complete(sink);
    }
    lg_conn_unpipe_source(c);
  }
  bool reusable = c->reusable && !c->closed && !c->peer_eof && c->pending_len == 0;
  c->stream_active = false;
  c->read_disable = 0;
  c->paused_by_pipe = false;
  lg_exchange_put_piped(c->engine, piped);
  lg_emit(c->engine, LG_EV_RESPONSE_COMPLETE, c->id, reusable, c->trailers_seen);
  if (c->closed) return;
  if (!reusable) lg_conn_close(c, LG_RESET_NONE);
  /* Back in the pool with reading on (read disables belonged to the stream), to see a close. */
  else lg_conn_update_reading(c);
}

void lg_upstream_feed(lg_conn *c, uint8_t *data, size_t len) {
  size_t consumed = 0;
  lg_h1_result r = lg_h1_execute(&c->parser, data, len, &consumed);
  if (r == LG_H1_OK || c->closed) return;
  if (r == LG_H1_PAUSED && c->stream_active) {
    /* Bytes after a complete response are not a response to anything we sent. */
    if (consumed != len) c->reusable = false;
    lg_h1_resume(&c->parser);
    size_t none;
    lg_h1_execute(&c->parser, NOTHING, 0, &none);
    complete_stream(c);
    return;
  }
  fail_stream(c, LG_RESET_PROTOCOL_ERROR);
}

/* The server closed its side: this completes a close-delimited body, anything else is cut short. */
void lg_upstream_on_eof(lg_conn *c) {
  if (c->stream_active && c->response_started && !c->response_complete) {
    if (lg_h1_finish(&c->parser) == LG_H1_PAUSED) {
      c->reusable = false;
      complete_stream(c);
    } else {
      fail_stream(c, LG_RESET_REMOTE);
    }
  }
  if (!c->closed) lg_conn_close(c, c->stream_active ? LG_RESET_REMOTE : LG_RESET_NONE);
}

/* ---- parser callbacks */

static int on_message_begin(void *owner) {
  lg_conn *c = owner;
  /* Bytes from the server with no request outstanding (or after its response) break framing. */
  if (!c->stream_active || c->response_complete) return LG_H1_ABORT;
  c->body_bytes = 0;
  c->content_length = -1;
  return 0;
}

/* A 1xx other than 101: JS relays it (or not) and parsing goes on with the final response. */
static int on_informational(lg_conn *c, const lg_h1_head *head) {
  lg_exchange_put_head(c->engine, head);
  lg_emit(c->engine, LG_EV_RESPONSE_1XX, c->id, head->status, 0);
  return c->stream_active && !c->closed ? LG_H1_CONTINUE : LG_H1_ABORT;
}

static int on_head(void *owner, const lg_h1_head *head) {
  lg_conn *c = owner;
  if (head->informational) return on_informational(c, head);
  int result = lg_h1_response_body(head, c->head_request);
  bool end_stream;
  c->response_started = true;
  c->status = head->status;
  c->content_length = head->content_length;
  c->body_chunked = head->chunked;
  if (!head->keep_alive) c->reusable = false;
  if (result == LG_H1_SKIP_BODY_UPGRADE) {
    /* No tunnel support yet: the exchange ends here and the connection is done for. */
    c->reusable = false;
    end_stream = true;
  } else if (result == LG_H1_SKIP_BODY) {
    end_stream = true;
  } else if (head->chunked) {
    end_stream = false;
  } else if (head->content_length >= 0) {
    end_stream = head->content_length == 0;
  } else {
    /* Close-delimited body: it ends when the server closes. */
    c->reusable = false;
    end_stream = false;
  }
  if (end_stream) c->response_complete = true;
  lg_exchange_put_head(c->engine, head);
  lg_emit(c->engine, LG_EV_RESPONSE_HEAD, c->id, end_stream, 0);
  return c->stream_active && !c->closed ? result : LG_H1_ABORT;
}

static int on_body(void *owner, const uint8_t *at, size_t len) {
  lg_conn *c = owner;
  c->body_bytes += len;
  bool end = !c->body_chunked && c->content_length >= 0 && c->body_bytes == (uint64_t)c->content_length;
  if (end) c->response_complete = true;
  lg_conn *sink = c->pipe.sink;
  if (sink != NULL) {
    lg_conn_write_body(sink, at, len);
    c->pipe.bytes += len;
    lg_conn_pipe_pressure(c, sink);
  } else if (!c->pipe_dropped) {
    lg_exchange_put_data(c->engine, at, len);
    lg_emit(c->engine, LG_EV_RESPONSE_DATA, c->id, (double)len, end);
  }
  return c->stream_active && !c->closed ? 0 : LG_H1_ABORT;
}

static int on_trailers(void *owner, const lg_h1_head *trailers) {
  lg_conn *c = owner;
  c->trailers_seen = true;
  lg_exchange_put_head(c->engine, trailers);
  return 0;
}

/* Delivered at RESPONSE_COMPLETE, outside the parser, so a reuse at once never races this parse. */
static int on_message_complete(void *owner) {
  lg_conn *c = owner;
  c->response_complete = true;
  return LG_H1_PAUSE;
}
