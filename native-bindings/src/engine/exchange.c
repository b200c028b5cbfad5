/*
 * The exchange: memory the engine and JS share, where the engine leaves what an event carries
 * (a head, body bytes, addresses) just before calling JS, so no JS object is built in C.
 * src/engine/exchange.ts reads it; the two files define the layout together.
 *
 *   control (fixed, LG_CONTROL_BYTES): Int32 fields LG_X_* and Float64 fields LG_XF_*.
 *   data (grows): a head's spans at offset 0 (Int32 nameOff, nameLen, valueOff, valueLen per
 *     field), then its bytes at control[LG_X_BYTES_OFF]; or an event's body bytes / addresses at 0.
 *
 * The data area only grows (a head larger than any before); old areas stay allocated until the
 * engine is destroyed, because JS may still hold a view of one. JS notices by LG_X_GENERATION.
 */
#include "engine.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int32_t *control32(lg_engine *e) { return (int32_t *)e->control; }
static double *control64(lg_engine *e) { return (double *)e->control; }

/* Makes the data area at least `need` bytes. Returns false when out of memory. */
static bool reserve(lg_engine *e, size_t need) {
  if (need <= e->data_size) return true;
  size_t size = e->data_size;
  while (size < need) size *= 2;
  uint8_t *data = malloc(size);
  if (data == NULL) return false;
  /* The old area is retired, not freed: JS may hold a view of it until it sees the generation. */
  lg_retired *r = malloc(sizeof *r);
  if (r == NULL) {
    free(data);
    return false;
  }
  r->memory = e->data;
  r->next = e->retired;
  e->retired = r;
  e->data = data;
  e->data_size = size;
  control32(e)[LG_X_GENERATION]++;
  return true;
}

void lg_exchange_put_head(lg_engine *e, const lg_h1_head *h) {
  int32_t *x = control32(e);
  size_t spans = (size_t)h->header_count * 4 * sizeof(int32_t);
  if (!reserve(e, spans + h->size)) {
    x[LG_X_HEAD_BYTES] = 0;
    x[LG_X_HEADER_COUNT] = 0;
    e->live_head_fields = 0;
    e->live_response_head = false;
    return;
  }
  int32_t *out = (int32_t *)e->data;
  for (uint32_t i = 0; i < h->header_count; i++) {
    const lg_h1_span *name = &h->headers[i].name, *value = &h->headers[i].value;
    out[4 * i] = (int32_t)name->off;
    out[4 * i + 1] = (int32_t)name->len;
    out[4 * i + 2] = (int32_t)value->off;
    out[4 * i + 3] = (int32_t)value->len;
  }
  memcpy(e->data + spans, h->base, h->size);
  x[LG_X_BYTES_OFF] = (int32_t)spans;
  x[LG_X_HEAD_BYTES] = (int32_t)h->size;
  x[LG_X_HEADER_COUNT] = (int32_t)h->header_count;
  e->live_head_fields = h->header_count;
  e->live_response_head = h->status != 0;
  x[LG_X_METHOD_OR_STATUS] = h->status != 0 ? h->status : h->method_id;
  x[LG_X_VERSION_MAJOR] = h->version_major;
  x[LG_X_VERSION_MINOR] = h->version_minor;
  x[LG_X_FLAGS] = (h->keep_alive ? 1 : 0) | (h->upgrade ? 2 : 0) | (h->chunked ? 4 : 0);
  x[LG_X_URL_OFF] = (int32_t)h->url.off;
  x[LG_X_URL_LEN] = (int32_t)h->url.len;
  x[LG_X_REASON_OFF] = (int32_t)h->reason.off;
  x[LG_X_REASON_LEN] = (int32_t)h->reason.len;
  control64(e)[LG_XF_CONTENT_LENGTH] = (double)h->content_length;
}

/* RFC 9110 tchar (a field name's bytes). */
static bool is_token_byte(uint8_t c) {
  static const char others[] = "!#$%&'*+-.^_`|~";
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return c != 0 && memchr(others, c, sizeof others - 1) != NULL;
}

/* A field value's byte as src/http/h1-serialize.ts's isValueChar: HTAB, SP, VCHAR, obs-text. */
static bool is_value_byte(uint8_t c) { return (c >= 0x20 || c == 0x09) && c != 0x7f; }

/* The length of `name: value\r\n` for field `index` of the live head; 0 when the writer in JS would
 * have left the field out (an invalid byte), so both ways write the same bytes. */
static size_t field_line_length(lg_engine *e, uint32_t index) {
  const int32_t *span = (const int32_t *)e->data + 4 * index;
  const uint8_t *bytes = e->data + control32(e)[LG_X_BYTES_OFF];
  if (span[1] == 0) return 0;
  for (int32_t i = 0; i < span[1]; i++)
    if (!is_token_byte(bytes[span[0] + i])) return 0;
  for (int32_t i = 0; i < span[3]; i++)
    if (!is_value_byte(bytes[span[2] + i])) return 0;
  return (size_t)span[1] + (size_t)span[3] + 4;
}

static uint8_t *put_field_line(lg_engine *e, uint32_t index, uint8_t *out) {
  const int32_t *span = (const int32_t *)e->data + 4 * index;
  const uint8_t *bytes = e->data + control32(e)[LG_X_BYTES_OFF];
  memcpy(out, bytes + span[0], (size_t)span[1]);
  out += span[1];
  *out++ = ':';
  *out++ = ' ';
  memcpy(out, bytes + span[2], (size_t)span[3]);
  out += span[3];
  *out++ = '\r';
  *out++ = '\n';
  return out;
}

/*
 * A head JS wrote may name fields of the live head (the one the event being handled carries)
 * instead of copying them: a NUL byte, which no head can contain, then the field's index in two
 * bytes, little-endian (HeadWriter in src/http/h1-serialize.ts). A proxied head is mostly fields
 * passed through unchanged, and copying them here is a memcpy each instead of a JS loop over every
 * character of strings cut from these very bytes.
 * Returns the head to write (`head` itself when it names no field); NULL when it names a field
 * that is not live (a defect in JS) or memory ran out.
 */
const char *lg_exchange_compose_head(lg_engine *e, const char *head, size_t len, size_t *out_len) {
  const char *end = head + len;
  const char *marker = memchr(head, 0, len);
  if (marker == NULL) {
    *out_len = len;
    return head;
  }
  size_t need = 0;
  for (const char *p = head; p < end; p = marker + 3) {
    marker = memchr(p, 0, (size_t)(end - p));
    if (marker == NULL) {
      need += (size_t)(end - p);
      break;
    }
    if (end - marker < 3) return NULL;
    uint32_t index = (uint8_t)marker[1] | (uint32_t)(uint8_t)marker[2] << 8;
    if (index >= e->live_head_fields) return NULL;
    need += (size_t)(marker - p) + field_line_length(e, index);
  }
  if (need > e->composed_size) {
    uint8_t *grown = realloc(e->composed, need);
    if (grown == NULL) return NULL;
    e->composed = grown;
    e->composed_size = need;
  }
  uint8_t *out = e->composed;
  for (const char *p = head; p < end; p = marker + 3) {
    marker = memchr(p, 0, (size_t)(end - p));
    size_t literal = (size_t)((marker != NULL ? marker : end) - p);
    memcpy(out, p, literal);
    out += literal;
    if (marker == NULL) break;
    uint32_t index = (uint8_t)marker[1] | (uint32_t)(uint8_t)marker[2] << 8;
    if (field_line_length(e, index) != 0) out = put_field_line(e, index, out);
  }
  *out_len = (size_t)(out - e->composed);
  return (const char *)e->composed;
}

size_t lg_exchange_put_data(lg_engine *e, const void *data, size_t len) {
  if (!reserve(e, len)) return 0;
  memcpy(e->data, data, len);
  return len;
}

void lg_exchange_put_piped(lg_engine *e, uint64_t bytes) { control64(e)[LG_XF_PIPED_BYTES] = (double)bytes; }

/* Writes `addr` as text at data+off; returns its length and sets *port. */
static size_t put_address(lg_engine *e, size_t off, const struct sockaddr_storage *ss, int *port) {
  char text[INET6_ADDRSTRLEN] = "";
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    *port = ntohs(a->sin_port);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    *port = ntohs(a->sin6_port);
  } else {
    *port = 0;
  }
  size_t len = strlen(text);
  memcpy(e->data + off, text, len);
  return len;
}

/* The addresses the caller knows already (accept4's peer, a listener's fixed address) are not asked
 * of the socket again: two syscalls fewer per new connection. */
void lg_exchange_put_addresses(lg_engine *e, int fd, const struct sockaddr_storage *remote,
                               const struct sockaddr_storage *local) {
  int32_t *x = control32(e);
  struct sockaddr_storage asked_remote, asked_local;
  if (remote == NULL) {
    socklen_t len = sizeof asked_remote;
    memset(&asked_remote, 0, sizeof asked_remote);
    getpeername(fd, (struct sockaddr *)&asked_remote, &len);
    remote = &asked_remote;
  }
  if (local == NULL) {
    socklen_t len = sizeof asked_local;
    memset(&asked_local, 0, sizeof asked_local);
    getsockname(fd, (struct sockaddr *)&asked_local, &len);
    local = &asked_local;
  }
  int rport, lport;
  size_t rlen = put_address(e, 0, remote, &rport);
  size_t llen = put_address(e, rlen, local, &lport);
  x[LG_X_REMOTE_LEN] = (int32_t)rlen;
  x[LG_X_REMOTE_PORT] = rport;
  x[LG_X_LOCAL_LEN] = (int32_t)llen;
  x[LG_X_LOCAL_PORT] = lport;
}

void lg_exchange_put_tls(lg_engine *e, const char *info, size_t len, bool resumed) {
  int32_t *x = control32(e);
  size_t off = (size_t)x[LG_X_REMOTE_LEN] + (size_t)x[LG_X_LOCAL_LEN];
  if (!reserve(e, off + len)) len = 0;
  memcpy(e->data + off, info, len);
  x[LG_X_TLS_LEN] = (int32_t)len;
  x[LG_X_TLS_RESUMED] = resumed;
}
