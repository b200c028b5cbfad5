/*
 * h1_parser: the engine's HTTP/1.1 parser for requests (downstream) and responses (upstream), on
 * top of the llhttp that the running `node` binary contains (llhttp_abi.h).
 *
 * Strictness contract: for every input and every way of splitting it into reads, a request or
 * response is accepted, parsed and rejected exactly as Legate's JS codec does (src/http/llhttp.ts,
 * server-connection.ts, client-connection.ts). test/native/h1-differential.test.ts proves it by
 * differential fuzzing against that codec. In short:
 *   - llhttp runs with no lenient flag: obs-fold, bare LF, CL+TE, duplicate Content-Length, invalid
 *     tokens, bad chunk framing are errors.
 *   - `max_head_bytes` counts the bytes of the request-target / reason phrase and of header names
 *     and values (trailers included), not the method, version, CRLFs or separators; it is checked
 *     as llhttp reports each piece, so a head that streams in is cut off as soon as it passes.
 *   - Header names are lower-cased in place (latin1, as JS's toLowerCase), values lose trailing
 *     SP/HT (llhttp already skipped leading OWS); a name or value split across reads is joined.
 *   - Requests: more than `max_headers` fields -> 431 (counted before the underscore check);
 *     `underscores` ALLOW / REJECT (400) / DROP (the field is left out of the head); a version
 *     other than 1.0/1.1 -> 505; HTTP/1.0 without `accept_http10` -> 426; Transfer-Encoding with
 *     HTTP/1.0 or with Content-Length -> 400, with an empty or repeated coding -> 400, with any
 *     coding list other than exactly `chunked` -> 501; Content-Length above `max_body_bytes`
 *     -> 413 before the owner sees the head, a body growing past it -> 413 while it streams;
 *     parse errors -> 431 (head too large), 505 (a version that is neither 1.0 nor 1.1), else 400.
 *   - Responses: 1xx other than 101 is delivered as informational and parsing goes on;
 *     Transfer-Encoding with Content-Length is an error (after any 1xx); the owner's on_head return
 *     value decides SKIP_BODY (HEAD request, 204, 304) or SKIP_BODY_UPGRADE (101): see
 *     lg_h1_response_body().
 *
 * Memory: a parser embeds llhttp's state and a few counters (sizeof(lg_h1_parser), ~250 bytes) and
 * allocates nothing while idle or when a head arrives in one read: the head is then delivered as
 * spans of the caller's buffer. Only a head (or trailer section) that is still incomplete when a
 * read ends is stashed: the bytes of its spans so far are copied into a per-parser heap buffer
 * (bounded by max_head_bytes plus the method), later pieces are appended, and the buffer is freed
 * when the head is delivered. Each byte is copied at most once, so a client sending one byte per
 * read costs O(head size), not O(n^2). Header span lists live in a per-thread scratch array
 * (parsers never nest: callbacks must not call into another parser of the same thread).
 *
 * Threads: lg_h1_runtime_init() once per process (the addon does it at load); then any thread may
 * own parsers. A parser is used by one thread at a time.
 */
#ifndef LEGATE_H1_PARSER_H
#define LEGATE_H1_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "llhttp_abi.h"

typedef enum lg_h1_type { LG_H1_REQUEST = 1, LG_H1_RESPONSE = 2 } lg_h1_type;

/* What lg_h1_execute / lg_h1_finish report. */
typedef enum lg_h1_result {
  LG_H1_OK = 0,
  /* Stopped where the owner asked (message begin or complete); *consumed is where to go on from,
   * after lg_h1_resume(). */
  LG_H1_PAUSED = 1,
  /* The message asked for an upgrade / CONNECT and is complete: the bytes from *consumed on are
   * the other protocol's. To refuse the upgrade and parse them as HTTP, call
   * lg_h1_resume_after_upgrade() and execute them. */
  LG_H1_PAUSED_UPGRADE = 2,
  /* The input is invalid, a limit was exceeded, or a callback aborted. The parser is dead. */
  LG_H1_ERROR = 3,
} lg_h1_result;

/* Return values of the owner's callbacks (each callback documents which it may return). */
enum {
  LG_H1_CONTINUE = 0,
  LG_H1_SKIP_BODY = 1,         /* on_head of a response: the message has no body (HEAD, 204, 304) */
  LG_H1_SKIP_BODY_UPGRADE = 2, /* on_head of a response: no body, the connection switches (101) */
  LG_H1_PAUSE = 3,             /* on_message_begin / on_message_complete: stop here (LG_H1_PAUSED) */
  LG_H1_ABORT = 4,             /* any callback: stop with LG_H1_ERROR and reject status 0 */
};

/* Error codes of lg_h1_error_code(): llhttp's llhttp_errno_t values, or one of these. */
enum {
  LG_H1_E_HEAD_TOO_LARGE = 1000, /* the JS codec's ParserError.HEAD_TOO_LARGE */
  LG_H1_E_REJECTED = 1001,       /* a request check chose a status (lg_h1_reject_status) */
  LG_H1_E_ABORTED = 1002,        /* an owner callback returned LG_H1_ABORT */
  LG_H1_E_FRAMING = 1003,        /* a response with both Transfer-Encoding and Content-Length */
  LG_H1_E_NO_MEMORY = 1004,
  LG_H1_E_REENTERED = 1005,      /* lg_h1_execute/finish called from inside a parser callback */
  LG_H1_E_INTERNAL = 1006,       /* a broken invariant of this parser (a bug) */
};

enum lg_h1_underscores {
  LG_H1_UNDERSCORES_ALLOW = 0,
  LG_H1_UNDERSCORES_REJECT = 1, /* 400 */
  LG_H1_UNDERSCORES_DROP = 2,   /* the field is left out of the head */
};

/* Per-listener / per-cluster settings; the parser keeps a pointer, so they must outlive it. */
typedef struct lg_h1_limits {
  uint32_t max_head_bytes; /* Envoy's max_request_headers_kb * 1024; responses: 80 KiB */
  uint32_t max_headers;    /* requests: more fields -> 431 (Envoy's max_headers_count); 0 = none */
  uint8_t underscores;     /* requests: enum lg_h1_underscores */
  bool accept_http10;      /* requests: false -> HTTP/1.0 gets 426 */
  uint64_t max_body_bytes; /* requests: larger bodies -> 413; 0 = unlimited */
} lg_h1_limits;

typedef struct lg_h1_span {
  uint32_t off; /* from lg_h1_head.base */
  uint32_t len;
} lg_h1_span;

typedef struct lg_h1_header {
  lg_h1_span name;  /* lower case */
  lg_h1_span value; /* without leading or trailing SP/HT */
} lg_h1_header;

/*
 * A complete message head (or trailer section: only the header fields are set). Every span is
 * relative to `base`, one contiguous region of `size` bytes (the caller's read buffer, or the
 * parser's stash when the head spanned reads) that the owner may copy as a whole. Valid only
 * during the callback.
 */
typedef struct lg_h1_head {
  uint8_t *base;
  uint32_t size;
  lg_h1_span method; /* requests: as received, e.g. "GET" */
  lg_h1_span url;    /* requests: the request-target as received */
  lg_h1_span reason; /* responses: the reason phrase */
  uint16_t status;   /* responses */
  uint8_t method_id; /* requests: llhttp's method number (LG_LLHTTP_HEAD, LG_LLHTTP_CONNECT, ...) */
  uint8_t version_major;
  uint8_t version_minor;
  bool keep_alive;    /* llhttp's verdict from version and Connection */
  bool upgrade;       /* Upgrade requested / CONNECT (requests), 101 (responses), per llhttp */
  bool chunked;       /* Transfer-Encoding present: for requests it is exactly `chunked` (anything
                         else was rejected); for responses a non-chunked coding makes llhttp read
                         the body until the connection closes */
  bool informational; /* responses: 1xx other than 101; on_head's return value is ignored */
  /* -1 if absent. llhttp accepts up to 2^64-1; values above INT64_MAX saturate (the JS codec's
   * Number() keeps ~2^64: both wait for a body no peer can send). */
  int64_t content_length;
  uint32_t header_count;
  const lg_h1_header *headers;
} lg_h1_head;

/*
 * The owner's callbacks; `owner` is the pointer given to lg_h1_init. Any may be NULL (then: begin
 * continues, on_head continues, body/trailers are ignored, message complete pauses).
 */
typedef struct lg_h1_callbacks {
  /* A message starts (its first byte; leading CRLFs are skipped). CONTINUE, PAUSE or ABORT. */
  int (*on_message_begin)(void *owner);
  /* The head is complete and passed every check. Requests: CONTINUE or ABORT. Responses:
   * CONTINUE, SKIP_BODY, SKIP_BODY_UPGRADE or ABORT (see lg_h1_response_body). */
  int (*on_head)(void *owner, const lg_h1_head *head);
  /* Body bytes: a span of the buffer being executed, valid during the call. CONTINUE or ABORT. */
  int (*on_body)(void *owner, const uint8_t *at, size_t len);
  /* The trailer section of a chunked body, when it has fields; just before on_message_complete.
   * CONTINUE or ABORT. */
  int (*on_trailers)(void *owner, const lg_h1_head *trailers);
  /* The message is complete (not called for informational responses). PAUSE (one message at a
   * time: the owner resumes when it is ready for the next), CONTINUE or ABORT. */
  int (*on_message_complete)(void *owner);
} lg_h1_callbacks;

typedef struct lg_h1_stash lg_h1_stash;
struct lg_h1_scratch;

/* Embedded in the owner's connection struct. Fields are private to h1_parser.c. */
typedef struct lg_h1_parser {
  lg_llhttp llhttp; /* first: llhttp's callbacks find the parser from its address */
  void *owner;
  const lg_h1_callbacks *callbacks;
  const lg_h1_limits *limits;
  lg_h1_stash *stash;  /* NULL unless a head or trailer section is incomplete between reads */
  uint8_t *data;       /* the buffer lg_h1_execute is parsing (spans are relative to it) */
  struct lg_h1_scratch *scratch; /* the executing thread's header list, during execute/finish */
  const char *error_reason;
  int64_t content_length;
  uint64_t body_bytes;
  lg_h1_span method, url, reason;
  lg_h1_span field, value; /* the header field being read */
  uint32_t region_start, region_end;
  uint32_t header_count;   /* fields in the list being built (kept ones) */
  uint32_t fields_seen;    /* every field of the head, for max_headers */
  uint32_t head_bytes;
  int error_code;
  uint16_t reject_status;
  uint8_t type;
  uint8_t phase;
  uint8_t header_state;
  bool spans_recorded;
  bool has_transfer_encoding;
  bool content_length_unsafe; /* above 2^53-1: the JS codecs cannot hold it exactly */
  bool head_request;          /* responses: the one expected answers a HEAD (no body) */
  bool informational;
} lg_h1_parser;

/*
 * Resolves llhttp from the process and runs the self-test, once per process (later calls return
 * the first answer). `llhttp_version` is process.versions.llhttp. Returns NULL when the parser is
 * usable, else why not (the engine then reports itself unavailable and Legate stays on JS).
 */
const char *lg_h1_runtime_init(const char *llhttp_version);

/* NULL once lg_h1_runtime_init succeeded; else the reason (also before it ran). */
const char *lg_h1_unavailable_reason(void);

/* Returns false (and leaves `p` unusable) when the runtime is unavailable. */
bool lg_h1_init(lg_h1_parser *p, lg_h1_type type, const lg_h1_limits *limits,
                const lg_h1_callbacks *callbacks, void *owner);

/*
 * Parses `len` bytes of `data` (which it may modify: header names are lower-cased in place).
 * *consumed is where parsing stopped: `len` for LG_H1_OK, the resume point for the pauses, the
 * error position for LG_H1_ERROR. Not re-entrant (see LG_H1_E_REENTERED).
 */
lg_h1_result lg_h1_execute(lg_h1_parser *p, uint8_t *data, size_t len, size_t *consumed);

/* After LG_H1_PAUSED. Then execute the rest (even if empty: that lets llhttp report
 * LG_H1_PAUSED_UPGRADE for a finished upgrade request, or leave its message-complete state). */
void lg_h1_resume(lg_h1_parser *p);

/* After LG_H1_PAUSED_UPGRADE, when the upgrade was refused: what follows is HTTP again. */
void lg_h1_resume_after_upgrade(lg_h1_parser *p);

/* The peer closed. LG_H1_PAUSED if that completed a close-delimited response (on_message_complete
 * was called), LG_H1_OK if no message was in progress, LG_H1_ERROR if one was cut short. */
lg_h1_result lg_h1_finish(lg_h1_parser *p);

/* Frees what the parser allocated (a stash). The parser may then be lg_h1_init'ed again. */
void lg_h1_release(lg_h1_parser *p);

/* After LG_H1_ERROR, for requests: the local reply's status (400, 413, 426, 431, 501, 505), or 0
 * when an owner callback aborted (the owner knows why). 0 for responses. */
int lg_h1_reject_status(const lg_h1_parser *p);

/* After LG_H1_ERROR: an llhttp_errno_t value or an LG_H1_E_* code, and a human-readable reason. */
int lg_h1_error_code(const lg_h1_parser *p);
const char *lg_h1_error_reason(const lg_h1_parser *p);

/* Parsers of the process holding a stash now (a head or trailer section split across reads). */
long lg_h1_live_stashes(void);

/* llhttp's functions as resolved by lg_h1_runtime_init (for tests that drive llhttp directly). */
const lg_llhttp_api *lg_h1_llhttp(void);

/* Responses: the next response answers a HEAD request (it has no body, whatever its framing
 * headers say). Set before each request's response; the response's checks depend on it. */
void lg_h1_expect_response_to_head(lg_h1_parser *p, bool head_request);

/* What on_head should return for a final response (the JS client codec's rule): 101 ->
 * SKIP_BODY_UPGRADE; a response to HEAD, 204 or 304 -> SKIP_BODY; else CONTINUE. */
int lg_h1_response_body(const lg_h1_head *head, bool head_request);

#endif
