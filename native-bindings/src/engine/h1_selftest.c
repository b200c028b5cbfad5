/*
 * h1_selftest: run once when the runtime initialises, before any connection uses the parser.
 *
 * llhttp is reached through a binary interface declared by hand (llhttp_abi.h), so a Node whose
 * llhttp has another struct size or settings layout would break silently. This checks, on the
 * running binary:
 *   1. llhttp_settings_init and llhttp_init write nothing past the sizes we allocate, and parsing
 *      a request keeps llhttp's state inside LG_LLHTTP_PARSER_BYTES;
 *   2. a known request stream (pipelined, Content-Length and chunked bodies with an extension and
 *      trailers, HTTP/1.0, an upgrade) and a known response stream (100 Continue, 204, chunked
 *      with trailers, close-delimited ended by finish) produce exactly the expected transcript of
 *      every callback, whole, split at every byte position, and one byte per read.
 * Any difference makes the engine report itself unavailable with the reason.
 */
#include "h1_selftest.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h1_parser.h"

#define CANARY 0xA5
#define CANARY_BYTES 512

static bool untouched(const unsigned char *bytes, size_t from, size_t to) {
  for (size_t i = from; i < to; i++)
    if (bytes[i] != CANARY) return false;
  return true;
}

static const char *check_struct_sizes(const lg_llhttp_api *api) {
  union {
    lg_llhttp_settings settings;
    unsigned char bytes[CANARY_BYTES];
  } s;
  memset(s.bytes, CANARY, sizeof s.bytes);
  api->settings_init(&s.settings);
  for (size_t i = 0; i < LG_LLHTTP_SETTINGS_BYTES; i++)
    if (s.bytes[i] != 0) return "llhttp_settings_init left a callback slot set";
  if (!untouched(s.bytes, sizeof(lg_llhttp_settings), sizeof s.bytes))
    return "llhttp's settings struct is larger than llhttp 9.3's";

  union {
    lg_llhttp parser;
    unsigned char bytes[CANARY_BYTES];
  } p;
  static const char request[] = "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok";
  memset(p.bytes, CANARY, sizeof p.bytes);
  api->init(&p.parser, LG_LLHTTP_REQUEST, &s.settings);
  if (api->execute(&p.parser, request, sizeof request - 1) != LG_HPE_OK)
    return "llhttp rejected a plain request";
  if (!untouched(p.bytes, LG_LLHTTP_PARSER_BYTES, sizeof p.bytes))
    return "llhttp's parser struct is larger than LG_LLHTTP_PARSER_BYTES";
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* A recording owner                                                        */
/* ------------------------------------------------------------------------ */

typedef struct transcript {
  char text[2048];
  size_t len;
  bool overflow;
  char body[64];
  size_t body_len;
} transcript;

static void put(transcript *t, const void *bytes, size_t n) {
  if (t->len + n >= sizeof t->text) {
    t->overflow = true;
    return;
  }
  memcpy(t->text + t->len, bytes, n);
  t->len += n;
  t->text[t->len] = '\0';
}

static void puts_(transcript *t, const char *s) { put(t, s, strlen(s)); }

static void flush_body(transcript *t) {
  if (t->body_len == 0) return;
  puts_(t, "B:");
  put(t, t->body, t->body_len);
  puts_(t, "\n");
  t->body_len = 0;
}

static void put_span(transcript *t, const lg_h1_head *h, lg_h1_span s) { put(t, h->base + s.off, s.len); }

static void put_fields(transcript *t, const lg_h1_head *h) {
  for (uint32_t i = 0; i < h->header_count; i++) {
    puts_(t, "|");
    put_span(t, h, h->headers[i].name);
    puts_(t, "=");
    put_span(t, h, h->headers[i].value);
  }
  puts_(t, "\n");
}

static const lg_llhttp_api *selftest_api;

static int on_begin(void *owner) {
  transcript *t = owner;
  flush_body(t);
  puts_(t, "<");
  return LG_H1_CONTINUE;
}

static int on_head(void *owner, const lg_h1_head *h) {
  transcript *t = owner;
  char line[128];
  flush_body(t);
  if (h->method.len > 0) {
    const char *name = selftest_api->method_name(h->method_id);
    if (strlen(name) != h->method.len || memcmp(name, h->base + h->method.off, h->method.len) != 0)
      puts_(t, "!method");
    puts_(t, "H ");
    put_span(t, h, h->method);
    puts_(t, " ");
    put_span(t, h, h->url);
  } else {
    snprintf(line, sizeof line, "H %u ", h->status);
    puts_(t, line);
    put_span(t, h, h->reason);
  }
  snprintf(line, sizeof line, " %u.%u ka=%d up=%d te=%d cl=%lld info=%d", h->version_major,
           h->version_minor, h->keep_alive, h->upgrade, h->chunked, (long long)h->content_length,
           h->informational);
  puts_(t, line);
  put_fields(t, h);
  return h->method.len > 0 ? LG_H1_CONTINUE : lg_h1_response_body(h, false);
}

static int on_body(void *owner, const uint8_t *at, size_t len) {
  transcript *t = owner;
  if (t->body_len + len > sizeof t->body) {
    t->overflow = true;
    return LG_H1_ABORT;
  }
  memcpy(t->body + t->body_len, at, len);
  t->body_len += len;
  return LG_H1_CONTINUE;
}

static int on_trailers(void *owner, const lg_h1_head *h) {
  transcript *t = owner;
  flush_body(t);
  puts_(t, "T");
  put_fields(t, h);
  return LG_H1_CONTINUE;
}

static int on_complete(void *owner) {
  transcript *t = owner;
  flush_body(t);
  puts_(t, "C\n");
  return LG_H1_PAUSE;
}

static const lg_h1_callbacks recorder = {on_begin, on_head, on_body, on_trailers, on_complete};

static const lg_h1_limits limits = {
    .max_head_bytes = 4096,
    .max_headers = 100,
    .underscores = LG_H1_UNDERSCORES_ALLOW,
    .accept_http10 = true,
    .max_body_bytes = 0,
};

/* ------------------------------------------------------------------------ */
/* Corpora and their expected transcripts                                   */
/* ------------------------------------------------------------------------ */

static const char request_corpus[] =
    "GET /path?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: split/1.0\r\nX-Empty:\r\n"
    "X-Trailing-Space: v  \r\n\r\n"
    "POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\n\r\nhello world"
    "PUT /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n"
    "GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    "tunnel";

static const char request_transcript[] =
    "<H GET /path?q=1 1.1 ka=1 up=0 te=0 cl=-1 info=0|host=example.com|user-agent=split/1.0"
    "|x-empty=|x-trailing-space=v\n"
    "C\n"
    "<H POST /upload 1.1 ka=1 up=0 te=0 cl=11 info=0|host=example.com|content-length=11\n"
    "B:hello world\n"
    "C\n"
    "<H PUT /chunked 1.1 ka=1 up=0 te=1 cl=-1 info=0|host=a|transfer-encoding=chunked\n"
    "B:hello world\n"
    "T|x-checksum=abc\n"
    "C\n"
    "<H GET /old 1.0 ka=1 up=0 te=0 cl=-1 info=0|connection=keep-alive\n"
    "C\n"
    "<H GET /ws 1.1 ka=1 up=1 te=0 cl=-1 info=0|host=a|connection=Upgrade|upgrade=websocket\n"
    "C\n"
    "U:tunnel\n";

static const char response_corpus[] =
    "HTTP/1.1 100 Continue\r\n\r\n"
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"
    "HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n"
    "HTTP/1.1 404 Not Found Here\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
    "Trailer-One: 1\r\n\r\n"
    "HTTP/1.1 200 OK\r\n\r\nuntil close";

static const char response_transcript[] =
    "<H 100 Continue 1.1 ka=1 up=0 te=0 cl=-1 info=1\n"
    "<H 200 OK 1.1 ka=1 up=0 te=0 cl=13 info=0|content-type=text/plain|content-length=13\n"
    "B:Hello, World!\n"
    "C\n"
    "<H 204 No Content 1.1 ka=1 up=0 te=0 cl=-1 info=0|x-a=b\n"
    "C\n"
    "<H 404 Not Found Here 1.1 ka=1 up=0 te=1 cl=-1 info=0|transfer-encoding=chunked\n"
    "B:abc\n"
    "T|trailer-one=1\n"
    "C\n"
    "<H 200 OK 1.1 ka=0 up=0 te=0 cl=-1 info=0\n"
    "B:until close\n"
    "C\n"
    "F\n";

/*
 * Parses `corpus` into `t`: in reads of `step` bytes, or (step 0) in two reads split at `cut`
 * (0: one read), resuming after every pause and finishing responses.
 */
static void run(lg_h1_type type, const char *corpus, size_t size, size_t step, size_t cut,
                transcript *t) {
  uint8_t *copy = malloc(size);
  lg_h1_parser p;
  memset(t, 0, sizeof *t);
  if (copy == NULL) {
    t->overflow = true;
    return;
  }
  memcpy(copy, corpus, size);
  if (!lg_h1_init(&p, type, &limits, &recorder, t)) {
    free(copy);
    t->overflow = true;
    return;
  }
  size_t at = 0;
  bool stopped = false;
  while (at < size && !stopped) {
    size_t end = step != 0 ? at + step : (cut != 0 && at < cut ? cut : size);
    if (end > size) end = size;
    size_t off = at;
    for (;;) {
      size_t consumed;
      lg_h1_result r = lg_h1_execute(&p, copy + off, end - off, &consumed);
      off += consumed;
      if (r == LG_H1_OK) break;
      if (r == LG_H1_PAUSED) {
        lg_h1_resume(&p);
        continue;
      }
      flush_body(t);
      if (r == LG_H1_PAUSED_UPGRADE) {
        puts_(t, "U:");
        put(t, copy + off, size - off);
        puts_(t, "\n");
      } else {
        char line[64];
        snprintf(line, sizeof line, "E%d\n", lg_h1_error_code(&p));
        puts_(t, line);
      }
      stopped = true;
      break;
    }
    at = end;
  }
  if (!stopped && type == LG_H1_RESPONSE) {
    lg_h1_result r = lg_h1_finish(&p);
    flush_body(t);
    puts_(t, r == LG_H1_PAUSED ? "F\n" : "!finish\n");
  }
  lg_h1_release(&p);
  free(copy);
}

/* Copies up to 48 bytes of `text` from `at` into `out`, with newlines shown as '|'. */
static void excerpt(char *out, size_t size, const char *text, size_t at) {
  size_t n = 0, len = strlen(text);
  for (size_t i = at; i < len && n + 1 < size && n < 48; i++) out[n++] = text[i] == '\n' ? '|' : text[i];
  out[n] = '\0';
}

/* Writes where `actual` first departs from `expected` into `buf`. */
static const char *difference(char *buf, size_t size, lg_h1_type type, const char *how,
                              const transcript *t, const char *expected) {
  if (t->overflow) {
    snprintf(buf, size, "self-test: %s %s: transcript overflow", type == LG_H1_REQUEST ? "request" : "response", how);
    return buf;
  }
  size_t at = 0;
  while (expected[at] != '\0' && expected[at] == t->text[at]) at++;
  size_t from = at > 16 ? at - 16 : 0;
  char want[64], got[64];
  excerpt(want, sizeof want, expected, from);
  excerpt(got, sizeof got, t->text, from);
  snprintf(buf, size, "self-test: %s %s parsed differently at byte %zu of the transcript: expected '%s', got '%s'",
           type == LG_H1_REQUEST ? "request" : "response", how, at, want, got);
  return buf;
}

static const char *check_corpus(lg_h1_type type, const char *corpus, size_t size,
                                const char *expected, char *buf, size_t buf_size) {
  transcript *t = malloc(sizeof *t);
  if (t == NULL) return "out of memory";
  const char *failure = NULL;
  /* cut 0: one read; cut k: two reads split at k. */
  for (size_t cut = 0; cut < size && failure == NULL; cut++) {
    run(type, corpus, size, 0, cut, t);
    if (t->overflow || strcmp(t->text, expected) != 0) {
      char how[48];
      snprintf(how, sizeof how, "split at %zu", cut);
      failure = difference(buf, buf_size, type, how, t, expected);
    }
  }
  if (failure == NULL) {
    run(type, corpus, size, 1, 0, t);
    if (t->overflow || strcmp(t->text, expected) != 0)
      failure = difference(buf, buf_size, type, "fed byte by byte", t, expected);
  }
  free(t);
  return failure;
}

const char *lg_h1_selftest(const lg_llhttp_api *api, char *buf, size_t size) {
  const char *failure = check_struct_sizes(api);
  if (failure != NULL) return failure;
  selftest_api = api;
  failure = check_corpus(LG_H1_REQUEST, request_corpus, sizeof request_corpus - 1,
                         request_transcript, buf, size);
  if (failure != NULL) return failure;
  return check_corpus(LG_H1_RESPONSE, response_corpus, sizeof response_corpus - 1,
                      response_transcript, buf, size);
}
