/* See wqueue.h. */
#define _GNU_SOURCE
#include "wqueue.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* Chunks hold at least this much, so many small writes share one. */
#define MIN_CHUNK 4096
#define MAX_IOV 64

struct lg_wchunk {
  lg_wchunk *next;
  size_t cap, len, off; /* data[off, len) is still to be written */
  char data[];
};

/*
 * Emptied MIN_CHUNK chunks kept for the next write, per thread (each worker's engine runs on its
 * own thread): a proxied request queues a head on each side, and malloc + free of two 4 KiB chunks
 * per request showed in the profile. At most SPARE_MAX are kept (256 KiB per thread).
 */
#define SPARE_MAX 64
static _Thread_local lg_wchunk *spare;
static _Thread_local int spare_count;

static lg_wchunk *chunk_new(size_t cap) {
  if (cap == MIN_CHUNK && spare != NULL) {
    lg_wchunk *c = spare;
    spare = c->next;
    spare_count--;
    return c;
  }
  return malloc(sizeof(lg_wchunk) + cap);
}

static void chunk_free(lg_wchunk *c) {
  if (c->cap == MIN_CHUNK && spare_count < SPARE_MAX) {
    c->next = spare;
    spare = c;
    spare_count++;
    return;
  }
  free(c);
}

int lg_wq_append(lg_wqueue *q, const char *data, size_t len) {
  if (len == 0) return 0;
  lg_wchunk *t = q->tail;
  if (t != NULL && t->cap - t->len >= len) {
    memcpy(t->data + t->len, data, len);
    t->len += len;
    q->bytes += len;
    return 0;
  }
  size_t cap = len < MIN_CHUNK ? MIN_CHUNK : len;
  lg_wchunk *c = chunk_new(cap);
  if (c == NULL) return -1;
  c->next = NULL;
  c->cap = cap;
  c->len = len;
  c->off = 0;
  memcpy(c->data, data, len);
  if (t == NULL) q->head = c;
  else t->next = c;
  q->tail = c;
  q->bytes += len;
  return 0;
}

static ssize_t write_fd(void *owner, const struct iovec *iov, int count) {
  int fd = (int)(intptr_t)owner;
  return count == 1 ? write(fd, iov[0].iov_base, iov[0].iov_len) : writev(fd, iov, count);
}

int lg_wq_flush(lg_wqueue *q, int fd, uint64_t *written) {
  return lg_wq_flush_to(q, write_fd, (void *)(intptr_t)fd, written);
}

int lg_wq_flush_to(lg_wqueue *q, lg_wq_writer write_to, void *owner, uint64_t *written) {
  while (q->head != NULL) {
    struct iovec iov[MAX_IOV];
    int n = 0;
    for (lg_wchunk *c = q->head; c != NULL && n < MAX_IOV; c = c->next) {
      iov[n].iov_base = c->data + c->off;
      iov[n].iov_len = c->len - c->off;
      n++;
    }
    ssize_t w = write_to(owner, iov, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 1;
      return -errno;
    }
    *written += (uint64_t)w;
    q->bytes -= (size_t)w;
    size_t left = (size_t)w;
    while (left > 0) {
      lg_wchunk *c = q->head;
      size_t in_chunk = c->len - c->off;
      if (left < in_chunk) {
        c->off += left;
        break;
      }
      left -= in_chunk;
      q->head = c->next;
      if (q->head == NULL) q->tail = NULL;
      chunk_free(c);
    }
  }
  return 0;
}

void lg_wq_clear(lg_wqueue *q) {
  lg_wchunk *c = q->head;
  while (c != NULL) {
    lg_wchunk *next = c->next;
    chunk_free(c);
    c = next;
  }
  q->head = q->tail = NULL;
  q->bytes = 0;
}

void lg_wq_release_spares(void) {
  while (spare != NULL) {
    lg_wchunk *next = spare->next;
    free(spare);
    spare = next;
  }
  spare_count = 0;
}
