/*
 * The N-API functions of tls.c (src/engine/native-engine.ts calls them):
 *   tlsStatus() -> { available, reason }
 *   engineTlsContext(settings) -> an external holding a TLS context (freed when collected), or a
 *     thrown error with OpenSSL's reason
 *   engineListenerTls(listenerId, context): new handshakes of a TLS listener use `context` (the
 *     certificates were read again); connections already secured keep theirs
 * A listener gets its first context through engineListen's `tls` argument.
 */
#include "tls.h"

#include <stdlib.h>
#include <string.h>

#include "tls_abi.h"
#include "../splice_relay.h"

static void release_context(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  lg_tls_context_unref(data);
}

static napi_value TlsStatus(napi_env env, napi_callback_info info) {
  (void)info;
  const char *reason = lg_tls_unavailable_reason();
  napi_value out, available, why;
  NAPI_CALL(env, napi_create_object(env, &out));
  NAPI_CALL(env, napi_get_boolean(env, reason == NULL, &available));
  NAPI_CALL(env, napi_create_string_utf8(env, reason != NULL ? reason : "", NAPI_AUTO_LENGTH, &why));
  NAPI_CALL(env, napi_set_named_property(env, out, "available", available));
  NAPI_CALL(env, napi_set_named_property(env, out, "reason", why));
  return out;
}

/* Strings copied out of the settings object, freed together once the context is built. */
typedef struct strings {
  char *items[64];
  uint32_t count;
} strings;

static const char *string_field(napi_env env, napi_value object, const char *name, strings *keep,
                                size_t *len) {
  napi_value v;
  size_t n = 0;
  if (keep->count == sizeof keep->items / sizeof keep->items[0]) return NULL;
  if (napi_get_named_property(env, object, name, &v) != napi_ok ||
      napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok)
    return NULL;
  char *s = malloc(n + 1);
  if (s == NULL) return NULL;
  napi_get_value_string_utf8(env, v, s, n + 1, &n);
  keep->items[keep->count++] = s;
  if (len != NULL) *len = n;
  return s;
}

static bool bool_field(napi_env env, napi_value object, const char *name) {
  napi_value v;
  bool out = false;
  if (napi_get_named_property(env, object, name, &v) == napi_ok) napi_get_value_bool(env, v, &out);
  return out;
}

static double number_field(napi_env env, napi_value object, const char *name) {
  napi_value v;
  double out = 0;
  if (napi_get_named_property(env, object, name, &v) == napi_ok) napi_get_value_double(env, v, &out);
  return out;
}

/* A Buffer field's bytes (valid during the call), or NULL when it is null or absent. */
static const unsigned char *bytes_field(napi_env env, napi_value object, const char *name, size_t *len) {
  napi_value v;
  bool is_buffer = false;
  void *data = NULL;
  *len = 0;
  if (napi_get_named_property(env, object, name, &v) != napi_ok || napi_is_buffer(env, v, &is_buffer) != napi_ok ||
      !is_buffer || napi_get_buffer_info(env, v, &data, len) != napi_ok)
    return NULL;
  return data;
}

#define MAX_CERTIFICATES 8

static napi_value EngineTlsContext(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  napi_value s = argv[0];
  strings keep = {.count = 0};
  lg_tls_certificate certificates[MAX_CERTIFICATES];
  lg_tls_settings settings = {.certificates = certificates};
  napi_value list, result = NULL;
  uint32_t count = 0;
  bool ok = napi_get_named_property(env, s, "certificates", &list) == napi_ok &&
            napi_get_array_length(env, list, &count) == napi_ok && count <= MAX_CERTIFICATES;
  for (uint32_t i = 0; ok && i < count; i++) {
    napi_value cert;
    lg_tls_certificate *c = &certificates[i];
    ok = napi_get_element(env, list, i, &cert) == napi_ok &&
         (c->chain = string_field(env, cert, "chain", &keep, &c->chain_len)) != NULL &&
         (c->key = string_field(env, cert, "key", &keep, &c->key_len)) != NULL &&
         (c->password = string_field(env, cert, "password", &keep, NULL)) != NULL;
  }
  settings.certificate_count = count;
  size_t alpn_len = 0, ticket_len = 0;
  ok = ok && (settings.cipher_list = string_field(env, s, "cipherList", &keep, NULL)) != NULL &&
       (settings.ciphersuites = string_field(env, s, "ciphersuites", &keep, NULL)) != NULL &&
       (settings.groups = string_field(env, s, "groups", &keep, NULL)) != NULL;
  if (ok) {
    settings.min_version = (long)number_field(env, s, "minVersion");
    settings.max_version = (long)number_field(env, s, "maxVersion");
    settings.session_timeout_s = (long)number_field(env, s, "sessionTimeoutS");
    settings.server_cipher_order = bool_field(env, s, "serverCipherOrder");
    settings.alpn = bytes_field(env, s, "alpn", &alpn_len);
    settings.alpn_len = (unsigned int)alpn_len;
    settings.ticket_key = bytes_field(env, s, "ticketKey", &ticket_len);
    if (settings.ticket_key != NULL && ticket_len != LG_TICKET_KEY_BYTES) ok = false;
  }
  if (!ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "engineTlsContext: bad settings");
  } else {
    char err[256];
    lg_tls_context *t = lg_tls_context_new(&settings, err, sizeof err);
    if (t == NULL) napi_throw_error(env, "ERR_LEGATE_TLS", err);
    else if (napi_create_external(env, t, release_context, NULL, &result) != napi_ok) lg_tls_context_unref(t);
  }
  for (uint32_t i = 0; i < keep.count; i++) free(keep.items[i]);
  return result;
}

lg_tls_context *lg_tls_context_arg(napi_env env, napi_value v) {
  napi_valuetype type;
  void *data = NULL;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_external) return NULL;
  napi_get_value_external(env, v, &data);
  return data;
}

void lg_tls_listener_use(lg_listener *l, lg_tls_context *t) {
  lg_tls_context_ref(t);
  lg_tls_context_unref(l->tls);
  l->tls = t;
}

/* engineListenerTls(listenerId, context) */
static napi_value EngineListenerTls(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  lg_engine *e = engine_of(env);
  if (e == NULL) return NULL;
  int32_t id = -1;
  napi_get_value_int32(env, argv[0], &id);
  lg_tls_context *t = lg_tls_context_arg(env, argv[1]);
  if (id < 0 || (uint32_t)id >= e->listener_count || t == NULL || e->listeners[id]->tls == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "engineListenerTls: not a TLS listener and a context");
    return NULL;
  }
  lg_tls_listener_use(e->listeners[id], t);
  return NULL;
}

napi_status lg_tls_define(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      LG_NAPI_METHOD("tlsStatus", TlsStatus),
      LG_NAPI_METHOD("engineTlsContext", EngineTlsContext),
      LG_NAPI_METHOD("engineListenerTls", EngineListenerTls),
  };
  return napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods);
}
