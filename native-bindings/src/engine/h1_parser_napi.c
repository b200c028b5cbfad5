/*
 * h1_parser_napi: what JS can see of the native HTTP/1 parser. The engine drives the parser from
 * C; these functions exist so tests can hold it against Legate's JS codec, and for the benchmark.
 *
 *   h1Status() -> { available, reason, parserBytes, liveStashes }
 *   h1ParseForTest('request' | 'response', chunks: Buffer[], options) -> events
 *       Feeds `chunks` as successive reads to a parser owned by a C test owner that behaves as
 *       the JS codec's connection around its parser does (server-connection.ts for requests: one
 *       request at a time, answered with a 200 as soon as it is complete, upgrades refused;
 *       client-connection.ts for responses: one request per method in options.methods, reuse
 *       while reusable, options.eof = the server closes after the last chunk). Returns what a
 *       recording RequestDecoder / ResponseDecoder would have seen, in the normalised event form
 *       of test/native/h1-fuzz/events.ts (body pieces merged).
 *   llhttpRawForTest('request' | 'response', chunks) -> events
 *       Drives Node's llhttp directly with recording callbacks (no Legate logic): for comparing
 *       it with llhttp-wasm callback by callback, with error codes, reasons and positions.
 *   h1BenchForTest('request' | 'response', data: Buffer, iterations) -> nanoseconds
 *       Parses `data` `iterations` times in a C loop (one keep-alive parser), for perf/; returns
 *       the CPU time this thread spent (not wall time: other processes do not inflate it).
 */
#include "h1_parser_napi.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../splice_relay.h"
#include "h1_parser.h"

#define MAX_CHUNKS 100000
#define MAX_METHODS 64

/* ------------------------------------------------------------------------ */
/* Event recording                                                          */
/* ------------------------------------------------------------------------ */

typedef struct recorder {
  napi_env env;
  napi_value events;
  uint32_t count;
  bool failed; /* an N-API call failed: the caller throws */
  uint8_t *body;
  size_t body_len, body_cap;
} recorder;

static napi_value latin1(recorder *r, const void *bytes, size_t len) {
  napi_value v = NULL;
  if (napi_create_string_latin1(r->env, (const char *)bytes, len, &v) != napi_ok) r->failed = true;
  return v;
}

static napi_value text(recorder *r, const char *s) { return latin1(r, s, strlen(s)); }

static napi_value number(recorder *r, double d) {
  napi_value v = NULL;
  if (napi_create_double(r->env, d, &v) != napi_ok) r->failed = true;
  return v;
}

static napi_value boolean(recorder *r, bool b) {
  napi_value v = NULL;
  if (napi_get_boolean(r->env, b, &v) != napi_ok) r->failed = true;
  return v;
}

/* Appends [tag, ...values] to the event list. */
static void push(recorder *r, const char *tag, size_t argc, const napi_value *argv) {
  napi_value event;
  if (r->failed || napi_create_array_with_length(r->env, argc + 1, &event) != napi_ok ||
      napi_set_element(r->env, event, 0, text(r, tag)) != napi_ok) {
    r->failed = true;
    return;
  }
  for (size_t i = 0; i < argc; i++)
    if (napi_set_element(r->env, event, (uint32_t)(i + 1), argv[i]) != napi_ok) r->failed = true;
  if (napi_set_element(r->env, r->events, r->count++, event) != napi_ok) r->failed = true;
}

static void push0(recorder *r, const char *tag) { push(r, tag, 0, NULL); }

/* Body pieces are merged into one event, so how the input was split does not show. */
static void append_body(recorder *r, const uint8_t *at, size_t len) {
  if (r->body_len + len > r->body_cap) {
    size_t cap = r->body_cap < 1024 ? 1024 : r->body_cap;
    while (cap < r->body_len + len) cap *= 2;
    uint8_t *grown = realloc(r->body, cap);
    if (grown == NULL) {
      r->failed = true;
      return;
    }
    r->body = grown;
    r->body_cap = cap;
  }
  memcpy(r->body + r->body_len, at, len);
  r->body_len += len;
}

static void flush_body(recorder *r) {
  if (r->body_len == 0) return;
  napi_value piece = latin1(r, r->body, r->body_len);
  r->body_len = 0;
  push(r, "body", 1, &piece);
}

static napi_value span_text(recorder *r, const lg_h1_head *h, lg_h1_span s) {
  return latin1(r, h->base + s.off, s.len);
}

/* [names[], values[]] of a head's fields. */
static void fields(recorder *r, const lg_h1_head *h, napi_value *names, napi_value *values) {
  if (napi_create_array_with_length(r->env, h->header_count, names) != napi_ok ||
      napi_create_array_with_length(r->env, h->header_count, values) != napi_ok) {
    r->failed = true;
    return;
  }
  for (uint32_t i = 0; i < h->header_count; i++) {
    if (napi_set_element(r->env, *names, i, span_text(r, h, h->headers[i].name)) != napi_ok ||
        napi_set_element(r->env, *values, i, span_text(r, h, h->headers[i].value)) != napi_ok)
      r->failed = true;
  }
}

static void push_trailers(recorder *r, const lg_h1_head *h) {
  napi_value argv[2];
  flush_body(r);
  fields(r, h, &argv[0], &argv[1]);
  push(r, "trailers", 2, argv);
}

/* ------------------------------------------------------------------------ */
/* Requests: the owner server-connection.ts is                              */
/* ------------------------------------------------------------------------ */

typedef struct request_owner {
  recorder rec;
  lg_h1_parser parser;
  bool stream_active;    /* the decoder got the head; no response yet */
  bool request_complete; /* ... and the request's end */
  bool keep_alive;
  bool closed;
  int last_status;
  int64_t content_length;
  uint64_t body_bytes;
} request_owner;

static int request_begin(void *owner) {
  request_owner *o = owner;
  flush_body(&o->rec);
  push0(&o->rec, "begin");
  return LG_H1_CONTINUE;
}

static int request_head(void *owner, const lg_h1_head *h) {
  request_owner *o = owner;
  recorder *r = &o->rec;
  napi_value argv[9];
  argv[0] = span_text(r, h, h->method);
  argv[1] = span_text(r, h, h->url);
  argv[2] = number(r, h->version_minor);
  argv[3] = boolean(r, h->keep_alive);
  argv[4] = number(r, (double)h->content_length);
  argv[5] = boolean(r, h->chunked);
  argv[6] = boolean(r, h->upgrade);
  fields(r, h, &argv[7], &argv[8]);
  push(r, "head", 9, argv);
  o->stream_active = true;
  o->keep_alive = h->keep_alive;
  o->content_length = h->content_length;
  o->body_bytes = 0;
  o->request_complete = !h->chunked && h->content_length <= 0;
  if (o->request_complete) push0(r, "end");
  return LG_H1_CONTINUE;
}

static int request_body(void *owner, const uint8_t *at, size_t len) {
  request_owner *o = owner;
  append_body(&o->rec, at, len);
  o->body_bytes += len;
  if (o->content_length >= 0 && o->body_bytes == (uint64_t)o->content_length) {
    o->request_complete = true;
    flush_body(&o->rec);
    push0(&o->rec, "end");
  }
  return LG_H1_CONTINUE;
}

static int any_trailers(void *owner, const lg_h1_head *h) {
  push_trailers(owner, h); /* the recorder is each owner's first member */
  return LG_H1_CONTINUE;
}

static int request_complete(void *owner) {
  request_owner *o = owner;
  if (o->stream_active && !o->request_complete) {
    o->request_complete = true;
    flush_body(&o->rec);
    push0(&o->rec, "end");
  }
  /* Wait for the response before parsing the next request. */
  return o->stream_active ? LG_H1_PAUSE : LG_H1_CONTINUE;
}

static const lg_h1_callbacks request_callbacks = {request_begin, request_head, request_body,
                                                  any_trailers, request_complete};

static void request_close(request_owner *o) {
  if (o->closed) return;
  o->closed = true;
  push0(&o->rec, "close");
}

/* server-connection.ts's rejectMalformed. */
static void request_reject(request_owner *o) {
  recorder *r = &o->rec;
  int status = lg_h1_reject_status(&o->parser);
  flush_body(r);
  if (o->stream_active) {
    o->stream_active = false;
    napi_value reason = text(r, status == 413 ? "overflow" : "protocol_error");
    push(r, "reset", 1, &reason);
  }
  napi_value code = number(r, status);
  push(r, "reply", 1, &code);
  request_close(o);
}

/* server-connection.ts's parse loop, with the test app answering each complete request at once. */
static void request_feed(request_owner *o, uint8_t *data, size_t len) {
  while (!o->closed) {
    size_t consumed;
    lg_h1_result result = lg_h1_execute(&o->parser, data, len, &consumed);
    if (result == LG_H1_OK) return;
    data += consumed;
    len -= consumed;
    if (result == LG_H1_PAUSED_UPGRADE && !o->stream_active && o->last_status != 101) {
      /* The upgrade was refused with an ordinary response: what follows is HTTP again. */
      lg_h1_resume_after_upgrade(&o->parser);
      continue;
    }
    if (result == LG_H1_ERROR) {
      request_reject(o);
      return;
    }
    /* Paused after a complete request: answer it, then parse the rest. */
    if (!o->stream_active || !o->request_complete) {
      push0(&o->rec, "stuck");
      request_close(o);
      return;
    }
    flush_body(&o->rec);
    o->stream_active = false;
    o->last_status = 200;
    if (!o->keep_alive) {
      request_close(o);
      return;
    }
    lg_h1_resume(&o->parser);
  }
}

/* ------------------------------------------------------------------------ */
/* Responses: the owner client-connection.ts is                             */
/* ------------------------------------------------------------------------ */

typedef struct response_owner {
  recorder rec;
  lg_h1_parser parser;
  napi_value methods[MAX_METHODS];
  bool head_method[MAX_METHODS];
  uint32_t method_count, next_method;
  bool busy, head_request, reusable, started, complete;
  bool closing;      /* the socket was destroyed; 'close' follows at the end of the step */
  bool close_pushed;
  int64_t content_length;
  bool chunked;
  uint64_t body_bytes;
} response_owner;

static void response_new_stream(response_owner *o) {
  uint32_t i = o->next_method++;
  o->busy = true;
  o->head_request = o->head_method[i];
  lg_h1_expect_response_to_head(&o->parser, o->head_request);
  o->reusable = true;
  o->started = false;
  o->complete = false;
  push(&o->rec, "request", 1, &o->methods[i]);
}

static void response_fail(response_owner *o, const char *reason) {
  o->busy = false;
  o->closing = true;
  flush_body(&o->rec);
  napi_value why = text(&o->rec, reason);
  push(&o->rec, "reset", 1, &why);
}

/* client-connection.ts's completeStream, with the test app starting the next request if any. */
static void response_complete_stream(response_owner *o) {
  bool reusable = o->reusable && !o->closing;
  o->busy = false;
  flush_body(&o->rec);
  napi_value argv = boolean(&o->rec, reusable);
  push(&o->rec, "complete", 1, &argv);
  if (!reusable)
    o->closing = true;
  else if (o->next_method < o->method_count)
    response_new_stream(o);
}

/* The socket's 'close' (client-connection.ts's onClose), at the end of the step that closed it. */
static void response_closed(response_owner *o) {
  if (!o->closing || o->close_pushed) return;
  o->close_pushed = true;
  if (o->busy) response_fail(o, "remote_reset");
  push0(&o->rec, "close");
}

static int response_begin(void *owner) {
  response_owner *o = owner;
  /* Bytes from the server with no request outstanding break framing. */
  if (!o->busy || o->complete) return LG_H1_ABORT;
  o->content_length = -1;
  o->chunked = false;
  o->body_bytes = 0;
  return LG_H1_CONTINUE;
}

static int response_head(void *owner, const lg_h1_head *h) {
  response_owner *o = owner;
  recorder *r = &o->rec;
  napi_value argv[4];
  argv[0] = number(r, h->status);
  argv[1] = span_text(r, h, h->reason);
  fields(r, h, &argv[2], &argv[3]);
  if (h->informational) {
    push(r, "1xx", 4, argv);
    return LG_H1_CONTINUE;
  }
  o->started = true;
  o->content_length = h->content_length;
  o->chunked = h->chunked;
  if (!h->keep_alive) o->reusable = false;
  int answer = lg_h1_response_body(h, o->head_request);
  bool end;
  if (answer == LG_H1_SKIP_BODY_UPGRADE) {
    o->reusable = false;
    end = true;
  } else if (answer == LG_H1_SKIP_BODY) {
    end = true;
  } else if (h->chunked) {
    end = false;
  } else if (h->content_length >= 0) {
    end = h->content_length == 0;
  } else {
    o->reusable = false; /* close-delimited */
    end = false;
  }
  o->complete = end;
  push(r, "head", 4, argv);
  if (end) push0(r, "end");
  return answer;
}

static int response_body(void *owner, const uint8_t *at, size_t len) {
  response_owner *o = owner;
  append_body(&o->rec, at, len);
  o->body_bytes += len;
  if (!o->chunked && o->content_length >= 0 && o->body_bytes == (uint64_t)o->content_length) {
    o->complete = true;
    flush_body(&o->rec);
    push0(&o->rec, "end");
  }
  return LG_H1_CONTINUE;
}

static int response_complete(void *owner) {
  response_owner *o = owner;
  if (!o->busy) return LG_H1_ABORT;
  if (!o->complete) {
    o->complete = true;
    flush_body(&o->rec);
    push0(&o->rec, "end");
  }
  return LG_H1_PAUSE;
}

static const lg_h1_callbacks response_callbacks = {response_begin, response_head, response_body,
                                                   any_trailers, response_complete};

/* client-connection.ts's onData. */
static void response_feed(response_owner *o, uint8_t *data, size_t len) {
  size_t consumed;
  lg_h1_result result = lg_h1_execute(&o->parser, data, len, &consumed);
  if (result == LG_H1_PAUSED && o->busy) {
    /* Bytes after a complete response are not a response to anything sent. */
    if (consumed != len) o->reusable = false;
    lg_h1_resume(&o->parser);
    lg_h1_execute(&o->parser, NULL, 0, &consumed);
    response_complete_stream(o);
  } else if (result != LG_H1_OK) {
    if (o->busy)
      response_fail(o, "protocol_error");
    else
      o->closing = true;
  }
  response_closed(o);
}

/* client-connection.ts's onEnd: the server closed its side. */
static void response_eof(response_owner *o) {
  if (o->busy && o->started && !o->complete) {
    if (lg_h1_finish(&o->parser) == LG_H1_PAUSED)
      response_complete_stream(o);
    else
      response_fail(o, "remote_reset");
  }
  o->closing = true;
  response_closed(o);
}

/* ------------------------------------------------------------------------ */
/* Argument helpers                                                         */
/* ------------------------------------------------------------------------ */

static bool ensure_available(napi_env env) {
  const char *reason = lg_h1_unavailable_reason();
  if (reason == NULL) return true;
  napi_throw_error(env, "ERR_LEGATE_H1_UNAVAILABLE", reason);
  return false;
}

/* 'request' -> LG_H1_REQUEST, 'response' -> LG_H1_RESPONSE, else throws and returns 0. */
static int read_type(napi_env env, napi_value value) {
  char buf[16];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, buf, sizeof buf, &len) == napi_ok) {
    if (strcmp(buf, "request") == 0) return LG_H1_REQUEST;
    if (strcmp(buf, "response") == 0) return LG_H1_RESPONSE;
  }
  napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", "type must be 'request' or 'response'");
  return 0;
}

/* options[key] as a number (missing -> fallback). */
static bool read_number(napi_env env, napi_value options, const char *key, double fallback,
                        double *out) {
  bool has = false;
  napi_value value;
  napi_valuetype type;
  *out = fallback;
  if (napi_has_named_property(env, options, key, &has) != napi_ok) return false;
  if (!has) return true;
  if (napi_get_named_property(env, options, key, &value) != napi_ok ||
      napi_typeof(env, value, &type) != napi_ok)
    return false;
  if (type == napi_undefined) return true;
  if (type == napi_boolean) {
    bool b;
    if (napi_get_value_bool(env, value, &b) != napi_ok) return false;
    *out = b ? 1 : 0;
    return true;
  }
  return napi_get_value_double(env, value, out) == napi_ok;
}

/* The Buffers of `array`, copied into one malloc'd block (the parser writes into its input). */
typedef struct chunks {
  uint8_t *bytes;
  size_t *ends;
  uint32_t count;
} chunks;

static bool read_chunks(napi_env env, napi_value array, chunks *out) {
  uint32_t count = 0;
  size_t total = 0;
  memset(out, 0, sizeof *out);
  if (napi_get_array_length(env, array, &count) != napi_ok || count > MAX_CHUNKS) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "chunks must be an array of Buffers");
    return false;
  }
  for (int pass = 0; pass < 2; pass++) {
    size_t at = 0;
    for (uint32_t i = 0; i < count; i++) {
      napi_value element;
      void *data;
      size_t len;
      bool is_buffer = false;
      if (napi_get_element(env, array, i, &element) != napi_ok ||
          napi_is_buffer(env, element, &is_buffer) != napi_ok || !is_buffer ||
          napi_get_buffer_info(env, element, &data, &len) != napi_ok) {
        free(out->bytes);
        free(out->ends);
        napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "chunks must be an array of Buffers");
        return false;
      }
      if (pass == 1) {
        memcpy(out->bytes + at, data, len);
        out->ends[i] = at + len;
      }
      at += len;
    }
    if (pass == 0) {
      total = at;
      out->bytes = malloc(total + 1);
      out->ends = malloc((count + 1) * sizeof *out->ends);
      if (out->bytes == NULL || out->ends == NULL) {
        free(out->bytes);
        free(out->ends);
        napi_throw_error(env, NULL, "out of memory");
        return false;
      }
    }
  }
  out->count = count;
  return true;
}

static napi_value finish_events(napi_env env, recorder *r) {
  free(r->body);
  if (r->failed) {
    legate_throw_napi_failure(env);
    return NULL;
  }
  return r->events;
}

/* ------------------------------------------------------------------------ */
/* h1Status, h1ParseForTest                                                 */
/* ------------------------------------------------------------------------ */

static napi_value H1Status(napi_env env, napi_callback_info info) {
  (void)info;
  const char *reason = lg_h1_unavailable_reason();
  napi_value result, available, why, parser_bytes, live;
  NAPI_CALL(env, napi_create_object(env, &result));
  NAPI_CALL(env, napi_get_boolean(env, reason == NULL, &available));
  NAPI_CALL(env, napi_create_string_utf8(env, reason != NULL ? reason : "", NAPI_AUTO_LENGTH, &why));
  NAPI_CALL(env, napi_create_uint32(env, (uint32_t)sizeof(lg_h1_parser), &parser_bytes));
  NAPI_CALL(env, napi_create_int64(env, lg_h1_live_stashes(), &live));
  NAPI_CALL(env, napi_set_named_property(env, result, "available", available));
  NAPI_CALL(env, napi_set_named_property(env, result, "reason", why));
  NAPI_CALL(env, napi_set_named_property(env, result, "parserBytes", parser_bytes));
  NAPI_CALL(env, napi_set_named_property(env, result, "liveStashes", live));
  return result;
}

static bool read_request_limits(napi_env env, napi_value options, lg_h1_limits *limits) {
  double head, count, underscores, http10, body;
  if (!read_number(env, options, "maxHeadBytes", 60 * 1024, &head) ||
      !read_number(env, options, "maxHeaders", 100, &count) ||
      !read_number(env, options, "underscores", LG_H1_UNDERSCORES_ALLOW, &underscores) ||
      !read_number(env, options, "acceptHttp10", 0, &http10) ||
      !read_number(env, options, "maxBodyBytes", 0, &body)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "bad parser options");
    return false;
  }
  limits->max_head_bytes = (uint32_t)head;
  limits->max_headers = (uint32_t)count;
  limits->underscores = (uint8_t)underscores;
  limits->accept_http10 = http10 != 0;
  limits->max_body_bytes = (uint64_t)body;
  return true;
}

static bool read_methods(napi_env env, napi_value options, response_owner *o) {
  bool has = false;
  napi_value list;
  uint32_t count = 0;
  if (napi_has_named_property(env, options, "methods", &has) != napi_ok) return false;
  if (!has) {
    o->methods[0] = text(&o->rec, "GET");
    o->method_count = 1;
    return !o->rec.failed;
  }
  if (napi_get_named_property(env, options, "methods", &list) != napi_ok ||
      napi_get_array_length(env, list, &count) != napi_ok || count == 0 || count > MAX_METHODS)
    return false;
  for (uint32_t i = 0; i < count; i++) {
    char name[16];
    size_t len = 0;
    if (napi_get_element(env, list, i, &o->methods[i]) != napi_ok ||
        napi_get_value_string_utf8(env, o->methods[i], name, sizeof name, &len) != napi_ok)
      return false;
    o->head_method[i] = strcmp(name, "HEAD") == 0;
  }
  o->method_count = count;
  return true;
}

/* The arguments (type, chunks[, options]) of h1ParseForTest and llhttpRawForTest. */
static bool read_parse_args(napi_env env, napi_callback_info info, int *type, chunks *input,
                            napi_value *options) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    legate_throw_napi_failure(env);
    return false;
  }
  if (!ensure_available(env)) return false;
  if (argc < 2) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "type and chunks are required");
    return false;
  }
  *type = read_type(env, argv[0]);
  if (*type == 0) return false;
  if (argc >= 3) {
    *options = argv[2];
  } else if (napi_create_object(env, options) != napi_ok) {
    legate_throw_napi_failure(env);
    return false;
  }
  return read_chunks(env, argv[1], input);
}

static napi_value parse_requests(napi_env env, napi_value options, const chunks *input) {
  lg_h1_limits limits = {0};
  if (!read_request_limits(env, options, &limits)) return NULL;
  request_owner *o = calloc(1, sizeof *o);
  if (o == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  o->rec.env = env;
  if (napi_create_array(env, &o->rec.events) != napi_ok ||
      !lg_h1_init(&o->parser, LG_H1_REQUEST, &limits, &request_callbacks, o)) {
    free(o);
    legate_throw_napi_failure(env);
    return NULL;
  }
  size_t at = 0;
  for (uint32_t i = 0; i < input->count && !o->closed; i++) {
    request_feed(o, input->bytes + at, input->ends[i] - at);
    at = input->ends[i];
  }
  flush_body(&o->rec);
  lg_h1_release(&o->parser);
  napi_value result = finish_events(env, &o->rec);
  free(o);
  return result;
}

static napi_value parse_responses(napi_env env, napi_value options, const chunks *input) {
  double head, eof;
  lg_h1_limits limits = {0};
  response_owner *o = calloc(1, sizeof *o);
  if (o == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  o->rec.env = env;
  if (!read_number(env, options, "maxHeadBytes", 80 * 1024, &head) ||
      !read_number(env, options, "eof", 0, &eof) || !read_methods(env, options, o) ||
      napi_create_array(env, &o->rec.events) != napi_ok) {
    free(o);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "bad parser options");
    return NULL;
  }
  limits.max_head_bytes = (uint32_t)head;
  if (!lg_h1_init(&o->parser, LG_H1_RESPONSE, &limits, &response_callbacks, o)) {
    free(o);
    napi_throw_error(env, NULL, "lg_h1_init failed");
    return NULL;
  }
  response_new_stream(o);
  size_t at = 0;
  for (uint32_t i = 0; i < input->count && !o->closing; i++) {
    response_feed(o, input->bytes + at, input->ends[i] - at);
    at = input->ends[i];
  }
  if (eof != 0 && !o->closing) response_eof(o);
  flush_body(&o->rec);
  lg_h1_release(&o->parser);
  napi_value result = finish_events(env, &o->rec);
  free(o);
  return result;
}

static napi_value H1ParseForTest(napi_env env, napi_callback_info info) {
  int type;
  chunks input;
  napi_value options;
  if (!read_parse_args(env, info, &type, &input, &options)) return NULL;
  napi_value result = type == LG_H1_REQUEST ? parse_requests(env, options, &input)
                                            : parse_responses(env, options, &input);
  free(input.bytes);
  free(input.ends);
  return result;
}

/* ------------------------------------------------------------------------ */
/* llhttpRawForTest                                                         */
/* ------------------------------------------------------------------------ */

typedef struct raw_run {
  recorder rec;
  lg_llhttp parser;
  const uint8_t *chunk; /* the read being executed, and its offset in the whole input */
  size_t chunk_offset;
} raw_run;

static _Thread_local raw_run *raw_current;
static lg_llhttp_settings raw_settings;
static pthread_once_t raw_settings_once = PTHREAD_ONCE_INIT;

static void raw_span(const char *tag, const char *at, size_t len) {
  raw_run *run = raw_current;
  napi_value argv[2];
  argv[0] = number(&run->rec, (double)(run->chunk_offset + (size_t)((const uint8_t *)at - run->chunk)));
  argv[1] = number(&run->rec, (double)len);
  push(&run->rec, tag, 2, argv);
}

static int raw_begin(lg_llhttp *p) {
  (void)p;
  push0(&raw_current->rec, "begin");
  return 0;
}
/* One recording callback per span kind llhttp-wasm's glue reports. */
#define RAW_SPAN_CALLBACK(kind)                                             \
  static int raw_##kind(lg_llhttp *p, const char *at, size_t len) {         \
    (void)p;                                                                \
    raw_span(#kind, at, len);                                               \
    return 0;                                                               \
  }
RAW_SPAN_CALLBACK(url)
RAW_SPAN_CALLBACK(status)
RAW_SPAN_CALLBACK(field)
RAW_SPAN_CALLBACK(value)
RAW_SPAN_CALLBACK(body)

static int raw_complete(lg_llhttp *p) {
  (void)p;
  push0(&raw_current->rec, "complete");
  return 0;
}
/* What llhttp-wasm's glue passes to its on_headers_complete import, plus the method. */
static int raw_headers_complete(lg_llhttp *p) {
  const lg_llhttp_api *api = lg_h1_llhttp();
  recorder *r = &raw_current->rec;
  napi_value argv[6];
  argv[0] = number(r, api->get_status_code(p));
  argv[1] = number(r, api->get_upgrade(p));
  argv[2] = number(r, api->should_keep_alive(p));
  argv[3] = number(r, api->get_method(p));
  argv[4] = number(r, api->get_http_major(p));
  argv[5] = number(r, api->get_http_minor(p));
  push(r, "headers", 6, argv);
  return 0;
}

static void init_raw_settings(void) {
  lg_h1_llhttp()->settings_init(&raw_settings);
  raw_settings.on_message_begin = raw_begin;
  raw_settings.on_url = raw_url;
  raw_settings.on_status = raw_status;
  raw_settings.on_header_field = raw_field;
  raw_settings.on_header_value = raw_value;
  raw_settings.on_headers_complete = raw_headers_complete;
  raw_settings.on_body = raw_body;
  raw_settings.on_message_complete = raw_complete;
}

static void raw_result(raw_run *run, int err, size_t pos) {
  const lg_llhttp_api *api = lg_h1_llhttp();
  napi_value argv[3];
  argv[0] = number(&run->rec, err);
  argv[1] = number(&run->rec, (double)pos);
  argv[2] = text(&run->rec, api->get_error_reason(&run->parser) ? api->get_error_reason(&run->parser) : "");
  push(&run->rec, "ret", 3, argv);
}

static napi_value LlhttpRawForTest(napi_env env, napi_callback_info info) {
  int type;
  chunks input;
  napi_value options;
  if (!read_parse_args(env, info, &type, &input, &options)) return NULL;
  const lg_llhttp_api *api = lg_h1_llhttp();
  pthread_once(&raw_settings_once, init_raw_settings);
  raw_run *run = calloc(1, sizeof *run);
  napi_value result = NULL;
  if (run == NULL || napi_create_array(env, &run->rec.events) != napi_ok) {
    free(run);
    napi_throw_error(env, NULL, "out of memory");
    goto done;
  }
  run->rec.env = env;
  api->init(&run->parser, type == LG_H1_REQUEST ? LG_LLHTTP_REQUEST : LG_LLHTTP_RESPONSE,
            &raw_settings);
  raw_current = run;
  bool stopped = false;
  size_t at = 0;
  for (uint32_t i = 0; i < input.count && !stopped; i++) {
    const uint8_t *data = input.bytes + at;
    size_t len = input.ends[i] - at;
    run->chunk_offset = at;
    for (;;) {
      run->chunk = data;
      int err = api->execute(&run->parser, (const char *)data, len);
      if (err == LG_HPE_OK) break;
      size_t stop = (size_t)((const uint8_t *)api->get_error_pos(&run->parser) - data);
      raw_result(run, err, run->chunk_offset + stop);
      if (err != LG_HPE_PAUSED_UPGRADE) {
        stopped = true;
        break;
      }
      /* Parse what follows an upgrade as HTTP, as the codec does when it refuses one. */
      api->resume_after_upgrade(&run->parser);
      data += stop;
      len -= stop;
      run->chunk_offset += stop;
    }
    at = input.ends[i];
  }
  if (!stopped) {
    napi_value ret = number(&run->rec, api->finish(&run->parser));
    push(&run->rec, "finish", 1, &ret);
  }
  raw_current = NULL;
  result = finish_events(env, &run->rec);
  free(run);
done:
  free(input.bytes);
  free(input.ends);
  return result;
}

/* ------------------------------------------------------------------------ */
/* h1BenchForTest                                                           */
/* ------------------------------------------------------------------------ */

typedef struct bench_owner {
  uint64_t headers, body_bytes, messages;
} bench_owner;

static int bench_head(void *owner, const lg_h1_head *h) {
  ((bench_owner *)owner)->headers += h->header_count;
  return LG_H1_CONTINUE;
}
static int bench_body(void *owner, const uint8_t *at, size_t len) {
  (void)at;
  ((bench_owner *)owner)->body_bytes += len;
  return LG_H1_CONTINUE;
}
static int bench_complete(void *owner) {
  ((bench_owner *)owner)->messages++;
  return LG_H1_CONTINUE;
}
static const lg_h1_callbacks bench_callbacks = {NULL, bench_head, bench_body, NULL, bench_complete};

static napi_value H1BenchForTest(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  void *data;
  size_t len;
  int32_t iterations;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (!ensure_available(env)) return NULL;
  if (argc < 3) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "type, data and iterations are required");
    return NULL;
  }
  int type = read_type(env, argv[0]);
  if (type == 0) return NULL;
  NAPI_CALL(env, napi_get_buffer_info(env, argv[1], &data, &len));
  if (!legate_read_int32(env, argv[2], "iterations", 1, INT32_MAX, &iterations)) return NULL;
  uint8_t *copy = malloc(len + 1);
  if (copy == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  memcpy(copy, data, len);
  static const lg_h1_limits limits = {.max_head_bytes = 80 * 1024, .max_headers = 100};
  bench_owner owner = {0};
  lg_h1_parser parser;
  lg_h1_init(&parser, (lg_h1_type)type, &limits, &bench_callbacks, &owner);
  struct timespec start, end;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
  bool ok = true;
  for (int32_t i = 0; i < iterations && ok; i++) {
    size_t consumed;
    ok = lg_h1_execute(&parser, copy, len, &consumed) == LG_H1_OK;
  }
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end);
  lg_h1_release(&parser);
  free(copy);
  if (!ok || owner.messages != (uint64_t)iterations) {
    napi_throw_error(env, NULL, "h1BenchForTest: the input is not one complete valid message");
    return NULL;
  }
  double ns = (double)(end.tv_sec - start.tv_sec) * 1e9 + (double)(end.tv_nsec - start.tv_nsec);
  NAPI_CALL(env, napi_create_double(env, ns, &result));
  return result;
}

/* ------------------------------------------------------------------------ */
/* Module                                                                   */
/* ------------------------------------------------------------------------ */

/* process.versions.llhttp, or NULL. */
static const char *llhttp_version(napi_env env, char *buf, size_t size) {
  napi_value global, process, versions, version;
  size_t len = 0;
  if (napi_get_global(env, &global) != napi_ok ||
      napi_get_named_property(env, global, "process", &process) != napi_ok ||
      napi_get_named_property(env, process, "versions", &versions) != napi_ok ||
      napi_get_named_property(env, versions, "llhttp", &version) != napi_ok ||
      napi_get_value_string_utf8(env, version, buf, size, &len) != napi_ok)
    return NULL;
  return buf;
}

napi_status legate_define_h1_parser(napi_env env, napi_value exports) {
  char version[32];
  bool pending = false;
  lg_h1_runtime_init(llhttp_version(env, version, sizeof version));
  /* A failed property read above leaves no exception behind: the runtime is just unavailable. */
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
  }
  napi_property_descriptor methods[] = {
      {"h1Status", NULL, H1Status, NULL, NULL, NULL, napi_enumerable, NULL},
      {"h1ParseForTest", NULL, H1ParseForTest, NULL, NULL, NULL, napi_enumerable, NULL},
      {"llhttpRawForTest", NULL, LlhttpRawForTest, NULL, NULL, NULL, napi_enumerable, NULL},
      {"h1BenchForTest", NULL, H1BenchForTest, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods);
}
