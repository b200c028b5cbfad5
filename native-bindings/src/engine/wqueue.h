/*
 * A connection's pending output: owned copies of what is still to be written, in order. Small
 * writes coalesce into one chunk (a head and a small body leave in one write(2)); an idle
 * connection holds no memory here.
 */
#ifndef LEGATE_WQUEUE_H
#define LEGATE_WQUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct lg_wchunk lg_wchunk;

typedef struct lg_wqueue {
  lg_wchunk *head, *tail;
  size_t bytes; /* queued, not yet written */
} lg_wqueue;

/* Appends a copy of `data`. Returns -1 when out of memory (nothing appended). */
int lg_wq_append(lg_wqueue *q, const char *data, size_t len);

/*
 * Writes as much as the socket takes. Returns 0 when everything was written, 1 when the socket
 * is full (EAGAIN: bytes remain), or -errno on a write error. Adds what it wrote to *written.
 */
int lg_wq_flush(lg_wqueue *q, int fd, uint64_t *written);

/* writev(2)'s contract: bytes taken from the front of `iov`, or -1 with errno (EAGAIN: full). */
struct iovec;
typedef ssize_t (*lg_wq_writer)(void *owner, const struct iovec *iov, int count);

/* lg_wq_flush through `write` (a TLS connection's SSL_write). */
int lg_wq_flush_to(lg_wqueue *q, lg_wq_writer write, void *owner, uint64_t *written);

void lg_wq_clear(lg_wqueue *q);

/* Frees the calling thread's spare chunks (its engine is going away). */
void lg_wq_release_spares(void);

#endif
