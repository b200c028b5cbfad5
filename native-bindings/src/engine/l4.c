/*
 * tcp_proxy sessions on the engine: a listener whose chain is tcp_proxy alone is accepted here,
 * each connection's upstream connected and its bytes moved both ways (copied while short, then
 * spliced: splice_pump.c) on the worker's engine epoll, with no JavaScript call per connection.
 *
 * What stays in JS (src/filters/network/tcp-proxy/engine-sessions.ts) is every decision and every
 * count: the host (the cluster's load balancer over the shared host table), the circuit breaker,
 * max_connect_attempts, and the stats. The engine asks in batches: each dispatch leaves records
 * (l4.h) for the sessions that need a host (new, or whose connect failed) and for those that moved
 * bytes or ended, and calls JS once with all of them; JS answers the picks in place and the engine
 * connects before the dispatch ends. A session waiting for its pick acts on nothing else (events on
 * its downstream are noted), so an answer always finds its session as it left it.
 *
 * Semantics are the splice relay's (splice_relay.c) and the JS session's (session.ts):
 *   - the downstream is not read while the upstream connects (Envoy read-disables it);
 *   - FIN one way is passed on (shutdown) while the other way flows; both FINs end the session;
 *   - a read/write error on one side resets the other (RST: SO_LINGER 0), then both close;
 *   - one timer per session (deadline_heap.c): the connect timeout while connecting, then a tick
 *     that reports bytes, and checks idle_timeout, max_downstream_connection_duration and the drain.
 *
 * Bytes: each direction starts copying (recv/send through the engine's read buffer: a short
 * exchange needs no pipe) and splices once a read fills the buffer (copy_pump).
 *
 * Pipes: one per direction that splices, taken from a per-listener pool of empty pipes and given back
 * empty, so a short connection costs no pipe2/fcntl. The pool never holds more pipes than the
 * listener has live sessions (nor more than PIPE_POOL_MAX), so it follows the load down and an
 * idle proxy holds no fd beyond its listening sockets.
 */
#define _GNU_SOURCE
#include "l4.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../splice_pump.h"
#include "deadline_heap.h"

#define INITIAL_RECORDS 256
#define PIPE_POOL_MAX 64
/* A copy-mode read of this size means a bulk transfer (see copy_pump); no more than a pipe holds. */
#define COPY_READ_BYTES 65536
/* The session tick: as session.ts (stats at least every second, idleness 8 times per timeout). */
#define STATS_TICK_MS 1000
#define DRAIN_TICK_MS 100
#define IDLE_CHECKS_PER_TIMEOUT 8
#define MIN_TICK_MS 50
/* As src/common/drain.ts: quiet this long closes a session in a drain; the drain's grace. */
#define DRAIN_QUIET_MS 1000
#define DRAIN_GRACE_MS 5000

enum { SIDE_DOWN = 0, SIDE_UP = 1 };
typedef enum { S_PICKING, S_CONNECTING, S_RELAYING, S_CLOSED } session_state;

typedef struct lg_l4_session lg_l4_session;

typedef struct lg_l4_listener {
  lg_listener *listener;
  uint32_t live;             /* sessions not ended */
  uint32_t idle_timeout_ms;  /* 0: none */
  uint32_t max_duration_ms;  /* 0: none */
  int pipe_bytes;
  bool draining;
  uint64_t drain_deadline;
  lg_l4_session *sessions;   /* live sessions (doubly linked) */
  lg_splice_dir pool[PIPE_POOL_MAX];
  uint32_t pooled;
} lg_l4_listener;

struct lg_l4_session {
  lg_engine *engine;
  lg_l4_listener *l4;
  double id;
  session_state state;
  int fd[2];
  lg_splice_dir dir[2]; /* dir[SIDE_DOWN]: downstream -> upstream */
  bool splicing[2];     /* the direction left copy mode (copy_pump) */
  bool hangup[2];       /* epoll reported RDHUP/HUP/ERR on the side */
  uint64_t bytes[2], reported[2];
  lg_splice_pauses downstream_reading; /* dir[SIDE_DOWN]'s (LG_L4_FLOW) */
  uint32_t pauses_reported[2];
  uint64_t started_ms, last_active_ms, connect_deadline;
  uint64_t connect_started_ns;
  lg_deadline timer;
  int32_t target, host_slot;
  uint32_t attempts;
  bool downstream_gone;  /* the downstream failed (HUP/ERR) while waiting for a pick */
  bool report_connect;
  lg_l4_session *prev, *next; /* the listener's live list */
  lg_l4_session *next_dead;
};

typedef struct l4_address {
  struct sockaddr_storage ss;
  socklen_t len;
} l4_address;

/* A record buffer; `sessions` holds the session a PICK / CONNECT_FAILED record asks about. */
typedef struct record_buffer {
  double *records;
  lg_l4_session **sessions;
  uint32_t count, capacity;
  int32_t generation; /* bumped when `records` moved (JS takes a new view) */
} record_buffer;

typedef struct lg_l4 {
  uv_timer_t timer;
  uint64_t timer_at; /* when `timer` fires, 0 = stopped */
  lg_deadline_heap heap;
  record_buffer buffers[2];
  int filling; /* the buffer records go to; the other one is JS's during a batch */
  l4_address *addresses;
  uint32_t address_count, address_capacity;
  lg_l4_session *dead; /* closed, freed at the end of the dispatch */
  double next_id;
  uint32_t live;
} lg_l4;

static void on_timer(uv_timer_t *handle);
static void end_session(lg_l4_session *s, lg_l4_end_reason reason);

static uint64_t now_ms(lg_engine *e) { return uv_now(e->loop); }

static lg_l4_session *tag_session(void *tag) { return (lg_l4_session *)((uintptr_t)tag & ~(uintptr_t)3); }
static void *session_tag(lg_l4_session *s, int side) { return (void *)((uintptr_t)s | (side == SIDE_UP ? 3 : 1)); }

/* ------------------------------------------------------------------ the engine's L4 state */

static lg_l4 *l4_state(lg_engine *e) {
  if (e->l4 != NULL) return e->l4;
  lg_l4 *x = calloc(1, sizeof *x);
  if (x == NULL) return NULL;
  if (uv_timer_init(e->loop, &x->timer) != 0) {
    free(x);
    return NULL;
  }
  x->timer.data = e;
  /* Sessions keep the loop alive through the engine's poll handle, not through their timers. */
  uv_unref((uv_handle_t *)&x->timer);
  x->next_id = 1;
  e->l4 = x;
  return x;
}

int lg_l4_close_handles(lg_engine *e, uv_close_cb cb) {
  if (e->l4 == NULL) return 0;
  uv_close((uv_handle_t *)&e->l4->timer, cb);
  return 1;
}

/* ------------------------------------------------------------------ records */

/* A new record in the filling buffer, its fields zeroed; NULL when out of memory. */
static double *new_record(lg_l4_session *s, lg_l4_record_kind kind, lg_l4_session *asks) {
  lg_l4 *x = s->engine->l4;
  record_buffer *b = &x->buffers[x->filling];
  if (b->count == b->capacity) {
    uint32_t capacity = b->capacity ? b->capacity * 2 : INITIAL_RECORDS;
    double *records = malloc((size_t)capacity * LG_L4_FIELDS * sizeof(double));
    lg_l4_session **sessions = realloc(b->sessions, capacity * sizeof *sessions);
    lg_retired *retired = malloc(sizeof *retired);
    if (records == NULL || sessions == NULL || retired == NULL) {
      free(records);
      free(retired);
      if (sessions != NULL) b->sessions = sessions;
      return NULL;
    }
    if (b->records != NULL) {
      memcpy(records, b->records, (size_t)b->count * LG_L4_FIELDS * sizeof(double));
      /* JS may still hold a view of the old memory: retired until the engine goes (exchange.c). */
      retired->memory = b->records;
      retired->next = s->engine->retired;
      s->engine->retired = retired;
    } else {
      free(retired);
    }
    b->records = records;
    b->sessions = sessions;
    b->capacity = capacity;
    b->generation++;
  }
  double *r = b->records + (size_t)b->count * LG_L4_FIELDS;
  b->sessions[b->count++] = asks;
  r[LG_L4_F_KIND] = kind;
  r[LG_L4_F_LISTENER] = s->l4->listener->id;
  r[LG_L4_F_SESSION] = s->id;
  r[LG_L4_F_TARGET] = s->target;
  r[LG_L4_F_HOST] = s->host_slot;
  r[LG_L4_F_INFO] = 0;
  r[LG_L4_F_A] = 0;
  r[LG_L4_F_B] = 0;
  lg_loop_schedule(s->engine);
  return r;
}

/* Bytes moved since the last report, into a record's A and B. */
/* A FLOW record when the downstream was paused or resumed since the last one. */
static void report_flow(lg_l4_session *s) {
  const uint32_t *times = s->downstream_reading.times;
  uint32_t paused = times[0] - s->pauses_reported[0];
  uint32_t resumed = times[1] - s->pauses_reported[1];
  if (paused == 0 && resumed == 0) return;
  double *r = new_record(s, LG_L4_FLOW, NULL);
  if (r == NULL) return; /* out of memory: reported with the next record */
  r[LG_L4_F_A] = paused;
  r[LG_L4_F_B] = resumed;
  s->pauses_reported[0] = times[0];
  s->pauses_reported[1] = times[1];
}

static bool take_bytes(lg_l4_session *s, double *r) {
  uint64_t up = s->bytes[SIDE_DOWN] - s->reported[SIDE_DOWN];
  uint64_t down = s->bytes[SIDE_UP] - s->reported[SIDE_UP];
  s->reported[SIDE_DOWN] = s->bytes[SIDE_DOWN];
  s->reported[SIDE_UP] = s->bytes[SIDE_UP];
  if (r != NULL) {
    r[LG_L4_F_A] = (double)up;
    r[LG_L4_F_B] = (double)down;
  }
  return up != 0 || down != 0;
}

/* The session needs a host: its record is answered by JS in this dispatch. */
static void ask_pick(lg_l4_session *s, lg_l4_record_kind kind, int err, int flags) {
  double *r = new_record(s, kind, s);
  if (r == NULL) {
    /* Out of memory: a failed attempt's counts are JS's to give back, which END with CONNECTING does. */
    s->state = kind == LG_L4_CONNECT_FAILED ? S_CONNECTING : S_PICKING;
    end_session(s, LG_L4_END_LOCAL_FAILURE);
    return;
  }
  s->state = S_PICKING;
  r[LG_L4_F_INFO] = s->attempts;
  r[LG_L4_F_A] = err;
  r[LG_L4_F_B] = flags;
}

/* ------------------------------------------------------------------ timers */

static void arm(lg_l4_session *s, uint64_t at) {
  lg_engine *e = s->engine;
  lg_l4 *x = e->l4;
  if (!lg_heap_arm(&x->heap, &s->timer, at)) return; /* out of memory: the peers' FIN/RST still end it */
  if (x->timer_at != 0 && x->timer_at <= at) return;
  x->timer_at = at;
  uint64_t now = now_ms(e);
  uv_timer_start(&x->timer, on_timer, at > now ? at - now : 0, 0);
}

/* The next tick of a connected session (session.ts armTick). */
static void arm_tick(lg_l4_session *s) {
  lg_l4_listener *l4 = s->l4;
  uint64_t now = now_ms(s->engine);
  uint64_t ms = l4->draining ? DRAIN_TICK_MS : STATS_TICK_MS;
  if (l4->idle_timeout_ms > 0) {
    uint64_t idle = l4->idle_timeout_ms / IDLE_CHECKS_PER_TIMEOUT;
    if (idle < MIN_TICK_MS) idle = MIN_TICK_MS;
    if (idle < ms) ms = idle;
  }
  if (l4->max_duration_ms > 0) {
    uint64_t end = s->started_ms + l4->max_duration_ms;
    uint64_t left = end > now ? end - now : 1;
    if (left < ms) ms = left;
  }
  arm(s, now + ms);
}

/* A drain closes a session once quiet, or at the end of its grace. */
static bool drain_closes(lg_l4_session *s, uint64_t now) {
  lg_l4_listener *l4 = s->l4;
  return l4->draining && (now - s->last_active_ms >= DRAIN_QUIET_MS || now >= l4->drain_deadline);
}

static void connect_failed(lg_l4_session *s, int err, bool timed_out);

static void on_session_timer(lg_l4_session *s, uint64_t now) {
  if (s->state == S_CONNECTING) {
    if (now >= s->connect_deadline) {
      connect_failed(s, ETIMEDOUT, true);
      return;
    }
    if (drain_closes(s, now)) {
      end_session(s, LG_L4_END_DRAIN);
      return;
    }
    arm(s, s->l4->draining && now + DRAIN_TICK_MS < s->connect_deadline ? now + DRAIN_TICK_MS
                                                                         : s->connect_deadline);
    return;
  }
  if (s->state != S_RELAYING) return;
  report_flow(s);
  double *r = NULL;
  if (s->bytes[0] != s->reported[0] || s->bytes[1] != s->reported[1]) {
    r = new_record(s, LG_L4_BYTES, NULL);
    take_bytes(s, r);
    s->last_active_ms = now;
  }
  lg_l4_listener *l4 = s->l4;
  if (drain_closes(s, now)) end_session(s, LG_L4_END_DRAIN);
  else if (l4->idle_timeout_ms > 0 && now - s->last_active_ms >= l4->idle_timeout_ms)
    end_session(s, LG_L4_END_IDLE_TIMEOUT);
  else if (l4->max_duration_ms > 0 && now - s->started_ms >= l4->max_duration_ms)
    end_session(s, LG_L4_END_MAX_DURATION);
  else arm_tick(s);
}

static void on_timer(uv_timer_t *handle) {
  lg_engine *e = handle->data;
  lg_l4 *x = e->l4;
  x->timer_at = 0;
  lg_bridge_enter(e);
  e->dispatching++;
  uint64_t now = now_ms(e);
  lg_deadline *d;
  while ((d = lg_heap_top(&x->heap)) != NULL && d->at <= now) {
    lg_heap_disarm(&x->heap, d);
    lg_l4_session *s = (lg_l4_session *)((char *)d - offsetof(lg_l4_session, timer));
    on_session_timer(s, now);
  }
  /* Sessions re-armed above may have started the timer for later than an older deadline: restart. */
  d = lg_heap_top(&x->heap);
  x->timer_at = d != NULL ? d->at : 0;
  if (d != NULL) uv_timer_start(&x->timer, on_timer, d->at > now ? d->at - now : 0, 0);
  else uv_timer_stop(&x->timer);
  lg_loop_flush(e);
  e->dispatching--;
  lg_bridge_leave(e);
  if (e->destroy_requested) lg_engine_destroy(e);
}

/* ------------------------------------------------------------------ pipes */

static bool take_pipe(lg_l4_listener *l4, lg_splice_dir *p) {
  if (l4->pooled > 0) {
    *p = l4->pool[--l4->pooled];
    return true;
  }
  return lg_splice_dir_open(p, l4->pipe_bytes);
}

/*
 * An empty pipe goes back to the pool (while the pool holds less than a pair per live session);
 * one holding bytes (a reset cut them off) is closed.
 */
static void give_back_pipe(lg_l4_listener *l4, lg_splice_dir *p) {
  if (p->pipe_r < 0) return;
  if (p->in_pipe == 0 && l4->pooled < PIPE_POOL_MAX && l4->pooled < 2 * l4->live) {
    lg_splice_dir *pooled = &l4->pool[l4->pooled++];
    lg_splice_dir_init(pooled);
    pooled->pipe_r = p->pipe_r;
    pooled->pipe_w = p->pipe_w;
    pooled->capacity = p->capacity;
    p->pipe_r = p->pipe_w = -1;
    return;
  }
  lg_splice_dir_close(p);
}

/* Closes pooled pipes beyond `keep`. */
static void trim_pool(lg_l4_listener *l4, uint32_t keep) {
  while (l4->pooled > keep) lg_splice_dir_close(&l4->pool[--l4->pooled]);
}

/* ------------------------------------------------------------------ session lifecycle */

static void reset_close(int fd) {
  struct linger lg = {.l_onoff = 1, .l_linger = 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
}

/* Closes the upstream attempt's socket (closing removes it from epoll: it is never dup'd). */
static void close_upstream(lg_l4_session *s) {
  if (s->fd[SIDE_UP] >= 0) close(s->fd[SIDE_UP]);
  s->fd[SIDE_UP] = -1;
}

/*
 * Ends the session: closes both sockets (resetting the one whose peer did not fail, when the other
 * failed), reports END with what the upstream held, and frees it at the end of the dispatch.
 */
static void end_session(lg_l4_session *s, lg_l4_end_reason reason) {
  if (s->state == S_CLOSED) return;
  lg_engine *e = s->engine;
  lg_l4 *x = e->l4;
  int upstream = s->state == S_RELAYING     ? LG_L4_UPSTREAM_CONNECTED
                 : s->state == S_CONNECTING ? LG_L4_UPSTREAM_CONNECTING
                                            : LG_L4_UPSTREAM_NONE;
  s->state = S_CLOSED;
  s->l4->live--;
  lg_heap_disarm(&x->heap, &s->timer);
  for (int side = 0; side < 2; side++) {
    int fd = s->fd[side];
    if (fd < 0) continue;
    bool reset = (reason == LG_L4_END_DOWNSTREAM_RESET && side == SIDE_UP) ||
                 (reason == LG_L4_END_UPSTREAM_RESET && side == SIDE_DOWN);
    if (reset) reset_close(fd);
    else close(fd);
    s->fd[side] = -1;
    give_back_pipe(s->l4, &s->dir[side]);
  }
  report_flow(s);
  double *r = new_record(s, LG_L4_END, NULL);
  /* Out of memory for the record: JS cannot hear of this end; its counts stay open (logged nowhere). */
  if (r != NULL) {
    take_bytes(s, r);
    r[LG_L4_F_INFO] = reason | (upstream << 4);
  }
  lg_l4_listener *l4 = s->l4;
  if (s->prev != NULL) s->prev->next = s->next;
  else l4->sessions = s->next;
  if (s->next != NULL) s->next->prev = s->prev;
  s->prev = s->next = NULL;
  trim_pool(l4, 2 * l4->live);
  x->live--;
  s->next_dead = x->dead;
  x->dead = s;
}

static lg_l4_session *start_session(lg_engine *e, lg_listener *l, int fd) {
  lg_l4 *x = e->l4;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  lg_l4_session *s = calloc(1, sizeof *s);
  if (s == NULL) {
    close(fd);
    return NULL;
  }
  s->engine = e;
  s->l4 = l->l4;
  s->id = x->next_id++;
  s->fd[SIDE_DOWN] = fd;
  s->fd[SIDE_UP] = -1;
  lg_splice_dir_init(&s->dir[0]);
  lg_splice_dir_init(&s->dir[1]);
  lg_deadline_init(&s->timer);
  s->target = s->host_slot = -1;
  s->started_ms = s->last_active_ms = now_ms(e);
  if (lg_loop_add(e, fd, session_tag(s, SIDE_DOWN)) != 0) {
    close(fd);
    free(s);
    return NULL;
  }
  s->next = l->l4->sessions;
  if (s->next != NULL) s->next->prev = s;
  l->l4->sessions = s;
  l->l4->live++;
  x->live++;
  ask_pick(s, LG_L4_PICK, 0, 0);
  return s;
}

void lg_l4_accept(lg_engine *e, lg_listener *l) {
  for (;;) {
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      /* EAGAIN: accepted everything; EMFILE/ENFILE: leave the rest in the backlog. */
      return;
    }
    start_session(e, l, fd);
  }
}

/* ------------------------------------------------------------------ connecting */

static void start_relay(lg_l4_session *s);

static void connect_failed(lg_l4_session *s, int err, bool timed_out) {
  close_upstream(s);
  ask_pick(s, LG_L4_CONNECT_FAILED, err, (timed_out ? 1 : 0) | (s->downstream_gone ? 2 : 0));
}

/* JS chose a host: connect to it (a failure is reported as CONNECT_FAILED, as a refused connect). */
static void connect_to(lg_l4_session *s, const l4_address *a, uint32_t timeout_ms) {
  lg_engine *e = s->engine;
  s->attempts++;
  s->state = S_CONNECTING;
  int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    connect_failed(s, errno, false);
    return;
  }
  s->fd[SIDE_UP] = fd;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int r;
  do {
    r = connect(fd, (const struct sockaddr *)&a->ss, a->len);
  } while (r < 0 && errno == EINTR);
  if (r < 0 && errno != EINPROGRESS) {
    connect_failed(s, errno, false);
    return;
  }
  int err = lg_loop_add(e, fd, session_tag(s, SIDE_UP));
  if (err != 0) {
    connect_failed(s, -err, false);
    return;
  }
  if (s->report_connect) s->connect_started_ns = uv_hrtime();
  uint64_t now = now_ms(e);
  s->connect_deadline = now + timeout_ms;
  /* While draining, quietness is checked meanwhile (session.ts does the same). */
  arm(s, s->l4->draining && now + DRAIN_TICK_MS < s->connect_deadline ? now + DRAIN_TICK_MS : s->connect_deadline);
}

/* The connecting socket reported `events`: writable and no error is a connection (no getsockopt). */
static void on_connect_event(lg_l4_session *s, uint32_t events) {
  int err = 0;
  if (events & (EPOLLERR | EPOLLHUP)) {
    socklen_t len = sizeof err;
    if (getsockopt(s->fd[SIDE_UP], SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err == 0) err = ECONNRESET; /* hung up with no error recorded */
  } else if (!(events & EPOLLOUT)) {
    return;
  }
  if (err != 0) {
    lg_heap_disarm(&s->engine->l4->heap, &s->timer);
    connect_failed(s, err, false);
    return;
  }
  if (s->report_connect) {
    double *r = new_record(s, LG_L4_CONNECTED, NULL);
    if (r != NULL) r[LG_L4_F_A] = (double)(uv_hrtime() - s->connect_started_ns) / 1e6;
  }
  start_relay(s);
}

/* ------------------------------------------------------------------ relaying */

/* The session's end for a pump result in direction d, or -1 when it goes on. */
static int end_of(int d, lg_pump_result r) {
  switch (r) {
    case LG_PUMP_SRC_FAILED:
      return d == SIDE_DOWN ? LG_L4_END_DOWNSTREAM_RESET : LG_L4_END_UPSTREAM_RESET;
    case LG_PUMP_DST_FAILED:
      return d == SIDE_DOWN ? LG_L4_END_UPSTREAM_RESET : LG_L4_END_DOWNSTREAM_RESET;
    default:
      return -1;
  }
}

/* Direction d moves with splice(2) from now on (it takes its pipe). False: no pipe to be had. */
static bool enter_splice(lg_l4_session *s, int d) {
  s->splicing[d] = true;
  return s->dir[d].pipe_r >= 0 || take_pipe(s->l4, &s->dir[d]);
}

/*
 * Copy mode, how every direction starts: recv into the engine's read buffer and send on. A short
 * exchange then needs no pipe, and no read that ends in EAGAIN: a recv shorter than asked for
 * emptied the socket (new bytes raise a new edge), unless a FIN was seen, which is read to its 0.
 * A recv that fills the buffer means a bulk transfer: the direction splices from then on. Bytes the
 * destination cannot take wait in the direction's pipe (splicing from then on too), so EPOLLOUT
 * resumes them as any spliced bytes.
 */
static int copy_pump(lg_l4_session *s, int d) {
  lg_splice_dir *p = &s->dir[d];
  int src = s->fd[d], dst = s->fd[1 - d];
  uint8_t *buf = s->engine->rbuf;
  size_t size = s->engine->rbuf_size < COPY_READ_BYTES ? s->engine->rbuf_size : COPY_READ_BYTES;
  if (p->done) return -1;
  for (;;) {
    ssize_t n = recv(src, buf, size, 0);
    if (n == 0) {
      p->eof = p->done = true;
      /* With the other way done too, the session closes dst at once, which sends the FIN. */
      if (!s->dir[1 - d].done) shutdown(dst, SHUT_WR);
      return -1;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? -1 : end_of(d, LG_PUMP_SRC_FAILED);
    }
    size_t sent = 0;
    while (sent < (size_t)n) {
      ssize_t w = send(dst, buf + sent, (size_t)n - sent, MSG_NOSIGNAL);
      if (w > 0) sent += (size_t)w;
      else if (w < 0 && errno == EINTR) continue;
      else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      else return end_of(d, LG_PUMP_DST_FAILED);
    }
    s->bytes[d] += sent;
    if (sent < (size_t)n) {
      size_t rest = (size_t)n - sent;
      /* The pipe is empty and holds at least COPY_READ_BYTES: the rest fits in one write. */
      if (!enter_splice(s, d) || write(p->pipe_w, buf + sent, rest) != (ssize_t)rest) return LG_L4_END_LOCAL_FAILURE;
      p->in_pipe = rest;
      return -1;
    }
    if ((size_t)n == size) {
      if (!enter_splice(s, d)) return LG_L4_END_LOCAL_FAILURE;
      return end_of(d, lg_splice_pump(p, src, dst, &s->bytes[d]));
    }
    if (!s->hangup[d]) return -1;
  }
}

/* Moves what it can in direction d; the session's end if one side failed, else -1. */
static int pump(lg_l4_session *s, int d) {
  int end = !s->splicing[d]
                ? copy_pump(s, d)
                : end_of(d, lg_splice_pump(&s->dir[d], s->fd[d], s->fd[1 - d], &s->bytes[d]));
  if (d == SIDE_DOWN) lg_splice_note_pauses(&s->downstream_reading, &s->dir[SIDE_DOWN]);
  return end;
}

/* After pumping: end the session if a side failed or both directions are done. */
static void check_end(lg_l4_session *s, int end, bool error_seen) {
  if (end < 0 && error_seen) {
    if (lg_socket_has_error(s->fd[SIDE_DOWN])) end = LG_L4_END_DOWNSTREAM_RESET;
    else if (lg_socket_has_error(s->fd[SIDE_UP])) end = LG_L4_END_UPSTREAM_RESET;
  }
  if (end < 0 && s->dir[0].done && s->dir[1].done) end = LG_L4_END_CLEAN;
  if (end >= 0) end_session(s, (lg_l4_end_reason)end);
}

static void start_relay(lg_l4_session *s) {
  lg_heap_disarm(&s->engine->l4->heap, &s->timer);
  s->state = S_RELAYING;
  /* The downstream's bytes (and FIN) that came while connecting gave their edge already. */
  int end = pump(s, SIDE_DOWN);
  if (end < 0) end = pump(s, SIDE_UP);
  check_end(s, end, s->downstream_gone);
  if (s->state == S_RELAYING) arm_tick(s);
}

void lg_l4_on_event(void *tag, uint32_t events) {
  lg_l4_session *s = tag_session(tag);
  int side = ((uintptr_t)tag & 2) ? SIDE_UP : SIDE_DOWN;
  bool failed = (events & (EPOLLERR | EPOLLHUP)) != 0;
  /* Copy mode reads a side whose FIN (or failure) was seen to the end, whenever that was seen. */
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) s->hangup[side] = true;
  switch (s->state) {
    case S_PICKING:
      if (side == SIDE_DOWN && failed) s->downstream_gone = true;
      return;
    case S_CONNECTING:
      if (side == SIDE_UP) on_connect_event(s, events);
      /* A FIN alone waits for the relay (it is passed on); a reset ends the attempt now. */
      else if (failed) end_session(s, LG_L4_END_DOWNSTREAM_GONE);
      return;
    case S_RELAYING: {
      int end = -1;
      /* Input (or its end) on this side feeds its direction; output space resumes the other one. */
      if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) end = pump(s, side);
      lg_splice_dir *back = &s->dir[1 - side];
      if (end < 0 && (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) && (back->in_pipe > 0 || failed))
        end = pump(s, 1 - side);
      check_end(s, end, (events & EPOLLERR) != 0);
      return;
    }
    case S_CLOSED:
      return;
  }
}

/* ------------------------------------------------------------------ the batch */

static void act_on_answer(lg_l4 *x, const double *r, lg_l4_session *s) {
  if (s->state != S_PICKING) return;
  if ((int)r[LG_L4_F_KIND] != LG_L4_ANSWER_CONNECT) {
    end_session(s, LG_L4_END_REFUSED);
    return;
  }
  s->target = (int32_t)r[LG_L4_F_TARGET];
  s->host_slot = (int32_t)r[LG_L4_F_HOST];
  uint32_t address = (uint32_t)r[LG_L4_F_INFO];
  if (address >= x->address_count) {
    /* JS asked for an address it never registered: a defect; count the attempt as failed. */
    s->state = S_CONNECTING;
    end_session(s, LG_L4_END_LOCAL_FAILURE);
    return;
  }
  if (s->downstream_gone) {
    /* JS holds the upstream's counts for this pick: END gives them back with CONNECTING. */
    s->state = S_CONNECTING;
    end_session(s, LG_L4_END_DOWNSTREAM_GONE);
    return;
  }
  s->report_connect = r[LG_L4_F_B] != 0;
  connect_to(s, &x->addresses[address], (uint32_t)r[LG_L4_F_A]);
}

bool lg_l4_flush(lg_engine *e) {
  lg_l4 *x = e->l4;
  if (x == NULL || e->in_js > 0 || e->dispatching == 0) return false;
  bool worked = false;
  int which = x->filling;
  record_buffer *b = &x->buffers[which];
  uint32_t n = b->count;
  if (n > 0) {
    /* Records raised while acting on the answers go to the other buffer, for the next round. */
    x->filling = 1 - which;
    lg_emit(e, LG_EV_L4_BATCH, which, n, b->generation);
    b->count = 0;
    if (e->destroy_requested || e->destroyed) return true;
    for (uint32_t i = 0; i < n; i++) {
      lg_l4_session *s = b->sessions[i];
      if (s != NULL) act_on_answer(x, b->records + (size_t)i * LG_L4_FIELDS, s);
    }
    worked = true;
  }
  while (x->dead != NULL) {
    lg_l4_session *s = x->dead;
    x->dead = s->next_dead;
    free(s);
  }
  return worked;
}

/* ------------------------------------------------------------------ called from JS */

lg_listener *lg_l4_listen(lg_engine *e, int fd, uint32_t idle_timeout_ms, uint32_t max_duration_ms,
                          int pipe_bytes) {
  if (l4_state(e) == NULL) return NULL;
  lg_listener *l = calloc(1, sizeof *l);
  lg_l4_listener *l4 = calloc(1, sizeof *l4);
  if (l == NULL || l4 == NULL || !lg_engine_add_listener(e, l)) {
    free(l);
    free(l4);
    return NULL;
  }
  l->fd = fd;
  l->l4 = l4;
  l4->listener = l;
  l4->idle_timeout_ms = idle_timeout_ms;
  l4->max_duration_ms = max_duration_ms;
  l4->pipe_bytes = pipe_bytes;
  return l;
}

double lg_l4_adopt(lg_engine *e, lg_listener *l, int fd) {
  lg_l4_session *s = start_session(e, l, fd);
  return s != NULL ? s->id : -1;
}

int32_t lg_l4_address(lg_engine *e, const char *ip, int port) {
  lg_l4 *x = l4_state(e);
  if (x == NULL) return -ENOMEM;
  if (x->address_count == x->address_capacity) {
    uint32_t capacity = x->address_capacity ? x->address_capacity * 2 : 16;
    l4_address *a = realloc(x->addresses, capacity * sizeof *a);
    if (a == NULL) return -ENOMEM;
    x->addresses = a;
    x->address_capacity = capacity;
  }
  l4_address *a = &x->addresses[x->address_count];
  if (!lg_sockaddr_parse(ip, port, &a->ss, &a->len)) return -EINVAL;
  return (int32_t)x->address_count++;
}

/* Every session of the listener is checked on the next timer turn (quiet ones close). */
void lg_l4_drain(lg_engine *e, lg_listener *l) {
  lg_l4_listener *l4 = l->l4;
  if (l4 == NULL || l4->draining) return;
  l4->draining = true;
  uint64_t now = now_ms(e);
  l4->drain_deadline = now + DRAIN_GRACE_MS;
  for (lg_l4_session *s = l4->sessions; s != NULL; s = s->next)
    if (s->state == S_CONNECTING || s->state == S_RELAYING) arm(s, now);
}

void *lg_l4_records(lg_engine *e, int which, size_t *bytes) {
  lg_l4 *x = e->l4;
  if (x == NULL || which < 0 || which > 1) {
    *bytes = 0;
    return NULL;
  }
  record_buffer *b = &x->buffers[which];
  *bytes = (size_t)b->capacity * LG_L4_FIELDS * sizeof(double);
  return b->records;
}

uint32_t lg_l4_live_sessions(lg_engine *e) { return e->l4 != NULL ? e->l4->live : 0; }

/* ------------------------------------------------------------------ teardown */

void lg_l4_destroy(lg_engine *e) {
  lg_l4 *x = e->l4;
  if (x == NULL) return;
  uv_timer_stop(&x->timer);
  for (uint32_t i = 0; i < e->listener_count; i++) {
    lg_l4_listener *l4 = e->listeners[i] != NULL ? e->listeners[i]->l4 : NULL;
    if (l4 == NULL) continue;
    while (l4->sessions != NULL) {
      lg_l4_session *s = l4->sessions;
      l4->sessions = s->next;
      for (int side = 0; side < 2; side++) {
        if (s->fd[side] >= 0) close(s->fd[side]);
        lg_splice_dir_close(&s->dir[side]);
      }
      free(s);
    }
    trim_pool(l4, 0);
  }
  while (x->dead != NULL) {
    lg_l4_session *s = x->dead;
    x->dead = s->next_dead;
    free(s);
  }
  x->live = 0;
}

void lg_l4_free(lg_engine *e) {
  lg_l4 *x = e->l4;
  for (uint32_t i = 0; i < e->listener_count; i++) {
    if (e->listeners[i] == NULL) continue;
    free(e->listeners[i]->l4);
    e->listeners[i]->l4 = NULL;
  }
  if (x == NULL) return;
  lg_heap_free(&x->heap);
  for (int i = 0; i < 2; i++) {
    free(x->buffers[i].records);
    free(x->buffers[i].sessions);
  }
  free(x->addresses);
  free(x);
  e->l4 = NULL;
}
