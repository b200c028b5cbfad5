/*
 * Legate's native HTTP/1.1 engine: the worker thread's sockets, parsing, framing and body relay in
 * C, with every decision left to the JavaScript that already makes it (HTTP connection manager,
 * filters, router, connection pool). See README.md in this folder for the design and the
 * contract with src/engine/.
 *
 * One engine per worker thread (per napi_env). It runs on the worker's own libuv loop: one
 * uv_poll_t watches an epoll instance of the engine's, whose events (edge-triggered) are the
 * engine's sockets. Everything here runs on that one thread; nothing is locked.
 *
 * Objects:
 *   lg_engine    per thread: epoll, the read buffer, the exchange buffer shared with JS, the
 *                connection table, queues of work deferred to the end of a dispatch.
 *   lg_listener  a listening socket the engine accepts on (a SO_REUSEPORT fd from the primary).
 *   lg_conn      one TCP connection: downstream (a client of Legate) or upstream (Legate's
 *                connection to a host). JS names it by its id; ids are reused only after JS has
 *                been told the connection closed.
 */
#ifndef LEGATE_ENGINE_H
#define LEGATE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <node_api.h>
#include <uv.h>

#include "h1_parser.h"
#include "wqueue.h"

/*
 * The version of the functions below as JS calls them (src/engine/native-engine.ts checks it):
 * bump it whenever an argument list or an event changes, so JS never drives a stale build.
 */
#define LG_ENGINE_INTERFACE 9

typedef struct lg_engine lg_engine;
typedef struct lg_conn lg_conn;
typedef struct lg_response_plan lg_response_plan;
typedef struct lg_tls_context lg_tls_context;
struct lg_ssl;

/* server_header_transformation (response_head.c). */
typedef enum { LG_SERVER_OVERWRITE = 0, LG_SERVER_APPEND_IF_ABSENT = 1, LG_SERVER_PASS_THROUGH = 2 } lg_server_header;

/* serverWriteProxiedHead's flags (what JS knows of the exchange), and its result's close bit. */
enum {
  LG_PROXIED_KEEP_ALIVE = 1, /* the request allows keep-alive */
  LG_PROXIED_HTTP11 = 2,     /* the request was HTTP/1.1 (else 1.0) */
  LG_PROXIED_DRAINING = 4,   /* the connection is draining */
  LG_PROXIED_END_STREAM = 8, /* the upstream's head ended its response */
  LG_PROXIED_CLOSES = 4,     /* result: the connection closes after this response */
};

/* Status lines by status (JS's table, src/http/local-reply.ts), for responses without a reason. */
#define LG_STATUS_LINES 600

/* How a body is framed on the wire (the same four cases as src/http/server-connection.ts). */
typedef enum {
  LG_FRAMING_NONE = 0,            /* no body (HEAD, 204, 304, endStream in the head) */
  LG_FRAMING_CONTENT_LENGTH = 1,  /* raw bytes, the length was announced */
  LG_FRAMING_CHUNKED = 2,         /* each piece gets a chunk header; the end is 0\r\n\r\n */
  LG_FRAMING_CLOSE_DELIMITED = 3, /* raw bytes; the end is the connection's FIN */
} lg_framing;

typedef enum { LG_CONN_DOWNSTREAM = 1, LG_CONN_UPSTREAM = 2 } lg_conn_kind;

/* Events the engine reports to JS: onEvent(type, conn, a, b). See README.md for each one. */
typedef enum {
  LG_EV_ACCEPTED = 1,          /* conn accepted on listener a; addresses in the exchange */
  LG_EV_REQUEST_BEGIN = 2,     /* first byte of a request whose head did not arrive whole */
  LG_EV_REQUEST_HEAD = 3,      /* a = endStream; the head is in the exchange */
  LG_EV_REQUEST_DATA = 4,      /* a = byte count (at exchange data offset), b = endStream */
  LG_EV_REQUEST_TRAILERS = 5,  /* trailers in the exchange; ends the request */
  LG_EV_PROTOCOL_ERROR = 6,    /* the engine answered a malformed request with status a */
  LG_EV_DOWNSTREAM_WATERMARK = 7, /* a = 1 above / 0 below the write buffer watermark */
  LG_EV_DOWNSTREAM_CLOSED = 8,    /* a = reset reason if a stream was active (else 0) */
  LG_EV_CONNECTED = 9,            /* upstream connect completed */
  LG_EV_CONNECT_FAILED = 10,      /* a = errno */
  LG_EV_RESPONSE_1XX = 11,        /* informational head in the exchange */
  LG_EV_RESPONSE_HEAD = 12,       /* a = endStream; the head is in the exchange */
  LG_EV_RESPONSE_DATA = 13,       /* a = byte count, b = endStream */
  LG_EV_RESPONSE_COMPLETE = 14,   /* a = reusable, b = 1 when trailers are in the exchange */
  LG_EV_UPSTREAM_RESET = 15,      /* a = reset reason */
  LG_EV_UPSTREAM_WATERMARK = 16,  /* a = above/below (request body outran the upstream) */
  LG_EV_UPSTREAM_CLOSED = 17,
  LG_EV_REQUEST_RESET = 18,       /* a = reset reason: the request failed after its head (413, bad chunk) */
  LG_EV_L4_BATCH = 19,            /* tcp_proxy records (l4.h): conn = buffer, a = count, b = generation */
  LG_EV_HANDED_OFF = 20, /* the conn opened with the HTTP/2 preface: a = its fd, now JS's; b = bytes read (exchange) */
  LG_EV_UPGRADE_HANDED_OFF = 21, /* a request asks for an upgrade (hand_off_upgrades): a, b as HANDED_OFF,
                                    the request's bytes (its head as parsed) first */
  LG_EV_TLS_FAILED = 22, /* a connection of a TLS listener closed before its handshake succeeded (JS
                            never heard ACCEPTED): a = listener id, b = lg_tls_failure */
} lg_event;

/* codec.ts StreamResetReason, as numbers. */
typedef enum {
  LG_RESET_NONE = 0,
  LG_RESET_LOCAL = 1,
  LG_RESET_REMOTE = 2,
  LG_RESET_CONNECTION_FAILURE = 3,
  LG_RESET_CONNECTION_TERMINATION = 4,
  LG_RESET_OVERFLOW = 5,
  LG_RESET_PROTOCOL_ERROR = 6,
} lg_reset_reason;

/* The codec's own local replies, by slot: 400, 408, 413, 426, 431, 501, 505. */
#define LG_REPLY_SLOTS 7
int lg_listener_reply_slot(uint16_t status);

/* Per-listener settings for the downstream codec (src/http/server-connection.ts ServerCodecOptions). */
typedef struct lg_listener {
  int fd; /* -1: connections come only by adoption (exact_balance) */
  int32_t id;
  lg_h1_limits limits;
  /* Serialised once by JS (local-reply.ts) so the bytes agree with the JS codec's. */
  char *reply[LG_REPLY_SLOTS];
  size_t reply_len[LG_REPLY_SLOTS];
  bool closed;
  bool accept_pending; /* accept on the next dispatch (the fd may hold queued connections) */
  struct lg_l4_listener *l4; /* a tcp_proxy listener (l4.c), else NULL */
  /* codec_type AUTO: a connection whose first bytes are the HTTP/2 connection preface is handed to
   * JS (LG_EV_HANDED_OFF), whose HTTP/2 codec serves it; the engine speaks HTTP/1 only. */
  bool detect_http2;
  /* The HCM may enable upgrades: a connection whose request asks for one (Upgrade, CONNECT) is
   * handed to JS (LG_EV_UPGRADE_HANDED_OFF), whose codec tunnels; the engine does not. */
  bool hand_off_upgrades;
  /* The address every accepted socket has locally, when the listener is bound to one (not a
   * wildcard): no getsockname per connection then. */
  bool local_fixed;
  struct sockaddr_storage local;
  /* A TLS listener (tls.c): its context, and its connections still handshaking, in deadline order. */
  lg_tls_context *tls;
  uint32_t handshake_timeout_ms; /* transport_socket_connect_timeout (0: none) */
  /* codec_type AUTO on TLS: a connection that negotiated ALPN h2 goes to JS (HANDED_OFF, bridged). */
  bool alpn_h2_handoff;
  lg_conn *handshakes_head, *handshakes_tail;
} lg_listener;

/* Exchange control block (exchange.c, src/engine/exchange.ts): Int32 and Float64 field indexes. */
#define LG_CONTROL_BYTES 256
enum {
  LG_X_GENERATION = 0,
  LG_X_HEAD_BYTES = 1,
  LG_X_HEADER_COUNT = 2,
  LG_X_METHOD_OR_STATUS = 3,
  LG_X_VERSION_MAJOR = 4,
  LG_X_VERSION_MINOR = 5,
  LG_X_FLAGS = 6,
  LG_X_URL_OFF = 7,
  LG_X_URL_LEN = 8,
  LG_X_REASON_OFF = 9,
  LG_X_REASON_LEN = 10,
  LG_X_BYTES_OFF = 11,
  LG_X_REMOTE_LEN = 12,
  LG_X_REMOTE_PORT = 13,
  LG_X_LOCAL_LEN = 14,
  LG_X_LOCAL_PORT = 15,
  LG_X_TLS_LEN = 16,     /* ACCEPTED of a TLS connection: its facts, after the addresses (tls.c) */
  LG_X_TLS_RESUMED = 17,
};
enum { LG_XF_CONTENT_LENGTH = 16, LG_XF_PIPED_BYTES = 17 };

typedef struct lg_retired {
  void *memory;
  struct lg_retired *next;
} lg_retired;

/* One side of a body relay that bypasses JS (see pipe.c). */
typedef struct lg_pipe {
  lg_conn *sink;        /* where the body goes, or NULL */
  lg_framing framing;   /* how the sink frames it */
  uint64_t bytes;       /* body bytes moved (for access logs) */
} lg_pipe;

struct lg_conn {
  lg_engine *engine;
  int fd;
  int32_t id;
  lg_conn_kind kind;
  lg_listener *listener; /* downstream only */
  lg_h1_parser parser;
  lg_wqueue out;
  /* Edge-triggered readiness last reported by epoll, cleared on EAGAIN or a short read. */
  bool readable, writable;
  bool hangup_seen; /* epoll reported RDHUP/HUP/ERR: read on to the end, a short read proves nothing */
  bool connecting; /* upstream: connect() in progress */
  bool connect_failed; /* upstream: JS heard CONNECT_FAILED, not CLOSED */
  bool protocol_known; /* downstream: no HTTP/2 preface to look for (any more) */
  bool handed_off;     /* the fd went to JS (LG_EV_HANDED_OFF): not closed here, no CLOSED event */
  bool peer_eof;   /* read returned 0 */
  bool closed;     /* fd closed; the struct lives until JS is told */
  lg_reset_reason close_reason; /* the reset JS is told with the close (NONE: no stream was cut) */
  bool ending;     /* FIN queued after the output (downstream: discard further input) */
  bool fin_sent;
  bool in_dirty_list, in_resume_list, in_closing_list, in_announce_list;
  uint64_t close_deadline; /* delayed close after our FIN (uv_now ms) */
  uint32_t read_disable;   /* JS readDisable count (flow control of JS-delivered bodies) */
  bool paused_by_pipe;     /* the body this conn produces outran its sink */
  bool above_watermark;    /* we told JS the write buffer is above the high mark */
  /* Unparsed bytes kept while the parser waits (pipelined requests, bytes after a response). */
  uint8_t *pending;
  size_t pending_len;
  /* ---- the current exchange */
  bool stream_active;      /* downstream: head delivered, response not complete; upstream: busy */
  bool waiting;            /* downstream: request complete, parser paused until the response ends */
  bool request_complete;   /* downstream: whole request read; upstream: whole request written */
  bool response_started, response_complete;
  bool close_after_response;
  bool head_request;       /* upstream: the request was HEAD (no response body) */
  bool reusable;           /* upstream: may serve another request */
  bool going_away;         /* downstream: goAway(): end once no exchange is in flight */
  bool head_in_progress;   /* downstream: a request's first byte came, its head is incomplete */
  bool begin_reported;     /* downstream: JS was told (REQUEST_BEGIN) */
  bool upgrade_handoff;    /* downstream: the request asks for an upgrade; kept in `pending` for JS */
  bool trailers_seen;      /* the body ended with trailers */
  bool body_chunked;       /* upstream: the response body is chunked */
  bool pipe_dropped;       /* the sink of this conn's body went away: drop the rest */
  lg_reset_reason reset_pending;
  uint16_t status, last_status; /* downstream: the response's status, and the last one's */
  int64_t content_length;  /* of the body this conn is reading (-1: none/unknown) */
  uint64_t body_bytes;     /* of the body this conn is reading */
  lg_framing out_framing;  /* how this conn frames the body it is sending now */
  lg_pipe pipe;            /* this conn's incoming body, relayed to pipe.sink without JS */
  lg_conn *pipe_source;    /* the conn whose body this conn is the sink of */
  uint64_t bytes_in, bytes_out;
  uint64_t last_io_ms; /* uv_now() when bytes last moved either way (for stream_idle_timeout) */
  /* TLS (tls.c): the session, the context it came from, the handshake's deadline list. */
  struct lg_ssl *ssl;
  lg_tls_context *tls_context;
  bool tls_handshaking; /* not announced to JS yet */
  bool tls_socket_drained; /* the last read(2) OpenSSL made returned less than it asked for */
  uint8_t tls_failure;  /* lg_tls_failure, when the handshake ended the connection */
  lg_conn *hs_prev, *hs_next;
  uint64_t hs_deadline;
  /* A TLS connection JS continues (tls_bridge.c): the engine's end of the socketpair (-1: none),
   * what the client sent that JS has not read yet, and each side's state. */
  int bridge_fd;
  lg_wqueue to_bridge;
  bool bridged; /* JS heard HANDED_OFF: no CLOSED event follows */
  bool bridge_readable, bridge_writable, bridge_eof, bridge_fin_sent;
  lg_conn *next_dirty, *next_resume, *next_closed, *next_closing, *next_announce;
};

struct lg_engine {
  napi_env env;
  uv_loop_t *loop;
  uv_poll_t poll;
  uv_idle_t idle;          /* flushes deferred work requested from outside a dispatch */
  uv_timer_t close_timer;  /* delayed closes */
  int open_handles;
  bool idle_active;
  int epfd;
  napi_ref on_event;
  napi_ref resource;
  napi_async_context async;
  napi_handle_scope scope;
  napi_callback_scope callback_scope;
  /* Shared with JS (exchange.c): the control block and the data area. */
  uint8_t *control;
  napi_ref control_ref;
  uint8_t *data;
  size_t data_size;
  lg_retired *retired;
  /* Fields of the head in the data area that a head JS writes may name (exchange.c); 0 once the
   * event that carried the head returned. */
  uint32_t live_head_fields;
  /* The head in the exchange is a response's, during its event (a head may have no field at all). */
  bool live_response_head;
  uint8_t *composed; /* a head JS wrote with such fields put in (lg_exchange_compose_head) */
  size_t composed_size;
  char *scratch; /* JS strings copied in */
  size_t scratch_size;
  void *deferred; /* events raised while JS ran, delivered after it returned */
  uint32_t deferred_count, deferred_cap;
  int in_js;
  uint8_t *rbuf;
  size_t rbuf_size;
  lg_conn **conns;
  uint32_t conn_capacity;
  uint32_t *free_ids;
  uint32_t free_count;
  lg_listener **listeners;
  uint32_t listener_count;
  /* Depth of dispatch (C calling into JS): events emitted while 0 (inside a JS->C call) wait. */
  int dispatching;
  lg_conn *dirty;          /* conns with output to flush at the end of the dispatch */
  lg_conn *resume;         /* downstream conns whose parsing continues after a response */
  lg_conn *closed_list;    /* closed conns JS has not been told about */
  lg_conn *announce;       /* conns adopted from a JS call, announced (ACCEPTED) by the dispatch */
  lg_conn *closing_head, *closing_tail; /* FIN sent, closing after a grace (deadline order) */
  /* High/low water marks of a conn's write queue (bytes). */
  size_t high_water, low_water;
  bool destroyed;
  bool destroy_requested; /* by JS during a dispatch: done when the dispatch ends */
  struct lg_l4 *l4;       /* tcp_proxy sessions (l4.c), created with the first such listener */
  /* Proxied response heads composed natively (response_head.c). */
  lg_response_plan *plans;
  uint32_t plan_count;
  char *status_lines[LG_STATUS_LINES];
  size_t status_line_len[LG_STATUS_LINES];
  char date[64]; /* "date: <IMF-fixdate>\r\n" of second date_second */
  long date_second;
};

/* ---- loop.c */
int lg_loop_start(lg_engine *e);
void lg_loop_stop(lg_engine *e);
int lg_loop_add(lg_engine *e, int fd, void *tag);
int lg_loop_add_listener(lg_engine *e, int fd, uint32_t index);
/* Makes `l` the engine's listener number listener_count (its id); false when out of memory. */
bool lg_engine_add_listener(lg_engine *e, lg_listener *l);
/*
 * Starts accepting on `l`'s fd, when it has one (else connections come only by adoption): watched
 * by the engine's epoll, and what queued before is accepted from the next dispatch. 0, or -errno
 * (the listener is then closed).
 */
int lg_listener_start(lg_engine *e, lg_listener *l);
/* JS calls that make a listener end here: `lg_listener_start`, its id as the result, or a thrown
 * error (NULL). */
napi_value lg_bridge_start_listener(napi_env env, lg_engine *e, lg_listener *l);
/* Marks that deferred work exists (dirty/resume/closed lists, events); runs it soon. */
void lg_loop_schedule(lg_engine *e);
/* Runs the deferred work now (end of a dispatch). */
void lg_loop_flush(lg_engine *e);
void lg_loop_close_later(lg_engine *e, lg_conn *c, uint64_t ms);
/* Runs the engine's 100 ms tick (delayed closes, handshake deadlines) until nothing waits on it. */
void lg_loop_tick(lg_engine *e);

/* ---- bridge.c */
void lg_bridge_enter(lg_engine *e);
void lg_bridge_leave(lg_engine *e);
/* Tells JS now when the engine is dispatching, else after JS returns. */
bool lg_emit(lg_engine *e, lg_event type, int32_t conn, double a, double b);
void lg_bridge_defer(lg_engine *e, lg_event type, int32_t conn, double a, double b);
bool lg_bridge_flush_events(lg_engine *e);
void lg_bridge_conn_closed(lg_engine *e, lg_conn *c);
void lg_engine_free(lg_engine *e);
void lg_engine_destroy(lg_engine *e);
napi_status legate_define_engine(napi_env env, napi_value exports);
/* Argument helpers of the N-API files (bridge.c, l4_napi.c). This thread's engine, NULL once destroyed. */
lg_engine *engine_of(napi_env env);
/* engine_of, throwing when there is none (for calls that must not silently do nothing). */
lg_engine *running_engine(napi_env env);
/* The call's first `want` arguments into argv; false (a JS exception pending) when fewer came. */
bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv);
#define LG_NAPI_METHOD(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL}

/* ---- conn.c */
lg_conn *lg_conn_new(lg_engine *e, int fd, lg_conn_kind kind);
lg_conn *lg_conn_get(lg_engine *e, int32_t id);
void lg_conn_on_event(lg_conn *c, uint32_t events);
/* Output: copied and queued; flushed at the end of the dispatch. */
void lg_conn_write(lg_conn *c, const char *data, size_t len);
/* Body bytes framed as the conn's out_framing (chunk headers for CHUNKED). */
void lg_conn_write_body(lg_conn *c, const void *data, size_t len);
/* Ends the body per out_framing (the last chunk; `trailers` replaces it when given). */
void lg_conn_write_body_end(lg_conn *c, const char *trailers, size_t trailers_len);
void lg_conn_mark_dirty(lg_conn *c);
void lg_conn_flush(lg_conn *c);
void lg_conn_update_reading(lg_conn *c);
void lg_conn_schedule_read(lg_conn *c);
void lg_conn_resume(lg_conn *c);
int lg_conn_keep_pending(lg_conn *c, const uint8_t *data, size_t len);
/* `source`'s incoming body goes to `sink` from now on, framed by the sink. */
void lg_conn_pipe(lg_conn *source, lg_conn *sink);
void lg_conn_unpipe_source(lg_conn *source);
void lg_conn_pipe_pressure(lg_conn *source, lg_conn *sink);
void lg_conn_unpipe_sink(lg_conn *sink);
void lg_conn_close(lg_conn *c, lg_reset_reason reason);
/* Gives the conn's fd to JS (no longer watched, not closed) and retires the conn. */
void lg_conn_hand_off(lg_conn *c);
void lg_conn_release(lg_conn *c);

/* ---- downstream.c */
void lg_downstream_accept(lg_engine *e, lg_listener *l);
lg_conn *lg_downstream_adopt_from_js(lg_engine *e, lg_listener *l, int fd);
/* `remote`: the peer as accept4 reported it, or NULL (an adopted fd: asked of the socket). */
void lg_downstream_announce(lg_conn *c, const struct sockaddr_storage *remote);
void lg_listener_learn_local(lg_listener *l);
void lg_downstream_feed(lg_conn *c, uint8_t *data, size_t len);
void lg_downstream_on_eof(lg_conn *c);
void lg_downstream_continue(lg_conn *c);
void lg_downstream_response_complete(lg_conn *c);
void lg_downstream_go_away(lg_conn *c);
void lg_downstream_end(lg_conn *c);
void lg_downstream_hand_off(lg_conn *c, lg_event event);

/* ---- upstream.c */
/* `ip` (an IPv4 or IPv6 literal) and `port` as a socket address; false when `ip` is neither. */
bool lg_sockaddr_parse(const char *ip, int port, struct sockaddr_storage *ss, socklen_t *len);
lg_conn *lg_upstream_connect(lg_engine *e, const char *ip, int port, int *err);
void lg_upstream_connected(lg_conn *c, int err);
void lg_upstream_start_stream(lg_conn *c, bool head_request, bool reusable);
void lg_upstream_request_complete(lg_conn *c);
void lg_upstream_feed(lg_conn *c, uint8_t *data, size_t len);
void lg_upstream_on_eof(lg_conn *c);

/* ---- response_head.c */
/* A connection manager's response plan: its id, or -1 when out of memory. */
int32_t lg_response_plan_add(lg_engine *e, lg_server_header mode, const char *name, size_t len);
bool lg_status_line_set(lg_engine *e, uint32_t status, const char *line, size_t len);
void lg_response_plans_free(lg_engine *e);
/*
 * The response head JS would write for the live upstream head (during its RESPONSE_HEAD event) by
 * plan `plan_id`: into *out (the engine's scratch), its framing | LG_PROXIED_CLOSES as the result;
 * -1 when there is no live head or no memory. `service_ms` < 0: no x-envoy-upstream-service-time.
 */
int lg_compose_proxied_response(lg_engine *e, int32_t plan_id, int64_t service_ms, uint32_t flags,
                                bool head_request, const char **out, size_t *out_len);

/* ---- exchange.c */
void lg_exchange_put_head(lg_engine *e, const lg_h1_head *head);
size_t lg_exchange_put_data(lg_engine *e, const void *data, size_t len);
void lg_exchange_put_piped(lg_engine *e, uint64_t bytes);
const char *lg_exchange_compose_head(lg_engine *e, const char *head, size_t len, size_t *out_len);
void lg_exchange_put_addresses(lg_engine *e, int fd, const struct sockaddr_storage *remote,
                               const struct sockaddr_storage *local);
/* After lg_exchange_put_addresses: a TLS connection's facts (`info`, lines) and whether it resumed. */
void lg_exchange_put_tls(lg_engine *e, const char *info, size_t len, bool resumed);

#endif
