/*
 * PROVISIONAL h1 parser (see h1_parser.h): heads collected as spans over the bytes they arrived
 * in, a stash only for heads that span reads, and the request checks of server-connection.ts.
 */
#define _GNU_SOURCE
#include "h1_parser.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

llhttp_api lg_llhttp;

#define RESOLVE(field, name)                                  \
  do {                                                        \
    *(void **)&lg_llhttp.field = dlsym(RTLD_DEFAULT, name);   \
    if (lg_llhttp.field == NULL) return name;                 \
  } while (0)

const char *lg_llhttp_resolve(void) {
  RESOLVE(init, "llhttp_init");
  RESOLVE(settings_init, "llhttp_settings_init");
  RESOLVE(execute, "llhttp_execute");
  RESOLVE(finish, "llhttp_finish");
  RESOLVE(resume, "llhttp_resume");
  RESOLVE(resume_after_upgrade, "llhttp_resume_after_upgrade");
  RESOLVE(reset, "llhttp_reset");
  RESOLVE(get_error_pos, "llhttp_get_error_pos");
  RESOLVE(get_error_reason, "llhttp_get_error_reason");
  RESOLVE(get_http_major, "llhttp_get_http_major");
  RESOLVE(get_http_minor, "llhttp_get_http_minor");
  RESOLVE(get_method, "llhttp_get_method");
  RESOLVE(get_status_code, "llhttp_get_status_code");
  RESOLVE(get_upgrade, "llhttp_get_upgrade");
  RESOLVE(should_keep_alive, "llhttp_should_keep_alive");
  RESOLVE(method_name, "llhttp_method_name");
  return NULL;
}

enum { ST_IDLE = 0, ST_FIELD = 1, ST_VALUE = 2 };
#define OWN_HEAD_TOO_LARGE 1000

static llhttp_settings_t settings;
static int resolved = -1;

static lg_h1_parser *P(llhttp_t *ll) { return (lg_h1_parser *)ll; }

/* Offset of `at` relative to the head's base. */
static uint32_t rel(lg_h1_parser *p, const char *at) {
  if (p->head_stashed) return p->stash_len - p->stash_chunk_copied + (uint32_t)(at - p->chunk);
  if (p->msg_start == NULL) p->msg_start = at;
  return (uint32_t)(at - p->msg_start);
}

static int grow(char **buf, uint32_t *cap, uint32_t need) {
  if (need <= *cap) return 0;
  uint32_t n = *cap ? *cap : 256;
  while (n < need) n *= 2;
  char *b = realloc(*buf, n);
  if (!b) return -1;
  *buf = b;
  *cap = n;
  return 0;
}

/* Makes the stash hold the head's bytes up to relative offset `upto` (from the current chunk). */
static int stash_upto(lg_h1_parser *p, uint32_t upto) {
  if (!p->head_stashed) {
    if (p->msg_start == NULL) return 0;
    uint32_t have = (uint32_t)((p->chunk + p->chunk_len) - p->msg_start);
    if (upto > have) upto = have;
    if (grow(&p->stash, &p->stash_cap, upto) != 0) return -1;
    memcpy(p->stash, p->msg_start, upto);
    p->stash_len = upto;
    p->stash_chunk_copied = (uint32_t)(p->msg_start - p->chunk) + upto;
    p->head_stashed = true;
    return 0;
  }
  uint32_t base_of_chunk = p->stash_len - p->stash_chunk_copied;
  if (upto <= p->stash_len) return 0;
  uint32_t end_in_chunk = upto - base_of_chunk;
  if (end_in_chunk > p->chunk_len) end_in_chunk = (uint32_t)p->chunk_len;
  uint32_t add = end_in_chunk - p->stash_chunk_copied;
  if (grow(&p->stash, &p->stash_cap, p->stash_len + add) != 0) return -1;
  memcpy(p->stash + p->stash_len, p->chunk + p->stash_chunk_copied, add);
  p->stash_len += add;
  p->stash_chunk_copied += add;
  return 0;
}

static const char *span_ptr(lg_h1_parser *p, lg_span s) {
  if (p->head_stashed) {
    stash_upto(p, s.off + s.len);
    return p->stash + s.off;
  }
  return p->msg_start + s.off;
}

static int count_head(lg_h1_parser *p, size_t len) {
  p->head_bytes += (uint32_t)len;
  if (p->head_bytes > p->limits->max_head_bytes) {
    p->own_error = OWN_HEAD_TOO_LARGE;
    return HPE_USER;
  }
  return 0;
}

static void start_head(lg_h1_parser *p) {
  p->msg_start = NULL;
  p->head_stashed = false;
  p->stash_len = 0;
  p->stash_chunk_copied = 0;
  p->span_count = 0;
  p->state = ST_IDLE;
}

static int reject(lg_h1_parser *p, uint16_t status) {
  p->reject_status = status;
  return HPE_USER;
}

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

static void parse_content_length(lg_h1_parser *p, const char *v, uint32_t len) {
  int64_t cl = 0;
  for (uint32_t i = 0; i < len; i++) cl = cl * 10 + (v[i] - '0');
  p->content_length = cl;
}

/* A header (or trailer) field is complete: the checks of server-connection.ts onHeader. */
static int emit_field(lg_h1_parser *p) {
  lg_span *name = &p->spans[p->span_count * 2];
  lg_span *value = name + 1;
  const char *v = span_ptr(p, *value);
  while (value->len > 0 && is_ows(v[value->len - 1])) value->len--;
  char *n = (char *)span_ptr(p, *name);
  for (uint32_t i = 0; i < name->len; i++)
    if (n[i] >= 'A' && n[i] <= 'Z') n[i] = (char)(n[i] + 32);
  bool is_cl = name->len == 14 && memcmp(n, "content-length", 14) == 0;
  bool is_te = name->len == 17 && memcmp(n, "transfer-encoding", 17) == 0;
  if (p->in_trailers || p->type == LG_H1_RESPONSE) {
    if (!p->in_trailers) {
      if (is_cl) parse_content_length(p, v, value->len);
      else if (is_te) p->chunked = true;
    }
    p->span_count++;
    return 0;
  }
  if (++p->header_total > p->limits->max_headers) return reject(p, 431);
  if (p->limits->underscores != LG_UNDERSCORES_ALLOW && memchr(n, '_', name->len) != NULL) {
    if (p->limits->underscores == LG_UNDERSCORES_REJECT) return reject(p, 400);
    return 0; /* dropped: the next field reuses its slot */
  }
  if (is_cl) {
    parse_content_length(p, v, value->len);
  } else if (is_te) {
    uint32_t need = p->te_len + (p->te_len ? 1 : 0) + value->len;
    if (grow(&p->te, &p->te_cap, need + 1) != 0) return reject(p, 400);
    if (p->te_len) p->te[p->te_len++] = ',';
    memcpy(p->te + p->te_len, v, value->len);
    p->te_len += value->len;
  }
  p->span_count++;
  return 0;
}

static int add_span(lg_h1_parser *p, int which, const char *at, size_t len) {
  if (count_head(p, len) != 0) return HPE_USER;
  uint32_t off = rel(p, at);
  if (which == ST_FIELD && p->state == ST_VALUE) {
    int r = emit_field(p);
    if (r != 0) return r;
  }
  if (p->state != which) {
    if (which == ST_FIELD) {
      if ((p->span_count + 1) * 2 > p->span_cap) {
        uint32_t n = p->span_cap ? p->span_cap * 2 : 64;
        lg_span *s = realloc(p->spans, n * sizeof *s);
        if (!s) return HPE_USER;
        p->spans = s;
        p->span_cap = n;
      }
      p->spans[p->span_count * 2] = (lg_span){off, (uint32_t)len};
      p->spans[p->span_count * 2 + 1] = (lg_span){off, 0};
    } else {
      p->spans[p->span_count * 2 + 1] = (lg_span){off, (uint32_t)len};
    }
    p->state = (uint8_t)which;
    return 0;
  }
  p->spans[p->span_count * 2 + (which == ST_VALUE)].len += (uint32_t)len;
  return 0;
}

/* ---- llhttp callbacks */

static int on_message_begin(llhttp_t *ll) {
  lg_h1_parser *p = P(ll);
  start_head(p);
  p->in_trailers = false;
  p->head_bytes = 0;
  p->header_total = 0;
  p->url = (lg_span){0, 0};
  p->reason = (lg_span){0, 0};
  p->content_length = -1;
  p->chunked = false;
  p->te_len = 0;
  p->body_bytes = 0;
  p->informational = false;
  return p->cb->on_message_begin ? p->cb->on_message_begin(p->owner) : 0;
}

static int on_mark(llhttp_t *ll, const char *at, size_t len) {
  (void)len;
  lg_h1_parser *p = P(ll);
  if (p->msg_start == NULL && !p->head_stashed) p->msg_start = at;
  return 0;
}

static int on_url(llhttp_t *ll, const char *at, size_t len) {
  lg_h1_parser *p = P(ll);
  if (count_head(p, len) != 0) return HPE_USER;
  uint32_t off = rel(p, at);
  if (p->url.len == 0) p->url.off = off;
  p->url.len += (uint32_t)len;
  return 0;
}

static int on_status(llhttp_t *ll, const char *at, size_t len) {
  lg_h1_parser *p = P(ll);
  if (count_head(p, len) != 0) return HPE_USER;
  uint32_t off = rel(p, at);
  if (p->reason.len == 0) p->reason.off = off;
  p->reason.len += (uint32_t)len;
  return 0;
}

static int on_header_field(llhttp_t *ll, const char *at, size_t len) {
  lg_h1_parser *p = P(ll);
  if (p->in_trailers && p->msg_start == NULL && !p->head_stashed) p->msg_start = at;
  return add_span(p, ST_FIELD, at, len);
}

static int on_header_value(llhttp_t *ll, const char *at, size_t len) {
  return add_span(P(ll), ST_VALUE, at, len);
}

static int finish_fields(lg_h1_parser *p) {
  if (p->state == ST_VALUE) {
    int r = emit_field(p);
    if (r != 0) return r;
  }
  p->state = ST_IDLE;
  return 0;
}

static void fill_head(lg_h1_parser *p, lg_h1_head *h) {
  uint32_t end = 0;
  for (uint32_t i = 0; i < p->span_count * 2; i++) {
    uint32_t e = p->spans[i].off + p->spans[i].len;
    if (e > end) end = e;
  }
  if (p->url.off + p->url.len > end) end = p->url.off + p->url.len;
  if (p->reason.off + p->reason.len > end) end = p->reason.off + p->reason.len;
  if (p->head_stashed) stash_upto(p, end);
  memset(h, 0, sizeof *h);
  h->base = p->head_stashed ? p->stash : p->msg_start;
  h->size = end;
  h->header_count = p->span_count;
  h->fields = p->spans;
}

static int on_headers_complete(llhttp_t *ll) {
  lg_h1_parser *p = P(ll);
  int r = finish_fields(p);
  if (r != 0) return r;
  uint8_t major = lg_llhttp.get_http_major(ll), minor = lg_llhttp.get_http_minor(ll);
  lg_h1_head h;
  fill_head(p, &h);
  h.version_major = major;
  h.version_minor = minor;
  h.keep_alive = lg_llhttp.should_keep_alive(ll) != 0;
  h.upgrade = lg_llhttp.get_upgrade(ll) != 0;
  h.url = p->url;
  h.reason = p->reason;
  h.content_length = p->content_length;
  if (p->type == LG_H1_REQUEST) {
    if (major != 1 || minor > 1) return reject(p, 505);
    if (minor == 0 && !p->limits->accept_http10) return reject(p, 426);
    bool chunked = p->te_len > 0;
    if (chunked) {
      if (minor == 0 || p->content_length >= 0) return reject(p, 400);
      /* transferEncodingStatus: exactly "chunked"; empty or repeated items 400; others 501 */
      int items = 0;
      bool only_chunked = true;
      const char *s = p->te, *end = p->te + p->te_len;
      while (s <= end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *e = comma ? comma : end;
        const char *a = s, *b = e;
        while (a < b && is_ows(*a)) a++;
        while (b > a && is_ows(b[-1])) b--;
        if (a == b) return reject(p, 400);
        /* repeated item */
        for (const char *q = p->te; q < s;) {
          const char *qc = memchr(q, ',', (size_t)(s - q));
          const char *qe = qc ? qc : s;
          const char *qa = q, *qb = qe;
          while (qa < qb && is_ows(*qa)) qa++;
          while (qb > qa && is_ows(qb[-1])) qb--;
          if (qb - qa == b - a && strncasecmp(qa, a, (size_t)(b - a)) == 0) return reject(p, 400);
          q = qe + 1;
        }
        if (!(b - a == 7 && strncasecmp(a, "chunked", 7) == 0)) only_chunked = false;
        items++;
        s = e + 1;
      }
      if (!(items == 1 && only_chunked)) return reject(p, 501);
    }
    if (p->limits->max_body_bytes > 0 && p->content_length > 0 &&
        (uint64_t)p->content_length > p->limits->max_body_bytes)
      return reject(p, 413);
    h.method = lg_llhttp.get_method(ll);
    h.chunked = chunked;
    p->chunked = chunked;
  } else {
    h.status = (uint16_t)lg_llhttp.get_status_code(ll);
    h.chunked = p->chunked;
    if (h.status < 200 && h.status != 101) {
      p->informational = true;
      int ir = p->cb->on_informational ? p->cb->on_informational(p->owner, &h) : 0;
      start_head(p);
      p->in_trailers = true;
      return ir < 0 ? HPE_USER : 0;
    }
    if (p->chunked && p->content_length >= 0) return HPE_USER;
  }
  int ret = p->cb->on_head(p->owner, &h);
  start_head(p);
  p->in_trailers = true;
  return ret < 0 ? HPE_USER : ret;
}

static int on_body(llhttp_t *ll, const char *at, size_t len) {
  lg_h1_parser *p = P(ll);
  p->body_bytes += len;
  if (p->type == LG_H1_REQUEST && p->limits->max_body_bytes > 0 &&
      p->body_bytes > p->limits->max_body_bytes)
    return reject(p, 413);
  int r = p->cb->on_body(p->owner, at, len);
  return r < 0 ? HPE_USER : 0;
}

static int on_message_complete(llhttp_t *ll) {
  lg_h1_parser *p = P(ll);
  if (p->informational) {
    p->informational = false;
    return 0;
  }
  int r = finish_fields(p);
  if (r != 0) return r;
  if (p->span_count > 0 && p->cb->on_trailers) {
    lg_h1_head h;
    fill_head(p, &h);
    h.content_length = -1;
    r = p->cb->on_trailers(p->owner, &h);
    if (r < 0) return HPE_USER;
  }
  start_head(p);
  r = p->cb->on_message_complete(p->owner);
  return r < 0 ? HPE_USER : r;
}

int lg_h1_available(void) {
  if (resolved < 0) {
    resolved = lg_llhttp_resolve() == NULL;
    if (resolved) {
      lg_llhttp.settings_init(&settings);
      settings.on_message_begin = on_message_begin;
      settings.on_method = on_mark;
      settings.on_protocol = on_mark;
      settings.on_url = on_url;
      settings.on_status = on_status;
      settings.on_header_field = on_header_field;
      settings.on_header_value = on_header_value;
      settings.on_headers_complete = on_headers_complete;
      settings.on_body = on_body;
      settings.on_message_complete = on_message_complete;
    }
  }
  return resolved;
}

int lg_h1_init(lg_h1_parser *p, lg_h1_type type, const lg_h1_limits *limits,
               const lg_h1_callbacks *cb, void *owner) {
  if (!lg_h1_available()) return -1;
  memset(p, 0, sizeof *p);
  p->type = type;
  p->limits = limits;
  p->cb = cb;
  p->owner = owner;
  p->content_length = -1;
  lg_llhttp.init(&p->ll, type == LG_H1_REQUEST ? HTTP_REQUEST : HTTP_RESPONSE, &settings);
  return 0;
}

static lg_h1_result map(lg_h1_parser *p, int ret, const char *data, size_t len, size_t *consumed) {
  if (ret == HPE_OK) {
    if (consumed) *consumed = len;
    /* A head still arriving: keep its bytes (the caller reuses `data`). */
    if (p->msg_start != NULL || p->head_stashed) {
      uint32_t upto = p->head_stashed ? p->stash_len - p->stash_chunk_copied + (uint32_t)len
                                      : (uint32_t)((data + len) - p->msg_start);
      stash_upto(p, upto);
    }
    return LG_H1_OK;
  }
  if (consumed) *consumed = (size_t)(lg_llhttp.get_error_pos(&p->ll) - data);
  if (ret == HPE_PAUSED) return LG_H1_PAUSED;
  if (ret == HPE_PAUSED_UPGRADE) return LG_H1_PAUSED_UPGRADE;
  if (p->reject_status == 0 && p->type == LG_H1_REQUEST) {
    uint8_t major = lg_llhttp.get_http_major(&p->ll), minor = lg_llhttp.get_http_minor(&p->ll);
    if (p->own_error == OWN_HEAD_TOO_LARGE) p->reject_status = 431;
    else if (ret == HPE_INVALID_VERSION && (major != 1 || minor > 1)) p->reject_status = 505;
    else p->reject_status = 400;
  }
  return LG_H1_ERROR;
}

lg_h1_result lg_h1_execute(lg_h1_parser *p, const char *data, size_t len, size_t *consumed) {
  p->chunk = data;
  p->chunk_len = len;
  if (p->head_stashed) p->stash_chunk_copied = 0;
  else p->msg_start = NULL;
  p->own_error = 0;
  int ret = lg_llhttp.execute(&p->ll, data, len);
  lg_h1_result r = map(p, ret, data, len, consumed);
  p->chunk = NULL;
  p->chunk_len = 0;
  return r;
}

lg_h1_result lg_h1_finish(lg_h1_parser *p) {
  int ret = lg_llhttp.finish(&p->ll);
  if (ret == HPE_OK) return LG_H1_OK;
  if (ret == HPE_PAUSED) return LG_H1_PAUSED;
  return LG_H1_ERROR;
}

void lg_h1_resume(lg_h1_parser *p) { lg_llhttp.resume(&p->ll); }
void lg_h1_resume_after_upgrade(lg_h1_parser *p) { lg_llhttp.resume_after_upgrade(&p->ll); }
uint16_t lg_h1_reject_status(const lg_h1_parser *p) { return p->reject_status; }

void lg_h1_release(lg_h1_parser *p) {
  free(p->stash);
  free(p->spans);
  free(p->te);
  p->stash = NULL;
  p->spans = NULL;
  p->te = NULL;
  p->stash_cap = p->span_cap = p->te_cap = 0;
}
