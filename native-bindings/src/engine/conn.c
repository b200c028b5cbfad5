/*
 * Connections: the id table JS names them by, and what downstream and upstream connections share
 * (reading readiness, queued output and its flush, watermarks, closing).
 *
 * Output is never written from inside a parser callback or a JS call: it is queued and the
 * connection marked dirty, and the end of the dispatch flushes every dirty connection once — so a
 * head and the body that follows it in the same turn leave in one write, as the JS codecs' cork
 * until the end of the tick does.
 *
 * A closed connection keeps its struct (and id) until JS has been told, at the end of the
 * dispatch: an epoll event already fetched for it, or a pipe peer, may still point at it.
 */
#define _GNU_SOURCE
#include "engine.h"
#include "digits.h"
#include "tls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define INITIAL_CONNS 256
/* Bytes one connection reads per turn before the others (and its sink) get theirs. */
#define READ_BUDGET_BYTES (256 * 1024)
/* Grace for a peer to read our last bytes and FIN before we close anyway (Envoy's delayed_close_timeout). */
#define DELAYED_CLOSE_MS 1000

static int grow_table(lg_engine *e) {
  uint32_t cap = e->conn_capacity ? e->conn_capacity * 2 : INITIAL_CONNS;
  lg_conn **conns = realloc(e->conns, cap * sizeof *conns);
  if (conns == NULL) return -1;
  uint32_t *free_ids = realloc(e->free_ids, cap * sizeof *free_ids);
  if (free_ids == NULL) {
    e->conns = conns;
    return -1;
  }
  for (uint32_t i = e->conn_capacity; i < cap; i++) conns[i] = NULL;
  /* New ids are handed out lowest first. */
  for (uint32_t i = cap; i > e->conn_capacity; i--) free_ids[e->free_count++] = i - 1;
  e->conns = conns;
  e->free_ids = free_ids;
  e->conn_capacity = cap;
  return 0;
}

lg_conn *lg_conn_new(lg_engine *e, int fd, lg_conn_kind kind) {
  if (e->free_count == 0 && grow_table(e) != 0) return NULL;
  lg_conn *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->engine = e;
  c->fd = fd;
  c->kind = kind;
  c->id = (int32_t)e->free_ids[--e->free_count];
  c->reusable = true;
  c->bridge_fd = -1;
  c->last_io_ms = uv_now(e->loop);
  e->conns[c->id] = c;
  if (lg_loop_add(e, fd, c) != 0) {
    e->conns[c->id] = NULL;
    e->free_ids[e->free_count++] = (uint32_t)c->id;
    free(c);
    return NULL;
  }
  return c;
}

lg_conn *lg_conn_get(lg_engine *e, int32_t id) {
  if (id < 0 || (uint32_t)id >= e->conn_capacity) return NULL;
  lg_conn *c = e->conns[id];
  return c != NULL && !c->closed ? c : NULL;
}

void lg_conn_mark_dirty(lg_conn *c) {
  if (c->in_dirty_list || c->closed) return;
  c->in_dirty_list = true;
  c->next_dirty = c->engine->dirty;
  c->engine->dirty = c;
  lg_loop_schedule(c->engine);
}

void lg_conn_write(lg_conn *c, const char *data, size_t len) {
  if (c->closed || len == 0) return;
  if (lg_wq_append(&c->out, data, len) != 0) {
    lg_conn_close(c, LG_RESET_LOCAL);
    return;
  }
  lg_conn_mark_dirty(c);
}

void lg_conn_write_body(lg_conn *c, const void *data, size_t len) {
  if (len == 0) return;
  switch (c->out_framing) {
    case LG_FRAMING_CHUNKED: {
      char size_line[18];
      size_t n = lg_hex(size_line, len);
      size_line[n++] = '\r';
      size_line[n++] = '\n';
      lg_conn_write(c, size_line, n);
      lg_conn_write(c, data, len);
      lg_conn_write(c, "\r\n", 2);
      break;
    }
    case LG_FRAMING_CONTENT_LENGTH:
    case LG_FRAMING_CLOSE_DELIMITED:
      lg_conn_write(c, data, len);
      break;
    case LG_FRAMING_NONE:
      break;
  }
}

void lg_conn_write_body_end(lg_conn *c, const char *trailers, size_t trailers_len) {
  if (c->out_framing != LG_FRAMING_CHUNKED) return;
  if (trailers != NULL) lg_conn_write(c, trailers, trailers_len);
  else lg_conn_write(c, "0\r\n\r\n", 5);
}

/* Whether the connection may read now (the parser is not waiting, nobody asked it to stop). */
static bool may_read(lg_conn *c) {
  if (c->closed) return false;
  if (c->ending) return true; /* read and discard until the peer's FIN */
  if (c->bridge_fd >= 0) return lg_tls_bridge_may_read(c);
  if (c->read_disable > 0 || c->paused_by_pipe) return false;
  if (c->kind == LG_CONN_DOWNSTREAM) return !c->waiting;
  return !c->connecting;
}

/*
 * Reads while the socket has data and the connection may read, up to READ_BUDGET_BYTES per call:
 * then the rest waits for the end of the dispatch (resume list), after the output was flushed and JS
 * heard of any watermark, so one busy connection neither starves the others nor outruns its sink
 * inside one dispatch.
 */
static void read_ready(lg_conn *c) {
  lg_engine *e = c->engine;
  size_t budget = READ_BUDGET_BYTES;
  while (c->readable && may_read(c)) {
    if (budget == 0) {
      lg_conn_schedule_read(c);
      return;
    }
    ssize_t n = c->ssl != NULL ? lg_tls_read(c, e->rbuf, e->rbuf_size) : read(c->fd, e->rbuf, e->rbuf_size);
    if (n > 0) {
      c->bytes_in += (uint64_t)n;
      c->last_io_ms = uv_now(e->loop);
      budget = (size_t)n >= budget ? 0 : budget - (size_t)n;
      /*
       * A read shorter than the buffer emptied the socket: stop here rather than pay a read that
       * returns EAGAIN (as nginx does). Bytes arriving later raise a new edge; a FIN that came
       * with these bytes was reported as RDHUP, and then we read on to the 0. (SSL_read returns a
       * record at most, which says nothing of the socket: TLS asks what the read(2) under it did.)
       */
      if (!c->hangup_seen && (c->ssl != NULL ? lg_tls_socket_drained(c) : (size_t)n < e->rbuf_size))
        c->readable = false;
      if (c->ending) continue;
      if (c->bridge_fd >= 0) lg_tls_bridge_feed(c, e->rbuf, (size_t)n);
      else if (c->kind == LG_CONN_DOWNSTREAM) lg_downstream_feed(c, e->rbuf, (size_t)n);
      else lg_upstream_feed(c, e->rbuf, (size_t)n);
      continue;
    }
    if (n == 0) {
      c->readable = false;
      c->peer_eof = true;
      if (c->bridge_fd >= 0) lg_tls_bridge_peer_eof(c);
      else if (c->kind == LG_CONN_DOWNSTREAM) lg_downstream_on_eof(c);
      else lg_upstream_on_eof(c);
      return;
    }
    if (errno == EINTR) continue;
    c->readable = false;
    if (errno != EAGAIN && errno != EWOULDBLOCK) lg_conn_close(c, LG_RESET_REMOTE);
    return;
  }
}

void lg_conn_update_reading(lg_conn *c) {
  /* Edge-triggered: data that arrived while paused gave its edge already; read it now. */
  if (c->readable && may_read(c)) lg_conn_schedule_read(c);
}

void lg_conn_schedule_read(lg_conn *c) {
  if (c->in_resume_list || c->closed) return;
  c->in_resume_list = true;
  c->next_resume = c->engine->resume;
  c->engine->resume = c;
  lg_loop_schedule(c->engine);
}

/* Runs from the resume list (end of a dispatch): continue parsing kept bytes, then read. */
void lg_conn_resume(lg_conn *c) {
  if (c->closed) return;
  if (c->kind == LG_CONN_DOWNSTREAM) lg_downstream_continue(c);
  if (!c->closed) read_ready(c);
}

void lg_conn_on_event(lg_conn *c, uint32_t events) {
  if (c->closed) return;
  if (c->tls_handshaking) {
    if (!lg_tls_handshake(c)) return;
    /* Secured: bytes read with the handshake's last flight may hold the first request. */
    c->writable = true;
    events |= EPOLLIN;
  }
  if (c->connecting) {
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err == EINPROGRESS) return;
      c->writable = err == 0;
      lg_upstream_connected(c, err);
    }
    if (c->closed || c->connecting) return;
  }
  if (events & EPOLLOUT) {
    c->writable = true;
    if (c->out.bytes > 0 || c->ending) lg_conn_mark_dirty(c);
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    c->readable = true;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->hangup_seen = true;
    read_ready(c);
  }
}

/* Output drained to nothing: sources paused by this sink may go on, JS may write again. */
static void on_drained(lg_conn *c) {
  if (c->bridge_fd >= 0) lg_tls_bridge_read(c);
  lg_conn *source = c->pipe_source;
  if (source != NULL && source->paused_by_pipe) {
    source->paused_by_pipe = false;
    lg_conn_update_reading(source);
  }
  if (c->above_watermark) {
    c->above_watermark = false;
    lg_emit(c->engine, c->kind == LG_CONN_DOWNSTREAM ? LG_EV_DOWNSTREAM_WATERMARK : LG_EV_UPSTREAM_WATERMARK,
            c->id, 0, 0);
  }
}

static void on_backlog(lg_conn *c) {
  if (c->out.bytes <= c->engine->high_water) return;
  lg_conn *source = c->pipe_source;
  if (source != NULL) source->paused_by_pipe = true;
  /* A bridged connection's writer is its bridge (it stops reading JS), not JS's codec. */
  if (!c->above_watermark && c->pipe_source == NULL && !c->bridged) {
    c->above_watermark = true;
    lg_emit(c->engine, c->kind == LG_CONN_DOWNSTREAM ? LG_EV_DOWNSTREAM_WATERMARK : LG_EV_UPSTREAM_WATERMARK,
            c->id, 1, 0);
  }
}

void lg_conn_flush(lg_conn *c) {
  if (c->closed) return;
  if (c->writable && c->out.bytes > 0) {
    uint64_t before = c->bytes_out;
    int r = c->ssl != NULL ? lg_tls_flush(c) : lg_wq_flush(&c->out, c->fd, &c->bytes_out);
    if (r < 0) {
      lg_conn_close(c, LG_RESET_REMOTE);
      return;
    }
    if (c->bytes_out != before) c->last_io_ms = uv_now(c->engine->loop);
    if (r == 1) c->writable = false;
  }
  if (c->out.bytes > 0) {
    on_backlog(c);
    return;
  }
  if (c->ending && !c->fin_sent) {
    c->fin_sent = true;
    if (c->ssl != NULL) lg_tls_close_notify(c);
    shutdown(c->fd, SHUT_WR);
    /* The peer ended first (a bridged connection's client, tls_bridge.c): nothing is left to wait for. */
    if (c->peer_eof && c->bridge_fin_sent) {
      lg_conn_close(c, LG_RESET_NONE);
      return;
    }
    lg_loop_close_later(c->engine, c, DELAYED_CLOSE_MS);
  }
  on_drained(c);
}

/*
 * `source` just put body bytes into `sink`'s output: past the high-water mark, write now, and if the
 * sink's socket cannot take it, stop reading the source until the sink drained.
 */
void lg_conn_pipe_pressure(lg_conn *source, lg_conn *sink) {
  if (sink->out.bytes < sink->engine->high_water) return;
  lg_conn_flush(sink);
  if (!sink->closed && sink->out.bytes >= sink->engine->high_water) source->paused_by_pipe = true;
}

void lg_conn_pipe(lg_conn *source, lg_conn *sink) {
  source->pipe.sink = sink;
  source->pipe_dropped = false;
  sink->pipe_source = source;
}

void lg_conn_unpipe_source(lg_conn *source) {
  lg_conn *sink = source->pipe.sink;
  if (sink != NULL && sink->pipe_source == source) sink->pipe_source = NULL;
  source->pipe.sink = NULL;
  source->paused_by_pipe = false;
}

/* The sink goes away first: the source drops the rest of its body (JS resets its stream). */
void lg_conn_unpipe_sink(lg_conn *sink) {
  lg_conn *source = sink->pipe_source;
  sink->pipe_source = NULL;
  if (source == NULL || source->pipe.sink != sink) return;
  source->pipe.sink = NULL;
  source->pipe_dropped = true;
  if (source->paused_by_pipe) {
    source->paused_by_pipe = false;
    lg_conn_update_reading(source);
  }
}

void lg_conn_close(lg_conn *c, lg_reset_reason reason) {
  if (c->closed) return;
  lg_engine *e = c->engine;
  c->closed = true;
  c->close_reason = reason;
  lg_conn_unpipe_source(c);
  lg_conn_unpipe_sink(c);
  epoll_ctl(e->epfd, EPOLL_CTL_DEL, c->fd, NULL);
  lg_tls_bridge_close(c);
  lg_tls_release(c);
  if (!c->handed_off) close(c->fd);
  c->fd = -1;
  lg_wq_clear(&c->out);
  free(c->pending);
  c->pending = NULL;
  c->pending_len = 0;
  c->next_closed = e->closed_list;
  e->closed_list = c;
  lg_loop_schedule(e);
}

void lg_conn_hand_off(lg_conn *c) {
  c->handed_off = true;
  lg_conn_close(c, LG_RESET_NONE);
}

void lg_conn_release(lg_conn *c) {
  lg_engine *e = c->engine;
  lg_h1_release(&c->parser);
  e->conns[c->id] = NULL;
  e->free_ids[e->free_count++] = (uint32_t)c->id;
  free(c);
}

/* Keeps `c->pending` = unparsed bytes (copied: the read buffer is reused). */
int lg_conn_keep_pending(lg_conn *c, const uint8_t *data, size_t len) {
  if (len == 0) return 0;
  uint8_t *p = realloc(c->pending, c->pending_len + len);
  if (p == NULL) return -1;
  memcpy(p + c->pending_len, data, len);
  c->pending = p;
  c->pending_len += len;
  return 0;
}
