/* See splice_pump.h. */
#ifdef __linux__
#define _GNU_SOURCE
#include "splice_pump.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_PIPE_BYTES 65536

void lg_splice_dir_init(lg_splice_dir *p) {
  p->pipe_r = p->pipe_w = -1;
  p->capacity = 0;
  p->in_pipe = 0;
  p->eof = p->done = false;
}

bool lg_splice_dir_open(lg_splice_dir *p, int pipe_bytes) {
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return false;
  p->pipe_r = fds[0];
  p->pipe_w = fds[1];
  /* Best effort: the kernel may refuse (pipe-max-size, per-user limits); the default still works. */
  if (pipe_bytes != DEFAULT_PIPE_BYTES) fcntl(p->pipe_w, F_SETPIPE_SZ, pipe_bytes);
  int capacity = fcntl(p->pipe_w, F_GETPIPE_SZ);
  p->capacity = capacity > 0 ? (size_t)capacity : DEFAULT_PIPE_BYTES;
  return true;
}

void lg_splice_dir_close(lg_splice_dir *p) {
  if (p->pipe_r >= 0) close(p->pipe_r);
  if (p->pipe_w >= 0) close(p->pipe_w);
  p->pipe_r = p->pipe_w = -1;
}

lg_pump_result lg_splice_pump(lg_splice_dir *p, int src, int dst, uint64_t *delivered) {
  if (p->done) return LG_PUMP_IDLE;
  for (;;) {
    while (p->in_pipe > 0) {
      ssize_t n = splice(p->pipe_r, NULL, dst, NULL, p->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        p->in_pipe -= (size_t)n;
        __atomic_add_fetch(delivered, (uint64_t)n, __ATOMIC_RELAXED);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && errno == EAGAIN) {
        return LG_PUMP_IDLE; /* dst's send buffer is full: its EPOLLOUT resumes us */
      } else {
        return LG_PUMP_DST_FAILED;
      }
    }
    if (p->eof) {
      shutdown(dst, SHUT_WR);
      p->done = true;
      return LG_PUMP_IDLE;
    }
    /* The pipe is empty here, so EAGAIN can only mean src has nothing to read. */
    ssize_t n = splice(src, NULL, p->pipe_w, NULL, p->capacity, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      p->in_pipe = (size_t)n;
    } else if (n == 0) {
      p->eof = true;
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN) {
      return LG_PUMP_IDLE;
    } else {
      return LG_PUMP_SRC_FAILED;
    }
  }
}

void lg_splice_note_pauses(lg_splice_pauses *f, const lg_splice_dir *p) {
  bool paused = p->in_pipe > 0;
  if (paused == f->paused) return;
  f->paused = paused;
  __atomic_add_fetch(&f->times[paused ? 0 : 1], 1, __ATOMIC_RELAXED);
}

bool lg_socket_has_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0;
}
#endif
