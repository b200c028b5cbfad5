/*
 * The engine's place in the worker's event loop: one uv_poll_t on an epoll instance of the
 * engine's own (edge-triggered, one registration per socket for its whole life), so the engine
 * reads and writes when libuv finds its epoll fd readable, in batches, on the worker thread.
 *
 * A dispatch is one batch of epoll events plus the work they defer: parsing resumed after a
 * response (pipelined requests), flushing every connection with queued output, telling JS about
 * closed connections. Work requested from outside a dispatch (JS calling in from a timer) runs
 * from a uv_idle_t on the next loop turn.
 */
#define _GNU_SOURCE
#include "engine.h"
#include "l4.h"
#include "tls.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define EVENT_BATCH 256
/* A dispatch's deferred work may create more (a flush closes a conn, a close resumes a pipe). */
#define MAX_FLUSH_ROUNDS 64

static void accept_on(lg_engine *e, lg_listener *l) {
  if (l->l4 != NULL) lg_l4_accept(e, l);
  else lg_downstream_accept(e, l);
}

/*
 * Tags in epoll data that are not connections: listeners are tagged by index + 1, tcp_proxy
 * sessions (l4.c) by their address with the low bit set, a TLS connection's bridge to JS
 * (tls_bridge.c) by the connection's address with LG_BRIDGE_TAG set.
 */
static void on_epoll(lg_engine *e) {
  struct epoll_event events[EVENT_BATCH];
  int n;
  do {
    n = epoll_wait(e->epfd, events, EVENT_BATCH, 0);
  } while (n < 0 && errno == EINTR);
  e->dispatching++;
  for (int i = 0; i < n; i++) {
    void *tag = events[i].data.ptr;
    if ((uintptr_t)tag <= e->listener_count) {
      lg_listener *l = e->listeners[(uintptr_t)tag - 1];
      if (l != NULL && !l->closed) accept_on(e, l);
      continue;
    }
    if (lg_l4_is_session_tag(tag)) {
      lg_l4_on_event(tag, events[i].events);
      continue;
    }
    if ((uintptr_t)tag & LG_BRIDGE_TAG) {
      lg_tls_bridge_on_event((lg_conn *)((uintptr_t)tag & ~(uintptr_t)LG_BRIDGE_TAG), events[i].events);
      continue;
    }
    lg_conn_on_event((lg_conn *)tag, events[i].events);
  }
  lg_loop_flush(e);
  e->dispatching--;
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  (void)status;
  (void)events;
  lg_engine *e = handle->data;
  lg_bridge_enter(e);
  on_epoll(e);
  lg_bridge_leave(e);
  if (e->destroy_requested) lg_engine_destroy(e);
}

static void on_idle(uv_idle_t *handle) {
  lg_engine *e = handle->data;
  uv_idle_stop(&e->idle);
  e->idle_active = false;
  lg_bridge_enter(e);
  e->dispatching++;
  lg_loop_flush(e);
  e->dispatching--;
  lg_bridge_leave(e);
  if (e->destroy_requested) lg_engine_destroy(e);
}

/* The engine's tick: closes connections whose delayed close (after our FIN) expired. */
static void on_close_timer(uv_timer_t *handle) {
  lg_engine *e = handle->data;
  uint64_t now = uv_now(e->loop);
  bool any = false;
  while (e->closing_head != NULL && e->closing_head->close_deadline <= now) {
    lg_conn *c = e->closing_head;
    e->closing_head = c->next_closing;
    if (e->closing_head == NULL) e->closing_tail = NULL;
    c->in_closing_list = false;
    if (!c->closed) {
      lg_conn_close(c, LG_RESET_NONE);
      any = true;
    }
  }
  /* Handshakes past their deadline close too (lg_conn_close schedules the rest of the work). */
  bool handshaking = lg_tls_expire_handshakes(e, now);
  if (e->closing_head == NULL && !handshaking) uv_timer_stop(&e->close_timer);
  if (any) lg_loop_schedule(e);
}

void lg_loop_close_later(lg_engine *e, lg_conn *c, uint64_t ms) {
  if (c->in_closing_list) return;
  c->in_closing_list = true;
  c->close_deadline = uv_now(e->loop) + ms;
  c->next_closing = NULL;
  /* Every delay is the same, so appending keeps the list in deadline order. */
  if (e->closing_tail != NULL) e->closing_tail->next_closing = c;
  else e->closing_head = c;
  e->closing_tail = c;
  lg_loop_tick(e);
}

void lg_loop_tick(lg_engine *e) {
  if (!uv_is_active((uv_handle_t *)&e->close_timer)) uv_timer_start(&e->close_timer, on_close_timer, 100, 100);
}

static void forget_closing(lg_engine *e, lg_conn *c) {
  if (!c->in_closing_list) return;
  lg_conn **link = &e->closing_head;
  lg_conn *prev = NULL;
  while (*link != NULL && *link != c) {
    prev = *link;
    link = &(*link)->next_closing;
  }
  if (*link == c) {
    *link = c->next_closing;
    if (e->closing_tail == c) e->closing_tail = prev;
  }
  c->in_closing_list = false;
}

int lg_loop_start(lg_engine *e) {
  e->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (e->epfd < 0) return -errno;
  int r = uv_poll_init(e->loop, &e->poll, e->epfd);
  if (r != 0) {
    close(e->epfd);
    return r;
  }
  e->poll.data = e;
  uv_idle_init(e->loop, &e->idle);
  e->idle.data = e;
  uv_timer_init(e->loop, &e->close_timer);
  e->close_timer.data = e;
  uv_unref((uv_handle_t *)&e->close_timer);
  return uv_poll_start(&e->poll, UV_READABLE, on_poll);
}

static void on_handle_closed(uv_handle_t *handle) {
  lg_engine *e = handle->data;
  /* The poll handle is closed: no libuv call can touch the epoll fd any more. */
  if (handle == (uv_handle_t *)&e->poll) close(e->epfd);
  if (--e->open_handles == 0) lg_engine_free(e);
}

void lg_loop_stop(lg_engine *e) {
  e->open_handles = 3 + lg_l4_close_handles(e, on_handle_closed);
  uv_close((uv_handle_t *)&e->poll, on_handle_closed);
  uv_close((uv_handle_t *)&e->idle, on_handle_closed);
  uv_close((uv_handle_t *)&e->close_timer, on_handle_closed);
}

int lg_loop_add(lg_engine *e, int fd, void *tag) {
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = tag};
  return epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}

int lg_loop_add_listener(lg_engine *e, int fd, uint32_t index) {
  struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.ptr = (void *)(uintptr_t)(index + 1)};
  return epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}

bool lg_engine_add_listener(lg_engine *e, lg_listener *l) {
  lg_listener **ls = realloc(e->listeners, (e->listener_count + 1) * sizeof *ls);
  if (ls == NULL) return false;
  e->listeners = ls;
  l->id = (int32_t)e->listener_count;
  e->listeners[e->listener_count++] = l;
  return true;
}

int lg_listener_start(lg_engine *e, lg_listener *l) {
  if (l->fd < 0) return 0;
  int r = lg_loop_add_listener(e, l->fd, (uint32_t)l->id);
  if (r != 0) {
    l->closed = true;
    return r;
  }
  /* Connections that queued before we watched the fd gave their edge already: accept them from
   * the next dispatch. */
  l->accept_pending = true;
  lg_loop_schedule(e);
  return 0;
}

void lg_loop_schedule(lg_engine *e) {
  if (e->dispatching > 0 || e->idle_active || e->destroyed) return;
  e->idle_active = true;
  uv_idle_start(&e->idle, on_idle);
}

void lg_loop_flush(lg_engine *e) {
  for (int round = 0; round < MAX_FLUSH_ROUNDS; round++) {
    if (e->destroy_requested) return;
    bool worked = false;
    for (uint32_t i = 0; i < e->listener_count; i++) {
      lg_listener *l = e->listeners[i];
      if (l == NULL || !l->accept_pending) continue;
      l->accept_pending = false;
      if (!l->closed) accept_on(e, l);
      worked = true;
    }
    while (e->announce != NULL) {
      lg_conn *c = e->announce;
      e->announce = c->next_announce;
      c->in_announce_list = false;
      if (!c->closed) lg_downstream_announce(c, NULL);
      worked = true;
    }
    while (e->resume != NULL) {
      lg_conn *c = e->resume;
      e->resume = c->next_resume;
      c->in_resume_list = false;
      lg_conn_resume(c);
      worked = true;
    }
    while (e->dirty != NULL) {
      lg_conn *c = e->dirty;
      e->dirty = c->next_dirty;
      c->in_dirty_list = false;
      lg_conn_flush(c);
      worked = true;
    }
    if (lg_bridge_flush_events(e)) worked = true;
    if (lg_l4_flush(e)) worked = true;
    while (e->closed_list != NULL && !e->destroy_requested) {
      lg_conn *c = e->closed_list;
      e->closed_list = c->next_closed;
      forget_closing(e, c);
      lg_bridge_conn_closed(e, c);
      lg_conn_release(c);
      worked = true;
    }
    if (!worked) return;
  }
  /* Work keeps making work: finish it on the next loop turn rather than spin here. */
  e->idle_active = true;
  uv_idle_start(&e->idle, on_idle);
}
