/*
 * The engine's N-API surface: what JS calls (src/engine/native-engine.ts is the only caller) and
 * how the engine calls JS back.
 *
 * Calls into JS: one JS function, onEvent(type, conn, a, b), with the event's payload left in
 * the exchange (exchange.c). A dispatch runs inside one callback scope, so promises and
 * process.nextTick callbacks queued by JS run once at its end, as after any Node I/O callback.
 * An event raised while JS is running (JS called into the engine, and the engine wants to tell JS
 * something) is queued and delivered after JS returns: JS never re-enters its own event handler,
 * as it never does with Node's sockets either.
 *
 * An exception thrown by the event handler is rethrown as an uncaught exception of the worker,
 * which takes it down and lets the primary restart it, as an exception in a socket callback does.
 */
#define _GNU_SOURCE
#include "engine.h"
#include "l4.h"
#include "tls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../splice_relay.h"

#define READ_BUFFER_BYTES (64 * 1024)
#define DATA_INITIAL_BYTES (256 * 1024)
#define DEFAULT_HIGH_WATER (64 * 1024)

typedef struct deferred_event {
  int32_t type, conn;
  double a, b;
} deferred_event;

/* ------------------------------------------------------------------ calling JS */

void lg_bridge_enter(lg_engine *e) {
  napi_env env = e->env;
  napi_open_handle_scope(env, &e->scope);
  napi_value resource;
  napi_get_reference_value(env, e->resource, &resource);
  napi_open_callback_scope(env, resource, e->async, &e->callback_scope);
}

void lg_bridge_leave(lg_engine *e) {
  napi_close_callback_scope(e->env, e->callback_scope);
  napi_close_handle_scope(e->env, e->scope);
}

static void report_exception(napi_env env) {
  napi_value error;
  if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
}

static bool call_js(lg_engine *e, int32_t type, int32_t conn, double a, double b) {
  napi_env env = e->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value fn, recv, argv[4];
  napi_get_reference_value(env, e->on_event, &fn);
  napi_get_undefined(env, &recv);
  napi_create_int32(env, type, &argv[0]);
  napi_create_int32(env, conn, &argv[1]);
  napi_create_double(env, a, &argv[2]);
  napi_create_double(env, b, &argv[3]);
  e->in_js++;
  napi_status status = napi_call_function(env, recv, fn, 4, argv, NULL);
  e->in_js--;
  e->live_head_fields = 0; /* a head in the exchange is only named during its own event */
  e->live_response_head = false;
  if (status != napi_ok) report_exception(env);
  napi_close_handle_scope(env, scope);
  return status == napi_ok;
}

void lg_bridge_defer(lg_engine *e, lg_event type, int32_t conn, double a, double b) {
  if (e->deferred_count == e->deferred_cap) {
    uint32_t cap = e->deferred_cap ? e->deferred_cap * 2 : 64;
    deferred_event *d = realloc(e->deferred, cap * sizeof *d);
    if (d == NULL) return; /* out of memory: the event is lost, JS's timeouts still end the stream */
    e->deferred = d;
    e->deferred_cap = cap;
  }
  deferred_event *d = (deferred_event *)e->deferred;
  d[e->deferred_count++] = (deferred_event){(int32_t)type, conn, a, b};
  lg_loop_schedule(e);
}

bool lg_emit(lg_engine *e, lg_event type, int32_t conn, double a, double b) {
  if (e->in_js > 0 || e->dispatching == 0) {
    /* Events that carry exchange contents are only raised from a dispatch, never deferred. */
    lg_bridge_defer(e, type, conn, a, b);
    return true;
  }
  return call_js(e, (int32_t)type, conn, a, b);
}

bool lg_bridge_flush_events(lg_engine *e) {
  if (e->deferred_count == 0) return false;
  /* Events raised while delivering these wait for the next round. */
  deferred_event *batch = (deferred_event *)e->deferred;
  uint32_t n = e->deferred_count;
  e->deferred = NULL;
  e->deferred_cap = 0;
  e->deferred_count = 0;
  for (uint32_t i = 0; i < n; i++) call_js(e, batch[i].type, batch[i].conn, batch[i].a, batch[i].b);
  free(batch);
  return true;
}

void lg_bridge_conn_closed(lg_engine *e, lg_conn *c) {
  if (c->connect_failed || c->handed_off || c->bridged) return; /* JS heard CONNECT_FAILED / HANDED_OFF instead */
  if (c->tls_handshaking) {
    /* JS never heard of this connection: it counts the failed handshake. */
    call_js(e, LG_EV_TLS_FAILED, c->id, c->listener->id, c->tls_failure ? c->tls_failure : LG_TLS_FAILED_HANDSHAKE);
    return;
  }
  call_js(e, c->kind == LG_CONN_DOWNSTREAM ? LG_EV_DOWNSTREAM_CLOSED : LG_EV_UPSTREAM_CLOSED, c->id,
          c->close_reason, 0);
}

/* ------------------------------------------------------------------ argument helpers */

/*
 * The engine of this thread, or NULL once it was destroyed: calls about connections are then
 * ignored, as writes to a destroyed socket are.
 */
lg_engine *engine_of(napi_env env) {
  legate_instance *instance = legate_instance_of(env);
  lg_engine *e = instance != NULL ? instance->engine : NULL;
  return e != NULL && !e->destroyed && !e->destroy_requested ? e : NULL;
}

/* engine_of for calls that must not silently do nothing (listen, connect). */
lg_engine *running_engine(napi_env env) {
  lg_engine *e = engine_of(env);
  if (e == NULL) napi_throw_error(env, "ERR_LEGATE_ENGINE", "the native engine is not running");
  return e;
}

bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return false;
  if (argc < want) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "legate engine: missing arguments");
    return false;
  }
  return true;
}

static int32_t int_arg(napi_env env, napi_value v) {
  int32_t out = 0;
  napi_get_value_int32(env, v, &out);
  return out;
}

static bool bool_arg(napi_env env, napi_value v) {
  bool out = false;
  napi_get_value_bool(env, v, &out);
  return out;
}

/* A latin1 string argument, copied into the engine's scratch buffer. */
static const char *text_arg(lg_engine *e, napi_value v, size_t *len) {
  napi_env env = e->env;
  size_t n = 0;
  if (napi_get_value_string_latin1(env, v, NULL, 0, &n) != napi_ok) return NULL;
  if (n + 1 > e->scratch_size) {
    size_t size = e->scratch_size ? e->scratch_size : 4096;
    while (size < n + 1) size *= 2;
    char *s = realloc(e->scratch, size);
    if (s == NULL) return NULL;
    e->scratch = s;
    e->scratch_size = size;
  }
  napi_get_value_string_latin1(env, v, e->scratch, e->scratch_size, len);
  return e->scratch;
}

/* A Buffer/Uint8Array argument (or null/undefined: empty). Valid during the call. */
static const char *bytes_arg(napi_env env, napi_value v, size_t *len) {
  napi_valuetype t;
  *len = 0;
  napi_typeof(env, v, &t);
  if (t == napi_null || t == napi_undefined) return "";
  void *data = NULL;
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, len, &data, &ab, &off) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "legate engine: expected a Buffer");
    return NULL;
  }
  /* An empty Buffer may have no backing store at all. */
  return data != NULL ? data : "";
}

/* A head JS wrote into a byte buffer: the first `length` bytes of a Uint8Array. */
static const char *head_arg(napi_env env, napi_value bytes, napi_value length, size_t *len) {
  size_t capacity;
  const char *data = bytes_arg(env, bytes, &capacity);
  if (data == NULL) return NULL;
  int32_t n = int_arg(env, length);
  if (n < 0 || (size_t)n > capacity) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "legate engine: head length outside its buffer");
    return NULL;
  }
  *len = (size_t)n;
  return data;
}

/*
 * The head `bytes`/`length` give for connection `c`, with the fields it names from the live head put
 * in (lg_exchange_compose_head). A head that cannot be composed fails its stream: nothing partial
 * goes out.
 */
static const char *composed_head_arg(lg_conn *c, napi_value bytes, napi_value length, size_t *len) {
  size_t written;
  const char *head = head_arg(c->engine->env, bytes, length, &written);
  if (head == NULL) return NULL;
  head = lg_exchange_compose_head(c->engine, head, written, len);
  if (head == NULL) lg_conn_close(c, LG_RESET_LOCAL);
  return head;
}

static napi_value int_result(napi_env env, int32_t v) {
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}

/* The conn `id` names, or NULL (closed since: JS calls after a close are ignored, as on a destroyed socket). */
static lg_conn *conn_arg(lg_engine *e, napi_value v) { return lg_conn_get(e, int_arg(e->env, v)); }

/*
 * The common start of a call about one connection (its id first among `want` arguments): the
 * connection, or NULL when it closed since or the engine is not running (the call then does
 * nothing, as on a destroyed socket), or when an argument is missing (a JS exception is pending).
 */
static lg_conn *conn_call(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  if (!get_args(env, info, want, argv)) return NULL;
  lg_engine *e = engine_of(env);
  return e != NULL ? conn_arg(e, argv[0]) : NULL;
}

/* ------------------------------------------------------------------ engine lifecycle */

void lg_engine_free(lg_engine *e) {
  lg_l4_free(e);
  for (lg_retired *r = e->retired; r != NULL;) {
    lg_retired *next = r->next;
    free(r->memory);
    free(r);
    r = next;
  }
  free(e->data);
  free(e->composed);
  free(e->control);
  free(e->rbuf);
  free(e->scratch);
  free(e->deferred);
  free(e->conns);
  free(e->free_ids);
  for (uint32_t i = 0; i < e->listener_count; i++) {
    lg_listener *l = e->listeners[i];
    if (l == NULL) continue;
    for (int k = 0; k < LG_REPLY_SLOTS; k++) free(l->reply[k]);
    lg_tls_context_unref(l->tls);
    free(l);
  }
  free(e->listeners);
  lg_response_plans_free(e);
  free(e);
  lg_wq_release_spares();
}

/* Closes everything; the struct is freed once libuv has closed its handles. */
void lg_engine_destroy(lg_engine *e) {
  if (e->destroyed) return;
  if (e->dispatching > 0) {
    /* JS asked from inside a dispatch: the dispatch still walks the engine's lists; it ends first. */
    e->destroy_requested = true;
    return;
  }
  e->destroyed = true;
  for (uint32_t i = 0; i < e->conn_capacity; i++) {
    lg_conn *c = e->conns[i];
    if (c == NULL) continue;
    if (!c->closed) {
      c->closed = true;
      lg_tls_bridge_close(c);
      lg_tls_release(c);
      close(c->fd);
    }
    lg_wq_clear(&c->out);
    free(c->pending);
    lg_h1_release(&c->parser);
    free(c);
    e->conns[i] = NULL;
  }
  for (uint32_t i = 0; i < e->listener_count; i++) {
    lg_listener *l = e->listeners[i];
    if (l != NULL && !l->closed) {
      close(l->fd);
      l->closed = true;
    }
  }
  lg_l4_destroy(e);
  napi_delete_reference(e->env, e->on_event);
  napi_delete_reference(e->env, e->resource);
  napi_delete_reference(e->env, e->control_ref);
  napi_async_destroy(e->env, e->async);
  lg_loop_stop(e);
}

/* The thread is ending (its env is torn down): close the engine's handles while the loop runs them. */
static void on_env_cleanup(void *data) {
  lg_engine *e = data;
  legate_instance *instance = legate_instance_of(e->env);
  if (instance != NULL && instance->engine == e) instance->engine = NULL;
  lg_engine_destroy(e);
}

/* engineCreate(onEvent): { control: ArrayBuffer } */
static napi_value EngineCreate(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  legate_instance *instance = legate_instance_of(env);
  if (instance == NULL) return NULL;
  lg_engine *existing = instance->engine;
  if (existing != NULL && !existing->destroyed) {
    napi_throw_error(env, "ERR_LEGATE_ENGINE", "this thread already runs a native engine");
    return NULL;
  }
  const char *unavailable = lg_h1_unavailable_reason();
  if (unavailable != NULL) {
    napi_throw_error(env, "ERR_LEGATE_ENGINE", unavailable);
    return NULL;
  }
  lg_engine *e = calloc(1, sizeof *e);
  if (e == NULL) return NULL;
  e->env = env;
  e->rbuf_size = READ_BUFFER_BYTES;
  e->rbuf = malloc(e->rbuf_size);
  e->control = calloc(1, LG_CONTROL_BYTES);
  e->data_size = DATA_INITIAL_BYTES;
  e->data = malloc(e->data_size);
  e->high_water = DEFAULT_HIGH_WATER;
  if (e->rbuf == NULL || e->control == NULL || e->data == NULL) {
    free(e->rbuf);
    free(e->control);
    free(e->data);
    free(e);
    napi_throw_error(env, "ENOMEM", "legate engine: out of memory");
    return NULL;
  }
  NAPI_CALL(env, napi_get_uv_event_loop(env, &e->loop));
  NAPI_CALL(env, napi_create_reference(env, argv[0], 1, &e->on_event));
  napi_value resource, name, control;
  NAPI_CALL(env, napi_create_object(env, &resource));
  NAPI_CALL(env, napi_create_reference(env, resource, 1, &e->resource));
  NAPI_CALL(env, napi_create_string_utf8(env, "LegateEngine", NAPI_AUTO_LENGTH, &name));
  NAPI_CALL(env, napi_async_init(env, resource, name, &e->async));
  NAPI_CALL(env, napi_create_external_arraybuffer(env, e->control, LG_CONTROL_BYTES, NULL, NULL, &control));
  NAPI_CALL(env, napi_create_reference(env, control, 1, &e->control_ref));
  int r = lg_loop_start(e);
  if (r != 0) {
    legate_throw_errno(env, "epoll_create1", NULL, -r);
    return NULL;
  }
  NAPI_CALL(env, napi_add_env_cleanup_hook(env, on_env_cleanup, e));
  instance->engine = e;
  napi_value out;
  NAPI_CALL(env, napi_create_object(env, &out));
  NAPI_CALL(env, napi_set_named_property(env, out, "control", control));
  return out;
}

/* engineData(): ArrayBuffer — the current data area (after control's generation changed). */
static napi_value EngineData(napi_env env, napi_callback_info info) {
  (void)info;
  lg_engine *e = running_engine(env);
  if (e == NULL) return NULL;
  napi_value ab;
  NAPI_CALL(env, napi_create_external_arraybuffer(env, e->data, e->data_size, NULL, NULL, &ab));
  return ab;
}

/* engineDestroy(): closes every socket of the engine (the worker is exiting). */
static napi_value EngineDestroy(napi_env env, napi_callback_info info) {
  (void)info;
  legate_instance *instance = legate_instance_of(env);
  lg_engine *e = instance != NULL ? instance->engine : NULL;
  if (e == NULL) return NULL;
  instance->engine = NULL;
  napi_remove_env_cleanup_hook(env, on_env_cleanup, e);
  lg_engine_destroy(e);
  return NULL;
}

/* ------------------------------------------------------------------ listeners */

/*
 * engineListen(fd, maxHeadBytes, maxHeaders, underscores, acceptHttp10, maxBodyBytes, replies,
 * detectHttp2, handOffUpgrades, tls, handshakeTimeoutMs): listener id. `replies` are the codec's
 * local replies by LG_REPLY_* slot (serialised by JS); `detectHttp2`: codec_type AUTO (connections
 * opening with the HTTP/2 preface go to JS); `handOffUpgrades`: connections whose request asks for
 * an upgrade go to JS; `tls`: an engineTlsContext, or null for plaintext (a TLS listener hands
 * nothing off: its fds carry ciphertext), its handshakes bounded by `handshakeTimeoutMs` (0: none).
 */
static napi_value EngineListen(napi_env env, napi_callback_info info) {
  napi_value argv[11];
  if (!get_args(env, info, 11, argv)) return NULL;
  lg_engine *e = running_engine(env);
  if (e == NULL) return NULL;
  lg_listener *l = calloc(1, sizeof *l);
  if (l == NULL) return NULL;
  l->fd = int_arg(env, argv[0]);
  lg_listener_learn_local(l);
  l->limits.max_head_bytes = (uint32_t)int_arg(env, argv[1]);
  l->limits.max_headers = (uint32_t)int_arg(env, argv[2]);
  l->limits.underscores = (uint8_t)int_arg(env, argv[3]);
  l->limits.accept_http10 = bool_arg(env, argv[4]);
  double max_body = 0;
  napi_get_value_double(env, argv[5], &max_body);
  l->limits.max_body_bytes = (uint64_t)max_body;
  lg_tls_context *tls = lg_tls_context_arg(env, argv[9]);
  if (tls != NULL) {
    /* No preface to sniff on TLS: ALPN says HTTP/2 (as on Node's TLS); upgrades go over a bridge. */
    lg_tls_listener_use(l, tls);
    l->handshake_timeout_ms = (uint32_t)int_arg(env, argv[10]);
    l->alpn_h2_handoff = bool_arg(env, argv[7]);
    l->hand_off_upgrades = bool_arg(env, argv[8]);
  } else {
    l->detect_http2 = bool_arg(env, argv[7]);
    l->hand_off_upgrades = bool_arg(env, argv[8]);
  }
  for (uint32_t k = 0; k < LG_REPLY_SLOTS; k++) {
    napi_value s;
    if (napi_get_element(env, argv[6], k, &s) != napi_ok) break;
    size_t len = 0;
    const char *text = text_arg(e, s, &len);
    if (text == NULL) continue;
    l->reply[k] = malloc(len);
    if (l->reply[k] == NULL) continue;
    memcpy(l->reply[k], text, len);
    l->reply_len[k] = len;
  }
  if (!lg_engine_add_listener(e, l)) {
    for (int k = 0; k < LG_REPLY_SLOTS; k++) free(l->reply[k]);
    lg_tls_context_unref(l->tls);
    free(l);
    legate_throw_errno(env, "malloc", NULL, ENOMEM);
    return NULL;
  }
  return lg_bridge_start_listener(env, e, l);
}

napi_value lg_bridge_start_listener(napi_env env, lg_engine *e, lg_listener *l) {
  int r = lg_listener_start(e, l);
  if (r != 0) {
    legate_throw_errno(env, "epoll_ctl", NULL, -r);
    return NULL;
  }
  return int_result(env, l->id);
}

/* engineStopListening(listenerId): closes the listening socket (connections stay). */
static napi_value EngineStopListening(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  lg_engine *e = engine_of(env);
  if (e == NULL) return NULL;
  int32_t id = int_arg(env, argv[0]);
  if (id < 0 || (uint32_t)id >= e->listener_count) return NULL;
  lg_listener *l = e->listeners[id];
  if (l->closed || l->fd < 0) return NULL;
  l->closed = true;
  close(l->fd);
  return NULL;
}

/* engineAdopt(listenerId, fd): conn id — a connection the primary accepted (exact_balance). */
static napi_value EngineAdopt(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  lg_engine *e = running_engine(env);
  if (e == NULL) return NULL;
  int32_t id = int_arg(env, argv[0]);
  if (id < 0 || (uint32_t)id >= e->listener_count) return NULL;
  lg_conn *c = lg_downstream_adopt_from_js(e, e->listeners[id], int_arg(env, argv[1]));
  return int_result(env, c != NULL ? c->id : -1);
}

/* ------------------------------------------------------------------ downstream: the response */

/* serverWriteHead(id, bytes, length, framing, endStream, closeAfterResponse, status, pipeFrom) */
static napi_value ServerWriteHead(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  lg_conn *c = conn_call(env, info, 8, argv);
  if (c == NULL || c->kind != LG_CONN_DOWNSTREAM || !c->stream_active || c->response_started) return NULL;
  size_t len;
  const char *head = composed_head_arg(c, argv[1], argv[2], &len);
  if (head == NULL) return NULL;
  c->response_started = true;
  c->out_framing = (lg_framing)int_arg(env, argv[3]);
  bool end_stream = bool_arg(env, argv[4]);
  c->close_after_response = bool_arg(env, argv[5]);
  c->status = (uint16_t)int_arg(env, argv[6]);
  lg_conn_write(c, head, len);
  if (end_stream) {
    lg_downstream_response_complete(c);
    return NULL;
  }
  lg_conn *source = conn_arg(c->engine, argv[7]);
  if (source != NULL && source->kind == LG_CONN_UPSTREAM && source->stream_active) lg_conn_pipe(source, c);
  return NULL;
}

/*
 * serverWriteProxiedHead(id, upstreamId, plan, serviceMs, flags): during the upstream's RESPONSE_HEAD
 * event, the response head composed natively from it (response_head.c) by `plan`, its body piped from
 * the upstream unless the head ended the response. The framing | LG_PROXIED_CLOSES, or -1 when
 * nothing was written (the stream cannot answer, or no memory).
 */
static napi_value ServerWriteProxiedHead(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  lg_conn *c = conn_call(env, info, 5, argv);
  if (c == NULL || c->kind != LG_CONN_DOWNSTREAM || !c->stream_active || c->response_started)
    return int_result(env, -1);
  lg_conn *source = conn_arg(c->engine, argv[1]);
  if (source == NULL || source->kind != LG_CONN_UPSTREAM || !source->stream_active) return int_result(env, -1);
  uint32_t flags = (uint32_t)int_arg(env, argv[4]);
  const char *head;
  size_t len;
  int result = lg_compose_proxied_response(c->engine, int_arg(env, argv[2]), int_arg(env, argv[3]), flags,
                                           c->head_request, &head, &len);
  if (result < 0) return int_result(env, -1);
  c->response_started = true;
  c->out_framing = (lg_framing)(result & 3);
  c->close_after_response = (result & LG_PROXIED_CLOSES) != 0;
  c->status = source->status;
  lg_conn_write(c, head, len);
  if (flags & LG_PROXIED_END_STREAM) lg_downstream_response_complete(c);
  else lg_conn_pipe(source, c);
  return int_result(env, result);
}

/* engineResponsePlan(serverMode, serverName): a connection manager's plan id for serverWriteProxiedHead. */
static napi_value EngineResponsePlan(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  lg_engine *e = running_engine(env);
  if (e == NULL) return NULL;
  size_t len;
  const char *name = text_arg(e, argv[1], &len);
  if (name == NULL) return NULL;
  return int_result(env, lg_response_plan_add(e, (lg_server_header)int_arg(env, argv[0]), name, len));
}

/* engineStatusLines(lines): `HTTP/1.1 <status> <reason>\r\n` by status (holes: none known). */
static napi_value EngineStatusLines(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  lg_engine *e = running_engine(env);
  if (e == NULL) return NULL;
  uint32_t count = 0;
  napi_get_array_length(env, argv[0], &count);
  for (uint32_t status = 0; status < count && status < LG_STATUS_LINES; status++) {
    napi_value line;
    napi_valuetype type;
    if (napi_get_element(env, argv[0], status, &line) != napi_ok) break;
    napi_typeof(env, line, &type);
    if (type != napi_string) continue;
    size_t len;
    const char *text = text_arg(e, line, &len);
    if (text == NULL || !lg_status_line_set(e, status, text, len)) {
      legate_throw_errno(env, "malloc", NULL, ENOMEM);
      return NULL;
    }
  }
  return NULL;
}

/* serverWriteData(id, bytes|null, endStream) */
static napi_value ServerWriteData(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  lg_conn *c = conn_call(env, info, 3, argv);
  if (c == NULL || c->kind != LG_CONN_DOWNSTREAM || !c->stream_active || !c->response_started) return NULL;
  size_t len;
  const char *data = bytes_arg(env, argv[1], &len);
  if (data == NULL) return NULL;
  lg_conn_write_body(c, data, len);
  if (bool_arg(env, argv[2])) {
    lg_conn_write_body_end(c, NULL, 0);
    lg_downstream_response_complete(c);
  }
  return NULL;
}

/* serverWriteText(id, text, endsResponse): 100 Continue, or the last chunk with trailers. */
static napi_value ServerWriteText(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  lg_conn *c = conn_call(env, info, 3, argv);
  if (c == NULL || c->kind != LG_CONN_DOWNSTREAM || !c->stream_active) return NULL;
  size_t len;
  const char *text = text_arg(c->engine, argv[1], &len);
  if (text == NULL) return NULL;
  lg_conn_write(c, text, len);
  if (bool_arg(env, argv[2])) lg_downstream_response_complete(c);
  return NULL;
}

/* serverReadDisable(id, disable) */
static napi_value ConnReadDisable(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  lg_conn *c = conn_call(env, info, 2, argv);
  if (c == NULL) return NULL;
  if (bool_arg(env, argv[1])) c->read_disable++;
  else if (c->read_disable > 0) c->read_disable--;
  lg_conn_update_reading(c);
  return NULL;
}

/* serverReplyPartial(id, text): answers a request whose head is still arriving with `text` (a local
 * reply with connection: close) and ends the connection. False, doing nothing, when no head is
 * partly received (ServerConnection.replyToPartialRequest). */
static napi_value ServerReplyPartial(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  lg_conn *c = conn_call(env, info, 2, argv);
  bool partial = c != NULL && c->kind == LG_CONN_DOWNSTREAM && c->head_in_progress && !c->ending && !c->closed;
  napi_value out;
  napi_get_boolean(env, partial, &out);
  if (!partial) return out;
  size_t len;
  const char *text = text_arg(c->engine, argv[1], &len);
  if (text == NULL) return NULL;
  c->head_in_progress = false;
  lg_conn_write(c, text, len);
  lg_downstream_end(c);
  return out;
}

/* serverGoAway(id): end the connection once no exchange is in flight (drain). */
static napi_value ServerGoAway(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  lg_conn *c = conn_call(env, info, 1, argv);
  if (c != NULL && c->kind == LG_CONN_DOWNSTREAM) lg_downstream_go_away(c);
  return NULL;
}

/* connClose(id): close now (a reset of any exchange in flight, which JS already knows about). */
static napi_value ConnClose(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  lg_conn *c = conn_call(env, info, 1, argv);
  if (c != NULL) {
    c->stream_active = false;
    lg_conn_close(c, LG_RESET_NONE);
  }
  return NULL;
}

/* connBytes(id, out: Float64Array[2]): bytes read and written so far. */
static napi_value ConnBytes(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  lg_engine *e = engine_of(env);
  if (e == NULL) return NULL;
  int32_t id = int_arg(env, argv[0]);
  lg_conn *c = id >= 0 && (uint32_t)id < e->conn_capacity ? e->conns[id] : NULL;
  size_t len;
  void *data;
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, argv[1], &type, &len, &data, &ab, &off) != napi_ok ||
      type != napi_float64_array || len < 2)
    return NULL;
  double *out = data;
  out[0] = c != NULL ? (double)c->bytes_in : 0;
  out[1] = c != NULL ? (double)c->bytes_out : 0;
  return NULL;
}

/*
 * connIdleMs(id): milliseconds since connection `id` last read or wrote a byte (-1 when it is gone).
 * Piped bodies move without telling JS; a stream's idle timeout asks this before it fires.
 */
static napi_value ConnIdleMs(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  lg_conn *c = conn_call(env, info, 1, argv);
  if (c == NULL) return int_result(env, -1);
  uint64_t now = uv_now(c->engine->loop);
  uint64_t idle = now > c->last_io_ms ? now - c->last_io_ms : 0;
  return int_result(env, idle < INT32_MAX ? (int32_t)idle : INT32_MAX);
}

/* ------------------------------------------------------------------ upstream: the request */

/* engineConnect(ip, port): conn id; CONNECTED or CONNECT_FAILED follows from the loop. */
static napi_value EngineConnect(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  lg_engine *e = running_engine(env);
  if (e == NULL) return NULL;
  char ip[64];
  size_t len = 0;
  napi_get_value_string_latin1(env, argv[0], ip, sizeof ip, &len);
  int err = 0;
  lg_conn *c = lg_upstream_connect(e, ip, int_arg(env, argv[1]), &err);
  if (c == NULL) {
    legate_throw_errno(env, "connect", ip, err);
    return NULL;
  }
  return int_result(env, c->id);
}

/* clientWriteHead(id, bytes, length, framing, endStream, headRequest, reusable, pipeFrom) */
static napi_value ClientWriteHead(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  lg_conn *c = conn_call(env, info, 8, argv);
  if (c == NULL || c->kind != LG_CONN_UPSTREAM) return NULL;
  size_t len;
  const char *head = composed_head_arg(c, argv[1], argv[2], &len);
  if (head == NULL) return NULL;
  lg_upstream_start_stream(c, bool_arg(env, argv[5]), bool_arg(env, argv[6]));
  c->out_framing = (lg_framing)int_arg(env, argv[3]);
  lg_conn_write(c, head, len);
  if (bool_arg(env, argv[4])) {
    lg_upstream_request_complete(c);
    return NULL;
  }
  lg_conn *source = conn_arg(c->engine, argv[7]);
  if (source != NULL && source->kind == LG_CONN_DOWNSTREAM && source->stream_active &&
      !source->request_complete)
    lg_conn_pipe(source, c);
  return NULL;
}

/* clientWriteData(id, bytes|null, endStream) */
static napi_value ClientWriteData(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  lg_conn *c = conn_call(env, info, 3, argv);
  if (c == NULL || c->kind != LG_CONN_UPSTREAM || !c->stream_active || c->request_complete) return NULL;
  size_t len;
  const char *data = bytes_arg(env, argv[1], &len);
  if (data == NULL) return NULL;
  lg_conn_write_body(c, data, len);
  if (bool_arg(env, argv[2])) {
    lg_conn_write_body_end(c, NULL, 0);
    lg_upstream_request_complete(c);
  }
  return NULL;
}

/* clientWriteText(id, text): the last chunk with trailers; ends the request. */
static napi_value ClientWriteText(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  lg_conn *c = conn_call(env, info, 2, argv);
  if (c == NULL || c->kind != LG_CONN_UPSTREAM || !c->stream_active || c->request_complete) return NULL;
  size_t len;
  const char *text = text_arg(c->engine, argv[1], &len);
  if (text == NULL) return NULL;
  lg_conn_write(c, text, len);
  lg_upstream_request_complete(c);
  return NULL;
}

#define METHOD(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL}

napi_status legate_define_engine(napi_env env, napi_value exports) {
  napi_value interface_version;
  napi_status status = napi_create_int32(env, LG_ENGINE_INTERFACE, &interface_version);
  if (status != napi_ok) return status;
  napi_property_descriptor methods[] = {
      {"engineInterface", NULL, NULL, NULL, NULL, interface_version, napi_enumerable, NULL},
      METHOD("engineCreate", EngineCreate),
      METHOD("engineData", EngineData),
      METHOD("engineDestroy", EngineDestroy),
      METHOD("engineListen", EngineListen),
      METHOD("engineStopListening", EngineStopListening),
      METHOD("engineAdopt", EngineAdopt),
      METHOD("engineConnect", EngineConnect),
      METHOD("serverWriteHead", ServerWriteHead),
      METHOD("serverWriteProxiedHead", ServerWriteProxiedHead),
      METHOD("engineResponsePlan", EngineResponsePlan),
      METHOD("engineStatusLines", EngineStatusLines),
      METHOD("serverWriteData", ServerWriteData),
      METHOD("serverWriteText", ServerWriteText),
      METHOD("serverGoAway", ServerGoAway),
      METHOD("serverReplyPartial", ServerReplyPartial),
      METHOD("clientWriteHead", ClientWriteHead),
      METHOD("clientWriteData", ClientWriteData),
      METHOD("clientWriteText", ClientWriteText),
      METHOD("connReadDisable", ConnReadDisable),
      METHOD("connClose", ConnClose),
      METHOD("connBytes", ConnBytes),
      METHOD("connIdleMs", ConnIdleMs),
  };
  status = napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods);
  if (status == napi_ok) status = lg_l4_define(env, exports);
  return status == napi_ok ? lg_tls_define(env, exports) : status;
}
