/*
 * A TLS connection continued by JS: when the engine hands a connection to JS (ALPN h2 under
 * codec_type AUTO, served by node:http2; a request asking for an upgrade, served by Legate's JS
 * codec, which tunnels), a plaintext connection's fd goes to JS as it is, but a TLS connection's
 * session lives in C. The engine keeps it and relays the plaintext over a socketpair whose other
 * end JS adopts (`new net.Socket({ fd })`), as it adopts a handed-off plaintext fd:
 *
 *   client ⇄ TLS fd (SSL_read / SSL_write, tls.c) ⇄ engine ⇄ bridge fd ⇄ JS's end ⇄ JS codec
 *
 * Bytes from the client queue in `to_bridge` (reading the client stops while it is above the
 * high-water mark); bytes from JS queue in the connection's output, written through SSL_write at
 * the end of the dispatch (reading the bridge stops while that is above the mark). The client's
 * end reaches JS as a FIN on the bridge; JS's end becomes close_notify and a FIN to the client.
 * JS heard HANDED_OFF and hears nothing more of the connection, which closes here once both sides
 * are done or either fails.
 */
#define _GNU_SOURCE
#include "tls.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int lg_tls_bridge_start(lg_conn *c) {
  lg_engine *e = c->engine;
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) return -1;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                           .data.ptr = (void *)((uintptr_t)c | LG_BRIDGE_TAG)};
  if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fds[0], &ev) != 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  c->bridge_fd = fds[0];
  c->bridged = true;
  c->bridge_writable = true;
  /* No HTTP here any more: what the parser kept went to JS with HANDED_OFF. */
  c->waiting = false;
  c->stream_active = false;
  c->read_disable = 0;
  free(c->pending);
  c->pending = NULL;
  c->pending_len = 0;
  /* Records SSL already holds (read ahead with the request that asked for the upgrade) go on now. */
  lg_conn_update_reading(c);
  return fds[1];
}

/* Writes what the client sent to JS's end; FIN once the client ended and all of it went. */
static void flush_to_js(lg_conn *c) {
  if (c->bridge_writable && c->to_bridge.bytes > 0) {
    uint64_t written = 0;
    int r = lg_wq_flush(&c->to_bridge, c->bridge_fd, &written);
    if (r < 0) {
      lg_conn_close(c, LG_RESET_LOCAL); /* JS's end is gone */
      return;
    }
    if (r == 1) c->bridge_writable = false;
  }
  if (c->to_bridge.bytes > 0) return;
  if (c->peer_eof && !c->bridge_fin_sent) {
    c->bridge_fin_sent = true;
    shutdown(c->bridge_fd, SHUT_WR);
    /* Both sides are done once what JS wrote went out too (lg_conn_flush closes then). */
    if (c->bridge_eof && c->fin_sent) lg_conn_close(c, LG_RESET_NONE);
    return;
  }
  lg_conn_update_reading(c);
}

void lg_tls_bridge_feed(lg_conn *c, const uint8_t *data, size_t len) {
  if (lg_wq_append(&c->to_bridge, (const char *)data, len) != 0) {
    lg_conn_close(c, LG_RESET_LOCAL);
    return;
  }
  flush_to_js(c);
}

void lg_tls_bridge_peer_eof(lg_conn *c) { flush_to_js(c); }

bool lg_tls_bridge_may_read(const lg_conn *c) { return c->to_bridge.bytes < c->engine->high_water; }

/* Reads what JS wrote into the connection's output, while that is below the high-water mark. */
void lg_tls_bridge_read(lg_conn *c) {
  lg_engine *e = c->engine;
  while (c->bridge_readable && !c->closed && !c->bridge_eof && c->out.bytes < e->high_water) {
    ssize_t n = read(c->bridge_fd, e->rbuf, e->rbuf_size);
    if (n > 0) {
      lg_conn_write(c, (const char *)e->rbuf, (size_t)n);
      continue;
    }
    if (n == 0) {
      /* JS is done with the connection: close_notify and FIN after what it wrote. */
      c->bridge_eof = true;
      c->bridge_readable = false;
      lg_downstream_end(c);
      return;
    }
    if (errno == EINTR) continue;
    c->bridge_readable = false;
    if (errno != EAGAIN && errno != EWOULDBLOCK) lg_conn_close(c, LG_RESET_LOCAL);
    return;
  }
}

void lg_tls_bridge_on_event(lg_conn *c, uint32_t events) {
  if (c->closed) return;
  if (events & EPOLLOUT) {
    c->bridge_writable = true;
    flush_to_js(c);
    if (c->closed) return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    c->bridge_readable = true;
    lg_tls_bridge_read(c);
  }
}

void lg_tls_bridge_close(lg_conn *c) {
  if (c->bridge_fd < 0) return;
  epoll_ctl(c->engine->epfd, EPOLL_CTL_DEL, c->bridge_fd, NULL);
  close(c->bridge_fd);
  c->bridge_fd = -1;
  lg_wq_clear(&c->to_bridge);
}
