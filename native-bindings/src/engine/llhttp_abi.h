/*
 * The llhttp that the running node binary contains and exports (llhttp 9.x in Node >= 20), declared
 * here because Node ships no llhttp header. Only what the engine uses. The structs are opaque
 * blocks large enough for llhttp 9's layouts; the settings callbacks sit at llhttp 9's offsets.
 * lg_h1_selftest() (h1_parser.c) checks the whole contract at load.
 */
#ifndef LEGATE_LLHTTP_ABI_H
#define LEGATE_LLHTTP_ABI_H

#include <stddef.h>
#include <stdint.h>

/* llhttp_t is 0x60 bytes in llhttp 9; room to spare. `data` is not used: the owner embeds it. */
typedef struct llhttp_s {
  uint64_t opaque[24];
} llhttp_t;

typedef int (*llhttp_data_cb)(llhttp_t *, const char *at, size_t length);
typedef int (*llhttp_cb)(llhttp_t *);

/* llhttp 9's llhttp_settings_t, in its order (offsets read off Node 20's llhttp__on_* wrappers). */
typedef struct llhttp_settings_s {
  llhttp_cb on_message_begin;
  llhttp_data_cb on_protocol;
  llhttp_data_cb on_url;
  llhttp_data_cb on_status;
  llhttp_data_cb on_method;
  llhttp_data_cb on_version;
  llhttp_data_cb on_header_field;
  llhttp_data_cb on_header_value;
  llhttp_data_cb on_chunk_extension_name;
  llhttp_data_cb on_chunk_extension_value;
  llhttp_cb on_headers_complete;
  llhttp_data_cb on_body;
  llhttp_cb on_message_complete;
  llhttp_cb on_protocol_complete;
  llhttp_cb on_url_complete;
  llhttp_cb on_status_complete;
  llhttp_cb on_method_complete;
  llhttp_cb on_version_complete;
  llhttp_cb on_header_field_complete;
  llhttp_cb on_header_value_complete;
  llhttp_cb on_chunk_extension_name_complete;
  llhttp_cb on_chunk_extension_value_complete;
  llhttp_cb on_chunk_header;
  llhttp_cb on_chunk_complete;
  llhttp_cb on_reset;
  void *reserved[7];
} llhttp_settings_t;

enum {
  HPE_OK = 0,
  HPE_INVALID_VERSION = 9,
  HPE_PAUSED = 21,
  HPE_PAUSED_UPGRADE = 22,
  HPE_USER = 24,
};

enum { HTTP_REQUEST = 1, HTTP_RESPONSE = 2 };

/* The functions, resolved from the process at engine load (dlsym), NULL when absent. */
typedef struct llhttp_api {
  void (*init)(llhttp_t *, int type, const llhttp_settings_t *);
  void (*settings_init)(llhttp_settings_t *);
  int (*execute)(llhttp_t *, const char *, size_t);
  int (*finish)(llhttp_t *);
  void (*resume)(llhttp_t *);
  void (*resume_after_upgrade)(llhttp_t *);
  void (*reset)(llhttp_t *);
  const char *(*get_error_pos)(const llhttp_t *);
  const char *(*get_error_reason)(const llhttp_t *);
  uint8_t (*get_http_major)(llhttp_t *);
  uint8_t (*get_http_minor)(llhttp_t *);
  uint8_t (*get_method)(llhttp_t *);
  int (*get_status_code)(llhttp_t *);
  uint8_t (*get_upgrade)(llhttp_t *);
  int (*should_keep_alive)(const llhttp_t *);
  const char *(*method_name)(int);
} llhttp_api;

extern llhttp_api lg_llhttp;

/* Resolves lg_llhttp; returns NULL, or the name of the first missing symbol. */
const char *lg_llhttp_resolve(void);

#endif
