/*
 * The N-API functions of the engine's tcp_proxy sessions (l4.c); src/engine/native-engine.ts and
 * src/engine/l4-batch.ts are the callers. Like bridge.c's, calls made after the engine was
 * destroyed do nothing (listen and address throw: they must not silently fail).
 */
#define _GNU_SOURCE
#include "l4.h"

#include <errno.h>
#include <string.h>

#include "../splice_relay.h"

static lg_listener *l4_listener(napi_env env, lg_engine *e, napi_value v) {
  int32_t id = -1;
  napi_get_value_int32(env, v, &id);
  if (id < 0 || (uint32_t)id >= e->listener_count || e->listeners[id]->l4 == NULL) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "legate engine: not a tcp_proxy listener");
    return NULL;
  }
  return e->listeners[id];
}

static napi_value number(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

/* engineListenL4(fd, idleTimeoutMs, maxDurationMs, pipeBytes): listener id. */
static napi_value EngineListenL4(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return NULL;
  lg_engine *e = running_engine(env);
  if (e == NULL) return NULL;
  int32_t fd, idle_ms, max_ms, pipe_bytes;
  if (!legate_read_int32(env, argv[0], "fd", -1, INT32_MAX, &fd) ||
      !legate_read_int32(env, argv[1], "idleTimeoutMs", 0, INT32_MAX, &idle_ms) ||
      !legate_read_int32(env, argv[2], "maxDurationMs", 0, INT32_MAX, &max_ms) ||
      !legate_read_int32(env, argv[3], "pipeBytes", 4096, 1 << 20, &pipe_bytes))
    return NULL;
  lg_listener *l = lg_l4_listen(e, fd, (uint32_t)idle_ms, (uint32_t)max_ms, pipe_bytes);
  if (l == NULL) {
    legate_throw_errno(env, "malloc", NULL, ENOMEM);
    return NULL;
  }
  return lg_bridge_start_listener(env, e, l);
}

/* engineAdoptL4(listenerId, fd): session id, or -1 (the fd was closed) — exact_balance hand-over. */
static napi_value EngineAdoptL4(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  lg_engine *e = running_engine(env);
  if (e == NULL) return NULL;
  lg_listener *l = l4_listener(env, e, argv[0]);
  int32_t fd;
  if (l == NULL || !legate_read_int32(env, argv[1], "fd", 0, INT32_MAX, &fd)) return NULL;
  return number(env, lg_l4_adopt(e, l, fd));
}

/* engineL4Address(ip, port): the id picks name this address by (registered once per host). */
static napi_value EngineL4Address(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  lg_engine *e = running_engine(env);
  if (e == NULL) return NULL;
  char ip[64];
  size_t len = 0;
  int32_t port;
  if (napi_get_value_string_latin1(env, argv[0], ip, sizeof ip, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "ip must be a string");
    return NULL;
  }
  if (!legate_read_int32(env, argv[1], "port", 0, 65535, &port)) return NULL;
  int32_t id = lg_l4_address(e, ip, port);
  if (id < 0) {
    legate_throw_errno(env, "inet_pton", ip, -id);
    return NULL;
  }
  return number(env, id);
}

/* engineL4Drain(listenerId): sessions close once quiet, after the drain's grace at the latest. */
static napi_value EngineL4Drain(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  lg_engine *e = engine_of(env);
  if (e == NULL) return NULL;
  lg_listener *l = l4_listener(env, e, argv[0]);
  if (l != NULL) lg_l4_drain(e, l);
  return NULL;
}

/* engineL4Records(which): the record buffer `which` (see the L4_BATCH event's generation). */
static napi_value EngineL4Records(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  lg_engine *e = running_engine(env);
  if (e == NULL) return NULL;
  int32_t which = -1;
  napi_get_value_int32(env, argv[0], &which);
  size_t bytes = 0;
  void *data = lg_l4_records(e, which, &bytes);
  napi_value ab;
  if (data == NULL) NAPI_CALL(env, napi_create_arraybuffer(env, 0, NULL, &ab));
  else NAPI_CALL(env, napi_create_external_arraybuffer(env, data, bytes, NULL, NULL, &ab));
  return ab;
}

/* engineL4Sessions(): live sessions of this thread's engine (for leak tests). */
static napi_value EngineL4Sessions(napi_env env, napi_callback_info info) {
  (void)info;
  lg_engine *e = engine_of(env);
  return number(env, e != NULL ? lg_l4_live_sessions(e) : 0);
}

napi_status lg_l4_define(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      LG_NAPI_METHOD("engineListenL4", EngineListenL4),   LG_NAPI_METHOD("engineAdoptL4", EngineAdoptL4),
      LG_NAPI_METHOD("engineL4Address", EngineL4Address), LG_NAPI_METHOD("engineL4Drain", EngineL4Drain),
      LG_NAPI_METHOD("engineL4Records", EngineL4Records), LG_NAPI_METHOD("engineL4Sessions", EngineL4Sessions),
  };
  return napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods);
}
