/* Shared between legate_native.c (module init, error helpers) and splice_relay.c. */
#ifndef LEGATE_SPLICE_RELAY_H
#define LEGATE_SPLICE_RELAY_H

#include <stdbool.h>
#include <stdint.h>
#include <node_api.h>

/* Error helpers defined in legate_native.c; each leaves a pending JS exception. */
void legate_throw_napi_failure(napi_env env);

/* Propagates a failed napi_* call as a JS exception (unless one is pending) and returns NULL. */
#define NAPI_CALL(env, call)                                                   \
  do {                                                                         \
    if ((call) != napi_ok) {                                                   \
      legate_throw_napi_failure(env);                                          \
      return NULL;                                                             \
    }                                                                          \
  } while (0)

void legate_throw_errno(napi_env env, const char *syscall, const char *subject, int err);
bool legate_read_int32(napi_env env, napi_value value, const char *what, int32_t min, int32_t max,
                       int32_t *out);

/*
 * Per-thread (per napi_env) state of the addon's parts, the env's instance data (legate_native.c).
 * Each part owns its slot; `free_relay` is called when the env goes away.
 */
typedef struct legate_instance {
  void *relay;
  void (*free_relay)(void *relay);
  void *engine;
} legate_instance;
legate_instance *legate_instance_of(napi_env env);

/* Adds the spliceRelay* functions to `exports` (none on platforms without splice(2)). */
napi_status legate_define_splice_relay(napi_env env, napi_value exports);

#endif
