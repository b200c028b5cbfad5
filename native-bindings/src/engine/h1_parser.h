/*
 * HTTP/1.1 head collection and Legate's strictness on top of llhttp (the engine's parser layer).
 * PROVISIONAL: a minimal implementation the engine is developed against; the strict one with the
 * differential fuzzer replaces h1_parser.c behind this same header.
 */
#ifndef LEGATE_H1_PARSER_H
#define LEGATE_H1_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "llhttp_abi.h"

typedef enum { LG_H1_REQUEST = 1, LG_H1_RESPONSE = 2 } lg_h1_type;

/* Results of lg_h1_execute. */
typedef enum { LG_H1_OK = 0, LG_H1_PAUSED = 1, LG_H1_PAUSED_UPGRADE = 2, LG_H1_ERROR = 3 } lg_h1_result;

/* Return values of on_head (llhttp's on_headers_complete contract), or LG_H1_STOP to abort. */
enum { LG_H1_CONTINUE = 0, LG_H1_SKIP_BODY = 1, LG_H1_SKIP_BODY_UPGRADE = 2, LG_H1_STOP = -1 };
/* on_message_complete may return this to pause after the message. */
enum { LG_H1_PAUSE = 21 };

typedef struct { uint32_t off, len; } lg_span;

/* A complete message head (or trailer block): spans are offsets into `base`. */
typedef struct lg_h1_head {
  const char *base;
  uint32_t size;
  uint8_t method;          /* llhttp method number (requests) */
  uint16_t status;         /* responses */
  lg_span url, reason;
  uint8_t version_major, version_minor;
  bool keep_alive, upgrade, chunked;
  int64_t content_length;  /* -1: absent */
  uint32_t header_count;
  /* fields[2i]: name i (lower case), fields[2i+1]: value i (without leading/trailing OWS) */
  const lg_span *fields;
} lg_h1_head;

typedef enum { LG_UNDERSCORES_ALLOW = 0, LG_UNDERSCORES_REJECT = 1, LG_UNDERSCORES_DROP = 2 } lg_underscores;

typedef struct lg_h1_limits {
  uint32_t max_head_bytes;
  uint32_t max_headers;
  lg_underscores underscores;
  bool accept_http10;
  uint64_t max_body_bytes;
} lg_h1_limits;

typedef struct lg_h1_callbacks {
  /* First byte of a message. Requests: may return LG_H1_PAUSE (draining) to stop before it. */
  int (*on_message_begin)(void *owner);
  int (*on_head)(void *owner, const lg_h1_head *head);
  /* Responses: 1xx other than 101; parsing continues with the final response. */
  int (*on_informational)(void *owner, const lg_h1_head *head);
  int (*on_body)(void *owner, const char *at, size_t len);
  int (*on_trailers)(void *owner, const lg_h1_head *trailers);
  int (*on_message_complete)(void *owner);
} lg_h1_callbacks;

typedef struct lg_h1_parser {
  llhttp_t ll;
  const lg_h1_callbacks *cb;
  const lg_h1_limits *limits;
  void *owner;
  lg_h1_type type;
  uint8_t state;           /* internal: where in the head the parser is */
  bool in_trailers;
  bool informational;
  bool head_stashed;
  uint16_t reject_status;
  int own_error;
  uint32_t head_bytes;     /* span bytes counted against max_head_bytes */
  uint32_t header_total;   /* fields seen (counted before any is dropped) */
  const char *chunk;       /* the chunk being executed */
  size_t chunk_len;
  const char *msg_start;   /* where the current head began in `chunk` (NULL: in the stash) */
  char *stash;             /* a head that spans reads: its bytes so far */
  uint32_t stash_len, stash_cap;
  uint32_t stash_chunk_copied; /* bytes of the current chunk already in the stash */
  uint32_t span_count, span_cap;
  lg_span *spans;          /* name,value pairs, relative to the head's start */
  lg_span url, reason;
  int64_t content_length;
  bool chunked;
  char *te;                /* Transfer-Encoding values joined with ',' */
  uint32_t te_len, te_cap;
  uint64_t body_bytes;
} lg_h1_parser;

int lg_h1_available(void);
int lg_h1_init(lg_h1_parser *p, lg_h1_type type, const lg_h1_limits *limits,
               const lg_h1_callbacks *cb, void *owner);
lg_h1_result lg_h1_execute(lg_h1_parser *p, const char *data, size_t len, size_t *consumed);
lg_h1_result lg_h1_finish(lg_h1_parser *p);
void lg_h1_resume(lg_h1_parser *p);
void lg_h1_resume_after_upgrade(lg_h1_parser *p);
/* For requests that failed: the status to answer (400, 413, 426, 431, 501, 505). */
uint16_t lg_h1_reject_status(const lg_h1_parser *p);
void lg_h1_release(lg_h1_parser *p);

#endif
