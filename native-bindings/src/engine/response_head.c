/*
 * A proxied response's head composed here from the upstream's head, while the event that carried
 * it is being handled (its fields are live in the exchange), instead of JS building a HeaderMap of
 * it, editing it and writing it back (src/engine/engine-server-connection.ts writeProxiedHeadFrom).
 *
 * JS asks for it only when nothing but these edits applies to the response (no HTTP filter but the
 * router, no route header mutations, no access log reading response fields, no retry on status);
 * the bytes are those JS would write, edit for edit:
 *   - the router: hop-by-hop fields dropped (src/http/hop-by-hop.ts), x-envoy-upstream-service-time
 *     set (HeaderMap.set: the first such field replaced in place, the others dropped; else added);
 *   - the connection manager (finalizeResponseHeaders): `server` per server_header_transformation,
 *     `date` added when absent;
 *   - the codec (src/http/h1-heads.ts writeResponseHead): the status line, the framing fields
 *     replaced by the engine's own framing decision and `connection`.
 * test/engine/proxied-head.test.ts compares the two byte for byte over generated heads.
 */
#include "engine.h"
#include "digits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The plan of one connection manager (engineResponsePlan). */
typedef struct lg_response_plan {
  lg_server_header server_mode;
  char *server_name;
  size_t server_name_len;
} lg_response_plan;

static int32_t *control32(lg_engine *e) { return (int32_t *)e->control; }
static double *control64(lg_engine *e) { return (double *)e->control; }

int32_t lg_response_plan_add(lg_engine *e, lg_server_header mode, const char *name, size_t len) {
  lg_response_plan *grown = realloc(e->plans, (e->plan_count + 1) * sizeof *grown);
  if (grown == NULL) return -1;
  e->plans = grown;
  lg_response_plan *p = &e->plans[e->plan_count];
  p->server_name = malloc(len > 0 ? len : 1);
  if (p->server_name == NULL) return -1;
  memcpy(p->server_name, name, len);
  p->server_name_len = len;
  p->server_mode = mode;
  return (int32_t)e->plan_count++;
}

bool lg_status_line_set(lg_engine *e, uint32_t status, const char *line, size_t len) {
  if (status >= LG_STATUS_LINES) return false;
  char *copy = malloc(len);
  if (copy == NULL) return false;
  memcpy(copy, line, len);
  free(e->status_lines[status]);
  e->status_lines[status] = copy;
  e->status_line_len[status] = len;
  return true;
}

void lg_response_plans_free(lg_engine *e) {
  for (uint32_t i = 0; i < e->plan_count; i++) free(e->plans[i].server_name);
  free(e->plans);
  for (uint32_t s = 0; s < LG_STATUS_LINES; s++) free(e->status_lines[s]);
}

/* ---- output: a growable buffer in the engine, written to the connection in one piece */

typedef struct {
  lg_engine *e;
  size_t len;
  bool failed;
} head_out;

static void put(head_out *o, const void *bytes, size_t len) {
  if (o->failed) return;
  lg_engine *e = o->e;
  if (o->len + len > e->composed_size) {
    size_t size = e->composed_size > 0 ? e->composed_size : 1024;
    while (size < o->len + len) size *= 2;
    uint8_t *grown = realloc(e->composed, size);
    if (grown == NULL) {
      o->failed = true;
      return;
    }
    e->composed = grown;
    e->composed_size = size;
  }
  memcpy(e->composed + o->len, bytes, len);
  o->len += len;
}

static void put_text(head_out *o, const char *text) { put(o, text, strlen(text)); }

static void put_decimal(head_out *o, int64_t n) {
  char digits[20];
  put(o, digits, lg_decimal(digits, n));
}

/* ---- the live head's fields */

typedef struct {
  const uint8_t *name, *value;
  size_t name_len, value_len;
} field;

static field live_field(lg_engine *e, uint32_t index) {
  const int32_t *span = (const int32_t *)e->data + 4 * index;
  const uint8_t *bytes = e->data + control32(e)[LG_X_BYTES_OFF];
  return (field){bytes + span[0], bytes + span[2], (size_t)span[1], (size_t)span[3]};
}

/* Whether field `f` is called `lower` (a lower-case name), as HeaderMap's lower-cased names compare. */
static bool named(const field *f, const char *lower, size_t len) {
  return f->name_len == len && strncasecmp((const char *)f->name, lower, len) == 0;
}
#define NAMED(f, literal) named(f, literal, sizeof literal - 1)

/* Fields the response never carries on: hop-by-hop ones and those the framing decision replaces. */
static bool dropped(const field *f) {
  switch (f->name_len) {
    case 7:
      return NAMED(f, "upgrade");
    case 10:
      return NAMED(f, "connection") || NAMED(f, "keep-alive");
    case 14:
      return NAMED(f, "content-length");
    case 16:
      return NAMED(f, "proxy-connection");
    case 17:
      return NAMED(f, "transfer-encoding");
    default:
      return false;
  }
}

/* RFC 9110 tchar, and a value's byte as h1-serialize.ts's isValueChar. */
static bool is_token_byte(uint8_t c) {
  static const char others[] = "!#$%&'*+-.^_`|~";
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return c != 0 && memchr(others, c, sizeof others - 1) != NULL;
}
static bool is_value_byte(uint8_t c) { return (c >= 0x20 || c == 0x09) && c != 0x7f; }

static bool valid_value(const uint8_t *v, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (!is_value_byte(v[i])) return false;
  return true;
}

/* The field's line as it came (a field with an invalid byte is left out, as HeadWriter does). */
static void put_live_field(head_out *o, const field *f) {
  if (f->name_len == 0) return;
  for (size_t i = 0; i < f->name_len; i++)
    if (!is_token_byte(f->name[i])) return;
  if (!valid_value(f->value, f->value_len)) return;
  put(o, f->name, f->name_len);
  put(o, ": ", 2);
  put(o, f->value, f->value_len);
  put(o, "\r\n", 2);
}

/* ---- the Date field: IMF-fixdate, as JS's Date.toUTCString(), remade once a second */

static void put_date(head_out *o, lg_engine *e) {
  static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  struct timespec now;
  clock_gettime(CLOCK_REALTIME_COARSE, &now);
  if (now.tv_sec != e->date_second) {
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    snprintf(e->date, sizeof e->date, "date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n", days[tm.tm_wday],
             tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    e->date_second = now.tv_sec;
  }
  put_text(o, e->date);
}

/* ---- the head */

static void put_status_line(head_out *o, lg_engine *e, uint32_t status) {
  int32_t reason_off = control32(e)[LG_X_REASON_OFF], reason_len = control32(e)[LG_X_REASON_LEN];
  const uint8_t *reason = e->data + control32(e)[LG_X_BYTES_OFF] + reason_off;
  if (reason_len > 0 && valid_value(reason, (size_t)reason_len)) {
    put_text(o, "HTTP/1.1 ");
    put_decimal(o, status);
    put(o, " ", 1);
    put(o, reason, (size_t)reason_len);
    put(o, "\r\n", 2);
  } else if (status < LG_STATUS_LINES && e->status_lines[status] != NULL) {
    put(o, e->status_lines[status], e->status_line_len[status]);
  } else {
    put_text(o, "HTTP/1.1 ");
    put_decimal(o, status);
    put_text(o, " Unknown\r\n");
  }
}

int lg_compose_proxied_response(lg_engine *e, int32_t plan_id, int64_t service_ms, uint32_t flags,
                                bool head_request, const char **out, size_t *out_len) {
  if (plan_id < 0 || (uint32_t)plan_id >= e->plan_count || !e->live_response_head) return -1;
  const lg_response_plan *plan = &e->plans[plan_id];
  uint32_t status = (uint32_t)control32(e)[LG_X_METHOD_OR_STATUS];
  bool chunked = (control32(e)[LG_X_FLAGS] & 4) != 0;
  double parsed_length = control64(e)[LG_XF_CONTENT_LENGTH];
  int64_t length = !chunked && parsed_length >= 0 ? (int64_t)parsed_length : -1;
  bool end_stream = (flags & LG_PROXIED_END_STREAM) != 0;
  bool http11 = (flags & LG_PROXIED_HTTP11) != 0;
  head_out o = {e, 0, false};

  put_status_line(&o, e, status);
  bool service_time = service_ms >= 0, service_time_put = false;
  bool server_seen = false, server_put = false, date_seen = false;
  for (uint32_t i = 0; i < e->live_head_fields; i++) {
    field f = live_field(e, i);
    if (dropped(&f)) continue;
    if (service_time && NAMED(&f, "x-envoy-upstream-service-time")) {
      if (!service_time_put) {
        put_text(&o, "x-envoy-upstream-service-time: ");
        put_decimal(&o, service_ms);
        put(&o, "\r\n", 2);
        service_time_put = true;
      }
      continue;
    }
    if (NAMED(&f, "server")) {
      server_seen = true;
      if (plan->server_mode == LG_SERVER_OVERWRITE) {
        if (!server_put) {
          put_text(&o, "server: ");
          put(&o, plan->server_name, plan->server_name_len);
          put(&o, "\r\n", 2);
          server_put = true;
        }
        continue;
      }
    } else if (NAMED(&f, "date")) {
      date_seen = true;
    }
    put_live_field(&o, &f);
  }
  if (service_time && !service_time_put) {
    put_text(&o, "x-envoy-upstream-service-time: ");
    put_decimal(&o, service_ms);
    put(&o, "\r\n", 2);
  }
  if (plan->server_mode != LG_SERVER_PASS_THROUGH && !server_seen) {
    put_text(&o, "server: ");
    put(&o, plan->server_name, plan->server_name_len);
    put(&o, "\r\n", 2);
  }
  if (!date_seen) put_date(&o, e);

  /* writeResponseHead's framing, with the router's content length (0 when the head ended it). */
  bool no_body = head_request || status == 204 || status == 304;
  bool close = (flags & LG_PROXIED_KEEP_ALIVE) == 0 || (flags & LG_PROXIED_DRAINING) != 0;
  lg_framing framing = LG_FRAMING_NONE;
  if (no_body) {
    if (head_request && length >= 0) {
      put_text(&o, "content-length: ");
      put_decimal(&o, length);
      put(&o, "\r\n", 2);
    }
  } else if (length >= 0 || end_stream) {
    framing = LG_FRAMING_CONTENT_LENGTH;
    put_text(&o, "content-length: ");
    put_decimal(&o, end_stream ? 0 : length);
    put(&o, "\r\n", 2);
  } else if (http11) {
    framing = LG_FRAMING_CHUNKED;
    put_text(&o, "transfer-encoding: chunked\r\n");
  } else {
    framing = LG_FRAMING_CLOSE_DELIMITED;
    close = true;
  }
  if (close) put_text(&o, "connection: close\r\n");
  else if (!http11) put_text(&o, "connection: keep-alive\r\n");
  put(&o, "\r\n", 2);
  if (o.failed) return -1;
  *out = (const char *)e->composed;
  *out_len = o.len;
  return (int)framing | (close ? LG_PROXIED_CLOSES : 0);
}
