/*
 * tcp_proxy on the engine (l4.c): sessions accepted, connected and spliced in C, the host chosen
 * by JavaScript in batches. See README.md in this folder ("tcp_proxy sessions") for the contract
 * with src/engine/l4-batch.ts.
 */
#ifndef LEGATE_ENGINE_L4_H
#define LEGATE_ENGINE_L4_H

#include "engine.h"

/*
 * Records the engine leaves for JS (Float64 x LG_L4_FIELDS each), delivered in one
 * LG_EV_L4_BATCH event per dispatch: onEvent(LG_EV_L4_BATCH, buffer, count, generation).
 * PICK and CONNECT_FAILED records are answered in place by JS (LG_L4_ANSWER_*).
 */
#define LG_L4_FIELDS 8
enum {
  LG_L4_F_KIND = 0,
  LG_L4_F_LISTENER = 1,
  LG_L4_F_SESSION = 2,
  LG_L4_F_TARGET = 3, /* the target (cluster) index JS chose, -1 before the first pick */
  LG_L4_F_HOST = 4,   /* the host table slot JS chose, -1 before the first pick */
  LG_L4_F_INFO = 5,   /* PICK / CONNECT_FAILED: attempts made so far; END: reason | upstream << 4 */
  LG_L4_F_A = 6,
  LG_L4_F_B = 7,
};

typedef enum {
  /* A new session (attempts 0): JS counts it and picks a host. */
  LG_L4_PICK = 1,
  /* An upstream connect failed (a = errno; b: 1 = it timed out, 2 = the downstream is gone too):
     JS counts it, then picks again or refuses. */
  LG_L4_CONNECT_FAILED = 2,
  /* Connected, a = connect time in ms; only when the pick asked for it (Peak EWMA tracks the host). */
  LG_L4_CONNECTED = 3,
  /* Bytes moved since the last report: a = downstream -> upstream, b = upstream -> downstream. */
  LG_L4_BYTES = 4,
  /* The session ended; a, b as BYTES (the rest since the last report). */
  LG_L4_END = 5,
  /* Envoy's downstream_flow_control_*: since the last report, a = times the downstream stopped being
     read (its bytes waited for the upstream: lg_splice_note_pauses), b = times it was read again. */
  LG_L4_FLOW = 6,
} lg_l4_record_kind;

/* JS's answer to PICK / CONNECT_FAILED, in the record's KIND field; CONNECT fills TARGET, HOST, and
   INFO = address id (engineL4Address), A = connect timeout ms, B = 1 to report the connect time. */
enum { LG_L4_ANSWER_CONNECT = 100, LG_L4_ANSWER_REFUSE = 101 };

/* Why a session ended (END's INFO & 15). */
typedef enum {
  LG_L4_END_CLEAN = 0,           /* FIN both ways */
  LG_L4_END_DOWNSTREAM_RESET = 1,
  LG_L4_END_UPSTREAM_RESET = 2,
  LG_L4_END_IDLE_TIMEOUT = 3,
  LG_L4_END_MAX_DURATION = 4,
  LG_L4_END_DRAIN = 5,
  LG_L4_END_REFUSED = 6,         /* JS answered REFUSE (no route, no healthy host, overflow, attempts spent) */
  LG_L4_END_LOCAL_FAILURE = 7,   /* out of fds or memory */
  LG_L4_END_DOWNSTREAM_GONE = 8, /* the downstream failed before the upstream connected */
} lg_l4_end_reason;

/* The upstream at the end (END's INFO >> 4): what JS holds for it (host counts, circuit breaker). */
enum { LG_L4_UPSTREAM_NONE = 0, LG_L4_UPSTREAM_CONNECTING = 1, LG_L4_UPSTREAM_CONNECTED = 2 };

/* Called by loop.c and bridge.c. */
void lg_l4_accept(lg_engine *e, lg_listener *l);
/* An epoll event for a session (the tag has its low bit set). */
void lg_l4_on_event(void *tag, uint32_t events);
/* End of a dispatch: hands the records to JS, acts on its answers. True if it did anything. */
bool lg_l4_flush(lg_engine *e);
/* Closes the L4 part's libuv handles with `cb`; returns how many. */
int lg_l4_close_handles(lg_engine *e, uv_close_cb cb);
/* Closes every session (engine destroyed); lg_l4_free releases the memory once handles closed. */
void lg_l4_destroy(lg_engine *e);
void lg_l4_free(lg_engine *e);
static inline bool lg_l4_is_session_tag(void *tag) { return ((uintptr_t)tag & 1) != 0; }

/* Adds the engineL4* functions (l4_napi.c) to `exports`. */
napi_status lg_l4_define(napi_env env, napi_value exports);

/* Called by l4_napi.c (JS). */
lg_listener *lg_l4_listen(lg_engine *e, int fd, uint32_t idle_timeout_ms, uint32_t max_duration_ms,
                          int pipe_bytes);
double lg_l4_adopt(lg_engine *e, lg_listener *l, int fd);
int32_t lg_l4_address(lg_engine *e, const char *ip, int port);
void lg_l4_drain(lg_engine *e, lg_listener *l);
/* The record buffer `which` (0/1) as JS sees it: its memory and size in bytes. */
void *lg_l4_records(lg_engine *e, int which, size_t *bytes);
uint32_t lg_l4_live_sessions(lg_engine *e);

#endif
