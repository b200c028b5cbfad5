/*
 * llhttp_abi: the part of llhttp's C ABI that the engine's HTTP/1 parser uses, resolved at run time
 * from the running `node` binary, which contains llhttp and exports its symbols.
 *
 * The ABI is llhttp 9.x as exported by Node >= 20, with the settings layout of llhttp >= 9.3 (9.3.0
 * added on_protocol at offset 0x08, shifting every later callback). The layout was read off
 * Node 20.20's binary (llhttp 9.3.1): each `llhttp__on_*` wrapper loads `parser->settings` from
 * offset 0x58 of the parser and its callback from the offset given below. Nothing of llhttp's
 * source or headers is copied here: these are declarations of that binary interface only.
 *
 * Why resolve with dlsym instead of linking: the addon must still load where these symbols are
 * absent (another runtime, a Node built against a shared or different llhttp, Windows); there the
 * engine reports itself unavailable and Legate keeps its JS codec. The parser struct is opaque to
 * us: it is over-allocated (LG_LLHTTP_PARSER_BYTES) and read only through getters; h1_parser.c's
 * load-time self-test checks that llhttp writes nothing past it and that every callback used
 * arrives at its slot.
 */
#ifndef LEGATE_LLHTTP_ABI_H
#define LEGATE_LLHTTP_ABI_H

#include <stddef.h>
#include <stdint.h>

/* llhttp 9.3's parser struct is 0x60 bytes; the rest is margin for another 9.x. */
#define LG_LLHTTP_PARSER_BYTES 128

typedef struct lg_llhttp {
  _Alignas(16) unsigned char opaque[LG_LLHTTP_PARSER_BYTES];
} lg_llhttp;

typedef int (*lg_llhttp_cb)(lg_llhttp *parser);
typedef int (*lg_llhttp_data_cb)(lg_llhttp *parser, const char *at, size_t length);

/* llhttp_settings_t of llhttp 9.3 (0xc8 bytes), plus margin that llhttp_settings_init may zero. */
typedef struct lg_llhttp_settings {
  lg_llhttp_cb on_message_begin;                      /* 0x00 */
  lg_llhttp_data_cb on_protocol;                      /* 0x08 */
  lg_llhttp_data_cb on_url;                           /* 0x10 */
  lg_llhttp_data_cb on_status;                        /* 0x18 */
  lg_llhttp_data_cb on_method;                        /* 0x20 */
  lg_llhttp_data_cb on_version;                       /* 0x28 */
  lg_llhttp_data_cb on_header_field;                  /* 0x30 */
  lg_llhttp_data_cb on_header_value;                  /* 0x38 */
  lg_llhttp_data_cb on_chunk_extension_name;          /* 0x40 */
  lg_llhttp_data_cb on_chunk_extension_value;         /* 0x48 */
  lg_llhttp_cb on_headers_complete;                   /* 0x50 */
  lg_llhttp_data_cb on_body;                          /* 0x58 */
  lg_llhttp_cb on_message_complete;                   /* 0x60 */
  lg_llhttp_cb on_protocol_complete;                  /* 0x68 */
  lg_llhttp_cb on_url_complete;                       /* 0x70 */
  lg_llhttp_cb on_status_complete;                    /* 0x78 */
  lg_llhttp_cb on_method_complete;                    /* 0x80 */
  lg_llhttp_cb on_version_complete;                   /* 0x88 */
  lg_llhttp_cb on_header_field_complete;              /* 0x90 */
  lg_llhttp_cb on_header_value_complete;              /* 0x98 */
  lg_llhttp_cb on_chunk_extension_name_complete;      /* 0xa0 */
  lg_llhttp_cb on_chunk_extension_value_complete;     /* 0xa8 */
  lg_llhttp_cb on_chunk_header;                       /* 0xb0 */
  lg_llhttp_cb on_chunk_complete;                     /* 0xb8 */
  lg_llhttp_cb on_reset;                              /* 0xc0 */
  void *margin[7];
} lg_llhttp_settings;

/* Size of llhttp 9.3's settings struct: the self-test checks llhttp_settings_init zeroes no more. */
#define LG_LLHTTP_SETTINGS_BYTES 0xc8

/* llhttp_type_t */
enum { LG_LLHTTP_REQUEST = 1, LG_LLHTTP_RESPONSE = 2 };

/* The llhttp_errno_t values the parser branches on. */
enum {
  LG_HPE_OK = 0,
  LG_HPE_INVALID_VERSION = 9,
  LG_HPE_PAUSED = 21,
  LG_HPE_PAUSED_UPGRADE = 22,
  LG_HPE_USER = 24,
};

/* llhttp_method_t values the parser branches on; llhttp 9.3's last method is QUERY (46). */
enum { LG_LLHTTP_HEAD = 2, LG_LLHTTP_CONNECT = 5, LG_LLHTTP_LAST_METHOD = 46 };

/* The exported functions, resolved by name (see lg_llhttp_resolve). */
typedef struct lg_llhttp_api {
  void (*init)(lg_llhttp *parser, int type, const lg_llhttp_settings *settings);
  void (*settings_init)(lg_llhttp_settings *settings);
  int (*execute)(lg_llhttp *parser, const char *data, size_t len);
  int (*finish)(lg_llhttp *parser);
  void (*resume)(lg_llhttp *parser);
  void (*resume_after_upgrade)(lg_llhttp *parser);
  int (*get_errno)(const lg_llhttp *parser);
  const char *(*get_error_reason)(const lg_llhttp *parser);
  const char *(*get_error_pos)(const lg_llhttp *parser);
  uint8_t (*get_method)(lg_llhttp *parser);
  uint8_t (*get_http_major)(lg_llhttp *parser);
  uint8_t (*get_http_minor)(lg_llhttp *parser);
  int (*get_status_code)(lg_llhttp *parser);
  uint8_t (*get_upgrade)(lg_llhttp *parser);
  int (*should_keep_alive)(const lg_llhttp *parser);
  int (*message_needs_eof)(const lg_llhttp *parser);
  const char *(*method_name)(int method);
} lg_llhttp_api;

/*
 * Fills `api` from the running process's symbols. Returns NULL, or the name of the first symbol
 * that is missing (then `api` must not be used).
 */
const char *lg_llhttp_resolve(lg_llhttp_api *api);

#endif
