/*
 * One direction of a splice(2) relay between two TCP sockets (src -> pipe -> dst), shared by the
 * splice relay thread (splice_relay.c, tcp_proxy on Node sockets) and the native engine's
 * tcp_proxy sessions (engine/l4.c). At most one pipe of bytes is in flight per direction, so
 * memory per connection is bounded by the pipe's capacity.
 */
#ifndef LEGATE_SPLICE_PUMP_H
#define LEGATE_SPLICE_PUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lg_splice_dir {
  int pipe_r, pipe_w; /* -1 when the direction has no pipe (yet) */
  size_t capacity;    /* bytes the pipe holds */
  size_t in_pipe;     /* bytes read from src, not yet written to dst */
  bool eof;           /* src sent FIN */
  bool done;          /* FIN propagated to dst */
} lg_splice_dir;

typedef enum {
  LG_PUMP_IDLE = 0,       /* stopped for want of input or output space, or the direction is done */
  LG_PUMP_SRC_FAILED = 1, /* reading src failed (reset) */
  LG_PUMP_DST_FAILED = 2, /* writing dst failed (reset, broken pipe) */
} lg_pump_result;

/* A direction with no pipe yet (call lg_splice_dir_open before pumping). */
void lg_splice_dir_init(lg_splice_dir *p);
/* Creates the direction's pipe, asking for `pipe_bytes` of capacity (best effort). False: errno set. */
bool lg_splice_dir_open(lg_splice_dir *p, int pipe_bytes);
/* Closes the pipe (if any). */
void lg_splice_dir_close(lg_splice_dir *p);
/*
 * Moves what it can from src to dst; adds the bytes delivered to dst to *delivered (atomically:
 * another thread may read it). EOF on src, once the pipe drained, becomes shutdown(dst, SHUT_WR).
 */
lg_pump_result lg_splice_pump(lg_splice_dir *p, int src, int dst, uint64_t *delivered);
/*
 * Envoy's downstream_flow_control_paused/resumed_reading_total for a direction: lg_splice_pump reads
 * its source only once the pipe is empty, so bytes left in the pipe (its destination holds back) mean
 * the source is not being read. lg_splice_note_pauses counts each change after a pump; `times` may
 * be read by another thread (__atomic).
 */
typedef struct lg_splice_pauses {
  bool paused;
  uint32_t times[2]; /* [0] reading paused, [1] reading resumed */
} lg_splice_pauses;
void lg_splice_note_pauses(lg_splice_pauses *f, const lg_splice_dir *p);

/* Whether `fd` has a pending socket error (EPOLLERR on a direction that is idle). */
bool lg_socket_has_error(int fd);

#endif
