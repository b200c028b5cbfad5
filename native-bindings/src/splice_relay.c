/*
 * splice_relay: the zero-copy path of tcp_proxy and of upgraded HTTP streams.
 * Moves bytes between two connected TCP sockets with splice(2) through one
 * pipe per direction, on one native
 * thread per process driving its own epoll loop (edge-triggered), so the
 * bytes never enter the JS heap and no worker's event loop wakes per chunk.
 *
 * Ownership: JS keeps its net.Socket objects (and their fds) for the whole
 * life of the connection, with libuv no longer reading them. The relay works
 * on dup()s of the two fds, so a JS close can never make it touch a reused
 * descriptor number; it closes the dups (and its pipes) in stop().
 *
 * Semantics, per direction src -> dst:
 *   - bytes: spliced src -> pipe -> dst; at most one pipe of data in flight,
 *     so memory per connection is bounded by the two pipe capacities;
 *   - half-close: EOF on src (after the pipe drained) -> shutdown(dst, WR),
 *     while the other direction keeps flowing;
 *   - reset: an error reading src / writing dst ends the relay, reporting
 *     which side failed; JS then resets the other side (RST propagation).
 * When both directions saw EOF the relay ends cleanly. The end is reported to
 * the JS thread that started the relay through its napi threadsafe function:
 * callback(id, reason), reason 0 = clean, 1 = side A failed (reset), 2 =
 * side B failed; spliceRelayBytes() reads the byte counts. JS must then call stop() exactly once
 * (it may also stop a running relay, e.g. on an idle timeout).
 *
 * Memory safety across threads: each relay has a mutex the relay thread
 * holds while pumping; stop() takes it, removes the fds from epoll, closes
 * them, and queues the struct on a graveyard that the relay thread frees at
 * the top of its next loop, when no epoll event can still point at it.
 */
#ifdef __linux__
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <node_api.h>

#include "splice_pump.h"
#include "splice_relay.h"

#define EVENT_BATCH 128
/* The relay thread wakes at least this often to free stopped relays. */
#define GRAVEYARD_SWEEP_MS 500
#define MIN_PIPE_BYTES 4096
#define MAX_PIPE_BYTES (1 << 20)

enum relay_state { RELAY_RUNNING, RELAY_FINISHED, RELAY_STOPPED };
enum relay_end { END_CLEAN = 0, END_RESET_A = 1, END_RESET_B = 2 };

struct relay_env;

typedef struct relay {
  pthread_mutex_t lock;
  enum relay_state state;
  int fd[2];       /* dups: 0 = A (downstream), 1 = B (upstream) */
  lg_splice_dir dir[2]; /* dir[0]: A -> B, dir[1]: B -> A */
  uint64_t bytes[2]; /* delivered per direction; written under lock, read with __atomic */
  lg_splice_pauses a_reading; /* A's (the downstream's) reading paused / resumed, read with __atomic */
  int64_t last_active_ms; /* CLOCK_MONOTONIC ms of the last byte moved (or the start), read with __atomic */
  double id;
  struct relay_env *env;
  struct relay *prev, *next; /* the env's live list (JS thread only) */
  struct relay *next_dead;   /* graveyard link */
} relay;

/* Per JS thread (napi env): where its relays report, and which are live. */
typedef struct relay_env {
  napi_threadsafe_function tsfn;
  relay *live;
  uint32_t active;
} relay_env;

typedef struct end_event {
  double id;
  int reason;
} end_event;

static struct {
  pthread_once_t once;
  int start_errno;
  int epfd;
  pthread_mutex_t graveyard_lock;
  relay *graveyard;
} g = {PTHREAD_ONCE_INIT, 0, -1, PTHREAD_MUTEX_INITIALIZER, NULL};

/* ------------------------------------------------------------------------ */
/* Relay thread                                                             */
/* ------------------------------------------------------------------------ */

static int64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_relay_fds(relay *r) {
  for (int i = 0; i < 2; i++) {
    if (r->fd[i] >= 0) close(r->fd[i]);
    r->fd[i] = -1;
    lg_splice_dir_close(&r->dir[i]);
  }
}

static void free_graveyard(void) {
  pthread_mutex_lock(&g.graveyard_lock);
  relay *dead = g.graveyard;
  g.graveyard = NULL;
  pthread_mutex_unlock(&g.graveyard_lock);
  while (dead != NULL) {
    relay *next = dead->next_dead;
    pthread_mutex_destroy(&dead->lock);
    free(dead);
    dead = next;
  }
}

/*
 * Moves what it can in direction d. Returns END_CLEAN when it stopped for
 * want of input/output space (or finished the direction), else the side that
 * failed.
 */
static int pump(relay *r, int d) {
  switch (lg_splice_pump(&r->dir[d], r->fd[d], r->fd[1 - d], &r->bytes[d])) {
    case LG_PUMP_SRC_FAILED:
      return d == 0 ? END_RESET_A : END_RESET_B;
    case LG_PUMP_DST_FAILED:
      return d == 0 ? END_RESET_B : END_RESET_A;
    default:
      return END_CLEAN;
  }
}

/* A pending socket error (EPOLLERR) on a direction that is idle would go unnoticed by pump. */
static int socket_error_end(relay *r) {
  for (int i = 0; i < 2; i++)
    if (lg_socket_has_error(r->fd[i])) return i == 0 ? END_RESET_A : END_RESET_B;
  return END_CLEAN;
}

static void post_end(relay *r, int reason) {
  end_event *ev = malloc(sizeof *ev);
  if (ev == NULL) return; /* the JS side's timers still end the session */
  ev->id = r->id;
  ev->reason = reason;
  if (napi_call_threadsafe_function(r->env->tsfn, ev, napi_tsfn_nonblocking) != napi_ok) free(ev);
}

/* Runs with r->lock held and r RUNNING. */
static void on_events(relay *r, uint32_t events) {
  uint64_t moved = r->bytes[0] + r->bytes[1];
  int end = pump(r, 0);
  lg_splice_note_pauses(&r->a_reading, &r->dir[0]);
  if (end == END_CLEAN) end = pump(r, 1);
  /* Idle timeouts (the HTTP stream_idle_timeout of a spliced tunnel) count from the last byte. */
  if (r->bytes[0] + r->bytes[1] != moved) __atomic_store_n(&r->last_active_ms, monotonic_ms(), __ATOMIC_RELAXED);
  if (end == END_CLEAN && (events & EPOLLERR)) end = socket_error_end(r);
  if (end == END_CLEAN && !(r->dir[0].done && r->dir[1].done)) return;
  epoll_ctl(g.epfd, EPOLL_CTL_DEL, r->fd[0], NULL);
  epoll_ctl(g.epfd, EPOLL_CTL_DEL, r->fd[1], NULL);
  r->state = RELAY_FINISHED;
  post_end(r, end);
}

static void *relay_thread(void *arg) {
  (void)arg;
  struct epoll_event events[EVENT_BATCH];
  for (;;) {
    free_graveyard();
    int n = epoll_wait(g.epfd, events, EVENT_BATCH, GRAVEYARD_SWEEP_MS);
    for (int i = 0; i < n; i++) {
      relay *r = events[i].data.ptr;
      pthread_mutex_lock(&r->lock);
      if (r->state == RELAY_RUNNING) on_events(r, events[i].events);
      pthread_mutex_unlock(&r->lock);
    }
  }
  return NULL;
}

static void start_thread_once(void) {
  pthread_t thread;
  pthread_attr_t attr;
  sigset_t all, previous;
  g.epfd = epoll_create1(EPOLL_CLOEXEC);
  if (g.epfd < 0) {
    g.start_errno = errno;
    return;
  }
  /* Signals stay with Node's threads: the relay thread starts with all of them blocked. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  g.start_errno = pthread_create(&thread, &attr, relay_thread, NULL);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &previous, NULL);
}

/* ------------------------------------------------------------------------ */
/* JS thread side                                                           */
/* ------------------------------------------------------------------------ */

/* Runs on the JS thread: delivers one end event (or frees it when env is NULL, at teardown). */
static void call_js(napi_env env, napi_value callback, void *context, void *data) {
  (void)context;
  end_event *ev = data;
  if (env != NULL && callback != NULL) {
    napi_value argv[2], undefined;
    napi_create_double(env, ev->id, &argv[0]);
    napi_create_int32(env, ev->reason, &argv[1]);
    napi_get_undefined(env, &undefined);
    napi_call_function(env, undefined, callback, 2, argv, NULL);
  }
  free(ev);
}

/* Only from the JS thread that owns r (stop, or env teardown). */
static void relay_stop(relay *r) {
  relay_env *renv = r->env;
  pthread_mutex_lock(&r->lock);
  if (r->state == RELAY_RUNNING) {
    epoll_ctl(g.epfd, EPOLL_CTL_DEL, r->fd[0], NULL);
    epoll_ctl(g.epfd, EPOLL_CTL_DEL, r->fd[1], NULL);
  }
  r->state = RELAY_STOPPED;
  close_relay_fds(r);
  pthread_mutex_unlock(&r->lock);

  if (r->prev) r->prev->next = r->next;
  else renv->live = r->next;
  if (r->next) r->next->prev = r->prev;
  renv->active--;

  pthread_mutex_lock(&g.graveyard_lock);
  r->next_dead = g.graveyard;
  g.graveyard = r;
  pthread_mutex_unlock(&g.graveyard_lock);
}

/* A worker thread ending with relays still running: stop them so none reports to a dead env. */
static void env_cleanup(void *arg) {
  relay_env *renv = arg;
  while (renv->live != NULL) relay_stop(renv->live);
}

static relay_env *get_relay_env(napi_env env) {
  legate_instance *instance = legate_instance_of(env);
  return instance != NULL ? instance->relay : NULL;
}

/* spliceRelayInit(onEnd: (id, reason) => void): void — once per thread. */
static napi_value SpliceRelayInit(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], name;
  napi_valuetype type;
  relay_env *renv;

  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "onEnd must be a function");
    return NULL;
  }
  if (get_relay_env(env) != NULL) {
    napi_throw_error(env, "ERR_INVALID_STATE", "spliceRelayInit was already called on this thread");
    return NULL;
  }
  pthread_once(&g.once, start_thread_once);
  if (g.start_errno != 0) {
    legate_throw_errno(env, "pthread_create", NULL, g.start_errno);
    return NULL;
  }
  renv = calloc(1, sizeof *renv);
  if (renv == NULL) {
    legate_throw_errno(env, "malloc", NULL, ENOMEM);
    return NULL;
  }
  NAPI_CALL(env, napi_create_string_utf8(env, "legate.spliceRelay", NAPI_AUTO_LENGTH, &name));
  if (napi_create_threadsafe_function(env, argv[0], NULL, name, 0, 1, NULL, NULL, NULL, call_js,
                                      &renv->tsfn) != napi_ok) {
    free(renv);
    legate_throw_napi_failure(env);
    return NULL;
  }
  /* Referenced only while relays run: an idle relay must not keep the thread alive. */
  napi_unref_threadsafe_function(env, renv->tsfn);
  legate_instance *instance = legate_instance_of(env);
  instance->relay = renv;
  instance->free_relay = free;
  /* Registered after the tsfn, so it runs before the tsfn is torn down. */
  NAPI_CALL(env, napi_add_env_cleanup_hook(env, env_cleanup, renv));
  return NULL;
}

/*
 * spliceRelayStart(id: number, fdA: number, fdB: number, pipeBytes: number): external
 * fdA/fdB are connected, non-blocking TCP sockets that libuv no longer reads.
 */
static napi_value SpliceRelayStart(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], result;
  int32_t fds[2], pipe_bytes;
  double id;
  relay_env *renv = get_relay_env(env);
  relay *r;
  int err = 0;
  const char *syscall = "dup";

  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (renv == NULL) {
    napi_throw_error(env, "ERR_INVALID_STATE", "call spliceRelayInit first");
    return NULL;
  }
  if (argc < 4) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "id, fdA, fdB and pipeBytes are required");
    return NULL;
  }
  if (napi_get_value_double(env, argv[0], &id) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "id must be a number");
    return NULL;
  }
  if (!legate_read_int32(env, argv[1], "fdA", 0, INT32_MAX, &fds[0]) ||
      !legate_read_int32(env, argv[2], "fdB", 0, INT32_MAX, &fds[1]) ||
      !legate_read_int32(env, argv[3], "pipeBytes", MIN_PIPE_BYTES, MAX_PIPE_BYTES, &pipe_bytes))
    return NULL;

  r = calloc(1, sizeof *r);
  if (r == NULL) {
    legate_throw_errno(env, "malloc", NULL, ENOMEM);
    return NULL;
  }
  pthread_mutex_init(&r->lock, NULL);
  r->id = id;
  r->env = renv;
  for (int i = 0; i < 2; i++) {
    r->fd[i] = -1;
    lg_splice_dir_init(&r->dir[i]);
  }
  for (int i = 0; i < 2 && err == 0; i++) {
    r->fd[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
    if (r->fd[i] < 0) err = errno;
  }
  /*
   * A relay takes six fds (two dups, two pipes). Once half the process's fd limit is in use (a dup
   * gets the lowest free number, so every fd below it is open), it refuses with EMFILE and the
   * caller relays in JS: the fds left are for accepting and connecting.
   */
  struct rlimit limit;
  if (err == 0 && getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
      (rlim_t)r->fd[1] >= limit.rlim_cur / 2)
    err = EMFILE;
  for (int i = 0; i < 2 && err == 0; i++) {
    syscall = "pipe2";
    if (!lg_splice_dir_open(&r->dir[i], pipe_bytes)) err = errno;
  }
  /* Registered under the lock so the relay thread cannot run this relay before it is complete. */
  pthread_mutex_lock(&r->lock);
  for (int i = 0; i < 2 && err == 0; i++) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = r};
    syscall = "epoll_ctl";
    if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, r->fd[i], &ev) != 0) err = errno;
  }
  if (err != 0) {
    /* fd[0] may be registered already and have an event queued: free through the graveyard. */
    epoll_ctl(g.epfd, EPOLL_CTL_DEL, r->fd[0], NULL);
    r->state = RELAY_STOPPED;
    close_relay_fds(r);
    pthread_mutex_unlock(&r->lock);
    pthread_mutex_lock(&g.graveyard_lock);
    r->next_dead = g.graveyard;
    g.graveyard = r;
    pthread_mutex_unlock(&g.graveyard_lock);
    legate_throw_errno(env, syscall, NULL, err);
    return NULL;
  }
  r->state = RELAY_RUNNING;
  r->last_active_ms = monotonic_ms();
  r->next = renv->live;
  if (renv->live) renv->live->prev = r;
  renv->live = r;
  if (renv->active++ == 0) napi_ref_threadsafe_function(env, renv->tsfn);
  pthread_mutex_unlock(&r->lock);

  NAPI_CALL(env, napi_create_external(env, r, NULL, NULL, &result));
  return result;
}

static relay *read_relay(napi_env env, napi_value value) {
  void *data = NULL;
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external ||
      napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a relay handle");
    return NULL;
  }
  return data;
}

/* spliceRelayStop(handle): void — closes the relay's fds; the handle must not be used again. */
static napi_value SpliceRelayStop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  relay *r;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || (r = read_relay(env, argv[0])) == NULL) return NULL;
  relay_env *renv = r->env; /* r belongs to the relay thread's graveyard once stopped */
  relay_stop(r);
  if (renv->active == 0) napi_unref_threadsafe_function(env, renv->tsfn);
  return NULL;
}

/*
 * spliceRelayBytes(handle, out: Float64Array(4 or 5)): void — out[0] = A->B, out[1] = B->A bytes
 * delivered so far, out[2] / out[3] = times A stopped / started being read (lg_splice_note_pauses),
 * out[4] (when there) = milliseconds since the relay last moved a byte (or started).
 */
static napi_value SpliceRelayBytes(napi_env env, napi_callback_info info) {
  size_t argc = 2, length = 0;
  napi_value argv[2];
  napi_typedarray_type type;
  void *data = NULL;
  bool is_typed = false;
  relay *r;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || (r = read_relay(env, argv[0])) == NULL) return NULL;
  napi_is_typedarray(env, argv[1], &is_typed);
  if (!is_typed || napi_get_typedarray_info(env, argv[1], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_float64_array || length < 4) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "out must be a Float64Array of length 4");
    return NULL;
  }
  double *out = data;
  out[0] = (double)__atomic_load_n(&r->bytes[0], __ATOMIC_RELAXED);
  out[1] = (double)__atomic_load_n(&r->bytes[1], __ATOMIC_RELAXED);
  out[2] = (double)__atomic_load_n(&r->a_reading.times[0], __ATOMIC_RELAXED);
  out[3] = (double)__atomic_load_n(&r->a_reading.times[1], __ATOMIC_RELAXED);
  if (length >= 5) out[4] = (double)(monotonic_ms() - __atomic_load_n(&r->last_active_ms, __ATOMIC_RELAXED));
  return NULL;
}

/* spliceRelayCount(): number — relays started on this thread and not yet stopped (for leak tests). */
static napi_value SpliceRelayCount(napi_env env, napi_callback_info info) {
  (void)info;
  relay_env *renv = get_relay_env(env);
  napi_value result;
  NAPI_CALL(env, napi_create_uint32(env, renv ? renv->active : 0, &result));
  return result;
}

napi_status legate_define_splice_relay(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
      {"spliceRelayInit", NULL, SpliceRelayInit, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spliceRelayStart", NULL, SpliceRelayStart, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spliceRelayStop", NULL, SpliceRelayStop, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spliceRelayBytes", NULL, SpliceRelayBytes, NULL, NULL, NULL, napi_enumerable, NULL},
      {"spliceRelayCount", NULL, SpliceRelayCount, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods);
}

#else /* !__linux__: no splice(2); tcp_proxy uses its JS relay. */
#include <node_api.h>
#include "splice_relay.h"
napi_status legate_define_splice_relay(napi_env env, napi_value exports) {
  (void)env;
  (void)exports;
  return napi_ok;
}
#endif
