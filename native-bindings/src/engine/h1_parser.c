/*
 * h1_parser: HTTP/1.1 head collection and Legate's strictness on top of Node's llhttp (see
 * h1_parser.h for the contract and the memory model).
 *
 * Every decision here is a transcription of the JS codec, in the same order and at the same llhttp
 * callback, because the order decides which error wins when an input has several (e.g. a 101st
 * header field vs a bad character later in the head): src/http/llhttp.ts (piece joining,
 * max_head_bytes, lower-casing, trimming), src/http/server-connection.ts (request checks) and
 * src/http/client-connection.ts (response checks). The differential fuzzer holds the two together;
 * change one, change both.
 */
#include "h1_parser.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h1_selftest.h"

_Static_assert(offsetof(lg_h1_parser, llhttp) == 0, "llhttp callbacks cast the parser pointer");
_Static_assert(offsetof(lg_llhttp_settings, on_reset) == 0xc0, "llhttp 9.3 settings layout");
_Static_assert(sizeof(lg_llhttp_settings) >= LG_LLHTTP_SETTINGS_BYTES, "settings margin");

/* Where the parser is within a message. */
enum { PHASE_IDLE, PHASE_HEAD, PHASE_BODY, PHASE_TRAILERS };
/* Which kind of span llhttp reported last while reading header fields (the JS wrapper's state). */
enum { HEADER_NONE, HEADER_FIELD, HEADER_VALUE };

/* A head or trailer section that is incomplete when a read ends: the bytes of its spans so far. */
struct lg_h1_stash {
  uint8_t *bytes;
  uint32_t len, cap;
  lg_h1_header *headers;
  uint32_t headers_cap;
};

/* ------------------------------------------------------------------------ */
/* Process-wide runtime: llhttp's functions and one settings table           */
/* ------------------------------------------------------------------------ */

static lg_llhttp_api api;
static lg_llhttp_settings settings;
static pthread_mutex_t runtime_lock = PTHREAD_MUTEX_INITIALIZER;
static bool runtime_ran;
static const char *runtime_failure = "lg_h1_runtime_init has not run";
static char runtime_failure_text[256];
/* Set (release) once the self-test passed; lg_h1_init reads it (acquire) on any thread. */
static bool runtime_usable;
/* The self-test runs parsers before runtime_usable is set, on the initialising thread only. */
static _Thread_local bool in_selftest;
static pthread_key_t scratch_key;
/* Stashes allocated and not yet freed, in every thread (for tests and memory accounting). */
static long live_stashes;

/* Per thread: the header list being built (parsers never nest) and the parser executing. An
 * executing parser keeps a pointer to it: in a dlopen'ed addon each TLS access is a call. */
struct lg_h1_scratch {
  lg_h1_header *headers;
  uint32_t cap;
  lg_h1_parser *active;
};
static _Thread_local struct lg_h1_scratch thread_scratch;

/* JS's String.prototype.toLowerCase on latin1 chars (filled by runtime_setup). */
static uint8_t lower_table[256];

static void free_scratch(void *headers) { free(headers); }

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

static const uint8_t empty_input[1];

static inline lg_h1_parser *parser_of(lg_llhttp *llhttp) { return (lg_h1_parser *)llhttp; }

static inline uint8_t latin1_lower(uint8_t c) { return lower_table[c]; }

/* A-Z and U+00C0-U+00DE except U+00D7 map 0x20 up; every other latin1 char to itself. */
static void fill_lower_table(void) {
  for (int c = 0; c < 256; c++) {
    bool upper = (c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7);
    lower_table[c] = (uint8_t)(upper ? c + 0x20 : c);
  }
}

/* JS's String.prototype.trim on latin1: WhiteSpace and LineTerminator code points below U+0100. */
static inline bool js_trim_space(uint8_t c) {
  return c == 0x20 || (c >= 0x09 && c <= 0x0D) || c == 0xA0;
}

/*
 * Lower-cases `s` in place, eight bytes at a time while they are ASCII (header names always are:
 * llhttp accepts only token characters there), byte by byte through the table otherwise.
 */
static void lower_in_place(uint8_t *s, uint32_t n) {
  const uint64_t high = 0x8080808080808080ULL;
  uint32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, s + i, 8);
    if ((w & high) != 0) break;
    /* Each byte is < 0x80, so these sums carry into no neighbour: bit 7 of a byte is set iff the
     * byte is >= 'A' (first sum) or > 'Z' (second). */
    uint64_t upper = (w + 0x3f3f3f3f3f3f3f3fULL) & ~(w + 0x2525252525252525ULL) & high;
    if (upper != 0) {
      w |= upper >> 2;
      memcpy(s + i, &w, 8);
    }
  }
  for (; i < n; i++) {
    uint8_t lower = latin1_lower(s[i]);
    if (lower != s[i]) s[i] = lower;
  }
}

static inline bool is_ows(uint8_t c) { return c == ' ' || c == '\t'; }

static inline uint8_t *span_ptr(lg_h1_parser *p, uint32_t off) {
  return (p->stash != NULL ? p->stash->bytes : p->data) + off;
}

/* Records the first failure (later ones are consequences) and returns llhttp's "stop" code. */
static int fail(lg_h1_parser *p, int code, const char *reason, uint16_t status) {
  if (p->error_code == 0) {
    p->error_code = code;
    p->error_reason = reason;
    p->reject_status = status;
  }
  return LG_HPE_USER;
}

static int reject(lg_h1_parser *p, uint16_t status, const char *reason) {
  return fail(p, LG_H1_E_REJECTED, reason, status);
}

/* Maps an owner callback's answer to llhttp's return value. */
static int owner_answer(lg_h1_parser *p, int answer, bool may_pause) {
  if (answer == LG_H1_CONTINUE) return 0;
  if (answer == LG_H1_PAUSE && may_pause) return LG_HPE_PAUSED;
  return fail(p, LG_H1_E_ABORTED, "aborted by the parser's owner", 0);
}

/* ------------------------------------------------------------------------ */
/* Span collection                                                          */
/* ------------------------------------------------------------------------ */

static bool stash_reserve(lg_h1_stash *s, uint32_t extra) {
  uint64_t need = (uint64_t)s->len + extra;
  if (need <= s->cap) return true;
  if (need > UINT32_MAX / 2) return false;
  uint32_t cap = s->cap < 256 ? 256 : s->cap;
  while (cap < need) cap *= 2;
  uint8_t *bytes = realloc(s->bytes, cap);
  if (bytes == NULL) return false;
  s->bytes = bytes;
  s->cap = cap;
  return true;
}

/*
 * Records one piece of span text as llhttp reports it and returns its offset: in the caller's
 * buffer while nothing is stashed, else appended to the stash.
 */
static bool record_piece(lg_h1_parser *p, const char *at, size_t len, uint32_t *off) {
  lg_h1_stash *s = p->stash;
  if (s != NULL) {
    if (!stash_reserve(s, (uint32_t)len)) return false;
    *off = s->len;
    if (len > 0) memcpy(s->bytes + s->len, at, len);
    s->len += (uint32_t)len;
  } else {
    *off = (uint32_t)((const uint8_t *)at - p->data);
  }
  if (!p->spans_recorded) {
    p->spans_recorded = true;
    p->region_start = *off;
  }
  p->region_end = *off + (uint32_t)len;
  return true;
}

/* Starts `span` with a piece, or extends it (pieces of one span are always adjacent). */
static int span_piece(lg_h1_parser *p, lg_h1_span *span, bool extend, const char *at, size_t len) {
  uint32_t off;
  if (!record_piece(p, at, len, &off)) return fail(p, LG_H1_E_NO_MEMORY, "out of memory", 400);
  if (extend) {
    /* Pieces of one span arrive one per read and are appended to the stash in order. */
    if (off != span->off + span->len) return fail(p, LG_H1_E_INTERNAL, "span pieces not adjacent", 400);
    span->len += (uint32_t)len;
  } else {
    span->off = off;
    span->len = (uint32_t)len;
  }
  return 0;
}

/* The next free entry of the header list (the thread's scratch, or the stash's), grown as needed. */
static lg_h1_header *next_header(lg_h1_parser *p) {
  lg_h1_header **list;
  uint32_t *cap;
  lg_h1_stash *s = p->stash;
  if (s != NULL) {
    list = &s->headers;
    cap = &s->headers_cap;
  } else {
    list = &p->scratch->headers;
    cap = &p->scratch->cap;
  }
  if (p->header_count == *cap) {
    uint32_t grown = *cap < 32 ? 32 : *cap * 2;
    lg_h1_header *bigger = realloc(*list, grown * sizeof **list);
    if (bigger == NULL) return NULL;
    *list = bigger;
    *cap = grown;
    if (s == NULL) pthread_setspecific(scratch_key, bigger);
  }
  return &(*list)[p->header_count];
}

static lg_h1_header *header_list(lg_h1_parser *p) {
  return p->stash != NULL ? p->stash->headers : p->scratch->headers;
}

static void stash_free(lg_h1_parser *p) {
  lg_h1_stash *s = p->stash;
  if (s == NULL) return;
  free(s->bytes);
  free(s->headers);
  free(s);
  p->stash = NULL;
  __atomic_sub_fetch(&live_stashes, 1, __ATOMIC_RELAXED);
}

static void copy_span(lg_h1_stash *s, const uint8_t *from, lg_h1_span *span) {
  if (span->len > 0) memcpy(s->bytes + s->len, from + span->off, span->len);
  span->off = s->len;
  s->len += span->len;
}

/*
 * A read ends inside a head or trailer section: copies the bytes of its spans out of the caller's
 * buffer, in the order they were recorded, so the span still open (always the last one) ends the
 * stash and its next piece can be appended to it.
 */
static bool stash_open(lg_h1_parser *p) {
  lg_h1_header *list = p->scratch->headers;
  bool field_live = p->header_state != HEADER_NONE;
  bool value_live = p->header_state == HEADER_VALUE;
  uint64_t total = (uint64_t)p->method.len + p->url.len + p->reason.len;
  for (uint32_t i = 0; i < p->header_count; i++) total += list[i].name.len + list[i].value.len;
  if (field_live) total += p->field.len;
  if (value_live) total += p->value.len;

  lg_h1_stash *s = calloc(1, sizeof *s);
  if (s == NULL) return false;
  if (!stash_reserve(s, (uint32_t)total) ||
      (p->header_count > 0 &&
       (s->headers = malloc(p->header_count * sizeof *s->headers)) == NULL)) {
    free(s->bytes);
    free(s);
    return false;
  }
  s->headers_cap = p->header_count;
  const uint8_t *from = p->data;
  copy_span(s, from, &p->method);
  copy_span(s, from, &p->url);
  copy_span(s, from, &p->reason);
  for (uint32_t i = 0; i < p->header_count; i++) {
    s->headers[i] = list[i];
    copy_span(s, from, &s->headers[i].name);
    copy_span(s, from, &s->headers[i].value);
  }
  if (field_live) copy_span(s, from, &p->field);
  if (value_live) copy_span(s, from, &p->value);
  p->stash = s;
  __atomic_add_fetch(&live_stashes, 1, __ATOMIC_RELAXED);
  p->region_start = 0;
  p->region_end = s->len;
  return true;
}

/* Resets the collector after a head or trailer section was delivered (or at message begin). */
static void collector_reset(lg_h1_parser *p) {
  stash_free(p);
  memset(&p->method, 0, sizeof p->method);
  memset(&p->url, 0, sizeof p->url);
  memset(&p->reason, 0, sizeof p->reason);
  p->header_count = 0;
  p->header_state = HEADER_NONE;
  p->spans_recorded = false;
  p->region_start = p->region_end = 0;
}

/* Fills `view` with the collected spans, relative to the region's first byte. */
static void build_view(lg_h1_parser *p, lg_h1_head *view) {
  uint32_t start = p->stash != NULL ? 0 : p->region_start;
  memset(view, 0, sizeof *view);
  view->content_length = -1;
  if (p->stash != NULL) {
    view->base = p->stash->bytes;
    view->size = p->stash->len;
  } else if (p->spans_recorded) {
    view->base = p->data + start;
    view->size = p->region_end - start;
  } else {
    view->base = (uint8_t *)empty_input;
  }
  lg_h1_header *list = header_list(p);
  for (uint32_t i = 0; i < p->header_count; i++) {
    list[i].name.off -= start;
    list[i].value.off -= start;
  }
  view->headers = list;
  view->header_count = p->header_count;
  view->method = p->method;
  view->url = p->url;
  view->reason = p->reason;
  /* Empty spans may sit anywhere (e.g. before the region): pin them to its start. */
  view->method.off = p->method.len ? p->method.off - start : 0;
  view->url.off = p->url.len ? p->url.off - start : 0;
  view->reason.off = p->reason.len ? p->reason.off - start : 0;
}

/* max_head_bytes, checked per piece before it is kept (as the JS wrapper's countHead). */
static int count_head(lg_h1_parser *p, size_t len) {
  uint64_t total = (uint64_t)p->head_bytes + len;
  if (total > p->limits->max_head_bytes)
    return fail(p, LG_H1_E_HEAD_TOO_LARGE, "message head too large", 431);
  p->head_bytes = (uint32_t)total;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Header field checks                                                      */
/* ------------------------------------------------------------------------ */

/* Whether a lower-cased name is `literal` (a string literal). */
#define NAME_IS(name, len, literal) \
  ((len) == sizeof(literal) - 1 && memcmp((name), (literal), sizeof(literal) - 1) == 0)

/*
 * Number(value) for a Content-Length llhttp accepted: digits only (an empty value is 0), at most
 * 2^64-1. Saturates at INT64_MAX (see lg_h1_head.content_length).
 */
/* JS's Number.MAX_SAFE_INTEGER: the codecs refuse a Content-Length they cannot hold exactly. */
#define MAX_SAFE_LENGTH 9007199254740991ULL

static bool parse_content_length(const uint8_t *value, uint32_t len, int64_t *out, bool *unsafe) {
  uint64_t n = 0;
  for (uint32_t i = 0; i < len; i++) {
    uint8_t c = value[i];
    if (c < '0' || c > '9') return false;
    n = n > (UINT64_MAX - 9) / 10 ? UINT64_MAX : n * 10 + (uint64_t)(c - '0');
  }
  *out = n > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)n;
  *unsafe = n > MAX_SAFE_LENGTH;
  return true;
}

/* One complete header field of the head (the JS codecs' onHeader). */
static int check_header(lg_h1_parser *p, const uint8_t *name, uint32_t name_len,
                        const uint8_t *value, uint32_t value_len, bool *keep) {
  *keep = true;
  if (p->type == LG_H1_REQUEST) {
    const lg_h1_limits *limits = p->limits;
    if (limits->max_headers != 0 && ++p->fields_seen > limits->max_headers)
      return reject(p, 431, "too many header fields");
    if (limits->underscores != LG_H1_UNDERSCORES_ALLOW && memchr(name, '_', name_len) != NULL) {
      if (limits->underscores == LG_H1_UNDERSCORES_REJECT)
        return reject(p, 400, "header name with an underscore");
      *keep = false;
      return 0;
    }
  }
  if (NAME_IS(name, name_len, "content-length")) {
    if (!parse_content_length(value, value_len, &p->content_length, &p->content_length_unsafe))
      return fail(p, LG_H1_E_FRAMING, "unexpected Content-Length value", 400);
  } else if (NAME_IS(name, name_len, "transfer-encoding")) {
    p->has_transfer_encoding = true;
  }
  return 0;
}

/* The header (or trailer) field whose name and value are complete: lower-case, trim, check, keep. */
static int emit_field(lg_h1_parser *p) {
  uint8_t *name = span_ptr(p, p->field.off);
  uint8_t *value = span_ptr(p, p->value.off);
  uint32_t name_len = p->field.len, value_len = p->value.len;
  bool keep = true;
  lower_in_place(name, name_len);
  while (value_len > 0 && is_ows(value[value_len - 1])) value_len--;
  if (p->phase == PHASE_HEAD) {
    int ret = check_header(p, name, name_len, value, value_len, &keep);
    if (ret != 0) return ret;
  }
  if (!keep) return 0;
  lg_h1_header *h = next_header(p);
  if (h == NULL) return fail(p, LG_H1_E_NO_MEMORY, "out of memory", 400);
  h->name = p->field;
  h->value.off = p->value.off;
  h->value.len = value_len;
  p->header_count++;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Transfer-Encoding (requests)                                             */
/* ------------------------------------------------------------------------ */

typedef struct coding {
  const uint8_t *at;
  uint32_t len;
} coding;

static int compare_codings(const void *a, const void *b) {
  const coding *x = a, *y = b;
  uint32_t n = x->len < y->len ? x->len : y->len;
  for (uint32_t i = 0; i < n; i++) {
    int d = (int)latin1_lower(x->at[i]) - (int)latin1_lower(y->at[i]);
    if (d != 0) return d;
  }
  return (int)x->len - (int)y->len;
}

/*
 * Splits the Transfer-Encoding values (as if comma-joined) into JS-trimmed items, storing them in
 * `items` unless NULL. Returns how many there are, or -1 as soon as one is empty.
 */
static int64_t split_codings(lg_h1_parser *p, coding *items) {
  const lg_h1_header *list = header_list(p);
  int64_t n = 0;
  for (uint32_t i = 0; i < p->header_count; i++) {
    if (!NAME_IS(span_ptr(p, list[i].name.off), list[i].name.len, "transfer-encoding")) continue;
    const uint8_t *value = span_ptr(p, list[i].value.off);
    uint32_t end = list[i].value.len, start = 0;
    for (;;) {
      uint32_t stop = start;
      while (stop < end && value[stop] != ',') stop++;
      uint32_t a = start, b = stop;
      while (a < b && js_trim_space(value[a])) a++;
      while (b > a && js_trim_space(value[b - 1])) b--;
      if (a == b) return -1;
      if (items != NULL) items[n] = (coding){value + a, b - a};
      n++;
      if (stop == end) break;
      start = stop + 1;
    }
  }
  return n;
}

/*
 * server-connection.ts's transferEncodingStatus: an empty or repeated coding -> 400, anything but
 * exactly one `chunked` -> 501, else 0. (The JS compares every pair of items; sorting finds a
 * repeat in O(n log n) with the same answer, since an empty and a repeated item both give 400.)
 */
static uint16_t transfer_encoding_status(lg_h1_parser *p) {
  static const coding chunked = {(const uint8_t *)"chunked", 7};
  int64_t n = split_codings(p, NULL);
  if (n < 0) return 400;
  if (n == 1) {
    coding only;
    split_codings(p, &only);
    return compare_codings(&only, &chunked) == 0 ? 0 : 501;
  }
  coding *items = malloc((size_t)n * sizeof *items);
  if (items == NULL) return 400;
  split_codings(p, items);
  qsort(items, (size_t)n, sizeof *items, compare_codings);
  uint16_t status = 501;
  for (int64_t i = 1; i < n && status == 501; i++)
    if (compare_codings(&items[i - 1], &items[i]) == 0) status = 400;
  free(items);
  return status;
}

/* server-connection.ts's onHeadersComplete checks, in its order. */
static int check_request_head(lg_h1_parser *p, uint8_t major, uint8_t minor) {
  if (major != 1 || minor > 1) return reject(p, 505, "HTTP version not supported");
  if (minor == 0 && !p->limits->accept_http10) return reject(p, 426, "HTTP/1.0 is not accepted");
  if (p->has_transfer_encoding) {
    if (minor == 0 || p->content_length >= 0)
      return reject(p, 400, "Transfer-Encoding with HTTP/1.0 or with Content-Length");
    uint16_t status = transfer_encoding_status(p);
    if (status != 0)
      return reject(p, status, status == 501 ? "unsupported transfer coding" : "invalid Transfer-Encoding");
  }
  if (p->content_length_unsafe) return reject(p, 400, "Content-Length past 2^53-1");
  uint64_t max_body = p->limits->max_body_bytes;
  if (max_body > 0 && p->content_length >= 0 && (uint64_t)p->content_length > max_body)
    return reject(p, 413, "request body too large");
  return 0;
}

/* ------------------------------------------------------------------------ */
/* llhttp callbacks                                                         */
/* ------------------------------------------------------------------------ */

static int cb_message_begin(lg_llhttp *llhttp) {
  lg_h1_parser *p = parser_of(llhttp);
  collector_reset(p);
  p->phase = PHASE_HEAD;
  p->head_bytes = 0;
  p->fields_seen = 0;
  p->content_length = -1;
  p->body_bytes = 0;
  p->has_transfer_encoding = false;
  p->content_length_unsafe = false;
  p->informational = false;
  if (p->callbacks->on_message_begin == NULL) return 0;
  return owner_answer(p, p->callbacks->on_message_begin(p->owner), true);
}

static int cb_method(lg_llhttp *llhttp, const char *at, size_t len) {
  lg_h1_parser *p = parser_of(llhttp);
  return span_piece(p, &p->method, p->method.len > 0, at, len);
}

static int cb_url(lg_llhttp *llhttp, const char *at, size_t len) {
  lg_h1_parser *p = parser_of(llhttp);
  if (count_head(p, len) != 0) return LG_HPE_USER;
  return span_piece(p, &p->url, p->url.len > 0, at, len);
}

static int cb_status(lg_llhttp *llhttp, const char *at, size_t len) {
  lg_h1_parser *p = parser_of(llhttp);
  if (count_head(p, len) != 0) return LG_HPE_USER;
  return span_piece(p, &p->reason, p->reason.len > 0, at, len);
}

/* A field or value piece after the head: the trailer section starts. */
static void enter_trailers(lg_h1_parser *p) {
  if (p->phase != PHASE_BODY) return;
  p->phase = PHASE_TRAILERS;
  collector_reset(p);
}

static int cb_header_field(lg_llhttp *llhttp, const char *at, size_t len) {
  lg_h1_parser *p = parser_of(llhttp);
  enter_trailers(p);
  if (count_head(p, len) != 0) return LG_HPE_USER;
  if (p->header_state == HEADER_FIELD) return span_piece(p, &p->field, true, at, len);
  int ret = p->header_state == HEADER_VALUE ? emit_field(p) : 0;
  int piece = span_piece(p, &p->field, false, at, len);
  p->header_state = HEADER_FIELD;
  return ret != 0 ? ret : piece;
}

static int cb_header_value(lg_llhttp *llhttp, const char *at, size_t len) {
  lg_h1_parser *p = parser_of(llhttp);
  enter_trailers(p);
  if (count_head(p, len) != 0) return LG_HPE_USER;
  bool extend = p->header_state == HEADER_VALUE;
  p->header_state = HEADER_VALUE;
  return span_piece(p, &p->value, extend, at, len);
}

static int cb_headers_complete(lg_llhttp *llhttp) {
  lg_h1_parser *p = parser_of(llhttp);
  int ret = p->header_state == HEADER_VALUE ? emit_field(p) : 0;
  if (ret != 0) return ret;
  p->header_state = HEADER_NONE;
  uint8_t major = api.get_http_major(llhttp), minor = api.get_http_minor(llhttp);
  int status = 0;
  if (p->type == LG_H1_REQUEST) {
    if (check_request_head(p, major, minor) != 0) return LG_HPE_USER;
  } else {
    status = api.get_status_code(llhttp);
    /* llhttp takes any three digits; below 100 there is no status: client-connection.ts. */
    if (status < 100) return fail(p, LG_H1_E_FRAMING, "response status below 100", 0);
    /* The engine never asks an upstream to switch protocols (upgrade requests go upstream on JS
     * connections: src/upstream/cluster.ts), so a 101 is one nobody asked for: client-connection.ts. */
    if (status == 101) return fail(p, LG_H1_E_FRAMING, "101 to a request that asked for no upgrade", 0);
    p->informational = status < 200 && status != 101;
    if (!p->informational) {
      if (p->has_transfer_encoding && p->content_length >= 0)
        return fail(p, LG_H1_E_FRAMING, "response with both Transfer-Encoding and Content-Length", 0);
      if (p->content_length_unsafe) return fail(p, LG_H1_E_FRAMING, "Content-Length past 2^53-1", 0);
      /* A body framed by Transfer-Encoding must be exactly `chunked`, and llhttp must read it so
       * (it takes `chunked<TAB>` for another coding, read to the close): client-connection.ts. */
      bool has_body = !(p->head_request || status == 101 || status == 204 || status == 304);
      if (has_body && p->has_transfer_encoding &&
          (transfer_encoding_status(p) != 0 || api.message_needs_eof(llhttp) != 0))
        return fail(p, LG_H1_E_FRAMING, "unsupported response transfer coding", 0);
    }
  }

  /* The checks above read spans in the parser's coordinates; the view rebases them. */
  lg_h1_head view;
  build_view(p, &view);
  view.version_major = major;
  view.version_minor = minor;
  view.keep_alive = api.should_keep_alive(llhttp) != 0;
  view.upgrade = api.get_upgrade(llhttp) != 0;
  view.chunked = p->has_transfer_encoding;
  view.content_length = p->content_length;
  view.status = (uint16_t)status;
  view.informational = p->informational;
  if (p->type == LG_H1_REQUEST) view.method_id = api.get_method(llhttp);
  int answer = p->callbacks->on_head != NULL ? p->callbacks->on_head(p->owner, &view) : LG_H1_CONTINUE;
  if (p->type == LG_H1_REQUEST && answer != LG_H1_CONTINUE) answer = LG_H1_ABORT;
  /* A 1xx has no content whatever its framing fields say (client-connection.ts). */
  if (p->informational && answer != LG_H1_ABORT) answer = LG_H1_SKIP_BODY;
  collector_reset(p);
  p->phase = PHASE_BODY;
  if (answer == LG_H1_SKIP_BODY || answer == LG_H1_SKIP_BODY_UPGRADE) return answer;
  return owner_answer(p, answer, false);
}

static int cb_body(lg_llhttp *llhttp, const char *at, size_t len) {
  lg_h1_parser *p = parser_of(llhttp);
  if (p->type == LG_H1_REQUEST) {
    p->body_bytes += len;
    uint64_t max_body = p->limits->max_body_bytes;
    if (max_body > 0 && p->body_bytes > max_body) return reject(p, 413, "request body too large");
  }
  if (p->callbacks->on_body == NULL) return 0;
  return owner_answer(p, p->callbacks->on_body(p->owner, (const uint8_t *)at, len), false);
}

static int cb_message_complete(lg_llhttp *llhttp) {
  lg_h1_parser *p = parser_of(llhttp);
  int ret = p->header_state == HEADER_VALUE ? emit_field(p) : 0;
  p->header_state = HEADER_NONE;
  if (ret != 0) return ret;
  bool informational = p->informational;
  if (p->phase == PHASE_TRAILERS && p->header_count > 0 && p->callbacks->on_trailers != NULL) {
    lg_h1_head view;
    build_view(p, &view);
    ret = owner_answer(p, p->callbacks->on_trailers(p->owner, &view), false);
  }
  collector_reset(p);
  p->phase = PHASE_IDLE;
  if (ret != 0 || informational) return ret;
  if (p->callbacks->on_message_complete == NULL) return LG_HPE_PAUSED;
  return owner_answer(p, p->callbacks->on_message_complete(p->owner), true);
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */
/* ------------------------------------------------------------------------ */

const char *lg_h1_unavailable_reason(void) {
  pthread_mutex_lock(&runtime_lock);
  const char *reason = runtime_failure;
  pthread_mutex_unlock(&runtime_lock);
  return reason;
}

/* Accepts llhttp 9.x from 9.3 on: the settings layout above is 9.3's. */
static bool supported_version(const char *version) {
  unsigned major = 0, minor = 0;
  if (version == NULL || sscanf(version, "%u.%u", &major, &minor) != 2) return false;
  return major == 9 && minor >= 3;
}

static const char *runtime_setup(const char *llhttp_version) {
  if (!supported_version(llhttp_version)) {
    snprintf(runtime_failure_text, sizeof runtime_failure_text,
             "llhttp %s is not supported (the native HTTP/1 parser needs llhttp 9.x >= 9.3)",
             llhttp_version != NULL ? llhttp_version : "(unknown)");
    return runtime_failure_text;
  }
  const char *missing = lg_llhttp_resolve(&api);
  if (missing != NULL) {
    snprintf(runtime_failure_text, sizeof runtime_failure_text,
             "this node binary does not export %s", missing);
    return runtime_failure_text;
  }
  if (pthread_key_create(&scratch_key, free_scratch) != 0) return "pthread_key_create failed";
  fill_lower_table();
  api.settings_init(&settings);
  settings.on_message_begin = cb_message_begin;
  settings.on_method = cb_method;
  settings.on_url = cb_url;
  settings.on_status = cb_status;
  settings.on_header_field = cb_header_field;
  settings.on_header_value = cb_header_value;
  settings.on_headers_complete = cb_headers_complete;
  settings.on_body = cb_body;
  settings.on_message_complete = cb_message_complete;
  in_selftest = true;
  const char *failure = lg_h1_selftest(&api, runtime_failure_text, sizeof runtime_failure_text);
  in_selftest = false;
  return failure;
}

const char *lg_h1_runtime_init(const char *llhttp_version) {
  pthread_mutex_lock(&runtime_lock);
  if (!runtime_ran) {
    runtime_ran = true;
    runtime_failure = runtime_setup(llhttp_version);
    if (runtime_failure == NULL) __atomic_store_n(&runtime_usable, true, __ATOMIC_RELEASE);
  }
  const char *reason = runtime_failure;
  pthread_mutex_unlock(&runtime_lock);
  return reason;
}

bool lg_h1_init(lg_h1_parser *p, lg_h1_type type, const lg_h1_limits *limits,
                const lg_h1_callbacks *callbacks, void *owner) {
  memset(p, 0, sizeof *p);
  if (!__atomic_load_n(&runtime_usable, __ATOMIC_ACQUIRE) && !in_selftest) return false;
  p->type = (uint8_t)type;
  p->limits = limits;
  p->callbacks = callbacks;
  p->owner = owner;
  p->content_length = -1;
  api.init(&p->llhttp, type == LG_H1_REQUEST ? LG_LLHTTP_REQUEST : LG_LLHTTP_RESPONSE, &settings);
  return true;
}

/* Where llhttp stopped, as an offset into `data` (0 if it stopped in an earlier buffer). */
static size_t stop_offset(lg_h1_parser *p, const uint8_t *data, size_t len) {
  uintptr_t pos = (uintptr_t)api.get_error_pos(&p->llhttp);
  uintptr_t start = (uintptr_t)data;
  return pos >= start && pos <= start + len ? (size_t)(pos - start) : 0;
}

lg_h1_result lg_h1_execute(lg_h1_parser *p, uint8_t *data, size_t len, size_t *consumed) {
  struct lg_h1_scratch *scratch = &thread_scratch;
  *consumed = 0;
  if (scratch->active != NULL) {
    fail(p, LG_H1_E_REENTERED, "lg_h1_execute called from a parser callback", 0);
    return LG_H1_ERROR;
  }
  if (p->error_code != 0) return LG_H1_ERROR;
  if (len > INT32_MAX) {
    fail(p, LG_H1_E_NO_MEMORY, "read larger than 2 GiB", 400);
    return LG_H1_ERROR;
  }
  if (data == NULL) data = (uint8_t *)empty_input;
  scratch->active = p;
  p->scratch = scratch;
  p->data = data;
  int err = api.execute(&p->llhttp, (const char *)data, len);
  lg_h1_result result;
  if (err == LG_HPE_OK) {
    result = LG_H1_OK;
    *consumed = len;
  } else {
    *consumed = stop_offset(p, data, len);
    result = err == LG_HPE_PAUSED           ? LG_H1_PAUSED
             : err == LG_HPE_PAUSED_UPGRADE ? LG_H1_PAUSED_UPGRADE
                                            : LG_H1_ERROR;
  }
  if (result == LG_H1_ERROR) {
    if (p->error_code == 0) {
      p->error_code = err;
      p->error_reason = api.get_error_reason(&p->llhttp);
    }
    stash_free(p);
  } else if ((p->phase == PHASE_HEAD || p->phase == PHASE_TRAILERS) && p->stash == NULL &&
             p->spans_recorded && !stash_open(p)) {
    fail(p, LG_H1_E_NO_MEMORY, "out of memory", 400);
    result = LG_H1_ERROR;
  }
  p->data = NULL;
  p->scratch = NULL;
  scratch->active = NULL;
  return result;
}

void lg_h1_resume(lg_h1_parser *p) { api.resume(&p->llhttp); }

void lg_h1_resume_after_upgrade(lg_h1_parser *p) { api.resume_after_upgrade(&p->llhttp); }

lg_h1_result lg_h1_finish(lg_h1_parser *p) {
  struct lg_h1_scratch *scratch = &thread_scratch;
  if (scratch->active != NULL) {
    fail(p, LG_H1_E_REENTERED, "lg_h1_finish called from a parser callback", 0);
    return LG_H1_ERROR;
  }
  if (p->error_code != 0) return LG_H1_ERROR;
  scratch->active = p;
  p->scratch = scratch;
  int err = api.finish(&p->llhttp);
  p->scratch = NULL;
  scratch->active = NULL;
  if (err == LG_HPE_OK) return LG_H1_OK;
  if (err == LG_HPE_PAUSED) return LG_H1_PAUSED;
  if (p->error_code == 0) {
    p->error_code = err;
    p->error_reason = api.get_error_reason(&p->llhttp);
  }
  stash_free(p);
  return LG_H1_ERROR;
}

void lg_h1_release(lg_h1_parser *p) { stash_free(p); }

int lg_h1_reject_status(const lg_h1_parser *p) {
  if (p->type != LG_H1_REQUEST) return 0;
  switch (p->error_code) {
    case LG_H1_E_REJECTED:
    case LG_H1_E_HEAD_TOO_LARGE:
    case LG_H1_E_FRAMING:
    case LG_H1_E_NO_MEMORY:
    case LG_H1_E_ABORTED:
    case LG_H1_E_REENTERED:
    case LG_H1_E_INTERNAL:
      return p->reject_status;
    case LG_HPE_INVALID_VERSION: {
      lg_llhttp *llhttp = (lg_llhttp *)&p->llhttp;
      return api.get_http_major(llhttp) != 1 || api.get_http_minor(llhttp) > 1 ? 505 : 400;
    }
    default:
      return 400;
  }
}

const lg_llhttp_api *lg_h1_llhttp(void) { return &api; }

long lg_h1_live_stashes(void) { return __atomic_load_n(&live_stashes, __ATOMIC_RELAXED); }

int lg_h1_error_code(const lg_h1_parser *p) { return p->error_code; }

const char *lg_h1_error_reason(const lg_h1_parser *p) {
  return p->error_reason != NULL ? p->error_reason : "";
}

void lg_h1_expect_response_to_head(lg_h1_parser *p, bool head_request) { p->head_request = head_request; }

int lg_h1_response_body(const lg_h1_head *head, bool head_request) {
  if (head->status == 101) return LG_H1_SKIP_BODY_UPGRADE;
  if (head_request || head->status == 204 || head->status == 304) return LG_H1_SKIP_BODY;
  return LG_H1_CONTINUE;
}
