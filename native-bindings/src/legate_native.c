/*
 * legate_native: the few socket syscalls Node 20's `net` does not expose.
 *
 * Node 20 has no `reusePort` (it arrived in 22.12) and cannot move a socket
 * handle into a worker thread. Both gaps close with plain file descriptors,
 * because every worker thread lives in the same process and fd table:
 *
 *   - listenReusePort() opens one SO_REUSEPORT listening socket per worker,
 *     each handed to `net.Server.listen({ fd })`, so the kernel spreads new
 *     connections across workers (Envoy's default `enable_reuse_port`).
 *   - dup() copies an accepted socket's fd so the primary can close its own
 *     handle while a worker adopts the copy with `new net.Socket({ fd })`
 *     (Envoy's `exact_balance` handoff).
 *
 * The tcp_proxy splice relay (splice_relay.c) adds a byte-moving thread; engine/ holds the
 * native data plane's parts (engine/h1_parser.c: the HTTP/1 parser on Node's own llhttp).
 *
 * Everything in this file runs at startup or once per handed-off connection, never
 * per byte. Errors are thrown as JS Errors shaped like Node's system errors
 * ({ code: 'EADDRINUSE', errno: -98, syscall: 'bind' }) so callers handle
 * them like any `net` error.
 *
 * The module is context-aware (NAPI_MODULE_INIT), so every worker thread may
 * load it; only splice_relay.c keeps state (per thread and one relay thread).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#include "engine/h1_parser_napi.h"
#include "splice_relay.h"
#include "engine/engine.h"

/* Longest host literal accepted: an IPv6 address with a zone id, bracketed. */
#define HOST_MAX 128

/* ------------------------------------------------------------------------ */
/* Error helpers                                                            */
/* ------------------------------------------------------------------------ */


void legate_throw_napi_failure(napi_env env) {
  bool pending = false;
  const napi_extended_error_info *info = NULL;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  napi_get_last_error_info(env, &info);
  napi_throw_error(env, NULL,
                   info && info->error_message ? info->error_message
                                               : "legate_native: N-API call failed");
}

/* Sets obj[key] = value, ignoring failure: only used while building an error. */
static void set_named(napi_env env, napi_value obj, const char *key, napi_value value) {
  napi_set_named_property(env, obj, key, value);
}

/*
 * Throws an Error shaped like Node's system errors. `subject` (may be NULL)
 * names what the call was about, e.g. "127.0.0.1:8080" or "fd 17".
 */
void legate_throw_errno(napi_env env, const char *syscall, const char *subject, int err) {
  char name[32], text[128], message[HOST_MAX + 256];
  napi_value code_value, message_value, error, errno_value, syscall_value;

  uv_err_name_r(-err, name, sizeof name);
  uv_strerror_r(-err, text, sizeof text);
  snprintf(message, sizeof message, "%s %s: %s%s%s", syscall, name, text,
           subject ? " " : "", subject ? subject : "");

  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code_value) != napi_ok ||
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &message_value) != napi_ok ||
      napi_create_error(env, code_value, message_value, &error) != napi_ok) {
    napi_throw_error(env, name, message);
    return;
  }
  if (napi_create_int32(env, -err, &errno_value) == napi_ok) set_named(env, error, "errno", errno_value);
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value) == napi_ok)
    set_named(env, error, "syscall", syscall_value);
  napi_throw(env, error);
}

/* ------------------------------------------------------------------------ */
/* Argument readers: each throws a TypeError/RangeError and returns false.   */
/* ------------------------------------------------------------------------ */

bool legate_read_int32(napi_env env, napi_value value, const char *what, int32_t min,
                       int32_t max, int32_t *out) {
  char message[128];
  napi_valuetype type;
  double number;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number) {
    snprintf(message, sizeof message, "%s must be a number", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return false;
  }
  napi_get_value_double(env, value, &number);
  if (!(number >= min && number <= max) || number != (double)(int32_t)number) {
    snprintf(message, sizeof message, "%s must be an integer in [%d, %d]", what, min, max);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
    return false;
  }
  *out = (int32_t)number;
  return true;
}

static bool read_fd(napi_env env, size_t argc, napi_value *argv, int32_t *fd) {
  if (argc < 1) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "fd is required");
    return false;
  }
  return legate_read_int32(env, argv[0], "fd", 0, INT32_MAX, fd);
}

/* Copies a JS string into `buf`, stripping one pair of [brackets] (IPv6 URL form). */
static bool read_host(napi_env env, napi_value value, char *buf, size_t size) {
  napi_valuetype type;
  size_t length = 0;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_string) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "host must be a string");
    return false;
  }
  napi_get_value_string_utf8(env, value, buf, size, &length);
  if (length >= size - 1) {
    napi_throw_range_error(env, "ERR_INVALID_IP_ADDRESS", "host is too long for an IP literal");
    return false;
  }
  if (length >= 2 && buf[0] == '[' && buf[length - 1] == ']') {
    memmove(buf, buf + 1, length - 2);
    buf[length - 2] = '\0';
  }
  return true;
}

/* ------------------------------------------------------------------------ */
/* Listening sockets                                                        */
/* ------------------------------------------------------------------------ */

/* Both flags are set with fcntl (not SOCK_* type flags) so this builds on macOS too. */
static int set_nonblock_cloexec(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -1;
  int fdf = fcntl(fd, F_GETFD);
  if (fdf < 0 || fcntl(fd, F_SETFD, fdf | FD_CLOEXEC) < 0) return -1;
  return 0;
}

/*
 * Opens, binds and listens one SO_REUSEPORT socket. Returns the fd, or
 * -errno with *syscall naming the step that failed; never leaks the fd.
 * IPv6 sockets are v6-only unless ipv4_compat, matching Envoy's
 * SocketAddress.ipv4_compat (default false).
 */
static int open_reuseport_listener(const struct addrinfo *ai, int backlog, bool ipv4_compat,
                                   const char **syscall) {
  int one = 1, v6only = ipv4_compat ? 0 : 1, err;
  int fd = socket(ai->ai_family, SOCK_STREAM, 0);
  if (fd < 0) {
    *syscall = "socket";
    return -errno;
  }
  *syscall = "fcntl";
  if (set_nonblock_cloexec(fd) != 0) goto fail;
  *syscall = "setsockopt";
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) goto fail;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) goto fail;
  if (ai->ai_family == AF_INET6 &&
      setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0)
    goto fail;
  *syscall = "bind";
  if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) goto fail;
  *syscall = "listen";
  if (listen(fd, backlog) != 0) goto fail;
  return fd;
fail:
  err = errno;
  close(fd);
  return -err;
}

/*
 * listenReusePort(host: string, port: number, backlog: number,
 *                 ipv4Compat?: boolean): number
 * `host` must be an IPv4 or IPv6 literal (no DNS lookups at bind time).
 */
static napi_value ListenReusePort(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], result;
  char host[HOST_MAX], port_text[8], subject[HOST_MAX + 16];
  int32_t port, backlog;
  bool ipv4_compat = false;
  const char *syscall = "socket";
  struct addrinfo hints, *addr = NULL;
  int fd, rc;

  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "host, port and backlog are required");
    return NULL;
  }
  if (!read_host(env, argv[0], host, sizeof host) ||
      !legate_read_int32(env, argv[1], "port", 0, 65535, &port) ||
      !legate_read_int32(env, argv[2], "backlog", 1, INT32_MAX, &backlog))
    return NULL;
  if (argc >= 4) napi_get_value_bool(env, argv[3], &ipv4_compat); /* non-boolean: stays false */

  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
  snprintf(port_text, sizeof port_text, "%d", (int)port);
  snprintf(subject, sizeof subject, "%s:%d", host, (int)port);
  rc = getaddrinfo(host, port_text, &hints, &addr);
  if (rc != 0 || addr == NULL) {
    char message[HOST_MAX + 96];
    snprintf(message, sizeof message, "host '%s' is not an IPv4 or IPv6 literal (%s)", host,
             gai_strerror(rc));
    if (addr) freeaddrinfo(addr);
    napi_throw_type_error(env, "ERR_INVALID_IP_ADDRESS", message);
    return NULL;
  }
  fd = open_reuseport_listener(addr, backlog, ipv4_compat, &syscall);
  freeaddrinfo(addr);
  if (fd < 0) {
    legate_throw_errno(env, syscall, subject, -fd);
    return NULL;
  }
  NAPI_CALL(env, napi_create_int32(env, fd, &result));
  return result;
}

/*
 * localPort(fd: number): number — the bound port, so that a listener asked
 * for port 0 can open its remaining per-worker sockets on the same port.
 */
static napi_value LocalPort(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  int32_t fd;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  char subject[32];
  int port;

  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!read_fd(env, argc, argv, &fd)) return NULL;
  snprintf(subject, sizeof subject, "fd %d", (int)fd);
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
    legate_throw_errno(env, "getsockname", subject, errno);
    return NULL;
  }
  if (ss.ss_family == AF_INET) {
    port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  } else {
    legate_throw_errno(env, "getsockname", subject, EAFNOSUPPORT);
    return NULL;
  }
  NAPI_CALL(env, napi_create_int32(env, port, &result));
  return result;
}

/* ------------------------------------------------------------------------ */
/* Descriptor plumbing                                                      */
/* ------------------------------------------------------------------------ */

/*
 * dup(fd: number): number — a close-on-exec copy. The copy shares the open
 * file description (and so O_NONBLOCK) with the original.
 */
static napi_value Dup(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  int32_t fd;
  int copy;
  char subject[32];

  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!read_fd(env, argc, argv, &fd)) return NULL;
  copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    snprintf(subject, sizeof subject, "fd %d", (int)fd);
    legate_throw_errno(env, "dup", subject, errno);
    return NULL;
  }
  NAPI_CALL(env, napi_create_int32(env, copy, &result));
  return result;
}

/*
 * close(fd: number): void — for fds no libuv handle owns yet (a listener
 * never passed to listen({ fd }), a dup never adopted). EINTR is success:
 * on Linux the fd is released regardless, and retrying could close a
 * descriptor another thread has just been given.
 */
static napi_value Close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  char subject[32];

  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!read_fd(env, argc, argv, &fd)) return NULL;
  if (close(fd) != 0 && errno != EINTR) {
    snprintf(subject, sizeof subject, "fd %d", (int)fd);
    legate_throw_errno(env, "close", subject, errno);
  }
  return NULL;
}

legate_instance *legate_instance_of(napi_env env) {
  legate_instance *instance = NULL;
  napi_get_instance_data(env, (void **)&instance);
  return instance;
}

static void free_instance(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  legate_instance *instance = data;
  if (instance->relay != NULL && instance->free_relay != NULL) instance->free_relay(instance->relay);
  free(instance);
}

NAPI_MODULE_INIT() {
  legate_instance *instance = calloc(1, sizeof *instance);
  if (instance == NULL) return NULL;
  NAPI_CALL(env, napi_set_instance_data(env, instance, free_instance, NULL));
  napi_property_descriptor methods[] = {
      {"listenReusePort", NULL, ListenReusePort, NULL, NULL, NULL, napi_enumerable, NULL},
      {"localPort", NULL, LocalPort, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dup", NULL, Dup, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, Close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods));
  NAPI_CALL(env, legate_define_splice_relay(env, exports));
  NAPI_CALL(env, legate_define_engine(env, exports));
  NAPI_CALL(env, legate_define_h1_parser(env, exports));
  return exports;
}
